//! An experiment defined outside the crate runs through the runner, the CSV writer, the merge
//! reader and the report without touching the crate: the extension path a newcomer takes.

use baselines::{Fit, Lda, Pca};
use experiments::{About, Experiment, ExperimentError, Job, Method, Metric, Row, Shard, Solver, Stats, Suite, Sweeps};
use gmm_core::{MixtureGenerator, seeded};

/// X1: PCA and LDA against the Fisher subspace as the components' condition number grows.
struct PcaAgainstLda;

impl Experiment for PcaAgainstLda {
    fn about(&self) -> About {
        About {
            id: "X1",
            stem: "x1_pca_against_lda",
            title: "X1 PCA against LDA",
            metric: Metric::SinThetaMax,
            x_label: "condition number of Σ",
            y_label: "sin θ_max to F",
            log_x: true,
            log_y: false,
            categorical: false,
            methods: &[Method::Pca, Method::Lda],
            required: &[Metric::SinThetaMax],
        }
    }

    fn settings(&self, _: &Sweeps) -> Vec<(f64, String)> {
        [1.0, 100.0].iter().map(|&c| (c, format!("condition {c}"))).collect()
    }

    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> experiments::Result<Vec<Row>> {
        let g =
            MixtureGenerator::isotropic(3, 6).separation(3.0).condition(job.setting).generate(&mut seeded(job.seed))?;
        let f = g.fisher_subspace()?;
        let data = g.sample(s.samples, &mut seeded(job.seed + 1));
        let maps = [(Method::Pca, Pca::new(2).fit(&data.x)?.map), (Method::Lda, Lda::new().fit(&data)?.map)];
        let mut rows = Vec::new();
        for (method, map) in maps {
            let mut row = job.row(method, Solver::ClosedForm);
            row.n = s.samples;
            row.sin_theta_max = Some(map.row_space()?.sin_theta_max(&f)?);
            rows.push(row);
        }
        Ok(rows)
    }

    fn sentence(&self, _: &[Row], st: &Stats) -> String {
        format!(
            "At the largest condition number: PCA {:.3}, LDA {:.3}.",
            st.last_mean(Method::Pca),
            st.last_mean(Method::Lda)
        )
    }
}

#[test]
fn an_experiment_defined_here_runs_through_runner_csv_and_report() {
    let own = PcaAgainstLda;
    let suite = Suite::new(vec![&own]).unwrap();
    let sweeps = Sweeps { seeds: 2, samples: 2000, ..Sweeps::quick() };
    let rows = suite.run(&sweeps, Shard::WHOLE, &|_| {}).unwrap();
    assert_eq!(rows.len(), 2 * 2 * 2, "settings x seeds x methods");
    assert!(rows.iter().all(|r| r.experiment == "X1" && r.sin_theta_max.is_some()));
    // The rows are the experiment's own (a plumbing test: the statistics are checked as claims in
    // theory-checks): each method of each job once, angles in [0, 1].
    assert!(rows.iter().all(|r| (0.0..=1.0).contains(&r.sin_theta_max.unwrap())));
    assert_eq!(rows.iter().filter(|r| r.method == Method::Lda).count(), 4);

    let out = std::env::temp_dir().join(format!("own-experiment-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    suite.write_csvs(&rows, &out).unwrap();
    experiments::write_manifest(&suite, &out, &sweeps, Shard::WHOLE).unwrap();
    suite.write_report(&rows, &out, None).unwrap();
    let mut back = suite.read_rows(std::slice::from_ref(&out)).unwrap();
    let mut sorted = rows.clone();
    let key = |r: &Row| (r.setting.to_bits(), r.method, r.seed);
    back.sort_by_key(key);
    sorted.sort_by_key(key);
    assert_eq!(back, sorted, "the CSV reads back to the same rows");
    let merged = experiments::merge_shards(&suite, std::slice::from_ref(&out), false).unwrap();
    assert_eq!(merged.rows.len(), rows.len());
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## X1 PCA against LDA") && report.contains("At the largest condition number: PCA"));
    assert!(report.contains("![X1](x1_pca_against_lda.svg)") && out.join("x1_pca_against_lda.svg").exists());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["X1"]["methods"]["PCA"].is_array());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_suite_refuses_two_experiments_with_one_id() {
    let (a, b) = (PcaAgainstLda, PcaAgainstLda);
    assert!(matches!(Suite::new(vec![&a, &b]), Err(ExperimentError::Config(_))));
    assert!(Suite::new(Vec::new()).is_err());
}
