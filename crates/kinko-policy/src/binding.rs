//! Principals bound by unique id, as IAM binds them.
//!
//! When a resource-based policy (a role's trust policy, a secret's resource policy, a KMS key
//! policy) is saved, IAM converts each IAM user or role ARN it names in `Principal` /
//! `NotPrincipal` to that principal's unique id (`AIDA…`, `AROA…`). A user or role deleted and
//! created again under the same name gets a new unique id, so the policy no longer names it; once
//! the principal is gone, reading the policy back shows the unique id where the ARN was (IAM User
//! Guide, "AWS JSON policy elements: Principal", the note on IAM roles and users).
//!
//! This module works on the parsed document (never on its text), so JSON escapes such as
//! `user\/bob` or `\u0061rn:` name the same principal as the plain form, and nothing outside the
//! `Principal` / `NotPrincipal` `AWS` values is touched (a Condition on `aws:PrincipalArn` keeps
//! comparing ARNs). Pure.

use crate::json::Json;
use crate::policy::{Policy, PrincipalElement};
use crate::principal::{PrincipalPattern, parse_aws};

/// The statements of a parsed document (`Statement` as an object or an array).
fn statements(root: &Json) -> Vec<&Json> {
    let Some(members) = root.as_object() else {
        return Vec::new();
    };
    members
        .iter()
        .filter(|(k, _)| k == "Statement")
        .flat_map(|(_, v)| match v {
            Json::Array(items) => items.iter().collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect()
}

/// The string values of a statement's `Principal` / `NotPrincipal` `AWS` member.
fn aws_values(statement: &Json) -> Vec<&str> {
    let mut out = Vec::new();
    for (k, v) in statement.as_object().unwrap_or_default() {
        if k != "Principal" && k != "NotPrincipal" {
            continue;
        }
        for (pk, pv) in v.as_object().unwrap_or_default() {
            if pk != "AWS" {
                continue;
            }
            match pv {
                Json::String(s) => out.push(s.as_str()),
                Json::Array(items) => out.extend(items.iter().filter_map(|i| match i {
                    Json::String(s) => Some(s.as_str()),
                    _ => None,
                })),
                _ => {}
            }
        }
    }
    out
}

/// The IAM user and role ARNs a policy document names as principals, once each, in document
/// order: what IAM binds to unique ids when the policy is saved. Unique ids, accounts, sessions
/// and `*` are not bound. A document that doesn't parse names nobody.
pub fn named_principals(doc: &str) -> Vec<String> {
    let Some(root) = Json::parse(doc) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for statement in statements(&root) {
        for value in aws_values(statement) {
            if matches!(
                parse_aws(value),
                Some(PrincipalPattern::User(_) | PrincipalPattern::Role(_))
            ) && !out.iter().any(|o| o == value)
            {
                out.push(value.to_owned());
            }
        }
    }
    out
}

/// The `AWS` principal values of a policy document's `Allow` statements with a `Principal` element
/// (ARNs, account ids, `*`), once each, in document order, as written: whom a resource-based
/// policy may grant something. A document that doesn't parse names nobody.
pub fn allowed_principals(doc: &str) -> Vec<String> {
    let Some(root) = Json::parse(doc) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for statement in statements(&root) {
        let members = statement.as_object().unwrap_or_default();
        let allow = members
            .iter()
            .any(|(k, v)| k == "Effect" && matches!(v, Json::String(e) if e == "Allow"));
        if !allow || !members.iter().any(|(k, _)| k == "Principal") {
            continue;
        }
        for value in aws_values(statement) {
            if !out.iter().any(|o| o == value) {
                out.push(value.to_owned());
            }
        }
    }
    out
}

/// Rewrites the `AWS` principal values of a document for which `replace` gives a new value (the
/// unique id of a principal that no longer exists). `None` when nothing changed (the document is
/// then shown as stored); otherwise the document, re-serialized in its member order.
pub fn rewrite_principals(doc: &str, replace: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut root = Json::parse(doc)?;
    let mut changed = false;
    let Json::Object(members) = &mut root else {
        return None;
    };
    for (k, v) in members.iter_mut() {
        if k != "Statement" {
            continue;
        }
        let list: Vec<&mut Json> = match v {
            Json::Array(items) => items.iter_mut().collect(),
            other => vec![other],
        };
        for statement in list {
            let Json::Object(sm) = statement else { continue };
            for (sk, sv) in sm.iter_mut() {
                if sk != "Principal" && sk != "NotPrincipal" {
                    continue;
                }
                let Json::Object(pm) = sv else { continue };
                for (pk, pv) in pm.iter_mut() {
                    if pk != "AWS" {
                        continue;
                    }
                    let values: Vec<&mut String> = match pv {
                        Json::String(s) => vec![s],
                        Json::Array(items) => items
                            .iter_mut()
                            .filter_map(|i| match i {
                                Json::String(s) => Some(s),
                                _ => None,
                            })
                            .collect(),
                        _ => vec![],
                    };
                    for s in values {
                        if let Some(new) = replace(s) {
                            *s = new;
                            changed = true;
                        }
                    }
                }
            }
        }
    }
    if !changed {
        return None;
    }
    serde_json::to_string(&root).ok()
}

impl Policy {
    /// Binds the user and role ARNs this policy names to unique ids: each one `id_of` knows then
    /// matches only the principal with that id, as IAM matches a saved policy. ARNs `id_of`
    /// doesn't know keep matching by ARN (documents saved before their principals were bound).
    pub fn bind_principals<'a>(&mut self, id_of: impl Fn(&str) -> Option<&'a str>) {
        for s in &mut self.statements {
            let patterns = match &mut s.principal {
                Some(PrincipalElement::Principal(p) | PrincipalElement::NotPrincipal(p)) => p,
                None => continue,
            };
            for p in patterns.iter_mut() {
                if let PrincipalPattern::User(arn) | PrincipalPattern::Role(arn) = p
                    && let Some(id) = id_of(arn)
                {
                    *p = PrincipalPattern::UniqueId(id.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyKind;
    use crate::principal::PrincipalCtx;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user\/bob","arn:aws:iam::111122223333:root"]},
         "Action":"sts:AssumeRole",
         "Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}},
        {"Effect":"Deny","Principal":{"AWS":"\u0061rn:aws:iam::111122223333:role/ops/deploy"},"Action":"sts:AssumeRole"}]}"#;

    #[test]
    fn named_principals_are_found_through_escapes() {
        assert_eq!(
            named_principals(DOC),
            vec![
                "arn:aws:iam::111122223333:user/bob".to_owned(),
                "arn:aws:iam::111122223333:role/ops/deploy".to_owned(),
            ]
        );
        assert!(named_principals("not json").is_empty());
    }

    #[test]
    fn allowed_principals_are_those_of_allow_statements() {
        assert_eq!(
            allowed_principals(DOC),
            vec![
                "arn:aws:iam::111122223333:user/bob".to_owned(),
                "arn:aws:iam::111122223333:root".to_owned(),
            ]
        );
        assert!(allowed_principals("not json").is_empty());
    }

    #[test]
    fn rewrite_touches_principals_only() {
        let out = rewrite_principals(DOC, |v| {
            (v == "arn:aws:iam::111122223333:user/bob").then(|| "AIDAEXAMPLEBOB0000000".to_owned())
        })
        .expect("changed");
        assert!(out.contains(r#""AWS":["AIDAEXAMPLEBOB0000000","arn:aws:iam::111122223333:root"]"#));
        // The condition still compares the ARN.
        assert!(out.contains(r#""aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob""#));
        assert_eq!(rewrite_principals(DOC, |_| None), None);
    }

    #[test]
    fn bound_user_matches_only_its_unique_id() {
        let mut p = Policy::parse(DOC, PolicyKind::Trust).expect("parses");
        p.bind_principals(|arn| {
            (arn == "arn:aws:iam::111122223333:user/bob").then_some("AIDAOLDBOB0000000000")
        });
        let first = &p.statements()[0];
        let Some(PrincipalElement::Principal(patterns)) = &first.principal else {
            panic!("principal element");
        };
        let old = PrincipalCtx::user("arn:aws:iam::111122223333:user/bob", "AIDAOLDBOB0000000000");
        let new = PrincipalCtx::user("arn:aws:iam::111122223333:user/bob", "AIDANEWBOB0000000000");
        assert!(patterns.iter().any(|pat| pat.grant(&old).is_some()));
        assert!(
            !patterns
                .iter()
                .any(|pat| matches!(pat, PrincipalPattern::UniqueId(_)) && pat.grant(&new).is_some())
        );
    }
}
