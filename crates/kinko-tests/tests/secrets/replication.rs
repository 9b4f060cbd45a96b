//! Replication to other regions of the account: ReplicateSecretToRegions and CreateSecret's
//! `AddReplicaRegions`. A replica is a secret of the same name in the other region, read through a
//! client of that region, holding the primary's versions, labels, value, description and tags
//! under a key of its own region; the primary reports it in `ReplicationStatus`.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{ReplicaRegionType, ReplicationStatusType, StatusType};
use kinko_tests::*;
use serde_json::json;

use crate::{secret, sm};

const NAME_TAKEN: &str = "Replication failed: Secret with this name already exists in this region.";
const KMS_DENIED: &str = "Access to KMS is not allowed";

/// A root client of the shared server in `region`.
fn sm_in(region: &str) -> Client {
    let server = TestServer::start();
    server.client_in(region, &server.root_credentials())
}

fn region(r: &str) -> ReplicaRegionType {
    ReplicaRegionType::builder().region(r).build()
}

fn region_under(r: &str, key: &str) -> ReplicaRegionType {
    ReplicaRegionType::builder().region(r).kms_key_id(key).build()
}

/// `(Region, KmsKeyId, Status, StatusMessage)` of each entry.
fn statuses(s: &[ReplicationStatusType]) -> Vec<(String, String, StatusType, Option<String>)> {
    s.iter()
        .map(|r| {
            (
                r.region().unwrap_or_default().to_owned(),
                r.kms_key_id().unwrap_or_default().to_owned(),
                r.status().cloned().expect("Status"),
                r.status_message().map(str::to_owned),
            )
        })
        .collect()
}

fn in_sync(region: &str, key: &str) -> (String, String, StatusType, Option<String>) {
    (region.to_owned(), key.to_owned(), StatusType::InSync, None)
}

fn replica_arn(arn: &str, region: &str) -> String {
    arn.replacen(&format!(":{REGION}:"), &format!(":{region}:"), 1)
}

/// The replica is the secret of the same name in the other region: the primary's ARN with that
/// region, `PrimaryRegion` naming the primary's, and its value, labels, description and tags.
#[tokio::test]
async fn a_replica_holds_the_primary_in_the_other_region() {
    let (client, name, arn, version) = secret("repl-copy", "s3cret").await;
    let req = client.update_secret().secret_id(&name).description("the db");
    ok(req.send().await);
    let req = client.tag_resource().secret_id(&name).tags(tag("team", "core"));
    ok(req.send().await);
    let out = client
        .replicate_secret_to_regions()
        .secret_id(&name)
        .add_replica_regions(region("eu-west-1"))
        .send()
        .await;
    let out = ok(out);
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(
        statuses(out.replication_status()),
        vec![in_sync("eu-west-1", "alias/aws/secretsmanager")]
    );

    let eu = sm_in("eu-west-1");
    assert_eq!(eu.value(&name).await, "s3cret");
    let replica = eu.describe(&name).await;
    assert_eq!(replica.arn(), Some(replica_arn(&arn, "eu-west-1").as_str()));
    assert_eq!(replica.primary_region(), Some(REGION));
    assert_eq!(replica.description(), Some("the db"));
    assert_eq!(tag_pairs(replica.tags()), vec![("team", "core")]);
    assert_eq!(
        stages_of(&eu, &name).await,
        stage_map(&[(&version, &["AWSCURRENT"])])
    );
    assert!(replica.replication_status().is_empty());
    let by_arn = eu.get_secret_value().secret_id(replica_arn(&arn, "eu-west-1"));
    assert_eq!(ok(by_arn.send().await).secret_string(), Some("s3cret"));

    let primary = client.describe(&name).await;
    assert_eq!(primary.primary_region(), Some(REGION));
    assert_eq!(
        statuses(primary.replication_status()),
        vec![in_sync("eu-west-1", "alias/aws/secretsmanager")]
    );
}

