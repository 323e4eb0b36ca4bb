//! The runner: a suite of experiments, its jobs (experiment x setting x seed), the part of them
//! a machine takes, and running them in parallel with the same rows on any thread count.

use crate::catalogue::PAPER;
use crate::error::{ExperimentError, Result};
use crate::experiment::{Experiment, Job};
use crate::row::Row;
use crate::sweeps::Sweeps;
use gmm_core::parallel::Shard;

/// The experiments of a run, in the order of their jobs, CSVs and report sections.
#[derive(Clone)]
pub struct Suite<'e> {
    experiments: Vec<&'e dyn Experiment>,
}

impl Suite<'static> {
    /// The reproduction of the paper, E1..E8, and the loss zoo, E9.
    pub fn paper() -> Self {
        Self { experiments: PAPER.to_vec() }
    }
}

impl<'e> Suite<'e> {
    /// A suite of one's own experiments (see [`Experiment`]).
    ///
    /// # Errors
    /// [`ExperimentError::Config`] for no experiment, or two with one id or one file stem.
    pub fn new(experiments: Vec<&'e dyn Experiment>) -> Result<Self> {
        if experiments.is_empty() {
            return Err(ExperimentError::Config("a suite needs at least one experiment".into()));
        }
        for (i, e) in experiments.iter().enumerate() {
            let a = e.about();
            if let Some(other) = experiments[..i].iter().map(|o| o.about()).find(|o| o.id == a.id || o.stem == a.stem) {
                return Err(ExperimentError::Config(format!(
                    "two experiments share an id or a file stem: {} ({}) and {} ({})",
                    other.id, other.stem, a.id, a.stem
                )));
            }
        }
        Ok(Self { experiments })
    }

    /// Its experiments, in order.
    pub fn experiments(&self) -> &[&'e dyn Experiment] {
        &self.experiments
    }

