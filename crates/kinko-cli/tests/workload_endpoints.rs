//! The server's own credentials endpoints, with no key anywhere on the workload's side, against a
//! server started in-process (dev mode) with `imds_listen` and `container_credentials_listen`:
//!
//! - an operator creates a container credentials token with `kinko attachment create-token`
//!   (which needs `iam:PassRole` for ECS tasks); a child using the AWS SDK for Rust's default
//!   chain with only `AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`
//!   runs as the token's role: it reads a secret the role allows and gets AccessDeniedException
//!   naming its assumed-role ARN for one it doesn't; once the token is revoked, the endpoint
//!   refuses it at once and a new child gets no credentials;
//! - an instance attachment (`kinko attachment create-instance`) serves an instance profile's
//!   role on its own port of the instance metadata endpoint, IMDSv2 as EC2 answers it (token TTL
//!   bounds, IMDSv1 refused, X-Forwarded-For refused, the identity document and iam/info); the
//!   same child with only `AWS_EC2_METADATA_SERVICE_ENDPOINT` runs as the role, its session named
//!   by the instance id; once revoked, the port answers nothing at once;
//! - two attachments side by side each serve only their own role: an IMDSv2 session token is good
//!   only on the port (and attachment) that issued it, and revoking one leaves the other serving;
//! - on a server with a manual clock, the SDK's IMDS provider gets new credentials across an
//!   expiry, and the old ones are refused as expired;
//! - a served session is audited as CloudTrail records ECS assuming a task role (userIdentity
//!   `AWSService`, invoked by `ecs-tasks.amazonaws.com`, no secret), and so is a role whose trust
//!   policy refuses the service.
//!
//! The child is this test binary itself, run with `KINKO_WORKLOAD_PROBE` set (see [`probe`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";
const PROBE: &str = "KINKO_WORKLOAD_PROBE";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Fixture {
    server: kinko_server::Running,
    endpoint: String,
    /// An IAM user allowed `kinko:*` and `iam:PassRole` on the role `app`.
    operator: (String, String),
    /// An IAM user allowed `kinko:*` only.
    no_pass_role: (String, String),
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

fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/app")
}

async fn user_with_policy(iam: &aws_sdk_iam::Client, name: &str, policy: &str) -> (String, String) {
    iam.create_user().user_name(name).send().await.expect("user");
    iam.put_user_policy()
        .user_name(name)
        .policy_name("p")
        .policy_document(policy)
        .send()
        .await
        .expect("user policy");
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("access key")
        .access_key
        .expect("key");
    (key.access_key_id, key.secret_access_key)
}

async fn fixture_with(clock: Arc<dyn kinko_core::Clock>) -> Fixture {
    let config = kinko_server::Config {
        dev: true,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        imds_listen: Some(LOOPBACK),
        container_credentials_listen: Some(SocketAddr::new(LOOPBACK, 0)),
        workload_session_seconds: 900,
        ..kinko_server::Config::default()
    };
    let server = kinko_server::start(config, clock).await.expect("server starts");
    let endpoint = format!("http://{}", server.local_addr());
    let root = root_config(&endpoint);
    let iam = aws_sdk_iam::Client::new(&root);
    // The role trusts the services that serve workloads, as an EC2 instance role or an ECS task
    // role does.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ecs-tasks.amazonaws.com"]},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
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
    iam.create_instance_profile()
        .instance_profile_name("web")
        .send()
        .await
        .expect("instance profile");
    iam.add_role_to_instance_profile()
        .instance_profile_name("web")
        .role_name("app")
        .send()
        .await
        .expect("add role");
    let operator = user_with_policy(
        &iam,
        "op",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kinko:*","Resource":"*"}},{{"Effect":"Allow","Action":"iam:PassRole","Resource":"{}"}}]}}"#,
            role_arn()
        ),
    )
    .await;
    let no_pass_role = user_with_policy(
        &iam,
        "nopass",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinko:*","Resource":"*"}]}"#,
    )
    .await;
    let sm = aws_sdk_secretsmanager::Client::new(&root);
    for (name, value) in [("app/db", "pw-app"), ("other/db", "pw-other")] {
        sm.create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create secret");
    }
    Fixture {
        server,
        endpoint,
        operator,
        no_pass_role,
    }
}

async fn fixture() -> Fixture {
    fixture_with(Arc::new(kinko_core::SystemClock)).await
}

