//! Shapes and checks shared by several operations: tags, secret values, sealing and opening
//! versions, and the validation AWS applies to common members.

use kinko_core::kms::KmsKey;
use kinko_core::secret::{Secret, Tag, ValueKind, Version};
use kinko_core::store::SealedValue;
use kinko_crypto::blob::EncryptionContext;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Cx;
use super::error::{BOTH_VALUES, INVALID_NAME, SmError, TOKEN_REQUIRED};
use crate::kms::{KmsError, Via};

/// Largest SecretString / SecretBinary, in bytes.
pub const MAX_SECRET_BYTES: usize = 65_536;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

pub fn tags_out(tags: &[Tag]) -> Vec<TagShape> {
    tags.iter()
        .map(|t| TagShape {
            key: Some(t.key.clone()),
            value: Some(t.value.clone()),
        })
        .collect()
}

/// Model constraints of a tag list at `path` (`tags`).
pub fn check_tags(v: &mut Violations, path: &str, tags: Option<&[TagShape]>) {
    let Some(tags) = tags else { return };
    for (i, t) in tags.iter().enumerate() {
        v.required(&format!("{path}.{}.member.key", i + 1), &t.key);
    }
    v.tags(
        path,
        tags.iter().map(|t| (t.key.as_deref(), t.value.as_deref())),
        &kinko_wire::validate::SECRETS_MANAGER_TAGS,
    );
}

/// `SecretId`: required, 1-2048 characters.
pub fn check_secret_id(v: &mut Violations, id: &Option<String>) {
    v.required("secretId", id);
    v.length("secretId", id.as_deref(), 1, 2048, false);
}

/// `ClientRequestToken`: 32-64 characters, checked with the model's other constraints, so a
/// token out of range is a ValidationException (`Value '...' at 'clientRequestToken' failed to
/// satisfy constraint: ...`). Secrets Manager validates its model this way (GetRandomPassword's
/// `passwordLength` answer, as moto itself quotes it, is one). moto answers
/// InvalidParameterException `ClientRequestToken must be 32-64 characters long.`, a text no AWS
/// reply shows (`test_rotate_secret_client_request_token_too_short`).
pub fn check_token(v: &mut Violations, token: &Option<String>) {
    v.length("clientRequestToken", token.as_deref(), 32, 64, false);
}

/// SecretString / SecretBinary: 1-65,536 bytes; never echoed in messages.
pub fn check_values(v: &mut Violations, string: &Option<String>, binary: &Option<Vec<u8>>) {
    v.byte_length(
        "secretString",
        string.as_deref().map(str::as_bytes),
        1,
        MAX_SECRET_BYTES,
    );
    v.byte_length("secretBinary", binary.as_deref(), 1, MAX_SECRET_BYTES);
}

/// Turns collected violations into a ValidationException.
pub fn violations(v: Violations) -> Result<(), SmError> {
    match v.message() {
        Some(m) => Err(SmError::Validation(m)),
        None => Ok(()),
    }
}

/// A `SecretId` that is not an ARN must use only the characters AWS allows (an ARN that names no
/// secret is just not found, as in AWS).
pub fn check_name_chars(id: &str) -> Result<(), SmError> {
    if id.starts_with("arn:") || kinko_core::arn::is_valid_secret_name(id) {
        Ok(())
    } else {
        Err(SmError::Validation(INVALID_NAME.into()))
    }
}

/// A new secret's `Name`: only the characters AWS allows, so never an ARN (a name that looked like
/// one would be read as an ARN wherever it is used as a `SecretId`).
pub fn check_name(name: &str) -> Result<(), SmError> {
    if kinko_core::arn::is_valid_secret_name(name) {
        Ok(())
    } else {
        Err(SmError::Validation(INVALID_NAME.into()))
    }
}

