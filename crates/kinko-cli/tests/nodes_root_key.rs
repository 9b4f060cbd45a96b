//! Root key rotation across nodes: three `kinko server` processes on one PostgreSQL schema, each
//! with its own root key file. The new key is given to every node as its next key (a file the
//! nodes read while they run), `kinko rotate-root-key --store` rotates the database while clients
//! read and write through every node, and every node switches to the new key without a restart.
//! Afterwards every value reads on every node, the old key is removed from every node (again by
//! writing the files), a node that only ever had the new key opens everything, and a node started
//! with only the old key refuses to start.
//!
//! Skipped (with the reason printed) when `KINKO_TEST_POSTGRES_URL` is unset.

mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use harness::{Clients, Creds, Launch, Node};

const NODES: usize = 3;
const ACCOUNT: &str = "123456789012";

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("").to_owned()
}

/// Writes a key file the way an operator's tool should: whole, then renamed into place.
fn write_key(path: &Path, b64: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{b64}\n")).expect("write key");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
    std::fs::rename(&tmp, path).expect("rename key");
}

struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root.key")
    }

    fn new_key(&self) -> PathBuf {
        self.dir.path().join("root.key.new")
    }
}

fn launch(store_url: &str, keys: &Keys, root: &Creds) -> Launch {
    Launch::new(keys.dir.path())
        .arg("--store")
        .arg(store_url)
        .arg("--root-key-file")
        .arg(keys.root().display().to_string())
        .arg("--new-root-key-file")
        .arg(keys.new_key().display().to_string())
        .env("KINKO_ACCOUNT_ID", ACCOUNT)
        .env("KINKO_ROOT_ACCESS_KEY_ID", root.access_key_id.clone())
        .env("KINKO_ROOT_SECRET_ACCESS_KEY", root.secret_access_key.clone())
}

fn metric(node: &Node, series: &str) -> Option<f64> {
    let (status, body) = node.get("/metrics").ok()?;
    (status == 200).then(|| harness::metric(&body, series)).flatten()
}

