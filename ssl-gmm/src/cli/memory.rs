//! The memory budget: every size that drives a large allocation (pairs to sample or train on,
//! a file's rows x columns, an .npy header's shape, d x d matrices of a fit) is checked against
//! it, with overflow-safe arithmetic, before anything is allocated.
//!
//! The default is half of the memory the kernel reports available (`MemAvailable` in
//! /proc/meminfo), or 4 GiB where that cannot be read; `--max-memory` sets it (e.g. `512M`,
//! `8G`, or bytes).

use std::sync::OnceLock;

use anyhow::bail;

static BUDGET: OnceLock<u64> = OnceLock::new();

/// Parses `--max-memory`: a number of bytes with an optional `K`, `M`, `G` or `T` suffix
/// (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("a size such as 512M, 8G or 1073741824, got '{s}'")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("a size such as 512M, 8G or 1073741824, got '{s}'"))?;
    n.checked_mul(1u64 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("a size between 1 byte and 16 EiB, got '{s}'"))
}

fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Half of the available memory, or 4 GiB where that cannot be read.
fn default_budget() -> u64 {
    available().map_or(4 << 30, |a| a / 2)
}

/// Sets the budget (`None`: the default). Call once, before any check.
pub fn set(bytes: Option<u64>) {
    let _ = BUDGET.set(bytes.unwrap_or_else(default_budget));
}

fn budget() -> u64 {
    *BUDGET.get_or_init(default_budget)
}

/// Checks that `count` values of 8 bytes (the product of `dims`, overflow-safe) fit the budget;
/// `what` names the allocation in the error.
pub fn check(what: &str, dims: &[usize]) -> anyhow::Result<()> {
    let bytes = dims.iter().try_fold(8u64, |acc, &d| acc.checked_mul(d as u64));
    let limit = budget();
    match bytes {
        Some(b) if b <= limit => Ok(()),
        Some(b) => bail!(
            "{what} needs {}, above the memory budget of {}; use smaller sizes, or raise the budget with --max-memory",
            human(b),
            human(limit)
        ),
        None => bail!("{what}: the size {dims:?} overflows 64 bits; use smaller sizes"),
    }
}

/// `bytes` in the largest binary unit that keeps a number of at least 1.
fn human(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", units[unit]) }
}
