//! The kinko server: configuration, start-up (root key, store, first account), the HTTP pipeline
//! every request goes through, background jobs, root key rotation (with the local admin socket)
//! and graceful shutdown.
//!
//! Services live in `kinko-api`; this crate owns everything about HTTP and process life.

mod admin;
mod audit;
mod auth;
mod bootstrap;
mod config;
pub mod functions;
mod http;
mod jobs;
mod jwks;
mod listener;
mod metrics;
mod ops;
mod postgres;
mod readiness;
mod ring;
mod sqlite;
mod tls;
mod workload;

use std::net::SocketAddr;
use std::sync::Arc;

use kinko_api::Services;
use kinko_core::Clock;
use kinko_core::store::Store as _;
use kinko_store_cache::CachedStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admin::{
    ADMIN_SOCKET, BackupError, BackupReport, RotateError, RotateReport, backup, rotate_root_key,
};
pub use audit::index::Index as AuditIndex;
pub use audit::{AuditOptions, AuditStats, Durability as AuditDurability, FileSummary, VerifyReport};
pub use bootstrap::{RootCredentials, StartError};
pub use config::{
    Config, ConsoleSettings, DEFAULT_WORKLOAD_SESSION_SECONDS, FunctionsConfig, MetricsListen,
    WORKLOAD_SESSION_SECONDS,
};
pub use jwks::parse_setting as parse_oidc_jwks_setting;
pub use kinko_functions::DEFAULT_MAX_INSTANCES as DEFAULT_FUNCTION_INSTANCES;
pub use kinko_store_cache::{CacheStats, DEFAULT_CAPACITY as DEFAULT_CACHE_CAPACITY};
pub use listener::{Acceptor, ConnectionLimits, Plain, TlsSession, default_max_connections};
pub use tls::{TlsError, TlsFiles};
pub use workload::CONTAINER_CREDENTIALS_PATH;

/// Shared state of a running server.
pub(crate) struct App {
    pub services: Services,
    pub auth: auth::Authenticator,
    pub audit: Arc<audit::Audit>,
    pub readiness: Arc<readiness::Readiness>,
    pub metrics: Arc<metrics::Metrics>,
    /// Whether `/metrics` is served on the main listener.
    pub metrics_on_main: bool,
    pub log_requests: bool,
    /// The web console, when served.
    pub console: Option<Arc<kinko_console::Console>>,
}

/// A started server. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    _lock: Option<std::fs::File>,
    addr: SocketAddr,
    credentials: RootCredentials,
    account_id: String,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    jobs: jobs::Jobs,
    leases: jobs::Leases,
    probe: JoinHandle<()>,
    /// Several nodes on one database: the task keeping the root key in step with it.
    ring: Option<JoinHandle<()>>,
    store: Arc<CachedStore>,
    app: Arc<App>,
    admin: Option<admin::AdminSocket>,
    ops: Option<ops::OpsListener>,
    /// The listeners' TLS and the task watching its files.
    tls: Option<(tls::Tls, JoinHandle<()>)>,
    container: Option<workload::ContainerListener>,
    imds: Option<(Arc<workload::ImdsListeners>, JoinHandle<()>)>,
    /// The runner of Lambda functions, unless they are off.
    functions: Option<functions::Functions>,
}

impl Running {
    /// Moves a `--dev` server's clock forward by `by` (as `kinko dev clock advance` does); its
    /// new offset from the clock it was started with, or `None` outside `--dev`.
    pub fn advance_dev_clock(&self, by: std::time::Duration) -> Option<std::time::Duration> {
        let clock = self.app.services.clock.dev_clock()?;
        let offset = clock.advance(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
        Some(std::time::Duration::from_millis(
            u64::try_from(offset).unwrap_or(0),
        ))
    }

    /// The router the main listener serves, for callers in the same process (`kinko-bench
    /// instructions` counts a request's instructions through it, without sockets).
    pub fn router(&self) -> axum::Router {
        http::router(self.app.clone())
    }

    /// The address the server accepts requests on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the listener of its own `/metrics` is served on (`--metrics-listen ADDR`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().map(|o| o.addr)
    }

    /// The address of the container credentials endpoint (`--container-credentials-listen`).
    pub fn container_credentials_addr(&self) -> Option<SocketAddr> {
        self.container.as_ref().map(|c| c.addr)
    }

    /// Listens on the instance metadata port of every instance attachment now, and stops
    /// listening on those revoked (the server also does it every few seconds).
    pub async fn sync_imds_listeners(&self) {
        if let Some((imds, _)) = &self.imds {
            imds.sync().await;
        }
    }

    /// The management account's root credentials, when this start created or was given them.
    pub fn root_credentials(&self) -> &RootCredentials {
        &self.credentials
    }

    /// The management account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Hits and misses of the store cache since start.
    pub fn cache_stats(&self) -> CacheStats {
        self.store.stats()
    }

