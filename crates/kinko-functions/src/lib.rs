//! Runs Lambda-compatible functions as local interpreter processes.
//!
//! [`ProcessRunner`] implements [`kinko_core::function::FunctionRunner`]. For each function it
//! unpacks the deployment package once (per `CodeSha256`) into a read-only directory of its cache,
//! starts instances on demand and reuses warm ones. An instance is one interpreter process
//! (`python3` for `python3.x`, `node` for `nodejs*`) running kinko's own small bootstrap, which
//! speaks the Lambda Runtime API (`/2018-06-01/runtime/...`) that the runner serves for that
//! instance alone on an ephemeral 127.0.0.1 port. No container and no Runtime Interface Emulator
//! are involved.
//!
//! # What a function sees
//!
//! The process starts from an empty environment (nothing of the server's: no root key, data dir or
//! database URL) and gets only what Lambda gives: `AWS_REGION`, `AWS_DEFAULT_REGION`,
//! `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
//! `AWS_LAMBDA_LOG_GROUP_NAME`, `AWS_LAMBDA_LOG_STREAM_NAME`, `AWS_LAMBDA_INITIALIZATION_TYPE`,
//! `AWS_LAMBDA_RUNTIME_API`, `_HANDLER`, `LAMBDA_TASK_ROOT`, `LAMBDA_RUNTIME_DIR`,
//! `AWS_EXECUTION_ENV`, `TZ`, `LANG`, `PATH`, `PYTHONPATH` or `NODE_PATH` (where the runtime's AWS
//! SDK is), the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN`, the function's own `Environment.Variables`, and `AWS_ENDPOINT_URL` (kinko's
//! endpoint, honoured by boto3, the JavaScript SDK v3 and the other current SDKs). The JavaScript
//! SDK v2 ignores `AWS_ENDPOINT_URL`: the Node bootstrap sets the v2 SDK's global `endpoint` when
//! the function loads `aws-sdk`, so functions written for Lambda run unchanged. Its working
//! directory is its unpacked code (`LAMBDA_TASK_ROOT`), read-only and private by its modes
//! (directories 0500, files 0400 or 0500; the cache dir 0700, bootstraps 0600): a server running as
//! root writes through them, like any root process.
//!
//! The AWS SDKs come from a directory made once by `scripts/setup.sh` ([`default_sdk_dir`]):
//! boto3 for `python3.x`, `aws-sdk` (v2) for `nodejs16.x` and older, `@aws-sdk/*` (v3) for
//! `nodejs18.x` and newer. Nothing is fetched when a function is invoked. Runtimes map to the
//! machine's interpreters: `nodejs12.x` runs on whatever `node` is installed (Node 20 on the
//! reference machine), `python3.9` on whatever `python3` is.
//!
//! # Limits
//!
//! - **Timeout**: the process group is killed when the function's `Timeout` passes, and the
//!   invocation returns AWS's `Sandbox.Timedout` document (`Task timed out after N.00 seconds`).
//!   A new instance's start (imports, module code) is bounded by Lambda's 10 s init limit or the
//!   function's timeout, whichever is longer.
//! - **Memory**: `python3.x` limits its data segment (`RLIMIT_DATA`) to `MemorySize`: heap and
//!   private writable mappings count, reserved address space does not, so a function over its
//!   memory gets `MemoryError` instead of a kill. `nodejs*` gets V8's heap limit
//!   (`--max-old-space-size`, 90 % of `MemorySize`, as Lambda's own Node runtime does); `RLIMIT_AS`
//!   is not used, because V8 reserves far more address space than it uses and would fail to start.
//!   Memory outside the V8 heap (buffers, native modules) is not limited.
//! - **Crashes**: a process that exits during an invocation gives `Runtime.ExitError`
//!   (`Runtime exited with error: exit status N` / `signal: killed`); one that fails to load its
//!   handler gives its runtime's init error document (`Runtime.ImportModuleError`, ...).
//! - **Response size**: a response over 6,291,556 bytes is refused on the Runtime API (413, as
//!   Lambda does) and the invocation returns `Function.ResponseSizeTooLarge`.
//! - **Logs**: stdout and stderr share one pipe; the last 4 KB of an invocation's output, framed by
//!   Lambda's `START`, `END` and `REPORT` lines, is what `LogType: Tail` returns. Function output is
//!   kept in memory only, never written to the server's log (functions print secrets).
//! - **Credentials**: an instance gets a session of its execution role when it starts
//!   ([`FunctionHost::credentials`]). Like Lambda, kinko replaces instances rather than changing a
//!   running process's environment: an instance whose credentials would expire before an
//!   invocation's deadline (plus a minute) is not reused; a new one starts with fresh credentials.
//! - **Built-in rotators**: a function with handler `kinko:<name>` on `provided*` runs kinko's own
//!   rotator in the server, with its role's credentials (see `builtin`).
//! - **Concurrency**: at most [`RunnerConfig::max_instances`] instances run at once over all
//!   functions; an invocation that finds none idle starts one, evicting an idle instance of another
//!   function when at the limit, and otherwise fails with `TooManyRequestsException`. Instances idle
//!   for [`RunnerConfig::idle_timeout`] are stopped.
//!
//! # Trust model
//!
//! Function code runs as the server's OS user. It is isolated from the server by its environment,
//! working directory, process group and resource limits, and it reaches kinko only through the
//! AWS APIs with its role's credentials; but it is **not sandboxed against malicious code**: it can
//! read whatever files the server's user can (the data dir included), open network connections, and
//! connect to other instances' Runtime API ports on 127.0.0.1. Only deploy functions you would run
//! as that user. Running kinko under a dedicated user with no other files limits what a function
//! can reach.

