//! Test servers and the SDK clients that reach them.
//!
//! - [`TestServer::start`]: one dev-mode server (in-memory store, account `000000000000`, root
//!   credentials `test`/`test`, system clock) shared by every test of a test binary. Tests share it
//!   safely because each one works on resources with unique names ([`crate::unique_name`],
//!   [`crate::short_id`]).
//!
//!   `#[tokio::test]` builds a fresh runtime per test and drops it when the test ends, cancelling
//!   every task spawned on it. A server shared across tests therefore can't live on any test's
//!   runtime: it runs on a dedicated `std::thread` that owns a multi-thread tokio runtime and blocks
//!   on the server for the whole life of the test binary (the thread is never joined; the process
//!   exit ends it). Tests talk to it over TCP only, so their own runtimes never touch its tasks.
//!
//! - [`TestServer::start_with`] (or [`TestServer::start_manual`] for a dev-mode server on a manual
//!   clock): a server of the test's own, with its own [`Config`] (e.g. a SQLite data dir, see
//!   [`sqlite_config`]) and clock ([`TestClock::Manual`] to move time). It runs on the calling
//!   test's runtime; call [`TestServer::shutdown`] at the end.
//!
//! Every server runs on SQLite unless `KINKO_TEST_STORE=postgres`: then each runs on the
//! PostgreSQL database `KINKO_TEST_POSTGRES_URL` names, in a scratch schema of its own (the same
//! one again for the same data dir, so restarts find their data), in [`dev_config`] and
//! [`sqlite_config`] alike. `scripts/test.sh` runs the tests both ways.
//!
//! Clients ([`TestServer::client`], [`TestServer::kms_client`], ... and their `_as` forms taking
//! [`TestCredentials`]) have the server's endpoint URL, region `us-east-1`, static credentials and
//! the latest behaviour version. The server rejects signatures more than 5 minutes (15 for STS and IAM) away from *its*
//! clock, so when the server runs on a [`ManualClock`] the clients sign with a time source reading
//! that same clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
use aws_smithy_async::time::TimeSource;
use kinko_core::{Clock, ManualClock, SystemClock};
use kinko_server::Config;
use zeroize::Zeroizing;

/// The region every client signs for.
pub const REGION: &str = "us-east-1";
/// The management account of a dev-mode server.
pub const DEV_ACCOUNT: &str = "000000000000";
/// Root credentials of servers made with [`sqlite_config`].
pub const SQLITE_ACCESS_KEY_ID: &str = "AKIAKINKOTESTROOT000";
pub const SQLITE_SECRET_ACCESS_KEY: &str = "kinko-tests-root-secret-access-key-0000000";

/// The clock a test server takes its time from.
#[derive(Clone, Debug)]
pub enum TestClock {
    System,
    /// Moves only when the test says so; clients of the server sign with it too.
    Manual(Arc<ManualClock>),
}

impl TestClock {
    /// A manual clock starting at the current system time.
    pub fn manual() -> (TestClock, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::starting_now());
        (TestClock::Manual(clock.clone()), clock)
    }

    fn server_clock(&self) -> Arc<dyn Clock> {
        match self {
            TestClock::System => Arc::new(SystemClock),
            TestClock::Manual(c) => c.clone(),
        }
    }
}

impl From<Arc<ManualClock>> for TestClock {
    fn from(c: Arc<ManualClock>) -> Self {
        TestClock::Manual(c)
    }
}

/// An AWS SDK time source reading a [`ManualClock`], so requests are signed at the server's "now".
#[derive(Debug, Clone)]
pub struct ManualTimeSource(pub Arc<ManualClock>);

impl TimeSource for ManualTimeSource {
    fn now(&self) -> SystemTime {
        let ms = u64::try_from(self.0.now().millis()).unwrap_or(0);
        UNIX_EPOCH + Duration::from_millis(ms)
    }
}

/// The variable that switches every test server to PostgreSQL (`postgres`).
pub const TEST_STORE_VAR: &str = "KINKO_TEST_STORE";
/// Connections each test server's pool opens at most: PostgreSQL's `max_connections` (100) is
/// shared by every test and every other user of the database.
const TEST_POOL_SIZE: usize = 5;

