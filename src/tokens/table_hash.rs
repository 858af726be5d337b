//! The hash of the static vocabulary tables. `build.rs` includes this file too, so the
//! tables it lays out and the lookups at run time can never disagree.

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// FxHash-style over little-endian 8-byte words, then a final mix so both the high bits
/// (slot index) and the low byte (fingerprint) depend on every input byte.
#[inline]
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(a)).wrapping_mul(K).rotate_left(26);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut a = [0u8; 8];
        a[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(a)).wrapping_mul(K).rotate_left(26);
    }
    h = (h ^ (h >> 32)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// Maps a hash onto `0..n` with its high bits (Lemire's multiply-shift).
#[inline]
pub fn slot_of(h: u64, n: usize) -> usize {
    ((h as u128 * n as u128) >> 64) as usize
}

/// A slot packs: bits 0..24 offset of the token's bytes, 24..32 their length, 32..56 the
/// rank + 1 (0 marks an empty slot), 56..64 a fingerprint from the hash's low byte.
pub const OFFSET_BITS: u32 = 24;
#[allow(dead_code)] // build.rs checks token lengths against it
pub const MAX_LEN: usize = 255;
