//! The rotation run: Secrets Manager invoking the rotation function once per step.
//!
//! AWS runs rotation asynchronously: RotateSecret answers `{ARN, Name, VersionId}` as soon as the
//! configuration is stored and the `AWSPENDING` version exists, and the steps run after ("Secrets
//! Manager invokes the rotation function asynchronously"). kinko does the same in a background
//! task, so a failing step never changes RotateSecret's answer; it shows in the secret's state:
//! `AWSCURRENT` unchanged and readable, `AWSPENDING` left on the new version (which blocks the next
//! RotateSecret with "A previous rotation isn't complete"), no new `LastRotatedDate`.
//!
//! Each step is one synchronous invocation through [`Services::functions`](crate::Services), made
//! as the service principal `secretsmanager.amazonaws.com`: before each, the function's resource
//! policy must still let the service invoke it (Invoke's one check, see
//! [`crate::lambda::Target::service_may_invoke`]). The event is what AWS sends:
//! `{"Step", "SecretId": <secret ARN>, "ClientRequestToken": <new version id>, "RotationToken"}`.
//! The function's own calls are made under its execution role, as any invocation's.
//!
//! Where kinko differs from AWS, by choice: a failed step is not retried (AWS retries the whole
//! rotation several times; here the failure is logged and left for the user to see and clean up,
//! or to be run again by RotateSecret after removing `AWSPENDING`). A CancelRotateSecret between
//! steps stops the run before the next step.

use kinko_core::secret::AWSPENDING;
use kinko_core::store::{SecretWrite, StoreError};

use crate::operation::Cx;
use crate::{RequestContext, Services};

/// The service principal that invokes rotation functions.
pub const SERVICE: &str = "secretsmanager.amazonaws.com";

/// The four steps of a rotation, in order.
const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];
/// RotateImmediately=false only tests the configuration.
const TEST_ONLY: [&str; 1] = ["testSecret"];

/// How often a write of the run's result is retried after a concurrent change.
const WRITE_ATTEMPTS: usize = 16;

/// One rotation of one secret, run after RotateSecret answered.
pub(crate) struct Run {
    pub services: Services,
    pub region: String,
    pub secret_arn: String,
    /// The function's full ARN (qualified when RotationLambdaARN named a version or alias).
    pub function_arn: String,
    /// The new version's id (`ClientRequestToken`).
    pub token: String,
    pub rotation_token: String,
    /// `RotateImmediately`: all four steps, or only testSecret on a copy of the current value.
    pub immediately: bool,
}

/// Why a run stopped before its end.
enum Stop {
    /// Cancelled, deleted, or the new version no longer pending: nothing more to do.
    Superseded(&'static str),
    /// The step failed; the state is left as it is.
    Failed(String),
}

impl Run {
    pub(crate) fn spawn(self) {
        tokio::spawn(self.run());
    }

    async fn run(self) {
        let steps: &[&str] = if self.immediately { &STEPS } else { &TEST_ONLY };
        for step in steps {
            match self.step(step).await {
                Ok(()) => {}
                Err(Stop::Superseded(why)) => {
                    tracing::info!(secret = %self.secret_arn, step, why, "rotation stopped");
                    return;
                }
                Err(Stop::Failed(why)) => {
                    tracing::warn!(secret = %self.secret_arn, step, error = %why, "rotation failed");
                    if !self.immediately {
                        self.finish_test().await;
                    }
                    return;
                }
            }
        }
        if self.immediately {
            self.finish_rotation().await;
        } else {
            self.finish_test().await;
        }
    }

