//! Virtual MFA devices (IAM `CreateVirtualMFADevice`, `EnableMFADevice`, ...): a TOTP seed an
//! authenticator app holds, made for an account, then assigned to one IAM user or to the
//! account's root user.
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
    /// Whether it is assigned to the account's root user instead (EnableMFADevice by the root
    /// user for itself); never together with `user_name`. Absent in documents written before
    /// the root user could have devices.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
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

    /// Whether it is assigned to `holder` (IAM user names compare case-insensitively).
    pub fn assigned_to(&self, holder: Holder<'_>) -> bool {
        match holder {
            Holder::User(name) => self
                .user_name
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(name)),
            Holder::Root => self.root,
        }
    }

    /// Whether it is assigned to anyone.
    pub fn is_assigned(&self) -> bool {
        self.user_name.is_some() || self.root
    }

    /// Assigns it to `holder` (`None`: unassigns it).
    pub fn assign(&mut self, holder: Option<Holder<'_>>) {
        self.user_name = match holder {
            Some(Holder::User(name)) => Some(name.to_owned()),
            _ => None,
        };
        self.root = matches!(holder, Some(Holder::Root));
    }
}

/// Who a device can be assigned to: an IAM user (by name) or the account's root user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder<'a> {
    User(&'a str),
    Root,
}

/// The sealed seed is ciphertext, but it stays out of logs all the same.
impl std::fmt::Debug for MfaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaDevice")
            .field("serial_number", &self.serial_number)
            .field("user_name", &self.user_name)
            .field("root", &self.root)
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

    #[test]
    fn documents_without_root_read_as_a_user_device() {
        let mut d = MfaDevice {
            account_id: "123456789012".into(),
            serial_number: "arn:aws:iam::123456789012:mfa/phone".into(),
            name: "phone".into(),
            path: "/".into(),
            sealed_seed: Vec::new(),
            user_name: Some("alice".into()),
            root: false,
            enable_date: None,
            create_date: Timestamp::from_millis(0),
            tags: Vec::new(),
            last_step: 0,
            revision: 0,
        };
        let doc = serde_json::to_string(&d).unwrap();
        assert!(!doc.contains("\"root\""), "{doc}");
        let read: MfaDevice = serde_json::from_str(&doc).unwrap();
        assert!(read.assigned_to(Holder::User("ALICE")));
        assert!(!read.assigned_to(Holder::Root));
        d.assign(Some(Holder::Root));
        assert!(d.assigned_to(Holder::Root) && d.user_name.is_none() && d.is_assigned());
        d.assign(None);
        assert!(!d.is_assigned());
    }
}
