//! KMS ciphertext blobs: self-describing AES-256-GCM ciphertexts under one version of a KMS key's
//! material, with the encryption context bound in.
//!
//! Clients treat a blob as opaque bytes, but `Decrypt` receives no key id, so the blob names the
//! key and the material version that sealed it; after rotation old blobs keep decrypting with the
//! material they name. Layout (format 1):
//!
//! ```text
//! magic "KN" (2) | format 0x01 (1) | key id length (1) | key id (1..=255, printable ASCII)
//!   | material version (u32 BE) | nonce (12) | ciphertext | tag (16)
//! ```
//!
//! The AEAD associated data is the whole header (magic through material version) followed by the
//! canonical encoding of the encryption context: the pair count, then each pair in key order as
//! key length, key, value length, value (lengths u32 BE, strings UTF-8). A `BTreeMap` makes the
//! order canonical, so contexts that are equal as maps match whatever order they were built in,
//! and length prefixes make distinct maps encode differently. Decrypting with any other context
//! fails with [`CryptoError::InvalidCiphertext`], as KMS answers `InvalidCiphertextException`
//! (see the KMS reference, "Encryption context").
//!
//! This module does no key lookup: [`header`] reads which key and material version to fetch, the
//! caller loads that material and calls [`decrypt`].

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::CryptoError;
use crate::aead::{FRAME_OVERHEAD, open_framed, seal_framed};
use crate::key::Key256;

/// A KMS encryption context: non-secret string pairs bound to a ciphertext. An empty map is the
/// same as no context.
pub type EncryptionContext = BTreeMap<String, String>;

/// Largest plaintext [`encrypt`] accepts, the KMS `Encrypt` limit.
pub const MAX_PLAINTEXT_LEN: usize = 4096;
/// Longest key id a blob can carry (KMS key ids are 36 characters).
pub const MAX_KEY_ID_LEN: usize = 255;
/// Largest blob this format produces (well under the 6144-byte KMS `CiphertextBlob` limit).
pub const MAX_BLOB_LEN: usize = FIXED_HEADER_LEN + MAX_KEY_ID_LEN + FRAME_OVERHEAD + MAX_PLAINTEXT_LEN;

// Every blob fits the KMS `CiphertextBlob` limit.
const _: () = assert!(MAX_BLOB_LEN <= 6144);

const MAGIC: [u8; 2] = *b"KN";
const FORMAT_V1: u8 = 0x01;
/// Magic, format, key id length and material version.
const FIXED_HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 4;

/// What a blob says about how it was sealed; readable without any key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobHeader {
    /// The KMS key id (a UUID, or `mrk-` and 32 hex digits), not an ARN or alias.
    pub key_id: String,
    /// Which version of the key's material sealed the blob.
    pub material_version: u32,
}

/// Encrypts `plaintext` (at most [`MAX_PLAINTEXT_LEN`] bytes) under version `material_version`
/// of key `key_id`, whose material is `material`, binding `context`.
///
/// Errors: [`CryptoError::TooLarge`] for a longer plaintext, [`CryptoError::InvalidKeyId`] for a
/// key id that is empty, longer than [`MAX_KEY_ID_LEN`] or not printable ASCII.
pub fn encrypt(
    key_id: &str,
    material_version: u32,
    material: &Key256,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(CryptoError::TooLarge);
    }
    let id = key_id.as_bytes();
    let id_len = match u8::try_from(id.len()) {
        Ok(n) if n > 0 && valid_key_id(id) => n,
        _ => return Err(CryptoError::InvalidKeyId),
    };
    let mut header = Vec::with_capacity(FIXED_HEADER_LEN + id.len());
    header.extend_from_slice(&MAGIC);
    header.push(FORMAT_V1);
    header.push(id_len);
    header.extend_from_slice(id);
    header.extend_from_slice(&material_version.to_be_bytes());
    let aad_tail = encode_context(context)?;
    seal_framed(material, &header, plaintext, &aad_tail)
}

/// Reads the key id and material version from a blob, without any key, so the caller knows which
/// material to load. Checks the framing only; authenticity is checked by [`decrypt`].
pub fn header(blob: &[u8]) -> Result<BlobHeader, CryptoError> {
    parse(blob).map(|(header, _)| header)
}

