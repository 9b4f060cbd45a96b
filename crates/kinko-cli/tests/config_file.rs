//! `kinko server --config FILE` (and `KINKO_CONFIG`): the TOML file's settings apply, a key that is
//! no setting stops the start with a message naming it, flags and variables override the file,
//! and a secret can come from a file the config file names.
//!
//! The store tests tell which URL was used without a database: each URL names a password file of
//! its own that does not exist, and the start fails naming it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};

fn kinko() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinko"));
    for var in [
        "KINKO_CONFIG",
        "KINKO_ROOT_KEY",
        "KINKO_ACCOUNT_ID",
        "KINKO_ROOT_ACCESS_KEY_ID",
        "KINKO_ROOT_SECRET_ACCESS_KEY",
        "KINKO_LOG",
        "KINKO_STORE",
        "KINKO_TLS_CERT",
        "KINKO_TLS_KEY",
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

/// A started server: its stdout lines up to the listening line, and its address.
struct Started {
    child: Child,
    stdout: Vec<String>,
    addr: String,
}

fn start(cmd: &mut Command) -> Started {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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
    let mut stdout = Vec::new();
    loop {
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no listening line ({e}); stdout: {stdout:?}")
            }
        };
        if let Some(addr) = line.strip_prefix("kinko listening on http://") {
            let addr = addr.trim().to_owned();
            stdout.push(line);
            return Started { child, stdout, addr };
        }
        stdout.push(line);
    }
}

impl Started {
    fn stop(self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let out = self.child.wait_with_output().expect("exit");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn an_unknown_key_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "kinko.toml",
        "listen = \"127.0.0.1:0\"\nlisen = \"127.0.0.1:0\"\n",
    );
    let out = failed_start(kinko().args(["server", "--dev", "--config"]).arg(&file));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "config file {}: unknown key `lisen`; the known keys are",
            file.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("listen, log, log_format"),
        "the known keys listed: {err}"
    );
}

#[test]
fn a_bad_value_stops_the_start_naming_the_file_and_the_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "kinko.toml", "cache_size = \"lots\"\n");
    let out = failed_start(kinko().args(["server", "--dev"]).env("KINKO_CONFIG", &file));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("config file {}", file.display())), "{err}");
    assert!(err.contains("invalid value 'lots' for '--cache-size"), "{err}");
}

#[test]
fn flags_override_the_file_and_the_file_applies_otherwise() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "kinko.toml",
        "dev = true\nlisten = \"127.0.0.1:0\"\nlog_format = \"json\"\nmetrics_listen = \"127.0.0.1:0\"\n",
    );
    // From the file: JSON logs, dev mode, a metrics listener of its own.
    let s = start(kinko().args(["server", "--config"]).arg(&file));
    assert!(
        s.stdout.iter().any(|l| l.starts_with("kinko dev mode")),
        "{:?}",
        s.stdout
    );
    let err = s.stop();
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with('{'), "JSON logs from the file: {err}");
    // The flag wins over the file.
    let s = start(kinko().args(["server", "--config"]).arg(&file).args([
        "--log-format",
        "text",
        "--metrics-listen",
        "off",
    ]));
    let err = s.stop();
    assert!(
        !err.lines().any(|l| l.starts_with('{')),
        "text logs from the flag: {err}"
    );
}

