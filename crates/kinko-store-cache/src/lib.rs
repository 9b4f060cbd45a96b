//! The one cache layer in front of any [`Store`]: [`CachedStore`] is itself a `Store`, holds the
//! hot reads (secrets by ARN and by name, sealed values, KMS keys, aliases, IAM state and its
//! revision, the organization and `organization_id_of`, access keys) in a bounded cache with real
//! eviction (`quick_cache`, weighed by approximate bytes), and passes everything else through.
//!
//! It knows nothing of any backend: it depends on `kinko-core` only.
//!
//! # Never back in time
//!
//! Writers never put what they wrote into the cache; after the backend call returns (committed,
//! failed or in doubt) they *invalidate* what it touched. Readers fill the cache with what they
//! read, stamped with a ticket taken before their read began, and an entry is served only while
//! nothing it depends on was invalidated after its ticket (see `validity`). So whatever order
//! concurrent writers and readers finish in, an entry older than an acknowledged write is never
//! served: a slow writer cannot put an older IAM state back, and a read that straddles a write
//! cannot leave the old state behind.
//!
//! # Freshness modes
//!
//! [`Freshness::SingleProcess`]: this process is the only writer of the backend (the SQLite data
//! dir is locked by the server). Every write goes through this layer and invalidates before it
//! returns, so a read that begins after a write returned never gets an entry from before it: a
//! hit is a memory lookup, with no backend round trip.
//!
//! [`Freshness::Shared`]: several processes write the same database. Before it serves a read from
//! the cache, the layer applies every change committed before the read began, from the backend's
//! change feed ([`Store::changes_since`]): the keys each write transaction changed, in commit
//! order. It waits for a feed query that started after the read began (concurrent readers share
//! one, see `feed`), invalidates every key it reports (or everything, when the feed was truncated)
//! and only then looks at the cache. A change another process committed before the read began is
//! in that query's answer, so its invalidation is recorded before the lookup, and any entry read
//! before the change is refused as in single-process mode. A cache miss reads the backend after
//! that, and sees the change too.
//!
//! A feed query per read would put the database on every request's path. Instead, every write
//! through this layer that succeeded waits [`COMMIT_WAIT`] after its commit before it returns (it
//! is *acknowledged* only then), and a read needs no query while the latest applied one was sent
//! less than four fifths of that ago: such a query was sent after the commit of every write
//! acknowledged before the read began, so its answer is already applied (see `feed`). Under load
//! that is one feed query every few milliseconds for all reads together, and a read waits for one
//! only when none was sent recently; writes pay the commit wait in latency, not in CPU. A write that
//! failed needs no wait: it was not acknowledged.

mod entries;
mod feed;
mod validity;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kinko_core::Timestamp;
use kinko_core::iam::IamState;
use kinko_core::kms::{KmsAlias, KmsKey, WrappedMaterial};
use kinko_core::lambda::{Function, FunctionWrite};
use kinko_core::mfa::MfaDevice;
use kinko_core::organizations::Organization;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus};
use kinko_core::secret::Secret;
use kinko_core::store::{
    Account, ChangedKey, Changes, Lease, ListPage, RewrapCounts, RootFence, RootRewrap, SealedValue,
    SecretWrite, Store, StoreError,
};
use kinko_core::workload::Attachment;

use entries::{Data, ENTRY_OVERHEAD, Entry, EntryKey, KeyRef, Weigh};
use feed::{Apply, Feed};
use validity::{Unit, Validity};

/// The default bound of the cache: 64 MiB of cached data (by its approximate size). A million
/// secrets read once (metadata, name and sealed value each) would weigh about 1.5 GB; the bound
/// keeps the hottest part and the server well below 256 MB resident.
pub const DEFAULT_CAPACITY: u64 = 64 * 1024 * 1024;

/// Shared mode: how long a successful write waits after its commit before it returns, so that
/// other processes' caches need no feed query for reads of the next few milliseconds (see the
/// crate docs). Long enough for a feed query's round trip to a database on the same network.
pub const COMMIT_WAIT: Duration = Duration::from_millis(5);

/// Whether other processes write the same database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// This process is the only writer: writes invalidate, hits are served from memory.
    SingleProcess,
    /// Several processes share the database: every cached read first applies the change feed.
    Shared,
}

