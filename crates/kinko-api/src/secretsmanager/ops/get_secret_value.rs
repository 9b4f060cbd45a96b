//! GetSecretValue: decrypts and returns one version (AWSCURRENT unless told otherwise).

use kinko_wire::validate::Violations;
use serde::Deserialize;

use crate::secretsmanager::model::{self, SecretValueEntry};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
    version_id: Option<String>,
    version_stage: Option<String>,
}

pub(crate) struct GetSecretValue;

impl Operation for GetSecretValue {
    type Service = SecretsManager;
    const NAME: &'static str = "GetSecretValue";
    type Input = Input;
    type Output = SecretValueEntry;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.length("versionId", i.version_id.as_deref(), 32, 64, false);
        v.length("versionStage", i.version_stage.as_deref(), 1, 256, false);
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
        Ok(Authorization::of(
            crate::secretsmanager::check(
                cx,
                Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
                found,
            )
            .condition_opt("secretsmanager:VersionId", i.version_id.as_deref())
            .condition_opt("secretsmanager:VersionStage", i.version_stage.as_deref()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<SecretValueEntry, SmError> {
        let secret = model::found(found.secret)?;
        model::not_deleted(&secret)?;
        let version = secret.select(i.version_id.as_deref(), i.version_stage.as_deref())?;
        let out = model::value_entry(cx, &secret, version).await?;
        model::touch_accessed(cx, &secret, &version.id);
        Ok(out)
    }
}
