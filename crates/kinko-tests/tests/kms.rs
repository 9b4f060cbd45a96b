//! KMS through the official `aws-sdk-kms` client: keys and their identifiers, aliases, encryption,
//! data keys, key states, rotation, key policies, tags and scheduled deletion, and authorization
//! (key policies together with identity policies, condition keys, other accounts' principals).
//!
//! Tests share one server (per test binary) and work on keys of their own; the test of purging
//! keys runs its own server on a manual clock.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, EncryptionAlgorithmSpec, KeySpec, KeyState, KeyUsageType, Tag};
use kinko_tests::{
    REGION, TestClock, TestServer, assert_error, create_user_with_key, denied_message, dev_config,
    expect_err, no_identity_policy, now_secs, policy_document, short_id, statement,
};
use serde_json::{Value, json};

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
const INCORRECT_KEY: &str =
    "The key ID in the request does not identify a CMK that can perform this operation.";
const LOCKOUT: &str = "The new key policy will not allow you to update the key policy in the future.";
const DRY_RUN: &str = "The request would have succeeded, but the DryRun option is set.";
const UNKNOWN_CIPHERTEXT_KEY: &str = "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.";

fn code<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

fn kms() -> Client {
    TestServer::start().kms_client()
}

fn account() -> String {
    TestServer::start().account_id().to_owned()
}

fn key_arn(account: &str, id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:key/{id}")
}

fn alias_arn(account: &str, name: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:{name}")
}

fn root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

fn new_alias() -> String {
    format!("alias/test-{}", short_id())
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

/// A key with this key policy (the lockout safety check bypassed when `bypass`).
async fn key_with_policy(client: &Client, policy: &str, bypass: bool) -> (String, String) {
    let m = client
        .create_key()
        .policy(policy)
        .bypass_policy_lockout_safety_check(bypass)
        .send()
        .await
        .expect("CreateKey with a policy")
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

async fn describe(client: &Client, key: &str) -> aws_sdk_kms::types::KeyMetadata {
    client
        .describe_key()
        .key_id(key)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("KeyMetadata")
}

/// Every key id ListKeys gives, page after page.
async fn all_key_ids(client: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    let mut marker = None;
    loop {
        let out = client
            .list_keys()
            .limit(1000)
            .set_marker(marker)
            .send()
            .await
            .expect("ListKeys");
        ids.extend(out.keys().iter().filter_map(|k| k.key_id.clone()));
        if !out.truncated {
            return ids;
        }
        marker = Some(out.next_marker.expect("NextMarker when truncated"));
    }
}

/// The outcome of a call: `Ok(())`, or the error's code and message (`""` when it has none).
type Outcome = Result<(), (String, String)>;

fn outcome<O, E>(r: Result<O, SdkError<E, HttpResponse>>) -> Outcome
where
    E: ProvideErrorMetadata + Debug,
{
    r.map(|_| ()).map_err(|e| match e.code() {
        Some(c) => (c.to_owned(), e.message().unwrap_or_default().to_owned()),
        None => panic!("not a service error: {e:?}"),
    })
}

fn failed(code: &str, message: &str) -> Outcome {
    Err((code.to_owned(), message.to_owned()))
}

/// AccessDeniedException because no key policy statement allows `action` to the caller.
fn no_key_policy(principal: &str, action: &str, key_arn: &str) -> Outcome {
    failed(
        "AccessDeniedException",
        &denied_message(
            principal,
            action,
            Some(key_arn),
            &format!("because no resource-based policy allows the {action} action"),
        ),
    )
}

/// AccessDeniedException because no identity-based policy of the caller allows `action`.
fn no_iam_policy(principal: &str, action: &str, key_arn: &str) -> Outcome {
    failed(
        "AccessDeniedException",
        &no_identity_policy(principal, action, Some(key_arn)),
    )
}

async fn try_encrypt(client: &Client, key: &str, ctx: &[(&str, &str)]) -> Outcome {
    let mut req = client.encrypt().key_id(key).plaintext(Blob::new(b"x".to_vec()));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    outcome(req.send().await)
}

async fn try_decrypt(client: &Client, blob: &Blob, key: Option<&str>, ctx: &[(&str, &str)]) -> Outcome {
    let mut req = client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .set_key_id(key.map(str::to_owned));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    outcome(req.send().await)
}

async fn try_data_key(client: &Client, key: &str, ctx: &[(&str, &str)]) -> Outcome {
    let mut req = client
        .generate_data_key()
        .key_id(key)
        .key_spec(DataKeySpec::Aes256);
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    outcome(req.send().await)
}

/// The HTTP status and JSON body of a call that failed.
fn raw_error<O: Debug, E: Debug>(r: Result<O, SdkError<E, HttpResponse>>) -> (u16, Value) {
    let e = match r {
        Ok(out) => panic!("expected an error, got success: {out:?}"),
        Err(e) => e,
    };
    let raw = e
        .raw_response()
        .unwrap_or_else(|| panic!("no HTTP response: {e:?}"));
    let body = serde_json::from_slice(raw.body().bytes().expect("a buffered body")).expect("a JSON body");
    (raw.status().as_u16(), body)
}

/// `1 validation error detected: <violation>`.
fn validation(violation: &str) -> String {
    format!("1 validation error detected: {violation}")
}

#[tokio::test]
async fn create_describe_list_and_update_keys() {
    let client = kms();
    let account = account();
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
    let tags = client
        .list_resource_tags()
        .key_id(&m.key_id)
        .send()
        .await
        .expect("ListResourceTags");
    assert_eq!(tags.tags(), [tag("team", "a")]);

    // By id and by ARN (aliases: see `aliases`).
    for id in [m.key_id.clone(), m.arn.clone().expect("arn")] {
        assert_eq!(describe(&client, &id).await.key_id, m.key_id);
    }

    // The description defaults to "" and can be changed, within 8192 characters.
    let undescribed = client
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    assert_eq!(undescribed.description.as_deref(), Some(""));
    let plain = undescribed.key_id;
    client
        .update_key_description()
        .key_id(&plain)
        .description("now described")
        .send()
        .await
        .expect("UpdateKeyDescription");
    assert_eq!(
        describe(&client, &plain).await.description.as_deref(),
        Some("now described")
    );
    let long = "d".repeat(8193);
    let e = expect_err!(
        client
            .update_key_description()
            .key_id(&plain)
            .description(&long)
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{long}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"
        )),
    );
    let e = expect_err!(client.update_key_description().key_id(&plain).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation("Value null at 'description' failed to satisfy constraint: Member must not be null"),
    );
    let e = expect_err!(client.create_key().description(&long).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{long}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"
        )),
    );

    // Key specs and usages: only symmetric encryption keys are offered.
    let e = expect_err!(client.create_key().key_spec("RSA_1024".into()).send().await);
    assert_eq!(code(&e), Some("ValidationException"), "{e:?}");
    assert!(
        e.message().is_some_and(|m| m.starts_with(
            "1 validation error detected: Value 'RSA_1024' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: ["
        )),
        "{e:?}"
    );
    let e = expect_err!(client.create_key().key_spec(KeySpec::Rsa2048).send().await);
    assert_error(
        &e,
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    );
    let e = expect_err!(
        client
            .create_key()
            .key_spec(KeySpec::Rsa2048)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
    );
    assert!(e.is_unsupported_operation_exception(), "{e:?}");
    let sym = client
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .expect("explicit SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT")
        .key_metadata
        .expect("metadata");
    assert_eq!(sym.key_spec, Some(KeySpec::SymmetricDefault));

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
    assert!(seen.contains(&m.key_id) && seen.contains(&other) && seen.contains(&plain));
    let e = expect_err!(client.list_keys().marker("bogus").send().await);
    assert!(e.is_invalid_marker_exception(), "{e:?}");
    let e = expect_err!(client.list_keys().limit(0).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
    );
    let e = expect_err!(client.list_keys().limit(1001).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000",
        ),
    );
}

#[tokio::test]
async fn key_identifiers_and_not_found() {
    let client = kms();
    let account = account();
    let (key, arn) = new_key(&client).await;
    let alias = new_alias();
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    let named_arn = alias_arn(&account, &alias);

    // DescribeKey and the cryptographic operations take all four forms; results name the key ARN.
    for form in [&key, &arn, &alias, &named_arn] {
        assert_eq!(describe(&client, form).await.key_id, key, "{form}");
        let out = client
            .encrypt()
            .key_id(form)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
            .expect("Encrypt");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()), "{form}");
        let out = client
            .generate_data_key()
            .key_id(form)
            .number_of_bytes(8)
            .send()
            .await
            .expect("GenerateDataKey");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()), "{form}");
    }
    // Management operations take a key id or key ARN only.
    for form in [&key, &arn] {
        client
            .get_key_policy()
            .key_id(form)
            .send()
            .await
            .expect("GetKeyPolicy");
        client.enable_key().key_id(form).send().await.expect("EnableKey");
    }
    for form in [&alias, &named_arn] {
        let invalid = failed("NotFoundException", &format!("Invalid keyId '{form}'"));
        assert_eq!(
            outcome(client.get_key_policy().key_id(form).send().await),
            invalid
        );
        assert_eq!(outcome(client.enable_key().key_id(form).send().await), invalid);
        assert_eq!(
            outcome(client.list_resource_tags().key_id(form).send().await),
            invalid
        );
        assert_eq!(
            outcome(client.get_key_rotation_status().key_id(form).send().await),
            invalid
        );
    }

    // Malformed ids.
    for bad in [
        "fake-key-id",
        "134f2428cec14b25a1ae9048164dba47",
        "mrk-fake-key-id",
        "11111111-2222-4333-8444-55555555555g",
    ] {
        let e = expect_err!(client.describe_key().key_id(bad).send().await);
        assert_error(&e, "NotFoundException", &format!("Invalid keyId '{bad}'"));
        let e = expect_err!(client.disable_key().key_id(bad).send().await);
        assert_error(&e, "NotFoundException", &format!("Invalid keyId '{bad}'"));
    }
    let iam_arn = format!("arn:aws:iam::{account}:user/someone");
    let e = expect_err!(client.describe_key().key_id(&iam_arn).send().await);
    assert_error(&e, "NotFoundException", &format!("Invalid keyId '{iam_arn}'"));

    // Well-formed but unknown: reported with the ARN the id has in the caller's account.
    let unknown = "11111111-2222-4333-8444-555555555555";
    let unknown_arn = key_arn(&account, unknown);
    let mrk = "mrk-0123456789abcdef0123456789abcdef";
    let not_found = |arn: &str| failed("NotFoundException", &format!("Key '{arn}' does not exist"));
    assert_eq!(
        outcome(client.describe_key().key_id(unknown).send().await),
        not_found(&unknown_arn)
    );
    assert_eq!(
        outcome(client.describe_key().key_id(&unknown_arn).send().await),
        not_found(&unknown_arn)
    );
    assert_eq!(
        outcome(client.describe_key().key_id(mrk).send().await),
        not_found(&key_arn(&account, mrk))
    );
    assert_eq!(try_encrypt(&client, unknown, &[]).await, not_found(&unknown_arn));
    assert_eq!(
        outcome(client.schedule_key_deletion().key_id(unknown).send().await),
        not_found(&unknown_arn)
    );
    assert_eq!(
        outcome(
            client
                .tag_resource()
                .key_id(&unknown_arn)
                .tags(tag("a", "b"))
                .send()
                .await
        ),
        not_found(&unknown_arn)
    );
    let missing = "alias/does-not-exist";
    let missing_alias = failed(
        "NotFoundException",
        &format!("Alias {} is not found.", alias_arn(&account, missing)),
    );
    assert_eq!(
        outcome(client.describe_key().key_id(missing).send().await),
        missing_alias
    );
    assert_eq!(
        outcome(
            client
                .describe_key()
                .key_id(alias_arn(&account, missing))
                .send()
                .await
        ),
        missing_alias
    );
    assert_eq!(try_data_key(&client, missing, &[]).await, missing_alias);

    // ARNs of another region.
    for other in [
        format!("arn:aws:kms:eu-west-1:{account}:key/{key}"),
        format!("arn:aws:kms:eu-west-1:{account}:{alias}"),
    ] {
        let e = expect_err!(client.describe_key().key_id(&other).send().await);
        assert_error(&e, "NotFoundException", "Invalid arn eu-west-1");
    }

    // Model constraints on KeyId.
    let e = expect_err!(client.describe_key().key_id("").send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
    );
    let e = expect_err!(client.describe_key().send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation("Value null at 'keyId' failed to satisfy constraint: Member must not be null"),
    );
    let huge = "k".repeat(2049);
    let e = expect_err!(
        client
            .encrypt()
            .key_id(&huge)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{huge}' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048"
        )),
    );

    // On the wire: HTTP 400 with `__type` and a lowercase `message`.
    let (status, body) = raw_error(client.describe_key().key_id(unknown).send().await);
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"__type": "NotFoundException", "message": format!("Key '{unknown_arn}' does not exist")})
    );
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
        out.encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );

    // With the KeyId, as key id and key ARN (alias forms: see `key_identifiers_and_not_found`).
    for form in [&key_id, &arn] {
        let out = client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .key_id(form)
            .encryption_context("a", "b")
            .encryption_context("purpose", "test")
            .encryption_algorithm(EncryptionAlgorithmSpec::SymmetricDefault)
            .send()
            .await
            .expect("Decrypt with KeyId");
        assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"hello");
    }

    // Wrong, missing, extra or differently cased context: no message at all.
    for ctx in [
        vec![],
        vec![("a", "b")],
        vec![("a", "b"), ("purpose", "TEST")],
        vec![("a", "b"), ("Purpose", "test")],
        vec![("a", "b"), ("purpose", "test"), ("c", "d")],
    ] {
        assert_eq!(
            try_decrypt(&client, &blob, None, &ctx).await,
            failed("InvalidCiphertextException", ""),
            "{ctx:?}"
        );
    }
    // No context at encryption: none or an empty map at decryption.
    let bare = encrypt(&client, &key_id, b"bare", &[]).await;
    let out = client
        .decrypt()
        .ciphertext_blob(bare.clone())
        .set_encryption_context(Some(HashMap::new()))
        .send()
        .await
        .expect("Decrypt with an empty context");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"bare");
    assert_eq!(
        try_decrypt(&client, &bare, None, &[("x", "y")]).await,
        failed("InvalidCiphertextException", "")
    );
    // On the wire: HTTP 400 and no `message` member.
    let (status, body) = raw_error(
        client
            .decrypt()
            .ciphertext_blob(bare.clone())
            .encryption_context("x", "y")
            .send()
            .await,
    );
    assert_eq!(
        (status, body),
        (400, json!({"__type": "InvalidCiphertextException"}))
    );

    // Tampered and garbage blobs.
    let mut bytes = blob.clone().into_inner();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = Blob::new(bytes);
    for bad in [
        tampered,
        Blob::new(b"garbage".to_vec()),
        Blob::new(vec![0u8; 100]),
    ] {
        assert_eq!(
            try_decrypt(&client, &bad, None, &[("a", "b"), ("purpose", "test")]).await,
            failed("InvalidCiphertextException", "")
        );
    }
    let e = expect_err!(
        client
            .decrypt()
            .ciphertext_blob(Blob::new(vec![1u8; 6145]))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144",
        ),
    );
    let e = expect_err!(client.decrypt().send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation("Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"),
    );

    // KeyId of another key, or of no key.
    let (other, _) = new_key(&client).await;
    let e = expect_err!(
        client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .key_id(&other)
            .send()
            .await
    );
    assert_error(&e, "IncorrectKeyException", INCORRECT_KEY);
    let unknown = "11111111-2222-4333-8444-555555555555";
    assert_eq!(
        try_decrypt(&client, &blob, Some(unknown), &[]).await,
        failed(
            "NotFoundException",
            &format!("Key '{}' does not exist", key_arn(&account(), unknown))
        )
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
    let e = expect_err!(
        client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(Vec::new()))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
    );
    let big = encrypt(&client, &key_id, &[7u8; 4096], &[]).await;
    let out = client
        .decrypt()
        .ciphertext_blob(big)
        .send()
        .await
        .expect("Decrypt 4096");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), &[7u8; 4096][..]);
    let single = encrypt(&client, &key_id, &[1u8], &[]).await;
    assert_eq!(try_decrypt(&client, &single, None, &[]).await, Ok(()));

    // Algorithms: only SYMMETRIC_DEFAULT suits a symmetric key.
    let out = client
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_algorithm(EncryptionAlgorithmSpec::SymmetricDefault)
        .send()
        .await
        .expect("Encrypt SYMMETRIC_DEFAULT");
    assert_eq!(
        out.encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let incompatible = failed(
        "InvalidKeyUsageException",
        "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT.",
    );
    assert_eq!(
        outcome(
            client
                .encrypt()
                .key_id(&key_id)
                .plaintext(Blob::new(b"x".to_vec()))
                .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
                .send()
                .await
        ),
        incompatible
    );
    assert_eq!(
        outcome(
            client
                .decrypt()
                .ciphertext_blob(bare.clone())
                .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
                .send()
                .await
        ),
        incompatible
    );
    let e = expect_err!(
        client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x".to_vec()))
            .encryption_algorithm("AES_GCM".into())
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value 'AES_GCM' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
        ),
    );
    let mut req = client
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"x".to_vec()));
    for n in 0..11 {
        req = req.grant_tokens(format!("token-{n}"));
    }
    let e = expect_err!(req.send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10",
        ),
    );

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
    assert_error(&e, "DryRunOperationException", DRY_RUN);
    let e = expect_err!(client.decrypt().ciphertext_blob(bare).dry_run(true).send().await);
    assert_error(&e, "DryRunOperationException", DRY_RUN);
}

