//! The benchmark: start the servers, seed, run every load, report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine as _;
use kinko_store_postgres::scratch::ScratchSchema;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::json;
use tokio::process::Command;
use tokio::signal::unix::{SignalKind, signal};

use crate::child::{ServerProcess, tail};
use crate::cli::{BenchArgs, Caller};
use crate::client::{Endpoint, Response, health};
use crate::load::{self, Node, RunSpec, Target};
use crate::ops::Op;
use crate::signing::Signer;
use crate::stats::{self, RunResult, Server};
use crate::{role, setup};

/// Account id given to a kinko started by the benchmark.
pub(crate) const ACCOUNT_ID: &str = "000000000000";

/// Whether every request succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    HadErrors,
}

/// Runs the whole benchmark; children are stopped and the temporary
/// directory removed (unless `--keep`) however it ends, Ctrl-C included.
pub async fn run(args: BenchArgs) -> Result<Outcome> {
    let settings = Settings::from_args(&args)?;
    let workdir = tempfile::TempDir::with_prefix("kinko-bench-").context("creating temporary directory")?;
    let mut servers = Servers::default();
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;

    let outcome = tokio::select! {
        outcome = bench(&args, &settings, workdir.path(), &mut servers) => outcome,
        _ = interrupt.recv() => Err(anyhow!("interrupted")),
        _ = terminate.recv() => Err(anyhow!("terminated")),
    };

    if outcome.is_err() {
        for kinko in servers.kinko.iter_mut().chain(servers.postgres.iter_mut()) {
            if let Some(status) = kinko.exited() {
                let log = kinko.log();
                eprintln!(
                    "kinko exited unexpectedly ({status}); log {}:\n{}",
                    log.display(),
                    tail(log)
                );
            }
        }
    }
    servers.stop_all().await;
    if args.keep {
        let kept = workdir.keep();
        eprintln!("kept {}", kept.display());
    } else if let Err(e) = workdir.close() {
        eprintln!("warning: removing the temporary directory: {e}");
    }
    outcome
}

/// Validated numeric settings.
struct Settings {
    warmup: Duration,
    duration: Duration,
}

impl Settings {
    fn from_args(args: &BenchArgs) -> Result<Self> {
        ensure!(!args.ops.is_empty(), "--ops is empty");
        ensure!(!args.concurrency.is_empty(), "--concurrency is empty");
        ensure!(
            args.concurrency.iter().all(|&c| c >= 1),
            "every --concurrency level must be at least 1"
        );
        ensure!(
            args.secrets >= 1 || !args.ops.iter().any(|op| op.needs_secrets()),
            "--secrets must be at least 1 for {:?}",
            args.ops
        );
        ensure!(
            args.cmk_secrets() >= 1 || !args.ops.iter().any(|op| op.needs_cmk_secrets()),
            "--cmk-secrets must be at least 1 for get-cmk"
        );
        ensure!(
            args.seed_concurrency >= 1,
            "--seed-concurrency must be at least 1"
        );
        let duration = Duration::try_from_secs_f64(args.duration)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--duration must be a positive number of seconds")?;
        let warmup = Duration::try_from_secs_f64(args.warmup)
            .context("--warmup must be a non-negative number of seconds")?;
        Ok(Self { warmup, duration })
    }
}

#[derive(Default)]
struct Servers {
    kinko: Option<ServerProcess>,
    bare: Option<ServerProcess>,
    buffered: Option<ServerProcess>,
    /// The nodes on PostgreSQL (`--compare-stores`).
    postgres: Vec<ServerProcess>,
    /// Their scratch schemas, dropped once they are stopped.
    schemas: Vec<ScratchSchema>,
}

impl Servers {
    async fn stop_all(&mut self) {
        let postgres = std::mem::take(&mut self.postgres)
            .into_iter()
            .map(|node| ("kinko-postgres", Some(node)));
        let servers = [
            ("bare", self.bare.take()),
            ("kinko-buffered-audit", self.buffered.take()),
            ("kinko", self.kinko.take()),
        ]
        .into_iter()
        .chain(postgres);
        for (name, server) in servers {
            if let Some(server) = server {
                let pid = server.pid();
                match server.stop().await {
                    Ok(how) => eprintln!("{name} (pid {pid}) {how}"),
                    Err(e) => eprintln!("warning: stopping {name} (pid {pid}): {e:#}"),
                }
            }
        }
        for schema in self.schemas.drain(..) {
            let name = schema.name().to_owned();
            drop(schema);
            eprintln!("dropped schema {name}");
        }
    }

