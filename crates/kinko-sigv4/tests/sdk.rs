//! Requests signed by the AWS SDK for Rust's own signer (`aws-sigv4`), an implementation
//! independent of this crate, verify here exactly as a server receives them.

mod common;

use std::time::{Duration as StdDuration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    sign as sdk_sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use common::OwnedRequest;
use kinko_sigv4::{
    Form, SigV4Error, check_scope, check_time, parse, sign, signing_key, string_to_sign, verify,
};
use time::{Duration, OffsetDateTime};

const AKID: &str = "ASIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example/token==";
const UNIX: u64 = 1_762_435_568; // 2025-11-06T13:26:08Z

fn system_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + StdDuration::from_secs(UNIX)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(UNIX).expect("i64")).expect("time")
}

struct Signed {
    req: OwnedRequest,
    signature: String,
}

/// A request for the SDK signer.
struct Call<'a> {
    method: &'a str,
    uri: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
    service: &'a str,
    token: Option<&'a str>,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body hash.
    unsigned_payload: bool,
}

/// Signs a request with `aws-sigv4` and returns it as the server receives it: the HTTP client
/// adds `Host` from the URI, the path and query arrive percent-encoded.
fn sdk_request(call: Call<'_>, configure: impl FnOnce(&mut SigningSettings)) -> Signed {
    let Call {
        method,
        uri,
        headers,
        body,
        service,
        token,
        unsigned_payload,
    } = call;
    let mut request = http::Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    let mut request = request.body(body.to_vec()).expect("request");

    let header_pairs: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ascii").to_owned()))
        .collect();
    let signable = SignableRequest::new(
        method,
        uri,
        header_pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        if unsigned_payload {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(body)
        },
    )
    .expect("signable");

    let identity: Identity = Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "test").into();
    let mut settings = SigningSettings::default();
    configure(&mut settings);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(system_time())
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let (instructions, signature) = sdk_sign(signable, &params).expect("sign").into_parts();
    instructions.apply_to_request_http1x(&mut request);

    let uri = request.uri().clone();
    let mut received = vec![(
        "Host".to_owned(),
        uri.authority().expect("authority").as_str().to_owned(),
    )];
    received.extend(
        request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ascii").to_owned())),
    );
    Signed {
        req: OwnedRequest {
            method: method.to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: received,
            body: body.to_vec(),
        },
        signature,
    }
}

/// The server pipeline for these credentials.
fn accept(req: &OwnedRequest, service: &str, at: OffsetDateTime) -> Result<(), SigV4Error> {
    req.with(|r| {
        let auth = parse(r)?;
        assert_eq!(auth.access_key_id, AKID);
        check_time(&auth, at)?;
        check_scope(&auth, service)?;
        let key = signing_key(SECRET.as_bytes(), &auth.scope_date, &auth.region, &auth.service);
        verify(r, &auth, &key)
    })
}

const GET_SECRET_VALUE: &[u8] = br#"{"SecretId":"prod/db/password","VersionStage":"AWSCURRENT"}"#;

fn secrets_manager_headers() -> [(&'static str, &'static str); 2] {
    [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "secretsmanager.GetSecretValue"),
    ]
}

