//! `kinko-bench agent`: cache hits through `kinko agent`, and side by side in the same run through
//! the AWS Secrets Manager Agent when its binary is given (`--aws-agent PATH`).
//!
//! It starts `kinko server --dev`, creates one secret, starts each agent reading from that server
//! with the same root credentials and the same SSRF token, checks that each answers the secret,
//! then for each concurrency level and agent runs `--warmup` seconds unmeasured and `--duration`
//! seconds measured of `GET /secretsmanager/get?secretId=bench-agent` with the token header, each
//! client on its own keep-alive connection with one request in flight. After the first read every
//! request is a cache hit (the TTL is the agents' default 300 s), so this measures the agents, not
//! the server. Latency is from sending a request to reading its last byte; anything but 200 is an
//! error and makes the run exit with status 1.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use rand::Rng as _;
use tokio::process::Command;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};

use crate::bench::{Outcome, loadavg, machine};
use crate::child::ServerProcess;
use crate::cli::AgentArgs;
use crate::client::{Conn, Endpoint};
use crate::cpu;
use crate::load::{DRAIN_GRACE, Target};
use crate::signing::{Api, Signer};
use crate::stats::{Server, Tally, format_rate, format_us};

/// The secret every request reads.
const SECRET: &str = "bench-agent";
/// Its value: a database credential of typical size.
const VALUE: &str = r#"{"engine":"postgres","password":"00000000000000000000000000000000","username":"app"}"#;
const PATH: &str = "/secretsmanager/get?secretId=bench-agent";
const TOKEN_HEADER: &str = "X-Aws-Parameters-Secrets-Token";

/// One agent under load.
struct Agent {
    name: &'static str,
    process: ServerProcess,
}

/// One measured run.
struct Run {
    agent: &'static str,
    concurrency: usize,
    measured: Duration,
    tally: Tally,
    cpu: Option<cpu::Usage>,
}

pub async fn run(args: AgentArgs) -> Result<Outcome> {
    let dir = tempfile::Builder::new()
        .prefix("kinko-bench-agent-")
        .tempdir()
        .context("creating a temporary directory")?;
    let mut processes = Vec::new();
    let result = bench(&args, dir.path(), &mut processes).await;
    for p in processes {
        let _ = p.process.stop().await;
    }
    result
}

