//! The life of credentials and grants: access keys deactivated or deleted, policies detached,
//! temporary credentials expiring, AssumeRole duration limits and trust conditions.

use std::time::Duration;

use aws_sdk_iam::types::StatusType;
use kinko_tests::{
    DEV_ACCOUNT, TestClock, TestCredentials, TestServer, assert_error, assume_role, create_role_with_policy,
    create_string_secret, create_user_with_key, denied_message, dev_config, expect_err, no_identity_policy,
    policy_document, short_id, statement, trust_policy,
};
use serde_json::json;

// AWS words an unknown access key id with a final period in both protocols (STS:
// hashicorp/terraform-provider-aws#13695; DynamoDB in mhart/dynalite's recorded answers), and a
// session token it can't use without one (dynalite; raw STS XML in aws-azure-login#251; IAM
// refusing GetSessionToken credentials in 99designs/aws-vault#328).
const UNKNOWN_KEY: &str = "The security token included in the request is invalid.";
const BAD_SESSION_TOKEN: &str = "The security token included in the request is invalid";
const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

fn root_arn() -> String {
    format!("arn:aws:iam::{DEV_ACCOUNT}:root")
}

fn read_policy(resource: &str) -> String {
    policy_document(&[statement(
        "Allow",
        &["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        &[resource],
    )])
}

/// A user allowed `sts:AssumeRole` on `role_arn`, with an access key.
async fn assuming_user(iam: &aws_sdk_iam::Client, role_arn: &str) -> (String, TestCredentials) {
    let policy = policy_document(&[statement("Allow", &["sts:AssumeRole"], &[role_arn])]);
    create_user_with_key(iam, &format!("assumer-{}", short_id()), Some(&policy)).await
}

// ---------------------------------------------------------------------------------------------
// Access keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn inactive_access_key_is_refused_until_reactivated() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/key-status");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let user = format!("keyed-{p}");
    let (_, creds) = create_user_with_key(&iam, &user, Some(&read_policy(&arn))).await;
    let app = server.client_as(&creds);
    let sts = server.sts_client_as(&creds);
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("active key works");

    iam.update_access_key()
        .user_name(&user)
        .access_key_id(&creds.access_key_id)
        .status(StatusType::Inactive)
        .send()
        .await
        .expect("UpdateAccessKey Inactive");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "UnrecognizedClientException", UNKNOWN_KEY);
    let e = expect_err!(sts.get_caller_identity().send().await);
    assert_error(&e, "InvalidClientTokenId", UNKNOWN_KEY);
    let keys = iam
        .list_access_keys()
        .user_name(&user)
        .send()
        .await
        .expect("ListAccessKeys")
        .access_key_metadata;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, Some(StatusType::Inactive));

    iam.update_access_key()
        .user_name(&user)
        .access_key_id(&creds.access_key_id)
        .status(StatusType::Active)
        .send()
        .await
        .expect("UpdateAccessKey Active");
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("reactivated key works again");
    sts.get_caller_identity().send().await.expect("GetCallerIdentity");
}

