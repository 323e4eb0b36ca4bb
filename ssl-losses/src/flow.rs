//! SimSiam and BYOL without the whitening constraint: the population dynamics of a linear encoder
//! `W` (`r x d`) with a linear predictor `W_p` (`r x r`) and a stop-gradient target, after Tian,
//! Chen and Ganguli (ICML 2021), and the stable fixed points they reach (zoo.md item 6).
//!
//! With `S = (S_11 + S_22) / 2` the inputs' second moment (both views pooled) and
//! `C = (C_12 + C_21) / 2` the symmetric part of the views' cross moment `C_12 = E[x_1 x_2^T]`,
//! the symmetrised loss `L = (1/2) E ||W_p W x_1 - W_a x_2||^2` (both directions averaged, the
//! target `W_a` held fixed: the stop-gradient) is
//! `L = (1/2) [tr(W_p W S W^T W_p^T) - 2 tr(W_p W C W_a^T) + tr(W_a S W_a^T)]`, with
//! * `dL/dW_p = W_p W S W^T - W_a C W^T`,
//! * `dL/dW = W_p^T (W_p W S - W_a C)`,
//!
//! and the dynamics, with predictor rate `alpha` and weight decay `eta`, are
//! * `W_p' = -alpha dL/dW_p - eta W_p`, `W' = -dL/dW - eta W`;
//! * SimSiam: `W_a = W`; BYOL: `W_a' = beta (W - W_a)` (the moving-average target).
//!
//! A flow is not the gradient of anything (the target moves with the encoder): its answers are its
//! fixed points and their stability. [`PredictorFlow::fixed_point`] solves `F(y) = 0` from a guess
//! and certifies the point by its residual and its Jacobian's spectrum across the orbit of
//! output rotations (`W -> Q W`, `W_p -> Q W_p Q^T`, `W_a -> Q W_a`), which leave the flow
//! invariant; [`whitened_fixed_point`] is the closed form for whitened inputs. Which fixed point a
//! trajectory reaches depends on its start, and on how it treats modes that decay towards zero
//! and may revive later (a mode whose predictor component decays through its growth window
//! revives from any nonzero size, so an integrator's absolute tolerance or the floating-point
//! underflow can decide it); the library does not claim it.

use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{GmmError, check_finite, check_shape};

use crate::error::Result;

/// How the target of the stop-gradient is made.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum FlowRule {
    /// SimSiam: the target is the encoder itself, `W_a = W`.
    SimSiam,
    /// BYOL: the target follows the encoder, `W_a' = momentum (W - W_a)`.
    Byol {
        /// The moving average's rate `beta` (zoo.md: 0.1).
        momentum: f64,
    },
}

/// BYOL's moving-average rate of zoo.md item 6.
pub const BYOL_MOMENTUM: f64 = 0.1;

/// A point of the flow: the predictor `W_p` (`r x r`), the encoder `W` (`r x d`) and, for BYOL, the
/// target `W_a` (`r x d`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FlowState {
    /// `W_p`.
    pub predictor: DMatrix<f64>,
    /// `W`.
    pub encoder: DMatrix<f64>,
    /// `W_a` (BYOL); `None` for SimSiam, whose target is the encoder.
    pub target: Option<DMatrix<f64>>,
}

/// The population flow of SimSiam or BYOL with a linear predictor on given moments.
#[derive(Clone, Debug)]
pub struct PredictorFlow {
    rule: FlowRule,
    predictor_rate: f64,
    weight_decay: f64,
    second: DMatrix<f64>,
    cross: DMatrix<f64>,
}

/// How [`PredictorFlow::fixed_point`] solves `F(y) = 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FixedPointSettings {
    /// A fixed point when the residual is at most this times the size of the field's terms
    /// (default 1e-12; the rounding floor is about 1e-15).
    pub residual_rtol: f64,
    /// The most iterations (default 5000; measured: up to 2400 where the raw flow's fixed point is
    /// far from the whitened closed form it is continued from, a few where it is near).
    pub max_iters: usize,
}

impl Default for FixedPointSettings {
    fn default() -> Self {
        Self { residual_rtol: 1e-12, max_iters: 5000 }
    }
}

