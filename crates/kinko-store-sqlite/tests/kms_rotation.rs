//! `Store::kms_keys_due_for_rotation` on a SQLite file: only enabled keys with rotation enabled
//! whose next rotation date passed, longest overdue first, bounded; writes move a key's date; the
//! migration that added the column fills it in for keys stored before it.

use kinko_core::Timestamp;
use kinko_core::kms::{KeyManager, KeyState, KmsKey, WrappedMaterial};
use kinko_core::store::Store;
use kinko_store_sqlite::SqliteStore;

const ACCOUNT: &str = "111122223333";
const DAY_MS: i64 = 86_400_000;
/// When the test keys were made.
const T0: i64 = 1_700_000_000_000;

fn key(id: &str, period: Option<u32>, state: KeyState) -> KmsKey {
    KmsKey {
        key_id: id.to_owned(),
        arn: format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"),
        account_id: ACCOUNT.to_owned(),
        region: "us-east-1".to_owned(),
        description: String::new(),
        key_spec: kinko_core::kms::KeySpec::SymmetricDefault,
        key_usage: kinko_core::kms::KeyUsage::EncryptDecrypt,
        key_manager: KeyManager::Customer,
        key_state: state,
        creation_date: Timestamp::from_millis(T0),
        policy: "{}".to_owned(),
        policy_principals: vec![],
        current_material: 1,
        deletion_date: (state == KeyState::PendingDeletion).then(|| Timestamp::from_millis(T0 + 30 * DAY_MS)),
        tags: vec![],
        rotation_period_days: period,
        material_date: Some(Timestamp::from_millis(T0)),
        rotations: vec![],
        grants: vec![],
        external: None,
        multi_region: None,
        revision: 0,
    }
}

fn material(k: &KmsKey, version: u32) -> WrappedMaterial {
    WrappedMaterial {
        key_arn: k.arn.clone(),
        version,
        wrapped: b"wrapped".to_vec(),
    }
}

async fn due(store: &SqliteStore, day: i64, limit: usize) -> Vec<String> {
    store
        .kms_keys_due_for_rotation(Timestamp::from_millis(T0 + day * DAY_MS), limit)
        .await
        .expect("due keys")
        .into_iter()
        .map(|k| k.key_id)
        .collect()
}

#[tokio::test]
async fn due_keys_are_enabled_with_rotation_and_past_their_date() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kinko.db")).unwrap();
    for k in [
        key("every-90", Some(90), KeyState::Enabled),
        key("every-365", Some(365), KeyState::Enabled),
        key("no-rotation", None, KeyState::Enabled),
        key("disabled", Some(90), KeyState::Disabled),
        key("pending", Some(90), KeyState::PendingDeletion),
    ] {
        store
            .create_kms_key(k.clone(), material(&k, 1), None)
            .await
            .unwrap();
    }

    assert!(due(&store, 89, 10).await.is_empty());
    // Exactly at the date counts.
    assert_eq!(due(&store, 90, 10).await, ["every-90"]);
    assert_eq!(due(&store, 400, 10).await, ["every-90", "every-365"]);
    assert_eq!(due(&store, 400, 1).await, ["every-90"]);

    // A rotation moves the key's date on; the revision check still applies.
    let mut k = store
        .kms_key(&key("every-90", None, KeyState::Enabled).arn)
        .await
        .unwrap()
        .expect("key");
    let stale = k.clone();
    k.current_material = 2;
    k.material_date = Some(Timestamp::from_millis(T0 + 91 * DAY_MS));
    store.add_kms_material(k.clone(), material(&k, 2)).await.unwrap();
    assert!(due(&store, 91, 10).await.is_empty());
    assert_eq!(due(&store, 181, 10).await, ["every-90"]);
    let mut again = stale.clone();
    again.current_material = 2;
    assert!(store.add_kms_material(again, material(&stale, 2)).await.is_err());

    // Disabling the key or its rotation takes it out; enabling it again brings it back.
    k.revision += 1;
    k.key_state = KeyState::Disabled;
    store.update_kms_key(k.clone()).await.unwrap();
    assert!(due(&store, 181, 10).await.is_empty());
    k.revision += 1;
    k.key_state = KeyState::Enabled;
    store.update_kms_key(k.clone()).await.unwrap();
    assert_eq!(due(&store, 181, 10).await, ["every-90"]);
    k.revision += 1;
    k.rotation_period_days = None;
    store.update_kms_key(k).await.unwrap();
    assert!(due(&store, 181, 10).await.is_empty());
    assert_eq!(due(&store, 400, 10).await, ["every-365"]);
}

#[tokio::test]
async fn migration_fills_in_rotation_dates_of_existing_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinko.db");
    // A database at schema version 3, with keys written before the rotation column existed.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../migrations/0001_init.sql"),
            include_str!("../migrations/0002_iam.sql"),
            include_str!("../migrations/0003_kms.sql"),
        ] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch("PRAGMA user_version = 3").unwrap();
        let mut anchored = key("anchored", Some(90), KeyState::Enabled);
        anchored.material_date = Some(Timestamp::from_millis(T0 + 10 * DAY_MS));
        // Records from before `material_date` count from the creation date.
        let mut unanchored = key("unanchored", Some(180), KeyState::Enabled);
        unanchored.material_date = None;
        let keys = [
            anchored,
            unanchored,
            key("off", None, KeyState::Enabled),
            key("disabled", Some(90), KeyState::Disabled),
        ];
        for k in keys {
            let mut doc = serde_json::to_value(&k).unwrap();
            let fields = doc.as_object_mut().unwrap();
            fields.remove("rotations");
            if k.material_date.is_none() {
                fields.remove("material_date");
            }
            c.execute(
                "INSERT INTO kms_keys (arn, account_id, region, key_id, revision, doc, created_ms)
                 VALUES (?1, ?2, 'us-east-1', ?3, 1, ?4, ?5)",
                rusqlite::params![k.arn, ACCOUNT, k.key_id, doc.to_string(), T0],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    assert!(due(&store, 99, 10).await.is_empty());
    assert_eq!(due(&store, 100, 10).await, ["anchored"]);
    assert_eq!(due(&store, 179, 10).await, ["anchored"]);
    assert_eq!(due(&store, 180, 10).await, ["anchored", "unanchored"]);
    // The same dates as the key records give.
    for k in store
        .kms_keys_due_for_rotation(Timestamp::from_millis(i64::MAX), 10)
        .await
        .unwrap()
    {
        let expected = if k.key_id == "anchored" { 100 } else { 180 };
        assert_eq!(
            k.next_rotation_date(),
            Some(Timestamp::from_millis(T0 + expected * DAY_MS))
        );
    }
}
