//! AWS CloudFormation (Query protocol): stacks and change sets over the templates of
//! `kinko_cloudformation_template`, each action an operation of the one [`Operation`] contract,
//! authorized as `cloudformation:<Action>` on the stack's ARN.
//!
//! A stack's resources are created, updated and deleted by the [`engine`] in a background task,
//! through kinko's own API operations as the caller (no service role, no powers of its own).

mod engine;
mod error;
mod sealing;

use kinko_cloudformation_template::{Capability, Template, bind_parameters};
use kinko_core::stack::{ChangeSet, ResourceChange, Stack, StackEvent, StackParameter};
use kinko_wire::query::{Params, Xml, timestamp};

use crate::authz::{Check, Resource};
use crate::operation::{
    Authorization, Cx, FromRequest, Operation, Query, QueryReply, QueryService, Service, execute, finish,
};
use crate::{RequestContext, Services};

pub use engine::take_over_abandoned;
pub use error::CfnError;
pub use sealing::sealed_aad;

pub const XMLNS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
/// The API version CloudFormation speaks.
pub const VERSION: &str = "2010-05-15";

/// CloudFormation, as the one operation contract sees it.
pub struct CloudFormation;

impl Service for CloudFormation {
    const PREFIX: &'static str = "cloudformation";
    const EVENT_SOURCE: &'static str = "cloudformation.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        // Templates may be large and parameters may be NoEcho: CloudTrail leaves the body out,
        // and so does kinko, with the parameters.
        omitted: &["TemplateBody", "Parameters"],
        hidden: &[],
        verbatim: &[],
        numbers: &[],
        booleans: &["DisableRollback", "EnableTerminationProtection"],
    };
    type Protocol = Query;
    type Error = CfnError;
}

impl QueryService for CloudFormation {
    const XMLNS: &'static str = XMLNS;
}

/// Runs one CloudFormation action and returns the XML response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    params: &Params,
) -> Result<String, kinko_wire::WireError> {
    let Some(action) = params.action() else {
        return Err(CfnError::MissingAction.to_wire());
    };
    let result = match action {
        "ValidateTemplate" => execute::<ValidateTemplate>(services, rc, params).await,
        "GetTemplateSummary" => execute::<GetTemplateSummary>(services, rc, params).await,
        "CreateChangeSet" => execute::<CreateChangeSet>(services, rc, params).await,
        "DescribeChangeSet" => execute::<DescribeChangeSet>(services, rc, params).await,
        "ExecuteChangeSet" => execute::<ExecuteChangeSet>(services, rc, params).await,
        "DeleteChangeSet" => execute::<DeleteChangeSet>(services, rc, params).await,
        "ListChangeSets" => execute::<ListChangeSets>(services, rc, params).await,
        "CreateStack" => execute::<CreateStack>(services, rc, params).await,
        "UpdateStack" => execute::<UpdateStack>(services, rc, params).await,
        "DeleteStack" => execute::<DeleteStack>(services, rc, params).await,
        "DescribeStacks" => execute::<DescribeStacks>(services, rc, params).await,
        "ListStacks" => execute::<ListStacks>(services, rc, params).await,
        "DescribeStackResource" => execute::<DescribeStackResource>(services, rc, params).await,
        "DescribeStackResources" => execute::<DescribeStackResources>(services, rc, params).await,
        "ListStackResources" => execute::<ListStackResources>(services, rc, params).await,
        "DescribeStackEvents" => execute::<DescribeStackEvents>(services, rc, params).await,
        "GetTemplate" => execute::<GetTemplate>(services, rc, params).await,
        "ListExports" => execute::<ListExports>(services, rc, params).await,
        "ListImports" => execute::<ListImports>(services, rc, params).await,
        other => Err(CfnError::InvalidAction(format!(
            "Could not find operation {other} for version {VERSION}"
        ))),
    };
    finish(rc, action, result).map(|body| String::from_utf8(body).unwrap_or_default())
}

/// The input of every action: its parameters, read by the action.
pub(crate) struct In(Params);

impl FromRequest<CloudFormation> for In {
    fn from_request(params: &Params) -> Result<Self, CfnError> {
        Ok(In(params.clone()))
    }
}

