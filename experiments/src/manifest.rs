//! What a run of the sweeps wrote, so that shards can be merged safely: `manifest.json` beside the
//! CSVs names the sweeps (and their fingerprint), the shard and the jobs it ran. `merge` accepts
//! only shards of one configuration and one split, each shard once, every job present once with
//! rows in range (or, with `allow_partial`, says what is missing).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};
use crate::experiment::Job;
use crate::io::write_atomic;
use crate::row::{Method, Row, Solver, sort_rows};
use crate::run::Suite;
use crate::sweeps::Sweeps;
use gmm_core::parallel::Shard;

/// The file name of a manifest.
pub const MANIFEST: &str = "manifest.json";

/// What one run (a shard or the whole sweep) wrote.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Fingerprint of the sweeps ([`fingerprint`]).
    pub config_hash: String,
    /// The sweeps in force.
    pub sweeps: Sweeps,
    /// This run's part, `index` of `count`.
    pub shard_index: usize,
    /// The number of parts.
    pub shard_count: usize,
    /// The jobs it ran ([`job_key`]).
    pub jobs: Vec<String>,
}

/// A hex fingerprint of the sweeps (a stable hash of their JSON).
pub fn fingerprint(sweeps: &Sweeps) -> Result<String> {
    let json = serde_json::to_string(sweeps).map_err(|e| ExperimentError::Config(format!("sweeps: {e}")))?;
    Ok(format!("{:016x}", gmm_core::stable_hash(json.as_bytes())))
}

/// `E1|condition 10|0`: experiment, setting label, seed.
pub fn job_key(experiment: &str, label: &str, seed: u64) -> String {
    format!("{experiment}|{label}|{seed}")
}

fn key_of_job(j: &Job<'_>) -> String {
    job_key(j.id(), &j.label, j.seed)
}

/// Writes `out/manifest.json` for the jobs of `shard` of `sweeps` in `suite`.
///
/// # Errors
/// A file that cannot be written; sweeps that cannot be serialised.
pub fn write_manifest(suite: &Suite<'_>, out: &Path, sweeps: &Sweeps, shard: Shard) -> Result<()> {
    let manifest = Manifest {
        config_hash: fingerprint(sweeps)?,
        sweeps: sweeps.clone(),
        shard_index: shard.index(),
        shard_count: shard.count(),
        jobs: suite.shard_jobs(sweeps, shard).iter().map(key_of_job).collect(),
    };
    let text =
        serde_json::to_string_pretty(&manifest).map_err(|e| ExperimentError::Config(format!("manifest: {e}")))?;
    write_atomic(&out.join(MANIFEST), |w| Ok(std::io::Write::write_all(w, text.as_bytes())?))
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ExperimentError::Data(format!("{}: not the output of `reproduce` (no readable {MANIFEST}: {e})", dir.display()))
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        let retired = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("sweeps")?.as_object()?.keys().find_map(|key| crate::sweeps::retired(key)));
        let why = retired.map_or_else(|| e.to_string(), |r| format!("written by an earlier version: {r}"));
        ExperimentError::Data(format!("{}: {why}", path.display()))
    })?;
    // The sweeps decide the jobs the merge enumerates: the same checks (and budgets) as a run's.
    m.sweeps.validate().map_err(|e| ExperimentError::Data(format!("{}: its sweeps: {e}", path.display())))?;
    Ok(m)
}

/// What a merge found.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The rows of every shard, sorted.
    pub rows: Vec<Row>,
    /// The sweeps the shards ran.
    pub sweeps: Sweeps,
    /// Jobs of the sweeps with no rows (empty unless partial merges are allowed).
    pub missing: Vec<String>,
    /// Jobs in the sweeps.
    pub total: usize,
}

/// What is wrong with a row of job `setting` (the setting its manifest's sweeps give the
/// job), if anything: an unknown experiment or method, another setting, a required column left
/// empty, a trained map without its certificate's columns, or a value out of range.
fn row_problem(suite: &Suite<'_>, r: &Row, setting: f64) -> Option<String> {
    let Some(about) = suite.find(&r.experiment).map(|e| e.about()) else {
        return Some(format!("unknown experiment {}", r.experiment));
    };
    if !about.methods.contains(&r.method) {
        let known: Vec<&str> = about.methods.iter().map(|m| m.name()).collect();
        return Some(format!("unknown method {} for {} (known: {})", r.method, about.id, known.join(", ")));
    }
    if r.setting.to_bits() != setting.to_bits() {
        return Some(format!("setting {} where the sweeps give {setting}", r.setting));
    }
    if let Some(metric) = about.required.iter().find(|m| m.of(r).is_none()) {
        return Some(format!("the column {} is empty", metric.column()));
    }
    if r.method.trained() && r.converged.is_none() {
        return Some("the column converged is empty for a trained map".into());
    }
    if r.solver == Solver::Lbfgs && (r.relative_grad.is_none() || r.grad_norm.is_none() || r.loss.is_none()) {
        return Some("a column of the certificate (relative_grad, grad_norm, loss) is empty for an L-BFGS fit".into());
    }
    out_of_range(r)
}

