//! Optimizers (one step on parameter blocks) and learning-rate schedules.

use gmm_core::nalgebra::DMatrix;

use gmm_core::{GmmError, check_positive};

use crate::error::Result;
use crate::scalar::{Real, from_f64};

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case", tag = "kind"))]
pub enum OptimizerKind {
    /// `v <- momentum v + g`, `p <- p - lr v`.
    Sgd {
        /// Heavy-ball momentum in `[0, 1)`.
        momentum: f64,
    },
    /// Adam (Kingma & Ba) with bias correction.
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator guard.
        eps: f64,
    },
}

impl Default for OptimizerKind {
    /// Adam with PyTorch's defaults.
    fn default() -> Self {
        Self::ADAM
    }
}

impl OptimizerKind {
    /// SGD with heavy-ball momentum 0.9.
    pub const SGD_MOMENTUM: Self = OptimizerKind::Sgd { momentum: 0.9 };
    /// Adam with PyTorch's defaults (`beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`).
    pub const ADAM: Self = OptimizerKind::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
}

impl std::str::FromStr for OptimizerKind {
    type Err = GmmError;

    /// `adam` ([`OptimizerKind::ADAM`]) or `sgd` ([`OptimizerKind::SGD_MOMENTUM`]).
    fn from_str(s: &str) -> std::result::Result<Self, GmmError> {
        gmm_core::parse_name("optimizer", s, &[("adam", Self::ADAM), ("sgd", Self::SGD_MOMENTUM)])
    }
}

/// Learning rate as a function of the step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case", tag = "kind"))]
pub enum Schedule {
    /// `lr` throughout.
    Constant,
    /// Linear warm-up from `lr / warmup` to `lr` over `warmup` steps, then constant.
    Warmup {
        /// Warm-up steps.
        warmup: usize,
    },
    /// Linear warm-up, then cosine decay from `lr` to `lr * final_fraction` at the last step.
    Cosine {
        /// Warm-up steps.
        warmup: usize,
        /// Final learning rate as a fraction of `lr`.
        final_fraction: f64,
    },
}