impl In {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, CfnError> {
        self.get(name).ok_or_else(|| {
            CfnError::Validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What an action is about: the stack it names (if it exists) and the ARN it is authorized on.
pub(crate) struct Target {
    stack: Option<Stack>,
    /// The stack's ARN; for a stack that doesn't exist, `stack/NAME/*` as AWS authorizes
    /// `CreateStack`; `None` for actions on no stack (`ListStacks`, `ValidateTemplate`).
    arn: Option<String>,
    /// The stack as named (name or id).
    named: Option<String>,
}

impl Target {
    fn stack_name(&self) -> &str {
        self.named.as_deref().unwrap_or_default()
    }

    /// The stack, or AWS's `Stack with id X does not exist` (the text the CLI matches).
    fn existing(&self) -> Result<&Stack, CfnError> {
        self.stack.as_ref().ok_or_else(|| {
            CfnError::Validation(format!("Stack with id {} does not exist", self.stack_name()))
        })
    }
}

fn stack_arn_pattern(cx: &Cx<'_>, name: &str) -> String {
    format!(
        "arn:aws:cloudformation:{}:{}:stack/{name}/*",
        cx.region(),
        cx.account()
    )
}

/// The stack named by `name` (a name: the live stack of that name; an ARN: that stack, deleted
/// or not).
async fn find_stack(cx: &Cx<'_>, name: &str) -> Result<Option<Stack>, CfnError> {
    if name.starts_with("arn:") {
        let stack = cx.services.store.stack(name).await?;
        return Ok(stack.filter(|s| s.account_id == cx.account() && s.region == cx.region()));
    }
    let stacks = cx.services.store.list_stacks(cx.account(), cx.region()).await?;
    Ok(stacks
        .into_iter()
        .rev()
        .find(|s| s.name == name && !s.is_deleted()))
}

/// The stack holding the change set `id` (an ARN).
async fn find_change_set_stack(cx: &Cx<'_>, id: &str) -> Result<Option<Stack>, CfnError> {
    let stacks = cx.services.store.list_stacks(cx.account(), cx.region()).await?;
    Ok(stacks
        .into_iter()
        .find(|s| s.change_sets.iter().any(|c| c.id == id)))
}

/// Resolves the stack an action names by `StackName`, or by a change set ARN in `ChangeSetName`.
async fn target(cx: &Cx<'_>, input: &In, required: bool) -> Result<Target, CfnError> {
    let change_set = input.get("ChangeSetName").filter(|c| c.starts_with("arn:"));
    let named = match input.get("StackName") {
        Some(n) => Some(n.to_owned()),
        None if change_set.is_some() => None,
        None if required => {
            input.required("StackName")?;
            None
        }
        None => None,
    };
    let stack = match (&named, change_set) {
        (Some(n), _) => find_stack(cx, n).await?,
        (None, Some(cs)) => find_change_set_stack(cx, cs).await?,
        (None, None) => None,
    };
    let arn = match (&stack, &named) {
        (Some(s), _) => Some(s.stack_id.clone()),
        (None, Some(n)) if n.starts_with("arn:") => Some(n.clone()),
        (None, Some(n)) => Some(stack_arn_pattern(cx, n)),
        (None, None) => change_set.map(str::to_owned),
    };
    Ok(Target { stack, arn, named })
}

fn authorization<'a>(cx: &'a Cx<'_>, t: &'a Target) -> Authorization<'a> {
    let resource = match &t.arn {
        Some(arn) => Resource::of_arn(arn),
        None => Resource::Any,
    };
    Authorization::of(Check::new(cx.action, resource))
}

/// Defines an operation whose input is its parameters and whose target is the stack it names.
macro_rules! operation {
    ($ty:ident, $name:literal, stack_required: $required:expr, $run:path) => {
        pub(crate) struct $ty;

        impl Operation for $ty {
            type Service = CloudFormation;
            const NAME: &'static str = $name;
            type Input = In;
            type Output = QueryReply;
            type Resolved = Target;

            async fn resolve(cx: &Cx<'_>, input: &In) -> Result<Target, CfnError> {
                target(cx, input, $required).await
            }

            fn authorization<'a>(
                cx: &'a Cx<'_>,
                _: &'a In,
                t: &'a Target,
            ) -> Result<Authorization<'a>, CfnError> {
                Ok(authorization(cx, t))
            }

            async fn run(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
                $run(cx, input, t).await
            }
        }
    };
}

operation!(ValidateTemplate, "ValidateTemplate", stack_required: false, validate_template);
operation!(GetTemplateSummary, "GetTemplateSummary", stack_required: false, get_template_summary);
operation!(CreateChangeSet, "CreateChangeSet", stack_required: true, create_change_set);
operation!(DescribeChangeSet, "DescribeChangeSet", stack_required: false, describe_change_set);
operation!(ExecuteChangeSet, "ExecuteChangeSet", stack_required: false, execute_change_set);
operation!(DeleteChangeSet, "DeleteChangeSet", stack_required: false, delete_change_set);
operation!(ListChangeSets, "ListChangeSets", stack_required: true, list_change_sets);
operation!(CreateStack, "CreateStack", stack_required: true, create_stack);
operation!(UpdateStack, "UpdateStack", stack_required: true, update_stack);
operation!(DeleteStack, "DeleteStack", stack_required: true, delete_stack);
operation!(DescribeStacks, "DescribeStacks", stack_required: false, describe_stacks);
operation!(ListStacks, "ListStacks", stack_required: false, list_stacks);
operation!(DescribeStackResource, "DescribeStackResource", stack_required: true, describe_stack_resource);
operation!(DescribeStackResources, "DescribeStackResources", stack_required: true, describe_stack_resources);
operation!(ListStackResources, "ListStackResources", stack_required: true, list_stack_resources);
operation!(DescribeStackEvents, "DescribeStackEvents", stack_required: false, describe_stack_events);
operation!(GetTemplate, "GetTemplate", stack_required: false, get_template);
operation!(ListExports, "ListExports", stack_required: false, list_exports);
operation!(ListImports, "ListImports", stack_required: false, list_imports);

// --- templates ---

/// The template a request carries (`TemplateBody`; `TemplateURL` needs S3, which kinko has not).
fn template_body(input: &In) -> Result<&str, CfnError> {
    if input.get("TemplateURL").is_some() {
        // [unverified wording] kinko has no S3 to read a template from.
        return Err(CfnError::Validation(
            "TemplateURL is not supported: pass the template as TemplateBody.".into(),
        ));
    }
    input
        .get("TemplateBody")
        .ok_or_else(|| CfnError::Validation("Either Template URL or Template Body must be specified.".into()))
}

