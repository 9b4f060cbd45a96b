//! Deletion and recovery: DeleteSecret and its recovery window, RestoreSecret, the window running
//! out on a manual clock, persistence across restarts with a SQLite data dir, and dates following
//! the server's clock.

use aws_sdk_secretsmanager::Client;
use kinko_tests::*;

use crate::{secret, sm};

async fn deleted_date(sm: &Client, name: &str) -> Option<i64> {
    sm.describe(name).await.deleted_date().map(|d| d.secs())
}

#[tokio::test]
async fn delete_defaults_to_a_30_day_window() {
    let (sm, name, arn, _) = secret("del-default", "v").await;
    let before = now_secs();
    let out = sm.schedule_deletion(&name).await;
    let after = now_secs();
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let deletion = out.deletion_date().expect("DeletionDate").secs();
    let window = before + 30 * DAY - 1..=after + 30 * DAY + 1;
    assert!(
        window.contains(&deletion),
        "DeletionDate {deletion} is 30 days from now ({before}..{after})"
    );
    let deleted = deleted_date(&sm, &name).await.expect("DeletedDate");
    assert!(
        (before - 1..=after + 1).contains(&deleted),
        "DeletedDate is the time of the call"
    );
}

/// Windows of 7 and 30 days; ForceDeleteWithoutRecovery=false with a window is fine [S].
#[tokio::test]
async fn delete_accepts_windows_of_7_and_30_days() {
    let sm = sm();
    for days in [7, 30] {
        let name = unique_name("del-window");
        sm.create_string(&name, "v").await;
        let before = now_secs();
        let out = sm.schedule_deletion_in(&name, days).await;
        let deletion = out.deletion_date().expect("DeletionDate").secs();
        let off = (deletion - (before + days * DAY)).abs();
        assert!(off <= 5, "DeletionDate {deletion} is {days} days from now");
    }
    let name = unique_name("del-window-false");
    sm.create_string(&name, "v").await;
    let req = sm.delete_secret().secret_id(&name).recovery_window_in_days(10);
    ok(req.force_delete_without_recovery(false).send().await);
    assert!(deleted_date(&sm, &name).await.is_some());
}

#[tokio::test]
async fn delete_rejects_windows_outside_7_to_30_days() {
    let (sm, name, ..) = secret("del-badwindow", "v").await;
    for days in [6, 31, 0, -1] {
        let req = sm.delete_secret().secret_id(&name).recovery_window_in_days(days);
        assert_eq!(
            error_code(req.send().await),
            "InvalidParameterException",
            "{days} days"
        );
    }
    assert!(deleted_date(&sm, &name).await.is_none(), "nothing was scheduled");
}

#[tokio::test]
async fn delete_with_force_and_window_is_invalid_parameter() {
    let (sm, name, ..) = secret("del-forcewindow", "v").await;
    let req = sm.delete_secret().secret_id(&name).recovery_window_in_days(7);
    let out = req.force_delete_without_recovery(true).send().await;
    assert_eq!(error_code(out), "InvalidParameterException");
    assert_eq!(sm.value(&name).await, "v", "the secret is untouched");
}

/// DeleteSecret with ForceDeleteWithoutRecovery.
async fn force_delete(
    sm: &Client,
    id: &str,
) -> aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretOutput {
    let req = sm
        .delete_secret()
        .secret_id(id)
        .force_delete_without_recovery(true);
    req.send()
        .await
        .unwrap_or_else(|e| panic!("forced DeleteSecret {id}: {e:?}"))
}

#[tokio::test]
async fn force_delete_removes_at_once() {
    let (sm, name, arn, _) = secret("del-force", "v").await;
    let before = now_secs();
    let out = force_delete(&sm, &name).await;
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let deletion = out.deletion_date().expect("DeletionDate").secs();
    assert!(
        (deletion - before).abs() <= 5,
        "DeletionDate of a forced delete is now"
    );
    let describe = sm.describe_secret().secret_id(&name).send().await;
    assert_eq!(outcome(describe), failed("ResourceNotFoundException", NOT_FOUND));
    let get = sm.get_secret_value().secret_id(&arn).send().await;
    assert_eq!(error_code(get), "ResourceNotFoundException");
}

#[tokio::test]
async fn force_delete_of_missing_secret_succeeds() {
    let sm = sm();
    let name = unique_name("del-force-missing");
    let out = force_delete(&sm, &name).await;
    assert_eq!(out.name(), Some(name.as_str()));
    let arn = out.arn().expect("a synthesised ARN");
    assert!(arn.starts_with(&secret_arn_pattern(DEV_ACCOUNT, &name)), "{arn}");
    assert!(out.deletion_date().is_some());
}

