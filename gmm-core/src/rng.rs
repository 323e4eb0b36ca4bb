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
