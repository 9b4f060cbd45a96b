//! Latency histograms, error tallies and the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::cpu::Usage;
use crate::ops::Op;

/// Highest latency the histograms track exactly (longer ones are clamped): 60 s in µs.
const MAX_TRACKED_US: u64 = 60_000_000;

/// What was loaded: kinko itself or the bare ceiling server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Kinko,
    Bare,
    /// A second kinko whose audit records are buffered, not synced before the answer
    /// (`--audit-durability buffered`), for `--compare-audit`.
    KinkoBuffered,
    /// One kinko node on PostgreSQL (`--compare-stores`).
    KinkoPostgres,
    /// Two kinko nodes on one PostgreSQL database, the load spread over both (`--compare-stores`).
    KinkoPostgres2,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Kinko => "kinko",
            Server::Bare => "bare",
            Server::KinkoBuffered => "kinko-buffered-audit",
            Server::KinkoPostgres => "kinko-postgres",
            Server::KinkoPostgres2 => "kinko-postgres-2-nodes",
        }
    }
}

/// Occurrences of one kind of error, with the first one's detail.
#[derive(Debug, Clone)]
pub struct ErrorTally {
    pub count: u64,
    pub example: String,
}

/// Latencies and failures seen by one worker (or merged from many).
#[derive(Debug, Clone)]
pub struct Tally {
    pub latency_us: Histogram<u64>,
    /// Failed requests started in the measured window, by kind.
    pub errors: BTreeMap<String, ErrorTally>,
    /// Failed requests started during warm-up.
    pub warmup_errors: u64,
    /// Connections re-established after the server closed one.
    pub reconnects: u64,
    /// Requests still unanswered a grace period after the end of the run.
    pub abandoned: u64,
}

impl Tally {
    pub fn new() -> Self {
        Self {
            latency_us: Histogram::new_with_bounds(1, MAX_TRACKED_US, 3)
                .expect("static histogram bounds are valid"),
            errors: BTreeMap::new(),
            warmup_errors: 0,
            reconnects: 0,
            abandoned: 0,
        }
    }

    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(us.clamp(1, MAX_TRACKED_US));
    }

    pub fn error(&mut self, measured: bool, kind: String, example: impl FnOnce() -> String) {
        if !measured {
            self.warmup_errors += 1;
            return;
        }
        self.errors
            .entry(kind)
            .or_insert_with(|| ErrorTally {
                count: 0,
                example: example(),
            })
            .count += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        // Both histograms share the same bounds, so adding can't fail.
        let _ = self.latency_us.add(&other.latency_us);
        for (kind, tally) in other.errors {
            self.errors
                .entry(kind)
                .and_modify(|t| t.count += tally.count)
                .or_insert(tally);
        }
        self.warmup_errors += other.warmup_errors;
        self.reconnects += other.reconnects;
        self.abandoned += other.abandoned;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|t| t.count).sum()
    }
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome of one (server, operation, concurrency) run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub server: Server,
    pub op: Op,
    pub concurrency: usize,
    pub measured: Duration,
    pub tally: Tally,
    /// CPU use during the measured window, where `/proc` tells.
    pub cpu: Option<Usage>,
}

impl RunResult {
    /// Successful requests completed in the measured window.
    pub fn requests(&self) -> u64 {
        self.tally.latency_us.len()
    }

    pub fn errors(&self) -> u64 {
        self.tally.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.errors() > 0 || self.tally.warmup_errors > 0
    }

    /// Whether the figures can be trusted: no failed request, and at least one success.
    pub fn is_valid(&self) -> bool {
        !self.has_errors() && self.requests() > 0
    }

    pub fn throughput(&self) -> f64 {
        self.requests() as f64 / self.measured.as_secs_f64()
    }

    /// Server CPU microseconds per request (all its nodes), where `/proc` tells.
    pub fn server_cpu_us(&self) -> Option<f64> {
        self.cpu.and_then(|c| c.server_us_per_request(self.throughput()))
    }