#[tokio::test]
async fn re_encrypt_moves_between_keys() {
    let client = kms();
    let (a, a_arn) = new_key(&client).await;
    let (b, b_arn) = new_key(&client).await;
    let b_alias = new_alias();
    client
        .create_alias()
        .alias_name(&b_alias)
        .target_key_id(&b)
        .send()
        .await
        .expect("CreateAlias");
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
    assert_eq!(
        out.source_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        out.destination_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let moved = out.ciphertext_blob.expect("blob");
    let d = client
        .decrypt()
        .ciphertext_blob(moved.clone())
        .encryption_context("k", "2")
        .send()
        .await
        .expect("Decrypt re-encrypted");
    assert_eq!(d.key_id.as_deref(), Some(b_arn.as_str()));
    assert_eq!(d.plaintext.expect("plaintext").as_ref(), b"move me");
    assert_eq!(
        try_decrypt(&client, &moved, None, &[("k", "1")]).await,
        failed("InvalidCiphertextException", "")
    );

    // Source named (by alias), destination by alias; back to the same key with another context.
    let out = client
        .re_encrypt()
        .ciphertext_blob(moved.clone())
        .source_key_id(&b_alias)
        .source_encryption_context("k", "2")
        .destination_key_id(&b_alias)
        .send()
        .await
        .expect("ReEncrypt within a key");
    assert_eq!(out.key_id.as_deref(), Some(b_arn.as_str()));
    let again = out.ciphertext_blob.expect("blob");
    assert_eq!(try_decrypt(&client, &again, Some(&b), &[]).await, Ok(()));

    // Wrong SourceKeyId, wrong source context, tampered blob, unknown destination.
    let e = expect_err!(
        client
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .source_key_id(&b)
            .source_encryption_context("k", "1")
            .destination_key_id(&b)
            .send()
            .await
    );
    assert_error(&e, "IncorrectKeyException", INCORRECT_KEY);
    let e = expect_err!(
        client
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .source_encryption_context("k", "other")
            .destination_key_id(&b)
            .send()
            .await
    );
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
    assert_eq!(e.message(), None);
    let e = expect_err!(
        client
            .re_encrypt()
            .ciphertext_blob(Blob::new(b"garbage".to_vec()))
            .destination_key_id(&b)
            .send()
            .await
    );
    assert!(e.is_invalid_ciphertext_exception(), "{e:?}");
    let e = expect_err!(
        client
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .source_encryption_context("k", "1")
            .destination_key_id("alias/no-such-destination")
            .send()
            .await
    );
    assert_error(
        &e,
        "NotFoundException",
        &format!(
            "Alias {} is not found.",
            alias_arn(&account(), "alias/no-such-destination")
        ),
    );
    let e = expect_err!(
        client
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .source_encryption_context("k", "1")
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation("Value null at 'destinationKeyId' failed to satisfy constraint: Member must not be null"),
    );
    let e = expect_err!(
        client
            .re_encrypt()
            .ciphertext_blob(blob)
            .source_encryption_context("k", "1")
            .destination_key_id(&b)
            .dry_run(true)
            .send()
            .await
    );
    assert_error(&e, "DryRunOperationException", DRY_RUN);
}

#[tokio::test]
async fn data_keys_and_random() {
    let client = kms();
    let (key_id, arn) = new_key(&client).await;
    for (spec, n) in [
        (Some(DataKeySpec::Aes256), 32),
        (Some(DataKeySpec::Aes128), 16),
        (None, 1),
        (None, 64),
        (None, 1024),
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
        let blob = out.ciphertext_blob.expect("blob");
        let d = client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("c", "d")
            .send()
            .await
            .expect("Decrypt data key");
        assert_eq!(d.plaintext.expect("plaintext").into_inner(), plaintext);
        assert_eq!(
            try_decrypt(&client, &blob, None, &[]).await,
            failed("InvalidCiphertextException", "")
        );
    }
    let out = client
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("e", "f")
        .send()
        .await
        .expect("GenerateDataKeyWithoutPlaintext");
    assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
    let d = client
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob.expect("blob"))
        .encryption_context("e", "f")
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(d.plaintext.expect("plaintext").as_ref().len(), 32);
    let out = client
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .number_of_bytes(100)
        .send()
        .await
        .expect("GenerateDataKeyWithoutPlaintext NumberOfBytes");
    let d = client
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob.expect("blob"))
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(d.plaintext.expect("plaintext").as_ref().len(), 100);

    // Exactly one of KeySpec and NumberOfBytes, within 1..=1024.
    let either = "Please specify either number of bytes or key spec.";
    let e = expect_err!(client.generate_data_key().key_id(&key_id).send().await);
    assert_error(&e, "ValidationException", either);
    let e = expect_err!(
        client
            .generate_data_key()
            .key_id(&key_id)
            .key_spec(DataKeySpec::Aes256)
            .number_of_bytes(32)
            .send()
            .await
    );
    assert_error(&e, "ValidationException", either);
    let e = expect_err!(
        client
            .generate_data_key_without_plaintext()
            .key_id(&key_id)
            .send()
            .await
    );
    assert_error(&e, "ValidationException", either);
    for (n, constraint) in [
        (0, "greater than or equal to 1"),
        (1025, "less than or equal to 1024"),
    ] {
        let message = validation(&format!(
            "Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value {constraint}"
        ));
        let e = expect_err!(
            client
                .generate_data_key()
                .key_id(&key_id)
                .number_of_bytes(n)
                .send()
                .await
        );
        assert_error(&e, "ValidationException", &message);
        let e = expect_err!(
            client
                .generate_data_key_without_plaintext()
                .key_id(&key_id)
                .number_of_bytes(n)
                .send()
                .await
        );
        assert_error(&e, "ValidationException", &message);
    }
    let e = expect_err!(
        client
            .generate_data_key()
            .key_id(&key_id)
            .key_spec("AES_512".into())
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]",
        ),
    );
    let e = expect_err!(
        client
            .generate_data_key()
            .key_id(&key_id)
            .key_spec(DataKeySpec::Aes256)
            .dry_run(true)
            .send()
            .await
    );
    assert_error(&e, "DryRunOperationException", DRY_RUN);

    // GenerateRandom.
    for n in [1, 100, 1024] {
        let r = client
            .generate_random()
            .number_of_bytes(n)
            .send()
            .await
            .expect("GenerateRandom");
        assert_eq!(
            r.plaintext.expect("plaintext").as_ref().len(),
            usize::try_from(n).expect("n")
        );
    }
    let a = client
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .expect("GenerateRandom");
    let b = client
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .expect("GenerateRandom");
    assert_ne!(a.plaintext, b.plaintext);
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

/// The key state table for `Disabled`: cryptographic operations and rotation changes fail with
/// DisabledException; metadata, policy, tag and alias operations work.
#[tokio::test]
async fn disabled_key_state() {
    let client = kms();
    let (key_id, arn) = new_key(&client).await;
    let (other, _) = new_key(&client).await;
    let blob = encrypt(&client, &key_id, b"state", &[]).await;
    let other_blob = encrypt(&client, &other, b"other", &[]).await;

    client
        .disable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("DisableKey");
    client
        .disable_key()
        .key_id(&arn)
        .send()
        .await
        .expect("DisableKey again");
    let m = describe(&client, &key_id).await;
    assert_eq!(m.key_state, Some(KeyState::Disabled));
    assert!(!m.enabled);

    let disabled = failed("DisabledException", &format!("{arn} is disabled."));
    assert_eq!(try_encrypt(&client, &key_id, &[]).await, disabled);
    assert_eq!(try_decrypt(&client, &blob, None, &[]).await, disabled);
    assert_eq!(try_decrypt(&client, &blob, Some(&arn), &[]).await, disabled);
    assert_eq!(try_data_key(&client, &key_id, &[]).await, disabled);
    assert_eq!(
        outcome(
            client
                .generate_data_key_without_plaintext()
                .key_id(&key_id)
                .number_of_bytes(16)
                .send()
                .await
        ),
        disabled
    );
    // ReEncrypt: from a disabled key, and to one.
    assert_eq!(
        outcome(
            client
                .re_encrypt()
                .ciphertext_blob(blob.clone())
                .destination_key_id(&other)
                .send()
                .await
        ),
        disabled
    );
    assert_eq!(
        outcome(
            client
                .re_encrypt()
                .ciphertext_blob(other_blob)
                .destination_key_id(&key_id)
                .send()
                .await
        ),
        disabled
    );
    assert_eq!(
        outcome(client.enable_key_rotation().key_id(&key_id).send().await),
        disabled
    );
    assert_eq!(
        outcome(client.disable_key_rotation().key_id(&key_id).send().await),
        disabled
    );
    assert_eq!(
        outcome(client.rotate_key_on_demand().key_id(&key_id).send().await),
        disabled
    );

    // Everything else works on a disabled key.
    client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    let policy = client
        .get_key_policy()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy
        .expect("policy");
    client
        .put_key_policy()
        .key_id(&key_id)
        .policy(&policy)
        .send()
        .await
        .expect("PutKeyPolicy");
    client
        .list_key_policies()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListKeyPolicies");
    client
        .tag_resource()
        .key_id(&key_id)
        .tags(tag("state", "disabled"))
        .send()
        .await
        .expect("TagResource");
    client
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags");
    client
        .untag_resource()
        .key_id(&key_id)
        .tag_keys("state")
        .send()
        .await
        .expect("UntagResource");
    client
        .update_key_description()
        .key_id(&key_id)
        .description("disabled")
        .send()
        .await
        .expect("UpdateKeyDescription");
    let alias = new_alias();
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias to a disabled key");
    assert_eq!(try_encrypt(&client, &alias, &[]).await, disabled);
    client
        .update_alias()
        .alias_name(&alias)
        .target_key_id(&other)
        .send()
        .await
        .expect("UpdateAlias from a disabled key");
    client
        .update_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .expect("UpdateAlias to a disabled key");
    client
        .list_aliases()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListAliases");
    client
        .delete_alias()
        .alias_name(&alias)
        .send()
        .await
        .expect("DeleteAlias");

    // Disabled keys can be scheduled for deletion; cancelling leaves them disabled.
    client
        .schedule_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .expect("ScheduleKeyDeletion of a disabled key");
    client
        .cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .expect("CancelKeyDeletion");
    assert_eq!(
        describe(&client, &key_id).await.key_state,
        Some(KeyState::Disabled)
    );

    client
        .enable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("EnableKey");
    client
        .enable_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("EnableKey again");
    let m = describe(&client, &key_id).await;
    assert_eq!(m.key_state, Some(KeyState::Enabled));
    assert!(m.enabled);
    assert_eq!(try_decrypt(&client, &blob, None, &[]).await, Ok(()));
}

