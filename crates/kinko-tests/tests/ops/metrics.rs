//! `/metrics` scraped over HTTP before and after real SDK calls: the counters and histograms a
//! Prometheus server would read move by exactly what the calls did.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kinko_tests::{
    Config, MetricsListen, Scrape, SecretsExt, Signing, TestClock, TestServer, audit_records_len, dev_config,
    http_get, unique_name,
};

const REQUESTS: &str = "kinko_requests_total";
const ERRORS: &str = "kinko_request_errors_total";
const LATENCY_COUNT: &str = "kinko_request_duration_seconds_count";

fn sm_action(action: &'static str, outcome: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("service", "secretsmanager"),
        ("action", action),
        ("outcome", outcome),
    ]
}

/// Scrapes `addr` until `done` holds (the audit writer and jobs work in the background), at most
/// 10 s.
async fn scrape_until(addr: SocketAddr, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = Scrape::of(addr).await;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "metrics never got there:\n{}", s.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_are_counted_by_service_action_and_outcome() {
    let server = TestServer::start_with(dev_config(), TestClock::System).await;
    let before = Scrape::of(server.addr()).await;
    let sm = server.client();
    let name = unique_name("metrics");
    sm.create_string(&name, "counted-value").await;
    assert_eq!(sm.value(&name).await, "counted-value");
    assert_eq!(sm.value(&name).await, "counted-value");
    let missing = sm
        .get_secret_value()
        .secret_id(unique_name("missing"))
        .send()
        .await;
    assert!(missing.is_err());
    server.iam_client().list_users().send().await.expect("ListUsers");
    server.kms_client().list_keys().send().await.expect("ListKeys");
    server
        .sts_client()
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    let after = Scrape::of(server.addr()).await;

    let moved = |labels: &[(&str, &str)]| after.value(REQUESTS, labels) - before.value(REQUESTS, labels);
    assert_eq!(moved(&sm_action("CreateSecret", "success")), 1.0);
    assert_eq!(moved(&sm_action("GetSecretValue", "success")), 2.0);
    assert_eq!(moved(&sm_action("GetSecretValue", "client_error")), 1.0);
    assert_eq!(moved(&sm_action("GetSecretValue", "server_error")), 0.0);
    assert_eq!(
        moved(&[
            ("service", "iam"),
            ("action", "ListUsers"),
            ("outcome", "success")
        ]),
        1.0
    );
    assert_eq!(
        moved(&[("service", "kms"), ("action", "ListKeys"), ("outcome", "success")]),
        1.0
    );
    assert_eq!(
        moved(&[
            ("service", "sts"),
            ("action", "GetCallerIdentity"),
            ("outcome", "success")
        ]),
        1.0
    );
    let errors = [
        ("service", "secretsmanager"),
        ("action", "GetSecretValue"),
        ("code", "ResourceNotFoundException"),
    ];
    assert_eq!(after.value(ERRORS, &errors) - before.value(ERRORS, &errors), 1.0);

    // Every answered request is one latency observation of its action.
    let gets = [("service", "secretsmanager"), ("action", "GetSecretValue")];
    assert_eq!(
        after.value(LATENCY_COUNT, &gets) - before.value(LATENCY_COUNT, &gets),
        3.0
    );
    assert!(after.value("kinko_request_duration_seconds_sum", &gets) > 0.0);
    let inf = [gets[0], gets[1], ("le", "+Inf")];
    assert_eq!(after.value("kinko_request_duration_seconds_bucket", &inf), 3.0);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_actions_and_unauthenticated_requests_are_not_labelled_by_name() {
    let server = TestServer::start_with(dev_config(), TestClock::System).await;
    let creds = server.root_credentials();
    let mut req = server.request(
        "POST",
        "/",
        &[
            ("x-amz-target", "secretsmanager.MadeUpOperationXyz"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        "{}",
    );
    server.sign(&mut req, "secretsmanager", &creds, &Signing::default());
    assert_eq!(server.send(req).await.status, 400);
    // A real action with a wrong signature: refused before any service saw it.
    let wrong = kinko_tests::TestCredentials::long_term(server.access_key_id(), "not-the-secret");
    let mut req = server.request(
        "POST",
        "/",
        &[
            ("x-amz-target", "secretsmanager.AnotherMadeUpName"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        "{}",
    );
    server.sign(&mut req, "secretsmanager", &wrong, &Signing::default());
    assert_eq!(server.send(req).await.status, 400);

    let s = Scrape::of(server.addr()).await;
    let actions = s.label_values(REQUESTS, "action");
    assert!(
        !actions.iter().any(|a| a.contains("MadeUp")),
        "a client's text became a label: {actions:?}"
    );
    let unknown = [("service", "secretsmanager"), ("action", "unknown")];
    assert_eq!(s.value(REQUESTS, &unknown), 2.0, "{}", s.text);
    let codes = s.label_values(ERRORS, "code");
    assert!(
        codes.contains(&"UnknownOperationException".to_owned()),
        "{codes:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_store_cache_figures_move_with_reads() {
    let server = TestServer::start_with(dev_config(), TestClock::System).await;
    let sm = server.client();
    let name = unique_name("cache");
    sm.create_string(&name, "cached").await;
    sm.value(&name).await;
    let before = Scrape::of(server.addr()).await;
    for _ in 0..5 {
        assert_eq!(sm.value(&name).await, "cached");
    }
    let after = Scrape::of(server.addr()).await;
    let hits = after.value("kinko_cache_hits_total", &[]) - before.value("kinko_cache_hits_total", &[]);
    assert!(hits >= 5.0, "five reads of a cached secret: {hits} hits");
    let ratio = after.value("kinko_cache_hit_ratio", &[]);
    assert!(ratio > 0.0 && ratio <= 1.0, "hit ratio {ratio}");
    assert!(after.value("kinko_cache_entries", &[]) > 0.0);
    assert!(after.value("kinko_cache_size_bytes", &[]) > 0.0);
    assert_eq!(
        after.value("kinko_cache_capacity_bytes", &[]),
        kinko_server_default_cache() as f64
    );
    server.shutdown().await;
}

fn kinko_server_default_cache() -> u64 {
    Config::default().cache_capacity
}

#[tokio::test]
async fn audit_writes_are_timed_and_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        audit_log: Some(dir.path().join("audit.log")),
        ..dev_config()
    };
    let server = TestServer::start_with(config, TestClock::System).await;
    let sm = server.client();
    let name = unique_name("audited");
    sm.create_string(&name, "audited-value").await;
    sm.value(&name).await;
    // CreateSecret and GetSecretValue, each with the KMS call made for the caller.
    let s = scrape_until(server.addr(), |s| {
        s.value("kinko_audit_records_total", &[]) >= 4.0 && s.value("kinko_audit_batches_total", &[]) >= 1.0
    })
    .await;
    assert!(s.value("kinko_audit_write_seconds_total", &[]) > 0.0);
    assert_eq!(s.value("kinko_audit_write_failures_total", &[]), 0.0);
    assert_eq!(s.value("kinko_audit_healthy", &[]), 1.0);
    // Bytes written: the records the file holds (the scrapes themselves are not audited), not
    // the zeros allocated ahead of them.
    let on_disk = audit_records_len(&std::fs::read(dir.path().join("audit.log")).expect("log")) as f64;
    assert_eq!(s.value("kinko_audit_written_bytes_total", &[]), on_disk);
    // Each batch's write time, in the histogram: one observation a batch, the same total time.
    let batches = s.value("kinko_audit_batches_total", &[]);
    assert_eq!(s.value("kinko_audit_batch_write_seconds_count", &[]), batches);
    assert_eq!(
        s.value("kinko_audit_batch_write_seconds_bucket", &[("le", "+Inf")]),
        batches
    );
    let sum = s.value("kinko_audit_batch_write_seconds_sum", &[]);
    assert!(
        (sum - s.value("kinko_audit_write_seconds_total", &[])).abs() < 1e-9,
        "{}",
        s.text
    );
    // The index LookupEvents reads catches up with the log by itself.
    let s = scrape_until(server.addr(), |s| {
        s.has("kinko_audit_index_lag_bytes") && s.value("kinko_audit_index_lag_bytes", &[]) == 0.0
    })
    .await;
    assert!(s.has("kinko_audit_index_lag_bytes"));
    server.shutdown().await;
}

#[tokio::test]
async fn failed_audit_writes_are_counted() {
    // Every write to /dev/full fails (ENOSPC), as on a full disk.
    let config = Config {
        audit_log: Some("/dev/full".into()),
        ..dev_config()
    };
    let server = TestServer::start_with(config, TestClock::System).await;
    // The call fails: its record could not be written.
    let created = server
        .client()
        .create_secret()
        .name(unique_name("full"))
        .secret_string("v")
        .send()
        .await;
    assert!(created.is_err(), "a call whose record can't be written fails");
    let s = scrape_until(server.addr(), |s| {
        s.value("kinko_audit_write_failures_total", &[]) >= 1.0
    })
    .await;
    assert_eq!(s.value("kinko_audit_healthy", &[]), 0.0, "{}", s.text);
    server.shutdown().await;
}

#[tokio::test]
async fn background_job_results_are_counted() {
    let (server, manual) = TestServer::start_manual().await;
    let sm = server.client();
    let name = unique_name("purged");
    sm.create_string(&name, "v").await;
    sm.schedule_deletion_in(&name, 7).await;
    server.run_jobs_now().await;
    let before = Scrape::of(server.addr()).await;
    manual.advance(Duration::from_secs(8 * 86_400));
    server.run_jobs_now().await;
    let after = Scrape::of(server.addr()).await;

    let purged = [("job", "purge_secrets"), ("result", "done")];
    let items = "kinko_job_items_total";
    assert_eq!(after.value(items, &purged) - before.value(items, &purged), 1.0);
    for job in [
        "purge_secrets",
        "purge_kms_keys",
        "rotate_kms_keys",
        "rotate_secrets",
    ] {
        let ok = [("job", job), ("outcome", "ok")];
        let runs = "kinko_job_runs_total";
        assert_eq!(after.value(runs, &ok) - before.value(runs, &ok), 1.0, "{job}");
        assert_eq!(after.value(runs, &[("job", job), ("outcome", "failed")]), 0.0);
        let last = after.value("kinko_job_last_success_timestamp_seconds", &[("job", job)]);
        assert_eq!(
            last.floor() as i64,
            server.now_secs(),
            "{job}: the server's clock"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let config = Config {
        metrics_listen: MetricsListen::Addr(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..dev_config()
    };
    let server = TestServer::start_with(config, TestClock::System).await;
    let ops = server.metrics_addr().expect("a metrics listener");
    server.client().create_string(&unique_name("own"), "v").await;
    let s = Scrape::of(ops).await;
    assert_eq!(s.value(REQUESTS, &sm_action("CreateSecret", "success")), 1.0);
    // Not on the main listener then: there it is just a request without credentials.
    assert_ne!(http_get(server.addr(), "/metrics").await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let config = Config {
        metrics_listen: MetricsListen::Off,
        ..dev_config()
    };
    let server = TestServer::start_with(config, TestClock::System).await;
    assert!(server.metrics_addr().is_none());
    assert_ne!(http_get(server.addr(), "/metrics").await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn openmetrics_is_served_to_scrapers_that_ask_for_it() {
    let server = TestServer::start_with(dev_config(), TestClock::System).await;
    let req = http::Request::get("/metrics")
        .header("host", server.addr().to_string())
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .body(Vec::new())
        .expect("request");
    let resp = kinko_tests::send_to(server.addr(), req).await;
    assert_eq!(resp.status, 200);
    let content_type = resp.headers["content-type"].to_str().unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(resp.text().ends_with("# EOF\n"), "{}", resp.text());
    server.shutdown().await;
}
