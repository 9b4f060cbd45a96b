//! Errors outside a single operation's business logic: authentication (SigV4 through the SDK),
//! SecretId validation shared by every operation, the operations this server doesn't support yet
//! (replication), which answer InvalidRequestException, and the error shape on the wire.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::RequestId;
use aws_sdk_secretsmanager::types::RotationRulesType;
use aws_smithy_async::time::SystemTimeSource;
use kinko_core::{Clock, ManualClock};
use kinko_tests::*;

use crate::{secret, sm};

/// `YYYYMMDDTHHMMSSZ`, the X-Amz-Date format.
fn amz_date(secs: i64) -> String {
    let date = aws_smithy_types::DateTime::from_secs(secs);
    let formatted = date.fmt(aws_smithy_types::date_time::Format::DateTime);
    formatted.expect("format a date").replace(['-', ':'], "")
}

#[tokio::test]
async fn wrong_secret_key_is_invalid_signature() {
    let server = TestServer::start();
    let sm = server.client_with_credentials(server.access_key_id(), "not-the-secret");
    let e = expect_err!(sm.list_secrets().send().await);
    assert_eq!(e.code(), Some("InvalidSignatureException"), "{e:?}");
    let mismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
    assert!(e.message().is_some_and(|m| m.starts_with(mismatch)), "{e:?}");
    // The right key still works.
    ok(server.client().list_secrets().max_results(1).send().await);
}

#[tokio::test]
async fn unknown_access_key_is_unrecognized_client() {
    let server = TestServer::start();
    let sm = server.client_with_credentials("AKIAUNKNOWNKEY000000", "whatever");
    let out = sm.get_secret_value().secret_id(unique_name("x")).send().await;
    let message = "The security token included in the request is invalid.";
    assert_eq!(outcome(out), failed("UnrecognizedClientException", message));
}

#[tokio::test]
async fn failed_authentication_changes_nothing() {
    let server = TestServer::start();
    let name = unique_name("auth-nochange");
    let bad = server.client_with_credentials(server.access_key_id(), "not-the-secret");
    let out = bad.create_secret().name(&name).secret_string("v").send().await;
    assert_eq!(error_code(out), "InvalidSignatureException");
    let describe = server.client().describe_secret().secret_id(&name).send().await;
    assert_eq!(
        error_code(describe),
        "ResourceNotFoundException",
        "nothing was created"
    );
}

/// The server's clock is 10 minutes ahead of the sm's (the system clock):
/// `Signature expired: <x-amz-date> is now earlier than <now - 5 min> (<now> - 5 min.)` [I].
#[tokio::test]
async fn expired_signature_is_rejected() {
    let (server, manual) = TestServer::start_manual().await;
    manual.advance(Duration::from_secs(600));
    let stale = server
        .config_builder()
        .time_source(SystemTimeSource::new())
        .build();
    let e = expect_err!(Client::from_conf(stale).list_secrets().send().await);
    let message = e.message().unwrap_or_default().to_owned();
    assert!(message.starts_with("Signature expired:"), "{e:?}");
    assert_eq!(e.code(), Some("InvalidSignatureException"), "{e:?}");
    let server_now = server.now_secs();
    let rest = message.strip_prefix("Signature expired: ").expect("prefix");
    let (signed, rest) = rest.split_once(" is now earlier than ").expect("format");
    assert_eq!(signed.len(), 16, "{message}");
    let window = amz_date(server_now - 300);
    assert_eq!(
        rest,
        format!("{window} ({} - 5 min.)", amz_date(server_now)),
        "{message}"
    );
    assert!(signed < window.as_str(), "signed at {signed}, before the window");
    // Signing with the server's clock works.
    ok(server.client().list_secrets().send().await);
    server.shutdown().await;
}

/// The sm's clock is 10 minutes ahead of the server's:
/// `Signature not yet current: <x-amz-date> is still later than <now + 5 min> (<now> + 5 min.)`;
/// within 5 minutes is fine.
#[tokio::test]
async fn signature_from_the_future_is_rejected() {
    let (server, manual) = TestServer::start_manual().await;
    let ahead = Arc::new(ManualClock::new(manual.now().plus_millis(600_000)));
    let config = server
        .config_builder()
        .time_source(ManualTimeSource(ahead))
        .build();
    let sm = Client::from_conf(config);
    let server_now = server.now_secs();
    let message = format!(
        "Signature not yet current: {} is still later than {} ({} + 5 min.)",
        amz_date(server_now + 600),
        amz_date(server_now + 300),
        amz_date(server_now)
    );
    let out = sm.list_secrets().send().await;
    assert_eq!(outcome(out), failed("InvalidSignatureException", &message));
    manual.advance(Duration::from_secs(360));
    ok(sm.list_secrets().send().await);
    server.shutdown().await;
}

