//! What a signature must cover and how signature failures are answered, checked with requests an
//! SDK never sends: signed with AWS's own SigV4 signer (`aws-sigv4`) and sent over plain HTTP,
//! next to the SDK's own requests, which keep working.

use aws_sdk_secretsmanager::operation::RequestId;
use http::HeaderValue;
use kinko_tests::{RawResponse, Signing, TestServer, create_string_secret, unique_name};
use serde_json::{Value, json};

const JSON_1_1: &str = "application/x-amz-json-1.1";

/// AWS's answer to a request whose signature leaves out a header the service requires signed,
/// with the sentence it uses for `Host`.
const TARGET_NOT_SIGNED: &str = "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.";

fn error_of(resp: &RawResponse) -> (u16, String, String) {
    let body: Value = resp.json();
    let code = body["__type"].as_str().unwrap_or_default();
    let message = body["message"].as_str().or(body["Message"].as_str());
    (
        resp.status,
        code.rsplit('#').next().unwrap_or_default().to_owned(),
        message.unwrap_or_default().to_owned(),
    )
}

/// A DescribeSecret of `name` whose signature leaves `X-Amz-Target` out, sent with its target
/// changed to GetSecretValue: the replay an unsigned target would allow.
async fn replayed_as_get_secret_value(server: &TestServer, name: &str, how: Signing) -> RawResponse {
    let mut req = server.request(
        "POST",
        "/",
        &[
            ("content-type", JSON_1_1),
            ("x-amz-target", "secretsmanager.DescribeSecret"),
        ],
        json!({ "SecretId": name }).to_string(),
    );
    server.sign(&mut req, "secretsmanager", &server.root_credentials(), &how);
    req.headers_mut().insert(
        "x-amz-target",
        HeaderValue::from_static("secretsmanager.GetSecretValue"),
    );
    server.send(req).await
}

// AWS behaviour: a header the service requires to be signed but left out of `SignedHeaders` is
// refused with `InvalidSignatureException` (400) `'<Header>' must be a 'SignedHeader' in the AWS
// Authorization.`, before the operation runs; AWS SDKs always sign `X-Amz-Target`.
#[tokio::test]
async fn unsigned_target_is_refused() {
    let server = TestServer::start();
    let sm = server.client();
    let name = unique_name("signing/target");
    create_string_secret(&sm, &name, "value-behind-the-target").await;

    let header_form = replayed_as_get_secret_value(
        server,
        &name,
        Signing {
            unsigned_headers: vec!["x-amz-target"],
            ..Signing::default()
        },
    )
    .await;
    let presigned = replayed_as_get_secret_value(
        server,
        &name,
        Signing {
            unsigned_headers: vec!["x-amz-target"],
            presigned_for: Some(std::time::Duration::from_secs(300)),
            ..Signing::default()
        },
    )
    .await;
    for resp in [&header_form, &presigned] {
        assert_eq!(
            error_of(resp),
            (
                400,
                "InvalidSignatureException".to_owned(),
                TARGET_NOT_SIGNED.to_owned()
            ),
            "{}",
            resp.text()
        );
        assert!(!resp.text().contains("value-behind-the-target"));
    }

    // The same request with its target signed, as AWS's signer does by default, goes through.
    let mut req = server.request(
        "POST",
        "/",
        &[
            ("content-type", JSON_1_1),
            ("x-amz-target", "secretsmanager.DescribeSecret"),
        ],
        json!({ "SecretId": name }).to_string(),
    );
    server.sign(
        &mut req,
        "secretsmanager",
        &server.root_credentials(),
        &Signing::default(),
    );
    let resp = server.send(req).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["Name"], json!(name));

    // And so does the SDK.
    let got = sm
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("value-behind-the-target"));
    assert!(got.request_id().is_some());
}

