//! The built-in rotators ([`kinko_core::function::BUILTIN_ROTATORS`]): functions whose handler is
//! `kinko:<name>` on an OS-only runtime run kinko's own rotator (crate `kinko-rotators`) as a task
//! of the server, not a process.
//!
//! Everything else is as for any function: the rotator gets a session of the execution role from
//! [`FunctionHost::credentials`] and calls Secrets Manager through the AWS SDK at the runner's
//! endpoint (or the function's `SECRETS_MANAGER_ENDPOINT`, as AWS's functions read it), so the
//! role's policies decide what it may do; the function's `Timeout` bounds the invocation
//! (`Task timed out after N.00 seconds`); a failed step answers Lambda's error document with the
//! rotator's `errorType` and `errorMessage` and `X-Amz-Function-Error: Unhandled`; the log tail
//! has the rotator's lines between `START` and `REPORT`. At most `max_instances` built-in
//! invocations run at once (`TooManyRequestsException` beyond), as for process instances.

use std::time::Instant;

use kinko_core::function::{FunctionSpec, Invocation, InvocationResult, RunError};
use kinko_rotators::{Log, Rotator};

use crate::Inner;

/// Runs one invocation of the built-in rotator `name`.
pub(crate) async fn invoke(
    inner: &Inner,
    name: &str,
    spec: &FunctionSpec,
    invocation: Invocation,
) -> Result<InvocationResult, RunError> {
    let rotator = Rotator::named(name)
        .ok_or_else(|| RunError::Service(format!("no built-in rotator is named {name}")))?;
    let _permit = inner
        .builtin_slots
        .try_acquire()
        .map_err(|_| RunError::TooManyRequests("Rate Exceeded.".to_owned()))?;
    let begun = Instant::now();
    let credentials = inner.host.credentials(spec).await.map_err(RunError::Service)?;
    let endpoint = spec
        .environment
        .get("SECRETS_MANAGER_ENDPOINT")
        .filter(|e| !e.is_empty())
        .unwrap_or(&inner.config.endpoint_url);
    let client = kinko_rotators::client(
        &credentials,
        &spec.region,
        endpoint,
        inner.config.ca_bundle.as_deref(),
    )
    .map_err(RunError::Service)?;
    let mut log = Log::default();
    let run = rotator.handle(
        kinko_rotators::Invocation {
            client: &client,
            environment: &spec.environment,
            event: &invocation.payload,
        },
        &mut log,
    );
    let outcome = tokio::time::timeout(spec.timeout, run).await;
    let mut output = log.into_bytes();
    let (payload, function_error) = match outcome {
        Ok(Ok(())) => (b"null".to_vec(), None),
        Ok(Err(failure)) => {
            output.extend_from_slice(
                format!("[ERROR]\t{}: {}\n", failure.error_type, failure.message).as_bytes(),
            );
            let document = serde_json::json!({
                "errorMessage": failure.message,
                "errorType": failure.error_type,
                "stackTrace": [],
            });
            (document.to_string().into_bytes(), Some("Unhandled".to_owned()))
        }
        Err(_) => {
            let (document, line) = crate::instance::timeout_document(&invocation.request_id, spec.timeout);
            output.extend_from_slice(&line);
            (document.to_vec(), Some("Unhandled".to_owned()))
        }
    };
    let log_tail = invocation
        .tail_logs
        .then(|| crate::log_tail(&invocation.request_id, spec, &output, begun.elapsed(), None, 0));
    Ok(InvocationResult {
        payload,
        function_error,
        log_tail,
    })
}
