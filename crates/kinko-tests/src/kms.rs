//! KMS fixtures: keys (with a policy or the default one), aliases, encryption with a context, the
//! outcome of a cryptographic call for authorization checks, key policies granting a principal,
//! and AWS's KMS messages. The calls are on any `aws_sdk_kms::Client` ([`KmsExt`]).

use std::fmt::Debug;

use aws_sdk_kms::Client;
use aws_sdk_kms::operation::decrypt::DecryptOutput;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, IncludeKeyMaterial, KeyMetadata, RotationsListEntry, Tag};
use serde_json::{Value, json};

use crate::errors::{Outcome, failed, outcome};
use crate::policy::{Denial, access_denied, policy_document, root_arn};
use crate::{REGION, short_id};

pub const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
/// A well-formed key id no key has.
pub const UNKNOWN_KEY: &str = "11111111-2222-4333-8444-555555555555";

/// `arn:aws:kms:us-east-1:<account>:key/<id>`.
pub fn key_arn(account: &str, id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:key/{id}")
}

/// `arn:aws:kms:us-east-1:<account>:<alias/name>`.
pub fn alias_arn(account: &str, name: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:{name}")
}

/// An alias name nobody else uses: `alias/test-<short id>`.
pub fn new_alias() -> String {
    format!("alias/test-{}", short_id())
}

/// A KMS tag.
pub fn kms_tag(key: &str, value: &str) -> Tag {
    Tag::builder().tag_key(key).tag_value(value).build().expect("tag")
}

/// NotFoundException for a well-formed key id or ARN of no key.
pub fn key_not_found(key_arn: &str) -> Outcome {
    failed("NotFoundException", &format!("Key '{key_arn}' does not exist"))
}

/// NotFoundException for an identifier that can't name a key (or not for this operation).
pub fn invalid_key_id(id: &str) -> Outcome {
    failed("NotFoundException", &format!("Invalid keyId '{id}'"))
}

/// NotFoundException for an alias that doesn't exist.
pub fn alias_not_found(alias_arn: &str) -> Outcome {
    failed("NotFoundException", &format!("Alias {alias_arn} is not found."))
}

/// AccessDeniedException because no key policy statement allows `action` to the caller.
pub fn no_key_policy(principal: &str, action: &str, key_arn: &str) -> Outcome {
    let message = access_denied(principal, action, Some(key_arn), Denial::NoResourcePolicy);
    failed("AccessDeniedException", &message)
}

/// AccessDeniedException because no identity-based policy of the caller allows `action`.
pub fn no_iam_policy(principal: &str, action: &str, key_arn: &str) -> Outcome {
    let message = access_denied(principal, action, Some(key_arn), Denial::NoIdentityPolicy);
    failed("AccessDeniedException", &message)
}

/// Administrative actions on a key (not its use): what a key policy's "key administrators"
/// statement usually grants.
pub const ADMIN_ACTIONS: &[&str] = &[
    "kms:Describe*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Create*",
    "kms:Update*",
    "kms:Enable*",
    "kms:Disable*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
];

/// The key-policy statement letting the account's root administer the key (so IAM policies may
/// grant that).
pub fn administration_statement(account: &str) -> Value {
    json!({
        "Sid": "Administration",
        "Effect": "Allow",
        "Principal": {"AWS": root_arn(account)},
        "Action": ADMIN_ACTIONS,
        "Resource": "*"
    })
}

/// A key policy: the account's root may administer the key (IAM policies may grant that), and
/// `principal` may perform `actions` directly, under `condition` when given.
pub fn policy_granting(account: &str, principal: &str, actions: &[&str], condition: Option<Value>) -> String {
    let mut grant = json!({
        "Sid": "Grant",
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": "*"
    });
    if let Some(c) = condition {
        grant["Condition"] = c;
    }
    policy_document(&[administration_statement(account), grant])
}

/// A key policy of one statement: `effect` for `principal` on `actions` (a string or list).
pub fn key_statement(effect: &str, principal: &str, actions: Value) -> Value {
    json!({"Effect": effect, "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"})
}

