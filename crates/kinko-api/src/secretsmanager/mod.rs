//! AWS Secrets Manager (JSON 1.1, `X-Amz-Target: secretsmanager.<Operation>`).
//!
//! Every operation in `ops/` implements the one [`Operation`] contract; [`handle`] dispatches to
//! [`crate::operation::execute`]. The helpers here resolve a `SecretId` (name, full ARN or partial
//! ARN, in the caller's region) and build the authorization checks on it: the secret's ARN, its
//! resource policy and tags, and `secretsmanager:SecretId`. A `SecretId` that names nothing is
//! authorized as the caller passed it before the not-found answer, so callers without permission
//! can't probe for names.

pub mod accessed;
pub(crate) mod error;
pub(crate) mod model;
mod ops;
mod public_access;
mod replication;
pub mod rotation;

use kinko_core::arn::SecretRef;
use kinko_core::secret::Secret;
use kinko_wire::WireError;

use crate::authz::{Bound, Check, Facts, Refusal, Resource, ResourcePolicy};
pub(crate) use crate::operation::{Authorization, Cx, Operation};
use crate::operation::{Json, Service, ServiceError, execute, finish, json_service};
use crate::{RequestContext, Services};

pub use error::SmError;

/// Secrets Manager, as the one operation contract sees it.
pub struct SecretsManager;

impl Service for SecretsManager {
    const PREFIX: &'static str = "secretsmanager";
    const EVENT_SOURCE: &'static str = "secretsmanager.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        // Secret values are never in Secrets Manager's CloudTrail records ("SecretString is not
        // included in CloudTrail", GetSecretValue): not those written (CreateSecret,
        // PutSecretValue, UpdateSecret), nor those read (GetSecretValue, BatchGetSecretValue's
        // `SecretValues`), nor GetRandomPassword's password.
        omitted: &["SecretString", "SecretBinary", "RandomPassword"],
        hidden: &[],
        // DescribeSecret's map from version ids to their labels.
        verbatim: &["VersionIdsToStages"],
        numbers: &[],
        booleans: &[],
    };
    type Protocol = Json;
    type Error = SmError;
}

json_service!(SecretsManager);

