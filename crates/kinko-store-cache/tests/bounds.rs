//! The cache's bound and counters: it never holds more than its capacity (by approximate size),
//! evicts rather than grows, counts hits and misses, and with capacity 0 caches nothing.

use std::sync::Arc;

use kinko_core::Timestamp;
use kinko_core::secret::{Secret, ValueKind};
use kinko_core::store::{SealedValue, SecretWrite, Store};
use kinko_store_cache::{CacheConfig, CachedStore, Freshness};
use kinko_store_sqlite::SqliteStore;

fn cached(capacity: u64) -> CachedStore<SqliteStore> {
    CachedStore::new(
        Arc::new(SqliteStore::in_memory().expect("in-memory store")),
        CacheConfig {
            capacity,
            freshness: Freshness::SingleProcess,
        },
    )
}

fn value(i: usize) -> SealedValue {
    SealedValue {
        encrypted_data_key: vec![1; 180],
        ciphertext: format!("{i:0>1024}").into_bytes(),
    }
}

/// Creates `secret-{i}` with version v1 and a value of about 1.2 kB; returns its ARN.
async fn create(store: &dyn Store, i: usize) -> String {
    let name = format!("secret-{i}");
    let mut s = Secret {
        arn: format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}-AbCdEf"),
        name,
        account_id: "111122223333".to_owned(),
        region: "us-east-1".to_owned(),
        description: None,
        kms_key_id: None,
        tags: None,
        resource_policy: None,
        resource_policy_principals: vec![],
        secret_type: None,
        created_date: Timestamp::from_millis(1),
        last_changed_date: Timestamp::from_millis(1),
        last_accessed_date: None,
        deleted_date: None,
        deletion_date: None,
        rotation: None,
        last_rotated_date: None,
        primary_region: None,
        replicas: vec![],
        versions: vec![],
        revision: 0,
    };
    s.add_version(
        "v1",
        None,
        Some(ValueKind::String),
        None,
        Timestamp::from_millis(1),
    )
    .expect("version");
    let arn = s.arn.clone();
    store
        .write_secret(SecretWrite::Create {
            secret: s,
            values: vec![("v1".to_owned(), value(i))],
        })
        .await
        .expect("create");
    arn
}

#[tokio::test]
async fn hits_and_misses_are_counted() {
    let store = cached(1 << 20);
    let arn = create(&store, 0).await;
    assert_eq!((store.stats().hits, store.stats().misses), (0, 0));
    store.secret_by_arn(&arn).await.unwrap();
    store.secret_by_arn(&arn).await.unwrap();
    store.sealed_value(&arn, "v1").await.unwrap();
    store.sealed_value(&arn, "v1").await.unwrap();
    let stats = store.stats();
    assert_eq!((stats.hits, stats.misses), (2, 2));
    assert!(stats.entries >= 2 && stats.weight > 0);
    // A write makes the next read miss.
    let s = store.secret_by_arn(&arn).await.unwrap().unwrap();
    store
        .write_secret(SecretWrite::Update {
            secret: s,
            new_values: vec![],
            removed_versions: vec![],
        })
        .await
        .unwrap();
    assert_eq!(store.secret_by_arn(&arn).await.unwrap().unwrap().revision, 2);
    assert_eq!(store.stats().misses, 3);
}

#[tokio::test]
async fn the_cache_stays_within_its_capacity() {
    let capacity = 64 * 1024;
    let store = cached(capacity);
    let mut arns = Vec::new();
    for i in 0..300 {
        arns.push(create(&store, i).await);
    }
    // Each secret and its value: several hundred kB in all, far above the bound.
    for (i, arn) in arns.iter().enumerate() {
        assert!(store.secret_by_arn(arn).await.unwrap().is_some());
        assert_eq!(store.sealed_value(arn, "v1").await.unwrap(), Some(value(i)));
        assert!(store.stats().weight <= capacity, "{:?}", store.stats());
    }
    let stats = store.stats();
    assert!(stats.entries < 200, "entries were evicted: {stats:?}");
    assert_eq!(stats.capacity, capacity);
    // Evicted or not, every read is right.
    for (i, arn) in arns.iter().enumerate().rev().step_by(7) {
        assert_eq!(store.sealed_value(arn, "v1").await.unwrap(), Some(value(i)));
    }
}

#[tokio::test]
async fn capacity_zero_caches_nothing() {
    let store = cached(0);
    let arn = create(&store, 0).await;
    for _ in 0..3 {
        assert!(store.secret_by_arn(&arn).await.unwrap().is_some());
        assert!(store.iam_state("111122223333").await.is_ok());
    }
    let stats = store.stats();
    assert_eq!((stats.entries, stats.hits, stats.misses), (0, 0, 6));
}
