//! CreateSecret: values, versions, names, idempotent retries, and what it refuses.

use std::collections::BTreeSet;

use aws_sdk_secretsmanager::Client;
use aws_smithy_types::Blob;
use kinko_tests::*;

use crate::{assert_now, secret, sm};

/// Fails unless `name` names no secret (a refused CreateSecret created nothing).
async fn assert_absent(sm: &Client, name: &str) {
    let out = sm.describe_secret().secret_id(name).send().await;
    assert_eq!(
        outcome(out),
        failed("ResourceNotFoundException", NOT_FOUND),
        "{name}"
    );
}

#[tokio::test]
async fn create_string_secret_returns_arn_name_and_version() {
    let sm = sm();
    let (name, t) = (unique_name("create-string"), token());
    let req = sm.create_secret().name(&name).client_request_token(&t);
    let out = ok(req.secret_string("s3cr3t").send().await);
    let arn = out.arn().expect("ARN");
    arn_suffix(arn, DEV_ACCOUNT, &name);
    assert_eq!(out.name(), Some(name.as_str()));
    assert_eq!(
        out.version_id(),
        Some(t.as_str()),
        "VersionId is the ClientRequestToken"
    );
    let got = sm.get(&name).await;
    assert_eq!(got.secret_string(), Some("s3cr3t"));
    assert!(got.secret_binary().is_none());
    assert_eq!(got.arn(), Some(arn));
    assert_eq!(got.name(), Some(name.as_str()));
    assert_eq!(got.version_id(), Some(t.as_str()));
    assert_eq!(got.version_stages(), ["AWSCURRENT"]);
    let created = got.created_date().expect("CreatedDate").secs();
    assert_now(created, "CreatedDate");
}

#[tokio::test]
async fn create_binary_secret_round_trips_every_byte() {
    let sm = sm();
    let name = unique_name("create-binary");
    let bytes: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xfe]).collect();
    let req = sm
        .create_secret()
        .name(&name)
        .secret_binary(Blob::new(bytes.clone()));
    assert!(ok(req.send().await).version_id().is_some());
    let got = sm.get(&name).await;
    assert_eq!(got.secret_binary().map(|b| b.as_ref()), Some(bytes.as_slice()));
    assert!(got.secret_string().is_none());
}

/// No value, no version; the first value put into it becomes AWSCURRENT.
#[tokio::test]
async fn create_without_value_has_no_version() {
    let sm = sm();
    let name = unique_name("create-empty");
    let out = ok(sm.create_secret().name(&name).send().await);
    assert!(out.version_id().is_none(), "no value, no VersionId: {out:?}");
    arn_suffix(out.arn().expect("ARN"), DEV_ACCOUNT, &name);
    let message = "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT";
    let current = sm.get_secret_value().secret_id(&name).send().await;
    assert_eq!(outcome(current), failed("ResourceNotFoundException", message));
    let d = sm.describe(&name).await;
    assert!(d.version_ids_to_stages.is_none(), "{d:?}");
    assert!(sm.versions(&name, true).await.versions().is_empty());
    let req = sm.put_secret_value().secret_id(&name).secret_string("first");
    assert_eq!(ok(req.send().await).version_stages(), ["AWSCURRENT"]);
    assert_eq!(sm.value(&name).await, "first");
}

#[tokio::test]
async fn create_with_description_and_tags() {
    let sm = sm();
    let name = unique_name("create-meta");
    let req = sm.create_secret().name(&name).description("my description");
    let req = req
        .tags(tag("team", "core"))
        .tags(tag("env", "prod"))
        .tags(tag("empty", ""));
    ok(req.secret_string("v").send().await);
    let d = sm.describe(&name).await;
    assert_eq!(d.description(), Some("my description"));
    let tags = tag_pairs(d.tags());
    assert_eq!(tags, [("team", "core"), ("env", "prod"), ("empty", "")]);
}

