//! kinko-sigv4: server-side verification of AWS Signature Version 4.
//!
//! This crate owns everything needed to decide whether an HTTP request was signed with SigV4 by the
//! holder of a given secret access key, in both forms AWS clients use:
//!
//! - the `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header
//!   form, with `X-Amz-Date` (or `Date`) and an optional `X-Amz-Security-Token`;
//! - the presigned query form (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
//!   `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, optional `X-Amz-Security-Token`).
//!
//! The intended pipeline, in the order AWS reports problems, is:
//!
//! 1. [`parse`] the request into an [`Auth`] (missing / incomplete / unsupported signatures);
//! 2. look up the access key id and session token (the caller's job);
//! 3. [`check_time`] (clock skew, presigned expiry);
//! 4. [`check_scope`] (credential scope, `host` signed), [`check_signed`] for any other header the
//!    service requires to be signed, and optionally [`check_region`];
//! 5. [`verify`] with a [`SigningKey`] from [`signing_key`], which callers may cache per
//!    (access key id, date, region, service).
//!
//! [`canonical_request`] and [`string_to_sign`] are public so that a server can include them in
//! signature-mismatch errors, as AWS sometimes does.
//!
//! Every [`SigV4Error`] displays the message AWS sends for the same condition, and
//! [`SigV4Error::kind`] tells which AWS error code a server should answer with.
//!
//! The crate is pure: it does no I/O, reads no clock (callers pass `now`) and never panics on any
//! input (malformed percent-encodings, invalid dates, empty or huge values all yield errors or
//! mismatches).
//!
//! ```
//! use kinko_sigv4::{Request, check_scope, check_time, parse, signing_key, verify};
//!
//! # fn main() -> Result<(), kinko_sigv4::SigV4Error> {
//! let headers = [
//!     ("Host", "example.amazonaws.com"),
//!     ("X-Amz-Date", "20150830T123600Z"),
//!     (
//!         "Authorization",
//!         "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
//!          SignedHeaders=host;x-amz-date, \
//!          Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
//!     ),
//! ];
//! let req = Request { method: "GET", path: "/", query: None, headers: &headers, body: b"" };
//!
//! let auth = parse(&req)?;
//! // Look up the secret for `auth.access_key_id` (and check `auth.session_token`) here.
//! let secret = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
//! check_time(&auth, time::macros::datetime!(2015-08-30 12:38:00 UTC))?;
//! check_scope(&auth, "service")?;
//! let key = signing_key(secret, &auth.scope_date, &auth.region, &auth.service);
//! verify(&req, &auth, &key)?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod canonical;
mod checks;
mod date;
mod key;
mod parse;
mod verify;

use std::fmt;

use time::OffsetDateTime;

pub use canonical::{CanonicalOptions, canonical_request, canonical_request_with, string_to_sign};
pub use checks::{
    MAX_PRESIGNED_EXPIRES_SECS, MAX_SKEW_SECS, check_region, check_scope, check_signed, check_time,
    check_time_within,
};
pub use date::format_amz_date;
pub use key::{SigningKey, sign, signing_key};
pub use parse::parse;
pub use verify::{verify, verify_with};

/// The only signing algorithm this crate accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The only credential scope terminator AWS accepts.
pub const TERMINATOR: &str = "aws4_request";

/// Payload hash literal a presigned request may sign instead of the body hash (see [`verify`]).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// An HTTP request as received, borrowed from the server's own request type.
///
/// For HTTP/2 requests, pass the `:authority` pseudo-header as a `host` header: clients sign it
/// under that name.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, e.g. `POST`. Compared and signed exactly as given (case-sensitive).
    pub method: &'a str,
    /// Raw path as received on the wire (still percent-encoded), without the query string.
    pub path: &'a str,
    /// Raw query string as received, without the leading `?`; `None` when there was no `?`.
    pub query: Option<&'a str>,
    /// Headers in received order; names in any case; repeated names allowed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The complete request body.
    pub body: &'a [u8],
}

impl fmt::Debug for Request<'_> {
    /// Prints query parameter names, header names and the body length only: values may hold
    /// secrets (session tokens, secret values).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "query_names",
                &self
                    .query
                    .map(|q| canonical::raw_query_pairs(q).map(|(n, _)| n).collect::<Vec<_>>()),
            )
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Where the signature was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `Authorization` header.
    Header,
    /// Presigned query string.
    Query {
        /// Value of `X-Amz-Expires`, in seconds (range-checked by [`check_time`]).
        expires_secs: u64,
    },
}

/// The signature information of a request, as produced by [`parse`].
///
/// `Debug` redacts the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// Header or query form.
    pub form: Form,
    /// Access key id from the credential (`AKIA...`/`ASIA...`), not validated here.
    pub access_key_id: String,
    /// Scope date from the credential, expected to be `YYYYMMDD`.
    pub scope_date: String,
    /// Region from the credential scope.
    pub region: String,
    /// Service from the credential scope.
    pub service: String,
    /// Terminator from the credential scope, expected to be `aws4_request`.
    pub terminator: String,
    /// Signed header names, exactly as listed by the client (normally lower-case and sorted).
    pub signed_headers: Vec<String>,
    /// The signature the client sent (64 lower-case hex digits when well-formed).
    pub signature: String,
    /// The request timestamp exactly as received (`X-Amz-Date`, or the `Date` header).
    pub timestamp_raw: String,
    /// The request timestamp in ISO 8601 basic format (`YYYYMMDDTHHMMSSZ`), as it appears in the
    /// string to sign. Equals `timestamp_raw` unless the time came from an HTTP-date `Date` header.
    pub amz_date: String,
    /// The request timestamp, in UTC.
    pub timestamp: OffsetDateTime,
    /// Session token (`X-Amz-Security-Token` header, or query parameter in the query form).
    pub session_token: Option<String>,
}

