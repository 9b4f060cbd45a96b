//! The credentials endpoints a workload's unmodified SDK reads, with no key on its machine:
//!
//! - the *container credentials endpoint* (`--container-credentials-listen`), what ECS tasks and
//!   EKS Pod Identity use: `GET /v1/credentials` with a container credentials token in
//!   `Authorization` (the SDKs send `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)` there) answers
//!   AccessKeyId, SecretAccessKey, Token, Expiration and RoleArn for the token's role;
//! - the *instance metadata endpoint* (`--imds-listen IP`), EC2's IMDSv2: one port per instance
//!   attachment on that address (see [`kinko_core::workload`] for why a port), serving the role of
//!   the attachment's instance profile.
//!
//! Every request looks its attachment up in the store, so a revoked attachment or token stops
//! working at once, on every node. Credentials are role sessions the server issues through STS's
//! own session code ([`kinko_api::sts::service_role_session`]) for `ec2.amazonaws.com` or
//! `ecs-tasks.amazonaws.com`, which the role's trust policy must allow, audited as CloudTrail
//! records EC2's and ECS's AssumeRole calls. A session is reused until half its life has passed,
//! then a new one is issued.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kinko_api::Services;
use kinko_api::kinko::{EC2_SERVICE, ECS_TASKS_SERVICE};
use kinko_api::sts::{Issued, ServiceSession, service_role_session};
use kinko_core::Timestamp;
use kinko_core::principal::Principal;
use kinko_core::workload::{Attachment, AttachmentKind};
use subtle::ConstantTimeEq as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::listener::{ConnectionLimits, Plain};

/// The region the endpoints' sessions and documents name.
const REGION: &str = "us-east-1";

/// What both endpoints share: the services, how long sessions last, the sessions issued.
pub(crate) struct Endpoints {
    services: Services,
    session_seconds: i64,
    region: String,
    /// Per attachment id: the last session and when to issue a new one.
    sessions: Mutex<HashMap<String, Cached>>,
}

#[derive(Clone)]
struct Cached {
    role_arn: String,
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: String,
    expiration: Timestamp,
    issued: Timestamp,
    refresh_at: Timestamp,
}

/// An ISO 8601 time without fractional seconds, as EC2 and ECS write them (botocore parses
/// `%Y-%m-%dT%H:%M:%SZ`).
fn iso(t: Timestamp) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset_date_time().format(FORMAT).unwrap_or_default()
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

impl Endpoints {
    pub fn new(services: Services, session_seconds: i64) -> Self {
        Endpoints {
            services,
            session_seconds,
            region: REGION.to_owned(),
            sessions: Mutex::default(),
        }
    }

    /// The current session of `attachment`'s role, issuing a new one when there is none yet, it
    /// is past half its life, or the attachment's role changed.
    async fn session(
        &self,
        attachment: &Attachment,
        role_arn: &str,
        service: &'static str,
        default_session_name: &str,
    ) -> Result<Cached, kinko_wire::WireError> {
        let now = self.services.clock.now();
        if let Ok(sessions) = self.sessions.lock()
            && let Some(c) = sessions.get(&attachment.id)
            && c.role_arn == role_arn
            && now < c.refresh_at
            && now >= c.issued
        {
            return Ok(c.clone());
        }
        let session_name = attachment
            .session_name
            .clone()
            .unwrap_or_else(|| default_session_name.to_owned());
        let (issued, _principal): (Issued, Principal) = service_role_session(
            &self.services,
            &ServiceSession {
                service,
                role_arn,
                session_name: &session_name,
                tags: &attachment.session_tags,
                duration_secs: self.session_seconds,
                region: &self.region,
            },
        )
        .await?;
        let life = issued.expiration.millis() - now.millis();
        let cached = Cached {
            role_arn: role_arn.to_owned(),
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key,
            session_token: issued.session_token,
            expiration: issued.expiration,
            issued: now,
            refresh_at: now.plus_millis(life / 2),
        };
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(attachment.id.clone(), cached.clone());
        }
        Ok(cached)
    }

    /// Forgets the sessions of attachments that are gone.
    fn forget_except(&self, live: &[String]) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.retain(|id, _| live.contains(id));
        }
    }
}

