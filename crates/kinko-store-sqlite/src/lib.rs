//! The embedded store: [`kinko_core::store::Store`] on a SQLite file (WAL, `synchronous=FULL`).
//!
//! Writes go to one writer thread that commits whatever is queued as one transaction (group commit:
//! many acknowledged writes per fsync), each write inside its own savepoint so one failing write
//! never spoils the others. A write is acknowledged only after its transaction committed. Reads use
//! their own connections and never wait for the writer (WAL).
//!
//! Every write transaction also appends the keys it changed to the `changes` table, the change
//! feed ([`Store::changes_since`]) that lets caches in several processes on one file stay fresh.
//! The store itself caches nothing: the cache layer in front of it (`kinko-store-cache`) does.
//!
//! Everything SQLite-specific lives in this crate: the schema (`migrations/`), the SQL, the pragmas.

mod conn;
mod queries;
mod rewrap;

use std::path::Path;
use std::sync::Arc;

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
    Account, Changes, Lease, ListPage, RewrapCounts, RootFence, RootRewrap, SealedValue, SecretWrite, Store,
    StoreError,
};
use kinko_core::workload::Attachment;

use conn::Db;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
    /// The last root key rotation's re-wrap function, for root-sealed values written after it.
    late_rewrap: rewrap::Late,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteStore {
            db: Arc::new(Db::open_file(path)?),
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
            late_rewrap: rewrap::Late::default(),
        })
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

    /// A small write while writes succeed; after a transaction failed to begin or commit (a full
    /// disk, a file size limit), a write larger than any one request makes (256 KiB: a 64 KiB
    /// value, a 20 KiB policy and their rows), since SQLite reuses the room a failed commit took in
    /// its WAL and a small write would pass where the next real one fails.
    async fn check_writable(&self) -> Result<(), StoreError> {
        const SMALL: usize = 16;
        const LARGE: usize = 256 * 1024;
        let failed = self.db.write_failed();
        let bytes = if failed { LARGE } else { SMALL };
        self.db.write(move |c| queries::probe_write(c, bytes)).await?;
        if failed {
            self.db.clear_write_failed();
        }
        Ok(())
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let id = account_id.to_owned();
        self.db.read(move |c| queries::account(c, &id))
    }

    async fn put_account(&self, account: Account) -> Result<(), StoreError> {
        self.db.write(move |c| queries::put_account(c, &account)).await
    }

    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        self.db.read(|c| queries::access_key(c, access_key_id))
    }

    async fn put_access_key(&self, key: AccessKeyRecord) -> Result<(), StoreError> {
        let late = self.late_rewrap.clone();
        self.db
            .write(move |c| queries::put_access_key(c, &late.access_key(key)?))
            .await
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
        self.db
            .write(move |c| queries::update_access_key_status(c, &id, status))
            .await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let id = access_key_id.to_owned();
        self.db.write(move |c| queries::delete_access_key(c, &id)).await
    }

    async fn mfa_device(&self, serial_number: &str) -> Result<Option<MfaDevice>, StoreError> {
        self.db.read(|c| queries::mfa_device(c, serial_number))
    }

    async fn list_mfa_devices(&self, account_id: &str) -> Result<Vec<MfaDevice>, StoreError> {
        self.db.read(|c| queries::list_mfa_devices(c, account_id))
    }

    async fn create_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        let late = self.late_rewrap.clone();
        self.db
            .write(move |c| queries::create_mfa_device(c, &late.mfa_device(device)?))
            .await
    }

    async fn update_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        self.db
            .write(move |c| queries::update_mfa_device(c, &device))
            .await
    }

    async fn delete_mfa_device(&self, serial_number: &str, revision: i64) -> Result<(), StoreError> {
        let serial_number = serial_number.to_owned();
        self.db
            .write(move |c| queries::delete_mfa_device(c, &serial_number, revision))
            .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.db.read(queries::list_accounts)
    }

    async fn iam_state(&self, account_id: &str) -> Result<IamState, StoreError> {
        self.db.read(|c| queries::iam_state(c, account_id))
    }

    async fn iam_revision(&self, account_id: &str) -> Result<i64, StoreError> {
        self.db.read(|c| queries::iam_revision(c, account_id))
    }

    async fn write_iam_state(&self, state: IamState) -> Result<(), StoreError> {
        self.db.write(move |c| queries::write_iam_state(c, &state)).await
    }

    async fn account_by_alias(&self, alias: &str) -> Result<Option<String>, StoreError> {
        self.db.read(|c| queries::account_by_alias(c, alias))
    }

    async fn organization(&self) -> Result<Option<Organization>, StoreError> {
        self.db.read(queries::organization)
    }

    async fn write_organization(&self, org: Organization) -> Result<(), StoreError> {
        self.db.write(move |c| queries::write_organization(c, &org)).await
    }

    async fn create_member_account(
        &self,
        org: Organization,
        account: Account,
        iam: IamState,
    ) -> Result<(), StoreError> {
        self.db
            .write(move |c| queries::create_member_account(c, &org, &account, &iam))
            .await
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

    async fn list_secrets_page(
        &self,
        account_id: &str,
        region: &str,
        filters: &[kinko_core::filters::Filter],
        page: ListPage,
    ) -> Result<(Vec<Secret>, bool), StoreError> {
        self.db
            .read(|c| queries::list_secrets_page(c, account_id, region, filters, &page))
    }

    async fn sealed_value(&self, arn: &str, version_id: &str) -> Result<Option<SealedValue>, StoreError> {
        self.db.read(|c| queries::sealed_value(c, arn, version_id))
    }

    async fn write_secret(&self, write: SecretWrite) -> Result<(), StoreError> {
        self.db.write(move |c| queries::write_secret(c, &write)).await
    }

    async fn write_secrets(&self, writes: Vec<SecretWrite>) -> Result<(), StoreError> {
        self.db
            .write(move |c| writes.iter().try_for_each(|w| queries::write_secret(c, w)))
            .await
    }

    async fn secrets_due_for_deletion(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.db.read(|c| queries::secrets_due_for_deletion(c, now, limit))
    }

    async fn secrets_due_for_rotation(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.db.read(|c| queries::secrets_due_for_rotation(c, now, limit))
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
        let late = self.late_rewrap.clone();
        self.db
            .write(move |c| {
                let material = late.material(material)?;
                queries::create_kms_key(c, &key, &material, alias.as_deref())
            })
            .await
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
        let late = self.late_rewrap.clone();
        // Its own transaction's last work, so that every write queued after it sees the re-wrap
        // function installed, and only once the re-wrapped rows are committed.
        self.db
            .write_last(
                move |c| rewrap::rewrap_all(c, &meta_keys, f.as_ref()),
                move || late.set(rewrap),
            )
            .await
    }

    async fn fence_root_sealed(&self, _fence: RootFence) {
        // One process writes a SQLite data dir (it holds the data dir's lock) and rotates it
        // itself: no other process can rotate it under this one.
    }

    async fn update_kms_key(&self, key: KmsKey) -> Result<(), StoreError> {
        self.db.write(move |c| queries::update_kms_key(c, &key)).await
    }

    async fn add_kms_material(&self, key: KmsKey, material: WrappedMaterial) -> Result<(), StoreError> {
        let late = self.late_rewrap.clone();
        self.db
            .write(move |c| queries::add_kms_material(c, &key, &late.material(material)?))
            .await
    }

    async fn list_kms_keys(&self, account_id: &str, region: &str) -> Result<Vec<KmsKey>, StoreError> {
        self.db.read(|c| queries::list_kms_keys(c, account_id, region))
    }

    async fn delete_kms_key(&self, arn: &str, revision: i64) -> Result<(), StoreError> {
        let a = arn.to_owned();
        self.db
            .write(move |c| queries::delete_kms_key(c, &a, revision))
            .await
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
        self.db.write(move |c| queries::create_kms_alias(c, &alias)).await
    }

    async fn update_kms_alias(&self, alias: KmsAlias) -> Result<bool, StoreError> {
        self.db.write(move |c| queries::update_kms_alias(c, &alias)).await
    }

    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<bool, StoreError> {
        let (acc, reg, name) = (account_id.to_owned(), region.to_owned(), alias_name.to_owned());
        self.db
            .write(move |c| queries::delete_kms_alias(c, &acc, &reg, &name))
            .await
    }

    async fn create_attachment(&self, attachment: Attachment) -> Result<(), StoreError> {
        self.db
            .write(move |c| queries::create_attachment(c, &attachment))
            .await
    }

    async fn attachment_by_port(&self, port: u16) -> Result<Option<Attachment>, StoreError> {
        self.db.read(move |c| queries::attachment_by_port(c, port))
    }

    async fn attachment_by_token(&self, token_sha256: &str) -> Result<Option<Attachment>, StoreError> {
        self.db.read(|c| queries::attachment_by_token(c, token_sha256))
    }

    async fn list_attachments(&self, account_id: Option<&str>) -> Result<Vec<Attachment>, StoreError> {
        self.db.read(|c| queries::list_attachments(c, account_id))
    }

    async fn delete_attachment(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let (account_id, id) = (account_id.to_owned(), id.to_owned());
        self.db
            .write(move |c| queries::delete_attachment(c, &account_id, &id))
            .await
    }

    async fn function(&self, arn: &str) -> Result<Option<Function>, StoreError> {
        self.db.read(|c| queries::function(c, arn))
    }

    async fn list_functions(&self, account_id: &str, region: &str) -> Result<Vec<Function>, StoreError> {
        self.db.read(|c| queries::list_functions(c, account_id, region))
    }

    async fn function_code(&self, arn: &str, code_sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.read(|c| queries::function_code(c, arn, code_sha256))
    }

    async fn write_function(&self, write: FunctionWrite) -> Result<(), StoreError> {
        self.db.write(move |c| queries::write_function(c, &write)).await
    }

    async fn stack(&self, stack_id: &str) -> Result<Option<kinko_core::stack::Stack>, StoreError> {
        self.db.read(|c| queries::stack(c, stack_id))
    }

    async fn list_stacks(
        &self,
        account_id: &str,
        region: &str,
    ) -> Result<Vec<kinko_core::stack::Stack>, StoreError> {
        self.db.read(|c| queries::list_stacks(c, account_id, region))
    }

    async fn write_stack(&self, stack: kinko_core::stack::Stack) -> Result<(), StoreError> {
        let late = self.late_rewrap.clone();
        self.db
            .write(move |c| queries::write_stack(c, &late.stack(stack)?))
            .await
    }

    async fn stacks_in_operation(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        self.db.read(|c| queries::stacks_in_operation(c, limit))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.db
            .write(move |c| queries::acquire_lease(c, &name, &holder, now, expires))
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.db
            .write(move |c| queries::release_lease(c, &name, &holder))
            .await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.db.read(|c| queries::lease(c, name))
    }

    async fn changes_since(&self, seq: u64) -> Result<(u64, Changes), StoreError> {
        self.db.read(|c| queries::changes_since(c, seq))
    }

    /// Stops the writer after the queued writes and checkpoints the WAL into the main file.
    fn close(&self) {
        self.db.close();
    }
}
