//! `kinko exec`: runs a command under a role, the way a program runs on an ECS task or an EC2
//! instance: the child's SDK finds auto-refreshing role credentials through the container
//! credentials provider (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`,
//! which every AWS SDK's default chain reads), and no access key is put in its environment.
//!
//! The caller's own credentials come from the default chain (environment, profile, ...): with
//! them this process calls `sts:AssumeRole` (so the role's trust policy and the caller's own
//! policies decide, through the server's one authorization path, and every session is audited as
//! an AssumeRole), then serves the session on a per-child credentials endpoint on loopback, guarded
//! by a random token only the child knows. When the child asks and the session is past half its
//! life (or within 20 minutes of its end), the role is assumed again.
//!
//! The caller's static keys and profile are taken out of the child's environment, and the shared
//! config and credentials files are pointed at `/dev/null`: the SDKs' default chains read the
//! profile before the container provider, so a `[default]` profile with keys would otherwise win.
//! Exit status and signals pass through. With `--instance-profile NAME --imds` the session is served
//! on a loopback IMDSv2 endpoint instead ([`imds`]), as on an EC2 instance.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::BehaviorVersion;
use aws_sdk_sts::types::Credentials;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

mod imds;

/// The variables taken out of the child's environment: static keys, profiles and other
/// credential sources that would come before (or instead of) the container provider.
const REMOVED: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
];

/// Exit status when `kinko exec` itself fails before the command runs (as `env` and `docker run`
/// use 125).
const FAILED: u8 = 125;

#[derive(clap::Args)]
pub struct ExecArgs {
    /// The kinko endpoint (default: AWS_ENDPOINT_URL, else http://127.0.0.1:8780).
    #[arg(long)]
    endpoint: Option<String>,
    /// The role the command runs under.
    #[arg(
        long,
        required_unless_present = "instance_profile",
        conflicts_with = "instance_profile"
    )]
    role: Option<String>,
    /// Run under the role of this instance profile (as on an EC2 instance).
    #[arg(long)]
    instance_profile: Option<String>,
    /// With --instance-profile: serve the role's credentials the way an EC2 instance does, on a
    /// loopback instance metadata endpoint (IMDSv2) in AWS_EC2_METADATA_SERVICE_ENDPOINT, instead
    /// of the container credentials endpoint. Any local process reaching its port can read them.
    #[arg(long, requires = "instance_profile")]
    imds: bool,
    /// The role session name (default kinko-exec-PID).
    #[arg(long)]
    session_name: Option<String>,
    /// Lifetime of each role session, in seconds (900 to the role's MaxSessionDuration).
    #[arg(long, default_value_t = 3600)]
    duration: i32,
    /// Region (default: the caller's configured region, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Put a secret's value in an environment variable of the command, read as the role:
    /// ENV=SECRET_ID[:JSON_KEY][:VERSION_STAGE] (SECRET_ID a name or a full ARN). Repeatable.
    #[arg(long, value_name = "ENV=SECRET_ID[:JSON_KEY][:VERSION_STAGE]")]
    secret: Vec<String>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// One `--secret`.
#[derive(Debug, PartialEq, Eq)]
struct SecretSpec {
    env: String,
    secret_id: String,
    json_key: Option<String>,
    version_stage: Option<String>,
}

/// Parses `ENV=SECRET_ID[:JSON_KEY][:VERSION_STAGE]`. An ARN holds colons itself: its first seven
/// fields are the secret id, the rest the key and stage (as ECS's `valueFrom` reads them).
fn parse_secret(spec: &str) -> Result<SecretSpec, String> {
    let (env, rest) = spec
        .split_once('=')
        .filter(|(e, r)| !e.is_empty() && !r.is_empty())
        .ok_or_else(|| format!("--secret {spec}: expected ENV=SECRET_ID[:JSON_KEY][:VERSION_STAGE]"))?;
    let parts: Vec<&str> = rest.split(':').collect();
    let id_fields = if rest.starts_with("arn:") { 7 } else { 1 };
    if parts.len() < id_fields || parts.len() > id_fields + 2 {
        return Err(format!(
            "--secret {spec}: expected ENV=SECRET_ID[:JSON_KEY][:VERSION_STAGE]"
        ));
    }
    let opt = |i: usize| parts.get(i).filter(|s| !s.is_empty()).map(|s| (*s).to_owned());
    Ok(SecretSpec {
        env: env.to_owned(),
        secret_id: parts[..id_fields].join(":"),
        json_key: opt(id_fields),
        version_stage: opt(id_fields + 1),
    })
}

