//! Behaviour of the public API beyond the AWS test suite: exact error texts, time and scope
//! edges, the two forms, payload hash rules, and robustness against hostile input.

mod common;

use common::OwnedRequest;
use kinko_sigv4::{
    Auth, CanonicalOptions, ErrorKind, Form, MSG_SIGNATURE_MISMATCH, Request, SigV4Error, canonical_request,
    check_region, check_scope, check_signed, check_time, check_time_within, format_amz_date, parse, sign,
    signing_key, string_to_sign, verify, verify_with,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20150830T123600Z";
const T0: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);
const CREDENTIAL: &str = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";

fn req(headers: &[(&str, &str)]) -> OwnedRequest {
    OwnedRequest {
        method: "GET".into(),
        path: "/".into(),
        query: None,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: Vec::new(),
    }
}

fn header_value(r: &OwnedRequest, name: &str) -> Option<String> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn set_header(r: &mut OwnedRequest, name: &str, value: &str) {
    match r.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some(h) => h.1 = value.to_owned(),
        None => r.headers.push((name.to_owned(), value.to_owned())),
    }
}

fn key() -> kinko_sigv4::SigningKey {
    signing_key(SECRET, "20150830", "us-east-1", "service")
}

/// Signs `r` in the header form through the public functions, signing `signed` headers.
fn sign_header_form(r: &mut OwnedRequest, signed: &str) -> Auth {
    set_header(
        r,
        "Authorization",
        &format!("AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders={signed}, Signature=0"),
    );
    let mut auth = r.with(parse).expect("parse");
    let canonical = r.with(|x| canonical_request(x, &auth)).expect("canonical");
    auth.signature = sign(&key(), &string_to_sign(&auth, &canonical));
    set_header(
        r,
        "Authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders={signed}, Signature={}",
            auth.signature
        ),
    );
    auth
}

fn vanilla() -> (OwnedRequest, Auth) {
    let mut r = req(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)]);
    let auth = sign_header_form(&mut r, "host;x-amz-date");
    (r, auth)
}

/// Signs `r` in the query form with the given expiry, signing `host` only.
fn sign_query_form(r: &mut OwnedRequest, date: &str, expires: &str) -> Auth {
    let base = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
        CREDENTIAL.replace('/', "%2F")
    );
    r.query = Some(format!("{base}&X-Amz-Signature=0"));
    let auth = r.with(parse).expect("parse");
    let canonical = r.with(|x| canonical_request(x, &auth)).expect("canonical");
    let signature = sign(&key(), &string_to_sign(&auth, &canonical));
    r.query = Some(format!("{base}&X-Amz-Signature={signature}"));
    r.with(parse).expect("parse")
}

