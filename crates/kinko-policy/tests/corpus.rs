//! Runs the decision corpus in `tests/corpus/*.json` (see `tests/corpus/README.md` for the case
//! format) and reports every failing case by file and name.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use kinko_policy::{
    AllowBasis, ConditionContext, ContextValue, Decision, ImplicitDenyReason, Policy, PolicyKind, PolicySet,
    PolicyType, PrincipalCtx, PrincipalKind, Request, access_denied_message, evaluate,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const DEFAULT_ACTION: &str = "secretsmanager:GetSecretValue";
const DEFAULT_RESOURCE: &str = "arn:aws:secretsmanager:us-east-1:111111111111:secret:app/db-AbCdEf";
const DEFAULT_NOW: &str = "2024-06-01T12:00:00Z";
const MIN_CASES: usize = 300;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("corpus")
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn principal_from(spec: &Value) -> Result<PrincipalCtx, String> {
    let kind = str_field(spec, "kind").ok_or("principal without kind")?;
    let arn = str_field(spec, "arn").unwrap_or_default();
    let mut p = match kind {
        "Root" => PrincipalCtx::root(str_field(spec, "account").ok_or("root without account")?),
        "User" => PrincipalCtx::user(arn, str_field(spec, "user_id").unwrap_or_default()),
        "AssumedRole" => PrincipalCtx::assumed_role(
            str_field(spec, "role_arn").ok_or("assumed role without role_arn")?,
            str_field(spec, "session").ok_or("assumed role without session")?,
            str_field(spec, "role_id").unwrap_or_default(),
        ),
        "FederatedUser" => PrincipalCtx::federated_user(
            str_field(spec, "issuer_arn").ok_or("federated user without issuer_arn")?,
            str_field(spec, "name").ok_or("federated user without name")?,
        ),
        "Service" => PrincipalCtx::service(str_field(spec, "name").ok_or("service without name")?),
        "IdentityProvider" => {
            PrincipalCtx::identity_provider(str_field(spec, "name").ok_or("provider without name")?)
        }
        "Anonymous" => PrincipalCtx::anonymous(),
        other => return Err(format!("unknown principal kind {other}")),
    };
    if let Some(tags) = spec.get("tags").and_then(Value::as_object) {
        p = p.with_tags(
            tags.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())),
        );
    }
    if let Some(org) = str_field(spec, "org_id") {
        p = p.with_org(org);
    }
    Ok(p)
}

fn context_value(v: &Value) -> Result<ContextValue, String> {
    Ok(match v {
        Value::String(s) => ContextValue::String(s.clone()),
        Value::Bool(b) => ContextValue::Bool(*b),
        Value::Number(n) => ContextValue::Number(n.as_f64().ok_or("bad number")?),
        Value::Object(o) => {
            let (tag, inner) = o.iter().next().ok_or("empty typed value")?;
            let text = inner.as_str().ok_or("typed value must be a string")?;
            match tag.as_str() {
                "ip" => ContextValue::Ip(text.parse::<IpAddr>().map_err(|e| e.to_string())?),
                "date" => {
                    ContextValue::Date(OffsetDateTime::parse(text, &Rfc3339).map_err(|e| e.to_string())?)
                }
                "arn" => ContextValue::Arn(text.to_owned()),
                "binary" => {
                    use base64::Engine as _;
                    ContextValue::Binary(
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .map_err(|e| e.to_string())?,
                    )
                }
                "string" => ContextValue::String(text.to_owned()),
                other => return Err(format!("unknown typed value {other}")),
            }
        }
        other => return Err(format!("unsupported context value {other}")),
    })
}

fn build_context(case: &Value, p: &PrincipalCtx) -> Result<ConditionContext, String> {
    let now_text = str_field(case, "now").unwrap_or(DEFAULT_NOW);
    let now = OffsetDateTime::parse(now_text, &Rfc3339).map_err(|e| e.to_string())?;
    let mut ctx = ConditionContext::for_request(p, now);
    // Defaults every request to these services carries; a case removes one with `null`.
    ctx.set_secure_transport(true);
    ctx.set_source_ip(
        "192.0.2.10"
            .parse()
            .map_err(|e: std::net::AddrParseError| e.to_string())?,
    );
    ctx.insert("aws:RequestedRegion", "us-east-1");
    if let Some(entries) = case.get("context").and_then(Value::as_object) {
        for (key, v) in entries {
            match v {
                Value::Null => {
                    ctx.remove(key);
                }
                Value::Array(items) => {
                    let values = items.iter().map(context_value).collect::<Result<Vec<_>, _>>()?;
                    ctx.set(key, values);
                }
                other => {
                    ctx.set(key, vec![context_value(other)?]);
                }
            }
        }
    }
    Ok(ctx)
}

