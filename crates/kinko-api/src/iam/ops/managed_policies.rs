//! CreatePolicy, GetPolicy, ListPolicies, DeletePolicy: customer managed policies
//! (`arn:aws:iam::<account>:policy/<path><name>`) and the built-in AWS managed ones.

use kinko_core::aws_managed_policies::aws_managed_policies;
use kinko_core::iam::{self, IamState, ManagedPolicy, PolicyVersion};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{by_name, find_own_policy, find_policy, policy_target, quota, tag_pairs};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::output::{self, Detail, members};
use crate::iam::policy_document::check_managed;
use crate::iam::{Cx, Operation, Reply, Target};

pub(crate) struct CreatePolicy;

pub(crate) struct CreatePolicyInput {
    name: String,
    path: String,
    document: String,
    description: Option<String>,
    tags: Vec<Tag>,
}

impl Operation for CreatePolicy {
    type Input = CreatePolicyInput;

    fn decode(&self, p: &Params) -> Result<CreatePolicyInput, IamError> {
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

    fn target(&self, cx: &Cx<'_>, i: &CreatePolicyInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Arn {
            arn: iam::entity_arn(cx.account(), "policy", &i.path, &i.name),
            account: cx.account().to_owned(),
            tags: vec![],
        })
    }

    fn request_tags(&self, i: &CreatePolicyInput) -> Vec<(String, String)> {
        tag_pairs(&i.tags)
    }

    async fn run(&self, cx: &Cx<'_>, i: &CreatePolicyInput, mut state: IamState) -> Result<Reply, IamError> {
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
        let mut x = cx.xml();
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
        cx.write(state).await?;
        Ok(Reply::Result(x))
    }
}

pub(crate) struct GetPolicy;

fn decode_arn(p: &Params) -> Result<String, IamError> {
    let mut r = Reader::new(p);
    let arn = r.req_arn("PolicyArn");
    r.finish()?;
    Ok(arn)
}

impl Operation for GetPolicy {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        decode_arn(p)
    }

    fn target(&self, cx: &Cx<'_>, arn: &String, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, arn, true))
    }

    async fn run(&self, cx: &Cx<'_>, arn: &String, state: IamState) -> Result<Reply, IamError> {
        let policy = find_policy(&state, arn)?;
        let mut x = cx.xml();
        output::policy(&mut x, &policy, &state, Detail::Full);
        Ok(Reply::Result(x))
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

impl Operation for ListPolicies {
    type Input = ListPoliciesInput;

    fn decode(&self, p: &Params) -> Result<ListPoliciesInput, IamError> {
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

    fn target(&self, _: &Cx<'_>, _: &ListPoliciesInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Any)
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListPoliciesInput, state: IamState) -> Result<Reply, IamError> {
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
        let mut x = cx.xml();
        members(&mut x, "Policies", &page, |x, p| {
            output::policy_fields(x, p, &state, Detail::Listed);
        });
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}

pub(crate) struct DeletePolicy;

impl Operation for DeletePolicy {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        decode_arn(p)
    }

    fn target(&self, cx: &Cx<'_>, arn: &String, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, arn, false))
    }

    async fn run(&self, cx: &Cx<'_>, arn: &String, mut state: IamState) -> Result<Reply, IamError> {
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
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}
