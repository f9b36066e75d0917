//! The fixed header and CRC trailer around the postcard body.

use super::{Generator, Hypernet, InrTensor, Metadata, MAX_FROZEN, MAX_TENSORS};
use crate::error::{Error, Result};
use crate::inr::InrConfig;
use crate::spec::ArchSpec;
use serde::Deserialize;

/// File magic.
pub const MAGIC: [u8; 4] = *b"MMHN";
/// Format version written: 2 (a generator kind in the body).
pub const VERSION: u16 = 2;
/// Oldest version read: 1 (INR files, whose body has no generator kind).
pub const OLDEST_VERSION: u16 = 1;
/// Bytes before the body: magic, version, reserved, body length.
pub const HEADER_LEN: usize = 12;
/// Bytes after the body: the CRC-32.
pub const TRAILER_LEN: usize = 4;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Decodes and validates a hypernet file without allocating. Every malformed input, whatever
/// its bytes, gives an [`Error`]; none panics.
pub fn read(bytes: &[u8]) -> Result<Hypernet<'_>> {
    let min = HEADER_LEN + TRAILER_LEN;
    if bytes.len() < min {
        return Err(Error::Truncated { needed: min, available: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(Error::BadMagic);
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion(version));
    }
    if bytes[6..8] != [0, 0] {
        return Err(Error::Invalid("reserved header bytes are not zero"));
    }
    let body_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let total = body_len.checked_add(min).ok_or(Error::Overflow)?;
    if bytes.len() < total {
        return Err(Error::Truncated { needed: total, available: bytes.len() });
    }
    if bytes.len() > total {
        return Err(Error::Invalid("trailing bytes after the checksum"));
    }
    let end = HEADER_LEN + body_len;
    let stored = u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
    let computed = CRC.checksum(&bytes[..end]);
    if stored != computed {
        return Err(Error::ChecksumMismatch { stored, computed });
    }
    let body = &bytes[HEADER_LEN..end];
    let (mut net, rest): (Hypernet<'_>, _) = match version {
        1 => postcard::take_from_bytes::<BodyV1<'_>>(body).map(|(v1, rest)| (v1.upgrade(), rest)),
        _ => postcard::take_from_bytes(body),
    }
    .map_err(|_| Error::Malformed)?;
    if !rest.is_empty() {
        return Err(Error::Malformed);
    }
    net.checksum = computed;
    net.validate()?;
    Ok(net)
}

/// Encodes `net` into `buf`, returning the used prefix (the whole file).
pub fn write<'b>(net: &Hypernet<'_>, buf: &'b mut [u8]) -> Result<&'b mut [u8]> {
    if buf.len() < HEADER_LEN + TRAILER_LEN {
        return Err(Error::BufferTooSmall { needed: HEADER_LEN + TRAILER_LEN, provided: buf.len() });
    }
    let avail = buf.len() - TRAILER_LEN;
    let body_len = postcard::to_slice(net, &mut buf[HEADER_LEN..avail]).map_err(|_| Error::Encode)?.len();
    let end = HEADER_LEN + body_len;
    buf[..4].copy_from_slice(&MAGIC);
    buf[4..6].copy_from_slice(&VERSION.to_le_bytes());
    buf[6..8].copy_from_slice(&[0, 0]);
    buf[8..12].copy_from_slice(&(body_len as u32).to_le_bytes());
    let crc = CRC.checksum(&buf[..end]);
    buf[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    Ok(&mut buf[..end + TRAILER_LEN])
}

/// The body of a version-1 file: an INR file, with the INR's configuration and tensors where
/// version 2 has its [`Generator`].
#[derive(Deserialize)]
struct BodyV1<'a> {
    arch: ArchSpec,
    inr: InrConfig,
    #[serde(borrow)]
    tensors: heapless::Vec<InrTensor<'a>, MAX_TENSORS>,
    #[serde(borrow)]
    frozen: heapless::Vec<&'a [u8], MAX_FROZEN>,
    #[serde(borrow)]
    meta: Metadata<'a>,
}

impl<'a> BodyV1<'a> {
    fn upgrade(self) -> Hypernet<'a> {
        let generator = Generator::Inr { config: self.inr, tensors: self.tensors };
        Hypernet { arch: self.arch, generator, frozen: self.frozen, meta: self.meta, checksum: 0 }
    }
}
