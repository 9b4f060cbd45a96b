//! Who may do what within one account, end to end through the official SDKs: IAM users and roles
//! made with the IAM API, temporary credentials from STS, and Secrets Manager requests signed with
//! them. Every denial is checked against AWS's exact `AccessDeniedException` message.

use aws_sdk_iam::Client as IamClient;
use kinko_tests::{
    DEV_ACCOUNT, REGION, TestCredentials, TestServer, assert_error, assume_role, create_role_with_policy,
    create_string_secret, create_user_with_key, denied_message, expect_err, no_identity_policy,
    policy_document, short_id, statement, trust_policy,
};
use serde_json::json;

const ACCESS_DENIED: &str = "AccessDeniedException";

fn root_arn() -> String {
    format!("arn:aws:iam::{DEV_ACCOUNT}:root")
}

fn secret_pattern(name_prefix: &str) -> String {
    format!("arn:aws:secretsmanager:{REGION}:{DEV_ACCOUNT}:secret:{name_prefix}")
}

/// A user allowed `sts:AssumeRole` on `role_arn` (and nothing else), with an access key.
async fn assuming_user(iam: &IamClient, role_arn: &str) -> (String, TestCredentials) {
    let policy = policy_document(&[statement("Allow", &["sts:AssumeRole"], &[role_arn])]);
    create_user_with_key(iam, &format!("assumer-{}", short_id()), Some(&policy)).await
}

// ---------------------------------------------------------------------------------------------
// A developer role scoped to dev/azure-*
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn developer_role_reads_only_its_secret() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let azure = format!("{p}/dev/azure");
    let (azure_arn, _) =
        create_string_secret(&sm, &azure, "DefaultEndpointsProtocol=https;AccountName=dev").await;
    // Same prefix, more than six characters after "dev/azure-": outside `dev/azure-??????`.
    let (wider_arn, _) = create_string_secret(&sm, &format!("{p}/dev/azure-storage"), "other").await;
    let (prod_arn, _) = create_string_secret(&sm, &format!("{p}/prod/azure"), "prod").await;

    let role_name = format!("dev-app-{p}");
    let role_policy = policy_document(&[statement(
        "Allow",
        &["secretsmanager:GetSecretValue"],
        &[&secret_pattern(&format!("{p}/dev/azure-??????"))],
    )]);
    let role_arn = create_role_with_policy(
        &iam,
        &role_name,
        &trust_policy(&[&root_arn()]),
        Some(&role_policy),
    )
    .await;
    assert_eq!(role_arn, format!("arn:aws:iam::{DEV_ACCOUNT}:role/{role_name}"));
    let role_id = iam
        .get_role()
        .role_name(&role_name)
        .send()
        .await
        .expect("GetRole")
        .role
        .expect("role")
        .role_id;
    assert!(role_id.starts_with("AROA"), "{role_id}");

    let (_, user_creds) = assuming_user(&iam, &role_arn).await;
    let out = server
        .sts_client_as(&user_creds)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("alice-laptop")
        .send()
        .await
        .expect("AssumeRole");
    let session_arn = format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/alice-laptop");
    let assumed = out.assumed_role_user.expect("AssumedRoleUser");
    assert_eq!(assumed.arn, session_arn);
    assert_eq!(assumed.assumed_role_id, format!("{role_id}:alice-laptop"));
    let creds = out.credentials.expect("Credentials");
    assert!(creds.access_key_id.starts_with("ASIA"), "{}", creds.access_key_id);
    assert_eq!(creds.access_key_id.len(), 20);
    assert_eq!(creds.secret_access_key.len(), 40);
    let session = TestCredentials::from(&creds);

    let who = server
        .sts_client_as(&session)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(who.arn.as_deref(), Some(session_arn.as_str()));
    assert_eq!(
        who.user_id.as_deref(),
        Some(format!("{role_id}:alice-laptop").as_str())
    );
    assert_eq!(who.account.as_deref(), Some(DEV_ACCOUNT));

    let app = server.client_as(&session);
    let value = app
        .get_secret_value()
        .secret_id(&azure)
        .send()
        .await
        .expect("GetSecretValue of dev/azure with the role session");
    assert_eq!(
        value.secret_string.as_deref(),
        Some("DefaultEndpointsProtocol=https;AccountName=dev")
    );
    assert_eq!(value.arn.as_deref(), Some(azure_arn.as_str()));

    let e = expect_err!(app.describe_secret().secret_id(&azure).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&session_arn, "secretsmanager:DescribeSecret", Some(&azure_arn)),
    );
    for (id, arn) in [
        (format!("{p}/dev/azure-storage"), &wider_arn),
        (format!("{p}/prod/azure"), &prod_arn),
    ] {
        let e = expect_err!(app.get_secret_value().secret_id(&id).send().await);
        assert_error(
            &e,
            ACCESS_DENIED,
            &no_identity_policy(&session_arn, "secretsmanager:GetSecretValue", Some(arn)),
        );
    }
    let e = expect_err!(
        app.put_secret_value()
            .secret_id(&azure)
            .secret_string("x")
            .send()
            .await
    );
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&session_arn, "secretsmanager:PutSecretValue", Some(&azure_arn)),
    );
    let e = expect_err!(app.list_secrets().send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&session_arn, "secretsmanager:ListSecrets", None),
    );
}

