//! Secrets Manager in the console, as the guides do it: store `MySecret` as key/value pairs, open
//! it and take its ARN, read it with boto3 by name and by ARN, retrieve its value only on
//! asking, schedule its deletion with a 7-day waiting period (the banner says when), cancel that.

use std::process::Command;

use fantoccini::Locator;
use kinko_tests::browser::Browser;
use kinko_tests::*;

use crate::*;

/// boto3 reads `secret_id` from the tests' server as root; its `SecretString`.
fn boto3_value(secret_id: &str) -> String {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: scripts/setup.sh installs boto3 there",
        python.display()
    );
    let s = server();
    let out = Command::new(python)
        .args([
            "-c",
            "import boto3, sys\n\
             c = boto3.client('secretsmanager', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
             sys.stdout.write(c.get_secret_value(SecretId=sys.argv[2])['SecretString'])",
            &s.endpoint_url(),
            secret_id,
        ])
        .env("AWS_ACCESS_KEY_ID", s.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", s.secret_access_key())
        .env_remove("AWS_PROFILE")
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_my_secret_read_it_with_boto3_then_delete_and_restore_it() {
    let Some(b) = Browser::start().await else {
        return;
    };
    b.client.goto(&url("/console/")).await.expect("goto");
    b.screenshot("01-sign-in").await;
    sign_in_as_root(&b).await;
    b.screenshot("02-secrets").await;

    // Store a new secret: other type, two key/value rows, named MySecret, the rest left as is.
    b.click_to_next_page("a.button.primary").await;
    b.fill("tbody tr:nth-child(1) input[name=k]", "username").await;
    b.fill("tbody tr:nth-child(1) input[name=v]", "admin").await;
    b.click_to_next_page("button[value=add_row]").await;
    b.fill("tbody tr:nth-child(2) input[name=k]", "password").await;
    b.fill("tbody tr:nth-child(2) input[name=v]", "s3cr3t-Value-9x")
        .await;
    b.fill("#name", "MySecret").await;
    b.screenshot("03-store-a-new-secret").await;
    b.click_to_next_page("button[value=store]").await;
    assert_eq!(b.text(".alert.ok").await, "Secret stored.");
    b.screenshot("04-stored").await;

    // Its details: the ARN (with a button copying it), and no value until asked for.
    b.click_to_next_page("table.list a[href*='MySecret']").await;
    let arn = b.text("#secret-arn").await;
    let prefix = format!(
        "arn:aws:secretsmanager:us-east-1:{}:secret:MySecret-",
        server().account_id()
    );
    assert!(arn.starts_with(&prefix) && arn.len() == prefix.len() + 6, "{arn}");
    let copy = b
        .client
        .find(Locator::Css("button[data-copy-text]"))
        .await
        .expect("a copy button");
    assert_eq!(
        copy.attr("data-copy-text").await.expect("attr").as_deref(),
        Some(arn.as_str())
    );
    assert!(
        !b.source().await.contains("s3cr3t-Value-9x"),
        "the value is in the page before it was asked for"
    );
    b.screenshot("05-details").await;

    // An application reads it, by name and by ARN: the key/value pairs as a JSON object.
    let expected = r#"{"username":"admin","password":"s3cr3t-Value-9x"}"#;
    assert_eq!(boto3_value("MySecret"), expected);
    assert_eq!(boto3_value(&arn), expected);

    // Retrieve secret value: the pairs as a table, and the plaintext.
    b.click_to_next_page("#value button.primary").await;
    let table = b.text("table.secret-value").await;
    assert!(
        table.contains("password") && table.contains("s3cr3t-Value-9x"),
        "{table}"
    );
    assert_eq!(b.text("#secret-plaintext").await, expected);
    b.screenshot("06-value").await;

    // Who read it: the audit trail on its page, the console's own read and boto3's, as root.
    b.client
        .goto(&url(&format!("/console/secrets/details?id={arn}")))
        .await
        .expect("goto");
    let activity = b.text("#activity table").await;
    assert!(
        activity.contains("GetSecretValue") && activity.contains("CreateSecret"),
        "{activity}"
    );
    assert!(activity.contains("root"), "{activity}");
    assert!(!activity.contains("s3cr3t-Value-9x"));
    b.screenshot("06b-activity").await;
    // And in the audit page, by event name.
    b.client
        .goto(&url("/console/audit?key=EventName&value=GetSecretValue"))
        .await
        .expect("goto");
    assert!(b.text("table.events").await.contains("GetSecretValue"));

    // Delete with a 7-day waiting period: the banner gives the date.
    b.client
        .goto(&url(&format!("/console/secrets/details?id={arn}")))
        .await
        .expect("goto");
    b.fill("#days", "7").await;
    b.click_to_next_page("button.danger").await;
    assert_eq!(b.text(".alert.ok").await, "Deletion scheduled.");
    let banner = b.text(".alert.warning").await;
    let in_seven_days = time::OffsetDateTime::now_utc() + time::Duration::days(7);
    let day = format!(
        "{:04}-{:02}-{:02}",
        in_seven_days.year(),
        u8::from(in_seven_days.month()),
        in_seven_days.day()
    );
    assert!(
        banner.starts_with("This secret is scheduled for deletion on") && banner.contains(&day),
        "{banner}"
    );
    b.screenshot("07-scheduled-for-deletion").await;
    let described = ok(server().client().describe_secret().secret_id(&arn).send().await);
    assert!(described.deleted_date().is_some());

    // Cancel deletion.
    b.click_to_next_page(".alert.warning button").await;
    assert_eq!(b.text(".alert.ok").await, "Deletion cancelled.");
    assert!(b.client.find(Locator::Css(".alert.warning")).await.is_err());
    let described = ok(server().client().describe_secret().secret_id(&arn).send().await);
    assert!(described.deleted_date().is_none());
    assert_eq!(boto3_value("MySecret"), expected);
    b.screenshot("08-restored").await;

    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_speaks_japanese() {
    let Some(b) = Browser::start().await else {
        return;
    };
    sign_in_as_root(&b).await;
    b.click_to_next_page("a.lang").await;
    assert_eq!(b.text("h1").await, "シークレット");
    assert_eq!(b.text("a.button.primary").await, "新しいシークレットを保存する");
    b.screenshot("09-japanese").await;
    // And back.
    b.click_to_next_page("a.lang").await;
    assert_eq!(b.text("h1").await, "Secrets");
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_a_value_compare_the_versions_and_move_the_current_label_back() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let sm = server().client();
    let created = ok(sm
        .create_secret()
        .name(format!("edited-{}", short_id()))
        .secret_string(r#"{"a":"1","b":"2"}"#)
        .send()
        .await);
    let arn = created.arn().expect("arn").to_owned();
    let first = created.version_id().expect("version").to_owned();
    sign_in_as_root(&b).await;
    b.client
        .goto(&url(&format!("/console/secrets/details?id={arn}")))
        .await
        .expect("goto");
    b.click_to_next_page("#value button.primary").await;
    b.click("details.edit summary").await;
    b.fill("#new-value", r#"{"a":"1","b":"3","c":"4"}"#).await;
    b.click_to_next_page("details.edit button.primary").await;
    assert_eq!(
        b.text(".alert.ok").await,
        "A new version of the secret value is stored."
    );
    assert_eq!(sm.value(&arn).await, r#"{"a":"1","b":"3","c":"4"}"#);

    // The two versions compared, key by key.
    b.client
        .execute(
            &format!("document.getElementById('cmp-a').value = '{first}';"),
            vec![],
        )
        .await
        .expect("choose the first version");
    let current = ok(sm.describe_secret().secret_id(&arn).send().await)
        .version_ids_to_stages()
        .expect("versions")
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == "AWSCURRENT"))
        .map(|(v, _)| v.clone())
        .expect("current");
    b.client
        .execute(
            &format!("document.getElementById('cmp-b').value = '{current}';"),
            vec![],
        )
        .await
        .expect("choose the current version");
    b.click_to_next_page("form.compare button").await;
    let changed = b.text("table.diff").await;
    assert!(
        changed.contains("b\n2\n3") || changed.contains("b 2 3"),
        "{changed}"
    );
    assert!(changed.contains('c') && changed.contains('4'), "{changed}");
    b.screenshot("17-compare-versions").await;

    // AWSCURRENT back on the first version: its value is current again.
    b.client
        .goto(&url(&format!("/console/secrets/details?id={arn}")))
        .await
        .expect("goto");
    b.click_to_next_page(&format!("table.versions form:has(input[value='{first}']) button"))
        .await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(sm.value(&arn).await, r#"{"a":"1","b":"2"}"#);
    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_turned_on_with_a_function_and_a_schedule_then_off() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = server();
    let arn = ok(s
        .client()
        .create_secret()
        .name(format!("rotated-{}", short_id()))
        .secret_string(r#"{"engine":"postgres","host":"127.0.0.1","username":"app","password":"p"}"#)
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    // A built-in rotator Secrets Manager may invoke.
    let role = s
        .root()
        .execution_role(&format!("console-rotator-{}", short_id()), None)
        .await;
    let function = format!("console-rotator-{}", short_id());
    let created = ok(s
        .lambda_client()
        .create_function()
        .function_name(&function)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("kinko:PostgreSQLSingleUser")
        .role(&role)
        .code(aws_sdk_lambda::types::FunctionCode::builder().build())
        .send()
        .await);
    let function_arn = created.function_arn().expect("arn").to_owned();
    ok(s.lambda_client()
        .add_permission()
        .function_name(&function)
        .statement_id("SecretsManager")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .send()
        .await);

    sign_in_as_root(&b).await;
    b.client
        .goto(&url(&format!("/console/secrets/details?id={arn}")))
        .await
        .expect("goto");
    b.click("details.edit summary").await;
    b.client
        .execute(
            &format!("document.getElementById('rotation-function').value = '{function_arn}';"),
            vec![],
        )
        .await
        .expect("choose the function");
    b.fill("#schedule", "rate(10 days)").await;
    b.click("input[name=immediately]").await;
    b.click_to_next_page("form[action='/console/secrets/rotation'] button[value=rotate]")
        .await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let d = ok(s.client().describe_secret().secret_id(&arn).send().await);
    assert_eq!(d.rotation_enabled(), Some(true));
    assert_eq!(d.rotation_lambda_arn(), Some(function_arn.as_str()));
    assert_eq!(
        d.rotation_rules().and_then(|r| r.schedule_expression()),
        Some("rate(10 days)")
    );
    b.screenshot("21-rotation").await;

    b.click("details.edit summary").await;
    b.click_to_next_page("form[action='/console/secrets/rotation'] button[value=cancel]")
        .await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let d = ok(s.client().describe_secret().secret_id(&arn).send().await);
    assert_eq!(d.rotation_enabled(), Some(false));
    b.quit().await;
}
