//! The HTTP pipeline every request goes through: bounded body, request id, service and action,
//! SigV4 authentication, dispatch to the service, AWS-shaped response, audit event.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use kinko_api::RequestContext;
use kinko_wire::WireError;

use crate::App;
use crate::audit::AuditEvent;
use crate::auth::{Authenticator, Protocol};

/// Largest request body accepted. Secret values are at most 64 KiB (about 87 KiB as base64).
pub(crate) const MAX_BODY: usize = 1 << 20;

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(health))
        .fallback(any(aws))
        .with_state(app)
}

async fn health() -> &'static str {
    "ok"
}

/// Which AWS service a request is for.
enum Service<'a> {
    SecretsManager {
        operation: &'a str,
    },
    /// A JSON 1.1 target of a service this server doesn't speak (yet).
    UnknownTarget(&'a str),
    /// No `X-Amz-Target`: a Query-protocol request (IAM, STS) or garbage.
    Query,
}

fn service_of(headers: &HeaderMap) -> Service<'_> {
    match headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(t) => match t.split_once('.') {
            Some(("secretsmanager", op)) => Service::SecretsManager { operation: op },
            _ => Service::UnknownTarget(t),
        },
        None => Service::Query,
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

fn query_error(e: &WireError, request_id: &str) -> Response {
    let body = kinko_wire::query::error_body(e, "https://iam.amazonaws.com/doc/2010-05-08/", request_id);
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
    let now = app.services.clock.now();
    with_date(handle(&app, req).await, now)
}

async fn handle(app: &App, req: Request) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let protocol = match service_of(&parts.headers) {
        Service::Query => Protocol::Query,
        _ => Protocol::Json,
    };
    let error = |e: WireError| match protocol {
        Protocol::Json => json_error(&e, &request_id),
        Protocol::Query => query_error(&e, &request_id),
    };
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error(WireError::new(
                "RequestEntityTooLargeException",
                413,
                format!("Request body is larger than the limit of {MAX_BODY} bytes."),
            ));
        }
    };
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| std::str::from_utf8(v.as_bytes()).ok().map(|v| (n.as_str(), v)))
        .collect();
    let sreq = kinko_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &headers,
        body: &body,
    };
    let service = service_of(&parts.headers);
    let (service_name, event_source, operation) = match &service {
        Service::SecretsManager { operation } => {
            ("secretsmanager", "secretsmanager.amazonaws.com", *operation)
        }
        Service::UnknownTarget(t) => ("", "", *t),
        Service::Query => ("", "", ""),
    };
    let auth = match Authenticator::parse(&sreq, protocol) {
        Ok(a) => a,
        Err(e) => return error(e),
    };
    let mut event = AuditEvent {
        event_time: app.services.clock.now(),
        event_source,
        event_name: operation.to_owned(),
        aws_region: auth.region.clone(),
        request_id: request_id.clone(),
        access_key_id: auth.access_key_id.clone(),
        principal_arn: None,
        account_id: None,
        error_code: None,
        error_message: None,
        source_ip: None,
        duration_us: 0,
    };
    let principal = match &service {
        Service::SecretsManager { .. } => app.auth.authenticate(&sreq, &auth, service_name, protocol).await,
        Service::UnknownTarget(_) | Service::Query => {
            // Authenticate against the service the client scoped its signature to.
            let scoped = auth.service.clone();
            app.auth.authenticate(&sreq, &auth, &scoped, protocol).await
        }
    };
    let principal = match principal {
        Ok(p) => p,
        Err(e) => {
            event.error_code = Some(e.code.to_owned());
            event.duration_us = started.elapsed().as_micros();
            app.audit.record(&event);
            return error(e);
        }
    };
    event.principal_arn = Some(principal.arn.clone());
    event.account_id = Some(principal.account_id.clone());
    let rc = RequestContext {
        principal,
        region: auth.region.clone(),
        request_id: request_id.clone(),
    };
    let result = match service {
        Service::SecretsManager { operation } => {
            kinko_api::secretsmanager::handle(&app.services, &rc, operation, &body).await
        }
        Service::UnknownTarget(t) => Err(WireError::new(
            "UnknownOperationException",
            400,
            format!("The operation {t} is not supported by this server."),
        )),
        Service::Query => {
            let action = form_action(&body).unwrap_or_default();
            Err(WireError::new(
                "InvalidAction",
                400,
                format!("The action {action} is not valid for this web service."),
            ))
        }
    };
    event.duration_us = started.elapsed().as_micros();
    match result {
        Ok(out) => {
            app.audit.record(&event);
            json_response(200, &request_id, out, None)
        }
        Err(e) => {
            event.error_code = Some(e.code.to_owned());
            if e.status < 500 {
                event.error_message = Some(e.message.clone());
            }
            app.audit.record(&event);
            error(e)
        }
    }
}

/// The `Action` field of a form-encoded Query request body.
fn form_action(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "Action").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && i + 2 < bytes.len() => {
                match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
