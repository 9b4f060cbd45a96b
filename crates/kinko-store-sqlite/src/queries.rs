//! The SQL. Every function runs on a connection the caller got from [`crate::conn::Db`]; writes run
//! inside the writer's transaction.

use kinko_core::Timestamp;
use kinko_core::filters::Filter;
use kinko_core::iam::IamState;
use kinko_core::kms::{KmsAlias, KmsKey, WrappedMaterial};
use kinko_core::lambda::{Function, FunctionWrite};
use kinko_core::mfa::MfaDevice;
use kinko_core::organizations::Organization;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, Principal, PrincipalKind};
use kinko_core::secret::Secret;
use kinko_core::stack::Stack;
use kinko_core::store::{
    Account, ChangedKey, Changes, Lease, ListOrder, ListPage, SealedValue, SecretWrite, StoreError,
};
use kinko_core::workload::Attachment;
use kinko_store_sql::{CANDIDATE_LIMIT, Candidates, Dialect, FilterSql};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::conn::backend;

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

fn insert_err(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict
    } else {
        backend(e)
    }
}

// --- the change feed ---

/// Changes kept for readers that are behind; older ones are pruned.
const CHANGES_KEPT: i64 = 50_000;
/// Most changes one `changes_since` answer lists; more are answered `Truncated`.
const CHANGES_LISTED: usize = 10_000;

const META: &str = "meta";
const ACCOUNT: &str = "account";
const ACCESS_KEY: &str = "access_key";
const IAM: &str = "iam";
const ORGANIZATION: &str = "organization";
const SECRET: &str = "secret";
const KMS_KEY: &str = "kms_key";
const KMS_ALIAS: &str = "kms_alias";
pub(crate) const ROOT_SEALED: &str = "root_sealed";
const ATTACHMENT: &str = "attachment";
const FUNCTION: &str = "function";
const MFA_DEVICE: &str = "mfa_device";

/// Appends a changed key to the change feed, in the writer's transaction (so only committed
/// writes are in the feed, in commit order).
pub(crate) fn changed(c: &Connection, kind: &str, key: &str) -> Result<(), StoreError> {
    c.prepare_cached("INSERT INTO changes (kind, key) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![kind, key]))
        .map_err(backend)?;
    Ok(())
}

fn alias_changed(c: &Connection, account: &str, region: &str, alias: &str) -> Result<(), StoreError> {
    let key = serde_json::to_string(&[account, region, alias]).map_err(backend)?;
    changed(c, KMS_ALIAS, &key)
}

fn decode_change(kind: &str, key: String) -> Option<ChangedKey> {
    Some(match kind {
        META => ChangedKey::Meta(key),
        ACCOUNT => ChangedKey::Account(key),
        ACCESS_KEY => ChangedKey::AccessKey(key),
        IAM => ChangedKey::IamState(key),
        ORGANIZATION => ChangedKey::Organization,
        SECRET => ChangedKey::Secret(key),
        KMS_KEY => ChangedKey::KmsKey(key),
        KMS_ALIAS => {
            let [account_id, region, alias_name]: [String; 3] = serde_json::from_str(&key).ok()?;
            ChangedKey::KmsAlias {
                account_id,
                region,
                alias_name,
            }
        }
        ROOT_SEALED => ChangedKey::RootSealed,
        ATTACHMENT => ChangedKey::Attachment(key),
        FUNCTION => ChangedKey::Function(key),
        MFA_DEVICE => ChangedKey::MfaDevice(key),
        _ => return None,
    })
}

/// The changes after `since`, read in one snapshot.
pub fn changes_since(c: &Connection, since: u64) -> Result<(u64, Changes), StoreError> {
    let tx = c.unchecked_transaction().map_err(backend)?;
    let (pruned, last): (i64, Option<i64>) = tx
        .prepare_cached("SELECT pruned_through, (SELECT max(seq) FROM changes) FROM change_feed WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(backend)?;
    let last = u64::try_from(last.unwrap_or(pruned).max(pruned)).unwrap_or(0);
    let since_row = i64::try_from(since).unwrap_or(i64::MAX);
    // Behind the pruned changes, or ahead of the feed (a database restored from a copy): the
    // reader can't know what changed.
    if since_row < pruned || since > last {
        return Ok((last, Changes::Truncated));
    }
    let rows: Vec<(String, String)> = {
        let mut stmt = tx
            .prepare_cached("SELECT kind, key FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(backend)?;
        let limit = i64::try_from(CHANGES_LISTED + 1).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![since_row, limit], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    tx.finish().map_err(backend)?;
    if rows.len() > CHANGES_LISTED {
        return Ok((last, Changes::Truncated));
    }
    let mut keys = Vec::with_capacity(rows.len());
    for (kind, key) in rows {
        match decode_change(&kind, key) {
            Some(k) => keys.push(k),
            // Written by a newer version of kinko: consider everything changed.
            None => return Ok((last, Changes::Truncated)),
        }
    }
    Ok((last, Changes::Keys(keys)))
}

/// Drops all but the last [`CHANGES_KEPT`] changes; run in each write transaction.
pub fn prune_changes(c: &Connection) -> Result<(), StoreError> {
    let advanced = c
        .prepare_cached(
            "UPDATE change_feed SET pruned_through = (SELECT max(seq) FROM changes) - ?1
             WHERE id = 1 AND (SELECT max(seq) FROM changes) - ?1 > pruned_through",
        )
        .and_then(|mut s| s.execute([CHANGES_KEPT]))
        .map_err(backend)?;
    if advanced == 1 {
        c.prepare_cached(
            "DELETE FROM changes WHERE seq <= (SELECT pruned_through FROM change_feed WHERE id = 1)",
        )
        .and_then(|mut s| s.execute([]))
        .map_err(backend)?;
    }
    Ok(())
}

// --- the aggregates ---

pub fn meta_get(c: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    c.prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(backend)
}

pub fn meta_put_if_absent(c: &Connection, key: &str, value: &[u8]) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            params![key, value],
        )
        .map_err(backend)?;
    if n == 1 {
        changed(c, META, key)?;
    }
    Ok(n == 1)
}

/// Takes or extends a lease (see `Store::acquire_lease`): the insert, or the update of a row whose
/// holder is the caller or has run out of time.
pub fn acquire_lease(
    c: &Connection,
    name: &str,
    holder: &str,
    now: Timestamp,
    expires: Timestamp,
) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "INSERT INTO leases (name, holder, expires_ms) VALUES (?1, ?2, ?4)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
             WHERE leases.holder = excluded.holder OR leases.expires_ms <= ?3",
        )
        .map_err(backend)?
        .execute(params![name, holder, now.millis(), expires.millis()])
        .map_err(backend)?;
    Ok(n == 1)
}

