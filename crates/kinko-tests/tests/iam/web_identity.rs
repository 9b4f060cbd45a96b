//! Web identity: OpenID Connect providers in IAM, and AssumeRoleWithWebIdentity, unsigned, with
//! tokens the tests sign with their own keys (ES256, generated per test binary). A token is only
//! accepted with a valid signature under the issuer's key set, for an audience of the provider,
//! before its expiry, and as the role's trust policy allows on its claims; the credentials then
//! read what the role allows and nothing else.

use std::sync::OnceLock;

use aws_sdk_iam::types::Tag;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kinko_tests::oidc::Key;
use serde_json::{Value, json};

use super::*;

/// The issuer the server knows the key set of (without `https://`, as IAM names providers).
const ISSUER: &str = "oidc.kinko-tests.example/ci";
const AUDIENCE: &str = "sts.amazonaws.com";

/// The server trusting [`ISSUER`]'s key set (keys `a` and `b`), and a key it doesn't know.
struct Fixture {
    server: &'static TestServer,
    a: Key,
    b: Key,
    unknown: Key,
    _dir: tempfile::TempDir,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();
static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let (a, b, unknown) = (Key::generate("a"), Key::generate("b"), Key::generate("c"));
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jwks.json");
        let set = json!({"keys": [a.jwk, b.jwk]});
        std::fs::write(&path, set.to_string()).expect("write the key set");
        let server = TestServer::start_shared_with(&SERVER, |c| {
            c.oidc_jwks = vec![(format!("https://{ISSUER}"), path.display().to_string())];
        });
        Fixture {
            server,
            a,
            b,
            unknown,
            _dir: dir,
        }
    })
}

fn provider_arn() -> String {
    format!("arn:aws:iam::{DEV_ACCOUNT}:oidc-provider/{ISSUER}")
}

/// The provider for [`ISSUER`], created once.
async fn provider(server: &TestServer) -> String {
    let iam = server.iam_client();
    let created = iam
        .create_open_id_connect_provider()
        .url(format!("https://{ISSUER}"))
        .client_id_list(AUDIENCE)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) => assert_eq!(e.into_service_error().code(), Some("EntityAlreadyExists")),
    }
    provider_arn()
}

/// Claims for `sub`, valid for ten minutes from the server's now.
fn claims(server: &TestServer, sub: &str) -> Value {
    let now = server.now_secs();
    json!({
        "iss": format!("https://{ISSUER}"), "sub": sub, "aud": AUDIENCE,
        "iat": now, "nbf": now - 5, "exp": now + 600, "amr": ["ci"],
    })
}

/// A role trusting the provider for subjects like `sub_pattern`, allowed to read secrets named
/// `allowed-*`; returns its ARN.
async fn role_for(server: &TestServer, name: &str, sub_pattern: &str, allowed: &str) -> String {
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"Federated": provider(server).await},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {format!("{ISSUER}:aud"): AUDIENCE},
            "StringLike": {format!("{ISSUER}:sub"): sub_pattern},
        },
    })]);
    let policy = allow(
        &["secretsmanager:GetSecretValue"],
        &[&secret_pattern(&format!("{allowed}*"))],
    );
    server.role(name, &trust, Some(&policy)).await
}

/// An STS client with no credentials at all: AssumeRoleWithWebIdentity goes out unsigned.
fn anonymous_sts(server: &TestServer) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint_url())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .build(),
    )
}

async fn assume(
    server: &TestServer,
    role: &str,
    token: &str,
) -> Result<
    aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
    aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError,
    >,
> {
    anonymous_sts(server)
        .assume_role_with_web_identity()
        .role_arn(role)
        .role_session_name("ci-job")
        .web_identity_token(token)
        .send()
        .await
}

#[tokio::test]
async fn a_web_identity_reads_what_its_role_allows_and_nothing_else() {
    let f = fixture();
    let server = f.server;
    let p = short_id();
    let allowed = format!("allowed-{p}/db");
    let other = format!("other-{p}/db");
    let client = server.client();
    client.create_string(&allowed, "s3cret").await;
    client.create_string(&other, "not yours").await;
    let role_name = format!("ci-{p}");
    let role = role_for(server, &role_name, "repo:org/app:*", &format!("allowed-{p}/")).await;

    let sub = "repo:org/app:ref:refs/heads/main";
    let out = ok(assume(server, &role, &f.a.sign(&claims(server, sub))).await);
    assert_eq!(out.subject_from_web_identity_token.as_deref(), Some(sub));
    assert_eq!(out.audience.as_deref(), Some(AUDIENCE));
    assert_eq!(
        out.provider.as_deref(),
        Some(format!("https://{ISSUER}").as_str())
    );
    let session_arn = format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/ci-job");
    let user = out.assumed_role_user.expect("AssumedRoleUser");
    assert_eq!(user.arn, session_arn);
    let creds = TestCredentials::from(out.credentials.as_ref().expect("Credentials"));
    assert!(creds.access_key_id.starts_with("ASIA"));

    let sm = server.client_as(&creds);
    let value = ok(sm.get_secret_value().secret_id(&allowed).send().await);
    assert_eq!(value.secret_string.as_deref(), Some("s3cret"));
    assert_eq!(
        outcome(sm.get_secret_value().secret_id(&other).send().await),
        // Named as the caller named it (AWS doesn't tell whether it exists).
        read_denied(&session_arn, &other, Denial::NoIdentityPolicy)
    );
    let me = ok(server.sts_client_as(&creds).get_caller_identity().send().await);
    assert_eq!(me.arn.as_deref(), Some(session_arn.as_str()));
}

