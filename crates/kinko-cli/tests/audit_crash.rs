//! The audit trail of the `kinko` binary under a crash: GetSecretValue and CreateSecret load
//! through the AWS SDK, the server SIGKILLed in the middle of it; every call that was answered has
//! its record in the log. After a restart (which removes a record cut short by the kill) and a
//! clean stop, `kinko audit verify` finds the chain whole, and after an edited line it names it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::operation::RequestId as _;

const ACCOUNT_ID: &str = "210987654322";
const ACCESS_KEY_ID: &str = "AKIAAUDITCRASHTEST01";
const SECRET_ACCESS_KEY: &str = "audit-crash-test-secret-access-key-000001";
const TASKS: usize = 16;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
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
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kinko");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("kinko printed its listening line")
                .expect("line");
            if let Some(rest) = line.strip_prefix("kinko listening on http://") {
                break rest.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    fn client(&self) -> Client {
        Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(format!("http://{}", self.addr))
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(
                    ACCESS_KEY_ID,
                    SECRET_ACCESS_KEY,
                    None,
                    None,
                    "test",
                ))
                // One attempt per call: an answered call is exactly one response.
                .retry_config(RetryConfig::disabled())
                .build(),
        )
    }

    fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "kinko did not exit on SIGTERM");
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

fn request_ids(log: &[u8]) -> BTreeSet<String> {
    log.split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter_map(|r| r["requestID"].as_str().map(str::to_owned))
        .collect()
}

fn verify(data_dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kinko"))
        .args(["audit", "verify", "--data-dir"])
        .arg(data_dir)
        .env_remove("KINKO_ROOT_KEY")
        .output()
        .expect("kinko audit verify");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_answered_call_has_its_record_after_a_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path());
    let client = server.client();
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (client, answered) = (client.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("crash-{t}");
            if let Ok(out) = client.create_secret().name(&name).secret_string("v").send().await {
                answered
                    .lock()
                    .expect("lock")
                    .push(out.request_id().expect("id").to_owned());
            }
            for i in 0..100_000 {
                let id = if i % 5 == 0 {
                    let r = client
                        .create_secret()
                        .name(format!("crash-{t}-{i}"))
                        .secret_string("v")
                        .send()
                        .await;
                    r.ok().and_then(|o| o.request_id().map(str::to_owned))
                } else {
                    let r = client.get_secret_value().secret_id(&name).send().await;
                    r.ok().and_then(|o| o.request_id().map(str::to_owned))
                };
                match id {
                    Some(id) => answered.lock().expect("lock").push(id),
                    None => return,
                }
            }
        }));
    }
    // Let the load run, then kill the server in the middle of it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.lock().expect("lock").len() < 2_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reap");
    for t in tasks {
        let _ = t.await;
    }
    let answered = answered.lock().expect("lock").clone();
    assert!(answered.len() >= 100, "only {} calls answered", answered.len());

    let log = std::fs::read(dir.path().join("audit.log")).expect("audit log");
    let recorded = request_ids(&log);
    let missing: Vec<&String> = answered.iter().filter(|id| !recorded.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered calls have no record, e.g. {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(3)]
    );

    // A restart removes a record the kill cut short; the chain then verifies.
    let mut server = Server::start(dir.path());
    server
        .client()
        .list_secrets()
        .send()
        .await
        .expect("list after restart");
    server.terminate();
    let (ok, out) = verify(dir.path());
    assert!(ok, "verify after the crash:\n{out}");

    // An edited record is named.
    let path = dir.path().join("audit.log");
    let text = std::fs::read_to_string(&path).expect("log");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let i = (lines.len() / 2..lines.len())
        .find(|&i| lines[i].contains("\"eventName\":\"GetSecretValue\""))
        .expect("a GetSecretValue record");
    lines[i] = lines[i].replacen("\"GetSecretValue\"", "\"DescribeSecret\"", 1);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let (ok, out) = verify(dir.path());
    assert!(!ok, "verify missed an edited record:\n{out}");
    assert!(
        out.contains(&format!("line {}: record {} was changed", i + 1, i + 1)),
        "{out}"
    );
}
