//! TagUser/UntagUser/ListUserTags, TagRole/UntagRole/ListRoleTags, TagPolicy/UntagPolicy/ListPolicyTags,
//! TagInstanceProfile/UntagInstanceProfile/ListInstanceProfileTags,
//! TagOpenIDConnectProvider/..., TagSAMLProvider/UntagSAMLProvider/ListSAMLProviderTags:
//! TagServerCertificate/UntagServerCertificate/ListServerCertificateTags:
//! one generic operation each over what carries the tags ([`Tagged`]).
//!
//! Tagging is authorized with the tags as `aws:RequestTag/*` and their keys as `aws:TagKeys`;
//! untagging with the keys as `aws:TagKeys`.

use std::marker::PhantomData;

use kinko_core::iam::{
    IamState, InstanceProfile, ManagedPolicy, OpenIdConnectProvider, Role, SamlProvider, ServerCertificate,
    User,
};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{
    Entity, find_own_policy, find_policy, instance_profiles, merge_tags, oidc_providers, policy_target,
    saml_providers, server_certificates,
};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::{Found, Iam, Target, output, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// What carries tags: users, roles, customer managed policies.
pub(crate) trait Tagged: Send + Sync + 'static {
    const TAG: &'static str;
    const UNTAG: &'static str;
    const LIST_TAGS: &'static str;
    /// The quota AWS names when it would get more than 50 tags.
    const QUOTA: &'static str;

    /// Reads the parameter naming it (a name, or a policy ARN).
    fn read(r: &mut Reader<'_>) -> String;
    /// What an action on it is authorized on; `read_only` for ListTags.
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, read_only: bool) -> Target;
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError>;
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError>;
}

impl Tagged for User {
    const TAG: &'static str = "TagUser";
    const UNTAG: &'static str = "UntagUser";
    const LIST_TAGS: &'static str = "ListUserTags";
    const QUOTA: &'static str = "TagsPerUser";

    fn read(r: &mut Reader<'_>) -> String {
        r.req_name("UserName", 128)
    }
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, _: bool) -> Target {
        <User as Entity>::target(cx, state, id)
    }
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        Ok(User::get(state, id)?.tags.clone())
    }
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        Ok(&mut User::get_mut(state, id)?.tags)
    }
}

impl Tagged for Role {
    const TAG: &'static str = "TagRole";
    const UNTAG: &'static str = "UntagRole";
    const LIST_TAGS: &'static str = "ListRoleTags";
    const QUOTA: &'static str = "TagsPerRole";

    fn read(r: &mut Reader<'_>) -> String {
        r.req_name("RoleName", 64)
    }
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, _: bool) -> Target {
        <Role as Entity>::target(cx, state, id)
    }
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        Ok(Role::get(state, id)?.tags.clone())
    }
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        Ok(&mut Role::get_mut(state, id)?.tags)
    }
}

impl Tagged for ManagedPolicy {
    const TAG: &'static str = "TagPolicy";
    const UNTAG: &'static str = "UntagPolicy";
    const LIST_TAGS: &'static str = "ListPolicyTags";
    const QUOTA: &'static str = "TagsPerPolicy";

    fn read(r: &mut Reader<'_>) -> String {
        r.req_arn("PolicyArn")
    }
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, read_only: bool) -> Target {
        policy_target(cx, state, id, read_only)
    }
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        find_policy(state, id).map(|p| p.tags)
    }
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        find_own_policy(state, id).map(|p| &mut p.tags)
    }
}

impl Tagged for InstanceProfile {
    const TAG: &'static str = "TagInstanceProfile";
    const UNTAG: &'static str = "UntagInstanceProfile";
    const LIST_TAGS: &'static str = "ListInstanceProfileTags";
    const QUOTA: &'static str = "TagsPerInstanceProfile";

    fn read(r: &mut Reader<'_>) -> String {
        r.req_name("InstanceProfileName", 128)
    }
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, _: bool) -> Target {
        instance_profiles::target(cx, state, id)
    }
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        Ok(instance_profiles::get(state, id)?.tags.clone())
    }
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        state
            .instance_profile_mut(id)
            .map(|p| &mut p.tags)
            .ok_or_else(|| IamError::instance_profile_not_found(id))
    }
}

impl Tagged for ServerCertificate {
    const TAG: &'static str = "TagServerCertificate";
    const UNTAG: &'static str = "UntagServerCertificate";
    const LIST_TAGS: &'static str = "ListServerCertificateTags";
    const QUOTA: &'static str = "TagsPerServerCertificate";

    fn read(r: &mut Reader<'_>) -> String {
        server_certificates::read_name(r)
    }
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, _: bool) -> Target {
        server_certificates::target(cx, state, id)
    }
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        Ok(server_certificates::get(state, id)?.tags.clone())
    }
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        Ok(&mut server_certificates::get_mut(state, id)?.tags)
    }
}

