//! IAM response shapes as XML (botocore's `iam` model): users, groups, roles, managed policies, tags,
//! list truncation; and the identifiers IAM generates.
//!
//! Policy documents go out URL-encoded, as IAM sends them (`%7B%22Version%22...`); SDKs and the CLI
//! decode them.

use kinko_core::Timestamp;
use kinko_core::iam::{Group, IamState, InstanceProfile, ManagedPolicy, PolicyVersion, Role, User};
use kinko_core::secret::Tag;
use kinko_wire::query::Xml;
use rand::Rng;
use zeroize::Zeroizing;

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn random_base32(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(BASE32[rng.random_range(0..BASE32.len())]))
        .collect()
}

/// A unique id as IAM makes them: a 4-letter prefix (`AIDA` user, `AROA` role, `AGPA` group,
/// `ANPA` managed policy) and 17 upper-case alphanumerics.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_base32(17))
}

/// A signing certificate's id: 32 upper-case alphanumerics.
pub fn certificate_id() -> String {
    random_base32(32)
}

/// A long-term access key id: `AKIA` + 16 characters of base32.
pub fn access_key_id() -> String {
    format!("AKIA{}", random_base32(16))
}

/// An SSH public key id: `APKA` + 16 characters of base32, 20 in all like an access key id.
pub fn ssh_public_key_id() -> String {
    format!("APKA{}", random_base32(16))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> Zeroizing<String> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
    let mut rng = rand::rng();
    Zeroizing::new(
        (0..40)
            .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
            .collect(),
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters (spaces become `%20`), like
/// Python's `urllib.parse.quote(doc, safe='')`, which is how IAM returns policy documents.
pub fn url_encode(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len() * 3 / 2);
    for b in doc.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn ts(t: Timestamp) -> String {
    kinko_wire::query::timestamp(t.millis())
}

/// `<tag><member>..</member>...</tag>` with each item written by `f`.
pub fn members<T>(
    x: &mut Xml,
    tag: &str,
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(&mut Xml, T),
) {
    x.open(tag);
    for item in items {
        x.open("member");
        f(x, item);
        x.close("member");
    }
    x.close(tag);
}

/// A list of plain strings: `<tag><member>s</member>...</tag>`.
pub fn string_members<'a>(x: &mut Xml, tag: &str, items: impl IntoIterator<Item = &'a str>) {
    x.open(tag);
    for s in items {
        x.elem("member", s);
    }
    x.close(tag);
}

/// Helpers the `Xml` writer lacks.
pub trait XmlExt {
    fn bool(&mut self, tag: &str, v: bool) -> &mut Self;
    fn num(&mut self, tag: &str, v: impl std::fmt::Display) -> &mut Self;
}

impl XmlExt for Xml {
    fn bool(&mut self, tag: &str, v: bool) -> &mut Self {
        self.elem(tag, if v { "true" } else { "false" })
    }
    fn num(&mut self, tag: &str, v: impl std::fmt::Display) -> &mut Self {
        self.elem(tag, &v.to_string())
    }
}

pub fn tags(x: &mut Xml, tag_list: &[Tag]) {
    members(x, "Tags", tag_list, |x, t| {
        x.elem("Key", &t.key).elem("Value", &t.value);
    });
}

fn boundary(x: &mut Xml, arn: Option<&str>) {
    if let Some(arn) = arn {
        x.open("PermissionsBoundary")
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", arn)
            .close("PermissionsBoundary");
    }
}

/// `IsTruncated` and, when more follow, `Marker`.
pub fn truncation(x: &mut Xml, next: Option<&str>) {
    x.bool("IsTruncated", next.is_some());
    x.opt("Marker", next);
}

/// How much of an entity a response shows: Get*/Create* show tags and the permissions boundary,
/// List* (and GetGroup's users) leave them out, as IAM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Full,
    Listed,
}

/// The members of a `User` structure.
pub fn user_fields(x: &mut Xml, u: &User, detail: Detail) {
    x.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.user_id)
        .elem("Arn", &u.arn)
        .elem("CreateDate", &ts(u.create_date));
    if detail == Detail::Full {
        boundary(x, u.permissions_boundary.as_deref());
        if !u.tags.is_empty() {
            tags(x, &u.tags);
        }
    }
}

pub fn user(x: &mut Xml, u: &User, detail: Detail) {
    x.open("User");
    user_fields(x, u, detail);
    x.close("User");
}

/// The root user as a `User` structure (GetUser by the root user, the `User` of a root user's
/// virtual MFA device): AWS describes it by its account id and ARN, with no name or path.
pub fn root_user(x: &mut Xml, account: &str, created: Timestamp) {
    x.open("User")
        .elem("UserId", account)
        .elem("Arn", &kinko_core::principal::Principal::root(account).arn)
        .elem("CreateDate", &ts(created))
        .close("User");
}

