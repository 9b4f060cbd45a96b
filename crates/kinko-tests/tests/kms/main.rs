//! KMS through the official `aws-sdk-kms` client, a module per feature: keys and their metadata,
//! key identifiers, aliases, encryption and data keys, asymmetric and HMAC keys, key states (a table of what works in
//! which), rotation, tags, key policy documents, grants, and authorization (key policies with identity
//! policies, condition keys, other accounts' principals).
//!
//! Tests share one server (per test binary) and work on keys and aliases of their own; the tests
//! that move time (purging keys, automatic rotation) run a server of their own on a manual clock.

mod aliases;
mod asymmetric;
mod authorization;
mod conditions;
mod crypto;
mod data_keys;
mod grants;
mod identifiers;
mod import;
mod key_policy;
mod keys;
mod multi_region;
mod rotation;
mod states;
mod tags;

use aws_sdk_kms::Client;
use kinko_tests::TestServer;

const INCORRECT_KEY: &str =
    "The key ID in the request does not identify a CMK that can perform this operation.";
const LOCKOUT: &str = "The new key policy will not allow you to update the key policy in the future.";
const DRY_RUN: &str = "The request would have succeeded, but the DryRun option is set.";

/// A root KMS client of the shared server.
fn kms() -> Client {
    TestServer::start().kms_client()
}

/// The shared server's account.
fn account() -> String {
    TestServer::start().account_id().to_owned()
}
