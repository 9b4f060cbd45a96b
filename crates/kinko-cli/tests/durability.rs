//! Crash durability of the `kinko` binary.
//!
//! Concurrent CreateSecret + PutSecretValue load through the AWS SDK; the server is SIGKILLed in
//! the middle of it, restarted on the same data dir, and checked against every acknowledged write:
//!
//! - every secret whose CreateSecret was acknowledged (HTTP 200) exists;
//! - AWSCURRENT holds the last acknowledged value, or the one write to that secret that was in
//!   flight at the kill (which may or may not have landed; nothing else is allowed);
//! - exactly one version carries AWSCURRENT, AWSPREVIOUS is on the version before it, every
//!   acknowledged version is still there with its value;
//! - ListSecrets lists exactly the secrets that exist.
//!
//! Three kill/restart cycles run on one data dir, each checking everything written so far. Another
//! test stops the server with SIGTERM (under load and idle): it exits with status 0 and a restart
//! sees everything.
//!
//! Each load task owns its secrets and sends one request at a time, so per secret at most one
//! write is ever in flight, and its outcome is the only uncertainty a kill leaves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::error::SdkError;

const ACCOUNT_ID: &str = "210987654321";
const ACCESS_KEY_ID: &str = "AKIADURABILITYTEST01";
const SECRET_ACCESS_KEY: &str = "durability-test-secret-access-key-000001";
const REGION: &str = "us-east-1";
/// Concurrent load tasks.
const TASKS: usize = 16;
/// Kill/restart cycles on one data dir.
const CYCLES: usize = 3;
/// Bounds on every loop.
const MAX_OPS_PER_TASK: usize = 100_000;
const START_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// A secret takes at most this many PutSecretValue calls (AWS keeps 100 young versions).
const MAX_PUTS_PER_SECRET: usize = 40;

// ---------------------------------------------------------------------------------------------
// The server process.

struct Server {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Starts `kinko server` on `data_dir` with the root credentials in the environment and waits
    /// for its listening line.
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kinko"))
            .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("KINKO_ROOT_KEY")
            .env("KINKO_ACCOUNT_ID", ACCOUNT_ID)
            .env("KINKO_ROOT_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("KINKO_ROOT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("KINKO_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kinko");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.extend_from_slice(&buf[..n]);
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("kinko listening on http://") {
                        break rest.trim().to_owned();
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait();
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "kinko did not print its listening line ({e:?}, exit {status:?}); stderr:\n{}",
                        String::from_utf8_lossy(&stderr.lock().map(|s| s.clone()).unwrap_or_default())
                    );
                }
            }
        };
        Server { child, addr, stderr }
    }

    fn client(&self) -> Client {
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://{}", self.addr))
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "durability-test",
            ))
            // One attempt per call: an acknowledged write is exactly one 200 response.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .build();
        Client::from_conf(conf)
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().map(|s| s.clone()).unwrap_or_default()).into_owned()
    }

    /// SIGKILL.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL kinko");
        self.child.wait().expect("reap kinko");
    }

    /// SIGTERM, then waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
        self.wait_exit()
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "kinko did not exit within {EXIT_TIMEOUT:?} of SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the client knows about each secret.

#[derive(Debug, Clone, PartialEq)]
enum WriteKind {
    Create,
    Put,
}

#[derive(Debug, Clone)]
struct Write {
    kind: WriteKind,
    version_id: String,
    value: String,
}

#[derive(Debug, Clone, Default)]
struct Tracked {
    /// The load task that writes this secret.
    owner: usize,
    /// CreateSecret was acknowledged (or the secret was seen on the server after a restart).
    exists: bool,
    /// Writes that landed, in order: acknowledged, or seen on the server after a restart.
    landed: Vec<Write>,
    /// The one write whose outcome is unknown: sent, no answer before the server died.
    in_flight: Option<Write>,
}

type Model = Arc<Mutex<BTreeMap<String, Tracked>>>;

struct Load {
    model: Model,
    acked: AtomicUsize,
    stop: AtomicBool,
    /// Set just before the server is stopped: errors after it are expected.
    stopping: AtomicBool,
    /// Errors from before the stop: each is a failure.
    unexpected: Mutex<Vec<String>>,
}

