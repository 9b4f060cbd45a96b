//! Versions: PutSecretValue and the labels it moves (sequences recorded from real AWS, reference
//! §5), ListSecretVersionIds, and concurrent writers.

use std::collections::BTreeMap;

use aws_smithy_types::Blob;
use kinko_tests::*;

use crate::{secret, sm};

/// create(v1) -> put(v2) -> put(v3): v1 no labels, v2 AWSPREVIOUS, v3 AWSCURRENT [S].
#[tokio::test]
async fn put_moves_current_to_previous_and_drops_older_labels() {
    let (sm, name, arn, v1) = secret("put-chain", "one").await;
    let v2 = token();
    let req = sm.put_secret_value().secret_id(&arn).client_request_token(&v2);
    let out = ok(req.secret_string("two").send().await);
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert_eq!(out.version_stages(), ["AWSCURRENT"]);
    let expected = stage_map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])]);
    assert_eq!(sm.stages(&name).await, expected);
    let v3 = sm.put_string(&name, "three").await;
    let expected = stage_map(&[(&v2, &["AWSPREVIOUS"]), (&v3, &["AWSCURRENT"])]);
    assert_eq!(
        sm.stages(&name).await,
        expected,
        "v1 lost every label and is hidden"
    );
    let labelled = [
        (v2.clone(), Some(labels(&["AWSPREVIOUS"]))),
        (v3.clone(), Some(labels(&["AWSCURRENT"]))),
    ];
    assert_eq!(sm.version_list(&name, false).await, labelled);
    let mut all = vec![(v1, None)];
    all.extend(labelled);
    let note = "deprecated versions only with IncludeDeprecated, and without VersionStages";
    assert_eq!(sm.version_list(&name, true).await, all, "{note}");
    for (stage, value) in [("AWSCURRENT", "three"), ("AWSPREVIOUS", "two")] {
        assert_eq!(
            sm.get_stage(&name, stage).await.secret_string(),
            Some(value),
            "{stage}"
        );
    }
}

#[tokio::test]
async fn put_pending_leaves_current_alone() {
    let (sm, name, _, v1) = secret("put-pending", "one").await;
    let v2 = token();
    let req = sm.put_secret_value().secret_id(&name).client_request_token(&v2);
    let out = ok(req.secret_string("two").version_stages("AWSPENDING").send().await);
    assert_eq!(out.version_stages(), ["AWSPENDING"]);
    let expected = stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, expected);
    assert_eq!(sm.value(&name).await, "one");
    let pending = sm.get_stage(&name, "AWSPENDING").await;
    assert_eq!(pending.secret_string(), Some("two"));
    assert_eq!(pending.version_stages(), ["AWSPENDING"]);
}

/// put(v2, [one,two,three]) then put(v3, [one,two,three,four]): v2 loses all labels; with
/// put(v3, [one,two,four]) v2 keeps "three" [S].
#[tokio::test]
async fn put_custom_label_sets_take_labels_from_older_versions() {
    let (sm, name, _, v1) = secret("put-custom-all", "v1").await;
    let v2 = sm.put_staged(&name, "v2", &["one", "two", "three"]).await;
    let v3 = sm.put_staged(&name, "v3", &["one", "two", "three", "four"]).await;
    let expected = stage_map(&[(&v1, &["AWSCURRENT"]), (&v3, &["four", "one", "three", "two"])]);
    assert_eq!(sm.stages(&name).await, expected);
    assert!(sm.version_list(&name, true).await.contains(&(v2, None)));

    let name = unique_name("put-custom-some");
    let (_, v1) = sm.create_string(&name, "v1").await;
    let v2 = sm.put_staged(&name, "v2", &["one", "two", "three"]).await;
    let v3 = sm.put_staged(&name, "v3", &["one", "two", "four"]).await;
    let expected = stage_map(&[
        (&v1, &["AWSCURRENT"]),
        (&v2, &["three"]),
        (&v3, &["four", "one", "two"]),
    ]);
    assert_eq!(sm.stages(&name).await, expected);
    assert_eq!(sm.get_stage(&name, "three").await.secret_string(), Some("v2"));
}

