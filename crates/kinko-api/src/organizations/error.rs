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

/// What AWS answers a member account (or anyone else) calling a management-account operation.
pub const NOT_MANAGEMENT: &str = "You don't have permissions to access this resource.";

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

impl From<StoreError> for OrgError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => OrgError::Conflict,
            StoreError::Backend(m) => OrgError::Internal(m),
        }
    }
}
