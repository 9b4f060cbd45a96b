//! The audit trail you can trust: records durable before the answer and calls failing closed when
//! they cannot be written (`fail_closed`), the hash chain and seals `kinko audit verify` checks
//! (`verify`), and rotation, retention and reopening with the chain continuing (`rotation`).

mod fail_closed;
mod rotation;
mod verify;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use kinko_tests::*;

/// A client that tries each call once, so a refused call shows as its error.
pub fn once(server: &TestServer) -> Client {
    Client::from_conf(
        server
            .config_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

/// Creates a secret; returns its name.
pub async fn create(client: &Client, prefix: &str) -> String {
    let name = unique_name(prefix);
    client
        .create_secret()
        .name(&name)
        .secret_string("audit-trail-value")
        .send()
        .await
        .expect("create secret");
    name
}

/// The `sequence` numbers of the records of `files`, in order.
pub fn sequences(files: &[std::path::PathBuf]) -> Vec<u64> {
    files
        .iter()
        .flat_map(|f| read_records(f))
        .map(|r| r["sequence"].as_u64().expect("sequence"))
        .collect()
}
