//! Preparing what the loads address: the seeded secrets, the customer managed KMS keys with their
//! key policies, and the ciphertexts Decrypt decrypts.

use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use http::StatusCode;
use serde_json::{Value, json};

use crate::cli::BenchArgs;
use crate::load::{self, Call, Target};
use crate::ops::{
    self, KMS_KEY_ALIAS, Op, SECRETS_KEY_ALIAS, Workload, cmk_secret_name, encrypt_request,
    encryption_context, secret_name,
};
use crate::signing::Api;

/// Number of ciphertexts made for Decrypt.
const CIPHERTEXTS: usize = 1000;

/// The workload, and what the report says about how it was prepared.
pub struct Prepared {
    pub workload: Workload,
    /// Markdown list items describing the keys and secrets.
    pub notes: Vec<String>,
}

/// Seeds (or, with `--no-seed`, checks) what the operations of `args` need.
pub async fn prepare(target: &Arc<Target>, args: &BenchArgs) -> Result<Prepared> {
    let needs = |f: fn(Op) -> bool| args.ops.iter().any(|&op| f(op));
    let mut workload = Workload {
        secrets: args.secrets,
        cmk_secrets: args.cmk_secrets(),
        ..Workload::default()
    };
    let mut notes = Vec::new();

    if needs(Op::needs_secrets) {
        if args.no_seed {
            check_secrets(target, secret_name, args.secrets).await?;
        } else {
            let existed = load::seed_secrets(
                Arc::clone(target),
                "seeding secrets",
                args.secrets,
                args.seed_concurrency,
                secret_name,
                None,
                args.seed_tags,
            )
            .await
            .context("seeding secrets")?;
            if existed > 0 {
                eprintln!("{existed} of the secrets already existed and were kept");
            }
        }
    }

    if needs(Op::needs_kms_key) {
        let key = ensure_key(target, KMS_KEY_ALIAS, args.no_seed, |account, _| {
            ops::kms_key_policy(account)
        })
        .await?;
        let enforced = key_policy_enforced(target, &key.arn).await?;
        notes.push(format!(
            "KMS: Encrypt ({} random bytes), Decrypt (of {CIPHERTEXTS} ciphertexts made by \
             Encrypt) and GenerateDataKey (AES_256) on the customer managed key {KMS_KEY_ALIAS} \
             (`{}`), encryption context `{}`; its key policy allows the account root `kms:*`, \
             allows Encrypt/Decrypt/GenerateDataKey* on conditions `kms:CallerAccount` and \
             `kms:EncryptionContext:app`, and denies them when `kms:EncryptionContext:app` is \
             absent{}",
            ops::PLAINTEXT_BYTES,
            key.arn,
            encryption_context(),
            if enforced {
                " (checked: an Encrypt without the context was denied)"
            } else {
                " — **WARNING: an Encrypt without the context was NOT denied, the key policy \
                 does not seem to be evaluated**"
            },
        ));
        workload.kms_key_arn = key.arn;
        if args.ops.contains(&Op::Decrypt) {
            workload.ciphertexts = make_ciphertexts(target, &workload.kms_key_arn, args.seed_concurrency)
                .await
                .context("making ciphertexts for Decrypt")?;
        }
    }

    if needs(Op::needs_cmk_secrets) {
        let key = ensure_key(target, SECRETS_KEY_ALIAS, args.no_seed, ops::secrets_key_policy).await?;
        if args.no_seed {
            check_secrets(target, cmk_secret_name, args.cmk_secrets()).await?;
        } else {
            let existed = load::seed_secrets(
                Arc::clone(target),
                "seeding secrets under the customer managed key",
                args.cmk_secrets(),
                args.seed_concurrency,
                cmk_secret_name,
                Some(key.arn.clone()),
                false,
            )
            .await
            .context("seeding the secrets under the customer managed key")?;
            if existed > 0 {
                eprintln!("{existed} of the customer managed key's secrets already existed and were kept");
            }
        }
        notes.push(format!(
            "GetSecretValue (CMK): {} secrets `bench-cmk-*` created with `KmsKeyId` = the customer \
             managed key {SECRETS_KEY_ALIAS} (`{}`), whose key policy allows the account root \
             `kms:*` and allows kms:Decrypt/GenerateDataKey* on conditions `kms:ViaService` = \
             `secretsmanager.{}.amazonaws.com` and `kms:CallerAccount`; the other secrets use \
             aws/secretsmanager",
            args.cmk_secrets(),
            key.arn,
            args.region,
        ));
    }

    if args.pre_read {
        for (op, name, count) in [
            (Op::Get, secret_name as fn(usize) -> String, args.secrets),
            (Op::GetCmk, cmk_secret_name, args.cmk_secrets()),
        ] {
            if args.ops.contains(&op) {
                // Every node has a cache of its own.
                for node in target.each_node() {
                    pre_read(&node, name, count, args.seed_concurrency).await?;
                }
            }
        }
        notes.push(
            "pre-read: every secret GetSecretValue reads was read once before the runs, so they \
             don't include the first read of the day (a durable LastAccessedDate write per secret)"
                .to_owned(),
        );
    }

    Ok(Prepared { workload, notes })
}

/// Reads the secrets `name(0) .. name(count - 1)` once.
pub(crate) async fn pre_read(
    target: &Arc<Target>,
    name: fn(usize) -> String,
    count: usize,
    concurrency: usize,
) -> Result<()> {
    load::batch(
        Arc::clone(target),
        "reading every secret once",
        count,
        concurrency,
        move |_, index| Call {
            api: Api::SecretsManager,
            operation: "GetSecretValue",
            body: json!({ "SecretId": name(index) }).to_string().into_bytes(),
        },
        move |index, response| {
            if response.status != StatusCode::OK {
                bail!(
                    "GetSecretValue {} failed: HTTP {}: {}",
                    name(index),
                    response.status,
                    response.body_excerpt()
                );
            }
            Ok(())
        },
    )
    .await
    .map(drop)
}

