//! CreateSecret, GetSecretValue, BatchGetSecretValue, UpdateSecret and DescribeSecret against a
//! shared dev-mode server, through the official SDK.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_smithy_types::Blob;
use kinko_tests::{
    DEV_ACCOUNT, TestServer, arn_suffix, create_string_secret, expect_err, labels, now_secs, sorted,
    stages_of, token, unique_name,
};

const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";
const INVALID_NAME: &str = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

// ---------------------------------------------------------------------------------------------
// CreateSecret
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_string_secret_returns_arn_name_and_version() {
    let client = TestServer::start().client();
    let name = unique_name("create-string");
    let t = token();
    let out = client
        .create_secret()
        .name(&name)
        .client_request_token(&t)
        .secret_string("s3cr3t")
        .send()
        .await
        .expect("CreateSecret");
    let arn = out.arn().expect("ARN");
    arn_suffix(arn, DEV_ACCOUNT, &name);
    assert_eq!(out.name(), Some(name.as_str()));
    assert_eq!(
        out.version_id(),
        Some(t.as_str()),
        "VersionId is the ClientRequestToken"
    );

    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("s3cr3t"));
    assert!(got.secret_binary().is_none());
    assert_eq!(got.arn(), Some(arn));
    assert_eq!(got.name(), Some(name.as_str()));
    assert_eq!(got.version_id(), Some(t.as_str()));
    assert_eq!(got.version_stages(), ["AWSCURRENT"]);
    let created = got.created_date().expect("CreatedDate").secs();
    assert!(
        (created - now_secs()).abs() < 60,
        "CreatedDate {created} is not now"
    );
}

#[tokio::test]
async fn create_binary_secret_round_trips_every_byte() {
    let client = TestServer::start().client();
    let name = unique_name("create-binary");
    let bytes: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xfe]).collect();
    let out = client
        .create_secret()
        .name(&name)
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .expect("CreateSecret");
    assert!(out.version_id().is_some());
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_binary().map(|b| b.as_ref()), Some(bytes.as_slice()));
    assert!(got.secret_string().is_none());
}

#[tokio::test]
async fn create_without_value_has_no_version() {
    let client = TestServer::start().client();
    let name = unique_name("create-empty");
    let out = client
        .create_secret()
        .name(&name)
        .send()
        .await
        .expect("CreateSecret");
    assert!(out.version_id().is_none(), "no value, no VersionId: {out:?}");
    arn_suffix(out.arn().expect("ARN"), DEV_ACCOUNT, &name);

    let e = expect_err!(client.get_secret_value().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
    );

    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert!(d.version_ids_to_stages.is_none(), "{d:?}");
    let versions = client
        .list_secret_version_ids()
        .secret_id(&name)
        .include_deprecated(true)
        .send()
        .await
        .expect("ListSecretVersionIds");
    assert!(versions.versions().is_empty());

    // The first value put into an empty secret becomes AWSCURRENT.
    let put = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("first")
        .send()
        .await
        .expect("PutSecretValue");
    assert_eq!(put.version_stages(), ["AWSCURRENT"]);
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("first"));
}

#[tokio::test]
async fn create_with_description_and_tags() {
    let client = TestServer::start().client();
    let name = unique_name("create-meta");
    client
        .create_secret()
        .name(&name)
        .description("my description")
        .tags(tag("team", "core"))
        .tags(tag("env", "prod"))
        .tags(tag("empty", ""))
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(d.description(), Some("my description"));
    let tags: Vec<(&str, &str)> = d
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    assert_eq!(tags, [("team", "core"), ("env", "prod"), ("empty", "")]);
}

#[tokio::test]
async fn create_existing_name_is_resource_exists() {
    let client = TestServer::start().client();
    let name = unique_name("create-dup");
    create_string_secret(&client, &name, "one").await;
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .secret_string("two")
            .send()
            .await
    );
    assert!(e.is_resource_exists_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(format!("The operation failed because the secret {name} already exists.").as_str())
    );
    // Also without a value.
    let e = expect_err!(client.create_secret().name(&name).send().await);
    assert!(e.is_resource_exists_exception(), "{e:?}");
    // The original is untouched.
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("one"));
}

