//! KMS through the official `aws-sdk-kms` client: keys, aliases, encryption, data keys, key states,
//! rotation, key policies, tags and scheduled deletion.

use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState, Tag};
use kinko_tests::{
    REGION, TestClock, TestServer, assert_error, create_user_with_key, dev_config, expect_err,
    policy_document, short_id, statement,
};

fn code<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

fn kms() -> Client {
    TestServer::start().kms_client()
}

async fn new_key(client: &Client) -> (String, String) {
    let m = client
        .create_key()
        .description("test key")
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata");
    (m.key_id, m.arn.expect("Arn"))
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().expect("tag")
}

async fn encrypt(client: &Client, key: &str, plaintext: &[u8], ctx: &[(&str, &str)]) -> Blob {
    let mut req = client.encrypt().key_id(key).plaintext(Blob::new(plaintext));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("CiphertextBlob")
}

#[tokio::test]
async fn create_describe_list_keys() {
    let client = kms();
    let account = TestServer::start().account_id().to_owned();
    let m = client
        .create_key()
        .description("my key")
        .tags(tag("team", "a"))
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    assert_eq!(m.aws_account_id.as_deref(), Some(account.as_str()));
    assert_eq!(
        m.arn.as_deref(),
        Some(format!("arn:aws:kms:{REGION}:{account}:key/{}", m.key_id).as_str())
    );
    assert_eq!(m.key_state, Some(KeyState::Enabled));
    assert!(m.enabled);
    assert_eq!(m.description.as_deref(), Some("my key"));
    assert_eq!(m.key_manager.as_ref().map(|k| k.as_str()), Some("CUSTOMER"));
    assert_eq!(m.key_spec.as_ref().map(|k| k.as_str()), Some("SYMMETRIC_DEFAULT"));
    assert_eq!(m.key_usage.as_ref().map(|k| k.as_str()), Some("ENCRYPT_DECRYPT"));
    assert!(m.deletion_date.is_none());

    // By id and by ARN.
    for id in [m.key_id.clone(), m.arn.clone().expect("arn")] {
        let d = client
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .expect("DescribeKey");
        assert_eq!(d.key_metadata.expect("metadata").key_id, m.key_id);
    }

    // Default key policy.
    let p = client
        .get_key_policy()
        .key_id(&m.key_id)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(p.policy_name.as_deref(), Some("default"));
    let doc: serde_json::Value = serde_json::from_str(p.policy.as_deref().expect("policy")).expect("json");
    assert_eq!(doc["Id"], "key-default-1");
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{account}:root")
    );
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    let names = client
        .list_key_policies()
        .key_id(&m.key_id)
        .send()
        .await
        .expect("ListKeyPolicies");
    assert_eq!(names.policy_names(), ["default"]);

    // ListKeys pages through every key.
    let (other, _) = new_key(&client).await;
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let out = client
            .list_keys()
            .limit(1)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("ListKeys");
        seen.extend(out.keys().iter().filter_map(|k| k.key_id.clone()));
        if !out.truncated {
            break;
        }
        marker = out.next_marker;
    }
    assert!(seen.contains(&m.key_id) && seen.contains(&other));
    let e = expect_err!(client.list_keys().marker("bogus").send().await);
    assert!(e.is_invalid_marker_exception(), "{e:?}");
}