fn auth_at(date: &str, form: Form) -> Auth {
    let mut r = req(&[("Host", "example.amazonaws.com")]);
    match form {
        Form::Header => {
            set_header(&mut r, "X-Amz-Date", date);
            sign_header_form(&mut r, "host;x-amz-date")
        }
        Form::Query { expires_secs } => sign_query_form(&mut r, date, &expires_secs.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Time

#[test]
fn header_form_skew_edges() {
    let auth = auth_at(DATE, Form::Header);
    let five = Duration::minutes(5);
    let sec = Duration::seconds(1);

    assert_eq!(check_time(&auth, T0), Ok(()));
    assert_eq!(check_time(&auth, T0 + five), Ok(()));
    assert_eq!(check_time(&auth, T0 - five), Ok(()));
    // Sub-second parts of the server clock are ignored.
    assert_eq!(check_time(&auth, T0 + five + Duration::milliseconds(999)), Ok(()));

    let err = check_time(&auth, T0 + five + sec).expect_err("too old");
    assert_eq!(
        err,
        SigV4Error::Expired(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z \
             (20150830T124101Z - 5 min.)"
                .into()
        )
    );
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);

    let err = check_time(&auth, T0 - five - sec).expect_err("in the future");
    assert_eq!(
        err.to_string(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z \
         (20150830T123059Z + 5 min.)"
    );
    assert!(matches!(err, SigV4Error::NotYetCurrent(_)));
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);
}

#[test]
fn skew_message_matches_aws_sample() {
    let auth = auth_at("20251105T220858Z", Form::Header);
    let now = datetime!(2025-11-06 13:26:08 UTC);
    assert_eq!(
        check_time(&auth, now).expect_err("expired").to_string(),
        "Signature expired: 20251105T220858Z is now earlier than 20251106T132108Z \
         (20251106T132608Z - 5 min.)"
    );
    // A server clock in another offset is converted to UTC.
    let now = now.to_offset(time::macros::offset!(+9));
    assert_eq!(
        check_time(&auth, now).expect_err("expired").to_string(),
        "Signature expired: 20251105T220858Z is now earlier than 20251106T132108Z \
         (20251106T132608Z - 5 min.)"
    );
}

#[test]
fn fifteen_minute_window() {
    // STS answers a request signed 15 minutes and 1 second ago with
    // `Signature expired: <date> is now earlier than <now - 15 min> (<now> - 15 min.)`.
    let auth = auth_at(DATE, Form::Header);
    let fifteen = Duration::minutes(15);
    let sec = Duration::seconds(1);
    assert_eq!(check_time_within(&auth, T0 + fifteen, 900), Ok(()));
    assert_eq!(check_time_within(&auth, T0 - fifteen, 900), Ok(()));
    // Outside the default 5 minutes, inside 15.
    assert!(check_time(&auth, T0 + Duration::minutes(10)).is_err());
    assert_eq!(check_time_within(&auth, T0 + Duration::minutes(10), 900), Ok(()));
    assert_eq!(
        check_time_within(&auth, T0 + fifteen + sec, 900)
            .expect_err("too old")
            .to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z \
         (20150830T125101Z - 15 min.)"
    );
    assert_eq!(
        check_time_within(&auth, T0 - fifteen - sec, 900)
            .expect_err("in the future")
            .to_string(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z \
         (20150830T122059Z + 15 min.)"
    );
}

#[test]
fn presigned_expiry() {
    let auth = auth_at(DATE, Form::Query { expires_secs: 60 });
    assert_eq!(auth.form, Form::Query { expires_secs: 60 });
    assert_eq!(check_time(&auth, T0), Ok(()));
    assert_eq!(check_time(&auth, T0 + Duration::seconds(60)), Ok(()));
    assert_eq!(
        check_time(&auth, T0 + Duration::seconds(61)),
        Err(SigV4Error::Expired(
            "Signature expired: 20150830T123700Z is now earlier than 20150830T123701Z \
             (20150830T123600Z + 60 sec.)"
                .into()
        ))
    );
    // Dated in the future: same window and text as the header form.
    assert_eq!(check_time(&auth, T0 - Duration::minutes(5)), Ok(()));
    assert_eq!(
        check_time(&auth, T0 - Duration::minutes(5) - Duration::seconds(1)),
        Err(SigV4Error::NotYetCurrent(
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z \
             (20150830T123059Z + 5 min.)"
                .into()
        ))
    );
    // A presigned URL outlives the 5-minute header window.
    let auth = auth_at(
        DATE,
        Form::Query {
            expires_secs: 604_800,
        },
    );
    assert_eq!(check_time(&auth, T0 + Duration::days(7)), Ok(()));
    assert!(check_time(&auth, T0 + Duration::days(7) + Duration::seconds(1)).is_err());
}

#[test]
fn presigned_expires_range() {
    let err = check_time(&auth_at(DATE, Form::Query { expires_secs: 0 }), T0).expect_err("0");
    assert_eq!(
        err,
        SigV4Error::Incomplete("X-Amz-Expires must be greater than 0".into())
    );
    assert_eq!(err.kind(), ErrorKind::IncompleteSignature);
    let err = check_time(
        &auth_at(
            DATE,
            Form::Query {
                expires_secs: 604_801,
            },
        ),
        T0,
    )
    .expect_err("too long");
    assert_eq!(
        err.to_string(),
        "X-Amz-Expires must be less than a week (in seconds) that is 604800"
    );

    let mut r = req(&[("Host", "example.amazonaws.com")]);
    for (expires, msg) in [
        ("-1", "X-Amz-Expires must be non-negative"),
        ("1h", "X-Amz-Expires should be a number"),
    ] {
        r.query = Some(format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date={DATE}\
             &X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
        ));
        assert_eq!(r.with(parse), Err(SigV4Error::Incomplete(msg.into())));
    }
}

// ---------------------------------------------------------------------------------------------
// Scope

#[test]
fn scope_ok_and_host_required() {
    let (_, auth) = vanilla();
    assert_eq!(check_scope(&auth, "service"), Ok(()));
    assert_eq!(check_region(&auth, "us-east-1"), Ok(()));

    let mut r = req(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)]);
    let auth = sign_header_form(&mut r, "x-amz-date");
    // Correctly signed, but without `host`.
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    let err = check_scope(&auth, "service").expect_err("host");
    assert_eq!(
        err.to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);

    let mut upper = auth.clone();
    upper.signed_headers = vec!["Host".into()];
    assert_eq!(check_scope(&upper, "service"), Ok(()));
}

