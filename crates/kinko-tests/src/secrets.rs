//! Secrets Manager fixtures: unique names, the calls tests make to set the scene or read the
//! result ([`SecretsExt`], on any `aws_sdk_secretsmanager::Client`), and AWS's messages.
//!
//! The helpers panic when the call fails: they are for steps that must work. To check a failure,
//! call the SDK and compare [`crate::outcome`] with [`crate::failed`].

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretOutput;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::operation::list_secret_version_ids::ListSecretVersionIdsOutput;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

use crate::REGION;

/// ResourceNotFoundException's message for a secret that doesn't exist.
pub const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
/// InvalidRequestException's message for a secret scheduled for deletion.
pub const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";
/// ValidationException's message for a name (or SecretId) with a character names can't have.
pub const INVALID_NAME: &str = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";
/// ResourceExistsException's message for a ClientRequestToken reused with another value.
pub fn token_in_use(token: &str, secret_arn: &str) -> String {
    format!(
        "You can't use ClientRequestToken {token} because that value is already in use for a version of secret {secret_arn}."
    )
}

/// A secret name nobody else uses: `<prefix>-<uuid without hyphens>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh ClientRequestToken / VersionId (a UUID v4, as the SDK generates).
pub fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A staging-label list as a sorted `Vec<String>`: AWS gives no order guarantee for labels.
pub fn sorted(labels: &[String]) -> Vec<String> {
    let mut v = labels.to_vec();
    v.sort();
    v
}

/// `["a", "b"]` as owned, sorted strings.
pub fn labels(l: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = l.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// A Secrets Manager tag.
pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// Tags as `(key, value)` pairs, in order.
pub fn tag_pairs(tags: &[Tag]) -> Vec<(&str, &str)> {
    fn pair(t: &Tag) -> (&str, &str) {
        (t.key().unwrap_or_default(), t.value().unwrap_or_default())
    }
    tags.iter().map(pair).collect()
}

/// A ListSecrets / BatchGetSecretValue filter.
pub fn filter(key: FilterNameStringType, values: &[&str]) -> Filter {
    Filter::builder()
        .key(key)
        .set_values(Some(values.iter().map(|v| (*v).to_owned()).collect()))
        .build()
}

/// The filter `name` = `prefix` (a name prefix): scopes a listing to one test's secrets.
pub fn name_filter(prefix: &str) -> Filter {
    filter(FilterNameStringType::Name, &[prefix])
}

/// The ARN pattern of the secrets `<account>` names `<name_pattern>` (a name, a prefix with `*`).
pub fn secret_arn_pattern(account: &str, name_pattern: &str) -> String {
    format!("arn:aws:secretsmanager:{REGION}:{account}:secret:{name_pattern}")
}

/// The version-to-labels map of DescribeSecret, labels sorted.
pub async fn stages_of(client: &Client, secret_id: &str) -> BTreeMap<String, Vec<String>> {
    client.stages(secret_id).await
}

/// Creates a string secret and returns `(arn, version_id)`.
pub async fn create_string_secret(client: &Client, name: &str, value: &str) -> (String, String) {
    client.create_string(name, value).await
}

/// The version-to-labels map `entries` describe, labels sorted (to compare with
/// [`SecretsExt::stages`]).
pub fn stage_map(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    let entry = |(id, st): &(&str, &[&str])| ((*id).to_owned(), labels(st));
    entries.iter().map(entry).collect()
}

/// Checks `arn` is `arn:aws:secretsmanager:us-east-1:<account>:secret:<name>-XXXXXX` (six ASCII
/// alphanumerics) and returns the suffix.
pub fn arn_suffix<'a>(arn: &'a str, account_id: &str, name: &str) -> &'a str {
    let prefix = format!("{}-", secret_arn_pattern(account_id, name));
    let suffix = arn
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("ARN {arn:?} does not start with {prefix:?}"));
    assert_eq!(suffix.len(), 6, "ARN suffix of {arn:?} is not 6 characters");
    assert!(
        suffix.bytes().all(|b| b.is_ascii_alphanumeric()),
        "ARN suffix of {arn:?} is not alphanumeric"
    );
    suffix
}

