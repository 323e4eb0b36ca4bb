#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod augment;
pub mod data;
pub mod error;
pub mod experiment;
pub mod io;
pub mod manifest;
pub mod plot;
pub mod report;
pub mod run;
pub mod sweeps;

pub use data::Dataset;
pub use error::{ExperimentError, Result};
pub use experiment::{Experiment, Metric};
pub use manifest::{Manifest, Merged, merge_shards, write_manifest};
pub use report::{read_rows, write_csvs, write_report};
pub use run::{Job, Row, Shard, jobs, run, run_job};
pub use sweeps::Sweeps;
