//! The `Condition` element: operators, their parsed values, and evaluation.
//!
//! Owns parsing of `{operator: {key: value | [values]}}` blocks and the semantics from the IAM
//! User Guide ("Condition operators", "Conditions with multiple context keys or values",
//! "Single-valued vs. multivalued context keys"):
//!
//! - all operators and all keys of a block are ANDed; the values of one key are ORed, and for a
//!   negated operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …) they are NORed;
//! - a missing key makes a positive operator false and a negated one true; `…IfExists` makes
//!   any operator true when the key is missing; `Null` tests presence;
//! - `ForAllValues:` is true when every request value matches (and when the key is missing or
//!   has no values); `ForAnyValue:` is true when at least one does (false when missing/empty).
//!   With a negated operator, "matches" means the per-value NOR;
//! - policy variables are substituted in string, ARN and `Bool` values only; a value whose
//!   variable cannot be resolved matches nothing, and makes a negated operator's condition false
//!   (AWS: "any attempt to match it fails and causes the statement to be invalid").
//!
//! Key names are case-insensitive (lower-cased here); operator names are read
//! case-insensitively too. Pure: no I/O.

use std::net::IpAddr;

use base64::Engine as _;

use crate::context::{ConditionContext, ContextValue, parse_date, parse_number};
use crate::error::PolicyError;
use crate::json::{Json, has_duplicate_keys};
use crate::pattern::{ArnTemplate, Syntax, Template};

/// A base condition operator (without `IfExists` or a set qualifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPS: &[(&str, Op)] = &[
    ("stringequals", Op::StringEquals),
    ("stringnotequals", Op::StringNotEquals),
    ("stringequalsignorecase", Op::StringEqualsIgnoreCase),
    ("stringnotequalsignorecase", Op::StringNotEqualsIgnoreCase),
    ("stringlike", Op::StringLike),
    ("stringnotlike", Op::StringNotLike),
    ("numericequals", Op::NumericEquals),
    ("numericnotequals", Op::NumericNotEquals),
    ("numericlessthan", Op::NumericLessThan),
    ("numericlessthanequals", Op::NumericLessThanEquals),
    ("numericgreaterthan", Op::NumericGreaterThan),
    ("numericgreaterthanequals", Op::NumericGreaterThanEquals),
    ("dateequals", Op::DateEquals),
    ("datenotequals", Op::DateNotEquals),
    ("datelessthan", Op::DateLessThan),
    ("datelessthanequals", Op::DateLessThanEquals),
    ("dategreaterthan", Op::DateGreaterThan),
    ("dategreaterthanequals", Op::DateGreaterThanEquals),
    ("bool", Op::Bool),
    ("binaryequals", Op::BinaryEquals),
    ("ipaddress", Op::IpAddress),
    ("notipaddress", Op::NotIpAddress),
    ("arnequals", Op::ArnEquals),
    ("arnlike", Op::ArnLike),
    ("arnnotequals", Op::ArnNotEquals),
    ("arnnotlike", Op::ArnNotLike),
    ("null", Op::Null),
];

impl Op {
    fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEquals
                | Op::StringNotEqualsIgnoreCase
                | Op::StringNotLike
                | Op::NumericNotEquals
                | Op::DateNotEquals
                | Op::NotIpAddress
                | Op::ArnNotEquals
                | Op::ArnNotLike
        )
    }
}

/// `ForAllValues:` / `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn of(op: Op) -> Cmp {
        match op {
            Op::NumericLessThan | Op::DateLessThan => Cmp::Lt,
            Op::NumericLessThanEquals | Op::DateLessThanEquals => Cmp::Le,
            Op::NumericGreaterThan | Op::DateGreaterThan => Cmp::Gt,
            Op::NumericGreaterThanEquals | Op::DateGreaterThanEquals => Cmp::Ge,
            _ => Cmp::Eq,
        }
    }

    /// `request <cmp> policy`.
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// An IPv4 or IPv6 network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `203.0.113.0/24`, `2001:DB8::/32`, or a bare address (`/32` or `/128`).
    pub(crate) fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok()?
            }
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The parsed values of one condition key.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Str(Vec<Template>),
    Arn(Vec<ArnTemplate>),
    Num(Vec<f64>),
    Date(Vec<i128>),
    Ip(Vec<IpNet>),
    Bin(Vec<Vec<u8>>),
    Null(Vec<bool>),
}

/// One `operator: {key: values}` pair of a condition block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    op: Op,
    qualifier: Option<SetQualifier>,
    if_exists: bool,
    key: Box<str>,
    values: Values,
}

