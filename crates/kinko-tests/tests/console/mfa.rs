//! MFA in the console: an IAM user assigns a virtual MFA device on their own page (QR code and
//! secret key, then two consecutive codes), signs out, and signs in again with password and MFA
//! code; a wrong code is refused. The session so made carries `aws:MultiFactorAuthPresent`: a
//! policy that allows listing secrets only with MFA allows it now, and did not before. Removing
//! the device takes the password again; then the password alone signs the user in.
//!
//! The root user does the same on its security credentials page, on a server of its own (the
//! other tests sign in as the root user of theirs with the password alone).
//!
//! Codes are computed by the `totp-rs` crate from the secret key the page shows, at the system
//! time the server also reads.

use std::sync::OnceLock;

use kinko_tests::browser::Browser;
use kinko_tests::*;
use serde_json::json;

use crate::*;

/// The code of the 30-second step `steps` away from now for the base32 `secret`.
pub(crate) fn code(secret: &str, steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("a base32 secret");
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes).expect("TOTP");
    let at = now_secs() + steps * 30;
    totp.generate(u64::try_from(at).expect("after the epoch"))
}

/// Another six digits than `code`.
fn other_than(code: &str) -> String {
    format!(
        "{:06}",
        (code.parse::<u32>().expect("digits") + 500_000) % 1_000_000
    )
}

