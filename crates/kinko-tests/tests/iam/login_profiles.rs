//! Console passwords: login profiles, ChangePassword, the account password policy and account
//! aliases. Login profiles of the shared account live under AWS's default password policy (no
//! test sets one there); the tests of the account-wide settings each use a member account of
//! their own.

use aws_sdk_iam::Client;
use kinko_tests::*;

use crate::*;

/// A password the default policy accepts (8 characters of 3 kinds).
const GOOD: &str = "Start-Here-1";

async fn create_profile(iam: &Client, user: &str, password: &str, reset: bool) -> Outcome {
    let req = iam.create_login_profile().user_name(user).password(password);
    outcome(req.password_reset_required(reset).send().await)
}

async fn change(user: &Principal<'_>, old: &str, new: &str) -> Outcome {
    let req = user.iam().change_password().old_password(old);
    outcome(req.new_password(new).send().await)
}

fn no_profile(user: &str) -> Outcome {
    failed(
        "NoSuchEntity",
        &format!("Login Profile for User {user} cannot be found."),
    )
}

#[tokio::test]
async fn login_profile_lifecycle() {
    let iam = server().iam_client();
    let user = server().user("console", None).await;
    let get = || iam.get_login_profile().user_name(&user.name).send();
    assert_eq!(outcome(get().await), no_profile(&user.name));

    let req = iam.create_login_profile().user_name(&user.name).password(GOOD);
    let created = ok(req.password_reset_required(true).send().await).login_profile;
    let created = created.expect("LoginProfile");
    assert_eq!(created.user_name, user.name);
    assert!(created.password_reset_required);
    assert_eq!(
        create_profile(&iam, &user.name, GOOD, false).await,
        failed(
            "EntityAlreadyExists",
            &format!("Login Profile for user {} already exists.", user.name)
        )
    );
    let got = ok(get().await).login_profile.expect("LoginProfile");
    assert_eq!(
        (got.user_name.as_str(), got.create_date),
        (user.name.as_str(), created.create_date)
    );
    assert!(got.password_reset_required);

    let req = iam.update_login_profile().user_name(&user.name);
    ok(req.password_reset_required(false).send().await);
    assert!(
        !ok(get().await)
            .login_profile
            .expect("LoginProfile")
            .password_reset_required
    );
    let req = iam
        .update_login_profile()
        .user_name(&user.name)
        .password("Another-One-2");
    ok(req.send().await);

    let key = iam
        .delete_access_key()
        .user_name(&user.name)
        .access_key_id(&user.access_key_id);
    ok(key.send().await);
    let req = iam.delete_user().user_name(&user.name);
    assert_eq!(
        outcome(req.send().await),
        failed(
            "DeleteConflict",
            "Cannot delete entity, must delete login profile first."
        )
    );
    ok(iam.delete_login_profile().user_name(&user.name).send().await);
    assert_eq!(outcome(get().await), no_profile(&user.name));
    let again = iam.delete_login_profile().user_name(&user.name).send().await;
    assert_eq!(outcome(again), no_profile(&user.name));
    let req = iam.update_login_profile().user_name(&user.name).password(GOOD);
    assert_eq!(outcome(req.send().await), no_profile(&user.name));
    ok(iam.delete_user().user_name(&user.name).send().await);
    assert_eq!(
        create_profile(&iam, &user.name, GOOD, false).await,
        failed(
            "NoSuchEntity",
            &format!("The user with name {} cannot be found.", user.name)
        )
    );
}

#[tokio::test]
async fn passwords_are_validated_without_being_echoed() {
    let iam = server().iam_client();
    let user = server().user("pw-shape", None).await;
    let long = format!("Aa1-{}", "x".repeat(125));
    assert_eq!(
        create_profile(&iam, &user.name, &long, false).await,
        failed(
            "ValidationError",
            "1 validation error detected: Value at 'password' failed to satisfy constraint: \
             Member must have length less than or equal to 128"
        )
    );
    assert_eq!(
        create_profile(&iam, &user.name, "Aa1-\u{0100}xxxx", false).await,
        failed(
            "ValidationError",
            "1 validation error detected: Value at 'password' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
        )
    );
    // No custom policy: AWS's default one (8 characters, 3 kinds of 4).
    assert_eq!(
        create_profile(&iam, &user.name, "Aa1-", false).await,
        failed(
            "PasswordPolicyViolation",
            "Password should have a minimum length of 8"
        )
    );
    assert_eq!(
        create_profile(&iam, &user.name, "abcdefgh1", false).await,
        failed(
            "PasswordPolicyViolation",
            "Password should have at least three of the following: uppercase letters, \
             lowercase letters, numbers, and symbols"
        )
    );
    assert_eq!(create_profile(&iam, &user.name, GOOD, false).await, Ok(()));
}

