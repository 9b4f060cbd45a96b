//! What `ValidateTemplate` checks without parameter values: every function is one kinko
//! evaluates and has arguments of the right shape, every `Ref`, `Fn::GetAtt`, `${}`,
//! `DependsOn` and `Condition` names something the template declares, and resources do not
//! depend on each other in a circle. Also the dependency graph and the creation and deletion
//! orders built from it.

use std::collections::BTreeSet;

use crate::error::{Result, TemplateError};
use crate::intrinsic::{self, GetAttName, PSEUDO_PARAMETERS, SubPart};
use crate::model::Template;
use crate::value::Value;

/// Which block of the template a value sits in (CloudFormation names it in its messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Resources,
    Outputs,
    Conditions,
}

impl Block {
    fn name(self) -> &'static str {
        match self {
            Block::Resources => "Resources",
            Block::Outputs => "Outputs",
            Block::Conditions => "Conditions",
        }
    }
}

/// What a value refers to.
#[derive(Default)]
struct Refs {
    /// Resources named by `Ref`, `Fn::GetAtt` and `${}`, in first-seen order.
    resources: Vec<String>,
    /// Names that are neither parameters, resources nor pseudo parameters.
    unresolved: Vec<String>,
    /// `Fn::GetAtt` (and `${Resource.Attribute}`) uses with a written-out attribute name.
    attributes: Vec<(String, String)>,
    /// Whether `Fn::ImportValue` or `Fn::GetAZs` is used.
    imports_or_azs: bool,
}

impl Refs {
    fn add_resource(&mut self, id: &str) {
        if !self.resources.iter().any(|r| r == id) {
            self.resources.push(id.to_owned());
        }
    }

    fn add_attribute(&mut self, id: &str, attribute: &str) {
        if !self.attributes.iter().any(|(r, a)| r == id && a == attribute) {
            self.attributes.push((id.to_owned(), attribute.to_owned()));
        }
    }

    fn add_unresolved(&mut self, id: &str) {
        if !self.unresolved.iter().any(|r| r == id) {
            self.unresolved.push(id.to_owned());
        }
    }
}

struct Walker<'t> {
    template: &'t Template,
    block: Block,
}

impl Walker<'_> {
    fn name(&self, name: &str, refs: &mut Refs) {
        if self.template.resource(name).is_some() {
            refs.add_resource(name);
        } else if self.template.parameter(name).is_none() && !PSEUDO_PARAMETERS.contains(&name) {
            refs.add_unresolved(name);
        }
    }

    fn condition_name(&self, name: &str, function: &str) -> Result<()> {
        if self.template.condition(name).is_none() {
            // [unverified wording]
            return Err(TemplateError::template(format!(
                "unresolved condition dependency {name} in {function}"
            )));
        }
        Ok(())
    }

    fn walk(&self, value: &Value, refs: &mut Refs) -> Result<()> {
        let in_conditions = self.block == Block::Conditions;
        if let Some((name, arg)) = intrinsic::call(value, in_conditions) {
            return self.walk_call(name, arg, refs);
        }
        match value {
            Value::List(l) => l.iter().try_for_each(|v| self.walk(v, refs)),
            Value::Map(m) => m.iter().try_for_each(|(_, v)| self.walk(v, refs)),
            _ => Ok(()),
        }
    }

    fn walk_call(&self, name: &str, arg: &Value, refs: &mut Refs) -> Result<()> {
        match name {
            "Ref" => {
                let target = intrinsic::ref_target(arg)?;
                self.name(target, refs);
                Ok(())
            }
            "Fn::GetAtt" => {
                let (resource, attribute) = intrinsic::get_att_args(arg)?;
                if self.template.resource(resource).is_none() {
                    return Err(TemplateError::template(format!(
                        "instance of Fn::GetAtt references undefined resource {resource}"
                    )));
                }
                refs.add_resource(resource);
                match attribute {
                    GetAttName::Literal(a) => refs.add_attribute(resource, a),
                    GetAttName::Value(v) => self.walk(v, refs)?,
                }
                Ok(())
            }
            "Fn::Sub" => {
                let (s, vars) = intrinsic::sub_args(arg)?;
                for part in intrinsic::parse_sub(s)? {
                    let SubPart::Variable(var) = part else { continue };
                    if vars.is_some_and(|m| m.contains_key(&var)) {
                        continue;
                    }
                    match var.split_once('.') {
                        Some((resource, attribute)) => {
                            if self.template.resource(resource).is_none() {
                                return Err(TemplateError::template(format!(
                                    "instance of Fn::GetAtt references undefined resource \
                                     {resource}"
                                )));
                            }
                            refs.add_resource(resource);
                            refs.add_attribute(resource, attribute);
                        }
                        None => self.name(&var, refs),
                    }
                }
                if let Some(vars) = vars {
                    vars.iter().try_for_each(|(_, v)| self.walk(v, refs))?;
                }
                Ok(())
            }
            "Fn::Join" => {
                let (_, list) = intrinsic::join_args(arg)?;
                self.walk(list, refs)
            }
            "Fn::Split" => {
                let (_, s) = intrinsic::split_args(arg)?;
                self.walk(s, refs)
            }
            "Fn::Select" => {
                let (i, list) = intrinsic::select_args(arg)?;
                self.walk(i, refs)?;
                self.walk(list, refs)
            }
            "Fn::If" => {
                let (condition, a, b) = intrinsic::if_args(arg)?;
                self.condition_name(condition, "Fn::If")?;
                self.walk(a, refs)?;
                self.walk(b, refs)
            }
            "Fn::FindInMap" => {
                let args = intrinsic::find_in_map_args(arg)?;
                args.iter().try_for_each(|v| self.walk(v, refs))
            }
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => {
                let operands = intrinsic::condition_operands(name, arg)?;
                operands.iter().try_for_each(|v| self.walk(v, refs))
            }
            "Condition" => {
                let target = arg
                    .as_str()
                    .ok_or_else(|| TemplateError::template("Condition requires a condition name"))?;
                self.condition_name(target, "Condition")
            }
            "Fn::GetAZs" | "Fn::ImportValue" => {
                refs.imports_or_azs = true;
                self.walk(arg, refs)
            }
            "Fn::Base64" => self.walk(arg, refs),
            other => Err(intrinsic::unsupported(other)),
        }
    }
}