/// A role session and when to assume the role again.
struct Cached {
    /// The container credentials answer.
    body: Zeroizing<String>,
    /// The instance metadata answer (`/latest/meta-data/iam/security-credentials/ROLE`).
    imds_body: Zeroizing<String>,
    refresh_at: Instant,
}

/// What the credentials endpoint needs to assume the role.
struct Assumer {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    duration: i32,
    cached: Mutex<Option<Cached>>,
}

impl Assumer {
    async fn assume(&self) -> Result<Credentials, String> {
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .duration_seconds(self.duration)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        out.credentials
            .ok_or_else(|| "AssumeRole answered without credentials".to_owned())
    }

    /// The container credentials body, assuming the role again when the session is past half its
    /// life or within 20 minutes of its end (botocore asks from 15 minutes before the end).
    async fn body(&self) -> Result<Zeroizing<String>, String> {
        self.bodies().await.map(|(container, _)| container)
    }

    /// The container and the instance metadata answers of the current session.
    async fn bodies(&self) -> Result<(Zeroizing<String>, Zeroizing<String>), String> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok((c.body.clone(), c.imds_body.clone()));
        }
        let creds = self.assume().await?;
        let fresh = self.cache(&creds);
        let bodies = (fresh.body.clone(), fresh.imds_body.clone());
        *cached = Some(fresh);
        Ok(bodies)
    }

    fn cache(&self, creds: &Credentials) -> Cached {
        let expiration = creds.expiration();
        let left = SystemTime::try_from(*expiration)
            .ok()
            .and_then(|e| e.duration_since(SystemTime::now()).ok())
            .unwrap_or_default();
        let early = (left / 2).min(Duration::from_secs(20 * 60));
        // Container credentials carry no fractional seconds (botocore parses `%Y-%m-%dT%H:%M:%SZ`).
        let expiration = aws_smithy_types::DateTime::from_secs(expiration.secs())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        let body = serde_json::json!({
            "AccessKeyId": creds.access_key_id(),
            "SecretAccessKey": creds.secret_access_key(),
            "Token": creds.session_token(),
            "Expiration": expiration,
            "RoleArn": self.role_arn,
        });
        let imds = serde_json::json!({
            "Code": "Success",
            "LastUpdated": now_iso(),
            "Type": "AWS-HMAC",
            "AccessKeyId": creds.access_key_id(),
            "SecretAccessKey": creds.secret_access_key(),
            "Token": creds.session_token(),
            "Expiration": expiration,
        });
        Cached {
            body: Zeroizing::new(body.to_string()),
            imds_body: Zeroizing::new(imds.to_string()),
            refresh_at: Instant::now() + left.saturating_sub(early),
        }
    }
}

/// Now, as IMDS writes times (no fractional seconds).
fn now_iso() -> String {
    aws_smithy_types::DateTime::from_secs(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default(),
    )
    .fmt(aws_smithy_types::date_time::Format::DateTime)
    .unwrap_or_default()
}

/// An SDK error as one line: the service's code and message when there is one.
fn describe<E, R>(e: &aws_sdk_sts::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or_default()
        ),
        None => format!("{}", aws_smithy_types::error::display::DisplayErrorContext(e)),
    }
}

fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({"code": code, "message": message}).to_string()
}