mod builtin;
mod code;
mod instance;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use kinko_core::function::{
    FunctionHost, FunctionRunner, FunctionSpec, Invocation, InvocationResult, RunError,
};

pub use code::{MAX_ENTRIES, MAX_UNZIPPED_BYTES};
pub use instance::{LOG_TAIL_BYTES, MAX_RESPONSE_BYTES};

use instance::{Instance, Launch, Outcome};

/// Lambda's limit on a new instance's init phase.
pub const INIT_LIMIT: Duration = Duration::from_secs(10);
/// An instance is reused only while its credentials outlive the invocation by this much.
pub const CREDENTIALS_MARGIN: Duration = Duration::from_secs(60);
/// The default of [`RunnerConfig::max_instances`].
pub const DEFAULT_MAX_INSTANCES: usize = 32;
/// The default of [`RunnerConfig::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

const BOOTSTRAP_PY: &str = include_str!("runtime/bootstrap.py");
const BOOTSTRAP_JS: &str = include_str!("runtime/bootstrap.js");

/// Where and how functions run.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Unpacked code (`code/`) and kinko's bootstraps (`runtime-*/`).
    pub cache_dir: PathBuf,
    /// The AWS SDKs for functions, as `scripts/setup.sh` installs them: `python/` (boto3),
    /// `nodejs-v2/node_modules` (aws-sdk), `nodejs-v3/node_modules` (@aws-sdk/*).
    pub sdk_dir: PathBuf,
    /// kinko's endpoint as functions call it (`AWS_ENDPOINT_URL`).
    pub endpoint_url: String,
    /// Certificates (PEM) the functions' SDKs trust besides the system's, for an `https://`
    /// endpoint with a certificate of its own: given as `AWS_CA_BUNDLE` (boto3) and
    /// `NODE_EXTRA_CA_CERTS` (Node).
    pub ca_bundle: Option<PathBuf>,
    /// Instances running at once, over all functions.
    pub max_instances: usize,
    /// How long an instance stays idle before it is stopped.
    pub idle_timeout: Duration,
    /// The interpreters; `None`: `python3` / `node` found on the server's `PATH`.
    pub python: Option<PathBuf>,
    pub node: Option<PathBuf>,
}

impl RunnerConfig {
    pub fn new(cache_dir: PathBuf, sdk_dir: PathBuf, endpoint_url: String) -> Self {
        RunnerConfig {
            cache_dir,
            sdk_dir,
            endpoint_url,
            ca_bundle: None,
            max_instances: DEFAULT_MAX_INSTANCES,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            python: None,
            node: None,
        }
    }
}

