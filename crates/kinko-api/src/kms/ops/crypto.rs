//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//! GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateRandom.
//!
//! Ciphertext blobs name the key id and the material version that made them, so Decrypt needs no
//! `KeyId` and ciphertexts from before a rotation keep decrypting. The encryption context is bound
//! into the blob: decrypting needs exactly the same map, else `InvalidCiphertextException`.

use kinko_core::kms::{self, KeyUsage, KmsKey};
use kinko_crypto::asymmetric::Oaep;
use kinko_crypto::blob::{self, EncryptionContext};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authz::{Check, Refusal, Resource};
use crate::keyring::{self, Keyring};
use crate::kms::model::{self, SYMMETRIC_DEFAULT};
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, NO_CONTEXT, Operation, context_names, for_usage,
    found_check, identity_check, key_check, resolve_key, resolve_key_later, symmetric_only, usable,
    with_context,
};
use crate::operation::ServiceError;

pub(super) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn check_grant_tokens(v: &mut Violations, t: Option<&[String]>) {
    v.list_length("grantTokens", t, 0, 10);
}

/// Encryption contexts are for symmetric keys only (AWS documents the refusal, not its text).
fn no_context(context: &EncryptionContext) -> Result<(), KmsError> {
    if context.is_empty() {
        return Ok(());
    }
    Err(KmsError::Validation(
        "EncryptionContext is supported only with symmetric encryption KMS keys.".into(),
    ))
}

/// An RSA key encrypts at most the plaintext its size and algorithm allow (RSA_2048 with
/// RSAES_OAEP_SHA_256: 190 bytes; AWS documents the limits, not the error's text).
fn oaep_fits(key: &KmsKey, alg: Oaep, plaintext: &[u8]) -> Result<(), KmsError> {
    let max = keyring::asymmetric_spec(key.key_spec)
        .and_then(|spec| alg.max_plaintext(spec))
        .unwrap_or(0);
    if plaintext.len() <= max {
        return Ok(());
    }
    Err(KmsError::Validation(format!(
        "Plaintext is too long: {} with key spec {} encrypts at most {max} bytes.",
        model::encryption_algorithm_name(Some(alg)),
        key.key_spec.name()
    )))
}

/// Adds what a cryptographic request says to its check: the encryption context
/// (`kms:EncryptionContext:<k>`, `kms:EncryptionContextKeys`), `kms:EncryptionAlgorithm`, and
/// `kms:RequestAlias` when the key is named by an alias.
fn use_conditions<'a>(
    check: Check<'a>,
    context: &'a EncryptionContext,
    names: &'a [String],
    algorithm: Option<&'a str>,
    key_id: Option<&'a str>,
) -> Check<'a> {
    with_context(check, context, names)
        .condition("kms:EncryptionAlgorithm", algorithm.unwrap_or(SYMMETRIC_DEFAULT))
        .condition_opt("kms:RequestAlias", model::request_alias(key_id))
}

/// What an operation that uses a named key works on: the key, and the condition key names of the
/// request's encryption context.
pub(crate) struct KeyUse {
    found: Found,
    context_names: Vec<String>,
}

