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

/// BlockPublicPolicy sees a `"*"` principal as public unless a condition keeps the caller to
/// values that don't match everyone (IAM Access Analyzer's "What is public?", which Secrets Manager's
/// check uses): `aws:PrincipalAccount` `*`, `aws:PrincipalOrgID` `o-*`, `aws:SourceIp` `0.0.0.0/0`,
/// `aws:PrincipalArn` `arn:aws:iam::*:*` narrow nothing and are refused; one account, one
/// organization, a bounded network are accepted. ValidateResourcePolicy reports the same.
#[tokio::test]
async fn block_public_policy_sees_through_conditions_that_match_everyone() {
    let (sm, name, ..) = secret("policy-public-conditions", "v").await;
    let limited = |op: &str, key: &str, value: serde_json::Value| {
        let mut grant = principal_statement("Allow", "*", &["secretsmanager:GetSecretValue"]);
        grant["Principal"] = "*".into();
        grant["Condition"] = serde_json::json!({ op: { key: value } });
        policy_document(&[grant])
    };
    let public = [
        limited("StringLike", "aws:PrincipalAccount", "*".into()),
        limited("StringLike", "aws:PrincipalOrgID", "o-*".into()),
        limited("IpAddress", "aws:SourceIp", "0.0.0.0/0".into()),
        limited("IpAddress", "aws:SourceIp", "::/0".into()),
        limited("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:*".into()),
        limited("StringLike", "aws:SourceVpce", "vpce-*".into()),
        limited(
            "StringEqualsIfExists",
            "aws:PrincipalOrgID",
            "o-abcdefghij".into(),
        ),
        limited(
            "StringLike",
            "aws:PrincipalAccount",
            serde_json::json!([DEV_ACCOUNT, "*"]),
        ),
    ];
    for doc in public {
        let put = sm.put_resource_policy().secret_id(&name).resource_policy(&doc);
        let out = put.block_public_policy(true).send().await;
        assert_eq!(error_code(out), "PublicPolicyException", "{doc}");
        let out = ok(sm.validate_resource_policy().resource_policy(&doc).send().await);
        assert!(!out.policy_validation_passed(), "{doc}");
        let checks: Vec<_> = out
            .validation_errors()
            .iter()
            .filter_map(|e| e.check_name())
            .collect();
        assert_eq!(checks, ["PUBLIC_ACCESS_CHECK"], "{doc}");
    }
    assert!(policy_of(&sm, &name).await.is_none(), "nothing stored");
    let narrowed = [
        limited("StringEquals", "aws:PrincipalAccount", DEV_ACCOUNT.into()),
        limited("StringEquals", "aws:PrincipalOrgID", "o-abcdefghij".into()),
        limited("IpAddress", "aws:SourceIp", "203.0.113.0/24".into()),
        limited(
            "ArnLike",
            "aws:PrincipalArn",
            format!("arn:aws:iam::{DEV_ACCOUNT}:role/*").into(),
        ),
    ];
    for doc in narrowed {
        let put = sm.put_resource_policy().secret_id(&name).resource_policy(&doc);
        ok(put.block_public_policy(true).send().await);
        let out = ok(sm.validate_resource_policy().resource_policy(&doc).send().await);
        assert!(out.policy_validation_passed(), "{doc}: {out:?}");
    }
}
