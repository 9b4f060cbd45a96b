//! STS's errors (botocore's `sts` model): each knows its AWS code and HTTP status; internal failures
//! are logged, and clients only see `InternalFailure`.

use kinko_core::store::StoreError;
use kinko_wire::WireError;

use crate::authz::{AuthzError, Refusal};
use crate::operation::ServiceError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidAction(String),
    /// A web identity token that isn't valid, or not for a provider and audience of the account.
    #[error("{0}")]
    InvalidIdentityToken(String),
    /// A web identity token past its `exp`.
    #[error("{0}")]
    ExpiredToken(String),
    /// The provider's keys could not be fetched.
    #[error("{0}")]
    IdpCommunication(String),
    /// A DecodeAuthorizationMessage message this installation did not issue for the caller's
    /// account.
    #[error("{0}")]
    InvalidAuthorizationMessage(String),
    #[error("Missing Action")]
    MissingAction,
    /// Logged in full; the client gets a generic message.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A concurrent change won: the operation is retried from a fresh read.
    #[error("conflict")]
    Conflict,
}

impl StsError {
    pub fn code(&self) -> &'static str {
        match self {
            StsError::Validation(_) => "ValidationError",
            StsError::InvalidParameterValue(_) => "InvalidParameterValue",
            StsError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            StsError::AccessDenied(_) => "AccessDenied",
            StsError::InvalidAction(_) => "InvalidAction",
            StsError::InvalidIdentityToken(_) => "InvalidIdentityToken",
            StsError::ExpiredToken(_) => "ExpiredTokenException",
            StsError::IdpCommunication(_) => "IDPCommunicationError",
            StsError::InvalidAuthorizationMessage(_) => "InvalidAuthorizationMessageException",
            StsError::MissingAction => "MissingAction",
            StsError::Internal(_) | StsError::Conflict => "InternalFailure",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            StsError::AccessDenied(_) => 403,
            StsError::Internal(_) | StsError::Conflict => 500,
            _ => 400,
        }
    }

    pub fn to_wire(&self) -> WireError {
        let message = match self {
            StsError::Internal(_) | StsError::Conflict => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        };
        WireError::new(self.code(), self.status(), message)
    }
}

impl From<StoreError> for StsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => StsError::Conflict,
            StoreError::Backend(m) => StsError::Internal(m),
        }
    }
}

impl From<AuthzError> for StsError {
    fn from(e: AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl ServiceError for StsError {
    fn access_denied(message: String) -> Self {
        StsError::AccessDenied(message)
    }

    fn refused(refusal: Refusal) -> Self {
        StsError::AccessDenied(refusal.message())
    }

    fn internal(detail: String) -> Self {
        StsError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        StsError::Validation(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, StsError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            StsError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        StsError::to_wire(self)
    }
}