#[tokio::test]
async fn login_profile_actions_are_authorized_on_the_user() {
    let target = server().user("pw-target", None).await;
    let caller = server().user("pw-caller", None).await;
    let iam = caller.iam();
    assert_eq!(
        create_profile(&iam, &target.name, GOOD, false).await,
        denied(
            &caller.arn,
            "iam:CreateLoginProfile",
            Some(&target.arn),
            Denial::NoIdentityPolicy
        )
    );
    let get = iam.get_login_profile().user_name(&target.name).send().await;
    assert_eq!(
        outcome(get),
        denied(
            &caller.arn,
            "iam:GetLoginProfile",
            Some(&target.arn),
            Denial::NoIdentityPolicy
        )
    );
    let allowed = server()
        .user(
            "pw-admin",
            Some(&allow(
                &["iam:CreateLoginProfile", "iam:GetLoginProfile"],
                &[&target.arn],
            )),
        )
        .await;
    assert_eq!(
        create_profile(&allowed.iam(), &target.name, GOOD, false).await,
        Ok(())
    );
    let get = allowed
        .iam()
        .get_login_profile()
        .user_name(&target.name)
        .send()
        .await;
    assert_eq!(
        ok(get).login_profile.expect("LoginProfile").user_name,
        target.name
    );
    let del = allowed
        .iam()
        .delete_login_profile()
        .user_name(&target.name)
        .send()
        .await;
    assert_eq!(
        outcome(del),
        denied(
            &allowed.arn,
            "iam:DeleteLoginProfile",
            Some(&target.arn),
            Denial::NoIdentityPolicy
        )
    );
}

#[tokio::test]
async fn change_password_needs_permission_and_the_old_password() {
    let iam = server().iam_client();
    let user = server().user("pw-change", None).await;
    create_profile(&iam, &user.name, GOOD, true)
        .await
        .expect("login profile");
    // No AllowUsersToChangePassword on this account and no policy: denied.
    assert_eq!(
        change(&user, GOOD, "Next-Step-2").await,
        denied(
            &user.arn,
            "iam:ChangePassword",
            Some(&user.arn),
            Denial::NoIdentityPolicy
        )
    );
    let req = iam
        .put_user_policy()
        .user_name(&user.name)
        .policy_name("own-password");
    let own = allow(&["iam:ChangePassword"], &[&user.arn]);
    ok(req.policy_document(own).send().await);
    assert_eq!(
        change(&user, "Wrong-Old-1", "Next-Step-2").await,
        failed("AccessDenied", "The old password you specified is incorrect.")
    );
    assert_eq!(
        change(&user, GOOD, "short").await,
        failed(
            "PasswordPolicyViolation",
            "Password should have a minimum length of 8"
        )
    );
    assert_eq!(change(&user, GOOD, "Next-Step-2").await, Ok(()));
    let got = ok(iam.get_login_profile().user_name(&user.name).send().await);
    assert!(!got.login_profile.expect("LoginProfile").password_reset_required);
    assert_eq!(
        change(&user, GOOD, "Third-Step-3").await,
        failed("AccessDenied", "The old password you specified is incorrect.")
    );
    assert_eq!(change(&user, "Next-Step-2", "Third-Step-3").await, Ok(()));
}

#[tokio::test]
async fn only_iam_users_change_their_password() {
    let req = server().iam_client().change_password().old_password(GOOD);
    assert_eq!(
        outcome(req.new_password("Next-Step-2").send().await),
        failed("InvalidUserType", "Only IAM users can change their own password.")
    );
    let user = server()
        .user("pw-noprofile", Some(&allow(&["iam:ChangePassword"], &["*"])))
        .await;
    assert_eq!(change(&user, GOOD, "Next-Step-2").await, no_profile(&user.name));
}

