//! BatchGetSecretValue: by id list or by filters, per-secret errors, paging, limits.

use std::collections::BTreeSet;

use aws_sdk_secretsmanager::types::FilterNameStringType;
use kinko_tests::*;

use crate::{secret, sm};

#[tokio::test]
async fn batch_get_by_id_list_reports_missing_ids_in_errors() {
    let sm = sm();
    let (a, b, missing) = (
        unique_name("batch-a"),
        unique_name("batch-b"),
        unique_name("batch-missing"),
    );
    let (a_arn, a_v) = sm.create_string(&a, "va").await;
    sm.create_string(&b, "vb").await;
    sm.put_string(&b, "vb2").await;
    let req = sm.batch_get_secret_value().secret_id_list(&a_arn);
    let out = ok(req.secret_id_list(&missing).secret_id_list(&b).send().await);
    let values: Vec<(&str, &str)> = out
        .secret_values()
        .iter()
        .map(|v| {
            (
                v.name().unwrap_or_default(),
                v.secret_string().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        values,
        [(a.as_str(), "va"), (b.as_str(), "vb2")],
        "AWSCURRENT values"
    );
    let first = &out.secret_values()[0];
    assert_eq!(first.arn(), Some(a_arn.as_str()));
    assert_eq!(first.version_id(), Some(a_v.as_str()));
    assert_eq!(first.version_stages(), ["AWSCURRENT"]);
    assert!(first.created_date().is_some());
    let errors = out.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].secret_id(), Some(missing.as_str()));
    assert_eq!(errors[0].error_code(), Some("ResourceNotFoundException"));
    assert_eq!(errors[0].message(), Some(NOT_FOUND));
    assert!(out.next_token().is_none());
}

#[tokio::test]
async fn batch_get_reports_secret_scheduled_for_deletion_in_errors() {
    let sm = sm();
    let (live, gone) = (unique_name("batch-live"), unique_name("batch-gone"));
    sm.create_string(&live, "v").await;
    sm.create_string(&gone, "v").await;
    sm.schedule_deletion(&gone).await;
    let req = sm.batch_get_secret_value().secret_id_list(&live);
    let out = ok(req.secret_id_list(&gone).send().await);
    assert_eq!(out.secret_values().len(), 1);
    assert_eq!(out.secret_values()[0].name(), Some(live.as_str()));
    assert_eq!(out.errors().len(), 1);
    let e = &out.errors()[0];
    assert_eq!(e.secret_id(), Some(gone.as_str()));
    assert_eq!(e.error_code(), Some("InvalidRequestException"));
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
}

#[tokio::test]
async fn batch_get_with_filters_paginates() {
    let sm = sm();
    let prefix = unique_name("batchf");
    let mut expected = BTreeSet::new();
    for i in 0..5 {
        let name = format!("{prefix}/s{i}");
        sm.create_string(&name, &format!("value-{i}")).await;
        expected.insert((name, format!("value-{i}")));
    }
    let filters = name_filter(&format!("{prefix}/"));
    let batch = |t| {
        sm.batch_get_secret_value()
            .filters(filters.clone())
            .max_results(2)
            .set_next_token(t)
            .send()
    };
    let pages = follow_pages(batch, |p| p.next_token()).await;
    assert_eq!(pages.len(), 3);
    let mut seen = BTreeSet::new();
    for out in &pages {
        assert!(out.secret_values().len() <= 2, "MaxResults honoured");
        assert!(out.errors().is_empty(), "{:?}", out.errors());
        for v in out.secret_values() {
            assert_eq!(v.version_stages(), ["AWSCURRENT"]);
            let entry = (
                v.name().unwrap_or_default(),
                v.secret_string().unwrap_or_default(),
            );
            let inserted = seen.insert((entry.0.to_owned(), entry.1.to_owned()));
            assert!(inserted, "{v:?} returned twice");
        }
    }
    assert_eq!(seen, expected);
}

/// A batch read is a read: LastAccessedDate is that day's midnight (UTC).
#[tokio::test]
async fn batch_get_records_last_accessed_date() {
    let (sm, name, ..) = secret("batch-accessed", "v").await;
    let out = ok(sm.batch_get_secret_value().secret_id_list(&name).send().await);
    assert_eq!(out.secret_values().len(), 1);
    let accessed = sm.describe(&name).await.last_accessed_date;
    let accessed = accessed.expect("LastAccessedDate recorded by BatchGetSecretValue");
    assert_eq!(accessed.secs() % DAY, 0, "midnight UTC");
}

/// At most 20 ids; MaxResults only with Filters.
#[tokio::test]
async fn batch_get_limits() {
    let sm = sm();
    let mut ids = sm.batch_get_secret_value();
    for _ in 0..21 {
        ids = ids.secret_id_list(unique_name("x"));
    }
    assert_eq!(error_code(ids.send().await), "ValidationException", "21 ids");
    let req = sm.batch_get_secret_value().secret_id_list(unique_name("x"));
    let out = req.max_results(5).send().await;
    assert_eq!(
        error_code(out),
        "InvalidParameterException",
        "MaxResults without Filters"
    );
}

#[tokio::test]
async fn batch_get_needs_exactly_one_of_id_list_and_filters() {
    let (sm, name, ..) = secret("batch-both", "v").await;
    let by_name = filter(FilterNameStringType::Name, &[&name]);
    let both = sm.batch_get_secret_value().secret_id_list(&name).filters(by_name);
    assert_eq!(error_code(both.send().await), "InvalidParameterException", "both");
    let neither = sm.batch_get_secret_value().send().await;
    assert_eq!(error_code(neither), "InvalidParameterException", "neither");
}
