//! Secrets Manager's errors: each knows its AWS code and HTTP status. Domain and storage errors map
//! here with exhaustive matches; internal failures are logged, and clients only see
//! `InternalServiceError`.

use kinko_core::secret::SecretError;
use kinko_core::store::StoreError;
use kinko_wire::WireError;

use crate::keyring::KeyringError;

pub const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
pub const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";
pub const INVALID_NAME: &str = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";
pub const TOKEN_REQUIRED: &str =
    "You must provide a ClientRequestToken value. We recommend a UUID-type value.";
/// RotateSecret when the rotation function may not be invoked by Secrets Manager (its resource
/// policy doesn't allow `secretsmanager.amazonaws.com`, or it doesn't exist).
pub const CANNOT_INVOKE: &str = "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.";
/// RotateSecret with no RotationLambdaARN given or stored.
pub const NO_LAMBDA: &str = "No Lambda rotation function ARN is associated with this secret.";
/// RotateSecret while `AWSPENDING` is on a version other than the current one.
pub const PREVIOUS_ROTATION: &str = "A previous rotation isn't complete. That rotation will be reattempted.";
pub const BOTH_VALUES: &str = "The request had invalid params: You can't specify both a binary secret value and a string secret value in the same secret.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    ResourceExists(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    PublicPolicy(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    EncryptionFailure(String),
    #[error("{0}")]
    DecryptionFailure(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Serialization(String),
    /// Logged in full; the client gets a generic message.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A concurrent change won: the shared machinery retries the operation from a fresh read.
    #[error("conflict")]
    Conflict,
}

impl SmError {
    pub fn code(&self) -> &'static str {
        match self {
            SmError::ResourceNotFound(_) => "ResourceNotFoundException",
            SmError::InvalidRequest(_) => "InvalidRequestException",
            SmError::InvalidParameter(_) => "InvalidParameterException",
            SmError::ResourceExists(_) => "ResourceExistsException",
            SmError::Validation(_) => "ValidationException",
            SmError::LimitExceeded(_) => "LimitExceededException",
            SmError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            SmError::PublicPolicy(_) => "PublicPolicyException",
            SmError::InvalidNextToken(_) => "InvalidNextTokenException",
            SmError::EncryptionFailure(_) => "EncryptionFailure",
            SmError::DecryptionFailure(_) => "DecryptionFailure",
            SmError::AccessDenied(_) => "AccessDeniedException",
            SmError::Serialization(_) => "SerializationException",
            SmError::Internal(_) | SmError::Conflict => "InternalServiceError",
        }
    }

    pub fn not_found() -> Self {
        SmError::ResourceNotFound(NOT_FOUND.into())
    }

    pub fn marked_for_deletion() -> Self {
        SmError::InvalidRequest(MARKED_FOR_DELETION.into())
    }

    pub fn to_wire(&self) -> WireError {
        match self {
            SmError::Internal(_) | SmError::Conflict => {
                WireError::modeled(self.code(), 500, "An error occurred on the server side.")
            }
            // Framework-level errors use a lowercase `message` member.
            SmError::Validation(m) | SmError::Serialization(m) | SmError::AccessDenied(m) => {
                WireError::new(self.code(), 400, m.clone())
            }
            other => WireError::modeled(other.code(), 400, other.to_string()),
        }
    }
}

impl From<crate::authz::AuthzError> for SmError {
    fn from(e: crate::authz::AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl From<StoreError> for SmError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => SmError::Conflict,
            StoreError::Backend(m) => SmError::Internal(m),
        }
    }
}

impl From<SecretError> for SmError {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::StageNotFound(stage) => SmError::ResourceNotFound(format!(
                "Secrets Manager can't find the specified secret value for staging label: {stage}"
            )),
            SecretError::VersionNotFound(id) => SmError::ResourceNotFound(format!(
                "Secrets Manager can't find the specified secret value for VersionId: {id}"
            )),
            SecretError::NoValue => SmError::ResourceNotFound(
                "Secrets Manager can't find the specified secret value for this version.".into(),
            ),
            SecretError::StageNotOnVersion => SmError::InvalidRequest(
                "You provided a VersionStage that is not associated to the provided VersionId.".into(),
            ),
            SecretError::RemoveFromRequired { label, holder } => SmError::InvalidParameter(format!(
                "The parameter RemoveFromVersionId can't be empty. Staging label {label} is currently attached to version {holder}, so you must explicitly reference that version in RemoveFromVersionId."
            )),
            SecretError::LabelNotOnVersion { label, version } => {
                SmError::InvalidParameter(format!("Version stage {label} not found in version {version}"))
            }
            // AWS refuses to leave a secret without AWSCURRENT; its text isn't documented, this is
            // kinko's wording.
            SecretError::CurrentNotMoved => SmError::InvalidParameter(
                "You can't remove the staging label AWSCURRENT from a version without moving it to another version with MoveToVersionId.".into(),
            ),
            SecretError::TooManyLabels => SmError::LimitExceeded(
                "A secret can have at most 20 staging labels attached to its versions.".into(),
            ),
            SecretError::TooManyVersions => SmError::LimitExceeded(
                "You have exceeded the maximum number of versions of this secret (100 versions, not counting versions created in the last 24 hours).".into(),
            ),
        }
    }
}

impl From<KeyringError> for SmError {
    fn from(e: KeyringError) -> Self {
        match e {
            KeyringError::NotFound => {
                SmError::ResourceNotFound("Secrets Manager can't find the specified KMS key.".into())
            }
            KeyringError::InvalidState(_) | KeyringError::InvalidCiphertext => SmError::DecryptionFailure(
                "Secrets Manager can't decrypt the protected secret text using the provided KMS key.".into(),
            ),
            KeyringError::Store(e) => e.into(),
            KeyringError::Crypto(m) => SmError::Internal(m),
            // Secrets Manager never imports key material.
            KeyringError::IncorrectMaterial => {
                SmError::Internal("key material import in Secrets Manager".into())
            }
        }
    }
}
