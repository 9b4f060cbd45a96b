//! Roles, their trust policies, and AssumeRole within one account.

use kinko_tests::*;
use serde_json::json;

use crate::*;

/// The session AssumeRole gives: named after the role and the session, with ASIA credentials;
/// GetCallerIdentity agrees.
#[tokio::test]
async fn assume_role_returns_a_session_named_after_the_role() {
    let server = server();
    let p = short_id();
    let role_name = format!("dev-app-{p}");
    let role_arn = server.role(&role_name, &trust_account(), None).await;
    assert_eq!(role_arn, format!("arn:aws:iam::{DEV_ACCOUNT}:role/{role_name}"));
    let role = ok(server.iam_client().get_role().role_name(&role_name).send().await).role;
    let role_id = role.expect("role").role_id;
    assert!(role_id.starts_with("AROA"), "{role_id}");
    let user = server.assumer(&role_arn).await;
    let req = user
        .sts()
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("alice-laptop");
    let out = ok(req.send().await);
    let expected_arn = session_arn(DEV_ACCOUNT, &role_name, "alice-laptop");
    let assumed = out.assumed_role_user.expect("AssumedRoleUser");
    assert_eq!(assumed.arn, expected_arn);
    assert_eq!(assumed.assumed_role_id, format!("{role_id}:alice-laptop"));
    let creds = out.credentials.expect("Credentials");
    assert!(creds.access_key_id.starts_with("ASIA"), "{}", creds.access_key_id);
    assert_eq!(creds.access_key_id.len(), 20);
    assert_eq!(creds.secret_access_key.len(), 40);
    let session = TestCredentials::from(&creds);
    let who = ok(server.sts_client_as(&session).get_caller_identity().send().await);
    assert_eq!(who.arn.as_deref(), Some(expected_arn.as_str()));
    assert_eq!(
        who.user_id.as_deref(),
        Some(format!("{role_id}:alice-laptop").as_str())
    );
    assert_eq!(who.account.as_deref(), Some(DEV_ACCOUNT));
}

/// A developer role allowed GetSecretValue on `dev/azure-??????` reads that secret and nothing
/// else, and can't describe, write or list.
#[tokio::test]
async fn developer_role_reads_only_its_secret() {
    let server = server();
    let p = short_id();
    let azure = format!("{p}/dev/azure");
    let value = "DefaultEndpointsProtocol=https;AccountName=dev";
    let azure_arn = secret(&azure, value).await;
    // Same prefix, more than six characters after "dev/azure-": outside `dev/azure-??????`.
    let (wider, prod) = (format!("{p}/dev/azure-storage"), format!("{p}/prod/azure"));
    let (wider_arn, prod_arn) = (secret(&wider, "other").await, secret(&prod, "prod").await);
    let scope = secret_pattern(&format!("{p}/dev/azure-??????"));
    let policy = allow(&["secretsmanager:GetSecretValue"], &[&scope]);
    let role = server
        .role(&format!("dev-app-{p}"), &trust_account(), Some(&policy))
        .await;
    let app = server.assumer(&role).await.assume(&role, "alice-laptop").await;
    let got = app.sm().get(&azure).await;
    assert_eq!(got.secret_string.as_deref(), Some(value));
    assert_eq!(got.arn.as_deref(), Some(azure_arn.as_str()));
    let no_policy = Denial::NoIdentityPolicy;
    let describe = outcome(app.sm().describe_secret().secret_id(&azure).send().await);
    let action = "secretsmanager:DescribeSecret";
    assert_eq!(describe, sm_denied(&app.arn, action, Some(&azure), no_policy));
    for (id, _) in [(&wider, &wider_arn), (&prod, &prod_arn)] {
        assert_eq!(read(&app, id).await, read_denied(&app.arn, id, no_policy), "{id}");
    }
    let put = app.sm().put_secret_value().secret_id(&azure).secret_string("x");
    let action = "secretsmanager:PutSecretValue";
    assert_eq!(
        outcome(put.send().await),
        sm_denied(&app.arn, action, Some(&azure), no_policy)
    );
    let list = outcome(app.sm().list_secrets().send().await);
    assert_eq!(
        list,
        sm_denied(&app.arn, "secretsmanager:ListSecrets", None, no_policy)
    );
}