    /// A server that has exited while it should be serving, and how it ended.
    fn exited(&mut self) -> Option<String> {
        self.kinko
            .iter_mut()
            .chain(self.postgres.iter_mut())
            .find_map(|s| {
                s.exited()
                    .map(|status| format!("{} ({status})", s.log().display()))
            })
    }
}

/// Everything the report needs besides the results.
struct ReportInfo {
    command: String,
    kinko: String,
    /// Who signs the requests.
    caller: String,
    secrets: usize,
    /// How the secrets came to be.
    seeded: &'static str,
    /// How the KMS keys and the secrets under a customer managed key were set up.
    notes: Vec<String>,
    /// `/proc/loadavg` before the benchmark started its servers, and at the end.
    load_before: String,
    load_after: String,
}

async fn bench(args: &BenchArgs, settings: &Settings, dir: &Path, servers: &mut Servers) -> Result<Outcome> {
    let load_before = loadavg();
    let (kinko, credentials, described, caller) = match &args.endpoint {
        Some(url) => {
            let endpoint = Endpoint::parse(url).await?;
            let credentials = Credentials {
                access_key_id: args.access_key_id.clone().unwrap_or_default(),
                secret_access_key: args.secret_access_key.clone().unwrap_or_default(),
                session_token: args.session_token.clone(),
            };
            let caller = format!(
                "the {} credentials given with --access-key-id ({})",
                if credentials.session_token.is_some() {
                    "temporary"
                } else {
                    "long-term"
                },
                credentials.access_key_id
            );
            (endpoint, credentials, format!("running server at {url}"), caller)
        }
        None => {
            let credentials = Credentials::generate();
            let process = start_kinko(&args.kinko, dir, &credentials, Audit::Durable, &[]).await?;
            let endpoint = process.endpoint().clone();
            eprintln!(
                "kinko (pid {}) listening on http://{}, data dir {}",
                process.pid(),
                endpoint.authority,
                dir.join("data").display()
            );
            servers.kinko = Some(process);
            let described = format!("{} (durable SQLite data dir)", args.kinko.display());
            let caller = format!(
                "the root user of account {ACCOUNT_ID} (the bootstrap credentials, \
                 KINKO_ROOT_ACCESS_KEY_ID); KMS key policies apply to it like to any principal \
                 and are evaluated on every KMS call"
            );
            (endpoint, credentials, described, caller)
        }
    };

    let status = health(&kinko).await.context("GET /health")?;
    ensure!(status.is_success(), "GET /health answered {status}");

    let kinko = Arc::new(Target::single(
        Server::Kinko,
        kinko.clone(),
        credentials.signer(&kinko.authority, &args.region)?,
        servers.kinko.as_ref().map(ServerProcess::pid).or(args.server_pid),
    ));

    let prepared = setup::prepare(&kinko, args).await?;
    let workload = Arc::new(prepared.workload);

    // With `--caller role`, the loads (and the bare server) use a role session's credentials.
    let (kinko, credentials, caller) = match args.caller {
        Caller::Root => (kinko, credentials, caller),
        Caller::Role => {
            let session = role_session(&kinko, &args.region).await?;
            let node = kinko.first();
            let target = Arc::new(Target::single(
                Server::Kinko,
                node.endpoint.clone(),
                session.signer(&node.endpoint.authority, &args.region)?,
                kinko.pids.first().copied(),
            ));
            let caller = format!(
                "a session of the IAM role {} ({} attached managed policies allowing \
                 GetSecretValue of `bench-*` on the condition `aws:RequestedRegion`), assumed by \
                 an IAM user; the secrets were seeded by the root user",
                role::role_arn(ACCOUNT_ID),
                role::POLICIES,
            );
            (target, session, caller)
        }
    };

    // The same server with buffered audit, seeded alike, for GetSecretValue side by side.
    let buffered = if args.compare_audit {
        let process = start_kinko(&args.kinko, dir, &credentials, Audit::Buffered, &[]).await?;
        eprintln!(
            "kinko with buffered audit (pid {}) listening on http://{}",
            process.pid(),
            process.endpoint().authority
        );
        let target = Arc::new(Target::single(
            Server::KinkoBuffered,
            process.endpoint().clone(),
            credentials.signer(&process.endpoint().authority, &args.region)?,
            Some(process.pid()),
        ));
        servers.buffered = Some(process);
        setup::prepare(&target, args).await?;
        Some(target)
    } else {
        None
    };

    // The same server on PostgreSQL: one node, and two nodes sharing one database.
    let mut on_postgres = Vec::new();
    if args.compare_stores {
        let url = args.postgres_url().context(
            "--compare-stores needs a PostgreSQL database: --postgres URL, KINKO_BENCH_POSTGRES_URL \
             or KINKO_TEST_POSTGRES_URL",
        )?;
        for (server, nodes) in [(Server::KinkoPostgres, 1), (Server::KinkoPostgres2, 2)] {
            let target = start_postgres_nodes(args, dir, &credentials, &url, server, nodes, servers).await?;
            setup::prepare(&target, args).await?;
            on_postgres.push(target);
        }
    }

    let mut results: Vec<RunResult> = Vec::new();
    for &op in &args.ops {
        if op == Op::GetWarm {
            // Every secret read once, on every node (each has a cache of its own), only now.
            for target in std::iter::once(&kinko).chain(&on_postgres) {
                for node in target.each_node() {
                    setup::pre_read(
                        &node,
                        crate::ops::secret_name,
                        args.secrets,
                        args.seed_concurrency,
                    )
                    .await?;
                }
            }
        }
        // One request first, so a request the server rejects shows up at once.
        let probe = kinko
            .call(op.api(), op.operation(), op.body(&mut rand::rng(), &workload))
            .await?;
        if !probe.status.is_success() {
            eprintln!(
                "WARNING: {op} probe failed: HTTP {}: {}",
                probe.status,
                probe.body_excerpt()
            );
        }

        let bare = if op == Op::Get && !args.no_bare && probe.status.is_success() {
            let process = start_bare(dir, &probe, &credentials).await?;
            let bare = Arc::new(Target::single(
                Server::Bare,
                process.endpoint().clone(),
                credentials.signer(&process.endpoint().authority, &args.region)?,
                Some(process.pid()),
            ));
            eprintln!(
                "bare server (pid {}) listening on http://{}, answering a {}-byte {op} body",
                process.pid(),
                bare.first().endpoint.authority,
                probe.body.len()
            );
            servers.bare = Some(process);
            Some(bare)
        } else {
            if op == Op::Get && !args.no_bare {
                eprintln!("WARNING: no GetSecretValue response to replay: skipping the bare runs");
            }
            None
        };

        for &concurrency in &args.concurrency {
            let spec = RunSpec {
                op,
                concurrency,
                workload: Arc::clone(&workload),
                warmup: settings.warmup,
                duration: settings.duration,
            };
            let buffered = buffered.as_ref().filter(|_| op == Op::Get);
            let targets = std::iter::once(&kinko)
                .chain(bare.as_ref())
                .chain(buffered)
                .chain(&on_postgres);
            for target in targets {
                let result = load::run(Arc::clone(target), spec.clone()).await?;
                eprintln!("{}", result.summary());
                results.push(result);
            }
            if let Some(which) = servers.exited() {
                bail!("a kinko server exited during the {op} run: {which}");
            }
        }

        if let Some(process) = servers.bare.take() {
            let pid = process.pid();
            match process.stop().await {
                Ok(how) => eprintln!("bare (pid {pid}) {how}"),
                Err(e) => eprintln!("warning: stopping bare (pid {pid}): {e:#}"),
            }
        }
    }

    let context = ReportInfo {
        command: command_line(),
        kinko: described,
        caller,
        notes: prepared.notes,
        load_before,
        load_after: loadavg(),
        secrets: if args.ops.iter().any(|op| op.needs_secrets()) {
            args.secrets
        } else {
            0
        },
        seeded: if args.no_seed {
            "pre-existing"
        } else {
            "seeded with CreateSecret"
        },
    };
    let mut context = context;
    context.notes.extend(fresh_over_warm(&results));
    if args.compare_stores {
        context.notes.push(format!(
            "PostgreSQL: each deployment in a scratch schema of its own (dropped at the end), \
             pool_size={} per node; `kinko-postgres` is one node, `kinko-postgres-2-nodes` two nodes \
             on one database with the connections split between them and their CPU summed. Each \
             node keeps its audit trail in its own data dir with the same durability as the SQLite \
             server. Server CPU does not include PostgreSQL's own processes (they are in \"other\")",
            args.postgres_pool_size,
        ));
    }
    let report = report(&context, settings, &results);
    print!("{report}");
    if let Some(path) = &args.json {
        write_json(path, &context, settings, &results)?;
        eprintln!("wrote {}", path.display());
    }

    if !results.iter().all(RunResult::is_valid) {
        eprintln!("\n!!! SOME RUNS FAILED: their figures are not valid, see the report above !!!");
        Ok(Outcome::HadErrors)
    } else {
        Ok(Outcome::Clean)
    }
}