#[test]
fn secrets_manager_request_as_sent_by_the_sdk() {
    let signed = sdk_request(
        Call {
            method: "POST",
            uri: "https://secretsmanager.us-east-1.amazonaws.com/",
            headers: &secrets_manager_headers(),
            body: GET_SECRET_VALUE,
            service: "secretsmanager",
            token: Some(TOKEN),
            unsigned_payload: false,
        },
        |_| {},
    );
    let req = &signed.req;
    let auth = req.with(parse).expect("parse");
    assert_eq!(auth.form, Form::Header);
    assert_eq!(auth.signature, signed.signature);
    assert_eq!(auth.session_token.as_deref(), Some(TOKEN));
    assert_eq!(auth.amz_date, "20251106T132608Z");
    assert_eq!(
        auth.credential_scope(),
        "20251106/us-east-1/secretsmanager/aws4_request"
    );
    assert_eq!(
        auth.signed_headers_line(),
        "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
    );

    // The signature, recomputed by hand through the public steps.
    let canonical = req
        .with(|r| kinko_sigv4::canonical_request(r, &auth))
        .expect("canonical");
    let body_hash = hex::encode(ring::digest::digest(&ring::digest::SHA256, GET_SECRET_VALUE));
    assert_eq!(
        canonical,
        format!(
            "POST\n/\n\ncontent-type:application/x-amz-json-1.1\n\
             host:secretsmanager.us-east-1.amazonaws.com\nx-amz-date:20251106T132608Z\n\
             x-amz-security-token:{TOKEN}\nx-amz-target:secretsmanager.GetSecretValue\n\n\
             content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n{body_hash}"
        )
    );
    let sts = string_to_sign(&auth, &canonical);
    let key = signing_key(SECRET.as_bytes(), "20251106", "us-east-1", "secretsmanager");
    assert_eq!(sign(&key, &sts), signed.signature);
    // Same key and signature as the SDK's own primitives.
    let sdk_key = v4::generate_signing_key(SECRET, system_time(), "us-east-1", "secretsmanager");
    assert_eq!(v4::calculate_signature(sdk_key, sts.as_bytes()), signed.signature);

    // Accepted within the skew window, both directions.
    for offset in [0, 299, 300, -300] {
        assert_eq!(
            accept(req, "secretsmanager", now() + Duration::seconds(offset)),
            Ok(()),
            "{offset}"
        );
    }
    assert!(matches!(
        accept(req, "secretsmanager", now() + Duration::seconds(301)),
        Err(SigV4Error::Expired(_))
    ));
    assert!(matches!(accept(req, "kms", now()), Err(SigV4Error::Scope(_))));

    // Tampering with anything signed fails.
    let tamper = |f: &dyn Fn(&mut OwnedRequest)| {
        let mut m = req.clone();
        f(&mut m);
        accept(&m, "secretsmanager", now())
    };
    assert_eq!(tamper(&|m| m.body[10] ^= 1), Err(SigV4Error::SignatureMismatch));
    assert_eq!(
        tamper(&|m| m.body.extend_from_slice(b" ")),
        Err(SigV4Error::SignatureMismatch)
    );
    for (name, value) in [
        ("x-amz-target", "secretsmanager.DeleteSecret"),
        ("x-amz-security-token", "other"),
        ("content-type", "application/json"),
        ("Host", "evil.example"),
    ] {
        assert_eq!(
            tamper(&|m| {
                for h in &mut m.headers {
                    if h.0.eq_ignore_ascii_case(name) {
                        h.1 = value.to_owned();
                    }
                }
            }),
            Err(SigV4Error::SignatureMismatch),
            "{name}"
        );
    }
    assert_eq!(
        tamper(&|m| m.method = "PUT".into()),
        Err(SigV4Error::SignatureMismatch)
    );
    assert_eq!(
        tamper(&|m| m.path = "/x".into()),
        Err(SigV4Error::SignatureMismatch)
    );
    assert_eq!(
        tamper(&|m| m.query = Some("a=b".into())),
        Err(SigV4Error::SignatureMismatch)
    );
    // Headers the SDK leaves unsigned may change in transit.
    assert_eq!(
        tamper(&|m| m.headers.push(("User-Agent".into(), "proxy".into()))),
        Ok(())
    );
}