/// The first out-of-range or non-finite value of a row, if any.
fn out_of_range(r: &Row) -> Option<String> {
    let unit = |v: Option<f64>, lo: f64, name: &str| match v {
        Some(x) if !(lo..=1.0).contains(&x) => Some(format!("{name} = {x} outside [{lo}, 1]")),
        _ => None,
    };
    unit(r.sin_theta_max, 0.0, "sin_theta_max")
        .or_else(|| unit(r.share_outside, 0.0, "share_outside"))
        .or_else(|| unit(r.ari, -1.0, "ari"))
        .or_else(|| unit(r.nmi, 0.0, "nmi"))
        .or_else(|| unit(r.accuracy, 0.0, "accuracy"))
        .or_else(|| unit(r.sin_to_optimum, 0.0, "sin_to_optimum"))
        .or_else(|| unit(r.distance_bound, 0.0, "distance_bound"))
        .or_else(|| r.relative_grad.filter(|g| !(g.is_finite() && *g >= 0.0)).map(|g| format!("relative_grad = {g}")))
        .or_else(|| r.grad_norm.filter(|g| !(g.is_finite() && *g >= 0.0)).map(|g| format!("grad_norm = {g}")))
        .or_else(|| r.curvature.filter(|c| !c.is_finite()).map(|c| format!("curvature = {c}")))
        .or_else(|| r.loss.filter(|l| !l.is_finite()).map(|l| format!("loss = {l}")))
        .or_else(|| r.within_class_share.filter(|v| !v.is_finite()).map(|v| format!("within_class_share = {v}")))
}

/// Reads the shards in `dirs` and checks that they belong together: one configuration (the same
/// fingerprint), one split into parts, each part once, the rows of each shard exactly the jobs
/// its manifest lists (each job once, values in range), and together every job of the sweeps
/// (unless `allow_partial`, when the missing jobs are returned instead).
///
/// # Errors
/// [`ExperimentError::Data`] naming the folder and what is wrong.
pub fn merge_shards(suite: &Suite<'_>, dirs: &[PathBuf], allow_partial: bool) -> Result<Merged> {
    let bad = |msg: String| ExperimentError::Data(msg);
    let mut seen_dirs = BTreeSet::new();
    let mut first: Option<(PathBuf, Manifest)> = None;
    let mut parts: BTreeMap<usize, PathBuf> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for dir in dirs {
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if !seen_dirs.insert(canonical) {
            return Err(bad(format!("{} is given twice", dir.display())));
        }
        let m = read_manifest(dir)?;
        if let Some((d0, m0)) = &first {
            if m.config_hash != m0.config_hash {
                return Err(bad(format!(
                    "{} ran other sweeps than {} (config {} against {}): merge shards of one configuration",
                    dir.display(),
                    d0.display(),
                    m.config_hash,
                    m0.config_hash
                )));
            }
            if m.shard_count != m0.shard_count {
                return Err(bad(format!(
                    "{} is part of a {}-way split, {} of a {}-way split",
                    dir.display(),
                    m.shard_count,
                    d0.display(),
                    m0.shard_count
                )));
            }
        }
        if m.config_hash != fingerprint(&m.sweeps)? {
            return Err(bad(format!("{}: the manifest's fingerprint does not match its sweeps", dir.display())));
        }
        if let Some(other) = parts.insert(m.shard_index, dir.clone()) {
            return Err(bad(format!(
                "shard {}/{} appears twice: {} and {}",
                m.shard_index,
                m.shard_count,
                other.display(),
                dir.display()
            )));
        }
        let listed: BTreeSet<&String> = m.jobs.iter().collect();
        let settings: BTreeMap<String, f64> =
            suite.jobs(&m.sweeps).iter().map(|j| (key_of_job(j), j.setting)).collect();
        let mut found: BTreeMap<String, BTreeSet<Method>> = BTreeMap::new();
        for r in suite
            .read_rows(std::slice::from_ref(dir))
            .or_else(|e| if m.jobs.is_empty() { Ok(Vec::new()) } else { Err(e) })?
        {
            let key = job_key(&r.experiment, &r.label, r.seed);
            if !listed.contains(&key) {
                return Err(bad(format!("{}: a row of job {key}, which its manifest does not list", dir.display())));
            }
            let setting = settings.get(&key).copied().unwrap_or(f64::NAN);
            if let Some(what) = row_problem(suite, &r, setting) {
                return Err(bad(format!("{}: job {key}, method {}: {what}", dir.display(), r.method)));
            }
            if !found.entry(key.clone()).or_default().insert(r.method) {
                return Err(bad(format!("{}: job {key} has two rows for {}", dir.display(), r.method)));
            }
            rows.push(r);
        }
        for key in &m.jobs {
            if !found.contains_key(key) {
                return Err(bad(format!(
                    "{}: job {key} is listed but has no rows (an interrupted run?)",
                    dir.display()
                )));
            }
            covered.insert(key.clone());
        }
        if first.is_none() {
            first = Some((dir.clone(), m));
        }
    }
    let Some((_, m0)) = first else { return Err(bad("no shard folders given".into())) };
    let all: Vec<String> = suite.jobs(&m0.sweeps).iter().map(key_of_job).collect();
    let missing: Vec<String> = all.iter().filter(|k| !covered.contains(*k)).cloned().collect();
    if !missing.is_empty() && !allow_partial {
        let absent: Vec<String> =
            (0..m0.shard_count).filter(|i| !parts.contains_key(i)).map(|i| format!("{i}/{}", m0.shard_count)).collect();
        return Err(bad(format!(
            "{} of {} jobs have no rows (shards not given: {}); pass --allow-partial to merge what is there",
            missing.len(),
            all.len(),
            if absent.is_empty() { "none".into() } else { absent.join(", ") }
        )));
    }
    sort_rows(&mut rows);
    Ok(Merged { rows, sweeps: m0.sweeps, missing, total: all.len() })
}