pub fn group_fields(x: &mut Xml, g: &Group) {
    x.elem("Path", &g.path)
        .elem("GroupName", &g.name)
        .elem("GroupId", &g.group_id)
        .elem("Arn", &g.arn)
        .elem("CreateDate", &ts(g.create_date));
}

pub fn group(x: &mut Xml, g: &Group) {
    x.open("Group");
    group_fields(x, g);
    x.close("Group");
}

/// The members of a `Role` structure.
pub fn role_fields(x: &mut Xml, r: &Role, detail: Detail) {
    x.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.role_id)
        .elem("Arn", &r.arn)
        .elem("CreateDate", &ts(r.create_date))
        .elem(
            "AssumeRolePolicyDocument",
            &url_encode(&r.assume_role_policy_document),
        )
        .opt("Description", r.description.as_deref())
        .num("MaxSessionDuration", r.max_session_duration);
    if detail == Detail::Full {
        boundary(x, r.permissions_boundary.as_deref());
        if !r.tags.is_empty() {
            tags(x, &r.tags);
        }
        x.open("RoleLastUsed").close("RoleLastUsed");
    }
}

pub fn role(x: &mut Xml, r: &Role, detail: Detail) {
    x.open("Role");
    role_fields(x, r, detail);
    x.close("Role");
}

/// The members of an `InstanceProfile` structure: its roles as `Role` structures (without tags and
/// boundary, as IAM lists them), and with `Detail::Full` its tags.
pub fn instance_profile_fields(x: &mut Xml, p: &InstanceProfile, state: &IamState, detail: Detail) {
    x.elem("Path", &p.path)
        .elem("InstanceProfileName", &p.name)
        .elem("InstanceProfileId", &p.instance_profile_id)
        .elem("Arn", &p.arn)
        .elem("CreateDate", &ts(p.create_date));
    members(
        x,
        "Roles",
        p.roles.iter().filter_map(|r| state.role(r)),
        |x, r| role_fields(x, r, Detail::Listed),
    );
    if detail == Detail::Full && !p.tags.is_empty() {
        tags(x, &p.tags);
    }
}

pub fn instance_profile(x: &mut Xml, p: &InstanceProfile, state: &IamState, detail: Detail) {
    x.open("InstanceProfile");
    instance_profile_fields(x, p, state, detail);
    x.close("InstanceProfile");
}

/// The members of a `Policy` (or `ManagedPolicyDetail`) structure; usage counts are the account's.
pub fn policy_fields(x: &mut Xml, p: &ManagedPolicy, state: &IamState, detail: Detail) {
    x.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.policy_id)
        .elem("Arn", &p.arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", &p.default_version_id)
        .num("AttachmentCount", state.attachment_count(&p.arn))
        .num(
            "PermissionsBoundaryUsageCount",
            state.boundary_usage_count(&p.arn),
        )
        .bool("IsAttachable", true);
    if detail == Detail::Full {
        x.opt("Description", p.description.as_deref());
    }
    x.elem("CreateDate", &ts(p.create_date))
        .elem("UpdateDate", &ts(p.update_date));
    if detail == Detail::Full && !p.tags.is_empty() {
        tags(x, &p.tags);
    }
}

/// The members of a `PolicyVersion` structure.
pub fn policy_version_fields(x: &mut Xml, p: &ManagedPolicy, v: &PolicyVersion) {
    x.elem("Document", &url_encode(&v.document))
        .elem("VersionId", &v.version_id)
        .bool("IsDefaultVersion", v.version_id == p.default_version_id)
        .elem("CreateDate", &ts(v.create_date));
}

/// `AttachedManagedPolicies` / `AttachedPolicies` members: name and ARN of each attached policy.
pub fn attached_policies(x: &mut Xml, tag: &str, arns: &[String]) {
    members(x, tag, arns, |x, arn| {
        x.elem("PolicyName", policy_name(arn)).elem("PolicyArn", arn);
    });
}

/// The name in a managed policy ARN (after the last `/`).
pub fn policy_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_quote() {
        // urllib.parse.quote('{"Version": "2012-10-17", "A": ["s3:*"]}', safe='')
        assert_eq!(
            url_encode(r#"{"Version": "2012-10-17", "A": ["s3:*"]}"#),
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22A%22%3A%20%5B%22s3%3A%2A%22%5D%7D"
        );
        assert_eq!(url_encode("é/~"), "%C3%A9%2F~");
    }

    #[test]
    fn ids() {
        let id = unique_id("AIDA");
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA") && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        let key = access_key_id();
        assert_eq!(key.len(), 20);
        assert_eq!(secret_access_key().len(), 40);
    }
}