#[tokio::test]
async fn deleted_access_key_is_refused() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/key-deleted");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let user = format!("deleted-key-{p}");
    let (_, creds) = create_user_with_key(&iam, &user, Some(&read_policy(&arn))).await;
    let app = server.client_as(&creds);
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("key works");
    iam.delete_access_key()
        .user_name(&user)
        .access_key_id(&creds.access_key_id)
        .send()
        .await
        .expect("DeleteAccessKey");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "UnrecognizedClientException", UNKNOWN_KEY);
    let e = expect_err!(server.sts_client_as(&creds).get_caller_identity().send().await);
    assert_error(&e, "InvalidClientTokenId", UNKNOWN_KEY);
    let e = expect_err!(server.iam_client_as(&creds).get_user().send().await);
    assert_error(&e, "InvalidClientTokenId", UNKNOWN_KEY);
    let keys = iam
        .list_access_keys()
        .user_name(&user)
        .send()
        .await
        .expect("ListAccessKeys")
        .access_key_metadata;
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn wrong_secret_key_is_a_signature_mismatch() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let (_, creds) = create_user_with_key(&iam, &format!("sig-{}", short_id()), None).await;
    let wrong = TestCredentials::long_term(&creds.access_key_id, &"x".repeat(40));
    let e = expect_err!(server.client_as(&wrong).list_secrets().send().await);
    assert_eq!(e.meta().code(), Some("InvalidSignatureException"), "{e:?}");
    let e = expect_err!(server.sts_client_as(&wrong).get_caller_identity().send().await);
    assert_eq!(e.meta().code(), Some("SignatureDoesNotMatch"), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// Grants change on the very next request
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn detaching_a_policy_stops_granting_on_the_next_request() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/detach");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let policy_arn = iam
        .create_policy()
        .policy_name(format!("reader-{p}"))
        .policy_document(read_policy(&arn))
        .send()
        .await
        .expect("CreatePolicy")
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    let user = format!("detached-{p}");
    let (user_arn, creds) = create_user_with_key(&iam, &user, None).await;
    let app = server.client_as(&creds);
    let denied = no_identity_policy(&user_arn, "secretsmanager:GetSecretValue", Some(&arn));

    iam.attach_user_policy()
        .user_name(&user)
        .policy_arn(&policy_arn)
        .send()
        .await
        .expect("AttachUserPolicy");
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("granted once attached");
    iam.detach_user_policy()
        .user_name(&user)
        .policy_arn(&policy_arn)
        .send()
        .await
        .expect("DetachUserPolicy");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "AccessDeniedException", &denied);

    // An inline policy: deleting it takes effect at once too.
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("inline-read")
        .policy_document(read_policy(&arn))
        .send()
        .await
        .expect("PutUserPolicy");
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("granted by the inline policy");
    iam.delete_user_policy()
        .user_name(&user)
        .policy_name("inline-read")
        .send()
        .await
        .expect("DeleteUserPolicy");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "AccessDeniedException", &denied);

    // A new default version of an attached policy applies at once.
    iam.attach_user_policy()
        .user_name(&user)
        .policy_arn(&policy_arn)
        .send()
        .await
        .expect("AttachUserPolicy");
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("granted again");
    iam.create_policy_version()
        .policy_arn(&policy_arn)
        .policy_document(policy_document(&[statement(
            "Allow",
            &["secretsmanager:DescribeSecret"],
            &[&arn],
        )]))
        .set_as_default(true)
        .send()
        .await
        .expect("CreatePolicyVersion");
    app.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret under v2");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(&e, "AccessDeniedException", &denied);
}

#[tokio::test]
async fn role_policy_changes_apply_to_existing_sessions() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/role-detach");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let role_name = format!("changing-{p}");
    let role_arn = create_role_with_policy(
        &iam,
        &role_name,
        &trust_policy(&[&root_arn()]),
        Some(&read_policy(&arn)),
    )
    .await;
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let (session, session_arn) = assume_role(&server.sts_client_as(&creds), &role_arn, "long-lived").await;
    let app = server.client_as(&session);
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("granted by the role policy");
    iam.delete_role_policy()
        .role_name(&role_name)
        .policy_name("inline")
        .send()
        .await
        .expect("DeleteRolePolicy");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&session_arn, "secretsmanager:GetSecretValue", Some(&arn)),
    );
    iam.attach_role_policy()
        .role_name(&role_name)
        .policy_arn("arn:aws:iam::aws:policy/SecretsManagerReadWrite")
        .send()
        .await
        .expect("AttachRolePolicy");
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("granted by the attached policy");

    // Deleting the role leaves its sessions authenticated but without any permission.
    iam.detach_role_policy()
        .role_name(&role_name)
        .policy_arn("arn:aws:iam::aws:policy/SecretsManagerReadWrite")
        .send()
        .await
        .expect("DetachRolePolicy");
    iam.delete_role()
        .role_name(&role_name)
        .send()
        .await
        .expect("DeleteRole");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&session_arn, "secretsmanager:GetSecretValue", Some(&arn)),
    );
    // Re-creating a role with the same name doesn't revive the old sessions.
    create_role_with_policy(
        &iam,
        &role_name,
        &trust_policy(&[&root_arn()]),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:*"],
            &["*"],
        )])),
    )
    .await;
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&session_arn, "secretsmanager:GetSecretValue", Some(&arn)),
    );
}

