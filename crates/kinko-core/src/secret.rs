//! The secret aggregate: metadata plus the list of versions and their staging labels.
//!
//! Every rule about how `AWSCURRENT`, `AWSPREVIOUS` and `AWSPENDING` move lives here as pure functions
//! over [`Secret`], so the Secrets Manager handlers stay thin and the rules are table-tested.
//! See the Secrets Manager reference, §5 "Versions and staging labels".

use serde::{Deserialize, Serialize};

use crate::Timestamp;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
pub const AWSPENDING: &str = "AWSPENDING";

/// At most this many staging labels may be attached across a secret's versions.
pub const MAX_LABELS_PER_SECRET: usize = 20;
/// Versions kept per secret before unlabelled ones are purged.
pub const MAX_VERSIONS: usize = 100;
/// Unlabelled versions younger than this are never purged (AWS's rule), so creating versions faster
/// than that ends in `LimitExceededException`.
pub const VERSION_MIN_AGE_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// What kind of value a version holds. The value itself is stored sealed, apart from the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueKind {
    String,
    Binary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    /// Labels in the order they were attached.
    pub stages: Vec<String>,
    pub created_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accessed_date: Option<Timestamp>,
    /// `None` for a placeholder version without a value (created by rotation).
    pub kind: Option<ValueKind>,
    /// ARN of the KMS key whose data key sealed this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

impl Version {
    pub fn has_stage(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }
    fn remove_stage(&mut self, stage: &str) -> bool {
        let before = self.stages.len();
        self.stages.retain(|s| s != stage);
        before != self.stages.len()
    }
    fn add_stage(&mut self, stage: &str) {
        if !self.has_stage(stage) {
            self.stages.push(stage.to_owned());
        }
    }
    /// A version without labels is deprecated: hidden from listings and eventually purged.
    pub fn is_deprecated(&self) -> bool {
        self.stages.is_empty()
    }
}

/// A secret with all its metadata and the metadata of its versions (not the sealed values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub arn: String,
    pub name: String,
    pub account_id: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// As the caller supplied it; `None` means the AWS managed key `aws/secretsmanager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// `None` until first tagged; `Some(vec![])` after every tag was removed (AWS then returns `[]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<String>,
    /// The users and roles `resource_policy` names, bound to their unique ids when it was saved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_policy_principals: Vec<crate::principal::BoundPrincipal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
    pub created_date: Timestamp,
    pub last_changed_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accessed_date: Option<Timestamp>,
    /// When DeleteSecret scheduled the deletion (AWS's `DeletedDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<Timestamp>,
    /// When the background job removes the secret for good (DeleteSecret's `DeletionDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<Timestamp>,
    /// Rotation (RotateSecret); `None` until rotation was first configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<crate::rotation::RotationConfig>,
    /// When the last rotation completed (`LastRotatedDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated_date: Option<Timestamp>,
    /// On a replica: the region of its primary (AWS's `PrimaryRegion`). A replica is read-only; its
    /// primary's writes are applied to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// On a primary: its replicas, one per region, in the order they were added (AWS's
    /// `ReplicationStatus`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Replica>,
    /// Versions in creation order.
    pub versions: Vec<Version>,
    /// Optimistic concurrency: the store only accepts a write based on the revision it holds.
    #[serde(skip)]
    pub revision: i64,
}

/// The state of a primary's replica in one region (ReplicateSecretToRegions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicationState {
    InSync,
    Failed,
    InProgress,
}

impl ReplicationState {
    /// AWS's `Status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationState::InSync => "InSync",
            ReplicationState::Failed => "Failed",
            ReplicationState::InProgress => "InProgress",
        }
    }
}

/// One region a primary replicates to: the key the replica is under and how its replication went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    pub region: String,
    /// As the caller supplied it; `None` means that region's AWS managed key `aws/secretsmanager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub status: ReplicationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// Domain errors of the version/stage state machine; Secrets Manager maps each to its AWS error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("staging label {0} not attached to any version")]
    StageNotFound(String),
    /// `UpdateSecretVersionStage` removing AWSCURRENT without moving it elsewhere.
    #[error("AWSCURRENT can only be moved to another version")]
    CurrentNotMoved,
    #[error("version {0} not found")]
    VersionNotFound(String),
    #[error("version has no value")]
    NoValue,
    #[error("stage not on version")]
    StageNotOnVersion,
    #[error("label {label} is attached to {holder}; RemoveFromVersionId must name it")]
    RemoveFromRequired { label: String, holder: String },
    #[error("label {label} is not attached to version {version}")]
    LabelNotOnVersion { label: String, version: String },
    #[error("too many staging labels")]
    TooManyLabels,
    #[error("too many versions")]
    TooManyVersions,
}

