//! Extracting the signature information from a request.

use crate::canonical::{SIGNATURE_PARAM, TOKEN_PARAM, decode, header_values, raw_query_pairs};
use crate::date::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{ALGORITHM, Auth, Form, Request, SigV4Error};

const ALGORITHM_PARAM: &str = "X-Amz-Algorithm";
const CREDENTIAL_PARAM: &str = "X-Amz-Credential";
const DATE_PARAM: &str = "X-Amz-Date";
const EXPIRES_PARAM: &str = "X-Amz-Expires";
const SIGNED_HEADERS_PARAM: &str = "X-Amz-SignedHeaders";

/// Finds and parses the SigV4 signature information of a request.
///
/// The header form is an `Authorization` header starting with `AWS4-`; the query form is an
/// `X-Amz-Algorithm` query parameter. An `Authorization` header with any other scheme counts as
/// no authentication.
///
/// Errors, in the order they are checked:
/// - both an `Authorization` header and `X-Amz-Algorithm`: [`SigV4Error::BothForms`];
/// - neither: [`SigV4Error::Missing`];
/// - malformed header form or query form: [`SigV4Error::Incomplete`], with these messages:
///   - more than one `Authorization`, `X-Amz-Date`, `Date` or `X-Amz-Security-Token` header:
///     `Request must not contain more than one 'X-Amz-Date' header.`;
///   - an `Authorization` element without `=`: `'<element>' not a valid key=value pair (missing
///     equal-sign) in Authorization header: '<header>'.`;
///   - a repeated `Credential`, `SignedHeaders` or `Signature` element: `Authorization header
///     must not repeat '<name>' parameter. Authorization=<header>`;
///   - missing or empty elements, listing only what is missing: `Authorization header requires
///     'Credential' parameter. Authorization header requires 'Signature' parameter.
///     Authorization header requires 'SignedHeaders' parameter. Authorization header requires
///     existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=<header>`;
///   - query form, missing or empty parameters (`X-Amz-Algorithm`, `X-Amz-Credential`,
///     `X-Amz-Signature`, `X-Amz-SignedHeaders`, `X-Amz-Date`, `X-Amz-Expires`, in that order):
///     `AWS query-string parameters must include 'X-Amz-Credential'. ... Re-examine the
///     query-string parameters.`;
///   - query form, a repeated parameter: `AWS query-string parameters must not repeat
///     'X-Amz-Date'. Re-examine the query-string parameters.`;
///   - a malformed date: `Date must be in ISO-8601 'basic format'. Got '<date>'. See
///     http://en.wikipedia.org/wiki/ISO_8601`;
/// - an algorithm other than `AWS4-HMAC-SHA256`: [`SigV4Error::UnsupportedAlgorithm`];
/// - a malformed `X-Amz-Expires`: [`SigV4Error::Incomplete`] `X-Amz-Expires should be a
///   number` or `X-Amz-Expires must be non-negative` (the range is checked by
///   [`crate::check_time`]);
/// - a credential that is not 5 `/`-separated elements (trailing slashes ignored):
///   [`SigV4Error::Incomplete`] `Credential must have exactly 5 slash-delimited elements, e.g.
///   keyid/date/region/service/term, got '<credential>'`.
///
/// The date is `X-Amz-Date`, or in the header form the `Date` header (ISO 8601 basic format or
/// an HTTP date) when `X-Amz-Date` is absent. The session token is the `X-Amz-Security-Token`
/// header, or in the query form the query parameter of that name (preferred over the header).
pub fn parse(req: &Request<'_>) -> Result<Auth, SigV4Error> {
    let authorization = single_header(req, "Authorization")?;
    let query_pairs = decoded_query(req.query.unwrap_or(""));
    let has_query_algorithm = query_pairs.iter().any(|(n, _)| n == ALGORITHM_PARAM);
    if authorization.is_some() && has_query_algorithm {
        return Err(SigV4Error::BothForms);
    }
    if let Some(value) = authorization.filter(|v| v.trim().starts_with("AWS4-")) {
        return parse_header_form(req, value);
    }
    if has_query_algorithm {
        return parse_query_form(req, &query_pairs);
    }
    Err(SigV4Error::Missing)
}

