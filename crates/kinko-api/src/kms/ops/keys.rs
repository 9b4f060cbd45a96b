//! CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
//! CancelKeyDeletion, UpdateKeyDescription.

use std::borrow::Cow;

use kinko_core::kms::{
    self, ExternalMaterial, KeyManager, KeySpec, KeyState, KeyUsage, KmsKey, MultiRegionKey,
};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::policy::check_key_policy;
use super::{Empty, KeyIdInput, KeyIdOutput, check_key_id_input};
use crate::authz::{AuthzError, Resource};
use crate::kms::model::{self, KeyMetadata, KeyMetadataOutput, TagShape};
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, bool_value, error, found_check,
    identity_check, key_check, not_pending_deletion, pending_import, resolve_key, write_key,
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

impl CreateKeyInput {
    fn spec(&self) -> &str {
        self.key_spec
            .as_deref()
            .or(self.customer_master_key_spec.as_deref())
            .unwrap_or(model::SYMMETRIC_DEFAULT)
    }

    fn usage(&self) -> &str {
        self.key_usage.as_deref().unwrap_or(model::ENCRYPT_DECRYPT)
    }

    fn origin(&self) -> &str {
        self.origin.as_deref().unwrap_or("AWS_KMS")
    }
}

pub(crate) struct CreateKey;

impl Operation for CreateKey {
    type Service = Kms;
    const NAME: &'static str = "CreateKey";
    type Input = CreateKeyInput;
    type Output = KeyMetadataOutput;
    /// The tags the request sets (`aws:RequestTag/*`, `aws:TagKeys`).
    type Resolved = Vec<(String, String)>;

    fn validate(i: &CreateKeyInput) -> Result<(), KmsError> {
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
        if i.spec() != model::SYMMETRIC_DEFAULT && i.key_usage.is_none() {
            return Err(KmsError::Validation(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
                    .into(),
            ));
        }
        // A usage the key spec can't have (emulators quote AWS's text; AWS documents only which
        // combinations are valid).
        if let (Some(spec), Some(usage)) = (KeySpec::parse(i.spec()), KeyUsage::parse(i.usage()))
            && !spec.usages().contains(&usage)
        {
            return Err(KmsError::Validation(format!(
                "KeyUsage {} is not compatible with KeySpec {}",
                usage.name(),
                spec.name()
            )));
        }
        Ok(())
    }

    async fn resolve(_: &Cx<'_>, i: &CreateKeyInput) -> Result<Vec<(String, String)>, KmsError> {
        Ok(model::request_tags(i.tags.as_deref()))
    }

