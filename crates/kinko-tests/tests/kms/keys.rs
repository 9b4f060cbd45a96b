//! CreateKey, DescribeKey, UpdateKeyDescription and ListKeys; the AWS managed key of Secrets
//! Manager.

use aws_sdk_kms::types::{EncryptionAlgorithmSpec, KeySpec, KeyState, KeyUsageType};
use kinko_tests::*;
use serde_json::Value;

use crate::{account, kms};

const MANAGED_ALIAS: &str = "alias/aws/secretsmanager";

#[tokio::test]
async fn create_key_returns_its_metadata_and_tags() {
    let (client, account) = (kms(), account());
    let out = client.create_key().description("my key");
    let out = out.tags(kms_tag("team", "a")).send().await;
    let m = out.expect("CreateKey").key_metadata.expect("metadata");
    assert_eq!(m.aws_account_id.as_deref(), Some(account.as_str()));
    assert_eq!(m.arn.as_deref(), Some(key_arn(&account, &m.key_id).as_str()));
    assert_eq!(m.key_state, Some(KeyState::Enabled));
    assert!(m.enabled);
    assert_eq!(m.description.as_deref(), Some("my key"));
    assert_eq!(m.key_manager.as_ref().map(|k| k.as_str()), Some("CUSTOMER"));
    assert_eq!(m.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(m.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert_eq!(m.origin.as_ref().map(|o| o.as_str()), Some("AWS_KMS"));
    assert_eq!(
        m.encryption_algorithms(),
        [EncryptionAlgorithmSpec::SymmetricDefault]
    );
    assert_eq!(m.multi_region, Some(false));
    assert!(m.deletion_date.is_none());
    assert!(m.creation_date.is_some());
    let tags = client.list_resource_tags().key_id(&m.key_id).send().await;
    assert_eq!(tags.expect("ListResourceTags").tags(), [kms_tag("team", "a")]);
    // By id and by ARN (aliases: see `aliases`).
    for id in [m.key_id.clone(), m.arn.clone().expect("arn")] {
        assert_eq!(client.describe(&id).await.key_id, m.key_id);
    }
}

#[tokio::test]
async fn description_defaults_to_empty_and_can_be_changed() {
    let client = kms();
    let created = client.create_key().send().await.expect("CreateKey");
    let m = created.key_metadata.expect("metadata");
    assert_eq!(m.description.as_deref(), Some(""));
    let update = client.update_key_description().key_id(&m.key_id);
    ok(update.description("now described").send().await);
    let described = client.describe(&m.key_id).await.description;
    assert_eq!(described.as_deref(), Some("now described"));
}

#[tokio::test]
async fn description_is_required_and_at_most_8192_characters() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let long = "d".repeat(8193);
    let too_long = failed(
        "ValidationException",
        &model_max_length("description", &long, 8192),
    );
    let update = || client.update_key_description().key_id(&key);
    assert_eq!(outcome(update().description(&long).send().await), too_long);
    assert_eq!(
        outcome(client.create_key().description(&long).send().await),
        too_long
    );
    let missing = failed("ValidationException", &model_not_null("description"));
    assert_eq!(outcome(update().send().await), missing);
}

#[tokio::test]
async fn key_specs_outside_the_model_or_offered_set_are_refused() {
    let client = kms();
    let e = expect_err!(client.create_key().key_spec("RSA_1024".into()).send().await);
    let enum_prefix = "1 validation error detected: Value 'RSA_1024' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [";
    assert_eq!(e.code(), Some("ValidationException"), "{e:?}");
    assert!(e.message().is_some_and(|m| m.starts_with(enum_prefix)), "{e:?}");
    let rsa = || client.create_key().key_spec(KeySpec::Rsa2048);
    let usage = "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.";
    assert_eq!(outcome(rsa().send().await), failed("ValidationException", usage));
    let signing = rsa().key_usage(KeyUsageType::SignVerify).send().await;
    assert_eq!(outcome(signing), Ok(()));
    // Valid in AWS (China Regions only), not offered here: SM2.
    let sm2 = client.create_key().key_spec(KeySpec::Sm2);
    let sm2 = sm2.key_usage(KeyUsageType::SignVerify).send().await;
    assert_eq!(error_code(sm2), "UnsupportedOperationException");
    let agreement = client.create_key().key_spec(KeySpec::EccNistP256);
    let agreement = agreement.key_usage(KeyUsageType::KeyAgreement).send().await;
    assert_eq!(outcome(agreement), Ok(()));
    let explicit = client.create_key().key_spec(KeySpec::SymmetricDefault);
    let out = explicit.key_usage(KeyUsageType::EncryptDecrypt).send().await;
    let m = out
        .expect("explicit SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT")
        .key_metadata;
    assert_eq!(m.expect("metadata").key_spec, Some(KeySpec::SymmetricDefault));
}

#[tokio::test]
async fn list_keys_pages_through_every_key() {
    let (client, account) = (kms(), account());
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(client.new_key().await.0);
    }
    let (mut seen, mut marker) = (Vec::new(), None);
    loop {
        let out = client.list_keys().limit(1).set_marker(marker).send().await;
        let out = out.expect("ListKeys");
        assert!(out.keys().len() <= 1);
        for k in out.keys() {
            let id = k.key_id.clone().expect("KeyId");
            assert_eq!(k.key_arn.as_deref(), Some(key_arn(&account, &id).as_str()));
            seen.push(id);
        }
        if !out.truncated {
            assert!(out.next_marker.is_none());
            break;
        }
        marker = Some(out.next_marker.expect("NextMarker when truncated"));
    }
    assert!(made.iter().all(|k| seen.contains(k)), "{made:?}");
}

