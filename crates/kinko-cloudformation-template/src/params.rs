//! Binding parameter values to a template's `Parameters`: given values, defaults, and the
//! constraints CloudFormation checks (`AllowedValues`, `AllowedPattern`, lengths, bounds, types).
//! `UsePreviousValue` is the caller's: it passes the previous value as a given one.

use crate::error::{Result, TemplateError};
use crate::model::{Parameter, ParameterType, Template};
use crate::value::Value;

/// The parameters' values for one stack operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BoundParameters {
    values: Vec<(String, String)>,
}

impl BoundParameters {
    /// The value of `name` as given (list types comma-separated).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter and its value, in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The same values with `name`'s replaced by `value`, unchecked: what a stack records of
    /// its deployed resources in place of a NoEcho parameter's value.
    pub fn with_value(mut self, name: &str, value: &str) -> BoundParameters {
        for (n, v) in &mut self.values {
            if n == name {
                value.clone_into(v);
            }
        }
        self
    }

    /// What `Ref` to parameter `p` gives: a string, or a list of strings for list types (each
    /// member space-trimmed, as CloudFormation documents for `CommaDelimitedList`).
    pub(crate) fn ref_value(&self, p: &Parameter) -> Option<Value> {
        let v = self.get(&p.name)?;
        Some(if p.parameter_type.is_list() {
            Value::List(split_list(v).into_iter().map(Value::string).collect())
        } else {
            Value::string(v)
        })
    }
}

fn split_list(v: &str) -> Vec<String> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split(',').map(|s| s.trim().to_owned()).collect()
}

/// Binds `given` (name, value) pairs to the template's parameters, filling defaults and checking
/// constraints, with CloudFormation's `ValidationError` texts.
pub fn bind_parameters(template: &Template, given: &[(String, String)]) -> Result<BoundParameters> {
    let unknown: Vec<&str> = given
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| template.parameter(n).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(TemplateError::validation(format!(
            "Parameters: [{}] do not exist in the template",
            unknown.join(", ")
        )));
    }
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for p in &template.parameters {
        let value = given
            .iter()
            .rev()
            .find(|(n, _)| *n == p.name)
            .map(|(_, v)| v.clone())
            .or_else(|| p.default.clone());
        match value {
            Some(v) => values.push((p.name.clone(), v)),
            None => missing.push(p.name.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(TemplateError::validation(format!(
            "Parameters: [{}] must have values",
            missing.join(", ")
        )));
    }
    for (p, (_, v)) in template.parameters.iter().zip(&values) {
        check_value(p, v)?;
    }
    Ok(BoundParameters { values })
}

/// Checks one value against a parameter's type and constraints.
pub fn check_value(p: &Parameter, value: &str) -> Result<()> {
    let name = &p.name;
    let members: Vec<String> = if p.parameter_type.is_list() {
        split_list(value)
    } else {
        vec![value.to_owned()]
    };
    let numeric = matches!(
        p.parameter_type,
        ParameterType::Number | ParameterType::ListNumber
    );
    if numeric {
        for m in &members {
            if m.parse::<f64>().map_or(true, |f| !f.is_finite()) {
                // [unverified wording]
                return Err(TemplateError::validation(format!(
                    "Parameter '{name}' must be a number"
                )));
            }
        }
    }
    // A ConstraintDescription replaces the reason AWS would otherwise give.
    let failed = |reason: String| {
        TemplateError::validation(match &p.constraint_description {
            Some(d) => format!("Parameter '{name}' failed to satisfy constraint: {d}"),
            None => format!("Parameter '{name}' {reason}"),
        })
    };
    if let Some(allowed) = &p.allowed_values {
        let ok = |m: &str| {
            allowed.iter().any(|a| {
                a == m
                    || (numeric
                        && a.parse::<f64>()
                            .ok()
                            .is_some_and(|x| m.parse::<f64>().ok() == Some(x)))
            })
        };
        let all_ok = if p.parameter_type.is_list() {
            members.iter().all(|m| ok(m))
        } else {
            ok(value)
        };
        if !all_ok {
            return Err(failed("must be one of AllowedValues".to_owned()));
        }
    }
    // AllowedPattern, MinLength and MaxLength apply to string types, MinValue and MaxValue to
    // numbers (the Parameters reference).
    if let Some(pattern) = p.allowed_pattern.as_ref().filter(|_| !numeric) {
        // Parsing the template already proved the pattern compiles.
        if let Ok(re) = regex::Regex::new(&format!("^(?:{pattern})$"))
            && !members.iter().all(|m| re.is_match(m))
        {
            return Err(failed(format!("must match pattern {pattern}")));
        }
    }
    let chars = value.chars().count() as u64;
    if let Some(min) = p.min_length.filter(|_| !numeric)
        && chars < min
    {
        return Err(failed(format!("must contain at least {min} characters")));
    }
    if let Some(max) = p.max_length.filter(|_| !numeric)
        && chars > max
    {
        // [unverified wording], the counterpart of the MinLength text.
        return Err(failed(format!("must contain at most {max} characters")));
    }
    if numeric {
        for m in &members {
            let x: f64 = m.parse().unwrap_or(f64::NAN);
            if let Some(min) = &p.min_value
                && min.parse::<f64>().is_ok_and(|min| x < min)
            {
                return Err(failed(format!("must be a number not less than {min}")));
            }
            if let Some(max) = &p.max_value
                && max.parse::<f64>().is_ok_and(|max| x > max)
            {
                return Err(failed(format!("must be a number not greater than {max}")));
            }
        }
    }
    Ok(())
}

/// Checks every parameter's `Default` against its own constraints, as `ValidateTemplate`
/// does (`Template contains errors.: Parameter 'Naming' must contain at least 12 characters`).
pub fn check_defaults(template: &Template) -> Result<()> {
    for p in &template.parameters {
        if let Some(d) = &p.default {
            check_value(p, d)?;
        }
    }
    Ok(())
}
