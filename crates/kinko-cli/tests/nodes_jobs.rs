//! Background work once across nodes: three `kinko server` processes on one PostgreSQL schema,
//! jobs every 0.2 s under 2 s leases. A secret past its recovery window is purged by exactly one
//! node (the lease holder; the metrics of every node show one purge, and no other node even ran
//! the job); after the holder is SIGKILLed, another node takes its lease over and purges the next
//! secret, again once.
//!
//! The binary has no clock to move, so a secret's recovery window is made to pass by setting its
//! deletion time in the database (`deletion_ms`, the column the job selects by).
//! Skipped (with the reason printed) when `KINKO_TEST_POSTGRES_URL` is unset.

mod harness;

use std::time::{Duration, Instant};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use harness::{Cluster, Node, metric};

const JOB: &str = "purge_secrets";
/// Bound on waiting for a background job (ticks every 0.2 s; a lease takes 2 s to run out).
const WAIT: Duration = Duration::from_secs(30);

/// What each live node's metrics say about the purge job: (items purged, items lost to a
/// conflict, runs, whether it holds the lease).
fn job_figures(nodes: &[&Node]) -> Vec<(f64, f64, f64, bool)> {
    nodes
        .iter()
        .map(|n| {
            let (code, text) = n.get("/metrics").expect("GET /metrics");
            assert_eq!(code, 200);
            let items = |r: &str| {
                metric(
                    &text,
                    &format!("kinko_job_items_total{{job=\"{JOB}\",result=\"{r}\"}}"),
                )
                .unwrap_or(0.0)
            };
            let runs = metric(
                &text,
                &format!("kinko_job_runs_total{{job=\"{JOB}\",outcome=\"ok\"}}"),
            )
            .unwrap_or(0.0)
                + metric(
                    &text,
                    &format!("kinko_job_runs_total{{job=\"{JOB}\",outcome=\"failed\"}}"),
                )
                .unwrap_or(0.0);
            let held = text.lines().any(|l| {
                l.starts_with(&format!("kinko_job_lease_held{{job=\"{JOB}\",")) && l.ends_with(" 1")
            });
            (items("done"), items("conflict"), runs, held)
        })
        .collect()
}

/// The nodes' figures once they count `done` purges in all: a purged secret is gone from the store
/// before the run that purged it reports (after its last item), so a test reading the metrics
/// right after seeing the secret gone waits for the report (bounded; whatever they count then is
/// what the test checks).
async fn settled_figures(nodes: &[&Node], done: f64) -> Vec<(f64, f64, f64, bool)> {
    let deadline = Instant::now() + WAIT;
    loop {
        let figures = job_figures(nodes);
        if figures.iter().map(|f| f.0).sum::<f64>() >= done || Instant::now() >= deadline {
            return figures;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deletes `name` with a 7-day window through `node`, then moves its deletion time to the past.
async fn delete_and_age(cluster: &Cluster, node: usize, name: &str, db: &tokio_postgres::Client) {
    let c = cluster.nodes[node].clients(&cluster.root);
    let arn =
        c.sm.create_secret()
            .name(name)
            .secret_string("to be purged")
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .expect("arn")
            .to_owned();
    c.sm.delete_secret()
        .secret_id(name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("DeleteSecret");
    let n = db
        .execute(
            &format!(
                "UPDATE \"{}\".secrets SET deletion_ms = 1 WHERE arn = $1",
                cluster.schema()
            ),
            &[&arn],
        )
        .await
        .expect("age the secret");
    assert_eq!(n, 1);
}

/// Waits until every live node answers that `name` no longer exists.
async fn wait_purged(cluster: &Cluster, live: &[usize], name: &str) {
    let deadline = Instant::now() + WAIT;
    'wait: loop {
        assert!(
            Instant::now() < deadline,
            "{name} not purged within {WAIT:?}\n{}",
            cluster.stderr()
        );
        for &i in live {
            let c = cluster.nodes[i].clients(&cluster.root);
            match c.sm.describe_secret().secret_id(name).send().await {
                Ok(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue 'wait;
                }
                Err(e) => assert_eq!(e.code(), Some("ResourceNotFoundException"), "{e:?}"),
            }
        }
        return;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purge_runs_on_one_node_and_moves_on_when_that_node_dies() {
    let Some(url) = harness::postgres_url("background jobs across nodes") else {
        return;
    };
    let mut cluster = Cluster::start(&url, 3, &["--job-interval", "0.2", "--job-lease", "2"]);
    let db = harness::connect_db(&url).await;

    delete_and_age(&cluster, 0, "jobs/first", &db).await;
    wait_purged(&cluster, &[0, 1, 2], "jobs/first").await;
    let figures = settled_figures(&cluster.nodes.iter().collect::<Vec<_>>(), 1.0).await;
    let done: f64 = figures.iter().map(|f| f.0).sum();
    let conflicts: f64 = figures.iter().map(|f| f.1).sum();
    assert_eq!((done, conflicts), (1.0, 0.0), "one purge in all: {figures:?}");
    let holders: Vec<usize> = (0..3).filter(|&i| figures[i].3).collect();
    assert_eq!(holders.len(), 1, "one lease holder: {figures:?}");
    let holder = holders[0];
    for (i, f) in figures.iter().enumerate() {
        if i != holder {
            assert_eq!(f.2, 0.0, "node {i} ran the job without the lease: {figures:?}");
        }
    }
    assert!(
        figures[holder].2 >= 1.0 && figures[holder].0 == 1.0,
        "{figures:?}"
    );

    // The holder dies; its lease runs out and another node carries on.
    cluster.nodes[holder].kill();
    let live: Vec<usize> = (0..3).filter(|&i| i != holder).collect();
    delete_and_age(&cluster, live[0], "jobs/second", &db).await;
    wait_purged(&cluster, &live, "jobs/second").await;
    let nodes: Vec<&Node> = live.iter().map(|&i| &cluster.nodes[i]).collect();
    let figures = settled_figures(&nodes, 1.0).await;
    let done: f64 = figures.iter().map(|f| f.0).sum();
    let conflicts: f64 = figures.iter().map(|f| f.1).sum();
    assert_eq!(
        (done, conflicts),
        (1.0, 0.0),
        "one purge after the takeover: {figures:?}"
    );
    assert_eq!(
        figures.iter().filter(|f| f.3).count(),
        1,
        "one lease holder after the takeover: {figures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_stopped_with_sigterm_hands_its_leases_over_at_once() {
    let Some(url) = harness::postgres_url("background job leases across nodes") else {
        return;
    };
    // Leases far longer than the test: only a release can move them.
    let mut cluster = Cluster::start(&url, 2, &["--job-interval", "0.2", "--job-lease", "600"]);
    let db = harness::connect_db(&url).await;
    delete_and_age(&cluster, 0, "jobs/handover-1", &db).await;
    wait_purged(&cluster, &[0, 1], "jobs/handover-1").await;
    let figures = settled_figures(&cluster.nodes.iter().collect::<Vec<_>>(), 1.0).await;
    let holder = (0..2).find(|&i| figures[i].3).expect("a holder");
    let other = 1 - holder;
    let status = cluster.nodes[holder].terminate();
    assert!(status.success(), "{status}");
    delete_and_age(&cluster, other, "jobs/handover-2", &db).await;
    wait_purged(&cluster, &[other], "jobs/handover-2").await;
    let figures = settled_figures(&[&cluster.nodes[other]], 1.0).await;
    assert_eq!(figures[0].0, 1.0);
    assert!(figures[0].3, "{figures:?}");
}
