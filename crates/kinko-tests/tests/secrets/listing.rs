//! ListSecrets: filters (reference §9), sorting, pagination and planned deletions. Every listing is
//! scoped with a `name` filter on a unique prefix, so tests sharing the server don't see each other.

use std::collections::BTreeSet;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType as Key, SortByType, SortOrderType};
use kinko_tests::*;

use crate::sm;

/// Every name ListSecrets returns for `filters` (following NextToken), in order.
async fn names(sm: &Client, filters: Vec<Filter>) -> Vec<String> {
    let page = |token| {
        sm.list_secrets()
            .set_filters(Some(filters.clone()))
            .set_next_token(token)
            .send()
    };
    let pages = follow_pages(page, |p| p.next_token()).await;
    pages.iter().flat_map(|p| page_names(p.secret_list())).collect()
}

/// The names of the entries of a ListSecrets page.
fn page_names(entries: &[aws_sdk_secretsmanager::types::SecretListEntry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|s| s.name().map(str::to_owned))
        .collect()
}

async fn name_set(sm: &Client, filters: Vec<Filter>) -> BTreeSet<String> {
    names(sm, filters).await.into_iter().collect()
}

fn set(names: &[&String]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).clone()).collect()
}

/// Five secrets under a unique prefix, with descriptions and tags to filter on.
struct Fixture {
    prefix: String,
    alpha: String,
    beta: String,
    gamma: String,
    delta: String,
    epsilon: String,
}

impl Fixture {
    /// The name filter on the prefix, and a filter `key` = `values`.
    fn scoped(&self, key: Key, values: &[&str]) -> Vec<Filter> {
        vec![name_filter(&self.prefix), filter(key, values)]
    }
}

async fn fixture(sm: &Client) -> Fixture {
    let prefix = unique_name("lst");
    let f = Fixture {
        alpha: format!("{prefix}/alpha"),
        beta: format!("{prefix}/beta"),
        gamma: format!("{prefix}/gamma"),
        delta: format!("{prefix}-delta"),
        epsilon: format!("{prefix}/epsilon"),
        prefix,
    };
    let specs = [
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
        let req = sm.create_secret().name(name).description(description);
        let req = req.set_tags((!tags.is_empty()).then_some(tags));
        ok(req.secret_string("v").send().await);
    }
    f
}

#[tokio::test]
async fn list_filters_by_name_prefix_and_negation() {
    let sm = sm();
    let f = fixture(&sm).await;
    let p = f.prefix.as_str();
    let all = set(&[&f.alpha, &f.beta, &f.gamma, &f.delta, &f.epsilon]);
    assert_eq!(name_set(&sm, vec![name_filter(p)]).await, all);
    let slash = set(&[&f.alpha, &f.beta, &f.gamma, &f.epsilon]);
    assert_eq!(name_set(&sm, vec![name_filter(&format!("{p}/"))]).await, slash);
    let negated = vec![name_filter(p), name_filter(&format!("!{p}/"))];
    assert_eq!(
        name_set(&sm, negated).await,
        set(&[&f.delta]),
        "filters are ANDed; ! negates"
    );
    let alpha = vec![name_filter(&format!("{p}/alpha"))];
    assert_eq!(name_set(&sm, alpha).await, set(&[&f.alpha]));
    let upper = name_set(&sm, vec![name_filter(&p.to_uppercase())]).await;
    assert!(upper.is_empty(), "name is case-sensitive");
    let words = name_set(&sm, vec![name_filter(&format!("{p} alpha"))]).await;
    assert!(words.is_empty(), "name is a plain prefix, not a word search");
    let either = vec![filter(Key::Name, &[&format!("{p}/alpha"), &format!("{p}/beta")])];
    let both = set(&[&f.alpha, &f.beta]);
    assert_eq!(name_set(&sm, either).await, both, "values of one filter are ORed");
}

