//! The AWS SigV4 test suite (aws-c-auth `tests/aws-signing-test-suite/v4`): every canonical
//! request, string to sign and signature is reproduced, every signed request verifies at the
//! context's timestamp, and every one-byte change of a signed part is rejected.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{OwnedRequest, flip};
use kinko_sigv4::{
    Auth, CanonicalOptions, Form, SigV4Error, canonical_request, canonical_request_with, check_scope,
    check_time, parse, sign, signing_key, string_to_sign, verify, verify_with,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/sigv4")
}

struct Context {
    access_key_id: String,
    secret: String,
    token: Option<String>,
    region: String,
    service: String,
    timestamp: OffsetDateTime,
    normalize: bool,
    omit_session_token: bool,
    expiration_secs: u64,
}

impl Context {
    fn load(dir: &Path) -> Context {
        let text = fs::read_to_string(dir.join("context.json")).expect("context.json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("context json");
        let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_owned);
        Context {
            access_key_id: s("/credentials/access_key_id").expect("akid"),
            secret: s("/credentials/secret_access_key").expect("secret"),
            token: s("/credentials/token"),
            region: s("/region").expect("region"),
            service: s("/service").expect("service"),
            timestamp: OffsetDateTime::parse(&s("/timestamp").expect("timestamp"), &Rfc3339)
                .expect("rfc3339"),
            normalize: v["normalize"].as_bool().unwrap_or(true),
            omit_session_token: v["omit_session_token"].as_bool().unwrap_or(false),
            expiration_secs: v["expiration_in_seconds"].as_u64().expect("expiration"),
        }
    }

    /// The server pipeline: parse, look the key up, check the session token, time and scope,
    /// derive the signing key from the request's scope, verify.
    fn server_accepts(&self, req: &OwnedRequest, now: OffsetDateTime) -> Result<(), String> {
        req.with(|r| {
            let auth = parse(r).map_err(|e| format!("parse: {e}"))?;
            if auth.access_key_id != self.access_key_id {
                return Err("unknown access key".into());
            }
            if auth.session_token.is_some() && auth.session_token != self.token {
                return Err("invalid session token".into());
            }
            check_time(&auth, now).map_err(|e| format!("time: {e}"))?;
            check_scope(&auth, &self.service).map_err(|e| format!("scope: {e}"))?;
            let key = signing_key(
                self.secret.as_bytes(),
                &auth.scope_date,
                &auth.region,
                &auth.service,
            );
            verify(r, &auth, &key).map_err(|e| format!("verify: {e}"))
        })
    }
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn vector_dirs() -> Vec<PathBuf> {
    let dir = vectors_dir();
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "SigV4 test vectors not found at {} ({e}); they ship with the repository's shared \
             test data and are required",
            dir.display()
        )
    });
    let mut dirs: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("context.json").is_file())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 30,
        "only {} vectors in {}",
        dirs.len(),
        dir.display()
    );
    dirs
}

/// Number of mutated requests checked.
static MUTATIONS: AtomicUsize = AtomicUsize::new(0);

/// Number of signed requests that only verify with non-default canonicalization options.
static LENIENT: AtomicUsize = AtomicUsize::new(0);

/// Asserts that a mutated request is rejected, with a readable failure.
fn assert_rejected(ctx: &Context, req: &OwnedRequest, what: &str) {
    MUTATIONS.fetch_add(1, Ordering::Relaxed);
    if ctx.server_accepts(req, ctx.timestamp).is_ok() {
        panic!("accepted after changing {what}: {req:?}");
    }
}

