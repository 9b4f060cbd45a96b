//! Tags (TagResource / UntagResource), resource policies (Put/Get/Delete/ValidateResourcePolicy)
//! and GetRandomPassword.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::Tag;
use kinko_tests::{DEV_ACCOUNT, TestServer, create_string_secret, expect_err, unique_name};

const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

async fn tags_of(client: &Client, name: &str) -> Option<Vec<(String, String)>> {
    client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .expect("DescribeSecret")
        .tags
        .map(|tags| {
            tags.into_iter()
                .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
                .collect()
        })
}

fn pairs(p: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// TagResource / UntagResource
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tag_appends_replaces_and_keeps_order() {
    let client = TestServer::start().client();
    let name = unique_name("tags");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    client
        .tag_resource()
        .secret_id(&name)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await
        .expect("TagResource");
    assert_eq!(tags_of(&client, &name).await, pairs(&[("a", "1"), ("b", "2")]));
    client
        .tag_resource()
        .secret_id(&arn)
        .tags(tag("b", "3"))
        .tags(tag("c", "4"))
        .send()
        .await
        .expect("TagResource by ARN");
    assert_eq!(
        tags_of(&client, &name).await,
        pairs(&[("a", "1"), ("b", "3"), ("c", "4")]),
        "existing key replaced in place, new key appended"
    );
    client
        .untag_resource()
        .secret_id(&name)
        .tag_keys("b")
        .tag_keys("no-such-key")
        .send()
        .await
        .expect("UntagResource ignores missing keys");
    assert_eq!(tags_of(&client, &name).await, pairs(&[("a", "1"), ("c", "4")]));
    client
        .untag_resource()
        .secret_id(&name)
        .tag_keys("a")
        .tag_keys("c")
        .send()
        .await
        .expect("UntagResource");
    assert_eq!(
        tags_of(&client, &name).await,
        Some(vec![]),
        "Tags: [] once all are removed"
    );
}

#[tokio::test]
async fn untag_never_tagged_secret_is_fine() {
    let client = TestServer::start().client();
    let name = unique_name("untag-none");
    create_string_secret(&client, &name, "v").await;
    client
        .untag_resource()
        .secret_id(&name)
        .tag_keys("nothing")
        .send()
        .await
        .expect("UntagResource on a secret without tags");
    let tags = tags_of(&client, &name).await;
    assert!(tags.as_ref().is_none_or(|t| t.is_empty()), "{tags:?}");
}

#[tokio::test]
async fn tag_on_secret_scheduled_for_deletion_is_invalid_request() {
    let client = TestServer::start().client();
    let name = unique_name("tags-deleted");
    create_string_secret(&client, &name, "v").await;
    client
        .tag_resource()
        .secret_id(&name)
        .tags(tag("keep", "me"))
        .send()
        .await
        .expect("TagResource");
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    let e = expect_err!(
        client
            .tag_resource()
            .secret_id(&name)
            .tags(tag("k", "v"))
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
    let e = expect_err!(
        client
            .untag_resource()
            .secret_id(&name)
            .tag_keys("keep")
            .send()
            .await
    );
    assert!(e.is_invalid_request_exception(), "{e:?}");
    assert_eq!(e.message(), Some(MARKED_FOR_DELETION));
    assert_eq!(
        tags_of(&client, &name).await,
        pairs(&[("keep", "me")]),
        "unchanged"
    );
}

#[tokio::test]
async fn tag_missing_secret_is_not_found() {
    let client = TestServer::start().client();
    let e = expect_err!(
        client
            .tag_resource()
            .secret_id(unique_name("missing"))
            .tags(tag("k", "v"))
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
    let e = expect_err!(
        client
            .untag_resource()
            .secret_id(unique_name("missing"))
            .tag_keys("k")
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
}

#[tokio::test]
async fn tag_key_too_long_is_validation_error() {
    let client = TestServer::start().client();
    let name = unique_name("tags-long");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .tag_resource()
            .secret_id(&name)
            .tags(tag(&"k".repeat(129), "v"))
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    let e = expect_err!(
        client
            .tag_resource()
            .secret_id(&name)
            .tags(tag("k", &"v".repeat(257)))
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ValidationException"), "{e:?}");
    assert!(tags_of(&client, &name).await.is_none(), "nothing was tagged");
}

// ---------------------------------------------------------------------------------------------
// Resource policies
// ---------------------------------------------------------------------------------------------

fn account_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{DEV_ACCOUNT}:root")},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*"
        }]
    })
    .to_string()
}

