//! Canonical request and string to sign.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use ring::digest;

use crate::{ALGORITHM, Auth, Form, Request, SigV4Error, UNSIGNED_PAYLOAD};

/// Everything but the RFC 3986 unreserved characters `A-Za-z0-9-_.~`.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// As [`RFC3986`], but keeping the path separator.
const RFC3986_PATH: &AsciiSet = &RFC3986.remove(b'/');

pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";
pub(crate) const TOKEN_PARAM: &str = "X-Amz-Security-Token";
const CONTENT_SHA256: &str = "x-amz-content-sha256";

/// How ambiguous parts of the canonical request are built.
///
/// Clients differ in two places the server cannot observe, so [`crate::verify`] tries every
/// variant that can differ for the request at hand; [`crate::verify_with`] uses exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanonicalOptions {
    /// Remove empty, `.` and `..` path segments before encoding (what every AWS SDK does for all
    /// services except S3). When `false` the raw path is encoded as is. Default `true`.
    pub normalize_path: bool,
    /// Query form only: leave `X-Amz-Security-Token` out of the canonical query string, for
    /// clients that append the token after signing (AWS documents both behaviours). Ignored for
    /// the header form. Default `false`.
    pub omit_session_token: bool,
}

impl Default for CanonicalOptions {
    fn default() -> Self {
        CanonicalOptions {
            normalize_path: true,
            omit_session_token: false,
        }
    }
}

/// Builds the canonical request with [`CanonicalOptions::default`] (normalized path, session
/// token included).
///
/// ```text
/// METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
/// ```
///
/// Fails with [`SigV4Error::SignatureMismatch`] when a header named in `SignedHeaders` is absent
/// from the request.
pub fn canonical_request(req: &Request<'_>, auth: &Auth) -> Result<String, SigV4Error> {
    canonical_request_with(req, auth, CanonicalOptions::default())
}

/// Builds the canonical request with explicit [`CanonicalOptions`].
///
/// - URI: the raw path, normalized if asked, then every byte except `A-Za-z0-9-_.~/`
///   percent-encoded (so a path received as `/a%20b` is signed as `/a%2520b`, the double encoding
///   SDKs use for non-S3 services); `/` when empty.
/// - Query: parameters split on `&` (empty pieces skipped) and at the first `=`, names and values
///   percent-decoded then RFC 3986 encoded (`+` is a literal plus, not a space), sorted by name
///   then value; `X-Amz-Signature` left out in the query form.
/// - Headers: for each signed name, every header with that name (any case) in received order,
///   each value trimmed with inner whitespace runs (space, tab, CR, LF, FF) collapsed to one
///   space, joined with `,`.
/// - Payload: lower-case hex SHA-256 of the body; `UNSIGNED-PAYLOAD` only in the query form when a
///   signed `x-amz-content-sha256` header carries that literal.
pub fn canonical_request_with(
    req: &Request<'_>,
    auth: &Auth,
    opts: CanonicalOptions,
) -> Result<String, SigV4Error> {
    let payload = payload_line(req, auth, &body_hash(req.body));
    build(req, auth, opts, &payload)
}

/// Builds the string to sign for a canonical request:
/// `AWS4-HMAC-SHA256 \n <amz_date> \n <scope> \n hex(SHA-256(canonical_request))`, no trailing
/// newline.
pub fn string_to_sign(auth: &Auth, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        auth.amz_date,
        auth.credential_scope(),
        hex_sha256(canonical_request.as_bytes())
    )
}

pub(crate) fn hex_sha256(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data).as_ref())
}

pub(crate) fn body_hash(body: &[u8]) -> String {
    hex_sha256(body)
}

/// Values of the headers named `name` (any case), in received order.
pub(crate) fn header_values<'a>(req: &Request<'a>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    req.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

