//! A call is answered only once its record is on disk; when the record cannot be written (a full
//! disk: the log turned into `/dev/full`) the call fails with its service's internal error, reads
//! return no value, and while the log stays unwritable calls are refused before they run, so no
//! write takes effect. The server recovers by itself once the log can be written again.

use std::path::Path;

use kinko_tests::*;

use crate::{create, once};

/// Puts `/dev/full` (every write fails with ENOSPC) where the log is.
fn fill_disk(log: &Path) {
    let link = log.with_extension("full");
    std::os::unix::fs::symlink("/dev/full", &link).expect("symlink");
    std::fs::rename(&link, log).expect("replace the log");
}

/// Puts a writable empty file where the log is.
fn free_disk(log: &Path) {
    let fresh = log.with_extension("fresh");
    std::fs::write(&fresh, b"").expect("new file");
    std::fs::rename(&fresh, log).expect("replace the log");
}

fn code<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

#[tokio::test]
async fn every_answered_call_is_in_the_log_when_it_is_answered() {
    let audited = AuditedServer::start().await;
    let client = once(&audited.server);
    for _ in 0..5 {
        let name = create(&client, "durable").await;
        let out = client
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
            .expect("get");
        // Read the file while the server runs: the record is there already.
        let id = {
            use aws_sdk_secretsmanager::operation::RequestId as _;
            out.request_id().expect("request id").to_owned()
        };
        let records = read_records(audited.path());
        assert!(
            records.iter().any(|r| r["requestID"] == id.as_str()),
            "the answered GetSecretValue {id} has no record on disk yet"
        );
    }
    audited.stop().await;
}

#[tokio::test]
async fn a_full_disk_fails_reads_and_refuses_writes_until_it_recovers() {
    let audited = AuditedServer::start().await;
    let client = once(&audited.server);
    let kept = create(&client, "full-disk-kept").await;

    fill_disk(audited.path());
    // A read whose record cannot be written returns no value.
    let err = client
        .get_secret_value()
        .secret_id(&kept)
        .send()
        .await
        .expect_err("a read without its record");
    let err = err.into_service_error();
    assert_eq!(code(&err), Some("InternalServiceError"), "{err:?}");
    assert!(!audited.server.running().audit_stats().healthy);

    // While the log can't be written, a write is refused before it runs.
    let refused = unique_name("full-disk-refused");
    let err = client
        .create_secret()
        .name(&refused)
        .secret_string("never-stored")
        .send()
        .await
        .expect_err("a write without its record");
    assert_eq!(code(&err.into_service_error()), Some("InternalServiceError"));
    let kms = audited.server.kms_client();
    let err = kms.list_keys().send().await.expect_err("KMS refused too");
    assert_eq!(code(&err.into_service_error()), Some("KMSInternalException"));

    free_disk(audited.path());
    // The first call after the disk recovers is still refused (it was refused before it ran) but
    // its record is written: the trail has recovered, and the next calls run.
    let _ = client.list_secrets().send().await;
    assert!(audited.server.running().audit_stats().healthy);
    let err = client
        .describe_secret()
        .secret_id(&refused)
        .send()
        .await
        .expect_err("the refused CreateSecret took no effect");
    assert_eq!(code(&err.into_service_error()), Some("ResourceNotFoundException"));
    let value = client
        .get_secret_value()
        .secret_id(&kept)
        .send()
        .await
        .expect("get again");
    assert_eq!(value.secret_string(), Some("audit-trail-value"));
    assert!(audited.server.running().audit_stats().failures >= 1);

    // The new file continues the chain of the old one.
    let (path, _dir) = audited.stop_keeping_files().await;
    let records = read_records(&path);
    assert!(records[0]["sequence"].as_u64().expect("sequence") > 1);
    let names: Vec<&str> = records.iter().filter_map(|r| r["eventName"].as_str()).collect();
    assert!(names.contains(&"GetSecretValue"), "{names:?}");
    assert!(!names.contains(&"CreateSecret"), "{names:?}");
}

#[tokio::test]
async fn a_removed_log_is_created_again_and_the_chain_continues() {
    let audited = AuditedServer::start().await;
    let client = once(&audited.server);
    create(&client, "removed-before").await;
    let before = read_records(audited.path());
    let last = before.last().expect("a record")["sequence"]
        .as_u64()
        .expect("sequence");
    std::fs::remove_file(audited.path()).expect("remove the log");

    let name = create(&client, "removed-after").await;
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    assert!(audited.path().exists(), "the log was created again");
    let (path, _dir) = audited.stop_keeping_files().await;
    let after = read_records(&path);
    assert_eq!(after[0]["sequence"].as_u64(), Some(last + 1));
    assert!(after.iter().any(|r| r["eventName"] == "GetSecretValue"));
    // The new file verifies on its own, starting where the removed one ended.
    let report = verify_log(&path, &[]);
    assert!(report.ok(), "{:?}", report.problems);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(&format!("starts at record {}", last + 1))),
        "{:?}",
        report.notes
    );
}