/// Parses and validates a template, and checks its resource types are ones the engine creates.
fn parse_template(
    body: &str,
) -> Result<(Template, Vec<kinko_cloudformation_template::Dependencies>), CfnError> {
    let template = Template::parse(body)?;
    let graph = template.validate()?;
    template.check_resource_types(&engine::supported_type)?;
    Ok((template, graph))
}

fn capabilities(input: &In) -> Vec<String> {
    input.0.list("Capabilities").unwrap_or_default()
}

fn check_capabilities(
    template: &Template,
    given: &[String],
    through_change_set: bool,
) -> Result<(), CfnError> {
    let mut acknowledged = Vec::new();
    for c in given {
        match Capability::parse(c) {
            Some(c) => acknowledged.push(c),
            None => {
                return Err(CfnError::Validation(format!(
                    "1 validation error detected: Value '[{c}]' at 'capabilities' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [CAPABILITY_AUTO_EXPAND, CAPABILITY_NAMED_IAM, CAPABILITY_IAM]]"
                )));
            }
        }
    }
    template.check_capabilities(&acknowledged, through_change_set)?;
    Ok(())
}

fn tags(input: &In) -> Vec<(String, String)> {
    input
        .0
        .struct_list("Tags")
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            (
                t.get("Key").cloned().unwrap_or_default(),
                t.get("Value").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// The parameter values of a request, bound to the template (defaults, constraints), with
/// `UsePreviousValue` taken from `previous`.
fn parameters(
    cx: &Cx<'_>,
    input: &In,
    template: &Template,
    previous: &Stack,
) -> Result<Vec<StackParameter>, CfnError> {
    let mut given = Vec::new();
    for p in input.0.struct_list("Parameters").unwrap_or_default() {
        let Some(key) = p.get("ParameterKey").cloned() else {
            continue;
        };
        if p.get("UsePreviousValue").is_some_and(|v| v == "true") {
            match previous.parameters.iter().find(|q| q.key == key) {
                Some(q) => {
                    let value = sealing::parameter_value(cx.services, &previous.stack_id, q)?;
                    given.push((key, value.to_string()));
                }
                None => {
                    // [unverified wording]
                    return Err(CfnError::Validation(format!(
                        "Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template"
                    )));
                }
            }
        } else if let Some(v) = p.get("ParameterValue") {
            given.push((key, v.clone()));
        }
    }
    let bound = bind_parameters(template, &given)?;
    Ok(bound
        .iter()
        .map(|(k, v)| StackParameter {
            key: k.to_owned(),
            value: v.to_owned(),
            no_echo: template.parameter(k).is_some_and(|p| p.no_echo),
            sealed: None,
        })
        .collect())
}

fn write_parameters_declared(x: &mut Xml, template: &Template) {
    x.open("Parameters");
    for p in &template.parameters {
        x.open("member")
            .elem("ParameterKey", &p.name)
            .opt("DefaultValue", p.default.as_deref())
            .elem("NoEcho", if p.no_echo { "true" } else { "false" })
            .opt("Description", p.description.as_deref());
        x.close("member");
    }
    x.close("Parameters");
}

fn write_capabilities(x: &mut Xml, template: &Template) {
    let required = template.required_capabilities();
    x.open("Capabilities");
    for c in &required.capabilities {
        x.elem("member", c.as_str());
    }
    x.close("Capabilities");
    x.opt("CapabilitiesReason", required.reason.as_deref());
}

async fn validate_template(cx: &Cx<'_>, input: &In, _: Target) -> Result<QueryReply, CfnError> {
    let template = Template::parse(template_body(input)?)?;
    template.validate()?;
    let mut x = cx.xml::<CloudFormation>();
    write_parameters_declared(&mut x, &template);
    x.opt("Description", template.description.as_deref());
    write_capabilities(&mut x, &template);
    x.open("DeclaredTransforms");
    for t in &template.transform {
        x.elem("member", t);
    }
    x.close("DeclaredTransforms");
    Ok(QueryReply::Result(x))
}

async fn get_template_summary(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let body = match (&t.named, input.get("TemplateBody")) {
        (Some(_), _) => t.existing()?.template_body.clone(),
        (None, _) => template_body(input)?.to_owned(),
    };
    let template = Template::parse(&body)?;
    template.validate()?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("Parameters");
    for p in &template.parameters {
        x.open("member")
            .elem("ParameterKey", &p.name)
            .opt("DefaultValue", p.default.as_deref())
            .elem("ParameterType", p.parameter_type.name())
            .elem("NoEcho", if p.no_echo { "true" } else { "false" })
            .opt("Description", p.description.as_deref());
        x.open("ParameterConstraints").open("AllowedValues");
        for v in p.allowed_values.iter().flatten() {
            x.elem("member", v);
        }
        x.close("AllowedValues").close("ParameterConstraints");
        x.close("member");
    }
    x.close("Parameters");
    x.opt("Description", template.description.as_deref());
    write_capabilities(&mut x, &template);
    x.open("ResourceTypes");
    let mut seen: Vec<&str> = Vec::new();
    for r in &template.resources {
        if !seen.contains(&r.resource_type.as_str()) {
            seen.push(&r.resource_type);
            x.elem("member", &r.resource_type);
        }
    }
    x.close("ResourceTypes");
    x.opt("Version", template.format_version.as_deref());
    x.open("DeclaredTransforms");
    for t in &template.transform {
        x.elem("member", t);
    }
    x.close("DeclaredTransforms");
    x.open("ResourceIdentifierSummaries")
        .close("ResourceIdentifierSummaries");
    Ok(QueryReply::Result(x))
}

// --- stacks and change sets ---

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A stack event about the stack itself.
pub(crate) fn stack_event(
    stack: &Stack,
    status: &str,
    reason: Option<&str>,
    now: kinko_core::Timestamp,
) -> StackEvent {
    StackEvent {
        event_id: uuid(),
        logical_id: stack.name.clone(),
        physical_id: Some(stack.stack_id.clone()),
        resource_type: "AWS::CloudFormation::Stack".into(),
        status: status.into(),
        status_reason: reason.map(str::to_owned),
        timestamp: now,
    }
}

fn new_stack(cx: &Cx<'_>, name: &str, body: &str) -> Stack {
    Stack {
        stack_id: format!(
            "arn:aws:cloudformation:{}:{}:stack/{name}/{}",
            cx.region(),
            cx.account(),
            uuid()
        ),
        name: name.to_owned(),
        account_id: cx.account().to_owned(),
        region: cx.region().to_owned(),
        status: "REVIEW_IN_PROGRESS".into(),
        status_reason: None,
        description: None,
        creation_time: cx.now(),
        last_updated_time: None,
        deletion_time: None,
        template_body: body.to_owned(),
        parameters: Vec::new(),
        capabilities: Vec::new(),
        tags: Vec::new(),
        resources: Vec::new(),
        events: Vec::new(),
        change_sets: Vec::new(),
        outputs: Vec::new(),
        disable_rollback: false,
        imports: Vec::new(),
        operation: None,
        revision: 0,
    }
}

fn valid_stack_name(name: &str) -> Result<(), CfnError> {
    let ok = name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(CfnError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )))
    }
}

