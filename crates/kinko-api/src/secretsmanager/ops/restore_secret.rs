//! RestoreSecret: cancels a scheduled deletion.

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
}

pub(crate) struct RestoreSecret;

impl Operation for RestoreSecret {
    type Service = SecretsManager;
    const NAME: &'static str = "RestoreSecret";
    type Input = Input;
    type Output = ArnName;
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

    async fn run(cx: &Cx<'_>, _: &Input, found: Found) -> Result<ArnName, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        let out = ArnName::from(&secret);
        // Restoring a secret that isn't scheduled for deletion is a no-op.
        if secret.is_scheduled_for_deletion() {
            secret.deleted_date = None;
            secret.deletion_date = None;
            secret.last_changed_date = cx.services.clock.now();
            model::commit(
                cx,
                SecretWrite::Update {
                    secret,
                    new_values: vec![],
                    removed_versions: vec![],
                },
            )
            .await?;
        }
        Ok(out)
    }
}