/// The key state table for `PendingDeletion`, the pending window, and cancelling.
#[tokio::test]
async fn pending_deletion_key_state() {
    let client = kms();
    let (key_id, arn) = new_key(&client).await;
    let (other, other_arn) = new_key(&client).await;
    let blob = encrypt(&client, &key_id, b"state", &[]).await;
    let other_blob = encrypt(&client, &other, b"other", &[]).await;
    let alias = new_alias();
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias");

    // The pending window: 7 to 30 days (the model allows 1 to 365).
    for (days, message) in [
        (
            0,
            validation(
                "Value '0' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 1",
            ),
        ),
        (
            366,
            validation(
                "Value '366' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 365",
            ),
        ),
        (
            6,
            "PendingWindowInDays should be between 7 and 30, but it is 6".to_owned(),
        ),
        (
            31,
            "PendingWindowInDays should be between 7 and 30, but it is 31".to_owned(),
        ),
    ] {
        let e = expect_err!(
            client
                .schedule_key_deletion()
                .key_id(&key_id)
                .pending_window_in_days(days)
                .send()
                .await
        );
        assert_error(&e, "ValidationException", &message);
    }
    assert_eq!(
        describe(&client, &key_id).await.key_state,
        Some(KeyState::Enabled)
    );

    // Default window: 30 days.
    let before = now_secs();
    let s = client
        .schedule_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert_eq!(s.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(s.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(s.pending_window_in_days, Some(30));
    let date = s.deletion_date.expect("DeletionDate").secs();
    assert!(
        (before + 30 * 86_400 - 5..=now_secs() + 30 * 86_400 + 5).contains(&date),
        "{date}"
    );
    let m = describe(&client, &key_id).await;
    assert_eq!(m.key_state, Some(KeyState::PendingDeletion));
    assert!(!m.enabled);
    assert_eq!(m.deletion_date.map(|d| d.secs()), Some(date));

    let pending = failed("KMSInvalidStateException", &format!("{arn} is pending deletion."));
    assert_eq!(try_encrypt(&client, &key_id, &[]).await, pending);
    assert_eq!(try_encrypt(&client, &alias, &[]).await, pending);
    assert_eq!(try_decrypt(&client, &blob, None, &[]).await, pending);
    assert_eq!(try_data_key(&client, &key_id, &[]).await, pending);
    assert_eq!(
        outcome(
            client
                .generate_data_key_without_plaintext()
                .key_id(&key_id)
                .number_of_bytes(16)
                .send()
                .await
        ),
        pending
    );
    assert_eq!(
        outcome(
            client
                .re_encrypt()
                .ciphertext_blob(blob.clone())
                .destination_key_id(&other)
                .send()
                .await
        ),
        pending
    );
    assert_eq!(
        outcome(
            client
                .re_encrypt()
                .ciphertext_blob(other_blob)
                .destination_key_id(&key_id)
                .send()
                .await
        ),
        pending
    );
    assert_eq!(outcome(client.enable_key().key_id(&key_id).send().await), pending);
    assert_eq!(
        outcome(client.disable_key().key_id(&key_id).send().await),
        pending
    );
    assert_eq!(
        outcome(client.schedule_key_deletion().key_id(&key_id).send().await),
        pending
    );
    assert_eq!(
        outcome(
            client
                .tag_resource()
                .key_id(&key_id)
                .tags(tag("a", "b"))
                .send()
                .await
        ),
        pending
    );
    assert_eq!(
        outcome(client.untag_resource().key_id(&key_id).tag_keys("a").send().await),
        pending
    );
    assert_eq!(
        outcome(
            client
                .update_key_description()
                .key_id(&key_id)
                .description("x")
                .send()
                .await
        ),
        pending
    );
    assert_eq!(
        outcome(client.enable_key_rotation().key_id(&key_id).send().await),
        pending
    );
    assert_eq!(
        outcome(client.disable_key_rotation().key_id(&key_id).send().await),
        pending
    );
    assert_eq!(
        outcome(client.rotate_key_on_demand().key_id(&key_id).send().await),
        pending
    );
    assert_eq!(
        outcome(
            client
                .create_alias()
                .alias_name(new_alias())
                .target_key_id(&key_id)
                .send()
                .await
        ),
        pending
    );

    // Metadata, policy and alias operations still work.
    let policy = client
        .get_key_policy()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy
        .expect("policy");
    client
        .put_key_policy()
        .key_id(&key_id)
        .policy(&policy)
        .send()
        .await
        .expect("PutKeyPolicy");
    client
        .list_key_policies()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListKeyPolicies");
    client
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags");
    let status = client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.next_rotation_date.is_none());
    let listed = client
        .list_aliases()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListAliases");
    assert_eq!(listed.aliases().len(), 1);
    // An alias may leave a key pending deletion, but not point at one.
    let second = new_alias();
    client
        .create_alias()
        .alias_name(&second)
        .target_key_id(&other)
        .send()
        .await
        .expect("CreateAlias");
    assert_eq!(
        outcome(
            client
                .update_alias()
                .alias_name(&second)
                .target_key_id(&key_id)
                .send()
                .await
        ),
        pending
    );
    client
        .update_alias()
        .alias_name(&alias)
        .target_key_id(&other)
        .send()
        .await
        .expect("UpdateAlias away from a key pending deletion");
    assert_eq!(
        describe(&client, &alias).await.arn.as_deref(),
        Some(other_arn.as_str())
    );
    client
        .update_alias()
        .alias_name(&second)
        .target_key_id(&other)
        .send()
        .await
        .expect("UpdateAlias");
    // Keys pending deletion are listed.
    assert!(all_key_ids(&client).await.contains(&key_id));
    // DeleteAlias works whatever the target's state.
    let third = new_alias();
    client
        .create_alias()
        .alias_name(&third)
        .target_key_id(&other)
        .send()
        .await
        .expect("CreateAlias");
    client
        .schedule_key_deletion()
        .key_id(&other)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion 7 days");
    client
        .delete_alias()
        .alias_name(&third)
        .send()
        .await
        .expect("DeleteAlias of a key pending deletion");

    // Cancelling leaves the key Disabled.
    let c = client
        .cancel_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .expect("CancelKeyDeletion");
    assert_eq!(c.key_id.as_deref(), Some(arn.as_str()));
    let m = describe(&client, &key_id).await;
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
    assert_eq!(try_decrypt(&client, &blob, None, &[]).await, Ok(()));
    let e = expect_err!(client.cancel_key_deletion().key_id(&key_id).send().await);
    assert_error(
        &e,
        "KMSInvalidStateException",
        &format!("{arn} is not pending deletion."),
    );
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
    assert_error(&e, "AccessDeniedException", UNKNOWN_CIPHERTEXT_KEY);
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
    assert_eq!(s.key_id.as_deref(), Some(key_id.as_str()));
    assert!(s.next_rotation_date.is_none());

    // Default period: 365 days.
    client
        .enable_key_rotation()
        .key_id(&key_id)
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
    assert_eq!(s.rotation_period_in_days, Some(365));
    let next = s.next_rotation_date.expect("NextRotationDate").secs();
    assert!((now_secs() + 364 * 86_400..=now_secs() + 366 * 86_400).contains(&next));

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
    for (days, constraint) in [
        (89, "greater than or equal to 90"),
        (2561, "less than or equal to 2560"),
    ] {
        let e = expect_err!(
            client
                .enable_key_rotation()
                .key_id(&key_id)
                .rotation_period_in_days(days)
                .send()
                .await
        );
        assert_error(
            &e,
            "ValidationException",
            &validation(&format!(
                "Value '{days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value {constraint}"
            )),
        );
    }
    client
        .enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(2560)
        .send()
        .await
        .expect("EnableKeyRotation 2560");

    // Each rotation gives the key a new current material; results name the material they used.
    let material = |m: aws_sdk_kms::types::KeyMetadata| {
        let id = m.current_key_material_id.expect("CurrentKeyMaterialId");
        assert_eq!(id.len(), 64, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        id
    };
    let first = material(describe(&client, &key_id).await);
    let old = encrypt(&client, &key_id, b"before", &[("v", "1")]).await;
    let r = client
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    assert_eq!(r.key_id.as_deref(), Some(key_id.as_str()));
    let second = material(describe(&client, &key_id).await);
    assert_ne!(first, second);
    let new = encrypt(&client, &key_id, b"after", &[]).await;
    // The blobs name different material versions.
    assert_ne!(old.as_ref()[..44], new.as_ref()[..44]);
    let dk = client
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(16)
        .send()
        .await
        .expect("GenerateDataKey");
    assert_eq!(dk.key_material_id.as_deref(), Some(second.as_str()));
    client
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .expect("second rotation");
    let third = material(describe(&client, &key_id).await);
    assert!(third != first && third != second);
    let d = client
        .decrypt()
        .ciphertext_blob(old.clone())
        .encryption_context("v", "1")
        .send()
        .await
        .expect("old ciphertext decrypts");
    assert_eq!(d.plaintext.expect("p").as_ref(), b"before");
    assert_eq!(d.key_material_id.as_deref(), Some(first.as_str()));
    assert_eq!(
        try_decrypt(&client, &old, None, &[("v", "2")]).await,
        failed("InvalidCiphertextException", "")
    );
    let d = client
        .decrypt()
        .ciphertext_blob(new)
        .send()
        .await
        .expect("new ciphertext decrypts");
    assert_eq!(d.plaintext.expect("p").as_ref(), b"after");
    assert_eq!(d.key_material_id.as_deref(), Some(second.as_str()));
    let re = client
        .re_encrypt()
        .ciphertext_blob(old.clone())
        .source_encryption_context("v", "1")
        .destination_key_id(&key_id)
        .send()
        .await
        .expect("ReEncrypt onto the current material");
    assert_eq!(re.source_key_material_id.as_deref(), Some(first.as_str()));
    assert_eq!(re.destination_key_material_id.as_deref(), Some(third.as_str()));
    let d = client
        .decrypt()
        .ciphertext_blob(re.ciphertext_blob.expect("blob"))
        .send()
        .await
        .expect("re-encrypted ciphertext decrypts");
    assert_eq!(d.key_material_id.as_deref(), Some(third.as_str()));

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
    assert!(s.next_rotation_date.is_none());
    // On-demand rotation doesn't need automatic rotation.
    client
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .expect("RotateKeyOnDemand with rotation disabled");

    let unknown = "11111111-2222-4333-8444-555555555555";
    let not_found = failed(
        "NotFoundException",
        &format!("Key '{}' does not exist", key_arn(&account(), unknown)),
    );
    assert_eq!(
        outcome(client.enable_key_rotation().key_id(unknown).send().await),
        not_found
    );
    assert_eq!(
        outcome(client.get_key_rotation_status().key_id(unknown).send().await),
        not_found
    );
    assert_eq!(
        outcome(client.rotate_key_on_demand().key_id(unknown).send().await),
        not_found
    );
}

#[tokio::test]
async fn aliases() {
    let client = kms();
    let account = account();
    let (a, a_arn) = new_key(&client).await;
    let (b, _) = new_key(&client).await;
    let name = new_alias();
    let name_arn = alias_arn(&account, &name);
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
        .key_id(&name_arn)
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(d.key_id.as_deref(), Some(a_arn.as_str()));
    assert_eq!(describe(&client, &name_arn).await.key_id, a);

    // Names: taken, without the prefix, reserved, malformed, too long.
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
        &format!("An alias with the name {name_arn} already exists"),
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
    for reserved in ["alias/aws/mine", "alias/aws/secretsmanager"] {
        let (status, body) = raw_error(
            client
                .create_alias()
                .alias_name(reserved)
                .target_key_id(&b)
                .send()
                .await,
        );
        assert_eq!((status, body), (400, json!({"__type": "NotAuthorizedException"})));
        let e = expect_err!(
            client
                .update_alias()
                .alias_name(reserved)
                .target_key_id(&b)
                .send()
                .await
        );
        assert_eq!((code(&e), e.message()), (Some("NotAuthorizedException"), None));
        let e = expect_err!(client.delete_alias().alias_name(reserved).send().await);
        assert_eq!((code(&e), e.message()), (Some("NotAuthorizedException"), None));
    }
    let e = expect_err!(
        client
            .create_alias()
            .alias_name("alias/has space")
            .target_key_id(&b)
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value 'alias/has space' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ),
    );
    let long = format!("alias/{}", "x".repeat(251));
    let e = expect_err!(
        client
            .create_alias()
            .alias_name(&long)
            .target_key_id(&b)
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{long}' at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256"
        )),
    );
    let longest = format!("alias/{}", "x".repeat(250));
    client
        .create_alias()
        .alias_name(&longest)
        .target_key_id(&b)
        .send()
        .await
        .expect("a 256-character alias");
    client
        .delete_alias()
        .alias_name(&longest)
        .send()
        .await
        .expect("DeleteAlias");

    // Targets: a key id or key ARN of an existing key, not an alias.
    for target in [name.clone(), name_arn.clone()] {
        let e = expect_err!(
            client
                .create_alias()
                .alias_name(new_alias())
                .target_key_id(&target)
                .send()
                .await
        );
        assert_error(&e, "NotFoundException", &format!("Invalid keyId '{target}'"));
    }
    let unknown = "11111111-2222-4333-8444-555555555555";
    let e = expect_err!(
        client
            .create_alias()
            .alias_name(new_alias())
            .target_key_id(unknown)
            .send()
            .await
    );
    assert_error(
        &e,
        "NotFoundException",
        &format!("Key '{}' does not exist", key_arn(&account, unknown)),
    );
    let by_arn = new_alias();
    client
        .create_alias()
        .alias_name(&by_arn)
        .target_key_id(&a_arn)
        .send()
        .await
        .expect("CreateAlias with a key ARN target");

    // ListAliases, filtered by key.
    let listed = client
        .list_aliases()
        .key_id(&a)
        .send()
        .await
        .expect("ListAliases");
    let mut names: Vec<&str> = listed
        .aliases()
        .iter()
        .filter_map(|x| x.alias_name.as_deref())
        .collect();
    names.sort_unstable();
    let mut expected = [name.as_str(), by_arn.as_str()];
    expected.sort_unstable();
    assert_eq!(names, expected);
    let entry = listed
        .aliases()
        .iter()
        .find(|x| x.alias_name.as_deref() == Some(name.as_str()))
        .expect("alias listed");
    assert_eq!(entry.alias_arn.as_deref(), Some(name_arn.as_str()));
    assert_eq!(entry.target_key_id.as_deref(), Some(a.as_str()));
    assert!(entry.creation_date.is_some());
    assert!(entry.last_updated_date.is_some());
    assert!(!listed.truncated);
    let by_arn_listing = client
        .list_aliases()
        .key_id(&a_arn)
        .send()
        .await
        .expect("ListAliases by key ARN");
    assert_eq!(by_arn_listing.aliases().len(), 2);
    let e = expect_err!(client.list_aliases().key_id(&name).send().await);
    assert_error(&e, "NotFoundException", &format!("Invalid keyId '{name}'"));
    let e = expect_err!(client.list_aliases().key_id(unknown).send().await);
    assert!(e.is_not_found_exception(), "{e:?}");

    // UpdateAlias re-points; the old ciphertext still decrypts (it names its key).
    client
        .update_alias()
        .alias_name(&name)
        .target_key_id(&b)
        .send()
        .await
        .expect("UpdateAlias");
    assert_eq!(describe(&client, &name).await.key_id, b);
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
    let missing = new_alias();
    let e = expect_err!(
        client
            .update_alias()
            .alias_name(&missing)
            .target_key_id(&a)
            .send()
            .await
    );
    assert_error(
        &e,
        "NotFoundException",
        &format!("Alias {} is not found.", alias_arn(&account, &missing)),
    );
    let e = expect_err!(
        client
            .update_alias()
            .alias_name(&name)
            .target_key_id(&name)
            .send()
            .await
    );
    assert_error(&e, "NotFoundException", &format!("Invalid keyId '{name}'"));

    // Paging the aliases of a key.
    let (c, _) = new_key(&client).await;
    let mut made = Vec::new();
    for _ in 0..3 {
        let n = new_alias();
        client
            .create_alias()
            .alias_name(&n)
            .target_key_id(&c)
            .send()
            .await
            .expect("CreateAlias");
        made.push(n);
    }
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let out = client
            .list_aliases()
            .key_id(&c)
            .limit(2)
            .set_marker(marker)
            .send()
            .await
            .expect("ListAliases");
        pages += 1;
        assert!(out.aliases().len() <= 2);
        seen.extend(out.aliases().iter().filter_map(|x| x.alias_name.clone()));
        if !out.truncated {
            break;
        }
        marker = Some(out.next_marker.expect("NextMarker"));
    }
    assert_eq!(pages, 2);
    seen.sort();
    made.sort();
    assert_eq!(seen, made);
    let e = expect_err!(client.list_aliases().marker("not-a-marker").send().await);
    assert!(e.is_invalid_marker_exception(), "{e:?}");
    let e = expect_err!(client.list_aliases().limit(101).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100",
        ),
    );
    // Without a filter, the account's aliases (the first page at least).
    let all = client
        .list_aliases()
        .limit(100)
        .send()
        .await
        .expect("ListAliases");
    assert!(!all.aliases().is_empty());
    assert!(all.aliases().iter().all(|x| {
        x.alias_arn.as_deref() == x.alias_name.as_deref().map(|n| alias_arn(&account, n)).as_deref()
    }));

    // At most 50 aliases per key.
    let (d, d_arn) = new_key(&client).await;
    for _ in 0..50 {
        client
            .create_alias()
            .alias_name(new_alias())
            .target_key_id(&d)
            .send()
            .await
            .expect("CreateAlias");
    }
    let e = expect_err!(
        client
            .create_alias()
            .alias_name(new_alias())
            .target_key_id(&d)
            .send()
            .await
    );
    assert_error(
        &e,
        "LimitExceededException",
        &format!("Key {d_arn} has reached the maximum of 50 aliases."),
    );
    let e = expect_err!(
        client
            .update_alias()
            .alias_name(&name)
            .target_key_id(&d)
            .send()
            .await
    );
    assert!(e.is_limit_exceeded_exception(), "{e:?}");

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
        &format!("Alias {name_arn} is not found."),
    );
    let e = expect_err!(client.describe_key().key_id(&name).send().await);
    assert_error(
        &e,
        "NotFoundException",
        &format!("Alias {name_arn} is not found."),
    );
    let e = expect_err!(client.delete_alias().alias_name("no-prefix").send().await);
    assert_eq!(code(&e), Some("ValidationException"), "{e:?}");
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
        .tags(tag("empty", ""))
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
    assert_eq!(
        t,
        [
            ("a".into(), "3".into()),
            ("b".into(), "2".into()),
            ("empty".into(), String::new())
        ]
    );

    // Paging.
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let out = client
            .list_resource_tags()
            .key_id(&key_id)
            .limit(2)
            .set_marker(marker)
            .send()
            .await
            .expect("ListResourceTags");
        pages += 1;
        seen.extend(out.tags().iter().map(|t| t.tag_key.clone()));
        if !out.truncated {
            assert!(out.next_marker.is_none());
            break;
        }
        marker = Some(out.next_marker.expect("NextMarker"));
    }
    assert_eq!(pages, 2);
    seen.sort();
    assert_eq!(seen, ["a", "b", "empty"]);
    let e = expect_err!(
        client
            .list_resource_tags()
            .key_id(&key_id)
            .marker("bogus")
            .send()
            .await
    );
    assert!(e.is_invalid_marker_exception(), "{e:?}");
    let e = expect_err!(client.list_resource_tags().key_id(&key_id).limit(51).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50",
        ),
    );

    // Untagging removes the keys given (absent keys are ignored).
    client
        .untag_resource()
        .key_id(&key_id)
        .tag_keys("a")
        .tag_keys("b")
        .tag_keys("empty")
        .tag_keys("never-set")
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
            .untag_resource()
            .key_id(&key_id)
            .tag_keys("k".repeat(129))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{}' at 'tagKeys.1.member' failed to satisfy constraint: Member must have length less than or equal to 128",
            "k".repeat(129)
        )),
    );

    // TagException rules.
    for prefix in ["aws:", "AWS:", "Aws:"] {
        let e = expect_err!(
            client
                .tag_resource()
                .key_id(&key_id)
                .tags(tag(&format!("{prefix}x"), "1"))
                .send()
                .await
        );
        assert_error(&e, "TagException", "Tags beginning with aws: are reserved");
    }
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
    // 50 in all, counting the key's own: replacing values stays within.
    let mut req = client.tag_resource().key_id(&key_id);
    for n in 0..49 {
        req = req.tags(tag(&format!("k{n}"), "v"));
    }
    req.send().await.expect("49 tags");
    client
        .tag_resource()
        .key_id(&key_id)
        .tags(tag("k0", "changed"))
        .tags(tag("k49", "v"))
        .send()
        .await
        .expect("50th tag");
    let e = expect_err!(
        client
            .tag_resource()
            .key_id(&key_id)
            .tags(tag("k50", "v"))
            .send()
            .await
    );
    assert_error(&e, "TagException", "Too many tags");
    let e = expect_err!(client.create_key().tags(tag("AWS:y", "1")).send().await);
    assert_error(&e, "TagException", "Tags beginning with aws: are reserved");
    let e = expect_err!(
        client
            .create_key()
            .tags(tag("x", "1"))
            .tags(tag("x", "1"))
            .send()
            .await
    );
    assert_error(&e, "TagException", "Duplicate tag keys");

    // Lengths: keys 1-128, values 0-256.
    let long_key = "k".repeat(129);
    let e = expect_err!(
        client
            .tag_resource()
            .key_id(&key_id)
            .tags(tag("fine", "v"))
            .tags(tag(&long_key, "v"))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{long_key}' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"
        )),
    );
    let long_value = "v".repeat(257);
    let e = expect_err!(client.create_key().tags(tag("k", &long_value)).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{long_value}' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"
        )),
    );
    let e = expect_err!(
        client
            .tag_resource()
            .key_id(&key_id)
            .tags(tag("", "v"))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value '' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
    );
    let e = expect_err!(client.tag_resource().key_id(&key_id).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation("Value null at 'tags' failed to satisfy constraint: Member must not be null"),
    );
}

