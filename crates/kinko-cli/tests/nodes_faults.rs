//! Faults under load: three `kinko server` processes on a PostgreSQL server of the test's own
//! (initdb'd into a temp dir, so that it can be stopped; never the machine's server), with every
//! node under mixed load (GetSecretValue, PutSecretValue, IAM changes) from clients that retry
//! through another node when one fails. The faults:
//!
//! - a node SIGKILLed: its clients retry on the others and succeed; it starts again and serves;
//! - PostgreSQL stopped (`fast`, then `immediate`) and started again: meanwhile every answer is an
//!   AWS-shaped 5xx (never a wrong value, never an access key deactivated just before accepted),
//!   `/ready` answers 503; afterwards every node serves again by itself;
//! - one node cut off from the database (a TCP proxy between it and PostgreSQL, its connections
//!   reset and new ones refused): it answers 5xx (it serves nothing from its cache, since it can't
//!   know what changed), the others keep working, and it serves again, up to date, once the link
//!   returns.
//!
//! Through all of it: every acknowledged write is there afterwards, on every node, and no read
//! returns a value older than a write acknowledged before the read began. Each test is bounded
//! (waits of at most [`RECOVER`]). Skipped (with the reason printed) when
//! `KINKO_TEST_POSTGRES_URL` is unset or the PostgreSQL binaries are missing.

mod harness;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use harness::postgres::{OwnPostgres, Proxy, StopMode};
use harness::{Clients, Cluster, Creds, lock};

/// Writers (one a node, each on a secret of its own) and readers (one a node).
const NODES: usize = 3;
/// Bound on every wait for a node or the database to come back, or to notice a fault.
const RECOVER: Duration = Duration::from_secs(60);
/// The 5xx codes of an internal failure, per service.
const INTERNAL: &[&str] = &[
    "InternalServiceError",
    "InternalFailure",
    "ServiceFailure",
    "ServiceUnavailable",
    "KMSInternalException",
];

/// What one failed call looked like.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    /// An AWS-shaped 5xx internal failure.
    Internal,
    /// No answer: the connection was refused or reset (a dead node).
    Unreachable,
    /// Anything else: a 4xx, a timeout, a 5xx of another shape.
    Other(String),
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(e: &SdkError<E, HttpResponse>) -> Failure {
    match e {
        // Refused, reset, or closed with the request in flight (never acknowledged).
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Failure::Unreachable,
        SdkError::ServiceError(_) => {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            let code = e.code().unwrap_or("");
            if status >= 500 && INTERNAL.contains(&code) {
                Failure::Internal
            } else {
                Failure::Other(format!("{status} {code}"))
            }
        }
        other => Failure::Other(format!("{other:?}")),
    }
}

/// What the load saw, shared by its tasks.
#[derive(Default)]
struct Seen {
    /// (node, failure) → count.
    failures: Mutex<BTreeMap<(usize, Failure), u64>>,
    /// Reads that returned what they must not.
    violations: Mutex<Vec<String>>,
    /// Per writer: the acknowledged puts (sequence number, version id).
    acked: Mutex<BTreeMap<usize, Vec<(u64, String)>>>,
    /// IAM users whose creation was acknowledged.
    users: Mutex<Vec<String>>,
}

impl Seen {
    fn failed(&self, node: usize, f: Failure) {
        *lock(&self.failures).entry((node, f)).or_default() += 1;
    }
}

fn secret_name(w: usize) -> String {
    format!("faults/writer-{w}")
}

/// The put's idempotency token: a retry of sequence `k` through another node sends the same.
fn token(w: usize, k: u64) -> String {
    format!("kinko-faults-writer-{w:02}-put-{k:012}")
}

/// Mixed load on every node until stopped: a writer and a reader a node, and an IAM writer.
struct Load {
    clients: Arc<Vec<Clients>>,
    seen: Arc<Seen>,
    /// Per writer: the highest acknowledged sequence number, and the highest one sent.
    acked_k: Arc<Vec<AtomicU64>>,
    sent_k: Arc<Vec<AtomicU64>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Creates the writers' secrets, then starts the load.
    async fn start(clients: Vec<Clients>) -> Load {
        assert_eq!(clients.len(), NODES);
        for (w, c) in clients.iter().enumerate() {
            c.sm.create_secret()
                .name(secret_name(w))
                .secret_string("0")
                .send()
                .await
                .expect("CreateSecret");
        }
        let mut load = Load {
            clients: Arc::new(clients),
            seen: Arc::default(),
            acked_k: Arc::new((0..NODES).map(|_| AtomicU64::new(0)).collect()),
            sent_k: Arc::new((0..NODES).map(|_| AtomicU64::new(0)).collect()),
            stop: Arc::default(),
            tasks: Vec::new(),
        };
        for w in 0..NODES {
            load.tasks.push(tokio::spawn(load.writer(w)));
            load.tasks.push(tokio::spawn(load.reader(w)));
        }
        load.tasks.push(tokio::spawn(load.iam()));
        load
    }

