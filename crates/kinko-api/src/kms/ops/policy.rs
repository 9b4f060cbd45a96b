//! GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. Every key has exactly one policy, `default`.
//!
//! The IAM users and roles a key policy names are bound to their unique ids when it is saved, as
//! IAM binds them: a user or role deleted and created again under the same name is not the
//! principal the policy names, and GetKeyPolicy shows the unique id of one that is gone where its
//! ARN was.

use kinko_core::principal::BoundPrincipal;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use super::keys::lockout_check;
use crate::kms::model;
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, bool_value, error, found_check, resolve_key,
    write_key,
};

const DEFAULT: &str = "default";

/// A key policy a caller sets (CreateKey, PutKeyPolicy): well-formed, within the quota, and naming
/// only IAM users and roles that exist (AWS refuses the others with "invalid principals"), which
/// are returned bound to their unique ids. Account principals, `*` and other principal forms
/// aren't looked up: accounts outside this server are legitimate principals of a key policy.
pub(crate) async fn check_key_policy(cx: &Cx<'_>, doc: &str) -> Result<Vec<BoundPrincipal>, KmsError> {
    model::check_policy(doc)?;
    crate::authz::bind_principals(cx.services, doc)
        .await?
        .map_err(|_| KmsError::MalformedPolicyDocument(error::INVALID_PRINCIPALS.into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PolicyInput {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    #[serde(default)]
    bypass_policy_lockout_safety_check: bool,
    limit: Option<i64>,
    marker: Option<String>,
}

fn check_name(v: &mut Violations, name: Option<&str>) {
    v.length("policyName", name, 1, 128, false);
    if let Some(n) = name {
        let ok = n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        v.pattern("policyName", Some(n), "[\\w]+", ok);
    }
}

fn known_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some(DEFAULT) => Ok(()),
        Some(_) => Err(KmsError::NotFound("No such policy exists".into())),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetPolicyOutput {
    policy: String,
    policy_name: &'static str,
}

pub(crate) struct GetKeyPolicy;

impl Operation for GetKeyPolicy {
    type Service = Kms;
    const NAME: &'static str = "GetKeyPolicy";
    type Input = PolicyInput;
    type Output = GetPolicyOutput;
    type Resolved = Found;

    fn validate(i: &PolicyInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        check_name(&mut v, i.policy_name.as_deref());
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &PolicyInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a PolicyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found)))
    }

    async fn run(cx: &Cx<'_>, i: &PolicyInput, found: Found) -> Result<GetPolicyOutput, KmsError> {
        let key = found.into_key(cx).await?;
        known_name(i.policy_name.as_deref())?;
        // A named user or role that no longer exists shows as its unique id, as in AWS.
        let policy = crate::authz::shown_policy(cx.services, &key.policy, &key.policy_principals).await?;
        Ok(GetPolicyOutput {
            policy,
            policy_name: DEFAULT,
        })
    }
}

pub(crate) struct PutKeyPolicy;

impl Operation for PutKeyPolicy {
    type Service = Kms;
    const NAME: &'static str = "PutKeyPolicy";
    type Input = PolicyInput;
    type Output = Empty;
    type Resolved = Found;

    fn validate(i: &PolicyInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        check_name(&mut v, i.policy_name.as_deref());
        v.required("policy", &i.policy);
        model::check_policy_member(&mut v, i.policy.as_deref());
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &PolicyInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a PolicyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found).condition(
            "kms:BypassPolicyLockoutSafetyCheck",
            bool_value(i.bypass_policy_lockout_safety_check),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &PolicyInput, found: Found) -> Result<Empty, KmsError> {
        let mut key = found.into_key(cx).await?;
        known_name(i.policy_name.as_deref())?;
        let policy = i.policy.clone().unwrap_or_default();
        key.policy_principals = check_key_policy(cx, &policy).await?;
        key.policy = policy;
        if !i.bypass_policy_lockout_safety_check {
            lockout_check(cx, &key).await?;
        }
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListPoliciesOutput {
    policy_names: Vec<&'static str>,
    truncated: bool,
}

pub(crate) struct ListKeyPolicies;

impl Operation for ListKeyPolicies {
    type Service = Kms;
    const NAME: &'static str = "ListKeyPolicies";
    type Input = PolicyInput;
    type Output = ListPoliciesOutput;
    type Resolved = Found;

    fn validate(i: &PolicyInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &PolicyInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a PolicyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found)))
    }

    async fn run(cx: &Cx<'_>, i: &PolicyInput, found: Found) -> Result<ListPoliciesOutput, KmsError> {
        found.into_key(cx).await?;
        let (names, _) = model::page(vec![DEFAULT], i.limit, 1000, 100, i.marker.as_deref())?;
        Ok(ListPoliciesOutput {
            policy_names: names,
            truncated: false,
        })
    }
}
