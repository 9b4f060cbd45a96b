//! CloudFormation's errors (botocore's `cloudformation` model): each knows its AWS code and HTTP
//! status; internal failures are logged, and clients only see `InternalFailure`.

use kinko_core::store::StoreError;
use kinko_wire::WireError;

use crate::authz::{AuthzError, Refusal};
use crate::operation::ServiceError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfnError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InsufficientCapabilities(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    ChangeSetNotFound(String),
    #[error("{0}")]
    InvalidChangeSetStatus(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidAction(String),
    #[error("Missing Action")]
    MissingAction,
    /// Logged in full; the client gets a generic message.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A concurrent change won: the operation is retried from a fresh read.
    #[error("conflict")]
    Conflict,
}

impl CfnError {
    pub fn code(&self) -> &'static str {
        match self {
            CfnError::Validation(_) => "ValidationError",
            CfnError::InsufficientCapabilities(_) => "InsufficientCapabilitiesException",
            CfnError::AlreadyExists(_) => "AlreadyExistsException",
            CfnError::ChangeSetNotFound(_) => "ChangeSetNotFound",
            CfnError::InvalidChangeSetStatus(_) => "InvalidChangeSetStatus",
            CfnError::AccessDenied(_) => "AccessDenied",
            CfnError::InvalidAction(_) => "InvalidAction",
            CfnError::MissingAction => "MissingAction",
            CfnError::Internal(_) | CfnError::Conflict => "InternalFailure",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            CfnError::AccessDenied(_) => 403,
            CfnError::ChangeSetNotFound(_) => 404,
            CfnError::Internal(_) | CfnError::Conflict => 500,
            _ => 400,
        }
    }

    pub fn to_wire(&self) -> WireError {
        let message = match self {
            CfnError::Internal(_) | CfnError::Conflict => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        };
        WireError::new(self.code(), self.status(), message)
    }
}

impl From<StoreError> for CfnError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => CfnError::Conflict,
            StoreError::Backend(m) => CfnError::Internal(m),
        }
    }
}

impl From<AuthzError> for CfnError {
    fn from(e: AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl From<kinko_cloudformation_template::TemplateError> for CfnError {
    fn from(e: kinko_cloudformation_template::TemplateError) -> Self {
        match e {
            kinko_cloudformation_template::TemplateError::Validation(m) => CfnError::Validation(m),
            kinko_cloudformation_template::TemplateError::InsufficientCapabilities(m) => {
                CfnError::InsufficientCapabilities(m)
            }
        }
    }
}

impl ServiceError for CfnError {
    fn access_denied(message: String) -> Self {
        CfnError::AccessDenied(message)
    }

    fn refused(refusal: Refusal) -> Self {
        CfnError::AccessDenied(refusal.message())
    }

    fn internal(detail: String) -> Self {
        CfnError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        CfnError::Validation(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, CfnError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            CfnError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        CfnError::to_wire(self)
    }
}
