//! AWS KMS (JSON 1.1, `X-Amz-Target: TrentService.<Operation>`): symmetric encryption keys,
//! asymmetric (RSA and elliptic-curve) keys that sign or encrypt, HMAC keys, imported key material, multi-Region keys, aliases, key policies, grants, tags, rotation and scheduled deletion.
//!
//! Every operation in `ops/` implements the one [`Operation`] contract; [`handle`] dispatches to
//! [`crate::operation::execute`]. The helpers here resolve a `KeyId` (key id, key ARN, alias name
//! or alias ARN, as each operation allows) without changing anything, and build the authorization
//! check on a key (`key_check`): its ARN, its key policy (required: IAM policies count only where
//! it delegates to the account) with the principals it names bound to their unique ids, its tags,
//! the condition keys every request on a key has, and whether it is AWS managed (the access rule
//! of [`crate::authz::rules`] that keeps customers from managing those keys reads that). A `KeyId`
//! that names nothing is authorized on identity policies alone before the not-found answer, so a
//! caller without permission learns nothing about whether a key exists. Key material never leaves
//! the [`crate::Keyring`] unwrapped.

mod error;
mod model;
mod ops;
mod via;

use kinko_core::kms::{self, KeyManager, KeySpec, KeyState, KeyUsage, KmsKey};
use kinko_crypto::blob::EncryptionContext;
use kinko_wire::WireError;

use crate::authz::{AuthzError, Bound, Check, Facts, KeyGrants, Refusal, Resource, ResourcePolicy};
pub(crate) use crate::operation::{Authorization, Cx, Operation};
use crate::operation::{Json, Service, ServiceError, execute, finish, json_service};
use crate::{RequestContext, Services};

pub use error::KmsError;
pub use via::Via;

/// KMS, as the one operation contract sees it.
pub struct Kms;

impl Service for Kms {
    const PREFIX: &'static str = "kms";
    const EVENT_SOURCE: &'static str = "kms.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        // KMS records keys, algorithms and encryption contexts, never data: not the plaintext
        // (Encrypt's input; Decrypt's, GenerateDataKey's and GenerateRandom's answers), not a
        // ciphertext blob (Decrypt's and ReEncrypt's input, Encrypt's and GenerateDataKey's
        // answers), not a message, signature or MAC, not key material or an import token, not a
        // derived shared secret.
        omitted: &[
            "Plaintext",
            "CiphertextBlob",
            "CiphertextForRecipient",
            "PrivateKeyPlaintext",
            "PrivateKeyCiphertextBlob",
            "Message",
            "Signature",
            "Mac",
            "EncryptedKeyMaterial",
            "ImportToken",
            "AttestationDocument",
            "SharedSecret",
            // CloudTrail never shows a grant token ("Grant token").
            "GrantToken",
            "GrantTokens",
        ],
        hidden: &[],
        // Encryption contexts are recorded as given (they are not secret, and CloudTrail shows
        // them so that a key's use can be traced to what it protected): their keys are the
        // caller's, not member names.
        verbatim: &[
            "EncryptionContext",
            "SourceEncryptionContext",
            "DestinationEncryptionContext",
            "EncryptionContextSubset",
            "EncryptionContextEquals",
        ],
        numbers: &[],
        booleans: &[],
    };
    type Protocol = Json;
    type Error = KmsError;
}

json_service!(Kms);