/// The password policy of `iam`'s account.
async fn policy(iam: &Client) -> Result<aws_sdk_iam::types::PasswordPolicy, Failure> {
    let got = iam.get_account_password_policy().send().await;
    outcome_of(got).map(|o| o.password_policy.expect("PasswordPolicy"))
}

/// The output of a call, or its failure.
fn outcome_of<O, E, R>(r: Result<O, aws_sdk_iam::error::SdkError<E, R>>) -> Result<O, Failure>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match r {
        Ok(o) => Ok(o),
        Err(e) => Err(outcome::<(), E, R>(Err(e)).expect_err("an error")),
    }
}

#[tokio::test]
async fn account_password_policy_defaults_limits_and_deletion() {
    let m = member(server()).await;
    let iam = m.admin.iam();
    let none = failed(
        "NoSuchEntity",
        &format!("The Password Policy with domain name {} cannot be found.", m.id),
    );
    assert_eq!(policy(&iam).await.map(|_| ()), none);
    assert_eq!(
        outcome(iam.delete_account_password_policy().send().await),
        failed(
            "NoSuchEntity",
            "The account policy with name PasswordPolicy cannot be found."
        )
    );

    let bad = iam
        .update_account_password_policy()
        .minimum_password_length(5)
        .max_password_age(1096)
        .password_reuse_prevention(25)
        .send()
        .await;
    assert_eq!(
        outcome(bad),
        failed(
            "ValidationError",
            "3 validation errors detected: \
             Value '5' at 'minimumPasswordLength' failed to satisfy constraint: Member must have value greater than or equal to 6; \
             Value '1096' at 'maxPasswordAge' failed to satisfy constraint: Member must have value less than or equal to 1095; \
             Value '25' at 'passwordReusePrevention' failed to satisfy constraint: Member must have value less than or equal to 24"
        )
    );

    let full = iam
        .update_account_password_policy()
        .minimum_password_length(12)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .allow_users_to_change_password(true)
        .max_password_age(90)
        .password_reuse_prevention(3)
        .hard_expiry(false)
        .send()
        .await;
    ok(full);
    let p = policy(&iam).await.expect("policy");
    assert_eq!(p.minimum_password_length, Some(12));
    assert!(p.require_symbols && p.require_numbers && p.require_uppercase_characters);
    assert!(p.require_lowercase_characters && p.allow_users_to_change_password && p.expire_passwords);
    assert_eq!(
        (p.max_password_age, p.password_reuse_prevention, p.hard_expiry),
        (Some(90), Some(3), Some(false))
    );

    // No partial updates: what a request leaves out takes its default.
    ok(iam
        .update_account_password_policy()
        .require_numbers(true)
        .send()
        .await);
    let p = policy(&iam).await.expect("policy");
    assert_eq!(p.minimum_password_length, Some(6));
    assert!(p.require_numbers && !p.require_symbols && !p.require_uppercase_characters);
    assert!(!p.require_lowercase_characters && !p.allow_users_to_change_password && !p.expire_passwords);
    assert_eq!(
        (p.max_password_age, p.password_reuse_prevention, p.hard_expiry),
        (None, None, None)
    );

    ok(iam.delete_account_password_policy().send().await);
    assert_eq!(policy(&iam).await.map(|_| ()), none);
}