#[tokio::test]
async fn secretsmanager_key_is_aws_managed() {
    let client = kms();
    let account = account();
    let m = describe(&client, "alias/aws/secretsmanager").await;
    let arn = m.arn.clone().expect("arn");
    assert_eq!(m.key_manager.as_ref().map(|k| k.as_str()), Some("AWS"));
    assert_eq!(
        m.description.as_deref(),
        Some("Default key that protects my Secrets Manager data when no other key is defined")
    );
    assert_eq!(m.key_state, Some(KeyState::Enabled));
    assert_eq!(arn, key_arn(&account, &m.key_id));
    assert_eq!(
        describe(&client, &alias_arn(&account, "alias/aws/secretsmanager"))
            .await
            .key_id,
        m.key_id
    );
    assert_eq!(describe(&client, &arn).await.key_id, m.key_id);

    // Its metadata is readable by the account.
    let policy = client
        .get_key_policy()
        .key_id(&m.key_id)
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy
        .expect("policy");
    let doc: Value = serde_json::from_str(&policy).expect("json");
    assert_eq!(doc["Id"], "auto-secretsmanager-2");
    let status = client
        .get_key_rotation_status()
        .key_id(&m.key_id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(365));
    let aliases = client
        .list_aliases()
        .key_id(&m.key_id)
        .send()
        .await
        .expect("ListAliases");
    let entry = aliases
        .aliases()
        .iter()
        .find(|a| a.alias_name.as_deref() == Some("alias/aws/secretsmanager"))
        .expect("alias/aws/secretsmanager listed");
    assert_eq!(entry.target_key_id.as_deref(), Some(m.key_id.as_str()));
    assert!(all_key_ids(&client).await.contains(&m.key_id));

    // Not usable directly (only through Secrets Manager), not changeable.
    let root = root_arn(&account);
    assert_eq!(
        try_encrypt(&client, "alias/aws/secretsmanager", &[]).await,
        no_key_policy(&root, "kms:Encrypt", &arn)
    );
    assert_eq!(
        try_data_key(&client, &m.key_id, &[]).await,
        no_key_policy(&root, "kms:GenerateDataKey", &arn)
    );
    let id = m.key_id.as_str();
    for (action, result) in [
        (
            "kms:ScheduleKeyDeletion",
            outcome(client.schedule_key_deletion().key_id(id).send().await),
        ),
        (
            "kms:CancelKeyDeletion",
            outcome(client.cancel_key_deletion().key_id(id).send().await),
        ),
        (
            "kms:DisableKey",
            outcome(client.disable_key().key_id(id).send().await),
        ),
        (
            "kms:EnableKey",
            outcome(client.enable_key().key_id(id).send().await),
        ),
        (
            "kms:PutKeyPolicy",
            outcome(client.put_key_policy().key_id(id).policy(&policy).send().await),
        ),
        (
            "kms:TagResource",
            outcome(client.tag_resource().key_id(id).tags(tag("a", "b")).send().await),
        ),
        (
            "kms:UntagResource",
            outcome(client.untag_resource().key_id(id).tag_keys("a").send().await),
        ),
        (
            "kms:EnableKeyRotation",
            outcome(client.enable_key_rotation().key_id(id).send().await),
        ),
        (
            "kms:DisableKeyRotation",
            outcome(client.disable_key_rotation().key_id(id).send().await),
        ),
        (
            "kms:RotateKeyOnDemand",
            outcome(client.rotate_key_on_demand().key_id(id).send().await),
        ),
        (
            "kms:UpdateKeyDescription",
            outcome(
                client
                    .update_key_description()
                    .key_id(id)
                    .description("mine")
                    .send()
                    .await,
            ),
        ),
        (
            "kms:CreateAlias",
            outcome(
                client
                    .create_alias()
                    .alias_name(new_alias())
                    .target_key_id(id)
                    .send()
                    .await,
            ),
        ),
    ] {
        assert_eq!(result, no_key_policy(&root, action, &arn), "{action}");
    }
    // No alias of the account can be pointed at it.
    let (mine, _) = new_key(&client).await;
    let alias = new_alias();
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&mine)
        .send()
        .await
        .expect("CreateAlias");
    assert_eq!(
        outcome(
            client
                .update_alias()
                .alias_name(&alias)
                .target_key_id(id)
                .send()
                .await
        ),
        no_key_policy(&root, "kms:UpdateAlias", &arn)
    );
    assert_eq!(describe(&client, id).await.key_state, Some(KeyState::Enabled));
}

