//! Console sign-in data of an account: users' login profiles (their password hashes) and the
//! account password policy (what a new password must be, when one expires).
//!
//! Pure data and rules; hashing is `kinko-crypto`'s, the operations are the IAM service's. The
//! policy's rules and defaults follow the IAM User Guide, "Set an account password policy for IAM
//! users", and the IAM API Reference, UpdateAccountPasswordPolicy.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// A user's console password, as an Argon2id hash (a PHC string); never the password itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// What lets an IAM user sign in to the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginProfile {
    pub password_hash: PasswordHash,
    pub create_date: Timestamp,
    /// The user must set a new password at their next sign-in.
    #[serde(default)]
    pub password_reset_required: bool,
    /// When the password was last set (its age counts from here for `MaxPasswordAge`).
    pub password_last_changed: Timestamp,
    /// Hashes of the passwords the user had before, newest first, as many as
    /// `PasswordReusePrevention` can ask about (24).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_hashes: Vec<PasswordHash>,
}

/// The most previous passwords `PasswordReusePrevention` can forbid.
pub const MAX_REUSE_PREVENTION: usize = 24;

impl LoginProfile {
    pub fn new(hash: PasswordHash, reset_required: bool, now: Timestamp) -> LoginProfile {
        LoginProfile {
            password_hash: hash,
            create_date: now,
            password_reset_required: reset_required,
            password_last_changed: now,
            previous_hashes: Vec::new(),
        }
    }

    /// Replaces the password, keeping the old hash for `PasswordReusePrevention`.
    pub fn set_password(&mut self, hash: PasswordHash, now: Timestamp) {
        let old = std::mem::replace(&mut self.password_hash, hash);
        self.previous_hashes.insert(0, old);
        self.previous_hashes.truncate(MAX_REUSE_PREVENTION);
        self.password_last_changed = now;
    }

    /// The current password's hash and the `n - 1` before it: the `n` passwords
    /// `PasswordReusePrevention = n` forbids.
    pub fn recent_hashes(&self, n: usize) -> impl Iterator<Item = &PasswordHash> {
        std::iter::once(&self.password_hash)
            .chain(self.previous_hashes.iter())
            .take(n)
    }

    /// Whether the password is past the policy's `MaxPasswordAge` at `now`.
    pub fn expired(&self, policy: Option<&PasswordPolicy>, now: Timestamp) -> bool {
        match policy.and_then(|p| p.max_password_age) {
            Some(days) => self.password_last_changed.plus_days(i64::from(days)) <= now,
            None => false,
        }
    }
}

/// The characters that count as symbols (the IAM User Guide's list).
pub const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

/// An account's custom password policy. Every field has its default when a request leaves it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub minimum_password_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    /// Days a password is valid (`None`: it never expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_password_age: Option<u32>,
    /// How many previous passwords a new one may not repeat (`None`: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reuse_prevention: Option<u32>,
    /// Whether an expired password keeps the user out until an administrator resets it; `None`
    /// when the request left it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_expiry: Option<bool>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            minimum_password_length: 6,
            require_symbols: false,
            require_numbers: false,
            require_uppercase_characters: false,
            require_lowercase_characters: false,
            allow_users_to_change_password: false,
            max_password_age: None,
            password_reuse_prevention: None,
            hard_expiry: None,
        }
    }
}

/// What a password lacks, with the message IAM's `PasswordPolicyViolation` gives.
pub fn violation(policy: Option<&PasswordPolicy>, password: &str) -> Option<String> {
    let has = |f: fn(char) -> bool| password.chars().any(f);
    let upper = has(|c| c.is_ascii_uppercase());
    let lower = has(|c| c.is_ascii_lowercase());
    let number = has(|c| c.is_ascii_digit());
    let symbol = has(|c| SYMBOLS.contains(c));
    let length = password.chars().count();
    let Some(p) = policy else {
        // No custom policy: AWS's default policy applies, "a minimum of 8 characters and a
        // minimum of three of the following mixture of character types: uppercase, lowercase,
        // numbers, and non-alphanumeric characters" (IAM User Guide, "Default password policy").
        // AWS documents no message for it; these follow the custom policy's wording.
        if length < 8 {
            return Some("Password should have a minimum length of 8".into());
        }
        if [upper, lower, number, symbol].iter().filter(|b| **b).count() < 3 {
            return Some(
                "Password should have at least three of the following: uppercase letters, \
                 lowercase letters, numbers, and symbols"
                    .into(),
            );
        }
        return None;
    };
    if length < p.minimum_password_length as usize {
        return Some(format!(
            "Password should have a minimum length of {}",
            p.minimum_password_length
        ));
    }
    if p.require_uppercase_characters && !upper {
        return Some("Password should have at least one uppercase letter".into());
    }
    if p.require_lowercase_characters && !lower {
        return Some("Password should have at least one lowercase letter".into());
    }
    if p.require_numbers && !number {
        return Some("Password should have at least one number".into());
    }
    if p.require_symbols && !symbol {
        return Some("Password should have at least one symbol".into());
    }
    None
}

