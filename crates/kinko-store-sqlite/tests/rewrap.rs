//! `Store::rewrap_root_sealed` on a SQLite file: every root-sealed value is re-wrapped in one
//! transaction or none is; later writes of root-sealed values go through the re-wrap function.
//! (That cached access keys don't go stale is part of the storage contract, run on the cache.)

use std::sync::Arc;

use kinko_core::Timestamp;
use kinko_core::kms::{KeyManager, KeyState, KmsKey, WrappedMaterial};
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, Principal};
use kinko_core::store::{RewrapCounts, RootRewrap, RootSealed, Store};
use kinko_store_sqlite::SqliteStore;

const ACCOUNT: &str = "111122223333";
const CHECK: &str = "root_key_check";

fn key(id: &str) -> KmsKey {
    KmsKey {
        key_id: id.to_owned(),
        arn: format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"),
        account_id: ACCOUNT.to_owned(),
        region: "us-east-1".to_owned(),
        description: String::new(),
        key_spec: kinko_core::kms::KeySpec::SymmetricDefault,
        key_usage: kinko_core::kms::KeyUsage::EncryptDecrypt,
        key_manager: KeyManager::Customer,
        key_state: KeyState::Enabled,
        creation_date: Timestamp::from_millis(1),
        policy: "{}".to_owned(),
        policy_principals: vec![],
        current_material: 1,
        deletion_date: None,
        tags: vec![],
        rotation_period_days: None,
        material_date: None,
        rotations: vec![],
        grants: vec![],
        external: None,
        multi_region: None,
        revision: 0,
    }
}

fn material(k: &KmsKey, version: u32, wrapped: &str) -> WrappedMaterial {
    WrappedMaterial {
        key_arn: k.arn.clone(),
        version,
        wrapped: wrapped.as_bytes().to_vec(),
    }
}

fn access_key(id: &str, sealed: &str) -> AccessKeyRecord {
    AccessKeyRecord {
        access_key_id: id.to_owned(),
        principal: Principal::root(ACCOUNT),
        status: AccessKeyStatus::Active,
        sealed_secret: sealed.as_bytes().to_vec(),
        created_date: Timestamp::from_millis(1),
    }
}

/// "Re-wraps" by prefixing `tag:`; values that already carry it are kept. Fails on values
/// containing `bad`.
fn prefixing(tag: &'static str) -> Arc<RootRewrap> {
    Arc::new(move |v: RootSealed<'_>| {
        let (bound, bytes) = match v {
            RootSealed::KmsMaterial {
                key_arn,
                version,
                wrapped,
            } => (format!("{key_arn}#{version}"), wrapped),
            RootSealed::AccessKey {
                access_key_id,
                sealed_secret,
            } => (access_key_id.to_owned(), sealed_secret),
            RootSealed::MfaSeed {
                serial_number,
                sealed_seed,
            } => (serial_number.to_owned(), sealed_seed),
            RootSealed::StackValue {
                stack_id,
                name,
                sealed,
            } => (format!("{stack_id}#{name}"), sealed),
            RootSealed::Meta { key, value } => (key.to_owned(), value),
        };
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?;
        if text.contains("bad") {
            return Err(format!("cannot open {bound}"));
        }
        let prefix = format!("{tag}:");
        Ok(if text.starts_with(&prefix) {
            text.into_bytes()
        } else {
            format!("{prefix}{text}").into_bytes()
        })
    })
}

async fn sealed_secret(store: &SqliteStore, id: &str) -> String {
    let k = store.access_key(id).await.expect("read").expect("access key");
    String::from_utf8(k.sealed_secret).expect("utf-8")
}

async fn wrapped(store: &SqliteStore, k: &KmsKey, version: u32) -> String {
    let m = store
        .kms_material(&k.arn, version)
        .await
        .expect("read")
        .expect("material");
    String::from_utf8(m.wrapped).expect("utf-8")
}

async fn meta(store: &SqliteStore, key: &str) -> String {
    String::from_utf8(store.meta_get(key).await.expect("read").expect("meta")).expect("utf-8")
}

