//! `ssl-gmm sample`: augmentation pairs (or CLIP pairs) with labels, to CSV or NPY.

use std::path::PathBuf;

use anyhow::bail;
use gmm_core::{Model, seeded};
use nalgebra::DMatrix;

use super::io::Table;
use super::model::ModelArgs;

/// Arguments of `sample`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Number of pairs.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Coupling: the positive keeps the anchor's component with probability delta (mixtures only).
    #[arg(long, default_value_t = 1.0)]
    delta: f64,
    /// Seed of the Xoshiro256++ generator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file, `.csv` (header row) or `.npy` (2-D float64, same columns); `-` writes CSV to
    /// standard output.
    ///
    /// Columns for a mixture: x0..x{d-1}, xp0..xp{d-1}, z, z_plus.
    /// For a CLIP-GMM: x0..x{dx-1}, y0..y{dy-1}, z, w, v.
    #[arg(long)]
    out: PathBuf,
}

fn names(prefix: &str, d: usize) -> impl Iterator<Item = String> + '_ {
    (0..d).map(move |j| format!("{prefix}{j}"))
}

/// `[blocks..., labels...]` side by side as one `n x m` matrix.
fn side_by_side(blocks: &[&DMatrix<f64>], labels: &[&[usize]]) -> DMatrix<f64> {
    let n = labels.first().map_or(0, |l| l.len());
    let m: usize = blocks.iter().map(|b| b.ncols()).sum::<usize>() + labels.len();
    let mut out = DMatrix::zeros(n, m);
    let mut col = 0;
    for b in blocks {
        out.columns_mut(col, b.ncols()).copy_from(b);
        col += b.ncols();
    }
    for l in labels {
        for (i, &z) in l.iter().enumerate() {
            out[(i, col)] = z as f64;
        }
        col += 1;
    }
    out
}

/// Runs `sample`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    let mut rng = seeded(args.seed);
    let table = match args.model.load()? {
        Model::Gmm(g) => {
            // The pairs, and the table of their rows: about 4 n (d + 1) values.
            super::memory::check("sampling --n pairs", &[args.n, 4, g.dim() + 1])?;
            let p = g.sample_pairs(args.n, args.delta, &mut rng)?;
            let header = names("x", g.dim()).chain(names("xp", g.dim())).chain(["z".into(), "z_plus".into()]).collect();
            Table { header, rows: side_by_side(&[&p.x, &p.x_plus], &[&p.z, &p.z_plus]) }
        }
        Model::Clip(c) => {
            if args.delta != 1.0 {
                bail!("--delta applies to mixtures only; CLIP pairs always share z");
            }
            let width = c.modality(gmm_core::Side::X).dim() + c.modality(gmm_core::Side::Y).dim() + 3;
            super::memory::check("sampling --n pairs", &[args.n, 2, width])?;
            let p = c.sample_pairs(args.n, &mut rng)?;
            let header = names("x", p.x.ncols())
                .chain(names("y", p.y.ncols()))
                .chain(["z", "w", "v"].map(String::from))
                .collect();
            Table { header, rows: side_by_side(&[&p.x, &p.y], &[&p.z, &p.w, &p.v]) }
        }
    };
    table.write(&args.out)?;
    let to =
        if args.out == std::path::Path::new("-") { "standard output".into() } else { args.out.display().to_string() };
    eprintln!("wrote {} pairs ({} columns) to {to}", args.n, table.header.len());
    Ok(())
}
