//! The audit log: one CloudTrail-shaped record per call, and one per KMS call Secrets Manager makes
//! as its caller (eventSource `kms.amazonaws.com`, the caller's identity `invokedBy`
//! `secretsmanager.amazonaws.com`, the key in `resources`, the encryption context), with the call's
//! `requestID`, whether the KMS call was allowed, denied or failed. The log never holds a secret
//! value, a plaintext or a ciphertext blob.

use std::path::PathBuf;

use aws_sdk_kms::primitives::Blob as KmsBlob;
use aws_sdk_secretsmanager::operation::RequestId;
use aws_sdk_secretsmanager::primitives::Blob;
use kinko_tests::{
    Config, DEV_ACCOUNT, REGION, TestClock, TestServer, assert_error, create_user_with_key, dev_config,
    expect_err, policy_document, statement, token, unique_name,
};
use serde_json::{Value, json};

const SECRETS_MANAGER: &str = "secretsmanager.amazonaws.com";
const VALIDATE_KEY_ACCESS: &str = "RequestToValidateKeyAccess";

/// A server of the test's own writing its audit log to a temp file.
struct Audited {
    server: TestServer,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Audited {
    async fn start() -> Audited {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let config = Config {
            audit_log: Some(path.clone()),
            ..dev_config()
        };
        Audited {
            server: TestServer::start_with(config, TestClock::System).await,
            path,
            _dir: dir,
        }
    }

    /// Stops the server (which writes out every record) and returns the log, raw and parsed.
    async fn stop(self) -> (Vec<u8>, Vec<Value>) {
        self.server.shutdown().await;
        let raw = std::fs::read(&self.path).expect("audit log");
        let records = raw
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)))
            })
            .collect();
        (raw, records)
    }
}

/// The records of one request, in log order.
fn of_request<'a>(records: &'a [Value], request_id: &str) -> Vec<&'a Value> {
    let found: Vec<&Value> = records.iter().filter(|r| r["requestID"] == request_id).collect();
    assert!(!found.is_empty(), "no records for request {request_id}");
    found
}

fn names(records: &[&Value]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["eventSource"].as_str().unwrap_or_default().to_owned(),
                r["eventName"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn sm(name: &str) -> (String, String) {
    (SECRETS_MANAGER.to_owned(), name.to_owned())
}

fn kms(name: &str) -> (String, String) {
    ("kms.amazonaws.com".to_owned(), name.to_owned())
}

/// A record without its `eventTime` and `eventID`, after checking they look right and that the
/// event id is not `others`'.
fn stable(record: &Value, others: &[&Value]) -> Value {
    let id = record["eventID"].as_str().expect("eventID");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "eventID {id}");
    for o in others {
        if !std::ptr::eq(*o, record) {
            assert_ne!(o["eventID"], record["eventID"], "two records share an eventID");
        }
    }
    let time = record["eventTime"].as_str().expect("eventTime");
    assert!(time.starts_with("20") && time.ends_with('Z'), "eventTime {time}");
    let mut r = record.clone();
    let o = r.as_object_mut().expect("a record is an object");
    o.remove("eventTime");
    o.remove("eventID");
    r
}

/// The caller's identity as the record of a KMS call made for it shows it.
fn invoked_by_secrets_manager(identity: &Value) -> Value {
    let mut i = identity.clone();
    i["invokedBy"] = json!(SECRETS_MANAGER);
    i
}

fn kms_record(
    name: &str,
    identity: &Value,
    request_id: &str,
    key_arn: &str,
    parameters: Value,
    error: Option<(&str, &str)>,
) -> Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "userIdentity": invoked_by_secrets_manager(identity),
        "requestID": request_id,
        "sourceIPAddress": SECRETS_MANAGER,
        "userAgent": SECRETS_MANAGER,
        "requestParameters": parameters,
        "resources": [{"accountId": DEV_ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}],
        "eventType": "AwsApiCall",
        "recipientAccountId": identity["accountId"],
    });
    if let Some((code, message)) = error {
        r["errorCode"] = json!(code);
        r["errorMessage"] = json!(message);
    }
    r
}

fn context(secret_arn: &str, version_id: &str) -> Value {
    json!({"SecretARN": secret_arn, "SecretVersionId": version_id})
}

fn decrypt_parameters(key_arn: &str, secret_arn: &str, version_id: &str) -> Value {
    json!({
        "keyId": key_arn,
        "encryptionContext": context(secret_arn, version_id),
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    })
}

