//! The storage contract on a plain SQLite file (no cache in front).

use std::sync::Arc;

use kinko_store_contract::Handles;
use kinko_store_sqlite::SqliteStore;

async fn file() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("kinko.db")).expect("open store");
    Handles::one(Arc::new(store), dir)
}

async fn two_handles() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = SqliteStore::open(&dir.path().join("kinko.db")).expect("open store");
    let b = SqliteStore::open(&dir.path().join("kinko.db")).expect("open store");
    Handles::two(Arc::new(a), Arc::new(b), dir)
}

async fn memory() -> Handles {
    Handles::one(Arc::new(SqliteStore::in_memory().expect("in-memory store")), ())
}

mod file {
    kinko_store_contract::contract_tests!(super::file);
}

mod two_handles {
    kinko_store_contract::contract_tests!(super::two_handles);
}

/// The same suite through its other entry point: every test in turn, in one test.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_passes_the_contract() {
    kinko_store_contract::run_all(memory).await;
}
