//! Put/Get/List/Delete User|Group|RolePolicy: policies embedded in one user, group or role.
//!
//! IAM limits the aggregate size of an entity's inline policies (characters without whitespace):
//! users 2,048, groups 5,120, roles 10,240.

use std::marker::PhantomData;

use kinko_core::iam::{Group, InlinePolicy, Role, User};
use kinko_wire::query::Params;

use super::Entity;
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, string_members, url_encode};
use crate::iam::policy_document::{DocumentKind, size, validate_policy_document};
use crate::iam::{Found, Iam, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

const POLICY_NAME: usize = 128;

/// An entity with inline policies: its actions and limits.
pub(crate) trait InlinePolicies: Entity {
    const PUT: &'static str;
    const GET: &'static str;
    const LIST: &'static str;
    const DELETE: &'static str;
    /// The longest entity name these actions accept.
    const MAX_NAME: usize;
    /// The aggregate size of its inline policies.
    const AGGREGATE_LIMIT: usize;
}

impl InlinePolicies for User {
    const PUT: &'static str = "PutUserPolicy";
    const GET: &'static str = "GetUserPolicy";
    const LIST: &'static str = "ListUserPolicies";
    const DELETE: &'static str = "DeleteUserPolicy";
    const MAX_NAME: usize = 128;
    const AGGREGATE_LIMIT: usize = 2048;
}

impl InlinePolicies for Group {
    const PUT: &'static str = "PutGroupPolicy";
    const GET: &'static str = "GetGroupPolicy";
    const LIST: &'static str = "ListGroupPolicies";
    const DELETE: &'static str = "DeleteGroupPolicy";
    const MAX_NAME: usize = 128;
    const AGGREGATE_LIMIT: usize = 5120;
}

impl InlinePolicies for Role {
    const PUT: &'static str = "PutRolePolicy";
    const GET: &'static str = "GetRolePolicy";
    const LIST: &'static str = "ListRolePolicies";
    const DELETE: &'static str = "DeleteRolePolicy";
    const MAX_NAME: usize = 64;
    const AGGREGATE_LIMIT: usize = 10_240;
}

fn policy_not_found<E: Entity>(name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} policy with name {name} cannot be found.",
        E::LABEL
    ))
}

/// The entity's ARN, tags and boundary.
async fn resolve<E: Entity>(cx: &Cx<'_>, entity: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(E::target(cx, state, entity))).await
}

/// An entity and one of its inline policies, by name.
pub(crate) struct NamedPolicy<E> {
    entity: String,
    policy: String,
    _entity: PhantomData<E>,
}

impl<E: InlinePolicies> FromRequest<Iam> for NamedPolicy<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(E::PARAM, E::MAX_NAME);
        let policy = r.req_name("PolicyName", POLICY_NAME);
        r.finish()?;
        Ok(NamedPolicy {
            entity,
            policy,
            _entity: PhantomData,
        })
    }
}

/// PutUserPolicy, PutGroupPolicy, PutRolePolicy.
pub(crate) struct PutInlinePolicy<E>(PhantomData<E>);

pub(crate) struct PutInput<E> {
    entity: String,
    policy: String,
    document: String,
    _entity: PhantomData<E>,
}

impl<E: InlinePolicies> FromRequest<Iam> for PutInput<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(E::PARAM, E::MAX_NAME);
        let policy = r.req_name("PolicyName", POLICY_NAME);
        let document = r.document("PolicyDocument");
        r.finish()?;
        validate_policy_document(&document, DocumentKind::Identity)
            .map_err(IamError::MalformedPolicyDocument)?;
        Ok(PutInput {
            entity,
            policy,
            document,
            _entity: PhantomData,
        })
    }
}

