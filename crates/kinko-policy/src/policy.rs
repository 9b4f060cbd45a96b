//! Policy documents: the grammar, validation, and the parsed form the evaluator runs on.
//!
//! Owns [`Policy::parse`], which checks a JSON document against the IAM policy grammar for a
//! given [`PolicyKind`] and returns either a [`Policy`] ready for evaluation (actions
//! lower-cased and compiled, resources split into ARN segments, principals classified, condition
//! values pre-parsed) or the [`PolicyError`] IAM reports for the same document. Pure: no I/O.
//!
//! Grammar (IAM User Guide, "IAM JSON policy grammar"):
//! `{"Version", "Id", "Statement": stmt | [stmt…]}`, `stmt = {"Sid", "Effect",
//! "Principal" | "NotPrincipal", "Action" | "NotAction", "Resource" | "NotResource",
//! "Condition"}`. Element names are case-sensitive; unknown or repeated elements are errors.

use crate::condition::{self, Condition};
use crate::context::ConditionContext;
use crate::error::PolicyError;
use crate::json::{Json, has_duplicate_keys};
use crate::pattern::{ArnTemplate, Syntax, Template, glob_match_template};
use crate::principal::{self, PrincipalPattern};

/// Where a policy document is attached; decides which elements it may (or must) have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An identity-based policy (user, group or role; inline or managed). No `Principal`.
    Identity,
    /// A resource-based policy such as a secret's resource policy. `Principal` required.
    Resource,
    /// A role trust policy (`AssumeRolePolicyDocument`). `Principal` required, no `Resource`.
    Trust,
    /// A managed policy used as a permissions boundary. No `Principal`.
    Boundary,
    /// An inline or managed session policy passed to `AssumeRole*` / `GetFederationToken`.
    Session,
    /// A KMS key policy. `Principal` required.
    KeyPolicy,
}

impl PolicyKind {
    fn has_principal(self) -> bool {
        matches!(
            self,
            PolicyKind::Resource | PolicyKind::Trust | PolicyKind::KeyPolicy
        )
    }

    /// Permission policies IAM stores, whose grammar [`Policy::parse_iam`] checks on the way
    /// in; parsing them for evaluation accepts what that grammar accepts.
    fn iam_stored(self) -> bool {
        matches!(self, PolicyKind::Identity | PolicyKind::Boundary)
    }

    /// IAM-stored permission policies, whose `Sid`s IAM checks (alphanumeric, unique).
    fn strict_sids(self) -> bool {
        matches!(
            self,
            PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session
        )
    }
}

/// The policy language version (`Version` element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2008-10-17`, also what an absent `Version` means: `${…}` is literal text.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The statement grants.
    Allow,
    /// The statement denies; an applicable `Deny` anywhere overrides every `Allow`.
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalElement {
    Principal(Vec<PrincipalPattern>),
    NotPrincipal(Vec<PrincipalPattern>),
}

/// `Action` / `NotAction`: lower-cased glob patterns matched ASCII case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionElement {
    negated: bool,
    patterns: Vec<Template>,
}

impl ActionElement {
    pub(crate) fn matches(&self, action: &str) -> bool {
        self.patterns.iter().any(|p| glob_match_template(p, action, true)) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ResourcePattern {
    Any,
    Arn(ArnTemplate),
}

impl ResourcePattern {
    fn matches(&self, resource: &str, ctx: &ConditionContext) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::Arn(t) => t.matches(resource, ctx),
        }
    }

    fn resolvable(&self, ctx: &ConditionContext) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::Arn(t) => !t.has_vars() || t.resolvable(ctx),
        }
    }

    fn has_vars(&self) -> bool {
        matches!(self, ResourcePattern::Arn(t) if t.has_vars())
    }
}

/// `Resource` / `NotResource`: case-sensitive, matched per ARN segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceElement {
    negated: bool,
    patterns: Vec<ResourcePattern>,
}

