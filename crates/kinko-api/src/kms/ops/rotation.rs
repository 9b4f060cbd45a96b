//! EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations.
//!
//! Rotation adds a material version; new ciphertexts use it, older ones keep decrypting with the
//! version their blob names. Automatic rotations are made by the server's background jobs when a
//! key's [`KmsKey::next_rotation_date`] passes; on-demand ones here. Each is recorded in the key.

use std::borrow::Cow;

use kinko_core::kms::{KeySpec, KeyState, KmsKey, RotationType};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::{Empty, KeyIdInput, KeyIdOutput, check_key_id_input};
use crate::kms::model;
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, found_check, resolve_key, usable, write_key,
};

const DEFAULT_PERIOD_DAYS: i64 = 365;

/// AWS rotates only symmetric encryption keys: the others are `UnsupportedOperationException`
/// (AWS documents the refusal, not its text).
fn rotatable(key: &KmsKey) -> Result<(), KmsError> {
    // Nor is imported material rotated here (AWS rotates it on demand only, with new material
    // imported for it, which this server does not offer): AWS's answer to a key of the wrong
    // origin.
    if key.external.is_some() {
        return Err(KmsError::Unsupported(format!(
            "{} origin is EXTERNAL which is not valid for this operation.",
            key.arn
        )));
    }
    if key.key_spec == KeySpec::SymmetricDefault {
        return Ok(());
    }
    Err(KmsError::Unsupported(format!(
        "{} has key spec {}: only symmetric encryption keys can be rotated.",
        key.arn,
        key.key_spec.name()
    )))
}
/// A multi-Region key's material comes from its primary key: rotation is managed there (AWS
/// refuses it on a replica; the text is chosen here).
fn not_replica(key: &KmsKey) -> Result<(), KmsError> {
    if key.is_replica() {
        return Err(KmsError::Unsupported(format!(
            "{} is a multi-Region replica key: manage rotation on its primary key.",
            key.arn
        )));
    }
    Ok(())
}

/// On-demand rotations a key may have ("a maximum of 25 times per KMS key", RotateKeyOnDemand).
const MAX_ON_DEMAND_ROTATIONS: usize = 25;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EnableRotationInput {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

impl EnableRotationInput {
    fn days(&self) -> i64 {
        self.rotation_period_in_days.unwrap_or(DEFAULT_PERIOD_DAYS)
    }
}

pub(crate) struct EnableKeyRotation;

impl Operation for EnableKeyRotation {
    type Service = Kms;
    const NAME: &'static str = "EnableKeyRotation";
    type Input = EnableRotationInput;
    type Output = Empty;
    type Resolved = Found;

    fn validate(i: &EnableRotationInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.range("rotationPeriodInDays", i.rotation_period_in_days, 90, 2560);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &EnableRotationInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a EnableRotationInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found).condition(
            "kms:RotationPeriodInDays",
            Cow::Owned(i.days().to_string()),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &EnableRotationInput, found: Found) -> Result<Empty, KmsError> {
        let mut key = found.into_key(cx).await?;
        usable(&key)?;
        rotatable(&key)?;
        not_replica(&key)?;
        // Turning rotation on starts the schedule ("one year from the enable date"); changing the
        // period of an enabled rotation keeps it, so a shorter period can make the key due at once.
        if key.rotation_period_days.is_none() {
            key.material_date = Some(cx.now());
        }
        key.rotation_period_days = Some(u32::try_from(i.days()).unwrap_or(365));
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}

pub(crate) struct DisableKeyRotation;

impl Operation for DisableKeyRotation {
    type Service = Kms;
    const NAME: &'static str = "DisableKeyRotation";
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
        usable(&key)?;
        rotatable(&key)?;
        not_replica(&key)?;
        key.rotation_period_days = None;
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RotationStatusOutput {
    key_id: String,
    key_rotation_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<f64>,
}

/// `OnDemandRotationStartDate` is never given: an on-demand rotation is complete when
/// RotateKeyOnDemand answers, so none is ever in progress.
pub(crate) struct GetKeyRotationStatus;

impl Operation for GetKeyRotationStatus {
    type Service = Kms;
    const NAME: &'static str = "GetKeyRotationStatus";
    type Input = KeyIdInput;
    type Output = RotationStatusOutput;
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

    async fn run(cx: &Cx<'_>, _: &KeyIdInput, found: Found) -> Result<RotationStatusOutput, KmsError> {
        let key = found.into_key(cx).await?;
        // Key states table of the developer guide: GetKeyRotationStatus is for symmetric
        // encryption keys only, like the other rotation operations.
        rotatable(&key)?;
        // A replica's rotation is its primary key's.
        let key = match (&key.multi_region, key.is_replica()) {
            (Some(m), true) => {
                let arn = kinko_core::kms::key_arn(&m.primary_region, &key.account_id, &key.key_id);
                match cx.services.store.kms_key(&arn).await? {
                    Some(primary) => KmsKey {
                        rotation_period_days: primary.rotation_period_days,
                        material_date: primary.material_date,
                        ..key
                    },
                    None => key,
                }
            }
            _ => key,
        };
        // "While a KMS key is pending deletion, its key rotation status is false"; cancelling the
        // deletion brings it back. A disabled key keeps its status but isn't rotated meanwhile.
        let enabled = key.rotation_period_days.is_some() && key.key_state != KeyState::PendingDeletion;
        Ok(RotationStatusOutput {
            key_rotation_enabled: enabled,
            rotation_period_in_days: key.rotation_period_days.filter(|_| enabled),
            next_rotation_date: key.next_rotation_date().map(|d| d.epoch_seconds()),
            key_id: key.key_id,
        })
    }
}

pub(crate) struct RotateKeyOnDemand;

impl Operation for RotateKeyOnDemand {
    type Service = Kms;
    const NAME: &'static str = "RotateKeyOnDemand";
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
        let key = found.into_key(cx).await?;
        usable(&key)?;
        rotatable(&key)?;
        not_replica(&key)?;
        if key.on_demand_rotations() >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::LimitExceeded(format!(
                "{} has reached the maximum of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                key.arn
            )));
        }
        // Written based on the key's revision: a concurrent change is a conflict, and retried.
        let rotated = cx.services.keyring.rotate(&key, RotationType::OnDemand).await?;
        Ok(KeyIdOutput {
            key_id: rotated.key_id,
        })
    }
}