/// The changes that take `stack` (as deployed) to `template` with `parameters`.
fn changes(
    services: &Services,
    stack: &Stack,
    template: &Template,
    parameters: &[StackParameter],
    exports: &[engine::Export],
) -> Result<Vec<ResourceChange>, CfnError> {
    let evaluator = engine::evaluator(services, stack, template, parameters)?;
    let recorder = engine::definition_evaluator(services, stack, template, parameters)?;
    let changed = engine::changed_no_echo(services, &stack.stack_id, &stack.parameters, parameters)?;
    let mut out = Vec::new();
    for r in evaluator.active_resources() {
        match stack.resource(&r.logical_id).filter(|d| d.physical_id.is_some()) {
            None => out.push(ResourceChange {
                action: "Add".into(),
                logical_id: r.logical_id.clone(),
                physical_id: None,
                resource_type: r.resource_type.clone(),
                replacement: None,
            }),
            Some(deployed) => {
                // Compared evaluated against the stack as deployed: a resource whose properties
                // name one being replaced is counted when the engine gets to it.
                let definition = engine::resolved_definition(&recorder, r, stack, exports);
                if !engine::unchanged(&deployed.properties, &definition, &changed) {
                    let replaces = engine::replaces(&r.resource_type, &deployed.properties, &definition);
                    out.push(ResourceChange {
                        action: "Modify".into(),
                        logical_id: r.logical_id.clone(),
                        physical_id: deployed.physical_id.clone(),
                        resource_type: r.resource_type.clone(),
                        replacement: Some(if replaces { "True" } else { "False" }.into()),
                    });
                }
            }
        }
    }
    for deployed in stack.resources.iter().filter(|d| d.physical_id.is_some()) {
        if !evaluator.is_active(&deployed.logical_id) || template.resource(&deployed.logical_id).is_none() {
            out.push(ResourceChange {
                action: "Remove".into(),
                logical_id: deployed.logical_id.clone(),
                physical_id: deployed.physical_id.clone(),
                resource_type: deployed.resource_type.clone(),
                replacement: None,
            });
        }
    }
    Ok(out)
}

/// Whether `template`'s Outputs differ from the deployed template's: an update that changes only
/// them (an export added or removed) is one to make, as on AWS.
fn outputs_changed(stack: &Stack, template: &Template) -> bool {
    Template::parse(&stack.template_body).map_or(true, |deployed| deployed.outputs != template.outputs)
}

