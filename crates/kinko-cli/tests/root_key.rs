//! Root key rotation through the `kinko` binary (`kinko rotate-root-key`), on real SQLite data
//! dirs, with the AWS SDKs:
//!
//! - offline (no server on the data dir): the key file changes; after a restart every secret
//!   (including one under a customer managed KMS key) reads, every KMS ciphertext decrypts, an IAM
//!   user's access key authenticates; STS sessions from before have ended;
//! - online, while clients keep reading secrets, decrypting and creating access keys and KMS keys:
//!   no request fails, the server switches keys in place (twice), every key created during the
//!   rotations works after a restart; the old key files no longer open the data dir;
//! - root key given in `KINKO_ROOT_KEY`: the new one comes from `KINKO_NEW_ROOT_KEY`, online and
//!   offline; without it the command refuses and changes nothing;
//! - `kinko backup` while the server runs: each copy restores with the root key it was taken
//!   under (before or after a rotation), and only with it;
//! - crash points: `root.key.next` written but not committed, committed but not renamed, neither
//!   key matching, and SIGKILL at arbitrary moments of offline and online rotations: the data dir
//!   always opens with everything working.
//!
//! After each rotation the database itself is inspected: every wrapped KMS key material, every
//! sealed access key secret and the check value open under the new root key and under no old one.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kinko_crypto::RootKey;

const ACCOUNT_ID: &str = "456789012345";
const ROOT_ID: &str = "AKIAROOTKEYROTATION1";
const ROOT_SECRET: &str = "root-key-rotation-test-secret-key-000001";
const REGION: &str = "us-east-1";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);
const ENCRYPTION_CONTEXT: (&str, &str) = ("purpose", "root-key-rotation");

// ---------------------------------------------------------------------------------------------
// Processes.

type Env = Vec<(&'static str, String)>;

fn kinko(args: &[&str], data: &Path, env: &Env) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinko"));
    cmd.args(args).arg("--data-dir").arg(data);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KINKO_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("KINKO_ACCOUNT_ID", ACCOUNT_ID)
        .env("KINKO_ROOT_ACCESS_KEY_ID", ROOT_ID)
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET)
        .env("KINKO_LOG", "warn");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

