//! Intrinsic function calls: recognising them, their argument shapes, and the `Fn::Sub` string
//! syntax. Shared by the static checks ([`crate::validate`]) and evaluation ([`crate::eval`]) so
//! both say the same thing about the same mistake.

use crate::error::{Result, TemplateError};
use crate::value::Value;

/// Every function kinko evaluates, in the order CloudFormation lists them when it meets one it
/// does not support (AWS's list also has the `Rules` functions, `Fn::Cidr` and the language
/// extensions, which kinko does not evaluate).
pub const SUPPORTED_FUNCTIONS: [&str; 16] = [
    "Fn::Base64",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Select",
    "Ref",
    "Fn::Equals",
    "Fn::If",
    "Fn::Not",
    "Condition",
    "Fn::And",
    "Fn::Or",
    "Fn::Sub",
];

/// The pseudo parameters `Ref` (and `${}` in `Fn::Sub`) accept.
pub const PSEUDO_PARAMETERS: [&str; 8] = [
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The function call a value is, if it is one: a one-key map whose key is `Ref` or starts with
/// `Fn::` (and `Condition`, where `condition_context` says it is a function: only in
/// `Conditions`; elsewhere a `Condition` key is data, as in IAM policy statements).
pub fn call(value: &Value, condition_context: bool) -> Option<(&str, &Value)> {
    let (key, arg) = value.as_map()?.single()?;
    (key == "Ref" || key.starts_with("Fn::") || (condition_context && key == "Condition"))
        .then_some((key, arg))
}

/// The error for a function name kinko does not evaluate.
pub fn unsupported(name: &str) -> TemplateError {
    TemplateError::format(format!(
        "Encountered unsupported function: {name} Supported functions are: [{}]",
        SUPPORTED_FUNCTIONS.join(", ")
    ))
}

/// `Ref`'s argument.
pub fn ref_target(arg: &Value) -> Result<&str> {
    arg.as_str()
        .ok_or_else(|| TemplateError::format("Every Ref object must have a single String value."))
}

/// `Fn::GetAtt`'s arguments: `[Resource, Attribute]` or `"Resource.Attribute"`. The attribute
/// may be a `Ref` to a parameter, hence a value.
pub fn get_att_args(arg: &Value) -> Result<(&str, GetAttName<'_>)> {
    let bad = || TemplateError::template("every Fn::GetAtt object requires two non-empty parameters");
    match arg {
        Value::String(s) => match s.split_once('.') {
            Some((r, a)) if !r.is_empty() && !a.is_empty() => Ok((r, GetAttName::Literal(a))),
            _ => Err(bad()),
        },
        Value::List(l) => match l.as_slice() {
            [Value::String(r), Value::String(a)] if !r.is_empty() && !a.is_empty() => {
                Ok((r, GetAttName::Literal(a)))
            }
            [Value::String(r), v @ Value::Map(_)] if !r.is_empty() => Ok((r, GetAttName::Value(v))),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// A `Fn::GetAtt` attribute name: written out, or computed.
pub enum GetAttName<'a> {
    /// Written out.
    Literal(&'a str),
    /// A function (usually `Ref` to a parameter) that gives the name.
    Value(&'a Value),
}

/// `Fn::Join`'s arguments.
pub fn join_args(arg: &Value) -> Result<(&str, &Value)> {
    match arg.as_list() {
        Some([Value::String(d), list @ (Value::List(_) | Value::Map(_))]) => Ok((d, list)),
        _ => Err(join_error()),
    }
}

/// The error for a `Fn::Join` whose arguments are not a delimiter and a list of strings.
pub fn join_error() -> TemplateError {
    TemplateError::template(
        "every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of \
         strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) \
         to be joined.",
    )
}

/// `Fn::Split`'s arguments.
pub fn split_args(arg: &Value) -> Result<(&str, &Value)> {
    match arg.as_list() {
        Some([Value::String(d), s @ (Value::String(_) | Value::Map(_))]) if !d.is_empty() => Ok((d, s)),
        // [unverified wording], modelled on Fn::Join's.
        _ => Err(TemplateError::template(
            "every Fn::Split object requires two parameters, (1) a string delimiter and (2) a \
             string to be split or a function that returns a string to be split.",
        )),
    }
}

/// `Fn::Select`'s arguments.
pub fn select_args(arg: &Value) -> Result<(&Value, &Value)> {
    match arg.as_list() {
        Some([i, list @ (Value::List(_) | Value::Map(_))]) => Ok((i, list)),
        _ => Err(select_error()),
    }
}

/// The error for a `Fn::Select` whose arguments are not an index and a list.
pub fn select_error() -> TemplateError {
    // [unverified wording]
    TemplateError::template(
        "Fn::Select requires a list argument with two elements: an integer index and a list",
    )
}

/// `Fn::Sub`'s arguments: the string and the variable map (empty for the one-string form).
pub fn sub_args(arg: &Value) -> Result<(&str, Option<&crate::value::Map>)> {
    match arg {
        Value::String(s) => Ok((s, None)),
        Value::List(l) => match l.as_slice() {
            [Value::String(s), Value::Map(m)] => Ok((s, Some(m))),
            [Value::String(s)] => Ok((s, None)),
            _ => Err(sub_error()),
        },
        _ => Err(sub_error()),
    }
}

fn sub_error() -> TemplateError {
    TemplateError::template(
        "One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a \
         string as first argument, and an optional second argument to specify a mapping of \
         values to replace in the string",
    )
}

/// `Fn::If`'s arguments.
pub fn if_args(arg: &Value) -> Result<(&str, &Value, &Value)> {
    match arg.as_list() {
        Some([Value::String(c), a, b]) => Ok((c, a, b)),
        Some([_, _, _]) => Err(TemplateError::template(
            "Fn::If requires a list argument with the first element being a condition",
        )),
        // [unverified wording]
        _ => Err(TemplateError::template(
            "Fn::If requires a list argument with three elements",
        )),
    }
}

/// `Fn::FindInMap`'s arguments.
pub fn find_in_map_args(arg: &Value) -> Result<[&Value; 3]> {
    match arg.as_list() {
        Some([m, k1, k2]) => Ok([m, k1, k2]),
        _ => Err(TemplateError::template(
            "every Fn::FindInMap object requires three parameters, the map name, map key and the \
             attribute for return value",
        )),
    }
}

/// The operands of `Fn::Equals` (2), `Fn::Not` (1), `Fn::And` / `Fn::Or` (2 to 10).
pub fn condition_operands<'a>(name: &str, arg: &'a Value) -> Result<&'a [Value]> {
    let (min, max) = match name {
        "Fn::Equals" => (2, 2),
        "Fn::Not" => (1, 1),
        _ => (2, 10),
    };
    match arg.as_list() {
        Some(l) if (min..=max).contains(&l.len()) => Ok(l),
        _ if name == "Fn::Equals" => Err(equals_error()),
        // [unverified wording]
        _ if name == "Fn::Not" => Err(TemplateError::template(
            "Fn::Not requires a list argument with one element",
        )),
        // [unverified wording]
        _ => Err(TemplateError::template(format!(
            "{name} requires a list argument with between {min} and {max} elements"
        ))),
    }
}

/// The error for a `Fn::Equals` that does not compare two strings (also when an operand turns
/// out to be a list, such as a `CommaDelimitedList` parameter).
pub fn equals_error() -> TemplateError {
    TemplateError::template("every Fn::Equals object requires a list of 2 string parameters.")
}

/// One piece of a `Fn::Sub` string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubPart {
    /// Text taken as it is (a `${!Name}` escape is already `${Name}` here).
    Literal(String),
    /// `${Name}`, `${Resource.Attribute}` or `${AWS::Region}`.
    Variable(String),
}

/// Splits a `Fn::Sub` string into literal text and variables.
pub fn parse_sub(s: &str) -> Result<Vec<SubPart>> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // An unclosed `${` is text.
            literal.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        if let Some(escaped) = name.strip_prefix('!') {
            literal.push_str("${");
            literal.push_str(escaped);
            literal.push('}');
        } else {
            let name = name.trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
            {
                return Err(TemplateError::template(
                    "variable names in Fn::Sub syntax must contain only alphanumeric characters, \
                     underscores, periods, and colons",
                ));
            }
            if !literal.is_empty() {
                parts.push(SubPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(SubPart::Variable(name.to_owned()));
        }
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(SubPart::Literal(literal));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_syntax() {
        assert_eq!(
            parse_sub("arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}-${Role.Arn}x").unwrap(),
            vec![
                SubPart::Literal("arn:".into()),
                SubPart::Variable("AWS::Partition".into()),
                SubPart::Literal(":s3:::".into()),
                SubPart::Variable("Bucket".into()),
                SubPart::Literal("/${Literal}-".into()),
                SubPart::Variable("Role.Arn".into()),
                SubPart::Literal("x".into()),
            ]
        );
        assert_eq!(
            parse_sub("no vars ${ here").unwrap(),
            vec![SubPart::Literal("no vars ${ here".into())]
        );
        assert!(
            parse_sub("${a b}")
                .unwrap_err()
                .message()
                .starts_with("Template error: variable names in Fn::Sub syntax")
        );
    }

    #[test]
    fn calls_are_one_key_maps() {
        let v = crate::parse::parse_json(r#"{"Fn::Join": ["", []]}"#).unwrap();
        assert_eq!(call(&v, false).map(|c| c.0), Some("Fn::Join"));
        let v = crate::parse::parse_json(r#"{"Condition": "X"}"#).unwrap();
        assert!(call(&v, false).is_none());
        assert!(call(&v, true).is_some());
        let v = crate::parse::parse_json(r#"{"Ref": "X", "Other": 1}"#).unwrap();
        assert!(call(&v, false).is_none());
    }
}
