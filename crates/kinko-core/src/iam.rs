//! IAM state of one account: users, groups, roles and customer managed policies, kept as one
//! aggregate per account (IAM changes are rare; evaluating a request needs several entities at once).
//!
//! Pure data and lookups; the IAM service implements the operations, the store keeps the aggregate
//! with an optimistic revision check.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::secret::Tag;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlinePolicy {
    pub name: String,
    /// The policy JSON as the caller supplied it.
    pub document: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub path: String,
    /// `AIDA...`
    pub user_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicy>,
    /// ARNs of attached managed policies (customer or AWS managed).
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    /// Names of the groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The user's console password (CreateLoginProfile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_profile: Option<crate::login::LoginProfile>,
    /// The user's SSH public keys (UploadSSHPublicKey), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_public_keys: Vec<SshPublicKey>,
    /// The user's X.509 signing certificates (UploadSigningCertificate), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_certificates: Vec<SigningCertificate>,
}

/// An SSH public key of an IAM user (for CodeCommit and the like).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshPublicKey {
    /// `APKA...`
    pub ssh_public_key_id: String,
    /// The key as uploaded: OpenSSH (`ssh-rsa AAAA...`) or PEM.
    pub body: String,
    /// The MD5 fingerprint of the key, `xx:xx:...`.
    pub fingerprint: String,
    /// `Active` or `Inactive`.
    pub status: String,
    pub upload_date: Timestamp,
}

/// An X.509 signing certificate of an IAM user (or of the root user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningCertificate {
    pub certificate_id: String,
    /// The PEM text as uploaded.
    pub certificate_body: String,
    /// Whether it is `Active` (or `Inactive`).
    pub active: bool,
    pub upload_date: Timestamp,
}

/// A server certificate (UploadServerCertificate): a certificate, its chain and its private key,
/// which is kept only sealed under the root key (bound to the certificate's id) and never
/// returned.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCertificate {
    pub name: String,
    pub path: String,
    /// `ASCA...`
    pub server_certificate_id: String,
    /// `arn:aws:iam::<account>:server-certificate<path><name>`
    pub arn: String,
    pub certificate_body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_chain: Option<String>,
    /// The private key sealed under the root key (aad = the server certificate id).
    pub sealed_private_key: Vec<u8>,
    pub upload_date: Timestamp,
    /// The certificate's `notAfter`.
    pub expiration: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// The sealed key is ciphertext, but it stays out of logs all the same.
impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("arn", &self.arn)
            .field("server_certificate_id", &self.server_certificate_id)
            .field("upload_date", &self.upload_date)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl User {
    /// The principal this user is to policies and messages, whether they call with an access key
    /// or signed in to the console with their password.
    pub fn principal(&self, account_id: &str) -> crate::principal::Principal {
        crate::principal::Principal {
            account_id: account_id.to_owned(),
            arn: self.arn.clone(),
            kind: crate::principal::PrincipalKind::User {
                name: self.name.clone(),
                user_id: self.user_id.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub path: String,
    /// `AGPA...`
    pub group_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicy>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub path: String,
    /// `AROA...`
    pub role_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub assume_role_policy_document: String,
    /// When the trust policy was last replaced (`None`: as created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_policy_updated: Option<Timestamp>,
    /// The users and roles the trust policy names, bound to their unique ids when it was saved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_principals: Vec<crate::principal::BoundPrincipal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds, 3600..=43200.
    pub max_session_duration: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicy>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, ...
    pub version_id: String,
    pub document: String,
    pub create_date: Timestamp,
}

/// A managed policy. Customer managed ones live in [`IamState::policies`]; AWS managed ones
/// (`arn:aws:iam::aws:policy/...`) are built in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    /// `ANPA...`
    pub policy_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub default_version_id: String,
    /// At most 5 versions.
    pub versions: Vec<PolicyVersion>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// How many versions were ever created: version ids are never reused, so after `v3` is
    /// deleted the next one is still `v4`. 0 when unknown (then the highest existing id counts).
    #[serde(default)]
    pub versions_created: u32,
}

impl ManagedPolicy {
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
            .map(|v| v.document.as_str())
    }

    pub fn version(&self, version_id: &str) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.version_id == version_id)
    }

    /// Whether this is a built-in AWS managed policy (`arn:aws:iam::aws:policy/...`).
    pub fn is_aws_managed(&self) -> bool {
        self.arn.starts_with(AWS_MANAGED_POLICY_PREFIX)
    }

    /// The id the next version gets: `v<n+1>`, counting every version ever created.
    pub fn next_version_id(&self) -> String {
        let highest = self
            .versions
            .iter()
            .filter_map(|v| v.version_id.strip_prefix('v')?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        format!("v{}", highest.max(self.versions_created) + 1)
    }
}

