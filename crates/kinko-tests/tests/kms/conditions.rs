//! Condition keys in key policy grants: `kms:EncryptionContext:<key>`,
//! `kms:EncryptionContextKeys`, `kms:EncryptionAlgorithm`, `kms:CallerAccount`, `kms:KeySpec`,
//! `kms:KeyUsage`, `kms:KeyOrigin`, `kms:RequestAlias`, `kms:ViaService`, and the request
//! parameters `kms:ScheduleKeyDeletionPendingWindowInDays`, `kms:RotationPeriodInDays`,
//! `kms:BypassPolicyLockoutSafetyCheck`.

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{EncryptionAlgorithmSpec as Algorithm, KeySpec, KeyUsageType};
use kinko_tests::*;
use serde_json::{Value, json};

use crate::{account, kms};

const ACTIONS: &[&str] = &["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"];

/// A user without identity policy, and a key whose policy the test sets to grant that user
/// [`ACTIONS`] under some condition.
struct Grant {
    user: Principal<'static>,
    key: String,
    arn: String,
}

impl Grant {
    async fn new() -> Grant {
        let user = TestServer::start().user("kms-cond", None).await;
        let (key, arn) = kms().new_key().await;
        Grant { user, key, arn }
    }

    /// Sets the key policy: the user may perform [`ACTIONS`], under `condition` when given.
    async fn grant(&self, condition: Option<Value>) {
        let policy = policy_granting(&account(), &self.user.arn, ACTIONS, condition);
        kms().put_policy(&self.key, &policy).await;
    }

    fn client(&self) -> Client {
        self.user.kms()
    }

    fn denied(&self, action: &str) -> Outcome {
        no_key_policy(&self.user.arn, action, &self.arn)
    }
}

/// One context value. The key part of the condition key is case-insensitive, the value is
/// compared as the operator says (StringEquals: case-sensitive).
#[tokio::test]
async fn encryption_context_value_condition() {
    let g = Grant::new().await;
    let (user, key) = (g.client(), g.key.as_str());
    g.grant(None).await;
    assert_eq!(
        user.try_encrypt(key, &[]).await,
        Ok(()),
        "unconditional: any context"
    );
    let backup = user.encrypt_with(key, b"b", &[("purpose", "backup")]).await;
    let other = user.encrypt_with(key, b"o", &[("purpose", "other")]).await;
    g.grant(Some(
        json!({"StringEquals": {"kms:EncryptionContext:Purpose": "backup"}}),
    ))
    .await;
    assert_eq!(user.try_encrypt(key, &[("purpose", "backup")]).await, Ok(()));
    assert_eq!(
        user.try_encrypt(key, &[("purpose", "backup"), ("other", "x")])
            .await,
        Ok(())
    );
    assert_eq!(user.try_data_key(key, &[("purpose", "backup")]).await, Ok(()));
    for ctx in [vec![], vec![("purpose", "Backup")], vec![("other", "backup")]] {
        assert_eq!(
            user.try_encrypt(key, &ctx).await,
            g.denied("kms:Encrypt"),
            "{ctx:?}"
        );
        assert_eq!(
            user.try_data_key(key, &ctx).await,
            g.denied("kms:GenerateDataKey"),
            "{ctx:?}"
        );
    }
    assert_eq!(
        user.try_decrypt(&backup, None, &[("purpose", "backup")]).await,
        Ok(())
    );
    // Authorization comes first: a context the policy refuses is AccessDenied...
    let refused = user.try_decrypt(&other, None, &[("purpose", "other")]).await;
    assert_eq!(refused, g.denied("kms:Decrypt"));
    // ...one it allows but the ciphertext wasn't made with is InvalidCiphertext.
    let allowed = user.try_decrypt(&other, None, &[("purpose", "backup")]).await;
    assert_eq!(allowed, failed_without_message("InvalidCiphertextException"));
}

