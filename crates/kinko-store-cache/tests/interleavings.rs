//! The cache never goes back in time, under interleavings these tests force rather than hope for:
//! a store wrapper (`Gated`, here only) stops chosen calls right after the backend answered them,
//! before the cache layer sees the answer, until the test lets them go on.
//!
//! - two writers that commit in one order and finish in the other;
//! - a read that got the old state from the backend and fills the cache after a write returned;
//! - in shared mode, the same with the write made by another process, and a read that arrives
//!   while a change feed query is under way (it must wait for the next one).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kinko_core::Timestamp;
use kinko_core::iam::{IamState, User};
use kinko_core::kms::{KmsAlias, KmsKey, WrappedMaterial};
use kinko_core::lambda::{Function, FunctionWrite};
use kinko_core::mfa::MfaDevice;
use kinko_core::organizations::Organization;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus};
use kinko_core::secret::{Secret, ValueKind};
use kinko_core::store::{
    Account, Changes, Lease, ListPage, RewrapCounts, RootFence, RootRewrap, SealedValue, SecretWrite, Store,
    StoreError,
};
use kinko_core::workload::Attachment;
use kinko_store_cache::{CacheConfig, CachedStore, Freshness};
use kinko_store_sqlite::SqliteStore;
use tokio::sync::Notify;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

/// One stop: the call signals `reached` once the backend answered, then waits for `release`.
#[derive(Clone, Default)]
struct Gate {
    reached: Arc<Notify>,
    release: Arc<Notify>,
}

impl Gate {
    /// Waits for the call to stop here; a call that never comes is a failure, not a hang.
    async fn reached(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(30), self.reached.notified())
            .await
            .expect("the call reached its stop");
    }
    fn release(&self) {
        self.release.notify_one();
    }
}

/// A store that can stop the next call of a method after the backend answered it.
struct Gated {
    inner: SqliteStore,
    gates: Mutex<HashMap<&'static str, VecDeque<Gate>>>,
}

impl Gated {
    fn new(inner: SqliteStore) -> Self {
        Gated {
            inner,
            gates: Mutex::default(),
        }
    }

    /// The next call of `method` not yet stopped will stop at this gate.
    fn arm(&self, method: &'static str) -> Gate {
        let gate = Gate::default();
        self.gates
            .lock()
            .expect("test setup")
            .entry(method)
            .or_default()
            .push_back(gate.clone());
        gate
    }

    async fn stop(&self, method: &'static str) {
        let gate = self
            .gates
            .lock()
            .expect("test setup")
            .get_mut(method)
            .and_then(VecDeque::pop_front);
        if let Some(g) = gate {
            g.reached.notify_one();
            g.release.notified().await;
        }
    }
}

