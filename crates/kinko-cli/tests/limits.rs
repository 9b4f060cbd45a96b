//! What a hostile or stuck client can do to the `kinko` binary, run as a process (some under `prlimit`):
//!
//! - 1,000 slowloris connections (a request head sent a line at a time, reconnecting when closed) under
//!   an open-file limit of 256 don't lock out an SDK client;
//! - a request declaring a `Content-Length` over the 1 MiB limit is answered 413 at once, before its
//!   body; a body that stalls, or arrives a byte at a time, is answered 408 `RequestTimeoutException`
//!   within the body read timeout (AWS's front ends close such requests with `RequestTimeout`);
//! - a kept-alive connection that sends nothing is closed after the idle timeout, a head that doesn't
//!   complete after the header read timeout;
//! - SIGTERM while clients hold half-sent requests exits within the shutdown grace period;
//! - `/ready` answers 503 once the store can't be written (a file size limit standing in for a full
//!   disk), reads keep working, and the process survives SIGXFSZ.
//!
//! Every loop here is bounded and everything listens on loopback.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const ACCESS_KEY_ID: &str = "AKIALIMITSTEST000001";
const SECRET_ACCESS_KEY: &str = "limits-test-secret-access-key-0000000001";

struct Server {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Starts `kinko server` with `args`, under `prlimit` with `limits` when given; root
    /// credentials [`ACCESS_KEY_ID`] / [`SECRET_ACCESS_KEY`] for a new data dir (`test` / `test`
    /// in `--dev`).
    fn start(args: &[&str], limits: &[&str]) -> Server {
        let mut cmd = if limits.is_empty() {
            Command::new(env!("CARGO_BIN_EXE_kinko"))
        } else {
            let mut c = Command::new("prlimit");
            c.args(limits).arg("--").arg(env!("CARGO_BIN_EXE_kinko"));
            c
        };
        cmd.args(["server", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("KINKO_LOG", "warn")
            .env_remove("KINKO_ROOT_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !args.contains(&"--dev") {
            cmd.env("KINKO_ROOT_ACCESS_KEY_ID", ACCESS_KEY_ID)
                .env("KINKO_ROOT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        } else {
            cmd.env_remove("KINKO_ROOT_ACCESS_KEY_ID")
                .env_remove("KINKO_ROOT_SECRET_ACCESS_KEY");
        }
        let mut child = cmd.spawn().expect("spawn kinko");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps reading after the listening line: audit records may follow on stdout.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
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
                    panic!(
                        "kinko did not print its listening line ({e:?}, exit {status:?}); stderr:\n{}",
                        String::from_utf8_lossy(&stderr.lock().map(|s| s.clone()).unwrap_or_default())
                    );
                }
            }
        };
        Server { child, addr, stderr }
    }

    fn client(&self, access_key_id: &str, secret_access_key: &str, timeout: Duration) -> Client {
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://{}", self.addr))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                access_key_id,
                secret_access_key,
                None,
                None,
                "limits",
            ))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout)
                    .operation_timeout(timeout)
                    .build(),
            )
            .build();
        Client::from_conf(conf)
    }

    fn dev_client(&self, timeout: Duration) -> Client {
        self.client("test", "test", timeout)
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().map(|s| s.clone()).unwrap_or_default()).into_owned()
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits for the process to exit, at most `within`; `None` if it hasn't.
    fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
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

/// Reads what the server sends until it closes the connection or `within` passes; the bytes and
/// whether it closed.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