const ROTATIONS_ONLY: &str = "ROTATIONS_ONLY";
const ALL_KEY_MATERIAL: &str = "ALL_KEY_MATERIAL";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListRotationsInput {
    key_id: Option<String>,
    include_key_material: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListRotationsOutput {
    rotations: Vec<model::RotationsListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

/// The key's materials, oldest first: every rotation, and with `ALL_KEY_MATERIAL` the first
/// material before them (which has no rotation date or type). A version made by a rotation from
/// before rotations were recorded is listed without them too.
fn rotation_entries(key: &KmsKey, all_key_material: bool) -> Vec<model::RotationsListEntry> {
    let first = u32::from(!all_key_material) + 1;
    (first..=key.current_material)
        .map(|version| {
            let rotation = key.rotations.iter().find(|r| r.material == version);
            model::RotationsListEntry::new(key, version, rotation)
        })
        .collect()
}

pub(crate) struct ListKeyRotations;

impl Operation for ListKeyRotations {
    type Service = Kms;
    const NAME: &'static str = "ListKeyRotations";
    type Input = ListRotationsInput;
    type Output = ListRotationsOutput;
    type Resolved = Found;

    fn validate(i: &ListRotationsInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.one_of(
            "includeKeyMaterial",
            i.include_key_material.as_deref(),
            &[ALL_KEY_MATERIAL, ROTATIONS_ONLY],
        );
        v.range("limit", i.limit, 1, 1000);
        v.length("marker", i.marker.as_deref(), 1, 1024, false);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &ListRotationsInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListRotationsInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found)))
    }

    /// Works in every key state, like the other read-only key operations.
    async fn run(cx: &Cx<'_>, i: &ListRotationsInput, found: Found) -> Result<ListRotationsOutput, KmsError> {
        let key = found.into_key(cx).await?;
        let all = i.include_key_material.as_deref() == Some(ALL_KEY_MATERIAL);
        let (page, next) = model::page(
            rotation_entries(&key, all),
            i.limit,
            1000,
            100,
            i.marker.as_deref(),
        )?;
        Ok(ListRotationsOutput {
            rotations: page,
            truncated: next.is_some(),
            next_marker: next,
        })
    }
}