struct Server {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Starts `kinko server` and waits for its listening line; the server's stderr when it exits
    /// instead.
    fn try_start(data: &Path, env: &Env) -> Result<Server, String> {
        let mut child = kinko(&["server", "--listen", "127.0.0.1:0"], data, env)
            .spawn()
            .expect("spawn kinko server");
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
                        return Ok(Server {
                            child,
                            addr: addr.trim().to_owned(),
                            stderr,
                        });
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = wait_exit(&mut child);
                    let _ = reader.join();
                    let err = String::from_utf8_lossy(&lock(&stderr)).into_owned();
                    assert!(
                        !status.success(),
                        "kinko server exited 0 without listening: {err}"
                    );
                    return Err(err);
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

    fn start(data: &Path, env: &Env) -> Server {
        Self::try_start(data, env).unwrap_or_else(|e| panic!("kinko server did not start:\n{e}"))
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// SIGTERM and a clean exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
        let status = wait_exit(&mut self.child);
        assert!(
            status.success(),
            "kinko server exited with {status}:\n{}",
            self.stderr()
        );
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

fn wait_exit(child: &mut Child) -> ExitStatus {
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
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `kinko rotate-root-key` to its end.
async fn rotate(data: &Path, env: &Env) -> Output {
    let mut cmd = kinko(&["rotate-root-key"], data, env);
    tokio::task::spawn_blocking(move || {
        let child = cmd.spawn().expect("spawn kinko rotate-root-key");
        child.wait_with_output().expect("kinko rotate-root-key output")
    })
    .await
    .expect("rotate task")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `kinko rotate-root-key`, expecting success; returns its standard output.
async fn rotate_ok(data: &Path, env: &Env) -> String {
    let out = rotate(data, env).await;
    assert!(
        out.status.success(),
        "kinko rotate-root-key failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

// ---------------------------------------------------------------------------------------------
// Keys and the database.

/// A fresh root key and its base64.
fn random_key() -> (RootKey, String) {
    let bytes = kinko_crypto::random_bytes(32).expect("random bytes");
    let b64 = STANDARD.encode(&bytes);
    (RootKey::from_base64(&b64).expect("root key"), b64)
}

fn key_file(data: &Path) -> PathBuf {
    data.join("root.key")
}

fn next_file(data: &Path) -> PathBuf {
    data.join("root.key.next")
}

fn load_key(path: &Path) -> RootKey {
    RootKey::load(path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// Everything sealed under the root key in a stopped server's database opens under `key` and
/// under none of `old`. Returns the number of KMS key materials and access keys.
fn assert_sealed_under(data: &Path, key: &RootKey, old: &[&RootKey]) -> (usize, usize) {
    let c = rusqlite::Connection::open_with_flags(
        data.join("kinko.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open kinko.db");
    let materials: Vec<(String, u32, Vec<u8>)> = c
        .prepare("SELECT key_arn, version, wrapped FROM kms_materials")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (arn, version, wrapped) in &materials {
        let aad = kinko_crypto::encode_aad(&[arn.as_bytes(), version.to_string().as_bytes()]);
        assert!(
            key.open(wrapped, &aad).is_ok(),
            "material {arn} v{version} does not open under the new root key"
        );
        for o in old {
            assert!(
                o.open(wrapped, &aad).is_err(),
                "material {arn} v{version} still opens under an old root key"
            );
        }
    }
    let keys: Vec<(String, Vec<u8>)> = c
        .prepare("SELECT access_key_id, sealed_secret FROM access_keys")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (id, sealed) in &keys {
        assert!(
            key.open(sealed, id.as_bytes()).is_ok(),
            "access key {id} does not open under the new root key"
        );
        for o in old {
            assert!(
                o.open(sealed, id.as_bytes()).is_err(),
                "access key {id} still opens under an old root key"
            );
        }
    }
    let check: Vec<u8> = c
        .query_row("SELECT value FROM meta WHERE key = 'root_key_check'", [], |r| {
            r.get(0)
        })
        .expect("check value");
    assert!(
        key.verify_check(&check),
        "the check value is not under the new root key"
    );
    for o in old {
        assert!(
            !o.verify_check(&check),
            "the check value is still under an old root key"
        );
    }
    (materials.len(), keys.len())
}

/// The data dir's files, with a hash of their content (to show that a refused start changed
/// nothing). `kinko.db-shm` is SQLite's shared-memory index, rewritten by any connection that
/// opens the database, even to read; the audit log is not data.
fn snapshot(data: &Path) -> Vec<(String, u64)> {
    use std::hash::{Hash, Hasher};
    let mut files: Vec<(String, u64)> = std::fs::read_dir(data)
        .expect("read data dir")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "audit.log" && name != "kinko.db-shm")
        .map(|name| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(data.join(&name)).expect("read").hash(&mut h);
            (name, h.finish())
        })
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------------
// Clients.

#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
    token: Option<String>,
}

fn root_creds() -> Creds {
    Creds {
        id: ROOT_ID.into(),
        secret: ROOT_SECRET.into(),
        token: None,
    }
}

fn provider(c: &Creds) -> Credentials {
    Credentials::new(&c.id, &c.secret, c.token.clone(), None, "root-key-test")
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// Clients of every service, one attempt per call (a retry must not hide a failed request).
#[derive(Clone)]
struct Clients {
    sm: aws_sdk_secretsmanager::Client,
    kms: aws_sdk_kms::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
}

macro_rules! client {
    ($sdk:ident, $addr:expr, $creds:expr) => {
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(format!("http://{}", $addr))
                .region(Region::new(REGION))
                .credentials_provider(provider($creds))
                .retry_config(RetryConfig::disabled())
                .timeout_config(timeouts())
                .build(),
        )
    };
}

fn clients(addr: &str, c: &Creds) -> Clients {
    Clients {
        sm: client!(aws_sdk_secretsmanager, addr, c),
        kms: client!(aws_sdk_kms, addr, c),
        iam: client!(aws_sdk_iam, addr, c),
        sts: client!(aws_sdk_sts, addr, c),
    }
}

// ---------------------------------------------------------------------------------------------
// What a data dir holds, and checking it.

struct Ciphertext {
    blob: Blob,
    plaintext: Vec<u8>,
}

struct World {
    /// (name, value)
    secrets: Vec<(String, String)>,
    cmk: String,
    ciphertexts: Vec<Ciphertext>,
    user: Creds,
    /// Temporary credentials from GetSessionToken, issued before any rotation.
    session: Creds,
}

async fn encrypt(kms: &aws_sdk_kms::Client, key_id: &str, plaintext: &[u8]) -> Result<Ciphertext, String> {
    let out = kms
        .encrypt()
        .key_id(key_id)
        .plaintext(Blob::new(plaintext))
        .encryption_context(ENCRYPTION_CONTEXT.0, ENCRYPTION_CONTEXT.1)
        .send()
        .await
        .map_err(|e| format!("Encrypt: {e:?}"))?;
    Ok(Ciphertext {
        blob: out.ciphertext_blob.ok_or("Encrypt: no CiphertextBlob")?,
        plaintext: plaintext.to_vec(),
    })
}

async fn decrypt(kms: &aws_sdk_kms::Client, c: &Ciphertext) -> Result<(), String> {
    let out = kms
        .decrypt()
        .ciphertext_blob(c.blob.clone())
        .encryption_context(ENCRYPTION_CONTEXT.0, ENCRYPTION_CONTEXT.1)
        .send()
        .await
        .map_err(|e| format!("Decrypt: {e:?}"))?;
    if out.plaintext.as_ref().map(Blob::as_ref) != Some(c.plaintext.as_slice()) {
        return Err("Decrypt: wrong plaintext".into());
    }
    Ok(())
}

async fn read_secret(sm: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> Result<(), String> {
    let out = sm
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| format!("GetSecretValue {name}: {e:?}"))?;
    if out.secret_string() != Some(value) {
        return Err(format!(
            "GetSecretValue {name}: wrong value {:?}",
            out.secret_string()
        ));
    }
    Ok(())
}

/// GetCallerIdentity with `c`: the caller's ARN.
async fn caller(addr: &str, c: &Creds) -> Result<String, String> {
    let out = clients(addr, c)
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("GetCallerIdentity as {}: {e:?}", c.id))?;
    Ok(out.arn.unwrap_or_default())
}

/// A user with an access key allowed to read secrets; its name is `name`.
async fn create_user(iam: &aws_sdk_iam::Client, name: &str) -> Result<Creds, String> {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .map_err(|e| format!("CreateUser {name}: {e:?}"))?;
    iam.put_user_policy()
        .user_name(name)
        .policy_name("read-secrets")
        .policy_document(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}"#,
        )
        .send()
        .await
        .map_err(|e| format!("PutUserPolicy {name}: {e:?}"))?;
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .map_err(|e| format!("CreateAccessKey {name}: {e:?}"))?
        .access_key
        .ok_or("CreateAccessKey: no key")?;
    Ok(Creds {
        id: key.access_key_id,
        secret: key.secret_access_key,
        token: None,
    })
}

async fn create_kms_key(kms: &aws_sdk_kms::Client) -> Result<String, String> {
    Ok(kms
        .create_key()
        .description("root key rotation test")
        .send()
        .await
        .map_err(|e| format!("CreateKey: {e:?}"))?
        .key_metadata
        .ok_or("CreateKey: no metadata")?
        .key_id)
}

async fn build_world(addr: &str) -> World {
    let c = clients(addr, &root_creds());
    let mut secrets = vec![
        ("rotation/plain".to_owned(), "plain value 1".to_owned()),
        (
            "rotation/cmk".to_owned(),
            "value under a customer managed key".to_owned(),
        ),
    ];
    c.sm.create_secret()
        .name(&secrets[0].0)
        .secret_string(&secrets[0].1)
        .send()
        .await
        .expect("CreateSecret");
    let cmk = create_kms_key(&c.kms).await.expect("CreateKey");
    c.sm.create_secret()
        .name(&secrets[1].0)
        .kms_key_id(&cmk)
        .secret_string(&secrets[1].1)
        .send()
        .await
        .expect("CreateSecret with KmsKeyId");
    // A second version of the first secret.
    secrets[0].1 = "plain value 2".to_owned();
    c.sm.put_secret_value()
        .secret_id(&secrets[0].0)
        .secret_string(&secrets[0].1)
        .send()
        .await
        .expect("PutSecretValue");
    // Ciphertexts under two material versions of the customer managed key.
    let mut ciphertexts = vec![
        encrypt(&c.kms, &cmk, b"before key rotation")
            .await
            .expect("Encrypt"),
    ];
    c.kms
        .rotate_key_on_demand()
        .key_id(&cmk)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    ciphertexts.push(
        encrypt(&c.kms, &cmk, b"after key rotation")
            .await
            .expect("Encrypt"),
    );
    let user = create_user(&c.iam, "app").await.expect("user");
    let session = c
        .sts
        .get_session_token()
        .send()
        .await
        .expect("GetSessionToken")
        .credentials
        .expect("Credentials");
    let session = Creds {
        id: session.access_key_id,
        secret: session.secret_access_key,
        token: Some(session.session_token),
    };
    caller(addr, &session).await.expect("the session works");
    World {
        secrets,
        cmk,
        ciphertexts,
        user,
        session,
    }
}

/// Everything in `world` works on the server at `addr`, and so do new writes.
async fn check_world(addr: &str, world: &World) {
    let c = clients(addr, &root_creds());
    for (name, value) in &world.secrets {
        read_secret(&c.sm, name, value).await.expect("secret reads");
    }
    for ct in &world.ciphertexts {
        decrypt(&c.kms, ct).await.expect("old ciphertext decrypts");
    }
    let fresh = encrypt(&c.kms, &world.cmk, b"fresh").await.expect("Encrypt");
    decrypt(&c.kms, &fresh).await.expect("fresh ciphertext decrypts");
    let arn = caller(addr, &world.user)
        .await
        .expect("the user's access key authenticates");
    assert!(arn.ends_with(":user/app"), "{arn}");
    let as_user = clients(addr, &world.user);
    read_secret(&as_user.sm, &world.secrets[0].0, &world.secrets[0].1)
        .await
        .expect("the user reads a secret");
    let name = format!("rotation/new-{}", uuid::Uuid::new_v4());
    c.sm.create_secret()
        .name(&name)
        .secret_string("new")
        .send()
        .await
        .expect("CreateSecret");
    read_secret(&c.sm, &name, "new").await.expect("new secret reads");
}

/// Temporary credentials sealed under an earlier root key are refused as AWS refuses unknown ones.
async fn assert_session_ended(addr: &str, session: &Creds) {
    let err = caller(addr, session)
        .await
        .expect_err("the old session is refused");
    assert!(err.contains("InvalidClientTokenId"), "{err}");
}

fn file_env() -> Env {
    Vec::new()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_rotation_rewraps_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &file_env());
    let world = build_world(&server.addr).await;
    server.stop();
    let old = load_key(&key_file(&data));

    let out = rotate_ok(&data, &file_env()).await;
    assert!(out.contains("offline"), "{out}");
    assert!(out.contains("re-wrapped"), "{out}");
    assert!(out.contains("STS"), "{out}");
    let new = load_key(&key_file(&data));
    assert_ne!(new, old, "root.key did not change");
    assert_eq!(mode(&key_file(&data)), 0o600);
    assert!(!next_file(&data).exists());
    let (materials, access_keys) = assert_sealed_under(&data, &new, &[&old]);
    // aws/secretsmanager, and the customer managed key in two versions; root's and the user's.
    assert!(materials >= 3, "{materials} materials");
    assert_eq!(access_keys, 2);
    assert!(
        out.contains(&format!("{materials} KMS key material"))
            && out.contains(&format!("{access_keys} access key")),
        "{out}"
    );

    let server = Server::start(&data, &file_env());
    check_world(&server.addr, &world).await;
    assert_session_ended(&server.addr, &world.session).await;
    server.stop();
}

/// Clients working while the root key is rotated under them.
struct Load {
    stop: AtomicBool,
    reads: AtomicUsize,
    failures: Mutex<Vec<String>>,
    /// Access keys and KMS ciphertexts created during the load.
    users: Mutex<Vec<Creds>>,
    ciphertexts: Mutex<Vec<Ciphertext>>,
}

impl Load {
    fn fail(&self, e: String) {
        lock(&self.failures).push(e);
    }
}

async fn reader(addr: String, world: Arc<World>, load: Arc<Load>, task: usize) {
    let root = clients(&addr, &root_creds());
    let user = clients(&addr, &world.user);
    for i in 0..100_000usize {
        if load.stop.load(Ordering::SeqCst) {
            return;
        }
        let (name, value) = &world.secrets[(i + task) % world.secrets.len()];
        let r = match (i + task) % 4 {
            0 => read_secret(&user.sm, name, value).await,
            1 => decrypt(&root.kms, &world.ciphertexts[i % world.ciphertexts.len()]).await,
            _ => read_secret(&root.sm, name, value).await,
        };
        match r {
            Ok(()) => {
                load.reads.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => load.fail(e),
        }
    }
}

async fn creator(addr: String, world: Arc<World>, load: Arc<Load>) {
    let root = clients(&addr, &root_creds());
    for i in 0..500usize {
        if load.stop.load(Ordering::SeqCst) {
            return;
        }
        match create_user(&root.iam, &format!("load-{i}")).await {
            Ok(c) => lock(&load.users).push(c),
            Err(e) => load.fail(e),
        }
        let key = match create_kms_key(&root.kms).await {
            Ok(k) => k,
            Err(e) => {
                load.fail(e);
                continue;
            }
        };
        for key_id in [key.as_str(), world.cmk.as_str()] {
            match encrypt(&root.kms, key_id, format!("load {i}").as_bytes()).await {
                Ok(c) => lock(&load.ciphertexts).push(c),
                Err(e) => load.fail(e),
            }
        }
    }
}

/// Waits until the load has made `more` successful reads beyond `from`.
async fn progress(load: &Load, from: usize, more: usize) -> usize {
    let deadline = Instant::now() + LOAD_TIMEOUT;
    loop {
        let reads = load.reads.load(Ordering::SeqCst);
        if reads >= from + more {
            return reads;
        }
        assert!(
            Instant::now() < deadline,
            "the load made no progress: {reads} reads; failures: {:?}",
            lock(&load.failures)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn online_rotation_under_load_fails_no_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &file_env());
    assert_eq!(mode(&data.join("kinko.sock")), 0o600);
    let world = Arc::new(build_world(&server.addr).await);
    let key0 = load_key(&key_file(&data));

    let load = Arc::new(Load {
        stop: AtomicBool::new(false),
        reads: AtomicUsize::new(0),
        failures: Mutex::new(Vec::new()),
        users: Mutex::new(Vec::new()),
        ciphertexts: Mutex::new(Vec::new()),
    });
    let mut tasks: Vec<_> = (0..4)
        .map(|t| tokio::spawn(reader(server.addr.clone(), world.clone(), load.clone(), t)))
        .collect();
    tasks.push(tokio::spawn(creator(
        server.addr.clone(),
        world.clone(),
        load.clone(),
    )));

    let mut reads = progress(&load, 0, 40).await;
    let mut keys = vec![key0];
    for _ in 0..2 {
        let out = rotate_ok(&data, &file_env()).await;
        assert!(out.contains("by the server running on it"), "{out}");
        let key = load_key(&key_file(&data));
        assert!(keys.iter().all(|k| *k != key), "root.key did not change");
        assert!(!next_file(&data).exists());
        keys.push(key);
        reads = progress(&load, reads, 40).await;
    }
    load.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        tokio::time::timeout(LOAD_TIMEOUT, t)
            .await
            .expect("load task ends")
            .expect("load task does not panic");
    }
    let failures = lock(&load.failures).clone();
    assert!(
        failures.is_empty(),
        "{} requests failed during the rotations, e.g. {:#?}\nserver stderr:\n{}",
        failures.len(),
        &failures[..failures.len().min(10)],
        server.stderr()
    );
    let users = lock(&load.users).clone();
    let ciphertexts = std::mem::take(&mut *lock(&load.ciphertexts));
    assert!(!users.is_empty() && !ciphertexts.is_empty());
    eprintln!(
        "{} reads, {} users and {} ciphertexts made during two rotations",
        load.reads.load(Ordering::SeqCst),
        users.len(),
        ciphertexts.len()
    );

    // The running server uses the new key; sessions from before have ended, new ones work.
    check_world(&server.addr, &world).await;
    assert_session_ended(&server.addr, &world.session).await;
    let root = clients(&server.addr, &root_creds());
    let s = root
        .sts
        .get_session_token()
        .send()
        .await
        .expect("GetSessionToken")
        .credentials
        .expect("Credentials");
    let session = Creds {
        id: s.access_key_id,
        secret: s.secret_access_key,
        token: Some(s.session_token),
    };
    caller(&server.addr, &session).await.expect("a new session works");
    server.stop();
    assert!(
        !data.join("kinko.sock").exists(),
        "the admin socket is removed at stop"
    );

    let current = keys.last().expect("key").clone();
    let old: Vec<&RootKey> = keys[..keys.len() - 1].iter().collect();
    let (_, access_keys) = assert_sealed_under(&data, &current, &old);
    assert_eq!(access_keys, 2 + users.len());

    // The old key files no longer open the data dir; refusing changes nothing.
    for k in &old {
        k.write_file(&key_file(&data)).expect("write old key");
        let before = snapshot(&data);
        let err = Server::try_start(&data, &file_env())
            .err()
            .expect("the old key is refused");
        assert!(err.contains("does not match"), "{err}");
        assert_eq!(snapshot(&data), before, "a refused start changed the data dir");
    }
    current.write_file(&key_file(&data)).expect("write new key");
    let server = Server::start(&data, &file_env());
    check_world(&server.addr, &world).await;
    for u in &users {
        caller(&server.addr, u)
            .await
            .expect("an access key made during the rotations authenticates");
    }
    let kms = clients(&server.addr, &root_creds()).kms;
    for c in &ciphertexts {
        decrypt(&kms, c)
            .await
            .expect("a ciphertext made during the rotations decrypts");
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_key_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (k0, b0) = random_key();
    let (k1, b1) = random_key();
    let (k2, b2) = random_key();
    let with = |current: &str, new: Option<&str>| -> Env {
        let mut env = vec![("KINKO_ROOT_KEY", current.to_owned())];
        if let Some(n) = new {
            env.push(("KINKO_NEW_ROOT_KEY", n.to_owned()));
        }
        env
    };

    let server = Server::start(&data, &with(&b0, None));
    let world = build_world(&server.addr).await;

    // Without the new key, nothing happens.
    let out = rotate(&data, &with(&b0, None)).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("KINKO_NEW_ROOT_KEY"),
        "{}",
        text(&out.stderr)
    );
    // Online, with it: the server switches in memory and keeps serving.
    let out = rotate_ok(&data, &with(&b0, Some(&b1))).await;
    assert!(out.contains("by the server running on it"), "{out}");
    assert!(out.contains("KINKO_ROOT_KEY"), "{out}");
    check_world(&server.addr, &world).await;
    assert_session_ended(&server.addr, &world.session).await;
    server.stop();
    assert!(!key_file(&data).exists() && !next_file(&data).exists());
    assert_sealed_under(&data, &k1, &[&k0]);

    let err = Server::try_start(&data, &with(&b0, None))
        .err()
        .expect("the old key is refused");
    assert!(err.contains("does not match"), "{err}");

    // Offline: without the new key, or with a malformed one, nothing changes.
    let before = snapshot(&data);
    let out = rotate(&data, &with(&b1, None)).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("KINKO_NEW_ROOT_KEY"),
        "{}",
        text(&out.stderr)
    );
    let out = rotate(&data, &with(&b1, Some("not a key"))).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("KINKO_NEW_ROOT_KEY"),
        "{}",
        text(&out.stderr)
    );
    // The wrong current key: refused like a start.
    let out = rotate(&data, &with(&b0, Some(&b2))).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not match"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(snapshot(&data), before);

    let out = rotate_ok(&data, &with(&b1, Some(&b2))).await;
    assert!(out.contains("offline") && out.contains("KINKO_ROOT_KEY"), "{out}");
    assert!(!key_file(&data).exists());
    assert_sealed_under(&data, &k2, &[&k0, &k1]);
    let server = Server::start(&data, &with(&b2, None));
    check_world(&server.addr, &world).await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_dir_no_rotation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("absent");
    let out = rotate(&data, &file_env()).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no kinko data dir"),
        "{}",
        text(&out.stderr)
    );
    assert!(!data.exists(), "the command created a data dir");
}

/// A new data dir holding `db` as its database and `key` as its root key file.
fn restore(dir: &Path, name: &str, db: &Path, key: &RootKey) -> PathBuf {
    let data = dir.join(name);
    std::fs::create_dir(&data).expect("create restore dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::copy(db, data.join("kinko.db")).expect("copy backup");
    key.write_file(&key_file(&data)).expect("write key");
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_while_serving_restore_with_their_root_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &file_env());
    let world = build_world(&server.addr).await;
    let key0 = load_key(&key_file(&data));

    let backup = |to: PathBuf| {
        let data = data.clone();
        async move {
            let mut cmd = kinko(&["backup"], &data, &file_env());
            cmd.arg("--to").arg(&to);
            let out = tokio::task::spawn_blocking(move || cmd.output().expect("kinko backup"))
                .await
                .expect("backup task");
            assert!(
                out.status.success(),
                "kinko backup failed:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            text(&out.stdout)
        }
    };
    let first = dir.path().join("backup-1.db");
    let out = backup(first.clone()).await;
    assert!(out.contains("root.key"), "{out}");
    assert_eq!(mode(&first), 0o600);
    // An existing file is never overwritten.
    let mut cmd = kinko(&["backup"], &data, &file_env());
    cmd.arg("--to").arg(&first);
    let out = cmd.output().expect("kinko backup");
    assert!(!out.status.success());

    rotate_ok(&data, &file_env()).await;
    let key1 = load_key(&key_file(&data));
    let second = dir.path().join("backup-2.db");
    backup(second.clone()).await;
    // Written after both backups: in neither.
    clients(&server.addr, &root_creds())
        .sm
        .create_secret()
        .name("rotation/after-backups")
        .secret_string("later")
        .send()
        .await
        .expect("CreateSecret");
    server.stop();

    // Each copy opens with the root key it was taken under, and only with it.
    let wrong = restore(dir.path(), "wrong", &first, &key1);
    let err = Server::try_start(&wrong, &file_env()).err().expect("refused");
    assert!(err.contains("does not match"), "{err}");
    for (name, db, key) in [("r1", &first, &key0), ("r2", &second, &key1)] {
        let restored = restore(dir.path(), name, db, key);
        let server = Server::start(&restored, &file_env());
        let c = clients(&server.addr, &root_creds());
        for (secret, value) in &world.secrets {
            read_secret(&c.sm, secret, value)
                .await
                .expect("secret in the backup");
        }
        for ct in &world.ciphertexts {
            decrypt(&c.kms, ct).await.expect("ciphertext decrypts");
        }
        caller(&server.addr, &world.user)
            .await
            .expect("user key in the backup");
        assert!(
            read_secret(&c.sm, "rotation/after-backups", "later")
                .await
                .is_err(),
            "a secret written after the backup is in it"
        );
        server.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// Crash points.

/// A data dir with everything in it, its server stopped.
async fn stopped_world(data: &Path) -> World {
    let server = Server::start(data, &file_env());
    let world = build_world(&server.addr).await;
    server.stop();
    world
}

async fn start_and_check(data: &Path, world: &World) {
    let server = Server::start(data, &file_env());
    check_world(&server.addr, world).await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_the_commit_keeps_the_old_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let world = stopped_world(&data).await;
    let old = load_key(&key_file(&data));
    // The rotation wrote root.key.next, then died before its transaction committed.
    random_key().0.write_file(&next_file(&data)).expect("write next");
    start_and_check(&data, &world).await;
    assert!(!next_file(&data).exists(), "the uncommitted key is removed");
    assert_eq!(load_key(&key_file(&data)), old);
    assert_sealed_under(&data, &old, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_the_commit_finishes_the_rename() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let world = stopped_world(&data).await;
    let old = load_key(&key_file(&data));
    rotate_ok(&data, &file_env()).await;
    let new = load_key(&key_file(&data));

    // The transaction committed, the rename of root.key.next over root.key did not happen.
    std::fs::rename(key_file(&data), next_file(&data)).expect("rename");
    old.write_file(&key_file(&data)).expect("write old key");
    start_and_check(&data, &world).await;
    assert!(!next_file(&data).exists());
    assert_eq!(
        load_key(&key_file(&data)),
        new,
        "the committed key is moved into place"
    );
    assert_eq!(mode(&key_file(&data)), 0o600);

    // The same with root.key gone altogether.
    std::fs::rename(key_file(&data), next_file(&data)).expect("rename");
    start_and_check(&data, &world).await;
    assert_eq!(load_key(&key_file(&data)), new);
    assert_sealed_under(&data, &new, &[&old]);

    // An offline rotation settles it the same way before rotating again.
    std::fs::rename(key_file(&data), next_file(&data)).expect("rename");
    old.write_file(&key_file(&data)).expect("write old key");
    rotate_ok(&data, &file_env()).await;
    let newer = load_key(&key_file(&data));
    assert!(!next_file(&data).exists());
    assert_sealed_under(&data, &newer, &[&old, &new]);
    start_and_check(&data, &world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_key_matching_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let world = stopped_world(&data).await;
    let good = load_key(&key_file(&data));
    random_key().0.write_file(&key_file(&data)).expect("write");
    random_key().0.write_file(&next_file(&data)).expect("write");
    let before = snapshot(&data);
    let err = Server::try_start(&data, &file_env()).err().expect("refused");
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(snapshot(&data), before);
    let out = rotate(&data, &file_env()).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not match"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(snapshot(&data), before);

    good.write_file(&key_file(&data)).expect("write");
    start_and_check(&data, &world).await;
    assert!(!next_file(&data).exists());
}

/// Where a killed rotation left the data dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// No `root.key.next`: killed before it was written, or after the rename.
    Settled,
    /// `root.key.next` written, the transaction not committed.
    BeforeCommit,
    /// The transaction committed, `root.key.next` not yet renamed.
    AfterCommit,
}

fn left(data: &Path) -> Left {
    if !next_file(data).exists() {
        return Left::Settled;
    }
    let c = rusqlite::Connection::open_with_flags(
        data.join("kinko.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open kinko.db");
    let check: Vec<u8> = c
        .query_row("SELECT value FROM meta WHERE key = 'root_key_check'", [], |r| {
            r.get(0)
        })
        .expect("check value");
    if load_key(&key_file(data)).verify_check(&check) {
        Left::BeforeCommit
    } else {
        assert!(
            load_key(&next_file(data)).verify_check(&check),
            "neither root.key nor root.key.next opens the data dir"
        );
        Left::AfterCommit
    }
}

/// When to SIGKILL a rotating process.
#[derive(Clone, Copy)]
enum KillAt {
    After(Duration),
    /// As soon as `root.key.next` appears: inside the window between writing it and renaming it.
    NextKeyWritten,
}

/// Waits for `at`, then SIGKILLs `child` unless it has exited. Returns whether it was killed.
fn kill_at(child: &mut Child, data: &Path, at: KillAt) -> bool {
    let deadline = Instant::now() + LOAD_TIMEOUT;
    match at {
        KillAt::After(d) => std::thread::sleep(d),
        KillAt::NextKeyWritten => {
            while !next_file(data).exists() {
                assert!(Instant::now() < deadline, "root.key.next never appeared");
                if child.try_wait().expect("try_wait").is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }
    if child.try_wait().expect("try_wait").is_some() {
        return false;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    true
}

/// SIGKILL at arbitrary moments of offline rotations, then of a server rotating online: every
/// time, the data dir opens with one of the keys on disk and everything in it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_rotation_leaves_a_consistent_data_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let world = stopped_world(&data).await;
    // Enough rows that the transaction takes a while.
    {
        let server = Server::start(&data, &file_env());
        let c = clients(&server.addr, &root_creds());
        for i in 0..40 {
            create_kms_key(&c.kms).await.expect("CreateKey");
            create_user(&c.iam, &format!("bulk-{i}")).await.expect("user");
        }
        server.stop();
    }
    let started = Instant::now();
    rotate_ok(&data, &file_env()).await;
    let full = started.elapsed();

    // Offline: kills spread over the length of a whole rotation, and kills inside the window.
    let mut seen = Vec::new();
    let mut points: Vec<KillAt> = (0..12u32).map(|i| KillAt::After(full * i / 12)).collect();
    points.extend([KillAt::NextKeyWritten; 4]);
    for at in points {
        let mut child = kinko(&["rotate-root-key"], &data, &file_env())
            .spawn()
            .expect("spawn kinko rotate-root-key");
        let killed = kill_at(&mut child, &data, at);
        seen.push((killed, left(&data)));
        // A complete rotation opens the data dir (settling an interrupted one) and re-wraps every
        // row: it fails if any row doesn't open under the key the data dir opened with.
        rotate_ok(&data, &file_env()).await;
        assert!(!next_file(&data).exists());
    }
    eprintln!("offline (killed, left): {seen:?}");
    assert_sealed_under(&data, &load_key(&key_file(&data)), &[]);
    start_and_check(&data, &world).await;

    // Online: the server dies in the window; a restart settles it.
    for _ in 0..3 {
        let mut server = Server::start(&data, &file_env());
        let mut child = kinko(&["rotate-root-key"], &data, &file_env())
            .spawn()
            .expect("spawn kinko rotate-root-key");
        let killed = kill_at(&mut server.child, &data, KillAt::NextKeyWritten);
        seen.push((killed, left(&data)));
        drop(server);
        let _ = wait_exit(&mut child);
        let server = Server::start(&data, &file_env());
        assert!(!next_file(&data).exists());
        check_world(&server.addr, &world).await;
        server.stop();
    }
    eprintln!("all (killed, left): {seen:?}");
    assert!(
        seen.iter().any(|(_, l)| *l != Left::Settled),
        "no kill landed between writing root.key.next and renaming it"
    );
    assert_sealed_under(&data, &load_key(&key_file(&data)), &[]);
}
