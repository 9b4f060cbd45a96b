//! CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey, GetAccessKeyLastUsed.
//!
//! Access keys live in their own store table, not in the IAM state; the secret half is sealed
//! under the root key (bound to the key id) the moment it is made and only ever returned once.

use kinko_core::iam::User;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, Principal, PrincipalKind};
use kinko_wire::query::Params;

use super::{Entity, KeyOwner, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::{Found, Iam, Target};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

fn status_str(s: AccessKeyStatus) -> &'static str {
    match s {
        AccessKeyStatus::Active => "Active",
        AccessKeyStatus::Inactive => "Inactive",
    }
}

/// The user name a key belongs to (none for the root user's keys).
fn key_user(k: &AccessKeyRecord) -> Option<&str> {
    match &k.principal.kind {
        PrincipalKind::User { name, .. } => Some(name),
        PrincipalKind::Root
        | PrincipalKind::AssumedRole { .. }
        | PrincipalKind::FederatedUser { .. }
        | PrincipalKind::Anonymous => None,
    }
}

fn owned_by(k: &AccessKeyRecord, owner: &KeyOwner) -> bool {
    match owner {
        KeyOwner::User(name) => key_user(k).is_some_and(|n| n.eq_ignore_ascii_case(name)),
        KeyOwner::Root => k.principal.is_root(),
    }
}

/// The owner's access keys, oldest first.
async fn keys_of(cx: &Cx<'_>, owner: &KeyOwner) -> Result<Vec<AccessKeyRecord>, IamError> {
    let store = &cx.services.store;
    let keys = match owner {
        KeyOwner::User(name) => store.list_access_keys(cx.account(), Some(name)).await?,
        KeyOwner::Root => store.list_access_keys(cx.account(), None).await?,
    };
    Ok(keys.into_iter().filter(|k| owned_by(k, owner)).collect())
}

fn key_not_found(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}

/// The key, if it belongs to `owner` in the caller's account.
async fn owned_key(cx: &Cx<'_>, owner: &KeyOwner, id: &str) -> Result<AccessKeyRecord, IamError> {
    cx.services
        .store
        .access_key(id)
        .await?
        .filter(|k| k.principal.account_id == cx.account() && owned_by(k, owner))
        .ok_or_else(|| key_not_found(id))
}

fn read_user_name(r: &mut Reader<'_>) -> Option<String> {
    r.name("UserName", 128)
}

/// The user (or root) whose keys an action manages: what it is authorized on.
async fn resolve_owner(cx: &Cx<'_>, user_name: Option<&str>) -> Result<Found, IamError> {
    Found::read(cx, |state| KeyOwner::target(cx, state, user_name)).await
}

pub(crate) struct CreateAccessKey;

/// `UserName`, if given.
pub(crate) struct OwnerInput {
    name: Option<String>,
}

impl FromRequest<Iam> for OwnerInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        r.finish()?;
        Ok(OwnerInput { name })
    }
}

impl Operation for CreateAccessKey {
    type Service = Iam;
    const NAME: &'static str = "CreateAccessKey";
    type Input = OwnerInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &OwnerInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a OwnerInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &OwnerInput, found: Found) -> Result<QueryReply, IamError> {
        let state = found.state;
        let owner = KeyOwner::resolve(cx, &state, i.name.as_deref())?;
        if keys_of(cx, &owner).await?.len() >= quota::ACCESS_KEYS_PER_USER {
            return Err(IamError::quota("AccessKeysPerUser", quota::ACCESS_KEYS_PER_USER));
        }
        let principal = match &owner {
            KeyOwner::Root => Principal::root(cx.account()),
            KeyOwner::User(name) => User::get(&state, name)?.principal(cx.account()),
        };
        let access_key_id = output::access_key_id();
        let secret = output::secret_access_key();
        let sealed_secret = cx
            .services
            .keyring
            .root()
            .seal(secret.as_bytes(), access_key_id.as_bytes())
            .map_err(|e| IamError::Internal(format!("sealing an access key: {e}")))?;
        let created = cx.now();
        // A clash of generated ids surfaces as a conflict: the operation is retried with new ones.
        cx.services
            .store
            .put_access_key(AccessKeyRecord {
                access_key_id: access_key_id.clone(),
                principal,
                status: AccessKeyStatus::Active,
                sealed_secret,
                created_date: created,
            })
            .await?;
        let mut x = cx.xml::<Iam>();
        x.open("AccessKey");
        if let KeyOwner::User(name) = &owner {
            x.elem("UserName", name);
        }
        x.elem("AccessKeyId", &access_key_id)
            .elem("Status", "Active")
            .elem("SecretAccessKey", &secret)
            .elem("CreateDate", &output::ts(created))
            .close("AccessKey");
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListAccessKeys;

pub(crate) struct ListAccessKeysInput {
    name: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListAccessKeysInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let page = r.page();
        r.finish()?;
        Ok(ListAccessKeysInput { name, page })
    }
}

