//! AWS Lambda (REST-JSON, SigV4 service `lambda`): functions kept in the store, authorized through
//! the one path, and run by [`Services::functions`](crate::Services).
//!
//! Requests are routed by method and path ([`route`]); the members a path, query string and
//! headers carry join those of the JSON body, and each operation goes through the one operation
//! contract. Answers carry their status and headers through the request context
//! ([`crate::operation::ReplyHead`]). Errors are Lambda's: the code in `x-amzn-ErrorType`, a body
//! `{"Type":"User"|"Service","Message":...}`.
//!
//! Choices where Lambda is not kinko's to copy, written down here:
//! - A function is `Active` as soon as it is stored: CreateFunction answers `State: Pending` (as
//!   Lambda does, so waiters behave the same), every later read answers `Active`; updates answer
//!   `LastUpdateStatus: InProgress`, later reads `Successful`.
//! - Only `.zip` packages given inline (`Code.ZipFile`), 50 MB as in Lambda. GetFunction's
//!   `Code.Location` is left out: there is no S3 to presign a URL into.
//! - One resource policy per function; AddPermission's `Qualifier` only qualifies the statement's
//!   `Resource`. A qualified request (`name:1`, `Qualifier=1`) is authorized on the qualified ARN,
//!   as Lambda does.
//! - Runtimes Lambda no longer accepts for new functions (`nodejs12.x`, `python3.7`, ...) are
//!   accepted: kinko runs them if their interpreter is installed.

mod ops;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kinko_core::lambda::{Function, FunctionConfig, LATEST};
use kinko_core::store::StoreError;
use kinko_wire::WireError;
use serde::Serialize;
use serde_json::Value;

use crate::operation::{RestJson, RestRequest, Service, execute, finish};
use crate::{RequestContext, Services};

pub use ops::*;

/// The service principal Lambda acts as: it assumes execution roles and passes them.
pub const LAMBDA_SERVICE: &str = "lambda.amazonaws.com";

/// Largest deployment package, zipped (Lambda's limit for a direct upload).
pub const MAX_ZIP: usize = 50 * 1024 * 1024;
/// Largest CreateFunction or UpdateFunctionCode request: the package as base64 and the rest.
pub const MAX_CODE_REQUEST: usize = 69_905_067;
/// Largest synchronous Invoke request and response payload.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest request of the other operations.
pub const MAX_REQUEST: usize = 1 << 20;

/// Lambda, as the one operation contract sees it.
pub struct Lambda;

impl Service for Lambda {
    const PREFIX: &'static str = "lambda";
    const EVENT_SOURCE: &'static str = "lambda.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        // The package and the payload are never recorded; environment variables are shown as
        // hidden, as CloudTrail does.
        omitted: &["ZipFile", "Payload"],
        hidden: &["Environment"],
        verbatim: &["Tags"],
        numbers: &["MaxItems"],
        booleans: &[],
    };
    type Protocol = RestJson;
    type Error = LambdaError;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LambdaError {
    #[error("{0}")]
    AccessDenied(String),
    /// A model constraint (`1 validation error detected: ...`).
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceConflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PolicyLengthExceeded(String),
    #[error("{0}")]
    RequestTooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// The runner could not run the function (its runtime is not installed here, ...): a 500
    /// whose message says why (it holds nothing secret).
    #[error("{0}")]
    Service(String),
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("internal failure: {0}")]
    Internal(String),
    #[error("conflict")]
    Conflict,
}

impl LambdaError {
    pub fn code(&self) -> &'static str {
        match self {
            LambdaError::AccessDenied(_) => "AccessDeniedException",
            LambdaError::Validation(_) => "ValidationException",
            LambdaError::InvalidParameterValue(_) | LambdaError::Serialization(_) => {
                "InvalidParameterValueException"
            }
            LambdaError::ResourceNotFound(_) => "ResourceNotFoundException",
            LambdaError::ResourceConflict(_) => "ResourceConflictException",
            LambdaError::PreconditionFailed(_) => "PreconditionFailedException",
            LambdaError::PolicyLengthExceeded(_) => "PolicyLengthExceededException",
            LambdaError::RequestTooLarge(_) => "RequestEntityTooLargeException",
            LambdaError::TooManyRequests(_) => "TooManyRequestsException",
            LambdaError::UnknownOperation(_) => "UnknownOperationException",
            LambdaError::Service(_) | LambdaError::Internal(_) | LambdaError::Conflict => "ServiceException",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            LambdaError::AccessDenied(_) => 403,
            LambdaError::ResourceNotFound(_) | LambdaError::UnknownOperation(_) => 404,
            LambdaError::ResourceConflict(_) => 409,
            LambdaError::PreconditionFailed(_) => 412,
            LambdaError::RequestTooLarge(_) => 413,
            LambdaError::TooManyRequests(_) => 429,
            LambdaError::Service(_) | LambdaError::Internal(_) | LambdaError::Conflict => 500,
            _ => 400,
        }
    }

    pub fn to_wire(&self) -> WireError {
        let message = match self {
            LambdaError::Internal(_) | LambdaError::Conflict => "An internal error occurred.".to_owned(),
            other => other.to_string(),
        };
        WireError::modeled(self.code(), self.status(), message)
    }

    fn not_found(arn: &str) -> Self {
        LambdaError::ResourceNotFound(format!("Function not found: {arn}"))
    }
}

