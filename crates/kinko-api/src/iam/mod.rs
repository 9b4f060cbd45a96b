//! AWS IAM (Query protocol, version `2010-05-08`, namespace `https://iam.amazonaws.com/doc/2010-05-08/`).
//!
//! IAM is per account: the caller's account's [`IamState`] is read whole, changed by the operation
//! and written back with an optimistic revision check; [`handle`] retries on a lost race. Access keys
//! live in their own store table. [`handle`] decodes and validates the parameters, authorizes
//! `iam:<Action>` on the entity the request names (before any not-found, so callers without
//! permission can't probe for names), runs the operation and renders its XML. Each operation in
//! `ops/` implements [`Operation`] and only does its own work.

mod error;
mod input;
mod ops;
mod output;
mod policy_document;

use std::future::Future;

use kinko_core::Timestamp;
use kinko_core::iam::IamState;
use kinko_wire::WireError;
use kinko_wire::query::{Params, Xml, xml_escape};

use crate::authz::{self, Check, Resource};
use crate::{RequestContext, Services};

pub use error::IamError;
pub(crate) use output::unique_id;
pub use policy_document::{DocumentKind, validate_policy_document};

/// The XML namespace of IAM responses.
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The API version IAM speaks.
pub const VERSION: &str = "2010-05-08";

/// Attempts at an operation whose write lost an optimistic-concurrency race.
const MAX_ATTEMPTS: usize = 16;

/// What an operation acts on, for authorization.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// No resource (`"*"`): List* operations.
    Any,
    /// An entity's ARN, the account it belongs to and its tags (`iam:ResourceTag/*`).
    Arn {
        arn: String,
        account: String,
        tags: Vec<(String, String)>,
    },
    /// An identifier that names nothing IAM can place in an account (a malformed ARN).
    Unresolved(String),
    /// The operation authorizes itself once it knows its resource (GetAccessKeyLastUsed).
    Deferred,
}

/// What an operation answers: a `<Action>Result` element, or nothing but the metadata.
pub(crate) enum Reply {
    Result(Xml),
    Empty,
}

/// Per-request context an operation runs with.
pub(crate) struct Cx<'a> {
    pub services: &'a Services,
    pub rc: &'a RequestContext,
    /// The IAM action, e.g. `CreateUser`.
    pub action: &'a str,
}

