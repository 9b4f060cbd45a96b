//! Explicit denies (identity, group and session policies) and what caps an allow: permissions
//! boundaries of users and roles, session policies (inline and managed).

use aws_sdk_sts::types::PolicyDescriptorType;
use kinko_tests::*;

use crate::*;

fn everything() -> String {
    allow(&["secretsmanager:*"], &["*"])
}

#[tokio::test]
async fn explicit_deny_in_an_identity_policy_wins_over_allow() {
    let server = server();
    let (p, name, _) = scoped_secret("denied", "v").await;
    let deny = statement(
        "Deny",
        &["secretsmanager:GetSecretValue"],
        &[&secret_pattern(&format!("{p}/denied-*"))],
    );
    let policy = policy_document(&[statement("Allow", &["secretsmanager:*"], &["*"]), deny]);
    let user = server.user("deny", Some(&policy)).await;
    user.sm().describe(&name).await;
    assert_read_denied(&user, &name, Denial::ExplicitIdentity).await;
}

#[tokio::test]
async fn explicit_deny_from_a_group_policy() {
    let (server, iam) = (server(), server().iam_client());
    let (p, name, _) = scoped_secret("group-denied", "v").await;
    let user = server.user("grouped", Some(&everything())).await;
    let group = format!("no-values-{p}");
    ok(iam.create_group().group_name(&group).send().await);
    let deny = policy_document(&[statement("Deny", &["secretsmanager:GetSecretValue"], &["*"])]);
    let req = iam
        .put_group_policy()
        .group_name(&group)
        .policy_name("deny-values");
    ok(req.policy_document(deny).send().await);
    assert_reads(&user, &name, "allowed before joining the group").await;
    let req = iam.add_user_to_group().group_name(&group);
    ok(req.user_name(&user.name).send().await);
    assert_read_denied(&user, &name, Denial::ExplicitIdentity).await;
}

/// A boundary allowing DescribeSecret only caps a user allowed everything, until removed.
#[tokio::test]
async fn permissions_boundary_caps_a_user() {
    let (server, iam) = (server(), server().iam_client());
    let (p, name, _) = scoped_secret("bounded", "v").await;
    let describe_only = allow(&["secretsmanager:DescribeSecret"], &["*"]);
    let req = iam.create_policy().policy_name(format!("describe-only-{p}"));
    let boundary = ok(req.policy_document(describe_only).send().await).policy;
    let boundary = boundary.and_then(|p| p.arn).expect("policy ARN");
    let user = server.user("bounded", Some(&everything())).await;
    assert_reads(&user, &name, "allowed without a boundary").await;
    let req = iam.put_user_permissions_boundary().user_name(&user.name);
    ok(req.permissions_boundary(&boundary).send().await);
    user.sm().describe(&name).await;
    assert_read_denied(&user, &name, Denial::NoBoundary).await;
    let req = iam.delete_user_permissions_boundary();
    ok(req.user_name(&user.name).send().await);
    assert_reads(&user, &name, "allowed again once the boundary is removed").await;
}

/// A role allowed everything, and a user allowed to assume it.
async fn broad_role(prefix: &str, p: &str) -> (String, String, Principal<'static>) {
    let role_name = format!("{prefix}-{p}");
    let role = server()
        .role(&role_name, &trust_account(), Some(&everything()))
        .await;
    let user = server().assumer(&role).await;
    (role_name, role, user)
}

/// An inline session policy allowing DescribeSecret only caps the session; without it the same
/// role reads.
#[tokio::test]
async fn session_policy_caps_an_assumed_role() {
    let (p, name, _) = scoped_secret("session-capped", "v").await;
    let (role_name, role, user) = broad_role("broad", &p).await;
    let req = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("capped");
    let out = req
        .policy(allow(&["secretsmanager:DescribeSecret"], &["*"]))
        .send()
        .await;
    let session = TestCredentials::from(ok(out).credentials.as_ref().expect("Credentials"));
    let app = server().client_as(&session);
    app.describe(&name).await;
    let session_arn = session_arn(DEV_ACCOUNT, &role_name, "capped");
    let got = outcome(app.get_secret_value().secret_id(&name).send().await);
    assert_eq!(got, read_denied(&session_arn, &name, Denial::NoSessionPolicy));
    let full = user.assume(&role, "uncapped").await;
    assert_reads(&full, &name, "without a session policy").await;
}

#[tokio::test]
async fn managed_session_policy_caps_an_assumed_role() {
    let (p, name, _) = scoped_secret("session-arn-capped", "v").await;
    let (role_name, role, user) = broad_role("broad-arn", &p).await;
    let read_only = PolicyDescriptorType::builder().arn("arn:aws:iam::aws:policy/ReadOnlyAccess");
    let req = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("managed-capped");
    let out = ok(req.policy_arns(read_only.build()).send().await);
    let app = server().client_as(&TestCredentials::from(
        out.credentials.as_ref().expect("Credentials"),
    ));
    app.describe(&name).await;
    let session_arn = session_arn(DEV_ACCOUNT, &role_name, "managed-capped");
    let got = outcome(app.get_secret_value().secret_id(&name).send().await);
    assert_eq!(got, read_denied(&session_arn, &name, Denial::NoSessionPolicy));
}

#[tokio::test]
async fn explicit_deny_in_a_session_policy() {
    let (p, name, _) = scoped_secret("session-denied", "v").await;
    let (role_name, role, user) = broad_role("deny-session", &p).await;
    let policy = policy_document(&[
        statement("Allow", &["secretsmanager:*"], &["*"]),
        statement("Deny", &["secretsmanager:GetSecretValue"], &["*"]),
    ]);
    let req = user.sts().assume_role().role_arn(&role).role_session_name("deny");
    let out = ok(req.policy(policy).send().await);
    let app = server().client_as(&TestCredentials::from(
        out.credentials.as_ref().expect("Credentials"),
    ));
    let session_arn = session_arn(DEV_ACCOUNT, &role_name, "deny");
    let got = outcome(app.get_secret_value().secret_id(&name).send().await);
    assert_eq!(got, read_denied(&session_arn, &name, Denial::ExplicitSession));
}

#[tokio::test]
async fn permissions_boundary_caps_a_role_session() {
    let (p, name, _) = scoped_secret("role-bounded", "v").await;
    let (_, session) = bounded_role_session(&p).await;
    session.sm().describe(&name).await;
    assert_read_denied(&session, &name, Denial::NoBoundary).await;
}