async fn serve_one(
    req: Request<hyper::body::Incoming>,
    assumer: Arc<Assumer>,
    token: Arc<Zeroizing<String>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let presented = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(presented.ct_eq(token.as_bytes())) {
        return Ok(json_response(
            StatusCode::UNAUTHORIZED,
            error_body("AccessDenied", "Authorization token is missing or invalid"),
        ));
    }
    if req.method() != hyper::Method::GET {
        return Ok(json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            error_body("InvalidRequest", "Only GET is served"),
        ));
    }
    Ok(match assumer.body().await {
        Ok(body) => json_response(StatusCode::OK, body.to_string()),
        Err(e) => {
            eprintln!("kinko exec: assuming {} again failed: {e}", assumer.role_arn);
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_body("AssumeRoleFailed", &e),
            )
        }
    })
}

/// Serves the credentials endpoint on `listener` until the process ends.
fn serve(listener: TcpListener, assumer: Arc<Assumer>, token: Arc<Zeroizing<String>>) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (assumer, token) = (assumer.clone(), token.clone());
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| serve_one(req, assumer.clone(), token.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn random_token() -> Zeroizing<String> {
    use rand::RngCore as _;
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(&mut bytes[..]);
    Zeroizing::new(hex::encode(&bytes[..]))
}

/// The value of one `--secret`, read as the role.
async fn secret_value(sm: &aws_sdk_secretsmanager::Client, spec: &SecretSpec) -> Result<String, String> {
    let mut get = sm.get_secret_value().secret_id(&spec.secret_id);
    if let Some(stage) = &spec.version_stage {
        get = get.version_stage(stage);
    }
    let out = get.send().await.map_err(|e| match e.as_service_error() {
        Some(s) => {
            use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
            format!(
                "{}: {}",
                s.code().unwrap_or("error"),
                s.message().unwrap_or_default()
            )
        }
        None => format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&e)),
    })?;
    let Some(string) = out.secret_string() else {
        return Err(format!("{} has no SecretString", spec.secret_id));
    };
    let Some(key) = &spec.json_key else {
        return Ok(string.to_owned());
    };
    let json: serde_json::Value = serde_json::from_str(string)
        .map_err(|_| format!("{} is not a JSON object, so it has no key {key}", spec.secret_id))?;
    match json.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(format!("{} has no JSON key {key}", spec.secret_id)),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("kinko exec: {message}");
    ExitCode::from(FAILED)
}

/// The SDK config of a kinko client: the caller's default credential chain, `endpoint` (else
/// AWS_ENDPOINT_URL, else the local default server) and `region` (else the configured one, else
/// us-east-1). Also the endpoint chosen.
pub(crate) async fn sdk_config(
    endpoint: Option<String>,
    region: Option<String>,
) -> (aws_config::SdkConfig, String) {
    let endpoint = endpoint
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "http://127.0.0.1:8780".to_owned());
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).endpoint_url(&endpoint);
    if let Some(client) = ca_bundle_client() {
        loader = loader.http_client(client);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        config = config
            .into_builder()
            .region(aws_config::Region::from_static("us-east-1"))
            .build();
    }
    (config, endpoint)
}

/// `AWS_CA_BUNDLE`, read as the AWS CLI and the other SDKs read it (the Rust SDK does not): the
/// certificates (PEM) that an `https://` server's certificate must chain to, instead of the
/// system's. A bundle that can't be read is said, and the system's roots are used.
fn ca_bundle_client() -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    let path = std::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty())?;
    let pem = match std::fs::read(&path) {
        Ok(pem) => pem,
        Err(e) => {
            tracing::warn!(
                "AWS_CA_BUNDLE {}: {e}; checking the server's certificate against the system's roots",
                std::path::Path::new(&path).display()
            );
            return None;
        }
    };
    kinko_rotators::https_client_trusting(pem)
        .map_err(|e| {
            tracing::warn!("AWS_CA_BUNDLE: {e}; checking the server's certificate against the system's roots")
        })
        .ok()
}

