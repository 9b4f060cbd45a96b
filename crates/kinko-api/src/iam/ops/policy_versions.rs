//! CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, DeletePolicyVersion,
//! SetDefaultPolicyVersion.
//!
//! A customer managed policy keeps at most five versions; version ids are never reused. AWS managed
//! policies can be read but not changed.

use kinko_core::iam::{IamState, ManagedPolicy, PolicyVersion};
use kinko_wire::query::Params;

use super::{find_own_policy, find_policy, policy_target, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::policy_document::check_managed;
use crate::iam::{Cx, Operation, Reply, Target};

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

impl Operation for CreatePolicyVersion {
    type Input = CreateVersionInput;

    fn decode(&self, p: &Params) -> Result<CreateVersionInput, IamError> {
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

    fn target(&self, cx: &Cx<'_>, i: &CreateVersionInput, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, &i.arn, false))
    }

    async fn run(&self, cx: &Cx<'_>, i: &CreateVersionInput, mut state: IamState) -> Result<Reply, IamError> {
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
        let mut x = cx.xml();
        x.open("PolicyVersion");
        output::policy_version_fields(&mut x, policy, &version);
        x.close("PolicyVersion");
        cx.write(state).await?;
        Ok(Reply::Result(x))
    }
}

pub(crate) struct VersionInput {
    arn: String,
    version: String,
}

fn decode_version(p: &Params) -> Result<VersionInput, IamError> {
    let mut r = Reader::new(p);
    let arn = r.req_arn("PolicyArn");
    let version = r.req_version_id();
    r.finish()?;
    Ok(VersionInput { arn, version })
}

pub(crate) struct GetPolicyVersion;

impl Operation for GetPolicyVersion {
    type Input = VersionInput;

    fn decode(&self, p: &Params) -> Result<VersionInput, IamError> {
        decode_version(p)
    }

    fn target(&self, cx: &Cx<'_>, i: &VersionInput, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, &i.arn, true))
    }

    async fn run(&self, cx: &Cx<'_>, i: &VersionInput, state: IamState) -> Result<Reply, IamError> {
        let policy = find_policy(&state, &i.arn)?;
        let version = version_of(&policy, &i.version)?;
        let mut x = cx.xml();
        x.open("PolicyVersion");
        output::policy_version_fields(&mut x, &policy, version);
        x.close("PolicyVersion");
        Ok(Reply::Result(x))
    }
}

pub(crate) struct ListPolicyVersions;

pub(crate) struct ListVersionsInput {
    arn: String,
    page: Page,
}

impl Operation for ListPolicyVersions {
    type Input = ListVersionsInput;

    fn decode(&self, p: &Params) -> Result<ListVersionsInput, IamError> {
        let mut r = Reader::new(p);
        let arn = r.req_arn("PolicyArn");
        let page = r.page();
        r.finish()?;
        Ok(ListVersionsInput { arn, page })
    }

    fn target(&self, cx: &Cx<'_>, i: &ListVersionsInput, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, &i.arn, true))
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListVersionsInput, state: IamState) -> Result<Reply, IamError> {
        let policy = find_policy(&state, &i.arn)?;
        // Newest first, as IAM lists them.
        let mut versions: Vec<&PolicyVersion> = policy.versions.iter().collect();
        versions.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version_id)));
        let (page, next) = i.page.apply(versions)?;
        let mut x = cx.xml();
        members(&mut x, "Versions", page, |x, v| {
            output::policy_version_fields(x, &policy, v);
        });
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
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
    type Input = VersionInput;

    fn decode(&self, p: &Params) -> Result<VersionInput, IamError> {
        decode_version(p)
    }

    fn target(&self, cx: &Cx<'_>, i: &VersionInput, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, &i.arn, false))
    }

    async fn run(&self, cx: &Cx<'_>, i: &VersionInput, mut state: IamState) -> Result<Reply, IamError> {
        let policy = find_own_policy(&mut state, &i.arn)?;
        version_of(policy, &i.version)?;
        if policy.default_version_id == i.version {
            return Err(IamError::DeleteConflict(
                "Cannot delete the default version of a policy.".into(),
            ));
        }
        policy.versions.retain(|v| v.version_id != i.version);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct SetDefaultPolicyVersion;

impl Operation for SetDefaultPolicyVersion {
    type Input = VersionInput;

    fn decode(&self, p: &Params) -> Result<VersionInput, IamError> {
        decode_version(p)
    }

    fn target(&self, cx: &Cx<'_>, i: &VersionInput, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, &i.arn, false))
    }

    async fn run(&self, cx: &Cx<'_>, i: &VersionInput, mut state: IamState) -> Result<Reply, IamError> {
        let policy = find_own_policy(&mut state, &i.arn)?;
        version_of(policy, &i.version)?;
        policy.default_version_id.clone_from(&i.version);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}
