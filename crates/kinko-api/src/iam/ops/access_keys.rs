//! CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey, GetAccessKeyLastUsed.
//!
//! Access keys live in their own store table, not in the IAM state; the secret half is sealed
//! under the root key (bound to the key id) the moment it is made and only ever returned once.

use kinko_core::iam::IamState;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, Principal, PrincipalKind};
use kinko_wire::query::Params;

use super::{KeyOwner, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::{Cx, Operation, Reply, Target};

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
        PrincipalKind::Root | PrincipalKind::AssumedRole { .. } => None,
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

pub(crate) struct CreateAccessKey;

impl Operation for CreateAccessKey {
    type Input = Option<String>;

    fn decode(&self, p: &Params) -> Result<Option<String>, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        r.finish()?;
        Ok(name)
    }

    fn target(&self, cx: &Cx<'_>, name: &Option<String>, state: &IamState) -> Result<Target, IamError> {
        KeyOwner::target(cx, state, name.as_deref())
    }

    async fn run(&self, cx: &Cx<'_>, name: &Option<String>, state: IamState) -> Result<Reply, IamError> {
        let owner = KeyOwner::resolve(cx, &state, name.as_deref())?;
        if keys_of(cx, &owner).await?.len() >= quota::ACCESS_KEYS_PER_USER {
            return Err(IamError::quota("AccessKeysPerUser", quota::ACCESS_KEYS_PER_USER));
        }
        let principal = match &owner {
            KeyOwner::Root => Principal::root(cx.account()),
            KeyOwner::User(name) => {
                let user = state.user(name).ok_or_else(|| IamError::user_not_found(name))?;
                Principal {
                    account_id: cx.account().to_owned(),
                    arn: user.arn.clone(),
                    kind: PrincipalKind::User {
                        name: user.name.clone(),
                        user_id: user.user_id.clone(),
                    },
                }
            }
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
        let mut x = cx.xml();
        x.open("AccessKey");
        if let KeyOwner::User(name) = &owner {
            x.elem("UserName", name);
        }
        x.elem("AccessKeyId", &access_key_id)
            .elem("Status", "Active")
            .elem("SecretAccessKey", &secret)
            .elem("CreateDate", &output::ts(created))
            .close("AccessKey");
        Ok(Reply::Result(x))
    }
}

pub(crate) struct ListAccessKeys;

pub(crate) struct ListAccessKeysInput {
    name: Option<String>,
    page: Page,
}

impl Operation for ListAccessKeys {
    type Input = ListAccessKeysInput;

    fn decode(&self, p: &Params) -> Result<ListAccessKeysInput, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let page = r.page();
        r.finish()?;
        Ok(ListAccessKeysInput { name, page })
    }

    fn target(&self, cx: &Cx<'_>, i: &ListAccessKeysInput, state: &IamState) -> Result<Target, IamError> {
        KeyOwner::target(cx, state, i.name.as_deref())
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListAccessKeysInput, state: IamState) -> Result<Reply, IamError> {
        let owner = KeyOwner::resolve(cx, &state, i.name.as_deref())?;
        let (page, next) = i.page.apply(keys_of(cx, &owner).await?)?;
        let mut x = cx.xml();
        members(&mut x, "AccessKeyMetadata", &page, |x, k| {
            x.opt("UserName", key_user(k))
                .elem("AccessKeyId", &k.access_key_id)
                .elem("Status", status_str(k.status))
                .elem("CreateDate", &output::ts(k.created_date));
        });
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}

pub(crate) struct UpdateAccessKey;

pub(crate) struct UpdateAccessKeyInput {
    name: Option<String>,
    id: String,
    status: AccessKeyStatus,
}

impl Operation for UpdateAccessKey {
    type Input = UpdateAccessKeyInput;

    fn decode(&self, p: &Params) -> Result<UpdateAccessKeyInput, IamError> {
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

    fn target(&self, cx: &Cx<'_>, i: &UpdateAccessKeyInput, state: &IamState) -> Result<Target, IamError> {
        KeyOwner::target(cx, state, i.name.as_deref())
    }

    async fn run(&self, cx: &Cx<'_>, i: &UpdateAccessKeyInput, state: IamState) -> Result<Reply, IamError> {
        let owner = KeyOwner::resolve(cx, &state, i.name.as_deref())?;
        let key = owned_key(cx, &owner, &i.id).await?;
        if !cx
            .services
            .store
            .update_access_key_status(&key.access_key_id, i.status)
            .await?
        {
            return Err(key_not_found(&i.id));
        }
        Ok(Reply::Empty)
    }
}

pub(crate) struct DeleteAccessKey;

pub(crate) struct DeleteAccessKeyInput {
    name: Option<String>,
    id: String,
}

impl Operation for DeleteAccessKey {
    type Input = DeleteAccessKeyInput;

    fn decode(&self, p: &Params) -> Result<DeleteAccessKeyInput, IamError> {
        let mut r = Reader::new(p);
        let name = read_user_name(&mut r);
        let id = r.access_key_id();
        r.finish()?;
        Ok(DeleteAccessKeyInput { name, id })
    }

    fn target(&self, cx: &Cx<'_>, i: &DeleteAccessKeyInput, state: &IamState) -> Result<Target, IamError> {
        KeyOwner::target(cx, state, i.name.as_deref())
    }

    async fn run(&self, cx: &Cx<'_>, i: &DeleteAccessKeyInput, state: IamState) -> Result<Reply, IamError> {
        let owner = KeyOwner::resolve(cx, &state, i.name.as_deref())?;
        let key = owned_key(cx, &owner, &i.id).await?;
        if !cx.services.store.delete_access_key(&key.access_key_id).await? {
            return Err(key_not_found(&i.id));
        }
        Ok(Reply::Empty)
    }
}

pub(crate) struct GetAccessKeyLastUsed;

impl Operation for GetAccessKeyLastUsed {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        let mut r = Reader::new(p);
        let id = r.access_key_id();
        r.finish()?;
        Ok(id)
    }

    fn target(&self, _: &Cx<'_>, _: &String, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Deferred)
    }

    async fn run(&self, cx: &Cx<'_>, id: &String, _: IamState) -> Result<Reply, IamError> {
        let key = cx
            .services
            .store
            .access_key(id)
            .await?
            .filter(|k| k.principal.account_id == cx.account());
        // The resource is the key's user; a key that names nothing is authorized as "*" first, so
        // callers without permission can't tell which keys exist.
        let target = match &key {
            Some(k) => Target::Arn {
                arn: k.principal.arn.clone(),
                account: cx.account().to_owned(),
                tags: vec![],
            },
            None => Target::Any,
        };
        cx.authorize(&target, &[]).await?;
        let key = key.ok_or_else(|| key_not_found(id))?;
        // Use of access keys isn't tracked: AWS answers `N/A` for keys never used.
        let mut x = cx.xml();
        x.opt("UserName", key_user(&key))
            .open("AccessKeyLastUsed")
            .elem("ServiceName", "N/A")
            .elem("Region", "N/A")
            .close("AccessKeyLastUsed");
        Ok(Reply::Result(x))
    }
}
