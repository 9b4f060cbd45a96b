//! Several accounts: Organizations CreateAccount makes member accounts, the management account's
//! principals administer them through `OrganizationAccountAccessRole`, and secrets are shared
//! across accounts with resource policies. Accounts are isolated otherwise.

use kinko_tests::{
    ACCESS_ROLE, DEV_ACCOUNT, REGION, TestServer, assert_error, assume_role, create_member_account,
    create_role_with_policy, create_string_secret, create_user_with_key, denied_message, expect_err,
    management_operator, member, no_identity_policy, policy_document, short_id, statement, trust_policy,
};
use serde_json::json;

const DEFAULT_KEY_CROSS_ACCOUNT: &str = "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.";

fn management_root() -> String {
    format!("arn:aws:iam::{DEV_ACCOUNT}:root")
}

#[tokio::test]
async fn management_account_administers_a_new_member_through_its_access_role() {
    let server = TestServer::start();
    let id = create_member_account(server).await;
    let org = server.org_client();
    let account = org
        .describe_account()
        .account_id(&id)
        .send()
        .await
        .expect("DescribeAccount")
        .account
        .expect("Account");
    assert_eq!(account.id.as_deref(), Some(id.as_str()));
    let description = org
        .describe_organization()
        .send()
        .await
        .expect("DescribeOrganization")
        .organization
        .expect("Organization");
    assert_eq!(description.master_account_id.as_deref(), Some(DEV_ACCOUNT));

    let role_arn = format!("arn:aws:iam::{id}:role/{ACCESS_ROLE}");
    // The root user can't assume roles, not even this one.
    let e = expect_err!(
        server
            .sts_client()
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("root")
            .send()
            .await
    );
    assert_error(&e, "AccessDenied", "Roles may not be assumed by root accounts.");

    // The role trusts the management account: its users need an identity policy allowing it.
    let iam = server.iam_client();
    let (plain_arn, plain) = create_user_with_key(&iam, &format!("plain-{}", short_id()), None).await;
    let e = expect_err!(
        server
            .sts_client_as(&plain)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("plain")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(&plain_arn, "sts:AssumeRole", Some(&role_arn)),
    );

    let (_, operator) = management_operator(server, &id).await;
    let (admin, arn) = assume_role(&server.sts_client_as(&operator), &role_arn, "ops").await;
    assert_eq!(arn, format!("arn:aws:sts::{id}:assumed-role/{ACCESS_ROLE}/ops"));
    let who = server
        .sts_client_as(&admin)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(who.account.as_deref(), Some(id.as_str()));
    assert_eq!(who.arn.as_deref(), Some(arn.as_str()));
    let role_id = server
        .iam_client_as(&admin)
        .get_role()
        .role_name(ACCESS_ROLE)
        .send()
        .await
        .expect("GetRole in the member account")
        .role
        .expect("role")
        .role_id;
    assert!(role_id.starts_with("AROA"), "{role_id}");
    assert_eq!(who.user_id.as_deref(), Some(format!("{role_id}:ops").as_str()));

    // The session administers the member account: secrets land there.
    let name = format!("{}/member-secret", short_id());
    let (secret_arn, _) = create_string_secret(&server.client_as(&admin), &name, "member").await;
    assert!(
        secret_arn.starts_with(&format!("arn:aws:secretsmanager:{REGION}:{id}:secret:{name}-")),
        "{secret_arn}"
    );
}