pub fn release_lease(c: &Connection, name: &str, holder: &str) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
            params![name, holder],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

pub fn lease(c: &Connection, name: &str) -> Result<Option<Lease>, StoreError> {
    c.prepare_cached("SELECT holder, expires_ms FROM leases WHERE name = ?1")
        .map_err(backend)?
        .query_row(params![name], |r| {
            Ok(Lease {
                name: name.to_owned(),
                holder: r.get(0)?,
                expires: Timestamp(r.get(1)?),
            })
        })
        .optional()
        .map_err(backend)
}

/// The meta row the readiness probe rewrites.
const PROBE_KEY: &str = "readiness-probe";

/// Rewrites the readiness probe's row with `bytes` bytes (not in the change feed: nothing reads it).
pub fn probe_write(c: &Connection, bytes: usize) -> Result<(), StoreError> {
    let filler = vec![0x5a_u8; bytes];
    c.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut s| s.execute(params![PROBE_KEY, filler]))
    .map_err(backend)?;
    Ok(())
}

pub fn account(c: &Connection, id: &str) -> Result<Option<Account>, StoreError> {
    c.prepare_cached("SELECT account_id, name, email, created_ms FROM accounts WHERE account_id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok(Account {
                    account_id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    created_date: Timestamp(r.get(3)?),
                })
            })
            .optional()
        })
        .map_err(backend)
}

pub fn put_account(c: &Connection, a: &Account) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO accounts (account_id, name, email, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![a.account_id, a.name, a.email, a.created_date.millis()],
    )
    .map_err(insert_err)?;
    changed(c, ACCOUNT, &a.account_id)
}

fn status_str(s: AccessKeyStatus) -> &'static str {
    match s {
        AccessKeyStatus::Active => "Active",
        AccessKeyStatus::Inactive => "Inactive",
    }
}

pub fn access_key(c: &Connection, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT access_key_id, principal, status, sealed_secret, created_ms FROM access_keys WHERE access_key_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((access_key_id, principal, status, sealed_secret, created)) = row else {
        return Ok(None);
    };
    let principal: Principal = serde_json::from_str(&principal).map_err(backend)?;
    let status = if status == "Active" {
        AccessKeyStatus::Active
    } else {
        AccessKeyStatus::Inactive
    };
    Ok(Some(AccessKeyRecord {
        access_key_id,
        principal,
        status,
        sealed_secret,
        created_date: Timestamp(created),
    }))
}

fn user_name(p: &Principal) -> Option<String> {
    match &p.kind {
        PrincipalKind::User { name, .. } => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

pub fn put_access_key(c: &Connection, k: &AccessKeyRecord) -> Result<(), StoreError> {
    let principal = serde_json::to_string(&k.principal).map_err(backend)?;
    c.execute(
        "INSERT INTO access_keys (access_key_id, account_id, principal, status, sealed_secret, created_ms, user_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            k.access_key_id,
            k.principal.account_id,
            principal,
            status_str(k.status),
            k.sealed_secret,
            k.created_date.millis(),
            user_name(&k.principal)
        ],
    )
    .map_err(insert_err)?;
    changed(c, ACCESS_KEY, &k.access_key_id)
}

pub fn list_access_keys(
    c: &Connection,
    account: &str,
    user: Option<&str>,
) -> Result<Vec<AccessKeyRecord>, StoreError> {
    let ids: Vec<String> = {
        let mut stmt = c
            .prepare_cached(
                "SELECT access_key_id FROM access_keys WHERE account_id = ?1 AND (?2 IS NULL OR user_name = ?2)
                 ORDER BY created_ms, access_key_id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![account, user.map(str::to_ascii_lowercase)], |r| r.get(0))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(k) = access_key(c, &id)? {
            out.push(k);
        }
    }
    Ok(out)
}

pub fn update_access_key_status(
    c: &Connection,
    id: &str,
    status: AccessKeyStatus,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE access_keys SET status = ?1 WHERE access_key_id = ?2",
            params![status_str(status), id],
        )
        .map_err(backend)?;
    if n == 1 {
        changed(c, ACCESS_KEY, id)?;
    }
    Ok(n == 1)
}

pub fn delete_access_key(c: &Connection, id: &str) -> Result<bool, StoreError> {
    let n = c
        .execute("DELETE FROM access_keys WHERE access_key_id = ?1", [id])
        .map_err(backend)?;
    if n == 1 {
        changed(c, ACCESS_KEY, id)?;
    }
    Ok(n == 1)
}

// --- virtual MFA devices ---

/// A device row: the JSON document holds all but the sealed seed and the revision, which have
/// their own columns (the seed is re-wrapped on its own by a root key rotation).
fn mfa_device_row(r: &Row<'_>) -> rusqlite::Result<(Vec<u8>, i64, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn mfa_device_of((sealed_seed, revision, doc): (Vec<u8>, i64, String)) -> Result<MfaDevice, StoreError> {
    let mut d: MfaDevice = serde_json::from_str(&doc).map_err(backend)?;
    d.sealed_seed = sealed_seed;
    d.revision = revision;
    Ok(d)
}

fn mfa_document(d: &MfaDevice) -> Result<String, StoreError> {
    let mut doc = d.clone();
    doc.sealed_seed = Vec::new();
    doc.revision = 0;
    serde_json::to_string(&doc).map_err(backend)
}