#[tokio::test]
async fn assume_role_needs_an_identity_policy_when_the_trust_names_the_account() {
    let server = server();
    let p = short_id();
    let role = server
        .role(&format!("acct-trust-{p}"), &trust_account(), None)
        .await;
    let user = server.user_named(&format!("no-assume-{p}"), None).await;
    let out = try_assume(&user, &role, "s1").await;
    assert_eq!(
        out,
        denied(&user.arn, "sts:AssumeRole", Some(&role), Denial::NoIdentityPolicy)
    );
}

/// A trust policy naming the user is enough in the same account; another user, even one allowed
/// sts:AssumeRole, isn't trusted.
#[tokio::test]
async fn trust_policy_naming_the_user_is_enough_in_the_same_account() {
    let server = server();
    let p = short_id();
    let user = server.user_named(&format!("named-{p}"), None).await;
    let role_name = format!("names-user-{p}");
    let role = server.role(&role_name, &trust_policy(&[&user.arn]), None).await;
    let session = user.assume(&role, "direct").await;
    assert_eq!(session.arn, session_arn(DEV_ACCOUNT, &role_name, "direct"));
    let other = server.assumer(&role).await;
    let out = try_assume(&other, &role, "intruder").await;
    assert_eq!(
        out,
        denied(&other.arn, "sts:AssumeRole", Some(&role), Denial::NoTrustPolicy)
    );
}

#[tokio::test]
async fn assume_role_on_a_missing_role_is_access_denied() {
    let server = server();
    let missing = format!("arn:aws:iam::{DEV_ACCOUNT}:role/missing-{}", short_id());
    let user = server.assumer(&missing).await;
    let message = format!(
        "User: {} is not authorized to perform: sts:AssumeRole on resource: {missing}",
        user.arn
    );
    assert_eq!(
        try_assume(&user, &missing, "s1").await,
        failed("AccessDenied", &message)
    );
}

#[tokio::test]
async fn two_workloads_two_roles() {
    let server = server();
    let (p, name, arn) = scoped_secret("MySecret", "only-for-a").await;
    let workloads = format!("arn:aws:iam::{DEV_ACCOUNT}:role/workload-*-{p}");
    let user = server
        .user("workloads", Some(&allow(&["sts:AssumeRole"], &[&workloads])))
        .await;
    let read_a = allow(&["secretsmanager:GetSecretValue"], &[&arn]);
    let reader = server
        .role(&format!("workload-a-{p}"), &trust_account(), Some(&read_a))
        .await;
    let other_secrets = secret_pattern(&format!("{p}/OtherSecret-*"));
    let read_b = allow(&["secretsmanager:GetSecretValue"], &[&other_secrets]);
    let other = server
        .role(&format!("workload-b-{p}"), &trust_account(), Some(&read_b))
        .await;
    let a = user.assume(&reader, "worker-a").await;
    let b = user.assume(&other, "worker-b").await;
    assert_eq!(a.sm().value(&name).await, "only-for-a");
    let b_arn = session_arn(DEV_ACCOUNT, &format!("workload-b-{p}"), "worker-b");
    assert_eq!(
        read(&b, &name).await,
        read_denied(&b_arn, &name, Denial::NoIdentityPolicy)
    );
    assert_eq!(b.arn, b_arn);
}

/// A role with a path: the session ARN drops it; a resource policy naming the role (with its
/// path) grants its sessions.
#[tokio::test]
async fn role_with_a_path_drops_it_from_the_session_arn() {
    let (server, sm) = (server(), server().client());
    let (p, name, _) = scoped_secret("pathed", "pathed-value").await;
    let role_name = format!("pathed-{p}");
    let req = server
        .iam_client()
        .create_role()
        .role_name(&role_name)
        .path("/team/apps/");
    let created = ok(req
        .assume_role_policy_document(trust_policy(&[DEV_ACCOUNT]))
        .send()
        .await);
    let role = created.role.expect("role").arn;
    assert_eq!(
        role,
        format!("arn:aws:iam::{DEV_ACCOUNT}:role/team/apps/{role_name}")
    );
    let grant = principal_statement("Allow", &role, &["secretsmanager:GetSecretValue"]);
    sm.put_policy(&name, &policy_document(&[grant])).await;
    // The trust names the account by its id: the caller needs an identity policy.
    let session = server.assumer(&role).await.assume(&role, "pathed").await;
    assert_eq!(session.arn, session_arn(DEV_ACCOUNT, &role_name, "pathed"));
    assert_eq!(session.sm().value(&name).await, "pathed-value");
    let describe = outcome(session.sm().describe_secret().secret_id(&name).send().await);
    let action = "secretsmanager:DescribeSecret";
    assert_eq!(
        describe,
        sm_denied(&session.arn, action, Some(&name), Denial::NoIdentityPolicy)
    );
}

