//! A write-through cache in front of the database, for the hot read paths (GetSecretValue,
//! DescribeSecret, key lookups).
//!
//! It is correct because this process is the only writer of the file (the data dir is locked) and
//! every write updates the cache after its commit. A reader may only fill the cache with what it
//! read if no write committed since it started reading (`seq`): otherwise a read that started
//! before a commit could put the old state back after the writer updated the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kinko_core::iam::IamState;
use kinko_core::kms::KmsKey;
use kinko_core::organizations::Organization;
use kinko_core::principal::AccessKeyRecord;
use kinko_core::secret::Secret;
use kinko_core::store::SealedValue;

/// Beyond this many entries in a map, it is cleared (simple, and always safe).
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
struct Maps {
    secrets: HashMap<String, Secret>,
    /// (account, region, name) → ARN.
    names: HashMap<(String, String, String), String>,
    values: HashMap<(String, String), SealedValue>,
    kms_keys: HashMap<String, KmsKey>,
    aliases: HashMap<(String, String, String), String>,
    iam: HashMap<String, IamState>,
    /// `Some(None)`: known to have no organization.
    organization: Option<Option<Organization>>,
    access_keys: HashMap<String, AccessKeyRecord>,
}

#[derive(Default)]
pub(crate) struct Cache {
    seq: AtomicU64,
    maps: Mutex<Maps>,
}

/// Taken before a database read; lets the reader fill the cache only if nothing was written since.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

fn bounded<K, V>(m: &mut HashMap<K, V>) {
    if m.len() >= MAX_ENTRIES {
        m.clear();
    }
}

fn name_key(s: &Secret) -> (String, String, String) {
    (s.account_id.clone(), s.region.clone(), s.name.clone())
}

impl Cache {
    pub fn ticket(&self) -> Ticket {
        Ticket(self.seq.load(Ordering::SeqCst))
    }

    fn fill(&self, t: Ticket, f: impl FnOnce(&mut Maps)) {
        if let Ok(mut m) = self.maps.lock()
            && self.seq.load(Ordering::SeqCst) == t.0
        {
            f(&mut m);
        }
    }

