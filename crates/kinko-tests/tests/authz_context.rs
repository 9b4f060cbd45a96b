//! Authorization details that depend on the request itself: the caller's source address
//! (`aws:SourceIp`) and BatchGetSecretValue answering "not found" only to callers allowed to read.

use kinko_tests::{
    TestServer, assert_error, create_string_secret, create_user_with_key, no_identity_policy,
    policy_document, statement, unique_name,
};

/// `aws:SourceIp` is the client's address: the server listens on 127.0.0.1, so a policy limited
/// to 127.0.0.0/8 grants and one limited to another range doesn't.
#[tokio::test]
async fn source_ip_condition_sees_the_client_address() {
    let server = TestServer::start();
    let name = unique_name("ip");
    create_string_secret(&server.client(), &name, "v").await;
    let mut allow_loopback = statement("Allow", &["secretsmanager:GetSecretValue"], &["*"]);
    allow_loopback["Condition"] = serde_json::json!({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}});
    let mut allow_elsewhere = statement("Allow", &["secretsmanager:GetSecretValue"], &["*"]);
    allow_elsewhere["Condition"] = serde_json::json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}});

    let iam = server.iam_client();
    let (_, near) = create_user_with_key(
        &iam,
        &unique_name("near"),
        Some(&policy_document(&[allow_loopback])),
    )
    .await;
    let (far_arn, far) = create_user_with_key(
        &iam,
        &unique_name("far"),
        Some(&policy_document(&[allow_elsewhere])),
    )
    .await;

    let arn = server
        .client()
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret")
        .arn;
    let arn = arn.expect("ARN");
    server
        .client_as(&near)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("a loopback caller is inside 127.0.0.0/8");
    let e = server
        .client_as(&far)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect_err("a loopback caller is outside 203.0.113.0/24");
    assert_error(
        &e.into_service_error(),
        "AccessDeniedException",
        &no_identity_policy(&far_arn, "secretsmanager:GetSecretValue", Some(&arn)),
    );
}

/// A caller without GetSecretValue can't learn which names exist from BatchGetSecretValue: a
/// missing secret is AccessDenied for them too, and ResourceNotFound only for allowed callers.
#[tokio::test]
async fn batch_get_does_not_reveal_missing_secrets_to_denied_callers() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let existing = unique_name("exists");
    create_string_secret(&server.client(), &existing, "v").await;
    let missing = unique_name("missing");

    let batch_only = policy_document(&[statement(
        "Allow",
        &["secretsmanager:BatchGetSecretValue"],
        &["*"],
    )]);
    let (_, denied) = create_user_with_key(&iam, &unique_name("batch"), Some(&batch_only)).await;
    let out = server
        .client_as(&denied)
        .batch_get_secret_value()
        .secret_id_list(&existing)
        .secret_id_list(&missing)
        .send()
        .await
        .expect("BatchGetSecretValue");
    let codes: Vec<_> = out
        .errors()
        .iter()
        .map(|e| e.error_code().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(codes, ["AccessDeniedException", "AccessDeniedException"]);

    let reader = policy_document(&[statement(
        "Allow",
        &[
            "secretsmanager:BatchGetSecretValue",
            "secretsmanager:GetSecretValue",
        ],
        &["*"],
    )]);
    let (_, allowed) = create_user_with_key(&iam, &unique_name("reader"), Some(&reader)).await;
    let out = server
        .client_as(&allowed)
        .batch_get_secret_value()
        .secret_id_list(&existing)
        .secret_id_list(&missing)
        .send()
        .await
        .expect("BatchGetSecretValue");
    assert_eq!(out.secret_values().len(), 1);
    let codes: Vec<_> = out
        .errors()
        .iter()
        .map(|e| e.error_code().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(codes, ["ResourceNotFoundException"]);
}
