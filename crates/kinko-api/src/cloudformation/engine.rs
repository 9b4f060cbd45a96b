//! The stack engine: creates, updates and deletes a stack's resources in dependency order, in a
//! background task, each through kinko's own API operations as the caller who started the
//! operation (the caller's principal, session and request context; no service role and no powers
//! of its own), so a permission the caller lacks is the resource's `CREATE_FAILED` reason.
//!
//! A failed create rolls back (what was created is deleted, `ROLLBACK_COMPLETE`); a failed update
//! deletes what it created, changes back what it changed in place and ends
//! `UPDATE_ROLLBACK_COMPLETE`; `DeletionPolicy: Retain` resources are left in place on delete.
//!
//! An operation survives its node: the stack record holds what it needs to go on as the same
//! caller ([`StackOperation`]: the caller's principal and request context, never a credential),
//! and the node running it holds the stack's lease (`cloudformation/stack/ID`), extended while it
//! runs. When the node is gone (its lease ran out), another node (or the same data dir started
//! again) takes the operation over ([`take_over_abandoned`]) and ends it the safe way: a create is
//! rolled back (`ROLLBACK_COMPLETE`, or `CREATE_FAILED` with rollback disabled), an update rolled
//! back (what it created is deleted, what it changed in place changed back, the previous
//! deployment restored), a rollback or a delete finished. A resource whose handler call was
//! under way is marked failed: whether the call took effect is unknown.
//!
//! Which property changes are made in place and which replace a resource is [`updates`]'s;
//! exports and imports between stacks are [`exports`]'s.

use std::io::Write as _;

use base64::Engine as _;
use kinko_cloudformation_template::{
    BoundParameters, DeletionPolicy, DynamicReference, Evaluator, Map, Resolver, Resource, StackContext,
    Template, TemplateError, Value, bind_parameters, physical_name, random_suffix,
};
use kinko_core::stack::{Stack, StackEvent, StackOperation, StackOutput, StackParameter, StackResource};
use serde_json::json;
use zeroize::Zeroizing;

use super::sealing::{self, placeholder};
use super::{CfnError, stack_event};
use crate::operation::Cx;
use crate::{CallInput, RequestContext, ServiceName, Services};
use exports::{ExportsLease, missing_export, publish_refusal};

mod exports;
mod iam_resources;
mod rotation_resources;
mod updates;

pub use exports::{Export, exports, importers};

use iam_resources::{
    add_to_groups, create_group, create_instance_profile, create_user_to_group_addition,
    delete_instance_profile, delete_user_to_group_addition,
};
use rotation_resources::{
    create_rotation_schedule, create_secret_target_attachment, delete_rotation_schedule,
};

/// What a stack operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Delete,
}

/// The resource types the engine creates.
const TYPES: &[&str] = &[
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::User",
    "AWS::IAM::Group",
    "AWS::IAM::UserToGroupAddition",
    "AWS::IAM::InstanceProfile",
    "AWS::IAM::AccessKey",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::ResourcePolicy",
    "AWS::SecretsManager::RotationSchedule",
    "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
];

pub fn supported_type(t: &str) -> bool {
    TYPES.contains(&t)
}

/// The attributes that are secrets, by resource type: the stack record keeps them sealed, and
/// only `Fn::GetAtt` in a resource's properties reads them.
const SECRET_ATTRIBUTES: &[(&str, &str)] = &[("AWS::IAM::AccessKey", "SecretAccessKey")];

fn secret_attribute(resource_type: &str, attribute: &str) -> bool {
    SECRET_ATTRIBUTES.contains(&(resource_type, attribute))
}

/// Whether no operation is running on a stack in this status.
pub fn is_stable(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Whether a stack in this status can be updated.
pub fn updatable(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE"
    )
}

/// What a resource's deployed definition is compared by: its type and its properties as written.
pub fn definition(r: &Resource) -> String {
    json!({"Type": r.resource_type, "Properties": Value::Map(r.properties.clone()).to_json()}).to_string()
}

fn context(stack: &Stack) -> StackContext {
    StackContext::new(&stack.name, &stack.stack_id, &stack.region, &stack.account_id)
}

/// `parameters` bound to `template`, NoEcho values opened (or, when `hide_no_echo`, replaced by
/// their [`placeholder`] once bound).
fn bound(
    services: &crate::Services,
    stack: &Stack,
    template: &Template,
    parameters: &[StackParameter],
    hide_no_echo: bool,
) -> Result<BoundParameters, CfnError> {
    let mut given = Vec::new();
    for p in parameters {
        let value = sealing::parameter_value(services, &stack.stack_id, p)?;
        given.push((p.key.clone(), value.to_string()));
    }
    let mut bound = bind_parameters(template, &given)?;
    given.iter_mut().for_each(|(_, v)| zeroize::Zeroize::zeroize(v));
    if hide_no_echo {
        for p in template.parameters.iter().filter(|p| p.no_echo) {
            bound = bound.with_value(&p.name, &placeholder(&p.name));
        }
    }
    Ok(bound)
}

/// The evaluator of `template` with `parameters` for `stack`.
pub fn evaluator<'t>(
    services: &crate::Services,
    stack: &Stack,
    template: &'t Template,
    parameters: &[StackParameter],
) -> Result<Evaluator<'t>, CfnError> {
    Ok(Evaluator::new(
        template,
        bound(services, stack, template, parameters, false)?,
        context(stack),
    )?)
}

/// The evaluator of `template` with `parameters` for `stack`, NoEcho values replaced by their
/// [`placeholder`]: what a deployed resource's definition is recorded and compared with (so the
/// record holds no NoEcho value). Conditions on a NoEcho value see the placeholder.
pub fn definition_evaluator<'t>(
    services: &crate::Services,
    stack: &Stack,
    template: &'t Template,
    parameters: &[StackParameter],
) -> Result<Evaluator<'t>, CfnError> {
    Ok(Evaluator::new(
        template,
        bound(services, stack, template, parameters, true)?,
        context(stack),
    )?)
}

/// The NoEcho parameters whose value differs between `old` and `new` (a resource whose
/// definition holds one of their placeholders changed, though the definitions read the same).
pub fn changed_no_echo(
    services: &crate::Services,
    stack_id: &str,
    old: &[StackParameter],
    new: &[StackParameter],
) -> Result<Vec<String>, CfnError> {
    let mut out = Vec::new();
    for n in new.iter().filter(|p| p.no_echo) {
        let value = sealing::parameter_value(services, stack_id, n)?;
        let same = match old.iter().find(|o| o.key == n.key) {
            Some(o) => *sealing::parameter_value(services, stack_id, o)? == *value,
            None => false,
        };
        if !same {
            out.push(n.key.clone());
        }
    }
    Ok(out)
}

/// Whether a resource recorded as `recorded` is deployed as `definition` with the NoEcho
/// parameters `changed` changed.
pub fn unchanged(recorded: &str, definition: &str, changed: &[String]) -> bool {
    recorded == definition && !changed.iter().any(|k| definition.contains(&placeholder(k)))
}

/// The caller a stack operation acts as.
#[derive(Clone)]
struct Caller {
    services: Services,
    rc: RequestContext,
    /// Set when this node lost the stack's lease (another node took the operation over): the
    /// operation stops at its next write.
    lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Why a call of a resource handler failed: the resource's status reason.
type Reason = String;

/// What a stack record keeps of the caller of its operation ([`StackOperation::caller`]): the
/// principal and the request context its calls are authorized with; no credential.
#[derive(serde::Serialize, serde::Deserialize)]
struct CallerRecord {
    principal: kinko_core::principal::Principal,
    region: String,
    #[serde(default)]
    session: Option<crate::Session>,
    #[serde(default)]
    mfa_authenticated: Option<kinko_core::Timestamp>,
    #[serde(default)]
    source_ip: Option<std::net::IpAddr>,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    user_agent: Option<String>,
}

impl Caller {
    /// The record of this caller, for the stack.
    fn record(&self) -> Result<String, CfnError> {
        serde_json::to_string(&CallerRecord {
            principal: self.rc.principal.clone(),
            region: self.rc.region.clone(),
            session: self.rc.session.clone(),
            mfa_authenticated: self.rc.mfa_authenticated,
            source_ip: self.rc.source_ip,
            access_key_id: self.rc.access_key_id.clone(),
            user_agent: self.rc.user_agent.clone(),
        })
        .map_err(|e| CfnError::Internal(format!("recording the caller: {e}")))
    }

    /// The caller a stack record keeps.
    fn from_record(services: &crate::Services, record: &str) -> Result<Self, CfnError> {
        let r: CallerRecord = serde_json::from_str(record)
            .map_err(|e| CfnError::Internal(format!("reading the caller of a stack operation: {e}")))?;
        let mut rc = RequestContext::new(r.principal, &r.region, &uuid::Uuid::new_v4().to_string());
        rc.session = r.session;
        rc.mfa_authenticated = r.mfa_authenticated;
        rc.source_ip = r.source_ip;
        rc.access_key_id = r.access_key_id;
        rc.user_agent = r.user_agent;
        Ok(Caller {
            services: services.clone(),
            rc,
            lost: std::sync::Arc::default(),
        })
    }

    fn of(cx: &Cx<'_>) -> Self {
        let mut rc = RequestContext::new(cx.rc.principal.clone(), &cx.rc.region, &cx.rc.request_id);
        rc.session = cx.rc.session.clone();
        rc.mfa_authenticated = cx.rc.mfa_authenticated;
        rc.source_ip = cx.rc.source_ip;
        rc.access_key_id.clone_from(&cx.rc.access_key_id);
        rc.user_agent.clone_from(&cx.rc.user_agent);
        rc.tls_details.clone_from(&cx.rc.tls_details);
        Caller {
            services: cx.services.clone(),
            rc,
            lost: std::sync::Arc::default(),
        }
    }

    /// A fresh context for one call, as the caller.
    fn context(&self) -> RequestContext {
        let mut rc = RequestContext::new(
            self.rc.principal.clone(),
            &self.rc.region,
            &uuid::Uuid::new_v4().to_string(),
        );
        rc.session.clone_from(&self.rc.session);
        rc.mfa_authenticated = self.rc.mfa_authenticated;
        rc.source_ip = self.rc.source_ip;
        rc.access_key_id.clone_from(&self.rc.access_key_id);
        rc.user_agent.clone_from(&self.rc.user_agent);
        rc.tls_details.clone_from(&self.rc.tls_details);
        rc
    }

