//! Versioned AES-256-GCM envelopes: [`seal`] and [`open`].
//!
//! Layout of a sealed value:
//!
//! ```text
//! version (1 byte, 0x01) | nonce (12 bytes, random) | ciphertext | tag (16 bytes)
//! ```
//!
//! The version byte is part of the AEAD associated data, ahead of the caller's associated data,
//! so it cannot be changed without failing authentication. Nonces are random: each key used with
//! [`seal`] must stay well below 2^32 messages, which holds for per-secret-version data keys and
//! for the root key.
//!
//! The framing helpers here are shared with [`crate::blob`], whose header takes the place of the
//! version byte.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::{Zeroize, Zeroizing};

use crate::CryptoError;
use crate::key::{Key256, fill_random};

/// The format version byte at the start of every value produced by [`seal`].
pub const SEAL_VERSION: u8 = 0x01;

/// Length of the AES-GCM authentication tag.
pub(crate) const TAG_LEN: usize = 16;

/// Bytes a sealed value adds around `header`: nonce and tag.
pub(crate) const FRAME_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Seals `plaintext` under `key`. `aad` is bound to the result and must be given again to
/// [`open`]; it is not stored. For associated data made of several fields, [`encode_aad`] gives
/// an unambiguous encoding.
pub fn seal(key: &Key256, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    seal_framed(key, &[SEAL_VERSION], plaintext, aad)
}

/// Opens a value produced by [`seal`] with the same key and associated data.
///
/// Any mismatch (other key, other `aad`, unknown version, truncation, tampering) is
/// [`CryptoError::InvalidCiphertext`].
pub fn open(key: &Key256, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.first() != Some(&SEAL_VERSION) {
        return Err(CryptoError::InvalidCiphertext);
    }
    open_framed(key, sealed, 1, aad)
}

/// Encodes several fields as associated data without ambiguity: each part is preceded by its
/// length as a u64 big-endian, so `["ab", "c"]` and `["a", "bc"]` differ.
pub fn encode_aad(parts: &[&[u8]]) -> Vec<u8> {
    let total = parts
        .iter()
        .map(|p| p.len().saturating_add(8))
        .fold(0usize, usize::saturating_add);
    let mut out = Vec::with_capacity(total);
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn aead_key(key: &Key256) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, key.as_bytes())
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::InvalidKey("not usable as an AES-256-GCM key".into()))
}

fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().saturating_add(b.len()));
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// Produces `header | nonce | ciphertext | tag`, authenticating `header || aad_tail`.
pub(crate) fn seal_framed(
    key: &Key256,
    header: &[u8],
    plaintext: &[u8],
    aad_tail: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let aead = aead_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;

    let body_start = header.len().checked_add(NONCE_LEN).ok_or(CryptoError::TooLarge)?;
    let capacity = body_start
        .checked_add(plaintext.len())
        .and_then(|n| n.checked_add(TAG_LEN))
        .ok_or(CryptoError::TooLarge)?;
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);

    let aad = concat(header, aad_tail);
    let sealed = match out.get_mut(body_start..) {
        Some(body) => {
            aead.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), body)
        }
        None => Err(ring::error::Unspecified),
    };
    match sealed {
        Ok(tag) => {
            out.extend_from_slice(tag.as_ref());
            Ok(out)
        }
        Err(_) => {
            // ring refuses only inputs beyond the AES-GCM limit; do not leave plaintext behind.
            out.zeroize();
            Err(CryptoError::TooLarge)
        }
    }
}