#[test]
fn required_headers_must_be_signed() {
    // The header form: `X-Amz-Target` sent but not signed, as an SDK never does.
    let mut r = req(&[
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", DATE),
        ("X-Amz-Target", "secretsmanager.GetSecretValue"),
    ]);
    let auth = sign_header_form(&mut r, "host;x-amz-date");
    // The signature itself is right: only the rule catches the unsigned target.
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    let err = r
        .with(|x| check_signed(x, &auth, "X-Amz-Target"))
        .expect_err("unsigned");
    assert_eq!(
        err.to_string(),
        "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
    );
    assert_eq!(err, SigV4Error::UnsignedHeader("X-Amz-Target".into()));
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);

    // Signed (names compare in any case), or absent: nothing to require.
    let auth = sign_header_form(&mut r, "host;x-amz-date;x-amz-target");
    assert_eq!(r.with(|x| check_signed(x, &auth, "x-amz-target")), Ok(()));
    let (plain, auth) = vanilla();
    assert_eq!(plain.with(|x| check_signed(x, &auth, "X-Amz-Target")), Ok(()));

    // The presigned form: the header next to a URL that signs only `host`.
    let mut r = req(&[
        ("Host", "example.amazonaws.com"),
        ("x-amz-target", "secretsmanager.GetSecretValue"),
    ]);
    let auth = sign_query_form(&mut r, DATE, "60");
    assert_eq!(
        r.with(|x| check_signed(x, &auth, "X-Amz-Target")),
        Err(SigV4Error::UnsignedHeader("X-Amz-Target".into()))
    );
}