pub async fn run(args: ExecArgs) -> ExitCode {
    let (config, endpoint) = sdk_config(args.endpoint.clone(), args.region.clone()).await;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let mut instance = None;
    let role_arn = match (&args.role, &args.instance_profile) {
        (Some(role), _) => role.clone(),
        (None, Some(profile)) => {
            let iam = aws_sdk_iam::Client::new(&config);
            match iam
                .get_instance_profile()
                .instance_profile_name(profile)
                .send()
                .await
            {
                Ok(out) => match out.instance_profile().and_then(|p| Some((p, p.roles().first()?))) {
                    Some((p, role)) => {
                        instance = Some(imds::Instance {
                            instance_profile_arn: p.arn().to_owned(),
                            instance_profile_id: p.instance_profile_id().to_owned(),
                            role_name: role.role_name().to_owned(),
                            account_id: role.arn().split(':').nth(4).unwrap_or_default().to_owned(),
                            region: region.clone(),
                            instance_id: format!("i-{:017x}", std::process::id()),
                        });
                        role.arn().to_owned()
                    }
                    None => return fail(format!("the instance profile {profile} has no role")),
                },
                Err(e) => {
                    use aws_sdk_iam::error::ProvideErrorMetadata as _;
                    return fail(match e.as_service_error() {
                        Some(s) => format!(
                            "{}: {}",
                            s.code().unwrap_or("error"),
                            s.message().unwrap_or_default()
                        ),
                        None => format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&e)),
                    });
                }
            }
        }
        (None, None) => return fail("give --role or --instance-profile"),
    };
    let specs = match args
        .secret
        .iter()
        .map(|s| parse_secret(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let assumer = Arc::new(Assumer {
        sts: aws_sdk_sts::Client::new(&config),
        role_arn,
        session_name: args
            .session_name
            .clone()
            .unwrap_or_else(|| format!("kinko-exec-{}", std::process::id())),
        duration: args.duration,
        cached: Mutex::new(None),
    });
    // The first session now, so a caller who may not assume the role hears it before anything runs.
    let first = match assumer.assume().await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut secret_env = Vec::new();
    if !specs.is_empty() {
        let creds = aws_sdk_secretsmanager::config::Credentials::new(
            first.access_key_id(),
            first.secret_access_key(),
            Some(first.session_token().to_owned()),
            None,
            "kinko-exec",
        );
        let sm_config = aws_sdk_secretsmanager::config::Builder::from(&config)
            .credentials_provider(creds)
            .build();
        let sm = aws_sdk_secretsmanager::Client::from_conf(sm_config);
        for spec in &specs {
            match secret_value(&sm, spec).await {
                Ok(v) => secret_env.push((spec.env.clone(), Zeroizing::new(v))),
                Err(e) => return fail(e),
            }
        }
    }
    *assumer.cached.lock().await = Some(assumer.cache(&first));
    let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on 127.0.0.1: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(format!("cannot listen on 127.0.0.1: {e}")),
    };
    let token = Arc::new(random_token());
    let imds = args.imds;
    match instance {
        Some(instance) if imds => imds::serve(listener, assumer, instance),
        _ => serve(listener, assumer, token.clone()),
    }

    let mut command = tokio::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    for name in REMOVED {
        command.env_remove(name);
    }
    command
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", &region)
        .env("AWS_DEFAULT_REGION", &region);
    if imds {
        command
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env_remove("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://{addr}/"))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4")
            .env("AWS_EC2_METADATA_V1_DISABLED", "true");
    } else {
        command
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("http://{addr}/v1/credentials"),
            )
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.as_str());
    }
    for (name, value) in &secret_env {
        command.env(name, value.as_str());
    }
    // Signals are caught before the child exists: a SIGTERM sent once the child runs must reach
    // it, never end `kinko exec` by the default action and leave the child behind.
    let forwarding = signals::Forwarding::install();
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kinko exec: {}: {e}", args.command[0]);
            return ExitCode::from(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    drop(secret_env);
    let status = forwarding.wait(&mut child).await;
    signals::exit_like(status)
}