impl Schedule {
    /// Learning rate at `step` (0-based) of `total` steps.
    pub fn lr_at(&self, base: f64, step: usize, total: usize) -> f64 {
        let warm = |w: usize| if step < w { base * (step + 1) as f64 / w as f64 } else { base };
        match *self {
            Schedule::Constant => base,
            Schedule::Warmup { warmup } => warm(warmup),
            Schedule::Cosine { warmup, final_fraction } => {
                if step < warmup {
                    return warm(warmup);
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let t = ((step - warmup) as f64 / span).min(1.0);
                let lo = base * final_fraction;
                lo + (base - lo) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// A first-order update rule on parameter blocks: the solver of the streaming executor
/// ([`crate::train_with`]). Implement it to bring your own; [`OptimizerKind::build`] gives the
/// built-in ones.
pub trait Optimizer<T: Real = f64> {
    /// One update of `params` from their gradients `grads` (same shapes) at learning rate `lr`.
    ///
    /// # Errors
    /// Blocks whose number or shapes differ from those the optimizer was built for.
    fn step(&mut self, params: &mut [DMatrix<T>], grads: &[DMatrix<T>], lr: f64) -> Result<()>;
}

/// The built-in optimizers' state for a list of parameter blocks: SGD with heavy-ball momentum
/// (`v <- momentum v + g`, `p <- p - lr v`) or Adam with bias correction, in the scalar `T`
/// (`f64` unless stated).
#[derive(Clone, Debug)]
pub struct FirstOrder<T: Real = f64> {
    kind: OptimizerKind,
    first: Vec<DMatrix<T>>,
    second: Vec<DMatrix<T>>,
    rates: Vec<f64>,
    t: u32,
}

impl OptimizerKind {
    /// A fresh optimizer of this kind for blocks of the given shapes.
    ///
    /// # Errors
    /// As [`FirstOrder::new`].
    pub fn build<T: Real>(self, shapes: &[(usize, usize)]) -> Result<FirstOrder<T>> {
        FirstOrder::new(self, shapes)
    }
}

impl<T: Real> FirstOrder<T> {
    /// A fresh optimizer for blocks of the given shapes.
    ///
    /// # Errors
    /// Momentum or betas outside `[0, 1)`, `eps <= 0`.
    pub fn new(kind: OptimizerKind, shapes: &[(usize, usize)]) -> Result<Self> {
        let unit = |v: f64, name| {
            if (0.0..1.0).contains(&v) { Ok(()) } else { Err(GmmError::out_of_range(name, v, "in [0, 1)")) }
        };
        match kind {
            OptimizerKind::Sgd { momentum } => unit(momentum, "momentum")?,
            OptimizerKind::Adam { beta1, beta2, eps } => {
                unit(beta1, "Adam beta1")?;
                unit(beta2, "Adam beta2")?;
                check_positive(eps, "Adam eps")?;
            }
        }
        let zeros = || shapes.iter().map(|&(r, c)| DMatrix::zeros(r, c)).collect::<Vec<_>>();
        Ok(Self { kind, first: zeros(), second: zeros(), rates: vec![1.0; shapes.len()], t: 0 })
    }

    /// Per-block multipliers of the learning rate (all 1 by default): block `b` steps at
    /// `lr * rates[b]`, e.g. a predictor slower than the map it predicts (two time scales).
    ///
    /// # Errors
    /// Not one rate per block; a rate that is not positive and finite.
    pub fn block_rates(mut self, rates: &[f64]) -> Result<Self> {
        if rates.len() != self.first.len() {
            return Err(GmmError::Shape {
                what: "learning-rate multipliers against the parameter blocks",
                expected: self.first.len(),
                got: rates.len(),
            }
            .into());
        }
        for &rate in rates {
            check_positive(rate, "learning-rate multiplier of a block")?;
        }
        self.rates = rates.to_vec();
        Ok(self)
    }
}

impl<T: Real> Optimizer<T> for FirstOrder<T> {
    fn step(&mut self, params: &mut [DMatrix<T>], grads: &[DMatrix<T>], lr: f64) -> Result<()> {
        for (what, blocks) in [
            ("parameter blocks of an optimizer step", params.len()),
            ("gradient blocks of an optimizer step", grads.len()),
        ] {
            if blocks != self.first.len() {
                return Err(GmmError::Shape { what, expected: self.first.len(), got: blocks }.into());
            }
        }
        for ((p, g), m) in params.iter().zip(grads).zip(&self.first) {
            for (block, what) in [
                (p.shape(), "parameter block of an optimizer step"),
                (g.shape(), "gradient block of an optimizer step"),
            ] {
                if block != m.shape() {
                    let (expected, got) =
                        if block.0 != m.nrows() { (m.nrows(), block.0) } else { (m.ncols(), block.1) };
                    return Err(GmmError::Shape { what, expected, got }.into());
                }
            }
        }
        let t = from_f64::<T>;
        self.t += 1;
        for (b, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let lr = lr * self.rates[b];
            match self.kind {
                OptimizerKind::Sgd { momentum } => {
                    let v = &mut self.first[b];
                    *v *= t(momentum);
                    *v += g;
                    *p -= &*v * t(lr);
                }
                OptimizerKind::Adam { beta1, beta2, eps } => {
                    let c1 = t(1.0 - beta1.powi(self.t as i32));
                    let c2 = t(1.0 - beta2.powi(self.t as i32));
                    let (b1, b2, one_b1, one_b2, lr, eps) =
                        (t(beta1), t(beta2), t(1.0 - beta1), t(1.0 - beta2), t(lr), t(eps));
                    let (m, v) = (&mut self.first[b], &mut self.second[b]);
                    for (((pv, &gv), mv), vv) in p.iter_mut().zip(g.iter()).zip(m.iter_mut()).zip(v.iter_mut()) {
                        *mv = b1 * *mv + one_b1 * gv;
                        *vv = b2 * *vv + one_b2 * gv * gv;
                        *pv -= lr * (*mv / c1) / ((*vv / c2).sqrt() + eps);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = Schedule::Cosine { warmup: 10, final_fraction: 0.0 };
        assert!((c.lr_at(1.0, 0, 110) - 0.1).abs() < 1e-15);
        assert!((c.lr_at(1.0, 10, 110) - 1.0).abs() < 1e-15);
        assert!((c.lr_at(1.0, 60, 110) - 0.5).abs() < 1e-12);
        assert!(c.lr_at(1.0, 110, 110).abs() < 1e-15);
        assert_eq!(Schedule::Constant.lr_at(0.3, 5, 10), 0.3);
    }

    #[test]
    fn both_optimizers_minimise_a_quadratic() {
        for kind in [OptimizerKind::Sgd { momentum: 0.9 }, OptimizerKind::default()] {
            let mut opt = kind.build(&[(1, 2)]).unwrap();
            let mut p = vec![DMatrix::from_row_slice(1, 2, &[3.0, -2.0])];
            for _ in 0..2000 {
                let g = vec![p[0].clone() * 2.0];
                opt.step(&mut p, &g, 0.01).unwrap();
            }
            assert!(p[0].amax() < 1e-3, "{kind:?}: {}", p[0]);
            assert!(opt.step(&mut p, &[], 0.01).is_err(), "missing gradient block");
            assert!(opt.step(&mut [DMatrix::zeros(2, 2)], &[DMatrix::zeros(2, 2)], 0.01).is_err(), "wrong shape");
        }
        assert!(FirstOrder::<f64>::new(OptimizerKind::Sgd { momentum: 1.0 }, &[]).is_err());
    }

    #[test]
    fn block_rates_scale_each_block_exactly() {
        let shapes = [(1, 2), (1, 1)];
        let mut plain = OptimizerKind::SGD_MOMENTUM.build::<f64>(&shapes).unwrap();
        let mut scaled = OptimizerKind::SGD_MOMENTUM.build::<f64>(&shapes).unwrap().block_rates(&[1.0, 0.25]).unwrap();
        let start = vec![DMatrix::from_row_slice(1, 2, &[1.0, -2.0]), DMatrix::from_element(1, 1, 3.0)];
        let (mut p, mut q) = (start.clone(), start.clone());
        let g = vec![DMatrix::from_row_slice(1, 2, &[0.5, 0.5]), DMatrix::from_element(1, 1, 1.0)];
        for _ in 0..3 {
            plain.step(&mut p, &g, 0.1).unwrap();
            scaled.step(&mut q, &g, 0.1).unwrap();
        }
        // Block 0 at rate 1 is bit for bit the plain step; block 1 moved a quarter as far
        // (momentum is linear, so the scaled lr scales the whole displacement).
        assert_eq!(p[0], q[0]);
        let (moved_plain, moved_scaled) = (start[1][0] - p[1][0], start[1][0] - q[1][0]);
        assert!((moved_scaled - 0.25 * moved_plain).abs() < 1e-15, "{moved_plain} {moved_scaled}");
        let fresh = || OptimizerKind::SGD_MOMENTUM.build::<f64>(&shapes).unwrap();
        assert!(fresh().block_rates(&[1.0]).is_err(), "one rate per block");
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(fresh().block_rates(&[1.0, bad]).is_err(), "rate {bad}");
        }
    }
}