/// CreateSecret with AddReplicaRegions makes the primary and its replicas at once.
#[tokio::test]
async fn create_secret_adds_replica_regions() {
    let (client, name) = (sm(), unique_name("repl-create"));
    let out = client
        .create_secret()
        .name(&name)
        .secret_string("v1")
        .add_replica_regions(region("eu-west-1"))
        .add_replica_regions(region("ap-south-1"))
        .send()
        .await;
    let out = ok(out);
    assert_eq!(
        statuses(out.replication_status()),
        vec![
            in_sync("eu-west-1", "alias/aws/secretsmanager"),
            in_sync("ap-south-1", "alias/aws/secretsmanager"),
        ]
    );
    for r in ["eu-west-1", "ap-south-1"] {
        assert_eq!(sm_in(r).value(&name).await, "v1", "in {r}");
    }
    let empty = unique_name("repl-create-empty");
    let req = client
        .create_secret()
        .name(&empty)
        .add_replica_regions(region("eu-west-1"));
    ok(req.send().await);
    let replica = sm_in("eu-west-1").describe(&empty).await;
    assert_eq!(replica.primary_region(), Some(REGION));
    assert!(replica.version_ids_to_stages().is_none());
}

/// A secret of the same name in the target region fails that region's replication, with AWS's
/// status message, and is left as it is; ForceOverwriteReplicaSecret replaces it with the replica.
#[tokio::test]
async fn a_name_taken_in_the_region_fails_unless_overwritten() {
    let (client, name, _, _) = secret("repl-taken", "primary").await;
    let eu = sm_in("eu-west-2");
    eu.create_string(&name, "standalone").await;
    let req = client.replicate_secret_to_regions().secret_id(&name);
    let out = ok(req.add_replica_regions(region("eu-west-2")).send().await);
    let failed = (
        "eu-west-2".to_owned(),
        "alias/aws/secretsmanager".to_owned(),
        StatusType::Failed,
        Some(NAME_TAKEN.to_owned()),
    );
    assert_eq!(statuses(out.replication_status()), vec![failed.clone()]);
    assert_eq!(
        statuses(client.describe(&name).await.replication_status()),
        vec![failed]
    );
    assert_eq!(eu.value(&name).await, "standalone");
    assert_eq!(eu.describe(&name).await.primary_region(), None);

    let (client, name, _, _) = secret("repl-force", "primary").await;
    eu.create_string(&name, "standalone").await;
    let req = client.replicate_secret_to_regions().secret_id(&name);
    let req = req.add_replica_regions(region("eu-west-2"));
    let out = ok(req.force_overwrite_replica_secret(true).send().await);
    assert_eq!(
        statuses(out.replication_status()),
        vec![in_sync("eu-west-2", "alias/aws/secretsmanager")]
    );
    assert_eq!(eu.value(&name).await, "primary");
    assert_eq!(eu.describe(&name).await.primary_region(), Some(REGION));
}

/// The primary's own region, or a region it already replicates to, is no replica region.
#[tokio::test]
async fn the_primary_region_is_no_replica_region() {
    let (client, name, _, _) = secret("repl-same", "v").await;
    let invalid = failed("InvalidParameterException", "Invalid replica region.");
    let req = client.replicate_secret_to_regions().secret_id(&name);
    let same = req.add_replica_regions(region(REGION)).send().await;
    assert_eq!(outcome(same), invalid);
    let req = client.replicate_secret_to_regions().secret_id(&name);
    ok(req.add_replica_regions(region("eu-west-1")).send().await);
    let req = client.replicate_secret_to_regions().secret_id(&name);
    let again = req.add_replica_regions(region("eu-west-1")).send().await;
    assert_eq!(outcome(again), invalid);
    let req = client.replicate_secret_to_regions().secret_id(&name);
    let bad = req.add_replica_regions(region("Mars")).send().await;
    assert_eq!(error_code(bad), "ValidationException");
}

