//! KMS's errors (botocore's `kms` model): every client error is HTTP 400 with a lowercase `message`
//! member (some, like `InvalidCiphertextException`, with none); internal failures are logged and
//! answered as `KMSInternalException` (500).

use kinko_core::store::StoreError;
use kinko_wire::WireError;

use crate::keyring::KeyringError;

pub const INCORRECT_KEY: &str =
    "The key ID in the request does not identify a CMK that can perform this operation.";
pub const LOCKOUT: &str = "The new key policy will not allow you to update the key policy in the future.";
pub const INVALID_PRINCIPALS: &str = "Policy contains a statement with one or more invalid principals.";
/// AWS's texts for imported key material are its API reference's descriptions of the exceptions
/// (the service's own messages aren't published).
pub const INCORRECT_KEY_MATERIAL: &str = "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.";
pub const INVALID_IMPORT_TOKEN: &str =
    "The provided import token is invalid or is associated with a different KMS key.";
pub const EXPIRED_IMPORT_TOKEN: &str = "The specified import token is expired. Use GetParametersForImport to get a new import token and public key, use the new public key to encrypt the key material, and then try the request again.";
pub const DRY_RUN: &str = "The request would have succeeded, but the DryRun option is set.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("")]
    InvalidCiphertext,
    /// Verify's answer to a signature that doesn't verify; AWS sends no message.
    #[error("")]
    InvalidSignature,
    /// VerifyMac's answer to a MAC that doesn't verify; AWS sends no message.
    #[error("")]
    InvalidMac,
    #[error("{INCORRECT_KEY}")]
    IncorrectKey,
    #[error("{INCORRECT_KEY_MATERIAL}")]
    IncorrectKeyMaterial,
    #[error("{INVALID_IMPORT_TOKEN}")]
    InvalidImportToken,
    #[error("{EXPIRED_IMPORT_TOKEN}")]
    ExpiredImportToken,
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidMarker(String),
    #[error("{0}")]
    InvalidKeyUsage(String),
    #[error("{0}")]
    InvalidGrantToken(String),
    #[error("{0}")]
    InvalidGrantId(String),
    #[error("{0}")]
    Unsupported(String),
    /// Reserved (`alias/aws/`) alias names; AWS sends no message.
    #[error("")]
    NotAuthorized,
    #[error("{DRY_RUN}")]
    DryRun,
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Serialization(String),
    /// Logged in full; the client gets a generic message.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A concurrent change won: the operation is retried from a fresh read.
    #[error("conflict")]
    Conflict,
}

impl KmsError {
    pub fn code(&self) -> &'static str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext => "InvalidCiphertextException",
            KmsError::InvalidSignature => "KMSInvalidSignatureException",
            KmsError::InvalidMac => "KMSInvalidMacException",
            KmsError::IncorrectKey => "IncorrectKeyException",
            KmsError::IncorrectKeyMaterial => "IncorrectKeyMaterialException",
            KmsError::InvalidImportToken => "InvalidImportTokenException",
            KmsError::ExpiredImportToken => "ExpiredImportTokenException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::Tag(_) => "TagException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::InvalidMarker(_) => "InvalidMarkerException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            KmsError::InvalidGrantId(_) => "InvalidGrantIdException",
            KmsError::Unsupported(_) => "UnsupportedOperationException",
            KmsError::NotAuthorized => "NotAuthorizedException",
            KmsError::DryRun => "DryRunOperationException",
            KmsError::AccessDenied(_) => "AccessDeniedException",
            KmsError::Serialization(_) => "SerializationException",
            KmsError::Internal(_) | KmsError::Conflict => "KMSInternalException",
        }
    }

    pub fn to_wire(&self) -> WireError {
        match self {
            KmsError::Internal(_) | KmsError::Conflict => {
                WireError::new(self.code(), 500, "An internal error occurred.")
            }
            other => WireError::new(other.code(), 400, other.to_string()),
        }
    }
}

impl From<StoreError> for KmsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => KmsError::Conflict,
            StoreError::Backend(m) => KmsError::Internal(m),
        }
    }
}

impl From<KeyringError> for KmsError {
    fn from(e: KeyringError) -> Self {
        match e {
            // The `aws/secretsmanager` alias names a key that isn't there: AWS managed keys are never
            // deleted, so the store is inconsistent.
            KeyringError::NotFound => KmsError::Internal("the aws/secretsmanager alias names no key".into()),
            KeyringError::InvalidState(s) => {
                KmsError::Internal(format!("key in state {s:?} reached the keyring"))
            }
            KeyringError::InvalidCiphertext => KmsError::InvalidCiphertext,
            KeyringError::Store(e) => e.into(),
            KeyringError::Crypto(m) => KmsError::Internal(m),
            KeyringError::IncorrectMaterial => KmsError::IncorrectKeyMaterial,
        }
    }
}