/// An existing name, with or without a value: ResourceExists; the original is untouched.
#[tokio::test]
async fn create_existing_name_is_resource_exists() {
    let (sm, name, ..) = secret("create-dup", "one").await;
    let exists = format!("The operation failed because the secret {name} already exists.");
    let again = sm.create_secret().name(&name).secret_string("two").send().await;
    assert_eq!(outcome(again), failed("ResourceExistsException", &exists));
    let empty = sm.create_secret().name(&name).send().await;
    assert_eq!(error_code(empty), "ResourceExistsException");
    assert_eq!(sm.value(&name).await, "one");
}

#[tokio::test]
async fn create_retry_with_same_token_and_value_is_idempotent() {
    let sm = sm();
    let (name, t) = (unique_name("create-idem"), token());
    let create = || {
        sm.create_secret()
            .name(&name)
            .client_request_token(&t)
            .secret_string("same")
    };
    let first = ok(create().send().await);
    let second = create().send().await.expect("retried CreateSecret succeeds");
    assert_eq!(first.arn(), second.arn());
    assert_eq!(first.name(), second.name());
    assert_eq!(second.version_id(), Some(t.as_str()));
    let versions = sm.versions(&name, true).await;
    assert_eq!(versions.versions().len(), 1, "a retry creates no version");
}

/// The same token with another value, string or binary: ResourceExists.
#[tokio::test]
async fn create_same_token_different_value_is_resource_exists() {
    let sm = sm();
    let (name, t) = (unique_name("create-tokclash"), token());
    let create = || sm.create_secret().name(&name).client_request_token(&t);
    let first = ok(create().secret_string("original").send().await);
    let in_use = token_in_use(&t, first.arn().expect("ARN"));
    let different = create().secret_string("different").send().await;
    assert_eq!(outcome(different), failed("ResourceExistsException", &in_use));
    // A binary value holding the same bytes is a different value too.
    let binary = create().secret_binary(Blob::new("original")).send().await;
    assert_eq!(error_code(binary), "ResourceExistsException");
}

#[tokio::test]
async fn create_name_scheduled_for_deletion_is_invalid_request() {
    let (sm, name, ..) = secret("create-scheduled", "v").await;
    sm.schedule_deletion(&name).await;
    let again = sm.create_secret().name(&name).secret_string("again").send().await;
    let message =
        "You can't create this secret because a secret with this name is already scheduled for deletion.";
    assert_eq!(outcome(again), failed("InvalidRequestException", message));
}

/// Name endings with a character names can't have.
const BAD_NAME_PARTS: [&str; 7] = [
    "has space",
    "star*",
    "what?",
    "bra]cket",
    "back\\slash",
    "comma,",
    "héllo",
];

/// Characters names can't have, and every special character they can (verbatim in the ARN).
#[tokio::test]
async fn create_with_invalid_name_characters_is_validation_error() {
    let sm = sm();
    for bad in BAD_NAME_PARTS {
        let name = format!("{}{bad}", unique_name("bad"));
        let out = sm.create_secret().name(&name).secret_string("v").send().await;
        assert_eq!(
            outcome(out),
            failed("ValidationException", INVALID_NAME),
            "{name:?}"
        );
    }
    let name = format!("{}/_+=.@-Name", unique_name("Valid"));
    let (arn, _) = sm.create_string(&name, "v").await;
    arn_suffix(&arn, DEV_ACCOUNT, &name);
}

#[tokio::test]
async fn create_with_both_values_is_invalid_parameter() {
    let sm = sm();
    let name = unique_name("create-both");
    let req = sm.create_secret().name(&name).secret_string("s");
    let e = expect_err!(req.secret_binary(Blob::new("b")).send().await);
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    // AWS's text, as quoted in a 2018 report with a typographic apostrophe; accept either form.
    let both = "The request had invalid params: You can't specify both a binary secret value and a string secret value in the same secret.";
    assert_eq!(
        e.message().map(|m| m.replace('\u{2019}', "'")).as_deref(),
        Some(both)
    );
    assert_absent(&sm, &name).await;
}