impl Secret {
    /// The `PrimaryRegion` DescribeSecret and ListSecrets report: a replica's primary region, a
    /// primary's own region once it has replicas, else none.
    pub fn reported_primary_region(&self) -> Option<&str> {
        match &self.primary_region {
            Some(r) => Some(r),
            None if !self.replicas.is_empty() => Some(&self.region),
            None => None,
        }
    }

    /// Calls `f` with the attributes `ListSecrets` filters look at. OwningService belongs to
    /// secrets another AWS service manages, and that service sets it; no secret here has one. A
    /// tag does not make one: moto's `test_list_replica_secret_with_filters` reads its own tag
    /// `aws:secretsmanager:owningService` as the owner, which AWS does not.
    fn with_filter_target<R>(&self, f: impl FnOnce(&crate::filters::FilterTarget<'_>) -> R) -> R {
        let tags: Vec<(String, String)> = self
            .tags
            .iter()
            .flatten()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        f(&crate::filters::FilterTarget {
            name: &self.name,
            description: self.description.as_deref(),
            tags: &tags,
            primary_region: self.reported_primary_region(),
            owning_service: None,
        })
    }

    /// The searchable terms a store keeps for this secret ([`crate::filters::terms`]).
    pub fn filter_terms(&self) -> Vec<crate::filters::Term> {
        self.with_filter_target(crate::filters::terms)
    }

    /// Whether this secret passes `filters` ([`crate::filters::matches`]): what a store's
    /// filtered listing must agree with.
    pub fn matches_filters(&self, filters: &[crate::filters::Filter]) -> bool {
        self.with_filter_target(|t| crate::filters::matches(t, filters))
    }

    /// Whether this secret is a replica of a primary in another region.
    pub fn is_replica(&self) -> bool {
        self.primary_region.is_some()
    }

    /// The ARN of this secret's replica in `region`: its own ARN with the other region.
    pub fn replica_arn(&self, region: &str) -> String {
        let mut parts: Vec<&str> = self.arn.splitn(5, ':').collect();
        if parts.len() == 5 {
            parts[3] = region;
        }
        parts.join(":")
    }

    /// The replica in `region`, if the secret replicates there.
    pub fn replica(&self, region: &str) -> Option<&Replica> {
        self.replicas.iter().find(|r| r.region == region)
    }

    pub fn is_scheduled_for_deletion(&self) -> bool {
        self.deleted_date.is_some()
    }

    /// Whether rotation is turned on.
    pub fn rotation_enabled(&self) -> bool {
        self.rotation.as_ref().is_some_and(|r| r.enabled)
    }

    /// The rules and the moment the next rotation window is counted from: the last rotation (or
    /// when rotation was configured, before the first one). For `AutomaticallyAfterDays` a new
    /// current value stored by hand (PutSecretValue, UpdateSecret) counts as a rotation, as AWS
    /// documents: the days count from the current version's creation. `None` while rotation is off
    /// or has no schedule.
    fn rotation_schedule_base(&self) -> Option<(&crate::rotation::RotationRules, Timestamp)> {
        let r = self.rotation.as_ref().filter(|r| r.enabled)?;
        let rules = r.rules.as_ref()?;
        let mut base = r
            .configured_date
            .max(self.last_rotated_date.unwrap_or(r.configured_date));
        if rules.automatically_after_days.is_some()
            && let Some(current) = self.current()
        {
            base = base.max(current.created_date);
        }
        Some((rules, base))
    }

    /// `NextRotationDate`: when rotation is on and scheduled, the end of the next rotation window.
    pub fn next_rotation_date(&self) -> Option<Timestamp> {
        let (rules, base) = self.rotation_schedule_base()?;
        rules.next_rotation_date(base)
    }

    /// When the next rotation window opens (rotation on and scheduled).
    pub fn next_rotation_window_start(&self) -> Option<Timestamp> {
        let (rules, base) = self.rotation_schedule_base()?;
        rules.next_window_start(base)
    }

    /// When the scheduler should start a rotation of the secret; stores index it. Never for a
    /// secret scheduled for deletion or with rotation off. With a rotation unfinished (see
    /// [`Secret::unfinished_rotation`]) that a run started ([`RotationConfig::attempt`] names its
    /// version): [`ROTATION_RETRY_AFTER_MS`] after that run started, to run it again, until
    /// [`MAX_ROTATION_ATTEMPTS`] runs were made; a pending version no run recorded (the
    /// temporary one of `RotateImmediately=false`) is not the scheduler's. Else when the next
    /// rotation window opens.
    ///
    /// A run whose function's finishSecret made its version current is unfinished until the run
    /// records its end (`LastRotatedDate`, which the next window counts from): the window it
    /// rotated for must not look open again meanwhile, or a scheduler tick in between would start
    /// a second rotation.
    ///
    /// [`RotationConfig::attempt`]: crate::rotation::RotationConfig::attempt
    /// [`ROTATION_RETRY_AFTER_MS`]: crate::rotation::ROTATION_RETRY_AFTER_MS
    /// [`MAX_ROTATION_ATTEMPTS`]: crate::rotation::MAX_ROTATION_ATTEMPTS
    pub fn rotation_due_date(&self) -> Option<Timestamp> {
        // A replica is rotated through its primary, never on its own.
        if self.is_scheduled_for_deletion() || self.is_replica() {
            return None;
        }
        let r = self.rotation.as_ref().filter(|r| r.enabled)?;
        if let Some(unfinished) = self.unfinished_rotation() {
            let attempt = r.attempt.as_ref().filter(|a| a.token == unfinished.id)?;
            if attempt.count >= crate::rotation::MAX_ROTATION_ATTEMPTS {
                return None;
            }
            return Some(
                attempt
                    .started
                    .plus_millis(crate::rotation::ROTATION_RETRY_AFTER_MS),
            );
        }
        self.next_rotation_window_start()
    }

    /// The version a rotation in progress works on: the one holding `AWSPENDING` that is not also
    /// `AWSCURRENT` (AWS's test for "a previous rotation isn't complete").
    pub fn pending_rotation(&self) -> Option<&Version> {
        self.version_with_stage(AWSPENDING)
            .filter(|v| !v.has_stage(AWSCURRENT))
    }

    /// The version a rotation not finished works on: the pending one ([`Secret::pending_rotation`]),
    /// or else the version of the last run started ([`RotationConfig::attempt`], which the run
    /// clears when it records its end) once its function's finishSecret made it `AWSCURRENT`.
    ///
    /// [`RotationConfig::attempt`]: crate::rotation::RotationConfig::attempt
    pub fn unfinished_rotation(&self) -> Option<&Version> {
        self.pending_rotation().or_else(|| {
            let attempt = self.rotation.as_ref()?.attempt.as_ref()?;
            self.version(&attempt.token).filter(|v| v.has_stage(AWSCURRENT))
        })
    }

    /// Starts a rotation: a new version `id` with only `AWSPENDING` (taken from the current version,
    /// where a finished rotation may have left it), holding a value of `kind` or none (a
    /// placeholder the rotation function fills with PutSecretValue).
    pub fn add_pending_version(
        &mut self,
        id: &str,
        kind: Option<ValueKind>,
        kms_key_arn: Option<String>,
        now: Timestamp,
    ) -> Result<(), SecretError> {
        for v in &mut self.versions {
            v.remove_stage(AWSPENDING);
        }
        self.versions.push(Version {
            id: id.to_owned(),
            stages: vec![AWSPENDING.to_owned()],
            created_date: now,
            last_accessed_date: None,
            kind,
            kms_key_arn,
        });
        if self.label_count() > MAX_LABELS_PER_SECRET {
            return Err(SecretError::TooManyLabels);
        }
        self.purge_old_versions(now)?;
        Ok(())
    }

    /// Ends a rotation that made `id` current: removes `AWSPENDING` from it, as Secrets Manager
    /// does outside the rotation function. Returns whether `id` is current.
    pub fn complete_rotation(&mut self, id: &str) -> bool {
        match self.versions.iter_mut().find(|v| v.id == id) {
            Some(v) if v.has_stage(AWSCURRENT) => {
                v.remove_stage(AWSPENDING);
                true
            }
            _ => false,
        }
    }

    pub fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    pub fn version_with_stage(&self, stage: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.has_stage(stage))
    }