/// With `--ops get,get-warm`: each server's fresh GetSecretValue throughput (first reads of the
/// day) as a share of its warm one (every secret read before), per concurrency.
fn fresh_over_warm(results: &[RunResult]) -> Vec<String> {
    results
        .iter()
        .filter(|w| w.op == Op::GetWarm)
        .filter_map(|warm| {
            let fresh = results
                .iter()
                .find(|f| f.op == Op::Get && f.server == warm.server && f.concurrency == warm.concurrency)?;
            Some(format!(
                "fresh/warm GetSecretValue, {} at concurrency {}: {:.0} / {:.0} req/s = {:.1} %",
                warm.server.name(),
                warm.concurrency,
                fresh.throughput(),
                warm.throughput(),
                100.0 * fresh.throughput() / warm.throughput().max(f64::MIN_POSITIVE),
            ))
        })
        .collect()
}

/// Makes the role of [`role::setup_calls`] as the root user of `root`'s server, and a session of
/// it for the user allowed to assume it: that session's credentials.
async fn role_session(root: &Target, region: &str) -> Result<Credentials> {
    let node = root.first();
    let query = |signer: &Signer, service: &'static str, call: role::Call| {
        let endpoint = node.endpoint.clone();
        let request = signer.query_request(service, &role::pairs(&call));
        async move {
            let request = request?;
            let mut connection = crate::client::Conn::connect(endpoint.addr).await?;
            let response = connection.send(request).await?;
            let body = String::from_utf8_lossy(&response.body).into_owned();
            ensure!(
                response.status.is_success(),
                "{service} {}: {} {body}",
                call[0].1,
                response.status
            );
            Ok(body)
        }
    };
    for call in role::setup_calls(ACCOUNT_ID, region, "bench-") {
        query(&node.signer, "iam", call).await?;
    }
    let field = |xml: &str, name: &str| {
        crate::exec::element(xml, name).with_context(|| format!("no <{name}> in the answer"))
    };
    let created = query(&node.signer, "iam", role::create_access_key()).await?;
    let user = Signer::new(
        &node.endpoint.authority,
        region,
        &field(&created, "AccessKeyId")?,
        &field(&created, "SecretAccessKey")?,
        None,
    )?;
    let assumed = query(&user, "sts", role::assume_role(ACCOUNT_ID, "kinko-bench")).await?;
    Ok(Credentials {
        access_key_id: field(&assumed, "AccessKeyId")?,
        secret_access_key: field(&assumed, "SecretAccessKey")?,
        session_token: Some(field(&assumed, "SessionToken")?),
    })
}