#[test]
fn scope_errors() {
    let (_, auth) = vanilla();
    let with = |f: &dyn Fn(&mut Auth)| {
        let mut a = auth.clone();
        f(&mut a);
        check_scope(&a, "service").expect_err("scope").to_string()
    };
    assert_eq!(
        with(&|a| a.service = "kms".into()),
        "Credential should be scoped to correct service: 'service'. "
    );
    assert_eq!(
        with(&|a| a.region = "US-EAST-1".into()),
        "Credential should be scoped to a valid Region, not 'US-EAST-1'. "
    );
    assert_eq!(
        with(&|a| a.region = String::new()),
        "Credential should be scoped to a valid Region, not ''. "
    );
    assert_eq!(
        with(&|a| a.terminator = "aws4_requesu".into()),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requesu'. "
    );
    assert_eq!(
        with(&|a| a.scope_date = "20150831".into()),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
    // All at once, in AWS's order.
    assert_eq!(
        with(&|a| {
            a.region = "c".repeat(65);
            a.service = "d".into();
            a.terminator = "e".into();
            a.scope_date = "b".into();
        }),
        format!(
            "Credential should be scoped to a valid Region, not '{}'. Credential should be scoped \
             to correct service: 'service'. Credential should be scoped with a valid terminator: \
             'aws4_request', not 'e'. Date in Credential scope does not match YYYYMMDD from \
             ISO-8601 version of date from HTTP: 'b' != '20150830', from '20150830T123600Z'.",
            "c".repeat(65)
        )
    );

    let mut other = auth.clone();
    other.region = "eu-west-1".into();
    assert_eq!(check_scope(&other, "service"), Ok(()));
    assert_eq!(
        check_region(&other, "us-east-1").map_err(|e| e.to_string()),
        Err("Credential should be scoped to a valid Region, not 'eu-west-1'. ".into())
    );
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn parse_auth_header(value: &str, date: Option<&str>) -> Result<Auth, SigV4Error> {
    let mut r = req(&[("Host", "example.amazonaws.com"), ("Authorization", value)]);
    if let Some(d) = date {
        r.headers.push(("X-Amz-Date".into(), d.into()));
    }
    r.with(parse)
}

#[test]
fn incomplete_header_variants() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "AWS4-",
            None,
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header. Authorization=AWS4-",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date",
            Some(DATE),
            "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 \
             Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=abc",
            Some(DATE),
            "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 \
             Credential=, SignedHeaders=host, Signature=abc",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=abc",
            None,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization=AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, \
             Signature=abc",
        ),
        (
            "AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders",
            Some(DATE),
            "'Credential' not a valid key=value pair (missing equal-sign) in Authorization \
             header: 'AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=1, \
             Signature=2",
            Some(DATE),
            "Authorization header must not repeat 'Signature' parameter. \
             Authorization=AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, \
             Signature=1, Signature=2",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, \
             SignedHeaders=host, Signature=abc",
            Some(DATE),
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1/service'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=abc",
            Some("2015-08-30T12:36:00Z"),
            "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
        ),
    ];
    for (header, date, msg) in cases {
        let err = parse_auth_header(header, *date).expect_err(header);
        assert_eq!(err, SigV4Error::Incomplete((*msg).into()), "{header}");
        assert_eq!(err.kind(), ErrorKind::IncompleteSignature);
        assert_eq!(err.kind().json_code(), "IncompleteSignatureException");
        assert_eq!(err.kind().query_code(), "IncompleteSignature");
    }
}

#[test]
fn header_form_tolerates_spacing_and_trailing_slash() {
    for header in [
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,SignedHeaders=host;x-amz-date,Signature=abc",
        "  AWS4-HMAC-SHA256   Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request/ ,  SignedHeaders=host;x-amz-date , Signature=abc , Extra=ignored ",
        "AWS4-HMAC-SHA256\tCredential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
    ] {
        let auth = parse_auth_header(header, Some(DATE)).expect(header);
        assert_eq!(auth.access_key_id, AKID);
        assert_eq!(auth.scope_date, "20150830");
        assert_eq!(auth.region, "us-east-1");
        assert_eq!(auth.service, "service");
        assert_eq!(auth.terminator, "aws4_request");
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(auth.signed_headers_line(), "host;x-amz-date");
        assert_eq!(auth.credential_scope(), "20150830/us-east-1/service/aws4_request");
        assert_eq!(auth.signature, "abc");
        assert_eq!(auth.form, Form::Header);
        assert_eq!(auth.session_token, None);
    }
}

#[test]
fn unsupported_algorithm_and_foreign_schemes() {
    let err = parse_auth_header(
        "AWS4-HMAC-SHA25 Credential=a/b/c/d/e, SignedHeaders=host, Signature=abc",
        Some(DATE),
    )
    .expect_err("algorithm");
    assert_eq!(err, SigV4Error::UnsupportedAlgorithm("AWS4-HMAC-SHA25".into()));
    assert_eq!(
        err.to_string(),
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA25' (only AWS4-HMAC-SHA256 for now). "
    );
    assert_eq!(err.kind(), ErrorKind::IncompleteSignature);

    // Other schemes (SigV2, bearer tokens, garbage) count as no authentication at all.
    for header in [
        "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        "Bearer abc",
        "",
        "   ",
    ] {
        assert_eq!(
            parse_auth_header(header, Some(DATE)),
            Err(SigV4Error::Missing),
            "{header}"
        );
    }

    let mut r = req(&[("Host", "h")]);
    r.query = Some(format!(
        "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date={DATE}\
         &X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
    ));
    assert_eq!(
        r.with(parse),
        Err(SigV4Error::UnsupportedAlgorithm("AWS4-ECDSA-P256-SHA256".into()))
    );
}

