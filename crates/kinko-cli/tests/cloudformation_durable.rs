//! CloudFormation stacks across server restarts, through the `kinko` binary on a SQLite data dir.
//!
//! - NoEcho parameter values and an `AWS::IAM::AccessKey`'s secret access key are in no file of
//!   the data dir in plaintext (raw, hex or base64), and no answer but the one the template asked
//!   for holds them; they still work in later operations of the stack, after a restart and after
//!   root key rotation.
//! - A create interrupted by SIGKILL is taken over when the server starts again on the same data
//!   dir and rolled back: `ROLLBACK_COMPLETE`, with the resources it created gone; an update is
//!   rolled back to the previous deployment (`UPDATE_ROLLBACK_COMPLETE`, what it changed in place
//!   changed back); a delete is finished.
//! - With several nodes on PostgreSQL, a node leaves the operations of a live node alone and takes
//!   over those of a node killed mid-operation.
//!
//! Each crash test kills the server once a few resources are done; should the operation finish
//! first, it tries again with a bigger stack, so it always ends having exercised an interruption.

mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use harness::{Creds, Launch, Node};

const ACCOUNT_ID: &str = "567890123456";
const ROOT_ID: &str = "AKIACFNDURABLEROOT01";
const ROOT_SECRET: &str = "cloudformation-durable-test-root-secret-01";
const WAIT: Duration = Duration::from_secs(90);

fn launch(data: &Path) -> Launch {
    // Short job ticks and leases: an abandoned operation is taken over within seconds.
    Launch::new(data)
        .arg("--job-interval")
        .arg("1")
        .arg("--job-lease")
        .arg("2")
        .env("KINKO_ACCOUNT_ID", ACCOUNT_ID)
        .env("KINKO_ROOT_ACCESS_KEY_ID", ROOT_ID)
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET)
}

fn root() -> Creds {
    Creds::new(ROOT_ID, ROOT_SECRET)
}

fn cfn(node: &Node) -> Client {
    Client::new(&node.sdk_config(&root()))
}

/// The stack's status, once it is no longer `*_IN_PROGRESS` (bounded by [`WAIT`]).
async fn settled(c: &Client, stack: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = status(c, stack).await;
        if !status.ends_with("_IN_PROGRESS") {
            return status;
        }
        assert!(Instant::now() < deadline, "{stack} still {status} after {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(c: &Client, stack: &str) -> String {
    let out = c
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("DescribeStacks");
    out.stacks()[0]
        .stack_status()
        .expect("status")
        .as_str()
        .to_owned()
}

/// (logical id, physical id, status, reason) of every event, oldest first.
async fn events(c: &Client, stack: &str) -> Vec<(String, String, String, String)> {
    let out = c
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .expect("DescribeStackEvents");
    let mut all: Vec<_> = out
        .stack_events()
        .iter()
        .map(|e| {
            (
                e.logical_resource_id().unwrap_or_default().to_owned(),
                e.physical_resource_id().unwrap_or_default().to_owned(),
                e.resource_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                e.resource_status_reason().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // Newest first on the wire.
    all.reverse();
    all
}

async fn physical_id(c: &Client, stack: &str, logical_id: &str) -> String {
    c.describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
        .expect("DescribeStackResource")
        .stack_resource_detail()
        .and_then(|d| d.physical_resource_id())
        .expect("physical id")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Secrets of a stack at rest.

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.is_file() {
            out.push(path);
        }
    }
    out
}

/// No file of `dir` but the root key and the root credentials holds any form of any secret.
fn assert_nowhere(dir: &Path, secrets: &[(&str, &str)], when: &str) {
    let mut found = Vec::new();
    let mut scanned = 0;
    for path in files(dir) {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name == "root.key" || name == "root-credentials" {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read a data file");
        scanned += bytes.len();
        for (what, secret) in secrets {
            for (form, needle) in harness::forms(secret.as_bytes()) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    found.push(format!("{what} ({form}) in {}", path.display()));
                }
            }
        }
    }
    assert!(scanned > 0, "{when}: nothing scanned");
    assert!(found.is_empty(), "{when}: found {found:?}");
}

/// The positive control of [`assert_nowhere`]: the scan finds what is there in plaintext.
fn assert_somewhere(dir: &Path, needle: &str, when: &str) {
    let hit = files(dir)
        .iter()
        .any(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())));
    assert!(hit, "{when}: the scan does not find {needle}");
}

