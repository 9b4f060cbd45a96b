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
    #[serde(skip)]
    pub revision: i64,
}

impl KmsKey {
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
