//! The checks IAM runs on a permission policy it is asked to store (`CreatePolicy`,
//! `CreatePolicyVersion`, `Put{User,Group,Role}Policy`), in IAM's order, so a document with
//! several problems gets the message IAM gives for it:
//!
//! 1. syntax (`Syntax errors in policy.`): elements, JSON types, `Effect` spelled
//!    `allow`/`deny` in any case, condition blocks (an unknown operator only with an empty body);
//! 2. `Version` must be `2012-10-17`;
//! 3. the legacy parser (`The policy failed legacy parsing`): `Effect` exactly `Allow`/`Deny`,
//!    the values of `Date…` conditions, and resources with `::` but fewer than five colons or
//!    an empty service;
//! 4. unique `Sid`s, and alphanumeric ones;
//! 5. every statement has actions;
//! 6. the first resource format problem found in step 3 (partition, region, IAM resource type);
//! 7. action vendors;
//! 8. every statement has resources.
//!
//! [`crate::Policy::parse`] then builds the evaluated form. Only documents IAM stores go
//! through here: key policies, resource policies, trust and session policies keep their own
//! service's rules. Pure: no I/O.

use crate::condition;
use crate::error::PolicyError;
use crate::json::{Json, has_duplicate_keys};

/// AWS partitions a resource may name (or `*`).
const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-eusc"];

/// IAM resource types: what an `arn:…:iam::account:` resource may continue with.
const IAM_RESOURCE_TYPES: &[&str] = &[
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];

const POLICY_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn get<'a>(members: &'a [(String, Json)], name: &str) -> Option<&'a Json> {
    members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A statement's members, after the syntax check made sure it is an object.
type Members<'a> = &'a [(String, Json)];

/// Checks `doc` (already parsed JSON) as IAM checks a permission policy it is asked to store.
pub(crate) fn check(doc: &Json) -> Result<(), PolicyError> {
    let statements = syntax(doc)?;
    let top = doc.as_object().unwrap_or_default();
    if !matches!(get(top, "Version"), Some(Json::String(v)) if v == "2012-10-17") {
        return Err(PolicyError::VersionTooOld);
    }
    for st in &statements {
        legacy_statement(st)?;
    }
    let mut resource_error = None;
    for key in ["Resource", "NotResource"] {
        for st in &statements {
            let Some(value) = get(st, key) else { continue };
            let mut list: Vec<&str> = strings(value).collect();
            list.sort_unstable();
            for r in list {
                if resource_error.is_none() {
                    resource_error = resource_format(r).err();
                }
            }
            if resource_error.is_none() {
                strings(value).try_for_each(legacy_resource)?;
            }
        }
    }
    sids(&statements)?;
    for st in &statements {
        let actions = get(st, "Action").or_else(|| get(st, "NotAction"));
        if actions.is_none_or(|a| matches!(a, Json::Array(items) if items.is_empty())) {
            return Err(PolicyError::MissingActions);
        }
    }
    if let Some(e) = resource_error {
        return Err(e);
    }
    for key in ["Action", "NotAction"] {
        for st in &statements {
            if let Some(value) = get(st, key) {
                strings(value).try_for_each(action_vendor)?;
            }
        }
    }
    for st in &statements {
        let resources = get(st, "Resource").or_else(|| get(st, "NotResource"));
        if resources.is_none_or(|r| matches!(r, Json::Array(items) if items.is_empty())) {
            return Err(PolicyError::MissingResources);
        }
    }
    Ok(())
}

/// The strings of a string-or-list element (the syntax check allows `null` list entries, which
/// IAM skips).
fn strings(value: &Json) -> impl Iterator<Item = &str> {
    let items: &[Json] = match value {
        Json::Array(items) => items,
        one => std::slice::from_ref(one),
    };
    items.iter().filter_map(|i| match i {
        Json::String(s) => Some(s.as_str()),
        _ => None,
    })
}

