//! ReplicateSecretToRegions: replicas of a primary in other regions of its account.

use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model;
use crate::secretsmanager::replication::{self, RegionShape, StatusShape};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
    add_replica_regions: Option<Vec<RegionShape>>,
    force_overwrite_replica_secret: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replication_status: Option<Vec<StatusShape>>,
}

pub(crate) struct ReplicateSecretToRegions;

impl Operation for ReplicateSecretToRegions {
    type Service = SecretsManager;
    const NAME: &'static str = "ReplicateSecretToRegions";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.required("addReplicaRegions", &i.add_replica_regions);
        replication::check_regions(&mut v, "addReplicaRegions", i.add_replica_regions.as_deref());
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
        let mut check = crate::secretsmanager::check(
            cx,
            Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
            found,
        );
        for r in i.add_replica_regions.iter().flatten() {
            check = check.condition_opt("secretsmanager:AddReplicaRegions", r.region.as_deref());
        }
        let check = check.condition_opt(
            "secretsmanager:ForceOverwriteReplicaSecret",
            i.force_overwrite_replica_secret
                .map(|f| if f { "true" } else { "false" }),
        );
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<Output, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        let regions = replication::requested(&secret, i.add_replica_regions.as_deref().unwrap_or_default())?;
        let force = i.force_overwrite_replica_secret.unwrap_or(false);
        let mut writes = replication::add(cx, &mut secret, regions, force, None).await?;
        secret.last_changed_date = cx.services.clock.now();
        let arn = secret.arn.clone();
        writes.push(SecretWrite::Update {
            secret: secret.clone(),
            new_values: vec![],
            removed_versions: vec![],
        });
        cx.services.store.write_secrets(writes).await?;
        secret.revision += 1;
        Ok(Output {
            arn,
            replication_status: replication::status(cx, &secret).await?,
        })
    }
}
