//! Put/Get/List/Delete User|Group|RolePolicy: policies embedded in one user, group or role.
//!
//! IAM limits the aggregate size of an entity's inline policies (characters without whitespace):
//! users 2,048, groups 5,120, roles 10,240.

use kinko_core::iam::{IamState, InlinePolicy};
use kinko_wire::query::Params;

use super::Entity;
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, string_members, url_encode};
use crate::iam::policy_document::{DocumentKind, size, validate_policy_document};
use crate::iam::{Cx, Operation, Reply, Target};

const POLICY_NAME: usize = 128;

fn aggregate_limit(e: Entity) -> usize {
    match e {
        Entity::User => 2048,
        Entity::Group => 5120,
        Entity::Role => 10_240,
    }
}

fn policy_not_found(e: Entity, name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} policy with name {name} cannot be found.",
        e.label()
    ))
}

pub(crate) struct NamedPolicy {
    entity: String,
    policy: String,
}

fn decode_named(e: Entity, p: &Params) -> Result<NamedPolicy, IamError> {
    let mut r = Reader::new(p);
    let entity = r.req_name(e.param(), e.max_name());
    let policy = r.req_name("PolicyName", POLICY_NAME);
    r.finish()?;
    Ok(NamedPolicy { entity, policy })
}

pub(crate) struct PutInlinePolicy(pub Entity);

pub(crate) struct PutInput {
    entity: String,
    policy: String,
    document: String,
}

impl Operation for PutInlinePolicy {
    type Input = PutInput;

    fn decode(&self, p: &Params) -> Result<PutInput, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(self.0.param(), self.0.max_name());
        let policy = r.req_name("PolicyName", POLICY_NAME);
        let document = r.document("PolicyDocument");
        r.finish()?;
        validate_policy_document(&document, DocumentKind::Identity)
            .map_err(IamError::MalformedPolicyDocument)?;
        Ok(PutInput {
            entity,
            policy,
            document,
        })
    }

    fn target(&self, cx: &Cx<'_>, i: &PutInput, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.entity))
    }

    async fn run(&self, cx: &Cx<'_>, i: &PutInput, mut state: IamState) -> Result<Reply, IamError> {
        let name = self.0.canonical_name(&state, &i.entity)?;
        let policies = self.0.inline_policies_mut(&mut state, &i.entity)?;
        let others: usize = policies
            .iter()
            .filter(|p| p.name != i.policy)
            .map(|p| size(&p.document))
            .sum();
        let limit = aggregate_limit(self.0);
        if others + size(&i.document) > limit {
            return Err(IamError::LimitExceeded(format!(
                "Maximum policy size of {limit} bytes exceeded for {} {name}",
                self.0.label()
            )));
        }
        match policies.iter_mut().find(|p| p.name == i.policy) {
            Some(p) => p.document.clone_from(&i.document),
            None => policies.push(InlinePolicy {
                name: i.policy.clone(),
                document: i.document.clone(),
            }),
        }
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct GetInlinePolicy(pub Entity);

impl Operation for GetInlinePolicy {
    type Input = NamedPolicy;

    fn decode(&self, p: &Params) -> Result<NamedPolicy, IamError> {
        decode_named(self.0, p)
    }

    fn target(&self, cx: &Cx<'_>, i: &NamedPolicy, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.entity))
    }

    async fn run(&self, cx: &Cx<'_>, i: &NamedPolicy, mut state: IamState) -> Result<Reply, IamError> {
        let name = self.0.canonical_name(&state, &i.entity)?;
        let policy = self
            .0
            .inline_policies_mut(&mut state, &i.entity)?
            .iter()
            .find(|p| p.name == i.policy)
            .ok_or_else(|| policy_not_found(self.0, &i.policy))?;
        let mut x = cx.xml();
        x.elem(self.0.param(), &name)
            .elem("PolicyName", &policy.name)
            .elem("PolicyDocument", &url_encode(&policy.document));
        Ok(Reply::Result(x))
    }
}

pub(crate) struct ListInlinePolicies(pub Entity);

pub(crate) struct ListInput {
    entity: String,
    page: Page,
}

impl Operation for ListInlinePolicies {
    type Input = ListInput;

    fn decode(&self, p: &Params) -> Result<ListInput, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(self.0.param(), self.0.max_name());
        let page = r.page();
        r.finish()?;
        Ok(ListInput { entity, page })
    }

    fn target(&self, cx: &Cx<'_>, i: &ListInput, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.entity))
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListInput, mut state: IamState) -> Result<Reply, IamError> {
        let mut names: Vec<String> = self
            .0
            .inline_policies_mut(&mut state, &i.entity)?
            .iter()
            .map(|p| p.name.clone())
            .collect();
        names.sort();
        let (page, next) = i.page.apply(names)?;
        let mut x = cx.xml();
        string_members(&mut x, "PolicyNames", page.iter().map(String::as_str));
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}

pub(crate) struct DeleteInlinePolicy(pub Entity);

impl Operation for DeleteInlinePolicy {
    type Input = NamedPolicy;

    fn decode(&self, p: &Params) -> Result<NamedPolicy, IamError> {
        decode_named(self.0, p)
    }

    fn target(&self, cx: &Cx<'_>, i: &NamedPolicy, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.entity))
    }

    async fn run(&self, cx: &Cx<'_>, i: &NamedPolicy, mut state: IamState) -> Result<Reply, IamError> {
        let policies = self.0.inline_policies_mut(&mut state, &i.entity)?;
        let before = policies.len();
        policies.retain(|p| p.name != i.policy);
        if policies.len() == before {
            return Err(policy_not_found(self.0, &i.policy));
        }
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}
