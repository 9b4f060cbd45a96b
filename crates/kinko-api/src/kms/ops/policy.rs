//! GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. Every key has exactly one policy, `default`.

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use super::keys::lockout_check;
use crate::kms::model;
use crate::kms::{Accepts, Cx, KmsError, MAX_ATTEMPTS, customer_managed, decode, encode, error};

const DEFAULT: &str = "default";

/// A key policy a caller sets (CreateKey, PutKeyPolicy): well-formed, within the quota, and naming
/// only IAM users and roles that exist (AWS refuses the others with "invalid principals"). Account
/// principals, `*` and other principal forms aren't looked up: accounts outside this server are
/// legitimate principals of a key policy.
pub(crate) async fn check_key_policy(cx: &Cx<'_>, doc: &str) -> Result<(), KmsError> {
    model::check_policy(doc)?;
    for principal in model::aws_principals(doc) {
        if !principal_exists(cx, &principal).await? {
            return Err(KmsError::MalformedPolicyDocument(
                error::INVALID_PRINCIPALS.into(),
            ));
        }
    }
    Ok(())
}

/// Whether a user or role ARN names an existing user or role (with that path); other principals
/// count as existing.
async fn principal_exists(cx: &Cx<'_>, principal: &str) -> Result<bool, KmsError> {
    let Some(arn) = kinko_core::arn::Arn::parse(principal) else {
        return Ok(true);
    };
    let Some((kind, path_and_name)) = arn.resource.split_once('/') else {
        return Ok(true);
    };
    if arn.service != "iam" || !matches!(kind, "user" | "role") {
        return Ok(true);
    }
    let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
    let iam = cx.services.store.iam_state(arn.account_id).await?;
    Ok(match kind {
        "user" => iam.user(name).is_some_and(|u| u.arn == principal),
        _ => iam.role(name).is_some_and(|r| r.arn == principal),
    })
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
struct GetPolicyOutput {
    policy: String,
    policy_name: &'static str,
}

pub(crate) async fn get_key_policy(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: PolicyInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    check_name(&mut v, i.policy_name.as_deref());
    model::violations(v)?;
    let key = cx
        .key(
            i.key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            "kms:GetKeyPolicy",
            &[],
        )
        .await?;
    known_name(i.policy_name.as_deref())?;
    encode(&GetPolicyOutput {
        policy: key.policy,
        policy_name: DEFAULT,
    })
}

pub(crate) async fn put_key_policy(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: PolicyInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    check_name(&mut v, i.policy_name.as_deref());
    v.required("policy", &i.policy);
    model::check_policy_member(&mut v, i.policy.as_deref());
    model::violations(v)?;
    let policy = i.policy.clone().unwrap_or_default();
    let conditions = [(
        "kms:BypassPolicyLockoutSafetyCheck".to_owned(),
        i.bypass_policy_lockout_safety_check.to_string(),
    )];
    for _ in 0..MAX_ATTEMPTS {
        let mut key = cx
            .key(
                i.key_id.as_deref().unwrap_or_default(),
                Accepts::KeyOnly,
                "kms:PutKeyPolicy",
                &conditions,
            )
            .await?;
        customer_managed(&key, "kms:PutKeyPolicy", cx)?;
        known_name(i.policy_name.as_deref())?;
        check_key_policy(cx, &policy).await?;
        key.policy = policy.clone();
        if !i.bypass_policy_lockout_safety_check {
            lockout_check(cx, &key).await?;
        }
        match cx.services.store.update_kms_key(key).await {
            Ok(()) => return encode(&Empty {}),
            Err(kinko_core::store::StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(KmsError::Internal(
        "too many conflicting concurrent changes".into(),
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListPoliciesOutput {
    policy_names: Vec<&'static str>,
    truncated: bool,
}

pub(crate) async fn list_key_policies(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: PolicyInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    model::violations(v)?;
    cx.key(
        i.key_id.as_deref().unwrap_or_default(),
        Accepts::KeyOnly,
        "kms:ListKeyPolicies",
        &[],
    )
    .await?;
    let (names, _) = model::page(vec![DEFAULT], i.limit, 1000, 100, i.marker.as_deref())?;
    encode(&ListPoliciesOutput {
        policy_names: names,
        truncated: false,
    })
}
