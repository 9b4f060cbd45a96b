//! TagResource, UntagResource and ListResourceTags on keys, and tags given to CreateKey.

use aws_sdk_kms::Client;
use kinko_tests::*;

use crate::kms;

/// The key's tags as sorted `(key, value)` pairs.
async fn tags_of(client: &Client, key: &str) -> Vec<(String, String)> {
    let out = ok(client.list_resource_tags().key_id(key).send().await);
    let mut t: Vec<_> = out
        .tags()
        .iter()
        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
        .collect();
    t.sort();
    t
}

/// TagResource of `tags` on `key`.
async fn tag(client: &Client, key: &str, tags: &[(&str, &str)]) -> Outcome {
    let tags = tags.iter().map(|(k, v)| kms_tag(k, v)).collect();
    let req = client.tag_resource().key_id(key).set_tags(Some(tags));
    outcome(req.send().await)
}

#[tokio::test]
async fn tag_resource_adds_and_replaces_tags() {
    let client = kms();
    let (key, _) = client.new_key().await;
    assert_eq!(tag(&client, &key, &[("a", "1"), ("b", "2")]).await, Ok(()));
    assert_eq!(tag(&client, &key, &[("a", "3"), ("empty", "")]).await, Ok(()));
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let expected = [pair("a", "3"), pair("b", "2"), pair("empty", "")];
    assert_eq!(tags_of(&client, &key).await, expected);
}

#[tokio::test]
async fn list_resource_tags_pages() {
    let client = kms();
    let (key, _) = client.new_key().await;
    assert_eq!(
        tag(&client, &key, &[("a", "1"), ("b", "2"), ("empty", "")]).await,
        Ok(())
    );
    let (mut seen, mut marker, mut pages) = (Vec::new(), None, 0);
    loop {
        let req = client
            .list_resource_tags()
            .key_id(&key)
            .limit(2)
            .set_marker(marker);
        let out = req.send().await.expect("ListResourceTags");
        pages += 1;
        seen.extend(out.tags().iter().map(|t| t.tag_key.clone()));
        if !out.truncated {
            assert!(out.next_marker.is_none());
            break;
        }
        marker = Some(out.next_marker.expect("NextMarker"));
    }
    assert_eq!(pages, 2);
    seen.sort();
    assert_eq!(seen, ["a", "b", "empty"]);
    let list = || client.list_resource_tags().key_id(&key);
    assert_eq!(
        error_code(list().marker("bogus").send().await),
        "InvalidMarkerException"
    );
    let too_many = failed("ValidationException", &model_max_value("limit", 51, 50));
    assert_eq!(outcome(list().limit(51).send().await), too_many);
}

/// Untagging removes the keys given (absent keys are ignored).
#[tokio::test]
async fn untag_resource_removes_the_keys_given() {
    let client = kms();
    let (key, _) = client.new_key().await;
    assert_eq!(
        tag(&client, &key, &[("a", "1"), ("b", "2"), ("empty", "")]).await,
        Ok(())
    );
    let untag = || client.untag_resource().key_id(&key);
    let all = untag()
        .tag_keys("a")
        .tag_keys("b")
        .tag_keys("empty")
        .tag_keys("never-set");
    all.send().await.expect("UntagResource");
    let out = ok(client.list_resource_tags().key_id(&key).send().await);
    assert!(out.tags.is_some_and(|t| t.is_empty()));
    assert!(!out.truncated);
    let long = "k".repeat(129);
    let too_long = model_max_length("tagKeys.1.member", &long, 128);
    let out = untag().tag_keys(&long).send().await;
    assert_eq!(outcome(out), failed("ValidationException", &too_long));
}

#[tokio::test]
async fn aws_prefixed_and_duplicate_tag_keys_are_refused() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let reserved = failed("TagException", "Tags beginning with aws: are reserved");
    for prefix in ["aws:", "AWS:", "Aws:"] {
        assert_eq!(
            tag(&client, &key, &[(&format!("{prefix}x"), "1")]).await,
            reserved
        );
    }
    let create = client.create_key().tags(kms_tag("AWS:y", "1")).send().await;
    assert_eq!(outcome(create), reserved);
    let duplicate = failed("TagException", "Duplicate tag keys");
    assert_eq!(tag(&client, &key, &[("d", "1"), ("d", "2")]).await, duplicate);
    let create = client.create_key().tags(kms_tag("x", "1"));
    let create = create.tags(kms_tag("x", "1")).send().await;
    assert_eq!(outcome(create), duplicate);
}

/// 50 tags in all, counting the key's own: replacing values stays within.
#[tokio::test]
async fn at_most_50_tags_per_key() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let numbered: Vec<String> = (0..51).map(|n| format!("k{n}")).collect();
    let tags = |n: usize| {
        numbered[..n]
            .iter()
            .map(|k| (k.as_str(), "v"))
            .collect::<Vec<_>>()
    };
    let too_many = failed("TagException", "Too many tags");
    assert_eq!(tag(&client, &key, &tags(51)).await, too_many);
    assert_eq!(tag(&client, &key, &tags(49)).await, Ok(()));
    assert_eq!(
        tag(&client, &key, &[("k0", "changed"), ("k49", "v")]).await,
        Ok(())
    );
    assert_eq!(tag(&client, &key, &[("k50", "v")]).await, too_many);
}

/// Tag keys are 1 to 128 characters, values 0 to 256; Tags is required.
#[tokio::test]
async fn tag_lengths_follow_the_model() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let long_key = "k".repeat(129);
    let message = model_max_length("tags.2.member.tagKey", &long_key, 128);
    let out = tag(&client, &key, &[("fine", "v"), (&long_key, "v")]).await;
    assert_eq!(out, failed("ValidationException", &message));
    let long_value = "v".repeat(257);
    let message = model_max_length("tags.1.member.tagValue", &long_value, 256);
    let create = client.create_key().tags(kms_tag("k", &long_value)).send().await;
    assert_eq!(outcome(create), failed("ValidationException", &message));
    let message = model_min_length("tags.1.member.tagKey", "", 1);
    assert_eq!(
        tag(&client, &key, &[("", "v")]).await,
        failed("ValidationException", &message)
    );
    let missing = client.tag_resource().key_id(&key).send().await;
    assert_eq!(
        outcome(missing),
        failed("ValidationException", &model_not_null("tags"))
    );
}
