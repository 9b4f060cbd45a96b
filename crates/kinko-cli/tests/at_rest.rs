//! Encryption at rest and the root key, through the `kinko` binary.
//!
//! - Secret values (string and binary) and the root secret access key never appear in the data
//!   dir's files (kinko.db, its WAL while the server runs, the audit log, anything else but the
//!   root key file), raw or base64- or hex-encoded; nor in the server's output.
//! - A root key kept outside the data dir (`--root-key-file`, `KINKO_ROOT_KEY`) leaves no
//!   root.key in it; a restart with the key missing or wrong fails with a clear message and
//!   changes nothing on disk; with the right key the data is readable.
//! - A new data dir gets root.key and root-credentials with mode 0600 and AWS-shaped generated
//!   credentials, shown once.
//! - `--dev` writes nothing to the working directory.
//! - Start-up on an empty data dir takes well under 2 s.

mod harness;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const REGION: &str = "us-east-1";
const ACCOUNT_ID: &str = "345678901234";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Running the binary.

/// How to run `kinko server`: extra arguments, environment, working directory.
#[derive(Clone, Default)]
struct Launch {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
}

impl Launch {
    fn data_dir(dir: &Path) -> Launch {
        Launch {
            args: vec!["--data-dir".into(), dir.into()],
            ..Launch::default()
        }
    }

    fn arg(mut self, a: impl Into<OsString>) -> Launch {
        self.args.push(a.into());
        self
    }

    fn env(mut self, k: &str, v: &str) -> Launch {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinko"));
        cmd.args(["server", "--listen", "127.0.0.1:0"]).args(&self.args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KINKO_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// Output collected from a child's pipes by background threads.
#[derive(Clone, Default)]
struct Output {
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Output {
    /// Drains the child's pipes; returns a channel of stdout lines as they come.
    fn collect(child: &mut Child) -> (Output, mpsc::Receiver<String>) {
        let out = Output::default();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let lines = out.stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lock(&lines).push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let sink = out.stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                lock(&sink).extend_from_slice(&buf[..n]);
            }
        });
        (out, rx)
    }

    fn stdout(&self) -> String {
        lock(&self.stdout).join("\n")
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Server {
    child: Child,
    addr: String,
    output: Output,
    /// From spawn to the listening line.
    startup: Duration,
}

impl Server {
    fn start(launch: &Launch) -> Server {
        let began = Instant::now();
        let mut child = launch.command().spawn().expect("spawn kinko");
        let (output, rx) = Output::collect(&mut child);
        let deadline = began + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("kinko listening on http://") {
                        return Server {
                            child,
                            addr: rest.trim().to_owned(),
                            output,
                            startup: began.elapsed(),
                        };
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait();
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "kinko did not print its listening line ({e:?}, exit {status:?});\nstdout:\n{}\nstderr:\n{}",
                        output.stdout(),
                        output.stderr()
                    );
                }
            }
        }
    }

    fn client(&self, access_key_id: &str, secret_access_key: &str) -> Client {
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://{}", self.addr))
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                access_key_id,
                secret_access_key,
                None,
                None,
                "at-rest-test",
            ))
            .build();
        Client::from_conf(conf)
    }

    /// SIGTERM; asserts a clean exit (status 0) within the bound.
    fn stop(mut self) -> Output {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
        let status = wait_bounded(&mut self.child);
        // Let the pipe readers see the end of the output.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            status.success(),
            "kinko exited with {status} after SIGTERM; stderr:\n{}",
            self.output.stderr()
        );
        self.output.clone()
    }
}

