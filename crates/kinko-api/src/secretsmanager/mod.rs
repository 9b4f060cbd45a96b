//! AWS Secrets Manager (JSON 1.1, `X-Amz-Target: secretsmanager.<Operation>`).
//!
//! [`handle`] is the whole service: decode, validate, resolve the target secret, authorize (before
//! any not-found, so callers without permission can't probe for names), run, encode. Each operation
//! in `ops/` implements [`Operation`] and only does its own work.

mod error;
mod model;
mod ops;

use std::future::Future;

use kinko_core::arn::SecretRef;
use kinko_core::secret::Secret;
use kinko_wire::WireError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::authz::{self, Resource};
use crate::{RequestContext, Services};

pub use error::SmError;

/// Attempts at an operation whose write lost an optimistic-concurrency race.
const MAX_ATTEMPTS: usize = 16;

/// What an operation works on, named in its input.
pub(crate) enum Target<'a> {
    /// No resource (`"*"`): ListSecrets, GetRandomPassword, BatchGetSecretValue.
    None,
    /// An existing secret named by `SecretId` (name, full ARN or partial ARN).
    Secret(&'a str),
    /// The secret CreateSecret would create under this name.
    NewSecret(&'a str),
}

/// The resolved target handed to [`Operation::run`].
pub(crate) struct Found {
    /// The secret the target names, if it exists.
    pub secret: Option<Secret>,
    /// For CreateSecret: the ARN the new secret gets (or the existing one's).
    pub arn: Option<String>,
}

/// Per-request context an operation runs with.
pub(crate) struct Cx<'a> {
    pub services: &'a Services,
    pub rc: &'a RequestContext,
}

pub(crate) trait Operation {
    /// The operation name, as in `X-Amz-Target` and the IAM action `secretsmanager:<NAME>`.
    const NAME: &'static str;
    type Input: DeserializeOwned + Send + Sync;
    type Output: Serialize;
    /// Model constraints and the checks AWS makes before looking anything up.
    fn validate(input: &Self::Input) -> Result<(), SmError>;
    fn target(input: &Self::Input) -> Target<'_>;
    /// Condition keys this request sets (`secretsmanager:VersionStage`, ...), besides the ones
    /// every secret request has.
    fn conditions(_input: &Self::Input) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Tags the request would set (`aws:RequestTag/*`, `aws:TagKeys`).
    fn request_tags(_input: &Self::Input) -> Vec<(String, String)> {
        Vec::new()
    }
    fn run(
        cx: &Cx<'_>,
        input: &Self::Input,
        found: Found,
    ) -> impl Future<Output = Result<Self::Output, SmError>> + Send;
}

