//! KMS key records: metadata, state and the (root-key-wrapped) key material versions.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The alias of the AWS managed key Secrets Manager uses when a secret names no key.
pub const SECRETSMANAGER_ALIAS: &str = "alias/aws/secretsmanager";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    #[serde(rename = "AWS")]
    Aws,
    #[serde(rename = "CUSTOMER")]
    Customer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// A key of imported material (`Origin` EXTERNAL) without usable material: none imported yet,
    /// deleted by DeleteImportedKeyMaterial, or expired.
    PendingImport,
}

/// What a key is (`KeySpec`): its material and so the algorithms it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KeySpec {
    #[default]
    #[serde(rename = "SYMMETRIC_DEFAULT")]
    SymmetricDefault,
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    #[serde(rename = "RSA_3072")]
    Rsa3072,
    #[serde(rename = "RSA_4096")]
    Rsa4096,
    #[serde(rename = "ECC_NIST_P256")]
    EccNistP256,
    #[serde(rename = "ECC_NIST_P384")]
    EccNistP384,
    #[serde(rename = "ECC_NIST_P521")]
    EccNistP521,
    #[serde(rename = "ECC_SECG_P256K1")]
    EccSecgP256k1,
    #[serde(rename = "HMAC_224")]
    Hmac224,
    #[serde(rename = "HMAC_256")]
    Hmac256,
    #[serde(rename = "HMAC_384")]
    Hmac384,
    #[serde(rename = "HMAC_512")]
    Hmac512,
}

impl KeySpec {
    pub const ALL: [KeySpec; 12] = [
        KeySpec::SymmetricDefault,
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::Rsa4096,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::Hmac224,
        KeySpec::Hmac256,
        KeySpec::Hmac384,
        KeySpec::Hmac512,
    ];

    /// The AWS name (`RSA_2048`).
    pub fn name(self) -> &'static str {
        match self {
            KeySpec::SymmetricDefault => "SYMMETRIC_DEFAULT",
            KeySpec::Rsa2048 => "RSA_2048",
            KeySpec::Rsa3072 => "RSA_3072",
            KeySpec::Rsa4096 => "RSA_4096",
            KeySpec::EccNistP256 => "ECC_NIST_P256",
            KeySpec::EccNistP384 => "ECC_NIST_P384",
            KeySpec::EccNistP521 => "ECC_NIST_P521",
            KeySpec::EccSecgP256k1 => "ECC_SECG_P256K1",
            KeySpec::Hmac224 => "HMAC_224",
            KeySpec::Hmac256 => "HMAC_256",
            KeySpec::Hmac384 => "HMAC_384",
            KeySpec::Hmac512 => "HMAC_512",
        }
    }

    /// The spec an AWS name names, if this server offers it.
    pub fn parse(name: &str) -> Option<KeySpec> {
        KeySpec::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096)
    }

    pub fn is_ecc(self) -> bool {
        matches!(
            self,
            KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 | KeySpec::EccSecgP256k1
        )
    }

    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512
        )
    }

    /// The key usages a key of this spec may have (CreateKey).
    pub fn usages(self) -> &'static [KeyUsage] {
        if self.is_rsa() {
            &[KeyUsage::EncryptDecrypt, KeyUsage::SignVerify]
        } else if self == KeySpec::EccSecgP256k1 {
            &[KeyUsage::SignVerify]
        } else if self.is_ecc() {
            // The NIST curves also derive shared secrets (ECDH).
            &[KeyUsage::SignVerify, KeyUsage::KeyAgreement]
        } else if self.is_hmac() {
            &[KeyUsage::GenerateVerifyMac]
        } else {
            &[KeyUsage::EncryptDecrypt]
        }
    }
}

/// What a key is for (`KeyUsage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KeyUsage {
    #[default]
    #[serde(rename = "ENCRYPT_DECRYPT")]
    EncryptDecrypt,
    #[serde(rename = "SIGN_VERIFY")]
    SignVerify,
    #[serde(rename = "GENERATE_VERIFY_MAC")]
    GenerateVerifyMac,
    #[serde(rename = "KEY_AGREEMENT")]
    KeyAgreement,
}

