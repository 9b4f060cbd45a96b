//! kinko-tests: the integration-test harness. Every test drives a real kinko server, in process,
//! over HTTP, with the official AWS SDKs for Rust, exactly as an unmodified AWS application
//! would.
//!
//! What it offers (everything is re-exported here; `use kinko_tests::*;` or pick):
//!
//! - [`server`]: [`TestServer::start`] (the dev-mode server shared by a test binary),
//!   [`TestServer::start_with`] / [`TestServer::start_manual`] (a server of the test's own, for
//!   its own config or clock), and clients of every service for root or any
//!   [`TestCredentials`].
//! - [`principal`]: callers. [`TestServer::root`], [`TestServer::user`] ("a user with this
//!   policy"), [`TestServer::role`], [`Principal::assume`], [`member`] (a member account of the
//!   organization with an administrator); a [`Principal`] has a client per service
//!   (`.sm()`, `.kms()`, `.iam()`, `.sts()`, `.org()`).
//! - [`policy`]: policy documents ([`allow`], [`statement`], [`trust_policy`], ...) and AWS's
//!   `AccessDenied` messages ([`access_denied`] with a [`Denial`]).
//! - [`errors`]: assertions on typed SDK errors, code and exact message: [`outcome`] compared with
//!   [`failed`], [`expect_err!`] with [`assert_error`]; the model's validation messages.
//! - [`secrets`]: unique names, [`SecretsExt`] (create, read, describe, put, delete on any Secrets
//!   Manager client), Secrets Manager's messages.
//! - [`audit`]: [`AuditedServer`], a server writing its audit log to a temp file, and the
//!   [`AuditLog`] it leaves: the records of a request, and checks that a value appears nowhere.
//! - [`metrics`]: [`Scrape`], the server's `/metrics` read as a client like Prometheus reads it.
//! - [`tls`]: [`TestCa`] (a CA of the test's own issuing server certificates as `--tls-cert` /
//!   `--tls-key` files), [`TestServer::trusting`] (clients over HTTPS), [`TlsProbe`] (one TLS
//!   connection, showing the certificate the server presents).
//! - [`lambda`]: deployment packages ([`zip_of`]), execution roles trusting Lambda
//!   ([`Principal::execution_role`]), a function created with the SDK.
//! - [`kms`]: [`KmsExt`] (keys, aliases, encryption, the `try_*` outcomes), key policies granting a
//!   principal, KMS's messages.
//! - [`databases`]: databases whose logins need their passwords, for rotation functions:
//!   [`PrivatePostgres`] (a PostgreSQL cluster of the test's own, SCRAM-SHA-256 on 127.0.0.1) and
//!   [`MariaDb`] (the server `KINKO_TEST_MYSQL_URL` names), with users and login checks.
//!
//! Test binaries are one per area (`tests/<area>/main.rs` with a module per feature): each binary
//! links the AWS SDKs, so a new feature's tests go into a module of its area's binary, not into a
//! new `tests/*.rs`.

pub mod audit;
pub mod browser;
pub mod databases;
pub mod errors;
pub mod kms;
pub mod lambda;
pub mod metrics;
pub mod oidc;
pub mod policy;
pub mod principal;
mod raw;
pub mod saml;
pub mod secrets;
pub mod server;
pub mod tls;

use std::time::{SystemTime, UNIX_EPOCH};

pub use audit::*;
pub use databases::*;
pub use errors::*;
pub use kinko_server::{Config, MetricsListen, TlsFiles};
pub use kms::*;
pub use lambda::*;
pub use metrics::*;
pub use policy::*;
pub use principal::*;
pub use raw::{RawResponse, Signing, http_get, send_to};
pub use secrets::*;
pub use server::*;
pub use tls::*;

/// A short random tag for names that must be unique but stay short (12 hex digits).
pub fn short_id() -> String {
    let mut s = uuid::Uuid::new_v4().simple().to_string();
    s.truncate(12);
    s
}

/// Seconds since the epoch, now, by the system clock.
pub fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("system time after the epoch")
            .as_secs(),
    )
    .expect("seconds fit i64")
}

/// Seconds in a day.
pub const DAY: i64 = 86_400;
