//! Output files: atomic writes, CSV with a header row, NPY.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nalgebra::DMatrix;

/// Writes a file atomically: the content goes to a temporary file beside `path`, which is then
/// renamed over it, so an interrupted run never leaves a half-written file.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file_name = path.file_name().with_context(|| format!("{} is not a file path", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let result = (|| {
        let file = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            std::fs::rename(&tmp, path).with_context(|| format!("cannot move the output into {}", path.display()))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A table of named columns, all of length `n`.
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows.
    pub rows: DMatrix<f64>,
}

impl Table {
    /// Writes the table to `.csv` (header row) or `.npy` (a 2-D float64 array, same column order).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => write_atomic(path, |w| {
                let mut csv = csv::Writer::from_writer(w);
                csv.write_record(&self.header)?;
                for row in self.rows.row_iter() {
                    csv.write_record(row.iter().map(|v| format_number(*v)))?;
                }
                csv.flush()?;
                Ok(())
            }),
            Some("npy") => write_atomic(path, |w| {
                use npyz::WriterBuilder;
                let (n, m) = self.rows.shape();
                let mut npy =
                    npyz::WriteOptions::new().default_dtype().shape(&[n as u64, m as u64]).writer(w).begin_nd()?;
                for row in self.rows.row_iter() {
                    npy.extend(row.iter().copied())?;
                }
                npy.finish()?;
                Ok(())
            }),
            _ => bail!("output file {} must end in .csv or .npy", path.display()),
        }
    }
}

/// Shortest representation that reads back to the same f64 (Rust's `Display` for f64 is exact).
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}