async fn create_change_set(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let name = input.required("ChangeSetName")?.to_owned();
    let stack_name = t.stack_name().to_owned();
    let change_set_type = input.get("ChangeSetType").unwrap_or("UPDATE").to_owned();
    let body = template_body(input)?.to_owned();
    let (template, _) = parse_template(&body)?;
    let caps = capabilities(input);
    check_capabilities(&template, &caps, true)?;
    let missing = t.existing().err();
    let mut stack = match (t.stack, change_set_type.as_str()) {
        (Some(s), "CREATE") if s.status != "REVIEW_IN_PROGRESS" => {
            return Err(CfnError::AlreadyExists(format!(
                "Stack [{stack_name}] already exists"
            )));
        }
        (Some(s), _) if s.status == "REVIEW_IN_PROGRESS" && change_set_type == "UPDATE" => {
            return Err(CfnError::Validation(format!(
                "Stack:{} is in REVIEW_IN_PROGRESS state and can not be updated.",
                s.stack_id
            )));
        }
        (Some(s), "CREATE" | "UPDATE") => s,
        (None, "CREATE") => {
            valid_stack_name(&stack_name)?;
            let mut s = new_stack(cx, &stack_name, &body);
            let event = stack_event(&s, "REVIEW_IN_PROGRESS", Some("User Initiated"), cx.now());
            s.events.push(event);
            s
        }
        (None, "UPDATE") => return Err(missing.unwrap_or(CfnError::Conflict)),
        (_, other) => {
            return Err(CfnError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'changeSetType' failed to satisfy constraint: Member must satisfy enum value set: [IMPORT, UPDATE, CREATE]"
            )));
        }
    };
    if change_set_type == "UPDATE" && !engine::updatable(&stack.status) {
        return Err(CfnError::Validation(format!(
            "Stack:{} is in {} state and can not be updated.",
            stack.stack_id, stack.status
        )));
    }
    if stack.change_sets.iter().any(|c| c.name == name) {
        return Err(CfnError::AlreadyExists(format!(
            "ChangeSet {name} already exists"
        )));
    }
    let parameters = parameters(cx, input, &template, &stack)?;
    let exports = engine::exports(cx.services, cx.account(), cx.region()).await?;
    let changes = changes(cx.services, &stack, &template, &parameters, &exports)?;
    let empty = changes.is_empty() && change_set_type == "UPDATE" && !outputs_changed(&stack, &template);
    let id = format!(
        "arn:aws:cloudformation:{}:{}:changeSet/{name}/{}",
        cx.region(),
        cx.account(),
        uuid()
    );
    stack.change_sets.push(ChangeSet {
        id: id.clone(),
        name,
        change_set_type,
        // Change sets are computed when asked for: they are complete at once.
        status: if empty { "FAILED" } else { "CREATE_COMPLETE" }.into(),
        status_reason: empty.then(|| {
            "The submitted information didn't contain changes. Submit different information to create a change set."
                .to_owned()
        }),
        execution_status: if empty { "UNAVAILABLE" } else { "AVAILABLE" }.into(),
        creation_time: cx.now(),
        description: input.get("Description").map(str::to_owned),
        template_body: body,
        parameters,
        capabilities: caps,
        tags: tags(input),
        changes,
    });
    let stack_id = stack.stack_id.clone();
    sealing::seal_parameters(cx.services, &mut stack)?;
    cx.services.store.write_stack(stack).await?;
    let mut x = cx.xml::<CloudFormation>();
    x.elem("Id", &id).elem("StackId", &stack_id);
    Ok(QueryReply::Result(x))
}

/// The change set a request names (`ChangeSetName`: a name with `StackName`, or an ARN).
fn change_set<'s>(stack: Option<&'s Stack>, input: &In) -> Result<&'s ChangeSet, CfnError> {
    let name = input.required("ChangeSetName")?;
    stack
        .and_then(|s| s.change_sets.iter().find(|c| c.id == name || c.name == name))
        .ok_or_else(|| CfnError::ChangeSetNotFound(format!("ChangeSet [{name}] does not exist")))
}

fn write_change_set_summary(x: &mut Xml, stack: &Stack, c: &ChangeSet) {
    x.elem("StackId", &stack.stack_id)
        .elem("StackName", &stack.name)
        .elem("ChangeSetId", &c.id)
        .elem("ChangeSetName", &c.name)
        .elem("ExecutionStatus", &c.execution_status)
        .elem("Status", &c.status)
        .opt("StatusReason", c.status_reason.as_deref())
        .elem("CreationTime", &timestamp(c.creation_time.millis()))
        .opt("Description", c.description.as_deref());
}

fn write_parameters(x: &mut Xml, parameters: &[StackParameter]) {
    x.open("Parameters");
    for p in parameters {
        x.open("member")
            .elem("ParameterKey", &p.key)
            .elem("ParameterValue", if p.no_echo { "****" } else { &p.value })
            .close("member");
    }
    x.close("Parameters");
}

fn write_tags(x: &mut Xml, tags: &[(String, String)]) {
    x.open("Tags");
    for (k, v) in tags {
        x.open("member").elem("Key", k).elem("Value", v).close("member");
    }
    x.close("Tags");
}

async fn describe_change_set(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let c = change_set(t.stack.as_ref(), input)?;
    let stack = t.existing()?;
    let mut x = cx.xml::<CloudFormation>();
    write_change_set_summary(&mut x, stack, c);
    write_parameters(&mut x, &c.parameters);
    x.open("Capabilities");
    for cap in &c.capabilities {
        x.elem("member", cap);
    }
    x.close("Capabilities");
    write_tags(&mut x, &c.tags);
    x.open("Changes");
    for ch in &c.changes {
        x.open("member").elem("Type", "Resource").open("ResourceChange");
        x.elem("Action", &ch.action)
            .elem("LogicalResourceId", &ch.logical_id)
            .opt("PhysicalResourceId", ch.physical_id.as_deref())
            .elem("ResourceType", &ch.resource_type)
            .opt("Replacement", ch.replacement.as_deref());
        x.open("Scope").close("Scope").open("Details").close("Details");
        x.close("ResourceChange").close("member");
    }
    x.close("Changes");
    Ok(QueryReply::Result(x))
}