fn kind_named(name: &str) -> Result<PolicyKind, String> {
    Ok(match name {
        "Identity" => PolicyKind::Identity,
        "Resource" => PolicyKind::Resource,
        "Trust" => PolicyKind::Trust,
        "Boundary" => PolicyKind::Boundary,
        "Session" => PolicyKind::Session,
        "KeyPolicy" => PolicyKind::KeyPolicy,
        other => return Err(format!("unknown policy kind {other}")),
    })
}

fn parse_policy(v: &Value, kind: PolicyKind) -> Result<Policy, String> {
    let doc = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Policy::parse(&doc, kind).map_err(|e| format!("{kind:?} policy rejected: {e}: {doc}"))
}

fn parse_list(case: &Value, key: &str, kind: PolicyKind) -> Result<Vec<Policy>, String> {
    match case.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|p| parse_policy(p, kind)).collect(),
        Some(_) => Err(format!("`{key}` must be a list")),
    }
}

/// The `condition` shortcut: one identity policy whose statement `C` carries the condition.
fn condition_policy(case: &Value) -> Option<Value> {
    let cond = case.get("condition")?;
    let effect = str_field(case, "condition_effect").unwrap_or("Allow");
    let tested =
        serde_json::json!({"Sid": "C", "Effect": effect, "Action": "*", "Resource": "*", "Condition": cond});
    let statements = if effect == "Deny" {
        serde_json::json!([{"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"}, tested])
    } else {
        serde_json::json!([tested])
    };
    Some(serde_json::json!({"Version": "2012-10-17", "Statement": statements}))
}

fn policy_type_named(name: &str) -> Result<PolicyType, String> {
    Ok(match name {
        "identity" => PolicyType::Identity,
        "resource" => PolicyType::Resource,
        "role_trust" => PolicyType::RoleTrust,
        "boundary" => PolicyType::PermissionsBoundary,
        "session" => PolicyType::Session,
        "scp" => PolicyType::ServiceControl,
        other => return Err(format!("unknown policy type {other}")),
    })
}

fn reason_named(name: &str) -> Result<ImplicitDenyReason, String> {
    Ok(match name {
        "no_identity_policy" => ImplicitDenyReason::NoIdentityPolicy,
        "no_resource_policy" => ImplicitDenyReason::NoResourcePolicy,
        "no_role_trust_policy" => ImplicitDenyReason::NoRoleTrustPolicy,
        "no_boundary" => ImplicitDenyReason::NoPermissionsBoundary,
        "no_session_policy" => ImplicitDenyReason::NoSessionPolicy,
        "no_scp" => ImplicitDenyReason::NoServiceControlPolicy,
        other => return Err(format!("unknown reason {other}")),
    })
}

fn basis_named(name: &str) -> Result<AllowBasis, String> {
    Ok(match name {
        "root" => AllowBasis::RootUser,
        "identity" => AllowBasis::IdentityPolicy,
        "resource" => AllowBasis::ResourcePolicy,
        "identity_and_resource" => AllowBasis::IdentityAndResourcePolicy,
        other => return Err(format!("unknown basis {other}")),
    })
}

