//! What IAM actions are authorized on, as AWS's Service Authorization Reference and AccessDenied
//! messages name it: the List actions on their path prefix, the condition keys IAM actions take
//! (`iam:PolicyARN`, `iam:PermissionsBoundary`, `iam:ResourceTag/*`), both names of a rename, an
//! access key's user; and trust policies bound to the unique ids of the users they name.

use kinko_tests::{
    DEV_ACCOUNT, TestServer, assert_error, create_user_with_key, denied_message, expect_err,
    no_identity_policy, policy_document, short_id, statement, trust_policy,
};
use serde_json::{Value, json};

const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const READ_ONLY_ACCESS: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{DEV_ACCOUNT}:user/{name}")
}

/// A policy document IAM returned: URL-encoded, as IAM sends them (the Rust SDK leaves it so).
fn decoded(doc: &str) -> Value {
    let json = percent_encoding::percent_decode_str(doc)
        .decode_utf8()
        .expect("UTF-8 policy document");
    serde_json::from_str(&json).expect("policy document JSON")
}

/// The `AWS` principals of a trust policy's statements.
fn aws_principals(doc: &str) -> Vec<String> {
    let doc = decoded(doc);
    let mut out = Vec::new();
    for s in doc["Statement"].as_array().expect("Statement list") {
        match &s["Principal"]["AWS"] {
            Value::String(p) => out.push(p.clone()),
            Value::Array(ps) => out.extend(ps.iter().filter_map(|p| p.as_str().map(str::to_owned))),
            other => panic!("unexpected principal {other}"),
        }
    }
    out
}

#[tokio::test]
async fn list_actions_are_denied_on_their_path_prefix() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let (arn, creds) = create_user_with_key(&iam, &format!("lister-{}", short_id()), None).await;
    let as_user = server.iam_client_as(&creds);
    let on = |resource: &str| format!("arn:aws:iam::{DEV_ACCOUNT}:{resource}");
    let cases: &[(&str, Option<&str>, String)] = &[
        ("ListUsers", None, on("user/")),
        ("ListUsers", Some("/"), on("user/")),
        ("ListUsers", Some("/team/"), on("user/team/")),
        ("ListRoles", None, on("role/")),
        ("ListRoles", Some("/service/app/"), on("role/service/app/")),
        ("ListGroups", None, on("group/")),
        ("ListGroups", Some("/staff/"), on("group/staff/")),
        ("ListPolicies", None, on("policy/")),
        ("ListPolicies", Some("/app/"), on("policy/app/")),
    ];
    for (action, prefix, resource) in cases {
        let prefix = prefix.map(str::to_owned);
        let expected = no_identity_policy(&arn, &format!("iam:{action}"), Some(resource));
        match *action {
            "ListUsers" => assert_error(
                &expect_err!(as_user.list_users().set_path_prefix(prefix).send().await),
                "AccessDenied",
                &expected,
            ),
            "ListRoles" => assert_error(
                &expect_err!(as_user.list_roles().set_path_prefix(prefix).send().await),
                "AccessDenied",
                &expected,
            ),
            "ListGroups" => assert_error(
                &expect_err!(as_user.list_groups().set_path_prefix(prefix).send().await),
                "AccessDenied",
                &expected,
            ),
            "ListPolicies" => assert_error(
                &expect_err!(as_user.list_policies().set_path_prefix(prefix).send().await),
                "AccessDenied",
                &expected,
            ),
            other => unreachable!("{other}"),
        }
    }
}