#[tokio::test]
async fn key_id_errors() {
    let client = kms();
    let account = TestServer::start().account_id().to_owned();
    let e = expect_err!(client.describe_key().key_id("fake-key-id").send().await);
    assert_error(&e, "NotFoundException", "Invalid keyId 'fake-key-id'");
    let id = "11111111-2222-4333-8444-555555555555";
    let e = expect_err!(client.describe_key().key_id(id).send().await);
    assert_error(
        &e,
        "NotFoundException",
        &format!("Key 'arn:aws:kms:{REGION}:{account}:key/{id}' does not exist"),
    );
    let e = expect_err!(
        client
            .describe_key()
            .key_id(format!("arn:aws:kms:eu-west-1:{account}:key/{id}"))
            .send()
            .await
    );
    assert_error(&e, "NotFoundException", "Invalid arn eu-west-1");
    let e = expect_err!(client.describe_key().key_id("alias/does-not-exist").send().await);
    assert_error(
        &e,
        "NotFoundException",
        &format!("Alias arn:aws:kms:{REGION}:{account}:alias/does-not-exist is not found."),
    );
    let e = expect_err!(client.create_key().key_spec("RSA_2048".into()).send().await);
    assert_error(
        &e,
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    );
    let e = expect_err!(
        client
            .create_key()
            .key_spec("RSA_2048".into())
            .key_usage("SIGN_VERIFY".into())
            .send()
            .await
    );
    assert!(e.is_unsupported_operation_exception(), "{e:?}");
    let e = expect_err!(client.create_key().policy("not json").send().await);
    assert!(e.is_malformed_policy_document_exception(), "{e:?}");
}

#[tokio::test]
async fn encrypt_decrypt_and_context() {
    let client = kms();
    let (key_id, arn) = new_key(&client).await;
    let blob = encrypt(&client, &key_id, b"hello", &[("purpose", "test"), ("a", "b")]).await;

    // Without KeyId, with a context in another order.
    let out = client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("a", "b")
        .encryption_context("purpose", "test")
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"hello");
    assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(
        out.encryption_algorithm.as_ref().map(|a| a.as_str()),
        Some("SYMMETRIC_DEFAULT")
    );

    // With the KeyId (ARN).
    let out = client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .key_id(&arn)
        .encryption_context("a", "b")
        .encryption_context("purpose", "test")
        .send()
        .await
        .expect("Decrypt with KeyId");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"hello");

    // Wrong, missing or extra context.
    for ctx in [vec![], vec![("a", "b")], vec![("a", "b"), ("purpose", "TEST")]] {
        let mut req = client.decrypt().ciphertext_blob(blob.clone());
        for (k, v) in ctx {
            req = req.encryption_context(k, v);
        }
        let e = expect_err!(req.send().await);
        assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
        assert_eq!(e.message(), None);
    }

    // Tampered and garbage blobs.
    let mut bytes = blob.clone().into_inner();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let e = expect_err!(client.decrypt().ciphertext_blob(Blob::new(bytes)).send().await);
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
    let e = expect_err!(
        client
            .decrypt()
            .ciphertext_blob(Blob::new(b"garbage".to_vec()))
            .send()
            .await
    );
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");

    // KeyId of another key.
    let (other, _) = new_key(&client).await;
    let e = expect_err!(
        client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .key_id(&other)
            .send()
            .await
    );
    assert_error(
        &e,
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
    );

    // Plaintext limits.
    let e = expect_err!(
        client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(vec![0u8; 4097]))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
    let big = encrypt(&client, &key_id, &[7u8; 4096], &[]).await;
    let out = client
        .decrypt()
        .ciphertext_blob(big)
        .send()
        .await
        .expect("Decrypt 4096");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), &[7u8; 4096][..]);

    // DryRun.
    let e = expect_err!(
        client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x".to_vec()))
            .dry_run(true)
            .send()
            .await
    );
    assert_error(
        &e,
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    );
}

#[tokio::test]
async fn re_encrypt_moves_between_keys() {
    let client = kms();
    let (a, a_arn) = new_key(&client).await;
    let (b, b_arn) = new_key(&client).await;
    let blob = encrypt(&client, &a, b"move me", &[("k", "1")]).await;
    let out = client
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("k", "1")
        .destination_key_id(&b)
        .destination_encryption_context("k", "2")
        .send()
        .await
        .expect("ReEncrypt");
    assert_eq!(out.source_key_id.as_deref(), Some(a_arn.as_str()));
    assert_eq!(out.key_id.as_deref(), Some(b_arn.as_str()));
    let moved = out.ciphertext_blob.expect("blob");
    let d = client
        .decrypt()
        .ciphertext_blob(moved)
        .encryption_context("k", "2")
        .send()
        .await
        .expect("Decrypt re-encrypted");
    assert_eq!(d.key_id.as_deref(), Some(b_arn.as_str()));
    assert_eq!(d.plaintext.expect("plaintext").as_ref(), b"move me");
    let e = expect_err!(
        client
            .re_encrypt()
            .ciphertext_blob(blob)
            .source_key_id(&b)
            .source_encryption_context("k", "1")
            .destination_key_id(&b)
            .send()
            .await
    );
    assert!(e.is_incorrect_key_exception(), "{e:?}");
}

