//! An IAM user in the console: signs in with account id, user name and the password an
//! administrator gave (CreateLoginProfile with PasswordResetRequired), must set a new one first,
//! then sees what their policies allow, and AWS's AccessDenied text where they don't.

use kinko_tests::browser::Browser;
use kinko_tests::*;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_changes_the_given_password_then_reads_one_secret_and_is_denied_another() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let sm = s.client();
    let readable = ok(sm
        .create_secret()
        .name(format!("team/readable-{}", short_id()))
        .secret_string(r#"{"api_key":"k-123"}"#)
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    let other = ok(sm
        .create_secret()
        .name(format!("team/other-{}", short_id()))
        .secret_string("nope")
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    let user = format!("console-user-{}", short_id());
    let iam = s.iam_client();
    ok(iam.create_user().user_name(&user).send().await);
    ok(iam
        .put_user_policy()
        .user_name(&user)
        .policy_name("read-one")
        .policy_document(policy_document(&[
            statement("Allow", &["secretsmanager:ListSecrets"], &["*"]),
            statement(
                "Allow",
                &["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                &[&readable],
            ),
            statement(
                "Allow",
                &["iam:ChangePassword"],
                &[&format!("arn:aws:iam::{}:user/{user}", s.account_id())],
            ),
        ]))
        .send()
        .await);
    let given = "Given-Passw0rd!";
    ok(iam
        .create_login_profile()
        .user_name(&user)
        .password(given)
        .password_reset_required(true)
        .send()
        .await);

    b.client.goto(&url("/console/signin")).await.expect("goto");
    b.fill("#account", s.account_id()).await;
    b.fill("#user_name", &user).await;
    b.fill("#password", given).await;
    b.click_to_next_page("form button.primary").await;
    // First: a new password.
    let at = b.client.current_url().await.expect("url");
    assert_eq!(at.path(), "/console/password");
    assert_eq!(
        b.text(".alert.error").await,
        "You must set a new password before you continue."
    );
    // Elsewhere is not reachable until then.
    b.client.goto(&url("/console/secrets")).await.expect("goto");
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/password"
    );
    b.screenshot("11-new-password-required").await;
    b.fill("#old", given).await;
    b.fill("#new", "Mine-N0w-and-Longer").await;
    b.fill("#confirm", "Mine-N0w-and-Longer").await;
    b.click_to_next_page("form button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Your password is changed.");
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets"
    );
    assert!(b.text("header .who").await.contains(&user));

    // The secret the user may read: its value.
    b.client
        .goto(&url(&format!("/console/secrets/details?id={readable}")))
        .await
        .expect("goto");
    b.click_to_next_page("#value button.primary").await;
    assert_eq!(b.text("#secret-plaintext").await, r#"{"api_key":"k-123"}"#);
    // Another: AWS's AccessDenied text, from the operation itself.
    b.client
        .goto(&url(&format!("/console/secrets/details?id={other}")))
        .await
        .expect("goto");
    let denied = b.text(".alert.error").await;
    let expected = format!(
        "AccessDeniedException: {}",
        access_denied(
            &format!("arn:aws:iam::{}:user/{user}", s.account_id()),
            "secretsmanager:DescribeSecret",
            Some(&other),
            Denial::NoIdentityPolicy
        )
    );
    assert_eq!(denied, expected);
    b.screenshot("12-access-denied").await;
    assert_clean_log(&b).await;
    b.quit().await;

    // The console's calls are the user's own: the new password works for the next sign-in only.
    let r = ok(iam.get_login_profile().user_name(&user).send().await);
    assert!(!r.login_profile().expect("profile").password_reset_required());
}