impl KeyUsage {
    /// The AWS name (`SIGN_VERIFY`).
    pub fn name(self) -> &'static str {
        match self {
            KeyUsage::EncryptDecrypt => "ENCRYPT_DECRYPT",
            KeyUsage::SignVerify => "SIGN_VERIFY",
            KeyUsage::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
            KeyUsage::KeyAgreement => "KEY_AGREEMENT",
        }
    }

    /// The usage an AWS name names, if this server offers it.
    pub fn parse(name: &str) -> Option<KeyUsage> {
        [
            KeyUsage::EncryptDecrypt,
            KeyUsage::SignVerify,
            KeyUsage::GenerateVerifyMac,
            KeyUsage::KeyAgreement,
        ]
        .into_iter()
        .find(|u| u.name() == name)
    }
}

/// A KMS key's metadata. Its material lives in separate rows, wrapped by the root key: 32 random
/// bytes for a symmetric key, the PKCS #8 private key of an asymmetric one, the HMAC key bytes of
/// an HMAC one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKey {
    pub key_id: String,
    pub arn: String,
    pub account_id: String,
    pub region: String,
    pub description: String,
    /// Records from before asymmetric keys are symmetric.
    #[serde(default)]
    pub key_spec: KeySpec,
    #[serde(default)]
    pub key_usage: KeyUsage,
    pub key_manager: KeyManager,
    pub key_state: KeyState,
    pub creation_date: Timestamp,
    pub policy: String,
    /// The users and roles `policy` names, bound to their unique ids when it was saved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_principals: Vec<crate::principal::BoundPrincipal>,
    /// The material version new ciphertexts use; older versions keep decrypting.
    pub current_material: u32,
    /// When the key is deleted for good; set only while `PendingDeletion`.
    #[serde(default)]
    pub deletion_date: Option<Timestamp>,
    #[serde(default)]
    pub tags: Vec<crate::secret::Tag>,
    /// Automatic rotation: the period in days while it is enabled.
    #[serde(default)]
    pub rotation_period_days: Option<u32>,
    /// When automatic rotation counts from: the key's creation, the last time automatic rotation
    /// was turned on, or the last automatic rotation. On-demand rotations don't move it: AWS keeps
    /// the automatic schedule across them. `None` (records from before it existed): the creation.
    #[serde(default)]
    pub material_date: Option<Timestamp>,
    /// Every completed rotation, oldest first (the first material is not a rotation).
    #[serde(default)]
    pub rotations: Vec<KeyRotation>,
    /// The key's grants, oldest first: stored with the key, so deleting the key deletes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<KmsGrant>,
    /// Set for a key whose material the customer imports (`Origin` EXTERNAL); `None` for a key
    /// whose material the server made (`AWS_KMS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalMaterial>,
    /// Set for a multi-Region key (id `mrk-...`): the regions of the related keys, the same on
    /// each of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<MultiRegionKey>,
    #[serde(skip)]
    pub revision: i64,
}

/// The related keys of a multi-Region key ("Multi-Region keys in AWS KMS"): one key id, one key
/// ARN per region, the same key material (each key holds its own copy, wrapped with its ARN),
/// key spec and usage; their own key policies, descriptions, tags, aliases and states. New
/// material comes from the primary key only (rotation), and is copied to every replica.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MultiRegionKey {
    pub primary_region: String,
    /// The regions of the replica keys, in the order they were made.
    #[serde(default)]
    pub replica_regions: Vec<String>,
}

impl MultiRegionKey {
    /// Every region of the related keys, the primary's first.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary_region.as_str()).chain(self.replica_regions.iter().map(String::as_str))
    }
}

/// The imported material of a key of `Origin` EXTERNAL ("Importing key material").
///
/// The first import stores the material (wrapped by the root key, like any key material) as
/// version 1; until then the key has only version 0, which holds nothing. Deleting the imported
/// material or its expiry puts the key in `PendingImport`; AWS then accepts only the same
/// material again, so the stored version is what a later import is compared with, and what
/// ciphertexts made before keep decrypting with once it is back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExternalMaterial {
    /// Material was imported once: version `current_material` holds it.
    #[serde(default)]
    pub imported: bool,
    /// The imported material may be used: imported, and neither deleted nor expired since.
    #[serde(default)]
    pub present: bool,
    /// `KEY_MATERIAL_EXPIRES`: when the material expires; `None` while it doesn't expire (or
    /// there is none).
    #[serde(default)]
    pub valid_to: Option<Timestamp>,
}

