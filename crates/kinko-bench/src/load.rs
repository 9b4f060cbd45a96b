//! The closed-loop load generator, and batches of requests for seeding.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http::StatusCode;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};

use crate::client::{Conn, Endpoint, Response};
use crate::cpu;
use crate::ops::{Op, Workload, create_secret_body, tag_value};
use crate::signing::{Api, Signer};
use crate::stats::{RunResult, Server, Tally};

/// How long an in-flight request may outlast the end of its run.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Timeout of one request outside a timed run (seeding, probes).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before reconnecting after a failed connection attempt.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// One server process of a target: where to send requests and how to sign them for it.
pub struct Node {
    pub endpoint: Endpoint,
    pub signer: Signer,
}

/// What is under load: one server, or several nodes sharing one database (the load is spread
/// over them: worker `k` of a run talks to node `k mod n`).
pub struct Target {
    pub server: Server,
    pub nodes: Vec<Arc<Node>>,
    /// The processes whose CPU time is the server's (summed), when they run on this machine and
    /// their ids are known.
    pub pids: Vec<u32>,
}

impl Target {
    /// One server.
    pub fn single(server: Server, endpoint: Endpoint, signer: Signer, pid: Option<u32>) -> Self {
        Self {
            server,
            nodes: vec![Arc::new(Node { endpoint, signer })],
            pids: pid.into_iter().collect(),
        }
    }

    /// The first node (the one setup calls and probes go to).
    pub fn first(&self) -> &Node {
        &self.nodes[0]
    }

    /// The node worker `k` talks to.
    fn node(&self, k: usize) -> &Arc<Node> {
        &self.nodes[k % self.nodes.len()]
    }

    /// Each node as a target of its own (for what must be done on every node, like warming its
    /// cache).
    pub fn each_node(&self) -> Vec<Arc<Target>> {
        self.nodes
            .iter()
            .map(|node| {
                Arc::new(Target {
                    server: self.server,
                    nodes: vec![Arc::clone(node)],
                    pids: Vec::new(),
                })
            })
            .collect()
    }

    /// Sends one signed request to the first node on a fresh connection.
    pub async fn call(&self, api: Api, operation: &str, body: Vec<u8>) -> Result<Response> {
        let mut rng = SmallRng::from_os_rng();
        let node = self.first();
        let request = node.signer.request(api, operation, body, &mut rng)?;
        let mut conn = Conn::connect(node.endpoint.addr).await?;
        timeout(REQUEST_TIMEOUT, conn.send(request))
            .await
            .with_context(|| format!("{operation} timed out after {REQUEST_TIMEOUT:?}"))?
    }
}

/// Parameters of one timed run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub op: Op,
    pub concurrency: usize,
    pub workload: Arc<Workload>,
    pub warmup: Duration,
    pub duration: Duration,
}

/// Runs `spec.concurrency` workers, each with its own keep-alive connection
/// and one request in flight, for warm-up plus the measured duration.
pub async fn run(target: Arc<Target>, spec: RunSpec) -> Result<RunResult> {
    let mut connections = Vec::with_capacity(spec.concurrency);
    for k in 0..spec.concurrency {
        let node = Arc::clone(target.node(k));
        let conn = timeout(REQUEST_TIMEOUT, Conn::connect(node.endpoint.addr))
            .await
            .context("connecting timed out")??;
        connections.push((node, conn));
    }

    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let mut workers = JoinSet::new();
    for (node, conn) in connections {
        let worker = Worker {
            node,
            spec: spec.clone(),
            measure_from,
            end,
            rng: SmallRng::from_os_rng(),
        };
        workers.spawn(worker.run(conn));
    }

    // Where the CPU time goes during the measured window.
    sleep_until(measure_from).await;
    let cpu_start = cpu::Sample::now(&target.pids);
    sleep_until(end).await;
    let cpu = cpu::Usage::between(&cpu_start, &cpu::Sample::now(&target.pids));

    let mut tally = Tally::new();
    while let Some(joined) = workers.join_next().await {
        tally.merge(joined.context("load worker panicked")??);
    }
    Ok(RunResult {
        server: target.server,
        op: spec.op,
        concurrency: spec.concurrency,
        measured: spec.duration,
        tally,
        cpu,
    })
}

struct Worker {
    node: Arc<Node>,
    spec: RunSpec,
    measure_from: Instant,
    end: Instant,
    rng: SmallRng,
}