    pub fn current(&self) -> Option<&Version> {
        self.version_with_stage(AWSCURRENT)
    }

    /// The version GetSecretValue reads: by id, by stage, by both (they must agree), or AWSCURRENT.
    pub fn select(&self, version_id: Option<&str>, stage: Option<&str>) -> Result<&Version, SecretError> {
        let v = match (version_id, stage) {
            (Some(id), Some(stage)) => {
                let v = self
                    .version(id)
                    .ok_or_else(|| SecretError::VersionNotFound(id.to_owned()))?;
                if !v.has_stage(stage) {
                    return Err(SecretError::StageNotOnVersion);
                }
                v
            }
            (Some(id), None) => self
                .version(id)
                .ok_or_else(|| SecretError::VersionNotFound(id.to_owned()))?,
            (None, stage) => {
                let stage = stage.unwrap_or(AWSCURRENT);
                self.version_with_stage(stage)
                    .ok_or_else(|| SecretError::StageNotFound(stage.to_owned()))?
            }
        };
        if v.kind.is_none() {
            return Err(SecretError::NoValue);
        }
        Ok(v)
    }

    /// Versions that carry at least one label, as `VersionIdsToStages` lists them.
    pub fn labelled_versions(&self) -> impl Iterator<Item = &Version> {
        self.versions.iter().filter(|v| !v.is_deprecated())
    }

