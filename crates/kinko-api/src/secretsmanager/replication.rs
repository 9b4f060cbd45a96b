//! Replication of a secret to other regions of its account (ReplicateSecretToRegions, CreateSecret's
//! `AddReplicaRegions`).
//!
//! A replica is a secret of the same name in another region, its ARN the primary's with that
//! region, with `PrimaryRegion` set. It holds the primary's versions, labels, values, description,
//! tags and resource policy, each value sealed under a key of the replica's own region (the
//! `KmsKeyId` given for that region, or that region's `aws/secretsmanager`), through KMS as the
//! caller, as Secrets Manager in that region does. A replica is read-only: every change is made
//! on the primary and applied to its replicas in the same store transaction
//! ([`crate::secretsmanager::model::commit`]).
//!
//! Replication to a region can fail on its own (the name is taken there, the caller may not use
//! the key): that region's `Status` is `Failed` with a `StatusMessage`, and the others go on, as
//! AWS reports it in `ReplicationStatus`.

use kinko_core::secret::{Replica, ReplicationState, Secret};
use kinko_core::store::{SealedValue, SecretWrite};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::Services;
use crate::secretsmanager::model;
use crate::secretsmanager::{Cx, SmError};

/// AWS's `StatusMessage` for a region where a secret of the same name exists (the API
/// reference's example, `ReplicationStatusType`). moto's `test_replicate_secret__existing_secret`
/// expects `Replication failed: Secret name simple already exists in region <region>.`, with the
/// name `simple` fixed whatever the secret's name is.
pub const NAME_TAKEN: &str = "Replication failed: Secret with this name already exists in this region.";
/// AWS's answer to a write on a replica.
pub const ON_REPLICA: &str =
    "Operation not permitted on a replica secret. Call must be made in primary secret's region.";
/// The `KmsKeyId` ReplicationStatus shows for a replica under its region's AWS managed key.
const DEFAULT_KEY_ALIAS: &str = "alias/aws/secretsmanager";

/// `AddReplicaRegions[]`.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RegionShape {
    pub region: Option<String>,
    pub kms_key_id: Option<String>,
}

/// `ReplicationStatus[]`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatusShape {
    region: String,
    kms_key_id: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_accessed_date: Option<f64>,
}

/// Checks `AddReplicaRegions` as AWS's model does (`Region` 1–128 matching `^([a-z]+-)+\d+$`,
/// `KmsKeyId` up to 2048).
pub(crate) fn check_regions(v: &mut Violations, path: &str, regions: Option<&[RegionShape]>) {
    v.list_length(path, regions, 1, usize::MAX);
    for (n, r) in regions.unwrap_or_default().iter().enumerate() {
        let region = format!("{path}.{}.member.region", n + 1);
        v.length(&region, r.region.as_deref(), 1, 128, false);
        v.pattern(
            &region,
            r.region.as_deref(),
            r"^([a-z]+-)+\d+$",
            r.region.as_deref().is_none_or(is_region),
        );
        let key = format!("{path}.{}.member.kmsKeyId", n + 1);
        v.length(&key, r.kms_key_id.as_deref(), 0, 2048, false);
    }
}

/// `^([a-z]+-)+\d+$`.
pub(crate) fn is_region(s: &str) -> bool {
    let Some((words, digits)) = s.rsplit_once('-') else {
        return false;
    };
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !words.is_empty()
        && words
            .split('-')
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The regions of a request, checked against the primary: its own region, a region it already
/// replicates to, or a region named twice is an invalid replica region.
pub(crate) fn requested(
    primary: &Secret,
    regions: &[RegionShape],
) -> Result<Vec<(String, Option<String>)>, SmError> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for r in regions {
        let region = r.region.clone().unwrap_or_default();
        if region == primary.region
            || primary.replica(&region).is_some()
            || out.iter().any(|(o, _)| *o == region)
        {
            return Err(SmError::InvalidParameter("Invalid replica region.".into()));
        }
        out.push((region, r.kms_key_id.clone().filter(|k| !k.is_empty())));
    }
    Ok(out)
}

/// A value of the primary already in hand (CreateSecret's first version, not stored yet).
pub(crate) type Given<'a> = Option<(&'a str, &'a [u8])>;