/// A fixed point of a flow, with its certificate.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SteadyState {
    /// The end point.
    pub state: FlowState,
    /// `||F(y)||` relative to the size of the field's terms there.
    pub relative_residual: f64,
    /// Levenberg-Marquardt iterations taken.
    pub iterations: usize,
    /// The dimension of the rotation orbit through the end point (`r (r - 1) / 2` unless rows
    /// vanish together).
    pub orbit_dim: usize,
    /// The largest real part of the Jacobian's eigenvalues across the orbit: negative at a
    /// linearly stable fixed point.
    pub max_real_part: f64,
    /// The Jacobian's smallest singular value across the orbit.
    pub smallest_rate: f64,
    /// `||F(y)|| / smallest_rate`: the first-order distance (Newton's step) to the fixed point,
    /// modulo the orbit, when the Jacobian is nonsingular across it.
    pub distance: Option<f64>,
    /// A fixed point (residual within `residual_rtol`) that is linearly stable across the orbit.
    pub certified: bool,
}

impl PredictorFlow {
    /// The flow of `rule` with predictor rate `alpha > 0` and weight decay `eta >= 0` on the
    /// inputs' second moment `second` (`d x d`, symmetric) and the views' cross moment `cross`
    /// (`E[x_1 x_2^T]`; its symmetric part is used: both directions of the loss averaged).
    ///
    /// # Errors
    /// Shapes; non-finite or non-symmetric moments; rates out of range.
    pub fn new(
        rule: FlowRule,
        predictor_rate: f64,
        weight_decay: f64,
        second: &DMatrix<f64>,
        cross: &DMatrix<f64>,
    ) -> Result<Self> {
        let d = second.nrows();
        gmm_core::check_at_least(d, 1, "input dimension of the flow")?;
        check_shape(second, d, d, "second moment of the flow")?;
        check_shape(cross, d, d, "cross moment of the flow")?;
        check_finite(cross, "cross moment of the flow")?;
        let second = gmm_core::linalg::checked_symmetric(second, "second moment of the flow")?;
        gmm_core::check_positive(predictor_rate, "predictor rate alpha")?;
        gmm_core::check_non_negative(weight_decay, "weight decay eta")?;
        if let FlowRule::Byol { momentum } = rule {
            gmm_core::check_positive(momentum, "BYOL momentum rate beta")?;
        }
        let cross = (cross + cross.transpose()) * 0.5;
        Ok(Self { rule, predictor_rate, weight_decay, second, cross })
    }

    /// The input dimension `d`.
    pub fn dim(&self) -> usize {
        self.second.nrows()
    }

    fn check_state(&self, state: &FlowState) -> Result<usize> {
        let r = state.predictor.nrows();
        gmm_core::check_at_least(r, 1, "outputs of the flow's state")?;
        check_shape(&state.predictor, r, r, "predictor W_p")?;
        check_shape(&state.encoder, r, self.dim(), "encoder W")?;
        check_finite(&state.predictor, "predictor W_p")?;
        check_finite(&state.encoder, "encoder W")?;
        match (&state.target, self.rule) {
            (Some(t), FlowRule::Byol { .. }) => {
                check_shape(t, r, self.dim(), "target W_a")?;
                check_finite(t, "target W_a")?;
            }
            (None, FlowRule::SimSiam) => {}
            (Some(_), FlowRule::SimSiam) => {
                return Err(GmmError::out_of_range("target W_a", 1.0, "none for SimSiam (its target is W)").into());
            }
            (None, FlowRule::Byol { .. }) => {
                return Err(GmmError::out_of_range("target W_a", 0.0, "a matrix for BYOL").into());
            }
        }
        Ok(r)
    }

    /// The symmetrised loss at `state` with its target held fixed, and its gradients in `W_p` and
    /// `W` (the stop-gradient: nothing flows into the target).
    ///
    /// # Errors
    /// Shapes; non-finite entries.
    pub fn loss_grad(&self, state: &FlowState) -> Result<(f64, DMatrix<f64>, DMatrix<f64>)> {
        self.check_state(state)?;
        let (value, gp, gw) = self.loss_grad_unchecked(state);
        if !value.is_finite() {
            return Err(GmmError::NonFinite { what: "flow loss (overflow)", row: 0, col: 0, value }.into());
        }
        check_finite(&gp, "flow loss gradient in W_p (overflow)")?;
        check_finite(&gw, "flow loss gradient in W (overflow)")?;
        Ok((value, gp, gw))
    }

