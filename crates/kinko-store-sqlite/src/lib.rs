//! The embedded store: [`kinko_core::store::Store`] on a SQLite file (WAL, `synchronous=FULL`).
//!
//! Writes go to one writer thread that commits whatever is queued as one transaction (group commit:
//! many acknowledged writes per fsync), each write inside its own savepoint so one failing write
//! never spoils the others. A write is acknowledged only after its transaction committed. Reads use
//! their own connections and never wait for the writer (WAL).
//!
//! Everything SQLite-specific lives in this crate: the schema (`migrations/`), the SQL, the pragmas.

mod conn;
mod queries;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use kinko_core::Timestamp;
use kinko_core::kms::{KmsKey, WrappedMaterial};
use kinko_core::principal::AccessKeyRecord;
use kinko_core::secret::Secret;
use kinko_core::store::{Account, SealedValue, SecretWrite, Store, StoreError};

use conn::Db;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteStore {
            db: Arc::new(Db::open_file(path)?),
        })
    }

    /// A store that keeps nothing on disk (dev mode).
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(SqliteStore {
            db: Arc::new(Db::open_memory()?),
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
        let id = access_key_id.to_owned();
        self.db.read(move |c| queries::access_key(c, &id))
    }

    async fn put_access_key(&self, key: AccessKeyRecord) -> Result<(), StoreError> {
        self.db.write(move |c| queries::put_access_key(c, &key)).await
    }

    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Secret>, StoreError> {
        self.db
            .read(|c| queries::secret_by_name(c, account_id, region, name))
    }

    async fn secret_by_arn(&self, arn: &str) -> Result<Option<Secret>, StoreError> {
        self.db.read(|c| queries::secret_by_arn(c, arn))
    }

    async fn list_secrets(&self, account_id: &str, region: &str) -> Result<Vec<Secret>, StoreError> {
        self.db.read(|c| queries::list_secrets(c, account_id, region))
    }

    async fn sealed_value(&self, arn: &str, version_id: &str) -> Result<Option<SealedValue>, StoreError> {
        self.db.read(|c| queries::sealed_value(c, arn, version_id))
    }

    async fn write_secret(&self, write: SecretWrite) -> Result<(), StoreError> {
        self.db.write(move |c| queries::write_secret(c, &write)).await
    }

    async fn secrets_due_for_deletion(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.db.read(|c| queries::secrets_due_for_deletion(c, now, limit))
    }

    async fn kms_key(&self, arn: &str) -> Result<Option<KmsKey>, StoreError> {
        self.db.read(|c| queries::kms_key(c, arn))
    }

    async fn kms_alias_target(
        &self,
        account_id: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<String>, StoreError> {
        self.db
            .read(|c| queries::kms_alias_target(c, account_id, region, alias))
    }

    async fn create_kms_key(
        &self,
        key: KmsKey,
        material: WrappedMaterial,
        alias: Option<String>,
    ) -> Result<(), StoreError> {
        self.db
            .write(move |c| queries::create_kms_key(c, &key, &material, alias.as_deref()))
            .await
    }

    async fn kms_material(&self, key_arn: &str, version: u32) -> Result<Option<WrappedMaterial>, StoreError> {
        self.db.read(|c| queries::kms_material(c, key_arn, version))
    }

    async fn all_kms_materials(&self) -> Result<Vec<WrappedMaterial>, StoreError> {
        self.db.read(queries::all_kms_materials)
    }
}
