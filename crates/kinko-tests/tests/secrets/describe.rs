//! DescribeSecret: the metadata it shows, and the members it leaves out.

use kinko_tests::*;

use crate::{assert_now, secret, sm};

#[tokio::test]
async fn describe_returns_metadata_and_omits_unset_fields() {
    let sm = sm();
    let (name, t) = (unique_name("describe"), token());
    let req = sm.create_secret().name(&name).client_request_token(&t);
    let created = ok(req.description("MyDescription").secret_string("v").send().await);
    let d = sm.describe(&name).await;
    assert_eq!(d.arn(), created.arn());
    assert_eq!(d.name(), Some(name.as_str()));
    assert_eq!(d.description(), Some("MyDescription"));
    let created_date = d.created_date().expect("CreatedDate").secs();
    assert_now(created_date, "CreatedDate");
    assert!(d.last_changed_date().is_some());
    let map = d.version_ids_to_stages.clone().expect("VersionIdsToStages");
    assert_eq!(map.len(), 1);
    assert_eq!(map.get(&t).map(|s| sorted(s)), Some(labels(&["AWSCURRENT"])));
    assert!(d.kms_key_id.is_none(), "AWS managed key is omitted");
    assert!(d.tags.is_none(), "never tagged: Tags omitted");
    assert!(d.last_accessed_date.is_none(), "never read");
    assert!(d.deleted_date.is_none(), "not scheduled for deletion");
    assert!(d.rotation_enabled.is_none() && d.rotation_rules.is_none() && d.rotation_lambda_arn.is_none());
    assert!(d.primary_region.is_none(), "not replicated");
    assert!(d.replication_status.is_none());
    assert!(d.owning_service.is_none());
    // Also by full and partial ARN.
    let arn = created.arn().expect("ARN");
    for id in [arn, &arn[..arn.len() - 7]] {
        assert_eq!(sm.describe(id).await.name(), Some(name.as_str()));
    }
}

#[tokio::test]
async fn describe_omits_empty_description() {
    let sm = sm();
    let name = unique_name("describe-nodesc");
    let req = sm.create_secret().name(&name).description("");
    ok(req.secret_string("v").send().await);
    let d = sm.describe(&name).await;
    assert!(d.description.is_none(), "{d:?}");
}

#[tokio::test]
async fn describe_shows_empty_tags_after_all_were_removed() {
    let sm = sm();
    let name = unique_name("describe-tags");
    let req = sm.create_secret().name(&name).tags(tag("a", "1"));
    ok(req.secret_string("v").send().await);
    ok(sm.untag_resource().secret_id(&name).tag_keys("a").send().await);
    let d = sm.describe(&name).await;
    assert_eq!(d.tags, Some(vec![]), "Tags: [] after removing every tag");
}

#[tokio::test]
async fn describe_shows_deleted_date_when_scheduled() {
    let (sm, name, ..) = secret("describe-deleted", "v").await;
    sm.schedule_deletion(&name).await;
    let d = sm.describe(&name).await;
    let deleted = d.deleted_date().expect("DeletedDate").secs();
    assert_now(deleted, "DeletedDate");
}

/// A read records LastAccessedDate, at day resolution (midnight UTC), on the secret and the
/// version, before it answers.
#[tokio::test]
async fn describe_shows_last_accessed_date_at_midnight_utc_after_a_read() {
    let (sm, name, ..) = secret("describe-accessed", "v").await;
    let day_before = now_secs().div_euclid(DAY) * DAY;
    sm.get(&name).await;
    let accessed = sm.describe(&name).await.last_accessed_date;
    let accessed = accessed.expect("LastAccessedDate recorded by GetSecretValue");
    let day_after = now_secs().div_euclid(DAY) * DAY;
    assert_eq!(accessed.subsec_nanos(), 0, "day resolution: {accessed:?}");
    let secs = accessed.secs();
    let today = secs == day_before || secs == day_after;
    assert!(
        today,
        "LastAccessedDate {secs} is midnight UTC of today ({day_after})"
    );
    let versions = sm.versions(&name, false).await;
    let v = versions.versions().first().expect("one version");
    let vd = v.last_accessed_date().expect("version LastAccessedDate");
    assert_eq!(vd.secs() % DAY, 0, "version LastAccessedDate at midnight");
}