#[tokio::test]
async fn list_filters_by_description_word_prefix() {
    let sm = sm();
    let f = fixture(&sm).await;
    let d = |values: &[&str]| f.scoped(Key::Description, values);
    let note = "'a' matches 'a secret', 'an secret', 'asecret' but not 'thesecret'";
    assert_eq!(
        name_set(&sm, d(&["a"])).await,
        set(&[&f.alpha, &f.beta, &f.gamma]),
        "{note}"
    );
    let note = "'a secret' matches 'a secret' and 'an secret' but not 'asecret'";
    assert_eq!(
        name_set(&sm, d(&["a secret"])).await,
        set(&[&f.alpha, &f.beta]),
        "{note}"
    );
    let note = "description is case-insensitive";
    assert_eq!(
        name_set(&sm, d(&["A SECRET"])).await,
        set(&[&f.alpha, &f.beta]),
        "{note}"
    );
    assert_eq!(name_set(&sm, d(&["o t"])).await, set(&[&f.epsilon]));
    assert_eq!(name_set(&sm, d(&["t"])).await, set(&[&f.delta, &f.epsilon]));
    assert!(
        name_set(&sm, d(&["ecret"])).await.is_empty(),
        "mid-word fragments don't match"
    );
    // Repeated keys are ANDed.
    let mut both = d(&["one"]);
    both.push(filter(Key::Description, &["two"]));
    assert_eq!(name_set(&sm, both).await, set(&[&f.epsilon]));
    let mut neither = d(&["one"]);
    neither.push(filter(Key::Description, &["an"]));
    assert!(name_set(&sm, neither).await.is_empty());
}

#[tokio::test]
async fn list_filters_by_tag_key_and_value() {
    let sm = sm();
    let f = fixture(&sm).await;
    let listed = |key: Key, values: &'static [&'static str]| name_set(&sm, f.scoped(key, values));
    assert_eq!(listed(Key::TagKey, &["env"]).await, set(&[&f.alpha, &f.beta]));
    let prefix = listed(Key::TagKey, &["en"]).await;
    assert_eq!(prefix, set(&[&f.alpha, &f.beta]), "tag-key is a prefix match");
    assert_eq!(listed(Key::TagKey, &["team"]).await, set(&[&f.alpha]));
    assert_eq!(listed(Key::TagValue, &["prod"]).await, set(&[&f.alpha]));
    assert_eq!(
        listed(Key::TagValue, &["prod", "dev"]).await,
        set(&[&f.alpha, &f.beta])
    );
    assert_eq!(listed(Key::TagValue, &["Al"]).await, set(&[&f.delta]));
    assert!(
        listed(Key::TagValue, &["alice"]).await.is_empty(),
        "tag-value is case-sensitive"
    );
    assert!(
        listed(Key::TagKey, &["prod"]).await.is_empty(),
        "values aren't keys"
    );
}

#[tokio::test]
async fn list_filters_by_all() {
    let sm = sm();
    let f = fixture(&sm).await;
    let all = |values: &'static [&'static str]| name_set(&sm, f.scoped(Key::All, values));
    assert_eq!(all(&["core"]).await, set(&[&f.alpha]), "tag value");
    assert_eq!(all(&["team"]).await, set(&[&f.alpha]), "tag key");
    assert_eq!(all(&["alice"]).await, set(&[&f.delta]), "case-insensitive");
    // `<prefix>-delta` uses a single kind of separator (names mixing two kinds weren't found by
    // AWS's word search, reference §9).
    assert_eq!(
        all(&["delta"]).await,
        set(&[&f.delta]),
        "name words split on special characters"
    );
    assert_eq!(
        all(&["secret"]).await,
        set(&[&f.alpha, &f.beta]),
        "description words"
    );
    assert!(all(&["elta"]).await.is_empty(), "mid-word fragment");
}

