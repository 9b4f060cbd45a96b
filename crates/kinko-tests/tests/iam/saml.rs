//! AssumeRoleWithSAML, unsigned, with SAML responses the tests sign (xmlsec, through `samael`)
//! with an identity provider key and certificate generated per test binary. An assertion is only
//! accepted with a valid signature under a certificate of the provider's metadata, from the
//! provider's issuer, for AWS's sign-in endpoint, before its expiry, naming the role and provider,
//! and as the role's trust policy allows; the credentials then read what the role allows.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kinko_tests::saml::{Claims, Idp, SIGN_IN, response, without_signature};
use serde_json::json;

use super::*;

struct Fixture {
    server: &'static TestServer,
    idp: Idp,
    other: Idp,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();
static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| Fixture {
        server: TestServer::start_shared_with(&SERVER, |_| {}),
        idp: Idp::generate(),
        other: Idp::generate(),
    })
}

/// A provider of `idp`'s metadata for `entity`; returns its ARN.
async fn provider(server: &TestServer, idp: &Idp, entity: &str) -> String {
    let name = format!("idp-{}", short_id());
    let out = ok(server
        .iam_client()
        .create_saml_provider()
        .name(&name)
        .saml_metadata_document(idp.metadata(entity))
        .send()
        .await);
    out.saml_provider_arn.expect("provider ARN")
}

/// A role trusting `provider` for AWS's audience, allowed to read secrets named `allowed*`.
async fn role_for(
    server: &TestServer,
    name: &str,
    provider: &str,
    allowed: &str,
    max: Option<i32>,
) -> String {
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
        "Condition": {"StringEquals": {"SAML:aud": SIGN_IN}},
    })]);
    let policy = allow(
        &["secretsmanager:GetSecretValue"],
        &[&secret_pattern(&format!("{allowed}*"))],
    );
    let arn = server.role(name, &trust, Some(&policy)).await;
    if let Some(max) = max {
        ok(server
            .iam_client()
            .update_role()
            .role_name(name)
            .max_session_duration(max)
            .send()
            .await);
    }
    arn
}

fn anonymous_sts(server: &TestServer) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint_url())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .build(),
    )
}

type Assumed = Result<
    aws_sdk_sts::operation::assume_role_with_saml::AssumeRoleWithSamlOutput,
    aws_sdk_sts::error::SdkError<aws_sdk_sts::operation::assume_role_with_saml::AssumeRoleWithSAMLError>,
>;

async fn assume(
    server: &TestServer,
    role: &str,
    provider: &str,
    saml: &str,
    duration: Option<i32>,
) -> Assumed {
    anonymous_sts(server)
        .assume_role_with_saml()
        .role_arn(role)
        .principal_arn(provider)
        .saml_assertion(saml)
        .set_duration_seconds(duration)
        .send()
        .await
}

