//! The embedded store: [`kinko_core::store::Store`] on a SQLite file (WAL, `synchronous=FULL`).
//!
//! Writes go to one writer thread that commits whatever is queued as one transaction (group commit:
//! many acknowledged writes per fsync), each write inside its own savepoint so one failing write
//! never spoils the others. A write is acknowledged only after its transaction committed. Reads use
//! their own connections and never wait for the writer (WAL).
//!
//! Everything SQLite-specific lives in this crate: the schema (`migrations/`), the SQL, the pragmas.

mod cache;
mod conn;
mod queries;
mod rewrap;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use kinko_core::Timestamp;
use kinko_core::iam::IamState;
use kinko_core::kms::{KmsAlias, KmsKey, WrappedMaterial};
use kinko_core::organizations::Organization;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus};
use kinko_core::secret::Secret;
use kinko_core::store::{
    Account, ListPage, RewrapCounts, RootRewrap, SealedValue, SecretWrite, Store, StoreError,
};

use cache::Cache;
use conn::Db;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
    cache: Arc<Cache>,
    /// The last root key rotation's re-wrap function, for root-sealed values written after it.
    late_rewrap: rewrap::Late,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteStore {
            db: Arc::new(Db::open_file(path)?),
            cache: Arc::default(),
            late_rewrap: rewrap::Late::default(),
        })
    }

    /// Reads one `meta` value from a database file without changing anything on disk: no
    /// migrations, no checkpoint (used to check the root key before opening the store).
    pub fn peek_meta(path: &Path, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        conn::peek_meta(path, key)
    }

    /// Writes a consistent copy of the database file at `path` to the new file `to` (mode 0600),
    /// also while a server writes to it.
    pub fn backup(path: &Path, to: &Path) -> Result<(), StoreError> {
        conn::backup(path, to)
    }

    /// A store that keeps nothing on disk (dev mode).
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(SqliteStore {
            db: Arc::new(Db::open_memory()?),
            cache: Arc::default(),
            late_rewrap: rewrap::Late::default(),
        })
    }

    /// Stops the writer after the queued writes and checkpoints the WAL into the main file.
    pub fn close(&self) {
        self.db.close();
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.db.read(move |c| queries::meta_get(c, &key))
    }

    async fn meta_put_if_absent(&self, key: &str, value: Vec<u8>) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.db
            .write(move |c| queries::meta_put_if_absent(c, &key, &value))
            .await
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let id = account_id.to_owned();
        self.db.read(move |c| queries::account(c, &id))
    }

    async fn put_account(&self, account: Account) -> Result<(), StoreError> {
        self.db.write(move |c| queries::put_account(c, &account)).await
    }

    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        if let Some(k) = self.cache.access_key(access_key_id) {
            return Ok(Some(k));
        }
        let t = self.cache.ticket();
        let k = self.db.read(|c| queries::access_key(c, access_key_id))?;
        if let Some(k) = &k {
            self.cache.fill_access_key(t, k);
        }
        Ok(k)
    }

    async fn put_access_key(&self, key: AccessKeyRecord) -> Result<(), StoreError> {
        let id = key.access_key_id.clone();
        let late = self.late_rewrap.clone();
        let r = self
            .db
            .write(move |c| queries::put_access_key(c, &late.access_key(key)?))
            .await;
        self.cache.forget_access_key(&id);
        r
    }

    async fn list_access_keys(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>, StoreError> {
        self.db
            .read(|c| queries::list_access_keys(c, account_id, user_name))
    }

    async fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<bool, StoreError> {
        let id = access_key_id.to_owned();
        let r = self
            .db
            .write(move |c| queries::update_access_key_status(c, &id, status))
            .await;
        self.cache.forget_access_key(access_key_id);
        r
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let id = access_key_id.to_owned();
        let r = self.db.write(move |c| queries::delete_access_key(c, &id)).await;
        self.cache.forget_access_key(access_key_id);
        r
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.db.read(queries::list_accounts)
    }

    async fn iam_state(&self, account_id: &str) -> Result<IamState, StoreError> {
        if let Some(s) = self.cache.iam_state(account_id) {
            return Ok(s);
        }
        let t = self.cache.ticket();
        let s = self.db.read(|c| queries::iam_state(c, account_id))?;
        self.cache.fill_iam_state(t, &s);
        Ok(s)
    }

    async fn iam_revision(&self, account_id: &str) -> Result<i64, StoreError> {
        if let Some(r) = self.cache.iam_revision(account_id) {
            return Ok(r);
        }
        Ok(self.iam_state(account_id).await?.revision)
    }

    async fn write_iam_state(&self, state: IamState) -> Result<(), StoreError> {
        let state = Arc::new(state);
        let s = state.clone();
        let r = self.db.write(move |c| queries::write_iam_state(c, &s)).await;
        match &r {
            Ok(()) => {
                let mut committed = (*state).clone();
                committed.revision += 1;
                self.cache.put_iam_state(&committed);
            }
            Err(_) => self.cache.forget_iam_state(&state.account_id),
        }
        r
    }

    async fn organization(&self) -> Result<Option<Organization>, StoreError> {
        if let Some(o) = self.cache.organization() {
            return Ok(o);
        }
        let t = self.cache.ticket();
        let o = self.db.read(queries::organization)?;
        self.cache.fill_organization(t, &o);
        Ok(o)
    }

    async fn organization_id_of(&self, account_id: &str) -> Result<Option<String>, StoreError> {
        if let Some(id) = self.cache.organization_id_of(account_id) {
            return Ok(id);
        }
        Ok(self
            .organization()
            .await?
            .filter(|o| o.accounts.iter().any(|a| a.id == account_id))
            .map(|o| o.id))
    }

    async fn write_organization(&self, org: Organization) -> Result<(), StoreError> {
        let r = self.db.write(move |c| queries::write_organization(c, &org)).await;
        self.cache.forget_organization();
        r
    }

    async fn create_member_account(
        &self,
        org: Organization,
        account: Account,
        iam: IamState,
    ) -> Result<(), StoreError> {
        let id = iam.account_id.clone();
        let r = self
            .db
            .write(move |c| queries::create_member_account(c, &org, &account, &iam))
            .await;
        self.cache.forget_iam_state(&id);
        self.cache.forget_organization();
        r
    }

    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Secret>, StoreError> {
        if let Some(s) = self.cache.secret_by_name(account_id, region, name) {
            return Ok(Some(s));
        }
        let t = self.cache.ticket();
        let s = self
            .db
            .read(|c| queries::secret_by_name(c, account_id, region, name))?;
        if let Some(s) = &s {
            self.cache.fill_secret(t, s);
        }
        Ok(s)
    }

    async fn secret_by_arn(&self, arn: &str) -> Result<Option<Secret>, StoreError> {
        if let Some(s) = self.cache.secret_by_arn(arn) {
            return Ok(Some(s));
        }
        let t = self.cache.ticket();
        let s = self.db.read(|c| queries::secret_by_arn(c, arn))?;
        if let Some(s) = &s {
            self.cache.fill_secret(t, s);
        }
        Ok(s)
    }

    async fn list_secrets(&self, account_id: &str, region: &str) -> Result<Vec<Secret>, StoreError> {
        self.db.read(|c| queries::list_secrets(c, account_id, region))
    }

    async fn list_secrets_page(
        &self,
        account_id: &str,
        region: &str,
        page: ListPage,
    ) -> Result<(Vec<Secret>, bool), StoreError> {
        self.db
            .read(|c| queries::list_secrets_page(c, account_id, region, page))
    }

    async fn sealed_value(&self, arn: &str, version_id: &str) -> Result<Option<SealedValue>, StoreError> {
        if let Some(v) = self.cache.value(arn, version_id) {
            return Ok(Some(v));
        }
        let t = self.cache.ticket();
        let v = self.db.read(|c| queries::sealed_value(c, arn, version_id))?;
        if let Some(v) = &v {
            self.cache.fill_value(t, arn, version_id, v);
        }
        Ok(v)
    }

    async fn write_secret(&self, write: SecretWrite) -> Result<(), StoreError> {
        let write = Arc::new(write);
        let w = write.clone();
        let result = self.db.write(move |c| queries::write_secret(c, &w)).await;
        match (&result, write.as_ref()) {
            (Ok(()), SecretWrite::Create { secret, values }) => {
                let mut s = secret.clone();
                s.revision = 1;
                self.cache.put_secret(&s, values, &[]);
            }
            (
                Ok(()),
                SecretWrite::Update {
                    secret,
                    new_values,
                    removed_versions,
                },
            ) => {
                let mut s = secret.clone();
                s.revision += 1;
                self.cache.put_secret(&s, new_values, removed_versions);
            }
            (Ok(()), SecretWrite::Delete { arn, .. }) => self.cache.remove_secret(arn),
            // The cached state lost a race: make the retry read the database.
            (Err(StoreError::Conflict), SecretWrite::Update { secret, .. }) => {
                self.cache.remove_secret(&secret.arn);
            }
            (Err(StoreError::Conflict), SecretWrite::Delete { arn, .. }) => self.cache.remove_secret(arn),
            (Err(StoreError::Conflict), SecretWrite::Create { secret, .. }) => {
                if let Some(old) = self
                    .cache
                    .secret_by_name(&secret.account_id, &secret.region, &secret.name)
                {
                    self.cache.remove_secret(&old.arn);
                }
                self.cache.bump();
            }
            (Err(_), _) => self.cache.bump(),
        }
        result
    }

    async fn secrets_due_for_deletion(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.db.read(|c| queries::secrets_due_for_deletion(c, now, limit))
    }

    async fn kms_key(&self, arn: &str) -> Result<Option<KmsKey>, StoreError> {
        if let Some(k) = self.cache.kms_key(arn) {
            return Ok(Some(k));
        }
        let t = self.cache.ticket();
        let k = self.db.read(|c| queries::kms_key(c, arn))?;
        if let Some(k) = &k {
            self.cache.fill_kms_key(t, k);
        }
        Ok(k)
    }

    async fn kms_alias_target(
        &self,
        account_id: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(a) = self.cache.alias(account_id, region, alias) {
            return Ok(Some(a));
        }
        let t = self.cache.ticket();
        let a = self
            .db
            .read(|c| queries::kms_alias_target(c, account_id, region, alias))?;
        if let Some(a) = &a {
            self.cache.fill_alias(t, account_id, region, alias, a);
        }
        Ok(a)
    }

    async fn create_kms_key(
        &self,
        key: KmsKey,
        material: WrappedMaterial,
        alias: Option<String>,
    ) -> Result<(), StoreError> {
        let (k, a) = (key.clone(), alias.clone());
        let late = self.late_rewrap.clone();
        let result = self
            .db
            .write(move |c| {
                let material = late.material(material)?;
                queries::create_kms_key(c, &key, &material, alias.as_deref())
            })
            .await;
        match &result {
            Ok(()) => {
                let mut k = k;
                k.revision = 1;
                self.cache.put_kms_key(&k, a.as_deref());
            }
            Err(_) => self.cache.bump(),
        }
        result
    }

    async fn kms_material(&self, key_arn: &str, version: u32) -> Result<Option<WrappedMaterial>, StoreError> {
        self.db.read(|c| queries::kms_material(c, key_arn, version))
    }

    async fn all_kms_materials(&self) -> Result<Vec<WrappedMaterial>, StoreError> {
        self.db.read(queries::all_kms_materials)
    }

    async fn rewrap_root_sealed(
        &self,
        meta_keys: &[&str],
        rewrap: Arc<RootRewrap>,
    ) -> Result<RewrapCounts, StoreError> {
        let meta_keys: Vec<String> = meta_keys.iter().map(|k| (*k).to_owned()).collect();
        let f = rewrap.clone();
        let (late, cache) = (self.late_rewrap.clone(), self.cache.clone());
        // Its own transaction's last work, so that every write queued after it sees the re-wrap
        // function installed, and only once the re-wrapped rows are committed.
        self.db
            .write_last(
                move |c| rewrap::rewrap_all(c, &meta_keys, f.as_ref()),
                move || {
                    late.set(rewrap);
                    // Cached records hold the secrets as sealed before.
                    cache.forget_all_access_keys();
                },
            )
            .await
    }

    async fn update_kms_key(&self, key: KmsKey) -> Result<(), StoreError> {
        let key = Arc::new(key);
        let k = key.clone();
        let r = self.db.write(move |c| queries::update_kms_key(c, &k)).await;
        self.after_key_write(&r, &key);
        r
    }

    async fn add_kms_material(&self, key: KmsKey, material: WrappedMaterial) -> Result<(), StoreError> {
        let key = Arc::new(key);
        let k = key.clone();
        let late = self.late_rewrap.clone();
        let r = self
            .db
            .write(move |c| queries::add_kms_material(c, &k, &late.material(material)?))
            .await;
        self.after_key_write(&r, &key);
        r
    }

    async fn list_kms_keys(&self, account_id: &str, region: &str) -> Result<Vec<KmsKey>, StoreError> {
        self.db.read(|c| queries::list_kms_keys(c, account_id, region))
    }

    async fn delete_kms_key(&self, arn: &str, revision: i64) -> Result<(), StoreError> {
        let a = arn.to_owned();
        let r = self
            .db
            .write(move |c| queries::delete_kms_key(c, &a, revision))
            .await;
        self.cache.forget_kms_key(arn);
        r
    }

    async fn kms_keys_due_for_deletion(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KmsKey>, StoreError> {
        self.db
            .read(|c| queries::kms_keys_due_for_deletion(c, now, limit))
    }

    async fn kms_keys_due_for_rotation(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KmsKey>, StoreError> {
        self.db
            .read(|c| queries::kms_keys_due_for_rotation(c, now, limit))
    }

    async fn list_kms_aliases(&self, account_id: &str, region: &str) -> Result<Vec<KmsAlias>, StoreError> {
        self.db.read(|c| queries::list_kms_aliases(c, account_id, region))
    }

    async fn create_kms_alias(&self, alias: KmsAlias) -> Result<(), StoreError> {
        let alias = Arc::new(alias);
        let a = alias.clone();
        let r = self.db.write(move |c| queries::create_kms_alias(c, &a)).await;
        self.after_alias_write(r.as_ref().map(|()| true), &alias);
        r
    }

    async fn update_kms_alias(&self, alias: KmsAlias) -> Result<bool, StoreError> {
        let alias = Arc::new(alias);
        let a = alias.clone();
        let r = self.db.write(move |c| queries::update_kms_alias(c, &a)).await;
        self.after_alias_write(r.as_ref().copied(), &alias);
        r
    }

    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<bool, StoreError> {
        let (acc, reg, name) = (account_id.to_owned(), region.to_owned(), alias_name.to_owned());
        let r = self
            .db
            .write(move |c| queries::delete_kms_alias(c, &acc, &reg, &name))
            .await;
        self.cache.forget_alias(account_id, region, alias_name);
        r
    }
}

impl SqliteStore {
    /// After a write of a key's metadata: cache the committed state, or forget the key when the
    /// write failed (a conflict means the cached copy is stale).
    fn after_key_write(&self, r: &Result<(), StoreError>, key: &KmsKey) {
        match r {
            Ok(()) => {
                let mut k = key.clone();
                k.revision += 1;
                self.cache.update_kms_key(&k);
            }
            Err(_) => self.cache.forget_kms_key(&key.arn),
        }
    }

    /// After an alias write: cache the new target when it was written, else forget the alias.
    fn after_alias_write(&self, r: Result<bool, &StoreError>, a: &KmsAlias) {
        match r {
            Ok(true) => self
                .cache
                .put_alias(&a.account_id, &a.region, &a.alias_name, &a.target_arn),
            _ => self.cache.forget_alias(&a.account_id, &a.region, &a.alias_name),
        }
    }
}