/// Runs one Secrets Manager operation and returns the response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let cx = Cx { services, rc };
    let result = match operation {
        "BatchGetSecretValue" => execute::<ops::BatchGetSecretValue>(&cx, body).await,
        "CreateSecret" => execute::<ops::CreateSecret>(&cx, body).await,
        "DeleteResourcePolicy" => execute::<ops::DeleteResourcePolicy>(&cx, body).await,
        "DeleteSecret" => execute::<ops::DeleteSecret>(&cx, body).await,
        "DescribeSecret" => execute::<ops::DescribeSecret>(&cx, body).await,
        "GetRandomPassword" => execute::<ops::GetRandomPassword>(&cx, body).await,
        "GetResourcePolicy" => execute::<ops::GetResourcePolicy>(&cx, body).await,
        "GetSecretValue" => execute::<ops::GetSecretValue>(&cx, body).await,
        "ListSecretVersionIds" => execute::<ops::ListSecretVersionIds>(&cx, body).await,
        "ListSecrets" => execute::<ops::ListSecrets>(&cx, body).await,
        "PutResourcePolicy" => execute::<ops::PutResourcePolicy>(&cx, body).await,
        "PutSecretValue" => execute::<ops::PutSecretValue>(&cx, body).await,
        "RestoreSecret" => execute::<ops::RestoreSecret>(&cx, body).await,
        "TagResource" => execute::<ops::TagResource>(&cx, body).await,
        "UntagResource" => execute::<ops::UntagResource>(&cx, body).await,
        "UpdateSecret" => execute::<ops::UpdateSecret>(&cx, body).await,
        "UpdateSecretVersionStage" => execute::<ops::UpdateSecretVersionStage>(&cx, body).await,
        "ValidateResourcePolicy" => execute::<ops::ValidateResourcePolicy>(&cx, body).await,
        "RotateSecret"
        | "CancelRotateSecret"
        | "ReplicateSecretToRegions"
        | "RemoveRegionsFromReplication"
        | "StopReplicationToReplica" => Err(SmError::InvalidRequest(format!(
            "{operation} is not supported by this server yet."
        ))),
        _ => {
            return Err(WireError::new(
                "UnknownOperationException",
                400,
                format!("The operation {operation} is not supported by this service."),
            ));
        }
    };
    result.map_err(|e| {
        if let SmError::Internal(detail) = &e {
            tracing::error!(request_id = %rc.request_id, operation, detail = %detail, "internal error");
        }
        e.to_wire()
    })
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, SmError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_data() {
            "Failed to deserialize the request: a member has the wrong type or an invalid value."
        } else {
            "Failed to parse the request body as a JSON object."
        };
        SmError::Serialization(what.into())
    })
}

async fn execute<O: Operation>(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, SmError> {
    let input: O::Input = decode(body)?;
    O::validate(&input)?;
    let action = format!("secretsmanager:{}", O::NAME);
    for _ in 0..MAX_ATTEMPTS {
        let found = resolve(cx, O::target(&input)).await?;
        authorize(
            cx,
            &action,
            O::target(&input),
            &found,
            &O::conditions(&input),
            &O::request_tags(&input),
        )
        .await?;
        match O::run(cx, &input, found).await {
            Err(SmError::Conflict) => continue,
            Err(e) => return Err(e),
            Ok(out) => {
                return serde_json::to_vec(&out).map_err(|e| SmError::Internal(e.to_string()));
            }
        }
    }
    Err(SmError::Internal(
        "too many conflicting concurrent changes".into(),
    ))
}

/// Finds the secret a `SecretId` names, in the caller's region.
pub(crate) async fn lookup(cx: &Cx<'_>, secret_id: &str) -> Result<Option<Secret>, SmError> {
    let store = &cx.services.store;
    let region = cx.rc.region.as_str();
    Ok(match SecretRef::parse(secret_id) {
        None => None,
        Some(SecretRef::Name(name)) => {
            store
                .secret_by_name(&cx.rc.principal.account_id, region, &name)
                .await?
        }
        Some(SecretRef::FullArn { arn, region: r, .. }) if r == region => store.secret_by_arn(&arn).await?,
        Some(SecretRef::PartialArn {
            name,
            account_id,
            region: r,
        }) if r == region => store.secret_by_name(&account_id, region, &name).await?,
        Some(_) => None,
    })
}

async fn resolve(cx: &Cx<'_>, target: Target<'_>) -> Result<Found, SmError> {
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
                .secret_by_name(&cx.rc.principal.account_id, &cx.rc.region, name)
                .await?;
            let arn = match &existing {
                Some(s) => s.arn.clone(),
                None => kinko_core::arn::secret_arn(
                    &cx.rc.region,
                    &cx.rc.principal.account_id,
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
                account_id: &cx.rc.principal.account_id,
            },
            None => Resource::Any,
        },
        Target::Secret(id) => match SecretRef::parse(id) {
            Some(SecretRef::FullArn { .. } | SecretRef::PartialArn { .. }) => {
                let account = kinko_core::arn::Arn::parse(id)
                    .map(|a| a.account_id)
                    .unwrap_or_default();
                Resource::Arn {
                    arn: id,
                    account_id: account,
                }
            }
            _ => Resource::Unresolved(id),
        },
    }
}