/// A command whose environment has no AWS setting, no profile file and no instance metadata.
fn clean(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_REGION", REGION)
        .stdin(Stdio::null());
    cmd
}

/// `kinko attachment ARGS` signed with `keys`: its JSON answer, or its error text.
fn attachment(f: &Fixture, keys: &(String, String), args: &[&str]) -> Result<serde_json::Value, String> {
    let out = clean(env!("CARGO_BIN_EXE_kinko"))
        .arg("attachment")
        .arg("--endpoint")
        .arg(&f.endpoint)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &keys.0)
        .env("AWS_SECRET_ACCESS_KEY", &keys.1)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("kinko attachment runs");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("JSON answer"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs [`probe`] in a child with `env` (and nothing else of AWS's): whether it passed, and its
/// output.
fn run_probe(f: &Fixture, kind: &str, env: &[(&str, String)]) -> (bool, String) {
    let mut cmd = clean(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "probe", "--nocapture", "--test-threads", "1"])
        .env(PROBE, kind)
        .env("AWS_ENDPOINT_URL", &f.endpoint);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("probe runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success() && stdout.contains("1 passed"), text)
}

/// Runs in a child (this test binary with KINKO_WORKLOAD_PROBE set); a no-op otherwise. The
/// child's SDK loads the default chain as an unmodified program does.
#[tokio::test]
async fn probe() {
    let Ok(kind) = std::env::var(PROBE) else {
        return;
    };
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        assert!(std::env::var_os(name).is_none(), "{name} is set");
    }
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let me = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await;
    if kind == "no-credentials" {
        assert!(me.is_err(), "credentials after revocation: {me:?}");
        return;
    }
    let arn = me
        .expect("GetCallerIdentity")
        .arn()
        .unwrap_or_default()
        .to_owned();
    let expected = match kind.as_str() {
        "container" => format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/probe"),
        // The instance id names the session, as on EC2.
        _ => format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/i-"),
    };
    assert!(arn.starts_with(&expected), "{arn} is not {expected}...");
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let v = sm
        .get_secret_value()
        .secret_id("app/db")
        .send()
        .await
        .expect("the role reads app/db");
    assert_eq!(v.secret_string(), Some("pw-app"));
    let denied = sm
        .get_secret_value()
        .secret_id("other/db")
        .send()
        .await
        .expect_err("the role may not read other/db")
        .into_service_error();
    assert_eq!(denied.code(), Some("AccessDeniedException"), "{denied:?}");
    let message = denied.message().unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "User: {arn} is not authorized to perform: secretsmanager:GetSecretValue"
        )),
        "{message}"
    );
}

