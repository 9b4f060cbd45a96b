//! Time-based one-time passwords (RFC 6238) as virtual MFA devices make them: HMAC-SHA1, six
//! digits, 30-second steps, the seed shown to people in base32 (RFC 4648).
//!
//! The codes themselves come from the `totp-rs` crate (the one authenticator-compatible TOTP
//! implementation kinko relies on, also used by the tests to compute codes from the seed a device
//! shows); what is kinko's own is the window and the once-only rule around it. Checking a code
//! costs the same whatever it is: every step of the window is computed and compared in constant
//! time, and the answer is the step it matched (the caller keeps the last one it accepted, so no
//! code is accepted twice).

use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Bytes of a new seed: 40, which is 64 base32 characters, the length of the secret keys AWS's
/// virtual MFA devices show.
pub const SEED_BYTES: usize = 40;

/// A new random seed.
pub fn generate_seed() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut seed = Zeroizing::new(vec![0u8; SEED_BYTES]);
    crate::key::fill_random(&mut seed)?;
    Ok(seed)
}

/// The time step `unix_seconds` falls in (0 before the epoch).
pub fn step_at(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds.div_euclid(STEP_SECONDS)).unwrap_or(0)
}

/// Digits of a code.
const DIGITS: usize = 6;

/// The code generator of `seed`. Its own skew is 0: the window is the caller's. The copy of the
/// seed it holds is zeroized when it is dropped (`totp-rs`'s `zeroize` feature).
fn generator(seed: &[u8]) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECONDS.unsigned_abs(),
        seed.to_vec(),
    )
}

/// The code of `step` (RFC 4226's HOTP of the step counter, RFC 6238).
fn code_of(totp: &TOTP, step: u64) -> Zeroizing<String> {
    Zeroizing::new(totp.generate(step.saturating_mul(STEP_SECONDS.unsigned_abs())))
}

/// The six-digit code of `step`.
pub fn code(seed: &[u8], step: u64) -> Zeroizing<String> {
    code_of(&generator(seed), step)
}

/// Whether `given` is the code of `step`, compared in constant time.
fn is_code(totp: &TOTP, step: u64, given: &str) -> bool {
    crate::key::ct_eq(code_of(totp, step).as_bytes(), given.as_bytes())
}

/// The step within `window` steps of `now` whose code `given` is, later than `after` (the last
/// step accepted before: a code is good once); `None` when there is none.
pub fn verify(seed: &[u8], given: &str, now: u64, window: u64, after: u64) -> Option<u64> {
    let totp = generator(seed);
    let mut found = None;
    for step in now.saturating_sub(window)..=now.saturating_add(window) {
        // Every step is computed and compared, found or not.
        let matched = is_code(&totp, step, given);
        if matched && step > after && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The step of `second` when `first` and `second` are the codes of two consecutive steps within
/// `window` steps of `now` (later than `after`): how a device proves it has the seed when it is
/// enabled or resynchronized.
pub fn verify_consecutive(
    seed: &[u8],
    first: &str,
    second: &str,
    now: u64,
    window: u64,
    after: u64,
) -> Option<u64> {
    let totp = generator(seed);
    let mut found = None;
    for step in now.saturating_sub(window + 1)..=now.saturating_add(window) {
        let matched = is_code(&totp, step, first) & is_code(&totp, step + 1, second);
        if matched && step > after && found.is_none() {
            found = Some(step + 1);
        }
    }
    found
}

/// `bytes` in base32 (RFC 4648, upper case, without padding), as authenticator apps take a seed.
pub fn base32(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(::base32::encode(
        ::base32::Alphabet::Rfc4648 { padding: false },
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 seed and its test vectors (the last six digits of the
    /// eight-digit values given there).
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_rfc_6238() {
        for (time, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code(RFC_SEED, step_at(time)).as_str(), expected, "at {time}");
        }
    }

    #[test]
    fn verify_accepts_the_window_once() {
        let now = step_at(1_234_567_890);
        let current = code(RFC_SEED, now);
        assert_eq!(verify(RFC_SEED, &current, now, 1, 0), Some(now));
        let previous = code(RFC_SEED, now - 1);
        assert_eq!(verify(RFC_SEED, &previous, now, 1, 0), Some(now - 1));
        // Already used: a step at or before `after` is refused.
        assert_eq!(verify(RFC_SEED, &current, now, 1, now), None);
        assert_eq!(verify(RFC_SEED, &previous, now, 1, now - 1), None);
        // Outside the window.
        assert_eq!(verify(RFC_SEED, &code(RFC_SEED, now - 2), now, 1, 0), None);
        assert_eq!(verify(RFC_SEED, "000000x", now, 1, 0), None);
        assert_eq!(verify(RFC_SEED, "", now, 1, 0), None);
    }

    #[test]
    fn consecutive_codes_must_follow_each_other() {
        let now = step_at(2_000_000_000);
        let (a, b) = (code(RFC_SEED, now - 1), code(RFC_SEED, now));
        assert_eq!(verify_consecutive(RFC_SEED, &a, &b, now, 2, 0), Some(now));
        assert_eq!(verify_consecutive(RFC_SEED, &b, &a, now, 2, 0), None);
        assert_eq!(verify_consecutive(RFC_SEED, &a, &a, now, 2, 0), None);
        assert_eq!(verify_consecutive(RFC_SEED, &a, &b, now, 2, now), None);
    }

    #[test]
    fn base32_follows_rfc_4648() {
        assert_eq!(base32(b"").as_str(), "");
        assert_eq!(base32(b"f").as_str(), "MY");
        assert_eq!(base32(b"foobar").as_str(), "MZXW6YTBOI");
        assert_eq!(base32(&[0u8; SEED_BYTES]).len(), 64);
    }

    /// What an authenticator app does with the secret key a device shows: decode it and compute
    /// the codes, which are the ones checked here.
    #[test]
    fn a_seed_shown_in_base32_gives_the_same_codes_back() {
        let seed = generate_seed().expect("seed");
        let shown = base32(&seed);
        let decoded = totp_rs::Secret::Encoded(shown.to_string())
            .to_bytes()
            .expect("base32");
        assert_eq!(decoded.as_slice(), seed.as_slice());
        let now = step_at(1_700_000_000);
        let app = TOTP::new(Algorithm::SHA1, 6, 1, 30, decoded).expect("TOTP");
        let code_now = app.generate(now * 30);
        assert_eq!(verify(&seed, &code_now, now, 1, 0), Some(now));
        assert!(app.check(&code(&seed, now + 1), now * 30));
    }
}