    /// Server CPU microseconds per request, for display.
    fn server_cpu_per_request(&self) -> String {
        self.cpu
            .and_then(|c| c.server_us_per_request(self.throughput()))
            .map_or_else(|| "–".to_owned(), |us| format!("{us:.0} µs"))
    }

    /// A latency for display: a dash when nothing succeeded.
    fn latency(&self, us: u64) -> String {
        if self.requests() == 0 {
            "–".to_owned()
        } else {
            format_us(us)
        }
    }

    fn quantile_us(&self, q: f64) -> u64 {
        self.tally.latency_us.value_at_quantile(q)
    }

    pub fn p50_us(&self) -> u64 {
        self.quantile_us(0.50)
    }

    pub fn p99_us(&self) -> u64 {
        self.quantile_us(0.99)
    }

    pub fn max_us(&self) -> u64 {
        self.tally.latency_us.max()
    }

    /// One line for progress output.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{:<5} {:<14} c={:<3} {:>10} req/s  p50 {}  p99 {}  max {}",
            self.server.name(),
            self.op.name(),
            self.concurrency,
            format_rate(self.throughput()),
            self.latency(self.p50_us()),
            self.latency(self.p99_us()),
            self.latency(self.max_us()),
        );
        if self.has_errors() {
            let _ = write!(
                line,
                "  ERRORS {} (+{} in warm-up)",
                self.errors(),
                self.tally.warmup_errors
            );
        } else if self.requests() == 0 {
            line.push_str("  NO SUCCESSFUL REQUEST");
        }
        if let Some(cpu) = &self.cpu {
            let _ = write!(line, "  CPU server/client/other {}", cpu.summary());
        }
        if self.tally.abandoned > 0 {
            let _ = write!(line, "  ({} abandoned in flight)", self.tally.abandoned);
        }
        line
    }

    pub fn to_json(&self) -> Value {
        let errors: serde_json::Map<String, Value> = self
            .tally
            .errors
            .iter()
            .map(|(kind, t)| (kind.clone(), json!({ "count": t.count, "example": t.example })))
            .collect();
        json!({
            "server": self.server.name(),
            "op": self.op.name(),
            "concurrency": self.concurrency,
            "measured_secs": self.measured.as_secs_f64(),
            "requests": self.requests(),
            "errors": self.errors(),
            "warmup_errors": self.tally.warmup_errors,
            "reconnects": self.tally.reconnects,
            "abandoned": self.tally.abandoned,
            "valid": self.is_valid(),
            "requests_per_sec": self.throughput(),
            "latency_us": {
                "mean": self.tally.latency_us.mean(),
                "p50": self.p50_us(),
                "p90": self.quantile_us(0.90),
                "p99": self.p99_us(),
                "p999": self.quantile_us(0.999),
                "max": self.max_us(),
            },
            "error_kinds": errors,
            "cpu": self.cpu.map(|c| c.to_json(self.throughput())),
        })
    }
}

/// `1234 µs` below a millisecond... `12.3 ms`, `1.23 s`.
pub fn format_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..10_000 => format!("{:.2} ms", us as f64 / 1e3),
        10_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// Requests per second with thousands separators.
pub fn format_rate(rate: f64) -> String {
    let mut rest = rate.round() as u64;
    let mut groups = Vec::new();
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let mut groups = groups.into_iter().rev();
    let mut out = groups.next().unwrap_or_default().to_string();
    for group in groups {
        let _ = write!(out, ",{group:03}");
    }
    out
}

/// The results as a markdown table.
pub fn markdown_table(results: &[RunResult]) -> String {
    let mut out = String::from(
        "| server | operation | concurrency | requests | req/s | p50 | p99 | max | errors | \
         server CPU per request | CPU % server / client / other |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let errors = if r.has_errors() {
            format!("**{}** ⚠", r.errors() + r.tally.warmup_errors)
        } else {
            "0".to_owned()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.server.name(),
            r.op.name(),
            r.concurrency,
            r.requests(),
            format_rate(r.throughput()),
            r.latency(r.p50_us()),
            r.latency(r.p99_us()),
            r.latency(r.max_us()),
            errors,
            r.server_cpu_per_request(),
            r.cpu.map_or_else(|| "–".to_owned(), |c| c.summary()),
        );
    }
    out
}

