//! `kinko agent`: a local caching sidecar with the AWS Secrets Manager Agent's HTTP interface, so
//! programs written for AWS's agent read their secrets through it unchanged.
//!
//! - `GET /secretsmanager/get?secretId=ID[&versionId=V][&versionStage=S][&refreshNow=true]` and
//!   `GET {path_prefix}ID?...` (`/v1/ID` by default) answer GetSecretValue's fields as AWS's agent
//!   does ([`cache`]); `GET /ping` answers `healthy` with no token.
//! - Every other request needs the SSRF token in one of the `ssrf_headers`
//!   (`X-Aws-Parameters-Secrets-Token` by default), compared in constant time; the token is the
//!   first set variable of `ssrf_env_variables` (`AWS_TOKEN`, ...), or the file it names as
//!   `file://PATH`. A request with `X-Forwarded-For` is refused: it came through a proxy.
//! - Refusals answer AWS's agent's statuses and plain-text bodies (400 `Forwarded`, 403
//!   `Bad Token`, 405 `Not allowed`, 404 `Not found`, 429 `Connection limit exceeded`, 400 for a
//!   bad query); Secrets Manager's errors pass through with their status, `__type` and `message`.
//! - It listens on loopback only (127.0.0.1:2773 by default); another address needs
//!   `--allow-non-loopback`. Accepted connections get an IP TTL of 1, so answers do not cross a
//!   router.
//! - Upstream it is an ordinary Secrets Manager client with the default credential chain, pointed
//!   at the endpoint `kinko exec` uses (`--endpoint`, else AWS_ENDPOINT_URL, else the local kinko
//!   server): under `kinko exec --role ...` it reads as the role, with no access key anywhere.

mod cache;
mod config;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderName;
use hyper::{Method, Request, Response, StatusCode};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

pub use config::AgentConfig;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// Config file in the AWS Secrets Manager Agent's TOML shape: log_level, http_port,
    /// ttl_seconds, cache_size, ssrf_headers, ssrf_env_variables, path_prefix, max_conn, region,
    /// ignore_transient_errors.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Port to listen on, over the file's http_port (default 2773; 0: any free port).
    #[arg(long)]
    port: Option<u16>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Allow a --bind address other than loopback. Anyone who can reach it and holds the token
    /// reads the secrets this agent's credentials may read.
    #[arg(long)]
    allow_non_loopback: bool,
    /// The Secrets Manager endpoint (default: AWS_ENDPOINT_URL, else http://127.0.0.1:8780).
    #[arg(long)]
    endpoint: Option<String>,
    /// Region, over the file's (default: the configured region, else us-east-1).
    #[arg(long)]
    region: Option<String>,
}

/// Exit status for a configuration the agent cannot start with.
const BAD_CONFIG: u8 = 2;

/// The token requests must carry: the first of `vars` that is set and not empty, read from the
/// file it names when it is `file://PATH` (its content trimmed). An empty token is never taken,
/// since an empty header would then pass (AWS's agent takes an empty variable as the token).
fn ssrf_token(vars: &[String]) -> Result<Zeroizing<String>, String> {
    let Some((name, value)) = vars.iter().find_map(|name| {
        let value = Zeroizing::new(std::env::var(name).ok()?);
        (!value.is_empty()).then_some((name, value))
    }) else {
        return Err(format!(
            "no SSRF token: set one of {} (the token, or file://PATH of a file holding it)",
            vars.join(", ")
        ));
    };
    let token = match value.strip_prefix("file://") {
        Some(path) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read {path}: {e}"))?,
            );
            Zeroizing::new(text.trim().to_owned())
        }
        None => value,
    };
    if token.is_empty() {
        return Err(format!("the SSRF token from {name} is empty"));
    }
    Ok(token)
}

struct Agent {
    cache: cache::Cache,
    token: Zeroizing<String>,
    headers: Vec<HeaderName>,
    path_prefix: String,
    max_conn: usize,
    /// Connections open now.
    open: AtomicUsize,
}

/// A plain-text answer, as AWS's agent sends its refusals.
fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

/// A read asked for, from the query or the path.
struct Query {
    key: cache::Key,
    refresh_now: bool,
}

/// `refreshNow`'s values as AWS's agent reads them.
fn refresh_now(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("invalid refreshNow value".to_owned()),
    }
}

/// Reads the query string; `secret_id` is the path form's id, or `None` for
/// `/secretsmanager/get`, where `secretId` is a parameter. Unknown parameters are refused, and the
/// last of repeated ones counts, as in AWS's agent.
fn parse_query(query: Option<&str>, secret_id: Option<String>) -> Result<Query, String> {
    let path_form = secret_id.is_some();
    let mut q = Query {
        key: cache::Key {
            secret_id: secret_id.unwrap_or_default(),
            version_id: None,
            version_stage: None,
        },
        refresh_now: false,
    };
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*k {
            "secretId" if !path_form => q.key.secret_id = v.into_owned(),
            "versionId" => q.key.version_id = Some(v.into_owned()),
            "versionStage" => q.key.version_stage = Some(v.into_owned()),
            "refreshNow" => q.refresh_now = refresh_now(&v)?,
            other => return Err(format!("unknown parameter: {other}")),
        }
    }
    if q.key.secret_id.is_empty() {
        return Err("missing parameter secretId".to_owned());
    }
    Ok(q)
}

