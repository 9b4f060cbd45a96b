//! CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
//! CancelKeyDeletion, UpdateKeyDescription.

use kinko_core::kms::{self, KeyManager, KeyState, KmsKey};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::policy::check_key_policy;
use super::{Empty, KeyIdInput, KeyIdOutput};
use crate::authz::Resource;
use crate::kms::model::{self, KeyMetadata, KeyMetadataOutput, TagShape};
use crate::kms::{
    Accepts, Cx, KmsError, customer_managed, decode, encode, error, not_pending_deletion, update_key,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateKeyInput {
    policy: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    customer_master_key_spec: Option<String>,
    key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    #[serde(default)]
    bypass_policy_lockout_safety_check: bool,
    tags: Option<Vec<TagShape>>,
    multi_region: Option<bool>,
    xks_key_id: Option<String>,
}

pub(crate) async fn create_key(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: CreateKeyInput = decode(body)?;
    let mut v = Violations::new();
    model::check_policy_member(&mut v, i.policy.as_deref());
    v.length("description", i.description.as_deref(), 0, 8192, false);
    v.one_of("keyUsage", i.key_usage.as_deref(), model::KEY_USAGES);
    v.one_of(
        "customerMasterKeySpec",
        i.customer_master_key_spec.as_deref(),
        model::KEY_SPECS,
    );
    v.one_of("keySpec", i.key_spec.as_deref(), model::KEY_SPECS);
    v.one_of(
        "origin",
        i.origin.as_deref(),
        &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
    );
    model::violations(v)?;
    model::check_tags(i.tags.as_deref())?;
    let spec = i
        .key_spec
        .as_deref()
        .or(i.customer_master_key_spec.as_deref())
        .unwrap_or(model::SYMMETRIC_DEFAULT);
    if spec != model::SYMMETRIC_DEFAULT && i.key_usage.is_none() {
        return Err(KmsError::Validation(
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.".into(),
        ));
    }
    let usage = i.key_usage.as_deref().unwrap_or(model::ENCRYPT_DECRYPT);
    let origin = i.origin.as_deref().unwrap_or("AWS_KMS");
    let request_tags = model::request_tags(i.tags.as_deref());
    let conditions = vec![
        ("kms:KeySpec".to_owned(), spec.to_owned()),
        ("kms:KeyUsage".to_owned(), usage.to_owned()),
        ("kms:KeyOrigin".to_owned(), origin.to_owned()),
        (
            "kms:MultiRegion".to_owned(),
            i.multi_region.unwrap_or(false).to_string(),
        ),
        (
            "kms:BypassPolicyLockoutSafetyCheck".to_owned(),
            i.bypass_policy_lockout_safety_check.to_string(),
        ),
    ];
    cx.authorize_identity("kms:CreateKey", Resource::Any, &conditions, &request_tags)
        .await?;
    if i.tags.as_ref().is_some_and(|t| !t.is_empty()) {
        cx.authorize_identity("kms:TagResource", Resource::Any, &conditions, &request_tags)
            .await?;
    }
    if spec != model::SYMMETRIC_DEFAULT || usage != model::ENCRYPT_DECRYPT {
        return Err(KmsError::Unsupported(format!(
            "{spec} keys with key usage {usage} are not supported by this server."
        )));
    }
    if origin != "AWS_KMS" || i.custom_key_store_id.is_some() || i.xks_key_id.is_some() {
        return Err(KmsError::Unsupported(format!(
            "Keys with origin {origin} are not supported by this server."
        )));
    }
    if i.multi_region == Some(true) {
        return Err(KmsError::Unsupported(
            "Multi-Region keys are not supported by this server.".into(),
        ));
    }
    let key_id = uuid::Uuid::new_v4().to_string();
    let arn = kms::key_arn(cx.region(), cx.account(), &key_id);
    let now = cx.services.clock.now();
    let given_policy = i.policy.is_some();
    let policy = match i.policy {
        Some(p) => {
            check_key_policy(cx, &p).await?;
            p
        }
        None => model::default_key_policy(cx.account()),
    };
    let mut key = KmsKey {
        key_id,
        arn,
        account_id: cx.account().to_owned(),
        region: cx.region().to_owned(),
        description: i.description.unwrap_or_default(),
        key_manager: KeyManager::Customer,
        key_state: KeyState::Enabled,
        creation_date: now,
        policy,
        policy_principals: vec![],
        current_material: 1,
        deletion_date: None,
        tags: vec![],
        rotation_period_days: None,
        material_date: Some(now),
        rotations: vec![],
        revision: 0,
    };
    // The check applies to a policy the caller wrote: the default key policy is always accepted
    // (it delegates to IAM, so a principal allowed only kms:CreateKey can still create keys).
    if given_policy && !i.bypass_policy_lockout_safety_check {
        lockout_check(cx, &key).await?;
    }
    model::apply_tags(&mut key, i.tags.as_deref().unwrap_or_default())?;
    cx.services.keyring.create_key(key.clone(), None).await?;
    encode(&KeyMetadataOutput {
        key_metadata: KeyMetadata::from(&key),
    })
}

/// Unless the caller bypasses it, a key policy must let the caller change the policy later (AWS's
/// "policy lockout safety check").
pub(crate) async fn lockout_check(cx: &Cx<'_>, key: &KmsKey) -> Result<(), KmsError> {
    cx.authorize_key("kms:PutKeyPolicy", key, &[], &[])
        .await
        .map_err(|_| KmsError::MalformedPolicyDocument(error::LOCKOUT.into()))
}

pub(crate) async fn describe_key(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    model::violations(v)?;
    let conditions: Vec<(String, String)> = model::request_alias(i.key_id.as_deref()).into_iter().collect();
    let key = cx
        .key(
            i.key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOrAlias,
            "kms:DescribeKey",
            &conditions,
        )
        .await?;
    encode(&KeyMetadataOutput {
        key_metadata: KeyMetadata::from(&key),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyListEntry {
    key_id: String,
    key_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeysOutput {
    keys: Vec<KeyListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(crate) async fn list_keys(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: ListInput = decode(body)?;
    let mut v = Violations::new();
    v.range("limit", i.limit, 1, 1000);
    model::violations(v)?;
    cx.authorize_identity("kms:ListKeys", Resource::Any, &[], &[])
        .await?;
    let keys = cx.services.store.list_kms_keys(cx.account(), cx.region()).await?;
    let (page, next) = model::page(keys, i.limit, 1000, 100, i.marker.as_deref())?;
    encode(&ListKeysOutput {
        keys: page
            .into_iter()
            .map(|k| KeyListEntry {
                key_id: k.key_id,
                key_arn: k.arn,
            })
            .collect(),
        truncated: next.is_some(),
        next_marker: next,
    })
}

fn key_id_of(i: &KeyIdInput) -> Result<&str, KmsError> {
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    model::violations(v)?;
    Ok(i.key_id.as_deref().unwrap_or_default())
}

pub(crate) async fn enable_key(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    update_key(cx, key_id_of(&i)?, "kms:EnableKey", &[], |k| {
        customer_managed(k, "kms:EnableKey", cx)?;
        not_pending_deletion(k)?;
        k.key_state = KeyState::Enabled;
        Ok(())
    })
    .await?;
    encode(&Empty {})
}

pub(crate) async fn disable_key(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    update_key(cx, key_id_of(&i)?, "kms:DisableKey", &[], |k| {
        customer_managed(k, "kms:DisableKey", cx)?;
        not_pending_deletion(k)?;
        k.key_state = KeyState::Disabled;
        Ok(())
    })
    .await?;
    encode(&Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScheduleInput {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleOutput {
    key_id: String,
    deletion_date: f64,
    key_state: &'static str,
    pending_window_in_days: i64,
}

pub(crate) async fn schedule_key_deletion(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: ScheduleInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.range("pendingWindowInDays", i.pending_window_in_days, 1, 365);
    model::violations(v)?;
    let days = i.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(KmsError::Validation(format!(
            "PendingWindowInDays should be between 7 and 30, but it is {days}"
        )));
    }
    let conditions = [(
        "kms:ScheduleKeyDeletionPendingWindowInDays".to_owned(),
        days.to_string(),
    )];
    let deletion = cx.services.clock.now().plus_days(days);
    let key = update_key(
        cx,
        i.key_id.as_deref().unwrap_or_default(),
        "kms:ScheduleKeyDeletion",
        &conditions,
        |k| {
            customer_managed(k, "kms:ScheduleKeyDeletion", cx)?;
            not_pending_deletion(k)?;
            k.key_state = KeyState::PendingDeletion;
            k.deletion_date = Some(deletion);
            Ok(())
        },
    )
    .await?;
    encode(&ScheduleOutput {
        key_id: key.arn,
        deletion_date: deletion.epoch_seconds(),
        key_state: "PendingDeletion",
        pending_window_in_days: days,
    })
}

pub(crate) async fn cancel_key_deletion(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    let key = update_key(cx, key_id_of(&i)?, "kms:CancelKeyDeletion", &[], |k| {
        customer_managed(k, "kms:CancelKeyDeletion", cx)?;
        if k.key_state != KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!(
                "{} is not pending deletion.",
                k.arn
            )));
        }
        k.key_state = KeyState::Disabled;
        k.deletion_date = None;
        Ok(())
    })
    .await?;
    encode(&KeyIdOutput { key_id: key.arn })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescriptionInput {
    key_id: Option<String>,
    description: Option<String>,
}

pub(crate) async fn update_key_description(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: DescriptionInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.required("description", &i.description);
    v.length("description", i.description.as_deref(), 0, 8192, false);
    model::violations(v)?;
    let description = i.description.clone().unwrap_or_default();
    update_key(
        cx,
        i.key_id.as_deref().unwrap_or_default(),
        "kms:UpdateKeyDescription",
        &[],
        |k| {
            customer_managed(k, "kms:UpdateKeyDescription", cx)?;
            not_pending_deletion(k)?;
            k.description = description.clone();
            Ok(())
        },
    )
    .await?;
    encode(&Empty {})
}
