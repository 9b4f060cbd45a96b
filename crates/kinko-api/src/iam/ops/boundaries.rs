//! Put/Delete User|RolePermissionsBoundary: the managed policy that caps what a user or role's
//! identity policies can grant.

use kinko_core::iam::IamState;
use kinko_wire::query::Params;

use super::{Entity, attachable};
use crate::iam::error::IamError;
use crate::iam::input::Reader;
use crate::iam::{Cx, Operation, Reply, Target};

fn boundary_mut<'s>(
    e: Entity,
    state: &'s mut IamState,
    name: &str,
) -> Result<&'s mut Option<String>, IamError> {
    match e {
        Entity::User => state.user_mut(name).map(|u| &mut u.permissions_boundary),
        Entity::Role => state.role_mut(name).map(|r| &mut r.permissions_boundary),
        Entity::Group => None,
    }
    .ok_or_else(|| e.not_found(name))
}

pub(crate) struct PutPermissionsBoundary(pub Entity);

impl Operation for PutPermissionsBoundary {
    type Input = (String, String);

    fn decode(&self, p: &Params) -> Result<(String, String), IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name(self.0.param(), 64);
        let arn = r.req_arn("PermissionsBoundary");
        r.finish()?;
        Ok((name, arn))
    }

    fn target(&self, cx: &Cx<'_>, i: &(String, String), state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.0))
    }

    async fn run(&self, cx: &Cx<'_>, i: &(String, String), mut state: IamState) -> Result<Reply, IamError> {
        if !self.0.exists(&state, &i.0) {
            return Err(self.0.not_found(&i.0));
        }
        let arn = attachable(&state, &i.1, IamError::boundary_not_attachable)?;
        *boundary_mut(self.0, &mut state, &i.0)? = Some(arn);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct DeletePermissionsBoundary(pub Entity);

impl Operation for DeletePermissionsBoundary {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name(self.0.param(), 64);
        r.finish()?;
        Ok(name)
    }

    fn target(&self, cx: &Cx<'_>, name: &String, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, name))
    }

    async fn run(&self, cx: &Cx<'_>, name: &String, mut state: IamState) -> Result<Reply, IamError> {
        let boundary = boundary_mut(self.0, &mut state, name)?;
        if boundary.take().is_none() {
            // Nothing to remove: succeed without a write, as removing is idempotent.
            return Ok(Reply::Empty);
        }
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}
