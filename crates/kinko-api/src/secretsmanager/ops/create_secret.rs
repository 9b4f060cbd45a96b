//! CreateSecret: a new secret, with a first version when a value is given.

use kinko_core::secret::{Secret, Tag};
use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::authz::{Check, Resource};
use crate::secretsmanager::model::{self, TagShape};
use crate::secretsmanager::replication::{self, RegionShape, StatusShape};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    name: Option<String>,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    #[serde(default, with = "kinko_wire::json::opt_blob")]
    secret_binary: Option<Vec<u8>>,
    secret_string: Option<String>,
    tags: Option<Vec<TagShape>>,
    add_replica_regions: Option<Vec<RegionShape>>,
    force_overwrite_replica_secret: Option<bool>,
    #[serde(rename = "Type")]
    secret_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replication_status: Option<Vec<StatusShape>>,
}

pub(crate) struct CreateSecret;

impl Operation for CreateSecret {
    type Service = SecretsManager;
    const NAME: &'static str = "CreateSecret";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        v.required("name", &i.name);
        v.length("name", i.name.as_deref(), 1, 512, false);
        model::check_token(&mut v, &i.client_request_token);
        v.length("description", i.description.as_deref(), 0, 2048, false);
        v.length("kmsKeyId", i.kms_key_id.as_deref(), 0, 2048, false);
        model::check_values(&mut v, &i.secret_string, &i.secret_binary);
        model::check_tags(&mut v, "tags", i.tags.as_deref());
        replication::check_regions(&mut v, "addReplicaRegions", i.add_replica_regions.as_deref());
        v.length("type", i.secret_type.as_deref(), 0, 256, false);
        model::violations(v)?;
        model::check_name(i.name.as_deref().unwrap_or_default())?;
        let value = model::value_of(&i.secret_string, &i.secret_binary)?;
        model::require_token(&i.client_request_token, value.is_some())?;
        if i.tags.as_ref().is_some_and(|t| t.len() > 50) {
            return Err(SmError::LimitExceeded(
                "A secret can have at most 50 tags.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::NewSecret(i.name.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Input,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(
            crate::secretsmanager::check(
                cx,
                Target::NewSecret(i.name.as_deref().unwrap_or_default()),
                found,
            )
            .condition_opt("secretsmanager:Name", i.name.as_deref())
            .condition_opt("secretsmanager:Description", i.description.as_deref())
            .condition_opt("secretsmanager:KmsKeyId", i.kms_key_id.as_deref())
            .condition_opt("secretsmanager:Type", i.secret_type.as_deref())
            .request_tags(request_tags(i)),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<Output, SmError> {
        let name = i.name.clone().unwrap_or_default();
        let value = model::value_of(&i.secret_string, &i.secret_binary)?;
        if let Some(existing) = found.secret {
            if existing.is_scheduled_for_deletion() {
                return Err(SmError::InvalidRequest(
                    "You can't create this secret because a secret with this name is already scheduled for deletion."
                        .into(),
                ));
            }
            // A retry of the same request (same token, same value) succeeds with the same answer.
            if let (Some(token), Some((kind, bytes))) = (&i.client_request_token, value)
                && let Some(version) = existing.version(token)
            {
                if model::same_value(cx, &existing, version, kind, bytes).await? {
                    return Ok(Output {
                        arn: existing.arn.clone(),
                        name: existing.name.clone(),
                        version_id: Some(token.clone()),
                        replication_status: replication::status(cx, &existing).await?,
                    });
                }
                return Err(SmError::ResourceExists(format!(
                    "You can't use ClientRequestToken {token} because that value is already in use for a version of secret {}.",
                    existing.arn
                )));
            }
            return Err(SmError::ResourceExists(format!(
                "The operation failed because the secret {name} already exists."
            )));
        }
        let now = cx.services.clock.now();
        let arn = found.arn.unwrap_or_default();
        if i.tags.is_some() {
            // Tagging at creation also needs TagResource, as in AWS.
            cx.authorize(&Check::new("secretsmanager:TagResource", Resource::of_arn(&arn)))
                .await?;
        }
        if let Some(regions) = &i.add_replica_regions {
            // Replicas at creation also need ReplicateSecretToRegions, as in AWS.
            let mut check = Check::new("secretsmanager:ReplicateSecretToRegions", Resource::of_arn(&arn));
            for r in regions {
                check = check.condition_opt("secretsmanager:AddReplicaRegions", r.region.as_deref());
            }
            let check = check.condition_opt(
                "secretsmanager:ForceOverwriteReplicaSecret",
                i.force_overwrite_replica_secret
                    .map(|f| if f { "true" } else { "false" }),
            );
            cx.authorize(&check).await?;
        }
        let kms_key_id = i.kms_key_id.clone().filter(|k| !k.is_empty());
        if let Some(key_ref) = &kms_key_id {
            // Fails now, as AWS does, when the caller can't use the key.
            let key = model::kms_key(cx, key_ref).await?;
            model::validate_key_access(cx, &key, &arn).await?;
        }
        let mut secret = Secret {
            arn: arn.clone(),
            name: name.clone(),
            account_id: cx.rc.principal.account_id.clone(),
            region: cx.rc.region.clone(),
            description: i.description.clone(),
            kms_key_id,
            tags: i.tags.as_ref().map(|tags| {
                tags.iter()
                    .map(|t| Tag {
                        key: t.key.clone().unwrap_or_default(),
                        value: t.value.clone().unwrap_or_default(),
                    })
                    .collect()
            }),
            resource_policy: None,
            resource_policy_principals: vec![],
            secret_type: i.secret_type.clone(),
            created_date: now,
            last_changed_date: now,
            last_accessed_date: None,
            deleted_date: None,
            deletion_date: None,
            rotation: None,
            last_rotated_date: None,
            primary_region: None,
            replicas: vec![],
            versions: vec![],
            revision: 0,
        };
        let mut values = Vec::new();
        let mut version_id = None;
        if let Some((kind, bytes)) = value {
            let token = i.client_request_token.clone().unwrap_or_default();
            let (sealed, key_arn) = model::seal_value(cx, &secret, &token, bytes).await?;
            secret.add_version(&token, None, Some(kind), Some(key_arn), now)?;
            values.push((token.clone(), sealed));
            version_id = Some(token);
        }
        let mut writes = Vec::new();
        if let Some(regions) = &i.add_replica_regions {
            let regions = replication::requested(&secret, regions)?;
            let force = i.force_overwrite_replica_secret.unwrap_or(false);
            let given = match (&version_id, value) {
                (Some(id), Some((_, bytes))) => Some((id.as_str(), bytes)),
                _ => None,
            };
            writes = replication::add(cx, &mut secret, regions, force, given).await?;
        }
        let primary = secret.clone();
        writes.push(SecretWrite::Create { secret, values });
        cx.services.store.write_secrets(writes).await?;
        Ok(Output {
            arn,
            name,
            version_id,
            replication_status: replication::status(cx, &primary).await?,
        })
    }
}

fn request_tags(i: &Input) -> Vec<(String, String)> {
    i.tags
        .iter()
        .flatten()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}
