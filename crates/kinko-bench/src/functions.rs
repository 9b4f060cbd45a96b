//! `kinko-bench functions`: Lambda invocations through kinko's wire path, warm and cold.
//!
//! It starts `kinko server` on a fresh temporary data directory (durable SQLite, audit records
//! synced before each answer, as by default), creates an execution role and two trivial functions
//! (`python3.12` returning its event, `nodejs20.x` likewise), then, for each function:
//!
//! - **warm**: invokes it `--runs` times in a row on one keep-alive connection after `--warmup`
//!   unmeasured invocations, timing each signed `POST /2015-03-31/functions/NAME/invocations` from
//!   its first byte sent to its last byte read: what `aws lambda invoke` waits for, the server's
//!   whole side (authentication, authorization, audit record, the runner's hand-off to the warm
//!   instance and back) without the CLI's own start;
//! - **cold**: `--cold-runs` times, changes the function's configuration (a new environment
//!   variable value, which retires its instances, as in Lambda) and times the next invocation,
//!   which starts a new instance: a new session of the role, the interpreter's start, the
//!   bootstrap and the handler's module, then the invocation.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use base64::Engine;
use http::Method;

use crate::bench::{ACCOUNT_ID, Credentials, start_durable_kinko};
use crate::cli::FunctionsArgs;
use crate::client::{Conn, Endpoint};
use crate::exec::{iam, ms, percentile};
use crate::signing::Signer;

const REGION: &str = "us-east-1";
const PATH: &str = "/2015-03-31/functions";

/// A deployment package of one file.
fn zip_of(name: &str, code: &str) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, zip::write::SimpleFileOptions::default())
        .context("zip")?;
    zip.write_all(code.as_bytes()).context("zip")?;
    Ok(zip.finish().context("zip")?.into_inner())
}

/// One signed Lambda call on `conn`: the answer's status, function error header and body.
async fn call(
    conn: &mut Conn,
    signer: &Signer,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<(http::StatusCode, Option<String>, bytes::Bytes)> {
    let request = signer.rest_request("lambda", method, path, body, &[])?;
    let response = conn.send(request).await?;
    let function_error = response
        .headers
        .get("x-amz-function-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((response.status, function_error, response.body))
}

/// Invokes `name` once; its round trip.
async fn invoke(conn: &mut Conn, signer: &Signer, name: &str) -> Result<Duration> {
    let started = Instant::now();
    let (status, error, body) = call(
        conn,
        signer,
        Method::POST,
        &format!("{PATH}/{name}/invocations"),
        br#"{"ping":1}"#.to_vec(),
    )
    .await?;
    let elapsed = started.elapsed();
    ensure!(
        status == 200
            && error.is_none()
            && (body.as_ref() == br#"{"ping": 1}"#.as_slice()
                || body.as_ref() == br#"{"ping":1}"#.as_slice()),
        "Invoke {name}: {status} {error:?} {}",
        String::from_utf8_lossy(&body)
    );
    Ok(elapsed)
}

struct Function {
    name: &'static str,
    runtime: &'static str,
    handler: &'static str,
    file: &'static str,
    code: &'static str,
}

const FUNCTIONS: [Function; 2] = [
    Function {
        name: "bench-python",
        runtime: "python3.12",
        handler: "lambda_function.lambda_handler",
        file: "lambda_function.py",
        code: "def lambda_handler(event, context):\n    return event\n",
    },
    Function {
        name: "bench-node",
        runtime: "nodejs20.x",
        handler: "index.handler",
        file: "index.js",
        code: "exports.handler = async (event) => event;\n",
    },
];

pub async fn run(args: FunctionsArgs) -> Result<()> {
    ensure!(
        args.runs > 0 && args.cold_runs > 0,
        "--runs and --cold-runs must be at least 1"
    );
    let workdir =
        tempfile::TempDir::with_prefix("kinko-bench-functions-").context("creating temporary directory")?;
    let root = Credentials::generate();
    let server = start_durable_kinko(&args.kinko, workdir.path(), &root).await?;
    let result = measure(&args, server.endpoint(), &root).await;
    server.stop().await?;
    result
}

async fn measure(args: &FunctionsArgs, endpoint: &Endpoint, root: &Credentials) -> Result<()> {
    let signer = root.signer(&endpoint.authority, REGION)?;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam(
        endpoint,
        &signer,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "bench-function"),
            ("AssumeRolePolicyDocument", trust),
        ],
    )
    .await?;
    let role = format!("arn:aws:iam::{ACCOUNT_ID}:role/bench-function");
    let mut conn = Conn::connect(endpoint.addr).await?;
    println!("| function | invocation | runs | p50 ms | p90 ms | p99 ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for f in &FUNCTIONS {
        let zip = base64::engine::general_purpose::STANDARD.encode(zip_of(f.file, f.code)?);
        let create = serde_json::json!({
            "FunctionName": f.name, "Runtime": f.runtime, "Handler": f.handler, "Role": role,
            "Code": {"ZipFile": zip}, "Timeout": 10,
        });
        let (status, _, body) = call(
            &mut conn,
            &signer,
            Method::POST,
            PATH,
            serde_json::to_vec(&create)?,
        )
        .await?;
        ensure!(
            status == 201,
            "CreateFunction {}: {status} {}",
            f.name,
            String::from_utf8_lossy(&body)
        );
        for _ in 0..args.warmup {
            invoke(&mut conn, &signer, f.name).await?;
        }
        let mut warm = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            warm.push(invoke(&mut conn, &signer, f.name).await?);
        }
        let mut cold = Vec::with_capacity(args.cold_runs);
        for i in 0..args.cold_runs {
            let update = serde_json::json!({"Environment": {"Variables": {"RUN": i.to_string()}}});
            let (status, _, body) = call(
                &mut conn,
                &signer,
                Method::PUT,
                &format!("{PATH}/{}/configuration", f.name),
                serde_json::to_vec(&update)?,
            )
            .await?;
            ensure!(
                status == 200,
                "UpdateFunctionConfiguration: {status} {}",
                String::from_utf8_lossy(&body)
            );
            cold.push(invoke(&mut conn, &signer, f.name).await?);
        }
        for (kind, d) in [("warm", &mut warm), ("cold", &mut cold)] {
            d.sort();
            println!(
                "| `{}` | {kind} | {} | {:.2} | {:.2} | {:.2} |",
                f.runtime,
                d.len(),
                ms(percentile(d, 0.5)),
                ms(percentile(d, 0.9)),
                ms(percentile(d, 0.99))
            );
        }
    }
    Ok(())
}
