//! ListSecrets: filters (reference §9), sorting, pagination and planned deletions. Every listing is
//! scoped with a `name` filter on a unique prefix, so tests sharing the server don't see each other.

use std::collections::BTreeSet;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SortByType, SortOrderType, Tag};
use kinko_tests::{TestServer, create_string_secret, expect_err, labels, sorted, unique_name};

fn filter(key: FilterNameStringType, values: &[&str]) -> Filter {
    Filter::builder()
        .key(key)
        .set_values(Some(values.iter().map(|v| (*v).to_owned()).collect()))
        .build()
}

fn name_filter(prefix: &str) -> Filter {
    filter(FilterNameStringType::Name, &[prefix])
}

/// Every name ListSecrets returns for `filters` (following NextToken), in order.
async fn names(client: &Client, filters: Vec<Filter>) -> Vec<String> {
    let mut out = vec![];
    let mut next: Option<String> = None;
    for _ in 0..100 {
        let page = client
            .list_secrets()
            .set_filters(Some(filters.clone()))
            .set_next_token(next.clone())
            .send()
            .await
            .expect("ListSecrets");
        out.extend(
            page.secret_list()
                .iter()
                .filter_map(|s| s.name().map(str::to_owned)),
        );
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            return out;
        }
    }
    panic!("ListSecrets pagination does not end");
}

async fn name_set(client: &Client, filters: Vec<Filter>) -> BTreeSet<String> {
    names(client, filters).await.into_iter().collect()
}

fn set(names: &[&String]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).clone()).collect()
}

struct Fixture {
    prefix: String,
    alpha: String,
    beta: String,
    gamma: String,
    delta: String,
    epsilon: String,
}

async fn fixture(client: &Client) -> Fixture {
    let prefix = unique_name("lst");
    let f = Fixture {
        alpha: format!("{prefix}/alpha"),
        beta: format!("{prefix}/beta"),
        gamma: format!("{prefix}/gamma"),
        delta: format!("{prefix}-delta"),
        epsilon: format!("{prefix}/epsilon"),
        prefix,
    };
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    let specs: [(&str, &str, Vec<Tag>); 5] = [
        (
            &f.alpha,
            "a secret",
            vec![tag("env", "prod"), tag("team", "core")],
        ),
        (&f.beta, "an secret", vec![tag("env", "dev")]),
        (&f.gamma, "asecret", vec![]),
        (&f.delta, "thesecret", vec![tag("owner", "Alice")]),
        (&f.epsilon, "one two", vec![]),
    ];
    for (name, description, tags) in specs {
        client
            .create_secret()
            .name(name)
            .description(description)
            .set_tags((!tags.is_empty()).then_some(tags))
            .secret_string("v")
            .send()
            .await
            .expect("CreateSecret");
    }
    f
}

#[tokio::test]
async fn list_filters_by_name_prefix_and_negation() {
    let client = TestServer::start().client();
    let f = fixture(&client).await;
    let p = f.prefix.as_str();
    assert_eq!(
        name_set(&client, vec![name_filter(p)]).await,
        set(&[&f.alpha, &f.beta, &f.gamma, &f.delta, &f.epsilon])
    );
    assert_eq!(
        name_set(&client, vec![name_filter(&format!("{p}/"))]).await,
        set(&[&f.alpha, &f.beta, &f.gamma, &f.epsilon])
    );
    assert_eq!(
        name_set(&client, vec![name_filter(p), name_filter(&format!("!{p}/"))]).await,
        set(&[&f.delta]),
        "filters are ANDed; ! negates"
    );
    assert_eq!(
        name_set(&client, vec![name_filter(&format!("{p}/alpha"))]).await,
        set(&[&f.alpha])
    );
    assert!(
        name_set(&client, vec![name_filter(&p.to_uppercase())])
            .await
            .is_empty(),
        "name is case-sensitive"
    );
    assert!(
        name_set(&client, vec![name_filter(&format!("{p} alpha"))])
            .await
            .is_empty(),
        "name is a plain prefix, not a word search"
    );
    assert_eq!(
        name_set(
            &client,
            vec![filter(
                FilterNameStringType::Name,
                &[&format!("{p}/alpha"), &format!("{p}/beta")]
            )]
        )
        .await,
        set(&[&f.alpha, &f.beta]),
        "values of one filter are ORed"
    );
}

