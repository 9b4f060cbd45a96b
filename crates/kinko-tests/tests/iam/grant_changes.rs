//! Grants change on the very next request: policies detached, deleted or replaced by a new
//! default version, role policies changed under existing sessions, roles deleted and re-created.

use kinko_tests::*;

use crate::*;

#[tokio::test]
async fn detaching_a_policy_stops_granting_on_the_next_request() {
    let (server, iam) = (server(), server().iam_client());
    let (p, name, arn) = scoped_secret("detach", "v").await;
    let req = iam.create_policy().policy_name(format!("reader-{p}"));
    let created = ok(req.policy_document(read_policy(&arn)).send().await).policy;
    let policy_arn = created.and_then(|p| p.arn).expect("policy ARN");
    let user = server.user("detached", None).await;
    let denied = read_denied(&user.arn, &name, Denial::NoIdentityPolicy);
    let attach = || {
        iam.attach_user_policy()
            .user_name(&user.name)
            .policy_arn(&policy_arn)
            .send()
    };
    ok(attach().await);
    assert_reads(&user, &name, "granted once attached").await;
    let detach = iam
        .detach_user_policy()
        .user_name(&user.name)
        .policy_arn(&policy_arn);
    ok(detach.send().await);
    assert_eq!(read(&user, &name).await, denied);

    // An inline policy: deleting it takes effect at once too.
    let inline = iam
        .put_user_policy()
        .user_name(&user.name)
        .policy_name("inline-read");
    ok(inline.policy_document(read_policy(&arn)).send().await);
    assert_reads(&user, &name, "granted by the inline policy").await;
    let delete = iam
        .delete_user_policy()
        .user_name(&user.name)
        .policy_name("inline-read");
    ok(delete.send().await);
    assert_eq!(read(&user, &name).await, denied);

    // A new default version of an attached policy applies at once.
    ok(attach().await);
    assert_reads(&user, &name, "granted again").await;
    let describe_only = allow(&["secretsmanager:DescribeSecret"], &[&arn]);
    let version = iam
        .create_policy_version()
        .policy_arn(&policy_arn)
        .policy_document(describe_only);
    ok(version.set_as_default(true).send().await);
    user.sm().describe(&name).await;
    assert_eq!(read(&user, &name).await, denied);
}

/// Changes to a role's policies apply to its existing sessions; deleting the role leaves them
/// authenticated but without any permission, and re-creating it doesn't revive them.
#[tokio::test]
async fn role_policy_changes_apply_to_existing_sessions() {
    let (_, name, arn) = scoped_secret("role-detach", "v").await;
    let (role_name, reading) = (format!("changing-{}", short_id()), read_policy(&arn));
    let (server, iam) = (server(), server().iam_client());
    let role = server.role(&role_name, &trust_account(), Some(&reading)).await;
    let session = server.assumer(&role).await.assume(&role, "long-lived").await;
    let denied = read_denied(&session.arn, &name, Denial::NoIdentityPolicy);
    assert_reads(&session, &name, "granted by the role policy").await;
    let req = iam.delete_role_policy().role_name(&role_name);
    ok(req.policy_name("inline").send().await);
    assert_eq!(read(&session, &name).await, denied);
    let managed = "arn:aws:iam::aws:policy/SecretsManagerReadWrite";
    let req = iam.attach_role_policy().role_name(&role_name);
    ok(req.policy_arn(managed).send().await);
    assert_reads(&session, &name, "granted by the attached policy").await;
    let req = iam.detach_role_policy().role_name(&role_name);
    ok(req.policy_arn(managed).send().await);
    ok(iam.delete_role().role_name(&role_name).send().await);
    assert_eq!(read(&session, &name).await, denied);
    let everything = allow(&["secretsmanager:*"], &["*"]);
    server.role(&role_name, &trust_account(), Some(&everything)).await;
    assert_eq!(read(&session, &name).await, denied);
}