/// Runs one KMS operation and returns the response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let result = match operation {
        "CreateKey" => execute::<ops::CreateKey>(services, rc, body).await,
        "DescribeKey" => execute::<ops::DescribeKey>(services, rc, body).await,
        "ListKeys" => execute::<ops::ListKeys>(services, rc, body).await,
        "EnableKey" => execute::<ops::EnableKey>(services, rc, body).await,
        "DisableKey" => execute::<ops::DisableKey>(services, rc, body).await,
        "ScheduleKeyDeletion" => execute::<ops::ScheduleKeyDeletion>(services, rc, body).await,
        "CancelKeyDeletion" => execute::<ops::CancelKeyDeletion>(services, rc, body).await,
        "UpdateKeyDescription" => execute::<ops::UpdateKeyDescription>(services, rc, body).await,
        "CreateAlias" => execute::<ops::CreateAlias>(services, rc, body).await,
        "UpdateAlias" => execute::<ops::UpdateAlias>(services, rc, body).await,
        "DeleteAlias" => execute::<ops::DeleteAlias>(services, rc, body).await,
        "ListAliases" => execute::<ops::ListAliases>(services, rc, body).await,
        "Encrypt" => execute::<ops::Encrypt>(services, rc, body).await,
        "Decrypt" => execute::<ops::Decrypt>(services, rc, body).await,
        "ReEncrypt" => execute::<ops::ReEncrypt>(services, rc, body).await,
        "GenerateDataKey" => execute::<ops::GenerateDataKey>(services, rc, body).await,
        "GenerateDataKeyWithoutPlaintext" => {
            execute::<ops::GenerateDataKeyWithoutPlaintext>(services, rc, body).await
        }
        "GenerateDataKeyPair" => execute::<ops::GenerateDataKeyPair>(services, rc, body).await,
        "GenerateDataKeyPairWithoutPlaintext" => {
            execute::<ops::GenerateDataKeyPairWithoutPlaintext>(services, rc, body).await
        }
        "GenerateRandom" => execute::<ops::GenerateRandom>(services, rc, body).await,
        "GetPublicKey" => execute::<ops::GetPublicKey>(services, rc, body).await,
        "Sign" => execute::<ops::Sign>(services, rc, body).await,
        "Verify" => execute::<ops::Verify>(services, rc, body).await,
        "GenerateMac" => execute::<ops::GenerateMac>(services, rc, body).await,
        "DeriveSharedSecret" => execute::<ops::DeriveSharedSecret>(services, rc, body).await,
        "VerifyMac" => execute::<ops::VerifyMac>(services, rc, body).await,
        "EnableKeyRotation" => execute::<ops::EnableKeyRotation>(services, rc, body).await,
        "DisableKeyRotation" => execute::<ops::DisableKeyRotation>(services, rc, body).await,
        "GetKeyRotationStatus" => execute::<ops::GetKeyRotationStatus>(services, rc, body).await,
        "RotateKeyOnDemand" => execute::<ops::RotateKeyOnDemand>(services, rc, body).await,
        "ListKeyRotations" => execute::<ops::ListKeyRotations>(services, rc, body).await,
        "GetKeyPolicy" => execute::<ops::GetKeyPolicy>(services, rc, body).await,
        "PutKeyPolicy" => execute::<ops::PutKeyPolicy>(services, rc, body).await,
        "ListKeyPolicies" => execute::<ops::ListKeyPolicies>(services, rc, body).await,
        "TagResource" => execute::<ops::TagResource>(services, rc, body).await,
        "UntagResource" => execute::<ops::UntagResource>(services, rc, body).await,
        "ListResourceTags" => execute::<ops::ListResourceTags>(services, rc, body).await,
        "ReplicateKey" => execute::<ops::ReplicateKey>(services, rc, body).await,
        "UpdatePrimaryRegion" => execute::<ops::UpdatePrimaryRegion>(services, rc, body).await,
        "GetParametersForImport" => execute::<ops::GetParametersForImport>(services, rc, body).await,
        "ImportKeyMaterial" => execute::<ops::ImportKeyMaterial>(services, rc, body).await,
        "DeleteImportedKeyMaterial" => execute::<ops::DeleteImportedKeyMaterial>(services, rc, body).await,
        "CreateGrant" => execute::<ops::CreateGrant>(services, rc, body).await,
        "ListGrants" => execute::<ops::ListGrants>(services, rc, body).await,
        "ListRetirableGrants" => execute::<ops::ListRetirableGrants>(services, rc, body).await,
        "RetireGrant" => execute::<ops::RetireGrant>(services, rc, body).await,
        "RevokeGrant" => execute::<ops::RevokeGrant>(services, rc, body).await,
        _ => {
            return Err(WireError::new(
                "UnknownOperationException",
                400,
                format!("The operation {operation} is not supported by this service."),
            ));
        }
    };
    finish(rc, operation, result)
}

/// Which identifiers a `KeyId` member accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepts {
    /// Key id, key ARN, alias name or alias ARN (cryptographic operations, DescribeKey).
    KeyOrAlias,
    /// Key id or key ARN only (management operations, alias targets).
    KeyOnly,
}

/// A parsed `KeyId`.
pub(crate) enum KeyRef {
    /// A key ARN (built from the request's account and region when a bare id was passed).
    Key { arn: String },
    /// An alias, by name, in an account.
    Alias { account: String, name: String },
}