#[tokio::test]
async fn rewraps_everything_in_one_transaction_and_later_writes_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kinko.db")).unwrap();
    let k1 = key("k1");
    let mut k2 = key("k2");
    store
        .create_kms_key(k1.clone(), material(&k1, 1, "m1"), None)
        .await
        .unwrap();
    store
        .create_kms_key(k2.clone(), material(&k2, 1, "m2"), None)
        .await
        .unwrap();
    k2.revision = 1;
    let mut next = k2.clone();
    next.current_material = 2;
    store
        .add_kms_material(next, material(&k2, 2, "m2v2"))
        .await
        .unwrap();
    store.put_access_key(access_key("AKIA1", "s1")).await.unwrap();
    store.put_access_key(access_key("AKIA2", "bad")).await.unwrap();
    assert!(store.meta_put_if_absent(CHECK, b"c".to_vec()).await.unwrap());
    assert!(store.meta_put_if_absent("other", b"o".to_vec()).await.unwrap());
    assert_eq!(sealed_secret(&store, "AKIA1").await, "s1");

    // One value can't be re-wrapped: nothing changes, not even the values before it.
    let err = store
        .rewrap_root_sealed(&[CHECK], prefixing("new"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AKIA2"), "{err}");
    assert_eq!(wrapped(&store, &k1, 1).await, "m1");
    assert_eq!(wrapped(&store, &k2, 2).await, "m2v2");
    assert_eq!(sealed_secret(&store, "AKIA1").await, "s1");
    assert_eq!(meta(&store, CHECK).await, "c");
    // Nor is the re-wrap function kept for later writes.
    store.put_access_key(access_key("AKIA3", "s3")).await.unwrap();
    assert_eq!(sealed_secret(&store, "AKIA3").await, "s3");

    // Without it, a missing meta value fails it too.
    assert!(store.delete_access_key("AKIA2").await.unwrap());
    assert!(
        store
            .rewrap_root_sealed(&["absent"], prefixing("new"))
            .await
            .is_err()
    );
    assert_eq!(sealed_secret(&store, "AKIA1").await, "s1");
    assert_eq!(wrapped(&store, &k1, 1).await, "m1");

    let counts = store
        .rewrap_root_sealed(&[CHECK], prefixing("new"))
        .await
        .unwrap();
    assert_eq!(
        counts,
        RewrapCounts {
            kms_materials: 3,
            access_keys: 2,
            mfa_devices: 0,
            stack_values: 0,
            meta: 1
        }
    );
    assert_eq!(wrapped(&store, &k1, 1).await, "new:m1");
    assert_eq!(wrapped(&store, &k2, 1).await, "new:m2");
    assert_eq!(wrapped(&store, &k2, 2).await, "new:m2v2");
    assert_eq!(sealed_secret(&store, "AKIA1").await, "new:s1");
    assert_eq!(sealed_secret(&store, "AKIA3").await, "new:s3");
    assert_eq!(meta(&store, CHECK).await, "new:c");
    assert_eq!(meta(&store, "other").await, "o");

    // Values sealed before the switch but written after the rotation are re-wrapped as written;
    // values already under the new key are kept.
    store.put_access_key(access_key("AKIA4", "s4")).await.unwrap();
    store.put_access_key(access_key("AKIA5", "new:s5")).await.unwrap();
    let k3 = key("k3");
    store
        .create_kms_key(k3.clone(), material(&k3, 1, "m3"), None)
        .await
        .unwrap();
    k2.revision = 2;
    let mut next = k2.clone();
    next.current_material = 3;
    store
        .add_kms_material(next, material(&k2, 3, "m2v3"))
        .await
        .unwrap();
    assert_eq!(sealed_secret(&store, "AKIA4").await, "new:s4");
    assert_eq!(sealed_secret(&store, "AKIA5").await, "new:s5");
    assert_eq!(wrapped(&store, &k3, 1).await, "new:m3");
    assert_eq!(wrapped(&store, &k2, 3).await, "new:m2v3");
    // A write whose value the function refuses fails, and nothing of it is stored.
    assert!(store.put_access_key(access_key("AKIA6", "bad")).await.is_err());
    assert!(store.access_key("AKIA6").await.unwrap().is_none());

    // A second rotation replaces the function.
    let counts = store
        .rewrap_root_sealed(&[CHECK], prefixing("third"))
        .await
        .unwrap();
    assert_eq!(counts.kms_materials, 5);
    assert_eq!(counts.access_keys, 4);
    assert_eq!(wrapped(&store, &k1, 1).await, "third:new:m1");
    store.put_access_key(access_key("AKIA7", "s7")).await.unwrap();
    assert_eq!(sealed_secret(&store, "AKIA7").await, "third:s7");

    // All of it is on disk.
    store.close();
    let reopened = SqliteStore::open(&dir.path().join("kinko.db")).unwrap();
    assert_eq!(wrapped(&reopened, &k2, 3).await, "third:new:m2v3");
    assert_eq!(sealed_secret(&reopened, "AKIA4").await, "third:new:s4");
    assert_eq!(meta(&reopened, CHECK).await, "third:new:c");
    reopened.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_racing_a_rotation_are_rewrapped_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kinko.db")).unwrap();
    assert!(store.meta_put_if_absent(CHECK, b"c".to_vec()).await.unwrap());
    // Many writes racing one rotation: each is re-wrapped exactly once, whichever side of the
    // rotation's transaction it lands on.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.put_access_key(access_key(&format!("AKIA{i:04}"), &format!("s{i}")))
                .await
                .unwrap();
        }));
    }
    let counts = store
        .rewrap_root_sealed(&[CHECK], prefixing("new"))
        .await
        .unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(counts.access_keys <= 200);
    for i in 0..200 {
        assert_eq!(
            sealed_secret(&store, &format!("AKIA{i:04}")).await,
            format!("new:s{i}")
        );
    }
    store.close();
}
