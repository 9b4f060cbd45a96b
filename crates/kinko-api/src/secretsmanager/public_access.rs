//! Whether a resource policy grants public access, as Secrets Manager's BlockPublicPolicy and
//! ValidateResourcePolicy's broad-access check see it (the IAM User Guide's "What is public?" of
//! IAM Access Analyzer, which they use): an `Allow` to every principal (`"*"`, `{"AWS": "*"}`, or
//! `NotPrincipal`) is public unless a condition pins the caller down to values that don't match
//! everyone. `aws:PrincipalAccount` `*`, `aws:PrincipalOrgID` `o-*`, `aws:SourceIp` `0.0.0.0/0`
//! or `aws:PrincipalArn` `arn:aws:iam::*:*` narrow nothing.
//!
//! Pure: the policy text in, a decision out.

use serde_json::Value;

/// Whether some `Allow` statement of the policy `doc` grants access to everyone.
pub(crate) fn grants_public_access(doc: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<Value>(doc) else {
        return false;
    };
    match policy.get("Statement") {
        Some(Value::Array(statements)) => statements.iter().any(public_statement),
        Some(s) => public_statement(s),
        None => false,
    }
}

fn public_statement(s: &Value) -> bool {
    let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
    let everyone = match s.get("Principal") {
        Some(p @ Value::String(_)) => has_star(p),
        Some(Value::Object(o)) => o.get("AWS").is_some_and(has_star),
        // "Everyone but these" is everyone else.
        _ => s.get("NotPrincipal").is_some(),
    };
    allow && everyone && !narrowed(s.get("Condition"))
}

fn has_star(v: &Value) -> bool {
    match v {
        Value::String(x) => x == "*",
        Value::Array(a) => a.iter().any(|x| x == "*"),
        _ => false,
    }
}

/// Whether some condition keeps the caller to a set of principals, accounts, organizations or
/// networks that isn't everyone. Conditions are ANDed, so one such condition is enough.
fn narrowed(condition: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    operators.iter().any(|(operator, keys)| {
        let Value::Object(keys) = keys else {
            return false;
        };
        let op = operator.to_ascii_lowercase();
        // A negated operator ("everyone except ...") and Null don't narrow the audience; nor does
        // ...IfExists (a caller without the key passes) or ForAllValues (an empty set passes).
        if op.contains("not") || op.starts_with("null") || op.ends_with("ifexists") {
            return false;
        }
        if op.starts_with("forallvalues:") {
            return false;
        }
        let op = op.strip_prefix("foranyvalue:").unwrap_or(&op);
        keys.iter().any(|(key, values)| {
            let values: Vec<&Value> = match values {
                Value::Array(a) => a.iter().collect(),
                v => vec![v],
            };
            // Values are ORed: each one must narrow.
            !values.is_empty()
                && values
                    .iter()
                    .all(|v| narrowing_value(op, &key.to_ascii_lowercase(), v))
        })
    })
}

/// Whether `key op value` lets in only callers of a bounded set.
fn narrowing_value(op: &str, key: &str, value: &Value) -> bool {
    let Some(v) = value.as_str() else {
        return false;
    };
    if v.is_empty() {
        return false;
    }
    match key {
        "aws:principalaccount"
        | "aws:sourceaccount"
        | "aws:sourceowner"
        | "aws:principalorgid"
        | "aws:sourcevpc"
        | "aws:sourcevpce"
        | "aws:username"
        | "aws:principalservicename" => !has_wildcard(v),
        // `o-abc/r-xyz/*` keeps to organization o-abc; `o-*/*` and `*` don't.
        "aws:principalorgpaths" => v
            .split('/')
            .next()
            .is_some_and(|org| !org.is_empty() && !has_wildcard(org)),
        // `AROA...:*` keeps to one role's sessions.
        "aws:userid" => v
            .split(':')
            .next()
            .is_some_and(|id| !id.is_empty() && !has_wildcard(id)),
        // An ARN keeps to its account when the account field is given without wildcards.
        "aws:principalarn" | "aws:sourcearn" => {
            arn_account(v).is_some_and(|a| !a.is_empty() && !has_wildcard(a))
        }
        "aws:sourceip" => op.starts_with("ipaddress") && narrow_cidr(v),
        _ => false,
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// The account field of an ARN (`arn:partition:service:region:account:resource`).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let account = parts.nth(3)?;
    parts.next()?;
    Some(account)
}

/// An address range that isn't the whole address space (`0.0.0.0/0`, `::/0`).
fn narrow_cidr(v: &str) -> bool {
    let (addr, prefix) = match v.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok()),
        None => (v, None),
    };
    if addr.parse::<std::net::IpAddr>().is_err() {
        return false;
    }
    prefix != Some(0)
}