/// A grant on a KMS key ("Grants in AWS KMS"): its grantee may call `operations` on the key, in
/// addition to what the key policy and IAM allow; an explicit deny still wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsGrant {
    /// 64 hex digits.
    pub grant_id: String,
    /// The `Name` of CreateGrant (empty when none): a retry with the same name and fields gets this grant.
    #[serde(default)]
    pub name: String,
    pub grantee_principal: String,
    #[serde(default)]
    pub retiring_principal: Option<String>,
    /// Grant operations as AWS names them (`Decrypt`, `CreateGrant`, ...).
    pub operations: Vec<String>,
    #[serde(default)]
    pub constraints: Option<GrantConstraints>,
    /// `arn:aws:iam::<account>:root` of the account the grant was created in.
    pub issuing_account: String,
    pub creation_date: Timestamp,
    /// The grantee and retiring principal, bound to their unique ids when the grant was created
    /// (those that were IAM users or roles that existed then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<crate::principal::BoundPrincipal>,
}

/// A grant's encryption context constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConstraints {
    #[serde(default)]
    pub encryption_context_subset: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub encryption_context_equals: Option<std::collections::BTreeMap<String, String>>,
}

/// The grant operations that take an encryption context: a grant's constraints apply to these
/// only ("Using grant constraints").
pub const CONTEXT_GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
];

impl KmsGrant {
    /// The key policy statements that say what this grant allows: its operations for the grantee,
    /// the encryption context ones under its constraints, CreateGrant only for grants no wider
    /// than this one ("Granting CreateGrant permission"); with `retiring`, RetireGrant for the
    /// retiring principal too (only the check of RetireGrant on this very grant asks for that).
    pub fn statements(&self, retiring: bool) -> Vec<serde_json::Value> {
        use serde_json::{Map, Value, json};
        let principal = |p: &str| -> Value {
            if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                json!({ "AWS": format!("arn:aws:iam::{p}:root") })
            } else {
                json!({ "AWS": p })
            }
        };
        let actions = |ops: &[&String]| -> Value {
            Value::Array(ops.iter().map(|o| Value::String(format!("kms:{o}"))).collect())
        };
        let (context_ops, other_ops): (Vec<&String>, Vec<&String>) = self
            .operations
            .iter()
            .filter(|o| o.as_str() != "CreateGrant")
            .partition(|o| CONTEXT_GRANT_OPERATIONS.contains(&o.as_str()));
        let mut out = Vec::new();
        let pairs = self.constraints.as_ref().and_then(|c| {
            c.encryption_context_equals
                .as_ref()
                .map(|m| (m, true))
                .or(c.encryption_context_subset.as_ref().map(|m| (m, false)))
        });
        // The conditions a request's encryption context (CreateGrant: the new grant's constraint)
        // must meet: each pair present (context keys compare without case, values exactly), and
        // for EncryptionContextEquals no other key.
        let context_condition = |equals: bool, m: &std::collections::BTreeMap<String, String>| {
            let mut cond = Map::new();
            if !m.is_empty() {
                let mut eq = Map::new();
                for (k, v) in m {
                    eq.insert(format!("kms:EncryptionContext:{k}"), Value::String(v.clone()));
                }
                cond.insert("StringEquals".into(), Value::Object(eq));
            }
            if equals && m.is_empty() {
                cond.insert("Null".into(), json!({ "kms:EncryptionContextKeys": "true" }));
            } else if equals {
                let keys: Vec<Value> = m.keys().map(|k| Value::String(k.clone())).collect();
                cond.insert(
                    "ForAllValues:StringEqualsIgnoreCase".into(),
                    json!({ "kms:EncryptionContextKeys": keys }),
                );
            }
            cond
        };
        if !other_ops.is_empty() {
            out.push(json!({
                "Effect": "Allow",
                "Principal": principal(&self.grantee_principal),
                "Action": actions(&other_ops),
                "Resource": "*",
            }));
        }
        if !context_ops.is_empty() {
            let mut s = json!({
                "Effect": "Allow",
                "Principal": principal(&self.grantee_principal),
                "Action": actions(&context_ops),
                "Resource": "*",
            });
            if let Some((m, equals)) = pairs {
                s["Condition"] = Value::Object(context_condition(equals, m));
            }
            out.push(s);
        }
        if self.operations.iter().any(|o| o == "CreateGrant") {
            let ops: Vec<Value> = self.operations.iter().map(|o| Value::String(o.clone())).collect();
            let mut cond = Map::new();
            cond.insert(
                "ForAllValues:StringEquals".into(),
                json!({ "kms:GrantOperations": ops }),
            );
            if let Some((m, equals)) = pairs {
                // A new grant at least as strict: the same pairs, and for EncryptionContextEquals
                // the same kind of constraint with no other pair.
                for (k, v) in context_condition(equals, m) {
                    cond.insert(k, v);
                }
                let mut ty = Map::new();
                if equals {
                    ty.insert(
                        "kms:GrantConstraintType".into(),
                        Value::String("EncryptionContextEquals".into()),
                    );
                    let mut eq = cond
                        .remove("StringEquals")
                        .and_then(|v| match v {
                            Value::Object(o) => Some(o),
                            _ => None,
                        })
                        .unwrap_or_default();
                    eq.extend(ty);
                    cond.insert("StringEquals".into(), Value::Object(eq));
                } else {
                    cond.insert("Null".into(), json!({ "kms:GrantConstraintType": "false" }));
                }
            }
            out.push(json!({
                "Effect": "Allow",
                "Principal": principal(&self.grantee_principal),
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": Value::Object(cond),
            }));
        }
        if retiring && let Some(r) = &self.retiring_principal {
            out.push(json!({
                "Effect": "Allow",
                "Principal": principal(r),
                "Action": "kms:RetireGrant",
                "Resource": "*",
            }));
        }
        out
    }
}