/// Values are at most 65,536 bytes (multi-byte characters count as bytes); a refused one creates
/// nothing.
#[tokio::test]
async fn create_with_oversized_value_is_validation_error_and_creates_nothing() {
    let sm = sm();
    let (string, binary) = (unique_name("create-big"), unique_name("create-bigbin"));
    let big = sm.create_secret().name(&string).secret_string("x".repeat(65_537));
    assert_eq!(error_code(big.send().await), "ValidationException");
    assert_absent(&sm, &string).await;
    let big = sm
        .create_secret()
        .name(&binary)
        .secret_binary(Blob::new(vec![7u8; 65_537]));
    assert_eq!(error_code(big.send().await), "ValidationException");
    assert_absent(&sm, &binary).await;
    let (largest, value) = (unique_name("create-max"), "é".repeat(32_768));
    assert_eq!(value.len(), 65_536);
    sm.create_string(&largest, &value).await;
    assert_eq!(sm.value(&largest).await, value);
    let over = sm.create_secret().name(unique_name("create-maxstr"));
    let over = over.secret_string("é".repeat(32_769)).send().await;
    assert_eq!(error_code(over), "ValidationException", "65,538 bytes");
}

#[tokio::test]
async fn create_name_length_limit_is_512() {
    let sm = sm();
    let base = unique_name("len");
    let name512 = format!("{base}{}", "a".repeat(512 - base.len()));
    assert_eq!(name512.len(), 512);
    let out = sm.create_secret().name(&name512).secret_string("v").send().await;
    assert_eq!(ok(out).name(), Some(name512.as_str()));
    assert_eq!(sm.value(&name512).await, "v");
    let name513 = format!("{base}{}", "b".repeat(513 - base.len()));
    let out = sm.create_secret().name(&name513).secret_string("v").send().await;
    assert_eq!(error_code(out), "ValidationException");
    let empty = sm.create_secret().name("").send().await;
    assert_eq!(error_code(empty), "ValidationException", "empty name");
}

#[tokio::test]
async fn create_with_over_long_description_is_validation_error() {
    let sm = sm();
    let name = unique_name("create-longdesc");
    let create = |description: String| {
        let req = sm.create_secret().name(&name).description(description);
        req.secret_string("v").send()
    };
    assert_eq!(error_code(create("d".repeat(2049)).await), "ValidationException");
    assert_absent(&sm, &name).await;
    create("d".repeat(2048))
        .await
        .expect("a 2,048-character description is fine");
}

#[tokio::test]
async fn create_secrets_get_distinct_suffixes() {
    let sm = sm();
    let mut suffixes = BTreeSet::new();
    for _ in 0..5 {
        let name = unique_name("suffix");
        let (arn, _) = sm.create_string(&name, "v").await;
        suffixes.insert(arn_suffix(&arn, DEV_ACCOUNT, &name).to_owned());
    }
    assert_eq!(suffixes.len(), 5, "random suffixes: {suffixes:?}");
}

/// A name that starts with `arn:` is held to the same characters as any name (its colons are not
/// allowed, AWS's name rule), so no secret is ever named like another secret's ARN.
#[tokio::test]
async fn create_with_a_name_that_looks_like_an_arn_is_validation_error() {
    let sm = sm();
    let (_, name, arn, _) = secret("arn-lookalike", "v").await;
    let partial = arn
        .trim_end_matches(|c: char| c != '-')
        .trim_end_matches('-')
        .to_owned();
    for bad in [
        arn.clone(),
        partial,
        format!("arn:aws:secretsmanager:us-east-1:{DEV_ACCOUNT}:secret:{name}-other"),
        "arn:has space".to_owned(),
        "arn:star*".to_owned(),
        "arn:control\u{1}".to_owned(),
    ] {
        let out = sm.create_secret().name(&bad).secret_string("v").send().await;
        assert_eq!(
            outcome(out),
            failed("ValidationException", INVALID_NAME),
            "{bad:?}"
        );
    }
}