/// Where `scripts/setup.sh` installs the functions' SDKs: `tools/function-sdks` in the nearest
/// directory above the running executable that has one (the cargo target dir for a build from the
/// repository), else `tools/function-sdks` next to the executable's directory.
pub fn default_sdk_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    for dir in exe.ancestors().skip(1) {
        let candidate = dir.join("tools").join("function-sdks");
        if candidate.is_dir() {
            return candidate;
        }
    }
    exe.parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| Path::new("."))
        .join("tools")
        .join("function-sdks")
}

/// Which interpreter and SDK a runtime name maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Python,
    /// `nodejs16.x` and older: the AWS SDK for JavaScript v2.
    NodeSdkV2,
    /// `nodejs18.x` and newer: the AWS SDK for JavaScript v3.
    NodeSdkV3,
}

impl Runtime {
    fn parse(name: &str) -> Option<Self> {
        if name.starts_with("python3") {
            return Some(Runtime::Python);
        }
        let version = name.strip_prefix("nodejs")?;
        let major: u32 = version
            .split('.')
            .next()
            .filter(|v| !v.is_empty())
            .map_or(Some(0), |v| v.parse().ok())?;
        Some(if major >= 18 {
            Runtime::NodeSdkV3
        } else {
            Runtime::NodeSdkV2
        })
    }

    fn sdk_subdir(self) -> &'static str {
        match self {
            Runtime::Python => "python",
            Runtime::NodeSdkV2 => "nodejs-v2/node_modules",
            Runtime::NodeSdkV3 => "nodejs-v3/node_modules",
        }
    }
}

/// Which instances may serve an invocation: same function version and revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    function_arn: String,
    version: String,
    revision_id: String,
}

struct Idle {
    instance: Instance,
    since: Instant,
    epoch: (u64, u64),
}

#[derive(Default)]
struct Pools {
    idle: HashMap<PoolKey, Vec<Idle>>,
    /// Instances started or starting, idle or busy.
    live: usize,
    /// Bumped by `retire`: instances of an older epoch are not reused.
    epochs: HashMap<String, u64>,
    /// Bumped by `stop_all`, for every function.
    generation: u64,
}

impl Pools {
    fn epoch(&self, function_arn: &str) -> (u64, u64) {
        (
            self.generation,
            self.epochs.get(function_arn).copied().unwrap_or(0),
        )
    }
}

struct Inner {
    config: RunnerConfig,
    host: Arc<dyn FunctionHost>,
    code: code::CodeCache,
    runtime_dir: PathBuf,
    python: tokio::sync::OnceCell<Option<PathBuf>>,
    node: tokio::sync::OnceCell<Option<PathBuf>>,
    pools: Mutex<Pools>,
    /// Invocations of built-in rotators running now, at most `max_instances`.
    builtin_slots: tokio::sync::Semaphore,
}

/// The process runner. See the crate documentation.
pub struct ProcessRunner {
    inner: Arc<Inner>,
    reaper: Option<tokio::task::JoinHandle<()>>,
}

impl ProcessRunner {
    /// Writes the bootstraps into the cache dir and starts the idle reaper (on the current tokio
    /// runtime, when there is one).
    pub fn new(config: RunnerConfig, host: Arc<dyn FunctionHost>) -> std::io::Result<Self> {
        let runtime_dir = write_bootstraps(&config.cache_dir)?;
        let builtin_slots = tokio::sync::Semaphore::new(config.max_instances);
        let inner = Arc::new(Inner {
            code: code::CodeCache::new(config.cache_dir.join("code")),
            config,
            host,
            runtime_dir,
            python: tokio::sync::OnceCell::new(),
            node: tokio::sync::OnceCell::new(),
            pools: Mutex::new(Pools::default()),
            builtin_slots,
        });
        let reaper = tokio::runtime::Handle::try_current()
            .ok()
            .map(|handle| handle.spawn(reap(Arc::downgrade(&inner))));
        Ok(ProcessRunner { inner, reaper })
    }

