//! The server's metrics, in Prometheus's text format at `GET /metrics`: requests by service, action
//! and outcome and their latency, the store cache's figures, audit writes, background job results.
//!
//! Label values are a bounded set: services and outcomes are fixed names, error codes are the
//! services' own (`&'static str`), and an action is labelled by its name only once a service has
//! accepted it as one of its operations (see [`Actions`]); anything else a client sends is `unknown`.
//! No label or value ever holds a secret, a resource name or an identity.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kinko_api::secretsmanager::accessed::AccessDates;
use kinko_store_cache::CachedStore;

use crate::audit::Audit;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::encode`]'s output (Prometheus text format 0.0.4).
pub(crate) const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of [`Metrics::encode_openmetrics`]'s output.
pub(crate) const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label of whatever is not one of the names a service accepted.
const UNKNOWN: &str = "unknown";

/// Most distinct action names labelled; the services have a few hundred operations together.
const MAX_ACTIONS: usize = 1024;

/// Request latency buckets, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: &'static str,
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    service: &'static str,
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    service: &'static str,
    action: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobNodeLabels {
    job: &'static str,
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobOutcomeLabels {
    job: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobItemLabels {
    job: &'static str,
    result: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// Answered with an error of the client's (4xx): its code.
    ClientError(&'static str),
    /// Answered with an internal error (5xx): its code.
    ServerError(&'static str),
}

impl Outcome {
    pub fn of_error(code: &'static str, status: u16) -> Outcome {
        if status >= 500 {
            Outcome::ServerError(code)
        } else {
            Outcome::ClientError(code)
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError(_) => "client_error",
            Outcome::ServerError(_) => "server_error",
        }
    }

    fn code(self) -> Option<&'static str> {
        match self {
            Outcome::Success => None,
            Outcome::ClientError(c) | Outcome::ServerError(c) => Some(c),
        }
    }
}

/// The error codes with which a service says the action isn't one of its operations: the action
/// named is the client's text, not an operation, and is not labelled.
const NOT_AN_ACTION: [&str; 3] = ["UnknownOperationException", "InvalidAction", "MissingAction"];

/// The action names the services accepted, kept once each so that labels borrow them for the life
/// of the process (their number is bounded by the services' operations and [`MAX_ACTIONS`]).
#[derive(Default)]
struct Actions {
    known: RwLock<HashSet<&'static str>>,
}

impl Actions {
    /// `name` as a label: itself once a service has accepted it, else [`UNKNOWN`].
    fn label(&self, name: &str) -> &'static str {
        match self.known.read() {
            Ok(known) => known.get(name).copied().unwrap_or(UNKNOWN),
            Err(_) => UNKNOWN,
        }
    }

    /// `name` as a label, noting it as an action a service accepted.
    fn accept(&self, name: &str) -> &'static str {
        let found = self.label(name);
        if found != UNKNOWN || name.is_empty() {
            return found;
        }
        let Ok(mut known) = self.known.write() else {
            return UNKNOWN;
        };
        if let Some(k) = known.get(name) {
            return k;
        }
        if known.len() >= MAX_ACTIONS {
            return UNKNOWN;
        }
        // Bounded (above): a few hundred short names, kept for the life of the process.
        let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
        known.insert(kept);
        kept
    }
}

/// What one background job run did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JobReport {
    /// Items the job changed (secrets purged, keys deleted or rotated).
    pub done: u64,
    /// Items another writer changed first (left to the next run).
    pub conflicts: u64,
    /// Items whose change failed.
    pub failed: u64,
    /// Whether listing the due items failed.
    pub list_failed: bool,
}

/// Every metric of a server, registered once at start.
pub(crate) struct Metrics {
    registry: Registry,
    actions: Actions,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    latency: HistogramFamily<ActionLabels>,
    job_runs: Family<JobOutcomeLabels, Counter>,
    job_items: Family<JobItemLabels, Counter>,
    job_seconds: HistogramFamily<JobLabels>,
    job_last_success: Family<JobLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    job_lease_held: Family<JobNodeLabels, Gauge>,
    scheduled_rotations: Family<ResultLabels, Counter>,
    root_key: RootKeyMetrics,
}

/// The root key figures of a node on a database several nodes share (see `ring`).
#[derive(Clone, Default)]
pub(crate) struct RootKeyMetrics {
    /// 1 while the database is under a root key this node does not hold.
    pub missing: Gauge,
    /// 1 while a next root key is loaded (ready for a rotation to it).
    pub next_loaded: Gauge,
    /// Switches to the key another process rotated the database to.
    pub switches: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics of a server on `store`.
    pub fn new(store: Arc<CachedStore>, audit: Arc<Audit>, accessed: Arc<AccessDates>) -> Metrics {
        let mut registry = Registry::with_prefix("kinko");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "AWS API requests answered, by service, action and outcome (success, client_error, server_error)",
            requests.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "request_errors",
            "AWS API requests answered with an error, by service, action and error code",
            errors.clone(),
        );
        let latency: HistogramFamily<ActionLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time from a request's arrival to its answer, by service and action",
            Unit::Seconds,
            latency.clone(),
        );
        let job_runs = Family::<JobOutcomeLabels, Counter>::default();
        registry.register(
            "job_runs",
            "Background job runs, by job and outcome (ok, failed)",
            job_runs.clone(),
        );
        let job_items = Family::<JobItemLabels, Counter>::default();
        registry.register(
            "job_items",
            "Items background jobs handled, by job and result (done, conflict: changed by another writer first, failed)",
            job_items.clone(),
        );
        let job_seconds: HistogramFamily<JobLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "job_duration",
            "Time one run of a background job took",
            Unit::Seconds,
            job_seconds.clone(),
        );
        let job_last_success = Family::<JobLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "job_last_success_timestamp_seconds",
            "When each background job last ran without a failure (Unix time)",
            job_last_success.clone(),
        );
        let job_lease_held = Family::<JobNodeLabels, Gauge>::default();
        registry.register(
            "job_lease_held",
            "1 while this node (named by its lease holder id) holds the lease of a background job, and so runs it; 0 while another node does",
            job_lease_held.clone(),
        );
        let scheduled_rotations = Family::<ResultLabels, Counter>::default();
        registry.register(
            "secret_rotations_scheduled",
            "Secret rotations the scheduler ran, by result (started: a run began, retries included; failed: could not start, or the run ended unfinished; succeeded)",
            scheduled_rotations.clone(),
        );
        for result in ["started", "failed", "succeeded"] {
            // Shown at 0 before the first rotation.
            let _ = scheduled_rotations.get_or_create(&ResultLabels { result });
        }
        let root_key = RootKeyMetrics::default();
        registry.register(
            "root_key_missing",
            "1 while the database is under a root key this node does not hold (it cannot open what is sealed under it: give it the key)",
            root_key.missing.clone(),
        );
        registry.register(
            "root_key_next_loaded",
            "1 while this node holds a next root key besides the current one (every node needs it before the database is rotated to it)",
            root_key.next_loaded.clone(),
        );
        registry.register(
            "root_key_switches",
            "Times this node switched to the root key another process rotated the database to",
            root_key.switches.clone(),
        );
        registry.register(
            "build",
            "The running kinko version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register_collector(Box::new(StoreFigures(store)));
        registry.register_collector(Box::new(AuditFigures(audit)));
        registry.register_collector(Box::new(AccessFigures(accessed)));
        Metrics {
            registry,
            actions: Actions::default(),
            requests,
            errors,
            latency,
            job_runs,
            job_items,
            job_seconds,
            job_last_success,
            job_lease_held,
            scheduled_rotations,
            root_key,
        }
    }

    pub fn root_key(&self) -> RootKeyMetrics {
        self.root_key.clone()
    }

    /// Counts one answered request. `service` is the service's signing name when the request named
    /// one; `authenticated` says whether the service saw it (only then can an action be new).
    pub fn request(
        &self,
        service: Option<&'static str>,
        action: &str,
        authenticated: bool,
        outcome: Outcome,
        elapsed: Duration,
    ) {
        let (service, action) = match service {
            None => (UNKNOWN, UNKNOWN),
            Some(s) => {
                let not_an_action = outcome.code().is_some_and(|c| NOT_AN_ACTION.contains(&c));
                let action = if not_an_action {
                    UNKNOWN
                } else if authenticated {
                    self.actions.accept(action)
                } else {
                    self.actions.label(action)
                };
                (s, action)
            }
        };
        self.requests
            .get_or_create(&RequestLabels {
                service,
                action,
                outcome: outcome.label(),
            })
            .inc();
        if let Some(code) = outcome.code() {
            self.errors
                .get_or_create(&ErrorLabels {
                    service,
                    action,
                    code,
                })
                .inc();
        }
        self.latency
            .get_or_create(&ActionLabels { service, action })
            .observe(elapsed.as_secs_f64());
    }

    /// Notes whether this node, `node`, holds the lease of the background job `job`.
    pub fn job_lease(&self, job: &'static str, node: &str, held: bool) {
        self.job_lease_held
            .get_or_create(&JobNodeLabels {
                job,
                node: node.to_owned(),
            })
            .set(i64::from(held));
    }

    /// Counts a scheduled secret rotation's `result`: `started`, `failed` or `succeeded`.
    pub fn scheduled_rotation(&self, result: &'static str) {
        self.scheduled_rotations
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// Notes one run of the background job `job`, ended at `now_unix` (seconds).
    pub fn job_run(&self, job: &'static str, report: JobReport, elapsed: Duration, now_unix: f64) {
        let failed = report.list_failed || report.failed > 0;
        let outcome = if failed { "failed" } else { "ok" };
        self.job_runs
            .get_or_create(&JobOutcomeLabels { job, outcome })
            .inc();
        for (result, n) in [
            ("done", report.done),
            ("conflict", report.conflicts),
            ("failed", report.failed),
        ] {
            // Created for every job even at 0, so a query sees the series before the first item.
            self.job_items
                .get_or_create(&JobItemLabels { job, result })
                .inc_by(n);
        }
        self.job_seconds
            .get_or_create(&JobLabels { job })
            .observe(elapsed.as_secs_f64());
        if !failed {
            self.job_last_success
                .get_or_create(&JobLabels { job })
                .set(now_unix);
        }
    }

    /// Every metric in Prometheus's text format (0.0.4): [`PROMETHEUS_TEXT`].
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Every metric in the OpenMetrics text format: [`OPENMETRICS_TEXT`].
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The store cache's figures, read at each scrape.
struct StoreFigures(Arc<CachedStore>);

impl std::fmt::Debug for StoreFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFigures").finish_non_exhaustive()
    }
}

impl Collector for StoreFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let counters = [
            ("cache_hits", "Store reads answered from the cache.", s.hits),
            (
                "cache_misses",
                "Cacheable store reads that went to the database.",
                s.misses,
            ),
            (
                "cache_feed_queries",
                "Change feed queries run to keep the cache fresh (several nodes on one database).",
                s.feed_queries,
            ),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let gauges = [
            ("cache_entries", "Entries held in the store cache.", s.entries),
            (
                "cache_size_bytes",
                "Approximate size of the data held in the store cache.",
                s.weight,
            ),
            (
                "cache_capacity_bytes",
                "Bound of the store cache (--cache-size).",
                s.capacity,
            ),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        let reads = s.hits.saturating_add(s.misses);
        #[expect(clippy::cast_precision_loss, reason = "a ratio: counts far below 2^52")]
        let ratio = if reads == 0 {
            0.0
        } else {
            s.hits as f64 / reads as f64
        };
        let g = ConstGauge::new(ratio);
        g.encode(encoder.encode_descriptor(
            "cache_hit_ratio",
            "Share of cacheable store reads answered from the cache since start (0 before any).",
            None,
            g.metric_type(),
        )?)?;
        Ok(())
    }
}

/// The `LastAccessedDate` writer's figures, read at each scrape.
struct AccessFigures(Arc<AccessDates>);

impl std::fmt::Debug for AccessFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessFigures").finish_non_exhaustive()
    }
}

impl Collector for AccessFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let counters = [
            (
                "access_dates_written",
                "Secrets whose LastAccessedDate was written after a read.",
                s.written,
            ),
            (
                "access_dates_dropped",
                "LastAccessedDates not recorded (a failed write, or too many pending).",
                s.dropped,
            ),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let g = ConstGauge::new(i64::try_from(s.pending).unwrap_or(i64::MAX));
        g.encode(encoder.encode_descriptor(
            "access_dates_pending",
            "Secrets whose LastAccessedDate waits to be written (at most --access-date-delay).",
            None,
            g.metric_type(),
        )?)?;
        Ok(())
    }
}

/// The audit writer's figures, read at each scrape.
struct AuditFigures(Arc<Audit>);

impl std::fmt::Debug for AuditFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditFigures").finish_non_exhaustive()
    }
}

impl Collector for AuditFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let counters = [
            (
                "audit_records",
                "Audit records written (a call's, and those of the KMS calls made for its caller).",
                s.records,
            ),
            (
                "audit_batches",
                "Batches of audit records written (each synced once, in durable mode).",
                s.batches,
            ),
            (
                "audit_write_failures",
                "Batches of audit records that could not be written (their calls failed).",
                s.failures,
            ),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        // Latency per batch: rate(kinko_audit_write_seconds_total) / rate(kinko_audit_batches_total).
        let c = ConstCounter::new(s.write_micros as f64 / 1e6);
        c.encode(encoder.encode_descriptor(
            "audit_write_seconds",
            "Time spent writing (and syncing) audit records.",
            None,
            c.metric_type(),
        )?)?;
        let g = ConstGauge::new(i64::from(s.healthy));
        g.encode(encoder.encode_descriptor(
            "audit_healthy",
            "1 while audit records can be written, else 0 (calls are refused meanwhile).",
            None,
            g.metric_type(),
        )?)?;
        let c = ConstCounter::new(s.bytes);
        c.encode(encoder.encode_descriptor(
            "audit_written_bytes",
            "Bytes of audit records written.",
            None,
            c.metric_type(),
        )?)?;
        // The time each batch took to write and sync, as a histogram (buckets per batch).
        let buckets: Vec<(f64, u64)> = crate::audit::WRITE_BUCKETS_MICROS
            .iter()
            .map(|&b| b as f64 / 1e6)
            .chain(std::iter::once(f64::INFINITY))
            .zip(s.write_histogram)
            .collect();
        encoder
            .encode_descriptor(
                "audit_batch_write_seconds",
                "Time each batch of audit records took to write (and sync).",
                None,
                prometheus_client::metrics::MetricType::Histogram,
            )?
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                s.write_micros as f64 / 1e6,
                s.write_histogram.iter().sum(),
                &buckets,
                None,
            )?;
        let g = ConstGauge::new(i64::try_from(s.index_lag_bytes).unwrap_or(i64::MAX));
        g.encode(encoder.encode_descriptor(
            "audit_index_lag_bytes",
            "Bytes of the audit log that LookupEvents' index has not read yet.",
            None,
            g.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_labelled_once_accepted_and_bounded() {
        let a = Actions::default();
        assert_eq!(a.label("GetSecretValue"), UNKNOWN);
        assert_eq!(a.accept("GetSecretValue"), "GetSecretValue");
        assert_eq!(a.label("GetSecretValue"), "GetSecretValue");
        assert_eq!(a.accept(""), UNKNOWN);
        for i in 0..MAX_ACTIONS * 2 {
            a.accept(&format!("Op{i}"));
        }
        assert_eq!(a.known.read().map(|k| k.len()).unwrap_or(0), MAX_ACTIONS);
        assert_eq!(a.accept("OneTooMany"), UNKNOWN);
    }
}