/// Deleting a scheduled secret again is InvalidRequest; forcing it works [S].
#[tokio::test]
async fn delete_twice_is_invalid_request_and_force_still_works() {
    let (sm, name, ..) = secret("del-twice", "v").await;
    sm.schedule_deletion(&name).await;
    let again = sm.delete_secret().secret_id(&name).send().await;
    assert_eq!(error_code(again), "InvalidRequestException");
    force_delete(&sm, &name).await;
    let describe = sm.describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(describe), "ResourceNotFoundException");
}

/// A restored secret reads, writes and tags again, and can be scheduled again.
#[tokio::test]
async fn restore_makes_the_secret_usable_again() {
    let (sm, name, arn, _) = secret("restore", "v").await;
    sm.schedule_deletion(&name).await;
    let out = ok(sm.restore_secret().secret_id(&name).send().await);
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert!(deleted_date(&sm, &name).await.is_none(), "DeletedDate cleared");
    assert_eq!(sm.value(&name).await, "v");
    sm.put_string(&name, "v2").await;
    let tagged = sm.tag_resource().secret_id(&name).tags(tag("k", "v"));
    ok(tagged.send().await);
    sm.schedule_deletion_in(&name, 7).await;
}

#[tokio::test]
async fn recreate_after_force_delete_gets_a_new_suffix() {
    let (sm, name, arn1, v1) = secret("recreate", "first").await;
    force_delete(&sm, &name).await;
    let (arn2, v2) = sm.create_string(&name, "second").await;
    let s1 = arn_suffix(&arn1, DEV_ACCOUNT, &name);
    let s2 = arn_suffix(&arn2, DEV_ACCOUNT, &name);
    assert_ne!(s1, s2, "a re-created secret gets a new ARN suffix");
    let ids: Vec<String> = sm
        .version_list(&name, true)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, [v2], "no version of the old secret survives (old: {v1})");
    let old = sm.describe_secret().secret_id(&arn1).send().await;
    assert_eq!(
        error_code(old),
        "ResourceNotFoundException",
        "old ARN no longer resolves"
    );
    assert_eq!(sm.value(&name).await, "second");
}

