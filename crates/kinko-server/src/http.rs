//! The HTTP pipeline every request goes through: bounded body, request id, service and action,
//! SigV4 authentication, dispatch to the service, AWS-shaped response, audit events (the call's, then
//! those of the KMS calls made for its caller).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use kinko_api::RequestContext;
use kinko_api::ServiceName as Service;
use kinko_wire::WireError;

use crate::App;
use crate::audit::AuditEvent;
use crate::auth::{Authenticator, Protocol};

/// Largest request body accepted. Secret values are at most 64 KiB (about 87 KiB as base64).
pub(crate) const MAX_BODY: usize = 1 << 20;

pub(crate) fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready));
    if app.metrics_on_main {
        router = router.route("/metrics", get(crate::ops::metrics));
    }
    if let Some(console) = &app.console {
        router = router.nest_service("/console", kinko_console::router(console.clone()));
    }
    router
        .fallback(any(aws))
        .with_state(app)
        // A bug must never take a connection down without an answer: a panic becomes a 500.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    let e = WireError::new("InternalFailure", 500, "An internal error occurred.");
    json_response(e.status, "", kinko_wire::json::error_body(&e), Some(e.code))
}

pub(crate) async fn health() -> &'static str {
    "ok"
}

/// 200 while the store takes writes and the audit trail takes records, 503 once the readiness probe
/// found the store can't be written or the audit log can't be (calls are refused then; see
/// `readiness` and `audit`), or while the database is under a root key this node does not hold
/// (see `ring`).
pub(crate) async fn ready(State(app): State<Arc<App>>) -> (StatusCode, &'static str) {
    if !app.readiness.ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the store cannot be written",
        )
    } else if app.readiness.root_key_missing() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database is under a root key this node does not hold",
        )
    } else if app.audit.ready().is_err() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: audit records cannot be written",
        )
    } else {
        (StatusCode::OK, "ready")
    }
}

/// The JSON 1.1 target (`prefix.Operation`) of a request, if any.
fn target(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-amz-target").and_then(|v| v.to_str().ok())
}

fn json_service(target: &str) -> Result<(Service, &str), WireError> {
    match target.split_once('.') {
        Some(("secretsmanager", op)) => Ok((Service::SecretsManager, op)),
        Some(("AWSOrganizationsV20161128", op)) => Ok((Service::Organizations, op)),
        Some(("TrentService", op)) => Ok((Service::Kms, op)),
        Some(("Kinko", op)) => Ok((Service::Kinko, op)),
        // The SDKs send CloudTrail's target by its shape name, the AWS CLI by its full id.
        Some(("CloudTrail_20131101", op)) => Ok((Service::CloudTrail, op)),
        _ => match target.rsplit_once('.') {
            Some(("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101", op)) => {
                Ok((Service::CloudTrail, op))
            }
            _ => Err(WireError::new(
                "UnknownOperationException",
                400,
                format!("The operation {target} is not supported by this server."),
            )),
        },
    }
}

/// The `Date` header from the server's clock (SDKs correct their clock skew from it).
fn date_header(now: kinko_core::Timestamp) -> Option<HeaderValue> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let text = now.to_offset_date_time().format(FORMAT).ok()?;
    HeaderValue::from_str(&text).ok()
}

fn with_date(mut resp: Response, now: kinko_core::Timestamp) -> Response {
    if let Some(d) = date_header(now) {
        resp.headers_mut().insert(header::DATE, d);
    }
    resp
}

fn json_response(status: u16, request_id: &str, body: Vec<u8>, error_code: Option<&str>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kinko_wire::json::CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(code) = error_code.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert("x-amzn-errortype", code);
    }
    resp
}

fn json_error(e: &WireError, request_id: &str) -> Response {
    json_response(
        e.status,
        request_id,
        kinko_wire::json::error_body(e),
        Some(e.code),
    )
}

