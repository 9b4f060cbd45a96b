//! Secrets Manager encrypting through KMS: secrets under customer managed keys, the caller's KMS
//! permissions checked through Secrets Manager (`kms:ViaService`), key states, key changes, and
//! the cross-account scenario: a management account's secret under a customer managed key, read by
//! a role of a member account.

use aws_sdk_secretsmanager::Client;
use kinko_tests::*;
use serde_json::json;

use crate::{secret, sm};

const KMS_DENIED: &str = "Access to KMS is not allowed";
const DECRYPTION_FAILURE: &str =
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key.";
const ENCRYPTION_FAILURE: &str = "Secrets Manager can't encrypt the protected secret text using the provided KMS key. Check that the KMS key is available, enabled, and not in an invalid state.";
const DEFAULT_KEY: &str = "DefaultEncryptionKey";

fn via_secretsmanager() -> String {
    format!("secretsmanager.{REGION}.amazonaws.com")
}

fn kms_denied() -> Outcome {
    failed("AccessDeniedException", KMS_DENIED)
}

fn decryption_failure() -> Outcome {
    failed("DecryptionFailure", DECRYPTION_FAILURE)
}

/// A customer managed key of the shared server with the default key policy: `(KeyId, Arn)`.
async fn cmk() -> (String, String) {
    TestServer::start().kms_client().new_key().await
}

async fn create_under(sm: &Client, name: &str, key: &str, value: &str) -> String {
    let req = sm.create_secret().name(name).kms_key_id(key).secret_string(value);
    ok(req.send().await).arn.expect("ARN")
}

/// `(VersionStages, KmsKeyIds)` of every version, sorted.
async fn key_ids_by_stage(sm: &Client, id: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let out = sm.versions(id, true).await;
    let entry = |v: &aws_sdk_secretsmanager::types::SecretVersionsListEntry| {
        (v.version_stages().to_vec(), v.kms_key_ids().to_vec())
    };
    let mut v: Vec<_> = out.versions().iter().map(entry).collect();
    v.sort();
    v
}

/// `(labels, key ids)` of one version, for [`key_ids_by_stage`].
fn under(stages: &[&str], key: &str) -> (Vec<String>, Vec<String>) {
    (
        stages.iter().map(|s| (*s).to_owned()).collect(),
        vec![key.to_owned()],
    )
}

async fn set_enabled(key: &str, enabled: bool) {
    TestServer::start().kms_client().set_enabled(key, enabled).await;
}

/// KmsKeyId by key id, key ARN, alias or alias ARN: kept as given; the version's data key is under
/// the key.
#[tokio::test]
async fn secrets_under_a_customer_managed_key_by_every_identifier() {
    let sm = sm();
    let (key_id, key_arn) = cmk().await;
    let alias = format!("alias/secrets-{}", short_id());
    TestServer::start().kms_client().alias_key(&alias, &key_id).await;
    let alias_arn = alias_arn(DEV_ACCOUNT, &alias);
    for key_ref in [&key_id, &key_arn, &alias, &alias_arn] {
        let name = unique_name("cmk");
        let arn = create_under(&sm, &name, key_ref, "under-cmk").await;
        assert_eq!(sm.value(&name).await, "under-cmk");
        let d = sm.describe(&arn).await;
        assert_eq!(d.kms_key_id(), Some(key_ref.as_str()), "KmsKeyId as given");
        let expected = [under(&["AWSCURRENT"], &key_arn)];
        assert_eq!(
            key_ids_by_stage(&sm, &name).await,
            expected,
            "data key under the key"
        );
    }
}

/// The key really protects the value: disabled, the secret can't be read or written, nor new
/// secrets made under it; secrets under the default key are unaffected.
#[tokio::test]
async fn a_disabled_key_stops_reads_and_writes() {
    let sm = sm();
    let (key_id, key_arn) = cmk().await;
    let name = unique_name("cmk-state");
    create_under(&sm, &name, &key_arn, "v1").await;
    set_enabled(&key_id, false).await;
    let read = sm.get_secret_value().secret_id(&name).send().await;
    assert_eq!(outcome(read), decryption_failure());
    let encryption_failure = failed("EncryptionFailure", ENCRYPTION_FAILURE);
    let write = sm.put_secret_value().secret_id(&name).secret_string("v2");
    let write = write.send().await;
    assert_eq!(outcome(write), encryption_failure);
    let req = sm
        .create_secret()
        .name(unique_name("cmk-disabled"))
        .kms_key_id(&key_id);
    assert_eq!(outcome(req.secret_string("x").send().await), encryption_failure);
    sm.create_string(&unique_name("default-key"), "fine").await;
    set_enabled(&key_id, true).await;
    assert_eq!(sm.value(&name).await, "v1");
}