fn parse_operator(name: &str) -> Option<(Op, Option<SetQualifier>, bool)> {
    let lower = name.to_ascii_lowercase();
    let (qualifier, rest) = if let Some(r) = lower.strip_prefix("forallvalues:") {
        (Some(SetQualifier::ForAllValues), r)
    } else if let Some(r) = lower.strip_prefix("foranyvalue:") {
        (Some(SetQualifier::ForAnyValue), r)
    } else {
        (None, lower.as_str())
    };
    let (base, if_exists) = match rest.strip_suffix("ifexists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let op = OPS.iter().find(|(n, _)| *n == base).map(|(_, op)| *op)?;
    if op == Op::Null && if_exists {
        // "You can add IfExists to the end of any condition operator name except the Null condition".
        return None;
    }
    Some((op, qualifier, if_exists))
}

/// Whether `name` is a condition operator (with or without a set qualifier and `IfExists`).
pub(crate) fn is_operator(name: &str) -> bool {
    parse_operator(name).is_some()
}

/// Whether `name` is a `Date…` operator, whose values IAM's legacy parser reads.
pub(crate) fn is_date_operator(name: &str) -> bool {
    parse_operator(name).is_some_and(|(op, _, _)| {
        matches!(
            op,
            Op::DateEquals
                | Op::DateNotEquals
                | Op::DateLessThan
                | Op::DateLessThanEquals
                | Op::DateGreaterThan
                | Op::DateGreaterThanEquals
        )
    })
}

fn value_strings(value: &Json, lenient: bool) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Json| match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.clone()),
        Json::Bool(b) => Ok(b.to_string()),
        _ => Err(PolicyError::Syntax),
    };
    match value {
        Json::Array(items) if items.is_empty() && !lenient => Err(PolicyError::Syntax),
        Json::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_all<T>(raw: &[String], f: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    raw.iter().map(|s| f(s)).collect()
}

fn parse_values(op: Op, raw: &[String], variables: bool, lenient: bool) -> Option<Values> {
    let text = |wildcards| Syntax {
        wildcards,
        variables,
        lowercase: false,
    };
    Some(match op {
        Op::StringEquals
        | Op::StringNotEquals
        | Op::StringEqualsIgnoreCase
        | Op::StringNotEqualsIgnoreCase => {
            Values::Str(raw.iter().map(|s| Template::parse(s, text(false))).collect())
        }
        Op::StringLike | Op::StringNotLike => {
            Values::Str(raw.iter().map(|s| Template::parse(s, text(true))).collect())
        }
        Op::Bool => Values::Str(raw.iter().map(|s| Template::parse(s, text(false))).collect()),
        Op::ArnEquals | Op::ArnLike | Op::ArnNotEquals | Op::ArnNotLike => {
            Values::Arn(raw.iter().map(|s| ArnTemplate::parse(s, text(true))).collect())
        }
        Op::NumericEquals
        | Op::NumericNotEquals
        | Op::NumericLessThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThan
        | Op::NumericGreaterThanEquals => Values::Num(parse_all(raw, parse_number)?),
        Op::DateEquals
        | Op::DateNotEquals
        | Op::DateLessThan
        | Op::DateLessThanEquals
        | Op::DateGreaterThan
        | Op::DateGreaterThanEquals
            if lenient =>
        {
            // IAM stores dates its legacy parser reads but that name no instant ("01T"); such
            // a value matches no request date.
            Values::Date(raw.iter().filter_map(|s| parse_date(s)).collect())
        }
        Op::DateEquals
        | Op::DateNotEquals
        | Op::DateLessThan
        | Op::DateLessThanEquals
        | Op::DateGreaterThan
        | Op::DateGreaterThanEquals => Values::Date(parse_all(raw, parse_date)?),
        Op::IpAddress | Op::NotIpAddress => Values::Ip(parse_all(raw, IpNet::parse)?),
        Op::BinaryEquals => Values::Bin(parse_all(raw, |s| {
            base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()
        })?),
        Op::Null => Values::Null(parse_all(raw, |s| match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        })?),
    })
}

/// Checks that a condition key is prefixed by a vendor (`aws:`, `secretsmanager:`, …).
fn check_key(key: &str) -> Result<(), PolicyError> {
    match key.split_once(':') {
        Some((vendor, rest)) if !vendor.is_empty() && !rest.is_empty() => Ok(()),
        _ => Err(PolicyError::MissingVendor),
    }
}