/// Opens `header | nonce | ciphertext | tag` where the header is the first `header_len` bytes,
/// authenticating `header || aad_tail`.
pub(crate) fn open_framed(
    key: &Key256,
    sealed: &[u8],
    header_len: usize,
    aad_tail: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (header, rest) = sealed
        .split_at_checked(header_len)
        .ok_or(CryptoError::InvalidCiphertext)?;
    let (nonce, ciphertext_and_tag) = rest
        .split_at_checked(NONCE_LEN)
        .ok_or(CryptoError::InvalidCiphertext)?;
    if ciphertext_and_tag.len() < TAG_LEN {
        return Err(CryptoError::InvalidCiphertext);
    }
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::InvalidCiphertext)?;
    let aead = aead_key(key)?;
    let aad = concat(header, aad_tail);

    let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
    let plaintext_len = aead
        .open_in_place(nonce, Aad::from(&aad), &mut buf)
        .map_err(|_| CryptoError::InvalidCiphertext)?
        .len();
    // The tag bytes left past the plaintext are zeroed with the rest of the buffer on drop.
    buf.truncate(plaintext_len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> Key256 {
        Key256::generate().unwrap()
    }

    #[test]
    fn round_trip_various_sizes() {
        let k = key();
        for len in [0usize, 1, 15, 16, 17, 100, 4096, 65536] {
            let pt: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = seal(&k, &pt, b"aad").unwrap();
            assert_eq!(sealed.len(), 1 + 12 + len + 16);
            assert_eq!(sealed[0], SEAL_VERSION);
            assert_eq!(&open(&k, &sealed, b"aad").unwrap()[..], &pt[..]);
        }
    }

    #[test]
    fn nonces_are_fresh() {
        let k = key();
        let a = seal(&k, b"same", b"").unwrap();
        let b = seal(&k, b"same", b"").unwrap();
        assert_ne!(a, b);
        assert_ne!(a[1..13], b[1..13]);
    }

    #[test]
    fn ciphertext_does_not_contain_plaintext() {
        let k = key();
        let pt = b"correct horse battery staple";
        let sealed = seal(&k, pt, b"").unwrap();
        assert!(!sealed.windows(pt.len()).any(|w| w == pt));
    }

    #[test]
    fn tampering_any_byte_fails() {
        let k = key();
        let sealed = seal(&k, b"hello world", b"ctx").unwrap();
        for i in 0..sealed.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = sealed.clone();
                bad[i] ^= flip;
                assert!(
                    matches!(open(&k, &bad, b"ctx"), Err(CryptoError::InvalidCiphertext)),
                    "byte {i} flip {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn truncation_at_every_length_fails() {
        let k = key();
        let sealed = seal(&k, b"hello world", b"ctx").unwrap();
        for len in 0..sealed.len() {
            assert!(
                matches!(
                    open(&k, &sealed[..len], b"ctx"),
                    Err(CryptoError::InvalidCiphertext)
                ),
                "len {len}"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(open(&k, &longer, b"ctx").is_err());
    }

    #[test]
    fn wrong_aad_fails() {
        let k = key();
        let sealed = seal(&k, b"v", b"arn:a|v1").unwrap();
        for aad in [&b""[..], b"arn:a|v2", b"arn:a|v1 ", b"ARN:a|v1"] {
            assert!(matches!(
                open(&k, &sealed, aad),
                Err(CryptoError::InvalidCiphertext)
            ));
        }
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = seal(&key(), b"v", b"").unwrap();
        assert!(matches!(
            open(&key(), &sealed, b""),
            Err(CryptoError::InvalidCiphertext)
        ));
    }

    #[test]
    fn version_byte_is_authenticated() {
        // Re-frame the body under another version byte: even a future format that used the same
        // body layout must not accept it.
        let k = key();
        let sealed = seal(&k, b"v", b"").unwrap();
        let mut other = sealed.clone();
        other[0] = 0x02;
        assert!(open(&k, &other, b"").is_err());
        let body = open_framed(&k, &other, 1, b"");
        assert!(matches!(body, Err(CryptoError::InvalidCiphertext)));
    }

    #[test]
    fn encode_aad_is_unambiguous() {
        assert_ne!(encode_aad(&[b"ab", b"c"]), encode_aad(&[b"a", b"bc"]));
        assert_ne!(encode_aad(&[b"", b"a"]), encode_aad(&[b"a", b""]));
        assert_ne!(encode_aad(&[b"a"]), encode_aad(&[b"a", b""]));
        assert_eq!(encode_aad(&[b"ab"]), [0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']);
        assert!(encode_aad(&[]).is_empty());
    }

    proptest! {
        #[test]
        fn prop_open_seal_round_trip(
            pt in proptest::collection::vec(any::<u8>(), 0..2048),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let k = Key256::from_bytes(&[9u8; 32]).unwrap();
            let sealed = seal(&k, &pt, &aad).unwrap();
            prop_assert_eq!(&open(&k, &sealed, &aad).unwrap()[..], &pt[..]);
        }

        #[test]
        fn prop_open_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..128),
            aad in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let k = Key256::from_bytes(&[9u8; 32]).unwrap();
            prop_assert!(open(&k, &bytes, &aad).is_err());
        }
    }
}