/// A replica under a customer managed key of its region: its KmsKeyId, and its values sealed under
/// that key. The caller needs the key's KMS permissions through Secrets Manager; without them that
/// region's replication fails with Secrets Manager's KMS message.
#[tokio::test]
async fn a_replica_key_is_used_with_the_callers_kms_permissions() {
    let server = TestServer::start();
    let (key_id, key_arn) = server
        .kms_client_in("eu-west-3", &server.root_credentials())
        .new_key()
        .await;
    let prefix = format!("repl-kms-{}", short_id());
    let sm_statement = statement(
        "Allow",
        &["secretsmanager:*"],
        &[&secret_arn_pattern("*", &format!("{prefix}/*")).replacen(REGION, "*", 1)],
    );
    let user = server
        .user(
            "repl-kms",
            Some(&policy_document(std::slice::from_ref(&sm_statement))),
        )
        .await;
    let app = user.sm();
    let name = format!("{prefix}/denied");
    app.create_string(&name, "v").await;
    let req = app.replicate_secret_to_regions().secret_id(&name);
    let out = ok(req
        .add_replica_regions(region_under("eu-west-3", &key_id))
        .send()
        .await);
    let denied = (
        "eu-west-3".to_owned(),
        key_id.clone(),
        StatusType::Failed,
        Some(KMS_DENIED.to_owned()),
    );
    assert_eq!(statuses(out.replication_status()), vec![denied]);
    let missing = sm_in("eu-west-3").describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(missing), "ResourceNotFoundException");

    let kms = statement("Allow", &["kms:GenerateDataKey", "kms:Decrypt"], &[&key_arn]);
    let req = server.iam_client().put_user_policy().user_name(&user.name);
    let req = req
        .policy_name("inline")
        .policy_document(policy_document(&[sm_statement, kms]));
    ok(req.send().await);
    let name = format!("{prefix}/allowed");
    app.create_string(&name, "v").await;
    let req = app.replicate_secret_to_regions().secret_id(&name);
    let out = ok(req
        .add_replica_regions(region_under("eu-west-3", &key_id))
        .send()
        .await);
    assert_eq!(
        statuses(out.replication_status()),
        vec![in_sync("eu-west-3", &key_id)]
    );
    let eu = server.client_in("eu-west-3", &user);
    assert_eq!(eu.value(&name).await, "v");
    assert_eq!(eu.describe(&name).await.kms_key_id(), Some(key_id.as_str()));
    let versions = eu.versions(&name, false).await;
    assert_eq!(versions.versions()[0].kms_key_ids(), [key_arn]);
}

/// ReplicateSecretToRegions is its own action, with the requested regions in
/// `secretsmanager:AddReplicaRegions`; CreateSecret with AddReplicaRegions needs it too.
#[tokio::test]
async fn replication_is_authorized_per_requested_region() {
    let server = TestServer::start();
    let prefix = format!("repl-authz-{}", short_id());
    let arns = secret_arn_pattern(DEV_ACCOUNT, &format!("{prefix}/*"));
    let mut only_eu = statement("Allow", &["secretsmanager:ReplicateSecretToRegions"], &[&arns]);
    only_eu["Condition"] = json!({
        "ForAllValues:StringEquals": {"secretsmanager:AddReplicaRegions": ["eu-west-1"]}
    });
    let rest = statement(
        "Allow",
        &["secretsmanager:CreateSecret", "secretsmanager:GetSecretValue"],
        &[&arns],
    );
    let user = server
        .user("repl-authz", Some(&policy_document(&[only_eu, rest])))
        .await;
    let app = user.sm();
    let name = format!("{prefix}/one");
    app.create_string(&name, "v").await;
    let req = app.replicate_secret_to_regions().secret_id(&name);
    let other = req.add_replica_regions(region("eu-west-2")).send().await;
    assert_eq!(
        outcome(other),
        failed(
            "AccessDeniedException",
            &format!(
                "User: {} is not authorized to perform: secretsmanager:ReplicateSecretToRegions on resource: {name} because no identity-based policy allows the secretsmanager:ReplicateSecretToRegions action",
                user.arn
            )
        )
    );
    let req = app.replicate_secret_to_regions().secret_id(&name);
    ok(req.add_replica_regions(region("eu-west-1")).send().await);

    let req = app
        .create_secret()
        .name(format!("{prefix}/two"))
        .secret_string("v");
    let created = req.add_replica_regions(region("ap-south-1")).send().await;
    assert_eq!(error_code(created), "AccessDeniedException");
}

const ON_REPLICA: &str =
    "Operation not permitted on a replica secret. Call must be made in primary secret's region.";

