//! CreatePolicy, GetPolicy, ListPolicies, DeletePolicy: customer managed policies
//! (`arn:aws:iam::<account>:policy/<path><name>`) and the built-in AWS managed ones.

use kinko_core::aws_managed_policies::aws_managed_policies;
use kinko_core::iam::{self, ManagedPolicy, PolicyVersion};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{by_name, find_own_policy, find_policy, path_target, policy_target, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::output::{self, Detail, members};
use crate::iam::policy_document::check_managed;
use crate::iam::{Found, Iam, Target, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

pub(crate) struct CreatePolicy;

pub(crate) struct CreatePolicyInput {
    name: String,
    path: String,
    document: String,
    description: Option<String>,
    tags: Vec<Tag>,
}

impl FromRequest<Iam> for CreatePolicyInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("PolicyName", 128);
        let path = r.policy_path("Path");
        let document = r.document("PolicyDocument");
        let description = r.policy_description();
        let tags = r.tags("Tags", false);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        check_managed(&document)?;
        Ok(CreatePolicyInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
            document,
            description,
            tags,
        })
    }
}

impl Operation for CreatePolicy {
    type Service = Iam;
    const NAME: &'static str = "CreatePolicy";
    type Input = CreatePolicyInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreatePolicyInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(Target::new_arn(
                cx,
                iam::entity_arn(cx.account(), "policy", &i.path, &i.name),
            ))
        })
        .await
    }

    /// The new policy's ARN, with its tags.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreatePolicyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found.check(cx).request_tags(request_tags(&i.tags)),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &CreatePolicyInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        if state.policy_named(&i.name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {} already exists. Duplicate names are not allowed.",
                i.name
            )));
        }
        if state.policies.len() >= quota::POLICIES {
            return Err(IamError::quota("PoliciesPerAccount", quota::POLICIES));
        }
        let now = cx.now();
        let policy = ManagedPolicy {
            name: i.name.clone(),
            path: i.path.clone(),
            policy_id: output::unique_id("ANPA"),
            arn: iam::entity_arn(cx.account(), "policy", &i.path, &i.name),
            create_date: now,
            update_date: now,
            description: i.description.clone(),
            default_version_id: "v1".into(),
            versions: vec![PolicyVersion {
                version_id: "v1".into(),
                document: i.document.clone(),
                create_date: now,
            }],
            tags: i.tags.clone(),
            versions_created: 1,
        };
        state.policies.push(policy.clone());
        let mut x = cx.xml::<Iam>();
        // CreatePolicy answers without the description, like AWS.
        x.open("Policy");
        output::policy_fields(
            &mut x,
            &ManagedPolicy {
                description: None,
                ..policy
            },
            &state,
            Detail::Full,
        );
        x.close("Policy");
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

/// A managed policy by ARN: the input of GetPolicy and DeletePolicy.
pub(crate) struct PolicyInput {
    arn: String,
}

impl FromRequest<Iam> for PolicyInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = r.req_arn("PolicyArn");
        r.finish()?;
        Ok(PolicyInput { arn })
    }
}

pub(crate) struct GetPolicy;

impl Operation for GetPolicy {
    type Service = Iam;
    const NAME: &'static str = "GetPolicy";
    type Input = PolicyInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &PolicyInput) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(policy_target(cx, state, &i.arn, true))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a PolicyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &PolicyInput, found: Found) -> Result<QueryReply, IamError> {
        let policy = find_policy(&found.state, &i.arn)?;
        let mut x = cx.xml::<Iam>();
        x.open("Policy");
        output::policy_fields(&mut x, &policy, &found.state, Detail::Full);
        // GetPolicy answers an empty `Tags` list for a policy without tags, where CreatePolicy
        // and ListPolicies leave it out (checked against AWS by moto's
        // `test_policy_resource_returns_subset_of_available_attributes`).
        if policy.tags.is_empty() {
            output::tags(&mut x, &[]);
        }
        x.close("Policy");
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListPolicies;

pub(crate) struct ListPoliciesInput {
    scope: String,
    only_attached: bool,
    prefix: Option<String>,
    usage: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListPoliciesInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let scope = r.one_of("Scope", &["All", "AWS", "Local"], false);
        let only_attached = r.bool("OnlyAttached");
        let prefix = r.policy_path_prefix();
        let usage = r.one_of(
            "PolicyUsageFilter",
            &["PermissionsPolicy", "PermissionsBoundary"],
            false,
        );
        let page = r.page();
        r.finish()?;
        Ok(ListPoliciesInput {
            scope: scope.unwrap_or_else(|| "All".into()),
            only_attached: only_attached.unwrap_or(false),
            prefix,
            usage,
            page,
        })
    }
}

/// ListPolicies: authorized on the path prefix (`arn:aws:iam::<account>:policy/<prefix>`), as
/// AWS names it.
impl Operation for ListPolicies {
    type Service = Iam;
    const NAME: &'static str = "ListPolicies";
    type Input = ListPoliciesInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListPoliciesInput) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(path_target(cx, "policy", i.prefix.as_deref()))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListPoliciesInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListPoliciesInput, found: Found) -> Result<QueryReply, IamError> {
        let state = found.state;
        let mut policies: Vec<ManagedPolicy> = Vec::new();
        if i.scope != "Local" {
            policies.extend(aws_managed_policies());
        }
        if i.scope != "AWS" {
            policies.extend(state.policies.iter().cloned());
        }
        let prefix = i.prefix.as_deref().unwrap_or("/");
        policies.retain(|p| {
            let attached = state.attachment_count(&p.arn) > 0;
            let boundary = state.boundary_usage_count(&p.arn) > 0;
            let used = match i.usage.as_deref() {
                Some("PermissionsPolicy") => attached,
                Some(_) => boundary,
                None => attached || boundary,
            };
            p.path.starts_with(prefix) && (used || (!i.only_attached && i.usage.is_none()))
        });
        by_name(&mut policies, |p| &p.name);
        let (page, next) = i.page.apply(policies)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "Policies", &page, |x, p| {
            output::policy_fields(x, p, &state, Detail::Listed);
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct DeletePolicy;

impl Operation for DeletePolicy {
    type Service = Iam;
    const NAME: &'static str = "DeletePolicy";
    type Input = PolicyInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &PolicyInput) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(policy_target(cx, state, &i.arn, false))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a PolicyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &PolicyInput, found: Found) -> Result<QueryReply, IamError> {
        let arn = &i.arn;
        let mut state = found.state;
        find_own_policy(&mut state, arn)?;
        if state.attachment_count(arn) > 0 || state.boundary_usage_count(arn) > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        if find_own_policy(&mut state, arn)?.versions.len() > 1 {
            return Err(IamError::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
            ));
        }
        state.policies.retain(|p| p.arn != *arn);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
