//! The bare server: the throughput ceiling of the HTTP stack on this machine.
//!
//! It reads each request in full and answers with the same canned 200
//! response (AWS JSON 1.1 content type, a fixed `x-amzn-RequestId`, the body
//! given on the command line), doing no other work.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::cli::BareArgs;
use crate::signing::CONTENT_TYPE_JSON_1_1;

/// Body served when no body file is given: a GetSecretValue response of typical size.
const DEFAULT_BODY: &str = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-0-AbCdEf","CreatedDate":1.7e9,"Name":"bench-0","SecretString":"{\"engine\":\"postgres\",\"password\":\"00000000000000000000000000000000\",\"username\":\"app\"}","VersionId":"00000000-0000-4000-8000-000000000000","VersionStages":["AWSCURRENT"]}"#;

struct Canned {
    body: Bytes,
    request_id: HeaderValue,
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
    let canned = Arc::new(Canned {
        body,
        request_id: HeaderValue::from_str(&request_id).context("invalid --request-id")?,
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
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(canned.body.clone()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON_1_1));
    headers.insert("x-amzn-requestid", canned.request_id.clone());
    Ok(response)
}