#[tokio::test]
async fn create_retry_with_same_token_and_value_is_idempotent() {
    let client = TestServer::start().client();
    let name = unique_name("create-idem");
    let t = token();
    let first = client
        .create_secret()
        .name(&name)
        .client_request_token(&t)
        .secret_string("same")
        .send()
        .await
        .expect("CreateSecret");
    let second = client
        .create_secret()
        .name(&name)
        .client_request_token(&t)
        .secret_string("same")
        .send()
        .await
        .expect("retried CreateSecret succeeds");
    assert_eq!(first.arn(), second.arn());
    assert_eq!(first.name(), second.name());
    assert_eq!(second.version_id(), Some(t.as_str()));
    let versions = client
        .list_secret_version_ids()
        .secret_id(&name)
        .include_deprecated(true)
        .send()
        .await
        .expect("ListSecretVersionIds");
    assert_eq!(versions.versions().len(), 1, "a retry creates no version");
}

#[tokio::test]
async fn create_same_token_different_value_is_resource_exists() {
    let client = TestServer::start().client();
    let name = unique_name("create-tokclash");
    let t = token();
    let first = client
        .create_secret()
        .name(&name)
        .client_request_token(&t)
        .secret_string("original")
        .send()
        .await
        .expect("CreateSecret");
    let arn = first.arn().expect("ARN");
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .client_request_token(&t)
            .secret_string("different")
            .send()
            .await
    );
    assert!(e.is_resource_exists_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            format!(
                "You can't use ClientRequestToken {t} because that value is already in use for a version of secret {arn}."
            )
            .as_str()
        )
    );
    // Same token, but now a binary value holding the same bytes: a different value too.
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .client_request_token(&t)
            .secret_binary(Blob::new("original"))
            .send()
            .await
    );
    assert!(e.is_resource_exists_exception(), "{e:?}");
}

#[tokio::test]
async fn create_name_scheduled_for_deletion_is_invalid_request() {
    let client = TestServer::start().client();
    let name = unique_name("create-scheduled");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .secret_string("again")
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            "You can't create this secret because a secret with this name is already scheduled for deletion."
        )
    );
}

#[tokio::test]
async fn create_with_invalid_name_characters_is_validation_error() {
    let client = TestServer::start().client();
    for bad in [
        "has space",
        "star*",
        "what?",
        "bra]cket",
        "back\\slash",
        "comma,",
        "héllo",
    ] {
        let name = format!("{}{bad}", unique_name("bad"));
        let e = expect_err!(client.create_secret().name(&name).secret_string("v").send().await);
        assert_eq!(e.meta().code(), Some("ValidationException"), "{name:?}: {e:?}");
        assert_eq!(e.message(), Some(INVALID_NAME), "{name:?}");
    }
    // Every allowed special character together is fine, and appears verbatim in the ARN.
    let name = format!("{}/_+=.@-Name", unique_name("Valid"));
    let out = client
        .create_secret()
        .name(&name)
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret with /_+=.@-");
    arn_suffix(out.arn().expect("ARN"), DEV_ACCOUNT, &name);
}

#[tokio::test]
async fn create_with_both_values_is_invalid_parameter() {
    let client = TestServer::start().client();
    let name = unique_name("create-both");
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .secret_string("s")
            .secret_binary(Blob::new("b"))
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    // AWS's text, as quoted in a 2018 report with a typographic apostrophe; accept either form.
    assert_eq!(
        e.message().map(|m| m.replace('\u{2019}', "'")).as_deref(),
        Some(
            "The request had invalid params: You can't specify both a binary secret value and a string secret value in the same secret."
        )
    );
    let e = expect_err!(client.describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "nothing was created: {e:?}");
}

#[tokio::test]
async fn create_with_oversized_value_is_validation_error_and_creates_nothing() {
    let client = TestServer::start().client();

    let name = unique_name("create-big");
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .secret_string("x".repeat(65_537))
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let e = expect_err!(client.describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "nothing was created: {e:?}");

    let name = unique_name("create-bigbin");
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .secret_binary(Blob::new(vec![7u8; 65_537]))
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let e = expect_err!(client.describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "nothing was created: {e:?}");

    // Exactly 65,536 bytes is allowed (multi-byte characters count as bytes).
    let name = unique_name("create-max");
    let value = "é".repeat(32_768);
    assert_eq!(value.len(), 65_536);
    create_string_secret(&client, &name, &value).await;
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some(value.as_str()));
    let name = unique_name("create-maxstr");
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .secret_string("é".repeat(32_769))
            .send()
            .await
    );
    assert_eq!(
        e.meta().code(),
        Some("ValidationException"),
        "65,538 bytes: {e:?}"
    );
}