/// The value a request carries, if any; both kinds at once is an error.
pub fn value_of<'a>(
    string: &'a Option<String>,
    binary: &'a Option<Vec<u8>>,
) -> Result<Option<(ValueKind, &'a [u8])>, SmError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(SmError::InvalidParameter(BOTH_VALUES.into())),
        (Some(s), None) => Ok(Some((ValueKind::String, s.as_bytes()))),
        (None, Some(b)) => Ok(Some((ValueKind::Binary, b.as_slice()))),
        (None, None) => Ok(None),
    }
}

/// A raw request with a value must carry a ClientRequestToken (SDKs always fill it in).
pub fn require_token(token: &Option<String>, has_value: bool) -> Result<(), SmError> {
    if has_value && token.is_none() {
        Err(SmError::InvalidRequest(TOKEN_REQUIRED.into()))
    } else {
        Ok(())
    }
}

pub(crate) fn context(secret_arn: &str, version_id: &str) -> EncryptionContext {
    EncryptionContext::from([
        ("SecretARN".to_owned(), secret_arn.to_owned()),
        ("SecretVersionId".to_owned(), version_id.to_owned()),
    ])
}

fn value_aad(secret_arn: &str, version_id: &str) -> Vec<u8> {
    kinko_crypto::encode_aad(&[secret_arn.as_bytes(), version_id.as_bytes()])
}

/// Secrets Manager's answer when the caller may not use the secret's KMS key.
pub const KMS_ACCESS_DENIED: &str = "Access to KMS is not allowed";
const ENCRYPTION_FAILURE: &str = "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state.";
const DECRYPTION_FAILURE: &str =
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key.";
/// The `SecretVersionId` of the throw-away data key that checks the caller's access to a new key.
const VALIDATE_KEY_ACCESS: &str = "RequestToValidateKeyAccess";

/// A KMS failure while writing a value. A key that doesn't exist, or isn't usable, is an
/// EncryptionFailure; AWS puts KMS's own message after its prefix for a missing key.
fn encrypt_error(e: KmsError) -> SmError {
    match e {
        KmsError::AccessDenied(_) => SmError::AccessDenied(KMS_ACCESS_DENIED.into()),
        KmsError::NotFound(m) => {
            SmError::EncryptionFailure(format!("Secrets Manager can't encrypt the secret value: {m}"))
        }
        KmsError::Internal(m) => SmError::Internal(m),
        KmsError::Conflict => SmError::Conflict,
        _ => SmError::EncryptionFailure(ENCRYPTION_FAILURE.into()),
    }
}

/// A KMS failure while reading a value: the key is gone, disabled or pending deletion.
fn decrypt_error(e: KmsError) -> SmError {
    match e {
        KmsError::AccessDenied(_) => SmError::AccessDenied(KMS_ACCESS_DENIED.into()),
        KmsError::Internal(m) => SmError::Internal(m),
        KmsError::Conflict => SmError::Conflict,
        _ => SmError::DecryptionFailure(DECRYPTION_FAILURE.into()),
    }
}

/// The KMS key a `KmsKeyId` names, as KMS resolves it for the caller. A malformed identifier is an
/// InvalidParameterException, as in AWS (its text as AWS users quote it). moto's
/// `test_describe_secret_with_KmsKeyId` and `test_update_secret_with_KmsKeyId` create secrets
/// under `dummy_arn` / `foo_arn`, which moto stores unchecked; AWS encrypts the value with the key
/// at once and so refuses a key that isn't there.
pub async fn kms_key(cx: &Cx<'_>, key_ref: &str) -> Result<KmsKey, SmError> {
    kms_key_in(cx, cx.region(), key_ref).await
}

/// The KMS key a `KmsKeyId` names in `region` (a replica's key).
pub async fn kms_key_in(cx: &Cx<'_>, region: &str, key_ref: &str) -> Result<KmsKey, SmError> {
    let via = Via::secretsmanager_in(cx, region);
    if !via.well_formed(key_ref) {
        return Err(SmError::InvalidParameter(
            "The operation failed because of an invalid KMS key: Invalid keyId".into(),
        ));
    }
    via.key(key_ref).await.map_err(encrypt_error)
}

