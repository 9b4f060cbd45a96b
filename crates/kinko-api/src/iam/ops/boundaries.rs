//! Put/Delete User|RolePermissionsBoundary: the managed policy that caps what a user or role's
//! identity policies can grant. Both are authorized with the boundary as `iam:PermissionsBoundary`:
//! the one being set, or the one being removed.

use std::marker::PhantomData;

use kinko_core::iam::{Role, User};
use kinko_wire::query::Params;

use super::{Entity, attachable};
use crate::iam::error::IamError;
use crate::iam::input::Reader;
use crate::iam::{Found, Iam, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// A user or role: the entities a permissions boundary can be set on.
pub(crate) trait Bounded: Entity {
    const PUT: &'static str;
    const DELETE: &'static str;
    fn boundary_mut(&mut self) -> &mut Option<String>;
}

impl Bounded for User {
    const PUT: &'static str = "PutUserPermissionsBoundary";
    const DELETE: &'static str = "DeleteUserPermissionsBoundary";
    fn boundary_mut(&mut self) -> &mut Option<String> {
        &mut self.permissions_boundary
    }
}

impl Bounded for Role {
    const PUT: &'static str = "PutRolePermissionsBoundary";
    const DELETE: &'static str = "DeleteRolePermissionsBoundary";
    fn boundary_mut(&mut self) -> &mut Option<String> {
        &mut self.permissions_boundary
    }
}

/// Both actions take names of at most 64 characters.
const NAME: usize = 64;

/// PutUserPermissionsBoundary, PutRolePermissionsBoundary.
pub(crate) struct PutPermissionsBoundary<E>(PhantomData<E>);

pub(crate) struct PutInput<E> {
    entity: String,
    boundary: String,
    _entity: PhantomData<E>,
}

impl<E: Bounded> FromRequest<Iam> for PutInput<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(E::PARAM, NAME);
        let boundary = r.req_arn("PermissionsBoundary");
        r.finish()?;
        Ok(PutInput {
            entity,
            boundary,
            _entity: PhantomData,
        })
    }
}

impl<E: Bounded> Operation for PutPermissionsBoundary<E> {
    type Service = Iam;
    const NAME: &'static str = E::PUT;
    type Input = PutInput<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &PutInput<E>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(E::target(cx, state, &i.entity))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a PutInput<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found
                .check(cx)
                .condition("iam:PermissionsBoundary", i.boundary.as_str()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &PutInput<E>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        E::get(&state, &i.entity)?;
        let arn = attachable(&state, &i.boundary, IamError::boundary_not_attachable)?;
        *E::get_modifiable_mut(&mut state, &i.entity)?.boundary_mut() = Some(arn);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// DeleteUserPermissionsBoundary, DeleteRolePermissionsBoundary.
pub(crate) struct DeletePermissionsBoundary<E>(PhantomData<E>);

pub(crate) struct DeleteInput<E> {
    entity: String,
    _entity: PhantomData<E>,
}

impl<E: Bounded> FromRequest<Iam> for DeleteInput<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(E::PARAM, NAME);
        r.finish()?;
        Ok(DeleteInput {
            entity,
            _entity: PhantomData,
        })
    }
}

impl<E: Bounded> Operation for DeletePermissionsBoundary<E> {
    type Service = Iam;
    const NAME: &'static str = E::DELETE;
    type Input = DeleteInput<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeleteInput<E>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(E::target(cx, state, &i.entity))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteInput<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx).condition_opt(
            "iam:PermissionsBoundary",
            found.target.boundary(),
        )))
    }

    async fn run(cx: &Cx<'_>, i: &DeleteInput<E>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        if E::get_modifiable_mut(&mut state, &i.entity)?
            .boundary_mut()
            .take()
            .is_none()
        {
            // Nothing to remove: succeed without a write, as removing is idempotent.
            return Ok(QueryReply::Empty);
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