#[tokio::test]
async fn bad_tokens_are_refused_with_aws_errors() {
    let f = fixture();
    let server = f.server;
    let p = short_id();
    let role = role_for(server, &format!("ci-bad-{p}"), "repo:org/app:*", "nothing-").await;
    let good = claims(server, "repo:org/app:ref:refs/heads/main");
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let now = server.now_secs();
    let signed = f.a.sign(&good);
    let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
    // The payload of another token: the signature no longer matches.
    parts[1] =
        f.a.sign(&with("sub", json!("repo:org/other:ref:x")))
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
    let tampered = parts.join(".");
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let no_key = "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements";
    let bad_signature = "The signature of the web identity token could not be verified.";
    let not_jwt =
        "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)";
    let cases: Vec<(&str, String, Outcome)> = vec![
        (
            "tampered payload",
            tampered,
            failed("InvalidIdentityToken", bad_signature),
        ),
        // Signed with key a, naming key b: b's key doesn't verify it.
        (
            "key id swap",
            f.a.sign_as("b", &good),
            failed("InvalidIdentityToken", bad_signature),
        ),
        (
            "key not in the key set",
            f.unknown.sign(&good),
            failed("InvalidIdentityToken", no_key),
        ),
        ("alg none", none, failed("InvalidIdentityToken", not_jwt)),
        (
            "not a JWT",
            "not-a-token".into(),
            failed("InvalidIdentityToken", not_jwt),
        ),
        (
            "wrong audience",
            f.a.sign(&with("aud", json!("someone-else"))),
            failed("InvalidIdentityToken", "Incorrect token audience"),
        ),
        (
            "expired",
            f.a.sign(&with("exp", json!(now - 60))),
            failed(
                "ExpiredTokenException",
                &format!(
                    "Token expired: current date/time {now} must be before the expiration date/time{}",
                    now - 60
                ),
            ),
        ),
        (
            "unknown issuer",
            f.a.sign(&with("iss", json!("https://elsewhere.example"))),
            failed(
                "InvalidIdentityToken",
                "No OpenIDConnect provider found in your account for https://elsewhere.example",
            ),
        ),
        (
            "subject the trust policy doesn't allow",
            f.b.sign(&with("sub", json!("repo:org/other:ref:x"))),
            failed(
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            ),
        ),
    ];
    for (what, token, expected) in cases {
        let got = outcome(assume(server, &role, &token).await);
        // The clock may tick between signing and checking: compare the expiry message loosely.
        if what == "expired" {
            let Err(failure) = &got else {
                panic!("{what}: accepted")
            };
            assert_eq!(failure.code, "ExpiredTokenException", "{what}");
            assert!(
                failure
                    .message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Token expired: current date/time ")
                        && m.ends_with(&format!("must be before the expiration date/time{}", now - 60))),
                "{what}: {failure:?}"
            );
            continue;
        }
        assert_eq!(got, expected, "{what}");
    }
    // The second key of the key set works as well as the first.
    ok(assume(server, &role, &f.b.sign(&good)).await);
}

#[tokio::test]
async fn a_role_that_does_not_trust_the_provider_is_not_assumed() {
    let f = fixture();
    let server = f.server;
    provider(server).await;
    let role = server
        .role(&format!("plain-{}", short_id()), &trust_account(), None)
        .await;
    let token = f.a.sign(&claims(server, "repo:org/app:ref:x"));
    assert_eq!(
        outcome(assume(server, &role, &token).await),
        failed(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity"
        )
    );
}

#[tokio::test]
async fn openid_connect_providers_are_managed_as_in_iam() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let host = format!("idp-{}.example.com", short_id());
    let url = format!("https://{host}/tenant");
    let arn = format!("arn:aws:iam::{DEV_ACCOUNT}:oidc-provider/{host}/tenant");
    let thumb = "a".repeat(40);
    let created = ok(iam
        .create_open_id_connect_provider()
        .url(&url)
        .client_id_list("app-1")
        .thumbprint_list(&thumb)
        .tags(Tag::builder().key("team").value("ci").build().expect("tag"))
        .send()
        .await);
    assert_eq!(
        created.open_id_connect_provider_arn.as_deref(),
        Some(arn.as_str())
    );
    let again = iam
        .create_open_id_connect_provider()
        .url(&url)
        .client_id_list("x");
    assert_eq!(
        outcome(again.send().await),
        failed(
            "EntityAlreadyExists",
            &format!("Provider with url {url} already exists.")
        )
    );
    ok(iam
        .add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("app-2")
        .send()
        .await);
    ok(iam
        .remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("app-1")
        .send()
        .await);
    let other = "b".repeat(40);
    ok(iam
        .update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list(&other)
        .send()
        .await);
    let got = ok(iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await);
    assert_eq!(got.url.as_deref(), Some(format!("{host}/tenant").as_str()));
    assert_eq!(got.client_id_list(), ["app-2"]);
    assert_eq!(got.thumbprint_list(), [other.as_str()]);
    assert_eq!(got.tags().len(), 1);
    let listed = ok(iam.list_open_id_connect_providers().send().await);
    assert!(
        listed
            .open_id_connect_provider_list()
            .iter()
            .any(|p| p.arn.as_deref() == Some(arn.as_str()))
    );
    ok(iam
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await);
    let gone = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn);
    assert_eq!(
        outcome(gone.send().await),
        failed(
            "NoSuchEntity",
            &format!("OpenIDConnect Provider not found for arn {arn}")
        )
    );
    // Deleting it again is no error: the operation is idempotent.
    let again = iam
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn);
    ok(again.send().await);
    let http = iam
        .create_open_id_connect_provider()
        .url(format!("http://{host}"));
    assert_eq!(
        outcome(http.send().await),
        failed("ValidationError", "Invalid Open ID Connect Provider URL")
    );
}