impl From<crate::authz::AuthzError> for LambdaError {
    fn from(e: crate::authz::AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl From<StoreError> for LambdaError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => LambdaError::Conflict,
            StoreError::Backend(m) => LambdaError::Internal(m),
        }
    }
}

impl crate::operation::ServiceError for LambdaError {
    fn access_denied(message: String) -> Self {
        LambdaError::AccessDenied(message)
    }

    fn refused(refusal: crate::authz::Refusal) -> Self {
        LambdaError::AccessDenied(refusal.message())
    }

    fn internal(detail: String) -> Self {
        LambdaError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        LambdaError::Serialization(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, LambdaError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            LambdaError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        LambdaError::to_wire(self)
    }
}

/// Lambda's error body: `{"Type":"User"|"Service","Message":...}` (the code is in the
/// `x-amzn-ErrorType` header).
pub fn error_body(e: &WireError) -> Vec<u8> {
    let kind = if e.status >= 500 { "Service" } else { "User" };
    serde_json::to_vec(&serde_json::json!({"Type": kind, "Message": e.message}))
        .unwrap_or_else(|_| b"{}".to_vec())
}

// --- routing ---

/// Whether a request's path is one of Lambda's API versions.
pub fn is_lambda_path(path: &str) -> bool {
    path.starts_with("/2015-03-31/") || path.starts_with("/2017-03-31/")
}

/// A routed request: the operation, the members the path, query string and headers carry, whether
/// the body is a raw payload, and the largest body it may have.
#[derive(Debug)]
pub struct Route {
    pub operation: &'static str,
    pub members: Vec<(&'static str, Value)>,
    pub raw_body: bool,
    pub body_limit: usize,
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The operation a request names by its method and path, and the members it carries outside its
/// body. An unknown path or method is `UnknownOperationException` (404), as Lambda answers.
pub fn route(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Route, WireError> {
    let unknown = || {
        LambdaError::UnknownOperation(format!("The operation {method} {path} is not supported.")).to_wire()
    };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let mut members: Vec<(&'static str, Value)> = Vec::new();
    let (operation, body_limit, raw_body) = match (method, segments.as_slice()) {
        ("POST", ["2015-03-31", "functions"]) => ("CreateFunction", MAX_CODE_REQUEST, false),
        ("GET", ["2015-03-31", "functions"]) => ("ListFunctions", MAX_REQUEST, false),
        (_, ["2015-03-31", "functions", name, rest @ ..]) => {
            members.push(("FunctionName", Value::String(decode_segment(name))));
            match (method, rest) {
                ("GET", []) => ("GetFunction", MAX_REQUEST, false),
                ("DELETE", []) => ("DeleteFunction", MAX_REQUEST, false),
                ("GET", ["configuration"]) => ("GetFunctionConfiguration", MAX_REQUEST, false),
                ("PUT", ["configuration"]) => ("UpdateFunctionConfiguration", MAX_REQUEST, false),
                ("PUT", ["code"]) => ("UpdateFunctionCode", MAX_CODE_REQUEST, false),
                ("POST", ["invocations"]) => ("Invoke", MAX_PAYLOAD, true),
                ("POST", ["policy"]) => ("AddPermission", MAX_REQUEST, false),
                ("GET", ["policy"]) => ("GetPolicy", MAX_REQUEST, false),
                ("DELETE", ["policy", sid]) => {
                    members.push(("StatementId", Value::String(decode_segment(sid))));
                    ("RemovePermission", MAX_REQUEST, false)
                }
                ("POST", ["versions"]) => ("PublishVersion", MAX_REQUEST, false),
                ("GET", ["versions"]) => ("ListVersionsByFunction", MAX_REQUEST, false),
                _ => return Err(unknown()),
            }
        }
        (_, ["2017-03-31", "tags", arn]) => {
            members.push(("Resource", Value::String(decode_segment(arn))));
            match method {
                "GET" => ("ListTags", MAX_REQUEST, false),
                "POST" => ("TagResource", MAX_REQUEST, false),
                "DELETE" => ("UntagResource", MAX_REQUEST, false),
                _ => return Err(unknown()),
            }
        }
        _ => return Err(unknown()),
    };
    let mut tag_keys = Vec::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let member = match name.as_ref() {
            "Qualifier" => "Qualifier",
            "Marker" => "Marker",
            "FunctionVersion" => "FunctionVersion",
            "MasterRegion" => "MasterRegion",
            "RevisionId" => "RevisionId",
            "MaxItems" => {
                let v = value
                    .parse::<i64>()
                    .map_or_else(|_| Value::String(value.into_owned()), Value::from);
                members.push(("MaxItems", v));
                continue;
            }
            "tagKeys" => {
                tag_keys.push(Value::String(value.into_owned()));
                continue;
            }
            _ => continue,
        };
        if !members.iter().any(|(n, _)| *n == member) {
            members.push((member, Value::String(value.into_owned())));
        }
    }
    if operation == "UntagResource" {
        members.push(("TagKeys", Value::Array(tag_keys)));
    }
    if operation == "Invoke" {
        for (header, member) in [
            ("x-amz-invocation-type", "InvocationType"),
            ("x-amz-log-type", "LogType"),
            ("x-amz-client-context", "ClientContext"),
        ] {
            if let Some((_, v)) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(header)) {
                members.push((member, Value::String((*v).to_owned())));
            }
        }
    }
    Ok(Route {
        operation,
        members,
        raw_body,
        body_limit,
    })
}

/// The message of a body over an operation's limit.
pub fn too_large(route: &Route) -> WireError {
    let operation = if route.operation == "Invoke" {
        "InvokeFunction"
    } else {
        route.operation
    };
    LambdaError::RequestTooLarge(format!(
        "Request must be smaller than {} bytes for the {operation} operation",
        route.body_limit
    ))
    .to_wire()
}

/// The request's members as one JSON object: the body's (a JSON object, or the raw payload as
/// `Payload`), then those of the path, query string and headers.
fn members_object(req: &RestRequest<'_>) -> Result<serde_json::Map<String, Value>, LambdaError> {
    let mut object = if req.raw_body {
        let mut m = serde_json::Map::new();
        if !req.body.is_empty() {
            m.insert("Payload".into(), Value::String(B64.encode(req.body)));
        }
        m
    } else if req.body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<Value>(req.body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(LambdaError::Serialization(
                    "Could not parse request body into json: Could not parse payload into json".into(),
                ));
            }
        }
    };
    for (name, value) in &req.members {
        object.insert((*name).to_owned(), value.clone());
    }
    Ok(object)
}

/// Reads an operation's input from its members.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(req: &RestRequest<'_>) -> Result<T, LambdaError> {
    let object = members_object(req)?;
    serde_json::from_value(Value::Object(object)).map_err(|e| {
        LambdaError::Serialization(format!(
            "Could not parse request body into json: {}",
            e.to_string().split(" at line").next().unwrap_or_default()
        ))
    })
}

