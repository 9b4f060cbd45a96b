//! Several accounts: Organizations CreateAccount makes member accounts, the management account's
//! principals administer them through `OrganizationAccountAccessRole`, and secrets are shared
//! across accounts with resource policies. Accounts are isolated otherwise.

use kinko_tests::*;
use serde_json::json;

use crate::*;

/// A resource policy of one statement: `actions` for `principal` (an ARN or account id).
fn sharing(principal: &str, actions: &[&str]) -> String {
    policy_document(&[principal_statement("Allow", principal, actions)])
}

/// DescribeSecret of `id` as `caller`.
async fn describe(caller: &Principal<'_>, id: &str) -> Outcome {
    outcome(caller.sm().describe_secret().secret_id(id).send().await)
}

fn describe_denied(caller: &str, arn: &str, why: Denial) -> Outcome {
    sm_denied(caller, "secretsmanager:DescribeSecret", Some(arn), why)
}

#[tokio::test]
async fn management_account_administers_a_new_member_through_its_access_role() {
    let server = server();
    let id = create_member_account(server).await;
    let org = server.org_client();
    let account = ok(org.describe_account().account_id(&id).send().await).account;
    assert_eq!(account.expect("Account").id.as_deref(), Some(id.as_str()));
    let organization = ok(org.describe_organization().send().await).organization;
    let master = organization.expect("Organization").master_account_id;
    assert_eq!(master.as_deref(), Some(DEV_ACCOUNT));
    let role = format!("arn:aws:iam::{id}:role/{ACCESS_ROLE}");
    // The root user can't assume roles, not even this one.
    let root = try_assume(&server.root(), &role, "root").await;
    assert_eq!(
        root,
        failed("AccessDenied", "Roles may not be assumed by root accounts.")
    );
    // The role trusts the management account: its users need an identity policy allowing it.
    let plain = server.user("plain", None).await;
    let out = try_assume(&plain, &role, "plain").await;
    assert_eq!(
        out,
        denied(
            &plain.arn,
            "sts:AssumeRole",
            Some(&role),
            Denial::NoIdentityPolicy
        )
    );

    let (_, operator) = management_operator(server, &id).await;
    let (admin, arn) = assume_role(&server.sts_client_as(&operator), &role, "ops").await;
    assert_eq!(arn, session_arn(&id, ACCESS_ROLE, "ops"));
    let who = ok(server.sts_client_as(&admin).get_caller_identity().send().await);
    assert_eq!(who.account.as_deref(), Some(id.as_str()));
    assert_eq!(who.arn.as_deref(), Some(arn.as_str()));
    let req = server.iam_client_as(&admin).get_role();
    let got = ok(req.role_name(ACCESS_ROLE).send().await);
    let role_id = got.role.expect("role").role_id;
    assert!(role_id.starts_with("AROA"), "{role_id}");
    assert_eq!(who.user_id.as_deref(), Some(format!("{role_id}:ops").as_str()));
    // The session administers the member account: secrets land there.
    let name = format!("{}/member-secret", short_id());
    let (secret_arn, _) = server.client_as(&admin).create_string(&name, "member").await;
    let expected = format!("{}-", secret_arn_pattern(&id, &name));
    assert!(secret_arn.starts_with(&expected), "{secret_arn}");
}

/// A member role allowed secretsmanager:* on a management secret reads what the secret's
/// resource policy grants, by ARN, until the policy goes; the value under the default key stays
/// out of reach.
#[tokio::test]
async fn cross_account_reader_through_a_resource_policy() {
    let server = server();
    let (m, sm) = (member(server).await, server.client());
    let name = format!("{}/shared/db", short_id());
    let secret_arn = secret(&name, "management-value").await;
    let everything = allow(&["secretsmanager:*"], &[&secret_arn]);
    let reader_arn = m
        .admin
        .new_role("reader", &trust_account(), Some(&everything))
        .await;
    assert_eq!(reader_arn, format!("arn:aws:iam::{}:role/reader", m.id));
    let reader = m.operator.assume(&reader_arn, "job").await;
    assert_eq!(reader.arn, session_arn(&m.id, "reader", "job"));
    let no_resource_policy = describe_denied(&reader.arn, &secret_arn, Denial::NoResourcePolicy);
    assert_eq!(
        describe(&reader, &secret_arn).await,
        no_resource_policy,
        "not agreed yet"
    );

    let actions = [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:ListSecretVersionIds",
    ];
    let resource_policy = sharing(&reader_arn, &actions);
    sm.put_policy(&name, &resource_policy).await;
    let app = reader.sm();
    let d = app.describe(&secret_arn).await;
    assert_eq!(d.arn.as_deref(), Some(secret_arn.as_str()));
    assert_eq!(d.name.as_deref(), Some(name.as_str()));
    let rp = ok(app.get_resource_policy().secret_id(&secret_arn).send().await);
    assert_eq!(rp.arn.as_deref(), Some(secret_arn.as_str()));
    let stored: serde_json::Value =
        serde_json::from_str(rp.resource_policy.as_deref().expect("ResourcePolicy")).expect("JSON");
    assert_eq!(
        stored,
        serde_json::from_str::<serde_json::Value>(&resource_policy).expect("JSON")
    );
    assert_eq!(app.versions(&secret_arn, false).await.versions().len(), 1);
    // Authorized, but the value is encrypted under the default key.
    let message = "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.";
    assert_eq!(
        read(&reader, &secret_arn).await,
        failed("InvalidRequestException", message)
    );
    let put = app
        .put_secret_value()
        .secret_id(&secret_arn)
        .secret_string("from-member");
    let action = "secretsmanager:PutSecretValue";
    let expected = sm_denied(&reader.arn, action, Some(&secret_arn), Denial::NoResourcePolicy);
    assert_eq!(
        outcome(put.send().await),
        expected,
        "not granted by the resource policy"
    );
    // By name, the secret is looked up in the caller's own account, where it doesn't exist.
    let by_name = describe_denied(&reader.arn, &name, Denial::NoIdentityPolicy);
    assert_eq!(describe(&reader, &name).await, by_name);
    ok(sm.delete_resource_policy().secret_id(&name).send().await);
    assert_eq!(
        describe(&reader, &secret_arn).await,
        no_resource_policy,
        "access ends at once"
    );
}

