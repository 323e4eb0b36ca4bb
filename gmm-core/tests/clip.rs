//! CLIP-GMM: construction, orthogonality of the generated private means, the three subspaces
//! of each modality, and the sampler's shared latent.

use gmm_core::{ClipGenerator, Side, seeded};

fn generator(orthogonal: bool) -> ClipGenerator {
    ClipGenerator::new(3, 3, 8, 6).orthogonal(orthogonal)
}

#[test]
fn orthogonal_generator_meets_the_condition_and_general_does_not() {
    let c = generator(true).generate(&mut seeded(1)).unwrap();
    assert!(c.private_orthogonality_gap().unwrap() < 1e-12);
    let g = generator(false).generate(&mut seeded(1)).unwrap();
    assert!(g.private_orthogonality_gap().unwrap() > 1e-3);
}

#[test]
fn subspaces_under_orthogonality() {
    let c = generator(true).generate(&mut seeded(2)).unwrap();
    for side in [Side::X, Side::Y] {
        let shared = c.shared_gmm(side).unwrap().fisher_subspace().unwrap();
        let conditional = c.conditional_gmm(side).unwrap().fisher_subspace().unwrap();
        let marginal = c.marginal_gmm(side).unwrap().fisher_subspace().unwrap();
        let private = c.private_subspace(side).unwrap();
        assert_eq!((shared.dim(), private.dim()), (2, 2));
        // Under orthogonality the Cov(x|z) Fisher subspace equals the shared one (theory.md C10).
        assert!(shared.sin_theta_max(&conditional).unwrap() < 1e-8);
        // The marginal Fisher subspace contains both the shared and the private directions.
        assert_eq!(marginal.dim(), 4);
        assert!(shared.sin_theta_max(&marginal).unwrap() < 1e-8);
        assert!(private.sin_theta_max(&marginal).unwrap() < 1e-8);
    }
    // Without orthogonality the two candidate subspaces differ.
    let g = generator(false).generate(&mut seeded(2)).unwrap();
    let s = g.shared_gmm(Side::X).unwrap().fisher_subspace().unwrap();
    let cz = g.conditional_gmm(Side::X).unwrap().fisher_subspace().unwrap();
    assert!(s.sin_theta_max(&cz).unwrap() > 1e-3);
}

#[test]
fn pairs_share_z_and_round_trip_json() {
    let c = generator(true).generate(&mut seeded(3)).unwrap();
    let p = c.sample_pairs(100, &mut seeded(4)).unwrap();
    assert_eq!((p.x.shape(), p.y.shape()), ((100, 8), (100, 6)));
    assert_eq!(p.z.len(), 100);
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_string(&c).unwrap();
        let back: gmm_core::ClipGmm = serde_json::from_str(&json).unwrap();
        assert!(back.private_orthogonality_gap().unwrap() < 1e-12);
    }
    assert!(generator(true).generate(&mut seeded(3)).unwrap() == c);
    let bad = ClipGenerator { d_x: 2, ..generator(true) };
    assert!(bad.generate(&mut seeded(1)).is_err());
}