#[tokio::test]
async fn a_saml_user_reads_what_its_role_allows_and_nothing_else() {
    let f = fixture();
    let server = f.server;
    let p = short_id();
    let entity = format!("https://idp-{p}.example.com/saml");
    let provider = provider(server, &f.idp, &entity).await;
    let allowed = format!("saml-allowed-{p}/db");
    let other = format!("saml-other-{p}/db");
    let client = server.client();
    client.create_string(&allowed, "s3cret").await;
    client.create_string(&other, "not yours").await;
    let role_name = format!("saml-{p}");
    let role = role_for(server, &role_name, &provider, &format!("saml-allowed-{p}/"), None).await;

    let mut claims = Claims::new(server, &entity, &role, &provider);
    claims.extra = r#"<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/PrincipalTag:team"><saml:AttributeValue>blue</saml:AttributeValue></saml:Attribute>"#.into();
    let saml = response(server, &entity, &f.idp.sign(&claims.assertion(server, "_a1")));
    let out = ok(assume(server, &role, &provider, &saml, None).await);
    assert_eq!(out.subject.as_deref(), Some("alice@example.com"));
    assert_eq!(out.subject_type.as_deref(), Some("persistent"));
    assert_eq!(out.issuer.as_deref(), Some(entity.as_str()));
    assert_eq!(out.audience.as_deref(), Some(SIGN_IN));
    let provider_name = provider.rsplit('/').next().unwrap();
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{entity}{DEV_ACCOUNT}/{provider_name}").as_bytes(),
    );
    assert_eq!(
        out.name_qualifier.as_deref(),
        Some(STANDARD.encode(digest.as_ref()).as_str())
    );
    let session_arn = format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/alice");
    assert_eq!(out.assumed_role_user.expect("AssumedRoleUser").arn, session_arn);
    let creds = TestCredentials::from(out.credentials.as_ref().expect("Credentials"));
    assert!(creds.access_key_id.starts_with("ASIA"));
    let expiration = out.credentials.as_ref().unwrap().expiration.secs();
    assert!(
        (expiration - (server.now_secs() + 3600)).abs() <= 5,
        "one hour by default"
    );

    let sm = server.client_as(&creds);
    let value = ok(sm.get_secret_value().secret_id(&allowed).send().await);
    assert_eq!(value.secret_string.as_deref(), Some("s3cret"));
    assert_eq!(
        outcome(sm.get_secret_value().secret_id(&other).send().await),
        read_denied(&session_arn, &other, Denial::NoIdentityPolicy)
    );
    let me = ok(server.sts_client_as(&creds).get_caller_identity().send().await);
    assert_eq!(me.arn.as_deref(), Some(session_arn.as_str()));
}

#[tokio::test]
async fn bad_assertions_are_refused_with_aws_errors() {
    let f = fixture();
    let server = f.server;
    let p = short_id();
    let entity = format!("https://idp-bad-{p}.example.com/saml");
    let provider = provider(server, &f.idp, &entity).await;
    let role = role_for(server, &format!("saml-bad-{p}"), &provider, "nothing-", None).await;
    let good = Claims::new(server, &entity, &role, &provider);
    let signed = |c: &Claims| response(server, &entity, &f.idp.sign(&c.assertion(server, "_a2")));
    let with = |change: &dyn Fn(&mut Claims)| {
        let mut c = good.clone();
        change(&mut c);
        c
    };
    // Signed, then its subject changed: the digest no longer matches.
    let tampered = {
        let assertion = f.idp.sign(&good.assertion(server, "_a3"));
        response(
            server,
            &entity,
            &assertion.replace("alice@example.com", "mallory@example.com"),
        )
    };
    let unsigned = response(
        server,
        &entity,
        &without_signature(&good.assertion(server, "_a5")),
    );
    let invalid = |m: &str| failed("InvalidIdentityToken", m);
    let cases: Vec<(&str, String, String, Outcome)> = vec![
        (
            "tampered",
            provider.clone(),
            tampered,
            invalid("Response signature invalid"),
        ),
        (
            "unsigned",
            provider.clone(),
            unsigned,
            invalid("Response signature invalid"),
        ),
        (
            "another IdP's key",
            provider.clone(),
            response(server, &entity, &f.other.sign(&good.assertion(server, "_a6"))),
            invalid("Response signature invalid"),
        ),
        (
            "another issuer",
            provider.clone(),
            signed(&with(&|c| c.issuer = "https://elsewhere.example".into())),
            invalid("Issuer not present in specified provider"),
        ),
        (
            "expired",
            provider.clone(),
            signed(&with(&|c| c.not_on_or_after = server.now_secs() - 60)),
            failed(
                "ExpiredTokenException",
                "The SAML assertion has expired (NotOnOrAfter).",
            ),
        ),
        (
            "wrong audience",
            provider.clone(),
            signed(&with(&|c| c.audience = "urn:example:someone-else".into())),
            invalid("The SAML assertion's audience is not AWS (https://signin.aws.amazon.com/saml)."),
        ),
        (
            "wrong recipient",
            provider.clone(),
            signed(&with(&|c| c.recipient = "https://sp.example.com/acs".into())),
            invalid(
                "The SAML assertion needs exactly one bearer SubjectConfirmation whose Recipient is https://signin.aws.amazon.com/saml and which has a NotOnOrAfter.",
            ),
        ),
        (
            "no session name",
            provider.clone(),
            signed(&with(&|c| c.session_name = None)),
            invalid("RoleSessionName is required in AuthnResponse"),
        ),
        (
            "bad session name",
            provider.clone(),
            signed(&with(&|c| c.session_name = Some("has space".into()))),
            invalid("RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"),
        ),
        (
            "role not granted by the assertion",
            provider.clone(),
            signed(&with(&|c| c.roles = vec![format!("{role}-other,{provider}")])),
            failed("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML"),
        ),
        (
            "provider missing",
            format!("arn:aws:iam::{DEV_ACCOUNT}:saml-provider/missing-{p}"),
            signed(&good),
            invalid("Specified provider doesn't exist"),
        ),
        (
            "not base64",
            provider.clone(),
            "%%%%not base64".into(),
            invalid("The SAML assertion is not valid base64-encoded XML."),
        ),
    ];
    for (what, principal, saml, expected) in cases {
        assert_eq!(
            outcome(assume(server, &role, &principal, &saml, None).await),
            expected,
            "{what}"
        );
    }
    // A signed assertion, and before it an unsigned one naming someone else (signature wrapping):
    // only the signed one is read.
    let wrapped = {
        let signed = f.idp.sign(&good.assertion(server, "_a4"));
        let evil = with(&|c| c.subject = "mallory@example.com".into()).assertion(server, "_evil");
        response(server, &entity, &format!("{}{signed}", without_signature(&evil)))
    };
    let out = ok(assume(server, &role, &provider, &wrapped, None).await);
    assert_eq!(out.subject.as_deref(), Some("alice@example.com"));
    // The good one is accepted, its roles in either order.
    ok(assume(server, &role, &provider, &signed(&good), None).await);
    let reversed = with(&|c| c.roles = vec![format!("{provider},{role}")]);
    ok(assume(server, &role, &provider, &signed(&reversed), None).await);
}