/// One request to `addr` with `headers`: the status and the body.
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.expect("read");
    let status = answer[9..12].parse().expect("status");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind((LOOPBACK, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread")]
async fn container_token_serves_its_role_until_revoked() {
    let f = fixture().await;
    let created = attachment(
        &f,
        &f.operator,
        &["create-token", "--role", &role_arn(), "--session-name", "probe"],
    )
    .expect("the operator creates a token");
    let token = created["Token"].as_str().expect("Token").to_owned();
    let token_id = created["ContainerCredentialsToken"]["TokenId"]
        .as_str()
        .expect("TokenId")
        .to_owned();
    assert_eq!(token.len(), 64, "256 random bits, hex");
    // Listed without the token.
    let listed = attachment(&f, &f.operator, &["list-tokens"]).expect("list");
    assert_eq!(
        listed["ContainerCredentialsTokens"][0]["TokenId"],
        token_id.as_str()
    );
    assert!(!listed.to_string().contains(&token), "{listed}");

    let addr = f.server.container_credentials_addr().expect("container endpoint");
    assert!(addr.ip().is_loopback());
    let url = format!("http://{addr}{}", kinko_server::CONTAINER_CREDENTIALS_PATH);
    let (status, body) = request(addr, "GET", "/v1/credentials", &[("Authorization", &token)]).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["RoleArn"], role_arn().as_str());
    let expiration = v["Expiration"].as_str().expect("Expiration");
    assert!(
        expiration.len() == 20 && expiration.ends_with('Z'),
        "{expiration}"
    );
    for wrong in ["", "0", &token[1..], &format!("{token}0")] {
        let headers: &[(&str, &str)] = if wrong.is_empty() {
            &[]
        } else {
            &[("Authorization", wrong)]
        };
        assert_eq!(
            request(addr, "GET", "/v1/credentials", headers).await.0,
            401,
            "{wrong}"
        );
    }

    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.clone()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    let (passed, out) = run_probe(&f, "container", &env);
    assert!(passed, "{out}");

    attachment(&f, &f.operator, &["delete-token", &token_id]).expect("revoke");
    assert_eq!(
        request(addr, "GET", "/v1/credentials", &[("Authorization", &token)])
            .await
            .0,
        401
    );
    let (passed, out) = run_probe(&f, "no-credentials", &env);
    assert!(passed, "{out}");
    let again = attachment(&f, &f.operator, &["delete-token", &token_id]).expect_err("gone");
    assert!(
        again.contains(&format!(
            "ResourceNotFoundException: Container credentials token {token_id} cannot be found."
        )),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn passing_the_role_needs_iam_pass_role() {
    let f = fixture().await;
    let e = attachment(&f, &f.no_pass_role, &["create-token", "--role", &role_arn()]).expect_err("denied");
    assert!(
        e.contains(&format!(
            "AccessDeniedException: User: arn:aws:iam::{ACCOUNT}:user/nopass is not authorized to perform: iam:PassRole on resource: {}",
            role_arn()
        )),
        "{e}"
    );
    let port = free_port().to_string();
    let e = attachment(
        &f,
        &f.no_pass_role,
        &["create-instance", "--instance-profile", "web", "--port", &port],
    )
    .expect_err("denied");
    assert!(e.contains("is not authorized to perform: iam:PassRole"), "{e}");
    let listed = attachment(&f, &f.operator, &["list-tokens"]).expect("list");
    assert_eq!(listed["ContainerCredentialsTokens"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_attachment_serves_its_profile_until_revoked() {
    let f = fixture().await;
    let port = free_port();
    let created = attachment(
        &f,
        &f.operator,
        &[
            "create-instance",
            "--instance-profile",
            "web",
            "--port",
            &port.to_string(),
        ],
    )
    .expect("the operator attaches the profile");
    let id = created["InstanceAttachment"]["AttachmentId"]
        .as_str()
        .expect("AttachmentId")
        .to_owned();
    let taken = attachment(
        &f,
        &f.operator,
        &[
            "create-instance",
            "--instance-profile",
            "web",
            "--port",
            &port.to_string(),
        ],
    )
    .expect_err("a port serves one attachment");
    assert!(taken.contains("ResourceExistsException"), "{taken}");
    f.server.sync_imds_listeners().await;
    let addr = SocketAddr::new(LOOPBACK, port);

    // IMDSv2 as EC2 answers it.
    let ttl = "x-aws-ec2-metadata-token-ttl-seconds";
    for bad in ["0", "21601", "x"] {
        assert_eq!(
            request(addr, "PUT", "/latest/api/token", &[(ttl, bad)]).await.0,
            400,
            "{bad}"
        );
    }
    assert_eq!(request(addr, "PUT", "/latest/api/token", &[]).await.0, 400);
    assert_eq!(
        request(
            addr,
            "PUT",
            "/latest/api/token",
            &[(ttl, "60"), ("X-Forwarded-For", "10.0.0.1")]
        )
        .await
        .0,
        403
    );
    let (status, token) = request(addr, "PUT", "/latest/api/token", &[(ttl, "21600")]).await;
    assert_eq!(status, 200);
    let creds_path = "/latest/meta-data/iam/security-credentials/";
    assert_eq!(request(addr, "GET", creds_path, &[]).await.0, 401, "IMDSv1");
    let with = [("x-aws-ec2-metadata-token", token.as_str())];
    assert_eq!(
        request(addr, "GET", creds_path, &with).await,
        (200, "app".to_owned())
    );
    let (status, body) = request(addr, "GET", &format!("{creds_path}app"), &with).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (v["Code"].as_str(), v["Type"].as_str()),
        (Some("Success"), Some("AWS-HMAC"))
    );
    assert!(v["Expiration"].as_str().is_some_and(|e| e.len() == 20), "{v}");
    let (_, doc) = request(addr, "GET", "/latest/dynamic/instance-identity/document", &with).await;
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert_eq!(
        (doc["region"].as_str(), doc["accountId"].as_str()),
        (Some(REGION), Some(ACCOUNT))
    );
    let (_, info) = request(addr, "GET", "/latest/meta-data/iam/info", &with).await;
    let info: serde_json::Value = serde_json::from_str(&info).expect("JSON");
    assert_eq!(
        info["InstanceProfileArn"],
        format!("arn:aws:iam::{ACCOUNT}:instance-profile/web").as_str()
    );

    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://{addr}/"))];
    let (passed, out) = run_probe(&f, "imds", &env);
    assert!(passed, "{out}");

    attachment(&f, &f.operator, &["delete-instance", &id]).expect("revoke");
    // At once, before the listeners are brought in step.
    assert_eq!(
        request(addr, "PUT", "/latest/api/token", &[(ttl, "60")]).await.0,
        404
    );
    assert_eq!(request(addr, "GET", creds_path, &with).await.0, 404);
    f.server.sync_imds_listeners().await;
    let (passed, out) = run_probe(&f, "no-credentials", &env);
    assert!(passed, "{out}");
}

/// The assumed-role ARN `creds` (a credentials endpoint's JSON answer) sign as.
async fn caller_arn(f: &Fixture, creds: &serde_json::Value) -> String {
    let field = |k: &str| creds[k].as_str().expect(k).to_owned();
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&f.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                field("AccessKeyId"),
                field("SecretAccessKey"),
                Some(field("Token")),
                None,
                "endpoint",
            ))
            .build(),
    );
    sts.get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity")
        .arn()
        .unwrap_or_default()
        .to_owned()
}

/// An IMDSv2 session token of the port at `addr`.
async fn imds_token(addr: SocketAddr) -> String {
    let (status, token) = request(
        addr,
        "PUT",
        "/latest/api/token",
        &[("x-aws-ec2-metadata-token-ttl-seconds", "600")],
    )
    .await;
    assert_eq!(status, 200, "{token}");
    token
}

#[tokio::test(flavor = "multi_thread")]
async fn each_attachment_serves_only_its_own_role() {
    let f = fixture().await;
    let root = root_config(&f.endpoint);
    let iam = aws_sdk_iam::Client::new(&root);
    // A second role and instance profile, which the operator may pass too.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ecs-tasks.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("batch")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("create role");
    iam.create_instance_profile()
        .instance_profile_name("jobs")
        .send()
        .await
        .expect("instance profile");
    iam.add_role_to_instance_profile()
        .instance_profile_name("jobs")
        .role_name("batch")
        .send()
        .await
        .expect("add role");
    iam.put_user_policy()
        .user_name("op")
        .policy_name("pass-batch")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::{ACCOUNT}:role/batch"}}]}}"#
        ))
        .send()
        .await
        .expect("user policy");
    let assumed = |role: &str| format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/");

    // Container path: each token answers its own role's session, and no other.
    let token_of = |role: &str, name: &str| {
        let created = attachment(
            &f,
            &f.operator,
            &[
                "create-token",
                "--role",
                &format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                "--session-name",
                name,
            ],
        )
        .expect("token");
        (
            created["Token"].as_str().expect("Token").to_owned(),
            created["ContainerCredentialsToken"]["TokenId"]
                .as_str()
                .expect("TokenId")
                .to_owned(),
        )
    };
    let (app_token, app_token_id) = token_of("app", "aa");
    let (batch_token, _) = token_of("batch", "bb");
    let cc = f.server.container_credentials_addr().expect("container endpoint");
    let mut container = Vec::new();
    for token in [&app_token, &batch_token] {
        let (status, body) = request(cc, "GET", "/v1/credentials", &[("Authorization", token)]).await;
        assert_eq!(status, 200, "{body}");
        container.push(serde_json::from_str::<serde_json::Value>(&body).expect("JSON"));
    }
    assert_eq!(
        caller_arn(&f, &container[0]).await,
        format!("{}aa", assumed("app"))
    );
    assert_eq!(
        caller_arn(&f, &container[1]).await,
        format!("{}bb", assumed("batch"))
    );
    attachment(&f, &f.operator, &["delete-token", &app_token_id]).expect("revoke");
    assert_eq!(
        request(cc, "GET", "/v1/credentials", &[("Authorization", &app_token)])
            .await
            .0,
        401
    );
    assert_eq!(
        request(cc, "GET", "/v1/credentials", &[("Authorization", &batch_token)])
            .await
            .0,
        200,
        "revoking one token leaves the others"
    );

    // Instance path: each port serves its own profile's role.
    let attach = |profile: &str, port: u16| {
        attachment(
            &f,
            &f.operator,
            &[
                "create-instance",
                "--instance-profile",
                profile,
                "--port",
                &port.to_string(),
            ],
        )
        .expect("attach")["InstanceAttachment"]["AttachmentId"]
            .as_str()
            .expect("AttachmentId")
            .to_owned()
    };
    let web_port = free_port();
    let jobs_port = loop {
        let p = free_port();
        if p != web_port {
            break p;
        }
    };
    let web_id = attach("web", web_port);
    attach("jobs", jobs_port);
    f.server.sync_imds_listeners().await;
    let (web, jobs) = (
        SocketAddr::new(LOOPBACK, web_port),
        SocketAddr::new(LOOPBACK, jobs_port),
    );
    let (web_token, jobs_token) = (imds_token(web).await, imds_token(jobs).await);
    let creds = "/latest/meta-data/iam/security-credentials/";
    let get = |addr: SocketAddr, path: String, token: String| async move {
        request(addr, "GET", &path, &[("x-aws-ec2-metadata-token", &token)]).await
    };
    assert_eq!(
        get(web, creds.to_owned(), web_token.clone()).await,
        (200, "app".to_owned())
    );
    assert_eq!(
        get(jobs, creds.to_owned(), jobs_token.clone()).await,
        (200, "batch".to_owned())
    );
    // A session token is good only on the port that issued it.
    assert_eq!(get(jobs, creds.to_owned(), web_token.clone()).await.0, 401);
    assert_eq!(get(web, creds.to_owned(), jobs_token.clone()).await.0, 401);
    // A port names only its own role.
    assert_eq!(get(jobs, format!("{creds}app"), jobs_token.clone()).await.0, 404);
    let (status, body) = get(jobs, format!("{creds}batch"), jobs_token.clone()).await;
    assert_eq!(status, 200, "{body}");
    let jobs_creds: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        caller_arn(&f, &jobs_creds)
            .await
            .starts_with(&format!("{}i-", assumed("batch")))
    );
    let (status, body) = get(web, format!("{creds}app"), web_token.clone()).await;
    assert_eq!(status, 200, "{body}");
    let web_creds: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        caller_arn(&f, &web_creds)
            .await
            .starts_with(&format!("{}i-", assumed("app")))
    );

    // Revoking one attachment stops its port at once and leaves the other serving.
    attachment(&f, &f.operator, &["delete-instance", &web_id]).expect("revoke");
    assert_eq!(get(web, creds.to_owned(), web_token.clone()).await.0, 404);
    assert_eq!(
        get(jobs, creds.to_owned(), jobs_token.clone()).await,
        (200, "batch".to_owned())
    );
    // The port attached again, to another profile before the listeners are brought in step: the
    // session tokens issued under the revoked attachment are refused, new ones see the new role.
    attach("jobs", web_port);
    assert_eq!(get(web, creds.to_owned(), web_token.clone()).await.0, 401);
    let fresh = imds_token(web).await;
    assert_eq!(
        get(web, creds.to_owned(), fresh.clone()).await,
        (200, "batch".to_owned())
    );
    assert_eq!(get(web, format!("{creds}app"), fresh).await.0, 404);
}