/// Calls that set the scene or read the result, on any KMS client. The `try_*` ones give the
/// [`Outcome`]; the others panic when the call fails.
#[expect(
    async_fn_in_trait,
    reason = "test helpers awaited in place; callers never need to name the futures' bounds"
)]
pub trait KmsExt {
    /// CreateKey with the default key policy; returns `(KeyId, Arn)`.
    async fn new_key(&self) -> (String, String);
    /// CreateKey with this key policy (the lockout safety check bypassed when `bypass`).
    async fn key_with_policy(&self, policy: &str, bypass: bool) -> (String, String);
    /// DescribeKey's metadata.
    async fn describe(&self, key: &str) -> KeyMetadata;
    /// The key's CurrentKeyMaterialId (checked to be 64 hex digits).
    async fn material(&self, key: &str) -> String;
    /// Encrypt `plaintext` under `key` with the encryption context `ctx`.
    async fn encrypt_with(&self, key: &str, plaintext: &[u8], ctx: &[(&str, &str)]) -> Blob;
    /// Decrypt `blob` (without KeyId) with the encryption context `ctx`.
    async fn decrypt_with(&self, blob: &Blob, ctx: &[(&str, &str)]) -> DecryptOutput;
    /// CreateAlias `alias` to `key`.
    async fn alias_key(&self, alias: &str, key: &str);
    /// PutKeyPolicy.
    async fn put_policy(&self, key: &str, policy: &str);
    /// EnableKey or DisableKey.
    async fn set_enabled(&self, key: &str, enabled: bool);
    /// GetKeyRotationStatus.
    async fn rotation_status(&self, key: &str) -> GetKeyRotationStatusOutput;
    /// Every key id ListKeys gives, page after page.
    async fn all_key_ids(&self) -> Vec<String>;
    /// Every entry ListKeyRotations gives for `key`, page after page of `limit`, checking the
    /// paging members on the way.
    async fn all_rotations(
        &self,
        key: &str,
        include: Option<IncludeKeyMaterial>,
        limit: i32,
    ) -> Vec<RotationsListEntry>;
    /// Encrypt one byte under `key` with `ctx`.
    async fn try_encrypt(&self, key: &str, ctx: &[(&str, &str)]) -> Outcome;
    /// Decrypt `blob`, naming `key` when given, with `ctx`.
    async fn try_decrypt(&self, blob: &Blob, key: Option<&str>, ctx: &[(&str, &str)]) -> Outcome;
    /// GenerateDataKey (AES_256) under `key` with `ctx`.
    async fn try_data_key(&self, key: &str, ctx: &[(&str, &str)]) -> Outcome;
}

fn context_map(ctx: &[(&str, &str)]) -> Option<std::collections::HashMap<String, String>> {
    let map = ctx.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    (!ctx.is_empty()).then(|| map.collect())
}

fn ids(m: KeyMetadata) -> (String, String) {
    let arn = m.arn.expect("Arn");
    (m.key_id, arn)
}

#[track_caller]
fn expect_ok<O, E: Debug>(r: Result<O, E>, what: &str) -> O {
    r.unwrap_or_else(|e| panic!("{what}: {e:?}"))
}

impl KmsExt for Client {
    async fn new_key(&self) -> (String, String) {
        let out = self.create_key().description("test key").send().await;
        ids(expect_ok(out, "CreateKey").key_metadata.expect("KeyMetadata"))
    }

    async fn key_with_policy(&self, policy: &str, bypass: bool) -> (String, String) {
        let req = self.create_key().policy(policy);
        let out = req.bypass_policy_lockout_safety_check(bypass).send().await;
        ids(expect_ok(out, "CreateKey with a policy")
            .key_metadata
            .expect("KeyMetadata"))
    }

    async fn describe(&self, key: &str) -> KeyMetadata {
        let out = expect_ok(self.describe_key().key_id(key).send().await, "DescribeKey");
        out.key_metadata.expect("KeyMetadata")
    }

