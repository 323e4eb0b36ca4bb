//! Output files: atomic writes, CSV with a header row, NPY.

use std::path::Path;

use anyhow::{Context, bail};
use nalgebra::DMatrix;

/// [`experiments::io::write_atomic`] with the CLI's error type.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    experiments::io::write_atomic::<anyhow::Error>(path, write)
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

/// Reads `.csv` (optionally gzip-compressed, `.csv.gz`; the first row is a header as `header`
/// says, by default when none of its fields is a number) or `.npy` (2-D float64 or integer).
///
/// The header row's column names come with the values when the file has one.
///
/// # Errors
/// Unreadable file, empty file, ragged rows, a first row that is neither clearly a header nor
/// data, or a bad value, naming its line and column.
pub fn read_data(path: &Path, header: experiments::io::Header) -> anyhow::Result<(Option<Vec<String>>, DMatrix<f64>)> {
    let name = path.to_string_lossy();
    if name.ends_with(".npy") {
        return Ok((None, read_npy(path)?));
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(experiments::io::read_csv_named(file, name.ends_with(".gz"), &path.display().to_string(), header)?)
}

fn read_npy(path: &Path) -> anyhow::Result<DMatrix<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).with_context(|| format!("{} is not a valid .npy file", path.display()))?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 || shape[0] == 0 {
        bail!("{}: expected a non-empty 2-D array, got shape {shape:?}", path.display());
    }
    let (n, m) = (usize::try_from(shape[0]).unwrap_or(usize::MAX), usize::try_from(shape[1]).unwrap_or(usize::MAX));
    // The header's shape drives the allocation: checked before reading the data.
    super::memory::check(&format!("{}: the array of shape ({n}, {m})", path.display()), &[n, m, 2])?;
    let expected = n.checked_mul(m).and_then(|c| c.checked_mul(8));
    if expected.is_none_or(|e| e > bytes.len()) {
        bail!("{}: the header's shape ({n}, {m}) is larger than the file's data", path.display());
    }
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
