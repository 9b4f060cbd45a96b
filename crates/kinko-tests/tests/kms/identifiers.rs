//! Key identifiers: key id, key ARN, alias name and alias ARN, which operations take which, and
//! how malformed, unknown and foreign identifiers are answered.

use aws_sdk_kms::primitives::Blob;
use kinko_tests::*;
use serde_json::json;

use crate::{account, kms};

/// A key with an alias: `(key id, key ARN, alias name, alias ARN)`.
async fn aliased_key() -> (String, String, String, String) {
    let client = kms();
    let (key, arn) = client.new_key().await;
    let alias = new_alias();
    client.alias_key(&alias, &key).await;
    let named = alias_arn(&account(), &alias);
    (key, arn, alias, named)
}

/// DescribeKey and the cryptographic operations take all four forms; results name the key ARN.
#[tokio::test]
async fn cryptographic_operations_take_every_identifier_form() {
    let client = kms();
    let (key, arn, alias, named) = aliased_key().await;
    for form in [&key, &arn, &alias, &named] {
        assert_eq!(client.describe(form).await.key_id, key, "{form}");
        let plaintext = Blob::new(b"x".to_vec());
        let out = client.encrypt().key_id(form).plaintext(plaintext).send().await;
        assert_eq!(
            out.expect("Encrypt").key_id.as_deref(),
            Some(arn.as_str()),
            "{form}"
        );
        let out = client.generate_data_key().key_id(form).number_of_bytes(8);
        let out = out.send().await;
        let out = out.expect("GenerateDataKey");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()), "{form}");
    }
}

#[tokio::test]
async fn management_operations_take_a_key_id_or_key_arn_only() {
    let client = kms();
    let (key, arn, alias, named) = aliased_key().await;
    for form in [&key, &arn] {
        ok(client.get_key_policy().key_id(form).send().await);
        client.enable_key().key_id(form).send().await.expect("EnableKey");
    }
    for form in [&alias, &named] {
        let invalid = invalid_key_id(form);
        assert_eq!(
            outcome(client.get_key_policy().key_id(form).send().await),
            invalid
        );
        assert_eq!(outcome(client.enable_key().key_id(form).send().await), invalid);
        assert_eq!(
            outcome(client.list_resource_tags().key_id(form).send().await),
            invalid
        );
        let status = client.get_key_rotation_status().key_id(form).send().await;
        assert_eq!(outcome(status), invalid);
    }
}

#[tokio::test]
async fn malformed_key_ids_are_invalid() {
    let client = kms();
    for bad in [
        "fake-key-id",
        "134f2428cec14b25a1ae9048164dba47",
        "mrk-fake-key-id",
        "11111111-2222-4333-8444-55555555555g",
    ] {
        assert_eq!(
            outcome(client.describe_key().key_id(bad).send().await),
            invalid_key_id(bad)
        );
        assert_eq!(
            outcome(client.disable_key().key_id(bad).send().await),
            invalid_key_id(bad)
        );
    }
    let iam_arn = format!("arn:aws:iam::{}:user/someone", account());
    let out = client.describe_key().key_id(&iam_arn).send().await;
    assert_eq!(outcome(out), invalid_key_id(&iam_arn));
}

/// Well-formed but unknown: reported with the ARN the id has in the caller's account.
#[tokio::test]
async fn unknown_keys_are_named_by_their_arn_in_the_callers_account() {
    let (client, account) = (kms(), account());
    let unknown_arn = key_arn(&account, UNKNOWN_KEY);
    let not_found = key_not_found(&unknown_arn);
    let mrk = "mrk-0123456789abcdef0123456789abcdef";
    let describe = |id: &str| client.describe_key().key_id(id).send();
    assert_eq!(outcome(describe(UNKNOWN_KEY).await), not_found);
    assert_eq!(outcome(describe(&unknown_arn).await), not_found);
    assert_eq!(
        outcome(describe(mrk).await),
        key_not_found(&key_arn(&account, mrk))
    );
    assert_eq!(client.try_encrypt(UNKNOWN_KEY, &[]).await, not_found);
    let schedule = client.schedule_key_deletion().key_id(UNKNOWN_KEY).send().await;
    assert_eq!(outcome(schedule), not_found);
    let tag = client.tag_resource().key_id(&unknown_arn).tags(kms_tag("a", "b"));
    assert_eq!(outcome(tag.send().await), not_found);
}

#[tokio::test]
async fn unknown_aliases_are_not_found() {
    let (client, account) = (kms(), account());
    let missing = "alias/does-not-exist";
    let not_found = alias_not_found(&alias_arn(&account, missing));
    assert_eq!(
        outcome(client.describe_key().key_id(missing).send().await),
        not_found
    );
    let by_arn = client.describe_key().key_id(alias_arn(&account, missing));
    let by_arn = by_arn.send().await;
    assert_eq!(outcome(by_arn), not_found);
    assert_eq!(client.try_data_key(missing, &[]).await, not_found);
}

#[tokio::test]
async fn arns_of_another_region_are_invalid() {
    let (client, account) = (kms(), account());
    let (key, _, alias, _) = aliased_key().await;
    for other in [
        format!("arn:aws:kms:eu-west-1:{account}:key/{key}"),
        format!("arn:aws:kms:eu-west-1:{account}:{alias}"),
    ] {
        let out = outcome(client.describe_key().key_id(&other).send().await);
        assert_eq!(out, failed("NotFoundException", "Invalid arn eu-west-1"));
    }
}

#[tokio::test]
async fn key_id_model_constraints() {
    let client = kms();
    let empty = failed("ValidationException", &model_min_length("keyId", "", 1));
    assert_eq!(outcome(client.describe_key().key_id("").send().await), empty);
    let missing = failed("ValidationException", &model_not_null("keyId"));
    assert_eq!(outcome(client.describe_key().send().await), missing);
    let huge = "k".repeat(2049);
    let plaintext = Blob::new(b"x".to_vec());
    let out = client.encrypt().key_id(&huge).plaintext(plaintext).send().await;
    let too_long = model_max_length("keyId", &huge, 2048);
    assert_eq!(outcome(out), failed("ValidationException", &too_long));
}

/// On the wire: HTTP 400 with `__type` and a lowercase `message`.
#[tokio::test]
async fn errors_are_http_400_with_type_and_message() {
    let client = kms();
    let unknown_arn = key_arn(&account(), UNKNOWN_KEY);
    let (status, body) = raw_error(client.describe_key().key_id(UNKNOWN_KEY).send().await);
    assert_eq!(status, 400);
    let message = format!("Key '{unknown_arn}' does not exist");
    assert_eq!(body, json!({"__type": "NotFoundException", "message": message}));
}
