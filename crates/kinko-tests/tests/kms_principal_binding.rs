//! Key policies bind the IAM users and roles they name to their unique ids, as IAM binds the
//! principals of every resource-based policy: a user or role deleted and created again under the
//! same name is another principal, which the saved policy doesn't grant, and GetKeyPolicy shows
//! the unique id of a principal that is gone where its ARN was. Saving the policy again binds the
//! principal that has the name now.

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use kinko_tests::*;
use serde_json::{Value, json};

/// A key policy: the account's root administers the key, and `principal` may encrypt with it.
fn encrypt_policy(account: &str, principal: &str) -> String {
    policy_document(&[
        json!({
            "Sid": "Administration",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Put*", "kms:Create*"],
            "Resource": "*"
        }),
        json!({
            "Sid": "Use",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "kms:Encrypt",
            "Resource": "*"
        }),
    ])
}

/// The policy document as it reads with `principal` as the `Use` statement's principal.
fn with_principal(policy: &str, principal: &str) -> Value {
    let mut doc: Value = serde_json::from_str(policy).expect("policy JSON");
    doc["Statement"][1]["Principal"]["AWS"] = json!(principal);
    doc
}

/// GetKeyPolicy, parsed.
async fn key_policy(kms: &Client, key: &str) -> Value {
    let policy = kms
        .get_key_policy()
        .key_id(key)
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy
        .expect("Policy");
    serde_json::from_str(&policy).expect("policy JSON")
}

/// Encrypt with `key` as `client`: `Ok`, or the error's code and message.
async fn encrypt(client: &Client, key: &str) -> Result<(), (String, String)> {
    client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"bound".to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            (
                e.code().unwrap_or_default().to_owned(),
                e.message().unwrap_or_default().to_owned(),
            )
        })
}

/// The AccessDeniedException of a caller whom no key policy statement grants `kms:Encrypt`.
fn not_in_key_policy(principal: &str, key_arn: &str) -> Result<(), (String, String)> {
    Err((
        "AccessDeniedException".to_owned(),
        denied_message(
            principal,
            "kms:Encrypt",
            Some(key_arn),
            "because no resource-based policy allows the kms:Encrypt action",
        ),
    ))
}

async fn delete_user(iam: &aws_sdk_iam::Client, name: &str, creds: &TestCredentials) {
    iam.delete_access_key()
        .user_name(name)
        .access_key_id(&creds.access_key_id)
        .send()
        .await
        .expect("DeleteAccessKey");
    iam.delete_user()
        .user_name(name)
        .send()
        .await
        .expect("DeleteUser");
}

