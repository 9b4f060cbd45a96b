//! The contract tests, one `pub async fn` each (listed in `__with_contract_tests!`).

use std::collections::HashSet;
use std::sync::Arc;

use kinko_core::Timestamp;
use kinko_core::iam::IamState;
use kinko_core::kms::KeyState;
use kinko_core::lambda::FunctionWrite;
use kinko_core::mfa::{Holder, MfaDevice};
use kinko_core::principal::AccessKeyStatus;
use kinko_core::secret::{AWSCURRENT, AWSPREVIOUS};
use kinko_core::store::{
    ChangedKey, Changes, ListOrder, ListPage, RewrapCounts, RootRewrap, RootSealed, SecretWrite, Store,
    StoreError,
};
use kinko_core::workload::{Attachment, AttachmentKind};

use crate::Handles;
use crate::fixtures::*;

/// Concurrent writers in the concurrency tests.
const WRITERS: usize = 16;

async fn create(store: &dyn Store, name: &str) -> kinko_core::secret::Secret {
    let (secret, values) = secret(name);
    store
        .write_secret(SecretWrite::Create {
            secret: secret.clone(),
            values,
        })
        .await
        .expect("create secret");
    store
        .secret_by_arn(&secret.arn)
        .await
        .expect("read")
        .expect("created secret")
}

fn page(order: ListOrder, offset: usize, limit: usize, include_deleted: bool) -> ListPage {
    ListPage {
        include_deleted,
        order,
        offset,
        limit,
        after: None,
    }
}

fn names(secrets: &[kinko_core::secret::Secret]) -> Vec<&str> {
    secrets.iter().map(|s| s.name.as_str()).collect()
}

pub async fn meta_put_if_absent_keeps_the_first_value(h: Handles) {
    let s = h.a.as_ref();
    assert_eq!(s.meta_get("k").await.expect("read"), None);
    assert!(s.meta_put_if_absent("k", b"one".to_vec()).await.expect("put"));
    assert!(!s.meta_put_if_absent("k", b"two".to_vec()).await.expect("put"));
    assert_eq!(s.meta_get("k").await.expect("read"), Some(b"one".to_vec()));
}

pub async fn accounts_are_stored_listed_and_unique(h: Handles) {
    let s = h.a.as_ref();
    assert_eq!(s.account(ACCOUNT).await.expect("read"), None);
    s.put_account(account(ACCOUNT, "management")).await.expect("put");
    let mut later = account(MEMBER, "member");
    later.created_date = at(T0 + 1);
    s.put_account(later.clone()).await.expect("put");
    assert!(
        is_conflict(s.put_account(account(ACCOUNT, "again")).await),
        "an account id is taken once"
    );
    assert_eq!(
        s.account(ACCOUNT).await.expect("read"),
        Some(account(ACCOUNT, "management"))
    );
    assert_eq!(
        s.list_accounts().await.expect("list"),
        vec![account(ACCOUNT, "management"), later]
    );
}

pub async fn access_keys_round_trip_and_list_by_user(h: Handles) {
    let s = h.a.as_ref();
    assert!(s.access_key("AKIA1").await.expect("read").is_none());
    s.put_access_key(access_key("AKIA1", None, "s1"))
        .await
        .expect("put");
    s.put_access_key(access_key("AKIA2", Some("Alice"), "s2"))
        .await
        .expect("put");
    s.put_access_key(access_key("AKIA3", Some("bob"), "s3"))
        .await
        .expect("put");
    assert!(
        is_conflict(s.put_access_key(access_key("AKIA1", None, "other")).await),
        "creating the same key twice is a conflict"
    );
    let k = s.access_key("AKIA2").await.expect("read").expect("key");
    assert_eq!(k.sealed_secret, b"s2");
    assert_eq!(k.principal, access_key("AKIA2", Some("Alice"), "").principal);
    assert_eq!(k.status, AccessKeyStatus::Active);
    assert_eq!(k.created_date, at(T0));
    let all: Vec<String> = s
        .list_access_keys(ACCOUNT, None)
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert_eq!(all, ["AKIA1", "AKIA2", "AKIA3"]);
    // User names match case-insensitively, as in IAM.
    let alice: Vec<String> = s
        .list_access_keys(ACCOUNT, Some("ALICE"))
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert_eq!(alice, ["AKIA2"]);
    assert!(s.list_access_keys(MEMBER, None).await.expect("list").is_empty());
}

pub async fn access_key_status_and_deletion(h: Handles) {
    let s = h.a.as_ref();
    s.put_access_key(access_key("AKIA1", None, "s1"))
        .await
        .expect("put");
    assert!(
        s.update_access_key_status("AKIA1", AccessKeyStatus::Inactive)
            .await
            .expect("update")
    );
    assert!(
        !s.update_access_key_status("AKIANONE", AccessKeyStatus::Inactive)
            .await
            .expect("update")
    );
    let k = s.access_key("AKIA1").await.expect("read").expect("key");
    assert_eq!(k.status, AccessKeyStatus::Inactive);
    assert!(s.delete_access_key("AKIA1").await.expect("delete"));
    assert!(!s.delete_access_key("AKIA1").await.expect("delete"));
    assert!(s.access_key("AKIA1").await.expect("read").is_none());
    assert!(s.list_access_keys(ACCOUNT, None).await.expect("list").is_empty());
}

pub async fn mfa_devices_are_created_once_and_listed_per_account(h: Handles) {
    let s = h.a.as_ref();
    let phone = MfaDevice::serial_number_of(ACCOUNT, "/", "phone");
    assert!(s.mfa_device(&phone).await.expect("read").is_none());
    s.create_mfa_device(mfa_device(ACCOUNT, "phone", "seed1"))
        .await
        .expect("create");
    s.create_mfa_device(mfa_device(ACCOUNT, "alpha", "seed2"))
        .await
        .expect("create");
    s.create_mfa_device(mfa_device(MEMBER, "phone", "seed3"))
        .await
        .expect("create");
    assert!(
        is_conflict(s.create_mfa_device(mfa_device(ACCOUNT, "phone", "other")).await),
        "a serial number is taken once"
    );
    let read = s.mfa_device(&phone).await.expect("read").expect("device");
    let mut expected = mfa_device(ACCOUNT, "phone", "seed1");
    expected.revision = 1;
    assert_eq!(read, expected);
    let listed: Vec<String> = s
        .list_mfa_devices(ACCOUNT)
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(listed, ["alpha", "phone"]);
    assert_eq!(s.list_mfa_devices(MEMBER).await.expect("list").len(), 1);
}

pub async fn mfa_devices_are_updated_and_deleted_by_revision(h: Handles) {
    let s = h.a.as_ref();
    let serial = MfaDevice::serial_number_of(ACCOUNT, "/", "phone");
    s.create_mfa_device(mfa_device(ACCOUNT, "phone", "seed"))
        .await
        .expect("create");
    let mut d = s.mfa_device(&serial).await.expect("read").expect("device");
    d.user_name = Some("alice".into());
    d.enable_date = Some(at(T0 + 5));
    d.last_step = 42;
    s.update_mfa_device(d.clone()).await.expect("update");
    assert!(
        is_conflict(s.update_mfa_device(d.clone()).await),
        "an update based on a stale revision is a conflict"
    );
    // The seed is not replaced by an update.
    let mut other_seed = d.clone();
    other_seed.revision = 2;
    other_seed.sealed_seed = b"replaced".to_vec();
    s.update_mfa_device(other_seed).await.expect("update");
    let read = h.b.mfa_device(&serial).await.expect("read").expect("device");
    assert_eq!(read.revision, 3);
    assert_eq!(read.sealed_seed, b"seed");
    assert_eq!(read.user_name.as_deref(), Some("alice"));
    assert_eq!(read.enable_date, Some(at(T0 + 5)));
    assert_eq!(read.last_step, 42);
    assert!(is_conflict(s.delete_mfa_device(&serial, 2).await));
    s.delete_mfa_device(&serial, 3).await.expect("delete");
    assert!(s.mfa_device(&serial).await.expect("read").is_none());
    assert!(is_conflict(s.delete_mfa_device(&serial, 3).await), "gone");
    assert!(is_conflict(s.update_mfa_device(read).await), "gone");

    // A device of the root user keeps that through a write and a read on the other handle.
    let root_serial = MfaDevice::serial_number_of(ACCOUNT, "/", "root-phone");
    s.create_mfa_device(mfa_device(ACCOUNT, "root-phone", "seed"))
        .await
        .expect("create");
    let mut d = s.mfa_device(&root_serial).await.expect("read").expect("device");
    d.assign(Some(Holder::Root));
    s.update_mfa_device(d).await.expect("update");
    let read = h.b.mfa_device(&root_serial).await.expect("read").expect("device");
    assert!(read.assigned_to(Holder::Root) && read.user_name.is_none());
}

pub async fn iam_state_starts_empty_and_is_written_by_revision(h: Handles) {
    let s = h.a.as_ref();
    let empty = s.iam_state(ACCOUNT).await.expect("read");
    assert_eq!(empty, IamState::new(ACCOUNT));
    assert_eq!(empty.revision, 0);
    assert_eq!(s.iam_revision(ACCOUNT).await.expect("revision"), 0);

    let mut first = empty.clone();
    first.users.push(user("alice"));
    s.write_iam_state(first.clone()).await.expect("first write");
    assert!(
        is_conflict(s.write_iam_state(first.clone()).await),
        "a second first write (revision 0) is a conflict"
    );
    let read = s.iam_state(ACCOUNT).await.expect("read");
    assert_eq!(read.revision, 1);
    assert_eq!(user_names(&read), ["alice"]);
    assert_eq!(s.iam_revision(ACCOUNT).await.expect("revision"), 1);

    let mut second = read.clone();
    second.users.push(user("bob"));
    s.write_iam_state(second).await.expect("second write");
    // A write based on revision 1 again is stale.
    let mut stale = read;
    stale.users.push(user("carol"));
    assert!(is_conflict(s.write_iam_state(stale).await));
    let read = s.iam_state(ACCOUNT).await.expect("read");
    assert_eq!(read.revision, 2);
    assert_eq!(user_names(&read), ["alice", "bob"]);
    assert_eq!(s.iam_revision(ACCOUNT).await.expect("revision"), 2);
    // Other accounts are apart.
    assert_eq!(s.iam_revision(MEMBER).await.expect("revision"), 0);
}

