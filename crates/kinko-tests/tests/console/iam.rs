//! IAM in the console, as the guides do it: create a policy in the JSON editor (a syntax error
//! names its line and column), create a user with that policy attached directly and an access
//! key shown once, then use the key with the AWS CLI: it reads the one secret the policy allows
//! and is denied another. Access keys are made only after the signed-in root user's password is
//! given again.

use std::process::Command;

use kinko_tests::browser::Browser;
use kinko_tests::*;

use crate::*;

/// `aws secretsmanager get-secret-value` with the given key against the tests' server.
fn cli_get(key_id: &str, secret: &str, secret_id: &str) -> std::process::Output {
    let aws = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/venv/bin/aws");
    assert!(
        aws.is_file(),
        "{} is missing: scripts/setup.sh installs the AWS CLI there",
        aws.display()
    );
    Command::new(aws)
        .args([
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            secret_id,
            "--query",
            "SecretString",
            "--output",
            "text",
            "--endpoint-url",
            &server().endpoint_url(),
            "--region",
            "us-east-1",
        ])
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("the AWS CLI runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_a_policy_and_a_user_with_an_access_key_then_use_it_with_the_cli() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let id = short_id();
    let readable = format!("app/api-{id}");
    let other = format!("app/other-{id}");
    for (name, value) in [(&readable, r#"{"API_KEY":"abc123"}"#), (&other, "hidden")] {
        ok(s.client()
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await);
    }
    sign_in_as_root(&b).await;

    // The policy, in the JSON editor: first with a syntax error.
    b.client.goto(&url("/console/iam/policies")).await.expect("goto");
    b.click_to_next_page("a.button.primary").await;
    b.fill(
        "#document",
        "{\n\"Version\": \"2012-10-17\",\n\"Statement\": [\n}",
    )
    .await;
    let policy_name = format!("read-api-{id}");
    b.fill("#name", &policy_name).await;
    b.click_to_next_page("form button.primary").await;
    let error = b.text(".alert.error").await;
    assert!(error.starts_with("Ln 4, Col 1: "), "{error}");
    let document = format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Action\": [\"secretsmanager:GetSecretValue\", \"secretsmanager:DescribeSecret\"], \"Resource\": \"arn:aws:secretsmanager:us-east-1:{}:secret:app/api-{id}-*\"}}]}}",
        s.account_id()
    );
    b.fill("#document", &document).await;
    b.screenshot("13-create-policy").await;
    b.click_to_next_page("form button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Policy created.");
    assert!(b.text("table.list").await.contains(&policy_name));

    // The user: the policy attached directly, and an access key, after the root password.
    b.client.goto(&url("/console/iam/users/new")).await.expect("goto");
    let user = format!("app-{id}");
    b.fill("#user", &user).await;
    b.click("#access_key").await;
    let policy_arn = format!("arn:aws:iam::{}:policy/{policy_name}", s.account_id());
    b.click(&format!("input[name=policy][value='{policy_arn}']"))
        .await;
    // A wrong password: nothing is made.
    b.fill("#confirm_password", "not the password").await;
    b.click_to_next_page("form button.primary").await;
    assert_eq!(
        b.text(".alert.error").await,
        "Your password is not correct: nothing was changed."
    );
    let users = ok(s.iam_client().list_users().send().await);
    assert!(!users.users().iter().any(|u| u.user_name() == user));
    b.fill("#user", &user).await;
    b.click("#access_key").await;
    b.click(&format!("input[name=policy][value='{policy_arn}']"))
        .await;
    b.fill("#confirm_password", ROOT_PASSWORD).await;
    b.click_to_next_page("form button.primary").await;
    let key_id = b.text("#access-key-id").await;
    let secret = b.text("#secret-access-key").await;
    assert!(key_id.starts_with("AKIA") && secret.len() == 40, "{key_id}");
    b.screenshot("14-access-key-shown-once").await;
    // Shown once: the user's page lists the key id only.
    b.client
        .goto(&url(&format!("/console/iam/users/details?name={user}")))
        .await
        .expect("goto");
    let page = b.source().await;
    assert!(page.contains(&key_id) && !page.contains(&secret));
    assert!(
        b.text("section.card")
            .await
            .contains(&format!("arn:aws:iam::{}:user/{user}", s.account_id()))
    );

    // The AWS CLI with that key: the one secret, and AccessDenied for the other.
    let out = cli_get(&key_id, &secret, &readable);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"API_KEY":"abc123"}"#
    );
    let out = cli_get(&key_id, &secret, &other);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("An error occurred (AccessDeniedException) when calling the GetSecretValue operation"),
        "{stderr}"
    );
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_from_a_trust_policy_and_the_account_password_policy() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    sign_in_as_root(&b).await;
    b.client.goto(&url("/console/iam/roles")).await.expect("goto");
    let role = format!("fn-role-{}", short_id());
    b.fill("#role_name", &role).await;
    b.fill("#trust", "{\"Version\": \"2012-10-17\", \"Statement\": [}")
        .await;
    b.click_to_next_page("form.card button.primary").await;
    assert!(b.text(".alert.error").await.starts_with("Ln 1, Col "));
    // The starter trust policy (Lambda may assume the role) as it is.
    b.client.goto(&url("/console/iam/roles")).await.expect("goto");
    b.fill("#role_name", &role).await;
    b.click_to_next_page("form.card button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Role created.");
    assert!(b.text("table.roles").await.contains(&role));
    let got = ok(s.iam_client().get_role().role_name(&role).send().await);
    let trust = got
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .expect("trust policy");
    assert!(trust.contains("lambda.amazonaws.com"), "{trust}");

    // The account password policy.
    b.click_to_next_page("nav.sub a[href='/console/iam/password-policy']")
        .await;
    b.fill("#MinimumPasswordLength", "12").await;
    b.click("input[name=RequireNumbers]").await;
    b.click_to_next_page("form.card button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let policy = ok(s.iam_client().get_account_password_policy().send().await);
    let policy = policy.password_policy().expect("policy");
    assert_eq!(policy.minimum_password_length(), Some(12));
    assert!(policy.require_numbers());
    assert!(!policy.require_symbols());
    b.screenshot("20-password-policy").await;
    ok(s.iam_client().delete_account_password_policy().send().await);
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_gets_a_user_and_a_policy() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let user = format!("grouped-{}", short_id());
    ok(s.iam_client().create_user().user_name(&user).send().await);
    sign_in_as_root(&b).await;
    b.client.goto(&url("/console/iam/groups")).await.expect("goto");
    let group = format!("readers-{}", short_id());
    b.fill("#group_name", &group).await;
    b.click_to_next_page("form.card button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let card = format!("section.group:has(input[value='{group}'])");
    b.client
        .execute(
            &format!(
                "document.querySelector(\"{card} select[name=user]\").value = '{user}'; document.querySelector(\"{card} select[name=policy]\").value = 'arn:aws:iam::aws:policy/SecretsManagerReadWrite';"
            ),
            vec![],
        )
        .await
        .expect("choose");
    b.click_to_next_page(&format!("{card} form:has(input[value=add_user]) button"))
        .await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    b.click_to_next_page(&format!("{card} form:has(input[value=attach]) button"))
        .await;
    let shown = b.text(&card).await;
    assert!(shown.contains(&user), "{shown}");
    let groups = ok(s
        .iam_client()
        .list_groups_for_user()
        .user_name(&user)
        .send()
        .await);
    assert_eq!(
        groups.groups().first().map(|g| g.group_name()),
        Some(group.as_str())
    );
    let attached = ok(s
        .iam_client()
        .list_attached_group_policies()
        .group_name(&group)
        .send()
        .await);
    assert_eq!(attached.attached_policies().len(), 1, "{shown}");
    b.quit().await;
}