/// Applies every one-byte change to the signed parts of `req`.
fn check_mutations(ctx: &Context, req: &OwnedRequest, auth: &Auth, opts: CanonicalOptions) {
    let original_canonical = req
        .with(|r| canonical_request_with(r, auth, opts))
        .expect("canonical");

    // The signature itself, on the parsed form.
    let key = signing_key(
        ctx.secret.as_bytes(),
        &auth.scope_date,
        &auth.region,
        &auth.service,
    );
    for i in 0..auth.signature.len() {
        let mut bad = auth.clone();
        bad.signature = flip(&auth.signature, i).expect("hex");
        assert_eq!(
            req.with(|r| verify(r, &bad, &key)),
            Err(SigV4Error::SignatureMismatch),
            "signature byte {i}"
        );
    }

    // Method.
    for i in 0..req.method.len() {
        let mut m = req.clone();
        m.method = flip(&req.method, i).expect("ascii");
        assert_rejected(ctx, &m, &format!("method byte {i}"));
    }

    // Path: a change must be rejected unless it does not reach the canonical request (bytes
    // removed by normalization, e.g. the `example` in `/example/..`, are not signed).
    for i in 0..req.path.len() {
        let Some(path) = flip(&req.path, i) else {
            continue;
        };
        let mut m = req.clone();
        m.path = path;
        let canonical = m
            .with(|r| canonical_request_with(r, auth, opts))
            .expect("canonical");
        if canonical == original_canonical {
            assert!(opts.normalize_path, "raw path change invisible: {:?}", m.path);
            continue;
        }
        assert_rejected(ctx, &m, &format!("path byte {i}"));
    }

    // Query, including the presigned parameters and the signature in the query form.
    if let Some(query) = &req.query {
        for i in 0..query.len() {
            let Some(q) = flip(query, i) else { continue };
            let mut m = req.clone();
            m.query = Some(q);
            assert_rejected(ctx, &m, &format!("query byte {i}"));
        }
    }

    // Authorization header (credential, signed header list, signature, separators).
    for (h, (name, value)) in req.headers.iter().enumerate() {
        if !name.eq_ignore_ascii_case("authorization") {
            continue;
        }
        for i in 0..value.len() {
            let mut m = req.clone();
            m.headers[h].1 = flip(value, i).expect("ascii");
            assert_rejected(ctx, &m, &format!("Authorization byte {i}"));
        }
    }

    // Every signed header: names and values, each occurrence.
    for (h, (name, value)) in req.headers.iter().enumerate() {
        if !auth.signed_headers.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        for i in 0..value.len() {
            let Some(v) = flip(value, i) else { continue };
            let mut m = req.clone();
            m.headers[h].1 = v;
            assert_rejected(ctx, &m, &format!("{name} value byte {i}"));
        }
        for i in 0..name.len() {
            let mut m = req.clone();
            m.headers[h].0 = flip(name, i).expect("ascii");
            assert_rejected(ctx, &m, &format!("{name} name byte {i}"));
        }
    }

    // Body: every byte, and one byte more.
    for i in 0..req.body.len() {
        let mut m = req.clone();
        m.body[i] ^= 1;
        assert_rejected(ctx, &m, &format!("body byte {i}"));
    }
    let mut m = req.clone();
    m.body.push(b'x');
    assert_rejected(ctx, &m, "body length");
}

