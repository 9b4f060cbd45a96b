//! Lambda-compatible functions: what the Lambda API asks of the runner that executes them.
//!
//! The Lambda operations (kinko-api) keep functions in the store and authorize every call; the
//! runner (kinko-functions) unpacks code, starts interpreter processes that speak the Lambda Runtime
//! API and hands them invocations. This module is the contract between the two: the API calls
//! [`FunctionRunner`], and the runner asks the server for what only the server may give through
//! [`FunctionHost`] (the code bytes, the execution role's credentials).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::Timestamp;

/// One function version, as the runner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The unqualified function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
    pub function_arn: String,
    pub function_name: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    pub account_id: String,
    pub region: String,
    /// As given to CreateFunction (`python3.12`, `nodejs12.x`, ...).
    pub runtime: String,
    /// As given to CreateFunction (`index.handler`, `lambda_function.lambda_handler`).
    pub handler: String,
    /// Base64 SHA-256 of the deployment package, as `CodeSha256` reports it: names the unpacked code.
    pub code_sha256: String,
    /// The function's `Environment.Variables`.
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub role_arn: String,
    /// Changes whenever the code or configuration changes (`RevisionId`): an instance started for
    /// another revision is never reused.
    pub revision_id: String,
}

/// Credentials of a session of the execution role, as Lambda puts them in a function's environment.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Timestamp,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// What the server gives the runner.
#[async_trait]
pub trait FunctionHost: Send + Sync {
    /// Credentials for an instance of `spec`: a session of `spec.role_arn` named after the function,
    /// as `lambda.amazonaws.com` assumes it (so policies see `assumed-role/ROLE/FUNCTION`). The runner
    /// asks again before the previous ones expire.
    async fn credentials(&self, spec: &FunctionSpec) -> Result<RoleCredentials, String>;

    /// The deployment package (zip bytes) of `spec`, whose SHA-256 is `spec.code_sha256`.
    async fn code(&self, spec: &FunctionSpec) -> Result<Arc<Vec<u8>>, String>;

    /// The server's time, which credentials' expiration is judged by (a dev server's clock moved
    /// forward expires the credentials warm instances hold). The system's time by default.
    fn now(&self) -> crate::Timestamp {
        use crate::Clock as _;
        crate::SystemClock.now()
    }
}

/// One invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The request id, also `Lambda-Runtime-Aws-Request-Id` and `context.aws_request_id`.
    pub request_id: String,
    pub payload: Vec<u8>,
    /// `X-Amz-Client-Context` (base64 JSON), passed through to the function.
    pub client_context: Option<String>,
    /// `LogType: Tail`: return the last 4 KB of the invocation's log.
    pub tail_logs: bool,
}

/// What an invocation produced. A function error is still a result (HTTP 200 with
/// `X-Amz-Function-Error`), as in Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationResult {
    /// The response payload, or the error document (`errorMessage`, `errorType`, `stackTrace`).
    pub payload: Vec<u8>,
    /// `X-Amz-Function-Error`: `Unhandled` when the function failed (error, crash, timeout, init
    /// error, oversize response).
    pub function_error: Option<String>,
    /// The last 4 KB of the invocation's log, raw (the API base64-encodes it), when asked for.
    pub log_tail: Option<Vec<u8>>,
}

/// Why the runner could not run an invocation at all (no result to return).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// Every instance the concurrency limit allows is busy (`TooManyRequestsException`).
    #[error("{0}")]
    TooManyRequests(String),
    /// The runtime cannot run here (its interpreter or SDK is not installed), or the host failed to
    /// give code or credentials (`ServiceException`, 500).
    #[error("{0}")]
    Service(String),
}

/// Runs functions.
#[async_trait]
pub trait FunctionRunner: Send + Sync {
    /// Runs one invocation on a warm instance of `spec`, starting one when none is idle.
    async fn invoke(&self, spec: &FunctionSpec, invocation: Invocation)
    -> Result<InvocationResult, RunError>;

    /// Stops every instance of the function (its code or configuration changed, or it was deleted).
    fn retire(&self, function_arn: &str);
}

/// The runner of a server that runs no functions: every invocation fails with `ServiceException`.
#[derive(Debug, Default)]
pub struct NoRunner;

#[async_trait]
impl FunctionRunner for NoRunner {
    async fn invoke(&self, _: &FunctionSpec, _: Invocation) -> Result<InvocationResult, RunError> {
        Err(RunError::Service("this server runs no functions".to_owned()))
    }

    fn retire(&self, _: &str) {}
}

/// The built-in rotation functions: database password rotators in kinko itself, for people who
/// would rather not deploy Python. A function whose runtime is one of Lambda's OS-only runtimes
/// (`provided`, `provided.al2`, `provided.al2023`) and whose handler is `kinko:` and one of these
/// names runs the built-in rotator, under its execution role like any function, instead of a
/// `bootstrap` from its package (which it then needs no more than `Code: {}`).
///
/// The names are the `RotationType`s of CloudFormation's `HostedRotationLambda` (and of AWS's
/// published rotation functions); `MultiUser` is AWS's name for the alternating-users strategy.
pub const BUILTIN_ROTATORS: [&str; 6] = [
    "PostgreSQLSingleUser",
    "PostgreSQLMultiUser",
    "MySQLSingleUser",
    "MySQLMultiUser",
    "MariaDBSingleUser",
    "MariaDBMultiUser",
];

/// The prefix of a built-in rotator's handler.
pub const BUILTIN_HANDLER_PREFIX: &str = "kinko:";

/// The built-in rotator a function runs: `Some(name)` when `runtime` is an OS-only runtime and
/// `handler` names one of [`BUILTIN_ROTATORS`].
pub fn builtin_rotator(runtime: &str, handler: &str) -> Option<&'static str> {
    if !matches!(runtime, "provided" | "provided.al2" | "provided.al2023") {
        return None;
    }
    let name = handler.strip_prefix(BUILTIN_HANDLER_PREFIX)?;
    BUILTIN_ROTATORS.iter().copied().find(|n| *n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rotators_need_an_os_only_runtime_and_a_kinko_handler() {
        assert_eq!(
            builtin_rotator("provided.al2023", "kinko:PostgreSQLSingleUser"),
            Some("PostgreSQLSingleUser")
        );
        assert_eq!(
            builtin_rotator("provided", "kinko:MariaDBMultiUser"),
            Some("MariaDBMultiUser")
        );
        assert_eq!(builtin_rotator("python3.12", "kinko:PostgreSQLSingleUser"), None);
        assert_eq!(builtin_rotator("provided.al2023", "PostgreSQLSingleUser"), None);
        assert_eq!(
            builtin_rotator("provided.al2023", "kinko:postgresqlsingleuser"),
            None
        );
        assert_eq!(builtin_rotator("provided.al2023", "bootstrap"), None);
    }
}
