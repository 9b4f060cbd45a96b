//! What the API tests that call the services directly share: a fresh in-memory server and the
//! form encoding of Query parameters.

use std::sync::Arc;

use kinko_api::{Keyring, Services};
use kinko_core::store::Store;
use kinko_core::{Clock, ManualClock, Timestamp};
use kinko_store_sqlite::SqliteStore;

/// The services over an in-memory SQLite store, a manual clock and a new root key.
pub fn services() -> Services {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().expect("in-memory store"));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let root = kinko_crypto::RootKey::generate().expect("root key");
    let keyring = Arc::new(Keyring::new(store.clone(), clock.clone(), root));
    Services::new(store, clock, keyring)
}

/// `application/x-www-form-urlencoded` value encoding.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
