//! A workload across every service, carrying known secrets in requests and answers (secret
//! values, string and binary, KMS plaintexts, ciphertext blobs and data keys, secret access keys,
//! session tokens, a password), allowed, denied and failed, through the SDKs and as raw requests
//! (a presigned one among them, its session token in the URL): no audit record holds any of them,
//! in any encoding, and every call has its record.

use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_secretsmanager::primitives::Blob;
use kinko_tests::*;

use crate::request_id;

/// The secrets a workload has handled, and what each is.
#[derive(Default)]
struct Secrets(Vec<(String, Vec<u8>)>);

impl Secrets {
    fn add(&mut self, what: &str, value: impl AsRef<[u8]>) {
        self.0.push((what.to_owned(), value.as_ref().to_vec()));
    }

    fn text(&mut self, what: &str) -> String {
        let v = format!("{what}-{}", token());
        self.add(what, &v);
        v
    }
}

#[tokio::test]
async fn no_record_of_a_workload_holds_a_secret() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let sm = server.client();
    let kms = server.kms_client();
    let mut secrets = Secrets::default();
    let mut ids: Vec<String> = Vec::new();

    // Secrets Manager: values written, read, refused.
    let (key_id, key_arn) = kms.new_key().await;
    let name = unique_name("audit/scan");
    let first = secrets.text("first-secret-string");
    let out = ok(sm
        .create_secret()
        .name(&name)
        .kms_key_id(&key_id)
        .secret_string(&first)
        .send()
        .await);
    ids.push(request_id!(out));
    let binary: Vec<u8> = (0u8..=255).rev().chain(0u8..=63).collect();
    secrets.add("a binary secret", &binary);
    let binary_name = unique_name("audit/scan-binary");
    let out = ok(sm
        .create_secret()
        .name(&binary_name)
        .secret_binary(Blob::new(binary.clone()))
        .send()
        .await);
    ids.push(request_id!(out));
    let second = secrets.text("second-secret-string");
    let out = ok(sm
        .put_secret_value()
        .secret_id(&name)
        .secret_string(&second)
        .send()
        .await);
    ids.push(request_id!(out));
    let more_binary: Vec<u8> = (0u8..200).map(|b| b.wrapping_mul(37)).collect();
    secrets.add("a second binary secret", &more_binary);
    let out = ok(sm
        .put_secret_value()
        .secret_id(&binary_name)
        .secret_binary(Blob::new(more_binary.clone()))
        .send()
        .await);
    ids.push(request_id!(out));
    let third = secrets.text("updated-secret-string");
    let out = ok(sm
        .update_secret()
        .secret_id(&name)
        .secret_string(&third)
        .send()
        .await);
    ids.push(request_id!(out));
    for id in [&name, &binary_name] {
        let out = ok(sm.get_secret_value().secret_id(id).send().await);
        ids.push(request_id!(out));
    }
    let out = ok(sm
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await);
    assert_eq!(out.secret_string(), Some(second.as_str()));
    ids.push(request_id!(out));
    let out = ok(sm
        .batch_get_secret_value()
        .secret_id_list(&name)
        .secret_id_list(&binary_name)
        .send()
        .await);
    assert_eq!(out.secret_values().len(), 2);
    ids.push(request_id!(out));
    let out = ok(sm.get_random_password().password_length(64).send().await);
    secrets.add(
        "a random password",
        out.random_password().expect("RandomPassword"),
    );
    ids.push(request_id!(out));
    // Both kinds of value at once: refused, with both in the request.
    let both = secrets.text("refused-string-value");
    let e = expect_err!(
        sm.put_secret_value()
            .secret_id(&name)
            .secret_string(&both)
            .secret_binary(Blob::new(b"refused-binary-value".to_vec()))
            .send()
            .await
    );
    secrets.add("a refused binary value", b"refused-binary-value");
    ids.push(request_id!(e));
    // A token reused with another value: refused.
    let reused = token();
    let current = secrets.text("tokened-value");
    ok(sm
        .put_secret_value()
        .secret_id(&name)
        .secret_string(&current)
        .client_request_token(&reused)
        .send()
        .await);
    let other = secrets.text("other-value-same-token");
    let e = expect_err!(
        sm.put_secret_value()
            .secret_id(&name)
            .secret_string(&other)
            .client_request_token(&reused)
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("ResourceExistsException"));
    ids.push(request_id!(e));
    // Too large a value: refused by the model's checks.
    let huge = format!("{}{}", secrets.text("oversized-value"), "z".repeat(70_000));
    let e = expect_err!(
        sm.put_secret_value()
            .secret_id(&name)
            .secret_string(&huge)
            .send()
            .await
    );
    ids.push(request_id!(e));

    // A user with Secrets Manager permissions but no KMS ones, and one with none at all.
    let sm_only = server
        .user(
            "scan-sm",
            Some(&allow(
                &["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                &["*"],
            )),
        )
        .await;
    secrets.add("a user's secret access key", &sm_only.secret_access_key);
    let denied_value = secrets.text("denied-by-kms-value");
    let e = expect_err!(
        sm_only
            .sm()
            .put_secret_value()
            .secret_id(&name)
            .secret_string(&denied_value)
            .send()
            .await
    );
    ids.push(request_id!(e));
    let nobody = server.user("scan-nobody", None).await;
    secrets.add("another user's secret access key", &nobody.secret_access_key);
    let denied_value = secrets.text("denied-value");
    let e = expect_err!(
        nobody
            .sm()
            .create_secret()
            .name(unique_name("audit/denied"))
            .secret_string(&denied_value)
            .send()
            .await
    );
    ids.push(request_id!(e));

    // KMS: plaintexts, ciphertext blobs and data keys in and out.
    let plaintext = secrets.text("kms-plaintext");
    let context = [("Purpose", "scan")];
    let blob = kms.encrypt_with(&key_arn, plaintext.as_bytes(), &context).await;
    secrets.add("a ciphertext blob", blob.as_ref());
    let out = kms.decrypt_with(&blob, &context).await;
    assert_eq!(
        out.plaintext.as_ref().map(|p| p.as_ref()),
        Some(plaintext.as_bytes())
    );
    let out = ok(kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("Purpose", "scan")
        .destination_key_id(&key_id)
        .send()
        .await);
    secrets.add(
        "a re-encrypted blob",
        out.ciphertext_blob.as_ref().expect("CiphertextBlob").as_ref(),
    );
    ids.push(request_id!(out));
    let out = ok(kms
        .generate_data_key()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await);
    secrets.add("a data key", out.plaintext.as_ref().expect("Plaintext").as_ref());
    secrets.add(
        "an encrypted data key",
        out.ciphertext_blob.as_ref().expect("CiphertextBlob").as_ref(),
    );
    ids.push(request_id!(out));
    let out = ok(kms
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .number_of_bytes(48)
        .send()
        .await);
    secrets.add(
        "an encrypted data key without plaintext",
        out.ciphertext_blob.as_ref().expect("CiphertextBlob").as_ref(),
    );
    ids.push(request_id!(out));
    let out = ok(kms.generate_random().number_of_bytes(64).send().await);
    secrets.add(
        "random bytes",
        out.plaintext.as_ref().expect("Plaintext").as_ref(),
    );
    ids.push(request_id!(out));
    // The wrong context: refused, with the blob in the request.
    let e = expect_err!(
        kms.decrypt()
            .ciphertext_blob(blob.clone())
            .encryption_context("Purpose", "other")
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("InvalidCiphertextException"));
    ids.push(request_id!(e));
    let denied_plaintext = secrets.text("denied-plaintext");
    let e = expect_err!(
        nobody
            .kms()
            .encrypt()
            .key_id(&key_arn)
            .plaintext(Blob::new(denied_plaintext.clone().into_bytes()))
            .send()
            .await
    );
    ids.push(request_id!(e));

    // IAM and STS: secret access keys and session tokens issued and used.
    let iam = server.iam_client();
    let user_name = format!("scan-{}", short_id());
    ok(iam.create_user().user_name(&user_name).send().await);
    let out = ok(iam.create_access_key().user_name(&user_name).send().await);
    let key = out.access_key.as_ref().expect("AccessKey");
    secrets.add("a new secret access key", &key.secret_access_key);
    ids.push(request_id!(out));
    let role_name = format!("scan-{}", short_id());
    let trust = trust_policy(&[&root_arn(DEV_ACCOUNT)]);
    let role_policy = allow(
        &[
            "secretsmanager:GetSecretValue",
            "kms:Decrypt",
            "sts:GetCallerIdentity",
        ],
        &["*"],
    );
    let role_arn = server.role(&role_name, &trust, Some(&role_policy)).await;
    let assumer = server.assumer(&role_arn).await;
    secrets.add("the assumer's secret access key", &assumer.secret_access_key);
    let out = ok(assumer
        .sts()
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("scan")
        .send()
        .await);
    ids.push(request_id!(out));
    let session = TestCredentials::from(out.credentials.as_ref().expect("Credentials"));
    secrets.add("a role session's secret access key", &session.secret_access_key);
    let session_token = session.session_token.clone().expect("SessionToken");
    secrets.add("a role session's token", &session_token);
    let out = ok(assumer.sts().get_session_token().send().await);
    ids.push(request_id!(out));
    let user_session = TestCredentials::from(out.credentials.as_ref().expect("Credentials"));
    secrets.add(
        "a user session's secret access key",
        &user_session.secret_access_key,
    );
    secrets.add(
        "a user session's token",
        user_session.session_token.as_deref().expect("SessionToken"),
    );
    // Calls signed with the temporary credentials (the token travels in a header).
    let out = ok(server.sts_client_as(&session).get_caller_identity().send().await);
    ids.push(request_id!(out));
    let out = ok(server
        .client_as(&session)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await);
    assert_eq!(out.secret_string(), Some(current.as_str()));
    ids.push(request_id!(out));
    let out = ok(server
        .sts_client_as(&user_session)
        .get_caller_identity()
        .send()
        .await);
    ids.push(request_id!(out));
    // A presigned request: the session token is a query parameter.
    let mut req = server.request(
        "GET",
        "/?Action=GetCallerIdentity&Version=2011-06-15",
        &[],
        Vec::new(),
    );
    let presigned = Signing {
        presigned_for: Some(std::time::Duration::from_secs(300)),
        ..Signing::default()
    };
    server.sign(&mut req, "sts", &session, &presigned);
    assert!(
        req.uri()
            .query()
            .is_some_and(|q| q.contains("X-Amz-Security-Token")),
        "{}",
        req.uri()
    );
    let resp = server.send(req).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    ids.push(
        resp.headers["x-amzn-requestid"]
            .to_str()
            .expect("request id")
            .to_owned(),
    );
    // A password sent with a Query request: recorded as hidden, never as sent.
    let password = secrets.text("a-login-password");
    let form = format!(
        "Action=CreateUser&Version=2010-05-08&UserName=scan-pw-{}&Password={password}",
        short_id()
    );
    let mut req = server.request(
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
        form.into_bytes(),
    );
    server.sign(&mut req, "iam", &server.root_credentials(), &Signing::default());
    let resp = server.send(req).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let password_id = resp.headers["x-amzn-requestid"]
        .to_str()
        .expect("request id")
        .to_owned();
    ids.push(password_id.clone());
    // Console passwords: set, changed by the user, reset by an administrator.
    let iam = server.iam_client();
    let console = server
        .user("scan-console", Some(&allow(&["iam:ChangePassword"], &["*"])))
        .await;
    let first = format!("Aa1-{}", secrets.text("a-console-password"));
    let req = iam
        .create_login_profile()
        .user_name(&console.name)
        .password(&first);
    let out = req.send().await.expect("CreateLoginProfile");
    let profile_id = request_id!(out);
    ids.push(profile_id.clone());
    let second = format!("Bb2-{}", secrets.text("a-changed-password"));
    let req = console
        .iam()
        .change_password()
        .old_password(&first)
        .new_password(&second);
    let out = req.send().await.expect("ChangePassword");
    let change_id = request_id!(out);
    ids.push(change_id.clone());
    let third = format!("Cc3-{}", secrets.text("a-reset-password"));
    let req = iam
        .update_login_profile()
        .user_name(&console.name)
        .password(&third);
    let out = req.send().await.expect("UpdateLoginProfile");
    let reset_id = request_id!(out);
    ids.push(reset_id.clone());

    drop((sm_only, nobody, assumer, console));
    let log = audited.stop().await;

    for id in &ids {
        let r = log.call(id);
        assert!(r["eventName"].is_string(), "{r}");
    }
    assert_eq!(
        log.call(&password_id)["requestParameters"]["password"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    for (id, member) in [
        (&profile_id, "password"),
        (&change_id, "oldPassword"),
        (&change_id, "newPassword"),
        (&reset_id, "password"),
    ] {
        assert_eq!(
            log.call(id)["requestParameters"][member],
            "HIDDEN_DUE_TO_SECURITY_REASONS",
            "{member}"
        );
    }
    for (what, value) in &secrets.0 {
        log.assert_absent(value, what);
    }
}