fn check_form(dir: &Path, ctx: &Context, prefix: &str) {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
    let req = OwnedRequest::parse_http(&read(dir, &format!("{prefix}-signed-request.txt")));
    let auth = req
        .with(parse)
        .unwrap_or_else(|e| panic!("{name} {prefix}: parse: {e}"));

    // Parsed fields.
    assert_eq!(auth.access_key_id, ctx.access_key_id, "{name}");
    assert_eq!(auth.region, ctx.region, "{name}");
    assert_eq!(auth.service, ctx.service, "{name}");
    assert_eq!(auth.terminator, "aws4_request", "{name}");
    assert_eq!(auth.timestamp, ctx.timestamp, "{name}");
    assert_eq!(auth.amz_date, "20150830T123600Z", "{name}");
    assert_eq!(auth.timestamp_raw, "20150830T123600Z", "{name}");
    assert_eq!(auth.unix_timestamp(), ctx.timestamp.unix_timestamp(), "{name}");
    assert_eq!(auth.scope_date, "20150830", "{name}");
    assert_eq!(
        auth.signature,
        read(dir, &format!("{prefix}-signature.txt")).trim(),
        "{name}"
    );
    let query_form = prefix == "query";
    if query_form {
        assert_eq!(
            auth.form,
            Form::Query {
                expires_secs: ctx.expiration_secs
            },
            "{name}"
        );
    } else {
        assert_eq!(auth.form, Form::Header, "{name}");
    }
    let carried_token = req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-security-token"))
        || req
            .query
            .as_deref()
            .is_some_and(|q| q.contains("X-Amz-Security-Token="));
    if carried_token {
        assert_eq!(auth.session_token, ctx.token, "{name}");
    } else {
        assert_eq!(auth.session_token, None, "{name}");
    }

    // Canonical request, string to sign, signature.
    let opts = CanonicalOptions {
        normalize_path: ctx.normalize,
        omit_session_token: ctx.omit_session_token && query_form,
    };
    let canonical = req
        .with(|r| canonical_request_with(r, &auth, opts))
        .unwrap_or_else(|e| panic!("{name} {prefix}: canonical: {e}"));
    assert_eq!(
        canonical,
        read(dir, &format!("{prefix}-canonical-request.txt")),
        "{name} {prefix}: canonical request"
    );
    let default_canonical = req.with(|r| canonical_request(r, &auth)).expect("canonical");
    if default_canonical != canonical {
        // Only the lenient `verify` accepts this vector: the client used the raw path or appended
        // the session token after signing.
        assert_ne!(opts, CanonicalOptions::default(), "{name}");
        let key = signing_key(ctx.secret.as_bytes(), "20150830", &ctx.region, &ctx.service);
        assert_eq!(
            req.with(|r| verify_with(r, &auth, &key, CanonicalOptions::default())),
            Err(SigV4Error::SignatureMismatch),
            "{name} {prefix}"
        );
        LENIENT.fetch_add(1, Ordering::Relaxed);
    }
    let sts = string_to_sign(&auth, &canonical);
    assert_eq!(
        sts,
        read(dir, &format!("{prefix}-string-to-sign.txt")),
        "{name} {prefix}: sts"
    );
    let key = signing_key(ctx.secret.as_bytes(), "20150830", &ctx.region, &ctx.service);
    assert_eq!(sign(&key, &sts), auth.signature, "{name} {prefix}: signature");

    // Accepted as a whole at the context's time, with the exact options and with the lenient
    // default.
    assert_eq!(
        req.with(|r| verify_with(r, &auth, &key, opts)),
        Ok(()),
        "{name} {prefix}"
    );
    assert_eq!(req.with(|r| verify(r, &auth, &key)), Ok(()), "{name} {prefix}");
    assert_eq!(check_time(&auth, ctx.timestamp), Ok(()), "{name} {prefix}");
    assert_eq!(check_scope(&auth, &ctx.service), Ok(()), "{name} {prefix}");
    ctx.server_accepts(&req, ctx.timestamp)
        .unwrap_or_else(|e| panic!("{name} {prefix}: {e}"));

    // Time limits around the context's time.
    let five_min = Duration::minutes(5);
    let sec = Duration::seconds(1);
    assert_eq!(check_time(&auth, ctx.timestamp - five_min), Ok(()), "{name}");
    assert!(matches!(
        check_time(&auth, ctx.timestamp - five_min - sec),
        Err(SigV4Error::NotYetCurrent(_))
    ));
    let validity = if query_form {
        Duration::seconds(i64::try_from(ctx.expiration_secs).expect("secs"))
    } else {
        five_min
    };
    assert_eq!(check_time(&auth, ctx.timestamp + validity), Ok(()), "{name}");
    assert!(matches!(
        check_time(&auth, ctx.timestamp + validity + sec),
        Err(SigV4Error::Expired(_))
    ));

    // Wrong secret.
    let other = signing_key(b"not the secret", "20150830", &ctx.region, &ctx.service);
    assert_eq!(
        req.with(|r| verify(r, &auth, &other)),
        Err(SigV4Error::SignatureMismatch)
    );

    check_mutations(ctx, &req, &auth, opts);
}

#[test]
fn aws_test_suite() {
    let mut seen = Vec::new();
    for dir in vector_dirs() {
        let ctx = Context::load(&dir);
        check_form(&dir, &ctx, "header");
        check_form(&dir, &ctx, "query");
        seen.push(dir.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned());
    }
    let mutations = MUTATIONS.load(Ordering::Relaxed);
    println!("{} vectors, {mutations} one-byte mutations rejected", seen.len());
    assert!(mutations > 10_000, "only {mutations} mutations checked");
    // 6 unnormalized vectors whose raw path differs (x2 forms) + post-sts-header-after (query).
    assert_eq!(LENIENT.load(Ordering::Relaxed), 13);
    for required in [
        "get-vanilla",
        "get-utf8",
        "get-space-normalized",
        "get-header-value-multiline",
        "post-sts-header-after",
        "post-x-www-form-urlencoded-parameters",
    ] {
        assert!(seen.iter().any(|s| s == required), "missing vector {required}");
    }
}

/// The unsigned request of each vector has no signature: it is "missing authentication".
#[test]
fn unsigned_requests_are_missing_authentication() {
    for dir in vector_dirs() {
        let req = OwnedRequest::parse_http(&read(&dir, "request.txt"));
        assert_eq!(req.with(parse), Err(SigV4Error::Missing), "{}", dir.display());
    }
}

/// A header-signed request replayed with the query signature of the same vector carries both
/// forms.
#[test]
fn both_forms_in_vectors() {
    let dir = vectors_dir().join("get-vanilla");
    let header = OwnedRequest::parse_http(&read(&dir, "header-signed-request.txt"));
    let query = OwnedRequest::parse_http(&read(&dir, "query-signed-request.txt"));
    let mut both = header.clone();
    both.query = query.query.clone();
    assert_eq!(both.with(parse), Err(SigV4Error::BothForms));
}
