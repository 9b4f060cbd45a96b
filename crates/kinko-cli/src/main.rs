//! The `kinko` binary.

mod agent;
mod attachment;
mod dev;
mod exec;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

mod config_file;

use std::collections::BTreeMap;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use kinko_server::{Config, MetricsListen};
use zeroize::Zeroizing;

/// jemalloc instead of the system allocator: the server allocates many small, short-lived buffers per
/// request from many threads, where glibc's malloc cost a third of the CPU time under load (see the
/// README's performance section).
#[cfg(unix)]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "kinko",
    version,
    about = "A self-hosted secrets manager that speaks the AWS APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    ///
    /// Every setting can also be in a TOML config file (`--config FILE` or KINKO_CONFIG), under
    /// the flag's name with `_` for `-`; flags and variables override it.
    #[command(args_override_self = true)]
    Server(Box<ServerArgs>),
    /// Re-wrap everything sealed under the root key under a new root key.
    ///
    /// With no server running on the data dir, it is rotated here; otherwise the running server
    /// rotates it (through DATA_DIR/kinko.sock) and keeps serving. When the root key is given in
    /// KINKO_ROOT_KEY, give the new one in KINKO_NEW_ROOT_KEY (base64 of 32 bytes) and restart
    /// the server with it later. Sessions from STS end: callers assume their roles again.
    RotateRootKey(RotateArgs),
    /// Write a consistent copy of the data dir's database, also while a server runs on it.
    ///
    /// The copy opens only with the root key the data dir has now: keep a copy of that key with
    /// the backup (stored apart from it), and take a new backup after rotating the root key.
    Backup(BackupArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run a command under a role: its AWS SDK gets auto-refreshing role credentials from a
    /// credentials endpoint only it can use, and no access key is in its environment.
    ///
    /// Authenticates with your own credentials (environment, profile), which must be allowed to
    /// assume the role. Exit status and signals pass through.
    Exec(exec::ExecArgs),
    /// Run a local caching sidecar with the AWS Secrets Manager Agent's HTTP interface.
    ///
    /// Programs read secrets with `GET http://localhost:2773/secretsmanager/get?secretId=ID` and
    /// the SSRF token in `X-Aws-Parameters-Secrets-Token`; the agent reads from kinko (or AWS)
    /// with the default credential chain, so it runs under `kinko exec --role ...`.
    Agent(agent::AgentArgs),
    /// Create, list and revoke the instance attachments and container credentials tokens the
    /// server's credentials endpoints serve (as an operator, with your own credentials).
    Attachment(attachment::AttachmentArgs),
    /// Tools for a server in --dev mode: `kinko dev clock advance 7d` moves its clock forward
    /// (the account's root credentials only).
    Dev(dev::DevArgs),
    /// Web console tools: `kinko console hash-password` reads a password on stdin and prints its
    /// argon2id hash, for KINKO_CONSOLE_ROOT_PASSWORD_HASH (the root user's console password).
    #[command(subcommand)]
    Console(ConsoleCommand),
}

#[derive(Subcommand)]
enum ConsoleCommand {
    /// Read a password from stdin (one line) and print its argon2id hash (a PHC string).
    HashPassword,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain and the seals of its rotated files.
    ///
    /// Reports the first record changed, removed or reordered wherever the chain breaks, files
    /// missing between others, and files changed after they were sealed. Exits 1 if anything is
    /// wrong. Seals are checked under the root key (DATA_DIR/root.key, --root-key-file or
    /// KINKO_ROOT_KEY).
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// Directory holding the root key and, by default, the audit log.
    #[arg(long, default_value = "kinko-data")]
    data_dir: PathBuf,
    /// Root key file (default DATA_DIR/root.key).
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// The active audit log file whose rotated files (NAME.NNNNNN) are checked with it (default
    /// DATA_DIR/audit.log).
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// Files to check, oldest first (default: every file of the audit log).
    files: Vec<PathBuf>,
}