#[test]
fn missing_authentication() {
    let r = req(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)]);
    let err = r.with(parse).expect_err("missing");
    assert_eq!(err, SigV4Error::Missing);
    assert_eq!(err.to_string(), "Missing Authentication Token");
    assert_eq!(err.query_message(), "Request is missing Authentication Token");
    assert_eq!(err.kind(), ErrorKind::MissingAuthenticationToken);
    assert_eq!(err.kind().json_code(), "MissingAuthenticationTokenException");
    assert_eq!(err.kind().query_code(), "MissingAuthenticationToken");

    // Presigned parameters without X-Amz-Algorithm are not a signature either.
    let mut r = req(&[("Host", "h")]);
    r.query = Some(format!("X-Amz-Credential={CREDENTIAL}&X-Amz-Signature=00"));
    assert_eq!(r.with(parse), Err(SigV4Error::Missing));
}

#[test]
fn both_forms() {
    let (mut r, _) = vanilla();
    r.query = Some("X-Amz-Algorithm=AWS4-HMAC-SHA256".into());
    let err = r.with(parse).expect_err("both");
    assert_eq!(err, SigV4Error::BothForms);
    assert_eq!(
        err.to_string(),
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    );
    assert_eq!(err.kind(), ErrorKind::InvalidSignature);
    assert_eq!(err.kind().json_code(), "InvalidSignatureException");
    assert_eq!(err.kind().query_code(), "SignatureDoesNotMatch");

    // Whatever the Authorization scheme.
    let mut r = req(&[("Host", "h"), ("Authorization", "Bearer x")]);
    r.query = Some("a=1&X-Amz-Algorithm=x".into());
    assert_eq!(r.with(parse), Err(SigV4Error::BothForms));
}

#[test]
fn repeated_auth_headers_and_params() {
    let (mut r, _) = vanilla();
    let auth = header_value(&r, "Authorization").expect("auth");
    r.headers.push(("authorization".into(), auth));
    assert_eq!(
        r.with(parse),
        Err(SigV4Error::Incomplete(
            "Request must not contain more than one 'Authorization' header.".into()
        ))
    );

    let (mut r, _) = vanilla();
    r.headers.push(("x-amz-date".into(), DATE.into()));
    assert_eq!(
        r.with(parse),
        Err(SigV4Error::Incomplete(
            "Request must not contain more than one 'X-Amz-Date' header.".into()
        ))
    );

    let mut r = req(&[("Host", "h")]);
    r.query = Some(format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date={DATE}\
         &X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Signature=01"
    ));
    assert_eq!(
        r.with(parse),
        Err(SigV4Error::Incomplete(
            "AWS query-string parameters must not repeat 'X-Amz-Signature'. Re-examine the \
             query-string parameters."
                .into()
        ))
    );
}

#[test]
fn incomplete_query_form() {
    let mut r = req(&[("Host", "h")]);
    r.query = Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=".into());
    assert_eq!(
        r.with(parse),
        Err(SigV4Error::Incomplete(
            "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string \
             parameters must include 'X-Amz-Signature'. AWS query-string parameters must include \
             'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. AWS \
             query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string \
             parameters."
                .into()
        ))
    );
    r.query = Some(format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date=20150830\
         &X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
    ));
    assert_eq!(
        r.with(parse),
        Err(SigV4Error::Incomplete(
            "Date must be in ISO-8601 'basic format'. Got '20150830'. See \
             http://en.wikipedia.org/wiki/ISO_8601"
                .into()
        ))
    );
}

#[test]
fn date_header_fallback() {
    let http_date = "Sun, 30 Aug 2015 12:36:00 GMT";
    let mut r = req(&[("Host", "example.amazonaws.com"), ("Date", http_date)]);
    let auth = sign_header_form(&mut r, "date;host");
    assert_eq!(auth.timestamp_raw, http_date);
    assert_eq!(auth.amz_date, DATE);
    assert_eq!(auth.timestamp, T0);
    assert!(string_to_sign(&auth, "x").starts_with("AWS4-HMAC-SHA256\n20150830T123600Z\n"));
    assert_eq!(check_time(&auth, T0), Ok(()));
    assert_eq!(check_scope(&auth, "service"), Ok(()));
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));

    // X-Amz-Date wins over Date.
    r.headers.push(("X-Amz-Date".into(), "20150830T123700Z".into()));
    let auth = r.with(parse).expect("parse");
    assert_eq!(auth.amz_date, "20150830T123700Z");
    assert_eq!(auth.timestamp_raw, "20150830T123700Z");

    let r = req(&[
        ("Host", "h"),
        ("Date", "someday"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=0",
        ),
    ]);
    assert_eq!(
        r.with(parse),
        Err(SigV4Error::Incomplete(
            "Date must be in ISO-8601 'basic format'. Got 'someday'. See \
             http://en.wikipedia.org/wiki/ISO_8601"
                .into()
        ))
    );
}