#[tokio::test]
async fn cross_account_reader_through_a_resource_policy() {
    let server = TestServer::start();
    let m = member(server).await;
    let sm = server.client();
    let name = format!("{}/shared/db", short_id());
    let (secret_arn, _) = create_string_secret(&sm, &name, "management-value").await;

    // In the member account: a role `reader` trusting the management account, allowed
    // secretsmanager:* on the management account's secret.
    let reader_arn = create_role_with_policy(
        &server.iam_client_as(&m.admin),
        "reader",
        &trust_policy(&[&management_root()]),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:*"],
            &[&secret_arn],
        )])),
    )
    .await;
    assert_eq!(reader_arn, format!("arn:aws:iam::{}:role/reader", m.id));
    let (reader, session_arn) = assume_role(&server.sts_client_as(&m.operator), &reader_arn, "job").await;
    assert_eq!(
        session_arn,
        format!("arn:aws:sts::{}:assumed-role/reader/job", m.id)
    );
    let app = server.client_as(&reader);

    // No resource policy yet: the management account hasn't agreed.
    let e = expect_err!(app.describe_secret().secret_id(&secret_arn).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &denied_message(
            &session_arn,
            "secretsmanager:DescribeSecret",
            Some(&secret_arn),
            "because no resource-based policy allows the secretsmanager:DescribeSecret action",
        ),
    );

    let resource_policy = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"AWS": reader_arn},
        "Action": [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:GetResourcePolicy",
            "secretsmanager:ListSecretVersionIds"
        ],
        "Resource": "*"
    })]);
    sm.put_resource_policy()
        .secret_id(&name)
        .resource_policy(&resource_policy)
        .send()
        .await
        .expect("PutResourcePolicy");

    let d = app
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("cross-account DescribeSecret by ARN");
    assert_eq!(d.arn.as_deref(), Some(secret_arn.as_str()));
    assert_eq!(d.name.as_deref(), Some(name.as_str()));
    let rp = app
        .get_resource_policy()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("cross-account GetResourcePolicy");
    assert_eq!(rp.arn.as_deref(), Some(secret_arn.as_str()));
    let stored: serde_json::Value =
        serde_json::from_str(rp.resource_policy.as_deref().expect("ResourcePolicy")).expect("policy JSON");
    let expected: serde_json::Value = serde_json::from_str(&resource_policy).expect("policy JSON");
    assert_eq!(stored, expected);
    let versions = app
        .list_secret_version_ids()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("cross-account ListSecretVersionIds");
    assert_eq!(versions.versions().len(), 1);

    // Authorized, but the value is encrypted under the default key.
    let e = expect_err!(app.get_secret_value().secret_id(&secret_arn).send().await);
    assert_error(&e, "InvalidRequestException", DEFAULT_KEY_CROSS_ACCOUNT);

    // Not granted by the resource policy.
    let e = expect_err!(
        app.put_secret_value()
            .secret_id(&secret_arn)
            .secret_string("from-member")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &denied_message(
            &session_arn,
            "secretsmanager:PutSecretValue",
            Some(&secret_arn),
            "because no resource-based policy allows the secretsmanager:PutSecretValue action",
        ),
    );

    // By name, the secret is looked up in the caller's own account, where it doesn't exist.
    let e = expect_err!(app.describe_secret().secret_id(&name).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&session_arn, "secretsmanager:DescribeSecret", Some(&name)),
    );

    // Once the resource policy is removed, access ends on the next request.
    sm.delete_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteResourcePolicy");
    let e = expect_err!(app.describe_secret().secret_id(&secret_arn).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &denied_message(
            &session_arn,
            "secretsmanager:DescribeSecret",
            Some(&secret_arn),
            "because no resource-based policy allows the secretsmanager:DescribeSecret action",
        ),
    );
}

#[tokio::test]
async fn cross_account_access_needs_the_callers_identity_policy_too() {
    let server = TestServer::start();
    let m = member(server).await;
    let sm = server.client();
    let name = format!("{}/shared/needs-identity", short_id());
    let (secret_arn, _) = create_string_secret(&sm, &name, "v").await;
    let bare_arn = create_role_with_policy(
        &server.iam_client_as(&m.admin),
        "bare-reader",
        &trust_policy(&[&management_root()]),
        None,
    )
    .await;
    sm.put_resource_policy()
        .secret_id(&name)
        .resource_policy(policy_document(&[json!({
            "Effect": "Allow",
            "Principal": {"AWS": bare_arn},
            "Action": "secretsmanager:DescribeSecret",
            "Resource": "*"
        })]))
        .send()
        .await
        .expect("PutResourcePolicy");
    let (session, session_arn) = assume_role(&server.sts_client_as(&m.operator), &bare_arn, "bare").await;
    let e = expect_err!(
        server
            .client_as(&session)
            .describe_secret()
            .secret_id(&secret_arn)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&session_arn, "secretsmanager:DescribeSecret", Some(&secret_arn)),
    );
}

