//! AWS KMS (JSON 1.1, `X-Amz-Target: TrentService.<Operation>`): symmetric encryption keys,
//! aliases, key policies, tags, rotation and scheduled deletion.
//!
//! [`handle`] decodes the input and dispatches; the shared helpers here resolve a `KeyId` (key id,
//! key ARN, alias name or alias ARN, as each operation allows), authorize `kms:<Action>` against the
//! key's policy (required: IAM policies count only where it delegates to the account), check the key
//! state, and retry a write that lost an optimistic-concurrency race. A caller without permission
//! learns nothing about whether a key exists: unknown keys are authorized against identity policies
//! only before the not-found answer. Key material never leaves the [`crate::Keyring`] unwrapped.

mod error;
mod model;
mod ops;
mod via;

use kinko_core::kms::{self, KeyManager, KeyState, KmsKey};
use kinko_crypto::blob::EncryptionContext;
use kinko_wire::WireError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::authz::{self, Bound, Check, Resource, ResourcePolicy};
use crate::{RequestContext, Services};

pub use error::KmsError;
pub use via::Via;

/// Attempts at an operation whose write lost an optimistic-concurrency race.
pub(crate) const MAX_ATTEMPTS: usize = 16;

/// Per-request context an operation runs with.
pub(crate) struct Cx<'a> {
    pub services: &'a Services,
    pub rc: &'a RequestContext,
}

impl Cx<'_> {
    pub fn account(&self) -> &str {
        &self.rc.principal.account_id
    }

    pub fn region(&self) -> &str {
        &self.rc.region
    }
}

/// Runs one KMS operation and returns the response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let cx = Cx { services, rc };
    let result = match operation {
        "CreateKey" => ops::create_key(&cx, body).await,
        "DescribeKey" => ops::describe_key(&cx, body).await,
        "ListKeys" => ops::list_keys(&cx, body).await,
        "EnableKey" => ops::enable_key(&cx, body).await,
        "DisableKey" => ops::disable_key(&cx, body).await,
        "ScheduleKeyDeletion" => ops::schedule_key_deletion(&cx, body).await,
        "CancelKeyDeletion" => ops::cancel_key_deletion(&cx, body).await,
        "UpdateKeyDescription" => ops::update_key_description(&cx, body).await,
        "CreateAlias" => ops::create_alias(&cx, body).await,
        "UpdateAlias" => ops::update_alias(&cx, body).await,
        "DeleteAlias" => ops::delete_alias(&cx, body).await,
        "ListAliases" => ops::list_aliases(&cx, body).await,
        "Encrypt" => ops::encrypt(&cx, body).await,
        "Decrypt" => ops::decrypt(&cx, body).await,
        "ReEncrypt" => ops::re_encrypt(&cx, body).await,
        "GenerateDataKey" => ops::generate_data_key(&cx, body, true).await,
        "GenerateDataKeyWithoutPlaintext" => ops::generate_data_key(&cx, body, false).await,
        "GenerateRandom" => ops::generate_random(&cx, body).await,
        "EnableKeyRotation" => ops::enable_key_rotation(&cx, body).await,
        "DisableKeyRotation" => ops::disable_key_rotation(&cx, body).await,
        "GetKeyRotationStatus" => ops::get_key_rotation_status(&cx, body).await,
        "RotateKeyOnDemand" => ops::rotate_key_on_demand(&cx, body).await,
        "ListKeyRotations" => ops::list_key_rotations(&cx, body).await,
        "GetKeyPolicy" => ops::get_key_policy(&cx, body).await,
        "PutKeyPolicy" => ops::put_key_policy(&cx, body).await,
        "ListKeyPolicies" => ops::list_key_policies(&cx, body).await,
        "TagResource" => ops::tag_resource(&cx, body).await,
        "UntagResource" => ops::untag_resource(&cx, body).await,
        "ListResourceTags" => ops::list_resource_tags(&cx, body).await,
        _ => {
            return Err(WireError::new(
                "UnknownOperationException",
                400,
                format!("The operation {operation} is not supported by this service."),
            ));
        }
    };
    result.map_err(|e| {
        if let KmsError::Internal(detail) = &e {
            tracing::error!(request_id = %rc.request_id, operation, detail = %detail, "internal error");
        }
        e.to_wire()
    })
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, KmsError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        KmsError::Serialization(if e.is_data() {
            "Failed to deserialize the request: a member has the wrong type or an invalid value.".into()
        } else {
            "Failed to parse the request body as a JSON object.".into()
        })
    })
}

