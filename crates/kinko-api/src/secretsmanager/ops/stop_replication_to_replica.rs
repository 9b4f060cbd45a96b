//! StopReplicationToReplica: called in a replica's region, makes the replica a standalone secret
//! and removes its region from the primary's replication.

use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model;
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
}

pub(crate) struct StopReplicationToReplica;

impl Operation for StopReplicationToReplica {
    type Service = SecretsManager;
    const NAME: &'static str = "StopReplicationToReplica";
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
        let mut replica = model::found(found.secret)?;
        let Some(primary_region) = replica.primary_region.take() else {
            return Err(SmError::InvalidParameter(
                "The secret is not a replica: call StopReplicationToReplica in the replica's region.".into(),
            ));
        };
        let mut writes = Vec::new();
        let primary_arn = replica.replica_arn(&primary_region);
        if let Some(mut primary) = cx.services.store.secret_by_arn(&primary_arn).await? {
            primary.replicas.retain(|r| r.region != replica.region);
            writes.push(SecretWrite::Update {
                secret: primary,
                new_values: vec![],
                removed_versions: vec![],
            });
        }
        let arn = replica.arn.clone();
        replica.last_changed_date = cx.services.clock.now();
        writes.push(SecretWrite::Update {
            secret: replica,
            new_values: vec![],
            removed_versions: vec![],
        });
        cx.services.store.write_secrets(writes).await?;
        Ok(Output { arn })
    }
}