pub async fn iam_concurrent_writers_lose_nothing(h: Handles) {
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let s = h.a.clone();
        tasks.push(tokio::spawn(async move {
            retry(|| {
                let s = s.clone();
                async move {
                    let mut state = s.iam_state(ACCOUNT).await?;
                    state.users.push(user(&format!("user{i:02}")));
                    s.write_iam_state(state).await
                }
            })
            .await;
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let state = h.a.iam_state(ACCOUNT).await.expect("read");
    let expected: Vec<String> = (0..WRITERS).map(|i| format!("user{i:02}")).collect();
    assert_eq!(user_names(&state), expected, "no acknowledged write is lost");
    assert_eq!(state.revision, WRITERS as i64);
    assert_eq!(h.a.iam_revision(ACCOUNT).await.expect("revision"), WRITERS as i64);
    assert_eq!(user_names(&h.b.iam_state(ACCOUNT).await.expect("read")), expected);
}

pub async fn account_aliases_are_unique_and_find_their_account(h: Handles) {
    let s = h.a.as_ref();
    assert_eq!(s.account_by_alias("acme").await.expect("lookup"), None);
    let mut mine = s.iam_state(ACCOUNT).await.expect("read");
    mine.account_alias = Some("acme".into());
    s.write_iam_state(mine).await.expect("write");
    assert_eq!(
        h.b.account_by_alias("acme").await.expect("lookup").as_deref(),
        Some(ACCOUNT)
    );

    // Another account can't take it: the whole write is refused.
    let mut theirs = s.iam_state(MEMBER).await.expect("read");
    theirs.users.push(user("mallory"));
    theirs.account_alias = Some("acme".into());
    assert!(is_conflict(s.write_iam_state(theirs.clone()).await));
    assert_eq!(s.iam_state(MEMBER).await.expect("read").revision, 0);
    assert_eq!(
        s.account_by_alias("acme").await.expect("lookup").as_deref(),
        Some(ACCOUNT)
    );

    // A new alias replaces the account's old one, which is free again.
    let mut mine = s.iam_state(ACCOUNT).await.expect("read");
    mine.account_alias = Some("acme-two".into());
    s.write_iam_state(mine).await.expect("write");
    assert_eq!(s.account_by_alias("acme").await.expect("lookup"), None);
    assert_eq!(
        s.account_by_alias("acme-two").await.expect("lookup").as_deref(),
        Some(ACCOUNT)
    );
    s.write_iam_state(theirs).await.expect("the freed alias");
    assert_eq!(
        h.b.account_by_alias("acme").await.expect("lookup").as_deref(),
        Some(MEMBER)
    );

    // Writes that keep the alias keep it; removing it frees it.
    let mut mine = s.iam_state(ACCOUNT).await.expect("read");
    mine.users.push(user("alice"));
    s.write_iam_state(mine).await.expect("write");
    assert_eq!(
        s.account_by_alias("acme-two").await.expect("lookup").as_deref(),
        Some(ACCOUNT)
    );
    let mut mine = s.iam_state(ACCOUNT).await.expect("read");
    mine.account_alias = None;
    s.write_iam_state(mine).await.expect("write");
    assert_eq!(s.account_by_alias("acme-two").await.expect("lookup"), None);
}

pub async fn organization_is_written_by_revision(h: Handles) {
    let s = h.a.as_ref();
    assert!(s.organization().await.expect("read").is_none());
    assert_eq!(s.organization_id_of(ACCOUNT).await.expect("read"), None);
    s.write_organization(organization()).await.expect("create");
    assert!(
        is_conflict(s.write_organization(organization()).await),
        "creating the organization twice is a conflict"
    );
    let org = s.organization().await.expect("read").expect("organization");
    assert_eq!(org.revision, 1);
    assert_eq!(
        s.organization_id_of(ACCOUNT).await.expect("read").as_deref(),
        Some("o-abcdefghij")
    );
    assert_eq!(s.organization_id_of(MEMBER).await.expect("read"), None);

    let mut next = org.clone();
    next.accounts.push(org_account(MEMBER));
    s.write_organization(next).await.expect("update");
    assert!(is_conflict(s.write_organization(org).await), "stale revision");
    let org = s.organization().await.expect("read").expect("organization");
    assert_eq!(org.revision, 2);
    assert_eq!(org.accounts.len(), 2);
    assert_eq!(
        s.organization_id_of(MEMBER).await.expect("read").as_deref(),
        Some("o-abcdefghij")
    );
}

pub async fn member_account_creation_is_one_transaction(h: Handles) {
    let s = h.a.as_ref();
    s.write_organization(organization()).await.expect("create");
    let org = s.organization().await.expect("read").expect("organization");
    let mut iam = IamState::new(MEMBER);
    iam.users.push(user("admin"));

    // Based on a stale organization: nothing of it is stored.
    let mut stale = org.clone();
    stale.revision = 0;
    stale.accounts.push(org_account(MEMBER));
    assert!(is_conflict(
        s.create_member_account(stale, account(MEMBER, "member"), iam.clone())
            .await
    ));
    assert_eq!(s.account(MEMBER).await.expect("read"), None);
    assert_eq!(s.iam_revision(MEMBER).await.expect("revision"), 0);
    assert_eq!(s.organization().await.expect("read").expect("org").revision, 1);

    let mut next = org;
    next.accounts.push(org_account(MEMBER));
    s.create_member_account(next, account(MEMBER, "member"), iam)
        .await
        .expect("create member");
    assert_eq!(
        s.account(MEMBER).await.expect("read"),
        Some(account(MEMBER, "member"))
    );
    let member_iam = s.iam_state(MEMBER).await.expect("read");
    assert_eq!(member_iam.revision, 1);
    assert_eq!(user_names(&member_iam), ["admin"]);
    assert_eq!(
        s.organization_id_of(MEMBER).await.expect("read").as_deref(),
        Some("o-abcdefghij")
    );
    assert_eq!(s.organization().await.expect("read").expect("org").revision, 2);
}

pub async fn secret_is_read_by_arn_and_name_with_its_values(h: Handles) {
    let s = h.a.as_ref();
    let (secret, values) = secret("app/db");
    assert!(s.secret_by_arn(&secret.arn).await.expect("read").is_none());
    assert!(
        s.secret_by_name(ACCOUNT, REGION, "app/db")
            .await
            .expect("read")
            .is_none()
    );
    s.write_secret(SecretWrite::Create {
        secret: secret.clone(),
        values: values.clone(),
    })
    .await
    .expect("create");
    let by_arn = s.secret_by_arn(&secret.arn).await.expect("read").expect("secret");
    let mut expected = secret.clone();
    expected.revision = 1;
    assert_eq!(by_arn, expected);
    let by_name = s
        .secret_by_name(ACCOUNT, REGION, "app/db")
        .await
        .expect("read")
        .expect("secret");
    assert_eq!(by_name, expected);
    // Names are per account and region.
    assert!(
        s.secret_by_name(ACCOUNT, "eu-west-1", "app/db")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        s.secret_by_name(MEMBER, REGION, "app/db")
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        s.sealed_value(&secret.arn, "v1").await.expect("read"),
        Some(values[0].1.clone())
    );
    assert_eq!(s.sealed_value(&secret.arn, "v2").await.expect("read"), None);
}

pub async fn secret_name_is_unique_and_creating_twice_conflicts(h: Handles) {
    let s = h.a.as_ref();
    let first = create(s, "taken").await;
    // The same secret again (a retried create): a conflict, not a second row.
    let (same, values) = secret("taken");
    assert!(is_conflict(
        s.write_secret(SecretWrite::Create {
            secret: same.clone(),
            values,
        })
        .await
    ));
    // Another ARN with the same name in the same account and region.
    let mut other = same;
    other.arn = format!("{}-other", other.arn);
    assert!(is_conflict(
        s.write_secret(SecretWrite::Create {
            secret: other.clone(),
            values: vec![("v1".to_owned(), sealed("other"))],
        })
        .await
    ));
    assert!(s.secret_by_arn(&other.arn).await.expect("read").is_none());
    assert_eq!(
        s.list_secrets(ACCOUNT, REGION).await.expect("list"),
        vec![first.clone()]
    );
    assert_eq!(
        s.sealed_value(&first.arn, "v1").await.expect("read"),
        Some(sealed("taken-v1"))
    );
    // The same name is free in another region.
    let mut elsewhere = secret("taken").0;
    elsewhere.region = "eu-west-1".to_owned();
    elsewhere.arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:taken-AbCdEf".to_owned();
    s.write_secret(SecretWrite::Create {
        secret: elsewhere,
        values: vec![],
    })
    .await
    .expect("same name, other region");
}

pub async fn secret_update_with_a_stale_revision_changes_nothing(h: Handles) {
    let s = h.a.as_ref();
    let base = create(s, "stale").await;
    let mut next = base.clone();
    add_version(&mut next, "v2");
    s.write_secret(SecretWrite::Update {
        secret: next,
        new_values: vec![("v2".to_owned(), sealed("v2"))],
        removed_versions: vec![],
    })
    .await
    .expect("update");
    let current = s.secret_by_arn(&base.arn).await.expect("read").expect("secret");

    // Based on revision 1 again: metadata, new values and removals are all refused.
    let mut stale = base.clone();
    add_version(&mut stale, "v3");
    stale.description = Some("stale".to_owned());
    assert!(is_conflict(
        s.write_secret(SecretWrite::Update {
            secret: stale,
            new_values: vec![("v3".to_owned(), sealed("v3"))],
            removed_versions: vec!["v1".to_owned()],
        })
        .await
    ));
    assert_eq!(
        s.secret_by_arn(&base.arn).await.expect("read").expect("secret"),
        current
    );
    assert_eq!(s.sealed_value(&base.arn, "v3").await.expect("read"), None);
    assert_eq!(
        s.sealed_value(&base.arn, "v1").await.expect("read"),
        Some(sealed("stale-v1"))
    );
    // A stale delete is refused too.
    assert!(is_conflict(
        s.write_secret(SecretWrite::Delete {
            arn: base.arn.clone(),
            revision: base.revision,
        })
        .await
    ));
    assert!(s.secret_by_arn(&base.arn).await.expect("read").is_some());
}

/// `write_secrets` (a primary and its replicas): every write is made, or none when one fails, and
/// a replica keeps `primary_region` and a primary its `replicas`.
pub async fn secret_writes_together_are_all_or_nothing(h: Handles) {
    use kinko_core::secret::{Replica, ReplicationState};
    let s = h.a.as_ref();
    let base = create(s, "together").await;
    let replica_in = |region: &str, primary: &kinko_core::secret::Secret| {
        let mut r = primary.clone();
        r.arn = primary.replica_arn(region);
        r.region = region.to_owned();
        r.primary_region = Some(primary.region.clone());
        r.revision = 0;
        r
    };
    let mut primary = base.clone();
    primary.replicas = vec![Replica {
        region: "eu-west-1".to_owned(),
        kms_key_id: None,
        status: ReplicationState::InSync,
        status_message: None,
    }];
    let replica = replica_in("eu-west-1", &base);
    s.write_secrets(vec![
        SecretWrite::Create {
            secret: replica.clone(),
            values: vec![("v1".to_owned(), sealed("replica-v1"))],
        },
        SecretWrite::Update {
            secret: primary.clone(),
            new_values: vec![],
            removed_versions: vec![],
        },
    ])
    .await
    .expect("primary and replica");
    let stored = s.secret_by_arn(&base.arn).await.expect("read").expect("primary");
    assert_eq!(stored.replicas, primary.replicas);
    let stored_replica = s
        .secret_by_name(ACCOUNT, "eu-west-1", &base.name)
        .await
        .expect("read")
        .expect("replica");
    assert_eq!(stored_replica.primary_region.as_deref(), Some(REGION));
    assert_eq!(stored_replica.arn, replica.arn);
    assert_eq!(
        s.sealed_value(&replica.arn, "v1").await.expect("read"),
        Some(sealed("replica-v1"))
    );

    // A stale write among them: the other writes are not made either.
    let mut next = stored.clone();
    add_version(&mut next, "v2");
    let mut next_replica = stored_replica.clone();
    add_version(&mut next_replica, "v2");
    let another = replica_in("ap-south-1", &base);
    assert!(is_conflict(
        s.write_secrets(vec![
            SecretWrite::Update {
                secret: next_replica,
                new_values: vec![("v2".to_owned(), sealed("replica-v2"))],
                removed_versions: vec![],
            },
            SecretWrite::Create {
                secret: another.clone(),
                values: vec![],
            },
            SecretWrite::Update {
                secret: base.clone(),
                new_values: vec![("v2".to_owned(), sealed("v2"))],
                removed_versions: vec![],
            },
        ])
        .await
    ));
    assert_eq!(
        s.secret_by_name(ACCOUNT, "eu-west-1", &base.name)
            .await
            .expect("read"),
        Some(stored_replica)
    );
    assert_eq!(s.sealed_value(&replica.arn, "v2").await.expect("read"), None);
    assert!(s.secret_by_arn(&another.arn).await.expect("read").is_none());
    assert_eq!(s.secret_by_arn(&base.arn).await.expect("read"), Some(stored));
}

pub async fn secret_update_adds_replaces_and_removes_values(h: Handles) {
    let s = h.a.as_ref();
    let base = create(s, "values").await;
    let mut next = base.clone();
    add_version(&mut next, "v2");
    next.description = Some("two".to_owned());
    s.write_secret(SecretWrite::Update {
        secret: next.clone(),
        new_values: vec![("v2".to_owned(), sealed("v2"))],
        removed_versions: vec![],
    })
    .await
    .expect("add a version");
    let read = s.secret_by_arn(&base.arn).await.expect("read").expect("secret");
    assert_eq!(read.revision, 2);
    assert_eq!(read.description.as_deref(), Some("two"));
    assert_eq!(read.current().map(|v| v.id.as_str()), Some("v2"));
    assert_eq!(
        read.version_with_stage(AWSPREVIOUS).map(|v| v.id.as_str()),
        Some("v1")
    );

    // Re-encrypted: v1's value replaced; and v2 removed.
    let mut third = read;
    third.versions.retain(|v| v.id != "v2");
    s.write_secret(SecretWrite::Update {
        secret: third,
        new_values: vec![("v1".to_owned(), sealed("v1-reencrypted"))],
        removed_versions: vec!["v2".to_owned()],
    })
    .await
    .expect("replace and remove");
    assert_eq!(
        s.sealed_value(&base.arn, "v1").await.expect("read"),
        Some(sealed("v1-reencrypted"))
    );
    assert_eq!(s.sealed_value(&base.arn, "v2").await.expect("read"), None);
    let read = s.secret_by_arn(&base.arn).await.expect("read").expect("secret");
    assert_eq!(read.revision, 3);
    assert!(read.version("v2").is_none());
    // The name lookup sees the same state.
    assert_eq!(
        s.secret_by_name(ACCOUNT, REGION, "values")
            .await
            .expect("read")
            .expect("secret"),
        read
    );
}

pub async fn secret_delete_removes_values_and_frees_the_name(h: Handles) {
    let s = h.a.as_ref();
    let base = create(s, "doomed").await;
    assert!(s.sealed_value(&base.arn, "v1").await.expect("read").is_some());
    s.write_secret(SecretWrite::Delete {
        arn: base.arn.clone(),
        revision: base.revision,
    })
    .await
    .expect("delete");
    assert!(s.secret_by_arn(&base.arn).await.expect("read").is_none());
    assert!(
        s.secret_by_name(ACCOUNT, REGION, "doomed")
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(s.sealed_value(&base.arn, "v1").await.expect("read"), None);
    assert!(s.list_secrets(ACCOUNT, REGION).await.expect("list").is_empty());
    // Deleting again: there is nothing at that revision.
    assert!(is_conflict(
        s.write_secret(SecretWrite::Delete {
            arn: base.arn.clone(),
            revision: base.revision,
        })
        .await
    ));
    // The name can be taken again, by a new ARN.
    let (mut again, _) = secret("doomed");
    again.arn = format!("{}-2", again.arn);
    s.write_secret(SecretWrite::Create {
        secret: again.clone(),
        values: vec![("v1".to_owned(), sealed("again"))],
    })
    .await
    .expect("create again");
    let read = s
        .secret_by_name(ACCOUNT, REGION, "doomed")
        .await
        .expect("read")
        .expect("secret");
    assert_eq!(read.arn, again.arn);
    assert_eq!(
        s.sealed_value(&again.arn, "v1").await.expect("read"),
        Some(sealed("again"))
    );
}

pub async fn secret_concurrent_writers_lose_no_version(h: Handles) {
    let base = create(h.a.as_ref(), "busy").await;
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let s = h.a.clone();
        let arn = base.arn.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("w{i:02}");
            retry(|| {
                let (s, arn, id) = (s.clone(), arn.clone(), id.clone());
                async move {
                    let mut secret = s.secret_by_arn(&arn).await?.expect("secret");
                    add_version(&mut secret, &id);
                    s.write_secret(SecretWrite::Update {
                        secret,
                        new_values: vec![(id.clone(), sealed(&id))],
                        removed_versions: vec![],
                    })
                    .await
                }
            })
            .await;
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    for store in [&h.a, &h.b] {
        let s = store
            .secret_by_arn(&base.arn)
            .await
            .expect("read")
            .expect("secret");
        assert_eq!(s.revision, 1 + WRITERS as i64);
        let ids: HashSet<&str> = s.versions.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids.len(), 1 + WRITERS, "every acknowledged version is there");
        for i in 0..WRITERS {
            assert!(ids.contains(format!("w{i:02}").as_str()));
        }
        let holders = |stage: &str| s.versions.iter().filter(|v| v.has_stage(stage)).count();
        assert_eq!(holders(AWSCURRENT), 1, "exactly one AWSCURRENT");
        assert_eq!(holders(AWSPREVIOUS), 1, "exactly one AWSPREVIOUS");
        for v in &s.versions {
            let value = store.sealed_value(&s.arn, &v.id).await.expect("read");
            assert!(value.is_some(), "version {} has its value", v.id);
        }
    }
}

pub async fn secret_listing_orders_and_pages(h: Handles) {
    let s = h.a.as_ref();
    // Created in the order c, a, d, b; `d` is scheduled for deletion.
    for (i, name) in ["c", "a", "d", "b"].into_iter().enumerate() {
        let mut secret = bare_secret(name, i as i64);
        add_version(&mut secret, "v1");
        if name == "d" {
            secret.deleted_date = Some(at(T0));
            secret.deletion_date = Some(at(T0 + 7 * DAY_MS));
        }
        s.write_secret(SecretWrite::Create {
            secret,
            values: vec![("v1".to_owned(), sealed(name))],
        })
        .await
        .expect("create");
    }
    let mut elsewhere = bare_secret("e", 9);
    elsewhere.region = "eu-west-1".to_owned();
    elsewhere.arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:e-AbCdEf".to_owned();
    s.write_secret(SecretWrite::Create {
        secret: elsewhere,
        values: vec![],
    })
    .await
    .expect("create");

    assert_eq!(
        names(&s.list_secrets(ACCOUNT, REGION).await.expect("list")),
        ["c", "a", "d", "b"]
    );
    let list = |order, offset, limit, deleted| async move {
        let (secrets, more) = s
            .list_secrets_page(ACCOUNT, REGION, &[], page(order, offset, limit, deleted))
            .await
            .expect("page");
        (secrets.into_iter().map(|s| s.name).collect::<Vec<_>>(), more)
    };
    assert_eq!(
        list(ListOrder::CreatedAsc, 0, 10, true).await,
        (vec!["c".into(), "a".into(), "d".into(), "b".into()], false)
    );
    assert_eq!(
        list(ListOrder::CreatedAsc, 0, 10, false).await,
        (vec!["c".into(), "a".into(), "b".into()], false)
    );
    assert_eq!(
        list(ListOrder::CreatedDesc, 0, 2, false).await,
        (vec!["b".into(), "a".into()], true)
    );
    assert_eq!(
        list(ListOrder::CreatedDesc, 2, 2, false).await,
        (vec!["c".into()], false)
    );
    assert_eq!(
        list(ListOrder::NameAsc, 0, 3, true).await,
        (vec!["a".into(), "b".into(), "c".into()], true)
    );
    assert_eq!(
        list(ListOrder::NameDesc, 1, 10, true).await,
        (vec!["c".into(), "b".into(), "a".into()], false)
    );
    assert_eq!(
        names(&s.list_secrets(ACCOUNT, "eu-west-1").await.expect("list")),
        ["e"]
    );
}

/// A filtered listing has exactly the secrets [`Secret::matches_filters`] passes (ListSecrets's
/// rules, negation included), in each order and across pages, also after a secret's attributes
/// changed or it was deleted.
pub async fn secret_listing_filters_as_the_rules_say(h: Handles) {
    use kinko_core::filters::{Filter, FilterKey};
    use kinko_core::secret::Tag;
    let s = h.a.as_ref();
    let tags = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| Tag {
                    key: (*k).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect::<Vec<_>>(),
        )
    };
    /// A secret's name, description and tags.
    type Spec<'a> = (&'a str, Option<&'a str>, Option<Vec<Tag>>);
    let specs: Vec<Spec<'_>> = vec![
        (
            "prod/AppBeta/db",
            Some("The primary Database"),
            tags(&[("env", "prod"), ("team", "Platform")]),
        ),
        (
            "prod_AppBeta_cache",
            Some("a secret"),
            tags(&[("env", "staging")]),
        ),
        ("uat/COMPANYthings/x", None, tags(&[("Owner", "a b")])),
        ("Thirdsecret", Some("one two"), None),
        (
            "名前/ÀbcDéf",
            Some("Ünïcødé word"),
            tags(&[("ключ", "ЗначениеВажное")]),
        ),
        ("prod-AppBeta/mixed", Some(""), None),
        ("planned", Some("to be deleted"), tags(&[("env", "prod")])),
        ("changed", Some("before"), tags(&[("old", "x")])),
        ("gone", Some("gone for good"), tags(&[("env", "prod")])),
        ("prod%x", Some("100% literal"), None),
    ];
    for (n, (name, description, tags)) in specs.into_iter().enumerate() {
        let mut secret = bare_secret(name, i64::try_from(n).expect("small"));
        secret.description = description.map(str::to_owned);
        secret.tags = tags;
        if name == "Thirdsecret" {
            secret.primary_region = Some("eu-west-1".to_owned());
        }
        if name == "planned" {
            secret.deleted_date = Some(at(T0 + 50));
            secret.deletion_date = Some(at(T0 + 100));
        }
        s.write_secret(SecretWrite::Create {
            secret,
            values: vec![],
        })
        .await
        .expect("create");
    }
    // The terms follow the secret: an update replaces them, a delete removes them.
    let mut changed = s
        .secret_by_arn(&secret_arn("changed"))
        .await
        .expect("read")
        .expect("secret");
    changed.description = Some("after the Change".to_owned());
    changed.tags = tags(&[("new", "y")]);
    s.write_secret(SecretWrite::Update {
        secret: changed,
        new_values: vec![],
        removed_versions: vec![],
    })
    .await
    .expect("update");
    // An update that changes nothing searchable keeps the terms.
    let mut read = s
        .secret_by_arn(&secret_arn("prod/AppBeta/db"))
        .await
        .expect("read")
        .expect("secret");
    read.last_accessed_date = Some(at(T0 + 60));
    s.write_secret(SecretWrite::Update {
        secret: read,
        new_values: vec![],
        removed_versions: vec![],
    })
    .await
    .expect("update");
    let gone = s
        .secret_by_arn(&secret_arn("gone"))
        .await
        .expect("read")
        .expect("secret");
    s.write_secret(SecretWrite::Delete {
        arn: gone.arn,
        revision: gone.revision,
    })
    .await
    .expect("delete");

    let stored = s.list_secrets(ACCOUNT, REGION).await.expect("list");
    let f = |key: FilterKey, values: &[&str]| Filter {
        key,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    };
    use FilterKey::*;
    let cases: Vec<Vec<Filter>> = vec![
        vec![f(Name, &["prod"])],
        vec![f(Name, &["prod/", "uat"])],
        vec![f(Name, &["!prod"])],
        vec![f(Name, &["Prod"])],
        vec![f(Name, &["prod_"])],
        vec![f(Name, &["prod%"])],
        vec![f(Name, &["名"])],
        vec![f(Name, &[""])],
        vec![f(Name, &["!"])],
        vec![f(Description, &["a"])],
        vec![f(Description, &["a secret"])],
        vec![f(Description, &["database PRI"])],
        vec![f(Description, &["!one", "two"])],
        vec![f(Description, &["!o"])],
        vec![f(Description, &["ünï"])],
        vec![f(Description, &["before"])],
        vec![f(Description, &["change"])],
        vec![f(Description, &["gone"])],
        vec![f(Description, &["100%"])],
        vec![f(Description, &["  "])],
        vec![f(Description, &["!  "])],
        vec![f(TagKey, &["env"])],
        vec![f(TagKey, &["e"])],
        vec![f(TagKey, &["!env"])],
        vec![f(TagKey, &[""])],
        vec![f(TagKey, &["!"])],
        vec![f(TagKey, &["old"])],
        vec![f(TagKey, &["new"])],
        vec![f(TagValue, &["prod", "a b"])],
        vec![f(TagValue, &["!prod"])],
        vec![f(TagValue, &["Знач"])],
        vec![f(TagKey, &["env"]), f(TagValue, &["staging"])],
        vec![f(TagKey, &["env"]), f(Name, &["!prod/"])],
        vec![f(PrimaryRegion, &["eu"])],
        vec![f(PrimaryRegion, &["!eu"])],
        vec![f(PrimaryRegion, &[""])],
        vec![f(OwningService, &["rds"])],
        vec![f(OwningService, &["!rds"])],
        vec![f(All, &["app"])],
        vec![f(All, &["app beta"])],
        vec![f(All, &["beta app app"])],
        vec![f(All, &["!app"])],
        vec![f(All, &["+"])],
        vec![f(All, &["!+"])],
        vec![f(All, &["secret"])],
        vec![f(All, &["d t"])],
        vec![f(All, &["ythings"])],
        vec![f(All, &["company"])],
        vec![f(All, &["prod"])],
        vec![f(All, &["a b"])],
        vec![f(All, &["platform env"])],
        vec![f(All, &["важ"])],
        vec![f(All, &["déf"])],
        vec![f(All, &["prod-appbeta/mixed"])],
        vec![f(All, &["the"]), f(All, &["database"])],
        vec![f(All, &["y"]), f(Description, &["after"])],
        vec![f(All, &["prod", "!prod"]), f(Name, &["!uat"])],
        // Past four words, a value's other words are looked for another way (one parameter).
        vec![f(Description, &["t p d the primary"])],
        vec![f(Description, &["the primary database a zz"])],
        vec![f(Description, &["!t p d the primary"])],
        vec![f(All, &["prod app beta db p"])],
        vec![f(All, &["prod app beta db cache"])],
        vec![f(All, &["!prod app beta db p", "a b c d e"])],
        vec![f(All, &["prod app beta db \u{10FFFF}"])],
        vec![f(Description, &["!a b c d \u{10FFFF}"])],
    ];
    let orders = [
        ListOrder::CreatedAsc,
        ListOrder::CreatedDesc,
        ListOrder::NameAsc,
        ListOrder::NameDesc,
    ];
    for filters in &cases {
        for include_deleted in [false, true] {
            // `stored` is in creation order.
            let created: Vec<&str> = stored
                .iter()
                .filter(|s| include_deleted || !s.is_scheduled_for_deletion())
                .filter(|s| s.matches_filters(filters))
                .map(|s| s.name.as_str())
                .collect();
            for order in orders {
                let mut expected = created.clone();
                match order {
                    ListOrder::CreatedAsc => {}
                    ListOrder::CreatedDesc => expected.reverse(),
                    ListOrder::NameAsc => expected.sort_unstable(),
                    ListOrder::NameDesc => {
                        expected.sort_unstable();
                        expected.reverse();
                    }
                }
                let (all, more) = s
                    .list_secrets_page(ACCOUNT, REGION, filters, page(order, 0, 100, include_deleted))
                    .await
                    .expect("filtered page");
                assert_eq!(
                    names(&all),
                    expected,
                    "{filters:?} {order:?} deleted: {include_deleted}"
                );
                assert!(!more);
                // Two at a time: the same secrets, and `more` until the last page.
                let mut paged = Vec::new();
                for offset in (0..=expected.len()).step_by(2) {
                    let (secrets, more) = s
                        .list_secrets_page(ACCOUNT, REGION, filters, page(order, offset, 2, include_deleted))
                        .await
                        .expect("filtered page");
                    assert_eq!(
                        more,
                        offset + 2 < expected.len(),
                        "{filters:?} {order:?} at {offset}"
                    );
                    paged.extend(secrets.into_iter().map(|s| s.name));
                }
                assert_eq!(paged, expected, "{filters:?} {order:?} paged");
                // Two at a time again, each page after the previous page's last secret.
                let mut sought: Vec<String> = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let mut next = page(order, 0, 2, include_deleted);
                    next.after = after.take();
                    let (secrets, more) = s
                        .list_secrets_page(ACCOUNT, REGION, filters, next)
                        .await
                        .expect("filtered page");
                    after = secrets.last().map(|s| s.arn.clone());
                    sought.extend(secrets.into_iter().map(|s| s.name));
                    if !more {
                        break;
                    }
                }
                assert_eq!(sought, expected, "{filters:?} {order:?} sought");
            }
        }
    }
    // The rules themselves, on a few cases, so the comparison above is not vacuous.
    let only = |filters: Vec<Filter>| {
        let stored = &stored;
        async move {
            let (secrets, _) = s
                .list_secrets_page(ACCOUNT, REGION, &filters, page(ListOrder::NameAsc, 0, 100, false))
                .await
                .expect("filtered page");
            assert!(secrets.iter().all(|x| stored.iter().any(|y| y.arn == x.arn)));
            secrets.into_iter().map(|s| s.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        only(vec![f(All, &["app beta"])]).await,
        ["prod/AppBeta/db", "prod_AppBeta_cache"]
    );
    assert_eq!(only(vec![f(Description, &["change"])]).await, ["changed"]);
    assert!(only(vec![f(TagKey, &["old"])]).await.is_empty());
    assert!(only(vec![f(Description, &["gone"])]).await.is_empty());
    assert_eq!(only(vec![f(PrimaryRegion, &["eu"])]).await, ["Thirdsecret"]);
    assert_eq!(only(vec![f(Name, &["prod%"])]).await, ["prod%x"]);
    assert_eq!(
        only(vec![f(All, &["prod app beta db p"])]).await,
        ["prod/AppBeta/db"]
    );
    assert_eq!(
        only(vec![f(Description, &["t p d the primary"])]).await,
        ["prod/AppBeta/db"]
    );
}

/// The largest filters ListSecrets takes (10 filters of 10 values of 512 characters), with as
/// many words in each value as fit: the store answers them, and as the rules say.
/// A page after a secret (`ListPage::after`) starts right after it in the order, secrets created
/// in the same millisecond included, whatever the offset says; when that secret is gone (or is
/// another region's), the offset applies.
pub async fn secret_listing_seeks_after_a_secret(h: Handles) {
    let s = h.a.as_ref();
    // Created in the order c, a, d, b, e; a, d and b in the same millisecond.
    for (name, created) in [("c", 0), ("a", 5), ("d", 5), ("b", 5), ("e", 9)] {
        s.write_secret(SecretWrite::Create {
            secret: bare_secret(name, created),
            values: vec![],
        })
        .await
        .expect("create");
    }
    let mut elsewhere = bare_secret("x", 1);
    elsewhere.region = "eu-west-1".to_owned();
    elsewhere.arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x-AbCdEf".to_owned();
    s.write_secret(SecretWrite::Create {
        secret: elsewhere.clone(),
        values: vec![],
    })
    .await
    .expect("create");
    let list = |order, offset, after: Option<String>| async move {
        let mut p = page(order, offset, 2, false);
        p.after = after;
        let (secrets, more) = s.list_secrets_page(ACCOUNT, REGION, &[], p).await.expect("page");
        (secrets.into_iter().map(|s| s.name).collect::<Vec<_>>(), more)
    };
    let after = |name: &str| Some(secret_arn(name));
    use ListOrder::*;
    assert_eq!(
        list(CreatedAsc, 99, after("a")).await,
        (vec!["d".into(), "b".into()], true)
    );
    assert_eq!(
        list(CreatedAsc, 0, after("d")).await,
        (vec!["b".into(), "e".into()], false)
    );
    assert_eq!(
        list(CreatedDesc, 0, after("b")).await,
        (vec!["d".into(), "a".into()], true)
    );
    assert_eq!(list(CreatedDesc, 7, after("a")).await, (vec!["c".into()], false));
    assert_eq!(
        list(NameAsc, 0, after("b")).await,
        (vec!["c".into(), "d".into()], true)
    );
    assert_eq!(list(NameDesc, 0, after("b")).await, (vec!["a".into()], false));
    // Gone, or in another region: the offset.
    let gone = s
        .secret_by_arn(&secret_arn("d"))
        .await
        .expect("read")
        .expect("secret");
    s.write_secret(SecretWrite::Delete {
        arn: gone.arn.clone(),
        revision: gone.revision,
    })
    .await
    .expect("delete");
    assert_eq!(
        list(CreatedAsc, 1, Some(gone.arn)).await,
        (vec!["a".into(), "b".into()], true)
    );
    assert_eq!(
        list(NameAsc, 3, Some(elsewhere.arn)).await,
        (vec!["e".into()], false)
    );
}

/// Filters that pass many secrets, and filters whose index ranges hold many secrets of which
/// few pass: the same pages as the rules say, however the store finds them.
pub async fn secret_listing_filters_many_secrets(h: Handles) {
    use kinko_core::filters::{Filter, FilterKey};
    use kinko_core::secret::Tag;
    let s = h.a.as_ref();
    // 2,600 secrets `many/N`, tagged `team` = `t-{N % 2}`, every hundredth described.
    const COUNT: usize = 2600;
    let mut writes = Vec::new();
    for n in 0..COUNT {
        let name = format!("many/{n:04}");
        let mut secret = bare_secret(&name, i64::try_from(n).expect("small") % 7);
        secret.tags = Some(vec![Tag {
            key: "team".to_owned(),
            value: format!("t-{}", n % 2),
        }]);
        if n % 100 == 0 {
            secret.description = Some(format!("rare {n}"));
        }
        writes.push(SecretWrite::Create {
            secret,
            values: vec![],
        });
        if writes.len() == 500 || n + 1 == COUNT {
            s.write_secrets(std::mem::take(&mut writes))
                .await
                .expect("create");
        }
    }
    let stored = s.list_secrets(ACCOUNT, REGION).await.expect("list");
    let f = |key: FilterKey, values: &[&str]| Filter {
        key,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    };
    use FilterKey::*;
    let cases: Vec<Vec<Filter>> = vec![
        vec![f(Name, &["many/"])],
        vec![f(Name, &["many/00"])],
        vec![f(Name, &["many/1", "many/25"])],
        vec![f(TagValue, &["t-1"])],
        vec![f(TagValue, &["t-1"]), f(Name, &["many/002"])],
        vec![f(TagKey, &["team"]), f(Description, &["rare"])],
        vec![
            f(All, &["many"]),
            f(Description, &["rare"]),
            f(TagValue, &["t-0"]),
        ],
        vec![f(Name, &["!many/1"]), f(Description, &["rare"])],
        vec![f(TagValue, &["t-"]), f(Name, &["!many/0"])],
    ];
    for filters in &cases {
        let created: Vec<&str> = stored
            .iter()
            .filter(|s| s.matches_filters(filters))
            .map(|s| s.name.as_str())
            .collect();
        for order in [ListOrder::CreatedAsc, ListOrder::CreatedDesc, ListOrder::NameAsc] {
            let mut expected = created.clone();
            match order {
                ListOrder::CreatedDesc => expected.reverse(),
                ListOrder::NameAsc => expected.sort_unstable(),
                _ => {}
            }
            let mut paged: Vec<String> = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let mut next = page(order, paged.len(), 100, false);
                next.after = after.take();
                let (secrets, more) = s
                    .list_secrets_page(ACCOUNT, REGION, filters, next)
                    .await
                    .expect("filtered page");
                assert!(secrets.len() == 100 || !more, "{filters:?} {order:?}");
                after = secrets.last().map(|s| s.arn.clone());
                paged.extend(secrets.into_iter().map(|s| s.name));
                if !more {
                    break;
                }
            }
            assert_eq!(paged, expected, "{filters:?} {order:?}");
        }
    }
}

pub async fn secret_listing_takes_the_largest_filters(h: Handles) {
    use kinko_core::filters::{Filter, FilterKey};
    use kinko_core::secret::Tag;
    let s = h.a.as_ref();
    let long = |prefix: &str| format!("{prefix}{}", "x".repeat(512 - prefix.len()));
    let words = words_filling(0, 512);
    let (last_word_at, _) = words.rmatch_indices(' ').next().expect("words");
    let all_but_last = &words[..last_word_at];
    let specs = [
        (long("max/a"), Some(words.as_str()), ("env", "prod")),
        (long("max/b"), Some(all_but_last), ("env", "dev")),
        (long("max/c"), None, ("team", "x")),
        ("other".to_owned(), Some(words.as_str()), ("env", "prod")),
    ];
    for (n, (name, description, (key, value))) in specs.iter().enumerate() {
        let mut secret = bare_secret(name, i64::try_from(n).expect("small"));
        secret.description = description.map(str::to_owned);
        secret.tags = Some(vec![Tag {
            key: (*key).to_owned(),
            value: (*value).to_owned(),
        }]);
        s.write_secret(SecretWrite::Create {
            secret,
            values: vec![],
        })
        .await
        .expect("create");
    }
    let stored = s.list_secrets(ACCOUNT, REGION).await.expect("list");
    let filter = |key: FilterKey, values: Vec<String>| {
        assert_eq!(values.len(), 10);
        assert!(values.iter().all(|v| v.chars().count() == 512));
        Filter { key, values }
    };
    // The names of a, b and c, and seven that are no secret's.
    let name_values: Vec<String> = ["max/a", "max/b", "max/c"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..7).map(|n| format!("max/none{n}")))
        .map(|p| long(&p))
        .collect();
    // `first`, then nine values of words (mostly) no secret has.
    let words_and = |first: String| -> Vec<String> {
        std::iter::once(first)
            .chain((1..10).map(|n| words_filling(n * 40, 512)))
            .collect()
    };
    let negated = format!("!{}", &words[..511]);
    let absent_key = format!("!{}", long("e"));
    let absent_key = &absent_key[..512];
    let every_word = {
        let mut f = vec![filter(FilterKey::Name, name_values.clone())];
        for key in [FilterKey::Description, FilterKey::All] {
            f.extend((0..4).map(|_| filter(key, words_and(words.clone()))));
        }
        f.push(filter(FilterKey::TagKey, vec![absent_key.to_owned(); 10]));
        f
    };
    let some_word_missing = {
        let mut f = vec![filter(FilterKey::Name, name_values.clone())];
        for key in [FilterKey::Description, FilterKey::All] {
            f.extend((0..4).map(|_| filter(key, words_and(negated.clone()))));
        }
        f.push(filter(FilterKey::TagValue, vec![absent_key.to_owned(); 10]));
        f
    };
    for (filters, expected) in [
        (every_word, vec![long("max/a")]),
        (some_word_missing, vec![long("max/b"), long("max/c")]),
    ] {
        assert_eq!(filters.len(), 10);
        let by_rules: Vec<&str> = stored
            .iter()
            .filter(|x| x.matches_filters(&filters))
            .map(|x| x.name.as_str())
            .collect();
        assert_eq!(by_rules, expected);
        let (found, more) = s
            .list_secrets_page(
                ACCOUNT,
                REGION,
                &filters,
                page(ListOrder::CreatedAsc, 0, 100, false),
            )
            .await
            .expect("the largest filters");
        assert_eq!(names(&found), expected);
        assert!(!more);
    }
}

