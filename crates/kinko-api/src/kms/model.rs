//! KMS shapes as they go on the wire (botocore's `kms` model), and checks several operations share.

use kinko_core::kms::{
    KeyManager, KeyRotation, KeySpec, KeyState, KeyUsage, KmsKey, MultiRegionKey, RotationType,
};
use kinko_core::secret::Tag;
use kinko_crypto::asymmetric::{Hash, Oaep, Signing};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::{KmsError, error};
use crate::keyring;

pub const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
pub const ENCRYPT_DECRYPT: &str = "ENCRYPT_DECRYPT";
pub const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
];
pub const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
pub const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];
pub const SIGNING_ALGORITHMS: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
];
pub const KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
];
/// The one `KeyAgreementAlgorithm`.
pub const ECDH: &str = "ECDH";
pub const MESSAGE_TYPES: &[&str] = &["RAW", "DIGEST", "EXTERNAL_MU"];
pub const MAC_ALGORITHMS: &[&str] = &["HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"];
const MAX_TAGS: usize = 50;

/// A `SigningAlgorithm` this server signs with.
pub(crate) fn signing(name: &str) -> Option<Signing> {
    Some(match name {
        "RSASSA_PSS_SHA_256" => Signing::RsaPss(Hash::Sha256),
        "RSASSA_PSS_SHA_384" => Signing::RsaPss(Hash::Sha384),
        "RSASSA_PSS_SHA_512" => Signing::RsaPss(Hash::Sha512),
        "RSASSA_PKCS1_V1_5_SHA_256" => Signing::RsaPkcs1(Hash::Sha256),
        "RSASSA_PKCS1_V1_5_SHA_384" => Signing::RsaPkcs1(Hash::Sha384),
        "RSASSA_PKCS1_V1_5_SHA_512" => Signing::RsaPkcs1(Hash::Sha512),
        "ECDSA_SHA_256" => Signing::Ecdsa(Hash::Sha256),
        "ECDSA_SHA_384" => Signing::Ecdsa(Hash::Sha384),
        "ECDSA_SHA_512" => Signing::Ecdsa(Hash::Sha512),
        _ => return None,
    })
}

/// The algorithms a key offers, as DescribeKey and GetPublicKey list them: only the member of
/// its usage is present.
pub(crate) struct Algorithms {
    pub encryption: Option<&'static [&'static str]>,
    pub signing: Option<&'static [&'static str]>,
    pub mac: Option<&'static [&'static str]>,
    pub agreement: Option<&'static [&'static str]>,
}

