//! Asymmetric and HMAC keys: CreateKey's key specs and usages, their metadata, GetPublicKey,
//! Sign and Verify (RAW and DIGEST, every signing algorithm), RSAES-OAEP Encrypt and Decrypt,
//! GenerateMac and VerifyMac, the wrong-usage errors, and authorization of the new actions.
//! (`tests/compat/test_kms_asymmetric.py` verifies the signatures, public keys and ciphertexts
//! with an independent library and `openssl`.)

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec as Enc, KeySpec, KeyUsageType, MacAlgorithmSpec as MacAlg,
    MessageType, SigningAlgorithmSpec as Sig,
};
use kinko_tests::*;
use serde_json::json;

use crate::kms;

/// CreateKey with `spec` and `usage`; returns `(KeyId, Arn)`.
async fn key_of(client: &Client, spec: KeySpec, usage: KeyUsageType) -> (String, String) {
    let out = client
        .create_key()
        .key_spec(spec.clone())
        .key_usage(usage.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateKey {spec:?} {usage:?}: {e:?}"));
    let m = out.key_metadata.expect("metadata");
    (m.key_id, m.arn.expect("arn"))
}

fn sha(alg: &Sig, message: &[u8]) -> Vec<u8> {
    use ring::digest::{SHA256, SHA384, SHA512, digest};
    let d = match alg.as_str() {
        s if s.ends_with("384") => &SHA384,
        s if s.ends_with("512") => &SHA512,
        _ => &SHA256,
    };
    digest(d, message).as_ref().to_vec()
}

#[expect(
    deprecated,
    reason = "CustomerMasterKeySpec is deprecated, yet AWS still sends it, equal to KeySpec"
)]
fn customer_master_key_spec(m: &aws_sdk_kms::types::KeyMetadata) -> Option<String> {
    m.customer_master_key_spec.as_ref().map(|s| s.as_str().to_owned())
}

const RSA_SIGNING: [Sig; 6] = [
    Sig::RsassaPkcs1V15Sha256,
    Sig::RsassaPkcs1V15Sha384,
    Sig::RsassaPkcs1V15Sha512,
    Sig::RsassaPssSha256,
    Sig::RsassaPssSha384,
    Sig::RsassaPssSha512,
];

/// A key spec, a usage, and the signing, encryption and MAC algorithms DescribeKey lists for them.
type SpecRow = (KeySpec, KeyUsageType, Vec<Sig>, Vec<Enc>, Vec<MacAlg>);