#[tokio::test]
async fn list_keys_rejects_a_bad_marker_and_limit() {
    let client = kms();
    let bogus = client.list_keys().marker("bogus").send().await;
    assert_eq!(error_code(bogus), "InvalidMarkerException");
    for (limit, message) in [
        (0, model_min_value("limit", 0, 1)),
        (1001, model_max_value("limit", 1001, 1000)),
    ] {
        let out = outcome(client.list_keys().limit(limit).send().await);
        assert_eq!(out, failed("ValidationException", &message));
    }
}

#[tokio::test]
async fn secrets_manager_key_is_aws_managed() {
    let (client, account) = (kms(), account());
    let m = client.describe(MANAGED_ALIAS).await;
    let arn = m.arn.clone().expect("arn");
    assert_eq!(m.key_manager.as_ref().map(|k| k.as_str()), Some("AWS"));
    let description = "Default key that protects my Secrets Manager data when no other key is defined";
    assert_eq!(m.description.as_deref(), Some(description));
    assert_eq!(m.key_state, Some(KeyState::Enabled));
    assert_eq!(arn, key_arn(&account, &m.key_id));
    let by_alias_arn = client.describe(&alias_arn(&account, MANAGED_ALIAS)).await;
    assert_eq!(by_alias_arn.key_id, m.key_id);
    assert_eq!(client.describe(&arn).await.key_id, m.key_id);
}

#[tokio::test]
async fn aws_managed_key_metadata_is_readable_by_the_account() {
    let client = kms();
    let key = client.describe(MANAGED_ALIAS).await.key_id;
    let policy = ok(client.get_key_policy().key_id(&key).send().await);
    let doc: Value = serde_json::from_str(&policy.policy.expect("policy")).expect("json");
    assert_eq!(doc["Id"], "auto-secretsmanager-2");
    let status = client.rotation_status(&key).await;
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(365));
    let aliases = ok(client.list_aliases().key_id(&key).send().await);
    let entry = aliases
        .aliases()
        .iter()
        .find(|a| a.alias_name.as_deref() == Some(MANAGED_ALIAS));
    let entry = entry.expect("alias/aws/secretsmanager listed");
    assert_eq!(entry.target_key_id.as_deref(), Some(key.as_str()));
    assert!(client.all_key_ids().await.contains(&key));
}

/// Not usable directly (only through Secrets Manager), not changeable: every call is denied for
/// want of a key policy statement.
#[tokio::test]
async fn aws_managed_key_cannot_be_used_or_changed_directly() {
    let (c, account) = (kms(), account());
    let m = c.describe(MANAGED_ALIAS).await;
    let (id, arn) = (m.key_id.as_str(), m.arn.clone().expect("arn"));
    let root = root_arn(&account);
    let policy = ok(c.get_key_policy().key_id(id).send().await).policy;
    let policy = policy.expect("policy");
    let description = c.update_key_description().key_id(id).description("mine");
    let alias = c.create_alias().alias_name(new_alias()).target_key_id(id);
    for (action, result) in [
        ("kms:Encrypt", c.try_encrypt(MANAGED_ALIAS, &[]).await),
        ("kms:GenerateDataKey", c.try_data_key(id, &[]).await),
        (
            "kms:ScheduleKeyDeletion",
            outcome(c.schedule_key_deletion().key_id(id).send().await),
        ),
        (
            "kms:CancelKeyDeletion",
            outcome(c.cancel_key_deletion().key_id(id).send().await),
        ),
        ("kms:DisableKey", outcome(c.disable_key().key_id(id).send().await)),
        ("kms:EnableKey", outcome(c.enable_key().key_id(id).send().await)),
        (
            "kms:PutKeyPolicy",
            outcome(c.put_key_policy().key_id(id).policy(&policy).send().await),
        ),
        (
            "kms:TagResource",
            outcome(c.tag_resource().key_id(id).tags(kms_tag("a", "b")).send().await),
        ),
        (
            "kms:UntagResource",
            outcome(c.untag_resource().key_id(id).tag_keys("a").send().await),
        ),
        (
            "kms:EnableKeyRotation",
            outcome(c.enable_key_rotation().key_id(id).send().await),
        ),
        (
            "kms:DisableKeyRotation",
            outcome(c.disable_key_rotation().key_id(id).send().await),
        ),
        (
            "kms:RotateKeyOnDemand",
            outcome(c.rotate_key_on_demand().key_id(id).send().await),
        ),
        ("kms:UpdateKeyDescription", outcome(description.send().await)),
        ("kms:CreateAlias", outcome(alias.send().await)),
    ] {
        assert_eq!(result, no_key_policy(&root, action, &arn), "{action}");
    }
    assert_eq!(c.describe(id).await.key_state, Some(KeyState::Enabled));
}

#[tokio::test]
async fn no_alias_can_point_at_the_aws_managed_key() {
    let (client, account) = (kms(), account());
    let m = client.describe(MANAGED_ALIAS).await;
    let (mine, _) = client.new_key().await;
    let alias = new_alias();
    client.alias_key(&alias, &mine).await;
    let update = client.update_alias().alias_name(&alias).target_key_id(&m.key_id);
    let denied = no_key_policy(&root_arn(&account), "kms:UpdateAlias", &m.arn.expect("arn"));
    assert_eq!(outcome(update.send().await), denied);
}
