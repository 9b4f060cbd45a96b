//! KMS operations, one file per family, each an [`crate::operation::Operation`].

mod aliases;
mod asymmetric;
mod crypto;
mod grants;
mod import;
mod keys;
mod mac;
mod multi_region;
mod policy;
mod rotation;
mod tags;

use kinko_wire::validate::Violations;

pub(crate) use aliases::{CreateAlias, DeleteAlias, ListAliases, UpdateAlias};
pub(crate) use asymmetric::{DeriveSharedSecret, GetPublicKey, Sign, Verify};
pub(crate) use crypto::{
    Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext,
    GenerateDataKeyWithoutPlaintext, GenerateRandom, ReEncrypt,
};
pub(crate) use grants::{CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant};
pub(crate) use import::{DeleteImportedKeyMaterial, GetParametersForImport, ImportKeyMaterial};
pub(crate) use keys::{
    CancelKeyDeletion, CreateKey, DescribeKey, DisableKey, EnableKey, ListKeys, ScheduleKeyDeletion,
    UpdateKeyDescription,
};
pub(crate) use mac::{GenerateMac, VerifyMac};
pub(crate) use multi_region::{ReplicateKey, UpdatePrimaryRegion};
pub(crate) use policy::{GetKeyPolicy, ListKeyPolicies, PutKeyPolicy};
pub(crate) use rotation::{
    DisableKeyRotation, EnableKeyRotation, GetKeyRotationStatus, ListKeyRotations, RotateKeyOnDemand,
};
pub(crate) use tags::{ListResourceTags, TagResource, UntagResource};

use crate::kms::{KmsError, model};

/// Operations without output answer `{}`.
#[derive(serde::Serialize)]
pub(crate) struct Empty {}

/// Input of operations that take only a `KeyId`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyIdInput {
    pub key_id: Option<String>,
}

/// `{KeyId}` (the key ARN).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyIdOutput {
    pub key_id: String,
}

/// The checks of an input whose only checked member is `KeyId`.
fn check_key_id_input(key_id: &Option<String>) -> Result<(), KmsError> {
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", key_id);
    model::violations(v)
}