/// Calls that set the scene or read the result, on any Secrets Manager client. Each panics when
/// the call fails.
#[expect(
    async_fn_in_trait,
    reason = "test helpers awaited in place; callers never need to name the futures' bounds"
)]
pub trait SecretsExt {
    /// CreateSecret with a string value; returns `(ARN, VersionId)`.
    async fn create_string(&self, name: &str, value: &str) -> (String, String);
    /// CreateSecret without a value; returns the ARN.
    async fn create_empty(&self, name: &str) -> String;
    /// GetSecretValue of AWSCURRENT.
    async fn get(&self, id: &str) -> GetSecretValueOutput;
    /// GetSecretValue of the version labelled `stage`.
    async fn get_stage(&self, id: &str, stage: &str) -> GetSecretValueOutput;
    /// The SecretString of AWSCURRENT.
    async fn value(&self, id: &str) -> String;
    /// DescribeSecret.
    async fn describe(&self, id: &str) -> DescribeSecretOutput;
    /// PutSecretValue of a string with a fresh ClientRequestToken; returns the VersionId.
    async fn put_string(&self, id: &str, value: &str) -> String;
    /// PutSecretValue of a string with a fresh ClientRequestToken and these VersionStages;
    /// returns the VersionId.
    async fn put_staged(&self, id: &str, value: &str, stages: &[&str]) -> String;
    /// UpdateSecretVersionStage of `stage`, from the version `remove_from` to `move_to`.
    async fn move_stage(&self, id: &str, stage: &str, remove_from: Option<&str>, move_to: Option<&str>);
    /// DeleteSecret with the default recovery window.
    async fn schedule_deletion(&self, id: &str) -> DeleteSecretOutput;
    /// DeleteSecret with a recovery window of `days`.
    async fn schedule_deletion_in(&self, id: &str, days: i64) -> DeleteSecretOutput;
    /// PutResourcePolicy.
    async fn put_policy(&self, id: &str, policy: &str);
    /// The version-to-labels map of DescribeSecret, labels sorted.
    async fn stages(&self, id: &str) -> BTreeMap<String, Vec<String>>;
    /// DescribeSecret's tags as `(key, value)` pairs; `None` when Tags is absent.
    async fn tags_of(&self, id: &str) -> Option<Vec<(String, String)>>;
    /// ListSecretVersionIds (one page).
    async fn versions(&self, id: &str, include_deprecated: bool) -> ListSecretVersionIdsOutput;
    /// ListSecretVersionIds as `(VersionId, VersionStages sorted)`; deprecated versions have no
    /// VersionStages.
    async fn version_list(&self, id: &str, include_deprecated: bool) -> Vec<(String, Option<Vec<String>>)>;
}

impl SecretsExt for Client {
    async fn create_string(&self, name: &str, value: &str) -> (String, String) {
        let out = self.create_secret().name(name).secret_string(value).send().await;
        let out = out.unwrap_or_else(|e| panic!("CreateSecret {name}: {e:?}"));
        let arn = out.arn.expect("CreateSecret returns the ARN");
        (
            arn,
            out.version_id
                .expect("CreateSecret with a value returns the VersionId"),
        )
    }

    async fn create_empty(&self, name: &str) -> String {
        let out = self.create_secret().name(name).send().await;
        out.expect("CreateSecret without a value")
            .arn
            .expect("CreateSecret returns the ARN")
    }

    async fn get(&self, id: &str) -> GetSecretValueOutput {
        let out = self.get_secret_value().secret_id(id).send().await;
        out.unwrap_or_else(|e| panic!("GetSecretValue {id}: {e:?}"))
    }

    async fn get_stage(&self, id: &str, stage: &str) -> GetSecretValueOutput {
        let out = self.get_secret_value().secret_id(id).version_stage(stage);
        out.send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue {id} {stage}: {e:?}"))
    }

    async fn value(&self, id: &str) -> String {
        let out = self.get(id).await;
        out.secret_string.expect("SecretString")
    }

    async fn describe(&self, id: &str) -> DescribeSecretOutput {
        let out = self.describe_secret().secret_id(id).send().await;
        out.unwrap_or_else(|e| panic!("DescribeSecret {id}: {e:?}"))
    }