    async fn call(
        &self,
        service: ServiceName,
        operation: &str,
        input: CallInput<'_>,
    ) -> Result<Vec<u8>, Reason> {
        let rc = self.context();
        crate::call(&self.services, &rc, Some(service), operation, input)
            .await
            .map_err(|e| reason(service, &rc.request_id, &e))
    }

    async fn query(
        &self,
        service: ServiceName,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String, Reason> {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action);
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let parsed = kinko_wire::query::Params::parse(form.as_bytes());
        let out = self.call(service, action, CallInput::Query(&parsed)).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    async fn json(
        &self,
        service: ServiceName,
        operation: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, Reason> {
        let out = self
            .call(service, operation, CallInput::Json(body.to_string().as_bytes()))
            .await?;
        Ok(serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null))
    }

    async fn lambda(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, Reason> {
        self.lambda_with_query(method, path, None, body).await
    }

    async fn lambda_with_query(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, Reason> {
        let route = crate::lambda::route(method, path, query, &[])
            .map_err(|e| reason(ServiceName::Lambda, &self.rc.request_id, &e))?;
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let request = crate::operation::RestRequest {
            members: route.members,
            raw_body: route.raw_body,
            body: &bytes,
        };
        let out = self
            .call(ServiceName::Lambda, route.operation, CallInput::Rest(&request))
            .await?;
        Ok(serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null))
    }
}

/// A resource's status reason for a failed call, as CloudFormation words a resource handler's
/// error: `Resource handler returned message: "MESSAGE (Service: Iam, Status Code: 403, Request
/// ID: ...)" (RequestToken: ..., HandlerErrorCode: AccessDenied)`.
fn reason(service: ServiceName, request_id: &str, e: &kinko_wire::WireError) -> Reason {
    let service = match service {
        ServiceName::Iam => "Iam",
        ServiceName::SecretsManager => "SecretsManager",
        ServiceName::Kms => "Kms",
        ServiceName::Lambda => "Lambda",
        other => other.signing_name(),
    };
    let handler_code = match (e.status, e.code) {
        (403, _) | (_, "AccessDeniedException" | "AccessDenied") => "AccessDenied",
        (_, c)
            if c.contains("AlreadyExists")
                || c == "ResourceExistsException"
                || c == "ResourceConflictException" =>
        {
            "AlreadyExists"
        }
        (404, _) | (_, "NoSuchEntity" | "ResourceNotFoundException" | "NotFoundException") => "NotFound",
        (s, _) if s < 500 => "InvalidRequest",
        _ => "GeneralServiceException",
    };
    format!(
        "Resource handler returned message: \"{} (Service: {service}, Status Code: {}, Request ID: {request_id})\" (RequestToken: {}, HandlerErrorCode: {handler_code})",
        e.message,
        e.status,
        uuid::Uuid::new_v4()
    )
}

/// The text of the first `<tag>` element of an XML answer.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(
        body[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

// --- starting an operation ---

/// Starts `kind` on `stack` with the template and parameters it will have: takes the stack's
/// lease, marks it in progress with what another node needs to finish the operation, records the
/// stack event, and runs the operation in the background.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    cx: &Cx<'_>,
    mut stack: Stack,
    kind: Kind,
    body: String,
    parameters: Vec<StackParameter>,
    capabilities: Vec<String>,
    tags: Vec<(String, String)>,
) -> Result<(), CfnError> {
    let now = cx.now();
    let status = match kind {
        Kind::Create => "CREATE_IN_PROGRESS",
        Kind::Update => "UPDATE_IN_PROGRESS",
        Kind::Delete => "DELETE_IN_PROGRESS",
    };
    let caller = Caller::of(cx);
    // What an update's rollback restores should the node running it be gone.
    let previous = (kind == Kind::Update).then(|| {
        Box::new(Stack {
            events: Vec::new(),
            change_sets: Vec::new(),
            operation: None,
            ..stack.clone()
        })
    });
    stack.operation = Some(StackOperation {
        kind: match kind {
            Kind::Create => "CREATE",
            Kind::Update => "UPDATE",
            Kind::Delete => "DELETE",
        }
        .into(),
        caller: caller.record()?,
        previous,
    });
    stack.description = Template::parse(&body)?.description;
    stack.status = status.into();
    stack.status_reason = None;
    if kind != Kind::Delete {
        stack.template_body = body;
        stack.parameters = parameters;
        stack.capabilities = capabilities;
        stack.tags = tags;
    }
    if kind == Kind::Update {
        stack.last_updated_time = Some(now);
    }
    let event = stack_event(&stack, status, Some("User Initiated"), now);
    stack.events.push(event);
    let stack_id = stack.stack_id.clone();
    sealing::seal_parameters(cx.services, &mut stack)?;
    if !cx.services.node.running(&stack_id, true) {
        return Err(CfnError::Conflict);
    }
    let written = match take_lease(cx.services, &stack_id).await {
        // Another node still finishes an operation of the stack's (the status read said none).
        Ok(false) => Err(CfnError::Conflict),
        Ok(true) => match cx.services.store.write_stack(stack).await {
            Ok(()) => Ok(()),
            Err(e) => {
                release_lease(cx.services, &stack_id).await;
                Err(e.into())
            }
        },
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        cx.services.node.running(&stack_id, false);
        return Err(e);
    }
    tokio::spawn(background(caller, stack_id, Work::Run(kind)));
    Ok(())
}

/// What a background task does with a stack's operation.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// Runs it from its start.
    Run(Kind),
    /// Ends one whose node is gone.
    TakeOver,
}

/// The name of a stack's lease.
fn lease_name(stack_id: &str) -> String {
    format!("cloudformation/stack/{stack_id}")
}

/// Takes or extends this node's lease of a stack's operation; whether it holds it.
async fn take_lease(services: &Services, stack_id: &str) -> Result<bool, CfnError> {
    let now = services.clock.now();
    let length = i64::try_from(services.node.lease.as_millis()).unwrap_or(i64::MAX);
    let expires = kinko_core::Timestamp(now.millis().saturating_add(length));
    Ok(services
        .store
        .acquire_lease(&lease_name(stack_id), &services.node.holder, now, expires)
        .await?)
}

async fn release_lease(services: &Services, stack_id: &str) {
    if let Err(e) = services
        .store
        .release_lease(&lease_name(stack_id), &services.node.holder)
        .await
    {
        tracing::warn!(stack_id = %stack_id, error = %e, "giving up a stack's lease failed; it runs out on its own");
    }
}

/// The operation's task, holding the stack's lease (extended every third of its length) until it
/// ends. Boxed: its calls go through [`crate::call`], which leads back here.
fn background(
    caller: Caller,
    stack_id: String,
    work: Work,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        // The caller marked the operation as running here.
        let services = caller.services.clone();
        let heartbeat = {
            let (services, stack_id, lost) = (services.clone(), stack_id.clone(), caller.lost.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(services.node.lease / 3).await;
                    match take_lease(&services, &stack_id).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(stack_id = %stack_id, "another node took this stack's operation over");
                            lost.store(true, std::sync::atomic::Ordering::SeqCst);
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(stack_id = %stack_id, error = %e, "extending a stack's lease failed")
                        }
                    }
                }
            })
        };
        let result = match work {
            Work::Run(kind) => run(&caller, &stack_id, kind).await,
            Work::TakeOver => take_over(&caller, &stack_id).await,
        };
        if let Err(e) = result {
            tracing::error!(stack_id = %stack_id, error = %e, "stack operation failed");
        }
        heartbeat.abort();
        services.node.running(&stack_id, false);
        if !caller.lost.load(std::sync::atomic::Ordering::SeqCst) {
            release_lease(&services, &stack_id).await;
        }
    })
}

/// Takes over the operations of stacks whose node is gone (their lease ran out): each is ended in
/// the background as its caller (see the module's documentation). Returns how many it took.
pub async fn take_over_abandoned(services: &Services) -> Result<usize, CfnError> {
    let mut taken = 0;
    for stack_id in services.store.stacks_in_operation(256).await? {
        if !services.node.running(&stack_id, true) {
            continue;
        }
        let caller = match abandoned(services, &stack_id).await {
            Ok(Some(caller)) => caller,
            Ok(None) => {
                services.node.running(&stack_id, false);
                continue;
            }
            Err(e) => {
                services.node.running(&stack_id, false);
                tracing::error!(stack_id = %stack_id, error = %e, "cannot take a stack's operation over");
                continue;
            }
        };
        tracing::warn!(stack_id = %stack_id, "taking over a stack operation whose node is gone");
        tokio::spawn(background(caller, stack_id, Work::TakeOver));
        taken += 1;
    }
    Ok(taken)
}

/// The caller of the operation of `stack_id` when its node is gone and this one now holds its
/// lease; `None` when its node still holds it or it ended.
async fn abandoned(services: &Services, stack_id: &str) -> Result<Option<Caller>, CfnError> {
    if !take_lease(services, stack_id).await? {
        return Ok(None);
    }
    let record = match services.store.stack(stack_id).await? {
        Some(s) if !is_stable(&s.status) => s.operation.map(|o| o.caller),
        _ => None,
    };
    match record {
        Some(record) => Caller::from_record(services, &record).map(Some),
        None => {
            release_lease(services, stack_id).await;
            Ok(None)
        }
    }
}

