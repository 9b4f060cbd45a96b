//! Authentication: SigV4 on every request. Access keys resolve to principals through an in-memory
//! cache in front of the store (secrets decrypted from the root key only in memory); signing keys
//! are cached per (key, date, region, service) so a request costs one HMAC, not five.

use std::collections::HashMap;
use std::sync::RwLock;

use kinko_api::{Services, Session};
use kinko_core::principal::{AccessKeyStatus, Principal};
use kinko_sigv4::{Auth, Request, SigV4Error, SigningKey};
use kinko_wire::WireError;
use zeroize::Zeroizing;

/// Largest number of cached signing keys before the cache is cleared.
const MAX_SIGNING_KEYS: usize = 16_384;

/// How an authentication failure is reported: JSON services and Query services differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Json,
    Query,
}

pub(crate) struct Authenticator {
    services: Services,
    signing_keys: RwLock<HashMap<(String, String, String, String), SigningKey>>,
}

/// Who signed a request, and the session their temporary credentials carry.
pub(crate) struct Authenticated {
    pub principal: Principal,
    pub session: Option<Session>,
}

fn sigv4_error(e: &SigV4Error, protocol: Protocol) -> WireError {
    let kind = e.kind();
    match protocol {
        Protocol::Json => WireError::new(kind.json_code(), 400, e.to_string()),
        Protocol::Query => {
            let status = if kind == kinko_sigv4::ErrorKind::IncompleteSignature {
                400
            } else {
                403
            };
            WireError::new(kind.query_code(), status, e.query_message())
        }
    }
}

/// Why a request's credentials were not recognized. AWS words the two cases differently, down to
/// the final period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unrecognized {
    /// No active access key with this id (unknown, deleted, inactive, or a temporary key id sent
    /// without its session token): `The security token included in the request is invalid.`,
    /// with a period, in both protocols. Sources: DynamoDB's answer to an unknown key id recorded
    /// in the comments of mhart/dynalite `index.js` ("THEN check keyid"); STS's, quoted from real responses
    /// in hashicorp/terraform-provider-aws#13695 and #24197 and boto3 output in
    /// leeroybrun/glacier-vault-remove#51 (`InvalidClientTokenId ... is invalid.`); moto's
    /// `InvalidClientTokenIdError`.
    AccessKey,
    /// The key id came with a session token that doesn't open, or temporary credentials not
    /// allowed to make the call: `The security token included in the request is invalid`, no
    /// period. Sources: DynamoDB's answer to a bad `X-Amz-Security-Token` in the same dynalite
    /// comments ("THEN check X-Amz-Security-Token"); a raw STS `<ErrorResponse>` quoted in
    /// aws-azure-login/aws-azure-login#251; IAM refusing GetSessionToken credentials,
    /// 99designs/aws-vault#328 (`... when calling the ListUsers operation: The security token
    /// included in the request is invalid`).
    SessionToken,
}

pub(crate) fn unrecognized(protocol: Protocol, why: Unrecognized) -> WireError {
    let message = match why {
        Unrecognized::AccessKey => "The security token included in the request is invalid.",
        Unrecognized::SessionToken => "The security token included in the request is invalid",
    };
    match protocol {
        Protocol::Json => WireError::new("UnrecognizedClientException", 400, message),
        Protocol::Query => WireError::new("InvalidClientTokenId", 403, message),
    }
}

/// The clock skew STS and IAM accept: 15 minutes, as their `Signature expired: ... (<now> - 15
/// min.)` answers show (aws/aws-cli#6676, GetCallerIdentity; devsecops/bootcamp#101, AssumeRole).
/// The JSON services (Secrets Manager, KMS) accept 5 ([`kinko_sigv4::MAX_SKEW_SECS`]).
const QUERY_MAX_SKEW_SECS: i64 = 15 * 60;

/// STS and IAM answer a signature mismatch with the canonical request and string to sign they
/// computed after AWS's message, as recorded in boto/boto3#756 (STS) and aws/aws-cli#5341 (SQS,
/// the same Query front end): `<message>\n\nThe Canonical String for this request should have
/// been\n'<canonical>'\n\nThe String-to-Sign should have been\n'<string to sign>'\n`. They let
/// a client see what differs (a presigned URL signed for POST and fetched with GET shows `GET`).
/// Computed over the request as received; the only secret-derived value, the signature, is not
/// part of either.
fn query_mismatch(req: &Request<'_>, auth: &kinko_sigv4::Auth) -> WireError {
    let message = match kinko_sigv4::canonical_request(req, auth) {
        Ok(canonical) => format!(
            "{}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n\
             The String-to-Sign should have been\n'{}'\n",
            kinko_sigv4::MSG_SIGNATURE_MISMATCH,
            kinko_sigv4::string_to_sign(auth, &canonical)
        ),
        // A signed header missing from the request: there is no canonical request to show.
        Err(_) => kinko_sigv4::MSG_SIGNATURE_MISMATCH.to_owned(),
    };
    WireError::new("SignatureDoesNotMatch", 403, message)
}

fn expired(protocol: Protocol) -> WireError {
    match protocol {
        Protocol::Json => WireError::new(
            "ExpiredTokenException",
            400,
            "The security token included in the request is expired",
        ),
        Protocol::Query => WireError::new(
            "ExpiredToken",
            403,
            "The security token included in the request is expired",
        ),
    }
}

fn internal(protocol: Protocol) -> WireError {
    match protocol {
        Protocol::Json => WireError::new("InternalFailure", 500, "An internal error occurred."),
        Protocol::Query => WireError::new("ServiceFailure", 500, "An internal error occurred."),
    }
}

