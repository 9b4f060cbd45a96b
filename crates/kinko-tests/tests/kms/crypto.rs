//! Encrypt, Decrypt and ReEncrypt: encryption contexts, ciphertexts, plaintext limits,
//! algorithms, grant tokens and DryRun.

use std::collections::HashMap;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::EncryptionAlgorithmSpec as Algorithm;
use kinko_tests::*;
use serde_json::json;

use crate::{DRY_RUN, INCORRECT_KEY, account, kms};

const CONTEXT: &[(&str, &str)] = &[("purpose", "test"), ("a", "b")];

fn invalid_ciphertext() -> Outcome {
    failed_without_message("InvalidCiphertextException")
}

/// A key, its ARN, and "hello" encrypted under it with [`CONTEXT`].
async fn key_and_blob() -> (String, String, Blob) {
    let client = kms();
    let (key, arn) = client.new_key().await;
    let blob = client.encrypt_with(&key, b"hello", CONTEXT).await;
    (key, arn, blob)
}

#[tokio::test]
async fn decrypt_takes_the_context_in_any_order_with_or_without_key_id() {
    let client = kms();
    let (key, arn, blob) = key_and_blob().await;
    let out = client
        .decrypt_with(&blob, &[("a", "b"), ("purpose", "test")])
        .await;
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"hello");
    assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(out.encryption_algorithm, Some(Algorithm::SymmetricDefault));
    // With the KeyId, as key id and key ARN (alias forms: see `identifiers`).
    for form in [&key, &arn] {
        let req = client.decrypt().ciphertext_blob(blob.clone()).key_id(form);
        let req = req
            .encryption_context("a", "b")
            .encryption_context("purpose", "test");
        let out = req.encryption_algorithm(Algorithm::SymmetricDefault).send().await;
        assert_eq!(
            out.expect("Decrypt with KeyId")
                .plaintext
                .expect("plaintext")
                .as_ref(),
            b"hello"
        );
    }
}

/// Wrong, missing, extra or differently cased context: no message at all.
#[tokio::test]
async fn decrypt_needs_exactly_the_encryption_context() {
    let client = kms();
    let (_, _, blob) = key_and_blob().await;
    for ctx in [
        vec![],
        vec![("a", "b")],
        vec![("a", "b"), ("purpose", "TEST")],
        vec![("a", "b"), ("Purpose", "test")],
        vec![("a", "b"), ("purpose", "test"), ("c", "d")],
    ] {
        assert_eq!(
            client.try_decrypt(&blob, None, &ctx).await,
            invalid_ciphertext(),
            "{ctx:?}"
        );
    }
}

/// No context at encryption: none or an empty map at decryption; on the wire, a failure is HTTP
/// 400 without a `message` member.
#[tokio::test]
async fn no_context_at_encryption_means_none_at_decryption() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let bare = client.encrypt_with(&key, b"bare", &[]).await;
    let req = client.decrypt().ciphertext_blob(bare.clone());
    let out = req.set_encryption_context(Some(HashMap::new())).send().await;
    let out = out.expect("Decrypt with an empty context");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"bare");
    assert_eq!(
        client.try_decrypt(&bare, None, &[("x", "y")]).await,
        invalid_ciphertext()
    );
    let req = client
        .decrypt()
        .ciphertext_blob(bare)
        .encryption_context("x", "y");
    let raw = raw_error(req.send().await);
    assert_eq!(raw, (400, json!({"__type": "InvalidCiphertextException"})));
}

#[tokio::test]
async fn tampered_garbage_and_oversized_ciphertexts_fail() {
    let client = kms();
    let (_, _, blob) = key_and_blob().await;
    let mut bytes = blob.into_inner();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    for bad in [
        Blob::new(bytes),
        Blob::new(b"garbage".to_vec()),
        Blob::new(vec![0u8; 100]),
    ] {
        assert_eq!(
            client.try_decrypt(&bad, None, CONTEXT).await,
            invalid_ciphertext()
        );
    }
    let huge = Blob::new(vec![1u8; 6145]);
    let huge = client.decrypt().ciphertext_blob(huge).send().await;
    let too_long = model_max_length_unquoted("ciphertextBlob", 6144);
    assert_eq!(outcome(huge), failed("ValidationException", &too_long));
    let missing = failed("ValidationException", &model_not_null("ciphertextBlob"));
    assert_eq!(outcome(client.decrypt().send().await), missing);
}