#[async_trait]
impl Store for Gated {
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
    async fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        self.inner.access_key(id).await
    }
    async fn put_access_key(&self, key: AccessKeyRecord) -> Result<(), StoreError> {
        self.inner.put_access_key(key).await
    }
    async fn list_access_keys(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>, StoreError> {
        self.inner.list_access_keys(account_id, user_name).await
    }
    async fn update_access_key_status(&self, id: &str, status: AccessKeyStatus) -> Result<bool, StoreError> {
        self.inner.update_access_key_status(id, status).await
    }
    async fn delete_access_key(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_access_key(id).await
    }
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.inner.list_accounts().await
    }
    async fn mfa_device(&self, serial_number: &str) -> Result<Option<MfaDevice>, StoreError> {
        self.inner.mfa_device(serial_number).await
    }
    async fn list_mfa_devices(&self, account_id: &str) -> Result<Vec<MfaDevice>, StoreError> {
        self.inner.list_mfa_devices(account_id).await
    }
    async fn create_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        self.inner.create_mfa_device(device).await
    }
    async fn update_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        self.inner.update_mfa_device(device).await
    }
    async fn delete_mfa_device(&self, serial_number: &str, revision: i64) -> Result<(), StoreError> {
        self.inner.delete_mfa_device(serial_number, revision).await
    }
    async fn account_by_alias(&self, alias: &str) -> Result<Option<String>, StoreError> {
        self.inner.account_by_alias(alias).await
    }
    async fn iam_state(&self, account_id: &str) -> Result<IamState, StoreError> {
        let r = self.inner.iam_state(account_id).await;
        self.stop("iam_state").await;
        r
    }
    async fn write_iam_state(&self, state: IamState) -> Result<(), StoreError> {
        let r = self.inner.write_iam_state(state).await;
        self.stop("write_iam_state").await;
        r
    }
    async fn organization(&self) -> Result<Option<Organization>, StoreError> {
        self.inner.organization().await
    }
    async fn write_organization(&self, org: Organization) -> Result<(), StoreError> {
        self.inner.write_organization(org).await
    }
    async fn create_member_account(
        &self,
        org: Organization,
        account: Account,
        iam: IamState,
    ) -> Result<(), StoreError> {
        self.inner.create_member_account(org, account, iam).await
    }
    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Secret>, StoreError> {
        let r = self.inner.secret_by_name(account_id, region, name).await;
        self.stop("secret_by_name").await;
        r
    }
    async fn secret_by_arn(&self, arn: &str) -> Result<Option<Secret>, StoreError> {
        let r = self.inner.secret_by_arn(arn).await;
        self.stop("secret_by_arn").await;
        r
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
        let r = self.inner.sealed_value(arn, version_id).await;
        self.stop("sealed_value").await;
        r
    }
    async fn write_secret(&self, write: SecretWrite) -> Result<(), StoreError> {
        let r = self.inner.write_secret(write).await;
        self.stop("write_secret").await;
        r
    }
    async fn write_secrets(&self, writes: Vec<SecretWrite>) -> Result<(), StoreError> {
        let r = self.inner.write_secrets(writes).await;
        self.stop("write_secrets").await;
        r
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
        self.inner.kms_key(arn).await
    }
    async fn kms_alias_target(
        &self,
        account_id: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<String>, StoreError> {
        self.inner.kms_alias_target(account_id, region, alias).await
    }
    async fn create_kms_key(
        &self,
        key: KmsKey,
        material: WrappedMaterial,
        alias: Option<String>,
    ) -> Result<(), StoreError> {
        self.inner.create_kms_key(key, material, alias).await
    }
    async fn kms_material(&self, key_arn: &str, version: u32) -> Result<Option<WrappedMaterial>, StoreError> {
        self.inner.kms_material(key_arn, version).await
    }
    async fn all_kms_materials(&self) -> Result<Vec<WrappedMaterial>, StoreError> {
        self.inner.all_kms_materials().await
    }
    async fn fence_root_sealed(&self, fence: RootFence) {
        self.inner.fence_root_sealed(fence).await
    }

    async fn rewrap_root_sealed(
        &self,
        meta_keys: &[&str],
        rewrap: Arc<RootRewrap>,
    ) -> Result<RewrapCounts, StoreError> {
        self.inner.rewrap_root_sealed(meta_keys, rewrap).await
    }
    async fn update_kms_key(&self, key: KmsKey) -> Result<(), StoreError> {
        self.inner.update_kms_key(key).await
    }
    async fn add_kms_material(&self, key: KmsKey, material: WrappedMaterial) -> Result<(), StoreError> {
        self.inner.add_kms_material(key, material).await
    }
    async fn list_kms_keys(&self, account_id: &str, region: &str) -> Result<Vec<KmsKey>, StoreError> {
        self.inner.list_kms_keys(account_id, region).await
    }
    async fn delete_kms_key(&self, arn: &str, revision: i64) -> Result<(), StoreError> {
        self.inner.delete_kms_key(arn, revision).await
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
        self.inner.create_kms_alias(alias).await
    }
    async fn update_kms_alias(&self, alias: KmsAlias) -> Result<bool, StoreError> {
        self.inner.update_kms_alias(alias).await
    }
    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<bool, StoreError> {
        self.inner.delete_kms_alias(account_id, region, alias_name).await
    }
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
        let r = self.inner.changes_since(seq).await;
        self.stop("changes_since").await;
        r
    }
    fn close(&self) {
        self.inner.close();
    }
}

struct Setup {
    gated: Arc<Gated>,
    cached: Arc<CachedStore<Gated>>,
    _dir: tempfile::TempDir,
}

fn config(freshness: Freshness) -> CacheConfig {
    CacheConfig {
        freshness,
        ..CacheConfig::default()
    }
}

fn setup(freshness: Freshness) -> Setup {
    setup_waiting(freshness, kinko_store_cache::COMMIT_WAIT)
}

/// In shared mode, with `wait` as the commit wait (zero: every cached read queries the feed).
fn setup_waiting(freshness: Freshness, wait: Duration) -> Setup {
    let dir = tempfile::tempdir().expect("test setup");
    let gated = Arc::new(Gated::new(
        SqliteStore::open(&dir.path().join("kinko.db")).expect("test setup"),
    ));
    let cached = Arc::new(CachedStore::new(gated.clone(), config(freshness)).with_commit_wait(wait));
    Setup {
        gated,
        cached,
        _dir: dir,
    }
}