/// An instance profile: the container of (at most) one role that EC2 hands to an instance, and
/// that kinko's instance metadata endpoint hands to the programs attached to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProfile {
    pub name: String,
    pub path: String,
    /// `AIPA...`
    pub instance_profile_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    /// The names of its roles (IAM allows one).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An OpenID Connect identity provider: whose tokens `AssumeRoleWithWebIdentity` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdConnectProvider {
    /// The issuer without its scheme, as IAM keeps it: `token.actions.githubusercontent.com`,
    /// `oidc.example.com/path`.
    pub url: String,
    /// `arn:aws:iam::<account>:oidc-provider/<url>`
    pub arn: String,
    /// The audiences (`aud`) its tokens may carry.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// SHA-1 thumbprints of the issuer's certificates, as given.
    #[serde(default)]
    pub thumbprints: Vec<String>,
    pub create_date: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A SAML 2.0 identity provider: whose assertions `AssumeRoleWithSAML` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlProvider {
    pub name: String,
    /// `arn:aws:iam::<account>:saml-provider/<name>`
    pub arn: String,
    /// The identity provider's metadata document, whole and as given: the signing certificates
    /// assertions are verified against are in it.
    pub metadata_document: String,
    pub create_date: Timestamp,
    /// When the metadata stops being valid (its `validUntil`).
    pub valid_until: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A deletion of a service-linked role. kinko's services hold no resources that use such a role,
/// so the deletion completes at once; it stays visible by its task id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLinkedRoleDeletion {
    /// `task/aws-service-role/<service>/<role name>/<uuid>`
    pub task_id: String,
    /// The ARN of the role it deleted.
    pub role_arn: String,
    /// `SUCCEEDED`, `IN_PROGRESS`, `FAILED` or `NOT_STARTED`.
    pub status: String,
    pub create_date: Timestamp,
}

/// A credential report as it was generated: IAM hands out the same report until a new one is
/// generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialReport {
    pub generated: Timestamp,
    /// The CSV text.
    pub content: String,
}

/// The path prefix of service-linked roles: `/aws-service-role/<service principal>/`.
pub const SERVICE_LINKED_ROLE_PATH: &str = "/aws-service-role/";

/// ARNs of AWS managed policies start with this.
pub const AWS_MANAGED_POLICY_PREFIX: &str = "arn:aws:iam::aws:policy/";

/// `arn:aws:iam::<account>:<kind>/<path><name>`, e.g. `user`, `group`, `role` or `policy`; `path`
/// is `/` or `/a/b/`.
pub fn entity_arn(account_id: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:{kind}{path}{name}")
}

/// The parts of a managed policy ARN: (account id or `aws`, path, name).
pub fn parse_policy_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let valid_account =
        account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    let full_path = resource.strip_prefix("policy")?;
    let slash = full_path.rfind('/')?;
    let (path, name) = full_path.split_at(slash + 1);
    (valid_account && path.starts_with('/') && !name.is_empty()).then_some((account, path, name))
}

/// Everything IAM keeps for one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamState {
    pub account_id: String,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Customer managed policies.
    #[serde(default)]
    pub policies: Vec<ManagedPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_profiles: Vec<InstanceProfile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oidc_providers: Vec<OpenIdConnectProvider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub saml_providers: Vec<SamlProvider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_certificates: Vec<ServerCertificate>,
    /// The root user's signing certificates (an IAM user's are kept with the user).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_signing_certificates: Vec<SigningCertificate>,
    /// The account's custom password policy (`None`: AWS's default policy applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<crate::login::PasswordPolicy>,
    /// The account's alias (an account has at most one). The store keeps aliases unique across
    /// accounts and finds an account by its alias (`Store::account_by_alias`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_alias: Option<String>,
    /// The deletions of service-linked roles (DeleteServiceLinkedRole), newest last, for
    /// GetServiceLinkedRoleDeletionStatus.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_linked_role_deletions: Vec<ServiceLinkedRoleDeletion>,
    /// The account's latest credential report (GenerateCredentialReport).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_report: Option<CredentialReport>,
    /// Optimistic concurrency (0 = never stored).
    #[serde(skip)]
    pub revision: i64,
}