#[tokio::test]
async fn decrypt_naming_another_key_or_no_key_fails() {
    let client = kms();
    let (_, _, blob) = key_and_blob().await;
    let (other, _) = client.new_key().await;
    let out = client.decrypt().ciphertext_blob(blob.clone());
    let out = out.key_id(&other).send().await;
    assert_eq!(outcome(out), failed("IncorrectKeyException", INCORRECT_KEY));
    let not_found = key_not_found(&key_arn(&account(), UNKNOWN_KEY));
    assert_eq!(client.try_decrypt(&blob, Some(UNKNOWN_KEY), &[]).await, not_found);
}

#[tokio::test]
async fn plaintexts_are_1_to_4096_bytes() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let encrypt = |bytes: Vec<u8>| client.encrypt().key_id(&key).plaintext(Blob::new(bytes)).send();
    let too_long = model_max_length_unquoted("plaintext", 4096);
    assert_eq!(
        outcome(encrypt(vec![0u8; 4097]).await),
        failed("ValidationException", &too_long)
    );
    let empty = model_min_length_unquoted("plaintext", 1);
    assert_eq!(
        outcome(encrypt(Vec::new()).await),
        failed("ValidationException", &empty)
    );
    let big = client.encrypt_with(&key, &[7u8; 4096], &[]).await;
    let out = client.decrypt_with(&big, &[]).await;
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), &[7u8; 4096][..]);
    let single = client.encrypt_with(&key, &[1u8], &[]).await;
    assert_eq!(client.try_decrypt(&single, None, &[]).await, Ok(()));
}

/// Only SYMMETRIC_DEFAULT suits a symmetric key.
#[tokio::test]
async fn algorithms_other_than_symmetric_default_are_refused() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let bare = client.encrypt_with(&key, b"bare", &[]).await;
    let encrypt = |alg: Algorithm| {
        let req = client.encrypt().key_id(&key).plaintext(Blob::new(b"x".to_vec()));
        req.encryption_algorithm(alg).send()
    };
    let out = encrypt(Algorithm::SymmetricDefault)
        .await
        .expect("Encrypt SYMMETRIC_DEFAULT");
    assert_eq!(out.encryption_algorithm, Some(Algorithm::SymmetricDefault));
    let incompatible = failed(
        "InvalidKeyUsageException",
        "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT.",
    );
    assert_eq!(outcome(encrypt(Algorithm::RsaesOaepSha256).await), incompatible);
    let decrypt = client.decrypt().ciphertext_blob(bare);
    let out = decrypt.encryption_algorithm(Algorithm::RsaesOaepSha256);
    let out = out.send().await;
    assert_eq!(outcome(out), incompatible);
    let set = "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]";
    let unknown = model_enum("encryptionAlgorithm", "AES_GCM", set);
    assert_eq!(
        outcome(encrypt("AES_GCM".into()).await),
        failed("ValidationException", &unknown)
    );
}

#[tokio::test]
async fn at_most_10_grant_tokens() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let mut req = client.encrypt().key_id(&key).plaintext(Blob::new(b"x".to_vec()));
    for n in 0..11 {
        req = req.grant_tokens(format!("token-{n}"));
    }
    let too_many = model_max_length_unquoted("grantTokens", 10);
    assert_eq!(
        outcome(req.send().await),
        failed("ValidationException", &too_many)
    );
}

#[tokio::test]
async fn dry_run_encrypt_and_decrypt() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let bare = client.encrypt_with(&key, b"bare", &[]).await;
    let dry_run = failed("DryRunOperationException", DRY_RUN);
    let encrypt = client.encrypt().key_id(&key).plaintext(Blob::new(b"x".to_vec()));
    assert_eq!(outcome(encrypt.dry_run(true).send().await), dry_run);
    let decrypt = client.decrypt().ciphertext_blob(bare).dry_run(true);
    assert_eq!(outcome(decrypt.send().await), dry_run);
}

/// Two keys, the second with an alias, and "move me" under the first with the context `k=1`.
struct ReEncryption {
    a_arn: String,
    b: String,
    b_arn: String,
    b_alias: String,
    blob: Blob,
}

