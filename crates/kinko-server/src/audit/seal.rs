//! Seals of rotated audit files: a `.seal` file beside each, holding the file's SHA-256, its first
//! and last sequence numbers and chain values, signed with HMAC-SHA256 under a key derived from the
//! root key. Without the key nobody can write a seal that verifies; with the seal, a file cut
//! short or changed anywhere shows.

use ring::hmac;
use serde::{Deserialize, Serialize};

use super::chain;

/// What the key derived from the root key for seals is for.
const PURPOSE: &[u8] = b"kinko audit seal v1";

/// The key seals are signed with, and its public id (so that a seal made under an earlier root
/// key is told apart from a forged one).
pub(crate) struct SealKey {
    key: hmac::Key,
    pub id: String,
}

impl SealKey {
    pub(crate) fn derive(root: &kinko_crypto::RootKey) -> Result<SealKey, kinko_crypto::CryptoError> {
        let bytes = root.derive(PURPOSE)?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, bytes.as_bytes());
        let tag = hmac::sign(&key, b"kinko audit seal key id");
        let id = String::from_utf8_lossy(&chain::hex(tag.as_ref())[..16]).into_owned();
        Ok(SealKey { key, id })
    }

    fn mac(&self, seal: &Seal) -> String {
        let tag = hmac::sign(&self.key, seal.signed_text().as_bytes());
        String::from_utf8_lossy(&chain::hex(tag.as_ref())).into_owned()
    }

    /// Signs `seal` in place.
    pub(crate) fn sign(&self, seal: &mut Seal) {
        seal.key_id = self.id.clone();
        seal.hmac = self.mac(seal);
    }

    /// Whether `seal`'s signature is this key's.
    pub(crate) fn check(&self, seal: &Seal) -> bool {
        let tag = hex_decode(&seal.hmac);
        tag.is_some_and(|t| hmac::verify(&self.key, seal.signed_text().as_bytes(), &t).is_ok())
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// The seal of one rotated file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Seal {
    /// The file's name (without directory).
    pub file: String,
    /// Its number among the rotated files (1, 2, ...).
    pub number: u64,
    pub records: u64,
    pub bytes: u64,
    pub sha256: String,
    /// The sequence number and chain of the record before the file's first.
    pub previous_sequence: u64,
    pub previous_chain: String,
    pub last_sequence: u64,
    pub last_chain: String,
    pub sealed_at: String,
    pub key_id: String,
    pub hmac: String,
}

impl Seal {
    /// What the signature covers: every member but the signature, one per line.
    fn signed_text(&self) -> String {
        format!(
            "kinko-audit-seal-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.file,
            self.number,
            self.records,
            self.bytes,
            self.sha256,
            self.previous_sequence,
            self.previous_chain,
            self.last_sequence,
            self.last_chain,
            self.sealed_at,
            self.key_id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal() -> Seal {
        Seal {
            file: "audit.log.000001".into(),
            number: 1,
            records: 2,
            bytes: 10,
            sha256: "ab".repeat(32),
            previous_sequence: 0,
            previous_chain: "0".repeat(64),
            last_sequence: 2,
            last_chain: "cd".repeat(32),
            sealed_at: "2026-01-01T00:00:00Z".into(),
            key_id: String::new(),
            hmac: String::new(),
        }
    }

    #[test]
    fn seals_verify_only_unchanged_and_under_their_key() -> Result<(), kinko_crypto::CryptoError> {
        let key = SealKey::derive(&kinko_crypto::RootKey::generate()?)?;
        let other = SealKey::derive(&kinko_crypto::RootKey::generate()?)?;
        let mut s = seal();
        key.sign(&mut s);
        assert!(key.check(&s));
        assert!(!other.check(&s));
        assert_ne!(key.id, other.id);
        let mut changed = s.clone();
        changed.records = 3;
        assert!(!key.check(&changed));
        Ok(())
    }
}