    /// Stops every idle instance and lets busy ones stop when their invocation ends (the server is
    /// shutting down). The runner keeps working: a later invocation starts a new instance.
    pub fn stop_all(&self) {
        let idle = {
            let mut pools = self.inner.pools();
            let idle = std::mem::take(&mut pools.idle);
            pools.live -= idle.values().map(Vec::len).sum::<usize>();
            pools.generation += 1;
            idle
        };
        drop(idle);
    }

    /// Instances running now (idle or busy).
    pub fn live_instances(&self) -> usize {
        self.inner.pools().live
    }

    /// Idle instances now.
    pub fn idle_instances(&self) -> usize {
        self.inner.pools().idle.values().map(Vec::len).sum()
    }
}

impl Drop for ProcessRunner {
    fn drop(&mut self) {
        if let Some(reaper) = &self.reaper {
            reaper.abort();
        }
        // Stop the idle instances now; busy ones stop when their invocation ends.
        let idle = std::mem::take(&mut self.inner.pools().idle);
        drop(idle);
    }
}

/// Stops instances idle for longer than the idle timeout.
async fn reap(inner: Weak<Inner>) {
    loop {
        let period = match inner.upgrade() {
            Some(inner) => {
                (inner.config.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(15))
            }
            None => return,
        };
        tokio::time::sleep(period).await;
        let Some(inner) = inner.upgrade() else { return };
        let stopped = {
            let mut pools = inner.pools();
            let limit = inner.config.idle_timeout;
            let mut stopped = Vec::new();
            for list in pools.idle.values_mut() {
                let (old, keep): (Vec<Idle>, Vec<Idle>) =
                    list.drain(..).partition(|idle| idle.since.elapsed() >= limit);
                *list = keep;
                stopped.extend(old);
            }
            pools.idle.retain(|_, list| !list.is_empty());
            pools.live -= stopped.len();
            stopped
        };
        drop(stopped);
    }
}

impl Inner {
    fn pools(&self) -> std::sync::MutexGuard<'_, Pools> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An instance slot counted in `live`; given back (and the instance stopped or kept) on drop.
struct Lease {
    inner: Arc<Inner>,
    key: PoolKey,
    epoch: (u64, u64),
    instance: Option<Instance>,
    keep: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut pools = self.inner.pools();
        let current = pools.epoch(&self.key.function_arn);
        match self.instance.take() {
            Some(instance) if self.keep && instance.alive() && current == self.epoch => {
                pools.idle.entry(self.key.clone()).or_default().push(Idle {
                    instance,
                    since: Instant::now(),
                    epoch: self.epoch,
                });
            }
            other => {
                pools.live -= 1;
                drop(pools);
                drop(other);
            }
        }
    }
}

enum Acquired {
    Warm(Lease),
    Cold(Lease),
}

impl Inner {
    fn acquire(self: &Arc<Self>, spec: &FunctionSpec) -> Result<Acquired, RunError> {
        let key = PoolKey {
            function_arn: spec.function_arn.clone(),
            version: spec.version.clone(),
            revision_id: spec.revision_id.clone(),
        };
        let needed = self
            .host
            .now()
            .plus_millis(millis(spec.timeout) + millis(CREDENTIALS_MARGIN));
        let mut discarded = Vec::new();
        let mut pools = self.pools();
        let epoch = pools.epoch(&key.function_arn);
        if let Some(list) = pools.idle.get_mut(&key) {
            while let Some(idle) = list.pop() {
                if idle.epoch == epoch && idle.instance.alive() && idle.instance.credentials_expire >= needed
                {
                    let lease = Lease {
                        inner: self.clone(),
                        key,
                        epoch,
                        instance: Some(idle.instance),
                        keep: false,
                    };
                    drop(pools);
                    return Ok(Acquired::Warm(lease));
                }
                discarded.push(idle);
            }
        }
        pools.live -= discarded.len();
        if pools.live >= self.config.max_instances {
            // Make room by stopping the longest idle instance of another function.
            let oldest = pools
                .idle
                .iter()
                .filter_map(|(k, list)| {
                    list.iter()
                        .enumerate()
                        .map(|(i, idle)| (k.clone(), i, idle.since))
                        .min_by_key(|x| x.2)
                })
                .min_by_key(|x| x.2);
            match oldest {
                Some((k, i, _)) => {
                    if let Some(list) = pools.idle.get_mut(&k) {
                        discarded.push(list.remove(i));
                        if list.is_empty() {
                            pools.idle.remove(&k);
                        }
                    }
                    pools.live -= 1;
                }
                None => {
                    drop(pools);
                    drop(discarded);
                    return Err(RunError::TooManyRequests("Rate Exceeded.".to_owned()));
                }
            }
        }
        pools.live += 1;
        pools.idle.retain(|_, list| !list.is_empty());
        drop(pools);
        drop(discarded);
        Ok(Acquired::Cold(Lease {
            inner: self.clone(),
            key,
            epoch,
            instance: None,
            keep: false,
        }))
    }