impl Worker {
    async fn run(mut self, conn: Conn) -> Result<Tally> {
        let mut tally = Tally::new();
        let mut conn = Some(conn);
        let op = self.spec.op;
        loop {
            let now = Instant::now();
            if now >= self.end {
                break;
            }
            let measured = now >= self.measure_from;

            let mut live = match conn.take() {
                Some(c) if !c.is_closed() => c,
                stale => {
                    if stale.is_some() {
                        tally.reconnects += 1;
                    }
                    match timeout_at(self.end, Conn::connect(self.node.endpoint.addr)).await {
                        Ok(Ok(c)) => c,
                        Ok(Err(e)) => {
                            tally.error(measured, "connect".into(), || format!("{e:#}"));
                            sleep(RECONNECT_PAUSE).await;
                            continue;
                        }
                        Err(_) => break,
                    }
                }
            };

            let body = op.body(&mut self.rng, &self.spec.workload);
            let request = self
                .node
                .signer
                .request(op.api(), op.operation(), body, &mut self.rng)?;
            let sent = Instant::now();
            let measured = sent >= self.measure_from;
            match timeout_at(self.end + DRAIN_GRACE, live.send(request)).await {
                Ok(Ok(response)) => {
                    let done = Instant::now();
                    if response.status == StatusCode::OK {
                        if measured && done <= self.end {
                            tally.record(done - sent);
                        }
                    } else {
                        let kind = match response.error_type() {
                            Some(t) => format!("HTTP {} {t}", response.status.as_u16()),
                            None => format!("HTTP {}", response.status.as_u16()),
                        };
                        tally.error(measured, kind, || response.body_excerpt());
                    }
                    conn = Some(live);
                }
                Ok(Err(e)) => {
                    // The connection is unusable; the next iteration reconnects.
                    tally.error(measured, "transport".into(), || format!("{e:#}"));
                }
                Err(_) => {
                    // Still in flight at the end of the run, so it would not
                    // have been counted; the latencies already show the wait.
                    tally.abandoned += 1;
                    break;
                }
            }
        }
        Ok(tally)
    }
}

/// One request of a batch.
pub struct Call {
    pub api: Api,
    pub operation: &'static str,
    pub body: Vec<u8>,
}

/// Sends the requests `call(rng, 0) .. call(rng, count - 1)` with `concurrency`
/// in flight on keep-alive connections, reporting progress on stderr as
/// `label`. `check(index, response)` turns each response into a result or
/// an error, which stops the batch. Results come in no particular order.
pub async fn batch<T, C, H>(
    target: Arc<Target>,
    label: &str,
    count: usize,
    concurrency: usize,
    call: C,
    check: H,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    C: Fn(&mut SmallRng, usize) -> Call + Send + Sync + 'static,
    H: Fn(usize, Response) -> Result<T> + Send + Sync + 'static,
{
    let call = Arc::new(call);
    let check = Arc::new(check);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for k in 0..concurrency.clamp(1, count.max(1)) {
        let node = Arc::clone(target.node(k));
        let (call, check) = (Arc::clone(&call), Arc::clone(&check));
        let next = Arc::clone(&next);
        let done = Arc::clone(&done);
        workers.spawn(async move {
            let mut rng = SmallRng::from_os_rng();
            let mut conn = Conn::connect(node.endpoint.addr).await?;
            let mut results = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, anyhow::Error>(results);
                }
                if conn.is_closed() {
                    conn = Conn::connect(node.endpoint.addr).await?;
                }
                let Call { api, operation, body } = call(&mut rng, index);
                let request = node.signer.request(api, operation, body, &mut rng)?;
                let response = timeout(REQUEST_TIMEOUT, conn.send(request))
                    .await
                    .with_context(|| format!("{operation} timed out"))??;
                results.push(check(index, response)?);
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    let progress = {
        let done = Arc::clone(&done);
        let label = label.to_owned();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(500));
            loop {
                ticker.tick().await;
                eprint!("\r{label}: {}/{count}", done.load(Ordering::Relaxed));
                let _ = std::io::stderr().flush();
            }
        })
    };

    let started = Instant::now();
    let mut results = Vec::with_capacity(count);
    let mut outcome = Ok(());
    while let Some(joined) = workers.join_next().await {
        match joined.context("batch worker panicked").and_then(|r| r) {
            Ok(part) => results.extend(part),
            Err(e) => {
                if outcome.is_ok() {
                    outcome = Err(e);
                    workers.abort_all();
                }
            }
        }
    }
    progress.abort();
    eprintln!(
        "\r{label}: {}/{count} in {:.1} s",
        done.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    outcome.map(|()| results)
}

/// Creates the secrets `name(0) .. name(count - 1)` (under `kms_key_id`, else
/// aws/secretsmanager) with `concurrency` requests in flight. Secrets that
/// already exist are left as they are. Returns how many already existed.
pub async fn seed_secrets(
    target: Arc<Target>,
    label: &str,
    count: usize,
    concurrency: usize,
    name: fn(usize) -> String,
    kms_key_id: Option<String>,
    tagged: bool,
) -> Result<usize> {
    let existed = batch(
        target,
        label,
        count,
        concurrency,
        move |rng, index| Call {
            api: Api::SecretsManager,
            operation: "CreateSecret",
            body: create_secret_body(
                rng,
                &name(index),
                kms_key_id.as_deref(),
                tagged.then(|| tag_value(index)).as_deref(),
            ),
        },
        move |index, response| {
            if response.status == StatusCode::OK {
                Ok(false)
            } else if response.error_type().as_deref() == Some("ResourceExistsException") {
                Ok(true)
            } else {
                bail!(
                    "CreateSecret {} failed: HTTP {}: {}",
                    name(index),
                    response.status,
                    response.body_excerpt()
                )
            }
        },
    )
    .await?;
    Ok(existed.into_iter().filter(|&e| e).count())
}