#[test]
fn content_sha256_header_from_the_sdk() {
    let signed = sdk_request(
        Call {
            method: "POST",
            uri: "https://secretsmanager.us-east-1.amazonaws.com/",
            headers: &secrets_manager_headers(),
            body: GET_SECRET_VALUE,
            service: "secretsmanager",
            token: None,
            unsigned_payload: false,
        },
        |s| s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
    );
    let auth = signed.req.with(parse).expect("parse");
    assert!(auth.signed_headers.iter().any(|h| h == "x-amz-content-sha256"));
    assert_eq!(auth.session_token, None);
    assert_eq!(accept(&signed.req, "secretsmanager", now()), Ok(()));

    // UNSIGNED-PAYLOAD is refused in the header form.
    let unsigned = sdk_request(
        Call {
            method: "POST",
            uri: "https://secretsmanager.us-east-1.amazonaws.com/",
            headers: &secrets_manager_headers(),
            body: GET_SECRET_VALUE,
            service: "secretsmanager",
            token: None,
            unsigned_payload: true,
        },
        |s| s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
    );
    assert!(
        unsigned
            .req
            .headers
            .iter()
            .any(|(n, v)| n == "x-amz-content-sha256" && v == "UNSIGNED-PAYLOAD")
    );
    assert_eq!(
        accept(&unsigned.req, "secretsmanager", now()),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn presigned_sts_get_caller_identity() {
    // What `aws eks get-token` and similar tools produce: a presigned GetCallerIdentity URL with
    // an extra signed header.
    let signed = sdk_request(
        Call {
            method: "GET",
            uri: "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
            headers: &[("x-k8s-aws-id", "my-cluster")],
            body: b"",
            service: "sts",
            token: Some(TOKEN),
            unsigned_payload: false,
        },
        |s| {
            s.signature_location = SignatureLocation::QueryParams;
            s.expires_in = Some(StdDuration::from_secs(60));
        },
    );
    let auth = signed.req.with(parse).expect("parse");
    assert_eq!(auth.form, Form::Query { expires_secs: 60 });
    assert_eq!(auth.signature, signed.signature);
    assert_eq!(auth.session_token.as_deref(), Some(TOKEN));
    assert_eq!(auth.signed_headers_line(), "host;x-k8s-aws-id");
    assert_eq!(accept(&signed.req, "sts", now()), Ok(()));
    assert_eq!(accept(&signed.req, "sts", now() + Duration::seconds(60)), Ok(()));
    assert_eq!(
        accept(&signed.req, "sts", now() + Duration::seconds(61)),
        Err(SigV4Error::Expired(
            "Signature expired: 20251106T132708Z is now earlier than 20251106T132709Z \
             (20251106T132608Z + 60 sec.)"
                .into()
        ))
    );
    let mut other_cluster = signed.req.clone();
    for h in &mut other_cluster.headers {
        if h.0 == "x-k8s-aws-id" {
            h.1 = "other-cluster".into();
        }
    }
    assert_eq!(
        accept(&other_cluster, "sts", now()),
        Err(SigV4Error::SignatureMismatch)
    );
    let mut other_action = signed.req.clone();
    other_action.query = other_action
        .query
        .map(|q| q.replace("GetCallerIdentity", "GetSessionToken"));
    assert_eq!(
        accept(&other_action, "sts", now()),
        Err(SigV4Error::SignatureMismatch)
    );

    // Token appended after signing (SessionTokenMode::Exclude) is accepted too.
    let appended = sdk_request(
        Call {
            method: "GET",
            uri: "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
            headers: &[],
            body: b"",
            service: "sts",
            token: Some(TOKEN),
            unsigned_payload: false,
        },
        |s| {
            s.signature_location = SignatureLocation::QueryParams;
            s.expires_in = Some(StdDuration::from_secs(900));
            s.session_token_mode = SessionTokenMode::Exclude;
        },
    );
    let auth = appended.req.with(parse).expect("parse");
    assert_eq!(auth.session_token.as_deref(), Some(TOKEN));
    assert_eq!(accept(&appended.req, "sts", now()), Ok(()));
}

#[test]
fn encoded_paths_and_queries_from_the_sdk() {
    // The SDK double-encodes paths for non-S3 services and normalizes them; the server sees the
    // path encoded once.
    let signed = sdk_request(
        Call {
            method: "GET",
            uri: "https://example.us-east-1.amazonaws.com/a%20b/./c//%E1%88%B4/x%2Fy/../z?\
         Name=a%20b&Unicode=%E1%88%B4&Empty=&Reserved=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D&Tilde=~",
            headers: &[("X-Custom", "  spaced   value  ")],
            body: b"",
            service: "execute-api",
            token: None,
            unsigned_payload: false,
        },
        |_| {},
    );
    assert_eq!(signed.req.path, "/a%20b/./c//%E1%88%B4/x%2Fy/../z");
    assert_eq!(accept(&signed.req, "execute-api", now()), Ok(()));
    let auth = signed.req.with(parse).expect("parse");
    let canonical = signed
        .req
        .with(|r| kinko_sigv4::canonical_request(r, &auth))
        .expect("canonical");
    assert!(
        canonical.starts_with("GET\n/a%2520b/c/%25E1%2588%25B4/z\n"),
        "{canonical}"
    );
}
