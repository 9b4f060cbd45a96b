//! Wire formats shared by every service: AWS JSON 1.1 error bodies, the Query protocol's XML error
//! envelope, JSON timestamps and blobs, and AWS's model-validation messages.
//!
//! Pure: no I/O, no knowledge of any one service's operations.

pub mod json;
pub mod query;
pub mod validate;

/// An error as it goes on the wire: AWS code, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
    /// Secrets Manager's modeled errors spell the member `Message`; framework errors (validation,
    /// authentication) use `message`. Clients accept either.
    pub capital_message: bool,
}

impl WireError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        WireError {
            code,
            status,
            message: message.into(),
            capital_message: false,
        }
    }
    pub fn modeled(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        WireError {
            code,
            status,
            message: message.into(),
            capital_message: true,
        }
    }
}