/// Another process's view of the same file, with its own cache.
fn other_process(dir: &tempfile::TempDir) -> CachedStore<SqliteStore> {
    CachedStore::new(
        Arc::new(SqliteStore::open(&dir.path().join("kinko.db")).expect("test setup")),
        config(Freshness::Shared),
    )
}

fn user(name: &str) -> User {
    User {
        name: name.to_owned(),
        path: "/".to_owned(),
        user_id: format!("AIDA{}", name.to_ascii_uppercase()),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        create_date: Timestamp::from_millis(1),
        tags: vec![],
        inline_policies: vec![],
        attached_policies: vec![],
        permissions_boundary: None,
        groups: vec![],
        login_profile: None,
        ssh_public_keys: Vec::new(),
        signing_certificates: Vec::new(),
    }
}

fn with_user(mut state: IamState, name: &str) -> IamState {
    state.users.push(user(name));
    state
}

fn names(state: &IamState) -> Vec<&str> {
    state.users.iter().map(|u| u.name.as_str()).collect()
}

fn sealed(tag: &str) -> SealedValue {
    SealedValue {
        encrypted_data_key: format!("key-{tag}").into_bytes(),
        ciphertext: format!("value-{tag}").into_bytes(),
    }
}

/// Creates the secret `app` with version v1 and returns it as stored.
async fn create_secret(store: &dyn Store) -> Secret {
    let mut s = Secret {
        arn: format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app-AbCdEf"),
        name: "app".to_owned(),
        account_id: ACCOUNT.to_owned(),
        region: REGION.to_owned(),
        description: None,
        kms_key_id: None,
        tags: None,
        resource_policy: None,
        resource_policy_principals: vec![],
        secret_type: None,
        created_date: Timestamp::from_millis(1),
        last_changed_date: Timestamp::from_millis(1),
        last_accessed_date: None,
        deleted_date: None,
        deletion_date: None,
        rotation: None,
        last_rotated_date: None,
        primary_region: None,
        replicas: vec![],
        versions: vec![],
        revision: 0,
    };
    s.add_version(
        "v1",
        None,
        Some(ValueKind::String),
        None,
        Timestamp::from_millis(1),
    )
    .expect("test setup");
    store
        .write_secret(SecretWrite::Create {
            secret: s.clone(),
            values: vec![("v1".to_owned(), sealed("v1"))],
        })
        .await
        .expect("test setup");
    s.revision = 1;
    s
}

/// An update of `base` adding version `id` (made AWSCURRENT) with its value.
fn put_version(base: &Secret, id: &str) -> SecretWrite {
    let mut s = base.clone();
    s.add_version(id, None, Some(ValueKind::String), None, Timestamp::from_millis(2))
        .expect("test setup");
    SecretWrite::Update {
        secret: s,
        new_values: vec![(id.to_owned(), sealed(id))],
        removed_versions: vec![],
    }
}