// ---------------------------------------------------------------------------------------------
// Temporary credentials
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn session_credentials_expire() {
    let (clock, manual) = TestClock::manual();
    let server = TestServer::start_with(dev_config(), clock).await;
    let sm = server.client();
    let iam = server.iam_client();
    let name = "expiring/secret";
    let (arn, _) = create_string_secret(&sm, name, "v").await;
    let role_arn = create_role_with_policy(
        &iam,
        "short-lived",
        &trust_policy(&[&root_arn()]),
        Some(&read_policy(&arn)),
    )
    .await;
    let user_policy = policy_document(&[
        json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": arn}),
        json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}),
    ]);
    let (user_arn, user) = create_user_with_key(&iam, "temporary", Some(&user_policy)).await;

    let issued_at = kinko_core::Clock::now(&*manual).millis();
    let token = server
        .sts_client_as(&user)
        .get_session_token()
        .duration_seconds(900)
        .send()
        .await
        .expect("GetSessionToken")
        .credentials
        .expect("Credentials");
    let expiration_ms =
        token.expiration.secs() * 1000 + i64::from(token.expiration.subsec_nanos() / 1_000_000);
    assert!(
        (expiration_ms - (issued_at + 900_000)).abs() < 2_000,
        "expiration {expiration_ms} vs issued {issued_at} + 900 s"
    );
    assert!(token.access_key_id.starts_with("ASIA"), "{}", token.access_key_id);
    let session = TestCredentials::from(&token);
    let role = server
        .sts_client_as(&user)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("short")
        .duration_seconds(900)
        .send()
        .await
        .expect("AssumeRole for 900 s")
        .credentials
        .expect("Credentials");
    let role_session = TestCredentials::from(&role);

    // The GetSessionToken session acts as the user.
    let who = server
        .sts_client_as(&session)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(who.arn.as_deref(), Some(user_arn.as_str()));
    for c in [&session, &role_session] {
        server
            .client_as(c)
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .expect("fresh session works");
    }

    manual.advance(Duration::from_secs(14 * 60));
    for c in [&session, &role_session] {
        server
            .client_as(c)
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .expect("still valid after 14 minutes");
    }

    manual.advance(Duration::from_secs(2 * 60));
    for c in [&session, &role_session] {
        let e = expect_err!(
            server
                .client_as(c)
                .get_secret_value()
                .secret_id(name)
                .send()
                .await
        );
        assert_error(&e, "ExpiredTokenException", EXPIRED_TOKEN);
        let e = expect_err!(server.sts_client_as(c).get_caller_identity().send().await);
        assert_error(&e, "ExpiredToken", EXPIRED_TOKEN);
    }
    // The user's long-term key is unaffected.
    server
        .client_as(&user)
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .expect("long-term key still works");
    server.shutdown().await;
}

#[tokio::test]
async fn session_credentials_need_their_own_token() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let (_, user) = create_user_with_key(
        &iam,
        &format!("tokens-{}", short_id()),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:ListSecrets"],
            &["*"],
        )])),
    )
    .await;
    let sts = server.sts_client_as(&user);
    let a = TestCredentials::from(
        sts.get_session_token()
            .send()
            .await
            .expect("GetSessionToken")
            .credentials
            .as_ref()
            .expect("Credentials"),
    );
    let b = TestCredentials::from(
        sts.get_session_token()
            .send()
            .await
            .expect("GetSessionToken")
            .credentials
            .as_ref()
            .expect("Credentials"),
    );
    server
        .client_as(&a)
        .list_secrets()
        .send()
        .await
        .expect("ListSecrets with session A");

    let without_token = TestCredentials::long_term(&a.access_key_id, &a.secret_access_key);
    let e = expect_err!(server.client_as(&without_token).list_secrets().send().await);
    assert_error(&e, "UnrecognizedClientException", UNKNOWN_KEY);
    let e = expect_err!(
        server
            .sts_client_as(&without_token)
            .get_caller_identity()
            .send()
            .await
    );
    assert_error(&e, "InvalidClientTokenId", UNKNOWN_KEY);

    let swapped = TestCredentials {
        session_token: b.session_token.clone(),
        ..a.clone()
    };
    let e = expect_err!(server.client_as(&swapped).list_secrets().send().await);
    assert_error(&e, "UnrecognizedClientException", BAD_SESSION_TOKEN);

    let mut garbled = a.clone();
    garbled.session_token = Some("not-a-session-token".into());
    let e = expect_err!(server.client_as(&garbled).list_secrets().send().await);
    assert_error(&e, "UnrecognizedClientException", BAD_SESSION_TOKEN);
    let e = expect_err!(server.sts_client_as(&garbled).get_caller_identity().send().await);
    assert_error(&e, "InvalidClientTokenId", BAD_SESSION_TOKEN);

    // Session credentials can't get another session token.
    let e = expect_err!(server.sts_client_as(&a).get_session_token().send().await);
    assert_error(
        &e,
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
    );
}

