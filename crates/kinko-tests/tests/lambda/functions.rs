//! Functions through their life: create, read, list (paged), update code and configuration,
//! publish versions, tags, delete; and the errors and validation Lambda answers.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, InvocationType, Runtime, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kinko_tests::*;

use crate::*;

fn sha256_b64(data: &[u8]) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

fn code(zip: Vec<u8>) -> FunctionCode {
    FunctionCode::builder().zip_file(Blob::new(zip)).build()
}

/// `2024-01-31T12:00:00.000+0000`.
fn is_last_modified(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 28
        && s.ends_with("+0000")
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && s[..4].chars().all(|c| c.is_ascii_digit())
}

#[tokio::test]
async fn create_get_list_and_delete() {
    let lambda = server().lambda_client();
    let role = execution_role().await;
    let name = format!("life-{}", short_id());
    let zip = echo_python_zip();
    let created = ok(lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Python312)
        .handler("lambda_function.lambda_handler")
        .role(&role)
        .description("echoes")
        .timeout(7)
        .memory_size(256)
        .environment(Environment::builder().variables("STAGE", "test").build())
        .tags("team", "a")
        .code(code(zip.clone()))
        .send()
        .await);
    let arn = function_arn(&name);
    assert_eq!(created.function_name(), Some(name.as_str()));
    assert_eq!(created.function_arn(), Some(arn.as_str()));
    assert_eq!(created.version(), Some("$LATEST"));
    assert_eq!(created.code_sha256(), Some(sha256_b64(&zip).as_str()));
    assert_eq!(created.code_size(), zip.len() as i64);
    assert_eq!(created.timeout(), Some(7));
    assert_eq!(created.memory_size(), Some(256));
    assert_eq!(created.role(), Some(role.as_str()));
    assert_eq!(created.state(), Some(&State::Pending));
    assert!(
        is_last_modified(created.last_modified().unwrap_or_default()),
        "{created:?}"
    );
    let revision = created.revision_id().expect("a revision id").to_owned();
    let vars = created
        .environment()
        .and_then(|e| e.variables())
        .expect("variables");
    assert_eq!(vars.get("STAGE").map(String::as_str), Some("test"));

    // Active from the first read on; the tags come with GetFunction.
    let got = ok(lambda.get_function().function_name(&name).send().await);
    let config = got.configuration().expect("configuration");
    assert_eq!(config.state(), Some(&State::Active));
    assert_eq!(config.revision_id(), Some(revision.as_str()));
    assert_eq!(config.description(), Some("echoes"));
    assert_eq!(
        got.tags().and_then(|t| t.get("team")).map(String::as_str),
        Some("a")
    );
    // By ARN too, and the configuration alone.
    let by_arn = ok(lambda
        .get_function_configuration()
        .function_name(&arn)
        .send()
        .await);
    assert_eq!(by_arn.code_sha256(), created.code_sha256());

    // Listed, page by page.
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ok(lambda
            .list_functions()
            .max_items(1)
            .set_marker(marker.clone())
            .send()
            .await);
        assert!(page.functions().len() <= 1);
        names.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name().map(str::to_owned)),
        );
        marker = page.next_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{names:?}");

    // The name is taken.
    let again = lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Python312)
        .handler("lambda_function.lambda_handler")
        .role(&role)
        .code(code(zip.clone()))
        .send()
        .await;
    assert_eq!(
        outcome(again),
        failed(
            "ResourceConflictException",
            &format!("Function already exist: {name}")
        )
    );

    ok(lambda.delete_function().function_name(&name).send().await);
    let gone = lambda.get_function().function_name(&name).send().await;
    assert_eq!(
        outcome(gone),
        failed("ResourceNotFoundException", &format!("Function not found: {arn}"))
    );
    let gone = lambda.delete_function().function_name(&name).send().await;
    assert_eq!(
        outcome(gone),
        failed("ResourceNotFoundException", &format!("Function not found: {arn}"))
    );
}

#[tokio::test]
async fn errors_have_lambdas_status_and_body() {
    let lambda = server().lambda_client();
    let name = format!("absent-{}", short_id());
    let (status, body) = raw_error(lambda.get_function().function_name(&name).send().await);
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"Type": "User", "Message": format!("Function not found: {}", function_arn(&name))})
    );
}