impl IamState {
    pub fn new(account_id: &str) -> Self {
        IamState {
            account_id: account_id.to_owned(),
            ..Default::default()
        }
    }
    /// IAM names are unique case-insensitively within an account.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name.eq_ignore_ascii_case(name))
    }
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name.eq_ignore_ascii_case(name))
    }
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }
    pub fn policy(&self, arn: &str) -> Option<&ManagedPolicy> {
        self.policies.iter().find(|p| p.arn == arn)
    }
    /// Server certificate names are unique case-insensitively, like entity names.
    pub fn server_certificate(&self, name: &str) -> Option<&ServerCertificate> {
        self.server_certificates
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
    pub fn server_certificate_mut(&mut self, name: &str) -> Option<&mut ServerCertificate> {
        self.server_certificates
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
    pub fn user_mut(&mut self, name: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.name.eq_ignore_ascii_case(name))
    }
    pub fn group_mut(&mut self, name: &str) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.name.eq_ignore_ascii_case(name))
    }
    pub fn role_mut(&mut self, name: &str) -> Option<&mut Role> {
        self.roles.iter_mut().find(|r| r.name.eq_ignore_ascii_case(name))
    }
    pub fn policy_mut(&mut self, arn: &str) -> Option<&mut ManagedPolicy> {
        self.policies.iter_mut().find(|p| p.arn == arn)
    }
    pub fn instance_profile(&self, name: &str) -> Option<&InstanceProfile> {
        self.instance_profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
    pub fn instance_profile_mut(&mut self, name: &str) -> Option<&mut InstanceProfile> {
        self.instance_profiles
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The role of the instance profile `name` (what EC2 gives an instance launched with it), if
    /// the profile exists and has one.
    pub fn instance_profile_role(&self, name: &str) -> Option<&Role> {
        let profile = self.instance_profile(name)?;
        profile.roles.first().and_then(|r| self.role(r))
    }

    /// The instance profiles holding the role `role_name`.
    pub fn instance_profiles_for_role<'a>(
        &'a self,
        role_name: &'a str,
    ) -> impl Iterator<Item = &'a InstanceProfile> + 'a {
        self.instance_profiles
            .iter()
            .filter(move |p| p.roles.iter().any(|r| r.eq_ignore_ascii_case(role_name)))
    }

    /// The OpenID Connect provider with this ARN.
    pub fn oidc_provider(&self, arn: &str) -> Option<&OpenIdConnectProvider> {
        self.oidc_providers.iter().find(|p| p.arn == arn)
    }
    pub fn oidc_provider_mut(&mut self, arn: &str) -> Option<&mut OpenIdConnectProvider> {
        self.oidc_providers.iter_mut().find(|p| p.arn == arn)
    }

    /// The SAML provider with this ARN.
    pub fn saml_provider(&self, arn: &str) -> Option<&SamlProvider> {
        self.saml_providers.iter().find(|p| p.arn == arn)
    }
    pub fn saml_provider_mut(&mut self, arn: &str) -> Option<&mut SamlProvider> {
        self.saml_providers.iter_mut().find(|p| p.arn == arn)
    }

    /// A customer managed policy by name (names are unique case-insensitively, whatever the path).
    pub fn policy_named(&self, name: &str) -> Option<&ManagedPolicy> {
        self.policies.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// A managed policy this account can attach: its own customer managed policy or a built-in AWS
    /// managed one.
    pub fn managed_policy(&self, arn: &str) -> Option<ManagedPolicy> {
        if arn.starts_with(AWS_MANAGED_POLICY_PREFIX) {
            crate::aws_managed_policies::aws_managed_policy(arn)
        } else {
            self.policy(arn).cloned()
        }
    }

    /// The users in a group.
    pub fn group_members<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a User> + 'a {
        self.users
            .iter()
            .filter(move |u| u.groups.iter().any(|g| g.eq_ignore_ascii_case(group)))
    }

    /// How many users, groups and roles have the managed policy attached (as a permissions policy).
    pub fn attachment_count(&self, policy_arn: &str) -> usize {
        let has = |list: &[String]| list.iter().any(|a| a == policy_arn);
        self.users.iter().filter(|u| has(&u.attached_policies)).count()
            + self.groups.iter().filter(|g| has(&g.attached_policies)).count()
            + self.roles.iter().filter(|r| has(&r.attached_policies)).count()
    }

    /// How many users and roles use the managed policy as their permissions boundary.
    pub fn boundary_usage_count(&self, policy_arn: &str) -> usize {
        let is = |b: &Option<String>| b.as_deref() == Some(policy_arn);
        self.users.iter().filter(|u| is(&u.permissions_boundary)).count()
            + self.roles.iter().filter(|r| is(&r.permissions_boundary)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns() {
        assert_eq!(
            parse_policy_arn("arn:aws:iam::123456789012:policy/a/b/Name"),
            Some(("123456789012", "/a/b/", "Name"))
        );
        assert_eq!(
            parse_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess"),
            Some(("aws", "/", "AdministratorAccess"))
        );
        for bad in [
            "arn:aws:iam::12345:policy/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:policy/",
            "arn:aws:s3:::policy/x",
            "policy/x",
        ] {
            assert_eq!(parse_policy_arn(bad), None, "{bad}");
        }
        assert_eq!(
            entity_arn("123456789012", "user", "/d/", "bob"),
            "arn:aws:iam::123456789012:user/d/bob"
        );
    }

    fn policy(versions: &[&str], created: u32) -> ManagedPolicy {
        ManagedPolicy {
            name: "p".into(),
            path: "/".into(),
            policy_id: "ANPA".into(),
            arn: "arn:aws:iam::123456789012:policy/p".into(),
            create_date: Timestamp(0),
            update_date: Timestamp(0),
            description: None,
            default_version_id: "v1".into(),
            versions: versions
                .iter()
                .map(|v| PolicyVersion {
                    version_id: (*v).into(),
                    document: "{}".into(),
                    create_date: Timestamp(0),
                })
                .collect(),
            tags: vec![],
            versions_created: created,
        }
    }

    #[test]
    fn version_ids_are_never_reused() {
        assert_eq!(policy(&["v1"], 1).next_version_id(), "v2");
        // v3 was deleted: the next one is still v4.
        assert_eq!(policy(&["v1", "v2"], 3).next_version_id(), "v4");
        // Stored before the counter existed: the highest id counts.
        assert_eq!(policy(&["v1", "v5"], 0).next_version_id(), "v6");
    }

    #[test]
    fn an_instance_profile_gives_its_role() {
        let mut s = IamState::new("123456789012");
        s.roles.push(Role {
            name: "App".into(),
            path: "/".into(),
            role_id: "AROA".into(),
            arn: entity_arn("123456789012", "role", "/", "App"),
            create_date: Timestamp(0),
            assume_role_policy_document: "{}".into(),
            assume_role_policy_updated: None,
            trust_principals: vec![],
            description: None,
            max_session_duration: 3600,
            tags: vec![],
            inline_policies: vec![],
            attached_policies: vec![],
            permissions_boundary: None,
        });
        s.instance_profiles.push(InstanceProfile {
            name: "Web".into(),
            path: "/".into(),
            instance_profile_id: "AIPA".into(),
            arn: entity_arn("123456789012", "instance-profile", "/", "Web"),
            create_date: Timestamp(0),
            roles: vec!["app".into()],
            tags: vec![],
        });
        s.instance_profiles.push(InstanceProfile {
            name: "Empty".into(),
            roles: vec![],
            ..s.instance_profiles[0].clone()
        });
        assert_eq!(
            s.instance_profile_role("web").map(|r| r.role_id.as_str()),
            Some("AROA")
        );
        assert_eq!(s.instance_profile_role("Empty"), None);
        assert_eq!(s.instance_profile_role("missing"), None);
        assert_eq!(s.instance_profiles_for_role("APP").count(), 1);
    }

    #[test]
    fn usage_counts() {
        let arn = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        let mut s = IamState::new("123456789012");
        s.users.push(User {
            name: "Bob".into(),
            path: "/".into(),
            user_id: "AIDA".into(),
            arn: entity_arn("123456789012", "user", "/", "Bob"),
            create_date: Timestamp(0),
            tags: vec![],
            inline_policies: vec![],
            attached_policies: vec![arn.into()],
            permissions_boundary: Some(arn.into()),
            groups: vec!["Admins".into()],
            login_profile: None,
            ssh_public_keys: vec![],
            signing_certificates: Vec::new(),
        });
        assert_eq!(s.attachment_count(arn), 1);
        assert_eq!(s.boundary_usage_count(arn), 1);
        assert_eq!(s.group_members("admins").count(), 1);
        assert!(s.user_mut("BOB").is_some());
        assert_eq!(
            s.managed_policy(arn).map(|p| p.policy_id),
            Some("ANPAILL3HVNFSB6DCOWYQ".into())
        );
    }
}