fn generate_parameters(key_arn: &str, secret_arn: &str, version_id: &str) -> Value {
    json!({
        "keyId": key_arn,
        "encryptionContext": context(secret_arn, version_id),
        "keySpec": "AES_256",
    })
}

/// A customer managed key with the default key policy; returns its ARN.
async fn cmk(server: &TestServer) -> String {
    server
        .kms_client()
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata")
        .arn
        .expect("Arn")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Fails unless `needle` appears nowhere in `log`, raw, base64- or hex-encoded.
#[track_caller]
fn assert_absent(log: &[u8], needle: &[u8], what: &str) {
    for (form, bytes) in [
        ("raw", needle.to_vec()),
        ("base64", aws_smithy_types::base64::encode(needle).into_bytes()),
        ("hex", hex(needle).into_bytes()),
    ] {
        assert!(!contains(log, &bytes), "the audit log holds {what} ({form})");
    }
}

#[tokio::test]
async fn secret_reads_and_writes_record_the_kms_calls_made_for_the_caller() {
    let audited = Audited::start().await;
    let server = &audited.server;
    let client = server.client();
    let key_arn = cmk(server).await;
    let name = unique_name("audit/cmk");

    let created = client
        .create_secret()
        .name(&name)
        .kms_key_id(&key_arn)
        .secret_string("audit-value-one")
        .send()
        .await
        .expect("CreateSecret");
    let arn = created.arn.clone().expect("ARN");
    let v1 = created.version_id.clone().expect("VersionId");
    let create_id = created.request_id().expect("request id").to_owned();

    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("audit-value-one"));
    let get_id = got.request_id().expect("request id").to_owned();

    let v2 = token();
    let put = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("audit-value-two")
        .client_request_token(&v2)
        .send()
        .await
        .expect("PutSecretValue");
    let put_id = put.request_id().expect("request id").to_owned();

    let described = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    let describe_id = described.request_id().expect("request id").to_owned();

    let (log, records) = audited.stop().await;

    // GetSecretValue: its own record, then KMS Decrypt of the version's data key, as the caller.
    let get = of_request(&records, &get_id);
    assert_eq!(names(&get), [sm("GetSecretValue"), kms("Decrypt")]);
    let identity = &get[0]["userIdentity"];
    assert_eq!(identity["arn"], format!("arn:aws:iam::{DEV_ACCOUNT}:root"));
    assert_eq!(identity["invokedBy"], Value::Null);
    assert_eq!(
        stable(get[1], &get),
        kms_record(
            "Decrypt",
            identity,
            &get_id,
            &key_arn,
            decrypt_parameters(&key_arn, &arn, &v1),
            None
        )
    );

    // PutSecretValue: GenerateDataKey for the new version.
    let put = of_request(&records, &put_id);
    assert_eq!(names(&put), [sm("PutSecretValue"), kms("GenerateDataKey")]);
    assert_eq!(
        stable(put[1], &put),
        kms_record(
            "GenerateDataKey",
            identity,
            &put_id,
            &key_arn,
            generate_parameters(&key_arn, &arn, &v2),
            None
        )
    );

    // CreateSecret with a customer managed key: the access check (a throw-away data key,
    // generated and decrypted), then the first version's data key.
    let create = of_request(&records, &create_id);
    assert_eq!(
        names(&create),
        [
            sm("CreateSecret"),
            kms("GenerateDataKey"),
            kms("Decrypt"),
            kms("GenerateDataKey")
        ]
    );
    assert_eq!(
        stable(create[1], &create),
        kms_record(
            "GenerateDataKey",
            identity,
            &create_id,
            &key_arn,
            generate_parameters(&key_arn, &arn, VALIDATE_KEY_ACCESS),
            None
        )
    );
    assert_eq!(
        stable(create[2], &create),
        kms_record(
            "Decrypt",
            identity,
            &create_id,
            &key_arn,
            decrypt_parameters(&key_arn, &arn, VALIDATE_KEY_ACCESS),
            None
        )
    );
    assert_eq!(
        create[3]["requestParameters"],
        generate_parameters(&key_arn, &arn, &v1)
    );

    // A call that doesn't use KMS has one record.
    assert_eq!(names(&of_request(&records, &describe_id)), [sm("DescribeSecret")]);

    assert_absent(&log, b"audit-value-one", "the first value");
    assert_absent(&log, b"audit-value-two", "the second value");
}