    fn label_count(&self) -> usize {
        self.versions.iter().map(|v| v.stages.len()).sum()
    }

    /// Attaches `label` to version `to`, taking it from whichever version held it. When the label is
    /// `AWSCURRENT` and it moves, the version that lost it receives `AWSPREVIOUS` (taken from its
    /// former holder). Other labels on `to` are kept, including `AWSPENDING`.
    fn attach(&mut self, label: &str, to: &str) {
        let previous_holder = self
            .versions
            .iter()
            .find(|v| v.has_stage(label))
            .map(|v| v.id.clone());
        if previous_holder.as_deref() == Some(to) {
            return;
        }
        if let Some(holder) = &previous_holder
            && let Some(v) = self.versions.iter_mut().find(|v| &v.id == holder)
        {
            v.remove_stage(label);
        }
        if let Some(v) = self.versions.iter_mut().find(|v| v.id == to) {
            v.add_stage(label);
        }
        if label == AWSCURRENT
            && let Some(holder) = previous_holder
        {
            self.attach(AWSPREVIOUS, &holder);
        }
    }

    /// Adds a new version carrying `stages` (default `["AWSCURRENT"]`), moving each label from its
    /// previous holder. The first version of a secret always gets `AWSCURRENT`.
    pub fn add_version(
        &mut self,
        id: &str,
        stages: Option<&[String]>,
        kind: Option<ValueKind>,
        kms_key_arn: Option<String>,
        now: Timestamp,
    ) -> Result<(), SecretError> {
        let default = [AWSCURRENT.to_owned()];
        let stages = stages.unwrap_or(&default);
        let first = self.current().is_none() && self.versions.is_empty();
        self.versions.push(Version {
            id: id.to_owned(),
            stages: Vec::new(),
            created_date: now,
            last_accessed_date: None,
            kind,
            kms_key_arn,
        });
        for s in stages {
            self.attach(s, id);
        }
        // The first version of a secret is always current; the label comes after the requested ones.
        if first && !stages.iter().any(|s| s == AWSCURRENT) {
            self.attach(AWSCURRENT, id);
        }
        if self.label_count() > MAX_LABELS_PER_SECRET {
            return Err(SecretError::TooManyLabels);
        }
        self.purge_old_versions(now)?;
        Ok(())
    }

    /// Removes the oldest unlabelled versions while there are more than [`MAX_VERSIONS`], never
    /// removing one younger than 24 hours. Returns the removed ids; fails when the limit can't be kept.
    pub fn purge_old_versions(&mut self, now: Timestamp) -> Result<Vec<String>, SecretError> {
        let mut removed = Vec::new();
        while self.versions.len() > MAX_VERSIONS {
            let oldest = self.versions.iter().position(|v| {
                v.is_deprecated() && now.millis() - v.created_date.millis() >= VERSION_MIN_AGE_MS
            });
            match oldest {
                Some(i) => removed.push(self.versions.remove(i).id),
                None => return Err(SecretError::TooManyVersions),
            }
        }
        Ok(removed)
    }