/// Replicates `primary` to each of `regions`: records each region's outcome in
/// `primary.replicas` and returns the writes that create the replicas (and, with
/// `force_overwrite`, remove the secrets of the same name they replace). The caller writes them
/// with the primary's own write, in one transaction.
pub(crate) async fn add(
    cx: &Cx<'_>,
    primary: &mut Secret,
    regions: Vec<(String, Option<String>)>,
    force_overwrite: bool,
    given: Given<'_>,
) -> Result<Vec<SecretWrite>, SmError> {
    let mut writes = Vec::new();
    for (region, kms_key_id) in regions {
        let outcome = replicate_one(
            cx,
            primary,
            &region,
            kms_key_id.as_deref(),
            force_overwrite,
            given,
        )
        .await?;
        let (status, status_message) = match outcome {
            Ok(mut w) => {
                writes.append(&mut w);
                (ReplicationState::InSync, None)
            }
            Err(message) => (ReplicationState::Failed, Some(message)),
        };
        primary.replicas.push(Replica {
            region,
            kms_key_id,
            status,
            status_message,
        });
    }
    Ok(writes)
}

/// One region: `Ok(Err(message))` when that region's replication failed.
async fn replicate_one(
    cx: &Cx<'_>,
    primary: &Secret,
    region: &str,
    kms_key_id: Option<&str>,
    force_overwrite: bool,
    given: Given<'_>,
) -> Result<Result<Vec<SecretWrite>, String>, SmError> {
    let mut writes = Vec::new();
    let existing = cx
        .services
        .store
        .secret_by_name(&primary.account_id, region, &primary.name)
        .await?;
    if let Some(e) = existing {
        // Only a standalone secret can be overwritten: not another primary's replica, nor a
        // primary with replicas of its own.
        if !force_overwrite || e.is_replica() || !e.replicas.is_empty() {
            return Ok(Err(NAME_TAKEN.into()));
        }
        writes.push(SecretWrite::Delete {
            arn: e.arn.clone(),
            revision: e.revision,
        });
    }
    let mut replica = replica_of(primary, region, kms_key_id);
    let key = match model::sealing_key(cx, &replica).await {
        Ok(k) => k,
        Err(e) => return failure(e),
    };
    if kms_key_id.is_some()
        && let Err(e) = model::validate_key_access_in(cx, region, &key, &replica.arn).await
    {
        return failure(e);
    }
    let mut values = Vec::new();
    for version in &primary.versions {
        if version.kind.is_none() {
            continue;
        }
        let sealed = match given {
            Some((id, bytes)) if id == version.id => seal(cx, &mut replica, &version.id, bytes).await,
            _ => match model::open_value(cx, primary, version).await {
                Ok(plain) => seal(cx, &mut replica, &version.id, &plain).await,
                Err(e) => Err(e),
            },
        };
        match sealed {
            Ok(s) => values.push((version.id.clone(), s)),
            Err(e) => return failure(e),
        }
    }
    writes.push(SecretWrite::Create {
        secret: replica,
        values,
    });
    Ok(Ok(writes))
}

/// A failure that fails one region's replication rather than the request: KMS's refusals and
/// key errors become that region's `StatusMessage`.
fn failure<T>(e: SmError) -> Result<Result<T, String>, SmError> {
    match e {
        SmError::AccessDenied(m)
        | SmError::EncryptionFailure(m)
        | SmError::DecryptionFailure(m)
        | SmError::InvalidParameter(m)
        | SmError::InvalidRequest(m) => Ok(Err(m)),
        other => Err(other),
    }
}

/// Seals `plaintext` as version `version_id` of `replica`, under the replica's key, and records
/// the key on the version.
async fn seal(
    cx: &Cx<'_>,
    replica: &mut Secret,
    version_id: &str,
    plaintext: &[u8],
) -> Result<SealedValue, SmError> {
    let (sealed, key_arn) = model::seal_value(cx, replica, version_id, plaintext).await?;
    if let Some(v) = replica.versions.iter_mut().find(|v| v.id == version_id) {
        v.kms_key_arn = Some(key_arn);
    }
    Ok(sealed)
}

/// The replica of `primary` in `region`: the primary's metadata and versions with the replica's
/// ARN, region and key, `PrimaryRegion` set, no replicas and no rotation of its own.
pub(crate) fn replica_of(primary: &Secret, region: &str, kms_key_id: Option<&str>) -> Secret {
    let mut replica = primary.clone();
    replica.arn = primary.replica_arn(region);
    region.clone_into(&mut replica.region);
    replica.kms_key_id = kms_key_id.map(str::to_owned);
    replica.primary_region = Some(primary.region.clone());
    replica.replicas = vec![];
    replica.rotation = None;
    replica.last_accessed_date = None;
    for v in &mut replica.versions {
        v.last_accessed_date = None;
        v.kms_key_arn = None;
    }
    replica.revision = 0;
    replica
}