/// Whether test servers run on PostgreSQL (`KINKO_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var(TEST_STORE_VAR).is_ok_and(|v| v == "postgres")
}

/// Scratch schemas by name, dropped when their server shuts down; and the schema of each data
/// dir, kept for the run (a restart on the same dir finds its data).
#[derive(Default)]
struct Scratch {
    schemas: HashMap<String, kinko_store_postgres::scratch::ScratchSchema>,
    by_dir: HashMap<PathBuf, String>,
}

fn scratch() -> std::sync::MutexGuard<'static, Scratch> {
    static SCRATCH: OnceLock<Mutex<Scratch>> = OnceLock::new();
    SCRATCH
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn postgres_url() -> String {
    std::env::var(kinko_store_postgres::scratch::TEST_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{TEST_STORE_VAR}=postgres needs {}",
                kinko_store_postgres::scratch::TEST_URL_VAR
            )
        })
}

/// The `--store` URL of a new test server: `None` on SQLite; on PostgreSQL a new scratch schema,
/// or the one `dir` had.
fn test_store(dir: Option<&Path>) -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let url = postgres_url();
    let mut scratch = scratch();
    if let Some(name) = dir.and_then(|d| scratch.by_dir.get(d)).cloned() {
        return scratch.schemas.get(&name).map(|s| s.url(TEST_POOL_SIZE));
    }
    let schema = kinko_store_postgres::scratch::ScratchSchema::new(&url);
    let name = schema.name().to_owned();
    let store = schema.url(TEST_POOL_SIZE);
    scratch.schemas.insert(name.clone(), schema);
    if let Some(d) = dir {
        scratch.by_dir.insert(d.to_path_buf(), name);
    }
    Some(store)
}

/// The scratch schema a server's store URL names, unless a data dir keeps it.
fn own_schema(store: Option<&str>) -> Option<String> {
    let name = store?
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("schema="))?;
    let scratch = scratch();
    (!scratch.by_dir.values().any(|n| n == name)).then(|| name.to_owned())
}

/// A dev-mode configuration on an ephemeral port (on PostgreSQL: a new scratch schema).
pub fn dev_config() -> Config {
    Config {
        dev: true,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        store: test_store(None),
        ..Config::default()
    }
}

/// A configuration with a real data dir in `dir` (its SQLite database, or on PostgreSQL the
/// dir's scratch schema), root credentials [`SQLITE_ACCESS_KEY_ID`] /
/// [`SQLITE_SECRET_ACCESS_KEY`], on an ephemeral port.
pub fn sqlite_config(dir: &Path) -> Config {
    Config {
        dev: false,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.to_path_buf(),
        store: test_store(Some(dir)),
        root_access_key_id: Some(SQLITE_ACCESS_KEY_ID.to_owned()),
        root_secret_access_key: Some(Zeroizing::new(SQLITE_SECRET_ACCESS_KEY.to_owned())),
        ..Config::default()
    }
}

/// Credentials a test client signs with: an access key pair, plus the session token when they are
/// temporary (STS) credentials.
#[derive(Clone)]
pub struct TestCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for TestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl TestCredentials {
    /// Long-term credentials (an IAM user's access key, or root).
    pub fn long_term(access_key_id: &str, secret_access_key: &str) -> Self {
        TestCredentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
        }
    }

    pub(crate) fn provider(&self) -> Credentials {
        Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            self.session_token.clone(),
            None,
            "kinko-tests",
        )
    }
}

impl From<&aws_sdk_sts::types::Credentials> for TestCredentials {
    /// The temporary credentials AssumeRole / GetSessionToken returned.
    fn from(c: &aws_sdk_sts::types::Credentials) -> Self {
        TestCredentials {
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.clone(),
            session_token: Some(c.session_token.clone()),
        }
    }
}

