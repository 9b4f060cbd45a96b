//! Key policy documents: the default policy, GetKeyPolicy / PutKeyPolicy / ListKeyPolicies,
//! malformed documents and principals, the model's limits, and the lockout safety check.

use kinko_tests::*;
use serde_json::{Value, json};

use crate::{LOCKOUT, account, kms};

/// A key policy statement allowing the account's root everything.
fn root_may_do_everything(root: &str) -> Value {
    key_statement("Allow", root, json!("kms:*"))
}

/// A key policy allowing the account (named by its id) everything.
fn account_policy(account: &str) -> String {
    let mut statement = key_statement("Allow", account, json!("kms:*"));
    statement["Sid"] = json!("Root");
    policy_document(&[statement])
}

#[tokio::test]
async fn keys_get_the_default_key_policy() {
    let client = kms();
    let root = root_arn(&account());
    let (key, _) = client.new_key().await;
    let p = ok(client.get_key_policy().key_id(&key).send().await);
    assert_eq!(p.policy_name.as_deref(), Some("default"));
    let doc: Value = serde_json::from_str(p.policy.as_deref().expect("policy")).expect("json");
    let statement = json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": "kms:*",
        "Resource": "*"
    });
    let expected = json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [statement]});
    assert_eq!(doc, expected);
    let get = |name: &str| client.get_key_policy().key_id(&key).policy_name(name).send();
    get("default").await.expect("GetKeyPolicy default");
    assert_eq!(
        outcome(get("other").await),
        failed("NotFoundException", "No such policy exists")
    );
    let pattern = model_pattern("policyName", "not valid!", "[\\w]+");
    assert_eq!(
        outcome(get("not valid!").await),
        failed("ValidationException", &pattern)
    );
    let names = ok(client.list_key_policies().key_id(&key).send().await);
    assert_eq!(names.policy_names(), ["default"]);
    assert!(!names.truncated);
}

#[tokio::test]
async fn put_key_policy_stores_the_document_as_given() {
    let client = kms();
    let (key, arn) = client.new_key().await;
    let mine = account_policy(&account());
    let put = client
        .put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(&mine);
    put.send().await.expect("PutKeyPolicy");
    let got = ok(client.get_key_policy().key_id(&key).send().await);
    assert_eq!(got.policy.as_deref(), Some(mine.as_str()));
    let other = client
        .put_key_policy()
        .key_id(&key)
        .policy_name("other")
        .policy(&mine);
    assert_eq!(error_code(other.send().await), "NotFoundException");
}

/// Malformed documents, on CreateKey and PutKeyPolicy.
#[tokio::test]
async fn malformed_key_policies_are_refused() {
    let (client, account) = (kms(), account());
    let root = root_arn(&account);
    let (key, _) = client.new_key().await;
    let with = |fields: Value| {
        let mut s =
            json!({"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"});
        for (k, v) in fields.as_object().expect("fields") {
            s[k] = v.clone();
        }
        s.as_object_mut().expect("statement").retain(|_, v| !v.is_null());
        policy_document(&[s])
    };
    for bad in [
        "{".to_owned(),
        "not json".to_owned(),
        "[]".to_owned(),
        with(json!({"Principal": null})),
        with(json!({"Action": null})),
        with(json!({"Action": "Encrypt"})),
        with(json!({"Effect": "Permit"})),
        with(json!({"Condition": {"NoSuchOperator": {"kms:CallerAccount": account}}})),
    ] {
        let e = expect_err!(client.create_key().policy(&bad).send().await);
        assert!(e.is_malformed_policy_document_exception(), "{bad}: {e:?}");
        assert!(e.message().is_some_and(|m| !m.is_empty()), "{e:?}");
        let put = client.put_key_policy().key_id(&key).policy(&bad).send().await;
        assert_eq!(error_code(put), "MalformedPolicyDocumentException", "{bad}");
    }
}

/// Principals: IAM users and roles must exist (with their path); accounts need not be known.
#[tokio::test]
async fn key_policy_principals_must_exist() {
    let server = TestServer::start();
    let (client, account) = (server.kms_client(), account());
    let root = root_arn(&account);
    let (key, _) = client.new_key().await;
    let user = server.user("kms-owner", None).await;
    let naming = |principal: &str| {
        policy_document(&[
            root_may_do_everything(&root),
            key_statement("Allow", &user.arn, json!("kms:Decrypt")),
            key_statement("Allow", principal, json!("kms:Decrypt")),
        ])
    };
    let invalid = failed(
        "MalformedPolicyDocumentException",
        "Policy contains a statement with one or more invalid principals.",
    );
    for bad in [
        format!("arn:aws:iam::{account}:user/no-such-user-{}", short_id()),
        format!("arn:aws:iam::{account}:role/no-such-role-{}", short_id()),
        format!("arn:aws:iam::{account}:user/some/path/{}", user.name),
        format!("arn:aws:iam::{account}:user/*"),
        format!("arn:aws:iam::111122223333:user/{}", user.name),
        "not-a-principal".to_owned(),
    ] {
        assert_eq!(
            outcome(client.create_key().policy(naming(&bad)).send().await),
            invalid,
            "{bad}"
        );
        let put = client.put_key_policy().key_id(&key).policy(naming(&bad));
        let put = put.send().await;
        assert_eq!(outcome(put), invalid, "{bad}");
    }
    for fine in ["111122223333", "arn:aws:iam::111122223333:root", "*"] {
        let put = client.put_key_policy().key_id(&key).policy(naming(fine));
        let put = put.send().await;
        put.unwrap_or_else(|e| panic!("principal {fine}: {e:?}"));
    }
}