/// A key id is a UUID or `mrk-` and 32 hex digits.
fn valid_key_id(id: &str) -> bool {
    if let Some(hex) = id.strip_prefix("mrk-") {
        return hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn invalid_key_id(v: &str) -> KmsError {
    KmsError::NotFound(format!("Invalid keyId '{v}'"))
}

/// Reads a `KeyId` of a request made by `account` in `region`: a key id or alias name means the
/// caller's account, another account's key or alias is named by ARN.
pub(crate) fn parse_key_ref(
    account: &str,
    region: &str,
    v: &str,
    accepts: Accepts,
) -> Result<KeyRef, KmsError> {
    if v.starts_with("arn:") {
        let arn = kinko_core::arn::Arn::parse(v).ok_or_else(|| invalid_key_id(v))?;
        if arn.service != "kms" {
            return Err(invalid_key_id(v));
        }
        if arn.region != region {
            return Err(KmsError::NotFound(format!("Invalid arn {}", arn.region)));
        }
        if let Some(id) = arn.resource.strip_prefix("key/") {
            if !valid_key_id(id) {
                return Err(invalid_key_id(id));
            }
            return Ok(KeyRef::Key {
                arn: kms::key_arn(arn.region, arn.account_id, id),
            });
        }
        if arn.resource.starts_with("alias/") && accepts == Accepts::KeyOrAlias {
            return Ok(KeyRef::Alias {
                account: arn.account_id.to_owned(),
                name: arn.resource.to_owned(),
            });
        }
        return Err(invalid_key_id(v));
    }
    if v.starts_with("alias/") {
        if accepts == Accepts::KeyOrAlias {
            return Ok(KeyRef::Alias {
                account: account.to_owned(),
                name: v.to_owned(),
            });
        }
        return Err(invalid_key_id(v));
    }
    if !valid_key_id(v) {
        return Err(invalid_key_id(v));
    }
    Ok(KeyRef::Key {
        arn: kms::key_arn(region, account, v),
    })
}

/// What a `KeyId` names, as [`resolve_key`] finds it: nothing is changed.
pub(crate) enum Found {
    /// An existing key.
    Key(KmsKey),
    /// The AWS managed key `alias/aws/secretsmanager` names before the account's first use of it:
    /// made but not stored. It is authorized as the key it will be, and the operation's work
    /// stores it ([`Found::into_key`]).
    NewAwsManaged(KmsKey),
    /// Nothing by that name: the ARN it would have (a key or alias ARN) and that ARN's account,
    /// authorized on identity policies, then answered with `error`.
    Missing {
        arn: String,
        account: String,
        error: KmsError,
    },
}

impl Found {
    fn missing(arn: String, error: KmsError) -> Self {
        let account = kinko_core::arn::Arn::parse(&arn)
            .map(|a| a.account_id.to_owned())
            .unwrap_or_default();
        Found::Missing { arn, account, error }
    }

    /// The key, when it exists (or is the AWS managed key its first use creates).
    pub fn key(&self) -> Option<&KmsKey> {
        match self {
            Found::Key(k) | Found::NewAwsManaged(k) => Some(k),
            Found::Missing { .. } => None,
        }
    }

    /// The key to work on, once authorized: stores the AWS managed key its first use creates (a
    /// concurrent creation is a conflict: the operation is retried and finds theirs), and answers
    /// a missing key with its not-found error.
    pub async fn into_key(self, cx: &Cx<'_>) -> Result<KmsKey, KmsError> {
        match self {
            Found::Key(k) => Ok(k),
            Found::NewAwsManaged(k) => {
                cx.services
                    .keyring
                    .create_secretsmanager_default_key(k.clone())
                    .await?;
                Ok(k)
            }
            Found::Missing { error, .. } => Err(error),
        }
    }
}

/// Finds the key a parsed `KeyId` names, in the request's region.
pub(crate) async fn find(cx: &Cx<'_>, key_ref: KeyRef) -> Result<Found, KmsError> {
    find_in(cx, cx.region(), key_ref).await
}

/// Finds the key a parsed `KeyId` names, in `region` (Secrets Manager's replica keys).
pub(crate) async fn find_in(cx: &Cx<'_>, region: &str, key_ref: KeyRef) -> Result<Found, KmsError> {
    let store = &cx.services.store;
    Ok(match key_ref {
        KeyRef::Key { arn } => match store.kms_key(&arn).await? {
            Some(k) => Found::Key(k.at(cx.now())),
            None => {
                let error = KmsError::NotFound(format!("Key '{arn}' does not exist"));
                Found::missing(arn, error)
            }
        },
        KeyRef::Alias { account, name } => {
            let target = store.kms_alias_target(&account, region, &name).await?;
            let key = match &target {
                Some(arn) => store.kms_key(arn).await?,
                None => None,
            };
            match key {
                Some(k) => Found::Key(k.at(cx.now())),
                // AWS creates an AWS managed key the first time its alias is used.
                None if target.is_none() && name == kms::SECRETSMANAGER_ALIAS && account == cx.account() => {
                    Found::NewAwsManaged(
                        cx.services
                            .keyring
                            .new_secretsmanager_default_key(&account, region),
                    )
                }
                None => {
                    let alias_arn = kms::alias_arn(region, &account, &name);
                    let error = KmsError::NotFound(format!("Alias {alias_arn} is not found."));
                    Found::missing(alias_arn, error)
                }
            }
        }
    })
}

/// Finds the key a `KeyId` names; a malformed `KeyId` is answered at once.
pub(crate) async fn resolve_key(
    cx: &Cx<'_>,
    key_id: Option<&str>,
    accepts: Accepts,
) -> Result<Found, KmsError> {
    let key_ref = parse_key_ref(cx.account(), cx.region(), key_id.unwrap_or_default(), accepts)?;
    find(cx, key_ref).await
}

/// Finds the key a `KeyId` names, keeping a malformed `KeyId`'s error for the operation to give
/// after the checks that come before it (an alias target after the alias's own check).
pub(crate) async fn resolve_key_later(
    cx: &Cx<'_>,
    key_id: Option<&str>,
    accepts: Accepts,
) -> Result<Result<Found, KmsError>, KmsError> {
    match parse_key_ref(cx.account(), cx.region(), key_id.unwrap_or_default(), accepts) {
        Ok(key_ref) => Ok(Ok(find(cx, key_ref).await?)),
        Err(e) => Ok(Err(e)),
    }
}

/// The check of `action` on an existing key, for a caller of `caller_account`: the key's ARN, its
/// key policy with its bound principals, its tags, `kms:CallerAccount`, `kms:KeySpec`,
/// `kms:KeyUsage`, `kms:KeyOrigin`, and whether it is AWS managed. Every KMS operation and
/// [`Via`] check a key with this.
pub(crate) fn key_check<'a>(caller_account: &'a str, action: &'a str, key: &'a KmsKey) -> Check<'a> {
    Check::new(
        action,
        Resource::Arn {
            arn: &key.arn,
            account_id: &key.account_id,
        },
    )
    .policy(ResourcePolicy::Key(Bound {
        document: &key.policy,
        principals: &key.policy_principals,
    }))
    .tags(None, &key.tags)
    .grants(KeyGrants {
        grants: &key.grants,
        retiring: false,
    })
    .facts(Facts {
        aws_managed_key: key.key_manager == KeyManager::Aws,
        ..Facts::default()
    })
    .condition("kms:CallerAccount", caller_account)
    .condition("kms:KeySpec", key.key_spec.name())
    .condition("kms:KeyUsage", key.key_usage.name())
    .condition("kms:KeyOrigin", key.origin())
    .condition("kms:MultiRegion", bool_value(key.multi_region.is_some()))
    .condition_opt(
        "kms:MultiRegionKeyType",
        key.multi_region
            .as_ref()
            .map(|_| if key.is_replica() { "REPLICA" } else { "PRIMARY" }),
    )
}

