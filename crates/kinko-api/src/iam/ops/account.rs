//! The account's settings: its password policy (Get/Update/DeleteAccountPasswordPolicy) and its
//! alias (Create/Delete/ListAccountAliases), and its summary (GetAccountSummary). These actions name no resource: they are authorized
//! on `*`, as the Service Authorization Reference lists them.

use kinko_core::iam::{Group, Role, User};
use kinko_core::login::PasswordPolicy;
use kinko_core::mfa::Holder;
use kinko_core::principal::PrincipalKind;
use kinko_wire::query::Params;

use super::inline_policies::InlinePolicies;
use super::quota;
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{XmlExt, string_members, truncation};
use crate::iam::policy_document::{MANAGED_POLICY_SIZE, TRUST_POLICY_SIZE};
use crate::iam::{Found, Iam, Target, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// Reads the account's IAM state; the action is authorized on `*`.
async fn read_account(cx: &Cx<'_>) -> Result<Found, IamError> {
    Found::read(cx, |_| Ok(Target::Any)).await
}

/// `The Password Policy with domain name <account> cannot be found.`
fn no_password_policy(cx: &Cx<'_>) -> IamError {
    IamError::NoSuchEntity(format!(
        "The Password Policy with domain name {} cannot be found.",
        cx.account()
    ))
}

/// The operations of this file take no parameters but what they read here.
pub(crate) struct NoInput;

impl FromRequest<Iam> for NoInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        Reader::new(p).finish()?;
        Ok(NoInput)
    }
}

pub(crate) struct GetAccountPasswordPolicy;