#[tokio::test]
async fn data_keys_and_random() {
    let client = kms();
    let (key_id, arn) = new_key(&client).await;
    for (spec, n) in [
        (Some(DataKeySpec::Aes256), 32),
        (Some(DataKeySpec::Aes128), 16),
        (None, 64),
    ] {
        let mut req = client
            .generate_data_key()
            .key_id(&key_id)
            .encryption_context("c", "d");
        req = match spec {
            Some(s) => req.key_spec(s),
            None => req.number_of_bytes(n),
        };
        let out = req.send().await.expect("GenerateDataKey");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
        let plaintext = out.plaintext.expect("plaintext").into_inner();
        assert_eq!(plaintext.len(), usize::try_from(n).expect("n"));
        let d = client
            .decrypt()
            .ciphertext_blob(out.ciphertext_blob.expect("blob"))
            .encryption_context("c", "d")
            .send()
            .await
            .expect("Decrypt data key");
        assert_eq!(d.plaintext.expect("plaintext").into_inner(), plaintext);
    }
    let out = client
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .expect("GenerateDataKeyWithoutPlaintext");
    let d = client
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob.expect("blob"))
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(d.plaintext.expect("plaintext").as_ref().len(), 32);

    let e = expect_err!(client.generate_data_key().key_id(&key_id).send().await);
    assert_eq!(code(&e), Some("ValidationException"), "{e:?}");
    let e = expect_err!(
        client
            .generate_data_key()
            .key_id(&key_id)
            .number_of_bytes(1025)
            .send()
            .await
    );
    assert_eq!(code(&e), Some("ValidationException"), "{e:?}");

    let r = client
        .generate_random()
        .number_of_bytes(100)
        .send()
        .await
        .expect("GenerateRandom");
    assert_eq!(r.plaintext.expect("plaintext").as_ref().len(), 100);
    let e = expect_err!(client.generate_random().send().await);
    assert_error(&e, "ValidationException", "NumberOfBytes is required.");
    let e = expect_err!(client.generate_random().number_of_bytes(1025).send().await);
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    );
    let e = expect_err!(client.generate_random().number_of_bytes(0).send().await);
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
}