/// The key new versions of `secret` are sealed under: its KmsKeyId, or the AWS managed key.
pub async fn sealing_key(cx: &Cx<'_>, secret: &Secret) -> Result<KmsKey, SmError> {
    match secret.kms_key_id.as_deref() {
        None => Via::secretsmanager_in(cx, &secret.region)
            .secretsmanager_default_key()
            .await
            .map_err(encrypt_error),
        Some(id) => kms_key_in(cx, &secret.region, id).await,
    }
}

/// What Secrets Manager does when a secret is given a customer managed key: a throw-away
/// GenerateDataKey and Decrypt as the caller, so a key the caller can't use fails the request now
/// rather than every later write or read.
pub async fn validate_key_access(cx: &Cx<'_>, key: &KmsKey, secret_arn: &str) -> Result<(), SmError> {
    validate_key_access_in(cx, cx.region(), key, secret_arn).await
}

/// [`validate_key_access`] for a key of `region` (a replica's).
pub async fn validate_key_access_in(
    cx: &Cx<'_>,
    region: &str,
    key: &KmsKey,
    secret_arn: &str,
) -> Result<(), SmError> {
    let via = Via::secretsmanager_in(cx, region);
    let ctx = context(secret_arn, VALIDATE_KEY_ACCESS);
    let (_, blob) = via.generate_data_key(key, &ctx).await.map_err(encrypt_error)?;
    via.decrypt(key, &blob, &ctx).await.map_err(encrypt_error)?;
    Ok(())
}

/// Seals a new version's value: a fresh data key from GenerateDataKey on the secret's KMS key,
/// made as the caller through Secrets Manager (encryption context `{SecretARN, SecretVersionId}`),
/// and the value under the data key. Returns the sealed value and the ARN of the KMS key used.
pub async fn seal_value(
    cx: &Cx<'_>,
    secret: &Secret,
    version_id: &str,
    plaintext: &[u8],
) -> Result<(SealedValue, String), SmError> {
    let key = sealing_key(cx, secret).await?;
    let (data_key, encrypted_data_key) = Via::secretsmanager_in(cx, &secret.region)
        .generate_data_key(&key, &context(&secret.arn, version_id))
        .await
        .map_err(encrypt_error)?;
    let ciphertext = kinko_crypto::seal(&data_key, plaintext, &value_aad(&secret.arn, version_id))
        .map_err(|e| SmError::Internal(e.to_string()))?;
    Ok((
        SealedValue {
            encrypted_data_key,
            ciphertext,
        },
        key.arn,
    ))
}

/// The ARN of the KMS key a version's data key is under.
async fn version_key_arn(cx: &Cx<'_>, secret: &Secret, version: &Version) -> Result<String, SmError> {
    if let Some(arn) = &version.kms_key_arn {
        return Ok(arn.clone());
    }
    Ok(sealing_key(cx, secret).await?.arn)
}

async fn sealed(cx: &Cx<'_>, secret: &Secret, version: &Version) -> Result<SealedValue, SmError> {
    cx.services
        .store
        .sealed_value(&secret.arn, &version.id)
        .await?
        .ok_or_else(|| SmError::Internal(format!("value of version {} is missing", version.id)))
}

/// Opens a version's value: Decrypt of its data key as the caller through Secrets Manager, then
/// the value.
pub async fn open_value(
    cx: &Cx<'_>,
    secret: &Secret,
    version: &Version,
) -> Result<Zeroizing<Vec<u8>>, SmError> {
    let sealed = sealed(cx, secret, version).await?;
    let via = Via::secretsmanager_in(cx, &secret.region);
    let key = via
        .key_by_arn(&version_key_arn(cx, secret, version).await?)
        .await
        .map_err(decrypt_error)?;
    let data_key = via
        .decrypt(
            &key,
            &sealed.encrypted_data_key,
            &context(&secret.arn, &version.id),
        )
        .await
        .map_err(decrypt_error)?;
    let data_key =
        kinko_crypto::Key256::from_bytes(&data_key).map_err(|e| SmError::Internal(e.to_string()))?;
    kinko_crypto::open(
        &data_key,
        &sealed.ciphertext,
        &value_aad(&secret.arn, &version.id),
    )
    .map_err(|_| SmError::DecryptionFailure(DECRYPTION_FAILURE.into()))
}