/// The audit record's `requestParameters` of a Lambda call: the members it was read from, except
/// the package, the payload and the environment's values.
pub fn audit_parameters(
    shape: &crate::cloudtrail::Shape,
    req: &RestRequest<'_>,
    members: Option<&[&str]>,
) -> Option<Value> {
    let raw = RestRequest {
        members: req.members.clone(),
        raw_body: true,
        body: &[],
    };
    // A payload is never read for the record.
    let object = members_object(if req.raw_body { &raw } else { req }).ok()?;
    let object: serde_json::Map<String, Value> = object
        .into_iter()
        .filter(|(n, _)| members.is_none_or(|m| m.contains(&n.as_str())))
        .map(|(n, v)| (crate::cloudtrail::member_name(&n), v))
        .collect();
    let value = crate::cloudtrail::shaped(shape, Value::Object(object));
    match &value {
        Value::Object(m) if m.is_empty() => None,
        _ => Some(value),
    }
}

/// Runs one Lambda operation.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    req: &RestRequest<'_>,
) -> Result<Vec<u8>, WireError> {
    let result = match operation {
        "CreateFunction" => execute::<CreateFunction>(services, rc, req).await,
        "GetFunction" => execute::<GetFunction>(services, rc, req).await,
        "GetFunctionConfiguration" => execute::<GetFunctionConfiguration>(services, rc, req).await,
        "ListFunctions" => execute::<ListFunctions>(services, rc, req).await,
        "DeleteFunction" => execute::<DeleteFunction>(services, rc, req).await,
        "UpdateFunctionCode" => execute::<UpdateFunctionCode>(services, rc, req).await,
        "UpdateFunctionConfiguration" => execute::<UpdateFunctionConfiguration>(services, rc, req).await,
        "Invoke" => execute::<Invoke>(services, rc, req).await,
        "AddPermission" => execute::<AddPermission>(services, rc, req).await,
        "RemovePermission" => execute::<RemovePermission>(services, rc, req).await,
        "GetPolicy" => execute::<GetPolicy>(services, rc, req).await,
        "ListTags" => execute::<ListTags>(services, rc, req).await,
        "TagResource" => execute::<TagResource>(services, rc, req).await,
        "UntagResource" => execute::<UntagResource>(services, rc, req).await,
        "PublishVersion" => execute::<PublishVersion>(services, rc, req).await,
        "ListVersionsByFunction" => execute::<ListVersionsByFunction>(services, rc, req).await,
        other => Err(LambdaError::UnknownOperation(format!(
            "The operation {other} is not supported."
        ))),
    };
    finish(rc, operation, result)
}

