//! The instance metadata endpoint of `kinko exec --imds`: the part of EC2's IMDSv2 the SDKs'
//! instance profile provider and region provider read, for one instance profile.
//!
//! - `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1 to 21600) answers a
//!   session token; a request carrying `X-Forwarded-For` is refused, as EC2 refuses it.
//! - Every `GET` needs a live token in `X-aws-ec2-metadata-token`: IMDSv1 is answered 401.
//! - `/latest/meta-data/iam/security-credentials/` names the role; `.../ROLE` answers Code,
//!   LastUpdated, Type, AccessKeyId, SecretAccessKey, Token, Expiration (no fractional seconds);
//!   `/latest/meta-data/iam/info` the instance profile; `/latest/dynamic/instance-identity/document`
//!   the region and account; `/latest/meta-data/placement/region` the region.
//!
//! As on an instance, any local process that reaches the port can read the role's credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use super::Assumer;

const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const MAX_TTL: u64 = 21_600;

/// What the endpoint knows of the instance it stands in for.
pub struct Instance {
    pub instance_profile_arn: String,
    pub instance_profile_id: String,
    pub role_name: String,
    pub account_id: String,
    pub region: String,
    pub instance_id: String,
}

struct State {
    assumer: Arc<Assumer>,
    instance: Instance,
    /// Live session tokens and their end.
    tokens: Mutex<HashMap<String, Instant>>,
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

fn token_ok(state: &State, req: &Request<hyper::body::Incoming>) -> bool {
    let Some(presented) = req.headers().get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Ok(mut tokens) = state.tokens.lock() else {
        return false;
    };
    let now = Instant::now();
    tokens.retain(|_, end| *end > now);
    tokens.contains_key(presented)
}

async fn answer(req: Request<hyper::body::Incoming>, state: Arc<State>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::PUT && path == "/latest/api/token" {
        if req.headers().contains_key("x-forwarded-for") {
            return text(StatusCode::FORBIDDEN, "Forbidden");
        }
        let ttl = req
            .headers()
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|t| (1..=MAX_TTL).contains(t));
        let Some(ttl) = ttl else {
            return text(StatusCode::BAD_REQUEST, "Bad Request");
        };
        let token = super::random_token();
        if let Ok(mut tokens) = state.tokens.lock() {
            tokens.insert(token.to_string(), Instant::now() + Duration::from_secs(ttl));
        }
        let mut r = text(StatusCode::OK, token.to_string());
        if let Ok(v) = hyper::header::HeaderValue::from_str(&ttl.to_string()) {
            r.headers_mut().insert(TTL_HEADER, v);
        }
        return r;
    }
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    if !token_ok(&state, &req) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let i = &state.instance;
    let creds_prefix = "/latest/meta-data/iam/security-credentials/";
    match path.as_str() {
        "/latest/meta-data/iam/security-credentials/" | "/latest/meta-data/iam/security-credentials" => {
            text(StatusCode::OK, i.role_name.clone())
        }
        p if p.strip_prefix(creds_prefix) == Some(i.role_name.as_str()) => match state.assumer.bodies().await
        {
            Ok((_, imds)) => text(StatusCode::OK, Zeroizing::new(imds.to_string()).to_string()),
            Err(e) => {
                eprintln!(
                    "kinko exec: assuming {} again failed: {e}",
                    state.assumer.role_arn
                );
                text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        },
        "/latest/meta-data/iam/info" => text(
            StatusCode::OK,
            serde_json::json!({
                "Code": "Success",
                "LastUpdated": super::now_iso(),
                "InstanceProfileArn": i.instance_profile_arn,
                "InstanceProfileId": i.instance_profile_id,
            })
            .to_string(),
        ),
        "/latest/meta-data/placement/region" => text(StatusCode::OK, i.region.clone()),
        "/latest/meta-data/instance-id" => text(StatusCode::OK, i.instance_id.clone()),
        "/latest/dynamic/instance-identity/document" => text(
            StatusCode::OK,
            serde_json::json!({
                "accountId": i.account_id,
                "architecture": std::env::consts::ARCH,
                "availabilityZone": format!("{}a", i.region),
                "imageId": "ami-00000000000000000",
                "instanceId": i.instance_id,
                "instanceType": "kinko.exec",
                "pendingTime": super::now_iso(),
                "privateIp": "127.0.0.1",
                "region": i.region,
                "version": "2017-09-30",
            })
            .to_string(),
        ),
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// Serves the endpoint on `listener` until the process ends.
pub fn serve(listener: TcpListener, assumer: Arc<Assumer>, instance: Instance) {
    let state = Arc::new(State {
        assumer,
        instance,
        tokens: Mutex::new(HashMap::new()),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(req, state).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