pub fn mfa_device(c: &Connection, serial_number: &str) -> Result<Option<MfaDevice>, StoreError> {
    let row = c
        .prepare_cached("SELECT sealed_seed, revision, device FROM mfa_devices WHERE serial_number = ?1")
        .and_then(|mut s| s.query_row([serial_number], mfa_device_row).optional())
        .map_err(backend)?;
    row.map(mfa_device_of).transpose()
}

pub fn list_mfa_devices(c: &Connection, account: &str) -> Result<Vec<MfaDevice>, StoreError> {
    let rows: Vec<(Vec<u8>, i64, String)> = {
        let mut stmt = c
            .prepare_cached(
                "SELECT sealed_seed, revision, device FROM mfa_devices WHERE account_id = ?1 ORDER BY serial_number",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([account], mfa_device_row).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    rows.into_iter().map(mfa_device_of).collect()
}

pub fn create_mfa_device(c: &Connection, d: &MfaDevice) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO mfa_devices (serial_number, account_id, sealed_seed, revision, device)
         VALUES (?1, ?2, ?3, 1, ?4)",
        params![d.serial_number, d.account_id, d.sealed_seed, mfa_document(d)?],
    )
    .map_err(insert_err)?;
    changed(c, MFA_DEVICE, &d.serial_number)
}

pub fn update_mfa_device(c: &Connection, d: &MfaDevice) -> Result<(), StoreError> {
    let n = c
        .execute(
            "UPDATE mfa_devices SET device = ?1, revision = revision + 1
             WHERE serial_number = ?2 AND revision = ?3",
            params![mfa_document(d)?, d.serial_number, d.revision],
        )
        .map_err(backend)?;
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    changed(c, MFA_DEVICE, &d.serial_number)
}

pub fn delete_mfa_device(c: &Connection, serial_number: &str, revision: i64) -> Result<(), StoreError> {
    let n = c
        .execute(
            "DELETE FROM mfa_devices WHERE serial_number = ?1 AND revision = ?2",
            params![serial_number, revision],
        )
        .map_err(backend)?;
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    changed(c, MFA_DEVICE, serial_number)
}

pub fn list_accounts(c: &Connection) -> Result<Vec<Account>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT account_id, name, email, created_ms FROM accounts ORDER BY created_ms, account_id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Account {
                account_id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                created_date: Timestamp(r.get(3)?),
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub fn iam_state(c: &Connection, account: &str) -> Result<IamState, StoreError> {
    let row: Option<(String, i64)> = c
        .prepare_cached("SELECT doc, revision FROM iam_states WHERE account_id = ?1")
        .and_then(|mut s| s.query_row([account], secret_from_row).optional())
        .map_err(backend)?;
    match row {
        None => Ok(IamState::new(account)),
        Some((doc, revision)) => {
            let mut state: IamState = serde_json::from_str(&doc).map_err(backend)?;
            state.revision = revision;
            Ok(state)
        }
    }
}

pub fn iam_revision(c: &Connection, account: &str) -> Result<i64, StoreError> {
    c.prepare_cached("SELECT revision FROM iam_states WHERE account_id = ?1")
        .and_then(|mut s| s.query_row([account], |r| r.get(0)).optional())
        .map_err(backend)
        .map(Option::unwrap_or_default)
}

pub fn write_iam_state(c: &Connection, state: &IamState) -> Result<(), StoreError> {
    let doc = serde_json::to_string(state).map_err(backend)?;
    let n = if state.revision == 0 {
        c.execute(
            "INSERT INTO iam_states (account_id, revision, doc) VALUES (?1, 1, ?2)",
            params![state.account_id, doc],
        )
        .map_err(insert_err)?
    } else {
        c.execute(
            "UPDATE iam_states SET doc = ?1, revision = revision + 1 WHERE account_id = ?2 AND revision = ?3",
            params![doc, state.account_id, state.revision],
        )
        .map_err(backend)?
    };
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    c.execute(
        "DELETE FROM account_aliases WHERE account_id = ?1",
        params![state.account_id],
    )
    .map_err(backend)?;
    if let Some(alias) = &state.account_alias {
        c.execute(
            "INSERT INTO account_aliases (alias, account_id) VALUES (?1, ?2)",
            params![alias, state.account_id],
        )
        .map_err(insert_err)?;
    }
    changed(c, IAM, &state.account_id)
}

pub fn account_by_alias(c: &Connection, alias: &str) -> Result<Option<String>, StoreError> {
    c.prepare_cached("SELECT account_id FROM account_aliases WHERE alias = ?1")
        .and_then(|mut s| s.query_row([alias], |r| r.get(0)).optional())
        .map_err(backend)
}

pub fn organization(c: &Connection) -> Result<Option<Organization>, StoreError> {
    let row: Option<(String, i64)> = c
        .prepare_cached("SELECT doc, revision FROM organization WHERE id = 1")
        .and_then(|mut s| s.query_row([], secret_from_row).optional())
        .map_err(backend)?;
    row.map(|(doc, revision)| {
        let mut org: Organization = serde_json::from_str(&doc).map_err(backend)?;
        org.revision = revision;
        Ok(org)
    })
    .transpose()
}

pub fn write_organization(c: &Connection, org: &Organization) -> Result<(), StoreError> {
    let doc = serde_json::to_string(org).map_err(backend)?;
    let n = if org.revision == 0 {
        c.execute(
            "INSERT INTO organization (id, revision, doc) VALUES (1, 1, ?1)",
            [doc],
        )
        .map_err(insert_err)?
    } else {
        c.execute(
            "UPDATE organization SET doc = ?1, revision = revision + 1 WHERE id = 1 AND revision = ?2",
            params![doc, org.revision],
        )
        .map_err(backend)?
    };
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    changed(c, ORGANIZATION, "")
}

fn secret_from_row(r: &Row<'_>) -> rusqlite::Result<(String, i64)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn decode_secret((doc, revision): (String, i64)) -> Result<Secret, StoreError> {
    let mut s: Secret = serde_json::from_str(&doc).map_err(backend)?;
    s.revision = revision;
    Ok(s)
}

pub fn secret_by_name(
    c: &Connection,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<Secret>, StoreError> {
    c.prepare_cached("SELECT doc, revision FROM secrets WHERE account_id = ?1 AND region = ?2 AND name = ?3")
        .and_then(|mut s| {
            s.query_row(params![account, region, name], secret_from_row)
                .optional()
        })
        .map_err(backend)?
        .map(decode_secret)
        .transpose()
}

pub fn secret_by_arn(c: &Connection, arn: &str) -> Result<Option<Secret>, StoreError> {
    c.prepare_cached("SELECT doc, revision FROM secrets WHERE arn = ?1")
        .and_then(|mut s| s.query_row([arn], secret_from_row).optional())
        .map_err(backend)?
        .map(decode_secret)
        .transpose()
}

pub fn list_secrets(c: &Connection, account: &str, region: &str) -> Result<Vec<Secret>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT doc, revision FROM secrets WHERE account_id = ?1 AND region = ?2 ORDER BY created_ms, id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![account, region], secret_from_row)
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(decode_secret)).collect()
}