/// Passing signals to the child and its end back to the caller.
mod signals {
    use std::process::ExitCode;

    use tokio::signal::unix::{SignalKind, signal};

    /// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2, caught from `install` on.
    pub struct Forwarding {
        received: tokio::sync::mpsc::UnboundedReceiver<i32>,
    }

    impl Forwarding {
        /// Catches the signals to forward (from now on they no longer end this process).
        pub fn install() -> Forwarding {
            let kinds = [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
                SignalKind::quit(),
                SignalKind::user_defined1(),
                SignalKind::user_defined2(),
            ];
            let (tx, received) = tokio::sync::mpsc::unbounded_channel::<i32>();
            for kind in kinds {
                if let Ok(mut s) = signal(kind) {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while s.recv().await.is_some() {
                            if tx.send(kind.as_raw_value()).is_err() {
                                break;
                            }
                        }
                    });
                }
            }
            Forwarding { received }
        }

        /// Waits for the child, forwarding each caught signal to it.
        pub async fn wait(
            mut self,
            child: &mut tokio::process::Child,
        ) -> std::io::Result<std::process::ExitStatus> {
            let pid = child.id().map(|p| p as i32);
            loop {
                tokio::select! {
                    status = child.wait() => return status,
                    Some(sig) = self.received.recv() => {
                        if let Some(pid) = pid {
                            send(pid, sig);
                        }
                    }
                }
            }
        }
    }

    fn send(pid: i32, sig: i32) {
        if let (Ok(pid), Ok(sig)) = (nix_pid(pid), nix::sys::signal::Signal::try_from(sig)) {
            let _ = nix::sys::signal::kill(pid, sig);
        }
    }

    fn nix_pid(pid: i32) -> Result<nix::unistd::Pid, ()> {
        if pid > 0 {
            Ok(nix::unistd::Pid::from_raw(pid))
        } else {
            Err(())
        }
    }

    /// Ends like the child: its exit code, or 128 + the signal that ended it.
    pub fn exit_like(status: std::io::Result<std::process::ExitStatus>) -> ExitCode {
        use std::os::unix::process::ExitStatusExt as _;
        let status = match status {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kinko exec: waiting for the command: {e}");
                return ExitCode::from(super::FAILED);
            }
        };
        if let Some(code) = status.code() {
            return ExitCode::from(code as u8);
        }
        // Killed by a signal: the status a shell reports for it (re-raising it would need to
        // restore the default action, an unsafe call this workspace forbids).
        match status.signal() {
            Some(sig) => ExitCode::from(128u8.saturating_add(sig as u8)),
            None => ExitCode::from(super::FAILED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_specs() {
        let s = parse_secret("DB=prod/db").unwrap();
        assert_eq!(
            (s.env.as_str(), s.secret_id.as_str(), s.json_key, s.version_stage),
            ("DB", "prod/db", None, None)
        );
        let s = parse_secret("PW=prod/db:password:AWSPREVIOUS").unwrap();
        assert_eq!(s.json_key.as_deref(), Some("password"));
        assert_eq!(s.version_stage.as_deref(), Some("AWSPREVIOUS"));
        let s = parse_secret("PW=prod/db::AWSPENDING").unwrap();
        assert_eq!(
            (s.json_key, s.version_stage.as_deref()),
            (None, Some("AWSPENDING"))
        );
        let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-AbCdEf";
        let s = parse_secret(&format!("PW={arn}:password")).unwrap();
        assert_eq!(
            (s.secret_id.as_str(), s.json_key.as_deref()),
            (arn, Some("password"))
        );
        assert_eq!(parse_secret(&format!("PW={arn}")).unwrap().secret_id, arn);
        for bad in [
            "",
            "DB",
            "=x",
            "DB=",
            "DB=a:b:c:d",
            "DB=arn:aws:secretsmanager:us-east-1",
        ] {
            assert!(parse_secret(bad).is_err(), "{bad}");
        }
    }
}