/// Decrypts a blob made by [`encrypt`] with the material its [`header`] names and the same
/// encryption context. Everything else (other material, other context, malformed, truncated or
/// tampered bytes) is [`CryptoError::InvalidCiphertext`].
pub fn decrypt(
    blob: &[u8],
    material: &Key256,
    context: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (_, header_len) = parse(blob)?;
    // A context too large to encode cannot be the one the blob was made with.
    let aad_tail = encode_context(context).map_err(|_| CryptoError::InvalidCiphertext)?;
    open_framed(material, blob, header_len, &aad_tail)
}

fn valid_key_id(id: &[u8]) -> bool {
    id.iter().all(u8::is_ascii_graphic)
}

/// Parses and checks the framing; returns the header and its length in bytes.
fn parse(blob: &[u8]) -> Result<(BlobHeader, usize), CryptoError> {
    const BAD: CryptoError = CryptoError::InvalidCiphertext;
    if blob.len() > MAX_BLOB_LEN {
        return Err(BAD);
    }
    let (magic, rest) = blob.split_at_checked(MAGIC.len()).ok_or(BAD)?;
    if magic != MAGIC {
        return Err(BAD);
    }
    let (&format, rest) = rest.split_first().ok_or(BAD)?;
    if format != FORMAT_V1 {
        return Err(BAD);
    }
    let (&id_len, rest) = rest.split_first().ok_or(BAD)?;
    let (id, rest) = rest.split_at_checked(usize::from(id_len)).ok_or(BAD)?;
    if id.is_empty() || !valid_key_id(id) {
        return Err(BAD);
    }
    let (version, rest) = rest.split_first_chunk::<4>().ok_or(BAD)?;
    let body_len = rest.len().checked_sub(FRAME_OVERHEAD).ok_or(BAD)?;
    if body_len > MAX_PLAINTEXT_LEN {
        return Err(BAD);
    }
    let key_id = std::str::from_utf8(id).map_err(|_| BAD)?.to_owned();
    let header = BlobHeader {
        key_id,
        material_version: u32::from_be_bytes(*version),
    };
    Ok((header, FIXED_HEADER_LEN + id.len()))
}

