//! Storing secrets in the console beyond key/value pairs: a binary value uploaded from a file
//! (read back with the SDK byte for byte, shown in base64 and downloaded by a POST), replica
//! regions (on the new-secret form, then added, promoted and removed on the details page), and
//! resource policies checked with ValidateResourcePolicy before they are stored (a refused one
//! shows AWS's validation text next to the editor and stores nothing).

use base64::Engine as _;
use fantoccini::Locator;
use kinko_tests::browser::Browser;
use kinko_tests::*;

use crate::*;

/// Opens the new-secret form, signed in as root.
async fn new_secret_form(b: &Browser) {
    sign_in_as_root(b).await;
    b.client.goto(&url("/console/secrets/new")).await.expect("goto");
}

/// Opens `id`'s details page.
async fn details(b: &Browser, id: &str) {
    let q: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    b.client
        .goto(&url(&format!("/console/secrets/details?id={q}")))
        .await
        .expect("goto");
}

/// Scrolls the element `css` selects into view, for the screenshot of it.
async fn show(b: &Browser, css: &str) {
    b.client
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView()",
            vec![serde_json::json!(css)],
        )
        .await
        .expect("scrolled");
}

/// The problems listed next to the policy editor `id`.
async fn problems(b: &Browser, id: &str) -> String {
    b.text(&format!("#{id}-problems")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_secret_uploaded_from_a_file_reads_back_byte_for_byte() {
    let Some(b) = Browser::start().await else {
        return;
    };
    // Every byte value, and what a multipart body's own framing looks like.
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    bytes.extend_from_slice(b"\r\n--\r\n\r\n--boundary--\r\n\0");
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("key.der");
    std::fs::write(&file, &bytes).expect("the file is written");
    let name = format!("console/binary-{}", short_id());

    new_secret_form(&b).await;
    b.click("input[name=kind][value=binary]").await;
    b.find("#binary")
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("the file is chosen");
    b.fill("#name", &name).await;
    b.screenshot("20-store-binary").await;
    b.click_to_next_page("button[value=store]").await;
    assert_eq!(b.text(".alert.ok").await, "Secret stored.");

    // The SDK reads the same bytes, as SecretBinary.
    let value = ok(server().client().get_secret_value().secret_id(&name).send().await);
    assert_eq!(value.secret_string(), None);
    assert_eq!(
        value.secret_binary().expect("SecretBinary").as_ref(),
        bytes.as_slice()
    );

    // Retrieve secret value: the bytes in base64, not before asking.
    details(&b, &name).await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert!(!b.source().await.contains(&encoded[..40]));
    b.click_to_next_page("#value button.primary").await;
    assert_eq!(b.text("#secret-binary").await, encoded);
    show(&b, "#value").await;
    b.screenshot("21-binary-value").await;

    // Download: the bytes as a file, by a POST of the page's form (as the button sends it).
    let got = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const f = document.querySelector('form[action=\"/console/secrets/download\"]');\
             fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f))})\
               .then(async r => done([r.status, r.headers.get('content-disposition'),\
                                      Array.from(new Uint8Array(await r.arrayBuffer()))]));",
            vec![],
        )
        .await
        .expect("the download");
    assert_eq!(got[0], 200);
    let disposition = got[1].as_str().unwrap_or_default();
    assert!(
        disposition.starts_with("attachment; filename=\"console_binary-"),
        "{disposition}"
    );
    let downloaded: Vec<u8> = got[2]
        .as_array()
        .expect("bytes")
        .iter()
        .map(|v| u8::try_from(v.as_u64().expect("a byte")).expect("a byte"))
        .collect();
    assert_eq!(downloaded, bytes);

    // A binary value without a file is refused, and nothing is stored.
    let other = format!("console/no-file-{}", short_id());
    b.client.goto(&url("/console/secrets/new")).await.expect("goto");
    b.click("input[name=kind][value=binary]").await;
    b.fill("#name", &other).await;
    b.click_to_next_page("button[value=store]").await;
    assert_eq!(
        b.text(".alert.error").await,
        "Choose a file for the binary value."
    );
    let missing = server().client().describe_secret().secret_id(&other).send().await;
    assert_eq!(error_code(missing), "ResourceNotFoundException");

    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_regions_added_on_the_form_and_the_details_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let name = format!("console/replicated-{}", short_id());
    new_secret_form(&b).await;
    b.click("input[name=kind][value=plaintext]").await;
    b.fill("#plaintext", "replicated value").await;
    b.fill("#name", &name).await;
    b.fill("input[name=replica_region]", "eu-west-1").await;
    b.screenshot("22-store-with-replica").await;
    b.click_to_next_page("button[value=store]").await;
    assert_eq!(b.text(".alert.ok").await, "Secret stored.");

    // The replica is there for a client of that region, and its status on the page.
    let root = server().root_credentials();
    let eu = server().client_in("eu-west-1", &root);
    let value = ok(eu.get_secret_value().secret_id(&name).send().await);
    assert_eq!(value.secret_string(), Some("replicated value"));
    details(&b, &name).await;
    let table = b.text("#replication table.replicas").await;
    assert!(table.contains("eu-west-1") && table.contains("InSync"), "{table}");
    assert_eq!(b.text("#replication p strong").await, "us-east-1");

    // Add a Region on the details page.
    b.click("#replication details.edit summary").await;
    b.fill("#replica-region", "ap-south-1").await;
    b.click_to_next_page("#replication details.edit button.primary")
        .await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let table = b.text("#replication table.replicas").await;
    assert!(table.contains("ap-south-1"), "{table}");
    show(&b, "#replication").await;
    b.screenshot("23-replicas").await;
    let described = ok(server().client().describe_secret().secret_id(&name).send().await);
    let regions: Vec<&str> = described
        .replication_status()
        .iter()
        .filter_map(|r| r.region())
        .collect();
    assert_eq!(regions, ["eu-west-1", "ap-south-1"]);

    // Promote ap-south-1's replica: a standalone secret there, no longer replicated.
    let promote = "#replication tr:nth-child(2) form input[value=promote] ~ button";
    b.click_to_next_page(promote).await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let ap = server().client_in("ap-south-1", &root);
    let standalone = ok(ap.describe_secret().secret_id(&name).send().await);
    assert_eq!(standalone.primary_region(), None);
    let table = b.text("#replication table.replicas").await;
    assert!(!table.contains("ap-south-1"), "{table}");

    // Remove eu-west-1: its replica is deleted, and the secret is not replicated.
    b.click_to_next_page("#replication form input[value=remove] ~ button")
        .await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#replication p").await, "This secret is not replicated.");
    let gone = eu.describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(gone), "ResourceNotFoundException");

    assert_clean_log(&b).await;
    b.quit().await;
}

