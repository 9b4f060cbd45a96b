//! Deletion and recovery: DeleteSecret, RestoreSecret, the recovery window run out on a server
//! with a manual clock, and persistence across restarts of a server with a SQLite data dir.

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use kinko_tests::{
    DEV_ACCOUNT, TestClock, TestServer, arn_suffix, create_string_secret, dev_config, expect_err, now_secs,
    sqlite_config, unique_name,
};

const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
const DAY: i64 = 86_400;

async fn deleted_date(client: &Client, name: &str) -> Option<i64> {
    client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .expect("DescribeSecret")
        .deleted_date()
        .map(|d| d.secs())
}

#[tokio::test]
async fn delete_defaults_to_a_30_day_window() {
    let client = TestServer::start().client();
    let name = unique_name("del-default");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let before = now_secs();
    let out = client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let after = now_secs();
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let deletion = out.deletion_date().expect("DeletionDate").secs();
    assert!(
        deletion >= before + 30 * DAY - 1 && deletion <= after + 30 * DAY + 1,
        "DeletionDate {deletion} is 30 days from now ({before}..{after})"
    );
    let deleted = deleted_date(&client, &name).await.expect("DeletedDate");
    assert!(
        deleted >= before - 1 && deleted <= after + 1,
        "DeletedDate is the time of the call"
    );
}

#[tokio::test]
async fn delete_accepts_windows_of_7_and_30_days() {
    let client = TestServer::start().client();
    for days in [7, 30] {
        let name = unique_name("del-window");
        create_string_secret(&client, &name, "v").await;
        let before = now_secs();
        let out = client
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(days)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteSecret with {days} days: {e:?}"));
        let deletion = out.deletion_date().expect("DeletionDate").secs();
        assert!(
            (deletion - (before + days * DAY)).abs() <= 5,
            "DeletionDate {deletion} is {days} days from now"
        );
    }
    // ForceDeleteWithoutRecovery=false with a window is fine [S].
    let name = unique_name("del-window-false");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(10)
        .force_delete_without_recovery(false)
        .send()
        .await
        .expect("DeleteSecret with window and Force=false");
    assert!(deleted_date(&client, &name).await.is_some());
}

#[tokio::test]
async fn delete_rejects_windows_outside_7_to_30_days() {
    let client = TestServer::start().client();
    let name = unique_name("del-badwindow");
    create_string_secret(&client, &name, "v").await;
    for days in [6, 31, 0, -1] {
        let e = expect_err!(
            client
                .delete_secret()
                .secret_id(&name)
                .recovery_window_in_days(days)
                .send()
                .await
        );
        assert!(e.is_invalid_parameter_exception(), "{days} days: {e:?}");
    }
    assert!(
        deleted_date(&client, &name).await.is_none(),
        "nothing was scheduled"
    );
}

#[tokio::test]
async fn delete_with_force_and_window_is_invalid_parameter() {
    let client = TestServer::start().client();
    let name = unique_name("del-forcewindow");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(7)
            .force_delete_without_recovery(true)
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("the secret is untouched");
    assert_eq!(got.secret_string(), Some("v"));
}

