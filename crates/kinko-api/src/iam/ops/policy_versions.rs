//! CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, DeletePolicyVersion,
//! SetDefaultPolicyVersion.
//!
//! A customer managed policy keeps at most five versions; version ids are never reused. AWS managed
//! policies can be read but not changed.

use kinko_core::iam::{ManagedPolicy, PolicyVersion};
use kinko_wire::query::Params;

use super::{find_own_policy, find_policy, policy_target, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::policy_document::check_managed;
use crate::iam::{Found, Iam, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// The policy a version action names: readable ones (AWS managed too) for Get/List, the account's
/// own for the others.
async fn resolve_policy(cx: &Cx<'_>, arn: &str, read_only: bool) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(policy_target(cx, state, arn, read_only))).await
}

fn version_not_found(arn: &str, version: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "Policy {arn} version {version} does not exist or is not attachable."
    ))
}

fn version_of<'p>(p: &'p ManagedPolicy, version: &str) -> Result<&'p PolicyVersion, IamError> {
    p.version(version)
        .ok_or_else(|| version_not_found(&p.arn, version))
}

pub(crate) struct CreatePolicyVersion;

pub(crate) struct CreateVersionInput {
    arn: String,
    document: String,
    set_as_default: bool,
}

impl FromRequest<Iam> for CreateVersionInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = r.req_arn("PolicyArn");
        let document = r.document("PolicyDocument");
        let set_as_default = r.bool("SetAsDefault");
        r.finish()?;
        check_managed(&document)?;
        Ok(CreateVersionInput {
            arn,
            document,
            set_as_default: set_as_default.unwrap_or(false),
        })
    }
}

impl Operation for CreatePolicyVersion {
    type Service = Iam;
    const NAME: &'static str = "CreatePolicyVersion";
    type Input = CreateVersionInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreateVersionInput) -> Result<Found, IamError> {
        resolve_policy(cx, &i.arn, false).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a CreateVersionInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &CreateVersionInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let now = cx.now();
        let policy = find_own_policy(&mut state, &i.arn)?;
        if policy.versions.len() >= quota::POLICY_VERSIONS {
            return Err(IamError::LimitExceeded(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".into(),
            ));
        }
        let version = PolicyVersion {
            version_id: policy.next_version_id(),
            document: i.document.clone(),
            create_date: now,
        };
        policy.versions_created = version.version_id[1..].parse().unwrap_or(policy.versions_created);
        policy.versions.push(version.clone());
        policy.update_date = now;
        if i.set_as_default {
            policy.default_version_id.clone_from(&version.version_id);
        }
        let mut x = cx.xml::<Iam>();
        x.open("PolicyVersion");
        output::policy_version_fields(&mut x, policy, &version);
        x.close("PolicyVersion");
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct VersionInput {
    arn: String,
    version: String,
}

impl FromRequest<Iam> for VersionInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = r.req_arn("PolicyArn");
        let version = r.req_version_id();
        r.finish()?;
        Ok(VersionInput { arn, version })
    }
}

pub(crate) struct GetPolicyVersion;

impl Operation for GetPolicyVersion {
    type Service = Iam;
    const NAME: &'static str = "GetPolicyVersion";
    type Input = VersionInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &VersionInput) -> Result<Found, IamError> {
        resolve_policy(cx, &i.arn, true).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a VersionInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &VersionInput, found: Found) -> Result<QueryReply, IamError> {
        let policy = find_policy(&found.state, &i.arn)?;
        let version = version_of(&policy, &i.version)?;
        let mut x = cx.xml::<Iam>();
        x.open("PolicyVersion");
        output::policy_version_fields(&mut x, &policy, version);
        x.close("PolicyVersion");
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListPolicyVersions;

pub(crate) struct ListVersionsInput {
    arn: String,
    page: Page,
}

impl FromRequest<Iam> for ListVersionsInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = r.req_arn("PolicyArn");
        let page = r.page();
        r.finish()?;
        Ok(ListVersionsInput { arn, page })
    }
}

impl Operation for ListPolicyVersions {
    type Service = Iam;
    const NAME: &'static str = "ListPolicyVersions";
    type Input = ListVersionsInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListVersionsInput) -> Result<Found, IamError> {
        resolve_policy(cx, &i.arn, true).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListVersionsInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListVersionsInput, found: Found) -> Result<QueryReply, IamError> {
        let policy = find_policy(&found.state, &i.arn)?;
        // Newest first, as IAM lists them.
        let mut versions: Vec<&PolicyVersion> = policy.versions.iter().collect();
        versions.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version_id)));
        let (page, next) = i.page.apply(versions)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "Versions", page, |x, v| {
            output::policy_version_fields(x, &policy, v);
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

fn version_number(id: &str) -> u64 {
    id.strip_prefix('v')
        .and_then(|n| n.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub(crate) struct DeletePolicyVersion;

impl Operation for DeletePolicyVersion {
    type Service = Iam;
    const NAME: &'static str = "DeletePolicyVersion";
    type Input = VersionInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &VersionInput) -> Result<Found, IamError> {
        resolve_policy(cx, &i.arn, false).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a VersionInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &VersionInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let policy = find_own_policy(&mut state, &i.arn)?;
        version_of(policy, &i.version)?;
        if policy.default_version_id == i.version {
            return Err(IamError::DeleteConflict(
                "Cannot delete the default version of a policy.".into(),
            ));
        }
        policy.versions.retain(|v| v.version_id != i.version);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct SetDefaultPolicyVersion;

impl Operation for SetDefaultPolicyVersion {
    type Service = Iam;
    const NAME: &'static str = "SetDefaultPolicyVersion";
    type Input = VersionInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &VersionInput) -> Result<Found, IamError> {
        resolve_policy(cx, &i.arn, false).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a VersionInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &VersionInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let policy = find_own_policy(&mut state, &i.arn)?;
        version_of(policy, &i.version)?;
        policy.default_version_id.clone_from(&i.version);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