/// Runs one case; `Err` describes the mismatch.
fn run_case(case: &Value, principals: &Map<String, Value>) -> Result<(), String> {
    let principal_spec = match case.get("principal") {
        None => principals.get("alice").ok_or("no default principal")?,
        Some(Value::String(name)) => principals
            .get(name)
            .ok_or_else(|| format!("unknown principal {name}"))?,
        Some(inline) => inline,
    };
    let principal = principal_from(principal_spec)?;
    let ctx = build_context(case, &principal)?;
    let action = str_field(case, "action").unwrap_or(DEFAULT_ACTION);
    let resource = str_field(case, "resource").unwrap_or(DEFAULT_RESOURCE);

    let mut identity = parse_list(case, "identity", PolicyKind::Identity)?;
    if let Some(p) = condition_policy(case) {
        identity.push(parse_policy(&p, PolicyKind::Identity)?);
    }
    let resource_kind = kind_named(str_field(case, "resource_kind").unwrap_or("Resource"))?;
    let resource_policy = case
        .get("resource_policy")
        .map(|p| parse_policy(p, resource_kind))
        .transpose()?;
    let boundary = case
        .get("boundary")
        .map(|p| parse_policy(p, PolicyKind::Boundary))
        .transpose()?;
    let session = parse_list(case, "session", PolicyKind::Session)?;
    let scp = parse_list(case, "scp", PolicyKind::Identity)?;

    let identity_refs: Vec<&Policy> = identity.iter().collect();
    let session_refs: Vec<&Policy> = session.iter().collect();
    let scp_refs: Vec<&Policy> = scp.iter().collect();
    let set = PolicySet {
        identity: &identity_refs,
        resource: resource_policy.as_ref(),
        boundary: boundary.as_ref(),
        session: &session_refs,
        scp: &scp_refs,
        resource_policy_required: case
            .get("resource_policy_required")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let req = Request {
        principal: &principal,
        action,
        resource,
        resource_account: str_field(case, "resource_account"),
        context: &ctx,
    };
    let decision = evaluate(&req, &set);

    let expect = str_field(case, "expect").ok_or("case without `expect`")?;
    let ok = match (&decision, expect) {
        (Decision::Allow { basis, .. }, "allow") => match str_field(case, "basis") {
            Some(b) => *basis == basis_named(b)?,
            None => true,
        },
        (Decision::ExplicitDeny { statement }, "explicit_deny") => match str_field(case, "deny_in") {
            Some(t) => statement.policy_type == policy_type_named(t)?,
            None => return Err("explicit_deny case without `deny_in`".into()),
        },
        (Decision::ImplicitDeny { reason }, "implicit_deny") => match str_field(case, "reason") {
            Some(r) => *reason == reason_named(r)?,
            None => return Err("implicit_deny case without `reason`".into()),
        },
        _ => false,
    };
    if !ok {
        return Err(format!("expected {expect} {}, got {decision:?}", summary(case)));
    }

    if let Some(want) = case.get("statement") {
        let got = match &decision {
            Decision::Allow { statement, .. } => statement.as_ref(),
            Decision::ExplicitDeny { statement } => Some(statement),
            Decision::ImplicitDeny { .. } => None,
        }
        .ok_or_else(|| format!("expected a deciding statement, got {decision:?}"))?;
        let idx = |k| want.get(k).and_then(Value::as_u64).map(|n| n as usize);
        if idx("policy").is_some_and(|pi| got.policy_index != pi) {
            return Err(format!("expected policy index {:?}, got {got:?}", idx("policy")));
        }
        if idx("index").is_some_and(|si| got.statement_index != si) {
            return Err(format!(
                "expected statement index {:?}, got {got:?}",
                idx("index")
            ));
        }
        if want
            .get("sid")
            .is_some_and(|sid| got.sid.as_deref() != sid.as_str())
        {
            return Err(format!("expected sid {:?}, got {got:?}", want.get("sid")));
        }
    }

    if let Some(want) = str_field(case, "message") {
        let shown = if resource == "*" { None } else { Some(resource) };
        let got = access_denied_message(&principal.arn, action, shown, &decision);
        if got != want {
            return Err(format!("message mismatch:\n  want: {want}\n  got:  {got}"));
        }
    }
    Ok(())
}

fn summary(case: &Value) -> String {
    ["basis", "deny_in", "reason"]
        .iter()
        .filter_map(|k| str_field(case, k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn load(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn decision_corpus() {
    let dir = corpus_dir();
    let principals = load(&dir.join("_principals.json"));
    let principals = principals
        .as_object()
        .expect("_principals.json must be an object");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .collect();
    files.sort();

    let mut failures = Vec::new();
    let mut per_file = BTreeMap::new();
    let mut names = HashSet::new();
    let mut total = 0;
    for file in &files {
        let doc = load(file);
        let fname = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cases = doc
            .get("cases")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{fname}: no `cases`"));
        per_file.insert(fname.clone(), cases.len());
        for case in cases {
            total += 1;
            let name = str_field(case, "name").unwrap_or("<unnamed>");
            if !names.insert(name.to_owned()) {
                failures.push(format!("{fname}: duplicate case name {name}"));
            }
            if str_field(case, "rule").is_none_or(str::is_empty) {
                failures.push(format!("{fname}: {name}: missing `rule`"));
            }
            if let Err(e) = run_case(case, principals) {
                failures.push(format!("{fname}: {name}: {e}"));
            }
        }
    }
    for (f, n) in &per_file {
        println!("{f}: {n} cases");
    }
    println!("corpus: {total} cases in {} files", files.len());
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total >= MIN_CASES,
        "corpus has {total} cases, expected at least {MIN_CASES}"
    );
}

#[test]
fn principal_fixtures_are_well_formed() {
    let principals = load(&corpus_dir().join("_principals.json"));
    for (name, spec) in principals.as_object().expect("object") {
        let p = principal_from(spec).unwrap_or_else(|e| panic!("{name}: {e}"));
        if p.kind != PrincipalKind::Service
            && p.kind != PrincipalKind::Anonymous
            && p.kind != PrincipalKind::IdentityProvider
        {
            assert!(!p.account_id.is_empty(), "{name} has no account");
        }
    }
}