fn is_signed(auth: &Auth, name: &str) -> bool {
    auth.signed_headers.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The signed `x-amz-content-sha256` value, if that header is signed and present.
pub(crate) fn signed_content_sha256(req: &Request<'_>, auth: &Auth) -> Option<String> {
    if !is_signed(auth, CONTENT_SHA256) {
        return None;
    }
    let values: Vec<String> = header_values(req, CONTENT_SHA256)
        .map(normalize_header_value)
        .collect();
    if values.is_empty() {
        None
    } else {
        Some(values.join(","))
    }
}

/// The last line of the canonical request.
pub(crate) fn payload_line(req: &Request<'_>, auth: &Auth, body_hash: &str) -> String {
    if matches!(auth.form, Form::Query { .. })
        && signed_content_sha256(req, auth).as_deref() == Some(UNSIGNED_PAYLOAD)
    {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        body_hash.to_owned()
    }
}

pub(crate) fn build(
    req: &Request<'_>,
    auth: &Auth,
    opts: CanonicalOptions,
    payload_line: &str,
) -> Result<String, SigV4Error> {
    let mut out = String::with_capacity(256 + req.path.len() + req.query.map_or(0, str::len));
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path, opts.normalize_path));
    out.push('\n');
    let omit_token = opts.omit_session_token && matches!(auth.form, Form::Query { .. });
    out.push_str(&canonical_query(
        req.query.unwrap_or(""),
        matches!(auth.form, Form::Query { .. }),
        omit_token,
    ));
    out.push('\n');
    for name in &auth.signed_headers {
        let mut values = header_values(req, name).peekable();
        if values.peek().is_none() {
            return Err(SigV4Error::SignatureMismatch);
        }
        out.push_str(name);
        out.push(':');
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_normalized_header_value(&mut out, v);
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&auth.signed_headers_line());
    out.push('\n');
    out.push_str(payload_line);
    Ok(out)
}

/// Canonical URI of a raw path.
pub(crate) fn canonical_uri(raw_path: &str, normalize: bool) -> String {
    let path = if normalize {
        normalize_path(raw_path)
    } else if raw_path.is_empty() {
        "/".to_owned()
    } else {
        raw_path.to_owned()
    };
    percent_encode(path.as_bytes(), RFC3986_PATH).to_string()
}

/// Removes empty, `.` and `..` segments; keeps a trailing slash; always starts with `/`.
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segments.join("/"));
    if !segments.is_empty() && path.ends_with('/') {
        out.push('/');
    }
    out
}

/// Splits a raw query string into raw `(name, value)` pieces.
pub(crate) fn raw_query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

/// Percent-decodes a query component; invalid escapes are kept literally.
pub(crate) fn decode(s: &str) -> Vec<u8> {
    percent_decode_str(s).collect()
}

fn encode(bytes: &[u8]) -> String {
    percent_encode(bytes, RFC3986).to_string()
}

fn canonical_query(query: &str, query_form: bool, omit_token: bool) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in raw_query_pairs(query) {
        let name = decode(name);
        if query_form && name == SIGNATURE_PARAM.as_bytes() {
            continue;
        }
        if omit_token && name == TOKEN_PARAM.as_bytes() {
            continue;
        }
        pairs.push((encode(&name), encode(&decode(value))));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 16);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

fn is_header_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c')
}

/// Trims a header value and collapses inner whitespace runs to a single space.
pub(crate) fn normalize_header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_normalized_header_value(&mut out, value);
    out
}

