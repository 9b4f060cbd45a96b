//! `kinko-bench exec`: what `kinko exec` adds to a command's start on a warm server.
//!
//! It starts `kinko server` on a fresh temporary data directory (durable SQLite, audit records
//! synced before each answer, as by default), makes an IAM user allowed `sts:AssumeRole` and a
//! role trusting the account, then times, alternately, `true` and `kinko exec --role ROLE -- true`
//! as that user (wall time from spawn to exit), after unmeasured warm-up runs. The difference of
//! the medians is what `kinko exec` adds: its own start, the AssumeRole call (signed, authorized,
//! audited) and the credentials endpoint it opens before the command runs.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::process::Command;

use crate::bench::{Credentials, start_durable_kinko};
use crate::cli::ExecArgs;
use crate::client::{Conn, Endpoint};
use crate::signing::Signer;

const REGION: &str = "us-east-1";

/// The text of the first `<name>` element of an XML answer.
pub(crate) fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// One IAM (Query protocol) call as root: the XML answer.
pub(crate) async fn iam(endpoint: &Endpoint, signer: &Signer, params: &[(&str, &str)]) -> Result<String> {
    let request = signer.query_request("iam", params)?;
    let mut connection = Conn::connect(endpoint.addr).await?;
    let response = connection.send(request).await?;
    let body = String::from_utf8_lossy(&response.body).into_owned();
    ensure!(
        response.status.is_success(),
        "IAM {:?}: {} {body}",
        params.first(),
        response.status
    );
    Ok(body)
}

/// Runs `command` once: its wall time from spawn to exit.
async fn time(mut command: Command) -> Result<Duration> {
    let started = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .context("running a command")?;
    let elapsed = started.elapsed();
    if !status.status.success() {
        bail!(
            "the command failed ({}): {}",
            status.status,
            String::from_utf8_lossy(&status.stderr)
        );
    }
    Ok(elapsed)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn run(args: ExecArgs) -> Result<()> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    let workdir =
        tempfile::TempDir::with_prefix("kinko-bench-exec-").context("creating temporary directory")?;
    let root = Credentials::generate();
    let server = start_durable_kinko(&args.kinko, workdir.path(), &root).await?;
    let result = measure(&args, server.endpoint(), &root, workdir.path()).await;
    server.stop().await?;
    result
}

async fn measure(args: &ExecArgs, endpoint: &Endpoint, root: &Credentials, _dir: &Path) -> Result<()> {
    let signer = root.signer(&endpoint.authority, REGION)?;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
        crate::bench::ACCOUNT_ID
    );
    let role = iam(
        endpoint,
        &signer,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "bench-exec"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    )
    .await?;
    let role_arn = element(&role, "Arn").context("CreateRole answered no Arn")?;
    iam(
        endpoint,
        &signer,
        &[("Action", "CreateUser"), ("UserName", "bench-exec")],
    )
    .await?;
    iam(
        endpoint,
        &signer,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "bench-exec"),
            ("PolicyName", "assume"),
            (
                "PolicyDocument",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
            ),
        ],
    )
    .await?;
    let key = iam(
        endpoint,
        &signer,
        &[("Action", "CreateAccessKey"), ("UserName", "bench-exec")],
    )
    .await?;
    let access_key_id = element(&key, "AccessKeyId").context("no AccessKeyId")?;
    let secret_access_key = element(&key, "SecretAccessKey").context("no SecretAccessKey")?;
    let url = format!("http://{}", endpoint.authority);
    let exec = || {
        let mut c = Command::new(&args.kinko);
        c.args(["exec", "--endpoint", &url, "--role", &role_arn, "--", "true"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", &access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &secret_access_key)
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        c
    };
    let plain = || {
        let mut c = Command::new("true");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        c
    };
    for _ in 0..args.warmup {
        time(plain()).await?;
        time(exec()).await?;
    }
    let (mut bare, mut wrapped) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        bare.push(time(plain()).await?);
        wrapped.push(time(exec()).await?);
    }
    bare.sort();
    wrapped.sort();
    println!("| command | runs | p50 ms | p90 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, d) in [("true", &bare), ("kinko exec --role R -- true", &wrapped)] {
        println!(
            "| `{name}` | {} | {:.1} | {:.1} | {:.1} |",
            d.len(),
            ms(percentile(d, 0.5)),
            ms(percentile(d, 0.9)),
            ms(percentile(d, 0.99))
        );
    }
    println!(
        "\n`kinko exec` adds {:.1} ms at the median ({:.1} ms at p90) to a command's start.",
        ms(percentile(&wrapped, 0.5)) - ms(percentile(&bare, 0.5)),
        ms(percentile(&wrapped, 0.9)) - ms(percentile(&bare, 0.9)),
    );
    Ok(())
}