/// Opens a value this request has just sealed for `version` of `secret` (to seal it again for the
/// secret's replicas). The caller gave the value in this request, so it is opened without another
/// KMS permission check, with the data key KMS itself unwraps.
pub async fn open_fresh(
    cx: &Cx<'_>,
    secret: &Secret,
    version: &Version,
    sealed: &SealedValue,
) -> Result<Zeroizing<Vec<u8>>, SmError> {
    let key = Via::secretsmanager_in(cx, &secret.region)
        .key_by_arn(&version_key_arn(cx, secret, version).await?)
        .await
        .map_err(decrypt_error)?;
    let data_key = cx
        .services
        .keyring
        .decrypt_with(
            &key,
            &sealed.encrypted_data_key,
            &context(&secret.arn, &version.id),
        )
        .await
        .map_err(|e| SmError::Internal(e.to_string()))?;
    let data_key =
        kinko_crypto::Key256::from_bytes(&data_key).map_err(|e| SmError::Internal(e.to_string()))?;
    kinko_crypto::open(
        &data_key,
        &sealed.ciphertext,
        &value_aad(&secret.arn, &version.id),
    )
    .map_err(|_| SmError::DecryptionFailure(DECRYPTION_FAILURE.into()))
}

/// Writes a change of a secret: the one place operations commit a secret, so that a primary's
/// change reaches its replicas in the same store transaction
/// ([`crate::secretsmanager::replication::with_replicas`]).
pub async fn commit(cx: &Cx<'_>, write: kinko_core::store::SecretWrite) -> Result<(), SmError> {
    let writes = crate::secretsmanager::replication::with_replicas(cx.services, Some(cx), write).await?;
    Ok(cx.services.store.write_secrets(writes).await?)
}

/// After a secret's KMS key changed to `key`: re-encrypts the versions labelled AWSCURRENT,
/// AWSPENDING or AWSPREVIOUS under it, as AWS does, when the caller may use `kms:Encrypt` on the
/// new key. The data key is decrypted with the old key and encrypted under the new one; the value's
/// ciphertext stays as it is. A version whose old key the caller can't use (or that is disabled or
/// gone) stays under its old key and keeps opening with it. Updates `secret`'s versions and returns
/// the re-sealed values.
pub async fn reencrypt_labelled(
    cx: &Cx<'_>,
    secret: &mut Secret,
    key: &KmsKey,
) -> Result<Vec<(String, SealedValue)>, SmError> {
    let via = Via::secretsmanager(cx);
    let probe = context(&secret.arn, VALIDATE_KEY_ACCESS);
    match via.authorize("kms:Encrypt", key, &probe).await {
        Ok(()) => {}
        Err(KmsError::AccessDenied(_)) => return Ok(vec![]),
        Err(e) => return Err(encrypt_error(e)),
    }
    let mut out = Vec::new();
    let labelled: Vec<Version> = secret
        .versions
        .iter()
        .filter(|v| {
            v.kind.is_some()
                && v.kms_key_arn.as_deref() != Some(key.arn.as_str())
                && v.stages
                    .iter()
                    .any(|s| matches!(s.as_str(), "AWSCURRENT" | "AWSPENDING" | "AWSPREVIOUS"))
        })
        .cloned()
        .collect();
    for version in labelled {
        let ctx = context(&secret.arn, &version.id);
        let sealed_value = sealed(cx, secret, &version).await?;
        let old_key = match via
            .key_by_arn(&version_key_arn(cx, secret, &version).await?)
            .await
        {
            Ok(k) => k,
            // A storage failure fails the request; a key that is gone leaves the version as it is.
            Err(KmsError::Internal(m)) => return Err(SmError::Internal(m)),
            Err(_) => continue,
        };
        let data_key = match via
            .decrypt(&old_key, &sealed_value.encrypted_data_key, &ctx)
            .await
        {
            Ok(k) => k,
            Err(KmsError::Internal(m)) => return Err(SmError::Internal(m)),
            Err(_) => continue,
        };
        let encrypted_data_key = via.encrypt(key, &data_key, &ctx).await.map_err(encrypt_error)?;
        if let Some(v) = secret.versions.iter_mut().find(|v| v.id == version.id) {
            v.kms_key_arn = Some(key.arn.clone());
        }
        out.push((
            version.id.clone(),
            SealedValue {
                encrypted_data_key,
                ciphertext: sealed_value.ciphertext,
            },
        ));
    }
    Ok(out)
}