#[tokio::test]
async fn assume_role_needs_an_identity_policy_when_the_trust_names_the_account() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let role_arn = create_role_with_policy(
        &iam,
        &format!("acct-trust-{p}"),
        &trust_policy(&[&root_arn()]),
        None,
    )
    .await;
    let (user_arn, creds) = create_user_with_key(&iam, &format!("no-assume-{p}"), None).await;
    let e = expect_err!(
        server
            .sts_client_as(&creds)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("s1")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(&user_arn, "sts:AssumeRole", Some(&role_arn)),
    );
}

#[tokio::test]
async fn trust_policy_naming_the_user_is_enough_in_the_same_account() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let (user_arn, creds) = create_user_with_key(&iam, &format!("named-{p}"), None).await;
    let role_name = format!("names-user-{p}");
    let role_arn = create_role_with_policy(&iam, &role_name, &trust_policy(&[&user_arn]), None).await;
    let (_, session_arn) = assume_role(&server.sts_client_as(&creds), &role_arn, "direct").await;
    assert_eq!(
        session_arn,
        format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/direct")
    );

    // Another user, even one allowed sts:AssumeRole, isn't trusted by the role.
    let (other_arn, other) = assuming_user(&iam, &role_arn).await;
    let e = expect_err!(
        server
            .sts_client_as(&other)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("intruder")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &denied_message(
            &other_arn,
            "sts:AssumeRole",
            Some(&role_arn),
            "because no role trust policy allows the sts:AssumeRole action",
        ),
    );
}

#[tokio::test]
async fn assume_role_on_a_missing_role_is_access_denied() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let missing = format!("arn:aws:iam::{DEV_ACCOUNT}:role/missing-{}", short_id());
    let (user_arn, creds) = assuming_user(&iam, &missing).await;
    let e = expect_err!(
        server
            .sts_client_as(&creds)
            .assume_role()
            .role_arn(&missing)
            .role_session_name("s1")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &format!("User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {missing}"),
    );
}

