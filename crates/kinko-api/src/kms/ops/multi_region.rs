//! ReplicateKey and UpdatePrimaryRegion: multi-Region keys (CreateKey with `MultiRegion`), whose
//! related keys, one per region of this server, share their key id, key material, key spec and
//! usage ([`kinko_core::kms::MultiRegionKey`]). A ciphertext of one decrypts with any of them.
//!
//! The texts of the refusals AWS documents without quoting (a key that isn't multi-Region, a
//! replica where the primary is needed, a region that has a related key already or has none)
//! are chosen here; their exception types are AWS's.

use std::borrow::Cow;

use kinko_core::kms::{self, KeyManager, KeyState, KmsKey};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use super::keys::lockout_check;
use super::policy::check_key_policy;
use crate::authz::Resource;
use crate::kms::model::{self, KeyMetadata, TagShape};
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, found_check, identity_check, key_check,
    pending_deletion, resolve_key, write_key,
};

/// The `ReplicaRegion`/`PrimaryRegion` member: 1 to 32 characters of `^([a-z]+-){2,3}\d+$`.
fn check_region(v: &mut Violations, path: &str, region: Option<&str>) {
    v.length(path, region, 1, 32, false);
    if let Some(r) = region {
        let parts: Vec<&str> = r.split('-').collect();
        let ok = (3..=4).contains(&parts.len())
            && parts
                .iter()
                .rev()
                .skip(1)
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts
                .last()
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        v.pattern(path, Some(r), "^([a-z]+-){2,3}\\d+$", ok);
    }
}

/// The primary key of a multi-Region key, enabled (AWS: DisabledException otherwise) and not
/// pending deletion.
fn usable_primary(key: &KmsKey) -> Result<(), KmsError> {
    let Some(_) = key.multi_region.as_ref() else {
        return Err(KmsError::Unsupported(format!(
            "{} is not a multi-Region key.",
            key.arn
        )));
    };
    if key.is_replica() {
        return Err(KmsError::Unsupported(format!(
            "{} is a multi-Region replica key: use its primary key.",
            key.arn
        )));
    }
    match key.key_state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", key.arn))),
        KeyState::PendingDeletion => Err(pending_deletion(key)),
        KeyState::PendingImport => Err(crate::kms::pending_import(key)),
    }
}

/// Writes `changed` to every related key of `key` (each read fresh, so a concurrent change of
/// one's own properties is kept): the new multi-Region configuration.
async fn update_related(cx: &Cx<'_>, key: &KmsKey, m: &kms::MultiRegionKey) -> Result<(), KmsError> {
    update_related_in(cx, key, m.regions(), m).await
}

