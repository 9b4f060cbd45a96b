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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_switches_into_a_member_accounts_organization_role_and_back() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let member = create_member_account(s).await;
    let user = format!("switcher-{}", short_id());
    let iam = s.iam_client();
    ok(iam.create_user().user_name(&user).send().await);
    let role_arn = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    ok(iam
        .put_user_policy()
        .user_name(&user)
        .policy_name("switch")
        .policy_document(policy_document(&[statement(
            "Allow",
            &["sts:AssumeRole"],
            &[&role_arn],
        )]))
        .send()
        .await);
    let password = "Switch-Passw0rd-1";
    ok(iam
        .create_login_profile()
        .user_name(&user)
        .password(password)
        .send()
        .await);
    b.client.goto(&url("/console/signin")).await.expect("goto");
    b.fill("#account", s.account_id()).await;
    b.fill("#user_name", &user).await;
    b.fill("#password", password).await;
    b.click_to_next_page("form button.primary").await;
    // The user may list no secrets of their own account.
    assert!(
        b.text(".alert.error")
            .await
            .starts_with("AccessDeniedException: ")
    );

    b.click_to_next_page("header a[href='/console/switch-role']")
        .await;
    b.fill("#account", &member).await;
    b.fill("#role", "OrganizationAccountAccessRole").await;
    b.screenshot("15-switch-role").await;
    b.click_to_next_page("form button.primary").await;
    // Now the member account's administrator role: its secrets, and storing one.
    let who = b.text("header .who").await;
    assert!(
        who.contains(&format!("OrganizationAccountAccessRole/{user}")) && who.contains(&member),
        "{who}"
    );
    assert!(
        b.client
            .find(fantoccini::Locator::Css(".alert.error"))
            .await
            .is_err()
    );
    b.click_to_next_page("a.button.primary").await;
    b.fill("tbody tr:nth-child(1) input[name=k]", "k").await;
    b.fill("tbody tr:nth-child(1) input[name=v]", "v").await;
    b.fill("#name", "member-secret").await;
    b.click_to_next_page("button[value=store]").await;
    assert_eq!(b.text(".alert.ok").await, "Secret stored.");
    let arn = b
        .client
        .find(fantoccini::Locator::Css("table.list a"))
        .await
        .expect("the secret")
        .attr("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert!(
        arn.contains(&format!("%3A{member}%3Asecret%3Amember-secret-")),
        "{arn}"
    );
    b.screenshot("16-switched").await;

    // Back: the user's own (lack of) permissions again.
    b.click_to_next_page("header form[action='/console/switch-back'] button")
        .await;
    assert!(
        b.text(".alert.error")
            .await
            .starts_with("AccessDeniedException: ")
    );
    assert!(b.text("header .who").await.contains(&user));
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_denied_the_role_stays_who_they_are() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let user = format!("noswitch-{}", short_id());
    let iam = s.iam_client();
    ok(iam.create_user().user_name(&user).send().await);
    let password = "NoSwitch-Passw0rd-1";
    ok(iam
        .create_login_profile()
        .user_name(&user)
        .password(password)
        .send()
        .await);
    b.client.goto(&url("/console/signin")).await.expect("goto");
    b.fill("#account", s.account_id()).await;
    b.fill("#user_name", &user).await;
    b.fill("#password", password).await;
    b.click_to_next_page("form button.primary").await;
    b.client.goto(&url("/console/switch-role")).await.expect("goto");
    b.fill("#account", s.account_id()).await;
    b.fill("#role", "some-role").await;
    b.click_to_next_page("form button.primary").await;
    let denied = b.text(".alert.error").await;
    assert!(
        denied.starts_with(&format!(
            "AccessDenied: User: arn:aws:iam::{}:user/{user} is not authorized to perform: sts:AssumeRole",
            s.account_id()
        )),
        "{denied}"
    );
    assert!(b.text("header .who").await.contains(&user));
    b.quit().await;
}
