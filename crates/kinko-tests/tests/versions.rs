//! Versions and staging labels: PutSecretValue, UpdateSecretVersionStage and ListSecretVersionIds,
//! including every label sequence recorded from real AWS (reference §5).

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_smithy_types::Blob;
use kinko_tests::{
    TestServer, create_string_secret, expect_err, labels, sorted, stages_of, token, unique_name,
};

const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";

/// PutSecretValue with a fresh token and optional stages; returns the new version id.
async fn put(client: &Client, name: &str, value: &str, stages: Option<&[&str]>) -> String {
    let v = token();
    let out = client
        .put_secret_value()
        .secret_id(name)
        .client_request_token(&v)
        .secret_string(value)
        .set_version_stages(stages.map(|s| s.iter().map(|x| (*x).to_owned()).collect()))
        .send()
        .await
        .expect("PutSecretValue");
    assert_eq!(out.version_id(), Some(v.as_str()));
    v
}

async fn move_stage(
    client: &Client,
    name: &str,
    stage: &str,
    remove_from: Option<&str>,
    move_to: Option<&str>,
) {
    let out = client
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage(stage)
        .set_remove_from_version_id(remove_from.map(str::to_owned))
        .set_move_to_version_id(move_to.map(str::to_owned))
        .send()
        .await
        .expect("UpdateSecretVersionStage");
    assert_eq!(out.name(), Some(name));
    assert!(out.arn().is_some_and(|a| a.contains(name)));
}

fn map(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    entries
        .iter()
        .map(|(id, st)| ((*id).to_owned(), labels(st)))
        .collect()
}

/// Version ids and labels from ListSecretVersionIds (deprecated ones have no `VersionStages`).
async fn listed(client: &Client, name: &str, include_deprecated: bool) -> Vec<(String, Option<Vec<String>>)> {
    let out = client
        .list_secret_version_ids()
        .secret_id(name)
        .include_deprecated(include_deprecated)
        .send()
        .await
        .expect("ListSecretVersionIds");
    out.versions
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            (
                v.version_id.unwrap_or_default(),
                v.version_stages.map(|s| sorted(&s)),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// PutSecretValue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_moves_current_to_previous_and_drops_older_labels() {
    // create(v1) -> put(v2) -> put(v3): v1 no labels, v2 AWSPREVIOUS, v3 AWSCURRENT [S].
    let client = TestServer::start().client();
    let name = unique_name("put-chain");
    let (arn, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = token();
    let out = client
        .put_secret_value()
        .secret_id(&arn)
        .client_request_token(&v2)
        .secret_string("two")
        .send()
        .await
        .expect("PutSecretValue");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert_eq!(out.version_stages(), ["AWSCURRENT"]);
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])])
    );
    let v3 = put(&client, &name, "three", None).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v2, &["AWSPREVIOUS"]), (&v3, &["AWSCURRENT"])]),
        "v1 lost every label and is hidden"
    );
    assert_eq!(
        listed(&client, &name, false).await,
        [
            (v2.clone(), Some(labels(&["AWSPREVIOUS"]))),
            (v3.clone(), Some(labels(&["AWSCURRENT"])))
        ]
    );
    assert_eq!(
        listed(&client, &name, true).await,
        [
            (v1.clone(), None),
            (v2.clone(), Some(labels(&["AWSPREVIOUS"]))),
            (v3.clone(), Some(labels(&["AWSCURRENT"])))
        ],
        "deprecated versions only with IncludeDeprecated, and without VersionStages"
    );
    for (stage, value) in [("AWSCURRENT", "three"), ("AWSPREVIOUS", "two")] {
        let got = client
            .get_secret_value()
            .secret_id(&name)
            .version_stage(stage)
            .send()
            .await
            .expect("GetSecretValue");
        assert_eq!(got.secret_string(), Some(value), "{stage}");
    }
}

#[tokio::test]
async fn put_pending_leaves_current_alone() {
    let client = TestServer::start().client();
    let name = unique_name("put-pending");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = token();
    let out = client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&v2)
        .secret_string("two")
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("PutSecretValue AWSPENDING");
    assert_eq!(out.version_stages(), ["AWSPENDING"]);
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])])
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("one"));
    let pending = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPENDING")
        .send()
        .await
        .expect("GetSecretValue AWSPENDING");
    assert_eq!(pending.secret_string(), Some("two"));
    assert_eq!(pending.version_stages(), ["AWSPENDING"]);
}

