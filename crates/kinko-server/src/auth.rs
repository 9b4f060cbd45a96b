//! Authentication: SigV4 on every request. Access keys resolve to principals through an in-memory
//! cache in front of the store (secrets decrypted from the root key only in memory); signing keys
//! are cached per (key, date, region, service) so a request costs one HMAC, not five.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kinko_api::Services;
use kinko_core::principal::{AccessKeyStatus, Principal};
use kinko_sigv4::{Auth, Request, SigV4Error, SigningKey};
use kinko_wire::WireError;
use zeroize::Zeroizing;

/// Largest number of cached signing keys before the cache is cleared.
const MAX_SIGNING_KEYS: usize = 16_384;

struct Credential {
    secret: Zeroizing<Vec<u8>>,
    principal: Principal,
    active: bool,
}

/// How an authentication failure is reported: JSON services and Query services differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Json,
    Query,
}

pub(crate) struct Authenticator {
    services: Services,
    credentials: RwLock<HashMap<String, Arc<Credential>>>,
    signing_keys: RwLock<HashMap<(String, String, String, String), SigningKey>>,
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

fn unrecognized(protocol: Protocol) -> WireError {
    match protocol {
        Protocol::Json => WireError::new(
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ),
        Protocol::Query => WireError::new(
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid",
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
            credentials: RwLock::default(),
            signing_keys: RwLock::default(),
        }
    }

    /// Parses the signature information (no secrets involved yet).
    pub fn parse(req: &Request<'_>, protocol: Protocol) -> Result<Auth, WireError> {
        kinko_sigv4::parse(req).map_err(|e| sigv4_error(&e, protocol))
    }

    async fn credential(&self, access_key_id: &str) -> Result<Option<Arc<Credential>>, String> {
        if let Some(c) = self
            .credentials
            .read()
            .ok()
            .and_then(|m| m.get(access_key_id).cloned())
        {
            return Ok(Some(c));
        }
        let Some(record) = self
            .services
            .store
            .access_key(access_key_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let secret = self
            .services
            .keyring
            .root()
            .open(&record.sealed_secret, access_key_id.as_bytes())
            .map_err(|e| e.to_string())?;
        let cred = Arc::new(Credential {
            secret: Zeroizing::new(secret.to_vec()),
            principal: record.principal,
            active: record.status == AccessKeyStatus::Active,
        });
        if let Ok(mut m) = self.credentials.write() {
            m.insert(access_key_id.to_owned(), cred.clone());
        }
        Ok(Some(cred))
    }

    fn signing_key(&self, cred: &Credential, auth: &Auth) -> SigningKey {
        let id = (
            auth.access_key_id.clone(),
            auth.scope_date.clone(),
            auth.region.clone(),
            auth.service.clone(),
        );
        if let Some(k) = self.signing_keys.read().ok().and_then(|m| m.get(&id).cloned()) {
            return k;
        }
        let key = kinko_sigv4::signing_key(&cred.secret, &auth.scope_date, &auth.region, &auth.service);
        if let Ok(mut m) = self.signing_keys.write() {
            if m.len() >= MAX_SIGNING_KEYS {
                m.clear();
            }
            m.insert(id, key.clone());
        }
        key
    }

    /// Checks a parsed request in AWS's order: access key, session token, time, scope, signature.
    pub async fn authenticate(
        &self,
        req: &Request<'_>,
        auth: &Auth,
        service: &str,
        protocol: Protocol,
    ) -> Result<Principal, WireError> {
        let cred = match self.credential(&auth.access_key_id).await {
            Ok(Some(c)) if c.active => c,
            Ok(_) => return Err(unrecognized(protocol)),
            Err(e) => {
                tracing::error!(error = %e, "credential lookup failed");
                return Err(internal(protocol));
            }
        };
        // Long-term keys carry no session token; temporary (STS) credentials will.
        if auth.session_token.is_some() {
            return Err(unrecognized(protocol));
        }
        let now = self.services.clock.now().to_offset_date_time();
        kinko_sigv4::check_time(auth, now).map_err(|e| sigv4_error(&e, protocol))?;
        kinko_sigv4::check_scope(auth, service).map_err(|e| sigv4_error(&e, protocol))?;
        let key = self.signing_key(&cred, auth);
        kinko_sigv4::verify(req, auth, &key).map_err(|e| sigv4_error(&e, protocol))?;
        Ok(cred.principal.clone())
    }
}
