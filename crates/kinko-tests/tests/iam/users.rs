//! IAM users with inline and managed policies (customer and AWS managed), and IAM actions needing
//! permission too.

use kinko_tests::*;
use serde_json::{Value, json};

use crate::*;

/// An application user with a managed policy allowing reads of `app/*`: it reads a JSON secret by
/// name and ARN, describes it, and is denied writes, deletes, listing and other secrets (named by
/// what the request said: AWS authorizes before looking the secret up).
#[tokio::test]
async fn read_only_user_reads_json_secret_by_name_and_arn_but_cannot_write() {
    let server = server();
    let iam = server.iam_client();
    let p = short_id();
    let name = format!("{p}/app/db");
    let value = json!({"username": "app", "password": "s3cr3t!;=", "host": "db.internal", "port": 5432});
    let arn = secret(&name, &value.to_string()).await;
    let policy_name = format!("secrets-read-{p}");
    let actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"];
    let document = allow(&actions, &[&secret_pattern(&format!("{p}/app/*"))]);
    let req = iam
        .create_policy()
        .policy_name(&policy_name)
        .policy_document(document);
    let policy_arn = ok(req.send().await)
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    assert_eq!(
        policy_arn,
        format!("arn:aws:iam::{DEV_ACCOUNT}:policy/{policy_name}")
    );
    let user = server.user_named(&format!("app-{p}"), None).await;
    assert_eq!(user.arn, format!("arn:aws:iam::{DEV_ACCOUNT}:user/app-{p}"));
    let attach = iam
        .attach_user_policy()
        .user_name(&user.name)
        .policy_arn(&policy_arn);
    ok(attach.send().await);
    assert!(user.access_key_id.starts_with("AKIA"), "{}", user.access_key_id);
    let who = ok(user.sts().get_caller_identity().send().await);
    assert_eq!(who.arn.as_deref(), Some(user.arn.as_str()));
    assert!(
        who.user_id.as_deref().is_some_and(|u| u.starts_with("AIDA")),
        "{who:?}"
    );

    let app = user.sm();
    for id in [&name, &arn] {
        let parsed: Value = serde_json::from_str(&app.value(id).await).expect("JSON value");
        assert_eq!(parsed["username"], "app");
        assert_eq!(parsed["password"], "s3cr3t!;=");
        assert_eq!(parsed["port"], 5432);
    }
    assert_eq!(app.describe(&name).await.arn.as_deref(), Some(arn.as_str()));
    let no_policy = |action: &str, resource: Option<&str>| {
        sm_denied(&user.arn, action, resource, Denial::NoIdentityPolicy)
    };
    let req = app.put_secret_value().secret_id(&name);
    let put = req.secret_string("{}").send().await;
    assert_eq!(
        outcome(put),
        no_policy("secretsmanager:PutSecretValue", Some(&name))
    );
    let delete = app.delete_secret().secret_id(&arn).send().await;
    assert_eq!(
        outcome(delete),
        no_policy("secretsmanager:DeleteSecret", Some(&arn))
    );
    let list = app.list_secrets().send().await;
    assert_eq!(outcome(list), no_policy("secretsmanager:ListSecrets", None));
    let ghost = format!("{p}/nothing/here");
    assert_eq!(
        read(&user, &ghost).await,
        no_policy("secretsmanager:GetSecretValue", Some(&ghost))
    );
    let create = app
        .create_secret()
        .name(format!("{p}/app/new"))
        .secret_string("x");
    let e = expect_err!(create.send().await);
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
    let message = e.message().unwrap_or_default();
    // The name as passed: the same text whether or not a secret has it.
    let expected = no_identity_policy(
        &user.arn,
        "secretsmanager:CreateSecret",
        Some(&format!("{p}/app/new")),
    );
    assert_eq!(message, expected);
}

#[tokio::test]
async fn list_secrets_with_a_star_resource_lists() {
    let server = server();
    let name = format!("{}/listed", short_id());
    secret(&name, "v").await;
    let user = server
        .user("lister", Some(&allow(&["secretsmanager:ListSecrets"], &["*"])))
        .await;
    let out = ok(user.sm().list_secrets().filters(name_filter(&name)).send().await);
    let names: Vec<_> = out
        .secret_list()
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    assert_eq!(names, [name.as_str()]);
}

#[tokio::test]
async fn aws_managed_read_only_access_describes_but_does_not_read_values() {
    let server = server();
    let name = format!("{}/ro", short_id());
    secret(&name, "v").await;
    let user = server.user("ro", None).await;
    let attach = server.iam_client().attach_user_policy().user_name(&user.name);
    ok(attach
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await);
    let app = user.sm();
    app.describe(&name).await;
    app.versions(&name, false).await;
    ok(app.list_secrets().send().await);
    assert_read_denied(&user, &name, Denial::NoIdentityPolicy).await;
}

/// IAM actions need permission too; a user allowed iam:CreateUser and iam:DeleteUser on
/// `user/would-be-*` may then do them.
#[tokio::test]
async fn iam_actions_need_permission_too() {
    let (server, target) = (server(), format!("would-be-{}", short_id()));
    let user = server.user("no-iam", None).await;
    let create = || user.iam().create_user().user_name(&target).send();
    let target_arn = format!("arn:aws:iam::{DEV_ACCOUNT}:user/{target}");
    let no_policy = Denial::NoIdentityPolicy;
    let expected = denied(&user.arn, "iam:CreateUser", Some(&target_arn), no_policy);
    assert_eq!(outcome(create().await), expected);
    let list = outcome(user.iam().list_users().send().await);
    let users_path = format!("arn:aws:iam::{DEV_ACCOUNT}:user/");
    assert_eq!(
        list,
        denied(&user.arn, "iam:ListUsers", Some(&users_path), no_policy)
    );
    let scope = format!("arn:aws:iam::{DEV_ACCOUNT}:user/would-be-*");
    let admin = allow(&["iam:CreateUser", "iam:DeleteUser"], &[&scope]);
    let req = server.iam_client().put_user_policy().user_name(&user.name);
    ok(req.policy_name("user-admin").policy_document(admin).send().await);
    ok(create().await);
    ok(user.iam().delete_user().user_name(&target).send().await);
}

#[tokio::test]
async fn delete_user_with_an_access_key_is_a_conflict() {
    let server = server();
    let user = server.user("has-key", None).await;
    let req = server.iam_client().delete_user();
    let out = req.user_name(&user.name).send().await;
    let message = "Cannot delete entity, must delete access keys first.";
    assert_eq!(outcome(out), failed("DeleteConflict", message));
}

/// GetPolicy answers an empty `Tags` list for a policy without tags; CreatePolicy and
/// ListPolicies leave it out, as AWS does.
#[tokio::test]
async fn get_policy_lists_no_tags_as_an_empty_list() {
    let iam = server().iam_client();
    let path = format!("/{}/", short_id());
    let doc = allow(&["iam:GetUser"], &["*"]);
    let req = iam.create_policy().policy_name("untagged").path(&path);
    let created = ok(req.policy_document(doc).send().await).policy.expect("Policy");
    assert_eq!(created.tags, None);
    let arn = created.arn.expect("Arn");
    let got = ok(iam.get_policy().policy_arn(&arn).send().await)
        .policy
        .expect("Policy");
    assert_eq!(got.tags, Some(Vec::new()));
    let listed = ok(iam.list_policies().path_prefix(&path).send().await);
    let listed = listed.policies();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tags, None);
    ok(iam.delete_policy().policy_arn(&arn).send().await);
}