#[tokio::test]
async fn put_custom_label_sets_take_labels_from_older_versions() {
    // put(v2, [one,two,three]) then put(v3, [one,two,three,four]): v2 loses all labels [S].
    let client = TestServer::start().client();
    let name = unique_name("put-custom-all");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", Some(&["one", "two", "three"])).await;
    let v3 = put(&client, &name, "v3", Some(&["one", "two", "three", "four"])).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v3, &["four", "one", "three", "two"])])
    );
    assert!(listed(&client, &name, true).await.contains(&(v2, None)));

    // With put(v3, [one,two,four]) v2 keeps "three" [S].
    let name = unique_name("put-custom-some");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", Some(&["one", "two", "three"])).await;
    let v3 = put(&client, &name, "v3", Some(&["one", "two", "four"])).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[
            (&v1, &["AWSCURRENT"]),
            (&v2, &["three"]),
            (&v3, &["four", "one", "two"])
        ])
    );
    let three = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("three")
        .send()
        .await
        .expect("GetSecretValue by custom label");
    assert_eq!(three.secret_string(), Some("v2"));
}

#[tokio::test]
async fn first_version_of_an_empty_secret_is_always_current() {
    let client = TestServer::start().client();
    let name = unique_name("put-empty-pending");
    client
        .create_secret()
        .name(&name)
        .send()
        .await
        .expect("CreateSecret without value");
    let v1 = put(&client, &name, "v1", Some(&["AWSPENDING"])).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT", "AWSPENDING"])])
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("v1"));

    // UpdateSecret's value on an empty secret becomes AWSCURRENT too.
    let name = unique_name("update-empty");
    client
        .create_secret()
        .name(&name)
        .send()
        .await
        .expect("CreateSecret without value");
    let v = client
        .update_secret()
        .secret_id(&name)
        .secret_string("first")
        .send()
        .await
        .expect("UpdateSecret")
        .version_id
        .expect("VersionId");
    assert_eq!(stages_of(&client, &name).await, map(&[(&v, &["AWSCURRENT"])]));
}

#[tokio::test]
async fn list_secrets_hides_deprecated_versions() {
    let client = TestServer::start().client();
    let name = unique_name("put-listed");
    create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", None).await;
    let v3 = put(&client, &name, "v3", None).await;
    let out = client
        .list_secrets()
        .filters(
            aws_sdk_secretsmanager::types::Filter::builder()
                .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                .values(&name)
                .build(),
        )
        .send()
        .await
        .expect("ListSecrets");
    assert_eq!(out.secret_list().len(), 1);
    let listed: BTreeMap<String, Vec<String>> = out.secret_list()[0]
        .secret_versions_to_stages
        .clone()
        .expect("SecretVersionsToStages")
        .into_iter()
        .map(|(k, v)| (k, sorted(&v)))
        .collect();
    assert_eq!(listed, map(&[(&v2, &["AWSPREVIOUS"]), (&v3, &["AWSCURRENT"])]));
}

#[tokio::test]
async fn put_retry_with_same_token_is_idempotent() {
    let client = TestServer::start().client();
    let name = unique_name("put-idem");
    let (arn, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = token();
    for attempt in 0..2 {
        let out = client
            .put_secret_value()
            .secret_id(&name)
            .client_request_token(&v2)
            .secret_string("two")
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutSecretValue attempt {attempt}: {e:?}"));
        assert_eq!(out.version_id(), Some(v2.as_str()));
        assert_eq!(out.version_stages(), ["AWSCURRENT"]);
    }
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])]),
        "the retry changed nothing"
    );
    // Retrying the first version's token after it became AWSPREVIOUS: no-op, its labels returned.
    let out = client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&v1)
        .secret_string("one")
        .send()
        .await
        .expect("PutSecretValue retry of v1");
    assert_eq!(out.version_stages(), ["AWSPREVIOUS"]);
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])])
    );

    let e = expect_err!(
        client
            .put_secret_value()
            .secret_id(&name)
            .client_request_token(&v2)
            .secret_string("different")
            .send()
            .await
    );
    assert!(e.is_resource_exists_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            format!(
                "You can't use ClientRequestToken {v2} because that value is already in use for a version of secret {arn}."
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn put_binary_value_round_trips() {
    let client = TestServer::start().client();
    let name = unique_name("put-binary");
    create_string_secret(&client, &name, "string first").await;
    let bytes = vec![0u8, 159, 146, 150, 255];
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .expect("PutSecretValue binary");
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_binary().map(|b| b.as_ref()), Some(bytes.as_slice()));
    assert!(got.secret_string().is_none());
    let prev = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("GetSecretValue AWSPREVIOUS");
    assert_eq!(prev.secret_string(), Some("string first"));
}

#[tokio::test]
async fn put_without_value_is_invalid_request() {
    let client = TestServer::start().client();
    let name = unique_name("put-novalue");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(client.put_secret_value().secret_id(&name).send().await);
    assert!(e.is_invalid_request_exception(), "{e:?}");
    let e = expect_err!(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string("s")
            .secret_binary(Blob::new("b"))
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "both values: {e:?}");
    assert_eq!(stages_of(&client, &name).await.len(), 1, "nothing was added");
}

#[tokio::test]
async fn put_on_missing_or_scheduled_secret_fails() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .put_secret_value()
            .secret_id(unique_name("missing"))
            .secret_string("v")
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));

    let name = unique_name("put-deleted");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let e = expect_err!(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string("v2")
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
}

