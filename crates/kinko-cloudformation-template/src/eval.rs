//! Evaluation: conditions, and intrinsic functions in a value, with the stack's parameters and
//! pseudo parameters bound and everything that needs the world (resources' physical ids and
//! attributes, Availability Zones, other stacks' exports, secrets) asked of the caller's
//! [`Resolver`].

use base64::Engine as _;

use crate::dynref::{self, DynamicReference};
use crate::error::{Result, TemplateError};
use crate::intrinsic::{self, GetAttName, SubPart};
use crate::model::{Resource, Template};
use crate::params::BoundParameters;
use crate::validate::{self, Dependencies};
use crate::value::{Map, Value};

/// What the stack itself supplies: the pseudo parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackContext {
    /// `AWS::StackName`.
    pub stack_name: String,
    /// `AWS::StackId`.
    pub stack_id: String,
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::AccountId`.
    pub account_id: String,
    /// `AWS::Partition`.
    pub partition: String,
    /// `AWS::URLSuffix`.
    pub url_suffix: String,
    /// `AWS::NotificationARNs`.
    pub notification_arns: Vec<String>,
}

impl StackContext {
    /// A context whose partition and URL suffix follow from the region, as in AWS (`aws-cn` and
    /// `amazonaws.com.cn` in China, `aws-us-gov` in GovCloud, otherwise `aws` and
    /// `amazonaws.com`).
    pub fn new(
        stack_name: impl Into<String>,
        stack_id: impl Into<String>,
        region: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        let region = region.into();
        let (partition, url_suffix) = if region.starts_with("cn-") {
            ("aws-cn", "amazonaws.com.cn")
        } else if region.starts_with("us-gov-") {
            ("aws-us-gov", "amazonaws.com")
        } else {
            ("aws", "amazonaws.com")
        };
        StackContext {
            stack_name: stack_name.into(),
            stack_id: stack_id.into(),
            region,
            account_id: account_id.into(),
            partition: partition.to_owned(),
            url_suffix: url_suffix.to_owned(),
            notification_arns: Vec::new(),
        }
    }
}

/// What evaluation needs from outside the template. Each method's error becomes the evaluation's
/// error as it is, so the caller words it (for example a resource's failure reason).
pub trait Resolver {
    /// `Ref` to a resource: its physical id (or what its type documents `Ref` to return).
    fn resource_ref(&self, logical_id: &str) -> Result<Value>;
    /// `Fn::GetAtt`: one attribute of a resource.
    fn get_att(&self, logical_id: &str, attribute: &str) -> Result<Value>;
    /// `Fn::GetAZs`: the Availability Zones of `region`.
    fn get_azs(&self, region: &str) -> Result<Vec<String>>;
    /// `Fn::ImportValue`: the value another stack exported under `name`.
    fn import_value(&self, name: &str) -> Result<Value>;
    /// A dynamic reference's value. The caller refuses the kinds it does not serve
    /// (`ssm`, `ssm-secure`).
    fn dynamic_reference(&self, reference: &DynamicReference) -> Result<String>;
}

/// An output, evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedOutput {
    /// The logical id.
    pub logical_id: String,
    /// `Value` (a list is written comma-separated).
    pub value: String,
    /// `Description`.
    pub description: Option<String>,
    /// `Export.Name`.
    pub export_name: Option<String>,
}

/// A template with its parameters bound and conditions evaluated.
#[derive(Debug)]
pub struct Evaluator<'t> {
    template: &'t Template,
    parameters: BoundParameters,
    context: StackContext,
    conditions: Vec<(String, bool)>,
}

/// Where a reference is evaluated, for the unresolved-dependency message.
#[derive(Clone, Copy)]
enum Block {
    Resources,
    Outputs,
}

/// A reference to a resource that is not part of the stack (its condition is false).
fn unresolved_resource(id: &str, block: Block) -> TemplateError {
    let block = match block {
        Block::Resources => "Resources",
        Block::Outputs => "Outputs",
    };
    TemplateError::format(format!(
        "Unresolved resource dependencies [{id}] in the {block} block of the template"
    ))
}

impl<'t> Evaluator<'t> {
    /// Binds `parameters` and `context` to `template` and evaluates every condition.
    pub fn new(template: &'t Template, parameters: BoundParameters, context: StackContext) -> Result<Self> {
        let mut evaluator = Evaluator {
            template,
            parameters,
            context,
            conditions: Vec::new(),
        };
        let mut values = Vec::new();
        for (name, _) in &template.conditions {
            let mut visiting = Vec::new();
            let v = evaluator.condition_named(name, &values, &mut visiting)?;
            values.push((name.clone(), v));
        }
        evaluator.conditions = values;
        Ok(evaluator)
    }

    /// The template.
    pub fn template(&self) -> &'t Template {
        self.template
    }

    /// The bound parameters.
    pub fn parameters(&self) -> &BoundParameters {
        &self.parameters
    }

    /// The stack context.
    pub fn context(&self) -> &StackContext {
        &self.context
    }

    /// A condition's value.
    pub fn condition(&self, name: &str) -> Option<bool> {
        self.conditions.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Whether a resource is part of the stack: declared, and its `Condition` (if any) is true.
    pub fn is_active(&self, logical_id: &str) -> bool {
        self.template
            .resource(logical_id)
            .is_some_and(|r| match &r.condition {
                None => true,
                Some(c) => self.condition(c) == Some(true),
            })
    }

    /// The resources that are part of the stack, in template order.
    pub fn active_resources(&self) -> impl Iterator<Item = &'t Resource> {
        self.template
            .resources
            .iter()
            .filter(move |r| self.is_active(&r.logical_id))
    }

    /// The order to create the active resources in.
    pub fn creation_order(&self, graph: &[Dependencies]) -> Result<Vec<String>> {
        validate::creation_order(graph, &|id| self.is_active(id))
    }

    /// The order to delete the active resources in.
    pub fn deletion_order(&self, graph: &[Dependencies]) -> Result<Vec<String>> {
        validate::deletion_order(graph, &|id| self.is_active(id))
    }

    fn condition_named(
        &self,
        name: &str,
        done: &[(String, bool)],
        visiting: &mut Vec<String>,
    ) -> Result<bool> {
        if let Some((_, v)) = done.iter().find(|(n, _)| n == name) {
            return Ok(*v);
        }
        if visiting.iter().any(|v| v == name) {
            // [unverified wording]
            return Err(TemplateError::format("Circular dependency between conditions"));
        }
        let Some(def) = self.template.condition(name) else {
            // [unverified wording]
            return Err(TemplateError::template(format!(
                "unresolved condition dependency {name}"
            )));
        };
        visiting.push(name.to_owned());
        let v = self.condition_value(def, done, visiting);
        visiting.pop();
        v
    }

    fn condition_value(
        &self,
        v: &Value,
        done: &[(String, bool)],
        visiting: &mut Vec<String>,
    ) -> Result<bool> {
        let Some((name, arg)) = intrinsic::call(v, true) else {
            // A literal true/false is accepted where a condition is expected.
            return match v {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
                // [unverified wording]
                _ => Err(TemplateError::template(format!(
                    "Conditions can only be boolean operations on parameters and other \
                     conditions: {v}"
                ))),
            };
        };
        match name {
            "Condition" => {
                let target = arg
                    .as_str()
                    .ok_or_else(|| TemplateError::template("Condition requires a condition name"))?;
                self.condition_named(target, done, visiting)
            }
            "Fn::Equals" => {
                let ops = intrinsic::condition_operands(name, arg)?;
                let mut texts = Vec::with_capacity(2);
                for op in ops {
                    let v = self.resolve(op, &NoResources)?;
                    texts.push(
                        v.as_ref()
                            .and_then(Value::scalar_text)
                            .ok_or_else(intrinsic::equals_error)?,
                    );
                }
                Ok(texts[0] == texts[1])
            }
            "Fn::Not" => {
                let ops = intrinsic::condition_operands(name, arg)?;
                Ok(!self.condition_value(&ops[0], done, visiting)?)
            }
            "Fn::And" | "Fn::Or" => {
                let ops = intrinsic::condition_operands(name, arg)?;
                let mut values = Vec::with_capacity(ops.len());
                for op in ops {
                    values.push(self.condition_value(op, done, visiting)?);
                }
                Ok(if name == "Fn::And" {
                    values.iter().all(|b| *b)
                } else {
                    values.iter().any(|b| *b)
                })
            }
            _ => match self.resolve(v, &NoResources)? {
                Some(Value::Bool(b)) => Ok(b),
                Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
                _ => Err(TemplateError::template(format!(
                    "Conditions can only be boolean operations on parameters and other \
                     conditions: {v}"
                ))),
            },
        }
    }

    fn ref_name(&self, name: &str, resolver: &dyn Resolver, block: Block) -> Result<Option<Value>> {
        if let Some(p) = self.template.parameter(name) {
            return Ok(self.parameters.ref_value(p));
        }
        let c = &self.context;
        Ok(Some(match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::StackName" => Value::string(&c.stack_name),
            "AWS::StackId" => Value::string(&c.stack_id),
            "AWS::Region" => Value::string(&c.region),
            "AWS::AccountId" => Value::string(&c.account_id),
            "AWS::Partition" => Value::string(&c.partition),
            "AWS::URLSuffix" => Value::string(&c.url_suffix),
            "AWS::NotificationARNs" => Value::List(c.notification_arns.iter().map(Value::string).collect()),
            id if self.is_active(id) => resolver.resource_ref(id)?,
            id => return Err(unresolved_resource(id, block)),
        }))
    }

    fn get_att(&self, id: &str, attribute: &str, resolver: &dyn Resolver, block: Block) -> Result<Value> {
        if self.template.resource(id).is_none() {
            return Err(TemplateError::template(format!(
                "instance of Fn::GetAtt references undefined resource {id}"
            )));
        }
        if !self.is_active(id) {
            return Err(unresolved_resource(id, block));
        }
        resolver.get_att(id, attribute)
    }

    /// Evaluates every intrinsic function in `value`. `Ok(None)` is `AWS::NoValue`: the caller
    /// drops the property it was the value of. Dynamic references are left as they are (see
    /// [`Evaluator::resolve_properties`]).
    pub fn resolve(&self, value: &Value, resolver: &dyn Resolver) -> Result<Option<Value>> {
        self.resolve_in(value, resolver, Block::Resources)
    }

    fn resolve_in(&self, value: &Value, resolver: &dyn Resolver, block: Block) -> Result<Option<Value>> {
        if let Some((name, arg)) = intrinsic::call(value, false) {
            return self.resolve_call(name, arg, resolver, block);
        }
        Ok(Some(match value {
            Value::List(l) => {
                let mut out = Vec::with_capacity(l.len());
                for v in l {
                    if let Some(v) = self.resolve_in(v, resolver, block)? {
                        out.push(v);
                    }
                }
                Value::List(out)
            }
            Value::Map(m) => {
                let mut out = Map::new();
                for (k, v) in m.iter() {
                    if let Some(v) = self.resolve_in(v, resolver, block)? {
                        out.insert(k, v);
                    }
                }
                Value::Map(out)
            }
            other => other.clone(),
        }))
    }

    fn text(&self, value: &Value, resolver: &dyn Resolver, block: Block, what: &str) -> Result<String> {
        self.resolve_in(value, resolver, block)?
            .as_ref()
            .and_then(Value::scalar_text)
            .ok_or_else(|| {
                // [unverified wording]
                TemplateError::template(format!("{what} requires a string argument"))
            })
    }

    fn resolve_call(
        &self,
        name: &str,
        arg: &Value,
        resolver: &dyn Resolver,
        block: Block,
    ) -> Result<Option<Value>> {
        match name {
            "Ref" => self.ref_name(intrinsic::ref_target(arg)?, resolver, block),
            "Fn::GetAtt" => {
                let (id, attribute) = intrinsic::get_att_args(arg)?;
                let attribute = match attribute {
                    GetAttName::Literal(a) => a.to_owned(),
                    GetAttName::Value(v) => self.text(v, resolver, block, "Fn::GetAtt")?,
                };
                self.get_att(id, &attribute, resolver, block).map(Some)
            }
            "Fn::Sub" => {
                let (s, vars) = intrinsic::sub_args(arg)?;
                let mut out = String::new();
                for part in intrinsic::parse_sub(s)? {
                    match part {
                        SubPart::Literal(l) => out.push_str(&l),
                        SubPart::Variable(var) => {
                            let value = match vars.and_then(|m| m.get(&var)) {
                                Some(v) => self.resolve_in(v, resolver, block)?,
                                None => match var.split_once('.') {
                                    Some((id, attr)) if !var.starts_with("AWS::") => {
                                        Some(self.get_att(id, attr, resolver, block)?)
                                    }
                                    _ => self.ref_name(&var, resolver, block)?,
                                },
                            };
                            let text = value.as_ref().and_then(Value::scalar_text).ok_or_else(|| {
                                // [unverified wording]
                                TemplateError::template(format!(
                                    "variable {var} in Fn::Sub expression does not resolve \
                                         to a string"
                                ))
                            })?;
                            out.push_str(&text);
                        }
                    }
                }
                Ok(Some(Value::String(out)))
            }
            "Fn::Join" => {
                let (delimiter, list) = intrinsic::join_args(arg)?;
                let Some(Value::List(items)) = self.resolve_in(list, resolver, block)? else {
                    return Err(intrinsic::join_error());
                };
                let parts: Option<Vec<String>> = items.iter().map(Value::scalar_text).collect();
                Ok(Some(Value::String(
                    parts.ok_or_else(intrinsic::join_error)?.join(delimiter),
                )))
            }
            "Fn::Split" => {
                let (delimiter, s) = intrinsic::split_args(arg)?;
                let s = self.text(s, resolver, block, "Fn::Split")?;
                Ok(Some(Value::List(s.split(delimiter).map(Value::string).collect())))
            }
            "Fn::Select" => {
                let (index, list) = intrinsic::select_args(arg)?;
                let index = self.text(index, resolver, block, "Fn::Select")?;
                let Some(Value::List(items)) = self.resolve_in(list, resolver, block)? else {
                    return Err(intrinsic::select_error());
                };
                index
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .map(Some)
                    .ok_or_else(|| {
                        TemplateError::template(format!(
                            "Fn::Select cannot select nonexistent value at index {index}"
                        ))
                    })
            }
            "Fn::If" => {
                let (condition, a, b) = intrinsic::if_args(arg)?;
                let chosen = match self.condition(condition) {
                    Some(true) => a,
                    Some(false) => b,
                    None => {
                        return Err(TemplateError::template(format!(
                            "unresolved condition dependency {condition} in Fn::If"
                        )));
                    }
                };
                self.resolve_in(chosen, resolver, block)
            }
            "Fn::FindInMap" => {
                let [m, k1, k2] = intrinsic::find_in_map_args(arg)?;
                let m = self.text(m, resolver, block, "Fn::FindInMap")?;
                let k1 = self.text(k1, resolver, block, "Fn::FindInMap")?;
                let k2 = self.text(k2, resolver, block, "Fn::FindInMap")?;
                self.template
                    .mappings
                    .get(&m)
                    .and_then(|v| v.as_map()?.get(&k1)?.as_map()?.get(&k2))
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| {
                        TemplateError::template(format!("Unable to get mapping for {m}::{k1}::{k2}"))
                    })
            }
            "Fn::Base64" => {
                let s = self.text(arg, resolver, block, "Fn::Base64")?;
                Ok(Some(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                )))
            }
            "Fn::GetAZs" => {
                let region = self.text(arg, resolver, block, "Fn::GetAZs")?;
                let region = if region.is_empty() {
                    self.context.region.clone()
                } else {
                    region
                };
                Ok(Some(Value::List(
                    resolver
                        .get_azs(&region)?
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                )))
            }
            "Fn::ImportValue" => {
                let export = self.text(arg, resolver, block, "Fn::ImportValue")?;
                resolver.import_value(&export).map(Some)
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" => {
                let wrapped = Value::Map([(name.to_owned(), arg.clone())].into_iter().collect());
                let b = self.condition_value(&wrapped, &self.conditions, &mut Vec::new())?;
                Ok(Some(Value::Bool(b)))
            }
            other => Err(intrinsic::unsupported(other)),
        }
    }

    /// A resource's properties, every intrinsic function evaluated (`AWS::NoValue` properties
    /// dropped) and every dynamic reference replaced by the resolver's value. The result is for
    /// the resource handler only: it may hold secrets, so it is never stored or logged.
    pub fn resolve_properties(&self, resource: &Resource, resolver: &dyn Resolver) -> Result<Map> {
        let Some(Value::Map(m)) = self.resolve(&Value::Map(resource.properties.clone()), resolver)? else {
            return Ok(Map::new());
        };
        let mut out = Map::new();
        for (k, v) in m.iter() {
            out.insert(k, substitute_dynamic_references(v, resolver)?);
        }
        Ok(out)
    }

    /// The export names `Fn::ImportValue` reads in the active resources and the outputs whose
    /// condition holds, each once, in template order (only the branch `Fn::If` takes counts). A
    /// name may be computed (`Ref` to a parameter, `Fn::Sub`); AWS doesn't let it depend on a
    /// resource, so `resolver` is asked only for what the names need.
    pub fn import_names(&self, resolver: &dyn Resolver) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for r in self.active_resources() {
            for (_, v) in r.properties.iter() {
                self.collect_imports(v, resolver, Block::Resources, &mut out)?;
            }
        }
        for o in &self.template.outputs {
            if let Some(c) = &o.condition
                && self.condition(c) != Some(true)
            {
                continue;
            }
            self.collect_imports(&o.value, resolver, Block::Outputs, &mut out)?;
        }
        Ok(out)
    }

    fn collect_imports(
        &self,
        value: &Value,
        resolver: &dyn Resolver,
        block: Block,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if let Some((name, arg)) = intrinsic::call(value, false) {
            return match name {
                "Fn::ImportValue" => {
                    let export = self.text(arg, resolver, block, "Fn::ImportValue")?;
                    if !out.contains(&export) {
                        out.push(export);
                    }
                    Ok(())
                }
                "Fn::If" => {
                    let (condition, then, otherwise) = intrinsic::if_args(arg)?;
                    let taken = if self.condition(condition) == Some(true) {
                        then
                    } else {
                        otherwise
                    };
                    self.collect_imports(taken, resolver, block, out)
                }
                _ => self.collect_imports(arg, resolver, block, out),
            };
        }
        match value {
            Value::List(l) => l
                .iter()
                .try_for_each(|v| self.collect_imports(v, resolver, block, out)),
            Value::Map(m) => m
                .iter()
                .try_for_each(|(_, v)| self.collect_imports(v, resolver, block, out)),
            _ => Ok(()),
        }
    }

    /// The outputs whose `Condition` (if any) is true, evaluated.
    pub fn outputs(&self, resolver: &dyn Resolver) -> Result<Vec<ResolvedOutput>> {
        let mut out = Vec::new();
        for o in &self.template.outputs {
            if let Some(c) = &o.condition
                && self.condition(c) != Some(true)
            {
                continue;
            }
            let text = |v: Option<Value>| -> Option<String> {
                match v? {
                    Value::List(l) => Some(
                        l.iter()
                            .filter_map(Value::scalar_text)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    v => v.scalar_text(),
                }
            };
            let value = text(self.resolve_in(&o.value, resolver, Block::Outputs)?).unwrap_or_default();
            let description = match &o.description {
                Some(d) => text(self.resolve_in(d, resolver, Block::Outputs)?),
                None => None,
            };
            let export_name = match &o.export_name {
                Some(e) => text(self.resolve_in(e, resolver, Block::Outputs)?),
                None => None,
            };
            out.push(ResolvedOutput {
                logical_id: o.logical_id.clone(),
                value,
                description,
                export_name,
            });
        }
        Ok(out)
    }
}

/// Replaces dynamic references in every string of `value`.
pub fn substitute_dynamic_references(value: &Value, resolver: &dyn Resolver) -> Result<Value> {
    Ok(match value {
        Value::String(s) => Value::String(dynref::substitute(s, &mut |r| resolver.dynamic_reference(r))?),
        Value::List(l) => Value::List(
            l.iter()
                .map(|v| substitute_dynamic_references(v, resolver))
                .collect::<Result<_>>()?,
        ),
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.iter() {
                out.insert(k, substitute_dynamic_references(v, resolver)?);
            }
            Value::Map(out)
        }
        other => other.clone(),
    })
}

/// The resolver used for conditions, which may not name resources (validation refuses it).
struct NoResources;

impl Resolver for NoResources {
    fn resource_ref(&self, id: &str) -> Result<Value> {
        Err(TemplateError::format(format!(
            "Unresolved dependencies [{id}]. Cannot reference resources in the Conditions block \
             of the template"
        )))
    }

    fn get_att(&self, id: &str, _: &str) -> Result<Value> {
        self.resource_ref(id)
    }

    fn get_azs(&self, _: &str) -> Result<Vec<String>> {
        // [unverified wording]
        Err(TemplateError::template(
            "Fn::GetAZs cannot be used in the Conditions block of the template",
        ))
    }

    fn import_value(&self, _: &str) -> Result<Value> {
        // [unverified wording]
        Err(TemplateError::template(
            "Fn::ImportValue cannot be used in the Conditions block of the template",
        ))
    }

    fn dynamic_reference(&self, _: &DynamicReference) -> Result<String> {
        Err(TemplateError::template(
            "dynamic references cannot be used in the Conditions block of the template",
        ))
    }
}
