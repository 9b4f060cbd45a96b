//! The parsed template: its sections as typed values, checked for shape the way
//! CloudFormation checks them before anything is evaluated.

use crate::error::{Result, TemplateError};
use crate::parse::{Format, parse_body};
use crate::value::{Map, Value};

/// The only template format version CloudFormation knows.
pub const FORMAT_VERSION: &str = "2010-09-09";

const TOP_LEVEL: [&str; 11] = [
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
];

const PARAMETER_PROPERTIES: [&str; 10] = [
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "MinLength",
    "MaxLength",
    "MinValue",
    "MaxValue",
    "NoEcho",
    "ConstraintDescription",
];

const RESOURCE_ATTRIBUTES: [&str; 10] = [
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Metadata",
    "CreationPolicy",
    "UpdatePolicy",
    "Version",
];

const OUTPUT_PROPERTIES: [&str; 4] = ["Value", "Description", "Export", "Condition"];

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// The syntax the body was written in.
    pub format: Format,
    /// The whole body as parsed (short forms already in long form).
    pub body: Value,
    /// `AWSTemplateFormatVersion`.
    pub format_version: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `Transform`: one name or several.
    pub transform: Vec<String>,
    /// `Parameters`, in template order.
    pub parameters: Vec<Parameter>,
    /// `Mappings`: map name → top-level key → second-level key → string or list.
    pub mappings: Map,
    /// `Conditions`: name → condition function, in template order.
    pub conditions: Vec<(String, Value)>,
    /// `Resources`, in template order.
    pub resources: Vec<Resource>,
    /// `Outputs`, in template order.
    pub outputs: Vec<Output>,
}

/// A parameter's `Type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParameterType {
    /// `String`.
    String,
    /// `Number`: an integer or float, passed on as text.
    Number,
    /// `List<Number>`.
    ListNumber,
    /// `CommaDelimitedList`.
    CommaDelimitedList,
    /// An AWS-specific type (`AWS::EC2::VPC::Id`, `List<AWS::EC2::Subnet::Id>`,
    /// `AWS::SSM::Parameter::Value<String>`, ...), kept as written. Values are taken as strings
    /// (lists when the name starts with `List<`); the caller refuses the SSM types it cannot
    /// look up.
    Aws(String),
}

impl ParameterType {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "String" => ParameterType::String,
            "Number" => ParameterType::Number,
            "List<Number>" => ParameterType::ListNumber,
            "CommaDelimitedList" => ParameterType::CommaDelimitedList,
            n if n.starts_with("AWS::") || n.starts_with("List<AWS::") => ParameterType::Aws(n.to_owned()),
            _ => return None,
        })
    }

    /// The name as written in the template.
    pub fn name(&self) -> &str {
        match self {
            ParameterType::String => "String",
            ParameterType::Number => "Number",
            ParameterType::ListNumber => "List<Number>",
            ParameterType::CommaDelimitedList => "CommaDelimitedList",
            ParameterType::Aws(n) => n,
        }
    }

    /// Whether `Ref` to the parameter gives a list.
    pub fn is_list(&self) -> bool {
        match self {
            ParameterType::ListNumber | ParameterType::CommaDelimitedList => true,
            ParameterType::Aws(n) => n.starts_with("List<") || n.ends_with("<List<String>>"),
            ParameterType::String | ParameterType::Number => false,
        }
    }

    /// Whether the value is the name of an SSM parameter to look up
    /// (`AWS::SSM::Parameter::Value<...>`).
    pub fn is_ssm_parameter_value(&self) -> bool {
        matches!(self, ParameterType::Aws(n) if n.starts_with("AWS::SSM::Parameter::Value<"))
    }
}

/// One entry of `Parameters`.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// The logical name.
    pub name: String,
    /// `Type`.
    pub parameter_type: ParameterType,
    /// `Default`, as text.
    pub default: Option<String>,
    /// `AllowedValues`, as text.
    pub allowed_values: Option<Vec<String>>,
    /// `AllowedPattern` (a whole-value match).
    pub allowed_pattern: Option<String>,
    /// `MinLength`.
    pub min_length: Option<u64>,
    /// `MaxLength`.
    pub max_length: Option<u64>,
    /// `MinValue`, as written.
    pub min_value: Option<String>,
    /// `MaxValue`, as written.
    pub max_value: Option<String>,
    /// `NoEcho`: the value is shown as `****` wherever it is described.
    pub no_echo: bool,
    /// `Description`.
    pub description: Option<String>,
    /// `ConstraintDescription`: replaces the reason when a constraint fails.
    pub constraint_description: Option<String>,
}