/// Writes `stack`, rebasing onto the stored one if another writer (a change set) changed it.
/// Fails once another node took the operation over.
async fn save(caller: &Caller, stack: &mut Stack) -> Result<(), CfnError> {
    let services = &caller.services;
    sealing::seal_parameters(services, stack)?;
    for _ in 0..20 {
        if caller.lost.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(CfnError::Internal(
                "this node lost the stack's lease: another node took the operation over".into(),
            ));
        }
        match services.store.write_stack(stack.clone()).await {
            Ok(()) => {
                stack.revision += 1;
                return Ok(());
            }
            Err(kinko_core::store::StoreError::Conflict) => {
                let Some(mut stored) = services.store.stack(&stack.stack_id).await? else {
                    return Err(CfnError::Internal("stack vanished".into()));
                };
                stored.change_sets = merge_change_sets(&stored, stack);
                let revision = stored.revision;
                *stack = Stack {
                    change_sets: stored.change_sets,
                    revision,
                    ..stack.clone()
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(CfnError::Conflict)
}

/// The stored change sets, with the execution status this operation gave its own.
fn merge_change_sets(stored: &Stack, ours: &Stack) -> Vec<kinko_core::stack::ChangeSet> {
    stored
        .change_sets
        .iter()
        .map(|c| {
            ours.change_sets
                .iter()
                .find(|o| o.id == c.id)
                .cloned()
                .unwrap_or_else(|| c.clone())
        })
        .collect()
}

fn resource_event(r: &StackResource, now: kinko_core::Timestamp) -> StackEvent {
    StackEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        logical_id: r.logical_id.clone(),
        physical_id: r.physical_id.clone(),
        resource_type: r.resource_type.clone(),
        status: r.status.clone(),
        status_reason: r.status_reason.clone(),
        timestamp: now,
    }
}

/// Sets a resource's status (adding it if new) and records the event.
fn set_status(
    stack: &mut Stack,
    mut r: StackResource,
    status: &str,
    reason: Option<String>,
    now: kinko_core::Timestamp,
) {
    r.status = status.into();
    r.status_reason = reason;
    r.last_updated = now;
    let event = resource_event(&r, now);
    match stack.resource_mut(&r.logical_id) {
        Some(slot) => *slot = r,
        None => stack.resources.push(r),
    }
    stack.events.push(event);
}

fn set_stack_status(stack: &mut Stack, status: &str, reason: Option<&str>, now: kinko_core::Timestamp) {
    if is_stable(status) {
        stack.operation = None;
    }
    stack.status = status.into();
    stack.status_reason = reason.map(str::to_owned);
    let event = stack_event(stack, status, reason, now);
    stack.events.push(event);
}

// --- running an operation ---

async fn run(caller: &Caller, stack_id: &str, kind: Kind) -> Result<(), CfnError> {
    let services = &caller.services;
    let Some(mut stack) = services.store.stack(stack_id).await? else {
        return Ok(());
    };
    match kind {
        Kind::Create => create(caller, &mut stack).await,
        Kind::Update => update(caller, &mut stack).await,
        Kind::Delete => delete(caller, &mut stack).await,
    }
}

/// The dynamic references of `template`, resolved as the caller (`GetSecretValue`).
async fn dynamic_values(
    caller: &Caller,
    template: &Template,
) -> Result<Vec<(DynamicReference, Zeroizing<String>)>, (String, Reason)> {
    let mut out = Vec::new();
    for (logical_id, r) in template
        .dynamic_references()
        .map_err(|e| (String::new(), e.message().to_owned()))?
    {
        if out.iter().any(|(o, _)| *o == r) {
            continue;
        }
        match &r {
            DynamicReference::SecretsManager {
                secret_id,
                json_key,
                version_stage,
                version_id,
            } => {
                let mut body = json!({"SecretId": secret_id});
                if let Some(s) = version_stage {
                    body["VersionStage"] = json!(s);
                }
                if let Some(v) = version_id {
                    body["VersionId"] = json!(v);
                }
                let answer = caller
                    .json(ServiceName::SecretsManager, "GetSecretValue", body)
                    .await
                    .map_err(|e| (logical_id.clone(), e))?;
                let text = answer["SecretString"].as_str().unwrap_or_default().to_owned();
                let value = match json_key {
                    None => text,
                    Some(k) => {
                        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                        match &parsed[k.as_str()] {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Null => {
                                // [unverified wording]
                                return Err((
                                    logical_id,
                                    format!("Could not find SecretString key {k} in secret {secret_id}"),
                                ));
                            }
                            other => other.to_string(),
                        }
                    }
                };
                out.push((r.clone(), Zeroizing::new(value)));
            }
            _ => {
                // [unverified wording] kinko has no Systems Manager Parameter Store.
                return Err((
                    logical_id,
                    "SSM parameters ({{resolve:ssm:...}}, {{resolve:ssm-secure:...}}) are not supported by kinko"
                        .to_owned(),
                ));
            }
        }
    }
    Ok(out)
}

/// What intrinsic functions see of a stack: its resources' physical ids and attributes, the
/// secret ones (sealed in the record) only when `secrets` is given.
struct StackResolver<'a> {
    stack: &'a Stack,
    dynamic: &'a [(DynamicReference, Zeroizing<String>)],
    secrets: Option<&'a Services>,
    /// The exports of the stack's account and region, for `Fn::ImportValue`.
    exports: &'a [Export],
}

impl Resolver for StackResolver<'_> {
    fn resource_ref(&self, logical_id: &str) -> kinko_cloudformation_template::Result<Value> {
        self.stack
            .resource(logical_id)
            .and_then(|r| r.physical_id.clone())
            .map(Value::String)
            .ok_or_else(|| {
                TemplateError::Validation(format!("Template error: resource {logical_id} is not created"))
            })
    }

    fn get_att(&self, logical_id: &str, attribute: &str) -> kinko_cloudformation_template::Result<Value> {
        let sealed = self
            .stack
            .resource(logical_id)
            .and_then(|r| r.sealed_attributes.iter().find(|(k, _)| k == attribute));
        if let (Some((_, sealed)), Some(services)) = (sealed, self.secrets) {
            return sealing::open_attribute(services, &self.stack.stack_id, logical_id, attribute, sealed)
                .map(|v| Value::string(v.as_str()))
                .map_err(|e| {
                    tracing::error!(error = %e, "opening a stack's sealed attribute failed");
                    TemplateError::Validation(format!(
                        "Template error: resource {logical_id} attribute {attribute} could not be read"
                    ))
                });
        }
        self.stack
            .resource(logical_id)
            .and_then(|r| r.attribute(attribute))
            .map(Value::string)
            .ok_or_else(|| {
                TemplateError::Validation(format!(
                    "Template error: resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
                ))
            })
    }

    fn get_azs(&self, region: &str) -> kinko_cloudformation_template::Result<Vec<String>> {
        let region = if region.is_empty() {
            &self.stack.region
        } else {
            region
        };
        Ok(["a", "b", "c"].iter().map(|z| format!("{region}{z}")).collect())
    }

    fn import_value(&self, name: &str) -> kinko_cloudformation_template::Result<Value> {
        // A stack's own exports are not there to import (they are published when it completes).
        self.exports
            .iter()
            .find(|e| e.name == name && e.stack_id != self.stack.stack_id)
            .map(|e| Value::string(e.value.as_str()))
            .ok_or_else(|| TemplateError::Validation(missing_export(name)))
    }

    fn dynamic_reference(
        &self,
        reference: &DynamicReference,
    ) -> kinko_cloudformation_template::Result<String> {
        self.dynamic
            .iter()
            .find(|(r, _)| r == reference)
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| TemplateError::Validation("Dynamic reference could not be resolved".into()))
    }
}

/// Creates (or replaces) the resources `which` names of the stack's template, in creation order.
/// Returns the first failure, as (logical id, reason).
async fn deploy(
    caller: &Caller,
    stack: &mut Stack,
    updating: bool,
    replaced: &mut Vec<StackResource>,
    exports: &[Export],
) -> Result<Option<(String, Reason)>, CfnError> {
    let template = Template::parse(&stack.template_body)?;
    let graph = template.validate()?;
    let evaluator = evaluator(&caller.services, stack, &template, &stack.parameters.clone())?;
    let recorder = definition_evaluator(&caller.services, stack, &template, &stack.parameters.clone())?;
    let changed = match stack.operation.as_ref().and_then(|o| o.previous.as_ref()) {
        Some(previous) => changed_no_echo(
            &caller.services,
            &stack.stack_id,
            &previous.parameters,
            &stack.parameters,
        )?,
        None => Vec::new(),
    };
    let order = evaluator.creation_order(&graph)?;
    let dynamic = match dynamic_values(caller, &template).await {
        Ok(d) => d,
        Err((logical_id, reason)) => return Ok(Some((logical_id, reason))),
    };
    for logical_id in order {
        let Some(r) = template.resource(&logical_id) else {
            continue;
        };
        let now = caller.services.clock.now();
        let definition = resolved_definition(&recorder, r, stack, exports);
        let old = stack
            .resource(&logical_id)
            .filter(|o| o.physical_id.is_some())
            .cloned();
        if updating
            && old
                .as_ref()
                .is_some_and(|o| unchanged(&o.properties, &definition, &changed))
        {
            continue;
        }
        let (in_progress, complete, failed) = match old {
            Some(_) => ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED"),
            None => ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_FAILED"),
        };
        let pending = StackResource {
            logical_id: logical_id.clone(),
            physical_id: old.as_ref().and_then(|o| o.physical_id.clone()),
            resource_type: r.resource_type.clone(),
            status: String::new(),
            status_reason: None,
            last_updated: now,
            attributes: old.as_ref().map(|o| o.attributes.clone()).unwrap_or_default(),
            sealed_attributes: old
                .as_ref()
                .map(|o| o.sealed_attributes.clone())
                .unwrap_or_default(),
            properties: definition,
            cleanup: old.as_ref().map(|o| o.cleanup.clone()).unwrap_or_default(),
        };
        set_status(stack, pending.clone(), in_progress, None, now);
        save(caller, stack).await?;
        let properties = {
            let resolver = StackResolver {
                stack,
                dynamic: &dynamic,
                secrets: Some(&caller.services),
                exports,
            };
            evaluator.resolve_properties(r, &resolver)
        };
        let result = match (properties, &old) {
            (Err(e), _) => Err(e.message().to_owned()),
            (Ok(p), Some(old)) => {
                let before = updates::recorded_properties(&old.properties);
                let after = updates::recorded_properties(&pending.properties);
                match updates::plan(&r.resource_type, &before, &after) {
                    updates::Plan::InPlace(changed) => {
                        Box::pin(updates::apply(caller, stack, old, r, &p, &before, &changed)).await
                    }
                    updates::Plan::Replace(_) => {
                        match updates::custom_name_kept(&r.resource_type, &before, &after) {
                            Some(name) => Err(updates::custom_name_reason(&name)),
                            None => {
                                replaced.push(old.clone());
                                Box::pin(create_resource(caller, stack, r, &p)).await
                            }
                        }
                    }
                }
            }
            (Ok(p), None) => Box::pin(create_resource(caller, stack, r, &p)).await,
        };
        let now = caller.services.clock.now();
        match result {
            Ok(created) => {
                let mut done = pending.clone();
                // A resource changed in place keeps its secret attributes; a new one has its own.
                if done.physical_id.as_deref() != Some(created.physical_id.as_str()) {
                    done.sealed_attributes.clear();
                }
                done.physical_id = Some(created.physical_id);
                done.attributes = created.attributes;
                for (name, mut value) in std::mem::take(&mut done.attributes) {
                    if !secret_attribute(&r.resource_type, &name) {
                        done.attributes.push((name, value));
                        continue;
                    }
                    let sealed = sealing::seal_attribute(
                        &caller.services,
                        &stack.stack_id,
                        &logical_id,
                        &name,
                        &value,
                    );
                    zeroize::Zeroize::zeroize(&mut value);
                    done.sealed_attributes.retain(|(n, _)| *n != name);
                    done.sealed_attributes.push((name, sealed?));
                }
                done.cleanup = created.cleanup;
                set_status(stack, done, complete, None, now);
                save(caller, stack).await?;
            }
            Err(reason) => {
                set_status(stack, pending, failed, Some(reason.clone()), now);
                save(caller, stack).await?;
                return Ok(Some((logical_id, reason)));
            }
        }
    }
    Ok(None)
}