#[tokio::test]
async fn resource_policy_naming_the_member_account_delegates_to_its_identity_policies() {
    let server = TestServer::start();
    let m = member(server).await;
    let sm = server.client();
    let name = format!("{}/shared/by-account", short_id());
    let (secret_arn, _) = create_string_secret(&sm, &name, "v").await;
    sm.put_resource_policy()
        .secret_id(&name)
        .resource_policy(policy_document(&[json!({
            "Effect": "Allow",
            "Principal": {"AWS": m.id},
            "Action": "secretsmanager:DescribeSecret",
            "Resource": "*"
        })]))
        .send()
        .await
        .expect("PutResourcePolicy");
    let member_iam = server.iam_client_as(&m.admin);
    let allowed = create_role_with_policy(
        &member_iam,
        "describer",
        &trust_policy(&[&management_root()]),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:DescribeSecret"],
            &["*"],
        )])),
    )
    .await;
    let bare =
        create_role_with_policy(&member_iam, "nobody", &trust_policy(&[&management_root()]), None).await;
    let sts = server.sts_client_as(&m.operator);
    let (describer, _) = assume_role(&sts, &allowed, "describer").await;
    server
        .client_as(&describer)
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("account principal + identity policy");
    let (nobody, nobody_arn) = assume_role(&sts, &bare, "nobody").await;
    let e = expect_err!(
        server
            .client_as(&nobody)
            .describe_secret()
            .secret_id(&secret_arn)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&nobody_arn, "secretsmanager:DescribeSecret", Some(&secret_arn)),
    );
}

#[tokio::test]
async fn member_accounts_are_isolated() {
    let server = TestServer::start();
    let m = member(server).await;
    let sm = server.client();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/isolated");
    let (management_arn, _) = create_string_secret(&sm, &name, "management").await;

    // The same name in the member account is a different secret.
    let member_sm = server.client_as(&m.admin);
    let (member_arn, _) = create_string_secret(&member_sm, &name, "member").await;
    assert_ne!(member_arn, management_arn);
    assert!(
        member_arn.starts_with(&format!(
            "arn:aws:secretsmanager:{REGION}:{}:secret:{name}-",
            m.id
        )),
        "{member_arn}"
    );
    let v = member_sm
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue in the member account");
    assert_eq!(v.secret_string.as_deref(), Some("member"));
    let v = sm
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(v.secret_string.as_deref(), Some("management"));

    // ListSecrets in the member account shows only its own secret.
    let listed: Vec<String> = member_sm
        .list_secrets()
        .send()
        .await
        .expect("ListSecrets in the member account")
        .secret_list()
        .iter()
        .filter_map(|s| s.arn.clone())
        .collect();
    assert_eq!(listed, std::slice::from_ref(&member_arn));

    // The administrator of the member account has no say over the management account's secret:
    // its AdministratorAccess doesn't reach other accounts without their resource policy.
    let admin_arn = format!("arn:aws:sts::{}:assumed-role/{ACCESS_ROLE}/admin", m.id);
    let e = expect_err!(
        member_sm
            .describe_secret()
            .secret_id(&management_arn)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &denied_message(
            &admin_arn,
            "secretsmanager:DescribeSecret",
            Some(&management_arn),
            "because no resource-based policy allows the secretsmanager:DescribeSecret action",
        ),
    );

    // IAM users of one account don't exist in the other.
    let management_user = format!("mgmt-only-{p}");
    iam.create_user()
        .user_name(&management_user)
        .send()
        .await
        .expect("CreateUser in the management account");
    let member_iam = server.iam_client_as(&m.admin);
    let e = expect_err!(member_iam.get_user().user_name(&management_user).send().await);
    assert_error(
        &e,
        "NoSuchEntity",
        &format!("The user with name {management_user} cannot be found."),
    );
    let member_user = format!("member-only-{p}");
    let created = member_iam
        .create_user()
        .user_name(&member_user)
        .send()
        .await
        .expect("CreateUser in the member account")
        .user
        .expect("user");
    assert_eq!(created.arn, format!("arn:aws:iam::{}:user/{member_user}", m.id));
    let e = expect_err!(iam.get_user().user_name(&member_user).send().await);
    assert_error(
        &e,
        "NoSuchEntity",
        &format!("The user with name {member_user} cannot be found."),
    );
    let member_users: Vec<String> = member_iam
        .list_users()
        .send()
        .await
        .expect("ListUsers in the member account")
        .users
        .into_iter()
        .map(|u| u.user_name)
        .collect();
    assert_eq!(member_users, std::slice::from_ref(&member_user));
    // The same user name can exist in both accounts.
    member_iam
        .create_user()
        .user_name(&management_user)
        .send()
        .await
        .expect("CreateUser with a name the management account uses");
    let roles: Vec<String> = member_iam
        .list_roles()
        .send()
        .await
        .expect("ListRoles in the member account")
        .roles
        .into_iter()
        .map(|r| r.role_name)
        .collect();
    assert_eq!(roles, [ACCESS_ROLE]);
}

