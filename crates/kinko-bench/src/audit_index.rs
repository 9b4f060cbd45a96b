//! `kinko-bench audit-index`: the time LookupEvents' index takes to answer over a large trail.
//!
//! Writes N audit records shaped as kinko writes them (one account's calls by a few hundred IAM
//! users on ten thousand secrets and a hundred KMS keys, a month of them, in rotated files of
//! 100 MiB as the server rotates them) into a temporary directory, builds the index the server
//! builds (`kinko_server::AuditIndex`, the same code, reading the same files), then times
//! lookups of one attribute through the index's lookup (what LookupEvents runs): the first page
//! of 50, newest first, record text read back from the log, as p50/p99/max per kind of lookup.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use kinko_api::trail::{EventIndex as _, EventQuery, LookupKey};
use rand::Rng as _;
use rand::SeedableRng as _;

#[derive(Debug, Args)]
pub struct AuditIndexArgs {
    /// Records in the generated trail (small by default, so a CI run is quick; the target is
    /// shown with `--records 10000000`).
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,

    /// Lookups timed per kind of lookup.
    #[arg(long, default_value_t = 300)]
    pub lookups: usize,

    /// Directory to generate the trail in (a temporary one under it is used and removed).
    #[arg(long, default_value = "/tmp")]
    pub dir: PathBuf,

    /// Keep the generated trail and its index.
    #[arg(long)]
    pub keep: bool,
}

const ACCOUNT: &str = "111111111111";
const SECRETS: u64 = 10_000;
const USERS: u64 = 300;
const KEYS: u64 = 100;
const ROTATE_BYTES: u64 = 100 * 1024 * 1024;
/// The trail spans 30 days, ending now.
const SPAN_MS: i64 = 30 * 24 * 3600 * 1000;

fn secret_arn(i: u64) -> String {
    format!(
        "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:bench-{i}-{:06X}",
        i * 7919 % 0xFF_FFFF
    )
}

fn key_arn(i: u64) -> String {
    format!(
        "arn:aws:kms:us-east-1:{ACCOUNT}:key/{:08x}-0000-4000-8000-{i:012x}",
        i * 104_729
    )
}

fn access_key(user: u64) -> String {
    format!("AKIAK1NK0{user:011}")
}