#[tokio::test]
async fn list_filters_by_description_word_prefix() {
    let client = TestServer::start().client();
    let f = fixture(&client).await;
    let scoped =
        |key: FilterNameStringType, values: &[&str]| vec![name_filter(&f.prefix), filter(key, values)];
    use FilterNameStringType::Description as D;
    assert_eq!(
        name_set(&client, scoped(D, &["a"])).await,
        set(&[&f.alpha, &f.beta, &f.gamma]),
        "'a' matches 'a secret', 'an secret', 'asecret' but not 'thesecret'"
    );
    assert_eq!(
        name_set(&client, scoped(D, &["a secret"])).await,
        set(&[&f.alpha, &f.beta]),
        "'a secret' matches 'a secret' and 'an secret' but not 'asecret'"
    );
    assert_eq!(
        name_set(&client, scoped(D, &["A SECRET"])).await,
        set(&[&f.alpha, &f.beta]),
        "description is case-insensitive"
    );
    assert_eq!(name_set(&client, scoped(D, &["o t"])).await, set(&[&f.epsilon]));
    assert_eq!(
        name_set(&client, scoped(D, &["t"])).await,
        set(&[&f.delta, &f.epsilon])
    );
    assert!(
        name_set(&client, scoped(D, &["ecret"])).await.is_empty(),
        "mid-word fragments don't match"
    );
    // Repeated keys are ANDed.
    let mut both = scoped(D, &["one"]);
    both.push(filter(D, &["two"]));
    assert_eq!(name_set(&client, both).await, set(&[&f.epsilon]));
    let mut neither = scoped(D, &["one"]);
    neither.push(filter(D, &["an"]));
    assert!(name_set(&client, neither).await.is_empty());
}

#[tokio::test]
async fn list_filters_by_tag_key_and_value() {
    let client = TestServer::start().client();
    let f = fixture(&client).await;
    let scoped =
        |key: FilterNameStringType, values: &[&str]| vec![name_filter(&f.prefix), filter(key, values)];
    use FilterNameStringType::{TagKey, TagValue};
    assert_eq!(
        name_set(&client, scoped(TagKey, &["env"])).await,
        set(&[&f.alpha, &f.beta])
    );
    assert_eq!(
        name_set(&client, scoped(TagKey, &["en"])).await,
        set(&[&f.alpha, &f.beta]),
        "tag-key is a prefix match"
    );
    assert_eq!(
        name_set(&client, scoped(TagKey, &["team"])).await,
        set(&[&f.alpha])
    );
    assert_eq!(
        name_set(&client, scoped(TagValue, &["prod"])).await,
        set(&[&f.alpha])
    );
    assert_eq!(
        name_set(&client, scoped(TagValue, &["prod", "dev"])).await,
        set(&[&f.alpha, &f.beta])
    );
    assert_eq!(
        name_set(&client, scoped(TagValue, &["Al"])).await,
        set(&[&f.delta])
    );
    assert!(
        name_set(&client, scoped(TagValue, &["alice"])).await.is_empty(),
        "tag-value is case-sensitive"
    );
    assert!(
        name_set(&client, scoped(TagKey, &["prod"])).await.is_empty(),
        "values aren't keys"
    );
}

#[tokio::test]
async fn list_filters_by_all() {
    let client = TestServer::start().client();
    let f = fixture(&client).await;
    let scoped = |values: &[&str]| vec![name_filter(&f.prefix), filter(FilterNameStringType::All, values)];
    assert_eq!(
        name_set(&client, scoped(&["core"])).await,
        set(&[&f.alpha]),
        "tag value"
    );
    assert_eq!(
        name_set(&client, scoped(&["team"])).await,
        set(&[&f.alpha]),
        "tag key"
    );
    assert_eq!(
        name_set(&client, scoped(&["alice"])).await,
        set(&[&f.delta]),
        "case-insensitive"
    );
    // `<prefix>-delta` uses a single kind of separator (names mixing two kinds weren't found by
    // AWS's word search, reference §9).
    assert_eq!(
        name_set(&client, scoped(&["delta"])).await,
        set(&[&f.delta]),
        "name words split on special characters"
    );
    assert_eq!(
        name_set(&client, scoped(&["secret"])).await,
        set(&[&f.alpha, &f.beta]),
        "description words"
    );
    assert!(
        name_set(&client, scoped(&["elta"])).await.is_empty(),
        "mid-word fragment"
    );
}