// --- the container credentials endpoint ---

/// The path `AWS_CONTAINER_CREDENTIALS_FULL_URI` names.
pub const CONTAINER_CREDENTIALS_PATH: &str = "/v1/credentials";

fn container_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, &serde_json::json!({"code": code, "message": message}))
}

async fn container_credentials(State(e): State<Arc<Endpoints>>, req: Request) -> Response {
    if req.uri().path() != CONTAINER_CREDENTIALS_PATH {
        return container_error(StatusCode::NOT_FOUND, "NotFound", "Not Found");
    }
    if req.method() != Method::GET {
        return container_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidRequest",
            "Only GET is served",
        );
    }
    let denied = || {
        container_error(
            StatusCode::UNAUTHORIZED,
            "AccessDenied",
            "Authorization token is missing, invalid or revoked",
        )
    };
    let Some(presented) = req.headers().get(header::AUTHORIZATION) else {
        return denied();
    };
    // The token is looked up by its SHA-256. The index lookup is not constant-time, but what it
    // could leak is about the hash, which reveals nothing of a 256-bit random token; the stored
    // hash is then compared in constant time all the same.
    let hash = kinko_crypto::sha256_hex(presented.as_bytes());
    let attachment = match e.services.store.attachment_by_token(&hash).await {
        Ok(Some(a)) => a,
        Ok(None) => return denied(),
        Err(err) => {
            tracing::error!(error = %err, "container credentials: token lookup failed");
            return container_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "An internal error occurred.",
            );
        }
    };
    let AttachmentKind::Container {
        role_arn,
        token_sha256,
    } = &attachment.kind
    else {
        return denied();
    };
    if !bool::from(token_sha256.as_bytes().ct_eq(hash.as_bytes())) {
        return denied();
    }
    match e
        .session(&attachment, role_arn, ECS_TASKS_SERVICE, &attachment.id)
        .await
    {
        Ok(c) => json(
            StatusCode::OK,
            &serde_json::json!({
                "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key.as_str(),
                "Token": c.session_token,
                "Expiration": iso(c.expiration),
                "RoleArn": role_arn,
            }),
        ),
        Err(err) => {
            let status = if err.status >= 500 {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::FORBIDDEN
            };
            container_error(status, err.code, &err.message)
        }
    }
}

/// The container credentials listener.
pub(crate) struct ContainerListener {
    pub addr: SocketAddr,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl ContainerListener {
    pub async fn start(
        addr: SocketAddr,
        endpoints: Arc<Endpoints>,
        limits: ConnectionLimits,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<ContainerListener> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .fallback(container_credentials)
            .with_state(endpoints);
        let task = tokio::spawn(crate::listener::serve(listener, Plain, router, limits, stop));
        Ok(ContainerListener { addr, task })
    }
}

// --- the instance metadata endpoint ---

const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const MAX_TTL: u64 = 21_600;

/// The instance id EC2 would name the attachment's instance by: `i-` and 17 hex digits of its id.
pub fn instance_id(attachment_id: &str) -> String {
    let tail = attachment_id.rsplit('-').next().unwrap_or_default();
    let hex: String = tail.chars().filter(char::is_ascii_hexdigit).take(17).collect();
    format!("i-{hex:0>17}")
}

/// One port's state: the IMDSv2 session tokens it issued (for which attachment, until when).
struct Port {
    port: u16,
    endpoints: Arc<Endpoints>,
    tokens: Mutex<HashMap<String, (String, Timestamp)>>,
}

fn random_token() -> Option<String> {
    kinko_crypto::random_bytes(32)
        .ok()
        .map(|b| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b))
}

