//! What a signature must cover, checked with requests an SDK never sends: signed with AWS's own
//! SigV4 signer (`aws-sigv4`) and sent over plain HTTP, next to the SDK's own requests, which keep
//! working.

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
