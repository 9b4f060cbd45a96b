//! IAM's errors: each knows its AWS code and HTTP status (botocore's `iam` model). Storage errors map
//! here with an exhaustive match; internal failures are logged, and clients only see `ServiceFailure`.

use kinko_core::store::StoreError;
use kinko_wire::WireError;

use crate::authz::{AuthzError, Refusal};
use crate::operation::ServiceError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidInput(String),
    /// GetCredentialReport before any report was generated.
    #[error("{0}")]
    ReportNotPresent(String),
    /// GetCredentialReport when the latest report is too old.
    #[error("{0}")]
    ReportExpired(String),
    /// A change to something only AWS may change (a service-linked role).
    #[error("{0}")]
    UnmodifiableEntity(String),
    #[error("{0}")]
    AccessDenied(String),
    /// A new console password the account's password policy refuses.
    #[error("{0}")]
    PasswordPolicyViolation(String),
    /// The codes given to enable or resynchronize an MFA device are not two consecutive codes of
    /// it.
    #[error("{0}")]
    InvalidAuthenticationCode(String),
    /// ChangePassword by a caller that is not an IAM user.
    #[error("{0}")]
    InvalidUserType(String),
    /// An SSH public key that is malformed, or an RSA key shorter than 2048 bits.
    #[error("{0}")]
    InvalidPublicKey(String),
    /// An SSH public key in neither OpenSSH `ssh-rsa` nor PEM form.
    #[error("{0}")]
    UnrecognizedPublicKeyEncoding(String),
    /// An SSH public key the user already has.
    #[error("{0}")]
    DuplicateSSHPublicKey(String),
    /// A certificate (or its chain or private key) that is not PEM X.509 IAM can read.
    #[error("{0}")]
    MalformedCertificate(String),
    /// A server certificate's private key that is not the key of its certificate.
    #[error("{0}")]
    KeyPairMismatch(String),
    /// A signing certificate already uploaded for a user of the account.
    #[error("{0}")]
    DuplicateCertificate(String),
    #[error("{0}")]
    InvalidAction(String),
    #[error("{0}")]
    MissingAction(String),
    /// The credentials may not call IAM at all (GetSessionToken credentials without MFA).
    #[error("{0}")]
    InvalidClientTokenId(String),
    /// Logged in full; the client gets a generic message.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A concurrent change won: `execute` runs the operation again from a fresh read.
    #[error("conflict")]
    Conflict,
}

impl IamError {
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::Validation(_) => "ValidationError",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::UnmodifiableEntity(_) => "UnmodifiableEntity",
            IamError::ReportNotPresent(_) => "ReportNotPresent",
            IamError::ReportExpired(_) => "ReportExpired",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::PasswordPolicyViolation(_) => "PasswordPolicyViolation",
            IamError::InvalidUserType(_) => "InvalidUserType",
            IamError::InvalidAuthenticationCode(_) => "InvalidAuthenticationCode",
            IamError::InvalidPublicKey(_) => "InvalidPublicKey",
            IamError::UnrecognizedPublicKeyEncoding(_) => "UnrecognizedPublicKeyEncoding",
            IamError::DuplicateSSHPublicKey(_) => "DuplicateSSHPublicKey",
            IamError::MalformedCertificate(_) => "MalformedCertificate",
            IamError::KeyPairMismatch(_) => "KeyPairMismatch",
            IamError::DuplicateCertificate(_) => "DuplicateCertificate",
            IamError::InvalidAction(_) => "InvalidAction",
            IamError::MissingAction(_) => "MissingAction",
            IamError::InvalidClientTokenId(_) => "InvalidClientTokenId",
            IamError::Internal(_) | IamError::Conflict => "ServiceFailure",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::ReportNotPresent(_) | IamError::ReportExpired(_) => 410,
            IamError::EntityAlreadyExists(_)
            | IamError::DeleteConflict(_)
            | IamError::LimitExceeded(_)
            | IamError::DuplicateCertificate(_) => 409,
            IamError::AccessDenied(_)
            | IamError::InvalidClientTokenId(_)
            | IamError::InvalidAuthenticationCode(_) => 403,
            IamError::MalformedPolicyDocument(_)
            | IamError::PasswordPolicyViolation(_)
            | IamError::InvalidUserType(_)
            | IamError::Validation(_)
            | IamError::InvalidInput(_)
            | IamError::UnmodifiableEntity(_)
            | IamError::InvalidPublicKey(_)
            | IamError::UnrecognizedPublicKeyEncoding(_)
            | IamError::DuplicateSSHPublicKey(_)
            | IamError::InvalidAction(_)
            | IamError::MalformedCertificate(_)
            | IamError::KeyPairMismatch(_)
            | IamError::MissingAction(_) => 400,
            IamError::Internal(_) | IamError::Conflict => 500,
        }
    }

    pub fn to_wire(&self) -> WireError {
        let message = match self {
            IamError::Internal(_) | IamError::Conflict => {
                "The request processing has failed because of an unknown error, exception or failure."
                    .to_owned()
            }
            other => other.to_string(),
        };
        WireError::new(self.code(), self.status(), message)
    }

    pub fn user_not_found(name: &str) -> Self {
        IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
    }

    pub fn group_not_found(name: &str) -> Self {
        IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
    }

    pub fn role_not_found(name: &str) -> Self {
        IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
    }

    pub fn instance_profile_not_found(name: &str) -> Self {
        IamError::NoSuchEntity(format!("Instance Profile {name} cannot be found."))
    }

    pub fn policy_not_found(arn: &str) -> Self {
        IamError::NoSuchEntity(format!("Policy {arn} was not found."))
    }

    /// Attaching a policy that is neither the account's nor AWS managed.
    pub fn not_attachable(arn: &str) -> Self {
        IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
    }

    /// A permissions boundary that is neither the account's nor AWS managed.
    pub fn boundary_not_attachable(arn: &str) -> Self {
        IamError::NoSuchEntity(format!("Scope ARN: {arn} does not exist or is not attachable."))
    }

    pub fn login_profile_not_found(user: &str) -> Self {
        IamError::NoSuchEntity(format!("Login Profile for User {user} cannot be found."))
    }

    pub fn invalid_arn(arn: &str) -> Self {
        IamError::InvalidInput(format!("ARN {arn} is not valid."))
    }

    pub fn quota(name: &str, limit: usize) -> Self {
        IamError::LimitExceeded(format!("Cannot exceed quota for {name}: {limit}"))
    }
}

impl From<AuthzError> for IamError {
    fn from(e: AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl ServiceError for IamError {
    fn access_denied(message: String) -> Self {
        IamError::AccessDenied(message)
    }

    /// Credentials IAM refuses outright (GetSessionToken's) are answered as an invalid token, as
    /// AWS does; the other rules as AccessDenied.
    fn refused(refusal: Refusal) -> Self {
        match refusal {
            Refusal::SessionTokenCallsIam => IamError::InvalidClientTokenId(refusal.message()),
            other => IamError::AccessDenied(other.message()),
        }
    }

    fn internal(detail: String) -> Self {
        IamError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        IamError::Validation(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, IamError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            IamError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        IamError::to_wire(self)
    }
}

impl From<StoreError> for IamError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => IamError::Conflict,
            StoreError::Backend(m) => IamError::Internal(m),
        }
    }
}
