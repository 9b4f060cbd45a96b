//! `kinko dev clock advance`: on a `--dev` server the account's root user moves the clock
//! forward, and the background jobs act on the new time (a secret deleted with a 7-day recovery
//! window is purged after `advance 8d`). Clients keep signing with their own clock. Any other
//! caller is refused, and so is every caller on a server not in `--dev` mode, whose clock cannot
//! be moved.

mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use harness::{Creds, Launch, Node, REGION};

const WAIT: Duration = Duration::from_secs(30);

/// `kinko dev clock advance DURATION` against `node`, signed with `creds`: its JSON answer, or
/// its error text.
fn advance(node: &Node, creds: &Creds, duration: &str) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinko"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k.starts_with("KINKO_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(["dev", "clock", "advance", duration, "--endpoint"])
        .arg(node.endpoint())
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KINKO_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .expect("kinko dev runs");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("JSON answer"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_secret_is_purged_once_the_dev_clock_passes_its_recovery_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node::start(
        &Launch::new(dir.path())
            .arg("--dev")
            .arg("--job-interval")
            .arg("0.2"),
    );
    let root = Creds::new("test", "test");
    let c = node.clients(&root);
    c.sm.create_secret()
        .name("short-lived")
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    c.sm.delete_secret()
        .secret_id("short-lived")
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("DeleteSecret");

    // Jobs run every 0.2 s: the secret stays within its window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let d = c.sm.describe_secret().secret_id("short-lived").send().await;
    assert!(d.expect("still there").deleted_date().is_some());

    // A bad duration, and a caller other than root (even allowed everything), are refused.
    let e = advance(&node, &root, "7w").expect_err("bad duration");
    assert!(e.contains("ValidationException"), "{e}");
    c.iam
        .create_user()
        .user_name("dev")
        .send()
        .await
        .expect("CreateUser");
    c.iam
        .put_user_policy()
        .user_name("dev")
        .policy_name("all")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutUserPolicy");
    let key = c
        .iam
        .create_access_key()
        .user_name("dev")
        .send()
        .await
        .expect("CreateAccessKey")
        .access_key
        .expect("key");
    let user = Creds::new(key.access_key_id(), key.secret_access_key());
    let e = advance(&node, &user, "8d").expect_err("a user may not move the clock");
    assert!(e.contains("AccessDeniedException"), "{e}");

    let answer = advance(&node, &root, "8d").expect("root moves the dev clock");
    assert_eq!(answer["OffsetSeconds"], serde_json::json!(8 * 86_400), "{answer}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs_f64();
    let shown = answer["Now"].as_f64().expect("Now");
    assert!((shown - now - 8.0 * 86_400.0).abs() < 60.0, "{answer}");

    // The next job run purges it; clients still sign with their own clock.
    let deadline = Instant::now() + WAIT;
    loop {
        match c.sm.describe_secret().secret_id("short-lived").send().await {
            Err(e) if e.code() == Some("ResourceNotFoundException") => break,
            Err(e) => panic!("DescribeSecret: {e:?}"),
            Ok(_) => {
                assert!(Instant::now() < deadline, "not purged after the clock moved");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    // Moves add up.
    let answer = advance(&node, &root, "36h").expect("again");
    assert_eq!(answer["OffsetSeconds"], serde_json::json!(8 * 86_400 + 36 * 3600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_dev_mode_the_clock_cannot_be_moved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Creds::new(
        "AKIADEVCLOCKROOT0001",
        "dev-clock-test-root-secret-access-key-0001",
    );
    let node = Node::start(
        &Launch::new(dir.path())
            .env("KINKO_ROOT_ACCESS_KEY_ID", root.access_key_id.clone())
            .env("KINKO_ROOT_SECRET_ACCESS_KEY", root.secret_access_key.clone()),
    );
    let e = advance(&node, &root, "8d").expect_err("refused outside --dev");
    assert!(
        e.contains("ValidationException") && e.contains("only a server in --dev mode"),
        "{e}"
    );
}