/// A primary with a replica in `region`: `(primary client, replica client, name, primary ARN, v1)`.
async fn replicated(prefix: &str, region_name: &str) -> (Client, Client, String, String, String) {
    let (client, name, arn, version) = secret(prefix, "v1").await;
    let req = client.replicate_secret_to_regions().secret_id(&name);
    ok(req.add_replica_regions(region(region_name)).send().await);
    (client, sm_in(region_name), name, arn, version)
}

/// Every change of the primary is on its replica when the call returns: values, labels,
/// description and tags.
#[tokio::test]
async fn primary_changes_reach_the_replica_at_once() {
    let (client, eu, name, _, v1) = replicated("repl-follow", "eu-west-1").await;
    let v2 = client.put_string(&name, "v2").await;
    assert_eq!(eu.value(&name).await, "v2");
    assert_eq!(stages_of(&eu, &name).await, stages_of(&client, &name).await);

    let req = client
        .update_secret()
        .secret_id(&name)
        .description("d2")
        .secret_string("v3");
    let v3 = ok(req.send().await).version_id.expect("VersionId");
    assert_eq!(eu.value(&name).await, "v3");
    assert_eq!(eu.describe(&name).await.description(), Some("d2"));

    let req = client
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .remove_from_version_id(&v3)
        .move_to_version_id(&v1);
    ok(req.send().await);
    assert_eq!(eu.value(&name).await, "v1");
    assert_eq!(
        stages_of(&eu, &name).await,
        stage_map(&[(&v1, &["AWSCURRENT"]), (&v3, &["AWSPREVIOUS"])])
    );
    let old = eu
        .get_secret_value()
        .secret_id(&name)
        .version_id(&v2)
        .send()
        .await;
    assert_eq!(
        ok(old).secret_string(),
        Some("v2"),
        "unlabelled versions stay readable"
    );

    ok(client
        .tag_resource()
        .secret_id(&name)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await);
    ok(client
        .untag_resource()
        .secret_id(&name)
        .tag_keys("a")
        .send()
        .await);
    assert_eq!(tag_pairs(eu.describe(&name).await.tags()), vec![("b", "2")]);
}

/// Writes to a replica are refused with AWS's error: they are made on the primary.
#[tokio::test]
async fn writes_to_a_replica_are_refused() {
    let (_, eu, name, _, v1) = replicated("repl-readonly", "eu-west-1").await;
    let refused = failed("InvalidParameterException", ON_REPLICA);
    let policy = json!({"Version": "2012-10-17", "Statement": []}).to_string();
    let outcomes = [
        (
            "PutSecretValue",
            outcome(
                eu.put_secret_value()
                    .secret_id(&name)
                    .secret_string("x")
                    .send()
                    .await,
            ),
        ),
        (
            "UpdateSecret",
            outcome(eu.update_secret().secret_id(&name).description("x").send().await),
        ),
        (
            "UpdateSecretVersionStage",
            outcome(
                eu.update_secret_version_stage()
                    .secret_id(&name)
                    .version_stage("extra")
                    .move_to_version_id(&v1)
                    .send()
                    .await,
            ),
        ),
        (
            "TagResource",
            outcome(
                eu.tag_resource()
                    .secret_id(&name)
                    .tags(tag("k", "v"))
                    .send()
                    .await,
            ),
        ),
        (
            "UntagResource",
            outcome(eu.untag_resource().secret_id(&name).tag_keys("k").send().await),
        ),
        (
            "DeleteSecret",
            outcome(eu.delete_secret().secret_id(&name).send().await),
        ),
        (
            "RestoreSecret",
            outcome(eu.restore_secret().secret_id(&name).send().await),
        ),
        (
            "RotateSecret",
            outcome(eu.rotate_secret().secret_id(&name).send().await),
        ),
        (
            "CancelRotateSecret",
            outcome(eu.cancel_rotate_secret().secret_id(&name).send().await),
        ),
        (
            "PutResourcePolicy",
            outcome(
                eu.put_resource_policy()
                    .secret_id(&name)
                    .resource_policy(&policy)
                    .send()
                    .await,
            ),
        ),
        (
            "DeleteResourcePolicy",
            outcome(eu.delete_resource_policy().secret_id(&name).send().await),
        ),
        (
            "ReplicateSecretToRegions",
            outcome(
                eu.replicate_secret_to_regions()
                    .secret_id(&name)
                    .add_replica_regions(region("ap-south-1"))
                    .send()
                    .await,
            ),
        ),
        (
            "RemoveRegionsFromReplication",
            outcome(
                eu.remove_regions_from_replication()
                    .secret_id(&name)
                    .remove_replica_regions(REGION)
                    .send()
                    .await,
            ),
        ),
    ];
    for (operation, got) in outcomes {
        assert_eq!(got, refused, "{operation}");
    }
    assert_eq!(eu.value(&name).await, "v1");
}

