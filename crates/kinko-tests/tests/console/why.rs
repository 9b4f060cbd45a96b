//! "Why denied?" and "Who can read this secret?": a user denied a secret's value sees AWS's
//! AccessDenied text and, under it, the statement that decided (by its `Sid`); an administrator
//! sees which users may read the secret (the allowed one listed, the denied one not).

use kinko_tests::browser::Browser;
use kinko_tests::*;
use serde_json::json;

use crate::*;

/// A user allowed to see `secret` and to read its value, or (with `deny_sid`) denied the value
/// by that statement of their inline policy `console-read`. Returns the user's ARN.
async fn user_for(
    s: &TestServer,
    name: &str,
    password: &str,
    secret: &str,
    deny_sid: Option<&str>,
) -> String {
    let iam = s.iam_client();
    ok(iam.create_user().user_name(name).send().await);
    let mut statements = vec![
        statement("Allow", &["secretsmanager:ListSecrets"], &["*"]),
        statement(
            "Allow",
            &["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            &[secret],
        ),
    ];
    if let Some(sid) = deny_sid {
        statements.push(json!({"Sid": sid, "Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": secret}));
    }
    ok(iam
        .put_user_policy()
        .user_name(name)
        .policy_name("console-read")
        .policy_document(policy_document(&statements))
        .send()
        .await);
    ok(iam
        .create_login_profile()
        .user_name(name)
        .password(password)
        .send()
        .await);
    format!("arn:aws:iam::{}:user/{name}", s.account_id())
}

/// A secret named `MySecret-<id>`: its ARN.
async fn my_secret(s: &TestServer, id: &str) -> String {
    ok(s.client()
        .create_secret()
        .name(format!("MySecret-{id}"))
        .secret_string("hunter2")
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned()
}

async fn sign_in_as_user(b: &Browser, user: &str, password: &str) {
    b.client.goto(&url("/console/signin")).await.expect("goto");
    b.fill("#account", server().account_id()).await;
    b.fill("#user_name", user).await;
    b.fill("#password", password).await;
    b.click_to_next_page("form button.primary").await;
    assert!(b.text("header .who").await.contains(user));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_user_sees_aws_text_and_the_deciding_statement() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let id = short_id();
    let secret = my_secret(s, &id).await;
    let user = format!("why-denied-{id}");
    let password = "Why-Denied-Passw0rd-1";
    let user_arn = user_for(s, &user, password, &secret, Some("NoPeekingAtMySecret")).await;

    sign_in_as_user(&b, &user, password).await;
    b.client
        .goto(&url(&format!("/console/secrets/details?id={secret}")))
        .await
        .expect("goto");
    b.click_to_next_page("#value button.primary").await;
    // AWS's text, exactly as the API answers it.
    assert_eq!(
        b.text("#value .alert.error").await,
        format!(
            "AccessDeniedException: {}",
            access_denied(
                &user_arn,
                "secretsmanager:GetSecretValue",
                Some(&secret),
                Denial::ExplicitIdentity
            )
        )
    );
    // Under it: the policy (inline, of this user), the statement's index and Sid.
    let why = b.text("#value .why").await;
    assert!(why.starts_with("Why denied"), "{why}");
    assert!(
        why.contains(&format!("the inline policy console-read of user {user}")),
        "{why}"
    );
    assert!(why.contains("statement 2 (Sid \"NoPeekingAtMySecret\")"), "{why}");
    assert!(
        why.contains(&format!("secretsmanager:GetSecretValue on {secret}")),
        "{why}"
    );
    b.screenshot("40-why-denied").await;

    // In Japanese too.
    b.client
        .goto(&url("/console/lang?to=ja&back=/console/secrets"))
        .await
        .expect("goto");
    b.client
        .goto(&url(&format!("/console/secrets/details?id={secret}")))
        .await
        .expect("goto");
    b.click_to_next_page("#value button.primary").await;
    let why = b.text("#value .why").await;
    assert!(why.starts_with("拒否の理由"), "{why}");
    assert!(why.contains("NoPeekingAtMySecret"), "{why}");
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sees_who_can_read_my_secret() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let id = short_id();
    let secret = my_secret(s, &id).await;
    let reader = user_for(s, &format!("may-read-{id}"), "May-Read-Passw0rd-1", &secret, None).await;
    let denied = user_for(
        s,
        &format!("may-not-read-{id}"),
        "May-Not-Read-Passw0rd-1",
        &secret,
        Some("NotThisOne"),
    )
    .await;

    sign_in_as_root(&b).await;
    b.client
        .goto(&url(&format!("/console/secrets/details?id={secret}")))
        .await
        .expect("goto");
    b.click_to_next_page("#readers a").await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets/readers"
    );
    let table = b.text("#readers-table").await;
    assert!(table.contains(&reader), "{table}");
    assert!(!table.contains(&denied), "{table}");
    let hint = b.text("main .card .hint").await;
    assert!(
        hint.contains("users and roles evaluated (at most 1000)"),
        "{hint}"
    );
    b.screenshot("41-who-can-read").await;
    assert_clean_log(&b).await;

    // The denied user may not ask: the operation's AccessDenied, and why.
    let password = "May-Not-Read-Passw0rd-1";
    b.click_to_next_page("header form[action='/console/signout'] button")
        .await;
    sign_in_as_user(&b, &format!("may-not-read-{id}"), password).await;
    b.client
        .goto(&url(&format!("/console/secrets/readers?id={secret}")))
        .await
        .expect("goto");
    let error = b.text(".alert.error").await;
    assert!(
        error.starts_with(&format!(
            "AccessDeniedException: User: {denied} is not authorized to perform: iam:GetAccountAuthorizationDetails"
        )),
        "{error}"
    );
    assert!(
        b.text(".why")
            .await
            .contains("No identity-based policy allows iam:GetAccountAuthorizationDetails.")
    );
    b.quit().await;
}