/// Pending deletion: no reads until the deletion is cancelled (and the key enabled).
#[tokio::test]
async fn a_key_pending_deletion_stops_reads() {
    let (sm, kms) = (sm(), TestServer::start().kms_client());
    let (key_id, key_arn) = cmk().await;
    let name = unique_name("cmk-pending");
    create_under(&sm, &name, &key_arn, "v1").await;
    let schedule = kms
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7);
    ok(schedule.send().await);
    let read = sm.get_secret_value().secret_id(&name).send().await;
    assert_eq!(outcome(read), decryption_failure());
    ok(kms.cancel_key_deletion().key_id(&key_id).send().await);
    set_enabled(&key_id, true).await;
    assert_eq!(sm.value(&name).await, "v1");
}

/// A malformed KmsKeyId is InvalidParameter, an unknown key or alias EncryptionFailure; nothing is
/// created.
#[tokio::test]
async fn malformed_and_unknown_keys() {
    let sm = sm();
    let name = unique_name("bad-key");
    let create = |key: &str| sm.create_secret().name(&name).kms_key_id(key);
    let malformed = create("no-such-alias").secret_string("x").send().await;
    let message = "The operation failed because of an invalid KMS key: Invalid keyId";
    assert_eq!(outcome(malformed), failed("InvalidParameterException", message));
    let missing = uuid::Uuid::new_v4().to_string();
    let unknown = create(&missing).secret_string("x").send().await;
    let message = format!(
        "Secrets Manager can't encrypt the secret value: Key '{}' does not exist",
        key_arn(DEV_ACCOUNT, &missing)
    );
    assert_eq!(outcome(unknown), failed("EncryptionFailure", &message));
    let no_alias = create("alias/does-not-exist").send().await;
    let message = format!(
        "Secrets Manager can't encrypt the secret value: Alias {} is not found.",
        alias_arn(DEV_ACCOUNT, "alias/does-not-exist")
    );
    assert_eq!(outcome(no_alias), failed("EncryptionFailure", &message));
    let describe = sm.describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(describe), "ResourceNotFoundException");
}

