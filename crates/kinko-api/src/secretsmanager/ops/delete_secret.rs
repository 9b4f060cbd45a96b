//! DeleteSecret: schedules deletion after a 7-30 day recovery window, or deletes at once.

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
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    deletion_date: f64,
}

pub(crate) struct DeleteSecret;

impl Operation for DeleteSecret {
    type Service = SecretsManager;
    const NAME: &'static str = "DeleteSecret";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())?;
        // The window's range comes first, then its conflict with a forced delete (the order moto's
        // suite asserts; AWS documents neither).
        if let Some(days) = i.recovery_window_in_days
            && !(7..=30).contains(&days)
        {
            return Err(SmError::InvalidParameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).".into(),
            ));
        }
        let force = i.force_delete_without_recovery.unwrap_or(false);
        if force && i.recovery_window_in_days.is_some() {
            return Err(SmError::InvalidParameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.".into(),
            ));
        }
        Ok(())
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
            .condition_opt(
                "secretsmanager:RecoveryWindowInDays",
                i.recovery_window_in_days.map(|d| d.to_string()),
            )
            .condition_opt(
                "secretsmanager:ForceDeleteWithoutRecovery",
                i.force_delete_without_recovery.map(|f| f.to_string()),
            ),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<Output, SmError> {
        let now = cx.services.clock.now();
        let force = i.force_delete_without_recovery.unwrap_or(false);
        let Some(mut secret) = found.secret else {
            if !force {
                return Err(SmError::not_found());
            }
            // AWS answers a forced delete of a secret that doesn't exist with success.
            let id = i.secret_id.clone().unwrap_or_default();
            let (arn, name) = if id.starts_with("arn:") {
                let name = id
                    .rsplit_once(":secret:")
                    .map(|(_, n)| n.to_owned())
                    .unwrap_or_else(|| id.clone());
                (id, name)
            } else {
                let arn = kinko_core::arn::secret_arn(
                    &cx.rc.region,
                    &cx.rc.principal.account_id,
                    &id,
                    &kinko_core::arn::random_secret_suffix(),
                );
                (arn, id)
            };
            return Ok(Output {
                arn,
                name,
                deletion_date: now.epoch_seconds(),
            });
        };
        replication::not_replica(&secret)?;
        if !secret.replicas.is_empty() {
            let regions: Vec<&str> = secret.replicas.iter().map(|r| r.region.as_str()).collect();
            return Err(SmError::InvalidParameter(format!(
                "You can't delete secret {} that still has replica regions [{}]",
                i.secret_id.as_deref().unwrap_or_default(),
                regions.join(",")
            )));
        }
        if force {
            let out = Output {
                arn: secret.arn.clone(),
                name: secret.name.clone(),
                deletion_date: now.epoch_seconds(),
            };
            cx.services
                .store
                .write_secret(SecretWrite::Delete {
                    arn: secret.arn,
                    revision: secret.revision,
                })
                .await?;
            return Ok(out);
        }
        if secret.is_scheduled_for_deletion() {
            return Err(SmError::InvalidRequest(
                "You tried to perform the operation on a secret that's currently marked deleted.".into(),
            ));
        }
        let deletion = now.plus_days(i.recovery_window_in_days.unwrap_or(30));
        secret.deleted_date = Some(now);
        secret.deletion_date = Some(deletion);
        let out = Output {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            deletion_date: deletion.epoch_seconds(),
        };
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
