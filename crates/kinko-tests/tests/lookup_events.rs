//! CloudTrail's LookupEvents over the audit trail, through aws-sdk-cloudtrail: "who read this
//! secret", the lookup attributes, time ranges, pages, CloudTrail's errors, authorization, and
//! the index beside the log: kept across restarts (only what is new is read), rebuilt when it is
//! deleted or damaged, and rid of the files retention removes.

use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use kinko_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn attribute(key: LookupAttributeKey, value: &str) -> LookupAttribute {
    LookupAttribute::builder()
        .attribute_key(key)
        .attribute_value(value)
        .build()
        .expect("attribute")
}

async fn secret_read_twice(server: &TestServer, name: &str) -> String {
    let sm = server.client();
    let arn = ok(sm.create_secret().name(name).secret_string("v").send().await)
        .arn
        .expect("arn");
    for _ in 0..2 {
        ok(sm.get_secret_value().secret_id(&arn).send().await);
    }
    arn
}

#[tokio::test]
async fn who_read_this_secret() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let arn = secret_read_twice(server, "lookup/who").await;
    let ct = server.cloudtrail_client();
    let out = ok(ct
        .lookup_events()
        .lookup_attributes(attribute(LookupAttributeKey::ResourceName, &arn))
        .send()
        .await);
    let events = out.events();
    let names: Vec<_> = events.iter().filter_map(|e| e.event_name()).collect();
    assert_eq!(names, ["GetSecretValue", "GetSecretValue", "CreateSecret"]);
    let read = &events[0];
    assert_eq!(read.username(), Some("root"));
    assert_eq!(read.read_only(), Some("true"));
    assert_eq!(read.event_source(), Some("secretsmanager.amazonaws.com"));
    assert_eq!(read.access_key_id(), Some(server.access_key_id()));
    assert!(
        read.resources()
            .iter()
            .any(|r| r.resource_name() == Some(arn.as_str()))
    );
    let record: Value = serde_json::from_str(read.cloud_trail_event().expect("record")).expect("json");
    assert_eq!(record["eventName"], "GetSecretValue");
    assert_eq!(record["eventID"].as_str(), read.event_id());
    assert!(
        record.get("sequence").is_none(),
        "the chain is the file's, not the event's"
    );
    // Newest first.
    let times: Vec<_> = events
        .iter()
        .filter_map(|e| e.event_time())
        .map(DateTime::as_nanos)
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // By event id, exactly that event.
    let one = ok(ct
        .lookup_events()
        .lookup_attributes(attribute(
            LookupAttributeKey::EventId,
            read.event_id().expect("id"),
        ))
        .send()
        .await);
    assert_eq!(one.events().len(), 1);
}

#[tokio::test]
async fn attributes_time_range_and_pages() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    secret_read_twice(server, "lookup/pages").await;
    let ct = server.cloudtrail_client();
    let by = |k: LookupAttributeKey, v: &str| ct.lookup_events().lookup_attributes(attribute(k, v)).send();
    let reads = ok(by(LookupAttributeKey::EventName, "GetSecretValue").await);
    assert_eq!(reads.events().len(), 2);
    let read_only = ok(by(LookupAttributeKey::ReadOnly, "false").await);
    assert!(read_only.events().iter().all(|e| e.read_only() == Some("false")));
    assert!(!read_only.events().is_empty());
    let by_key = ok(by(LookupAttributeKey::AccessKeyId, server.access_key_id()).await);
    assert!(by_key.events().len() >= 3);
    let by_user = ok(by(LookupAttributeKey::Username, "root").await);
    assert!(by_user.events().len() >= 3);
    let by_type = ok(by(LookupAttributeKey::ResourceType, "AWS::SecretsManager::Secret").await);
    assert!(by_type.events().len() >= 3);
    let by_source = ok(by(LookupAttributeKey::EventSource, "secretsmanager.amazonaws.com").await);
    assert!(by_source.events().len() >= 3);
    let none = ok(by(LookupAttributeKey::EventName, "DeleteSecret").await);
    assert!(none.events().is_empty());

    // A range in the past holds nothing.
    let past = ok(ct
        .lookup_events()
        .start_time(DateTime::from_secs(1_000_000))
        .end_time(DateTime::from_secs(2_000_000))
        .send()
        .await);
    assert!(past.events().is_empty());

    // One event a page, every event once.
    let mut token = None;
    let mut ids = Vec::new();
    loop {
        let page = ok(ct
            .lookup_events()
            .lookup_attributes(attribute(
                LookupAttributeKey::EventSource,
                "secretsmanager.amazonaws.com",
            ))
            .max_results(1)
            .set_next_token(token.clone())
            .send()
            .await);
        assert!(page.events().len() <= 1);
        ids.extend(
            page.events()
                .iter()
                .filter_map(|e| e.event_id().map(str::to_owned)),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), by_source.events().len());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

