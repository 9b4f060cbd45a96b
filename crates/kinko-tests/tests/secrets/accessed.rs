//! `LastAccessedDate` is written after the read answers: within `--access-date-delay`, at a
//! clean shutdown, and without losing a change made meanwhile. The server shows the date at once
//! (`describe.rs`, `versions.rs`, `batch_get.rs`); these tests look at what is stored.

use std::time::Duration;

use kinko_core::store::Store as _;
use kinko_tests::{SecretsExt, TestClock, TestServer, on_postgres, sqlite_config, unique_name};

const DAY: i64 = 86_400;

fn midnight(server: &TestServer) -> i64 {
    server.now_secs().div_euclid(DAY) * DAY
}

/// A server on `dir` whose recorded dates wait `delay` before they are written.
async fn start(dir: &std::path::Path, clock: &TestClock, delay: Duration) -> TestServer {
    let mut config = sqlite_config(dir);
    config.access_date_delay = delay;
    TestServer::start_with(config, clock.clone()).await
}

/// The date is in the database file within the delay, while the server still runs: a crash
/// after that keeps it.
#[tokio::test]
async fn the_date_is_stored_within_the_delay() {
    if on_postgres() {
        println!("skipped: reads the SQLite file directly");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (clock, _) = TestClock::manual();
    let server = start(dir.path(), &clock, Duration::from_millis(200)).await;
    let sm = server.client();
    let name = unique_name("accessed-stored");
    let (arn, _) = sm.create_string(&name, "v").await;
    sm.get(&name).await;
    // A second reader of the file, beside the server's.
    let file = kinko_store_sqlite::SqliteStore::open(&dir.path().join("kinko.db")).expect("open the file");
    let want = midnight(&server) * 1_000;
    let mut stored = None;
    for _ in 0..200 {
        stored = file
            .secret_by_arn(&arn)
            .await
            .expect("read")
            .and_then(|s| s.last_accessed_date);
        if stored.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored.map(|t| t.0), Some(want), "stored within the delay");
    file.close();
    server.shutdown().await;
}

/// A clean shutdown writes what is pending, however long the delay: after a restart the date is
/// there.
#[tokio::test]
async fn a_clean_shutdown_writes_pending_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (clock, _) = TestClock::manual();
    let hour = Duration::from_secs(3_600);
    let server = start(dir.path(), &clock, hour).await;
    let sm = server.client();
    let name = unique_name("accessed-shutdown");
    sm.create_string(&name, "v").await;
    sm.get(&name).await;
    let day = midnight(&server);
    let shown = sm.describe(&name).await.last_accessed_date.map(|t| t.secs());
    assert_eq!(shown, Some(day), "shown before it is written");
    server.shutdown().await;

    let server = start(dir.path(), &clock, hour).await;
    let sm = server.client();
    let d = sm.describe(&name).await;
    assert_eq!(
        d.last_accessed_date.map(|t| t.secs()),
        Some(day),
        "kept across the restart"
    );
    let versions = sm.versions(&name, false).await;
    let v = versions.versions().first().expect("one version");
    assert_eq!(v.last_accessed_date().map(|t| t.secs()), Some(day));
    server.shutdown().await;
}

/// PutSecretValue calls between reads and the writes of their dates are all kept, with the date.
#[tokio::test]
async fn concurrent_put_secret_value_is_not_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (clock, manual) = TestClock::manual();
    let server = start(dir.path(), &clock, Duration::from_millis(1)).await;
    let sm = server.client();
    let name = unique_name("accessed-put");
    sm.create_string(&name, "v0").await;
    let mut last = String::new();
    for day in 0..20 {
        // Each day's first read records a date; the put races its write.
        manual.advance(Duration::from_secs(DAY as u64));
        let value = format!("v{}", day + 1);
        let (read, put) = tokio::join!(sm.get(&name), sm.put_string(&name, &value));
        assert!(read.version_id().is_some());
        last = put;
    }
    let day = midnight(&server);
    server.shutdown().await;

    let server = start(dir.path(), &clock, Duration::from_secs(1)).await;
    let sm = server.client();
    let current = sm.get(&name).await;
    assert_eq!(
        current.version_id(),
        Some(last.as_str()),
        "the last put is current"
    );
    assert_eq!(current.secret_string(), Some("v20"));
    let d = sm.describe(&name).await;
    assert_eq!(
        d.last_accessed_date.map(|t| t.secs()),
        Some(day),
        "the last day's read"
    );
    server.shutdown().await;
}
