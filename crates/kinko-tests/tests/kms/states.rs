//! Key states: which calls work on an `Enabled`, `Disabled` or `PendingDeletion` key (one table,
//! [`EXPECTED`]), the pending window, cancelling a deletion, and the purge once the window ran
//! out.

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeyState;
use kinko_tests::*;

use crate::kms;

/// The calls of the table, each on the key under test (or an alias of it, or its ciphertext).
#[derive(Debug, Clone, Copy)]
enum Call {
    Encrypt,
    EncryptByAlias,
    Decrypt,
    DecryptNamingTheKey,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    /// ReEncrypt of the key's ciphertext to another key.
    ReEncryptFrom,
    /// ReEncrypt of another key's ciphertext to the key.
    ReEncryptTo,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    TagResource,
    UntagResource,
    ListResourceTags,
    UpdateKeyDescription,
    EnableKeyRotation,
    DisableKeyRotation,
    RotateKeyOnDemand,
    GetKeyRotationStatus,
    GetKeyPolicy,
    PutKeyPolicy,
    ListKeyPolicies,
    DescribeKey,
    /// CreateAlias of a new alias to the key.
    CreateAlias,
    /// UpdateAlias of another key's alias to the key.
    UpdateAliasTo,
    /// UpdateAlias of the key's alias to another key.
    UpdateAliasAway,
    ListAliases,
    /// DeleteAlias of the key's alias.
    DeleteAlias,
}

/// What a call comes to in a state.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Works,
    /// DisabledException: `<key ARN> is disabled.`
    IsDisabled,
    /// KMSInvalidStateException: `<key ARN> is pending deletion.`
    IsPending,
    /// KMSInvalidStateException: `<key ARN> is not pending deletion.`
    NotPending,
}

use Call::*;
use Expect::*;

/// Each call's outcome on an `Enabled`, a `Disabled` and a `PendingDeletion` key: cryptographic
/// operations and rotation changes need an enabled key; a key pending deletion takes no change but
/// its policy, and no new alias; metadata, policies and aliases leaving the key always work.
const EXPECTED: &[(Call, Expect, Expect, Expect)] = &[
    (Encrypt, Works, IsDisabled, IsPending),
    (EncryptByAlias, Works, IsDisabled, IsPending),
    (Decrypt, Works, IsDisabled, IsPending),
    (DecryptNamingTheKey, Works, IsDisabled, IsPending),
    (GenerateDataKey, Works, IsDisabled, IsPending),
    (GenerateDataKeyWithoutPlaintext, Works, IsDisabled, IsPending),
    (ReEncryptFrom, Works, IsDisabled, IsPending),
    (ReEncryptTo, Works, IsDisabled, IsPending),
    (EnableKey, Works, Works, IsPending),
    (DisableKey, Works, Works, IsPending),
    (ScheduleKeyDeletion, Works, Works, IsPending),
    (CancelKeyDeletion, NotPending, NotPending, Works),
    (TagResource, Works, Works, IsPending),
    (UntagResource, Works, Works, IsPending),
    (ListResourceTags, Works, Works, Works),
    (UpdateKeyDescription, Works, Works, IsPending),
    (EnableKeyRotation, Works, IsDisabled, IsPending),
    (DisableKeyRotation, Works, IsDisabled, IsPending),
    (RotateKeyOnDemand, Works, IsDisabled, IsPending),
    (GetKeyRotationStatus, Works, Works, Works),
    (GetKeyPolicy, Works, Works, Works),
    (PutKeyPolicy, Works, Works, Works),
    (ListKeyPolicies, Works, Works, Works),
    (DescribeKey, Works, Works, Works),
    (CreateAlias, Works, Works, IsPending),
    (UpdateAliasTo, Works, Works, IsPending),
    (UpdateAliasAway, Works, Works, Works),
    (ListAliases, Works, Works, Works),
    (DeleteAlias, Works, Works, Works),
];

