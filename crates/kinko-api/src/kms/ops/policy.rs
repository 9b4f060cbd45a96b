//! GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. Every key has exactly one policy, `default`.

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use super::keys::lockout_check;
use crate::kms::model;
use crate::kms::{Accepts, Cx, KmsError, MAX_ATTEMPTS, customer_managed, decode, encode};

const DEFAULT: &str = "default";

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
        model::check_policy(&policy)?;
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
