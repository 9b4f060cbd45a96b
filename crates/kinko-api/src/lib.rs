//! The AWS services kinko speaks: one module per service, one file per operation.
//!
//! Shared machinery here decodes and validates input, resolves the resource, authorizes and retries
//! optimistic-concurrency conflicts; an operation only does its work. No HTTP and no SQL in this
//! crate: it sees requests as (operation name, body bytes) and storage through `kinko_core::Store`.

pub mod authz;
pub mod keyring;
pub mod secretsmanager;

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
}

/// One authenticated request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Principal,
    /// The region from the request's SigV4 credential scope.
    pub region: String,
    pub request_id: String,
}