/// The first value of an empty secret becomes AWSCURRENT, whatever the labels asked; with
/// UpdateSecret too.
#[tokio::test]
async fn first_version_of_an_empty_secret_is_always_current() {
    let sm = sm();
    let name = unique_name("put-empty-pending");
    sm.create_empty(&name).await;
    let v1 = sm.put_staged(&name, "v1", &["AWSPENDING"]).await;
    let expected = stage_map(&[(&v1, &["AWSCURRENT", "AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, expected);
    assert_eq!(sm.value(&name).await, "v1");
    let name = unique_name("update-empty");
    sm.create_empty(&name).await;
    let update = sm.update_secret().secret_id(&name).secret_string("first");
    let v = ok(update.send().await).version_id.expect("VersionId");
    assert_eq!(sm.stages(&name).await, stage_map(&[(&v, &["AWSCURRENT"])]));
}

#[tokio::test]
async fn list_secrets_hides_deprecated_versions() {
    let (sm, name, ..) = secret("put-listed", "v1").await;
    let v2 = sm.put_string(&name, "v2").await;
    let v3 = sm.put_string(&name, "v3").await;
    let out = ok(sm.list_secrets().filters(name_filter(&name)).send().await);
    assert_eq!(out.secret_list().len(), 1);
    let map = out.secret_list()[0].secret_versions_to_stages.clone();
    let map = map.expect("SecretVersionsToStages").into_iter();
    let listed: BTreeMap<String, Vec<String>> = map.map(|(k, v)| (k, sorted(&v))).collect();
    assert_eq!(
        listed,
        stage_map(&[(&v2, &["AWSPREVIOUS"]), (&v3, &["AWSCURRENT"])])
    );
}

/// A retry with the same token changes nothing, even once the version is AWSPREVIOUS (its labels
/// are returned); another value is ResourceExists.
#[tokio::test]
async fn put_retry_with_same_token_is_idempotent() {
    let (sm, name, arn, v1) = secret("put-idem", "one").await;
    let v2 = token();
    let put = |token: &str, value: &str| {
        let req = sm.put_secret_value().secret_id(&name).client_request_token(token);
        req.secret_string(value).send()
    };
    for attempt in 0..2 {
        let out = put(&v2, "two").await;
        let out = out.unwrap_or_else(|e| panic!("PutSecretValue attempt {attempt}: {e:?}"));
        assert_eq!(out.version_id(), Some(v2.as_str()));
        assert_eq!(out.version_stages(), ["AWSCURRENT"]);
    }
    let expected = stage_map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])]);
    assert_eq!(sm.stages(&name).await, expected, "the retry changed nothing");
    let out = ok(put(&v1, "one").await);
    assert_eq!(out.version_stages(), ["AWSPREVIOUS"]);
    assert_eq!(sm.stages(&name).await, expected);
    let different = outcome(put(&v2, "different").await);
    assert_eq!(
        different,
        failed("ResourceExistsException", &token_in_use(&v2, &arn))
    );
}

#[tokio::test]
async fn put_binary_value_round_trips() {
    let (sm, name, ..) = secret("put-binary", "string first").await;
    let bytes = vec![0u8, 159, 146, 150, 255];
    let req = sm
        .put_secret_value()
        .secret_id(&name)
        .secret_binary(Blob::new(bytes.clone()));
    ok(req.send().await);
    let got = sm.get(&name).await;
    assert_eq!(got.secret_binary().map(|b| b.as_ref()), Some(bytes.as_slice()));
    assert!(got.secret_string().is_none());
    let prev = sm.get_stage(&name, "AWSPREVIOUS").await;
    assert_eq!(prev.secret_string(), Some("string first"));
}

/// No value is InvalidRequest, both values InvalidParameter; nothing is added.
#[tokio::test]
async fn put_without_value_is_invalid_request() {
    let (sm, name, ..) = secret("put-novalue", "v").await;
    let put = || sm.put_secret_value().secret_id(&name);
    assert_eq!(error_code(put().send().await), "InvalidRequestException");
    let both = put().secret_string("s").secret_binary(Blob::new("b"));
    let both = both.send().await;
    assert_eq!(error_code(both), "InvalidParameterException", "both values");
    assert_eq!(sm.stages(&name).await.len(), 1, "nothing was added");
}

#[tokio::test]
async fn put_oversized_value_is_validation_error() {
    let (sm, name, ..) = secret("put-big", "v").await;
    let big = sm.put_secret_value().secret_id(&name);
    let big = big.secret_string("x".repeat(65_537));
    assert_eq!(error_code(big.send().await), "ValidationException");
    assert_eq!(sm.stages(&name).await.len(), 1, "nothing was added");
}

/// AWSCURRENT and 20 more labels are too many; 19 more fit.
#[tokio::test]
async fn put_beyond_20_labels_is_limit_exceeded() {
    let (sm, name, _, v1) = secret("put-labels", "v").await;
    let twenty: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
    let refs: Vec<&str> = twenty.iter().map(String::as_str).collect();
    let req = sm.put_secret_value().secret_id(&name).secret_string("v2");
    let out = req.set_version_stages(Some(twenty.clone())).send().await;
    assert_eq!(
        error_code(out),
        "LimitExceededException",
        "AWSCURRENT + 20 labels"
    );
    assert_eq!(sm.stages(&name).await, stage_map(&[(&v1, &["AWSCURRENT"])]));
    sm.put_staged(&name, "v2", &refs[..19]).await;
    let count: usize = sm.stages(&name).await.values().map(Vec::len).sum();
    assert_eq!(count, 20);
}