/// A resource's definition as deployed: its type and its properties with intrinsic functions
/// evaluated against the stack as it is (dynamic references left as written, secret attributes
/// unresolved and NoEcho values as their placeholder with a [`definition_evaluator`], so no
/// secret is in it). A resource whose properties can't be evaluated yet (they name a resource not created)
/// has its definition as written.
pub(crate) fn resolved_definition(
    evaluator: &Evaluator<'_>,
    r: &Resource,
    stack: &Stack,
    exports: &[Export],
) -> String {
    let resolver = StackResolver {
        stack,
        dynamic: &[],
        secrets: None,
        exports,
    };
    match evaluator.resolve(&Value::Map(r.properties.clone()), &resolver) {
        Ok(v) => json!({
            "Type": r.resource_type,
            "Properties": v.map(|v| v.to_json()),
        })
        .to_string(),
        Err(_) => definition(r),
    }
}

/// Whether an update replaces the resource recorded with the definition `recorded` to give it
/// `definition` (as a change set's `Replacement` says).
pub fn replaces(resource_type: &str, recorded: &str, definition: &str) -> bool {
    matches!(
        updates::plan(
            resource_type,
            &updates::recorded_properties(recorded),
            &updates::recorded_properties(definition)
        ),
        updates::Plan::Replace(_)
    )
}

/// Deletes `resources` (newest first), honouring `DeletionPolicy: Retain` in `template`.
/// Returns the first failure.
async fn remove(
    caller: &Caller,
    stack: &mut Stack,
    resources: Vec<StackResource>,
    template: Option<&Template>,
    record: bool,
) -> Result<Option<Reason>, CfnError> {
    let mut failure = None;
    for r in resources.into_iter().rev() {
        let retain = template
            .and_then(|t| t.resource(&r.logical_id))
            .is_some_and(|d| d.deletion_policy == Some(DeletionPolicy::Retain));
        let now = caller.services.clock.now();
        if r.physical_id.is_none() || retain {
            if record {
                let status = if retain {
                    "DELETE_SKIPPED"
                } else {
                    "DELETE_COMPLETE"
                };
                set_status(stack, r, status, None, now);
            }
            continue;
        }
        if record {
            set_status(stack, r.clone(), "DELETE_IN_PROGRESS", None, now);
            save(caller, stack).await?;
        }
        let result = delete_resource(caller, &r).await;
        let now = caller.services.clock.now();
        match result {
            Ok(()) if record => set_status(stack, r, "DELETE_COMPLETE", None, now),
            Ok(()) => {}
            Err(reason) => {
                if record {
                    set_status(stack, r, "DELETE_FAILED", Some(reason.clone()), now);
                }
                failure.get_or_insert(reason);
            }
        }
        save(caller, stack).await?;
    }
    Ok(failure)
}

fn complete_change_set(stack: &mut Stack, status: &str) {
    for c in &mut stack.change_sets {
        if c.execution_status == "EXECUTE_IN_PROGRESS" {
            c.execution_status = status.into();
        }
    }
}

/// The stack's outputs, evaluated without its secrets: a NoEcho value reads as its placeholder,
/// and a secret attribute is not resolved (the record holds no secret in plaintext).
fn outputs(services: &Services, stack: &mut Stack, exports: &[Export]) {
    let Ok(template) = Template::parse(&stack.template_body) else {
        return;
    };
    let Ok(evaluator) = definition_evaluator(services, stack, &template, &stack.parameters.clone()) else {
        return;
    };
    let resolver = StackResolver {
        stack,
        dynamic: &[],
        secrets: None,
        exports,
    };
    if let Ok(resolved) = evaluator.outputs(&resolver) {
        stack.outputs = resolved
            .into_iter()
            .map(|o| StackOutput {
                key: o.logical_id,
                value: o.value,
                description: o.description,
                export_name: o.export_name,
            })
            .collect();
    }
}

/// The export names the stack's template imports, each checked against the exports of other
/// stacks, recorded in the stack (with those it had, while an update may still roll back to them)
/// under the exports lease. Returns the names and the exports, or the reason the operation fails.
async fn begin_imports(
    caller: &Caller,
    stack: &mut Stack,
    keep_old: bool,
) -> Result<Result<(Vec<String>, Vec<Export>), Reason>, CfnError> {
    let services = &caller.services;
    let lease = ExportsLease::take(services, &stack.account_id, &stack.region).await?;
    let checked = async {
        let all = exports::exports(services, &stack.account_id, &stack.region).await?;
        let names = match template_imports(services, stack) {
            Ok(names) => names,
            Err(reason) => return Ok(Err(reason)),
        };
        if let Some(name) = names
            .iter()
            .find(|n| !all.iter().any(|e| e.name == **n && e.stack_id != stack.stack_id))
        {
            return Ok(Err(missing_export(name)));
        }
        let mut recorded = if keep_old {
            stack.imports.clone()
        } else {
            Vec::new()
        };
        for n in &names {
            if !recorded.contains(n) {
                recorded.push(n.clone());
            }
        }
        if recorded != stack.imports {
            stack.imports = recorded;
            save(caller, stack).await?;
        }
        Ok::<_, CfnError>(Ok((names, all)))
    }
    .await;
    lease.release().await;
    checked
}

/// The export names the stack's template imports (see [`Evaluator::import_names`]).
fn template_imports(services: &Services, stack: &Stack) -> Result<Vec<String>, Reason> {
    let template = Template::parse(&stack.template_body).map_err(|e| e.message().to_owned())?;
    let evaluator =
        evaluator(services, stack, &template, &stack.parameters.clone()).map_err(|e| e.to_string())?;
    let resolver = StackResolver {
        stack,
        dynamic: &[],
        secrets: None,
        exports: &[],
    };
    evaluator
        .import_names(&resolver)
        .map_err(|e| e.message().to_owned())
}

/// Evaluates the stack's outputs and publishes them, with their exports, under the exports lease.
/// Returns why not (AWS's text) when another stack has one of its export names, or imports an
/// export of `old` that would go or change; the outputs are then left as they were.
async fn publish(
    caller: &Caller,
    stack: &mut Stack,
    exports: &[Export],
    old: &[StackOutput],
) -> Result<Option<String>, CfnError> {
    let services = &caller.services;
    let lease = ExportsLease::take(services, &stack.account_id, &stack.region).await?;
    let published = async {
        let kept = stack.outputs.clone();
        outputs(services, stack, exports);
        if let Some(reason) = publish_refusal(services, stack, old, &stack.outputs).await? {
            stack.outputs = kept;
            return Ok(Some(reason));
        }
        save(caller, stack).await?;
        Ok(None)
    }
    .await;
    lease.release().await;
    published
}

/// Gives up the stack's exports before it is deleted, under the exports lease; AWS's reason when
/// another stack imports one (the stack ends `DELETE_FAILED` with nothing deleted, its status
/// reason `Delete canceled. Cannot delete export X as it is in use by Y`, as AWS re:Post quotes
/// it).
async fn give_up_exports(caller: &Caller, stack: &mut Stack) -> Result<Option<String>, CfnError> {
    if stack.outputs.iter().all(|o| o.export_name.is_none()) {
        return Ok(None);
    }
    let services = &caller.services;
    let lease = ExportsLease::take(services, &stack.account_id, &stack.region).await?;
    let given = async {
        for o in &stack.outputs {
            let Some(name) = &o.export_name else { continue };
            let users = importers(
                services,
                &stack.account_id,
                &stack.region,
                name,
                Some(&stack.stack_id),
            )
            .await?;
            if !users.is_empty() {
                return Ok(Some(format!(
                    "Delete canceled. Cannot delete export {name} as it is in use by {}",
                    users.join(", ")
                )));
            }
        }
        stack.outputs.retain(|o| o.export_name.is_none());
        save(caller, stack).await?;
        Ok(None)
    }
    .await;
    lease.release().await;
    given
}

async fn create(caller: &Caller, stack: &mut Stack) -> Result<(), CfnError> {
    let exports = match begin_imports(caller, stack, false).await? {
        Ok((_, exports)) => exports,
        Err(reason) => return fail_create(caller, stack, &reason).await,
    };
    let mut replaced = Vec::new();
    let failure = Box::pin(deploy(caller, stack, false, &mut replaced, &exports)).await?;
    match failure {
        None => {
            if let Some(reason) = publish(caller, stack, &exports, &[]).await? {
                return fail_create(caller, stack, &reason).await;
            }
            complete_change_set(stack, "EXECUTE_COMPLETE");
            let now = caller.services.clock.now();
            set_stack_status(stack, "CREATE_COMPLETE", None, now);
        }
        Some((logical_id, _)) => {
            let reason = format!("The following resource(s) failed to create: [{logical_id}]");
            return fail_create(caller, stack, &reason).await;
        }
    }
    save(caller, stack).await
}