async fn execute_change_set(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let c = change_set(t.stack.as_ref(), input)?.clone();
    let mut stack = t.existing()?.clone();
    if c.execution_status != "AVAILABLE" {
        return Err(CfnError::InvalidChangeSetStatus(format!(
            "ChangeSet [{}] cannot be executed in its current status of [{}]",
            c.id, c.status
        )));
    }
    let operation = if c.change_set_type == "CREATE" {
        engine::Kind::Create
    } else {
        engine::Kind::Update
    };
    if operation == engine::Kind::Update && !engine::updatable(&stack.status) {
        return Err(CfnError::InvalidChangeSetStatus(format!(
            "ChangeSet [{}] cannot be executed in its current status of [{}]",
            c.id, c.status
        )));
    }
    for other in &mut stack.change_sets {
        other.execution_status = if other.id == c.id {
            "EXECUTE_IN_PROGRESS".into()
        } else {
            "OBSOLETE".into()
        };
    }
    engine::start(
        cx,
        stack,
        operation,
        c.template_body,
        c.parameters,
        c.capabilities,
        c.tags,
    )
    .await?;
    Ok(QueryReply::Result(cx.xml::<CloudFormation>()))
}

async fn delete_change_set(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let id = change_set(t.stack.as_ref(), input)?.id.clone();
    let mut stack = t.existing()?.clone();
    stack.change_sets.retain(|c| c.id != id);
    // A stack created for a change set goes with its last one, as AWS deletes it.
    if stack.status == "REVIEW_IN_PROGRESS" && stack.change_sets.is_empty() {
        stack.status = "DELETE_COMPLETE".into();
        stack.deletion_time = Some(cx.now());
    }
    cx.services.store.write_stack(stack).await?;
    Ok(QueryReply::Result(cx.xml::<CloudFormation>()))
}

async fn list_change_sets(cx: &Cx<'_>, _: &In, t: Target) -> Result<QueryReply, CfnError> {
    let stack = t.existing()?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("Summaries");
    for c in &stack.change_sets {
        x.open("member");
        write_change_set_summary(&mut x, stack, c);
        x.close("member");
    }
    x.close("Summaries");
    Ok(QueryReply::Result(x))
}

async fn create_stack(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let name = t.stack_name().to_owned();
    if let Some(s) = &t.stack
        && s.status != "REVIEW_IN_PROGRESS"
    {
        return Err(CfnError::AlreadyExists(format!("Stack [{name}] already exists")));
    }
    valid_stack_name(&name)?;
    let body = template_body(input)?.to_owned();
    let (template, _) = parse_template(&body)?;
    let caps = capabilities(input);
    check_capabilities(&template, &caps, false)?;
    let mut stack = t.stack.unwrap_or_else(|| new_stack(cx, &name, &body));
    let parameters = parameters(cx, input, &template, &stack)?;
    stack.disable_rollback =
        input.get("DisableRollback") == Some("true") || input.get("OnFailure") == Some("DO_NOTHING");
    let stack_id = stack.stack_id.clone();
    engine::start(
        cx,
        stack,
        engine::Kind::Create,
        body,
        parameters,
        caps,
        tags(input),
    )
    .await?;
    let mut x = cx.xml::<CloudFormation>();
    x.elem("StackId", &stack_id);
    Ok(QueryReply::Result(x))
}

async fn update_stack(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let stack = t.existing()?.clone();
    if !engine::updatable(&stack.status) {
        return Err(CfnError::Validation(format!(
            "Stack:{} is in {} state and can not be updated.",
            stack.stack_id, stack.status
        )));
    }
    let body = if input.get("UsePreviousTemplate") == Some("true") {
        stack.template_body.clone()
    } else {
        template_body(input)?.to_owned()
    };
    let (template, _) = parse_template(&body)?;
    let caps = capabilities(input);
    check_capabilities(&template, &caps, false)?;
    let parameters = parameters(cx, input, &template, &stack)?;
    let exports = engine::exports(cx.services, cx.account(), cx.region()).await?;
    if changes(cx.services, &stack, &template, &parameters, &exports)?.is_empty()
        && !outputs_changed(&stack, &template)
    {
        return Err(CfnError::Validation("No updates are to be performed.".into()));
    }
    let stack_id = stack.stack_id.clone();
    let tags = if input.0.struct_list("Tags").is_some() {
        tags(input)
    } else {
        stack.tags.clone()
    };
    engine::start(cx, stack, engine::Kind::Update, body, parameters, caps, tags).await?;
    let mut x = cx.xml::<CloudFormation>();
    x.elem("StackId", &stack_id);
    Ok(QueryReply::Result(x))
}

async fn delete_stack(cx: &Cx<'_>, _: &In, t: Target) -> Result<QueryReply, CfnError> {
    // Deleting a stack that doesn't exist (or is being deleted) succeeds, as in AWS.
    if let Some(stack) = t.stack
        && !stack.is_deleted()
        && stack.status != "DELETE_IN_PROGRESS"
    {
        if !engine::is_stable(&stack.status) && stack.status != "REVIEW_IN_PROGRESS" {
            return Err(CfnError::Validation(format!(
                "Stack [{}] cannot be deleted while in status {}",
                stack.name, stack.status
            )));
        }
        let (body, parameters, caps, tags) = (
            stack.template_body.clone(),
            stack.parameters.clone(),
            stack.capabilities.clone(),
            stack.tags.clone(),
        );
        engine::start(cx, stack, engine::Kind::Delete, body, parameters, caps, tags).await?;
    }
    Ok(QueryReply::Empty)
}