impl Tagged for OpenIdConnectProvider {
    const TAG: &'static str = "TagOpenIDConnectProvider";
    const UNTAG: &'static str = "UntagOpenIDConnectProvider";
    const LIST_TAGS: &'static str = "ListOpenIDConnectProviderTags";
    const QUOTA: &'static str = "TagsPerOpenIdConnectProvider";

    fn read(r: &mut Reader<'_>) -> String {
        r.req_arn("OpenIDConnectProviderArn")
    }
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, _: bool) -> Target {
        oidc_providers::target(cx, state, id)
    }
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        Ok(oidc_providers::get(state, id)?.tags.clone())
    }
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        Ok(&mut oidc_providers::get_mut(state, id)?.tags)
    }
}

impl Tagged for SamlProvider {
    const TAG: &'static str = "TagSAMLProvider";
    const UNTAG: &'static str = "UntagSAMLProvider";
    const LIST_TAGS: &'static str = "ListSAMLProviderTags";
    const QUOTA: &'static str = "TagsPerSamlProvider";

    fn read(r: &mut Reader<'_>) -> String {
        saml_providers::read_arn(r)
    }
    fn resource(cx: &Cx<'_>, state: &IamState, id: &str, _: bool) -> Target {
        saml_providers::target(cx, state, id)
    }
    fn tags(state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        Ok(saml_providers::get(state, id)?.tags.clone())
    }
    fn tags_mut<'s>(state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        Ok(&mut saml_providers::get_mut(state, id)?.tags)
    }
}

/// TagUser, TagRole, TagPolicy.
pub(crate) struct AddTags<T>(PhantomData<T>);

pub(crate) struct AddTagsInput<T> {
    id: String,
    tags: Vec<Tag>,
    _tagged: PhantomData<T>,
}

impl<T: Tagged> FromRequest<Iam> for AddTagsInput<T> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let id = T::read(&mut r);
        let tags = r.tags("Tags", true);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(AddTagsInput {
            id,
            tags,
            _tagged: PhantomData,
        })
    }
}

impl<T: Tagged> Operation for AddTags<T> {
    type Service = Iam;
    const NAME: &'static str = T::TAG;
    type Input = AddTagsInput<T>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &AddTagsInput<T>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(T::resource(cx, state, &i.id, false))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a AddTagsInput<T>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found.check(cx).request_tags(request_tags(&i.tags)),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &AddTagsInput<T>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        merge_tags(T::tags_mut(&mut state, &i.id)?, &i.tags, T::QUOTA)?;
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// UntagUser, UntagRole, UntagPolicy.
pub(crate) struct RemoveTags<T>(PhantomData<T>);

pub(crate) struct RemoveTagsInput<T> {
    id: String,
    keys: Vec<String>,
    _tagged: PhantomData<T>,
}

impl<T: Tagged> FromRequest<Iam> for RemoveTagsInput<T> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let id = T::read(&mut r);
        let keys = r.tag_keys();
        r.finish()?;
        Ok(RemoveTagsInput {
            id,
            keys,
            _tagged: PhantomData,
        })
    }
}

impl<T: Tagged> Operation for RemoveTags<T> {
    type Service = Iam;
    const NAME: &'static str = T::UNTAG;
    type Input = RemoveTagsInput<T>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &RemoveTagsInput<T>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(T::resource(cx, state, &i.id, false))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a RemoveTagsInput<T>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        let mut check = found.check(cx);
        for key in &i.keys {
            check = check.condition("aws:TagKeys", key.as_str());
        }
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &RemoveTagsInput<T>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        // Keys the entity doesn't have are ignored.
        T::tags_mut(&mut state, &i.id)?.retain(|t| !i.keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// ListUserTags, ListRoleTags, ListPolicyTags.
pub(crate) struct ListTags<T>(PhantomData<T>);

pub(crate) struct ListTagsInput<T> {
    id: String,
    page: Page,
    _tagged: PhantomData<T>,
}

impl<T: Tagged> FromRequest<Iam> for ListTagsInput<T> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let id = T::read(&mut r);
        let page = r.page();
        r.finish()?;
        Ok(ListTagsInput {
            id,
            page,
            _tagged: PhantomData,
        })
    }
}

impl<T: Tagged> Operation for ListTags<T> {
    type Service = Iam;
    const NAME: &'static str = T::LIST_TAGS;
    type Input = ListTagsInput<T>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListTagsInput<T>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(T::resource(cx, state, &i.id, true))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListTagsInput<T>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListTagsInput<T>, found: Found) -> Result<QueryReply, IamError> {
        let (page, next) = i.page.apply(T::tags(&found.state, &i.id)?)?;
        let mut x = cx.xml::<Iam>();
        output::tags(&mut x, &page);
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}