/// Parses a statement's `Condition` element.
///
/// `lenient` is for the policies IAM stores, which its own grammar ([`crate::iam_grammar`])
/// has checked: there an operator may have no keys (an unknown one only then, and it is
/// ignored), a key no vendor prefix, a key an empty list of values, and a `Date…` value may be
/// one that names no instant. Such a block adds no condition, and such a value matches nothing.
pub(crate) fn parse_block(
    block: &Json,
    variables: bool,
    lenient: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let members = block.as_object().ok_or(PolicyError::Syntax)?;
    if has_duplicate_keys(members) {
        return Err(PolicyError::Syntax);
    }
    let mut out = Vec::new();
    for (op_name, keys) in members {
        let keys = keys.as_object().ok_or(PolicyError::Syntax)?;
        if lenient && keys.is_empty() {
            continue;
        }
        let (op, qualifier, if_exists) = parse_operator(op_name).ok_or(PolicyError::Syntax)?;
        if keys.is_empty() || has_duplicate_keys(keys) {
            return Err(PolicyError::Syntax);
        }
        for (key, value) in keys {
            if !lenient {
                check_key(key)?;
            }
            let raw = value_strings(value, lenient)?;
            let values = parse_values(op, &raw, variables, lenient).ok_or(PolicyError::Syntax)?;
            out.push(Condition {
                op,
                qualifier,
                if_exists,
                key: key.to_lowercase().into(),
                values,
            });
        }
    }
    Ok(out)
}

impl Condition {
    /// Does any policy value match the request value `v` under the positive form of the operator?
    fn any_policy_value_matches(&self, v: &ContextValue, ctx: &ConditionContext) -> bool {
        match &self.values {
            Values::Str(templates) => match self.op {
                Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase => {
                    let req = v.as_str().to_lowercase();
                    templates
                        .iter()
                        .any(|t| t.render(ctx).is_some_and(|p| p.to_lowercase() == req))
                }
                Op::Bool => match v.as_bool() {
                    Some(b) => templates.iter().any(|t| {
                        t.render(ctx)
                            .is_some_and(|p| p.eq_ignore_ascii_case(if b { "true" } else { "false" }))
                    }),
                    None => false,
                },
                _ => {
                    let req = v.as_str();
                    templates.iter().any(|t| t.matches(&req, ctx, false))
                }
            },
            Values::Arn(templates) => {
                let req = v.as_str();
                templates.iter().any(|t| t.matches(&req, ctx))
            }
            Values::Num(nums) => {
                let cmp = Cmp::of(self.op);
                v.as_number()
                    .is_some_and(|r| nums.iter().any(|&p| cmp.holds(r, p)))
            }
            Values::Date(dates) => {
                let cmp = Cmp::of(self.op);
                v.as_date()
                    .is_some_and(|r| dates.iter().any(|&p| cmp.holds(r, p)))
            }
            Values::Ip(nets) => v.as_ip().is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
            Values::Bin(blobs) => {
                let req = v.as_bytes();
                blobs.iter().any(|b| **b == *req)
            }
            Values::Null(_) => false,
        }
    }

    /// True if some policy value has a variable with no value in `ctx`.
    fn has_unresolvable(&self, ctx: &ConditionContext) -> bool {
        match &self.values {
            Values::Str(t) => t.iter().any(|t| t.has_vars() && !t.resolvable(ctx)),
            Values::Arn(t) => t.iter().any(|t| t.has_vars() && !t.resolvable(ctx)),
            _ => false,
        }
    }