/// Ends a create that failed for `reason` (a sentence without its full stop): `CREATE_FAILED`
/// with rollback disabled, else rolled back, as AWS words it (`REASON. Rollback requested by
/// user.`).
async fn fail_create(caller: &Caller, stack: &mut Stack, reason: &str) -> Result<(), CfnError> {
    let now = caller.services.clock.now();
    complete_change_set(stack, "EXECUTE_FAILED");
    if stack.disable_rollback {
        set_stack_status(stack, "CREATE_FAILED", Some(&format!("{reason}. ")), now);
    } else {
        let reason = format!("{reason}. Rollback requested by user.");
        set_stack_status(stack, "ROLLBACK_IN_PROGRESS", Some(&reason), now);
        save(caller, stack).await?;
        roll_back_create(caller, stack).await?;
    }
    save(caller, stack).await
}

/// A create's rollback (the stack is `ROLLBACK_IN_PROGRESS`): deletes what was created.
async fn roll_back_create(caller: &Caller, stack: &mut Stack) -> Result<(), CfnError> {
    let created: Vec<StackResource> = stack
        .resources
        .iter()
        .filter(|r| r.physical_id.is_some() && r.status != "DELETE_COMPLETE")
        .cloned()
        .collect();
    let failed = remove(caller, stack, created, None, true).await?;
    let now = caller.services.clock.now();
    // A stack rolled back holds nothing: it imports nothing.
    stack.imports.clear();
    match failed {
        None => set_stack_status(stack, "ROLLBACK_COMPLETE", None, now),
        Some(_) => set_stack_status(stack, "ROLLBACK_FAILED", None, now),
    }
    Ok(())
}

/// An update's rollback (the stack is `UPDATE_ROLLBACK_IN_PROGRESS`): what the update created
/// is deleted, what it changed in place is changed back to `previous`'s properties, and the
/// previous deployment (template, parameters, resources, outputs, imports) restored.
async fn roll_back_update(caller: &Caller, stack: &mut Stack, previous: &Stack) -> Result<(), CfnError> {
    let created: Vec<StackResource> = stack
        .resources
        .iter()
        .filter(|r| {
            r.physical_id.is_some()
                && previous.resource(&r.logical_id).map(|b| &b.physical_id) != Some(&r.physical_id)
        })
        .cloned()
        .collect();
    remove(caller, stack, created, None, false).await?;
    let failed = restore_in_place(caller, stack, previous).await?;
    let events = std::mem::take(&mut stack.events);
    let change_sets = std::mem::take(&mut stack.change_sets);
    let revision = stack.revision;
    let operation = stack.operation.take();
    *stack = Stack {
        events,
        change_sets,
        revision,
        operation,
        ..previous.clone()
    };
    let now = caller.services.clock.now();
    if failed {
        set_stack_status(stack, "UPDATE_ROLLBACK_FAILED", None, now);
    } else {
        set_stack_status(stack, "UPDATE_ROLLBACK_COMPLETE", None, now);
    }
    Ok(())
}

/// Changes the resources an update changed in place back to their properties in `previous`
/// (evaluated from its template and parameters, dynamic references read again as the caller).
/// Returns whether one could not be.
async fn restore_in_place(caller: &Caller, stack: &mut Stack, previous: &Stack) -> Result<bool, CfnError> {
    let changed: Vec<StackResource> = stack
        .resources
        .iter()
        .filter(|r| {
            r.physical_id.is_some()
                && previous
                    .resource(&r.logical_id)
                    .is_some_and(|b| b.physical_id == r.physical_id && b.properties != r.properties)
        })
        .cloned()
        .collect();
    if changed.is_empty() {
        return Ok(false);
    }
    let services = &caller.services;
    let template = Template::parse(&previous.template_body)?;
    let evaluator = evaluator(services, previous, &template, &previous.parameters)?;
    let all = exports::exports(services, &previous.account_id, &previous.region).await?;
    let dynamic = dynamic_values(caller, &template).await;
    let mut failed = false;
    // Newest change first.
    for current in changed.into_iter().rev() {
        let (Some(r), Some(target)) = (
            template.resource(&current.logical_id),
            previous.resource(&current.logical_id),
        ) else {
            continue;
        };
        let now = services.clock.now();
        set_status(stack, current.clone(), "UPDATE_IN_PROGRESS", None, now);
        save(caller, stack).await?;
        let properties = match &dynamic {
            Ok(dynamic) => {
                let resolver = StackResolver {
                    stack: previous,
                    dynamic,
                    secrets: Some(services),
                    exports: &all,
                };
                evaluator
                    .resolve_properties(r, &resolver)
                    .map_err(|e| e.message().to_owned())
            }
            Err((_, reason)) => Err(reason.clone()),
        };
        let before = updates::recorded_properties(&current.properties);
        let after = updates::recorded_properties(&target.properties);
        let keys = updates::changed_properties(&before, &after);
        let result = match properties {
            Ok(p) => Box::pin(updates::apply(caller, previous, &current, r, &p, &before, &keys)).await,
            Err(reason) => Err(reason),
        };
        let now = services.clock.now();
        match result {
            Ok(_) => set_status(stack, target.clone(), "UPDATE_COMPLETE", None, now),
            Err(reason) => {
                failed = true;
                set_status(stack, current, "UPDATE_FAILED", Some(reason), now);
            }
        }
        save(caller, stack).await?;
    }
    Ok(failed)
}

/// The status reason of an operation another node took over.
// [unverified wording] AWS has no such case; it says what happened in CloudFormation's manner.
const INTERRUPTED: &str = "Stack operation was interrupted: the server running it stopped.";

/// The status reason of a resource whose handler call was under way when its node stopped.
// [unverified wording]
const RESOURCE_INTERRUPTED: &str = "Resource handler was interrupted: the server running it stopped; the resource may exist outside the stack.";

/// Ends an operation whose node is gone, from the stack's stored state: a create or update is
/// rolled back, a rollback or delete finished (see the module's documentation).
async fn take_over(caller: &Caller, stack_id: &str) -> Result<(), CfnError> {
    let services = &caller.services;
    let Some(mut stack) = services.store.stack(stack_id).await? else {
        return Ok(());
    };
    let stack = &mut stack;
    if is_stable(&stack.status) {
        return Ok(());
    }
    let now = services.clock.now();
    let interrupted: Vec<StackResource> = stack
        .resources
        .iter()
        .filter(|r| r.status.ends_with("_IN_PROGRESS"))
        .cloned()
        .collect();
    for r in interrupted {
        let failed = match r.status.as_str() {
            "CREATE_IN_PROGRESS" => "CREATE_FAILED",
            "UPDATE_IN_PROGRESS" => "UPDATE_FAILED",
            _ => "DELETE_FAILED",
        };
        set_status(stack, r, failed, Some(RESOURCE_INTERRUPTED.into()), now);
    }
    match stack.status.as_str() {
        "CREATE_IN_PROGRESS" if stack.disable_rollback => {
            complete_change_set(stack, "EXECUTE_FAILED");
            set_stack_status(stack, "CREATE_FAILED", Some(INTERRUPTED), now);
        }
        "CREATE_IN_PROGRESS" | "ROLLBACK_IN_PROGRESS" => {
            complete_change_set(stack, "EXECUTE_FAILED");
            if stack.status == "CREATE_IN_PROGRESS" {
                let reason = format!("{INTERRUPTED} Rollback requested.");
                set_stack_status(stack, "ROLLBACK_IN_PROGRESS", Some(&reason), now);
            }
            save(caller, stack).await?;
            roll_back_create(caller, stack).await?;
        }
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" => {
            // The update succeeded (its outputs are published): what the template no longer
            // has goes (replaced resources whose old physical id was not recorded yet are left).
            let template = Template::parse(&stack.template_body)?;
            let evaluator = evaluator(services, stack, &template, &stack.parameters.clone())?;
            let gone: Vec<StackResource> = stack
                .resources
                .iter()
                .filter(|r| r.physical_id.is_some() && !evaluator.is_active(&r.logical_id))
                .cloned()
                .collect();
            let prior = stack
                .operation
                .as_ref()
                .and_then(|o| o.previous.as_ref())
                .and_then(|p| Template::parse(&p.template_body).ok());
            remove(caller, stack, gone.clone(), prior.as_ref(), true).await?;
            stack
                .resources
                .retain(|r| !gone.iter().any(|g| g.logical_id == r.logical_id));
            if let Ok(names) = template_imports(services, stack) {
                stack.imports = names;
            }
            complete_change_set(stack, "EXECUTE_COMPLETE");
            let now = services.clock.now();
            set_stack_status(stack, "UPDATE_COMPLETE", None, now);
        }
        "UPDATE_IN_PROGRESS" | "UPDATE_ROLLBACK_IN_PROGRESS" => {
            complete_change_set(stack, "EXECUTE_FAILED");
            if stack.status == "UPDATE_IN_PROGRESS" {
                set_stack_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", Some(INTERRUPTED), now);
            }
            save(caller, stack).await?;
            let previous = stack
                .operation
                .as_ref()
                .and_then(|o| o.previous.clone())
                .ok_or_else(|| CfnError::Internal("an update without its previous deployment".into()))?;
            roll_back_update(caller, stack, &previous).await?;
        }
        "DELETE_IN_PROGRESS" => return delete(caller, stack).await,
        other => {
            tracing::error!(stack_id = %stack_id, status = %other, "no way to take this stack's operation over");
            return Ok(());
        }
    }
    save(caller, stack).await
}

async fn update(caller: &Caller, stack: &mut Stack) -> Result<(), CfnError> {
    let previous = stack
        .operation
        .as_ref()
        .and_then(|o| o.previous.clone())
        .ok_or_else(|| CfnError::Internal("an update without its previous deployment".into()))?;
    let (names, exports) = match begin_imports(caller, stack, true).await? {
        Ok(checked) => checked,
        Err(reason) => return fail_update(caller, stack, &previous, &reason).await,
    };
    let template = Template::parse(&stack.template_body)?;
    let evaluator = evaluator(&caller.services, stack, &template, &stack.parameters.clone())?;
    let mut replaced = Vec::new();
    let failure = Box::pin(deploy(caller, stack, true, &mut replaced, &exports)).await?;
    if let Some((logical_id, _)) = failure {
        let reason = format!("The following resource(s) failed to update: [{logical_id}]. ");
        return fail_update(caller, stack, &previous, &reason).await;
    }
    if let Some(reason) = publish(caller, stack, &exports, &previous.outputs).await? {
        return fail_update(caller, stack, &previous, &reason).await;
    }
    let now = caller.services.clock.now();
    set_stack_status(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None, now);
    save(caller, stack).await?;
    // The replaced resources and those the template no longer has go.
    let gone: Vec<StackResource> = previous
        .resources
        .iter()
        .filter(|r| r.physical_id.is_some() && !evaluator.is_active(&r.logical_id))
        .cloned()
        .collect();
    remove(caller, stack, replaced, None, false).await?;
    let prior = Template::parse(&previous.template_body).ok();
    remove(caller, stack, gone.clone(), prior.as_ref(), true).await?;
    stack
        .resources
        .retain(|r| !gone.iter().any(|g| g.logical_id == r.logical_id));
    stack.imports = names;
    complete_change_set(stack, "EXECUTE_COMPLETE");
    let now = caller.services.clock.now();
    set_stack_status(stack, "UPDATE_COMPLETE", None, now);
    save(caller, stack).await
}

