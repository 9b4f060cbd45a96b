//! Virtual MFA devices (IAM `CreateVirtualMFADevice`, `EnableMFADevice`, ...): a TOTP seed an
//! authenticator app holds, made for an account, then assigned to one IAM user.
//!
//! A device lives in its own store row, not in the IAM state: using it (each accepted code moves
//! its last accepted time step, so a code can't be used twice) must not make a new IAM state
//! revision. The seed is kept only sealed under the root key; this crate never sees it open.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::secret::Tag;

/// A virtual MFA device as the store keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaDevice {
    pub account_id: String,
    /// Its ARN, `arn:aws:iam::<account>:mfa/<path/>name`: how IAM names it (`SerialNumber`).
    pub serial_number: String,
    pub name: String,
    pub path: String,
    /// The TOTP seed sealed under the root key (aad = the serial number).
    pub sealed_seed: Vec<u8>,
    /// The IAM user it is assigned to (EnableMFADevice), if any.
    pub user_name: Option<String>,
    /// When it was assigned (EnableMFADevice).
    pub enable_date: Option<Timestamp>,
    pub create_date: Timestamp,
    pub tags: Vec<Tag>,
    /// The last TOTP time step a code was accepted for (0: none): a code of that step or an
    /// earlier one is refused, so each code is good once.
    pub last_step: u64,
    /// Optimistic concurrency: every update is based on this and bumps it; 0 before creation.
    pub revision: i64,
}

impl MfaDevice {
    /// The serial number (ARN) of the device named `name` under `path` in `account`.
    pub fn serial_number_of(account: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{account}:mfa{path}{name}")
    }

    /// Whether it is assigned to the user `name` (IAM user names compare case-insensitively).
    pub fn assigned_to(&self, name: &str) -> bool {
        self.user_name
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(name))
    }
}

/// The sealed seed is ciphertext, but it stays out of logs all the same.
impl std::fmt::Debug for MfaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaDevice")
            .field("serial_number", &self.serial_number)
            .field("user_name", &self.user_name)
            .field("enable_date", &self.enable_date)
            .field("last_step", &self.last_step)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_carry_the_path() {
        assert_eq!(
            MfaDevice::serial_number_of("123456789012", "/", "phone"),
            "arn:aws:iam::123456789012:mfa/phone"
        );
        assert_eq!(
            MfaDevice::serial_number_of("123456789012", "/ops/", "phone"),
            "arn:aws:iam::123456789012:mfa/ops/phone"
        );
    }
}