/// Whether a stored version holds exactly `kind`/`bytes` (idempotent retries compare decrypted
/// values, in constant time).
pub async fn same_value(
    cx: &Cx<'_>,
    secret: &Secret,
    version: &Version,
    kind: ValueKind,
    bytes: &[u8],
) -> Result<bool, SmError> {
    if version.kind != Some(kind) {
        return Ok(false);
    }
    let stored = open_value(cx, secret, version).await?;
    Ok(stored.len() == bytes.len() && ring_eq(&stored, bytes))
}

fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret value as GetSecretValue and BatchGetSecretValue return it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretValueEntry {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    pub version_id: String,
    #[serde(skip_serializing_if = "Option::is_none", with = "kinko_wire::json::opt_blob")]
    pub secret_binary: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_string: Option<String>,
    pub version_stages: Vec<String>,
    pub created_date: f64,
}

/// Reads a version's value into the output shape.
pub async fn value_entry(
    cx: &Cx<'_>,
    secret: &Secret,
    version: &Version,
) -> Result<SecretValueEntry, SmError> {
    let plain = open_value(cx, secret, version).await?;
    let (secret_string, secret_binary) = match version.kind {
        Some(ValueKind::String) => (
            Some(
                String::from_utf8(plain.to_vec())
                    .map_err(|_| SmError::Internal("stored string is not UTF-8".into()))?,
            ),
            None,
        ),
        _ => (None, Some(plain.to_vec())),
    };
    Ok(SecretValueEntry {
        arn: secret.arn.clone(),
        name: secret.name.clone(),
        version_id: version.id.clone(),
        secret_binary,
        secret_string,
        version_stages: version.stages.clone(),
        created_date: version.created_date.epoch_seconds(),
    })
}

/// Records a read in `LastAccessedDate` (day resolution, on the secret and the version) when the
/// day changed. The read does not wait for the write: the date is pending in this process, shown
/// by every read of the secret here at once and written within a second (see [`super::accessed`]).
pub fn touch_accessed(cx: &Cx<'_>, secret: &Secret, version_id: &str) {
    let today = cx.services.clock.now().start_of_day();
    cx.services
        .accessed
        .record(&cx.services.store, secret, version_id, today);
}

/// Fails with the marked-for-deletion error when the secret is scheduled for deletion.
pub fn not_deleted(secret: &Secret) -> Result<(), SmError> {
    if secret.is_scheduled_for_deletion() {
        Err(SmError::marked_for_deletion())
    } else {
        Ok(())
    }
}

pub fn found(secret: Option<Secret>) -> Result<Secret, SmError> {
    secret.ok_or_else(SmError::not_found)
}

/// `KmsKeyIds` as ListSecretVersionIds reports them: the ARN of the key a version's data key is
/// under, or `DefaultEncryptionKey` for the AWS managed key (`default_key`, when it exists).
pub fn kms_key_ids(secret: &Secret, version: &Version, default_key: Option<&str>) -> Vec<String> {
    let id = match (version.kms_key_arn.as_deref(), &secret.kms_key_id) {
        (Some(arn), _) if Some(arn) != default_key => arn.to_owned(),
        (None, Some(id)) => id.clone(),
        _ => "DefaultEncryptionKey".to_owned(),
    };
    vec![id]
}