#[tokio::test]
async fn a_role_that_does_not_trust_the_provider_is_not_assumed() {
    let f = fixture();
    let server = f.server;
    let p = short_id();
    let entity = format!("https://idp-deny-{p}.example.com/saml");
    let provider = provider(server, &f.idp, &entity).await;
    let role = server
        .role(&format!("saml-plain-{p}"), &trust_account(), None)
        .await;
    let saml = response(
        server,
        &entity,
        &f.idp
            .sign(&Claims::new(server, &entity, &role, &provider).assertion(server, "_a7")),
    );
    assert_eq!(
        outcome(assume(server, &role, &provider, &saml, None).await),
        failed("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
    );
}

#[tokio::test]
async fn the_session_lasts_as_asked_within_the_role_and_the_assertion() {
    let f = fixture();
    let server = f.server;
    let p = short_id();
    let entity = format!("https://idp-dur-{p}.example.com/saml");
    let provider = provider(server, &f.idp, &entity).await;
    let role = role_for(
        server,
        &format!("saml-dur-{p}"),
        &provider,
        "nothing-",
        Some(7200),
    )
    .await;
    let claims = Claims::new(server, &entity, &role, &provider);
    let saml = response(server, &entity, &f.idp.sign(&claims.assertion(server, "_a8")));
    let expiration = |out: &aws_sdk_sts::operation::assume_role_with_saml::AssumeRoleWithSamlOutput| {
        out.credentials.as_ref().expect("Credentials").expiration.secs() - server.now_secs()
    };
    let out = ok(assume(server, &role, &provider, &saml, Some(7200)).await);
    assert!((expiration(&out) - 7200).abs() <= 5);
    assert_eq!(
        outcome(assume(server, &role, &provider, &saml, Some(7201)).await),
        failed(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    );
    // The assertion's SessionNotOnOrAfter cuts the session short.
    let mut short = claims.clone();
    short.session_not_on_or_after = Some(server.now_secs() + 1000);
    let saml = response(server, &entity, &f.idp.sign(&short.assertion(server, "_a9")));
    let out = ok(assume(server, &role, &provider, &saml, Some(3600)).await);
    assert!((expiration(&out) - 1000).abs() <= 5);
}
