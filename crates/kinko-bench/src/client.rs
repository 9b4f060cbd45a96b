//! One HTTP/1.1 keep-alive connection per worker.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The server under load: where to connect and the authority to address.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `host:port`, sent as the `Host` header and signed.
    pub authority: String,
}

impl Endpoint {
    /// Parses `http://HOST:PORT[/]` and resolves the host.
    pub async fn parse(url: &str) -> Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("endpoint {url:?} must start with http://");
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            bail!("endpoint {url:?} must be http://HOST:PORT");
        }
        let addr = tokio::net::lookup_host(authority)
            .await
            .with_context(|| format!("resolving {authority:?} (is the port given?)"))?
            .next()
            .with_context(|| format!("{authority:?} resolves to no address"))?;
        Ok(Self {
            addr,
            authority: authority.to_owned(),
        })
    }
}

/// A fully read response.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The AWS error code of an error response (`__type`, else `x-amzn-ErrorType`).
    pub fn error_type(&self) -> Option<String> {
        let from_body = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("__type")?.as_str().map(str::to_owned));
        let from_header = || {
            self.headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        from_body.or_else(from_header).map(|t| {
            // Some servers qualify the code: "namespace#Code:http://...".
            let t = t.rsplit('#').next().unwrap_or(&t);
            t.split(':').next().unwrap_or(t).to_owned()
        })
    }

    /// A short, printable excerpt of the body.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut excerpt: String = text.chars().take(300).collect();
        if excerpt.len() < text.len() {
            excerpt.push('…');
        }
        excerpt
    }
}

/// A persistent HTTP/1.1 connection (TCP_NODELAY) driven by its own task.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        let driver = tokio::spawn(async move {
            // A failed connection shows up as an error on the next send.
            let _ = connection.await;
        });
        Ok(Self { sender, driver })
    }

    /// Whether the server closed the connection (it can't carry another request).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends `request` and reads the whole response body.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response> {
        self.sender.ready().await.context("connection not ready")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("sending request")?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.context("reading response body")?.to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// `GET /health` on a fresh connection; returns the status.
pub async fn health(endpoint: &Endpoint) -> Result<StatusCode> {
    let stream = TcpStream::connect(endpoint.addr)
        .await
        .with_context(|| format!("connecting to {}", endpoint.addr))?;
    let (mut sender, connection) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .context("HTTP/1.1 handshake")?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::get("/health")
        .header(http::header::HOST, endpoint.authority.as_str())
        .body(Empty::new())
        .context("building health request")?;
    let response = sender.send_request(request).await.context("GET /health")?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    driver.abort();
    Ok(status)
}
