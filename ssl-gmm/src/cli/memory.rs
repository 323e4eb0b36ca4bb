//! `--max-memory`: its parser, and the command-line side of gmm-core's one memory budget
//! ([`gmm_core::budget`]), which every size that drives a large allocation passes through
//! (pairs to sample or train on, a file's rows x columns and decompressed bytes, an .npy
//! header's shape, d x d matrices of a fit, the sweeps of a configuration file), with
//! overflow-safe arithmetic, before anything is allocated. The default is half of the memory
//! the kernel reports available.

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

/// Sets the process-wide budget of gmm-core (`None`: the default).
pub fn set(bytes: Option<u64>) {
    gmm_core::budget::set_memory_budget(bytes);
}

/// Checks that `count` values of 8 bytes (the product of `dims`, overflow-safe) fit the budget;
/// `what` names the allocation in the error.
pub fn check(what: &str, dims: &[usize]) -> anyhow::Result<()> {
    Ok(gmm_core::budget::check_memory(what, dims)?)
}
