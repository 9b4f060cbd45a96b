//! `--log-format json --log-requests`: one JSON object per stderr line, one line per request with
//! who, what and how it ended, and never a value of the request (the secret written and read by
//! the requests appears nowhere in the log).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

fn kinko() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinko"));
    for var in [
        "KINKO_CONFIG",
        "KINKO_ROOT_KEY",
        "KINKO_ACCOUNT_ID",
        "KINKO_ROOT_ACCESS_KEY_ID",
        "KINKO_ROOT_SECRET_ACCESS_KEY",
        "KINKO_LOG",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null());
    c
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

#[test]
fn request_lines_are_json_and_hold_no_value() {
    let s = start(kinko().args([
        "server",
        "--dev",
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--log-requests",
    ]));
    assert!(
        s.stdout.iter().any(|l| l.starts_with("kinko dev mode")),
        "{:?}",
        s.stdout
    );
    let endpoint = format!("http://{}", s.addr);
    let secret = "request-log-secret-value-5f2c81";
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "log-test"))
            .build();
        let sm = aws_sdk_secretsmanager::Client::from_conf(conf);
        sm.create_secret()
            .name("logged/db")
            .secret_string(secret)
            .send()
            .await
            .expect("CreateSecret");
        let got = sm
            .get_secret_value()
            .secret_id("logged/db")
            .send()
            .await
            .expect("read");
        assert_eq!(got.secret_string(), Some(secret));
        assert!(
            sm.get_secret_value()
                .secret_id("logged/none")
                .send()
                .await
                .is_err()
        );
    });
    let err = s.stop();
    assert!(!err.contains(secret), "a secret value in the log:\n{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["target"] == "kinko::request").collect();
    let summary: Vec<(String, u64, Option<String>)> = requests
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_u64().unwrap_or_default(),
                r["error_code"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("CreateSecret".to_owned(), 200, None),
            ("GetSecretValue".to_owned(), 200, None),
            (
                "GetSecretValue".to_owned(),
                400,
                Some("ResourceNotFoundException".to_owned())
            ),
        ]
    );
    for r in requests {
        assert_eq!(r["service"], "secretsmanager");
        assert_eq!(r["principal"], "arn:aws:iam::000000000000:root");
        assert_eq!(r["access_key_id"], "test");
        assert!(r["request_id"].as_str().is_some_and(|id| id.len() == 36), "{r}");
        assert!(r["duration_us"].as_u64().is_some(), "{r}");
        // Nothing of the request's parameters: not even the secret's name.
        assert!(!r.to_string().contains("logged/"), "{r}");
    }
}