#[tokio::test]
async fn invalid_requests_get_cloudtrails_errors() {
    let audited = AuditedServer::start().await;
    let ct = audited.server.cloudtrail_client();
    let two = ct
        .lookup_events()
        .lookup_attributes(attribute(LookupAttributeKey::EventName, "GetSecretValue"))
        .lookup_attributes(attribute(LookupAttributeKey::Username, "root"))
        .send()
        .await;
    assert_eq!(error_code(two), "InvalidLookupAttributesException");
    let range = ct
        .lookup_events()
        .start_time(DateTime::from_secs(2_000_000))
        .end_time(DateTime::from_secs(1_000_000))
        .send()
        .await;
    assert_eq!(error_code(range), "InvalidTimeRangeException");
    let max = ct.lookup_events().max_results(51).send().await;
    assert_eq!(error_code(max), "InvalidMaxResultsException");
    let token = ct.lookup_events().next_token("not-a-token").send().await;
    assert_eq!(error_code(token), "InvalidNextTokenException");
}

#[tokio::test]
async fn a_token_belongs_to_its_query() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    secret_read_twice(server, "lookup/token").await;
    let ct = server.cloudtrail_client();
    let page = ok(ct.lookup_events().max_results(1).send().await);
    let token = page.next_token().expect("more than one event").to_owned();
    let other = ct
        .lookup_events()
        .lookup_attributes(attribute(LookupAttributeKey::EventName, "GetSecretValue"))
        .next_token(token)
        .send()
        .await;
    assert_eq!(error_code(other), "InvalidNextTokenException");
}

#[tokio::test]
async fn lookup_needs_cloudtrail_lookup_events() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let denied = server.user("no-trail", None).await;
    let r = server.cloudtrail_client_as(&denied).lookup_events().send().await;
    assert_eq!(error_code(r), "AccessDeniedException");
    let policy = allow(&["cloudtrail:LookupEvents"], &["*"]);
    let reader = server.user("trail-reader", Some(&policy)).await;
    let out = ok(server.cloudtrail_client_as(&reader).lookup_events().send().await);
    assert!(
        out.events()
            .iter()
            .any(|e| e.event_name() == Some("LookupEvents") && e.username() == Some(denied.name.as_str())),
        "the denied lookup is an event too"
    );
}

/// The index LookupEvents reads, beside the log.
fn index_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push("-index.sqlite");
    PathBuf::from(p)
}

/// A server on the audit log at `path` (left by an [`AuditedServer`]).
async fn restart_on(path: &Path) -> TestServer {
    let config = Config {
        audit_log: Some(path.to_owned()),
        root_key_base64: Some(AUDIT_ROOT_KEY.to_owned().into()),
        ..dev_config()
    };
    TestServer::start_with(config, TestClock::System).await
}

