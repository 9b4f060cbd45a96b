//! The operations the benchmark issues, their request bodies and the key policies it sets.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::ValueEnum;
use rand::Rng;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::signing::Api;

/// An operation loaded by the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Op {
    /// GetSecretValue of a random seeded secret (encrypted under aws/secretsmanager).
    Get,
    /// PutSecretValue to a random seeded secret with a fresh ClientRequestToken.
    Put,
    /// DescribeSecret of a random seeded secret.
    Describe,
    /// ListSecrets with MaxResults 100.
    List,
    /// ListSecrets with MaxResults 100 and a `name` filter: the prefix `bench-N` of a random
    /// seeded secret (it and the secrets whose number extends N: about 1 in 10^k for N of k digits).
    ListName,
    /// ListSecrets with MaxResults 100 and a `tag-value` filter: `team-N` for a random N below
    /// [`TAG_VALUES`] (the seeded secrets carry the tag `team` = `team-{index % TAG_VALUES}` with
    /// `--seed-tags`; the prefix `team-7` also matches `team-70` ...).
    ListTag,
    /// CreateSecret of a new secret with a random name (`bench-new-UUID`), a value of ~90 bytes.
    Create,
    /// KMS Encrypt of 64 random bytes under the benchmark's customer managed key, with an encryption context.
    Encrypt,
    /// KMS Decrypt of a random pre-made ciphertext, with its encryption context.
    Decrypt,
    /// KMS GenerateDataKey (AES_256) under the benchmark's customer managed key, with an encryption context.
    GenerateDataKey,
    /// GetSecretValue of a random secret encrypted under a customer managed key (--cmk-secrets).
    GetCmk,
    /// GetSecretValue as `get`, after every secret was read once (as --pre-read does, but only
    /// before these runs): `--ops get,get-warm` measures the first read of the day of fresh
    /// secrets and repeated reads in one invocation, and reports fresh as a share of warm.
    GetWarm,
}

impl Op {
    /// The service the operation belongs to.
    pub fn api(self) -> Api {
        match self {
            Op::Get
            | Op::GetWarm
            | Op::Put
            | Op::Describe
            | Op::List
            | Op::ListName
            | Op::ListTag
            | Op::Create
            | Op::GetCmk => Api::SecretsManager,
            Op::Encrypt | Op::Decrypt | Op::GenerateDataKey => Api::Kms,
        }
    }