/// An account alias: 3 to 63 lowercase letters, digits and single hyphens, starting and ending
/// with a letter or digit (IAM API Reference, CreateAccountAlias:
/// `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`).
pub fn valid_account_alias(alias: &str) -> bool {
    let b = alias.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.first().is_some_and(ok)
        && b.last().is_some_and(ok)
        && b.iter().all(|c| ok(c) || *c == b'-')
        && !alias.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        for good in ["abc", "my-company", "a1-b2-c3", &"a".repeat(63)] {
            assert!(valid_account_alias(good), "{good}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "a--b",
            "ABC",
            "a_b",
            "a.b",
            &"a".repeat(64),
            "",
        ] {
            assert!(!valid_account_alias(bad), "{bad}");
        }
    }

    #[test]
    fn the_default_policy_wants_eight_characters_of_three_kinds() {
        assert!(violation(None, "Ab1!").unwrap().contains("minimum length of 8"));
        assert!(violation(None, "abcdefgh1").unwrap().contains("three"));
        assert_eq!(violation(None, "abcdefG1"), None);
        assert_eq!(violation(None, "abcdef!1"), None);
    }

    #[test]
    fn a_custom_policy_names_what_is_missing() {
        let p = PasswordPolicy {
            minimum_password_length: 10,
            require_symbols: true,
            require_numbers: true,
            require_uppercase_characters: true,
            require_lowercase_characters: true,
            ..PasswordPolicy::default()
        };
        let v = |pw| violation(Some(&p), pw);
        assert_eq!(v("Aa1!").unwrap(), "Password should have a minimum length of 10");
        assert_eq!(
            v("aaaaaaaaa1!").unwrap(),
            "Password should have at least one uppercase letter"
        );
        assert_eq!(
            v("AAAAAAAAA1!").unwrap(),
            "Password should have at least one lowercase letter"
        );
        assert_eq!(
            v("AAAAAaaaaa!").unwrap(),
            "Password should have at least one number"
        );
        assert_eq!(
            v("AAAAAaaaaa1").unwrap(),
            "Password should have at least one symbol"
        );
        assert_eq!(v("AAAAAaaaa1'"), None);
        // The default custom policy only wants 6 characters.
        assert_eq!(violation(Some(&PasswordPolicy::default()), "aaaaaa"), None);
    }

    #[test]
    fn passwords_expire_after_the_maximum_age() {
        let profile = LoginProfile::new(PasswordHash("h".into()), false, Timestamp(0));
        let p = PasswordPolicy {
            max_password_age: Some(2),
            ..PasswordPolicy::default()
        };
        assert!(!profile.expired(Some(&p), Timestamp(0).plus_days(2).plus_millis(-1)));
        assert!(profile.expired(Some(&p), Timestamp(0).plus_days(2)));
        assert!(!profile.expired(None, Timestamp(0).plus_days(10_000)));
    }

    #[test]
    fn reuse_prevention_counts_the_current_password() {
        let mut profile = LoginProfile::new(PasswordHash("1".into()), false, Timestamp(0));
        for n in 2..=30 {
            profile.set_password(PasswordHash(n.to_string()), Timestamp(n));
        }
        assert_eq!(profile.previous_hashes.len(), MAX_REUSE_PREVENTION);
        let recent: Vec<_> = profile.recent_hashes(3).map(|h| h.0.as_str()).collect();
        assert_eq!(recent, ["30", "29", "28"]);
        assert!(!format!("{profile:?}").contains("\"30\""));
    }
}
