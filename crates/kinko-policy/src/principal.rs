//! Who is asking, and whether a `Principal` / `NotPrincipal` element names them.
//!
//! Owns [`PrincipalCtx`] (the authenticated caller as the evaluator needs it), the parsed
//! principal patterns of resource-based policies, and the matching rules of the IAM User Guide
//! ("AWS JSON policy elements: Principal" and "NotPrincipal", "Policy evaluation logic"):
//!
//! - `"*"` and `{"AWS": "*"}` match everyone, anonymous callers included;
//! - an account (`"123456789012"` or `arn:aws:iam::123456789012:root`) matches every principal
//!   of that account, but for the account's IAM identities an `Allow` only *delegates* to the
//!   account's identity-based policies; for the root user it is a direct grant;
//! - a user, assumed-role session or federated-user ARN matches exactly that principal;
//! - a role ARN matches the role's sessions, with a grant that permissions boundaries and session
//!   policies still limit; an IAM user ARN likewise matches the federated-user sessions that user
//!   created (limited the same way);
//! - `Service` and `Federated` match service principals and identity providers by name.
//!
//! Pure: no I/O.

use crate::error::PolicyError;
use crate::json::Json;

/// The kind of authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account's root user (`arn:aws:iam::<acct>:root`).
    Root,
    /// An IAM user.
    User,
    /// An assumed-role session (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`).
    AssumedRole,
    /// A `GetFederationToken` session (`arn:aws:sts::<acct>:federated-user/<name>`).
    FederatedUser,
    /// An AWS service principal such as `secretsmanager.amazonaws.com` (name in `arn`).
    Service,
    /// A web-identity or SAML provider, as the principal of `AssumeRoleWith*` trust checks
    /// (provider ARN or well-known name such as `accounts.google.com` in `arn`).
    IdentityProvider,
    /// An unauthenticated caller.
    Anonymous,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalCtx {
    /// The caller's ARN as `GetCallerIdentity` shows it (session ARN for role sessions; service
    /// or provider name for [`PrincipalKind::Service`] / [`PrincipalKind::IdentityProvider`]).
    pub arn: String,
    /// The caller's account (empty for services, providers and anonymous callers).
    pub account_id: String,
    /// What kind of caller this is.
    pub kind: PrincipalKind,
    /// For role sessions, the role's ARN (with its path, which session ARNs drop); for
    /// federated users, the ARN of the IAM user who called `GetFederationToken`.
    pub issuer_arn: Option<String>,
    /// The unique id (`AIDA…` for users, `AROA…:<session>` for role sessions, the account id for
    /// root, `<account>:<name>` for federated users).
    pub user_id: String,
    /// The friendly name of an IAM user (`aws:username`).
    pub username: Option<String>,
    /// Principal tags (user or role tags plus session tags).
    pub tags: Vec<(String, String)>,
    /// The caller's AWS Organizations id (`aws:PrincipalOrgID`).
    pub org_id: Option<String>,
}

/// The account field of an ARN (`arn:partition:service:region:account:resource`).
pub(crate) fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    let account = parts.nth(3)?;
    parts.next()?;
    Some(account)
}

fn arn_partition(arn: &str) -> &str {
    arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
}

/// The resource part of an ARN (after the fifth colon).
fn arn_resource(arn: &str) -> Option<&str> {
    arn.splitn(6, ':').nth(5)
}

impl PrincipalCtx {
    fn base(kind: PrincipalKind, arn: String, account_id: String, user_id: String) -> Self {
        PrincipalCtx {
            arn,
            account_id,
            kind,
            issuer_arn: None,
            user_id,
            username: None,
            tags: Vec::new(),
            org_id: None,
        }
    }

    /// The root user of `account_id`.
    pub fn root(account_id: &str) -> Self {
        Self::base(
            PrincipalKind::Root,
            format!("arn:aws:iam::{account_id}:root"),
            account_id.to_owned(),
            account_id.to_owned(),
        )
    }

    /// An IAM user, from its ARN (`arn:aws:iam::<acct>:user/<path/>Name`) and unique id.
    pub fn user(arn: &str, user_id: &str) -> Self {
        let mut p = Self::base(
            PrincipalKind::User,
            arn.to_owned(),
            arn_account(arn).unwrap_or_default().to_owned(),
            user_id.to_owned(),
        );
        p.username = arn_resource(arn)
            .and_then(|r| r.rsplit('/').next())
            .map(str::to_owned);
        p
    }