#[cfg(test)]
mod tests {
    use super::grants_public_access;

    fn doc(principal: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"secretsmanager:GetSecretValue","Resource":"*"{condition}}}]}}"#
        )
    }

    fn with(op: &str, key: &str, value: &str) -> String {
        format!(r#","Condition":{{"{op}":{{"{key}":{value}}}}}"#)
    }

    #[test]
    fn public_unless_the_audience_is_narrowed() {
        assert!(grants_public_access(&doc(r#""*""#, "")));
        assert!(grants_public_access(&doc(r#"{"AWS":"*"}"#, "")));
        assert!(grants_public_access(&doc(r#"{"AWS":["*"]}"#, "")));
        assert!(!grants_public_access(&doc(
            r#"{"AWS":"arn:aws:iam::111122223333:root"}"#,
            ""
        )));
        let public = [
            ("DateGreaterThan", "aws:CurrentTime", r#""2020-01-01T00:00:00Z""#),
            ("StringNotEquals", "aws:PrincipalAccount", r#""111122223333""#),
            ("StringLike", "aws:PrincipalAccount", r#""*""#),
            ("StringEquals", "aws:PrincipalAccount", r#""*""#),
            ("StringLike", "aws:PrincipalAccount", r#"["111122223333","*"]"#),
            ("StringLike", "aws:PrincipalOrgID", r#""o-*""#),
            ("StringEqualsIfExists", "aws:PrincipalOrgID", r#""o-abcdefghij""#),
            ("IpAddress", "aws:SourceIp", r#""0.0.0.0/0""#),
            ("IpAddress", "aws:SourceIp", r#"["10.0.0.0/8","::/0"]"#),
            ("ArnLike", "aws:PrincipalArn", r#""arn:aws:iam::*:*""#),
            ("ArnLike", "aws:PrincipalArn", r#""*""#),
            ("StringLike", "aws:SourceVpce", r#""vpce-*""#),
            ("StringLike", "aws:userid", r#""*:alice""#),
            ("StringLike", "aws:PrincipalOrgPaths", r#""o-*/*""#),
            (
                "ForAllValues:StringEquals",
                "aws:PrincipalOrgID",
                r#""o-abcdefghij""#,
            ),
            ("Null", "aws:PrincipalOrgID", r#""false""#),
        ];
        for (op, key, value) in public {
            assert!(
                grants_public_access(&doc(r#""*""#, &with(op, key, value))),
                "{op} {key} {value}"
            );
        }
        let narrowed = [
            ("StringEquals", "aws:PrincipalOrgID", r#""o-abcdefghij""#),
            ("StringEquals", "aws:PrincipalAccount", r#""111122223333""#),
            (
                "StringEquals",
                "aws:PrincipalAccount",
                r#"["111122223333","444455556666"]"#,
            ),
            ("IpAddress", "aws:SourceIp", r#""203.0.113.0/24""#),
            (
                "ArnLike",
                "aws:PrincipalArn",
                r#""arn:aws:iam::111122223333:role/*""#,
            ),
            (
                "ArnEquals",
                "aws:SourceArn",
                r#""arn:aws:lambda:us-east-1:111122223333:function:f""#,
            ),
            ("StringEquals", "aws:SourceVpce", r#""vpce-1a2b3c4d""#),
            ("StringLike", "aws:userid", r#""AROAEXAMPLEID:*""#),
            (
                "ForAnyValue:StringLike",
                "aws:PrincipalOrgPaths",
                r#""o-abcdefghij/r-ab12/*""#,
            ),
        ];
        for (op, key, value) in narrowed {
            assert!(
                !grants_public_access(&doc(r#""*""#, &with(op, key, value))),
                "{op} {key} {value}"
            );
        }
    }
}