/// Appends `value` trimmed, its inner whitespace runs collapsed to a single space, to `out`. A
/// value with nothing to trim or collapse (as SDKs send them: dates, hashes, session tokens of
/// a kilobyte) is copied as it is after one byte scan.
pub(crate) fn push_normalized_header_value(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let plain = bytes.first().is_none_or(|&b| b != b' ')
        && bytes.last().is_none_or(|&b| b != b' ')
        && !bytes
            .iter()
            .any(|&b| matches!(b, b'\t' | b'\r' | b'\n' | b'\x0c'))
        && !value.contains("  ");
    if plain {
        out.push_str(value);
        return;
    }
    let mut first = true;
    for word in value.split(is_header_space).filter(|w| !w.is_empty()) {
        if !first {
            out.push(' ');
        }
        first = false;
        out.push_str(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let cases = [
            ("", true, "/"),
            ("", false, "/"),
            ("/", true, "/"),
            ("//", true, "/"),
            ("//", false, "//"),
            ("/./", true, "/"),
            ("/example/..", true, "/"),
            ("/a/b/..", true, "/a"),
            ("/a/b/../", true, "/a/"),
            ("/../..", true, "/"),
            ("//example//", true, "/example/"),
            ("relative/x", true, "/relative/x"),
            ("/example space/", true, "/example%20space/"),
            ("/a%20b", true, "/a%2520b"),
            ("/a%2Fb", true, "/a%252Fb"),
            ("/%2E%2E/x", true, "/%252E%252E/x"),
            ("/\u{1234}", true, "/%E1%88%B4"),
            ("/-._~AZaz09", true, "/-._~AZaz09"),
            ("/a+b=c:d@e", true, "/a%2Bb%3Dc%3Ad%40e"),
        ];
        for (raw, normalize, want) in cases {
            assert_eq!(canonical_uri(raw, normalize), want, "{raw:?} {normalize}");
        }
    }

    #[test]
    fn queries() {
        let cases = [
            ("", ""),
            ("&&", ""),
            ("a", "a="),
            ("a=", "a="),
            ("b=2&a=1", "a=1&b=2"),
            ("a=2&a=1&a=10", "a=1&a=10&a=2"),
            ("Param=Value2&Param-3=Value3", "Param=Value2&Param-3=Value3"),
            ("a=b+c", "a=b%2Bc"),
            ("a=b%20c", "a=b%20c"),
            ("a=b c", "a=b%20c"),
            ("a=%7e%2d", "a=~-"),
            ("a=%zz&b=%", "a=%25zz&b=%25"),
            ("a=%FF%FE", "a=%FF%FE"),
            ("a=b=c", "a=b%3Dc"),
            ("%E1%88%B4=x", "%E1%88%B4=x"),
            ("B=1&a=1", "B=1&a=1"),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_query(raw, false, false), want, "{raw:?}");
        }
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&b=1", false, false),
            "X-Amz-Signature=abc&b=1"
        );
        assert_eq!(canonical_query("X-Amz-Signature=abc&b=1", true, false), "b=1");
        assert_eq!(
            canonical_query("X-Amz-Security-Token=t%2B&b=1", true, true),
            "b=1"
        );
        assert_eq!(
            canonical_query("X-Amz-Security-Token=t%2B&b=1", true, false),
            "X-Amz-Security-Token=t%2B&b=1"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(normalize_header_value("  a   b \t c  "), "a b c");
        assert_eq!(
            normalize_header_value("value1\n  value2\r\n\tvalue3"),
            "value1 value2 value3"
        );
        assert_eq!(normalize_header_value("\"a   b   c\""), "\"a b c\"");
        assert_eq!(normalize_header_value(""), "");
        assert_eq!(normalize_header_value("   "), "");
        assert_eq!(normalize_header_value("a\u{a0}b"), "a\u{a0}b");
        // Each one a value the fast path must not take as it is.
        for (raw, want) in [
            (" a", "a"),
            ("a ", "a"),
            ("a  b", "a b"),
            ("a\tb", "a b"),
            ("a\x0cb", "a b"),
            ("a b", "a b"),
            ("\u{e9}t\u{e9}  x", "\u{e9}t\u{e9} x"),
        ] {
            assert_eq!(normalize_header_value(raw), want, "{raw:?}");
        }
        // Appended after what is there already, with no separator of its own.
        let mut out = String::from("x-amz-date:");
        push_normalized_header_value(&mut out, "  20150830T123600Z ");
        assert_eq!(out, "x-amz-date:20150830T123600Z");
    }
}
