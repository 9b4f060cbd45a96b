//! Imported key material: CreateKey with Origin EXTERNAL, GetParametersForImport,
//! ImportKeyMaterial (the material wrapped client-side with the returned public key, as AWS
//! documents), DeleteImportedKeyMaterial, expiry, and the key states around them; symmetric, HMAC
//! and asymmetric keys.

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, OriginType,
    WrappingKeySpec,
};
use kinko_tests::*;

use crate::kms;

const INCORRECT_KEY_MATERIAL: &str = "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.";
const INVALID_IMPORT_TOKEN: &str =
    "The provided import token is invalid or is associated with a different KMS key.";
const EXPIRED_IMPORT_TOKEN: &str = "The specified import token is expired. Use GetParametersForImport to get a new import token and public key, use the new public key to encrypt the key material, and then try the request again.";

/// A key for imported material: `(KeyId, Arn)`.
async fn external_key(client: &Client) -> (String, String) {
    let out = client.create_key().origin(OriginType::External).send().await;
    let m = ok(out).key_metadata.expect("KeyMetadata");
    (m.key_id.clone(), m.arn.expect("Arn"))
}

/// 32 random bytes: symmetric key material.
fn material() -> Vec<u8> {
    let mut m = vec![0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut m).expect("random");
    m
}

fn oaep(alg: &AlgorithmSpec) -> &'static OaepAlgorithm {
    match alg {
        AlgorithmSpec::RsaesOaepSha1 | AlgorithmSpec::RsaAesKeyWrapSha1 => &OAEP_SHA1_MGF1SHA1,
        _ => &OAEP_SHA256_MGF1SHA256,
    }
}

fn rsa_encrypt(public_der: &[u8], alg: &'static OaepAlgorithm, plaintext: &[u8]) -> Vec<u8> {
    let public = PublicEncryptingKey::from_der(public_der).expect("SubjectPublicKeyInfo");
    let key = OaepPublicEncryptingKey::new(public).expect("OAEP key");
    let mut out = vec![0; key.ciphertext_size()];
    let len = key.encrypt(alg, plaintext, &mut out, None).expect("OAEP").len();
    out.truncate(len);
    out
}

/// `material` wrapped as `alg` says, with the public key GetParametersForImport gave.
fn wrap(public_der: &[u8], alg: &AlgorithmSpec, material: &[u8]) -> Vec<u8> {
    match alg {
        AlgorithmSpec::RsaAesKeyWrapSha1 | AlgorithmSpec::RsaAesKeyWrapSha256 => {
            // An ephemeral AES-256 key under RSAES-OAEP, then the material under it (RFC 5649).
            let aes = material_of_len(32);
            let mut out = rsa_encrypt(public_der, oaep(alg), &aes);
            let kek = AesKek::new(&AES_256, &aes).expect("KEK");
            let mut wrapped = vec![0; material.len() + 16];
            let len = kek.wrap_with_padding(material, &mut wrapped).expect("KWP").len();
            out.extend_from_slice(&wrapped[..len]);
            out
        }
        _ => rsa_encrypt(public_der, oaep(alg), material),
    }
}

fn material_of_len(n: usize) -> Vec<u8> {
    let mut m = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut m).expect("random");
    m
}

/// GetParametersForImport: `(ImportToken, PublicKey)`.
async fn parameters(
    client: &Client,
    key: &str,
    alg: AlgorithmSpec,
    spec: WrappingKeySpec,
) -> (Blob, Vec<u8>) {
    let out = client
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(alg)
        .wrapping_key_spec(spec)
        .send()
        .await;
    let out = ok(out);
    let public = out.public_key.expect("PublicKey").into_inner();
    (out.import_token.expect("ImportToken"), public)
}

/// Wraps `material` for `key` (RSAES_OAEP_SHA_256, RSA_2048) and imports it, not expiring.
async fn import(client: &Client, key: &str, material: &[u8]) -> Outcome {
    let alg = AlgorithmSpec::RsaesOaepSha256;
    let (token, public) = parameters(client, key, alg.clone(), WrappingKeySpec::Rsa2048).await;
    let req = client
        .import_key_material()
        .key_id(key)
        .import_token(token)
        .encrypted_key_material(Blob::new(wrap(&public, &alg, material)))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire);
    outcome(req.send().await)
}

