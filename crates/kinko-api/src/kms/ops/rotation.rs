//! EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand.
//!
//! Rotation adds a material version; new ciphertexts use it, older ones keep decrypting with the
//! version their blob names.

use kinko_core::kms::KeyState;
use kinko_core::store::StoreError;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::{Empty, KeyIdInput, KeyIdOutput};
use crate::kms::model;
use crate::kms::{Accepts, Cx, KmsError, MAX_ATTEMPTS, customer_managed, decode, encode, update_key, usable};

const DEFAULT_PERIOD_DAYS: i64 = 365;

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

pub(crate) async fn get_key_rotation_status(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: KeyIdInput = decode(body)?;
    let key = cx
        .key(key_id_of(&i)?, Accepts::KeyOnly, "kms:GetKeyRotationStatus", &[])
        .await?;
    let next = match (key.rotation_period_days, key.material_date) {
        (Some(days), Some(since)) if key.key_state == KeyState::Enabled => {
            Some(since.plus_days(i64::from(days)).epoch_seconds())
        }
        _ => None,
    };
    encode(&RotationStatusOutput {
        key_id: key.key_id,
        key_rotation_enabled: key.rotation_period_days.is_some(),
        rotation_period_in_days: key.rotation_period_days,
        next_rotation_date: next,
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
        match cx.services.keyring.rotate(&key).await {
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