    /// UpdateSecretVersionStage: moves `label` to `move_to` and/or removes it from `remove_from`.
    pub fn update_stage(
        &mut self,
        label: &str,
        remove_from: Option<&str>,
        move_to: Option<&str>,
    ) -> Result<(), SecretError> {
        let holder = self.version_with_stage(label).map(|v| v.id.clone());
        if let Some(to) = move_to
            && self.version(to).is_none()
        {
            return Err(SecretError::VersionNotFound(to.to_owned()));
        }
        if let Some(from) = remove_from {
            let v = self
                .version(from)
                .ok_or_else(|| SecretError::VersionNotFound(from.to_owned()))?;
            if !v.has_stage(label) {
                return Err(SecretError::LabelNotOnVersion {
                    label: label.to_owned(),
                    version: from.to_owned(),
                });
            }
        }
        match (move_to, holder) {
            (Some(to), Some(h)) if h != to && remove_from.is_none() => {
                return Err(SecretError::RemoveFromRequired {
                    label: label.to_owned(),
                    holder: h,
                });
            }
            (Some(to), _) => self.attach(label, to),
            // AWSCURRENT can only be moved, never just removed: a secret always has a current version.
            (None, Some(_)) if label == AWSCURRENT && remove_from.is_some() => {
                return Err(SecretError::CurrentNotMoved);
            }
            (None, _) => {
                if let Some(from) = remove_from
                    && let Some(v) = self.versions.iter_mut().find(|v| v.id == from)
                {
                    v.remove_stage(label);
                }
            }
        }
        if self.label_count() > MAX_LABELS_PER_SECRET {
            return Err(SecretError::TooManyLabels);
        }
        Ok(())
    }