fn pending_import(arn: &str) -> Outcome {
    failed("KMSInvalidStateException", &format!("{arn} is pending import."))
}

/// A key created with Origin EXTERNAL has no material: PendingImport, not enabled, no
/// material id nor expiration model; it can't be used or enabled until material is imported.
#[tokio::test]
async fn external_keys_wait_for_their_material() {
    let client = kms();
    let (key, arn) = external_key(&client).await;
    let m = client.describe(&key).await;
    assert_eq!(m.origin, Some(OriginType::External));
    assert_eq!(m.key_state, Some(KeyState::PendingImport));
    assert!(!m.enabled);
    assert!(m.current_key_material_id.is_none(), "{m:?}");
    assert!(m.expiration_model.is_none(), "{m:?}");
    assert!(m.valid_to.is_none(), "{m:?}");
    assert_eq!(client.try_encrypt(&key, &[]).await, pending_import(&arn));
    assert_eq!(client.try_data_key(&key, &[]).await, pending_import(&arn));
    assert_eq!(
        outcome(client.enable_key().key_id(&key).send().await),
        pending_import(&arn)
    );
    // The key's state comes first (AWS answers RotateKeyOnDemand so on such a key).
    assert_eq!(
        outcome(client.rotate_key_on_demand().key_id(&key).send().await),
        pending_import(&arn)
    );
    // A key whose material the server made takes no imported material.
    let (own, own_arn) = client.new_key().await;
    let wrong_origin = failed(
        "UnsupportedOperationException",
        &format!("{own_arn} origin is AWS_KMS which is not valid for this operation."),
    );
    let req = client
        .get_parameters_for_import()
        .key_id(&own)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048);
    assert_eq!(outcome(req.send().await), wrong_origin);
    assert_eq!(
        outcome(client.delete_imported_key_material().key_id(&own).send().await),
        wrong_origin
    );
    assert_eq!(client.describe(&own).await.origin, Some(OriginType::AwsKms));
}

/// Each wrapping algorithm and key spec AWS offers (but the retired PKCS #1 v1.5 one) unwraps
/// material wrapped with the public key; the key is then enabled and encrypts and decrypts.
#[tokio::test]
async fn material_imports_with_every_wrapping_algorithm() {
    let client = kms();
    for (alg, spec) in [
        (AlgorithmSpec::RsaesOaepSha1, WrappingKeySpec::Rsa2048),
        (AlgorithmSpec::RsaesOaepSha256, WrappingKeySpec::Rsa3072),
        (AlgorithmSpec::RsaAesKeyWrapSha1, WrappingKeySpec::Rsa2048),
        (AlgorithmSpec::RsaAesKeyWrapSha256, WrappingKeySpec::Rsa4096),
    ] {
        let (key, arn) = external_key(&client).await;
        let out = client
            .get_parameters_for_import()
            .key_id(&key)
            .wrapping_algorithm(alg.clone())
            .wrapping_key_spec(spec.clone())
            .send()
            .await;
        let out = ok(out);
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
        let valid = out.parameters_valid_to.expect("ParametersValidTo").secs();
        assert!(
            (now_secs() + 86_300..=now_secs() + 86_500).contains(&valid),
            "{valid}"
        );
        let public = out.public_key.expect("PublicKey").into_inner();
        let wrapped = wrap(&public, &alg, &material());
        let imported = client
            .import_key_material()
            .key_id(&key)
            .import_token(out.import_token.expect("ImportToken"))
            .encrypted_key_material(Blob::new(wrapped))
            .send()
            .await;
        let imported = ok(imported);
        assert_eq!(imported.key_id.as_deref(), Some(arn.as_str()), "{alg:?}");
        let m = client.describe(&key).await;
        assert_eq!(m.key_state, Some(KeyState::Enabled), "{alg:?}");
        assert!(m.enabled);
        assert_eq!(
            m.expiration_model,
            Some(ExpirationModelType::KeyMaterialDoesNotExpire)
        );
        assert!(m.valid_to.is_none());
        assert_eq!(imported.key_material_id, m.current_key_material_id);
        let blob = client.encrypt_with(&key, b"imported", &[("k", "v")]).await;
        let plain = client.decrypt_with(&blob, &[("k", "v")]).await;
        assert_eq!(plain.plaintext.expect("Plaintext").as_ref(), b"imported");
    }
}

