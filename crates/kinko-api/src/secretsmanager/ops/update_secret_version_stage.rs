//! UpdateSecretVersionStage: moves or removes one staging label.

use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::Deserialize;

use super::ArnName;
use crate::secretsmanager::model;
use crate::secretsmanager::replication;
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
    version_stage: Option<String>,
    remove_from_version_id: Option<String>,
    move_to_version_id: Option<String>,
}

pub(crate) struct UpdateSecretVersionStage;

impl Operation for UpdateSecretVersionStage {
    type Service = SecretsManager;
    const NAME: &'static str = "UpdateSecretVersionStage";
    type Input = Input;
    type Output = ArnName;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.required("versionStage", &i.version_stage);
        v.length("versionStage", i.version_stage.as_deref(), 1, 256, false);
        v.length(
            "removeFromVersionId",
            i.remove_from_version_id.as_deref(),
            32,
            64,
            false,
        );
        v.length("moveToVersionId", i.move_to_version_id.as_deref(), 32, 64, false);
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
            .condition_opt("secretsmanager:VersionStage", i.version_stage.as_deref()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<ArnName, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        secret.update_stage(
            i.version_stage.as_deref().unwrap_or_default(),
            i.remove_from_version_id.as_deref(),
            i.move_to_version_id.as_deref(),
        )?;
        secret.last_changed_date = cx.services.clock.now();
        let out = ArnName::from(&secret);
        model::commit(
            cx,
            SecretWrite::Update {
                secret,
                new_values: vec![],
                removed_versions: vec![],
            },
        )
        .await?;
        Ok(out)
    }
}