#[tokio::test]
async fn create_name_length_limit_is_512() {
    let client = TestServer::start().client();
    let base = unique_name("len");
    let name512 = format!("{base}{}", "a".repeat(512 - base.len()));
    assert_eq!(name512.len(), 512);
    let out = client
        .create_secret()
        .name(&name512)
        .secret_string("v")
        .send()
        .await
        .expect("a 512-character name is accepted");
    assert_eq!(out.name(), Some(name512.as_str()));
    let got = client
        .get_secret_value()
        .secret_id(&name512)
        .send()
        .await
        .expect("GetSecretValue by the long name");
    assert_eq!(got.secret_string(), Some("v"));

    let name513 = format!("{base}{}", "b".repeat(513 - base.len()));
    let e = expect_err!(
        client
            .create_secret()
            .name(&name513)
            .secret_string("v")
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let e = expect_err!(client.create_secret().name("").send().await);
    assert_eq!(e.meta().code(), Some("ValidationException"), "empty name: {e:?}");
}

#[tokio::test]
async fn create_with_over_long_description_is_validation_error() {
    let client = TestServer::start().client();
    let name = unique_name("create-longdesc");
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .description("d".repeat(2049))
            .secret_string("v")
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let e = expect_err!(client.describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "nothing was created: {e:?}");
    client
        .create_secret()
        .name(&name)
        .description("d".repeat(2048))
        .secret_string("v")
        .send()
        .await
        .expect("a 2,048-character description is fine");
}

#[tokio::test]
async fn create_secrets_get_distinct_suffixes() {
    let client = TestServer::start().client();
    let mut suffixes = BTreeSet::new();
    for _ in 0..5 {
        let name = unique_name("suffix");
        let (arn, _) = create_string_secret(&client, &name, "v").await;
        suffixes.insert(arn_suffix(&arn, DEV_ACCOUNT, &name).to_owned());
    }
    assert_eq!(suffixes.len(), 5, "random suffixes: {suffixes:?}");
}

// ---------------------------------------------------------------------------------------------
// GetSecretValue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_by_name_full_arn_and_partial_arn() {
    let client = TestServer::start().client();
    let name = unique_name("get-ids");
    let (arn, v1) = create_string_secret(&client, &name, "value").await;
    let partial = &arn[..arn.len() - 7];
    assert!(partial.ends_with(&name));
    for id in [name.as_str(), arn.as_str(), partial] {
        let got = client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue({id}): {e:?}"));
        assert_eq!(got.secret_string(), Some("value"), "{id}");
        assert_eq!(got.arn(), Some(arn.as_str()), "{id}");
        assert_eq!(got.version_id(), Some(v1.as_str()), "{id}");
    }
    // A full ARN with the wrong suffix doesn't fall back to the name.
    let wrong = format!(
        "{partial}-{}",
        if arn.ends_with("AAAAAA") {
            "BBBBBB"
        } else {
            "AAAAAA"
        }
    );
    let e = expect_err!(client.get_secret_value().secret_id(&wrong).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
    // Names are case-sensitive.
    let e = expect_err!(
        client
            .get_secret_value()
            .secret_id(name.to_uppercase())
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn get_partial_arn_of_names_with_special_characters() {
    let client = TestServer::start().client();
    for name in [
        format!("{}/_+=.@-Name", unique_name("Valid")),
        format!("{}/_+=.@-Name-a1b2", unique_name("Valid")),
        format!("{}/_+=.@-Name-a1b2c3-", unique_name("Valid")),
    ] {
        let (arn, _) = create_string_secret(&client, &name, "v").await;
        let partial = &arn[..arn.len() - 7];
        let got = client
            .get_secret_value()
            .secret_id(partial)
            .send()
            .await
            .unwrap_or_else(|e| panic!("partial ARN of {name}: {e:?}"));
        assert_eq!(got.name(), Some(name.as_str()));
    }
}

#[tokio::test]
async fn get_partial_arn_of_name_ending_like_a_suffix_is_not_found() {
    // A name that ends in -XXXXXX makes its partial ARN look like a full one: no match [S].
    let client = TestServer::start().client();
    let name = format!("{}/_+=.@-Name-a1b2c3", unique_name("Invalid"));
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .get_secret_value()
            .secret_id(&arn[..arn.len() - 7])
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
    // By name and by full ARN it works.
    for id in [name.as_str(), arn.as_str()] {
        client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue({id}): {e:?}"));
    }
}

#[tokio::test]
async fn get_by_version_id_and_stage() {
    let client = TestServer::start().client();
    let name = unique_name("get-version");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = token();
    client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&v2)
        .secret_string("two")
        .send()
        .await
        .expect("PutSecretValue");

    let current = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("AWSCURRENT");
    assert_eq!(current.secret_string(), Some("two"));
    assert_eq!(current.version_id(), Some(v2.as_str()));
    assert_eq!(current.version_stages(), ["AWSCURRENT"]);

    let previous = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("AWSPREVIOUS");
    assert_eq!(previous.secret_string(), Some("one"));
    assert_eq!(previous.version_id(), Some(v1.as_str()));
    assert_eq!(previous.version_stages(), ["AWSPREVIOUS"]);

    let by_id = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&v1)
        .send()
        .await
        .expect("by VersionId");
    assert_eq!(by_id.secret_string(), Some("one"));

    let both = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&v2)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .expect("matching VersionId and VersionStage");
    assert_eq!(both.secret_string(), Some("two"));
}