    fn loss_grad_unchecked(&self, state: &FlowState) -> (f64, DMatrix<f64>, DMatrix<f64>) {
        let (wp, w) = (&state.predictor, &state.encoder);
        let wa = state.target.as_ref().unwrap_or(w);
        let ws = w * &self.second;
        let wac = wa * &self.cross;
        let pws = wp * &ws;
        // E = W_p W S - W_a C (r x d); dL/dW_p = E W^T, dL/dW = W_p^T E.
        let e = &pws - &wac;
        let pw = wp * w;
        let value = 0.5
            * (pws.component_mul(&pw).sum() - 2.0 * wac.component_mul(&pw).sum()
                + (wa * &self.second).component_mul(wa).sum());
        (value, &e * w.transpose(), wp.transpose() * e)
    }

    /// The flow's velocity at `state`.
    ///
    /// # Errors
    /// Shapes; non-finite entries.
    pub fn field(&self, state: &FlowState) -> Result<FlowState> {
        self.check_state(state)?;
        let field = self.field_unchecked(state);
        Self::check_state_finite(&field, "flow field (overflow)")?;
        Ok(field)
    }

    fn field_unchecked(&self, state: &FlowState) -> FlowState {
        let (_, gp, gw) = self.loss_grad_unchecked(state);
        let eta = self.weight_decay;
        let target = match (self.rule, &state.target) {
            (FlowRule::Byol { momentum }, Some(t)) => Some((&state.encoder - t) * momentum),
            _ => None,
        };
        FlowState {
            predictor: -(gp * self.predictor_rate + &state.predictor * eta),
            encoder: -(gw + &state.encoder * eta),
            target,
        }
    }

    /// The size of the field's terms at `state` (the sum of their norms): the scale a residual is
    /// relative to, so that a residual is judged against the cancellation that produced it.
    fn term_scale(&self, state: &FlowState) -> f64 {
        let (wp, w) = (&state.predictor, &state.encoder);
        let wa = state.target.as_ref().unwrap_or(w);
        let (ws, wac) = (w * &self.second, wa * &self.cross);
        let momentum = match self.rule {
            FlowRule::Byol { momentum } => momentum * (w.norm() + wa.norm()),
            FlowRule::SimSiam => 0.0,
        };
        self.predictor_rate * ((wp * &ws * w.transpose()).norm() + (&wac * w.transpose()).norm())
            + (wp.transpose() * wp * &ws).norm()
            + (wp.transpose() * &wac).norm()
            + self.weight_decay * (wp.norm() + w.norm())
            + momentum
    }

    fn check_state_finite(state: &FlowState, what: &'static str) -> Result<()> {
        check_finite(&state.predictor, what)?;
        check_finite(&state.encoder, what)?;
        state.target.as_ref().map_or(Ok(()), |t| check_finite(t, what))?;
        Ok(())
    }

    fn flatten(state: &FlowState) -> DVector<f64> {
        let parts = [Some(&state.predictor), Some(&state.encoder), state.target.as_ref()];
        DVector::from_iterator(
            parts.iter().flatten().map(|m| m.len()).sum(),
            parts.into_iter().flatten().flat_map(|m| m.iter().copied()),
        )
    }

    fn unflatten(&self, r: usize, y: &DVector<f64>) -> FlowState {
        let d = self.dim();
        let predictor = DMatrix::from_column_slice(r, r, &y.as_slice()[..r * r]);
        let encoder = DMatrix::from_column_slice(r, d, &y.as_slice()[r * r..r * r + r * d]);
        let target = matches!(self.rule, FlowRule::Byol { .. })
            .then(|| DMatrix::from_column_slice(r, d, &y.as_slice()[r * r + r * d..]));
        FlowState { predictor, encoder, target }
    }

    fn field_vec(&self, r: usize, y: &DVector<f64>) -> DVector<f64> {
        Self::flatten(&self.field_unchecked(&self.unflatten(r, y)))
    }