    /// `kms:CreateKey` on `"*"`, and `kms:TagResource` too when the key is tagged at creation.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateKeyInput,
        request_tags: &'a Vec<(String, String)>,
    ) -> Result<Authorization<'a>, KmsError> {
        let check = |action: &'a str| {
            identity_check(cx, action, Resource::Any)
                .condition("kms:KeySpec", i.spec())
                .condition("kms:KeyUsage", i.usage())
                .condition("kms:KeyOrigin", i.origin())
                .condition("kms:MultiRegion", bool_value(i.multi_region.unwrap_or(false)))
                .condition(
                    "kms:BypassPolicyLockoutSafetyCheck",
                    bool_value(i.bypass_policy_lockout_safety_check),
                )
                .request_tags(request_tags.as_slice())
        };
        let mut authorization = Authorization::of(check(cx.action));
        if i.tags.as_ref().is_some_and(|t| !t.is_empty()) {
            authorization = authorization.and(check("kms:TagResource"));
        }
        Ok(authorization)
    }

    async fn run(
        cx: &Cx<'_>,
        i: &CreateKeyInput,
        _: Vec<(String, String)>,
    ) -> Result<KeyMetadataOutput, KmsError> {
        let (spec, usage, origin) = (i.spec(), i.usage(), i.origin());
        let (Some(key_spec), Some(key_usage)) = (KeySpec::parse(spec), KeyUsage::parse(usage)) else {
            return Err(KmsError::Unsupported(format!(
                "{spec} keys with key usage {usage} are not supported by this server."
            )));
        };
        let external = origin == "EXTERNAL";
        if !(origin == "AWS_KMS" || external) || i.custom_key_store_id.is_some() || i.xks_key_id.is_some() {
            return Err(KmsError::Unsupported(format!(
                "Keys with origin {origin} are not supported by this server."
            )));
        }
        let multi_region = i.multi_region == Some(true);
        // AWS's multi-Region keys of imported material need the material imported into each
        // related key; this server makes multi-Region keys of its own material only.
        if multi_region && external {
            return Err(KmsError::Unsupported(
                "Multi-Region keys with origin EXTERNAL are not supported by this server.".into(),
            ));
        }
        // A multi-Region key's id is `mrk-` and 32 hex digits, the same in every region.
        let key_id = if multi_region {
            format!("mrk-{}", uuid::Uuid::new_v4().simple())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let arn = kms::key_arn(cx.region(), cx.account(), &key_id);
        let now = cx.now();
        // The default key policy names the account only: nothing to bind.
        let (policy, policy_principals) = match &i.policy {
            Some(p) => (p.clone(), check_key_policy(cx, p).await?),
            None => (model::default_key_policy(cx.account()), vec![]),
        };
        let mut key = KmsKey {
            key_id,
            arn,
            account_id: cx.account().to_owned(),
            region: cx.region().to_owned(),
            description: i.description.clone().unwrap_or_default(),
            key_spec,
            key_usage,
            key_manager: KeyManager::Customer,
            // A key for imported material has none until the first import.
            key_state: if external {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            creation_date: now,
            policy,
            policy_principals,
            current_material: if external { 0 } else { 1 },
            deletion_date: None,
            tags: vec![],
            rotation_period_days: None,
            material_date: Some(now),
            rotations: vec![],
            grants: vec![],
            external: external.then(ExternalMaterial::default),
            multi_region: multi_region.then(|| MultiRegionKey {
                primary_region: cx.region().to_owned(),
                replica_regions: vec![],
            }),
            revision: 0,
        };
        // The check applies to a policy the caller wrote: the default key policy is always accepted
        // (it delegates to IAM, so a principal allowed only kms:CreateKey can still create keys).
        if i.policy.is_some() && !i.bypass_policy_lockout_safety_check {
            lockout_check(cx, &key).await?;
        }
        model::apply_tags(&mut key, i.tags.as_deref().unwrap_or_default())?;
        let out = KeyMetadataOutput {
            key_metadata: KeyMetadata::from(&key),
        };
        cx.services.keyring.create_key(key, None).await?;
        Ok(out)
    }
}

/// Unless the caller bypasses it, a key policy must let the caller change the policy later (AWS's
/// "policy lockout safety check"): `kms:PutKeyPolicy` on the key with its new policy, as the caller.
pub(crate) async fn lockout_check(cx: &Cx<'_>, key: &KmsKey) -> Result<(), KmsError> {
    match cx
        .authorize(&key_check(cx.account(), "kms:PutKeyPolicy", key))
        .await
    {
        Ok(()) => Ok(()),
        Err(AuthzError::Denied(_) | AuthzError::Refused(_)) => {
            Err(KmsError::MalformedPolicyDocument(error::LOCKOUT.into()))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) struct DescribeKey;

impl Operation for DescribeKey {
    type Service = Kms;
    const NAME: &'static str = "DescribeKey";
    type Input = KeyIdInput;
    type Output = KeyMetadataOutput;
    type Resolved = Found;

    fn validate(i: &KeyIdInput) -> Result<(), KmsError> {
        check_key_id_input(&i.key_id)
    }

    async fn resolve(cx: &Cx<'_>, i: &KeyIdInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOrAlias).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a KeyIdInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(
            found_check(cx, cx.action, found)
                .condition_opt("kms:RequestAlias", model::request_alias(i.key_id.as_deref())),
        ))
    }

    async fn run(cx: &Cx<'_>, _: &KeyIdInput, found: Found) -> Result<KeyMetadataOutput, KmsError> {
        let key = found.into_key(cx).await?;
        Ok(KeyMetadataOutput {
            key_metadata: KeyMetadata::from(&key),
        })
    }
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
pub(crate) struct ListKeysOutput {
    keys: Vec<KeyListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(crate) struct ListKeys;

impl Operation for ListKeys {
    type Service = Kms;
    const NAME: &'static str = "ListKeys";
    type Input = ListInput;
    type Output = ListKeysOutput;
    type Resolved = ();

    fn validate(i: &ListInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        v.range("limit", i.limit, 1, 1000);
        model::violations(v)
    }

    async fn resolve(_: &Cx<'_>, _: &ListInput) -> Result<(), KmsError> {
        Ok(())
    }

    fn authorization<'a>(cx: &'a Cx<'_>, _: &'a ListInput, _: &'a ()) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(identity_check(cx, cx.action, Resource::Any)))
    }

    async fn run(cx: &Cx<'_>, i: &ListInput, _: ()) -> Result<ListKeysOutput, KmsError> {
        let keys = cx.services.store.list_kms_keys(cx.account(), cx.region()).await?;
        let (page, next) = model::page(keys, i.limit, 1000, 100, i.marker.as_deref())?;
        Ok(ListKeysOutput {
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
}

/// EnableKey and DisableKey: the key's own action on the key, then its new state.
macro_rules! set_key_state {
    ($op:ident, $name:literal, $state:expr) => {
        pub(crate) struct $op;

        impl Operation for $op {
            type Service = Kms;
            const NAME: &'static str = $name;
            type Input = KeyIdInput;
            type Output = Empty;
            type Resolved = Found;

            fn validate(i: &KeyIdInput) -> Result<(), KmsError> {
                check_key_id_input(&i.key_id)
            }

            async fn resolve(cx: &Cx<'_>, i: &KeyIdInput) -> Result<Found, KmsError> {
                resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
            }

            fn authorization<'a>(
                cx: &'a Cx<'_>,
                _: &'a KeyIdInput,
                found: &'a Found,
            ) -> Result<Authorization<'a>, KmsError> {
                Ok(Authorization::of(found_check(cx, cx.action, found)))
            }

            async fn run(cx: &Cx<'_>, _: &KeyIdInput, found: Found) -> Result<Empty, KmsError> {
                let mut key = found.into_key(cx).await?;
                not_pending_deletion(&key)?;
                if key.key_state == KeyState::PendingImport {
                    return Err(pending_import(&key));
                }
                key.key_state = $state;
                write_key(cx, key).await?;
                Ok(Empty {})
            }
        }
    };
}

set_key_state!(EnableKey, "EnableKey", KeyState::Enabled);
set_key_state!(DisableKey, "DisableKey", KeyState::Disabled);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScheduleInput {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

impl ScheduleInput {
    fn days(&self) -> i64 {
        self.pending_window_in_days.unwrap_or(30)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ScheduleOutput {
    key_id: String,
    deletion_date: f64,
    key_state: &'static str,
    pending_window_in_days: i64,
}

pub(crate) struct ScheduleKeyDeletion;

impl Operation for ScheduleKeyDeletion {
    type Service = Kms;
    const NAME: &'static str = "ScheduleKeyDeletion";
    type Input = ScheduleInput;
    type Output = ScheduleOutput;
    type Resolved = Found;

    fn validate(i: &ScheduleInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.range("pendingWindowInDays", i.pending_window_in_days, 1, 365);
        model::violations(v)?;
        let days = i.days();
        if !(7..=30).contains(&days) {
            return Err(KmsError::Validation(format!(
                "PendingWindowInDays should be between 7 and 30, but it is {days}"
            )));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &ScheduleInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a ScheduleInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found).condition(
            "kms:ScheduleKeyDeletionPendingWindowInDays",
            Cow::Owned(i.days().to_string()),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &ScheduleInput, found: Found) -> Result<ScheduleOutput, KmsError> {
        let mut key = found.into_key(cx).await?;
        not_pending_deletion(&key)?;
        // AWS keeps such a primary key in PendingReplicaDeletion until its replicas are deleted;
        // this server asks for their deletion first.
        if let Some(m) = &key.multi_region
            && !key.is_replica()
            && !m.replica_regions.is_empty()
        {
            return Err(KmsError::Unsupported(format!(
                "{} is a multi-Region primary key with replica keys in {}: schedule their deletion first.",
                key.arn,
                m.replica_regions.join(", ")
            )));
        }
        let days = i.days();
        let deletion = cx.now().plus_days(days);
        key.key_state = KeyState::PendingDeletion;
        key.deletion_date = Some(deletion);
        let key_id = key.arn.clone();
        write_key(cx, key).await?;
        Ok(ScheduleOutput {
            key_id,
            deletion_date: deletion.epoch_seconds(),
            key_state: "PendingDeletion",
            pending_window_in_days: days,
        })
    }
}

pub(crate) struct CancelKeyDeletion;

impl Operation for CancelKeyDeletion {
    type Service = Kms;
    const NAME: &'static str = "CancelKeyDeletion";
    type Input = KeyIdInput;
    type Output = KeyIdOutput;
    type Resolved = Found;

    fn validate(i: &KeyIdInput) -> Result<(), KmsError> {
        check_key_id_input(&i.key_id)
    }

    async fn resolve(cx: &Cx<'_>, i: &KeyIdInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a KeyIdInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found)))
    }

    async fn run(cx: &Cx<'_>, _: &KeyIdInput, found: Found) -> Result<KeyIdOutput, KmsError> {
        let mut key = found.into_key(cx).await?;
        if key.key_state != KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!(
                "{} is not pending deletion.",
                key.arn
            )));
        }
        // A key of imported material whose material is gone (deleted or expired) needs it
        // imported again.
        key.key_state = if key.lacks_material() {
            KeyState::PendingImport
        } else {
            KeyState::Disabled
        };
        key.deletion_date = None;
        let key_id = key.arn.clone();
        write_key(cx, key).await?;
        Ok(KeyIdOutput { key_id })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescriptionInput {
    key_id: Option<String>,
    description: Option<String>,
}

pub(crate) struct UpdateKeyDescription;

impl Operation for UpdateKeyDescription {
    type Service = Kms;
    const NAME: &'static str = "UpdateKeyDescription";
    type Input = DescriptionInput;
    type Output = Empty;
    type Resolved = Found;

    fn validate(i: &DescriptionInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("description", &i.description);
        v.length("description", i.description.as_deref(), 0, 8192, false);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &DescriptionInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DescriptionInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found)))
    }

    async fn run(cx: &Cx<'_>, i: &DescriptionInput, found: Found) -> Result<Empty, KmsError> {
        let mut key = found.into_key(cx).await?;
        not_pending_deletion(&key)?;
        key.description = i.description.clone().unwrap_or_default();
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}
