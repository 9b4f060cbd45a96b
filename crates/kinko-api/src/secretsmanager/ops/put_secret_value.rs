//! PutSecretValue: a new version, moving the staging labels it names (default AWSCURRENT).

use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model;
use crate::secretsmanager::replication;
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
    client_request_token: Option<String>,
    #[serde(default, with = "kinko_wire::json::opt_blob")]
    secret_binary: Option<Vec<u8>>,
    secret_string: Option<String>,
    version_stages: Option<Vec<String>>,
    rotation_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    version_stages: Vec<String>,
}

pub(crate) struct PutSecretValue;

impl Operation for PutSecretValue {
    type Service = SecretsManager;
    const NAME: &'static str = "PutSecretValue";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        model::check_token(&mut v, &i.client_request_token);
        model::check_values(&mut v, &i.secret_string, &i.secret_binary);
        v.list_length("versionStages", i.version_stages.as_deref(), 1, 20);
        for (n, s) in i.version_stages.iter().flatten().enumerate() {
            v.length(&format!("versionStages.{}.member", n + 1), Some(s), 1, 256, false);
        }
        v.length("rotationToken", i.rotation_token.as_deref(), 36, 256, false);
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())?;
        let value = model::value_of(&i.secret_string, &i.secret_binary)?;
        if value.is_none() {
            return Err(SmError::InvalidRequest(
                "You must provide either SecretString or SecretBinary.".into(),
            ));
        }
        model::require_token(&i.client_request_token, true)
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

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<Output, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        let Some((kind, bytes)) = model::value_of(&i.secret_string, &i.secret_binary)? else {
            return Err(SmError::InvalidRequest(
                "You must provide either SecretString or SecretBinary.".into(),
            ));
        };
        let token = i.client_request_token.clone().unwrap_or_default();
        if let Some(existing) = secret.version(&token)
            && existing.kind.is_some()
        {
            if model::same_value(cx, &secret, existing, kind, bytes).await? {
                return Ok(Output {
                    arn: secret.arn.clone(),
                    name: secret.name.clone(),
                    version_id: token,
                    version_stages: existing.stages.clone(),
                });
            }
            return Err(SmError::ResourceExists(format!(
                "You can't use ClientRequestToken {token} because that value is already in use for a version of secret {}.",
                secret.arn
            )));
        }
        let now = cx.services.clock.now();
        let (sealed, key_arn) = model::seal_value(cx, &secret, &token, bytes).await?;
        // A value-less placeholder version (from rotation) with this token is filled in place.
        let placeholder = secret.versions.iter().position(|v| v.id == token);
        let before: Vec<String> = secret.versions.iter().map(|v| v.id.clone()).collect();
        if let Some(p) = placeholder {
            let labels = secret.versions.remove(p).stages;
            let stages = i.version_stages.clone().unwrap_or(labels);
            secret.add_version(&token, Some(&stages), Some(kind), Some(key_arn), now)?;
        } else {
            secret.add_version(
                &token,
                i.version_stages.as_deref(),
                Some(kind),
                Some(key_arn),
                now,
            )?;
        }
        secret.last_changed_date = now;
        let removed: Vec<String> = before
            .into_iter()
            .filter(|id| secret.version(id).is_none())
            .collect();
        let version_stages = secret
            .version(&token)
            .map(|v| v.stages.clone())
            .unwrap_or_default();
        let out = Output {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            version_id: token.clone(),
            version_stages,
        };
        model::commit(
            cx,
            SecretWrite::Update {
                secret,
                new_values: vec![(token, sealed)],
                removed_versions: removed,
            },
        )
        .await?;
        Ok(out)
    }
}