async fn bench(args: &AgentArgs, dir: &Path, agents: &mut Vec<Agent>) -> Result<Outcome> {
    if !args.kinko.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p kinko-cli` or pass --kinko PATH",
            args.kinko.display()
        );
    }
    let token: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();

    let mut server = Command::new(&args.kinko);
    server
        .args(["server", "--dev", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null());
    let server = ServerProcess::start("kinko server", server, &dir.join("server.log")).await?;
    let url = format!("http://{}", server.endpoint().authority);
    let seeded = seed(server.endpoint()).await;
    agents.push(Agent {
        name: "kinko server",
        process: server,
    });
    seeded?;

    let mut kinko = agent_command(&args.kinko, &url, &token);
    kinko.args(["agent", "--port", "0", "--endpoint", &url]);
    let kinko = ServerProcess::start("kinko agent", kinko, &dir.join("kinko-agent.log")).await?;
    let mut under_load = vec![Agent {
        name: "kinko agent",
        process: kinko,
    }];
    if let Some(aws) = &args.aws_agent {
        // AWS's agent takes its port from its config file only; a free one is picked here.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port")?
            .port();
        let config = dir.join("aws-agent.toml");
        std::fs::write(
            &config,
            format!(
                "http_port = \"{port}\"\nlog_level = \"ERROR\"\nlog_to_file = false\nregion = \"us-east-1\"\nvalidate_credentials = false\n"
            ),
        )
        .context("writing the AWS agent's config")?;
        let mut command = agent_command(aws, &url, &token);
        command.arg("--config").arg(&config).current_dir(dir);
        let process =
            ServerProcess::start("AWS Secrets Manager Agent", command, &dir.join("aws-agent.log")).await?;
        under_load.push(Agent {
            name: "AWS Secrets Manager Agent",
            process,
        });
    }
    // The answers compared byte for byte (the first read fills each cache).
    let mut answers = Vec::new();
    for agent in &under_load {
        let body = first_read(agent, &token).await?;
        answers.push(body);
    }
    let identical = answers.windows(2).all(|w| w[0] == w[1]);

    let mut runs = Vec::new();
    for &concurrency in &args.concurrency {
        for agent in &under_load {
            runs.push(load(agent, &token, concurrency, args).await?);
        }
    }
    agents.extend(under_load);
    println!("{}", report(args, &runs, identical, &answers));
    Ok(if runs.iter().any(|r| r.tally.error_count() > 0) {
        Outcome::HadErrors
    } else {
        Outcome::Clean
    })
}

/// An agent's command: the root credentials of the dev server, the token in AWS_TOKEN, the server's
/// endpoint in AWS_ENDPOINT_URL, and nothing else of this process's AWS settings.
fn agent_command(program: &Path, url: &str, token: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_TOKEN", token)
        .env("KINKO_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// Creates the secret on the dev server (root credentials `test` / `test`).
async fn seed(endpoint: &Endpoint) -> Result<()> {
    let target = Target::single(
        Server::Kinko,
        endpoint.clone(),
        Signer::new(&endpoint.authority, "us-east-1", "test", "test", None)?,
        None,
    );
    // Signed requests come without the token an SDK generates: give it as the SDK would.
    let body = serde_json::json!({
        "Name": SECRET,
        "SecretString": VALUE,
        "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
    });
    let response = target
        .call(Api::SecretsManager, "CreateSecret", body.to_string().into_bytes())
        .await?;
    if response.status != StatusCode::OK {
        bail!(
            "CreateSecret failed: HTTP {}: {}",
            response.status,
            response.body_excerpt()
        );
    }
    Ok(())
}

/// The read, with the token.
fn get(authority: &str, token: &str) -> Result<Request<Full<Bytes>>> {
    Request::get(PATH)
        .header("host", authority)
        .header(TOKEN_HEADER, token)
        .body(Full::new(Bytes::new()))
        .context("building the request")
}

fn request(agent: &Agent, token: &str) -> Result<Request<Full<Bytes>>> {
    get(&agent.process.endpoint().authority, token)
}

/// The agent's first answer, which must be the secret.
async fn first_read(agent: &Agent, token: &str) -> Result<Bytes> {
    let mut conn = Conn::connect(agent.process.endpoint().addr).await?;
    let response = timeout(Duration::from_secs(60), conn.send(request(agent, token)?))
        .await
        .with_context(|| format!("{} did not answer within 60 s", agent.name))??;
    if response.status != StatusCode::OK {
        bail!(
            "{} answered HTTP {}: {}",
            agent.name,
            response.status,
            response.body_excerpt()
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).with_context(|| format!("{} answered no JSON", agent.name))?;
    if json["SecretString"] != VALUE {
        bail!(
            "{} answered another value: {}",
            agent.name,
            response.body_excerpt()
        );
    }
    Ok(response.body)
}

async fn load(agent: &Agent, token: &str, concurrency: usize, args: &AgentArgs) -> Result<Run> {
    let warmup = Duration::from_secs_f64(args.warmup);
    let measured = Duration::from_secs_f64(args.duration);
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(Conn::connect(agent.process.endpoint().addr).await?);
    }
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + measured;
    let authority: Arc<str> = agent.process.endpoint().authority.as_str().into();
    let token: Arc<str> = token.into();
    let addr = agent.process.endpoint().addr;
    let mut workers = JoinSet::new();
    for conn in conns {
        let (authority, token) = (authority.clone(), token.clone());
        workers.spawn(async move {
            let mut tally = Tally::new();
            let mut conn = Some(conn);
            while Instant::now() < end {
                let mut live = match conn.take() {
                    Some(c) if !c.is_closed() => c,
                    _ => {
                        tally.reconnects += 1;
                        match Conn::connect(addr).await {
                            Ok(c) => c,
                            Err(e) => {
                                tally.error(Instant::now() >= measure_from, "connect".into(), || {
                                    format!("{e:#}")
                                });
                                sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        }
                    }
                };
                let next = get(&authority, &token)?;
                let sent = Instant::now();
                let counted = sent >= measure_from;
                match timeout_at(end + DRAIN_GRACE, live.send(next)).await {
                    Ok(Ok(r)) if r.status == StatusCode::OK => {
                        let done = Instant::now();
                        if counted && done <= end {
                            tally.record(done - sent);
                        }
                        conn = Some(live);
                    }
                    Ok(Ok(r)) => {
                        tally.error(counted, format!("HTTP {}", r.status.as_u16()), || {
                            r.body_excerpt()
                        });
                        conn = Some(live);
                    }
                    Ok(Err(e)) => tally.error(counted, "transport".into(), || format!("{e:#}")),
                    Err(_) => {
                        tally.abandoned += 1;
                        break;
                    }
                }
            }
            Ok::<_, anyhow::Error>(tally)
        });
    }
    sleep_until(measure_from).await;
    let pids = [agent.process.pid()];
    let cpu_start = cpu::Sample::now(&pids);
    sleep_until(end).await;
    let cpu = cpu::Usage::between(&cpu_start, &cpu::Sample::now(&pids));
    let mut tally = Tally::new();
    while let Some(joined) = workers.join_next().await {
        tally.merge(joined.context("load worker panicked")??);
    }
    Ok(Run {
        agent: agent.name,
        concurrency,
        measured,
        tally,
        cpu,
    })
}

fn report(args: &AgentArgs, runs: &[Run], identical: bool, answers: &[Bytes]) -> String {
    let (nproc, cpu, kernel) = machine();
    let mut out = String::new();
    let _ = writeln!(out, "\n## kinko-bench agent: cache hits\n");
    let _ = writeln!(
        out,
        "- machine: {nproc} CPUs, {cpu}, {kernel}; load average {}",
        loadavg()
    );
    let _ = writeln!(
        out,
        "- request: `GET {PATH}` with `{TOKEN_HEADER}`, a {}-byte answer, every one a cache hit",
        answers.first().map_or(0, |a| a.len())
    );
    let _ = writeln!(
        out,
        "- {} s warm-up, {} s measured per row; each connection keeps one request in flight",
        args.warmup, args.duration
    );
    if answers.len() > 1 {
        let _ = writeln!(
            out,
            "- the agents' answers are {}",
            if identical { "byte-identical" } else { "different" }
        );
    }
    let _ = writeln!(
        out,
        "\n| agent | connections | requests/s | p50 | p99 | max | errors | agent CPU | load generator CPU | other CPU |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let n = r.tally.latency_us.len();
        let rate = n as f64 / r.measured.as_secs_f64();
        let q = |q: f64| format_us(r.tally.latency_us.value_at_quantile(q));
        let pct = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.0} %"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.agent,
            r.concurrency,
            format_rate(rate),
            q(0.5),
            q(0.99),
            format_us(r.tally.latency_us.max()),
            r.tally.error_count(),
            pct(r.cpu.and_then(|c| c.server)),
            pct(r.cpu.map(|c| c.client)),
            pct(r.cpu.map(|c| c.other)),
        );
    }
    for r in runs {
        for (kind, e) in &r.tally.errors {
            let _ = writeln!(
                out,
                "\n{} errors ({}): {kind} x{}: {}",
                r.agent, r.concurrency, e.count, e.example
            );
        }
    }
    out
}