    /// The interpreter of a runtime: the configured one, or `python3` / `node` from the server's
    /// `PATH`, resolved once to the real executable (through version-manager shims and virtual
    /// environments, which need an environment functions do not get and slow every start).
    async fn interpreter(&self, runtime: Runtime) -> Option<PathBuf> {
        let (cell, configured, name, probe): (_, _, _, &[&str]) = match runtime {
            Runtime::Python => (
                &self.python,
                &self.config.python,
                "python3",
                &[
                    "-c",
                    "import sys; sys.stdout.write(getattr(sys, '_base_executable', None) or sys.executable)",
                ],
            ),
            Runtime::NodeSdkV2 | Runtime::NodeSdkV3 => (
                &self.node,
                &self.config.node,
                "node",
                &["-e", "process.stdout.write(process.execPath)"],
            ),
        };
        cell.get_or_init(|| async {
            let found = configured.clone().or_else(|| find_on_path(name))?;
            let real = match tokio::process::Command::new(&found).args(probe).output().await {
                Ok(output) if output.status.success() => String::from_utf8(output.stdout)
                    .ok()
                    .map(PathBuf::from)
                    .filter(|path| path.is_file()),
                _ => None,
            };
            Some(real.unwrap_or(found))
        })
        .await
        .clone()
    }