/// Step 1: the document's shape. Returns the statements.
fn syntax(doc: &Json) -> Result<Vec<Members<'_>>, PolicyError> {
    let top = doc.as_object().ok_or(PolicyError::Syntax)?;
    if has_duplicate_keys(top) || top.iter().any(|(k, _)| !POLICY_ELEMENTS.contains(&k.as_str())) {
        return Err(PolicyError::Syntax);
    }
    match get(top, "Version") {
        None => {}
        Some(Json::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => return Err(PolicyError::Syntax),
    }
    if get(top, "Id").is_some_and(|id| !matches!(id, Json::String(_))) {
        return Err(PolicyError::Syntax);
    }
    let raw: Vec<&Json> = match get(top, "Statement") {
        Some(Json::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(obj @ Json::Object(_)) => vec![obj],
        _ => return Err(PolicyError::Syntax),
    };
    raw.into_iter().map(statement_syntax).collect()
}

fn statement_syntax(st: &Json) -> Result<Members<'_>, PolicyError> {
    let members = st.as_object().ok_or(PolicyError::Syntax)?;
    let present = |k| get(members, k).is_some();
    if has_duplicate_keys(members)
        || members
            .iter()
            .any(|(k, _)| !STATEMENT_ELEMENTS.contains(&k.as_str()))
        || (present("Resource") && present("NotResource"))
        || (present("Action") && present("NotAction"))
    {
        return Err(PolicyError::Syntax);
    }
    match get(members, "Effect") {
        Some(Json::String(e)) if e.eq_ignore_ascii_case("allow") || e.eq_ignore_ascii_case("deny") => {}
        _ => return Err(PolicyError::Syntax),
    }
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        match get(members, key) {
            None | Some(Json::String(_)) => {}
            Some(Json::Array(items)) if items.iter().all(|i| matches!(i, Json::String(_) | Json::Null)) => {}
            Some(_) => return Err(PolicyError::Syntax),
        }
    }
    if let Some(block) = get(members, "Condition") {
        let ops = block.as_object().ok_or(PolicyError::Syntax)?;
        for (op, keys) in ops {
            let keys = keys.as_object().ok_or(PolicyError::Syntax)?;
            if keys.iter().any(|(_, v)| {
                !matches!(
                    v,
                    Json::Bool(_) | Json::Array(_) | Json::String(_) | Json::Number(_)
                )
            }) {
                return Err(PolicyError::Syntax);
            }
            if !condition::is_operator(op) && !keys.is_empty() {
                return Err(PolicyError::Syntax);
            }
        }
    }
    if get(members, "Sid").is_some_and(|s| !matches!(s, Json::String(_))) {
        return Err(PolicyError::Syntax);
    }
    Ok(members)
}

/// Step 3 for one statement: the exact `Effect` and the `Date…` condition values.
fn legacy_statement(st: Members<'_>) -> Result<(), PolicyError> {
    if !matches!(get(st, "Effect"), Some(Json::String(e)) if e == "Allow" || e == "Deny") {
        return Err(PolicyError::LegacyParsing);
    }
    let Some(Json::Object(ops)) = get(st, "Condition") else {
        return Ok(());
    };
    for (op, keys) in ops {
        if !condition::is_date_operator(op) {
            continue;
        }
        for (_, value) in keys.as_object().unwrap_or_default() {
            let items: &[Json] = match value {
                Json::Array(items) => items,
                one => std::slice::from_ref(one),
            };
            for item in items {
                let ok = match item {
                    Json::String(s) | Json::Number(s) => legacy_date(s),
                    _ => false,
                };
                if !ok {
                    return Err(PolicyError::LegacyParsing);
                }
            }
        }
    }
    Ok(())
}

/// Parses a signed decimal the way the legacy parser does, then checks its range.
fn int_in(s: &str, lo: i64, hi: i64) -> bool {
    s.parse::<i64>().is_ok_and(|n| (lo..=hi).contains(&n))
}

/// A `Date…` condition value as the legacy parser reads it: epoch seconds (0 to `i64::MAX`) or
/// an ISO 8601 date-time with lenient field widths (`2016-12-13t2:00:00.5+23`).
fn legacy_date(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    if !v.contains('t') && !v.contains('-') {
        return int_in(&v, 0, i64::MAX);
    }
    let (date, time) = v.split_once('t').unwrap_or((&v, ""));
    let (negative, date) = match date.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, date),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let year = if negative {
        format!("-{}", parts[0])
    } else {
        parts[0].to_owned()
    };
    if !int_in(&year, -292_275_054, 292_278_993)
        || parts.get(1).is_some_and(|m| !int_in(m, 1, 12))
        || parts.get(2).is_some_and(|d| !int_in(d, 1, 31))
        || parts.len() > 3
    {
        return false;
    }
    let time: Vec<&str> = time.split(':').collect();
    if !time[0].is_empty() && !int_in(time[0], 0, 23) {
        return false;
    }
    if time.get(1).is_some_and(|m| !int_in(m, 0, 59)) {
        return false;
    }
    let Some(rest) = time.get(2) else { return true };
    let seconds = if let Some((s, after)) = rest.split_once('z') {
        if !after.is_empty() {
            return false;
        }
        s
    } else if let Some((s, zone)) = rest.split_once('+') {
        let (hours, minutes) = match zone.split_once(':') {
            Some((h, m)) => (h, Some(m)),
            None => (zone, None),
        };
        if hours.len() != 2 || !int_in(hours, 0, 23) {
            return false;
        }
        if minutes.is_some_and(|m| m.len() != 2 || !int_in(m, 0, 59)) {
            return false;
        }
        s
    } else {
        rest
    };
    let (whole, fraction) = match seconds.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (seconds, None),
    };
    int_in(whole, 0, 59) && fraction.is_none_or(|f| int_in(f, 0, 999_999_999))
}

