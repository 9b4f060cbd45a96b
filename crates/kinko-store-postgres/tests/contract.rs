//! The storage contract on PostgreSQL (`KINKO_TEST_POSTGRES_URL`; skipped with a printed reason
//! when unset): the plain store, two stores on one schema (two nodes), and the cache layer in
//! shared mode in front of each of two stores (two nodes, each with its own cache). Each test
//! gets a schema of its own.

use std::sync::Arc;

use kinko_core::store::Store;
use kinko_store_cache::{CacheConfig, CachedStore, Freshness};
use kinko_store_contract::Handles;
use kinko_store_postgres::scratch::{ScratchSchema, test_url};
use kinko_store_postgres::{PostgresOptions, PostgresStore};

async fn store(url: &str, schema: &ScratchSchema) -> PostgresStore {
    let options = PostgresOptions {
        max_connections: 4,
        schema: Some(schema.name().to_owned()),
        ..PostgresOptions::default()
    };
    PostgresStore::connect(url, options)
        .await
        .expect("connect to PostgreSQL")
}

fn cached(store: PostgresStore) -> Arc<dyn Store> {
    Arc::new(CachedStore::new(
        Arc::new(store),
        CacheConfig {
            capacity: 1 << 20,
            freshness: Freshness::Shared,
        },
    ))
}

async fn one() -> Option<Handles> {
    let url = test_url("the storage contract")?;
    let schema = ScratchSchema::new(&url);
    let s = store(&url, &schema).await;
    Some(Handles::one(Arc::new(s), schema))
}

async fn two_nodes() -> Option<Handles> {
    let url = test_url("the storage contract")?;
    let schema = ScratchSchema::new(&url);
    let a = store(&url, &schema).await;
    let b = store(&url, &schema).await;
    Some(Handles::two(Arc::new(a), Arc::new(b), schema))
}

async fn two_cached_nodes() -> Option<Handles> {
    let url = test_url("the storage contract")?;
    let schema = ScratchSchema::new(&url);
    let a = cached(store(&url, &schema).await);
    let b = cached(store(&url, &schema).await);
    Some(Handles::two(a, b, schema))
}

mod one {
    kinko_store_contract::contract_tests_if!(super::one);
}

mod two_nodes {
    kinko_store_contract::contract_tests_if!(super::two_nodes);
}

mod two_cached_nodes {
    kinko_store_contract::contract_tests_if!(super::two_cached_nodes);
}

/// Several nodes starting at once on a new schema: the migrations run once, every node opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_migrate_once() {
    let Some(url) = test_url("the migration test") else {
        return;
    };
    let schema = ScratchSchema::new(&url);
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            let name = schema.name().to_owned();
            tokio::spawn(async move {
                let options = PostgresOptions {
                    max_connections: 2,
                    schema: Some(name),
                    ..PostgresOptions::default()
                };
                PostgresStore::connect(&url, options).await
            })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.expect("join").expect("a node opens"));
    }
    for s in &stores {
        assert!(s.meta_get("absent").await.expect("read").is_none());
    }
    for s in &stores {
        s.close();
    }
}

/// The URL's `password_file` parameter: the password read from a file (its final newline
/// removed), so the URL itself holds no secret; a missing file, or a password given twice, is an
/// error naming the problem before anything connects.
#[tokio::test]
async fn the_password_can_come_from_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing");
    let url = format!(
        "postgres://kinko@127.0.0.1:1/db?password_file={}",
        missing.display()
    );
    let e = PostgresStore::connect(&url, PostgresOptions::default())
        .await
        .err()
        .expect("a missing password file fails");
    let e = e.to_string();
    assert!(e.contains(&format!("password_file {}", missing.display())), "{e}");
    let file = dir.path().join("db-password");
    std::fs::write(&file, "s3cret\n").expect("write");
    let url = format!(
        "postgres://kinko:pw@127.0.0.1:1/db?password_file={}",
        file.display()
    );
    let e = PostgresStore::connect(&url, PostgresOptions::default())
        .await
        .err()
        .expect("two passwords fail");
    assert!(
        e.to_string().contains("both a password and a password_file"),
        "{e}"
    );
    let Some(url) = test_url("the password_file test") else {
        return;
    };
    let schema = ScratchSchema::new(&url);
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}password_file={}", file.display());
    store(&url, &schema).await.close();
}

