//! KMS shapes as they go on the wire (botocore's `kms` model), and checks several operations share.

use kinko_core::kms::{KeyManager, KeyState, KmsKey};
use kinko_core::secret::Tag;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::KmsError;

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
const MAX_TAGS: usize = 50;
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

/// Only symmetric encryption is offered: any other algorithm is refused.
pub(crate) fn symmetric_algorithm(key: &KmsKey, alg: Option<&str>) -> Result<(), KmsError> {
    match alg {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(other) => Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is ENCRYPT_DECRYPT which is not valid for the {other} encryption algorithm.",
            key.arn
        ))),
    }
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
        v.length(
            &format!("tags.{n}.member.tagKey"),
            t.key.as_deref(),
            1,
            128,
            false,
        );
        v.length(
            &format!("tags.{n}.member.tagValue"),
            t.value.as_deref(),
            0,
            256,
            false,
        );
    }
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
            .is_some_and(|k| k.to_ascii_lowercase().starts_with("aws:"))
    }) {
        return Err(KmsError::Tag("Tags beginning with aws: are reserved".into()));
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

/// A key policy document must parse (as a key policy) and fit the size quota.
pub(crate) fn check_policy(doc: &str) -> Result<(), KmsError> {
    if doc.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceeded(format!(
            "Policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )));
    }
    kinko_policy::Policy::parse(doc, kinko_policy::PolicyKind::KeyPolicy)
        .map(|_| ())
        .map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))
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

fn state_name(s: KeyState) -> &'static str {
    match s {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingDeletion => "PendingDeletion",
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
    encryption_algorithms: [&'static str; 1],
    multi_region: bool,
}

impl From<&KmsKey> for KeyMetadata {
    fn from(k: &KmsKey) -> Self {
        KeyMetadata {
            aws_account_id: k.account_id.clone(),
            key_id: k.key_id.clone(),
            arn: k.arn.clone(),
            creation_date: k.creation_date.epoch_seconds(),
            enabled: k.key_state == KeyState::Enabled,
            description: k.description.clone(),
            key_usage: ENCRYPT_DECRYPT,
            key_state: state_name(k.key_state),
            deletion_date: k.deletion_date.map(|d| d.epoch_seconds()),
            origin: "AWS_KMS",
            key_manager: match k.key_manager {
                KeyManager::Aws => "AWS",
                KeyManager::Customer => "CUSTOMER",
            },
            customer_master_key_spec: SYMMETRIC_DEFAULT,
            key_spec: SYMMETRIC_DEFAULT,
            encryption_algorithms: [SYMMETRIC_DEFAULT],
            multi_region: false,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyMetadataOutput {
    pub key_metadata: KeyMetadata,
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