/// The root (or session) credentials requests are signed with.
pub(crate) struct Credentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    session_token: Option<String>,
}

impl Credentials {
    /// Fresh random root credentials in the AWS format.
    pub(crate) fn generate() -> Self {
        let mut rng = rand::rng();
        let mut random = |len: usize| -> String {
            (&mut rng)
                .sample_iter(Alphanumeric)
                .take(len)
                .map(char::from)
                .collect()
        };
        Self {
            access_key_id: format!("AKIA{}", random(16).to_ascii_uppercase()),
            secret_access_key: random(40),
            session_token: None,
        }
    }

    pub(crate) fn signer(&self, authority: &str, region: &str) -> Result<Signer> {
        Signer::new(
            authority,
            region,
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.as_deref(),
        )
    }
}

/// Whether kinko's audit records are synced before each answer (its default) or buffered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audit {
    Durable,
    Buffered,
}

/// A kinko on a fresh data directory under `dir` with `credentials` as root, durable audit.
pub(crate) async fn start_durable_kinko(
    binary: &Path,
    dir: &Path,
    credentials: &Credentials,
) -> Result<ServerProcess> {
    start_kinko(binary, dir, credentials, Audit::Durable, &[]).await
}

/// [`start_durable_kinko`] with more environment variables (`env`) for the server.
pub(crate) async fn start_durable_kinko_with(
    binary: &Path,
    dir: &Path,
    credentials: &Credentials,
    env: &[(&str, &str)],
) -> Result<ServerProcess> {
    start_kinko(binary, dir, credentials, Audit::Durable, env).await
}