impl From<&aws_sdk_iam::types::AccessKey> for TestCredentials {
    /// The access key CreateAccessKey returned.
    fn from(k: &aws_sdk_iam::types::AccessKey) -> Self {
        TestCredentials::long_term(&k.access_key_id, &k.secret_access_key)
    }
}

/// A running kinko server and what a client needs to reach it.
pub struct TestServer {
    addr: SocketAddr,
    account_id: String,
    access_key_id: String,
    secret_access_key: String,
    clock: TestClock,
    /// `None` for the shared server, whose `Running` lives on its own thread.
    running: Option<kinko_server::Running>,
    /// The scratch schema dropped at shutdown (PostgreSQL).
    schema: Option<String>,
    /// Set when the server serves HTTPS: the clients' HTTP client, trusting the test's CA.
    https: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("account_id", &self.account_id)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<TestServer> = OnceLock::new();

/// The configuration builder of an AWS SDK service crate, set up like [`TestServer::config_builder`]
/// for `$server`, signing with `$creds`.
macro_rules! sdk_config_builder {
    ($sdk:ident, $server:expr, $creds:expr) => {{
        let server: &TestServer = $server;
        let mut b = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint_url())
            .region($sdk::config::Region::new(REGION))
            .credentials_provider($creds.provider());
        if let Some(https) = &server.https {
            b = b.http_client(https.clone());
        }
        if let TestClock::Manual(c) = &server.clock {
            b = b
                .time_source(ManualTimeSource(c.clone()))
                .disable_clock_skew_correction(true);
        }
        b
    }};
}

