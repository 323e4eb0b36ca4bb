//! Atomic file output and the CSV table reader (plain or gzip-compressed).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gmm_core::nalgebra::DMatrix;

use crate::error::{ExperimentError, Result};

/// Writes a file without destroying what `path` points at:
/// * a regular file (or a new path) is written atomically: the content goes to a temporary file
///   beside it, which is then renamed over it, so an interrupted run never leaves a half-written
///   file;
/// * a symbolic link is followed: its target is replaced atomically and the link is kept;
/// * a device or a FIFO (e.g. `/dev/null`, `/dev/stdout`) is written directly;
/// * a directory is an error.
///
/// `write` may fail with any error that an I/O error converts into.
///
/// # Errors
/// The file cannot be created, written or renamed, `path` is a directory, or `write` fails (the
/// temporary file is removed then).
pub fn write_atomic<E: From<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let context =
        |what: &str, p: &Path, e: std::io::Error| std::io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()));
    // Follow a chain of symbolic links (at most 40, as the kernel does) to the file it names.
    let mut resolved = path.to_path_buf();
    for _ in 0..=40 {
        match std::fs::symlink_metadata(&resolved) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let next = std::fs::read_link(&resolved).map_err(|e| context("cannot read the link", &resolved, e))?;
                resolved =
                    if next.is_absolute() { next } else { resolved.parent().unwrap_or(Path::new(".")).join(next) };
            }
            _ => break,
        }
    }
    let path = resolved.as_path();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            let e = std::io::Error::other("too many levels of symbolic links");
            return Err(context("cannot write to", path, e).into());
        }
        if meta.is_dir() {
            let e = std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory");
            return Err(context("cannot write to", path, e).into());
        }
        if !meta.is_file() {
            // A device or a FIFO: renaming over it would replace it by a file.
            let file =
                std::fs::OpenOptions::new().write(true).open(path).map_err(|e| context("cannot open", path, e))?;
            let mut w = BufWriter::new(file);
            write(&mut w)?;
            return Ok(w.flush()?);
        }
    }
    // A replaced file keeps its permissions (a 0600 file stays private).
    let keep = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.permissions());
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} is not a file path", path.display()))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let _registered = Temporary::register(&tmp);
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| context("cannot create", &tmp, e))?;
        if let Some(perm) = keep {
            file.set_permissions(perm).map_err(|e| context("cannot set the permissions of", &tmp, e))?;
        }
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(())
    })();
    match result {
        Ok(()) => Ok(std::fs::rename(&tmp, path).map_err(|e| context("cannot move the output into", path, e))?),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The temporaries of writes in progress, so that a signal handler can remove them
/// ([`remove_temporaries`]) before the process ends.
static TEMPORARIES: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A temporary registered for as long as it lives.
struct Temporary(PathBuf);

impl Temporary {
    fn register(path: &Path) -> Self {
        TEMPORARIES.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(path.to_path_buf());
        Self(path.to_path_buf())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        let mut list = TEMPORARIES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = list.iter().position(|p| *p == self.0) {
            list.swap_remove(i);
        }
    }
}

/// Removes the temporaries of every write in progress (for a handler of SIGINT or SIGTERM that
/// ends the process next: the outputs themselves are untouched, since a write replaces its
/// output only by renaming a finished temporary over it).
pub fn remove_temporaries() {
    let list = TEMPORARIES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for path in list.iter() {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether a CSV table starts with a header row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Header {
    /// Decide from the first non-blank row: a header when none of its fields is a number, data
    /// when all are; a row mixing numbers with text or empty fields is an error (it could be
    /// either, and guessing would drop a row of data or read text as data).
    #[default]
    Auto,
    /// The first non-blank row is a header.
    Present,
    /// Every row is data.
    Absent,
}

/// A field as shown in an error: at most 40 characters.
fn shown(field: &str) -> String {
    if field.chars().count() <= 40 {
        format!("{field:?}")
    } else {
        format!("{:?}...", field.chars().take(40).collect::<String>())
    }
}

/// Reads CSV (gzip-compressed when `gz`) from any reader: rows are samples, every field a finite
/// number; the first non-blank row is a header as `header` says; blank lines are skipped.
/// `name` labels error messages.
///
/// # Errors
/// [`ExperimentError::Data`] naming the line (and column) of an unreadable line, a bad value, a
/// ragged row, a first row that is neither clearly a header nor data (with `Header::Auto`), or an
/// empty table.
pub fn read_csv(reader: impl std::io::Read, gz: bool, name: &str, header: Header) -> Result<DMatrix<f64>> {
    Ok(read_csv_named(reader, gz, name, header)?.1)
}

/// As [`read_csv`], with the header row's column names when the file has one.
///
/// # Errors
/// As [`read_csv`]; also a header row whose width differs from the data's.
pub fn read_csv_named(
    reader: impl std::io::Read,
    gz: bool,
    name: &str,
    header: Header,
) -> Result<(Option<Vec<String>>, DMatrix<f64>)> {
    let limit = gmm_core::budget::memory_budget();
    let reader: Box<dyn std::io::Read> =
        if gz { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    // The text is budgeted as it is decompressed and read (a gzip bomb or an endless line stops
    // at the budget), and the values as they are stored (one flat vector).
    let reader = Budgeted { inner: reader, left: limit, name: name.to_string() };
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(reader);
    let mut values: Vec<f64> = Vec::new();
    let mut width = None;
    let mut first = true;
    let mut names: Option<Vec<String>> = None;
    let bad = |msg: String| ExperimentError::Data(format!("{name}: {msg}"));
    for (index, record) in csv.records().enumerate() {
        let line = index + 1;
        let record = record.map_err(|e| match e.kind() {
            csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::OutOfMemory => {
                ExperimentError::Data(io.to_string())
            }
            _ => bad(format!("cannot read line {line}: {e}")),
        })?;
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        let parsed: Vec<std::result::Result<f64, _>> = record.iter().map(|f| f.parse::<f64>()).collect();
        if std::mem::take(&mut first) {
            let numbers = parsed.iter().filter(|p| p.is_ok()).count();
            let is_header = match header {
                Header::Present => true,
                Header::Auto if numbers == 0 => true,
                Header::Auto if numbers < parsed.len() => {
                    let col = parsed.iter().position(|p| p.is_err()).unwrap_or(0);
                    return Err(bad(format!(
                        "line {line} mixes numbers with text or empty fields (column {}: {}), so it is neither clearly a header nor data: pass --header if it is a header row, --no-header if it is data",
                        col + 1,
                        shown(record.get(col).unwrap_or(""))
                    )));
                }
                _ => false,
            };
            if is_header {
                names = Some(record.iter().map(String::from).collect());
                continue;
            }
        }
        let row_start = values.len();
        for (col, (value, field)) in parsed.into_iter().zip(record.iter()).enumerate() {
            match value {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    return Err(bad(format!(
                        "line {line}, column {}: {} is not a finite number",
                        col + 1,
                        shown(field)
                    )));
                }
            }
        }
        let len = values.len() - row_start;
        match width {
            None => width = Some(len),
            Some(w) if w != len => {
                return Err(bad(format!("line {line} has {len} fields, the first data line has {w}")));
            }
            Some(_) => {}
        }
        // The values and the matrix they become: 16 bytes each.
        let bytes = (values.len() as u64).saturating_mul(16);
        if bytes > limit {
            let what = format!("{name}: the values read up to line {line}");
            return Err(gmm_core::budget::over_memory_budget(&what, &gmm_core::budget::human_bytes(bytes)).into());
        }
    }
    let w = width.ok_or_else(|| ExperimentError::Data(format!("{name} has no data rows")))?;
    if let Some(names) = names.as_ref().filter(|n| n.len() != w) {
        return Err(bad(format!("the header row has {} fields, the data rows {w}", names.len())));
    }
    let rows = values.len().checked_div(w).unwrap_or(0);
    Ok((names, DMatrix::from_row_slice(rows, w, &values)))
}

/// A reader that fails once more than `left` bytes have come through it: the budget on the
/// (decompressed) text of a data file.
struct Budgeted<R> {
    inner: R,
    left: u64,
    name: String,
}

impl<R: std::io::Read> std::io::Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => {
                let what = format!("the text of {} (decompressed)", self.name);
                let needed = format!("more than {}", gmm_core::budget::human_bytes(gmm_core::budget::memory_budget()));
                let e = gmm_core::budget::over_memory_budget(&what, &needed);
                Err(std::io::Error::new(std::io::ErrorKind::OutOfMemory, e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_header_blank_lines_and_errors() {
        let read = |text: &str, header| read_csv(text.as_bytes(), false, "t", header);
        let m = read("a,b\n1,2\n\n3,4\n", Header::Auto).unwrap();
        assert_eq!(m, DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]));
        // A numeric first row is data, never dropped.
        assert_eq!(read("1,2\n3,4\n", Header::Auto).unwrap().nrows(), 2);
        assert_eq!(read("1,2\n3,4\n", Header::Present).unwrap().nrows(), 1);
        // A first row mixing numbers with text or empty cells is neither: an error naming the way out.
        for text in ["178,13,class_0\n1,2,3\n", "1,,2\n1,2,3\n", "x,1\n1,2\n"] {
            let err = read(text, Header::Auto).unwrap_err().to_string();
            assert!(err.contains("--header") && err.contains("--no-header") && err.contains("line 1"), "{err}");
        }
        assert_eq!(read("x,1\n1,2\n", Header::Present).unwrap().nrows(), 1);
        assert!(read("x,1\n1,2\n", Header::Absent).unwrap_err().to_string().contains("line 1, column 1"));
        let err = read("1,2\n3,x\n", Header::Auto).unwrap_err().to_string();
        assert!(err.contains("line 2, column 2"), "{err}");
        let long = format!("1,2\n3,{}\n", "y".repeat(10_000));
        assert!(read(&long, Header::Auto).unwrap_err().to_string().len() < 200, "errors are cut to a readable length");
        assert!(read("1,2\n3\n", Header::Auto).is_err());
        assert!(read("", Header::Auto).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_devices_written_and_directories_refused() {
        use std::os::unix::fs::FileTypeExt;
        let dir = std::env::temp_dir().join(format!("experiments-io-links-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (target, link) = (dir.join("target.txt"), dir.join("link.txt"));
        std::fs::write(&target, "old").unwrap();
        std::os::unix::fs::symlink("target.txt", &link).unwrap();
        write_atomic::<std::io::Error>(&link, |w| w.write_all(b"new")).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is kept");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new", "its target is replaced");
        write_atomic::<std::io::Error>(Path::new("/dev/null"), |w| w.write_all(b"gone")).unwrap();
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null stays a device");
        assert!(write_atomic::<std::io::Error>(&dir, |w| w.write_all(b"x")).is_err());
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", &b).unwrap();
        assert!(write_atomic::<std::io::Error>(&a, |w| w.write_all(b"x")).is_err(), "a loop of links is an error");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_leaves_nothing_on_failure() {
        let dir = std::env::temp_dir().join(format!("experiments-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.txt");
        write_atomic::<std::io::Error>(&path, |w| w.write_all(b"ok")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ok");
        let failed = write_atomic::<std::io::Error>(&path, |_| Err(std::io::Error::other("boom")));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ok", "the old file is intact");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