/// The model: 1 to 131072 characters of [\u0009\u000A\u000D\u0020-\u00FF].
#[tokio::test]
async fn key_policy_model_constraints() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let put = || client.put_key_policy().key_id(&key);
    let empty = failed("ValidationException", &model_min_length("policy", "", 1));
    assert_eq!(outcome(put().policy("").send().await), empty);
    let missing = failed("ValidationException", &model_not_null("policy"));
    assert_eq!(outcome(put().send().await), missing);
    let mut statement = root_may_do_everything(&root_arn(&account()));
    statement["Sid"] = json!("€");
    let euro = policy_document(&[statement]);
    let pattern = model_pattern("policy", &euro, "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+");
    assert_eq!(
        outcome(put().policy(&euro).send().await),
        failed("ValidationException", &pattern)
    );
}

/// The key policy quota: 32 KB.
#[tokio::test]
async fn key_policies_are_at_most_32_kb() {
    let client = kms();
    let root = root_arn(&account());
    let (key, _) = client.new_key().await;
    let padded = |sid_len: usize| {
        let mut statement = root_may_do_everything(&root);
        statement["Sid"] = json!("s".repeat(sid_len));
        policy_document(&[statement])
    };
    let overhead = padded(0).len();
    let largest = padded(32_768 - overhead);
    assert_eq!(largest.len(), 32_768);
    client.put_policy(&key, &largest).await;
    let over = client
        .put_key_policy()
        .key_id(&key)
        .policy(padded(32_769 - overhead));
    assert_eq!(error_code(over.send().await), "LimitExceededException");
}

/// Policies the lockout safety check refuses: the caller (root) couldn't change them later.
fn lockouts(root: &str, user: &str) -> [String; 3] {
    let uses = json!([
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GetKeyPolicy",
        "kms:DescribeKey"
    ]);
    [
        policy_document(&[key_statement("Allow", user, json!("kms:*"))]),
        policy_document(&[key_statement("Allow", root, uses)]),
        policy_document(&[
            root_may_do_everything(root),
            key_statement("Deny", root, json!("kms:PutKeyPolicy")),
        ]),
    ]
}

/// The lockout safety check: a new policy must let the caller change it again.
#[tokio::test]
async fn policies_locking_the_caller_out_are_refused() {
    let server = TestServer::start();
    let client = server.kms_client();
    let root = root_arn(&account());
    let user = server.user("kms-owner", None).await;
    let (key, _) = client.new_key().await;
    let before = ok(client.get_key_policy().key_id(&key).send().await).policy;
    let lockout = failed("MalformedPolicyDocumentException", LOCKOUT);
    for locked in lockouts(&root, &user.arn) {
        assert_eq!(outcome(client.create_key().policy(&locked).send().await), lockout);
        let put = client.put_key_policy().key_id(&key).policy(&locked).send().await;
        assert_eq!(outcome(put), lockout);
    }
    let after = ok(client.get_key_policy().key_id(&key).send().await).policy;
    assert_eq!(after, before);
}

/// Bypassing the check locks the caller out; the principal the policy names manages the key
/// without any IAM policy.
#[tokio::test]
async fn bypassing_the_lockout_check_locks_the_caller_out() {
    let server = TestServer::start();
    let (client, account) = (server.kms_client(), account());
    let root = root_arn(&account);
    let user = server.user("kms-owner", None).await;
    let [user_only, root_uses_only, _] = lockouts(&root, &user.arn);
    let mine = account_policy(&account);
    let (locked, locked_arn) = client.key_with_policy(&user_only, true).await;
    let get = |key: &str| client.get_key_policy().key_id(key).send();
    let put = |key: &str, policy: &str| client.put_key_policy().key_id(key).policy(policy).send();
    let denied = |action: &str, arn: &str| no_key_policy(&root, action, arn);
    assert_eq!(
        outcome(get(&locked).await),
        denied("kms:GetKeyPolicy", &locked_arn)
    );
    assert_eq!(
        outcome(put(&locked, &mine).await),
        denied("kms:PutKeyPolicy", &locked_arn)
    );
    let shared = policy_granting(&account, &user.arn, &["kms:*"], None);
    user.kms().put_policy(&locked_arn, &shared).await;
    assert_eq!(outcome(get(&locked).await), Ok(()));

    let (key, arn) = client.new_key().await;
    let bypass = client.put_key_policy().key_id(&key).policy(&root_uses_only);
    ok(bypass.bypass_policy_lockout_safety_check(true).send().await);
    assert_eq!(outcome(put(&key, &mine).await), denied("kms:PutKeyPolicy", &arn));
    assert_eq!(client.try_encrypt(&key, &[]).await, Ok(()));
}