#[tokio::test]
async fn put_oversized_value_is_validation_error() {
    let client = TestServer::start().client();
    let name = unique_name("put-big");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string("x".repeat(65_537))
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    assert_eq!(stages_of(&client, &name).await.len(), 1, "nothing was added");
}

#[tokio::test]
async fn put_beyond_20_labels_is_limit_exceeded() {
    let client = TestServer::start().client();
    let name = unique_name("put-labels");
    let (_, v1) = create_string_secret(&client, &name, "v").await;
    let twenty: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
    let refs: Vec<&str> = twenty.iter().map(String::as_str).collect();
    let e = expect_err!(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string("v2")
            .set_version_stages(Some(twenty.clone()))
            .send()
            .await
    );
    assert!(e.is_limit_exceeded_exception(), "AWSCURRENT + 20 labels: {e:?}");
    assert_eq!(stages_of(&client, &name).await, map(&[(&v1, &["AWSCURRENT"])]));
    // 19 more fit.
    put(&client, &name, "v2", Some(&refs[..19])).await;
    assert_eq!(
        stages_of(&client, &name)
            .await
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        20
    );
}

// ---------------------------------------------------------------------------------------------
// UpdateSecretVersionStage — sequences recorded from real AWS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn stage_rotation_sequence_keeps_pending_on_new_current() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-rotation");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", Some(&["AWSPENDING"])).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])])
    );

    // update_stage(AWSCURRENT, remove v1, move v2): v1 [AWSPREVIOUS], v2 [AWSCURRENT, AWSPENDING].
    move_stage(&client, &name, "AWSCURRENT", Some(&v1), Some(&v2)).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT", "AWSPENDING"])])
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("v2"));
    assert_eq!(
        sorted(got.version_stages()),
        labels(&["AWSCURRENT", "AWSPENDING"])
    );

    // put(v3, [AWSPENDING]): AWSPENDING leaves v2.
    let v3 = put(&client, &name, "v3", Some(&["AWSPENDING"])).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[
            (&v1, &["AWSPREVIOUS"]),
            (&v2, &["AWSCURRENT"]),
            (&v3, &["AWSPENDING"])
        ])
    );

    // update_stage(AWSCURRENT, remove v2, move v3): v1 deprecated, v2 AWSPREVIOUS,
    // v3 [AWSCURRENT, AWSPENDING].
    move_stage(&client, &name, "AWSCURRENT", Some(&v2), Some(&v3)).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v2, &["AWSPREVIOUS"]), (&v3, &["AWSCURRENT", "AWSPENDING"])])
    );
    assert_eq!(
        listed(&client, &name, true).await,
        [
            (v1, None),
            (v2, Some(labels(&["AWSPREVIOUS"]))),
            (v3, Some(labels(&["AWSCURRENT", "AWSPENDING"])))
        ]
    );
}

#[tokio::test]
async fn stage_custom_labels_ride_along_with_current() {
    // put(v2, [AWSPENDING, AWSSOMETHING, PUT1]) then move AWSCURRENT to v2 [S].
    let client = TestServer::start().client();
    let name = unique_name("uvs-custom");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(
        &client,
        &name,
        "v2",
        Some(&["AWSPENDING", "AWSSOMETHING", "PUT1"]),
    )
    .await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[
            (&v1, &["AWSCURRENT"]),
            (&v2, &["AWSPENDING", "AWSSOMETHING", "PUT1"])
        ])
    );
    move_stage(&client, &name, "AWSCURRENT", Some(&v1), Some(&v2)).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[
            (&v1, &["AWSPREVIOUS"]),
            (&v2, &["AWSCURRENT", "AWSPENDING", "AWSSOMETHING", "PUT1"])
        ])
    );
}