async fn sign_in_with_password(b: &Browser, user: &str, password: &str) {
    b.client.goto(&url("/console/signin")).await.expect("goto");
    b.fill("#account", server().account_id()).await;
    b.fill("#user_name", user).await;
    b.fill("#password", password).await;
    b.click_to_next_page("form button.primary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_assigns_mfa_then_signs_in_with_a_code() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let user = format!("mfa-user-{}", short_id());
    let iam = s.iam_client();
    ok(iam.create_user().user_name(&user).send().await);
    let policy = policy_document(&[
        statement("Allow", &["iam:*"], &["*"]),
        json!({
            "Effect": "Allow",
            "Action": "secretsmanager:ListSecrets",
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }),
    ]);
    ok(iam
        .put_user_policy()
        .user_name(&user)
        .policy_name("mfa-to-list")
        .policy_document(policy)
        .send()
        .await);
    let password = "Mfa-Passw0rd-Long!";
    ok(iam
        .create_login_profile()
        .user_name(&user)
        .password(password)
        .send()
        .await);

    sign_in_with_password(&b, &user, password).await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets"
    );
    // Without MFA, the policy allows no listing.
    assert!(
        b.text(".alert.error")
            .await
            .starts_with("AccessDeniedException: "),
        "denied without MFA"
    );

    // Assign a device on the user's own page.
    let page = format!("/console/iam/users/details?name={user}");
    b.client.goto(&url(&page)).await.expect("goto");
    assert_eq!(b.text("#mfa-none").await, "No MFA device is assigned.");
    b.click_to_next_page("#mfa form button.primary").await;
    let secret = b.text("#mfa-secret-key").await;
    assert_eq!(secret.len(), 64, "the secret key: {secret}");
    // The QR code is an image the page's own policy lets the browser load.
    let width = b
        .client
        .execute(
            "const i = document.querySelector('#mfa-qr'); return i.complete ? i.naturalWidth : -1;",
            vec![],
        )
        .await
        .expect("script");
    assert!(width.as_i64().is_some_and(|w| w > 100), "QR image width {width}");
    b.screenshot("16-assign-mfa").await;
    // Two codes that don't follow each other: AWS's refusal, and the same device offered again.
    b.fill("#mfa_code_1", &code(&secret, 0)).await;
    b.fill("#mfa_code_2", &code(&secret, -1)).await;
    b.click_to_next_page("#mfa form button.primary").await;
    assert_eq!(
        b.text(".alert.error").await,
        "InvalidAuthenticationCode: Authentication code for device is not valid."
    );
    assert_eq!(b.text("#mfa-secret-key").await, secret);
    b.fill("#mfa_code_1", &code(&secret, -1)).await;
    b.fill("#mfa_code_2", &code(&secret, 0)).await;
    b.click_to_next_page("#mfa form button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let serial = format!("arn:aws:iam::{}:mfa/{user}", s.account_id());
    assert_eq!(b.text("#mfa-devices td code").await, serial);
    assert_clean_log(&b).await;

    // Sign out, then in again: the password, then the MFA code.
    b.click_to_next_page("form[action='/console/signout'] button")
        .await;
    sign_in_with_password(&b, &user, password).await;
    assert_eq!(b.text("label[for=mfa_code]").await, "MFA code");
    // The codes of the enabling are used; the next one is good, within a step of now.
    let next = code(&secret, 1);
    b.fill("#mfa_code", &other_than(&next)).await;
    b.click_to_next_page("form button.primary").await;
    assert_eq!(
        b.text(".alert.error").await,
        "The MFA code is not valid. Enter the current code from your device."
    );
    b.screenshot("17-mfa-code-refused").await;
    b.fill("#mfa_code", &next).await;
    b.click_to_next_page("form button.primary").await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets"
    );
    assert!(b.text("header .who").await.contains(&user));
    // With MFA, the same policy allows the listing.
    assert!(
        !b.source().await.contains("AccessDeniedException"),
        "listing allowed with MFA"
    );
    assert_clean_log(&b).await;

    // Removing the device takes the password again: a wrong one changes nothing.
    b.client.goto(&url(&page)).await.expect("goto");
    b.fill("#mfa-devices input[name=confirm_password]", "not the password")
        .await;
    b.click_to_next_page("#mfa-devices button.danger").await;
    assert_eq!(
        b.text(".alert.error").await,
        "Your password is not correct: nothing was changed."
    );
    assert_eq!(b.text("#mfa-devices td code").await, serial);
    b.fill("#mfa-devices input[name=confirm_password]", password)
        .await;
    b.click_to_next_page("#mfa-devices button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#mfa-none").await, "No MFA device is assigned.");
    // Deactivated and deleted.
    let devices = ok(iam.list_virtual_mfa_devices().send().await);
    assert!(
        devices
            .virtual_mfa_devices()
            .iter()
            .all(|d| d.serial_number() != serial),
        "the device is deleted"
    );
    // Without a device, the password alone signs the user in again (and without MFA, the
    // listing is denied again).
    b.click_to_next_page("form[action='/console/signout'] button")
        .await;
    sign_in_with_password(&b, &user, password).await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets"
    );
    assert!(
        b.text(".alert.error")
            .await
            .starts_with("AccessDeniedException: "),
        "denied without MFA"
    );
    assert_clean_log(&b).await;
    b.quit().await;
}

static ROOT_MFA: OnceLock<TestServer> = OnceLock::new();

/// A server whose root user has a console password, for the root user's MFA alone.
fn root_mfa_server() -> &'static TestServer {
    TestServer::start_shared_with(&ROOT_MFA, |c| {
        c.console.root_password_hash = Some(kinko_console::hash_password(ROOT_PASSWORD).expect("a hash"));
    })
}