/// After DeleteImportedKeyMaterial the key is PendingImport and unusable; only the same
/// material imports again, and ciphertexts made before then decrypt again.
#[tokio::test]
async fn the_same_material_comes_back_after_deletion() {
    let client = kms();
    let (key, arn) = external_key(&client).await;
    let bytes = material();
    ok(import(&client, &key, &bytes).await);
    let blob = client.encrypt_with(&key, b"kept", &[]).await;
    // Rotation is for keys whose material the server makes.
    let unsupported = failed(
        "UnsupportedOperationException",
        &format!("{arn} origin is EXTERNAL which is not valid for this operation."),
    );
    assert_eq!(
        outcome(client.enable_key_rotation().key_id(&key).send().await),
        unsupported
    );

    let deleted = ok(client.delete_imported_key_material().key_id(&key).send().await);
    assert_eq!(deleted.key_id.as_deref(), Some(arn.as_str()));
    let m = client.describe(&key).await;
    assert_eq!(m.key_state, Some(KeyState::PendingImport));
    assert!(m.expiration_model.is_none(), "{m:?}");
    assert_eq!(client.try_decrypt(&blob, None, &[]).await, pending_import(&arn));

    let other = import(&client, &key, &material()).await;
    assert_eq!(
        other,
        failed("IncorrectKeyMaterialException", INCORRECT_KEY_MATERIAL)
    );
    assert_eq!(
        client.describe(&key).await.key_state,
        Some(KeyState::PendingImport)
    );
    ok(import(&client, &key, &bytes).await);
    assert_eq!(client.describe(&key).await.key_state, Some(KeyState::Enabled));
    let plain = client.decrypt_with(&blob, &[]).await;
    assert_eq!(plain.plaintext.expect("Plaintext").as_ref(), b"kept");
    // Material of the wrong size for a symmetric key is refused the same way.
    let (fresh, _) = external_key(&client).await;
    assert_eq!(
        import(&client, &fresh, &material_of_len(16)).await,
        failed("IncorrectKeyMaterialException", INCORRECT_KEY_MATERIAL)
    );
}

/// An import token works for its own key only, with material wrapped by its own public key,
/// and not once it is damaged.
#[tokio::test]
async fn import_tokens_are_bound_to_their_key_and_public_key() {
    let client = kms();
    let (a, _) = external_key(&client).await;
    let (b, _) = external_key(&client).await;
    let alg = AlgorithmSpec::RsaesOaepSha256;
    let (token_a, public_a) = parameters(&client, &a, alg.clone(), WrappingKeySpec::Rsa2048).await;
    let (_, public_b) = parameters(&client, &b, alg.clone(), WrappingKeySpec::Rsa2048).await;
    let bytes = material();
    let send = |key: &str, token: Blob, wrapped: Vec<u8>| {
        client
            .import_key_material()
            .key_id(key)
            .import_token(token)
            .encrypted_key_material(Blob::new(wrapped))
            .send()
    };
    let invalid = failed("InvalidImportTokenException", INVALID_IMPORT_TOKEN);
    let r = send(&b, token_a.clone(), wrap(&public_a, &alg, &bytes)).await;
    assert_eq!(outcome(r), invalid, "another key's token");
    let mut damaged = token_a.clone().into_inner();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let r = send(&a, Blob::new(damaged), wrap(&public_a, &alg, &bytes)).await;
    assert_eq!(outcome(r), invalid, "a damaged token");
    let r = send(&a, token_a.clone(), wrap(&public_b, &alg, &bytes)).await;
    assert_eq!(outcome(r), failed_without_message("InvalidCiphertextException"));
    ok(send(&a, token_a, wrap(&public_a, &alg, &bytes)).await);
}