#[tokio::test]
async fn assume_role_duration_is_capped_by_max_session_duration() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let role_name = format!("durations-{p}");
    let role_arn = create_role_with_policy(&iam, &role_name, &trust_policy(&[&root_arn()]), None).await;
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let sts = server.sts_client_as(&creds);
    let attempt = |seconds: i32| {
        sts.assume_role()
            .role_arn(&role_arn)
            .role_session_name("long")
            .duration_seconds(seconds)
            .send()
    };
    let e = expect_err!(attempt(7200).await);
    assert_error(
        &e,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    let e = expect_err!(attempt(899).await);
    assert_error(
        &e,
        "ValidationError",
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: \
         Member must have value greater than or equal to 900",
    );
    let e = expect_err!(attempt(43201).await);
    assert_error(
        &e,
        "ValidationError",
        "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: \
         Member must have value less than or equal to 43200",
    );
    attempt(3600)
        .await
        .expect("the default MaxSessionDuration is one hour");

    iam.update_role()
        .role_name(&role_name)
        .max_session_duration(7200)
        .send()
        .await
        .expect("UpdateRole MaxSessionDuration");
    let before = kinko_tests::now_secs();
    let out = attempt(7200).await.expect("AssumeRole for two hours");
    let expiration = out.credentials.expect("Credentials").expiration.secs();
    assert!(
        (before + 7200 - 5..=kinko_tests::now_secs() + 7200 + 5).contains(&expiration),
        "expiration {expiration}, requested at {before}"
    );
    let e = expect_err!(attempt(7201).await);
    assert_error(
        &e,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
}

#[tokio::test]
async fn role_chaining_is_limited_to_one_hour() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let second_name = format!("chained-second-{p}");
    let second = format!("arn:aws:iam::{DEV_ACCOUNT}:role/{second_name}");
    let first = create_role_with_policy(
        &iam,
        &format!("chained-first-{p}"),
        &trust_policy(&[&root_arn()]),
        Some(&policy_document(&[statement(
            "Allow",
            &["sts:AssumeRole"],
            &[&second],
        )])),
    )
    .await;
    create_role_with_policy(&iam, &second_name, &trust_policy(&[&root_arn()]), None).await;
    iam.update_role()
        .role_name(&second_name)
        .max_session_duration(7200)
        .send()
        .await
        .expect("UpdateRole");
    let (_, user) = assuming_user(&iam, &first).await;
    let (first_session, _) = assume_role(&server.sts_client_as(&user), &first, "hop-one").await;
    let sts = server.sts_client_as(&first_session);
    let e = expect_err!(
        sts.assume_role()
            .role_arn(&second)
            .role_session_name("hop-two")
            .duration_seconds(7200)
            .send()
            .await
    );
    assert_error(
        &e,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    );
    let out = sts
        .assume_role()
        .role_arn(&second)
        .role_session_name("hop-two")
        .duration_seconds(3600)
        .send()
        .await
        .expect("chained AssumeRole for one hour");
    assert_eq!(
        out.assumed_role_user.expect("AssumedRoleUser").arn,
        format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{second_name}/hop-two")
    );
}