    /// A session of the role `role_arn` (`arn:aws:iam::<acct>:role/<path/>Name`) named
    /// `session_name`; `role_id` is the role's `AROA…` id. The session ARN drops the role path.
    pub fn assumed_role(role_arn: &str, session_name: &str, role_id: &str) -> Self {
        let account = arn_account(role_arn).unwrap_or_default();
        let role_name = arn_resource(role_arn)
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or_default();
        let arn = format!(
            "arn:{}:sts::{account}:assumed-role/{role_name}/{session_name}",
            arn_partition(role_arn)
        );
        let mut p = Self::base(
            PrincipalKind::AssumedRole,
            arn,
            account.to_owned(),
            format!("{role_id}:{session_name}"),
        );
        p.issuer_arn = Some(role_arn.to_owned());
        p
    }

    /// A federated-user session named `name` created by the IAM user `issuer_user_arn`.
    pub fn federated_user(issuer_user_arn: &str, name: &str) -> Self {
        let account = arn_account(issuer_user_arn).unwrap_or_default();
        let arn = format!(
            "arn:{}:sts::{account}:federated-user/{name}",
            arn_partition(issuer_user_arn)
        );
        let mut p = Self::base(
            PrincipalKind::FederatedUser,
            arn,
            account.to_owned(),
            format!("{account}:{name}"),
        );
        p.issuer_arn = Some(issuer_user_arn.to_owned());
        p
    }

    /// An AWS service principal such as `secretsmanager.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self::base(
            PrincipalKind::Service,
            name.to_owned(),
            String::new(),
            String::new(),
        )
    }

    /// An identity provider (for `AssumeRoleWithWebIdentity` / `AssumeRoleWithSAML` trust checks).
    pub fn identity_provider(provider: &str) -> Self {
        Self::base(
            PrincipalKind::IdentityProvider,
            provider.to_owned(),
            String::new(),
            String::new(),
        )
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Self {
        Self::base(
            PrincipalKind::Anonymous,
            "*".to_owned(),
            String::new(),
            "anonymous".to_owned(),
        )
    }

    /// Adds principal tags.
    pub fn with_tags<'t>(mut self, tags: impl IntoIterator<Item = (&'t str, &'t str)>) -> Self {
        self.tags
            .extend(tags.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
        self
    }

    /// Sets the organization id.
    pub fn with_org(mut self, org_id: &str) -> Self {
        self.org_id = Some(org_id.to_owned());
        self
    }

    /// The value of `aws:PrincipalArn`: the role ARN (not the session ARN) for role sessions,
    /// otherwise [`Self::arn`].
    pub fn principal_arn(&self) -> &str {
        match (self.kind, &self.issuer_arn) {
            (PrincipalKind::AssumedRole, Some(role)) => role,
            _ => &self.arn,
        }
    }

    /// For a role session without `issuer_arn`: the role name in the session ARN.
    fn session_role_name(&self) -> Option<&str> {
        let rest = arn_resource(&self.arn)?.strip_prefix("assumed-role/")?;
        rest.split('/').next()
    }
}

/// How a `Principal` element matched the caller; the order is from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// The caller's account was named: for its IAM identities an `Allow` only delegates to
    /// identity-based policies.
    Account,
    /// The caller's role (or, for a federated user, the IAM user who federated) was named:
    /// still limited by permissions boundaries and session policies.
    Issuer,
    /// The caller itself was named (or `*`): a direct grant.
    Direct,
}

