//! Managing IAM and KMS in the console, as the AWS console does it: a user deleted with what
//! depends on it (its access key, policies, group membership), each removal an operation of the
//! signed-in principal after their password; a permissions boundary that takes effect for the
//! user's own key; policy versions (AWS's limit of five); KMS aliases; and AWS's AccessDenied
//! text for a principal not allowed to delete.

use kinko_tests::browser::Browser;
use kinko_tests::*;

use crate::*;

/// Chooses `value` in the select `css` selects.
async fn choose(b: &Browser, css: &str, value: &str) {
    b.find(css)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("choose {value} in {css}: {e}"));
}

/// Follows the first link `css` selects (a removal's confirmation page), then confirms.
async fn confirm(b: &Browser, css: &str) {
    b.click_to_next_page(css).await;
    b.click_to_next_page("form.confirm button.danger").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_a_key_a_policy_and_a_group_is_deleted() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let iam = s.iam_client();
    let user = s
        .root()
        .new_user("leaving", Some(&allow(&["secretsmanager:ListSecrets"], &["*"])))
        .await;
    let group = format!("leavers-{}", short_id());
    ok(iam.create_group().group_name(&group).send().await);
    ok(iam
        .add_user_to_group()
        .group_name(&group)
        .user_name(&user.name)
        .send()
        .await);
    ok(iam
        .attach_user_policy()
        .user_name(&user.name)
        .policy_arn("arn:aws:iam::aws:policy/SecretsManagerReadWrite")
        .send()
        .await);
    ok(iam
        .create_login_profile()
        .user_name(&user.name)
        .password("Leaving-Passw0rd-1")
        .send()
        .await);
    let device = ok(iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(format!("leaving-{}", short_id()))
        .send()
        .await);
    let device = device.virtual_mfa_device().expect("the device");
    let serial = device.serial_number().to_owned();
    let seed =
        String::from_utf8(device.base32_string_seed().expect("the seed").as_ref().to_vec()).expect("base32");
    ok(iam
        .enable_mfa_device()
        .user_name(&user.name)
        .serial_number(&serial)
        .authentication_code1(crate::mfa::code(&seed, -1))
        .authentication_code2(crate::mfa::code(&seed, 0))
        .send()
        .await);
    // DeleteUser alone refuses while anything depends on the user.
    assert_eq!(
        error_code(iam.delete_user().user_name(&user.name).send().await),
        "DeleteConflict"
    );
    sign_in_as_root(&b).await;
    b.client
        .goto(&url(&format!("/console/iam/users/details?name={}", user.name)))
        .await
        .expect("goto");
    assert!(b.text("#groups").await.contains(&group));
    b.click_to_next_page("a[href^='/console/iam/delete?kind=user']")
        .await;
    let steps = b.text("ol.steps").await;
    for op in [
        "iam:DeleteAccessKey",
        "iam:DeactivateMFADevice",
        "iam:DeleteVirtualMFADevice",
        "iam:DeleteLoginProfile",
        "iam:DeleteUserPolicy",
        "iam:DetachUserPolicy",
        "iam:RemoveUserFromGroup",
        "iam:DeleteUser",
    ] {
        assert!(steps.contains(op), "{op} in {steps}");
    }
    b.screenshot("21-delete-user-confirmation").await;
    // A wrong password: nothing is removed.
    b.fill("#confirm_password", "not the password").await;
    b.click_to_next_page("form.confirm button.danger").await;
    assert_eq!(
        b.text(".alert.error").await,
        "Your password is not correct: nothing was changed."
    );
    ok(iam.get_login_profile().user_name(&user.name).send().await);
    b.click_to_next_page("a[href^='/console/iam/delete?kind=user']")
        .await;
    b.fill("#confirm_password", ROOT_PASSWORD).await;
    b.click_to_next_page("form.confirm button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "User deleted.");
    assert_eq!(
        b.client.current_url().await.expect("url").path(),
        "/console/iam/users"
    );
    assert_eq!(
        error_code(iam.get_user().user_name(&user.name).send().await),
        "NoSuchEntity"
    );
    let members = ok(iam.get_group().group_name(&group).send().await);
    assert!(members.users().is_empty());
    let devices = ok(iam.list_virtual_mfa_devices().send().await);
    assert!(
        devices
            .virtual_mfa_devices()
            .iter()
            .all(|d| d.serial_number() != serial),
        "the user's MFA device is deleted with the user"
    );
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permissions_boundary_limits_what_the_users_key_may_do() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let iam = s.iam_client();
    let user = s
        .root()
        .new_user(
            "bounded",
            Some(&allow(
                &[
                    "secretsmanager:ListSecrets",
                    "secretsmanager:CreateSecret",
                    "secretsmanager:DescribeSecret",
                ],
                &["*"],
            )),
        )
        .await;
    let boundary_name = format!("list-only-{}", short_id());
    let boundary = ok(iam
        .create_policy()
        .policy_name(&boundary_name)
        .policy_document(allow(&["secretsmanager:ListSecrets"], &["*"]))
        .send()
        .await)
    .policy
    .and_then(|p| p.arn)
    .expect("the policy's ARN");
    let sm = user.sm();
    let secret = ok(sm
        .create_secret()
        .name(format!("bounded/{}", short_id()))
        .secret_string("v")
        .send()
        .await)
    .arn
    .expect("the secret's ARN");
    ok(sm.describe_secret().secret_id(&secret).send().await);

    sign_in_as_root(&b).await;
    b.client
        .goto(&url(&format!("/console/iam/users/details?name={}", user.name)))
        .await
        .expect("goto");
    assert_eq!(
        b.text("#boundary p.empty").await,
        "No permissions boundary is set."
    );
    choose(&b, "#boundary_policy", &boundary).await;
    b.click_to_next_page("#boundary form button").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#boundary-arn").await, boundary);
    // Tags on the same page.
    b.fill("#tag_key", "team").await;
    b.fill("#tag_value", "payments").await;
    b.click_to_next_page("#tags form button").await;
    assert!(b.text("table.tags").await.contains("payments"));
    b.client
        .execute("document.querySelector('#boundary').scrollIntoView();", vec![])
        .await
        .expect("scrolled");
    b.screenshot("22-user-boundary-and-tags").await;

    // The user's own key: still listing, but describing is outside the boundary.
    ok(sm.list_secrets().send().await);
    assert_error(
        &expect_err!(sm.describe_secret().secret_id(&secret).send().await),
        "AccessDeniedException",
        &access_denied(
            &user.arn,
            "secretsmanager:DescribeSecret",
            Some(&secret),
            Denial::NoBoundary,
        ),
    );

    // Removed again (after confirmation): the policy allows it again.
    confirm(&b, "#boundary a.button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(
        b.text("#boundary p.empty").await,
        "No permissions boundary is set."
    );
    ok(sm.describe_secret().secret_id(&secret).send().await);
    confirm(&b, "table.tags a.button.danger").await;
    let tags = ok(iam.list_user_tags().user_name(&user.name).send().await);
    assert!(tags.tags().is_empty());
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_versions_are_created_made_default_and_deleted_up_to_five() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let iam = s.iam_client();
    let name = format!("versioned-{}", short_id());
    let arn = ok(iam
        .create_policy()
        .policy_name(&name)
        .policy_document(allow(&["secretsmanager:ListSecrets"], &["*"]))
        .send()
        .await)
    .policy
    .and_then(|p| p.arn)
    .expect("the policy's ARN");
    let user = s.root().new_user("versioned", None).await;
    ok(iam
        .attach_user_policy()
        .user_name(&user.name)
        .policy_arn(&arn)
        .send()
        .await);
    sign_in_as_root(&b).await;
    b.client.goto(&url("/console/iam/policies")).await.expect("goto");
    b.click_to_next_page(&format!("table.list a[href*='{name}']"))
        .await;
    assert_eq!(b.text("#default-version").await, "v1");
    // The editor starts from the default version; a syntax error names its line and column.
    assert!(
        b.find("#document")
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
            .contains("secretsmanager:ListSecrets")
    );
    b.fill("#document", "{\n\"Version\": \"2012-10-17\",\n}").await;
    b.click_to_next_page("#versions form button.primary").await;
    assert!(b.text(".alert.error").await.starts_with("Ln 3, Col 1: "));
    // The document is kept as typed.
    let kept = b.find("#document").await.prop("value").await.expect("value");
    assert_eq!(kept.as_deref(), Some("{\n\"Version\": \"2012-10-17\",\n}"));
    let v2 = allow(
        &["secretsmanager:ListSecrets", "secretsmanager:DescribeSecret"],
        &["*"],
    );
    b.fill("#document", &v2).await;
    b.click_to_next_page("#versions form button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#default-version").await, "v2");
    // Without "set as default": v3 is kept aside.
    b.fill("#document", &v2).await;
    b.click("#set_as_default").await;
    b.click_to_next_page("#versions form button.primary").await;
    assert_eq!(b.text("#default-version").await, "v2");
    for _ in 0..2 {
        ok(iam
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(&v2)
            .send()
            .await);
    }
    // A sixth: AWS's limit, in its words.
    b.fill("#document", &v2).await;
    b.click_to_next_page("#versions form button.primary").await;
    assert_eq!(
        b.text(".alert.error").await,
        "LimitExceeded: A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."
    );
    b.screenshot("23-policy-versions").await;
    b.click_to_next_page("#version-v1 form button").await;
    assert_eq!(b.text("#default-version").await, "v1");
    confirm(&b, "#version-v3 a.button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let versions = ok(iam.list_policy_versions().policy_arn(&arn).send().await);
    let ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(!ids.contains(&"v3"), "{ids:?}");
    let policy = ok(iam.get_policy().policy_arn(&arn).send().await);
    assert_eq!(policy.policy().and_then(|p| p.default_version_id()), Some("v1"));

    // Deleted as the console does: detached from the user, other versions deleted first.
    b.click_to_next_page("a[href^='/console/iam/delete?kind=policy']")
        .await;
    let steps = b.text("ol.steps").await;
    assert!(
        steps.contains("iam:DetachUserPolicy") && steps.contains("iam:DeletePolicyVersion"),
        "{steps}"
    );
    b.click_to_next_page("form.confirm button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Policy deleted.");
    assert_eq!(
        error_code(iam.get_policy().policy_arn(&arn).send().await),
        "NoSuchEntity"
    );
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_alias_is_created_pointed_at_another_key_and_deleted() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let kms = s.kms_client();
    let first = ok(kms.create_key().description("first").send().await)
        .key_metadata
        .expect("metadata")
        .key_id;
    let second = ok(kms.create_key().description("second").send().await)
        .key_metadata
        .expect("metadata")
        .key_id;
    sign_in_as_root(&b).await;
    b.client.goto(&url("/console/kms")).await.expect("goto");
    b.click_to_next_page("nav.sub a[href='/console/kms/aliases']")
        .await;
    let alias = format!("console-alias-{}", short_id());
    b.fill("#alias", &alias).await;
    choose(&b, "#alias_key", &first).await;
    b.click_to_next_page("form.card button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let full = format!("alias/{alias}");
    let target = |listed: aws_sdk_kms::operation::list_aliases::ListAliasesOutput| {
        listed
            .aliases()
            .iter()
            .find(|a| a.alias_name() == Some(full.as_str()))
            .and_then(|a| a.target_key_id().map(str::to_owned))
    };
    assert_eq!(
        target(ok(kms.list_aliases().limit(100).send().await)),
        Some(first.clone())
    );
    let row = format!("table.aliases tr:has(input[value='{full}'])");
    choose(&b, &format!("{row} select"), &second).await;
    b.click_to_next_page(&format!("{row} form button")).await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(
        target(ok(kms.list_aliases().limit(100).send().await)),
        Some(second.clone())
    );
    b.screenshot("24-kms-aliases").await;
    confirm(&b, &format!("{row} a.button.danger")).await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(target(ok(kms.list_aliases().limit(100).send().await)), None);

    // The key's description, edited on its page.
    b.client
        .goto(&url(&format!("/console/kms/key?id={second}")))
        .await
        .expect("goto");
    b.fill("#key-description", "second, renamed").await;
    b.click_to_next_page("form:has(#key-description) button").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let described = ok(kms.describe_key().key_id(&second).send().await);
    assert_eq!(
        described.key_metadata().and_then(|m| m.description()),
        Some("second, renamed")
    );
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_not_allowed_to_delete_sees_awss_access_denied() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let iam = s.iam_client();
    let group = format!("kept-{}", short_id());
    ok(iam.create_group().group_name(&group).send().await);
    // May read IAM, not change it.
    let reader = s
        .root()
        .new_user("iam-reader", Some(&allow(&["iam:Get*", "iam:List*"], &["*"])))
        .await;
    let password = "Reader-Passw0rd-1";
    ok(iam
        .create_login_profile()
        .user_name(&reader.name)
        .password(password)
        .send()
        .await);
    b.client.goto(&url("/console/signin")).await.expect("goto");
    b.fill("#account", s.account_id()).await;
    b.fill("#user_name", &reader.name).await;
    b.fill("#password", password).await;
    b.click_to_next_page("form button.primary").await;
    b.client.goto(&url("/console/iam/groups")).await.expect("goto");
    b.click_to_next_page(&format!(
        "section.group:has(input[value='{group}']) a[href^='/console/iam/delete?kind=group']"
    ))
    .await;
    assert!(b.text("ol.steps").await.contains("iam:DeleteGroup"));
    b.click_to_next_page("form.confirm button.danger").await;
    let group_arn = format!("arn:aws:iam::{}:group/{group}", s.account_id());
    assert_eq!(
        b.text(".alert.error").await,
        format!(
            "AccessDenied: {}",
            no_identity_policy(&reader.arn, "iam:DeleteGroup", Some(&group_arn))
        )
    );
    b.screenshot("25-delete-access-denied").await;
    ok(iam.get_group().group_name(&group).send().await);
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_alias_is_created_and_deleted() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let iam = s.iam_client();
    // One account alias for the whole server: this test is the only one to set it.
    sign_in_as_root(&b).await;
    b.client
        .goto(&url("/console/iam/password-policy"))
        .await
        .expect("goto");
    let alias = format!("console-{}", short_id());
    b.fill("#account_alias", &alias).await;
    b.click_to_next_page("#account-alias button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#account-alias-name").await, alias);
    let listed = ok(iam.list_account_aliases().send().await);
    assert_eq!(listed.account_aliases(), std::slice::from_ref(&alias));
    confirm(&b, "#account-alias a.button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let listed = ok(iam.list_account_aliases().send().await);
    assert!(listed.account_aliases().is_empty());
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_gets_and_loses_a_policy_then_is_deleted_with_its_instance_profile_membership() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let iam = s.iam_client();
    let role = format!("worker-{}", short_id());
    s.root()
        .new_role(
            &role,
            &trust_policy(&[s.account_id()]),
            Some(&allow(&["secretsmanager:ListSecrets"], &["*"])),
        )
        .await;
    let profile = format!("worker-profile-{}", short_id());
    ok(iam
        .create_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await);
    ok(iam
        .add_role_to_instance_profile()
        .instance_profile_name(&profile)
        .role_name(&role)
        .send()
        .await);
    sign_in_as_root(&b).await;
    b.client.goto(&url("/console/iam/roles")).await.expect("goto");
    b.click_to_next_page(&format!("table.roles a[href$='={role}']"))
        .await;
    assert!(b.text("#role-arn").await.ends_with(&format!(":role/{role}")));
    let policy = "arn:aws:iam::aws:policy/SecretsManagerReadWrite";
    choose(&b, "#attach", policy).await;
    b.click_to_next_page("#policies form button").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert!(b.text("#policies ul").await.contains("SecretsManagerReadWrite"));
    confirm(&b, "#policies ul a.button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let attached = ok(iam.list_attached_role_policies().role_name(&role).send().await);
    assert!(attached.attached_policies().is_empty());
    // Deleted as the console does: out of the instance profile, the inline policy deleted.
    b.click_to_next_page("a[href^='/console/iam/delete?kind=role']")
        .await;
    let steps = b.text("ol.steps").await;
    assert!(
        steps.contains("iam:RemoveRoleFromInstanceProfile") && steps.contains("iam:DeleteRolePolicy"),
        "{steps}"
    );
    b.click_to_next_page("form.confirm button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Role deleted.");
    assert_eq!(
        error_code(iam.get_role().role_name(&role).send().await),
        "NoSuchEntity"
    );
    let kept = ok(iam
        .get_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await);
    assert!(kept.instance_profile().expect("profile").roles().is_empty());
    assert_clean_log(&b).await;
    b.quit().await;
}