/// kinko versus the bare floor (a server that verifies the SigV4 signature and answers the same
/// bytes), one row per concurrency level run against both.
pub struct Ratio<'a> {
    pub kinko: &'a RunResult,
    pub bare: &'a RunResult,
}

impl Ratio<'_> {
    pub fn throughput_ratio(&self) -> f64 {
        self.kinko.throughput() / self.bare.throughput()
    }

    /// kinko's server CPU per request over the bare server's, where `/proc` told both.
    pub fn cpu_ratio(&self) -> Option<f64> {
        Some(self.kinko.server_cpu_us()? / self.bare.server_cpu_us()?)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "op": self.kinko.op.name(),
            "concurrency": self.kinko.concurrency,
            "kinko_requests_per_sec": self.kinko.throughput(),
            "bare_requests_per_sec": self.bare.throughput(),
            "kinko_over_bare": self.throughput_ratio(),
            "kinko_p50_us": self.kinko.p50_us(),
            "bare_p50_us": self.bare.p50_us(),
            "kinko_server_cpu_us_per_request": self.kinko.server_cpu_us(),
            "bare_server_cpu_us_per_request": self.bare.server_cpu_us(),
            "kinko_over_bare_cpu_per_request": self.cpu_ratio(),
        })
    }
}

/// Pairs each bare run with the kinko run of the same operation and concurrency.
pub fn ratios(results: &[RunResult]) -> Vec<Ratio<'_>> {
    results
        .iter()
        .filter(|r| r.server == Server::Bare)
        .filter_map(|bare| {
            let kinko = results.iter().find(|k| {
                k.server == Server::Kinko && k.op == bare.op && k.concurrency == bare.concurrency
            })?;
            Some(Ratio { kinko, bare })
        })
        .collect()
}

pub fn ratio_table(ratios: &[Ratio<'_>]) -> String {
    let mut out = String::from(
        "| operation | concurrency | kinko req/s | bare req/s | kinko/bare | kinko p50 | bare p50 | server CPU per request, kinko / bare | CPU kinko/bare |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in ratios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} % | {} | {} | {} / {} | {} |",
            r.kinko.op.name(),
            r.kinko.concurrency,
            format_rate(r.kinko.throughput()),
            format_rate(r.bare.throughput()),
            r.throughput_ratio() * 100.0,
            format_us(r.kinko.p50_us()),
            format_us(r.bare.p50_us()),
            r.kinko.server_cpu_per_request(),
            r.bare.server_cpu_per_request(),
            r.cpu_ratio()
                .map_or_else(|| "–".to_owned(), |x| format!("{x:.2}x")),
        );
    }
    out
}

/// kinko with durable audit (each answer waits for its record's fsync) versus kinko with
/// buffered audit, one row per concurrency level run against both.
pub struct AuditRatio<'a> {
    pub durable: &'a RunResult,
    pub buffered: &'a RunResult,
}

impl AuditRatio<'_> {
    pub fn throughput_ratio(&self) -> f64 {
        self.durable.throughput() / self.buffered.throughput()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "op": self.durable.op.name(),
            "concurrency": self.durable.concurrency,
            "durable_requests_per_sec": self.durable.throughput(),
            "buffered_requests_per_sec": self.buffered.throughput(),
            "durable_over_buffered": self.throughput_ratio(),
            "durable_p50_us": self.durable.p50_us(),
            "buffered_p50_us": self.buffered.p50_us(),
            "durable_p99_us": self.durable.p99_us(),
            "buffered_p99_us": self.buffered.p99_us(),
        })
    }
}

/// Pairs each buffered-audit run with the durable kinko run of the same operation and
/// concurrency.
pub fn audit_ratios(results: &[RunResult]) -> Vec<AuditRatio<'_>> {
    results
        .iter()
        .filter(|r| r.server == Server::KinkoBuffered)
        .filter_map(|buffered| {
            let durable = results.iter().find(|k| {
                k.server == Server::Kinko && k.op == buffered.op && k.concurrency == buffered.concurrency
            })?;
            Some(AuditRatio { durable, buffered })
        })
        .collect()
}

