//! Errors outside a single operation's business logic: authentication (SigV4 through the SDK),
//! SecretId validation shared by every operation, and the operations this server doesn't support
//! yet (rotation, replication), which answer InvalidRequestException.

use std::time::Duration;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::{ReplicaRegionType, RotationRulesType, Tag};
use aws_smithy_async::time::SystemTimeSource;
use kinko_tests::{TestClock, TestServer, create_string_secret, dev_config, expect_err, unique_name};

const INVALID_NAME: &str = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

/// The server's manual clock, in whole epoch seconds.
fn server_secs(clock: &kinko_core::ManualClock) -> i64 {
    kinko_core::Clock::now(clock).millis().div_euclid(1000)
}

/// `YYYYMMDDTHHMMSSZ`, the X-Amz-Date format.
fn amz_date(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("format a date")
        .replace(['-', ':'], "")
}

#[tokio::test]
async fn wrong_secret_key_is_invalid_signature() {
    let server = TestServer::start();
    let client = server.client_with_credentials(server.access_key_id(), "not-the-secret");
    let e = expect_err!(client.list_secrets().send().await);
    assert_eq!(e.meta().code(), Some("InvalidSignatureException"), "{e:?}");
    assert!(
        e.message().is_some_and(|m| m.starts_with(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        )),
        "{e:?}"
    );
    // The right key still works.
    server
        .client()
        .list_secrets()
        .max_results(1)
        .send()
        .await
        .expect("ListSecrets with the right key");
}

#[tokio::test]
async fn unknown_access_key_is_unrecognized_client() {
    let server = TestServer::start();
    let client = server.client_with_credentials("AKIAUNKNOWNKEY000000", "whatever");
    let e = expect_err!(client.get_secret_value().secret_id(unique_name("x")).send().await);
    assert_eq!(e.meta().code(), Some("UnrecognizedClientException"), "{e:?}");
    assert_eq!(
        e.message(),
        Some("The security token included in the request is invalid.")
    );
}

#[tokio::test]
async fn failed_authentication_changes_nothing() {
    let server = TestServer::start();
    let name = unique_name("auth-nochange");
    let bad = server.client_with_credentials(server.access_key_id(), "not-the-secret");
    let e = expect_err!(bad.create_secret().name(&name).secret_string("v").send().await);
    assert_eq!(e.meta().code(), Some("InvalidSignatureException"), "{e:?}");
    let e = expect_err!(server.client().describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "nothing was created: {e:?}");
}

#[tokio::test]
async fn expired_signature_is_rejected() {
    // The server's clock is 10 minutes ahead of the client's (the system clock).
    let (clock, manual) = TestClock::manual();
    manual.advance(Duration::from_secs(600));
    let server = TestServer::start_with(dev_config(), clock).await;
    let stale = aws_sdk_secretsmanager::Client::from_conf(
        server
            .config_builder()
            .time_source(SystemTimeSource::new())
            .build(),
    );
    let e = expect_err!(stale.list_secrets().send().await);
    let message = e.message().unwrap_or_default().to_owned();
    assert!(message.starts_with("Signature expired:"), "{e:?}");
    assert_eq!(e.meta().code(), Some("InvalidSignatureException"), "{e:?}");
    // `Signature expired: <x-amz-date> is now earlier than <now - 5 min> (<now> - 5 min.)` [I].
    let server_now = server_secs(&manual);
    let rest = message.strip_prefix("Signature expired: ").expect("prefix");
    let (signed, rest) = rest.split_once(" is now earlier than ").expect("format");
    assert_eq!(signed.len(), 16, "{message}");
    let expected_rest = format!(
        "{} ({} - 5 min.)",
        amz_date(server_now - 300),
        amz_date(server_now)
    );
    assert_eq!(rest, expected_rest, "{message}");
    assert!(
        signed < amz_date(server_now - 300).as_str(),
        "signed at {signed}, before the window"
    );
    // Signing with the server's clock works.
    server
        .client()
        .list_secrets()
        .send()
        .await
        .expect("ListSecrets signed at the server's time");
    server.shutdown().await;
}