/// The server's manual clock, as the SDK's time source.
#[derive(Debug)]
struct ManualTime(Arc<kinko_core::ManualClock>);

impl aws_smithy_async::time::TimeSource for ManualTime {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH
            + Duration::from_millis(u64::try_from(kinko_core::Clock::now(&*self.0).millis()).unwrap_or(0))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_credentials_are_refreshed_across_their_expiry() {
    let clock = Arc::new(kinko_core::ManualClock::starting_now());
    let f = fixture_with(clock.clone()).await;
    let port = free_port();
    attachment(
        &f,
        &f.operator,
        &[
            "create-instance",
            "--instance-profile",
            "web",
            "--port",
            &port.to_string(),
        ],
    )
    .expect("attach");
    f.server.sync_imds_listeners().await;
    let time = aws_smithy_async::time::SharedTimeSource::new(ManualTime(clock.clone()));
    let provider_config =
        aws_config::provider_config::ProviderConfig::default().with_time_source(ManualTime(clock.clone()));
    let imds = aws_config::imds::Client::builder()
        .configure(&provider_config)
        .endpoint(format!("http://127.0.0.1:{port}/"))
        .expect("endpoint")
        .build();
    let provider = aws_sdk_secretsmanager::config::SharedCredentialsProvider::new(
        aws_config::imds::credentials::ImdsCredentialsProvider::builder()
            .configure(&provider_config)
            .imds_client(imds)
            .build(),
    );
    let sm = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&f.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(provider.clone())
            .time_source(time.clone())
            .build(),
    );
    use aws_credential_types::provider::ProvideCredentials as _;
    let first = provider.provide_credentials().await.expect("credentials");
    sm.get_secret_value()
        .secret_id("app/db")
        .send()
        .await
        .expect("read");