pub(crate) fn algorithms(spec: KeySpec, usage: KeyUsage) -> Algorithms {
    let none = Algorithms {
        encryption: None,
        signing: None,
        mac: None,
        agreement: None,
    };
    match usage {
        KeyUsage::EncryptDecrypt if spec.is_rsa() => Algorithms {
            encryption: Some(&["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]),
            ..none
        },
        KeyUsage::EncryptDecrypt => Algorithms {
            encryption: Some(&[SYMMETRIC_DEFAULT]),
            ..none
        },
        KeyUsage::SignVerify => Algorithms {
            signing: Some(match spec {
                KeySpec::EccNistP384 => &["ECDSA_SHA_384"],
                KeySpec::EccNistP521 => &["ECDSA_SHA_512"],
                KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => &["ECDSA_SHA_256"],
                _ => &[
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    "RSASSA_PKCS1_V1_5_SHA_384",
                    "RSASSA_PKCS1_V1_5_SHA_512",
                    "RSASSA_PSS_SHA_256",
                    "RSASSA_PSS_SHA_384",
                    "RSASSA_PSS_SHA_512",
                ],
            }),
            ..none
        },
        KeyUsage::GenerateVerifyMac => Algorithms {
            mac: Some(match spec {
                KeySpec::Hmac224 => &["HMAC_SHA_224"],
                KeySpec::Hmac384 => &["HMAC_SHA_384"],
                KeySpec::Hmac512 => &["HMAC_SHA_512"],
                _ => &["HMAC_SHA_256"],
            }),
            ..none
        },
        KeyUsage::KeyAgreement => Algorithms {
            agreement: Some(&[ECDH]),
            ..none
        },
    }
}

fn incompatible(alg: &str, spec: KeySpec) -> KmsError {
    KmsError::InvalidKeyUsage(format!(
        "Algorithm {alg} is incompatible with key spec {}.",
        spec.name()
    ))
}

/// The `EncryptionAlgorithm` of a request on an encryption key: `None` for a symmetric key
/// (SYMMETRIC_DEFAULT, the default), RSAES-OAEP for an RSA key (which must name it). Anything else
/// is refused as AWS does: `Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_4096.`
pub(crate) fn encryption_algorithm(spec: KeySpec, alg: Option<&str>) -> Result<Option<Oaep>, KmsError> {
    let alg = alg.unwrap_or(SYMMETRIC_DEFAULT);
    match (spec, alg) {
        (KeySpec::SymmetricDefault, SYMMETRIC_DEFAULT) => Ok(None),
        (s, "RSAES_OAEP_SHA_1") if s.is_rsa() => Ok(Some(Oaep::Sha1)),
        (s, "RSAES_OAEP_SHA_256") if s.is_rsa() => Ok(Some(Oaep::Sha256)),
        (s, other) => Err(incompatible(other, s)),
    }
}

/// The name of an encryption algorithm, as responses give it.
pub(crate) fn encryption_algorithm_name(oaep: Option<Oaep>) -> &'static str {
    match oaep {
        None => SYMMETRIC_DEFAULT,
        Some(Oaep::Sha1) => "RSAES_OAEP_SHA_1",
        Some(Oaep::Sha256) => "RSAES_OAEP_SHA_256",
    }
}

/// The `SigningAlgorithm` of a request on a signing key, which must suit its key spec.
pub(crate) fn signing_algorithm(spec: KeySpec, alg: &str) -> Result<Signing, KmsError> {
    let fits = keyring::asymmetric_spec(spec)
        .zip(signing(alg))
        .filter(|(s, a)| a.fits(*s));
    fits.map(|(_, a)| a).ok_or_else(|| incompatible(alg, spec))
}
/// Largest key policy, in bytes (KMS quotas).
pub const MAX_POLICY_BYTES: usize = 32_768;

/// Model violations, reported as `ValidationException`.
pub(crate) fn violations(v: Violations) -> Result<(), KmsError> {
    match v.message() {
        Some(m) => Err(KmsError::Validation(m)),
        None => Ok(()),
    }
}

/// The `KeyId` member: required, 1 to 2048 characters.
pub(crate) fn check_key_id(v: &mut Violations, path: &str, key_id: &Option<String>) {
    v.required(path, key_id);
    v.length(path, key_id.as_deref(), 1, 2048, false);
}

/// The algorithm of a symmetric key's request (ReEncrypt): SYMMETRIC_DEFAULT only.
pub(crate) fn symmetric_algorithm(alg: Option<&str>) -> Result<(), KmsError> {
    encryption_algorithm(KeySpec::SymmetricDefault, alg).map(|_| ())
}

/// `kms:RequestAlias`: the alias name a request names its key by (as an alias name or alias
/// ARN), for cryptographic operations and DescribeKey. Absent when the key is named otherwise.
pub(crate) fn request_alias(key_id: Option<&str>) -> Option<&str> {
    let v = key_id?;
    if v.starts_with("alias/") {
        return Some(v);
    }
    kinko_core::arn::Arn::parse(v)
        .filter(|a| a.service == "kms" && a.resource.starts_with("alias/"))
        .map(|a| a.resource)
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct TagShape {
    #[serde(rename = "TagKey")]
    pub key: Option<String>,
    #[serde(rename = "TagValue")]
    pub value: Option<String>,
}

/// Tag constraints: lengths as ValidationException, then KMS's TagException rules.
pub(crate) fn check_tags(tags: Option<&[TagShape]>) -> Result<(), KmsError> {
    let Some(tags) = tags else { return Ok(()) };
    let mut v = Violations::new();
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        v.required(&format!("tags.{n}.member.tagKey"), &t.key);
        v.required(&format!("tags.{n}.member.tagValue"), &t.value);
    }
    v.tags(
        "tags",
        tags.iter().map(|t| (t.key.as_deref(), t.value.as_deref())),
        &kinko_wire::validate::KMS_TAGS,
    );
    violations(v)?;
    let mut seen = std::collections::HashSet::new();
    if tags
        .iter()
        .any(|t| !seen.insert(t.key.as_deref().unwrap_or_default()))
    {
        return Err(KmsError::Tag("Duplicate tag keys".into()));
    }
    if tags.len() > MAX_TAGS {
        return Err(KmsError::Tag("Too many tags".into()));
    }
    if tags.iter().any(|t| {
        t.key
            .as_deref()
            .is_some_and(kinko_wire::validate::is_reserved_tag_key)
    }) {
        return Err(KmsError::Tag("Tags beginning with aws: are reserved".into()));
    }
    // A character outside AWS's tag set: `Invalid tag` (KMS's CloudTrail errorMessage, quoted in
    // crossplane-contrib/provider-upjet-aws#922).
    if tags
        .iter()
        .flat_map(|t| [&t.key, &t.value])
        .flatten()
        .any(|s| !kinko_wire::validate::is_tag_text(s))
    {
        return Err(KmsError::Tag("Invalid tag".into()));
    }
    Ok(())
}

pub(crate) fn request_tags(tags: Option<&[TagShape]>) -> Vec<(String, String)> {
    tags.into_iter()
        .flatten()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Applies tags to a key: an existing key's value is replaced.
pub(crate) fn apply_tags(key: &mut KmsKey, tags: &[TagShape]) -> Result<(), KmsError> {
    for t in tags {
        let k = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        match key.tags.iter_mut().find(|x| x.key == k) {
            Some(existing) => existing.value = value,
            None => key.tags.push(Tag { key: k, value }),
        }
    }
    if key.tags.len() > MAX_TAGS {
        return Err(KmsError::Tag("Too many tags".into()));
    }
    Ok(())
}

/// The key policy CreateKey gives a key when none is passed: the account may use the key as its
/// IAM policies allow.
pub(crate) fn default_key_policy(account_id: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// A key policy document must parse (as a key policy) and fit the size quota. A malformed
/// principal gets KMS's own wording rather than IAM's.
pub(crate) fn check_policy(doc: &str) -> Result<(), KmsError> {
    if doc.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceeded(format!(
            "Policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )));
    }
    kinko_policy::Policy::parse(doc, kinko_policy::PolicyKind::KeyPolicy)
        .map(|_| ())
        .map_err(|e| match e {
            kinko_policy::PolicyError::InvalidPrincipal { .. } => {
                KmsError::MalformedPolicyDocument(error::INVALID_PRINCIPALS.into())
            }
            other => KmsError::MalformedPolicyDocument(other.to_string()),
        })
}

/// The `Policy` member: 1 to 131072 characters of `[\u0009\u000A\u000D\u0020-\u00FF]`.
pub(crate) fn check_policy_member(v: &mut Violations, policy: Option<&str>) {
    v.length("policy", policy, 1, 131_072, false);
    if let Some(p) = policy
        && !p
            .chars()
            .all(|c| matches!(c, '\u{09}' | '\u{0A}' | '\u{0D}' | '\u{20}'..='\u{FF}'))
    {
        v.pattern(
            "policy",
            Some(p),
            "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
            false,
        );
    }
}

/// The id of one material version of a key (`CurrentKeyMaterialId`, `KeyMaterialId`): 64 hex
/// digits, as AWS gives. AWS doesn't document how it makes them and clients treat them as opaque;
/// here they are the key id's 32 hex digits followed by the version, so they are stable, distinct
/// per version and change when the key rotates.
pub(crate) fn key_material_id(key_id: &str, version: u32) -> String {
    let hex: String = key_id.chars().filter(char::is_ascii_hexdigit).collect();
    format!("{hex:0>32}{version:032x}")
}

fn state_name(s: KeyState) -> &'static str {
    match s {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingDeletion => "PendingDeletion",
        KeyState::PendingImport => "PendingImport",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: String,
    key_id: String,
    arn: String,
    creation_date: f64,
    enabled: bool,
    description: String,
    key_usage: &'static str,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    origin: &'static str,
    key_manager: &'static str,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithms: Option<&'static [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_algorithms: Option<&'static [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac_algorithms: Option<&'static [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_agreement_algorithms: Option<&'static [&'static str]>,
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_region_configuration: Option<MultiRegionConfiguration>,
    /// Keys of imported material, while they have it: `KEY_MATERIAL_EXPIRES` or
    /// `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<&'static str>,
    /// When imported material expires (`KEY_MATERIAL_EXPIRES`).
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<f64>,
    /// Symmetric keys only: the others have one material and no rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    current_key_material_id: Option<String>,
}

impl From<&KmsKey> for KeyMetadata {
    fn from(k: &KmsKey) -> Self {
        let algorithms = algorithms(k.key_spec, k.key_usage);
        KeyMetadata {
            aws_account_id: k.account_id.clone(),
            key_id: k.key_id.clone(),
            arn: k.arn.clone(),
            creation_date: k.creation_date.epoch_seconds(),
            enabled: k.key_state == KeyState::Enabled,
            description: k.description.clone(),
            key_usage: k.key_usage.name(),
            key_state: state_name(k.key_state),
            deletion_date: k.deletion_date.map(|d| d.epoch_seconds()),
            origin: k.origin(),
            key_manager: match k.key_manager {
                KeyManager::Aws => "AWS",
                KeyManager::Customer => "CUSTOMER",
            },
            customer_master_key_spec: k.key_spec.name(),
            key_spec: k.key_spec.name(),
            encryption_algorithms: algorithms.encryption,
            signing_algorithms: algorithms.signing,
            mac_algorithms: algorithms.mac,
            key_agreement_algorithms: algorithms.agreement,
            multi_region: k.multi_region.is_some(),
            multi_region_configuration: k
                .multi_region
                .as_ref()
                .map(|m| MultiRegionConfiguration::of(k, m)),
            expiration_model: k.external.as_ref().filter(|e| e.present).map(|e| {
                if e.valid_to.is_some() {
                    "KEY_MATERIAL_EXPIRES"
                } else {
                    "KEY_MATERIAL_DOES_NOT_EXPIRE"
                }
            }),
            valid_to: k
                .external
                .as_ref()
                .and_then(|e| e.valid_to)
                .map(|t| t.epoch_seconds()),
            // A key for imported material has none before the first import (version 0).
            current_key_material_id: (k.key_spec == KeySpec::SymmetricDefault && k.current_material > 0)
                .then(|| key_material_id(&k.key_id, k.current_material)),
        }
    }
}

/// `MultiRegionConfiguration`: which of the related keys this one is, and all of them.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MultiRegionConfiguration {
    multi_region_key_type: &'static str,
    primary_key: MultiRegionKeyShape,
    replica_keys: Vec<MultiRegionKeyShape>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MultiRegionKeyShape {
    arn: String,
    region: String,
}

impl MultiRegionConfiguration {
    fn of(k: &KmsKey, m: &MultiRegionKey) -> Self {
        let shape = |region: &str| MultiRegionKeyShape {
            arn: kinko_core::kms::key_arn(region, &k.account_id, &k.key_id),
            region: region.to_owned(),
        };
        MultiRegionConfiguration {
            multi_region_key_type: if k.is_replica() { "REPLICA" } else { "PRIMARY" },
            primary_key: shape(&m.primary_region),
            replica_keys: m.replica_regions.iter().map(|r| shape(r)).collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyMetadataOutput {
    pub key_metadata: KeyMetadata,
}

/// One material of a key in ListKeyRotations (`RotationsListEntry`). The members for imported key
/// material (`ImportState`, `ExpirationModel`, `ValidTo`, `KeyMaterialDescription`) never apply.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RotationsListEntry {
    key_id: String,
    key_material_id: String,
    /// `CURRENT` (encrypts and decrypts) or `NON_CURRENT` (decrypts only).
    key_material_state: &'static str,
    /// Absent for the first material.
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_type: Option<&'static str>,
}

impl RotationsListEntry {
    /// Material `version` of `key`, made by `rotation` (`None` for the first material).
    pub(crate) fn new(key: &KmsKey, version: u32, rotation: Option<&KeyRotation>) -> Self {
        RotationsListEntry {
            key_id: key.key_id.clone(),
            key_material_id: key_material_id(&key.key_id, version),
            key_material_state: if version == key.current_material {
                "CURRENT"
            } else {
                "NON_CURRENT"
            },
            rotation_date: rotation.map(|r| r.date.epoch_seconds()),
            rotation_type: rotation.map(|r| match r.rotation_type {
                RotationType::Automatic => "AUTOMATIC",
                RotationType::OnDemand => "ON_DEMAND",
            }),
        }
    }
}

/// A `Marker` (an offset into the listing) and `Limit` pair, checked.
pub(crate) fn page<T>(
    items: Vec<T>,
    limit: Option<i64>,
    max: i64,
    default: i64,
    marker: Option<&str>,
) -> Result<(Vec<T>, Option<String>), KmsError> {
    let mut v = Violations::new();
    v.range("limit", limit, 1, max);
    v.length("marker", marker, 1, 1024, false);
    violations(v)?;
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| KmsError::InvalidMarker("Invalid marker".into()))?,
    };
    let take = usize::try_from(limit.unwrap_or(default)).unwrap_or(1);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(take).collect();
    let next = start.saturating_add(take);
    Ok((page, (next < total).then(|| next.to_string())))
}