    /// Evaluates this condition against the request context.
    /// The condition key, lowercased.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn eval(&self, ctx: &ConditionContext) -> bool {
        let present = ctx.get(&self.key).filter(|v| !v.is_empty());
        if let Values::Null(wanted) = &self.values {
            let is_null = present.is_none();
            return wanted.contains(&is_null);
        }
        let Some(request_values) = present else {
            if self.if_exists {
                return true;
            }
            return match self.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => self.op.negated(),
            };
        };
        let negated = self.op.negated();
        if negated && self.has_unresolvable(ctx) {
            return false;
        }
        // For one request value: does it satisfy the operator (per-value OR, or NOR if negated)?
        let satisfies = |v: &ContextValue| self.any_policy_value_matches(v, ctx) != negated;
        match self.qualifier {
            Some(SetQualifier::ForAllValues) => request_values.iter().all(satisfies),
            Some(SetQualifier::ForAnyValue) => request_values.iter().any(satisfies),
            // Without a set operator a key is treated as single-valued; if the caller supplied
            // several values anyway, a positive operator needs one to match and a negated one
            // needs none to match.
            None => {
                let any = request_values
                    .iter()
                    .any(|v| self.any_policy_value_matches(v, ctx));
                any != negated
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(json: &str) -> Vec<Condition> {
        parse_block(&Json::parse(json).unwrap(), true, false).unwrap()
    }

    fn holds(json: &str, ctx: &ConditionContext) -> bool {
        block(json).iter().all(|c| c.eval(ctx))
    }

    #[test]
    fn lenient_blocks_of_iam_stored_policies() {
        let lenient = |json: &str| parse_block(&Json::parse(json).unwrap(), true, true);
        // An operator without keys, known or not, adds no condition.
        assert_eq!(lenient(r#"{"DateGreaterThan":{},"x":{}}"#), Ok(vec![]));
        assert_eq!(lenient(r#"{"x":{"a":"b"}}"#), Err(PolicyError::Syntax));
        // A key without vendor and an empty value list are kept; no value matches.
        let mut ctx = ConditionContext::new();
        ctx.insert("a", "b");
        let empty = lenient(r#"{"StringEquals":{"a":[]}}"#).unwrap();
        assert!(!empty[0].eval(&ctx));
        let empty_negated = lenient(r#"{"StringNotEquals":{"a":[]}}"#).unwrap();
        assert!(empty_negated[0].eval(&ctx));
        // A date IAM's legacy parser reads but that names no instant matches no request date.
        ctx.insert("aws:CurrentTime", "2024-05-01T12:00:00Z");
        let unnamed = lenient(r#"{"DateLessThan":{"aws:CurrentTime":"01T"}}"#).unwrap();
        assert!(!unnamed[0].eval(&ctx));
        assert_eq!(
            parse_block(
                &Json::parse(r#"{"DateLessThan":{"aws:CurrentTime":"01T"}}"#).unwrap(),
                true,
                false
            ),
            Err(PolicyError::Syntax)
        );
    }

    #[test]
    fn operator_names() {
        assert_eq!(
            parse_operator("StringEquals"),
            Some((Op::StringEquals, None, false))
        );
        assert_eq!(
            parse_operator("ForAnyValue:StringLikeIfExists"),
            Some((Op::StringLike, Some(SetQualifier::ForAnyValue), true))
        );
        assert_eq!(parse_operator("NullIfExists"), None);
        assert_eq!(parse_operator("StringEqualz"), None);
        assert_eq!(parse_operator("ForSomeValues:StringEquals"), None);
    }

    #[test]
    fn ip_networks() {
        let n = IpNet::parse("203.0.113.0/24").unwrap();
        assert!(n.contains("203.0.113.9".parse().unwrap()));
        assert!(!n.contains("203.0.114.9".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        let v6 = IpNet::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!v6.contains("203.0.113.9".parse().unwrap()));
        assert_eq!(IpNet::parse("10.0.0.0/33"), None);
        assert_eq!(IpNet::parse("10.0.0.0/"), None);
        assert_eq!(IpNet::parse("nope"), None);
        assert!(
            IpNet::parse("10.1.2.3")
                .unwrap()
                .contains("10.1.2.3".parse().unwrap())
        );
    }

    #[test]
    fn invalid_values_are_syntax_errors() {
        for bad in [
            r#"{"NumericEquals":{"a:b":"x"}}"#,
            r#"{"DateEquals":{"a:b":"tomorrow"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"1.2.3.4/99"}}"#,
            r#"{"BinaryEquals":{"a:b":"!!"}}"#,
            r#"{"Null":{"a:b":"maybe"}}"#,
            r#"{"StringEquals":{"a:b":[]}}"#,
            r#"{"StringEquals":{"a:b":{"x":1}}}"#,
            r#"{"StringEquals":{}}"#,
            r#"{"StringEquals":"x"}"#,
            r#"{"StringEquals":{"a:b":"1"},"StringEquals":{"a:c":"1"}}"#,
        ] {
            assert_eq!(
                parse_block(&Json::parse(bad).unwrap(), true, false),
                Err(PolicyError::Syntax),
                "{bad}"
            );
        }
        assert_eq!(
            parse_block(
                &Json::parse(r#"{"StringEquals":{"SourceIp":"x"}}"#).unwrap(),
                true,
                false
            ),
            Err(PolicyError::MissingVendor)
        );
    }

    #[test]
    fn negated_multi_values_are_nor() {
        let mut ctx = ConditionContext::new();
        ctx.insert("aws:PrincipalTag/role", "audit");
        assert!(!holds(
            r#"{"StringNotEquals":{"aws:PrincipalTag/role":["audit","security"]}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"StringNotEquals":{"aws:PrincipalTag/role":["dev","security"]}}"#,
            &ctx
        ));
    }

    #[test]
    fn set_qualifiers_on_missing_and_empty() {
        let mut ctx = ConditionContext::new();
        assert!(holds(
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
        ctx.set("aws:TagKeys", vec![]);
        assert!(holds(
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
        assert!(holds(r#"{"Null":{"aws:TagKeys":"true"}}"#, &ctx));
        ctx.set("aws:TagKeys", vec!["a".into(), "b".into()]);
        assert!(!holds(
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
        assert!(holds(
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
        assert!(!holds(
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["a"]}}"#,
            &ctx
        ));
    }
}