/// Authorizes `action` on the target: the caller's policies, the secret's resource policy and
/// tags, and the request's condition keys.
async fn authorize(
    cx: &Cx<'_>,
    action: &str,
    target: Target<'_>,
    found: &Found,
    conditions: &[(&'static str, String)],
    request_tags: &[(String, String)],
) -> Result<(), SmError> {
    let resource = resource(cx, &target, found);
    check(
        cx,
        action,
        resource,
        found.secret.as_ref(),
        conditions,
        request_tags,
    )
    .await
}

/// Authorizes an additional action on a secret (e.g. GetSecretValue per secret in a batch).
pub(crate) async fn authorize_secret(cx: &Cx<'_>, action: &str, secret: &Secret) -> Result<(), SmError> {
    let resource = Resource::Arn {
        arn: &secret.arn,
        account_id: &secret.account_id,
    };
    check(cx, action, resource, Some(secret), &[], &[]).await
}

/// Authorizes an additional action on an ARN that need not exist yet (CreateSecret's tags).
pub(crate) async fn authorize_arn(cx: &Cx<'_>, action: &str, arn: &str) -> Result<(), SmError> {
    let account = kinko_core::arn::Arn::parse(arn)
        .map(|a| a.account_id)
        .unwrap_or_default();
    check(
        cx,
        action,
        Resource::Arn {
            arn,
            account_id: account,
        },
        None,
        &[],
        &[],
    )
    .await
}

/// A caller from another account can't use a secret under the AWS managed key: that key's policy
/// only serves its own account.
pub(crate) fn not_default_key_cross_account(cx: &Cx<'_>, secret: &Secret) -> Result<(), SmError> {
    if secret.account_id != cx.rc.principal.account_id && secret.kms_key_id.is_none() {
        return Err(SmError::InvalidRequest(
            "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.".into(),
        ));
    }
    Ok(())
}

fn opt_condition(out: &mut Vec<(&'static str, String)>, key: &'static str, v: Option<impl ToString>) {
    if let Some(v) = v {
        out.push((key, v.to_string()));
    }
}

/// Condition keys from optional request members (present only when the member was sent).
pub(crate) fn conditions<const N: usize>(
    pairs: [(&'static str, Option<String>); N],
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        opt_condition(&mut out, k, v);
    }
    out
}

/// Authorizes an action on a SecretId that names no existing secret.
pub(crate) async fn authorize_unresolved(cx: &Cx<'_>, action: &str, secret_id: &str) -> Result<(), SmError> {
    let target = Target::Secret(secret_id);
    let found = Found {
        secret: None,
        arn: None,
    };
    let resource = resource(cx, &target, &found);
    check(cx, action, resource, None, &[], &[]).await
}

/// Authorizes an action without a resource (ListSecrets for a filtered batch).
pub(crate) async fn authorize_any(cx: &Cx<'_>, action: &str) -> Result<(), SmError> {
    check(cx, action, Resource::Any, None, &[], &[]).await
}

async fn check(
    cx: &Cx<'_>,
    action: &str,
    resource: Resource<'_>,
    secret: Option<&Secret>,
    conditions: &[(&'static str, String)],
    request_tags: &[(String, String)],
) -> Result<(), SmError> {
    let mut context: Vec<(&str, &str)> = Vec::with_capacity(conditions.len() + 1);
    context.extend(conditions.iter().map(|(k, v)| (*k, v.as_str())));
    let mut tags: &[kinko_core::secret::Tag] = &[];
    let mut policy = None;
    if let Some(s) = secret {
        context.push(("secretsmanager:SecretId", &s.arn));
        tags = s.tags.as_deref().unwrap_or_default();
        policy = s.resource_policy.as_deref().map(authz::ResourcePolicy::Resource);
    }
    let c = authz::Check {
        action,
        resource,
        resource_policy: policy,
        context: &context,
        request_tags,
    };
    authz::check_with_stored_tags(cx.services, cx.rc, &c, Some("secretsmanager"), tags)
        .await
        .map_err(|d| SmError::AccessDenied(d.message))
}