#[tokio::test]
async fn list_entries_carry_metadata() {
    let client = TestServer::start().client();
    let f = fixture(&client).await;
    let empty = format!("{}/novalue", f.prefix);
    client
        .create_secret()
        .name(&empty)
        .send()
        .await
        .expect("CreateSecret without value");
    let out = client
        .list_secrets()
        .filters(name_filter(&format!("{}/alpha", f.prefix)))
        .send()
        .await
        .expect("ListSecrets");
    assert_eq!(out.secret_list().len(), 1);
    let e = &out.secret_list()[0];
    assert_eq!(e.name(), Some(f.alpha.as_str()));
    assert!(e.arn().is_some_and(|a| a.contains(&f.alpha)));
    assert_eq!(e.description(), Some("a secret"));
    let tags: Vec<(&str, &str)> = e
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    assert_eq!(tags, [("env", "prod"), ("team", "core")]);
    let stages = e
        .secret_versions_to_stages
        .clone()
        .expect("SecretVersionsToStages");
    assert_eq!(stages.len(), 1);
    assert_eq!(
        stages.values().next().map(|v| sorted(v)),
        Some(labels(&["AWSCURRENT"]))
    );
    assert!(e.created_date().is_some() && e.last_changed_date().is_some());
    assert!(e.deleted_date().is_none() && e.kms_key_id().is_none());

    let out = client
        .list_secrets()
        .filters(name_filter(&empty))
        .send()
        .await
        .expect("ListSecrets");
    assert_eq!(out.secret_list().len(), 1);
    let e = &out.secret_list()[0];
    assert!(e.secret_versions_to_stages.is_none(), "no versions: {e:?}");
    assert!(e.tags.is_none() && e.description.is_none(), "{e:?}");
}