async fn re_encryption() -> ReEncryption {
    let client = kms();
    let (a, a_arn) = client.new_key().await;
    let (b, b_arn) = client.new_key().await;
    let b_alias = new_alias();
    client.alias_key(&b_alias, &b).await;
    let blob = client.encrypt_with(&a, b"move me", &[("k", "1")]).await;
    ReEncryption {
        a_arn,
        b,
        b_arn,
        b_alias,
        blob,
    }
}

/// ReEncrypt from the first key (context `k=1`) to the second (context `k=2`).
async fn moved(
    client: &aws_sdk_kms::Client,
    r: &ReEncryption,
) -> aws_sdk_kms::operation::re_encrypt::ReEncryptOutput {
    let req = client
        .re_encrypt()
        .ciphertext_blob(r.blob.clone())
        .source_encryption_context("k", "1");
    let req = req
        .destination_key_id(&r.b)
        .destination_encryption_context("k", "2");
    req.send().await.expect("ReEncrypt")
}

#[tokio::test]
async fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let client = kms();
    let r = re_encryption().await;
    let out = moved(&client, &r).await;
    assert_eq!(out.source_key_id.as_deref(), Some(r.a_arn.as_str()));
    assert_eq!(out.key_id.as_deref(), Some(r.b_arn.as_str()));
    assert_eq!(out.source_encryption_algorithm, Some(Algorithm::SymmetricDefault));
    assert_eq!(
        out.destination_encryption_algorithm,
        Some(Algorithm::SymmetricDefault)
    );
    let moved = out.ciphertext_blob.expect("blob");
    let d = client.decrypt_with(&moved, &[("k", "2")]).await;
    assert_eq!(d.key_id.as_deref(), Some(r.b_arn.as_str()));
    assert_eq!(d.plaintext.expect("plaintext").as_ref(), b"move me");
    assert_eq!(
        client.try_decrypt(&moved, None, &[("k", "1")]).await,
        invalid_ciphertext()
    );
}

/// Source named (by alias), destination by alias: back to the same key with another context.
#[tokio::test]
async fn re_encrypt_within_a_key_named_by_alias() {
    let client = kms();
    let r = re_encryption().await;
    let moved = moved(&client, &r).await.ciphertext_blob.expect("blob");
    let req = client
        .re_encrypt()
        .ciphertext_blob(moved)
        .source_key_id(&r.b_alias);
    let req = req
        .source_encryption_context("k", "2")
        .destination_key_id(&r.b_alias);
    let out = req.send().await.expect("ReEncrypt within a key");
    assert_eq!(out.key_id.as_deref(), Some(r.b_arn.as_str()));
    let again = out.ciphertext_blob.expect("blob");
    assert_eq!(client.try_decrypt(&again, Some(&r.b), &[]).await, Ok(()));
}

/// Wrong SourceKeyId, wrong source context, garbage, unknown or missing destination, DryRun.
#[tokio::test]
async fn re_encrypt_errors() {
    let client = kms();
    let r = re_encryption().await;
    let from = |ctx: &str| {
        let req = client.re_encrypt().ciphertext_blob(r.blob.clone());
        req.source_encryption_context("k", ctx)
    };
    let wrong_source = from("1").source_key_id(&r.b).destination_key_id(&r.b);
    let wrong_source = wrong_source.send().await;
    assert_eq!(
        outcome(wrong_source),
        failed("IncorrectKeyException", INCORRECT_KEY)
    );
    let wrong_context = from("other").destination_key_id(&r.b).send().await;
    assert_eq!(outcome(wrong_context), invalid_ciphertext());
    let garbage = client
        .re_encrypt()
        .ciphertext_blob(Blob::new(b"garbage".to_vec()));
    let garbage = garbage.destination_key_id(&r.b).send().await;
    assert_eq!(error_code(garbage), "InvalidCiphertextException");
    let missing = "alias/no-such-destination";
    let unknown = from("1").destination_key_id(missing).send().await;
    assert_eq!(outcome(unknown), alias_not_found(&alias_arn(&account(), missing)));
    let none = failed("ValidationException", &model_not_null("destinationKeyId"));
    assert_eq!(outcome(from("1").send().await), none);
    let dry_run = from("1").destination_key_id(&r.b).dry_run(true).send().await;
    assert_eq!(outcome(dry_run), failed("DryRunOperationException", DRY_RUN));
}