    /// The derivative of the field at `state` in the direction `dir` (same shapes; for SimSiam
    /// the target moves with the encoder). With `G = W_p W S - W_a C`:
    /// `dG = dW_p W S + W_p dW S - dW_a C`, `dF_p = -alpha (dG W^T + G dW^T) - eta dW_p`,
    /// `dF_w = -(dW_p^T G + W_p^T dG) - eta dW`, `dF_a = beta (dW - dW_a)`.
    ///
    /// # Errors
    /// Shapes; non-finite entries.
    pub fn field_derivative(&self, state: &FlowState, dir: &FlowState) -> Result<FlowState> {
        let r = self.check_state(state)?;
        // The direction is a state of the same shapes (a target exactly when the rule has one).
        let dir_r = self.check_state(dir)?;
        if dir_r != r {
            return Err(GmmError::Shape { what: "outputs of the direction", expected: r, got: dir_r }.into());
        }
        Ok(self.field_derivative_unchecked(state, dir))
    }

    fn field_derivative_unchecked(&self, state: &FlowState, dir: &FlowState) -> FlowState {
        let (wp, w) = (&state.predictor, &state.encoder);
        let wa = state.target.as_ref().unwrap_or(w);
        let (dp, dw) = (&dir.predictor, &dir.encoder);
        let da = dir.target.as_ref().unwrap_or(dw);
        let g = wp * w * &self.second - wa * &self.cross;
        let dg = (dp * w + wp * dw) * &self.second - da * &self.cross;
        let eta = self.weight_decay;
        let target = match (self.rule, &dir.target) {
            (FlowRule::Byol { momentum }, Some(dt)) => Some((dw - dt) * momentum),
            _ => None,
        };
        FlowState {
            predictor: -((&dg * w.transpose() + &g * dw.transpose()) * self.predictor_rate + dp * eta),
            encoder: -(dp.transpose() * &g + wp.transpose() * &dg + dw * eta),
            target,
        }
    }

    /// The Jacobian of the field, column by column from [`PredictorFlow::field_derivative`]
    /// (exact: no finite-difference error to limit Newton's method near a weakly curved point).
    fn jacobian(&self, r: usize, y: &DVector<f64>) -> DMatrix<f64> {
        let n = y.len();
        let state = self.unflatten(r, y);
        let mut unit = DVector::zeros(n);
        let mut j = DMatrix::zeros(n, n);
        for c in 0..n {
            unit[c] = 1.0;
            j.set_column(c, &Self::flatten(&self.field_derivative_unchecked(&state, &self.unflatten(r, &unit))));
            unit[c] = 0.0;
        }
        j
    }

    /// The tangent of the rotation orbit at `state`: for each generator `G = e_i e_j^T - e_j e_i^T`,
    /// `(G W_p - W_p G, G W, G W_a)`, as the columns of an orthonormal basis of their span.
    fn orbit_basis(state: &FlowState) -> Result<DMatrix<f64>> {
        let r = state.predictor.nrows();
        let mut tangents = Vec::new();
        for i in 0..r {
            for j in i + 1..r {
                let mut g = DMatrix::zeros(r, r);
                g[(i, j)] = 1.0;
                g[(j, i)] = -1.0;
                let moved = FlowState {
                    predictor: &g * &state.predictor - &state.predictor * &g,
                    encoder: &g * &state.encoder,
                    target: state.target.as_ref().map(|t| &g * t),
                };
                tangents.push(Self::flatten(&moved));
            }
        }
        let n = Self::flatten(state).len();
        if tangents.is_empty() {
            return Ok(DMatrix::zeros(n, 0));
        }
        let t = DMatrix::from_columns(&tangents);
        Ok(gmm_core::linalg::orthonormal_column_basis(&t, 1e-8)?)
    }

    /// The Jacobian across the orbit, `P^T J P` with `P` an orthonormal basis of the orbit
    /// tangent's complement: `J` maps the tangent to zero at a fixed point, so its eigenvalues
    /// are the tangent's zeros and this matrix's.
    fn across_orbit(j: &DMatrix<f64>, orbit: &DMatrix<f64>) -> DMatrix<f64> {
        let (n, m) = (j.nrows(), orbit.ncols());
        if m == 0 {
            return j.clone();
        }
        let mut both = DMatrix::zeros(n, m + n);
        both.columns_mut(0, m).copy_from(orbit);
        both.columns_mut(m, n).fill_with_identity();
        let q = both.qr().q();
        let p = q.columns(m, n - m).into_owned();
        p.transpose() * j * p
    }