#[tokio::test]
async fn root_cannot_assume_roles() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let role_arn = create_role_with_policy(
        &iam,
        &format!("not-for-root-{}", short_id()),
        &trust_policy(&[&root_arn()]),
        None,
    )
    .await;
    let e = expect_err!(
        server
            .sts_client()
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("root-session")
            .send()
            .await
    );
    assert_error(&e, "AccessDenied", "Roles may not be assumed by root accounts.");
}

#[tokio::test]
async fn external_id_condition_in_the_trust_policy() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let external_id = format!("partner-{p}");
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"AWS": root_arn()},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}}
    })]);
    let role_name = format!("partner-{p}");
    let role_arn = create_role_with_policy(&iam, &role_name, &trust, None).await;
    let (user_arn, creds) = assuming_user(&iam, &role_arn).await;
    let sts = server.sts_client_as(&creds);
    let denied = denied_message(
        &user_arn,
        "sts:AssumeRole",
        Some(&role_arn),
        "because no role trust policy allows the sts:AssumeRole action",
    );
    let e = expect_err!(
        sts.assume_role()
            .role_arn(&role_arn)
            .role_session_name("no-external-id")
            .send()
            .await
    );
    assert_error(&e, "AccessDenied", &denied);
    let e = expect_err!(
        sts.assume_role()
            .role_arn(&role_arn)
            .role_session_name("wrong-external-id")
            .external_id("partner-wrong")
            .send()
            .await
    );
    assert_error(&e, "AccessDenied", &denied);
    let out = sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("right-external-id")
        .external_id(&external_id)
        .send()
        .await
        .expect("AssumeRole with the right ExternalId");
    assert_eq!(
        out.assumed_role_user.expect("AssumedRoleUser").arn,
        format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/right-external-id")
    );
}

#[tokio::test]
async fn explicit_deny_in_the_trust_policy() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let role_name = format!("deny-trust-{p}");
    let role_arn = format!("arn:aws:iam::{DEV_ACCOUNT}:role/{role_name}");
    let (user_arn, creds) = assuming_user(&iam, &role_arn).await;
    let trust = policy_document(&[
        json!({"Effect": "Allow", "Principal": {"AWS": root_arn()}, "Action": "sts:AssumeRole"}),
        json!({"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}),
    ]);
    create_role_with_policy(&iam, &role_name, &trust, None).await;
    let e = expect_err!(
        server
            .sts_client_as(&creds)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("denied")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &denied_message(
            &user_arn,
            "sts:AssumeRole",
            Some(&role_arn),
            "with an explicit deny in the role trust policy",
        ),
    );
}

#[tokio::test]
async fn iam_actions_need_permission_too() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let (user_arn, creds) = create_user_with_key(&iam, &format!("no-iam-{p}"), None).await;
    let as_user = server.iam_client_as(&creds);
    let target = format!("would-be-{p}");
    let e = expect_err!(as_user.create_user().user_name(&target).send().await);
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(
            &user_arn,
            "iam:CreateUser",
            Some(&format!("arn:aws:iam::{DEV_ACCOUNT}:user/{target}")),
        ),
    );
    let e = expect_err!(as_user.list_users().send().await);
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(
            &user_arn,
            "iam:ListUsers",
            Some(&format!("arn:aws:iam::{DEV_ACCOUNT}:user/")),
        ),
    );
    // A user allowed iam:* on users/* may then do it.
    iam.put_user_policy()
        .user_name(format!("no-iam-{p}"))
        .policy_name("user-admin")
        .policy_document(policy_document(&[statement(
            "Allow",
            &["iam:CreateUser", "iam:DeleteUser"],
            &[&format!("arn:aws:iam::{DEV_ACCOUNT}:user/would-be-*")],
        )]))
        .send()
        .await
        .expect("PutUserPolicy");
    as_user
        .create_user()
        .user_name(&target)
        .send()
        .await
        .expect("CreateUser");
    as_user
        .delete_user()
        .user_name(&target)
        .send()
        .await
        .expect("DeleteUser");
}

