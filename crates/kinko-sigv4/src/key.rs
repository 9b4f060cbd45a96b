//! Signing key derivation and signature computation.

use std::fmt;

use ring::hmac;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A derived SigV4 signing key (`kSigning`), valid for one (secret, date, region, service).
///
/// Servers may cache it per (access key id, date, region, service). The bytes are wiped on drop
/// and never printed: `Debug` shows `SigningKey([redacted])`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(tag.as_ref());
    out
}

/// Derives the signing key: `kDate = HMAC("AWS4" + secret, date)`, `kRegion = HMAC(kDate,
/// region)`, `kService = HMAC(kRegion, service)`, `kSigning = HMAC(kService, "aws4_request")`.
///
/// `date` is the credential scope date (`YYYYMMDD`), not the full timestamp.
pub fn signing_key(secret_access_key: &[u8], date: &str, region: &str, service: &str) -> SigningKey {
    let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key);
    let k_date = hmac_sha256(&seed, date.as_bytes());
    let k_region = hmac_sha256(&*k_date, region.as_bytes());
    let k_service = hmac_sha256(&*k_region, service.as_bytes());
    let k_signing = hmac_sha256(&*k_service, crate::TERMINATOR.as_bytes());
    SigningKey(*k_signing)
}

/// Computes the signature of a string to sign: lower-case hex of `HMAC(kSigning, string_to_sign)`.
pub fn sign(key: &SigningKey, string_to_sign: &str) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key.0),
        string_to_sign.as_bytes(),
    );
    hex::encode(tag.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Example from the AWS documentation ("Examples of how to derive a signing key").
    #[test]
    fn documented_signing_key() {
        let key = signing_key(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key.0),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let key = signing_key(b"secret", "20150830", "us-east-1", "service");
        let shown = format!("{key:?}");
        assert_eq!(shown, "SigningKey([redacted])");
        assert!(!shown.contains(&hex::encode(key.0)[..8]));
        let cloned = key.clone();
        assert_eq!(sign(&cloned, "x"), sign(&key, "x"));
    }
}