    /// A fixed point reached from `guess` (Gauss-Newton steps of least norm where they halve the
    /// residual, else Levenberg-Marquardt on `||F(y)||^2`, whose damping also
    /// steps over the orbit's flat directions) and its certificate: residual, stability across
    /// the orbit, and the first-order distance to the exact fixed point. Which fixed point a
    /// trajectory reaches depends on its start and is not decided here: a guess near a known
    /// fixed point (e.g. [`whitened_fixed_point`]) continues that one.
    ///
    /// # Errors
    /// Shapes; non-finite entries; settings out of range. A guess from which no fixed point is
    /// found is not an error: the result is uncertified.
    pub fn fixed_point(&self, guess: &FlowState, settings: &FixedPointSettings) -> Result<SteadyState> {
        let r = self.check_state(guess)?;
        gmm_core::check_positive(settings.residual_rtol, "residual tolerance of the flow")?;
        let mut y = Self::flatten(guess);
        let mut f = self.field_vec(r, &y);
        Self::check_state_finite(&self.unflatten(r, &f), "flow field at the guess (overflow)")?;
        let mut mu = 1e-3;
        let mut iterations = 0;
        while iterations < settings.max_iters
            && f.norm() > settings.residual_rtol * self.term_scale(&self.unflatten(r, &y))
        {
            iterations += 1;
            let j = self.jacobian(r, &y);
            // First the Gauss-Newton step of least norm (the pseudo-inverse drops the orbit's
            // null directions, singular values below 1e-12 of the largest): quadratic near a
            // fixed point; the damped steps below only where it does not lower the residual.
            if let Some((next, next_f)) = self.newton_step(r, &y, &f, &j)? {
                (y, f) = (next, next_f);
                continue;
            }
            let jtj = j.transpose() * &j;
            let jtf = j.transpose() * &f;
            let scale = jtj.diagonal().max().max(f64::MIN_POSITIVE);
            let mut improved = false;
            while mu < 1e12 {
                let system = &jtj + DMatrix::identity(y.len(), y.len()) * (mu * scale);
                let Some(step) = system.cholesky().map(|c| c.solve(&jtf)) else {
                    mu *= 4.0;
                    continue;
                };
                let next = &y - step;
                let next_f = self.field_vec(r, &next);
                if next_f.iter().all(|v| v.is_finite()) && next_f.norm() < f.norm() {
                    (y, f) = (next, next_f);
                    mu = (mu / 10.0).max(1e-15);
                    improved = true;
                    break;
                }
                mu *= 4.0;
            }
            if !improved {
                break;
            }
        }
        // Polish to the rounding floor: Newton steps while they halve the residual (the
        // distance bound is the residual over the weakest rate, so every halving counts).
        let mut j = self.jacobian(r, &y);
        for _ in 0..8 {
            let Some((next, next_f)) = self.newton_step(r, &y, &f, &j)? else { break };
            (y, f) = (next, next_f);
            j = self.jacobian(r, &y);
        }
        self.certify(r, &y, &f, &j, iterations, settings)
    }

    /// The Gauss-Newton step of least norm (the pseudo-inverse drops the orbit's null
    /// directions, singular values below 1e-12 of the largest), when it halves the residual:
    /// quadratic near a fixed point.
    fn newton_step(
        &self,
        r: usize,
        y: &DVector<f64>,
        f: &DVector<f64>,
        j: &DMatrix<f64>,
    ) -> Result<Option<(DVector<f64>, DVector<f64>)>> {
        let svd = gmm_core::linalg::svd(j)?;
        let cut = 1e-12 * svd.singular_values.max();
        let coords = svd.u.transpose() * f;
        let scaled = DVector::from_fn(coords.len(), |i, _| {
            let sv = svd.singular_values[i];
            if sv > cut { coords[i] / sv } else { 0.0 }
        });
        let next = y - &svd.v * scaled;
        let next_f = self.field_vec(r, &next);
        let halves = next_f.iter().all(|v| v.is_finite()) && next_f.norm() < 0.5 * f.norm();
        Ok(halves.then_some((next, next_f)))
    }

