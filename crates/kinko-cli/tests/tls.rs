//! `kinko server --tls-cert --tls-key` as a process: HTTPS served, SIGHUP reading the certificate
//! again (and still reopening the audit log), and clear start-up errors for bad files.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kinko_tests::{TestCa, TlsProbe};

fn kinko() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinko"));
    for var in [
        "KINKO_CONFIG",
        "KINKO_ROOT_KEY",
        "KINKO_STORE",
        "KINKO_TLS_CERT",
        "KINKO_TLS_KEY",
        "KINKO_LOG",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null());
    c
}

/// Runs a start that must fail, bounded.
fn failed_start(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kinko");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kinko kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Starts kinko and returns it with the address of its `kinko listening on https://` line.
fn start_https(cmd: &mut Command) -> (Child, std::net::SocketAddr) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kinko");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no listening line");
        };
        if let Some(addr) = line.strip_prefix("kinko listening on https://") {
            return (child, addr.trim().parse().expect("an address"));
        }
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn tls_args(cmd: &mut Command, cert: &Path, key: &Path) {
    cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_still_reopens_the_audit_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (files, first) = ca.issue_files(dir.path(), "server");
    let audit = dir.path().join("audit.log");
    let mut cmd = kinko();
    cmd.args(["server", "--dev", "--listen", "127.0.0.1:0", "--audit-log"])
        .arg(&audit);
    tls_args(&mut cmd, &files.cert, &files.key);
    let (child, addr) = start_https(&mut cmd);

    let mut open = TlsProbe::connect(addr, ca.client_config())
        .await
        .expect("handshake");
    assert_eq!(open.server_cert(), first.cert_der);
    assert_eq!(open.get("/health").await.0, 200);

    // What logrotate and a certificate renewal do: move the log away, replace the pair, SIGHUP.
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&audit, &rotated).expect("move the audit log");
    let second = ca.issue();
    ca.write(&files, &second);
    signal(&child, "-HUP");
    // The signal is handled asynchronously: wait (bounded) for a handshake with the new pair.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let probe = TlsProbe::connect(addr, ca.client_config())
            .await
            .expect("handshake");
        if probe.server_cert() == second.cert_der {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload the certificate");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The connection from before the reload still works.
    assert_eq!(open.get("/health").await, (200, "ok".to_owned()));
    // A call over HTTPS is recorded in the reopened audit log.
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(format!("https://{addr}"))
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .http_client(ca.sdk_http_client())
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "test", "test", None, None, "tls-test",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity over HTTPS");
    signal(&child, "-TERM");
    let out = child.wait_with_output().expect("exit");
    assert!(out.status.success());
    let log = std::fs::read_to_string(&audit).expect("the reopened audit log");
    assert!(log.contains("\"GetCallerIdentity\""), "{log}");
    assert!(log.contains("\"tlsDetails\""), "{log}");
}

#[test]
fn bad_tls_files_stop_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (files, _) = ca.issue_files(dir.path(), "a");
    let (other, _) = ca.issue_files(dir.path(), "b");
    let missing = dir.path().join("missing.crt");
    let cases: [(&Path, &Path, String); 3] = [
        (
            &files.cert,
            &other.key,
            format!(
                "kinko: the TLS key in {} does not belong to the certificate in {}",
                other.key.display(),
                files.cert.display()
            ),
        ),
        (
            &missing,
            &files.key,
            format!(
                "kinko: cannot read the TLS certificate file {}",
                missing.display()
            ),
        ),
        (
            &files.key,
            &files.key,
            format!(
                "kinko: the TLS certificate file {} holds no PEM certificate",
                files.key.display()
            ),
        ),
    ];
    for (cert, key, expected) in cases {
        let mut cmd = kinko();
        cmd.args(["server", "--dev", "--listen", "127.0.0.1:0"]);
        tls_args(&mut cmd, cert, key);
        let out = failed_start(&mut cmd);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&expected), "{expected}\n{err}");
    }
    // One without the other.
    let out = failed_start(
        kinko()
            .args(["server", "--dev", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(&files.cert),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-key <PATH>"), "{err}");
}

/// `tls_cert` / `tls_key` in the config file serve HTTPS; `KINKO_TLS_CERT` / `KINKO_TLS_KEY` override
/// them.
#[tokio::test]
async fn the_pair_comes_from_the_config_file_and_the_variables_override_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (in_file, from_file) = ca.issue_files(dir.path(), "file");
    let (in_env, from_env) = ca.issue_files(dir.path(), "env");
    let config = dir.path().join("kinko.toml");
    std::fs::write(
        &config,
        format!(
            "dev = true\nlisten = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n",
            in_file.cert.display().to_string(),
            in_file.key.display().to_string()
        ),
    )
    .expect("write config");
    for (env, expected) in [(false, &from_file), (true, &from_env)] {
        let mut cmd = kinko();
        cmd.args(["server", "--config"]).arg(&config);
        if env {
            cmd.env("KINKO_TLS_CERT", &in_env.cert)
                .env("KINKO_TLS_KEY", &in_env.key);
        }
        let (child, addr) = start_https(&mut cmd);
        let probe = TlsProbe::connect(addr, ca.client_config())
            .await
            .expect("handshake");
        assert_eq!(probe.server_cert(), expected.cert_der, "variables set: {env}");
        signal(&child, "-TERM");
        assert!(child.wait_with_output().expect("exit").status.success());
    }
}

/// `kinko exec` reaches an `https://` server whose certificate chains to `AWS_CA_BUNDLE`, as the
/// AWS CLI and the other SDKs do, and refuses it without: here the server's answer is AccessDenied
/// (root may not assume a role), which only a connection that got through can bring back.
#[tokio::test(flavor = "multi_thread")]
async fn kinko_exec_trusts_aws_ca_bundle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("kinko test CA");
    let (files, _) = ca.issue_files(dir.path(), "server");
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, ca.pem()).expect("write bundle");
    let config = kinko_server::Config {
        tls: Some(files),
        ..kinko_tests::dev_config()
    };
    let server = kinko_server::start(config, std::sync::Arc::new(kinko_core::SystemClock))
        .await
        .expect("server starts");
    let endpoint = format!("https://{}", server.local_addr());
    let run = |bundle: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinko"));
        cmd.args(["exec", "--endpoint", &endpoint, "--role"])
            .arg("arn:aws:iam::000000000000:role/none")
            .args(["--", "true"]);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        if let Some(b) = bundle {
            cmd.env("AWS_CA_BUNDLE", b);
        }
        let out = cmd.output().expect("kinko exec runs");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let trusted = tokio::task::block_in_place(|| run(Some(&bundle)));
    assert!(trusted.contains("AccessDenied"), "{trusted}");
    let untrusted = tokio::task::block_in_place(|| run(None));
    assert!(!untrusted.contains("AccessDenied"), "{untrusted}");
    server.shutdown().await.expect("shutdown");
}