/// `policy` with the statements of `grants` added (see [`KmsGrant::statements`]); `None` when the
/// key policy isn't a JSON object (it then allows nothing, and neither do the grants on their own).
pub fn policy_with_grants(policy: &str, grants: &[KmsGrant], retiring: bool) -> Option<String> {
    let mut doc: serde_json::Value = serde_json::from_str(policy).ok()?;
    let obj = doc.as_object_mut()?;
    let mut statements = match obj.remove("Statement") {
        Some(serde_json::Value::Array(a)) => a,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    for g in grants {
        statements.extend(g.statements(retiring));
    }
    obj.insert("Statement".into(), serde_json::Value::Array(statements));
    Some(doc.to_string())
}

impl KmsKey {
    /// `Origin`: `EXTERNAL` for imported material, else `AWS_KMS`.
    pub fn origin(&self) -> &'static str {
        if self.external.is_some() {
            "EXTERNAL"
        } else {
            "AWS_KMS"
        }
    }

    /// The key as it is at `now`: imported material whose `ValidTo` passed is gone, as AWS
    /// deletes it then, and the key is `PendingImport` (a key pending deletion stays so).
    pub fn at(mut self, now: Timestamp) -> Self {
        let expired = self
            .external
            .as_ref()
            .and_then(|e| e.valid_to)
            .is_some_and(|t| t <= now);
        if expired {
            if let Some(e) = self.external.as_mut() {
                e.valid_to = None;
                e.present = false;
            }
            if matches!(self.key_state, KeyState::Enabled | KeyState::Disabled) {
                self.key_state = KeyState::PendingImport;
            }
        }
        self
    }

    /// A replica key of a multi-Region key (not its primary).
    pub fn is_replica(&self) -> bool {
        self.multi_region
            .as_ref()
            .is_some_and(|m| m.primary_region != self.region)
    }

    /// Whether a key of imported material is without usable material (the state a key
    /// returns to when its deletion is cancelled is then `PendingImport`).
    pub fn lacks_material(&self) -> bool {
        self.external.as_ref().is_some_and(|e| !e.present)
    }

    /// When the key is due for automatic rotation: the anchor plus the period, while rotation is
    /// enabled and the key is `Enabled`. A disabled key isn't rotated; once enabled again it is
    /// rotated at once if its date passed meanwhile, as AWS does. Stores index this value.
    pub fn next_rotation_date(&self) -> Option<Timestamp> {
        let days = self.rotation_period_days?;
        (self.key_state == KeyState::Enabled).then(|| {
            self.material_date
                .unwrap_or(self.creation_date)
                .plus_days(i64::from(days))
        })
    }

    /// How many on-demand rotations the key had.
    pub fn on_demand_rotations(&self) -> usize {
        self.rotations
            .iter()
            .filter(|r| r.rotation_type == RotationType::OnDemand)
            .count()
    }
}

