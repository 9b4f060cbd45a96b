//! `kinko agent` through the binary, against a kinko server started in-process, read over HTTP as
//! programs written for the AWS Secrets Manager Agent read it:
//!
//! - both request forms answer GetSecretValue's fields in the AWS agent's shape, for AWSCURRENT, a
//!   stage and a version id;
//! - a second read is served from the cache (the server's `/metrics` count no second
//!   GetSecretValue), `refreshNow=true` reads again, the size bound drops the oldest entry;
//! - past the TTL, the value is read again only when DescribeSecret shows another version;
//! - requests without the token, with a wrong one, or with `X-Forwarded-For` are refused with the
//!   AWS agent's statuses; the token may come from a file;
//! - with the server stopped, the cached value is served (and not when that is turned off);
//! - Secrets Manager's errors pass through, AccessDeniedException among them, with the agent run
//!   as the child of `kinko exec --role ...` with no access key.
//!
//! Each test that counts the server's calls has a server of its own: counts are per server.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use kinko_tests::*;

const TOKEN: &str = "agent-test-token-0123456789";
const GSV: &str = "GetSecretValue";
const DESCRIBE: &str = "DescribeSecret";

/// A running `kinko agent` (or `kinko exec ... -- kinko agent`), stopped with SIGTERM on drop.
struct Agent {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// `kinko` with no AWS settings of the test's environment, region us-east-1, no IMDS, no shared
/// files.
fn kinko() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinko"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null());
    cmd
}

impl Agent {
    /// `kinko agent` reading from `server` as its root, with `config` as its config file and the
    /// token in AWS_TOKEN.
    async fn start(server: &TestServer, config: &str) -> Agent {
        let mut cmd = kinko();
        cmd.env("AWS_ACCESS_KEY_ID", server.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", server.secret_access_key())
            .env("AWS_TOKEN", TOKEN);
        Agent::spawn(cmd, &server.endpoint_url(), config).await
    }

    /// Runs `cmd` (`kinko`, or a command ending in it) with `agent --config FILE --port 0
    /// --endpoint ENDPOINT` appended, and waits for the address it prints.
    async fn spawn(mut cmd: Command, endpoint: &str, config: &str) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("agent.toml");
        std::fs::write(&file, config).expect("config file");
        cmd.args(["agent", "--port", "0", "--endpoint", endpoint, "--config"])
            .arg(&file)
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("kinko runs");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            lines.find_map(|l| {
                l.ok()?
                    .strip_prefix("kinko agent listening on http://")
                    .map(str::to_owned)
            })
        })
        .await
        .expect("reader");
        let Some(addr) = line else {
            let out = child.wait_with_output().expect("exit");
            panic!(
                "the agent did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        Agent {
            child,
            addr: addr.parse().expect("address"),
            _dir: dir,
        }
    }

    /// GET `path` with the token in `X-Aws-Parameters-Secrets-Token`.
    async fn get(&self, path: &str) -> RawResponse {
        self.get_with(path, &[("X-Aws-Parameters-Secrets-Token", TOKEN)])
            .await
    }

    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        self.send("GET", path, headers).await
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("localhost:{}", self.addr.port()));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        send_to(self.addr, request.body(Vec::new()).expect("request")).await
    }

    /// GET `path`, which must answer 200; its JSON.
    async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    }
}

/// The server's count of Secrets Manager `action` calls, whatever their outcome.
async fn calls(server: &TestServer, action: &str) -> f64 {
    Scrape::of(server.addr()).await.value(
        "kinko_requests_total",
        &[("service", "secretsmanager"), ("action", action)],
    )
}

async fn own_server() -> TestServer {
    TestServer::start_with(dev_config(), TestClock::System).await
}