    async fn put_string(&self, id: &str, value: &str) -> String {
        let t = token();
        let out = self.put_secret_value().secret_id(id).client_request_token(&t);
        let out = out.secret_string(value).send().await;
        let version = out.expect("PutSecretValue").version_id;
        assert_eq!(version.as_deref(), Some(t.as_str()));
        t
    }

    async fn put_staged(&self, id: &str, value: &str, stages: &[&str]) -> String {
        let t = token();
        let req = self.put_secret_value().secret_id(id).client_request_token(&t);
        let stages = stages.iter().map(|s| (*s).to_owned()).collect();
        let out = req
            .secret_string(value)
            .set_version_stages(Some(stages))
            .send()
            .await;
        let version = out.expect("PutSecretValue").version_id;
        assert_eq!(version.as_deref(), Some(t.as_str()));
        t
    }

    async fn move_stage(&self, id: &str, stage: &str, remove_from: Option<&str>, move_to: Option<&str>) {
        let req = self
            .update_secret_version_stage()
            .secret_id(id)
            .version_stage(stage);
        let req = req.set_remove_from_version_id(remove_from.map(str::to_owned));
        let out = req
            .set_move_to_version_id(move_to.map(str::to_owned))
            .send()
            .await;
        let out = out.expect("UpdateSecretVersionStage");
        assert_eq!(out.name(), Some(id));
        assert!(out.arn().is_some_and(|a| a.contains(id)));
    }

    async fn schedule_deletion(&self, id: &str) -> DeleteSecretOutput {
        let out = self.delete_secret().secret_id(id).send().await;
        out.unwrap_or_else(|e| panic!("DeleteSecret {id}: {e:?}"))
    }

    async fn schedule_deletion_in(&self, id: &str, days: i64) -> DeleteSecretOutput {
        let req = self.delete_secret().secret_id(id).recovery_window_in_days(days);
        req.send()
            .await
            .unwrap_or_else(|e| panic!("DeleteSecret {id} in {days} days: {e:?}"))
    }

    async fn put_policy(&self, id: &str, policy: &str) {
        let out = self.put_resource_policy().secret_id(id).resource_policy(policy);
        out.send().await.expect("PutResourcePolicy");
    }

    async fn stages(&self, id: &str) -> BTreeMap<String, Vec<String>> {
        let d = self.describe(id).await;
        let map = d.version_ids_to_stages.unwrap_or_default();
        map.into_iter().map(|(k, v)| (k, sorted(&v))).collect()
    }

    async fn tags_of(&self, id: &str) -> Option<Vec<(String, String)>> {
        let tags = self.describe(id).await.tags?;
        let pair = |t: Tag| (t.key.unwrap_or_default(), t.value.unwrap_or_default());
        Some(tags.into_iter().map(pair).collect())
    }

    async fn versions(&self, id: &str, include_deprecated: bool) -> ListSecretVersionIdsOutput {
        let req = self.list_secret_version_ids().secret_id(id);
        let out = req.include_deprecated(include_deprecated).send().await;
        out.unwrap_or_else(|e| panic!("ListSecretVersionIds {id}: {e:?}"))
    }

    async fn version_list(&self, id: &str, include_deprecated: bool) -> Vec<(String, Option<Vec<String>>)> {
        let out = self.versions(id, include_deprecated).await;
        let entry = |v: aws_sdk_secretsmanager::types::SecretVersionsListEntry| {
            let stages = v.version_stages.map(|s| sorted(&s));
            (v.version_id.unwrap_or_default(), stages)
        };
        out.versions.unwrap_or_default().into_iter().map(entry).collect()
    }
}

/// Waits (up to a minute, looking every 100 ms) until the description of secret `id` satisfies
/// `done`, as when a rotation runs after RotateSecret has answered; panics with `what` otherwise.
pub async fn wait_for_secret(
    sm: &Client,
    id: &str,
    what: &str,
    done: impl Fn(&DescribeSecretOutput) -> bool,
) -> DescribeSecretOutput {
    for _ in 0..600 {
        let d = sm.describe(id).await;
        if done(&d) {
            return d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: not reached within a minute: {:?}", sm.describe(id).await);
}
