//! EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations.
//!
//! Rotation adds a material version; new ciphertexts use it, older ones keep decrypting with the
//! version their blob names. Automatic rotations are made by the server's background jobs when a
//! key's [`KmsKey::next_rotation_date`] passes; on-demand ones here. Each is recorded in the key.

use kinko_core::kms::{KeyState, KmsKey, RotationType};
use kinko_core::store::StoreError;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::{Empty, KeyIdInput, KeyIdOutput};
use crate::kms::model;
use crate::kms::{Accepts, Cx, KmsError, MAX_ATTEMPTS, customer_managed, decode, encode, update_key, usable};

const DEFAULT_PERIOD_DAYS: i64 = 365;
/// On-demand rotations a key may have ("a maximum of 25 times per KMS key", RotateKeyOnDemand).
const MAX_ON_DEMAND_ROTATIONS: usize = 25;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EnableRotationInput {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

pub(crate) async fn enable_key_rotation(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: EnableRotationInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.range("rotationPeriodInDays", i.rotation_period_in_days, 90, 2560);
    model::violations(v)?;
    let days = i.rotation_period_in_days.unwrap_or(DEFAULT_PERIOD_DAYS);
    let period = u32::try_from(days).unwrap_or(365);
    let conditions = [("kms:RotationPeriodInDays".to_owned(), days.to_string())];
    update_key(
        cx,
        i.key_id.as_deref().unwrap_or_default(),
        "kms:EnableKeyRotation",
        &conditions,
        |k| {
            customer_managed(k, "kms:EnableKeyRotation", cx)?;
            usable(k)?;
            // Turning rotation on starts the schedule ("one year from the enable date"); changing
            // the period of an enabled rotation keeps it, so a shorter period can make the key due
            // at once.
            if k.rotation_period_days.is_none() {
                k.material_date = Some(cx.services.clock.now());
            }
            k.rotation_period_days = Some(period);
            Ok(())
        },
    )
    .await?;
    encode(&Empty {})
}

fn key_id_of(i: &KeyIdInput) -> Result<&str, KmsError> {
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    model::violations(v)?;
    Ok(i.key_id.as_deref().unwrap_or_default())
}

pub(crate) async fn disable_key_rotation(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    update_key(cx, key_id_of(&i)?, "kms:DisableKeyRotation", &[], |k| {
        customer_managed(k, "kms:DisableKeyRotation", cx)?;
        usable(k)?;
        k.rotation_period_days = None;
        Ok(())
    })
    .await?;
    encode(&Empty {})
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RotationStatusOutput {
    key_id: String,
    key_rotation_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<f64>,
}

/// `OnDemandRotationStartDate` is never given: an on-demand rotation is complete when
/// RotateKeyOnDemand answers, so none is ever in progress.
pub(crate) async fn get_key_rotation_status(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    let key = cx
        .key(key_id_of(&i)?, Accepts::KeyOnly, "kms:GetKeyRotationStatus", &[])
        .await?;
    // "While a KMS key is pending deletion, its key rotation status is false"; cancelling the
    // deletion brings it back. A disabled key keeps its status but isn't rotated meanwhile.
    let enabled = key.rotation_period_days.is_some() && key.key_state != KeyState::PendingDeletion;
    encode(&RotationStatusOutput {
        key_rotation_enabled: enabled,
        rotation_period_in_days: key.rotation_period_days.filter(|_| enabled),
        next_rotation_date: key.next_rotation_date().map(|d| d.epoch_seconds()),
        key_id: key.key_id,
    })
}

pub(crate) async fn rotate_key_on_demand(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    let key_id = key_id_of(&i)?;
    for _ in 0..MAX_ATTEMPTS {
        let key = cx
            .key(key_id, Accepts::KeyOnly, "kms:RotateKeyOnDemand", &[])
            .await?;
        customer_managed(&key, "kms:RotateKeyOnDemand", cx)?;
        usable(&key)?;
        if key.on_demand_rotations() >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::LimitExceeded(format!(
                "{} has reached the maximum of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                key.arn
            )));
        }
        match cx.services.keyring.rotate(&key, RotationType::OnDemand).await {
            Ok(rotated) => {
                return encode(&KeyIdOutput {
                    key_id: rotated.key_id,
                });
            }
            Err(crate::keyring::KeyringError::Store(StoreError::Conflict)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(KmsError::Internal(
        "too many conflicting concurrent changes".into(),
    ))
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
struct ListRotationsOutput {
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

pub(crate) async fn list_key_rotations(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: ListRotationsInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.one_of(
        "includeKeyMaterial",
        i.include_key_material.as_deref(),
        &[ALL_KEY_MATERIAL, ROTATIONS_ONLY],
    );
    v.range("limit", i.limit, 1, 1000);
    v.length("marker", i.marker.as_deref(), 1, 1024, false);
    model::violations(v)?;
    // Works in every key state, like the other read-only key operations.
    let key = cx
        .key(
            i.key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            "kms:ListKeyRotations",
            &[],
        )
        .await?;
    let all = i.include_key_material.as_deref() == Some(ALL_KEY_MATERIAL);
    let (page, next) = model::page(
        rotation_entries(&key, all),
        i.limit,
        1000,
        100,
        i.marker.as_deref(),
    )?;
    encode(&ListRotationsOutput {
        rotations: page,
        truncated: next.is_some(),
        next_marker: next,
    })
}