/// What started a rotation (`RotationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationType {
    #[serde(rename = "AUTOMATIC")]
    Automatic,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

/// One completed rotation: the material version it made current, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    pub material: u32,
    pub date: Timestamp,
    pub rotation_type: RotationType,
}

/// An alias: a friendly name (`alias/...`) pointing at one key of the same account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsAlias {
    pub account_id: String,
    pub region: String,
    pub alias_name: String,
    pub target_arn: String,
    pub creation_date: Timestamp,
    pub last_updated_date: Timestamp,
}

pub fn alias_arn(region: &str, account_id: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account_id}:{alias_name}")
}

pub fn key_arn(region: &str, account_id: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account_id}:key/{key_id}")
}

/// One version of a key's material, wrapped under the root key with the key ARN and the version as
/// associated data.
#[derive(Debug, Clone)]
pub struct WrappedMaterial {
    pub key_arn: String,
    pub version: u32,
    pub wrapped: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn grant(operations: &[&str], constraints: Option<GrantConstraints>) -> KmsGrant {
        KmsGrant {
            grant_id: "0".repeat(64),
            name: String::new(),
            grantee_principal: "arn:aws:iam::111122223333:user/app".to_owned(),
            retiring_principal: Some("111122223333".to_owned()),
            operations: operations.iter().map(|o| (*o).to_owned()).collect(),
            constraints,
            issuing_account: "arn:aws:iam::111122223333:root".to_owned(),
            creation_date: Timestamp::from_millis(0),
            principals: vec![],
        }
    }

    fn equals(pairs: &[(&str, &str)]) -> Option<GrantConstraints> {
        Some(GrantConstraints {
            encryption_context_subset: None,
            encryption_context_equals: Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
        })
    }

    /// Constraints bind the operations that take an encryption context, not DescribeKey; the
    /// retiring principal (an account id: its root) is named only for RetireGrant's own check.
    #[test]
    fn statements_constrain_only_context_operations() {
        let g = grant(&["Decrypt", "DescribeKey"], equals(&[("Department", "IT")]));
        let user = json!({"AWS": "arn:aws:iam::111122223333:user/app"});
        assert_eq!(
            g.statements(false),
            vec![
                json!({"Effect": "Allow", "Principal": user, "Action": ["kms:DescribeKey"], "Resource": "*"}),
                json!({"Effect": "Allow", "Principal": user, "Action": ["kms:Decrypt"], "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:EncryptionContext:Department": "IT"},
                    "ForAllValues:StringEqualsIgnoreCase": {"kms:EncryptionContextKeys": ["Department"]}
                }}),
            ]
        );
        let retiring = g.statements(true);
        assert_eq!(
            retiring.last(),
            Some(
                &json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:RetireGrant", "Resource": "*"})
            )
        );
    }

    /// A grant of CreateGrant allows only grants of its operations under an equally strict constraint.
    #[test]
    fn create_grant_is_limited_to_what_the_grant_has() {
        let g = grant(&["Encrypt", "CreateGrant"], equals(&[("k", "v")]));
        let s = g.statements(false);
        assert_eq!(
            s.last().map(|s| &s["Condition"]),
            Some(&json!({
                "ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "CreateGrant"]},
                "StringEquals": {"kms:EncryptionContext:k": "v", "kms:GrantConstraintType": "EncryptionContextEquals"},
                "ForAllValues:StringEqualsIgnoreCase": {"kms:EncryptionContextKeys": ["k"]}
            }))
        );
    }

    #[test]
    fn grants_are_added_to_the_key_policy() {
        let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}}"#;
        let merged = policy_with_grants(policy, &[grant(&["Decrypt"], None)], false).expect("merged");
        let doc: serde_json::Value = serde_json::from_str(&merged).expect("json");
        assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(policy_with_grants("not json", &[], false), None);
    }
}
