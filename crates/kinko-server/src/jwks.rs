//! The key sets (JWKS) of the OpenID Connect issuers whose tokens `AssumeRoleWithWebIdentity`
//! accepts, configured per issuer (`--oidc-jwks ISSUER=SOURCE`): a file, read at each use (so a
//! rotated key set applies at once), or an `http://` URL, fetched and kept for five minutes, and
//! fetched again when a token names a key the copy lacks (at most every ten seconds per issuer,
//! so tokens with made-up key ids can't make kinko hammer the issuer).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kinko_api::sts::web_identity::{JwksSource, issuer_name};

/// How long a fetched key set is used.
const KEEP: Duration = Duration::from_secs(300);
/// The least time between two fetches of one issuer's key set.
const MIN_REFETCH: Duration = Duration::from_secs(10);
/// The largest key set read.
const MAX_JWKS_BYTES: usize = 1 << 20;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where one issuer's key set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    File(PathBuf),
    Url(String),
}

impl Source {
    fn parse(s: &str) -> Result<Source, String> {
        if s.starts_with("http://") {
            Ok(Source::Url(s.to_owned()))
        } else if s.starts_with("https://") {
            Err(format!(
                "{s}: fetching key sets over https is not supported yet; save the key set to a file (or serve it over http on a trusted network)"
            ))
        } else {
            let path = s.strip_prefix("file://").unwrap_or(s);
            if path.is_empty() {
                return Err("an empty key set source".into());
            }
            Ok(Source::File(PathBuf::from(path)))
        }
    }
}

/// Reads `ISSUER=SOURCE` settings: the issuer as a URL (`https://...`) or as IAM names it.
pub fn parse_setting(setting: &str) -> Result<(String, String), String> {
    let (issuer, source) = setting
        .split_once('=')
        .ok_or_else(|| format!("{setting}: expected ISSUER=SOURCE"))?;
    let issuer = issuer_name(issuer.trim());
    if issuer.is_empty() {
        return Err(format!("{setting}: no issuer"));
    }
    Source::parse(source.trim())?;
    Ok((issuer.to_owned(), source.trim().to_owned()))
}

/// A fetched key set and when it was fetched.
struct Fetched {
    at: Instant,
    document: String,
}

pub(crate) struct ConfiguredJwks {
    sources: HashMap<String, Source>,
    fetched: Mutex<HashMap<String, Fetched>>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Empty<bytes::Bytes>>,
}

impl ConfiguredJwks {
    pub fn new(settings: &[(String, String)]) -> Result<Self, String> {
        let mut sources = HashMap::new();
        for (issuer, source) in settings {
            sources.insert(issuer_name(issuer).to_owned(), Source::parse(source)?);
        }
        Ok(ConfiguredJwks {
            sources,
            fetched: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    fn cached(&self, issuer: &str, refresh: bool) -> Option<String> {
        let fetched = self.fetched.lock().ok()?;
        let f = fetched.get(issuer)?;
        let age = f.at.elapsed();
        let usable = if refresh { age < MIN_REFETCH } else { age < KEEP };
        usable.then(|| f.document.clone())
    }

    async fn fetch(&self, url: &str) -> Result<String, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.client.get(uri))
            .await
            .map_err(|_| format!("{url}: timed out"))?
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let body = tokio::time::timeout(
            FETCH_TIMEOUT,
            Limited::new(response.into_body(), MAX_JWKS_BYTES).collect(),
        )
        .await
        .map_err(|_| format!("{url}: timed out"))?
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| format!("{url}: not UTF-8"))
    }
}

#[async_trait::async_trait]
impl JwksSource for ConfiguredJwks {
    async fn jwks(&self, issuer: &str, refresh: bool) -> Result<Option<String>, String> {
        let Some(source) = self.sources.get(issuer) else {
            return Ok(None);
        };
        match source {
            Source::File(path) => {
                let document = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(Some(document))
            }
            Source::Url(url) => {
                if let Some(document) = self.cached(issuer, refresh) {
                    return Ok(Some(document));
                }
                let document = self.fetch(url).await?;
                if let Ok(mut fetched) = self.fetched.lock() {
                    fetched.insert(
                        issuer.to_owned(),
                        Fetched {
                            at: Instant::now(),
                            document: document.clone(),
                        },
                    );
                }
                Ok(Some(document))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_an_issuer_and_a_source() {
        assert_eq!(
            parse_setting("https://oidc.example.com/k8s/=/etc/kinko/k8s.jwks"),
            Ok(("oidc.example.com/k8s".into(), "/etc/kinko/k8s.jwks".into()))
        );
        assert_eq!(
            parse_setting("issuer.example=http://127.0.0.1:9000/jwks"),
            Ok(("issuer.example".into(), "http://127.0.0.1:9000/jwks".into()))
        );
        assert!(parse_setting("no-source").is_err());
        assert!(parse_setting("=x").is_err());
        assert!(parse_setting("i=https://example.com/jwks").is_err());
    }
}