fn status_line(resp: &[u8]) -> String {
    String::from_utf8_lossy(resp)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

const HEAD: &str = "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: secretsmanager.ListSecrets\r\n\
                    Content-Type: application/x-amz-json-1.1\r\n";

/// AWS's front ends cut slow clients off; 1,000 connections each sending its head a line a second
/// (and reconnecting when cut) under a 256 open-file limit must not keep an SDK call from being answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_do_not_lock_out_an_sdk_client() {
    let server = Server::start(&["--dev"], &["--nofile=256:256"]);
    let addr = server.addr.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let addr = addr.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            // Bounded: the test stops them, and each lives at most 2 minutes.
            let end = tokio::time::Instant::now() + Duration::from_secs(120);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && tokio::time::Instant::now() < end {
                let Ok(Ok(mut s)) =
                    tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&addr)).await
                else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                if s.write_all(HEAD.as_bytes()).await.is_err() {
                    continue;
                }
                for i in 0..120 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if s.write_all(format!("X-Slow-{i}: a\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }));
    }
    // Let the slow connections pile up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let client = server.dev_client(Duration::from_secs(5));
    for i in 0..5 {
        let started = Instant::now();
        let r = client
            .create_secret()
            .name(format!("slowloris-{i}"))
            .secret_string("v")
            .send()
            .await;
        assert!(
            r.is_ok(),
            "call {i} refused or timed out after {:?} with 1,000 slow connections open: {r:?}; stderr:\n{}",
            started.elapsed(),
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
}

/// A declared `Content-Length` over the limit is refused at once (413), without waiting for a byte
/// of the body, and the connection is closed.
#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_at_once() {
    let server = Server::start(&["--dev", "--body-read-timeout", "30"], &[]);
    let mut s = TcpStream::connect(&server.addr).await.expect("connect");
    s.write_all(format!("{HEAD}Content-Length: {}\r\n\r\n", 64 * 1024 * 1024).as_bytes())
        .await
        .expect("send head");
    let (resp, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        status_line(&resp).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert!(String::from_utf8_lossy(&resp).contains("RequestEntityTooLargeException"));
    assert!(closed, "the connection stays open after the 413");
}

/// A body that stops arriving is answered 408 RequestTimeoutException once the body read timeout
/// passes, as AWS's front ends answer it, and the connection is closed.
#[tokio::test]
async fn a_stalled_body_is_answered_408_within_the_body_read_timeout() {
    let server = Server::start(&["--dev", "--body-read-timeout", "1"], &[]);
    let mut s = TcpStream::connect(&server.addr).await.expect("connect");
    let started = Instant::now();
    s.write_all(format!("{HEAD}Content-Length: 900000\r\n\r\n{{").as_bytes())
        .await
        .expect("send head");
    let (resp, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&resp);
    assert!(status_line(&resp).starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("RequestTimeoutException"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(closed, "the connection stays open after the 408");
}

/// A body sent a byte at a time keeps arriving but never finishes in time: 408 all the same.
#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_answered_408() {
    let server = Server::start(&["--dev", "--body-read-timeout", "1"], &[]);
    let s = TcpStream::connect(&server.addr).await.expect("connect");
    let (mut rd, mut wr) = s.into_split();
    let started = Instant::now();
    wr.write_all(format!("{HEAD}Content-Length: 200\r\n\r\n").as_bytes())
        .await
        .expect("send head");
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if wr.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), rd.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        resp.extend_from_slice(&buf[..n]);
    }
    trickle.abort();
    let text = String::from_utf8_lossy(&resp);
    assert!(status_line(&resp).starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("RequestTimeoutException"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// A head that never completes is closed after the header read timeout; a kept-alive connection
/// that sends nothing more after the idle timeout, not before.
#[tokio::test]
async fn header_read_and_idle_timeouts_close_connections() {
    let server = Server::start(
        &["--dev", "--header-read-timeout", "1", "--idle-timeout", "3"],
        &[],
    );
    let mut half = TcpStream::connect(&server.addr).await.expect("connect");
    half.write_all(HEAD.as_bytes())
        .await
        .expect("send part of a head");
    let (_, closed) = read_until_closed(&mut half, Duration::from_secs(5)).await;
    assert!(
        closed,
        "a half-sent head holds its connection past the header read timeout"
    );

    let mut kept = TcpStream::connect(&server.addr).await.expect("connect");
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), kept.read(&mut buf))
        .await
        .expect("answer")
        .expect("read");
    assert!(status_line(&buf[..n]).starts_with("HTTP/1.1 200"));
    let idle_since = Instant::now();
    let (_, closed) = read_until_closed(&mut kept, Duration::from_secs(10)).await;
    assert!(closed, "an idle kept-alive connection is never closed");
    let idle = idle_since.elapsed();
    assert!(
        idle >= Duration::from_millis(2500) && idle < Duration::from_secs(6),
        "closed after {idle:?} idle, not about the 3 s idle timeout"
    );
}

/// SIGTERM finishes in-flight requests and exits within the grace period, even while clients hold a
/// half-sent head and a half-sent body.
#[tokio::test]
async fn sigterm_exits_within_the_grace_period_with_half_sent_requests() {
    let mut server = Server::start(
        &[
            "--dev",
            "--shutdown-grace",
            "2",
            "--header-read-timeout",
            "60",
            "--body-read-timeout",
            "60",
            "--idle-timeout",
            "60",
        ],
        &[],
    );
    let mut half_head = TcpStream::connect(&server.addr).await.expect("connect");
    half_head.write_all(HEAD.as_bytes()).await.expect("send");
    let mut half_body = TcpStream::connect(&server.addr).await.expect("connect");
    half_body
        .write_all(format!("{HEAD}Content-Length: 1000\r\n\r\n{{").as_bytes())
        .await
        .expect("send");
    // An idle kept-alive connection too.
    let mut idle = TcpStream::connect(&server.addr).await.expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.sigterm();
    let status = server.exit_within(Duration::from_secs(8));
    let Some(status) = status else {
        panic!(
            "kinko did not exit within 8 s of SIGTERM with a 2 s grace period; stderr:\n{}",
            server.stderr()
        );
    };
    assert!(status.success(), "exit {status}; stderr:\n{}", server.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exit took {:?}",
        started.elapsed()
    );
    drop((half_head, half_body, idle));
}

/// `GET /ready` of the server: its status code and body.
async fn get_ready(addr: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let (resp, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let code = status_line(&resp)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

/// A full disk (here a 2 MiB file size limit: the database can't grow): writes fail with
/// Secrets Manager's InternalServiceError, `/ready` says 503 so load balancers stop sending work,
/// reads keep working, and SIGXFSZ doesn't end the process.
#[tokio::test]
async fn ready_answers_503_when_the_store_cannot_be_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().to_str().expect("utf-8 path");
    let mut server = Server::start(
        &[
            "--data-dir",
            data_dir,
            "--audit-log",
            "-",
            "--ready-probe-interval",
            "0.2",
        ],
        &["--fsize=2097152"],
    );
    assert_eq!(get_ready(&server.addr).await.0, 200);
    let client = server.client(ACCESS_KEY_ID, SECRET_ACCESS_KEY, Duration::from_secs(30));
    let first = client
        .create_secret()
        .name("kept")
        .secret_string("v")
        .send()
        .await;
    assert!(first.is_ok(), "{first:?}");
    let big = "x".repeat(60_000);
    let mut refused = None;
    for i in 0..200 {
        let out = client
            .create_secret()
            .name(format!("filler-{i}"))
            .secret_string(&big)
            .send()
            .await;
        if let Err(e) = out {
            refused = Some(e);
            break;
        }
    }
    let Some(e) = refused else {
        panic!("200 writes of 60 kB fit under a 2 MiB file size limit");
    };
    let code = e
        .as_service_error()
        .and_then(|e| aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(e));
    assert_eq!(code, Some("InternalServiceError"), "{e:?}");
    assert_eq!(
        server.child.try_wait().expect("try_wait"),
        None,
        "the process ended"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, text) = get_ready(&server.addr).await;
        if code == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/ready still says {text}; stderr:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = client.get_secret_value().secret_id("kept").send().await;
    assert_eq!(kept.expect("a read on a full disk").secret_string(), Some("v"));
    assert_eq!(
        server.child.try_wait().expect("try_wait"),
        None,
        "the process ended"
    );
    server.sigterm();
    assert!(
        server.exit_within(Duration::from_secs(15)).is_some(),
        "no exit after SIGTERM"
    );
}

/// An audit log on a full device (`/dev/full`: every write fails with ENOSPC): calls are refused
/// (no call runs unrecorded) and `/ready` says 503, naming the audit trail.
#[tokio::test]
async fn ready_answers_503_when_audit_records_cannot_be_written() {
    let server = Server::start(&["--dev", "--audit-log", "/dev/full"], &[]);
    assert_eq!(get_ready(&server.addr).await.0, 200);
    let client = server.dev_client(Duration::from_secs(30));
    let out = client.list_secrets().send().await;
    let code = out
        .as_ref()
        .err()
        .and_then(|e| e.as_service_error())
        .and_then(aws_sdk_secretsmanager::error::ProvideErrorMetadata::code);
    assert_eq!(code, Some("InternalServiceError"), "{out:?}");
    let (code, text) = get_ready(&server.addr).await;
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("audit records cannot be written"), "{text}");
}