    /// The certificate of `y`, with the field `f` and its Jacobian `j` there.
    fn certify(
        &self,
        r: usize,
        y: &DVector<f64>,
        f: &DVector<f64>,
        j: &DMatrix<f64>,
        iterations: usize,
        settings: &FixedPointSettings,
    ) -> Result<SteadyState> {
        let state = self.unflatten(r, y);
        let residual = f.norm();
        let orbit = Self::orbit_basis(&state)?;
        let reduced = Self::across_orbit(j, &orbit);
        let (max_real_part, smallest_rate) = if reduced.is_empty() {
            (f64::NEG_INFINITY, f64::INFINITY)
        } else {
            let top = gmm_core::linalg::eigenvalues(&reduced)?.first().map_or(f64::NEG_INFINITY, |z| z.0);
            let sv = gmm_core::linalg::singular_values(&reduced)?;
            (top, sv.last().copied().unwrap_or(0.0))
        };
        let distance = (smallest_rate > 0.0).then(|| residual / smallest_rate);
        let relative_residual = residual / self.term_scale(&state).max(f64::MIN_POSITIVE);
        // Stable: every rate across the orbit negative by more than 1e-9 of the Jacobian's norm
        // (the Jacobian is exact; the margin is far above the eigenvalues' rounding, ~1e-16 of
        // it, and far below the slowest stable rates measured, ~1e-5 of it).
        let stable = max_real_part < -1e-9 * reduced.norm().max(f64::MIN_POSITIVE);
        Ok(SteadyState {
            state,
            relative_residual,
            iterations,
            orbit_dim: orbit.ncols(),
            max_real_part,
            smallest_rate,
            distance,
            certified: relative_residual <= settings.residual_rtol && stable,
        })
    }
}

/// The fixed point of zoo.md item 6 for whitened inputs (`S = I`, `C = T` symmetric with
/// eigenvalues `tau_1 >= tau_2 >= ...` and eigenvectors `u_j`), SimSiam or BYOL, predictor rate
/// `alpha`: `W = diag(s) U^T`, `W_p = diag(p)`, `p_j = (tau_j + sqrt(tau_j^2 - 4 eta)) / 2` (the
/// `'+'` branch), `s_j = p_j / sqrt(alpha)`, for the top `r` modes. `None` when it does not exist
/// (`eta > tau_j^2 / 4` for one of them).
///
/// # Errors
/// `t` not symmetric or not finite; `r` outside `1..=d`; a rate out of range.
pub fn whitened_fixed_point(
    t: &DMatrix<f64>,
    r: usize,
    predictor_rate: f64,
    weight_decay: f64,
    rule: FlowRule,
) -> Result<Option<FlowState>> {
    let d = t.nrows();
    if r == 0 || r > d {
        return Err(GmmError::out_of_range("outputs r", r as f64, format!("in 1..={d}")).into());
    }
    gmm_core::check_positive(predictor_rate, "predictor rate alpha")?;
    gmm_core::check_non_negative(weight_decay, "weight decay eta")?;
    let t = gmm_core::linalg::checked_symmetric(t, "whitened cross moment T")?;
    let (tau, u) = gmm_core::linalg::sym_eig_desc(&t)?;
    let mut p = Vec::with_capacity(r);
    for j in 0..r {
        let disc = tau[j] * tau[j] - 4.0 * weight_decay;
        if disc < 0.0 {
            return Ok(None);
        }
        p.push((tau[j] + disc.sqrt()) / 2.0);
    }
    let s: Vec<f64> = p.iter().map(|pj| pj / predictor_rate.sqrt()).collect();
    let encoder = DMatrix::from_diagonal(&DVector::from_vec(s)) * u.columns(0, r).transpose();
    let target = matches!(rule, FlowRule::Byol { .. }).then(|| encoder.clone());
    let point = FlowState { predictor: DMatrix::from_diagonal(&DVector::from_vec(p)), encoder, target };
    PredictorFlow::check_state_finite(&point, "whitened fixed point (overflow)")?;
    Ok(Some(point))
}