pub(crate) fn encode<T: Serialize>(out: &T) -> Result<Vec<u8>, KmsError> {
    serde_json::to_vec(out).map_err(|e| KmsError::Internal(e.to_string()))
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
enum KeyRef {
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

impl Cx<'_> {
    fn parse_key_ref(&self, v: &str, accepts: Accepts) -> Result<KeyRef, KmsError> {
        if v.starts_with("arn:") {
            let arn = kinko_core::arn::Arn::parse(v).ok_or_else(|| invalid_key_id(v))?;
            if arn.service != "kms" {
                return Err(invalid_key_id(v));
            }
            if arn.region != self.region() {
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
                    account: self.account().to_owned(),
                    name: v.to_owned(),
                });
            }
            return Err(invalid_key_id(v));
        }
        if !valid_key_id(v) {
            return Err(invalid_key_id(v));
        }
        Ok(KeyRef::Key {
            arn: kms::key_arn(self.region(), self.account(), v),
        })
    }

    /// The key a `KeyId` names, or the not-found error to give and the ARN it would have had.
    async fn lookup(
        &self,
        v: &str,
        accepts: Accepts,
    ) -> Result<Result<KmsKey, (KmsError, String)>, KmsError> {
        let store = &self.services.store;
        Ok(match self.parse_key_ref(v, accepts)? {
            KeyRef::Key { arn } => match store.kms_key(&arn).await? {
                Some(k) => Ok(k),
                None => Err((KmsError::NotFound(format!("Key '{arn}' does not exist")), arn)),
            },
            KeyRef::Alias { account, name } => {
                let alias_arn = kms::alias_arn(self.region(), &account, &name);
                if name == kms::SECRETSMANAGER_ALIAS && account == self.account() {
                    return Ok(Ok(self
                        .services
                        .keyring
                        .secretsmanager_default_key(&account, self.region())
                        .await
                        .map_err(KmsError::from)?));
                }
                let not_found = || {
                    (
                        KmsError::NotFound(format!("Alias {alias_arn} is not found.")),
                        alias_arn.clone(),
                    )
                };
                match store.kms_alias_target(&account, self.region(), &name).await? {
                    None => Err(not_found()),
                    Some(target) => store.kms_key(&target).await?.ok_or_else(not_found),
                }
            }
        })
    }

    /// Resolves a `KeyId` and authorizes `action` on the key it names, with the key's policy and
    /// these condition keys. Unknown keys are authorized on identity policies only, then not found.
    pub async fn key(
        &self,
        v: &str,
        accepts: Accepts,
        action: &str,
        conditions: &[(String, String)],
    ) -> Result<KmsKey, KmsError> {
        match self.lookup(v, accepts).await? {
            Ok(key) => {
                self.authorize_key(action, &key, conditions, &[]).await?;
                Ok(key)
            }
            Err((not_found, arn)) => {
                let account = kinko_core::arn::Arn::parse(&arn)
                    .map(|a| a.account_id.to_owned())
                    .unwrap_or_default();
                self.authorize_identity(
                    action,
                    Resource::Arn {
                        arn: &arn,
                        account_id: &account,
                    },
                    conditions,
                    &[],
                )
                .await?;
                Err(not_found)
            }
        }
    }

    /// Authorizes `action` on `key` under its key policy.
    pub async fn authorize_key(
        &self,
        action: &str,
        key: &KmsKey,
        conditions: &[(String, String)],
        request_tags: &[(String, String)],
    ) -> Result<(), KmsError> {
        let conditions = conditions.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        self.authorize_key_with(action, key, conditions, request_tags)
            .await
    }

    /// [`Self::authorize_key`] with borrowed condition keys and values.
    pub async fn authorize_key_with<'c>(
        &self,
        action: &str,
        key: &KmsKey,
        conditions: impl Iterator<Item = (&'c str, &'c str)>,
        request_tags: &[(String, String)],
    ) -> Result<(), KmsError> {
        let mut check = Check::new(
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
        .request_tags(request_tags);
        let (k, v) = self.base_condition();
        check = check.condition(k, v);
        for (k, v) in KEY_CONDITIONS {
            check = check.condition(k, v);
        }
        for (k, v) in conditions {
            check = check.condition(k, v);
        }
        Ok(authz::check(self.services, self.rc, &check).await?)
    }

    /// Authorizes `action` on identity policies alone (`"*"` for CreateKey, ListKeys, ListAliases,
    /// GenerateRandom; alias ARNs; keys that don't exist).
    pub async fn authorize_identity(
        &self,
        action: &str,
        resource: Resource<'_>,
        conditions: &[(String, String)],
        request_tags: &[(String, String)],
    ) -> Result<(), KmsError> {
        let (k, v) = self.base_condition();
        let mut check = Check::new(action, resource)
            .request_tags(request_tags)
            .condition(k, v);
        for (k, v) in conditions {
            check = check.condition(k, v.as_str());
        }
        Ok(authz::check(self.services, self.rc, &check).await?)
    }

    /// `kms:CallerAccount`, which every request has.
    fn base_condition(&self) -> (&'static str, &str) {
        ("kms:CallerAccount", self.account())
    }
}

