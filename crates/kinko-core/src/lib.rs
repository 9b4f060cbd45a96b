//! kinko's domain: accounts, principals, secrets (the version/stage state machine), KMS key records,
//! the `Store` trait every storage backend implements, and the injectable `Clock`.
//!
//! Pure logic plus trait definitions: no SQL, no HTTP, no cryptography. Storage backends depend on this
//! crate, never the other way round.

pub mod arn;
pub mod aws_managed_policies;
pub mod clock;
pub mod filters;
pub mod function;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod login;
pub mod mfa;
pub mod organizations;
pub mod password;
pub mod principal;
pub mod rotation;
pub mod secret;
pub mod stack;
pub mod store;
pub mod workload;

pub use clock::{Clock, DevClock, ManualClock, SystemClock, Timestamp};