fn write_stack(x: &mut Xml, s: &Stack) {
    x.elem("StackId", &s.stack_id)
        .elem("StackName", &s.name)
        .opt("Description", s.description.as_deref())
        .elem("CreationTime", &timestamp(s.creation_time.millis()));
    if let Some(t) = s.last_updated_time {
        x.elem("LastUpdatedTime", &timestamp(t.millis()));
    }
    if let Some(t) = s.deletion_time {
        x.elem("DeletionTime", &timestamp(t.millis()));
    }
    x.elem("StackStatus", &s.status)
        .opt("StackStatusReason", s.status_reason.as_deref())
        .elem(
            "DisableRollback",
            if s.disable_rollback { "true" } else { "false" },
        );
    if let Some(c) = s
        .change_sets
        .iter()
        .find(|c| c.execution_status == "EXECUTE_COMPLETE")
    {
        x.elem("ChangeSetId", &c.id);
    }
    write_parameters(x, &s.parameters);
    x.open("Capabilities");
    for c in &s.capabilities {
        x.elem("member", c);
    }
    x.close("Capabilities");
    x.open("Outputs");
    for o in &s.outputs {
        x.open("member")
            .elem("OutputKey", &o.key)
            .elem("OutputValue", &o.value)
            .opt("Description", o.description.as_deref())
            .opt("ExportName", o.export_name.as_deref())
            .close("member");
    }
    x.close("Outputs");
    write_tags(x, &s.tags);
    x.elem("EnableTerminationProtection", "false");
    x.open("DriftInformation")
        .elem("StackDriftStatus", "NOT_CHECKED")
        .close("DriftInformation");
}

async fn describe_stacks(cx: &Cx<'_>, _: &In, t: Target) -> Result<QueryReply, CfnError> {
    let stacks = match &t.named {
        Some(_) => vec![t.existing()?.clone()],
        None => cx
            .services
            .store
            .list_stacks(cx.account(), cx.region())
            .await?
            .into_iter()
            .filter(|s| !s.is_deleted())
            .rev()
            .collect(),
    };
    let mut x = cx.xml::<CloudFormation>();
    x.open("Stacks");
    for s in &stacks {
        x.open("member");
        write_stack(&mut x, s);
        x.close("member");
    }
    x.close("Stacks");
    Ok(QueryReply::Result(x))
}

async fn list_stacks(cx: &Cx<'_>, input: &In, _: Target) -> Result<QueryReply, CfnError> {
    let filter = input.0.list("StackStatusFilter").unwrap_or_default();
    let stacks = cx.services.store.list_stacks(cx.account(), cx.region()).await?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("StackSummaries");
    for s in stacks.iter().rev() {
        if !filter.is_empty() && !filter.contains(&s.status) {
            continue;
        }
        x.open("member")
            .elem("StackId", &s.stack_id)
            .elem("StackName", &s.name)
            .opt("TemplateDescription", s.description.as_deref())
            .elem("CreationTime", &timestamp(s.creation_time.millis()));
        if let Some(t) = s.last_updated_time {
            x.elem("LastUpdatedTime", &timestamp(t.millis()));
        }
        if let Some(t) = s.deletion_time {
            x.elem("DeletionTime", &timestamp(t.millis()));
        }
        x.elem("StackStatus", &s.status)
            .opt("StackStatusReason", s.status_reason.as_deref())
            .close("member");
    }
    x.close("StackSummaries");
    Ok(QueryReply::Result(x))
}

fn write_resource(x: &mut Xml, s: &Stack, r: &kinko_core::stack::StackResource, time_tag: &str) {
    x.elem("StackName", &s.name)
        .elem("StackId", &s.stack_id)
        .elem("LogicalResourceId", &r.logical_id)
        .opt("PhysicalResourceId", r.physical_id.as_deref())
        .elem("ResourceType", &r.resource_type)
        .elem(time_tag, &timestamp(r.last_updated.millis()))
        .elem("ResourceStatus", &r.status)
        .opt("ResourceStatusReason", r.status_reason.as_deref())
        .open("DriftInformation")
        .elem("StackResourceDriftStatus", "NOT_CHECKED")
        .close("DriftInformation");
}

fn missing_resource(logical_id: &str, stack: &str) -> CfnError {
    CfnError::Validation(format!("Resource {logical_id} does not exist for stack {stack}"))
}

async fn describe_stack_resource(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let logical_id = input.required("LogicalResourceId")?;
    let stack = t.existing()?;
    let r = stack
        .resource(logical_id)
        .ok_or_else(|| missing_resource(logical_id, t.stack_name()))?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("StackResourceDetail");
    write_resource(&mut x, stack, r, "LastUpdatedTimestamp");
    x.elem("Metadata", "");
    x.close("StackResourceDetail");
    Ok(QueryReply::Result(x))
}

async fn describe_stack_resources(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let stack = t.existing()?;
    let only = input.get("LogicalResourceId");
    let mut x = cx.xml::<CloudFormation>();
    x.open("StackResources");
    for r in stack
        .resources
        .iter()
        .filter(|r| only.is_none_or(|l| l == r.logical_id))
    {
        x.open("member");
        write_resource(&mut x, stack, r, "Timestamp");
        x.close("member");
    }
    x.close("StackResources");
    Ok(QueryReply::Result(x))
}

async fn list_stack_resources(cx: &Cx<'_>, _: &In, t: Target) -> Result<QueryReply, CfnError> {
    let stack = t.existing()?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("StackResourceSummaries");
    for r in &stack.resources {
        x.open("member")
            .elem("LogicalResourceId", &r.logical_id)
            .opt("PhysicalResourceId", r.physical_id.as_deref())
            .elem("ResourceType", &r.resource_type)
            .elem("LastUpdatedTimestamp", &timestamp(r.last_updated.millis()))
            .elem("ResourceStatus", &r.status)
            .opt("ResourceStatusReason", r.status_reason.as_deref())
            .open("DriftInformation")
            .elem("StackResourceDriftStatus", "NOT_CHECKED")
            .close("DriftInformation")
            .close("member");
    }
    x.close("StackResourceSummaries");
    Ok(QueryReply::Result(x))
}