/// [`update_related`] for the related keys in `regions` only.
async fn update_related_in<'r>(
    cx: &Cx<'_>,
    key: &KmsKey,
    regions: impl Iterator<Item = &'r str>,
    m: &kms::MultiRegionKey,
) -> Result<(), KmsError> {
    for region in regions {
        let arn = kms::key_arn(region, &key.account_id, &key.key_id);
        let Some(mut related) = cx.services.store.kms_key(&arn).await? else {
            continue;
        };
        related.multi_region = Some(m.clone());
        write_key(cx, related).await?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReplicateKeyInput {
    key_id: Option<String>,
    replica_region: Option<String>,
    policy: Option<String>,
    #[serde(default)]
    bypass_policy_lockout_safety_check: bool,
    description: Option<String>,
    tags: Option<Vec<TagShape>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReplicateKeyOutput {
    replica_key_metadata: KeyMetadata,
    replica_policy: String,
    replica_tags: Vec<TagShape>,
}

pub(crate) struct ReplicateKey;

impl Operation for ReplicateKey {
    type Service = Kms;
    const NAME: &'static str = "ReplicateKey";
    type Input = ReplicateKeyInput;
    type Output = ReplicateKeyOutput;
    type Resolved = (Found, Vec<(String, String)>);

    fn validate(i: &ReplicateKeyInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("replicaRegion", &i.replica_region);
        check_region(&mut v, "replicaRegion", i.replica_region.as_deref());
        model::check_policy_member(&mut v, i.policy.as_deref());
        v.length("description", i.description.as_deref(), 0, 8192, false);
        model::violations(v)?;
        model::check_tags(i.tags.as_deref())
    }

    async fn resolve(cx: &Cx<'_>, i: &ReplicateKeyInput) -> Result<(Found, Vec<(String, String)>), KmsError> {
        Ok((
            resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await?,
            model::request_tags(i.tags.as_deref()),
        ))
    }

    /// `kms:ReplicateKey` on the primary key, `kms:CreateKey` (and `kms:TagResource` for tags)
    /// for the replica, as AWS requires.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a ReplicateKeyInput,
        (found, tags): &'a (Found, Vec<(String, String)>),
    ) -> Result<Authorization<'a>, KmsError> {
        let region = i.replica_region.as_deref().unwrap_or_default();
        let mut authorization =
            Authorization::of(found_check(cx, cx.action, found).condition("kms:ReplicaRegion", region));
        let create = |action: &'a str| {
            identity_check(cx, action, Resource::Any)
                .condition("kms:MultiRegion", "true")
                .condition("kms:MultiRegionKeyType", "REPLICA")
                .request_tags(tags.as_slice())
        };
        authorization = authorization.and(create("kms:CreateKey"));
        if !tags.is_empty() {
            authorization = authorization.and(create("kms:TagResource"));
        }
        Ok(authorization)
    }

    async fn run(
        cx: &Cx<'_>,
        i: &ReplicateKeyInput,
        (found, _): (Found, Vec<(String, String)>),
    ) -> Result<ReplicateKeyOutput, KmsError> {
        let primary = found.into_key(cx).await?;
        usable_primary(&primary)?;
        let mut m = primary.multi_region.clone().unwrap_or_default();
        let region = i.replica_region.clone().unwrap_or_default();
        let arn = kms::key_arn(&region, &primary.account_id, &primary.key_id);
        if m.regions().any(|r| r == region) {
            return Err(KmsError::AlreadyExists(format!("Key '{arn}' already exists")));
        }
        let (policy, policy_principals) = match &i.policy {
            Some(p) => (p.clone(), check_key_policy(cx, p).await?),
            None => (model::default_key_policy(&primary.account_id), vec![]),
        };
        m.replica_regions.push(region.clone());
        // The shared properties are the primary's (material versions, rotation history); the
        // others are the replica's own. Rotation is the primary's: a replica gets its material.
        let mut replica = KmsKey {
            arn,
            region,
            description: i.description.clone().unwrap_or_default(),
            key_manager: KeyManager::Customer,
            creation_date: cx.now(),
            policy,
            policy_principals,
            deletion_date: None,
            tags: vec![],
            rotation_period_days: None,
            grants: vec![],
            multi_region: Some(m.clone()),
            revision: 0,
            ..primary.clone()
        };
        if i.policy.is_some() && !i.bypass_policy_lockout_safety_check {
            lockout_check(cx, &replica).await?;
        }
        model::apply_tags(&mut replica, i.tags.as_deref().unwrap_or_default())?;
        let replica = cx.services.keyring.create_replica(&primary, replica).await?;
        update_related(cx, &primary, &m).await?;
        let tags = replica
            .tags
            .iter()
            .map(|t| TagShape {
                key: Some(t.key.clone()),
                value: Some(t.value.clone()),
            })
            .collect();
        Ok(ReplicateKeyOutput {
            replica_key_metadata: KeyMetadata::from(&replica),
            replica_policy: replica.policy.clone(),
            replica_tags: tags,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdatePrimaryRegionInput {
    key_id: Option<String>,
    primary_region: Option<String>,
}

pub(crate) struct UpdatePrimaryRegion;

impl Operation for UpdatePrimaryRegion {
    type Service = Kms;
    const NAME: &'static str = "UpdatePrimaryRegion";
    type Input = UpdatePrimaryRegionInput;
    type Output = Empty;
    /// The primary key, and the replica in the new primary region when there is one.
    type Resolved = (Found, Option<KmsKey>);

    fn validate(i: &UpdatePrimaryRegionInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("primaryRegion", &i.primary_region);
        check_region(&mut v, "primaryRegion", i.primary_region.as_deref());
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &UpdatePrimaryRegionInput) -> Result<(Found, Option<KmsKey>), KmsError> {
        let found = resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await?;
        let region = i.primary_region.as_deref().unwrap_or_default();
        let replica = match found.key() {
            Some(k) if k.multi_region.is_some() => {
                let arn = kms::key_arn(region, &k.account_id, &k.key_id);
                cx.services.store.kms_key(&arn).await?
            }
            _ => None,
        };
        Ok((found, replica))
    }

    /// `kms:UpdatePrimaryRegion` on the primary key and on the replica that becomes primary.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a UpdatePrimaryRegionInput,
        (found, replica): &'a (Found, Option<KmsKey>),
    ) -> Result<Authorization<'a>, KmsError> {
        let region = i.primary_region.as_deref().unwrap_or_default();
        let mut authorization =
            Authorization::of(found_check(cx, cx.action, found).condition("kms:PrimaryRegion", region));
        if let Some(r) = replica {
            authorization = authorization.and(
                key_check(cx.account(), cx.action, r).condition("kms:PrimaryRegion", Cow::Borrowed(region)),
            );
        }
        Ok(authorization)
    }

    async fn run(
        cx: &Cx<'_>,
        i: &UpdatePrimaryRegionInput,
        (found, replica): (Found, Option<KmsKey>),
    ) -> Result<Empty, KmsError> {
        let primary = found.into_key(cx).await?;
        usable_primary(&primary)?;
        let region = i.primary_region.clone().unwrap_or_default();
        let Some(replica) = replica else {
            return Err(KmsError::NotFound(format!(
                "Key '{}' does not exist",
                kms::key_arn(&region, &primary.account_id, &primary.key_id)
            )));
        };
        if replica.key_state == KeyState::PendingDeletion {
            return Err(pending_deletion(&replica));
        }
        let old = primary.multi_region.clone().unwrap_or_default();
        if old.primary_region == region {
            return Ok(Empty {});
        }
        let mut replica_regions: Vec<String> = old
            .replica_regions
            .iter()
            .filter(|r| **r != region)
            .cloned()
            .collect();
        replica_regions.push(old.primary_region.clone());
        let m = kms::MultiRegionKey {
            primary_region: region,
            replica_regions,
        };
        // Automatic rotation is the primary's: it moves with the primary role.
        let mut new_primary = replica;
        new_primary.multi_region = Some(m.clone());
        new_primary.rotation_period_days = primary.rotation_period_days;
        new_primary.material_date = primary.material_date;
        write_key(cx, new_primary).await?;
        let mut old_primary = primary.clone();
        old_primary.multi_region = Some(m.clone());
        old_primary.rotation_period_days = None;
        write_key(cx, old_primary).await?;
        // The other replicas learn the new primary.
        let others = kms::MultiRegionKey {
            primary_region: m.primary_region.clone(),
            replica_regions: m
                .replica_regions
                .iter()
                .filter(|r| **r != old.primary_region)
                .cloned()
                .collect(),
        };
        update_related_in(
            cx,
            &primary,
            others.replica_regions.iter().map(String::as_str),
            &m,
        )
        .await?;
        Ok(Empty {})
    }
}
