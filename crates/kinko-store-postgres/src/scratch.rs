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

/// A new schema name, unique across processes and runs. Dropping this value drops the schema
/// (created by [`crate::PostgresStore::connect`] with [`crate::PostgresOptions::schema`]).
pub struct ScratchSchema {
    url: String,
    name: String,
}

impl ScratchSchema {
    pub fn new(url: &str) -> ScratchSchema {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        ScratchSchema {
            url: url.to_owned(),
            name: format!(
                "kinko_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let (url, _) = crate::conn::split_url(&self.url);
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // Drop may run inside an async runtime: the drop gets a thread and a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                let driver = tokio::spawn(connection);
                let out = client.batch_execute(&sql).await.map_err(|e| e.to_string());
                drop(client);
                let _ = driver.await;
                out
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("dropping scratch schema {}: {e}", self.name);
        }
    }
}