/// GetResourcePolicy is a read: a replica answers it with the primary's policy, and follows the
/// primary when the policy is deleted there.
#[tokio::test]
async fn a_replica_shows_the_primarys_resource_policy() {
    let (client, eu, name, arn, _) = replicated("repl-policy", "eu-west-1").await;
    let grant = principal_statement(
        "Allow",
        &root_arn(DEV_ACCOUNT),
        &["secretsmanager:GetSecretValue"],
    );
    let policy = policy_document(&[grant]);
    let put = client
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(&policy);
    ok(put.send().await);
    let got = ok(eu.get_resource_policy().secret_id(&name).send().await);
    assert_eq!(got.arn(), Some(replica_arn(&arn, "eu-west-1").as_str()));
    assert_eq!(got.name(), Some(name.as_str()));
    let shown: serde_json::Value =
        serde_json::from_str(got.resource_policy().expect("ResourcePolicy")).expect("JSON");
    let sent: serde_json::Value = serde_json::from_str(&policy).expect("JSON");
    assert_eq!(shown, sent);

    ok(client.delete_resource_policy().secret_id(&name).send().await);
    let got = ok(eu.get_resource_policy().secret_id(&name).send().await);
    assert!(got.resource_policy().is_none(), "{got:?}");
}

/// A primary with replicas can't be deleted until they are removed; RemoveRegionsFromReplication
/// deletes the replicas at once and lists the regions left.
#[tokio::test]
async fn replicas_are_removed_before_the_primary_is_deleted() {
    let (client, name, _, _) = secret("repl-remove", "v").await;
    let req = client.replicate_secret_to_regions().secret_id(&name);
    let req = req
        .add_replica_regions(region("eu-west-1"))
        .add_replica_regions(region("ap-south-1"));
    ok(req.send().await);
    let delete = client.delete_secret().secret_id(&name).send().await;
    assert_eq!(
        outcome(delete),
        failed(
            "InvalidParameterException",
            &format!("You can't delete secret {name} that still has replica regions [eu-west-1,ap-south-1]")
        )
    );
    let req = client.remove_regions_from_replication().secret_id(&name);
    let out = ok(req.remove_replica_regions("eu-west-1").send().await);
    assert_eq!(
        statuses(out.replication_status()),
        vec![in_sync("ap-south-1", "alias/aws/secretsmanager")]
    );
    let gone = sm_in("eu-west-1").describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(gone), "ResourceNotFoundException");
    assert_eq!(sm_in("ap-south-1").value(&name).await, "v");

    // Removing it again changes nothing and is no error.
    let req = client.remove_regions_from_replication().secret_id(&name);
    let again = ok(req.remove_replica_regions("eu-west-1").send().await);
    assert_eq!(
        statuses(again.replication_status()),
        vec![in_sync("ap-south-1", "alias/aws/secretsmanager")]
    );
    assert_eq!(sm_in("ap-south-1").value(&name).await, "v");
    let req = client.remove_regions_from_replication().secret_id(&name);
    let out = ok(req.remove_replica_regions("ap-south-1").send().await);
    assert!(out.replication_status().is_empty());
    let primary = client.describe(&name).await;
    assert_eq!(primary.primary_region(), None);
    ok(client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await);
}