// --- answers ---

/// A Lambda answer: its status, headers and body.
pub struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: &impl Serialize) -> Result<Reply, LambdaError> {
        Ok(Reply {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(body).map_err(|e| LambdaError::Internal(e.to_string()))?,
        })
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

impl crate::operation::IntoResponse<Lambda> for Reply {
    fn into_response(self, cx: &crate::operation::Cx<'_>) -> Result<Vec<u8>, LambdaError> {
        cx.rc.reply.set(self.status, self.headers);
        Ok(self.body)
    }
}

/// `LastModified`: `2024-01-31T12:00:00.000+0000`.
pub fn last_modified(t: kinko_core::Timestamp) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    t.to_offset_date_time().format(FORMAT).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EnvironmentShape<'a> {
    variables: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Mode {
    mode: &'static str,
}

/// `FunctionConfiguration`, as Lambda answers it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConfigurationShape<'a> {
    function_name: &'a str,
    function_arn: String,
    runtime: &'a str,
    role: &'a str,
    handler: &'a str,
    code_size: u64,
    description: &'a str,
    timeout: u32,
    memory_size: u32,
    last_modified: String,
    code_sha256: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<EnvironmentShape<'a>>,
    tracing_config: Mode,
    revision_id: &'a str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason_code: Option<&'static str>,
    last_update_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_update_status_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_update_status_reason_code: Option<&'static str>,
    package_type: &'static str,
    architectures: [&'static str; 1],
    ephemeral_storage: serde_json::Value,
    logging_config: serde_json::Value,
}

/// How a configuration is shown: as every read shows it, or as the call that just changed it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    Stored,
    Created,
    Updated,
}

pub(crate) fn configuration<'a>(
    f: &'a Function,
    c: &'a FunctionConfig,
    shown: Shown,
) -> ConfigurationShape<'a> {
    let function_arn = if c.version == LATEST {
        f.arn.clone()
    } else {
        format!("{}:{}", f.arn, c.version)
    };
    let (state, state_reason, state_reason_code) = match shown {
        Shown::Created => (
            "Pending",
            Some("The function is being created."),
            Some("Creating"),
        ),
        _ => ("Active", None, None),
    };
    let (last_update_status, last_update_status_reason, last_update_status_reason_code) = match shown {
        Shown::Updated => (
            "InProgress",
            Some("The function is being created."),
            Some("Creating"),
        ),
        _ => ("Successful", None, None),
    };
    ConfigurationShape {
        function_name: &f.name,
        function_arn,
        runtime: &c.runtime,
        role: &c.role,
        handler: &c.handler,
        code_size: c.code_size,
        description: &c.description,
        timeout: c.timeout,
        memory_size: c.memory_size,
        last_modified: last_modified(c.last_modified),
        code_sha256: &c.code_sha256,
        version: &c.version,
        environment: (!c.environment.is_empty()).then_some(EnvironmentShape {
            variables: &c.environment,
        }),
        tracing_config: Mode { mode: "PassThrough" },
        revision_id: &c.revision_id,
        state,
        state_reason,
        state_reason_code,
        last_update_status,
        last_update_status_reason,
        last_update_status_reason_code,
        package_type: "Zip",
        architectures: ["x86_64"],
        ephemeral_storage: serde_json::json!({"Size": 512}),
        logging_config: serde_json::json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", f.name)}),
    }
}