/// The check of `action` on identity policies alone: `"*"` (CreateKey, ListKeys, ListAliases,
/// GenerateRandom), an alias ARN, or a key that doesn't exist.
pub(crate) fn identity_check<'a>(cx: &'a Cx<'_>, action: &'a str, resource: Resource<'a>) -> Check<'a> {
    Check::new(action, resource).condition("kms:CallerAccount", cx.account())
}

/// The check of `action` on what a `KeyId` names: [`key_check`] on a key, identity policies on the
/// ARN of one that doesn't exist.
pub(crate) fn found_check<'a>(cx: &'a Cx<'_>, action: &'a str, found: &'a Found) -> Check<'a> {
    match found {
        Found::Key(k) | Found::NewAwsManaged(k) => key_check(cx.account(), action, k),
        Found::Missing { arn, account, .. } => identity_check(
            cx,
            action,
            Resource::Arn {
                arn,
                account_id: account,
            },
        ),
    }
}

/// No encryption context: the same as an empty one.
pub(crate) static NO_CONTEXT: EncryptionContext = EncryptionContext::new();

/// The `kms:EncryptionContext:<k>` condition key names of a request's encryption context, made
/// once so that its checks borrow them ([`with_context`]).
pub(crate) fn context_names(context: &EncryptionContext) -> Vec<String> {
    context
        .keys()
        .map(|k| format!("kms:EncryptionContext:{k}"))
        .collect()
}