// ---------------------------------------------------------------------------------------------
// Query protocol (IAM, STS): the parameters are exactly what was signed, each once

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// AWS's common Query-protocol error for a query that breaks its rules (`InvalidQueryParameter`,
/// 400, text of AWS's "Common Errors" reference for IAM and STS).
const INVALID_QUERY: (u16, &str, &str) = (
    400,
    "InvalidQueryParameter",
    "The AWS query string is malformed or does not adhere to AWS standards.",
);

fn query_error(resp: &RawResponse) -> (u16, String, String) {
    let (code, message) = resp.query_error();
    (resp.status, code, message)
}

fn is(resp: &RawResponse, (status, code, message): (u16, &str, &str)) {
    assert_eq!(
        query_error(resp),
        (status, code.to_owned(), message.to_owned()),
        "{}",
        resp.text()
    );
}

/// A Query request of `service`, its parameters in the form body, signed in the header form.
async fn signed_form(server: &TestServer, service: &str, path: &str, body: &str) -> RawResponse {
    let mut req = server.request("POST", path, &[("content-type", FORM)], body);
    server.sign(&mut req, service, &server.root_credentials(), &Signing::default());
    server.send(req).await
}

// AWS behaviour: a presigned request's parameters are its signed query string. A presigned
// GetCallerIdentity URL (the identity proof handed to third parties) may not become another
// action through a form body, even one the signature leaves out (`UNSIGNED-PAYLOAD`).
#[tokio::test]
async fn presigned_query_takes_no_form_parameters() {
    let server = TestServer::start();
    let url = "/?Action=GetCallerIdentity&Version=2011-06-15";
    let presign = |body: &str| {
        let mut req = server.request("POST", url, &[("content-type", FORM)], body);
        server.sign(
            &mut req,
            "sts",
            &server.root_credentials(),
            &Signing {
                presigned_for: Some(std::time::Duration::from_secs(300)),
                unsigned_payload: true,
                ..Signing::default()
            },
        );
        req
    };

    // Adding an action's parameters, or overriding the signed action.
    for body in ["DurationSeconds=900", "Action=GetSessionToken&Version=2011-06-15"] {
        let resp = server.send(presign(body)).await;
        is(&resp, INVALID_QUERY);
        assert!(!resp.text().contains("<Credentials>"), "{}", resp.text());
    }

    // The URL as signed, without a body, answers the caller's identity.
    let resp = server.send(presign("")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(
        resp.text().contains("<GetCallerIdentityResponse"),
        "{}",
        resp.text()
    );
}

// AWS behaviour: a Query request names each parameter once; a repeated `Action` (or any other
// parameter), in the body or across the URL and the body, is refused rather than resolved in
// favour of one of them.
#[tokio::test]
async fn repeated_query_parameters_are_refused() {
    let server = TestServer::start();
    for (service, path, body) in [
        (
            "sts",
            "/",
            "Action=GetCallerIdentity&Version=2011-06-15&Action=GetSessionToken",
        ),
        (
            "sts",
            "/?Action=GetSessionToken",
            "Action=GetCallerIdentity&Version=2011-06-15",
        ),
        (
            "iam",
            "/",
            "Action=ListUsers&Version=2010-05-08&MaxItems=1&MaxItems=2",
        ),
    ] {
        let resp = signed_form(server, service, path, body).await;
        is(&resp, INVALID_QUERY);
        assert!(!resp.text().contains("<Credentials>"), "{}", resp.text());
    }

    // Each parameter once, split between the URL and the body, is one request.
    let resp = signed_form(server, "sts", "/?Action=GetCallerIdentity", "Version=2011-06-15").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(
        resp.text().contains("<GetCallerIdentityResponse"),
        "{}",
        resp.text()
    );
    // And the SDK's requests are unaffected.
    server
        .sts_client()
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
}

// ---------------------------------------------------------------------------------------------
// Query protocol (IAM, STS): how signature failures are worded

fn hex_sha256(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn header<'a>(req: &'a http::Request<Vec<u8>>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

// AWS behaviour: STS (and the other Query services) answer a signature that doesn't match with
// `SignatureDoesNotMatch` (403), AWS's sentence, then the canonical request and string to sign it
// computed (boto/boto3#756 for STS, aws/aws-cli#5341 for SQS).
#[tokio::test]
async fn query_mismatch_shows_the_canonical_request() {
    let server = TestServer::start();
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut req = server.request("POST", "/", &[("content-type", FORM)], body);
    let wrong = kinko_tests::TestCredentials::long_term(server.access_key_id(), "not-the-secret");
    server.sign(&mut req, "sts", &wrong, &Signing::default());
    let date = header(&req, "x-amz-date").to_owned();
    let canonical = format!(
        "POST\n/\n\ncontent-type:{FORM}\nhost:{}\nx-amz-date:{date}\n\ncontent-type;host;x-amz-date\n{}",
        server.addr(),
        hex_sha256(body.as_bytes())
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{}/us-east-1/sts/aws4_request\n{}",
        &date[..8],
        hex_sha256(canonical.as_bytes())
    );
    let resp = server.send(req).await;
    assert_eq!(
        query_error(&resp),
        (
            403,
            "SignatureDoesNotMatch".to_owned(),
            format!(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.\n\nThe Canonical String for this request should have \
                 been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            )
        )
    );
}

// AWS behaviour: STS accepts a request dated up to 15 minutes from its clock, and words one
// outside that window `Signature expired: <date> is now earlier than <now - 15 min> (<now> - 15
// min.)` (aws/aws-cli#6676, GetCallerIdentity); Secrets Manager's window stays 5 minutes.
#[tokio::test]
async fn query_services_accept_fifteen_minutes_of_skew() {
    use aws_smithy_async::time::SystemTimeSource;

    // The server's clock is 10 minutes ahead of the client's (the system clock).
    let (clock, manual) = kinko_tests::TestClock::manual();
    manual.advance(std::time::Duration::from_secs(600));
    let server = TestServer::start_with(kinko_tests::dev_config(), clock).await;
    let creds = aws_credential_types::Credentials::new(
        server.access_key_id(),
        server.secret_access_key(),
        None,
        None,
        "signing",
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint_url())
            .region(aws_sdk_sts::config::Region::new(kinko_tests::REGION))
            .credentials_provider(creds)
            .time_source(SystemTimeSource::new())
            .disable_clock_skew_correction(true)
            .build(),
    );
    sts.get_caller_identity()
        .send()
        .await
        .expect("10 minutes of skew are within STS's window");
    let sm = aws_sdk_secretsmanager::Client::from_conf(
        server
            .config_builder()
            .time_source(SystemTimeSource::new())
            .build(),
    );
    let e = sm
        .list_secrets()
        .send()
        .await
        .expect_err("outside Secrets Manager's 5 minutes");
    assert!(format!("{e:?}").contains("InvalidSignatureException"), "{e:?}");

    // 16 minutes: refused, in STS's words.
    manual.advance(std::time::Duration::from_secs(360));
    let server_now = kinko_core::Clock::now(manual.as_ref()).millis().div_euclid(1000);
    let amz = |secs: i64| {
        aws_smithy_types::DateTime::from_secs(secs)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .expect("a date")
            .replace(['-', ':'], "")
    };
    let e = sts
        .get_caller_identity()
        .send()
        .await
        .expect_err("16 minutes of skew")
        .into_service_error();
    let message = aws_sdk_sts::error::ProvideErrorMetadata::message(&e).unwrap_or_default();
    let (signed, rest) = message
        .strip_prefix("Signature expired: ")
        .and_then(|m| m.split_once(" is now earlier than "))
        .unwrap_or_else(|| panic!("{e:?}"));
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&e),
        Some("SignatureDoesNotMatch")
    );
    assert_eq!(
        rest,
        format!("{} ({} - 15 min.)", amz(server_now - 900), amz(server_now)),
        "{message}"
    );
    assert!(signed < amz(server_now - 900).as_str(), "{message}");
    server.shutdown().await;
}