/// CloudFormation's error for `Fn::GetAtt` naming an attribute the resource's type does not have.
pub fn unsupported_attribute(resource: &str, attribute: &str) -> TemplateError {
    TemplateError::template(format!(
        "resource {resource} does not support attribute type {attribute} in Fn::GetAtt"
    ))
}

fn unresolved(names: &[String], block: Block) -> TemplateError {
    TemplateError::format(format!(
        "Unresolved resource dependencies [{}] in the {} block of the template",
        names.join(", "),
        block.name()
    ))
}

/// A resource's dependencies: the resources its properties, metadata and `DependsOn` name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependencies {
    /// The resource.
    pub logical_id: String,
    /// What it depends on, each once, in the order first named.
    pub depends_on: Vec<String>,
}

impl Template {
    /// Checks the template as `ValidateTemplate` does (after [`Template::parse`]'s shape
    /// checks): functions and their arguments, references, conditions, circular dependencies,
    /// and parameter defaults against their own constraints. Returns each resource's
    /// dependencies.
    pub fn validate(&self) -> Result<Vec<Dependencies>> {
        if let Some(clash) = self.parameters.iter().find(|p| self.resource(&p.name).is_some()) {
            // [unverified wording]
            return Err(TemplateError::format(format!(
                "Duplicate logical id {}: Parameters and Resources must have unique names",
                clash.name
            )));
        }

        let conditions = Walker {
            template: self,
            block: Block::Conditions,
        };
        for (_, condition) in &self.conditions {
            let mut refs = Refs::default();
            conditions.walk(condition, &mut refs)?;
            if !refs.resources.is_empty() {
                return Err(TemplateError::format(format!(
                    "Unresolved dependencies [{}]. Cannot reference resources in the Conditions \
                     block of the template",
                    refs.resources.join(", ")
                )));
            }
            if !refs.unresolved.is_empty() {
                return Err(unresolved(&refs.unresolved, Block::Conditions));
            }
        }
        self.check_condition_cycles()?;

        let resources = Walker {
            template: self,
            block: Block::Resources,
        };
        let mut graph = Vec::new();
        let mut missing = Refs::default();
        for resource in &self.resources {
            if let Some(c) = &resource.condition
                && self.condition(c).is_none()
            {
                return Err(TemplateError::format(format!("Condition {c} is not defined.")));
            }
            let mut refs = Refs::default();
            for (_, v) in resource.properties.iter() {
                resources.walk(v, &mut refs)?;
            }
            if let Some(m) = &resource.metadata {
                resources.walk(m, &mut refs)?;
            }
            for d in &resource.depends_on {
                if self.resource(d).is_some() {
                    refs.add_resource(d);
                } else {
                    refs.add_unresolved(d);
                }
            }
            for u in &refs.unresolved {
                missing.add_unresolved(u);
            }
            graph.push(Dependencies {
                logical_id: resource.logical_id.clone(),
                depends_on: refs.resources,
            });
        }
        if !missing.unresolved.is_empty() {
            return Err(unresolved(&missing.unresolved, Block::Resources));
        }

        let outputs = Walker {
            template: self,
            block: Block::Outputs,
        };
        let mut missing = Refs::default();
        for output in &self.outputs {
            if let Some(c) = &output.condition
                && self.condition(c).is_none()
            {
                return Err(TemplateError::format(format!("Condition {c} is not defined.")));
            }
            let mut refs = Refs::default();
            outputs.walk(&output.value, &mut refs)?;
            if let Some(e) = &output.export_name {
                let mut name_refs = Refs::default();
                outputs.walk(e, &mut name_refs)?;
                if !name_refs.resources.is_empty() || name_refs.imports_or_azs {
                    return Err(TemplateError::format(format!(
                        "Output {} is malformed.  The Name field of Export must not depend on \
                         any resources, imported values, or Fn::GetAZs.",
                        output.logical_id
                    )));
                }
                refs.unresolved.extend(name_refs.unresolved);
            }
            for u in &refs.unresolved {
                missing.add_unresolved(u);
            }
        }
        if !missing.unresolved.is_empty() {
            return Err(unresolved(&missing.unresolved, Block::Outputs));
        }

        creation_order(&graph, &|_| true)?;
        crate::params::check_defaults(self)?;
        Ok(graph)
    }