/// Signs in as the root user of [`root_mfa_server`] with the password (the first step).
async fn root_password_step(b: &Browser) {
    let s = root_mfa_server();
    b.client
        .goto(&format!("http://{}/console/signin", s.addr()))
        .await
        .expect("goto");
    b.click("input[name=kind][value=root]").await;
    b.fill("#account", s.account_id()).await;
    b.fill("#password", ROOT_PASSWORD).await;
    b.click_to_next_page("form button.primary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_user_assigns_mfa_then_signs_in_with_a_code() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = root_mfa_server();
    let account = s.account_id().to_owned();
    // Reading the secret is denied to the root user unless its session was made with MFA.
    let (arn, _) = s.client().create_string("root-mfa/guarded", "v").await;
    let deny_without_mfa = policy_document(&[json!({
        "Effect": "Deny",
        "Principal": {"AWS": root_arn(&account)},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    })]);
    ok(s.client()
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy(deny_without_mfa)
        .send()
        .await);

    root_password_step(&b).await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets"
    );
    // Without MFA, the resource policy denies the value.
    let details = format!(
        "http://{}/console/secrets/details?id=root-mfa%2Fguarded",
        s.addr()
    );
    b.client.goto(&details).await.expect("goto");
    b.click_to_next_page("#value button.primary").await;
    assert!(
        b.text(".alert.error")
            .await
            .starts_with("AccessDeniedException: "),
        "denied without MFA"
    );

    // The root user's security credentials page, from the header.
    b.click_to_next_page("#security-credentials").await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/iam/security"
    );
    assert_eq!(b.text("#mfa-none").await, "No MFA device is assigned.");
    b.click_to_next_page("#mfa form button.primary").await;
    let secret = b.text("#mfa-secret-key").await;
    assert_eq!(secret.len(), 64, "the secret key: {secret}");
    b.fill("#mfa_code_1", &code(&secret, 0)).await;
    b.fill("#mfa_code_2", &code(&secret, -1)).await;
    b.click_to_next_page("#mfa form button.primary").await;
    assert_eq!(
        b.text(".alert.error").await,
        "InvalidAuthenticationCode: Authentication code for device is not valid."
    );
    b.fill("#mfa_code_1", &code(&secret, -1)).await;
    b.fill("#mfa_code_2", &code(&secret, 0)).await;
    b.click_to_next_page("#mfa form button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let serial = format!("arn:aws:iam::{account}:mfa/root-account-mfa-device");
    assert_eq!(b.text("#mfa-devices td code").await, serial);
    b.screenshot("18-root-assigns-mfa").await;
    assert_clean_log(&b).await;
    // The IAM API sees the root user's device.
    let listed = ok(s.iam_client().list_mfa_devices().send().await);
    assert_eq!(listed.mfa_devices.len(), 1);
    assert_eq!(listed.mfa_devices[0].serial_number, serial);

    // Sign out, then in again: the password, then the MFA code.
    b.click_to_next_page("form[action='/console/signout'] button")
        .await;
    root_password_step(&b).await;
    assert_eq!(b.text("label[for=mfa_code]").await, "MFA code");
    let next = code(&secret, 1);
    b.fill("#mfa_code", &other_than(&next)).await;
    b.click_to_next_page("form button.primary").await;
    assert_eq!(
        b.text(".alert.error").await,
        "The MFA code is not valid. Enter the current code from your device."
    );
    b.fill("#mfa_code", &next).await;
    b.click_to_next_page("form button.primary").await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets"
    );
    assert!(b.text("header .who").await.contains("root"));
    // The session carries aws:MultiFactorAuthPresent: the value is shown now.
    b.client.goto(&details).await.expect("goto");
    b.click_to_next_page("#value button.primary").await;
    assert_eq!(b.text("#secret-plaintext").await, "v");
    assert_clean_log(&b).await;

    // Removing the device takes the password again.
    b.click_to_next_page("#security-credentials").await;
    b.fill("#mfa-devices input[name=confirm_password]", "not the password")
        .await;
    b.click_to_next_page("#mfa-devices button.danger").await;
    assert_eq!(
        b.text(".alert.error").await,
        "Your password is not correct: nothing was changed."
    );
    assert_eq!(b.text("#mfa-devices td code").await, serial);
    b.fill("#mfa-devices input[name=confirm_password]", ROOT_PASSWORD)
        .await;
    b.click_to_next_page("#mfa-devices button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#mfa-none").await, "No MFA device is assigned.");
    assert!(
        ok(s.iam_client().list_virtual_mfa_devices().send().await)
            .virtual_mfa_devices
            .is_empty()
    );
    // Without a device, the password alone signs the root user in again.
    b.click_to_next_page("form[action='/console/signout'] button")
        .await;
    root_password_step(&b).await;
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/secrets"
    );
    assert_clean_log(&b).await;
    b.quit().await;
}
