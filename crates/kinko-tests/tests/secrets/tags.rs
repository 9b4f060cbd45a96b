//! TagResource and UntagResource on secrets.

use kinko_tests::*;

use crate::secret;

fn pairs(p: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// Existing keys are replaced in place, new ones appended; untagging ignores missing keys and
/// leaves `Tags: []` once all are removed.
#[tokio::test]
async fn tag_appends_replaces_and_keeps_order() {
    let (sm, name, arn, _) = secret("tags", "v").await;
    let tag_pair = |id: &str, a: (&str, &str), b: (&str, &str)| {
        let req = sm.tag_resource().secret_id(id).tags(tag(a.0, a.1));
        req.tags(tag(b.0, b.1)).send()
    };
    ok(tag_pair(&name, ("a", "1"), ("b", "2")).await);
    assert_eq!(sm.tags_of(&name).await, pairs(&[("a", "1"), ("b", "2")]));
    ok(tag_pair(&arn, ("b", "3"), ("c", "4")).await);
    assert_eq!(
        sm.tags_of(&name).await,
        pairs(&[("a", "1"), ("b", "3"), ("c", "4")])
    );
    let untag = |a: &str, b: &str| {
        let req = sm.untag_resource().secret_id(&name);
        req.tag_keys(a).tag_keys(b).send()
    };
    ok(untag("b", "no-such-key").await);
    assert_eq!(sm.tags_of(&name).await, pairs(&[("a", "1"), ("c", "4")]));
    ok(untag("a", "c").await);
    assert_eq!(
        sm.tags_of(&name).await,
        Some(vec![]),
        "Tags: [] once all are removed"
    );
}

#[tokio::test]
async fn untag_never_tagged_secret_is_fine() {
    let (sm, name, ..) = secret("untag-none", "v").await;
    let untag = sm.untag_resource().secret_id(&name).tag_keys("nothing");
    ok(untag.send().await);
    let tags = sm.tags_of(&name).await;
    assert!(tags.as_ref().is_none_or(|t| t.is_empty()), "{tags:?}");
}

/// Tags of a secret scheduled for deletion can't change.
#[tokio::test]
async fn tag_on_secret_scheduled_for_deletion_is_invalid_request() {
    let (sm, name, ..) = secret("tags-deleted", "v").await;
    let keep = sm.tag_resource().secret_id(&name).tags(tag("keep", "me"));
    ok(keep.send().await);
    sm.schedule_deletion(&name).await;
    let marked = failed("InvalidRequestException", MARKED_FOR_DELETION);
    let tagged = sm.tag_resource().secret_id(&name).tags(tag("k", "v"));
    let tagged = tagged.send().await;
    assert_eq!(outcome(tagged), marked);
    let untagged = sm.untag_resource().secret_id(&name).tag_keys("keep").send().await;
    assert_eq!(outcome(untagged), marked);
    assert_eq!(sm.tags_of(&name).await, pairs(&[("keep", "me")]), "unchanged");
}

/// Keys of at most 128 characters, values of at most 256.
#[tokio::test]
async fn tag_key_too_long_is_validation_error() {
    let (sm, name, ..) = secret("tags-long", "v").await;
    for (key, value) in [
        ("k".repeat(129), "v".to_owned()),
        ("k".to_owned(), "v".repeat(257)),
    ] {
        let req = sm.tag_resource().secret_id(&name).tags(tag(&key, &value));
        let out = req.send().await;
        assert_eq!(error_code(out), "ValidationException");
    }
    assert!(sm.tags_of(&name).await.is_none(), "nothing was tagged");
}