fn query(name: &str) -> String {
    format!("/secretsmanager/get?secretId={name}")
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_get_secret_value_in_both_forms() {
    let server = TestServer::start();
    let sm = server.client();
    let name = unique_name("agent/fields");
    let (arn, v1) = sm.create_string(&name, "first").await;
    let v2 = sm.put_string(&name, "second").await;
    let agent = Agent::start(server, "").await;

    let got = agent.json(&query(&name)).await;
    let sdk = sm
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got["ARN"], arn.as_str());
    assert_eq!(got["Name"], name.as_str());
    assert_eq!(got["VersionId"], v2.as_str());
    assert_eq!(got["SecretString"], "second");
    assert_eq!(got["VersionStages"], serde_json::json!(["AWSCURRENT"]));
    let created = sdk.created_date().expect("CreatedDate");
    let created = created.secs() as f64 + f64::from(created.subsec_nanos()) / 1e9;
    assert_eq!(got["CreatedDate"], created.to_string().as_str(), "{got}");
    assert!(got.get("SecretBinary").is_none(), "{got}");
    let keys: Vec<&str> = got
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "{got}");

    // The path form (the id percent-encoded, its slash included) answers the same.
    let encoded = name.replace('/', "%2F");
    assert_eq!(agent.json(&format!("/v1/{encoded}")).await, got);
    assert_eq!(agent.json(&format!("/v1/{name}")).await, got);
    assert_eq!(agent.json(&format!("/v1/{arn}")).await["SecretString"], "second");

    let previous = agent
        .json(&format!("{}&versionStage=AWSPREVIOUS", query(&name)))
        .await;
    assert_eq!(previous["SecretString"], "first");
    assert_eq!(previous["VersionId"], v1.as_str());
    let by_id = agent.json(&format!("/v1/{encoded}?versionId={v1}")).await;
    assert_eq!(by_id["SecretString"], "first");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_read_is_served_from_the_cache_until_refresh_now() {
    let server = own_server().await;
    let sm = server.client();
    sm.create_string("cached", "v-1").await;
    let agent = Agent::start(&server, "").await;

    let before = calls(&server, GSV).await;
    assert_eq!(agent.json(&query("cached")).await["SecretString"], "v-1");
    assert_eq!(calls(&server, GSV).await - before, 1.0);
    assert_eq!(agent.json(&query("cached")).await["SecretString"], "v-1");
    assert_eq!(agent.json("/v1/cached").await["SecretString"], "v-1");
    // The path form is the same key as the query form: still one read.
    assert_eq!(calls(&server, GSV).await - before, 1.0);

    // Within the TTL a changed secret is not seen, until refreshNow.
    sm.put_string("cached", "v-2").await;
    assert_eq!(agent.json(&query("cached")).await["SecretString"], "v-1");
    assert_eq!(calls(&server, GSV).await - before, 1.0);
    let fresh = agent.json(&format!("{}&refreshNow=true", query("cached"))).await;
    assert_eq!(fresh["SecretString"], "v-2");
    assert_eq!(calls(&server, GSV).await - before, 2.0);
    // The refreshed value is what the cache serves now.
    assert_eq!(agent.json(&query("cached")).await["SecretString"], "v-2");
    assert_eq!(calls(&server, GSV).await - before, 2.0);
    assert_eq!(calls(&server, DESCRIBE).await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_size_bound_drops_the_entry_written_first() {
    let server = own_server().await;
    let sm = server.client();
    sm.create_string("a", "A").await;
    sm.create_string("b", "B").await;
    let one = Agent::start(&server, "cache_size = 1").await;
    let two = Agent::start(&server, "cache_size = 2").await;

    for (agent, reads) in [(&one, 3.0), (&two, 2.0)] {
        let before = calls(&server, GSV).await;
        for id in ["a", "b", "a"] {
            agent.json(&query(id)).await;
        }
        assert_eq!(calls(&server, GSV).await - before, reads);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_ttl_the_value_is_read_again_only_when_the_version_changed() {
    let server = own_server().await;
    let sm = server.client();
    sm.create_string("rotating", "old").await;
    // A TTL of 0: every read is past it.
    let agent = Agent::start(&server, "ttl_seconds = 0").await;

    let first = agent.json(&query("rotating")).await;
    let (gsv, describe) = (calls(&server, GSV).await, calls(&server, DESCRIBE).await);
    // Same AWSCURRENT: checked with DescribeSecret, not read again.
    assert_eq!(agent.json(&query("rotating")).await, first);
    assert_eq!(calls(&server, DESCRIBE).await - describe, 1.0);
    assert_eq!(calls(&server, GSV).await - gsv, 0.0);

    // A new AWSCURRENT: read again.
    let v2 = sm.put_string("rotating", "new").await;
    let second = agent.json(&query("rotating")).await;
    assert_eq!(second["SecretString"], "new");
    assert_eq!(second["VersionId"], v2.as_str());
    assert_eq!(calls(&server, DESCRIBE).await - describe, 2.0);
    assert_eq!(calls(&server, GSV).await - gsv, 1.0);

    // A version asked for by stage follows that stage: the old one is AWSPREVIOUS now.
    let previous = format!("{}&versionStage=AWSPREVIOUS", query("rotating"));
    assert_eq!(agent.json(&previous).await["SecretString"], "old");
    sm.put_string("rotating", "newer").await;
    assert_eq!(agent.json(&previous).await["SecretString"], "new");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_the_token_or_through_a_proxy_are_refused() {
    let server = TestServer::start();
    let name = unique_name("agent/guarded");
    server.client().create_string(&name, "guarded").await;
    let agent = Agent::start(server, "").await;
    let path = query(&name);

    let refused = |r: RawResponse, status: u16, body: &str| {
        assert_eq!((r.status, r.text().as_str()), (status, body));
    };
    refused(agent.get_with(&path, &[]).await, 403, "Bad Token");
    let wrong = format!("{TOKEN}x");
    refused(
        agent
            .get_with(&path, &[("X-Aws-Parameters-Secrets-Token", &wrong)])
            .await,
        403,
        "Bad Token",
    );
    refused(
        agent
            .get_with(&path, &[("X-Aws-Parameters-Secrets-Token", "")])
            .await,
        403,
        "Bad Token",
    );
    // The token in a header not configured for it.
    refused(
        agent.get_with(&path, &[("Authorization", TOKEN)]).await,
        403,
        "Bad Token",
    );
    refused(
        agent
            .get_with(
                &path,
                &[
                    ("X-Aws-Parameters-Secrets-Token", TOKEN),
                    ("X-Forwarded-For", "10.0.0.1"),
                ],
            )
            .await,
        400,
        "Forwarded",
    );
    let token = [("X-Aws-Parameters-Secrets-Token", TOKEN)];
    refused(agent.send("POST", &path, &token).await, 405, "Not allowed");
    refused(agent.get("/nothing").await, 404, "Not found");
    refused(
        agent.get("/secretsmanager/get").await,
        400,
        "missing parameter secretId",
    );
    refused(agent.get("/v1/").await, 400, "missing secret ID");
    refused(
        agent.get(&format!("{path}&versionstage=AWSCURRENT")).await,
        400,
        "unknown parameter: versionstage",
    );
    refused(
        agent.get(&format!("{path}&refreshNow=maybe")).await,
        400,
        "invalid refreshNow value",
    );
    // The health check needs no token; the second default header carries it as well.
    refused(agent.get_with("/ping", &[]).await, 200, "healthy");
    let ok = agent.get_with(&path, &[("X-Vault-Token", TOKEN)]).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_can_come_from_a_file_and_a_missing_token_stops_the_start() {
    let server = TestServer::start();
    let name = unique_name("agent/file-token");
    server.client().create_string(&name, "from-file").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, "file-token-abc\n").expect("token file");
    let mut cmd = kinko();
    cmd.env("AWS_ACCESS_KEY_ID", server.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", server.secret_access_key())
        .env("MY_TOKEN", format!("file://{}", file.display()));
    let agent = Agent::spawn(
        cmd,
        &server.endpoint_url(),
        "ssrf_env_variables = [\"MY_TOKEN\"]\nssrf_headers = [\"X-My-Token\"]",
    )
    .await;
    let r = agent
        .get_with(&query(&name), &[("X-My-Token", "file-token-abc")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["SecretString"], "from-file");
    // The variable names the file; its value is not the token.
    let named = format!("file://{}", file.display());
    let r = agent.get_with(&query(&name), &[("X-My-Token", &named)]).await;
    assert_eq!(r.status, 403);
    let r = agent.get(&query(&name)).await;
    assert_eq!(r.status, 403);

    let out = kinko()
        .args(["agent", "--port", "0"])
        .output()
        .expect("kinko runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no SSRF token: set one of AWS_TOKEN"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_settings_stop_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "ttl_seconds = 300\ncache_ttl = 5\n").expect("config");
    let out = kinko()
        .env("AWS_TOKEN", TOKEN)
        .args(["agent", "--port", "0", "--config"])
        .arg(&bad)
        .output()
        .expect("kinko runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `cache_ttl`"), "{stderr}");

    let out = kinko()
        .env("AWS_TOKEN", TOKEN)
        .args(["agent", "--port", "0", "--bind", "0.0.0.0"])
        .output()
        .expect("kinko runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0.0.0.0 is not a loopback address"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cached_value_is_served_while_the_server_is_down_unless_turned_off() {
    let server = own_server().await;
    server.client().create_string("stale", "kept").await;
    let stale = Agent::start(&server, "ttl_seconds = 0").await;
    let strict = Agent::start(&server, "ttl_seconds = 0\nignore_transient_errors = false").await;
    let first = stale.json(&query("stale")).await;
    strict.json(&query("stale")).await;

    server.shutdown().await;
    assert_eq!(stale.json(&query("stale")).await, first);
    let r = strict.get(&query("stale")).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(
        r.text(),
        r#"{"__type":"ConnectionError", "message":"Read Error"}"#
    );
    // Nothing cached, nothing to serve.
    let r = stale.get(&query("never-read")).await;
    assert_eq!(r.status, 502, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_managers_errors_pass_through() {
    let server = TestServer::start();
    let agent = Agent::start(server, "").await;
    let missing = unique_name("agent/missing");
    let r = agent.get(&query(&missing)).await;
    let sdk = server
        .client()
        .get_secret_value()
        .secret_id(&missing)
        .send()
        .await
        .expect_err("no such secret")
        .into_service_error();
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["__type"], "ResourceNotFoundException");
    assert_eq!(r.json()["message"], sdk.message().expect("message"));
}

#[tokio::test(flavor = "multi_thread")]
async fn under_kinko_exec_it_reads_as_the_role_with_no_access_key() {
    let server = TestServer::start();
    let n = short_id();
    let (allowed, other) = (format!("agent-{n}/db"), format!("other-{n}/db"));
    let sm = server.client();
    sm.create_string(&allowed, "role-value").await;
    sm.create_string(&other, "not-yours").await;
    let role_arn = server
        .role(
            &format!("agent-{n}"),
            &trust_policy(&[&format!("arn:aws:iam::{}:root", server.account_id())]),
            Some(&allow(
                &["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                &[&format!("arn:aws:secretsmanager:*:*:secret:agent-{n}/*")],
            )),
        )
        .await;
    let op = server
        .user("agent-op", Some(&allow(&["sts:AssumeRole"], &[&role_arn])))
        .await;
    let creds = &op.creds;
    let mut cmd = kinko();
    cmd.env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env("AWS_TOKEN", TOKEN)
        .args(["exec", "--endpoint", &server.endpoint_url(), "--role", &role_arn])
        .args(["--session-name", "agent", "--"])
        .arg(env!("CARGO_BIN_EXE_kinko"));
    let agent = Agent::spawn(cmd, &server.endpoint_url(), "").await;

    assert_eq!(agent.json(&query(&allowed)).await["SecretString"], "role-value");
    let r = agent.get(&query(&other)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert_eq!(body["__type"], "AccessDeniedException");
    let me = format!(
        "arn:aws:sts::{}:assumed-role/agent-{n}/agent",
        server.account_id()
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "User: {me} is not authorized to perform: secretsmanager:GetSecretValue"
        )),
        "{message}"
    );
}