/// A small deterministic PRNG (xorshift64*), enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One load task: creates secrets and puts new values into them, one request at a time, until
/// told to stop or a request fails.
async fn load_task(client: Client, load: Arc<Load>, task: usize, round: usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((task as u64 + 1) << 20) ^ (round as u64 + 1));
    let mut mine: Vec<String> = lock(&load.model)
        .iter()
        .filter(|(_, t)| t.owner == task && t.exists)
        .map(|(n, _)| n.clone())
        .collect();
    for op in 0..MAX_OPS_PER_TASK {
        if load.stop.load(Ordering::SeqCst) {
            return;
        }
        let put_target = if mine.is_empty() || rng.below(3) == 0 {
            None
        } else {
            let name = mine[rng.below(mine.len())].clone();
            let puts = lock(&load.model)
                .get(&name)
                .map(|t| t.landed.iter().filter(|w| w.kind == WriteKind::Put).count())
                .unwrap_or(0);
            (puts < MAX_PUTS_PER_SECRET).then_some(name)
        };
        let version_id = uuid::Uuid::new_v4().to_string();
        let (name, kind) = match put_target {
            Some(name) => (name, WriteKind::Put),
            None => (format!("durability/r{round}/t{task}/s{op}"), WriteKind::Create),
        };
        let value = format!("value {name} op {op} {}", uuid::Uuid::new_v4());
        let write = Write {
            kind: kind.clone(),
            version_id: version_id.clone(),
            value: value.clone(),
        };
        {
            let mut model = lock(&load.model);
            let t = model.entry(name.clone()).or_insert_with(|| Tracked {
                owner: task,
                ..Tracked::default()
            });
            assert!(t.in_flight.is_none(), "two writes in flight to {name}");
            t.in_flight = Some(write.clone());
        }
        let result = match kind {
            WriteKind::Create => client
                .create_secret()
                .name(&name)
                .client_request_token(&version_id)
                .secret_string(&value)
                .send()
                .await
                .map(|o| o.version_id().map(str::to_owned))
                .map_err(|e| (matches!(e, SdkError::ServiceError(_)), format!("{e:?}"))),
            WriteKind::Put => client
                .put_secret_value()
                .secret_id(&name)
                .client_request_token(&version_id)
                .secret_string(&value)
                .send()
                .await
                .map(|o| o.version_id().map(str::to_owned))
                .map_err(|e| (matches!(e, SdkError::ServiceError(_)), format!("{e:?}"))),
        };
        match result {
            Ok(answered_version) => {
                {
                    let mut model = lock(&load.model);
                    let t = model.get_mut(&name).expect("tracked");
                    t.in_flight = None;
                    t.exists = true;
                    t.landed.push(write);
                }
                if answered_version.as_deref() != Some(version_id.as_str()) {
                    lock(&load.unexpected).push(format!(
                        "{kind:?} {name}: answered VersionId {answered_version:?}, sent token {version_id}"
                    ));
                }
                if kind == WriteKind::Create {
                    mine.push(name);
                }
                load.acked.fetch_add(1, Ordering::SeqCst);
            }
            Err((service_error, detail)) => {
                if !load.stopping.load(Ordering::SeqCst) {
                    lock(&load.unexpected).push(format!("{kind:?} {name} failed before any stop: {detail}"));
                }
                if service_error {
                    // The server answered with an error: the write did not happen.
                    let mut model = lock(&load.model);
                    if let Some(t) = model.get_mut(&name) {
                        t.in_flight = None;
                    }
                }
                return;
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Kill,
    Term,
}

/// Runs the load against `server` and stops the server in the middle of it: after `after`, or
/// after `max_acked` acknowledged writes, whichever comes first (but never before a first
/// acknowledged write per task on average). Returns the number of acknowledged writes.
async fn load_then_stop(
    server: &mut Server,
    model: &Model,
    round: usize,
    after: Duration,
    max_acked: usize,
    stop: Stop,
) -> usize {
    let load = Arc::new(Load {
        model: model.clone(),
        acked: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        unexpected: Mutex::new(Vec::new()),
    });
    let client = server.client();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| tokio::spawn(load_task(client.clone(), load.clone(), t, round)))
        .collect();
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let acked = load.acked.load(Ordering::SeqCst);
        if acked >= max_acked || (started.elapsed() >= after && acked >= TASKS) {
            break;
        }
        if started.elapsed() > LOAD_TIMEOUT {
            load.stop.store(true, Ordering::SeqCst);
            panic!(
                "load made too little progress: {acked} acknowledged writes in {LOAD_TIMEOUT:?}; errors: {:?}",
                lock(&load.unexpected)
            );
        }
    }
    let finished_early = tasks.iter().filter(|t| t.is_finished()).count();
    load.stopping.store(true, Ordering::SeqCst);
    match stop {
        Stop::Kill => server.kill(),
        Stop::Term => {
            let status = server.terminate();
            assert!(
                status.success(),
                "SIGTERM under load: kinko exited with {status}; stderr:\n{}",
                server.stderr()
            );
        }
    }
    load.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        tokio::time::timeout(LOAD_TIMEOUT, t)
            .await
            .expect("load task ends after the server stopped")
            .expect("load task does not panic");
    }
    let unexpected = lock(&load.unexpected).clone();
    assert!(
        unexpected.is_empty(),
        "{} requests failed before the server was stopped, e.g. {:#?}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(10)]
    );
    assert_eq!(
        finished_early, 0,
        "load tasks ended before the server was stopped"
    );
    load.acked.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------------------------------------
