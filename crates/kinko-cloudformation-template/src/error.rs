//! Errors, worded as CloudFormation words them.

/// A template, parameter or evaluation error. The text is what AWS puts in the error's message;
/// the variant picks the AWS error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `ValidationError` (HTTP 400): a malformed template, bad parameters, an intrinsic that
    /// cannot be evaluated.
    #[error("{0}")]
    Validation(String),
    /// `InsufficientCapabilitiesException` (HTTP 400): the template needs a capability the
    /// caller did not acknowledge.
    #[error("{0}")]
    InsufficientCapabilities(String),
}

impl TemplateError {
    /// The AWS error code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::Validation(_) => "ValidationError",
            TemplateError::InsufficientCapabilities(_) => "InsufficientCapabilitiesException",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            TemplateError::Validation(m) | TemplateError::InsufficientCapabilities(m) => m,
        }
    }

    /// `Template format error: {detail}`: a structural problem found before evaluation.
    pub(crate) fn format(detail: impl std::fmt::Display) -> Self {
        TemplateError::Validation(format!("Template format error: {detail}"))
    }

    /// `Template error: {detail}`: an intrinsic function used wrongly.
    pub(crate) fn template(detail: impl std::fmt::Display) -> Self {
        TemplateError::Validation(format!("Template error: {detail}"))
    }

    /// A plain `ValidationError` message.
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        TemplateError::Validation(message.into())
    }
}

/// Result alias for this crate.
pub type Result<T, E = TemplateError> = std::result::Result<T, E>;
