//! The Secrets Manager operations the benchmark issues and their request bodies.

use std::fmt;

use clap::ValueEnum;
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

/// An operation loaded by the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Op {
    /// GetSecretValue of a random seeded secret.
    Get,
    /// PutSecretValue to a random seeded secret with a fresh ClientRequestToken.
    Put,
    /// DescribeSecret of a random seeded secret.
    Describe,
    /// ListSecrets with MaxResults 100.
    List,
}

impl Op {
    /// The operation name, as in `X-Amz-Target: secretsmanager.<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "GetSecretValue",
            Op::Put => "PutSecretValue",
            Op::Describe => "DescribeSecret",
            Op::List => "ListSecrets",
        }
    }

    /// Whether the operation addresses one of the seeded secrets.
    pub fn needs_secrets(self) -> bool {
        !matches!(self, Op::List)
    }

    /// A request body for one call, picking a random secret among `secrets`.
    pub fn body(self, rng: &mut impl Rng, secrets: usize) -> Vec<u8> {
        let value = match self {
            Op::Get | Op::Describe => json!({ "SecretId": secret_name(pick(rng, secrets)) }),
            Op::Put => json!({
                "SecretId": secret_name(pick(rng, secrets)),
                "SecretString": secret_value(rng),
                "ClientRequestToken": random_uuid(rng).to_string(),
            }),
            Op::List => json!({ "MaxResults": 100 }),
        };
        value.to_string().into_bytes()
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Name of the `index`-th seeded secret.
pub fn secret_name(index: usize) -> String {
    format!("bench-{index}")
}

/// Body of the CreateSecret call that seeds the `index`-th secret.
pub fn create_secret_body(rng: &mut impl Rng, index: usize) -> Vec<u8> {
    json!({
        "Name": secret_name(index),
        "SecretString": secret_value(rng),
        "ClientRequestToken": random_uuid(rng).to_string(),
    })
    .to_string()
    .into_bytes()
}

/// A small JSON credential document, the typical shape of a stored secret (~90 bytes).
fn secret_value(rng: &mut impl Rng) -> String {
    let password: u128 = rng.random();
    json!({
        "engine": "postgres",
        "username": "app",
        "password": format!("{password:032x}"),
    })
    .to_string()
}

fn pick(rng: &mut impl Rng, secrets: usize) -> usize {
    rng.random_range(0..secrets.max(1))
}

/// A version 4 UUID drawn from `rng` (avoids a system call per request).
pub fn random_uuid(rng: &mut impl Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}
