//! Organizations' errors (botocore's `organizations` model): every modeled error is HTTP 400 with a
//! `Message` member; internal failures are logged and answered as `ServiceException` (500).

use kinko_core::store::StoreError;
use kinko_wire::WireError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error("{0}")]
    AccessDenied(String),
    #[error("Your account is not a member of an organization.")]
    NotInUse,
    #[error("You specified an account that doesn't exist.")]
    AccountNotFound,
    #[error("We can't find an create account request with the CreateAccountRequestId that you specified.")]
    CreateAccountStatusNotFound,
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Serialization(String),
    /// Logged in full; the client gets a generic message.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A concurrent change won: the operation is retried from a fresh read.
    #[error("conflict")]
    Conflict,
}

impl OrgError {
    pub fn code(&self) -> &'static str {
        match self {
            OrgError::AccessDenied(_) => "AccessDeniedException",
            OrgError::NotInUse => "AWSOrganizationsNotInUseException",
            OrgError::AccountNotFound => "AccountNotFoundException",
            OrgError::CreateAccountStatusNotFound => "CreateAccountStatusNotFoundException",
            OrgError::InvalidInput(_) => "InvalidInputException",
            OrgError::Serialization(_) => "SerializationException",
            OrgError::Internal(_) | OrgError::Conflict => "ServiceException",
        }
    }

    pub fn to_wire(&self) -> WireError {
        match self {
            OrgError::Internal(_) | OrgError::Conflict => WireError::modeled(
                self.code(),
                500,
                "Organizations can't complete your request because of an internal service error. Try again later.",
            ),
            OrgError::Serialization(m) => WireError::new(self.code(), 400, m.clone()),
            other => WireError::modeled(other.code(), 400, other.to_string()),
        }
    }
}

impl From<crate::authz::AuthzError> for OrgError {
    fn from(e: crate::authz::AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl crate::operation::ServiceError for OrgError {
    fn access_denied(message: String) -> Self {
        OrgError::AccessDenied(message)
    }

    fn refused(refusal: crate::authz::Refusal) -> Self {
        OrgError::AccessDenied(refusal.message())
    }

    fn internal(detail: String) -> Self {
        OrgError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        OrgError::Serialization(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, OrgError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            OrgError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        OrgError::to_wire(self)
    }
}

impl From<StoreError> for OrgError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => OrgError::Conflict,
            StoreError::Backend(m) => OrgError::Internal(m),
        }
    }
}