/// Ends an update that failed for `reason`: rolled back to `previous`.
async fn fail_update(
    caller: &Caller,
    stack: &mut Stack,
    previous: &Stack,
    reason: &str,
) -> Result<(), CfnError> {
    complete_change_set(stack, "EXECUTE_FAILED");
    let now = caller.services.clock.now();
    set_stack_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", Some(reason), now);
    save(caller, stack).await?;
    roll_back_update(caller, stack, previous).await?;
    save(caller, stack).await
}

async fn delete(caller: &Caller, stack: &mut Stack) -> Result<(), CfnError> {
    if let Some(reason) = give_up_exports(caller, stack).await? {
        let now = caller.services.clock.now();
        set_stack_status(stack, "DELETE_FAILED", Some(&reason), now);
        return save(caller, stack).await;
    }
    let template = Template::parse(&stack.template_body).ok();
    // Deletion order: the reverse of creation order, which is the order resources were recorded.
    let order: Vec<String> = match &template {
        Some(t) => match (
            t.validate(),
            evaluator(&caller.services, stack, t, &stack.parameters.clone()),
        ) {
            (Ok(graph), Ok(ev)) => ev.creation_order(&graph).unwrap_or_default(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    let mut resources: Vec<StackResource> = order
        .iter()
        .filter_map(|id| stack.resource(id).cloned())
        .collect();
    for r in &stack.resources {
        if !order.contains(&r.logical_id) {
            resources.push(r.clone());
        }
    }
    // Those a delete taken over from another node deleted already.
    resources.retain(|r| r.status != "DELETE_COMPLETE" && r.status != "DELETE_SKIPPED");
    let failed = remove(caller, stack, resources, template.as_ref(), true).await?;
    let now = caller.services.clock.now();
    match failed {
        None => {
            set_stack_status(stack, "DELETE_COMPLETE", None, now);
            stack.deletion_time = Some(now);
        }
        Some(_) => {
            let names: Vec<&str> = stack
                .resources
                .iter()
                .filter(|r| r.status == "DELETE_FAILED")
                .map(|r| r.logical_id.as_str())
                .collect();
            let reason = format!(
                "The following resource(s) failed to delete: [{}]. ",
                names.join(", ")
            );
            set_stack_status(stack, "DELETE_FAILED", Some(&reason), now);
        }
    }
    save(caller, stack).await
}

// --- resource handlers ---

/// A created resource.
struct Created {
    physical_id: String,
    attributes: Vec<(String, String)>,
    cleanup: Vec<String>,
}

fn text(p: &Map, key: &str) -> Option<String> {
    p.get(key).and_then(Value::scalar_text)
}

/// A policy document property: a JSON object, or its text.
fn document(p: &Map, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) => Some(s.clone()),
        v => Some(v.to_json().to_string()),
    }
}

fn list(p: &Map, key: &str) -> Vec<String> {
    p.get(key)
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(Value::scalar_text).collect())
        .unwrap_or_default()
}

fn maps<'p>(p: &'p Map, key: &str) -> Vec<&'p Map> {
    p.get(key)
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(Value::as_map).collect())
        .unwrap_or_default()
}

fn missing(key: &str) -> Reason {
    format!("Properties validation failed for resource with message: #: required key [{key}] not found")
}

/// The name AWS gives a resource the template doesn't name.
fn generated_name(stack: &Stack, logical_id: &str, max_len: usize) -> String {
    let bytes: [u8; 64] = rand::random();
    let suffix = random_suffix(bytes).unwrap_or_else(|| "KINKO".into());
    physical_name(&stack.name, logical_id, &suffix, max_len)
}

fn tags_json(p: &Map, key_name: &str, value_name: &str) -> serde_json::Value {
    serde_json::Value::Array(
        maps(p, "Tags")
            .into_iter()
            .map(|t| json!({key_name: text(t, "Key"), value_name: text(t, "Value")}))
            .collect(),
    )
}

async fn create_resource(caller: &Caller, stack: &Stack, r: &Resource, p: &Map) -> Result<Created, Reason> {
    let id = r.logical_id.as_str();
    match r.resource_type.as_str() {
        "AWS::IAM::Role" => create_role(caller, stack, id, p).await,
        "AWS::IAM::User" => create_user(caller, stack, id, p).await,
        "AWS::IAM::AccessKey" => create_access_key(caller, p).await,
        "AWS::IAM::Policy" => create_policy(caller, stack, id, p).await,
        "AWS::IAM::ManagedPolicy" => create_managed_policy(caller, stack, id, p).await,
        "AWS::IAM::Group" => create_group(caller, stack, id, p).await,
        "AWS::IAM::UserToGroupAddition" => create_user_to_group_addition(caller, stack, id, p).await,
        "AWS::IAM::InstanceProfile" => create_instance_profile(caller, stack, id, p).await,
        "AWS::Lambda::Function" => create_function(caller, stack, id, p).await,
        "AWS::Lambda::Permission" => create_permission(caller, stack, id, p).await,
        "AWS::SecretsManager::Secret" => create_secret(caller, stack, id, p).await,
        "AWS::SecretsManager::ResourcePolicy" => {
            let secret = text(p, "SecretId").ok_or_else(|| missing("SecretId"))?;
            let policy = document(p, "ResourcePolicy").ok_or_else(|| missing("ResourcePolicy"))?;
            let mut body = json!({"SecretId": secret, "ResourcePolicy": policy});
            if let Some(b) = text(p, "BlockPublicPolicy") {
                body["BlockPublicPolicy"] = json!(b == "true");
            }
            let answer = caller
                .json(ServiceName::SecretsManager, "PutResourcePolicy", body)
                .await?;
            let arn = answer["ARN"].as_str().unwrap_or(&secret).to_owned();
            Ok(Created {
                physical_id: arn.clone(),
                attributes: vec![("Id".into(), arn)],
                cleanup: Vec::new(),
            })
        }
        "AWS::SecretsManager::RotationSchedule" => create_rotation_schedule(caller, stack, id, p).await,
        "AWS::SecretsManager::SecretTargetAttachment" => create_secret_target_attachment(p),
        "AWS::KMS::Key" => {
            let mut body = json!({"Tags": tags_json(p, "TagKey", "TagValue")});
            for (from, to) in [
                ("Description", "Description"),
                ("KeyUsage", "KeyUsage"),
                ("KeySpec", "KeySpec"),
            ] {
                if let Some(v) = text(p, from) {
                    body[to] = json!(v);
                }
            }
            if let Some(policy) = document(p, "KeyPolicy") {
                body["Policy"] = json!(policy);
            }
            let answer = caller.json(ServiceName::Kms, "CreateKey", body).await?;
            let key_id = answer["KeyMetadata"]["KeyId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let arn = answer["KeyMetadata"]["Arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let window = text(p, "PendingWindowInDays").unwrap_or_else(|| "30".into());
            if text(p, "EnableKeyRotation").as_deref() == Some("true") {
                caller
                    .json(ServiceName::Kms, "EnableKeyRotation", json!({"KeyId": key_id}))
                    .await?;
            }
            if text(p, "Enabled").as_deref() == Some("false") {
                caller
                    .json(ServiceName::Kms, "DisableKey", json!({"KeyId": key_id}))
                    .await?;
            }
            Ok(Created {
                physical_id: key_id.clone(),
                attributes: vec![("Arn".into(), arn), ("KeyId".into(), key_id)],
                cleanup: vec![window],
            })
        }
        "AWS::KMS::Alias" => {
            let name = text(p, "AliasName").ok_or_else(|| missing("AliasName"))?;
            let target = text(p, "TargetKeyId").ok_or_else(|| missing("TargetKeyId"))?;
            caller
                .json(
                    ServiceName::Kms,
                    "CreateAlias",
                    json!({"AliasName": name, "TargetKeyId": target}),
                )
                .await?;
            Ok(Created {
                physical_id: name,
                attributes: Vec::new(),
                cleanup: Vec::new(),
            })
        }
        other => Err(format!("Resource type {other} is not supported")),
    }
}

/// Puts the inline `Policies` and attaches the `ManagedPolicyArns` of a role or user.
async fn attach_policies(
    caller: &Caller,
    kind: &str,
    name: &str,
    p: &Map,
    cleanup: &mut Vec<String>,
) -> Result<(), Reason> {
    let name_key = format!("{kind}Name");
    for policy in maps(p, "Policies") {
        let policy_name = text(policy, "PolicyName").ok_or_else(|| missing("PolicyName"))?;
        let doc = document(policy, "PolicyDocument").ok_or_else(|| missing("PolicyDocument"))?;
        caller
            .query(
                ServiceName::Iam,
                &format!("Put{kind}Policy"),
                &[
                    (&name_key, name),
                    ("PolicyName", &policy_name),
                    ("PolicyDocument", &doc),
                ],
            )
            .await?;
        cleanup.push(format!("inline:{policy_name}"));
    }
    for arn in list(p, "ManagedPolicyArns") {
        caller
            .query(
                ServiceName::Iam,
                &format!("Attach{kind}Policy"),
                &[(&name_key, name), ("PolicyArn", &arn)],
            )
            .await?;
        cleanup.push(format!("managed:{arn}"));
    }
    Ok(())
}

async fn create_role(caller: &Caller, stack: &Stack, id: &str, p: &Map) -> Result<Created, Reason> {
    let name = text(p, "RoleName").unwrap_or_else(|| generated_name(stack, id, 64));
    let trust = document(p, "AssumeRolePolicyDocument").ok_or_else(|| missing("AssumeRolePolicyDocument"))?;
    let mut params: Vec<(&str, String)> =
        vec![("RoleName", name.clone()), ("AssumeRolePolicyDocument", trust)];
    for key in ["Path", "Description", "MaxSessionDuration", "PermissionsBoundary"] {
        if let Some(v) = text(p, key) {
            params.push((key, v));
        }
    }
    params.extend(tag_params(p));
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = caller.query(ServiceName::Iam, "CreateRole", &refs).await?;
    let mut created = Created {
        physical_id: name.clone(),
        attributes: vec![
            ("Arn".into(), xml_text(&answer, "Arn").unwrap_or_default()),
            ("RoleId".into(), xml_text(&answer, "RoleId").unwrap_or_default()),
        ],
        cleanup: Vec::new(),
    };
    if let Err(e) = attach_policies(caller, "Role", &name, p, &mut created.cleanup).await {
        let _ = delete_principal(caller, "Role", &name, &created.cleanup).await;
        return Err(e);
    }
    Ok(created)
}

/// Query parameter names made at run time (tags): few and small, kept for the process's life.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The `Tags` property of a role or user as the query parameters of IAM's Create call.
fn tag_params(p: &Map) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    for (n, t) in maps(p, "Tags").into_iter().enumerate() {
        params.push((
            leak(format!("Tags.member.{}.Key", n + 1)),
            text(t, "Key").unwrap_or_default(),
        ));
        params.push((
            leak(format!("Tags.member.{}.Value", n + 1)),
            text(t, "Value").unwrap_or_default(),
        ));
    }
    params
}