/// The value of a header that must not be repeated.
fn single_header<'a>(req: &Request<'a>, name: &'static str) -> Result<Option<&'a str>, SigV4Error> {
    let mut values = header_values(req, name);
    let first = values.next();
    if values.next().is_some() {
        return Err(SigV4Error::Incomplete(format!(
            "Request must not contain more than one '{name}' header."
        )));
    }
    Ok(first)
}

fn decoded_query(query: &str) -> Vec<(String, String)> {
    raw_query_pairs(query)
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(&decode(n)).into_owned(),
                String::from_utf8_lossy(&decode(v)).into_owned(),
            )
        })
        .collect()
}

fn bad_date(value: &str) -> SigV4Error {
    SigV4Error::Incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

struct Credential {
    access_key_id: String,
    scope_date: String,
    region: String,
    service: String,
    terminator: String,
}

fn parse_credential(credential: &str) -> Result<Credential, SigV4Error> {
    let parts: Vec<&str> = credential.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, terminator] => Ok(Credential {
            access_key_id: (*key).to_owned(),
            scope_date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            terminator: (*terminator).to_owned(),
        }),
        _ => Err(SigV4Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{credential}'"
        ))),
    }
}

fn split_signed_headers(value: &str) -> Vec<String> {
    value.split(';').map(str::to_owned).collect()
}

fn parse_header_form(req: &Request<'_>, header: &str) -> Result<Auth, SigV4Error> {
    let trimmed = header.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));

    let mut credential: Option<&str> = None;
    let mut signed_headers: Option<&str> = None;
    let mut signature: Option<&str> = None;
    for element in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|e| !e.is_empty())
    {
        let Some((key, value)) = element.split_once('=') else {
            return Err(SigV4Error::Incomplete(format!(
                "'{element}' not a valid key=value pair (missing equal-sign) in Authorization \
                 header: '{header}'."
            )));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(SigV4Error::Incomplete(format!(
                "Authorization header must not repeat '{key}' parameter. Authorization={header}"
            )));
        }
        *slot = Some(value);
    }

    // `X-Amz-Date` wins; `Date` may also be an HTTP date.
    let amz_date = single_header(req, "X-Amz-Date")?;
    let http_date = single_header(req, "Date")?;
    let date = match (amz_date, http_date) {
        (Some(v), _) => Some((v, parse_amz_date(v.trim()))),
        (None, Some(v)) => Some((v, parse_http_date(v))),
        (None, None) => None,
    };

    let mut missing = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none_or(str::is_empty) {
            missing.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    if date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    let (Some(credential), Some(signature), Some(signed_headers), true) =
        (credential, signature, signed_headers, missing.is_empty())
    else {
        return Err(SigV4Error::Incomplete(format!("{missing}Authorization={header}")));
    };

    let (timestamp_raw, timestamp) = match (amz_date, http_date) {
        (Some(v), _) => (v, parse_amz_date(v.trim()).ok_or_else(|| bad_date(v))?),
        (None, Some(v)) => (v, parse_http_date(v).ok_or_else(|| bad_date(v))?),
        (None, None) => return Err(SigV4Error::Incomplete(missing)),
    };

    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let cred = parse_credential(credential)?;
    let session_token = single_header(req, "X-Amz-Security-Token")?.map(str::to_owned);

    Ok(Auth {
        form: Form::Header,
        access_key_id: cred.access_key_id,
        scope_date: cred.scope_date,
        region: cred.region,
        service: cred.service,
        terminator: cred.terminator,
        signed_headers: split_signed_headers(signed_headers),
        signature: signature.to_owned(),
        timestamp_raw: timestamp_raw.to_owned(),
        amz_date: format_amz_date(timestamp),
        timestamp,
        session_token,
    })
}

