//! Secrets Manager encrypting through KMS: secrets under customer managed keys, the caller's KMS
//! permissions checked through Secrets Manager (`kms:ViaService`), key states, key changes, and
//! the cross-account scenario: a management account's secret under a customer managed key, read by
//! a role of a member account.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_secretsmanager::Client;
use kinko_tests::{
    DEV_ACCOUNT, REGION, TestServer, assert_error, assume_role, create_role_with_policy,
    create_string_secret, create_user_with_key, denied_message, expect_err, member, policy_document,
    short_id, statement, token, trust_policy, unique_name,
};
use serde_json::json;

const KMS_DENIED: &str = "Access to KMS is not allowed";
const DECRYPTION_FAILURE: &str =
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key.";
const ENCRYPTION_FAILURE: &str = "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state.";
const DEFAULT_KEY_CROSS_ACCOUNT: &str = "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.";

fn via_secretsmanager() -> String {
    format!("secretsmanager.{REGION}.amazonaws.com")
}

fn account_root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// The statement of the default key policy: the account's IAM policies decide.
fn root_statement(account: &str) -> serde_json::Value {
    json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": account_root(account)},
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// A customer managed key of the management account, with `policy` or the default key policy;
/// returns its key id and ARN.
async fn cmk(server: &TestServer, policy: Option<String>) -> (String, String) {
    let mut req = server.kms_client().create_key().description("secrets key");
    if let Some(p) = policy {
        req = req.policy(p);
    }
    let m = req
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata");
    (m.key_id, m.arn.expect("Arn"))
}

async fn create_secret_under(client: &Client, name: &str, key: &str, value: &str) -> String {
    client
        .create_secret()
        .name(name)
        .kms_key_id(key)
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret with KmsKeyId")
        .arn
        .expect("ARN")
}

async fn read(client: &Client, id: &str) -> String {
    client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .expect("GetSecretValue")
        .secret_string
        .expect("SecretString")
}

async fn key_ids_by_stage(client: &Client, id: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let out = client
        .list_secret_version_ids()
        .secret_id(id)
        .include_deprecated(true)
        .send()
        .await
        .expect("ListSecretVersionIds");
    let mut v: Vec<_> = out
        .versions()
        .iter()
        .map(|v| (v.version_stages().to_vec(), v.kms_key_ids().to_vec()))
        .collect();
    v.sort();
    v
}

async fn set_key_enabled(server: &TestServer, key_id: &str, enabled: bool) {
    let kms = server.kms_client();
    if enabled {
        kms.enable_key().key_id(key_id).send().await.expect("EnableKey");
    } else {
        kms.disable_key().key_id(key_id).send().await.expect("DisableKey");
    }
}

#[tokio::test]
async fn secrets_under_a_customer_managed_key_by_every_identifier() {
    let server = TestServer::start();
    let sm = server.client();
    let (key_id, key_arn) = cmk(server, None).await;
    let alias = format!("alias/secrets-{}", short_id());
    server
        .kms_client()
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias");
    let alias_arn = format!("arn:aws:kms:{REGION}:{DEV_ACCOUNT}:{alias}");
    for key_ref in [&key_id, &key_arn, &alias, &alias_arn] {
        let name = unique_name("cmk");
        let arn = create_secret_under(&sm, &name, key_ref, "under-cmk").await;
        assert_eq!(read(&sm, &name).await, "under-cmk");
        let d = sm
            .describe_secret()
            .secret_id(&arn)
            .send()
            .await
            .expect("DescribeSecret");
        assert_eq!(d.kms_key_id(), Some(key_ref.as_str()), "KmsKeyId as given");
        assert_eq!(
            key_ids_by_stage(&sm, &name).await,
            [(vec!["AWSCURRENT".to_owned()], vec![key_arn.clone()])],
            "the version's data key is under the key"
        );
    }

    // The key really protects the value: disabled, the secret can't be read or written.
    let name = unique_name("cmk-state");
    create_secret_under(&sm, &name, &key_arn, "v1").await;
    set_key_enabled(server, &key_id, false).await;
    let e = expect_err!(sm.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "DecryptionFailure", DECRYPTION_FAILURE);
    let e = expect_err!(
        sm.put_secret_value()
            .secret_id(&name)
            .secret_string("v2")
            .send()
            .await
    );
    assert_error(&e, "EncryptionFailure", ENCRYPTION_FAILURE);
    let e = expect_err!(
        sm.create_secret()
            .name(unique_name("cmk-disabled"))
            .kms_key_id(&key_id)
            .secret_string("x")
            .send()
            .await
    );
    assert_error(&e, "EncryptionFailure", ENCRYPTION_FAILURE);
    // Secrets under the default key are unaffected.
    let (_, _) = create_string_secret(&sm, &unique_name("default-key"), "fine").await;
    set_key_enabled(server, &key_id, true).await;
    assert_eq!(read(&sm, &name).await, "v1");

    // Pending deletion: no reads until the deletion is cancelled.
    let kms = server.kms_client();
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    let e = expect_err!(sm.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "DecryptionFailure", DECRYPTION_FAILURE);
    kms.cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .expect("CancelKeyDeletion");
    set_key_enabled(server, &key_id, true).await;
    assert_eq!(read(&sm, &name).await, "v1");
}

#[tokio::test]
async fn malformed_and_unknown_keys() {
    let server = TestServer::start();
    let sm = server.client();
    let name = unique_name("bad-key");
    let e = expect_err!(
        sm.create_secret()
            .name(&name)
            .kms_key_id("no-such-alias")
            .secret_string("x")
            .send()
            .await
    );
    assert_error(
        &e,
        "InvalidParameterException",
        "The operation failed because of an invalid KMS key: Invalid keyId",
    );
    let missing = uuid::Uuid::new_v4().to_string();
    let e = expect_err!(
        sm.create_secret()
            .name(&name)
            .kms_key_id(&missing)
            .secret_string("x")
            .send()
            .await
    );
    assert_error(
        &e,
        "EncryptionFailure",
        &format!(
            "Secrets Manager can't encrypt the secret value: Key 'arn:aws:kms:{REGION}:{DEV_ACCOUNT}:key/{missing}' does not exist"
        ),
    );
    let e = expect_err!(
        sm.create_secret()
            .name(&name)
            .kms_key_id("alias/does-not-exist")
            .send()
            .await
    );
    assert_error(
        &e,
        "EncryptionFailure",
        &format!(
            "Secrets Manager can't encrypt the secret value: Alias arn:aws:kms:{REGION}:{DEV_ACCOUNT}:alias/does-not-exist is not found."
        ),
    );
    // Nothing was created by the failed requests.
    let e = expect_err!(sm.describe_secret().secret_id(&name).send().await);
    assert_eq!(e.meta().code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn callers_need_kms_permissions_on_customer_managed_keys_only() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let (_, key_arn) = cmk(server, None).await;
    let prefix = format!("kmsperm-{}", short_id());
    let default_name = format!("{prefix}/default");
    let cmk_name = format!("{prefix}/cmk");
    create_string_secret(&sm, &default_name, "default-value").await;
    create_secret_under(&sm, &cmk_name, &key_arn, "cmk-value").await;

    // Secrets Manager permissions only.
    let secrets = statement(
        "Allow",
        &["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
        &[&format!(
            "arn:aws:secretsmanager:{REGION}:{DEV_ACCOUNT}:secret:{prefix}/*"
        )],
    );
    let user = format!("sm-only-{}", short_id());
    let (_, creds) = create_user_with_key(
        &iam,
        &user,
        Some(&policy_document(std::slice::from_ref(&secrets))),
    )
    .await;
    let app = server.client_as(&creds);
    // The AWS managed key's policy lets every principal of the account use it through Secrets
    // Manager: no KMS permission needed.
    assert_eq!(read(&app, &default_name).await, "default-value");
    app.put_secret_value()
        .secret_id(&default_name)
        .secret_string("default-2")
        .send()
        .await
        .expect("PutSecretValue under the default key");
    // The customer managed key's default policy delegates to IAM, which grants nothing here.
    let e = expect_err!(app.get_secret_value().secret_id(&cmk_name).send().await);
    assert_error(&e, "AccessDeniedException", KMS_DENIED);
    let e = expect_err!(
        app.put_secret_value()
            .secret_id(&cmk_name)
            .secret_string("x")
            .send()
            .await
    );
    assert_error(&e, "AccessDeniedException", KMS_DENIED);

    // kms:Decrypt lets it read; writing also needs kms:GenerateDataKey.
    let decrypt = statement("Allow", &["kms:Decrypt"], &[&key_arn]);
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("inline")
        .policy_document(policy_document(&[secrets.clone(), decrypt.clone()]))
        .send()
        .await
        .expect("PutUserPolicy");
    assert_eq!(read(&app, &cmk_name).await, "cmk-value");
    let e = expect_err!(
        app.put_secret_value()
            .secret_id(&cmk_name)
            .secret_string("x")
            .send()
            .await
    );
    assert_error(&e, "AccessDeniedException", KMS_DENIED);
    let generate = statement("Allow", &["kms:GenerateDataKey"], &[&key_arn]);
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("inline")
        .policy_document(policy_document(&[secrets.clone(), decrypt.clone(), generate]))
        .send()
        .await
        .expect("PutUserPolicy");
    app.put_secret_value()
        .secret_id(&cmk_name)
        .secret_string("cmk-2")
        .send()
        .await
        .expect("PutSecretValue with kms:GenerateDataKey");
    assert_eq!(read(&app, &cmk_name).await, "cmk-2");

    // An explicit deny of kms:Decrypt through Secrets Manager ends reads.
    let deny = json!({
        "Effect": "Deny",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": via_secretsmanager()}}
    });
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("deny")
        .policy_document(policy_document(&[deny]))
        .send()
        .await
        .expect("PutUserPolicy");
    let e = expect_err!(app.get_secret_value().secret_id(&cmk_name).send().await);
    assert_error(&e, "AccessDeniedException", KMS_DENIED);

    // CreateSecret checks the caller's access to the key before creating anything.
    let (_, creator) = create_user_with_key(
        &iam,
        &format!("creator-{}", short_id()),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:CreateSecret", "secretsmanager:DescribeSecret"],
            &["*"],
        )])),
    )
    .await;
    let creator = server.client_as(&creator);
    let name = format!("{prefix}/created");
    let e = expect_err!(
        creator
            .create_secret()
            .name(&name)
            .kms_key_id(&key_arn)
            .send()
            .await
    );
    assert_error(&e, "AccessDeniedException", KMS_DENIED);
    let e = expect_err!(sm.describe_secret().secret_id(&name).send().await);
    assert_eq!(e.meta().code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn changing_the_key_reencrypts_labelled_versions() {
    let server = TestServer::start();
    let sm = server.client();
    let name = unique_name("rekey");
    create_string_secret(&sm, &name, "v1").await;
    for v in ["v2", "v3"] {
        sm.put_secret_value()
            .secret_id(&name)
            .secret_string(v)
            .client_request_token(token())
            .send()
            .await
            .expect("PutSecretValue");
    }
    let default = vec!["DefaultEncryptionKey".to_owned()];
    let stage = |s: &str| vec![s.to_owned()];
    assert_eq!(
        key_ids_by_stage(&sm, &name).await,
        [
            (vec![], default.clone()),
            (stage("AWSCURRENT"), default.clone()),
            (stage("AWSPREVIOUS"), default.clone())
        ]
    );
    let (key_id, key_arn) = cmk(server, None).await;
    sm.update_secret()
        .secret_id(&name)
        .kms_key_id(&key_id)
        .send()
        .await
        .expect("UpdateSecret KmsKeyId");
    // AWSCURRENT and AWSPREVIOUS move to the new key; the unlabelled version stays where it was.
    assert_eq!(
        key_ids_by_stage(&sm, &name).await,
        [
            (vec![], default.clone()),
            (stage("AWSCURRENT"), vec![key_arn.clone()]),
            (stage("AWSPREVIOUS"), vec![key_arn.clone()])
        ]
    );
    assert_eq!(read(&sm, &name).await, "v3");
    let previous = sm
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("AWSPREVIOUS after the key change");
    assert_eq!(previous.secret_string(), Some("v2"));
    // They really are under the new key now.
    set_key_enabled(server, &key_id, false).await;
    let e = expect_err!(sm.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "DecryptionFailure", DECRYPTION_FAILURE);
    set_key_enabled(server, &key_id, true).await;

    // "" puts the secret back on the AWS managed key, re-encrypting again.
    sm.update_secret()
        .secret_id(&name)
        .kms_key_id("")
        .secret_string("v4")
        .client_request_token(token())
        .send()
        .await
        .expect("UpdateSecret back to the default key");
    let d = sm
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert!(d.kms_key_id().is_none(), "{d:?}");
    assert_eq!(
        key_ids_by_stage(&sm, &name).await,
        [
            (vec![], default.clone()),
            // v2 lost its label to the new value before the re-encryption: it stays where it was.
            (vec![], vec![key_arn.clone()]),
            (stage("AWSCURRENT"), default.clone()),
            (stage("AWSPREVIOUS"), default.clone())
        ]
    );
    set_key_enabled(server, &key_id, false).await;
    assert_eq!(read(&sm, &name).await, "v4");
    let previous = sm
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("AWSPREVIOUS back under the default key");
    assert_eq!(previous.secret_string(), Some("v3"));
}

#[tokio::test]
async fn key_change_without_encrypt_permission_leaves_versions_on_the_old_key() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let prefix = format!("noencrypt-{}", short_id());
    let name = format!("{prefix}/s");
    create_string_secret(&sm, &name, "v1").await;
    let (_, key_arn) = cmk(server, None).await;
    let (_, creds) = create_user_with_key(
        &iam,
        &format!("rekeyer-{}", short_id()),
        Some(&policy_document(&[
            statement(
                "Allow",
                &["secretsmanager:UpdateSecret", "secretsmanager:GetSecretValue"],
                &["*"],
            ),
            statement("Allow", &["kms:GenerateDataKey", "kms:Decrypt"], &[&key_arn]),
        ])),
    )
    .await;
    let app = server.client_as(&creds);
    app.update_secret()
        .secret_id(&name)
        .kms_key_id(&key_arn)
        .send()
        .await
        .expect("UpdateSecret KmsKeyId without kms:Encrypt");
    assert_eq!(
        key_ids_by_stage(&sm, &name).await,
        [(
            vec!["AWSCURRENT".to_owned()],
            vec!["DefaultEncryptionKey".to_owned()]
        )]
    );
    assert_eq!(read(&app, &name).await, "v1");
    // New versions use the new key.
    app.update_secret()
        .secret_id(&name)
        .secret_string("v2")
        .client_request_token(token())
        .send()
        .await
        .expect("UpdateSecret value");
    assert_eq!(
        key_ids_by_stage(&sm, &name).await,
        [
            (vec!["AWSCURRENT".to_owned()], vec![key_arn.clone()]),
            (
                vec!["AWSPREVIOUS".to_owned()],
                vec!["DefaultEncryptionKey".to_owned()]
            )
        ]
    );
}