/// A user allowed GetSecretValue and PutSecretValue on `<prefix>/*`, with a secret under the AWS
/// managed key and one under a customer managed key: `(user, default secret, cmk secret, key ARN,
/// Secrets Manager statement)`.
async fn secrets_only_user() -> (Principal<'static>, String, String, String, serde_json::Value) {
    let (sm, server) = (sm(), TestServer::start());
    let (_, key_arn) = cmk().await;
    let prefix = format!("kmsperm-{}", short_id());
    let (default_name, cmk_name) = (format!("{prefix}/default"), format!("{prefix}/cmk"));
    sm.create_string(&default_name, "default-value").await;
    create_under(&sm, &cmk_name, &key_arn, "cmk-value").await;
    let secrets = statement(
        "Allow",
        &["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
        &[&secret_arn_pattern(DEV_ACCOUNT, &format!("{prefix}/*"))],
    );
    let policy = policy_document(std::slice::from_ref(&secrets));
    let user = server.user("sm-only", Some(&policy)).await;
    (user, default_name, cmk_name, key_arn, secrets)
}

async fn set_policy(user: &Principal<'_>, name: &str, statements: &[serde_json::Value]) {
    let req = TestServer::start()
        .iam_client()
        .put_user_policy()
        .user_name(&user.name);
    let req = req.policy_name(name).policy_document(policy_document(statements));
    ok(req.send().await);
}

/// The AWS managed key's policy lets every principal of the account use it through Secrets
/// Manager: no KMS permission needed. A customer managed key's default policy delegates to IAM.
#[tokio::test]
async fn only_customer_managed_keys_need_kms_permissions() {
    let (user, default_name, cmk_name, _, _) = secrets_only_user().await;
    let app = user.sm();
    assert_eq!(app.value(&default_name).await, "default-value");
    app.put_string(&default_name, "default-2").await;
    let read = app.get_secret_value().secret_id(&cmk_name).send().await;
    assert_eq!(outcome(read), kms_denied());
    let write = app.put_secret_value().secret_id(&cmk_name).secret_string("x");
    let write = write.send().await;
    assert_eq!(outcome(write), kms_denied());
}

/// kms:Decrypt lets the caller read; writing also needs kms:GenerateDataKey; an explicit deny of
/// kms:Decrypt through Secrets Manager ends reads.
#[tokio::test]
async fn reads_need_kms_decrypt_and_writes_kms_generate_data_key() {
    let (user, _, cmk_name, key_arn, secrets) = secrets_only_user().await;
    let app = user.sm();
    let decrypt = statement("Allow", &["kms:Decrypt"], &[&key_arn]);
    set_policy(&user, "inline", &[secrets.clone(), decrypt.clone()]).await;
    assert_eq!(app.value(&cmk_name).await, "cmk-value");
    let write = app.put_secret_value().secret_id(&cmk_name).secret_string("x");
    let write = write.send().await;
    assert_eq!(outcome(write), kms_denied());
    let generate = statement("Allow", &["kms:GenerateDataKey"], &[&key_arn]);
    set_policy(&user, "inline", &[secrets, decrypt, generate]).await;
    app.put_string(&cmk_name, "cmk-2").await;
    assert_eq!(app.value(&cmk_name).await, "cmk-2");
    let deny = json!({
        "Effect": "Deny",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": via_secretsmanager()}}
    });
    set_policy(&user, "deny", &[deny]).await;
    let read = app.get_secret_value().secret_id(&cmk_name).send().await;
    assert_eq!(outcome(read), kms_denied());
}

/// CreateSecret checks the caller's access to the key before creating anything.
#[tokio::test]
async fn create_secret_checks_the_callers_key_access_first() {
    let server = TestServer::start();
    let (_, key_arn) = cmk().await;
    let actions = ["secretsmanager:CreateSecret", "secretsmanager:DescribeSecret"];
    let creator = server.user("creator", Some(&allow(&actions, &["*"]))).await;
    let name = format!("kmsperm-{}/created", short_id());
    let out = creator.sm().create_secret().name(&name).kms_key_id(&key_arn);
    let out = out.send().await;
    assert_eq!(outcome(out), kms_denied());
    let describe = sm().describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(describe), "ResourceNotFoundException");
}

/// Changing the key re-encrypts AWSCURRENT and AWSPREVIOUS (unlabelled versions stay where they
/// were); "" puts the secret back on the AWS managed key, re-encrypting again.
#[tokio::test]
async fn changing_the_key_reencrypts_labelled_versions() {
    let (sm, name, ..) = secret("rekey", "v1").await;
    sm.put_string(&name, "v2").await;
    sm.put_string(&name, "v3").await;
    let expected = [
        under(&[], DEFAULT_KEY),
        under(&["AWSCURRENT"], DEFAULT_KEY),
        under(&["AWSPREVIOUS"], DEFAULT_KEY),
    ];
    assert_eq!(key_ids_by_stage(&sm, &name).await, expected);
    let (key_id, key_arn) = cmk().await;
    let change = sm.update_secret().secret_id(&name).kms_key_id(&key_id);
    ok(change.send().await);
    let expected = [
        under(&[], DEFAULT_KEY),
        under(&["AWSCURRENT"], &key_arn),
        under(&["AWSPREVIOUS"], &key_arn),
    ];
    assert_eq!(key_ids_by_stage(&sm, &name).await, expected);
    assert_eq!(sm.value(&name).await, "v3");
    let previous = sm.get_stage(&name, "AWSPREVIOUS").await;
    assert_eq!(previous.secret_string(), Some("v2"));
    // They really are under the new key now.
    set_enabled(&key_id, false).await;
    let read = sm.get_secret_value().secret_id(&name).send().await;
    assert_eq!(outcome(read), decryption_failure());
    set_enabled(&key_id, true).await;

    let req = sm
        .update_secret()
        .secret_id(&name)
        .kms_key_id("")
        .secret_string("v4");
    ok(req.client_request_token(token()).send().await);
    let d = sm.describe(&name).await;
    assert!(d.kms_key_id().is_none(), "{d:?}");
    // v2 lost its label to the new value before the re-encryption: it stays where it was.
    let expected = [
        under(&[], DEFAULT_KEY),
        under(&[], &key_arn),
        under(&["AWSCURRENT"], DEFAULT_KEY),
        under(&["AWSPREVIOUS"], DEFAULT_KEY),
    ];
    assert_eq!(key_ids_by_stage(&sm, &name).await, expected);
    set_enabled(&key_id, false).await;
    assert_eq!(sm.value(&name).await, "v4");
    let previous = sm.get_stage(&name, "AWSPREVIOUS").await;
    assert_eq!(previous.secret_string(), Some("v3"));
}