    clock.advance(Duration::from_secs(901));
    let sts = |creds: Credentials| {
        aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&f.endpoint)
                .region(Region::new(REGION))
                .credentials_provider(creds)
                .time_source(time.clone())
                .build(),
        )
    };
    let expired = sts(first.clone())
        .get_caller_identity()
        .send()
        .await
        .expect_err("the first session has expired")
        .into_service_error();
    assert_eq!(expired.code(), Some("ExpiredToken"), "{expired:?}");
    // The SDK sees the expiry and fetches new credentials from the endpoint.
    sm.get_secret_value()
        .secret_id("app/db")
        .send()
        .await
        .expect("read with refreshed credentials");
    let second = provider.provide_credentials().await.expect("credentials");
    assert_ne!(first.access_key_id(), second.access_key_id());
    sts(second)
        .get_caller_identity()
        .send()
        .await
        .expect("the new session works");
}

#[tokio::test(flavor = "multi_thread")]
async fn served_sessions_are_audited_as_the_service_assuming_the_role() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("audit.log");
    let config = kinko_server::Config {
        dev: true,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        audit_log: Some(log.clone()),
        container_credentials_listen: Some(SocketAddr::new(LOOPBACK, 0)),
        ..kinko_server::Config::default()
    };
    let server = kinko_server::start(config, Arc::new(kinko_core::SystemClock))
        .await
        .expect("server starts");
    let endpoint = format!("http://{}", server.local_addr());
    let iam = aws_sdk_iam::Client::new(&root_config(&endpoint));
    iam.create_role()
        .role_name("task")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("create role");
    let f = Fixture {
        endpoint,
        operator: ("test".to_owned(), "test".to_owned()),
        no_pass_role: ("test".to_owned(), "test".to_owned()),
        server,
    };
    let role = format!("arn:aws:iam::{ACCOUNT}:role/task");
    let created = attachment(
        &f,
        &f.operator,
        &["create-token", "--role", &role, "--session-name", "t1"],
    )
    .expect("token");
    let token = created["Token"].as_str().expect("Token").to_owned();
    let addr = f.server.container_credentials_addr().expect("endpoint");
    let (status, body) = request(addr, "GET", "/v1/credentials", &[("Authorization", &token)]).await;
    assert_eq!(status, 200, "{body}");
    let creds: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let text = std::fs::read_to_string(&log).expect("audit log");
    let secret = creds["SecretAccessKey"].as_str().expect("secret");
    assert!(
        !text.contains(secret) && !text.contains(&token),
        "a secret in the audit log"
    );
    let record: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["eventName"] == "AssumeRole")
        .expect("an AssumeRole record");
    assert_eq!(record["eventSource"], "sts.amazonaws.com");
    // CloudTrail names a service acting on its own behalf by its `invokedBy` alone; the record
    // is the role's account's.
    assert_eq!(
        record["userIdentity"],
        serde_json::json!({"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"})
    );
    assert_eq!(record["recipientAccountId"], ACCOUNT);
    assert_eq!(record["sourceIPAddress"], "ecs-tasks.amazonaws.com");
    assert_eq!(record["requestParameters"]["roleArn"], role.as_str());
    assert_eq!(
        record["responseElements"]["credentials"]["accessKeyId"],
        creds["AccessKeyId"]
    );
    assert_eq!(
        record["responseElements"]["assumedRoleUser"]["arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/task/t1").as_str()
    );
    // A role that trusts only EC2 gets no session on the container path, and the refusal is
    // recorded.
    iam.create_role()
        .role_name("untrusting")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("create role");
    let other = format!("arn:aws:iam::{ACCOUNT}:role/untrusting");
    let created = attachment(&f, &f.operator, &["create-token", "--role", &other]).expect("token");
    let token = created["Token"].as_str().expect("Token").to_owned();
    let (status, body) = request(addr, "GET", "/v1/credentials", &[("Authorization", &token)]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("ecs-tasks.amazonaws.com is not authorized to perform: sts:AssumeRole"),
        "{body}"
    );
    let text = std::fs::read_to_string(&log).expect("audit log");
    assert!(
        text.lines()
            .any(|l| l.contains("\"AccessDenied\"") && l.contains(&other)),
        "no record of the refusal"
    );
}