#[tokio::test]
async fn denied_and_failed_kms_calls_are_recorded() {
    let audited = Audited::start().await;
    let server = &audited.server;
    let root = server.client();
    let key_arn = cmk(server).await;
    let name = unique_name("audit/denied");
    let created = root
        .create_secret()
        .name(&name)
        .kms_key_id(&key_arn)
        .secret_string("denied-value")
        .send()
        .await
        .expect("CreateSecret");
    let arn = created.arn.expect("ARN");
    let v1 = created.version_id.expect("VersionId");

    // Secrets Manager permissions only: the key's default policy leaves KMS to IAM, which grants
    // nothing.
    let (user_arn, creds) = create_user_with_key(
        &server.iam_client(),
        &unique_name("audit-user"),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
            &["*"],
        )])),
    )
    .await;
    let app = server.client_as(&creds);
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "AccessDeniedException", "Access to KMS is not allowed");
    let read_id = e.request_id().expect("request id").to_owned();
    let v2 = token();
    let e = expect_err!(
        app.put_secret_value()
            .secret_id(&name)
            .secret_string("never-written")
            .client_request_token(&v2)
            .send()
            .await
    );
    assert_error(&e, "AccessDeniedException", "Access to KMS is not allowed");
    let write_id = e.request_id().expect("request id").to_owned();
    // A direct KMS call denied is recorded with the same code.
    let e = expect_err!(
        server
            .kms_client_as(&creds)
            .describe_key()
            .key_id(&key_arn)
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("AccessDeniedException"));
    let direct_id = aws_sdk_kms::operation::RequestId::request_id(&e)
        .expect("request id")
        .to_owned();

    // A disabled key fails the read in KMS.
    server
        .kms_client()
        .disable_key()
        .key_id(&key_arn)
        .send()
        .await
        .expect("DisableKey");
    let e = expect_err!(root.get_secret_value().secret_id(&name).send().await);
    assert_eq!(e.meta().code(), Some("DecryptionFailure"));
    let disabled_id = e.request_id().expect("request id").to_owned();

    let (log, records) = audited.stop().await;

    let read = of_request(&records, &read_id);
    assert_eq!(names(&read), [sm("GetSecretValue"), kms("Decrypt")]);
    assert_eq!(read[0]["errorCode"], "AccessDeniedException");
    assert_eq!(read[0]["errorMessage"], "Access to KMS is not allowed");
    let identity = &read[0]["userIdentity"];
    assert_eq!(identity["arn"], user_arn.as_str());
    assert_eq!(identity["type"], "IAMUser");
    let denied = stable(read[1], &read);
    let message = denied["errorMessage"].as_str().expect("errorMessage").to_owned();
    assert!(
        message.starts_with(&format!(
            "User: {user_arn} is not authorized to perform: kms:Decrypt on resource: {key_arn}"
        )),
        "{message}"
    );
    assert_eq!(
        denied,
        kms_record(
            "Decrypt",
            identity,
            &read_id,
            &key_arn,
            decrypt_parameters(&key_arn, &arn, &v1),
            Some(("AccessDenied", &message))
        )
    );

    let write = of_request(&records, &write_id);
    assert_eq!(names(&write), [sm("PutSecretValue"), kms("GenerateDataKey")]);
    assert_eq!(write[1]["errorCode"], "AccessDenied");
    assert_eq!(
        write[1]["requestParameters"],
        generate_parameters(&key_arn, &arn, &v2)
    );
    assert_eq!(write[1]["userIdentity"], invoked_by_secrets_manager(identity));

    let direct = of_request(&records, &direct_id);
    assert_eq!(names(&direct), [kms("DescribeKey")]);
    assert_eq!(direct[0]["errorCode"], "AccessDenied");
    assert_eq!(direct[0]["userIdentity"]["invokedBy"], Value::Null);

    let disabled = of_request(&records, &disabled_id);
    assert_eq!(names(&disabled), [sm("GetSecretValue"), kms("Decrypt")]);
    assert_eq!(disabled[0]["errorCode"], "DecryptionFailure");
    let root_identity = &disabled[0]["userIdentity"];
    assert_eq!(
        stable(disabled[1], &disabled),
        kms_record(
            "Decrypt",
            root_identity,
            &disabled_id,
            &key_arn,
            decrypt_parameters(&key_arn, &arn, &v1),
            Some(("DisabledException", &format!("{key_arn} is disabled.")))
        )
    );

    assert_absent(&log, b"denied-value", "the secret value");
    assert_absent(&log, b"never-written", "a refused value");
}

