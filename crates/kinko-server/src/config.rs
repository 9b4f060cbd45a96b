//! Server configuration, one struct; the binary fills it from flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

pub use crate::ops::MetricsListen;

/// How long the endpoints' role sessions last by default: an hour, as EC2's and ECS's (the SDKs
/// refresh them in their last 15 minutes).
pub const DEFAULT_WORKLOAD_SESSION_SECONDS: i64 = 3600;

/// The shortest and longest sessions the endpoints issue (STS's 12 hours at most). Below 15
/// minutes the SDKs fetch new credentials on every call, which tests use to exercise refresh.
pub const WORKLOAD_SESSION_SECONDS: std::ops::RangeInclusive<i64> = 60..=43_200;

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where the SQLite file and (by default) the root key live.
    pub data_dir: PathBuf,
    /// The database, when not the SQLite file in the data dir: a `postgres://` URL (several nodes
    /// may share it). The root key and root credentials files stay in the data dir.
    pub store: Option<String>,
    /// In-memory store, account `000000000000`, root credentials `test` / `test`.
    pub dev: bool,
    /// Where the root key file is (default `DATA_DIR/root.key`).
    pub root_key_file: Option<PathBuf>,
    /// The root key itself, base64 (takes precedence over any file).
    pub root_key_base64: Option<Zeroizing<String>>,
    /// With `store`: the next root key, for a rotation of the database by another process
    /// (`kinko rotate-root-key --store`). The node opens values under it too, switches to it when
    /// the database is rotated to it, and re-reads the key files (this one and `root_key_file`)
    /// while it runs, so a key is added or removed without a restart.
    pub new_root_key_file: Option<PathBuf>,
    /// The next root key itself, base64 (takes precedence over `new_root_key_file`).
    pub new_root_key_base64: Option<Zeroizing<String>>,
    /// The management account id used when a data dir is first created.
    pub account_id: Option<String>,
    /// The management account's root access key, used when a data dir is first created.
    pub root_access_key_id: Option<String>,
    pub root_secret_access_key: Option<Zeroizing<String>>,
    /// Audit log file (JSON lines); default `DATA_DIR/audit.log`, none in dev mode; `-` = stdout;
    /// `none` = no audit trail at all.
    pub audit_log: Option<PathBuf>,
    /// Durability, rotation and retention of the audit log.
    pub audit: crate::audit::AuditOptions,
    /// How often background jobs (purging deleted secrets) run.
    pub job_interval: Duration,
    /// How long a node's lease on a background job lasts unless extended (at every run): when a
    /// node dies, another takes its jobs over after at most this long. At least twice
    /// `job_interval`.
    pub job_lease: Duration,
    /// Bound of the store cache, in bytes of cached data (approximate sizes); 0 turns it off.
    pub cache_capacity: u64,
    /// How long after a secret's first read of a day its `LastAccessedDate` is written at most
    /// (the read answers without waiting; this process shows the date at once).
    pub access_date_delay: Duration,
    /// Connection timeouts and limits.
    pub connections: crate::ConnectionLimits,
    /// How often the readiness probe writes to the store (see `GET /ready`).
    pub ready_probe_interval: Duration,
    /// Where `/metrics` is served: on the main listener, on an address of its own, or nowhere.
    pub metrics_listen: MetricsListen,
    /// Log one line per request (who, what, how it ended, how long it took; never a value).
    pub log_requests: bool,
    /// HTTPS on the listeners: the certificate chain and private key files (PEM). Without it,
    /// plain HTTP, meant for loopback use.
    pub tls: Option<crate::TlsFiles>,
    /// Where the key set (JWKS) of each OpenID Connect issuer comes from: (issuer as IAM names
    /// providers, without `https://`; a file path or an `http://` URL).
    pub oidc_jwks: Vec<(String, String)>,
    /// Where the instance metadata endpoint listens: one port per instance attachment on this
    /// address (loopback unless the operator says otherwise); none: not served.
    pub imds_listen: Option<std::net::IpAddr>,
    /// Where the container credentials endpoint listens; none: not served.
    pub container_credentials_listen: Option<SocketAddr>,
    /// How long the role sessions both endpoints issue last, in seconds.
    pub workload_session_seconds: i64,
    /// Where and how Lambda functions run.
    pub functions: FunctionsConfig,
    /// The web console under `/console/`.
    pub console: ConsoleSettings,
}