fn current(s: &Secret) -> &str {
    s.current().map(|v| v.id.as_str()).expect("test setup")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_writers_finishing_out_of_order_cannot_restore_an_older_state() {
    let t = setup(Freshness::SingleProcess);
    let empty = t.cached.iam_state(ACCOUNT).await.unwrap();

    // Writer A commits revision 1 (alice) and stops before the cache layer sees its answer.
    let gate = t.gated.arm("write_iam_state");
    let cached = t.cached.clone();
    let a = tokio::spawn(async move { cached.write_iam_state(with_user(empty, "alice")).await });
    gate.reached().await;

    // Writer B reads revision 1 from the database, adds bob and finishes first.
    let r1 = t.gated.inner.iam_state(ACCOUNT).await.unwrap();
    assert_eq!(r1.revision, 1);
    t.cached.write_iam_state(with_user(r1, "bob")).await.unwrap();
    let r2 = t.cached.iam_state(ACCOUNT).await.unwrap();
    assert_eq!((r2.revision, names(&r2)), (2, vec!["alice", "bob"]));

    // Now A finishes: its older state must not come back.
    gate.release();
    a.await.unwrap().unwrap();
    let after = t.cached.iam_state(ACCOUNT).await.unwrap();
    assert_eq!((after.revision, names(&after)), (2, vec!["alice", "bob"]));
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_straddling_an_iam_write_does_not_leave_the_old_state() {
    let t = setup(Freshness::SingleProcess);
    // The read gets revision 0 from the database and stops before it fills the cache.
    let gate = t.gated.arm("iam_state");
    let cached = t.cached.clone();
    let read = tokio::spawn(async move { cached.iam_state(ACCOUNT).await });
    gate.reached().await;

    t.cached
        .write_iam_state(with_user(IamState::new(ACCOUNT), "alice"))
        .await
        .unwrap();

    gate.release();
    // It began before the write: the old state is a correct answer for it...
    assert_eq!(read.await.unwrap().unwrap().revision, 0);
    // ...but not for any read that begins after the write returned.
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 1);
    assert_eq!(names(&t.cached.iam_state(ACCOUNT).await.unwrap()), ["alice"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_writers_finishing_out_of_order_cannot_restore_an_older_secret() {
    let t = setup(Freshness::SingleProcess);
    let v1 = create_secret(t.cached.as_ref()).await;
    assert_eq!(t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap(), v1);

    let gate = t.gated.arm("write_secret");
    let cached = t.cached.clone();
    let write = put_version(&v1, "v2");
    let a = tokio::spawn(async move { cached.write_secret(write).await });
    gate.reached().await;

    let r2 = t.gated.inner.secret_by_arn(&v1.arn).await.unwrap().unwrap();
    assert_eq!(r2.revision, 2);
    t.cached.write_secret(put_version(&r2, "v3")).await.unwrap();
    let r3 = t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap();
    assert_eq!((r3.revision, current(&r3)), (3, "v3"));
    let by_name = t
        .cached
        .secret_by_name(ACCOUNT, REGION, "app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.revision, 3);

    gate.release();
    a.await.unwrap().unwrap();
    let after = t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap();
    assert_eq!((after.revision, current(&after)), (3, "v3"));
    let by_name = t
        .cached
        .secret_by_name(ACCOUNT, REGION, "app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((by_name.revision, current(&by_name)), (3, "v3"));
    assert_eq!(
        t.cached.sealed_value(&v1.arn, "v3").await.unwrap(),
        Some(sealed("v3"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_straddling_a_secret_write_do_not_leave_the_old_secret() {
    let t = setup(Freshness::SingleProcess);
    let v1 = create_secret(t.cached.as_ref()).await;

    // By ARN, by name and the sealed value of v1, each read stopped after the database answered.
    let gates = [
        t.gated.arm("secret_by_arn"),
        t.gated.arm("secret_by_name"),
        t.gated.arm("sealed_value"),
    ];
    let (c1, c2, c3) = (t.cached.clone(), t.cached.clone(), t.cached.clone());
    let arn = v1.arn.clone();
    let by_arn = tokio::spawn(async move { c1.secret_by_arn(&arn).await });
    gates[0].reached().await;
    let by_name = tokio::spawn(async move { c2.secret_by_name(ACCOUNT, REGION, "app").await });
    gates[1].reached().await;
    let arn = v1.arn.clone();
    let value = tokio::spawn(async move { c3.sealed_value(&arn, "v1").await });
    gates[2].reached().await;

    // v2 becomes current and v1's value is re-encrypted.
    let mut next = v1.clone();
    next.add_version(
        "v2",
        None,
        Some(ValueKind::String),
        None,
        Timestamp::from_millis(2),
    )
    .unwrap();
    t.cached
        .write_secret(SecretWrite::Update {
            secret: next,
            new_values: vec![
                ("v2".to_owned(), sealed("v2")),
                ("v1".to_owned(), sealed("v1-reencrypted")),
            ],
            removed_versions: vec![],
        })
        .await
        .unwrap();

    for g in &gates {
        g.release();
    }
    assert_eq!(by_arn.await.unwrap().unwrap().unwrap().revision, 1);
    assert_eq!(by_name.await.unwrap().unwrap().unwrap().revision, 1);
    assert_eq!(value.await.unwrap().unwrap(), Some(sealed("v1")));

    let s = t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap();
    assert_eq!((s.revision, current(&s)), (2, "v2"));
    let s = t
        .cached
        .secret_by_name(ACCOUNT, REGION, "app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.revision, current(&s)), (2, "v2"));
    assert_eq!(
        t.cached.sealed_value(&v1.arn, "v1").await.unwrap(),
        Some(sealed("v1-reencrypted"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_a_read_straddling_another_process_write_does_not_leave_the_old_state() {
    let t = setup(Freshness::Shared);
    let other = other_process(&t._dir);
    let v1 = create_secret(&other).await;
    assert_eq!(
        t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap().revision,
        1
    );
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 0);

    // A read here misses (the entries are invalidated first), gets the old state from the
    // database and stops; meanwhile the other process writes.
    let iam_gate = t.gated.arm("iam_state");
    t.cached
        .write_iam_state(with_user(IamState::new(ACCOUNT), "x"))
        .await
        .unwrap();
    let cached = t.cached.clone();
    let read = tokio::spawn(async move { cached.iam_state(ACCOUNT).await });
    iam_gate.reached().await;
    let r1 = other.iam_state(ACCOUNT).await.unwrap();
    other.write_iam_state(with_user(r1, "alice")).await.unwrap();
    iam_gate.release();
    assert_eq!(read.await.unwrap().unwrap().revision, 1);
    let after = t.cached.iam_state(ACCOUNT).await.unwrap();
    assert_eq!((after.revision, names(&after)), (2, vec!["x", "alice"]));

    // The same for a secret read by ARN.
    let gate = t.gated.arm("secret_by_arn");
    other.write_secret(put_version(&v1, "v2")).await.unwrap();
    let cached = t.cached.clone();
    let arn = v1.arn.clone();
    let read = tokio::spawn(async move { cached.secret_by_arn(&arn).await });
    gate.reached().await;
    let r2 = other.secret_by_arn(&v1.arn).await.unwrap().unwrap();
    other.write_secret(put_version(&r2, "v3")).await.unwrap();
    gate.release();
    assert_eq!(read.await.unwrap().unwrap().unwrap().revision, 2);
    let s = t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap();
    assert_eq!((s.revision, current(&s)), (3, "v3"));
    assert_eq!(
        t.cached.sealed_value(&v1.arn, "v3").await.unwrap(),
        Some(sealed("v3"))
    );
}

/// Runs on one thread, so that a spawned read is known to have reached its wait after a yield.
#[tokio::test(flavor = "current_thread")]
async fn shared_a_read_arriving_during_a_feed_query_waits_for_the_next_one() {
    // No commit wait: every read queries the feed, as reads do once the last query is too old.
    let t = setup_waiting(Freshness::Shared, Duration::ZERO);
    let other = other_process(&t._dir).with_commit_wait(Duration::ZERO);
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 0);

    // A first read's feed query sees no change and stops before its answer is applied.
    let gate = t.gated.arm("changes_since");
    let cached = t.cached.clone();
    let first = tokio::spawn(async move { cached.iam_revision(ACCOUNT).await });
    gate.reached().await;

    // Another process writes; then a second read begins, while that query is in flight.
    other
        .write_iam_state(with_user(IamState::new(ACCOUNT), "alice"))
        .await
        .unwrap();
    let cached = t.cached.clone();
    let second = tokio::spawn(async move { cached.iam_revision(ACCOUNT).await });
    // One thread: the second read runs up to its wait for the next query before this goes on.
    tokio::task::yield_now().await;
    assert!(!second.is_finished());

    gate.release();
    // The first began before the write; the second after it, so the query in flight when it
    // arrived (which may have begun before the write) could not serve it.
    assert_eq!(first.await.unwrap().unwrap(), 0);
    assert_eq!(second.await.unwrap().unwrap(), 1);
    assert!(t.cached.stats().feed_queries >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_a_reader_cancelled_during_its_feed_query_does_not_block_the_others() {
    let t = setup_waiting(Freshness::Shared, Duration::ZERO);
    let gate = t.gated.arm("changes_since");
    let cached = t.cached.clone();
    let first = tokio::spawn(async move { cached.iam_revision(ACCOUNT).await });
    gate.reached().await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    // The next read runs its own query rather than waiting for the abandoned one.
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 0);
}

/// Shared mode: reads soon after an applied feed query need no query of their own (writers
/// through this layer wait out the window before they answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_reads_soon_after_a_feed_query_need_none_of_their_own() {
    let t = setup_waiting(Freshness::Shared, Duration::from_secs(600));
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 0);
    let queries = t.cached.stats().feed_queries;
    assert!(queries >= 1);
    for _ in 0..10 {
        assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 0);
    }
    assert_eq!(t.cached.stats().feed_queries, queries);
}

/// ...and still see every write another process acknowledged before they began: its write
/// answered only after the window of any query sent before its commit had passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_a_write_acknowledged_elsewhere_is_seen_by_the_next_read() {
    let wait = Duration::from_millis(300);
    let t = setup_waiting(Freshness::Shared, wait);
    let other = other_process(&t._dir).with_commit_wait(wait);
    let v1 = create_secret(&other).await;
    // Cached, right after a feed query.
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 0);
    assert_eq!(
        t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap().revision,
        1
    );
    other
        .write_iam_state(with_user(IamState::new(ACCOUNT), "alice"))
        .await
        .unwrap();
    assert_eq!(t.cached.iam_revision(ACCOUNT).await.unwrap(), 1);
    other.write_secret(put_version(&v1, "v2")).await.unwrap();
    let s = t.cached.secret_by_arn(&v1.arn).await.unwrap().unwrap();
    assert_eq!((s.revision, current(&s)), (2, "v2"));
}
