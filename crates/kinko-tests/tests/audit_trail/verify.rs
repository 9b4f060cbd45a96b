//! `kinko audit verify`: a log as written verifies; an edited, removed or swapped line is reported
//! at its place, as changed, removed or out of order.

use std::path::{Path, PathBuf};

use kinko_tests::*;

use crate::{create, once};

/// A stopped server's log of a few calls; the directory lives as long as the returned guard.
async fn written_log() -> (PathBuf, tempfile::TempDir) {
    let audited = AuditedServer::start().await;
    let client = once(&audited.server);
    for _ in 0..3 {
        let name = create(&client, "verify").await;
        client
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .expect("get");
    }
    audited.stop_keeping_files().await
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("log")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write log");
}

#[track_caller]
fn assert_problem(report: &kinko_server::VerifyReport, needle: &str) {
    assert!(
        report.problems.iter().any(|p| p.contains(needle)),
        "no problem saying {needle:?}: {:?}",
        report.problems
    );
}

#[tokio::test]
async fn a_log_as_written_verifies() {
    let (path, _dir) = written_log().await;
    let report = verify_log(&path, &[]);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.files.len(), 1);
    assert!(report.files[0].records >= 6);
    assert_eq!(report.files[0].first, Some(1));
}

#[tokio::test]
async fn an_edited_record_is_reported_as_changed() {
    let (path, _dir) = written_log().await;
    let mut l = lines(&path);
    // The caller's address, changed in a record in the middle.
    let i = (2..l.len())
        .find(|&i| l[i].contains("127.0.0.1"))
        .expect("a client call");
    l[i] = l[i].replacen("127.0.0.1", "10.9.8.7", 1);
    write_lines(&path, &l);
    let report = verify_log(&path, &[]);
    assert_problem(&report, &format!("line {}: record {} was changed", i + 1, i + 1));
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
}

#[tokio::test]
async fn a_removed_record_is_reported_as_removed() {
    let (path, _dir) = written_log().await;
    let mut l = lines(&path);
    l.remove(2);
    write_lines(&path, &l);
    let report = verify_log(&path, &[]);
    assert_problem(&report, "line 3: record 3 was removed before it (record 4)");
}

#[tokio::test]
async fn swapped_records_are_reported_as_out_of_order() {
    let (path, _dir) = written_log().await;
    let mut l = lines(&path);
    l.swap(1, 2);
    write_lines(&path, &l);
    let report = verify_log(&path, &[]);
    assert_problem(
        &report,
        "line 2: record 3 is out of order: record 2 comes after it",
    );
}

#[tokio::test]
async fn a_record_made_up_and_appended_is_reported() {
    let (path, _dir) = written_log().await;
    let mut l = lines(&path);
    // A copy of the last record with the next sequence number: its chain doesn't match. (Whoever
    // can write the active file could compute a matching chain, which has no key: only the seal
    // made at rotation vouches for a whole file.)
    let last = l.last().expect("a record").clone();
    let n = l.len();
    l.push(last.replacen(
        &format!("\"sequence\":{n}"),
        &format!("\"sequence\":{}", n + 1),
        1,
    ));
    write_lines(&path, &l);
    let report = verify_log(&path, &[]);
    assert_problem(&report, &format!("record {} was changed", n + 1));
}

/// The log as a crash leaves it: its file as it was on disk while the server ran, the records
/// followed by the zeros allocated ahead of them. It verifies as it is, and a server started on it
/// cuts the zeros off and continues the chain.
#[tokio::test]
async fn a_log_left_by_a_crash_verifies_and_a_restart_continues_it() {
    let audited = AuditedServer::start().await;
    let client = once(&audited.server);
    let name = create(&client, "crash").await;
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    let crash = tempfile::tempdir().expect("dir");
    let crashed = crash.path().join("audit.log");
    std::fs::copy(audited.path(), &crashed).expect("copy the log");
    audited.stop().await;
    assert_eq!(std::fs::read(&crashed).expect("log").last(), Some(&0));
    let report = verify_log(&crashed, &[]);
    assert!(report.ok(), "{:?}", report.problems);
    let last = report.files[0].last.expect("records");

    let restarted = AuditedServer::start_configured(|c| c.audit_log = Some(crashed.clone())).await;
    let client = once(&restarted.server);
    create(&client, "after-crash").await;
    let _ = restarted.stop_keeping_files().await;
    assert!(!std::fs::read(&crashed).expect("log").contains(&0));
    let report = verify_log(&crashed, &[]);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.files[0].first, Some(1));
    assert!(report.files[0].last.expect("records") > last);
}