#[tokio::test]
async fn a_policy_on_a_path_allows_listing_that_path_only() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let path = format!("/team-{p}/");
    let policy = policy_document(&[statement(
        "Allow",
        &["iam:ListUsers"],
        &[&format!("arn:aws:iam::{DEV_ACCOUNT}:user/team-{p}/*")],
    )]);
    let (arn, creds) = create_user_with_key(&iam, &format!("team-lister-{p}"), Some(&policy)).await;
    let member = format!("member-{p}");
    iam.create_user()
        .user_name(&member)
        .path(&path)
        .send()
        .await
        .expect("CreateUser");
    let as_user = server.iam_client_as(&creds);

    let listed = as_user
        .list_users()
        .path_prefix(&path)
        .send()
        .await
        .expect("ListUsers on the allowed path");
    let names: Vec<&str> = listed.users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, vec![member.as_str()]);

    let e = expect_err!(as_user.list_users().send().await);
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(
            &arn,
            "iam:ListUsers",
            Some(&format!("arn:aws:iam::{DEV_ACCOUNT}:user/")),
        ),
    );
}

#[tokio::test]
async fn attaching_a_policy_is_authorized_with_its_arn_as_iam_policy_arn() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let name = format!("attacher-{}", short_id());
    let me = user_arn(&name);
    let policy = policy_document(&[
        statement("Allow", &["iam:AttachUserPolicy"], &[&me]),
        json!({
            "Effect": "Deny",
            "Action": "iam:AttachUserPolicy",
            "Resource": &me,
            "Condition": {"ArnEquals": {"iam:PolicyARN": ADMINISTRATOR_ACCESS}}
        }),
    ]);
    let (_, creds) = create_user_with_key(&iam, &name, Some(&policy)).await;
    let as_user = server.iam_client_as(&creds);

    let e = expect_err!(
        as_user
            .attach_user_policy()
            .user_name(&name)
            .policy_arn(ADMINISTRATOR_ACCESS)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &denied_message(
            &me,
            "iam:AttachUserPolicy",
            Some(&me),
            "with an explicit deny in an identity-based policy",
        ),
    );
    as_user
        .attach_user_policy()
        .user_name(&name)
        .policy_arn(READ_ONLY_ACCESS)
        .send()
        .await
        .expect("AttachUserPolicy of another policy");

    let attached = iam
        .list_attached_user_policies()
        .user_name(&name)
        .send()
        .await
        .expect("ListAttachedUserPolicies");
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|a| a.policy_arn())
        .collect();
    assert_eq!(arns, vec![READ_ONLY_ACCESS]);
}

#[tokio::test]
async fn creating_a_user_is_authorized_with_its_boundary_as_iam_permissions_boundary() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let bounded = format!("arn:aws:iam::{DEV_ACCOUNT}:user/bounded-{p}-*");
    let only_read_only_boundary = json!({"StringEquals": {"iam:PermissionsBoundary": READ_ONLY_ACCESS}});
    let policy = policy_document(&[json!({
        "Effect": "Allow",
        "Action": ["iam:CreateUser", "iam:PutUserPermissionsBoundary"],
        "Resource": bounded,
        "Condition": only_read_only_boundary
    })]);
    let (arn, creds) = create_user_with_key(&iam, &format!("creator-{p}"), Some(&policy)).await;
    let as_user = server.iam_client_as(&creds);

    let unbounded = format!("bounded-{p}-a");
    let e = expect_err!(as_user.create_user().user_name(&unbounded).send().await);
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(&arn, "iam:CreateUser", Some(&user_arn(&unbounded))),
    );
    let e = expect_err!(
        as_user
            .create_user()
            .user_name(&unbounded)
            .permissions_boundary(ADMINISTRATOR_ACCESS)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(&arn, "iam:CreateUser", Some(&user_arn(&unbounded))),
    );

    let created = as_user
        .create_user()
        .user_name(&unbounded)
        .permissions_boundary(READ_ONLY_ACCESS)
        .send()
        .await
        .expect("CreateUser with the allowed boundary")
        .user
        .expect("User");
    assert_eq!(
        created
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(READ_ONLY_ACCESS)
    );

    // Setting a boundary is authorized with the boundary it sets.
    let e = expect_err!(
        as_user
            .put_user_permissions_boundary()
            .user_name(&unbounded)
            .permissions_boundary(ADMINISTRATOR_ACCESS)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(
            &arn,
            "iam:PutUserPermissionsBoundary",
            Some(&user_arn(&unbounded)),
        ),
    );
    as_user
        .put_user_permissions_boundary()
        .user_name(&unbounded)
        .permissions_boundary(READ_ONLY_ACCESS)
        .send()
        .await
        .expect("PutUserPermissionsBoundary with the allowed boundary");
}