/// One value of a `Principal` / `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalPattern {
    Any,
    Account(Box<str>),
    User(Box<str>),
    Role(Box<str>),
    Session(Box<str>),
    FederatedUser(Box<str>),
    UniqueId(Box<str>),
    Service(Box<str>),
    Federated(Box<str>),
    CanonicalUser(Box<str>),
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_unique_id(s: &str) -> bool {
    (s.starts_with("AIDA") || s.starts_with("AROA"))
        && (16..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

pub(crate) fn parse_aws(value: &str) -> Option<PrincipalPattern> {
    if value == "*" {
        return Some(PrincipalPattern::Any);
    }
    if value.contains(['*', '?']) {
        // "You cannot use a wildcard to match part of a principal name or ARN."
        return None;
    }
    if is_account_id(value) {
        return Some(PrincipalPattern::Account(value.into()));
    }
    if is_unique_id(value) {
        return Some(PrincipalPattern::UniqueId(value.into()));
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    if *arn != "arn" || partition.is_empty() || !region.is_empty() || !is_account_id(account) {
        return None;
    }
    let named = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && !n.ends_with('/'))
    };
    match *service {
        "iam" if *resource == "root" => Some(PrincipalPattern::Account((*account).into())),
        "iam" if named("user/") => Some(PrincipalPattern::User(value.into())),
        "iam" if named("role/") => Some(PrincipalPattern::Role(value.into())),
        "sts" if named("assumed-role/") && resource.matches('/').count() == 2 => {
            Some(PrincipalPattern::Session(value.into()))
        }
        "sts" if named("federated-user/") => Some(PrincipalPattern::FederatedUser(value.into())),
        _ => None,
    }
}

fn strings(value: &Json) -> Option<Vec<&str>> {
    match value {
        Json::String(s) => Some(vec![s.as_str()]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Parses the value of a `Principal` / `NotPrincipal` element.
pub(crate) fn parse_principals(value: &Json) -> Result<Vec<PrincipalPattern>, PolicyError> {
    match value {
        Json::String(s) if s == "*" => Ok(vec![PrincipalPattern::Any]),
        Json::Object(members) if !members.is_empty() => {
            let mut out = Vec::new();
            for (key, v) in members {
                let values = strings(v).ok_or(PolicyError::Syntax)?;
                for s in values {
                    let invalid = || PolicyError::InvalidPrincipal {
                        key: key.clone(),
                        value: s.to_owned(),
                    };
                    let pattern = match key.as_str() {
                        "AWS" => parse_aws(s).ok_or_else(invalid)?,
                        "Service" if !s.is_empty() && !s.contains(['*', '?']) => {
                            PrincipalPattern::Service(s.to_ascii_lowercase().into())
                        }
                        "Federated" if !s.is_empty() && !s.contains(['*', '?']) => {
                            PrincipalPattern::Federated(s.into())
                        }
                        "CanonicalUser" if !s.is_empty() => PrincipalPattern::CanonicalUser(s.into()),
                        "Service" | "Federated" | "CanonicalUser" => return Err(invalid()),
                        _ => return Err(PolicyError::Syntax),
                    };
                    out.push(pattern);
                }
            }
            Ok(out)
        }
        _ => Err(PolicyError::Syntax),
    }
}

impl PrincipalPattern {
    /// How this pattern matches `p`, if at all.
    pub(crate) fn grant(&self, p: &PrincipalCtx) -> Option<Grant> {
        use PrincipalKind as K;
        match self {
            PrincipalPattern::Any => Some(Grant::Direct),
            PrincipalPattern::Account(acct) => match p.kind {
                _ if **acct != *p.account_id => None,
                K::Root => Some(Grant::Direct),
                K::User | K::AssumedRole | K::FederatedUser => Some(Grant::Account),
                _ => None,
            },
            PrincipalPattern::User(arn) => match p.kind {
                K::User if **arn == *p.arn => Some(Grant::Direct),
                K::FederatedUser if p.issuer_arn.as_deref() == Some(&**arn) => Some(Grant::Issuer),
                _ => None,
            },
            PrincipalPattern::Role(_) => {
                (p.kind == K::AssumedRole && self.names_role_of(p)).then_some(Grant::Issuer)
            }
            PrincipalPattern::Session(arn) | PrincipalPattern::FederatedUser(arn) => {
                (matches!(p.kind, K::AssumedRole | K::FederatedUser) && **arn == *p.arn)
                    .then_some(Grant::Direct)
            }
            PrincipalPattern::UniqueId(id) => match p.kind {
                K::User if **id == *p.user_id => Some(Grant::Direct),
                K::AssumedRole if p.user_id.split(':').next() == Some(&**id) => Some(Grant::Issuer),
                _ => None,
            },
            PrincipalPattern::Service(name) => {
                (p.kind == K::Service && p.arn.eq_ignore_ascii_case(name)).then_some(Grant::Direct)
            }
            PrincipalPattern::Federated(provider) => {
                (p.kind == K::IdentityProvider && **provider == *p.arn).then_some(Grant::Direct)
            }
            // Canonical user ids identify S3 accounts; no kinko principal carries one.
            PrincipalPattern::CanonicalUser(_) => None,
        }
    }

    /// For a `Role` pattern: does it name the role of session `p`?
    fn names_role_of(&self, p: &PrincipalCtx) -> bool {
        let PrincipalPattern::Role(arn) = self else {
            return false;
        };
        match &p.issuer_arn {
            Some(role) => **arn == **role,
            // Without the role ARN, compare account and role name (the session ARN has no path).
            None => {
                arn_account(arn) == Some(p.account_id.as_str())
                    && arn_resource(arn).and_then(|r| r.rsplit('/').next()) == p.session_role_name()
            }
        }
    }
}

/// The strongest grant any pattern in `patterns` gives `p`.
pub(crate) fn best_grant(patterns: &[PrincipalPattern], p: &PrincipalCtx) -> Option<Grant> {
    patterns.iter().filter_map(|pat| pat.grant(p)).max()
}

/// `NotPrincipal`: true if the statement applies to `p`, i.e. some identity in the caller's
/// chain (session, role, account — or user, account) is not listed. AWS documents that a
/// `NotPrincipal` excluding a role session must also list the role and the account, and one
/// excluding a user must also list the account (IAM User Guide, NotPrincipal).
pub(crate) fn not_principal_applies(patterns: &[PrincipalPattern], p: &PrincipalCtx) -> bool {
    use PrincipalKind as K;
    if patterns.contains(&PrincipalPattern::Any) {
        return false;
    }
    let listed = |f: &dyn Fn(&PrincipalPattern) -> bool| patterns.iter().any(f);
    let account_listed =
        || listed(&|pat| matches!(pat, PrincipalPattern::Account(a) if **a == *p.account_id));
    match p.kind {
        K::Root => !account_listed(),
        K::User => {
            let user = listed(&|pat| match pat {
                PrincipalPattern::User(arn) => **arn == *p.arn,
                PrincipalPattern::UniqueId(id) => **id == *p.user_id,
                _ => false,
            });
            !(user && account_listed())
        }
        K::AssumedRole => {
            let session = listed(&|pat| matches!(pat, PrincipalPattern::Session(arn) if **arn == *p.arn));
            let role = listed(&|pat| match pat {
                PrincipalPattern::Role(_) => pat.names_role_of(p),
                PrincipalPattern::UniqueId(id) => p.user_id.split(':').next() == Some(&**id),
                _ => false,
            });
            !(session && role && account_listed())
        }
        K::FederatedUser => {
            let fed = listed(&|pat| matches!(pat, PrincipalPattern::FederatedUser(arn) if **arn == *p.arn));
            !(fed && account_listed())
        }
        K::Service => {
            !listed(&|pat| matches!(pat, PrincipalPattern::Service(s) if p.arn.eq_ignore_ascii_case(s)))
        }
        K::IdentityProvider => !listed(&|pat| matches!(pat, PrincipalPattern::Federated(f) if **f == *p.arn)),
        K::Anonymous => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(v: &str) -> Option<PrincipalPattern> {
        parse_aws(v)
    }

    #[test]
    fn parses_aws_values() {
        assert_eq!(aws("*"), Some(PrincipalPattern::Any));
        assert_eq!(
            aws("111122223333"),
            Some(PrincipalPattern::Account("111122223333".into()))
        );
        assert_eq!(
            aws("arn:aws:iam::111122223333:root"),
            Some(PrincipalPattern::Account("111122223333".into()))
        );
        assert!(matches!(
            aws("arn:aws:iam::111122223333:user/a/b"),
            Some(PrincipalPattern::User(_))
        ));
        assert!(matches!(
            aws("arn:aws:iam::111122223333:role/r"),
            Some(PrincipalPattern::Role(_))
        ));
        assert!(matches!(
            aws("arn:aws:sts::111122223333:assumed-role/r/s"),
            Some(PrincipalPattern::Session(_))
        ));
        assert!(matches!(
            aws("arn:aws:sts::111122223333:federated-user/f"),
            Some(PrincipalPattern::FederatedUser(_))
        ));
        assert!(matches!(
            aws("AIDAJQABLZS4A3QDU576Q"),
            Some(PrincipalPattern::UniqueId(_))
        ));
        assert_eq!(aws("arn:aws:iam::111122223333:role/*"), None);
        assert_eq!(aws("arn:aws:iam::111122223333:group/g"), None);
        assert_eq!(aws("arn:aws:iam::11112222333:root"), None);
        assert_eq!(aws("arn:aws:iam:us-east-1:111122223333:root"), None);
        assert_eq!(aws("alice"), None);
        assert_eq!(aws("arn:aws:sts::111122223333:assumed-role/r"), None);
        assert_eq!(aws(""), None);
    }

    #[test]
    fn constructors() {
        let s = PrincipalCtx::assumed_role("arn:aws:iam::111122223333:role/ops/Deploy", "s1", "AROAEXAMPLE");
        assert_eq!(s.arn, "arn:aws:sts::111122223333:assumed-role/Deploy/s1");
        assert_eq!(s.principal_arn(), "arn:aws:iam::111122223333:role/ops/Deploy");
        assert_eq!(s.user_id, "AROAEXAMPLE:s1");
        let u = PrincipalCtx::user("arn:aws:iam::111122223333:user/div/alice", "AIDAEXAMPLE");
        assert_eq!(u.username.as_deref(), Some("alice"));
        assert_eq!(u.account_id, "111122223333");
        let bad = PrincipalCtx::user("nonsense", "x");
        assert_eq!(bad.account_id, "");
    }

    #[test]
    fn role_pattern_without_issuer_uses_name() {
        let mut s = PrincipalCtx::assumed_role("arn:aws:iam::111122223333:role/Deploy", "s1", "AROAX");
        s.issuer_arn = None;
        let pat = PrincipalPattern::Role("arn:aws:iam::111122223333:role/path/Deploy".into());
        assert_eq!(pat.grant(&s), Some(Grant::Issuer));
    }
}
