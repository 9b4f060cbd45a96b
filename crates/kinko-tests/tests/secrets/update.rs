//! UpdateSecret: metadata only, a new value (a new AWSCURRENT version), the KMS key, retries.

use aws_smithy_types::Blob;
use kinko_tests::*;

use crate::secret;

#[tokio::test]
async fn update_description_only_creates_no_version() {
    let (sm, name, arn, v1) = secret("update-desc", "v").await;
    let before = sm.describe(&name).await;
    let req = sm.update_secret().secret_id(&name).description("new description");
    let out = ok(req.send().await);
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert!(
        out.version_id().is_none(),
        "metadata-only update has no VersionId: {out:?}"
    );
    let after = sm.describe(&name).await;
    assert_eq!(after.description(), Some("new description"));
    let stages: Vec<_> = sm.stages(&name).await.into_iter().collect();
    assert_eq!(stages, [(v1, labels(&["AWSCURRENT"]))]);
    assert!(
        after.last_changed_date().expect("LastChangedDate") >= before.last_changed_date().expect("before")
    );
}

/// A new value is a new AWSCURRENT version, even when it equals the current one; binary too.
#[tokio::test]
async fn update_with_value_creates_new_current_version() {
    let (sm, name, arn, v1) = secret("update-value", "one").await;
    let update = |id: &str, token: &str, value: &str| {
        let req = sm.update_secret().secret_id(id).client_request_token(token);
        req.secret_string(value)
    };
    let v2 = token();
    let out = ok(update(&arn, &v2, "two").description("d1").send().await);
    assert_eq!(out.version_id(), Some(v2.as_str()));
    let stages = sm.stages(&name).await;
    assert_eq!(stages.get(&v1), Some(&labels(&["AWSPREVIOUS"])));
    assert_eq!(stages.get(&v2), Some(&labels(&["AWSCURRENT"])));
    assert_eq!(sm.value(&name).await, "two");
    let v3 = token();
    let out = ok(update(&name, &v3, "two").send().await);
    assert_eq!(out.version_id(), Some(v3.as_str()));
    let stages = sm.stages(&name).await;
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!(stages.get(&v2), Some(&labels(&["AWSPREVIOUS"])));
    assert_eq!(stages.get(&v3), Some(&labels(&["AWSCURRENT"])));
    let binary = sm
        .update_secret()
        .secret_id(&name)
        .secret_binary(Blob::new(vec![1u8, 2, 3]));
    ok(binary.send().await);
    let got = sm.get(&name).await;
    assert_eq!(got.secret_binary().map(|b| b.as_ref()), Some(&[1u8, 2, 3][..]));
    assert!(got.secret_string().is_none());
}

/// KmsKeyId alias/aws/secretsmanager is accepted; the version sealed before still opens.
#[tokio::test]
async fn update_with_default_kms_alias_is_accepted() {
    let (sm, name, ..) = secret("update-kms", "one").await;
    let managed = "alias/aws/secretsmanager";
    let req = sm.update_secret().secret_id(&name).kms_key_id(managed);
    ok(req.secret_string("two").send().await);
    assert_eq!(sm.value(&name).await, "two");
    let previous = sm.get_stage(&name, "AWSPREVIOUS").await;
    assert_eq!(previous.secret_string(), Some("one"));
}

/// A retry with the same token and value changes nothing; another value is ResourceExists.
#[tokio::test]
async fn update_retry_with_same_token_and_value_succeeds() {
    let (sm, name, _, v1) = secret("update-idem", "one").await;
    let t = token();
    let update = |value: &str| {
        let req = sm.update_secret().secret_id(&name).client_request_token(&t);
        req.secret_string(value).send()
    };
    for attempt in 0..2 {
        let out = update("two")
            .await
            .unwrap_or_else(|e| panic!("UpdateSecret attempt {attempt}: {e:?}"));
        assert_eq!(out.version_id(), Some(t.as_str()));
    }
    let stages = sm.stages(&name).await;
    assert_eq!(stages.get(&v1), Some(&labels(&["AWSPREVIOUS"])));
    assert_eq!(stages.get(&t), Some(&labels(&["AWSCURRENT"])));
    let all = sm.versions(&name, true).await;
    assert_eq!(all.versions().len(), 2, "the retry made no new version");
    let in_use = token_in_use(&t, all.arn().expect("ARN"));
    assert_eq!(
        outcome(update("three").await),
        failed("ResourceExistsException", &in_use)
    );
}
