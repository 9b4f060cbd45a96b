//! `kinko agent`'s TOML config file, in the AWS Secrets Manager Agent's shape (`--config FILE`):
//! the same keys, defaults and ranges, so a file written for AWS's agent works here. Numbers may be
//! written as TOML integers or as strings (`ttl_seconds = 300` or `"300"`), as AWS's agent reads
//! them. A key this agent does not know, or one of AWS's it does not implement (`log_to_file`,
//! `validate_credentials`, `credentials_file_path`), is refused rather than silently ignored.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// AWS's agent's port.
pub const DEFAULT_PORT: u16 = 2773;

/// What the file says, before its values are checked.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    log_level: Option<String>,
    http_port: Option<Number>,
    ttl_seconds: Option<Number>,
    cache_size: Option<Number>,
    ssrf_headers: Option<Vec<String>>,
    ssrf_env_variables: Option<Vec<String>>,
    path_prefix: Option<String>,
    max_conn: Option<Number>,
    region: Option<String>,
    ignore_transient_errors: Option<bool>,
}

/// A number written as a TOML integer or as a string of digits.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Text(String),
}

impl Number {
    fn in_range(&self, min: i64, max: i64, error: &str) -> Result<i64, String> {
        let n = match self {
            Number::Int(n) => Some(*n),
            Number::Text(s) => s.trim().parse().ok(),
        };
        n.filter(|n| (min..=max).contains(n))
            .ok_or_else(|| error.to_owned())
    }
}

/// The log levels AWS's agent takes (any case); `none` logs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    None,
}

impl LogLevel {
    /// The `tracing` filter of this level.
    pub fn filter(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::None => "off",
        }
    }
}

/// The agent's settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub log_level: LogLevel,
    pub http_port: u16,
    /// How long a cached value is served before it is checked again; zero: every read checks.
    pub ttl: Duration,
    /// Cached values at most (the oldest written is dropped first).
    pub cache_size: NonZeroUsize,
    /// Headers that may carry the SSRF token.
    pub ssrf_headers: Vec<String>,
    /// Variables read in order for the SSRF token (or `file://PATH` of a file holding it).
    pub ssrf_env_variables: Vec<String>,
    /// The prefix of the path form, `GET {prefix}{secretId}`.
    pub path_prefix: String,
    /// Open connections at most; requests on connections past it get 429.
    pub max_conn: usize,
    pub region: Option<String>,
    /// Serve the cached value when Secrets Manager cannot be reached, times out or answers 5xx.
    pub ignore_transient_errors: bool,
}

impl Default for AgentConfig {
    /// AWS's agent's defaults.
    fn default() -> Self {
        AgentConfig {
            log_level: LogLevel::Info,
            http_port: DEFAULT_PORT,
            ttl: Duration::from_secs(300),
            cache_size: NonZeroUsize::new(1000).unwrap_or(NonZeroUsize::MIN),
            ssrf_headers: vec![
                "X-Aws-Parameters-Secrets-Token".to_owned(),
                "X-Vault-Token".to_owned(),
            ],
            ssrf_env_variables: vec![
                "AWS_TOKEN".to_owned(),
                "AWS_SESSION_TOKEN".to_owned(),
                "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_owned(),
            ],
            path_prefix: "/v1/".to_owned(),
            max_conn: 800,
            region: None,
            ignore_transient_errors: true,
        }
    }
}