/// The cleanup entry of a user's console password (`LoginProfile`), deleted before the user.
const LOGIN_PROFILE: &str = "login-profile";

/// Gives user `name` the console password of its `LoginProfile` property (`Password`,
/// `PasswordResetRequired`): CreateLoginProfile, or UpdateLoginProfile when `exists`. The
/// account's password policy applies, so a weak password fails the resource with IAM's message.
async fn put_login_profile(caller: &Caller, name: &str, profile: &Map, exists: bool) -> Result<(), Reason> {
    let password = Zeroizing::new(text(profile, "Password").ok_or_else(|| missing("Password"))?);
    let reset = text(profile, "PasswordResetRequired").unwrap_or_else(|| "false".into());
    let action = if exists {
        "UpdateLoginProfile"
    } else {
        "CreateLoginProfile"
    };
    caller
        .query(
            ServiceName::Iam,
            action,
            &[
                ("UserName", name),
                ("Password", password.as_str()),
                ("PasswordResetRequired", &reset),
            ],
        )
        .await
        .map(drop)
}

async fn create_user(caller: &Caller, stack: &Stack, id: &str, p: &Map) -> Result<Created, Reason> {
    let name = text(p, "UserName").unwrap_or_else(|| generated_name(stack, id, 64));
    let mut params: Vec<(&str, String)> = vec![("UserName", name.clone())];
    for key in ["Path", "PermissionsBoundary"] {
        if let Some(v) = text(p, key) {
            params.push((key, v));
        }
    }
    params.extend(tag_params(p));
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = caller.query(ServiceName::Iam, "CreateUser", &refs).await?;
    let mut created = Created {
        physical_id: name.clone(),
        attributes: vec![("Arn".into(), xml_text(&answer, "Arn").unwrap_or_default())],
        cleanup: Vec::new(),
    };
    let mut result = attach_policies(caller, "User", &name, p, &mut created.cleanup).await;
    if result.is_ok() {
        result = add_to_groups(caller, &name, &list(p, "Groups"), &mut created.cleanup).await;
    }
    if result.is_ok()
        && let Some(profile) = p.get("LoginProfile").and_then(Value::as_map)
    {
        result = put_login_profile(caller, &name, profile, false).await;
        if result.is_ok() {
            created.cleanup.push(LOGIN_PROFILE.into());
        }
    }
    if let Err(e) = result {
        let _ = delete_principal(caller, "User", &name, &created.cleanup).await;
        return Err(e);
    }
    Ok(created)
}

/// `AWS::IAM::AccessKey`: a key of `UserName`, `Inactive` when `Status` says so. `Ref` is its id,
/// `Fn::GetAtt SecretAccessKey` its secret (sealed in the stack record; see
/// [`SECRET_ATTRIBUTES`]). A change of `Serial` (or any property) creates a new key.
async fn create_access_key(caller: &Caller, p: &Map) -> Result<Created, Reason> {
    let user = text(p, "UserName").ok_or_else(|| missing("UserName"))?;
    let answer = Zeroizing::new(
        caller
            .query(ServiceName::Iam, "CreateAccessKey", &[("UserName", &user)])
            .await?,
    );
    let key_id = xml_text(&answer, "AccessKeyId").unwrap_or_default();
    let secret = xml_text(&answer, "SecretAccessKey").unwrap_or_default();
    if text(p, "Status").as_deref() == Some("Inactive") {
        let updated = caller
            .query(
                ServiceName::Iam,
                "UpdateAccessKey",
                &[
                    ("UserName", &user),
                    ("AccessKeyId", &key_id),
                    ("Status", "Inactive"),
                ],
            )
            .await;
        if let Err(e) = updated {
            let _ = caller
                .query(
                    ServiceName::Iam,
                    "DeleteAccessKey",
                    &[("UserName", &user), ("AccessKeyId", &key_id)],
                )
                .await;
            return Err(e);
        }
    }
    Ok(Created {
        physical_id: key_id,
        attributes: vec![("SecretAccessKey".into(), secret)],
        cleanup: vec![user],
    })
}

async fn create_policy(caller: &Caller, stack: &Stack, id: &str, p: &Map) -> Result<Created, Reason> {
    let name = text(p, "PolicyName").ok_or_else(|| missing("PolicyName"))?;
    let doc = document(p, "PolicyDocument").ok_or_else(|| missing("PolicyDocument"))?;
    Ok(Created {
        physical_id: generated_name(stack, id, 128),
        attributes: Vec::new(),
        cleanup: put_inline_policy(caller, &name, &doc, p).await?,
    })
}

/// `AWS::IAM::Policy`'s document put as inline policy `name` on each of its `Roles`, `Users` and
/// `Groups`. Returns the resource's cleanup: the policy name, then `Kind:target` per principal.
async fn put_inline_policy(caller: &Caller, name: &str, doc: &str, p: &Map) -> Result<Vec<String>, Reason> {
    let mut cleanup = vec![name.to_owned()];
    for (kind, key) in [("Role", "Roles"), ("User", "Users"), ("Group", "Groups")] {
        let name_key = format!("{kind}Name");
        for target in list(p, key) {
            caller
                .query(
                    ServiceName::Iam,
                    &format!("Put{kind}Policy"),
                    &[
                        (&name_key, &target),
                        ("PolicyName", name),
                        ("PolicyDocument", doc),
                    ],
                )
                .await?;
            cleanup.push(format!("{kind}:{target}"));
        }
    }
    Ok(cleanup)
}

async fn create_managed_policy(caller: &Caller, stack: &Stack, id: &str, p: &Map) -> Result<Created, Reason> {
    let name = text(p, "ManagedPolicyName").unwrap_or_else(|| generated_name(stack, id, 128));
    let doc = document(p, "PolicyDocument").ok_or_else(|| missing("PolicyDocument"))?;
    let mut params = vec![("PolicyName", name), ("PolicyDocument", doc)];
    for key in ["Path", "Description"] {
        if let Some(v) = text(p, key) {
            params.push((key, v));
        }
    }
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = caller.query(ServiceName::Iam, "CreatePolicy", &refs).await?;
    let arn = xml_text(&answer, "Arn").unwrap_or_default();
    let mut cleanup = Vec::new();
    for (kind, key) in [("Role", "Roles"), ("User", "Users"), ("Group", "Groups")] {
        for target in list(p, key) {
            let name_key = format!("{kind}Name");
            caller
                .query(
                    ServiceName::Iam,
                    &format!("Attach{kind}Policy"),
                    &[(&name_key, &target), ("PolicyArn", &arn)],
                )
                .await?;
            cleanup.push(format!("{kind}:{target}"));
        }
    }
    Ok(Created {
        physical_id: arn.clone(),
        attributes: vec![("PolicyArn".into(), arn)],
        cleanup,
    })
}

/// A deployment package of one file.
fn zip_of(name: &str, code: &str) -> Result<Vec<u8>, Reason> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, zip::write::SimpleFileOptions::default())
        .map_err(|e| e.to_string())?;
    zip.write_all(code.as_bytes()).map_err(|e| e.to_string())?;
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

async fn create_function(caller: &Caller, stack: &Stack, id: &str, p: &Map) -> Result<Created, Reason> {
    let name = text(p, "FunctionName").unwrap_or_else(|| generated_name(stack, id, 64));
    let runtime = text(p, "Runtime").unwrap_or_default();
    let code = p
        .get("Code")
        .and_then(Value::as_map)
        .ok_or_else(|| missing("Code"))?;
    let zip = match text(code, "ZipFile") {
        // Inline code is `index.js` for Node.js runtimes and `index.py` for Python (AWS::Lambda::Function Code).
        Some(source) if runtime.starts_with("nodejs") => zip_of("index.js", &source)?,
        Some(source) => zip_of("index.py", &source)?,
        // [unverified wording] kinko has no S3 to take a package from.
        None => return Err("Code must be given inline as ZipFile: kinko has no S3 buckets".into()),
    };
    let mut body = json!({
        "FunctionName": name,
        "Role": text(p, "Role").ok_or_else(|| missing("Role"))?,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
    });
    for key in ["Runtime", "Handler", "Description"] {
        if let Some(v) = text(p, key) {
            body[key] = json!(v);
        }
    }
    for key in ["Timeout", "MemorySize"] {
        if let Some(v) = text(p, key).and_then(|v| v.parse::<i64>().ok()) {
            body[key] = json!(v);
        }
    }
    if let Some(env) = p.get("Environment") {
        body["Environment"] = env.to_json();
    }
    if let Some(tags) = p.get("Tags").and_then(Value::as_list) {
        let mut out = serde_json::Map::new();
        for t in tags.iter().filter_map(Value::as_map) {
            out.insert(
                text(t, "Key").unwrap_or_default(),
                json!(text(t, "Value").unwrap_or_default()),
            );
        }
        body["Tags"] = serde_json::Value::Object(out);
    }
    let answer = caller.lambda("POST", "/2015-03-31/functions", body).await?;
    Ok(Created {
        physical_id: name,
        attributes: vec![(
            "Arn".into(),
            answer["FunctionArn"].as_str().unwrap_or_default().to_owned(),
        )],
        cleanup: Vec::new(),
    })
}

