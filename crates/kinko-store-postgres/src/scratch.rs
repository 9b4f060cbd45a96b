//! Scratch schemas for test harnesses: each test's store in a schema of its own on a shared
//! database, dropped with everything in it afterwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable naming the database tests run against (CI sets it).
pub const TEST_URL_VAR: &str = "KINKO_TEST_POSTGRES_URL";

/// The test database's URL, or `None` after printing why the caller skips (`what`: the tests).
pub fn test_url(what: &str) -> Option<String> {
    match std::env::var(TEST_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipping {what} on PostgreSQL: {TEST_URL_VAR} is not set");
            None
        }
    }
}

/// Scratch schemas older than this are left from runs that never dropped them (a test binary
/// that exits with its shared server running): the first scratch schema of a process drops them.
const STALE_SECS: u64 = 3 * 3600;

/// A new schema name, unique across processes and runs. Dropping this value drops the schema
/// (created by [`crate::PostgresStore::connect`] when the URL or the options name it).
pub struct ScratchSchema {
    url: String,
    name: String,
}

fn unix_now() -> std::time::Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Runs the statements on a connection of their own, on a thread and runtime of its own (the caller may be inside
/// an async runtime, or dropping something).
fn run_sql(url: &str, sql: Vec<String>) -> Result<(), String> {
    let url = crate::conn::split_url(url).map_err(|e| e.to_string())?.conn;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            let driver = tokio::spawn(connection);
            let mut out = Ok(());
            for stmt in &sql {
                if let Err(e) = client.batch_execute(stmt).await {
                    out = Err(e.to_string());
                }
            }
            drop(client);
            let _ = driver.await;
            out
        })
    })
    .join()
    .map_err(|_| "the thread dropping a scratch schema panicked".to_owned())?
}

/// Drops the scratch schemas of runs older than [`STALE_SECS`].
fn sweep(url: &str) {
    let cutoff = unix_now().as_secs().saturating_sub(STALE_SECS);
    let url = url.to_owned();
    let found = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            let conn = crate::conn::split_url(&url).ok()?.conn;
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.ok()?;
            let driver = tokio::spawn(connection);
            let rows = client
                .query(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'kinko\\_test\\_%'",
                    &[],
                )
                .await
                .ok()?;
            for row in rows {
                let name: String = row.get(0);
                let secs = name
                    .strip_prefix("kinko_test_")
                    .and_then(|rest| rest.split('_').next())
                    .and_then(|s| s.parse::<u64>().ok());
                if secs.is_some_and(|s| s < cutoff) {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                        .await;
                }
            }
            drop(client);
            let _ = driver.await;
            Some(())
        })
    })
    .join();
    drop(found);
}

impl ScratchSchema {
    pub fn new(url: &str) -> ScratchSchema {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| sweep(url));
        let now = unix_now();
        ScratchSchema {
            url: url.to_owned(),
            name: format!(
                "kinko_test_{}_{}_{}_{}",
                now.as_secs(),
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed),
                now.subsec_nanos()
            ),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test database's URL naming this schema, with a pool of at most `pool_size`
    /// connections (PostgreSQL's `max_connections` is shared by every test).
    pub fn url(&self, pool_size: usize) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}&pool_size={pool_size}", self.url, self.name)
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        if let Err(e) = run_sql(&self.url, vec![sql]) {
            eprintln!("dropping scratch schema {}: {e}", self.name);
        }
    }
}
