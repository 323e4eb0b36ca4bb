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
    /// A device or FIFO without one of the two extensions (`/dev/null`, `/dev/stdout`) gets CSV,
    /// and so does `-`, standard output.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if path == Path::new("-") {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            self.write_csv(&mut out)?;
            return Ok(std::io::Write::flush(&mut out)?);
        }
        let device = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
        let format = match path.extension().and_then(|e| e.to_str()) {
            None if device => "csv",
            Some(e) => e,
            None => "",
        };
        match format {
            "csv" => write_atomic(path, |w| self.write_csv(w)),
            "npy" => write_atomic(path, |w| {
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
            _ => bail!(
                "output file {} must end in .csv or .npy (or be - for standard output, or a device such as /dev/null)",
                path.display()
            ),
        }
    }

    fn write_csv(&self, w: &mut impl std::io::Write) -> anyhow::Result<()> {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(&self.header)?;
        for row in self.rows.row_iter() {
            csv.write_record(row.iter().map(|v| format_number(*v)))?;
        }
        csv.flush()?;
        Ok(())
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
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        let e = std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory");
        return Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display())));
    }
    if name.ends_with(".npy") {
        return Ok((None, read_npy(path)?));
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(experiments::io::read_csv_named(file, name.ends_with(".gz"), &path.display().to_string(), header)?)
}

fn read_npy(path: &Path) -> anyhow::Result<DMatrix<f64>> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {shown}"))?;
    let file_len = file.metadata().with_context(|| format!("cannot read {shown}"))?.len();
    // The header alone is read first: its shape and dtype are checked before any data is.
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{shown} is not a valid .npy file: {e}"))
        .map_err(as_bad_data)?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        bail!("{shown}: expected a non-empty 2-D array, got shape {shape:?}");
    }
    let dtype = npy.dtype();
    let is_float = match &dtype {
        npyz::DType::Plain(t) if t.num_bytes() == Some(8) && t.type_char() == npyz::TypeChar::Float => true,
        npyz::DType::Plain(t) if t.num_bytes() == Some(8) && t.type_char() == npyz::TypeChar::Int => false,
        _ => bail!("{shown}: dtype must be float64 or int64, got {}", dtype.descr()),
    };
    let (n, m) = (usize::try_from(shape[0]).unwrap_or(usize::MAX), usize::try_from(shape[1]).unwrap_or(usize::MAX));
    // The header's shape drives the allocation: checked before reading the data.
    super::memory::check(&format!("{shown}: the array of shape ({n}, {m})"), &[n, m, 2])?;
    let expected = n.checked_mul(m).and_then(|c| c.checked_mul(8)).map(|e| e as u64);
    if expected.is_none_or(|e| e > file_len) {
        bail!("{shown}: the header's shape ({n}, {m}) needs more data than the file holds ({file_len} bytes in all)");
    }
    let fortran = npy.order() == npyz::Order::Fortran;
    let truncated = || format!("{shown}: the data ends before the header's shape ({n}, {m}) is filled");
    let data: Vec<f64> = if is_float {
        npy.into_vec::<f64>().with_context(truncated).map_err(as_bad_data)?
    } else {
        npy.into_vec::<i64>().with_context(truncated).map_err(as_bad_data)?.into_iter().map(|v| v as f64).collect()
    };
    let values = if fortran { DMatrix::from_column_slice(n, m, &data) } else { DMatrix::from_row_slice(n, m, &data) };
    if let Some(p) = values.iter().position(|v| !v.is_finite()) {
        bail!("{shown}: non-finite value at row {}, column {}", p % n + 1, p / n + 1);
    }
    Ok(values)
}

/// A malformed file's error as bad data (exit 3, as a malformed CSV), not as an I/O failure: the
/// reader's `std::io::Error` is kept as text only.
fn as_bad_data(e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:#}")
}

/// Reads a small text file (a JSON configuration): at most a quarter of the memory budget's
/// bytes (parsing JSON numbers into values takes a few times the text), so that `/dev/zero` or
/// a huge file is refused instead of read without end.
pub fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {shown}"))?;
    let limit = gmm_core::budget::memory_budget() / 4;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).with_context(|| format!("cannot read {shown}"))?;
    if bytes.len() as u64 > limit {
        let needed = format!("more than {}", gmm_core::budget::human_bytes(limit));
        return Err(gmm_core::budget::over_memory_budget(&format!("the {what} file {shown}"), &needed).into());
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{shown}: the {what} file is not UTF-8 text"))
}