/// Each key spec with its usages: the metadata names the spec (also as the deprecated
/// CustomerMasterKeySpec), the usage and that usage's algorithms only.
#[tokio::test]
async fn create_key_describes_each_spec_and_usage_with_its_algorithms() {
    let client = kms();
    let table: Vec<SpecRow> = vec![
        (
            KeySpec::Rsa2048,
            KeyUsageType::SignVerify,
            RSA_SIGNING.to_vec(),
            vec![],
            vec![],
        ),
        (
            KeySpec::Rsa3072,
            KeyUsageType::EncryptDecrypt,
            vec![],
            vec![Enc::RsaesOaepSha1, Enc::RsaesOaepSha256],
            vec![],
        ),
        (
            KeySpec::Rsa4096,
            KeyUsageType::SignVerify,
            RSA_SIGNING.to_vec(),
            vec![],
            vec![],
        ),
        (
            KeySpec::EccNistP256,
            KeyUsageType::SignVerify,
            vec![Sig::EcdsaSha256],
            vec![],
            vec![],
        ),
        (
            KeySpec::EccNistP384,
            KeyUsageType::SignVerify,
            vec![Sig::EcdsaSha384],
            vec![],
            vec![],
        ),
        (
            KeySpec::EccNistP521,
            KeyUsageType::SignVerify,
            vec![Sig::EcdsaSha512],
            vec![],
            vec![],
        ),
        (
            KeySpec::EccSecgP256K1,
            KeyUsageType::SignVerify,
            vec![Sig::EcdsaSha256],
            vec![],
            vec![],
        ),
        (
            KeySpec::Hmac224,
            KeyUsageType::GenerateVerifyMac,
            vec![],
            vec![],
            vec![MacAlg::HmacSha224],
        ),
        (
            KeySpec::Hmac256,
            KeyUsageType::GenerateVerifyMac,
            vec![],
            vec![],
            vec![MacAlg::HmacSha256],
        ),
        (
            KeySpec::Hmac384,
            KeyUsageType::GenerateVerifyMac,
            vec![],
            vec![],
            vec![MacAlg::HmacSha384],
        ),
        (
            KeySpec::Hmac512,
            KeyUsageType::GenerateVerifyMac,
            vec![],
            vec![],
            vec![MacAlg::HmacSha512],
        ),
    ];
    for (spec, usage, signing, encryption, mac) in table {
        let (key, _) = key_of(&client, spec.clone(), usage.clone()).await;
        let m = client.describe(&key).await;
        assert_eq!(m.key_spec, Some(spec.clone()));
        assert_eq!(customer_master_key_spec(&m), Some(spec.as_str().to_owned()));
        assert_eq!(m.key_usage, Some(usage));
        assert_eq!(m.signing_algorithms.unwrap_or_default(), signing, "{spec:?}");
        assert_eq!(
            m.encryption_algorithms.unwrap_or_default(),
            encryption,
            "{spec:?}"
        );
        assert_eq!(m.mac_algorithms.unwrap_or_default(), mac, "{spec:?}");
        assert_eq!(m.current_key_material_id, None, "{spec:?}");
    }
}

#[tokio::test]
async fn create_key_refuses_a_usage_the_spec_cannot_have() {
    let client = kms();
    for (spec, usage) in [
        (KeySpec::EccNistP256, KeyUsageType::EncryptDecrypt),
        (KeySpec::EccSecgP256K1, KeyUsageType::GenerateVerifyMac),
        (KeySpec::Hmac256, KeyUsageType::SignVerify),
        (KeySpec::Rsa2048, KeyUsageType::GenerateVerifyMac),
        (KeySpec::SymmetricDefault, KeyUsageType::SignVerify),
    ] {
        let out = client
            .create_key()
            .key_spec(spec.clone())
            .key_usage(usage.clone())
            .send()
            .await;
        let message = format!(
            "KeyUsage {} is not compatible with KeySpec {}",
            usage.as_str(),
            spec.as_str()
        );
        assert_eq!(outcome(out), failed("ValidationException", &message));
    }
    let hmac = client.create_key().key_spec(KeySpec::Hmac256).send().await;
    let usage = "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.";
    assert_eq!(outcome(hmac), failed("ValidationException", usage));
}