#[tokio::test]
async fn role_actions_see_the_roles_tags_as_iam_resource_tags() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let policy = policy_document(&[json!({
        "Effect": "Allow",
        "Action": "iam:GetRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:ResourceTag/team": "blue"}}
    })]);
    let (arn, creds) = create_user_with_key(&iam, &format!("tag-reader-{p}"), Some(&policy)).await;
    let trust = trust_policy(&[DEV_ACCOUNT]);
    let tag = |team: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key("team")
            .value(team)
            .build()
            .expect("tag")
    };
    for team in ["blue", "red"] {
        iam.create_role()
            .role_name(format!("{team}-{p}"))
            .assume_role_policy_document(&trust)
            .tags(tag(team))
            .send()
            .await
            .expect("CreateRole");
    }
    let as_user = server.iam_client_as(&creds);
    as_user
        .get_role()
        .role_name(format!("blue-{p}"))
        .send()
        .await
        .expect("GetRole of a role tagged team=blue");
    let e = expect_err!(as_user.get_role().role_name(format!("red-{p}")).send().await);
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(
            &arn,
            "iam:GetRole",
            Some(&format!("arn:aws:iam::{DEV_ACCOUNT}:role/red-{p}")),
        ),
    );
}

#[tokio::test]
async fn renaming_a_user_needs_permission_on_the_new_name_too() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let policy = policy_document(&[statement(
        "Allow",
        &["iam:UpdateUser"],
        &[&format!("arn:aws:iam::{DEV_ACCOUNT}:user/old-{p}-*")],
    )]);
    let (arn, creds) = create_user_with_key(&iam, &format!("renamer-{p}"), Some(&policy)).await;
    let old = format!("old-{p}-a");
    iam.create_user()
        .user_name(&old)
        .send()
        .await
        .expect("CreateUser");
    let as_user = server.iam_client_as(&creds);

    let new = format!("new-{p}-a");
    let e = expect_err!(
        as_user
            .update_user()
            .user_name(&old)
            .new_user_name(&new)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(&arn, "iam:UpdateUser", Some(&user_arn(&new))),
    );
    let allowed = format!("old-{p}-b");
    as_user
        .update_user()
        .user_name(&old)
        .new_user_name(&allowed)
        .send()
        .await
        .expect("UpdateUser within the allowed names");
    iam.get_user()
        .user_name(&allowed)
        .send()
        .await
        .expect("the renamed user");
}

#[tokio::test]
async fn access_key_last_used_is_authorized_on_the_keys_user() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("key-reader-{p}");
    let me = user_arn(&name);
    let policy = policy_document(&[statement("Allow", &["iam:GetAccessKeyLastUsed"], &[&me])]);
    let (_, creds) = create_user_with_key(&iam, &name, Some(&policy)).await;
    let other = format!("key-owner-{p}");
    let (other_arn, other_creds) = create_user_with_key(&iam, &other, None).await;
    let as_user = server.iam_client_as(&creds);

    let own = as_user
        .get_access_key_last_used()
        .access_key_id(&creds.access_key_id)
        .send()
        .await
        .expect("GetAccessKeyLastUsed of an own key");
    assert_eq!(own.user_name(), Some(name.as_str()));

    let e = expect_err!(
        as_user
            .get_access_key_last_used()
            .access_key_id(&other_creds.access_key_id)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &no_identity_policy(&me, "iam:GetAccessKeyLastUsed", Some(&other_arn)),
    );
}