#[tokio::test]
async fn a_key_policy_does_not_grant_a_user_created_again_under_the_same_name() {
    let server = TestServer::start();
    let account = server.account_id();
    let iam = server.iam_client();
    let kms = server.kms_client();
    let name = unique_name("kms-bound-user");
    // No identity policy: only the key policy grants the user anything.
    let (user_arn, creds) = create_user_with_key(&iam, &name, None).await;
    let old_id = iam
        .get_user()
        .user_name(&name)
        .send()
        .await
        .expect("GetUser")
        .user
        .expect("User")
        .user_id;
    assert!(old_id.starts_with("AIDA"), "{old_id}");
    let policy = encrypt_policy(account, &user_arn);
    let key = kms
        .create_key()
        .policy(&policy)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata");
    let key_arn = key.arn.expect("Arn");
    assert_eq!(encrypt(&server.kms_client_as(&creds), &key_arn).await, Ok(()));
    // While the user exists, the policy reads as it was written.
    assert_eq!(
        key_policy(&kms, &key_arn).await,
        serde_json::from_str::<Value>(&policy).expect("policy JSON")
    );

    delete_user(&iam, &name, &creds).await;
    // Gone: its unique id shows where its ARN was, and a policy naming it can't be saved.
    assert_eq!(key_policy(&kms, &key_arn).await, with_principal(&policy, &old_id));
    let e = kms
        .put_key_policy()
        .key_id(&key_arn)
        .policy(&policy)
        .send()
        .await
        .expect_err("a policy naming a user that doesn't exist");
    assert_error(
        e.as_service_error().expect("service error"),
        "MalformedPolicyDocumentException",
        "Policy contains a statement with one or more invalid principals.",
    );

    // The same name again is another user: the saved policy doesn't grant it.
    let (again_arn, again) = create_user_with_key(&iam, &name, None).await;
    assert_eq!(again_arn, user_arn);
    let again_client = server.kms_client_as(&again);
    assert_eq!(
        encrypt(&again_client, &key_arn).await,
        not_in_key_policy(&user_arn, &key_arn)
    );
    assert_eq!(key_policy(&kms, &key_arn).await, with_principal(&policy, &old_id));

    // Saving the policy again binds the user that has the name now.
    kms.put_key_policy()
        .key_id(&key_arn)
        .policy(&policy)
        .send()
        .await
        .expect("PutKeyPolicy");
    assert_eq!(encrypt(&again_client, &key_arn).await, Ok(()));
    assert_eq!(
        key_policy(&kms, &key_arn).await,
        serde_json::from_str::<Value>(&policy).expect("policy JSON")
    );
}

#[tokio::test]
async fn a_key_policy_does_not_grant_sessions_of_a_role_created_again_under_the_same_name() {
    let server = TestServer::start();
    let account = server.account_id();
    let iam = server.iam_client();
    let kms = server.kms_client();
    let name = unique_name("kms-bound-role");
    let trust = trust_policy(&[account]);
    // The root user can't assume roles: a user of the account does.
    let role_arn = format!("arn:aws:iam::{account}:role/{name}");
    let (_, operator) = create_user_with_key(
        &iam,
        &unique_name("kms-role-operator"),
        Some(&policy_document(&[statement(
            "Allow",
            &["sts:AssumeRole"],
            &[&role_arn],
        )])),
    )
    .await;
    let sts = server.sts_client_as(&operator);
    // No identity policy: only the key policy grants the role's sessions anything.
    assert_eq!(create_role_with_policy(&iam, &name, &trust, None).await, role_arn);
    let old_id = iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .expect("GetRole")
        .role
        .expect("Role")
        .role_id;
    assert!(old_id.starts_with("AROA"), "{old_id}");
    let key_arn = kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata")
        .arn
        .expect("Arn");
    let policy = encrypt_policy(account, &role_arn);
    kms.put_key_policy()
        .key_id(&key_arn)
        .policy(&policy)
        .send()
        .await
        .expect("PutKeyPolicy");
    let (session, _) = assume_role(&sts, &role_arn, "first").await;
    assert_eq!(encrypt(&server.kms_client_as(&session), &key_arn).await, Ok(()));

    iam.delete_role()
        .role_name(&name)
        .send()
        .await
        .expect("DeleteRole");
    assert_eq!(key_policy(&kms, &key_arn).await, with_principal(&policy, &old_id));

    // The same name again is another role: the saved policy doesn't grant its sessions.
    assert_eq!(create_role_with_policy(&iam, &name, &trust, None).await, role_arn);
    let (again, again_arn) = assume_role(&sts, &role_arn, "second").await;
    let again_client = server.kms_client_as(&again);
    assert_eq!(
        encrypt(&again_client, &key_arn).await,
        not_in_key_policy(&again_arn, &key_arn)
    );
    assert_eq!(key_policy(&kms, &key_arn).await, with_principal(&policy, &old_id));

    // Saving the policy again binds the role that has the name now.
    kms.put_key_policy()
        .key_id(&key_arn)
        .policy(&policy)
        .send()
        .await
        .expect("PutKeyPolicy");
    assert_eq!(encrypt(&again_client, &key_arn).await, Ok(()));
}