#[tokio::test]
async fn create_validates_as_lambda_does() {
    let lambda = server().lambda_client();
    let role = execution_role().await;
    let name = format!("invalid-{}", short_id());
    let create = || {
        lambda
            .create_function()
            .function_name(&name)
            .runtime(Runtime::Python312)
            .handler("lambda_function.lambda_handler")
            .role(&role)
            .code(code(echo_python_zip()))
    };
    let not_zip = create()
        .code(code(b"plain text, not a zip archive".to_vec()))
        .send()
        .await;
    assert_eq!(
        outcome(not_zip),
        failed(
            "InvalidParameterValueException",
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        )
    );
    let timeout = create().timeout(0).send().await;
    assert_eq!(
        outcome(timeout),
        failed("ValidationException", &model_min_value("timeout", 0, 1))
    );
    let memory = create().memory_size(64).send().await;
    assert_eq!(
        outcome(memory),
        failed("ValidationException", &model_min_value("memorySize", 64, 128))
    );
    let reserved = create()
        .environment(Environment::builder().variables("AWS_REGION", "x").build())
        .send()
        .await;
    assert_eq!(
        outcome(reserved),
        failed(
            "InvalidParameterValueException",
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION"
        )
    );
    let no_handler = lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Python312)
        .role(&role)
        .code(code(echo_python_zip()))
        .send()
        .await;
    assert_eq!(
        outcome(no_handler),
        failed(
            "InvalidParameterValueException",
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )
    );
    let bad_name = create().function_name("has spaces").send().await;
    assert_eq!(error_code(bad_name), "ValidationException");
    // Nothing of the refused requests was created.
    let gone = lambda.get_function().function_name(&name).send().await;
    assert_eq!(error_code(gone), "ResourceNotFoundException");
}

#[tokio::test]
async fn updates_versions_and_revisions() {
    let lambda = server().lambda_client();
    let role = execution_role().await;
    let name = format!("versions-{}", short_id());
    let first = server().root().python_function(&name, &role).await;
    assert_eq!(first, function_arn(&name));
    let before = ok(lambda
        .get_function_configuration()
        .function_name(&name)
        .send()
        .await);

    // A stale revision is refused.
    let stale = lambda
        .update_function_configuration()
        .function_name(&name)
        .revision_id("00000000-0000-0000-0000-000000000000")
        .timeout(9)
        .send()
        .await;
    assert_eq!(error_code(stale), "PreconditionFailedException");

    let updated = ok(lambda
        .update_function_configuration()
        .function_name(&name)
        .revision_id(before.revision_id().unwrap_or_default())
        .timeout(9)
        .environment(Environment::builder().variables("MODE", "two").build())
        .send()
        .await);
    assert_eq!(updated.timeout(), Some(9));
    assert_ne!(updated.revision_id(), before.revision_id());

    let published = ok(lambda
        .publish_version()
        .function_name(&name)
        .description("v1")
        .send()
        .await);
    assert_eq!(published.version(), Some("1"));
    assert_eq!(published.function_arn(), Some(format!("{first}:1").as_str()));
    // Nothing changed since: publishing again answers the same version.
    let same = ok(lambda.publish_version().function_name(&name).send().await);
    assert_eq!(same.version(), Some("1"));

    let new_zip = zip_of(&[("lambda_function.py", b"def lambda_handler(e, c):\n    return 2\n")]);
    let code_updated = ok(lambda
        .update_function_code()
        .function_name(&name)
        .zip_file(Blob::new(new_zip.clone()))
        .publish(true)
        .send()
        .await);
    assert_eq!(code_updated.version(), Some("2"));
    assert_eq!(code_updated.code_sha256(), Some(sha256_b64(&new_zip).as_str()));

    // Version 1 keeps its code and configuration.
    let v1 = ok(lambda
        .get_function_configuration()
        .function_name(&name)
        .qualifier("1")
        .send()
        .await);
    assert_eq!(v1.code_sha256(), before.code_sha256());
    assert_eq!(v1.timeout(), Some(9));
    assert_eq!(v1.description(), Some("v1"));
    let v1_by_name = ok(lambda
        .get_function()
        .function_name(format!("{name}:1"))
        .send()
        .await);
    assert_eq!(v1_by_name.configuration().and_then(|c| c.version()), Some("1"));

    let versions = ok(lambda
        .list_versions_by_function()
        .function_name(&name)
        .send()
        .await);
    let numbers: Vec<&str> = versions.versions().iter().filter_map(|v| v.version()).collect();
    assert_eq!(numbers, ["$LATEST", "1", "2"]);

    // A version is deleted on its own; $LATEST only with the function.
    let latest = lambda
        .delete_function()
        .function_name(&name)
        .qualifier("$LATEST")
        .send()
        .await;
    assert_eq!(
        outcome(latest),
        failed(
            "InvalidParameterValueException",
            "$LATEST version cannot be deleted without deleting the function."
        )
    );
    ok(lambda
        .delete_function()
        .function_name(&name)
        .qualifier("1")
        .send()
        .await);
    let v1_gone = lambda
        .get_function()
        .function_name(&name)
        .qualifier("1")
        .send()
        .await;
    assert_eq!(
        outcome(v1_gone),
        failed(
            "ResourceNotFoundException",
            &format!("Function not found: {first}:1")
        )
    );
    ok(lambda.delete_function().function_name(&name).send().await);
}

