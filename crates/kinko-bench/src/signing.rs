//! Building AWS JSON 1.1 requests signed with SigV4, the way an AWS SDK does.

use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request};
use http_body_util::Full;
use rand::Rng;

use crate::ops::random_uuid;

/// Content type of the AWS JSON 1.1 protocol.
pub const CONTENT_TYPE_JSON_1_1: &str = "application/x-amz-json-1.1";
const AGENT: &str = concat!("kinko-bench/", env!("CARGO_PKG_VERSION"));

/// The AWS JSON 1.1 service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    SecretsManager,
    Kms,
}

impl Api {
    /// The `X-Amz-Target` prefix (`<prefix>.<Operation>`).
    pub fn target_prefix(self) -> &'static str {
        match self {
            Api::SecretsManager => "secretsmanager",
            Api::Kms => "TrentService",
        }
    }

    /// The SigV4 service name (credential scope).
    pub fn signing_name(self) -> &'static str {
        match self {
            Api::SecretsManager => "secretsmanager",
            Api::Kms => "kms",
        }
    }
}

/// Signs requests for one endpoint with one set of credentials.
pub struct Signer {
    identity: Identity,
    region: String,
    settings: SigningSettings,
    /// Absolute URL of the endpoint root, as signed (`http://host:port/`).
    url: String,
    host: HeaderValue,
}

impl Signer {
    /// `authority` is the `host:port` the requests are addressed to.
    pub fn new(
        authority: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
    ) -> Result<Self> {
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_owned),
            None,
            "kinko-bench",
        );
        Ok(Self {
            identity: credentials.into(),
            region: region.to_owned(),
            settings: SigningSettings::default(),
            url: format!("http://{authority}/"),
            host: HeaderValue::from_str(authority).with_context(|| format!("invalid host {authority:?}"))?,
        })
    }

    /// A signed `POST /` calling `<target prefix>.<operation>` of `api` with a JSON body.
    ///
    /// Carries the headers an AWS SDK sends (invocation id, attempt, user
    /// agents) and signs all but `user-agent`, with a fresh `x-amz-date`.
    pub fn request(
        &self,
        api: Api,
        operation: &str,
        body: Vec<u8>,
        rng: &mut impl Rng,
    ) -> Result<Request<Full<Bytes>>> {
        let body = Bytes::from(body);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, CONTENT_TYPE_JSON_1_1)
            .header(CONTENT_LENGTH, body.len())
            .header("x-amz-target", format!("{}.{operation}", api.target_prefix()))
            .header(USER_AGENT, AGENT)
            .header("x-amz-user-agent", AGENT)
            .header("amz-sdk-invocation-id", random_uuid(rng).to_string())
            .header("amz-sdk-request", "attempt=1; max=1")
            .body(Full::new(body.clone()))
            .context("building request")?;
        self.sign(&mut request, &body, api.signing_name())?;
        Ok(request)
    }

    /// A signed Query-protocol `POST /` (IAM, STS) of `params` (`Action` first) for `service`.
    pub fn query_request(&self, service: &str, params: &[(&str, &str)]) -> Result<Request<Full<Bytes>>> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.append_pair(
            "Version",
            if service == "sts" {
                "2011-06-15"
            } else {
                "2010-05-08"
            },
        );
        let body = Bytes::from(form.finish());
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .header(CONTENT_LENGTH, body.len())
            .header(USER_AGENT, AGENT)
            .body(Full::new(body.clone()))
            .context("building request")?;
        self.sign(&mut request, &body, service)?;
        Ok(request)
    }

    /// A signed REST-JSON request (Lambda): `method` on `path_and_query`, a JSON body (or none),
    /// with `headers` besides the signed defaults.
    pub fn rest_request(
        &self,
        service: &str,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Result<Request<Full<Bytes>>> {
        let body = Bytes::from(body);
        let mut builder = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, body.len())
            .header(USER_AGENT, AGENT);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(Full::new(body.clone()))
            .context("building request")?;
        let url = format!("{}{}", self.url.trim_end_matches('/'), path_and_query);
        self.sign_at(&mut request, &url, &body, service)?;
        Ok(request)
    }

    /// Adds `x-amz-date`, `authorization` (and `x-amz-security-token` for
    /// temporary credentials) to `request`.
    fn sign<B>(&self, request: &mut Request<B>, body: &[u8], service: &str) -> Result<()> {
        self.sign_at(request, &self.url, body, service)
    }

    /// [`Signer::sign`] for the absolute `url` of the request.
    fn sign_at<B>(&self, request: &mut Request<B>, url: &str, body: &[u8], service: &str) -> Result<()> {
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| Ok((name.as_str(), value.to_str()?)))
            .collect::<Result<Vec<_>>>()?;
        let signable = SignableRequest::new(
            request.method().as_str(),
            url,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .context("preparing request for signing")?;
        let params = SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(self.settings.clone())
            .build()
            .context("building signing parameters")?
            .into();
        let (instructions, _signature) = sign(signable, &params).context("signing request")?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    fn header<'a>(request: &'a Request<Full<Bytes>>, name: &str) -> &'a str {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("missing header {name}"))
    }

    #[test]
    fn signs_like_an_sdk() -> Result<()> {
        let signer = Signer::new("127.0.0.1:4566", "eu-west-3", "AKIDEXAMPLE", "secret", None)?;
        let mut rng = SmallRng::seed_from_u64(1);
        let request = signer.request(
            Api::SecretsManager,
            "ListSecrets",
            br#"{"MaxResults":100}"#.to_vec(),
            &mut rng,
        )?;
        assert_eq!(request.uri(), "/");
        assert_eq!(header(&request, "host"), "127.0.0.1:4566");
        assert_eq!(header(&request, "x-amz-target"), "secretsmanager.ListSecrets");
        assert_eq!(header(&request, "content-length"), "18");
        let authorization = header(&request, "authorization");
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(authorization.contains("/eu-west-3/secretsmanager/aws4_request"));
        assert!(authorization.contains(
            "SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;\
             host;x-amz-date;x-amz-target;x-amz-user-agent,"
        ));
        assert_eq!(header(&request, "x-amz-date").len(), "20260101T000000Z".len());
        assert!(request.headers().get("x-amz-security-token").is_none());
        Ok(())
    }

    #[test]
    fn signs_kms_requests_for_kms() -> Result<()> {
        let signer = Signer::new("127.0.0.1:4566", "us-east-1", "AKIDEXAMPLE", "secret", None)?;
        let request = signer.request(Api::Kms, "Encrypt", b"{}".to_vec(), &mut rand::rng())?;
        assert_eq!(header(&request, "x-amz-target"), "TrentService.Encrypt");
        assert_eq!(header(&request, "content-type"), CONTENT_TYPE_JSON_1_1);
        assert!(header(&request, "authorization").contains("/us-east-1/kms/aws4_request"));
        Ok(())
    }

    #[test]
    fn signs_the_session_token() -> Result<()> {
        let signer = Signer::new("127.0.0.1:1", "us-east-1", "ASIA", "secret", Some("tok"))?;
        let request = signer.request(
            Api::SecretsManager,
            "ListSecrets",
            b"{}".to_vec(),
            &mut rand::rng(),
        )?;
        assert_eq!(header(&request, "x-amz-security-token"), "tok");
        assert!(header(&request, "authorization").contains("x-amz-security-token;"));
        Ok(())
    }
}