    /// Runs one step: the secret must still be rotating to this version, and the service still
    /// allowed to invoke the function.
    async fn step(&self, step: &str) -> Result<(), Stop> {
        let secret = self
            .services
            .store
            .secret_by_arn(&self.secret_arn)
            .await
            .map_err(|e| Stop::Failed(e.to_string()))?
            .ok_or(Stop::Superseded("the secret is gone"))?;
        if secret.is_scheduled_for_deletion() {
            return Err(Stop::Superseded("the secret is scheduled for deletion"));
        }
        if !secret.rotation_enabled() && self.immediately {
            return Err(Stop::Superseded("rotation was cancelled"));
        }
        if !secret
            .version(&self.token)
            .is_some_and(|v| v.has_stage(AWSPENDING))
        {
            return Err(Stop::Superseded("the version is no longer AWSPENDING"));
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let rc = RequestContext::new(
            kinko_core::principal::Principal::anonymous(),
            &self.region,
            &request_id,
        );
        let cx = Cx::new(&self.services, &rc, "RotateSecret", "secretsmanager:RotateSecret");
        let function = crate::lambda::function_target(&cx, &self.function_arn)
            .await
            .map_err(|e| Stop::Failed(e.to_string()))?;
        let started = self.services.clock.now();
        let allowed = function
            .service_may_invoke(&self.services, &rc, SERVICE, &secret.arn, &secret.account_id)
            .await
            .map_err(|e| Stop::Failed(e.to_string()))?;
        if !allowed {
            self.record_invoke(&rc, started, function.arn(), Some("AccessDeniedException"))
                .await;
            return Err(Stop::Failed(super::error::CANNOT_INVOKE.to_owned()));
        }
        let event = serde_json::json!({
            "Step": step,
            "SecretId": secret.arn,
            "ClientRequestToken": self.token,
            "RotationToken": self.rotation_token,
        });
        let result = function
            .invoke_for_service(&self.services, &request_id, event.to_string().into_bytes())
            .await;
        let failure = result.as_ref().err().map(|e| e.code());
        self.record_invoke(&rc, started, function.arn(), failure).await;
        let result = result.map_err(|e| Stop::Failed(e.to_string()))?;
        if let Some(kind) = result.function_error {
            // The error document's type only: its message may quote the secret's data.
            let error_type = serde_json::from_slice::<serde_json::Value>(&result.payload)
                .ok()
                .and_then(|d| d.get("errorType").and_then(|t| t.as_str()).map(str::to_owned))
                .unwrap_or_default();
            return Err(Stop::Failed(format!(
                "the function failed ({kind}, {error_type})"
            )));
        }
        Ok(())
    }

    /// The audit record of one invocation Secrets Manager made on its own behalf: Lambda's
    /// `Invoke` with `userIdentity` `AWSService`, `invokedBy` `secretsmanager.amazonaws.com`, as
    /// CloudTrail records a service's calls; the function is its resource, `failure` its error
    /// code (a function error is the function's answer, not a failed call). A record that can't be
    /// written is logged: the rotation has no caller to fail.
    async fn record_invoke(
        &self,
        rc: &RequestContext,
        started: kinko_core::Timestamp,
        function_arn: &str,
        failure: Option<&str>,
    ) {
        let mut event = crate::audit::AuditEvent::of(rc, started, crate::lambda::LAMBDA_SERVICE, "Invoke");
        event.invoked_by = Some(SERVICE);
        event.read_only = Some(false);
        event.request_parameters = Some(serde_json::json!({
            "functionName": function_arn,
            "invocationType": "RequestResponse",
        }));
        if let Some(r) = crate::cloudtrail::resource(function_arn) {
            event.recipient_account_id = Some(r.account_id.clone());
            event.resources.push(r);
        }
        event.error_code = failure.map(str::to_owned);
        if let Err(e) = self.services.audit.record(&event, &[]).await {
            tracing::error!(secret = %self.secret_arn, error = %e, "audit record of a rotation step not written");
        }
    }

    /// After finishSecret: the new version must be current; Secrets Manager then removes
    /// `AWSPENDING` from it and records the rotation (`LastRotatedDate`, hence `NextRotationDate`).
    async fn finish_rotation(&self) {
        let result = self
            .rewrite(|secret, now| {
                if !secret.complete_rotation(&self.token) {
                    return Err("finishSecret did not make the new version AWSCURRENT");
                }
                secret.last_rotated_date = Some(now);
                secret.last_changed_date = now;
                Ok(vec![])
            })
            .await;
        match result {
            Ok(()) => tracing::info!(secret = %self.secret_arn, version = %self.token, "rotation succeeded"),
            Err(why) => tracing::warn!(secret = %self.secret_arn, error = %why, "rotation failed"),
        }
    }

    /// After the test of RotateImmediately=false: the temporary `AWSPENDING` version goes.
    async fn finish_test(&self) {
        let result = self
            .rewrite(|secret, _| {
                match secret.version(&self.token) {
                    Some(v) if v.stages.len() == 1 && v.has_stage(AWSPENDING) => {}
                    _ => return Err("the test version changed"),
                }
                secret.versions.retain(|v| v.id != self.token);
                Ok(vec![self.token.clone()])
            })
            .await;
        if let Err(why) = result {
            tracing::info!(secret = %self.secret_arn, why, "test version left as it is");
        }
    }

    /// Reads the secret, changes it and writes it back, again after a concurrent change. The
    /// change returns the versions whose values go.
    async fn rewrite(
        &self,
        change: impl Fn(
            &mut kinko_core::secret::Secret,
            kinko_core::Timestamp,
        ) -> Result<Vec<String>, &'static str>,
    ) -> Result<(), String> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(mut secret) = self
                .services
                .store
                .secret_by_arn(&self.secret_arn)
                .await
                .map_err(|e| e.to_string())?
            else {
                return Err("the secret is gone".into());
            };
            let removed_versions = change(&mut secret, self.services.clock.now())?;
            // The primary's label moves reach its replicas in the same transaction.
            let writes = crate::secretsmanager::replication::with_replicas(
                &self.services,
                None,
                SecretWrite::Update {
                    secret,
                    new_values: vec![],
                    removed_versions,
                },
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
            match self.services.store.write_secrets(writes).await {
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.to_string()),
                Ok(()) => return Ok(()),
            }
        }
        Err("too many concurrent changes".into())
    }
}
