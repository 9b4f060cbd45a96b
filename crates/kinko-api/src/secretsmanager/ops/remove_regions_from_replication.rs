//! RemoveRegionsFromReplication: deletes a primary's replicas in the given regions.

use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model;
use crate::secretsmanager::replication::{self, StatusShape};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
    remove_replica_regions: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    replication_status: Vec<StatusShape>,
}

pub(crate) struct RemoveRegionsFromReplication;

impl Operation for RemoveRegionsFromReplication {
    type Service = SecretsManager;
    const NAME: &'static str = "RemoveRegionsFromReplication";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.required("removeReplicaRegions", &i.remove_replica_regions);
        v.list_length(
            "removeReplicaRegions",
            i.remove_replica_regions.as_deref(),
            1,
            usize::MAX,
        );
        for (n, r) in i.remove_replica_regions.iter().flatten().enumerate() {
            let path = format!("removeReplicaRegions.{}.member", n + 1);
            v.length(&path, Some(r), 1, 128, false);
            v.pattern(&path, Some(r), r"^([a-z]+-)+\d+$", replication::is_region(r));
        }
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

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<Output, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        let regions = i.remove_replica_regions.as_deref().unwrap_or_default();
        // Idempotent, as moto's tests (written against AWS) expect: removing a region that is not
        // (or no longer) a replica region changes nothing and is no error.
        let mut writes = Vec::new();
        for region in regions {
            // Only a replica this secret made is deleted (one that stopped following it when
            // KMS refused a later write too): a region whose replication failed because its name
            // was taken keeps that other secret, whose ARN differs.
            if let Some(replica) = cx
                .services
                .store
                .secret_by_arn(&secret.replica_arn(region))
                .await?
                && replica.primary_region.as_deref() == Some(secret.region.as_str())
            {
                writes.push(SecretWrite::Delete {
                    arn: replica.arn,
                    revision: replica.revision,
                });
            }
        }
        secret.replicas.retain(|r| !regions.contains(&r.region));
        secret.last_changed_date = cx.services.clock.now();
        writes.push(SecretWrite::Update {
            secret: secret.clone(),
            new_values: vec![],
            removed_versions: vec![],
        });
        cx.services.store.write_secrets(writes).await?;
        Ok(Output {
            arn: secret.arn.clone(),
            replication_status: replication::status(cx, &secret).await?.unwrap_or_default(),
        })
    }
}