/// `DeletionPolicy` / `UpdateReplacePolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Delete the resource (the default).
    Delete,
    /// Keep the resource.
    Retain,
    /// Keep it unless the stack operation that created it rolls back.
    RetainExceptOnCreate,
    /// Snapshot then delete (for types that support snapshots).
    Snapshot,
}

impl DeletionPolicy {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Delete" => DeletionPolicy::Delete,
            "Retain" => DeletionPolicy::Retain,
            "RetainExceptOnCreate" => DeletionPolicy::RetainExceptOnCreate,
            "Snapshot" => DeletionPolicy::Snapshot,
            _ => return None,
        })
    }
}

/// One entry of `Resources`.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The logical id.
    pub logical_id: String,
    /// `Type`, e.g. `AWS::IAM::Role`.
    pub resource_type: String,
    /// `Properties` (unresolved).
    pub properties: Map,
    /// `DependsOn`, one name or several.
    pub depends_on: Vec<String>,
    /// `Condition`.
    pub condition: Option<String>,
    /// `DeletionPolicy`.
    pub deletion_policy: Option<DeletionPolicy>,
    /// `UpdateReplacePolicy`.
    pub update_replace_policy: Option<DeletionPolicy>,
    /// `Metadata` (unresolved).
    pub metadata: Option<Value>,
}

/// One entry of `Outputs`.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The logical id.
    pub logical_id: String,
    /// `Value` (unresolved).
    pub value: Value,
    /// `Description` (unresolved).
    pub description: Option<Value>,
    /// `Export.Name` (unresolved).
    pub export_name: Option<Value>,
    /// `Condition`.
    pub condition: Option<String>,
}

fn is_alphanumeric(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn section<'a>(root: &'a Map, name: &str) -> Result<Option<&'a Map>> {
    match root.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Map(m)) => Ok(Some(m)),
        // [unverified wording] AWS reports a section of the wrong shape in this form.
        Some(_) => Err(TemplateError::format(format!("{name} section must be an object"))),
    }
}

fn text(value: &Value) -> Option<String> {
    value.scalar_text()
}

impl Template {
    /// Parses and shape-checks a template body. References, intrinsic functions and
    /// dependencies are checked by [`Template::validate`].
    pub fn parse(body: &str) -> Result<Self> {
        let (value, format) = parse_body(body)?;
        Self::from_value(value, format)
    }

