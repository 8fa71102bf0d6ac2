//! The project's hash functions, each for its job (nothing else in the code hashes):
//! - [`fnv1a`]: byte-at-a-time FNV-1a 64, stable across releases and platforms: the checksum of
//!   the saved files (their format depends on it);
//! - [`fnv1a32`]: its 32-bit variant, the tag of an index name cut to 63 bytes (names the advisor
//!   proposed stay the same from one release to the next);
//! - [`hash64`]: a word-at-a-time multiply-rotate hash with a finaliser, fast on a few dozen bytes:
//!   predicate signatures (stored, so they must spread well);
//! - [`fold64`]: the same word loop without the finaliser, for the stores' backend-local cache
//!   slots (on the hot path several times per statement; a slot collision only costs a lookup).

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// 32-bit FNV-1a.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// A fast 64-bit hash of a few dozen bytes (word-at-a-time multiply-rotate, then a finaliser).
pub fn hash64(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x243F_6A88_85A3_08D3 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}


/// [`hash64`]'s word loop alone: the cheapest mix of a key's 8-byte words (the stores' cache
/// slots). Trailing bytes beyond a multiple of 8 are ignored: keys are whole words.
#[inline]
pub fn fold64(bytes: &[u8]) -> u64 {
    let h = bytes
        .chunks_exact(8)
        .fold(0u64, |h, c| (h ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29));
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn fold64_tells_words_apart() {
        assert_ne!(fold64(&[1u8; 24]), fold64(&[2u8; 24]));
        assert_ne!(fold64(&[[0u8; 8], [1u8; 8]].concat()), fold64(&[[1u8; 8], [0u8; 8]].concat()));
    }

    #[test]
    fn hash64_tells_lengths_and_words_apart() {
        assert_ne!(hash64(b""), hash64(&[0]));
        assert_ne!(hash64(&[0u8; 8]), hash64(&[0u8; 16]));
        assert_ne!(hash64(&1u64.to_le_bytes()), hash64(&2u64.to_le_bytes()));
    }
}