const SECRETS_TEMPLATE: &str = r#"{
  "Parameters": {
    "Password": {"Type": "String", "NoEcho": true, "MinLength": 8}
  },
  "Resources": {
    "User": {"Type": "AWS::IAM::User", "Properties": {"UserName": "cfn-durable-user"}},
    "Key": {"Type": "AWS::IAM::AccessKey", "Properties": {"UserName": {"Ref": "User"}}},
    "Credentials": {
      "Type": "AWS::SecretsManager::Secret",
      "Properties": {
        "Name": "cfn-durable/credentials",
        "SecretString": {"Fn::Sub": "{\"password\":\"${Password}\",\"id\":\"${Key}\",\"secret\":\"${Key.SecretAccessKey}\"}"}
      }
    }
  },
  "Outputs": {
    "KeyId": {"Value": {"Ref": "Key"}},
    "Marker": {"Value": "cfn-durable-output-marker"}
  }
}"#;

/// The template with one more secret named `name`, holding the access key's secret and the
/// NoEcho value again: read by a later operation of the stack.
fn with_extra_secret(template: &str, names: &[&str]) -> String {
    let mut t: serde_json::Value = serde_json::from_str(template).expect("template");
    for name in names {
        t["Resources"][format!("Extra{}", name.replace(['/', '-'], ""))] = serde_json::json!({
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Name": name,
                "SecretString": {"Fn::Sub": "${Password}|${Key.SecretAccessKey}"}
            }
        });
    }
    t.to_string()
}

async fn secret_string(node: &Node, id: &str) -> String {
    node.clients(&root())
        .sm
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .expect("GetSecretValue")
        .secret_string()
        .expect("SecretString")
        .to_owned()
}

/// `UpdateStack` keeping the NoEcho value (`UsePreviousValue`), to `UPDATE_COMPLETE`.
async fn update(c: &Client, stack: &str, template: &str) {
    c.update_stack()
        .stack_name(stack)
        .template_body(template)
        .parameters(
            Parameter::builder()
                .parameter_key("Password")
                .use_previous_value(true)
                .build(),
        )
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("UpdateStack");
    assert_eq!(
        settled(c, stack).await,
        "UPDATE_COMPLETE",
        "{:?}",
        events(c, stack).await
    );
}

/// Runs `kinko rotate-root-key` on the stopped data dir.
fn rotate_root_key(data: &Path) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kinko"));
    cmd.args(["rotate-root-key", "--data-dir"]).arg(data);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KINKO_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run kinko rotate-root-key");
    assert!(
        out.status.success(),
        "kinko rotate-root-key failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("re-wrapped"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_secrets_are_sealed_at_rest_and_work_after_restart_and_rotation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let password = format!("NoEcho-{}", uuid_like());
    let stack = "cfn-durable-secrets";

    let mut node = Node::start(&launch(&data));
    let c = cfn(&node);
    c.create_stack()
        .stack_name(stack)
        .template_body(SECRETS_TEMPLATE)
        .parameters(
            Parameter::builder()
                .parameter_key("Password")
                .parameter_value(&password)
                .build(),
        )
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("CreateStack");
    assert_eq!(
        settled(&c, stack).await,
        "CREATE_COMPLETE",
        "{:?}",
        events(&c, stack).await
    );

    // The template's secret holds what it asked for, and the key works.
    let credentials: serde_json::Value =
        serde_json::from_str(&secret_string(&node, "cfn-durable/credentials").await).expect("JSON");
    assert_eq!(credentials["password"], password.as_str());
    let key_id = credentials["id"].as_str().expect("id").to_owned();
    let key_secret = credentials["secret"].as_str().expect("secret").to_owned();
    assert_eq!(physical_id(&c, stack, "Key").await, key_id);
    assert!(key_id.starts_with("AKIA"), "{key_id}");
    assert_eq!(key_secret.len(), 40, "a secret access key");
    let as_user = node.clients(&Creds::new(&key_id, &key_secret));
    let me = as_user
        .sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert!(me.arn().unwrap_or_default().ends_with(":user/cfn-durable-user"));

    // No other answer holds them: DescribeStacks shows the NoEcho value masked.
    let described = c
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("DescribeStacks");
    let text = format!("{described:?}");
    assert!(!text.contains(&password) && !text.contains(&key_secret), "{text}");
    assert!(text.contains("****"), "{text}");
    let template = c
        .get_template()
        .stack_name(stack)
        .send()
        .await
        .expect("GetTemplate");
    let text = format!("{template:?}");
    assert!(!text.contains(&password) && !text.contains(&key_secret));

    node.terminate();
    let secrets = [
        ("NoEcho value", password.as_str()),
        ("secret access key", key_secret.as_str()),
    ];
    assert_somewhere(&data, "cfn-durable-output-marker", "after the create");
    assert_nowhere(&data, &secrets, "after the create");

    // After a restart, a later operation reads both (UsePreviousValue, Fn::GetAtt).
    let mut node = Node::start(&launch(&data));
    let c = cfn(&node);
    update(
        &c,
        stack,
        &with_extra_secret(SECRETS_TEMPLATE, &["cfn-durable/after-restart"]),
    )
    .await;
    let expected = format!("{password}|{key_secret}");
    assert_eq!(secret_string(&node, "cfn-durable/after-restart").await, expected);
    node.terminate();
    assert_nowhere(&data, &secrets, "after an update");

    // After root key rotation too.
    rotate_root_key(&data);
    let mut node = Node::start(&launch(&data));
    let c = cfn(&node);
    update(
        &c,
        stack,
        &with_extra_secret(
            SECRETS_TEMPLATE,
            &["cfn-durable/after-restart", "cfn-durable/after-rotation"],
        ),
    )
    .await;
    assert_eq!(secret_string(&node, "cfn-durable/after-rotation").await, expected);
    // The stack's delete removes the key it created.
    c.delete_stack()
        .stack_name(stack)
        .send()
        .await
        .expect("DeleteStack");
    let stack_id = described.stacks()[0].stack_id().expect("id").to_owned();
    assert_eq!(settled(&c, &stack_id).await, "DELETE_COMPLETE");
    let listed = node
        .clients(&root())
        .iam
        .list_users()
        .send()
        .await
        .expect("ListUsers");
    assert!(listed.users().iter().all(|u| u.user_name() != "cfn-durable-user"));
    node.terminate();
    assert_nowhere(&data, &secrets, "after rotation and delete");
}

