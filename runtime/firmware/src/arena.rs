//! The one static arena that holds weights, activations and INR scratch, handed out front to back,
//! and its high-water mark measured two ways: what was handed out, and what was actually written.

use metamorph::Error;

/// Bit pattern the arena is painted with before a step; a word that no longer holds it was written.
const PAINT: u32 = 0xA5A5_A5A5;

/// Hands out consecutive slices from the front of an arena.
pub struct Bump<'a> {
    rest: &'a mut [f32],
    used: usize,
}

impl<'a> Bump<'a> {
    /// Paints `arena` with [`PAINT`] and starts handing it out from the front.
    pub fn painted(arena: &'a mut [f32]) -> Self {
        arena.fill(f32::from_bits(PAINT));
        Bump { rest: arena, used: 0 }
    }

    /// The next `len` `f32`s; errors when the arena is exhausted.
    pub fn take(&mut self, len: usize) -> Result<&'a mut [f32], Error> {
        if len > self.rest.len() {
            return Err(Error::BufferTooSmall { needed: self.used + len, provided: self.used + self.rest.len() });
        }
        let (part, rest) = core::mem::take(&mut self.rest).split_at_mut(len);
        self.rest = rest;
        self.used += len;
        Ok(part)
    }

    /// Bytes handed out so far.
    pub fn reserved_bytes(&self) -> usize {
        self.used * 4
    }
}

/// Bytes from the start of `arena` to its last word that no longer holds [`PAINT`].
pub fn touched_bytes(arena: &[f32]) -> usize {
    arena.iter().rposition(|v| v.to_bits() != PAINT).map_or(0, |i| (i + 1) * 4)
}