/// With `--no-seed`: the first and last secret `name(0)`, `name(count - 1)` must exist.
async fn check_secrets(target: &Target, name: fn(usize) -> String, count: usize) -> Result<()> {
    for index in [0, count.saturating_sub(1)] {
        let name = name(index);
        let body = json!({ "SecretId": name }).to_string().into_bytes();
        let response = target.call(Api::SecretsManager, "DescribeSecret", body).await?;
        ensure!(
            response.status.is_success(),
            "--no-seed but secret {name} is missing: HTTP {} {}",
            response.status,
            response.body_excerpt()
        );
    }
    Ok(())
}

/// Calls `operation` and returns its JSON output; an error for anything but 200.
pub(crate) async fn call_ok(target: &Target, api: Api, operation: &str, body: &Value) -> Result<Value> {
    let response = target.call(api, operation, body.to_string().into_bytes()).await?;
    if response.status != StatusCode::OK {
        bail!(
            "{operation} failed: HTTP {}: {}",
            response.status,
            response.body_excerpt()
        );
    }
    serde_json::from_slice(&response.body).with_context(|| format!("{operation} answered no JSON"))
}

/// A KMS key used by the benchmark.
struct Key {
    arn: String,
}

/// The enabled key `alias` names, created with that alias if there is none. Unless `no_seed`, its
/// key policy is set to `policy(account, region)`.
async fn ensure_key(
    target: &Target,
    alias: &str,
    no_seed: bool,
    policy: impl Fn(&str, &str) -> String,
) -> Result<Key> {
    let described = target
        .call(
            Api::Kms,
            "DescribeKey",
            json!({ "KeyId": alias }).to_string().into_bytes(),
        )
        .await?;
    let metadata = match described.status {
        StatusCode::OK => {
            let out: Value =
                serde_json::from_slice(&described.body).context("DescribeKey answered no JSON")?;
            let metadata = out["KeyMetadata"].clone();
            ensure!(
                metadata["KeyState"] == "Enabled",
                "{alias} exists but is {}",
                metadata["KeyState"]
            );
            eprintln!("using the existing key {alias}");
            metadata
        }
        _ if described.error_type().as_deref() == Some("NotFoundException") => {
            ensure!(!no_seed, "--no-seed but the key {alias} doesn't exist");
            let description = format!("kinko-bench load benchmark ({alias})");
            let created = call_ok(
                target,
                Api::Kms,
                "CreateKey",
                &json!({ "Description": description }),
            )
            .await?;
            created["KeyMetadata"].clone()
        }
        status => bail!(
            "DescribeKey {alias} failed: HTTP {status}: {}",
            described.body_excerpt()
        ),
    };
    let field = |name: &str| -> Result<String> {
        metadata[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("KeyMetadata of {alias} has no {name}"))
    };
    let (key_id, arn) = (field("KeyId")?, field("Arn")?);
    let account = field("AWSAccountId")?;
    let region = arn.split(':').nth(3).unwrap_or_default().to_owned();
    if !no_seed {
        call_ok(
            target,
            Api::Kms,
            "PutKeyPolicy",
            &json!({
                "KeyId": key_id,
                "PolicyName": "default",
                "Policy": policy(&account, &region),
            }),
        )
        .await
        .with_context(|| format!("setting the key policy of {alias}"))?;
    }
    if described.status != StatusCode::OK {
        call_ok(
            target,
            Api::Kms,
            "CreateAlias",
            &json!({ "AliasName": alias, "TargetKeyId": key_id }),
        )
        .await?;
        eprintln!("created the key {alias} ({arn})");
    }
    Ok(Key { arn })
}

/// Whether an Encrypt without the encryption context the key policy requires is denied.
async fn key_policy_enforced(target: &Target, key_arn: &str) -> Result<bool> {
    let body = encrypt_request(&mut rand::rng(), key_arn, None);
    let response = target
        .call(Api::Kms, "Encrypt", body.to_string().into_bytes())
        .await?;
    let denied = response.error_type().as_deref() == Some("AccessDeniedException");
    if !denied {
        eprintln!(
            "WARNING: an Encrypt without the encryption context the key policy requires was not \
             denied: HTTP {} {}",
            response.status,
            response.body_excerpt()
        );
    }
    Ok(denied)
}

/// [`CIPHERTEXTS`] ciphertexts under `key_arn`, with the benchmark's encryption context.
async fn make_ciphertexts(target: &Arc<Target>, key_arn: &str, concurrency: usize) -> Result<Vec<String>> {
    let key = key_arn.to_owned();
    load::batch(
        Arc::clone(target),
        "making ciphertexts",
        CIPHERTEXTS,
        concurrency,
        move |rng, _| Call {
            api: Api::Kms,
            operation: "Encrypt",
            body: encrypt_request(rng, &key, Some(encryption_context()))
                .to_string()
                .into_bytes(),
        },
        |_, response| {
            if response.status != StatusCode::OK {
                bail!(
                    "Encrypt failed: HTTP {}: {}",
                    response.status,
                    response.body_excerpt()
                );
            }
            let out: Value = serde_json::from_slice(&response.body).context("Encrypt answered no JSON")?;
            out["CiphertextBlob"]
                .as_str()
                .map(str::to_owned)
                .context("Encrypt answered no CiphertextBlob")
        },
    )
    .await
}