#[tokio::test]
async fn a_trust_policy_keeps_the_unique_id_of_a_deleted_user() {
    let server = TestServer::start();
    let iam = server.iam_client();
    let p = short_id();
    let path = format!("/trust-{p}/");
    let role_name = format!("trusting-{p}");
    let role_arn = format!("arn:aws:iam::{DEV_ACCOUNT}:role{path}{role_name}");
    let assume = policy_document(&[statement("Allow", &["sts:AssumeRole"], &[&role_arn])]);
    let name = format!("trusted-{p}");
    let (arn, creds) = create_user_with_key(&iam, &name, Some(&assume)).await;
    let old_id = iam
        .get_user()
        .user_name(&name)
        .send()
        .await
        .expect("GetUser")
        .user
        .expect("User")
        .user_id;
    iam.create_role()
        .role_name(&role_name)
        .path(&path)
        .assume_role_policy_document(trust_policy(&[&arn]))
        .send()
        .await
        .expect("CreateRole");
    let shown = |doc: &str| aws_principals(doc);
    let role = iam
        .get_role()
        .role_name(&role_name)
        .send()
        .await
        .expect("GetRole")
        .role
        .expect("Role");
    assert_eq!(
        shown(role.assume_role_policy_document().expect("document")),
        vec![arn.clone()],
        "a user that exists is shown by its ARN"
    );

    // Delete the user (its key and policy first).
    iam.delete_access_key()
        .user_name(&name)
        .access_key_id(&creds.access_key_id)
        .send()
        .await
        .expect("DeleteAccessKey");
    iam.delete_user_policy()
        .user_name(&name)
        .policy_name("inline")
        .send()
        .await
        .expect("DeleteUserPolicy");
    iam.delete_user()
        .user_name(&name)
        .send()
        .await
        .expect("DeleteUser");

    // GetRole, ListRoles and GetAccountAuthorizationDetails show the gone user by its unique id.
    let role = iam
        .get_role()
        .role_name(&role_name)
        .send()
        .await
        .expect("GetRole")
        .role
        .expect("Role");
    let trust = role
        .assume_role_policy_document()
        .expect("AssumeRolePolicyDocument");
    assert_eq!(shown(trust), vec![old_id.clone()]);
    let listed = iam
        .list_roles()
        .path_prefix(&path)
        .send()
        .await
        .expect("ListRoles");
    let listed_trust: Vec<Vec<String>> = listed
        .roles
        .iter()
        .map(|r| shown(r.assume_role_policy_document().expect("document")))
        .collect();
    assert_eq!(listed_trust, vec![vec![old_id.clone()]]);
    let details_trust = || async {
        let details = iam
            .get_account_authorization_details()
            .filter(aws_sdk_iam::types::EntityType::Role)
            .send()
            .await
            .expect("GetAccountAuthorizationDetails");
        let entry = details
            .role_detail_list()
            .iter()
            .find(|r| r.role_name() == Some(role_name.as_str()))
            .expect("the role's entry")
            .clone();
        shown(entry.assume_role_policy_document().expect("document"))
    };
    assert_eq!(details_trust().await, vec![old_id.clone()]);

    // A new user under the same name is someone else: the trust policy still names the old id,
    // and the new user can't assume the role.
    let (new_arn, new_creds) = create_user_with_key(&iam, &name, Some(&assume)).await;
    assert_eq!(new_arn, arn);
    let role = iam
        .get_role()
        .role_name(&role_name)
        .send()
        .await
        .expect("GetRole")
        .role
        .expect("Role");
    assert_eq!(
        shown(role.assume_role_policy_document().expect("document")),
        vec![old_id.clone()]
    );
    assert_eq!(details_trust().await, vec![old_id]);
    let e = expect_err!(
        server
            .sts_client_as(&new_creds)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("impostor")
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDenied",
        &denied_message(
            &arn,
            "sts:AssumeRole",
            Some(&role_arn),
            "because no role trust policy allows the sts:AssumeRole action",
        ),
    );
}