/// The canonical encoding of an encryption context (see the module docs).
fn encode_context(context: &EncryptionContext) -> Result<Vec<u8>, CryptoError> {
    fn put(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), CryptoError> {
        let len = u32::try_from(bytes.len()).map_err(|_| CryptoError::TooLarge)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
        Ok(())
    }
    let count = u32::try_from(context.len()).map_err(|_| CryptoError::TooLarge)?;
    let mut out = Vec::new();
    out.extend_from_slice(&count.to_be_bytes());
    for (key, value) in context {
        put(&mut out, key.as_bytes())?;
        put(&mut out, value.as_bytes())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn secret_ctx() -> EncryptionContext {
        ctx(&[
            (
                "SecretARN",
                "arn:aws:secretsmanager:us-east-1:111111111111:secret:db-AbCdEf",
            ),
            ("SecretVersionId", "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"),
        ])
    }

    #[test]
    fn round_trip_and_header() {
        let material = Key256::generate().unwrap();
        let data_key = Key256::generate().unwrap();
        let blob = encrypt(KEY_ID, 3, &material, data_key.as_bytes(), &secret_ctx()).unwrap();
        assert_eq!(blob.len(), FIXED_HEADER_LEN + KEY_ID.len() + 12 + 32 + 16);
        assert_eq!(
            header(&blob).unwrap(),
            BlobHeader {
                key_id: KEY_ID.into(),
                material_version: 3
            }
        );
        let plain = decrypt(&blob, &material, &secret_ctx()).unwrap();
        assert_eq!(Key256::from_bytes(&plain).unwrap(), data_key);
    }

    #[test]
    fn empty_plaintext_and_empty_context() {
        let material = Key256::generate().unwrap();
        let blob = encrypt(KEY_ID, 1, &material, b"", &EncryptionContext::new()).unwrap();
        assert!(
            decrypt(&blob, &material, &EncryptionContext::new())
                .unwrap()
                .is_empty()
        );
        assert!(decrypt(&blob, &material, &ctx(&[("a", "")])).is_err());
    }

    #[test]
    fn plaintext_limit() {
        let material = Key256::generate().unwrap();
        let max = vec![0x42; MAX_PLAINTEXT_LEN];
        let id = "k".repeat(MAX_KEY_ID_LEN);
        let blob = encrypt(&id, u32::MAX, &material, &max, &secret_ctx()).unwrap();
        assert_eq!(blob.len(), MAX_BLOB_LEN);
        assert_eq!(&decrypt(&blob, &material, &secret_ctx()).unwrap()[..], &max[..]);
        assert_eq!(header(&blob).unwrap().material_version, u32::MAX);

        let over = vec![0x42; MAX_PLAINTEXT_LEN + 1];
        assert!(matches!(
            encrypt(KEY_ID, 1, &material, &over, &secret_ctx()),
            Err(CryptoError::TooLarge)
        ));
        // A well-framed blob with a longer body is refused before any decryption.
        let mut long = blob.clone();
        long.insert(FIXED_HEADER_LEN + MAX_KEY_ID_LEN + 12, 0);
        assert!(matches!(header(&long), Err(CryptoError::InvalidCiphertext)));
    }

    #[test]
    fn key_id_validation() {
        let material = Key256::generate().unwrap();
        let long = "a".repeat(MAX_KEY_ID_LEN + 1);
        for bad in ["", long.as_str(), "has space", "tab\t", "ключ", "nul\0"] {
            assert!(
                matches!(
                    encrypt(bad, 1, &material, b"x", &EncryptionContext::new()),
                    Err(CryptoError::InvalidKeyId)
                ),
                "{bad:?}"
            );
        }
        let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
        let blob = encrypt(mrk, 1, &material, b"x", &EncryptionContext::new()).unwrap();
        assert_eq!(header(&blob).unwrap().key_id, mrk);
    }

    #[test]
    fn context_must_match_exactly() {
        let material = Key256::generate().unwrap();
        let blob = encrypt(KEY_ID, 1, &material, b"data key", &secret_ctx()).unwrap();
        let mut extra = secret_ctx();
        extra.insert("Extra".into(), "x".into());
        let mut missing = secret_ctx();
        missing.remove("SecretVersionId");
        let mut other_value = secret_ctx();
        other_value.insert("SecretVersionId".into(), "other".into());
        let mut key_case = secret_ctx();
        let v = key_case.remove("SecretARN").unwrap();
        key_case.insert("secretarn".into(), v);
        let mut value_case = secret_ctx();
        value_case.insert(
            "SecretVersionId".into(),
            "example1-90ab-cdef-fedc-ba987example".into(),
        );
        for wrong in [
            EncryptionContext::new(),
            extra,
            missing,
            other_value,
            key_case,
            value_case,
        ] {
            assert!(matches!(
                decrypt(&blob, &material, &wrong),
                Err(CryptoError::InvalidCiphertext)
            ));
        }
    }

    #[test]
    fn context_order_does_not_matter() {
        let material = Key256::generate().unwrap();
        let forward = ctx(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let backward = ctx(&[("c", "3"), ("b", "2"), ("a", "1")]);
        let blob = encrypt(KEY_ID, 1, &material, b"x", &forward).unwrap();
        assert_eq!(&decrypt(&blob, &material, &backward).unwrap()[..], b"x");
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        let cases = [
            ctx(&[("a", "bc")]),
            ctx(&[("ab", "c")]),
            ctx(&[("a", "b"), ("c", "")]),
            ctx(&[("a", "bc"), ("", "")]),
            ctx(&[("", "abc")]),
            ctx(&[]),
        ];
        for (i, a) in cases.iter().enumerate() {
            for (j, b) in cases.iter().enumerate() {
                assert_eq!(i == j, encode_context(a).unwrap() == encode_context(b).unwrap());
            }
        }
        let material = Key256::generate().unwrap();
        let blob = encrypt(KEY_ID, 1, &material, b"x", &cases[0]).unwrap();
        assert!(decrypt(&blob, &material, &cases[1]).is_err());
    }

    #[test]
    fn tampering_any_byte_fails() {
        let material = Key256::generate().unwrap();
        let blob = encrypt(KEY_ID, 7, &material, b"hello", &secret_ctx()).unwrap();
        for i in 0..blob.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut bad = blob.clone();
                bad[i] ^= flip;
                assert!(
                    matches!(
                        decrypt(&bad, &material, &secret_ctx()),
                        Err(CryptoError::InvalidCiphertext)
                    ),
                    "byte {i} flip {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn truncation_at_every_length_fails() {
        let material = Key256::generate().unwrap();
        let blob = encrypt(KEY_ID, 7, &material, b"hello", &secret_ctx()).unwrap();
        let min_framed = FIXED_HEADER_LEN + KEY_ID.len() + FRAME_OVERHEAD;
        for len in 0..blob.len() {
            let cut = &blob[..len];
            assert!(
                matches!(
                    decrypt(cut, &material, &secret_ctx()),
                    Err(CryptoError::InvalidCiphertext)
                ),
                "len {len}"
            );
            // The framing is complete from `min_framed` bytes on; below it the header is refused.
            assert_eq!(header(cut).is_ok(), len >= min_framed, "len {len}");
        }
    }

    #[test]
    fn wrong_material_fails() {
        let blob = encrypt(KEY_ID, 1, &Key256::generate().unwrap(), b"x", &secret_ctx()).unwrap();
        assert!(matches!(
            decrypt(&blob, &Key256::generate().unwrap(), &secret_ctx()),
            Err(CryptoError::InvalidCiphertext)
        ));
    }

    #[test]
    fn rotation_keeps_old_blobs_decryptable() {
        let v1 = Key256::generate().unwrap();
        let v2 = Key256::generate().unwrap();
        let materials = [(1u32, v1.clone()), (2u32, v2.clone())];
        let old = encrypt(KEY_ID, 1, &v1, b"old", &secret_ctx()).unwrap();
        let new = encrypt(KEY_ID, 2, &v2, b"new", &secret_ctx()).unwrap();
        for (blob, want) in [(&old, &b"old"[..]), (&new, &b"new"[..])] {
            let h = header(blob).unwrap();
            assert_eq!(h.key_id, KEY_ID);
            let (_, material) = materials.iter().find(|(v, _)| *v == h.material_version).unwrap();
            assert_eq!(&decrypt(blob, material, &secret_ctx()).unwrap()[..], want);
        }
        assert!(decrypt(&old, &v2, &secret_ctx()).is_err());
        assert!(decrypt(&new, &v1, &secret_ctx()).is_err());
        // Relabelling an old blob as another version is detected.
        let mut relabelled = old.clone();
        let at = FIXED_HEADER_LEN + KEY_ID.len() - 1;
        relabelled[at] = 2;
        assert_eq!(header(&relabelled).unwrap().material_version, 2);
        assert!(decrypt(&relabelled, &v1, &secret_ctx()).is_err());
    }

    #[test]
    fn foreign_bytes_are_invalid() {
        let material = Key256::generate().unwrap();
        let sealed = crate::seal(&material, b"x", b"").unwrap();
        let long_garbage = vec![0u8; MAX_BLOB_LEN + 1];
        for bytes in [
            &b""[..],
            b"KN",
            b"KN\x01",
            b"KN\x02\x01k\0\0\0\x01",
            &sealed,
            &long_garbage,
        ] {
            assert!(matches!(header(bytes), Err(CryptoError::InvalidCiphertext)));
            assert!(matches!(
                decrypt(bytes, &material, &EncryptionContext::new()),
                Err(CryptoError::InvalidCiphertext)
            ));
        }
        // Zero-length key id.
        let mut frame = b"KN\x01\x00\0\0\0\x01".to_vec();
        frame.extend_from_slice(&[0u8; FRAME_OVERHEAD]);
        assert!(header(&frame).is_err());
    }

    fn arb_context() -> impl Strategy<Value = EncryptionContext> {
        proptest::collection::btree_map(".{0,12}", ".{0,24}", 0..5)
    }

    proptest! {
        #[test]
        fn prop_round_trip(
            pt in proptest::collection::vec(any::<u8>(), 0..=MAX_PLAINTEXT_LEN),
            version in any::<u32>(),
            context in arb_context(),
        ) {
            let material = Key256::from_bytes(&[3u8; 32]).unwrap();
            let blob = encrypt(KEY_ID, version, &material, &pt, &context).unwrap();
            prop_assert!(blob.len() <= MAX_BLOB_LEN);
            prop_assert_eq!(header(&blob).unwrap().material_version, version);
            prop_assert_eq!(&decrypt(&blob, &material, &context).unwrap()[..], &pt[..]);
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
            context in arb_context(),
        ) {
            let material = Key256::from_bytes(&[3u8; 32]).unwrap();
            let _ = header(&bytes);
            prop_assert!(decrypt(&bytes, &material, &context).is_err());
        }

        #[test]
        fn prop_framed_garbage_never_panics(
            id_len in any::<u8>(),
            tail in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            // Plausible framing with arbitrary content reaches deeper into the parser.
            let mut bytes = b"KN\x01".to_vec();
            bytes.push(id_len);
            bytes.extend_from_slice(&tail);
            let material = Key256::from_bytes(&[3u8; 32]).unwrap();
            let _ = header(&bytes);
            prop_assert!(decrypt(&bytes, &material, &EncryptionContext::new()).is_err());
        }
    }
}