/// A key in a state, with what the calls need: its alias and ciphertext, another (enabled) key
/// with its own alias and ciphertext, and the key's policy.
struct Fixture {
    key: String,
    arn: String,
    alias: String,
    blob: Blob,
    other: String,
    other_alias: String,
    other_blob: Blob,
    policy: String,
}

async fn fixture(client: &Client, state: &KeyState) -> Fixture {
    let (key, arn) = client.new_key().await;
    let (other, _) = client.new_key().await;
    let (alias, other_alias) = (new_alias(), new_alias());
    client.alias_key(&alias, &key).await;
    client.alias_key(&other_alias, &other).await;
    let policy = ok(client.get_key_policy().key_id(&key).send().await);
    let f = Fixture {
        blob: client.encrypt_with(&key, b"state", &[]).await,
        other_blob: client.encrypt_with(&other, b"other", &[]).await,
        policy: policy.policy.expect("policy"),
        key,
        arn,
        alias,
        other,
        other_alias,
    };
    match state {
        KeyState::Disabled => client.set_enabled(&f.key, false).await,
        KeyState::PendingDeletion => {
            let out = client.schedule_key_deletion().key_id(&f.key).send().await;
            out.expect("ScheduleKeyDeletion");
        }
        _ => {}
    }
    let m = client.describe(&f.key).await;
    assert_eq!(m.key_state.as_ref(), Some(state));
    assert_eq!(m.enabled, *state == KeyState::Enabled);
    f
}

async fn call(c: &Client, f: &Fixture, call: Call) -> Outcome {
    let key = f.key.as_str();
    match call {
        Encrypt => c.try_encrypt(key, &[]).await,
        EncryptByAlias => c.try_encrypt(&f.alias, &[]).await,
        Decrypt => c.try_decrypt(&f.blob, None, &[]).await,
        DecryptNamingTheKey => c.try_decrypt(&f.blob, Some(&f.arn), &[]).await,
        GenerateDataKey => c.try_data_key(key, &[]).await,
        GenerateDataKeyWithoutPlaintext => {
            let req = c.generate_data_key_without_plaintext().key_id(key);
            outcome(req.number_of_bytes(16).send().await)
        }
        ReEncryptFrom => {
            let req = c.re_encrypt().ciphertext_blob(f.blob.clone());
            outcome(req.destination_key_id(&f.other).send().await)
        }
        ReEncryptTo => {
            let req = c.re_encrypt().ciphertext_blob(f.other_blob.clone());
            outcome(req.destination_key_id(key).send().await)
        }
        EnableKey => outcome(c.enable_key().key_id(key).send().await),
        DisableKey => outcome(c.disable_key().key_id(key).send().await),
        ScheduleKeyDeletion => outcome(c.schedule_key_deletion().key_id(key).send().await),
        CancelKeyDeletion => outcome(c.cancel_key_deletion().key_id(key).send().await),
        TagResource => outcome(c.tag_resource().key_id(key).tags(kms_tag("a", "b")).send().await),
        UntagResource => outcome(c.untag_resource().key_id(key).tag_keys("a").send().await),
        ListResourceTags => outcome(c.list_resource_tags().key_id(key).send().await),
        UpdateKeyDescription => {
            let req = c.update_key_description().key_id(key);
            outcome(req.description("state").send().await)
        }
        EnableKeyRotation => outcome(c.enable_key_rotation().key_id(key).send().await),
        DisableKeyRotation => outcome(c.disable_key_rotation().key_id(key).send().await),
        RotateKeyOnDemand => outcome(c.rotate_key_on_demand().key_id(key).send().await),
        GetKeyRotationStatus => outcome(c.get_key_rotation_status().key_id(key).send().await),
        GetKeyPolicy => outcome(c.get_key_policy().key_id(key).send().await),
        PutKeyPolicy => outcome(c.put_key_policy().key_id(key).policy(&f.policy).send().await),
        ListKeyPolicies => outcome(c.list_key_policies().key_id(key).send().await),
        DescribeKey => outcome(c.describe_key().key_id(key).send().await),
        CreateAlias => {
            let req = c.create_alias().alias_name(new_alias());
            outcome(req.target_key_id(key).send().await)
        }
        UpdateAliasTo => {
            let req = c.update_alias().alias_name(&f.other_alias);
            outcome(req.target_key_id(key).send().await)
        }
        UpdateAliasAway => {
            let req = c.update_alias().alias_name(&f.alias);
            outcome(req.target_key_id(&f.other).send().await)
        }
        ListAliases => outcome(c.list_aliases().key_id(key).send().await),
        DeleteAlias => outcome(c.delete_alias().alias_name(&f.alias).send().await),
    }
}

