//! GetAccountAuthorizationDetails: every user, group, role and managed policy of the account with
//! their policies, in one (paged) answer. AWS managed policies are included when attached. Roles'
//! trust policies show users and roles that no longer exist by unique id, as GetRole does.

use kinko_core::aws_managed_policies::aws_managed_policies;
use kinko_core::iam::{Group, IamState, InlinePolicy, ManagedPolicy, Role, User};
use kinko_wire::query::{Params, Xml};

use super::{by_name, roles};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, Detail, XmlExt, members, string_members, url_encode};
use crate::iam::{Found, Iam, Target};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

const ENTITY_TYPES: &[&str] = &["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"];

pub(crate) struct GetAccountAuthorizationDetails;

pub(crate) struct DetailsInput {
    filter: Vec<String>,
    page: Page,
}

enum Entry<'a> {
    User(&'a User),
    Group(&'a Group),
    Role(&'a Role),
    Policy(&'a ManagedPolicy),
}

fn inline_list(x: &mut Xml, tag: &str, policies: &[InlinePolicy]) {
    if policies.is_empty() {
        return;
    }
    members(x, tag, policies, |x, p| {
        x.elem("PolicyName", &p.name)
            .elem("PolicyDocument", &url_encode(&p.document));
    });
}

fn boundary(x: &mut Xml, arn: Option<&str>) {
    if let Some(arn) = arn {
        x.open("PermissionsBoundary")
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", arn)
            .close("PermissionsBoundary");
    }
}

fn user_detail(x: &mut Xml, u: &User) {
    x.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.user_id)
        .elem("Arn", &u.arn)
        .elem("CreateDate", &output::ts(u.create_date));
    inline_list(x, "UserPolicyList", &u.inline_policies);
    string_members(x, "GroupList", u.groups.iter().map(String::as_str));
    output::attached_policies(x, "AttachedManagedPolicies", &u.attached_policies);
    boundary(x, u.permissions_boundary.as_deref());
    output::tags(x, &u.tags);
}

fn group_detail(x: &mut Xml, g: &Group) {
    output::group_fields(x, g);
    inline_list(x, "GroupPolicyList", &g.inline_policies);
    output::attached_policies(x, "AttachedManagedPolicies", &g.attached_policies);
}

fn role_detail(x: &mut Xml, r: &Role, state: &IamState) {
    x.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.role_id)
        .elem("Arn", &r.arn)
        .elem("CreateDate", &output::ts(r.create_date))
        .elem(
            "AssumeRolePolicyDocument",
            &url_encode(&r.assume_role_policy_document),
        );
    members(
        x,
        "InstanceProfileList",
        state.instance_profiles_for_role(&r.name),
        |x, p| {
            output::instance_profile_fields(x, p, state, Detail::Listed);
        },
    );
    inline_list(x, "RolePolicyList", &r.inline_policies);
    output::attached_policies(x, "AttachedManagedPolicies", &r.attached_policies);
    boundary(x, r.permissions_boundary.as_deref());
    output::tags(x, &r.tags);
    x.open("RoleLastUsed").close("RoleLastUsed");
}

fn policy_detail(x: &mut Xml, p: &ManagedPolicy, state: &IamState) {
    output::policy_fields(x, p, state, Detail::Listed);
    x.opt("Description", p.description.as_deref());
    members(x, "PolicyVersionList", &p.versions, |x, v| {
        output::policy_version_fields(x, p, v);
    });
}

impl FromRequest<Iam> for DetailsInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let filter = r.enum_list("Filter", ENTITY_TYPES).unwrap_or_default();
        let page = r.page();
        r.finish()?;
        Ok(DetailsInput { filter, page })
    }
}

/// Authorized on `*`: the action has no resource type.
impl Operation for GetAccountAuthorizationDetails {
    type Service = Iam;
    const NAME: &'static str = "GetAccountAuthorizationDetails";
    type Input = DetailsInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &DetailsInput) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(Target::Any)).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DetailsInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &DetailsInput, found: Found) -> Result<QueryReply, IamError> {
        let state = found.state;
        let wants = |t: &str| i.filter.is_empty() || i.filter.iter().any(|f| f == t);
        let mut policies: Vec<ManagedPolicy> = Vec::new();
        if wants("LocalManagedPolicy") {
            policies.extend(state.policies.iter().cloned());
        }
        if wants("AWSManagedPolicy") {
            policies.extend(
                aws_managed_policies()
                    .into_iter()
                    .filter(|p| state.attachment_count(&p.arn) > 0 || state.boundary_usage_count(&p.arn) > 0),
            );
        }
        by_name(&mut policies, |p| &p.name);
        let mut entries: Vec<Entry<'_>> = Vec::new();
        if wants("User") {
            let mut users: Vec<&User> = state.users.iter().collect();
            by_name(&mut users, |u| &u.name);
            entries.extend(users.into_iter().map(Entry::User));
        }
        if wants("Group") {
            let mut groups: Vec<&Group> = state.groups.iter().collect();
            by_name(&mut groups, |g| &g.name);
            entries.extend(groups.into_iter().map(Entry::Group));
        }
        if wants("Role") {
            let mut roles: Vec<&Role> = state.roles.iter().collect();
            by_name(&mut roles, |r| &r.name);
            entries.extend(roles.into_iter().map(Entry::Role));
        }
        entries.extend(policies.iter().map(Entry::Policy));

        let (page, next) = i.page.apply(entries)?;
        let mut shown_roles = Vec::new();
        for e in &page {
            if let Entry::Role(r) = e {
                shown_roles.push(roles::shown(cx, r).await?);
            }
        }
        let mut x = cx.xml::<Iam>();
        members(
            &mut x,
            "UserDetailList",
            page.iter().filter_map(|e| match e {
                Entry::User(u) => Some(*u),
                _ => None,
            }),
            user_detail,
        );
        members(
            &mut x,
            "GroupDetailList",
            page.iter().filter_map(|e| match e {
                Entry::Group(g) => Some(*g),
                _ => None,
            }),
            group_detail,
        );
        members(&mut x, "RoleDetailList", &shown_roles, |x, r| {
            role_detail(x, r, &state)
        });
        members(
            &mut x,
            "Policies",
            page.iter().filter_map(|e| match e {
                Entry::Policy(p) => Some(*p),
                _ => None,
            }),
            |x, p| policy_detail(x, p, &state),
        );
        x.bool("IsTruncated", next.is_some());
        x.opt("Marker", next.as_deref());
        Ok(QueryReply::Result(x))
    }
}