/// ExpirationModel and ValidTo go together; the retired wrapping algorithm is refused.
#[tokio::test]
async fn expiration_model_and_valid_to_are_checked() {
    let client = kms();
    let (key, _) = external_key(&client).await;
    let alg = AlgorithmSpec::RsaesOaepSha1;
    let (token, public) = parameters(&client, &key, alg.clone(), WrappingKeySpec::Rsa2048).await;
    let wrapped = Blob::new(wrap(&public, &alg, &material()));
    let req = || {
        client
            .import_key_material()
            .key_id(&key)
            .import_token(token.clone())
            .encrypted_key_material(wrapped.clone())
    };
    let r = req()
        .expiration_model(ExpirationModelType::KeyMaterialExpires)
        .send()
        .await;
    assert_eq!(
        outcome(r),
        failed(
            "ValidationException",
            "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
        )
    );
    let later = DateTime::from_secs(now_secs() + 3600);
    let r = req()
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .valid_to(later)
        .send()
        .await;
    assert_eq!(
        outcome(r),
        failed(
            "ValidationException",
            "The parameter ValidTo cannot be specified for a key with an expiration model of KEY_MATERIAL_DOES_NOT_EXPIRE"
        )
    );
    let r = req()
        .expiration_model(ExpirationModelType::KeyMaterialExpires)
        .valid_to(DateTime::from_secs(now_secs() - 10))
        .send()
        .await;
    assert_eq!(
        outcome(r),
        failed("ValidationException", "ValidTo must be in the future.")
    );
    let r = req()
        .expiration_model(ExpirationModelType::KeyMaterialExpires)
        .valid_to(later)
        .send()
        .await;
    ok(r);
    let m = client.describe(&key).await;
    assert_eq!(m.expiration_model, Some(ExpirationModelType::KeyMaterialExpires));
    assert_eq!(m.valid_to.map(|t| t.secs()), Some(later.secs()));

    let pkcs1 = client
        .get_parameters_for_import()
        .key_id(&key)
        .wrapping_algorithm(AlgorithmSpec::RsaesPkcs1V15)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(error_code(pkcs1), "UnsupportedOperationException");
}

/// Material that expires leaves the key PendingImport when its ValidTo passes (AWS deletes it
/// then); the same material imported again brings the key and its ciphertexts back. An import
/// token is valid for 24 hours.
#[tokio::test]
async fn expired_material_and_tokens() {
    let (server, _) = TestServer::start_manual().await;
    let client = server.kms_client();
    let (key, arn) = external_key(&client).await;
    let bytes = material();
    let alg = AlgorithmSpec::RsaAesKeyWrapSha256;
    let (token, public) = parameters(&client, &key, alg.clone(), WrappingKeySpec::Rsa3072).await;
    let valid_to = DateTime::from_secs(server.now_secs() + 2 * DAY);
    let r = client
        .import_key_material()
        .key_id(&key)
        .import_token(token)
        .encrypted_key_material(Blob::new(wrap(&public, &alg, &bytes)))
        .expiration_model(ExpirationModelType::KeyMaterialExpires)
        .valid_to(valid_to)
        .send()
        .await;
    ok(r);
    let blob = client.encrypt_with(&key, b"until then", &[]).await;
    // A token made now is past its 24 hours tomorrow.
    let (token, public) = parameters(&client, &key, alg.clone(), WrappingKeySpec::Rsa3072).await;
    server.advance_days(1).await;
    let late = client
        .import_key_material()
        .key_id(&key)
        .import_token(token)
        .encrypted_key_material(Blob::new(wrap(&public, &alg, &bytes)))
        .send()
        .await;
    assert_eq!(
        outcome(late),
        failed("ExpiredImportTokenException", EXPIRED_IMPORT_TOKEN)
    );
    assert_eq!(client.describe(&key).await.key_state, Some(KeyState::Enabled));
    server.advance_days(2).await;
    let m = client.describe(&key).await;
    assert_eq!(m.key_state, Some(KeyState::PendingImport));
    assert!(m.valid_to.is_none() && m.expiration_model.is_none(), "{m:?}");
    assert_eq!(client.try_decrypt(&blob, None, &[]).await, pending_import(&arn));
    ok(import(&client, &key, &bytes).await);
    let plain = client.decrypt_with(&blob, &[]).await;
    assert_eq!(plain.plaintext.expect("Plaintext").as_ref(), b"until then");
    assert_eq!(
        client.describe(&key).await.expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
}

/// A key pending deletion takes no material; cancelling the deletion of a key without
/// material leaves it PendingImport.
#[tokio::test]
async fn pending_deletion_and_imported_material() {
    let client = kms();
    let (key, arn) = external_key(&client).await;
    let req = client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7);
    ok(req.send().await);
    let pending = failed("KMSInvalidStateException", &format!("{arn} is pending deletion."));
    let req = client
        .get_parameters_for_import()
        .key_id(&key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048);
    assert_eq!(outcome(req.send().await), pending);
    ok(client.cancel_key_deletion().key_id(&key).send().await);
    assert_eq!(
        client.describe(&key).await.key_state,
        Some(KeyState::PendingImport)
    );
    ok(import(&client, &key, &material()).await);
    assert_eq!(client.describe(&key).await.key_state, Some(KeyState::Enabled));
}