#[tokio::test]
async fn member_account_cannot_manage_the_organization() {
    let server = TestServer::start();
    let m = member(server).await;
    let org = server.org_client_as(&m.admin);
    let e = expect_err!(
        org.create_account()
            .email(format!("nested-{}@example.com", short_id()))
            .account_name("nested")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    );
    let e = expect_err!(org.list_accounts().send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    );
}

#[tokio::test]
async fn resource_policy_shares_with_the_whole_organization() {
    let server = TestServer::start();
    let m = member(server).await;
    let sm = server.client();
    let org_id = server
        .org_client()
        .describe_organization()
        .send()
        .await
        .expect("DescribeOrganization")
        .organization
        .and_then(|o| o.id)
        .expect("organization id");
    assert!(org_id.starts_with("o-"), "{org_id}");
    let shared_with = |org: &str| {
        policy_document(&[json!({
            "Effect": "Allow",
            "Principal": "*",
            "Action": "secretsmanager:DescribeSecret",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}}
        })])
    };
    let name = format!("{}/org-wide", short_id());
    let (secret_arn, _) = create_string_secret(&sm, &name, "v").await;
    let reader_arn = create_role_with_policy(
        &server.iam_client_as(&m.admin),
        "org-reader",
        &trust_policy(&[&management_root()]),
        Some(&policy_document(&[statement(
            "Allow",
            &["secretsmanager:DescribeSecret"],
            &["*"],
        )])),
    )
    .await;
    let (reader, session_arn) = assume_role(&server.sts_client_as(&m.operator), &reader_arn, "org").await;
    let app = server.client_as(&reader);

    sm.put_resource_policy()
        .secret_id(&name)
        .resource_policy(shared_with("o-aaaaaaaaaa"))
        .block_public_policy(false)
        .send()
        .await
        .expect("PutResourcePolicy for another organization");
    let e = expect_err!(app.describe_secret().secret_id(&secret_arn).send().await);
    assert_error(
        &e,
        "AccessDeniedException",
        &denied_message(
            &session_arn,
            "secretsmanager:DescribeSecret",
            Some(&secret_arn),
            "because no resource-based policy allows the secretsmanager:DescribeSecret action",
        ),
    );

    sm.put_resource_policy()
        .secret_id(&name)
        .resource_policy(shared_with(&org_id))
        .block_public_policy(false)
        .send()
        .await
        .expect("PutResourcePolicy for this organization");
    app.describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("a member of the organization describes the secret");
}

#[tokio::test]
async fn cross_account_assume_role_needs_both_trust_and_identity_policy() {
    let server = TestServer::start();
    let m = member(server).await;
    let iam = server.iam_client();
    let p = short_id();
    let (user_arn, user) = create_user_with_key(&iam, &format!("direct-{p}"), None).await;
    // The member's role trusts that very user, but across accounts the user's own account must
    // allow the call too.
    let role_arn = create_role_with_policy(
        &server.iam_client_as(&m.admin),
        "trusts-a-user",
        &trust_policy(&[&user_arn]),
        None,
    )
    .await;
    let sts = server.sts_client_as(&user);
    let e = expect_err!(
        sts.assume_role()
            .role_arn(&role_arn)
            .role_session_name("direct")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(&user_arn, "sts:AssumeRole", Some(&role_arn)),
    );
    iam.put_user_policy()
        .user_name(format!("direct-{p}"))
        .policy_name("assume")
        .policy_document(policy_document(&[statement(
            "Allow",
            &["sts:AssumeRole"],
            &[&role_arn],
        )]))
        .send()
        .await
        .expect("PutUserPolicy");
    let (_, session_arn) = assume_role(&sts, &role_arn, "direct").await;
    assert_eq!(
        session_arn,
        format!("arn:aws:sts::{}:assumed-role/trusts-a-user/direct", m.id)
    );

    // Another management user allowed sts:AssumeRole isn't named by the trust policy.
    let operator_arn = server
        .sts_client_as(&m.operator)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity")
        .arn
        .expect("Arn");
    let e = expect_err!(
        server
            .sts_client_as(&m.operator)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("operator")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &denied_message(
            &operator_arn,
            "sts:AssumeRole",
            Some(&role_arn),
            "because no role trust policy allows the sts:AssumeRole action",
        ),
    );
}
