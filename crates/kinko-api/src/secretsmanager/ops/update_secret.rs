//! UpdateSecret: metadata changes and/or a new AWSCURRENT version.

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
    description: Option<String>,
    kms_key_id: Option<String>,
    #[serde(default, with = "kinko_wire::json::opt_blob")]
    secret_binary: Option<Vec<u8>>,
    secret_string: Option<String>,
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
}

pub(crate) struct UpdateSecret;

impl Operation for UpdateSecret {
    type Service = SecretsManager;
    const NAME: &'static str = "UpdateSecret";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        model::check_token(&mut v, &i.client_request_token);
        v.length("description", i.description.as_deref(), 0, 2048, false);
        v.length("kmsKeyId", i.kms_key_id.as_deref(), 0, 2048, false);
        model::check_values(&mut v, &i.secret_string, &i.secret_binary);
        v.length("type", i.secret_type.as_deref(), 0, 256, false);
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())?;
        let value = model::value_of(&i.secret_string, &i.secret_binary)?;
        model::require_token(&i.client_request_token, value.is_some())
    }

    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Input,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(
            crate::secretsmanager::check(
                cx,
                Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
                found,
            )
            .condition_opt("secretsmanager:Description", i.description.as_deref())
            .condition_opt("secretsmanager:KmsKeyId", i.kms_key_id.as_deref())
            .condition_opt("secretsmanager:Type", i.secret_type.as_deref()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<Output, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        let now = cx.services.clock.now();
        if let Some(d) = &i.description {
            secret.description = Some(d.clone());
        }
        if let Some(t) = &i.secret_type {
            secret.secret_type = Some(t.clone());
        }
        let key_changed = i
            .kms_key_id
            .as_deref()
            .is_some_and(|k| secret.kms_key_id.as_deref().unwrap_or_default() != k);
        if let Some(k) = &i.kms_key_id {
            if k.is_empty() {
                // "" puts the secret back on the AWS managed key.
                secret.kms_key_id = None;
            } else {
                let key = model::kms_key(cx, k).await?;
                model::validate_key_access(cx, &key, &secret.arn).await?;
                secret.kms_key_id = Some(k.clone());
            }
        }
        let mut new_values = vec![];
        let mut removed_versions = vec![];
        let mut version_id = None;
        if let Some((kind, bytes)) = model::value_of(&i.secret_string, &i.secret_binary)? {
            let token = i.client_request_token.clone().unwrap_or_default();
            match secret.version(&token) {
                // Same token and same value: the retry succeeds without a new version.
                Some(existing) if model::same_value(cx, &secret, existing, kind, bytes).await? => {}
                Some(_) => {
                    return Err(SmError::ResourceExists(format!(
                        "You can't use ClientRequestToken {token} because that value is already in use for a version of secret {}.",
                        secret.arn
                    )));
                }
                None => {
                    let (sealed, key_arn) = model::seal_value(cx, &secret, &token, bytes).await?;
                    let before: Vec<String> = secret.versions.iter().map(|v| v.id.clone()).collect();
                    secret.add_version(&token, None, Some(kind), Some(key_arn), now)?;
                    removed_versions = before
                        .into_iter()
                        .filter(|id| secret.version(id).is_none())
                        .collect();
                    new_values.push((token.clone(), sealed));
                }
            }
            version_id = Some(token);
        }
        if key_changed {
            let key = model::sealing_key(cx, &secret).await?;
            new_values.extend(model::reencrypt_labelled(cx, &mut secret, &key).await?);
        }
        secret.last_changed_date = now;
        let out = Output {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            version_id,
        };
        model::commit(
            cx,
            SecretWrite::Update {
                secret,
                new_values,
                removed_versions,
            },
        )
        .await?;
        Ok(out)
    }
}
