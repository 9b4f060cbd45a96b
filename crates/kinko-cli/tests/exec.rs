//! `kinko exec` through the binary, against a server started in-process (dev mode):
//!
//! - a child using the AWS SDK for Rust's default credential chain, with no access key in its
//!   environment, runs as the role: it reads a secret the role allows, gets AccessDeniedException
//!   naming its assumed-role ARN for one it doesn't, and sees a `--secret` value in its
//!   environment (a JSON key of it);
//! - with `--instance-profile NAME --imds`, the same child reads the instance profile role's
//!   credentials from the instance metadata endpoint (IMDSv2);
//! - the child's credentials endpoint is on loopback, answers only the child's token, in the
//!   container credentials shape (Expiration without fractional seconds, RoleArn);
//! - a caller who may not assume the role gets AWS's AccessDenied and the command never runs;
//! - the child's exit status passes through, a signal that ends it is reported as a shell does,
//!   and a SIGTERM sent to `kinko exec` reaches the child.
//!
//! The server runs on the test's multi-threaded runtime while the test blocks on the process.
//! The child is this test binary itself, run with `KINKO_EXEC_PROBE` set (see [`probe`]).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";
const PROBE: &str = "KINKO_EXEC_PROBE";

struct Fixture {
    _server: kinko_server::Running,
    endpoint: String,
    /// An IAM user allowed `sts:AssumeRole` on the role `app`.
    user: (String, String),
}

fn root_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_secretsmanager::config::SharedCredentialsProvider::new(
            Credentials::new("test", "test", None, None, "test"),
        ))
        .build()
}