/// Adds `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys` for each pair of `context`;
/// `names` are its [`context_names`].
pub(crate) fn with_context<'a>(
    mut check: Check<'a>,
    context: &'a EncryptionContext,
    names: &'a [String],
) -> Check<'a> {
    for ((k, v), name) in context.iter().zip(names) {
        check = check
            .condition(name.as_str(), v.as_str())
            .condition("kms:EncryptionContextKeys", k.as_str());
    }
    check
}

/// `"true"` or `"false"`, as a condition value.
pub(crate) fn bool_value(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Cryptographic operations need an enabled key.
pub(crate) fn usable(key: &KmsKey) -> Result<(), KmsError> {
    match key.key_state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", key.arn))),
        KeyState::PendingDeletion => Err(pending_deletion(key)),
        KeyState::PendingImport => Err(pending_import(key)),
    }
}

/// An operation that needs a key of `usage`: AWS's `InvalidKeyUsageException` for any other
/// (`<key ARN> key usage is SIGN_VERIFY which is not valid for Encrypt.`).
pub(crate) fn for_usage(key: &KmsKey, usage: KeyUsage, operation: &str) -> Result<(), KmsError> {
    if key.key_usage == usage {
        return Ok(());
    }
    Err(KmsError::InvalidKeyUsage(format!(
        "{} key usage is {} which is not valid for {operation}.",
        key.arn,
        key.key_usage.name()
    )))
}

/// An operation only symmetric encryption keys do (GenerateDataKey, ReEncrypt, Secrets Manager's
/// data keys): other usages as [`for_usage`]; an RSA encryption key gets the same exception, in
/// words of its key spec (AWS documents the refusal, not its text).
pub(crate) fn symmetric_only(key: &KmsKey, operation: &str) -> Result<(), KmsError> {
    for_usage(key, KeyUsage::EncryptDecrypt, operation)?;
    if key.key_spec == KeySpec::SymmetricDefault {
        return Ok(());
    }
    Err(KmsError::InvalidKeyUsage(format!(
        "{} key spec {} is not valid for {operation}.",
        key.arn,
        key.key_spec.name()
    )))
}

/// Management operations refuse keys pending deletion.
pub(crate) fn not_pending_deletion(key: &KmsKey) -> Result<(), KmsError> {
    match key.key_state {
        KeyState::PendingDeletion => Err(pending_deletion(key)),
        KeyState::Enabled | KeyState::Disabled | KeyState::PendingImport => Ok(()),
    }
}

pub(crate) fn pending_deletion(key: &KmsKey) -> KmsError {
    KmsError::InvalidState(format!("{} is pending deletion.", key.arn))
}

/// A key of imported material without usable material, as AWS refuses its use.
pub(crate) fn pending_import(key: &KmsKey) -> KmsError {
    KmsError::InvalidState(format!("{} is pending import.", key.arn))
}

/// Writes a changed key based on the revision it was read at. A lost race is a conflict, which
/// makes the operation retry from a fresh read.
pub(crate) async fn write_key(cx: &Cx<'_>, key: KmsKey) -> Result<(), KmsError> {
    Ok(cx.services.store.update_kms_key(key).await?)
}

impl ServiceError for KmsError {
    fn access_denied(message: String) -> Self {
        KmsError::AccessDenied(message)
    }

    /// KMS answers every refusal of a named rule (a management action on an AWS managed key, a
    /// ciphertext whose key doesn't exist) as `AccessDeniedException` with the rule's message.
    fn refused(refusal: Refusal) -> Self {
        match refusal {
            Refusal::AwsManagedKey { .. }
            | Refusal::UnknownCiphertextKey
            | Refusal::SessionTokenCallsIam
            | Refusal::SessionTokenCallsSts { .. }
            | Refusal::RootAssumesRole
            | Refusal::DefaultKeyCrossAccount
            | Refusal::NotManagementAccount
            | Refusal::Unsigned => KmsError::AccessDenied(refusal.message()),
        }
    }

    fn internal(detail: String) -> Self {
        KmsError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        KmsError::Serialization(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, KmsError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            KmsError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        KmsError::to_wire(self)
    }
}

impl From<AuthzError> for KmsError {
    fn from(e: AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}