    /// The operation as in `X-Amz-Target: <prefix>.<operation>`.
    pub fn operation(self) -> &'static str {
        match self {
            Op::Get | Op::GetWarm | Op::GetCmk => "GetSecretValue",
            Op::Put => "PutSecretValue",
            Op::Describe => "DescribeSecret",
            Op::List | Op::ListName | Op::ListTag => "ListSecrets",
            Op::Create => "CreateSecret",
            Op::Encrypt => "Encrypt",
            Op::Decrypt => "Decrypt",
            Op::GenerateDataKey => "GenerateDataKey",
        }
    }

    /// The name shown in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::GetCmk => "GetSecretValue (CMK)",
            Op::GetWarm => "GetSecretValue (warm)",
            Op::ListName => "ListSecrets (name filter)",
            Op::ListTag => "ListSecrets (tag-value filter)",
            other => other.operation(),
        }
    }

    /// Whether the operation addresses one of the secrets `bench-0` ...
    pub fn needs_secrets(self) -> bool {
        matches!(
            self,
            Op::Get | Op::GetWarm | Op::Put | Op::Describe | Op::ListName | Op::ListTag
        )
    }

    /// Whether the operation addresses one of the secrets `bench-cmk-0` ...
    pub fn needs_cmk_secrets(self) -> bool {
        self == Op::GetCmk
    }

    /// Whether the operation uses the benchmark's KMS key (`alias/kinko-bench`).
    pub fn needs_kms_key(self) -> bool {
        matches!(self, Op::Encrypt | Op::Decrypt | Op::GenerateDataKey)
    }

    /// A request body for one call, picking a random secret or ciphertext of `workload`.
    pub fn body(self, rng: &mut impl Rng, workload: &Workload) -> Vec<u8> {
        let value = match self {
            Op::Get | Op::GetWarm | Op::Describe => {
                json!({ "SecretId": secret_name(pick(rng, workload.secrets)) })
            }
            Op::GetCmk => json!({ "SecretId": cmk_secret_name(pick(rng, workload.cmk_secrets)) }),
            Op::Put => json!({
                "SecretId": secret_name(pick(rng, workload.secrets)),
                "SecretString": secret_value(rng),
                "ClientRequestToken": random_uuid(rng).to_string(),
            }),
            Op::List => json!({ "MaxResults": 100 }),
            Op::ListName => json!({
                "MaxResults": 100,
                "Filters": [{ "Key": "name", "Values": [secret_name(pick(rng, workload.secrets))] }],
            }),
            Op::ListTag => json!({
                "MaxResults": 100,
                "Filters": [{ "Key": "tag-value", "Values": [tag_value(pick(rng, TAG_VALUES))] }],
            }),
            Op::Create => {
                let name = format!("bench-new-{}", random_uuid(rng));
                return create_secret_body(rng, &name, None, None);
            }
            Op::Encrypt => encrypt_request(rng, &workload.kms_key_arn, Some(encryption_context())),
            Op::Decrypt => {
                let blob = workload
                    .ciphertexts
                    .get(pick(rng, workload.ciphertexts.len()))
                    .map_or("", String::as_str);
                json!({ "CiphertextBlob": blob, "EncryptionContext": encryption_context() })
            }
            Op::GenerateDataKey => json!({
                "KeyId": workload.kms_key_arn,
                "KeySpec": "AES_256",
                "EncryptionContext": encryption_context(),
            }),
        };
        value.to_string().into_bytes()
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the requests of a run address.
#[derive(Debug, Clone, Default)]
pub struct Workload {
    /// Number of secrets `bench-0` ... (aws/secretsmanager).
    pub secrets: usize,
    /// Number of secrets `bench-cmk-0` ... (customer managed key).
    pub cmk_secrets: usize,
    /// ARN of the key Encrypt and GenerateDataKey name (`alias/kinko-bench`).
    pub kms_key_arn: String,
    /// Base64 ciphertexts Decrypt picks from, made by Encrypt with [`encryption_context`].
    pub ciphertexts: Vec<String>,
}

/// Name of the `index`-th seeded secret.
pub fn secret_name(index: usize) -> String {
    format!("bench-{index}")
}

/// Name of the `index`-th secret under the customer managed key.
pub fn cmk_secret_name(index: usize) -> String {
    format!("bench-cmk-{index}")
}

/// How many values the `team` tag of the seeded secrets takes (`--seed-tags`).
pub const TAG_VALUES: usize = 1000;

/// The value of the `team` tag of the `index`-th seeded secret (`--seed-tags`), and the
/// `tag-value` filter of [`Op::ListTag`].
pub fn tag_value(index: usize) -> String {
    format!("team-{}", index % TAG_VALUES)
}

/// Body of the CreateSecret call that seeds `name`, under `kms_key_id` (else aws/secretsmanager),
/// with the tag `team` = `team` when given.
pub fn create_secret_body(
    rng: &mut impl Rng,
    name: &str,
    kms_key_id: Option<&str>,
    team: Option<&str>,
) -> Vec<u8> {
    let mut body = json!({
        "Name": name,
        "SecretString": secret_value(rng),
        "ClientRequestToken": random_uuid(rng).to_string(),
    });
    if let Some(key) = kms_key_id {
        body["KmsKeyId"] = json!(key);
    }
    if let Some(team) = team {
        body["Tags"] = json!([{ "Key": "team", "Value": team }]);
    }
    body.to_string().into_bytes()
}

/// Alias of the key Encrypt, Decrypt and GenerateDataKey use.
pub const KMS_KEY_ALIAS: &str = "alias/kinko-bench";
/// Alias of the key the `bench-cmk-*` secrets are encrypted under.
pub const SECRETS_KEY_ALIAS: &str = "alias/kinko-bench-secrets";
/// The encryption context key the KMS key policy requires, and its value.
const CONTEXT_KEY: &str = "app";
const CONTEXT_VALUE: &str = "kinko-bench";

/// The encryption context of every Encrypt, Decrypt and GenerateDataKey.
pub fn encryption_context() -> Value {
    json!({ CONTEXT_KEY: CONTEXT_VALUE, "purpose": "load-test" })
}

/// Size of an Encrypt plaintext, in bytes.
pub const PLAINTEXT_BYTES: usize = 64;

/// An Encrypt request of [`PLAINTEXT_BYTES`] random bytes under `key`.
pub fn encrypt_request(rng: &mut impl Rng, key: &str, context: Option<Value>) -> Value {
    let mut plaintext = [0u8; PLAINTEXT_BYTES];
    rng.fill(&mut plaintext[..]);
    let mut body = json!({ "KeyId": key, "Plaintext": BASE64.encode(plaintext) });
    if let Some(context) = context {
        body["EncryptionContext"] = context;
    }
    body
}

/// The policy of `alias/kinko-bench`: the account may administer and use the key (the statement
/// that enables IAM policies), use it for encryption only from its own account with the
/// benchmark's encryption context, and nobody may use it without an encryption context.
pub fn kms_key_policy(account_id: &str) -> String {
    let root = format!("arn:aws:iam::{account_id}:root");
    let crypto = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"];
    json!({
        "Version": "2012-10-17",
        "Id": "kinko-bench-kms",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "AllowUseWithTheBenchmarkContext",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": crypto,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account_id,
                        format!("kms:EncryptionContext:{CONTEXT_KEY}"): CONTEXT_VALUE
                    }
                }
            },
            {
                "Sid": "DenyUseWithoutTheContext",
                "Effect": "Deny",
                "Principal": { "AWS": "*" },
                "Action": crypto,
                "Resource": "*",
                "Condition": {
                    "Null": { format!("kms:EncryptionContext:{CONTEXT_KEY}"): "true" }
                }
            }
        ]
    })
    .to_string()
}

