//! One file per Secrets Manager operation.

mod batch_get_secret_value;
mod cancel_rotate_secret;
mod create_secret;
mod delete_secret;
mod describe_secret;
mod get_random_password;
mod get_secret_value;
mod list_secret_version_ids;
mod list_secrets;
mod put_secret_value;
mod remove_regions_from_replication;
mod replicate_secret_to_regions;
mod resource_policy;
mod restore_secret;
mod rotate_secret;
mod stop_replication_to_replica;
mod tag_resource;
mod update_secret;
mod update_secret_version_stage;

pub(crate) use batch_get_secret_value::BatchGetSecretValue;
pub(crate) use cancel_rotate_secret::CancelRotateSecret;
pub(crate) use create_secret::CreateSecret;
pub(crate) use delete_secret::DeleteSecret;
pub(crate) use describe_secret::DescribeSecret;
pub(crate) use get_random_password::GetRandomPassword;
pub(crate) use get_secret_value::GetSecretValue;
pub(crate) use list_secret_version_ids::ListSecretVersionIds;
pub(crate) use list_secrets::ListSecrets;
pub(crate) use put_secret_value::PutSecretValue;
pub(crate) use remove_regions_from_replication::RemoveRegionsFromReplication;
pub(crate) use replicate_secret_to_regions::ReplicateSecretToRegions;
pub(crate) use resource_policy::{
    DeleteResourcePolicy, GetResourcePolicy, PutResourcePolicy, ValidateResourcePolicy,
};
pub(crate) use restore_secret::RestoreSecret;
pub(crate) use rotate_secret::RotateSecret;
pub(crate) use stop_replication_to_replica::StopReplicationToReplica;
pub(crate) use tag_resource::{TagResource, UntagResource};
pub(crate) use update_secret::UpdateSecret;
pub(crate) use update_secret_version_stage::UpdateSecretVersionStage;

/// `{ARN, Name}`, the output of several operations.
#[derive(serde::Serialize)]
pub(crate) struct ArnName {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(rename = "Name")]
    pub name: String,
}

impl From<&kinko_core::secret::Secret> for ArnName {
    fn from(s: &kinko_core::secret::Secret) -> Self {
        ArnName {
            arn: s.arn.clone(),
            name: s.name.clone(),
        }
    }
}

/// Operations without output answer `{}`.
#[derive(serde::Serialize)]
pub(crate) struct Empty {}