    /// PutSecretValue `0, 1, 2, ...` on the writer's secret, each through its node first, then
    /// the next ones until one acknowledges it (the same token each time).
    fn writer(&self, w: usize) -> impl Future<Output = ()> + use<> {
        let (clients, seen, acked_k, sent_k, stop) = (
            self.clients.clone(),
            self.seen.clone(),
            self.acked_k.clone(),
            self.sent_k.clone(),
            self.stop.clone(),
        );
        async move {
            let mut k = 0;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                sent_k[w].store(k, Ordering::SeqCst);
                let mut attempt = 0;
                while !stop.load(Ordering::SeqCst) {
                    let node = (w + attempt) % NODES;
                    attempt += 1;
                    match clients[node]
                        .sm
                        .put_secret_value()
                        .secret_id(secret_name(w))
                        .secret_string(k.to_string())
                        .client_request_token(token(w, k))
                        .send()
                        .await
                    {
                        Ok(out) => {
                            let v = out.version_id().unwrap_or_default().to_owned();
                            lock(&seen.acked).entry(w).or_default().push((k, v));
                            acked_k[w].store(k, Ordering::SeqCst);
                            break;
                        }
                        Err(e) => {
                            seen.failed(node, classify(&e));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }
    }

    /// GetSecretValue of every writer's secret through its node (the next one when it fails):
    /// never older than the last put acknowledged before the read began, never a value not sent.
    fn reader(&self, r: usize) -> impl Future<Output = ()> + use<> {
        let (clients, seen, acked_k, sent_k, stop) = (
            self.clients.clone(),
            self.seen.clone(),
            self.acked_k.clone(),
            self.sent_k.clone(),
            self.stop.clone(),
        );
        async move {
            let mut attempt = 0;
            while !stop.load(Ordering::SeqCst) {
                for w in 0..NODES {
                    let node = (r + attempt) % NODES;
                    let floor = acked_k[w].load(Ordering::SeqCst);
                    match clients[node]
                        .sm
                        .get_secret_value()
                        .secret_id(secret_name(w))
                        .send()
                        .await
                    {
                        Ok(out) => {
                            attempt = 0;
                            let ceiling = sent_k[w].load(Ordering::SeqCst);
                            let got = out.secret_string().and_then(|s| s.parse::<u64>().ok());
                            if !got.is_some_and(|k| k >= floor && k <= ceiling) {
                                lock(&seen.violations).push(format!(
                                    "node {node} read {got:?} of writer {w}: acknowledged {floor} \
                                     before the read, sent {ceiling}"
                                ));
                            }
                        }
                        Err(e) => {
                            seen.failed(node, classify(&e));
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }
    }

    /// CreateUser and PutUserPolicy, each through the nodes in turn (the next node on failure).
    fn iam(&self) -> impl Future<Output = ()> + use<> {
        let (clients, seen, stop) = (self.clients.clone(), self.seen.clone(), self.stop.clone());
        async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let user = format!("faults-user-{n}");
                let mut attempt = n;
                let mut created = false;
                while !stop.load(Ordering::SeqCst) {
                    let node = attempt % NODES;
                    attempt += 1;
                    let c = &clients[node];
                    if !created {
                        match c.iam.create_user().user_name(&user).send().await {
                            Ok(_) => created = true,
                            // A retry of a creation that was committed, its answer lost.
                            Err(e) if e.code() == Some("EntityAlreadyExists") => created = true,
                            Err(e) => {
                                seen.failed(node, classify(&e));
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                continue;
                            }
                        }
                    }
                    match c
                        .iam
                        .put_user_policy()
                        .user_name(&user)
                        .policy_name("read")
                        .policy_document(
                            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#,
                        )
                        .send()
                        .await
                    {
                        Ok(_) => {
                            lock(&seen.users).push(user.clone());
                            break;
                        }
                        Err(e) => {
                            seen.failed(node, classify(&e));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }
    }

    /// Puts acknowledged so far by writer `w`.
    fn acked(&self, w: usize) -> u64 {
        self.acked_k[w].load(Ordering::SeqCst)
    }

    /// Waits until every writer has had `more` puts acknowledged beyond `since` (bounded).
    async fn progress(&self, since: &[u64], more: u64, cluster: &Cluster) {
        let deadline = Instant::now() + RECOVER;
        while (0..NODES).any(|w| self.acked(w) < since[w] + more) {
            assert!(
                Instant::now() < deadline,
                "writers made no progress in {RECOVER:?}: {:?} since {since:?}; failures {:?}\n{}",
                (0..NODES).map(|w| self.acked(w)).collect::<Vec<_>>(),
                lock(&self.seen.failures),
                cluster.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn marks(&self) -> Vec<u64> {
        (0..NODES).map(|w| self.acked(w)).collect()
    }

    /// Stops the load; what it saw.
    async fn stop(self) -> Arc<Seen> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            tokio::time::timeout(RECOVER, t)
                .await
                .expect("the load stops in time")
                .expect("a load task panicked");
        }
        self.seen
    }
}

/// Every acknowledged put and user is there through `c`, and each writer's AWSCURRENT is its last
/// acknowledged put or a later one.
async fn check_acknowledged(c: &Clients, seen: &Seen, what: &str) {
    let acked = lock(&seen.acked).clone();
    for (w, puts) in acked {
        let versions: BTreeMap<String, Vec<String>> =
            c.sm.list_secret_version_ids()
                .secret_id(secret_name(w))
                .include_deprecated(true)
                .max_results(100)
                .send()
                .await
                .map(|out| {
                    out.versions()
                        .iter()
                        .map(|v| {
                            (
                                v.version_id().unwrap_or_default().to_owned(),
                                v.version_stages().to_vec(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_else(|e| panic!("{what}: ListSecretVersionIds: {e:?}"));
        // Versions without a stage are deprecated and may be removed beyond 100: check the last
        // 90 by id, and every one by value where it still exists.
        for (k, v) in puts.iter().rev().take(90) {
            assert!(
                versions.contains_key(v),
                "{what}: writer {w}'s put {k} ({v}) is gone"
            );
            let got =
                c.sm.get_secret_value()
                    .secret_id(secret_name(w))
                    .version_id(v)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: GetSecretValue {v}: {e:?}"));
            assert_eq!(got.secret_string(), Some(k.to_string().as_str()), "{what}: {v}");
        }
        let current =
            c.sm.get_secret_value()
                .secret_id(secret_name(w))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what}: GetSecretValue: {e:?}"));
        let k: u64 = current.secret_string().unwrap_or("").parse().expect("a number");
        let last = puts.last().map_or(0, |p| p.0);
        assert!(
            k >= last,
            "{what}: writer {w}'s AWSCURRENT is {k}, {last} was acknowledged"
        );
    }
    let users = lock(&seen.users).clone();
    for u in users {
        let policy = c
            .iam
            .get_user_policy()
            .user_name(&u)
            .policy_name("read")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: GetUserPolicy {u}: {e:?}"));
        assert!(!policy.policy_document().is_empty());
    }
}

/// The load's failures: only the kinds `allowed` says a node may show. Returns them, (node,
/// failure) → count.
fn check_failures(seen: &Seen, allowed: impl Fn(usize, &Failure) -> bool) -> BTreeMap<(usize, Failure), u64> {
    let failures = lock(&seen.failures).clone();
    eprintln!("the load's failures: {failures:?}");
    let bad: Vec<_> = failures.iter().filter(|((n, f), _)| !allowed(*n, f)).collect();
    assert!(
        bad.is_empty(),
        "failures that must not happen: {bad:?} (all: {failures:?})"
    );
    let violations = lock(&seen.violations).clone();
    assert!(violations.is_empty(), "wrong values read: {violations:#?}");
    failures
}

/// Waits until `GET /ready` on node `i` answers `code` (bounded).
async fn wait_ready(cluster: &Cluster, i: usize, code: u16) {
    let deadline = Instant::now() + RECOVER;
    loop {
        if matches!(cluster.nodes[i].get("/ready"), Ok((c, _)) if c == code) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {i}'s /ready did not answer {code} within {RECOVER:?}\n{}",
            cluster.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until node `i` answers GetSecretValue (bounded): it serves again.
async fn wait_serving(cluster: &Cluster, i: usize) {
    let c = cluster.nodes[i].clients(&cluster.root);
    let deadline = Instant::now() + RECOVER;
    loop {
        match c.sm.get_secret_value().secret_id(secret_name(0)).send().await {
            Ok(_) => return,
            Err(e) => assert!(
                Instant::now() < deadline,
                "node {i} does not serve again within {RECOVER:?}: {e:?}\n{}",
                cluster.stderr()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A user allowed to read every secret, with an access key: the key, once every node accepted it.
async fn reader_user(cluster: &Cluster, name: &str) -> Creds {
    let c = cluster.nodes[0].clients(&cluster.root);
    c.iam
        .create_user()
        .user_name(name)
        .send()
        .await
        .expect("CreateUser");
    c.iam
        .put_user_policy()
        .user_name(name)
        .policy_name("read")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutUserPolicy");
    let key = c
        .iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("CreateAccessKey");
    let key = key.access_key().expect("key");
    let creds = Creds::new(key.access_key_id(), key.secret_access_key());
    for (i, n) in cluster.clients(&creds).iter().enumerate() {
        n.sm.get_secret_value()
            .secret_id(secret_name(0))
            .send()
            .await
            .unwrap_or_else(|e| panic!("node {i}: the new key reads: {e:?}"));
    }
    creds
}

async fn deactivate(c: &Clients, user: &str, key: &Creds) {
    c.iam
        .update_access_key()
        .user_name(user)
        .access_key_id(&key.access_key_id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .expect("UpdateAccessKey Inactive");
}

/// A call with a deactivated key through node `i`: refused (as AWS does, or as an internal failure
/// while the node can't tell), never served.
async fn assert_refused(cluster: &Cluster, i: usize, key: &Creds, what: &str) -> Failure {
    let c = cluster.nodes[i].clients(key);
    match c.sm.get_secret_value().secret_id(secret_name(0)).send().await {
        Ok(_) => panic!("{what}: node {i} served a deactivated access key"),
        Err(e) => match classify(&e) {
            Failure::Other(s) if s == "400 UnrecognizedClientException" => Failure::Other(s),
            Failure::Internal => Failure::Internal,
            f => panic!("{what}: node {i} answered a deactivated key with {f:?}: {e:?}"),
        },
    }
}

fn cluster_on(pg: &OwnPostgres, n: usize) -> Cluster {
    Cluster::start(&pg.url(), n, &["--ready-probe-interval", "0.5"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_node_loses_no_acknowledged_write_and_its_clients_go_on_through_the_others() {
    if harness::postgres_url("fault tests").is_none() {
        return;
    }
    let Some(pg) = OwnPostgres::start("fault tests") else {
        return;
    };
    let mut cluster = cluster_on(&pg, NODES);
    let load = Load::start(cluster.root_clients()).await;
    load.progress(&[0; NODES], 5, &cluster).await;

    cluster.nodes[0].kill();
    let killed = load.marks();
    // Writer 0's node is gone: its puts go through the others, and so do its reads.
    load.progress(&killed, 10, &cluster).await;

    let seen = load.stop().await;
    // Only node 0 failed, and only by not answering (it was killed between two requests, or with
    // requests in flight: those were never acknowledged and were retried elsewhere).
    let failures = check_failures(&seen, |n, f| n == 0 && *f == Failure::Unreachable);
    assert!(
        failures.contains_key(&(0, Failure::Unreachable)),
        "the load never met the dead node"
    );
    for (i, c) in cluster.root_clients().iter().enumerate().skip(1) {
        check_acknowledged(c, &seen, &format!("node {i} after node 0 was killed")).await;
    }
    // Started again, with nothing to repair, it serves everything.
    cluster.restart(0);
    wait_ready(&cluster, 0, 200).await;
    check_acknowledged(
        &cluster.nodes[0].clients(&cluster.root),
        &seen,
        "node 0 restarted",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgresql_restart_is_answered_with_internal_failures_and_every_node_recovers_by_itself() {
    if harness::postgres_url("fault tests").is_none() {
        return;
    }
    let Some(pg) = OwnPostgres::start("fault tests") else {
        return;
    };
    let cluster = cluster_on(&pg, NODES);
    let load = Load::start(cluster.root_clients()).await;
    load.progress(&[0; NODES], 5, &cluster).await;

    for (round, mode) in [StopMode::Fast, StopMode::Immediate].into_iter().enumerate() {
        let what = format!("PostgreSQL stopped ({mode:?})");
        let user = format!("faults-deactivated-{round}");
        let key = reader_user(&cluster, &user).await;
        // Deactivated just before the outage: refused throughout it, and after.
        deactivate(&cluster.nodes[1].clients(&cluster.root), &user, &key).await;
        pg.stop(mode);
        for i in 0..NODES {
            assert_refused(&cluster, i, &key, &what).await;
        }
        for i in 0..NODES {
            wait_ready(&cluster, i, 503).await;
        }
        // Every node, still up, answers an internal failure: no value, no authorization from
        // what it cached before.
        for (i, c) in cluster.root_clients().iter().enumerate() {
            let e =
                c.sm.get_secret_value()
                    .secret_id(secret_name(0))
                    .send()
                    .await
                    .expect_err("no database, no answer");
            assert_eq!(classify(&e), Failure::Internal, "{what}: node {i}: {e:?}");
            let e = c
                .iam
                .get_user()
                .user_name(&user)
                .send()
                .await
                .expect_err("no database");
            assert_eq!(classify(&e), Failure::Internal, "{what}: node {i}: {e:?}");
            assert_eq!(assert_refused(&cluster, i, &key, &what).await, Failure::Internal);
        }
        let before = load.marks();
        pg.start_again();
        for i in 0..NODES {
            wait_serving(&cluster, i).await;
            wait_ready(&cluster, i, 200).await;
        }
        load.progress(&before, 5, &cluster).await;
        for i in 0..NODES {
            assert_refused(&cluster, i, &key, &format!("{what}, then started")).await;
        }
    }

    let seen = load.stop().await;
    // Nodes stayed up: every failure is an answer, an internal failure.
    let failures = check_failures(&seen, |_, f| *f == Failure::Internal);
    assert!(!failures.is_empty(), "the load never met the outage");
    for (i, c) in cluster.root_clients().iter().enumerate() {
        check_acknowledged(c, &seen, &format!("node {i} after the restarts")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_cut_off_from_the_database_answers_internal_failures_and_catches_up_when_it_returns() {
    if harness::postgres_url("fault tests").is_none() {
        return;
    }
    let Some(pg) = OwnPostgres::start("fault tests") else {
        return;
    };
    let proxy = Proxy::start(pg.port);
    let mut cluster = cluster_on(&pg, NODES - 1);
    // The same schema, through the proxy.
    let via_proxy = cluster.store_url.replace(
        &format!("127.0.0.1:{}/", pg.port),
        &format!("127.0.0.1:{}/", proxy.port),
    );
    assert_ne!(via_proxy, cluster.store_url);
    let cut = cluster.add_node(&via_proxy);
    let user = "faults-deactivated-while-cut";
    let load = Load::start(cluster.root_clients()).await;
    let key = reader_user(&cluster, user).await;
    load.progress(&[0; NODES], 5, &cluster).await;

    proxy.cut();
    wait_ready(&cluster, cut, 503).await;
    // The others go on, writer `cut`'s puts among them (through the next node).
    let during = load.marks();
    load.progress(&during, 10, &cluster).await;
    // A key deactivated while the node is cut off is refused there too, and it serves nothing.
    deactivate(&cluster.nodes[0].clients(&cluster.root), user, &key).await;
    assert_eq!(
        assert_refused(&cluster, cut, &key, "cut off").await,
        Failure::Internal
    );
    let e = cluster.nodes[cut]
        .clients(&cluster.root)
        .sm
        .get_secret_value()
        .secret_id(secret_name(0))
        .send()
        .await
        .expect_err("cut off");
    assert_eq!(classify(&e), Failure::Internal, "{e:?}");

    proxy.restore();
    wait_serving(&cluster, cut).await;
    wait_ready(&cluster, cut, 200).await;
    let back = load.marks();
    load.progress(&back, 5, &cluster).await;
    // Up to date at once: what was written while it was away, the key's deactivation.
    assert_refused(&cluster, cut, &key, "link restored").await;

    let seen = load.stop().await;
    let failures = check_failures(&seen, |n, f| n == cut && *f == Failure::Internal);
    assert!(
        failures.contains_key(&(cut, Failure::Internal)),
        "the load never met the cut"
    );
    for (i, c) in cluster.root_clients().iter().enumerate() {
        check_acknowledged(c, &seen, &format!("node {i} after the link returned")).await;
    }
}