pub fn list_secrets_page(
    c: &Connection,
    account: &str,
    region: &str,
    filters: &[Filter],
    page: &ListPage,
) -> Result<(Vec<Secret>, bool), StoreError> {
    use rusqlite::types::Value;
    let order = match page.order {
        ListOrder::CreatedAsc => "s.created_ms, s.id",
        ListOrder::CreatedDesc => "s.created_ms DESC, s.id DESC",
        ListOrder::NameAsc => "s.name",
        ListOrder::NameDesc => "s.name DESC",
    };
    // The key of the secret the page starts after, while it is stored.
    let after: Option<(i64, i64, String)> = match &page.after {
        Some(arn) => c
            .prepare_cached(
                "SELECT created_ms, id, name FROM secrets WHERE arn = ?1 AND account_id = ?2 AND region = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![arn, account, region], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
            })
            .map_err(backend)?,
        None => None,
    };
    let start = start_from(c, account, region, filters)?;
    let limit = i64::try_from(page.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let offset = if after.is_some() {
        0
    } else {
        i64::try_from(page.offset).unwrap_or(i64::MAX)
    };
    let mut params: Vec<Value> = vec![
        account.to_owned().into(),
        region.to_owned().into(),
        i64::from(page.include_deleted).into(),
        limit.into(),
        offset.into(),
    ];
    let seek = match after {
        None => String::new(),
        Some((created, id, name)) => match page.order {
            ListOrder::CreatedAsc | ListOrder::CreatedDesc => {
                params.extend([Value::from(created), Value::from(id)]);
                let (op, strict) = if page.order == ListOrder::CreatedAsc {
                    (">=", ">")
                } else {
                    ("<=", "<")
                };
                format!(" AND s.created_ms {op} ?6 AND (s.created_ms {strict} ?6 OR s.id {strict} ?7)")
            }
            ListOrder::NameAsc | ListOrder::NameDesc => {
                params.push(Value::from(name));
                let op = if page.order == ListOrder::NameAsc {
                    ">"
                } else {
                    "<"
                };
                format!(" AND s.name {op} ?6")
            }
        },
    };
    let by_created = matches!(page.order, ListOrder::CreatedAsc | ListOrder::CreatedDesc);
    // Walking the creation order's index, a name range must not pull the listing onto the
    // names' index (which would order every secret it holds).
    let f = FilterSql::with_name_index(
        Dialect::Sqlite,
        filters,
        params.len(),
        start.is_some() || !by_created,
    );
    let first_candidate_param = params.len() + f.params.len();
    params.extend(f.params.into_iter().map(Value::from));
    let sql = match start {
        // Only the secrets of the smallest index range: read by id, checked and ordered (`+`
        // keeps the account's columns from offering another index).
        Some(source) => {
            let (from, from_params) = Candidates::new(Dialect::Sqlite, filters, first_candidate_param)
                .sources
                .swap_remove(source);
            params.extend(from_params.into_iter().map(Value::from));
            format!(
                "SELECT s.doc, s.revision FROM secrets s WHERE s.id IN ({from}) AND +s.account_id = ?1
                 AND +s.region = ?2 AND (?3 OR s.deletion_ms IS NULL){seek}{} ORDER BY {order}
                 LIMIT ?4 OFFSET ?5",
                f.sql
            )
        }
        None => format!(
            "SELECT s.doc, s.revision FROM secrets s WHERE s.account_id = ?1 AND s.region = ?2
             AND (?3 OR s.deletion_ms IS NULL){seek}{} ORDER BY {order} LIMIT ?4 OFFSET ?5",
            f.sql
        ),
    };
    let read = |stmt: &mut rusqlite::Statement<'_>| -> Result<Vec<Secret>, StoreError> {
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), secret_from_row)
            .map_err(backend)?;
        rows.map(|r| r.map_err(backend).and_then(decode_secret)).collect()
    };
    // A filtered listing's SQL is as varied as its filters: not worth a place in the cache.
    let mut out = if filters.is_empty() {
        read(&mut *c.prepare_cached(&sql).map_err(backend)?)?
    } else {
        read(&mut c.prepare(&sql).map_err(backend)?)?
    };
    let more = out.len() > page.limit;
    out.truncate(page.limit);
    Ok((out, more))
}

/// Which of the filters' index ranges ([`Candidates`]) a listing starts from: the one holding
/// the fewest secrets, if at most [`CANDIDATE_LIMIT`]; `None` to walk the order's index.
fn start_from(
    c: &Connection,
    account: &str,
    region: &str,
    filters: &[Filter],
) -> Result<Option<usize>, StoreError> {
    use rusqlite::types::Value;
    let mut best: Option<(usize, usize)> = None;
    for (n, (sql, source_params)) in Candidates::new(Dialect::Sqlite, filters, 2)
        .sources
        .into_iter()
        .enumerate()
    {
        let mut params: Vec<Value> = vec![account.to_owned().into(), region.to_owned().into()];
        params.extend(source_params.into_iter().map(Value::from));
        let count: i64 = c
            .prepare(&Candidates::count_sql(Dialect::Sqlite, &sql, CANDIDATE_LIMIT))
            .and_then(|mut stmt| stmt.query_row(rusqlite::params_from_iter(params), |r| r.get(0)))
            .map_err(backend)?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count <= CANDIDATE_LIMIT && best.is_none_or(|(_, fewest)| count < fewest) {
            best = Some((n, count));
        }
    }
    Ok(best.map(|(n, _)| n))
}

