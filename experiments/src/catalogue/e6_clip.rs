//! E6, CLIP-GMM: the weight of each modality's map outside its shared Fisher subspace over
//! training (the private directions are filtered out).

use gmm_core::{ClipGenerator, LinearMap, Side, seeded};
use ssl_losses::{
    Centering, ClipLoss, ClipStream, PreconditionedSource, Score, Sides, TrainConfig, Whitening, small_random_init,
    train,
};

use crate::error::Result;
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row, Solver};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// E6: CLIP's share outside each modality's shared Fisher subspace against training steps
/// (`e6_steps`).
pub struct E6;

impl Experiment for E6 {
    fn about(&self) -> About {
        About {
            id: "E6",
            stem: "e6_clip",
            title: "E6 CLIP-GMM: weight outside the shared Fisher subspace",
            metric: Metric::ShareOutside,
            x_label: "training steps",
            y_label: "share outside the shared Fisher subspace",
            log_x: true,
            log_y: true,
            categorical: false,
            methods: &[Method::ClipA, Method::ClipB],
            required: &[Metric::SinThetaMax, Metric::ShareOutside],
        }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e6_steps.iter().map(|&t| (t as f64, format!("steps {t}"))).collect()
    }

    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        s.e6_steps.is_empty().then(|| "e6_steps is empty".into())
    }

    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        let c = ClipGenerator::new(3, 3, 8, 6).generate(&mut seeded(5))?;
        let seed = 1000 * job.seed + 31;
        let config = TrainConfig { steps: job.setting as usize, seed, ..TrainConfig::default() };
        let mut clip = ClipLoss::new(1.0, Score::Dot)?;
        let init = vec![small_random_init(2, 8, 0.1, seed), small_random_init(2, 6, 0.1, seed + 1)];
        // Label-free preconditioning per modality, from a warm-up sample of 16 batches (its own seed).
        let mut stream = PreconditionedSource::new(
            ClipStream::new(&c, s.batch)?,
            16,
            seed ^ 0x5741_524d,
            Sides::Separate,
            Centering::SampleMean,
            Whitening::SampleCovariance,
        )?;
        let out = train(&mut clip, &mut stream, init, &config, &mut ())?;
        let (a, b) = (
            stream.map_back(&out.params[0], false)?.into_components(),
            stream.map_back(&out.params[1], true)?.into_components(),
        );
        let mut rows = Vec::new();
        for (side, name, a) in [(Side::X, Method::ClipA, &a), (Side::Y, Method::ClipB, &b)] {
            let shared = c.shared_gmm(side)?;
            let mut r = Row { converged: Some(false), ..job.row(name, Solver::Stream) };
            r.share_outside = shared.share_outside_fisher(a).ok();
            r.sin_theta_max = LinearMap::new(a.clone())
                .top_subspace(2)
                .ok()
                .and_then(|l| l.sin_theta_max(&shared.fisher_subspace().ok()?).ok());
            rows.push(r);
        }
        Ok(rows)
    }

    fn sentence(&self, _: &[Row], st: &Stats) -> String {
        format!(
            "CLIP's weight outside each modality's shared Fisher subspace falls with training to {:.2e} (x) and {:.2e} (y): the private directions are filtered out.",
            st.last_mean(Method::ClipA),
            st.last_mean(Method::ClipB)
        )
    }
}