    async fn launch(&self, spec: &FunctionSpec, runtime: Runtime) -> Result<Instance, RunError> {
        let (program, args) = match runtime {
            Runtime::Python => {
                let python = self.interpreter(Runtime::Python).await.ok_or_else(|| {
                    RunError::Service(format!(
                        "python3 is not installed on this server: cannot run {}",
                        spec.runtime
                    ))
                })?;
                let bootstrap = self.runtime_dir.join("bootstrap.py");
                (python, vec!["-u".to_owned(), bootstrap.display().to_string()])
            }
            Runtime::NodeSdkV2 | Runtime::NodeSdkV3 => {
                let node = self.interpreter(runtime).await.ok_or_else(|| {
                    RunError::Service(format!(
                        "node is not installed on this server: cannot run {}",
                        spec.runtime
                    ))
                })?;
                let heap = (u64::from(spec.memory_mb) * 9 / 10).max(16);
                let bootstrap = self.runtime_dir.join("bootstrap.js");
                (
                    node,
                    vec![
                        format!("--max-old-space-size={heap}"),
                        bootstrap.display().to_string(),
                    ],
                )
            }
        };
        let sdk = self.config.sdk_dir.join(runtime.sdk_subdir());
        if !sdk.is_dir() {
            return Err(RunError::Service(format!(
                "the AWS SDK for {} is not installed in {} (scripts/setup.sh installs it)",
                spec.runtime,
                self.config.sdk_dir.display()
            )));
        }
        let host = self.host.clone();
        let code_dir = self
            .code
            .unpacked(&spec.code_sha256, || host.code(spec))
            .await
            .map_err(|e| RunError::Service(e.to_string()))?;
        let credentials = self.host.credentials(spec).await.map_err(RunError::Service)?;

        let mut env: BTreeMap<String, String> = spec.environment.clone();
        let path = program
            .parent()
            .map(|dir| format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display()))
            .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned());
        let now = time::OffsetDateTime::now_utc();
        let stream = format!(
            "{:04}/{:02}/{:02}/[{}]{}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            spec.version,
            uuid::Uuid::new_v4().simple()
        );
        let task_root = code_dir.display().to_string();
        let runtime_dir = self.runtime_dir.display().to_string();
        let reserved = [
            ("AWS_REGION", spec.region.clone()),
            ("AWS_DEFAULT_REGION", spec.region.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", spec.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", spec.version.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", spec.function_name),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("_HANDLER", spec.handler.clone()),
            ("LAMBDA_TASK_ROOT", task_root.clone()),
            ("LAMBDA_RUNTIME_DIR", runtime_dir.clone()),
            ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime)),
            ("TZ", ":UTC".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("PATH", path),
            ("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN", credentials.session_token.clone()),
            ("AWS_ENDPOINT_URL", self.config.endpoint_url.clone()),
        ];
        for (name, value) in reserved {
            env.insert(name.to_owned(), value);
        }
        if let Some(bundle) = &self.config.ca_bundle {
            let bundle = bundle.display().to_string();
            env.insert("AWS_CA_BUNDLE".into(), bundle.clone());
            env.insert("NODE_EXTRA_CA_CERTS".into(), bundle);
        }
        match runtime {
            Runtime::Python => {
                env.insert("PYTHONPATH".into(), sdk.display().to_string());
            }
            Runtime::NodeSdkV2 | Runtime::NodeSdkV3 => {
                env.insert(
                    "NODE_PATH".into(),
                    format!("{}:{runtime_dir}:{task_root}", sdk.display()),
                );
            }
        }
        let qualified = if spec.version == "$LATEST" {
            spec.function_arn.clone()
        } else {
            format!("{}:{}", spec.function_arn, spec.version)
        };
        let launch = Launch {
            program,
            args,
            env,
            cwd: code_dir,
            invoked_function_arn: qualified,
        };
        Instance::start(launch, credentials.expiration)
            .await
            .map_err(|e| RunError::Service(format!("could not start the {} runtime: {e}", spec.runtime)))
    }
}

#[async_trait]
impl FunctionRunner for ProcessRunner {
    async fn invoke(
        &self,
        spec: &FunctionSpec,
        invocation: Invocation,
    ) -> Result<InvocationResult, RunError> {
        if let Some(name) = kinko_core::function::builtin_rotator(&spec.runtime, &spec.handler) {
            return builtin::invoke(&self.inner, name, spec, invocation).await;
        }
        let runtime = Runtime::parse(&spec.runtime).ok_or_else(|| {
            RunError::Service(format!(
                "The runtime {} is not supported by this server",
                spec.runtime
            ))
        })?;
        let begun = Instant::now();
        let mut lease = match self.inner.acquire(spec)? {
            Acquired::Warm(lease) => lease,
            Acquired::Cold(mut lease) => {
                lease.instance = Some(self.inner.launch(spec, runtime).await?);
                lease
            }
        };
        let Some(instance) = lease.instance.as_mut() else {
            return Err(RunError::Service("no instance".to_owned()));
        };
        let init_limit = INIT_LIMIT.max(spec.timeout);
        let finished = instance
            .invoke(
                &invocation.request_id,
                Bytes::from(invocation.payload),
                invocation.client_context,
                spec.timeout,
                init_limit,
            )
            .await;
        let duration = begun.elapsed();
        let init = instance.take_init_duration();
        let memory = instance.max_memory_mb();
        let (payload, function_error) = match finished.outcome {
            Outcome::Response(body) => {
                lease.keep = true;
                (body.to_vec(), None)
            }
            Outcome::Failed { document, reusable } => {
                lease.keep = reusable;
                (document.to_vec(), Some("Unhandled".to_owned()))
            }
        };
        drop(lease);
        let log_tail = invocation.tail_logs.then(|| {
            log_tail(
                &invocation.request_id,
                spec,
                &finished.log,
                duration,
                init,
                memory,
            )
        });
        Ok(InvocationResult {
            payload,
            function_error,
            log_tail,
        })
    }

