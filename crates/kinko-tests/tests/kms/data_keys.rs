//! GenerateDataKey, GenerateDataKeyWithoutPlaintext and GenerateRandom.

use aws_sdk_kms::types::DataKeySpec;
use kinko_tests::*;

use crate::{DRY_RUN, kms};

#[tokio::test]
async fn data_keys_have_the_spec_or_size_asked_and_decrypt_with_their_context() {
    let client = kms();
    let (key, arn) = client.new_key().await;
    for (spec, n) in [
        (Some(DataKeySpec::Aes256), 32),
        (Some(DataKeySpec::Aes128), 16),
        (None, 1),
        (None, 64),
        (None, 1024),
    ] {
        let req = client
            .generate_data_key()
            .key_id(&key)
            .encryption_context("c", "d");
        let req = match spec {
            Some(s) => req.key_spec(s),
            None => req.number_of_bytes(n),
        };
        let out = req.send().await.expect("GenerateDataKey");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
        let plaintext = out.plaintext.expect("plaintext").into_inner();
        assert_eq!(plaintext.len(), usize::try_from(n).expect("n"));
        let blob = out.ciphertext_blob.expect("blob");
        let d = client.decrypt_with(&blob, &[("c", "d")]).await;
        assert_eq!(d.plaintext.expect("plaintext").into_inner(), plaintext);
        let without = client.try_decrypt(&blob, None, &[]).await;
        assert_eq!(without, failed_without_message("InvalidCiphertextException"));
    }
}

#[tokio::test]
async fn data_keys_without_plaintext_decrypt_to_a_key_of_the_size_asked() {
    let client = kms();
    let (key, arn) = client.new_key().await;
    let req = client.generate_data_key_without_plaintext().key_id(&key);
    let req = req.key_spec(DataKeySpec::Aes256).encryption_context("e", "f");
    let out = req.send().await.expect("GenerateDataKeyWithoutPlaintext");
    assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
    let d = client
        .decrypt_with(&out.ciphertext_blob.expect("blob"), &[("e", "f")])
        .await;
    assert_eq!(d.plaintext.expect("plaintext").as_ref().len(), 32);
    let req = client.generate_data_key_without_plaintext().key_id(&key);
    let out = req.number_of_bytes(100).send().await;
    let blob = out
        .expect("GenerateDataKeyWithoutPlaintext NumberOfBytes")
        .ciphertext_blob;
    let d = client.decrypt_with(&blob.expect("blob"), &[]).await;
    assert_eq!(d.plaintext.expect("plaintext").as_ref().len(), 100);
}

/// Exactly one of KeySpec and NumberOfBytes, within 1..=1024; KeySpec from the model's set.
#[tokio::test]
async fn data_key_size_must_be_given_once_and_in_range() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let either = failed(
        "ValidationException",
        "Please specify either number of bytes or key spec.",
    );
    let with_plaintext = || client.generate_data_key().key_id(&key);
    let without_plaintext = || client.generate_data_key_without_plaintext().key_id(&key);
    assert_eq!(outcome(with_plaintext().send().await), either);
    let both = with_plaintext().key_spec(DataKeySpec::Aes256).number_of_bytes(32);
    assert_eq!(outcome(both.send().await), either);
    assert_eq!(outcome(without_plaintext().send().await), either);
    for (n, message) in [
        (0, model_min_value("numberOfBytes", 0, 1)),
        (1025, model_max_value("numberOfBytes", 1025, 1024)),
    ] {
        let out = with_plaintext().number_of_bytes(n).send().await;
        assert_eq!(outcome(out), failed("ValidationException", &message));
        let out = without_plaintext().number_of_bytes(n).send().await;
        assert_eq!(outcome(out), failed("ValidationException", &message));
    }
    let unknown = model_enum("keySpec", "AES_512", "[AES_256, AES_128]");
    let out = with_plaintext().key_spec("AES_512".into()).send().await;
    assert_eq!(outcome(out), failed("ValidationException", &unknown));
    let dry_run = with_plaintext().key_spec(DataKeySpec::Aes256).dry_run(true);
    let dry_run = dry_run.send().await;
    assert_eq!(outcome(dry_run), failed("DryRunOperationException", DRY_RUN));
}

#[tokio::test]
async fn generate_random_gives_fresh_bytes_of_the_size_asked() {
    let client = kms();
    let random = |n: i32| client.generate_random().number_of_bytes(n).send();
    for n in [1, 100, 1024] {
        let r = random(n)
            .await
            .expect("GenerateRandom")
            .plaintext
            .expect("plaintext");
        assert_eq!(r.as_ref().len(), usize::try_from(n).expect("n"));
    }
    let a = random(32).await.expect("GenerateRandom").plaintext;
    let b = random(32).await.expect("GenerateRandom").plaintext;
    assert_ne!(a, b);
}

#[tokio::test]
async fn generate_random_needs_1_to_1024_bytes() {
    let client = kms();
    let required = failed("ValidationException", "NumberOfBytes is required.");
    assert_eq!(outcome(client.generate_random().send().await), required);
    for (n, message) in [
        (1025, model_max_value("numberOfBytes", 1025, 1024)),
        (0, model_min_value("numberOfBytes", 0, 1)),
    ] {
        let out = client.generate_random().number_of_bytes(n).send().await;
        assert_eq!(outcome(out), failed("ValidationException", &message));
    }
}