pub async fn secrets_due_for_deletion(h: Handles) {
    let s = h.a.as_ref();
    for (name, days) in [("late", 10), ("soon", 3), ("sooner", 1), ("kept", 0)] {
        let mut secret = bare_secret(name, 0);
        add_version(&mut secret, "v1");
        if days > 0 {
            secret.deleted_date = Some(at(T0));
            secret.deletion_date = Some(at(T0 + days * DAY_MS));
        }
        s.write_secret(SecretWrite::Create {
            secret,
            values: vec![],
        })
        .await
        .expect("create");
    }
    let due = |days: i64, limit| async move {
        s.secrets_due_for_deletion(at(T0 + days * DAY_MS), limit)
            .await
            .expect("due")
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
    };
    assert!(due(0, 10).await.is_empty());
    assert_eq!(due(1, 10).await, ["sooner"], "due at the deletion date itself");
    assert_eq!(due(5, 10).await, ["sooner", "soon"]);
    assert_eq!(due(30, 10).await, ["sooner", "soon", "late"]);
    assert_eq!(due(30, 2).await, ["sooner", "soon"]);
    // A restored secret is no longer due.
    let mut restored = s
        .secret_by_name(ACCOUNT, REGION, "soon")
        .await
        .expect("read")
        .expect("secret");
    restored.deleted_date = None;
    restored.deletion_date = None;
    s.write_secret(SecretWrite::Update {
        secret: restored,
        new_values: vec![],
        removed_versions: vec![],
    })
    .await
    .expect("restore");
    assert_eq!(due(30, 10).await, ["sooner", "late"]);
}

