//! The server's runner of Lambda functions ([`Functions`]), and what the server gives it
//! ([`Host`]): a function's code from the store, and credentials of its execution role, issued as
//! Lambda is issued them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kinko_api::Services;
use kinko_api::sts::{ServiceSession, service_role_session};
use kinko_core::function::{FunctionHost, FunctionSpec, RoleCredentials};

/// The runner of a started server, with its cache directory.
pub(crate) struct Functions {
    pub runner: Arc<kinko_functions::ProcessRunner>,
    /// Dev mode's cache, removed when the server stops.
    _temp: Option<tempfile::TempDir>,
}

impl Functions {
    /// The runner for `config`, its functions calling the main listener at `addr`; none when
    /// functions are off (`max_instances` 0).
    pub fn start(
        config: &crate::Config,
        addr: SocketAddr,
        services: &Services,
    ) -> Result<Option<Functions>, crate::StartError> {
        let settings = &config.functions;
        if settings.max_instances == 0 {
            tracing::info!("functions are off: Invoke runs no function");
            return Ok(None);
        }
        let (cache_dir, temp) = match (&settings.cache_dir, config.dev) {
            (Some(dir), _) => (dir.clone(), None),
            (None, false) => (config.data_dir.join("functions"), None),
            (None, true) => {
                let temp = tempfile::Builder::new()
                    .prefix("kinko-functions-")
                    .tempdir()
                    .map_err(|e| crate::StartError::Write(std::env::temp_dir(), e))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let sdk_dir = settings
            .sdk_dir
            .clone()
            .unwrap_or_else(kinko_functions::default_sdk_dir);
        let tls = config.tls.as_ref();
        let endpoint_url = settings
            .endpoint_url
            .clone()
            .unwrap_or_else(|| endpoint_url(addr, tls.is_some()));
        let mut runner_config =
            kinko_functions::RunnerConfig::new(cache_dir.clone(), sdk_dir.clone(), endpoint_url.clone());
        runner_config.max_instances = settings.max_instances;
        runner_config.idle_timeout = settings.idle_timeout;
        runner_config.ca_bundle = tls.map(|t| absolute(settings.ca_bundle.as_ref().unwrap_or(&t.cert)));
        if !sdk_dir.is_dir() {
            tracing::warn!(
                "the AWS SDKs for functions are not in {} (scripts/setup.sh installs them): functions cannot run",
                sdk_dir.display()
            );
        }
        let runner = kinko_functions::ProcessRunner::new(runner_config, Host::new(services.clone()))
            .map_err(|e| crate::StartError::Write(cache_dir.clone(), e))?;
        tracing::info!(
            cache = %cache_dir.display(),
            sdks = %sdk_dir.display(),
            endpoint = %endpoint_url,
            max_instances = settings.max_instances,
            "functions run as local processes"
        );
        Ok(Some(Functions {
            runner: Arc::new(runner),
            _temp: temp,
        }))
    }

    /// Stops the idle instances; busy ones stop when their invocation ends.
    pub fn stop(self) {
        self.runner.stop_all();
    }
}

/// The main listener as a function on this machine reaches it: loopback when the server listens
/// on every address, `localhost` with TLS (the name a local certificate is made for).
fn endpoint_url(addr: SocketAddr, tls: bool) -> String {
    let port = addr.port();
    if tls {
        return format!("https://localhost:{port}");
    }
    match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => format!("http://[::1]:{port}"),
        ip if ip.is_unspecified() => format!("http://127.0.0.1:{port}"),
        std::net::IpAddr::V6(ip) => format!("http://[{ip}]:{port}"),
        ip => format!("http://{ip}:{port}"),
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// How long the sessions of execution roles last (the runner asks again before they expire).
const SESSION_SECONDS: i64 = 3600;

/// The server's [`FunctionHost`].
pub struct Host {
    services: Services,
}

impl Host {
    pub fn new(services: Services) -> Arc<Host> {
        Arc::new(Host { services })
    }
}

#[async_trait]
impl FunctionHost for Host {
    fn now(&self) -> kinko_core::Timestamp {
        self.services.clock.now()
    }

    /// A session of the execution role named after the function, issued for
    /// `lambda.amazonaws.com` through STS's session machinery: the role's trust policy must allow
    /// Lambda, the session is audited as Lambda assuming the role, and the function's calls are
    /// made as `assumed-role/ROLE/FUNCTION`.
    async fn credentials(&self, spec: &FunctionSpec) -> Result<RoleCredentials, String> {
        let (issued, _) = service_role_session(
            &self.services,
            &ServiceSession {
                service: kinko_api::lambda::LAMBDA_SERVICE,
                role_arn: &spec.role_arn,
                session_name: &spec.function_name,
                tags: &[],
                duration_secs: SESSION_SECONDS,
                region: &spec.region,
            },
        )
        .await
        .map_err(|e| format!("{}: {}", e.code, e.message))?;
        Ok(RoleCredentials {
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key.to_string(),
            session_token: issued.session_token,
            expiration: issued.expiration,
        })
    }

    async fn code(&self, spec: &FunctionSpec) -> Result<Arc<Vec<u8>>, String> {
        match self
            .services
            .store
            .function_code(&spec.function_arn, &spec.code_sha256)
            .await
        {
            Ok(Some(zip)) => Ok(Arc::new(zip)),
            Ok(None) => Err(format!(
                "the code {} of {} is no longer stored",
                spec.code_sha256, spec.function_arn
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}