#[tokio::test]
async fn get_with_mismatching_version_id_and_stage_is_invalid_request() {
    let client = TestServer::start().client();
    let name = unique_name("get-mismatch");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("two")
        .send()
        .await
        .expect("PutSecretValue");
    let e = expect_err!(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_id(&v1)
            .version_stage("AWSCURRENT")
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some("You provided a VersionStage that is not associated to the provided VersionId.")
    );
}

#[tokio::test]
async fn get_unknown_version_id_or_stage_is_not_found() {
    let client = TestServer::start().client();
    let name = unique_name("get-unknown");
    create_string_secret(&client, &name, "one").await;
    let missing = token();
    let e = expect_err!(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_id(&missing)
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            format!("Secrets Manager can't find the specified secret value for VersionId: {missing}")
                .as_str()
        )
    );
    let e = expect_err!(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_stage("AWSPENDING")
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(
        e.message(),
        Some("Secrets Manager can't find the specified secret value for staging label: AWSPENDING")
    );
}

#[tokio::test]
async fn get_missing_secret_is_not_found() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .get_secret_value()
            .secret_id(unique_name("missing"))
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
    assert_eq!(e.meta().code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn get_scheduled_for_deletion_is_invalid_request() {
    let client = TestServer::start().client();
    let name = unique_name("get-deleted");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("DeleteSecret");
    let e = expect_err!(client.get_secret_value().secret_id(&name).send().await);
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
}

// ---------------------------------------------------------------------------------------------
// BatchGetSecretValue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn batch_get_by_id_list_reports_missing_ids_in_errors() {
    let client = TestServer::start().client();
    let a = unique_name("batch-a");
    let b = unique_name("batch-b");
    let (a_arn, a_v) = create_string_secret(&client, &a, "va").await;
    create_string_secret(&client, &b, "vb").await;
    client
        .put_secret_value()
        .secret_id(&b)
        .secret_string("vb2")
        .send()
        .await
        .expect("PutSecretValue");
    let missing = unique_name("batch-missing");
    let out = client
        .batch_get_secret_value()
        .secret_id_list(&a_arn)
        .secret_id_list(&missing)
        .secret_id_list(&b)
        .send()
        .await
        .expect("BatchGetSecretValue");
    let values: Vec<(&str, &str)> = out
        .secret_values()
        .iter()
        .map(|v| {
            (
                v.name().unwrap_or_default(),
                v.secret_string().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        values,
        [(a.as_str(), "va"), (b.as_str(), "vb2")],
        "AWSCURRENT values"
    );
    let first = &out.secret_values()[0];
    assert_eq!(first.arn(), Some(a_arn.as_str()));
    assert_eq!(first.version_id(), Some(a_v.as_str()));
    assert_eq!(first.version_stages(), ["AWSCURRENT"]);
    assert!(first.created_date().is_some());

    let errors = out.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].secret_id(), Some(missing.as_str()));
    assert_eq!(errors[0].error_code(), Some("ResourceNotFoundException"));
    assert_eq!(errors[0].message(), Some(NOT_FOUND));
    assert!(out.next_token().is_none());
}

