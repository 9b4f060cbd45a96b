//! Secret resource policies in one account: grants to users, roles, sessions and the account,
//! explicit denies (root's too), and permissions boundaries of roles they name.

use kinko_tests::*;

use crate::*;

/// A resource policy of one statement: `effect` GetSecretValue for `principal`.
fn reading(effect: &str, principal: &str) -> String {
    policy_document(&[principal_statement(
        effect,
        principal,
        &["secretsmanager:GetSecretValue"],
    )])
}

#[tokio::test]
async fn resource_policy_naming_a_user_grants_without_an_identity_policy() {
    let (server, sm) = (server(), server().client());
    let name = format!("{}/shared", short_id());
    secret(&name, "by-resource-policy").await;
    let user = server.user("rp-user", None).await;
    let no_policy = Denial::NoIdentityPolicy;
    assert_eq!(read(&user, &name).await, read_denied(&user.arn, &name, no_policy));
    sm.put_policy(&name, &reading("Allow", &user.arn)).await;
    assert_eq!(user.sm().value(&name).await, "by-resource-policy");
    let describe = outcome(user.sm().describe_secret().secret_id(&name).send().await);
    let action = "secretsmanager:DescribeSecret";
    assert_eq!(describe, sm_denied(&user.arn, action, Some(&name), no_policy));
}

#[tokio::test]
async fn resource_policy_naming_a_role_grants_its_sessions() {
    let (server, sm) = (server(), server().client());
    let p = short_id();
    let name = format!("{p}/role-shared");
    secret(&name, "for-the-role").await;
    let role = server.role(&format!("bare-{p}"), &trust_account(), None).await;
    sm.put_policy(&name, &reading("Allow", &role)).await;
    let session = server.assumer(&role).await.assume(&role, "bare").await;
    assert_eq!(session.sm().value(&name).await, "for-the-role");
}

#[tokio::test]
async fn resource_policy_naming_the_account_only_delegates() {
    let (server, sm) = (server(), server().client());
    let name = format!("{}/account-shared", short_id());
    secret(&name, "v").await;
    sm.put_policy(&name, &reading("Allow", &root())).await;
    let user = server.user("delegated", None).await;
    assert_read_denied(&user, &name, Denial::NoIdentityPolicy).await;
}

/// A deny naming one user beats its identity allow, for the action it names only; other users
/// aren't denied.
#[tokio::test]
async fn resource_policy_explicit_deny_beats_an_identity_allow() {
    let (server, sm) = (server(), server().client());
    let name = format!("{}/guarded", short_id());
    secret(&name, "v").await;
    let allow_all = allow(&["secretsmanager:*"], &["*"]);
    let blocked = server.user("blocked", Some(&allow_all)).await;
    let fine = server.user("fine", Some(&allow_all)).await;
    sm.put_policy(&name, &reading("Deny", &blocked.arn)).await;
    let explicit = read_denied(&blocked.arn, &name, Denial::ExplicitResource);
    assert_eq!(read(&blocked, &name).await, explicit);
    blocked.sm().describe(&name).await;
    assert_reads(&fine, &name, "another user is not denied").await;
}

#[tokio::test]
async fn resource_policy_deny_applies_to_the_root_user_too() {
    let (server, sm) = (server(), server().client());
    let name = format!("{}/root-denied", short_id());
    secret(&name, "v").await;
    sm.put_policy(&name, &reading("Deny", "*")).await;
    let root = server.root();
    assert_read_denied(&root, &name, Denial::ExplicitResource).await;
    ok(sm.delete_resource_policy().secret_id(&name).send().await);
    assert_reads(&root, &name, "readable once the policy is gone").await;
}

#[tokio::test]
async fn resource_policy_naming_the_role_is_still_capped_by_its_boundary() {
    let (p, name, _) = scoped_secret("role-arn-grant", "v").await;
    let (role, session) = bounded_role_session(&p).await;
    server()
        .client()
        .put_policy(&name, &reading("Allow", &role))
        .await;
    assert_read_denied(&session, &name, Denial::NoBoundary).await;
}

#[tokio::test]
async fn resource_policy_naming_the_session_is_not_capped_by_the_boundary() {
    let p = short_id();
    let name = format!("{p}/session-arn-grant");
    secret(&name, "for-this-session").await;
    let (_, session) = bounded_role_session(&p).await;
    server()
        .client()
        .put_policy(&name, &reading("Allow", &session.arn))
        .await;
    assert_eq!(session.sm().value(&name).await, "for-this-session");
}
