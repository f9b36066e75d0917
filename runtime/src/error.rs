//! The runtime core's single error type: no allocation, grouped by phase.

use core::fmt;

/// Everything that can go wrong in the `no_std` core, grouped by phase
/// (decode, spec, plan, materialise, execute) and, last, the caller's own mistakes. Carries only `Copy` data so it never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- decode ---
    /// The input ended before a complete hypernet file was read.
    Truncated {
        /// Bytes the header says the file needs.
        needed: usize,
        /// Bytes actually available.
        available: usize,
    },
    /// The first four bytes are not the hypernet magic `MMHN`.
    BadMagic,
    /// The file's format version is not one this reader understands.
    UnsupportedVersion(u16),
    /// The CRC-32 stored in the file does not match its contents.
    ChecksumMismatch {
        /// CRC-32 stored in the trailer.
        stored: u32,
        /// CRC-32 computed over the file.
        computed: u32,
    },
    /// The body could not be decoded (postcard), or bytes were left over after it.
    Malformed,
    /// The file's body decoded but is internally inconsistent; the string names the field. Means a
    /// bad file only: caller mistakes are [`Error::BadArgument`].
    Invalid(&'static str),
    // --- spec ---
    /// The architecture spec cannot be built at this width (the string says why).
    BadSpec(&'static str),
    /// A size computation overflowed `usize`.
    Overflow,
    // --- plan ---
    /// No width in the family's range fits the budget.
    NothingFits,
    /// The width is outside `(0, 1]` or the family's trained range.
    BadWidth,
    // --- materialise / execute ---
    /// A caller buffer is too small.
    BufferTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements provided.
        provided: usize,
    },
    /// An input or parameter has the wrong number of elements.
    ShapeMismatch {
        /// Elements expected.
        expected: usize,
        /// Elements found.
        found: usize,
    },
    /// A value is NaN or infinite where a finite number is required.
    NonFinite,
    /// A buffer could not be written (encoding into a caller slice failed).
    Encode,
    // --- caller ---
    /// An argument passed by the caller is out of range or does not belong to this network (the
    /// string names it). The file itself is fine.
    BadArgument(&'static str),
}

/// Result alias of the runtime core.
pub type Result<T> = core::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { needed, available } => {
                write!(f, "hypernet truncated: need {needed} bytes, have {available}")
            }
            Error::BadMagic => f.write_str("not a hypernet file (bad magic, expected \"MMHN\")"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported hypernet format version {v}"),
            Error::ChecksumMismatch { stored, computed } => {
                write!(f, "hypernet corrupted: CRC-32 stored {stored:#010x}, computed {computed:#010x}")
            }
            Error::Malformed => f.write_str("hypernet body is malformed"),
            Error::Invalid(what) => write!(f, "hypernet is inconsistent: {what}"),
            Error::BadSpec(what) => write!(f, "invalid architecture spec: {what}"),
            Error::Overflow => f.write_str("size computation overflowed"),
            Error::NothingFits => f.write_str("no width of this family fits the budget"),
            Error::BadWidth => f.write_str("width outside the family's range"),
            Error::BufferTooSmall { needed, provided } => {
                write!(f, "buffer too small: need {needed} elements, got {provided}")
            }
            Error::ShapeMismatch { expected, found } => {
                write!(f, "shape mismatch: expected {expected} elements, found {found}")
            }
            Error::NonFinite => f.write_str("non-finite value (NaN or infinity)"),
            Error::Encode => f.write_str("could not encode into the output buffer"),
            Error::BadArgument(what) => write!(f, "bad argument: {what}"),
        }
    }
}

impl core::error::Error for Error {}