// Checking a restarted server against the model.

/// What the server has for one secret.
struct Observed {
    current: (String, String),
    /// version id -> staging labels, all versions.
    versions: HashMap<String, Vec<String>>,
}

async fn observe(client: &Client, name: &str) -> Result<Option<Observed>, String> {
    match client.describe_secret().secret_id(name).send().await {
        Ok(_) => {}
        Err(e) => {
            let not_found = e
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception());
            return if not_found {
                Ok(None)
            } else {
                Err(format!("DescribeSecret {name}: {e:?}"))
            };
        }
    }
    let got = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| format!("GetSecretValue {name}: {e:?}"))?;
    let current = (
        got.version_id().unwrap_or_default().to_owned(),
        got.secret_string().unwrap_or_default().to_owned(),
    );
    let mut versions = HashMap::new();
    let mut token: Option<String> = None;
    for _page in 0..100 {
        let out = client
            .list_secret_version_ids()
            .secret_id(name)
            .include_deprecated(true)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| format!("ListSecretVersionIds {name}: {e:?}"))?;
        for v in out.versions() {
            let previous = versions.insert(
                v.version_id().unwrap_or_default().to_owned(),
                v.version_stages().to_vec(),
            );
            if previous.is_some() {
                return Err(format!("ListSecretVersionIds {name}: version listed twice"));
            }
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if token.is_some() {
        return Err(format!("ListSecretVersionIds {name}: more than 100 pages"));
    }
    Ok(Some(Observed { current, versions }))
}

