//! TagUser/UntagUser/ListUserTags, TagRole/UntagRole/ListRoleTags, TagPolicy/UntagPolicy/ListPolicyTags.

use kinko_core::iam::IamState;
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{Entity, find_own_policy, find_policy, merge_tags, policy_target, tag_pairs};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::output;
use crate::iam::{Cx, Operation, Reply, Target};

/// What carries tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tagged {
    User,
    Role,
    Policy,
}

impl Tagged {
    /// Reads the parameter naming the tagged entity (a name, or a policy ARN).
    fn read(self, r: &mut Reader<'_>) -> String {
        match self {
            Tagged::User => r.req_name("UserName", 128),
            Tagged::Role => r.req_name("RoleName", 64),
            Tagged::Policy => r.req_arn("PolicyArn"),
        }
    }

    fn target(self, cx: &Cx<'_>, state: &IamState, id: &str, read_only: bool) -> Target {
        match self {
            Tagged::User => Entity::User.target(cx, state, id),
            Tagged::Role => Entity::Role.target(cx, state, id),
            Tagged::Policy => policy_target(cx, state, id, read_only),
        }
    }

    /// The quota name AWS reports when an entity would get more than 50 tags.
    fn quota(self) -> &'static str {
        match self {
            Tagged::User => "TagsPerUser",
            Tagged::Role => "TagsPerRole",
            Tagged::Policy => "TagsPerPolicy",
        }
    }

    fn tags_mut<'s>(self, state: &'s mut IamState, id: &str) -> Result<&'s mut Vec<Tag>, IamError> {
        match self {
            Tagged::User => state
                .user_mut(id)
                .map(|u| &mut u.tags)
                .ok_or_else(|| IamError::user_not_found(id)),
            Tagged::Role => state
                .role_mut(id)
                .map(|r| &mut r.tags)
                .ok_or_else(|| IamError::role_not_found(id)),
            Tagged::Policy => find_own_policy(state, id).map(|p| &mut p.tags),
        }
    }

    fn tags(self, state: &IamState, id: &str) -> Result<Vec<Tag>, IamError> {
        match self {
            Tagged::User => state
                .user(id)
                .map(|u| u.tags.clone())
                .ok_or_else(|| IamError::user_not_found(id)),
            Tagged::Role => state
                .role(id)
                .map(|r| r.tags.clone())
                .ok_or_else(|| IamError::role_not_found(id)),
            Tagged::Policy => find_policy(state, id).map(|p| p.tags),
        }
    }
}

pub(crate) struct AddTags(pub Tagged);

pub(crate) struct AddTagsInput {
    id: String,
    tags: Vec<Tag>,
}

impl Operation for AddTags {
    type Input = AddTagsInput;

    fn decode(&self, p: &Params) -> Result<AddTagsInput, IamError> {
        let mut r = Reader::new(p);
        let id = self.0.read(&mut r);
        let tags = r.tags("Tags", true);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(AddTagsInput { id, tags })
    }

    fn target(&self, cx: &Cx<'_>, i: &AddTagsInput, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.id, false))
    }

    fn request_tags(&self, i: &AddTagsInput) -> Vec<(String, String)> {
        tag_pairs(&i.tags)
    }

    async fn run(&self, cx: &Cx<'_>, i: &AddTagsInput, mut state: IamState) -> Result<Reply, IamError> {
        merge_tags(self.0.tags_mut(&mut state, &i.id)?, &i.tags, self.0.quota())?;
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct RemoveTags(pub Tagged);

pub(crate) struct RemoveTagsInput {
    id: String,
    keys: Vec<String>,
}

impl Operation for RemoveTags {
    type Input = RemoveTagsInput;

    fn decode(&self, p: &Params) -> Result<RemoveTagsInput, IamError> {
        let mut r = Reader::new(p);
        let id = self.0.read(&mut r);
        let keys = r.tag_keys();
        r.finish()?;
        Ok(RemoveTagsInput { id, keys })
    }

    fn target(&self, cx: &Cx<'_>, i: &RemoveTagsInput, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.id, false))
    }

    async fn run(&self, cx: &Cx<'_>, i: &RemoveTagsInput, mut state: IamState) -> Result<Reply, IamError> {
        // Keys the entity doesn't have are ignored.
        self.0
            .tags_mut(&mut state, &i.id)?
            .retain(|t| !i.keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct ListTags(pub Tagged);

pub(crate) struct ListTagsInput {
    id: String,
    page: Page,
}

impl Operation for ListTags {
    type Input = ListTagsInput;

    fn decode(&self, p: &Params) -> Result<ListTagsInput, IamError> {
        let mut r = Reader::new(p);
        let id = self.0.read(&mut r);
        let page = r.page();
        r.finish()?;
        Ok(ListTagsInput { id, page })
    }

    fn target(&self, cx: &Cx<'_>, i: &ListTagsInput, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.id, true))
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListTagsInput, state: IamState) -> Result<Reply, IamError> {
        let tags = self.0.tags(&state, &i.id)?;
        let (page, next) = i.page.apply(tags)?;
        let mut x = cx.xml();
        output::tags(&mut x, &page);
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}
