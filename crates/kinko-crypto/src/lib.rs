//! kinko-crypto: the one place where plaintext becomes ciphertext.
//!
//! This crate owns every cryptographic format kinko stores or hands out:
//!
//! - [`Key256`]: a zeroizing 256-bit key that never prints its bytes.
//! - [`seal`] / [`open`]: versioned AES-256-GCM envelopes, used for secret values under their data
//!   keys and for anything wrapped by the root key (KMS key material, IAM secret access keys).
//! - [`password`]: Argon2id hashes of console passwords, verified in constant time.
//! - [`totp`]: the one-time codes of virtual MFA devices (RFC 6238), checked in constant time.
//! - [`RootKey`]: the key that lives outside the database, in a `0600` key file or supplied by the
//!   operator, plus a check value that tells whether a supplied root key is the one a data dir was
//!   created with. [`SharedRootKey`] is the root key a running server holds, replaceable while it
//!   runs (root key rotation).
//! - [`blob`]: self-describing KMS ciphertext blobs with the encryption context bound in, so
//!   `Decrypt` needs no key id and old key material keeps decrypting after rotation.
//!
//! - [`asymmetric`]: the RSA and elliptic-curve key pairs of asymmetric KMS keys (signatures,
//!   RSAES-OAEP) and HMAC keys.
//!
//! All algorithms come from `ring` (`AES_256_GCM`, `SystemRandom`), except Argon2id (`argon2`)
//! and the asymmetric and HMAC algorithms of KMS keys (`aws-lc-rs`, which rustls already uses). Every parser is total: a
//! malformed, truncated or tampered input yields [`CryptoError::InvalidCiphertext`], never a panic.
//! Errors and `Debug` output never contain key bytes or plaintext.
//!
//! Sealing a secret version (envelope encryption):
//!
//! ```
//! use kinko_crypto::{Key256, blob, encode_aad, open, seal};
//!
//! # fn main() -> Result<(), kinko_crypto::CryptoError> {
//! let material = Key256::generate()?; // the KMS key's current material, unwrapped
//! let (arn, version_id) = ("arn:aws:secretsmanager:us-east-1:111111111111:secret:db-AbCdEf", "v1");
//! let context = blob::EncryptionContext::from([
//!     ("SecretARN".to_string(), arn.to_string()),
//!     ("SecretVersionId".to_string(), version_id.to_string()),
//! ]);
//!
//! let data_key = Key256::generate()?;
//! let aad = encode_aad(&[arn.as_bytes(), version_id.as_bytes()]);
//! let sealed_value = seal(&data_key, b"hunter2", &aad)?;
//! let wrapped_data_key = blob::encrypt("1234abcd-12ab-34cd-56ef-1234567890ab", 1, &material, data_key.as_bytes(), &context)?;
//!
//! // Reading it back: the blob names the key and material version to load.
//! let header = blob::header(&wrapped_data_key)?;
//! assert_eq!(header.material_version, 1);
//! let data_key = Key256::from_bytes(&blob::decrypt(&wrapped_data_key, &material, &context)?)?;
//! assert_eq!(&open(&data_key, &sealed_value, &aad)?[..], b"hunter2");
//! # Ok(())
//! # }
//! ```
//!
//! The crate depends on no other kinko crate and on no runtime; its only I/O is reading and
//! creating root key files ([`RootKey::load_or_create`], [`RootKey::write_file`]).

mod aead;
pub mod asymmetric;
pub mod blob;
mod key;
pub mod password;
mod root;
pub mod totp;

pub use aead::{SEAL_VERSION, encode_aad, open, seal};
pub use key::{Key256, random_bytes};
pub use root::{RootKey, SharedRootKey};

/// Errors of this crate. Messages never contain key bytes or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The ciphertext is malformed, truncated, tampered with, was sealed under another key, or the
    /// associated data / encryption context does not match. Deliberately carries no detail, like
    /// KMS `InvalidCiphertextException`.
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    /// Key material could not be parsed (wrong length, not base64, ...). The message describes the
    /// problem, never the key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A KMS key id that cannot be put into a ciphertext blob.
    #[error("invalid key id: must be 1 to 255 printable ASCII characters")]
    InvalidKeyId,
    /// The input is larger than the format allows (KMS plaintext is limited to 4096 bytes).
    #[error("input too large")]
    TooLarge,
    /// The system random number generator failed.
    #[error("random number generator failure")]
    Rng,
    /// Reading or writing the root key file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-256 of `data`, lower-case hex: how a high-entropy bearer token is stored and looked up.
/// A token of 256 random bits needs no salt or stretching: its hash can't be reversed or guessed.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `a` and `b` are equal, in time that doesn't depend on where they differ (key
/// material compared with a stored copy).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