pub fn audit_ratio_table(ratios: &[AuditRatio<'_>]) -> String {
    let mut out = String::from(
        "| operation | concurrency | durable audit req/s | buffered audit req/s | durable/buffered | \
         durable p50 | buffered p50 | durable p99 | buffered p99 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in ratios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} % | {} | {} | {} | {} |",
            r.durable.op.name(),
            r.durable.concurrency,
            format_rate(r.durable.throughput()),
            format_rate(r.buffered.throughput()),
            r.throughput_ratio() * 100.0,
            format_us(r.durable.p50_us()),
            format_us(r.buffered.p50_us()),
            format_us(r.durable.p99_us()),
            format_us(r.buffered.p99_us()),
        );
    }
    out
}

/// GetSecretValue under a customer managed key versus under aws/secretsmanager, at one
/// concurrency level where both ran.
pub struct CmkRatio<'a> {
    pub default_key: &'a RunResult,
    pub cmk: &'a RunResult,
}

impl CmkRatio<'_> {
    pub fn throughput_ratio(&self) -> f64 {
        self.cmk.throughput() / self.default_key.throughput()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "concurrency": self.cmk.concurrency,
            "default_key_requests_per_sec": self.default_key.throughput(),
            "cmk_requests_per_sec": self.cmk.throughput(),
            "cmk_over_default_key": self.throughput_ratio(),
            "default_key_p99_us": self.default_key.p99_us(),
            "cmk_p99_us": self.cmk.p99_us(),
            "default_key_server_cpu_us_per_request": self.default_key.cpu.and_then(|c| c.server_us_per_request(self.default_key.throughput())),
            "cmk_server_cpu_us_per_request": self.cmk.cpu.and_then(|c| c.server_us_per_request(self.cmk.throughput())),
        })
    }
}

/// Pairs each kinko `get-cmk` run with the kinko `get` run of the same concurrency.
pub fn cmk_ratios(results: &[RunResult]) -> Vec<CmkRatio<'_>> {
    let kinko = |op: Op| {
        results
            .iter()
            .filter(move |r| r.server == Server::Kinko && r.op == op)
    };
    kinko(Op::GetCmk)
        .filter_map(|cmk| {
            let default_key = kinko(Op::Get).find(|g| g.concurrency == cmk.concurrency)?;
            Some(CmkRatio { default_key, cmk })
        })
        .collect()
}

pub fn cmk_ratio_table(ratios: &[CmkRatio<'_>]) -> String {
    let mut out = String::from(
        "| concurrency | aws/secretsmanager req/s | customer managed key req/s | CMK/default | \
         aws/secretsmanager p99 | customer managed key p99 | server CPU per request (default / CMK) |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in ratios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} % | {} | {} | {} / {} |",
            r.cmk.concurrency,
            format_rate(r.default_key.throughput()),
            format_rate(r.cmk.throughput()),
            r.throughput_ratio() * 100.0,
            format_us(r.default_key.p99_us()),
            format_us(r.cmk.p99_us()),
            r.default_key.server_cpu_per_request(),
            r.cmk.server_cpu_per_request(),
        );
    }
    out
}

/// One operation at one concurrency level on SQLite, one PostgreSQL node and two PostgreSQL nodes
/// (`--compare-stores`), from the same run.
pub struct StoreRow<'a> {
    pub sqlite: &'a RunResult,
    pub postgres: Option<&'a RunResult>,
    pub postgres_2: Option<&'a RunResult>,
}