#[tokio::test]
async fn stage_move_without_remove_from_is_invalid_parameter() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-removefrom");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", Some(&["AWSPENDING"])).await;
    let e = expect_err!(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("AWSCURRENT")
            .move_to_version_id(&v2)
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            format!(
                "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version {v1}, so you must explicitly reference that version in RemoveFromVersionId."
            )
            .as_str()
        )
    );
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]),
        "nothing moved"
    );
}

#[tokio::test]
async fn stage_remove_from_wrong_version_is_invalid_parameter() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-wrongholder");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", Some(&["AWSPENDING"])).await;
    let e = expect_err!(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("AWSCURRENT")
            .remove_from_version_id(&v2)
            .move_to_version_id(&v2)
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]),
        "nothing moved"
    );
}

/// AWSCURRENT can be moved, never just removed: AWS refuses a call that would leave a secret with
/// no current version (InvalidParameterException).
#[tokio::test]
async fn stage_removing_awscurrent_without_moving_it_is_invalid_parameter() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-removecurrent");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", Some(&["AWSPENDING"])).await;
    let e = expect_err!(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("AWSCURRENT")
            .remove_from_version_id(&v1)
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            "You can't remove the staging label AWSCURRENT from a version without moving it to another version with MoveToVersionId."
        )
    );
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]),
        "nothing moved"
    );
    let current = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("the secret still has a current value");
    assert_eq!(current.secret_string(), Some("v1"));
}

#[tokio::test]
async fn stage_removing_the_only_label_deprecates_the_version() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-deprecate");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", Some(&["custom"])).await;
    move_stage(&client, &name, "custom", Some(&v2), None).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"])]),
        "a version without labels is hidden from VersionIdsToStages"
    );
    assert_eq!(
        listed(&client, &name, false).await,
        [(v1.clone(), Some(labels(&["AWSCURRENT"])))]
    );
    assert_eq!(
        listed(&client, &name, true).await,
        [(v1.clone(), Some(labels(&["AWSCURRENT"]))), (v2.clone(), None)],
        "IncludeDeprecated shows it, without VersionStages"
    );
    // A new custom label needs no RemoveFromVersionId; it revives the version.
    move_stage(&client, &name, "revived", None, Some(&v2)).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v2, &["revived"])])
    );
}

#[tokio::test]
async fn stage_move_onto_current_holder_is_a_no_op() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-noop");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", None).await;
    move_stage(&client, &name, "AWSCURRENT", None, Some(&v2)).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])])
    );
}

#[tokio::test]
async fn stage_back_to_previous_version_swaps_current_and_previous() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-rollback");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", None).await;
    move_stage(&client, &name, "AWSCURRENT", Some(&v2), Some(&v1)).await;
    assert_eq!(
        stages_of(&client, &name).await,
        map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPREVIOUS"])])
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("v1"));
}

#[tokio::test]
async fn stage_errors_on_unknown_version_missing_and_scheduled_secret() {
    let client = TestServer::start().client();
    let name = unique_name("uvs-errors");
    let (_, v1) = create_string_secret(&client, &name, "v1").await;
    let e = expect_err!(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("custom")
            .move_to_version_id(token())
            .send()
            .await
    );
    assert!(
        e.is_invalid_parameter_exception() || e.is_resource_not_found_exception(),
        "unknown MoveToVersionId: {e:?}"
    );

    let e = expect_err!(
        client
            .update_secret_version_stage()
            .secret_id(unique_name("missing"))
            .version_stage("AWSCURRENT")
            .move_to_version_id(&v1)
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));

    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let e = expect_err!(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("custom")
            .move_to_version_id(&v1)
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
}

// ---------------------------------------------------------------------------------------------
// ListSecretVersionIds
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_versions_oldest_first_with_default_key() {
    let client = TestServer::start().client();
    let name = unique_name("lsv");
    let (arn, v1) = create_string_secret(&client, &name, "v1").await;
    let v2 = put(&client, &name, "v2", None).await;
    let v3 = put(&client, &name, "v3", Some(&["custom"])).await;
    let out = client
        .list_secret_version_ids()
        .secret_id(&name)
        .send()
        .await
        .expect("ListSecretVersionIds");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert!(out.next_token().is_none());
    let ids: Vec<&str> = out.versions().iter().filter_map(|v| v.version_id()).collect();
    assert_eq!(ids, [v1.as_str(), v2.as_str(), v3.as_str()], "oldest first");
    let mut last = None;
    for v in out.versions() {
        assert_eq!(v.kms_key_ids(), ["DefaultEncryptionKey"], "{v:?}");
        let created = v.created_date().expect("CreatedDate");
        if let Some(prev) = last {
            assert!(created >= prev, "CreatedDate ascending");
        }
        last = Some(created);
        assert!(v.last_accessed_date().is_none(), "never read");
    }
    assert_eq!(
        sorted(out.versions()[0].version_stages()),
        labels(&["AWSPREVIOUS"])
    );
    assert_eq!(
        sorted(out.versions()[1].version_stages()),
        labels(&["AWSCURRENT"])
    );
    assert_eq!(sorted(out.versions()[2].version_stages()), labels(&["custom"]));
}

