//! ListUsers, ListGroups, ListRoles: the entities whose path starts with a prefix, by name.
//!
//! The Service Authorization Reference gives these actions no resource type; AWS authorizes them
//! on the path prefix (`arn:aws:iam::<account>:user/<prefix>`) and names that in their
//! AccessDenied, so a policy can allow listing one path.

use std::future::Future;
use std::marker::PhantomData;

use kinko_core::iam::{Group, Role, User};
use kinko_wire::query::{Params, Xml};

use super::{Entity, by_name, path_target, roles};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, Detail, members};
use crate::iam::{Found, Iam};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// An entity kind ListEntities lists.
pub(crate) trait Listed: Entity {
    const LIST: &'static str;
    /// The result's list element: `Users`, `Groups`, `Roles`.
    const MEMBERS: &'static str;

    /// The entity as IAM shows it.
    fn shown(_cx: &Cx<'_>, e: &Self) -> impl Future<Output = Result<Self, IamError>> + Send {
        std::future::ready(Ok(e.clone()))
    }

    /// Its members in a list.
    fn write(x: &mut Xml, e: &Self);
}

impl Listed for User {
    const LIST: &'static str = "ListUsers";
    const MEMBERS: &'static str = "Users";

    fn write(x: &mut Xml, u: &User) {
        output::user_fields(x, u, Detail::Listed);
    }
}

impl Listed for Group {
    const LIST: &'static str = "ListGroups";
    const MEMBERS: &'static str = "Groups";

    fn write(x: &mut Xml, g: &Group) {
        output::group_fields(x, g);
    }
}

impl Listed for Role {
    const LIST: &'static str = "ListRoles";
    const MEMBERS: &'static str = "Roles";

    /// A user or role its trust policy named that no longer exists appears as its unique id.
    async fn shown(cx: &Cx<'_>, r: &Role) -> Result<Role, IamError> {
        roles::shown(cx, r).await
    }

    fn write(x: &mut Xml, r: &Role) {
        output::role_fields(x, r, Detail::Listed);
    }
}

/// ListUsers, ListGroups, ListRoles.
pub(crate) struct ListEntities<E>(PhantomData<E>);

/// `PathPrefix`, `Marker`, `MaxItems`.
pub(crate) struct ListInput<E> {
    prefix: Option<String>,
    page: Page,
    _entity: PhantomData<E>,
}

impl<E: Listed> FromRequest<Iam> for ListInput<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let prefix = r.path_prefix();
        let page = r.page();
        r.finish()?;
        Ok(ListInput {
            prefix,
            page,
            _entity: PhantomData,
        })
    }
}

impl<E: Listed> Operation for ListEntities<E> {
    type Service = Iam;
    const NAME: &'static str = E::LIST;
    type Input = ListInput<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListInput<E>) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(path_target(cx, E::LABEL, i.prefix.as_deref()))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListInput<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListInput<E>, found: Found) -> Result<QueryReply, IamError> {
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let mut entities: Vec<&E> = E::all(&found.state)
            .iter()
            .filter(|e| e.path().starts_with(prefix))
            .collect();
        by_name(&mut entities, |e| e.name());
        let (page, next) = i.page.apply(entities)?;
        let mut shown = Vec::with_capacity(page.len());
        for e in page {
            shown.push(E::shown(cx, e).await?);
        }
        let mut x = cx.xml::<Iam>();
        members(&mut x, E::MEMBERS, &shown, E::write);
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}