    /// Called by a writer after its commit: bumps the sequence first, then applies `f`.
    fn committed(&self, f: impl FnOnce(&mut Maps)) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut m) = self.maps.lock() {
            f(&mut m);
        }
    }

    pub fn secret_by_arn(&self, arn: &str) -> Option<Secret> {
        self.maps.lock().ok()?.secrets.get(arn).cloned()
    }

    pub fn secret_by_name(&self, account: &str, region: &str, name: &str) -> Option<Secret> {
        let m = self.maps.lock().ok()?;
        let arn = m
            .names
            .get(&(account.to_owned(), region.to_owned(), name.to_owned()))?;
        m.secrets.get(arn).filter(|s| s.name == name).cloned()
    }

    pub fn fill_secret(&self, t: Ticket, s: &Secret) {
        self.fill(t, |m| {
            bounded(&mut m.secrets);
            bounded(&mut m.names);
            m.names.insert(name_key(s), s.arn.clone());
            m.secrets.insert(s.arn.clone(), s.clone());
        });
    }

    /// A secret was created or updated: `s` is its new state (with its new revision).
    ///
    /// Writers update the cache after their commits, outside the database's write lock, so two
    /// writers' updates may arrive in the other order: an older revision never replaces a newer
    /// one (a DescribeSecret after two concurrent TagResource calls would otherwise miss a tag).
    pub fn put_secret(&self, s: &Secret, values: &[(String, SealedValue)], removed: &[String]) {
        self.committed(|m| {
            if m.secrets
                .get(&s.arn)
                .is_some_and(|cached| cached.revision > s.revision)
            {
                return;
            }
            bounded(&mut m.secrets);
            bounded(&mut m.names);
            bounded(&mut m.values);
            m.names.insert(name_key(s), s.arn.clone());
            m.secrets.insert(s.arn.clone(), s.clone());
            for (v, sealed) in values {
                m.values.insert((s.arn.clone(), v.clone()), sealed.clone());
            }
            for v in removed {
                m.values.remove(&(s.arn.clone(), v.clone()));
            }
        });
    }

    pub fn remove_secret(&self, arn: &str) {
        self.committed(|m| {
            if let Some(s) = m.secrets.remove(arn) {
                m.names.remove(&name_key(&s));
                for v in &s.versions {
                    m.values.remove(&(arn.to_owned(), v.id.clone()));
                }
            }
            m.names.retain(|_, a| a != arn);
        });
    }

    /// Any other committed write: nothing cached changes, but in-flight fills must not land.
    pub fn bump(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
    }

    pub fn value(&self, arn: &str, version: &str) -> Option<SealedValue> {
        self.maps
            .lock()
            .ok()?
            .values
            .get(&(arn.to_owned(), version.to_owned()))
            .cloned()
    }

    pub fn fill_value(&self, t: Ticket, arn: &str, version: &str, v: &SealedValue) {
        self.fill(t, |m| {
            bounded(&mut m.values);
            m.values.insert((arn.to_owned(), version.to_owned()), v.clone());
        });
    }

    pub fn kms_key(&self, arn: &str) -> Option<KmsKey> {
        self.maps.lock().ok()?.kms_keys.get(arn).cloned()
    }

    pub fn fill_kms_key(&self, t: Ticket, k: &KmsKey) {
        self.fill(t, |m| {
            bounded(&mut m.kms_keys);
            m.kms_keys.insert(k.arn.clone(), k.clone());
        });
    }

    pub fn alias(&self, account: &str, region: &str, alias: &str) -> Option<String> {
        self.maps
            .lock()
            .ok()?
            .aliases
            .get(&(account.to_owned(), region.to_owned(), alias.to_owned()))
            .cloned()
    }

    pub fn fill_alias(&self, t: Ticket, account: &str, region: &str, alias: &str, target: &str) {
        self.fill(t, |m| {
            bounded(&mut m.aliases);
            m.aliases.insert(
                (account.to_owned(), region.to_owned(), alias.to_owned()),
                target.to_owned(),
            );
        });
    }

    /// A key's metadata changed: `k` is its new state (with its new revision).
    pub fn update_kms_key(&self, k: &KmsKey) {
        self.committed(|m| {
            bounded(&mut m.kms_keys);
            m.kms_keys.insert(k.arn.clone(), k.clone());
        });
    }

    /// A key was removed with its aliases, or a write about it failed: drop what is cached.
    pub fn forget_kms_key(&self, arn: &str) {
        self.committed(|m| {
            m.kms_keys.remove(arn);
            m.aliases.retain(|_, target| target != arn);
        });
    }

    /// An alias was created or re-pointed.
    pub fn put_alias(&self, account: &str, region: &str, alias: &str, target: &str) {
        self.committed(|m| {
            bounded(&mut m.aliases);
            m.aliases.insert(
                (account.to_owned(), region.to_owned(), alias.to_owned()),
                target.to_owned(),
            );
        });
    }

    /// An alias was removed, or a write about it failed.
    pub fn forget_alias(&self, account: &str, region: &str, alias: &str) {
        self.committed(|m| {
            m.aliases
                .remove(&(account.to_owned(), region.to_owned(), alias.to_owned()));
        });
    }

    pub fn put_kms_key(&self, k: &KmsKey, alias: Option<&str>) {
        self.committed(|m| {
            m.kms_keys.insert(k.arn.clone(), k.clone());
            if let Some(a) = alias {
                m.aliases.insert(
                    (k.account_id.clone(), k.region.clone(), a.to_owned()),
                    k.arn.clone(),
                );
            }
        });
    }
}