impl<E: InlinePolicies> Operation for PutInlinePolicy<E> {
    type Service = Iam;
    const NAME: &'static str = E::PUT;
    type Input = PutInput<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &PutInput<E>) -> Result<Found, IamError> {
        resolve::<E>(cx, &i.entity).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a PutInput<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx).condition_opt(
            "iam:PermissionsBoundary",
            found.target.boundary(),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &PutInput<E>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let entity = E::get_modifiable_mut(&mut state, &i.entity)?;
        let name = entity.name().to_owned();
        let policies = entity.inline_policies_mut();
        let others: usize = policies
            .iter()
            .filter(|p| p.name != i.policy)
            .map(|p| size(&p.document))
            .sum();
        if others + size(&i.document) > E::AGGREGATE_LIMIT {
            return Err(IamError::LimitExceeded(format!(
                "Maximum policy size of {} bytes exceeded for {} {name}",
                E::AGGREGATE_LIMIT,
                E::LABEL
            )));
        }
        match policies.iter_mut().find(|p| p.name == i.policy) {
            Some(p) => p.document.clone_from(&i.document),
            None => policies.push(InlinePolicy {
                name: i.policy.clone(),
                document: i.document.clone(),
            }),
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// GetUserPolicy, GetGroupPolicy, GetRolePolicy.
pub(crate) struct GetInlinePolicy<E>(PhantomData<E>);

impl<E: InlinePolicies> Operation for GetInlinePolicy<E> {
    type Service = Iam;
    const NAME: &'static str = E::GET;
    type Input = NamedPolicy<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &NamedPolicy<E>) -> Result<Found, IamError> {
        resolve::<E>(cx, &i.entity).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NamedPolicy<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &NamedPolicy<E>, found: Found) -> Result<QueryReply, IamError> {
        let entity = E::get(&found.state, &i.entity)?;
        let policy = entity
            .inline_policies()
            .iter()
            .find(|p| p.name == i.policy)
            .ok_or_else(|| policy_not_found::<E>(&i.policy))?;
        let mut x = cx.xml::<Iam>();
        x.elem(E::PARAM, entity.name())
            .elem("PolicyName", &policy.name)
            .elem("PolicyDocument", &url_encode(&policy.document));
        Ok(QueryReply::Result(x))
    }
}

/// ListUserPolicies, ListGroupPolicies, ListRolePolicies.
pub(crate) struct ListInlinePolicies<E>(PhantomData<E>);

pub(crate) struct ListInput<E> {
    entity: String,
    page: Page,
    _entity: PhantomData<E>,
}

impl<E: InlinePolicies> FromRequest<Iam> for ListInput<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(E::PARAM, E::MAX_NAME);
        let page = r.page();
        r.finish()?;
        Ok(ListInput {
            entity,
            page,
            _entity: PhantomData,
        })
    }
}

impl<E: InlinePolicies> Operation for ListInlinePolicies<E> {
    type Service = Iam;
    const NAME: &'static str = E::LIST;
    type Input = ListInput<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListInput<E>) -> Result<Found, IamError> {
        resolve::<E>(cx, &i.entity).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListInput<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListInput<E>, found: Found) -> Result<QueryReply, IamError> {
        let mut names: Vec<&str> = E::get(&found.state, &i.entity)?
            .inline_policies()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        let (page, next) = i.page.apply(names)?;
        let mut x = cx.xml::<Iam>();
        string_members(&mut x, "PolicyNames", page);
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

/// DeleteUserPolicy, DeleteGroupPolicy, DeleteRolePolicy.
pub(crate) struct DeleteInlinePolicy<E>(PhantomData<E>);

impl<E: InlinePolicies> Operation for DeleteInlinePolicy<E> {
    type Service = Iam;
    const NAME: &'static str = E::DELETE;
    type Input = NamedPolicy<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &NamedPolicy<E>) -> Result<Found, IamError> {
        resolve::<E>(cx, &i.entity).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NamedPolicy<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx).condition_opt(
            "iam:PermissionsBoundary",
            found.target.boundary(),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &NamedPolicy<E>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let policies = E::get_modifiable_mut(&mut state, &i.entity)?.inline_policies_mut();
        let before = policies.len();
        policies.retain(|p| p.name != i.policy);
        if policies.len() == before {
            return Err(policy_not_found::<E>(&i.policy));
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
