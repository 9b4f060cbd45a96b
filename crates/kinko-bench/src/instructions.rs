//! Instructions per request, counted by valgrind's callgrind: a regression guard that the
//! machine's load cannot move.
//!
//! `kinko-bench instructions` runs itself under `valgrind --tool=callgrind` as a worker. The
//! worker starts a kinko server in its own process, as `kinko server` starts it (a durable SQLite
//! data dir, durable audit on), seeds what the operations need, signs every request beforehand,
//! and then, per operation, sends the requests through the server's router (the same handler the
//! listener serves, without sockets) inside one function callgrind zeroes its counters on entering
//! and dumps them on leaving (`--zero-before`/`--dump-after`). A dump counts the instructions of
//! that window in the request's handling (the store's reads included) and in the writer threads'
//! batches it waits for (its audit record, its store write); see [`COUNTED_FNS`]. Divided by the
//! requests sent, that is the figure; it varies by a fraction of a percent from run to run,
//! whatever else the machine does.
//!
//! With `--baseline FILE` the figures are compared with a committed baseline and the command
//! fails when one is more than `--tolerance` percent above it; `--update` rewrites the file.
//! The figures are of the binary that runs: CI counts its debug build, so the baseline holds
//! debug-build figures (they move with the code as the release build's do, only larger).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use axum::body::Body;
use bytes::Bytes;
use clap::Args;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tower_service::Service as _;

use crate::signing::{Api, Signer};

/// The operations counted, in the order they run.
const OPS: [&str; 5] = ["get", "get-role", "put", "decrypt", "assume-role"];

/// PutSecretValue calls per secret (each adds a version; see `prepare`).
const PUTS_PER_SECRET: usize = 90;

/// The function callgrind zeroes on entering and dumps on leaving (see the module doc).
const PHASE_FN: &str = "kinko_bench::instructions::measured_phase";

/// Where instructions are counted: the requests (on the thread that runs them, the store's reads
/// included), and the batches of the two writer threads a request waits for (its audit record,
/// and its store write). Callgrind counts per thread while inside one of these (the threads' idle
/// loops and the LookupEvents index thread, whose passes follow the clock and not the requests,
/// are left out: they would move the counts from run to run by several percent).
const COUNTED_FNS: [&str; 3] = [
    PHASE_FN,
    "kinko_server::audit::writer::Out::write_batch",
    "kinko_store_sqlite::conn::commit_batch",
];

#[derive(Debug, Args)]
pub struct InstructionsArgs {
    /// Requests per operation in the counted window.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,

    /// Requests per operation sent before the window (caches, first-use costs).
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,

    /// Committed figures to compare with.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Rewrite the baseline with this run's figures instead of comparing.
    #[arg(long, requires = "baseline")]
    pub update: bool,

    /// Percent above the baseline at which an operation fails the run.
    #[arg(long, default_value_t = 10.0)]
    pub tolerance: f64,

    /// The valgrind executable.
    #[arg(long, default_value = "valgrind")]
    pub valgrind: PathBuf,

    /// Run as the worker (what runs under callgrind).
    #[arg(long, hide = true)]
    pub worker: bool,
}