    /// Reopens the audit log file at its path (after external log rotation moved it: SIGHUP).
    pub fn reopen_audit_log(&self) {
        self.app.audit.reopen();
    }

    /// Function instances running now (idle or busy).
    pub fn function_instances(&self) -> usize {
        self.functions.as_ref().map_or(0, |f| f.runner.live_instances())
    }

    /// Whether the listeners serve HTTPS.
    pub fn serves_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Reads the TLS certificate and key files again (SIGHUP): handshakes from now on use the new
    /// pair, open connections keep theirs. On an error the pair in use stays, and the error is
    /// logged. Does nothing without TLS.
    pub fn reload_tls(&self) {
        if let Some((tls, _)) = &self.tls {
            tls.store.reload_logged("asked to reload");
        }
    }

    /// What the audit writer has done since start; a hook for metrics.
    pub fn audit_stats(&self) -> AuditStats {
        self.app.audit.stats()
    }

    /// Runs the background jobs once, now (they also run on their own schedule).
    pub async fn run_jobs_now(&self) {
        jobs::run_once(&self.app.services, &self.app.metrics, &self.leases).await;
    }

    /// Stops accepting connections, lets in-flight requests finish, stops the jobs and closes the
    /// store cleanly.
    pub async fn shutdown(self) -> std::io::Result<()> {
        if let Some(admin) = self.admin {
            admin.stop().await;
        }
        let _ = self.shutdown.send(true);
        let served = match self.server.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        self.probe.abort();
        if let Some(ring) = self.ring {
            ring.abort();
        }
        if let Some((_, watch)) = self.tls {
            watch.abort();
        }
        if let Some(ops) = self.ops {
            let _ = ops.task.await;
        }
        if let Some(container) = self.container {
            let _ = container.task.await;
        }
        if let Some((_, task)) = self.imds {
            let _ = task.await;
        }
        self.jobs.stop().await;
        if let Some(functions) = self.functions {
            functions.stop();
        }
        // The last requests are answered: write the LastAccessedDates they recorded.
        let services = &self.app.services;
        services.accessed.flush(&services.store).await;
        self.app.audit.close();
        self.store.close();
        served
    }
}

/// Verifies the audit log of `config` (`kinko audit verify`): `files` in the order given, or the
/// configured log's files. Seals are checked when the root key can be read.
pub fn verify_audit_log(config: &Config, files: &[std::path::PathBuf]) -> VerifyReport {
    let root = match &config.root_key_base64 {
        Some(b64) => kinko_crypto::RootKey::from_base64(b64).ok(),
        None => kinko_crypto::RootKey::load(
            &config
                .root_key_file
                .clone()
                .unwrap_or_else(|| config.data_dir.join(bootstrap::ROOT_KEY_FILE)),
        )
        .ok(),
    };
    let active = config
        .audit_log_path()
        .unwrap_or_else(|| config.data_dir.join("audit.log"));
    let mut report = audit::verify(&active, files, root.as_ref());
    if root.is_none() {
        report
            .notes
            .push("the root key could not be read: seals' signatures were not checked".into());
    }
    report
}