fn public_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*"
        }]
    })
    .to_string()
}

#[tokio::test]
async fn resource_policy_round_trip() {
    let client = TestServer::start().client();
    let name = unique_name("policy");
    let (arn, _) = create_string_secret(&client, &name, "v").await;

    let none = client
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("GetResourcePolicy without a policy");
    assert_eq!(none.arn(), Some(arn.as_str()));
    assert_eq!(none.name(), Some(name.as_str()));
    assert!(
        none.resource_policy().is_none(),
        "ResourcePolicy omitted: {none:?}"
    );

    let policy = account_policy();
    let put = client
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(&policy)
        .send()
        .await
        .expect("PutResourcePolicy");
    assert_eq!(put.arn(), Some(arn.as_str()));
    assert_eq!(put.name(), Some(name.as_str()));

    let got = client
        .get_resource_policy()
        .secret_id(&arn)
        .send()
        .await
        .expect("GetResourcePolicy");
    let stored: serde_json::Value =
        serde_json::from_str(got.resource_policy().expect("ResourcePolicy")).expect("policy is JSON");
    let sent: serde_json::Value = serde_json::from_str(&policy).expect("JSON");
    assert_eq!(stored, sent);

    let deleted = client
        .delete_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteResourcePolicy");
    assert_eq!(deleted.arn(), Some(arn.as_str()));
    assert_eq!(deleted.name(), Some(name.as_str()));
    let after = client
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("GetResourcePolicy after delete");
    assert!(after.resource_policy().is_none(), "{after:?}");
    // Deleting again is harmless.
    client
        .delete_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteResourcePolicy without a policy");
}

#[tokio::test]
async fn malformed_policy_is_rejected() {
    let client = TestServer::start().client();
    let name = unique_name("policy-bad");
    create_string_secret(&client, &name, "v").await;
    for doc in ["{not json", "[1, 2]", r#"{"Version":"2012-10-17"}"#] {
        let e = expect_err!(
            client
                .put_resource_policy()
                .secret_id(&name)
                .resource_policy(doc)
                .send()
                .await
        );
        assert!(e.is_malformed_policy_document_exception(), "{doc}: {e:?}");
    }
    let got = client
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("GetResourcePolicy");
    assert!(got.resource_policy().is_none(), "nothing stored");
}

#[tokio::test]
async fn block_public_policy_rejects_star_principal() {
    let client = TestServer::start().client();
    let name = unique_name("policy-public");
    create_string_secret(&client, &name, "v").await;
    let e = expect_err!(
        client
            .put_resource_policy()
            .secret_id(&name)
            .resource_policy(public_policy())
            .block_public_policy(true)
            .send()
            .await
    );
    assert!(e.is_public_policy_exception(), "{e:?}");
    let got = client
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("GetResourcePolicy");
    assert!(got.resource_policy().is_none(), "nothing stored");

    // Without BlockPublicPolicy the same policy is accepted [S].
    client
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(public_policy())
        .send()
        .await
        .expect("PutResourcePolicy with Principal * and no BlockPublicPolicy");
    // A policy for a specific principal passes BlockPublicPolicy.
    client
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(account_policy())
        .block_public_policy(true)
        .send()
        .await
        .expect("PutResourcePolicy for the account with BlockPublicPolicy");
}

