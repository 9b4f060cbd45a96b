//! The one harness for tests that run `kinko server` as a process: starting it (waiting for its
//! listening line), its stderr, SIGKILL and SIGTERM, plain HTTP GETs (`/ready`, `/metrics`), AWS
//! SDK clients of every service for a node, and clusters of nodes sharing one PostgreSQL scratch
//! schema; the encodings a secret could have in a data file (for scans of them).
//!
//! Each test binary uses a part of it.

#![allow(dead_code, reason = "each test binary uses a part of the harness")]

pub mod postgres;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

pub const REGION: &str = "us-east-1";
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How to start a `kinko server`: its data dir, flags and environment. The `KINKO_*` variables of
/// the test's own environment are not passed on.
#[derive(Clone, Debug)]
pub struct Launch {
    pub data_dir: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Launch {
    pub fn new(data_dir: &Path) -> Launch {
        Launch {
            data_dir: data_dir.to_owned(),
            args: Vec::new(),
            env: vec![("KINKO_LOG".into(), "warn".into())],
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Launch {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Launch {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.to_owned(), v.into()));
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinko"));
        cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.data_dir)
            .args(&self.args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KINKO_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// A running `kinko server` process; killed when dropped.
pub struct Node {
    pub launch: Launch,
    child: Child,
    pub addr: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Node {
    /// Starts the server and waits for its listening line; its stderr when it exits first.
    pub fn try_start(launch: &Launch) -> Result<Node, String> {
        let mut child = launch.command().spawn().expect("spawn kinko server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps reading after the listening line, so the server never blocks on stdout.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                lock(&sink).extend_from_slice(&buf[..n]);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("kinko listening on http://") {
                        return Ok(Node {
                            launch: launch.clone(),
                            child,
                            addr: addr.trim().to_owned(),
                            stderr,
                        });
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = wait_bounded(&mut child);
                    let _ = reader.join();
                    return Err(String::from_utf8_lossy(&lock(&stderr)).into_owned());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "kinko server did not start in {START_TIMEOUT:?}; stderr:\n{}",
                        String::from_utf8_lossy(&lock(&stderr))
                    );
                }
            }
        }
    }

    pub fn start(launch: &Launch) -> Node {
        Node::try_start(launch).unwrap_or_else(|e| panic!("kinko server exited at start; stderr:\n{e}"))
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// SIGKILL, and reaps the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM kinko");
        wait_bounded(&mut self.child)
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// An SDK configuration for this node with these credentials: one attempt per call (an
    /// acknowledged write is exactly one 200 answer), bounded timeouts.
    pub fn sdk_config(&self, creds: &Creds) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(aws_sdk_secretsmanager::config::SharedCredentialsProvider::new(
                Credentials::new(
                    creds.access_key_id.clone(),
                    creds.secret_access_key.clone(),
                    creds.session_token.clone(),
                    None,
                    "kinko-test",
                ),
            ))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            )
            .build()
    }

    pub fn clients(&self, creds: &Creds) -> Clients {
        let conf = self.sdk_config(creds);
        Clients {
            sm: aws_sdk_secretsmanager::Client::new(&conf),
            kms: aws_sdk_kms::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            sts: aws_sdk_sts::Client::new(&conf),
            lambda: aws_sdk_lambda::Client::new(&conf),
        }
    }

    /// `GET path`: the status code and body, or the I/O error.
    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        http_get(&self.addr, path)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits (bounded by [`EXIT_TIMEOUT`]) for a process to exit; kills it after that.
pub fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + EXIT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().expect("wait");
            panic!("process did not exit within {EXIT_TIMEOUT:?} (killed: {status})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plain HTTP/1.1 GET on loopback, bounded by 10 s.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok((code, body))
}

/// The value of a Prometheus sample: the line that starts with `series` (name and labels as
/// exposed, e.g. `kinko_job_items_total{job="purge_secrets",result="done"}`).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Credentials a client signs with.
#[derive(Clone, Debug)]
pub struct Creds {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Creds {
    pub fn new(id: &str, secret: &str) -> Creds {
        Creds {
            access_key_id: id.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: None,
        }
    }
}

/// An SDK client of each service, for one node and one set of credentials.
#[derive(Clone)]
pub struct Clients {
    pub sm: aws_sdk_secretsmanager::Client,
    pub kms: aws_sdk_kms::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub lambda: aws_sdk_lambda::Client,
}

/// The ways a secret could show up in a file: raw, hex, and base64 (standard and URL-safe) at
/// each of the three byte alignments it could have inside a longer encoded value.
pub fn forms(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let mut out = vec![("raw".to_owned(), secret.to_vec())];
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    out.push(("hex".into(), hex.clone().into_bytes()));
    out.push(("HEX".into(), hex.to_uppercase().into_bytes()));
    for (label, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
        for shift in 0..3 {
            let mut buf = vec![0u8; shift];
            buf.extend_from_slice(secret);
            let enc = engine.encode(&buf);
            // Drop the characters that also depend on neighbouring bytes.
            let start = if shift == 0 { 0 } else { 4 };
            let end = enc.len().saturating_sub(4);
            if end > start + 8 {
                out.push((
                    format!("{label}, offset {shift}"),
                    enc.as_bytes()[start..end].to_vec(),
                ));
            }
        }
    }
    out
}

/// A fresh random root key, base64.
pub fn random_root_key() -> String {
    use base64::Engine as _;
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// PostgreSQL for cluster tests: the test database's URL (`KINKO_TEST_POSTGRES_URL`), or `None`
/// after printing why the caller skips.
pub fn postgres_url(what: &str) -> Option<String> {
    kinko_store_postgres::scratch::test_url(what)
}

/// A connection of the test's own to the database `url` names, to look at or change what the
/// nodes stored (tables of a cluster's schema are named `"SCHEMA".table`, see [`Cluster::schema`]).
pub async fn connect_db(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    client
}

/// Several `kinko server` nodes on one PostgreSQL scratch schema (dropped with the cluster), with
/// the same root key (in `KINKO_ROOT_KEY`) and management account.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub root: Creds,
    pub account_id: String,
    pub root_key: String,
    /// The `--store` URL every node uses.
    pub store_url: String,
    dirs: Vec<tempfile::TempDir>,
    schema: kinko_store_postgres::scratch::ScratchSchema,
}

/// Connections each node's pool opens at most: PostgreSQL's `max_connections` is shared by every
/// test running at once.
pub const NODE_POOL: usize = 4;

impl Cluster {
    /// Starts `n` nodes at once on a new scratch schema of the database `url` names (they race to
    /// create the management account, as nodes started together do), each with `extra` flags.
    pub fn start(url: &str, n: usize, extra: &[&str]) -> Cluster {
        let schema = kinko_store_postgres::scratch::ScratchSchema::new(url);
        let store_url = schema.url(NODE_POOL);
        Cluster::start_on(schema, store_url, n, extra)
    }

    /// As [`Cluster::start`], with the nodes reaching the schema through `store_url` (a proxy, or
    /// another server), which must lead to `schema`.
    pub fn start_on(
        schema: kinko_store_postgres::scratch::ScratchSchema,
        store_url: String,
        n: usize,
        extra: &[&str],
    ) -> Cluster {
        let account_id = "123456789012".to_owned();
        let root = Creds::new(
            "AKIACLUSTERROOT00001",
            "cluster-test-root-secret-access-key-00001",
        );
        let root_key = random_root_key();
        let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().expect("tempdir")).collect();
        let launches: Vec<Launch> = dirs
            .iter()
            .map(|d| {
                let mut l = Launch::new(d.path())
                    .arg("--store")
                    .arg(store_url.clone())
                    .env("KINKO_ROOT_KEY", root_key.clone())
                    .env("KINKO_ACCOUNT_ID", account_id.clone())
                    .env("KINKO_ROOT_ACCESS_KEY_ID", root.access_key_id.clone())
                    .env("KINKO_ROOT_SECRET_ACCESS_KEY", root.secret_access_key.clone());
                for a in extra {
                    l = l.arg(*a);
                }
                l
            })
            .collect();
        let starting: Vec<_> = launches
            .into_iter()
            .map(|l| std::thread::spawn(move || Node::start(&l)))
            .collect();
        let nodes = starting
            .into_iter()
            .map(|t| t.join().expect("a node failed to start"))
            .collect();
        Cluster {
            nodes,
            root,
            account_id,
            root_key,
            store_url,
            dirs,
            schema,
        }
    }

    /// Root's clients on every node.
    pub fn root_clients(&self) -> Vec<Clients> {
        self.nodes.iter().map(|n| n.clients(&self.root)).collect()
    }

    /// Each node's clients with `creds`.
    pub fn clients(&self, creds: &Creds) -> Vec<Clients> {
        self.nodes.iter().map(|n| n.clients(creds)).collect()
    }

    /// Starts one more node like the others (a data dir of its own), reaching the database
    /// through `store_url` (a proxy in front of it); its index in `nodes`.
    pub fn add_node(&mut self, store_url: &str) -> usize {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut launch = self.nodes[0].launch.clone();
        launch.data_dir = dir.path().to_owned();
        let at = launch
            .args
            .iter()
            .position(|a| a == "--store")
            .expect("a cluster's nodes have --store");
        launch.args[at + 1] = store_url.to_owned();
        self.dirs.push(dir);
        self.nodes.push(Node::start(&launch));
        self.nodes.len() - 1
    }

    /// Starts node `i` again (after a kill) with the same launch; its clients change address.
    pub fn restart(&mut self, i: usize) {
        let launch = self.nodes[i].launch.clone();
        self.nodes[i].kill();
        self.nodes[i] = Node::start(&launch);
    }

    pub fn schema(&self) -> &str {
        self.schema.name()
    }

    /// Every node's stderr, for failure messages.
    pub fn stderr(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("--- node {i} ({}):\n{}", n.addr, n.stderr()))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The nodes go before their schema.
        for n in &mut self.nodes {
            n.kill();
        }
    }
}
