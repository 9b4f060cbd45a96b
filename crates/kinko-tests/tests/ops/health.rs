//! `/health` (the process answers) and `/ready` (the store answers), on the main listener and on
//! the metrics listener of its own.

use std::net::SocketAddr;

use kinko_tests::{Config, MetricsListen, TestClock, TestServer, dev_config, http_get};

#[tokio::test]
async fn health_and_ready_answer_on_the_main_listener() {
    let server = TestServer::start_with(dev_config(), TestClock::System).await;
    let health = http_get(server.addr(), "/health").await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    let ready = http_get(server.addr(), "/ready").await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready"));
    server.shutdown().await;
}

#[tokio::test]
async fn ready_answers_on_a_sqlite_data_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_with(kinko_tests::sqlite_config(dir.path()), TestClock::System).await;
    let ready = http_get(server.addr(), "/ready").await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready"));
    server.shutdown().await;
}

#[tokio::test]
async fn the_metrics_listener_also_answers_health_and_ready() {
    let config = Config {
        metrics_listen: MetricsListen::Addr(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..dev_config()
    };
    let server = TestServer::start_with(config, TestClock::System).await;
    let ops = server.metrics_addr().expect("a metrics listener");
    assert_ne!(ops, server.addr());
    assert_eq!(http_get(ops, "/health").await.status, 200);
    assert_eq!(http_get(ops, "/ready").await.status, 200);
    server.shutdown().await;
}
