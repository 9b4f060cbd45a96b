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
//! A failed step ends the run at once; the whole rotation is run again later by the scheduler, as
//! AWS retries a failed rotation "several times" (see [`start_scheduled`]). A CancelRotateSecret
//! between steps stops the run before the next step.
//!
//! Scheduled rotation: the server's background job (`rotate_secrets`, one node at a time) lists
//! the secrets the store finds due ([`Secret::rotation_due_date`]) and calls [`start_scheduled`]
//! for each, which starts the same run RotateSecret starts.
//!
//! Three of moto's rotation tests can't pass here whatever this module does: its
//! `test_rotate_secret_using_lambda` and `..._dont_rotate_immediately` keep their state in a
//! DynamoDB table (no DynamoDB here), and `test_cancel_rotate_secret` creates its function at a
//! fixed `http://localhost:5000` after an IAM role whose trust policy is `some policy`, which IAM
//! refuses.

use kinko_core::rotation::RotationAttempt;
use kinko_core::secret::{AWSCURRENT, AWSPENDING, Secret};
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
    /// Starts the run in the background; its task answers whether the rotation succeeded.
    pub(crate) fn spawn(self) -> tokio::task::JoinHandle<bool> {
        tokio::spawn(self.run())
    }

    async fn run(self) -> bool {
        let steps: &[&str] = if self.immediately { &STEPS } else { &TEST_ONLY };
        for step in steps {
            match self.step(step).await {
                Ok(()) => {}
                Err(Stop::Superseded(why)) => {
                    tracing::info!(secret = %self.secret_arn, step, why, "rotation stopped");
                    return false;
                }
                Err(Stop::Failed(why)) => {
                    tracing::warn!(secret = %self.secret_arn, step, error = %why, "rotation failed");
                    if !self.immediately {
                        self.finish_test().await;
                    }
                    return false;
                }
            }
        }
        if self.immediately {
            self.finish_rotation().await
        } else {
            self.finish_test().await;
            true
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
        // A version already current is a retry of a run that went through finishSecret: its
        // steps run again (AWS's functions do nothing for a current token) and it ends recorded.
        if !secret
            .version(&self.token)
            .is_some_and(|v| v.has_stage(AWSPENDING) || v.has_stage(AWSCURRENT))
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
    async fn finish_rotation(&self) -> bool {
        let result = self
            .rewrite(|secret, now| {
                if !secret.complete_rotation(&self.token) {
                    return Err("finishSecret did not make the new version AWSCURRENT");
                }
                secret.last_rotated_date = Some(now);
                secret.last_changed_date = now;
                if let Some(r) = secret.rotation.as_mut() {
                    r.attempt = None;
                }
                Ok(vec![])
            })
            .await;
        match result {
            Ok(()) => {
                tracing::info!(secret = %self.secret_arn, version = %self.token, "rotation succeeded");
                true
            }
            Err(why) => {
                tracing::warn!(secret = %self.secret_arn, error = %why, "rotation failed");
                false
            }
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

/// What [`start_scheduled`] did with a secret the store listed as due.
#[derive(Debug)]
pub enum Scheduled {
    /// A rotation run started (a new one, or a retry of the pending one); its task answers
    /// whether the rotation succeeded.
    Started {
        token: String,
        retry: bool,
        run: tokio::task::JoinHandle<bool>,
    },
    /// Not due anymore, or changed since it was listed (by a request, or by another node): the
    /// next run of the job decides on what the store then holds.
    Skipped(&'static str),
    /// Could not be started: the reason (already logged and recorded).
    Failed(String),
}

/// Starts the rotation of a secret whose rotation is due ([`Secret::rotation_due_date`] at or
/// before now), as RotateSecret would: the same [`Run`] of the four steps, invoked as
/// `secretsmanager.amazonaws.com` with the function stored in the secret's configuration.
///
/// - No rotation pending: a new version with a new `ClientRequestToken` (a random UUID, as AWS
///   makes one) gets `AWSPENDING` and no value, and the run starts.
/// - A rotation pending whose run started [`ROTATION_RETRY_AFTER_MS`] ago or more (it failed, or
///   the server stopped in its middle): it is retried as AWS retries a failed rotation, all four
///   steps again with the same token, so the same pending version. AWS's rotation functions are
///   written for this: createSecret keeps an `AWSPENDING` version of the token that already has a
///   value, and finishSecret does nothing when the token is already current. At most
///   [`MAX_ROTATION_ATTEMPTS`] runs are made; then the rotation is left unfinished, for the user
///   to see (RotateSecret refuses "A previous rotation isn't complete") and clean up, as AWS
///   leaves a rotation that keeps failing.
/// - A run whose steps went to their end (its finishSecret made its version `AWSCURRENT`) but
///   which did not record it (the server stopped first): retried the same way, with its token
///   ([`Secret::unfinished_rotation`]); the function's steps find it current and do nothing, and
///   the run records the rotation. It is no new rotation: the one the schedule asked for is done.
///
/// The version and the attempt are written based on the revision read, so of two nodes or runs
/// that both found it due only one starts a run (the other gets a conflict and skips): at most
/// one rotation of a secret runs at a time. Each start is recorded in the audit trail as
/// `RotationStarted` by `secretsmanager.amazonaws.com` (CloudTrail's service event), a start that
/// failed with its error code; the run's invocations are recorded as for RotateSecret.
///
/// [`ROTATION_RETRY_AFTER_MS`]: kinko_core::rotation::ROTATION_RETRY_AFTER_MS
/// [`MAX_ROTATION_ATTEMPTS`]: kinko_core::rotation::MAX_ROTATION_ATTEMPTS
pub async fn start_scheduled(services: &Services, mut secret: Secret) -> Scheduled {
    let now = services.clock.now();
    if secret.rotation_due_date().is_none_or(|d| d > now) {
        return Scheduled::Skipped("not due");
    }
    let Some(lambda_arn) = secret.rotation.as_ref().and_then(|r| r.lambda_arn.clone()) else {
        let why = super::error::NO_LAMBDA.to_owned();
        record_start(services, &secret, None, Some("InvalidRequestException")).await;
        return Scheduled::Failed(why);
    };
    // The configuration keeps the function as RotateSecret was given it: a name is the secret's
    // account's function in its region.
    let function_arn = if lambda_arn.starts_with("arn:") {
        lambda_arn
    } else {
        format!(
            "arn:aws:lambda:{}:{}:function:{lambda_arn}",
            secret.region, secret.account_id
        )
    };
    let pending = secret.unfinished_rotation().map(|v| v.id.clone());
    let retry = pending.is_some();
    let token = pending.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let before: Vec<String> = secret.versions.iter().map(|v| v.id.clone()).collect();
    if !retry && let Err(e) = secret.add_pending_version(&token, None, None, now) {
        let why = e.to_string();
        tracing::warn!(secret = %secret.arn, error = %why, "scheduled rotation not started");
        record_start(services, &secret, Some(&token), Some("LimitExceededException")).await;
        return Scheduled::Failed(why);
    }
    if let Some(r) = secret.rotation.as_mut() {
        let count = match &r.attempt {
            Some(a) if retry && a.token == token => a.count + 1,
            _ => 1,
        };
        r.attempt = Some(RotationAttempt {
            token: token.clone(),
            started: now,
            count,
        });
    }
    secret.last_changed_date = now;
    let removed_versions: Vec<String> = before
        .into_iter()
        .filter(|id| secret.version(id).is_none())
        .collect();
    let (arn, region) = (secret.arn.clone(), secret.region.clone());
    let written = services
        .store
        .write_secret(SecretWrite::Update {
            secret: secret.clone(),
            new_values: vec![],
            removed_versions,
        })
        .await;
    match written {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Scheduled::Skipped("changed since it was listed"),
        Err(e) => {
            let why = e.to_string();
            tracing::error!(secret = %arn, error = %why, "scheduled rotation not started");
            record_start(services, &secret, Some(&token), Some("InternalServiceError")).await;
            return Scheduled::Failed(why);
        }
    }
    record_start(services, &secret, Some(&token), None).await;
    tracing::info!(secret = %arn, version = %token, retry, "scheduled rotation started");
    let run = Run {
        services: services.clone(),
        region,
        secret_arn: arn,
        function_arn,
        token: token.clone(),
        rotation_token: uuid::Uuid::new_v4().to_string(),
        immediately: true,
    }
    .spawn();
    Scheduled::Started { token, retry, run }
}

/// The audit record of a rotation the scheduler started (or failed to start): CloudTrail's
/// `RotationStarted` service event, made by `secretsmanager.amazonaws.com` in the secret's
/// account, the secret its resource.
async fn record_start(services: &Services, secret: &Secret, token: Option<&str>, failure: Option<&str>) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let rc = RequestContext::new(
        kinko_core::principal::Principal::anonymous(),
        &secret.region,
        &request_id,
    );
    let mut event = crate::audit::AuditEvent::of(&rc, services.clock.now(), SERVICE, "RotationStarted");
    event.invoked_by = Some(SERVICE);
    event.read_only = Some(false);
    event.recipient_account_id = Some(secret.account_id.clone());
    event.request_parameters = Some(match token {
        Some(t) => serde_json::json!({"secretId": secret.arn, "clientRequestToken": t}),
        None => serde_json::json!({"secretId": secret.arn}),
    });
    if let Some(r) = crate::cloudtrail::resource(&secret.arn) {
        event.resources.push(r);
    }
    event.error_code = failure.map(str::to_owned);
    if let Err(e) = services.audit.record(&event, &[]).await {
        tracing::error!(secret = %secret.arn, error = %e, "audit record of a scheduled rotation not written");
    }
}