    /// Every `Fn::GetAtt` (and `${Resource.Attribute}`) whose attribute is written out, as
    /// (resource, attribute), each once, in template order (resources, then outputs). The
    /// caller checks them against what each resource type offers and reports a miss with
    /// [`unsupported_attribute`]. Assumes [`Template::validate`] passed.
    pub fn get_att_references(&self) -> Vec<(String, String)> {
        let mut refs = Refs::default();
        let resources = Walker {
            template: self,
            block: Block::Resources,
        };
        for r in &self.resources {
            for (_, v) in r.properties.iter() {
                // Errors were reported by validate; what was collected before one still counts.
                let _ = resources.walk(v, &mut refs);
            }
            if let Some(m) = &r.metadata {
                let _ = resources.walk(m, &mut refs);
            }
        }
        let outputs = Walker {
            template: self,
            block: Block::Outputs,
        };
        for o in &self.outputs {
            let _ = outputs.walk(&o.value, &mut refs);
        }
        refs.attributes
    }

    /// Conditions that name each other in a circle can never be evaluated.
    fn check_condition_cycles(&self) -> Result<()> {
        fn named(v: &Value, out: &mut Vec<String>) {
            if let Some(("Condition", Value::String(c))) = intrinsic::call(v, true) {
                out.push(c.clone());
                return;
            }
            match v {
                Value::List(l) => l.iter().for_each(|x| named(x, out)),
                Value::Map(m) => m.iter().for_each(|(_, x)| named(x, out)),
                _ => {}
            }
        }
        let graph: Vec<Dependencies> = self
            .conditions
            .iter()
            .map(|(name, v)| {
                let mut deps = Vec::new();
                named(v, &mut deps);
                Dependencies {
                    logical_id: name.clone(),
                    depends_on: deps,
                }
            })
            .collect();
        creation_order(&graph, &|_| true).map_err(|_| {
            // [unverified wording]
            TemplateError::format("Circular dependency between conditions")
        })?;
        Ok(())
    }
}

/// The order to create resources in: each after everything it depends on, otherwise in template
/// order (`graph` is in template order). Only resources for which `active` says yes are listed;
/// an edge to an inactive resource is dropped (evaluating a reference to one fails on its own).
/// Fails with CloudFormation's circular dependency message, naming the resources on a cycle in
/// template order.
pub fn creation_order(graph: &[Dependencies], active: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
    let nodes: Vec<&Dependencies> = graph.iter().filter(|d| active(&d.logical_id)).collect();
    let index = |id: &str| nodes.iter().position(|d| d.logical_id == id);
    let edges: Vec<Vec<usize>> = nodes
        .iter()
        .map(|d| d.depends_on.iter().filter_map(|x| index(x)).collect())
        .collect();
    let mut done = vec![false; nodes.len()];
    let mut order = Vec::with_capacity(nodes.len());
    while order.len() < nodes.len() {
        let next = (0..nodes.len()).find(|&i| !done[i] && edges[i].iter().all(|&j| done[j] && j != i));
        let Some(i) = next else { break };
        done[i] = true;
        order.push(nodes[i].logical_id.clone());
    }
    if order.len() < nodes.len() {
        // Of the resources left, those that reach themselves are on a cycle.
        let reaches_itself = |start: usize| {
            let mut seen = BTreeSet::new();
            let mut stack = edges[start].clone();
            while let Some(n) = stack.pop() {
                if n == start {
                    return true;
                }
                if seen.insert(n) {
                    stack.extend(edges[n].iter().copied());
                }
            }
            false
        };
        let cycle: Vec<&str> = (0..nodes.len())
            .filter(|&i| !done[i] && reaches_itself(i))
            .map(|i| nodes[i].logical_id.as_str())
            .collect();
        return Err(TemplateError::validation(format!(
            "Circular dependency between resources: [{}]",
            cycle.join(", ")
        )));
    }
    Ok(order)
}

/// The order to delete resources in: the reverse of [`creation_order`].
pub fn deletion_order(graph: &[Dependencies], active: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
    let mut order = creation_order(graph, active)?;
    order.reverse();
    Ok(order)
}