/// The web console (see `kinko-console`).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Whether `/console/` is served.
    pub enabled: bool,
    /// The management account's root user's console password, an argon2id PHC string (`kinko
    /// console hash-password`). None: the root user cannot sign in to the console.
    pub root_password_hash: Option<String>,
    /// A session ends after this long without a request.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in.
    pub session_timeout: Duration,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            enabled: true,
            root_password_hash: None,
            idle_timeout: Duration::from_secs(15 * 60),
            session_timeout: Duration::from_secs(8 * 3600),
        }
    }
}

/// Where and how Lambda functions run (see `kinko-functions`).
#[derive(Debug, Clone)]
pub struct FunctionsConfig {
    /// Instances running at once over all functions; 0 runs no functions (every `Invoke` that
    /// would run one fails with `ServiceException`; the rest of the Lambda API works).
    pub max_instances: usize,
    /// How long an idle instance is kept warm.
    pub idle_timeout: Duration,
    /// Where unpacked code and kinko's bootstraps are kept (default `DATA_DIR/functions`; in dev
    /// mode a temporary directory removed at shutdown).
    pub cache_dir: Option<PathBuf>,
    /// The AWS SDKs for functions, as `scripts/setup.sh` installs them (default: `tools/function-sdks`
    /// found above the kinko executable).
    pub sdk_dir: Option<PathBuf>,
    /// kinko's endpoint as functions call it (`AWS_ENDPOINT_URL`). Default: the main listener on
    /// loopback (`http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS).
    pub endpoint_url: Option<String>,
    /// With TLS: the certificates (PEM) functions trust besides the system's, to reach the
    /// endpoint. Default: the server's certificate file, which is enough for a self-signed
    /// certificate; give the issuing CA's certificate for one a private CA signed.
    pub ca_bundle: Option<PathBuf>,
}

impl Default for FunctionsConfig {
    fn default() -> Self {
        FunctionsConfig {
            max_instances: kinko_functions::DEFAULT_MAX_INSTANCES,
            idle_timeout: kinko_functions::DEFAULT_IDLE_TIMEOUT,
            cache_dir: None,
            sdk_dir: None,
            endpoint_url: None,
            ca_bundle: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("store", &self.store.as_deref().map(crate::postgres::redacted))
            .field("dev", &self.dev)
            .field("root_key_file", &self.root_key_file)
            .field("new_root_key_file", &self.new_root_key_file)
            .field("account_id", &self.account_id)
            .field("root_access_key_id", &self.root_access_key_id)
            .field("cache_capacity", &self.cache_capacity)
            .field("connections", &self.connections)
            .field("metrics_listen", &self.metrics_listen)
            .field("log_requests", &self.log_requests)
            .field("tls", &self.tls)
            .field("imds_listen", &self.imds_listen)
            .field("container_credentials_listen", &self.container_credentials_listen)
            .field("workload_session_seconds", &self.workload_session_seconds)
            .field("functions", &self.functions)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8780)),
            data_dir: PathBuf::from("kinko-data"),
            store: None,
            dev: false,
            root_key_file: None,
            root_key_base64: None,
            new_root_key_file: None,
            new_root_key_base64: None,
            account_id: None,
            root_access_key_id: None,
            root_secret_access_key: None,
            audit_log: None,
            audit: crate::audit::AuditOptions::default(),
            job_interval: Duration::from_secs(60),
            job_lease: Duration::from_secs(180),
            cache_capacity: kinko_store_cache::DEFAULT_CAPACITY,
            access_date_delay: kinko_api::secretsmanager::accessed::DEFAULT_DELAY,
            connections: crate::ConnectionLimits::default(),
            ready_probe_interval: Duration::from_secs(5),
            metrics_listen: MetricsListen::Main,
            log_requests: false,
            oidc_jwks: Vec::new(),
            tls: None,
            imds_listen: None,
            container_credentials_listen: None,
            workload_session_seconds: DEFAULT_WORKLOAD_SESSION_SECONDS,
            functions: FunctionsConfig::default(),
            console: ConsoleSettings::default(),
        }
    }
}

impl Config {
    pub(crate) fn audit_log_path(&self) -> Option<PathBuf> {
        match (&self.audit_log, self.dev) {
            (Some(p), _) if p.as_os_str() == "none" => None,
            (Some(p), _) => Some(p.clone()),
            (None, true) => None,
            (None, false) => Some(self.data_dir.join("audit.log")),
        }
    }
}