impl Port {
    fn token_ok(&self, headers: &HeaderMap, attachment_id: &str, now: Timestamp) -> bool {
        let Some(presented) = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Ok(mut tokens) = self.tokens.lock() else {
            return false;
        };
        tokens.retain(|_, (_, end)| *end > now);
        // Compared in constant time, token by token.
        tokens
            .iter()
            .any(|(t, (id, _))| bool::from(t.as_bytes().ct_eq(presented.as_bytes())) && id == attachment_id)
    }
}

async fn imds(State(p): State<Arc<Port>>, req: Request) -> Response {
    let e = &p.endpoints;
    let now = e.services.clock.now();
    let attachment = match e.services.store.attachment_by_port(p.port).await {
        Ok(Some(a)) => a,
        // Revoked: nothing is served here any more.
        Ok(None) => return text(StatusCode::NOT_FOUND, "Not Found"),
        Err(err) => {
            tracing::error!(error = %err, port = p.port, "instance metadata: attachment lookup failed");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let AttachmentKind::Instance {
        instance_profile_name,
        ..
    } = &attachment.kind
    else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    let path = req.uri().path().to_owned();
    // EC2 refuses token requests that came through a proxy (IMDSv2's defence against SSRF).
    if req.method() == Method::PUT && path == "/latest/api/token" {
        if req.headers().contains_key("x-forwarded-for") {
            return text(StatusCode::FORBIDDEN, "Forbidden");
        }
        let Some(ttl) = req
            .headers()
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|t| (1..=MAX_TTL).contains(t))
        else {
            return text(StatusCode::BAD_REQUEST, "Bad Request");
        };
        let Some(token) = random_token() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let ttl_ms = i64::try_from(ttl).unwrap_or(0) * 1000;
        if let Ok(mut tokens) = p.tokens.lock() {
            tokens.insert(token.clone(), (attachment.id.clone(), now.plus_millis(ttl_ms)));
        }
        let mut r = text(StatusCode::OK, token);
        if let Ok(v) = HeaderValue::from_str(&ttl.to_string()) {
            r.headers_mut().insert(TTL_HEADER, v);
        }
        return r;
    }
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    // IMDSv2 only: a request without a live token is refused, as with HttpTokens=required.
    if !p.token_ok(req.headers(), &attachment.id, now) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let iam = match e.services.store.iam_state(&attachment.account_id).await {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "instance metadata: IAM lookup failed");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let profile = iam.instance_profile(instance_profile_name);
    let role = profile.and_then(|p| p.roles.first()).and_then(|r| iam.role(r));
    let instance_id = instance_id(&attachment.id);
    let creds_prefix = "/latest/meta-data/iam/security-credentials/";
    match path.as_str() {
        "/latest/meta-data/iam/security-credentials/" | "/latest/meta-data/iam/security-credentials" => {
            match role {
                Some(r) => text(StatusCode::OK, r.name.clone()),
                None => text(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        p if p.starts_with(creds_prefix) => {
            let Some(role) = role.filter(|r| p[creds_prefix.len()..] == r.name) else {
                return text(StatusCode::NOT_FOUND, "Not Found");
            };
            match e.session(&attachment, &role.arn, EC2_SERVICE, &instance_id).await {
                Ok(c) => json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "Code": "Success",
                        "LastUpdated": iso(c.issued),
                        "Type": "AWS-HMAC",
                        "AccessKeyId": c.access_key_id,
                        "SecretAccessKey": c.secret_access_key.as_str(),
                        "Token": c.session_token,
                        "Expiration": iso(c.expiration),
                    }),
                ),
                Err(err) => {
                    tracing::warn!(code = err.code, message = %err.message, "instance metadata: no role session");
                    // EC2 answers a role it can't assume with Code other than Success.
                    json(
                        StatusCode::OK,
                        &serde_json::json!({
                            "Code": "AssumeRoleUnauthorizedAccess",
                            "Message": err.message,
                            "LastUpdated": iso(now),
                        }),
                    )
                }
            }
        }
        "/latest/meta-data/iam/info" => match profile {
            Some(pr) => json(
                StatusCode::OK,
                &serde_json::json!({
                    "Code": "Success",
                    "LastUpdated": iso(now),
                    "InstanceProfileArn": pr.arn,
                    "InstanceProfileId": pr.instance_profile_id,
                }),
            ),
            None => text(StatusCode::NOT_FOUND, "Not Found"),
        },
        "/latest/meta-data/instance-id" => text(StatusCode::OK, instance_id),
        "/latest/meta-data/placement/region" => text(StatusCode::OK, e.region.clone()),
        "/latest/meta-data/placement/availability-zone" => text(StatusCode::OK, format!("{}a", e.region)),
        "/latest/dynamic/instance-identity/document" => json(
            StatusCode::OK,
            &serde_json::json!({
                "accountId": attachment.account_id,
                "architecture": std::env::consts::ARCH,
                "availabilityZone": format!("{}a", e.region),
                "imageId": "ami-00000000000000000",
                "instanceId": instance_id,
                "instanceType": "kinko.attachment",
                "pendingTime": iso(attachment.created_date),
                "privateIp": "127.0.0.1",
                "region": e.region,
                "version": "2017-09-30",
            }),
        ),
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// The instance metadata listeners: one per instance attachment's port, on one address, kept in
/// step with the store's attachments by [`ImdsListeners::sync`].
pub(crate) struct ImdsListeners {
    ip: IpAddr,
    endpoints: Arc<Endpoints>,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
    bound: tokio::sync::Mutex<HashMap<u16, JoinHandle<std::io::Result<()>>>>,
}

/// How often the listeners are brought in step with the store (a new attachment's port starts
/// answering within this; a revoked one stops at once, by its lookup).
pub(crate) const SYNC_INTERVAL: Duration = Duration::from_secs(2);

impl ImdsListeners {
    pub fn new(
        ip: IpAddr,
        endpoints: Arc<Endpoints>,
        limits: ConnectionLimits,
        stop: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new(ImdsListeners {
            ip,
            endpoints,
            limits,
            stop,
            bound: tokio::sync::Mutex::default(),
        })
    }

    /// Listens on the port of every instance attachment, and stops listening on those revoked.
    pub async fn sync(&self) {
        let attachments = match self.endpoints.services.store.list_attachments(None).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "instance metadata: cannot list the attachments");
                return;
            }
        };
        self.endpoints
            .forget_except(&attachments.iter().map(|a| a.id.clone()).collect::<Vec<_>>());
        let ports: Vec<u16> = attachments.iter().filter_map(Attachment::port).collect();
        let mut bound = self.bound.lock().await;
        bound.retain(|port, task| {
            let keep = ports.contains(port) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for port in ports {
            if bound.contains_key(&port) {
                continue;
            }
            let addr = SocketAddr::new(self.ip, port);
            let listener = match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, %addr, "instance metadata: cannot listen for an attachment");
                    continue;
                }
            };
            let state = Arc::new(Port {
                port,
                endpoints: self.endpoints.clone(),
                tokens: Mutex::default(),
            });
            let router = Router::new().fallback(imds).with_state(state);
            let task = tokio::spawn(crate::listener::serve(
                listener,
                Plain,
                router,
                self.limits.clone(),
                self.stop.clone(),
            ));
            bound.insert(port, task);
        }
    }

    /// Runs [`ImdsListeners::sync`] now and then every [`SYNC_INTERVAL`] until the server stops.
    pub fn spawn(self: &Arc<Self>) -> JoinHandle<()> {
        let me = self.clone();
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            loop {
                me.sync().await;
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    () = tokio::time::sleep(SYNC_INTERVAL) => {}
                }
            }
            for (_, task) in me.bound.lock().await.drain() {
                let _ = task.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_no_fractional_seconds() {
        assert_eq!(iso(Timestamp(1_700_000_000_123)), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn instance_ids_look_like_ec2_ones() {
        assert_eq!(instance_id("ia-0123456789abcdef01234567"), "i-0123456789abcdef0");
        assert_eq!(instance_id("ia-12"), "i-00000000000000012");
    }
}