#[tokio::test]
async fn list_entries_carry_metadata() {
    let sm = sm();
    let f = fixture(&sm).await;
    let empty = format!("{}/novalue", f.prefix);
    sm.create_empty(&empty).await;
    let alpha = name_filter(&format!("{}/alpha", f.prefix));
    let out = ok(sm.list_secrets().filters(alpha).send().await);
    assert_eq!(out.secret_list().len(), 1);
    let e = &out.secret_list()[0];
    assert_eq!(e.name(), Some(f.alpha.as_str()));
    assert!(e.arn().is_some_and(|a| a.contains(&f.alpha)));
    assert_eq!(e.description(), Some("a secret"));
    let tags = tag_pairs(e.tags());
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
    let out = ok(sm.list_secrets().filters(name_filter(&empty)).send().await);
    assert_eq!(out.secret_list().len(), 1);
    let e = &out.secret_list()[0];
    assert!(e.secret_versions_to_stages.is_none(), "no versions: {e:?}");
    assert!(e.tags.is_none() && e.description.is_none(), "{e:?}");
}

#[tokio::test]
async fn list_sort_order_and_sort_by_name() {
    let sm = sm();
    let prefix = unique_name("sort");
    let created = ["c", "a", "b"].map(|s| format!("{prefix}/{s}")).to_vec();
    for n in &created {
        sm.create_string(n, "v").await;
    }
    let listed = |by: Option<SortByType>, order: Option<SortOrderType>| {
        let req = sm.list_secrets().filters(name_filter(&prefix));
        let req = req.set_sort_by(by).set_sort_order(order);
        async move {
            let out = ok(req.send().await);
            out.secret_list()
                .iter()
                .filter_map(|s| s.name().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(listed(None, None).await, created, "default: oldest first");
    assert_eq!(listed(None, Some(SortOrderType::Asc)).await, created);
    assert_eq!(listed(None, Some(SortOrderType::Desc)).await, reversed);
    let by_date = listed(Some(SortByType::CreatedDate), Some(SortOrderType::Desc)).await;
    assert_eq!(by_date, reversed);
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

/// 105 secrets: pages of 100 by default; small pages give every secret exactly once; the SDK's
/// own paginator agrees.
/// Creates the 21 secrets `<prefix>NNN` from `first` on.
async fn create_chunk(sm: Client, prefix: String, first: usize) {
    for i in first..first + 21 {
        sm.create_string(&format!("{prefix}{i:03}"), "v").await;
    }
}

#[tokio::test]
async fn list_paginates_over_more_than_100_secrets_exactly_once() {
    let sm = sm();
    let prefix = unique_name("page");
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..5 {
        tasks.spawn(create_chunk(sm.clone(), format!("{prefix}/s"), chunk * 21));
    }
    tasks.join_all().await;
    let expected: BTreeSet<String> = (0..105).map(|i| format!("{prefix}/s{i:03}")).collect();
    let list = || sm.list_secrets().filters(name_filter(&prefix));
    let first = ok(list().send().await);
    assert_eq!(first.secret_list().len(), 100);
    let token = first.next_token().expect("NextToken after 100").to_owned();
    let second = ok(list().next_token(token).send().await);
    assert_eq!(second.secret_list().len(), 5);
    assert!(second.next_token().is_none());

    let pages = follow_pages(
        |t| list().max_results(7).set_next_token(t).send(),
        |p| p.next_token(),
    )
    .await;
    assert_eq!(pages.len(), 15);
    assert!(pages.iter().all(|p| p.secret_list().len() <= 7));
    let seen: Vec<String> = pages.iter().flat_map(|p| page_names(p.secret_list())).collect();
    assert_eq!(seen.len(), 105, "no duplicates");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);

    let pages: Vec<_> = ok(list().into_paginator().page_size(40).send().try_collect().await);
    assert_eq!(pages.len(), 3);
    let names = pages
        .iter()
        .flat_map(|p| p.secret_list().iter().filter_map(|s| s.name()));
    assert_eq!(names.map(str::to_owned).collect::<BTreeSet<_>>(), expected);
}

#[tokio::test]
async fn list_include_planned_deletion() {
    let sm = sm();
    let prefix = unique_name("planned");
    let (live, doomed) = (format!("{prefix}/live"), format!("{prefix}/doomed"));
    sm.create_string(&live, "v").await;
    sm.create_string(&doomed, "v").await;
    sm.schedule_deletion(&doomed).await;
    assert_eq!(names(&sm, vec![name_filter(&prefix)]).await, [live.as_str()]);
    let list = || sm.list_secrets().filters(name_filter(&prefix));
    let out = ok(list().include_planned_deletion(true).send().await);
    let listed: BTreeSet<&str> = out.secret_list().iter().filter_map(|s| s.name()).collect();
    assert_eq!(listed, BTreeSet::from([live.as_str(), doomed.as_str()]));
    let entry = out
        .secret_list()
        .iter()
        .find(|s| s.name() == Some(doomed.as_str()));
    assert!(entry.expect("scheduled secret listed").deleted_date().is_some());
    let out = ok(list().include_planned_deletion(false).send().await);
    assert_eq!(out.secret_list().len(), 1);
}

#[tokio::test]
async fn list_invalid_next_token() {
    let sm = sm();
    let out = sm.list_secrets().next_token("garbage-token").send().await;
    assert_eq!(error_code(out), "InvalidNextTokenException");
}

#[tokio::test]
async fn list_rejects_bad_filters_and_limits() {
    let sm = sm();
    let bad_key = sm.list_secrets().filters(filter(Key::from("invalid"), &["x"]));
    assert_eq!(
        error_code(bad_key.send().await),
        "ValidationException",
        "bad filter key"
    );
    let bad_value = sm.list_secrets().filters(filter(Key::Name, &["a*b"]));
    assert_eq!(
        error_code(bad_value.send().await),
        "ValidationException",
        "bad filter value"
    );
    for max in [0, 101] {
        let out = sm.list_secrets().max_results(max).send().await;
        assert_eq!(error_code(out), "ValidationException", "MaxResults {max}");
    }
}

/// `filter(key, values)` from owned values.
fn filter_of(key: Key, values: &[String]) -> Filter {
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    filter(key, &values)
}

/// The largest filters ListSecrets and BatchGetSecretValue take (reference §ListSecrets: 10
/// filters of 10 values of up to 512 characters), each value as many words as fit, so the most
/// terms to look for: both answer as the rules say, values and all.
#[tokio::test]
async fn list_and_batch_get_take_the_largest_filters() {
    use kinko_store_contract::words_filling;
    let sm = sm();
    let prefix = unique_name("maxf");
    let long = |suffix: &str| {
        let name = format!("{prefix}/{suffix}");
        format!("{name}{}", "x".repeat(512 - name.len()))
    };
    let words = words_filling(0, 512);
    let all_but_last = &words[..words.rfind(' ').expect("words")];
    let (a, b, c, other) = (long("a"), long("b"), long("c"), format!("{prefix}-other"));
    for (name, description, tag) in [
        (&a, Some(words.as_str()), tag("env", "prod")),
        (&b, Some(all_but_last), tag("env", "dev")),
        (&c, None, tag("team", "x")),
        (&other, Some(words.as_str()), tag("env", "prod")),
    ] {
        let req = sm.create_secret().name(name).tags(tag);
        let req = req.set_description(description.map(str::to_owned));
        ok(req.secret_string(format!("value of {name}")).send().await);
    }
    // The names of a, b and c, and seven no secret has: `other` is left out here.
    let names: Vec<String> = [a.clone(), b.clone(), c.clone()]
        .into_iter()
        .chain((0..7).map(|n| long(&format!("none{n}"))))
        .collect();
    // No tag key or value starts with 511 characters: every secret passes its negation.
    let absent = format!("!{}", &long("e")[..511]);
    // Name, four `description` and four `all` filters (each `first` and nine values of words no
    // secret has all of), and `last`, a negation every secret passes.
    let largest = |first: &str, last: Key| {
        let mut values = vec![first.to_owned()];
        values.extend((1..10).map(|n| words_filling(n * 40, 512)));
        let mut filters = vec![filter_of(Key::Name, &names)];
        for key in [Key::Description, Key::All] {
            filters.extend((0..4).map(|_| filter_of(key.clone(), &values)));
        }
        filters.push(filter_of(last, &vec![absent.clone(); 10]));
        for f in &filters {
            assert!(f.values().iter().all(|v| v.len() == 512), "{f:?}");
        }
        filters
    };
    let missing_a_word = format!("!{}", &words[..511]);
    for (filters, expected) in [
        // Every word of one attribute: a alone (b lacks the last word, c has no description).
        (largest(&words, Key::TagKey), vec![&a]),
        // Some word missing: b and c.
        (largest(&missing_a_word, Key::TagValue), vec![&b, &c]),
    ] {
        assert_eq!(filters.len(), 10);
        assert_eq!(name_set(&sm, filters.clone()).await, set(&expected));
        let batch = |t| {
            sm.batch_get_secret_value()
                .set_filters(Some(filters.clone()))
                .max_results(20)
                .set_next_token(t)
                .send()
        };
        let mut values = BTreeSet::new();
        for out in follow_pages(batch, |p| p.next_token()).await {
            assert!(out.errors().is_empty(), "{:?}", out.errors());
            for v in out.secret_values() {
                let name = v.name().unwrap_or_default().to_owned();
                values.insert((name, v.secret_string().unwrap_or_default().to_owned()));
            }
        }
        let expected: BTreeSet<(String, String)> = expected
            .iter()
            .map(|n| ((*n).clone(), format!("value of {n}")))
            .collect();
        assert_eq!(values, expected);
    }
}

/// Past the limits of `Filters` (10 filters, 10 values, 512 characters a value): AWS's model
/// violations, for ListSecrets and BatchGetSecretValue alike.
#[tokio::test]
async fn list_and_batch_get_reject_filters_past_the_limits() {
    let sm = sm();
    let one = || name_filter("x");
    let violation = |path: &str, constraint: &str| {
        format!("1 validation error detected: {path} failed to satisfy constraint: Member {constraint}")
    };
    let long = "x".repeat(513);
    let cases = [
        (
            vec![one(); 11],
            violation("Value at 'filters'", "must have length less than or equal to 10"),
        ),
        (
            vec![filter(Key::Name, &["x"; 11])],
            violation(
                "Value at 'filters.1.member.values'",
                "must have length less than or equal to 10",
            ),
        ),
        (
            vec![one(), filter(Key::Description, &[&long])],
            violation(
                &format!("Value '{long}' at 'filters.2.member.values.1.member'"),
                "must have length less than or equal to 512",
            ),
        ),
    ];
    for (filters, message) in cases {
        let listed = sm.list_secrets().set_filters(Some(filters.clone())).send().await;
        assert_error(&expect_err!(listed), "ValidationException", &message);
        let batch = sm
            .batch_get_secret_value()
            .set_filters(Some(filters))
            .send()
            .await;
        assert_error(&expect_err!(batch), "ValidationException", &message);
    }
}

/// `FilterValueStringType` has no least length in AWS's model: an empty value is a filter value
/// (a `name` prefix every name has), not a validation error.
#[tokio::test]
async fn list_filters_take_an_empty_value() {
    let sm = sm();
    let f = fixture(&sm).await;
    let filters = vec![name_filter(&format!("{}/", f.prefix)), filter(Key::Name, &[""])];
    assert_eq!(
        name_set(&sm, filters).await,
        set(&[&f.alpha, &f.beta, &f.gamma, &f.epsilon])
    );
}