/// Every signing algorithm of each spec: a RAW signature verifies as RAW and as the DIGEST of
/// the message, a DIGEST signature as RAW; a changed message or signature doesn't verify.
#[tokio::test]
async fn sign_and_verify_every_algorithm_raw_and_digest() {
    let client = kms();
    let message = b"the message".to_vec();
    for (spec, algs) in [
        (KeySpec::Rsa2048, RSA_SIGNING.to_vec()),
        (KeySpec::EccNistP256, vec![Sig::EcdsaSha256]),
        (KeySpec::EccNistP384, vec![Sig::EcdsaSha384]),
        (KeySpec::EccNistP521, vec![Sig::EcdsaSha512]),
        (KeySpec::EccSecgP256K1, vec![Sig::EcdsaSha256]),
    ] {
        let (key, arn) = key_of(&client, spec.clone(), KeyUsageType::SignVerify).await;
        for alg in algs {
            let sign = |m: Vec<u8>, t: MessageType| {
                let req = client.sign().key_id(&key).message(Blob::new(m));
                req.message_type(t).signing_algorithm(alg.clone()).send()
            };
            let verify = |m: Vec<u8>, t: MessageType, s: Vec<u8>| {
                let req = client.verify().key_id(&key).message(Blob::new(m));
                let req = req.message_type(t).signature(Blob::new(s));
                req.signing_algorithm(alg.clone()).send()
            };
            let out = sign(message.clone(), MessageType::Raw).await.expect("Sign RAW");
            assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
            assert_eq!(out.signing_algorithm, Some(alg.clone()));
            let signature = out.signature.expect("signature").into_inner();
            let ok = verify(message.clone(), MessageType::Raw, signature.clone())
                .await
                .expect("Verify RAW");
            assert!(ok.signature_valid);
            assert_eq!(ok.key_id.as_deref(), Some(arn.as_str()));
            let digest = sha(&alg, &message);
            let as_digest = verify(digest.clone(), MessageType::Digest, signature.clone()).await;
            assert!(as_digest.expect("Verify DIGEST").signature_valid, "{alg:?}");
            let of_digest = sign(digest, MessageType::Digest).await.expect("Sign DIGEST");
            let of_digest = of_digest.signature.expect("signature").into_inner();
            let raw = verify(message.clone(), MessageType::Raw, of_digest).await;
            assert!(raw.expect("Verify of a DIGEST signature").signature_valid);
            let other = verify(b"another".to_vec(), MessageType::Raw, signature.clone()).await;
            let invalid = failed_without_message("KMSInvalidSignatureException");
            assert_eq!(outcome(other), invalid, "{alg:?}");
            let mut tampered = signature;
            tampered[10] ^= 1;
            let bad = verify(message.clone(), MessageType::Raw, tampered).await;
            assert_eq!(outcome(bad), invalid, "{alg:?}");
        }
    }
}