/// A policy any principal may use: ValidateResourcePolicy's broad-access check refuses it.
const PUBLIC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_resource_policy_is_refused_with_aws_validation_text_and_nothing_is_stored() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let sm = server().client();
    let name = format!("console/refused-policy-{}", short_id());
    // What AWS's ValidateResourcePolicy says of the document.
    let validated = ok(sm.validate_resource_policy().resource_policy(PUBLIC).send().await);
    assert!(!validated.policy_validation_passed());
    let aws_says: Vec<String> = validated
        .validation_errors()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e.check_name().unwrap_or_default(),
                e.error_message().unwrap_or_default()
            )
        })
        .collect();
    assert!(!aws_says.is_empty());

    new_secret_form(&b).await;
    b.click("input[name=kind][value=plaintext]").await;
    b.fill("#plaintext", "never stored").await;
    b.fill("#name", &name).await;
    b.fill("#policy", PUBLIC).await;
    b.click_to_next_page("button[value=store]").await;
    assert_eq!(
        b.text(".alert.error").await,
        "The resource policy was not saved: fix the problems shown next to it."
    );
    assert_eq!(problems(&b, "policy").await, aws_says.join("\n"));
    // The form keeps what was typed.
    assert_eq!(
        b.find("#name")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some(name.as_str())
    );
    show(&b, "#policy").await;
    b.screenshot("24-policy-refused").await;
    let missing = sm.describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(missing), "ResourceNotFoundException");

    // A JSON syntax error names its line and column, as the IAM policy editor does, beside
    // ValidateResourcePolicy's own text.
    b.fill(
        "#policy",
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}",
    )
    .await;
    b.click_to_next_page("button[value=store]").await;
    let listed = problems(&b, "policy").await;
    assert!(listed.starts_with("Ln 4, Col 1: "), "{listed}");
    assert!(listed.contains("\nSYNTAX_CHECK: "), "{listed}");
    let missing = sm.describe_secret().secret_id(&name).send().await;
    assert_eq!(error_code(missing), "ResourceNotFoundException");

    // Edit permissions of a stored secret: refused alike, its policy left as it was (none).
    let stored = format!("console/edit-policy-{}", short_id());
    let arn = ok(sm.create_secret().name(&stored).secret_string("v").send().await)
        .arn()
        .expect("arn")
        .to_owned();
    details(&b, &arn).await;
    b.click("#permissions details.edit summary").await;
    b.fill("#edit-policy", PUBLIC).await;
    b.click_to_next_page("#permissions button[value=save]").await;
    assert_eq!(problems(&b, "edit-policy").await, aws_says.join("\n"));
    show(&b, "#permissions").await;
    b.screenshot("25-edit-permissions-refused").await;
    let policy = ok(sm.get_resource_policy().secret_id(&arn).send().await);
    assert_eq!(policy.resource_policy(), None);

    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_resource_policy_is_stored_edited_and_deleted() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let sm = server().client();
    let account = server().account_id();
    let policy = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"secretsmanager:{action}","Resource":"*"}}]}}"#
        )
    };
    let name = format!("console/valid-policy-{}", short_id());
    new_secret_form(&b).await;
    b.fill("input[name=k]", "user").await;
    b.fill("input[name=v]", "app").await;
    b.fill("#name", &name).await;
    b.fill("#policy", &policy("GetSecretValue")).await;
    b.click_to_next_page("button[value=store]").await;
    assert_eq!(b.text(".alert.ok").await, "Secret stored.");
    let stored = ok(sm.get_resource_policy().secret_id(&name).send().await);
    let as_json = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("JSON");
    assert_eq!(
        as_json(stored.resource_policy().expect("a policy")),
        as_json(&policy("GetSecretValue"))
    );

    // Edit permissions: another valid policy replaces it.
    details(&b, &name).await;
    assert!(
        b.text("#current-policy")
            .await
            .contains("secretsmanager:GetSecretValue")
    );
    b.click("#permissions details.edit summary").await;
    b.fill("#edit-policy", &policy("DescribeSecret")).await;
    b.click_to_next_page("#permissions button[value=save]").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert!(
        b.text("#current-policy")
            .await
            .contains("secretsmanager:DescribeSecret")
    );
    let stored = ok(sm.get_resource_policy().secret_id(&name).send().await);
    assert_eq!(
        as_json(stored.resource_policy().expect("a policy")),
        as_json(&policy("DescribeSecret"))
    );
    show(&b, "#permissions").await;
    b.screenshot("26-permissions").await;

    // Delete policy.
    b.click("#permissions details.edit summary").await;
    b.click_to_next_page("#permissions button[value=delete]").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    assert_eq!(b.text("#permissions p").await, "No resource policy.");
    let stored = ok(sm.get_resource_policy().secret_id(&name).send().await);
    assert_eq!(stored.resource_policy(), None);

    assert_clean_log(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_the_description_the_key_and_the_tags() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let sm = server().client();
    let kms = server().kms_client();
    let key = ok(kms.create_key().send().await)
        .key_metadata()
        .expect("metadata")
        .arn()
        .expect("an ARN")
        .to_owned();
    let name = format!("console/edited-{}", short_id());
    ok(sm
        .create_secret()
        .name(&name)
        .secret_string("v1")
        .description("before")
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("team")
                .value("red")
                .build(),
        )
        .send()
        .await);
    sign_in_as_root(&b).await;
    details(&b, &name).await;

    b.click("#edit-details summary").await;
    b.fill("#edit-description", "after").await;
    b.fill("#edit-kms", &key).await;
    b.click_to_next_page("#edit-details button.primary").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let described = ok(sm.describe_secret().secret_id(&name).send().await);
    assert_eq!(described.description(), Some("after"));
    assert_eq!(described.kms_key_id(), Some(key.as_str()));
    let value = ok(sm.get_secret_value().secret_id(&name).send().await);
    assert_eq!(value.secret_string(), Some("v1"));

    // Add a tag, remove the first.
    b.fill("#tag-key", "env").await;
    b.fill("#tag-value", "prod").await;
    b.click_to_next_page("#tags button[value=add]").await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    b.click_to_next_page("#tags button[value=remove][aria-label='Remove team']")
        .await;
    assert_eq!(b.text(".alert.ok").await, "Done.");
    let tags = b.text("#tags table").await;
    assert!(tags.contains("env") && !tags.contains("team"), "{tags}");
    let described = ok(sm.describe_secret().secret_id(&name).send().await);
    let tags: Vec<(&str, &str)> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    assert_eq!(tags, [("env", "prod")]);
    show(&b, "#tags").await;
    b.screenshot("27-edited").await;
    assert!(b.client.find(Locator::Css("#edit-details")).await.is_ok());

    assert_clean_log(&b).await;
    b.quit().await;
}