#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// Bound of the cached data, in bytes (approximate sizes); 0 caches nothing.
    pub capacity: u64,
    pub freshness: Freshness,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: DEFAULT_CAPACITY,
            freshness: Freshness::SingleProcess,
        }
    }
}

/// Counters since the cache was made, for the hit rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Cached reads answered from memory.
    pub hits: u64,
    /// Cached reads that went to the backend.
    pub misses: u64,
    /// Entries held now.
    pub entries: u64,
    /// Their approximate size in bytes, at most `capacity`.
    pub weight: u64,
    pub capacity: u64,
    /// Change feed queries run (shared mode).
    pub feed_queries: u64,
}

/// A [`Store`] in front of another, caching its hot reads (see the crate docs).
pub struct CachedStore<S: Store + ?Sized = dyn Store> {
    inner: Arc<S>,
    entries: quick_cache::sync::Cache<EntryKey, Entry, Weigh>,
    validity: Validity,
    feed: Option<Feed>,
    /// Shared mode: how long a successful write waits before it returns.
    commit_wait: Duration,
    capacity: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    feed_queries: AtomicU64,
    /// Shared mode: signalled when the change feed reports a root key rotation by another process
    /// (or changes too many to list, which may hide one).
    root_sealed: Arc<tokio::sync::Notify>,
}

impl<S: Store + ?Sized> CachedStore<S> {
    pub fn new(inner: Arc<S>, config: CacheConfig) -> Self {
        // Sizes the cache's table; entries average well above 512 bytes.
        let items = usize::try_from(config.capacity / 512)
            .unwrap_or(usize::MAX)
            .clamp(64, 1 << 20);
        CachedStore {
            inner,
            entries: quick_cache::sync::Cache::with_weighter(items, config.capacity.max(1), Weigh),
            validity: Validity::new(),
            feed: (config.freshness == Freshness::Shared).then(|| Feed::new(window(COMMIT_WAIT))),
            commit_wait: COMMIT_WAIT,
            capacity: config.capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            feed_queries: AtomicU64::new(0),
            root_sealed: Arc::default(),
        }
    }

    /// Signalled (one stored permit) when the change feed shows that another process may have
    /// rotated the root key: the server then re-reads the check value and switches keys.
    pub fn root_sealed_changes(&self) -> Arc<tokio::sync::Notify> {
        self.root_sealed.clone()
    }

    /// Shared mode: waits `wait` after each successful write instead of [`COMMIT_WAIT`] (every
    /// process sharing the database must use the same). Zero makes every cached read query the
    /// change feed.
    #[must_use]
    pub fn with_commit_wait(mut self, wait: Duration) -> Self {
        if self.feed.is_some() {
            self.feed = Some(Feed::new(window(wait)));
            self.commit_wait = wait;
        }
        self
    }

    /// Shared mode: after a write that succeeded, waits until other processes' caches may no
    /// longer serve reads from before it (see the crate docs). Failed writes return at once.
    async fn acknowledge<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if self.feed.is_some() && r.is_ok() && !self.commit_wait.is_zero() {
            tokio::time::sleep(self.commit_wait).await;
        }
        r
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    pub fn freshness(&self) -> Freshness {
        if self.feed.is_some() {
            Freshness::Shared
        } else {
            Freshness::SingleProcess
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.entries.len() as u64,
            weight: self.entries.weight(),
            capacity: self.capacity,
            feed_queries: self.feed_queries.load(Ordering::Relaxed),
        }
    }