async fn start_kinko(
    binary: &Path,
    dir: &Path,
    credentials: &Credentials,
    audit: Audit,
    env: &[(&str, &str)],
) -> Result<ServerProcess> {
    if !binary.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p kinko-cli`, pass --kinko PATH, \
             or load a running server with --endpoint",
            binary.display()
        );
    }
    let (data, log, durability) = match audit {
        Audit::Durable => (dir.join("data"), dir.join("kinko.log"), "fsync"),
        Audit::Buffered => (
            dir.join("data-buffered-audit"),
            dir.join("kinko-buffered-audit.log"),
            "buffered",
        ),
    };
    std::fs::create_dir(&data).with_context(|| format!("creating {}", data.display()))?;
    let mut command = Command::new(binary);
    command
        .arg("server")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data)
        .arg("--audit-durability")
        .arg(durability)
        .env("KINKO_ROOT_ACCESS_KEY_ID", &credentials.access_key_id)
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", &credentials.secret_access_key)
        .env("KINKO_ACCOUNT_ID", ACCOUNT_ID)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    ServerProcess::start("kinko", command, &log).await
}

/// Starts `nodes` kinko servers on one new scratch schema of `url`, one after the other (the first
/// creates the schema and the account), all with the same root key and credentials.
async fn start_postgres_nodes(
    args: &BenchArgs,
    dir: &Path,
    credentials: &Credentials,
    url: &str,
    server: Server,
    nodes: usize,
    servers: &mut Servers,
) -> Result<Arc<Target>> {
    let schema = ScratchSchema::new(url);
    let store = schema.url(args.postgres_pool_size);
    eprintln!("{}: schema {}", server.name(), schema.name());
    servers.schemas.push(schema);
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    let root_key = base64::engine::general_purpose::STANDARD.encode(key);
    let mut target = Target {
        server,
        nodes: Vec::new(),
        pids: Vec::new(),
    };
    for n in 1..=nodes {
        let label = format!("{}-{n}", server.name());
        let data = dir.join(format!("data-{label}"));
        std::fs::create_dir(&data).with_context(|| format!("creating {}", data.display()))?;
        let mut command = Command::new(&args.kinko);
        command
            .arg("server")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data)
            .arg("--audit-durability")
            .arg("fsync")
            .env("KINKO_STORE", &store)
            .env("KINKO_ROOT_KEY", &root_key)
            .env("KINKO_ROOT_ACCESS_KEY_ID", &credentials.access_key_id)
            .env("KINKO_ROOT_SECRET_ACCESS_KEY", &credentials.secret_access_key)
            .env("KINKO_ACCOUNT_ID", ACCOUNT_ID)
            .stdin(Stdio::null());
        let process =
            ServerProcess::start("kinko on PostgreSQL", command, &dir.join(format!("{label}.log"))).await?;
        let endpoint = process.endpoint().clone();
        eprintln!(
            "{label} (pid {}) listening on http://{}",
            process.pid(),
            endpoint.authority
        );
        let status = health(&endpoint).await.context("GET /health")?;
        ensure!(status.is_success(), "{label}: GET /health answered {status}");
        target.nodes.push(Arc::new(Node {
            signer: credentials.signer(&endpoint.authority, &args.region)?,
            endpoint,
        }));
        target.pids.push(process.pid());
        servers.postgres.push(process);
    }
    Ok(Arc::new(target))
}

/// Starts `kinko-bench bare` answering the bytes of `captured` to requests it has verified as
/// signed with `credentials` (the floor of any authenticated API).
async fn start_bare(dir: &Path, captured: &Response, credentials: &Credentials) -> Result<ServerProcess> {
    let body_file = dir.join("get-secret-value.json");
    std::fs::write(&body_file, &captured.body).with_context(|| format!("writing {}", body_file.display()))?;
    let exe = std::env::current_exe().context("locating the kinko-bench executable")?;
    let mut command = Command::new(exe);
    command
        .arg("bare")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--body-file")
        .arg(&body_file)
        .arg("--exit-on-stdin-eof")
        .arg("--access-key-id")
        .arg(&credentials.access_key_id)
        .env(crate::bare::SECRET_ENV, &credentials.secret_access_key)
        .stdin(Stdio::piped());
    if let Some(id) = captured
        .headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
    {
        command.arg("--request-id").arg(id);
    }
    ServerProcess::start("bare server", command, &dir.join("bare.log")).await
}

/// The process's command line, shell-quoted where needed, secrets redacted.
fn command_line() -> String {
    quote_command(std::env::args())
}

/// Options whose value is a secret, left out of reports.
const SECRET_OPTIONS: [&str; 2] = ["--secret-access-key", "--session-token"];

fn quote_command(args: impl IntoIterator<Item = String>) -> String {
    let mut redact_next = false;
    args.into_iter()
        .map(|arg| {
            let arg = if std::mem::take(&mut redact_next) {
                "REDACTED".to_owned()
            } else if let Some((option, _)) = arg
                .split_once('=')
                .filter(|(option, _)| SECRET_OPTIONS.contains(option))
            {
                format!("{option}=REDACTED")
            } else {
                redact_next = SECRET_OPTIONS.contains(&arg.as_str());
                arg
            };
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c));
            if plain {
                arg
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The 1, 5 and 15 minute load averages of this machine.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `(nproc, CPU model, kernel release)` of this machine, as far as known.
pub(crate) fn machine() -> (usize, String, String) {
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| format!("Linux {}", k.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.to_owned());
    (nproc, cpu, kernel)
}

fn report(context: &ReportInfo, settings: &Settings, results: &[RunResult]) -> String {
    let (nproc, cpu, kernel) = machine();
    let mut out = String::new();
    let _ = writeln!(out, "\n## kinko-bench\n");
    let _ = writeln!(out, "- command: `{}`", context.command);
    let _ = writeln!(out, "- machine: nproc {nproc}, {cpu}, {kernel}");
    let _ = writeln!(out, "- server: {}", context.kinko);
    let _ = writeln!(out, "- caller: {}", context.caller);
    let _ = writeln!(
        out,
        "- load average (1, 5, 15 min): {} before the benchmark, {} at its end",
        context.load_before, context.load_after
    );
    let _ = writeln!(
        out,
        "- load: closed loop, one SigV4-signed request in flight per HTTP/1.1 keep-alive \
         connection; {}; {} s warm-up + {} s measured per row; latency from send to last body byte",
        if context.secrets > 0 {
            format!("{} secrets ({})", context.secrets, context.seeded)
        } else {
            "no secrets `bench-*` (not needed)".to_owned()
        },
        settings.warmup.as_secs_f64(),
        settings.duration.as_secs_f64(),
    );
    for note in &context.notes {
        let _ = writeln!(out, "- {note}");
    }
    let _ = writeln!(out, "\n{}", stats::markdown_table(results));
    let _ = writeln!(
        out,
        "CPU over each measured window, in % of one CPU ({} % in all): the server, this load \
         generator, every other process on the machine (other work distorts the figures). Server \
         CPU per request is the server's CPU time divided by the requests answered.\n",
        nproc * 100
    );
    let ratios = stats::ratios(results);
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "kinko versus a bare HTTP server that verifies each request's SigV4 signature with \
             kinko's verifier and answers the same bytes (the floor of any authenticated API; same \
             client, same signed requests):\n\n{}",
            stats::ratio_table(&ratios)
        );
    }
    let audit = stats::audit_ratios(results);
    if !audit.is_empty() {
        let _ = writeln!(
            out,
            "kinko with durable audit (each answer waits for its record's fdatasync, group-committed) \
             versus the same kinko with buffered audit (written every 50 ms, never synced), side by \
             side in this run:\n\n{}",
            stats::audit_ratio_table(&audit)
        );
    }
    let stores = stats::store_rows(results);
    if !stores.is_empty() {
        let _ = writeln!(
            out,
            "The same kinko on SQLite / on one PostgreSQL node / on two PostgreSQL nodes sharing \
             one database (the connections split between them, server CPU summed over both), side \
             by side in this run; the last column divides the PostgreSQL server CPU per request by \
             the SQLite server's (one node / two nodes):\n\n{}",
            stats::store_table(&stores)
        );
    }
    let cmk = stats::cmk_ratios(results);
    if !cmk.is_empty() {
        let _ = writeln!(
            out,
            "GetSecretValue of secrets under a customer managed key versus under \
             aws/secretsmanager (same run):\n\n{}",
            stats::cmk_ratio_table(&cmk)
        );
    }
    let failed: Vec<&RunResult> = results.iter().filter(|r| !r.is_valid()).collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "**FAILED RUNS — their figures are not valid:**\n");
        for r in failed {
            let _ = writeln!(
                out,
                "- {} {} c={}: {} failed in the measured window, {} in warm-up, {} succeeded",
                r.server.name(),
                r.op,
                r.concurrency,
                r.errors(),
                r.tally.warmup_errors,
                r.requests(),
            );
            for (kind, tally) in &r.tally.errors {
                let _ = writeln!(out, "  - {kind} × {}: {}", tally.count, tally.example);
            }
        }
        out.push('\n');
    }
    let abandoned: Vec<&RunResult> = results.iter().filter(|r| r.tally.abandoned > 0).collect();
    if !abandoned.is_empty() {
        let _ = writeln!(
            out,
            "Requests still unanswered {} s after the end of their run (abandoned, not counted):\n",
            load::DRAIN_GRACE.as_secs()
        );
        for r in abandoned {
            let _ = writeln!(
                out,
                "- {} {} c={}: {}",
                r.server.name(),
                r.op,
                r.concurrency,
                r.tally.abandoned
            );
        }
        out.push('\n');
    }
    out
}

fn write_json(
    path: &PathBuf,
    context: &ReportInfo,
    settings: &Settings,
    results: &[RunResult],
) -> Result<()> {
    let (nproc, cpu, kernel) = machine();
    let document = json!({
        "command": context.command,
        "machine": { "nproc": nproc, "cpu": cpu, "os": kernel },
        "server": context.kinko,
        "caller": context.caller,
        "load_average_before": context.load_before,
        "load_average_after": context.load_after,
        "secrets": context.secrets,
        "setup": context.notes,
        "warmup_secs": settings.warmup.as_secs_f64(),
        "duration_secs": settings.duration.as_secs_f64(),
        "results": results.iter().map(RunResult::to_json).collect::<Vec<_>>(),
        "kinko_over_bare": stats::ratios(results).iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "durable_over_buffered_audit": stats::audit_ratios(results).iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "cmk_over_default_key": stats::cmk_ratios(results).iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "stores": stats::store_rows(results).iter().map(|r| r.to_json()).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&document).context("encoding JSON")?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::quote_command;

    #[test]
    fn quotes_and_redacts_the_command_line() {
        let args = [
            "kinko-bench",
            "--endpoint",
            "http://127.0.0.1:1",
            "--secret-access-key",
            "wJalr/K7MDENG",
            "--session-token=tok",
            "--ops",
            "get,get-cmk",
            "it's",
        ]
        .map(str::to_owned);
        assert_eq!(
            quote_command(args),
            "kinko-bench --endpoint http://127.0.0.1:1 --secret-access-key REDACTED \
             --session-token=REDACTED --ops get,get-cmk 'it'\\''s'"
        );
    }
}