/// A random marker (the test crate has no uuid).
fn uuid_like() -> String {
    let bytes: [u8; 12] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// An operation interrupted by a crash.

/// A template of `n` IAM users under path `/PATH/`, each depending on the one before (created one
/// after the other).
fn users_template(path: &str, n: usize) -> String {
    let mut resources = serde_json::Map::new();
    for i in 0..n {
        let mut r = serde_json::json!({
            "Type": "AWS::IAM::User",
            "Properties": {"UserName": format!("{path}-{i}"), "Path": format!("/{path}/")}
        });
        if i > 0 {
            r["DependsOn"] = serde_json::json!(format!("User{}", i - 1));
        }
        resources.insert(format!("User{i}"), r);
    }
    serde_json::json!({"Resources": resources}).to_string()
}

async fn users_under(node: &Node, creds: &Creds, path: &str) -> Vec<String> {
    let out = node
        .clients(creds)
        .iam
        .list_users()
        .path_prefix(format!("/{path}/"))
        .max_items(1000)
        .send()
        .await
        .expect("ListUsers");
    out.users().iter().map(|u| u.user_name().to_owned()).collect()
}

/// Kills the server (SIGKILL) once three more than `before` resource events of `stack` have status
/// `progress`, starts it again on the same data dir, and waits for the stack to settle: its status
/// then.
async fn crash_and_restart(
    node: &mut Node,
    data: &Path,
    stack: &str,
    stack_id: &str,
    progress: &str,
    before: usize,
) -> String {
    let c = cfn(node);
    let deadline = Instant::now() + WAIT;
    loop {
        let created = events(&c, stack_id)
            .await
            .iter()
            .filter(|e| e.0 != stack && e.2 == progress)
            .count();
        if created >= before + 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the operation does not progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.kill();
    *node = Node::start(&launch(data));
    settled(&cfn(node), stack_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_interrupted_by_a_crash_is_rolled_back_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut node = Node::start(&launch(&data));
    // Kill the server once a few resources are created. A machine fast enough to finish the create
    // first gets a bigger stack next time: the test always ends with an interrupted create.
    for (attempt, n) in [120, 250, 500].into_iter().enumerate() {
        let stack = format!("cfn-crash-{attempt}");
        let c = cfn(&node);
        c.create_stack()
            .stack_name(&stack)
            .template_body(users_template(&stack, n))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("CreateStack");
        let stack_id = c
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .expect("DescribeStacks")
            .stacks()[0]
            .stack_id()
            .expect("id")
            .to_owned();
        let end = crash_and_restart(&mut node, &data, &stack, &stack_id, "CREATE_COMPLETE", 0).await;
        let c = cfn(&node);
        if end == "CREATE_COMPLETE" {
            // Finished before the kill: clean up and try a bigger stack.
            c.delete_stack()
                .stack_name(&stack)
                .send()
                .await
                .expect("DeleteStack");
            assert_eq!(settled(&c, &stack_id).await, "DELETE_COMPLETE");
            assert!(users_under(&node, &root(), &stack).await.is_empty());
            continue;
        }
        let all = events(&c, &stack_id).await;
        assert_eq!(end, "ROLLBACK_COMPLETE", "{all:?}\n{}", node.stderr());
        // The stack's events as AWS writes them: the rollback, with its reason.
        let rollback = all
            .iter()
            .find(|e| e.0 == stack && e.2 == "ROLLBACK_IN_PROGRESS")
            .expect("a ROLLBACK_IN_PROGRESS event");
        assert!(rollback.3.contains("interrupted"), "{rollback:?}");
        // Every user the create recorded as created is deleted, with its DELETE_COMPLETE event.
        let created: Vec<&String> = all
            .iter()
            .filter(|e| e.0 != stack && e.2 == "CREATE_COMPLETE")
            .map(|e| &e.1)
            .collect();
        assert!(created.len() >= 3, "{all:?}");
        eprintln!(
            "attempt {attempt}: {n} users, {} created before the crash, rolled back",
            created.len()
        );
        for user in &created {
            assert!(
                all.iter().any(|e| &e.1 == *user && e.2 == "DELETE_COMPLETE"),
                "{user} not deleted: {all:?}"
            );
        }
        // Of the users under the stack's path, none is left but (perhaps) the one whose creation
        // was under way at the crash: its outcome is unknown, and its event says so.
        let left = users_under(&node, &root(), &stack).await;
        assert!(left.len() <= 1, "{left:?}");
        for user in &left {
            let logical = format!("User{}", user.rsplit('-').next().unwrap_or_default());
            assert!(
                all.iter()
                    .any(|e| e.0 == logical && e.2 == "CREATE_FAILED" && e.3.contains("interrupted")),
                "{user} is left though its creation was not interrupted: {all:?}"
            );
        }
        assert!(!created.iter().any(|u| left.contains(u)));
        node.terminate();
        return;
    }
    panic!("every create finished before the server was killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_interrupted_by_a_crash_is_rolled_back_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut node = Node::start(&launch(&data));
    for (attempt, n) in [120, 250, 500].into_iter().enumerate() {
        let stack = format!("cfn-update-crash-{attempt}");
        let c = cfn(&node);
        let first = users_template(&stack, 1);
        c.create_stack()
            .stack_name(&stack)
            .template_body(&first)
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("CreateStack");
        assert_eq!(settled(&c, &stack).await, "CREATE_COMPLETE");
        let stack_id = c
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .expect("DescribeStacks")
            .stacks()[0]
            .stack_id()
            .expect("id")
            .to_owned();
        // The update keeps User0 and adds the others.
        c.update_stack()
            .stack_name(&stack)
            .template_body(users_template(&stack, n))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("UpdateStack");
        let end = crash_and_restart(&mut node, &data, &stack, &stack_id, "CREATE_COMPLETE", 1).await;
        let c = cfn(&node);
        if end == "UPDATE_COMPLETE" {
            c.delete_stack()
                .stack_name(&stack)
                .send()
                .await
                .expect("DeleteStack");
            assert_eq!(settled(&c, &stack_id).await, "DELETE_COMPLETE");
            continue;
        }
        let all = events(&c, &stack_id).await;
        assert_eq!(end, "UPDATE_ROLLBACK_COMPLETE", "{all:?}\n{}", node.stderr());
        let rollback = all
            .iter()
            .find(|e| e.0 == stack && e.2 == "UPDATE_ROLLBACK_IN_PROGRESS")
            .expect("an UPDATE_ROLLBACK_IN_PROGRESS event");
        assert!(rollback.3.contains("interrupted"), "{rollback:?}");
        // The previous deployment: its template, its one user; what the update created is gone.
        let template = c
            .get_template()
            .stack_name(&stack)
            .send()
            .await
            .expect("GetTemplate");
        assert_eq!(template.template_body(), Some(first.as_str()));
        let resources = c
            .list_stack_resources()
            .stack_name(&stack)
            .send()
            .await
            .expect("ListStackResources");
        let ids: Vec<&str> = resources
            .stack_resource_summaries()
            .iter()
            .filter_map(|r| r.logical_resource_id())
            .collect();
        assert_eq!(ids, ["User0"]);
        let left = users_under(&node, &root(), &stack).await;
        let kept = format!("{stack}-0");
        assert!(left.contains(&kept), "{left:?}");
        // Perhaps the one whose creation was under way at the crash (see the create's test).
        assert!(left.len() <= 2, "{left:?}");
        let created_by_update = all
            .iter()
            .filter(|e| e.0 != stack && e.0 != "User0" && e.2 == "CREATE_COMPLETE")
            .count();
        eprintln!("attempt {attempt}: {n} users, {created_by_update} created by the update before the crash");
        assert!(created_by_update >= 3);
        node.terminate();
        return;
    }
    panic!("every update finished before the server was killed");
}

/// A template of `n` IAM users named `NAME-i` under path `/PATH/`, each after the one before: a
/// change of `PATH` alone changes every user in place (UpdateUser).
fn users_at(name: &str, path: &str, n: usize) -> String {
    let mut resources = serde_json::Map::new();
    for i in 0..n {
        let mut r = serde_json::json!({
            "Type": "AWS::IAM::User",
            "Properties": {"UserName": format!("{name}-{i}"), "Path": format!("/{path}/")}
        });
        if i > 0 {
            r["DependsOn"] = serde_json::json!(format!("User{}", i - 1));
        }
        resources.insert(format!("User{i}"), r);
    }
    serde_json::json!({"Resources": resources}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_made_in_place_interrupted_by_a_crash_is_changed_back_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut node = Node::start(&launch(&data));
    for (attempt, n) in [120, 250, 500].into_iter().enumerate() {
        let stack = format!("cfn-in-place-crash-{attempt}");
        let (first, second) = (format!("{stack}-first"), format!("{stack}-second"));
        let c = cfn(&node);
        c.create_stack()
            .stack_name(&stack)
            .template_body(users_at(&stack, &first, n))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("CreateStack");
        assert_eq!(settled(&c, &stack).await, "CREATE_COMPLETE");
        let stack_id = c
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .expect("DescribeStacks")
            .stacks()[0]
            .stack_id()
            .expect("id")
            .to_owned();
        // Every user moves to the second path, in place.
        c.update_stack()
            .stack_name(&stack)
            .template_body(users_at(&stack, &second, n))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("UpdateStack");
        let end = crash_and_restart(&mut node, &data, &stack, &stack_id, "UPDATE_COMPLETE", 0).await;
        let c = cfn(&node);
        if end == "UPDATE_COMPLETE" {
            c.delete_stack()
                .stack_name(&stack)
                .send()
                .await
                .expect("DeleteStack");
            assert_eq!(settled(&c, &stack_id).await, "DELETE_COMPLETE");
            continue;
        }
        let all = events(&c, &stack_id).await;
        assert_eq!(end, "UPDATE_ROLLBACK_COMPLETE", "{all:?}\n{}", node.stderr());
        // What the update changed in place (the one under way at the crash too) is changed
        // back: every user is under the first path again, none was replaced.
        let back = users_under(&node, &root(), &first).await;
        assert_eq!(back.len(), n, "{back:?}");
        assert!(users_under(&node, &root(), &second).await.is_empty());
        let changed = all
            .iter()
            .filter(|e| e.0 != stack && e.2 == "UPDATE_COMPLETE")
            .count();
        eprintln!("attempt {attempt}: {n} users, {changed} changes and changes back");
        assert!(changed >= 6, "{all:?}");
        assert!(!all.iter().any(|e| e.0 != stack && e.2 == "DELETE_COMPLETE"));
        node.terminate();
        return;
    }
    panic!("every update finished before the server was killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_interrupted_by_a_crash_is_finished_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut node = Node::start(&launch(&data));
    for (attempt, n) in [120, 250, 500].into_iter().enumerate() {
        let stack = format!("cfn-delete-crash-{attempt}");
        let c = cfn(&node);
        c.create_stack()
            .stack_name(&stack)
            .template_body(users_template(&stack, n))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("CreateStack");
        assert_eq!(settled(&c, &stack).await, "CREATE_COMPLETE");
        let stack_id = c
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .expect("DescribeStacks")
            .stacks()[0]
            .stack_id()
            .expect("id")
            .to_owned();
        c.delete_stack()
            .stack_name(&stack)
            .send()
            .await
            .expect("DeleteStack");
        let end = crash_and_restart(&mut node, &data, &stack, &stack_id, "DELETE_COMPLETE", 0).await;
        let c = cfn(&node);
        let all = events(&c, &stack_id).await;
        assert_eq!(end, "DELETE_COMPLETE", "{all:?}\n{}", node.stderr());
        let left = users_under(&node, &root(), &stack).await;
        // Interrupted in its last few resources: the test needs a bigger stack.
        let resumed = all
            .iter()
            .filter(|e| e.0 != stack && e.2 == "DELETE_COMPLETE")
            .count();
        assert!(left.is_empty(), "{left:?}");
        assert!(resumed >= n, "{resumed} of {n} deleted");
        if all.iter().any(|e| e.3.contains("interrupted")) || took_over(&node) {
            eprintln!("attempt {attempt}: {n} users, the delete was resumed");
            node.terminate();
            return;
        }
    }
    panic!("every delete finished before the server was killed");
}

/// Whether the server took a stack operation over (its log says so).
fn took_over(node: &Node) -> bool {
    node.stderr().contains("taking over a stack operation")
}

// ---------------------------------------------------------------------------------------------
// Several nodes on PostgreSQL.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_takes_over_only_when_the_owner_is_gone() {
    let Some(url) = harness::postgres_url("stack operations across nodes") else {
        return;
    };
    let flags = ["--job-interval", "1", "--job-lease", "2"];
    let mut cluster = harness::Cluster::start(&url, 2, &flags);
    let owner = Client::new(&cluster.nodes[0].sdk_config(&cluster.root));
    let other = Client::new(&cluster.nodes[1].sdk_config(&cluster.root));
    // While its node lives, the other node (ticking every second) leaves an operation alone.
    owner
        .create_stack()
        .stack_name("cfn-nodes-alive")
        .template_body(users_template("cfn-nodes-alive", 150))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("CreateStack");
    assert_eq!(settled(&other, "cfn-nodes-alive").await, "CREATE_COMPLETE");
    assert!(
        !cluster.nodes[1]
            .stderr()
            .contains("taking over a stack operation")
    );
    for (attempt, n) in [120, 250, 500].into_iter().enumerate() {
        let stack = format!("cfn-nodes-{attempt}");
        owner
            .create_stack()
            .stack_name(&stack)
            .template_body(users_template(&stack, n))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("CreateStack");
        let stack_id = owner
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .expect("DescribeStacks")
            .stacks()[0]
            .stack_id()
            .expect("id")
            .to_owned();
        let deadline = Instant::now() + WAIT;
        loop {
            let created = events(&other, &stack_id)
                .await
                .iter()
                .filter(|e| e.0 != stack && e.2 == "CREATE_COMPLETE")
                .count();
            if created >= 3 {
                break;
            }
            assert!(Instant::now() < deadline, "the create does not progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cluster.nodes[0].kill();
        let end = settled(&other, &stack_id).await;
        let all = events(&other, &stack_id).await;
        if end == "CREATE_COMPLETE" {
            assert!(!all.iter().any(|e| e.3.contains("interrupted")), "{all:?}");
            other
                .delete_stack()
                .stack_name(&stack)
                .send()
                .await
                .expect("DeleteStack");
            assert_eq!(settled(&other, &stack_id).await, "DELETE_COMPLETE");
            cluster.restart(0);
            continue;
        }
        assert_eq!(end, "ROLLBACK_COMPLETE", "{all:?}\n{}", cluster.stderr());
        assert!(
            cluster.nodes[1]
                .stderr()
                .contains("taking over a stack operation"),
            "{}",
            cluster.stderr()
        );
        let created = all
            .iter()
            .filter(|e| e.0 != stack && e.2 == "CREATE_COMPLETE")
            .count();
        assert!(created >= 3, "{all:?}");
        assert!(users_under(&cluster.nodes[1], &cluster.root, &stack).await.len() <= 1);
        eprintln!("attempt {attempt}: {n} users, {created} created before the owner died");
        return;
    }
    panic!("every create finished before its node was killed");
}