    /// Shared mode: applies every change committed before now (a no-op in single-process mode).
    async fn catch_up(&self) -> Result<(), StoreError> {
        let Some(feed) = &self.feed else {
            return Ok(());
        };
        let ran = feed
            .catch_up(self.inner.as_ref(), |apply| match apply {
                Apply::ClearAll => {
                    self.clear();
                    self.root_sealed.notify_one();
                }
                Apply::Keys(keys) => self.apply_changes(keys),
            })
            .await?;
        if ran {
            self.feed_queries.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn apply_changes(&self, keys: &[ChangedKey]) {
        let mut units = Vec::with_capacity(keys.len());
        for k in keys {
            match k {
                ChangedKey::Secret(arn) => units.push(Unit::Secret(arn)),
                ChangedKey::KmsKey(arn) => units.push(Unit::KmsKey(arn)),
                ChangedKey::KmsAlias {
                    account_id,
                    region,
                    alias_name,
                } => units.push(Unit::Alias(account_id, region, alias_name)),
                ChangedKey::IamState(account) => units.push(Unit::Iam(account)),
                ChangedKey::Organization => units.push(Unit::Organization),
                ChangedKey::AccessKey(id) => units.push(Unit::AccessKey(id)),
                // Cached access keys hold sealed secrets: a root key rotation changed them all.
                ChangedKey::RootSealed => {
                    self.root_sealed.notify_one();
                    return self.clear();
                }
                // Not cached.
                ChangedKey::Meta(_)
                | ChangedKey::Account(_)
                | ChangedKey::Attachment(_)
                | ChangedKey::Function(_)
                | ChangedKey::MfaDevice(_) => {}
            }
        }
        if !units.is_empty() {
            self.validity.invalidate(&units);
        }
    }

    fn clear(&self) {
        self.validity.clear();
        self.entries.clear();
    }

    fn counted<T>(&self, hit: Option<T>) -> Option<T> {
        let counter = if hit.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// A valid entry under `key` that depends on `units`.
    fn lookup(&self, key: KeyRef<'_>, units: &[Unit<'_>]) -> Option<Data> {
        let e = self.entries.get(&key)?;
        self.validity.valid(e.stamp, units).then_some(e.data)
    }

    /// Caches what a read that took `ticket` returned, unless it is already known to be stale.
    fn fill(&self, key: KeyRef<'_>, ticket: u64, units: &[Unit<'_>], data: Data) {
        if self.capacity == 0 || !self.validity.valid(ticket, units) {
            return;
        }
        let weight = key.text_len() + data.size() + ENTRY_OVERHEAD;
        let entry = Entry {
            stamp: ticket,
            weight: u32::try_from(weight).unwrap_or(u32::MAX),
            data,
        };
        self.entries.insert(key.to_key(), entry);
    }

    /// After a write that changed (or may have changed) `units`: entries read before now are
    /// invalid; `drop` are removed to free their memory at once.
    /// What a secret write touches, known before it moves into the backend: the secret, and the
    /// cached values it replaces or removes (to free them; they are invalid anyway).
    fn touched(&self, write: &SecretWrite) -> (String, Vec<String>) {
        match write {
            SecretWrite::Create { secret, .. } => (secret.arn.clone(), Vec::new()),
            SecretWrite::Update {
                secret,
                new_values,
                removed_versions,
            } => (
                secret.arn.clone(),
                new_values
                    .iter()
                    .map(|(v, _)| v.clone())
                    .chain(removed_versions.iter().cloned())
                    .collect(),
            ),
            SecretWrite::Delete { arn, .. } => {
                let cached = self.entries.get(&KeyRef::Secret(arn));
                let versions = match cached {
                    Some(Entry {
                        data: Data::Secret(s),
                        ..
                    }) => s.versions.iter().map(|v| v.id.clone()).collect(),
                    _ => Vec::new(),
                };
                (arn.clone(), versions)
            }
        }
    }

    /// After secret writes (committed or not): their secrets and values are stale.
    fn forget(&self, touched: &[(String, Vec<String>)]) {
        for (arn, versions) in touched {
            let mut drop: Vec<KeyRef<'_>> = versions.iter().map(|v| KeyRef::Value(arn, v)).collect();
            drop.push(KeyRef::Secret(arn));
            self.written(&[Unit::Secret(arn)], &drop);
        }
    }

    fn written(&self, units: &[Unit<'_>], drop: &[KeyRef<'_>]) {
        self.validity.invalidate(units);
        for k in drop {
            self.entries.remove(k);
        }
    }

    fn cached_secret(&self, arn: &str) -> Option<Arc<Secret>> {
        match self.lookup(KeyRef::Secret(arn), &[Unit::Secret(arn)])? {
            Data::Secret(s) => Some(s),
            _ => None,
        }
    }

    fn fill_secret(&self, ticket: u64, s: &Secret) {
        let units = [Unit::Secret(&s.arn)];
        self.fill(
            KeyRef::Secret(&s.arn),
            ticket,
            &units,
            Data::Secret(Arc::new(s.clone())),
        );
        self.fill(
            KeyRef::SecretName(&s.account_id, &s.region, &s.name),
            ticket,
            &units,
            Data::Arn(Arc::from(s.arn.as_str())),
        );
    }

    async fn iam(&self, account_id: &str) -> Result<Arc<IamState>, StoreError> {
        self.catch_up().await?;
        let units = [Unit::Iam(account_id)];
        if let Some(Data::Iam(s)) = self.counted(self.lookup(KeyRef::Iam(account_id), &units)) {
            return Ok(s);
        }
        let ticket = self.validity.ticket();
        let s = Arc::new(self.inner.iam_state(account_id).await?);
        self.fill(KeyRef::Iam(account_id), ticket, &units, Data::Iam(s.clone()));
        Ok(s)
    }

    async fn org(&self) -> Result<Arc<Option<Organization>>, StoreError> {
        self.catch_up().await?;
        let units = [Unit::Organization];
        if let Some(Data::Organization(o)) = self.counted(self.lookup(KeyRef::Organization, &units)) {
            return Ok(o);
        }
        let ticket = self.validity.ticket();
        let o = Arc::new(self.inner.organization().await?);
        self.fill(
            KeyRef::Organization,
            ticket,
            &units,
            Data::Organization(o.clone()),
        );
        Ok(o)
    }

    fn access_key_written(&self, id: &str) {
        self.written(&[Unit::AccessKey(id)], &[KeyRef::AccessKey(id)]);
    }

    fn kms_key_written(&self, arn: &str) {
        self.written(&[Unit::KmsKey(arn)], &[KeyRef::KmsKey(arn)]);
    }

    fn alias_written(&self, account_id: &str, region: &str, alias_name: &str) {
        self.written(
            &[Unit::Alias(account_id, region, alias_name)],
            &[KeyRef::Alias(account_id, region, alias_name)],
        );
    }
}

/// How long after it was sent an applied feed query serves reads: four fifths of the commit
/// wait, the rest a margin for the processes' clocks running at slightly different rates.
fn window(commit_wait: Duration) -> Duration {
    commit_wait * 4 / 5
}

#[async_trait]
impl<S: Store + ?Sized> Store for CachedStore<S> {
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.meta_get(key).await
    }