/// ForAllValues: every context key must be listed (an empty context has none to fail); with
/// `Null: false` an encryption context is required too.
#[tokio::test]
async fn encryption_context_keys_for_all_values() {
    let g = Grant::new().await;
    let (user, key) = (g.client(), g.key.as_str());
    let listed = json!({"kms:EncryptionContextKeys": ["purpose", "team"]});
    g.grant(Some(json!({"ForAllValues:StringEquals": listed}))).await;
    for ctx in [
        vec![],
        vec![("purpose", "x")],
        vec![("purpose", "x"), ("team", "y")],
    ] {
        assert_eq!(user.try_encrypt(key, &ctx).await, Ok(()), "{ctx:?}");
    }
    for ctx in [vec![("purpose", "x"), ("extra", "z")], vec![("Purpose", "x")]] {
        assert_eq!(
            user.try_encrypt(key, &ctx).await,
            g.denied("kms:Encrypt"),
            "{ctx:?}"
        );
    }
    let required = json!({"kms:EncryptionContextKeys": "false"});
    g.grant(Some(
        json!({"ForAllValues:StringEquals": listed, "Null": required}),
    ))
    .await;
    assert_eq!(user.try_encrypt(key, &[]).await, g.denied("kms:Encrypt"));
    assert_eq!(user.try_encrypt(key, &[("team", "y")]).await, Ok(()));
}

/// ForAnyValue: at least one listed key.
#[tokio::test]
async fn encryption_context_keys_for_any_value() {
    let g = Grant::new().await;
    let (user, key) = (g.client(), g.key.as_str());
    g.grant(None).await;
    let backup = user.encrypt_with(key, b"b", &[("purpose", "backup")]).await;
    let listed = json!({"kms:EncryptionContextKeys": ["purpose"]});
    g.grant(Some(json!({"ForAnyValue:StringEquals": listed}))).await;
    assert_eq!(
        user.try_encrypt(key, &[("purpose", "x"), ("extra", "z")]).await,
        Ok(())
    );
    assert_eq!(
        user.try_decrypt(&backup, None, &[("purpose", "backup")]).await,
        Ok(())
    );
    for ctx in [vec![], vec![("extra", "z")]] {
        assert_eq!(
            user.try_encrypt(key, &ctx).await,
            g.denied("kms:Encrypt"),
            "{ctx:?}"
        );
    }
}