/// Step 3 for one resource: with `::` it needs at least five colons, and a service.
fn legacy_resource(r: &str) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    let colons = r.matches(':').count();
    if (colons < 5 && r.contains("::")) || r.split(':').nth(2).is_none_or(str::is_empty) {
        return Err(PolicyError::LegacyParsing);
    }
    Ok(())
}

/// Step 6 for one resource. IAM reads `x:partition:service:region:account:rest` without
/// checking the first segment.
fn resource_format(r: &str) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    let Some((_, after_first)) = r.split_once(':') else {
        return Err(PolicyError::InvalidResource(r.to_owned()));
    };
    let (partition, after_partition) = match after_first.split_once(':') {
        Some((p, rest)) => (p, Some(rest)),
        None => (after_first, None),
    };
    if partition != "*" && !PARTITIONS.contains(&partition) {
        // IAM shows the resource with `*` for the service, region, account and resource it
        // could not find (an empty service is shown as written only when more segments follow).
        let rest: Vec<&str> = after_partition
            .map(|s| s.split(':').collect())
            .unwrap_or_default();
        let seg = |i: usize| rest.get(i).copied().unwrap_or("*");
        let service = if rest.first().is_some_and(|s| !s.is_empty()) || rest.len() > 1 {
            rest[0]
        } else {
            "*"
        };
        let tail = if rest.len() > 3 {
            rest[3..].join(":")
        } else {
            "*".to_owned()
        };
        return Err(PolicyError::InvalidPartition {
            partition: partition.to_owned(),
            resource: format!("arn:{partition}:{service}:{}:{}:{tail}", seg(1), seg(2)),
        });
    }
    let Some(after_partition) = after_partition else {
        return Err(PolicyError::ResourceVendorNotQualified);
    };
    let (service, after_service) = after_partition.split_once(':').unwrap_or((after_partition, ""));
    let has_region = !after_service.is_empty() && !after_service.starts_with(':');
    // The resource after `region:account:`.
    let resource = after_service.splitn(3, ':').nth(2).unwrap_or("");
    match service {
        "iam" if has_region => return Err(PolicyError::IamResourceRegion(r.to_owned())),
        "s3" if has_region && !resource.starts_with("accesspoint/") => {
            return Err(PolicyError::ResourceRegion(r.to_owned()));
        }
        _ => {}
    }
    if service == "iam" && resource != "*" && !IAM_RESOURCE_TYPES.iter().any(|t| resource.starts_with(t)) {
        return Err(PolicyError::IamResourcePath);
    }
    Ok(())
}

/// Step 4: `Sid`s are alphanumeric, and non-empty ones unique.
fn sids(statements: &[Members<'_>]) -> Result<(), PolicyError> {
    let mut seen: Vec<&str> = Vec::new();
    for st in statements {
        if let Some(Json::String(sid)) = get(st, "Sid")
            && !sid.is_empty()
        {
            if seen.contains(&sid.as_str()) {
                return Err(PolicyError::DuplicateSid);
            }
            seen.push(sid);
        }
    }
    for st in statements {
        if let Some(Json::String(sid)) = get(st, "Sid")
            && !sid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(PolicyError::InvalidSid);
        }
    }
    Ok(())
}