/// Administrative actions on a key (not its use): what a key policy's "key administrators"
/// statement usually grants.
const ADMIN_ACTIONS: &[&str] = &[
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

/// A key policy: the account's root may administer the key (IAM policies may grant that), and
/// `principal` may perform `actions` directly, under `condition` when given.
fn policy_granting(account: &str, principal: &str, actions: &[&str], condition: Option<Value>) -> String {
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
    policy_document(&[
        json!({
            "Sid": "Administration",
            "Effect": "Allow",
            "Principal": {"AWS": root_arn(account)},
            "Action": ADMIN_ACTIONS,
            "Resource": "*"
        }),
        grant,
    ])
}

async fn put_policy(client: &Client, key: &str, policy: &str) {
    client
        .put_key_policy()
        .key_id(key)
        .policy(policy)
        .send()
        .await
        .expect("PutKeyPolicy");
}

#[tokio::test]
async fn key_policy_documents() {
    let server = TestServer::start();
    let client = server.kms_client();
    let account = account();
    let root = root_arn(&account);
    let (key, arn) = new_key(&client).await;

    // The default key policy.
    let p = client
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(p.policy_name.as_deref(), Some("default"));
    let doc: Value = serde_json::from_str(p.policy.as_deref().expect("policy")).expect("json");
    assert_eq!(
        doc,
        json!({
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [{
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*"
            }]
        })
    );
    client
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .expect("GetKeyPolicy default");
    let e = expect_err!(
        client
            .get_key_policy()
            .key_id(&key)
            .policy_name("other")
            .send()
            .await
    );
    assert_error(&e, "NotFoundException", "No such policy exists");
    let e = expect_err!(
        client
            .get_key_policy()
            .key_id(&key)
            .policy_name("not valid!")
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value 'not valid!' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+",
        ),
    );
    let names = client
        .list_key_policies()
        .key_id(&key)
        .send()
        .await
        .expect("ListKeyPolicies");
    assert_eq!(names.policy_names(), ["default"]);
    assert!(!names.truncated);

    // PutKeyPolicy stores the document as given.
    let mine = policy_document(&[
        json!({"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": account}, "Action": "kms:*", "Resource": "*"}),
    ]);
    client
        .put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(&mine)
        .send()
        .await
        .expect("PutKeyPolicy");
    let got = client
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(got.policy.as_deref(), Some(mine.as_str()));
    let e = expect_err!(
        client
            .put_key_policy()
            .key_id(&key)
            .policy_name("other")
            .policy(&mine)
            .send()
            .await
    );
    assert!(e.is_not_found_exception(), "{e:?}");

    // Malformed documents, on CreateKey and PutKeyPolicy.
    for bad in [
        "{".to_owned(),
        "not json".to_owned(),
        "[]".to_owned(),
        policy_document(&[json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})]),
        policy_document(&[json!({"Effect": "Allow", "Principal": {"AWS": root}, "Resource": "*"})]),
        policy_document(&[
            json!({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "Encrypt", "Resource": "*"}),
        ]),
        policy_document(&[
            json!({"Effect": "Permit", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}),
        ]),
        policy_document(&[json!({
            "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*",
            "Condition": {"NoSuchOperator": {"kms:CallerAccount": account}}
        })]),
    ] {
        let e = expect_err!(client.create_key().policy(&bad).send().await);
        assert!(e.is_malformed_policy_document_exception(), "{bad}: {e:?}");
        assert!(e.message().is_some_and(|m| !m.is_empty()), "{e:?}");
        let e = expect_err!(client.put_key_policy().key_id(&key).policy(&bad).send().await);
        assert!(e.is_malformed_policy_document_exception(), "{bad}: {e:?}");
    }
    // Principals: IAM users and roles must exist (with their path); accounts need not be known.
    let iam = server.iam_client();
    let user_name = format!("kms-owner-{}", short_id());
    let (user_arn, user) = create_user_with_key(&iam, &user_name, None).await;
    let invalid_principals = "Policy contains a statement with one or more invalid principals.";
    let naming = |principal: &str| {
        policy_document(&[
            json!({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}),
            json!({"Effect": "Allow", "Principal": {"AWS": [user_arn, principal]}, "Action": "kms:Decrypt", "Resource": "*"}),
        ])
    };
    for bad in [
        format!("arn:aws:iam::{account}:user/no-such-user-{}", short_id()),
        format!("arn:aws:iam::{account}:role/no-such-role-{}", short_id()),
        format!("arn:aws:iam::{account}:user/some/path/{user_name}"),
        format!("arn:aws:iam::{account}:user/*"),
        format!("arn:aws:iam::111122223333:user/{user_name}"),
        "not-a-principal".to_owned(),
    ] {
        let e = expect_err!(client.create_key().policy(naming(&bad)).send().await);
        assert_error(&e, "MalformedPolicyDocumentException", invalid_principals);
        let e = expect_err!(
            client
                .put_key_policy()
                .key_id(&key)
                .policy(naming(&bad))
                .send()
                .await
        );
        assert_error(&e, "MalformedPolicyDocumentException", invalid_principals);
    }
    for fine in ["111122223333", "arn:aws:iam::111122223333:root", "*"] {
        client
            .put_key_policy()
            .key_id(&key)
            .policy(naming(fine))
            .send()
            .await
            .unwrap_or_else(|e| panic!("principal {fine}: {e:?}"));
    }

    // Model constraints: 1 to 131072 characters of [\u0009\u000A\u000D\u0020-\u00FF].
    let e = expect_err!(client.put_key_policy().key_id(&key).policy("").send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value '' at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
    );
    let e = expect_err!(client.put_key_policy().key_id(&key).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation("Value null at 'policy' failed to satisfy constraint: Member must not be null"),
    );
    let euro = policy_document(&[
        json!({"Sid": "€", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}),
    ]);
    let e = expect_err!(client.put_key_policy().key_id(&key).policy(&euro).send().await);
    assert_error(
        &e,
        "ValidationException",
        &validation(&format!(
            "Value '{euro}' at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
        )),
    );
    // The key policy quota: 32 KB.
    let padded = |sid_len: usize| {
        policy_document(&[json!({
            "Sid": "s".repeat(sid_len), "Effect": "Allow", "Principal": {"AWS": root},
            "Action": "kms:*", "Resource": "*"
        })])
    };
    let overhead = padded(0).len();
    let largest = padded(32_768 - overhead);
    assert_eq!(largest.len(), 32_768);
    client
        .put_key_policy()
        .key_id(&key)
        .policy(&largest)
        .send()
        .await
        .expect("a 32768-byte policy");
    let e = expect_err!(
        client
            .put_key_policy()
            .key_id(&key)
            .policy(padded(32_769 - overhead))
            .send()
            .await
    );
    assert!(e.is_limit_exceeded_exception(), "{e:?}");

    // The lockout safety check: a new policy must let the caller change it again.
    let as_user = server.kms_client_as(&user);
    let user_only = policy_document(&[
        json!({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "kms:*", "Resource": "*"}),
    ]);
    let root_uses_only = policy_document(&[json!({
        "Effect": "Allow", "Principal": {"AWS": root},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GetKeyPolicy", "kms:DescribeKey"], "Resource": "*"
    })]);
    let root_denied = policy_document(&[
        json!({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}),
        json!({"Effect": "Deny", "Principal": {"AWS": root}, "Action": "kms:PutKeyPolicy", "Resource": "*"}),
    ]);
    for locked in [&user_only, &root_uses_only, &root_denied] {
        let e = expect_err!(client.create_key().policy(locked).send().await);
        assert_error(&e, "MalformedPolicyDocumentException", LOCKOUT);
        let e = expect_err!(client.put_key_policy().key_id(&key).policy(locked).send().await);
        assert_error(&e, "MalformedPolicyDocumentException", LOCKOUT);
    }
    let got = client
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyPolicy");
    assert_eq!(got.policy.as_deref(), Some(largest.as_str()));

    // Bypassing the check locks the caller out.
    let (locked, locked_arn) = key_with_policy(&client, &user_only, true).await;
    assert_eq!(
        outcome(client.get_key_policy().key_id(&locked).send().await),
        no_key_policy(&root, "kms:GetKeyPolicy", &locked_arn)
    );
    assert_eq!(
        outcome(client.put_key_policy().key_id(&locked).policy(&mine).send().await),
        no_key_policy(&root, "kms:PutKeyPolicy", &locked_arn)
    );
    // ...and the principal it names manages the key without any IAM policy.
    let shared = policy_granting(&account, &user_arn, &["kms:*"], None);
    as_user
        .put_key_policy()
        .key_id(&locked_arn)
        .policy(&shared)
        .send()
        .await
        .expect("PutKeyPolicy by the key policy's principal");
    assert_eq!(
        outcome(client.get_key_policy().key_id(&locked).send().await),
        Ok(())
    );
    client
        .put_key_policy()
        .key_id(&key)
        .policy(&root_uses_only)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .expect("PutKeyPolicy bypassing the check");
    assert_eq!(
        outcome(client.put_key_policy().key_id(&key).policy(&mine).send().await),
        no_key_policy(&root, "kms:PutKeyPolicy", &arn)
    );
    assert_eq!(try_encrypt(&client, &key, &[]).await, Ok(()));
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
    assert_error(
        &e,
        "AccessDeniedException",
        &format!(
            "User: {user_arn} is not authorized to perform: kms:Decrypt on resource: {arn} because no resource-based policy allows the kms:Decrypt action"
        ),
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
    let unknown = "11111111-2222-4333-8444-555555555555";
    let e = expect_err!(as_bare.describe_key().key_id(unknown).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&bare_arn, "kms:DescribeKey", Some(&key_arn(&account, unknown))),
    );
    let e = expect_err!(
        as_bare
            .describe_key()
            .key_id("alias/nobody-has-this")
            .send()
            .await
    );
    assert_eq!(code(&e), Some("AccessDeniedException"), "{e:?}");

    // Encryption context conditions in an identity policy.
    let ctx_doc = policy_document(&[serde_json::json!({
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}
    })]);
    let ctx_user = format!("kms-ctx-{}", short_id());
    let (ctx_arn, ctx_creds) = create_user_with_key(&iam, &ctx_user, Some(&ctx_doc)).await;
    let as_ctx = server.kms_client_as(&ctx_creds);
    let billing = encrypt(&as_ctx, &delegated, b"x", &[("app", "billing")]).await;
    assert_eq!(
        try_decrypt(&as_ctx, &billing, None, &[("app", "billing")]).await,
        Ok(())
    );
    let delegated_arn = key_arn(&account, &delegated);
    assert_eq!(
        try_encrypt(&as_ctx, &delegated, &[("app", "other")]).await,
        no_iam_policy(&ctx_arn, "kms:Encrypt", &delegated_arn)
    );
    assert_eq!(
        try_decrypt(&as_ctx, &billing, None, &[]).await,
        no_iam_policy(&ctx_arn, "kms:Decrypt", &delegated_arn)
    );
}

/// Same account: IAM policies grant only where the key policy delegates to the account (its root
/// statement); a key policy may grant a principal directly; explicit denies win.
#[tokio::test]
async fn identity_policies_need_the_key_policy() {
    let server = TestServer::start();
    let client = server.kms_client();
    let iam = server.iam_client();
    let account = server.account_id().to_owned();
    let root = root_arn(&account);
    let (a, a_arn) = new_key(&client).await;
    let (b, b_arn) = new_key(&client).await;
    let blob_a = encrypt(&client, &a, b"a", &[]).await;
    let blob_b = encrypt(&client, &b, b"b", &[]).await;

    // No KMS permissions at all: denied for want of an identity policy, with AWS's message.
    let (none_arn, none) = create_user_with_key(&iam, &format!("kms-none-{}", short_id()), None).await;
    let as_none = server.kms_client_as(&none);
    assert_eq!(
        try_encrypt(&as_none, &a, &[]).await,
        no_iam_policy(&none_arn, "kms:Encrypt", &a_arn)
    );
    // Decrypt without KeyId is authorized on the key the ciphertext names.
    assert_eq!(
        try_decrypt(&as_none, &blob_a, None, &[]).await,
        no_iam_policy(&none_arn, "kms:Decrypt", &a_arn)
    );
    assert_eq!(
        try_data_key(&as_none, &a_arn, &[]).await,
        no_iam_policy(&none_arn, "kms:GenerateDataKey", &a_arn)
    );
    assert_eq!(
        outcome(as_none.get_key_policy().key_id(&a).send().await),
        no_iam_policy(&none_arn, "kms:GetKeyPolicy", &a_arn)
    );
    // Actions without a key resource.
    for (action, result) in [
        ("kms:ListKeys", outcome(as_none.list_keys().send().await)),
        ("kms:ListAliases", outcome(as_none.list_aliases().send().await)),
        ("kms:CreateKey", outcome(as_none.create_key().send().await)),
        (
            "kms:GenerateRandom",
            outcome(as_none.generate_random().number_of_bytes(8).send().await),
        ),
    ] {
        assert_eq!(
            result,
            failed(
                "AccessDeniedException",
                &no_identity_policy(&none_arn, action, None)
            )
        );
    }
    let (status, body) = raw_error(
        as_none
            .encrypt()
            .key_id(&a)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await,
    );
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "AccessDeniedException");
    assert_eq!(
        body["message"],
        no_identity_policy(&none_arn, "kms:Encrypt", Some(&a_arn))
    );

    // An identity policy grants on the keys it names (through the key policy's root statement).
    let scoped_doc = policy_document(&[statement("Allow", &["kms:Encrypt", "kms:Decrypt"], &[&a_arn])]);
    let (scoped_arn, scoped) =
        create_user_with_key(&iam, &format!("kms-scoped-{}", short_id()), Some(&scoped_doc)).await;
    let as_scoped = server.kms_client_as(&scoped);
    assert_eq!(try_encrypt(&as_scoped, &a, &[]).await, Ok(()));
    assert_eq!(try_decrypt(&as_scoped, &blob_a, None, &[]).await, Ok(()));
    assert_eq!(
        try_encrypt(&as_scoped, &b, &[]).await,
        no_iam_policy(&scoped_arn, "kms:Encrypt", &b_arn)
    );
    assert_eq!(
        try_decrypt(&as_scoped, &blob_b, None, &[]).await,
        no_iam_policy(&scoped_arn, "kms:Decrypt", &b_arn)
    );
    assert_eq!(
        try_data_key(&as_scoped, &a, &[]).await,
        no_iam_policy(&scoped_arn, "kms:GenerateDataKey", &a_arn)
    );

    // ReEncrypt needs kms:ReEncryptFrom on the source and kms:ReEncryptTo on the destination.
    let re_doc = policy_document(&[
        statement("Allow", &["kms:ReEncryptFrom"], &[&a_arn]),
        statement("Allow", &["kms:ReEncryptTo"], &[&b_arn]),
    ]);
    let (re_arn, re) = create_user_with_key(&iam, &format!("kms-re-{}", short_id()), Some(&re_doc)).await;
    let as_re = server.kms_client_as(&re);
    let re_encrypt = |blob: &Blob, to: &str| {
        as_re
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .destination_key_id(to)
            .send()
    };
    assert_eq!(outcome(re_encrypt(&blob_a, &b).await), Ok(()));
    assert_eq!(
        outcome(re_encrypt(&blob_b, &a).await),
        no_iam_policy(&re_arn, "kms:ReEncryptFrom", &b_arn)
    );
    assert_eq!(
        outcome(re_encrypt(&blob_a, &a).await),
        no_iam_policy(&re_arn, "kms:ReEncryptTo", &a_arn)
    );

    // kms:CreateKey alone creates keys with the default policy (which passes the lockout check)...
    let creator_doc = policy_document(&[statement("Allow", &["kms:CreateKey"], &["*"])]);
    let (creator_arn, creator) =
        create_user_with_key(&iam, &format!("kms-creator-{}", short_id()), Some(&creator_doc)).await;
    let as_creator = server.kms_client_as(&creator);
    let made = as_creator
        .create_key()
        .send()
        .await
        .expect("CreateKey by a user allowed only kms:CreateKey")
        .key_metadata
        .expect("metadata");
    let made_arn = made.arn.expect("arn");
    // ...but using it, tagging it at creation or giving it a policy the creator can't change
    // later needs more.
    assert_eq!(
        outcome(as_creator.describe_key().key_id(&made.key_id).send().await),
        no_iam_policy(&creator_arn, "kms:DescribeKey", &made_arn)
    );
    assert_eq!(
        outcome(as_creator.create_key().tags(tag("a", "b")).send().await),
        failed(
            "AccessDeniedException",
            &no_identity_policy(&creator_arn, "kms:TagResource", None)
        )
    );
    let delegating = policy_granting(&account, &root, &["kms:*"], None);
    assert_eq!(
        outcome(as_creator.create_key().policy(&delegating).send().await),
        failed("MalformedPolicyDocumentException", LOCKOUT)
    );
    let owned = policy_granting(&account, &creator_arn, &["kms:*"], None);
    as_creator
        .create_key()
        .policy(&owned)
        .send()
        .await
        .expect("CreateKey with a policy granting the creator");

    // Without the root statement, IAM policies grant nothing, not even to root; a direct grant
    // needs no IAM policy.
    let admin_doc = policy_document(&[statement("Allow", &["kms:*"], &["*"])]);
    let (admin_arn, admin) =
        create_user_with_key(&iam, &format!("kms-admin-{}", short_id()), Some(&admin_doc)).await;
    let as_admin = server.kms_client_as(&admin);
    let (direct_arn, direct) = create_user_with_key(&iam, &format!("kms-direct-{}", short_id()), None).await;
    let as_direct = server.kms_client_as(&direct);
    let no_root = policy_document(&[json!({
        "Sid": "Direct",
        "Effect": "Allow",
        "Principal": {"AWS": direct_arn},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*"
    })]);
    assert_eq!(
        outcome(client.create_key().policy(&no_root).send().await),
        failed("MalformedPolicyDocumentException", LOCKOUT)
    );
    let (n, n_arn) = key_with_policy(&client, &no_root, true).await;
    assert_eq!(try_encrypt(&as_direct, &n, &[]).await, Ok(()));
    let blob_n = encrypt(&as_direct, &n, b"direct", &[]).await;
    assert_eq!(try_decrypt(&as_direct, &blob_n, None, &[]).await, Ok(()));
    assert_eq!(
        try_data_key(&as_direct, &n, &[]).await,
        no_key_policy(&direct_arn, "kms:GenerateDataKey", &n_arn)
    );
    assert_eq!(try_encrypt(&as_admin, &a, &[]).await, Ok(()));
    assert_eq!(
        try_encrypt(&as_admin, &n, &[]).await,
        no_key_policy(&admin_arn, "kms:Encrypt", &n_arn)
    );
    assert_eq!(
        try_decrypt(&as_admin, &blob_n, None, &[]).await,
        no_key_policy(&admin_arn, "kms:Decrypt", &n_arn)
    );
    assert_eq!(
        try_encrypt(&client, &n, &[]).await,
        no_key_policy(&root, "kms:Encrypt", &n_arn)
    );
    assert_eq!(
        outcome(
            client
                .put_key_policy()
                .key_id(&n)
                .policy(&delegating)
                .send()
                .await
        ),
        no_key_policy(&root, "kms:PutKeyPolicy", &n_arn)
    );
    assert_eq!(
        outcome(client.schedule_key_deletion().key_id(&n).send().await),
        no_key_policy(&root, "kms:ScheduleKeyDeletion", &n_arn)
    );

    // Explicit denies win: in the key policy...
    let deny_in_key = policy_document(&[
        json!({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}),
        json!({"Effect": "Deny", "Principal": {"AWS": admin_arn}, "Action": "kms:Decrypt", "Resource": "*"}),
    ]);
    let (d, d_arn) = key_with_policy(&client, &deny_in_key, false).await;
    let blob_d = encrypt(&as_admin, &d, b"deny", &[]).await;
    assert_eq!(
        try_decrypt(&as_admin, &blob_d, None, &[]).await,
        failed(
            "AccessDeniedException",
            &denied_message(
                &admin_arn,
                "kms:Decrypt",
                Some(&d_arn),
                "with an explicit deny in a resource-based policy"
            )
        )
    );
    assert_eq!(try_decrypt(&client, &blob_d, None, &[]).await, Ok(()));
    // ...or in an identity policy, even against a direct key policy grant.
    let deny_doc = policy_document(&[
        statement("Allow", &["kms:*"], &["*"]),
        statement("Deny", &["kms:Encrypt"], &["*"]),
    ]);
    let (denied_arn, denied) =
        create_user_with_key(&iam, &format!("kms-denied-{}", short_id()), Some(&deny_doc)).await;
    let as_denied = server.kms_client_as(&denied);
    let explicit = |arn: &str| {
        failed(
            "AccessDeniedException",
            &denied_message(
                &denied_arn,
                "kms:Encrypt",
                Some(arn),
                "with an explicit deny in an identity-based policy",
            ),
        )
    };
    assert_eq!(try_encrypt(&as_denied, &a, &[]).await, explicit(&a_arn));
    assert_eq!(try_decrypt(&as_denied, &blob_a, None, &[]).await, Ok(()));
    let (g, g_arn) = key_with_policy(
        &client,
        &policy_granting(&account, &denied_arn, &["kms:Encrypt"], None),
        false,
    )
    .await;
    assert_eq!(try_encrypt(&as_denied, &g, &[]).await, explicit(&g_arn));
}

