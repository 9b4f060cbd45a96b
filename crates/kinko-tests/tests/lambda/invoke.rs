//! Functions run by the server: invoked with the AWS SDK for Rust, the code runs as a local process
//! under its execution role and calls kinko with the SDK its runtime has (aws-sdk v2 for
//! `nodejs12.x`, boto3 for Python), so its role's policies decide what it may read.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, LogType, Runtime};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kinko_tests::*;
use serde_json::{Value, json};

use crate::*;

/// The guide's region, where its function looks for `MySecret`.
const GUIDE_REGION: &str = "ap-northeast-1";

async fn create(name: &str, runtime: Runtime, handler: &str, role: &str, zip: Vec<u8>) -> String {
    create_with(name, runtime, handler, role, zip, |b| b).await
}

async fn create_with(
    name: &str,
    runtime: Runtime,
    handler: &str,
    role: &str,
    zip: Vec<u8>,
    configure: impl FnOnce(
        aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
    )
        -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
) -> String {
    let request = server()
        .lambda_client()
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .handler(handler)
        .role(role)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build());
    let out = ok(configure(request).send().await);
    out.function_arn.expect("CreateFunction returns the ARN")
}

/// Invokes `name` with `payload`; the response's function error and payload as JSON.
async fn invoke(name: &str, payload: Value) -> (Option<String>, Value) {
    let out = ok(server()
        .lambda_client()
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await);
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.executed_version(), Some("$LATEST"));
    let body = out.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    let doc = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (out.function_error().map(str::to_owned), doc)
}

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().expect("role name")
}

/// The session a function's calls are made as.
fn function_session(role_arn: &str, function: &str) -> String {
    format!(
        "arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{}/{function}",
        role_name(role_arn)
    )
}

#[tokio::test]
async fn the_guides_node_function_reads_its_secret_and_another_role_is_denied() {
    let server = server();
    let sm = server.client_in(GUIDE_REGION, &server.root_credentials());
    let created = ok(sm
        .create_secret()
        .name("MySecret")
        .secret_string("{\"username\":\"app\",\"password\":\"guide-pass-1\"}")
        .send()
        .await);
    let secret_arn = created.arn().expect("arn").to_owned();
    let reader_role = server
        .root()
        .execution_role(
            &format!("guide-reader-{}", short_id()),
            Some(&allow(&["secretsmanager:GetSecretValue"], &[&secret_arn])),
        )
        .await;
    let other_role = execution_role().await;
    let reader = format!("guide-reader-{}", short_id());
    let other = format!("guide-other-{}", short_id());
    create(
        &reader,
        Runtime::Nodejs12x,
        "index.handler",
        &reader_role,
        guide_node_zip(),
    )
    .await;
    create(
        &other,
        Runtime::Nodejs12x,
        "index.handler",
        &other_role,
        guide_node_zip(),
    )
    .await;

    // The function returns a JSON string: the payload is that string, JSON-encoded.
    let (error, doc) = invoke(&reader, json!({})).await;
    assert_eq!(error, None, "{doc}");
    let inner: Value = serde_json::from_str(doc.as_str().expect("a JSON string")).expect("JSON");
    let response = &inner["response"];
    assert_eq!(response["ARN"], secret_arn.as_str());
    assert_eq!(response["Name"], "MySecret");
    assert_eq!(
        response["SecretString"],
        "{\"username\":\"app\",\"password\":\"guide-pass-1\"}"
    );
    assert!(response["VersionStages"] == json!(["AWSCURRENT"]), "{inner}");

    let (error, doc) = invoke(&other, json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "AccessDeniedException", "{doc}");
    // The secret is named in the message as the function named it (`MySecret`), the same whether
    // or not it exists, as Secrets Manager's messages do.
    assert_eq!(
        doc["errorMessage"],
        format!(
            "User: arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{}/{other} is not authorized to perform: \
             secretsmanager:GetSecretValue on resource: MySecret because no identity-based policy \
             allows the secretsmanager:GetSecretValue action",
            role_name(&other_role)
        )
        .as_str()
    );
    assert_eq!(
        doc["errorMessage"],
        access_denied(
            &function_session(&other_role, &other),
            "secretsmanager:GetSecretValue",
            Some("MySecret"),
            Denial::NoIdentityPolicy
        )
        .as_str()
    );
    assert!(doc["trace"].is_array(), "{doc}");
}

