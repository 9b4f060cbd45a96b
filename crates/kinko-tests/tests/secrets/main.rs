//! Secrets Manager through the official `aws-sdk-secretsmanager` client, a module per feature:
//! creating, reading, updating and describing secrets, versions and staging labels, deletion and
//! recovery, listing, tags, resource policies, random passwords, rotation by a rotation function,
//! what works on a secret missing or
//! scheduled for deletion (a table), errors shared by every operation, and encryption under KMS
//! keys.
//!
//! Tests share one server (per test binary) and work on secrets with unique names; the tests that
//! move time (recovery windows, dates) or need a SQLite data dir run a server of their own.

mod accessed;
mod batch_get;
mod create;
mod deletion;
mod describe;
mod encryption;
mod errors;
mod get;
mod listing;
mod random_password;
mod replication;
mod resource_policy;
mod rotation;
mod stages;
mod states;
mod tags;
mod update;
mod versions;

use aws_sdk_secretsmanager::Client;
use kinko_tests::TestServer;

/// A root Secrets Manager client of the shared server.
fn sm() -> Client {
    TestServer::start().client()
}

/// A root client of the shared server and a new secret `<prefix>-<uuid>` holding `value`:
/// `(client, name, ARN, VersionId)`.
async fn secret(prefix: &str, value: &str) -> (Client, String, String, String) {
    use kinko_tests::SecretsExt;
    let (client, name) = (sm(), kinko_tests::unique_name(prefix));
    let (arn, version) = client.create_string(&name, value).await;
    (client, name, arn, version)
}

/// Fails unless `secs` (a date, in epoch seconds) is within a minute of now.
#[track_caller]
fn assert_now(secs: i64, what: &str) {
    let now = kinko_tests::now_secs();
    assert!((secs - now).abs() < 60, "{what} {secs} is not now ({now})");
}
