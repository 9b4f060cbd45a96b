//! GetSecretValue: secret ids (name, full and partial ARN), versions and staging labels.

use kinko_tests::*;

use crate::{secret, sm};

/// The ARN without its `-XXXXXX` suffix.
fn partial(arn: &str) -> &str {
    &arn[..arn.len() - 7]
}

#[tokio::test]
async fn get_by_name_full_arn_and_partial_arn() {
    let (sm, name, arn, v1) = secret("get-ids", "value").await;
    assert!(partial(&arn).ends_with(&name));
    for id in [name.as_str(), arn.as_str(), partial(&arn)] {
        let got = sm.get(id).await;
        assert_eq!(got.secret_string(), Some("value"), "{id}");
        assert_eq!(got.arn(), Some(arn.as_str()), "{id}");
        assert_eq!(got.version_id(), Some(v1.as_str()), "{id}");
    }
    // A full ARN with the wrong suffix doesn't fall back to the name.
    let other_suffix = if arn.ends_with("AAAAAA") {
        "BBBBBB"
    } else {
        "AAAAAA"
    };
    let wrong = format!("{}-{other_suffix}", partial(&arn));
    let out = sm.get_secret_value().secret_id(&wrong).send().await;
    assert_eq!(outcome(out), failed("ResourceNotFoundException", NOT_FOUND));
    // Names are case-sensitive.
    let upper = sm.get_secret_value().secret_id(name.to_uppercase()).send().await;
    assert_eq!(error_code(upper), "ResourceNotFoundException");
}

#[tokio::test]
async fn get_partial_arn_of_names_with_special_characters() {
    let sm = sm();
    for name in [
        format!("{}/_+=.@-Name", unique_name("Valid")),
        format!("{}/_+=.@-Name-a1b2", unique_name("Valid")),
        format!("{}/_+=.@-Name-a1b2c3-", unique_name("Valid")),
    ] {
        let (arn, _) = sm.create_string(&name, "v").await;
        assert_eq!(sm.get(partial(&arn)).await.name(), Some(name.as_str()));
    }
}

/// A name that ends in -XXXXXX makes its partial ARN look like a full one: no match [S]. By name
/// and by full ARN it works.
#[tokio::test]
async fn get_partial_arn_of_name_ending_like_a_suffix_is_not_found() {
    let sm = sm();
    let name = format!("{}/_+=.@-Name-a1b2c3", unique_name("Invalid"));
    let (arn, _) = sm.create_string(&name, "v").await;
    let out = sm.get_secret_value().secret_id(partial(&arn)).send().await;
    assert_eq!(outcome(out), failed("ResourceNotFoundException", NOT_FOUND));
    for id in [name.as_str(), arn.as_str()] {
        sm.get(id).await;
    }
}

#[tokio::test]
async fn get_by_version_id_and_stage() {
    let (sm, name, _, v1) = secret("get-version", "one").await;
    let v2 = sm.put_string(&name, "two").await;
    let current = sm.get(&name).await;
    assert_eq!(current.secret_string(), Some("two"));
    assert_eq!(current.version_id(), Some(v2.as_str()));
    assert_eq!(current.version_stages(), ["AWSCURRENT"]);
    let previous = sm.get_stage(&name, "AWSPREVIOUS").await;
    assert_eq!(previous.secret_string(), Some("one"));
    assert_eq!(previous.version_id(), Some(v1.as_str()));
    assert_eq!(previous.version_stages(), ["AWSPREVIOUS"]);
    let get = || sm.get_secret_value().secret_id(&name);
    let by_id = ok(get().version_id(&v1).send().await);
    assert_eq!(by_id.secret_string(), Some("one"));
    let both = get().version_id(&v2).version_stage("AWSCURRENT").send().await;
    assert_eq!(ok(both).secret_string(), Some("two"));
}

#[tokio::test]
async fn get_with_mismatching_version_id_and_stage_is_invalid_request() {
    let (sm, name, _, v1) = secret("get-mismatch", "one").await;
    sm.put_string(&name, "two").await;
    let req = sm.get_secret_value().secret_id(&name).version_id(&v1);
    let out = req.version_stage("AWSCURRENT").send().await;
    let message = "You provided a VersionStage that is not associated to the provided VersionId.";
    assert_eq!(outcome(out), failed("InvalidRequestException", message));
}

#[tokio::test]
async fn get_unknown_version_id_or_stage_is_not_found() {
    let (sm, name, ..) = secret("get-unknown", "one").await;
    let missing = token();
    let get = || sm.get_secret_value().secret_id(&name);
    let message = format!("Secrets Manager can't find the specified secret value for VersionId: {missing}");
    let by_id = get().version_id(&missing).send().await;
    assert_eq!(outcome(by_id), failed("ResourceNotFoundException", &message));
    let message = "Secrets Manager can't find the specified secret value for staging label: AWSPENDING";
    let by_stage = get().version_stage("AWSPENDING").send().await;
    assert_eq!(outcome(by_stage), failed("ResourceNotFoundException", message));
}