/// Without kms:Encrypt the existing versions stay under the old key; new versions use the new one.
#[tokio::test]
async fn key_change_without_encrypt_permission_leaves_versions_on_the_old_key() {
    let (server, sm) = (TestServer::start(), sm());
    let name = format!("noencrypt-{}/s", short_id());
    sm.create_string(&name, "v1").await;
    let (_, key_arn) = cmk().await;
    let policy = policy_document(&[
        statement(
            "Allow",
            &["secretsmanager:UpdateSecret", "secretsmanager:GetSecretValue"],
            &["*"],
        ),
        statement("Allow", &["kms:GenerateDataKey", "kms:Decrypt"], &[&key_arn]),
    ]);
    let app = server.user("rekeyer", Some(&policy)).await.sm();
    let change = app.update_secret().secret_id(&name).kms_key_id(&key_arn);
    let change = change.send().await;
    change.expect("UpdateSecret KmsKeyId without kms:Encrypt");
    let expected = [under(&["AWSCURRENT"], DEFAULT_KEY)];
    assert_eq!(key_ids_by_stage(&sm, &name).await, expected);
    assert_eq!(app.value(&name).await, "v1");
    let req = app.update_secret().secret_id(&name).secret_string("v2");
    ok(req.client_request_token(token()).send().await);
    let expected = [
        under(&["AWSCURRENT"], &key_arn),
        under(&["AWSPREVIOUS"], DEFAULT_KEY),
    ];
    assert_eq!(key_ids_by_stage(&sm, &name).await, expected);
}

/// The security-team scenario: the management account keeps a secret under a customer managed key
/// whose policy allows a member account's roles `kms:Decrypt` only through Secrets Manager; the
/// secret's resource policy lets them read it.
struct SharedSecret {
    member: Member<'static>,
    key_id: String,
    key_arn: String,
    secret_arn: String,
    /// Named by the key policy and allowed by its own policies.
    reader: String,
    /// Named by the key policy, but its own policies don't allow kms:Decrypt.
    no_identity: String,
    /// Allowed by its own policies, but not named by the key policy.
    not_in_key_policy: String,
    prefix: String,
}

