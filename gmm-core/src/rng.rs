//! The project's seeded random number generator.
//!
//! `StdRng` is not reproducible across rand versions; the project fixes Xoshiro256++, so the
//! same seed gives the same numbers bit for bit on every machine and thread count.

use rand::SeedableRng;

/// The generator behind every `seed: u64` in the project.
pub type SeedRng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator from a 64-bit seed.
pub fn seeded(seed: u64) -> SeedRng {
    SeedRng::seed_from_u64(seed)
}

/// A hash of `bytes` that is the same on every machine, platform and Rust version (FNV-1a,
/// 64 bits): for deriving seeds from names and for fingerprints of configurations. Not a
/// cryptographic hash.
///
/// ```
/// assert_eq!(gmm_core::stable_hash(b""), 0xcbf2_9ce4_8422_2325);
/// assert_ne!(gmm_core::stable_hash(b"C4"), gmm_core::stable_hash(b"C5"));
/// ```
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