/// Replaces a secret's searchable terms with those of `secret`; leaves them when they are the
/// same (most updates: a new value, a label moved, an access date), so such writes add no index
/// churn.
fn write_secret_terms(c: &Connection, secret_id: i64, secret: &Secret, new: bool) -> Result<(), StoreError> {
    let mut terms: Vec<(String, i64, String)> = secret
        .filter_terms()
        .into_iter()
        .map(|t| (t.kind.code().to_owned(), t.attribute, t.text))
        .collect();
    terms.sort_unstable();
    terms.dedup();
    // A new secret has no terms yet.
    if !new {
        let mut kept: Vec<(String, i64, String)> = c
            .prepare_cached("SELECT kind, attribute, term FROM secret_terms WHERE secret_id = ?1")
            .and_then(|mut s| {
                s.query_map([secret_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(backend)?;
        kept.sort_unstable();
        if kept == terms {
            return Ok(());
        }
        c.prepare_cached("DELETE FROM secret_terms WHERE secret_id = ?1")
            .and_then(|mut s| s.execute([secret_id]))
            .map_err(backend)?;
    }
    let mut stmt = c
        .prepare_cached("INSERT INTO secret_terms (secret_id, kind, attribute, term) VALUES (?1, ?2, ?3, ?4)")
        .map_err(backend)?;
    for (kind, attribute, text) in terms {
        stmt.execute(params![secret_id, kind, attribute, text])
            .map_err(backend)?;
    }
    Ok(())
}

/// Writes the terms of every secret (the migration that adds `secret_terms`).
pub(crate) fn write_all_secret_terms(c: &Connection) -> Result<(), StoreError> {
    let mut stmt = c
        .prepare("SELECT id, doc, revision FROM secrets")
        .map_err(backend)?;
    let rows: Vec<(i64, (String, i64))> = stmt
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    for (id, row) in rows {
        write_secret_terms(c, id, &decode_secret(row)?, true)?;
    }
    Ok(())
}

pub fn sealed_value(c: &Connection, arn: &str, version_id: &str) -> Result<Option<SealedValue>, StoreError> {
    c.prepare_cached(
        "SELECT v.encrypted_data_key, v.ciphertext FROM secret_values v JOIN secrets s ON s.id = v.secret_id
         WHERE s.arn = ?1 AND v.version_id = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![arn, version_id], |r| {
            Ok(SealedValue {
                encrypted_data_key: r.get(0)?,
                ciphertext: r.get(1)?,
            })
        })
        .optional()
    })
    .map_err(backend)
}

fn insert_values(c: &Connection, secret_id: i64, values: &[(String, SealedValue)]) -> Result<(), StoreError> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO secret_values (secret_id, version_id, encrypted_data_key, ciphertext) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (secret_id, version_id)
             DO UPDATE SET encrypted_data_key = excluded.encrypted_data_key, ciphertext = excluded.ciphertext",
        )
        .map_err(backend)?;
    for (version, v) in values {
        stmt.execute(params![secret_id, version, v.encrypted_data_key, v.ciphertext])
            .map_err(insert_err)?;
    }
    Ok(())
}

pub fn write_secret(c: &Connection, w: &SecretWrite) -> Result<(), StoreError> {
    match w {
        SecretWrite::Create { secret, values } => {
            let doc = serde_json::to_string(secret).map_err(backend)?;
            c.prepare_cached(
                "INSERT INTO secrets (arn, account_id, region, name, created_ms, deletion_ms, revision, doc, rotation_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    secret.arn,
                    secret.account_id,
                    secret.region,
                    secret.name,
                    secret.created_date.millis(),
                    secret.deletion_date.map(Timestamp::millis),
                    doc,
                    secret.rotation_due_date().map(Timestamp::millis)
                ])
            })
            .map_err(insert_err)?;
            let id = c.last_insert_rowid();
            insert_values(c, id, values)?;
            write_secret_terms(c, id, secret, true)?;
            changed(c, SECRET, &secret.arn)
        }
        SecretWrite::Update {
            secret,
            new_values,
            removed_versions,
        } => {
            let doc = serde_json::to_string(secret).map_err(backend)?;
            let id: Option<i64> = c
                .prepare_cached(
                    "UPDATE secrets SET doc = ?1, deletion_ms = ?2, rotation_ms = ?5, revision = revision + 1
                     WHERE arn = ?3 AND revision = ?4 RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            doc,
                            secret.deletion_date.map(Timestamp::millis),
                            secret.arn,
                            secret.revision,
                            secret.rotation_due_date().map(Timestamp::millis)
                        ],
                        |r| r.get(0),
                    )
                    .optional()
                })
                .map_err(backend)?;
            let Some(id) = id else {
                return Err(StoreError::Conflict);
            };
            let mut del = c
                .prepare_cached("DELETE FROM secret_values WHERE secret_id = ?1 AND version_id = ?2")
                .map_err(backend)?;
            for v in removed_versions {
                del.execute(params![id, v]).map_err(backend)?;
            }
            insert_values(c, id, new_values)?;
            write_secret_terms(c, id, secret, false)?;
            changed(c, SECRET, &secret.arn)
        }
        SecretWrite::Delete { arn, revision } => {
            let id: Option<i64> = c
                .prepare_cached("DELETE FROM secrets WHERE arn = ?1 AND revision = ?2 RETURNING id")
                .and_then(|mut s| s.query_row(params![arn, revision], |r| r.get(0)).optional())
                .map_err(backend)?;
            let Some(id) = id else {
                return Err(StoreError::Conflict);
            };
            c.prepare_cached("DELETE FROM secret_values WHERE secret_id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(backend)?;
            c.prepare_cached("DELETE FROM secret_terms WHERE secret_id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(backend)?;
            changed(c, SECRET, arn)
        }
    }
}