#[tokio::test]
async fn force_delete_removes_at_once() {
    let client = TestServer::start().client();
    let name = unique_name("del-force");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let before = now_secs();
    let out = client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("DeleteSecret force");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let deletion = out.deletion_date().expect("DeletionDate").secs();
    assert!(
        (deletion - before).abs() <= 5,
        "DeletionDate of a forced delete is now"
    );
    let e = expect_err!(client.describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
    let e = expect_err!(client.get_secret_value().secret_id(&arn).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn force_delete_of_missing_secret_succeeds() {
    let client = TestServer::start().client();
    let name = unique_name("del-force-missing");
    let out = client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("forced DeleteSecret of a secret that doesn't exist succeeds");
    assert_eq!(out.name(), Some(name.as_str()));
    let arn = out.arn().expect("a synthesised ARN");
    assert!(
        arn.starts_with(&format!(
            "arn:aws:secretsmanager:us-east-1:{DEV_ACCOUNT}:secret:{name}"
        )),
        "{arn}"
    );
    assert!(out.deletion_date().is_some());
}

#[tokio::test]
async fn delete_of_missing_secret_is_not_found() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .delete_secret()
            .secret_id(unique_name("del-missing"))
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
}

#[tokio::test]
async fn delete_twice_is_invalid_request_and_force_still_works() {
    let client = TestServer::start().client();
    let name = unique_name("del-twice");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let e = expect_err!(client.delete_secret().secret_id(&name).send().await);
    assert!(e.is_invalid_request_exception(), "{e:?}");
    // Force works on a secret already scheduled [S].
    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("forced DeleteSecret of a scheduled secret");
    let e = expect_err!(client.describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn restore_makes_the_secret_usable_again() {
    let client = TestServer::start().client();
    let name = unique_name("restore");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let out = client
        .restore_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("RestoreSecret");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert!(
        deleted_date(&client, &name).await.is_none(),
        "DeletedDate cleared"
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue after restore");
    assert_eq!(got.secret_string(), Some("v"));
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("v2")
        .send()
        .await
        .expect("PutSecretValue after restore");
    client
        .tag_resource()
        .secret_id(&name)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("k")
                .value("v")
                .build(),
        )
        .send()
        .await
        .expect("TagResource after restore");
    // And it can be scheduled again.
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("DeleteSecret again");
}

#[tokio::test]
async fn restore_of_missing_secret_is_not_found() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .restore_secret()
            .secret_id(unique_name("restore-missing"))
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
}

#[tokio::test]
async fn recreate_after_force_delete_gets_a_new_suffix() {
    let client = TestServer::start().client();
    let name = unique_name("recreate");
    let (arn1, v1) = create_string_secret(&client, &name, "first").await;
    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("DeleteSecret force");
    let (arn2, v2) = create_string_secret(&client, &name, "second").await;
    let s1 = arn_suffix(&arn1, DEV_ACCOUNT, &name);
    let s2 = arn_suffix(&arn2, DEV_ACCOUNT, &name);
    assert_ne!(s1, s2, "a re-created secret gets a new ARN suffix");
    let versions = client
        .list_secret_version_ids()
        .secret_id(&name)
        .include_deprecated(true)
        .send()
        .await
        .expect("ListSecretVersionIds");
    let ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(
        ids,
        [v2.as_str()],
        "no version of the old secret survives (old: {v1})"
    );
    let e = expect_err!(client.describe_secret().secret_id(&arn1).send().await);
    assert!(
        e.is_resource_not_found_exception(),
        "old ARN no longer resolves: {e:?}"
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("second"));
}

#[tokio::test]
async fn recovery_window_runs_out_on_a_manual_clock() {
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let client = server.client();
    let name = unique_name("window");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let keep = unique_name("window-keep");
    create_string_secret(&client, &keep, "kept").await;
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("DeleteSecret");

    manual.advance(Duration::from_secs(6 * 86_400));
    server.run_jobs_now().await;
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("still there after 6 days (the client signs with the moved clock)");
    assert!(d.deleted_date().is_some());
    let e = expect_err!(
        client
            .create_secret()
            .name(&name)
            .secret_string("new")
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "name still taken: {e:?}");

    manual.advance(Duration::from_secs(86_400 + 60));
    server.run_jobs_now().await;
    let e = expect_err!(client.describe_secret().secret_id(&name).send().await);
    assert!(e.is_resource_not_found_exception(), "purged after 7 days: {e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));

    // The name is free again, under a new ARN; the other secret is untouched.
    let (arn2, _) = create_string_secret(&client, &name, "new").await;
    assert_ne!(arn, arn2);
    let got = client
        .get_secret_value()
        .secret_id(&keep)
        .send()
        .await
        .expect("unrelated secret survives the purge");
    assert_eq!(got.secret_string(), Some("kept"));
    server.shutdown().await;
}

#[tokio::test]
async fn restored_secret_is_not_purged() {
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let client = server.client();
    let name = unique_name("window-restore");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("DeleteSecret");
    manual.advance(Duration::from_secs(3 * 86_400));
    client
        .restore_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("RestoreSecret");
    manual.advance(Duration::from_secs(30 * 86_400));
    server.run_jobs_now().await;
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("a restored secret is kept");
    assert_eq!(got.secret_string(), Some("v"));
    server.shutdown().await;
}

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
    let client = server.client();
    let kept = unique_name("persist-kept");
    let doomed = unique_name("persist-doomed");
    let (kept_arn, v1) = create_string_secret(&client, &kept, "one").await;
    let v2 = kinko_tests::token();
    client
        .put_secret_value()
        .secret_id(&kept)
        .client_request_token(&v2)
        .secret_string("two")
        .send()
        .await
        .expect("PutSecretValue");
    create_string_secret(&client, &doomed, "bye").await;
    client
        .delete_secret()
        .secret_id(&doomed)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("DeleteSecret");
    let account = server.account_id().to_owned();
    arn_suffix(&kept_arn, &account, &kept);
    server.shutdown().await;

    // Reopen the same data dir six days later (still inside the 7-day window: the purge job also
    // runs when the server starts).
    manual.advance(Duration::from_secs(6 * 86_400));
    let server = TestServer::start_with(sqlite_config(dir.path()), clock).await;
    assert_eq!(server.account_id(), account, "same account after a restart");
    let client = server.client();
    let got = client
        .get_secret_value()
        .secret_id(&kept_arn)
        .send()
        .await
        .expect("GetSecretValue after restart");
    assert_eq!(got.secret_string(), Some("two"));
    assert_eq!(got.version_id(), Some(v2.as_str()));
    let prev = client
        .get_secret_value()
        .secret_id(&kept)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("AWSPREVIOUS after restart");
    assert_eq!(prev.version_id(), Some(v1.as_str()));
    assert_eq!(prev.secret_string(), Some("one"));
    assert!(
        client
            .describe_secret()
            .secret_id(&doomed)
            .send()
            .await
            .expect("scheduled secret survived the restart")
            .deleted_date()
            .is_some()
    );
    manual.advance(Duration::from_secs(2 * 86_400));
    server.run_jobs_now().await;
    let e = expect_err!(client.describe_secret().secret_id(&doomed).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    server.shutdown().await;

    // And the purge is durable.
    let server = TestServer::start_with(sqlite_config(dir.path()), TestClock::Manual(manual)).await;
    let client = server.client();
    let e = expect_err!(client.describe_secret().secret_id(&doomed).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    client
        .describe_secret()
        .secret_id(&kept)
        .send()
        .await
        .expect("kept secret still there");
    server.shutdown().await;
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

#[tokio::test]
async fn dates_follow_the_server_clock() {
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let client = server.client();
    let t0 = secs(kinko_core::Clock::now(manual.as_ref()).millis());
    let name = unique_name("dates");
    let (_, v1) = create_string_secret(&client, &name, "same").await;

    manual.advance(Duration::from_secs(3_600));
    // UpdateSecret with an identical value and a new token: a new version, LastChangedDate moves [S].
    let v2 = client
        .update_secret()
        .secret_id(&name)
        .secret_string("same")
        .send()
        .await
        .expect("UpdateSecret")
        .version_id
        .expect("VersionId");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    let created = d.created_date().expect("CreatedDate").secs();
    let changed = d.last_changed_date().expect("LastChangedDate").secs();
    assert!((created - t0).abs() <= 1, "CreatedDate {created} vs {t0}");
    assert!(
        (changed - (t0 + 3_600)).abs() <= 1,
        "LastChangedDate {changed} vs {}",
        t0 + 3_600
    );

    // GetSecretValue's CreatedDate is the version's.
    let current = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(current.version_id(), Some(v2.as_str()));
    assert!((current.created_date().expect("CreatedDate").secs() - (t0 + 3_600)).abs() <= 1);
    let previous = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&v1)
        .send()
        .await
        .expect("GetSecretValue v1");
    assert!((previous.created_date().expect("CreatedDate").secs() - t0).abs() <= 1);

    // LastAccessedDate is the UTC midnight of the (server's) day of the read; recorded in the
    // background, so poll (bounded).
    let accessed = |client: Client, name: String| async move {
        for _ in 0..100 {
            let d = client
                .describe_secret()
                .secret_id(&name)
                .send()
                .await
                .expect("DescribeSecret");
            if let Some(t) = d.last_accessed_date {
                return t.secs();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("LastAccessedDate not recorded within 2 s");
    };
    let now = secs(kinko_core::Clock::now(manual.as_ref()).millis());
    assert_eq!(
        accessed(client.clone(), name.clone()).await,
        now.div_euclid(DAY) * DAY
    );

    // Two days later another read moves it to that day's midnight.
    manual.advance(Duration::from_secs(2 * 86_400));
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    let later = secs(kinko_core::Clock::now(manual.as_ref()).millis()).div_euclid(DAY) * DAY;
    let mut moved = false;
    for _ in 0..100 {
        if accessed(client.clone(), name.clone()).await == later {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(moved, "LastAccessedDate moves to the day of the latest read");

    // DeletionDate is exactly the window after the (server's) time of the call.
    let now = secs(kinko_core::Clock::now(manual.as_ref()).millis());
    let out = client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(9)
        .send()
        .await
        .expect("DeleteSecret");
    assert!((out.deletion_date().expect("DeletionDate").secs() - (now + 9 * DAY)).abs() <= 1);
    assert!((deleted_date(&client, &name).await.expect("DeletedDate") - now).abs() <= 1);
    server.shutdown().await;
}