pub async fn secrets_due_for_rotation(h: Handles) {
    use kinko_core::rotation::{RotationConfig, RotationRules};
    let s = h.a.as_ref();
    let rotation = |days: i64, enabled: bool| RotationConfig {
        enabled,
        lambda_arn: Some("arn:aws:lambda:us-east-1:000000000000:function:rotate".into()),
        rules: Some(RotationRules {
            automatically_after_days: Some(days),
            ..RotationRules::default()
        }),
        configured_date: at(T0),
        attempt: None,
    };
    for (name, days, enabled, deleted) in [
        ("monthly", 30, true, false),
        ("weekly", 7, true, false),
        ("daily", 1, true, false),
        ("off", 1, false, false),
        ("deleted", 1, true, true),
        ("never", 0, false, false),
    ] {
        let mut secret = bare_secret(name, 0);
        add_version(&mut secret, "v1");
        if days > 0 {
            secret.rotation = Some(rotation(days, enabled));
        }
        if deleted {
            secret.deleted_date = Some(at(T0));
            secret.deletion_date = Some(at(T0 + 30 * DAY_MS));
        }
        s.write_secret(SecretWrite::Create {
            secret,
            values: vec![],
        })
        .await
        .expect("create");
    }
    let due = |days: i64, limit| async move {
        s.secrets_due_for_rotation(at(T0 + days * DAY_MS), limit)
            .await
            .expect("due")
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
    };
    assert!(due(0, 10).await.is_empty());
    assert_eq!(due(2, 10).await, ["daily"], "due once its window has opened");
    assert_eq!(due(8, 10).await, ["daily", "weekly"]);
    assert_eq!(due(31, 10).await, ["daily", "weekly", "monthly"]);
    assert_eq!(due(31, 1).await, ["daily"]);
    // A rotation moves the next date on; turning rotation off makes it never due.
    let mut daily = s
        .secret_by_name(ACCOUNT, REGION, "daily")
        .await
        .expect("read")
        .expect("secret");
    daily.last_rotated_date = Some(at(T0 + 9 * DAY_MS));
    s.write_secret(SecretWrite::Update {
        secret: daily,
        new_values: vec![],
        removed_versions: vec![],
    })
    .await
    .expect("rotated");
    assert_eq!(due(9, 10).await, ["weekly"]);
    assert_eq!(due(10, 10).await, ["weekly", "daily"], "soonest first");
    let mut weekly = s
        .secret_by_name(ACCOUNT, REGION, "weekly")
        .await
        .expect("read")
        .expect("secret");
    if let Some(r) = weekly.rotation.as_mut() {
        r.enabled = false;
    }
    s.write_secret(SecretWrite::Update {
        secret: weekly,
        new_values: vec![],
        removed_versions: vec![],
    })
    .await
    .expect("cancelled");
    assert_eq!(due(31, 10).await, ["daily", "monthly"]);
}