impl Cache {
    pub fn iam_state(&self, account: &str) -> Option<IamState> {
        self.maps.lock().ok()?.iam.get(account).cloned()
    }

    /// The cached state's revision, without copying the state.
    pub fn iam_revision(&self, account: &str) -> Option<i64> {
        self.maps.lock().ok()?.iam.get(account).map(|s| s.revision)
    }

    pub fn fill_iam_state(&self, t: Ticket, state: &IamState) {
        self.fill(t, |m| {
            bounded(&mut m.iam);
            m.iam.insert(state.account_id.clone(), state.clone());
        });
    }

    /// `state` as committed (with its new revision).
    pub fn put_iam_state(&self, state: &IamState) {
        self.committed(|m| {
            bounded(&mut m.iam);
            m.iam.insert(state.account_id.clone(), state.clone());
        });
    }

    pub fn forget_iam_state(&self, account: &str) {
        self.committed(|m| {
            m.iam.remove(account);
        });
    }

    pub fn access_key(&self, id: &str) -> Option<AccessKeyRecord> {
        self.maps.lock().ok()?.access_keys.get(id).cloned()
    }

    pub fn fill_access_key(&self, t: Ticket, k: &AccessKeyRecord) {
        self.fill(t, |m| {
            bounded(&mut m.access_keys);
            m.access_keys.insert(k.access_key_id.clone(), k.clone());
        });
    }

    /// A key was added, changed or removed: drop what is cached about it.
    pub fn forget_access_key(&self, id: &str) {
        self.committed(|m| {
            m.access_keys.remove(id);
        });
    }

    /// Every key's sealed secret changed (root key rotation): drop them all.
    pub fn forget_all_access_keys(&self) {
        self.committed(|m| m.access_keys.clear());
    }
}

impl Cache {
    pub fn organization(&self) -> Option<Option<Organization>> {
        self.maps.lock().ok()?.organization.clone()
    }

    /// When the organization is cached: the id of the one `account` is a member of, if any,
    /// without copying the organization.
    pub fn organization_id_of(&self, account: &str) -> Option<Option<String>> {
        let m = self.maps.lock().ok()?;
        let org = m.organization.as_ref()?;
        Some(
            org.as_ref()
                .filter(|o| o.accounts.iter().any(|a| a.id == account))
                .map(|o| o.id.clone()),
        )
    }

    pub fn fill_organization(&self, t: Ticket, org: &Option<Organization>) {
        self.fill(t, |m| m.organization = Some(org.clone()));
    }

    pub fn forget_organization(&self) {
        self.committed(|m| m.organization = None);
    }
}

#[cfg(test)]
mod tests {
    use kinko_core::Timestamp;

    use super::*;

    fn secret(revision: i64, description: &str) -> Secret {
        Secret {
            arn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf".into(),
            name: "s".into(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            description: Some(description.into()),
            kms_key_id: None,
            tags: None,
            resource_policy: None,
            resource_policy_principals: vec![],
            secret_type: None,
            created_date: Timestamp(0),
            last_changed_date: Timestamp(0),
            last_accessed_date: None,
            deleted_date: None,
            deletion_date: None,
            versions: vec![],
            revision,
        }
    }

    #[test]
    fn a_late_update_of_an_older_revision_is_ignored() {
        let cache = Cache::default();
        let newer = secret(3, "second writer");
        cache.put_secret(&newer, &[], &[]);
        // The first writer committed revision 2 before, but updates the cache after.
        cache.put_secret(&secret(2, "first writer"), &[], &[]);
        let cached = cache.secret_by_arn(&newer.arn).expect("cached");
        assert_eq!(
            (cached.revision, cached.description.as_deref()),
            (3, Some("second writer"))
        );
        cache.put_secret(&secret(4, "third writer"), &[], &[]);
        assert_eq!(cache.secret_by_arn(&newer.arn).expect("cached").revision, 4);
    }
}