async fn fixture() -> Fixture {
    let config = kinko_server::Config {
        dev: true,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..kinko_server::Config::default()
    };
    let server = kinko_server::start(config, Arc::new(kinko_core::SystemClock))
        .await
        .expect("server starts");
    let endpoint = format!("http://{}", server.local_addr());
    let root = root_config(&endpoint);
    let iam = aws_sdk_iam::Client::new(&root);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    iam.create_role()
        .role_name("app")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("create role");
    iam.put_role_policy()
        .role_name("app")
        .policy_name("read-app")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:app/*"}]}"#,
        )
        .send()
        .await
        .expect("role policy");
    iam.create_user().user_name("op").send().await.expect("user");
    iam.put_user_policy()
        .user_name("op")
        .policy_name("assume-app")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{ACCOUNT}:role/app"}}]}}"#
        ))
        .send()
        .await
        .expect("user policy");
    let key = iam
        .create_access_key()
        .user_name("op")
        .send()
        .await
        .expect("access key")
        .access_key
        .expect("key");
    let sm = aws_sdk_secretsmanager::Client::new(&root);
    for (name, value) in [
        ("app/db", r#"{"password":"pw-1","user":"app"}"#),
        ("other/db", "nope"),
    ] {
        sm.create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create secret");
    }
    Fixture {
        _server: server,
        endpoint,
        user: (key.access_key_id, key.secret_access_key),
    }
}

/// `kinko exec` as the IAM user `op`, with static keys in its own environment.
fn exec(f: &Fixture, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinko"));
    cmd.arg("exec").arg("--endpoint").arg(&f.endpoint).args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", &f.user.0)
        .env("AWS_SECRET_ACCESS_KEY", &f.user.1)
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    cmd
}

fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/app")
}

/// Runs in the child of `kinko exec` (this test binary with KINKO_EXEC_PROBE set); a no-op otherwise.
#[tokio::test]
async fn probe() {
    if std::env::var_os(PROBE).is_none() {
        return;
    }
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        assert!(
            std::env::var_os(name).is_none(),
            "{name} is in the child's environment"
        );
    }
    let imds = std::env::var(PROBE).as_deref() == Ok("imds");
    if imds {
        assert!(std::env::var_os("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_none());
        assert!(std::env::var_os("AWS_EC2_METADATA_SERVICE_ENDPOINT").is_some());
    } else {
        assert_eq!(std::env::var("DB_PASSWORD").as_deref(), Ok("pw-1"));
        container_endpoint_answers_only_its_token();
    }
    // The default chain, as an unmodified program loads it.
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let me = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    let arn = me.arn().unwrap_or_default().to_owned();
    assert_eq!(arn, format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/probe"));
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let v = sm
        .get_secret_value()
        .secret_id("app/db")
        .send()
        .await
        .expect("the role reads app/db");
    assert_eq!(v.secret_string(), Some(r#"{"password":"pw-1","user":"app"}"#));
    let denied = sm
        .get_secret_value()
        .secret_id("other/db")
        .send()
        .await
        .expect_err("the role may not read other/db");
    let denied = denied.into_service_error();
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
    assert_eq!(denied.code(), Some("AccessDeniedException"), "{denied:?}");
    let message = denied.message().unwrap_or_default();
    assert!(message.contains(&arn), "{message}");
}

/// One GET of `url` (`http://127.0.0.1:PORT/PATH`) with an optional Authorization header: the
/// status and the body.
fn get(url: &str, authorization: Option<&str>) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let mut tcp = std::net::TcpStream::connect(host).expect("connect");
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).expect("read");
    let status = answer[9..12].parse().expect("status");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The child's credentials endpoint answers its token only, in the container credentials shape.
fn container_endpoint_answers_only_its_token() {
    let url = std::env::var("AWS_CONTAINER_CREDENTIALS_FULL_URI").expect("full URI");
    let token = std::env::var("AWS_CONTAINER_AUTHORIZATION_TOKEN").expect("token");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(get(&url, None).0, 401);
    assert_eq!(get(&url, Some(&format!("{token}0"))).0, 401);
    let (status, body) = get(&url, Some(&token));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        v["AccessKeyId"].as_str().is_some_and(|k| k.starts_with("ASIA")),
        "{v}"
    );
    assert!(v["SecretAccessKey"].is_string() && v["Token"].is_string(), "{v}");
    assert_eq!(v["RoleArn"], role_arn());
    let expiration = v["Expiration"].as_str().expect("Expiration");
    // ISO 8601 without fractional seconds: 2025-06-01T12:00:00Z.
    assert_eq!(expiration.len(), 20, "{expiration}");
    assert!(
        expiration.ends_with('Z') && !expiration.contains('.'),
        "{expiration}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn child_sdk_runs_as_the_role_with_no_access_key() {
    let f = fixture().await;
    let me = std::env::current_exe().expect("test binary");
    let out = exec(
        &f,
        &[
            "--role",
            &role_arn(),
            "--session-name",
            "probe",
            "--secret",
            "DB_PASSWORD=app/db:password",
            "--",
        ],
    )
    .arg(me)
    .args(["--exact", "probe", "--nocapture", "--test-threads", "1"])
    .env(PROBE, "1")
    .output()
    .expect("kinko exec runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "status {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn child_sdk_reads_instance_profile_credentials_from_imds() {
    let f = fixture().await;
    let iam = aws_sdk_iam::Client::new(&root_config(&f.endpoint));
    iam.create_instance_profile()
        .instance_profile_name("app-profile")
        .send()
        .await
        .expect("instance profile");
    iam.add_role_to_instance_profile()
        .instance_profile_name("app-profile")
        .role_name("app")
        .send()
        .await
        .expect("add role");
    iam.put_user_policy()
        .user_name("op")
        .policy_name("read-profiles")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetInstanceProfile","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("user policy");
    let me = std::env::current_exe().expect("test binary");
    let out = exec(
        &f,
        &[
            "--instance-profile",
            "app-profile",
            "--imds",
            "--session-name",
            "probe",
            "--",
        ],
    )
    .arg(me)
    .args(["--exact", "probe", "--nocapture", "--test-threads", "1"])
    .env(PROBE, "imds")
    .output()
    .expect("kinko exec runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "status {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn caller_not_allowed_to_assume_gets_access_denied_and_nothing_runs() {
    let f = fixture().await;
    let marker = tempfile::NamedTempFile::new().expect("temp file");
    let path = marker.path().to_owned();
    drop(marker);
    let other = format!("arn:aws:iam::{ACCOUNT}:role/other");
    let out = exec(&f, &["--role", &other, "--", "touch"])
        .arg(&path)
        .output()
        .expect("kinko exec runs");
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "AccessDenied: User: arn:aws:iam::{ACCOUNT}:user/op is not authorized to perform: sts:AssumeRole on resource: {other}"
        )),
        "{stderr}"
    );
    assert!(!path.exists(), "the command ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_status_and_signals_pass_through() {
    let f = fixture().await;
    let status = exec(&f, &["--role", &role_arn(), "--", "sh", "-c", "exit 7"])
        .status()
        .expect("runs");
    assert_eq!(status.code(), Some(7));
    let status = exec(&f, &["--role", &role_arn(), "--", "sh", "-c", "kill -TERM $$"])
        .status()
        .expect("runs");
    assert_eq!(status.code(), Some(128 + 15));

    // A SIGTERM to `kinko exec` reaches the child, which ends as it chooses to.
    let dir = tempfile::tempdir().expect("temp dir");
    let ready = dir.path().join("ready");
    let script = format!(
        "trap 'exit 42' TERM; touch {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let mut child = exec(&f, &["--role", &role_arn(), "--", "sh", "-c", &script])
        .spawn()
        .expect("runs");
    let started = Instant::now();
    while !ready.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the child never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(42));
}