/// Checks one secret against what the client knows; returns the writes that landed.
async fn check_secret(client: &Client, name: &str, t: &Tracked) -> Result<Option<Vec<Write>>, String> {
    let Some(seen) = observe(client, name).await? else {
        let create_in_flight = t.in_flight.as_ref().is_some_and(|w| w.kind == WriteKind::Create);
        if !t.exists && create_in_flight {
            return Ok(None); // the CreateSecret in flight at the kill did not land: fine
        }
        return Err(format!(
            "{name}: acknowledged secret is gone (acknowledged writes: {})",
            t.landed.len()
        ));
    };
    // The write in flight may have landed; nothing else may have.
    let mut landed = t.landed.clone();
    let current_is = |w: &Write| seen.current == (w.version_id.clone(), w.value.clone());
    match (&t.in_flight, t.landed.last()) {
        (Some(w), _) if current_is(w) => landed.push(w.clone()),
        (_, Some(last)) if current_is(last) => {}
        (in_flight, last) => {
            return Err(format!(
                "{name}: AWSCURRENT is {:?}, expected the last acknowledged write {:?} or the one in flight {:?}",
                seen.current,
                last.map(|w| (&w.version_id, &w.value)),
                in_flight.as_ref().map(|w| (&w.version_id, &w.value)),
            ));
        }
    }
    if !t.exists && landed.first().is_none_or(|w| w.kind != WriteKind::Create) {
        return Err(format!("{name}: exists, but its CreateSecret never landed"));
    }
    let current: Vec<_> = seen
        .versions
        .iter()
        .filter(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
        .map(|(id, _)| id.clone())
        .collect();
    if current != [seen.current.0.clone()] {
        return Err(format!(
            "{name}: versions with AWSCURRENT: {current:?} (GetSecretValue says {})",
            seen.current.0
        ));
    }
    let previous: Vec<_> = seen
        .versions
        .iter()
        .filter(|(_, stages)| stages.iter().any(|s| s == "AWSPREVIOUS"))
        .map(|(id, _)| id.clone())
        .collect();
    let expected_previous: Vec<String> = landed
        .len()
        .checked_sub(2)
        .map(|i| landed[i].version_id.clone())
        .into_iter()
        .collect();
    if previous != expected_previous {
        return Err(format!(
            "{name}: AWSPREVIOUS on {previous:?}, expected {expected_previous:?}"
        ));
    }
    for w in &landed {
        if !seen.versions.contains_key(&w.version_id) {
            return Err(format!("{name}: acknowledged version {} is gone", w.version_id));
        }
    }
    // Every version that exists is one the client wrote.
    let known: BTreeSet<&str> = landed.iter().map(|w| w.version_id.as_str()).collect();
    for id in seen.versions.keys() {
        if !known.contains(id.as_str()) {
            return Err(format!("{name}: unknown version {id}"));
        }
    }
    // Older acknowledged values are intact too.
    for w in &landed[..landed.len().saturating_sub(1)] {
        let got = client
            .get_secret_value()
            .secret_id(name)
            .version_id(&w.version_id)
            .send()
            .await
            .map_err(|e| format!("GetSecretValue {name} {}: {e:?}", w.version_id))?;
        if got.secret_string() != Some(w.value.as_str()) {
            return Err(format!(
                "{name}: version {} holds {:?}, expected {:?}",
                w.version_id,
                got.secret_string(),
                w.value
            ));
        }
    }
    Ok(Some(landed))
}

async fn list_all_names(client: &Client) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let mut token: Option<String> = None;
    for _page in 0..10_000 {
        let out = client
            .list_secrets()
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| format!("ListSecrets: {e:?}"))?;
        for s in out.secret_list() {
            let name = s.name().unwrap_or_default().to_owned();
            if !names.insert(name.clone()) {
                return Err(format!("ListSecrets lists {name} twice"));
            }
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(names);
        }
    }
    Err("ListSecrets: more than 10,000 pages".into())
}