    /// Builds a template from an already-parsed tree.
    pub fn from_value(body: Value, format: Format) -> Result<Self> {
        let Value::Map(root) = &body else {
            return Err(TemplateError::format("unsupported structure."));
        };
        let unknown: Vec<&str> = root.keys().filter(|k| !TOP_LEVEL.contains(k)).collect();
        if !unknown.is_empty() {
            return Err(TemplateError::format(format!(
                "Invalid template property or properties [{}]",
                unknown.join(", ")
            )));
        }
        let format_version = match root.get("AWSTemplateFormatVersion") {
            None => None,
            Some(v) => match text(v) {
                Some(t) if t == FORMAT_VERSION => Some(t),
                // [unverified wording]
                other => {
                    let v = other.unwrap_or_else(|| v.to_string());
                    return Err(TemplateError::format(format!(
                        "Unsupported template format version {v}"
                    )));
                }
            },
        };
        let description = root.get("Description").and_then(text);
        let transform = match root.get("Transform") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::List(l)) => l.iter().filter_map(text).collect(),
            Some(v) => text(v).into_iter().collect(),
        };

        let mut parameters = Vec::new();
        if let Some(params) = section(root, "Parameters")? {
            for (name, def) in params.iter() {
                parameters.push(parse_parameter(name, def)?);
            }
        }

        let mappings = section(root, "Mappings")?.cloned().unwrap_or_default();
        check_mappings(&mappings)?;

        let conditions = section(root, "Conditions")?
            .map(|m| m.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect())
            .unwrap_or_default();

        let mut resources = Vec::new();
        match section(root, "Resources")? {
            Some(m) if !m.is_empty() => {
                for (id, def) in m.iter() {
                    resources.push(parse_resource(id, def)?);
                }
            }
            _ => {
                return Err(TemplateError::format(
                    "At least one Resources member must be defined.",
                ));
            }
        }

        let mut outputs = Vec::new();
        if let Some(m) = section(root, "Outputs")? {
            for (id, def) in m.iter() {
                outputs.push(parse_output(id, def)?);
            }
        }

        Ok(Template {
            format,
            format_version,
            description,
            transform,
            parameters,
            mappings,
            conditions,
            resources,
            outputs,
            body,
        })
    }

    /// The parameter named `name`.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The resource with logical id `id`.
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.logical_id == id)
    }

    /// Checks every resource type against what the caller can create, with CloudFormation's
    /// text (`Template format error: Unrecognized resource types: [AWS::S3::Bucket]`, each type
    /// once, in template order).
    pub fn check_resource_types(&self, supported: &dyn Fn(&str) -> bool) -> Result<()> {
        let mut unknown: Vec<&str> = Vec::new();
        for r in &self.resources {
            if !supported(&r.resource_type) && !unknown.contains(&r.resource_type.as_str()) {
                unknown.push(&r.resource_type);
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        Err(TemplateError::format(format!(
            "Unrecognized resource types: [{}]",
            unknown.join(", ")
        )))
    }

    /// Every dynamic reference in the resources' properties, as (logical id, reference), in
    /// template order, so the caller can refuse the kinds it does not serve (`ssm`,
    /// `ssm-secure`) before it creates anything. A malformed reference is an error here.
    pub fn dynamic_references(&self) -> Result<Vec<(String, crate::DynamicReference)>> {
        fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::String(s) => out.push(s),
                Value::List(l) => l.iter().for_each(|x| strings(x, out)),
                Value::Map(m) => m.iter().for_each(|(_, x)| strings(x, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        for r in &self.resources {
            let mut texts = Vec::new();
            r.properties.iter().for_each(|(_, v)| strings(v, &mut texts));
            for t in texts {
                for (_, reference) in crate::dynref::find(t)? {
                    found.push((r.logical_id.clone(), reference));
                }
            }
        }
        Ok(found)
    }

    /// The condition named `name`.
    pub fn condition(&self, name: &str) -> Option<&Value> {
        self.conditions.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

fn parse_parameter(name: &str, def: &Value) -> Result<Parameter> {
    if !is_alphanumeric(name) {
        return Err(TemplateError::format(format!(
            "Parameter name {name} is non alphanumeric."
        )));
    }
    let Value::Map(def) = def else {
        return Err(TemplateError::format(
            "Every Parameters object must contain a Type member.",
        ));
    };
    if let Some(bad) = def
        .keys()
        .find(|k| !PARAMETER_PROPERTIES.contains(k) && *k != "Description")
    {
        return Err(TemplateError::format(format!(
            "Invalid template parameter property '{bad}'"
        )));
    }
    let type_name = def
        .get("Type")
        .and_then(text)
        .ok_or_else(|| TemplateError::format("Every Parameters object must contain a Type member."))?;
    let parameter_type = ParameterType::parse(&type_name)
        .ok_or_else(|| TemplateError::format(format!("Unrecognized parameter type: {type_name}")))?;
    let default = match def.get("Default") {
        None => None,
        // A list default (for list types) is the same list written comma-separated.
        Some(Value::List(l)) => Some(l.iter().filter_map(text).collect::<Vec<_>>().join(",")),
        Some(v) => text(v),
    };
    let allowed_values = match def.get("AllowedValues") {
        None => None,
        Some(Value::List(l)) => Some(l.iter().filter_map(text).collect()),
        Some(v) => Some(text(v).into_iter().collect()),
    };
    let count = |key: &str| -> Result<Option<u64>> {
        match def.get(key) {
            None => Ok(None),
            Some(v) => text(v)
                .and_then(|t| t.parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| {
                    // [unverified wording]
                    TemplateError::format(format!("Parameter '{name}' {key} must be a non-negative integer"))
                }),
        }
    };
    let bound = |key: &str| -> Result<Option<String>> {
        match def.get(key) {
            None => Ok(None),
            Some(v) => text(v)
                .filter(|t| t.parse::<f64>().is_ok())
                .map(Some)
                .ok_or_else(|| {
                    // [unverified wording]
                    TemplateError::format(format!("Parameter '{name}' {key} must be a number"))
                }),
        }
    };
    let allowed_pattern = def.get("AllowedPattern").and_then(text);
    if let Some(p) = &allowed_pattern
        && regex::Regex::new(&format!("^(?:{p})$")).is_err()
    {
        // [unverified wording]
        return Err(TemplateError::format(format!(
            "Parameter '{name}' AllowedPattern {p} is not a valid regular expression"
        )));
    }
    Ok(Parameter {
        name: name.to_owned(),
        parameter_type,
        default,
        allowed_values,
        allowed_pattern,
        min_length: count("MinLength")?,
        max_length: count("MaxLength")?,
        min_value: bound("MinValue")?,
        max_value: bound("MaxValue")?,
        no_echo: def
            .get("NoEcho")
            .and_then(text)
            .is_some_and(|t| t.eq_ignore_ascii_case("true")),
        description: def.get("Description").and_then(text),
        constraint_description: def.get("ConstraintDescription").and_then(text),
    })
}

fn check_mappings(mappings: &Map) -> Result<()> {
    for (_, top) in mappings.iter() {
        let Value::Map(top) = top else {
            return Err(TemplateError::format(
                "Every Mappings member must be a map of maps.",
            ));
        };
        for (_, second) in top.iter() {
            let Value::Map(second) = second else {
                return Err(TemplateError::format(
                    "Every Mappings member must be a map of maps.",
                ));
            };
            for (_, leaf) in second.iter() {
                let ok = match leaf {
                    Value::List(l) => l.iter().all(|v| v.scalar_text().is_some()),
                    v => v.scalar_text().is_some(),
                };
                if !ok {
                    return Err(TemplateError::format(
                        "Every Mappings attribute must be a String or a List.",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn parse_resource(id: &str, def: &Value) -> Result<Resource> {
    if !is_alphanumeric(id) {
        return Err(TemplateError::format(format!(
            "Resource name {id} is non alphanumeric."
        )));
    }
    let no_type = || TemplateError::format("Every Resources object must contain a Type member.");
    let Value::Map(def) = def else {
        return Err(no_type());
    };
    if let Some(bad) = def.keys().find(|k| !RESOURCE_ATTRIBUTES.contains(k)) {
        return Err(TemplateError::validation(format!(
            "Invalid template resource property '{bad}'"
        )));
    }
    let resource_type = def.get("Type").and_then(Value::as_str).ok_or_else(no_type)?;
    let properties = match def.get("Properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Map(m)) => m.clone(),
        // [unverified wording]
        Some(_) => {
            return Err(TemplateError::format(format!(
                "Properties of resource {id} must be an object"
            )));
        }
    };
    let depends_on = match def.get("DependsOn") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::List(l)) if l.iter().all(|v| v.as_str().is_some()) => {
            l.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        }
        Some(_) => {
            return Err(TemplateError::format(
                "DependsOn must be a string or list of strings.",
            ));
        }
    };
    let policy = |key: &str| -> Result<Option<DeletionPolicy>> {
        match def.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(DeletionPolicy::parse)
                .map(Some)
                // [unverified wording]
                .ok_or_else(|| {
                    let v = v.scalar_text().unwrap_or_else(|| v.to_string());
                    TemplateError::format(format!("Unrecognized {key} {v} for resource {id}"))
                }),
        }
    };
    let condition = match def.get("Condition") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(TemplateError::format("Every Condition member must be a string."));
        }
    };
    Ok(Resource {
        logical_id: id.to_owned(),
        resource_type: resource_type.to_owned(),
        properties,
        depends_on,
        condition,
        deletion_policy: policy("DeletionPolicy")?,
        update_replace_policy: policy("UpdateReplacePolicy")?,
        metadata: def.get("Metadata").cloned(),
    })
}

fn parse_output(id: &str, def: &Value) -> Result<Output> {
    if !is_alphanumeric(id) {
        return Err(TemplateError::format(format!(
            "Output name {id} is non alphanumeric."
        )));
    }
    let no_value = || TemplateError::format("Every Outputs member must contain a Value object");
    let Value::Map(def) = def else {
        return Err(no_value());
    };
    let unknown: Vec<&str> = def.keys().filter(|k| !OUTPUT_PROPERTIES.contains(k)).collect();
    if !unknown.is_empty() {
        return Err(TemplateError::format(format!(
            "Invalid outputs property : [{}].",
            unknown.join(", ")
        )));
    }
    let value = def.get("Value").cloned().ok_or_else(no_value)?;
    let export_name = match def.get("Export") {
        None => None,
        Some(Value::Map(e)) if e.contains_key("Name") => e.get("Name").cloned(),
        // [unverified wording]
        Some(_) => {
            return Err(TemplateError::format(format!(
                "Output {id} is malformed. The Export field must contain a Name."
            )));
        }
    };
    let condition = match def.get("Condition") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(TemplateError::format("Every Condition member must be a string."));
        }
    };
    Ok(Output {
        logical_id: id.to_owned(),
        value,
        description: def.get("Description").cloned(),
        export_name,
        condition,
    })
}