#[tokio::test]
async fn batch_get_reports_secret_scheduled_for_deletion_in_errors() {
    let client = TestServer::start().client();
    let live = unique_name("batch-live");
    let gone = unique_name("batch-gone");
    create_string_secret(&client, &live, "v").await;
    create_string_secret(&client, &gone, "v").await;
    client
        .delete_secret()
        .secret_id(&gone)
        .send()
        .await
        .expect("DeleteSecret");
    let out = client
        .batch_get_secret_value()
        .secret_id_list(&live)
        .secret_id_list(&gone)
        .send()
        .await
        .expect("BatchGetSecretValue");
    assert_eq!(out.secret_values().len(), 1);
    assert_eq!(out.secret_values()[0].name(), Some(live.as_str()));
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].secret_id(), Some(gone.as_str()));
    assert_eq!(out.errors()[0].error_code(), Some("InvalidRequestException"));
    assert_eq!(out.errors()[0].message(), Some(MARKED_FOR_DELETION));
}

#[tokio::test]
async fn batch_get_with_filters_paginates() {
    let client = TestServer::start().client();
    let prefix = unique_name("batchf");
    let mut expected = BTreeSet::new();
    for i in 0..5 {
        let name = format!("{prefix}/s{i}");
        create_string_secret(&client, &name, &format!("value-{i}")).await;
        expected.insert((name, format!("value-{i}")));
    }
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let out = client
            .batch_get_secret_value()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(format!("{prefix}/"))
                    .build(),
            )
            .max_results(2)
            .set_next_token(next.clone())
            .send()
            .await
            .expect("BatchGetSecretValue with filters");
        pages += 1;
        assert!(out.secret_values().len() <= 2, "MaxResults honoured");
        assert!(out.errors().is_empty(), "{:?}", out.errors());
        for v in out.secret_values() {
            assert_eq!(v.version_stages(), ["AWSCURRENT"]);
            let inserted = seen.insert((
                v.name().unwrap_or_default().to_owned(),
                v.secret_string().unwrap_or_default().to_owned(),
            ));
            assert!(inserted, "{v:?} returned twice");
        }
        next = out.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn batch_get_records_last_accessed_date() {
    let client = TestServer::start().client();
    let name = unique_name("batch-accessed");
    create_string_secret(&client, &name, "v").await;
    let out = client
        .batch_get_secret_value()
        .secret_id_list(&name)
        .send()
        .await
        .expect("BatchGetSecretValue");
    assert_eq!(out.secret_values().len(), 1);
    let mut accessed = None;
    for _ in 0..100 {
        let d = client
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .expect("DescribeSecret");
        if let Some(t) = d.last_accessed_date {
            accessed = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let accessed = accessed.expect("LastAccessedDate recorded within 2 s of BatchGetSecretValue");
    assert_eq!(accessed.secs() % 86_400, 0, "midnight UTC");
}

#[tokio::test]
async fn batch_get_limits() {
    let client = TestServer::start().client();
    let mut ids = client.batch_get_secret_value();
    for _ in 0..21 {
        ids = ids.secret_id_list(unique_name("x"));
    }
    let e = expect_err!(ids.send().await);
    assert_eq!(e.meta().code(), Some("ValidationException"), "21 ids: {e:?}");
    let e = expect_err!(
        client
            .batch_get_secret_value()
            .secret_id_list(unique_name("x"))
            .max_results(5)
            .send()
            .await
    );
    assert!(
        e.is_invalid_parameter_exception(),
        "MaxResults without Filters: {e:?}"
    );
}

#[tokio::test]
async fn batch_get_needs_exactly_one_of_id_list_and_filters() {
    let client = TestServer::start().client();
    let name = unique_name("batch-both");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .batch_get_secret_value()
            .secret_id_list(&name)
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(&name)
                    .build()
            )
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "both: {e:?}");
    let e = expect_err!(client.batch_get_secret_value().send().await);
    assert!(e.is_invalid_parameter_exception(), "neither: {e:?}");
}

// ---------------------------------------------------------------------------------------------
// UpdateSecret
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_description_only_creates_no_version() {
    let client = TestServer::start().client();
    let name = unique_name("update-desc");
    let (arn, v1) = create_string_secret(&client, &name, "v").await;
    let before = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    let out = client
        .update_secret()
        .secret_id(&name)
        .description("new description")
        .send()
        .await
        .expect("UpdateSecret");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert!(
        out.version_id().is_none(),
        "metadata-only update has no VersionId: {out:?}"
    );
    let after = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(after.description(), Some("new description"));
    assert_eq!(
        stages_of(&client, &name).await.into_iter().collect::<Vec<_>>(),
        [(v1, labels(&["AWSCURRENT"]))]
    );
    assert!(
        after.last_changed_date().expect("LastChangedDate") >= before.last_changed_date().expect("before")
    );
}