/// StopReplicationToReplica, called in the replica's region, makes the replica a standalone
/// secret: writable, no PrimaryRegion, no longer following the primary, nor in its status.
#[tokio::test]
async fn stopping_replication_makes_the_replica_standalone() {
    let (client, eu, name, arn, _) = replicated("repl-stop", "eu-west-1").await;
    let out = ok(eu.stop_replication_to_replica().secret_id(&name).send().await);
    assert_eq!(out.arn(), Some(replica_arn(&arn, "eu-west-1").as_str()));
    let standalone = eu.describe(&name).await;
    assert_eq!(standalone.primary_region(), None);
    assert!(client.describe(&name).await.replication_status().is_empty());
    eu.put_string(&name, "own").await;
    client.put_string(&name, "primary").await;
    assert_eq!(eu.value(&name).await, "own");
    let not_replica = client.stop_replication_to_replica().secret_id(&name).send().await;
    assert_eq!(error_code(not_replica), "InvalidParameterException");
}

/// ListSecrets' `primary-region` filter: replicated secrets by their primary's region, in the
/// primary's region and in the replica's; a secret that isn't replicated has no primary region.
#[tokio::test]
async fn list_secrets_filters_by_primary_region() {
    use aws_sdk_secretsmanager::types::FilterNameStringType as Key;
    let prefix = format!("repl-list-{}", short_id());
    let client = sm();
    let name = format!("{prefix}/replicated");
    let req = client.create_secret().name(&name).secret_string("v");
    ok(req.add_replica_regions(region("eu-west-1")).send().await);
    client.create_string(&format!("{prefix}/alone"), "v").await;
    let listed = |c: Client, primary: &'static str| {
        let prefix = prefix.clone();
        async move {
            let req = c
                .list_secrets()
                .filters(name_filter(&prefix))
                .filters(filter(Key::PrimaryRegion, &[primary]));
            let out = ok(req.send().await);
            out.secret_list()
                .iter()
                .map(|e| {
                    (
                        e.name().unwrap_or_default().to_owned(),
                        e.primary_region().map(str::to_owned),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let expected = vec![(name.clone(), Some(REGION.to_owned()))];
    assert_eq!(listed(client.clone(), "us-east").await, expected);
    assert_eq!(listed(sm_in("eu-west-1"), REGION).await, expected);
    assert!(listed(sm_in("eu-west-1"), "eu-west-1").await.is_empty());
}

/// When KMS refuses the caller the replica's key for a later write of the primary, the primary's
/// write is made and that region's replication is `Failed` with Secrets Manager's KMS message; the
/// replica keeps its last value, and RemoveRegionsFromReplication still deletes it.
#[tokio::test]
async fn a_write_the_replica_key_refuses_fails_that_regions_replication() {
    let server = TestServer::start();
    let (key_id, key_arn) = server
        .kms_client_in("eu-west-3", &server.root_credentials())
        .new_key()
        .await;
    let prefix = format!("repl-kms-later-{}", short_id());
    let sm_statement = statement(
        "Allow",
        &["secretsmanager:*"],
        &[&secret_arn_pattern("*", &format!("{prefix}/*")).replacen(REGION, "*", 1)],
    );
    let kms = statement("Allow", &["kms:GenerateDataKey", "kms:Decrypt"], &[&key_arn]);
    let user = server
        .user(
            "repl-kms-later",
            Some(&policy_document(&[sm_statement.clone(), kms])),
        )
        .await;
    let app = user.sm();
    let name = format!("{prefix}/s");
    app.create_string(&name, "v1").await;
    let req = app.replicate_secret_to_regions().secret_id(&name);
    ok(req
        .add_replica_regions(region_under("eu-west-3", &key_id))
        .send()
        .await);

    let req = server.iam_client().put_user_policy().user_name(&user.name);
    let req = req
        .policy_name("inline")
        .policy_document(policy_document(&[sm_statement]));
    ok(req.send().await);
    app.put_string(&name, "v2").await;
    assert_eq!(app.value(&name).await, "v2");
    let failed = (
        "eu-west-3".to_owned(),
        key_id.clone(),
        StatusType::Failed,
        Some(KMS_DENIED.to_owned()),
    );
    assert_eq!(
        statuses(app.describe(&name).await.replication_status()),
        vec![failed]
    );
    let eu = sm_in("eu-west-3");
    assert_eq!(eu.value(&name).await, "v1");

    let req = app.remove_regions_from_replication().secret_id(&name);
    ok(req.remove_replica_regions("eu-west-3").send().await);
    let gone = eu.describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(gone), "ResourceNotFoundException");
}