impl Operation for GetAccountPasswordPolicy {
    type Service = Iam;
    const NAME: &'static str = "GetAccountPasswordPolicy";
    type Input = NoInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &NoInput) -> Result<Found, IamError> {
        read_account(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NoInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    /// `MaxPasswordAge` and `PasswordReusePrevention` appear when set, `HardExpiry` when the
    /// policy was given one, as IAM answers.
    async fn run(cx: &Cx<'_>, _: &NoInput, found: Found) -> Result<QueryReply, IamError> {
        let p = found
            .state
            .password_policy
            .as_ref()
            .ok_or_else(|| no_password_policy(cx))?;
        let mut x = cx.xml::<Iam>();
        x.open("PasswordPolicy")
            .num("MinimumPasswordLength", p.minimum_password_length)
            .bool("RequireSymbols", p.require_symbols)
            .bool("RequireNumbers", p.require_numbers)
            .bool("RequireUppercaseCharacters", p.require_uppercase_characters)
            .bool("RequireLowercaseCharacters", p.require_lowercase_characters)
            .bool("AllowUsersToChangePassword", p.allow_users_to_change_password)
            .bool("ExpirePasswords", p.max_password_age.is_some());
        if let Some(days) = p.max_password_age {
            x.num("MaxPasswordAge", days);
        }
        if let Some(n) = p.password_reuse_prevention {
            x.num("PasswordReusePrevention", n);
        }
        if let Some(hard) = p.hard_expiry {
            x.bool("HardExpiry", hard);
        }
        x.close("PasswordPolicy");
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateAccountPasswordPolicy;

pub(crate) struct UpdatePolicyInput {
    policy: PasswordPolicy,
}

/// A number the model bounds, as the policy keeps it.
fn bounded(n: Option<i64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok())
}

impl FromRequest<Iam> for UpdatePolicyInput {
    /// No partial updates: every member left out takes its default (IAM API Reference,
    /// UpdateAccountPasswordPolicy).
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let min = r.int("MinimumPasswordLength", 6, 128);
        let symbols = r.bool("RequireSymbols");
        let numbers = r.bool("RequireNumbers");
        let upper = r.bool("RequireUppercaseCharacters");
        let lower = r.bool("RequireLowercaseCharacters");
        let allow_change = r.bool("AllowUsersToChangePassword");
        let max_age = r.int("MaxPasswordAge", 1, 1095);
        let reuse = r.int("PasswordReusePrevention", 1, 24);
        let hard_expiry = r.bool("HardExpiry");
        r.finish()?;
        let d = PasswordPolicy::default();
        Ok(UpdatePolicyInput {
            policy: PasswordPolicy {
                minimum_password_length: bounded(min).unwrap_or(d.minimum_password_length),
                require_symbols: symbols.unwrap_or(d.require_symbols),
                require_numbers: numbers.unwrap_or(d.require_numbers),
                require_uppercase_characters: upper.unwrap_or(d.require_uppercase_characters),
                require_lowercase_characters: lower.unwrap_or(d.require_lowercase_characters),
                allow_users_to_change_password: allow_change.unwrap_or(d.allow_users_to_change_password),
                max_password_age: bounded(max_age),
                password_reuse_prevention: bounded(reuse),
                hard_expiry,
            },
        })
    }
}

impl Operation for UpdateAccountPasswordPolicy {
    type Service = Iam;
    const NAME: &'static str = "UpdateAccountPasswordPolicy";
    type Input = UpdatePolicyInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &UpdatePolicyInput) -> Result<Found, IamError> {
        read_account(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdatePolicyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &UpdatePolicyInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        state.password_policy = Some(i.policy.clone());
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteAccountPasswordPolicy;

impl Operation for DeleteAccountPasswordPolicy {
    type Service = Iam;
    const NAME: &'static str = "DeleteAccountPasswordPolicy";
    type Input = NoInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &NoInput) -> Result<Found, IamError> {
        read_account(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NoInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, _: &NoInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        // IAM words this one apart from GetAccountPasswordPolicy's: the policy is named by the
        // account policy's name, not by the account (the message moto records for AWS's
        // DeleteAccountPasswordPolicy; AWS documents the error, not its text).
        if state.password_policy.take().is_none() {
            return Err(IamError::NoSuchEntity(
                "The account policy with name PasswordPolicy cannot be found.".into(),
            ));
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct CreateAccountAlias;

pub(crate) struct AliasInput {
    alias: String,
}

impl FromRequest<Iam> for AliasInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let alias = r.account_alias();
        r.finish()?;
        Ok(AliasInput { alias })
    }
}

impl Operation for CreateAccountAlias {
    type Service = Iam;
    const NAME: &'static str = "CreateAccountAlias";
    type Input = AliasInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &AliasInput) -> Result<Found, IamError> {
        read_account(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a AliasInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    /// An account has one alias: a new one replaces it ("If you create a new alias for your AWS
    /// account, the new alias overwrites the previous alias", IAM User Guide). An alias another
    /// account has is taken; the store refuses it too when two accounts race for it (the write
    /// conflicts, and the retry finds it taken).
    async fn run(cx: &Cx<'_>, i: &AliasInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        if state.account_alias.as_deref() == Some(i.alias.as_str()) {
            return Ok(QueryReply::Empty);
        }
        // AWS documents EntityAlreadyExists for a taken alias but not its message; this one
        // is worded as IAM words its other EntityAlreadyExists.
        if let Some(owner) = cx.services.store.account_by_alias(&i.alias).await?
            && owner != cx.account()
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "The account alias {} already exists.",
                i.alias
            )));
        }
        state.account_alias = Some(i.alias.clone());
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteAccountAlias;

impl Operation for DeleteAccountAlias {
    type Service = Iam;
    const NAME: &'static str = "DeleteAccountAlias";
    type Input = AliasInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &AliasInput) -> Result<Found, IamError> {
        read_account(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a AliasInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &AliasInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        // An alias the account doesn't have: NoSuchEntity (AWS documents the error, not its
        // message; this one is worded as IAM's other NoSuchEntity messages).
        if state.account_alias.as_deref() != Some(i.alias.as_str()) {
            return Err(IamError::NoSuchEntity(format!(
                "The account alias {} cannot be found.",
                i.alias
            )));
        }
        state.account_alias = None;
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct ListAccountAliases;

pub(crate) struct ListAliasesInput {
    page: Page,
}

impl FromRequest<Iam> for ListAliasesInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let page = r.page();
        r.finish()?;
        Ok(ListAliasesInput { page })
    }
}

impl Operation for ListAccountAliases {
    type Service = Iam;
    const NAME: &'static str = "ListAccountAliases";
    type Input = ListAliasesInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &ListAliasesInput) -> Result<Found, IamError> {
        read_account(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListAliasesInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListAliasesInput, found: Found) -> Result<QueryReply, IamError> {
        let aliases: Vec<String> = found.state.account_alias.into_iter().collect();
        let (page, next) = i.page.apply(aliases)?;
        let mut x = cx.xml::<Iam>();
        string_members(&mut x, "AccountAliases", page.iter().map(String::as_str));
        truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

/// GetAccountSummary: the account's IAM entity counts and quotas, as `SummaryMap` entries.
pub(crate) struct GetAccountSummary;

impl Operation for GetAccountSummary {
    type Service = Iam;
    const NAME: &'static str = "GetAccountSummary";
    type Input = NoInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &NoInput) -> Result<Found, IamError> {
        read_account(cx).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NoInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    /// The keys IAM answers with (API Reference, GetAccountSummary, `SummaryMap`), counted from
    /// the account as it is now; the quotas are the ones kinko enforces, AWS's defaults.
    /// `AccountPasswordPresent` is left out, as IAM leaves it out for an account whose root
    /// user signs in with its password; kinko's root user has no console password.
    async fn run(cx: &Cx<'_>, _: &NoInput, found: Found) -> Result<QueryReply, IamError> {
        let state = &found.state;
        let store = &cx.services.store;
        let devices = store.list_mfa_devices(cx.account()).await?;
        let root_keys = store
            .list_access_keys(cx.account(), None)
            .await?
            .into_iter()
            .filter(|k| matches!(k.principal.kind, PrincipalKind::Root))
            .count();
        let attachments = state
            .users
            .iter()
            .map(|u| u.attached_policies.len())
            .sum::<usize>()
            + state
                .groups
                .iter()
                .map(|g| g.attached_policies.len())
                .sum::<usize>()
            + state
                .roles
                .iter()
                .map(|r| r.attached_policies.len())
                .sum::<usize>();
        let flag = |b: bool| usize::from(b);
        let entries: [(&str, usize); 33] = [
            ("Users", state.users.len()),
            ("UsersQuota", quota::USERS),
            ("Groups", state.groups.len()),
            ("GroupsQuota", quota::GROUPS),
            ("Roles", state.roles.len()),
            ("RolesQuota", quota::ROLES),
            (
                "Policies",
                state.policies.iter().filter(|p| !p.is_aws_managed()).count(),
            ),
            ("PoliciesQuota", quota::POLICIES),
            ("PolicySizeQuota", MANAGED_POLICY_SIZE),
            ("PolicyVersionsInUse", attachments),
            ("PolicyVersionsInUseQuota", quota::POLICY_VERSIONS_IN_USE),
            ("VersionsPerPolicyQuota", quota::POLICY_VERSIONS),
            ("InstanceProfiles", state.instance_profiles.len()),
            ("InstanceProfilesQuota", quota::INSTANCE_PROFILES),
            (
                "Providers",
                state.oidc_providers.len() + state.saml_providers.len(),
            ),
            ("ServerCertificates", state.server_certificates.len()),
            ("ServerCertificatesQuota", quota::SERVER_CERTIFICATES),
            ("UserPolicySizeQuota", <User as InlinePolicies>::AGGREGATE_LIMIT),
            ("GroupPolicySizeQuota", <Group as InlinePolicies>::AGGREGATE_LIMIT),
            ("RolePolicySizeQuota", <Role as InlinePolicies>::AGGREGATE_LIMIT),
            ("AssumeRolePolicySizeQuota", TRUST_POLICY_SIZE),
            ("GroupsPerUserQuota", quota::GROUPS_PER_USER),
            ("AttachedPoliciesPerUserQuota", quota::MANAGED_POLICIES_PER_ENTITY),
            (
                "AttachedPoliciesPerGroupQuota",
                quota::MANAGED_POLICIES_PER_ENTITY,
            ),
            ("AttachedPoliciesPerRoleQuota", quota::MANAGED_POLICIES_PER_ENTITY),
            ("AccessKeysPerUserQuota", quota::ACCESS_KEYS_PER_USER),
            ("SigningCertificatesPerUserQuota", quota::CERTIFICATES_PER_USER),
            ("MFADevices", devices.len()),
            (
                "MFADevicesInUse",
                devices.iter().filter(|d| d.is_assigned()).count(),
            ),
            (
                "AccountMFAEnabled",
                flag(devices.iter().any(|d| d.assigned_to(Holder::Root))),
            ),
            ("AccountAccessKeysPresent", flag(root_keys > 0)),
            (
                "AccountSigningCertificatesPresent",
                flag(!state.root_signing_certificates.is_empty()),
            ),
            // The version of the tokens STS's global endpoint issues (1: valid in the regions
            // enabled by default); kinko's STS has no regional endpoints to tell apart.
            ("GlobalEndpointTokenVersion", 1),
        ];
        let mut x = cx.xml::<Iam>();
        x.open("SummaryMap");
        for (key, value) in entries {
            x.open("entry")
                .elem("key", key)
                .num("value", value)
                .close("entry");
        }
        x.close("SummaryMap");
        Ok(QueryReply::Result(x))
    }
}