// ---------------------------------------------------------------------------------------------
// An application user with read-only access
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn read_only_user_reads_json_secret_by_name_and_arn_but_cannot_write() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/app/db");
    let value = json!({"username": "app", "password": "s3cr3t!;=", "host": "db.internal", "port": 5432});
    let (arn, _) = create_string_secret(&sm, &name, &value.to_string()).await;

    let policy_name = format!("secrets-read-{p}");
    let policy_arn = iam
        .create_policy()
        .policy_name(&policy_name)
        .policy_document(policy_document(&[statement(
            "Allow",
            &["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            &[&secret_pattern(&format!("{p}/app/*"))],
        )]))
        .send()
        .await
        .expect("CreatePolicy")
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    assert_eq!(
        policy_arn,
        format!("arn:aws:iam::{DEV_ACCOUNT}:policy/{policy_name}")
    );
    let (user_arn, creds) = create_user_with_key(&iam, &format!("app-{p}"), None).await;
    assert_eq!(user_arn, format!("arn:aws:iam::{DEV_ACCOUNT}:user/app-{p}"));
    iam.attach_user_policy()
        .user_name(format!("app-{p}"))
        .policy_arn(&policy_arn)
        .send()
        .await
        .expect("AttachUserPolicy");
    assert!(creds.access_key_id.starts_with("AKIA"), "{}", creds.access_key_id);

    let who = server
        .sts_client_as(&creds)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(who.arn.as_deref(), Some(user_arn.as_str()));
    assert!(
        who.user_id.as_deref().is_some_and(|u| u.starts_with("AIDA")),
        "{who:?}"
    );

    let app = server.client_as(&creds);
    for id in [&name, &arn] {
        let out = app
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue {id}: {e:?}"));
        let parsed: serde_json::Value =
            serde_json::from_str(out.secret_string.as_deref().expect("SecretString")).expect("JSON value");
        assert_eq!(parsed["username"], "app");
        assert_eq!(parsed["password"], "s3cr3t!;=");
        assert_eq!(parsed["port"], 5432);
    }
    let d = app
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(d.arn.as_deref(), Some(arn.as_str()));

    let e = expect_err!(
        app.put_secret_value()
            .secret_id(&name)
            .secret_string("{}")
            .send()
            .await
    );
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:PutSecretValue", Some(&arn)),
    );
    let e = expect_err!(app.delete_secret().secret_id(&arn).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:DeleteSecret", Some(&arn)),
    );
    let e = expect_err!(app.list_secrets().send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:ListSecrets", None),
    );
    // A name that resolves to nothing is reported as passed: AWS authorizes before looking it up.
    let ghost = format!("{p}/nothing/here");
    let e = expect_err!(app.get_secret_value().secret_id(&ghost).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:GetSecretValue", Some(&ghost)),
    );
    let e = expect_err!(
        app.create_secret()
            .name(format!("{p}/app/new"))
            .secret_string("x")
            .send()
            .await
    );
    let (code, message) = (e.meta().code(), e.meta().message().unwrap_or_default());
    assert_eq!(code, Some(ACCESS_DENIED), "{e:?}");
    let prefix = format!(
        "User: {user_arn} is not authorized to perform: secretsmanager:CreateSecret on resource: {}",
        secret_pattern(&format!("{p}/app/new-"))
    );
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        message.ends_with(" because no identity-based policy allows the secretsmanager:CreateSecret action"),
        "{message}"
    );
}

#[tokio::test]
async fn list_secrets_with_a_star_resource_lists() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/listed");
    create_string_secret(&sm, &name, "v").await;
    let policy = policy_document(&[statement("Allow", &["secretsmanager:ListSecrets"], &["*"])]);
    let (_, creds) = create_user_with_key(&iam, &format!("lister-{p}"), Some(&policy)).await;
    let out = server
        .client_as(&creds)
        .list_secrets()
        .filters(
            aws_sdk_secretsmanager::types::Filter::builder()
                .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                .values(&name)
                .build(),
        )
        .send()
        .await
        .expect("ListSecrets");
    let names: Vec<_> = out
        .secret_list()
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    assert_eq!(names, [name.as_str()]);
}

#[tokio::test]
async fn aws_managed_read_only_access_describes_but_does_not_read_values() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/ro");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let user = format!("ro-{p}");
    let (user_arn, creds) = create_user_with_key(&iam, &user, None).await;
    iam.attach_user_policy()
        .user_name(&user)
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .expect("AttachUserPolicy ReadOnlyAccess");
    let app = server.client_as(&creds);
    app.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    app.list_secret_version_ids()
        .secret_id(&name)
        .send()
        .await
        .expect("ListSecretVersionIds");
    app.list_secrets().send().await.expect("ListSecrets");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:GetSecretValue", Some(&arn)),
    );
}

// ---------------------------------------------------------------------------------------------
// Two workloads, two roles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn two_workloads_two_roles() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/MySecret");
    let (arn, _) = create_string_secret(&sm, &name, "only-for-a").await;
    let (_, creds) = create_user_with_key(
        &iam,
        &format!("workloads-{p}"),
        Some(&policy_document(&[statement(
            "Allow",
            &["sts:AssumeRole"],
            &[&format!("arn:aws:iam::{DEV_ACCOUNT}:role/workload-*-{p}")],
        )])),
    )
    .await;
    let reader = create_role_with_policy(
        &iam,
        &format!("workload-a-{p}"),
        &trust_policy(&[&root_arn()]),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:GetSecretValue"],
            &[&arn],
        )])),
    )
    .await;
    let other = create_role_with_policy(
        &iam,
        &format!("workload-b-{p}"),
        &trust_policy(&[&root_arn()]),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:GetSecretValue"],
            &[&secret_pattern(&format!("{p}/OtherSecret-*"))],
        )])),
    )
    .await;
    let sts = server.sts_client_as(&creds);
    let (a, _) = assume_role(&sts, &reader, "worker-a").await;
    let (b, b_arn) = assume_role(&sts, &other, "worker-b").await;
    let out = server
        .client_as(&a)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("workload A reads MySecret");
    assert_eq!(out.secret_string.as_deref(), Some("only-for-a"));
    let e = expect_err!(
        server
            .client_as(&b)
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
    );
    assert_error(
        &e,
        ACCESS_DENIED,
        &format!(
            "User: arn:aws:sts::{DEV_ACCOUNT}:assumed-role/workload-b-{p}/worker-b is not authorized to perform: \
             secretsmanager:GetSecretValue on resource: {arn} because no identity-based policy allows the \
             secretsmanager:GetSecretValue action"
        ),
    );
    assert_eq!(
        b_arn,
        format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/workload-b-{p}/worker-b")
    );
}

// ---------------------------------------------------------------------------------------------
// Explicit denies, permissions boundaries, session policies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn explicit_deny_in_an_identity_policy_wins_over_allow() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/denied");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let policy = policy_document(&[
        statement("Allow", &["secretsmanager:*"], &["*"]),
        statement(
            "Deny",
            &["secretsmanager:GetSecretValue"],
            &[&secret_pattern(&format!("{p}/denied-*"))],
        ),
    ]);
    let (user_arn, creds) = create_user_with_key(&iam, &format!("deny-{p}"), Some(&policy)).await;
    let app = server.client_as(&creds);
    app.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret is allowed");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &user_arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "with an explicit deny in an identity-based policy",
        ),
    );
}

#[tokio::test]
async fn explicit_deny_from_a_group_policy() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/group-denied");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let user = format!("grouped-{p}");
    let (user_arn, creds) = create_user_with_key(
        &iam,
        &user,
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:*"],
            &["*"],
        )])),
    )
    .await;
    let group = format!("no-values-{p}");
    iam.create_group()
        .group_name(&group)
        .send()
        .await
        .expect("CreateGroup");
    iam.put_group_policy()
        .group_name(&group)
        .policy_name("deny-values")
        .policy_document(policy_document(&[statement(
            "Deny",
            &["secretsmanager:GetSecretValue"],
            &["*"],
        )]))
        .send()
        .await
        .expect("PutGroupPolicy");
    let app = server.client_as(&creds);
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("allowed before joining the group");
    iam.add_user_to_group()
        .group_name(&group)
        .user_name(&user)
        .send()
        .await
        .expect("AddUserToGroup");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &user_arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "with an explicit deny in an identity-based policy",
        ),
    );
}

#[tokio::test]
async fn permissions_boundary_caps_a_user() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/bounded");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let boundary_arn = iam
        .create_policy()
        .policy_name(format!("describe-only-{p}"))
        .policy_document(policy_document(&[statement(
            "Allow",
            &["secretsmanager:DescribeSecret"],
            &["*"],
        )]))
        .send()
        .await
        .expect("CreatePolicy")
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    let user = format!("bounded-{p}");
    let (user_arn, creds) = create_user_with_key(
        &iam,
        &user,
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:*"],
            &["*"],
        )])),
    )
    .await;
    let app = server.client_as(&creds);
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("allowed without a boundary");
    iam.put_user_permissions_boundary()
        .user_name(&user)
        .permissions_boundary(&boundary_arn)
        .send()
        .await
        .expect("PutUserPermissionsBoundary");
    app.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret is within the boundary");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &user_arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "because no permissions boundary allows the secretsmanager:GetSecretValue action",
        ),
    );
    iam.delete_user_permissions_boundary()
        .user_name(&user)
        .send()
        .await
        .expect("DeleteUserPermissionsBoundary");
    app.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("allowed again once the boundary is removed");
}

#[tokio::test]
async fn session_policy_caps_an_assumed_role() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/session-capped");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let role_name = format!("broad-{p}");
    let role_arn = create_role_with_policy(
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
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let sts = server.sts_client_as(&creds);
    let out = sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("capped")
        .policy(policy_document(&[statement(
            "Allow",
            &["secretsmanager:DescribeSecret"],
            &["*"],
        )]))
        .send()
        .await
        .expect("AssumeRole with a session policy");
    let session = TestCredentials::from(out.credentials.as_ref().expect("Credentials"));
    let app = server.client_as(&session);
    app.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret is within the session policy");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/capped"),
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "because no session policy allows the secretsmanager:GetSecretValue action",
        ),
    );

    // Without a session policy the same role reads the value.
    let (full, _) = assume_role(&sts, &role_arn, "uncapped").await;
    server
        .client_as(&full)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue without a session policy");
}

#[tokio::test]
async fn managed_session_policy_caps_an_assumed_role() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/session-arn-capped");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let role_name = format!("broad-arn-{p}");
    let role_arn = create_role_with_policy(
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
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let out = server
        .sts_client_as(&creds)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("managed-capped")
        .policy_arns(
            aws_sdk_sts::types::PolicyDescriptorType::builder()
                .arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
                .build(),
        )
        .send()
        .await
        .expect("AssumeRole with a managed session policy");
    let app = server.client_as(&TestCredentials::from(
        out.credentials.as_ref().expect("Credentials"),
    ));
    app.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/managed-capped"),
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "because no session policy allows the secretsmanager:GetSecretValue action",
        ),
    );
}

#[tokio::test]
async fn explicit_deny_in_a_session_policy() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/session-denied");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let role_name = format!("deny-session-{p}");
    let role_arn = create_role_with_policy(
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
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let out = server
        .sts_client_as(&creds)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("deny")
        .policy(policy_document(&[
            statement("Allow", &["secretsmanager:*"], &["*"]),
            statement("Deny", &["secretsmanager:GetSecretValue"], &["*"]),
        ]))
        .send()
        .await
        .expect("AssumeRole");
    let app = server.client_as(&TestCredentials::from(
        out.credentials.as_ref().expect("Credentials"),
    ));
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/deny"),
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "with an explicit deny in a session policy",
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Secret resource policies
// ---------------------------------------------------------------------------------------------

fn resource_statement(effect: &str, principal: &str, actions: &[&str]) -> serde_json::Value {
    json!({"Effect": effect, "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"})
}

async fn put_resource_policy(sm: &aws_sdk_secretsmanager::Client, id: &str, doc: &str) {
    sm.put_resource_policy()
        .secret_id(id)
        .resource_policy(doc)
        .send()
        .await
        .expect("PutResourcePolicy");
}

#[tokio::test]
async fn resource_policy_naming_a_user_grants_without_an_identity_policy() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/shared");
    let (arn, _) = create_string_secret(&sm, &name, "by-resource-policy").await;
    let (user_arn, creds) = create_user_with_key(&iam, &format!("rp-user-{p}"), None).await;
    let app = server.client_as(&creds);
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:GetSecretValue", Some(&arn)),
    );
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Allow",
            &user_arn,
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    let out = app
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue granted by the resource policy");
    assert_eq!(out.secret_string.as_deref(), Some("by-resource-policy"));
    let e = expect_err!(app.describe_secret().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:DescribeSecret", Some(&arn)),
    );
}

#[tokio::test]
async fn resource_policy_naming_a_role_grants_its_sessions() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/role-shared");
    create_string_secret(&sm, &name, "for-the-role").await;
    let role_arn =
        create_role_with_policy(&iam, &format!("bare-{p}"), &trust_policy(&[&root_arn()]), None).await;
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Allow",
            &role_arn,
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let (session, _) = assume_role(&server.sts_client_as(&creds), &role_arn, "bare").await;
    let out = server
        .client_as(&session)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue granted to the role by the resource policy");
    assert_eq!(out.secret_string.as_deref(), Some("for-the-role"));
}

#[tokio::test]
async fn resource_policy_naming_the_account_only_delegates() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/account-shared");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Allow",
            &root_arn(),
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    let (user_arn, creds) = create_user_with_key(&iam, &format!("delegated-{p}"), None).await;
    let e = expect_err!(
        server
            .client_as(&creds)
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
    );
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&user_arn, "secretsmanager:GetSecretValue", Some(&arn)),
    );
}

#[tokio::test]
async fn resource_policy_explicit_deny_beats_an_identity_allow() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/guarded");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let allow_all = policy_document(&[statement("Allow", &["secretsmanager:*"], &["*"])]);
    let (blocked_arn, blocked) = create_user_with_key(&iam, &format!("blocked-{p}"), Some(&allow_all)).await;
    let (_, fine) = create_user_with_key(&iam, &format!("fine-{p}"), Some(&allow_all)).await;
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Deny",
            &blocked_arn,
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    let e = expect_err!(
        server
            .client_as(&blocked)
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
    );
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &blocked_arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "with an explicit deny in a resource-based policy",
        ),
    );
    server
        .client_as(&blocked)
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("the deny names GetSecretValue only");
    server
        .client_as(&fine)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("another user is not denied");
}

#[tokio::test]
async fn resource_policy_deny_applies_to_the_root_user_too() {
    let server = TestServer::start();
    let sm = server.client();
    let p = short_id();
    let name = format!("{p}/root-denied");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Deny",
            "*",
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    let e = expect_err!(sm.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &root_arn(),
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "with an explicit deny in a resource-based policy",
        ),
    );
    sm.delete_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteResourcePolicy");
    sm.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("readable once the policy is gone");
}

// ---------------------------------------------------------------------------------------------
// Policy variables and attribute-based access
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn policy_variables_scope_each_user_to_their_own_prefix() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let (alice_name, bob_name) = (format!("alice-{p}"), format!("bob-{p}"));
    let (alice_secret, _) = create_string_secret(&sm, &format!("{alice_name}/token"), "alice").await;
    let (bob_secret, _) = create_string_secret(&sm, &format!("{bob_name}/token"), "bob").await;
    let group = format!("per-user-{p}");
    iam.create_group()
        .group_name(&group)
        .send()
        .await
        .expect("CreateGroup");
    iam.put_group_policy()
        .group_name(&group)
        .policy_name("own-prefix")
        .policy_document(policy_document(&[statement(
            "Allow",
            &["secretsmanager:GetSecretValue"],
            &[&secret_pattern("${aws:username}/*")],
        )]))
        .send()
        .await
        .expect("PutGroupPolicy");
    let (alice_arn, alice) = create_user_with_key(&iam, &alice_name, None).await;
    let (_, bob) = create_user_with_key(&iam, &bob_name, None).await;
    for user in [&alice_name, &bob_name] {
        iam.add_user_to_group()
            .group_name(&group)
            .user_name(user)
            .send()
            .await
            .expect("AddUserToGroup");
    }
    let alice_app = server.client_as(&alice);
    let out = alice_app
        .get_secret_value()
        .secret_id(&alice_secret)
        .send()
        .await
        .expect("alice reads her own secret");
    assert_eq!(out.secret_string.as_deref(), Some("alice"));
    let out = server
        .client_as(&bob)
        .get_secret_value()
        .secret_id(&bob_secret)
        .send()
        .await
        .expect("bob reads his own secret");
    assert_eq!(out.secret_string.as_deref(), Some("bob"));
    let e = expect_err!(alice_app.get_secret_value().secret_id(&bob_secret).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&alice_arn, "secretsmanager:GetSecretValue", Some(&bob_secret)),
    );
}

#[tokio::test]
async fn session_tags_drive_attribute_based_access() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let tagged = |team: &str| {
        sm.create_secret()
            .name(format!("{p}/{team}/api-key"))
            .secret_string(team)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("team")
                    .value(team)
                    .build(),
            )
            .send()
    };
    let blue = tagged("blue").await.expect("CreateSecret blue").arn.expect("ARN");
    let red = tagged("red").await.expect("CreateSecret red").arn.expect("ARN");
    let role_name = format!("abac-{p}");
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"AWS": root_arn()},
        "Action": ["sts:AssumeRole", "sts:TagSession"]
    })]);
    let role_arn = create_role_with_policy(
        &iam,
        &role_name,
        &trust,
        Some(&policy_document(&[json!({
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
            "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}"}}
        })])),
    )
    .await;
    let (_, creds) = create_user_with_key(
        &iam,
        &format!("abac-user-{p}"),
        Some(&policy_document(&[statement(
            "Allow",
            &["sts:AssumeRole", "sts:TagSession"],
            &[&role_arn],
        )])),
    )
    .await;
    let out = server
        .sts_client_as(&creds)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("blue-team")
        .tags(
            aws_sdk_sts::types::Tag::builder()
                .key("team")
                .value("blue")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("AssumeRole with a session tag");
    let app = server.client_as(&TestCredentials::from(
        out.credentials.as_ref().expect("Credentials"),
    ));
    let v = app
        .get_secret_value()
        .secret_id(&blue)
        .send()
        .await
        .expect("the blue session reads the blue secret");
    assert_eq!(v.secret_string.as_deref(), Some("blue"));
    let e = expect_err!(app.get_secret_value().secret_id(&red).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(
            &format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/blue-team"),
            "secretsmanager:GetSecretValue",
            Some(&red),
        ),
    );
}

#[tokio::test]
async fn session_tags_need_tag_session_in_the_trust_policy() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let role_arn =
        create_role_with_policy(&iam, &format!("no-tags-{p}"), &trust_policy(&[&root_arn()]), None).await;
    let (user_arn, creds) = create_user_with_key(
        &iam,
        &format!("tagger-{p}"),
        Some(&policy_document(&[statement(
            "Allow",
            &["sts:AssumeRole", "sts:TagSession"],
            &[&role_arn],
        )])),
    )
    .await;
    let sts = server.sts_client_as(&creds);
    let e = expect_err!(
        sts.assume_role()
            .role_arn(&role_arn)
            .role_session_name("tagged")
            .tags(
                aws_sdk_sts::types::Tag::builder()
                    .key("team")
                    .value("blue")
                    .build()
                    .expect("tag")
            )
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &denied_message(
            &user_arn,
            "sts:TagSession",
            Some(&role_arn),
            "because no role trust policy allows the sts:TagSession action",
        ),
    );
    assume_role(&sts, &role_arn, "untagged").await;
}

// ---------------------------------------------------------------------------------------------
// Role permissions boundaries and resource policies
// ---------------------------------------------------------------------------------------------

/// A role allowed `secretsmanager:*` but capped by a boundary allowing only DescribeSecret; returns
/// the role ARN and a session of it (with its ARN).
async fn bounded_role_session(server: &TestServer, p: &str) -> (String, TestCredentials, String) {
    let iam = server.iam_client();
    let boundary = iam
        .create_policy()
        .policy_name(format!("role-boundary-{p}"))
        .policy_document(policy_document(&[statement(
            "Allow",
            &["secretsmanager:DescribeSecret"],
            &["*"],
        )]))
        .send()
        .await
        .expect("CreatePolicy")
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    let role_name = format!("bounded-role-{p}");
    let role_arn = create_role_with_policy(
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
    iam.put_role_permissions_boundary()
        .role_name(&role_name)
        .permissions_boundary(&boundary)
        .send()
        .await
        .expect("PutRolePermissionsBoundary");
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let (session, session_arn) = assume_role(&server.sts_client_as(&creds), &role_arn, "bounded").await;
    (role_arn, session, session_arn)
}

#[tokio::test]
async fn permissions_boundary_caps_a_role_session() {
    let server = TestServer::start();
    let sm = server.client();
    let p = short_id();
    let name = format!("{p}/role-bounded");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let (_, session, session_arn) = bounded_role_session(server, &p).await;
    let app = server.client_as(&session);
    app.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret within the boundary");
    let e = expect_err!(app.get_secret_value().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &session_arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "because no permissions boundary allows the secretsmanager:GetSecretValue action",
        ),
    );
}

#[tokio::test]
async fn resource_policy_naming_the_role_is_still_capped_by_its_boundary() {
    let server = TestServer::start();
    let sm = server.client();
    let p = short_id();
    let name = format!("{p}/role-arn-grant");
    let (arn, _) = create_string_secret(&sm, &name, "v").await;
    let (role_arn, session, session_arn) = bounded_role_session(server, &p).await;
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Allow",
            &role_arn,
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    let e = expect_err!(
        server
            .client_as(&session)
            .get_secret_value()
            .secret_id(&name)
            .send()
            .await
    );
    assert_error(
        &e,
        ACCESS_DENIED,
        &denied_message(
            &session_arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            "because no permissions boundary allows the secretsmanager:GetSecretValue action",
        ),
    );
}

#[tokio::test]
async fn resource_policy_naming_the_session_is_not_capped_by_the_boundary() {
    let server = TestServer::start();
    let sm = server.client();
    let p = short_id();
    let name = format!("{p}/session-arn-grant");
    create_string_secret(&sm, &name, "for-this-session").await;
    let (_, session, session_arn) = bounded_role_session(server, &p).await;
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Allow",
            &session_arn,
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    let out = server
        .client_as(&session)
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("a resource policy naming the session ARN grants past the boundary");
    assert_eq!(out.secret_string.as_deref(), Some("for-this-session"));
}

// ---------------------------------------------------------------------------------------------
// More principal forms, and per-secret checks in batches
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn role_with_a_path_drops_it_from_the_session_arn() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/pathed");
    let (arn, _) = create_string_secret(&sm, &name, "pathed-value").await;
    let role_name = format!("pathed-{p}");
    let role_arn = iam
        .create_role()
        .role_name(&role_name)
        .path("/team/apps/")
        .assume_role_policy_document(trust_policy(&[DEV_ACCOUNT]))
        .send()
        .await
        .expect("CreateRole with a path")
        .role
        .expect("role")
        .arn;
    assert_eq!(
        role_arn,
        format!("arn:aws:iam::{DEV_ACCOUNT}:role/team/apps/{role_name}")
    );
    // A resource policy naming the role (with its path) grants its sessions.
    put_resource_policy(
        &sm,
        &name,
        &policy_document(&[resource_statement(
            "Allow",
            &role_arn,
            &["secretsmanager:GetSecretValue"],
        )]),
    )
    .await;
    // The trust names the account by its id: the caller needs an identity policy.
    let (_, creds) = assuming_user(&iam, &role_arn).await;
    let (session, session_arn) = assume_role(&server.sts_client_as(&creds), &role_arn, "pathed").await;
    assert_eq!(
        session_arn,
        format!("arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role_name}/pathed")
    );
    let app = server.client_as(&session);
    let out = app
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue through the resource policy");
    assert_eq!(out.secret_string.as_deref(), Some("pathed-value"));
    let e = expect_err!(app.describe_secret().secret_id(&name).send().await);
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&session_arn, "secretsmanager:DescribeSecret", Some(&arn)),
    );
}

#[tokio::test]
async fn batch_get_secret_value_checks_each_secret() {
    let server = TestServer::start();
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let (open, _) = create_string_secret(&sm, &format!("{p}/batch/open"), "open-value").await;
    let (closed, _) = create_string_secret(&sm, &format!("{p}/batch/closed"), "closed-value").await;
    let (user_arn, creds) = create_user_with_key(
        &iam,
        &format!("batch-{p}"),
        Some(&policy_document(&[
            statement("Allow", &["secretsmanager:BatchGetSecretValue"], &["*"]),
            statement("Allow", &["secretsmanager:GetSecretValue"], &[&open]),
        ])),
    )
    .await;
    let out = server
        .client_as(&creds)
        .batch_get_secret_value()
        .secret_id_list(&open)
        .secret_id_list(&closed)
        .send()
        .await
        .expect("BatchGetSecretValue");
    let values: Vec<_> = out
        .secret_values()
        .iter()
        .map(|v| (v.arn.as_deref(), v.secret_string.as_deref()))
        .collect();
    assert_eq!(values, [(Some(open.as_str()), Some("open-value"))]);
    let errors: Vec<_> = out
        .errors()
        .iter()
        .map(|e| {
            (
                e.secret_id.as_deref(),
                e.error_code.as_deref(),
                e.message.as_deref(),
            )
        })
        .collect();
    let message = no_identity_policy(&user_arn, "secretsmanager:GetSecretValue", Some(&closed));
    assert_eq!(
        errors,
        [(Some(closed.as_str()), Some(ACCESS_DENIED), Some(message.as_str()))]
    );
    // Without BatchGetSecretValue itself, the whole call is denied.
    let (reader_arn, reader) = create_user_with_key(
        &iam,
        &format!("no-batch-{p}"),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:GetSecretValue"],
            &["*"],
        )])),
    )
    .await;
    let e = expect_err!(
        server
            .client_as(&reader)
            .batch_get_secret_value()
            .secret_id_list(&open)
            .send()
            .await
    );
    assert_error(
        &e,
        ACCESS_DENIED,
        &no_identity_policy(&reader_arn, "secretsmanager:BatchGetSecretValue", None),
    );
}
