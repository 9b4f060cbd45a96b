//! Console passwords: Argon2id hashes in the PHC string format (`$argon2id$v=19$m=...`).
//!
//! A password is never stored or logged, only its hash; [`verify`] compares in constant time (the
//! `argon2` crate's verification does). The cost follows OWASP's Password Storage Cheat Sheet for
//! Argon2id: 19 MiB of memory, 2 iterations, 1 degree of parallelism. A hash records its own
//! parameters, so hashes made under other parameters keep verifying if these change.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::CryptoError;
use crate::key::fill_random;

/// Memory cost in KiB (19 MiB).
const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations.
const ITERATIONS: u32 = 2;
/// Degree of parallelism.
const LANES: u32 = 1;
/// Bytes of random salt.
const SALT_LEN: usize = 16;

fn hasher() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .map_err(|e| CryptoError::InvalidKey(format!("Argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The Argon2id hash of `password` under a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| CryptoError::Rng)?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::InvalidKey(format!("Argon2 hashing failed: {e}")))
}

/// A hash with the cost of real ones, of no password anyone knows, for checks that must take as
/// long when there is no real hash to check against (a sign-in for a user that doesn't exist).
/// Made once, deterministically (a fixed salt and a long random-looking password that is never
/// written anywhere else), so it needs no randomness.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let made = SaltString::encode_b64(b"kinko-dummy-salt").ok().and_then(|salt| {
            let argon2 = hasher().ok()?;
            argon2
                .hash_password(b"b3c1d7e0-5a2f-4f9e-9c8b-dummy-never-a-password", &salt)
                .ok()
                .map(|h| h.to_string())
        });
        made.unwrap_or_default()
    })
}

/// Whether `password` is the one `hash` (a PHC string from [`hash_password`]) was made from. A
/// malformed hash verifies nothing. The comparison runs in constant time.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(argon2) = hasher() else {
        return false;
    };
    argon2.verify_password(password.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("", &h));
    }

    #[test]
    fn the_dummy_hash_has_the_cost_of_real_ones() {
        assert!(dummy_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!verify_password("", dummy_hash()));
    }

    #[test]
    fn salts_differ() {
        assert_ne!(hash_password("x").unwrap(), hash_password("x").unwrap());
    }

    #[test]
    fn a_malformed_hash_verifies_nothing() {
        assert!(!verify_password("x", ""));
        assert!(!verify_password("x", "$argon2id$garbage"));
    }
}