#[tokio::test]
async fn list_sort_order_and_sort_by_name() {
    let client = TestServer::start().client();
    let prefix = unique_name("sort");
    let order = ["c", "a", "b"].map(|s| format!("{prefix}/{s}"));
    for n in &order {
        create_string_secret(&client, n, "v").await;
    }
    let listed = |sort_by: Option<SortByType>, sort_order: Option<SortOrderType>| {
        let client = client.clone();
        let prefix = prefix.clone();
        async move {
            let out = client
                .list_secrets()
                .filters(name_filter(&prefix))
                .set_sort_by(sort_by)
                .set_sort_order(sort_order)
                .send()
                .await
                .expect("ListSecrets");
            out.secret_list()
                .iter()
                .filter_map(|s| s.name().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    let created: Vec<String> = order.to_vec();
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(listed(None, None).await, created, "default: oldest first");
    assert_eq!(listed(None, Some(SortOrderType::Asc)).await, created);
    assert_eq!(listed(None, Some(SortOrderType::Desc)).await, reversed);
    assert_eq!(
        listed(Some(SortByType::CreatedDate), Some(SortOrderType::Desc)).await,
        reversed
    );
    let mut by_name = created.clone();
    by_name.sort();
    assert_eq!(
        listed(Some(SortByType::Name), Some(SortOrderType::Asc)).await,
        by_name
    );
    by_name.reverse();
    assert_eq!(
        listed(Some(SortByType::Name), Some(SortOrderType::Desc)).await,
        by_name
    );
}

#[tokio::test]
async fn list_paginates_over_more_than_100_secrets_exactly_once() {
    let client = TestServer::start().client();
    let prefix = unique_name("page");
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..5 {
        let client = client.clone();
        let prefix = prefix.clone();
        tasks.spawn(async move {
            for i in 0..21 {
                create_string_secret(&client, &format!("{prefix}/s{:03}", chunk * 21 + i), "v").await;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("creating task");
    }
    let expected: BTreeSet<String> = (0..105).map(|i| format!("{prefix}/s{i:03}")).collect();

    // Default page size is 100.
    let first = client
        .list_secrets()
        .filters(name_filter(&prefix))
        .send()
        .await
        .expect("ListSecrets");
    assert_eq!(first.secret_list().len(), 100);
    let token = first.next_token().expect("NextToken after 100").to_owned();
    let second = client
        .list_secrets()
        .filters(name_filter(&prefix))
        .next_token(token)
        .send()
        .await
        .expect("ListSecrets page 2");
    assert_eq!(second.secret_list().len(), 5);
    assert!(second.next_token().is_none());

    // Small pages: every secret exactly once.
    let mut seen = vec![];
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_secrets()
            .filters(name_filter(&prefix))
            .max_results(7)
            .set_next_token(next.clone())
            .send()
            .await
            .expect("ListSecrets");
        pages += 1;
        assert!(page.secret_list().len() <= 7);
        seen.extend(
            page.secret_list()
                .iter()
                .filter_map(|s| s.name().map(str::to_owned)),
        );
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
        assert!(pages < 50, "pagination does not end");
    }
    assert_eq!(seen.len(), 105, "no duplicates");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);

    // The SDK's own paginator agrees.
    let pages: Vec<_> = client
        .list_secrets()
        .filters(name_filter(&prefix))
        .into_paginator()
        .page_size(40)
        .send()
        .try_collect()
        .await
        .expect("paginator");
    assert_eq!(pages.len(), 3);
    let all: BTreeSet<String> = pages
        .iter()
        .flat_map(|p| p.secret_list().iter().filter_map(|s| s.name().map(str::to_owned)))
        .collect();
    assert_eq!(all, expected);
}

#[tokio::test]
async fn list_include_planned_deletion() {
    let client = TestServer::start().client();
    let prefix = unique_name("planned");
    let live = format!("{prefix}/live");
    let doomed = format!("{prefix}/doomed");
    create_string_secret(&client, &live, "v").await;
    create_string_secret(&client, &doomed, "v").await;
    client
        .delete_secret()
        .secret_id(&doomed)
        .send()
        .await
        .expect("DeleteSecret");
    assert_eq!(names(&client, vec![name_filter(&prefix)]).await, [live.as_str()]);
    let out = client
        .list_secrets()
        .filters(name_filter(&prefix))
        .include_planned_deletion(true)
        .send()
        .await
        .expect("ListSecrets IncludePlannedDeletion");
    let listed: BTreeSet<&str> = out.secret_list().iter().filter_map(|s| s.name()).collect();
    assert_eq!(listed, BTreeSet::from([live.as_str(), doomed.as_str()]));
    let entry = out
        .secret_list()
        .iter()
        .find(|s| s.name() == Some(doomed.as_str()))
        .expect("scheduled secret listed");
    assert!(entry.deleted_date().is_some());
    let out = client
        .list_secrets()
        .filters(name_filter(&prefix))
        .include_planned_deletion(false)
        .send()
        .await
        .expect("ListSecrets");
    assert_eq!(out.secret_list().len(), 1);
}

#[tokio::test]
async fn list_invalid_next_token() {
    let client = TestServer::start().client();
    let e = expect_err!(client.list_secrets().next_token("garbage-token").send().await);
    assert!(e.is_invalid_next_token_exception(), "{e:?}");
}

#[tokio::test]
async fn list_rejects_bad_filters_and_limits() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .list_secrets()
            .filters(filter(FilterNameStringType::from("invalid"), &["x"]))
            .send()
            .await
    );
    assert_eq!(
        e.meta().code(),
        Some("ValidationException"),
        "bad filter key: {e:?}"
    );
    let e = expect_err!(
        client
            .list_secrets()
            .filters(filter(FilterNameStringType::Name, &["a*b"]))
            .send()
            .await
    );
    assert_eq!(
        e.meta().code(),
        Some("ValidationException"),
        "bad filter value: {e:?}"
    );
    for max in [0, 101] {
        let e = expect_err!(client.list_secrets().max_results(max).send().await);
        assert_eq!(
            e.meta().code(),
            Some("ValidationException"),
            "MaxResults {max}: {e:?}"
        );
    }
}
