#![doc = include_str!("../README.md")]

pub mod augment;
mod catalogue;
pub mod data;
mod error;
mod experiment;
pub mod io;
mod manifest;
mod plot;
mod report;
mod row;
mod run;
mod stats;
mod sweeps;
mod zoo;

pub use catalogue::{E1, E2, E3, E4, E5, E6, E7, E8, E9, PAPER};
pub use error::{ErrorKind, ExperimentError, Result};
pub use experiment::{About, Experiment, Job};
pub use gmm_core::parallel::Shard;
pub use manifest::{MANIFEST, Manifest, Merged, fingerprint, job_key, merge_shards, write_manifest};
pub use row::{Method, Metric, Row, Solver};
pub use run::{Suite, run_job};
pub use stats::{Point, Stats};
pub use sweeps::Sweeps;
pub use zoo::zoo_plot;
