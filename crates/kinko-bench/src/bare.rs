//! The bare server: the floor of any authenticated API on this machine.
//!
//! It reads each request in full, checks its SigV4 signature with kinko's own
//! verifier (the same parse, time, scope and signature checks as kinko's
//! server, the signing key cached per date, region and service, as kinko
//! caches it) and answers with the same canned 200 response (AWS JSON 1.1
//! content type, a fixed `x-amzn-RequestId`, the body given on the command
//! line), doing no other work. A request whose signature does not verify gets
//! a 403. Without a secret access key (`KINKO_BENCH_BARE_SECRET_ACCESS_KEY`) it
//! checks nothing: the ceiling of the HTTP stack alone.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write as _;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kinko_sigv4::SigningKey;
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::cli::BareArgs;
use crate::signing::CONTENT_TYPE_JSON_1_1;

/// Body served when no body file is given: a GetSecretValue response of typical size.
const DEFAULT_BODY: &str = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-0-AbCdEf","CreatedDate":1.7e9,"Name":"bench-0","SecretString":"{\"engine\":\"postgres\",\"password\":\"00000000000000000000000000000000\",\"username\":\"app\"}","VersionId":"00000000-0000-4000-8000-000000000000","VersionStages":["AWSCURRENT"]}"#;

/// Environment variable holding the secret access key the bare server verifies signatures with
/// (not a command-line argument, so it does not show in `ps`).
pub const SECRET_ENV: &str = "KINKO_BENCH_BARE_SECRET_ACCESS_KEY";

struct Canned {
    body: Bytes,
    request_id: HeaderValue,
    verifier: Option<Verifier>,
}

/// Checks signatures made with one access key, as kinko's server checks them.
struct Verifier {
    access_key_id: String,
    secret_access_key: Vec<u8>,
    /// Signing keys per (scope date, region, service): one HMAC per request instead of five.
    keys: RwLock<HashMap<(String, String, String), SigningKey>>,
}

impl Verifier {
    fn check(&self, request: &kinko_sigv4::Request<'_>) -> bool {
        let Ok(auth) = kinko_sigv4::parse(request) else {
            return false;
        };
        if auth.access_key_id != self.access_key_id
            || kinko_sigv4::check_time(&auth, OffsetDateTime::now_utc()).is_err()
            || kinko_sigv4::check_scope(&auth, &auth.service).is_err()
            || kinko_sigv4::check_signed(request, &auth, "X-Amz-Target").is_err()
        {
            return false;
        }
        let id = (auth.scope_date.clone(), auth.region.clone(), auth.service.clone());
        let cached = self.keys.read().ok().and_then(|keys| keys.get(&id).cloned());
        let key = cached.unwrap_or_else(|| {
            let key = kinko_sigv4::signing_key(&self.secret_access_key, &id.0, &id.1, &id.2);
            if let Ok(mut keys) = self.keys.write() {
                keys.insert(id, key.clone());
            }
            key
        });
        kinko_sigv4::verify(request, &auth, &key).is_ok()
    }
}

/// Serves until killed (or, with `--exit-on-stdin-eof`, until stdin closes).
pub async fn serve(args: BareArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() {
        bail!("the bare server only listens on loopback, not {}", args.listen);
    }
    let body = match &args.body_file {
        Some(path) => {
            Bytes::from(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => Bytes::from_static(DEFAULT_BODY.as_bytes()),
    };
    let request_id = args
        .request_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let verifier = match (std::env::var(SECRET_ENV), &args.access_key_id) {
        (Ok(secret), Some(id)) => Some(Verifier {
            access_key_id: id.clone(),
            secret_access_key: secret.into_bytes(),
            keys: RwLock::default(),
        }),
        (Ok(_), None) => bail!("{SECRET_ENV} is set but --access-key-id is not"),
        (Err(_), _) => None,
    };
    let canned = Arc::new(Canned {
        body,
        request_id: HeaderValue::from_str(&request_id).context("invalid --request-id")?,
        verifier,
    });

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr().context("reading bound address")?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "kinko-bench bare listening on http://{addr}")?;
        stdout.flush()?;
    }

    if args.exit_on_stdin_eof {
        tokio::spawn(async {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    }

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Transient (e.g. out of file descriptors): keep serving.
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let canned = Arc::clone(&canned);
        tokio::spawn(async move {
            let service = service_fn(move |request| respond(Arc::clone(&canned), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(
    canned: Arc<Canned>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the whole request, like a real server must before answering.
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if let Some(verifier) = &canned.verifier {
        let headers: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let signed = kinko_sigv4::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &headers,
            body: &body,
        };
        if !verifier.check(&signed) {
            let mut refused = Response::new(Full::new(Bytes::from_static(
                br#"{"__type":"InvalidSignatureException"}"#,
            )));
            *refused.status_mut() = http::StatusCode::FORBIDDEN;
            return Ok(refused);
        }
    }
    let mut response = Response::new(Full::new(canned.body.clone()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON_1_1));
    headers.insert("x-amzn-requestid", canned.request_id.clone());
    Ok(response)
}
