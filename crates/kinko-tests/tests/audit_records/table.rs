//! Per action, what its record holds: the `requestParameters` and `responseElements` members,
//! the types of its `resources`, `readOnly` and the error; and for the actions CloudTrail's
//! documentation shows, the values themselves.

use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_secretsmanager::primitives::Blob;
use kinko_tests::*;
use serde_json::json;

use crate::{keys, request_id};

/// What the record of one call holds.
struct Row {
    event: &'static str,
    parameters: &'static [&'static str],
    /// The `responseElements` members; `None` for `null`.
    response: Option<&'static [&'static str]>,
    /// The types of `resources`, in order.
    resources: &'static [&'static str],
    read_only: bool,
    error: Option<&'static str>,
}

const fn row(
    event: &'static str,
    parameters: &'static [&'static str],
    response: Option<&'static [&'static str]>,
    resources: &'static [&'static str],
    read_only: bool,
) -> Row {
    Row {
        event,
        parameters,
        response,
        resources,
        read_only,
        error: None,
    }
}

const SECRET: &str = "AWS::SecretsManager::Secret";
const KEY: &str = "AWS::KMS::Key";
const ALIAS: &str = "AWS::KMS::Alias";
const USER: &str = "AWS::IAM::User";
const ROLE: &str = "AWS::IAM::Role";
const POLICY: &str = "AWS::IAM::Policy";

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[track_caller]
fn check(log: &AuditLog, id: &str, expected: &Row) {
    let r = log.call(id);
    let what = format!("{}: {r:#}", expected.event);
    assert_eq!(r["eventName"], expected.event, "{what}");
    let parameters = (!expected.parameters.is_empty()).then(|| sorted(expected.parameters));
    assert_eq!(
        keys(&r["requestParameters"]),
        parameters,
        "requestParameters of {what}"
    );
    assert_eq!(
        keys(&r["responseElements"]),
        expected.response.map(sorted),
        "responseElements of {what}"
    );
    let resources: Vec<&str> = r["resources"]
        .as_array()
        .map(|a| a.iter().map(|x| x["type"].as_str().expect("type")).collect())
        .unwrap_or_default();
    assert_eq!(resources, expected.resources, "resources of {what}");
    for resource in r["resources"].as_array().into_iter().flatten() {
        let arn = resource["ARN"].as_str().expect("ARN");
        assert!(arn.starts_with("arn:aws:"), "{what}");
        assert_eq!(resource["accountId"], DEV_ACCOUNT, "{what}");
    }
    assert_eq!(r["readOnly"], expected.read_only, "readOnly of {what}");
    assert_eq!(r["errorCode"].as_str(), expected.error, "errorCode of {what}");
    assert_eq!(r["managementEvent"], true, "{what}");
    assert_eq!(r["eventCategory"], "Management", "{what}");
    assert_eq!(r["eventType"], "AwsApiCall", "{what}");
    assert_eq!(r["eventVersion"], "1.08", "{what}");
    assert_eq!(r["sourceIPAddress"], "127.0.0.1", "{what}");
    assert_eq!(r["recipientAccountId"], DEV_ACCOUNT, "{what}");
    let agent = r["userAgent"].as_str().unwrap_or_default();
    assert!(agent.contains("aws-sdk-rust"), "userAgent of {what}");
    // Plain HTTP: no TLS details.
    assert_eq!(r.get("tlsDetails"), None, "{what}");
}

