//! Credential reports: ReportNotPresent before the first GenerateCredentialReport, `STARTED` and
//! then `COMPLETE`, AWS's CSV (the root user's row first, then each user with its password and
//! access keys), the same report for four hours, and ReportExpired after. A server of its own:
//! the report is the account's, and the clock moves.

use aws_sdk_iam::types::{ReportFormatType, ReportStateType, StatusType};

use super::*;

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

async fn report(iam: &aws_sdk_iam::Client) -> String {
    let got = ok(iam.get_credential_report().send().await);
    assert_eq!(got.report_format, Some(ReportFormatType::TextCsv));
    assert!(got.generated_time.is_some());
    String::from_utf8(got.content.expect("Content").into_inner()).expect("UTF-8 report")
}

#[tokio::test]
async fn the_credential_report_lists_root_and_users_and_is_kept_for_four_hours() {
    let (server, clock) = TestServer::start_manual().await;
    let iam = server.iam_client();
    assert_eq!(
        outcome(iam.get_credential_report().send().await),
        failed(
            "ReportNotPresent",
            "Credential report not present. Use GenerateCredentialReport to generate a report."
        )
    );

    ok(iam.create_user().user_name("reported").send().await);
    ok(iam
        .create_login_profile()
        .user_name("reported")
        .password("Report-Password-1")
        .send()
        .await);
    let first = ok(iam.create_access_key().user_name("reported").send().await)
        .access_key
        .expect("AccessKey");
    ok(iam
        .update_access_key()
        .user_name("reported")
        .access_key_id(&first.access_key_id)
        .status(StatusType::Inactive)
        .send()
        .await);
    // The report orders a user's keys by creation: the second key is a second younger.
    clock.advance(std::time::Duration::from_secs(1));
    ok(iam.create_access_key().user_name("reported").send().await);

    let state = ok(iam.generate_credential_report().send().await).state;
    assert_eq!(state, Some(ReportStateType::Started));
    let state = ok(iam.generate_credential_report().send().await).state;
    assert_eq!(state, Some(ReportStateType::Complete));

    let csv = report(&iam).await;
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(csv.lines().next(), Some(HEADER));
    let root = &lines[1];
    assert_eq!(root[..2], ["<root_account>", root_arn(DEV_ACCOUNT).as_str()]);
    assert_eq!(root[3], "not_supported");
    let user = lines.iter().find(|l| l[0] == "reported").expect("the user's row");
    assert_eq!(user.len(), 22);
    assert_eq!(user[1], format!("arn:aws:iam::{DEV_ACCOUNT}:user/reported"));
    assert_eq!(user[3], "true", "password_enabled");
    assert_eq!(user[4], "no_information", "password_last_used");
    assert!(user[5].ends_with("+00:00"), "password_last_changed {}", user[5]);
    assert_eq!(user[6], "N/A", "password_next_rotation without MaxPasswordAge");
    assert_eq!(user[7], "false", "mfa_active");
    assert_eq!(user[8], "false", "the first key is inactive");
    assert!(
        user[9].ends_with("+00:00"),
        "access_key_1_last_rotated {}",
        user[9]
    );
    assert_eq!(user[10..13], ["N/A", "N/A", "N/A"]);
    assert_eq!(user[13], "true", "the second key is active");
    assert_eq!(user[18..], ["false", "N/A", "false", "N/A"]);

    // A new user doesn't appear until a new report is generated, four hours on.
    ok(iam.create_user().user_name("later").send().await);
    let state = ok(iam.generate_credential_report().send().await).state;
    assert_eq!(state, Some(ReportStateType::Complete));
    assert!(!report(&iam).await.contains("\nlater,"));

    clock.advance(std::time::Duration::from_secs(4 * 3600));
    assert_eq!(
        outcome(iam.get_credential_report().send().await),
        failed(
            "ReportExpired",
            "Credential report expired. Use GenerateCredentialReport to generate a new report."
        )
    );
    let state = ok(iam.generate_credential_report().send().await).state;
    assert_eq!(state, Some(ReportStateType::Started));
    assert!(report(&iam).await.contains("\nlater,"));
}

#[tokio::test]
async fn reading_the_credential_report_needs_its_action() {
    let user = server().user("no-report", None).await;
    assert_eq!(
        outcome(user.iam().get_credential_report().send().await),
        denied(
            &user.arn,
            "iam:GetCredentialReport",
            None,
            Denial::NoIdentityPolicy
        )
    );
    assert_eq!(
        outcome(user.iam().generate_credential_report().send().await),
        denied(
            &user.arn,
            "iam:GenerateCredentialReport",
            None,
            Denial::NoIdentityPolicy
        )
    );
}