#[tokio::test]
async fn signature_from_the_future_is_rejected() {
    // The client's clock is 10 minutes ahead of the server's.
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let ahead = std::sync::Arc::new(kinko_core::ManualClock::new(
        kinko_core::Clock::now(manual.as_ref()).plus_millis(600_000),
    ));
    let client = aws_sdk_secretsmanager::Client::from_conf(
        server
            .config_builder()
            .time_source(kinko_tests::ManualTimeSource(ahead))
            .build(),
    );
    let e = expect_err!(client.list_secrets().send().await);
    assert_eq!(e.meta().code(), Some("InvalidSignatureException"), "{e:?}");
    // `Signature not yet current: <x-amz-date> is still later than <now + 5 min> (<now> + 5 min.)`.
    let server_now = server_secs(&manual);
    assert_eq!(
        e.message(),
        Some(
            format!(
                "Signature not yet current: {} is still later than {} ({} + 5 min.)",
                amz_date(server_now + 600),
                amz_date(server_now + 300),
                amz_date(server_now)
            )
            .as_str()
        ),
        "{e:?}"
    );
    // Within 5 minutes is fine.
    manual.advance(Duration::from_secs(360));
    client
        .list_secrets()
        .send()
        .await
        .expect("4 minutes of skew is tolerated");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// SecretId validation shared by every operation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_secret_id_characters_are_validation_errors_everywhere() {
    let client = TestServer::start().client();
    let bad = "bad name*";
    macro_rules! check {
        ($op:literal, $call:expr) => {{
            let e = expect_err!($call);
            assert_eq!(e.meta().code(), Some("ValidationException"), "{}: {e:?}", $op);
            assert_eq!(e.message(), Some(INVALID_NAME), "{}", $op);
        }};
    }
    check!(
        "DescribeSecret",
        client.describe_secret().secret_id(bad).send().await
    );
    check!(
        "GetSecretValue",
        client.get_secret_value().secret_id(bad).send().await
    );
    check!(
        "DeleteSecret",
        client
            .delete_secret()
            .secret_id(bad)
            .force_delete_without_recovery(true)
            .send()
            .await
    );
    check!(
        "ListSecretVersionIds",
        client.list_secret_version_ids().secret_id(bad).send().await
    );
    check!(
        "PutSecretValue",
        client
            .put_secret_value()
            .secret_id(bad)
            .secret_string("v")
            .send()
            .await
    );
    check!(
        "TagResource",
        client
            .tag_resource()
            .secret_id(bad)
            .tags(Tag::builder().key("k").value("v").build())
            .send()
            .await
    );
    check!(
        "UntagResource",
        client.untag_resource().secret_id(bad).tag_keys("k").send().await
    );
    check!(
        "UpdateSecret",
        client
            .update_secret()
            .secret_id(bad)
            .description("d")
            .send()
            .await
    );
    check!(
        "ValidateResourcePolicy",
        client
            .validate_resource_policy()
            .secret_id(bad)
            .resource_policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send()
            .await
    );
}

#[tokio::test]
async fn arn_secret_ids_skip_the_name_check() {
    // A SecretId starting with arn: is never a ValidationException, just not found.
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .describe_secret()
            .secret_id("arn:aws:secretsmanager:us-east-1:000000000000:secret:no such*thing")
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    // An ARN of another region or account doesn't reach this account's secret.
    let name = unique_name("arn-region");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    for other in [
        arn.replace(":us-east-1:", ":eu-west-1:"),
        arn.replace(":000000000000:", ":111111111111:"),
    ] {
        let e = expect_err!(client.get_secret_value().secret_id(&other).send().await);
        assert!(
            e.is_resource_not_found_exception() || e.meta().code() == Some("AccessDeniedException"),
            "{other}: {e:?}"
        );
    }
}