/// The policy of `alias/kinko-bench-secrets`: the account may administer and use the key, and
/// use it to encrypt and decrypt through Secrets Manager in `region` from its own account.
pub fn secrets_key_policy(account_id: &str, region: &str) -> String {
    let root = format!("arn:aws:iam::{account_id}:root");
    json!({
        "Version": "2012-10-17",
        "Id": "kinko-bench-secrets",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "AllowUseThroughSecretsManager",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": format!("secretsmanager.{region}.amazonaws.com"),
                        "kms:CallerAccount": account_id
                    }
                }
            }
        ]
    })
    .to_string()
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

fn pick(rng: &mut impl Rng, n: usize) -> usize {
    rng.random_range(0..n.max(1))
}

/// A version 4 UUID drawn from `rng` (avoids a system call per request).
pub fn random_uuid(rng: &mut impl Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    fn parse(body: &[u8]) -> Value {
        serde_json::from_slice(body).expect("request bodies are JSON")
    }

    #[test]
    fn kms_bodies_carry_the_key_and_context() {
        let mut rng = SmallRng::seed_from_u64(7);
        let workload = Workload {
            kms_key_arn: "arn:aws:kms:us-east-1:000000000000:key/k".into(),
            ciphertexts: vec!["Y3Q=".into()],
            ..Workload::default()
        };
        let encrypt = parse(&Op::Encrypt.body(&mut rng, &workload));
        assert_eq!(encrypt["KeyId"], workload.kms_key_arn.as_str());
        assert_eq!(encrypt["EncryptionContext"], encryption_context());
        let plaintext = BASE64
            .decode(encrypt["Plaintext"].as_str().unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(plaintext.len(), PLAINTEXT_BYTES);

        let decrypt = parse(&Op::Decrypt.body(&mut rng, &workload));
        assert_eq!(decrypt["CiphertextBlob"], "Y3Q=");
        assert_eq!(decrypt["EncryptionContext"], encryption_context());

        let data_key = parse(&Op::GenerateDataKey.body(&mut rng, &workload));
        assert_eq!(data_key["KeySpec"], "AES_256");
        assert_eq!(data_key["KeyId"], workload.kms_key_arn.as_str());
        assert_eq!(Op::GenerateDataKey.api(), Api::Kms);
    }

    #[test]
    fn get_cmk_reads_the_cmk_secrets() {
        let workload = Workload {
            secrets: 5,
            cmk_secrets: 1,
            ..Workload::default()
        };
        let body = parse(&Op::GetCmk.body(&mut rand::rng(), &workload));
        assert_eq!(body["SecretId"], "bench-cmk-0");
        assert_eq!(Op::GetCmk.operation(), "GetSecretValue");
        assert_ne!(Op::GetCmk.name(), Op::Get.name());
    }

    #[test]
    fn key_policies_have_conditional_statements() {
        let kms: Value = serde_json::from_str(&kms_key_policy("111122223333")).unwrap_or_default();
        let statements = kms["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 3);
        assert_eq!(
            statements[0]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(
            statements[1]["Condition"]["StringEquals"]["kms:EncryptionContext:app"],
            "kinko-bench"
        );
        assert_eq!(statements[2]["Effect"], "Deny");

        let secrets: Value =
            serde_json::from_str(&secrets_key_policy("111122223333", "eu-west-3")).unwrap_or_default();
        assert_eq!(
            secrets["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"],
            "secretsmanager.eu-west-3.amazonaws.com"
        );
    }
}