async fn describe_stack_events(cx: &Cx<'_>, _: &In, t: Target) -> Result<QueryReply, CfnError> {
    let stack = t.existing()?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("StackEvents");
    // Newest first, as AWS lists them.
    for e in stack.events.iter().rev() {
        x.open("member")
            .elem("StackId", &stack.stack_id)
            .elem("EventId", &e.event_id)
            .elem("StackName", &stack.name)
            .elem("LogicalResourceId", &e.logical_id)
            .opt("PhysicalResourceId", e.physical_id.as_deref())
            .elem("ResourceType", &e.resource_type)
            .elem("Timestamp", &timestamp(e.timestamp.millis()))
            .elem("ResourceStatus", &e.status)
            .opt("ResourceStatusReason", e.status_reason.as_deref())
            .close("member");
    }
    x.close("StackEvents");
    Ok(QueryReply::Result(x))
}

async fn get_template(cx: &Cx<'_>, input: &In, t: Target) -> Result<QueryReply, CfnError> {
    let body = match (t.stack.as_ref(), input.get("ChangeSetName")) {
        (Some(_), Some(_)) => change_set(t.stack.as_ref(), input)?.template_body.clone(),
        (Some(s), None) => s.template_body.clone(),
        (None, Some(_)) => return Err(change_set(None, input).err().unwrap_or(CfnError::Conflict)),
        (None, None) => {
            t.existing()?;
            String::new()
        }
    };
    let mut x = cx.xml::<CloudFormation>();
    x.elem("TemplateBody", &body);
    x.open("StagesAvailable")
        .elem("member", "Original")
        .elem("member", "Processed")
        .close("StagesAvailable");
    Ok(QueryReply::Result(x))
}

// --- exports and imports ---

/// How many entries a page of `ListExports` or `ListImports` holds (AWS pages them by 100).
const EXPORTS_PAGE: usize = 100;

/// A page of `items` (sorted, unique) from the one `NextToken` names, and the token of the next.
/// The token is the next page's first item, base64-encoded (opaque to the caller).
fn page<'a>(items: &'a [String], input: &In) -> Result<(&'a [String], Option<String>), CfnError> {
    use base64::Engine as _;
    let start = match input.get("NextToken") {
        None => 0,
        Some(token) => {
            let first = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                // [unverified wording]
                .ok_or_else(|| CfnError::Validation("Invalid NextToken".into()))?;
            items.partition_point(|i| *i < first)
        }
    };
    let end = (start + EXPORTS_PAGE).min(items.len());
    let next = items
        .get(end)
        .map(|n| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.as_bytes()));
    Ok((&items[start..end], next))
}

/// `ListExports`: the exports of the caller's account and region, by name, with the stack
/// exporting each.
async fn list_exports(cx: &Cx<'_>, input: &In, _: Target) -> Result<QueryReply, CfnError> {
    let exports = engine::exports(cx.services, cx.account(), cx.region()).await?;
    let names: Vec<String> = exports.iter().map(|e| e.name.clone()).collect();
    let (shown, next) = page(&names, input)?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("Exports");
    for name in shown {
        if let Some(e) = exports.iter().find(|e| e.name == *name) {
            x.open("member")
                .elem("ExportingStackId", &e.stack_id)
                .elem("Name", &e.name)
                .elem("Value", &e.value)
                .close("member");
        }
    }
    x.close("Exports");
    x.opt("NextToken", next.as_deref());
    Ok(QueryReply::Result(x))
}

/// `ListImports`: the stacks importing an export, by name.
async fn list_imports(cx: &Cx<'_>, input: &In, _: Target) -> Result<QueryReply, CfnError> {
    let name = input.required("ExportName")?;
    let mut stacks = engine::importers(cx.services, cx.account(), cx.region(), name, None).await?;
    if stacks.is_empty() {
        return Err(CfnError::Validation(format!(
            "Export '{name}' is not imported by any stack."
        )));
    }
    stacks.sort();
    stacks.dedup();
    let (shown, next) = page(&stacks, input)?;
    let mut x = cx.xml::<CloudFormation>();
    x.open("Imports");
    for s in shown {
        x.elem("member", s);
    }
    x.close("Imports");
    x.opt("NextToken", next.as_deref());
    Ok(QueryReply::Result(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(token: Option<&str>) -> In {
        let mut body = String::from("Action=ListExports");
        if let Some(t) = token {
            body.push_str(&format!("&NextToken={t}"));
        }
        In(Params::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn exports_and_imports_are_paged_by_a_hundred() {
        let items: Vec<String> = (0..250).map(|n| format!("export-{n:03}")).collect();
        let (first, next) = page(&items, &input(None)).unwrap();
        assert_eq!((first.len(), first[0].as_str()), (100, "export-000"));
        let (second, next) = page(&items, &input(next.as_deref())).unwrap();
        assert_eq!((second.len(), second[0].as_str()), (100, "export-100"));
        let (third, next) = page(&items, &input(next.as_deref())).unwrap();
        assert_eq!(
            (third.len(), third[99.min(third.len() - 1)].as_str()),
            (50, "export-249")
        );
        assert_eq!(next, None);
        assert!(page(&items, &input(Some("%%%"))).is_err());
    }
}