pub async fn kms_key_is_created_with_material_and_alias(h: Handles) {
    let s = h.a.as_ref();
    let k = kms_key("k1");
    assert!(s.kms_key(&k.arn).await.expect("read").is_none());
    s.create_kms_key(k.clone(), material(&k, 1, "m1"), Some("alias/one".to_owned()))
        .await
        .expect("create");
    let read = s.kms_key(&k.arn).await.expect("read").expect("key");
    let mut expected = k.clone();
    expected.revision = 1;
    assert_eq!(read, expected);
    assert_eq!(
        s.kms_alias_target(ACCOUNT, REGION, "alias/one")
            .await
            .expect("read")
            .as_deref(),
        Some(k.arn.as_str())
    );
    assert_eq!(
        s.kms_alias_target(ACCOUNT, "eu-west-1", "alias/one")
            .await
            .expect("read"),
        None
    );
    let m = s.kms_material(&k.arn, 1).await.expect("read").expect("material");
    assert_eq!(
        (m.key_arn.as_str(), m.version, m.wrapped.as_slice()),
        (k.arn.as_str(), 1, &b"m1"[..])
    );
    assert!(s.kms_material(&k.arn, 2).await.expect("read").is_none());
    // Without an alias.
    let k2 = kms_key("k2");
    s.create_kms_key(k2.clone(), material(&k2, 1, "m2"), None)
        .await
        .expect("create");
    assert!(
        is_conflict(s.create_kms_key(k2.clone(), material(&k2, 1, "m2"), None).await),
        "creating the same key twice is a conflict"
    );
    let all: Vec<(String, u32)> = s
        .all_kms_materials()
        .await
        .expect("all")
        .into_iter()
        .map(|m| (m.key_arn, m.version))
        .collect();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&(k.arn.clone(), 1)) && all.contains(&(k2.arn.clone(), 1)));
    let listed: Vec<String> = s
        .list_kms_keys(ACCOUNT, REGION)
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    assert_eq!(listed, ["k1", "k2"]);
    assert!(s.list_kms_keys(MEMBER, REGION).await.expect("list").is_empty());
}

pub async fn kms_key_with_a_taken_alias_is_not_created(h: Handles) {
    let s = h.a.as_ref();
    let k1 = kms_key("k1");
    s.create_kms_key(k1.clone(), material(&k1, 1, "m1"), Some("alias/x".to_owned()))
        .await
        .expect("create");
    let k2 = kms_key("k2");
    assert!(is_conflict(
        s.create_kms_key(k2.clone(), material(&k2, 1, "m2"), Some("alias/x".to_owned()))
            .await
    ));
    assert!(
        s.kms_key(&k2.arn).await.expect("read").is_none(),
        "nothing of it is stored"
    );
    assert!(s.kms_material(&k2.arn, 1).await.expect("read").is_none());
    assert_eq!(
        s.kms_alias_target(ACCOUNT, REGION, "alias/x")
            .await
            .expect("read")
            .as_deref(),
        Some(k1.arn.as_str())
    );
}

pub async fn kms_key_update_and_material_by_revision(h: Handles) {
    let s = h.a.as_ref();
    let k = kms_key("k1");
    s.create_kms_key(k.clone(), material(&k, 1, "m1"), None)
        .await
        .expect("create");
    let base = s.kms_key(&k.arn).await.expect("read").expect("key");
    let mut disabled = base.clone();
    disabled.key_state = KeyState::Disabled;
    s.update_kms_key(disabled).await.expect("update");
    assert!(
        is_conflict(s.update_kms_key(base.clone()).await),
        "stale revision"
    );
    let read = s.kms_key(&k.arn).await.expect("read").expect("key");
    assert_eq!((read.key_state, read.revision), (KeyState::Disabled, 2));

    let mut rotated = read.clone();
    rotated.current_material = 2;
    s.add_kms_material(rotated.clone(), material(&k, 2, "m2"))
        .await
        .expect("add material");
    let read = s.kms_key(&k.arn).await.expect("read").expect("key");
    assert_eq!((read.current_material, read.revision), (2, 3));
    assert_eq!(
        s.kms_material(&k.arn, 2)
            .await
            .expect("read")
            .expect("material")
            .wrapped,
        b"m2"
    );
    // A stale rotation stores neither the metadata nor the material.
    let mut stale = rotated;
    stale.current_material = 3;
    assert!(is_conflict(
        s.add_kms_material(stale, material(&k, 3, "m3")).await
    ));
    assert!(s.kms_material(&k.arn, 3).await.expect("read").is_none());
    assert_eq!(
        s.kms_key(&k.arn)
            .await
            .expect("read")
            .expect("key")
            .current_material,
        2
    );
}

/// A key's grants are kept with it: written by revision, read and listed back whole, and gone
/// with the key.
pub async fn kms_key_grants_are_kept_and_deleted_with_the_key(h: Handles) {
    let s = h.a.as_ref();
    let k = kms_key("k1");
    s.create_kms_key(k.clone(), material(&k, 1, "m1"), None)
        .await
        .expect("create");
    let mut granted = s.kms_key(&k.arn).await.expect("read").expect("key");
    granted.grants.push(kinko_core::kms::KmsGrant {
        grant_id: "0".repeat(64),
        name: "app".to_owned(),
        grantee_principal: format!("arn:aws:iam::{ACCOUNT}:user/app"),
        retiring_principal: Some(format!("arn:aws:iam::{ACCOUNT}:root")),
        operations: vec!["Decrypt".to_owned(), "DescribeKey".to_owned()],
        constraints: Some(kinko_core::kms::GrantConstraints {
            encryption_context_subset: Some([("Department".to_owned(), "IT".to_owned())].into()),
            encryption_context_equals: None,
        }),
        issuing_account: format!("arn:aws:iam::{ACCOUNT}:root"),
        creation_date: Timestamp::from_millis(1_700_000_000_000),
        principals: vec![],
    });
    s.update_kms_key(granted.clone()).await.expect("update");
    let read = s.kms_key(&k.arn).await.expect("read").expect("key");
    assert_eq!(read.grants, granted.grants);
    let listed = s.list_kms_keys(ACCOUNT, REGION).await.expect("list");
    let found = listed.iter().find(|x| x.arn == k.arn).expect("listed");
    assert_eq!(found.grants, granted.grants);
    s.delete_kms_key(&k.arn, read.revision).await.expect("delete");
    assert!(s.kms_key(&k.arn).await.expect("read").is_none());
    let listed = s.list_kms_keys(ACCOUNT, REGION).await.expect("list");
    assert!(listed.iter().all(|x| x.grants.is_empty()));
}

pub async fn kms_key_delete_removes_aliases_and_material(h: Handles) {
    let s = h.a.as_ref();
    let k = kms_key("k1");
    s.create_kms_key(k.clone(), material(&k, 1, "m1"), Some("alias/a".to_owned()))
        .await
        .expect("create");
    s.create_kms_alias(alias("alias/b", &k.arn)).await.expect("alias");
    let other = kms_key("k2");
    s.create_kms_key(
        other.clone(),
        material(&other, 1, "m2"),
        Some("alias/c".to_owned()),
    )
    .await
    .expect("create");
    // Cached before the deletion.
    assert!(
        s.kms_alias_target(ACCOUNT, REGION, "alias/b")
            .await
            .expect("read")
            .is_some()
    );
    assert!(is_conflict(s.delete_kms_key(&k.arn, 7).await), "stale revision");
    s.delete_kms_key(&k.arn, 1).await.expect("delete");
    assert!(s.kms_key(&k.arn).await.expect("read").is_none());
    assert!(s.kms_material(&k.arn, 1).await.expect("read").is_none());
    for a in ["alias/a", "alias/b"] {
        assert_eq!(
            s.kms_alias_target(ACCOUNT, REGION, a).await.expect("read"),
            None,
            "{a}"
        );
    }
    let left: Vec<String> = s
        .list_kms_aliases(ACCOUNT, REGION)
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.alias_name)
        .collect();
    assert_eq!(left, ["alias/c"]);
    assert!(s.kms_key(&other.arn).await.expect("read").is_some());
}

pub async fn kms_keys_due_for_deletion_and_rotation(h: Handles) {
    let s = h.a.as_ref();
    let mut pending = kms_key("pending");
    pending.key_state = KeyState::PendingDeletion;
    pending.deletion_date = Some(at(T0 + 7 * DAY_MS));
    let mut every_90 = kms_key("every-90");
    every_90.rotation_period_days = Some(90);
    let mut every_30 = kms_key("every-30");
    every_30.rotation_period_days = Some(30);
    let mut disabled = kms_key("disabled");
    disabled.rotation_period_days = Some(30);
    disabled.key_state = KeyState::Disabled;
    for k in [&pending, &every_90, &every_30, &disabled] {
        s.create_kms_key((*k).clone(), material(k, 1, "m"), None)
            .await
            .expect("create");
    }
    let ids = |keys: Vec<kinko_core::kms::KmsKey>| keys.into_iter().map(|k| k.key_id).collect::<Vec<_>>();
    assert!(ids(s.kms_keys_due_for_deletion(at(T0), 10).await.expect("due")).is_empty());
    assert_eq!(
        ids(s
            .kms_keys_due_for_deletion(at(T0 + 7 * DAY_MS), 10)
            .await
            .expect("due")),
        ["pending"]
    );
    assert!(
        ids(s
            .kms_keys_due_for_rotation(at(T0 + 29 * DAY_MS), 10)
            .await
            .expect("due"))
        .is_empty()
    );
    assert_eq!(
        ids(s
            .kms_keys_due_for_rotation(at(T0 + 100 * DAY_MS), 10)
            .await
            .expect("due")),
        ["every-30", "every-90"],
        "enabled keys only, the longest overdue first"
    );
    assert_eq!(
        ids(s
            .kms_keys_due_for_rotation(at(T0 + 100 * DAY_MS), 1)
            .await
            .expect("due")),
        ["every-30"]
    );
    // A rotation moves the key's date.
    let mut k = s.kms_key(&every_30.arn).await.expect("read").expect("key");
    k.material_date = Some(at(T0 + 100 * DAY_MS));
    k.current_material = 2;
    s.add_kms_material(k, material(&every_30, 2, "m2"))
        .await
        .expect("rotate");
    assert_eq!(
        ids(s
            .kms_keys_due_for_rotation(at(T0 + 100 * DAY_MS), 10)
            .await
            .expect("due")),
        ["every-90"]
    );
}