/// kms:EncryptionAlgorithm: SYMMETRIC_DEFAULT unless the request says otherwise; authorized
/// before the algorithm is checked against the key.
#[tokio::test]
async fn encryption_algorithm_condition() {
    let g = Grant::new().await;
    let (user, key) = (g.client(), g.key.as_str());
    let blob = kms().encrypt_with(key, b"c", &[]).await;
    let encrypt_with = |alg: Algorithm| {
        let req = user.encrypt().key_id(key).plaintext(Blob::new(b"x".to_vec()));
        req.encryption_algorithm(alg).send()
    };
    g.grant(Some(
        json!({"StringEquals": {"kms:EncryptionAlgorithm": SYMMETRIC_DEFAULT}}),
    ))
    .await;
    assert_eq!(user.try_encrypt(key, &[]).await, Ok(()));
    assert_eq!(outcome(encrypt_with(Algorithm::SymmetricDefault).await), Ok(()));
    assert_eq!(user.try_decrypt(&blob, None, &[]).await, Ok(()));
    assert_eq!(user.try_data_key(key, &[]).await, Ok(()));
    let rsa = outcome(encrypt_with(Algorithm::RsaesOaepSha256).await);
    assert_eq!(rsa, g.denied("kms:Encrypt"));
    g.grant(Some(
        json!({"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}),
    ))
    .await;
    assert_eq!(user.try_encrypt(key, &[]).await, g.denied("kms:Encrypt"));
    assert_eq!(user.try_decrypt(&blob, None, &[]).await, g.denied("kms:Decrypt"));
    assert_eq!(user.try_data_key(key, &[]).await, g.denied("kms:GenerateDataKey"));
    let incompatible = "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT.";
    let rsa = outcome(encrypt_with(Algorithm::RsaesOaepSha256).await);
    assert_eq!(rsa, failed("InvalidKeyUsageException", incompatible));
}

/// kms:CallerAccount: the caller's account.
#[tokio::test]
async fn caller_account_condition() {
    let g = Grant::new().await;
    g.grant(Some(json!({"StringEquals": {"kms:CallerAccount": account()}})))
        .await;
    assert_eq!(g.client().try_encrypt(&g.key, &[]).await, Ok(()));
    g.grant(Some(
        json!({"StringEquals": {"kms:CallerAccount": "111111111111"}}),
    ))
    .await;
    assert_eq!(g.client().try_encrypt(&g.key, &[]).await, g.denied("kms:Encrypt"));
}

/// kms:KeySpec, kms:KeyUsage, kms:KeyOrigin: the key's.
#[tokio::test]
async fn key_spec_usage_and_origin_conditions() {
    let g = Grant::new().await;
    let (user, key) = (g.client(), g.key.as_str());
    let blob = kms().encrypt_with(key, b"c", &[]).await;
    let spec = json!({"kms:KeySpec": SYMMETRIC_DEFAULT, "kms:KeyUsage": "ENCRYPT_DECRYPT", "kms:KeyOrigin": "AWS_KMS"});
    g.grant(Some(json!({"StringEquals": spec}))).await;
    assert_eq!(user.try_encrypt(key, &[]).await, Ok(()));
    assert_eq!(user.try_decrypt(&blob, None, &[]).await, Ok(()));
    for condition in [
        json!({"StringEquals": {"kms:KeySpec": "HMAC_256"}}),
        json!({"StringEquals": {"kms:KeyUsage": "SIGN_VERIFY"}}),
    ] {
        g.grant(Some(condition)).await;
        assert_eq!(user.try_encrypt(key, &[]).await, g.denied("kms:Encrypt"));
        assert_eq!(user.try_decrypt(&blob, None, &[]).await, g.denied("kms:Decrypt"));
    }
}

/// kms:RequestAlias: the alias the request names the key by, if any.
#[tokio::test]
async fn request_alias_condition() {
    let g = Grant::new().await;
    let (user, key) = (g.client(), g.key.as_str());
    let blob = kms().encrypt_with(key, b"c", &[]).await;
    let (alias, other_alias) = (new_alias(), new_alias());
    kms().alias_key(&alias, key).await;
    kms().alias_key(&other_alias, key).await;
    g.grant(Some(json!({"StringEquals": {"kms:RequestAlias": alias}})))
        .await;
    assert_eq!(user.try_encrypt(&alias, &[]).await, Ok(()));
    assert_eq!(
        user.try_encrypt(&alias_arn(&account(), &alias), &[]).await,
        Ok(())
    );
    assert_eq!(user.try_decrypt(&blob, Some(&alias), &[]).await, Ok(()));
    assert_eq!(user.try_data_key(&alias, &[]).await, Ok(()));
    for other in [key, g.arn.as_str(), other_alias.as_str()] {
        assert_eq!(
            user.try_encrypt(other, &[]).await,
            g.denied("kms:Encrypt"),
            "{other}"
        );
    }
    assert_eq!(user.try_decrypt(&blob, None, &[]).await, g.denied("kms:Decrypt"));
}

/// On CreateKey, kms:KeySpec and kms:KeyUsage are the requested spec and usage.
#[tokio::test]
async fn create_key_spec_and_usage_conditions() {
    let server = TestServer::start();
    let doc = policy_document(&[json!({
        "Effect": "Allow",
        "Action": "kms:CreateKey",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:KeySpec": SYMMETRIC_DEFAULT, "kms:KeyUsage": "ENCRYPT_DECRYPT"}}
    })]);
    let creator = server.user("kms-spec", Some(&doc)).await;
    let c = creator.kms();
    assert_eq!(outcome(c.create_key().send().await), Ok(()));
    let symmetric = c.create_key().key_spec(KeySpec::SymmetricDefault).send().await;
    assert_eq!(outcome(symmetric), Ok(()));
    let rsa = |c: &Client| {
        let req = c.create_key().key_spec(KeySpec::Rsa2048);
        req.key_usage(KeyUsageType::SignVerify).send()
    };
    let message = no_identity_policy(&creator.arn, "kms:CreateKey", None);
    assert_eq!(outcome(rsa(&c).await), failed("AccessDeniedException", &message));
    assert_eq!(outcome(rsa(&kms()).await), Ok(()));
}

/// Request parameters, denied to root by the key policy.
#[tokio::test]
async fn request_parameter_conditions() {
    let client = kms();
    let root = root_arn(&account());
    let (key, arn) = client.new_key().await;
    let deny = |action: &str, condition: Value| {
        let mut s = key_statement("Deny", &root, json!(action));
        s["Condition"] = condition;
        s
    };
    let guard = policy_document(&[
        key_statement("Allow", &root, json!("kms:*")),
        deny(
            "kms:ScheduleKeyDeletion",
            json!({"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}}),
        ),
        deny(
            "kms:EnableKeyRotation",
            json!({"NumericGreaterThan": {"kms:RotationPeriodInDays": "365"}}),
        ),
        deny(
            "kms:PutKeyPolicy",
            json!({"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}}),
        ),
    ]);
    client.put_policy(&key, &guard).await;
    let explicit = |action: &str| {
        let message = access_denied(&root, action, Some(&arn), Denial::ExplicitResource);
        failed("AccessDeniedException", &message)
    };
    let schedule = client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7);
    assert_eq!(
        outcome(schedule.send().await),
        explicit("kms:ScheduleKeyDeletion")
    );
    let rotation = |days: i32| {
        let req = client.enable_key_rotation().key_id(&key);
        req.rotation_period_in_days(days).send()
    };
    assert_eq!(outcome(rotation(730).await), explicit("kms:EnableKeyRotation"));
    let bypass = client.put_key_policy().key_id(&key).policy(&guard);
    let bypass = bypass.bypass_policy_lockout_safety_check(true).send().await;
    assert_eq!(outcome(bypass), explicit("kms:PutKeyPolicy"));
    assert_eq!(outcome(rotation(365).await), Ok(()));
    assert_eq!(
        outcome(client.schedule_key_deletion().key_id(&key).send().await),
        Ok(())
    );
}

/// A grant conditioned on `kms:ViaService` can't be used by calling KMS directly; one requiring
/// its absence can.
#[tokio::test]
async fn via_service_condition_denies_direct_use() {
    let g = Grant::new().await;
    let (user, key) = (g.client(), g.key.as_str());
    let blob = kms().encrypt_with(key, b"v", &[]).await;
    g.grant(None).await;
    assert_eq!(user.try_decrypt(&blob, None, &[]).await, Ok(()));
    for condition in [
        json!({"StringEquals": {"kms:ViaService": format!("secretsmanager.{REGION}.amazonaws.com")}}),
        json!({"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}),
        json!({"Null": {"kms:ViaService": "false"}}),
    ] {
        g.grant(Some(condition.clone())).await;
        assert_eq!(
            user.try_decrypt(&blob, None, &[]).await,
            g.denied("kms:Decrypt"),
            "{condition}"
        );
        let named = user.try_decrypt(&blob, Some(&g.arn), &[]).await;
        assert_eq!(named, g.denied("kms:Decrypt"), "{condition}");
        assert_eq!(
            user.try_encrypt(key, &[]).await,
            g.denied("kms:Encrypt"),
            "{condition}"
        );
    }
    g.grant(Some(json!({"Null": {"kms:ViaService": "true"}}))).await;
    assert_eq!(user.try_decrypt(&blob, None, &[]).await, Ok(()));
}

/// The same in an identity policy, with the default key policy.
#[tokio::test]
async fn via_service_condition_in_an_identity_policy_denies_direct_use() {
    let server = TestServer::start();
    let (plain, plain_arn) = kms().new_key().await;
    let blob = kms().encrypt_with(&plain, b"p", &[]).await;
    let via = format!("secretsmanager.{REGION}.amazonaws.com");
    let doc = policy_document(&[json!({
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": via}}
    })]);
    let user = server.user("kms-via-iam", Some(&doc)).await;
    let out = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(out, no_iam_policy(&user.arn, "kms:Decrypt", &plain_arn));
}
