//! GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial: keys whose material the
//! customer brings (`Origin` EXTERNAL): symmetric encryption, HMAC and asymmetric keys.
//!
//! GetParametersForImport makes a fresh RSA key pair for wrapping the material on its way in. Its
//! private key is sealed under the root key into the import token itself (bound to the key ARN,
//! the wrapping algorithm and key spec, and the token's expiry 24 hours later): nothing is stored,
//! and the token alone, without the root key, opens nothing. A token from before a root key
//! rotation stops working once the old root key is gone; GetParametersForImport gives a new one.
//!
//! ImportKeyMaterial unwraps the material with it and stores it as any key material, wrapped by
//! the root key. DeleteImportedKeyMaterial and the material's expiry make the key unusable
//! (`PendingImport`) until the same material is imported again; the wrapped material stays in the
//! store meanwhile, since AWS accepts only that material again and ciphertexts made before decrypt
//! once it is back (see [`kinko_core::kms::ExternalMaterial`]).

use std::borrow::Cow;

use kinko_core::Timestamp;
use kinko_core::kms::{KeySpec, KeyState, KmsKey};
use kinko_crypto::asymmetric::{Oaep, PrivateKey, Spec};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::crypto::b64;
use crate::keyring;
use crate::kms::model::{self, key_material_id};
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, found_check, pending_deletion, resolve_key,
};

/// How long GetParametersForImport's public key and token are valid (AWS: 24 hours).
const PARAMETERS_VALID_MS: i64 = 24 * 60 * 60 * 1000;
/// The latest `ValidTo`, from the request (AWS: 365 days).
const MAX_VALID_DAYS: i64 = 365;
/// The first byte of an import token: its layout.
const TOKEN_FORMAT: u8 = 1;
/// Format, algorithm, key spec and expiry (milliseconds, big-endian): what the token binds.
const TOKEN_HEADER_LEN: usize = 11;

const WRAPPING_ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
const KEY_MATERIAL_EXPIRES: &str = "KEY_MATERIAL_EXPIRES";
const KEY_MATERIAL_DOES_NOT_EXPIRE: &str = "KEY_MATERIAL_DOES_NOT_EXPIRE";
const EXISTING_KEY_MATERIAL: &str = "EXISTING_KEY_MATERIAL";
const NEW_KEY_MATERIAL: &str = "NEW_KEY_MATERIAL";

/// A wrapping algorithm this server unwraps: RSAES-OAEP alone, or with AES key wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wrapping {
    oaep: Oaep,
    aes_key_wrap: bool,
}

impl Wrapping {
    fn parse(name: &str) -> Option<Wrapping> {
        let (oaep, aes_key_wrap) = match name {
            "RSAES_OAEP_SHA_1" => (Oaep::Sha1, false),
            "RSAES_OAEP_SHA_256" => (Oaep::Sha256, false),
            "RSA_AES_KEY_WRAP_SHA_1" => (Oaep::Sha1, true),
            "RSA_AES_KEY_WRAP_SHA_256" => (Oaep::Sha256, true),
            _ => return None,
        };
        Some(Wrapping { oaep, aes_key_wrap })
    }

    fn code(self) -> u8 {
        match (self.oaep, self.aes_key_wrap) {
            (Oaep::Sha1, false) => 1,
            (Oaep::Sha256, false) => 2,
            (Oaep::Sha1, true) => 3,
            (Oaep::Sha256, true) => 4,
        }
    }

    fn of_code(code: u8) -> Option<Wrapping> {
        let name = match code {
            1 => "RSAES_OAEP_SHA_1",
            2 => "RSAES_OAEP_SHA_256",
            3 => "RSA_AES_KEY_WRAP_SHA_1",
            4 => "RSA_AES_KEY_WRAP_SHA_256",
            _ => return None,
        };
        Wrapping::parse(name)
    }
}

fn wrapping_spec(name: &str) -> Option<Spec> {
    Some(match name {
        "RSA_2048" => Spec::Rsa2048,
        "RSA_3072" => Spec::Rsa3072,
        "RSA_4096" => Spec::Rsa4096,
        _ => return None,
    })
}

fn spec_code(spec: Spec) -> u8 {
    match spec {
        Spec::Rsa2048 => 1,
        Spec::Rsa3072 => 2,
        _ => 3,
    }
}