#[tokio::test]
async fn sign_checks_algorithm_digest_length_message_size_and_usage() {
    let client = kms();
    let (key, _) = key_of(&client, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let sign = |m: Vec<u8>, t: MessageType, alg: Sig| {
        let req = client.sign().key_id(&key).message(Blob::new(m));
        req.message_type(t).signing_algorithm(alg).send()
    };
    let other_curve = sign(b"m".to_vec(), MessageType::Raw, Sig::EcdsaSha384).await;
    let message = "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.";
    assert_eq!(outcome(other_curve), failed("InvalidKeyUsageException", message));
    let rsa_alg = sign(b"m".to_vec(), MessageType::Raw, Sig::RsassaPssSha256).await;
    let message = "Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256.";
    assert_eq!(outcome(rsa_alg), failed("InvalidKeyUsageException", message));
    for len in [20, 31, 33, 64] {
        let short = sign(vec![1; len], MessageType::Digest, Sig::EcdsaSha256).await;
        let message = "Digest is invalid length for algorithm ECDSA_SHA_256.";
        assert_eq!(outcome(short), failed("ValidationException", message), "{len}");
    }
    let fits = sign(vec![1; 4096], MessageType::Raw, Sig::EcdsaSha256).await;
    assert_eq!(outcome(fits), Ok(()));
    let large = sign(vec![1; 4097], MessageType::Raw, Sig::EcdsaSha256).await;
    let message = model_max_length_unquoted("message", 4096);
    assert_eq!(outcome(large), failed("ValidationException", &message));
    let no_alg = client
        .sign()
        .key_id(&key)
        .message(Blob::new(b"m".to_vec()))
        .send()
        .await;
    let message = model_not_null("signingAlgorithm");
    assert_eq!(outcome(no_alg), failed("ValidationException", &message));
    let encrypt = client.try_encrypt(&key, &[]).await;
    let arn = client.describe(&key).await.arn.expect("arn");
    let message = format!("{arn} key usage is SIGN_VERIFY which is not valid for Encrypt.");
    assert_eq!(encrypt, failed("InvalidKeyUsageException", &message));
    let data_key = client.try_data_key(&key, &[]).await;
    let message = format!("{arn} key usage is SIGN_VERIFY which is not valid for GenerateDataKey.");
    assert_eq!(data_key, failed("InvalidKeyUsageException", &message));
    client
        .disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKey");
    let disabled = sign(b"m".to_vec(), MessageType::Raw, Sig::EcdsaSha256).await;
    assert_eq!(
        outcome(disabled),
        failed("DisabledException", &format!("{arn} is disabled."))
    );
}

/// Sign, Verify, GetPublicKey on a symmetric key, GenerateMac on a signing key: AWS's
/// InvalidKeyUsageException (GetPublicKey: no public key).
#[tokio::test]
async fn operations_of_another_usage_are_refused() {
    let client = kms();
    let (symmetric, arn) = client.new_key().await;
    let sign = client.sign().key_id(&symmetric).message(Blob::new(b"m".to_vec()));
    let sign = sign.signing_algorithm(Sig::EcdsaSha256).send().await;
    let message = format!("{arn} key usage is ENCRYPT_DECRYPT which is not valid for Sign.");
    assert_eq!(outcome(sign), failed("InvalidKeyUsageException", &message));
    let verify = client
        .verify()
        .key_id(&symmetric)
        .message(Blob::new(b"m".to_vec()));
    let verify = verify.signature(Blob::new(vec![1; 64]));
    let verify = verify.signing_algorithm(Sig::EcdsaSha256).send().await;
    let message = format!("{arn} key usage is ENCRYPT_DECRYPT which is not valid for Verify.");
    assert_eq!(outcome(verify), failed("InvalidKeyUsageException", &message));
    let public = client.get_public_key().key_id(&symmetric).send().await;
    assert_eq!(error_code(public), "UnsupportedOperationException");
    let (signing, signing_arn) = key_of(&client, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let mac = client
        .generate_mac()
        .key_id(&signing)
        .message(Blob::new(b"m".to_vec()));
    let mac = mac.mac_algorithm(MacAlg::HmacSha256).send().await;
    let message = format!("{signing_arn} key usage is SIGN_VERIFY which is not valid for GenerateMac.");
    assert_eq!(outcome(mac), failed("InvalidKeyUsageException", &message));
    let rotation = client.enable_key_rotation().key_id(&signing).send().await;
    assert_eq!(error_code(rotation), "UnsupportedOperationException");
    let status = client.get_key_rotation_status().key_id(&signing).send().await;
    assert_eq!(error_code(status), "UnsupportedOperationException");
}

/// GetPublicKey: DER SubjectPublicKeyInfo, with the key's spec, usage and algorithms; the same
/// for an alias of the key.
#[tokio::test]
async fn get_public_key_gives_der_with_the_keys_algorithms() {
    let client = kms();
    let (key, arn) = key_of(&client, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let alias = new_alias();
    client.alias_key(&alias, &key).await;
    for form in [key.as_str(), alias.as_str()] {
        let out = client
            .get_public_key()
            .key_id(form)
            .send()
            .await
            .expect("GetPublicKey");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
        let der = out.public_key.expect("public key").into_inner();
        // SEQUENCE { SEQUENCE { rsaEncryption ... } BIT STRING }: 294 bytes for RSA 2048.
        assert_eq!((der[0], der.len()), (0x30, 294));
        assert_eq!(out.key_spec, Some(KeySpec::Rsa2048));
        assert_eq!(out.key_usage, Some(KeyUsageType::EncryptDecrypt));
        assert_eq!(
            out.encryption_algorithms.unwrap_or_default(),
            vec![Enc::RsaesOaepSha1, Enc::RsaesOaepSha256]
        );
        assert_eq!(out.signing_algorithms, None);
    }
    let (p256, _) = key_of(&client, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let out = client
        .get_public_key()
        .key_id(&p256)
        .send()
        .await
        .expect("GetPublicKey");
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 } BIT STRING (uncompressed point) }.
    assert_eq!(out.public_key.expect("public key").into_inner().len(), 91);
    assert_eq!(out.signing_algorithms.unwrap_or_default(), vec![Sig::EcdsaSha256]);
}

/// RSAES-OAEP: each algorithm round-trips up to its plaintext limit (RSA_2048: 214 bytes with
/// SHA-1, 190 with SHA-256); the algorithm must be named, match at Decrypt, and come without an
/// encryption context; Decrypt needs the KeyId.
#[tokio::test]
async fn rsa_encrypt_and_decrypt_with_oaep() {
    let client = kms();
    let (key, arn) = key_of(&client, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let encrypt = |p: Vec<u8>, alg: Option<Enc>| {
        let req = client.encrypt().key_id(&key).plaintext(Blob::new(p));
        req.set_encryption_algorithm(alg).send()
    };
    let decrypt = |c: Blob, key: Option<&str>, alg: Enc| {
        let req = client
            .decrypt()
            .ciphertext_blob(c)
            .set_key_id(key.map(str::to_owned));
        req.encryption_algorithm(alg).send()
    };
    for (alg, max) in [(Enc::RsaesOaepSha1, 214), (Enc::RsaesOaepSha256, 190)] {
        let plaintext = vec![7; max];
        let out = encrypt(plaintext.clone(), Some(alg.clone()))
            .await
            .expect("Encrypt");
        assert_eq!(out.encryption_algorithm, Some(alg.clone()));
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
        let blob = out.ciphertext_blob.expect("ciphertext");
        assert_eq!(blob.as_ref().len(), 256);
        let back = decrypt(blob.clone(), Some(&key), alg.clone())
            .await
            .expect("Decrypt");
        assert_eq!(back.plaintext.expect("plaintext").as_ref(), &plaintext[..]);
        assert_eq!(back.encryption_algorithm, Some(alg.clone()));
        assert_eq!(back.key_material_id, None);
        let other = if alg == Enc::RsaesOaepSha1 {
            Enc::RsaesOaepSha256
        } else {
            Enc::RsaesOaepSha1
        };
        let invalid = failed_without_message("InvalidCiphertextException");
        assert_eq!(outcome(decrypt(blob.clone(), Some(&key), other).await), invalid);
        assert_eq!(outcome(decrypt(blob, None, alg.clone()).await), invalid);
        let too_long = encrypt(vec![7; max + 1], Some(alg.clone())).await;
        assert_eq!(error_code(too_long), "ValidationException");
    }
    let default = encrypt(b"x".to_vec(), None).await;
    let message = "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.";
    assert_eq!(outcome(default), failed("InvalidKeyUsageException", message));
    let with_context = client.encrypt().key_id(&key).plaintext(Blob::new(b"x".to_vec()));
    let with_context = with_context.encryption_algorithm(Enc::RsaesOaepSha256);
    let with_context = with_context.encryption_context("a", "b").send().await;
    assert_eq!(error_code(with_context), "ValidationException");
    let data_key = client
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256);
    let message = format!("{arn} key spec RSA_2048 is not valid for GenerateDataKey.");
    assert_eq!(
        outcome(data_key.send().await),
        failed("InvalidKeyUsageException", &message)
    );
    let (symmetric, _) = client.new_key().await;
    let oaep = client
        .encrypt()
        .key_id(&symmetric)
        .plaintext(Blob::new(b"x".to_vec()));
    let oaep = oaep.encryption_algorithm(Enc::RsaesOaepSha256).send().await;
    let message = "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT.";
    assert_eq!(outcome(oaep), failed("InvalidKeyUsageException", message));
}

/// GenerateMac and VerifyMac for each HMAC spec: the MAC is the key spec's digest length; a
/// changed message or MAC is KMSInvalidMacException; another spec's algorithm is refused.
#[tokio::test]
async fn generate_and_verify_mac() {
    let client = kms();
    for (spec, alg, len) in [
        (KeySpec::Hmac224, MacAlg::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlg::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlg::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlg::HmacSha512, 64),
    ] {
        let (key, arn) = key_of(&client, spec.clone(), KeyUsageType::GenerateVerifyMac).await;
        let generate = |m: &[u8], alg: MacAlg| {
            let req = client.generate_mac().key_id(&key).message(Blob::new(m.to_vec()));
            req.mac_algorithm(alg).send()
        };
        let verify = |m: &[u8], mac: Vec<u8>| {
            let req = client.verify_mac().key_id(&key).message(Blob::new(m.to_vec()));
            req.mac(Blob::new(mac)).mac_algorithm(alg.clone()).send()
        };
        let out = generate(b"data", alg.clone()).await.expect("GenerateMac");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
        assert_eq!(out.mac_algorithm, Some(alg.clone()));
        let mac = out.mac.expect("mac").into_inner();
        assert_eq!(mac.len(), len);
        let again = generate(b"data", alg.clone()).await.expect("GenerateMac");
        assert_eq!(again.mac.expect("mac").into_inner(), mac, "deterministic");
        let ok = verify(b"data", mac.clone()).await.expect("VerifyMac");
        assert!(ok.mac_valid);
        let invalid = failed_without_message("KMSInvalidMacException");
        assert_eq!(outcome(verify(b"datA", mac.clone()).await), invalid);
        let mut tampered = mac;
        tampered[0] ^= 1;
        assert_eq!(outcome(verify(b"data", tampered).await), invalid);
        let wrong = if alg == MacAlg::HmacSha256 {
            MacAlg::HmacSha512
        } else {
            MacAlg::HmacSha256
        };
        let message = format!(
            "Algorithm {} is incompatible with key spec {}.",
            wrong.as_str(),
            spec.as_str()
        );
        let refused = generate(b"data", wrong).await;
        assert_eq!(outcome(refused), failed("InvalidKeyUsageException", &message));
        let encrypt = client.try_encrypt(&key, &[]).await;
        let message = format!("{arn} key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt.");
        assert_eq!(encrypt, failed("InvalidKeyUsageException", &message));
    }
}

/// kms:Sign, kms:Verify, kms:GetPublicKey are each their own action on the key policy: a
/// principal the key policy allows only kms:Verify (under kms:SigningAlgorithm and kms:MessageType
/// conditions) can't sign or read the public key, and verifies only as the conditions say.
#[tokio::test]
async fn each_action_is_authorized_by_the_key_policy() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = server.user("kms-verifier", None).await;
    let root = root_arn(server.account_id());
    let mut grant = key_statement("Allow", &user.arn, json!("kms:Verify"));
    grant["Condition"] =
        json!({"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "RAW"}});
    let policy = policy_document(&[key_statement("Allow", &root, json!("kms:*")), grant]);
    let out = client
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .policy(&policy)
        .send()
        .await
        .expect("CreateKey");
    let arn = out.key_metadata.expect("metadata").arn.expect("arn");
    let signature = client
        .sign()
        .key_id(&arn)
        .message(Blob::new(b"m".to_vec()))
        .signing_algorithm(Sig::EcdsaSha256)
        .send()
        .await
        .expect("Sign")
        .signature
        .expect("signature");
    let denied = |o: Outcome, action: &str| {
        let e = o.expect_err("denied");
        assert_eq!(e.code, "AccessDeniedException");
        let m = e.message.unwrap_or_default();
        assert!(
            m.contains(&format!("to perform: {action} on resource: {arn}")),
            "{m}"
        );
    };
    let u = user.kms();
    let sign = u.sign().key_id(&arn).message(Blob::new(b"m".to_vec()));
    denied(
        outcome(sign.signing_algorithm(Sig::EcdsaSha256).send().await),
        "kms:Sign",
    );
    denied(
        outcome(u.get_public_key().key_id(&arn).send().await),
        "kms:GetPublicKey",
    );
    let verify = |t: MessageType, m: Vec<u8>| {
        let req = u.verify().key_id(&arn).message(Blob::new(m)).message_type(t);
        req.signature(signature.clone())
            .signing_algorithm(Sig::EcdsaSha256)
            .send()
    };
    assert_eq!(outcome(verify(MessageType::Raw, b"m".to_vec()).await), Ok(()));
    let digest = sha(&Sig::EcdsaSha256, b"m");
    denied(outcome(verify(MessageType::Digest, digest).await), "kms:Verify");
}

/// GenerateDataKeyPair: a key pair of each spec, its private key (PKCS #8 DER) in plaintext and
/// as a ciphertext under the symmetric key that Decrypt opens with the same encryption context;
/// WithoutPlaintext only the ciphertext. Only symmetric encryption keys make data key pairs.
#[tokio::test]
async fn generate_data_key_pair_wraps_the_private_key_under_a_symmetric_key() {
    use aws_sdk_kms::types::DataKeyPairSpec as Pair;
    let client = kms();
    let (key, arn) = client.new_key().await;
    for (spec, public_len) in [
        (Pair::Rsa2048, 294),
        (Pair::EccNistP256, 91),
        (Pair::EccNistP384, 120),
        (Pair::EccSecgP256K1, 88),
    ] {
        let out = client
            .generate_data_key_pair()
            .key_id(&key)
            .key_pair_spec(spec.clone())
            .encryption_context("purpose", "pair")
            .send()
            .await
            .expect("GenerateDataKeyPair");
        assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
        assert_eq!(out.key_pair_spec, Some(spec.clone()));
        assert_eq!(
            out.public_key.expect("public key").as_ref().len(),
            public_len,
            "{spec:?}"
        );
        let private = out.private_key_plaintext.expect("private key");
        assert_eq!(private.as_ref()[0], 0x30, "PKCS #8 is a DER SEQUENCE");
        let blob = out.private_key_ciphertext_blob.expect("ciphertext");
        let opened = client.decrypt_with(&blob, &[("purpose", "pair")]).await;
        assert_eq!(opened.plaintext.expect("plaintext").as_ref(), private.as_ref());
        assert_eq!(
            client.try_decrypt(&blob, None, &[]).await,
            failed_without_message("InvalidCiphertextException")
        );
    }
    let out = client
        .generate_data_key_pair_without_plaintext()
        .key_id(&key)
        .key_pair_spec(Pair::EccNistP521)
        .send()
        .await
        .expect("GenerateDataKeyPairWithoutPlaintext");
    assert_eq!(out.key_pair_spec, Some(Pair::EccNistP521));
    assert!(out.public_key.is_some() && out.private_key_ciphertext_blob.is_some());
    let (signing, signing_arn) = key_of(&client, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let pair = client
        .generate_data_key_pair()
        .key_id(&signing)
        .key_pair_spec(Pair::Rsa2048);
    let message =
        format!("{signing_arn} key usage is SIGN_VERIFY which is not valid for GenerateDataKeyPair.");
    assert_eq!(
        outcome(pair.send().await),
        failed("InvalidKeyUsageException", &message)
    );
    let missing = client.generate_data_key_pair().key_id(&key).send().await;
    let message = model_not_null("keyPairSpec");
    assert_eq!(outcome(missing), failed("ValidationException", &message));
}

/// KEY_AGREEMENT keys (the NIST curves): DescribeKey and GetPublicKey list ECDH; DeriveSharedSecret
/// gives the ECDH secret of the key's private key and the peer's public key, the same secret the
/// peer computes on its side (checked with `ring`'s ECDH for P-256, and between two KMS keys for
/// every curve). Errors: wrong usage, another curve's public key, a bare point, DryRun.
#[tokio::test]
async fn derive_shared_secret_agrees_with_the_peer() {
    use ring::agreement::{ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey, agree_ephemeral};
    let client = kms();
    let derive = |key: &str, public: Vec<u8>| {
        client
            .derive_shared_secret()
            .key_id(key)
            .key_agreement_algorithm(aws_sdk_kms::types::KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(public))
    };
    let public_of = |key: String| {
        let client = client.clone();
        async move {
            let out = ok(client.get_public_key().key_id(key).send().await);
            assert_eq!(out.key_usage, Some(KeyUsageType::KeyAgreement));
            let algs: Vec<&str> = out
                .key_agreement_algorithms()
                .iter()
                .map(|a| a.as_str())
                .collect();
            assert_eq!(algs, ["ECDH"]);
            out.public_key.expect("PublicKey").into_inner()
        }
    };
    for (spec, len) in [
        (KeySpec::EccNistP256, 32),
        (KeySpec::EccNistP384, 48),
        (KeySpec::EccNistP521, 66),
    ] {
        let (a, a_arn) = key_of(&client, spec.clone(), KeyUsageType::KeyAgreement).await;
        let (b, _) = key_of(&client, spec.clone(), KeyUsageType::KeyAgreement).await;
        let m = client.describe(&a).await;
        let algs: Vec<&str> = m.key_agreement_algorithms().iter().map(|x| x.as_str()).collect();
        assert_eq!(algs, ["ECDH"], "{spec:?}");
        assert!(m.signing_algorithms().is_empty() && m.encryption_algorithms().is_empty());
        let (pa, pb) = (public_of(a.clone()).await, public_of(b.clone()).await);
        let ab = derive(&a, pb).send().await.expect("DeriveSharedSecret");
        assert_eq!(ab.key_id.as_deref(), Some(a_arn.as_str()));
        assert_eq!(
            ab.key_agreement_algorithm.as_ref().map(|x| x.as_str()),
            Some("ECDH")
        );
        assert_eq!(ab.key_origin.as_ref().map(|x| x.as_str()), Some("AWS_KMS"));
        let ba = derive(&b, pa).send().await.expect("DeriveSharedSecret");
        let (ab, ba) = (
            ab.shared_secret.expect("secret"),
            ba.shared_secret.expect("secret"),
        );
        assert_eq!(ab.as_ref().len(), len, "{spec:?}");
        assert_eq!(ab.as_ref(), ba.as_ref(), "{spec:?}");
    }
    // P-256 against an independent ECDH: the peer's SubjectPublicKeyInfo is the fixed P-256
    // header and the uncompressed point.
    let (key, _) = key_of(&client, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let kms_public = public_of(key.clone()).await;
    let rng = ring::rand::SystemRandom::new();
    let peer = EphemeralPrivateKey::generate(&ECDH_P256, &rng).expect("peer key");
    let point = peer.compute_public_key().expect("peer public key");
    let mut spki = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    spki.extend_from_slice(point.as_ref());
    let kms_point = kms_public[kms_public.len() - 65..].to_vec();
    let ours = agree_ephemeral(peer, &UnparsedPublicKey::new(&ECDH_P256, kms_point), |s| {
        s.to_vec()
    })
    .expect("ECDH");
    let theirs = derive(&key, spki.clone())
        .send()
        .await
        .expect("DeriveSharedSecret");
    assert_eq!(theirs.shared_secret.expect("secret").as_ref(), ours.as_slice());
    // Refusals.
    let bare = derive(&key, point.as_ref().to_vec()).send().await;
    assert_eq!(error_code(bare), "ValidationException");
    let (p384, _) = key_of(&client, KeySpec::EccNistP384, KeyUsageType::KeyAgreement).await;
    let other_curve = derive(&key, public_of(p384).await).send().await;
    assert_eq!(error_code(other_curve), "ValidationException");
    let dry = derive(&key, spki.clone()).dry_run(true).send().await;
    assert_eq!(error_code(dry), "DryRunOperationException");
    let (signing, signing_arn) = key_of(&client, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let wrong = derive(&signing, spki).send().await;
    let message =
        format!("{signing_arn} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.");
    assert_eq!(outcome(wrong), failed("InvalidKeyUsageException", &message));
    let k1 = client.create_key().key_spec(KeySpec::EccSecgP256K1);
    let k1 = k1.key_usage(KeyUsageType::KeyAgreement).send().await;
    let incompatible = "KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1";
    assert_eq!(outcome(k1), failed("ValidationException", incompatible));
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}
