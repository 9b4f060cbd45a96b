//! Signature verification.

use subtle::ConstantTimeEq;

use crate::canonical::{
    self, CanonicalOptions, TOKEN_PARAM, body_hash, canonical_uri, payload_line, raw_query_pairs,
    signed_content_sha256,
};
use crate::{Auth, Form, Request, SigV4Error, SigningKey, UNSIGNED_PAYLOAD, sign, string_to_sign};

/// Verifies the signature of a request, accepting every canonicalization variant a client may
/// have used (see [`CanonicalOptions`]): normalized path first, then the raw path when it
/// canonicalizes differently; and in the query form with a `X-Amz-Security-Token` parameter,
/// with and without that parameter in the canonical query (clients that append the token after
/// signing). Accepting the variants is safe: each is computed from the received bytes, and the
/// session token is validated by the caller against the access key anyway.
///
/// `key` must be [`crate::signing_key`] for the access key's secret and `auth`'s scope date,
/// region and service. This function checks neither time nor scope: call [`crate::check_time`]
/// and [`crate::check_scope`] first.
///
/// Payload: the body is always hashed. If `x-amz-content-sha256` is a signed header, its value
/// must equal that hash, except that in the query form the literal `UNSIGNED-PAYLOAD` is honoured
/// (and signed in place of the hash). In the header form `UNSIGNED-PAYLOAD` is rejected: these
/// APIs carry their parameters in the body, which must be covered by the signature.
///
/// Any failure is [`SigV4Error::SignatureMismatch`]. Signatures are compared in constant time.
pub fn verify(req: &Request<'_>, auth: &Auth, key: &SigningKey) -> Result<(), SigV4Error> {
    let payload = checked_payload_line(req, auth)?;
    let raw_path_differs = canonical_uri(req.path, true) != canonical_uri(req.path, false);
    let has_query_token = matches!(auth.form, Form::Query { .. })
        && raw_query_pairs(req.query.unwrap_or(""))
            .any(|(n, _)| canonical::decode(n) == TOKEN_PARAM.as_bytes());

    let mut matched = false;
    for normalize_path in [true, false] {
        if !normalize_path && !raw_path_differs {
            continue;
        }
        for omit_session_token in [false, true] {
            if omit_session_token && !has_query_token {
                continue;
            }
            let opts = CanonicalOptions {
                normalize_path,
                omit_session_token,
            };
            matched |= matches_with(req, auth, key, opts, &payload)?;
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SigV4Error::SignatureMismatch)
    }
}

/// Verifies the signature of a request using exactly one canonicalization variant. Otherwise as
/// [`verify`].
pub fn verify_with(
    req: &Request<'_>,
    auth: &Auth,
    key: &SigningKey,
    opts: CanonicalOptions,
) -> Result<(), SigV4Error> {
    let payload = checked_payload_line(req, auth)?;
    if matches_with(req, auth, key, opts, &payload)? {
        Ok(())
    } else {
        Err(SigV4Error::SignatureMismatch)
    }
}

/// The payload line, after checking a signed `x-amz-content-sha256` against the body.
fn checked_payload_line(req: &Request<'_>, auth: &Auth) -> Result<String, SigV4Error> {
    let hash = body_hash(req.body);
    let line = payload_line(req, auth, &hash);
    if let Some(claimed) = signed_content_sha256(req, auth) {
        let honoured_unsigned = line == UNSIGNED_PAYLOAD && claimed == UNSIGNED_PAYLOAD;
        if !honoured_unsigned && claimed != hash {
            return Err(SigV4Error::SignatureMismatch);
        }
    }
    Ok(line)
}

fn matches_with(
    req: &Request<'_>,
    auth: &Auth,
    key: &SigningKey,
    opts: CanonicalOptions,
    payload: &str,
) -> Result<bool, SigV4Error> {
    let canonical = canonical::build(req, auth, opts, payload)?;
    let expected = sign(key, &string_to_sign(auth, &canonical));
    Ok(signatures_equal(&expected, &auth.signature))
}

/// Constant-time comparison of two signatures (lengths are not secret).
pub(crate) fn signatures_equal(expected: &str, provided: &str) -> bool {
    expected.as_bytes().ct_eq(provided.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        let a = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        assert!(signatures_equal(a, a));
        assert!(!signatures_equal(a, &a.to_uppercase()));
        assert!(!signatures_equal(a, &a[..63]));
        assert!(!signatures_equal(a, ""));
        assert!(!signatures_equal("", a));
        let mut flipped = a.as_bytes().to_vec();
        flipped[63] ^= 1;
        assert!(!signatures_equal(a, &String::from_utf8_lossy(&flipped)));
    }
}
