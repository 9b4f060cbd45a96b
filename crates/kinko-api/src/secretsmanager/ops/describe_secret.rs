//! DescribeSecret: metadata, labels and dates; works on secrets scheduled for deletion.

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::list_secrets::versions_to_stages;
use crate::secretsmanager::model::{self, TagShape};
use crate::secretsmanager::replication::{self, StatusShape};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    last_changed_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_accessed_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<TagShape>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_ids_to_stages: Option<serde_json::Map<String, serde_json::Value>>,
    created_date: f64,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    secret_type: Option<String>,
    #[serde(flatten)]
    rotation: model::RotationFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replication_status: Option<Vec<StatusShape>>,
}

pub(crate) struct DescribeSecret;

impl Operation for DescribeSecret {
    type Service = SecretsManager;
    const NAME: &'static str = "DescribeSecret";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())
    }

    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Input,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(crate::secretsmanager::check(
            cx,
            Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
            found,
        )))
    }

    async fn run(cx: &Cx<'_>, _: &Input, found: Found) -> Result<Output, SmError> {
        let s = model::found(found.secret)?;
        Ok(Output {
            arn: s.arn.clone(),
            name: s.name.clone(),
            description: s.description.clone().filter(|d| !d.is_empty()),
            kms_key_id: s.kms_key_id.clone(),
            last_changed_date: s.last_changed_date.epoch_seconds(),
            // Present once the secret was read (day resolution), as AWS shows it; moto's
            // `test_update_secret_without_value` expects it absent after a GetSecretValue though
            // its own comment says AWS includes it.
            last_accessed_date: s.last_accessed_date.map(|t| t.epoch_seconds()),
            deleted_date: s.deleted_date.map(|t| t.epoch_seconds()),
            tags: s.tags.as_deref().map(model::tags_out),
            version_ids_to_stages: versions_to_stages(&s),
            created_date: s.created_date.epoch_seconds(),
            secret_type: s.secret_type.clone(),
            rotation: model::RotationFields::of(&s),
            primary_region: primary_region(&s),
            replication_status: replication::status(cx, &s).await?,
        })
    }
}

/// `PrimaryRegion`: shown only for a replicated secret (AWS omits it otherwise): a replica's
/// primary's region, or a primary's own.
pub(crate) fn primary_region(s: &kinko_core::secret::Secret) -> Option<String> {
    s.reported_primary_region().map(str::to_owned)
}