impl TestServer {
    /// The dev-mode server shared by every test of this test binary (started on first use).
    pub fn start() -> &'static TestServer {
        SHARED.get_or_init(|| start_shared(dev_config()))
    }

    /// A dev-mode server of its own configuration (`config` changes [`dev_config`]), shared by
    /// the tests that use `cell` the way [`TestServer::start`] is shared.
    pub fn start_shared_with(
        cell: &'static OnceLock<TestServer>,
        config: impl FnOnce(&mut Config),
    ) -> &'static TestServer {
        cell.get_or_init(|| {
            let mut c = dev_config();
            config(&mut c);
            start_shared(c)
        })
    }

    /// A server of the caller's own, on the caller's runtime. `config.root_secret_access_key` must
    /// be set unless `config.dev` (the harness has to know the secret to sign requests).
    pub async fn start_with(config: Config, clock: impl Into<TestClock>) -> TestServer {
        let clock = clock.into();
        let configured_id = config.root_access_key_id.clone();
        let configured_secret = config.root_secret_access_key.as_ref().map(|s| s.to_string());
        let schema = own_schema(config.store.as_deref());
        let running = kinko_server::start(config, clock.server_clock())
            .await
            .expect("kinko server starts");
        let creds = running.root_credentials();
        // A reopened data dir doesn't hand the root key back: use the configured one.
        let (access_key_id, secret_access_key) = if creds.known {
            (creds.access_key_id.clone(), creds.secret_access_key.to_string())
        } else {
            (
                configured_id.unwrap_or_else(|| creds.access_key_id.clone()),
                configured_secret.expect("a reopened data dir needs the configured root secret"),
            )
        };
        TestServer {
            addr: running.local_addr(),
            account_id: running.account_id().to_owned(),
            access_key_id,
            secret_access_key,
            clock,
            running: Some(running),
            schema,
            https: None,
        }
    }

    /// A dev-mode server of the caller's own on a manual clock starting now, and that clock.
    pub async fn start_manual() -> (TestServer, Arc<ManualClock>) {
        let (clock, manual) = TestClock::manual();
        (TestServer::start_with(dev_config(), clock).await, manual)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the server's own metrics listener (`--metrics-listen ADDR`), if it has one.
    /// Only for servers made with [`TestServer::start_with`].
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.running.as_ref().and_then(|r| r.metrics_addr())
    }

    /// The server's URL: `https://` once [`TestServer::trusting`] said it serves TLS.
    pub fn endpoint_url(&self) -> String {
        let scheme = if self.https.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// For a server started with `config.tls`: its clients speak HTTPS, trusting `ca` alone.
    pub fn trusting(mut self, ca: &crate::tls::TestCa) -> TestServer {
        self.https = Some(ca.sdk_http_client());
        self
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The server's manual clock, if it has one.
    pub fn manual_clock(&self) -> Option<&Arc<ManualClock>> {
        match &self.clock {
            TestClock::Manual(c) => Some(c),
            TestClock::System => None,
        }
    }

    /// The server's time in whole epoch seconds (its manual clock's, else the system's).
    pub fn now_secs(&self) -> i64 {
        match &self.clock {
            TestClock::Manual(c) => c.now().millis().div_euclid(1000),
            TestClock::System => crate::now_secs(),
        }
    }

    /// The server's root credentials.
    pub fn root_credentials(&self) -> TestCredentials {
        TestCredentials::long_term(&self.access_key_id, &self.secret_access_key)
    }

    /// A Secrets Manager client with the server's root credentials.
    pub fn client(&self) -> Client {
        Client::from_conf(self.config_builder().build())
    }

    /// A Secrets Manager client signing with another access key pair.
    pub fn client_with_credentials(&self, access_key_id: &str, secret_access_key: &str) -> Client {
        self.client_as(&TestCredentials::long_term(access_key_id, secret_access_key))
    }

    /// A Secrets Manager client signing with `creds` (with their session token, if any).
    pub fn client_as(&self, creds: &TestCredentials) -> Client {
        Client::from_conf(
            self.config_builder()
                .credentials_provider(creds.provider())
                .build(),
        )
    }

    /// A Secrets Manager client signing with `creds` for `region` instead of [`REGION`].
    pub fn client_in(&self, region: &str, creds: &TestCredentials) -> Client {
        Client::from_conf(
            self.config_builder()
                .credentials_provider(creds.provider())
                .region(Region::new(region.to_owned()))
                .build(),
        )
    }

    /// The SDK configuration [`TestServer::client`] uses, for tests that need to change something.
    ///
    /// With a manual clock, the client signs with that clock, and the SDK's clock-skew correction
    /// is turned off: it measures skew from the HTTP `Date` header, which the HTTP stack fills from
    /// the wall clock rather than the server's injected clock, and would "correct" the signing time
    /// back to the wall clock.
    pub fn config_builder(&self) -> aws_sdk_secretsmanager::config::Builder {
        let mut b = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint_url())
            .region(Region::new(REGION))
            .credentials_provider(self.root_credentials().provider());
        if let Some(https) = &self.https {
            b = b.http_client(https.clone());
        }
        if let TestClock::Manual(c) = &self.clock {
            b = b
                .time_source(ManualTimeSource(c.clone()))
                .disable_clock_skew_correction(true);
        }
        b
    }

    /// An IAM client with the server's root credentials.
    pub fn iam_client(&self) -> aws_sdk_iam::Client {
        self.iam_client_as(&self.root_credentials())
    }

    /// An IAM client signing with `creds`.
    pub fn iam_client_as(&self, creds: &TestCredentials) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::from_conf(sdk_config_builder!(aws_sdk_iam, self, creds).build())
    }

    /// An IAM client signing with `creds` for `region` instead of [`REGION`].
    pub fn iam_client_in(&self, region: &str, creds: &TestCredentials) -> aws_sdk_iam::Client {
        let b = sdk_config_builder!(aws_sdk_iam, self, creds);
        aws_sdk_iam::Client::from_conf(
            b.region(aws_sdk_iam::config::Region::new(region.to_owned()))
                .build(),
        )
    }

    /// An STS client with the server's root credentials.
    pub fn sts_client(&self) -> aws_sdk_sts::Client {
        self.sts_client_as(&self.root_credentials())
    }

    /// An STS client signing with `creds`.
    pub fn sts_client_as(&self, creds: &TestCredentials) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::from_conf(sdk_config_builder!(aws_sdk_sts, self, creds).build())
    }

    /// An Organizations client with the server's root credentials.
    pub fn org_client(&self) -> aws_sdk_organizations::Client {
        self.org_client_as(&self.root_credentials())
    }

    /// An Organizations client signing with `creds`.
    pub fn org_client_as(&self, creds: &TestCredentials) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::from_conf(
            sdk_config_builder!(aws_sdk_organizations, self, creds).build(),
        )
    }

    /// A CloudTrail client with the server's root credentials.
    pub fn cloudtrail_client(&self) -> aws_sdk_cloudtrail::Client {
        self.cloudtrail_client_as(&self.root_credentials())
    }

    /// A CloudTrail client signing with `creds`.
    pub fn cloudtrail_client_as(&self, creds: &TestCredentials) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::from_conf(sdk_config_builder!(aws_sdk_cloudtrail, self, creds).build())
    }

    /// A Lambda client with the server's root credentials.
    pub fn lambda_client(&self) -> aws_sdk_lambda::Client {
        self.lambda_client_as(&self.root_credentials())
    }

    /// A Lambda client signing with `creds`.
    pub fn lambda_client_as(&self, creds: &TestCredentials) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(sdk_config_builder!(aws_sdk_lambda, self, creds).build())
    }

    /// A KMS client with the server's root credentials.
    pub fn kms_client(&self) -> aws_sdk_kms::Client {
        self.kms_client_as(&self.root_credentials())
    }

    /// A KMS client signing with `creds`.
    pub fn kms_client_as(&self, creds: &TestCredentials) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(sdk_config_builder!(aws_sdk_kms, self, creds).build())
    }

    /// A KMS client signing with `creds` for `region` instead of [`REGION`].
    pub fn kms_client_in(&self, region: &str, creds: &TestCredentials) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(
            sdk_config_builder!(aws_sdk_kms, self, creds)
                .region(aws_sdk_kms::config::Region::new(region.to_owned()))
                .build(),
        )
    }

    /// Runs the server's background jobs (purging secrets and keys past their window, rotating
    /// keys) now. Only for servers made with [`TestServer::start_with`].
    pub async fn run_jobs_now(&self) {
        self.running
            .as_ref()
            .expect("run_jobs_now needs a server of the test's own (start_with)")
            .run_jobs_now()
            .await;
    }

    /// Moves the server's manual clock by `days` and runs the background jobs.
    pub async fn advance_days(&self, days: u64) {
        let clock = self.manual_clock().expect("advance_days needs a manual clock");
        clock.advance(Duration::from_secs(days * 86_400));
        self.run_jobs_now().await;
    }

    /// The running server itself. Only for servers made with [`TestServer::start_with`].
    pub fn running(&self) -> &kinko_server::Running {
        self.running
            .as_ref()
            .expect("running needs a server of the test's own (start_with)")
    }

    /// Stops a server made with [`TestServer::start_with`].
    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("clean shutdown");
        }
        if let Some(name) = self.schema.take() {
            let dropped = scratch().schemas.remove(&name);
            // Dropping it drops the schema, on a thread of its own.
            tokio::task::spawn_blocking(move || drop(dropped))
                .await
                .expect("drop the scratch schema");
        }
    }
}

fn start_shared(config: Config) -> TestServer {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("kinko-shared-test-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime for the shared test server");
            rt.block_on(async move {
                match kinko_server::start(config, Arc::new(SystemClock)).await {
                    Ok(running) => {
                        let creds = running.root_credentials();
                        let info = (
                            running.local_addr(),
                            running.account_id().to_owned(),
                            creds.access_key_id.clone(),
                            creds.secret_access_key.to_string(),
                        );
                        let _ = tx.send(Ok(info));
                        // Serve until the test binary exits.
                        std::future::pending::<()>().await;
                        drop(running);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        })
        .expect("spawn the shared test server thread");
    let (addr, account_id, access_key_id, secret_access_key) = rx
        .recv()
        .expect("shared test server reports its start")
        .unwrap_or_else(|e| panic!("shared test server failed to start: {e}"));
    TestServer {
        addr,
        account_id,
        access_key_id,
        secret_access_key,
        clock: TestClock::System,
        running: None,
        schema: None,
        https: None,
    }
}