async fn events_of(server: &TestServer, arn: &str) -> Vec<String> {
    let out = ok(server
        .cloudtrail_client()
        .lookup_events()
        .lookup_attributes(attribute(LookupAttributeKey::ResourceName, arn))
        .send()
        .await);
    out.events()
        .iter()
        .filter_map(|e| e.event_name().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_restart_indexes_only_what_is_new() {
    let audited = AuditedServer::start().await;
    let arn = secret_read_twice(&audited.server, "lookup/restart").await;
    // A lookup indexes everything written before it.
    assert_eq!(events_of(&audited.server, &arn).await.len(), 3);
    let (path, dir) = audited.stop_keeping_files().await;
    let log_size = std::fs::metadata(&path).expect("log").len();
    assert!(index_path(&path).is_file(), "the index is a file beside the log");

    let server = restart_on(&path).await;
    assert_eq!(
        events_of(&server, &arn).await,
        ["GetSecretValue", "GetSecretValue", "CreateSecret"]
    );
    let read = server.running().audit_stats().index_read_bytes;
    assert!(
        read < log_size,
        "the index read {read} bytes at the restart: the log was {log_size}, of which only the last lookup's record was new"
    );
    // What is written after the restart is found as well.
    let after = ok(server
        .client()
        .create_secret()
        .name("lookup/after-restart")
        .secret_string("v")
        .send()
        .await)
    .arn
    .expect("arn");
    assert_eq!(events_of(&server, &after).await, ["CreateSecret"]);
    server.shutdown().await;
    drop(dir);
}

#[tokio::test]
async fn a_deleted_or_corrupt_index_is_rebuilt_from_the_log() {
    for damage in ["deleted", "corrupt", "emptied"] {
        let audited = AuditedServer::start().await;
        let arn = secret_read_twice(&audited.server, &format!("lookup/rebuilt-{damage}")).await;
        assert_eq!(events_of(&audited.server, &arn).await.len(), 3);
        let (path, dir) = audited.stop_keeping_files().await;
        let index = index_path(&path);
        for suffix in ["-wal", "-shm"] {
            let mut p = index.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        match damage {
            "deleted" => std::fs::remove_file(&index).expect("remove the index"),
            "corrupt" => {
                // A page of another file where the database's first page was.
                let mut bytes = std::fs::read(&index).expect("index");
                bytes[..512].copy_from_slice(&[0x5a; 512]);
                std::fs::write(&index, bytes).expect("damage the index");
            }
            _ => std::fs::write(&index, b"").expect("empty the index"),
        }
        let log_size = std::fs::metadata(&path).expect("log").len();

        let server = restart_on(&path).await;
        assert_eq!(
            events_of(&server, &arn).await,
            ["GetSecretValue", "GetSecretValue", "CreateSecret"],
            "index {damage}"
        );
        let read = server.running().audit_stats().index_read_bytes;
        assert!(
            read >= log_size,
            "index {damage}: rebuilt from the whole log ({read} of {log_size} bytes read)"
        );
        server.shutdown().await;
        drop(dir);
    }
}

#[tokio::test]
async fn retention_takes_removed_files_out_of_the_index() {
    // Every batch starts a new file (rotation at 1 byte, at the write after it and at the
    // writer's tick, whichever is first) and two rotated files are kept: the last read's file
    // is kept through the one lookup written after it.
    let audited = AuditedServer::start_with(kinko_server::AuditOptions {
        rotate_bytes: 1,
        keep_files: 2,
        ..kinko_server::AuditOptions::default()
    })
    .await;
    let server = &audited.server;
    let old = secret_read_twice(server, "lookup/retention-old").await;
    let sm = server.client();
    for i in 0..3 {
        ok(sm
            .create_secret()
            .name(format!("lookup/retention-{i}"))
            .secret_string("v")
            .send()
            .await);
    }
    let new = ok(sm
        .create_secret()
        .name("lookup/retention-new")
        .secret_string("v")
        .send()
        .await)
    .arn
    .expect("arn");
    ok(sm.get_secret_value().secret_id(&new).send().await);

    // The old secret's records were in files retention removed: nothing of them is found (and
    // nothing of the index points at them, or the lookup would fail reading them).
    assert!(events_of(server, &old).await.is_empty());
    let found = events_of(server, &new).await;
    assert_eq!(
        found.first().map(String::as_str),
        Some("GetSecretValue"),
        "{found:?}"
    );
    let (_, dir) = audited.stop_keeping_files().await;
    drop(dir);
}