impl Agent {
    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        let ping = path == "/ping";
        // As AWS's agent: the health check keeps two connections more than the others.
        let limit = if ping { self.max_conn + 2 } else { self.max_conn };
        if self.open.load(Ordering::Relaxed) > limit {
            return text(StatusCode::TOO_MANY_REQUESTS, "Connection limit exceeded");
        }
        if !ping {
            if req.headers().contains_key("x-forwarded-for") {
                tracing::warn!("refused a request with X-Forwarded-For");
                return text(StatusCode::BAD_REQUEST, "Forwarded");
            }
            if !self.token_ok(req.headers()) {
                tracing::warn!("refused a request without the SSRF token");
                return text(StatusCode::FORBIDDEN, "Bad Token");
            }
        }
        if req.method() != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Not allowed");
        }
        let query = if ping {
            return text(StatusCode::OK, "healthy");
        } else if path == "/secretsmanager/get" {
            parse_query(req.uri().query(), None)
        } else if let Some(id) = path.strip_prefix(self.path_prefix.as_str()) {
            // The id is percent-decoded (AWS's agent keeps it encoded, so `/v1/a%2Fb` would ask
            // for `a%2Fb`, a name Secrets Manager cannot hold; decoding lets clients encode ARNs
            // and paths as URLs are meant to be).
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
            if id.is_empty() {
                Err("missing secret ID".to_owned())
            } else {
                parse_query(req.uri().query(), Some(id.into_owned()))
            }
        } else {
            return text(StatusCode::NOT_FOUND, "Not found");
        };
        let query = match query {
            Ok(q) => q,
            Err(e) => return text(StatusCode::BAD_REQUEST, e),
        };
        match self.cache.get(query.key, query.refresh_now).await {
            Ok(body) => text(StatusCode::OK, body),
            Err(f) => text(f.status, f.body),
        }
    }

    /// Whether one of the token headers holds the token (the first value of each, as AWS's agent
    /// reads it).
    fn token_ok(&self, headers: &hyper::HeaderMap) -> bool {
        self.headers.iter().any(|name| {
            headers
                .get(name)
                .is_some_and(|v| bool::from(v.as_bytes().ct_eq(self.token.as_bytes())))
        })
    }
}

/// Counts a connection while it is open.
struct Open(Arc<Agent>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve(listener: TcpListener, agent: Arc<Agent>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors, most likely: wait rather than spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // No answer may cross a router (as AWS's agent); small answers go out at once.
        let _ = stream.set_ttl(1);
        let _ = stream.set_nodelay(true);
        agent.open.fetch_add(1, Ordering::Relaxed);
        let open = Open(agent.clone());
        tokio::spawn(async move {
            let agent = open.0.clone();
            let service = hyper::service::service_fn(move |req| {
                let agent = agent.clone();
                async move { Ok::<_, Infallible>(agent.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            drop(open);
        });
    }
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("kinko agent: {message}");
    ExitCode::from(code)
}

pub async fn run(args: AgentArgs) -> ExitCode {
    let config = match &args.config {
        Some(path) => match AgentConfig::load(path) {
            Ok(c) => c,
            Err(e) => return fail(BAD_CONFIG, e),
        },
        None => AgentConfig::default(),
    };
    crate::init_logging(
        crate::LogFormat::Text,
        Some(crate::env("KINKO_LOG").unwrap_or_else(|| config.log_level.filter().to_owned())),
    );
    if !args.bind.is_loopback() && !args.allow_non_loopback {
        return fail(
            BAD_CONFIG,
            format!(
                "{} is not a loopback address; give --allow-non-loopback to listen on it",
                args.bind
            ),
        );
    }
    let token = match ssrf_token(&config.ssrf_env_variables) {
        Ok(t) => t,
        Err(e) => return fail(BAD_CONFIG, e),
    };
    let headers = match config
        .ssrf_headers
        .iter()
        .map(|h| HeaderName::from_bytes(h.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(h) => h,
        Err(e) => return fail(BAD_CONFIG, format!("ssrf_headers: {e}")),
    };
    let region = args.region.clone().or(config.region.clone());
    let (sdk, _endpoint) = crate::exec::sdk_config(args.endpoint.clone(), region).await;
    let agent = Arc::new(Agent {
        cache: cache::Cache::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            config.cache_size,
            config.ttl,
            config.ignore_transient_errors,
        ),
        token,
        headers,
        path_prefix: config.path_prefix.clone(),
        max_conn: config.max_conn,
        open: AtomicUsize::new(0),
    });
    let addr = SocketAddr::new(args.bind, args.port.unwrap_or(config.http_port));
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => return fail(1, format!("cannot listen on {addr}: {e}")),
    };
    let addr = listener
        .local_addr()
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
    let stop = crate::StopSignals::install();
    println!("kinko agent listening on http://{addr}");
    let server = tokio::spawn(serve(listener, agent));
    stop.wait().await;
    server.abort();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let q = parse_query(
            Some("secretId=a%2Fb+c&versionStage=AWSPREVIOUS&refreshNow=TRUE"),
            None,
        )
        .unwrap();
        assert_eq!(q.key.secret_id, "a/b c");
        assert_eq!(q.key.version_stage.as_deref(), Some("AWSPREVIOUS"));
        assert!(q.refresh_now);
        let q = parse_query(Some("versionId=v1&refreshNow=0"), Some("app".to_owned())).unwrap();
        assert_eq!(
            (q.key.secret_id.as_str(), q.key.version_id.as_deref()),
            ("app", Some("v1"))
        );
        assert!(!q.refresh_now);
        assert_eq!(
            parse_query(None, None).err().unwrap(),
            "missing parameter secretId"
        );
        assert_eq!(
            parse_query(Some("secretId=a&x=1"), None).err().unwrap(),
            "unknown parameter: x"
        );
        assert_eq!(
            parse_query(Some("secretId=a"), Some("b".to_owned()))
                .err()
                .unwrap(),
            "unknown parameter: secretId"
        );
        assert_eq!(
            parse_query(Some("secretId=a&refreshNow=yes"), None)
                .err()
                .unwrap(),
            "invalid refreshNow value"
        );
    }
}