#[tokio::test]
async fn records_hold_each_actions_parameters_and_answer() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let sm = server.client();
    let kms = server.kms_client();
    let iam = server.iam_client();
    let sts = server.sts_client();
    let org = server.org_client();
    let mut calls: Vec<(String, Row)> = Vec::new();

    // Secrets Manager.
    let (key_id, key_arn) = kms.new_key().await;
    let name = unique_name("audit/table");
    let create_token = token();
    let req = sm
        .create_secret()
        .name(&name)
        .description("the table's secret")
        .kms_key_id(&key_id)
        .secret_string("table-value-1")
        .client_request_token(&create_token)
        .tags(tag("team", "audit"));
    let out = ok(req.send().await);
    let create_id = request_id!(out);
    let arn = out.arn.clone().expect("ARN");
    let create = row(
        "CreateSecret",
        &["name", "description", "kmsKeyId", "clientRequestToken", "tags"],
        Some(&["arn", "name", "versionId"]),
        &[SECRET],
        false,
    );
    calls.push((create_id.clone(), create));

    let out = ok(sm
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .send()
        .await);
    let get_id = request_id!(out);
    let get = row(
        "GetSecretValue",
        &["secretId", "versionStage"],
        None,
        &[SECRET],
        true,
    );
    calls.push((get_id.clone(), get));

    let put_token = token();
    let out = ok(sm
        .put_secret_value()
        .secret_id(&arn)
        .secret_binary(Blob::new(b"table-binary-value".to_vec()))
        .client_request_token(&put_token)
        .version_stages("AWSCURRENT")
        .send()
        .await);
    let put = row(
        "PutSecretValue",
        &["secretId", "clientRequestToken", "versionStages"],
        Some(&["arn", "name", "versionId", "versionStages"]),
        &[SECRET],
        false,
    );
    calls.push((request_id!(out), put));

    let out = ok(sm
        .update_secret()
        .secret_id(&name)
        .description("described again")
        .send()
        .await);
    let update = row(
        "UpdateSecret",
        &["secretId", "description", "clientRequestToken"],
        Some(&["arn", "name"]),
        &[SECRET],
        false,
    );
    calls.push((request_id!(out), update));

    let out = ok(sm.describe_secret().secret_id(&name).send().await);
    calls.push((
        request_id!(out),
        row("DescribeSecret", &["secretId"], None, &[SECRET], true),
    ));

    let out = ok(sm.list_secrets().filters(name_filter(&name)).send().await);
    calls.push((
        request_id!(out),
        row("ListSecrets", &["filters"], None, &[], true),
    ));

    let policy = policy_document(&[principal_statement(
        "Allow",
        &root_arn(DEV_ACCOUNT),
        &["secretsmanager:GetSecretValue"],
    )]);
    let out = ok(sm
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(&policy)
        .send()
        .await);
    let put_policy_id = request_id!(out);
    let put_policy = row(
        "PutResourcePolicy",
        &["secretId", "resourcePolicy"],
        Some(&["arn", "name"]),
        &[SECRET],
        false,
    );
    calls.push((put_policy_id.clone(), put_policy));

    let out = ok(sm.get_resource_policy().secret_id(&name).send().await);
    calls.push((
        request_id!(out),
        row("GetResourcePolicy", &["secretId"], None, &[SECRET], true),
    ));

    let out = ok(sm
        .tag_resource()
        .secret_id(&name)
        .tags(tag("more", "tags"))
        .send()
        .await);
    calls.push((
        request_id!(out),
        row("TagResource", &["secretId", "tags"], None, &[SECRET], false),
    ));

    let out = ok(sm.get_random_password().password_length(40).send().await);
    calls.push((
        request_id!(out),
        row("GetRandomPassword", &["passwordLength"], None, &[], true),
    ));

    let out = ok(sm.batch_get_secret_value().secret_id_list(&name).send().await);
    calls.push((
        request_id!(out),
        row("BatchGetSecretValue", &["secretIdList"], None, &[], true),
    ));

    let out = ok(sm
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await);
    calls.push((
        request_id!(out),
        row(
            "DeleteSecret",
            &["secretId", "recoveryWindowInDays"],
            Some(&["arn", "name", "deletionDate"]),
            &[SECRET],
            false,
        ),
    ));

    let out = ok(sm.restore_secret().secret_id(&name).send().await);
    calls.push((
        request_id!(out),
        row(
            "RestoreSecret",
            &["secretId"],
            Some(&["arn", "name"]),
            &[SECRET],
            false,
        ),
    ));

    // A denied call and a refused one are recorded with what they asked.
    let nobody = server.user("audit-nobody", None).await;
    let e = expect_err!(nobody.sm().get_secret_value().secret_id(&name).send().await);
    let mut denied = row("GetSecretValue", &["secretId"], None, &[SECRET], true);
    denied.error = Some("AccessDeniedException");
    calls.push((request_id!(e), denied));

    // KMS.
    let out = ok(kms.create_key().description("table key").send().await);
    calls.push((
        request_id!(out),
        row("CreateKey", &["description"], Some(&["keyMetadata"]), &[], false),
    ));

    let out = ok(kms.describe_key().key_id(&key_arn).send().await);
    calls.push((
        request_id!(out),
        row("DescribeKey", &["keyId"], None, &[KEY], true),
    ));

    let out = ok(kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"table-plaintext".to_vec()))
        .encryption_context("Department", "Audit")
        .send()
        .await);
    let encrypt_id = request_id!(out);
    let blob = out.ciphertext_blob.clone().expect("CiphertextBlob");
    calls.push((
        encrypt_id.clone(),
        row(
            "Encrypt",
            &["keyId", "encryptionContext", "encryptionAlgorithm"],
            None,
            &[KEY],
            true,
        ),
    ));

    let out = ok(kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("Department", "Audit")
        .send()
        .await);
    let decrypt_id = request_id!(out);
    calls.push((
        decrypt_id.clone(),
        row(
            "Decrypt",
            &["encryptionContext", "encryptionAlgorithm"],
            None,
            &[KEY],
            true,
        ),
    ));

    let out = ok(kms
        .re_encrypt()
        .ciphertext_blob(blob)
        .source_encryption_context("Department", "Audit")
        .destination_key_id(&key_arn)
        .send()
        .await);
    calls.push((
        request_id!(out),
        row(
            "ReEncrypt",
            &[
                "sourceEncryptionContext",
                "destinationKeyId",
                "sourceEncryptionAlgorithm",
                "destinationEncryptionAlgorithm",
            ],
            None,
            &[KEY],
            true,
        ),
    ));

    let out = ok(kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await);
    calls.push((
        request_id!(out),
        row("GenerateDataKey", &["keyId", "keySpec"], None, &[KEY], true),
    ));

    let out = ok(kms.generate_random().number_of_bytes(32).send().await);
    calls.push((
        request_id!(out),
        row("GenerateRandom", &["numberOfBytes"], None, &[], true),
    ));

    let alias = new_alias();
    let out = ok(kms
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await);
    calls.push((
        request_id!(out),
        row(
            "CreateAlias",
            &["aliasName", "targetKeyId"],
            None,
            &[ALIAS, KEY],
            false,
        ),
    ));

    let out = ok(kms.list_aliases().send().await);
    calls.push((request_id!(out), row("ListAliases", &[], None, &[], true)));

    let key_policy = policy_document(&[administration_statement(DEV_ACCOUNT)]);
    let out = ok(kms
        .put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(&key_policy)
        .send()
        .await);
    let put_key_policy_id = request_id!(out);
    calls.push((
        put_key_policy_id.clone(),
        row(
            "PutKeyPolicy",
            &["keyId", "policyName", "policy"],
            None,
            &[KEY],
            false,
        ),
    ));

    let (doomed, _) = kms.new_key().await;
    let out = ok(kms
        .schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await);
    calls.push((
        request_id!(out),
        row(
            "ScheduleKeyDeletion",
            &["keyId", "pendingWindowInDays"],
            Some(&["keyId", "deletionDate", "keyState", "pendingWindowInDays"]),
            &[KEY],
            false,
        ),
    ));

    // IAM.
    let user_name = format!("audit-table-{}", short_id());
    let iam_tag = aws_sdk_iam::types::Tag::builder()
        .key("team")
        .value("audit")
        .build()
        .expect("tag");
    let out = ok(iam.create_user().user_name(&user_name).tags(iam_tag).send().await);
    let create_user_id = request_id!(out);
    calls.push((
        create_user_id.clone(),
        row(
            "CreateUser",
            &["userName", "tags"],
            Some(&["user"]),
            &[USER],
            false,
        ),
    ));

    let out = ok(iam.get_user().user_name(&user_name).send().await);
    calls.push((
        request_id!(out),
        row("GetUser", &["userName"], None, &[USER], true),
    ));

    let out = ok(iam.create_access_key().user_name(&user_name).send().await);
    let create_key_id = request_id!(out);
    let access_key_id = out.access_key.clone().expect("AccessKey").access_key_id;
    calls.push((
        create_key_id.clone(),
        row(
            "CreateAccessKey",
            &["userName"],
            Some(&["accessKey"]),
            &[USER],
            false,
        ),
    ));

    let user_policy = allow(&["secretsmanager:ListSecrets"], &["*"]);
    let out = ok(iam
        .put_user_policy()
        .user_name(&user_name)
        .policy_name("inline")
        .policy_document(&user_policy)
        .send()
        .await);
    let put_user_policy_id = request_id!(out);
    calls.push((
        put_user_policy_id.clone(),
        row(
            "PutUserPolicy",
            &["userName", "policyName", "policyDocument"],
            None,
            &[USER],
            false,
        ),
    ));

    let out = ok(iam.list_users().send().await);
    calls.push((request_id!(out), row("ListUsers", &[], None, &[USER], true)));

    let out = ok(iam
        .delete_access_key()
        .user_name(&user_name)
        .access_key_id(&access_key_id)
        .send()
        .await);
    calls.push((
        request_id!(out),
        row(
            "DeleteAccessKey",
            &["userName", "accessKeyId"],
            None,
            &[USER],
            false,
        ),
    ));

    let e = expect_err!(iam.create_user().user_name("not a valid name!").send().await);
    let mut invalid = row("CreateUser", &["userName"], None, &[], false);
    invalid.error = Some("ValidationError");
    calls.push((request_id!(e), invalid));

    let managed = format!("audit-table-{}", short_id());
    let out = ok(iam
        .create_policy()
        .policy_name(&managed)
        .policy_document(&user_policy)
        .send()
        .await);
    let policy_arn = out.policy.clone().expect("Policy").arn.expect("Arn");
    calls.push((
        request_id!(out),
        row(
            "CreatePolicy",
            &["policyName", "policyDocument"],
            Some(&["policy"]),
            &[POLICY],
            false,
        ),
    ));

    let role_name = format!("audit-table-{}", short_id());
    let trust = trust_policy(&[&root_arn(DEV_ACCOUNT)]);
    let out = ok(iam
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(&trust)
        .max_session_duration(7200)
        .send()
        .await);
    let create_role_id = request_id!(out);
    let role_arn = out.role.clone().expect("Role").arn;
    calls.push((
        create_role_id.clone(),
        row(
            "CreateRole",
            &["roleName", "assumeRolePolicyDocument", "maxSessionDuration"],
            Some(&["role"]),
            &[ROLE],
            false,
        ),
    ));

    let out = ok(iam
        .attach_role_policy()
        .role_name(&role_name)
        .policy_arn(&policy_arn)
        .send()
        .await);
    calls.push((
        request_id!(out),
        row(
            "AttachRolePolicy",
            &["roleName", "policyArn"],
            None,
            &[ROLE],
            false,
        ),
    ));

    // STS.
    let out = ok(sts.get_caller_identity().send().await);
    calls.push((request_id!(out), row("GetCallerIdentity", &[], None, &[], true)));

    let assumer = server.assumer(&role_arn).await;
    let out = ok(assumer
        .sts()
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("table")
        .duration_seconds(900)
        .send()
        .await);
    let assume_id = request_id!(out);
    calls.push((
        assume_id.clone(),
        row(
            "AssumeRole",
            &["roleArn", "roleSessionName", "durationSeconds"],
            Some(&["credentials", "assumedRoleUser"]),
            &[ROLE],
            true,
        ),
    ));

    let out = ok(assumer
        .sts()
        .get_session_token()
        .duration_seconds(900)
        .send()
        .await);
    let session_token_id = request_id!(out);
    calls.push((
        session_token_id.clone(),
        row(
            "GetSessionToken",
            &["durationSeconds"],
            Some(&["credentials"]),
            &[],
            true,
        ),
    ));

    // Organizations.
    let out = ok(org.describe_organization().send().await);
    calls.push((
        request_id!(out),
        row("DescribeOrganization", &[], None, &[], true),
    ));
    let out = ok(org.list_accounts().send().await);
    calls.push((request_id!(out), row("ListAccounts", &[], None, &[], true)));

    drop(assumer);
    drop(nobody);
    let log = audited.stop().await;

    for (id, expected) in &calls {
        check(&log, id, expected);
    }

    // The values of the actions CloudTrail's documentation shows.
    let r = log.call(&create_id);
    assert_eq!(
        r["requestParameters"],
        json!({
            "name": name,
            "description": "the table's secret",
            "kmsKeyId": key_id,
            "clientRequestToken": create_token,
            "tags": [{"key": "team", "value": "audit"}],
        })
    );
    assert_eq!(
        r["responseElements"],
        json!({"arn": arn, "name": name, "versionId": create_token})
    );
    assert_eq!(r["resources"][0]["ARN"], arn.as_str());
    assert_eq!(
        log.call(&get_id)["requestParameters"],
        json!({"secretId": name, "versionStage": "AWSCURRENT"})
    );
    // Policy documents are kept as sent.
    assert_eq!(
        log.call(&put_policy_id)["requestParameters"],
        json!({"secretId": name, "resourcePolicy": policy})
    );
    assert_eq!(
        log.call(&put_key_policy_id)["requestParameters"]["policy"],
        key_policy.as_str()
    );
    assert_eq!(
        log.call(&put_user_policy_id)["requestParameters"]["policyDocument"],
        user_policy.as_str()
    );
    // Encryption contexts keep the caller's keys as they are; the algorithm is the one used.
    let encrypt = &log.call(&encrypt_id)["requestParameters"];
    assert_eq!(encrypt["keyId"], key_id.as_str());
    assert_eq!(encrypt["encryptionContext"], json!({"Department": "Audit"}));
    assert_eq!(encrypt["encryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let decrypt = log.call(&decrypt_id);
    assert_eq!(
        decrypt["requestParameters"],
        json!({"encryptionContext": {"Department": "Audit"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    );
    assert_eq!(decrypt["resources"][0]["ARN"], key_arn.as_str());
    // IAM: the user named, and the user created; the access key without its secret.
    let r = log.call(&create_user_id);
    assert_eq!(r["requestParameters"]["userName"], user_name.as_str());
    assert_eq!(r["responseElements"]["user"]["userName"], user_name.as_str());
    assert_eq!(
        keys(&r["responseElements"]["user"]),
        Some(sorted(&[
            "path",
            "userName",
            "userId",
            "arn",
            "createDate",
            "tags"
        ]))
    );
    let key = &log.call(&create_key_id)["responseElements"]["accessKey"];
    assert_eq!(
        keys(key),
        Some(sorted(&["userName", "accessKeyId", "status", "createDate"]))
    );
    assert_eq!(key["accessKeyId"], access_key_id.as_str());
    assert_eq!(
        log.call(&create_role_id)["requestParameters"]["maxSessionDuration"],
        7200
    );
    // STS: the session's access key id and expiration, never its secret or token.
    for id in [&assume_id, &session_token_id] {
        let credentials = &log.call(id)["responseElements"]["credentials"];
        assert_eq!(
            keys(credentials),
            Some(sorted(&["accessKeyId", "expiration"])),
            "{credentials}"
        );
        assert!(
            credentials["accessKeyId"]
                .as_str()
                .is_some_and(|k| k.starts_with("ASIA"))
        );
    }
    let assume = log.call(&assume_id);
    assert_eq!(assume["requestParameters"]["durationSeconds"], 900);
    assert_eq!(assume["resources"][0]["ARN"], role_arn.as_str());
    assert_eq!(
        keys(&assume["responseElements"]["assumedRoleUser"]),
        Some(sorted(&["assumedRoleId", "arn"]))
    );
}

/// A request's parameters larger than CloudTrail keeps are left out, with their size.
#[tokio::test]
async fn oversized_parameters_are_omitted() {
    let audited = AuditedServer::start().await;
    let sm = audited.server.client();
    let name = unique_name("audit/oversized");
    ok(sm.create_secret().name(&name).secret_string("v").send().await);
    let description = "d".repeat(150_000);
    let e = expect_err!(
        sm.update_secret()
            .secret_id(&name)
            .description(&description)
            .send()
            .await
    );
    let id = request_id!(e);
    let log = audited.stop().await;
    let r = log.call(&id);
    assert_eq!(r["errorCode"], "ValidationException");
    assert_eq!(r["requestParameters"]["omitted"], true);
    let size = r["requestParameters"]["originalSize"].as_u64().expect("size");
    assert!(size > 150_000, "{size}");
    assert_eq!(
        keys(&r["requestParameters"]),
        Some(sorted(&["omitted", "originalSize"]))
    );
}

/// RotateSecret is authorized on the secret and on the function the caller has Secrets Manager
/// invoke: both are the record's resources. Each step's invocation is recorded as Lambda's
/// `Invoke` made by `secretsmanager.amazonaws.com` itself. CancelRotateSecret names the unfinished
/// version (an echoing function never moves AWSCURRENT, so the rotation is left pending).
#[tokio::test]
async fn rotation_calls_are_recorded() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let sm = server.client();
    let name = unique_name("audit/rotate");
    ok(sm.create_secret().name(&name).secret_string("v").send().await);
    let role = server
        .root()
        .execution_role(&format!("audit-rotation-{}", short_id()), None)
        .await;
    let function = server
        .root()
        .python_function(&format!("audit-rotation-{}", short_id()), &role)
        .await;
    ok(server
        .lambda_client()
        .add_permission()
        .function_name(&function)
        .statement_id("SecretsManager")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .send()
        .await);
    let rules = aws_sdk_secretsmanager::types::RotationRulesType::builder()
        .automatically_after_days(7)
        .build();
    let out = ok(sm
        .rotate_secret()
        .secret_id(&name)
        .client_request_token(token())
        .rotation_lambda_arn(&function)
        .rotation_rules(rules)
        .send()
        .await);
    let rotate_id = request_id!(out);
    let invokes = || {
        read_records(audited.path())
            .into_iter()
            .filter(|r| r["eventName"] == "Invoke" && r["userIdentity"]["type"] == "AWSService")
            .collect::<Vec<_>>()
    };
    for _ in 0..600 {
        if invokes().len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let steps = invokes();
    assert_eq!(steps.len(), 4, "one record per step");
    for r in &steps {
        assert_eq!(r["eventSource"], "lambda.amazonaws.com", "{r:#}");
        assert_eq!(
            r["userIdentity"]["invokedBy"], "secretsmanager.amazonaws.com",
            "{r:#}"
        );
        assert_eq!(r["recipientAccountId"], DEV_ACCOUNT, "{r:#}");
        assert_eq!(r["resources"][0]["type"], "AWS::Lambda::Function", "{r:#}");
        assert_eq!(r["resources"][0]["ARN"], function.as_str(), "{r:#}");
        assert_eq!(r["requestParameters"]["functionName"], function.as_str(), "{r:#}");
        assert_eq!(r.get("errorCode"), None, "{r:#}");
    }
    let out = ok(sm.cancel_rotate_secret().secret_id(&name).send().await);
    assert!(out.version_id().is_some());
    let cancel_id = request_id!(out);
    let log = audited.stop().await;
    check(
        &log,
        &rotate_id,
        &row(
            "RotateSecret",
            &[
                "secretId",
                "clientRequestToken",
                "rotationLambdaARN",
                "rotationRules",
            ],
            Some(&["arn", "name", "versionId"]),
            &[SECRET, "AWS::Lambda::Function"],
            false,
        ),
    );
    check(
        &log,
        &cancel_id,
        &row(
            "CancelRotateSecret",
            &["secretId"],
            Some(&["arn", "name", "versionId"]),
            &[SECRET],
            false,
        ),
    );
}