/// Step 7 for one action: `vendor:name` (or `*`), one colon, a vendor of `[A-Za-z0-9.-]`.
fn action_vendor(action: &str) -> Result<(), PolicyError> {
    let mut parts = action.split(':');
    let vendor = parts.next().unwrap_or("");
    match (parts.next(), parts.next()) {
        (None, _) if vendor != "*" => return Err(PolicyError::MissingVendor),
        (Some(_), Some(_)) => return Err(PolicyError::TooManyColons),
        _ => {}
    }
    if vendor != "*"
        && !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(PolicyError::InvalidVendor(vendor.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Policy;

    const BUCKET: &str = "arn:aws:s3:::example_bucket";

    /// The message IAM gives for a document whose only statement is `statement`.
    fn msg_of(version: Option<&str>, statement: &str) -> String {
        let version = version
            .map(|v| format!(r#""Version":"{v}","#))
            .unwrap_or_default();
        let doc = format!(r#"{{{version}"Statement":{statement}}}"#);
        match Policy::parse_iam(&doc) {
            Ok(_) => "accepted".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    fn msg(statement: &str) -> String {
        msg_of(Some("2012-10-17"), statement)
    }

    fn allow(action: &str, resource: &str) -> String {
        format!(r#"{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}"#)
    }

    fn with_condition(condition: &str) -> String {
        format!(
            r#"{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"{BUCKET}","Condition":{condition}}}"#
        )
    }

    #[test]
    fn version_must_be_2012() {
        let st = allow("s3:ListBucket", BUCKET);
        let too_old = "Policy document must be version 2012-10-17 or greater.";
        assert_eq!(msg_of(None, &st), too_old);
        assert_eq!(msg_of(Some("2008-10-17"), &st), too_old);
        assert_eq!(msg_of(Some("2010-10-17"), &st), "Syntax errors in policy.");
        // The version is checked before the legacy parser and the statement checks.
        assert_eq!(
            msg_of(
                None,
                r#"{"Effect":"denY","Action":"s3:ListBucket","Resource":"*"}"#
            ),
            too_old
        );
        assert_eq!(
            msg_of(None, &with_condition(r#"{"DateGreaterThan":{"a":"sdfdsf"}}"#)),
            too_old
        );
    }

    #[test]
    fn syntax_errors() {
        let syntax = "Syntax errors in policy.";
        assert_eq!(
            msg(r#"{"Effect":"invalid","Action":"s3:ListBucket","Resource":"*"}"#),
            syntax
        );
        assert_eq!(msg(r#"{"Action":"s3:ListBucket","Resource":"*"}"#), syntax);
        assert_eq!(msg(&with_condition(r#"{"DateGreaterThan":{"a":{}}}"#)), syntax);
        // Before "must contain actions".
        assert_eq!(
            msg(&format!(
                r#"{{"Effect":"Allow","Resource":"{BUCKET}","Condition":{{"DateGreaterThan":{{"a":{{}}}}}}}}"#
            )),
            syntax
        );
        assert_eq!(msg(&with_condition(r#"{"NotAnOperator":{"a":"b"}}"#)), syntax);
    }

    #[test]
    fn legacy_parser() {
        let legacy = "The policy failed legacy parsing";
        assert_eq!(
            msg(r#"{"Effect":"allow","Action":"s3:ListBucket","Resource":"*"}"#),
            legacy
        );
        for r in [
            "arn:aws:s3::example_bucket",
            "arn:aws::::example_bucket",
            "arn:aws::fdsasf",
        ] {
            assert_eq!(msg(&allow("s3:ListBucket", r)), legacy, "{r}");
        }
        assert_eq!(
            msg(r#"{"Effect":"Allow","Action":"s3:ListBucket","NotResource":"arn:aws:s3::example_bucket"}"#),
            legacy
        );
        // Before "must contain actions".
        assert_eq!(
            msg(r#"{"Effect":"Allow","Resource":"arn:aws:s3::example_bucket"}"#),
            legacy
        );
        for date in [
            "sdfdsf",
            "234-13",
            "2016-12-13t2:00:00.593194+1",
            "2016-12-13t2:00:00.1999999999+10:59",
            "9223372036854775808",
        ] {
            let c = format!(r#"{{"DateLessThanEquals":{{"a":"{date}"}}}}"#);
            assert_eq!(msg(&with_condition(&c)), legacy, "{date}");
        }
        // Dates are read before resources are.
        assert_eq!(
            msg(
                r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:error:s3:::b","Condition":{"DateGreaterThan":{"a":"x"}}}"#
            ),
            legacy
        );
    }

    #[test]
    fn legacy_dates_accepted() {
        for date in [
            "01T",
            "2019-07-01T13:20:15Z",
            "2016-12-13T21:20:37.593194+00:00",
            "2016-12-13t2:00:00.593194+23",
            "-292275054",
            "1700000000",
        ] {
            let c = format!(r#"{{"DateLessThan":{{"a":"{date}"}}}}"#);
            assert_eq!(msg(&with_condition(&c)), "accepted", "{date}");
        }
    }

    #[test]
    fn resource_formats() {
        assert_eq!(
            msg(r#"{"Effect":"Allow","NotAction":"s3s:ListBucket","Resource":"a:bsdfdsafsad"}"#),
            r#"Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*"."#
        );
        assert_eq!(
            msg(&allow("s3:ListBucket", "a:b:cadfsdf")),
            r#"Partition "b" is not valid for resource "arn:b:cadfsdf:*:*:*"."#
        );
        assert_eq!(
            msg(&allow("s3:ListBucket", "a:b:c:d:e:f:g:h")),
            r#"Partition "b" is not valid for resource "arn:b:c:d:e:f:g:h"."#
        );
        assert_eq!(
            msg(&allow("s3:ListBucket", "aws:s3:::example_bucket")),
            r#"Partition "s3" is not valid for resource "arn:s3:::example_bucket:*"."#
        );
        assert_eq!(
            msg(
                r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:error:s3:::example_bucket","arn:error:s3::example_bucket"]}"#
            ),
            r#"Partition "error" is not valid for resource "arn:error:s3:::example_bucket"."#
        );
        assert_eq!(
            msg(&allow("s3:ListBucket", "arn:aws")),
            "Resource vendor must be fully qualified and cannot contain regexes."
        );
        assert_eq!(
            msg(&allow("s3:ListBucket", "arn:aws:iam:us-east-1::example_bucket")),
            "IAM resource arn:aws:iam:us-east-1::example_bucket cannot contain region information."
        );
        assert_eq!(
            msg(&allow("s3:ListBucket", "arn:aws:s3:us-east-1::example_bucket")),
            "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information."
        );
        assert_eq!(
            msg(&allow(
                "s3:GetObject",
                "arn:aws:s3:us-east-1:111122223333:accesspoint/ap"
            )),
            "accepted"
        );
        assert_eq!(
            msg(&allow("s3:ListBucket", "arn:aws:iam:::example_bucket")),
            "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, \
             group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, \
             oidc-provider/, report/, access-report/."
        );
        assert_eq!(
            msg(&allow("iam:GetUser", "arn:aws:iam::111122223333:user/*")),
            "accepted"
        );
        // A resource error is reported after "must contain actions", before the action checks.
        assert_eq!(
            msg(r#"{"Effect":"Allow","Action":"s:3:ListBucket","Resource":"sdfsadf"}"#),
            r#"Resource sdfsadf must be in ARN format or "*"."#
        );
        assert_eq!(
            msg(r#"{"Effect":"Allow","Resource":"sdfsadf"}"#),
            "Policy statement must contain actions."
        );
    }

    #[test]
    fn sids() {
        assert_eq!(
            msg(&format!(
                r#"[{{"Sid":"sdf","Effect":"Allow","Action":"s3:ListBucket","Resource":"{BUCKET}"}},{{"Sid":"sdf","Effect":"Allow"}}]"#
            )),
            "Statement IDs (SID) in a single policy must be unique."
        );
        assert_eq!(
            msg(
                r#"[{"Sid":"","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"","Effect":"Deny","Action":"s3:*","Resource":"*"}]"#
            ),
            "accepted"
        );
        assert_eq!(
            msg(r#"{"Sid":"with_underscore","Effect":"Allow","Action":"s3:*","Resource":"*"}"#),
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
        );
    }

    #[test]
    fn action_vendors() {
        assert_eq!(msg(&allow("a a:ListBucket", BUCKET)), "Vendor a a is not valid");
        assert_eq!(
            msg(&allow("ListBucket", BUCKET)),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        );
        assert_eq!(
            msg(&allow("a:b:c", BUCKET)),
            "Actions/Condition can contain only one colon."
        );
        assert_eq!(msg(&allow("*", BUCKET)), "accepted");
        assert_eq!(msg(&allow("execute-api:Invoke", BUCKET)), "accepted");
        assert_eq!(
            msg(r#"{"Effect":"Allow","Action":"s3:ListBucket"}"#),
            "Policy statement must contain resources."
        );
    }

    #[test]
    fn what_iam_accepts_also_parses_for_evaluation() {
        for c in [
            r#"{"DateGreaterThan":{}}"#,
            r#"{"DateGreaterThan":{"a":[]}}"#,
            r#"{"a":{}}"#,
            r#"{"x":{},"y":{}}"#,
            r#"{"StringEqualsIfExists":{"a":"asf"}}"#,
            r#"{"ForAnyValue:StringEqualsIfExists":{"a":"asf"}}"#,
            r#"{"Bool":{"kms:GrantIsForAWSResource":true},"Null":{"kms:GrantOperations":"true"}}"#,
        ] {
            assert_eq!(msg(&with_condition(c)), "accepted", "{c}");
        }
        assert_eq!(
            msg(
                r#"{"Effect":"Allow","Action":"kms:CreateGrant","Resource":["arn:aws:kms:*:123456789012:key/*",null]}"#
            ),
            "accepted"
        );
    }
}