/// Every operation taking a SecretId refuses one with a character names can't have.
#[tokio::test]
async fn invalid_secret_id_characters_are_validation_errors_everywhere() {
    let c = sm();
    let bad = "bad name*";
    let empty_policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    let validate = c.validate_resource_policy().secret_id(bad);
    let delete = c.delete_secret().secret_id(bad);
    let put = c.put_secret_value().secret_id(bad).secret_string("v");
    let results = [
        (
            "DescribeSecret",
            outcome(c.describe_secret().secret_id(bad).send().await),
        ),
        (
            "GetSecretValue",
            outcome(c.get_secret_value().secret_id(bad).send().await),
        ),
        (
            "DeleteSecret",
            outcome(delete.force_delete_without_recovery(true).send().await),
        ),
        (
            "ListSecretVersionIds",
            outcome(c.list_secret_version_ids().secret_id(bad).send().await),
        ),
        ("PutSecretValue", outcome(put.send().await)),
        (
            "TagResource",
            outcome(c.tag_resource().secret_id(bad).tags(tag("k", "v")).send().await),
        ),
        (
            "UntagResource",
            outcome(c.untag_resource().secret_id(bad).tag_keys("k").send().await),
        ),
        (
            "UpdateSecret",
            outcome(c.update_secret().secret_id(bad).description("d").send().await),
        ),
        (
            "ValidateResourcePolicy",
            outcome(validate.resource_policy(empty_policy).send().await),
        ),
    ];
    for (operation, result) in results {
        assert_eq!(result, failed("ValidationException", INVALID_NAME), "{operation}");
    }
}

/// A SecretId starting with arn: is never a ValidationException, just not found; an ARN of
/// another region or account doesn't reach this account's secret.
#[tokio::test]
async fn arn_secret_ids_skip_the_name_check() {
    let sm = sm();
    let odd = "arn:aws:secretsmanager:us-east-1:000000000000:secret:no such*thing";
    let out = sm.describe_secret().secret_id(odd).send().await;
    assert_eq!(error_code(out), "ResourceNotFoundException");
    let name = unique_name("arn-region");
    let (arn, _) = sm.create_string(&name, "v").await;
    for other in [
        arn.replace(":us-east-1:", ":eu-west-1:"),
        arn.replace(":000000000000:", ":111111111111:"),
    ] {
        let code = error_code(sm.get_secret_value().secret_id(&other).send().await);
        let codes = ["ResourceNotFoundException", "AccessDeniedException"];
        assert!(codes.contains(&code.as_str()), "{other}: {code}");
    }
}

#[tokio::test]
async fn over_long_secret_id_is_validation_error() {
    let sm = sm();
    let long = sm.describe_secret().secret_id("a".repeat(2049)).send().await;
    assert_eq!(error_code(long), "ValidationException");
    let short = sm
        .get_secret_value()
        .secret_id(unique_name("x"))
        .version_id("short");
    assert_eq!(
        error_code(short.send().await),
        "ValidationException",
        "VersionId under 32"
    );
    let req = sm.put_secret_value().secret_id(unique_name("x"));
    let req = req.client_request_token("too-short").secret_string("v");
    let out = req.send().await;
    // The model constraint (32-64) gives a ValidationException; emulators answer
    // InvalidParameterException (reference §1, [E]). Either way the request is refused.
    let code = error_code(out);
    let codes = ["ValidationException", "InvalidParameterException"];
    assert!(
        codes.contains(&code.as_str()),
        "ClientRequestToken under 32: {code}"
    );
}

/// Rotation with a function that doesn't exist is AccessDenied, and CancelRotateSecret of a secret
/// never configured for rotation is InvalidRequest; neither changes anything (rotation itself is
/// tested in `rotation`).
#[tokio::test]
async fn rotation_without_a_function_changes_nothing() {
    let (sm, name, _, v1) = secret("rotate", "v").await;
    let lambda = "arn:aws:lambda:us-east-1:000000000000:function:rotate";
    let rules = RotationRulesType::builder().automatically_after_days(1).build();
    let rotate = sm.rotate_secret().secret_id(&name).rotation_lambda_arn(lambda);
    let rotate = rotate.rotation_rules(rules).send().await;
    assert_eq!(error_code(rotate), "AccessDeniedException", "RotateSecret");
    let cancel = sm.cancel_rotate_secret().secret_id(&name).send().await;
    assert_eq!(
        error_code(cancel),
        "InvalidRequestException",
        "CancelRotateSecret"
    );
    let d = sm.describe(&name).await;
    assert!(d.rotation_enabled.is_none() && d.rotation_rules.is_none());
    assert_eq!(d.version_ids_to_stages.map(|m| m.len()), Some(1));
    assert!(sm.stages(&name).await.contains_key(&v1));
}