impl ResourceElement {
    pub(crate) fn matches(&self, resource: &str, ctx: &ConditionContext) -> bool {
        if self.negated {
            // A pattern that can't be resolved can't be excluded: the statement doesn't apply.
            if !self.patterns.iter().all(|p| p.resolvable(ctx)) {
                return false;
            }
            !self.patterns.iter().any(|p| p.matches(resource, ctx))
        } else {
            self.patterns.iter().any(|p| p.matches(resource, ctx))
        }
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sid: Option<String>,
    effect: Effect,
    pub(crate) principal: Option<PrincipalElement>,
    pub(crate) action: ActionElement,
    /// `None` in role trust policies, which have no `Resource`.
    pub(crate) resource: Option<ResourceElement>,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// The statement id, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether the statement has a `Principal` or `NotPrincipal` element.
    pub fn has_principal(&self) -> bool {
        self.principal.is_some()
    }
}

/// A parsed, validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    version: PolicyVersion,
    version_specified: bool,
    id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

/// A string or a list of strings; with `skip_null`, `null` list entries (which IAM accepts and
/// ignores) are left out.
fn string_list(value: &Json, skip_null: bool) -> Option<Vec<&str>> {
    match value {
        Json::String(s) => Some(vec![s.as_str()]),
        Json::Array(items) => items
            .iter()
            .filter(|i| !(skip_null && matches!(i, Json::Null)))
            .map(|i| match i {
                Json::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

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

/// Returns the one of `a` / `b` present, with whether it was `b`; `Syntax` if both are.
fn one_of<'a>(
    members: &'a [(String, Json)],
    a: &str,
    b: &str,
) -> Result<Option<(&'a Json, bool)>, PolicyError> {
    match (get(members, a), get(members, b)) {
        (Some(_), Some(_)) => Err(PolicyError::Syntax),
        (Some(v), None) => Ok(Some((v, false))),
        (None, Some(v)) => Ok(Some((v, true))),
        (None, None) => Ok(None),
    }
}

fn parse_action(action: &str) -> Result<Template, PolicyError> {
    if action != "*" {
        let (vendor, name) = action.split_once(':').ok_or(PolicyError::MissingVendor)?;
        if vendor.is_empty() {
            return Err(PolicyError::MissingVendor);
        }
        if name.contains(':') {
            return Err(PolicyError::TooManyColons);
        }
    }
    // Policy variables are not supported in Action.
    Ok(Template::parse(
        action,
        Syntax {
            wildcards: true,
            variables: false,
            lowercase: true,
        },
    ))
}

fn parse_resource(resource: &str, variables: bool) -> Result<ResourcePattern, PolicyError> {
    if resource == "*" {
        return Ok(ResourcePattern::Any);
    }
    if !resource.starts_with("arn:") {
        return Err(PolicyError::InvalidResource(resource.to_owned()));
    }
    Ok(ResourcePattern::Arn(ArnTemplate::parse(
        resource,
        Syntax {
            wildcards: true,
            variables,
            lowercase: false,
        },
    )))
}

fn parse_statement(value: &Json, kind: PolicyKind, variables: bool) -> Result<Statement, PolicyError> {
    let members = value.as_object().ok_or(PolicyError::Syntax)?;
    if has_duplicate_keys(members)
        || members
            .iter()
            .any(|(k, _)| !STATEMENT_ELEMENTS.contains(&k.as_str()))
    {
        return Err(PolicyError::Syntax);
    }
    let sid = match get(members, "Sid") {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(_) => return Err(PolicyError::Syntax),
    };
    let effect = match get(members, "Effect") {
        Some(Json::String(s)) if s == "Allow" => Effect::Allow,
        Some(Json::String(s)) if s == "Deny" => Effect::Deny,
        _ => return Err(PolicyError::LegacyParsing),
    };

    let principal = match one_of(members, "Principal", "NotPrincipal")? {
        Some(_) if !kind.has_principal() => return Err(PolicyError::PrincipalNotAllowed),
        Some((v, negated)) => {
            let patterns = principal::parse_principals(v)?;
            Some(if negated {
                PrincipalElement::NotPrincipal(patterns)
            } else {
                PrincipalElement::Principal(patterns)
            })
        }
        None if kind == PolicyKind::Trust => return Err(PolicyError::TrustStatementWithoutPrincipal),
        None if kind.has_principal() => return Err(PolicyError::MissingPrincipal),
        None => None,
    };

    let action = match one_of(members, "Action", "NotAction")? {
        None => return Err(PolicyError::MissingActions),
        Some((v, negated)) => {
            let list = string_list(v, kind.iam_stored()).ok_or(PolicyError::Syntax)?;
            if list.is_empty() {
                return Err(PolicyError::MissingActions);
            }
            let patterns = list.into_iter().map(parse_action).collect::<Result<_, _>>()?;
            ActionElement { negated, patterns }
        }
    };

    let resource = match one_of(members, "Resource", "NotResource")? {
        Some(_) if kind == PolicyKind::Trust => return Err(PolicyError::ResourceNotAllowed),
        None if kind == PolicyKind::Trust => None,
        None => return Err(PolicyError::MissingResources),
        Some((v, negated)) => {
            let list = string_list(v, kind.iam_stored()).ok_or(PolicyError::Syntax)?;
            if list.is_empty() {
                return Err(PolicyError::MissingResources);
            }
            let patterns = list
                .into_iter()
                .map(|r| parse_resource(r, variables))
                .collect::<Result<_, _>>()?;
            Some(ResourceElement { negated, patterns })
        }
    };

    let conditions = match get(members, "Condition") {
        None => Vec::new(),
        Some(block) => condition::parse_block(block, variables, kind.iam_stored())?,
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

impl Policy {
    /// Parses and validates `doc` as a policy of kind `kind`.
    ///
    /// Size limits differ per kind and service; check them with [`crate::document_size`] or
    /// [`crate::document_size_without_whitespace`] before calling this.
    ///
    /// ```
    /// use kinko_policy::{Policy, PolicyError, PolicyKind};
    ///
    /// let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
    ///     "Action":"secretsmanager:GetSecretValue","Resource":"*"}}"#;
    /// assert!(Policy::parse(doc, PolicyKind::Identity).is_ok());
    ///
    /// let with_principal = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#;
    /// assert_eq!(Policy::parse(with_principal, PolicyKind::Identity), Err(PolicyError::PrincipalNotAllowed));
    /// ```
    pub fn parse(doc: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let json = Json::parse(doc).ok_or(PolicyError::InvalidJson)?;
        let members = json.as_object().ok_or(PolicyError::Syntax)?;
        if has_duplicate_keys(members)
            || members
                .iter()
                .any(|(k, _)| !POLICY_ELEMENTS.contains(&k.as_str()))
        {
            return Err(PolicyError::Syntax);
        }
        let (version, version_specified) = match get(members, "Version") {
            None => (PolicyVersion::V2008_10_17, false),
            Some(Json::String(v)) if v == "2012-10-17" => (PolicyVersion::V2012_10_17, true),
            Some(Json::String(v)) if v == "2008-10-17" => (PolicyVersion::V2008_10_17, true),
            Some(_) => return Err(PolicyError::Syntax),
        };
        let id = match get(members, "Id") {
            None => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError::Syntax),
        };
        let raw_statements: Vec<&Json> = match get(members, "Statement") {
            Some(Json::Array(items)) if !items.is_empty() => items.iter().collect(),
            Some(obj @ Json::Object(_)) => vec![obj],
            _ => return Err(PolicyError::Syntax),
        };
        let variables = version == PolicyVersion::V2012_10_17;
        let statements = raw_statements
            .into_iter()
            .map(|s| parse_statement(s, kind, variables))
            .collect::<Result<Vec<_>, _>>()?;

        if kind.strict_sids() {
            for (i, st) in statements.iter().enumerate() {
                let Some(sid) = st.sid() else { continue };
                if !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(PolicyError::InvalidSid);
                }
                if !sid.is_empty() && statements[..i].iter().any(|o| o.sid() == Some(sid)) {
                    return Err(PolicyError::DuplicateSid);
                }
            }
        }
        Ok(Policy {
            kind,
            version,
            version_specified,
            id,
            statements,
        })
    }

    /// Validates `doc` as IAM does a permission policy it is asked to store (`CreatePolicy`,
    /// `CreatePolicyVersion`, `PutUserPolicy`, …), in IAM's order of checks and with its
    /// messages (see [`crate::iam_grammar`]), then parses it as an identity-based policy.
    ///
    /// ```
    /// use kinko_policy::{Policy, PolicyError};
    ///
    /// let old = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
    /// assert_eq!(Policy::parse_iam(old), Err(PolicyError::VersionTooOld));
    /// ```
    pub fn parse_iam(doc: &str) -> Result<Policy, PolicyError> {
        let json = Json::parse(doc).ok_or(PolicyError::InvalidJson)?;
        crate::iam_grammar::check(&json)?;
        Policy::parse(doc, PolicyKind::Identity)
    }

    /// The kind this policy was validated as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The language version in effect (`2008-10-17` when the element is absent).
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// Whether the document had a `Version` element (IAM requires `2012-10-17` for policies it
    /// stores; callers enforce that).
    pub fn version_specified(&self) -> bool {
        self.version_specified
    }

    /// The `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Whether evaluating this policy can read the request's condition context: a statement has
    /// a `Condition`, or a `Resource` / `NotResource` with a policy variable. When no policy of a
    /// set can, the decision depends on the principal, the action and the resource alone, and the
    /// context need not be built.
    pub fn reads_context(&self) -> bool {
        self.statements.iter().any(|s| {
            !s.conditions.is_empty()
                || s.resource
                    .as_ref()
                    .is_some_and(|r| r.patterns.iter().any(ResourcePattern::has_vars))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_reads_the_context_through_conditions_and_resource_variables() {
        let doc = |statement: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        let reads = |statement: &str| {
            Policy::parse(&doc(statement), PolicyKind::Identity)
                .unwrap()
                .reads_context()
        };
        assert!(!reads(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#));
        assert!(!reads(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"s3:Get*","NotResource":"arn:aws:s3:::c"}"#
        ));
        assert!(reads(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}"#
        ));
        assert!(reads(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}"#
        ));
        assert!(reads(
            r#"{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::a","arn:aws:s3:::b/${aws:userid}"]}"#
        ));
        // Under the 2008 language version `${...}` is literal text.
        let old = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}"}]}"#;
        assert!(!Policy::parse(old, PolicyKind::Identity).unwrap().reads_context());
    }

    fn err(doc: &str, kind: PolicyKind) -> PolicyError {
        Policy::parse(doc, kind).unwrap_err()
    }

    #[test]
    fn statement_object_or_array() {
        let one = r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        let p = Policy::parse(one, PolicyKind::Identity).unwrap();
        assert_eq!(p.statements().len(), 1);
        assert_eq!(p.version(), PolicyVersion::V2008_10_17);
        assert!(!p.version_specified());
        let two = r#"{"Version":"2012-10-17","Id":"x","Statement":[
            {"Sid":"A","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"},
            {"Sid":"B","Effect":"Deny","NotAction":"s3:*","NotResource":"arn:aws:s3:::b/*"}]}"#;
        let p = Policy::parse(two, PolicyKind::Identity).unwrap();
        assert_eq!(p.statements().len(), 2);
        assert_eq!(p.statements()[1].sid(), Some("B"));
        assert_eq!(p.statements()[1].effect(), Effect::Deny);
        assert_eq!(p.id(), Some("x"));
    }

    #[test]
    fn error_messages() {
        use PolicyKind::*;
        let s = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":{body}}}"#);
        assert_eq!(
            err("{", Identity).to_string(),
            "This policy contains invalid Json"
        );
        assert_eq!(err("[]", Identity), PolicyError::Syntax);
        assert_eq!(err(r#"{"Version":"2012-10-17"}"#, Identity), PolicyError::Syntax);
        assert_eq!(
            err(r#"{"Version":"2013-01-01","Statement":[]}"#, Identity),
            PolicyError::Syntax
        );
        assert_eq!(err(&s("[]"), Identity), PolicyError::Syntax);
        assert_eq!(
            err(&s(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#), Identity),
            PolicyError::LegacyParsing
        );
        assert_eq!(
            err(&s(r#"{"Action":"*","Resource":"*"}"#), Identity),
            PolicyError::LegacyParsing
        );
        assert_eq!(
            err(
                &s(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#),
                Identity
            )
            .to_string(),
            "Policy document should not specify a principal."
        );
        assert_eq!(
            err(&s(r#"{"Effect":"Allow","Resource":"*"}"#), Identity).to_string(),
            "Policy statement must contain actions."
        );
        assert_eq!(
            err(&s(r#"{"Effect":"Allow","Action":"*"}"#), Identity).to_string(),
            "Policy statement must contain resources."
        );
        assert_eq!(
            err(
                &s(r#"{"Effect":"Allow","Action":"GetSecretValue","Resource":"*"}"#),
                Identity
            )
            .to_string(),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        );
        assert_eq!(
            err(
                &s(r#"{"Effect":"Allow","Action":"a:b:c","Resource":"*"}"#),
                Identity
            )
            .to_string(),
            "Actions/Condition can contain only one colon."
        );
        assert_eq!(
            err(
                &s(r#"{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}"#),
                Identity
            )
            .to_string(),
            "Resource bucket must be in ARN format or \"*\"."
        );
        assert_eq!(
            err(&s(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}"#), Trust)
                .to_string(),
            "Has prohibited field Resource."
        );
        assert_eq!(
            err(&s(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#), Trust),
            PolicyError::TrustStatementWithoutPrincipal
        );
        assert_eq!(
            err(
                &s(r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#),
                KeyPolicy
            ),
            PolicyError::MissingPrincipal
        );
        assert_eq!(
            err(
                &s(r#"{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}"#),
                Trust
            )
            .to_string(),
            "Invalid principal in policy: \"AWS\":\"bob\""
        );
        assert_eq!(
            err(
                &s(
                    r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}}"#
                ),
                Identity
            ),
            PolicyError::Syntax
        );
        assert_eq!(
            err(
                &s(r#"{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}"#),
                Identity
            ),
            PolicyError::Syntax
        );
        assert_eq!(
            err(
                &s(
                    r#"[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]"#
                ),
                Identity
            ),
            PolicyError::DuplicateSid
        );
        assert_eq!(
            err(
                &s(r#"{"Sid":"no spaces","Effect":"Allow","Action":"*","Resource":"*"}"#),
                Identity
            ),
            PolicyError::InvalidSid
        );
    }

    #[test]
    fn key_policies_accept_spaced_and_repeated_sids() {
        let doc = r#"{"Version":"2012-10-17","Id":"auto-secretsmanager-2","Statement":[
            {"Sid":"Allow access through AWS Secrets Manager","Effect":"Allow","Principal":{"AWS":"*"},
             "Action":"kms:Decrypt","Resource":"*"},
            {"Sid":"Allow access through AWS Secrets Manager","Effect":"Allow","Principal":{"AWS":"*"},
             "Action":"kms:GenerateDataKey*","Resource":"*"}]}"#;
        assert!(Policy::parse(doc, PolicyKind::KeyPolicy).is_ok());
    }

    #[test]
    fn empty_id_is_accepted() {
        // KMS accepts `"Id": ""` (moto's key policy enforcement tests send it).
        let doc = r#"{"Version":"2012-10-17","Id":"","Statement":[{"Sid":"test","Effect":"Deny",
            "Principal":"*","Action":["kms:*"],"Resource":"*"}]}"#;
        assert_eq!(Policy::parse(doc, PolicyKind::KeyPolicy).unwrap().id(), Some(""));
    }
}
