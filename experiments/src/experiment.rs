//! What an experiment is: one type behind the [`Experiment`] trait that says what it sweeps (its
//! settings), what one job of it computes (its rows), how it is plotted and what the report
//! says of it. The paper's experiments E1..E8 and the loss zoo E9 implement it in `catalogue`; a user's own
//! experiment implements it outside the crate and runs through the same runner, CSV writer and
//! report ([`crate::Suite::new`]).

use std::fmt;

use crate::error::Result;
use crate::plot::Series;
use crate::row::{Method, Metric, Row, Solver};
use crate::stats::{Point, Stats};
use crate::sweeps::Sweeps;

/// An experiment's names, plot and schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct About {
    /// Its id in the rows, e.g. `E1`.
    pub id: &'static str,
    /// File stem of its CSV and SVG.
    pub stem: &'static str,
    /// Title of its plot and report section.
    pub title: &'static str,
    /// The plotted metric.
    pub metric: Metric,
    /// The x-axis label.
    pub x_label: &'static str,
    /// The y-axis label.
    pub y_label: &'static str,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// A categorical x axis: the settings are the indices of named cases.
    pub categorical: bool,
    /// The methods its rows may name (a merge refuses others).
    pub methods: &'static [Method],
    /// The statistics every one of its rows fills (a merge refuses rows without them).
    pub required: &'static [Metric],
}

/// One experiment: its sweep, its jobs' rows, its sentence in the report.
pub trait Experiment: Sync {
    /// Its names, plot and schema.
    fn about(&self) -> About;

    /// The settings the sweeps give it, in order: the swept value and its label (e.g.
    /// `(100.0, "condition 100")`). Empty when the sweeps skip it.
    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)>;

    /// Why the sweeps skip it (it has no settings), for a run's note; `None` when it runs.
    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        self.settings(s).is_empty().then(|| "it has no settings".to_string())
    }

    /// The rows of one job (one setting and seed), one per method. Seeded by the job only, so
    /// that rows do not depend on the order jobs run in or on the thread count.
    ///
    /// # Errors
    /// The error of the method that failed.
    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>>;

    /// Its sentence in the report, from all rows of a run and the summary of its metric over them.
    fn sentence(&self, rows: &[Row], stats: &Stats) -> String;

    /// What its plot adds to a method's legend label (e.g. a fitted rate), from the method's
    /// points; nothing by default.
    fn legend_note(&self, _method: Method, _points: &[Point]) -> String {
        String::new()
    }

    /// Reference lines of its plot (e.g. a theoretical rate), from the summary of its metric;
    /// none by default.
    fn references(&self, _stats: &Stats) -> Vec<Series> {
        Vec::new()
    }
}

/// One unit of work: an experiment at one setting and seed.
#[derive(Clone)]
pub struct Job<'e> {
    /// The experiment.
    pub experiment: &'e dyn Experiment,
    /// The swept value.
    pub setting: f64,
    /// The setting as shown.
    pub label: String,
    /// The repetition.
    pub seed: u64,
}

impl Job<'_> {
    /// The experiment's id.
    pub fn id(&self) -> &'static str {
        self.experiment.about().id
    }

    /// An empty row of this job for `method`, obtained by `solver`.
    pub fn row(&self, method: Method, solver: Solver) -> Row {
        Row {
            experiment: self.id().into(),
            setting: self.setting,
            label: self.label.clone(),
            method,
            seed: self.seed,
            sin_theta_max: None,
            share_outside: None,
            ari: None,
            nmi: None,
            accuracy: None,
            singular_values: Vec::new(),
            solver,
            n: 0,
            converged: None,
            relative_grad: None,
            grad_norm: None,
            curvature: None,
            distance_bound: None,
            loss: None,
            sin_to_optimum: None,
            within_class_share: None,
        }
    }
}

impl fmt::Display for Job<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} seed {}", self.id(), self.label, self.seed)
    }
}

impl fmt::Debug for Job<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Job({self})")
    }
}

impl PartialEq for Job<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.id(), self.setting.to_bits(), &self.label, self.seed)
            == (other.id(), other.setting.to_bits(), &other.label, other.seed)
    }
}