/// A 7-day window: the secret (and its name) stays for 6 days, and is purged after 7; the name is
/// free again under a new ARN, other secrets untouched.
#[tokio::test]
async fn recovery_window_runs_out_on_a_manual_clock() {
    let (server, manual) = TestServer::start_manual().await;
    let sm = server.client();
    let (name, keep) = (unique_name("window"), unique_name("window-keep"));
    let (arn, _) = sm.create_string(&name, "v").await;
    sm.create_string(&keep, "kept").await;
    sm.schedule_deletion_in(&name, 7).await;

    server.advance_days(6).await;
    assert!(
        sm.describe(&name).await.deleted_date().is_some(),
        "still there after 6 days"
    );
    let again = sm.create_secret().name(&name).secret_string("new").send().await;
    assert_eq!(error_code(again), "InvalidRequestException", "name still taken");

    manual.advance(std::time::Duration::from_secs(86_400 + 60));
    server.run_jobs_now().await;
    let describe = sm.describe_secret().secret_id(&name).send().await;
    let not_found = failed("ResourceNotFoundException", NOT_FOUND);
    assert_eq!(outcome(describe), not_found, "purged after 7 days");
    let (arn2, _) = sm.create_string(&name, "new").await;
    assert_ne!(arn, arn2);
    assert_eq!(
        sm.value(&keep).await,
        "kept",
        "unrelated secret survives the purge"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn restored_secret_is_not_purged() {
    let (server, manual) = TestServer::start_manual().await;
    let sm = server.client();
    let name = unique_name("window-restore");
    sm.create_string(&name, "v").await;
    sm.schedule_deletion_in(&name, 7).await;
    manual.advance(std::time::Duration::from_secs(3 * 86_400));
    ok(sm.restore_secret().secret_id(&name).send().await);
    server.advance_days(30).await;
    assert_eq!(sm.value(&name).await, "v", "a restored secret is kept");
    server.shutdown().await;
}

/// A SQLite data dir keeps the account, the secrets and their versions, and secrets scheduled for
/// deletion, across restarts; their purge is durable.
#[tokio::test]
async fn sqlite_data_dir_keeps_secrets_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(sqlite_config(dir.path()), clock.clone()).await;
    assert_ne!(
        server.account_id(),
        DEV_ACCOUNT,
        "a real data dir gets its own account"
    );
    let sm = server.client();
    let (kept, doomed) = (unique_name("persist-kept"), unique_name("persist-doomed"));
    let (kept_arn, v1) = sm.create_string(&kept, "one").await;
    let v2 = sm.put_string(&kept, "two").await;
    sm.create_string(&doomed, "bye").await;
    sm.schedule_deletion_in(&doomed, 7).await;
    let account = server.account_id().to_owned();
    arn_suffix(&kept_arn, &account, &kept);
    server.shutdown().await;

    // Reopen the same data dir six days later (still inside the 7-day window: the purge job also
    // runs when the server starts).
    manual.advance(std::time::Duration::from_secs(6 * 86_400));
    let server = TestServer::start_with(sqlite_config(dir.path()), clock).await;
    assert_eq!(server.account_id(), account, "same account after a restart");
    let sm = server.client();
    let got = sm.get(&kept_arn).await;
    assert_eq!(got.secret_string(), Some("two"));
    assert_eq!(got.version_id(), Some(v2.as_str()));
    let prev = sm.get_stage(&kept, "AWSPREVIOUS").await;
    assert_eq!(prev.version_id(), Some(v1.as_str()));
    assert_eq!(prev.secret_string(), Some("one"));
    assert!(
        sm.describe(&doomed).await.deleted_date().is_some(),
        "scheduled secret survived"
    );
    server.advance_days(2).await;
    let describe = sm.describe_secret().secret_id(&doomed).send().await;
    assert_eq!(error_code(describe), "ResourceNotFoundException");
    server.shutdown().await;

    let server = TestServer::start_with(sqlite_config(dir.path()), TestClock::Manual(manual)).await;
    let sm = server.client();
    let describe = sm.describe_secret().secret_id(&doomed).send().await;
    assert_eq!(
        error_code(describe),
        "ResourceNotFoundException",
        "the purge is durable"
    );
    sm.describe(&kept).await;
    server.shutdown().await;
}

/// CreatedDate, LastChangedDate, LastAccessedDate (UTC midnight of the day of the read),
/// DeletionDate and DeletedDate are the server's time.
#[tokio::test]
async fn dates_follow_the_server_clock() {
    let (server, manual) = TestServer::start_manual().await;
    let sm = server.client();
    let t0 = server.now_secs();
    let name = unique_name("dates");
    let (_, v1) = sm.create_string(&name, "same").await;

    manual.advance(std::time::Duration::from_secs(3_600));
    // UpdateSecret with an identical value and a new token: a new version, LastChangedDate moves [S].
    let update = sm.update_secret().secret_id(&name).secret_string("same");
    let v2 = ok(update.send().await).version_id.expect("VersionId");
    let d = sm.describe(&name).await;
    let created = d.created_date().expect("CreatedDate").secs();
    let changed = d.last_changed_date().expect("LastChangedDate").secs();
    assert!((created - t0).abs() <= 1, "CreatedDate {created} vs {t0}");
    assert!(
        (changed - (t0 + 3_600)).abs() <= 1,
        "LastChangedDate {changed} vs {}",
        t0 + 3_600
    );

    // GetSecretValue's CreatedDate is the version's.
    let current = sm.get(&name).await;
    assert_eq!(current.version_id(), Some(v2.as_str()));
    assert!((current.created_date().expect("CreatedDate").secs() - (t0 + 3_600)).abs() <= 1);
    let previous = sm.get_secret_value().secret_id(&name).version_id(&v1);
    let previous = ok(previous.send().await);
    assert!((previous.created_date().expect("CreatedDate").secs() - t0).abs() <= 1);

    let accessed = || async { sm.describe(&name).await.last_accessed_date.map(|t| t.secs()) };
    let midnight = || server.now_secs().div_euclid(DAY) * DAY;
    assert_eq!(accessed().await, Some(midnight()));
    // Two days later another read moves it to that day's midnight.
    server.advance_days(2).await;
    sm.get(&name).await;
    assert_eq!(
        accessed().await,
        Some(midnight()),
        "moves to the day of the latest read"
    );

    // DeletionDate is exactly the window after the (server's) time of the call.
    let now = server.now_secs();
    let out = sm.schedule_deletion_in(&name, 9).await;
    assert!((out.deletion_date().expect("DeletionDate").secs() - (now + 9 * DAY)).abs() <= 1);
    assert!((deleted_date(&sm, &name).await.expect("DeletedDate") - now).abs() <= 1);
    server.shutdown().await;
}