pub fn secrets_due_for_deletion(
    c: &Connection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<Secret>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT doc, revision FROM secrets WHERE deletion_ms IS NOT NULL AND deletion_ms <= ?1
             ORDER BY deletion_ms LIMIT ?2",
        )
        .map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![now.millis(), limit], secret_from_row)
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(decode_secret)).collect()
}

pub fn secrets_due_for_rotation(
    c: &Connection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<Secret>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT doc, revision FROM secrets WHERE rotation_ms IS NOT NULL AND rotation_ms <= ?1
             ORDER BY rotation_ms LIMIT ?2",
        )
        .map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![now.millis(), limit], secret_from_row)
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(decode_secret)).collect()
}

pub fn kms_key(c: &Connection, arn: &str) -> Result<Option<KmsKey>, StoreError> {
    let row: Option<(String, i64)> = c
        .prepare_cached("SELECT doc, revision FROM kms_keys WHERE arn = ?1")
        .and_then(|mut s| s.query_row([arn], secret_from_row).optional())
        .map_err(backend)?;
    row.map(|(doc, revision)| {
        let mut k: KmsKey = serde_json::from_str(&doc).map_err(backend)?;
        k.revision = revision;
        Ok(k)
    })
    .transpose()
}

pub fn kms_alias_target(
    c: &Connection,
    account: &str,
    region: &str,
    alias: &str,
) -> Result<Option<String>, StoreError> {
    c.prepare_cached(
        "SELECT target_arn FROM kms_aliases WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3",
    )
    .and_then(|mut s| {
        s.query_row(params![account, region, alias], |r| r.get(0))
            .optional()
    })
    .map_err(backend)
}

pub fn create_kms_key(
    c: &Connection,
    key: &KmsKey,
    material: &WrappedMaterial,
    alias: Option<&str>,
) -> Result<(), StoreError> {
    let doc = serde_json::to_string(key).map_err(backend)?;
    c.execute(
        "INSERT INTO kms_keys
             (arn, account_id, region, key_id, revision, doc, created_ms, deletion_ms, rotation_ms)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8)",
        params![
            key.arn,
            key.account_id,
            key.region,
            key.key_id,
            doc,
            key.creation_date.millis(),
            key.deletion_date.map(Timestamp::millis),
            key.next_rotation_date().map(Timestamp::millis)
        ],
    )
    .map_err(insert_err)?;
    c.execute(
        "INSERT INTO kms_materials (key_arn, version, wrapped) VALUES (?1, ?2, ?3)",
        params![material.key_arn, material.version, material.wrapped],
    )
    .map_err(insert_err)?;
    if let Some(alias) = alias {
        c.execute(
            "INSERT INTO kms_aliases (account_id, region, alias_name, target_arn, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![
                key.account_id,
                key.region,
                alias,
                key.arn,
                key.creation_date.millis()
            ],
        )
        .map_err(insert_err)?;
        alias_changed(c, &key.account_id, &key.region, alias)?;
    }
    changed(c, KMS_KEY, &key.arn)
}

pub fn kms_material(
    c: &Connection,
    key_arn: &str,
    version: u32,
) -> Result<Option<WrappedMaterial>, StoreError> {
    c.prepare_cached("SELECT wrapped FROM kms_materials WHERE key_arn = ?1 AND version = ?2")
        .and_then(|mut s| {
            s.query_row(params![key_arn, version], |r| r.get::<_, Vec<u8>>(0))
                .optional()
        })
        .map_err(backend)
        .map(|w| {
            w.map(|wrapped| WrappedMaterial {
                key_arn: key_arn.to_owned(),
                version,
                wrapped,
            })
        })
}

pub fn all_kms_materials(c: &Connection) -> Result<Vec<WrappedMaterial>, StoreError> {
    let mut stmt = c
        .prepare_cached("SELECT key_arn, version, wrapped FROM kms_materials ORDER BY key_arn, version")
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(WrappedMaterial {
                key_arn: r.get(0)?,
                version: r.get(1)?,
                wrapped: r.get(2)?,
            })
        })
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend)).collect()
}

fn decode_kms_key((doc, revision): (String, i64)) -> Result<KmsKey, StoreError> {
    let mut k: KmsKey = serde_json::from_str(&doc).map_err(backend)?;
    k.revision = revision;
    Ok(k)
}

pub fn update_kms_key(c: &Connection, key: &KmsKey) -> Result<(), StoreError> {
    let doc = serde_json::to_string(key).map_err(backend)?;
    let n = c
        .execute(
            "UPDATE kms_keys SET doc = ?1, deletion_ms = ?2, rotation_ms = ?3, revision = revision + 1
             WHERE arn = ?4 AND revision = ?5",
            params![
                doc,
                key.deletion_date.map(Timestamp::millis),
                key.next_rotation_date().map(Timestamp::millis),
                key.arn,
                key.revision
            ],
        )
        .map_err(backend)?;
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    changed(c, KMS_KEY, &key.arn)
}

pub fn add_kms_material(c: &Connection, key: &KmsKey, material: &WrappedMaterial) -> Result<(), StoreError> {
    update_kms_key(c, key)?;
    c.execute(
        "INSERT INTO kms_materials (key_arn, version, wrapped) VALUES (?1, ?2, ?3)",
        params![material.key_arn, material.version, material.wrapped],
    )
    .map_err(insert_err)?;
    Ok(())
}

pub fn list_kms_keys(c: &Connection, account: &str, region: &str) -> Result<Vec<KmsKey>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT doc, revision FROM kms_keys WHERE account_id = ?1 AND region = ?2 ORDER BY created_ms, key_id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![account, region], secret_from_row)
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(decode_kms_key))
        .collect()
}