#[tokio::test]
async fn cross_account_access_needs_the_callers_identity_policy_too() {
    let server = server();
    let m = member(server).await;
    let name = format!("{}/shared/needs-identity", short_id());
    let secret_arn = secret(&name, "v").await;
    let bare = m.admin.new_role("bare-reader", &trust_account(), None).await;
    let describe_secret = ["secretsmanager:DescribeSecret"];
    server
        .client()
        .put_policy(&name, &sharing(&bare, &describe_secret))
        .await;
    let session = m.operator.assume(&bare, "bare").await;
    let expected = describe_denied(&session.arn, &secret_arn, Denial::NoIdentityPolicy);
    assert_eq!(describe(&session, &secret_arn).await, expected);
}

#[tokio::test]
async fn resource_policy_naming_the_member_account_delegates_to_its_identity_policies() {
    let server = server();
    let m = member(server).await;
    let name = format!("{}/shared/by-account", short_id());
    let secret_arn = secret(&name, "v").await;
    let describe_secret = ["secretsmanager:DescribeSecret"];
    server
        .client()
        .put_policy(&name, &sharing(&m.id, &describe_secret))
        .await;
    let allowed = allow(&describe_secret, &["*"]);
    let describer = m
        .admin
        .new_role("describer", &trust_account(), Some(&allowed))
        .await;
    let bare = m.admin.new_role("nobody", &trust_account(), None).await;
    let describer = m.operator.assume(&describer, "describer").await;
    assert_eq!(
        describe(&describer, &secret_arn).await,
        Ok(()),
        "account principal + identity policy"
    );
    let nobody = m.operator.assume(&bare, "nobody").await;
    let expected = describe_denied(&nobody.arn, &secret_arn, Denial::NoIdentityPolicy);
    assert_eq!(describe(&nobody, &secret_arn).await, expected);
}

/// The same name is a different secret in each account; listings, users and roles are each
/// account's own; the member's administrator has no say over the management account's secrets.
#[tokio::test]
async fn member_accounts_are_isolated() {
    let server = server();
    let (m, iam) = (member(server).await, server.iam_client());
    let (p, name, management_arn) = scoped_secret("isolated", "management").await;
    let member_sm = m.admin.sm();
    let (member_arn, _) = member_sm.create_string(&name, "member").await;
    assert_ne!(member_arn, management_arn);
    let expected = format!("{}-", secret_arn_pattern(&m.id, &name));
    assert!(member_arn.starts_with(&expected), "{member_arn}");
    assert_eq!(member_sm.value(&name).await, "member");
    assert_eq!(server.client().value(&name).await, "management");
    let listed = ok(member_sm.list_secrets().send().await);
    let arns: Vec<String> = listed
        .secret_list()
        .iter()
        .filter_map(|s| s.arn.clone())
        .collect();
    assert_eq!(arns, std::slice::from_ref(&member_arn));
    // Its AdministratorAccess doesn't reach other accounts without their resource policy.
    let admin = session_arn(&m.id, ACCESS_ROLE, "admin");
    let expected = describe_denied(&admin, &management_arn, Denial::NoResourcePolicy);
    assert_eq!(describe(&m.admin, &management_arn).await, expected);

    let member_iam = m.admin.iam();
    let no_such = |user: &str| {
        failed(
            "NoSuchEntity",
            &format!("The user with name {user} cannot be found."),
        )
    };
    let management_user = format!("mgmt-only-{p}");
    ok(iam.create_user().user_name(&management_user).send().await);
    let get = outcome(member_iam.get_user().user_name(&management_user).send().await);
    assert_eq!(get, no_such(&management_user));
    let member_user = format!("member-only-{p}");
    let created = ok(member_iam.create_user().user_name(&member_user).send().await).user;
    let expected = format!("arn:aws:iam::{}:user/{member_user}", m.id);
    assert_eq!(created.expect("user").arn, expected);
    let get = outcome(iam.get_user().user_name(&member_user).send().await);
    assert_eq!(get, no_such(&member_user));
    let users = ok(member_iam.list_users().send().await).users;
    let names: Vec<String> = users.into_iter().map(|u| u.user_name).collect();
    assert_eq!(names, std::slice::from_ref(&member_user));
    // The same user name can exist in both accounts.
    ok(member_iam.create_user().user_name(&management_user).send().await);
    let roles = ok(member_iam.list_roles().send().await).roles;
    let names: Vec<String> = roles.into_iter().map(|r| r.role_name).collect();
    assert_eq!(names, [ACCESS_ROLE]);
}