#[tokio::test]
async fn trust_policy_does_not_trust_a_recreated_user() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let user = format!("recreated-{p}");
    let (user_arn, first) = create_user_with_key(&iam, &user, None).await;
    let role_arn = create_role_with_policy(
        &iam,
        &format!("trusts-one-user-{p}"),
        &trust_policy(&[&user_arn]),
        None,
    )
    .await;
    assume_role(&server.sts_client_as(&first), &role_arn, "original").await;

    iam.delete_access_key()
        .user_name(&user)
        .access_key_id(&first.access_key_id)
        .send()
        .await
        .expect("DeleteAccessKey");
    iam.delete_user()
        .user_name(&user)
        .send()
        .await
        .expect("DeleteUser");
    // Same name, same ARN, but a different principal: the trust policy named the old one.
    let (again_arn, second) = create_user_with_key(&iam, &user, None).await;
    assert_eq!(again_arn, user_arn);
    let e = expect_err!(
        server
            .sts_client_as(&second)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("impostor")
            .send()
            .await
    );
    assert_eq!(e.meta().code(), Some("AccessDenied"), "{e:?}");
    let message = e.meta().message().unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn delete_user_with_an_access_key_is_a_conflict() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let user = format!("has-key-{}", short_id());
    create_user_with_key(&iam, &user, None).await;
    let e = expect_err!(iam.delete_user().user_name(&user).send().await);
    assert_error(
        &e,
        "DeleteConflict",
        "Cannot delete entity, must delete access keys first.",
    );
}

#[tokio::test]
async fn get_session_token_credentials_cannot_call_iam_without_mfa() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let (user_arn, user) = create_user_with_key(
        &iam,
        &format!("no-mfa-{}", short_id()),
        Some(&policy_document(&[statement("Allow", &["iam:*"], &["*"])])),
    )
    .await;
    server
        .iam_client_as(&user)
        .list_users()
        .send()
        .await
        .expect("the long-term key may call IAM");
    let session = TestCredentials::from(
        server
            .sts_client_as(&user)
            .get_session_token()
            .send()
            .await
            .expect("GetSessionToken")
            .credentials
            .as_ref()
            .expect("Credentials"),
    );
    let e = expect_err!(server.iam_client_as(&session).list_users().send().await);
    assert_error(&e, "InvalidClientTokenId", BAD_SESSION_TOKEN);
    // STS GetCallerIdentity stays available to the session.
    let who = server
        .sts_client_as(&session)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(who.arn.as_deref(), Some(user_arn.as_str()));
}

/// Seconds from now until `expiration`.
fn seconds_left(expiration: &aws_smithy_types::DateTime) -> i64 {
    expiration.secs() - kinko_tests::now_secs()
}

#[tokio::test]
async fn temporary_credential_default_and_capped_durations() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let role_arn = create_role_with_policy(
        &iam,
        &format!("default-duration-{p}"),
        &trust_policy(&[&root_arn()]),
        None,
    )
    .await;
    let (_, user) = assuming_user(&iam, &role_arn).await;
    let near = |left: i64, want: i64| (want - 10..=want).contains(&left);

    let out = server
        .sts_client_as(&user)
        .get_session_token()
        .send()
        .await
        .expect("GetSessionToken for a user");
    let left = seconds_left(&out.credentials.expect("Credentials").expiration);
    assert!(
        near(left, 43_200),
        "a user's session lasts 12 hours by default, got {left} s"
    );

    let out = server
        .sts_client()
        .get_session_token()
        .send()
        .await
        .expect("GetSessionToken for root");
    let left = seconds_left(&out.credentials.expect("Credentials").expiration);
    assert!(
        near(left, 3_600),
        "a root session lasts 1 hour by default, got {left} s"
    );

    // Longer than an hour for the account owner: the session gets one hour.
    let out = server
        .sts_client()
        .get_session_token()
        .duration_seconds(7_200)
        .send()
        .await
        .expect("GetSessionToken for root asking for 2 hours");
    let left = seconds_left(&out.credentials.expect("Credentials").expiration);
    assert!(
        near(left, 3_600),
        "a root session is capped at 1 hour, got {left} s"
    );

    let out = server
        .sts_client_as(&user)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("default")
        .send()
        .await
        .expect("AssumeRole");
    let left = seconds_left(&out.credentials.expect("Credentials").expiration);
    assert!(
        near(left, 3_600),
        "a role session lasts 1 hour by default, got {left} s"
    );
}