/// `kms:EncryptionContext:<key>` and `kms:EncryptionContextKeys` in a key policy grant.
#[tokio::test]
async fn encryption_context_conditions() {
    let server = TestServer::start();
    let client = server.kms_client();
    let account = server.account_id().to_owned();
    let (user_arn, creds) =
        create_user_with_key(&server.iam_client(), &format!("kms-ec-{}", short_id()), None).await;
    let user = server.kms_client_as(&creds);
    let (key, arn) = new_key(&client).await;
    let actions = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"];
    let grant = |condition: Option<Value>| policy_granting(&account, &user_arn, &actions, condition);
    let denied = |action: &str| no_key_policy(&user_arn, action, &arn);

    // Unconditional: any context.
    put_policy(&client, &key, &grant(None)).await;
    assert_eq!(try_encrypt(&user, &key, &[]).await, Ok(()));
    let backup = encrypt(&user, &key, b"b", &[("purpose", "backup")]).await;
    let other = encrypt(&user, &key, b"o", &[("purpose", "other")]).await;

    // One context value. The key part of the condition key is case-insensitive, the value is
    // compared as the operator says (StringEquals: case-sensitive).
    put_policy(
        &client,
        &key,
        &grant(Some(
            json!({"StringEquals": {"kms:EncryptionContext:Purpose": "backup"}}),
        )),
    )
    .await;
    assert_eq!(try_encrypt(&user, &key, &[("purpose", "backup")]).await, Ok(()));
    assert_eq!(
        try_encrypt(&user, &key, &[("purpose", "backup"), ("other", "x")]).await,
        Ok(())
    );
    assert_eq!(try_data_key(&user, &key, &[("purpose", "backup")]).await, Ok(()));
    for ctx in [vec![], vec![("purpose", "Backup")], vec![("other", "backup")]] {
        assert_eq!(
            try_encrypt(&user, &key, &ctx).await,
            denied("kms:Encrypt"),
            "{ctx:?}"
        );
        assert_eq!(
            try_data_key(&user, &key, &ctx).await,
            denied("kms:GenerateDataKey"),
            "{ctx:?}"
        );
    }
    assert_eq!(
        try_decrypt(&user, &backup, None, &[("purpose", "backup")]).await,
        Ok(())
    );
    // Authorization comes first: a context the policy refuses is AccessDenied...
    assert_eq!(
        try_decrypt(&user, &other, None, &[("purpose", "other")]).await,
        denied("kms:Decrypt")
    );
    // ...one it allows but the ciphertext wasn't made with is InvalidCiphertext.
    assert_eq!(
        try_decrypt(&user, &other, None, &[("purpose", "backup")]).await,
        failed("InvalidCiphertextException", "")
    );

    // ForAllValues: every context key must be listed (an empty context has none to fail).
    put_policy(
        &client,
        &key,
        &grant(Some(
            json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["purpose", "team"]}}),
        )),
    )
    .await;
    for ctx in [
        vec![],
        vec![("purpose", "x")],
        vec![("purpose", "x"), ("team", "y")],
    ] {
        assert_eq!(try_encrypt(&user, &key, &ctx).await, Ok(()), "{ctx:?}");
    }
    for ctx in [vec![("purpose", "x"), ("extra", "z")], vec![("Purpose", "x")]] {
        assert_eq!(
            try_encrypt(&user, &key, &ctx).await,
            denied("kms:Encrypt"),
            "{ctx:?}"
        );
    }
    // With `Null: false` an encryption context is required too.
    put_policy(
        &client,
        &key,
        &grant(Some(json!({
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["purpose", "team"]},
            "Null": {"kms:EncryptionContextKeys": "false"}
        }))),
    )
    .await;
    assert_eq!(try_encrypt(&user, &key, &[]).await, denied("kms:Encrypt"));
    assert_eq!(try_encrypt(&user, &key, &[("team", "y")]).await, Ok(()));

    // ForAnyValue: at least one listed key.
    put_policy(
        &client,
        &key,
        &grant(Some(
            json!({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["purpose"]}}),
        )),
    )
    .await;
    assert_eq!(
        try_encrypt(&user, &key, &[("purpose", "x"), ("extra", "z")]).await,
        Ok(())
    );
    assert_eq!(
        try_decrypt(&user, &backup, None, &[("purpose", "backup")]).await,
        Ok(())
    );
    for ctx in [vec![], vec![("extra", "z")]] {
        assert_eq!(
            try_encrypt(&user, &key, &ctx).await,
            denied("kms:Encrypt"),
            "{ctx:?}"
        );
    }
}

