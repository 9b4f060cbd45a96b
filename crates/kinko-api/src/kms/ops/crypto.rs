//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom.
//!
//! Ciphertext blobs name the key id and the material version that made them, so Decrypt needs no
//! `KeyId` and ciphertexts from before a rotation keep decrypting. The encryption context is bound
//! into the blob: decrypting needs exactly the same map, else `InvalidCiphertextException`.

use kinko_core::kms::{self, KmsKey};
use kinko_crypto::blob::{self, EncryptionContext};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authz::Resource;
use crate::keyring::Keyring;
use crate::kms::model::{self, SYMMETRIC_DEFAULT};
use crate::kms::{Accepts, Cx, KmsError, context_conditions, decode, encode, error, usable};

fn algorithm_condition(alg: Option<&str>) -> (String, String) {
    (
        "kms:EncryptionAlgorithm".into(),
        alg.unwrap_or(SYMMETRIC_DEFAULT).to_owned(),
    )
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EncryptInput {
    key_id: Option<String>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    plaintext: Option<Vec<u8>>,
    encryption_context: Option<EncryptionContext>,
    grant_tokens: Option<Vec<String>>,
    encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

impl Drop for EncryptInput {
    fn drop(&mut self) {
        if let Some(p) = &mut self.plaintext {
            zeroize::Zeroize::zeroize(p);
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptOutput {
    ciphertext_blob: String,
    key_id: String,
    encryption_algorithm: &'static str,
}

fn check_grant_tokens(v: &mut Violations, t: Option<&[String]>) {
    v.list_length("grantTokens", t, 0, 10);
}

pub(crate) async fn encrypt(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: EncryptInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.required("plaintext", &i.plaintext);
    v.byte_length("plaintext", i.plaintext.as_deref(), 1, 4096);
    check_grant_tokens(&mut v, i.grant_tokens.as_deref());
    v.one_of(
        "encryptionAlgorithm",
        i.encryption_algorithm.as_deref(),
        model::ENCRYPTION_ALGORITHMS,
    );
    model::violations(v)?;
    let context = i.encryption_context.clone().unwrap_or_default();
    let mut conditions = context_conditions(&context);
    conditions.push(algorithm_condition(i.encryption_algorithm.as_deref()));
    conditions.extend(model::request_alias(i.key_id.as_deref()));
    let key = cx
        .key(
            i.key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOrAlias,
            "kms:Encrypt",
            &conditions,
        )
        .await?;
    usable(&key)?;
    model::symmetric_algorithm(i.encryption_algorithm.as_deref())?;
    if i.dry_run {
        return Err(KmsError::DryRun);
    }
    let blob = cx
        .services
        .keyring
        .encrypt_with(&key, i.plaintext.as_deref().unwrap_or_default(), &context)
        .await?;
    encode(&EncryptOutput {
        ciphertext_blob: b64(&blob),
        key_id: key.arn,
        encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

/// The key a ciphertext blob was made under, authorized for `action` with `conditions`. When the
/// request names a key (`KeyId`/`SourceKeyId`) it must be that key: else `IncorrectKeyException`.
async fn blob_key(
    cx: &Cx<'_>,
    blob_bytes: &[u8],
    requested: Option<&str>,
    action: &str,
    conditions: &[(String, String)],
) -> Result<KmsKey, KmsError> {
    let header = blob::header(blob_bytes).map_err(|_| KmsError::InvalidCiphertext)?;
    let named = match requested {
        Some(r) => Some(cx.key(r, Accepts::KeyOrAlias, action, conditions).await?),
        None => None,
    };
    if let Some(k) = named {
        if k.key_id != header.key_id {
            return Err(KmsError::IncorrectKey);
        }
        return Ok(k);
    }
    let Some(key) = key_of_blob(cx, &header.key_id).await? else {
        return Err(KmsError::AccessDenied(error::UNKNOWN_CIPHERTEXT_KEY.into()));
    };
    cx.authorize_key(action, &key, conditions, &[]).await?;
    Ok(key)
}

/// The key a blob names by its id, in this region: the caller's own, or another account's of this
/// server (AWS decrypts another account's ciphertext without a `KeyId` too; the key policy and
/// the caller's identity policies then decide, as for any cross-account request). Key ids are
/// UUIDs, so at most one account has the key.
async fn key_of_blob(cx: &Cx<'_>, key_id: &str) -> Result<Option<KmsKey>, KmsError> {
    let store = &cx.services.store;
    if let Some(key) = store
        .kms_key(&kms::key_arn(cx.region(), cx.account(), key_id))
        .await?
    {
        return Ok(Some(key));
    }
    let Some(org) = store.organization().await? else {
        return Ok(None);
    };
    for account in org.accounts.iter().filter(|a| a.id != cx.account()) {
        if let Some(key) = store
            .kms_key(&kms::key_arn(cx.region(), &account.id, key_id))
            .await?
        {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// The material version a (decrypted, so well-formed) blob was made with.
fn material_version(blob_bytes: &[u8]) -> Result<u32, KmsError> {
    blob::header(blob_bytes)
        .map(|h| h.material_version)
        .map_err(|_| KmsError::InvalidCiphertext)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DecryptInput {
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    ciphertext_blob: Option<Vec<u8>>,
    encryption_context: Option<EncryptionContext>,
    grant_tokens: Option<Vec<String>>,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptOutput {
    key_id: String,
    plaintext: Zeroizing<String>,
    encryption_algorithm: &'static str,
    key_material_id: String,
}

pub(crate) async fn decrypt(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: DecryptInput = decode(body)?;
    let mut v = Violations::new();
    v.required("ciphertextBlob", &i.ciphertext_blob);
    v.byte_length("ciphertextBlob", i.ciphertext_blob.as_deref(), 1, 6144);
    v.length("keyId", i.key_id.as_deref(), 1, 2048, false);
    check_grant_tokens(&mut v, i.grant_tokens.as_deref());
    v.one_of(
        "encryptionAlgorithm",
        i.encryption_algorithm.as_deref(),
        model::ENCRYPTION_ALGORITHMS,
    );
    model::violations(v)?;
    let context = i.encryption_context.clone().unwrap_or_default();
    let mut conditions = context_conditions(&context);
    conditions.push(algorithm_condition(i.encryption_algorithm.as_deref()));
    conditions.extend(model::request_alias(i.key_id.as_deref()));
    let blob_bytes = i.ciphertext_blob.as_deref().unwrap_or_default();
    let key = blob_key(cx, blob_bytes, i.key_id.as_deref(), "kms:Decrypt", &conditions).await?;
    usable(&key)?;
    model::symmetric_algorithm(i.encryption_algorithm.as_deref())?;
    if i.dry_run {
        return Err(KmsError::DryRun);
    }
    let plaintext = cx
        .services
        .keyring
        .decrypt_with(&key, blob_bytes, &context)
        .await?;
    encode(&DecryptOutput {
        key_material_id: model::key_material_id(&key.key_id, material_version(blob_bytes)?),
        key_id: key.arn,
        plaintext: Zeroizing::new(b64(&plaintext)),
        encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReEncryptInput {
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    ciphertext_blob: Option<Vec<u8>>,
    source_encryption_context: Option<EncryptionContext>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptOutput {
    ciphertext_blob: String,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: &'static str,
    destination_encryption_algorithm: &'static str,
    source_key_material_id: String,
    destination_key_material_id: String,
}

pub(crate) async fn re_encrypt(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: ReEncryptInput = decode(body)?;
    let mut v = Violations::new();
    v.required("ciphertextBlob", &i.ciphertext_blob);
    v.byte_length("ciphertextBlob", i.ciphertext_blob.as_deref(), 1, 6144);
    v.length("sourceKeyId", i.source_key_id.as_deref(), 1, 2048, false);
    model::check_key_id(&mut v, "destinationKeyId", &i.destination_key_id);
    v.one_of(
        "sourceEncryptionAlgorithm",
        i.source_encryption_algorithm.as_deref(),
        model::ENCRYPTION_ALGORITHMS,
    );
    v.one_of(
        "destinationEncryptionAlgorithm",
        i.destination_encryption_algorithm.as_deref(),
        model::ENCRYPTION_ALGORITHMS,
    );
    check_grant_tokens(&mut v, i.grant_tokens.as_deref());
    model::violations(v)?;
    let source_context = i.source_encryption_context.clone().unwrap_or_default();
    let dest_context = i.destination_encryption_context.clone().unwrap_or_default();
    let mut source_conditions = context_conditions(&source_context);
    source_conditions.push(algorithm_condition(i.source_encryption_algorithm.as_deref()));
    source_conditions.extend(model::request_alias(i.source_key_id.as_deref()));
    let mut dest_conditions = context_conditions(&dest_context);
    dest_conditions.push(algorithm_condition(i.destination_encryption_algorithm.as_deref()));
    dest_conditions.extend(model::request_alias(i.destination_key_id.as_deref()));
    let blob_bytes = i.ciphertext_blob.as_deref().unwrap_or_default();
    let source = blob_key(
        cx,
        blob_bytes,
        i.source_key_id.as_deref(),
        "kms:ReEncryptFrom",
        &source_conditions,
    )
    .await?;
    let dest = cx
        .key(
            i.destination_key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOrAlias,
            "kms:ReEncryptTo",
            &dest_conditions,
        )
        .await?;
    usable(&source)?;
    usable(&dest)?;
    model::symmetric_algorithm(i.source_encryption_algorithm.as_deref())?;
    model::symmetric_algorithm(i.destination_encryption_algorithm.as_deref())?;
    if i.dry_run {
        return Err(KmsError::DryRun);
    }
    let keyring = &cx.services.keyring;
    let plaintext = keyring.decrypt_with(&source, blob_bytes, &source_context).await?;
    let blob = keyring.encrypt_with(&dest, &plaintext, &dest_context).await?;
    encode(&ReEncryptOutput {
        source_key_material_id: model::key_material_id(&source.key_id, material_version(blob_bytes)?),
        destination_key_material_id: model::key_material_id(&dest.key_id, dest.current_material),
        ciphertext_blob: b64(&blob),
        source_key_id: source.arn,
        key_id: dest.arn,
        source_encryption_algorithm: SYMMETRIC_DEFAULT,
        destination_encryption_algorithm: SYMMETRIC_DEFAULT,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataKeyInput {
    key_id: Option<String>,
    encryption_context: Option<EncryptionContext>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    grant_tokens: Option<Vec<String>>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyOutput {
    ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Zeroizing<String>>,
    key_id: String,
    key_material_id: String,
}

/// GenerateDataKey (`with_plaintext`) and GenerateDataKeyWithoutPlaintext.
pub(crate) async fn generate_data_key(
    cx: &Cx<'_>,
    body: &[u8],
    with_plaintext: bool,
) -> Result<Vec<u8>, KmsError> {
    let i: DataKeyInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.range("numberOfBytes", i.number_of_bytes, 1, 1024);
    v.one_of("keySpec", i.key_spec.as_deref(), &["AES_256", "AES_128"]);
    check_grant_tokens(&mut v, i.grant_tokens.as_deref());
    model::violations(v)?;
    let len = match (i.number_of_bytes, i.key_spec.as_deref()) {
        (Some(n), None) => usize::try_from(n).unwrap_or(0),
        (None, Some("AES_128")) => 16,
        (None, Some(_)) => 32,
        _ => {
            return Err(KmsError::Validation(
                "Please specify either number of bytes or key spec.".into(),
            ));
        }
    };
    let action = if with_plaintext {
        "kms:GenerateDataKey"
    } else {
        "kms:GenerateDataKeyWithoutPlaintext"
    };
    let context = i.encryption_context.clone().unwrap_or_default();
    let mut conditions = context_conditions(&context);
    conditions.push(algorithm_condition(None));
    conditions.extend(model::request_alias(i.key_id.as_deref()));
    let key = cx
        .key(
            i.key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOrAlias,
            action,
            &conditions,
        )
        .await?;
    usable(&key)?;
    if i.dry_run {
        return Err(KmsError::DryRun);
    }
    let data_key = Keyring::random(len)?;
    let blob = cx
        .services
        .keyring
        .encrypt_with(&key, &data_key, &context)
        .await?;
    encode(&DataKeyOutput {
        ciphertext_blob: b64(&blob),
        plaintext: with_plaintext.then(|| Zeroizing::new(b64(&data_key))),
        key_material_id: model::key_material_id(&key.key_id, key.current_material),
        key_id: key.arn,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RandomInput {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RandomOutput {
    plaintext: Zeroizing<String>,
}

pub(crate) async fn generate_random(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: RandomInput = decode(body)?;
    let mut v = Violations::new();
    v.range("numberOfBytes", i.number_of_bytes, 1, 1024);
    v.length("customKeyStoreId", i.custom_key_store_id.as_deref(), 1, 64, false);
    model::violations(v)?;
    let Some(n) = i.number_of_bytes else {
        return Err(KmsError::Validation("NumberOfBytes is required.".into()));
    };
    cx.authorize_identity("kms:GenerateRandom", Resource::Any, &[], &[])
        .await?;
    if i.custom_key_store_id.is_some() {
        return Err(KmsError::Unsupported(
            "Custom key stores are not supported by this server.".into(),
        ));
    }
    let bytes = Keyring::random(usize::try_from(n).unwrap_or(0))?;
    encode(&RandomOutput {
        plaintext: Zeroizing::new(b64(&bytes)),
    })
}
