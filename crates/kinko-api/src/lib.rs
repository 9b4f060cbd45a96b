//! The AWS services kinko speaks: one module per service, one file per operation.
//!
//! Shared machinery here decodes and validates input, resolves the resource, authorizes and retries
//! optimistic-concurrency conflicts; an operation only does its work. No HTTP and no SQL in this
//! crate: it sees requests as (operation name, body bytes) and storage through `kinko_core::Store`.

pub mod authz;
pub mod iam;
pub mod keyring;
pub mod kms;
pub mod organizations;
pub mod secretsmanager;
pub mod sts;

use std::sync::Arc;

use kinko_core::Clock;
use kinko_core::principal::Principal;
use kinko_core::store::Store;

pub use keyring::Keyring;

/// Everything an operation may use. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub keyring: Arc<Keyring>,
    /// Parsed policies, cached per principal and IAM revision.
    pub policies: Arc<authz::PolicyCache>,
}

impl Services {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keyring: Arc<Keyring>) -> Self {
        Services {
            store,
            clock,
            keyring,
            policies: Arc::default(),
        }
    }
}

/// One authenticated request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Principal,
    /// The region from the request's SigV4 credential scope.
    pub region: String,
    pub request_id: String,
    /// Set when the request was signed with temporary (STS) credentials.
    pub session: Option<Session>,
    /// The client's address (`aws:SourceIp`).
    pub source_ip: Option<std::net::IpAddr>,
}

impl RequestContext {
    pub fn new(principal: Principal, region: &str, request_id: &str) -> Self {
        RequestContext {
            principal,
            region: region.to_owned(),
            request_id: request_id.to_owned(),
            session: None,
            source_ip: None,
        }
    }
}

/// What temporary credentials carry besides the principal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// Credentials from `AssumeRole` (role session) or `GetSessionToken` (the user's own session).
    pub kind: SessionKind,
    /// Inline session policy documents; the session can do at most what these allow.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Session tags (`aws:PrincipalTag/*` for role sessions).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub expiration: kinko_core::Timestamp,
    #[serde(default)]
    pub source_identity: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionKind {
    AssumedRole,
    SessionToken,
}
