//! Rotation by size seals each file and continues the chain into the next; retention keeps the
//! newest files; reopening (SIGHUP, after external log rotation moved the file) loses and repeats
//! no record. `kinko audit verify` reports a rotated file removed, changed after it was sealed, or
//! with a forged seal.

use std::path::{Path, PathBuf};

use kinko_server::AuditOptions;
use kinko_tests::*;

use crate::{create, once, sequences};

fn small_files(keep_files: usize) -> AuditOptions {
    AuditOptions {
        rotate_bytes: 4_000,
        keep_files,
        ..AuditOptions::default()
    }
}

/// The rotated files beside `active`, oldest first.
fn rotated(active: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(active.parent().expect("dir"))
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("audit.log.") && !name.ends_with(".seal")
        })
        .collect();
    files.sort();
    files
}

async fn rotated_log(calls: usize, keep_files: usize) -> (PathBuf, tempfile::TempDir) {
    let audited = AuditedServer::start_with(small_files(keep_files)).await;
    let client = once(&audited.server);
    for _ in 0..calls {
        let name = create(&client, "rotation").await;
        client
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .expect("get");
    }
    audited.stop_keeping_files().await
}

#[tokio::test]
async fn rotated_files_are_sealed_and_the_chain_runs_through_them() {
    let (active, _dir) = rotated_log(12, 0).await;
    let files = rotated(&active);
    assert!(files.len() >= 3, "{files:?}");
    for f in &files {
        let mut seal = f.clone().into_os_string();
        seal.push(".seal");
        assert!(Path::new(&seal).exists(), "{} has no seal", f.display());
    }
    let mut all = files.clone();
    all.push(active.clone());
    let seqs = sequences(&all);
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "no record lost or repeated across rotations");
    let report = verify_log(&active, &[]);
    assert!(report.ok(), "{:?}", report.problems);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    assert_eq!(report.files.len(), all.len());
    assert!(report.files[..files.len()].iter().all(|f| f.sealed));
}

#[tokio::test]
async fn a_removed_rotated_file_is_reported_missing() {
    let (active, _dir) = rotated_log(12, 0).await;
    let files = rotated(&active);
    std::fs::remove_file(&files[1]).expect("remove");
    let report = verify_log(&active, &[]);
    let name = files[1]
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_owned();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&name) && p.contains("missing")),
        "{:?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("were removed before it") || p.contains("was removed before it")),
        "{:?}",
        report.problems
    );
}

#[tokio::test]
async fn a_sealed_file_changed_or_cut_short_is_reported() {
    let (active, _dir) = rotated_log(12, 0).await;
    let files = rotated(&active);
    // The last line of the first file removed: its chain still holds inside the file, its seal
    // doesn't.
    let text = std::fs::read_to_string(&files[0]).expect("file");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&files[0], lines.join("\n") + "\n").expect("write");
    let report = verify_log(&active, &[]);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("changed after it was sealed")),
        "{:?}",
        report.problems
    );
}

#[tokio::test]
async fn a_forged_seal_is_reported() {
    let (active, _dir) = rotated_log(12, 0).await;
    let files = rotated(&active);
    let mut seal_path = files[0].clone().into_os_string();
    seal_path.push(".seal");
    let seal = std::fs::read_to_string(&seal_path).expect("seal");
    let mut v: serde_json::Value = serde_json::from_str(&seal).expect("JSON");
    v["records"] = serde_json::json!(v["records"].as_u64().expect("records") - 1);
    std::fs::write(&seal_path, v.to_string()).expect("write");
    let report = verify_log(&active, &[]);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("signature does not verify")),
        "{:?}",
        report.problems
    );
}

#[tokio::test]
async fn retention_keeps_the_newest_files() {
    let (active, _dir) = rotated_log(16, 2).await;
    let files = rotated(&active);
    assert_eq!(files.len(), 2, "{files:?}");
    // What is kept still verifies; the start of the log is gone by retention.
    let report = verify_log(&active, &[]);
    assert!(report.ok(), "{:?}", report.problems);
    assert!(
        report.notes.iter().any(|n| n.contains("removed by retention")),
        "{:?}",
        report.notes
    );
}

#[tokio::test]
async fn reopening_after_the_file_was_moved_loses_and_repeats_nothing() {
    let audited = AuditedServer::start().await;
    let client = once(&audited.server);
    let moved = audited.path().with_extension("log.1");
    for i in 0..20 {
        let name = create(&client, "reopen").await;
        client
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .expect("get");
        if i == 9 {
            // What logrotate does: move the file, then SIGHUP.
            std::fs::rename(audited.path(), &moved).expect("move");
            audited.server.running().reopen_audit_log();
        }
    }
    let (active, _dir) = audited.stop_keeping_files().await;
    let seqs = sequences(&[moved.clone(), active.clone()]);
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
    assert!(read_records(&moved).len() >= 20);
    let report = verify_log(&active, &[moved, active.clone()]);
    assert!(report.ok(), "{:?}", report.problems);
}
