//! What the server gives the runner of Lambda functions ([`FunctionHost`]): a function's code from
//! the store, and credentials of its execution role, issued as Lambda is issued them.

use std::sync::Arc;

use async_trait::async_trait;
use kinko_api::Services;
use kinko_api::sts::{ServiceSession, service_role_session};
use kinko_core::function::{FunctionHost, FunctionSpec, RoleCredentials};

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