#[tokio::test]
async fn validate_resource_policy() {
    let client = TestServer::start().client();
    let out = client
        .validate_resource_policy()
        .resource_policy(account_policy())
        .send()
        .await
        .expect("ValidateResourcePolicy");
    assert!(out.policy_validation_passed(), "{out:?}");
    assert!(out.validation_errors().is_empty(), "{out:?}");

    let name = unique_name("policy-validate");
    create_string_secret(&client, &name, "v").await;
    let out = client
        .validate_resource_policy()
        .secret_id(&name)
        .resource_policy(account_policy())
        .send()
        .await
        .expect("ValidateResourcePolicy with SecretId");
    assert!(out.policy_validation_passed(), "{out:?}");

    let e = expect_err!(
        client
            .validate_resource_policy()
            .secret_id(unique_name("missing"))
            .resource_policy(account_policy())
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn resource_policy_on_missing_secret_is_not_found() {
    let client = TestServer::start().client();
    let missing = unique_name("missing");
    let e = expect_err!(client.get_resource_policy().secret_id(&missing).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.message(), Some(NOT_FOUND));
    let e = expect_err!(
        client
            .put_resource_policy()
            .secret_id(&missing)
            .resource_policy(account_policy())
            .send()
            .await
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = expect_err!(client.delete_resource_policy().secret_id(&missing).send().await);
    assert!(e.is_resource_not_found_exception(), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// GetRandomPassword
// ---------------------------------------------------------------------------------------------

fn classes(p: &str) -> (bool, bool, bool, bool, bool) {
    (
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| PUNCTUATION.contains(c)),
        p.contains(' '),
    )
}

#[tokio::test]
async fn random_password_defaults() {
    let client = TestServer::start().client();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let p = client
            .get_random_password()
            .send()
            .await
            .expect("GetRandomPassword")
            .random_password
            .expect("RandomPassword");
        assert_eq!(p.chars().count(), 32, "{p:?}");
        assert_eq!(
            classes(&p),
            (true, true, true, true, false),
            "every class, no space: {p:?}"
        );
        assert!(
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || PUNCTUATION.contains(c)),
            "{p:?}"
        );
        seen.insert(p);
    }
    assert_eq!(seen.len(), 20, "passwords are random");
}

#[tokio::test]
async fn random_password_flags() {
    let client = TestServer::start().client();
    let get = |b: aws_sdk_secretsmanager::operation::get_random_password::builders::GetRandomPasswordFluentBuilder| async move {
        b.send()
            .await
            .expect("GetRandomPassword")
            .random_password
            .expect("RandomPassword")
    };
    let p = get(client
        .get_random_password()
        .password_length(64)
        .exclude_numbers(true)
        .exclude_punctuation(true)
        .exclude_uppercase(true))
    .await;
    assert_eq!(p.len(), 64);
    assert!(p.chars().all(|c| c.is_ascii_lowercase()), "{p:?}");

    let p = get(client
        .get_random_password()
        .password_length(50)
        .exclude_lowercase(true)
        .exclude_uppercase(true)
        .exclude_punctuation(true))
    .await;
    assert!(p.chars().all(|c| c.is_ascii_digit()), "{p:?}");

    let p = get(client
        .get_random_password()
        .password_length(100)
        .include_space(true))
    .await;
    assert_eq!(
        classes(&p),
        (true, true, true, true, true),
        "space required when included: {p:?}"
    );

    let excluded = "xyzDje@?!.";
    let p = get(client
        .get_random_password()
        .password_length(120)
        .exclude_characters(excluded))
    .await;
    assert_eq!(p.len(), 120);
    assert!(!p.chars().any(|c| excluded.contains(c)), "{p:?}");

    let p = get(client
        .get_random_password()
        .password_length(1)
        .require_each_included_type(false))
    .await;
    assert_eq!(p.len(), 1);

    let p = get(client.get_random_password().password_length(4096)).await;
    assert_eq!(p.len(), 4096);
}

#[tokio::test]
async fn random_password_invalid_lengths_and_exclusions() {
    let client = TestServer::start().client();
    for len in [0, 4097, -1] {
        let e = expect_err!(client.get_random_password().password_length(len).send().await);
        assert_eq!(
            e.meta().code(),
            Some("ValidationException"),
            "length {len}: {e:?}"
        );
    }
    let e = expect_err!(
        client
            .get_random_password()
            .exclude_lowercase(true)
            .exclude_uppercase(true)
            .exclude_numbers(true)
            .exclude_punctuation(true)
            .send()
            .await
    );
    assert!(e.is_invalid_parameter_exception(), "everything excluded: {e:?}");
    let e = expect_err!(
        client
            .get_random_password()
            .exclude_characters(format!(
                "{PUNCTUATION}abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
            ))
            .send()
            .await
    );
    assert!(
        e.is_invalid_parameter_exception(),
        "every character excluded: {e:?}"
    );
    let e = expect_err!(client.get_random_password().password_length(3).send().await);
    assert!(
        e.is_invalid_parameter_exception(),
        "3 characters can't hold the 4 required classes: {e:?}"
    );
}