#[tokio::test]
async fn a_boto3_function_reads_exactly_what_its_role_allows() {
    let server = server();
    let allowed = format!("fn-allowed-{}", short_id());
    let forbidden = format!("fn-forbidden-{}", short_id());
    let sm = server.client();
    let allowed_arn = ok(sm
        .create_secret()
        .name(&allowed)
        .secret_string("DefaultEndpointsProtocol=https;AccountName=dev;AccountKey=a2lua28=")
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    let forbidden_arn = ok(sm
        .create_secret()
        .name(&forbidden)
        .secret_string("not-for-this-function")
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    let role = server
        .root()
        .execution_role(
            &format!("boto3-{}", short_id()),
            Some(&allow(&["secretsmanager:GetSecretValue"], &[&allowed_arn])),
        )
        .await;
    let code = b"import boto3\n\
client = boto3.client('secretsmanager')\n\
def lambda_handler(event, context):\n    \
return client.get_secret_value(SecretId=event['id'])['SecretString']\n";
    let name = format!("boto3-reader-{}", short_id());
    create(
        &name,
        Runtime::Python312,
        "lambda_function.lambda_handler",
        &role,
        zip_of(&[("lambda_function.py", code)]),
    )
    .await;

    let (error, doc) = invoke(&name, json!({"id": allowed})).await;
    assert_eq!(error, None, "{doc}");
    assert_eq!(
        doc,
        json!("DefaultEndpointsProtocol=https;AccountName=dev;AccountKey=a2lua28=")
    );
    // By full ARN too.
    let (error, doc) = invoke(&name, json!({"id": allowed_arn})).await;
    assert_eq!(error, None, "{doc}");

    let (error, doc) = invoke(&name, json!({"id": forbidden_arn})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "ClientError", "{doc}");
    assert_eq!(
        doc["errorMessage"],
        format!(
            "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: {}",
            access_denied(
                &function_session(&role, &name),
                "secretsmanager:GetSecretValue",
                Some(&forbidden_arn),
                Denial::NoIdentityPolicy
            )
        )
        .as_str()
    );
}

#[tokio::test]
async fn failures_are_function_errors_with_lambdas_documents() {
    let role = execution_role().await;
    let code: &[u8] = b"import os, time\n\
def slow(event, context):\n    time.sleep(30)\n\
def crash(event, context):\n    os._exit(3)\n\
def big(event, context):\n    return 'x' * event['n']\n\
def fail(event, context):\n    raise ValueError('bad input')\n";
    let zip = zip_of(&[("app.py", code)]);
    let slow = format!("slow-{}", short_id());
    create_with(&slow, Runtime::Python312, "app.slow", &role, zip.clone(), |b| {
        b.timeout(1)
    })
    .await;
    let started = std::time::Instant::now();
    let (error, doc) = invoke(&slow, json!({})).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "Sandbox.Timedout", "{doc}");
    assert!(
        doc["errorMessage"]
            .as_str()
            .expect("message")
            .ends_with("Task timed out after 1.00 seconds"),
        "{doc}"
    );

    let crash = format!("crash-{}", short_id());
    create(&crash, Runtime::Python312, "app.crash", &role, zip.clone()).await;
    let (error, doc) = invoke(&crash, json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "Runtime.ExitError", "{doc}");

    let big = format!("big-{}", short_id());
    create(&big, Runtime::Python312, "app.big", &role, zip.clone()).await;
    let (error, doc) = invoke(&big, json!({"n": 7_000_000})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(
        doc,
        json!({"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
               "errorType": "Function.ResponseSizeTooLarge"})
    );

    let fail = format!("fail-{}", short_id());
    create(&fail, Runtime::Python312, "app.fail", &role, zip.clone()).await;
    let (error, doc) = invoke(&fail, json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "ValueError");
    assert_eq!(doc["errorMessage"], "bad input");

    let broken = format!("init-{}", short_id());
    create(
        &broken,
        Runtime::Nodejs20x,
        "index.handler",
        &role,
        zip_of(&[("index.js", b"require('left-pad');\n")]),
    )
    .await;
    let (error, doc) = invoke(&broken, json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(doc["errorType"], "Runtime.ImportModuleError", "{doc}");
}

#[tokio::test]
async fn log_tail_and_the_function_environment() {
    let role = execution_role().await;
    let name = format!("env-{}", short_id());
    let code = b"import os\n\
def lambda_handler(event, context):\n    \
print('hello from', context.function_name)\n    \
return {k: os.environ.get(k) for k in ['AWS_LAMBDA_FUNCTION_NAME', 'AWS_REGION', 'GREETING', \
'KINKO_ROOT_KEY', 'KINKO_STORE', 'AWS_ENDPOINT_URL']}\n";
    let arn = create_with(
        &name,
        Runtime::Python312,
        "lambda_function.lambda_handler",
        &role,
        zip_of(&[("lambda_function.py", code)]),
        |b| {
            b.environment(
                aws_sdk_lambda::types::Environment::builder()
                    .variables("GREETING", "hi")
                    .build(),
            )
        },
    )
    .await;
    let out = ok(server()
        .lambda_client()
        .invoke()
        .function_name(&arn)
        .log_type(LogType::Tail)
        .send()
        .await);
    assert_eq!(out.function_error(), None);
    let doc: Value = serde_json::from_slice(out.payload().expect("payload").as_ref()).expect("JSON");
    assert_eq!(
        doc,
        json!({"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_REGION": REGION, "GREETING": "hi",
               "KINKO_ROOT_KEY": null, "KINKO_STORE": null,
               "AWS_ENDPOINT_URL": server().endpoint_url()})
    );
    let log = B64
        .decode(out.log_result().expect("X-Amz-Log-Result"))
        .expect("base64");
    let log = String::from_utf8(log).expect("UTF-8");
    assert!(log.contains(&format!("hello from {name}")), "{log}");
    assert!(log.contains("START RequestId: "), "{log}");
    assert!(log.contains("REPORT RequestId: "), "{log}");
}