#[tokio::test]
async fn the_log_never_holds_values_plaintexts_or_ciphertexts() {
    let audited = Audited::start().await;
    let server = &audited.server;
    let client = server.client();
    let string_value = format!("string-secret-{}", token());
    let binary_value: Vec<u8> = (0u8..=255).rev().collect();

    // Under the AWS managed key: the KMS records name it too.
    let string_name = unique_name("audit/string");
    let created = client
        .create_secret()
        .name(&string_name)
        .secret_string(&string_value)
        .send()
        .await
        .expect("CreateSecret");
    let create_id = created.request_id().expect("request id").to_owned();
    let binary_name = unique_name("audit/binary");
    client
        .create_secret()
        .name(&binary_name)
        .secret_binary(Blob::new(binary_value.clone()))
        .send()
        .await
        .expect("CreateSecret");
    let got = client
        .get_secret_value()
        .secret_id(&string_name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some(string_value.as_str()));
    let got = client
        .get_secret_value()
        .secret_id(&binary_name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(
        got.secret_binary().map(|b| b.as_ref()),
        Some(binary_value.as_slice())
    );

    // Direct KMS calls: neither plaintexts nor ciphertext blobs are recorded.
    let direct = server.kms_client();
    let key_arn = cmk(server).await;
    let plaintext = format!("kms-plaintext-{}", token());
    let blob = direct
        .encrypt()
        .key_id(&key_arn)
        .plaintext(KmsBlob::new(plaintext.as_bytes()))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("CiphertextBlob");
    let decrypted = direct
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(
        decrypted.plaintext.as_ref().map(|p| p.as_ref()),
        Some(plaintext.as_bytes())
    );
    let data_key = direct
        .generate_data_key()
        .key_id(&key_arn)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await
        .expect("GenerateDataKey");

    let (log, records) = audited.stop().await;

    let create = of_request(&records, &create_id);
    assert_eq!(names(&create), [sm("CreateSecret"), kms("GenerateDataKey")]);
    let default_key = create[1]["resources"][0]["ARN"].as_str().expect("key ARN");
    assert!(
        default_key.starts_with(&format!("arn:aws:kms:{REGION}:{DEV_ACCOUNT}:key/")),
        "{default_key}"
    );
    assert_eq!(create[1]["requestParameters"]["keyId"], default_key);

    assert_absent(&log, string_value.as_bytes(), "a string secret value");
    assert_absent(&log, &binary_value, "a binary secret value");
    assert_absent(&log, plaintext.as_bytes(), "an Encrypt plaintext");
    assert_absent(&log, blob.as_ref(), "a ciphertext blob");
    assert_absent(
        &log,
        data_key.plaintext.as_ref().expect("Plaintext").as_ref(),
        "a plaintext data key",
    );
    assert_absent(
        &log,
        data_key
            .ciphertext_blob
            .as_ref()
            .expect("CiphertextBlob")
            .as_ref(),
        "an encrypted data key",
    );
}

// CloudTrail records a failed call's `errorMessage` as text of bounded size; a message echoing a
// huge parameter (a 100 KB policy's validation error) must not make a huge audit record.
#[tokio::test]
async fn error_messages_are_bounded() {
    let audited = Audited::start().await;
    let sm = audited.server.client();
    let name = unique_name("audit/huge-policy");
    sm.create_secret()
        .name(&name)
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    let malformed = format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{}",
        "é".repeat(50_000)
    );
    assert!(malformed.len() > 100_000);
    let e = sm
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(&malformed)
        .send()
        .await
        .expect_err("a malformed policy");
    let request_id = e.request_id().expect("request id").to_owned();
    let (raw, records) = audited.stop().await;

    let line = raw
        .split(|&b| b == b'\n')
        .find(|l| contains(l, request_id.as_bytes()))
        .expect("the call's record");
    assert!(line.len() < 4 * 1024, "a {} byte record", line.len());
    let record = of_request(&records, &request_id)[0];
    assert_eq!(record["eventName"], "PutResourcePolicy");
    assert_eq!(record["errorCode"], "ValidationException");
    let message = record["errorMessage"].as_str().expect("errorMessage");
    assert!(
        message.starts_with("1 validation error detected: Value '{"),
        "{message}"
    );
    assert!(message.ends_with("...(truncated)"), "{message}");
    assert_eq!(message.chars().count(), 1024 + "...(truncated)".len());
}
