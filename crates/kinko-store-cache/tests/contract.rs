//! The storage contract on the cache layer over SQLite files: single-process and shared modes, a
//! cache too small to hold a test's data, and two handles (two processes' views, each with its
//! own cache) on one file.

use std::sync::Arc;

use kinko_core::store::Store;
use kinko_store_cache::{CacheConfig, CachedStore, Freshness};
use kinko_store_contract::Handles;
use kinko_store_sqlite::SqliteStore;

fn cached(store: SqliteStore, freshness: Freshness, capacity: u64) -> Arc<dyn Store> {
    Arc::new(CachedStore::new(
        Arc::new(store),
        CacheConfig { capacity, freshness },
    ))
}

fn file_store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("kinko.db")).expect("open store")
}

async fn single_process() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = cached(file_store(&dir), Freshness::SingleProcess, 1 << 20);
    Handles::one(store, dir)
}

async fn single_process_tiny() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    // A few entries at most: eviction runs all the time.
    let store = cached(file_store(&dir), Freshness::SingleProcess, 2048);
    Handles::one(store, dir)
}

async fn shared() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = cached(file_store(&dir), Freshness::Shared, 1 << 20);
    Handles::one(store, dir)
}

async fn shared_two_handles() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = cached(file_store(&dir), Freshness::Shared, 1 << 20);
    let b = cached(file_store(&dir), Freshness::Shared, 1 << 20);
    Handles::two(a, b, dir)
}

mod single {
    kinko_store_contract::contract_tests!(super::single_process);
}

mod single_tiny {
    kinko_store_contract::contract_tests!(super::single_process_tiny);
}

mod shared_one_handle {
    kinko_store_contract::contract_tests!(super::shared);
}

mod shared_two_handles {
    kinko_store_contract::contract_tests!(super::shared_two_handles);
}