pub fn delete_kms_key(c: &Connection, arn: &str, revision: i64) -> Result<(), StoreError> {
    let n = c
        .execute(
            "DELETE FROM kms_keys WHERE arn = ?1 AND revision = ?2",
            params![arn, revision],
        )
        .map_err(backend)?;
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    let aliases: Vec<(String, String, String)> = {
        let mut stmt = c
            .prepare_cached(
                "DELETE FROM kms_aliases WHERE target_arn = ?1 RETURNING account_id, region, alias_name",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([arn], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    for (account, region, alias) in &aliases {
        alias_changed(c, account, region, alias)?;
    }
    c.execute("DELETE FROM kms_materials WHERE key_arn = ?1", [arn])
        .map_err(backend)?;
    changed(c, KMS_KEY, arn)
}

pub fn kms_keys_due_for_deletion(
    c: &Connection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<KmsKey>, StoreError> {
    kms_keys_due(
        c,
        "SELECT doc, revision FROM kms_keys WHERE deletion_ms IS NOT NULL AND deletion_ms <= ?1
         ORDER BY deletion_ms LIMIT ?2",
        now,
        limit,
    )
}

pub fn kms_keys_due_for_rotation(
    c: &Connection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<KmsKey>, StoreError> {
    kms_keys_due(
        c,
        "SELECT doc, revision FROM kms_keys WHERE rotation_ms IS NOT NULL AND rotation_ms <= ?1
         ORDER BY rotation_ms LIMIT ?2",
        now,
        limit,
    )
}

/// Keys a query selects by a due time (`?1`, now) with a `?2` limit, soonest first.
fn kms_keys_due(c: &Connection, sql: &str, now: Timestamp, limit: usize) -> Result<Vec<KmsKey>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![now.millis(), limit], secret_from_row)
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(decode_kms_key))
        .collect()
}

pub fn list_kms_aliases(c: &Connection, account: &str, region: &str) -> Result<Vec<KmsAlias>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT alias_name, target_arn, created_ms, updated_ms FROM kms_aliases
             WHERE account_id = ?1 AND region = ?2 ORDER BY alias_name",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![account, region], |r| {
            Ok(KmsAlias {
                account_id: account.to_owned(),
                region: region.to_owned(),
                alias_name: r.get(0)?,
                target_arn: r.get(1)?,
                creation_date: Timestamp(r.get(2)?),
                last_updated_date: Timestamp(r.get(3)?),
            })
        })
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend)).collect()
}

pub fn create_kms_alias(c: &Connection, a: &KmsAlias) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO kms_aliases (account_id, region, alias_name, target_arn, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            a.account_id,
            a.region,
            a.alias_name,
            a.target_arn,
            a.creation_date.millis(),
            a.last_updated_date.millis()
        ],
    )
    .map_err(insert_err)?;
    alias_changed(c, &a.account_id, &a.region, &a.alias_name)
}

pub fn update_kms_alias(c: &Connection, a: &KmsAlias) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE kms_aliases SET target_arn = ?1, updated_ms = ?2
             WHERE account_id = ?3 AND region = ?4 AND alias_name = ?5",
            params![
                a.target_arn,
                a.last_updated_date.millis(),
                a.account_id,
                a.region,
                a.alias_name
            ],
        )
        .map_err(backend)?;
    if n == 1 {
        alias_changed(c, &a.account_id, &a.region, &a.alias_name)?;
    }
    Ok(n == 1)
}

pub fn delete_kms_alias(
    c: &Connection,
    account: &str,
    region: &str,
    alias: &str,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM kms_aliases WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3",
            params![account, region, alias],
        )
        .map_err(backend)?;
    if n == 1 {
        alias_changed(c, account, region, alias)?;
    }
    Ok(n == 1)
}

pub fn create_member_account(
    c: &Connection,
    org: &Organization,
    account: &Account,
    iam: &IamState,
) -> Result<(), StoreError> {
    write_organization(c, org)?;
    put_account(c, account)?;
    write_iam_state(c, iam)
}

// --- workload attachments ---

pub fn create_attachment(c: &Connection, a: &Attachment) -> Result<(), StoreError> {
    let body = serde_json::to_string(a).map_err(backend)?;
    c.execute(
        "INSERT INTO attachments (id, account_id, port, token_sha256, created_ms, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            a.id,
            a.account_id,
            a.port(),
            a.token_sha256(),
            a.created_date.millis(),
            body
        ],
    )
    .map_err(insert_err)?;
    changed(c, ATTACHMENT, &a.id)
}

fn attachment_where(
    c: &Connection,
    filter: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<Attachment>, StoreError> {
    let body: Option<String> = c
        .prepare_cached(&format!("SELECT body FROM attachments WHERE {filter} = ?1"))
        .and_then(|mut s| s.query_row([value], |r| r.get(0)).optional())
        .map_err(backend)?;
    body.map(|b| serde_json::from_str(&b).map_err(backend))
        .transpose()
}

pub fn attachment_by_port(c: &Connection, port: u16) -> Result<Option<Attachment>, StoreError> {
    attachment_where(c, "port", &port)
}

pub fn attachment_by_token(c: &Connection, token_sha256: &str) -> Result<Option<Attachment>, StoreError> {
    attachment_where(c, "token_sha256", &token_sha256)
}

pub fn list_attachments(c: &Connection, account: Option<&str>) -> Result<Vec<Attachment>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT body FROM attachments WHERE ?1 IS NULL OR account_id = ?1 ORDER BY created_ms, id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([account], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    let mut out = Vec::new();
    for body in rows {
        out.push(serde_json::from_str(&body.map_err(backend)?).map_err(backend)?);
    }
    Ok(out)
}

pub fn delete_attachment(c: &Connection, account: &str, id: &str) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM attachments WHERE account_id = ?1 AND id = ?2",
            params![account, id],
        )
        .map_err(backend)?;
    if n == 1 {
        changed(c, ATTACHMENT, id)?;
    }
    Ok(n == 1)
}

// --- Lambda functions ---