pub fn run(args: &InstructionsArgs) -> Result<bool> {
    if args.worker {
        worker(args)?;
        return Ok(true);
    }
    let figures = count(args)?;
    let mut table = String::from("| operation | instructions per request |\n|---|---:|\n");
    for (op, per_request) in &figures {
        table.push_str(&format!("| {op} | {per_request} |\n"));
    }
    print!("{table}");
    let Some(path) = &args.baseline else {
        return Ok(true);
    };
    if args.update {
        let doc = json!({
            "about": "Instructions per request counted by `kinko-bench instructions` (callgrind, \
                      the debug build CI runs). Rewrite with `--update` when a change is meant to \
                      cost more, and say why in the commit.",
            "instructions_per_request": figures,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("baseline written to {}", path.display());
        return Ok(true);
    }
    let baseline: Value =
        serde_json::from_slice(&std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
            .with_context(|| format!("parsing {}", path.display()))?;
    let verdicts = compare(&figures, &baseline, args.tolerance);
    for verdict in &verdicts {
        println!("{}", verdict.line);
    }
    Ok(verdicts.iter().all(|v| v.ok))
}

struct Verdict {
    ok: bool,
    line: String,
}

/// Each operation's figure against the baseline's: more than `tolerance` percent above it, or
/// no figure in the baseline, fails.
fn compare(figures: &BTreeMap<String, u64>, baseline: &Value, tolerance: f64) -> Vec<Verdict> {
    figures
        .iter()
        .map(|(op, &per_request)| {
            let Some(base) = baseline["instructions_per_request"][op]
                .as_u64()
                .filter(|&b| b > 0)
            else {
                return Verdict {
                    ok: false,
                    line: format!("{op}: {per_request}, no baseline figure (run with --update) FAIL"),
                };
            };
            let change = (per_request as f64 / base as f64 - 1.0) * 100.0;
            // Compared as a product, not through `change`: 1100 against 1000 is +10 % exactly.
            let ok = per_request as f64 <= base as f64 * (1.0 + tolerance / 100.0);
            Verdict {
                ok,
                line: format!(
                    "{op}: {per_request} against {base} ({change:+.1} %, limit +{tolerance}) {}",
                    if ok { "ok" } else { "FAIL" }
                ),
            }
        })
        .collect()
}

/// Runs the worker under callgrind and reads the dumps: instructions per request per operation.
fn count(args: &InstructionsArgs) -> Result<BTreeMap<String, u64>> {
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    let out = dir.path().join("callgrind.out");
    let exe = std::env::current_exe().context("locating the kinko-bench executable")?;
    let mut zero = OsString::from("--zero-before=");
    zero.push(PHASE_FN);
    let mut dump = OsString::from("--dump-after=");
    dump.push(PHASE_FN);
    let mut out_arg = OsString::from("--callgrind-out-file=");
    out_arg.push(&out);
    // With several `--toggle-collect`, valgrind 3.19's callgrind matched only the patterns with a
    // wildcard (an exact name among several counted nothing): each gets a leading `*`.
    let toggles = COUNTED_FNS.iter().map(|f| format!("--toggle-collect=*{f}"));
    let status = Command::new(&args.valgrind)
        .arg("--tool=callgrind")
        .arg(out_arg)
        .arg("--collect-atstart=no")
        .args(toggles)
        .arg(zero)
        .arg(dump)
        .arg("--quiet")
        .arg(&exe)
        .args(["instructions", "--worker", "--requests"])
        .arg(args.requests.to_string())
        .arg("--warmup")
        .arg(args.warmup.to_string())
        .current_dir(dir.path())
        .status()
        .with_context(|| format!("running {} (Debian package `valgrind`)", args.valgrind.display()))?;
    ensure!(status.success(), "the worker under callgrind failed: {status}");
    let mut dumps = dump_files(dir.path())?;
    dumps.sort();
    ensure!(
        dumps.len() == OPS.len(),
        "expected {} callgrind dumps, found {}: {dumps:?}",
        OPS.len(),
        dumps.len()
    );
    // A counted function that was renamed would silently count nothing.
    let profiles = dumps
        .iter()
        .map(|(_, path)| std::fs::read_to_string(path))
        .collect::<std::io::Result<Vec<_>>>()
        .context("reading the callgrind dumps")?;
    for f in COUNTED_FNS {
        let named = format!(") {f}\n");
        ensure!(
            profiles.iter().any(|p| p.contains(&named)),
            "no instructions counted in {f}: was it renamed? (update COUNTED_FNS)"
        );
    }
    let mut figures = BTreeMap::new();
    for (op, (_, path)) in OPS.iter().zip(&dumps) {
        let total = total_instructions(path)?;
        figures.insert((*op).to_owned(), total / args.requests as u64);
    }
    Ok(figures)
}

/// The dump files callgrind wrote (`callgrind.out.N`), with their sequence numbers.
fn dump_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(n) = name.strip_prefix("callgrind.out.").and_then(|n| n.parse().ok()) {
            found.push((n, path));
        }
    }
    Ok(found)
}

/// The `summary:` (or `totals:`) line of a callgrind dump: its instructions (`Ir`, the only event
/// collected by default).
fn total_instructions(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no summary line in {}", path.display()))
}

/// The requests of one operation, signed beforehand.
struct Batch {
    op: &'static str,
    warmup: Vec<Request<Body>>,
    measured: Vec<Request<Body>>,
}

fn worker(args: &InstructionsArgs) -> Result<()> {
    // One thread runs the requests: the idle spinning of a multi-threaded runtime's workers
    // depends on timing and would move the counts from run to run.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let dir = tempfile::tempdir().context("creating the data dir")?;
    let (mut router, batches, running) = runtime.block_on(prepare(dir.path(), args))?;
    for batch in batches {
        for request in batch.warmup {
            runtime.block_on(send(&mut router, request, batch.op))?;
        }
        measured_phase(&runtime, &mut router, batch.measured, batch.op)?;
    }
    runtime
        .block_on(running.shutdown())
        .context("stopping the server")?;
    Ok(())
}

/// The counted window of one operation: callgrind zeroes its counters on entering this function
/// and dumps them on leaving it.
#[inline(never)]
fn measured_phase(
    runtime: &tokio::runtime::Runtime,
    router: &mut axum::Router,
    requests: Vec<Request<Body>>,
    op: &str,
) -> Result<()> {
    for request in requests {
        runtime.block_on(send(router, request, op))?;
    }
    Ok(())
}

async fn send(router: &mut axum::Router, request: Request<Body>, op: &str) -> Result<Bytes> {
    let response: Response<Body> = router.call(request).await.context("calling the router")?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading the body")?
        .to_bytes();
    ensure!(
        status.is_success(),
        "{op}: HTTP {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(body)
}

/// A request as the listener hands it on: the client's address in `ConnectInfo`.
fn into_router_request(request: Request<Full<Bytes>>) -> Request<Body> {
    let (mut parts, body) = request.into_parts();
    parts
        .extensions
        .insert(axum::extract::ConnectInfo(SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    Request::from_parts(parts, Body::new(body))
}

/// Starts the server, seeds a secret, a customer managed key, a ciphertext and a role with five
/// policies, and signs every request.
async fn prepare(
    dir: &Path,
    args: &InstructionsArgs,
) -> Result<(axum::Router, Vec<Batch>, kinko_server::Running)> {
    let credentials = crate::bench::Credentials::generate();
    let config = kinko_server::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.to_path_buf(),
        root_access_key_id: Some(credentials.access_key_id.clone()),
        root_secret_access_key: Some(zeroize::Zeroizing::new(credentials.secret_access_key.clone())),
        ..kinko_server::Config::default()
    };
    let running = kinko_server::start(config, Arc::new(kinko_core::SystemClock))
        .await
        .context("starting kinko")?;
    let mut router = running.router();
    let authority = running.local_addr().to_string();
    let region = "us-east-1";
    let root = credentials.signer(&authority, region)?;
    let rng = &mut rand::rng();
    let json = |signer: &Signer, api: Api, op: &str, body: Value| -> Result<Request<Body>> {
        Ok(into_router_request(signer.request(
            api,
            op,
            serde_json::to_vec(&body)?,
            &mut rand::rng(),
        )?))
    };
    let value = r#"{"engine":"postgres","username":"app","password":"0123456789abcdef0123456789abcdef"}"#;
    send(
        &mut router,
        json(
            &root,
            Api::SecretsManager,
            "CreateSecret",
            json!({"Name": "instructions", "SecretString": value,
            "ClientRequestToken": crate::ops::random_uuid(rng).to_string()}),
        )?,
        "CreateSecret",
    )
    .await?;
    // A secret keeps at most 100 versions younger than a day (AWS's limit): puts spread over
    // several.
    let total = args.warmup + args.requests;
    for n in 0..total.div_ceil(PUTS_PER_SECRET) {
        send(
            &mut router,
            json(
                &root,
                Api::SecretsManager,
                "CreateSecret",
                json!({"Name": format!("instructions-put-{n}"),
                "SecretString": value, "ClientRequestToken": crate::ops::random_uuid(rng).to_string()}),
            )?,
            "CreateSecret",
        )
        .await?;
    }
    let key: Value = serde_json::from_slice(
        &send(
            &mut router,
            json(&root, Api::Kms, "CreateKey", json!({}))?,
            "CreateKey",
        )
        .await?,
    )?;
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .context("CreateKey: no KeyId")?
        .to_owned();
    let encrypted: Value = serde_json::from_slice(
        &send(
            &mut router,
            json(
                &root,
                Api::Kms,
                "Encrypt",
                json!({"KeyId": key_id, "Plaintext": "c2VjcmV0"}),
            )?,
            "Encrypt",
        )
        .await?,
    )?;
    let blob = encrypted["CiphertextBlob"]
        .as_str()
        .context("Encrypt: no CiphertextBlob")?
        .to_owned();

    // A role with five attached policies, as issue-sized sessions have, and an IAM user allowed
    // to assume it (see `role`).
    let account = running.account_id().to_owned();
    let query = |signer: &Signer, service: &str, params: &[(&str, &str)]| -> Result<Request<Body>> {
        Ok(into_router_request(signer.query_request(service, params)?))
    };
    for call in crate::role::setup_calls(&account, region, "instructions-") {
        let params = crate::role::pairs(&call);
        send(&mut router, query(&root, "iam", &params)?, params[0].1).await?;
    }
    let created = send(
        &mut router,
        query(
            &root,
            "iam",
            &crate::role::pairs(&crate::role::create_access_key()),
        )?,
        "CreateAccessKey",
    )
    .await?;
    let created = String::from_utf8_lossy(&created).into_owned();
    let caller = Signer::new(
        &authority,
        region,
        &xml_field(&created, "AccessKeyId")?,
        &xml_field(&created, "SecretAccessKey")?,
        None,
    )?;
    let assume = crate::role::assume_role(&account, "instructions");
    let assumed = send(
        &mut router,
        query(&caller, "sts", &crate::role::pairs(&assume))?,
        "AssumeRole",
    )
    .await?;
    let assumed = String::from_utf8_lossy(&assumed).into_owned();
    let session = Signer::new(
        &authority,
        region,
        &xml_field(&assumed, "AccessKeyId")?,
        &xml_field(&assumed, "SecretAccessKey")?,
        Some(&xml_field(&assumed, "SessionToken")?),
    )?;
    let role_arn = crate::role::role_arn(&account);

    let mut batches = Vec::new();
    for op in OPS {
        let mut requests = Vec::with_capacity(total);
        for i in 0..total {
            requests.push(match op {
                "get" => json(&root, Api::SecretsManager, "GetSecretValue", json!({"SecretId": "instructions"}))?,
                "get-role" => json(&session, Api::SecretsManager, "GetSecretValue", json!({"SecretId": "instructions"}))?,
                "put" => json(
                    &root,
                    Api::SecretsManager,
                    "PutSecretValue",
                    json!({"SecretId": format!("instructions-put-{}", i / PUTS_PER_SECRET), "SecretString": value,
                           "ClientRequestToken": crate::ops::random_uuid(rng).to_string()}),
                )?,
                "decrypt" => json(&root, Api::Kms, "Decrypt", json!({"CiphertextBlob": blob}))?,
                "assume-role" => {
                    let name = format!("instructions-{i}");
                    let params = [
                        ("Action", "AssumeRole"),
                        ("RoleArn", role_arn.as_str()),
                        ("RoleSessionName", name.as_str()),
                    ];
                    query(&caller, "sts", &params)?
                }
                other => bail!("unknown operation {other}"),
            });
        }
        let measured = requests.split_off(args.warmup);
        batches.push(Batch {
            op,
            warmup: requests,
            measured,
        });
    }
    Ok((router, batches, running))
}

/// The text of the first `<name>` element of a Query-protocol answer.
fn xml_field(xml: &str, name: &str) -> Result<String> {
    crate::exec::element(xml, name).with_context(|| format!("no <{name}> in the answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_the_tolerance_above_the_baseline_fails() {
        let baseline = json!({"instructions_per_request": {"get": 1000, "put": 2000}});
        let figures = BTreeMap::from([("get".to_owned(), 1100), ("put".to_owned(), 2201)]);
        let verdicts = compare(&figures, &baseline, 10.0);
        assert!(verdicts[0].ok, "{}", verdicts[0].line);
        assert!(!verdicts[1].ok, "{}", verdicts[1].line);
        // Fewer instructions pass; an operation the baseline lacks fails.
        let figures = BTreeMap::from([("get".to_owned(), 10), ("decrypt".to_owned(), 10)]);
        let verdicts = compare(&figures, &baseline, 10.0);
        // In name order: decrypt, then get.
        assert!(
            !verdicts[0].ok && verdicts[0].line.contains("no baseline"),
            "{}",
            verdicts[0].line
        );
        assert!(verdicts[1].ok, "{}", verdicts[1].line);
    }

    #[test]
    fn the_summary_line_of_a_dump_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callgrind.out.1");
        std::fs::write(&path, "version: 1\nevents: Ir\nsummary: 123456\nfn=(1) main\n").unwrap();
        assert_eq!(total_instructions(&path).unwrap(), 123_456);
        std::fs::write(&path, "events: Ir\n").unwrap();
        assert!(total_instructions(&path).is_err());
    }
}
