//! Put/Get/Delete/ValidateResourcePolicy and BlockPublicPolicy.

use kinko_tests::*;

use crate::{secret, sm};

/// A policy granting the account GetSecretValue.
fn account_policy() -> String {
    let grant = principal_statement(
        "Allow",
        &root_arn(DEV_ACCOUNT),
        &["secretsmanager:GetSecretValue"],
    );
    policy_document(&[grant])
}

/// A policy granting everyone GetSecretValue.
fn public_policy() -> String {
    let mut grant = principal_statement("Allow", "*", &["secretsmanager:GetSecretValue"]);
    grant["Principal"] = "*".into();
    policy_document(&[grant])
}

/// The secret's resource policy, parsed; `None` when it has none.
async fn policy_of(sm: &aws_sdk_secretsmanager::Client, id: &str) -> Option<serde_json::Value> {
    let out = ok(sm.get_resource_policy().secret_id(id).send().await);
    out.resource_policy()
        .map(|p| serde_json::from_str(p).expect("the policy is JSON"))
}

#[tokio::test]
async fn resource_policy_round_trip() {
    let (sm, name, arn, _) = secret("policy", "v").await;
    let none = ok(sm.get_resource_policy().secret_id(&name).send().await);
    assert_eq!(none.arn(), Some(arn.as_str()));
    assert_eq!(none.name(), Some(name.as_str()));
    assert!(
        none.resource_policy().is_none(),
        "ResourcePolicy omitted: {none:?}"
    );
    let policy = account_policy();
    let put = sm.put_resource_policy().secret_id(&name).resource_policy(&policy);
    let put = ok(put.send().await);
    assert_eq!(put.arn(), Some(arn.as_str()));
    assert_eq!(put.name(), Some(name.as_str()));
    let sent: serde_json::Value = serde_json::from_str(&policy).expect("JSON");
    assert_eq!(policy_of(&sm, &arn).await, Some(sent));
    let deleted = ok(sm.delete_resource_policy().secret_id(&name).send().await);
    assert_eq!(deleted.arn(), Some(arn.as_str()));
    assert_eq!(deleted.name(), Some(name.as_str()));
    assert!(policy_of(&sm, &name).await.is_none());
    // Deleting again is harmless.
    ok(sm.delete_resource_policy().secret_id(&name).send().await);
}

#[tokio::test]
async fn malformed_policy_is_rejected() {
    let (sm, name, ..) = secret("policy-bad", "v").await;
    for doc in ["{not json", "[1, 2]", r#"{"Version":"2012-10-17"}"#] {
        let put = sm.put_resource_policy().secret_id(&name).resource_policy(doc);
        let out = put.send().await;
        assert_eq!(error_code(out), "MalformedPolicyDocumentException", "{doc}");
    }
    assert!(policy_of(&sm, &name).await.is_none(), "nothing stored");
}

/// BlockPublicPolicy refuses `Principal: *`; without it the policy is accepted [S]; a policy for
/// a specific principal passes it.
#[tokio::test]
async fn block_public_policy_rejects_star_principal() {
    let (sm, name, ..) = secret("policy-public", "v").await;
    let put = |policy: String| sm.put_resource_policy().secret_id(&name).resource_policy(policy);
    let blocked = put(public_policy()).block_public_policy(true).send().await;
    assert_eq!(error_code(blocked), "PublicPolicyException");
    assert!(policy_of(&sm, &name).await.is_none(), "nothing stored");
    ok(put(public_policy()).send().await);
    ok(put(account_policy()).block_public_policy(true).send().await);
}

#[tokio::test]
async fn validate_resource_policy() {
    let sm = sm();
    let validate = || sm.validate_resource_policy().resource_policy(account_policy());
    let out = ok(validate().send().await);
    assert!(out.policy_validation_passed(), "{out:?}");
    assert!(out.validation_errors().is_empty(), "{out:?}");
    let name = unique_name("policy-validate");
    sm.create_string(&name, "v").await;
    let out = ok(validate().secret_id(&name).send().await);
    assert!(out.policy_validation_passed(), "{out:?}");
    let missing = validate().secret_id(unique_name("missing")).send().await;
    assert_eq!(error_code(missing), "ResourceNotFoundException");
}
