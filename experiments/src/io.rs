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
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} is not a file path", path.display()))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| context("cannot create", &tmp, e))?;
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

/// Reads CSV (gzip-compressed when `gz`) from any reader: rows are samples, every field a finite
/// number; a first row with a field that is not a number is a header and skipped; blank lines
/// are skipped. `name` labels error messages.
///
/// # Errors
/// [`ExperimentError::Data`] naming the line (and column) of an unreadable line, a bad value or
/// a ragged row, or an empty table.
pub fn read_csv(reader: impl std::io::Read, gz: bool, name: &str) -> Result<DMatrix<f64>> {
    let reader: Box<dyn std::io::Read> =
        if gz { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(reader);
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut width = None;
    let bad = |msg: String| ExperimentError::Data(format!("{name}: {msg}"));
    for (index, record) in csv.records().enumerate() {
        let line = index + 1;
        let record = record.map_err(|e| bad(format!("cannot read line {line}: {e}")))?;
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        let parsed: Vec<std::result::Result<f64, _>> = record.iter().map(|f| f.parse::<f64>()).collect();
        if index == 0 && parsed.iter().any(|p| p.is_err()) {
            continue; // a header row
        }
        let mut row = Vec::with_capacity(parsed.len());
        for (col, (value, field)) in parsed.into_iter().zip(record.iter()).enumerate() {
            match value {
                Ok(v) if v.is_finite() => row.push(v),
                _ => return Err(bad(format!("line {line}, column {}: {field:?} is not a finite number", col + 1))),
            }
        }
        match width {
            None => width = Some(row.len()),
            Some(w) if w != row.len() => {
                return Err(bad(format!("line {line} has {} fields, the first data line has {w}", row.len())));
            }
            Some(_) => {}
        }
        rows.push(row);
    }
    let w = width.ok_or_else(|| ExperimentError::Data(format!("{name} has no data rows")))?;
    Ok(DMatrix::from_fn(rows.len(), w, |i, j| rows[i][j]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_header_blank_lines_and_errors() {
        let m = read_csv("a,b\n1,2\n\n3,4\n".as_bytes(), false, "t").unwrap();
        assert_eq!(m, DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]));
        let err = read_csv("1,2\n3,x\n".as_bytes(), false, "t").unwrap_err().to_string();
        assert!(err.contains("line 2, column 2"), "{err}");
        assert!(read_csv("1,2\n3\n".as_bytes(), false, "t").is_err());
        assert!(read_csv("".as_bytes(), false, "t").is_err());
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