impl Authenticator {
    pub fn new(services: Services) -> Self {
        Authenticator {
            services,
            signing_keys: RwLock::default(),
        }
    }

    /// Parses the signature information (no secrets involved yet).
    pub fn parse(req: &Request<'_>, protocol: Protocol) -> Result<Auth, WireError> {
        kinko_sigv4::parse(req).map_err(|e| sigv4_error(&e, protocol))
    }

    /// The signing key for `auth`, derived from `secret` unless cached. Keys are cached per
    /// (access key, date, region, service): a request then costs one HMAC instead of five.
    fn signing_key(
        &self,
        secret: impl FnOnce() -> Option<Zeroizing<Vec<u8>>>,
        auth: &Auth,
    ) -> Option<SigningKey> {
        let id = (
            auth.access_key_id.clone(),
            auth.scope_date.clone(),
            auth.region.clone(),
            auth.service.clone(),
        );
        if let Some(k) = self.signing_keys.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Some(k);
        }
        let secret = secret()?;
        let key = kinko_sigv4::signing_key(&secret, &auth.scope_date, &auth.region, &auth.service);
        if let Ok(mut m) = self.signing_keys.write() {
            if m.len() >= MAX_SIGNING_KEYS {
                m.clear();
            }
            m.insert(id, key.clone());
        }
        Some(key)
    }

    /// Resolves the access key to a principal and its secret: a long-term key from the store, or
    /// temporary credentials from their sealed session token.
    async fn resolve(
        &self,
        auth: &Auth,
        protocol: Protocol,
    ) -> Result<(Authenticated, Option<Zeroizing<Vec<u8>>>, Option<Vec<u8>>), WireError> {
        if let Some(token) = &auth.session_token {
            let claims = kinko_api::sts::open_session_token(&self.services, &auth.access_key_id, token)
                .map_err(|r| match r {
                    kinko_api::sts::SessionRefused::Invalid => {
                        unrecognized(protocol, Unrecognized::SessionToken)
                    }
                    kinko_api::sts::SessionRefused::Expired => expired(protocol),
                })?;
            let secret = Zeroizing::new(claims.secret_access_key.as_bytes().to_vec());
            // The claims were opened for this request alone: their principal and session move.
            let who = Authenticated {
                principal: claims.principal,
                session: Some(claims.session),
            };
            return Ok((who, Some(secret), None));
        }
        if auth.access_key_id.starts_with("ASIA") {
            // Temporary credentials without their token: no such long-term key.
            return Err(unrecognized(protocol, Unrecognized::AccessKey));
        }
        let record = match self.services.store.access_key(&auth.access_key_id).await {
            Ok(Some(r)) if r.status == AccessKeyStatus::Active => r,
            Ok(_) => return Err(unrecognized(protocol, Unrecognized::AccessKey)),
            Err(e) => {
                tracing::error!(error = %e, "credential lookup failed");
                return Err(internal(protocol));
            }
        };
        let who = Authenticated {
            principal: record.principal,
            session: None,
        };
        Ok((who, None, Some(record.sealed_secret)))
    }

    /// Checks a parsed request in AWS's order: access key, session token, time, scope (and the
    /// headers that must be signed), signature.
    pub async fn authenticate(
        &self,
        req: &Request<'_>,
        auth: &Auth,
        service: &str,
        protocol: Protocol,
    ) -> Result<Authenticated, WireError> {
        let (who, plain_secret, sealed_secret) = self.resolve(auth, protocol).await?;
        // Clients sign with their own clock, which a dev server's moved clock leaves behind.
        let now = self.services.clock.signing_now().to_offset_date_time();
        let max_skew = match protocol {
            Protocol::Json => kinko_sigv4::MAX_SKEW_SECS,
            Protocol::Query => QUERY_MAX_SKEW_SECS,
        };
        kinko_sigv4::check_time_within(auth, now, max_skew).map_err(|e| sigv4_error(&e, protocol))?;
        kinko_sigv4::check_scope(auth, service).map_err(|e| sigv4_error(&e, protocol))?;
        // `X-Amz-Target` names the operation of a JSON request: unsigned, a signed DescribeSecret
        // could be replayed as GetSecretValue. AWS's SDKs always sign it; a request that doesn't
        // is refused the way AWS refuses a required header left out of `SignedHeaders`
        // (`InvalidSignatureException`: `'X-Amz-Target' must be a 'SignedHeader' in the AWS
        // Authorization.`, the sentence AWS uses for `Host`), before the signature is checked.
        kinko_sigv4::check_signed(req, auth, "X-Amz-Target").map_err(|e| sigv4_error(&e, protocol))?;
        let root = self.services.keyring.root();
        let key = self
            .signing_key(
                || match (plain_secret, sealed_secret) {
                    (Some(s), _) => Some(s),
                    (None, Some(sealed)) => root
                        .open(&sealed, auth.access_key_id.as_bytes())
                        .ok()
                        .map(|s| Zeroizing::new(s.to_vec())),
                    (None, None) => None,
                },
                auth,
            )
            .ok_or_else(|| internal(protocol))?;
        kinko_sigv4::verify(req, auth, &key).map_err(|e| match (&e, protocol) {
            (SigV4Error::SignatureMismatch, Protocol::Query) => query_mismatch(req, auth),
            _ => sigv4_error(&e, protocol),
        })?;
        // A long-term key's use, for GetAccessKeyLastUsed (temporary credentials have none).
        if auth.session_token.is_none() {
            self.services.key_usage.record(
                &auth.access_key_id,
                &auth.service,
                &auth.region,
                self.services.clock.now(),
            );
        }
        Ok(who)
    }
}