#[test]
fn every_audit_setting_is_read_from_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("trail.jsonl");
    let file = write(
        dir.path(),
        "kinko.toml",
        &format!(
            "dev = true\nlisten = \"127.0.0.1:0\"\naudit_log = \"{}\"\naudit_durability = \"buffered\"\n\
             audit_rotate_size = 1\naudit_rotate_hours = 0\naudit_keep_files = 3\naudit_keep_days = 7\n",
            log.display()
        ),
    );
    let s = start(kinko().args(["server", "--config"]).arg(&file));
    let err = s.stop();
    // The trail went where the file said, buffered as it said.
    assert!(log.is_file(), "the audit log at the file's audit_log: {err}");
    assert!(
        err.contains("audit records are buffered, not synced"),
        "audit_durability from the file: {err}"
    );
    // Each key is read by its flag's own parser: a bad value is refused naming that flag.
    for (key, flag) in [
        ("audit_durability", "--audit-durability"),
        ("audit_rotate_size", "--audit-rotate-size"),
        ("audit_rotate_hours", "--audit-rotate-hours"),
        ("audit_keep_files", "--audit-keep-files"),
        ("audit_keep_days", "--audit-keep-days"),
    ] {
        let bad = write(dir.path(), "bad.toml", &format!("dev = true\n{key} = \"x\"\n"));
        let out = failed_start(kinko().args(["server", "--config"]).arg(&bad));
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("invalid value 'x' for '{flag}")),
            "{key}: {err}"
        );
    }
}

#[test]
fn the_environment_overrides_the_file_and_secrets_come_from_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    write(
        dir.path(),
        "root-secret",
        "config-file-root-secret-0000000000000001\n",
    );
    let file = write(
        dir.path(),
        "kinko.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\naccount_id = \"111111111111\"\n\
             root_access_key_id = \"AKIACONFIGFILETEST01\"\nroot_secret_access_key_file = \"root-secret\"\n",
            data.display().to_string()
        ),
    );
    let s = start(
        kinko()
            .args(["server", "--config"])
            .arg(&file)
            .env("KINKO_ACCOUNT_ID", "222222222222"),
    );
    let endpoint = format!("http://{}", s.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let who = runtime.block_on(async {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIACONFIGFILETEST01",
                "config-file-root-secret-0000000000000001",
                None,
                None,
                "config-file-test",
            ))
            .build();
        aws_sdk_sts::Client::from_conf(conf)
            .get_caller_identity()
            .send()
            .await
    });
    // The root secret read from its file signs, and the variable's account wins over the file's.
    let who = who.expect("GetCallerIdentity with the root key from the files");
    assert_eq!(who.account(), Some("222222222222"));
    s.stop();
}

/// The stderr of a start that must fail (on the store URL it was given).
fn store_failure(cmd: &mut Command) -> String {
    let out = failed_start(cmd);
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn store_url(tag: &str) -> String {
    format!("postgres://kinko@127.0.0.1:1/kinko?password_file=/nonexistent/{tag}")
}

#[test]
fn kinko_store_and_the_flag_override_the_files_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "kinko.toml",
        &format!("listen = \"127.0.0.1:0\"\nstore = {:?}\n", store_url("from-file")),
    );
    let server = |cmd: &mut Command| {
        cmd.args(["server", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&file);
    };
    let mut cmd = kinko();
    server(&mut cmd);
    assert!(store_failure(&mut cmd).contains("/nonexistent/from-file"));
    let mut cmd = kinko();
    server(&mut cmd);
    cmd.env("KINKO_STORE", store_url("from-env"));
    let err = store_failure(&mut cmd);
    assert!(
        err.contains("/nonexistent/from-env"),
        "the variable wins over the file: {err}"
    );
    let mut cmd = kinko();
    server(&mut cmd);
    cmd.env("KINKO_STORE", store_url("from-env"))
        .args(["--store", &store_url("from-flag")]);
    let err = store_failure(&mut cmd);
    assert!(
        err.contains("/nonexistent/from-flag"),
        "the flag wins over both: {err}"
    );
}

#[test]
fn the_store_url_can_come_from_a_file_the_config_file_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "db-url",
        &format!("{}\n", store_url("from-store-file")),
    );
    let file = write(
        dir.path(),
        "kinko.toml",
        "listen = \"127.0.0.1:0\"\nstore_file = \"db-url\"\n",
    );
    let mut cmd = kinko();
    cmd.args(["server", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&file);
    let err = store_failure(&mut cmd);
    assert!(err.contains("/nonexistent/from-store-file"), "{err}");
}
