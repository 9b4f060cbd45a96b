//! The audit log: one CloudTrail-shaped record per call, and one per KMS call Secrets Manager makes
//! as its caller (eventSource `kms.amazonaws.com`, the caller's identity `invokedBy`
//! `secretsmanager.amazonaws.com`, the key in `resources`, the encryption context), with the call's
//! `requestID`, whether the KMS call was allowed, denied or failed. The log never holds a secret
//! value, a plaintext or a ciphertext blob.

use std::path::PathBuf;

use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_secretsmanager::operation::RequestId;
use aws_sdk_secretsmanager::primitives::Blob;
use kinko_tests::*;
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
            .enumerate()
            .map(|(i, l)| {
                let mut record: Value = serde_json::from_slice(l)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)));
                kinko_tests::audit::unchain(&mut record, i as u64 + 1);
                record
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

fn sm_event(name: &str) -> (String, String) {
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
        "responseElements": null,
        "readOnly": true,
        "resources": [{"accountId": DEV_ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": identity["accountId"],
        "eventCategory": "Management",
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

/// The request id of an SDK output or error.
fn request_id(r: &impl RequestId) -> String {
    r.request_id().expect("request id").to_owned()
}

#[tokio::test]
async fn secret_reads_and_writes_record_the_kms_calls_made_for_the_caller() {
    let audited = Audited::start().await;
    let server = &audited.server;
    let sm = server.client();
    let key_arn = server.kms_client().new_key().await.1;
    let name = unique_name("audit/cmk");
    let req = sm.create_secret().name(&name).kms_key_id(&key_arn);
    let created = ok(req.secret_string("audit-value-one").send().await);
    let (arn, v1) = (
        created.arn.clone().expect("ARN"),
        created.version_id.clone().expect("VersionId"),
    );
    let create_id = request_id(&created);
    let got = ok(sm.get_secret_value().secret_id(&name).send().await);
    assert_eq!(got.secret_string(), Some("audit-value-one"));
    let get_id = request_id(&got);
    let v2 = token();
    let req = sm
        .put_secret_value()
        .secret_id(&name)
        .secret_string("audit-value-two");
    let put_id = request_id(&ok(req.client_request_token(&v2).send().await));
    let describe_id = request_id(&ok(sm.describe_secret().secret_id(&name).send().await));

    let (log, records) = audited.stop().await;

    // GetSecretValue: its own record, then KMS Decrypt of the version's data key, as the caller.
    let get = of_request(&records, &get_id);
    assert_eq!(names(&get), [sm_event("GetSecretValue"), kms("Decrypt")]);
    let identity = &get[0]["userIdentity"];
    assert_eq!(identity["arn"], root_arn(DEV_ACCOUNT));
    assert_eq!(identity["invokedBy"], Value::Null);
    let decrypt = decrypt_parameters(&key_arn, &arn, &v1);
    let expected = kms_record("Decrypt", identity, &get_id, &key_arn, decrypt, None);
    assert_eq!(stable(get[1], &get), expected);

    // PutSecretValue: GenerateDataKey for the new version.
    let put = of_request(&records, &put_id);
    assert_eq!(names(&put), [sm_event("PutSecretValue"), kms("GenerateDataKey")]);
    let generate = generate_parameters(&key_arn, &arn, &v2);
    let expected = kms_record("GenerateDataKey", identity, &put_id, &key_arn, generate, None);
    assert_eq!(stable(put[1], &put), expected);

    // CreateSecret with a customer managed key: the access check (a throw-away data key,
    // generated and decrypted), then the first version's data key.
    let create = of_request(&records, &create_id);
    let expected = [
        sm_event("CreateSecret"),
        kms("GenerateDataKey"),
        kms("Decrypt"),
        kms("GenerateDataKey"),
    ];
    assert_eq!(names(&create), expected);
    let check = generate_parameters(&key_arn, &arn, VALIDATE_KEY_ACCESS);
    let expected = kms_record("GenerateDataKey", identity, &create_id, &key_arn, check, None);
    assert_eq!(stable(create[1], &create), expected);
    let check = decrypt_parameters(&key_arn, &arn, VALIDATE_KEY_ACCESS);
    let expected = kms_record("Decrypt", identity, &create_id, &key_arn, check, None);
    assert_eq!(stable(create[2], &create), expected);
    assert_eq!(
        create[3]["requestParameters"],
        generate_parameters(&key_arn, &arn, &v1)
    );

    // A call that doesn't use KMS has one record.
    assert_eq!(
        names(&of_request(&records, &describe_id)),
        [sm_event("DescribeSecret")]
    );
    assert_absent(&log, b"audit-value-one", "the first value");
    assert_absent(&log, b"audit-value-two", "the second value");
}

/// KMS calls denied (through Secrets Manager or directly) and failed (a disabled key) are
/// recorded with their error.
#[tokio::test]
async fn denied_and_failed_kms_calls_are_recorded() {
    let audited = Audited::start().await;
    let server = &audited.server;
    let root = server.client();
    let key_arn = server.kms_client().new_key().await.1;
    let name = unique_name("audit/denied");
    let req = root.create_secret().name(&name).kms_key_id(&key_arn);
    let created = ok(req.secret_string("denied-value").send().await);
    let (arn, v1) = (created.arn.expect("ARN"), created.version_id.expect("VersionId"));
    // Secrets Manager permissions only: the key's default policy leaves KMS to IAM, which grants
    // nothing.
    let actions = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"];
    let user = server.user("audit-user", Some(&allow(&actions, &["*"]))).await;
    let app = user.sm();
    let kms_denied = "Access to KMS is not allowed";
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "AccessDeniedException", kms_denied);
    let read_id = request_id(&e);
    let v2 = token();
    let req = app
        .put_secret_value()
        .secret_id(&name)
        .secret_string("never-written");
    let e = expect_err!(req.client_request_token(&v2).send().await);
    assert_error(&e, "AccessDeniedException", kms_denied);
    let write_id = request_id(&e);
    // A direct KMS call denied is recorded with the same code.
    let e = expect_err!(user.kms().describe_key().key_id(&key_arn).send().await);
    assert_eq!(e.code(), Some("AccessDeniedException"));
    let direct_id = aws_sdk_kms::operation::RequestId::request_id(&e)
        .expect("request id")
        .to_owned();
    // A disabled key fails the read in KMS.
    server.kms_client().set_enabled(&key_arn, false).await;
    let e = expect_err!(root.get_secret_value().secret_id(&name).send().await);
    assert_eq!(e.code(), Some("DecryptionFailure"));
    let disabled_id = request_id(&e);

    let user_arn = user.arn.clone();
    drop(user);
    let (log, records) = audited.stop().await;

    let read = of_request(&records, &read_id);
    assert_eq!(names(&read), [sm_event("GetSecretValue"), kms("Decrypt")]);
    assert_eq!(read[0]["errorCode"], "AccessDeniedException");
    assert_eq!(read[0]["errorMessage"], kms_denied);
    let identity = &read[0]["userIdentity"];
    assert_eq!(identity["arn"], user_arn.as_str());
    assert_eq!(identity["type"], "IAMUser");
    let denied = stable(read[1], &read);
    let message = denied["errorMessage"].as_str().expect("errorMessage").to_owned();
    let start = format!(
        "User: {} is not authorized to perform: kms:Decrypt on resource: {key_arn}",
        user_arn
    );
    assert!(message.starts_with(&start), "{message}");
    let decrypt = decrypt_parameters(&key_arn, &arn, &v1);
    let error = Some(("AccessDenied", message.as_str()));
    let expected = kms_record("Decrypt", identity, &read_id, &key_arn, decrypt, error);
    assert_eq!(denied, expected);

    let write = of_request(&records, &write_id);
    assert_eq!(
        names(&write),
        [sm_event("PutSecretValue"), kms("GenerateDataKey")]
    );
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
    assert_eq!(names(&disabled), [sm_event("GetSecretValue"), kms("Decrypt")]);
    assert_eq!(disabled[0]["errorCode"], "DecryptionFailure");
    let root_identity = &disabled[0]["userIdentity"];
    let decrypt = decrypt_parameters(&key_arn, &arn, &v1);
    let message = format!("{key_arn} is disabled.");
    let error = Some(("DisabledException", message.as_str()));
    let expected = kms_record("Decrypt", root_identity, &disabled_id, &key_arn, decrypt, error);
    assert_eq!(stable(disabled[1], &disabled), expected);

    assert_absent(&log, b"denied-value", "the secret value");
    assert_absent(&log, b"never-written", "a refused value");
}

/// Neither secret values (string or binary) nor KMS plaintexts, ciphertext blobs or data keys
/// reach the log; records of KMS calls for secrets under the AWS managed key name that key.
#[tokio::test]
async fn the_log_never_holds_values_plaintexts_or_ciphertexts() {
    let audited = Audited::start().await;
    let server = &audited.server;
    let sm = server.client();
    let string_value = format!("string-secret-{}", token());
    let binary_value: Vec<u8> = (0u8..=255).rev().collect();
    let string_name = unique_name("audit/string");
    let req = sm.create_secret().name(&string_name).secret_string(&string_value);
    let create_id = request_id(&ok(req.send().await));
    let binary_name = unique_name("audit/binary");
    let req = sm.create_secret().name(&binary_name);
    ok(req.secret_binary(Blob::new(binary_value.clone())).send().await);
    assert_eq!(sm.value(&string_name).await, string_value);
    let got = sm.get(&binary_name).await;
    assert_eq!(
        got.secret_binary().map(|b| b.as_ref()),
        Some(binary_value.as_slice())
    );

    // Direct KMS calls: neither plaintexts nor ciphertext blobs are recorded.
    let direct = server.kms_client();
    let key_arn = direct.new_key().await.1;
    let plaintext = format!("kms-plaintext-{}", token());
    let blob = direct.encrypt_with(&key_arn, plaintext.as_bytes(), &[]).await;
    let decrypted = direct.decrypt_with(&blob, &[]).await;
    assert_eq!(
        decrypted.plaintext.as_ref().map(|p| p.as_ref()),
        Some(plaintext.as_bytes())
    );
    let req = direct
        .generate_data_key()
        .key_id(&key_arn)
        .key_spec(DataKeySpec::Aes256);
    let data_key = ok(req.send().await);

    let (log, records) = audited.stop().await;

    let create = of_request(&records, &create_id);
    assert_eq!(names(&create), [sm_event("CreateSecret"), kms("GenerateDataKey")]);
    let default_key = create[1]["resources"][0]["ARN"].as_str().expect("key ARN");
    let prefix = format!("arn:aws:kms:{REGION}:{DEV_ACCOUNT}:key/");
    assert!(default_key.starts_with(&prefix), "{default_key}");
    assert_eq!(create[1]["requestParameters"]["keyId"], default_key);
    assert_absent(&log, string_value.as_bytes(), "a string secret value");
    assert_absent(&log, &binary_value, "a binary secret value");
    assert_absent(&log, plaintext.as_bytes(), "an Encrypt plaintext");
    assert_absent(&log, blob.as_ref(), "a ciphertext blob");
    let key = data_key.plaintext.as_ref().expect("Plaintext");
    assert_absent(&log, key.as_ref(), "a plaintext data key");
    let encrypted = data_key.ciphertext_blob.as_ref().expect("CiphertextBlob");
    assert_absent(&log, encrypted.as_ref(), "an encrypted data key");
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