/// `kms:EncryptionAlgorithm`, `kms:CallerAccount`, `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`,
/// `kms:RequestAlias`, and the request parameters `kms:ScheduleKeyDeletionPendingWindowInDays`,
/// `kms:RotationPeriodInDays`, `kms:BypassPolicyLockoutSafetyCheck`.
#[tokio::test]
async fn algorithm_account_key_and_request_conditions() {
    let server = TestServer::start();
    let client = server.kms_client();
    let iam = server.iam_client();
    let account = server.account_id().to_owned();
    let (user_arn, creds) = create_user_with_key(&iam, &format!("kms-cond-{}", short_id()), None).await;
    let user = server.kms_client_as(&creds);
    let (key, arn) = new_key(&client).await;
    let blob = encrypt(&client, &key, b"c", &[]).await;
    let actions = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"];
    let grant = |condition: Value| policy_granting(&account, &user_arn, &actions, Some(condition));
    let denied = |action: &str| no_key_policy(&user_arn, action, &arn);
    let encrypt_with = |alg: EncryptionAlgorithmSpec| {
        user.encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"x".to_vec()))
            .encryption_algorithm(alg)
            .send()
    };

    // kms:EncryptionAlgorithm: SYMMETRIC_DEFAULT unless the request says otherwise.
    put_policy(
        &client,
        &key,
        &grant(json!({"StringEquals": {"kms:EncryptionAlgorithm": SYMMETRIC_DEFAULT}})),
    )
    .await;
    assert_eq!(try_encrypt(&user, &key, &[]).await, Ok(()));
    assert_eq!(
        outcome(encrypt_with(EncryptionAlgorithmSpec::SymmetricDefault).await),
        Ok(())
    );
    assert_eq!(try_decrypt(&user, &blob, None, &[]).await, Ok(()));
    assert_eq!(try_data_key(&user, &key, &[]).await, Ok(()));
    // Authorized before the algorithm is checked against the key.
    assert_eq!(
        outcome(encrypt_with(EncryptionAlgorithmSpec::RsaesOaepSha256).await),
        denied("kms:Encrypt")
    );
    put_policy(
        &client,
        &key,
        &grant(json!({"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})),
    )
    .await;
    assert_eq!(try_encrypt(&user, &key, &[]).await, denied("kms:Encrypt"));
    assert_eq!(try_decrypt(&user, &blob, None, &[]).await, denied("kms:Decrypt"));
    assert_eq!(
        try_data_key(&user, &key, &[]).await,
        denied("kms:GenerateDataKey")
    );
    assert_eq!(
        outcome(encrypt_with(EncryptionAlgorithmSpec::RsaesOaepSha256).await),
        failed(
            "InvalidKeyUsageException",
            "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT."
        )
    );

    // kms:CallerAccount: the caller's account.
    put_policy(
        &client,
        &key,
        &grant(json!({"StringEquals": {"kms:CallerAccount": account}})),
    )
    .await;
    assert_eq!(try_encrypt(&user, &key, &[]).await, Ok(()));
    put_policy(
        &client,
        &key,
        &grant(json!({"StringEquals": {"kms:CallerAccount": "111111111111"}})),
    )
    .await;
    assert_eq!(try_encrypt(&user, &key, &[]).await, denied("kms:Encrypt"));

    // kms:KeySpec, kms:KeyUsage, kms:KeyOrigin: the key's.
    put_policy(
        &client,
        &key,
        &grant(json!({"StringEquals": {
            "kms:KeySpec": SYMMETRIC_DEFAULT,
            "kms:KeyUsage": "ENCRYPT_DECRYPT",
            "kms:KeyOrigin": "AWS_KMS"
        }})),
    )
    .await;
    assert_eq!(try_encrypt(&user, &key, &[]).await, Ok(()));
    assert_eq!(try_decrypt(&user, &blob, None, &[]).await, Ok(()));
    for condition in [
        json!({"StringEquals": {"kms:KeySpec": "HMAC_256"}}),
        json!({"StringEquals": {"kms:KeyUsage": "SIGN_VERIFY"}}),
    ] {
        put_policy(&client, &key, &grant(condition)).await;
        assert_eq!(try_encrypt(&user, &key, &[]).await, denied("kms:Encrypt"));
        assert_eq!(try_decrypt(&user, &blob, None, &[]).await, denied("kms:Decrypt"));
    }

    // kms:RequestAlias: the alias the request names the key by, if any.
    let (alias, other_alias) = (new_alias(), new_alias());
    for a in [&alias, &other_alias] {
        client
            .create_alias()
            .alias_name(a)
            .target_key_id(&key)
            .send()
            .await
            .expect("CreateAlias");
    }
    put_policy(
        &client,
        &key,
        &grant(json!({"StringEquals": {"kms:RequestAlias": alias}})),
    )
    .await;
    assert_eq!(try_encrypt(&user, &alias, &[]).await, Ok(()));
    assert_eq!(
        try_encrypt(&user, &alias_arn(&account, &alias), &[]).await,
        Ok(())
    );
    assert_eq!(try_decrypt(&user, &blob, Some(&alias), &[]).await, Ok(()));
    assert_eq!(try_data_key(&user, &alias, &[]).await, Ok(()));
    assert_eq!(try_encrypt(&user, &key, &[]).await, denied("kms:Encrypt"));
    assert_eq!(try_encrypt(&user, &arn, &[]).await, denied("kms:Encrypt"));
    assert_eq!(try_encrypt(&user, &other_alias, &[]).await, denied("kms:Encrypt"));
    assert_eq!(try_decrypt(&user, &blob, None, &[]).await, denied("kms:Decrypt"));

    // On CreateKey they are the requested spec and usage.
    let creator_doc = policy_document(&[json!({
        "Effect": "Allow",
        "Action": "kms:CreateKey",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:KeySpec": SYMMETRIC_DEFAULT, "kms:KeyUsage": "ENCRYPT_DECRYPT"}}
    })]);
    let (creator_arn, creator) =
        create_user_with_key(&iam, &format!("kms-spec-{}", short_id()), Some(&creator_doc)).await;
    let as_creator = server.kms_client_as(&creator);
    assert_eq!(outcome(as_creator.create_key().send().await), Ok(()));
    assert_eq!(
        outcome(
            as_creator
                .create_key()
                .key_spec(KeySpec::SymmetricDefault)
                .send()
                .await
        ),
        Ok(())
    );
    let rsa = |c: &Client| {
        c.create_key()
            .key_spec(KeySpec::Rsa2048)
            .key_usage(KeyUsageType::SignVerify)
            .send()
    };
    assert_eq!(
        outcome(rsa(&as_creator).await),
        failed(
            "AccessDeniedException",
            &no_identity_policy(&creator_arn, "kms:CreateKey", None)
        )
    );
    assert_eq!(
        outcome(rsa(&client).await).map_err(|(code, _)| code),
        Err("UnsupportedOperationException".to_owned())
    );

    // Request parameters, denied to root by the key policy.
    let root = root_arn(&account);
    let (guarded, guarded_arn) = new_key(&client).await;
    let deny = |action: &str, condition: Value| json!({"Effect": "Deny", "Principal": {"AWS": root}, "Action": action, "Resource": "*", "Condition": condition});
    let guard = policy_document(&[
        json!({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}),
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
    put_policy(&client, &guarded, &guard).await;
    let explicit = |action: &str| {
        failed(
            "AccessDeniedException",
            &denied_message(
                &root,
                action,
                Some(&guarded_arn),
                "with an explicit deny in a resource-based policy",
            ),
        )
    };
    assert_eq!(
        outcome(
            client
                .schedule_key_deletion()
                .key_id(&guarded)
                .pending_window_in_days(7)
                .send()
                .await
        ),
        explicit("kms:ScheduleKeyDeletion")
    );
    assert_eq!(
        outcome(
            client
                .enable_key_rotation()
                .key_id(&guarded)
                .rotation_period_in_days(730)
                .send()
                .await
        ),
        explicit("kms:EnableKeyRotation")
    );
    assert_eq!(
        outcome(
            client
                .put_key_policy()
                .key_id(&guarded)
                .policy(&guard)
                .bypass_policy_lockout_safety_check(true)
                .send()
                .await
        ),
        explicit("kms:PutKeyPolicy")
    );
    assert_eq!(
        outcome(
            client
                .enable_key_rotation()
                .key_id(&guarded)
                .rotation_period_in_days(365)
                .send()
                .await
        ),
        Ok(())
    );
    assert_eq!(
        outcome(client.schedule_key_deletion().key_id(&guarded).send().await),
        Ok(())
    );
}

/// A grant conditioned on `kms:ViaService` can't be used by calling KMS directly.
#[tokio::test]
async fn via_service_condition_denies_direct_use() {
    let server = TestServer::start();
    let client = server.kms_client();
    let iam = server.iam_client();
    let account = server.account_id().to_owned();
    let (user_arn, creds) = create_user_with_key(&iam, &format!("kms-via-{}", short_id()), None).await;
    let user = server.kms_client_as(&creds);
    let (key, arn) = new_key(&client).await;
    let blob = encrypt(&client, &key, b"v", &[]).await;
    let actions = ["kms:Encrypt", "kms:Decrypt"];
    let via = format!("secretsmanager.{REGION}.amazonaws.com");

    put_policy(
        &client,
        &key,
        &policy_granting(&account, &user_arn, &actions, None),
    )
    .await;
    assert_eq!(try_decrypt(&user, &blob, None, &[]).await, Ok(()));

    for condition in [
        json!({"StringEquals": {"kms:ViaService": via}}),
        json!({"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}),
        json!({"Null": {"kms:ViaService": "false"}}),
    ] {
        put_policy(
            &client,
            &key,
            &policy_granting(&account, &user_arn, &actions, Some(condition.clone())),
        )
        .await;
        let denied = |action: &str| no_key_policy(&user_arn, action, &arn);
        assert_eq!(
            try_decrypt(&user, &blob, None, &[]).await,
            denied("kms:Decrypt"),
            "{condition}"
        );
        assert_eq!(
            try_decrypt(&user, &blob, Some(&arn), &[]).await,
            denied("kms:Decrypt"),
            "{condition}"
        );
        assert_eq!(
            try_encrypt(&user, &key, &[]).await,
            denied("kms:Encrypt"),
            "{condition}"
        );
    }
    // The key is absent from direct requests.
    put_policy(
        &client,
        &key,
        &policy_granting(
            &account,
            &user_arn,
            &actions,
            Some(json!({"Null": {"kms:ViaService": "true"}})),
        ),
    )
    .await;
    assert_eq!(try_decrypt(&user, &blob, None, &[]).await, Ok(()));

    // The same in an identity policy, with the default key policy.
    let (plain, _) = new_key(&client).await;
    let plain_blob = encrypt(&client, &plain, b"p", &[]).await;
    let via_doc = policy_document(&[json!({
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": via}}
    })]);
    let (via_arn, via_creds) =
        create_user_with_key(&iam, &format!("kms-via-iam-{}", short_id()), Some(&via_doc)).await;
    assert_eq!(
        try_decrypt(&server.kms_client_as(&via_creds), &plain_blob, None, &[]).await,
        no_iam_policy(&via_arn, "kms:Decrypt", &key_arn(&account, &plain))
    );
}

/// Another account's principal (a member account made through Organizations) uses a key when the
/// key policy allows it AND its own identity policy does.
#[tokio::test]
async fn cross_account_key_use() {
    let server = TestServer::start();
    let client = server.kms_client();
    let account = server.account_id().to_owned();
    let root = root_arn(&account);
    let member = kinko_tests::member(server).await;
    let member_iam = server.iam_client_as(&member.admin);
    let member = member.id;
    let (key, arn) = new_key(&client).await;
    let alias = new_alias();
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    let name_arn = alias_arn(&account, &alias);

    // In the member account: a user with no policy, one allowed to use this key, one allowed
    // everything on KMS.
    let key_doc = policy_document(&[statement(
        "Allow",
        &[
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
        ],
        &[&arn],
    )]);
    let all_doc = policy_document(&[statement("Allow", &["kms:*"], &["*"])]);
    let (bare_arn, bare) = create_user_with_key(&member_iam, &format!("kms-bare-{}", short_id()), None).await;
    let (reader_arn, reader) =
        create_user_with_key(&member_iam, &format!("kms-reader-{}", short_id()), Some(&key_doc)).await;
    let (wide_arn, wide) =
        create_user_with_key(&member_iam, &format!("kms-wide-{}", short_id()), Some(&all_doc)).await;
    assert!(reader_arn.starts_with(&format!("arn:aws:iam::{member}:user/")));
    let (as_bare, as_reader, as_wide) = (
        server.kms_client_as(&bare),
        server.kms_client_as(&reader),
        server.kms_client_as(&wide),
    );
    // In the key's account: a user allowed everything on KMS by IAM.
    let (local_arn, local) = create_user_with_key(
        &server.iam_client(),
        &format!("kms-local-{}", short_id()),
        Some(&all_doc),
    )
    .await;
    let as_local = server.kms_client_as(&local);

    let policy = policy_document(&[
        json!({
            "Sid": "Administration",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ADMIN_ACTIONS,
            "Resource": "*"
        }),
        json!({
            "Sid": "MemberUsersDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": [bare_arn, reader_arn]},
            "Action": "kms:Decrypt",
            "Resource": "*"
        }),
        json!({
            "Sid": "MemberAccountDescribes",
            "Effect": "Allow",
            "Principal": {"AWS": member},
            "Action": "kms:DescribeKey",
            "Resource": "*"
        }),
        json!({
            "Sid": "EncryptForMemberCallers",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": member}}
        }),
        json!({
            "Sid": "DataKeysForLocalCallers",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": account}}
        }),
    ]);
    put_policy(&client, &key, &policy).await;

    // A data key made in the key's account...
    let dk = client
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("app", "shared")
        .send()
        .await
        .expect("GenerateDataKey");
    let blob = dk.ciphertext_blob.expect("blob");
    let plaintext = dk.plaintext.expect("plaintext");
    let ctx = [("app", "shared")];
    // ...decrypts for the member's user the key policy names and its identity policy allows:
    // by key ARN, by alias ARN, or with no KeyId at all.
    for key_id in [Some(arn.as_str()), Some(name_arn.as_str()), None] {
        let out = as_reader
            .decrypt()
            .ciphertext_blob(blob.clone())
            .set_key_id(key_id.map(str::to_owned))
            .encryption_context("app", "shared")
            .send()
            .await
            .unwrap_or_else(|e| panic!("cross-account Decrypt with {key_id:?}: {e:?}"));
        assert_eq!(out.plaintext.as_ref(), Some(&plaintext));
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
    }
    // Key policy without identity policy, identity policy without key policy: denied.
    for key_id in [Some(arn.as_str()), None] {
        assert_eq!(
            try_decrypt(&as_bare, &blob, key_id, &ctx).await,
            no_iam_policy(&bare_arn, "kms:Decrypt", &arn)
        );
        assert_eq!(
            try_decrypt(&as_wide, &blob, key_id, &ctx).await,
            no_key_policy(&wide_arn, "kms:Decrypt", &arn)
        );
    }
    // An account principal in the key policy delegates to that account's identity policies.
    assert_eq!(outcome(as_wide.describe_key().key_id(&arn).send().await), Ok(()));
    assert_eq!(
        outcome(as_reader.describe_key().key_id(&name_arn).send().await),
        Ok(())
    );
    assert_eq!(
        outcome(as_bare.describe_key().key_id(&arn).send().await),
        no_iam_policy(&bare_arn, "kms:DescribeKey", &arn)
    );
    // Another account's key is named by ARN: key ids and alias names mean the caller's account.
    assert_eq!(
        outcome(as_wide.describe_key().key_id(&key).send().await),
        failed(
            "NotFoundException",
            &format!("Key '{}' does not exist", key_arn(&member, &key))
        )
    );
    assert_eq!(
        outcome(as_wide.describe_key().key_id(&alias).send().await),
        failed(
            "NotFoundException",
            &format!("Alias {} is not found.", alias_arn(&member, &alias))
        )
    );

    // kms:CallerAccount: Encrypt is for the member account's callers, data keys for the key
    // account's.
    assert_eq!(try_encrypt(&as_reader, &arn, &[]).await, Ok(()));
    assert_eq!(
        try_encrypt(&as_bare, &arn, &[]).await,
        no_iam_policy(&bare_arn, "kms:Encrypt", &arn)
    );
    assert_eq!(
        try_data_key(&as_reader, &arn, &[]).await,
        no_key_policy(&reader_arn, "kms:GenerateDataKey", &arn)
    );
    assert_eq!(
        try_encrypt(&as_local, &arn, &[]).await,
        no_key_policy(&local_arn, "kms:Encrypt", &arn)
    );
    assert_eq!(try_data_key(&as_local, &arn, &[]).await, Ok(()));

    // What the member encrypts decrypts for it too, without naming the key.
    let mine = as_reader
        .encrypt()
        .key_id(&name_arn)
        .plaintext(Blob::new(b"from the member".to_vec()))
        .send()
        .await
        .expect("cross-account Encrypt by alias ARN");
    assert_eq!(mine.key_id.as_deref(), Some(arn.as_str()));
    let out = as_reader
        .decrypt()
        .ciphertext_blob(mine.ciphertext_blob.expect("blob"))
        .send()
        .await
        .expect("cross-account Decrypt");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"from the member");
}

const DAY_SECS: u64 = 86_400;

/// Every entry ListKeyRotations gives for `key`, page after page of `limit`, checking the paging
/// members on the way.
async fn all_rotations(
    client: &Client,
    key: &str,
    include: Option<aws_sdk_kms::types::IncludeKeyMaterial>,
    limit: i32,
) -> Vec<aws_sdk_kms::types::RotationsListEntry> {
    let mut entries = Vec::new();
    let mut marker = None;
    loop {
        let out = client
            .list_key_rotations()
            .key_id(key)
            .set_include_key_material(include.clone())
            .limit(limit)
            .set_marker(marker)
            .send()
            .await
            .expect("ListKeyRotations");
        let page = out.rotations();
        assert!(page.len() <= usize::try_from(limit).expect("limit"), "{out:?}");
        entries.extend(page.iter().cloned());
        assert_eq!(out.truncated, out.next_marker.is_some(), "{out:?}");
        if !out.truncated {
            return entries;
        }
        assert_eq!(page.len(), usize::try_from(limit).expect("limit"), "{out:?}");
        marker = out.next_marker;
    }
}

/// `(RotationType, KeyMaterialState)` of each entry, as strings.
fn rotation_kinds(entries: &[aws_sdk_kms::types::RotationsListEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e.rotation_type
                    .as_ref()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                e.key_material_state
                    .as_ref()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn current_material(m: &aws_sdk_kms::types::KeyMetadata) -> String {
    m.current_key_material_id.clone().expect("CurrentKeyMaterialId")
}

/// Automatic rotation by the background jobs on a manual clock: a key with rotation enabled gets
/// new material once its period passed (and only then), recorded as AUTOMATIC; disabled keys and
/// keys pending deletion wait and are rotated once enabled again; on-demand rotations don't move
/// the schedule; the AWS managed key rotates yearly. Old ciphertexts keep decrypting.
#[tokio::test]
async fn automatic_rotation_on_schedule() {
    use aws_sdk_kms::types::IncludeKeyMaterial;
    use kinko_core::Clock as _;

    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let client = server.kms_client();
    let now = || manual.now().millis() / 1000;
    let day0 = now();

    let (rotating, _) = new_key(&client).await;
    let (disabled, _) = new_key(&client).await;
    let (plain, _) = new_key(&client).await;
    let (pending, _) = new_key(&client).await;
    for k in [&rotating, &disabled, &pending] {
        client
            .enable_key_rotation()
            .key_id(k)
            .rotation_period_in_days(90)
            .send()
            .await
            .expect("EnableKeyRotation");
    }
    client
        .disable_key()
        .key_id(&disabled)
        .send()
        .await
        .expect("DisableKey");
    let managed = describe(&client, "alias/aws/secretsmanager").await.key_id;
    let first = current_material(&describe(&client, &rotating).await);
    let old_blob = encrypt(&client, &rotating, b"before rotation", &[("v", "1")]).await;

    let status = client
        .get_key_rotation_status()
        .key_id(&rotating)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(90));
    assert_eq!(
        status.next_rotation_date.map(|d| d.secs()),
        Some(day0 + 90 * 86_400)
    );
    assert!(status.on_demand_rotation_start_date.is_none());
    // A disabled key keeps its rotation status, but has no next rotation while disabled.
    let status = client
        .get_key_rotation_status()
        .key_id(&disabled)
        .send()
        .await
        .expect("GetKeyRotationStatus of a disabled key");
    assert!(status.key_rotation_enabled);
    assert!(status.next_rotation_date.is_none());

    // No rotation yet: the list is empty; with ALL_KEY_MATERIAL it has the first material only.
    let listed = client
        .list_key_rotations()
        .key_id(&rotating)
        .send()
        .await
        .expect("ListKeyRotations");
    assert!(listed.rotations().is_empty(), "{listed:?}");
    assert!(!listed.truncated);
    assert!(listed.next_marker.is_none());
    let all = all_rotations(&client, &rotating, Some(IncludeKeyMaterial::AllKeyMaterial), 100).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].key_id.as_deref(), Some(rotating.as_str()));
    assert_eq!(all[0].key_material_id.as_deref(), Some(first.as_str()));
    assert_eq!(rotation_kinds(&all), [(String::new(), "CURRENT".to_owned())]);
    assert!(all[0].rotation_date.is_none());

    // Not before the date.
    manual.advance(Duration::from_secs(89 * DAY_SECS));
    server.run_jobs_now().await;
    assert_eq!(current_material(&describe(&client, &rotating).await), first);
    client
        .schedule_key_deletion()
        .key_id(&pending)
        .pending_window_in_days(30)
        .send()
        .await
        .expect("ScheduleKeyDeletion");

    // Past it: the rotating key gets new material, the others don't.
    manual.advance(Duration::from_secs(2 * DAY_SECS));
    let day91 = now();
    let materials_before: Vec<String> = {
        let mut v = Vec::new();
        for k in [&disabled, &plain, &pending] {
            v.push(current_material(&describe(&client, k).await));
        }
        v
    };
    server.run_jobs_now().await;
    let second = current_material(&describe(&client, &rotating).await);
    assert_ne!(second, first);
    for (k, before) in [&disabled, &plain, &pending].into_iter().zip(&materials_before) {
        assert_eq!(&current_material(&describe(&client, k).await), before, "{k}");
        let listed = client
            .list_key_rotations()
            .key_id(k)
            .send()
            .await
            .expect("ListKeyRotations of a key not rotated");
        assert!(listed.rotations().is_empty(), "{k}: {listed:?}");
    }
    // Running the jobs again doesn't rotate again.
    server.run_jobs_now().await;
    assert_eq!(current_material(&describe(&client, &rotating).await), second);

    let listed = all_rotations(&client, &rotating, None, 100).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key_id.as_deref(), Some(rotating.as_str()));
    assert_eq!(listed[0].key_material_id.as_deref(), Some(second.as_str()));
    assert_eq!(listed[0].rotation_date.map(|d| d.secs()), Some(day91));
    assert_eq!(
        rotation_kinds(&listed),
        [("AUTOMATIC".to_owned(), "CURRENT".to_owned())]
    );
    // The next rotation counts from this one.
    let status = client
        .get_key_rotation_status()
        .key_id(&rotating)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert_eq!(
        status.next_rotation_date.map(|d| d.secs()),
        Some(day91 + 90 * 86_400)
    );
    // A key pending deletion isn't rotated, and its rotation status reads false meanwhile.
    let status = client
        .get_key_rotation_status()
        .key_id(&pending)
        .send()
        .await
        .expect("GetKeyRotationStatus of a key pending deletion");
    assert!(!status.key_rotation_enabled);
    assert!(status.next_rotation_date.is_none());

    // Old ciphertexts decrypt with the material they name; new ones use the new material.
    let d = client
        .decrypt()
        .ciphertext_blob(old_blob)
        .encryption_context("v", "1")
        .send()
        .await
        .expect("Decrypt a ciphertext from before the rotation");
    assert_eq!(d.plaintext.expect("Plaintext").as_ref(), b"before rotation");
    assert_eq!(d.key_material_id.as_deref(), Some(first.as_str()));
    let new_blob = encrypt(&client, &rotating, b"after rotation", &[]).await;
    let d = client
        .decrypt()
        .ciphertext_blob(new_blob)
        .send()
        .await
        .expect("Decrypt a ciphertext from after the rotation");
    assert_eq!(d.plaintext.expect("Plaintext").as_ref(), b"after rotation");
    assert_eq!(d.key_material_id.as_deref(), Some(second.as_str()));

    // An on-demand rotation is listed as such and leaves the automatic schedule alone.
    manual.advance(Duration::from_secs(DAY_SECS));
    let day92 = now();
    client
        .rotate_key_on_demand()
        .key_id(&rotating)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    let third = current_material(&describe(&client, &rotating).await);
    let listed = all_rotations(&client, &rotating, Some(IncludeKeyMaterial::AllKeyMaterial), 1).await;
    assert_eq!(
        listed
            .iter()
            .map(|e| e.key_material_id.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        [first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(
        rotation_kinds(&listed),
        [
            (String::new(), "NON_CURRENT".to_owned()),
            ("AUTOMATIC".to_owned(), "NON_CURRENT".to_owned()),
            ("ON_DEMAND".to_owned(), "CURRENT".to_owned()),
        ]
    );
    assert_eq!(listed[2].rotation_date.map(|d| d.secs()), Some(day92));
    let status = client
        .get_key_rotation_status()
        .key_id(&rotating)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert_eq!(
        status.next_rotation_date.map(|d| d.secs()),
        Some(day91 + 90 * 86_400)
    );

    // Keys whose date passed while disabled or pending deletion are rotated once enabled again.
    client
        .cancel_key_deletion()
        .key_id(&pending)
        .send()
        .await
        .expect("CancelKeyDeletion");
    let status = client
        .get_key_rotation_status()
        .key_id(&pending)
        .send()
        .await
        .expect("GetKeyRotationStatus after cancelling");
    assert!(status.key_rotation_enabled);
    for k in [&disabled, &pending] {
        client.enable_key().key_id(k).send().await.expect("EnableKey");
    }
    server.run_jobs_now().await;
    for (k, before) in [&disabled, &pending].into_iter().zip(&materials_before) {
        let now_current = current_material(&describe(&client, k).await);
        assert_ne!(&now_current, before, "{k}");
        let listed = all_rotations(&client, k, None, 100).await;
        assert_eq!(
            rotation_kinds(&listed),
            [("AUTOMATIC".to_owned(), "CURRENT".to_owned())],
            "{k}"
        );
        assert_eq!(listed[0].key_material_id.as_deref(), Some(now_current.as_str()));
    }
    assert_eq!(
        current_material(&describe(&client, &plain).await),
        materials_before[1]
    );

    // The AWS managed key rotates a year after its creation; a missed period is made up with one
    // rotation, not one per period.
    let managed_first = current_material(&describe(&client, &managed).await);
    assert!(all_rotations(&client, &managed, None, 100).await.is_empty());
    manual.advance(Duration::from_secs(274 * DAY_SECS));
    server.run_jobs_now().await;
    assert!(now() >= day0 + 365 * 86_400);
    let listed = all_rotations(&client, &managed, None, 100).await;
    assert_eq!(
        rotation_kinds(&listed),
        [("AUTOMATIC".to_owned(), "CURRENT".to_owned())]
    );
    assert_ne!(
        current_material(&describe(&client, &managed).await),
        managed_first
    );
    let status = client
        .get_key_rotation_status()
        .key_id(&managed)
        .send()
        .await
        .expect("GetKeyRotationStatus of the AWS managed key");
    assert_eq!(
        status.next_rotation_date.map(|d| d.secs()),
        Some(now() + 365 * 86_400)
    );
    let listed = all_rotations(&client, &rotating, None, 100).await;
    assert_eq!(
        rotation_kinds(&listed),
        [
            ("AUTOMATIC".to_owned(), "NON_CURRENT".to_owned()),
            ("ON_DEMAND".to_owned(), "NON_CURRENT".to_owned()),
            ("AUTOMATIC".to_owned(), "CURRENT".to_owned()),
        ]
    );

    // Turning rotation off stops it; turning it on again starts a new period from that day.
    client
        .disable_key_rotation()
        .key_id(&plain)
        .send()
        .await
        .expect("DisableKeyRotation");
    client
        .enable_key_rotation()
        .key_id(&plain)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let status = client
        .get_key_rotation_status()
        .key_id(&plain)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert_eq!(
        status.next_rotation_date.map(|d| d.secs()),
        Some(now() + 90 * 86_400)
    );
    server.run_jobs_now().await;
    assert_eq!(
        current_material(&describe(&client, &plain).await),
        materials_before[1]
    );
    server.shutdown().await;
}

/// ListKeyRotations: key id or key ARN (not aliases), pagination with Limit and Marker, model
/// validation, unknown keys; RotateKeyOnDemand's limit of 25 rotations per key.
#[tokio::test]
async fn list_key_rotations_pages_and_errors() {
    use aws_sdk_kms::types::IncludeKeyMaterial;

    let client = kms();
    let (key_id, arn) = new_key(&client).await;
    let alias = new_alias();
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias");
    let mut materials = vec![current_material(&describe(&client, &key_id).await)];
    for _ in 0..25 {
        client
            .rotate_key_on_demand()
            .key_id(&arn)
            .send()
            .await
            .expect("RotateKeyOnDemand");
        materials.push(current_material(&describe(&client, &key_id).await));
    }
    let e = expect_err!(client.rotate_key_on_demand().key_id(&key_id).send().await);
    assert_error(
        &e,
        "LimitExceededException",
        &format!("{arn} has reached the maximum of 25 on-demand rotations."),
    );
    assert_eq!(current_material(&describe(&client, &key_id).await), materials[25]);

    // Every page size gives the same entries, oldest first.
    for limit in [1, 7, 25, 1000] {
        let listed = all_rotations(&client, &arn, None, limit).await;
        assert_eq!(
            listed
                .iter()
                .map(|e| e.key_material_id.clone().unwrap_or_default())
                .collect::<Vec<_>>(),
            materials[1..],
            "limit {limit}"
        );
        assert!(
            listed
                .iter()
                .all(|e| e.rotation_type.as_ref().map(|t| t.as_str()) == Some("ON_DEMAND"))
        );
        assert!(
            listed
                .windows(2)
                .all(|w| w[0].rotation_date <= w[1].rotation_date)
        );
    }
    let listed = all_rotations(&client, &key_id, Some(IncludeKeyMaterial::AllKeyMaterial), 10).await;
    assert_eq!(listed.len(), 26);
    assert_eq!(listed[0].key_material_id.as_deref(), Some(materials[0].as_str()));
    assert!(listed[0].rotation_type.is_none());
    let listed = all_rotations(&client, &key_id, Some(IncludeKeyMaterial::RotationsOnly), 10).await;
    assert_eq!(listed.len(), 25);
    // The default page is 100 entries.
    let out = client
        .list_key_rotations()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListKeyRotations");
    assert_eq!(out.rotations().len(), 25);
    assert!(!out.truncated);

    let e = expect_err!(
        client
            .list_key_rotations()
            .key_id(&key_id)
            .marker("not-a-marker")
            .send()
            .await
    );
    assert_error(&e, "InvalidMarkerException", "Invalid marker");
    for (limit, constraint) in [
        (0, "greater than or equal to 1"),
        (1001, "less than or equal to 1000"),
    ] {
        let e = expect_err!(
            client
                .list_key_rotations()
                .key_id(&key_id)
                .limit(limit)
                .send()
                .await
        );
        assert_error(
            &e,
            "ValidationException",
            &validation(&format!(
                "Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {constraint}"
            )),
        );
    }
    let e = expect_err!(
        client
            .list_key_rotations()
            .key_id(&key_id)
            .include_key_material(IncludeKeyMaterial::from("SOME_MATERIAL"))
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationException",
        &validation(
            "Value 'SOME_MATERIAL' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
        ),
    );

    // Key id or key ARN only.
    for name in [alias.clone(), alias_arn(&account(), &alias)] {
        assert_eq!(
            outcome(client.list_key_rotations().key_id(&name).send().await),
            failed("NotFoundException", &format!("Invalid keyId '{name}'")),
        );
    }
    let unknown = "11111111-2222-4333-8444-555555555555";
    assert_eq!(
        outcome(client.list_key_rotations().key_id(unknown).send().await),
        failed(
            "NotFoundException",
            &format!("Key '{}' does not exist", key_arn(&account(), unknown))
        )
    );
    assert_eq!(
        outcome(client.list_key_rotations().key_id("fake-key-id").send().await),
        failed("NotFoundException", "Invalid keyId 'fake-key-id'")
    );
}

/// kms:ListKeyRotations is authorized on the key with its key policy.
#[tokio::test]
async fn list_key_rotations_needs_permission() {
    let server = TestServer::start();
    let client = server.kms_client();
    let account = account();
    let iam = server.iam_client();
    let (user_arn, creds) = create_user_with_key(&iam, &format!("rotlist-{}", short_id()), None).await;
    let as_user = server.kms_client_as(&creds);
    let (key_id, arn) = new_key(&client).await;
    assert_eq!(
        outcome(as_user.list_key_rotations().key_id(&key_id).send().await),
        no_iam_policy(&user_arn, "kms:ListKeyRotations", &arn)
    );
    // The key policy names the user directly: no identity policy needed.
    let (own, own_arn) = key_with_policy(
        &client,
        &policy_granting(&account, &user_arn, &["kms:ListKeyRotations"], None),
        true,
    )
    .await;
    assert_eq!(
        outcome(as_user.list_key_rotations().key_id(&own).send().await),
        Ok(())
    );
    assert_eq!(
        outcome(as_user.list_key_rotations().key_id(&own_arn).send().await),
        Ok(())
    );
}

/// A secret under a customer managed key stays readable across automatic and on-demand rotations
/// of the key (each version's data key names the material it was made with), as does a secret
/// under the AWS managed key across its yearly rotation.
#[tokio::test]
async fn secrets_stay_readable_across_key_rotations() {
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let kms = server.kms_client();
    let sm = server.client();
    let (key_id, _) = new_key(&kms).await;
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let read = |id: String, stage: &'static str| {
        let sm = sm.clone();
        async move {
            sm.get_secret_value()
                .secret_id(id)
                .version_stage(stage)
                .send()
                .await
                .expect("GetSecretValue")
                .secret_string
                .expect("SecretString")
        }
    };
    let name = format!("rotated-key-{}", short_id());
    sm.create_secret()
        .name(&name)
        .kms_key_id(&key_id)
        .secret_string("v1")
        .send()
        .await
        .expect("CreateSecret under the key");
    let default_name = format!("default-key-{}", short_id());
    sm.create_secret()
        .name(&default_name)
        .secret_string("d1")
        .send()
        .await
        .expect("CreateSecret under the AWS managed key");
    let first = current_material(&describe(&kms, &key_id).await);

    manual.advance(Duration::from_secs(91 * DAY_SECS));
    server.run_jobs_now().await;
    let second = current_material(&describe(&kms, &key_id).await);
    assert_ne!(first, second);
    assert_eq!(read(name.clone(), "AWSCURRENT").await, "v1");
    sm.put_secret_value()
        .secret_id(&name)
        .secret_string("v2")
        .send()
        .await
        .expect("PutSecretValue after the rotation");

    kms.rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    manual.advance(Duration::from_secs(91 * DAY_SECS));
    server.run_jobs_now().await;
    let listed = all_rotations(&kms, &key_id, None, 100).await;
    assert_eq!(
        rotation_kinds(&listed)
            .into_iter()
            .map(|(t, _)| t)
            .collect::<Vec<_>>(),
        ["AUTOMATIC", "ON_DEMAND", "AUTOMATIC"]
    );
    assert_eq!(read(name.clone(), "AWSCURRENT").await, "v2");
    assert_eq!(read(name.clone(), "AWSPREVIOUS").await, "v1");

    manual.advance(Duration::from_secs(200 * DAY_SECS));
    server.run_jobs_now().await;
    let managed = describe(&kms, "alias/aws/secretsmanager").await.key_id;
    let listed = all_rotations(&kms, &managed, None, 100).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(read(default_name.clone(), "AWSCURRENT").await, "d1");
    sm.put_secret_value()
        .secret_id(&default_name)
        .secret_string("d2")
        .send()
        .await
        .expect("PutSecretValue under the rotated AWS managed key");
    assert_eq!(read(default_name.clone(), "AWSCURRENT").await, "d2");
    assert_eq!(read(default_name, "AWSPREVIOUS").await, "d1");
    assert_eq!(read(name, "AWSPREVIOUS").await, "v1");
    server.shutdown().await;
}