#[tokio::test]
async fn over_long_secret_id_is_validation_error() {
    let client = TestServer::start().client();
    let e = expect_err!(client.describe_secret().secret_id("a".repeat(2049)).send().await);
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let e = expect_err!(
        client
            .get_secret_value()
            .secret_id(unique_name("x"))
            .version_id("short")
            .send()
            .await
    );
    assert_eq!(
        e.meta().code(),
        Some("ValidationException"),
        "VersionId under 32: {e:?}"
    );
    let e = expect_err!(
        client
            .put_secret_value()
            .secret_id(unique_name("x"))
            .client_request_token("too-short")
            .secret_string("v")
            .send()
            .await
    );
    // The model constraint (32-64) gives a ValidationException; emulators answer
    // InvalidParameterException (reference §1, [E]). Either way the request is refused.
    assert!(
        matches!(
            e.meta().code(),
            Some("ValidationException" | "InvalidParameterException")
        ),
        "ClientRequestToken under 32: {e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rotation and replication: not supported yet, answered with InvalidRequestException
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rotation_operations_are_invalid_requests() {
    let client = TestServer::start().client();
    let name = unique_name("rotate");
    let (_, v1) = create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .rotate_secret()
            .secret_id(&name)
            .rotation_lambda_arn("arn:aws:lambda:us-east-1:000000000000:function:rotate")
            .rotation_rules(RotationRulesType::builder().automatically_after_days(1).build())
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "RotateSecret: {e:?}");
    let e = expect_err!(client.cancel_rotate_secret().secret_id(&name).send().await);
    assert!(e.is_invalid_request_exception(), "CancelRotateSecret: {e:?}");
    // Nothing changed.
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert!(d.rotation_enabled.is_none() && d.rotation_rules.is_none());
    assert_eq!(d.version_ids_to_stages.map(|m| m.len()), Some(1));
    assert!(kinko_tests::stages_of(&client, &name).await.contains_key(&v1));
}

#[tokio::test]
async fn replication_operations_are_invalid_requests() {
    let client = TestServer::start().client();
    let name = unique_name("replicate");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .replicate_secret_to_regions()
            .secret_id(&name)
            .add_replica_regions(ReplicaRegionType::builder().region("eu-west-1").build())
            .send()
            .await
    );
    assert!(
        e.is_invalid_request_exception(),
        "ReplicateSecretToRegions: {e:?}"
    );
    let e = expect_err!(
        client
            .remove_regions_from_replication()
            .secret_id(&name)
            .remove_replica_regions("eu-west-1")
            .send()
            .await
    );
    assert!(
        e.is_invalid_request_exception(),
        "RemoveRegionsFromReplication: {e:?}"
    );
    let e = expect_err!(client.stop_replication_to_replica().secret_id(&name).send().await);
    assert!(
        e.is_invalid_request_exception(),
        "StopReplicationToReplica: {e:?}"
    );

    let other = unique_name("replicate-create");
    let e = expect_err!(
        client
            .create_secret()
            .name(&other)
            .secret_string("v")
            .add_replica_regions(ReplicaRegionType::builder().region("eu-west-1").build())
            .send()
            .await
    );
    assert!(
        e.is_invalid_request_exception(),
        "CreateSecret with replicas: {e:?}"
    );
    let e = expect_err!(client.describe_secret().secret_id(&other).send().await);
    assert!(e.is_resource_not_found_exception(), "nothing was created: {e:?}");
}

// ---------------------------------------------------------------------------------------------
// Error shape on the wire
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn errors_are_http_400_with_type_and_message() {
    let client = TestServer::start().client();
    let r = client
        .get_secret_value()
        .secret_id(unique_name("missing"))
        .send()
        .await;
    let err = match r {
        Ok(out) => panic!("expected an error, got {out:?}"),
        Err(e) => e,
    };
    let raw = err.raw_response().expect("a raw HTTP response");
    assert_eq!(
        raw.status().as_u16(),
        400,
        "ResourceNotFoundException is a 400, not a 404"
    );
    assert_eq!(
        raw.headers().get("content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert!(
        raw.headers()
            .get("x-amzn-requestid")
            .is_some_and(|v| !v.is_empty())
    );
    let body: serde_json::Value =
        serde_json::from_slice(raw.body().bytes().expect("buffered body")).expect("JSON error body");
    let ty = body["__type"].as_str().unwrap_or_default();
    assert_eq!(ty.rsplit('#').next(), Some("ResourceNotFoundException"), "{body}");
    assert_eq!(
        body["Message"].as_str(),
        Some("Secrets Manager can't find the specified secret."),
        "modeled errors carry a capital-M Message: {body}"
    );
    let e = err.into_service_error();
    assert!(e.is_resource_not_found_exception());
}

#[tokio::test]
async fn successful_responses_carry_a_request_id() {
    use aws_sdk_secretsmanager::operation::RequestId;
    let client = TestServer::start().client();
    let out = client
        .get_random_password()
        .send()
        .await
        .expect("GetRandomPassword");
    assert!(out.request_id().is_some_and(|id| !id.is_empty()), "{out:?}");
    let e = expect_err!(
        client
            .describe_secret()
            .secret_id(unique_name("missing"))
            .send()
            .await
    );
    assert!(e.request_id().is_some_and(|id| !id.is_empty()), "{e:?}");
}