#[tokio::test]
async fn member_account_cannot_manage_the_organization() {
    let server = server();
    let m = member(server).await;
    let org = m.admin.org();
    let req = org
        .create_account()
        .email(format!("nested-{}@example.com", short_id()));
    let nested = outcome(req.account_name("nested").send().await);
    let denied = failed(
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    );
    assert_eq!(nested, denied);
    assert_eq!(outcome(org.list_accounts().send().await), denied);
}

/// A policy for `Principal: *` conditioned on `aws:PrincipalOrgID` shares with every account of
/// the organization, and only it.
#[tokio::test]
async fn resource_policy_shares_with_the_whole_organization() {
    let server = server();
    let (m, sm) = (member(server).await, server.client());
    let organization = ok(server.org_client().describe_organization().send().await).organization;
    let org_id = organization.and_then(|o| o.id).expect("organization id");
    assert!(org_id.starts_with("o-"), "{org_id}");
    let shared_with = |org: &str| {
        let mut grant = principal_statement("Allow", "*", &["secretsmanager:DescribeSecret"]);
        grant["Principal"] = json!("*");
        grant["Condition"] = json!({"StringEquals": {"aws:PrincipalOrgID": org}});
        policy_document(&[grant])
    };
    let name = format!("{}/org-wide", short_id());
    let secret_arn = secret(&name, "v").await;
    let allowed = allow(&["secretsmanager:DescribeSecret"], &["*"]);
    let role = m
        .admin
        .new_role("org-reader", &trust_account(), Some(&allowed))
        .await;
    let reader = m.operator.assume(&role, "org").await;
    let put = |org: &str| {
        let req = sm
            .put_resource_policy()
            .secret_id(&name)
            .resource_policy(shared_with(org));
        req.block_public_policy(false).send()
    };
    ok(put("o-aaaaaaaaaa").await);
    let expected = describe_denied(&reader.arn, &secret_arn, Denial::NoResourcePolicy);
    assert_eq!(
        describe(&reader, &secret_arn).await,
        expected,
        "another organization"
    );
    ok(put(&org_id).await);
    assert_eq!(describe(&reader, &secret_arn).await, Ok(()), "this organization");
}

/// Across accounts, a trust policy naming a user isn't enough: the user's own account must allow
/// the call too; another management user allowed sts:AssumeRole isn't named by the trust policy.
#[tokio::test]
async fn cross_account_assume_role_needs_both_trust_and_identity_policy() {
    let server = server();
    let m = member(server).await;
    let user = server.user("direct", None).await;
    let role = m
        .admin
        .new_role("trusts-a-user", &trust_policy(&[&user.arn]), None)
        .await;
    let out = try_assume(&user, &role, "direct").await;
    assert_eq!(
        out,
        denied(&user.arn, "sts:AssumeRole", Some(&role), Denial::NoIdentityPolicy)
    );
    let req = server
        .iam_client()
        .put_user_policy()
        .user_name(&user.name)
        .policy_name("assume");
    ok(req
        .policy_document(allow(&["sts:AssumeRole"], &[&role]))
        .send()
        .await);
    let session = user.assume(&role, "direct").await;
    assert_eq!(session.arn, session_arn(&m.id, "trusts-a-user", "direct"));
    let out = try_assume(&m.operator, &role, "operator").await;
    let req = m.operator.sts();
    let operator = ok(req.get_caller_identity().send().await).arn.expect("Arn");
    assert_eq!(
        out,
        denied(&operator, "sts:AssumeRole", Some(&role), Denial::NoTrustPolicy)
    );
}
