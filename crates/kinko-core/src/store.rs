//! The storage interface every backend implements (SQLite embedded, PostgreSQL for many nodes).
//!
//! Aggregates are read whole and written back with an optimistic revision check: a write based on
//! a stale read fails with [`StoreError::Conflict`] and the caller retries from a fresh read. Every
//! write call is one transaction: all of it is durable when it returns `Ok`, or none of it is.
//!
//! Every write transaction also records the keys it changed in a change feed
//! ([`Store::changes_since`]), so that caches in several processes sharing one database can tell
//! what another process changed. The contract every backend must pass is the
//! `kinko-store-contract` crate.

use std::sync::Arc;

use async_trait::async_trait;

use crate::Timestamp;
use crate::iam::IamState;
use crate::kms::{KmsAlias, KmsKey, WrappedMaterial};
use crate::lambda::{Function, FunctionWrite};
use crate::mfa::MfaDevice;
use crate::organizations::Organization;
use crate::principal::{AccessKeyRecord, AccessKeyStatus};
use crate::secret::Secret;
use crate::stack::Stack;
use crate::workload::Attachment;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row changed since it was read, or a unique name is taken: re-read and retry.
    #[error("conflicting concurrent change")]
    Conflict,
    /// The backend failed; details are logged, never sent to clients.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// A secret version's value, sealed: the data key as a KMS ciphertext blob and the value under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub encrypted_data_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// One transactional change to a secret.
#[derive(Debug, Clone)]
pub enum SecretWrite {
    /// A new secret; fails with `Conflict` when the name is taken in its account and region.
    Create {
        secret: Secret,
        values: Vec<(String, SealedValue)>,
    },
    /// Replace the secret's metadata, based on `secret.revision`; add sealed values for new versions
    /// (or replace those of existing versions re-encrypted under another key) and drop those of
    /// removed versions.
    Update {
        secret: Secret,
        new_values: Vec<(String, SealedValue)>,
        removed_versions: Vec<String>,
    },
    /// Remove the secret and all its values, based on `revision`.
    Delete { arn: String, revision: i64 },
}

/// Order of a paged secret listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    CreatedAsc,
    CreatedDesc,
    NameAsc,
    NameDesc,
}

/// One page of an account and region's secrets, ordered in the database.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub include_deleted: bool,
    pub order: ListOrder,
    /// How many secrets (that pass the filters, in the order) the page skips: unless `after`
    /// names a secret of the account and region, which the page then starts after instead.
    pub offset: usize,
    pub limit: usize,
    /// The ARN of the last secret of the previous page: the page holds the secrets after it in
    /// the order (a seek in the order's index, however deep the page). When no such secret is
    /// stored any more, `offset` applies.
    pub after: Option<String>,
}

/// Account-level facts kept by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    pub email: String,
    pub created_date: Timestamp,
}

/// A value sealed under the root key, as [`Store::rewrap_root_sealed`] hands it to the re-wrap
/// function, with what it is bound to (its associated data is derived from these fields).
#[derive(Clone, Copy)]
pub enum RootSealed<'a> {
    /// KMS key material ([`WrappedMaterial::wrapped`]).
    KmsMaterial {
        key_arn: &'a str,
        version: u32,
        wrapped: &'a [u8],
    },
    /// An access key's secret ([`AccessKeyRecord::sealed_secret`]).
    AccessKey {
        access_key_id: &'a str,
        sealed_secret: &'a [u8],
    },
    /// A virtual MFA device's TOTP seed ([`MfaDevice::sealed_seed`]).
    MfaSeed {
        serial_number: &'a str,
        sealed_seed: &'a [u8],
    },
    /// A value sealed in a CloudFormation stack's record ([`Stack::visit_sealed`]): its
    /// associated data is the stack id and `name`.
    StackValue {
        stack_id: &'a str,
        name: &'a str,
        sealed: &'a [u8],
    },
    /// A `meta` value named in the call.
    Meta { key: &'a str, value: &'a [u8] },
}

/// A key a committed write changed, as the change feed reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangedKey {
    Meta(String),
    Account(String),
    AccessKey(String),
    /// An account's IAM state.
    IamState(String),
    Organization,
    /// A secret (by ARN): its metadata, name and any of its sealed values.
    Secret(String),
    /// A KMS key (by ARN): its metadata or material.
    KmsKey(String),
    KmsAlias {
        account_id: String,
        region: String,
        alias_name: String,
    },
    /// Every value sealed under the root key (a root key rotation).
    RootSealed,
    /// A workload attachment (by id): created or revoked.
    Attachment(String),
    /// A Lambda function (by unqualified ARN): its configuration, versions, policy, tags or code.
    Function(String),
    /// A virtual MFA device (by serial number): created, assigned, used, deactivated or deleted.
    MfaDevice(String),
}