/// Opaque pagination tokens: an offset into a stable ordering, and for listings the database
/// orders, the ARN of the page's last secret too (the next page seeks to it).
pub mod token {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::SmError;

    pub fn encode(offset: usize) -> String {
        URL_SAFE_NO_PAD.encode(format!("kinko:{offset}"))
    }

    /// A token for the page after `offset` entries, the last of them `last_arn`.
    pub fn encode_after(offset: usize, last_arn: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("kinko:{offset}:{last_arn}"))
    }

    pub fn decode(token: &str) -> Result<usize, SmError> {
        match decode_after(token)? {
            (offset, None) => Ok(offset),
            (_, Some(_)) => Err(invalid()),
        }
    }

    /// The offset of a token, and the ARN it was made with by [`encode_after`].
    pub fn decode_after(token: &str) -> Result<(usize, Option<String>), SmError> {
        let text = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(invalid)?;
        let rest = text.strip_prefix("kinko:").ok_or_else(invalid)?;
        let (offset, arn) = match rest.split_once(':') {
            Some((offset, arn)) if !arn.is_empty() => (offset, Some(arn.to_owned())),
            Some(_) => return Err(invalid()),
            None => (rest, None),
        };
        Ok((offset.parse().map_err(|_| invalid())?, arn))
    }

    fn invalid() -> SmError {
        SmError::InvalidNextToken("The NextToken value is invalid.".into())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn tokens_round_trip_with_and_without_an_arn() {
            assert_eq!(decode(&encode(7)).ok(), Some(7));
            let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:a/b:c-AbCdEf";
            let (offset, after) = decode_after(&encode_after(100, arn)).unwrap_or_default();
            assert_eq!((offset, after.as_deref()), (100, Some(arn)));
            assert_eq!(decode_after(&encode(3)).ok(), Some((3, None)));
            assert!(decode(&encode_after(1, arn)).is_err());
            for bad in [
                "",
                "!!",
                &URL_SAFE_NO_PAD.encode("kinko:x"),
                &URL_SAFE_NO_PAD.encode("kinko:1:"),
            ] {
                assert!(decode_after(bad).is_err(), "{bad}");
            }
        }
    }
}

/// `RotationRules` on the wire.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRulesShape {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
}

impl RotationRulesShape {
    pub fn to_rules(&self) -> kinko_core::rotation::RotationRules {
        kinko_core::rotation::RotationRules {
            automatically_after_days: self.automatically_after_days,
            schedule_expression: self.schedule_expression.clone(),
            duration: self.duration.clone(),
        }
    }

    fn of(r: &kinko_core::rotation::RotationRules) -> Self {
        RotationRulesShape {
            automatically_after_days: r.automatically_after_days,
            duration: r.duration.clone(),
            schedule_expression: r.schedule_expression.clone(),
        }
    }
}

/// The rotation members DescribeSecret and ListSecrets show: none for a secret whose rotation was
/// never configured; `NextRotationDate` only while rotation is on.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_enabled: Option<bool>,
    #[serde(rename = "RotationLambdaARN", skip_serializing_if = "Option::is_none")]
    rotation_lambda_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_rules: Option<RotationRulesShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_rotated_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<f64>,
}

impl RotationFields {
    pub fn of(s: &Secret) -> Self {
        let r = s.rotation.as_ref();
        RotationFields {
            rotation_enabled: r.map(|r| r.enabled),
            rotation_lambda_arn: r.and_then(|r| r.lambda_arn.clone()),
            rotation_rules: r.and_then(|r| r.rules.as_ref()).map(RotationRulesShape::of),
            last_rotated_date: s.last_rotated_date.map(|t| t.epoch_seconds()),
            next_rotation_date: s.next_rotation_date().map(|t| t.epoch_seconds()),
        }
    }
}