#[tokio::test]
async fn list_versions_oldest_first_with_default_key() {
    let (sm, name, arn, v1) = secret("lsv", "v1").await;
    let v2 = sm.put_string(&name, "v2").await;
    let v3 = sm.put_staged(&name, "v3", &["custom"]).await;
    let out = sm.versions(&name, false).await;
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert!(out.next_token().is_none());
    let ids: Vec<&str> = out.versions().iter().filter_map(|v| v.version_id()).collect();
    assert_eq!(ids, [v1.as_str(), v2.as_str(), v3.as_str()], "oldest first");
    let mut last = None;
    for v in out.versions() {
        assert_eq!(v.kms_key_ids(), ["DefaultEncryptionKey"], "{v:?}");
        let created = v.created_date().expect("CreatedDate");
        if let Some(prev) = last {
            assert!(created >= prev, "CreatedDate ascending");
        }
        last = Some(created);
        assert!(v.last_accessed_date().is_none(), "never read");
    }
    let stages: Vec<_> = out
        .versions()
        .iter()
        .map(|v| sorted(v.version_stages()))
        .collect();
    assert_eq!(
        stages,
        [
            labels(&["AWSPREVIOUS"]),
            labels(&["AWSCURRENT"]),
            labels(&["custom"])
        ]
    );
}

#[tokio::test]
async fn list_versions_paginates() {
    let (sm, name, _, v1) = secret("lsv-pages", "v").await;
    let mut expected = vec![v1];
    for i in 0..6 {
        expected.push(sm.put_staged(&name, "v", &[&format!("label{i}")]).await);
    }
    let list = |t| {
        sm.list_secret_version_ids()
            .secret_id(&name)
            .max_results(3)
            .set_next_token(t)
            .send()
    };
    let pages = follow_pages(list, |p| p.next_token()).await;
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p.versions().len() <= 3));
    let ids = pages
        .iter()
        .flat_map(|p| p.versions().iter().filter_map(|v| v.version_id()));
    let seen: Vec<String> = ids.map(str::to_owned).collect();
    assert_eq!(seen, expected, "every version exactly once, oldest first");
}

#[tokio::test]
async fn list_versions_invalid_next_token() {
    let (sm, name, ..) = secret("lsv-token", "v").await;
    let req = sm.list_secret_version_ids().secret_id(&name);
    let req = req.next_token("not-a-token");
    assert_eq!(error_code(req.send().await), "InvalidNextTokenException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_all_land_without_losing_labels() {
    let (sm, name, _, v1) = secret("put-concurrent", "v0").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (sm, name) = (sm.clone(), name.clone());
        tasks.spawn(async move { sm.put_string(&name, &format!("v{}", i + 1)).await });
    }
    let mut written = vec![v1];
    while let Some(r) = tasks.join_next().await {
        written.push(r.expect("put task"));
    }
    let mut ids: Vec<String> = sm
        .version_list(&name, true)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    written.sort();
    assert_eq!(
        ids, written,
        "every concurrent put created its version, none lost"
    );
    let stages = sm.stages(&name).await;
    assert_eq!(
        stages.len(),
        2,
        "exactly one AWSCURRENT and one AWSPREVIOUS: {stages:?}"
    );
    let mut flat: Vec<&str> = stages.values().flatten().map(String::as_str).collect();
    flat.sort();
    assert_eq!(flat, ["AWSCURRENT", "AWSPREVIOUS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_make_one_secret() {
    let sm = sm();
    let name = unique_name("create-race");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (sm, name) = (sm.clone(), name.clone());
        tasks.spawn(async move {
            let req = sm.create_secret().name(&name).secret_string(format!("v{i}"));
            let out = req.send().await;
            out.map(|o| o.arn.unwrap_or_default())
                .map_err(|e| e.into_service_error())
        });
    }
    let mut arns = vec![];
    while let Some(r) = tasks.join_next().await {
        match r.expect("create task") {
            Ok(arn) => arns.push(arn),
            Err(e) => assert!(e.is_resource_exists_exception(), "{e:?}"),
        }
    }
    assert_eq!(arns.len(), 1, "exactly one CreateSecret wins: {arns:?}");
    let versions = sm.version_list(&name, true).await;
    assert_eq!(versions.len(), 1, "{versions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tagging_loses_no_tag() {
    let (sm, name, ..) = secret("tag-race", "v").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (sm, name) = (sm.clone(), name.clone());
        tasks.spawn(async move {
            let req = sm
                .tag_resource()
                .secret_id(&name)
                .tags(tag(&format!("k{i}"), &format!("{i}")));
            req.send()
                .await
                .unwrap_or_else(|e| panic!("concurrent TagResource {i}: {e:?}"));
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("tag task");
    }
    let d = sm.describe(&name).await;
    let mut keys: Vec<&str> = d.tags().iter().filter_map(|t| t.key()).collect();
    keys.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
}
