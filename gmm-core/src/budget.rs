//! The budgets every caller shares: the memory that one allocation-driving size may ask for, and
//! the work (optimisation steps, jobs) one run may ask for. Sizes from any source (command-line
//! flags, configuration files, data-file headers, Python arguments) pass through
//! [`check_memory`] before anything is allocated, with overflow-safe arithmetic, so that a size
//! too large for the machine is a typed error ([`GmmError::OverBudget`]) instead of an abort of
//! the process; counts of work pass through [`check_work`], so that a run that would last for
//! centuries is refused at once instead of hanging.
//!
//! The memory budget is process-wide: half of the memory the kernel reports available
//! (`MemAvailable` in /proc/meminfo) unless [`set_memory_budget`] sets it (the CLI's
//! `--max-memory`, Python's `ssl_gmm.set_max_memory`); 4 GiB where the kernel's figure cannot
//! be read.
//!
//! ```
//! use gmm_core::budget::{check_memory, check_work, MAX_STEPS};
//!
//! assert!(check_memory("a sample of 1000 x 10", &[1000, 10]).is_ok());
//! let err = check_memory("a sample of 10^12 x 10", &[1_000_000_000_000, 10]).unwrap_err();
//! assert!(err.to_string().contains("above the memory budget"));
//! assert!(check_work("training steps", 1000, MAX_STEPS).is_ok());
//! assert!(check_work("training steps", 1 << 50, MAX_STEPS).is_err());
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{GmmError, Result};

/// Bytes of the memory budget; 0 until set or first read.
static MEMORY: AtomicU64 = AtomicU64::new(0);

/// The largest number of optimisation steps (or solver iterations) one run may ask for: 10^8
/// steps are days of the smallest problems on one core, so a larger count is a typo, not a plan.
pub const MAX_STEPS: u64 = 100_000_000;

/// The largest number of jobs (settings x seeds) one run of the experiments may ask for.
pub const MAX_JOBS: u64 = 1_000_000;

fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The default budget: half of the available memory, or 4 GiB where that cannot be read.
pub fn default_memory_budget() -> u64 {
    available().map_or(4 << 30, |a| (a / 2).max(1))
}

/// Sets the memory budget in bytes (`None`: the default). May be called again.
pub fn set_memory_budget(bytes: Option<u64>) {
    MEMORY.store(bytes.unwrap_or_else(default_memory_budget).max(1), Ordering::Relaxed);
}

/// The memory budget in bytes.
pub fn memory_budget() -> u64 {
    match MEMORY.load(Ordering::Relaxed) {
        0 => {
            let b = default_memory_budget();
            // Another thread may have set it meanwhile: keep theirs.
            let _ = MEMORY.compare_exchange(0, b, Ordering::Relaxed, Ordering::Relaxed);
            MEMORY.load(Ordering::Relaxed)
        }
        b => b,
    }
}

/// Checks that `count` values of 8 bytes (the product of `dims`, overflow-safe) fit the memory
/// budget; `what` names the allocation in the error.
///
/// # Errors
/// [`GmmError::OverBudget`] when the product overflows or exceeds the budget.
pub fn check_memory(what: &str, dims: &[usize]) -> Result<()> {
    check_bytes(what, dims.iter().try_fold(8u64, |acc, &d| acc.checked_mul(d as u64)))
}

/// Checks a number of bytes (`None`: it overflowed 64 bits) against the memory budget.
///
/// # Errors
/// [`GmmError::OverBudget`] when `bytes` is `None` or exceeds the budget.
pub fn check_bytes(what: &str, bytes: Option<u64>) -> Result<()> {
    match bytes {
        Some(b) if b <= memory_budget() => Ok(()),
        needed => Err(over_memory_budget(
            what,
            &needed.map_or_else(|| "more than 16 EiB (the size overflows 64 bits)".to_string(), human_bytes),
        )),
    }
}

/// The error of `what`, which needs `needed` (written out), above the memory budget.
pub fn over_memory_budget(what: &str, needed: &str) -> GmmError {
    GmmError::OverBudget {
        what: what.to_string(),
        needed: needed.to_string(),
        limit: human_bytes(memory_budget()),
        resource: "memory budget",
        fix: "use smaller sizes, or raise the budget (--max-memory, or ssl_gmm.set_max_memory in Python)",
    }
}

/// Checks a count of work (steps, iterations, jobs) against `limit`.
///
/// # Errors
/// [`GmmError::OverBudget`] when `count > limit`.
pub fn check_work(what: &str, count: u64, limit: u64) -> Result<()> {
    if count <= limit {
        return Ok(());
    }
    Err(GmmError::OverBudget {
        what: what.to_string(),
        needed: count.to_string(),
        limit: limit.to_string(),
        resource: "work bound",
        fix: "a run that large would not end in reasonable time; use a smaller count",
    })
}

/// `bytes` in the largest binary unit that keeps a number of at least 1.
pub fn human_bytes(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", units[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_and_excess_are_refused_and_small_sizes_pass() {
        assert!(check_memory("small", &[10, 10]).is_ok());
        let e = check_memory("huge", &[usize::MAX, 3]).unwrap_err();
        assert!(e.to_string().contains("more than 16 EiB"), "{e}");
        assert!(matches!(check_bytes("x", Some(u64::MAX)), Err(GmmError::OverBudget { .. })));
        assert!(check_work("steps", MAX_STEPS, MAX_STEPS).is_ok());
        assert!(check_work("steps", MAX_STEPS + 1, MAX_STEPS).is_err());
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