#[tokio::test]
async fn root_cannot_assume_roles() {
    let server = server();
    let role = bare_role("not-for-root").await;
    let out = try_assume(&server.root(), &role, "root-session").await;
    assert_eq!(
        out,
        failed("AccessDenied", "Roles may not be assumed by root accounts.")
    );
}

#[tokio::test]
async fn external_id_condition_in_the_trust_policy() {
    let server = server();
    let p = short_id();
    let external_id = format!("partner-{p}");
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"AWS": root()},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}}
    })]);
    let role_name = format!("partner-{p}");
    let role = server.role(&role_name, &trust, None).await;
    let user = server.assumer(&role).await;
    let refused = denied(&user.arn, "sts:AssumeRole", Some(&role), Denial::NoTrustPolicy);
    assert_eq!(try_assume(&user, &role, "no-external-id").await, refused);
    let assume = |session: &str| {
        user.sts()
            .assume_role()
            .role_arn(&role)
            .role_session_name(session)
    };
    let wrong = assume("wrong-external-id")
        .external_id("partner-wrong")
        .send()
        .await;
    assert_eq!(outcome(wrong), refused);
    let right = ok(assume("right-external-id").external_id(&external_id).send().await);
    let assumed = right.assumed_role_user.expect("AssumedRoleUser").arn;
    assert_eq!(assumed, session_arn(DEV_ACCOUNT, &role_name, "right-external-id"));
}

#[tokio::test]
async fn explicit_deny_in_the_trust_policy() {
    let server = server();
    let role_name = format!("deny-trust-{}", short_id());
    let role = format!("arn:aws:iam::{DEV_ACCOUNT}:role/{role_name}");
    let user = server.assumer(&role).await;
    let trust = policy_document(&[
        json!({"Effect": "Allow", "Principal": {"AWS": root()}, "Action": "sts:AssumeRole"}),
        json!({"Effect": "Deny", "Principal": {"AWS": user.arn}, "Action": "sts:AssumeRole"}),
    ]);
    server.role(&role_name, &trust, None).await;
    let out = try_assume(&user, &role, "denied").await;
    assert_eq!(
        out,
        denied(&user.arn, "sts:AssumeRole", Some(&role), Denial::ExplicitTrust)
    );
}

/// Same name, same ARN, but a different principal: the trust policy named the old one.
#[tokio::test]
async fn trust_policy_does_not_trust_a_recreated_user() {
    let server = server();
    let p = short_id();
    let first = server.user_named(&format!("recreated-{p}"), None).await;
    let role = server
        .role(
            &format!("trusts-one-user-{p}"),
            &trust_policy(&[&first.arn]),
            None,
        )
        .await;
    first.assume(&role, "original").await;
    let iam = server.iam_client();
    let delete_key = iam.delete_access_key().user_name(&first.name);
    ok(delete_key.access_key_id(&first.access_key_id).send().await);
    ok(iam.delete_user().user_name(&first.name).send().await);
    let second = server.user_named(&first.name, None).await;
    assert_eq!(second.arn, first.arn);
    let e = expect_err!(
        second
            .sts()
            .assume_role()
            .role_arn(&role)
            .role_session_name("impostor")
            .send()
            .await
    );
    assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
    let start = format!(
        "User: {} is not authorized to perform: sts:AssumeRole on resource: {role}",
        first.arn
    );
    let message = e.message().unwrap_or_default();
    assert!(message.starts_with(&start), "{message}");
}