/// HTTP 400 (not 404), JSON 1.1 with a request id, `__type` and a capital-M `Message`.
#[tokio::test]
async fn errors_are_http_400_with_type_and_message() {
    let sm = sm();
    let missing = unique_name("missing");
    let r = sm.get_secret_value().secret_id(missing).send().await;
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
    let body = raw.body().bytes().expect("buffered body");
    let body: serde_json::Value = serde_json::from_slice(body).expect("JSON error body");
    let ty = body["__type"].as_str().unwrap_or_default();
    assert_eq!(ty.rsplit('#').next(), Some("ResourceNotFoundException"), "{body}");
    assert_eq!(
        body["Message"].as_str(),
        Some(NOT_FOUND),
        "modeled errors carry a capital-M Message: {body}"
    );
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn successful_responses_carry_a_request_id() {
    let sm = sm();
    let out = ok(sm.get_random_password().send().await);
    assert!(out.request_id().is_some_and(|id| !id.is_empty()), "{out:?}");
    let missing = sm.describe_secret().secret_id(unique_name("missing"));
    let e = expect_err!(missing.send().await);
    assert!(e.request_id().is_some_and(|id| !id.is_empty()), "{e:?}");
}

/// An AccessDenied names the secret as the caller named it (AWS shows an unresolved `SecretId` as
/// passed, `on resource: settings`), so a caller without access gets the same text for a secret
/// that exists and one that doesn't, by name or by partial ARN, and learns neither existence nor
/// the ARN's random suffix.
#[tokio::test]
async fn access_denied_is_the_same_for_an_existing_and_a_missing_secret() {
    let server = TestServer::start();
    let (_, name, arn, _) = secret("denied-exists", "v").await;
    let missing = unique_name("denied-missing");
    let partial = |n: &str| format!("arn:aws:secretsmanager:us-east-1:{DEV_ACCOUNT}:secret:{n}");
    let nobody = server.user("nobody", None).await;
    let c = nobody.sm();
    for (existing, absent) in [
        (name.clone(), missing.clone()),
        (partial(&name), partial(&missing)),
    ] {
        for (action, [with_existing, with_absent]) in [
            (
                "GetSecretValue",
                [
                    outcome(c.get_secret_value().secret_id(&existing).send().await),
                    outcome(c.get_secret_value().secret_id(&absent).send().await),
                ],
            ),
            (
                "DescribeSecret",
                [
                    outcome(c.describe_secret().secret_id(&existing).send().await),
                    outcome(c.describe_secret().secret_id(&absent).send().await),
                ],
            ),
            (
                "PutSecretValue",
                [
                    outcome(
                        c.put_secret_value()
                            .secret_id(&existing)
                            .secret_string("x")
                            .send()
                            .await,
                    ),
                    outcome(
                        c.put_secret_value()
                            .secret_id(&absent)
                            .secret_string("x")
                            .send()
                            .await,
                    ),
                ],
            ),
            (
                "DeleteSecret",
                [
                    outcome(c.delete_secret().secret_id(&existing).send().await),
                    outcome(c.delete_secret().secret_id(&absent).send().await),
                ],
            ),
        ] {
            let action = format!("secretsmanager:{action}");
            assert_eq!(
                with_existing,
                failed(
                    "AccessDeniedException",
                    &no_identity_policy(&nobody.arn, &action, Some(&existing))
                ),
                "{action} on {existing}"
            );
            assert_eq!(
                with_absent,
                failed(
                    "AccessDeniedException",
                    &no_identity_policy(&nobody.arn, &action, Some(&absent))
                ),
                "{action} on {absent}"
            );
        }
    }
    // The full ARN, named as such, is shown as passed too.
    let out = c.get_secret_value().secret_id(&arn).send().await;
    let message = no_identity_policy(&nobody.arn, "secretsmanager:GetSecretValue", Some(&arn));
    assert_eq!(outcome(out), failed("AccessDeniedException", &message));
    // So is a name in BatchGetSecretValue's errors.
    let batch = ["secretsmanager:BatchGetSecretValue"];
    let batcher = server.user("batcher", Some(&allow(&batch, &["*"]))).await;
    let out = ok(batcher
        .sm()
        .batch_get_secret_value()
        .secret_id_list(&name)
        .secret_id_list(&missing)
        .send()
        .await);
    let messages: Vec<_> = out
        .errors()
        .iter()
        .map(|e| e.message().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<_> = [&name, &missing]
        .iter()
        .map(|n| no_identity_policy(&batcher.arn, "secretsmanager:GetSecretValue", Some(n)))
        .collect();
    assert_eq!(messages, expected);
}
