//! The ranges of the count flags, checked by clap before anything is read. Zero would divide or
//! loop forever; a huge value would run for days or ask for more memory than exists (a batch of
//! 10¹² images once aborted `demo` in an allocation), so each count has a ceiling far above any
//! real use.

use clap::builder::RangedU64ValueParser;

/// Most images per inference call (`--batch`).
pub const MAX_BATCH: u64 = 65_536;
/// Most repetitions of a measurement (`bench --reps`).
pub const MAX_REPS: u64 = 10_000;
/// Most INR samples averaged per weight (`--samples`).
pub const MAX_SAMPLES: u64 = 1_024;

/// A count flag's parser: an integer in `1..=max`.
pub fn count<T: TryFrom<u64> + Clone + Send + Sync + 'static>(max: u64) -> RangedU64ValueParser<T> {
    RangedU64ValueParser::new().range(1..=max)
}
