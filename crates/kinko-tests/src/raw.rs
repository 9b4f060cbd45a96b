//! Requests an SDK would never send, signed with AWS's own SigV4 signer (`aws-sigv4`, the one the
//! Rust SDK uses) and sent over plain HTTP/1.1: a header left out of `SignedHeaders`, a presigned
//! URL with a form body, a repeated Query parameter. Tests that check how kinko refuses them drive
//! it through these; everything an SDK can send goes through the SDK clients.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::{REGION, TestCredentials, TestServer};

/// How [`TestServer::sign`] signs a request.
#[derive(Debug, Clone, Default)]
pub struct Signing {
    /// Headers present on the request but left out of `SignedHeaders`.
    pub unsigned_headers: Vec<&'static str>,
    /// Sign in the query string (a presigned URL) valid this long, instead of the
    /// `Authorization` header.
    pub presigned_for: Option<Duration>,
    /// Leave the body out of the signature: `UNSIGNED-PAYLOAD` in place of its hash, announced
    /// in a signed `x-amz-content-sha256` header (what a presigned S3 upload URL does).
    pub unsigned_payload: bool,
}

/// An HTTP response as received.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// `<Code>` and `<Message>` of a Query protocol `<ErrorResponse>`, as a client reads them.
    pub fn query_error(&self) -> (String, String) {
        let text = self.text();
        let element = |tag: &str| {
            let open = format!("<{tag}>");
            let close = format!("</{tag}>");
            text.split_once(&open)
                .and_then(|(_, rest)| rest.split_once(&close))
                .map(|(inner, _)| unescape(inner))
                .unwrap_or_else(|| panic!("no <{tag}> in {text}"))
        };
        (element("Code"), element("Message"))
    }
}

/// Text of an XML element with its five predefined entities decoded.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

impl TestServer {
    /// A request to this server: `path_and_query` (e.g. `/` or `/?Action=ListUsers`), a `host`
    /// header and `headers`, and `body`. Unsigned until [`TestServer::sign`].
    pub fn request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> http::Request<Vec<u8>> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, self.addr().to_string());
        for (name, value) in headers {
            b = b.header(*name, *value);
        }
        b.body(body.into()).expect("a valid request")
    }

    /// Signs `request` for `service` (`secretsmanager`, `iam`, ...) with `creds` as AWS's signer
    /// does, now, in this server's region.
    pub fn sign(
        &self,
        request: &mut http::Request<Vec<u8>>,
        service: &str,
        creds: &TestCredentials,
        how: &Signing,
    ) {
        let identity: Identity = creds.provider().into();
        let mut settings = SigningSettings::default();
        if let Some(excluded) = settings.excluded_headers.as_mut() {
            excluded.extend(how.unsigned_headers.iter().map(|h| Cow::Borrowed(*h)));
        }
        if let Some(expires) = how.presigned_for {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires);
        }
        if how.unsigned_payload {
            request.headers_mut().insert(
                "x-amz-content-sha256",
                http::HeaderValue::from_static("UNSIGNED-PAYLOAD"),
            );
        }
        let url = format!("{}{}", self.endpoint_url(), request.uri());
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().expect("ASCII header")))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            url.as_str(),
            headers.into_iter(),
            if how.unsigned_payload {
                SignableBody::UnsignedPayload
            } else {
                SignableBody::Bytes(request.body())
            },
        )
        .expect("signable request");
        let params = SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing parameters")
            .into();
        let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
        instructions.apply_to_request_http1x(request);
    }

    /// Sends `request` on a new connection and reads the whole response.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> RawResponse {
        send_to(self.addr(), request).await
    }
}

/// `GET path` on `addr` (an unsigned request: `/health`, `/ready`, `/metrics`).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> RawResponse {
    let request = http::Request::get(path)
        .header("host", addr.to_string())
        .body(Vec::new())
        .expect("a GET request");
    send_to(addr, request).await
}

/// Sends `request` to `addr` on a new connection and reads the whole response.
pub async fn send_to(addr: std::net::SocketAddr, request: http::Request<Vec<u8>>) -> RawResponse {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let (parts, body) = request.into_parts();
    let response = sender
        .send_request(http::Request::from_parts(parts, Full::new(Bytes::from(body))))
        .await
        .expect("a response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the response body").to_bytes();
    RawResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.to_vec(),
    }
}