/// A Lambda error: the code in `x-amzn-ErrorType`, Lambda's `{"Type","Message"}` body.
fn lambda_error(e: &WireError, request_id: &str) -> Response {
    let mut resp = json_response(
        e.status,
        request_id,
        kinko_api::lambda::error_body(e),
        Some(e.code),
    );
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A REST answer: the status and headers the operation set, its body.
fn rest_response(
    request_id: &str,
    body: Vec<u8>,
    head: Option<(u16, Vec<(&'static str, String)>)>,
) -> Response {
    let (status, headers) = head.unwrap_or((200, Vec::new()));
    let mut resp = json_response(status, request_id, body, None);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

fn query_error(e: &WireError, request_id: &str, service: Option<Service>) -> Response {
    let xmlns = match service {
        Some(Service::Sts) => kinko_api::sts::XMLNS,
        Some(Service::CloudFormation) => kinko_api::cloudformation::XMLNS,
        _ => "https://iam.amazonaws.com/doc/2010-05-08/",
    };
    let body = kinko_wire::query::error_body(e, xmlns, request_id);
    let mut resp = (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

async fn aws(State(app): State<Arc<App>>, req: Request) -> Response {
    let started = Instant::now();
    // What SDKs correct their clock by: the time they sign with (see `Clock::signing_now`).
    let now = app.services.clock.signing_now();
    let mut seen = Seen::default();
    let resp = handle(&app, req, &mut seen).await;
    observe(&app, &seen, resp.status(), started.elapsed());
    with_date(resp, now)
}

/// What the pipeline learnt about a request, for its metrics and its log line.
#[derive(Default)]
struct Seen {
    request_id: String,
    service: Option<Service>,
    action: String,
    /// Whether the caller was authenticated (the request reached the services).
    authenticated: bool,
    /// Who, when known; kept only for the log line (`--log-requests`).
    principal_arn: Option<String>,
    access_key_id: String,
    source_ip: Option<std::net::IpAddr>,
    error: Option<(&'static str, u16)>,
}

/// Counts the request in the metrics and, with `--log-requests`, logs one line about it: who,
/// what, how it ended and how long it took, never a parameter or a value of the request.
fn observe(app: &App, seen: &Seen, status: StatusCode, elapsed: Duration) {
    let outcome = match seen.error {
        None => crate::metrics::Outcome::Success,
        Some((code, status)) => crate::metrics::Outcome::of_error(code, status),
    };
    app.metrics.request(
        seen.service.map(Service::signing_name),
        &seen.action,
        seen.authenticated,
        outcome,
        elapsed,
    );
    if app.log_requests {
        tracing::info!(
            target: "kinko::request",
            request_id = %seen.request_id,
            service = seen.service.map_or("", Service::signing_name),
            action = %seen.action,
            status = status.as_u16(),
            error_code = seen.error.map(|e| e.0),
            principal = seen.principal_arn.as_deref(),
            access_key_id = %seen.access_key_id,
            source_ip = seen.source_ip.map(tracing::field::display),
            duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    }
}

async fn handle(app: &App, req: Request, seen: &mut Seen) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let source_ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if app.log_requests {
        seen.request_id.clone_from(&request_id);
        seen.source_ip = source_ip;
    }
    let tls_details =
        parts
            .extensions
            .get::<crate::listener::TlsSession>()
            .map(|t| kinko_api::audit::TlsDetails {
                tls_version: t.version.to_owned(),
                cipher_suite: t.cipher_suite.to_owned(),
                client_provided_host_header: parts
                    .headers
                    .get(header::HOST)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            });
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let json_target = target(&parts.headers).map(str::to_owned);
    // Lambda speaks REST-JSON: known by its paths (its SigV4 scope is checked as `lambda`).
    let lambda = json_target.is_none() && kinko_api::lambda::is_lambda_path(parts.uri.path());
    let protocol = if json_target.is_some() || lambda {
        Protocol::Json
    } else {
        Protocol::Query
    };
    let error = |seen: &mut Seen, e: WireError, service: Option<Service>| {
        seen.error = Some((e.code, e.status));
        match protocol {
            Protocol::Json if lambda => lambda_error(&e, &request_id),
            Protocol::Json => json_error(&e, &request_id),
            Protocol::Query => query_error(&e, &request_id, service),
        }
    };
    let header_pairs: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| std::str::from_utf8(v.as_bytes()).ok().map(|v| (n.as_str(), v)))
        .collect();
    let lambda_route = if lambda {
        match kinko_api::lambda::route(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query(),
            &header_pairs,
        ) {
            Ok(r) => Some(r),
            Err(e) => return error(seen, e, Some(Service::Lambda)),
        }
    } else {
        None
    };
    let body_limit = lambda_route.as_ref().map_or(MAX_BODY, |r| r.body_limit);
    // A declared length over the limit is refused before any of the body is read.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = |seen: &mut Seen| {
        let e = match &lambda_route {
            Some(r) => kinko_api::lambda::too_large(r),
            None => WireError::new(
                "RequestEntityTooLargeException",
                413,
                format!("Request body is larger than the limit of {MAX_BODY} bytes."),
            ),
        };
        closing(error(seen, e, None))
    };
    if declared.is_some_and(|n| n > body_limit as u64) {
        return too_large(seen);
    }
    let body: Bytes = match axum::body::to_bytes(body, body_limit).await {
        Ok(b) => b,
        // The body read timeout (see `listener`): AWS's answer to a request body that stops arriving.
        Err(e) if crate::listener::is_body_timeout(&e) => {
            return closing(error(
                seen,
                WireError::new(
                    "RequestTimeoutException",
                    408,
                    "Your socket connection to the server was not read from or written to within the \
                     timeout period. Idle connections will be closed.",
                ),
                None,
            ));
        }
        Err(_) => return too_large(seen),
    };
    let sreq = kinko_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &header_pairs,
        body: &body,
    };
    let auth = match Authenticator::parse(&sreq, protocol) {
        Ok(a) => a,
        Err(e) => {
            if protocol == Protocol::Query
                && matches!(kinko_sigv4::parse(&sreq), Err(kinko_sigv4::SigV4Error::Missing))
                && let Some(params) = unsigned_web_identity(parts.uri.query(), &body)
            {
                let mut rc = RequestContext::new(
                    kinko_core::principal::Principal::anonymous(),
                    UNSIGNED_REGION,
                    &request_id,
                );
                rc.source_ip = source_ip;
                rc.user_agent = user_agent;
                rc.tls_details = tls_details;
                let input = kinko_api::CallInput::Query(&params);
                let operation = params
                    .as_ref()
                    .ok()
                    .and_then(|p| p.action())
                    .unwrap_or_default()
                    .to_owned();
                let operation = operation.as_str();
                seen.service = Some(Service::Sts);
                seen.action = operation.to_owned();
                return match kinko_api::call(&app.services, &rc, Some(Service::Sts), operation, input).await {
                    Ok(out) => xml_response(&request_id, out),
                    Err(e) => error(seen, e, Some(Service::Sts)),
                };
            }
            return error(seen, e, None);
        }
    };
    // Which service and operation.
    let (service, operation, params) = match (&json_target, &lambda_route) {
        (_, Some(r)) => (Some(Service::Lambda), r.operation.to_owned(), None),
        (Some(t), None) => match json_service(t) {
            Ok((service, op)) => (Some(service), op.to_owned(), None),
            Err(e) => (None, t.clone(), Some(Err(e))),
        },
        (None, None) => {
            let params = query_params(parts.uri.query(), &body, auth.form);
            let action = params
                .as_ref()
                .ok()
                .and_then(|p| p.action())
                .unwrap_or_default()
                .to_owned();
            let service = match auth.service.as_str() {
                "iam" => Some(Service::Iam),
                "sts" => Some(Service::Sts),
                "cloudformation" => Some(Service::CloudFormation),
                _ => None,
            };
            (service, action, Some(params))
        }
    };
    seen.service = service;
    seen.action.clone_from(&operation);
    if app.log_requests {
        seen.access_key_id.clone_from(&auth.access_key_id);
    }
    let (sigv4_service, event_source) = service.map_or(("", ""), |s| (s.signing_name(), s.event_source()));
    let event_time = app.services.clock.now();
    let scope = if service.is_some() {
        sigv4_service.to_owned()
    } else {
        auth.service.clone()
    };
    let who = match app.auth.authenticate(&sreq, &auth, &scope, protocol).await {
        Ok(w) => w,
        Err(e) => {
            // Refused before any principal is known: the one record the services can't write.
            let event = AuditEvent {
                event_time,
                event_source,
                event_name: operation.clone(),
                aws_region: auth.region.clone(),
                request_id: request_id.clone(),
                access_key_id: auth.access_key_id.clone(),
                principal_arn: None,
                account_id: None,
                caller: kinko_api::audit::Caller::Unknown,
                recipient_account_id: None,
                shared_with: Vec::new(),
                error_code: Some(e.code.to_owned()),
                error_message: None,
                source_ip: source_ip.map(|ip| ip.to_string()),
                user_agent,
                // Nothing of the request is read before its caller is known.
                read_only: None,
                request_parameters: None,
                response_elements: None,
                resources: Vec::new(),
                tls_details,
                invoked_by: None,
            };
            // The refusal is answered once its record is durable; if it cannot be written the
            // answer is the same refusal (nothing ran).
            let _ = app.audit.record(&event).await;
            return error(seen, e, service);
        }
    };
    seen.authenticated = true;
    if app.log_requests {
        seen.principal_arn = Some(who.principal.arn.clone());
    }
    let mut rc = RequestContext::new(who.principal, &auth.region, &request_id);
    rc.session = who.session;
    rc.source_ip = source_ip;
    rc.access_key_id = auth.access_key_id.clone();
    rc.user_agent = user_agent;
    // Set when the request came over TLS (also what makes `aws:SecureTransport` true).
    rc.tls_details = tls_details;
    let rest = lambda_route.map(|r| kinko_api::operation::RestRequest {
        members: r.members,
        raw_body: r.raw_body,
        body: &body,
    });
    let input = match (&params, &rest) {
        (_, Some(r)) => kinko_api::CallInput::Rest(r),
        (Some(p), None) => kinko_api::CallInput::Query(p),
        (None, None) => kinko_api::CallInput::Json(&body),
    };
    // The call's audit record is written by the services' one entry point.
    match kinko_api::call(&app.services, &rc, service, &operation, input).await {
        Ok(out) if lambda => rest_response(&request_id, out, rc.reply.take()),
        Ok(out) => match protocol {
            Protocol::Json => json_response(200, &request_id, out, None),
            Protocol::Query => xml_response(&request_id, out),
        },
        Err(e) => error(seen, e, service),
    }
}

/// An answer after which the connection is closed: the rest of the request's body is never read.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The region of an unsigned request: STS's global endpoint's.
const UNSIGNED_REGION: &str = "us-east-1";

/// The parameters of an unsigned Query request that asks for STS `AssumeRoleWithWebIdentity` or
/// `AssumeRoleWithSAML`, the actions AWS serves without a signature (their proof is the identity
/// token or SAML assertion they carry); `None` for any other request, which is then refused as
/// unsigned.
fn unsigned_web_identity(
    query: Option<&str>,
    body: &[u8],
) -> Option<Result<kinko_wire::query::Params, WireError>> {
    let params = query_params(query, body, kinko_sigv4::Form::Header);
    let action = params.as_ref().ok()?.action()?;
    [
        kinko_api::sts::web_identity::OPERATION,
        kinko_api::sts::saml::OPERATION,
    ]
    .contains(&action)
    .then_some(params)
}

/// The parameters of a Query request: the URL's query string and the form body (POST), each name
/// once across both. A presigned request's parameters are exactly its signed query string: a body
/// would add to what was signed (its hash may be left out of the signature as `UNSIGNED-PAYLOAD`),
/// so a presigned request with one is refused, as is a repeated parameter.
fn query_params(
    query: Option<&str>,
    body: &[u8],
    form: kinko_sigv4::Form,
) -> Result<kinko_wire::query::Params, WireError> {
    if let kinko_sigv4::Form::Query { .. } = form {
        if !body.is_empty() {
            return Err(kinko_wire::query::invalid_query());
        }
        return kinko_wire::query::Params::parse(query.unwrap_or_default().as_bytes());
    }
    let mut all = Vec::with_capacity(body.len() + query.map_or(0, str::len) + 1);
    if let Some(q) = query {
        all.extend_from_slice(q.as_bytes());
        all.push(b'&');
    }
    all.extend_from_slice(body);
    kinko_wire::query::Params::parse(&all)
}

fn xml_response(request_id: &str, body: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}