/// The security-team scenario: the management account keeps a secret under a customer managed key
/// whose policy allows a member account's role `kms:Decrypt` only through Secrets Manager; the
/// secret's resource policy lets that role read it.
#[tokio::test]
async fn member_role_reads_a_management_secret_under_a_customer_managed_key() {
    let server = TestServer::start();
    let sm = server.client();
    let m = member(server).await;
    let member_iam = server.iam_client_as(&m.admin);
    let trust = trust_policy(&[&account_root(DEV_ACCOUNT)]);
    let prefix = short_id();
    let name = format!("{prefix}/shared/azure");
    let secret_pattern = format!("arn:aws:secretsmanager:{REGION}:{DEV_ACCOUNT}:secret:{prefix}/shared/*");

    // The key first (its ARN goes into the roles' policies), then the roles, then the key policy.
    let (key_id, key_arn) = cmk(server, None).await;
    let reader_policy = policy_document(&[
        statement("Allow", &["secretsmanager:GetSecretValue"], &[&secret_pattern]),
        statement("Allow", &["kms:Decrypt"], &[&key_arn]),
    ]);
    let reader = create_role_with_policy(&member_iam, "reader", &trust, Some(&reader_policy)).await;
    // Named by the key policy, but its own policies don't allow kms:Decrypt.
    let no_identity = create_role_with_policy(
        &member_iam,
        "no-kms-identity",
        &trust,
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:GetSecretValue"],
            &[&secret_pattern],
        )])),
    )
    .await;
    // Allowed by its own policies, but not named by the key policy.
    let not_in_key_policy =
        create_role_with_policy(&member_iam, "not-in-key-policy", &trust, Some(&reader_policy)).await;
    server
        .kms_client()
        .put_key_policy()
        .key_id(&key_id)
        .policy(policy_document(&[
            root_statement(DEV_ACCOUNT),
            json!({
                "Sid": "AllowMemberReadersThroughSecretsManager",
                "Effect": "Allow",
                "Principal": {"AWS": [&reader, &no_identity]},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": via_secretsmanager()}}
            }),
        ]))
        .send()
        .await
        .expect("PutKeyPolicy");

    let secret_arn = create_secret_under(
        &sm,
        &name,
        &key_arn,
        "DefaultEndpointsProtocol=https;AccountName=dev;AccountKey=a2lua28=;EndpointSuffix=core.windows.net",
    )
    .await;
    sm.put_resource_policy()
        .secret_id(&name)
        .resource_policy(policy_document(&[json!({
            "Effect": "Allow",
            "Principal": {"AWS": [&reader, &no_identity, &not_in_key_policy]},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*"
        })]))
        .send()
        .await
        .expect("PutResourcePolicy");

    let sts = server.sts_client_as(&m.operator);
    let (session, session_arn) = assume_role(&sts, &reader, "app").await;
    let app = server.client_as(&session);
    let got = app
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("cross-account GetSecretValue under a customer managed key");
    assert!(
        got.secret_string().is_some_and(|s| s.contains("AccountName=dev")),
        "{got:?}"
    );
    assert_eq!(got.arn(), Some(secret_arn.as_str()));

    // Direct use of the key outside Secrets Manager fails the kms:ViaService condition.
    let blob = server
        .kms_client()
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"direct".as_slice()))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("CiphertextBlob");
    let e = expect_err!(
        server
            .kms_client_as(&session)
            .decrypt()
            .ciphertext_blob(blob.clone())
            .key_id(&key_arn)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &denied_message(
            &session_arn,
            "kms:Decrypt",
            Some(&key_arn),
            "because no resource-based policy allows the kms:Decrypt action",
        ),
    );

    // The key policy grants, but the caller's own policies must allow kms:Decrypt too.
    let (s, _) = assume_role(&sts, &no_identity, "no-identity").await;
    let e = expect_err!(
        server
            .client_as(&s)
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await
    );
    assert_error(&e, "AccessDeniedException", KMS_DENIED);
    // The caller's policies allow, but the key policy doesn't name it.
    let (s, _) = assume_role(&sts, &not_in_key_policy, "outsider").await;
    let e = expect_err!(
        server
            .client_as(&s)
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await
    );
    assert_error(&e, "AccessDeniedException", KMS_DENIED);

    // A disabled key stops the reads.
    set_key_enabled(server, &key_id, false).await;
    let e = expect_err!(app.get_secret_value().secret_id(&secret_arn).send().await);
    assert_error(&e, "DecryptionFailure", DECRYPTION_FAILURE);
    set_key_enabled(server, &key_id, true).await;
    assert!(read(&app, &secret_arn).await.contains("AccountName=dev"));

    // The same sharing under the AWS managed key can't work: its policy serves its own account.
    let default_name = format!("{prefix}/shared/default");
    let (default_arn, _) = create_string_secret(&sm, &default_name, "v").await;
    sm.put_resource_policy()
        .secret_id(&default_name)
        .resource_policy(policy_document(&[json!({
            "Effect": "Allow",
            "Principal": {"AWS": &reader},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*"
        })]))
        .send()
        .await
        .expect("PutResourcePolicy");
    let e = expect_err!(app.get_secret_value().secret_id(&default_arn).send().await);
    assert_error(&e, "InvalidRequestException", DEFAULT_KEY_CROSS_ACCOUNT);
    // Nor can the member use the AWS managed key of the management account directly.
    let e = expect_err!(
        server
            .kms_client_as(&session)
            .describe_key()
            .key_id(format!(
                "arn:aws:kms:{REGION}:{DEV_ACCOUNT}:alias/aws/secretsmanager"
            ))
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("AccessDeniedException"), "{e:?}");
}