impl KeyUse {
    async fn resolve(
        cx: &Cx<'_>,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<KeyUse, KmsError> {
        Ok(KeyUse {
            found: resolve_key(cx, key_id, Accepts::KeyOrAlias).await?,
            context_names: context_names(context),
        })
    }
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

impl EncryptInput {
    fn context(&self) -> &EncryptionContext {
        self.encryption_context.as_ref().unwrap_or(&NO_CONTEXT)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EncryptOutput {
    ciphertext_blob: String,
    key_id: String,
    encryption_algorithm: &'static str,
}

pub(crate) struct Encrypt;

impl Operation for Encrypt {
    type Service = Kms;
    const NAME: &'static str = "Encrypt";
    // CloudTrail shows the algorithm KMS used, SYMMETRIC_DEFAULT unless the request names another.
    const DEFAULT_PARAMETERS: &'static [(&'static str, &'static str)] =
        &[("EncryptionAlgorithm", SYMMETRIC_DEFAULT)];
    // KMS's cryptographic operations change nothing: CloudTrail records them read-only.
    const READ_ONLY: bool = true;
    type Input = EncryptInput;
    type Output = EncryptOutput;
    type Resolved = KeyUse;

    fn validate(i: &EncryptInput) -> Result<(), KmsError> {
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
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &EncryptInput) -> Result<KeyUse, KmsError> {
        KeyUse::resolve(cx, i.key_id.as_deref(), i.context()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a EncryptInput,
        k: &'a KeyUse,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(use_conditions(
            found_check(cx, cx.action, &k.found),
            i.context(),
            &k.context_names,
            i.encryption_algorithm.as_deref(),
            i.key_id.as_deref(),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &EncryptInput, k: KeyUse) -> Result<EncryptOutput, KmsError> {
        let key = k.found.into_key(cx).await?;
        usable(&key)?;
        for_usage(&key, KeyUsage::EncryptDecrypt, Self::NAME)?;
        let oaep = model::encryption_algorithm(key.key_spec, i.encryption_algorithm.as_deref())?;
        let plaintext = i.plaintext.as_deref().unwrap_or_default();
        if let Some(alg) = oaep {
            no_context(i.context())?;
            oaep_fits(&key, alg, plaintext)?;
        }
        if i.dry_run {
            return Err(KmsError::DryRun);
        }
        let keyring = &cx.services.keyring;
        let blob = match oaep {
            None => keyring.encrypt_with(&key, plaintext, i.context()).await?,
            Some(alg) => {
                let (spec, private) = keyring.private_key(&key).await?;
                private
                    .encrypt(spec, alg, plaintext)
                    .map_err(|e| KmsError::Internal(e.to_string()))?
            }
        };
        Ok(EncryptOutput {
            ciphertext_blob: b64(&blob),
            key_id: key.arn,
            encryption_algorithm: model::encryption_algorithm_name(oaep),
        })
    }
}

/// The key a ciphertext blob is decrypted with.
pub(crate) enum BlobKey {
    /// The key the request names (`KeyId`, `SourceKeyId`); `matches`: the blob was made under it.
    Named { found: Found, matches: bool },
    /// The key the blob names: the caller's own, or another account's of the organization. `None`:
    /// no key has that id in this region.
    OfBlob(Option<KmsKey>),
}

impl BlobKey {
    /// The key a blob was made under, as the request names it or the blob does. Reads the blob's
    /// header (its framing only): a malformed blob is `InvalidCiphertextException` at once. Returns
    /// the key and the material version that made the blob.
    async fn resolve(
        cx: &Cx<'_>,
        blob_bytes: &[u8],
        requested: Option<&str>,
    ) -> Result<(BlobKey, u32), KmsError> {
        let header = blob::header(blob_bytes).ok();
        let key = match requested {
            Some(r) => {
                let found = match (resolve_key(cx, Some(r), Accepts::KeyOrAlias).await, &header) {
                    (Ok(found), _) => found,
                    (Err(e), Some(_)) => return Err(e),
                    (Err(_), None) => return Err(KmsError::InvalidCiphertext),
                };
                // An RSA key's ciphertext is bare RSAES-OAEP output: it names no key, so the
                // request's key is the one to try (a failure is InvalidCiphertextException).
                if found.key().is_some_and(|k| k.key_spec.is_rsa()) {
                    return Ok((BlobKey::Named { found, matches: true }, 0));
                }
                let header = header.ok_or(KmsError::InvalidCiphertext)?;
                let matches = found.key().is_some_and(|k| k.key_id == header.key_id);
                return Ok((BlobKey::Named { found, matches }, header.material_version));
            }
            None => header.ok_or(KmsError::InvalidCiphertext)?,
        };
        Ok((
            BlobKey::OfBlob(key_of_blob(cx, &key.key_id).await?),
            key.material_version,
        ))
    }

    /// The check of `action` on the key: a ciphertext whose key doesn't exist is refused by the
    /// rule for unknown ciphertext keys, like a key the caller may not use.
    fn check<'a>(&'a self, cx: &'a Cx<'_>, action: &'a str) -> Check<'a> {
        match self {
            BlobKey::Named { found, .. } => found_check(cx, action, found),
            BlobKey::OfBlob(Some(key)) => key_check(cx.account(), action, key),
            BlobKey::OfBlob(None) => identity_check(cx, action, Resource::UnknownCiphertextKey),
        }
    }

    /// Whether the blob is decrypted with a key that exists (so what follows is checked too).
    fn usable_key(&self) -> bool {
        match self {
            BlobKey::Named { found, matches } => *matches && found.key().is_some(),
            BlobKey::OfBlob(key) => key.is_some(),
        }
    }

    /// The key, once authorized: a named key that doesn't exist is not found, one the blob wasn't
    /// made under is `IncorrectKeyException`.
    async fn into_key(self, cx: &Cx<'_>) -> Result<KmsKey, KmsError> {
        match self {
            BlobKey::Named { found, matches } => {
                let key = found.into_key(cx).await?;
                if !matches {
                    return Err(KmsError::IncorrectKey);
                }
                Ok(key)
            }
            BlobKey::OfBlob(Some(key)) => Ok(key),
            // Refused by its check already.
            BlobKey::OfBlob(None) => Err(KmsError::refused(Refusal::UnknownCiphertextKey)),
        }
    }
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
        return Ok(Some(key.at(cx.now())));
    }
    let Some(org) = store.organization().await? else {
        return Ok(None);
    };
    for account in org.accounts.iter().filter(|a| a.id != cx.account()) {
        if let Some(key) = store
            .kms_key(&kms::key_arn(cx.region(), &account.id, key_id))
            .await?
        {
            return Ok(Some(key.at(cx.now())));
        }
    }
    Ok(None)
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

impl DecryptInput {
    fn context(&self) -> &EncryptionContext {
        self.encryption_context.as_ref().unwrap_or(&NO_CONTEXT)
    }

    fn blob(&self) -> &[u8] {
        self.ciphertext_blob.as_deref().unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DecryptOutput {
    key_id: String,
    plaintext: Zeroizing<String>,
    encryption_algorithm: &'static str,
    /// Symmetric keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_id: Option<String>,
}

/// What Decrypt works on: the key, the material version the blob names, and the condition key
/// names of the request's encryption context.
pub(crate) struct BlobUse {
    key: BlobKey,
    material_version: u32,
    context_names: Vec<String>,
}

pub(crate) struct Decrypt;

impl Operation for Decrypt {
    type Service = Kms;
    const NAME: &'static str = "Decrypt";
    const DEFAULT_PARAMETERS: &'static [(&'static str, &'static str)] =
        &[("EncryptionAlgorithm", SYMMETRIC_DEFAULT)];
    const READ_ONLY: bool = true;
    type Input = DecryptInput;
    type Output = DecryptOutput;
    type Resolved = BlobUse;

    fn validate(i: &DecryptInput) -> Result<(), KmsError> {
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
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &DecryptInput) -> Result<BlobUse, KmsError> {
        let (key, material_version) = BlobKey::resolve(cx, i.blob(), i.key_id.as_deref()).await?;
        Ok(BlobUse {
            key,
            material_version,
            context_names: context_names(i.context()),
        })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a DecryptInput,
        b: &'a BlobUse,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(use_conditions(
            b.key.check(cx, cx.action),
            i.context(),
            &b.context_names,
            i.encryption_algorithm.as_deref(),
            i.key_id.as_deref(),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &DecryptInput, b: BlobUse) -> Result<DecryptOutput, KmsError> {
        let key = b.key.into_key(cx).await?;
        usable(&key)?;
        for_usage(&key, KeyUsage::EncryptDecrypt, Self::NAME)?;
        let oaep = model::encryption_algorithm(key.key_spec, i.encryption_algorithm.as_deref())?;
        if oaep.is_some() {
            no_context(i.context())?;
        }
        if i.dry_run {
            return Err(KmsError::DryRun);
        }
        let keyring = &cx.services.keyring;
        let plaintext = match oaep {
            None => keyring.decrypt_with(&key, i.blob(), i.context()).await?,
            Some(alg) => {
                let (_, private) = keyring.private_key(&key).await?;
                private
                    .decrypt(alg, i.blob())
                    .map_err(|_| KmsError::InvalidCiphertext)?
            }
        };
        Ok(DecryptOutput {
            key_material_id: oaep
                .is_none()
                .then(|| model::key_material_id(&key.key_id, b.material_version)),
            key_id: key.arn,
            plaintext: Zeroizing::new(b64(&plaintext)),
            encryption_algorithm: model::encryption_algorithm_name(oaep),
        })
    }
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

impl ReEncryptInput {
    fn source_context(&self) -> &EncryptionContext {
        self.source_encryption_context.as_ref().unwrap_or(&NO_CONTEXT)
    }

    fn destination_context(&self) -> &EncryptionContext {
        self.destination_encryption_context
            .as_ref()
            .unwrap_or(&NO_CONTEXT)
    }

    fn blob(&self) -> &[u8] {
        self.ciphertext_blob.as_deref().unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReEncryptOutput {
    ciphertext_blob: String,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: &'static str,
    destination_encryption_algorithm: &'static str,
    source_key_material_id: String,
    destination_key_material_id: String,
}

/// What ReEncrypt works on: the source (as for Decrypt) and the destination key.
pub(crate) struct Reencryption {
    source: BlobUse,
    /// A malformed `DestinationKeyId`'s error is given once the source is settled.
    destination: Result<Found, KmsError>,
    destination_context_names: Vec<String>,
}

pub(crate) struct ReEncrypt;

impl Operation for ReEncrypt {
    type Service = Kms;
    const NAME: &'static str = "ReEncrypt";
    const DEFAULT_PARAMETERS: &'static [(&'static str, &'static str)] = &[
        ("SourceEncryptionAlgorithm", SYMMETRIC_DEFAULT),
        ("DestinationEncryptionAlgorithm", SYMMETRIC_DEFAULT),
    ];
    const READ_ONLY: bool = true;
    type Input = ReEncryptInput;
    type Output = ReEncryptOutput;
    type Resolved = Reencryption;

    fn validate(i: &ReEncryptInput) -> Result<(), KmsError> {
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
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &ReEncryptInput) -> Result<Reencryption, KmsError> {
        let (key, material_version) = BlobKey::resolve(cx, i.blob(), i.source_key_id.as_deref()).await?;
        Ok(Reencryption {
            source: BlobUse {
                key,
                material_version,
                context_names: context_names(i.source_context()),
            },
            destination: resolve_key_later(cx, i.destination_key_id.as_deref(), Accepts::KeyOrAlias).await?,
            destination_context_names: context_names(i.destination_context()),
        })
    }

    /// `kms:ReEncryptFrom` on the source key; once that is a key the blob was made under,
    /// `kms:ReEncryptTo` on the destination.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a ReEncryptInput,
        r: &'a Reencryption,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut authorization = Authorization::of(use_conditions(
            r.source.key.check(cx, "kms:ReEncryptFrom"),
            i.source_context(),
            &r.source.context_names,
            i.source_encryption_algorithm.as_deref(),
            i.source_key_id.as_deref(),
        ));
        if r.source.key.usable_key()
            && let Ok(destination) = &r.destination
        {
            authorization = authorization.and(use_conditions(
                found_check(cx, "kms:ReEncryptTo", destination),
                i.destination_context(),
                &r.destination_context_names,
                i.destination_encryption_algorithm.as_deref(),
                i.destination_key_id.as_deref(),
            ));
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &ReEncryptInput, r: Reencryption) -> Result<ReEncryptOutput, KmsError> {
        let source = r.source.key.into_key(cx).await?;
        let dest = r.destination?.into_key(cx).await?;
        usable(&source)?;
        usable(&dest)?;
        // Re-encryption from or to an RSA key is not offered yet: only symmetric keys.
        symmetric_only(&source, Self::NAME)?;
        symmetric_only(&dest, Self::NAME)?;
        model::symmetric_algorithm(i.source_encryption_algorithm.as_deref())?;
        model::symmetric_algorithm(i.destination_encryption_algorithm.as_deref())?;
        if i.dry_run {
            return Err(KmsError::DryRun);
        }
        let keyring = &cx.services.keyring;
        let plaintext = keyring
            .decrypt_with(&source, i.blob(), i.source_context())
            .await?;
        let blob = keyring
            .encrypt_with(&dest, &plaintext, i.destination_context())
            .await?;
        Ok(ReEncryptOutput {
            source_key_material_id: model::key_material_id(&source.key_id, r.source.material_version),
            destination_key_material_id: model::key_material_id(&dest.key_id, dest.current_material),
            ciphertext_blob: b64(&blob),
            source_key_id: source.arn,
            key_id: dest.arn,
            source_encryption_algorithm: SYMMETRIC_DEFAULT,
            destination_encryption_algorithm: SYMMETRIC_DEFAULT,
        })
    }
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

impl DataKeyInput {
    fn context(&self) -> &EncryptionContext {
        self.encryption_context.as_ref().unwrap_or(&NO_CONTEXT)
    }

    /// The data key's length: `NumberOfBytes` or `KeySpec`, exactly one of them.
    fn data_key_len(&self) -> Result<usize, KmsError> {
        match (self.number_of_bytes, self.key_spec.as_deref()) {
            (Some(n), None) => Ok(usize::try_from(n).unwrap_or(0)),
            (None, Some("AES_128")) => Ok(16),
            (None, Some(_)) => Ok(32),
            _ => Err(KmsError::Validation(
                "Please specify either number of bytes or key spec.".into(),
            )),
        }
    }

    fn check(&self) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &self.key_id);
        v.range("numberOfBytes", self.number_of_bytes, 1, 1024);
        v.one_of("keySpec", self.key_spec.as_deref(), &["AES_256", "AES_128"]);
        check_grant_tokens(&mut v, self.grant_tokens.as_deref());
        model::violations(v)?;
        self.data_key_len().map(|_| ())
    }

    fn use_check<'a>(&'a self, cx: &'a Cx<'_>, k: &'a KeyUse) -> Authorization<'a> {
        Authorization::of(use_conditions(
            found_check(cx, cx.action, &k.found),
            self.context(),
            &k.context_names,
            None,
            self.key_id.as_deref(),
        ))
    }

    /// A fresh data key and its ciphertext blob under the key, with the plaintext when asked.
    async fn generate(
        &self,
        cx: &Cx<'_>,
        k: KeyUse,
        with_plaintext: bool,
    ) -> Result<DataKeyOutput, KmsError> {
        let key = k.found.into_key(cx).await?;
        usable(&key)?;
        let operation = if with_plaintext {
            GenerateDataKey::NAME
        } else {
            GenerateDataKeyWithoutPlaintext::NAME
        };
        symmetric_only(&key, operation)?;
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        let data_key = Keyring::random(self.data_key_len()?)?;
        let blob = cx
            .services
            .keyring
            .encrypt_with(&key, &data_key, self.context())
            .await?;
        Ok(DataKeyOutput {
            ciphertext_blob: b64(&blob),
            plaintext: with_plaintext.then(|| Zeroizing::new(b64(&data_key))),
            key_material_id: model::key_material_id(&key.key_id, key.current_material),
            key_id: key.arn,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataKeyOutput {
    ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Zeroizing<String>>,
    key_id: String,
    key_material_id: String,
}

pub(crate) struct GenerateDataKey;

impl Operation for GenerateDataKey {
    type Service = Kms;
    const NAME: &'static str = "GenerateDataKey";
    const READ_ONLY: bool = true;
    type Input = DataKeyInput;
    type Output = DataKeyOutput;
    type Resolved = KeyUse;

    fn validate(i: &DataKeyInput) -> Result<(), KmsError> {
        i.check()
    }

    async fn resolve(cx: &Cx<'_>, i: &DataKeyInput) -> Result<KeyUse, KmsError> {
        KeyUse::resolve(cx, i.key_id.as_deref(), i.context()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a DataKeyInput,
        k: &'a KeyUse,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.use_check(cx, k))
    }

    async fn run(cx: &Cx<'_>, i: &DataKeyInput, k: KeyUse) -> Result<DataKeyOutput, KmsError> {
        i.generate(cx, k, true).await
    }
}

pub(crate) struct GenerateDataKeyWithoutPlaintext;

impl Operation for GenerateDataKeyWithoutPlaintext {
    type Service = Kms;
    const NAME: &'static str = "GenerateDataKeyWithoutPlaintext";
    const READ_ONLY: bool = true;
    type Input = DataKeyInput;
    type Output = DataKeyOutput;
    type Resolved = KeyUse;

    fn validate(i: &DataKeyInput) -> Result<(), KmsError> {
        i.check()
    }

    async fn resolve(cx: &Cx<'_>, i: &DataKeyInput) -> Result<KeyUse, KmsError> {
        KeyUse::resolve(cx, i.key_id.as_deref(), i.context()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a DataKeyInput,
        k: &'a KeyUse,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.use_check(cx, k))
    }

    async fn run(cx: &Cx<'_>, i: &DataKeyInput, k: KeyUse) -> Result<DataKeyOutput, KmsError> {
        i.generate(cx, k, false).await
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RandomInput {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RandomOutput {
    plaintext: Zeroizing<String>,
}

pub(crate) struct GenerateRandom;

impl Operation for GenerateRandom {
    type Service = Kms;
    const NAME: &'static str = "GenerateRandom";
    const READ_ONLY: bool = true;
    type Input = RandomInput;
    type Output = RandomOutput;
    type Resolved = ();

    fn validate(i: &RandomInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        v.range("numberOfBytes", i.number_of_bytes, 1, 1024);
        v.length("customKeyStoreId", i.custom_key_store_id.as_deref(), 1, 64, false);
        model::violations(v)?;
        if i.number_of_bytes.is_none() {
            return Err(KmsError::Validation("NumberOfBytes is required.".into()));
        }
        Ok(())
    }

    async fn resolve(_: &Cx<'_>, _: &RandomInput) -> Result<(), KmsError> {
        Ok(())
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a RandomInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(identity_check(cx, cx.action, Resource::Any)))
    }

    async fn run(_: &Cx<'_>, i: &RandomInput, _: ()) -> Result<RandomOutput, KmsError> {
        if i.custom_key_store_id.is_some() {
            return Err(KmsError::Unsupported(
                "Custom key stores are not supported by this server.".into(),
            ));
        }
        let bytes = Keyring::random(usize::try_from(i.number_of_bytes.unwrap_or(0)).unwrap_or(0))?;
        Ok(RandomOutput {
            plaintext: Zeroizing::new(b64(&bytes)),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataKeyPairInput {
    key_id: Option<String>,
    encryption_context: Option<EncryptionContext>,
    key_pair_spec: Option<String>,
    grant_tokens: Option<Vec<String>>,
    recipient: Option<serde_json::Value>,
    #[serde(default)]
    dry_run: bool,
}

impl DataKeyPairInput {
    fn context(&self) -> &EncryptionContext {
        self.encryption_context.as_ref().unwrap_or(&NO_CONTEXT)
    }

    fn check(&self) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &self.key_id);
        v.required("keyPairSpec", &self.key_pair_spec);
        v.one_of(
            "keyPairSpec",
            self.key_pair_spec.as_deref(),
            model::KEY_PAIR_SPECS,
        );
        check_grant_tokens(&mut v, self.grant_tokens.as_deref());
        model::violations(v)
    }

    fn use_check<'a>(&'a self, cx: &'a Cx<'_>, k: &'a KeyUse) -> Authorization<'a> {
        Authorization::of(
            use_conditions(
                found_check(cx, cx.action, &k.found),
                self.context(),
                &k.context_names,
                None,
                self.key_id.as_deref(),
            )
            .condition_opt("kms:DataKeyPairSpec", self.key_pair_spec.as_deref()),
        )
    }

    /// A fresh key pair of `KeyPairSpec`: its public key, and its private key (PKCS #8) as a
    /// ciphertext blob under the symmetric key (with the encryption context bound in, so Decrypt
    /// returns it) and, when asked, in plaintext.
    async fn generate(
        &self,
        cx: &Cx<'_>,
        k: KeyUse,
        operation: &str,
        with_plaintext: bool,
    ) -> Result<DataKeyPairOutput, KmsError> {
        let key = k.found.into_key(cx).await?;
        usable(&key)?;
        symmetric_only(&key, operation)?;
        let name = self.key_pair_spec.as_deref().unwrap_or_default();
        let spec = kinko_core::kms::KeySpec::parse(name)
            .and_then(keyring::asymmetric_spec)
            .ok_or_else(|| {
                KmsError::Unsupported(format!("Key pair spec {name} is not supported by this server."))
            })?;
        if self.recipient.is_some() {
            return Err(KmsError::Unsupported(
                "Recipient (Nitro Enclaves attestation) is not supported by this server.".into(),
            ));
        }
        if self.dry_run {
            return Err(KmsError::DryRun);
        }
        let crypto = |e: kinko_crypto::CryptoError| KmsError::Internal(e.to_string());
        let private = kinko_crypto::asymmetric::PrivateKey::generate(spec).map_err(crypto)?;
        let public = private.public_key_der(spec).map_err(crypto)?;
        let blob = cx
            .services
            .keyring
            .encrypt_with(&key, private.pkcs8(), self.context())
            .await?;
        Ok(DataKeyPairOutput {
            private_key_ciphertext_blob: b64(&blob),
            private_key_plaintext: with_plaintext.then(|| Zeroizing::new(b64(private.pkcs8()))),
            public_key: b64(&public),
            key_material_id: model::key_material_id(&key.key_id, key.current_material),
            key_id: key.arn,
            key_pair_spec: name.to_owned(),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataKeyPairOutput {
    private_key_ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_plaintext: Option<Zeroizing<String>>,
    public_key: String,
    key_id: String,
    key_pair_spec: String,
    key_material_id: String,
}

pub(crate) struct GenerateDataKeyPair;

impl Operation for GenerateDataKeyPair {
    type Service = Kms;
    const NAME: &'static str = "GenerateDataKeyPair";
    const READ_ONLY: bool = true;
    type Input = DataKeyPairInput;
    type Output = DataKeyPairOutput;
    type Resolved = KeyUse;

    fn validate(i: &DataKeyPairInput) -> Result<(), KmsError> {
        i.check()
    }

    async fn resolve(cx: &Cx<'_>, i: &DataKeyPairInput) -> Result<KeyUse, KmsError> {
        KeyUse::resolve(cx, i.key_id.as_deref(), i.context()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a DataKeyPairInput,
        k: &'a KeyUse,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.use_check(cx, k))
    }

    async fn run(cx: &Cx<'_>, i: &DataKeyPairInput, k: KeyUse) -> Result<DataKeyPairOutput, KmsError> {
        i.generate(cx, k, Self::NAME, true).await
    }
}

pub(crate) struct GenerateDataKeyPairWithoutPlaintext;

impl Operation for GenerateDataKeyPairWithoutPlaintext {
    type Service = Kms;
    const NAME: &'static str = "GenerateDataKeyPairWithoutPlaintext";
    const READ_ONLY: bool = true;
    type Input = DataKeyPairInput;
    type Output = DataKeyPairOutput;
    type Resolved = KeyUse;

    fn validate(i: &DataKeyPairInput) -> Result<(), KmsError> {
        i.check()
    }

    async fn resolve(cx: &Cx<'_>, i: &DataKeyPairInput) -> Result<KeyUse, KmsError> {
        KeyUse::resolve(cx, i.key_id.as_deref(), i.context()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a DataKeyPairInput,
        k: &'a KeyUse,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(i.use_check(cx, k))
    }

    async fn run(cx: &Cx<'_>, i: &DataKeyPairInput, k: KeyUse) -> Result<DataKeyPairOutput, KmsError> {
        i.generate(cx, k, Self::NAME, false).await
    }
}
