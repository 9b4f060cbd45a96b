//! KMS keys and the organization's accounts in the console: a key made with an alias, disabled
//! and enabled, rotation turned on, its key policy edited (a bad one refused with KMS's error),
//! its deletion scheduled and cancelled; an account created in the organization.

use kinko_tests::browser::Browser;
use kinko_tests::*;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_created_disabled_enabled_rotated_and_its_deletion_cancelled() {
    let Some(b) = Browser::start().await else {
        return;
    };
    sign_in_as_root(&b).await;
    b.client.goto(&url("/console/kms")).await.expect("goto");
    let alias = format!("alias/console-{}", short_id());
    b.fill("#alias", &alias).await;
    b.fill("#description", "made in the console").await;
    b.click_to_next_page("form.card button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#key-state").await, "Enabled");
    let arn = b.text("#key-arn").await;
    let kms = server().kms_client();
    let described = ok(kms.describe_key().key_id(&alias).send().await);
    assert_eq!(
        described.key_metadata().expect("metadata").arn(),
        Some(arn.as_str())
    );

    b.click_to_next_page("form input[value=disable] + button").await;
    assert_eq!(b.text("#key-state").await, "Disabled");
    b.click_to_next_page("form input[value=enable] + button").await;
    assert_eq!(b.text("#key-state").await, "Enabled");
    b.click_to_next_page("form input[value=rotation_on] + button")
        .await;
    let rotation = ok(kms.get_key_rotation_status().key_id(&arn).send().await);
    assert!(rotation.key_rotation_enabled());

    // A key policy that is not JSON: KMS's own refusal, the policy unchanged.
    b.fill("#key-policy", "{ not json").await;
    b.click_to_next_page("form input[value=policy] ~ div button")
        .await;
    assert!(
        b.text(".alert.error")
            .await
            .starts_with("MalformedPolicyDocumentException: ")
    );

    b.fill("#days", "7").await;
    b.click_to_next_page("button.danger").await;
    assert_eq!(b.text("#key-state").await, "PendingDeletion");
    assert!(
        b.text(".alert.warning")
            .await
            .starts_with("This key is scheduled for deletion on")
    );
    b.screenshot("18-kms-key-pending-deletion").await;
    b.click_to_next_page(".alert.warning button").await;
    assert_eq!(b.text("#key-state").await, "Disabled");
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_created_in_the_organization() {
    let Some(b) = Browser::start().await else {
        return;
    };
    sign_in_as_root(&b).await;
    b.client.goto(&url("/console/organizations")).await.expect("goto");
    let name = format!("console-{}", short_id());
    b.fill("#account_name", &name).await;
    b.fill("#email", &format!("{name}@example.com")).await;
    b.click_to_next_page("form.card button.primary").await;
    assert!(b.text(".alert.ok").await.starts_with("Account creation:"));
    let listed = b.text("table.accounts").await;
    assert!(listed.contains(server().account_id()), "{listed}");
    // Created in the background, as Organizations does: the list shows it once it exists.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        b.client.goto(&url("/console/organizations")).await.expect("goto");
        if b.text("table.accounts").await.contains(&name) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{name} not listed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.screenshot("19-organization").await;
    b.quit().await;
}
