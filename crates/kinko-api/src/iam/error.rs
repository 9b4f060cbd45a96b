//! IAM's errors: each knows its AWS code and HTTP status (botocore's `iam` model). Storage errors map
//! here with an exhaustive match; internal failures are logged, and clients only see `ServiceFailure`.

use kinko_core::store::StoreError;
use kinko_wire::WireError;

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
    #[error("{0}")]
    AccessDenied(String),
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
    /// A concurrent change won: the shared machinery retries the operation from a fresh read.
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
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::InvalidAction(_) => "InvalidAction",
            IamError::MissingAction(_) => "MissingAction",
            IamError::InvalidClientTokenId(_) => "InvalidClientTokenId",
            IamError::Internal(_) | IamError::Conflict => "ServiceFailure",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_) | IamError::DeleteConflict(_) | IamError::LimitExceeded(_) => {
                409
            }
            IamError::AccessDenied(_) | IamError::InvalidClientTokenId(_) => 403,
            IamError::MalformedPolicyDocument(_)
            | IamError::Validation(_)
            | IamError::InvalidInput(_)
            | IamError::InvalidAction(_)
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

    pub fn invalid_arn(arn: &str) -> Self {
        IamError::InvalidInput(format!("ARN {arn} is not valid."))
    }

    pub fn quota(name: &str, limit: usize) -> Self {
        IamError::LimitExceeded(format!("Cannot exceed quota for {name}: {limit}"))
    }
}

impl From<crate::authz::AuthzError> for IamError {
    fn from(e: crate::authz::AuthzError) -> Self {
        match e {
            crate::authz::AuthzError::Denied(d) => IamError::AccessDenied(d.message),
            crate::authz::AuthzError::Refused(r @ crate::authz::Refusal::SessionTokenCallsIam) => {
                IamError::InvalidClientTokenId(r.message())
            }
            crate::authz::AuthzError::Refused(r) => IamError::AccessDenied(r.message()),
            crate::authz::AuthzError::Store(e) => {
                IamError::Internal(format!("authorization lookup failed: {e}"))
            }
        }
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