/// `ReplicationStatus` of a primary; `LastAccessedDate` is each replica's own.
pub(crate) async fn status(cx: &Cx<'_>, primary: &Secret) -> Result<Option<Vec<StatusShape>>, SmError> {
    if primary.replicas.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for r in &primary.replicas {
        let last_accessed_date = if r.status == ReplicationState::InSync {
            cx.services
                .store
                .secret_by_arn(&primary.replica_arn(&r.region))
                .await?
                .and_then(|mut s| {
                    cx.services.accessed.overlay(&mut s);
                    s.last_accessed_date
                })
                .map(|t| t.epoch_seconds())
        } else {
            None
        };
        out.push(StatusShape {
            region: r.region.clone(),
            kms_key_id: r.kms_key_id.clone().unwrap_or_else(|| DEFAULT_KEY_ALIAS.into()),
            status: r.status.as_str(),
            status_message: r.status_message.clone(),
            last_accessed_date,
        });
    }
    Ok(Some(out))
}

/// The writes that make a change of a secret: with a primary's update, the updates of its replicas
/// in sync, each rebuilt from the primary (versions, labels, description, tags, resource policy)
/// keeping what is its own (revision, `LastAccessedDate`, the keys of the values it holds), with
/// the primary's new values sealed under the replica's key as the caller (`cx`). When that fails
/// for a region (KMS refuses), the region's replication is `Failed` and its replica is left as
/// it was. Without a caller (rotation's own label moves), only metadata may change.
pub(crate) async fn with_replicas(
    services: &Services,
    cx: Option<&Cx<'_>>,
    write: SecretWrite,
) -> Result<Vec<SecretWrite>, SmError> {
    let SecretWrite::Update {
        mut secret,
        new_values,
        removed_versions,
    } = write
    else {
        return Ok(vec![write]);
    };
    let mut writes = Vec::new();
    for n in 0..secret.replicas.len() {
        let r = secret.replicas[n].clone();
        if r.status != ReplicationState::InSync {
            continue;
        }
        let arn = secret.replica_arn(&r.region);
        let Some(current) = services.store.secret_by_arn(&arn).await? else {
            continue;
        };
        let mut next = replica_of(&secret, &r.region, r.kms_key_id.as_deref());
        next.revision = current.revision;
        next.last_accessed_date = current.last_accessed_date;
        for v in &mut next.versions {
            if let Some(old) = current.version(&v.id) {
                v.last_accessed_date = old.last_accessed_date;
                if old.kind.is_some() {
                    v.kms_key_arn.clone_from(&old.kms_key_arn);
                }
            }
        }
        let mut values = Vec::new();
        let mut failed = None;
        for (id, sealed) in &new_values {
            // A value the replica holds already (the primary's re-encryption under a new key of
            // its own) stays as it is under the replica's key.
            if current.version(id).is_some_and(|v| v.kind.is_some()) {
                continue;
            }
            let Some(version) = secret.version(id) else {
                continue;
            };
            let Some(cx) = cx else {
                return Err(SmError::Internal(format!(
                    "a new value for {} without a caller to seal it for its replicas",
                    secret.arn
                )));
            };
            let resealed = match model::open_fresh(cx, &secret, version, sealed).await {
                Ok(plain) => seal(cx, &mut next, id, &plain).await,
                Err(e) => Err(e),
            };
            match resealed {
                Ok(v) => values.push((id.clone(), v)),
                Err(e) => {
                    failed = Some(failure::<()>(e)?.err().unwrap_or_default());
                    break;
                }
            }
        }
        if let Some(message) = failed {
            secret.replicas[n].status = ReplicationState::Failed;
            secret.replicas[n].status_message = Some(message);
            continue;
        }
        let removed = removed_versions
            .iter()
            .filter(|v| current.version(v).is_some())
            .cloned()
            .collect();
        writes.push(SecretWrite::Update {
            secret: next,
            new_values: values,
            removed_versions: removed,
        });
    }
    writes.push(SecretWrite::Update {
        secret,
        new_values,
        removed_versions,
    });
    Ok(writes)
}

/// Refuses a write on a replica with AWS's error.
pub(crate) fn not_replica(secret: &Secret) -> Result<(), SmError> {
    if secret.is_replica() {
        Err(SmError::InvalidParameter(ON_REPLICA.into()))
    } else {
        Ok(())
    }
}