#[tokio::test]
async fn list_versions_paginates() {
    let client = TestServer::start().client();
    let name = unique_name("lsv-pages");
    let (_, v1) = create_string_secret(&client, &name, "v").await;
    let mut expected = vec![v1];
    for i in 0..6 {
        let label = format!("label{i}");
        expected.push(put(&client, &name, "v", Some(&[label.as_str()])).await);
    }
    let mut seen = vec![];
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = client
            .list_secret_version_ids()
            .secret_id(&name)
            .max_results(3)
            .set_next_token(next.clone())
            .send()
            .await
            .expect("ListSecretVersionIds page");
        pages += 1;
        assert!(out.versions().len() <= 3);
        seen.extend(
            out.versions()
                .iter()
                .filter_map(|v| v.version_id().map(str::to_owned)),
        );
        next = out.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected, "every version exactly once, oldest first");
}

#[tokio::test]
async fn list_versions_of_missing_secret_is_not_found() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .list_secret_version_ids()
            .secret_id(unique_name("missing"))
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
}

#[tokio::test]
async fn list_versions_invalid_next_token() {
    let client = TestServer::start().client();
    let name = unique_name("lsv-token");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .list_secret_version_ids()
            .secret_id(&name)
            .next_token("not-a-token")
            .send()
            .await
    );
    assert!(e.is_invalid_next_token_exception(), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// Concurrent writers
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_all_land_without_losing_labels() {
    let client = TestServer::start().client();
    let name = unique_name("put-concurrent");
    let (_, v1) = create_string_secret(&client, &name, "v0").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let client = client.clone();
        let name = name.clone();
        tasks.spawn(async move {
            let v = token();
            client
                .put_secret_value()
                .secret_id(&name)
                .client_request_token(&v)
                .secret_string(format!("v{}", i + 1))
                .send()
                .await
                .unwrap_or_else(|e| panic!("concurrent PutSecretValue {i}: {e:?}"));
            v
        });
    }
    let mut written = vec![v1];
    while let Some(r) = tasks.join_next().await {
        written.push(r.expect("put task"));
    }
    let all = listed(&client, &name, true).await;
    let mut ids: Vec<String> = all.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    written.sort();
    assert_eq!(
        ids, written,
        "every concurrent put created its version, none lost"
    );
    let stages = stages_of(&client, &name).await;
    assert_eq!(
        stages.len(),
        2,
        "exactly one AWSCURRENT and one AWSPREVIOUS: {stages:?}"
    );
    let mut flat: Vec<&str> = stages.values().flatten().map(String::as_str).collect();
    flat.sort();
    assert_eq!(flat, ["AWSCURRENT", "AWSPREVIOUS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_make_one_secret() {
    let client = TestServer::start().client();
    let name = unique_name("create-race");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = client.clone();
        let name = name.clone();
        tasks.spawn(async move {
            client
                .create_secret()
                .name(&name)
                .secret_string(format!("v{i}"))
                .send()
                .await
                .map(|o| o.arn.unwrap_or_default())
                .map_err(|e| e.into_service_error())
        });
    }
    let mut arns = vec![];
    while let Some(r) = tasks.join_next().await {
        match r.expect("create task") {
            Ok(arn) => arns.push(arn),
            Err(e) => assert!(e.is_resource_exists_exception(), "{e:?}"),
        }
    }
    assert_eq!(arns.len(), 1, "exactly one CreateSecret wins: {arns:?}");
    let versions = listed(&client, &name, true).await;
    assert_eq!(versions.len(), 1, "{versions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tagging_loses_no_tag() {
    let client = TestServer::start().client();
    let name = unique_name("tag-race");
    create_string_secret(&client, &name, "v").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let client = client.clone();
        let name = name.clone();
        tasks.spawn(async move {
            client
                .tag_resource()
                .secret_id(&name)
                .tags(
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(format!("k{i}"))
                        .value(format!("{i}"))
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("concurrent TagResource {i}: {e:?}"));
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("tag task");
    }
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    let mut keys: Vec<&str> = d.tags().iter().filter_map(|t| t.key()).collect();
    keys.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
}