fn access_key(id: &str, sealed: &str) -> kinko_core::principal::AccessKeyRecord {
    kinko_core::principal::AccessKeyRecord {
        access_key_id: id.to_owned(),
        principal: kinko_core::principal::Principal::root("123456789012"),
        status: kinko_core::principal::AccessKeyStatus::Active,
        sealed_secret: sealed.as_bytes().to_vec(),
        created_date: kinko_core::Timestamp::from_millis(1_700_000_000_000),
    }
}

/// Re-wraps by prefixing `tag:` (once).
fn prefixing(tag: &'static str) -> Arc<kinko_core::store::RootRewrap> {
    Arc::new(move |v: kinko_core::store::RootSealed<'_>| {
        use kinko_core::store::RootSealed;
        let bytes = match v {
            RootSealed::KmsMaterial { wrapped, .. } => wrapped,
            RootSealed::AccessKey { sealed_secret, .. } => sealed_secret,
            RootSealed::MfaSeed { sealed_seed, .. } => sealed_seed,
            RootSealed::StackValue { sealed, .. } => sealed,
            RootSealed::Meta { value, .. } => value,
        };
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?;
        let prefix = format!("{tag}:");
        Ok(if text.starts_with(&prefix) {
            text.into_bytes()
        } else {
            format!("{prefix}{text}").into_bytes()
        })
    })
}

/// Two nodes: once another one rotated the root key, a node's writes of root-sealed values are
/// refused (nothing written) until it switches with `fence_root_sealed`; then they are re-wrapped
/// from its old key and accepted. A node's own rotation moves its fence along.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn root_sealed_writes_are_fenced_on_the_check_value() {
    use kinko_core::store::RootFence;
    let Some(url) = test_url("the root key fence test") else {
        return;
    };
    let schema = ScratchSchema::new(&url);
    let a = store(&url, &schema).await;
    let b = store(&url, &schema).await;
    assert!(a.meta_put_if_absent("check", b"c".to_vec()).await.expect("put"));
    let fence = |value: &[u8], rewrap| RootFence {
        meta_key: "check".into(),
        value: value.to_vec(),
        rewrap,
    };
    a.fence_root_sealed(fence(b"c", None)).await;
    a.put_access_key(access_key("AKIA1", "s1"))
        .await
        .expect("under the fence's key");

    // b rotates; a has not switched.
    b.rewrap_root_sealed(&["check"], prefixing("new"))
        .await
        .expect("rotate");
    assert!(a.put_access_key(access_key("AKIA2", "s2")).await.is_err());
    assert!(
        b.access_key("AKIA2").await.expect("read").is_none(),
        "nothing written"
    );

    // a switches: a value sealed under its old key is re-wrapped as it is written.
    a.fence_root_sealed(fence(b"new:c", Some(prefixing("new")))).await;
    a.put_access_key(access_key("AKIA2", "s2"))
        .await
        .expect("after the switch");
    assert_eq!(
        b.access_key("AKIA2")
            .await
            .expect("read")
            .expect("key")
            .sealed_secret,
        b"new:s2"
    );
    assert_eq!(
        b.access_key("AKIA1")
            .await
            .expect("read")
            .expect("key")
            .sealed_secret,
        b"new:s1"
    );

    // a rotates itself: its fence follows, b's (still on the old value) refuses.
    b.fence_root_sealed(fence(b"new:c", None)).await;
    a.rewrap_root_sealed(&["check"], prefixing("third"))
        .await
        .expect("rotate");
    a.put_access_key(access_key("AKIA3", "s3"))
        .await
        .expect("after its own rotation");
    assert_eq!(
        a.access_key("AKIA3")
            .await
            .expect("read")
            .expect("key")
            .sealed_secret,
        b"third:s3"
    );
    assert!(b.put_access_key(access_key("AKIA4", "s4")).await.is_err());
}