/// What changed after a position of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// Every key changed by the transactions committed after the position (a key may repeat).
    Keys(Vec<ChangedKey>),
    /// The changes after the position are no longer kept (or too many to list): consider
    /// everything changed.
    Truncated,
}

/// Re-wraps one root-sealed value under a new root key. It must accept a value that is already
/// under the new key (and return it as it is, or re-sealed). The error is a message for the
/// operator, without secrets.
pub type RootRewrap = dyn Fn(RootSealed<'_>) -> Result<Vec<u8>, String> + Send + Sync;

/// What a process's root-sealed writes are fenced on (see [`Store::fence_root_sealed`]): the `meta`
/// value that names the root key the process seals under (its check value), and the re-wrap
/// function from the key it sealed under before, for values sealed just before it switched.
#[derive(Clone)]
pub struct RootFence {
    pub meta_key: String,
    pub value: Vec<u8>,
    pub rewrap: Option<Arc<RootRewrap>>,
}

/// Who holds a named lease ([`Store::acquire_lease`]) and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub expires: Timestamp,
}

/// How many stored values a root key rotation re-wrapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapCounts {
    pub kms_materials: u64,
    pub access_keys: u64,
    pub mfa_devices: u64,
    /// Values sealed in CloudFormation stacks (NoEcho parameters, secret resource attributes).
    pub stack_values: u64,
    pub meta: u64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- server metadata ---
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets a value only if the key is absent; returns whether it was set.
    async fn meta_put_if_absent(&self, key: &str, value: Vec<u8>) -> Result<bool, StoreError>;

    // --- accounts and credentials ---
    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError>;
    async fn put_account(&self, account: Account) -> Result<(), StoreError>;
    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, StoreError>;
    async fn put_access_key(&self, key: AccessKeyRecord) -> Result<(), StoreError>;
    /// Access keys of an account; of one IAM user when `user_name` is given (case-insensitive).
    async fn list_access_keys(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>, StoreError>;
    /// Returns false when there is no such key.
    async fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<bool, StoreError>;
    /// Returns false when there is no such key.
    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, StoreError>;
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;

    // --- virtual MFA devices ---
    /// The device whose serial number (ARN) this is.
    async fn mfa_device(&self, serial_number: &str) -> Result<Option<MfaDevice>, StoreError>;
    /// An account's devices, by serial number.
    async fn list_mfa_devices(&self, account_id: &str) -> Result<Vec<MfaDevice>, StoreError>;
    /// Stores a new device at revision 1 (its `revision` is not read); `Conflict` when its serial
    /// number is taken.
    async fn create_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError>;
    /// Replaces the device, based on `device.revision`, and bumps the revision; `Conflict` when it
    /// changed since or is gone. Its sealed seed is not replaced.
    async fn update_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError>;
    /// Deletes the device, based on `revision`; `Conflict` when it changed since or is gone.
    async fn delete_mfa_device(&self, serial_number: &str, revision: i64) -> Result<(), StoreError>;

    // --- IAM ---
    /// The account's IAM state; an empty one with revision 0 when nothing was stored yet.
    async fn iam_state(&self, account_id: &str) -> Result<IamState, StoreError>;
    /// The revision of the account's IAM state (0 when nothing was stored yet): what
    /// `iam_state(account_id).revision` would be, without copying the state. Authorization asks
    /// for it on every request.
    async fn iam_revision(&self, account_id: &str) -> Result<i64, StoreError> {
        Ok(self.iam_state(account_id).await?.revision)
    }
    /// Stores the state, based on `state.revision` (0 = first write); `Conflict` when it changed,
    /// or when its `account_alias` is another account's.
    async fn write_iam_state(&self, state: IamState) -> Result<(), StoreError>;
    /// The account whose IAM state has `alias` as its `account_alias`.
    async fn account_by_alias(&self, alias: &str) -> Result<Option<String>, StoreError>;

    // --- Organizations ---
    async fn organization(&self) -> Result<Option<Organization>, StoreError>;
    /// The id of the organization `account_id` is a member of (`aws:PrincipalOrgID`), without
    /// copying the organization. Authorization asks for it on every request.
    async fn organization_id_of(&self, account_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .organization()
            .await?
            .filter(|o| o.accounts.iter().any(|a| a.id == account_id))
            .map(|o| o.id))
    }
    /// Stores the organization, based on `org.revision` (0 = create); `Conflict` when it changed.
    async fn write_organization(&self, org: Organization) -> Result<(), StoreError>;
    /// One transaction: the organization (based on its revision), a new account and its IAM state.
    async fn create_member_account(
        &self,
        org: Organization,
        account: Account,
        iam: IamState,
    ) -> Result<(), StoreError>;

    // --- secrets ---
    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Secret>, StoreError>;
    async fn secret_by_arn(&self, arn: &str) -> Result<Option<Secret>, StoreError>;
    /// Every secret of an account and region, metadata only, ordered by creation.
    async fn list_secrets(&self, account_id: &str, region: &str) -> Result<Vec<Secret>, StoreError>;
    /// One page of the secrets (metadata only) that pass `filters` (`ListSecrets`'s rules, see
    /// [`crate::filters`]; none: every secret), and whether more follow. The database filters
    /// and pages, with the secrets' [`Secret::filter_terms`] kept beside them.
    async fn list_secrets_page(
        &self,
        account_id: &str,
        region: &str,
        filters: &[crate::filters::Filter],
        page: ListPage,
    ) -> Result<(Vec<Secret>, bool), StoreError>;
    async fn sealed_value(&self, arn: &str, version_id: &str) -> Result<Option<SealedValue>, StoreError>;
    async fn write_secret(&self, write: SecretWrite) -> Result<(), StoreError>;
    /// Several secret writes in one transaction (a primary and its replicas): all of them, or
    /// none when any fails.
    async fn write_secrets(&self, writes: Vec<SecretWrite>) -> Result<(), StoreError>;
    /// Secrets whose `deletion_date` is at or before `now`, at most `limit`.
    async fn secrets_due_for_deletion(&self, now: Timestamp, limit: usize)
    -> Result<Vec<Secret>, StoreError>;
    /// Secrets whose [`Secret::rotation_due_date`] is at or before `now`, soonest first, at most
    /// `limit`.
    async fn secrets_due_for_rotation(&self, now: Timestamp, limit: usize)
    -> Result<Vec<Secret>, StoreError>;

    // --- KMS keys ---
    async fn kms_key(&self, arn: &str) -> Result<Option<KmsKey>, StoreError>;
    /// The key an alias (`alias/...`) points to, in an account and region.
    async fn kms_alias_target(
        &self,
        account_id: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Creates a key with its first material and optionally an alias, in one transaction. Fails with
    /// `Conflict` when the alias exists.
    async fn create_kms_key(
        &self,
        key: KmsKey,
        material: WrappedMaterial,
        alias: Option<String>,
    ) -> Result<(), StoreError>;
    async fn kms_material(&self, key_arn: &str, version: u32) -> Result<Option<WrappedMaterial>, StoreError>;
    /// Every wrapped material and credential sealed under the root key, for root key rotation.
    async fn all_kms_materials(&self) -> Result<Vec<WrappedMaterial>, StoreError>;
    /// Root key rotation: passes every value sealed under the root key (all KMS key material, all
    /// access key secrets, MFA seeds, the values sealed in stacks, and the `meta` values named in `meta_keys`, which must exist) through
    /// `rewrap` and stores the results, in one write transaction that reads them too, so a value
    /// written concurrently is either re-wrapped or written after the switch. Either every value
    /// is replaced, or (when `rewrap` fails for any) nothing changes.
    ///
    /// A request that sealed a value under the old key just before the caller switched keys may
    /// write it only after this transaction: the store therefore passes every root-sealed value
    /// written later through `rewrap` too, until the next call.
    async fn rewrap_root_sealed(
        &self,
        meta_keys: &[&str],
        rewrap: Arc<RootRewrap>,
    ) -> Result<RewrapCounts, StoreError>;
    /// Root key rotation by another process, on a store several processes write: from now on, a
    /// write of a root-sealed value by this process passes the value through `fence.rewrap` (when
    /// given), and fails (`Backend`, nothing written) when, inside its transaction, the `meta`
    /// value `fence.meta_key` is not `fence.value`: the store was rotated to a root key this
    /// process does not seal under yet, and the value would stay under the old one. A store that
    /// only one process writes (which does its rotations itself) ignores it.
    async fn fence_root_sealed(&self, fence: RootFence);
    /// Replaces a key's metadata, based on `key.revision`; `Conflict` when it changed.
    async fn update_kms_key(&self, key: KmsKey) -> Result<(), StoreError>;
    /// One transaction: the key's metadata (based on its revision, with `current_material` already
    /// pointing at the new version) and the new material version.
    async fn add_kms_material(&self, key: KmsKey, material: WrappedMaterial) -> Result<(), StoreError>;
    /// Every key of an account and region, ordered by creation.
    async fn list_kms_keys(&self, account_id: &str, region: &str) -> Result<Vec<KmsKey>, StoreError>;
    /// Removes a key (based on `revision`) with its aliases and material.
    async fn delete_kms_key(&self, arn: &str, revision: i64) -> Result<(), StoreError>;
    /// Keys whose `deletion_date` is at or before `now`, at most `limit`.
    async fn kms_keys_due_for_deletion(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KmsKey>, StoreError>;
    /// Keys due for automatic rotation: [`KmsKey::next_rotation_date`] at or before `now`, the
    /// longest overdue first, at most `limit`.
    async fn kms_keys_due_for_rotation(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KmsKey>, StoreError>;
    /// Every alias of an account and region, ordered by name.
    async fn list_kms_aliases(&self, account_id: &str, region: &str) -> Result<Vec<KmsAlias>, StoreError>;
    /// A new alias; `Conflict` when the name is taken in its account and region.
    async fn create_kms_alias(&self, alias: KmsAlias) -> Result<(), StoreError>;
    /// Points an existing alias at another key; returns false when there is no such alias.
    async fn update_kms_alias(&self, alias: KmsAlias) -> Result<bool, StoreError>;
    /// Returns false when there is no such alias.
    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<bool, StoreError>;

    // --- workload attachments ---
    /// A new attachment; `Conflict` when its id, port (instance attachments, across accounts) or
    /// token hash (container credentials tokens) is taken.
    async fn create_attachment(&self, attachment: Attachment) -> Result<(), StoreError>;
    /// The instance attachment served on `port`.
    async fn attachment_by_port(&self, port: u16) -> Result<Option<Attachment>, StoreError>;
    /// The container credentials token whose SHA-256 (hex) is `token_sha256`.
    async fn attachment_by_token(&self, token_sha256: &str) -> Result<Option<Attachment>, StoreError>;
    /// The attachments of an account (of every account for `None`), ordered by creation.
    async fn list_attachments(&self, account_id: Option<&str>) -> Result<Vec<Attachment>, StoreError>;
    /// Revokes an attachment of an account; returns false when there is no such attachment.
    async fn delete_attachment(&self, account_id: &str, id: &str) -> Result<bool, StoreError>;

    // --- Lambda functions ---
    /// The function with this unqualified ARN.
    async fn function(&self, arn: &str) -> Result<Option<Function>, StoreError>;
    /// Every function of an account and region, ordered by name.
    async fn list_functions(&self, account_id: &str, region: &str) -> Result<Vec<Function>, StoreError>;
    /// The deployment package of a function whose SHA-256 (base64, as `CodeSha256`) is `code_sha256`.
    async fn function_code(&self, arn: &str, code_sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn write_function(&self, write: FunctionWrite) -> Result<(), StoreError>;

    // --- CloudFormation stacks ---
    /// The stack with this id (`arn:aws:cloudformation:...:stack/NAME/UUID`), deleted or not.
    async fn stack(&self, stack_id: &str) -> Result<Option<Stack>, StoreError>;
    /// Every stack of an account and region, deleted ones included, oldest first.
    async fn list_stacks(&self, account_id: &str, region: &str) -> Result<Vec<Stack>, StoreError>;
    /// Writes a stack: a new one when its `revision` is 0 (a `Conflict` if the id exists), else
    /// only if the stored revision is still `revision` (else `Conflict`).
    async fn write_stack(&self, stack: Stack) -> Result<(), StoreError>;
    /// The ids of the stacks (of every account and region) with an operation in progress
    /// ([`Stack::operation`] set), at most `limit`: what a node checks for operations whose node
    /// is gone. A scan of the stacks: there are few.
    async fn stacks_in_operation(&self, limit: usize) -> Result<Vec<String>, StoreError>;

    // --- leases ---
    /// Takes the lease `name` for `holder` until `expires`, or extends it, when at `now` nobody
    /// holds it, its holder's time has run out (its expiry is at or before `now`), or `holder`
    /// holds it already. Returns whether `holder` holds it now. One conditional write: of several
    /// holders asking at once, exactly one gets a free lease.
    ///
    /// Times come from the callers' clocks, which must agree to well within a lease's length. A
    /// lease is no lock: a holder that stalls past its expiry may still be finishing work when
    /// another takes over, so work done under a lease must still be safe to race (revision-checked
    /// writes), the lease only keeps it from being done twice in the normal case.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Ends the lease if `holder` holds it, so another holder may take it at once; returns whether
    /// it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;
    /// The lease's holder and expiry (which may have passed); `None` when nobody took it since it
    /// was last released.
    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError>;

    // --- change feed ---
    /// The changes committed after position `seq` of the change feed (0: its start), and the
    /// position they bring the caller to. Positions only grow, in commit order: every change
    /// committed before this call began is at or before the returned position. Recent changes
    /// (at least the last few thousand) are listed; older ones may be answered `Truncated`.
    async fn changes_since(&self, seq: u64) -> Result<(u64, Changes), StoreError>;

    /// Whether the store can take a write now: the readiness probe. It writes (a store that can't
    /// write answers an error); a store that has no way to tell answers `Ok`.
    async fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stops taking writes once those queued are done and releases the backend's resources
    /// (the server calls it at shutdown). Later calls fail with `Backend`.
    fn close(&self) {}
}