impl StoreRow<'_> {
    /// Server CPU per request of one PostgreSQL node over the SQLite server's.
    pub fn postgres_cpu_ratio(&self) -> Option<f64> {
        let sqlite = self.sqlite.server_cpu_us()?;
        Some(self.postgres?.server_cpu_us()? / sqlite)
    }

    /// The same for two nodes (their CPU summed).
    pub fn postgres_2_cpu_ratio(&self) -> Option<f64> {
        let sqlite = self.sqlite.server_cpu_us()?;
        Some(self.postgres_2?.server_cpu_us()? / sqlite)
    }

    pub fn to_json(&self) -> Value {
        let one = |r: Option<&RunResult>| {
            r.map(|r| {
                json!({
                    "requests_per_sec": r.throughput(),
                    "p50_us": r.p50_us(),
                    "p99_us": r.p99_us(),
                    "server_cpu_us_per_request": r.server_cpu_us(),
                    "valid": r.is_valid(),
                })
            })
        };
        json!({
            "op": self.sqlite.op.name(),
            "concurrency": self.sqlite.concurrency,
            "sqlite": one(Some(self.sqlite)),
            "postgres_1_node": one(self.postgres),
            "postgres_2_nodes": one(self.postgres_2),
            "postgres_over_sqlite_cpu_per_request": self.postgres_cpu_ratio(),
            "postgres_2_nodes_over_sqlite_cpu_per_request": self.postgres_2_cpu_ratio(),
        })
    }
}

/// Pairs each kinko (SQLite) run with the PostgreSQL runs of the same operation and concurrency.
pub fn store_rows(results: &[RunResult]) -> Vec<StoreRow<'_>> {
    let find = |server: Server, like: &RunResult| {
        results
            .iter()
            .find(|r| r.server == server && r.op == like.op && r.concurrency == like.concurrency)
    };
    results
        .iter()
        .filter(|r| r.server == Server::Kinko)
        .filter_map(|sqlite| {
            let postgres = find(Server::KinkoPostgres, sqlite);
            let postgres_2 = find(Server::KinkoPostgres2, sqlite);
            (postgres.is_some() || postgres_2.is_some()).then_some(StoreRow {
                sqlite,
                postgres,
                postgres_2,
            })
        })
        .collect()
}

pub fn store_table(rows: &[StoreRow<'_>]) -> String {
    let mut out = String::from(
        "| operation | concurrency | req/s | p50 | p99 | server CPU per request | \
         PostgreSQL / SQLite CPU per request |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let three = |f: &dyn Fn(&RunResult) -> String, row: &StoreRow<'_>| {
        [Some(row.sqlite), row.postgres, row.postgres_2]
            .map(|r| r.map_or_else(|| "–".to_owned(), f))
            .join(" / ")
    };
    let ratio = |r: Option<f64>| r.map_or_else(|| "–".to_owned(), |r| format!("{r:.2}×"));
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} / {} |",
            row.sqlite.op.name(),
            row.sqlite.concurrency,
            three(&|r| format_rate(r.throughput()), row),
            three(&|r| r.latency(r.p50_us()), row),
            three(&|r| r.latency(r.p99_us()), row),
            three(&RunResult::server_cpu_per_request, row),
            ratio(row.postgres_cpu_ratio()),
            ratio(row.postgres_2_cpu_ratio()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rates_and_latencies() {
        assert_eq!(format_rate(0.4), "0");
        assert_eq!(format_rate(999.0), "999");
        assert_eq!(format_rate(1234.0), "1,234");
        assert_eq!(format_rate(1234567.0), "1,234,567");
        assert_eq!(format_us(999), "999 µs");
        assert_eq!(format_us(1_234), "1.23 ms");
        assert_eq!(format_us(12_345), "12.3 ms");
        assert_eq!(format_us(1_234_567), "1.23 s");
    }

    #[test]
    fn merges_tallies() {
        let mut a = Tally::new();
        a.record(Duration::from_micros(100));
        a.error(true, "HTTP 500".into(), || "first".into());
        let mut b = Tally::new();
        b.record(Duration::from_micros(300));
        b.error(true, "HTTP 500".into(), || "second".into());
        b.error(false, "HTTP 500".into(), || "warm-up".into());
        a.merge(b);
        assert_eq!(a.latency_us.len(), 2);
        assert_eq!(a.error_count(), 2);
        assert_eq!(a.errors["HTTP 500"].example, "first");
        assert_eq!(a.warmup_errors, 1);
    }
}