    async fn material(&self, key: &str) -> String {
        let id = self.describe(key).await.current_key_material_id;
        let id = id.expect("CurrentKeyMaterialId");
        assert_eq!(id.len(), 64, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        id
    }

    async fn encrypt_with(&self, key: &str, plaintext: &[u8], ctx: &[(&str, &str)]) -> Blob {
        let req = self.encrypt().key_id(key).plaintext(Blob::new(plaintext));
        let out = req.set_encryption_context(context_map(ctx)).send().await;
        expect_ok(out, "Encrypt").ciphertext_blob.expect("CiphertextBlob")
    }

    async fn decrypt_with(&self, blob: &Blob, ctx: &[(&str, &str)]) -> DecryptOutput {
        let req = self.decrypt().ciphertext_blob(blob.clone());
        expect_ok(
            req.set_encryption_context(context_map(ctx)).send().await,
            "Decrypt",
        )
    }

    async fn alias_key(&self, alias: &str, key: &str) {
        let out = self
            .create_alias()
            .alias_name(alias)
            .target_key_id(key)
            .send()
            .await;
        expect_ok(out, "CreateAlias");
    }

    async fn put_policy(&self, key: &str, policy: &str) {
        let out = self.put_key_policy().key_id(key).policy(policy).send().await;
        expect_ok(out, "PutKeyPolicy");
    }

    async fn set_enabled(&self, key: &str, enabled: bool) {
        if enabled {
            expect_ok(self.enable_key().key_id(key).send().await, "EnableKey");
        } else {
            expect_ok(self.disable_key().key_id(key).send().await, "DisableKey");
        }
    }

    async fn rotation_status(&self, key: &str) -> GetKeyRotationStatusOutput {
        let out = self.get_key_rotation_status().key_id(key).send().await;
        expect_ok(out, "GetKeyRotationStatus")
    }

    async fn all_key_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut marker = None;
        loop {
            let out = self.list_keys().limit(1000).set_marker(marker).send().await;
            let out = expect_ok(out, "ListKeys");
            ids.extend(out.keys().iter().filter_map(|k| k.key_id.clone()));
            if !out.truncated {
                return ids;
            }
            marker = Some(out.next_marker.expect("NextMarker when truncated"));
        }
    }

    async fn all_rotations(
        &self,
        key: &str,
        include: Option<IncludeKeyMaterial>,
        limit: i32,
    ) -> Vec<RotationsListEntry> {
        let max = usize::try_from(limit).expect("limit");
        let mut entries = Vec::new();
        let mut marker = None;
        loop {
            let req = self.list_key_rotations().key_id(key).limit(limit);
            let req = req.set_include_key_material(include.clone()).set_marker(marker);
            let out = expect_ok(req.send().await, "ListKeyRotations");
            let page = out.rotations();
            assert!(page.len() <= max, "{out:?}");
            entries.extend(page.iter().cloned());
            assert_eq!(out.truncated, out.next_marker.is_some(), "{out:?}");
            if !out.truncated {
                return entries;
            }
            assert_eq!(page.len(), max, "{out:?}");
            marker = out.next_marker;
        }
    }

    async fn try_encrypt(&self, key: &str, ctx: &[(&str, &str)]) -> Outcome {
        let req = self.encrypt().key_id(key).plaintext(Blob::new(b"x".to_vec()));
        outcome(req.set_encryption_context(context_map(ctx)).send().await)
    }

    async fn try_decrypt(&self, blob: &Blob, key: Option<&str>, ctx: &[(&str, &str)]) -> Outcome {
        let req = self.decrypt().ciphertext_blob(blob.clone());
        let req = req.set_key_id(key.map(str::to_owned));
        outcome(req.set_encryption_context(context_map(ctx)).send().await)
    }

    async fn try_data_key(&self, key: &str, ctx: &[(&str, &str)]) -> Outcome {
        let req = self.generate_data_key().key_id(key).key_spec(DataKeySpec::Aes256);
        outcome(req.set_encryption_context(context_map(ctx)).send().await)
    }
}