async fn create_permission(caller: &Caller, stack: &Stack, id: &str, p: &Map) -> Result<Created, Reason> {
    let function = text(p, "FunctionName").ok_or_else(|| missing("FunctionName"))?;
    let statement = generated_name(stack, id, 100);
    let mut body = json!({"StatementId": statement});
    for key in [
        "Action",
        "Principal",
        "SourceArn",
        "SourceAccount",
        "PrincipalOrgID",
    ] {
        if let Some(v) = text(p, key) {
            body[key] = json!(v);
        }
    }
    let path = format!(
        "/2015-03-31/functions/{}/policy",
        percent_encoding::utf8_percent_encode(&function, percent_encoding::NON_ALPHANUMERIC)
    );
    caller.lambda("POST", &path, body).await?;
    Ok(Created {
        physical_id: statement,
        attributes: Vec::new(),
        cleanup: vec![function],
    })
}

async fn create_secret(caller: &Caller, stack: &Stack, id: &str, p: &Map) -> Result<Created, Reason> {
    let name = text(p, "Name").unwrap_or_else(|| generated_name(stack, id, 512));
    let mut body = json!({"Name": name, "Tags": tags_json(p, "Key", "Value")});
    for key in ["Description", "KmsKeyId"] {
        if let Some(v) = text(p, key) {
            body[key] = json!(v);
        }
    }
    let value: Option<Zeroizing<String>> = match (
        text(p, "SecretString"),
        p.get("GenerateSecretString").and_then(Value::as_map),
    ) {
        (Some(s), None) => Some(Zeroizing::new(s)),
        (None, Some(g)) => Some(generate(caller, g).await?),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err("Properties validation failed for resource with message: #: only 1 subschema matches out of 2".into());
        }
    };
    if let Some(v) = &value {
        body["SecretString"] = json!(v.as_str());
        // What the SDKs fill in; the API requires it with a value.
        body["ClientRequestToken"] = json!(uuid::Uuid::new_v4().to_string());
    }
    let answer = caller
        .json(ServiceName::SecretsManager, "CreateSecret", body)
        .await?;
    let arn = answer["ARN"].as_str().unwrap_or_default().to_owned();
    Ok(Created {
        physical_id: arn.clone(),
        attributes: vec![("Id".into(), arn)],
        cleanup: Vec::new(),
    })
}

/// `GenerateSecretString`: a password from `GetRandomPassword`, alone or as `GenerateStringKey`
/// in the JSON object `SecretStringTemplate`.
async fn generate(caller: &Caller, g: &Map) -> Result<Zeroizing<String>, Reason> {
    let mut body = json!({});
    if let Some(n) = text(g, "PasswordLength").and_then(|n| n.parse::<i64>().ok()) {
        body["PasswordLength"] = json!(n);
    }
    if let Some(x) = text(g, "ExcludeCharacters") {
        body["ExcludeCharacters"] = json!(x);
    }
    for key in [
        "ExcludeNumbers",
        "ExcludePunctuation",
        "ExcludeUppercase",
        "ExcludeLowercase",
        "IncludeSpace",
        "RequireEachIncludedType",
    ] {
        if let Some(v) = text(g, key) {
            body[key] = json!(v == "true");
        }
    }
    let answer = caller
        .json(ServiceName::SecretsManager, "GetRandomPassword", body)
        .await?;
    let password = Zeroizing::new(answer["RandomPassword"].as_str().unwrap_or_default().to_owned());
    match (text(g, "SecretStringTemplate"), text(g, "GenerateStringKey")) {
        (Some(template), Some(key)) => {
            let mut object: serde_json::Value = serde_json::from_str(&template)
                .map_err(|_| "SecretStringTemplate must be a JSON object".to_owned())?;
            let Some(map) = object.as_object_mut() else {
                return Err("SecretStringTemplate must be a JSON object".into());
            };
            map.insert(key, json!(password.as_str()));
            Ok(Zeroizing::new(object.to_string()))
        }
        (None, None) => Ok(password),
        _ => Err("SecretStringTemplate and GenerateStringKey must be given together".into()),
    }
}

/// Removes a role's or user's policies, groups and console password, then the principal.
async fn delete_principal(caller: &Caller, kind: &str, name: &str, cleanup: &[String]) -> Result<(), Reason> {
    let name_key = format!("{kind}Name");
    for c in cleanup {
        if c == LOGIN_PROFILE {
            ignore_missing(
                caller
                    .query(ServiceName::Iam, "DeleteLoginProfile", &[("UserName", name)])
                    .await,
            )?;
        } else if let Some(policy) = c.strip_prefix("inline:") {
            ignore_missing(
                caller
                    .query(
                        ServiceName::Iam,
                        &format!("Delete{kind}Policy"),
                        &[(&name_key, name), ("PolicyName", policy)],
                    )
                    .await,
            )?;
        } else if let Some(group) = c.strip_prefix("group:") {
            ignore_missing(
                caller
                    .query(
                        ServiceName::Iam,
                        "RemoveUserFromGroup",
                        &[("GroupName", group), ("UserName", name)],
                    )
                    .await,
            )?;
        } else if let Some(arn) = c.strip_prefix("managed:") {
            ignore_missing(
                caller
                    .query(
                        ServiceName::Iam,
                        &format!("Detach{kind}Policy"),
                        &[(&name_key, name), ("PolicyArn", arn)],
                    )
                    .await,
            )?;
        }
    }
    ignore_missing(
        caller
            .query(ServiceName::Iam, &format!("Delete{kind}"), &[(&name_key, name)])
            .await,
    )
}

/// A deletion of something already gone succeeds, as CloudFormation's does.
fn ignore_missing<T>(result: Result<T, Reason>) -> Result<(), Reason> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.contains("HandlerErrorCode: NotFound") => Ok(()),
        Err(e) => Err(e),
    }
}

async fn delete_resource(caller: &Caller, r: &StackResource) -> Result<(), Reason> {
    let Some(id) = r.physical_id.as_deref() else {
        return Ok(());
    };
    match r.resource_type.as_str() {
        "AWS::IAM::Role" => delete_principal(caller, "Role", id, &r.cleanup).await,
        "AWS::IAM::User" => delete_principal(caller, "User", id, &r.cleanup).await,
        "AWS::IAM::Group" => delete_principal(caller, "Group", id, &r.cleanup).await,
        "AWS::IAM::UserToGroupAddition" => delete_user_to_group_addition(caller, &r.cleanup).await,
        "AWS::IAM::InstanceProfile" => delete_instance_profile(caller, id, &r.cleanup).await,
        "AWS::IAM::AccessKey" => {
            let user = r.cleanup.first().map(String::as_str).unwrap_or_default();
            ignore_missing(
                caller
                    .query(
                        ServiceName::Iam,
                        "DeleteAccessKey",
                        &[("UserName", user), ("AccessKeyId", id)],
                    )
                    .await,
            )
        }
        "AWS::IAM::Policy" => {
            let Some((name, targets)) = r.cleanup.split_first() else {
                return Ok(());
            };
            for t in targets {
                if let Some((kind, target)) = t.split_once(':') {
                    let name_key = format!("{kind}Name");
                    ignore_missing(
                        caller
                            .query(
                                ServiceName::Iam,
                                &format!("Delete{kind}Policy"),
                                &[(&name_key, target), ("PolicyName", name)],
                            )
                            .await,
                    )?;
                }
            }
            Ok(())
        }
        "AWS::IAM::ManagedPolicy" => {
            for t in &r.cleanup {
                if let Some((kind, target)) = t.split_once(':') {
                    let name_key = format!("{kind}Name");
                    ignore_missing(
                        caller
                            .query(
                                ServiceName::Iam,
                                &format!("Detach{kind}Policy"),
                                &[(&name_key, target), ("PolicyArn", id)],
                            )
                            .await,
                    )?;
                }
            }
            ignore_missing(
                caller
                    .query(ServiceName::Iam, "DeletePolicy", &[("PolicyArn", id)])
                    .await,
            )
        }
        "AWS::Lambda::Function" => {
            let path = format!(
                "/2015-03-31/functions/{}",
                percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
            );
            ignore_missing(caller.lambda("DELETE", &path, serde_json::Value::Null).await)
        }
        "AWS::Lambda::Permission" => {
            let function = r.cleanup.first().map(String::as_str).unwrap_or_default();
            let path = format!(
                "/2015-03-31/functions/{}/policy/{}",
                percent_encoding::utf8_percent_encode(function, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
            );
            ignore_missing(caller.lambda("DELETE", &path, serde_json::Value::Null).await)
        }
        "AWS::SecretsManager::Secret" => ignore_missing(
            caller
                .json(
                    ServiceName::SecretsManager,
                    "DeleteSecret",
                    json!({"SecretId": id, "ForceDeleteWithoutRecovery": true}),
                )
                .await,
        ),
        "AWS::SecretsManager::ResourcePolicy" => ignore_missing(
            caller
                .json(
                    ServiceName::SecretsManager,
                    "DeleteResourcePolicy",
                    json!({"SecretId": id}),
                )
                .await,
        ),
        "AWS::SecretsManager::RotationSchedule" => delete_rotation_schedule(caller, id, &r.cleanup).await,
        "AWS::KMS::Key" => {
            let days = r
                .cleanup
                .first()
                .and_then(|d| d.parse::<i64>().ok())
                .unwrap_or(30);
            ignore_missing(
                caller
                    .json(
                        ServiceName::Kms,
                        "ScheduleKeyDeletion",
                        json!({"KeyId": id, "PendingWindowInDays": days}),
                    )
                    .await,
            )
        }
        "AWS::KMS::Alias" => ignore_missing(
            caller
                .json(ServiceName::Kms, "DeleteAlias", json!({"AliasName": id}))
                .await,
        ),
        _ => Ok(()),
    }
}