/// Waits (at most 15 s) until `series` is `value` on every node.
fn wait_metric(nodes: &[Node], series: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    for (i, n) in nodes.iter().enumerate() {
        loop {
            let got = metric(n, series);
            if got == Some(value) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {i}: {series} is {got:?}, not {value}; stderr:\n{}",
                n.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn value(c: &Clients, name: &str) -> Result<String, String> {
    c.sm.get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map(|o| o.secret_string().unwrap_or_default().to_owned())
        .map_err(|e| code(&e))
}

/// An IAM user with an access key, allowed everything on Secrets Manager and KMS.
async fn user(c: &Clients, name: &str) -> Creds {
    c.iam
        .create_user()
        .user_name(name)
        .send()
        .await
        .expect("CreateUser");
    c.iam
        .put_user_policy()
        .user_name(name)
        .policy_name("all")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:*","kms:*"],"Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutUserPolicy");
    new_key(c, name).await.expect("CreateAccessKey")
}

async fn new_key(c: &Clients, user: &str) -> Result<Creds, String> {
    let out = c
        .iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| code(&e))?;
    let key = out.access_key().expect("access key");
    Ok(Creds::new(key.access_key_id(), key.secret_access_key()))
}

/// What the load through one node did: the last value it put in its secret, the access keys and
/// KMS ciphertexts it made, and the errors it got by action and code.
#[derive(Default)]
struct Done {
    last_value: Option<String>,
    access_keys: Vec<Creds>,
    ciphertexts: Vec<(Vec<u8>, Vec<u8>)>,
    kms_keys: Vec<String>,
    errors: BTreeMap<String, usize>,
}

/// Reads and writes through node `i` until `stop`: puts and gets of its secret, KMS encryption
/// and decryption, and the writes of root-sealed values (access keys, KMS keys, KMS key
/// rotations).
async fn load(i: usize, root: Clients, user: Clients, kms_key: String, stop: Arc<AtomicBool>) -> Done {
    let mut done = Done::default();
    let secret = format!("load/{i}");
    let mut errors = BTreeMap::<String, usize>::new();
    let mut err = |what: &str, code: String| *errors.entry(format!("{what}: {code}")).or_default() += 1;
    let mut round = 0u64;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        let v = format!("node {i} round {round}");
        match user
            .sm
            .put_secret_value()
            .secret_id(&secret)
            .secret_string(&v)
            .send()
            .await
        {
            Ok(_) => done.last_value = Some(v.clone()),
            Err(e) => err("PutSecretValue", code(&e)),
        }
        match value(&user, &secret).await {
            Ok(got) if Some(&got) == done.last_value.as_ref() => {}
            Ok(got) => err("GetSecretValue", format!("read {got:?}")),
            Err(c) => err("GetSecretValue", c),
        }
        let plain = format!("plain {i}/{round}").into_bytes();
        match user
            .kms
            .encrypt()
            .key_id(&kms_key)
            .plaintext(Blob::new(plain.clone()))
            .send()
            .await
        {
            Ok(o) => {
                let blob = o.ciphertext_blob().expect("blob").as_ref().to_vec();
                match user
                    .kms
                    .decrypt()
                    .ciphertext_blob(Blob::new(blob.clone()))
                    .send()
                    .await
                {
                    Ok(d) if d.plaintext().map(|p| p.as_ref()) == Some(plain.as_slice()) => {}
                    Ok(_) => err("Decrypt", "wrong plaintext".into()),
                    Err(e) => err("Decrypt", code(&e)),
                }
                done.ciphertexts.push((plain, blob));
            }
            Err(e) => err("Encrypt", code(&e)),
        }
        if round.is_multiple_of(4) {
            let name = format!("loader-{i}-{round}");
            root.iam
                .create_user()
                .user_name(&name)
                .send()
                .await
                .expect("CreateUser");
            match new_key(&root, &name).await {
                Ok(k) => done.access_keys.push(k),
                Err(c) => err("CreateAccessKey", c),
            }
        }
        if round.is_multiple_of(8) {
            match user.kms.create_key().send().await {
                Ok(o) => {
                    let id = o.key_metadata().expect("metadata").key_id().to_owned();
                    match user.kms.rotate_key_on_demand().key_id(&id).send().await {
                        Ok(_) => {}
                        Err(e) => err("RotateKeyOnDemand", code(&e)),
                    }
                    done.kms_keys.push(id);
                }
                Err(e) => err("CreateKey", code(&e)),
            }
        }
    }
    done.errors = errors;
    done
}

/// Checks that every value the setup and the load wrote reads through `c` (root's clients on one
/// node), with the user and access keys made along the way.
async fn check_everything(
    node: &Node,
    c: &Clients,
    user: &Creds,
    dones: &[Done],
    setup: &[(String, Vec<u8>)],
) {
    let u = node.clients(user);
    for (name, blob) in setup {
        assert_eq!(
            value(&u, name).await,
            Ok(format!("value of {name}")),
            "{}",
            node.addr
        );
        let out = u
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(blob.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Decrypt on {}: {}", node.addr, code(&e)));
        assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(name.as_bytes()));
    }
    for (i, d) in dones.iter().enumerate() {
        assert_eq!(
            value(&u, &format!("load/{i}")).await.ok(),
            d.last_value,
            "{}",
            node.addr
        );
        for (plain, blob) in d.ciphertexts.iter().step_by(7) {
            let out = u
                .kms
                .decrypt()
                .ciphertext_blob(Blob::new(blob.clone()))
                .send()
                .await
                .expect("Decrypt");
            assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(plain.as_slice()));
        }
        for k in &d.kms_keys {
            let out = u
                .kms
                .encrypt()
                .key_id(k)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "Encrypt under a key made during the load, on {}: {}",
                        node.addr,
                        code(&e)
                    )
                });
            assert!(out.ciphertext_blob().is_some());
        }
        // Every access key made during the load signs requests.
        for k in &d.access_keys {
            node.clients(k)
                .sts
                .get_caller_identity()
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "an access key made during the load, on {}: {}",
                        node.addr,
                        code(&e)
                    )
                });
        }
    }
    c.sm.list_secrets().send().await.expect("ListSecrets as root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn root_key_rotation_is_picked_up_by_every_node_without_a_restart() {
    let Some(url) = harness::postgres_url("cross-node root key rotation") else {
        return;
    };
    let schema = kinko_store_postgres::scratch::ScratchSchema::new(&url);
    let store_url = schema.url(harness::NODE_POOL);
    let root = Creds::new(
        "AKIAROTATIONROOT0001",
        "rotation-test-root-secret-access-key-00001",
    );
    let (old, new) = (harness::random_root_key(), harness::random_root_key());
    let keys: Vec<Keys> = (0..NODES + 2)
        .map(|_| Keys {
            dir: tempfile::tempdir().expect("tempdir"),
        })
        .collect();
    for k in &keys[..NODES] {
        write_key(&k.root(), &old);
    }
    let starting: Vec<_> = keys[..NODES]
        .iter()
        .map(|k| {
            let l = launch(&store_url, k, &root);
            std::thread::spawn(move || Node::start(&l))
        })
        .collect();
    let nodes: Vec<Node> = starting
        .into_iter()
        .map(|t| t.join().expect("node start"))
        .collect();
    let roots: Vec<Clients> = nodes.iter().map(|n| n.clients(&root)).collect();

    // Before: secrets under the default key and under a customer managed key, an IAM user.
    let creds = user(&roots[0], "alice").await;
    let users: Vec<Clients> = nodes.iter().map(|n| n.clients(&creds)).collect();
    let kms_key = users[1]
        .kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned();
    let mut setup = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let name = format!("before/{i}");
        let mut create =
            u.sm.create_secret()
                .name(&name)
                .secret_string(format!("value of {name}"));
        if i % 2 == 1 {
            create = create.kms_key_id(&kms_key);
        }
        create.send().await.expect("CreateSecret");
        u.sm.create_secret()
            .name(format!("load/{i}"))
            .secret_string("start")
            .send()
            .await
            .expect("CreateSecret");
        let blob = u
            .kms
            .encrypt()
            .key_id(&kms_key)
            .plaintext(Blob::new(name.clone().into_bytes()))
            .send()
            .await
            .expect("Encrypt")
            .ciphertext_blob()
            .expect("blob")
            .as_ref()
            .to_vec();
        setup.push((name, blob));
    }

    // 1. Every node gets the new key as its next key, and loads it while it runs.
    wait_metric(&nodes, "kinko_root_key_next_loaded", 0.0);
    for k in &keys[..NODES] {
        write_key(&k.new_key(), &new);
    }
    wait_metric(&nodes, "kinko_root_key_next_loaded", 1.0);

    // 2. Load through every node, and the rotation in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = (0..NODES)
        .map(|i| {
            tokio::spawn(load(
                i,
                roots[i].clone(),
                users[i].clone(),
                kms_key.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kinko"))
        .args(["rotate-root-key", "--store", &store_url, "--root-key-file"])
        .arg(keys[0].root())
        .arg("--new-root-key-file")
        .arg(keys[0].new_key())
        .env_remove("KINKO_ROOT_KEY")
        .env_remove("KINKO_NEW_ROOT_KEY")
        .env_remove("KINKO_STORE")
        .output()
        .expect("run kinko rotate-root-key");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rotate-root-key failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-wrapped"), "{stdout}");
    // Every node switches by itself.
    wait_metric(&nodes, "kinko_root_key_switches_total", 1.0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut dones = Vec::new();
    for l in loads {
        dones.push(l.await.expect("load task"));
    }
    // The only error a client may see: a write of a root-sealed value through a node in the
    // moment before it switched, refused with nothing written (the SDKs retry it).
    for (i, d) in dones.iter().enumerate() {
        for (what, n) in &d.errors {
            let allowed = [
                "CreateAccessKey: ServiceFailure",
                "CreateKey: KMSInternalException",
                "RotateKeyOnDemand: KMSInternalException",
            ]
            .contains(&what.as_str());
            assert!(allowed, "node {i}: {n} x {what}; stderr:\n{}", nodes[i].stderr());
        }
        assert!(
            d.last_value.is_some() && !d.ciphertexts.is_empty(),
            "node {i} did nothing"
        );
        eprintln!(
            "node {i}: {} ciphertexts, {} access keys, {} KMS keys; refused: {:?}",
            d.ciphertexts.len(),
            d.access_keys.len(),
            d.kms_keys.len(),
            d.errors
        );
    }
    for (n, c) in nodes.iter().zip(&roots) {
        check_everything(n, c, &creds, &dones, &setup).await;
        assert_eq!(n.get("/ready").expect("/ready").0, 200);
    }
    // Running the rotation again changes nothing and succeeds.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_kinko"))
        .args(["rotate-root-key", "--store", &store_url, "--root-key-file"])
        .arg(keys[1].root())
        .arg("--new-root-key-file")
        .arg(keys[1].new_key())
        .env_remove("KINKO_ROOT_KEY")
        .env_remove("KINKO_NEW_ROOT_KEY")
        .env_remove("KINKO_STORE")
        .output()
        .expect("run kinko rotate-root-key");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // 3. The old key is removed from every node: the new key becomes the root key file, and the
    // next key file goes. The nodes drop the old key while they run.
    for k in &keys[..NODES] {
        write_key(&k.root(), &new);
        std::fs::remove_file(k.new_key()).expect("remove the next key file");
    }
    wait_metric(&nodes, "kinko_root_key_next_loaded", 0.0);
    for (n, c) in nodes.iter().zip(&roots) {
        check_everything(n, c, &creds, &dones, &setup).await;
    }
    assert_eq!(
        metric(&nodes[0], "kinko_root_key_switches_total"),
        Some(1.0),
        "no second switch"
    );

    // 4. A node that only ever had the new key opens everything: nothing is left under the old.
    write_key(&keys[NODES].root(), &new);
    let fresh = Node::start(&launch(&store_url, &keys[NODES], &root));
    check_everything(&fresh, &fresh.clients(&root), &creds, &dones, &setup).await;

    // 5. A node started with only the old key refuses to start, and says why.
    write_key(&keys[NODES + 1].root(), &old);
    let refused = Node::try_start(&launch(&store_url, &keys[NODES + 1], &root))
        .err()
        .expect("a node with only the old key must not start");
    assert!(
        refused.contains("does not match the one the database was created with or last rotated to"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_without_the_new_key_says_so_and_recovers_once_given_it() {
    let Some(url) = harness::postgres_url("a node without the new root key") else {
        return;
    };
    let schema = kinko_store_postgres::scratch::ScratchSchema::new(&url);
    let store_url = schema.url(harness::NODE_POOL);
    let root = Creds::new(
        "AKIAROTATIONROOT0002",
        "rotation-test-root-secret-access-key-00002",
    );
    let (old, new) = (harness::random_root_key(), harness::random_root_key());
    let keys: Vec<Keys> = (0..2)
        .map(|_| Keys {
            dir: tempfile::tempdir().expect("tempdir"),
        })
        .collect();
    for k in &keys {
        write_key(&k.root(), &old);
    }
    let a = Node::start(&launch(&store_url, &keys[0], &root));
    let b = Node::start(&launch(&store_url, &keys[1], &root));
    let creds = user(&a.clients(&root), "bob").await;
    a.clients(&creds)
        .sm
        .create_secret()
        .name("s")
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    // Only node a gets the new key.
    write_key(&keys[0].new_key(), &new);
    wait_metric(std::slice::from_ref(&a), "kinko_root_key_next_loaded", 1.0);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kinko"))
        .args(["rotate-root-key", "--store", &store_url, "--root-key-file"])
        .arg(keys[0].root())
        .env("KINKO_NEW_ROOT_KEY", &new)
        .env_remove("KINKO_ROOT_KEY")
        .env_remove("KINKO_STORE")
        .output()
        .expect("run kinko rotate-root-key");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_metric(std::slice::from_ref(&a), "kinko_root_key_switches_total", 1.0);
    // Node b says so: metric, /ready, log. It refuses what needs the key, never answers wrongly.
    wait_metric(std::slice::from_ref(&b), "kinko_root_key_missing", 1.0);
    assert_eq!(b.get("/ready").expect("/ready").0, 503);
    assert!(b.stderr().contains("DOES NOT HOLD"), "{}", b.stderr());
    match b
        .clients(&creds)
        .sm
        .get_secret_value()
        .secret_id("s")
        .send()
        .await
    {
        Ok(o) => assert_eq!(o.secret_string(), Some("v")),
        Err(e) => assert!(
            e.raw_response().is_some_and(|r| r.status().as_u16() >= 500),
            "a node without the key answers a 5xx, got {}",
            code(&e)
        ),
    }
    assert_eq!(value(&a.clients(&creds), "s").await, Ok("v".into()));
    // Given the key (as its root key file), it switches and serves again, without a restart.
    write_key(&keys[1].root(), &new);
    wait_metric(std::slice::from_ref(&b), "kinko_root_key_missing", 0.0);
    assert_eq!(b.get("/ready").expect("/ready").0, 200);
    assert_eq!(value(&b.clients(&creds), "s").await, Ok("v".into()));
    new_key(&b.clients(&root), "bob")
        .await
        .expect("CreateAccessKey through b");
}
