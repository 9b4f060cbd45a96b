//! KMS operations, one file per family.

mod aliases;
mod crypto;
mod keys;
mod policy;
mod rotation;
mod tags;

pub(crate) use aliases::{create_alias, delete_alias, list_aliases, update_alias};
pub(crate) use crypto::{decrypt, encrypt, generate_data_key, generate_random, re_encrypt};
pub(crate) use keys::{
    cancel_key_deletion, create_key, describe_key, disable_key, enable_key, list_keys, schedule_key_deletion,
    update_key_description,
};
pub(crate) use policy::{get_key_policy, list_key_policies, put_key_policy};
pub(crate) use rotation::{
    disable_key_rotation, enable_key_rotation, get_key_rotation_status, list_key_rotations,
    rotate_key_on_demand,
};
pub(crate) use tags::{list_resource_tags, tag_resource, untag_resource};

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