impl Auth {
    /// The request timestamp as Unix seconds.
    pub fn unix_timestamp(&self) -> i64 {
        self.timestamp.unix_timestamp()
    }

    /// The credential scope: `<date>/<region>/<service>/<terminator>`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.scope_date, self.region, self.service, self.terminator
        )
    }

    /// The `SignedHeaders` value as it appears in the canonical request (`host;x-amz-date`).
    pub fn signed_headers_line(&self) -> String {
        self.signed_headers.join(";")
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("form", &self.form)
            .field("access_key_id", &self.access_key_id)
            .field("scope_date", &self.scope_date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("terminator", &self.terminator)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .field("timestamp_raw", &self.timestamp_raw)
            .field("amz_date", &self.amz_date)
            .field("timestamp", &self.timestamp)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Message AWS uses when the request carries no authentication at all (JSON protocol services).
pub const MSG_MISSING_JSON: &str = "Missing Authentication Token";

/// Message AWS uses when the request carries no authentication at all (Query protocol: STS, IAM).
pub const MSG_MISSING_QUERY: &str = "Request is missing Authentication Token";

/// Message for a signature that does not match.
pub const MSG_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the \
     signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
     service documentation for details.";

/// Why a request failed SigV4 authentication. `Display` gives the AWS message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// No `Authorization` header starting with `AWS4-` and no `X-Amz-Algorithm` query parameter.
    /// Query-protocol services word this differently: see [`SigV4Error::query_message`].
    #[error("Missing Authentication Token")]
    Missing,
    /// Malformed signature information. The message is AWS's, e.g.
    /// `Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 ...`.
    #[error("{0}")]
    Incomplete(String),
    /// Both an `Authorization` header and an `X-Amz-Algorithm` query parameter.
    #[error("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")]
    BothForms,
    /// The request is too old (header form) or the presigned URL has expired.
    #[error("{0}")]
    Expired(String),
    /// The request is dated too far in the future.
    #[error("{0}")]
    NotYetCurrent(String),
    /// The credential scope is wrong, or `host` is not signed.
    #[error("{0}")]
    Scope(String),
    /// The request carries a header the service requires to be signed, but the signature does
    /// not cover it (see [`check_signed`]). The payload is the header name as the service spells it.
    #[error("'{0}' must be a 'SignedHeader' in the AWS Authorization.")]
    UnsignedHeader(String),
    /// The recomputed signature differs from the one sent.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch,
    /// An `AWS4-` algorithm other than `AWS4-HMAC-SHA256` (the payload is the algorithm sent).
    #[error("Unsupported AWS 'algorithm': '{0}' (only AWS4-HMAC-SHA256 for now). ")]
    UnsupportedAlgorithm(String),
}

/// The AWS error family a [`SigV4Error`] belongs to, for mapping to protocol error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No authentication at all.
    MissingAuthenticationToken,
    /// Malformed or unsupported signature information.
    IncompleteSignature,
    /// Signature, time or scope problem.
    InvalidSignature,
}

impl ErrorKind {
    /// Error code for JSON protocol services (Secrets Manager, KMS).
    pub fn json_code(self) -> &'static str {
        match self {
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
        }
    }

    /// Error code for Query protocol services (STS, IAM).
    pub fn query_code(self) -> &'static str {
        match self {
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationToken",
            ErrorKind::IncompleteSignature => "IncompleteSignature",
            ErrorKind::InvalidSignature => "SignatureDoesNotMatch",
        }
    }
}

impl SigV4Error {
    /// Which AWS error family this is.
    ///
    /// `Missing` → [`ErrorKind::MissingAuthenticationToken`]; `Incomplete` and
    /// `UnsupportedAlgorithm` → [`ErrorKind::IncompleteSignature`]; everything else (both forms,
    /// time, scope, an unsigned required header, mismatch) → [`ErrorKind::InvalidSignature`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            SigV4Error::Missing => ErrorKind::MissingAuthenticationToken,
            SigV4Error::Incomplete(_) | SigV4Error::UnsupportedAlgorithm(_) => ErrorKind::IncompleteSignature,
            SigV4Error::BothForms
            | SigV4Error::Expired(_)
            | SigV4Error::NotYetCurrent(_)
            | SigV4Error::Scope(_)
            | SigV4Error::UnsignedHeader(_)
            | SigV4Error::SignatureMismatch => ErrorKind::InvalidSignature,
        }
    }

    /// The message for Query protocol services: the same as `Display` except for
    /// [`SigV4Error::Missing`], which reads `Request is missing Authentication Token` there.
    pub fn query_message(&self) -> String {
        match self {
            SigV4Error::Missing => MSG_MISSING_QUERY.to_owned(),
            other => other.to_string(),
        }
    }
}
