//! When each long-term access key was last used, and with which service and region
//! (GetAccessKeyLastUsed, the credential report's `access_key_N_last_used_*` columns).
//!
//! The server records a key's use once its signature has been verified. The record is kept in
//! the memory of the process that served the request, not written to the store: a durable write
//! on every signed request would cost more than the request. So, like AWS's (which reports a
//! key's use some time after it happened), what a process reports can lag behind: it knows the
//! uses of keys it verified itself since it started, and nothing of uses another node served or
//! of uses before a restart. The time is kept to the minute, as IAM reports it
//! (`2015-06-17T16:10:00Z`); a newer use within the same minute keeps the first one's time but
//! takes its service and region.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use kinko_core::Timestamp;

/// The last use of one access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUsed {
    /// The time of the request, to the minute.
    pub date: Timestamp,
    /// The signing scope's service (`iam`, `secretsmanager`, ...).
    pub service: String,
    /// The signing scope's region.
    pub region: String,
}

/// The keys used since the process started. Bounded by the number of keys that exist: only a
/// key whose signature verified is recorded, and a deleted key's entry is dropped.
#[derive(Debug, Default)]
pub struct KeyUsage {
    keys: Mutex<HashMap<String, LastUsed>>,
}

const MINUTE_MS: i64 = 60_000;

impl KeyUsage {
    /// Records that `access_key_id` signed a request for `service` in `region` at `now`.
    pub fn record(&self, access_key_id: &str, service: &str, region: &str, now: Timestamp) {
        let date = Timestamp::from_millis(now.millis() - now.millis().rem_euclid(MINUTE_MS));
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        match keys.get_mut(access_key_id) {
            Some(last) if last.date >= date && last.service == service && last.region == region => {}
            Some(last) => {
                last.date = last.date.max(date);
                service.clone_into(&mut last.service);
                region.clone_into(&mut last.region);
            }
            None => {
                keys.insert(
                    access_key_id.to_owned(),
                    LastUsed {
                        date,
                        service: service.to_owned(),
                        region: region.to_owned(),
                    },
                );
            }
        }
    }

    /// The key's last use, if this process saw one.
    pub fn get(&self, access_key_id: &str) -> Option<LastUsed> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(access_key_id).cloned()
    }

    /// Forgets a deleted key.
    pub fn forget(&self, access_key_id: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.remove(access_key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_to_the_minute_with_the_latest_service() {
        let usage = KeyUsage::default();
        assert_eq!(usage.get("AKIA1"), None);
        usage.record("AKIA1", "iam", "us-east-1", Timestamp::from_millis(125_500));
        usage.record("AKIA1", "kms", "eu-west-1", Timestamp::from_millis(170_000));
        let last = usage.get("AKIA1").expect("recorded");
        assert_eq!(last.date, Timestamp::from_millis(120_000));
        assert_eq!(
            (last.service.as_str(), last.region.as_str()),
            ("kms", "eu-west-1")
        );
        usage.record("AKIA1", "kms", "eu-west-1", Timestamp::from_millis(181_000));
        assert_eq!(
            usage.get("AKIA1").map(|l| l.date),
            Some(Timestamp::from_millis(180_000))
        );
        usage.forget("AKIA1");
        assert_eq!(usage.get("AKIA1"), None);
    }
}