impl Cx<'_> {
    /// The caller's account: IAM acts on it.
    pub fn account(&self) -> &str {
        &self.rc.principal.account_id
    }

    pub fn now(&self) -> Timestamp {
        self.services.clock.now()
    }

    /// A response with a result element for this action.
    pub fn xml(&self) -> Xml {
        Xml::response(self.action, XMLNS)
    }

    /// Writes the account's IAM state; a lost race makes [`handle`] retry the operation.
    pub async fn write(&self, state: IamState) -> Result<(), IamError> {
        Ok(self.services.store.write_iam_state(state).await?)
    }

    /// Authorizes `iam:<action>` on `target`.
    pub async fn authorize(
        &self,
        target: &Target,
        request_tags: &[(String, String)],
    ) -> Result<(), IamError> {
        let action = format!("iam:{}", self.action);
        let (resource, tags) = match target {
            Target::Any => (Resource::Any, &[][..]),
            Target::Arn { arn, account, tags } => (
                Resource::Arn {
                    arn,
                    account_id: account,
                },
                tags.as_slice(),
            ),
            Target::Unresolved(id) => (Resource::Unresolved(id), &[][..]),
            Target::Deferred => return Ok(()),
        };
        let tags: Vec<kinko_core::secret::Tag> = tags
            .iter()
            .map(|(key, value)| kinko_core::secret::Tag {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        let check = Check::new(&action, resource)
            .tags(Some("iam"), &tags)
            .request_tags(request_tags);
        Ok(authz::check(self.services, self.rc, &check).await?)
    }
}

pub(crate) trait Operation: Sync {
    type Input: Send + Sync;
    /// Reads the parameters: model constraints, then the checks IAM makes before looking anything up.
    fn decode(&self, p: &Params) -> Result<Self::Input, IamError>;
    /// The entity to authorize the action on, resolved against the current state.
    fn target(&self, cx: &Cx<'_>, input: &Self::Input, state: &IamState) -> Result<Target, IamError>;
    /// Tags the request sets (`aws:RequestTag/*`, `aws:TagKeys`).
    fn request_tags(&self, _input: &Self::Input) -> Vec<(String, String)> {
        Vec::new()
    }
    fn run(
        &self,
        cx: &Cx<'_>,
        input: &Self::Input,
        state: IamState,
    ) -> impl Future<Output = Result<Reply, IamError>> + Send;
}

/// Runs one IAM action and returns the XML response body.
pub async fn handle(services: &Services, rc: &RequestContext, params: &Params) -> Result<String, WireError> {
    let Some(action) = params.action() else {
        return Err(IamError::MissingAction("Missing Action".into()).to_wire());
    };
    if let Some(version) = params.get("Version")
        && version != VERSION
    {
        return Err(IamError::InvalidAction(format!(
            "Could not find operation {action} for version {version}"
        ))
        .to_wire());
    }
    let cx = Cx { services, rc, action };
    let result = match crate::authz::rules::request(rc, "iam", action) {
        Err(r) => Err(IamError::from(crate::authz::AuthzError::Refused(r))),
        Ok(()) => dispatch(&cx, params).await,
    };
    result.map_err(|e| {
        if let IamError::Internal(detail) = &e {
            tracing::error!(request_id = %rc.request_id, action, detail = %detail, "internal error");
        }
        e.to_wire()
    })
}

async fn dispatch(cx: &Cx<'_>, p: &Params) -> Result<String, IamError> {
    use ops::Entity::{Group, Role, User};
    match cx.action {
        "CreateUser" => execute(cx, p, &ops::CreateUser).await,
        "GetUser" => execute(cx, p, &ops::GetUser).await,
        "ListUsers" => execute(cx, p, &ops::ListUsers).await,
        "UpdateUser" => execute(cx, p, &ops::UpdateUser).await,
        "DeleteUser" => execute(cx, p, &ops::DeleteUser).await,
        "TagUser" => execute(cx, p, &ops::AddTags(ops::Tagged::User)).await,
        "UntagUser" => execute(cx, p, &ops::RemoveTags(ops::Tagged::User)).await,
        "ListUserTags" => execute(cx, p, &ops::ListTags(ops::Tagged::User)).await,

        "CreateAccessKey" => execute(cx, p, &ops::CreateAccessKey).await,
        "ListAccessKeys" => execute(cx, p, &ops::ListAccessKeys).await,
        "UpdateAccessKey" => execute(cx, p, &ops::UpdateAccessKey).await,
        "DeleteAccessKey" => execute(cx, p, &ops::DeleteAccessKey).await,
        "GetAccessKeyLastUsed" => execute(cx, p, &ops::GetAccessKeyLastUsed).await,

        "CreateGroup" => execute(cx, p, &ops::CreateGroup).await,
        "GetGroup" => execute(cx, p, &ops::GetGroup).await,
        "ListGroups" => execute(cx, p, &ops::ListGroups).await,
        "UpdateGroup" => execute(cx, p, &ops::UpdateGroup).await,
        "DeleteGroup" => execute(cx, p, &ops::DeleteGroup).await,
        "AddUserToGroup" => execute(cx, p, &ops::AddUserToGroup).await,
        "RemoveUserFromGroup" => execute(cx, p, &ops::RemoveUserFromGroup).await,
        "ListGroupsForUser" => execute(cx, p, &ops::ListGroupsForUser).await,

        "CreateRole" => execute(cx, p, &ops::CreateRole).await,
        "GetRole" => execute(cx, p, &ops::GetRole).await,
        "ListRoles" => execute(cx, p, &ops::ListRoles).await,
        "UpdateRole" => execute(cx, p, &ops::UpdateRole).await,
        "UpdateRoleDescription" => execute(cx, p, &ops::UpdateRoleDescription).await,
        "UpdateAssumeRolePolicy" => execute(cx, p, &ops::UpdateAssumeRolePolicy).await,
        "DeleteRole" => execute(cx, p, &ops::DeleteRole).await,
        "TagRole" => execute(cx, p, &ops::AddTags(ops::Tagged::Role)).await,
        "UntagRole" => execute(cx, p, &ops::RemoveTags(ops::Tagged::Role)).await,
        "ListRoleTags" => execute(cx, p, &ops::ListTags(ops::Tagged::Role)).await,

        "PutUserPolicy" => execute(cx, p, &ops::PutInlinePolicy(User)).await,
        "GetUserPolicy" => execute(cx, p, &ops::GetInlinePolicy(User)).await,
        "ListUserPolicies" => execute(cx, p, &ops::ListInlinePolicies(User)).await,
        "DeleteUserPolicy" => execute(cx, p, &ops::DeleteInlinePolicy(User)).await,
        "PutGroupPolicy" => execute(cx, p, &ops::PutInlinePolicy(Group)).await,
        "GetGroupPolicy" => execute(cx, p, &ops::GetInlinePolicy(Group)).await,
        "ListGroupPolicies" => execute(cx, p, &ops::ListInlinePolicies(Group)).await,
        "DeleteGroupPolicy" => execute(cx, p, &ops::DeleteInlinePolicy(Group)).await,
        "PutRolePolicy" => execute(cx, p, &ops::PutInlinePolicy(Role)).await,
        "GetRolePolicy" => execute(cx, p, &ops::GetInlinePolicy(Role)).await,
        "ListRolePolicies" => execute(cx, p, &ops::ListInlinePolicies(Role)).await,
        "DeleteRolePolicy" => execute(cx, p, &ops::DeleteInlinePolicy(Role)).await,

        "CreatePolicy" => execute(cx, p, &ops::CreatePolicy).await,
        "GetPolicy" => execute(cx, p, &ops::GetPolicy).await,
        "ListPolicies" => execute(cx, p, &ops::ListPolicies).await,
        "DeletePolicy" => execute(cx, p, &ops::DeletePolicy).await,
        "TagPolicy" => execute(cx, p, &ops::AddTags(ops::Tagged::Policy)).await,
        "UntagPolicy" => execute(cx, p, &ops::RemoveTags(ops::Tagged::Policy)).await,
        "ListPolicyTags" => execute(cx, p, &ops::ListTags(ops::Tagged::Policy)).await,
        "CreatePolicyVersion" => execute(cx, p, &ops::CreatePolicyVersion).await,
        "GetPolicyVersion" => execute(cx, p, &ops::GetPolicyVersion).await,
        "ListPolicyVersions" => execute(cx, p, &ops::ListPolicyVersions).await,
        "DeletePolicyVersion" => execute(cx, p, &ops::DeletePolicyVersion).await,
        "SetDefaultPolicyVersion" => execute(cx, p, &ops::SetDefaultPolicyVersion).await,

        "AttachUserPolicy" => execute(cx, p, &ops::AttachPolicy(User)).await,
        "DetachUserPolicy" => execute(cx, p, &ops::DetachPolicy(User)).await,
        "ListAttachedUserPolicies" => execute(cx, p, &ops::ListAttachedPolicies(User)).await,
        "AttachGroupPolicy" => execute(cx, p, &ops::AttachPolicy(Group)).await,
        "DetachGroupPolicy" => execute(cx, p, &ops::DetachPolicy(Group)).await,
        "ListAttachedGroupPolicies" => execute(cx, p, &ops::ListAttachedPolicies(Group)).await,
        "AttachRolePolicy" => execute(cx, p, &ops::AttachPolicy(Role)).await,
        "DetachRolePolicy" => execute(cx, p, &ops::DetachPolicy(Role)).await,
        "ListAttachedRolePolicies" => execute(cx, p, &ops::ListAttachedPolicies(Role)).await,
        "ListEntitiesForPolicy" => execute(cx, p, &ops::ListEntitiesForPolicy).await,

        "PutUserPermissionsBoundary" => execute(cx, p, &ops::PutPermissionsBoundary(User)).await,
        "DeleteUserPermissionsBoundary" => execute(cx, p, &ops::DeletePermissionsBoundary(User)).await,
        "PutRolePermissionsBoundary" => execute(cx, p, &ops::PutPermissionsBoundary(Role)).await,
        "DeleteRolePermissionsBoundary" => execute(cx, p, &ops::DeletePermissionsBoundary(Role)).await,

        "GetAccountAuthorizationDetails" => execute(cx, p, &ops::GetAccountAuthorizationDetails).await,
        other => Err(IamError::InvalidAction(format!(
            "Could not find operation {other} for version {VERSION}"
        ))),
    }
}

async fn execute<O: Operation>(cx: &Cx<'_>, p: &Params, op: &O) -> Result<String, IamError> {
    let input = op.decode(p)?;
    let request_tags = op.request_tags(&input);
    for _ in 0..MAX_ATTEMPTS {
        let state = cx.services.store.iam_state(cx.account()).await?;
        let target = op.target(cx, &input, &state)?;
        cx.authorize(&target, &request_tags).await?;
        match op.run(cx, &input, state).await {
            Err(IamError::Conflict) => continue,
            Err(e) => return Err(e),
            Ok(Reply::Result(x)) => return Ok(x.finish(cx.action, &cx.rc.request_id)),
            Ok(Reply::Empty) => {
                return Ok(format!(
                    "<{a}Response xmlns=\"{XMLNS}\"><ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></{a}Response>",
                    a = cx.action,
                    id = xml_escape(&cx.rc.request_id)
                ));
            }
        }
    }
    Err(IamError::Internal(
        "too many conflicting concurrent changes".into(),
    ))
}