/// Starts a server with `config`, taking time from `clock`. A `--dev` server's clock can be moved
/// forward by the account's root user (`Kinko.AdvanceClock`, `kinko dev clock advance`): `clock`
/// plus an offset (see [`kinko_core::DevClock`]); any other server's is `clock` as it is.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    let clock: Arc<dyn Clock> = if config.dev {
        Arc::new(kinko_core::DevClock::new(clock))
    } else {
        clock
    };
    // A bad certificate or key stops the start before anything is opened.
    let tls = config.tls.as_ref().map(tls::Tls::new).transpose()?;
    let boot = bootstrap::bootstrap(&config, clock.clone()).await?;
    let audit_path = config.audit_log_path();
    if audit_path.is_none() {
        tracing::warn!(
            "NO AUDIT TRAIL: calls leave no record (--audit-log none{}); nothing will show who read or changed what",
            if config.dev {
                ", or --dev without --audit-log"
            } else {
                ""
            }
        );
    } else if config.audit.durability == audit::Durability::Buffered {
        tracing::warn!(
            "audit records are buffered, not synced before calls are answered: a crash or a full disk loses records while calls succeed"
        );
    }
    let audit = Arc::new(audit::Audit::open(
        audit_path.as_deref(),
        &config.audit,
        Some(&boot.root.current()),
    )?);
    let accessed = Arc::new(kinko_api::secretsmanager::accessed::AccessDates::new(
        config.access_date_delay,
    ));
    let metrics = Arc::new(metrics::Metrics::new(
        boot.store.clone(),
        audit.clone(),
        accessed.clone(),
    ));
    let jwks = jwks::ConfiguredJwks::new(&config.oidc_jwks).map_err(StartError::Config)?;
    let leases = jobs::Leases::new(config.job_lease, config.job_interval);
    let services = boot
        .services
        .clone()
        .with_node(kinko_api::Node::new(leases.holder.clone(), leases.length))
        .with_audit(audit.clone())
        .with_access_dates(accessed)
        .with_jwks(Arc::new(jwks))
        .with_events(audit.events());
    // The listener is bound first: functions are told its address.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Listen(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Listen(config.listen, e))?;
    let functions = functions::Functions::start(&config, addr, &services)?;
    let services = match &functions {
        Some(f) => services.with_functions(f.runner.clone()),
        None => services,
    };
    let console = config.console.enabled.then(|| {
        let mut c = kinko_console::ConsoleConfig::new(&boot.account_id);
        c.tls = tls.is_some();
        c.root_password_hash
            .clone_from(&config.console.root_password_hash);
        c.idle_timeout = config.console.idle_timeout;
        c.absolute_timeout = config.console.session_timeout;
        kinko_console::Console::new(services.clone(), c)
    });
    let app = Arc::new(App {
        console,
        auth: auth::Authenticator::new(services.clone()),
        audit,
        services,
        readiness: Arc::default(),
        metrics,
        metrics_on_main: config.metrics_listen == MetricsListen::Main,
        log_requests: config.log_requests,
    });
    app.readiness
        .probe(app.services.store.as_ref(), config.ready_probe_interval)
        .await;
    let probe = app
        .readiness
        .clone()
        .spawn(app.services.store.clone(), config.ready_probe_interval);
    // Several nodes on one database: another process may rotate the root key.
    let ring = match (&config.store, config.dev) {
        (Some(_), false) => Some(
            ring::Ring::start(
                boot.root.clone(),
                boot.store.clone(),
                ring::KeySources::from_config(&config),
                app.metrics.root_key(),
                app.readiness.root_key_flag(),
            )
            .await
            .spawn(),
        ),
        _ => None,
    };
    if let Some(warning) = tls::plain_http_warning(config.listen, tls.is_some()) {
        tracing::warn!("{warning}");
    }
    let (shutdown, rx) = watch::channel(false);
    let ops = match config.metrics_listen {
        MetricsListen::Addr(a) => Some(
            ops::OpsListener::start(
                a,
                app.clone(),
                config.connections.clone(),
                tls.clone(),
                rx.clone(),
            )
            .await
            .map_err(|e| StartError::Listen(a, e))?,
        ),
        MetricsListen::Main | MetricsListen::Off => None,
    };
    if !(config::WORKLOAD_SESSION_SECONDS).contains(&config.workload_session_seconds) {
        return Err(StartError::Config(format!(
            "workload session seconds must be within {}..={}",
            config::WORKLOAD_SESSION_SECONDS.start(),
            config::WORKLOAD_SESSION_SECONDS.end()
        )));
    }
    let endpoints = Arc::new(workload::Endpoints::new(
        app.services.clone(),
        config.workload_session_seconds,
    ));
    let container = match config.container_credentials_listen {
        Some(a) => Some(
            workload::ContainerListener::start(a, endpoints.clone(), config.connections.clone(), rx.clone())
                .await
                .map_err(|e| StartError::Listen(a, e))?,
        ),
        None => None,
    };
    let imds = config.imds_listen.map(|ip| {
        let listeners =
            workload::ImdsListeners::new(ip, endpoints.clone(), config.connections.clone(), rx.clone());
        let task = listeners.spawn();
        (listeners, task)
    });
    let router = http::router(app.clone());
    let server = match &tls {
        Some(tls) => tokio::spawn(crate::listener::serve(
            listener,
            tls.clone(),
            router,
            config.connections.clone(),
            rx,
        )),
        None => tokio::spawn(crate::listener::serve(
            listener,
            crate::listener::Plain,
            router,
            config.connections.clone(),
            rx,
        )),
    };
    let tls = tls.map(|t| {
        let watch = t.watch();
        (t, watch)
    });
    tracing::info!(holder = %leases.holder, "background jobs run under leases held as this node");
    let jobs = jobs::Jobs::start(
        app.services.clone(),
        app.metrics.clone(),
        config.job_interval,
        leases.clone(),
    );
    // A database several nodes share is rotated with `kinko rotate-root-key --store` (see `ring`),
    // not through one node's socket.
    let admin = if config.dev || config.store.is_some() {
        None
    } else {
        let rotator = admin::Rotator::new(app.services.store.clone(), boot.root.clone(), boot.key_file, true);
        match admin::AdminSocket::start(&config.data_dir, Arc::new(rotator)).await {
            Ok(a) => Some(a),
            Err(e) => {
                // The server works without it; only online root key rotation needs it.
                tracing::warn!(error = %e, "cannot listen on the admin socket {}", admin::ADMIN_SOCKET);
                None
            }
        }
    };
    Ok(Running {
        _lock: boot.lock,
        addr,
        credentials: boot.credentials,
        account_id: boot.account_id,
        shutdown,
        server,
        jobs,
        leases,
        probe,
        ring,
        store: boot.store,
        app,
        admin,
        ops,
        tls,
        container,
        imds,
        functions,
    })
}