/// What an operation works on, named in its input.
pub(crate) enum Target<'a> {
    /// No resource (`"*"`): ListSecrets, GetRandomPassword, BatchGetSecretValue.
    None,
    /// An existing secret named by `SecretId` (name, full ARN or partial ARN).
    Secret(&'a str),
    /// The secret CreateSecret would create under this name.
    NewSecret(&'a str),
}

/// What [`resolve`] found for a [`Target`].
pub(crate) struct Found {
    /// The secret the target names, if it exists.
    pub secret: Option<Secret>,
    /// For CreateSecret: the ARN the new secret gets (or the existing one's).
    pub arn: Option<String>,
}

/// When the secret `arn` will be deleted for good (DeleteSecret's `DeletionDate`), for the
/// console's "scheduled for deletion on" banner: AWS's DescribeSecret shows only when the
/// deletion was asked for (`DeletedDate`). The console reads it only for a secret it has just
/// described as the signed-in principal, so it shows nothing that principal may not see.
pub async fn deletion_date(
    services: &Services,
    arn: &str,
) -> Result<Option<kinko_core::Timestamp>, kinko_core::store::StoreError> {
    Ok(services
        .store
        .secret_by_arn(arn)
        .await?
        .and_then(|s| s.deletion_date))
}

/// Runs one Secrets Manager operation and returns the response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let result = match operation {
        "BatchGetSecretValue" => execute::<ops::BatchGetSecretValue>(services, rc, body).await,
        "CreateSecret" => execute::<ops::CreateSecret>(services, rc, body).await,
        "DeleteResourcePolicy" => execute::<ops::DeleteResourcePolicy>(services, rc, body).await,
        "DeleteSecret" => execute::<ops::DeleteSecret>(services, rc, body).await,
        "DescribeSecret" => execute::<ops::DescribeSecret>(services, rc, body).await,
        "GetRandomPassword" => execute::<ops::GetRandomPassword>(services, rc, body).await,
        "GetResourcePolicy" => execute::<ops::GetResourcePolicy>(services, rc, body).await,
        "GetSecretValue" => execute::<ops::GetSecretValue>(services, rc, body).await,
        "ListSecretVersionIds" => execute::<ops::ListSecretVersionIds>(services, rc, body).await,
        "ListSecrets" => execute::<ops::ListSecrets>(services, rc, body).await,
        "PutResourcePolicy" => execute::<ops::PutResourcePolicy>(services, rc, body).await,
        "PutSecretValue" => execute::<ops::PutSecretValue>(services, rc, body).await,
        "RestoreSecret" => execute::<ops::RestoreSecret>(services, rc, body).await,
        "TagResource" => execute::<ops::TagResource>(services, rc, body).await,
        "UntagResource" => execute::<ops::UntagResource>(services, rc, body).await,
        "UpdateSecret" => execute::<ops::UpdateSecret>(services, rc, body).await,
        "UpdateSecretVersionStage" => execute::<ops::UpdateSecretVersionStage>(services, rc, body).await,
        "ValidateResourcePolicy" => execute::<ops::ValidateResourcePolicy>(services, rc, body).await,
        "RotateSecret" => execute::<ops::RotateSecret>(services, rc, body).await,
        "CancelRotateSecret" => execute::<ops::CancelRotateSecret>(services, rc, body).await,
        "ReplicateSecretToRegions" => execute::<ops::ReplicateSecretToRegions>(services, rc, body).await,
        "RemoveRegionsFromReplication" => {
            execute::<ops::RemoveRegionsFromReplication>(services, rc, body).await
        }
        "StopReplicationToReplica" => execute::<ops::StopReplicationToReplica>(services, rc, body).await,
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

/// Finds the secret a `SecretId` names, in the caller's region.
/// The secret `secret_id` names, with the `LastAccessedDate`s this process has yet to write.
pub(crate) async fn lookup(cx: &Cx<'_>, secret_id: &str) -> Result<Option<Secret>, SmError> {
    let mut secret = lookup_stored(cx, secret_id).await?;
    if let Some(s) = &mut secret {
        cx.services.accessed.overlay(s);
    }
    Ok(secret)
}

async fn lookup_stored(cx: &Cx<'_>, secret_id: &str) -> Result<Option<Secret>, SmError> {
    let store = &cx.services.store;
    let region = cx.rc.region.as_str();
    Ok(match SecretRef::parse(secret_id) {
        None => None,
        Some(SecretRef::Name(name)) => {
            store
                .secret_by_name(&cx.rc.principal.account_id, region, &name)
                .await?
        }
        // An ARN ending in `-XXXXXX` is a full ARN and must match exactly, with no fallback to
        // the name: `...:secret:test-secret` of a secret named `test-secret` finds nothing, as
        // AWS answers it (recorded for a name ending in `-a1b2c3`). moto's
        // `test_describe_secret_with_arn[test-secret]` falls back to the name.
        Some(SecretRef::FullArn { arn, region: r, .. }) if r == region => store.secret_by_arn(&arn).await?,
        Some(SecretRef::PartialArn {
            name,
            account_id,
            region: r,
        }) if r == region => store.secret_by_name(&account_id, region, &name).await?,
        Some(_) => None,
    })
}

/// Finds what a target names.
pub(crate) async fn resolve(cx: &Cx<'_>, target: Target<'_>) -> Result<Found, SmError> {
    Ok(match target {
        Target::None => Found {
            secret: None,
            arn: None,
        },
        Target::Secret(id) => Found {
            secret: lookup(cx, id).await?,
            arn: None,
        },
        Target::NewSecret(name) => {
            let existing = cx
                .services
                .store
                .secret_by_name(cx.account(), cx.region(), name)
                .await?;
            // The suffix is always random: a tag never chooses it (moto's
            // `test_create_secret_with_tag_custom_id` sets it with moto's own tag `_custom_id_`).
            let arn = match &existing {
                Some(s) => s.arn.clone(),
                None => kinko_core::arn::secret_arn(
                    cx.region(),
                    cx.account(),
                    name,
                    &kinko_core::arn::random_secret_suffix(),
                ),
            };
            Found {
                secret: existing,
                arn: Some(arn),
            }
        }
    })
}

/// The resource a target stands for in authorization.
fn resource<'a>(cx: &'a Cx<'_>, target: &Target<'a>, found: &'a Found) -> Resource<'a> {
    if let Some(s) = &found.secret {
        return Resource::Arn {
            arn: &s.arn,
            account_id: &s.account_id,
        };
    }
    match target {
        Target::None => Resource::Any,
        Target::NewSecret(_) => match &found.arn {
            Some(arn) => Resource::Arn {
                arn,
                account_id: cx.account(),
            },
            None => Resource::Any,
        },
        Target::Secret(id) => match SecretRef::parse(id) {
            Some(SecretRef::FullArn { .. } | SecretRef::PartialArn { .. }) => Resource::of_arn(id),
            _ => Resource::Unresolved(id),
        },
    }
}

/// The operation's own action on what `target` names: the secret's ARN, resource policy and tags
/// and `secretsmanager:SecretId` when it exists.
///
/// A denial names the secret as the caller did (`SecretId`, or CreateSecret's `Name`), never by
/// the ARN it resolved to: the same text for an existing and a missing secret, so a caller without
/// access learns nothing of which names exist.
pub(crate) fn check<'a>(cx: &'a Cx<'_>, target: Target<'a>, found: &'a Found) -> Check<'a> {
    let resource = resource(cx, &target, found);
    let check = with_secret(Check::new(cx.action, resource), found.secret.as_ref());
    match target {
        Target::Secret(id) | Target::NewSecret(id) => check.shown_as(id),
        Target::None => check,
    }
}

/// Another action on an existing secret (GetSecretValue per secret of a batch).
pub(crate) fn secret_check<'a>(action: &'a str, secret: &'a Secret) -> Check<'a> {
    let resource = Resource::Arn {
        arn: &secret.arn,
        account_id: &secret.account_id,
    };
    with_secret(Check::new(action, resource), Some(secret))
}

/// Another action on a `SecretId` that names no existing secret.
pub(crate) fn unresolved_check<'a>(action: &'a str, secret_id: &'a str) -> Check<'a> {
    let resource = match SecretRef::parse(secret_id) {
        Some(SecretRef::FullArn { .. } | SecretRef::PartialArn { .. }) => Resource::of_arn(secret_id),
        _ => Resource::Unresolved(secret_id),
    };
    Check::new(action, resource)
}

fn with_secret<'a>(c: Check<'a>, secret: Option<&'a Secret>) -> Check<'a> {
    let Some(s) = secret else { return c };
    let mut c = c
        .tags(Some("secretsmanager"), s.tags.as_deref().unwrap_or_default())
        .condition("secretsmanager:SecretId", s.arn.as_str())
        .condition_opt(
            "secretsmanager:resource/AllowRotationLambdaArn",
            s.rotation.as_ref().and_then(|r| r.lambda_arn.as_deref()),
        )
        .facts(Facts {
            secret_under_default_key: s.kms_key_id.is_none(),
            ..Facts::default()
        });
    if let Some(p) = &s.resource_policy {
        c = c.policy(ResourcePolicy::Resource(Bound {
            document: p,
            principals: &s.resource_policy_principals,
        }));
    }
    c
}

impl ServiceError for SmError {
    fn access_denied(message: String) -> Self {
        SmError::AccessDenied(message)
    }

    fn refused(refusal: Refusal) -> Self {
        match refusal {
            Refusal::DefaultKeyCrossAccount => SmError::InvalidRequest(refusal.message()),
            Refusal::SessionTokenCallsIam
            | Refusal::SessionTokenCallsSts { .. }
            | Refusal::RootAssumesRole
            | Refusal::AwsManagedKey { .. }
            | Refusal::UnknownCiphertextKey
            | Refusal::NotManagementAccount
            | Refusal::Unsigned => SmError::AccessDenied(refusal.message()),
        }
    }

    fn internal(detail: String) -> Self {
        SmError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        SmError::Serialization(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, SmError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            SmError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        SmError::to_wire(self)
    }
}