    fn retire(&self, function_arn: &str) {
        let stopped: Vec<Idle> = {
            let mut pools = self.inner.pools();
            *pools.epochs.entry(function_arn.to_owned()).or_insert(0) += 1;
            let keys: Vec<PoolKey> = pools
                .idle
                .keys()
                .filter(|k| k.function_arn == function_arn)
                .cloned()
                .collect();
            let mut stopped = Vec::new();
            for key in keys {
                stopped.extend(pools.idle.remove(&key).unwrap_or_default());
            }
            pools.live -= stopped.len();
            stopped
        };
        drop(stopped);
    }
}

/// The invocation's log as Lambda frames it, cut to its last 4 KB.
fn log_tail(
    request_id: &str,
    spec: &FunctionSpec,
    output: &[u8],
    duration: Duration,
    init: Option<Duration>,
    memory_mb: u64,
) -> Vec<u8> {
    let ms = duration.as_secs_f64() * 1000.0;
    let mut report = format!(
        "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {memory_mb} MB\t",
        ms.ceil() as u64,
        spec.memory_mb,
    );
    if let Some(init) = init {
        report.push_str(&format!("Init Duration: {:.2} ms\t", init.as_secs_f64() * 1000.0));
    }
    report.push('\n');
    let mut log = format!("START RequestId: {request_id} Version: {}\n", spec.version).into_bytes();
    log.extend_from_slice(output);
    if !output.is_empty() && !output.ends_with(b"\n") {
        log.push(b'\n');
    }
    log.extend_from_slice(report.as_bytes());
    if log.len() > LOG_TAIL_BYTES {
        log.drain(..log.len() - LOG_TAIL_BYTES);
    }
    log
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                candidate
                    .metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }
            #[cfg(not(unix))]
            {
                candidate.is_file()
            }
        })
}

/// Writes the bootstraps into `cache_dir/runtime-<hash>/` (named after their content, so that
/// servers of different versions sharing a cache dir each find their own) and returns that dir.
/// Creates `dir` (and its parents) readable by the server's user alone, as everything in its
/// data dir is.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `data` to a new file at `path` readable by the server's user alone.
fn write_private(path: &Path, data: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(data.as_bytes())
}

fn write_bootstraps(cache_dir: &Path) -> std::io::Result<PathBuf> {
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    hasher.update(BOOTSTRAP_PY.as_bytes());
    hasher.update(BOOTSTRAP_JS.as_bytes());
    let digest = hasher.finish();
    let name: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir.join(format!("runtime-{name}"));
    if dir.join("bootstrap.js").is_file() {
        return Ok(dir);
    }
    private_dir(cache_dir)?;
    let staging = cache_dir.join(format!(".runtime-{name}-{}", uuid::Uuid::new_v4().simple()));
    private_dir(&staging)?;
    write_private(&staging.join("bootstrap.py"), BOOTSTRAP_PY)?;
    write_private(&staging.join("bootstrap.js"), BOOTSTRAP_JS)?;
    match std::fs::rename(&staging, &dir) {
        Ok(()) => Ok(dir),
        Err(_) if dir.join("bootstrap.js").is_file() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(dir)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Runtime;

    #[test]
    fn runtimes_map_to_interpreters_and_sdks() {
        assert_eq!(Runtime::parse("python3.12"), Some(Runtime::Python));
        assert_eq!(Runtime::parse("python3.9"), Some(Runtime::Python));
        assert_eq!(Runtime::parse("nodejs12.x"), Some(Runtime::NodeSdkV2));
        assert_eq!(Runtime::parse("nodejs16.x"), Some(Runtime::NodeSdkV2));
        assert_eq!(Runtime::parse("nodejs"), Some(Runtime::NodeSdkV2));
        assert_eq!(Runtime::parse("nodejs18.x"), Some(Runtime::NodeSdkV3));
        assert_eq!(Runtime::parse("nodejs22.x"), Some(Runtime::NodeSdkV3));
        assert_eq!(Runtime::parse("java17"), None);
        assert_eq!(Runtime::parse("python2.7"), None);
    }
}