/// Wraps `material` with RSA_AES_KEY_WRAP_SHA_256 for `key` and imports it.
async fn import_large(client: &Client, key: &str, material: &[u8]) -> Outcome {
    let alg = AlgorithmSpec::RsaAesKeyWrapSha256;
    let (token, public) = parameters(client, key, alg.clone(), WrappingKeySpec::Rsa2048).await;
    let req = client
        .import_key_material()
        .key_id(key)
        .import_token(token)
        .encrypted_key_material(Blob::new(wrap(&public, &alg, material)));
    outcome(req.send().await)
}

async fn external_key_of(client: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    let out = client
        .create_key()
        .origin(OriginType::External)
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await;
    ok(out).key_metadata.expect("KeyMetadata").key_id
}

/// HMAC keys take an HMAC key of a length their algorithm allows, and MAC with it as any HMAC
/// implementation does.
#[tokio::test]
async fn hmac_material_imports() {
    let client = kms();
    let key = external_key_of(&client, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let incorrect = failed("IncorrectKeyMaterialException", INCORRECT_KEY_MATERIAL);
    assert_eq!(import(&client, &key, &material_of_len(16)).await, incorrect);
    let bytes = material_of_len(40);
    ok(import(&client, &key, &bytes).await);
    let out = client
        .generate_mac()
        .key_id(&key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"message".to_vec()))
        .send()
        .await;
    let mac = ok(out).mac.expect("Mac").into_inner();
    let expected = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes), b"message");
    assert_eq!(mac, expected.as_ref());
}

/// Asymmetric keys take a PKCS #8 private key of their spec (wrapped with RSA_AES_KEY_WRAP, as it
/// is too long for RSAES-OAEP alone); GetPublicKey then gives its public key.
#[tokio::test]
async fn asymmetric_material_imports() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};

    let client = kms();
    let incorrect = failed("IncorrectKeyMaterialException", INCORRECT_KEY_MATERIAL);

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
    let rsa_der = rsa.as_der().expect("PKCS #8").as_ref().to_vec();
    let key = external_key_of(&client, KeySpec::Rsa3072, KeyUsageType::SignVerify).await;
    assert_eq!(
        import_large(&client, &key, &rsa_der).await,
        incorrect,
        "another size"
    );
    let key = external_key_of(&client, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    ok(import_large(&client, &key, &rsa_der).await);
    let public = ok(client.get_public_key().key_id(&key).send().await);
    let expected = rsa.public_key().as_der().expect("SPKI");
    assert_eq!(public.public_key.expect("PublicKey").as_ref(), expected.as_ref());

    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("EC key");
    let ec_der = ec.to_pkcs8v1().expect("PKCS #8").as_ref().to_vec();
    let key = external_key_of(&client, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    ok(import_large(&client, &key, &ec_der).await);
    let public = ok(client.get_public_key().key_id(&key).send().await);
    let spki = public.public_key.expect("PublicKey").into_inner();
    assert!(
        spki.ends_with(ec.public_key().as_ref()),
        "the imported key's public key"
    );
    let signed = client
        .sign()
        .key_id(&key)
        .message(Blob::new(b"signed".to_vec()))
        .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await;
    let signature = ok(signed).signature.expect("Signature").into_inner();
    let verifier = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        ec.public_key().as_ref(),
    );
    assert!(verifier.verify(b"signed", &signature).is_ok());
    // Not a private key of the curve at all.
    let key = external_key_of(&client, KeySpec::EccNistP384, KeyUsageType::SignVerify).await;
    assert_eq!(
        import_large(&client, &key, &ec_der).await,
        incorrect,
        "another curve"
    );
}