fn spec_of_code(code: u8) -> Option<Spec> {
    Some(match code {
        1 => Spec::Rsa2048,
        2 => Spec::Rsa3072,
        3 => Spec::Rsa4096,
        _ => return None,
    })
}

fn token_header(wrapping: Wrapping, spec: Spec, valid_to: Timestamp) -> [u8; TOKEN_HEADER_LEN] {
    let mut h = [0u8; TOKEN_HEADER_LEN];
    h[0] = TOKEN_FORMAT;
    h[1] = wrapping.code();
    h[2] = spec_code(spec);
    h[3..].copy_from_slice(&valid_to.millis().to_be_bytes());
    h
}

/// What an import token carries, opened.
struct Token {
    wrapping: Wrapping,
    spec: Spec,
    valid_to: Timestamp,
    private: PrivateKey,
}

/// Opens an import token made for `key`: `InvalidImportTokenException` for anything else (another
/// key's token, a damaged one, one sealed under a root key no longer held).
fn open_token(cx: &Cx<'_>, key: &KmsKey, token: &[u8]) -> Result<Token, KmsError> {
    let (header, sealed) = token
        .split_at_checked(TOKEN_HEADER_LEN)
        .ok_or(KmsError::InvalidImportToken)?;
    let fields = (header[0] == TOKEN_FORMAT)
        .then(|| Wrapping::of_code(header[1]).zip(spec_of_code(header[2])))
        .flatten();
    let (wrapping, spec) = fields.ok_or(KmsError::InvalidImportToken)?;
    let mut millis = [0u8; 8];
    millis.copy_from_slice(&header[3..]);
    let private = cx
        .services
        .keyring
        .open_wrapping_key(&key.arn, header, sealed)
        .ok_or(KmsError::InvalidImportToken)?;
    Ok(Token {
        wrapping,
        spec,
        valid_to: Timestamp::from_millis(i64::from_be_bytes(millis)),
        private: PrivateKey::from_pkcs8(&private),
    })
}

/// Whether `material` is key material of `key`'s spec ("Requirements for imported key
/// material"): 256 bits for a symmetric encryption key, the HMAC key of an HMAC key (from the
/// digest length to the block size), a PKCS #8 DER private key of the spec for an asymmetric one.
fn fits(key: &KmsKey, material: &[u8]) -> bool {
    if let Some(spec) = keyring::asymmetric_spec(key.key_spec) {
        return PrivateKey::from_pkcs8(material).is_of(spec);
    }
    if let Some(mac) = keyring::mac_of(key.key_spec) {
        return mac.imported_key_lengths().contains(&material.len());
    }
    material.len() == 32
}

