//! [`Key256`], the zeroizing 256-bit key type, and the random number source.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Length of a [`Key256`] in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// Length of a [`Key256`] in padded standard base64.
const BASE64_LEN: usize = 44;

/// A 256-bit symmetric key.
///
/// The bytes live on the heap (so moves do not leave copies on the stack) and are zeroed on drop.
/// `Debug` prints `Key256([redacted])`; equality is constant-time.
#[derive(Clone)]
pub struct Key256(Box<Zeroizing<[u8; KEY_LEN]>>);

impl Key256 {
    /// A fresh key from the system random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        fill_random(&mut bytes[..])?;
        Ok(Self(bytes))
    }

    /// A key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::InvalidKey(format!(
                "expected {KEY_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        let mut key = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A key from standard base64 (with padding, surrounding whitespace ignored) of exactly 32
    /// bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        Self::from_base64_bytes(text.as_bytes())
    }

    pub(crate) fn from_base64_bytes(text: &[u8]) -> Result<Self, CryptoError> {
        let text = text.trim_ascii();
        // Decoded output is never longer than the input, so this buffer never reallocates and
        // leaves no stray copy of the key behind.
        let mut decoded = Zeroizing::new(Vec::with_capacity(text.len()));
        // The decoder's error names the offending character, which is part of the key: drop it.
        if STANDARD.decode_vec(text, &mut decoded).is_err() {
            return Err(CryptoError::InvalidKey(
                "not valid standard base64 (expected 44 characters encoding 32 bytes)".into(),
            ));
        }
        if decoded.len() != KEY_LEN {
            return Err(CryptoError::InvalidKey(format!(
                "base64 decodes to {} bytes, expected {KEY_LEN}",
                decoded.len()
            )));
        }
        Self::from_bytes(&decoded)
    }

    /// The key as standard base64 with padding (44 characters), in a zeroizing string.
    pub fn to_base64(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(BASE64_LEN));
        STANDARD.encode_string(self.as_bytes(), &mut out);
        out
    }
}

impl PartialEq for Key256 {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.as_bytes(), other.as_bytes())
    }
}

impl Eq for Key256 {}

impl fmt::Debug for Key256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key256([redacted])")
    }
}

impl zeroize::ZeroizeOnDrop for Key256 {}

/// Constant-time equality of two byte strings (the length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Fills `out` from the system random number generator.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(out).map_err(|_| CryptoError::Rng)
}

/// `n` bytes from the system random number generator.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; n];
    fill_random(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_gives_distinct_keys() {
        let a = Key256::generate().unwrap();
        let b = Key256::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a, a.clone());
    }

    #[test]
    fn from_bytes_requires_exactly_32() {
        for len in [0, 1, 16, 31, 33, 64] {
            let err = Key256::from_bytes(&vec![7u8; len]).unwrap_err();
            assert!(matches!(err, CryptoError::InvalidKey(_)), "{len}");
        }
        let key = Key256::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(key.as_bytes(), &[7u8; 32]);
    }

    #[test]
    fn base64_round_trip() {
        let key = Key256::generate().unwrap();
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        assert_eq!(Key256::from_base64(&text).unwrap(), key);
        assert_eq!(Key256::from_base64(&format!("  {}\r\n", *text)).unwrap(), key);
    }

    #[test]
    fn bad_base64_is_rejected_without_echoing_input() {
        let secretish = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAA=";
        for text in [
            "",
            "not base64!",
            secretish,
            "AAAA",                                             // 3 bytes
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // 36 bytes
        ] {
            let err = Key256::from_base64(text).unwrap_err();
            assert!(matches!(err, CryptoError::InvalidKey(_)), "{text}");
            let msg = err.to_string();
            assert!(!msg.contains("AAAA"), "{msg}");
            assert!(!msg.contains('-'), "{msg}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = Key256::from_bytes(&[0xAB; 32]).unwrap();
        let dbg = format!("{key:?}");
        assert_eq!(dbg, "Key256([redacted])");
        assert!(!dbg.to_lowercase().contains("ab"));
        assert_eq!(format!("{key:#?}"), "Key256([redacted])");
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn random_bytes_lengths() {
        assert!(random_bytes(0).unwrap().is_empty());
        assert_eq!(random_bytes(1024).unwrap().len(), 1024);
        assert_ne!(random_bytes(32).unwrap(), random_bytes(32).unwrap());
    }
}