#[tokio::test]
async fn update_with_value_creates_new_current_version() {
    let client = TestServer::start().client();
    let name = unique_name("update-value");
    let (arn, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = token();
    let out = client
        .update_secret()
        .secret_id(&arn)
        .client_request_token(&v2)
        .secret_string("two")
        .description("d1")
        .send()
        .await
        .expect("UpdateSecret");
    assert_eq!(out.version_id(), Some(v2.as_str()));
    let stages = stages_of(&client, &name).await;
    assert_eq!(stages.get(&v1), Some(&labels(&["AWSPREVIOUS"])));
    assert_eq!(stages.get(&v2), Some(&labels(&["AWSCURRENT"])));
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("two"));

    // The same value again with a new token is still a new version.
    let v3 = token();
    let out = client
        .update_secret()
        .secret_id(&name)
        .client_request_token(&v3)
        .secret_string("two")
        .send()
        .await
        .expect("UpdateSecret");
    assert_eq!(out.version_id(), Some(v3.as_str()));
    let stages = stages_of(&client, &name).await;
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!(stages.get(&v2), Some(&labels(&["AWSPREVIOUS"])));
    assert_eq!(stages.get(&v3), Some(&labels(&["AWSCURRENT"])));

    // Binary values too.
    client
        .update_secret()
        .secret_id(&name)
        .secret_binary(Blob::new(vec![1u8, 2, 3]))
        .send()
        .await
        .expect("UpdateSecret binary");
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_binary().map(|b| b.as_ref()), Some(&[1u8, 2, 3][..]));
    assert!(got.secret_string().is_none());
}

#[tokio::test]
async fn update_with_default_kms_alias_is_accepted() {
    let client = TestServer::start().client();
    let name = unique_name("update-kms");
    create_string_secret(&client, &name, "one").await;
    client
        .update_secret()
        .secret_id(&name)
        .kms_key_id("alias/aws/secretsmanager")
        .secret_string("two")
        .send()
        .await
        .expect("UpdateSecret with KmsKeyId alias/aws/secretsmanager");
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("two"));
    let previous = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("the version sealed before the key change still opens");
    assert_eq!(previous.secret_string(), Some("one"));
}