    /// Stages of each labelled version, as `VersionIdsToStages`.
    pub fn versions_to_stages(&self) -> Vec<(&str, &[String])> {
        self.labelled_versions()
            .map(|v| (v.id.as_str(), v.stages.as_slice()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret {
            arn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf".into(),
            name: "s".into(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            description: None,
            kms_key_id: None,
            tags: None,
            resource_policy: None,
            resource_policy_principals: vec![],
            secret_type: None,
            created_date: Timestamp(0),
            last_changed_date: Timestamp(0),
            last_accessed_date: None,
            deleted_date: None,
            deletion_date: None,
            rotation: None,
            last_rotated_date: None,
            primary_region: None,
            replicas: vec![],
            versions: vec![],
            revision: 0,
        }
    }

    fn put(s: &mut Secret, id: &str, stages: Option<&[&str]>) {
        let stages: Option<Vec<String>> = stages.map(|st| st.iter().map(|x| x.to_string()).collect());
        s.add_version(id, stages.as_deref(), Some(ValueKind::String), None, Timestamp(0))
            .unwrap();
    }

    fn stages<'a>(s: &'a Secret, id: &str) -> Vec<&'a str> {
        s.version(id).unwrap().stages.iter().map(String::as_str).collect()
    }

    #[test]
    fn create_put_put() {
        let mut s = secret();
        put(&mut s, "v1", None);
        put(&mut s, "v2", None);
        put(&mut s, "v3", None);
        assert!(stages(&s, "v1").is_empty());
        assert_eq!(stages(&s, "v2"), ["AWSPREVIOUS"]);
        assert_eq!(stages(&s, "v3"), ["AWSCURRENT"]);
        assert_eq!(s.labelled_versions().count(), 2);
    }

    #[test]
    fn pending_then_move_current_keeps_pending() {
        let mut s = secret();
        put(&mut s, "v1", None);
        put(&mut s, "v2", Some(&["AWSPENDING"]));
        assert_eq!(stages(&s, "v1"), ["AWSCURRENT"]);
        assert_eq!(stages(&s, "v2"), ["AWSPENDING"]);
        s.update_stage("AWSCURRENT", Some("v1"), Some("v2")).unwrap();
        assert_eq!(stages(&s, "v1"), ["AWSPREVIOUS"]);
        assert_eq!(stages(&s, "v2"), ["AWSPENDING", "AWSCURRENT"]);
        put(&mut s, "v3", Some(&["AWSPENDING"]));
        assert_eq!(stages(&s, "v2"), ["AWSCURRENT"]);
        assert_eq!(stages(&s, "v3"), ["AWSPENDING"]);
        s.update_stage("AWSCURRENT", Some("v2"), Some("v3")).unwrap();
        assert!(stages(&s, "v1").is_empty());
        assert_eq!(stages(&s, "v2"), ["AWSPREVIOUS"]);
        assert_eq!(stages(&s, "v3"), ["AWSPENDING", "AWSCURRENT"]);
    }

    #[test]
    fn custom_labels_move_as_sets() {
        let mut s = secret();
        put(&mut s, "v1", None);
        put(&mut s, "v2", Some(&["one", "two", "three"]));
        put(&mut s, "v3", Some(&["one", "two", "four"]));
        assert_eq!(stages(&s, "v1"), ["AWSCURRENT"]);
        assert_eq!(stages(&s, "v2"), ["three"]);
        put(&mut s, "v4", Some(&["one", "two", "three", "four"]));
        assert!(stages(&s, "v2").is_empty());
        assert!(stages(&s, "v3").is_empty());
    }

    #[test]
    fn first_version_is_always_current() {
        let mut s = secret();
        put(&mut s, "v1", Some(&["AWSPENDING"]));
        assert_eq!(stages(&s, "v1"), ["AWSPENDING", "AWSCURRENT"]);
    }

    #[test]
    fn current_is_moved_never_just_removed() {
        let mut s = secret();
        put(&mut s, "v1", None);
        put(&mut s, "v2", Some(&["AWSPENDING"]));
        assert_eq!(
            s.update_stage("AWSCURRENT", Some("v1"), None),
            Err(SecretError::CurrentNotMoved)
        );
        assert_eq!(s.current().map(|v| v.id.as_str()), Some("v1"));
        // Other labels may be removed alone.
        assert_eq!(s.update_stage("AWSPENDING", Some("v2"), None), Ok(()));
        assert_eq!(stages(&s, "v2"), Vec::<&str>::new());
    }

    #[test]
    fn update_stage_requires_remove_from() {
        let mut s = secret();
        put(&mut s, "v1", None);
        put(&mut s, "v2", Some(&["AWSPENDING"]));
        assert_eq!(
            s.update_stage("AWSCURRENT", None, Some("v2")),
            Err(SecretError::RemoveFromRequired {
                label: "AWSCURRENT".into(),
                holder: "v1".into()
            })
        );
        assert!(matches!(
            s.update_stage("AWSCURRENT", Some("v2"), Some("v2")),
            Err(SecretError::LabelNotOnVersion { .. })
        ));
        assert!(matches!(
            s.update_stage("X", None, Some("nope")),
            Err(SecretError::VersionNotFound(_))
        ));
        // Moving onto the current holder is a no-op.
        s.update_stage("AWSCURRENT", None, Some("v1")).unwrap();
        // Only removing leaves the version deprecated.
        s.update_stage("AWSPENDING", Some("v2"), None).unwrap();
        assert!(s.version("v2").unwrap().is_deprecated());
        // A new custom label needs no RemoveFromVersionId.
        s.update_stage("custom", None, Some("v2")).unwrap();
        assert_eq!(stages(&s, "v2"), ["custom"]);
    }

    #[test]
    fn select_rules() {
        let mut s = secret();
        assert_eq!(
            s.select(None, None),
            Err(SecretError::StageNotFound("AWSCURRENT".into()))
        );
        put(&mut s, "v1", None);
        put(&mut s, "v2", None);
        assert_eq!(s.select(None, None).unwrap().id, "v2");
        assert_eq!(s.select(None, Some("AWSPREVIOUS")).unwrap().id, "v1");
        assert_eq!(s.select(Some("v1"), None).unwrap().id, "v1");
        assert_eq!(
            s.select(Some("v1"), Some("AWSCURRENT")),
            Err(SecretError::StageNotOnVersion)
        );
        assert_eq!(
            s.select(Some("zz"), None),
            Err(SecretError::VersionNotFound("zz".into()))
        );
    }

    #[test]
    fn next_rotation_date_counts_from_the_last_rotation_or_new_current_value() {
        use crate::rotation::{RotationConfig, RotationRules};
        const DAY: i64 = 86_400_000;
        let mut s = secret();
        put(&mut s, "v1", None);
        assert_eq!(s.next_rotation_date(), None, "rotation never configured");
        s.rotation = Some(RotationConfig {
            enabled: true,
            lambda_arn: None,
            rules: Some(RotationRules {
                automatically_after_days: Some(3),
                ..RotationRules::default()
            }),
            configured_date: Timestamp(10 * DAY + 5),
            attempt: None,
        });
        // From the configuration, to the end of the UTC day three days on.
        assert_eq!(s.next_rotation_date(), Some(Timestamp(14 * DAY - 1000)));
        s.last_rotated_date = Some(Timestamp(20 * DAY + 7));
        assert_eq!(s.next_rotation_date(), Some(Timestamp(24 * DAY - 1000)));
        // A value put by hand later counts as a rotation.
        s.add_version("v2", None, Some(ValueKind::String), None, Timestamp(30 * DAY))
            .unwrap();
        assert_eq!(s.next_rotation_date(), Some(Timestamp(34 * DAY - 1000)));
        // ... but not for a schedule expression; and never while rotation is off or pending deletion.
        if let Some(r) = s.rotation.as_mut() {
            r.rules = Some(RotationRules {
                schedule_expression: Some("rate(3 days)".into()),
                ..RotationRules::default()
            });
        }
        assert_eq!(s.next_rotation_date(), Some(Timestamp(24 * DAY - 1000)));
        s.deleted_date = Some(Timestamp(40 * DAY));
        assert_eq!(s.rotation_due_date(), None);
        s.deleted_date = None;
        if let Some(r) = s.rotation.as_mut() {
            r.enabled = false;
        }
        assert_eq!(s.next_rotation_date(), None);
    }

    #[test]
    fn rotation_is_due_when_the_window_opens_and_a_started_run_is_retried_a_few_times() {
        use crate::rotation::{
            MAX_ROTATION_ATTEMPTS, ROTATION_RETRY_AFTER_MS, RotationAttempt, RotationConfig, RotationRules,
        };
        const DAY: i64 = 86_400_000;
        let mut s = secret();
        put(&mut s, "v1", None);
        s.rotation = Some(RotationConfig {
            enabled: true,
            lambda_arn: None,
            rules: Some(RotationRules {
                automatically_after_days: Some(3),
                ..RotationRules::default()
            }),
            configured_date: Timestamp(10 * DAY + 5),
            attempt: None,
        });
        // The window is the UTC day three days on: due from its first moment.
        assert_eq!(s.rotation_due_date(), Some(Timestamp(13 * DAY)));
        assert_eq!(s.next_rotation_date(), Some(Timestamp(14 * DAY - 1000)));
        // A pending version no run recorded (RotateImmediately=false's test) is not the scheduler's.
        s.add_pending_version("t", None, None, Timestamp(13 * DAY))
            .unwrap();
        assert_eq!(s.rotation_due_date(), None);
        // A run started: retried a while after it started, up to the most runs.
        if let Some(r) = s.rotation.as_mut() {
            r.attempt = Some(RotationAttempt {
                token: "t".into(),
                started: Timestamp(13 * DAY),
                count: 1,
            });
        }
        assert_eq!(
            s.rotation_due_date(),
            Some(Timestamp(13 * DAY + ROTATION_RETRY_AFTER_MS))
        );
        if let Some(a) = s.rotation.as_mut().and_then(|r| r.attempt.as_mut()) {
            a.count = MAX_ROTATION_ATTEMPTS;
        }
        assert_eq!(s.rotation_due_date(), None);
    }

    #[test]
    fn a_run_past_finish_secret_is_no_new_rotation_until_its_end_is_recorded() {
        use crate::rotation::{
            MAX_ROTATION_ATTEMPTS, ROTATION_RETRY_AFTER_MS, RotationAttempt, RotationConfig, RotationRules,
        };
        const DAY: i64 = 86_400_000;
        let mut s = secret();
        put(&mut s, "v1", None);
        s.rotation = Some(RotationConfig {
            enabled: true,
            lambda_arn: None,
            rules: Some(RotationRules {
                schedule_expression: Some("rate(10 days)".into()),
                ..RotationRules::default()
            }),
            configured_date: Timestamp(0),
            attempt: None,
        });
        assert_eq!(s.rotation_due_date(), Some(Timestamp(10 * DAY)));
        // The scheduler starts a run for v2 once due.
        s.add_pending_version("v2", None, None, Timestamp(11 * DAY))
            .unwrap();
        if let Some(r) = s.rotation.as_mut() {
            r.attempt = Some(RotationAttempt {
                token: "v2".into(),
                started: Timestamp(11 * DAY),
                count: 1,
            });
        }
        let retry = Some(Timestamp(11 * DAY + ROTATION_RETRY_AFTER_MS));
        assert_eq!(s.rotation_due_date(), retry);
        assert_eq!(s.unfinished_rotation().map(|v| v.id.as_str()), Some("v2"));
        // The function's finishSecret moves AWSCURRENT; the run has yet to record its end. Until
        // it does (or if its node stops first), that run is the one to finish, by a retry: the
        // rotation the schedule asked for is under way, not due again.
        s.update_stage("AWSCURRENT", Some("v1"), Some("v2")).unwrap();
        assert!(s.pending_rotation().is_none());
        assert_eq!(s.unfinished_rotation().map(|v| v.id.as_str()), Some("v2"));
        assert_eq!(s.rotation_due_date(), retry);
        if let Some(a) = s.rotation.as_mut().and_then(|r| r.attempt.as_mut()) {
            a.count = MAX_ROTATION_ATTEMPTS;
        }
        assert_eq!(s.rotation_due_date(), None);
        // The end recorded: the next window counts from this rotation.
        assert!(s.complete_rotation("v2"));
        s.last_rotated_date = Some(Timestamp(11 * DAY + 5));
        if let Some(r) = s.rotation.as_mut() {
            r.attempt = None;
        }
        assert!(s.unfinished_rotation().is_none());
        assert_eq!(s.rotation_due_date(), Some(Timestamp(21 * DAY)));
        // A function that took AWSPENDING off its version itself still leaves a run to record.
        s.add_pending_version("v3", None, None, Timestamp(22 * DAY))
            .unwrap();
        if let Some(r) = s.rotation.as_mut() {
            r.attempt = Some(RotationAttempt {
                token: "v3".into(),
                started: Timestamp(22 * DAY),
                count: 1,
            });
        }
        s.update_stage("AWSCURRENT", Some("v2"), Some("v3")).unwrap();
        s.update_stage("AWSPENDING", Some("v3"), None).unwrap();
        assert_eq!(s.unfinished_rotation().map(|v| v.id.as_str()), Some("v3"));
        assert_eq!(
            s.rotation_due_date(),
            Some(Timestamp(22 * DAY + ROTATION_RETRY_AFTER_MS))
        );
    }

    #[test]
    fn a_rotation_takes_pending_from_the_current_version_and_finishes() {
        let mut s = secret();
        put(&mut s, "v1", None);
        put(&mut s, "v2", Some(&["AWSPENDING"]));
        s.update_stage("AWSCURRENT", Some("v1"), Some("v2")).unwrap();
        // AWSPENDING left on the current version is no rotation in progress.
        assert!(s.pending_rotation().is_none());
        s.add_pending_version("v3", None, None, Timestamp(0)).unwrap();
        assert_eq!(stages(&s, "v2"), ["AWSCURRENT"]);
        assert_eq!(stages(&s, "v3"), ["AWSPENDING"]);
        assert_eq!(s.pending_rotation().map(|v| v.id.as_str()), Some("v3"));
        assert_eq!(
            s.select(Some("v3"), Some("AWSPENDING")),
            Err(SecretError::NoValue)
        );
        assert!(!s.complete_rotation("v3"), "not current yet");
        s.update_stage("AWSCURRENT", Some("v2"), Some("v3")).unwrap();
        assert!(s.complete_rotation("v3"));
        assert_eq!(stages(&s, "v3"), ["AWSCURRENT"]);
        assert_eq!(stages(&s, "v2"), ["AWSPREVIOUS"]);
    }

    #[test]
    fn label_limit() {
        let mut s = secret();
        put(&mut s, "v1", None);
        let many: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
        assert_eq!(
            s.add_version("v2", Some(&many), Some(ValueKind::String), None, Timestamp(0)),
            Err(SecretError::TooManyLabels)
        );
    }

    #[test]
    fn old_unlabelled_versions_are_purged_young_ones_are_not() {
        let mut s = secret();
        for i in 0..MAX_VERSIONS {
            s.add_version(
                &format!("v{i}"),
                None,
                Some(ValueKind::String),
                None,
                Timestamp(0),
            )
            .unwrap();
        }
        let later = Timestamp(VERSION_MIN_AGE_MS);
        s.add_version("new", None, Some(ValueKind::String), None, later)
            .unwrap();
        assert_eq!(s.versions.len(), MAX_VERSIONS);
        assert!(s.version("v0").is_none());
        // Now fill with versions that are all young: the limit is hit.
        let mut t = secret();
        for i in 0..MAX_VERSIONS {
            t.add_version(
                &format!("v{i}"),
                None,
                Some(ValueKind::String),
                None,
                Timestamp(0),
            )
            .unwrap();
        }
        assert_eq!(
            t.add_version("x", None, Some(ValueKind::String), None, Timestamp(1)),
            Err(SecretError::TooManyVersions)
        );
    }
}