/// Operations on imported material need a key of origin EXTERNAL that isn't pending deletion;
/// AWS's answer to another origin is `UnsupportedOperationException`.
fn external(key: &KmsKey) -> Result<(), KmsError> {
    if key.external.is_none() {
        return Err(KmsError::Unsupported(format!(
            "{} origin is {} which is not valid for this operation.",
            key.arn,
            key.origin()
        )));
    }
    if key.key_state == KeyState::PendingDeletion {
        return Err(pending_deletion(key));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersInput {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParametersOutput {
    key_id: String,
    import_token: String,
    public_key: String,
    parameters_valid_to: f64,
}

pub(crate) struct GetParametersForImport;

impl Operation for GetParametersForImport {
    type Service = Kms;
    const NAME: &'static str = "GetParametersForImport";
    type Input = GetParametersInput;
    type Output = GetParametersOutput;
    type Resolved = Found;

    fn validate(i: &GetParametersInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("wrappingAlgorithm", &i.wrapping_algorithm);
        v.one_of(
            "wrappingAlgorithm",
            i.wrapping_algorithm.as_deref(),
            WRAPPING_ALGORITHMS,
        );
        v.required("wrappingKeySpec", &i.wrapping_key_spec);
        v.one_of(
            "wrappingKeySpec",
            i.wrapping_key_spec.as_deref(),
            WRAPPING_KEY_SPECS,
        );
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &GetParametersInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a GetParametersInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(
            found_check(cx, cx.action, found)
                .condition(
                    "kms:WrappingAlgorithm",
                    i.wrapping_algorithm.as_deref().unwrap_or_default(),
                )
                .condition(
                    "kms:WrappingKeySpec",
                    i.wrapping_key_spec.as_deref().unwrap_or_default(),
                ),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &GetParametersInput, found: Found) -> Result<GetParametersOutput, KmsError> {
        let key = found.into_key(cx).await?;
        external(&key)?;
        let alg = i.wrapping_algorithm.as_deref().unwrap_or_default();
        let spec_name = i.wrapping_key_spec.as_deref().unwrap_or_default();
        // RSAES_PKCS1_V1_5 (which AWS retired for new imports) and the SM2 ones (China Regions
        // only) are not offered.
        let wrapping = Wrapping::parse(alg).ok_or_else(|| {
            KmsError::Unsupported(format!(
                "The wrapping algorithm {alg} is not supported by this server."
            ))
        })?;
        let spec = wrapping_spec(spec_name).ok_or_else(|| {
            KmsError::Unsupported(format!(
                "The wrapping key spec {spec_name} is not supported by this server."
            ))
        })?;
        let private = PrivateKey::generate(spec).map_err(|e| KmsError::Internal(e.to_string()))?;
        let public = private
            .public_key_der(spec)
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        let valid_to = cx.now().plus_millis(PARAMETERS_VALID_MS);
        let header = token_header(wrapping, spec, valid_to);
        let sealed = cx
            .services
            .keyring
            .seal_wrapping_key(&key.arn, &header, private.pkcs8())?;
        let mut token = header.to_vec();
        token.extend_from_slice(&sealed);
        Ok(GetParametersOutput {
            key_id: key.arn,
            import_token: b64(&token),
            public_key: b64(&public),
            parameters_valid_to: valid_to.epoch_seconds(),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImportInput {
    key_id: Option<String>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    import_token: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "kinko_wire::json::opt_blob::deserialize")]
    encrypted_key_material: Option<Vec<u8>>,
    valid_to: Option<f64>,
    expiration_model: Option<String>,
    import_type: Option<String>,
    key_material_description: Option<String>,
    key_material_id: Option<String>,
}

impl ImportInput {
    /// AWS's default: the material doesn't expire.
    fn expiration_model(&self) -> &str {
        self.expiration_model
            .as_deref()
            .unwrap_or(KEY_MATERIAL_DOES_NOT_EXPIRE)
    }

    fn valid_to(&self) -> Option<Timestamp> {
        // Whole milliseconds: what every timestamp here keeps.
        self.valid_to
            .map(|s| Timestamp::from_millis((s * 1000.0).round() as i64))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MaterialOutput {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_id: Option<String>,
}

impl MaterialOutput {
    fn of(key: &KmsKey) -> Self {
        MaterialOutput {
            key_id: key.arn.clone(),
            // Symmetric keys only, as DescribeKey's CurrentKeyMaterialId.
            key_material_id: (key.key_spec == KeySpec::SymmetricDefault && key.current_material > 0)
                .then(|| key_material_id(&key.key_id, key.current_material)),
        }
    }
}

pub(crate) struct ImportKeyMaterial;

impl Operation for ImportKeyMaterial {
    type Service = Kms;
    const NAME: &'static str = "ImportKeyMaterial";
    type Input = ImportInput;
    type Output = MaterialOutput;
    type Resolved = Found;

    fn validate(i: &ImportInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("importToken", &i.import_token);
        v.byte_length("importToken", i.import_token.as_deref(), 1, 6144);
        v.required("encryptedKeyMaterial", &i.encrypted_key_material);
        v.byte_length(
            "encryptedKeyMaterial",
            i.encrypted_key_material.as_deref(),
            1,
            6144,
        );
        v.one_of(
            "expirationModel",
            i.expiration_model.as_deref(),
            &[KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE],
        );
        v.one_of(
            "importType",
            i.import_type.as_deref(),
            &[NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL],
        );
        v.length(
            "keyMaterialDescription",
            i.key_material_description.as_deref(),
            0,
            256,
            false,
        );
        v.length("keyMaterialId", i.key_material_id.as_deref(), 64, 64, false);
        model::violations(v)?;
        // The pairing of ExpirationModel and ValidTo (AWS documents the rule; the texts are
        // the ones emulators quote).
        match (i.expiration_model(), i.valid_to) {
            (KEY_MATERIAL_EXPIRES, None) => Err(KmsError::Validation(
                "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into(),
            )),
            (KEY_MATERIAL_DOES_NOT_EXPIRE, Some(_)) => Err(KmsError::Validation(
                "The parameter ValidTo cannot be specified for a key with an expiration model of KEY_MATERIAL_DOES_NOT_EXPIRE"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    async fn resolve(cx: &Cx<'_>, i: &ImportInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a ImportInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut check =
            found_check(cx, cx.action, found).condition("kms:ExpirationModel", i.expiration_model());
        if let Some(t) = i.valid_to() {
            check = check.condition("kms:ValidTo", Cow::Owned((t.millis() / 1000).to_string()));
        }
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &ImportInput, found: Found) -> Result<MaterialOutput, KmsError> {
        let key = found.into_key(cx).await?;
        external(&key)?;
        let now = cx.now();
        let valid_to = i.valid_to();
        if let Some(t) = valid_to {
            // AWS: a future date, at most 365 days from the request (texts chosen here).
            if t <= now {
                return Err(KmsError::Validation("ValidTo must be in the future.".into()));
            }
            if t > now.plus_days(MAX_VALID_DAYS) {
                return Err(KmsError::Validation(format!(
                    "ValidTo must be at most {MAX_VALID_DAYS} days in the future."
                )));
            }
        }
        let imported = key.external.as_ref().is_some_and(|e| e.imported);
        match i.import_type.as_deref() {
            // New material for a key that has some is how AWS rotates imported material on
            // demand, which this server doesn't.
            Some(NEW_KEY_MATERIAL) if imported => {
                return Err(KmsError::Unsupported(format!(
                    "{} already has key material: only the same key material ({EXISTING_KEY_MATERIAL}) can be imported again.",
                    key.arn
                )));
            }
            // There is no material to be the same as.
            Some(EXISTING_KEY_MATERIAL) if !imported => return Err(KmsError::IncorrectKeyMaterial),
            _ => {}
        }
        if let Some(id) = &i.key_material_id
            && (!imported || *id != key_material_id(&key.key_id, key.current_material))
        {
            return Err(KmsError::IncorrectKeyMaterial);
        }
        let token = open_token(cx, &key, i.import_token.as_deref().unwrap_or_default())?;
        if token.valid_to <= now {
            return Err(KmsError::ExpiredImportToken);
        }
        let wrapped = i.encrypted_key_material.as_deref().unwrap_or_default();
        let material: Zeroizing<Vec<u8>> = if token.wrapping.aes_key_wrap {
            token
                .private
                .unwrap_rsa_aes(token.spec, token.wrapping.oaep, wrapped)
        } else {
            token.private.decrypt(token.wrapping.oaep, wrapped)
        }
        .map_err(|_| KmsError::InvalidCiphertext)?;
        if !fits(&key, &material) {
            return Err(KmsError::IncorrectKeyMaterial);
        }
        let mut next = key.clone();
        if let Some(e) = next.external.as_mut() {
            e.present = true;
            e.valid_to = valid_to;
        }
        // Material back after deletion or expiry makes the key usable; an import into a key
        // that has it (a new expiry) leaves it enabled or disabled as it is.
        if next.key_state == KeyState::PendingImport {
            next.key_state = KeyState::Enabled;
        }
        let stored = cx.services.keyring.import_material(next, &material).await?;
        Ok(MaterialOutput::of(&stored))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteInput {
    key_id: Option<String>,
    key_material_id: Option<String>,
}

pub(crate) struct DeleteImportedKeyMaterial;

impl Operation for DeleteImportedKeyMaterial {
    type Service = Kms;
    const NAME: &'static str = "DeleteImportedKeyMaterial";
    type Input = DeleteInput;
    type Output = MaterialOutput;
    type Resolved = Found;

    fn validate(i: &DeleteInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.length("keyMaterialId", i.key_material_id.as_deref(), 64, 64, false);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &DeleteInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found)))
    }

    async fn run(cx: &Cx<'_>, i: &DeleteInput, found: Found) -> Result<MaterialOutput, KmsError> {
        let mut key = found.into_key(cx).await?;
        external(&key)?;
        // The one material a key has here; another id names none of it (AWS's answer to a
        // material id the key doesn't have is not documented: the same as a wrong material).
        if let Some(id) = &i.key_material_id
            && *id != key_material_id(&key.key_id, key.current_material)
        {
            return Err(KmsError::IncorrectKeyMaterial);
        }
        if let Some(e) = key.external.as_mut() {
            e.present = false;
            e.valid_to = None;
        }
        key.key_state = KeyState::PendingImport;
        let out = MaterialOutput::of(&key);
        crate::kms::write_key(cx, key).await?;
        Ok(out)
    }
}