fn function_row(r: &Row<'_>) -> rusqlite::Result<(String, i64)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn read_function((body, revision): (String, i64)) -> Result<Function, StoreError> {
    let mut f: Function = serde_json::from_str(&body).map_err(backend)?;
    f.revision = revision;
    Ok(f)
}

pub fn function(c: &Connection, arn: &str) -> Result<Option<Function>, StoreError> {
    c.prepare_cached("SELECT body, revision FROM functions WHERE arn = ?1")
        .and_then(|mut s| s.query_row([arn], function_row).optional())
        .map_err(backend)?
        .map(read_function)
        .transpose()
}

pub fn list_functions(c: &Connection, account: &str, region: &str) -> Result<Vec<Function>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT body, revision FROM functions WHERE account_id = ?1 AND region = ?2 ORDER BY name",
        )
        .map_err(backend)?;
    let rows = stmt.query_map([account, region], function_row).map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(read_function(row.map_err(backend)?)?);
    }
    Ok(out)
}

pub fn function_code(c: &Connection, arn: &str, sha: &str) -> Result<Option<Vec<u8>>, StoreError> {
    c.prepare_cached("SELECT zip FROM function_code WHERE function_arn = ?1 AND code_sha256 = ?2")
        .and_then(|mut s| s.query_row([arn, sha], |r| r.get(0)).optional())
        .map_err(backend)
}

fn put_code(c: &Connection, f: &Function, code: Option<&Vec<u8>>) -> Result<(), StoreError> {
    if let Some(zip) = code {
        c.prepare_cached(
            "INSERT OR IGNORE INTO function_code (function_arn, code_sha256, zip) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![f.arn, f.latest.code_sha256, zip]))
        .map_err(backend)?;
    }
    let in_use = f.code_in_use();
    let stored: Vec<String> = c
        .prepare_cached("SELECT code_sha256 FROM function_code WHERE function_arn = ?1")
        .and_then(|mut s| {
            s.query_map([&f.arn], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(backend)?;
    for sha in stored.iter().filter(|s| !in_use.contains(&s.as_str())) {
        c.prepare_cached("DELETE FROM function_code WHERE function_arn = ?1 AND code_sha256 = ?2")
            .and_then(|mut s| s.execute(params![f.arn, sha]))
            .map_err(backend)?;
    }
    Ok(())
}

pub fn write_function(c: &Connection, w: &FunctionWrite) -> Result<(), StoreError> {
    match w {
        FunctionWrite::Create { function: f, code } => {
            let body = serde_json::to_string(f).map_err(backend)?;
            c.prepare_cached(
                "INSERT INTO functions (arn, account_id, region, name, revision, body)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
            )
            .and_then(|mut s| s.execute(params![f.arn, f.account_id, f.region, f.name, body]))
            .map_err(insert_err)?;
            put_code(c, f, Some(code))?;
            changed(c, FUNCTION, &f.arn)
        }
        FunctionWrite::Update { function: f, code } => {
            let body = serde_json::to_string(f).map_err(backend)?;
            let n = c
                .prepare_cached(
                    "UPDATE functions SET body = ?1, revision = revision + 1 WHERE arn = ?2 AND revision = ?3",
                )
                .and_then(|mut s| s.execute(params![body, f.arn, f.revision]))
                .map_err(backend)?;
            if n != 1 {
                return Err(StoreError::Conflict);
            }
            put_code(c, f, code.as_ref())?;
            changed(c, FUNCTION, &f.arn)
        }
        FunctionWrite::Delete { arn, revision } => {
            let n = c
                .prepare_cached("DELETE FROM functions WHERE arn = ?1 AND revision = ?2")
                .and_then(|mut s| s.execute(params![arn, revision]))
                .map_err(backend)?;
            if n != 1 {
                return Err(StoreError::Conflict);
            }
            c.prepare_cached("DELETE FROM function_code WHERE function_arn = ?1")
                .and_then(|mut s| s.execute([arn]))
                .map_err(backend)?;
            changed(c, FUNCTION, arn)
        }
    }
}

// --- CloudFormation stacks ---

fn read_stack((body, revision): (String, i64)) -> Result<Stack, StoreError> {
    let mut s: Stack = serde_json::from_str(&body).map_err(backend)?;
    s.revision = revision;
    Ok(s)
}

fn stack_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, i64)> {
    Ok((r.get(0)?, r.get(1)?))
}

pub fn stack(c: &Connection, stack_id: &str) -> Result<Option<Stack>, StoreError> {
    c.prepare_cached("SELECT body, revision FROM stacks WHERE stack_id = ?1")
        .and_then(|mut s| s.query_row([stack_id], stack_row).optional())
        .map_err(backend)?
        .map(read_stack)
        .transpose()
}

pub fn list_stacks(c: &Connection, account: &str, region: &str) -> Result<Vec<Stack>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT body, revision FROM stacks WHERE account_id = ?1 AND region = ?2 ORDER BY created, stack_id",
        )
        .map_err(backend)?;
    let rows = stmt.query_map([account, region], stack_row).map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(read_stack(row.map_err(backend)?)?);
    }
    Ok(out)
}

pub fn stacks_in_operation(c: &Connection, limit: usize) -> Result<Vec<String>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT stack_id FROM stacks WHERE json_type(body, '$.operation') = 'object' ORDER BY created, stack_id LIMIT ?1",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub fn write_stack(c: &Connection, s: &Stack) -> Result<(), StoreError> {
    let body = serde_json::to_string(s).map_err(backend)?;
    if s.revision == 0 {
        c.prepare_cached(
            "INSERT INTO stacks (stack_id, account_id, region, name, created, revision, body)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
        )
        .and_then(|mut st| {
            st.execute(params![
                s.stack_id,
                s.account_id,
                s.region,
                s.name,
                s.creation_time.0,
                body
            ])
        })
        .map_err(insert_err)?;
        return Ok(());
    }
    let n = c
        .prepare_cached(
            "UPDATE stacks SET body = ?1, revision = revision + 1 WHERE stack_id = ?2 AND revision = ?3",
        )
        .and_then(|mut st| st.execute(params![body, s.stack_id, s.revision]))
        .map_err(backend)?;
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}