async fn shared_secret() -> SharedSecret {
    let server = TestServer::start();
    let member = member(server).await;
    let trust = trust_policy(&[&root_arn(DEV_ACCOUNT)]);
    let prefix = short_id();
    let secret_pattern = secret_arn_pattern(DEV_ACCOUNT, &format!("{prefix}/shared/*"));
    // The key first (its ARN goes into the roles' policies), then the roles, then the key policy.
    let (key_id, key_arn) = cmk().await;
    let read = statement("Allow", &["secretsmanager:GetSecretValue"], &[&secret_pattern]);
    let reader_policy = policy_document(&[read.clone(), statement("Allow", &["kms:Decrypt"], &[&key_arn])]);
    let reader = member
        .admin
        .new_role("reader", &trust, Some(&reader_policy))
        .await;
    let read_only = policy_document(&[read]);
    let no_identity = member
        .admin
        .new_role("no-kms-identity", &trust, Some(&read_only))
        .await;
    let not_in_key_policy = member
        .admin
        .new_role("not-in-key-policy", &trust, Some(&reader_policy))
        .await;
    let mut through_secrets_manager = key_statement("Allow", "", json!("kms:Decrypt"));
    through_secrets_manager["Principal"]["AWS"] = json!([&reader, &no_identity]);
    through_secrets_manager["Condition"] = json!({"StringEquals": {"kms:ViaService": via_secretsmanager()}});
    let root_statement = key_statement("Allow", &root_arn(DEV_ACCOUNT), json!("kms:*"));
    let key_policy = policy_document(&[root_statement, through_secrets_manager]);
    server.kms_client().put_policy(&key_id, &key_policy).await;
    let value =
        "DefaultEndpointsProtocol=https;AccountName=dev;AccountKey=a2lua28=;EndpointSuffix=core.windows.net";
    let name = format!("{prefix}/shared/azure");
    let secret_arn = create_under(&sm(), &name, &key_arn, value).await;
    let mut grant = principal_statement("Allow", "", &["secretsmanager:GetSecretValue"]);
    grant["Principal"]["AWS"] = json!([&reader, &no_identity, &not_in_key_policy]);
    sm().put_policy(&name, &policy_document(&[grant])).await;
    SharedSecret {
        member,
        key_id,
        key_arn,
        secret_arn,
        reader,
        no_identity,
        not_in_key_policy,
        prefix,
    }
}

/// The reader's session reads the secret; direct use of the key outside Secrets Manager fails the
/// kms:ViaService condition; a disabled key stops the reads.
#[tokio::test]
async fn member_role_reads_a_management_secret_under_a_customer_managed_key() {
    let s = shared_secret().await;
    let session = s.member.operator.assume(&s.reader, "app").await;
    let app = session.sm();
    let got = app.get(&s.secret_arn).await;
    assert!(
        got.secret_string().is_some_and(|v| v.contains("AccountName=dev")),
        "{got:?}"
    );
    assert_eq!(got.arn(), Some(s.secret_arn.as_str()));
    let blob = TestServer::start()
        .kms_client()
        .encrypt_with(&s.key_id, b"direct", &[])
        .await;
    let direct = session.kms().try_decrypt(&blob, Some(&s.key_arn), &[]).await;
    assert_eq!(direct, no_key_policy(&session.arn, "kms:Decrypt", &s.key_arn));
    set_enabled(&s.key_id, false).await;
    let read = app.get_secret_value().secret_id(&s.secret_arn).send().await;
    assert_eq!(outcome(read), decryption_failure());
    set_enabled(&s.key_id, true).await;
    assert!(app.value(&s.secret_arn).await.contains("AccountName=dev"));
}

/// The key policy grants, but the caller's own policies must allow kms:Decrypt too; the caller's
/// policies allow, but the key policy doesn't name it.
#[tokio::test]
async fn member_roles_need_both_the_key_policy_and_their_own() {
    let s = shared_secret().await;
    for (role, session) in [
        (&s.no_identity, "no-identity"),
        (&s.not_in_key_policy, "outsider"),
    ] {
        let caller = s.member.operator.assume(role, session).await;
        let caller = caller.sm();
        let read = caller.get_secret_value().secret_id(&s.secret_arn).send().await;
        assert_eq!(outcome(read), kms_denied(), "{role}");
    }
}

/// The same sharing under the AWS managed key can't work: its policy serves its own account; nor
/// can the member use that key directly.
#[tokio::test]
async fn aws_managed_key_serves_its_own_account_only() {
    let s = shared_secret().await;
    let session = s.member.operator.assume(&s.reader, "app").await;
    let default_name = format!("{}/shared/default", s.prefix);
    let (default_arn, _) = sm().create_string(&default_name, "v").await;
    let grant = principal_statement("Allow", &s.reader, &["secretsmanager:GetSecretValue"]);
    sm().put_policy(&default_name, &policy_document(&[grant])).await;
    let app = session.sm();
    let read = app.get_secret_value().secret_id(&default_arn).send().await;
    let message = "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.";
    assert_eq!(outcome(read), failed("InvalidRequestException", message));
    let managed = alias_arn(DEV_ACCOUNT, "alias/aws/secretsmanager");
    let describe = session.kms().describe_key().key_id(managed).send().await;
    assert_eq!(error_code(describe), "AccessDeniedException");
}