fn parse_query_form(req: &Request<'_>, pairs: &[(String, String)]) -> Result<Auth, SigV4Error> {
    let get = |name: &str| -> Result<Option<&str>, SigV4Error> {
        let mut values = pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            return Err(SigV4Error::Incomplete(format!(
                "AWS query-string parameters must not repeat '{name}'. Re-examine the \
                 query-string parameters."
            )));
        }
        Ok(first.map(String::as_str))
    };

    let algorithm = get(ALGORITHM_PARAM)?;
    let credential = get(CREDENTIAL_PARAM)?;
    let signature = get(SIGNATURE_PARAM)?;
    let signed_headers = get(SIGNED_HEADERS_PARAM)?;
    let date = get(DATE_PARAM)?;
    let expires = get(EXPIRES_PARAM)?;
    let token = get(TOKEN_PARAM)?;

    let mut missing = String::new();
    for (name, value) in [
        (ALGORITHM_PARAM, algorithm),
        (CREDENTIAL_PARAM, credential),
        (SIGNATURE_PARAM, signature),
        (SIGNED_HEADERS_PARAM, signed_headers),
        (DATE_PARAM, date),
        (EXPIRES_PARAM, expires),
    ] {
        if value.is_none_or(str::is_empty) {
            missing.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
    }
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(signed_headers),
        Some(date),
        Some(expires),
        true,
    ) = (
        algorithm,
        credential,
        signature,
        signed_headers,
        date,
        expires,
        missing.is_empty(),
    )
    else {
        return Err(SigV4Error::Incomplete(format!(
            "{missing}Re-examine the query-string parameters."
        )));
    };

    let timestamp = parse_amz_date(date).ok_or_else(|| bad_date(date))?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let expires_secs = parse_expires(expires)?;
    let cred = parse_credential(credential)?;
    let session_token = match token {
        Some(t) => Some(t.to_owned()),
        None => single_header(req, "X-Amz-Security-Token")?.map(str::to_owned),
    };

    Ok(Auth {
        form: Form::Query { expires_secs },
        access_key_id: cred.access_key_id,
        scope_date: cred.scope_date,
        region: cred.region,
        service: cred.service,
        terminator: cred.terminator,
        signed_headers: split_signed_headers(signed_headers),
        signature: signature.to_owned(),
        timestamp_raw: date.to_owned(),
        amz_date: format_amz_date(timestamp),
        timestamp,
        session_token,
    })
}

/// Parses `X-Amz-Expires`; values beyond `u64` saturate (and fail the range check later).
fn parse_expires(value: &str) -> Result<u64, SigV4Error> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::Incomplete(
            "X-Amz-Expires should be a number".to_owned(),
        ));
    }
    if value.starts_with('-') && digits.bytes().any(|b| b != b'0') {
        return Err(SigV4Error::Incomplete(
            "X-Amz-Expires must be non-negative".to_owned(),
        ));
    }
    Ok(digits.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_values() {
        assert_eq!(parse_expires("3600"), Ok(3600));
        assert_eq!(parse_expires("0"), Ok(0));
        assert_eq!(parse_expires("-0"), Ok(0));
        assert_eq!(parse_expires("99999999999999999999999999"), Ok(u64::MAX));
        assert_eq!(
            parse_expires("-5"),
            Err(SigV4Error::Incomplete(
                "X-Amz-Expires must be non-negative".into()
            ))
        );
        for bad in ["", "-", "1h", "+5", " 5", "٣"] {
            assert_eq!(
                parse_expires(bad),
                Err(SigV4Error::Incomplete("X-Amz-Expires should be a number".into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn credentials() {
        let c = parse_credential("AKID/20150830/us-east-1/service/aws4_request//").expect("ok");
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.terminator, "aws4_request");
        assert_eq!(
            parse_credential("AKID/20150830").err(),
            Some(SigV4Error::Incomplete(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got 'AKID/20150830'"
                    .into()
            ))
        );
        assert!(parse_credential("a/b/c/d/e/f").is_err());
        assert!(parse_credential("").is_err());
    }
}
