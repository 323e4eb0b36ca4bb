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

/// Reads `.csv` (optionally gzip-compressed, `.csv.gz`; with or without a header row: the first
/// row is a header when any of its fields is not a number) or `.npy` (2-D float64 or integer).
///
/// # Errors
/// Unreadable file, empty file, ragged rows, or a bad value, naming its line and column.
pub fn read_data(path: &Path) -> anyhow::Result<DMatrix<f64>> {
    let name = path.to_string_lossy();
    if name.ends_with(".npy") {
        return read_npy(path);
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    read_csv(file, name.ends_with(".gz"), &path.display().to_string())
}

/// Reads CSV (gzip-compressed when `gz`) from any reader; `name` labels error messages.
pub fn read_csv(reader: impl std::io::Read, gz: bool, name: &str) -> anyhow::Result<DMatrix<f64>> {
    let reader: Box<dyn std::io::Read> =
        if gz { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(reader);
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut width = None;
    for (index, record) in csv.records().enumerate() {
        let line = index + 1;
        let record = record.with_context(|| format!("{name}: cannot read line {line}"))?;
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        let parsed: Vec<Result<f64, _>> = record.iter().map(|f| f.parse::<f64>()).collect();
        if index == 0 && parsed.iter().any(|p| p.is_err()) {
            continue; // a header row
        }
        let mut row = Vec::with_capacity(parsed.len());
        for (col, (value, field)) in parsed.into_iter().zip(record.iter()).enumerate() {
            match value {
                Ok(v) if v.is_finite() => row.push(v),
                _ => bail!("{name}: line {line}, column {}: {field:?} is not a finite number", col + 1),
            }
        }
        match width {
            None => width = Some(row.len()),
            Some(w) if w != row.len() => {
                bail!("{name}: line {line} has {} fields, the first data line has {w}", row.len())
            }
            Some(_) => {}
        }
        rows.push(row);
    }
    let w = width.with_context(|| format!("{name} has no data rows"))?;
    Ok(DMatrix::from_fn(rows.len(), w, |i, j| rows[i][j]))
}

fn read_npy(path: &Path) -> anyhow::Result<DMatrix<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).with_context(|| format!("{} is not a valid .npy file", path.display()))?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 || shape[0] == 0 {
        bail!("{}: expected a non-empty 2-D array, got shape {shape:?}", path.display());
    }
    let (n, m) = (shape[0] as usize, shape[1] as usize);
    let fortran = npy.order() == npyz::Order::Fortran;
    let data: Vec<f64> = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float => npy.into_vec::<f64>()?,
        _ => npy
            .into_vec::<i64>()
            .with_context(|| format!("{}: dtype must be float64 or int64", path.display()))?
            .into_iter()
            .map(|v| v as f64)
            .collect(),
    };
    let values = if fortran { DMatrix::from_column_slice(n, m, &data) } else { DMatrix::from_row_slice(n, m, &data) };
    if let Some(p) = values.iter().position(|v| !v.is_finite()) {
        bail!("{}: non-finite value at row {}, column {}", path.display(), p % n + 1, p / n + 1);
    }
    Ok(values)
}