pub async fn kms_aliases_create_update_delete_and_list(h: Handles) {
    let s = h.a.as_ref();
    let (k1, k2) = (kms_key("k1"), kms_key("k2"));
    for k in [&k1, &k2] {
        s.create_kms_key(k.clone(), material(k, 1, "m"), None)
            .await
            .expect("create");
    }
    s.create_kms_alias(alias("alias/z", &k1.arn))
        .await
        .expect("alias");
    s.create_kms_alias(alias("alias/a", &k1.arn))
        .await
        .expect("alias");
    assert!(is_conflict(s.create_kms_alias(alias("alias/a", &k2.arn)).await));
    assert_eq!(
        s.kms_alias_target(ACCOUNT, REGION, "alias/a")
            .await
            .expect("read")
            .as_deref(),
        Some(k1.arn.as_str())
    );
    let mut moved = alias("alias/a", &k2.arn);
    moved.last_updated_date = at(T0 + 5);
    assert!(s.update_kms_alias(moved.clone()).await.expect("update"));
    assert!(
        !s.update_kms_alias(alias("alias/none", &k2.arn))
            .await
            .expect("update")
    );
    assert_eq!(
        s.kms_alias_target(ACCOUNT, REGION, "alias/a")
            .await
            .expect("read")
            .as_deref(),
        Some(k2.arn.as_str())
    );
    let listed = s.list_kms_aliases(ACCOUNT, REGION).await.expect("list");
    assert_eq!(
        listed.iter().map(|a| a.alias_name.as_str()).collect::<Vec<_>>(),
        ["alias/a", "alias/z"]
    );
    assert_eq!(listed[0], moved);
    assert!(
        s.delete_kms_alias(ACCOUNT, REGION, "alias/a")
            .await
            .expect("delete")
    );
    assert!(
        !s.delete_kms_alias(ACCOUNT, REGION, "alias/a")
            .await
            .expect("delete")
    );
    assert_eq!(
        s.kms_alias_target(ACCOUNT, REGION, "alias/a")
            .await
            .expect("read"),
        None
    );
    assert!(
        s.list_kms_aliases(ACCOUNT, "eu-west-1")
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn kms_key_concurrent_writers_lose_nothing(h: Handles) {
    let k = kms_key("busy");
    h.a.create_kms_key(k.clone(), material(&k, 1, "m1"), None)
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let s = h.a.clone();
        let arn = k.arn.clone();
        tasks.push(tokio::spawn(async move {
            retry(|| {
                let (s, arn) = (s.clone(), arn.clone());
                async move {
                    let mut key = s.kms_key(&arn).await?.expect("key");
                    key.tags.push(kinko_core::secret::Tag {
                        key: format!("t{i:02}"),
                        value: String::new(),
                    });
                    s.update_kms_key(key).await
                }
            })
            .await;
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    for store in [&h.a, &h.b] {
        let key = store.kms_key(&k.arn).await.expect("read").expect("key");
        assert_eq!(key.revision, 1 + WRITERS as i64);
        let mut tags: Vec<String> = key.tags.into_iter().map(|t| t.key).collect();
        tags.sort();
        assert_eq!(tags, (0..WRITERS).map(|i| format!("t{i:02}")).collect::<Vec<_>>());
    }
}

/// "Re-wraps" by prefixing `tag:`, keeping values that carry it; refuses values with `bad`.
pub async fn lease_is_held_by_one_holder_until_it_expires_or_is_released(h: Handles) {
    let s = h.a.as_ref();
    let t = Timestamp(1_000_000);
    let at = |ms: i64| Timestamp(t.0 + ms);
    assert_eq!(s.lease("jobs").await.expect("store"), None);
    assert!(
        s.acquire_lease("jobs", "node-a", t, at(10_000))
            .await
            .expect("store")
    );
    let held = s.lease("jobs").await.expect("store").expect("store");
    assert_eq!(
        (held.name.as_str(), held.holder.as_str(), held.expires),
        ("jobs", "node-a", at(10_000))
    );
    // Another holder is refused while it runs; other names are independent.
    assert!(
        !s.acquire_lease("jobs", "node-b", at(9_999), at(20_000))
            .await
            .expect("store")
    );
    assert!(
        s.acquire_lease("rotation", "node-b", t, at(10_000))
            .await
            .expect("store")
    );
    // The holder extends it.
    assert!(
        s.acquire_lease("jobs", "node-a", at(5_000), at(15_000))
            .await
            .expect("store")
    );
    assert!(
        !s.acquire_lease("jobs", "node-b", at(14_999), at(20_000))
            .await
            .expect("store")
    );
    assert_eq!(
        s.lease("jobs").await.expect("store").expect("store").expires,
        at(15_000)
    );
    // Expired: another holder takes it, and the old one is refused.
    assert!(
        s.acquire_lease("jobs", "node-b", at(15_000), at(25_000))
            .await
            .expect("store")
    );
    assert!(
        !s.acquire_lease("jobs", "node-a", at(16_000), at(26_000))
            .await
            .expect("store")
    );
    assert_eq!(
        s.lease("jobs").await.expect("store").expect("store").holder,
        "node-b"
    );
    // Only the holder releases it; then anyone takes it at once.
    assert!(!s.release_lease("jobs", "node-a").await.expect("store"));
    assert!(s.release_lease("jobs", "node-b").await.expect("store"));
    assert_eq!(s.lease("jobs").await.expect("store"), None);
    assert!(
        s.acquire_lease("jobs", "node-a", at(16_000), at(26_000))
            .await
            .expect("store")
    );
    // The other handle sees the same holder.
    assert_eq!(
        h.b.lease("jobs").await.expect("store").expect("store").holder,
        "node-a"
    );
    assert!(
        !h.b.acquire_lease("jobs", "node-c", at(17_000), at(27_000))
            .await
            .expect("store")
    );
}

pub async fn lease_concurrent_takers_get_it_once(h: Handles) {
    let t = Timestamp(1_000_000);
    // A free lease, then an expired one: of many takers at once, exactly one gets each.
    for (round, now) in [(0, t), (1, Timestamp(t.0 + 60_000))] {
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let s = if w % 2 == 0 { h.a.clone() } else { h.b.clone() };
            tasks.push(tokio::spawn(async move {
                let holder = format!("node-{round}-{w}");
                let got = s
                    .acquire_lease("purge", &holder, now, Timestamp(now.0 + 30_000))
                    .await
                    .expect("store");
                got.then_some(holder)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            winners.extend(task.await.expect("taker"));
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(
            h.a.lease("purge").await.expect("store").expect("store").holder,
            winners[0]
        );
    }
}

fn prefixing(tag: &'static str) -> Arc<RootRewrap> {
    Arc::new(move |v: RootSealed<'_>| {
        let bytes = match v {
            RootSealed::KmsMaterial { wrapped, .. } => wrapped,
            RootSealed::AccessKey { sealed_secret, .. } => sealed_secret,
            RootSealed::MfaSeed { sealed_seed, .. } => sealed_seed,
            RootSealed::StackValue { sealed, .. } => sealed,
            RootSealed::Meta { value, .. } => value,
        };
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?;
        if text.contains("bad") {
            return Err("cannot open".to_owned());
        }
        let prefix = format!("{tag}:");
        Ok(if text.starts_with(&prefix) {
            text.into_bytes()
        } else {
            format!("{prefix}{text}").into_bytes()
        })
    })
}

pub async fn rewrap_is_all_or_nothing_and_later_reads_see_it(h: Handles) {
    let s = h.a.as_ref();
    let k = kms_key("k1");
    s.create_kms_key(k.clone(), material(&k, 1, "m1"), None)
        .await
        .expect("create");
    s.put_access_key(access_key("AKIA1", None, "s1"))
        .await
        .expect("put");
    s.put_access_key(access_key("AKIA2", None, "bad"))
        .await
        .expect("put");
    s.create_mfa_device(mfa_device(ACCOUNT, "phone", "seed"))
        .await
        .expect("create");
    assert!(s.meta_put_if_absent("check", b"c".to_vec()).await.expect("put"));
    // Cached on both handles before the rotation.
    for store in [&h.a, &h.b] {
        let key = store.access_key("AKIA1").await.expect("read").expect("key");
        assert_eq!(key.sealed_secret, b"s1");
    }
    assert!(s.rewrap_root_sealed(&["check"], prefixing("new")).await.is_err());
    assert_eq!(
        s.access_key("AKIA1")
            .await
            .expect("read")
            .expect("key")
            .sealed_secret,
        b"s1",
        "a failed rotation changes nothing"
    );
    assert!(s.delete_access_key("AKIA2").await.expect("delete"));
    assert!(
        s.rewrap_root_sealed(&["absent"], prefixing("new")).await.is_err(),
        "a missing meta value fails it"
    );
    let counts = s
        .rewrap_root_sealed(&["check"], prefixing("new"))
        .await
        .expect("rewrap");
    assert_eq!(
        counts,
        RewrapCounts {
            kms_materials: 1,
            access_keys: 1,
            mfa_devices: 1,
            stack_values: 0,
            meta: 1
        }
    );
    for store in [&h.a, &h.b] {
        let key = store.access_key("AKIA1").await.expect("read").expect("key");
        assert_eq!(key.sealed_secret, b"new:s1", "no stale cached access key");
        let m = store
            .kms_material(&k.arn, 1)
            .await
            .expect("read")
            .expect("material");
        assert_eq!(m.wrapped, b"new:m1");
        assert_eq!(
            store.meta_get("check").await.expect("read"),
            Some(b"new:c".to_vec())
        );
    }
    let phone = MfaDevice::serial_number_of(ACCOUNT, "/", "phone");
    let device = h.b.mfa_device(&phone).await.expect("read").expect("device");
    assert_eq!(device.sealed_seed, b"new:seed");
    // Written after the rotation: re-wrapped as written.
    s.create_mfa_device(mfa_device(ACCOUNT, "tablet", "seed2"))
        .await
        .expect("create");
    let tablet = MfaDevice::serial_number_of(ACCOUNT, "/", "tablet");
    let device = h.b.mfa_device(&tablet).await.expect("read").expect("device");
    assert_eq!(device.sealed_seed, b"new:seed2");
    s.put_access_key(access_key("AKIA3", None, "s3"))
        .await
        .expect("put");
    assert_eq!(
        h.b.access_key("AKIA3")
            .await
            .expect("read")
            .expect("key")
            .sealed_secret,
        b"new:s3"
    );
}

/// Every change after `since` as the feed reports it; a store that lists recent changes must not
/// answer with `Truncated` for the few a test makes.
async fn changes(store: &dyn Store, since: u64) -> (u64, Vec<ChangedKey>) {
    let (seq, changes) = store.changes_since(since).await.expect("changes");
    match changes {
        Changes::Keys(keys) => (seq, keys),
        Changes::Truncated => panic!("the feed lost the recent changes after {since}"),
    }
}

pub async fn change_feed_reports_every_write(h: Handles) {
    let s = h.a.as_ref();
    // Whatever the store holds at start (nothing, or one truncation), then its position.
    let (start, _) = s.changes_since(0).await.expect("changes");
    let (same, none) = changes(s, start).await;
    assert_eq!((same, none), (start, vec![]), "nothing changed since");

    let (sec, values) = secret("fed");
    s.write_secret(SecretWrite::Create {
        secret: sec.clone(),
        values,
    })
    .await
    .expect("create");
    let (after_secret, keys) = changes(s, start).await;
    assert!(after_secret > start, "the position moves forward");
    assert!(keys.contains(&ChangedKey::Secret(sec.arn.clone())), "{keys:?}");

    let mut iam = IamState::new(ACCOUNT);
    iam.users.push(user("alice"));
    s.write_iam_state(iam).await.expect("iam");
    s.write_organization(organization()).await.expect("org");
    s.put_access_key(access_key("AKIA1", None, "s"))
        .await
        .expect("key");
    s.put_account(account(MEMBER, "member")).await.expect("account");
    assert!(s.meta_put_if_absent("m", b"v".to_vec()).await.expect("meta"));
    let k = kms_key("k1");
    s.create_kms_key(k.clone(), material(&k, 1, "m"), Some("alias/k".to_owned()))
        .await
        .expect("key");
    s.create_kms_alias(alias("alias/other", &k.arn))
        .await
        .expect("alias");
    s.delete_kms_key(&k.arn, 1).await.expect("delete key");
    assert!(
        s.update_access_key_status("AKIA1", AccessKeyStatus::Inactive)
            .await
            .expect("status")
    );
    s.rewrap_root_sealed(&[], prefixing("new")).await.expect("rewrap");

    let (end, keys) = changes(s, after_secret).await;
    assert!(end > after_secret);
    assert!(
        !keys.contains(&ChangedKey::Secret(sec.arn.clone())),
        "only changes after the position"
    );
    for expected in [
        ChangedKey::IamState(ACCOUNT.to_owned()),
        ChangedKey::Organization,
        ChangedKey::AccessKey("AKIA1".to_owned()),
        ChangedKey::Account(MEMBER.to_owned()),
        ChangedKey::Meta("m".to_owned()),
        ChangedKey::KmsKey(k.arn.clone()),
        ChangedKey::KmsAlias {
            account_id: ACCOUNT.to_owned(),
            region: REGION.to_owned(),
            alias_name: "alias/k".to_owned(),
        },
        ChangedKey::KmsAlias {
            account_id: ACCOUNT.to_owned(),
            region: REGION.to_owned(),
            alias_name: "alias/other".to_owned(),
        },
        ChangedKey::RootSealed,
    ] {
        assert!(keys.contains(&expected), "{expected:?} missing from {keys:?}");
    }
    assert_eq!(changes(s, end).await, (end, vec![]));
    // Every handle on the data reads the same feed.
    let (end_b, keys_b) = changes(h.b.as_ref(), after_secret).await;
    assert_eq!((end_b, keys_b.len()), (end, keys.len()));
}

pub async fn fresh_secret_after_writes(h: Handles) {
    let base = create(h.a.as_ref(), "fresh").await;
    let read_b = |arn: String| {
        let b = h.b.clone();
        async move {
            (
                b.secret_by_arn(&arn).await.expect("read"),
                b.secret_by_name(ACCOUNT, REGION, "fresh").await.expect("read"),
                b.sealed_value(&arn, "v1").await.expect("read"),
            )
        }
    };
    // Cached on b.
    let (by_arn, by_name, value) = read_b(base.arn.clone()).await;
    assert_eq!(by_arn.as_ref().map(|s| s.revision), Some(1));
    assert_eq!(by_name.map(|s| s.revision), Some(1));
    assert_eq!(value, Some(sealed("fresh-v1")));

    let mut next = base.clone();
    add_version(&mut next, "v2");
    h.a.write_secret(SecretWrite::Update {
        secret: next,
        new_values: vec![
            ("v2".to_owned(), sealed("v2")),
            ("v1".to_owned(), sealed("v1-reencrypted")),
        ],
        removed_versions: vec![],
    })
    .await
    .expect("update");
    let (by_arn, by_name, value) = read_b(base.arn.clone()).await;
    assert_eq!(by_arn.as_ref().map(|s| s.revision), Some(2));
    assert_eq!(
        by_arn.and_then(|s| s.current().map(|v| v.id.clone())).as_deref(),
        Some("v2")
    );
    assert_eq!(by_name.map(|s| s.revision), Some(2));
    assert_eq!(value, Some(sealed("v1-reencrypted")));
    assert_eq!(
        h.b.sealed_value(&base.arn, "v2").await.expect("read"),
        Some(sealed("v2"))
    );

    h.a.write_secret(SecretWrite::Delete {
        arn: base.arn.clone(),
        revision: 2,
    })
    .await
    .expect("delete");
    let (by_arn, by_name, value) = read_b(base.arn.clone()).await;
    assert!(by_arn.is_none() && by_name.is_none() && value.is_none());

    // The name taken again by another secret: b finds the new one by name.
    let (mut again, values) = secret("fresh");
    again.arn = format!("{}-2", again.arn);
    h.a.write_secret(SecretWrite::Create {
        secret: again.clone(),
        values,
    })
    .await
    .expect("create again");
    let by_name =
        h.b.secret_by_name(ACCOUNT, REGION, "fresh")
            .await
            .expect("read")
            .expect("secret");
    assert_eq!(by_name.arn, again.arn);
}

pub async fn fresh_iam_after_writes(h: Handles) {
    let mut state = h.a.iam_state(ACCOUNT).await.expect("read");
    for i in 0..3 {
        // Cached on b, then written on a.
        assert_eq!(h.b.iam_revision(ACCOUNT).await.expect("revision"), i);
        assert_eq!(
            h.b.iam_state(ACCOUNT).await.expect("read").users.len(),
            i as usize
        );
        state.users.push(user(&format!("user{i}")));
        h.a.write_iam_state(state.clone()).await.expect("write");
        state.revision += 1;
        assert_eq!(h.b.iam_revision(ACCOUNT).await.expect("revision"), i + 1);
        let read = h.b.iam_state(ACCOUNT).await.expect("read");
        assert_eq!(read.revision, i + 1);
        assert_eq!(read.users.len(), i as usize + 1);
    }
    // A member account's IAM state written with the organization.
    h.a.write_organization(organization()).await.expect("org");
    assert_eq!(h.b.iam_revision(MEMBER).await.expect("revision"), 0);
    let mut org = h.a.organization().await.expect("read").expect("org");
    org.accounts.push(org_account(MEMBER));
    h.a.create_member_account(org, account(MEMBER, "member"), IamState::new(MEMBER))
        .await
        .expect("member");
    assert_eq!(h.b.iam_revision(MEMBER).await.expect("revision"), 1);
}

pub async fn fresh_organization_after_writes(h: Handles) {
    assert!(h.b.organization().await.expect("read").is_none());
    assert_eq!(h.b.organization_id_of(ACCOUNT).await.expect("read"), None);
    h.a.write_organization(organization()).await.expect("create");
    assert_eq!(
        h.b.organization().await.expect("read").map(|o| o.revision),
        Some(1)
    );
    assert_eq!(
        h.b.organization_id_of(ACCOUNT).await.expect("read").as_deref(),
        Some("o-abcdefghij")
    );
    assert_eq!(h.b.organization_id_of(MEMBER).await.expect("read"), None);
    let mut org = h.a.organization().await.expect("read").expect("org");
    org.accounts.push(org_account(MEMBER));
    h.a.create_member_account(org, account(MEMBER, "member"), IamState::new(MEMBER))
        .await
        .expect("member");
    assert_eq!(
        h.b.organization_id_of(MEMBER).await.expect("read").as_deref(),
        Some("o-abcdefghij")
    );
    let mut org = h.b.organization().await.expect("read").expect("org");
    assert_eq!(org.revision, 2);
    org.accounts.retain(|a| a.id != MEMBER);
    h.a.write_organization(org).await.expect("remove member");
    assert_eq!(h.b.organization_id_of(MEMBER).await.expect("read"), None);
}

pub async fn fresh_kms_after_writes(h: Handles) {
    let (k1, k2) = (kms_key("k1"), kms_key("k2"));
    h.a.create_kms_key(k1.clone(), material(&k1, 1, "m1"), Some("alias/app".to_owned()))
        .await
        .expect("create");
    h.a.create_kms_key(k2.clone(), material(&k2, 1, "m2"), None)
        .await
        .expect("create");
    let target = |b: Arc<dyn Store>| async move {
        b.kms_alias_target(ACCOUNT, REGION, "alias/app")
            .await
            .expect("read")
    };
    assert_eq!(
        h.b.kms_key(&k1.arn).await.expect("read").map(|k| k.revision),
        Some(1)
    );
    assert_eq!(target(h.b.clone()).await.as_deref(), Some(k1.arn.as_str()));

    let mut disabled = h.a.kms_key(&k1.arn).await.expect("read").expect("key");
    disabled.key_state = KeyState::Disabled;
    h.a.update_kms_key(disabled).await.expect("update");
    let read = h.b.kms_key(&k1.arn).await.expect("read").expect("key");
    assert_eq!((read.key_state, read.revision), (KeyState::Disabled, 2));

    let mut rotated = read;
    rotated.current_material = 2;
    h.a.add_kms_material(rotated, material(&k1, 2, "m1v2"))
        .await
        .expect("rotate");
    assert_eq!(
        h.b.kms_key(&k1.arn)
            .await
            .expect("read")
            .map(|k| k.current_material),
        Some(2)
    );

    assert!(
        h.a.update_kms_alias(alias("alias/app", &k2.arn))
            .await
            .expect("update")
    );
    assert_eq!(target(h.b.clone()).await.as_deref(), Some(k2.arn.as_str()));
    assert!(
        h.a.delete_kms_alias(ACCOUNT, REGION, "alias/app")
            .await
            .expect("delete")
    );
    assert_eq!(target(h.b.clone()).await, None);
    h.a.create_kms_alias(alias("alias/app", &k1.arn))
        .await
        .expect("alias");
    assert_eq!(target(h.b.clone()).await.as_deref(), Some(k1.arn.as_str()));
    // Deleting the key removes its alias.
    h.a.delete_kms_key(&k1.arn, 3).await.expect("delete key");
    assert!(h.b.kms_key(&k1.arn).await.expect("read").is_none());
    assert_eq!(target(h.b.clone()).await, None);
}

pub async fn fresh_access_key_after_writes(h: Handles) {
    assert!(h.b.access_key("AKIA1").await.expect("read").is_none());
    h.a.put_access_key(access_key("AKIA1", None, "s1"))
        .await
        .expect("put");
    assert_eq!(
        h.b.access_key("AKIA1").await.expect("read").map(|k| k.status),
        Some(AccessKeyStatus::Active)
    );
    assert!(
        h.a.update_access_key_status("AKIA1", AccessKeyStatus::Inactive)
            .await
            .expect("update")
    );
    assert_eq!(
        h.b.access_key("AKIA1").await.expect("read").map(|k| k.status),
        Some(AccessKeyStatus::Inactive)
    );
    assert!(h.a.delete_access_key("AKIA1").await.expect("delete"));
    assert!(h.b.access_key("AKIA1").await.expect("read").is_none());
}

fn instance_attachment(id: &str, account: &str, port: u16, at: i64) -> Attachment {
    Attachment {
        id: id.to_owned(),
        account_id: account.to_owned(),
        kind: AttachmentKind::Instance {
            instance_profile_name: "web".to_owned(),
            port,
        },
        session_name: None,
        session_tags: vec![],
        created_by: format!("arn:aws:iam::{account}:root"),
        created_date: kinko_core::Timestamp(at),
    }
}

fn container_token(id: &str, account: &str, hash: &str, at: i64) -> Attachment {
    Attachment {
        id: id.to_owned(),
        account_id: account.to_owned(),
        kind: AttachmentKind::Container {
            role_arn: format!("arn:aws:iam::{account}:role/app"),
            token_sha256: hash.to_owned(),
        },
        session_name: Some("app-1".to_owned()),
        session_tags: vec![("team".to_owned(), "blue".to_owned())],
        created_by: format!("arn:aws:iam::{account}:root"),
        created_date: kinko_core::Timestamp(at),
    }
}

pub async fn attachments_are_found_by_port_and_token_and_revoked(h: Handles) {
    let (a, b) = (h.a.as_ref(), h.b.as_ref());
    let ia = instance_attachment("ia-1", ACCOUNT, 41001, 1);
    let ct = container_token("cct-1", ACCOUNT, "ab12", 2);
    let other = instance_attachment("ia-2", MEMBER, 41002, 3);
    let (start, _) = changes(a, 0).await;
    for x in [&ia, &ct, &other] {
        a.create_attachment(x.clone()).await.expect("create");
    }
    assert_eq!(b.attachment_by_port(41001).await.expect("read"), Some(ia.clone()));
    assert_eq!(
        b.attachment_by_token("ab12").await.expect("read"),
        Some(ct.clone())
    );
    assert_eq!(b.attachment_by_port(41003).await.expect("read"), None);
    assert_eq!(b.attachment_by_token("ab1").await.expect("read"), None);
    assert_eq!(
        b.list_attachments(Some(ACCOUNT)).await.expect("list"),
        vec![ia.clone(), ct.clone()]
    );
    assert_eq!(
        b.list_attachments(None).await.expect("list"),
        vec![ia.clone(), ct.clone(), other.clone()]
    );
    // Revoked only in its own account.
    assert!(!a.delete_attachment(MEMBER, "ia-1").await.expect("delete"));
    assert!(a.delete_attachment(ACCOUNT, "ia-1").await.expect("delete"));
    assert!(!a.delete_attachment(ACCOUNT, "ia-1").await.expect("delete"));
    assert!(a.delete_attachment(ACCOUNT, "cct-1").await.expect("delete"));
    // Gone at once, through either handle.
    assert_eq!(b.attachment_by_port(41001).await.expect("read"), None);
    assert_eq!(b.attachment_by_token("ab12").await.expect("read"), None);
    assert_eq!(b.list_attachments(Some(ACCOUNT)).await.expect("list"), vec![]);
    let (_, keys) = changes(a, start).await;
    for id in ["ia-1", "cct-1", "ia-2"] {
        assert!(
            keys.contains(&ChangedKey::Attachment(id.to_owned())),
            "{id} missing from {keys:?}"
        );
    }
}

pub async fn attachment_ports_tokens_and_ids_are_unique(h: Handles) {
    let s = h.a.as_ref();
    s.create_attachment(instance_attachment("ia-1", ACCOUNT, 41001, 1))
        .await
        .expect("create");
    s.create_attachment(container_token("cct-1", ACCOUNT, "ab12", 2))
        .await
        .expect("create");
    for taken in [
        // The port, also from another account.
        instance_attachment("ia-2", MEMBER, 41001, 3),
        // The token hash.
        container_token("cct-2", ACCOUNT, "ab12", 4),
        // The id.
        container_token("ia-1", ACCOUNT, "cd34", 5),
    ] {
        assert!(
            matches!(
                s.create_attachment(taken.clone()).await,
                Err(kinko_core::store::StoreError::Conflict)
            ),
            "{taken:?}"
        );
    }
    assert_eq!(s.list_attachments(None).await.expect("list").len(), 2);
    // A revoked attachment's port is free again.
    assert!(s.delete_attachment(ACCOUNT, "ia-1").await.expect("delete"));
    s.create_attachment(instance_attachment("ia-3", MEMBER, 41001, 6))
        .await
        .expect("create on a freed port");
}

pub async fn functions_are_written_by_revision_with_their_code(h: Handles) {
    let (a, b) = (h.a.as_ref(), h.b.as_ref());
    let (start, _) = changes(a, 0).await;
    let f = function(ACCOUNT, "beta");
    let write = |function, code: &[u8]| FunctionWrite::Create {
        function,
        code: code.to_vec(),
    };
    a.write_function(write(f.clone(), b"zip1")).await.expect("create");
    a.write_function(write(function(ACCOUNT, "alpha"), b"zipa"))
        .await
        .expect("create");
    a.write_function(write(function(MEMBER, "beta"), b"zipm"))
        .await
        .expect("create");
    // The ARN is unique.
    assert!(is_conflict(a.write_function(write(f.clone(), b"zip2")).await));
    let stored = b.function(&f.arn).await.expect("read").expect("created");
    assert_eq!(stored.revision, 1);
    assert_eq!(FunctionView(&stored), FunctionView(&f));
    assert_eq!(
        b.function_code(&f.arn, "sha-1").await.expect("code").as_deref(),
        Some(b"zip1".as_slice())
    );
    assert_eq!(b.function_code(&f.arn, "sha-2").await.expect("code"), None);
    let names: Vec<String> = b
        .list_functions(ACCOUNT, REGION)
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert!(
        b.list_functions(ACCOUNT, "eu-west-1")
            .await
            .expect("list")
            .is_empty()
    );

    // New code, a published version keeping the old one: both packages are kept.
    let mut v1 = stored.clone();
    v1.versions.push(function_config("1", "sha-1", "r2"));
    v1.last_version = 1;
    v1.latest = function_config(kinko_core::lambda::LATEST, "sha-2", "r3");
    a.write_function(FunctionWrite::Update {
        function: v1.clone(),
        code: Some(b"zip2".to_vec()),
    })
    .await
    .expect("update");
    // A write based on the old revision changes nothing.
    let mut stale = stored.clone();
    "stale".clone_into(&mut stale.latest.description);
    assert!(is_conflict(
        a.write_function(FunctionWrite::Update {
            function: stale,
            code: None,
        })
        .await
    ));
    let now = b.function(&f.arn).await.expect("read").expect("exists");
    assert_eq!(now.revision, 2);
    assert_eq!(FunctionView(&now), FunctionView(&v1));
    for (sha, zip) in [("sha-1", b"zip1"), ("sha-2", b"zip2")] {
        assert_eq!(
            b.function_code(&f.arn, sha).await.expect("code").as_deref(),
            Some(zip.as_slice())
        );
    }
    // Once no configuration uses a package, it is dropped.
    let mut v2 = now.clone();
    v2.versions.clear();
    a.write_function(FunctionWrite::Update {
        function: v2,
        code: None,
    })
    .await
    .expect("update");
    assert_eq!(b.function_code(&f.arn, "sha-1").await.expect("code"), None);
    assert!(b.function_code(&f.arn, "sha-2").await.expect("code").is_some());

    // Delete: by revision, with its code; the name is free again.
    assert!(is_conflict(
        a.write_function(FunctionWrite::Delete {
            arn: f.arn.clone(),
            revision: 2,
        })
        .await
    ));
    a.write_function(FunctionWrite::Delete {
        arn: f.arn.clone(),
        revision: 3,
    })
    .await
    .expect("delete");
    assert_eq!(b.function(&f.arn).await.expect("read"), None);
    assert_eq!(b.function_code(&f.arn, "sha-2").await.expect("code"), None);
    a.write_function(write(f.clone(), b"zip9"))
        .await
        .expect("create again");
    assert_eq!(
        b.function_code(&f.arn, "sha-1").await.expect("code").as_deref(),
        Some(b"zip9".as_slice())
    );
    let (_, keys) = changes(a, start).await;
    assert!(keys.contains(&ChangedKey::Function(f.arn.clone())), "{keys:?}");
}

pub async fn function_concurrent_writers_lose_nothing(h: Handles) {
    let s = h.a.clone();
    let f = function(ACCOUNT, "counter");
    s.write_function(FunctionWrite::Create {
        function: f.clone(),
        code: b"zip".to_vec(),
    })
    .await
    .expect("create");
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let s = s.clone();
        let arn = f.arn.clone();
        tasks.push(tokio::spawn(async move {
            retry(|| {
                let s = s.clone();
                let arn = arn.clone();
                async move {
                    let mut f = s.function(&arn).await?.expect("exists");
                    f.tags.insert(format!("k{i}"), "v".to_owned());
                    s.write_function(FunctionWrite::Update {
                        function: f,
                        code: None,
                    })
                    .await
                }
            })
            .await;
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let f = s.function(&f.arn).await.expect("read").expect("exists");
    assert_eq!(f.tags.len(), WRITERS + 1);
    assert_eq!(f.revision, 1 + WRITERS as i64);
}

/// A function without its store revision, to compare what was written with what is read.
#[derive(Debug)]
struct FunctionView<'a>(&'a kinko_core::lambda::Function);

impl PartialEq for FunctionView<'_> {
    fn eq(&self, other: &Self) -> bool {
        let mut a = self.0.clone();
        let mut b = other.0.clone();
        a.revision = 0;
        b.revision = 0;
        a == b
    }
}

fn test_stack(name: &str, created: i64) -> kinko_core::stack::Stack {
    kinko_core::stack::Stack {
        stack_id: format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/{created}"),
        name: name.to_owned(),
        account_id: ACCOUNT.to_owned(),
        region: "us-east-1".to_owned(),
        status: "REVIEW_IN_PROGRESS".to_owned(),
        status_reason: None,
        description: None,
        creation_time: Timestamp(created),
        last_updated_time: None,
        deletion_time: None,
        template_body: "Resources: {}".to_owned(),
        parameters: Vec::new(),
        capabilities: Vec::new(),
        tags: Vec::new(),
        resources: Vec::new(),
        events: Vec::new(),
        change_sets: Vec::new(),
        outputs: Vec::new(),
        disable_rollback: false,
        imports: Vec::new(),
        operation: None,
        revision: 0,
    }
}

/// A stack with a sealed NoEcho parameter (of the stack and of a change set) and a sealed
/// resource attribute.
fn stack_with_sealed(name: &str, value: &str) -> kinko_core::stack::Stack {
    use kinko_core::stack::{ChangeSet, Sealed, StackParameter, StackResource};
    let mut s = test_stack(name, 3);
    let parameter = StackParameter {
        key: "Password".to_owned(),
        value: String::new(),
        no_echo: true,
        sealed: Some(Sealed(value.as_bytes().to_vec())),
    };
    s.parameters.push(parameter.clone());
    s.change_sets.push(ChangeSet {
        id: "cs".to_owned(),
        name: "cs".to_owned(),
        change_set_type: "UPDATE".to_owned(),
        status: "CREATE_COMPLETE".to_owned(),
        status_reason: None,
        execution_status: "AVAILABLE".to_owned(),
        creation_time: Timestamp(3),
        description: None,
        template_body: String::new(),
        parameters: vec![parameter],
        capabilities: Vec::new(),
        tags: Vec::new(),
        changes: Vec::new(),
    });
    s.resources.push(StackResource {
        logical_id: "Key".to_owned(),
        physical_id: Some("AKIAX".to_owned()),
        resource_type: "AWS::IAM::AccessKey".to_owned(),
        status: "CREATE_COMPLETE".to_owned(),
        status_reason: None,
        last_updated: Timestamp(3),
        attributes: Vec::new(),
        sealed_attributes: vec![(
            "SecretAccessKey".to_owned(),
            Sealed(format!("{value}-key").into_bytes()),
        )],
        properties: String::new(),
        cleanup: Vec::new(),
    });
    s
}

/// The sealed values of a stack, in [`kinko_core::stack::Stack::visit_sealed`]'s order.
fn sealed_of(mut s: kinko_core::stack::Stack) -> Vec<(String, String)> {
    let mut out = Vec::new();
    s.visit_sealed(&mut |name, v| {
        out.push((name.to_owned(), String::from_utf8_lossy(v).into_owned()));
        Ok::<(), ()>(())
    })
    .expect("visit");
    out
}

pub async fn stacks_with_sealed_values_are_rewrapped(h: Handles) {
    let s = h.a.as_ref();
    let stack = stack_with_sealed("sealed", "pw");
    s.write_stack(stack.clone()).await.expect("create");
    let counts = s.rewrap_root_sealed(&[], prefixing("new")).await.expect("rewrap");
    assert_eq!(counts.stack_values, 3, "{counts:?}");
    let read = h.b.stack(&stack.stack_id).await.expect("read").expect("stack");
    assert_eq!(read.revision, 1, "a re-wrap leaves the revision");
    assert_eq!(
        sealed_of(read.clone()),
        [
            ("parameter/Password".to_owned(), "new:pw".to_owned()),
            ("parameter/Password".to_owned(), "new:pw".to_owned()),
            ("resource/Key/SecretAccessKey".to_owned(), "new:pw-key".to_owned()),
        ]
    );
    // A writer that read the stack before the rotation writes its values re-wrapped.
    let mut stale = stack.clone();
    stale.revision = 1;
    stale.status = "UPDATE_COMPLETE".to_owned();
    s.write_stack(stale).await.expect("update");
    let read = h.b.stack(&stack.stack_id).await.expect("read").expect("stack");
    assert_eq!(read.status, "UPDATE_COMPLETE");
    assert!(
        sealed_of(read)
            .iter()
            .all(|(_, v)| v.starts_with("new:") && !v.starts_with("new:new:")),
        "written after the rotation: re-wrapped once"
    );
}

pub async fn stacks_in_operation_are_listed(h: Handles) {
    let s = h.a.as_ref();
    let mut busy = test_stack("busy", 5);
    busy.status = "CREATE_IN_PROGRESS".to_owned();
    busy.operation = Some(kinko_core::stack::StackOperation {
        kind: "CREATE".to_owned(),
        caller: "{}".to_owned(),
        previous: None,
    });
    s.write_stack(busy.clone()).await.expect("create");
    s.write_stack(test_stack("idle", 6)).await.expect("create");
    assert_eq!(
        h.b.stacks_in_operation(10).await.expect("list"),
        [busy.stack_id.clone()]
    );
    let mut done = s.stack(&busy.stack_id).await.expect("read").expect("stack");
    done.status = "CREATE_COMPLETE".to_owned();
    done.operation = None;
    s.write_stack(done).await.expect("update");
    assert!(h.b.stacks_in_operation(10).await.expect("list").is_empty());
}

/// CloudFormation's exports and imports are read from the stacks of an account and region (their
/// outputs' export names, their `imports`), on every node.
pub async fn stack_exports_and_imports_are_kept(h: Handles) {
    let s = h.a.as_ref();
    let mut exporter = test_stack("exporter", 7);
    exporter.status = "CREATE_COMPLETE".to_owned();
    exporter.outputs = vec![kinko_core::stack::StackOutput {
        key: "RoleArn".to_owned(),
        value: "arn:aws:iam::1:role/r".to_owned(),
        description: None,
        export_name: Some("shared-role".to_owned()),
    }];
    let mut importer = test_stack("importer", 8);
    importer.status = "CREATE_COMPLETE".to_owned();
    importer.imports = vec!["shared-role".to_owned()];
    s.write_stack(exporter.clone()).await.expect("create");
    s.write_stack(importer.clone()).await.expect("create");
    let listed = h.b.list_stacks(ACCOUNT, "us-east-1").await.expect("list");
    let exported: Vec<_> = listed
        .iter()
        .flat_map(|st| st.outputs.iter().filter_map(|o| o.export_name.clone()))
        .collect();
    assert_eq!(exported, ["shared-role"]);
    let importers: Vec<_> = listed
        .iter()
        .filter(|st| st.imports.iter().any(|i| i == "shared-role"))
        .map(|st| st.name.clone())
        .collect();
    assert_eq!(importers, ["importer"]);
}

pub async fn stacks_are_written_by_revision_and_listed(h: Handles) {
    let s = h.a.clone();
    let stack = test_stack;
    let first = stack("first", 2);
    s.write_stack(first.clone()).await.expect("create");
    assert!(matches!(
        s.write_stack(first.clone()).await,
        Err(StoreError::Conflict)
    ));
    s.write_stack(stack("second", 1)).await.expect("create");
    let mut read = s.stack(&first.stack_id).await.expect("read").expect("exists");
    assert_eq!(read.revision, 1);
    assert_eq!(read.template_body, "Resources: {}");
    read.status = "CREATE_IN_PROGRESS".to_owned();
    s.write_stack(read.clone()).await.expect("update");
    // A writer holding the old revision loses.
    assert!(matches!(s.write_stack(read).await, Err(StoreError::Conflict)));
    let again = h.b.stack(&first.stack_id).await.expect("read").expect("exists");
    assert_eq!((again.status.as_str(), again.revision), ("CREATE_IN_PROGRESS", 2));
    let names: Vec<String> = s
        .list_stacks(ACCOUNT, "us-east-1")
        .await
        .expect("list")
        .into_iter()
        .map(|st| st.name)
        .collect();
    assert_eq!(names, ["second", "first"]);
    assert!(
        s.list_stacks(ACCOUNT, "eu-west-1")
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.stack("arn:aws:cloudformation:us-east-1:1:stack/x/y")
            .await
            .expect("read")
            .is_none()
    );
}
