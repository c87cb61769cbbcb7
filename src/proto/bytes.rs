//! Big-endian field readers shared by the binary parsers.
//!
//! Each takes a slice of exactly the field's size, as produced by indexing with
//! a `field` range after `check_len`; a wrong-sized slice is a bug in the caller,
//! caught by `debug_assert!`, and reads as zero bytes beyond its end in release.

/// Reads a big-endian `u16` from a 2-byte field.
#[inline]
pub fn be_u16(b: &[u8]) -> u16 {
    debug_assert_eq!(b.len(), 2);
    let mut a = [0u8; 2];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u16::from_be_bytes(a)
}

/// Reads a big-endian 24-bit value from a 3-byte field.
#[inline]
pub fn be_u24(b: &[u8]) -> u32 {
    debug_assert_eq!(b.len(), 3);
    let mut a = [0u8; 4];
    for (d, s) in a[1..].iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_be_bytes(a)
}

/// Reads a big-endian `u32` from a 4-byte field.
#[inline]
pub fn be_u32(b: &[u8]) -> u32 {
    debug_assert_eq!(b.len(), 4);
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_be_bytes(a)
}

/// Reads a big-endian `u64` from an 8-byte field.
#[inline]
pub fn be_u64(b: &[u8]) -> u64 {
    debug_assert_eq!(b.len(), 8);
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian() {
        assert_eq!(be_u16(&[0x12, 0x34]), 0x1234);
        assert_eq!(be_u24(&[0x12, 0x34, 0x56]), 0x12_3456);
        assert_eq!(be_u32(&[0xde, 0xad, 0xbe, 0xef]), 0xdead_beef);
        assert_eq!(be_u64(&[0, 0, 0, 0, 0, 0, 1, 2]), 0x102);
    }
}