#[tokio::test]
async fn update_retry_with_same_token_and_value_succeeds() {
    let client = TestServer::start().client();
    let name = unique_name("update-idem");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let t = token();
    for attempt in 0..2 {
        let out = client
            .update_secret()
            .secret_id(&name)
            .client_request_token(&t)
            .secret_string("two")
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateSecret attempt {attempt}: {e:?}"));
        assert_eq!(out.version_id(), Some(t.as_str()));
    }
    let stages = stages_of(&client, &name).await;
    assert_eq!(stages.get(&v1), Some(&labels(&["AWSPREVIOUS"])));
    assert_eq!(stages.get(&t), Some(&labels(&["AWSCURRENT"])));
    let all = client
        .list_secret_version_ids()
        .secret_id(&name)
        .include_deprecated(true)
        .send()
        .await
        .expect("ListSecretVersionIds");
    assert_eq!(all.versions().len(), 2, "the retry made no new version");

    let e = expect_err!(
        client
            .update_secret()
            .secret_id(&name)
            .client_request_token(&t)
            .secret_string("three")
            .send()
            .await
    );
    assert!(e.is_resource_exists_exception(), "{e:?}");
    let arn = all.arn().expect("ARN");
    assert_eq!(
        e.message(),
        Some(
            format!(
                "You can't use ClientRequestToken {t} because that value is already in use for a version of secret {arn}."
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn update_missing_or_scheduled_secret_fails() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .update_secret()
            .secret_id(unique_name("missing"))
            .description("x")
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));

    let name = unique_name("update-deleted");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let e = expect_err!(
        client
            .update_secret()
            .secret_id(&name)
            .secret_string("new")
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
    let e = expect_err!(
        client
            .update_secret()
            .secret_id(&name)
            .description("new")
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
}

// ---------------------------------------------------------------------------------------------
// DescribeSecret
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn describe_returns_metadata_and_omits_unset_fields() {
    let client = TestServer::start().client();
    let name = unique_name("describe");
    let t = token();
    let created = client
        .create_secret()
        .name(&name)
        .client_request_token(&t)
        .description("MyDescription")
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(d.arn(), created.arn());
    assert_eq!(d.name(), Some(name.as_str()));
    assert_eq!(d.description(), Some("MyDescription"));
    let created_date = d.created_date().expect("CreatedDate").secs();
    assert!((created_date - now_secs()).abs() < 60);
    assert!(d.last_changed_date().is_some());
    let map = d.version_ids_to_stages.clone().expect("VersionIdsToStages");
    assert_eq!(map.len(), 1);
    assert_eq!(map.get(&t).map(|s| sorted(s)), Some(labels(&["AWSCURRENT"])));
    assert!(d.kms_key_id.is_none(), "AWS managed key is omitted");
    assert!(d.tags.is_none(), "never tagged: Tags omitted");
    assert!(d.last_accessed_date.is_none(), "never read");
    assert!(d.deleted_date.is_none(), "not scheduled for deletion");
    assert!(d.rotation_enabled.is_none() && d.rotation_rules.is_none() && d.rotation_lambda_arn.is_none());
    assert!(d.primary_region.is_none(), "not replicated");
    assert!(d.replication_status.is_none());
    assert!(d.owning_service.is_none());

    // Also by full and partial ARN.
    let arn = created.arn().expect("ARN");
    for id in [arn, &arn[..arn.len() - 7]] {
        let d = client
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeSecret({id}): {e:?}"));
        assert_eq!(d.name(), Some(name.as_str()));
    }
}

#[tokio::test]
async fn describe_omits_empty_description() {
    let client = TestServer::start().client();
    let name = unique_name("describe-nodesc");
    client
        .create_secret()
        .name(&name)
        .description("")
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert!(d.description.is_none(), "{d:?}");
}

#[tokio::test]
async fn describe_shows_empty_tags_after_all_were_removed() {
    let client = TestServer::start().client();
    let name = unique_name("describe-tags");
    client
        .create_secret()
        .name(&name)
        .tags(tag("a", "1"))
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    client
        .untag_resource()
        .secret_id(&name)
        .tag_keys("a")
        .send()
        .await
        .expect("UntagResource");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(d.tags, Some(vec![]), "Tags: [] after removing every tag");
}

#[tokio::test]
async fn describe_shows_deleted_date_when_scheduled() {
    let client = TestServer::start().client();
    let name = unique_name("describe-deleted");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret works on a secret scheduled for deletion");
    let deleted = d.deleted_date().expect("DeletedDate").secs();
    assert!(
        (deleted - now_secs()).abs() < 60,
        "DeletedDate {deleted} is the time of the call"
    );
}

#[tokio::test]
async fn describe_shows_last_accessed_date_at_midnight_utc_after_a_read() {
    let client = TestServer::start().client();
    let name = unique_name("describe-accessed");
    create_string_secret(&client, &name, "v").await;
    let day_before = now_secs().div_euclid(86_400) * 86_400;
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    // Recorded in the background after the read: poll, bounded.
    let mut accessed = None;
    for _ in 0..100 {
        let d = client
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .expect("DescribeSecret");
        if let Some(t) = d.last_accessed_date {
            accessed = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let accessed = accessed.expect("LastAccessedDate recorded within 2 s of GetSecretValue");
    let day_after = now_secs().div_euclid(86_400) * 86_400;
    assert_eq!(accessed.subsec_nanos(), 0, "day resolution: {accessed:?}");
    assert!(
        accessed.secs() == day_before || accessed.secs() == day_after,
        "LastAccessedDate {} is midnight UTC of today ({day_after})",
        accessed.secs()
    );
    // The version's LastAccessedDate too.
    let versions = client
        .list_secret_version_ids()
        .secret_id(&name)
        .send()
        .await
        .expect("ListSecretVersionIds");
    let v = versions.versions().first().expect("one version");
    let vd = v.last_accessed_date().expect("version LastAccessedDate");
    assert_eq!(vd.secs() % 86_400, 0, "version LastAccessedDate at midnight");
}

#[tokio::test]
async fn describe_missing_secret_is_not_found() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .describe_secret()
            .secret_id(unique_name("missing"))
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
}