/// Runs every call of [`EXPECTED`] on a fresh key in `state` (a call may change the key's state)
/// and compares the outcome with the table's column for `state`.
async fn check_state(state: KeyState) {
    let client = kms();
    let mut wrong = Vec::new();
    for &(c, enabled, disabled, pending) in EXPECTED {
        let f = fixture(&client, &state).await;
        let expected = match state {
            KeyState::Enabled => enabled,
            KeyState::Disabled => disabled,
            _ => pending,
        };
        let expected = match expected {
            Works => Ok(()),
            IsDisabled => failed("DisabledException", &format!("{} is disabled.", f.arn)),
            IsPending => failed(
                "KMSInvalidStateException",
                &format!("{} is pending deletion.", f.arn),
            ),
            NotPending => failed(
                "KMSInvalidStateException",
                &format!("{} is not pending deletion.", f.arn),
            ),
        };
        let got = call(&client, &f, c).await;
        if got != expected {
            wrong.push(format!("{c:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "on a {state:?} key:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn what_works_on_an_enabled_key() {
    check_state(KeyState::Enabled).await;
}

#[tokio::test]
async fn what_works_on_a_disabled_key() {
    check_state(KeyState::Disabled).await;
}

#[tokio::test]
async fn what_works_on_a_key_pending_deletion() {
    check_state(KeyState::PendingDeletion).await;
}

#[tokio::test]
async fn enabling_a_disabled_key_makes_it_usable_again() {
    let client = kms();
    let f = fixture(&client, &KeyState::Disabled).await;
    client.set_enabled(&f.key, true).await;
    let m = client.describe(&f.key).await;
    assert_eq!(m.key_state, Some(KeyState::Enabled));
    assert!(m.enabled);
    assert_eq!(client.try_decrypt(&f.blob, None, &[]).await, Ok(()));
}

/// Cancelling a deletion leaves the key Disabled, whatever its state before; it is usable again
/// once enabled, and no longer pending deletion.
#[tokio::test]
async fn cancelling_a_deletion_leaves_the_key_disabled() {
    let client = kms();
    for before in [KeyState::Enabled, KeyState::Disabled] {
        let f = fixture(&client, &before).await;
        ok(client.schedule_key_deletion().key_id(&f.key).send().await);
        let c = client.cancel_key_deletion().key_id(&f.arn).send().await;
        assert_eq!(
            c.expect("CancelKeyDeletion").key_id.as_deref(),
            Some(f.arn.as_str())
        );
        let m = client.describe(&f.key).await;
        assert_eq!(m.key_state, Some(KeyState::Disabled), "{before:?}");
        assert!(m.deletion_date.is_none());
        let not_pending = failed(
            "KMSInvalidStateException",
            &format!("{} is not pending deletion.", f.arn),
        );
        let cancel = || client.cancel_key_deletion().key_id(&f.key).send();
        assert_eq!(outcome(cancel().await), not_pending);
        client.set_enabled(&f.key, true).await;
        assert_eq!(client.try_decrypt(&f.blob, None, &[]).await, Ok(()));
        assert_eq!(outcome(cancel().await), not_pending);
    }
}

/// The pending window: 7 to 30 days (the model allows 1 to 365).
#[tokio::test]
async fn pending_window_is_7_to_30_days() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let schedule = |days: i32| {
        let req = client.schedule_key_deletion().key_id(&key);
        req.pending_window_in_days(days).send()
    };
    let between = |days: i32| format!("PendingWindowInDays should be between 7 and 30, but it is {days}");
    for (days, message) in [
        (0, model_min_value("pendingWindowInDays", 0, 1)),
        (366, model_max_value("pendingWindowInDays", 366, 365)),
        (6, between(6)),
        (31, between(31)),
    ] {
        assert_eq!(
            outcome(schedule(days).await),
            failed("ValidationException", &message)
        );
    }
    assert_eq!(client.describe(&key).await.key_state, Some(KeyState::Enabled));
    for days in [7, 30] {
        let (key, _) = client.new_key().await;
        let req = client
            .schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(days);
        let out = req.send().await.expect("ScheduleKeyDeletion");
        assert_eq!(out.pending_window_in_days, Some(days));
    }
}

#[tokio::test]
async fn schedule_key_deletion_defaults_to_30_days() {
    let client = kms();
    let (key, arn) = client.new_key().await;
    let before = now_secs();
    let s = client.schedule_key_deletion().key_id(&key).send().await;
    let s = s.expect("ScheduleKeyDeletion");
    assert_eq!(s.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(s.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(s.pending_window_in_days, Some(30));
    let date = s.deletion_date.expect("DeletionDate").secs();
    let window = before + 30 * DAY - 5..=now_secs() + 30 * DAY + 5;
    assert!(window.contains(&date), "{date}");
    let m = client.describe(&key).await;
    assert_eq!(m.key_state, Some(KeyState::PendingDeletion));
    assert!(!m.enabled);
    assert_eq!(m.deletion_date.map(|d| d.secs()), Some(date));
}

/// Keys pending deletion are listed, keep their alias, and have no next rotation.
#[tokio::test]
async fn keys_pending_deletion_stay_listed() {
    let client = kms();
    let f = fixture(&client, &KeyState::PendingDeletion).await;
    assert!(client.all_key_ids().await.contains(&f.key));
    let listed = ok(client.list_aliases().key_id(&f.key).send().await);
    assert_eq!(listed.aliases().len(), 1);
    assert!(client.rotation_status(&f.key).await.next_rotation_date.is_none());
}

/// An alias may leave a key pending deletion, but not point at one.
#[tokio::test]
async fn aliases_may_leave_a_key_pending_deletion_but_not_point_at_one() {
    let client = kms();
    let f = fixture(&client, &KeyState::PendingDeletion).await;
    let pending = failed(
        "KMSInvalidStateException",
        &format!("{} is pending deletion.", f.arn),
    );
    assert_eq!(call(&client, &f, UpdateAliasTo).await, pending);
    assert_eq!(call(&client, &f, UpdateAliasAway).await, Ok(()));
    let other = client.describe(&f.other).await.arn;
    assert_eq!(client.describe(&f.alias).await.arn, other);
}

#[tokio::test]
async fn keys_are_purged_when_their_window_ran_out() {
    let (server, _) = TestServer::start_manual().await;
    let client = server.kms_client();
    let (key, _) = client.new_key().await;
    let (kept, _) = client.new_key().await;
    let name = format!("alias/purge-{}", short_id());
    client.alias_key(&name, &key).await;
    let blob = client.encrypt_with(&key, b"gone soon", &[]).await;
    let req = client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7);
    req.send().await.expect("ScheduleKeyDeletion");
    ok(client.schedule_key_deletion().key_id(&kept).send().await);
    ok(client.cancel_key_deletion().key_id(&kept).send().await);

    server.advance_days(6).await;
    client.describe(&key).await;

    server.advance_days(2).await;
    let describe = |id: &str| client.describe_key().key_id(id).send();
    assert_eq!(error_code(describe(&key).await), "NotFoundException");
    assert_eq!(error_code(describe(&name).await), "NotFoundException");
    let unknown = "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.";
    let decrypt = client.decrypt().ciphertext_blob(blob).send().await;
    assert_eq!(outcome(decrypt), failed("AccessDeniedException", unknown));
    assert!(!client.all_key_ids().await.contains(&key));
    client.describe(&kept).await;
    server.shutdown().await;
}