    /// The experiment with id `id`.
    pub fn find(&self, id: &str) -> Option<&'e dyn Experiment> {
        self.experiments.iter().copied().find(|e| e.about().id == id)
    }

    /// Every job of the sweeps, in a fixed order (experiment, setting, seed). Jobs are seeded
    /// on their own, so results do not depend on the order they run in or on the thread count.
    pub fn jobs(&self, s: &Sweeps) -> Vec<Job<'e>> {
        let mut out = Vec::new();
        for &experiment in &self.experiments {
            for (setting, label) in experiment.settings(s) {
                for seed in 0..s.seeds as u64 {
                    out.push(Job { experiment, setting, label: label.clone(), seed });
                }
            }
        }
        out
    }

    /// The jobs of `shard`, in the order of [`Suite::jobs`].
    pub fn shard_jobs(&self, s: &Sweeps, shard: Shard) -> Vec<Job<'e>> {
        self.jobs(s).into_iter().enumerate().filter(|(i, _)| shard.takes(*i as u64)).map(|(_, j)| j).collect()
    }

    /// The number of jobs (settings x seeds), overflow-safe (`None` above 64 bits).
    pub fn job_count(&self, s: &Sweeps) -> Option<u64> {
        let settings = self.experiments.iter().try_fold(0u64, |acc, e| acc.checked_add(e.settings(s).len() as u64))?;
        settings.checked_mul(s.seeds as u64)
    }

    /// The experiments the sweeps skip, each with why: a run says what it does not do.
    pub fn skipped(&self, s: &Sweeps) -> Vec<(&'static str, String)> {
        self.experiments.iter().filter_map(|e| Some((e.about().id, e.skip_reason(s)?))).collect()
    }

    /// Checks the sweeps ([`Sweeps::validate`]) and the number of jobs they make against
    /// [`gmm_core::budget::MAX_JOBS`], before any work.
    ///
    /// # Errors
    /// As [`Sweeps::validate`]; [`ExperimentError::Core`] for more jobs than the budget.
    pub fn validate(&self, s: &Sweeps) -> Result<()> {
        s.validate()?;
        let jobs = self.job_count(s).unwrap_or(u64::MAX);
        gmm_core::budget::check_work("the sweeps' jobs (settings x seeds)", jobs, gmm_core::budget::MAX_JOBS)?;
        Ok(())
    }

    /// Runs the jobs of `shard` in parallel (rayon, feature `parallel`) and returns their rows in
    /// job order; `progress` is told of each finished job (from any thread). The rows do not
    /// depend on the thread count.
    ///
    /// # Errors
    /// Invalid sweeps ([`Suite::validate`]); the first job that failed, named.
    pub fn run(&self, s: &Sweeps, shard: Shard, progress: &(dyn Fn(&Job<'_>) + Sync)) -> Result<Vec<Row>> {
        self.validate(s)?;
        let results: Vec<Result<Vec<Row>>> = gmm_core::parallel::map(&self.shard_jobs(s, shard), |job| {
            let rows = run_job(job, s);
            progress(job);
            rows
        });
        let mut rows = Vec::new();
        for r in results {
            rows.extend(r?);
        }
        Ok(rows)
    }
}

/// Runs one job: its rows, one per method.
///
/// # Errors
/// [`ExperimentError::Job`] naming the job, around the error of the method that failed.
pub fn run_job(job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
    job.experiment.rows(job, s).map_err(|e| ExperimentError::Job { job: job.to_string(), source: Box::new(e) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::{Method, Solver};

    fn tiny() -> Sweeps {
        Sweeps {
            seeds: 1,
            steps: 20,
            samples: 400,
            k: 3,
            d: 6,
            e1_conditions: vec![1.0, 100.0],
            e2_deltas: vec![1.0],
            e3_dims: vec![6],
            e4_samples: vec![400],
            e5_ranks: vec![2],
            e6_pairs: vec![200],
            e7_datasets: vec![crate::data::Dataset::Wine],
            e8_pairs_per_image: 1,
            e8_recipes: vec![crate::augment::Recipe::default()],
            e9_views: vec![verdict::View::Coupled],
            ..Sweeps::default()
        }
    }

    #[test]
    fn jobs_cover_every_setting_and_shards_partition_them() {
        let s = tiny();
        let suite = Suite::paper();
        let all = suite.jobs(&s);
        assert_eq!(all.len(), 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1);
        assert!(PAPER.iter().all(|e| all.iter().any(|j| j.id() == e.about().id)));
        let parts: Vec<Vec<Job>> = (0..3).map(|i| suite.shard_jobs(&s, Shard::new(i, 3).unwrap())).collect();
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), all.len());
        assert!(Shard::new(3, 3).is_err() && Shard::new(0, 0).is_err());
    }

    #[test]
    fn a_run_gives_certified_infonce_rows_and_reports_progress() {
        let s = tiny();
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let suite = Suite::paper();
        let rows = suite
            .run(&s, Shard::WHOLE, &|_| {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
            .unwrap();
        assert_eq!(seen.into_inner(), suite.jobs(&s).len());
        let infonce: Vec<&Row> = rows.iter().filter(|r| r.method == Method::InfoNce).collect();
        assert!(!infonce.is_empty() && infonce.iter().all(|r| r.converged == Some(true) && r.solver == Solver::Lbfgs));
        // PCA on isotropic E1 data finds F; on anisotropic data it need not: both rows exist.
        assert_eq!(rows.iter().filter(|r| r.experiment == "E1" && r.method == Method::Pca).count(), 2);
        assert_eq!(rows, suite.run(&s, Shard::WHOLE, &|_| {}).unwrap(), "same sweeps, same rows");
        let bad = Sweeps { seeds: 0, ..tiny() };
        assert!(matches!(suite.run(&bad, Shard::WHOLE, &|_| {}), Err(ExperimentError::Config(_))));
    }

    #[test]
    fn the_suite_names_its_skips_and_counts_its_jobs_against_the_budget() {
        let suite = Suite::paper();
        let s = Sweeps::from_json_over(r#"{"steps": 7, "e6_pairs": [], "e8_pairs_per_image": 0}"#, &Sweeps::quick())
            .unwrap();
        let skipped = suite.skipped(&s);
        assert_eq!(
            skipped,
            vec![("E6", "e6_pairs is empty".to_string()), ("E8", "e8_pairs_per_image is 0".to_string())]
        );
        assert!(suite.skipped(&Sweeps::default()).is_empty());
        assert_eq!(suite.job_count(&s), Some(suite.jobs(&s).len() as u64));
        let huge = Sweeps::from_json(r#"{"seeds": 1000000000000}"#).unwrap();
        let err = suite.validate(&huge).unwrap_err();
        assert!(matches!(err, ExperimentError::Core(gmm_core::GmmError::OverBudget { .. })), "{err}");
    }
}