/// Checks everything the client knows against the restarted server, then folds what was seen
/// into the model (in-flight writes that landed become landed ones; those that didn't vanish).
/// Returns how many writes in flight at the stop landed.
async fn verify_and_reconcile(server: &Server, model: &Model, label: &str) -> usize {
    let client = server.client();
    let snapshot: Vec<(String, Tracked)> = lock(model).iter().map(|(n, t)| (n.clone(), t.clone())).collect();
    let chunks: Vec<Vec<(String, Tracked)>> = (0..TASKS)
        .map(|i| snapshot.iter().skip(i).step_by(TASKS).cloned().collect())
        .collect();
    let mut checks = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        checks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (name, t) in chunk {
                let r = check_secret(&client, &name, &t).await;
                out.push((name, r));
            }
            out
        }));
    }
    let mut failures = Vec::new();
    let mut results = Vec::new();
    for c in checks {
        results.extend(
            tokio::time::timeout(LOAD_TIMEOUT, c)
                .await
                .expect("verification finishes")
                .expect("verification task does not panic"),
        );
    }
    let (mut in_flight_landed, mut in_flight_lost) = (0, 0);
    {
        let mut model = lock(model);
        for (name, r) in results {
            match r {
                Err(e) => failures.push(e),
                Ok(None) => {
                    in_flight_lost += 1;
                    model.remove(&name);
                }
                Ok(Some(landed)) => {
                    let t = model.get_mut(&name).expect("tracked");
                    if t.in_flight.is_some() {
                        if landed.len() > t.landed.len() {
                            in_flight_landed += 1;
                        } else {
                            in_flight_lost += 1;
                        }
                    }
                    t.exists = true;
                    t.landed = landed;
                    t.in_flight = None;
                }
            }
        }
    }
    match list_all_names(&client).await {
        Err(e) => failures.push(e),
        Ok(listed) => {
            let expected: BTreeSet<String> = lock(model)
                .iter()
                .filter(|(_, t)| t.exists)
                .map(|(n, _)| n.clone())
                .collect();
            let missing: Vec<_> = expected.difference(&listed).take(10).collect();
            let extra: Vec<_> = listed.difference(&expected).take(10).collect();
            if !missing.is_empty() || !extra.is_empty() {
                failures.push(format!(
                    "ListSecrets: {} listed, {} expected; missing e.g. {missing:?}, unexpected e.g. {extra:?}",
                    listed.len(),
                    expected.len()
                ));
            }
        }
    }
    eprintln!(
        "{label}: writes in flight at the stop that landed: {in_flight_landed}, that did not: {in_flight_lost}"
    );
    assert!(
        failures.is_empty(),
        "{} problems after restart, e.g. {:#?}\nserver stderr:\n{}",
        failures.len(),
        &failures[..failures.len().min(20)],
        server.stderr()
    );
    in_flight_landed
}

fn totals(model: &Model) -> (usize, usize) {
    let m = lock(model);
    (m.len(), m.values().map(|t| t.landed.len()).sum())
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let model: Model = Arc::default();
    for cycle in 0..CYCLES {
        let mut server = Server::start(&data);
        if cycle > 0 {
            verify_and_reconcile(&server, &model, &format!("after SIGKILL {cycle}")).await;
        }
        // Stop at a different point each cycle: 1.0 s, 1.4 s, 1.8 s into the load.
        let after = Duration::from_millis(1_000 + 400 * cycle as u64);
        let acked = load_then_stop(&mut server, &model, cycle, after, 5_000, Stop::Kill).await;
        let (secrets, writes) = totals(&model);
        eprintln!(
            "cycle {cycle}: {acked} writes acknowledged before SIGKILL; {secrets} secrets, {writes} writes so far"
        );
    }
    let server = Server::start(&data);
    verify_and_reconcile(&server, &model, &format!("after SIGKILL {CYCLES}")).await;
    let (secrets, writes) = totals(&model);
    assert!(secrets >= TASKS, "the load created only {secrets} secrets");
    assert!(writes > secrets, "the load put no new values ({writes} writes)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_exits_cleanly_and_keeps_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let model: Model = Arc::default();

    // Under load: in-flight requests finish or fail, the process exits 0.
    let mut server = Server::start(&data);
    load_then_stop(
        &mut server,
        &model,
        0,
        Duration::from_millis(800),
        5_000,
        Stop::Term,
    )
    .await;
    drop(server);
    let mut server = Server::start(&data);
    // A graceful stop answers every request it carries out: a write that landed was acknowledged.
    let landed = verify_and_reconcile(&server, &model, "after SIGTERM under load").await;
    assert_eq!(
        landed, 0,
        "writes that failed at the client during the graceful shutdown landed anyway (their answers were lost)"
    );

    // Idle, with an SDK client's keep-alive connection still open.
    let open = server.client();
    open.list_secrets().send().await.expect("ListSecrets");
    let status = server.terminate();
    drop(open);
    assert!(
        status.success(),
        "idle SIGTERM: kinko exited with {status}:\n{}",
        server.stderr()
    );
    drop(server);
    let server = Server::start(&data);
    verify_and_reconcile(&server, &model, "after idle SIGTERM").await;

    // Right after start, before any request.
    let mut fresh = server;
    let status = fresh.terminate();
    assert!(
        status.success(),
        "SIGTERM right after start: exit {status}:\n{}",
        fresh.stderr()
    );
    let server = Server::start(&data);
    verify_and_reconcile(&server, &model, "after SIGTERM right after start").await;
}