/// Condition keys every request on an existing key has (only symmetric AWS_KMS keys exist here).
const KEY_CONDITIONS: [(&str, &str); 3] = [
    ("kms:KeySpec", model::SYMMETRIC_DEFAULT),
    ("kms:KeyUsage", model::ENCRYPT_DECRYPT),
    ("kms:KeyOrigin", "AWS_KMS"),
];

/// `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys` for a request's context.
pub(crate) fn context_conditions(context: &EncryptionContext) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(context.len() * 2);
    for (k, v) in context {
        out.push((format!("kms:EncryptionContext:{k}"), v.clone()));
        out.push(("kms:EncryptionContextKeys".into(), k.clone()));
    }
    out
}

/// Cryptographic operations need an enabled key.
pub(crate) fn usable(key: &KmsKey) -> Result<(), KmsError> {
    match key.key_state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", key.arn))),
        KeyState::PendingDeletion => Err(pending_deletion(key)),
    }
}

/// Management operations refuse keys pending deletion.
pub(crate) fn not_pending_deletion(key: &KmsKey) -> Result<(), KmsError> {
    match key.key_state {
        KeyState::PendingDeletion => Err(pending_deletion(key)),
        KeyState::Enabled | KeyState::Disabled => Ok(()),
    }
}

pub(crate) fn pending_deletion(key: &KmsKey) -> KmsError {
    KmsError::InvalidState(format!("{} is pending deletion.", key.arn))
}

/// AWS managed keys can't be changed by customers (their key policies grant nobody management
/// actions; this keeps the root user, whom policies don't restrict, out too).
pub(crate) fn customer_managed(key: &KmsKey, action: &str, cx: &Cx<'_>) -> Result<(), KmsError> {
    match key.key_manager {
        KeyManager::Customer => Ok(()),
        KeyManager::Aws => Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} on resource: {} because no resource-based policy allows the {action} action",
            cx.rc.principal.arn, key.arn
        ))),
    }
}

/// Reads a key, changes it with `change` and writes it back based on its revision, retrying lost
/// races from a fresh read (authorizing again each time). Returns the key as written.
pub(crate) async fn update_key(
    cx: &Cx<'_>,
    key_id: &str,
    action: &str,
    conditions: &[(String, String)],
    mut change: impl FnMut(&mut KmsKey) -> Result<(), KmsError>,
) -> Result<KmsKey, KmsError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut key = cx.key(key_id, Accepts::KeyOnly, action, conditions).await?;
        change(&mut key)?;
        match cx.services.store.update_kms_key(key.clone()).await {
            Ok(()) => {
                key.revision += 1;
                return Ok(key);
            }
            Err(kinko_core::store::StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(KmsError::Internal(
        "too many conflicting concurrent changes".into(),
    ))
}