impl Operation for ListAccessKeys {
    type Service = Iam;
    const NAME: &'static str = "ListAccessKeys";
    type Input = ListAccessKeysInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListAccessKeysInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListAccessKeysInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListAccessKeysInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = KeyOwner::resolve(cx, &found.state, i.name.as_deref())?;
        let (page, next) = i.page.apply(keys_of(cx, &owner).await?)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "AccessKeyMetadata", &page, |x, k| {
            x.opt("UserName", key_user(k))
                .elem("AccessKeyId", &k.access_key_id)
                .elem("Status", status_str(k.status))
                .elem("CreateDate", &output::ts(k.created_date));
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateAccessKey;

pub(crate) struct UpdateAccessKeyInput {
    name: Option<String>,
    id: String,
    status: AccessKeyStatus,
}

impl FromRequest<Iam> for UpdateAccessKeyInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let id = r.access_key_id();
        let status = r.one_of("Status", &["Active", "Inactive", "Expired"], true);
        r.finish()?;
        let status = match status.as_deref() {
            Some("Active") => AccessKeyStatus::Active,
            Some("Inactive") => AccessKeyStatus::Inactive,
            _ => {
                return Err(IamError::InvalidInput(
                    "The status of an access key can only be set to Active or Inactive.".into(),
                ));
            }
        };
        Ok(UpdateAccessKeyInput { name, id, status })
    }
}

impl Operation for UpdateAccessKey {
    type Service = Iam;
    const NAME: &'static str = "UpdateAccessKey";
    type Input = UpdateAccessKeyInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateAccessKeyInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateAccessKeyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateAccessKeyInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = KeyOwner::resolve(cx, &found.state, i.name.as_deref())?;
        let key = owned_key(cx, &owner, &i.id).await?;
        if !cx
            .services
            .store
            .update_access_key_status(&key.access_key_id, i.status)
            .await?
        {
            return Err(key_not_found(&i.id));
        }
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteAccessKey;

pub(crate) struct DeleteAccessKeyInput {
    name: Option<String>,
    id: String,
}

impl FromRequest<Iam> for DeleteAccessKeyInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let id = r.access_key_id();
        r.finish()?;
        Ok(DeleteAccessKeyInput { name, id })
    }
}

impl Operation for DeleteAccessKey {
    type Service = Iam;
    const NAME: &'static str = "DeleteAccessKey";
    type Input = DeleteAccessKeyInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeleteAccessKeyInput) -> Result<Found, IamError> {
        resolve_owner(cx, i.name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteAccessKeyInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &DeleteAccessKeyInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = KeyOwner::resolve(cx, &found.state, i.name.as_deref())?;
        let key = owned_key(cx, &owner, &i.id).await?;
        if !cx.services.store.delete_access_key(&key.access_key_id).await? {
            return Err(key_not_found(&i.id));
        }
        cx.services.key_usage.forget(&key.access_key_id);
        Ok(QueryReply::Empty)
    }
}

/// GetAccessKeyLastUsed: authorized on the user the key belongs to, found from the key.
pub(crate) struct GetAccessKeyLastUsed;

pub(crate) struct KeyIdInput {
    id: String,
}

impl FromRequest<Iam> for KeyIdInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let id = r.access_key_id();
        r.finish()?;
        Ok(KeyIdInput { id })
    }
}

/// The key, if it is one of the caller's account, and what it is authorized on.
pub(crate) struct KeyFound {
    key: Option<AccessKeyRecord>,
    target: Target,
}

impl Operation for GetAccessKeyLastUsed {
    type Service = Iam;
    const NAME: &'static str = "GetAccessKeyLastUsed";
    type Input = KeyIdInput;
    type Output = QueryReply;
    type Resolved = KeyFound;

    /// The resource is the key's user (or root); a key that names nothing is authorized as `*`,
    /// so callers without permission can't tell which keys exist.
    async fn resolve(cx: &Cx<'_>, i: &KeyIdInput) -> Result<KeyFound, IamError> {
        let key = cx
            .services
            .store
            .access_key(&i.id)
            .await?
            .filter(|k| k.principal.account_id == cx.account());
        let target = match &key {
            None => Target::Any,
            Some(k) => {
                let state = cx.services.store.iam_state(cx.account()).await?;
                match &k.principal.kind {
                    // The user with its tags, if it is still the one the key was made for.
                    PrincipalKind::User { name, user_id }
                        if User::find(&state, name).is_some_and(|u| &u.user_id == user_id) =>
                    {
                        User::target(cx, &state, name)
                    }
                    _ => Target::new_arn(cx, k.principal.arn.clone()),
                }
            }
        };
        Ok(KeyFound { key, target })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a KeyIdInput,
        found: &'a KeyFound,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.target.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &KeyIdInput, found: KeyFound) -> Result<QueryReply, IamError> {
        let key = found.key.ok_or_else(|| key_not_found(&i.id))?;
        // A key never used: `N/A` and no `LastUsedDate`, as AWS answers (`AccessKeyLastUsed`).
        let last = cx.services.key_usage.get(&key.access_key_id);
        let mut x = cx.xml::<Iam>();
        x.opt("UserName", key_user(&key)).open("AccessKeyLastUsed");
        match &last {
            Some(last) => x
                .elem("LastUsedDate", &crate::iam::output::ts(last.date))
                .elem("ServiceName", &last.service)
                .elem("Region", &last.region),
            None => x.elem("ServiceName", "N/A").elem("Region", "N/A"),
        };
        x.close("AccessKeyLastUsed");
        Ok(QueryReply::Result(x))
    }
}