#[tokio::test]
async fn tags_are_listed_added_and_removed() {
    let lambda = server().lambda_client();
    let role = execution_role().await;
    let name = format!("tags-{}", short_id());
    let arn = server().root().python_function(&name, &role).await;
    ok(lambda
        .tag_resource()
        .resource(&arn)
        .tags("a", "1")
        .tags("b", "2")
        .send()
        .await);
    let tags = ok(lambda.list_tags().resource(&arn).send().await);
    let mut keys: Vec<&String> = tags.tags().map(|t| t.keys().collect()).unwrap_or_default();
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    ok(lambda.untag_resource().resource(&arn).tag_keys("a").send().await);
    let tags = ok(lambda.list_tags().resource(&arn).send().await);
    assert_eq!(tags.tags().map(|t| t.len()), Some(1));
    let missing = lambda
        .list_tags()
        .resource(function_arn("no-such-fn"))
        .send()
        .await;
    assert_eq!(error_code(missing), "ResourceNotFoundException");
}

#[tokio::test]
async fn invoke_dry_run_and_run() {
    let lambda = server().lambda_client();
    let role = execution_role().await;
    let name = format!("invoke-{}", short_id());
    server().root().python_function(&name, &role).await;
    let dry = ok(lambda
        .invoke()
        .function_name(&name)
        .invocation_type(InvocationType::DryRun)
        .send()
        .await);
    assert_eq!(dry.status_code(), 204);
    let absent = lambda
        .invoke()
        .function_name("no-such-function")
        .invocation_type(InvocationType::DryRun)
        .send()
        .await;
    assert_eq!(error_code(absent), "ResourceNotFoundException");
    let not_json = lambda
        .invoke()
        .function_name(&name)
        .payload(Blob::new("{not json"))
        .send()
        .await;
    assert_eq!(error_code(not_json), "InvalidParameterValueException");
    // The server runs it.
    let run = ok(lambda
        .invoke()
        .function_name(&name)
        .payload(Blob::new("{\"echo\": [1, 2]}"))
        .send()
        .await);
    assert_eq!(run.status_code(), 200);
    assert_eq!(run.function_error(), None);
    assert_eq!(
        run.payload().map(|p| p.as_ref().to_vec()),
        Some(b"{\"echo\": [1, 2]}".to_vec())
    );
}

#[tokio::test]
async fn a_server_that_runs_no_functions() {
    let mut config = dev_config();
    config.functions.max_instances = 0;
    let server = TestServer::start_with(config, TestClock::System).await;
    let role = server.root().execution_role("no-runner", None).await;
    server.root().python_function("no-runner", &role).await;
    let run = server
        .lambda_client()
        .invoke()
        .function_name("no-runner")
        .send()
        .await;
    assert_eq!(
        outcome(run),
        failed("ServiceException", "this server runs no functions")
    );
    server.shutdown().await;
}