#[test]
fn session_token_sources() {
    let mut r = req(&[
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", DATE),
        ("X-Amz-Security-Token", "tok+/="),
    ]);
    let auth = sign_header_form(&mut r, "host;x-amz-date;x-amz-security-token");
    assert_eq!(auth.session_token.as_deref(), Some("tok+/="));
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    // Debug output never shows the token.
    let shown = format!("{auth:?}");
    assert!(
        shown.contains("[redacted]") && !shown.contains("tok+/="),
        "{shown}"
    );

    let mut r = req(&[("Host", "h")]);
    r.query = Some(format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date={DATE}\
         &X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=a%2Bb%3D&X-Amz-Signature=00"
    ));
    assert_eq!(
        r.with(parse).expect("parse").session_token.as_deref(),
        Some("a+b=")
    );
}

#[test]
fn request_debug_hides_values_and_body() {
    let body = b"{\"SecretString\":\"hunter2\"}";
    let headers = [("Authorization", "AWS4-HMAC-SHA256 Signature=abc")];
    let r = Request {
        method: "POST",
        path: "/",
        query: Some("X-Amz-Security-Token=tok3n&Action=x"),
        headers: &headers,
        body,
    };
    let shown = format!("{r:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("Signature=abc") && !shown.contains("tok3n"),
        "{shown}"
    );
    assert!(shown.contains("X-Amz-Security-Token"), "{shown}");
    assert!(
        shown.contains("Authorization") && shown.contains("body_len"),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// Verification

#[test]
fn signature_comparison_is_exact() {
    let (r, auth) = vanilla();
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    for signature in [
        auth.signature.to_uppercase(),
        auth.signature[..63].to_owned(),
        format!("{}0", auth.signature),
        format!(" {}", auth.signature),
        String::new(),
    ] {
        let mut bad = auth.clone();
        bad.signature = signature;
        let err = r.with(|x| verify(x, &bad, &key())).expect_err("mismatch");
        assert_eq!(err, SigV4Error::SignatureMismatch);
        assert_eq!(err.to_string(), MSG_SIGNATURE_MISMATCH);
        assert_eq!(
            err.to_string(),
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details."
        );
        assert_eq!(err.kind(), ErrorKind::InvalidSignature);
    }
    // Keys for another date, region or service do not verify.
    for k in [
        signing_key(SECRET, "20150831", "us-east-1", "service"),
        signing_key(SECRET, "20150830", "us-east-2", "service"),
        signing_key(SECRET, "20150830", "us-east-1", "servicf"),
    ] {
        assert_eq!(
            r.with(|x| verify(x, &auth, &k)),
            Err(SigV4Error::SignatureMismatch)
        );
    }
}

#[test]
fn signed_header_must_be_present() {
    let (mut r, auth) = vanilla();
    r.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
    assert_eq!(
        r.with(|x| canonical_request(x, &auth)),
        Err(SigV4Error::SignatureMismatch)
    );
    assert_eq!(
        r.with(|x| verify(x, &auth, &key())),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn unsigned_headers_may_change() {
    let (mut r, auth) = vanilla();
    r.headers.push(("User-Agent".into(), "anything".into()));
    r.headers.push(("X-Amz-Security-Token".into(), "appended".into()));
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
}

const BODY: &[u8] = b"{\"SecretId\":\"prod/db\"}";

fn body_hash(body: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, body))
}

#[test]
fn content_sha256_header() {
    let hash = body_hash(BODY);

    // Correct hash, signed: accepted; a changed body is not.
    let mut r = req(&[
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", DATE),
        ("X-Amz-Content-Sha256", &hash),
    ]);
    r.method = "POST".into();
    r.body = BODY.to_vec();
    let auth = sign_header_form(&mut r, "host;x-amz-content-sha256;x-amz-date");
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    let mut changed = r.clone();
    changed.body[3] ^= 1;
    assert_eq!(
        changed.with(|x| verify(x, &auth, &key())),
        Err(SigV4Error::SignatureMismatch)
    );

    // A signed hash that does not match the body is rejected even if the signature covers it.
    let mut r2 = r.clone();
    set_header(&mut r2, "X-Amz-Content-Sha256", &body_hash(b"other"));
    let auth2 = sign_header_form(&mut r2, "host;x-amz-content-sha256;x-amz-date");
    assert_eq!(
        r2.with(|x| verify(x, &auth2, &key())),
        Err(SigV4Error::SignatureMismatch)
    );

    // Header form: UNSIGNED-PAYLOAD is never honoured, even when signed that way.
    let mut r3 = r.clone();
    set_header(&mut r3, "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
    let mut auth3 = sign_header_form(&mut r3, "host;x-amz-content-sha256;x-amz-date");
    let canonical = r3.with(|x| canonical_request(x, &auth3)).expect("canonical");
    let (head, _) = canonical.rsplit_once('\n').expect("payload line");
    let unsigned = format!("{head}\nUNSIGNED-PAYLOAD");
    auth3.signature = sign(&key(), &string_to_sign(&auth3, &unsigned));
    assert_eq!(
        r3.with(|x| verify(x, &auth3, &key())),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn unsigned_payload_in_query_form() {
    let mut r = req(&[
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"),
    ]);
    r.method = "PUT".into();
    r.body = BODY.to_vec();
    let base = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={DATE}&X-Amz-Expires=60\
         &X-Amz-SignedHeaders=host%3Bx-amz-content-sha256",
        CREDENTIAL.replace('/', "%2F")
    );
    r.query = Some(format!("{base}&X-Amz-Signature=0"));
    let auth = r.with(parse).expect("parse");
    let canonical = r.with(|x| canonical_request(x, &auth)).expect("canonical");
    assert!(
        canonical.ends_with("\nhost;x-amz-content-sha256\nUNSIGNED-PAYLOAD"),
        "{canonical}"
    );
    let signature = sign(&key(), &string_to_sign(&auth, &canonical));
    r.query = Some(format!("{base}&X-Amz-Signature={signature}"));
    let auth = r.with(parse).expect("parse");
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    // The body is not covered, by the client's choice.
    r.body = b"anything".to_vec();
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    // Without the header the body hash is signed as usual.
    r.headers.retain(|(n, _)| n != "X-Amz-Content-Sha256");
    assert_eq!(
        r.with(|x| verify(x, &auth, &key())),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn verify_variants() {
    // Raw path signed by a client that does not normalize.
    let mut r = req(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)]);
    r.path = "/a/./b//".into();
    let mut auth = sign_header_form(&mut r, "host;x-amz-date");
    let raw_opts = CanonicalOptions {
        normalize_path: false,
        omit_session_token: false,
    };
    let canonical = r
        .with(|x| kinko_sigv4::canonical_request_with(x, &auth, raw_opts))
        .expect("canonical");
    assert!(canonical.starts_with("GET\n/a/./b//\n"), "{canonical}");
    auth.signature = sign(&key(), &string_to_sign(&auth, &canonical));
    assert_eq!(r.with(|x| verify(x, &auth, &key())), Ok(()));
    assert_eq!(r.with(|x| verify_with(x, &auth, &key(), raw_opts)), Ok(()));
    assert_eq!(
        r.with(|x| verify_with(x, &auth, &key(), CanonicalOptions::default())),
        Err(SigV4Error::SignatureMismatch)
    );
}

// ---------------------------------------------------------------------------------------------
// Robustness

/// Small deterministic generator, to avoid a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.next()).expect("usize") % items.len()]
    }
}

fn run_all(r: &OwnedRequest) {
    let extremes = [
        PrimitiveDateTime::MIN.assume_utc(),
        PrimitiveDateTime::MAX.assume_utc(),
        T0,
        OffsetDateTime::UNIX_EPOCH,
    ];
    r.with(|x| {
        if let Ok(auth) = parse(x) {
            for now in extremes {
                let _ = check_time(&auth, now);
            }
            let _ = check_scope(&auth, "service");
            let _ = check_region(&auth, "us-east-1");
            let _ = canonical_request(x, &auth);
            let _ = verify(x, &auth, &key());
            let _ = format_amz_date(auth.timestamp);
        }
    });
}

#[test]
fn hostile_input_never_panics() {
    let fragments = [
        "",
        "%",
        "%E",
        "%E1",
        "%E1%88",
        "%FF%FE",
        "%zz",
        "%%",
        "=",
        "==",
        "&",
        "&&",
        "+",
        " ",
        "\t",
        "/",
        "//",
        "..",
        ".",
        ";",
        ";;",
        ",",
        ", ",
        "ሴ",
        "\u{0}",
        "X-Amz-Algorithm",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Credential=a%2Fb%2Fc%2Fd%2Fe",
        "X-Amz-Credential=////",
        "X-Amz-Date=99991231T235959Z",
        "X-Amz-Date=00000101T000000Z",
        "X-Amz-Expires=99999999999999999999999",
        "X-Amz-Expires=604800",
        "X-Amz-Expires=-0",
        "X-Amz-SignedHeaders=",
        "X-Amz-SignedHeaders=host%3B%3B",
        "X-Amz-Signature=",
        "X-Amz-Signature=00",
        "X-Amz-Security-Token=%",
        "Credential=",
        "Credential=a/b/c/d/e",
        "SignedHeaders=;",
        "SignedHeaders=host",
        "Signature=",
        "AWS4-",
        "AWS4-HMAC-SHA256",
        "99991231T235959Z",
        "20150830T123600Z",
        "Sun, 31 Dec 9999 23:59:59 GMT",
    ];
    let mut rng = Lcg(42);
    for _ in 0..4000 {
        let mut piece = || {
            let n = rng.next() % 6;
            (0..n)
                .map(|_| rng.pick(&fragments))
                .collect::<Vec<_>>()
                .join(rng.pick(&["&", " ", ",", ""]))
        };
        let authorization = format!("AWS4-HMAC-SHA256 {}", piece());
        let query = piece();
        let path = format!("/{}", piece());
        let date = piece();
        let signed = piece();
        let r = OwnedRequest {
            method: piece(),
            path,
            query: Some(query.clone()),
            headers: vec![
                ("Host".into(), signed.clone()),
                ("X-Amz-Date".into(), date.clone()),
                ("Authorization".into(), authorization),
                ("X-Amz-Content-Sha256".into(), piece()),
            ],
            body: signed.into_bytes(),
        };
        run_all(&r);
        let mut q = r.clone();
        q.headers.retain(|(n, _)| n != "Authorization");
        q.query = Some(format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date={date}\
             &X-Amz-Expires={}&X-Amz-SignedHeaders={}&X-Amz-Signature=0&{query}",
            rng.pick(&["0", "1", "604800", "604801", "18446744073709551616", "x"]),
            rng.pick(&["host", "", ";", "x-amz-content-sha256", "host;x-amz-date"]),
        ));
        run_all(&q);
    }

    // Huge values.
    let big = "a".repeat(1 << 20);
    let r = req(&[
        ("Host", &big),
        ("X-Amz-Date", DATE),
        (
            "Authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential={big}/20150830/{big}/service/aws4_request, \
                 SignedHeaders=host;{big}, Signature={big}"
            ),
        ),
    ]);
    run_all(&r);

    // Extreme dates against extreme clocks: no overflow.
    for date in ["99991231T235959Z", "00000101T000000Z"] {
        for form in [
            Form::Header,
            Form::Query {
                expires_secs: 604_800,
            },
        ] {
            let auth = auth_at(date, form);
            for now in [
                PrimitiveDateTime::MIN.assume_utc(),
                PrimitiveDateTime::MAX.assume_utc(),
            ] {
                let far = (auth.timestamp - now).abs() > Duration::days(8);
                assert_eq!(check_time(&auth, now).is_err(), far, "{date} {now}");
            }
        }
    }
}