    async fn meta_put_if_absent(&self, key: &str, value: Vec<u8>) -> Result<bool, StoreError> {
        self.inner.meta_put_if_absent(key, value).await
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        self.inner.account(account_id).await
    }

    async fn put_account(&self, account: Account) -> Result<(), StoreError> {
        self.inner.put_account(account).await
    }

    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        self.catch_up().await?;
        let units = [Unit::AccessKey(access_key_id)];
        if let Some(Data::AccessKey(k)) = self.counted(self.lookup(KeyRef::AccessKey(access_key_id), &units))
        {
            return Ok(Some((*k).clone()));
        }
        let ticket = self.validity.ticket();
        let k = self.inner.access_key(access_key_id).await?;
        if let Some(k) = &k {
            self.fill(
                KeyRef::AccessKey(access_key_id),
                ticket,
                &units,
                Data::AccessKey(Arc::new(k.clone())),
            );
        }
        Ok(k)
    }

    async fn put_access_key(&self, key: AccessKeyRecord) -> Result<(), StoreError> {
        let id = key.access_key_id.clone();
        let r = self.inner.put_access_key(key).await;
        self.access_key_written(&id);
        self.acknowledge(r).await
    }

    async fn list_access_keys(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>, StoreError> {
        self.inner.list_access_keys(account_id, user_name).await
    }

    async fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<bool, StoreError> {
        let r = self.inner.update_access_key_status(access_key_id, status).await;
        self.access_key_written(access_key_id);
        self.acknowledge(r).await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let r = self.inner.delete_access_key(access_key_id).await;
        self.access_key_written(access_key_id);
        self.acknowledge(r).await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.inner.list_accounts().await
    }

    // MFA devices are not cached: each use of one is a write (its last accepted code) anyway.
    async fn mfa_device(&self, serial_number: &str) -> Result<Option<MfaDevice>, StoreError> {
        self.inner.mfa_device(serial_number).await
    }

    async fn list_mfa_devices(&self, account_id: &str) -> Result<Vec<MfaDevice>, StoreError> {
        self.inner.list_mfa_devices(account_id).await
    }

    async fn create_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        let r = self.inner.create_mfa_device(device).await;
        self.acknowledge(r).await
    }

    async fn update_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        let r = self.inner.update_mfa_device(device).await;
        self.acknowledge(r).await
    }

    async fn delete_mfa_device(&self, serial_number: &str, revision: i64) -> Result<(), StoreError> {
        let r = self.inner.delete_mfa_device(serial_number, revision).await;
        self.acknowledge(r).await
    }

    async fn iam_state(&self, account_id: &str) -> Result<IamState, StoreError> {
        Ok((*self.iam(account_id).await?).clone())
    }

    async fn iam_revision(&self, account_id: &str) -> Result<i64, StoreError> {
        Ok(self.iam(account_id).await?.revision)
    }

    async fn write_iam_state(&self, state: IamState) -> Result<(), StoreError> {
        let account = state.account_id.clone();
        let r = self.inner.write_iam_state(state).await;
        self.written(&[Unit::Iam(&account)], &[KeyRef::Iam(&account)]);
        self.acknowledge(r).await
    }

    /// Not cached: asked once per console sign-in by alias.
    async fn account_by_alias(&self, alias: &str) -> Result<Option<String>, StoreError> {
        self.inner.account_by_alias(alias).await
    }

    async fn organization(&self) -> Result<Option<Organization>, StoreError> {
        Ok((*self.org().await?).clone())
    }

    async fn organization_id_of(&self, account_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .org()
            .await?
            .as_ref()
            .as_ref()
            .filter(|o| o.accounts.iter().any(|a| a.id == account_id))
            .map(|o| o.id.clone()))
    }

    async fn write_organization(&self, org: Organization) -> Result<(), StoreError> {
        let r = self.inner.write_organization(org).await;
        self.written(&[Unit::Organization], &[KeyRef::Organization]);
        self.acknowledge(r).await
    }

    async fn create_member_account(
        &self,
        org: Organization,
        account: Account,
        iam: IamState,
    ) -> Result<(), StoreError> {
        let id = iam.account_id.clone();
        let r = self.inner.create_member_account(org, account, iam).await;
        self.written(
            &[Unit::Organization, Unit::Iam(&id)],
            &[KeyRef::Organization, KeyRef::Iam(&id)],
        );
        self.acknowledge(r).await
    }

    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Secret>, StoreError> {
        self.catch_up().await?;
        // The name entry only says which secret had the name when it was read. While that secret's
        // own entry is valid, nothing wrote it since: it still exists under that name, and names
        // are unique in an account and region, so it is the one.
        let hit = match self.entries.get(&KeyRef::SecretName(account_id, region, name)) {
            Some(Entry {
                data: Data::Arn(arn), ..
            }) => self
                .cached_secret(&arn)
                .filter(|s| s.name == name && s.account_id == account_id && s.region == region),
            _ => None,
        };
        if let Some(s) = self.counted(hit) {
            return Ok(Some((*s).clone()));
        }
        let ticket = self.validity.ticket();
        let s = self.inner.secret_by_name(account_id, region, name).await?;
        if let Some(s) = &s {
            self.fill_secret(ticket, s);
        }
        Ok(s)
    }

    async fn secret_by_arn(&self, arn: &str) -> Result<Option<Secret>, StoreError> {
        self.catch_up().await?;
        if let Some(s) = self.counted(self.cached_secret(arn)) {
            return Ok(Some((*s).clone()));
        }
        let ticket = self.validity.ticket();
        let s = self.inner.secret_by_arn(arn).await?;
        if let Some(s) = &s {
            self.fill_secret(ticket, s);
        }
        Ok(s)
    }

    async fn list_secrets(&self, account_id: &str, region: &str) -> Result<Vec<Secret>, StoreError> {
        self.inner.list_secrets(account_id, region).await
    }

    async fn list_secrets_page(
        &self,
        account_id: &str,
        region: &str,
        filters: &[kinko_core::filters::Filter],
        page: ListPage,
    ) -> Result<(Vec<Secret>, bool), StoreError> {
        self.inner
            .list_secrets_page(account_id, region, filters, page)
            .await
    }

    async fn sealed_value(&self, arn: &str, version_id: &str) -> Result<Option<SealedValue>, StoreError> {
        self.catch_up().await?;
        let units = [Unit::Secret(arn)];
        let key = KeyRef::Value(arn, version_id);
        if let Some(Data::Value(v)) = self.counted(self.lookup(key, &units)) {
            return Ok(Some((*v).clone()));
        }
        let ticket = self.validity.ticket();
        let v = self.inner.sealed_value(arn, version_id).await?;
        if let Some(v) = &v {
            self.fill(key, ticket, &units, Data::Value(Arc::new(v.clone())));
        }
        Ok(v)
    }

    async fn write_secret(&self, write: SecretWrite) -> Result<(), StoreError> {
        let touched = self.touched(&write);
        let r = self.inner.write_secret(write).await;
        self.forget(&[touched]);
        self.acknowledge(r).await
    }

    async fn write_secrets(&self, writes: Vec<SecretWrite>) -> Result<(), StoreError> {
        let touched: Vec<_> = writes.iter().map(|w| self.touched(w)).collect();
        let r = self.inner.write_secrets(writes).await;
        self.forget(&touched);
        self.acknowledge(r).await
    }

    async fn secrets_due_for_deletion(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.inner.secrets_due_for_deletion(now, limit).await
    }

    async fn secrets_due_for_rotation(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.inner.secrets_due_for_rotation(now, limit).await
    }

    async fn kms_key(&self, arn: &str) -> Result<Option<KmsKey>, StoreError> {
        self.catch_up().await?;
        let units = [Unit::KmsKey(arn)];
        if let Some(Data::KmsKey(k)) = self.counted(self.lookup(KeyRef::KmsKey(arn), &units)) {
            return Ok(Some((*k).clone()));
        }
        let ticket = self.validity.ticket();
        let k = self.inner.kms_key(arn).await?;
        if let Some(k) = &k {
            self.fill(
                KeyRef::KmsKey(arn),
                ticket,
                &units,
                Data::KmsKey(Arc::new(k.clone())),
            );
        }
        Ok(k)
    }

    async fn kms_alias_target(
        &self,
        account_id: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<String>, StoreError> {
        self.catch_up().await?;
        let key = KeyRef::Alias(account_id, region, alias);
        let alias_unit = Unit::Alias(account_id, region, alias);
        // Deleting a key removes its aliases: an alias entry depends on its target key too.
        let hit = self.entries.get(&key).and_then(|e| match e.data {
            Data::Arn(target) if self.validity.valid(e.stamp, &[alias_unit, Unit::KmsKey(&target)]) => {
                Some(target)
            }
            _ => None,
        });
        if let Some(target) = self.counted(hit) {
            return Ok(Some(target.as_ref().to_owned()));
        }
        let ticket = self.validity.ticket();
        let target = self.inner.kms_alias_target(account_id, region, alias).await?;
        if let Some(t) = &target {
            self.fill(
                key,
                ticket,
                &[alias_unit, Unit::KmsKey(t)],
                Data::Arn(Arc::from(t.as_str())),
            );
        }
        Ok(target)
    }

    async fn create_kms_key(
        &self,
        key: KmsKey,
        material: WrappedMaterial,
        alias: Option<String>,
    ) -> Result<(), StoreError> {
        let (arn, account, region) = (key.arn.clone(), key.account_id.clone(), key.region.clone());
        let alias_name = alias.clone();
        let r = self.inner.create_kms_key(key, material, alias).await;
        self.kms_key_written(&arn);
        if let Some(a) = &alias_name {
            self.alias_written(&account, &region, a);
        }
        self.acknowledge(r).await
    }

    async fn kms_material(&self, key_arn: &str, version: u32) -> Result<Option<WrappedMaterial>, StoreError> {
        self.inner.kms_material(key_arn, version).await
    }

    async fn all_kms_materials(&self) -> Result<Vec<WrappedMaterial>, StoreError> {
        self.inner.all_kms_materials().await
    }

    async fn rewrap_root_sealed(
        &self,
        meta_keys: &[&str],
        rewrap: Arc<RootRewrap>,
    ) -> Result<RewrapCounts, StoreError> {
        let r = self.inner.rewrap_root_sealed(meta_keys, rewrap).await;
        // Cached access keys hold their secrets as sealed before.
        self.clear();
        self.acknowledge(r).await
    }

    async fn fence_root_sealed(&self, fence: RootFence) {
        self.inner.fence_root_sealed(fence).await
    }

    async fn update_kms_key(&self, key: KmsKey) -> Result<(), StoreError> {
        let arn = key.arn.clone();
        let r = self.inner.update_kms_key(key).await;
        self.kms_key_written(&arn);
        self.acknowledge(r).await
    }

    async fn add_kms_material(&self, key: KmsKey, material: WrappedMaterial) -> Result<(), StoreError> {
        let arn = key.arn.clone();
        let r = self.inner.add_kms_material(key, material).await;
        self.kms_key_written(&arn);
        self.acknowledge(r).await
    }

    async fn list_kms_keys(&self, account_id: &str, region: &str) -> Result<Vec<KmsKey>, StoreError> {
        self.inner.list_kms_keys(account_id, region).await
    }

    async fn delete_kms_key(&self, arn: &str, revision: i64) -> Result<(), StoreError> {
        let r = self.inner.delete_kms_key(arn, revision).await;
        self.kms_key_written(arn);
        self.acknowledge(r).await
    }

    async fn kms_keys_due_for_deletion(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KmsKey>, StoreError> {
        self.inner.kms_keys_due_for_deletion(now, limit).await
    }

    async fn kms_keys_due_for_rotation(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KmsKey>, StoreError> {
        self.inner.kms_keys_due_for_rotation(now, limit).await
    }

    async fn list_kms_aliases(&self, account_id: &str, region: &str) -> Result<Vec<KmsAlias>, StoreError> {
        self.inner.list_kms_aliases(account_id, region).await
    }

    async fn create_kms_alias(&self, alias: KmsAlias) -> Result<(), StoreError> {
        let (account, region, name) = (
            alias.account_id.clone(),
            alias.region.clone(),
            alias.alias_name.clone(),
        );
        let r = self.inner.create_kms_alias(alias).await;
        self.alias_written(&account, &region, &name);
        self.acknowledge(r).await
    }

    async fn update_kms_alias(&self, alias: KmsAlias) -> Result<bool, StoreError> {
        let (account, region, name) = (
            alias.account_id.clone(),
            alias.region.clone(),
            alias.alias_name.clone(),
        );
        let r = self.inner.update_kms_alias(alias).await;
        self.alias_written(&account, &region, &name);
        self.acknowledge(r).await
    }

    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<bool, StoreError> {
        let r = self.inner.delete_kms_alias(account_id, region, alias_name).await;
        self.alias_written(account_id, region, alias_name);
        self.acknowledge(r).await
    }

    // Attachments are never cached: the credentials endpoints read them from the store on every
    // request, so a revocation on any node stops them at once everywhere.
    async fn create_attachment(&self, attachment: Attachment) -> Result<(), StoreError> {
        self.inner.create_attachment(attachment).await
    }

    async fn attachment_by_port(&self, port: u16) -> Result<Option<Attachment>, StoreError> {
        self.inner.attachment_by_port(port).await
    }

    async fn attachment_by_token(&self, token_sha256: &str) -> Result<Option<Attachment>, StoreError> {
        self.inner.attachment_by_token(token_sha256).await
    }

    async fn list_attachments(&self, account_id: Option<&str>) -> Result<Vec<Attachment>, StoreError> {
        self.inner.list_attachments(account_id).await
    }

    async fn delete_attachment(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_attachment(account_id, id).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.acquire_lease(name, holder, now, expires).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        self.inner.release_lease(name, holder).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.inner.lease(name).await
    }

    // Functions are not cached: they are read once per API call, and the runner keeps the
    // instances of a function's revision warm on its own.
    async fn function(&self, arn: &str) -> Result<Option<Function>, StoreError> {
        self.inner.function(arn).await
    }

    async fn list_functions(&self, account_id: &str, region: &str) -> Result<Vec<Function>, StoreError> {
        self.inner.list_functions(account_id, region).await
    }

    async fn function_code(&self, arn: &str, code_sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.function_code(arn, code_sha256).await
    }

    async fn write_function(&self, write: FunctionWrite) -> Result<(), StoreError> {
        self.inner.write_function(write).await
    }

    // Stacks are not cached: the stack engine and the API read them a few times per operation.
    async fn stack(&self, stack_id: &str) -> Result<Option<kinko_core::stack::Stack>, StoreError> {
        self.inner.stack(stack_id).await
    }
    async fn list_stacks(
        &self,
        account_id: &str,
        region: &str,
    ) -> Result<Vec<kinko_core::stack::Stack>, StoreError> {
        self.inner.list_stacks(account_id, region).await
    }
    async fn write_stack(&self, stack: kinko_core::stack::Stack) -> Result<(), StoreError> {
        self.inner.write_stack(stack).await
    }
    async fn stacks_in_operation(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        self.inner.stacks_in_operation(limit).await
    }

    async fn changes_since(&self, seq: u64) -> Result<(u64, Changes), StoreError> {
        self.inner.changes_since(seq).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.check_writable().await
    }

    fn close(&self) {
        self.inner.close();
    }
}