#[tokio::test]
async fn the_password_policy_is_enforced_and_lets_users_change_their_password() {
    let m = member(server()).await;
    let iam = m.admin.iam();
    let req = iam
        .update_account_password_policy()
        .minimum_password_length(10)
        .require_numbers(true)
        .require_symbols(true)
        .allow_users_to_change_password(true)
        .password_reuse_prevention(2);
    ok(req.send().await);
    let user = m.admin.new_user("pw-member", None).await;
    assert_eq!(
        create_profile(&iam, &user.name, "Ab1-", false).await,
        failed(
            "PasswordPolicyViolation",
            "Password should have a minimum length of 10"
        )
    );
    assert_eq!(
        create_profile(&iam, &user.name, "Abcdefghij-", false).await,
        failed(
            "PasswordPolicyViolation",
            "Password should have at least one number"
        )
    );
    assert_eq!(
        create_profile(&iam, &user.name, "Abcdefghij1", false).await,
        failed(
            "PasswordPolicyViolation",
            "Password should have at least one symbol"
        )
    );
    // The custom policy replaces the default one: lowercase and symbols and digits suffice.
    assert_eq!(
        create_profile(&iam, &user.name, "first-pass-1", false).await,
        Ok(())
    );

    // AllowUsersToChangePassword: no policy of the user's needed.
    assert_eq!(
        change(&user, "first-pass-1", "second-pass").await,
        failed(
            "PasswordPolicyViolation",
            "Password should have at least one number"
        )
    );
    assert_eq!(change(&user, "first-pass-1", "second-pass-2").await, Ok(()));
    // PasswordReusePrevention 2: the current password and the one before it are refused.
    for reused in ["second-pass-2", "first-pass-1"] {
        assert_eq!(
            change(&user, "second-pass-2", reused).await,
            failed(
                "PasswordPolicyViolation",
                "Password should not be one of the previous 2 passwords"
            ),
            "{reused}"
        );
    }
    assert_eq!(change(&user, "second-pass-2", "third-pass-3").await, Ok(()));
    assert_eq!(change(&user, "third-pass-3", "first-pass-1").await, Ok(()));

    // Without it, the user needs iam:ChangePassword again.
    ok(iam
        .update_account_password_policy()
        .require_numbers(true)
        .send()
        .await);
    assert_eq!(
        change(&user, "first-pass-1", "fourth-pass-4").await,
        denied(
            &user.arn,
            "iam:ChangePassword",
            Some(&user.arn),
            Denial::NoIdentityPolicy
        )
    );
}

async fn aliases(iam: &Client) -> Vec<String> {
    let out = ok(iam.list_account_aliases().send().await);
    assert!(!out.is_truncated);
    out.account_aliases
}

#[tokio::test]
async fn account_aliases_are_one_per_account_and_unique() {
    let (a, b) = (member(server()).await, member(server()).await);
    let (ia, ib) = (a.admin.iam(), b.admin.iam());
    let (first, second) = (format!("acme-{}", short_id()), format!("acme2-{}", short_id()));
    assert!(aliases(&ia).await.is_empty());
    ok(ia.create_account_alias().account_alias(&first).send().await);
    assert_eq!(aliases(&ia).await, [first.as_str()]);
    // Again: nothing changes.
    ok(ia.create_account_alias().account_alias(&first).send().await);
    assert_eq!(
        outcome(ib.create_account_alias().account_alias(&first).send().await),
        failed(
            "EntityAlreadyExists",
            &format!("The account alias {first} already exists.")
        )
    );
    // A second alias replaces the first, which another account may then take.
    ok(ia.create_account_alias().account_alias(&second).send().await);
    assert_eq!(aliases(&ia).await, [second.as_str()]);
    ok(ib.create_account_alias().account_alias(&first).send().await);
    assert_eq!(aliases(&ib).await, [first.as_str()]);

    assert_eq!(
        outcome(ia.delete_account_alias().account_alias(&first).send().await),
        failed(
            "NoSuchEntity",
            &format!("The account alias {first} cannot be found.")
        )
    );
    ok(ia.delete_account_alias().account_alias(&second).send().await);
    assert!(aliases(&ia).await.is_empty());

    for bad in ["Upper-Case", "a--b", "-ab", "ab"] {
        let r = ia.create_account_alias().account_alias(bad).send().await;
        assert_eq!(error_code(r), "ValidationError", "{bad}");
    }
    let r = ia.create_account_alias().account_alias("Upper").send().await;
    assert_eq!(
        outcome(r),
        failed(
            "ValidationError",
            "1 validation error detected: Value 'Upper' at 'accountAlias' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$"
        )
    );
}

#[tokio::test]
async fn account_settings_are_authorized_on_star() {
    let user = server().user("pw-settings", None).await;
    let iam = user.iam();
    let get = iam.get_account_password_policy().send().await;
    assert_eq!(
        outcome(get),
        denied(
            &user.arn,
            "iam:GetAccountPasswordPolicy",
            None,
            Denial::NoIdentityPolicy
        )
    );
    let list = iam.list_account_aliases().send().await;
    assert_eq!(
        outcome(list),
        denied(
            &user.arn,
            "iam:ListAccountAliases",
            None,
            Denial::NoIdentityPolicy
        )
    );
}