impl Server {
    /// SIGKILL: a crash.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL kinko");
        self.child.wait().expect("reap kinko");
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

fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + EXIT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kinko did not exit within {EXIT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a start that must fail: returns its exit status and output.
fn start_failing(launch: &Launch) -> (ExitStatus, Output) {
    let mut child = launch.command().spawn().expect("spawn kinko");
    let (output, rx) = Output::collect(&mut child);
    let deadline = Instant::now() + EXIT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            std::thread::sleep(Duration::from_millis(50));
            return (status, output);
        }
        if rx.try_recv().is_ok_and(|l| l.starts_with("kinko listening on")) || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kinko started (or hung) where it must refuse to start;\nstdout:\n{}\nstderr:\n{}",
                output.stdout(),
                output.stderr()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Looking at the data dir.

/// Every regular file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                stack.push(path);
            } else if !meta.file_type().is_socket() {
                // A running server's admin socket (kinko.sock) holds nothing at rest.
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn names(dir: &Path) -> Vec<String> {
    files(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// Content, modification time and mode of every file: what "nothing changed" compares.
type DirState = BTreeMap<String, (Vec<u8>, SystemTime, u32)>;

fn dir_state(dir: &Path) -> DirState {
    files(dir)
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).expect("metadata");
            let name = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            let content = std::fs::read(&p).expect("read file");
            (
                name,
                (
                    content,
                    meta.modified().expect("mtime"),
                    meta.permissions().mode(),
                ),
            )
        })
        .collect()
}

/// Compares two [`dir_state`]s. kinko.db and every other file must keep content, modification
/// time and mode, with two exceptions owned by SQLite: `kinko.db-shm` is SQLite's shared-memory
/// index, rewritten by any connection that opens the database (even just to read), so it is not
/// compared; `kinko.db-wal` must keep its content (a checkpoint or a write would change it), but
/// its modification time is not compared (closing a connection may truncate an empty WAL again).
fn assert_unchanged(before: &DirState, after: &DirState, what: &str) {
    let names = |s: &DirState| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(before),
        names(after),
        "{what}: the set of files in the data dir changed"
    );
    for (name, (content, mtime, mode)) in before {
        if name == "kinko.db-shm" {
            continue;
        }
        let (c2, m2, mo2) = &after[name];
        assert!(
            content == c2,
            "{what}: {name} changed content ({} bytes before, {} after)",
            content.len(),
            c2.len()
        );
        if name != "kinko.db-wal" {
            assert_eq!(mtime, m2, "{what}: {name} changed modification time");
        }
        assert_eq!(mode, mo2, "{what}: {name} changed mode");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Scans every file in `dir` except `skip` for every form of every secret.
fn assert_nowhere(dir: &Path, skip: &[&str], secrets: &[(&str, &[u8])], when: &str) {
    let mut found = Vec::new();
    let mut scanned = Vec::new();
    for path in files(dir) {
        let name = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let content = std::fs::read(&path).expect("read file");
        scanned.push(format!("{name} ({} bytes)", content.len()));
        for (label, secret) in secrets {
            for (form, needle) in harness::forms(secret) {
                if contains(&content, &needle) {
                    found.push(format!("{label} ({form}) in {name}"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "{when}: plaintext found on disk: {found:#?}\n(scanned {scanned:?})"
    );
}

/// Positive control for the scans: something stored in the clear by design (a secret's name) is
/// found, so the scans do read the files the data lives in.
fn assert_found_somewhere(dir: &Path, needle: &[u8], when: &str) {
    let found = files(dir)
        .iter()
        .any(|p| contains(&std::fs::read(p).expect("read file"), needle));
    assert!(
        found,
        "{when}: {:?} (stored in the clear) not found in any of {:?}: are the scans looking at the data?",
        String::from_utf8_lossy(needle),
        names(dir)
    );
}

fn assert_not_in_output(output: &Output, secrets: &[(&str, &[u8])], when: &str) {
    let text = format!("{}\n{}", output.stdout(), output.stderr());
    for (label, secret) in secrets {
        for (form, needle) in harness::forms(secret) {
            assert!(
                !contains(text.as_bytes(), &needle),
                "{when}: {label} ({form}) appears in the server's output"
            );
        }
    }
}

fn random_key_base64() -> String {
    let mut key = Vec::with_capacity(32);
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    STANDARD.encode(key)
}

fn marker() -> String {
    format!("kinko-plaintext-marker-{}", uuid::Uuid::new_v4())
}

async fn put_string(client: &Client, name: &str, value: &str) {
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .expect("PutSecretValue");
}

async fn current_string(client: &Client, name: &str) -> String {
    client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .expect("GetSecretValue")
        .secret_string()
        .expect("a string secret")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_and_root_secret_are_not_on_disk_in_plaintext() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let key_id = "AKIAATRESTTEST000001";
    let root_secret = format!("kinko-root-secret-marker-{}", uuid::Uuid::new_v4().simple());
    let launch = Launch::data_dir(&data)
        .env("KINKO_ACCOUNT_ID", ACCOUNT_ID)
        .env("KINKO_ROOT_ACCESS_KEY_ID", key_id)
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", &root_secret);
    let server = Server::start(&launch);
    let client = server.client(key_id, &root_secret);

    let (a, b, c, d, e, f, g) = (
        marker(),
        marker(),
        marker(),
        marker(),
        marker(),
        marker(),
        marker(),
    );
    let binary_1: Vec<u8> = [b"\x00\xff\xfe".as_slice(), c.as_bytes(), b"\x01\x80"].concat();
    let binary_2: Vec<u8> = [e.as_bytes(), b"\xc3\x28\x00"].concat();
    let big = format!("{g}{}", "x".repeat(40_000));
    let json_value = format!(r#"{{"username":"app","password":"{b}"}}"#);

    client
        .create_secret()
        .name("at-rest/string")
        .secret_string(&a)
        .send()
        .await
        .expect("CreateSecret string");
    client
        .create_secret()
        .name("at-rest/json")
        .secret_string(&json_value)
        .send()
        .await
        .expect("CreateSecret json");
    client
        .create_secret()
        .name("at-rest/binary")
        .secret_binary(Blob::new(binary_1.clone()))
        .send()
        .await
        .expect("CreateSecret binary");
    client
        .create_secret()
        .name("at-rest/big")
        .secret_string(&big)
        .send()
        .await
        .expect("CreateSecret big");
    put_string(&client, "at-rest/string", &d).await;
    client
        .put_secret_value()
        .secret_id("at-rest/binary")
        .secret_binary(Blob::new(binary_2.clone()))
        .send()
        .await
        .expect("PutSecretValue binary");
    client
        .update_secret()
        .secret_id("at-rest/json")
        .secret_string(&f)
        .send()
        .await
        .expect("UpdateSecret");

    // Everything reads back.
    assert_eq!(current_string(&client, "at-rest/string").await, d);
    assert_eq!(current_string(&client, "at-rest/json").await, f);
    assert_eq!(current_string(&client, "at-rest/big").await, big);
    let previous = client
        .get_secret_value()
        .secret_id("at-rest/string")
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("GetSecretValue AWSPREVIOUS");
    assert_eq!(previous.secret_string(), Some(a.as_str()));
    let json_previous = client
        .get_secret_value()
        .secret_id("at-rest/json")
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("GetSecretValue AWSPREVIOUS");
    assert_eq!(json_previous.secret_string(), Some(json_value.as_str()));
    let bin = client
        .get_secret_value()
        .secret_id("at-rest/binary")
        .send()
        .await
        .expect("GetSecretValue binary");
    assert_eq!(bin.secret_binary().map(Blob::as_ref), Some(binary_2.as_slice()));
    let bin_previous = client
        .get_secret_value()
        .secret_id("at-rest/binary")
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("GetSecretValue binary AWSPREVIOUS");
    assert_eq!(
        bin_previous.secret_binary().map(Blob::as_ref),
        Some(binary_1.as_slice())
    );

    let secrets: Vec<(&str, &[u8])> = vec![
        ("string value", a.as_bytes()),
        ("JSON value", b.as_bytes()),
        ("binary value", c.as_bytes()),
        ("whole binary value", &binary_1),
        ("string value v2", d.as_bytes()),
        ("binary value v2", e.as_bytes()),
        ("updated value", f.as_bytes()),
        ("big value", g.as_bytes()),
        ("root secret access key", root_secret.as_bytes()),
    ];
    let skip = ["root.key"];

    // While the server runs: the WAL holds the recent writes.
    let running_files = names(&data);
    assert!(
        !running_files.contains(&"root-credentials".to_owned()),
        "root-credentials was written although the credentials came from the environment"
    );
    let wal = data.join("kinko.db-wal");
    assert!(
        wal.exists() && std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "expected a non-empty WAL while the server runs; files: {running_files:?}"
    );
    assert!(
        running_files.contains(&"audit.log".to_owned()),
        "no audit.log: {running_files:?}"
    );
    assert_nowhere(&data, &skip, &secrets, "server running");
    assert_found_somewhere(&data, b"at-rest/binary", "server running");

    // After a graceful stop (the WAL is folded into kinko.db).
    let output = server.stop();
    assert!(data.join("kinko.db").exists());
    assert!(!data.join("root-credentials").exists());
    assert_nowhere(&data, &skip, &secrets, "after SIGTERM");
    assert_found_somewhere(&data, b"at-rest/binary", "after SIGTERM");
    assert_not_in_output(&output, &secrets, "first run");
    let audit = std::fs::read(data.join("audit.log")).expect("audit.log");
    assert!(
        contains(&audit, b"PutSecretValue") && contains(&audit, key_id.as_bytes()),
        "the audit log doesn't record the calls"
    );

    // And the data is still there.
    let server = Server::start(&launch);
    let client = server.client(key_id, &root_secret);
    assert_eq!(current_string(&client, "at-rest/string").await, d);
    assert_eq!(current_string(&client, "at-rest/big").await, big);
    let output = server.stop();
    assert_nowhere(&data, &skip, &secrets, "after the second run");
    assert_not_in_output(&output, &secrets, "second run");
}

/// Restarts that must fail, and leave the data dir exactly as it was.
fn assert_refused(data: &Path, launch: &Launch, expect_in_message: &str, what: &str) {
    let before = dir_state(data);
    let (status, output) = start_failing(launch);
    let stderr = output.stderr();
    assert!(!status.success(), "{what}: kinko exited with {status}");
    assert!(
        stderr.to_lowercase().contains(expect_in_message),
        "{what}: stderr doesn't say {expect_in_message:?}:\n{stderr}"
    );
    assert_unchanged(&before, &dir_state(data), what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_key_file_outside_the_data_dir() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).expect("keys dir");
    let key_file = keys.join("kinko-root.key");
    let (key_id, secret) = ("AKIAROOTKEYFILE00001", "root-key-file-test-secret");
    let base = Launch::data_dir(&data)
        .env("KINKO_ROOT_ACCESS_KEY_ID", key_id)
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", secret);
    let with_key = base.clone().arg("--root-key-file").arg(&key_file);

    let server = Server::start(&with_key);
    let client = server.client(key_id, secret);
    let value = marker();
    client
        .create_secret()
        .name("outside")
        .secret_string(&value)
        .send()
        .await
        .expect("CreateSecret");
    assert!(
        key_file.exists(),
        "the root key file was not created at --root-key-file"
    );
    assert_eq!(mode(&key_file), 0o600, "root key file mode");
    assert!(
        !data.join("root.key").exists(),
        "root.key in the data dir although --root-key-file is elsewhere: {:?}",
        names(&data)
    );
    server.stop();
    assert!(!data.join("root.key").exists());
    let key_text = std::fs::read_to_string(&key_file).expect("read key file");
    let key_bytes = STANDARD.decode(key_text.trim()).expect("key file is base64");
    assert_eq!(key_bytes.len(), 32, "root key length");
    assert_nowhere(
        &data,
        &[],
        &[
            ("secret value", value.as_bytes()),
            ("root key", &key_bytes),
            ("root key text", key_text.trim().as_bytes()),
        ],
        "root key outside",
    );

    // The key missing: the default place, and a path that doesn't exist.
    assert_refused(&data, &base, "root key", "restart without the root key");
    let nowhere = base.clone().arg("--root-key-file").arg(keys.join("absent.key"));
    assert_refused(&data, &nowhere, "root key", "restart with a missing key file");
    // A wrong key, from the environment and from a file.
    let wrong = base.clone().env("KINKO_ROOT_KEY", &random_key_base64());
    assert_refused(
        &data,
        &wrong,
        "does not match",
        "restart with a wrong KINKO_ROOT_KEY",
    );
    let wrong_file = keys.join("wrong.key");
    std::fs::write(&wrong_file, format!("{}\n", random_key_base64())).expect("write key");
    let wrong_from_file = base.clone().arg("--root-key-file").arg(&wrong_file);
    assert_refused(
        &data,
        &wrong_from_file,
        "does not match",
        "restart with a wrong key file",
    );
    // The right key given as KINKO_ROOT_KEY instead of the file works as well.
    let same_key_env = base.clone().env("KINKO_ROOT_KEY", key_text.trim());

    for launch in [&with_key, &same_key_env] {
        let server = Server::start(launch);
        let client = server.client(key_id, secret);
        assert_eq!(current_string(&client, "outside").await, value);
        server.stop();
    }
    assert!(!data.join("root.key").exists());
}

/// After a crash the WAL still holds the last writes. A start refused for a missing or wrong root
/// key must leave it (and kinko.db) alone: the server promises "nothing was changed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_restart_after_a_crash_changes_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let key_file = tmp.path().join("kinko-root.key");
    let (key_id, secret) = ("AKIACRASHEDRESTART01", "crashed-restart-test-secret");
    let base = Launch::data_dir(&data)
        .env("KINKO_ROOT_ACCESS_KEY_ID", key_id)
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", secret);
    let with_key = base.clone().arg("--root-key-file").arg(&key_file);

    let server = Server::start(&with_key);
    let client = server.client(key_id, secret);
    let value = marker();
    client
        .create_secret()
        .name("crashed")
        .secret_string(&value)
        .send()
        .await
        .expect("CreateSecret");
    server.kill();
    let wal = std::fs::metadata(data.join("kinko.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        wal > 0,
        "expected a non-empty WAL after SIGKILL: {:?}",
        names(&data)
    );

    assert_refused(
        &data,
        &base,
        "root key",
        "restart without the root key after a crash",
    );
    let wrong = base.clone().env("KINKO_ROOT_KEY", &random_key_base64());
    assert_refused(
        &data,
        &wrong,
        "does not match",
        "restart with a wrong root key after a crash",
    );

    let server = Server::start(&with_key);
    let client = server.client(key_id, secret);
    assert_eq!(current_string(&client, "crashed").await, value);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_key_from_the_environment() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let root_key = random_key_base64();
    let (key_id, secret) = ("AKIAROOTKEYENV000001", "root-key-env-test-secret");
    let base = Launch::data_dir(&data)
        .env("KINKO_ROOT_ACCESS_KEY_ID", key_id)
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", secret);
    let with_key = base.clone().env("KINKO_ROOT_KEY", &root_key);

    let server = Server::start(&with_key);
    let client = server.client(key_id, secret);
    let value = marker();
    client
        .create_secret()
        .name("env-key")
        .secret_string(&value)
        .send()
        .await
        .expect("CreateSecret");
    server.stop();
    assert!(
        !data.join("root.key").exists(),
        "root.key written although KINKO_ROOT_KEY was given: {:?}",
        names(&data)
    );
    let key_bytes = STANDARD.decode(&root_key).expect("base64");
    assert_nowhere(
        &data,
        &[],
        &[
            ("secret value", value.as_bytes()),
            ("root key", &key_bytes),
            ("root key text", root_key.as_bytes()),
        ],
        "KINKO_ROOT_KEY",
    );

    assert_refused(&data, &base, "root key", "restart without KINKO_ROOT_KEY");
    let wrong = base.clone().env("KINKO_ROOT_KEY", &random_key_base64());
    assert_refused(
        &data,
        &wrong,
        "does not match",
        "restart with a wrong KINKO_ROOT_KEY",
    );

    let server = Server::start(&with_key);
    let client = server.client(key_id, secret);
    assert_eq!(current_string(&client, "env-key").await, value);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_data_dir_generates_private_root_key_and_credentials() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("fresh").join("data");
    let launch = Launch::data_dir(&data).env("KINKO_ACCOUNT_ID", ACCOUNT_ID);
    let server = Server::start(&launch);

    let stdout = server.output.stdout();
    let shown = |var: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{var}=")).map(str::to_owned))
            .unwrap_or_else(|| panic!("{var} not shown on first start:\n{stdout}"))
    };
    let key_id = shown("AWS_ACCESS_KEY_ID");
    let secret = shown("AWS_SECRET_ACCESS_KEY");
    assert!(key_id.starts_with("AKIA"), "access key id {key_id:?}");
    assert_eq!(key_id.len(), 20, "access key id {key_id:?}");
    assert!(
        key_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "access key id {key_id:?}"
    );
    assert_eq!(secret.len(), 40, "secret access key length");
    assert!(secret.bytes().all(|b| b.is_ascii_graphic()));

    let creds_file = data.join("root-credentials");
    let key_file = data.join("root.key");
    assert_eq!(mode(&creds_file), 0o600, "root-credentials mode");
    assert_eq!(mode(&key_file), 0o600, "root.key mode");
    assert_eq!(mode(&data), 0o700, "data dir mode");
    let creds = std::fs::read_to_string(&creds_file).expect("read root-credentials");
    assert!(
        creds.contains(&format!("aws_access_key_id = {key_id}"))
            && creds.contains(&format!("aws_secret_access_key = {secret}")),
        "root-credentials doesn't hold the shown credentials"
    );

    let client = server.client(&key_id, &secret);
    let value = marker();
    client
        .create_secret()
        .name("generated")
        .secret_string(&value)
        .send()
        .await
        .expect("CreateSecret with the generated credentials");
    let secrets: Vec<(&str, &[u8])> = vec![
        ("generated secret access key", secret.as_bytes()),
        ("secret value", value.as_bytes()),
    ];
    assert_nowhere(&data, &["root.key", "root-credentials"], &secrets, "new data dir");
    for path in files(&data) {
        assert_eq!(
            mode(&path) & 0o077,
            0,
            "{} is readable by others (mode {:o})",
            path.display(),
            mode(&path)
        );
    }
    server.stop();

    // Shown once: a restart doesn't print the secret again, and the credentials still work.
    let server = Server::start(&launch);
    let client = server.client(&key_id, &secret);
    assert_eq!(current_string(&client, "generated").await, value);
    let output = server.stop();
    assert!(
        !output.stdout().contains(&secret) && !output.stderr().contains(&secret),
        "the secret access key was shown again on restart"
    );
    assert_eq!(
        std::fs::read_to_string(&creds_file).expect("read root-credentials"),
        creds,
        "root-credentials changed on restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_writes_nothing_to_the_working_directory() {
    let cwd = tempfile::tempdir().expect("temp dir");
    let launch = Launch {
        args: vec!["--dev".into()],
        cwd: Some(cwd.path().to_path_buf()),
        ..Launch::default()
    };
    let server = Server::start(&launch);
    assert!(
        server.output.stdout().contains("AWS_ACCESS_KEY_ID=test"),
        "dev mode credentials not shown:\n{}",
        server.output.stdout()
    );
    let client = server.client("test", "test");
    let value = marker();
    client
        .create_secret()
        .name("dev")
        .secret_string(&value)
        .send()
        .await
        .expect("CreateSecret");
    put_string(&client, "dev", &marker()).await;
    assert_ne!(current_string(&client, "dev").await, value);
    let while_running = names(cwd.path());
    server.stop();
    assert!(
        while_running.is_empty(),
        "--dev wrote {while_running:?} while running"
    );
    let after = names(cwd.path());
    assert!(after.is_empty(), "--dev left {after:?} in the working directory");
    assert!(
        std::fs::read_dir(cwd.path()).expect("read cwd").next().is_none(),
        "--dev left something in the working directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_quickly_on_an_empty_data_dir() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let launch = Launch::data_dir(&tmp.path().join("data"));
    let server = Server::start(&launch);
    let startup = server.startup;
    server.stop();
    // A sanity bound, not a benchmark.
    assert!(
        startup < Duration::from_secs(2),
        "start-up on an empty data dir took {startup:?}"
    );
    eprintln!("start-up on an empty data dir: {startup:?}");
}