impl AgentConfig {
    /// Reads `path`; every value checked against AWS's agent's ranges.
    pub fn load(path: &Path) -> Result<AgentConfig, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("config file {}: {e}", path.display()))?;
        AgentConfig::parse(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// The settings `text` (TOML) gives over the defaults.
    pub fn parse(text: &str) -> Result<AgentConfig, String> {
        let file: File = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let mut c = AgentConfig::default();
        if let Some(level) = file.log_level {
            c.log_level = match level.to_ascii_lowercase().as_str() {
                "debug" => LogLevel::Debug,
                "info" => LogLevel::Info,
                "warn" => LogLevel::Warn,
                "error" => LogLevel::Error,
                "none" => LogLevel::None,
                _ => return Err("log_level must be DEBUG, INFO, WARN, ERROR or NONE".to_owned()),
            };
        }
        if let Some(port) = file.http_port {
            // AWS's agent refuses the privileged ports.
            let port = port.in_range(1024, 65535, "http_port must be in the range 1024 to 65535")?;
            c.http_port = u16::try_from(port).unwrap_or(DEFAULT_PORT);
        }
        if let Some(ttl) = file.ttl_seconds {
            let ttl = ttl.in_range(0, 3600, "ttl_seconds must be in the range 0 to 3600")?;
            c.ttl = Duration::from_secs(ttl.unsigned_abs());
        }
        if let Some(size) = file.cache_size {
            let size = size.in_range(1, 1000, "cache_size must be in the range 1 to 1000")?;
            c.cache_size = usize::try_from(size)
                .ok()
                .and_then(NonZeroUsize::new)
                .unwrap_or(NonZeroUsize::MIN);
        }
        if let Some(headers) = file.ssrf_headers {
            if headers.is_empty() {
                return Err("ssrf_headers must not be empty".to_owned());
            }
            if let Some(bad) = headers
                .iter()
                .find(|h| hyper::header::HeaderName::from_bytes(h.as_bytes()).is_err())
            {
                return Err(format!("ssrf_headers: {bad:?} is not a header name"));
            }
            c.ssrf_headers = headers;
        }
        if let Some(vars) = file.ssrf_env_variables {
            if vars.is_empty() {
                return Err("ssrf_env_variables must not be empty".to_owned());
            }
            c.ssrf_env_variables = vars;
        }
        if let Some(prefix) = file.path_prefix {
            if !prefix.starts_with('/') {
                return Err("path_prefix must begin with /".to_owned());
            }
            c.path_prefix = prefix;
        }
        if let Some(max) = file.max_conn {
            let max = max.in_range(1, 1000, "max_conn must be in the range 1 to 1000")?;
            c.max_conn = usize::try_from(max).unwrap_or(1);
        }
        c.region = file.region.or(c.region);
        c.ignore_transient_errors = file.ignore_transient_errors.unwrap_or(c.ignore_transient_errors);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_aws_agents() {
        let c = AgentConfig::parse("").unwrap();
        assert_eq!(c.http_port, 2773);
        assert_eq!(c.ttl, Duration::from_secs(300));
        assert_eq!(c.cache_size.get(), 1000);
        assert_eq!(c.path_prefix, "/v1/");
        assert_eq!(c.max_conn, 800);
        assert_eq!(c.ssrf_headers[0], "X-Aws-Parameters-Secrets-Token");
        assert_eq!(c.ssrf_env_variables[0], "AWS_TOKEN");
        assert!(c.ignore_transient_errors);
    }

    #[test]
    fn reads_aws_agents_file_shape() {
        let c = AgentConfig::parse(
            r#"
log_level = "DEBUG"
http_port = "65535"
ssrf_headers = ["X-Aws-Parameters-Secrets-Token"]
ssrf_env_variables = ["MY_TOKEN"]
path_prefix = "/other"
ttl_seconds = 300
cache_size = '1000'
max_conn = 10
region = "us-west-2"
ignore_transient_errors = false
"#,
        )
        .unwrap();
        assert_eq!(c.log_level, LogLevel::Debug);
        assert_eq!(c.http_port, 65535);
        assert_eq!(c.ssrf_env_variables, ["MY_TOKEN"]);
        assert_eq!(c.path_prefix, "/other");
        assert_eq!(c.max_conn, 10);
        assert_eq!(c.region.as_deref(), Some("us-west-2"));
        assert!(!c.ignore_transient_errors);
        assert_eq!(AgentConfig::parse("ttl_seconds = 0").unwrap().ttl, Duration::ZERO);
    }

    #[test]
    fn refuses_unknown_keys_and_values_out_of_range() {
        for bad in [
            "ttl = 5",
            "validate_credentials = false",
            "log_level = \"loud\"",
            "http_port = 80",
            "http_port = 70000",
            "http_port = \"x\"",
            "ttl_seconds = 3601",
            "ttl_seconds = -1",
            "cache_size = 0",
            "cache_size = 1001",
            "max_conn = 0",
            "max_conn = 1001",
            "ssrf_headers = []",
            "ssrf_headers = [\"bad header\"]",
            "ssrf_env_variables = []",
            "path_prefix = \"v1\"",
            "ignore_transient_errors = \"yes\"",
        ] {
            assert!(AgentConfig::parse(bad).is_err(), "{bad}");
        }
    }
}