#[tokio::test]
async fn key_states() {
    let client = kms();
    let (key_id, arn) = new_key(&client).await;
    let blob = encrypt(&client, &key_id, b"state", &[]).await;

    client
        .disable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("DisableKey");
    let m = client
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("m");
    assert_eq!(m.key_state, Some(KeyState::Disabled));
    assert!(!m.enabled);
    let disabled = format!("{arn} is disabled.");
    let e = expect_err!(
        client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
    );
    assert_error(&e, "DisabledException", &disabled);
    let e = expect_err!(client.decrypt().ciphertext_blob(blob.clone()).send().await);
    assert_error(&e, "DisabledException", &disabled);
    let e = expect_err!(
        client
            .generate_data_key()
            .key_id(&key_id)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
    );
    assert_error(&e, "DisabledException", &disabled);
    let e = expect_err!(client.enable_key_rotation().key_id(&key_id).send().await);
    assert_error(&e, "DisabledException", &disabled);
    client
        .enable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("EnableKey");
    client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .expect("Decrypt after enable");

    // Pending deletion.
    let e = expect_err!(
        client
            .schedule_key_deletion()
            .key_id(&key_id)
            .pending_window_in_days(6)
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        "PendingWindowInDays should be between 7 and 30, but it is 6",
    );
    let s = client
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert_eq!(s.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(s.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(s.pending_window_in_days, Some(7));
    assert!(s.deletion_date.is_some());
    let m = client
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("m");
    assert_eq!(m.key_state, Some(KeyState::PendingDeletion));
    assert!(!m.enabled);
    assert!(m.deletion_date.is_some());
    let pending = format!("{arn} is pending deletion.");
    let e = expect_err!(
        client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
    );
    assert_error(&e, "KMSInvalidStateException", &pending);
    let e = expect_err!(client.decrypt().ciphertext_blob(blob.clone()).send().await);
    assert_error(&e, "KMSInvalidStateException", &pending);
    let e = expect_err!(client.enable_key().key_id(&key_id).send().await);
    assert_error(&e, "KMSInvalidStateException", &pending);
    let e = expect_err!(client.disable_key().key_id(&key_id).send().await);
    assert_error(&e, "KMSInvalidStateException", &pending);
    let e = expect_err!(client.schedule_key_deletion().key_id(&key_id).send().await);
    assert_error(&e, "KMSInvalidStateException", &pending);
    let e = expect_err!(
        client
            .tag_resource()
            .key_id(&key_id)
            .tags(tag("a", "b"))
            .send()
            .await
    );
    assert_error(&e, "KMSInvalidStateException", &pending);
    // Metadata operations still work.
    client
        .get_key_policy()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyPolicy");
    client
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags");
    client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyRotationStatus");

    let c = client
        .cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .expect("CancelKeyDeletion");
    assert_eq!(c.key_id.as_deref(), Some(arn.as_str()));
    let m = client
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("m");
    assert_eq!(m.key_state, Some(KeyState::Disabled));
    assert!(m.deletion_date.is_none());
    let e = expect_err!(client.cancel_key_deletion().key_id(&key_id).send().await);
    assert_error(
        &e,
        "KMSInvalidStateException",
        &format!("{arn} is not pending deletion."),
    );
    client
        .enable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("EnableKey");
    client
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .expect("Decrypt after cancel");
}

#[tokio::test]
async fn rotation_keeps_old_ciphertexts() {
    let client = kms();
    let (key_id, _) = new_key(&client).await;
    let s = client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .expect("status");
    assert!(!s.key_rotation_enabled);
    client
        .enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let s = client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .expect("status");
    assert!(s.key_rotation_enabled);
    assert_eq!(s.rotation_period_in_days, Some(90));
    assert!(s.next_rotation_date.is_some());
    let e = expect_err!(
        client
            .enable_key_rotation()
            .key_id(&key_id)
            .rotation_period_in_days(89)
            .send()
            .await
    );
    assert_eq!(code(&e), Some("ValidationException"), "{e:?}");

    let old = encrypt(&client, &key_id, b"before", &[("v", "1")]).await;
    client
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    let new = encrypt(&client, &key_id, b"after", &[]).await;
    // The blobs name different material versions.
    assert_ne!(old.as_ref()[..44], new.as_ref()[..44]);
    client
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .expect("second rotation");
    let d = client
        .decrypt()
        .ciphertext_blob(old)
        .encryption_context("v", "1")
        .send()
        .await
        .expect("old ciphertext decrypts");
    assert_eq!(d.plaintext.expect("p").as_ref(), b"before");
    let d = client
        .decrypt()
        .ciphertext_blob(new)
        .send()
        .await
        .expect("new ciphertext decrypts");
    assert_eq!(d.plaintext.expect("p").as_ref(), b"after");

    client
        .disable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .expect("DisableKeyRotation");
    let s = client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .expect("status");
    assert!(!s.key_rotation_enabled);
}

#[tokio::test]
async fn aliases() {
    let client = kms();
    let account = TestServer::start().account_id().to_owned();
    let (a, a_arn) = new_key(&client).await;
    let (b, _) = new_key(&client).await;
    let name = format!("alias/test-{}", short_id());
    let alias_arn = format!("arn:aws:kms:{REGION}:{account}:{name}");
    client
        .create_alias()
        .alias_name(&name)
        .target_key_id(&a)
        .send()
        .await
        .expect("CreateAlias");

    // The alias works as a KeyId, by name and by ARN.
    let blob = encrypt(&client, &name, b"via alias", &[]).await;
    let d = client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .key_id(&alias_arn)
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(d.key_id.as_deref(), Some(a_arn.as_str()));
    let m = client
        .describe_key()
        .key_id(&alias_arn)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("m");
    assert_eq!(m.key_id, a);

    let e = expect_err!(
        client
            .create_alias()
            .alias_name(&name)
            .target_key_id(&b)
            .send()
            .await
    );
    assert_error(
        &e,
        "AlreadyExistsException",
        &format!("An alias with the name {alias_arn} already exists"),
    );
    let e = expect_err!(
        client
            .create_alias()
            .alias_name("no-prefix")
            .target_key_id(&b)
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    );
    let e = expect_err!(
        client
            .create_alias()
            .alias_name("alias/aws/mine")
            .target_key_id(&b)
            .send()
            .await
    );
    assert_eq!(code(&e), Some("NotAuthorizedException"));
    // Aliases can't be targets.
    let e = expect_err!(
        client
            .create_alias()
            .alias_name(format!("alias/x-{}", short_id()))
            .target_key_id(&name)
            .send()
            .await
    );
    assert!(e.is_not_found_exception(), "{e:?}");

    // ListAliases, filtered by key.
    let listed = client
        .list_aliases()
        .key_id(&a)
        .send()
        .await
        .expect("ListAliases");
    let entry = listed
        .aliases()
        .iter()
        .find(|x| x.alias_name.as_deref() == Some(name.as_str()))
        .expect("alias listed");
    assert_eq!(entry.alias_arn.as_deref(), Some(alias_arn.as_str()));
    assert_eq!(entry.target_key_id.as_deref(), Some(a.as_str()));
    assert!(entry.creation_date.is_some());

    // UpdateAlias re-points; the old ciphertext still decrypts (it names its key).
    client
        .update_alias()
        .alias_name(&name)
        .target_key_id(&b)
        .send()
        .await
        .expect("UpdateAlias");
    let m = client
        .describe_key()
        .key_id(&name)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("m");
    assert_eq!(m.key_id, b);
    let e = expect_err!(
        client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .key_id(&name)
            .send()
            .await
    );
    assert!(e.is_incorrect_key_exception(), "{e:?}");
    client
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .expect("Decrypt without KeyId");
    assert!(
        client
            .list_aliases()
            .key_id(&a)
            .send()
            .await
            .expect("ListAliases")
            .aliases()
            .iter()
            .all(|x| x.alias_name.as_deref() != Some(name.as_str()))
    );

    // A target pending deletion is refused.
    let (c, c_arn) = new_key(&client).await;
    client
        .schedule_key_deletion()
        .key_id(&c)
        .send()
        .await
        .expect("schedule");
    let e = expect_err!(
        client
            .update_alias()
            .alias_name(&name)
            .target_key_id(&c)
            .send()
            .await
    );
    assert_error(
        &e,
        "KMSInvalidStateException",
        &format!("{c_arn} is pending deletion."),
    );

    client
        .delete_alias()
        .alias_name(&name)
        .send()
        .await
        .expect("DeleteAlias");
    let e = expect_err!(client.delete_alias().alias_name(&name).send().await);
    assert_error(
        &e,
        "NotFoundException",
        &format!("Alias {alias_arn} is not found."),
    );
    let e = expect_err!(client.describe_key().key_id(&name).send().await);
    assert!(e.is_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn tags() {
    let client = kms();
    let (key_id, _) = new_key(&client).await;
    client
        .tag_resource()
        .key_id(&key_id)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await
        .expect("TagResource");
    client
        .tag_resource()
        .key_id(&key_id)
        .tags(tag("a", "3"))
        .send()
        .await
        .expect("replace");
    let mut t: Vec<(String, String)> = client
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags")
        .tags()
        .iter()
        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
        .collect();
    t.sort();
    assert_eq!(t, [("a".into(), "3".into()), ("b".into(), "2".into())]);
    client
        .untag_resource()
        .key_id(&key_id)
        .tag_keys("a")
        .tag_keys("b")
        .send()
        .await
        .expect("Untag");
    let out = client
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags");
    assert!(out.tags.is_some_and(|t| t.is_empty()));
    assert!(!out.truncated);

    let e = expect_err!(
        client
            .tag_resource()
            .key_id(&key_id)
            .tags(tag("aws:x", "1"))
            .send()
            .await
    );
    assert_error(&e, "TagException", "Tags beginning with aws: are reserved");
    let e = expect_err!(
        client
            .tag_resource()
            .key_id(&key_id)
            .tags(tag("d", "1"))
            .tags(tag("d", "2"))
            .send()
            .await
    );
    assert_error(&e, "TagException", "Duplicate tag keys");
    let mut req = client.tag_resource().key_id(&key_id);
    for n in 0..51 {
        req = req.tags(tag(&format!("k{n}"), "v"));
    }
    let e = expect_err!(req.send().await);
    assert_error(&e, "TagException", "Too many tags");
    let e = expect_err!(client.create_key().tags(tag("AWS:y", "1")).send().await);
    assert_error(&e, "TagException", "Tags beginning with aws: are reserved");
}

#[tokio::test]
async fn key_policies_and_iam() {
    let server = TestServer::start();
    let client = server.kms_client();
    let iam = server.iam_client();
    let account = server.account_id().to_owned();

    // A user allowed everything on KMS by IAM.
    let user = format!("kms-user-{}", short_id());
    let doc = policy_document(&[statement("Allow", &["kms:*"], &["*"])]);
    let (user_arn, creds) = create_user_with_key(&iam, &user, Some(&doc)).await;
    let as_user = server.kms_client_as(&creds);

    // Default key policy delegates to the account: IAM decides.
    let (delegated, _) = new_key(&client).await;
    let blob = encrypt(&as_user, &delegated, b"ok", &[]).await;
    as_user
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .expect("user decrypts");

    // A key policy that only names root's own actions, not delegating use to IAM.
    let root = format!("arn:aws:iam::{account}:root");
    let only_admin = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey", "kms:Encrypt"],
            "Resource": "*"
        }]
    })
    .to_string();
    let m = client
        .create_key()
        .policy(&only_admin)
        .send()
        .await
        .expect("CreateKey with policy")
        .key_metadata
        .expect("m");
    let arn = m.arn.expect("arn");
    let e = expect_err!(
        as_user
            .generate_data_key()
            .key_id(&m.key_id)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &format!(
            "User: {user_arn} is not authorized to perform: kms:GenerateDataKey on resource: {arn} because no resource-based policy allows the kms:GenerateDataKey action"
        ),
    );
    let blob = encrypt(&client, &m.key_id, b"x", &[]).await;
    let e = expect_err!(as_user.decrypt().ciphertext_blob(blob).send().await);
    assert!(
        e.message()
            .is_some_and(|m| m.contains("kms:Decrypt") && m.contains(&arn)),
        "{e:?}"
    );

    // A user with no identity policy can't use even a delegating key.
    let bare = format!("kms-bare-{}", short_id());
    let (bare_arn, bare_creds) = create_user_with_key(&iam, &bare, None).await;
    let as_bare = server.kms_client_as(&bare_creds);
    let e = expect_err!(as_bare.describe_key().key_id(&delegated).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &format!(
            "User: {bare_arn} is not authorized to perform: kms:DescribeKey on resource: arn:aws:kms:{REGION}:{account}:key/{delegated} because no identity-based policy allows the kms:DescribeKey action"
        ),
    );
    // Nor learn whether a key exists.
    let e = expect_err!(
        as_bare
            .describe_key()
            .key_id("11111111-2222-4333-8444-555555555555")
            .send()
            .await
    );
    assert_eq!(code(&e), Some("AccessDeniedException"), "{e:?}");
    let e = expect_err!(as_bare.list_keys().send().await);
    assert_eq!(code(&e), Some("AccessDeniedException"));

    // Encryption context conditions.
    let ctx_doc = policy_document(&[serde_json::json!({
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}
    })]);
    let ctx_user = format!("kms-ctx-{}", short_id());
    let (_, ctx_creds) = create_user_with_key(&iam, &ctx_user, Some(&ctx_doc)).await;
    let as_ctx = server.kms_client_as(&ctx_creds);
    encrypt(&as_ctx, &delegated, b"x", &[("app", "billing")]).await;
    let e = expect_err!(
        as_ctx
            .encrypt()
            .key_id(&delegated)
            .plaintext(Blob::new(b"x".to_vec()))
            .encryption_context("app", "other")
            .send()
            .await
    );
    assert_eq!(code(&e), Some("AccessDeniedException"));

    // PutKeyPolicy: lockout check, then bypass.
    let nobody = policy_document(&[serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": user_arn},
        "Action": "kms:Decrypt",
        "Resource": "*"
    })]);
    let e = expect_err!(
        client
            .put_key_policy()
            .key_id(&delegated)
            .policy(&nobody)
            .send()
            .await
    );
    assert_error(
        &e,
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future.",
    );
    let e = expect_err!(
        client
            .put_key_policy()
            .key_id(&delegated)
            .policy("{")
            .send()
            .await
    );
    assert!(e.is_malformed_policy_document_exception(), "{e:?}");
    let direct = policy_document(&[
        serde_json::json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "kms:*", "Resource": "*"}),
    ]);
    client
        .put_key_policy()
        .key_id(&delegated)
        .policy(&direct)
        .send()
        .await
        .expect("PutKeyPolicy");
    let got = client
        .get_key_policy()
        .key_id(&delegated)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(got.policy.as_deref(), Some(direct.as_str()));
    let e = expect_err!(
        client
            .get_key_policy()
            .key_id(&delegated)
            .policy_name("other")
            .send()
            .await
    );
    assert!(e.is_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn secretsmanager_key_is_aws_managed() {
    let client = kms();
    let m = client
        .describe_key()
        .key_id("alias/aws/secretsmanager")
        .send()
        .await
        .expect("DescribeKey aws/secretsmanager")
        .key_metadata
        .expect("m");
    assert_eq!(m.key_manager.as_ref().map(|k| k.as_str()), Some("AWS"));
    // Not usable directly, not changeable.
    let e = expect_err!(
        client
            .encrypt()
            .key_id("alias/aws/secretsmanager")
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
    );
    assert_eq!(code(&e), Some("AccessDeniedException"));
    let e = expect_err!(client.schedule_key_deletion().key_id(&m.key_id).send().await);
    assert_eq!(code(&e), Some("AccessDeniedException"));
}

#[tokio::test]
async fn scheduled_deletion_purges_keys() {
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let client = server.kms_client();
    let (key_id, _) = new_key(&client).await;
    let (kept, _) = new_key(&client).await;
    let name = format!("alias/purge-{}", short_id());
    client
        .create_alias()
        .alias_name(&name)
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias");
    let blob = encrypt(&client, &key_id, b"gone soon", &[]).await;
    client
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    client
        .schedule_key_deletion()
        .key_id(&kept)
        .send()
        .await
        .expect("schedule kept");
    client
        .cancel_key_deletion()
        .key_id(&kept)
        .send()
        .await
        .expect("cancel kept");

    manual.advance(Duration::from_secs(6 * 86_400));
    server.run_jobs_now().await;
    client
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("still there before the date");

    manual.advance(Duration::from_secs(2 * 86_400));
    server.run_jobs_now().await;
    let e = expect_err!(client.describe_key().key_id(&key_id).send().await);
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = expect_err!(client.describe_key().key_id(&name).send().await);
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = expect_err!(client.decrypt().ciphertext_blob(blob).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
    );
    let keys = client.list_keys().send().await.expect("ListKeys");
    assert!(
        keys.keys()
            .iter()
            .all(|k| k.key_id.as_deref() != Some(key_id.as_str()))
    );
    client
        .describe_key()
        .key_id(&kept)
        .send()
        .await
        .expect("cancelled key stays");
    server.shutdown().await;
}