/// One record as kinko writes it (chain members included, as in the file).
fn record(out: &mut Vec<u8>, n: u64, time_ms: i64, rng: &mut rand::rngs::StdRng) -> anyhow::Result<()> {
    let user = rng.random_range(0..USERS);
    let secret = rng.random_range(0..SECRETS);
    let roll: u32 = rng.random_range(0..100);
    let (source, name, read_only, params, resource) = match roll {
        0..70 => (
            "secretsmanager",
            "GetSecretValue",
            true,
            format!(r#"{{"secretId":"{}"}}"#, secret_arn(secret)),
            Some(("AWS::SecretsManager::Secret", secret_arn(secret))),
        ),
        70..80 => (
            "secretsmanager",
            "DescribeSecret",
            true,
            format!(r#"{{"secretId":"{}"}}"#, secret_arn(secret)),
            Some(("AWS::SecretsManager::Secret", secret_arn(secret))),
        ),
        80..85 => (
            "secretsmanager",
            "PutSecretValue",
            false,
            format!(
                r#"{{"secretId":"{}","clientRequestToken":"{}"}}"#,
                secret_arn(secret),
                uuid::Uuid::new_v4()
            ),
            Some(("AWS::SecretsManager::Secret", secret_arn(secret))),
        ),
        85..90 => ("secretsmanager", "ListSecrets", true, "null".to_owned(), None),
        _ => {
            let key = rng.random_range(0..KEYS);
            (
                "kms",
                "Decrypt",
                true,
                format!(
                    r#"{{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","keyId":"{}"}}"#,
                    key_arn(key)
                ),
                Some(("AWS::KMS::Key", key_arn(key))),
            )
        }
    };
    let time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_ms) * 1_000_000)?
        .replace_nanosecond(0)?
        .format(&time::format_description::well_known::Rfc3339)?;
    let resources = resource.map_or_else(
        || "[]".to_owned(),
        |(t, arn)| format!(r#"[{{"accountId":"{ACCOUNT}","type":"{t}","ARN":"{arn}"}}]"#),
    );
    writeln!(
        out,
        concat!(
            r#"{{"eventVersion":"1.11","userIdentity":{{"type":"IAMUser","principalId":"AIDAK1NK0{user:011}","#,
            r#""arn":"arn:aws:iam::{account}:user/bench-user-{user}","accountId":"{account}","accessKeyId":"{ak}","userName":"bench-user-{user}"}},"#,
            r#""eventTime":"{time}","eventSource":"{source}.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","#,
            r#""sourceIPAddress":"127.0.0.1","userAgent":"aws-sdk-rust/1.3.9 os/linux lang/rust/1.85.0","#,
            r#""requestParameters":{params},"responseElements":null,"requestID":"{request}","eventID":"{event}","#,
            r#""readOnly":{read_only},"resources":{resources},"eventType":"AwsApiCall","managementEvent":true,"#,
            r#""recipientAccountId":"{account}","eventCategory":"Management","#,
            r#""tlsDetails":null,"sequence":{n},"chain":"{chain:064x}"}}"#
        ),
        user = user,
        account = ACCOUNT,
        ak = access_key(user),
        time = time,
        source = source,
        name = name,
        params = params,
        request = uuid::Uuid::new_v4(),
        event = uuid::Uuid::from_u128(u128::from(n) | (0x4000_8000 << 64)),
        read_only = read_only,
        resources = resources,
        n = n,
        chain = u128::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )?;
    Ok(())
}

/// The event id of record `n` (as [`record`] writes it).
fn event_id(n: u64) -> String {
    uuid::Uuid::from_u128(u128::from(n) | (0x4000_8000 << 64)).to_string()
}

/// Writes the trail: rotated files `audit.log.NNNNNN` of about 100 MiB, the rest in `audit.log`.
fn generate(dir: &Path, records: u64, end_ms: i64) -> anyhow::Result<(PathBuf, u64)> {
    let log = dir.join("audit.log");
    let mut rng = rand::rngs::StdRng::seed_from_u64(10);
    let step = SPAN_MS as f64 / records.max(1) as f64;
    let start_ms = end_ms - SPAN_MS;
    let mut number = 1;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&log)?);
    let mut in_file = 0u64;
    let mut total = 0u64;
    let mut line = Vec::with_capacity(2048);
    for n in 0..records {
        line.clear();
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            reason = "milliseconds"
        )]
        let t = start_ms + (n as f64 * step) as i64;
        record(&mut line, n + 1, t, &mut rng)?;
        file.write_all(&line)?;
        in_file += line.len() as u64;
        total += line.len() as u64;
        if in_file >= ROTATE_BYTES && n + 1 < records {
            file.flush()?;
            drop(file);
            std::fs::rename(&log, dir.join(format!("audit.log.{number:06}")))?;
            number += 1;
            file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&log)?);
            in_file = 0;
        }
    }
    file.flush()?;
    Ok((log, total))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: &AuditIndexArgs) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("kinko-bench-audit-index-")
        .tempdir_in(&args.dir)
        .context("temporary directory")?;
    let dir = tmp.path().to_owned();
    let end_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    eprintln!("generating {} records in {}", args.records, dir.display());
    let started = Instant::now();
    let (log, bytes) = generate(&dir, args.records, end_ms)?;
    let generated = started.elapsed();
    eprintln!(
        "generated {:.1} GiB in {:.0} s; indexing",
        bytes as f64 / f64::from(1 << 30),
        generated.as_secs_f64()
    );
    let index = kinko_server::AuditIndex::open(&log);
    let started = Instant::now();
    index.catch_up();
    let built = started.elapsed();
    let mut index_bytes = 0;
    for e in std::fs::read_dir(&dir)?.flatten() {
        if e.file_name().to_string_lossy().starts_with("audit.log-index") {
            index_bytes += e.metadata()?.len();
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "a rate")]
    let rate = args.records as f64 / built.as_secs_f64();
    println!(
        "audit index: {} records, log {:.2} GiB, index {:.2} GiB, built in {:.0} s ({rate:.0} records/s)\n",
        args.records,
        bytes as f64 / f64::from(1 << 30),
        index_bytes as f64 / f64::from(1 << 30),
        built.as_secs_f64()
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    type Pick = Box<dyn Fn(&mut rand::rngs::StdRng) -> EventQuery>;
    let query = |attribute: Option<(LookupKey, String)>| EventQuery {
        account: ACCOUNT.to_owned(),
        attribute,
        start_ms: i64::MIN,
        end_ms: i64::MAX,
        max_results: 50,
        after: None,
    };
    let records = args.records;
    let kinds: Vec<(&str, Pick)> = vec![
        (
            "ResourceName = a secret's ARN",
            Box::new(move |r| {
                query(Some((
                    LookupKey::ResourceName,
                    secret_arn(r.random_range(0..SECRETS)),
                )))
            }),
        ),
        (
            "ResourceName = a secret's ARN, one day a week ago",
            Box::new(move |r| EventQuery {
                start_ms: end_ms - 8 * 24 * 3600 * 1000,
                end_ms: end_ms - 7 * 24 * 3600 * 1000,
                ..query(Some((
                    LookupKey::ResourceName,
                    secret_arn(r.random_range(0..SECRETS)),
                )))
            }),
        ),
        (
            "Username = an IAM user",
            Box::new(move |r| {
                query(Some((
                    LookupKey::Username,
                    format!("bench-user-{}", r.random_range(0..USERS)),
                )))
            }),
        ),
        (
            "AccessKeyId = a user's key",
            Box::new(move |r| {
                query(Some((
                    LookupKey::AccessKeyId,
                    access_key(r.random_range(0..USERS)),
                )))
            }),
        ),
        (
            "EventName = GetSecretValue (70% of all)",
            Box::new(move |_| query(Some((LookupKey::EventName, "GetSecretValue".to_owned())))),
        ),
        (
            "EventName = PutSecretValue, one hour 20 days ago",
            Box::new(move |_| EventQuery {
                start_ms: end_ms - 20 * 24 * 3600 * 1000,
                end_ms: end_ms - 20 * 24 * 3600 * 1000 + 3600 * 1000,
                ..query(Some((LookupKey::EventName, "PutSecretValue".to_owned())))
            }),
        ),
        (
            "EventId = one event",
            Box::new(move |r| {
                query(Some((
                    LookupKey::EventId,
                    event_id(r.random_range(1..=records.max(1))),
                )))
            }),
        ),
        (
            "no attribute (the account's events)",
            Box::new(move |_| query(None)),
        ),
    ];
    println!("| lookup (first page of 50, newest first) | events found (mean) | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    let mut all = Vec::new();
    for (name, pick) in &kinds {
        let mut times = Vec::with_capacity(args.lookups);
        let mut found = 0usize;
        for _ in 0..args.lookups {
            let q = pick(&mut rng);
            let started = Instant::now();
            let page = index.lookup(&q).map_err(anyhow::Error::msg)?;
            times.push(started.elapsed());
            found += page.events.len();
        }
        times.sort();
        let pct = |p: f64| {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "an index"
            )]
            let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
            millis(times[i])
        };
        #[expect(clippy::cast_precision_loss, reason = "a mean")]
        let mean = found as f64 / args.lookups.max(1) as f64;
        println!(
            "| {name} | {mean:.1} | {:.2} | {:.2} | {:.2} |",
            pct(0.5),
            pct(0.99),
            millis(*times.last().unwrap_or(&Duration::ZERO))
        );
        all.extend(times);
    }
    all.sort();
    anyhow::ensure!(!all.is_empty(), "no lookups timed (--lookups 0)");
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index"
    )]
    let p99 = all[((all.len() as f64 * 0.99).ceil() as usize).clamp(1, all.len()) - 1];
    println!(
        "\nall lookups: p50 {:.2} ms, p99 {:.2} ms",
        millis(all[all.len() / 2]),
        millis(p99)
    );
    index.close();
    if args.keep {
        let kept = tmp.keep();
        eprintln!("kept {}", kept.display());
    }
    Ok(())
}