#[derive(clap::Args)]
struct BackupArgs {
    /// Directory holding the database and, by default, the root key.
    #[arg(long, default_value = "kinko-data")]
    data_dir: PathBuf,
    /// Root key file the copy is checked against (default DATA_DIR/root.key).
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// The file to write (must not exist).
    #[arg(long)]
    to: PathBuf,
}

#[derive(clap::Args)]
struct RotateArgs {
    /// Directory holding the database and, by default, the root key.
    #[arg(long, default_value = "kinko-data")]
    data_dir: PathBuf,
    /// Root key file (default DATA_DIR/root.key), when no server runs on the data dir, or with
    /// --store.
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// Rotate the root key of this database several nodes share (a postgres:// URL) from here.
    /// The new key is given in KINKO_NEW_ROOT_KEY or --new-root-key-file, and every node must
    /// hold it first (its --new-root-key-file); the nodes switch to it by themselves.
    #[arg(long, env = "KINKO_STORE", value_name = "URL", hide_env_values = true)]
    store: Option<String>,
    /// With --store: the new root key's file (or KINKO_NEW_ROOT_KEY).
    #[arg(long, value_name = "PATH")]
    new_root_key_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// TOML config file of these settings (keys: the flags' names with `_` for `-`, and
    /// root_key, new_root_key, account_id, root_access_key_id, root_secret_access_key[_file], store_file, log); flags and
    /// variables override it. Also KINKO_CONFIG.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8780")]
    listen: SocketAddr,
    /// Directory holding the database and, by default, the root key.
    #[arg(long, default_value = "kinko-data")]
    data_dir: PathBuf,
    /// Keep nothing on disk; account 000000000000, root credentials test / test.
    #[arg(long)]
    dev: bool,
    /// Root key file (default DATA_DIR/root.key). Created with a new data dir if absent.
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// With --store: the next root key's file (or KINKO_NEW_ROOT_KEY), held besides the current
    /// key before `kinko rotate-root-key --store` rotates the database to it; the node switches to
    /// it then. Both key files are read again every second: keys are added and removed without a
    /// restart.
    #[arg(long, value_name = "PATH")]
    new_root_key_file: Option<PathBuf>,
    /// Audit log file, JSON lines (default DATA_DIR/audit.log; none in --dev). `-` for stdout;
    /// `none` for no audit trail at all.
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// `fsync`: each call is answered once its record is on disk, and fails if it cannot be
    /// written. `buffered`: records are written every 50 ms without syncing (a crash or a full
    /// disk loses records while calls succeed).
    #[arg(long, value_name = "MODE", default_value = "fsync")]
    audit_durability: AuditDurabilityArg,
    /// Rotate the audit log when it reaches this many MiB (0: never by size).
    #[arg(long, value_name = "MIB", default_value_t = 100)]
    audit_rotate_size: u64,
    /// Rotate the audit log when it is this many hours old (0: never by age).
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    audit_rotate_hours: u64,
    /// Keep at most this many rotated audit files (0: no limit by count).
    #[arg(long, value_name = "N", default_value_t = 100)]
    audit_keep_files: usize,
    /// Remove rotated audit files older than this many days (0: no limit by age).
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    audit_keep_days: u64,
    /// The database, when not the SQLite file in the data dir: a postgres:// URL, which several
    /// nodes may share (the root key file and root credentials stay in the data dir).
    #[arg(long, env = "KINKO_STORE", value_name = "URL", hide_env_values = true)]
    store: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first). Read again
    /// on SIGHUP and when the file changes. Without --tls-cert and --tls-key, plain HTTP.
    #[arg(long, env = "KINKO_TLS_CERT", value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC).
    #[arg(long, env = "KINKO_TLS_KEY", value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Bound of the in-memory cache of hot reads, in MiB of cached data; 0 turns it off.
    #[arg(long, value_name = "MIB", default_value_t = kinko_server::DEFAULT_CACHE_CAPACITY / MIB)]
    cache_size: u64,
    /// Seconds at most between a secret's first read of a day and the write of its
    /// LastAccessedDate (reads don't wait for it; this server shows the date at once).
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = seconds)]
    access_date_delay: Duration,
    /// Seconds from a request's first byte (or a new connection) to its complete head.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    header_read_timeout: Duration,
    /// Seconds from a request's head to the end of its body; later, the answer is 408.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = seconds)]
    body_read_timeout: Duration,
    /// Seconds a kept-alive connection may wait to begin its next request.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    idle_timeout: Duration,
    /// Open connections at most (default: 1024, or fewer under a low open-file limit).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Seconds in-flight requests may take to finish after SIGTERM; then every connection is closed.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    shutdown_grace: Duration,
    /// Seconds between runs of the background jobs (purging deleted secrets and KMS keys,
    /// rotating KMS keys, starting the secret rotations that are due).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    job_interval: Duration,
    /// Seconds a node's lease on the background jobs lasts unless extended: with several nodes,
    /// one runs them, and another takes over this long after it dies (at least twice
    /// --job-interval).
    #[arg(long, value_name = "SECS", default_value = "180", value_parser = seconds)]
    job_lease: Duration,
    /// Seconds between the readiness probe's writes to the store (GET /ready answers 503 when one fails).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = seconds)]
    ready_probe_interval: Duration,
    /// Where GET /metrics (Prometheus) is served: `main` (the main listener), an address of its
    /// own (with /health and /ready), or `off`.
    #[arg(long, value_name = "main|ADDR|off", default_value = "main")]
    metrics_listen: MetricsListen,
    /// Log format on stderr: `text`, or `json` (one JSON object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log one line per request: request id, service, action, status, error code, caller, source
    /// address and duration (never a parameter or value of the request).
    #[arg(long)]
    log_requests: bool,
    /// The key set (JWKS) of an OpenID Connect issuer whose tokens AssumeRoleWithWebIdentity
    /// accepts: a file or an http:// URL. Repeat for more issuers (KINKO_OIDC_JWKS: comma-separated).
    #[arg(
        long = "oidc-jwks",
        value_name = "ISSUER=SOURCE",
        env = "KINKO_OIDC_JWKS",
        value_delimiter = ',',
        value_parser = kinko_server::parse_oidc_jwks_setting
    )]
    oidc_jwks: Vec<(String, String)>,
    /// Serve the instance metadata endpoint (IMDSv2) on this address: one port per instance
    /// attachment (`kinko attachment create-instance`), for AWS_EC2_METADATA_SERVICE_ENDPOINT.
    /// Keep it on loopback (127.0.0.1): whoever reaches a port gets its role's credentials.
    #[arg(long, value_name = "IP")]
    imds_listen: Option<std::net::IpAddr>,
    /// Serve the container credentials endpoint on this address (e.g. 127.0.0.1:8782), for
    /// AWS_CONTAINER_CREDENTIALS_FULL_URI=http://ADDR/v1/credentials with a container
    /// credentials token (`kinko attachment create-token`).
    #[arg(long, value_name = "ADDR")]
    container_credentials_listen: Option<std::net::SocketAddr>,
    /// Lifetime of the role sessions both endpoints serve, in seconds (60 to 43200).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = kinko_server::DEFAULT_WORKLOAD_SESSION_SECONDS,
        value_parser = clap::value_parser!(i64).range(60..=43_200)
    )]
    workload_session_seconds: i64,
    /// Lambda function instances running at once, over all functions; 0 runs no functions
    /// (Invoke fails with ServiceException; the rest of the Lambda API works).
    #[arg(long, value_name = "N", default_value_t = kinko_server::DEFAULT_FUNCTION_INSTANCES)]
    functions_max_instances: usize,
    /// Seconds an idle function instance is kept warm before it is stopped.
    #[arg(
        long,
        value_name = "SECS",
        default_value = "300",
        value_parser = seconds
    )]
    functions_idle_timeout: Duration,
    /// Where functions' unpacked code is kept (default DATA_DIR/functions; a temporary
    /// directory in --dev).
    #[arg(long, value_name = "PATH")]
    functions_cache_dir: Option<PathBuf>,
    /// The AWS SDKs functions use, as scripts/setup.sh installs them (default:
    /// tools/function-sdks above the kinko executable, e.g. target/tools/function-sdks).
    #[arg(long, value_name = "PATH")]
    functions_sdk_dir: Option<PathBuf>,
    /// kinko's endpoint as functions call it (default: the main listener on loopback,
    /// http://127.0.0.1:PORT, or https://localhost:PORT with TLS).
    #[arg(long, value_name = "URL")]
    functions_endpoint_url: Option<String>,
    /// With TLS: certificates (PEM) functions trust to reach the endpoint (default: the
    /// --tls-cert file, enough for a self-signed certificate).
    #[arg(long, value_name = "PATH")]
    functions_ca_bundle: Option<PathBuf>,
    /// Serve the web console under /console/ on the main listener. IAM users sign in with their
    /// console passwords (CreateLoginProfile); the root user with the password whose hash is in
    /// KINKO_CONSOLE_ROOT_PASSWORD_HASH (`kinko console hash-password`).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    console: bool,
    /// Seconds a console session may go without a request before it ends.
    #[arg(long, value_name = "SECS", default_value = "900", value_parser = seconds)]
    console_idle_timeout: Duration,
    /// Seconds after sign-in a console session ends, used or not.
    #[arg(long, value_name = "SECS", default_value = "28800", value_parser = seconds)]
    console_session_timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A number of seconds, fractions allowed (`0.5`).
fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("{s} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s}: {e}"))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditDurabilityArg {
    Fsync,
    Buffered,
}

const MIB: u64 = 1024 * 1024;

/// The environment settings a config file gave (`KINKO_ROOT_KEY`, ...), which the environment
/// itself overrides.
type FileEnv = BTreeMap<&'static str, Zeroizing<String>>;

/// `name` from the environment, else from the config file.
fn setting(name: &str, file: &FileEnv) -> Option<String> {
    env(name).or_else(|| file.get(name).map(|v| v.to_string()).filter(|v| !v.is_empty()))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A write past the file size limit (RLIMIT_FSIZE) raises SIGXFSZ, whose default action ends the
/// process. With a handler installed the write fails with EFBIG instead: that request gets an internal
/// error, `/ready` reports the store unwritable, and every read keeps working.
#[cfg(unix)]
fn survive_file_size_limit() -> Option<tokio::signal::unix::Signal> {
    const SIGXFSZ: i32 = 25;
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(SIGXFSZ)).ok()
}

async fn run_server(args: ServerArgs, file: FileEnv) -> ExitCode {
    #[cfg(unix)]
    let _sigxfsz = survive_file_size_limit();
    let config = Config {
        listen: args.listen,
        data_dir: args.data_dir,
        store: args.store,
        dev: args.dev,
        root_key_file: args.root_key_file,
        root_key_base64: setting("KINKO_ROOT_KEY", &file).map(Zeroizing::new),
        new_root_key_file: args.new_root_key_file,
        new_root_key_base64: setting("KINKO_NEW_ROOT_KEY", &file).map(Zeroizing::new),
        account_id: setting("KINKO_ACCOUNT_ID", &file),
        root_access_key_id: setting("KINKO_ROOT_ACCESS_KEY_ID", &file),
        root_secret_access_key: setting("KINKO_ROOT_SECRET_ACCESS_KEY", &file).map(Zeroizing::new),
        audit_log: args.audit_log,
        audit: kinko_server::AuditOptions {
            durability: match args.audit_durability {
                AuditDurabilityArg::Fsync => kinko_server::AuditDurability::Fsync,
                AuditDurabilityArg::Buffered => kinko_server::AuditDurability::Buffered,
            },
            rotate_bytes: args.audit_rotate_size.saturating_mul(MIB),
            rotate_age: (args.audit_rotate_hours > 0)
                .then(|| std::time::Duration::from_secs(args.audit_rotate_hours.saturating_mul(3600))),
            keep_files: args.audit_keep_files,
            keep_age: (args.audit_keep_days > 0)
                .then(|| std::time::Duration::from_secs(args.audit_keep_days.saturating_mul(86_400))),
        },
        cache_capacity: args.cache_size.saturating_mul(MIB),
        access_date_delay: args.access_date_delay,
        connections: kinko_server::ConnectionLimits {
            header_read_timeout: args.header_read_timeout,
            body_read_timeout: args.body_read_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args.max_connections,
            shutdown_grace: args.shutdown_grace,
        },
        ready_probe_interval: args.ready_probe_interval,
        job_interval: args.job_interval,
        job_lease: args.job_lease,
        metrics_listen: args.metrics_listen,
        log_requests: args.log_requests,
        oidc_jwks: args.oidc_jwks,
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(kinko_server::TlsFiles::new(cert, key)),
            _ => None,
        },
        imds_listen: args.imds_listen,
        container_credentials_listen: args.container_credentials_listen,
        workload_session_seconds: args.workload_session_seconds,
        functions: kinko_server::FunctionsConfig {
            max_instances: args.functions_max_instances,
            idle_timeout: args.functions_idle_timeout,
            cache_dir: args.functions_cache_dir,
            sdk_dir: args.functions_sdk_dir,
            endpoint_url: args.functions_endpoint_url,
            ca_bundle: args.functions_ca_bundle,
        },
        console: kinko_server::ConsoleSettings {
            enabled: args.console,
            root_password_hash: setting("KINKO_CONSOLE_ROOT_PASSWORD_HASH", &file),
            idle_timeout: args.console_idle_timeout,
            session_timeout: args.console_session_timeout,
        },
    };
    let dev = config.dev;
    let generated_creds = !dev && config.root_access_key_id.is_none();
    let data_dir = config.data_dir.clone();
    let running = match kinko_server::start(config, Arc::new(kinko_core::SystemClock)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kinko: {e}");
            return ExitCode::FAILURE;
        }
    };
    let creds = running.root_credentials();
    if dev {
        println!(
            "kinko dev mode: nothing is kept on disk. Account {}, root credentials: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
            running.account_id(),
            creds.access_key_id,
            creds.secret_access_key.as_str()
        );
    } else if creds.known && generated_creds {
        println!(
            "kinko created data dir {} for account {}. Root credentials (shown once, also in {}):\n  AWS_ACCESS_KEY_ID={}\n  AWS_SECRET_ACCESS_KEY={}",
            data_dir.display(),
            running.account_id(),
            data_dir.join("root-credentials").display(),
            creds.access_key_id,
            creds.secret_access_key.as_str()
        );
    }
    // Before the listening line, which tools wait for as the sign that everything is up: the signal
    // handlers, then the other addresses.
    let stop = StopSignals::install();
    let running = Arc::new(running);
    let hup = reopen_on_sighup(running.clone());
    if let Some(addr) = running.container_credentials_addr() {
        println!(
            "kinko serving container credentials on http://{addr}{}",
            kinko_server::CONTAINER_CREDENTIALS_PATH
        );
    }
    let scheme = if running.serves_tls() { "https" } else { "http" };
    println!("kinko listening on {scheme}://{}", running.local_addr());
    if let Some(addr) = running.metrics_addr() {
        println!("kinko serving metrics on {scheme}://{addr}/metrics");
    }
    stop.wait().await;
    hup.abort();
    let _ = hup.await;
    let Ok(running) = Arc::try_unwrap(running) else {
        eprintln!("kinko: cannot shut down cleanly");
        return ExitCode::FAILURE;
    };
    tracing::info!("shutting down");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kinko: {e}");
            ExitCode::FAILURE
        }
    }
}

fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

async fn run_rotate(args: RotateArgs) -> ExitCode {
    let config = Config {
        data_dir: args.data_dir,
        root_key_file: args.root_key_file,
        root_key_base64: env("KINKO_ROOT_KEY").map(Zeroizing::new),
        store: args.store,
        new_root_key_file: args.new_root_key_file,
        ..Config::default()
    };
    let new_key = env("KINKO_NEW_ROOT_KEY").map(Zeroizing::new);
    if config.store.is_some() {
        return match kinko_server::rotate_root_key(&config, new_key).await {
            Ok(report) => {
                println!(
                    "kinko rotated the root key of the database: re-wrapped {} and {}.",
                    count(report.kms_materials, "KMS key material"),
                    count(report.access_keys, "access key secret"),
                );
                println!(
                    "Every node switches to the new key by itself (kinko_root_key_switches). Once all have, make \
                     the new key each node's root key (its root key file or KINKO_ROOT_KEY) and remove the old one."
                );
                println!("Sessions from STS issued before now have ended: callers assume their roles again.");
                if let Some(w) = &report.warning {
                    eprintln!("kinko: warning: {w}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kinko: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let report = match kinko_server::rotate_root_key(&config, new_key).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kinko: {e}");
            return ExitCode::FAILURE;
        }
    };
    let how = if report.online {
        "by the server running on it"
    } else {
        "offline"
    };
    println!(
        "kinko rotated the root key of {} ({how}): re-wrapped {} and {}.",
        config.data_dir.display(),
        count(report.kms_materials, "KMS key material"),
        count(report.access_keys, "access key secret"),
    );
    match &report.key_file {
        Some(path) => println!("The new root key is in {}.", path.display()),
        None if report.online => println!(
            "The server uses the new root key from now on. Restart it later with KINKO_ROOT_KEY set to \
             the value of KINKO_NEW_ROOT_KEY: the old key no longer opens this data dir."
        ),
        None => println!(
            "Start the server with KINKO_ROOT_KEY set to the value of KINKO_NEW_ROOT_KEY: the old key no \
             longer opens this data dir."
        ),
    }
    println!("Sessions from STS issued before now have ended: callers assume their roles again.");
    if let Some(w) = &report.warning {
        eprintln!("kinko: warning: {w}");
    }
    ExitCode::SUCCESS
}

fn run_backup(args: BackupArgs) -> ExitCode {
    let config = Config {
        data_dir: args.data_dir,
        root_key_file: args.root_key_file,
        root_key_base64: env("KINKO_ROOT_KEY").map(Zeroizing::new),
        ..Config::default()
    };
    let report = match kinko_server::backup(&config, &args.to) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kinko: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "kinko wrote a consistent copy of the database of {} to {}.",
        config.data_dir.display(),
        args.to.display()
    );
    let key = match &report.key_file {
        Some(path) => format!("the root key in {}", path.display()),
        None => "the root key in KINKO_ROOT_KEY".to_owned(),
    };
    if report.verified {
        println!(
            "It opens only with {key}, as it is now: keep a copy of that key with this backup (stored \
             apart from it). After a root key rotation, take a new backup."
        );
    } else {
        println!("It opens only with the data dir's current root key; {key} could not be read to check it.");
    }
    ExitCode::SUCCESS
}

/// SIGHUP reopens the audit log file (for external log rotation: move the file, then send SIGHUP)
/// and reads the TLS certificate and key again.
/// The handler is installed before this returns (SIGHUP's default action ends the process).
fn reopen_on_sighup(running: Arc<kinko_server::Running>) -> tokio::task::JoinHandle<()> {
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    tokio::spawn(async move {
        let Ok(mut hup) = hup else {
            tracing::warn!(
                "cannot listen for SIGHUP: the audit log is not reopened, nor the TLS files read again, on it"
            );
            return;
        };
        while hup.recv().await.is_some() {
            running.reopen_audit_log();
            // Two small files read on this worker: brief, and rare.
            running.reload_tls();
        }
    })
}

fn run_audit_verify(args: VerifyArgs) -> ExitCode {
    let config = Config {
        data_dir: args.data_dir,
        root_key_file: args.root_key_file,
        root_key_base64: env("KINKO_ROOT_KEY").map(Zeroizing::new),
        audit_log: args.audit_log,
        ..Config::default()
    };
    let report = kinko_server::verify_audit_log(&config, &args.files);
    for f in &report.files {
        let range = match (f.first, f.last) {
            (Some(a), Some(b)) => format!("records {a} to {b}"),
            _ => "no chained records".to_owned(),
        };
        println!(
            "{}: {} ({}){}",
            f.path.display(),
            count(f.records, "line"),
            range,
            if f.sealed { ", sealed" } else { "" }
        );
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    if report.ok() {
        println!("OK: the chain is whole and every seal matches.");
        ExitCode::SUCCESS
    } else {
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        println!("FAILED: {}.", count(report.problems.len() as u64, "problem"));
        ExitCode::FAILURE
    }
}

/// The signals that end a server (SIGTERM, SIGINT), caught from the moment this is made. Made before
/// the listening line: a process manager may send SIGTERM as soon as it reads that line, and a signal
/// that arrives before its handler exists ends the process uncleanly.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    pub(crate) fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Returns when one of the signals has arrived (at once if it came before this call).
    pub(crate) async fn wait(mut self) {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            if self.term.is_none() && self.int.is_none() {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
            tokio::select! {
                _ = recv(&mut self.term) => {}
                _ = recv(&mut self.int) => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs go to stderr, filtered by `KINKO_LOG` (`tracing` syntax, default `info`).
fn init_logging(format: LogFormat, filter: Option<String>) {
    let filter = tracing_subscriber::EnvFilter::new(filter.as_deref().unwrap_or("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        // One object per line: timestamp, level, target and the event's fields at the top level.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

/// The command line, with `kinko server`'s config file (if any) read in: its settings come before
/// the real arguments, which override them.
fn parse_command_line() -> Result<(Cli, FileEnv), ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) != Some("server") {
        return Ok((Cli::parse_from(argv), FileEnv::new()));
    }
    let Some(path) = config_file::path_from(&argv[2..], env("KINKO_CONFIG")) else {
        return Ok((Cli::parse_from(argv), FileEnv::new()));
    };
    let command = Cli::command();
    let flags: Vec<config_file::Flag> = command
        .find_subcommand("server")
        .map(|c| {
            c.get_arguments()
                .filter_map(|a| {
                    let long = a.get_long()?;
                    (long != "config" && long != "help").then(|| config_file::Flag {
                        long: long.to_owned(),
                        takes_value: a.get_action().takes_values(),
                        env_set: a
                            .get_env()
                            .and_then(std::env::var_os)
                            .is_some_and(|v| !v.is_empty()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let file = match config_file::load(&path, &flags) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kinko: {e}");
            return Err(ExitCode::from(2));
        }
    };
    // Each value of the file checked by its flag's parser, the error naming the file.
    let alone = ["kinko".to_owned(), "server".to_owned()]
        .into_iter()
        .chain(file.args.iter().cloned());
    if let Err(e) = Cli::try_parse_from(alone) {
        eprint!("kinko: config file {}: {}", path.display(), e.render());
        return Err(ExitCode::from(2));
    }
    let combined = argv[..2]
        .iter()
        .cloned()
        .chain(file.args.iter().cloned())
        .chain(argv[2..].iter().cloned());
    Ok((Cli::parse_from(combined), file.env))
}

fn main() -> ExitCode {
    let (cli, file_env) = match parse_command_line() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let format = match &cli.command {
        Command::Server(args) => args.log_format,
        _ => LogFormat::Text,
    };
    // The agent sets up its logging once its config file is read (its log_level).
    if !matches!(cli.command, Command::Agent(_)) {
        init_logging(format, setting("KINKO_LOG", &file_env));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kinko: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Server(args) => runtime.block_on(run_server(*args, file_env)),
        Command::RotateRootKey(args) => runtime.block_on(run_rotate(args)),
        Command::Backup(args) => run_backup(args),
        Command::Audit(AuditCommand::Verify(args)) => run_audit_verify(args),
        Command::Exec(args) => runtime.block_on(exec::run(args)),
        Command::Agent(args) => runtime.block_on(agent::run(args)),
        Command::Attachment(args) => runtime.block_on(attachment::run(args)),
        Command::Dev(args) => runtime.block_on(dev::run(args)),
        Command::Console(ConsoleCommand::HashPassword) => hash_password(),
    }
}

/// `kinko console hash-password`: the argon2id hash of the password on stdin's first line.
fn hash_password() -> ExitCode {
    let mut line = Zeroizing::new(String::new());
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("kinko: cannot read the password: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if password.chars().count() < 8 {
        eprintln!("kinko: the console password must be at least 8 characters");
        return ExitCode::FAILURE;
    }
    match kinko_console::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kinko: {e}");
            ExitCode::FAILURE
        }
    }
}
