//! The store for several nodes: [`kinko_core::store::Store`] on PostgreSQL, through
//! `tokio-postgres` and a `deadpool-postgres` pool, TLS to the database through rustls.
//!
//! Every write call is one transaction at READ COMMITTED. Aggregates are written with an
//! optimistic revision check (`UPDATE ... WHERE revision = $n`): of two writers based on the same
//! read, the database lets one update the row and the other sees the new revision and gets
//! [`StoreError::Conflict`]. Unique violations, serialization failures and deadlocks are
//! `Conflict` too: the caller retries from a fresh read.
//!
//! Every write transaction ends by recording the keys it changed in the change feed
//! ([`Store::changes_since`]): it takes its positions from one counter row, whose row lock it
//! holds until it commits, so positions are handed out in commit order and a reader that sees
//! position N sees every change at or before it. That serializes the commits of writes (not their
//! work), one commit's round trip each; reads never wait.
//!
//! Migrations run at start in one transaction under an advisory lock
//! (`pg_advisory_xact_lock`), so nodes starting at once apply each exactly once.
//!
//! # What of PostgreSQL it relies on
//!
//! PostgreSQL 12 or later: `BIGSERIAL`, `BYTEA`, `INSERT ... ON CONFLICT`, `DELETE/UPDATE ...
//! RETURNING`, data-modifying `WITH`, `unnest(...) WITH ORDINALITY`, partial indexes,
//! `COLLATE "C"` (names order byte-wise, as on SQLite), `LOCK TABLE ... IN SHARE ROW EXCLUSIVE
//! MODE` (root key rotation), `SELECT ... FOR SHARE` (root-sealed writes checking which root key
//! the database is under, see `late`), transaction-level advisory locks (migrations) and READ
//! COMMITTED row locking. No extensions, no `LISTEN/NOTIFY`, no stored procedures.
//!
//! CockroachDB and YugabyteDB speak the same protocol and SQL for all of it except: CockroachDB
//! has no advisory locks (its `pg_advisory_xact_lock` is a no-op: start the first node alone, or
//! migrate before starting several) and no `LOCK TABLE` (root key rotation must then run while
//! no other node writes keys); both run every transaction at SERIALIZABLE or snapshot isolation,
//! where the revision checks surface as serialization failures, which this store already answers
//! as `Conflict`. The change feed's one counter row is a hot spot on a distributed database:
//! write throughput there is bounded by one commit at a time, as it is here.
//!
//! Depends on `kinko-core` only among kinko's crates.

mod conn;
mod late;
pub mod scratch;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Object, Pool, Transaction};
use kinko_core::Timestamp;
use kinko_core::iam::IamState;
use kinko_core::kms::{KmsAlias, KmsKey, WrappedMaterial};
use kinko_core::lambda::{Function, FunctionWrite};
use kinko_core::mfa::MfaDevice;
use kinko_core::organizations::Organization;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, Principal, PrincipalKind};
use kinko_core::secret::Secret;
use kinko_core::store::{
    Account, ChangedKey, Changes, Lease, ListOrder, ListPage, RewrapCounts, RootFence, RootRewrap,
    SealedValue, SecretWrite, Store, StoreError,
};
use kinko_core::workload::Attachment;
use kinko_store_sql::{CANDIDATE_LIMIT, Candidates, Dialect, FilterSql};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

/// How the store connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections the pool opens (PostgreSQL's `max_connections` is shared by every node).
    pub max_connections: usize,
    /// The schema kinko's tables live in (created if absent); the connection's default when
    /// `None` (`public`, or the URL's `options=-c search_path=...`).
    pub schema: Option<String>,
    /// How long to wait for a new connection, or for a free one in the pool.
    pub connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            schema: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    late: late::Late,
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A database error: the ones a retry from a fresh read can resolve are `Conflict`.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(c)
            if *c == SqlState::UNIQUE_VIOLATION
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StoreError::Conflict
        }
        _ => backend(e),
    }
}

// --- the change feed ---

/// Changes kept for readers that are behind; older ones are pruned.
const CHANGES_KEPT: i64 = 50_000;
/// Pruning runs in the write transaction that crosses a multiple of this position.
const PRUNE_EVERY: i64 = 1_000;
/// Most changes one `changes_since` answer lists; more are answered `Truncated`.
const CHANGES_LISTED: i64 = 10_000;

const META: &str = "meta";
const ACCOUNT: &str = "account";
const ACCESS_KEY: &str = "access_key";
const IAM: &str = "iam";
const ORGANIZATION: &str = "organization";
const SECRET: &str = "secret";
const KMS_KEY: &str = "kms_key";
const KMS_ALIAS: &str = "kms_alias";
const ROOT_SEALED: &str = "root_sealed";
const ATTACHMENT: &str = "attachment";
const FUNCTION: &str = "function";
const MFA_DEVICE: &str = "mfa_device";

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

/// One write transaction and the keys it changed, recorded in the change feed at commit.
pub(crate) struct Write<'a> {
    tx: Transaction<'a>,
    kinds: Vec<&'static str>,
    keys: Vec<String>,
}

impl<'a> Write<'a> {
    async fn begin(client: &'a mut Object) -> Result<Write<'a>, StoreError> {
        Ok(Write {
            tx: client.transaction().await.map_err(db)?,
            kinds: Vec::new(),
            keys: Vec::new(),
        })
    }

    fn changed(&mut self, kind: &'static str, key: &str) {
        self.kinds.push(kind);
        self.keys.push(key.to_owned());
    }

    fn alias_changed(&mut self, account: &str, region: &str, alias: &str) -> Result<(), StoreError> {
        let key = serde_json::to_string(&[account, region, alias]).map_err(backend)?;
        self.kinds.push(KMS_ALIAS);
        self.keys.push(key);
        Ok(())
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let stmt = self.tx.prepare_cached(sql).await.map_err(db)?;
        self.tx.execute(&stmt, params).await.map_err(db)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let stmt = self.tx.prepare_cached(sql).await.map_err(db)?;
        self.tx.query_opt(&stmt, params).await.map_err(db)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let stmt = self.tx.prepare_cached(sql).await.map_err(db)?;
        self.tx.query(&stmt, params).await.map_err(db)
    }

    /// Records the changed keys (taking the feed's counter row lock, held until the commit) and
    /// commits.
    async fn commit(self) -> Result<(), StoreError> {
        if !self.kinds.is_empty() {
            let n = i64::try_from(self.kinds.len()).unwrap_or(i64::MAX);
            let last: i64 = self
                .query_opt(
                    "WITH f AS (
                         UPDATE change_feed SET last_seq = last_seq + $3 WHERE id = 1 RETURNING last_seq
                     ), ins AS (
                         INSERT INTO changes (seq, kind, key)
                         SELECT f.last_seq - $3 + t.ord, t.kind, t.key
                         FROM f, unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(kind, key, ord)
                     )
                     SELECT last_seq FROM f",
                    &[&self.kinds, &self.keys, &n],
                )
                .await?
                .ok_or_else(|| StoreError::Backend("the change feed row is missing".into()))?
                .get(0);
            if last / PRUNE_EVERY != (last - n) / PRUNE_EVERY && last > CHANGES_KEPT {
                let through = last - CHANGES_KEPT;
                self.execute("DELETE FROM changes WHERE seq <= $1", &[&through])
                    .await?;
                self.execute(
                    "UPDATE change_feed SET pruned_through = greatest(pruned_through, $1) WHERE id = 1",
                    &[&through],
                )
                .await?;
            }
        }
        self.tx.commit().await.map_err(db)
    }
}

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://user:password@host:port/db?sslmode=...`;
    /// `sslrootcert=PATH` trusts only the CA certificates in that PEM file) and applies pending
    /// migrations.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        Ok(PostgresStore {
            pool: conn::open(url, &options).await?,
            late: late::Late::default(),
        })
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(backend)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(db)?;
        c.query_opt(&stmt, params).await.map_err(db)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(db)?;
        c.query(&stmt, params).await.map_err(db)
    }

    /// Which of the filters' index ranges ([`Candidates`]) a secret listing starts from: the one
    /// holding the fewest secrets, if at most [`CANDIDATE_LIMIT`]; `None` to walk the order.
    async fn start_from(
        &self,
        account_id: &str,
        region: &str,
        filters: &[kinko_core::filters::Filter],
    ) -> Result<Option<usize>, StoreError> {
        let sources = Candidates::new(Dialect::Postgres, filters, 2).sources;
        if sources.is_empty() {
            return Ok(None);
        }
        let c = self.client().await?;
        let mut best: Option<(usize, i64)> = None;
        for (n, (sql, source_params)) in sources.iter().enumerate() {
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&account_id, &region];
            params.extend(
                source_params
                    .iter()
                    .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)),
            );
            let count: i64 = c
                .query_one(
                    &Candidates::count_sql(Dialect::Postgres, sql, CANDIDATE_LIMIT),
                    &params,
                )
                .await
                .map_err(db)?
                .try_get(0)
                .map_err(backend)?;
            let fits = usize::try_from(count).is_ok_and(|count| count <= CANDIDATE_LIMIT);
            if fits && best.is_none_or(|(_, fewest)| count < fewest) {
                best = Some((n, count));
            }
        }
        Ok(best.map(|(n, _)| n))
    }
}

fn attachment(row: &Row) -> Result<Attachment, StoreError> {
    let body: String = row.try_get(0).map_err(backend)?;
    serde_json::from_str(&body).map_err(backend)
}

fn stack_of(row: &Row) -> Result<kinko_core::stack::Stack, StoreError> {
    let body: String = row.try_get(0).map_err(backend)?;
    let mut s: kinko_core::stack::Stack = serde_json::from_str(&body).map_err(backend)?;
    s.revision = row.try_get(1).map_err(backend)?;
    Ok(s)
}

fn function_of(row: &Row) -> Result<Function, StoreError> {
    let body: String = row.try_get(0).map_err(backend)?;
    let mut f: Function = serde_json::from_str(&body).map_err(backend)?;
    f.revision = row.try_get(1).map_err(backend)?;
    Ok(f)
}

/// Stores a function's new package (if any) and drops those no configuration uses any more.
async fn put_code(w: &Write<'_>, f: &Function, code: Option<&Vec<u8>>) -> Result<(), StoreError> {
    if let Some(zip) = code {
        w.execute(
            "INSERT INTO function_code (function_arn, code_sha256, zip) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&f.arn, &f.latest.code_sha256, zip],
        )
        .await?;
    }
    let in_use: Vec<String> = f.code_in_use().into_iter().map(str::to_owned).collect();
    w.execute(
        "DELETE FROM function_code WHERE function_arn = $1 AND NOT (code_sha256 = ANY($2))",
        &[&f.arn, &in_use],
    )
    .await?;
    Ok(())
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn doc<T: serde::de::DeserializeOwned>(row: &Row) -> Result<(T, i64), StoreError> {
    let text: &str = row.try_get(0).map_err(backend)?;
    let revision: i64 = row.try_get(1).map_err(backend)?;
    Ok((serde_json::from_str(text).map_err(backend)?, revision))
}

fn secret(row: &Row) -> Result<Secret, StoreError> {
    let (mut s, revision): (Secret, i64) = doc(row)?;
    s.revision = revision;
    Ok(s)
}

fn kms_key(row: &Row) -> Result<KmsKey, StoreError> {
    let (mut k, revision): (KmsKey, i64) = doc(row)?;
    k.revision = revision;
    Ok(k)
}

fn account(row: &Row) -> Result<Account, StoreError> {
    Ok(Account {
        account_id: row.try_get(0).map_err(backend)?,
        name: row.try_get(1).map_err(backend)?,
        email: row.try_get(2).map_err(backend)?,
        created_date: Timestamp(row.try_get(3).map_err(backend)?),
    })
}

fn status_str(s: AccessKeyStatus) -> &'static str {
    match s {
        AccessKeyStatus::Active => "Active",
        AccessKeyStatus::Inactive => "Inactive",
    }
}

/// A device row: the JSON document holds all but the sealed seed and the revision, which have
/// their own columns (the seed is re-wrapped on its own by a root key rotation).
fn mfa_device(row: &Row) -> Result<MfaDevice, StoreError> {
    let doc: String = row.try_get(2).map_err(backend)?;
    let mut d: MfaDevice = serde_json::from_str(&doc).map_err(backend)?;
    d.sealed_seed = row.try_get(0).map_err(backend)?;
    d.revision = row.try_get(1).map_err(backend)?;
    Ok(d)
}

fn mfa_document(d: &MfaDevice) -> Result<String, StoreError> {
    let mut doc = d.clone();
    doc.sealed_seed = Vec::new();
    doc.revision = 0;
    serde_json::to_string(&doc).map_err(backend)
}

const ACCESS_KEY_COLUMNS: &str = "access_key_id, principal, status, sealed_secret, created_ms";

fn access_key(row: &Row) -> Result<AccessKeyRecord, StoreError> {
    let principal: &str = row.try_get(1).map_err(backend)?;
    let principal: Principal = serde_json::from_str(principal).map_err(backend)?;
    let status: &str = row.try_get(2).map_err(backend)?;
    Ok(AccessKeyRecord {
        access_key_id: row.try_get(0).map_err(backend)?,
        principal,
        status: if status == "Active" {
            AccessKeyStatus::Active
        } else {
            AccessKeyStatus::Inactive
        },
        sealed_secret: row.try_get(3).map_err(backend)?,
        created_date: Timestamp(row.try_get(4).map_err(backend)?),
    })
}

fn user_name(p: &Principal) -> Option<String> {
    match &p.kind {
        PrincipalKind::User { name, .. } => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

fn material_version(v: u32) -> i64 {
    i64::from(v)
}

// --- writes shared by several calls ---

async fn write_organization(w: &mut Write<'_>, org: &Organization) -> Result<(), StoreError> {
    let doc = serde_json::to_string(org).map_err(backend)?;
    let n = if org.revision == 0 {
        w.execute(
            "INSERT INTO organization (id, revision, doc) VALUES (1, 1, $1)",
            &[&doc],
        )
        .await?
    } else {
        w.execute(
            "UPDATE organization SET doc = $1, revision = revision + 1 WHERE id = 1 AND revision = $2",
            &[&doc, &org.revision],
        )
        .await?
    };
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    w.changed(ORGANIZATION, "");
    Ok(())
}

async fn put_account(w: &mut Write<'_>, a: &Account) -> Result<(), StoreError> {
    w.execute(
        "INSERT INTO accounts (account_id, name, email, created_ms) VALUES ($1, $2, $3, $4)",
        &[&a.account_id, &a.name, &a.email, &a.created_date.millis()],
    )
    .await?;
    w.changed(ACCOUNT, &a.account_id);
    Ok(())
}

async fn write_iam_state(w: &mut Write<'_>, state: &IamState) -> Result<(), StoreError> {
    let doc = serde_json::to_string(state).map_err(backend)?;
    let n = if state.revision == 0 {
        w.execute(
            "INSERT INTO iam_states (account_id, revision, doc) VALUES ($1, 1, $2)",
            &[&state.account_id, &doc],
        )
        .await?
    } else {
        w.execute(
            "UPDATE iam_states SET doc = $1, revision = revision + 1 WHERE account_id = $2 AND revision = $3",
            &[&doc, &state.account_id, &state.revision],
        )
        .await?
    };
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    w.execute(
        "DELETE FROM account_aliases WHERE account_id = $1",
        &[&state.account_id],
    )
    .await?;
    if let Some(alias) = &state.account_alias {
        w.execute(
            "INSERT INTO account_aliases (alias, account_id) VALUES ($1, $2)",
            &[alias, &state.account_id],
        )
        .await?;
    }
    w.changed(IAM, &state.account_id);
    Ok(())
}

async fn insert_values(
    w: &Write<'_>,
    secret_id: i64,
    values: &[(String, SealedValue)],
) -> Result<(), StoreError> {
    for (version, v) in values {
        w.execute(
            "INSERT INTO secret_values (secret_id, version_id, encrypted_data_key, ciphertext)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (secret_id, version_id)
             DO UPDATE SET encrypted_data_key = excluded.encrypted_data_key, ciphertext = excluded.ciphertext",
            &[&secret_id, version, &v.encrypted_data_key, &v.ciphertext],
        )
        .await?;
    }
    Ok(())
}

async fn update_kms_key(w: &mut Write<'_>, key: &KmsKey) -> Result<(), StoreError> {
    let doc = serde_json::to_string(key).map_err(backend)?;
    let n = w
        .execute(
            "UPDATE kms_keys SET doc = $1, deletion_ms = $2, rotation_ms = $3, revision = revision + 1
             WHERE arn = $4 AND revision = $5",
            &[
                &doc,
                &key.deletion_date.map(Timestamp::millis),
                &key.next_rotation_date().map(Timestamp::millis),
                &key.arn,
                &key.revision,
            ],
        )
        .await?;
    if n != 1 {
        return Err(StoreError::Conflict);
    }
    w.changed(KMS_KEY, &key.arn);
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .await?
            .map(|r| r.try_get(0).map_err(backend))
            .transpose()
    }

    async fn meta_put_if_absent(&self, key: &str, value: Vec<u8>) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &value],
            )
            .await?;
        if n == 1 {
            w.changed(META, key);
        }
        w.commit().await?;
        Ok(n == 1)
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        self.query_opt(
            "SELECT account_id, name, email, created_ms FROM accounts WHERE account_id = $1",
            &[&account_id],
        )
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn put_account(&self, a: Account) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        put_account(&mut w, &a).await?;
        w.commit().await
    }

    async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        self.query_opt(
            &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = $1"),
            &[&access_key_id],
        )
        .await?
        .as_ref()
        .map(access_key)
        .transpose()
    }

    async fn put_access_key(&self, key: AccessKeyRecord) -> Result<(), StoreError> {
        let _rotation = self.late.writing().await;
        let k = self.late.access_key(key)?;
        let principal = serde_json::to_string(&k.principal).map_err(backend)?;
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        w.execute(
            "INSERT INTO access_keys
                 (access_key_id, account_id, principal, status, sealed_secret, created_ms, user_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &k.access_key_id,
                &k.principal.account_id,
                &principal,
                &status_str(k.status),
                &k.sealed_secret,
                &k.created_date.millis(),
                &user_name(&k.principal),
            ],
        )
        .await?;
        w.changed(ACCESS_KEY, &k.access_key_id);
        // Last, after the writes that wait for a rotation's table locks.
        self.late.check_fence(&w).await?;
        w.commit().await
    }

    async fn list_access_keys(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>, StoreError> {
        let user = user_name.map(str::to_ascii_lowercase);
        self.query(
            &format!(
                "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys
                 WHERE account_id = $1 AND ($2::text IS NULL OR user_name = $2::text)
                 ORDER BY created_ms, access_key_id"
            ),
            &[&account_id, &user],
        )
        .await?
        .iter()
        .map(access_key)
        .collect()
    }

    async fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "UPDATE access_keys SET status = $1 WHERE access_key_id = $2",
                &[&status_str(status), &access_key_id],
            )
            .await?;
        if n == 1 {
            w.changed(ACCESS_KEY, access_key_id);
        }
        w.commit().await?;
        Ok(n == 1)
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "DELETE FROM access_keys WHERE access_key_id = $1",
                &[&access_key_id],
            )
            .await?;
        if n == 1 {
            w.changed(ACCESS_KEY, access_key_id);
        }
        w.commit().await?;
        Ok(n == 1)
    }

    async fn mfa_device(&self, serial_number: &str) -> Result<Option<MfaDevice>, StoreError> {
        self.query_opt(
            "SELECT sealed_seed, revision, device FROM mfa_devices WHERE serial_number = $1",
            &[&serial_number],
        )
        .await?
        .as_ref()
        .map(mfa_device)
        .transpose()
    }

    async fn list_mfa_devices(&self, account_id: &str) -> Result<Vec<MfaDevice>, StoreError> {
        self.query(
            "SELECT sealed_seed, revision, device FROM mfa_devices WHERE account_id = $1
             ORDER BY serial_number",
            &[&account_id],
        )
        .await?
        .iter()
        .map(mfa_device)
        .collect()
    }

    async fn create_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        let _rotation = self.late.writing().await;
        let d = self.late.mfa_device(device)?;
        let doc = mfa_document(&d)?;
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        w.execute(
            "INSERT INTO mfa_devices (serial_number, account_id, sealed_seed, revision, device)
             VALUES ($1, $2, $3, 1, $4)",
            &[&d.serial_number, &d.account_id, &d.sealed_seed, &doc],
        )
        .await?;
        w.changed(MFA_DEVICE, &d.serial_number);
        // Last, after the writes that wait for a rotation's table locks.
        self.late.check_fence(&w).await?;
        w.commit().await
    }

    async fn update_mfa_device(&self, device: MfaDevice) -> Result<(), StoreError> {
        let doc = mfa_document(&device)?;
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "UPDATE mfa_devices SET device = $1, revision = revision + 1
                 WHERE serial_number = $2 AND revision = $3",
                &[&doc, &device.serial_number, &device.revision],
            )
            .await?;
        if n != 1 {
            return Err(StoreError::Conflict);
        }
        w.changed(MFA_DEVICE, &device.serial_number);
        w.commit().await
    }

    async fn delete_mfa_device(&self, serial_number: &str, revision: i64) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "DELETE FROM mfa_devices WHERE serial_number = $1 AND revision = $2",
                &[&serial_number, &revision],
            )
            .await?;
        if n != 1 {
            return Err(StoreError::Conflict);
        }
        w.changed(MFA_DEVICE, serial_number);
        w.commit().await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.query(
            "SELECT account_id, name, email, created_ms FROM accounts ORDER BY created_ms, account_id",
            &[],
        )
        .await?
        .iter()
        .map(account)
        .collect()
    }

    async fn iam_state(&self, account_id: &str) -> Result<IamState, StoreError> {
        let row = self
            .query_opt(
                "SELECT doc, revision FROM iam_states WHERE account_id = $1",
                &[&account_id],
            )
            .await?;
        match row {
            None => Ok(IamState::new(account_id)),
            Some(row) => {
                let (mut state, revision): (IamState, i64) = doc(&row)?;
                state.revision = revision;
                Ok(state)
            }
        }
    }

    async fn iam_revision(&self, account_id: &str) -> Result<i64, StoreError> {
        Ok(self
            .query_opt(
                "SELECT revision FROM iam_states WHERE account_id = $1",
                &[&account_id],
            )
            .await?
            .map(|r| r.try_get(0).map_err(backend))
            .transpose()?
            .unwrap_or_default())
    }

    async fn write_iam_state(&self, state: IamState) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        write_iam_state(&mut w, &state).await?;
        w.commit().await
    }

    async fn account_by_alias(&self, alias: &str) -> Result<Option<String>, StoreError> {
        self.query_opt(
            "SELECT account_id FROM account_aliases WHERE alias = $1",
            &[&alias],
        )
        .await?
        .map(|r| r.try_get(0).map_err(backend))
        .transpose()
    }

    async fn organization(&self) -> Result<Option<Organization>, StoreError> {
        self.query_opt("SELECT doc, revision FROM organization WHERE id = 1", &[])
            .await?
            .map(|row| {
                let (mut org, revision): (Organization, i64) = doc(&row)?;
                org.revision = revision;
                Ok(org)
            })
            .transpose()
    }

    async fn write_organization(&self, org: Organization) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        write_organization(&mut w, &org).await?;
        w.commit().await
    }

    async fn create_member_account(
        &self,
        org: Organization,
        account: Account,
        iam: IamState,
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        write_organization(&mut w, &org).await?;
        put_account(&mut w, &account).await?;
        write_iam_state(&mut w, &iam).await?;
        w.commit().await
    }

    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Secret>, StoreError> {
        self.query_opt(
            "SELECT doc, revision FROM secrets WHERE account_id = $1 AND region = $2 AND name = $3",
            &[&account_id, &region, &name],
        )
        .await?
        .as_ref()
        .map(secret)
        .transpose()
    }

    async fn secret_by_arn(&self, arn: &str) -> Result<Option<Secret>, StoreError> {
        self.query_opt("SELECT doc, revision FROM secrets WHERE arn = $1", &[&arn])
            .await?
            .as_ref()
            .map(secret)
            .transpose()
    }

    async fn list_secrets(&self, account_id: &str, region: &str) -> Result<Vec<Secret>, StoreError> {
        self.query(
            "SELECT doc, revision FROM secrets WHERE account_id = $1 AND region = $2 ORDER BY created_ms, id",
            &[&account_id, &region],
        )
        .await?
        .iter()
        .map(secret)
        .collect()
    }

    async fn list_secrets_page(
        &self,
        account_id: &str,
        region: &str,
        filters: &[kinko_core::filters::Filter],
        page: ListPage,
    ) -> Result<(Vec<Secret>, bool), StoreError> {
        let order = match page.order {
            ListOrder::CreatedAsc => "s.created_ms, s.id",
            ListOrder::CreatedDesc => "s.created_ms DESC, s.id DESC",
            ListOrder::NameAsc => "s.name",
            ListOrder::NameDesc => "s.name DESC",
        };
        // The key of the secret the page starts after, while it is stored.
        let after = match &page.after {
            Some(arn) => self
                .query_opt(
                    "SELECT created_ms, id, name FROM secrets WHERE arn = $1 AND account_id = $2 AND region = $3",
                    &[arn, &account_id, &region],
                )
                .await?
                .map(|r| -> Result<(i64, i64, String), StoreError> {
                    Ok((
                        r.try_get(0).map_err(backend)?,
                        r.try_get(1).map_err(backend)?,
                        r.try_get(2).map_err(backend)?,
                    ))
                })
                .transpose()?,
            None => None,
        };
        let start = self.start_from(account_id, region, filters).await?;
        let rows_wanted = limit(page.limit.saturating_add(1));
        let offset = if after.is_some() { 0 } else { limit(page.offset) };
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&account_id, &region, &page.include_deleted, &rows_wanted, &offset];
        let seek = match &after {
            None => String::new(),
            Some((created, id, name)) => match page.order {
                ListOrder::CreatedAsc | ListOrder::CreatedDesc => {
                    params.extend([created as &(dyn tokio_postgres::types::ToSql + Sync), id]);
                    let (op, strict) = if page.order == ListOrder::CreatedAsc {
                        (">=", ">")
                    } else {
                        ("<=", "<")
                    };
                    format!(" AND s.created_ms {op} $6 AND (s.created_ms {strict} $6 OR s.id {strict} $7)")
                }
                ListOrder::NameAsc | ListOrder::NameDesc => {
                    params.push(name);
                    let op = if page.order == ListOrder::NameAsc {
                        ">"
                    } else {
                        "<"
                    };
                    format!(" AND s.name {op} $6")
                }
            },
        };
        let f = FilterSql::new(Dialect::Postgres, filters, params.len());
        // Only the secrets of the smallest index range, when it holds few: read by id, checked
        // and ordered.
        let (from, from_params) = match start {
            Some(source) => {
                let (sql, params) =
                    Candidates::new(Dialect::Postgres, filters, params.len() + f.params.len())
                        .sources
                        .swap_remove(source);
                (format!(" AND s.id IN ({sql})"), params)
            }
            None => (String::new(), Vec::new()),
        };
        let sql = format!(
            "SELECT s.doc, s.revision FROM secrets s
             WHERE s.account_id = $1 AND s.region = $2 AND ($3 OR s.deletion_ms IS NULL){seek}{}{from}
             ORDER BY {order} LIMIT $4 OFFSET $5",
            f.sql
        );
        params.extend(
            f.params
                .iter()
                .chain(&from_params)
                .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)),
        );
        let rows = if filters.is_empty() {
            self.query(&sql, &params).await?
        } else {
            // A filtered listing's SQL is as varied as its filters: not kept prepared.
            self.client().await?.query(&sql, &params).await.map_err(db)?
        };
        let mut out: Vec<Secret> = rows.iter().map(secret).collect::<Result<_, _>>()?;
        let more = out.len() > page.limit;
        out.truncate(page.limit);
        Ok((out, more))
    }

    async fn sealed_value(&self, arn: &str, version_id: &str) -> Result<Option<SealedValue>, StoreError> {
        self.query_opt(
            "SELECT v.encrypted_data_key, v.ciphertext FROM secret_values v JOIN secrets s ON s.id = v.secret_id
             WHERE s.arn = $1 AND v.version_id = $2",
            &[&arn, &version_id],
        )
        .await?
        .map(|r| {
            Ok(SealedValue {
                encrypted_data_key: r.try_get(0).map_err(backend)?,
                ciphertext: r.try_get(1).map_err(backend)?,
            })
        })
        .transpose()
    }

    async fn write_secret(&self, write: SecretWrite) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        apply_secret_write(&mut w, &write).await?;
        w.commit().await
    }

    async fn write_secrets(&self, writes: Vec<SecretWrite>) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        for write in &writes {
            apply_secret_write(&mut w, write).await?;
        }
        w.commit().await
    }

    async fn secrets_due_for_deletion(
        &self,
        now: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.query(
            "SELECT doc, revision FROM secrets WHERE deletion_ms IS NOT NULL AND deletion_ms <= $1
             ORDER BY deletion_ms LIMIT $2",
            &[&now.millis(), &limit(limit_to)],
        )
        .await?
        .iter()
        .map(secret)
        .collect()
    }

    async fn secrets_due_for_rotation(
        &self,
        now: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<Secret>, StoreError> {
        self.query(
            "SELECT doc, revision FROM secrets WHERE rotation_ms IS NOT NULL AND rotation_ms <= $1
             ORDER BY rotation_ms LIMIT $2",
            &[&now.millis(), &limit(limit_to)],
        )
        .await?
        .iter()
        .map(secret)
        .collect()
    }

    async fn kms_key(&self, arn: &str) -> Result<Option<KmsKey>, StoreError> {
        self.query_opt("SELECT doc, revision FROM kms_keys WHERE arn = $1", &[&arn])
            .await?
            .as_ref()
            .map(kms_key)
            .transpose()
    }

    async fn kms_alias_target(
        &self,
        account_id: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<String>, StoreError> {
        self.query_opt(
            "SELECT target_arn FROM kms_aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3",
            &[&account_id, &region, &alias],
        )
        .await?
        .map(|r| r.try_get(0).map_err(backend))
        .transpose()
    }

    async fn create_kms_key(
        &self,
        key: KmsKey,
        material: WrappedMaterial,
        alias: Option<String>,
    ) -> Result<(), StoreError> {
        let _rotation = self.late.writing().await;
        let material = self.late.material(material)?;
        let doc = serde_json::to_string(&key).map_err(backend)?;
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        w.execute(
            "INSERT INTO kms_keys
                 (arn, account_id, region, key_id, revision, doc, created_ms, deletion_ms, rotation_ms)
             VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8)",
            &[
                &key.arn,
                &key.account_id,
                &key.region,
                &key.key_id,
                &doc,
                &key.creation_date.millis(),
                &key.deletion_date.map(Timestamp::millis),
                &key.next_rotation_date().map(Timestamp::millis),
            ],
        )
        .await?;
        w.execute(
            "INSERT INTO kms_materials (key_arn, version, wrapped) VALUES ($1, $2, $3)",
            &[
                &material.key_arn,
                &material_version(material.version),
                &material.wrapped,
            ],
        )
        .await?;
        if let Some(alias) = &alias {
            w.execute(
                "INSERT INTO kms_aliases (account_id, region, alias_name, target_arn, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $5)",
                &[
                    &key.account_id,
                    &key.region,
                    alias,
                    &key.arn,
                    &key.creation_date.millis(),
                ],
            )
            .await?;
            w.alias_changed(&key.account_id, &key.region, alias)?;
        }
        w.changed(KMS_KEY, &key.arn);
        // Last, after the writes that wait for a rotation's table locks.
        self.late.check_fence(&w).await?;
        w.commit().await
    }

    async fn kms_material(&self, key_arn: &str, version: u32) -> Result<Option<WrappedMaterial>, StoreError> {
        self.query_opt(
            "SELECT wrapped FROM kms_materials WHERE key_arn = $1 AND version = $2",
            &[&key_arn, &material_version(version)],
        )
        .await?
        .map(|r| {
            Ok(WrappedMaterial {
                key_arn: key_arn.to_owned(),
                version,
                wrapped: r.try_get(0).map_err(backend)?,
            })
        })
        .transpose()
    }

    async fn all_kms_materials(&self) -> Result<Vec<WrappedMaterial>, StoreError> {
        self.query(
            "SELECT key_arn, version, wrapped FROM kms_materials ORDER BY key_arn, version",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            let version: i64 = r.try_get(1).map_err(backend)?;
            Ok(WrappedMaterial {
                key_arn: r.try_get(0).map_err(backend)?,
                version: u32::try_from(version).map_err(backend)?,
                wrapped: r.try_get(2).map_err(backend)?,
            })
        })
        .collect()
    }

    async fn rewrap_root_sealed(
        &self,
        meta_keys: &[&str],
        rewrap: Arc<RootRewrap>,
    ) -> Result<RewrapCounts, StoreError> {
        // No write of a root-sealed value from this process runs meanwhile; the table locks keep
        // other processes' writes of them before or after this transaction.
        let rotation = self.late.rotating().await;
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        w.execute(
            "LOCK TABLE kms_materials, access_keys, mfa_devices, stacks, meta IN SHARE ROW EXCLUSIVE MODE",
            &[],
        )
        .await?;
        let counts = late::rewrap_all(&w, meta_keys, rewrap.as_ref()).await?;
        let fence = match self.late.fence_key() {
            Some(key) => w
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
                .await?
                .map(|r| r.try_get(0).map_err(backend))
                .transpose()?,
            None => None,
        };
        w.changed(ROOT_SEALED, "");
        w.commit().await?;
        rotation.installed(rewrap, fence);
        Ok(counts)
    }

    async fn fence_root_sealed(&self, fence: RootFence) {
        // Waits for this process's writes of root-sealed values under way.
        self.late.rotating().await.fenced(fence);
    }

    async fn update_kms_key(&self, key: KmsKey) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        update_kms_key(&mut w, &key).await?;
        w.commit().await
    }

    async fn add_kms_material(&self, key: KmsKey, material: WrappedMaterial) -> Result<(), StoreError> {
        let _rotation = self.late.writing().await;
        let material = self.late.material(material)?;
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        update_kms_key(&mut w, &key).await?;
        w.execute(
            "INSERT INTO kms_materials (key_arn, version, wrapped) VALUES ($1, $2, $3)",
            &[
                &material.key_arn,
                &material_version(material.version),
                &material.wrapped,
            ],
        )
        .await?;
        // Last, after the writes that wait for a rotation's table locks.
        self.late.check_fence(&w).await?;
        w.commit().await
    }

    async fn list_kms_keys(&self, account_id: &str, region: &str) -> Result<Vec<KmsKey>, StoreError> {
        self.query(
            "SELECT doc, revision FROM kms_keys WHERE account_id = $1 AND region = $2 ORDER BY created_ms, key_id",
            &[&account_id, &region],
        )
        .await?
        .iter()
        .map(kms_key)
        .collect()
    }

    async fn delete_kms_key(&self, arn: &str, revision: i64) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "DELETE FROM kms_keys WHERE arn = $1 AND revision = $2",
                &[&arn, &revision],
            )
            .await?;
        if n != 1 {
            return Err(StoreError::Conflict);
        }
        let aliases = w
            .query(
                "DELETE FROM kms_aliases WHERE target_arn = $1 RETURNING account_id, region, alias_name",
                &[&arn],
            )
            .await?;
        for a in &aliases {
            let (account, region, alias): (String, String, String) = (
                a.try_get(0).map_err(backend)?,
                a.try_get(1).map_err(backend)?,
                a.try_get(2).map_err(backend)?,
            );
            w.alias_changed(&account, &region, &alias)?;
        }
        w.execute("DELETE FROM kms_materials WHERE key_arn = $1", &[&arn])
            .await?;
        w.changed(KMS_KEY, arn);
        w.commit().await
    }

    async fn kms_keys_due_for_deletion(
        &self,
        now: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<KmsKey>, StoreError> {
        self.query(
            "SELECT doc, revision FROM kms_keys WHERE deletion_ms IS NOT NULL AND deletion_ms <= $1
             ORDER BY deletion_ms LIMIT $2",
            &[&now.millis(), &limit(limit_to)],
        )
        .await?
        .iter()
        .map(kms_key)
        .collect()
    }

    async fn kms_keys_due_for_rotation(
        &self,
        now: Timestamp,
        limit_to: usize,
    ) -> Result<Vec<KmsKey>, StoreError> {
        self.query(
            "SELECT doc, revision FROM kms_keys WHERE rotation_ms IS NOT NULL AND rotation_ms <= $1
             ORDER BY rotation_ms LIMIT $2",
            &[&now.millis(), &limit(limit_to)],
        )
        .await?
        .iter()
        .map(kms_key)
        .collect()
    }

    async fn list_kms_aliases(&self, account_id: &str, region: &str) -> Result<Vec<KmsAlias>, StoreError> {
        self.query(
            "SELECT alias_name, target_arn, created_ms, updated_ms FROM kms_aliases
             WHERE account_id = $1 AND region = $2 ORDER BY alias_name",
            &[&account_id, &region],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(KmsAlias {
                account_id: account_id.to_owned(),
                region: region.to_owned(),
                alias_name: r.try_get(0).map_err(backend)?,
                target_arn: r.try_get(1).map_err(backend)?,
                creation_date: Timestamp(r.try_get(2).map_err(backend)?),
                last_updated_date: Timestamp(r.try_get(3).map_err(backend)?),
            })
        })
        .collect()
    }

    async fn create_kms_alias(&self, a: KmsAlias) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        w.execute(
            "INSERT INTO kms_aliases (account_id, region, alias_name, target_arn, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &a.account_id,
                &a.region,
                &a.alias_name,
                &a.target_arn,
                &a.creation_date.millis(),
                &a.last_updated_date.millis(),
            ],
        )
        .await?;
        w.alias_changed(&a.account_id, &a.region, &a.alias_name)?;
        w.commit().await
    }

    async fn update_kms_alias(&self, a: KmsAlias) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "UPDATE kms_aliases SET target_arn = $1, updated_ms = $2
                 WHERE account_id = $3 AND region = $4 AND alias_name = $5",
                &[
                    &a.target_arn,
                    &a.last_updated_date.millis(),
                    &a.account_id,
                    &a.region,
                    &a.alias_name,
                ],
            )
            .await?;
        if n == 1 {
            w.alias_changed(&a.account_id, &a.region, &a.alias_name)?;
        }
        w.commit().await?;
        Ok(n == 1)
    }

    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "DELETE FROM kms_aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3",
                &[&account_id, &region, &alias_name],
            )
            .await?;
        if n == 1 {
            w.alias_changed(account_id, region, alias_name)?;
        }
        w.commit().await?;
        Ok(n == 1)
    }

    async fn create_attachment(&self, a: Attachment) -> Result<(), StoreError> {
        let body = serde_json::to_string(&a).map_err(backend)?;
        let port = a.port().map(i32::from);
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        w.execute(
            "INSERT INTO attachments (id, account_id, port, token_sha256, created_ms, body)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &a.id,
                &a.account_id,
                &port,
                &a.token_sha256(),
                &a.created_date.millis(),
                &body,
            ],
        )
        .await?;
        w.changed(ATTACHMENT, &a.id);
        w.commit().await
    }

    async fn attachment_by_port(&self, port: u16) -> Result<Option<Attachment>, StoreError> {
        self.query_opt(
            "SELECT body FROM attachments WHERE port = $1",
            &[&i32::from(port)],
        )
        .await?
        .map(|r| attachment(&r))
        .transpose()
    }

    async fn attachment_by_token(&self, token_sha256: &str) -> Result<Option<Attachment>, StoreError> {
        self.query_opt(
            "SELECT body FROM attachments WHERE token_sha256 = $1",
            &[&token_sha256],
        )
        .await?
        .map(|r| attachment(&r))
        .transpose()
    }

    async fn list_attachments(&self, account_id: Option<&str>) -> Result<Vec<Attachment>, StoreError> {
        self.query(
            "SELECT body FROM attachments WHERE $1::text IS NULL OR account_id = $1::text
             ORDER BY created_ms, id",
            &[&account_id],
        )
        .await?
        .iter()
        .map(attachment)
        .collect()
    }

    async fn delete_attachment(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        let n = w
            .execute(
                "DELETE FROM attachments WHERE account_id = $1 AND id = $2",
                &[&account_id, &id],
            )
            .await?;
        if n == 1 {
            w.changed(ATTACHMENT, id);
        }
        w.commit().await?;
        Ok(n == 1)
    }

    async fn function(&self, arn: &str) -> Result<Option<Function>, StoreError> {
        self.query_opt("SELECT body, revision FROM functions WHERE arn = $1", &[&arn])
            .await?
            .map(|r| function_of(&r))
            .transpose()
    }

    async fn list_functions(&self, account_id: &str, region: &str) -> Result<Vec<Function>, StoreError> {
        self.query(
            "SELECT body, revision FROM functions WHERE account_id = $1 AND region = $2 ORDER BY name",
            &[&account_id, &region],
        )
        .await?
        .iter()
        .map(function_of)
        .collect()
    }

    async fn function_code(&self, arn: &str, code_sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.query_opt(
            "SELECT zip FROM function_code WHERE function_arn = $1 AND code_sha256 = $2",
            &[&arn, &code_sha256],
        )
        .await?
        .map(|r| r.try_get(0).map_err(backend))
        .transpose()
    }

    async fn write_function(&self, write: FunctionWrite) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut w = Write::begin(&mut c).await?;
        match &write {
            FunctionWrite::Create { function: f, code } => {
                let body = serde_json::to_string(f).map_err(backend)?;
                w.execute(
                    "INSERT INTO functions (arn, account_id, region, name, revision, body)
                     VALUES ($1, $2, $3, $4, 1, $5)",
                    &[&f.arn, &f.account_id, &f.region, &f.name, &body],
                )
                .await?;
                put_code(&w, f, Some(code)).await?;
                w.changed(FUNCTION, &f.arn);
            }
            FunctionWrite::Update { function: f, code } => {
                let body = serde_json::to_string(f).map_err(backend)?;
                let n = w
                    .execute(
                        "UPDATE functions SET body = $1, revision = revision + 1
                         WHERE arn = $2 AND revision = $3",
                        &[&body, &f.arn, &f.revision],
                    )
                    .await?;
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                put_code(&w, f, code.as_ref()).await?;
                w.changed(FUNCTION, &f.arn);
            }
            FunctionWrite::Delete { arn, revision } => {
                let n = w
                    .execute(
                        "DELETE FROM functions WHERE arn = $1 AND revision = $2",
                        &[arn, revision],
                    )
                    .await?;
                if n != 1 {
                    return Err(StoreError::Conflict);
                }
                w.changed(FUNCTION, arn);
            }
        }
        w.commit().await
    }

    async fn stack(&self, stack_id: &str) -> Result<Option<kinko_core::stack::Stack>, StoreError> {
        self.query_opt(
            "SELECT body, revision FROM stacks WHERE stack_id = $1",
            &[&stack_id],
        )
        .await?
        .map(|r| stack_of(&r))
        .transpose()
    }

    async fn list_stacks(
        &self,
        account_id: &str,
        region: &str,
    ) -> Result<Vec<kinko_core::stack::Stack>, StoreError> {
        self.query(
            "SELECT body, revision FROM stacks WHERE account_id = $1 AND region = $2 ORDER BY created, stack_id",
            &[&account_id, &region],
        )
        .await?
        .iter()
        .map(stack_of)
        .collect()
    }

    async fn write_stack(&self, mut s: kinko_core::stack::Stack) -> Result<(), StoreError> {
        // A stack holding root-sealed values is written as the other root-sealed values are
        // (see `late`): re-wrapped after a rotation, and fenced on another process's rotation.
        let sealed = late::has_sealed(&mut s);
        let _rotation = if sealed {
            Some(self.late.writing().await)
        } else {
            None
        };
        let s = if sealed { self.late.stack(s)? } else { s };
        let body = serde_json::to_string(&s).map_err(backend)?;
        let mut c = self.client().await?;
        let w = Write::begin(&mut c).await?;
        if s.revision == 0 {
            w.execute(
                "INSERT INTO stacks (stack_id, account_id, region, name, created, revision, body)
                 VALUES ($1, $2, $3, $4, $5, 1, $6)",
                &[
                    &s.stack_id,
                    &s.account_id,
                    &s.region,
                    &s.name,
                    &s.creation_time.0,
                    &body,
                ],
            )
            .await?;
        } else {
            let n = w
                .execute(
                    "UPDATE stacks SET body = $1, revision = revision + 1 WHERE stack_id = $2 AND revision = $3",
                    &[&body, &s.stack_id, &s.revision],
                )
                .await?;
            if n != 1 {
                return Err(StoreError::Conflict);
            }
        }
        if sealed {
            // Last, after the writes that wait for a rotation's table locks.
            self.late.check_fence(&w).await?;
        }
        w.commit().await
    }

    async fn stacks_in_operation(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT stack_id FROM stacks WHERE json_typeof(body::json -> 'operation') = 'object'
                 ORDER BY created, stack_id LIMIT $1",
                &[&limit],
            )
            .await?;
        rows.iter().map(|r| r.try_get(0).map_err(backend)).collect()
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        // One statement: the insert, or the update of a row whose holder is the caller or has
        // run out of time, under the row's lock. Of two nodes taking a free lease at once, the
        // second waits for the first's commit, then finds the condition false.
        let row = self
            .query_opt(
                "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $4)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
                 WHERE leases.holder = excluded.holder OR leases.expires_ms <= $3
                 RETURNING holder",
                &[&name, &holder, &now.millis(), &expires.millis()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .await
            .map_err(db)?;
        Ok(c.execute(&stmt, &[&name, &holder]).await.map_err(db)? == 1)
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.query_opt("SELECT holder, expires_ms FROM leases WHERE name = $1", &[&name])
            .await?
            .map(|row| {
                Ok(Lease {
                    name: name.to_owned(),
                    holder: row.try_get(0).map_err(backend)?,
                    expires: Timestamp(row.try_get(1).map_err(backend)?),
                })
            })
            .transpose()
    }

    async fn changes_since(&self, seq: u64) -> Result<(u64, Changes), StoreError> {
        let since = i64::try_from(seq).unwrap_or(i64::MAX);
        // One statement, one snapshot: the feed's position and the changes up to it.
        let rows = self
            .query(
                "SELECT f.last_seq, f.pruned_through, c.kind, c.key
                 FROM change_feed f
                 LEFT JOIN LATERAL (
                     SELECT seq, kind, key FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2
                 ) c ON true
                 WHERE f.id = 1
                 ORDER BY c.seq",
                &[&since, &(CHANGES_LISTED + 1)],
            )
            .await?;
        let first = rows
            .first()
            .ok_or_else(|| StoreError::Backend("the change feed row is missing".into()))?;
        let last: i64 = first.try_get(0).map_err(backend)?;
        let pruned: i64 = first.try_get(1).map_err(backend)?;
        let position = u64::try_from(last.max(pruned)).unwrap_or(0);
        // Behind the pruned changes, or ahead of the feed (a database restored from a copy): the
        // reader can't know what changed.
        if since < pruned || since > last {
            return Ok((position, Changes::Truncated));
        }
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) > CHANGES_LISTED {
            return Ok((position, Changes::Truncated));
        }
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind: Option<String> = row.try_get(2).map_err(backend)?;
            let key: Option<String> = row.try_get(3).map_err(backend)?;
            let (Some(kind), Some(key)) = (kind, key) else {
                continue;
            };
            match decode_change(&kind, key) {
                Some(k) => keys.push(k),
                // Written by a newer version of kinko: consider everything changed.
                None => return Ok((position, Changes::Truncated)),
            }
        }
        Ok((position, Changes::Keys(keys)))
    }

    /// A write rolled back: fails when the database can't take writes (down, read-only, a standby,
    /// out of disk for its WAL).
    async fn check_writable(&self) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('kinko_write_probe', '\\x00'::bytea) ON CONFLICT (key) DO NOTHING",
            &[],
        )
        .await
        .map_err(db)?;
        tx.rollback().await.map_err(db)
    }

    /// Closes the pool: connections in use are closed when returned, later calls fail.
    fn close(&self) {
        self.pool.close();
    }
}

/// Replaces a secret's searchable terms with those of `secret`; leaves them when they are the
/// same (most updates: a new value, a label moved, an access date), so such writes add no index
/// churn.
async fn write_secret_terms(tx: &Transaction<'_>, secret_id: i64, secret: &Secret) -> Result<(), StoreError> {
    let mut terms: Vec<(&str, i64, String)> = secret
        .filter_terms()
        .into_iter()
        .map(|t| (t.kind.code(), t.attribute, t.text))
        .collect();
    terms.sort_unstable();
    let select = tx
        .prepare_cached("SELECT kind, attribute, term FROM secret_terms WHERE secret_id = $1")
        .await
        .map_err(db)?;
    let mut kept: Vec<(String, i64, String)> = Vec::new();
    for row in tx.query(&select, &[&secret_id]).await.map_err(db)? {
        kept.push((
            row.try_get(0).map_err(backend)?,
            row.try_get(1).map_err(backend)?,
            row.try_get(2).map_err(backend)?,
        ));
    }
    kept.sort_unstable();
    let same = kept.len() == terms.len()
        && kept
            .iter()
            .zip(&terms)
            .all(|(k, t)| k.0 == t.0 && k.1 == t.1 && k.2 == t.2);
    if same {
        return Ok(());
    }
    let kinds: Vec<&str> = terms.iter().map(|t| t.0).collect();
    let attributes: Vec<i64> = terms.iter().map(|t| t.1).collect();
    let texts: Vec<&str> = terms.iter().map(|t| t.2.as_str()).collect();
    let delete = tx
        .prepare_cached("DELETE FROM secret_terms WHERE secret_id = $1")
        .await
        .map_err(db)?;
    tx.execute(&delete, &[&secret_id]).await.map_err(db)?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO secret_terms (secret_id, kind, attribute, term)
             SELECT $1, k, a, t FROM unnest($2::text[], $3::bigint[], $4::text[]) AS u (k, a, t)",
        )
        .await
        .map_err(db)?;
    tx.execute(&insert, &[&secret_id, &kinds, &attributes, &texts])
        .await
        .map_err(db)?;
    Ok(())
}

/// Writes the terms of every secret (the migration that adds `secret_terms`).
pub(crate) async fn write_all_secret_terms(tx: &Transaction<'_>) -> Result<(), StoreError> {
    for row in tx
        .query("SELECT id, doc, revision FROM secrets", &[])
        .await
        .map_err(db)?
    {
        let id: i64 = row.try_get(0).map_err(backend)?;
        let text: &str = row.try_get(1).map_err(backend)?;
        let secret: Secret = serde_json::from_str(text).map_err(backend)?;
        write_secret_terms(tx, id, &secret).await?;
    }
    Ok(())
}

/// One secret write inside an open transaction.
async fn apply_secret_write(w: &mut Write<'_>, write: &SecretWrite) -> Result<(), StoreError> {
    match write {
        SecretWrite::Create { secret, values } => {
            let doc = serde_json::to_string(secret).map_err(backend)?;
            let id: i64 = w
                .query_opt(
                    "INSERT INTO secrets (arn, account_id, region, name, created_ms, deletion_ms, revision, doc, rotation_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8) RETURNING id",
                    &[
                        &secret.arn,
                        &secret.account_id,
                        &secret.region,
                        &secret.name,
                        &secret.created_date.millis(),
                        &secret.deletion_date.map(Timestamp::millis),
                        &doc,
                        &secret.rotation_due_date().map(Timestamp::millis),
                    ],
                )
                .await?
                .ok_or_else(|| StoreError::Backend("the insert returned no id".into()))?
                .get(0);
            insert_values(w, id, values).await?;
            write_secret_terms(&w.tx, id, secret).await?;
            w.changed(SECRET, &secret.arn);
        }
        SecretWrite::Update {
            secret,
            new_values,
            removed_versions,
        } => {
            let doc = serde_json::to_string(secret).map_err(backend)?;
            let Some(row) = w
                .query_opt(
                    "UPDATE secrets SET doc = $1, deletion_ms = $2, rotation_ms = $5, revision = revision + 1
                     WHERE arn = $3 AND revision = $4 RETURNING id",
                    &[
                        &doc,
                        &secret.deletion_date.map(Timestamp::millis),
                        &secret.arn,
                        &secret.revision,
                        &secret.rotation_due_date().map(Timestamp::millis),
                    ],
                )
                .await?
            else {
                return Err(StoreError::Conflict);
            };
            let id: i64 = row.get(0);
            if !removed_versions.is_empty() {
                w.execute(
                    "DELETE FROM secret_values WHERE secret_id = $1 AND version_id = ANY($2)",
                    &[&id, removed_versions],
                )
                .await?;
            }
            insert_values(w, id, new_values).await?;
            write_secret_terms(&w.tx, id, secret).await?;
            w.changed(SECRET, &secret.arn);
        }
        SecretWrite::Delete { arn, revision } => {
            // The values and terms go with the secret (ON DELETE CASCADE).
            let n = w
                .execute(
                    "DELETE FROM secrets WHERE arn = $1 AND revision = $2",
                    &[arn, revision],
                )
                .await?;
            if n != 1 {
                return Err(StoreError::Conflict);
            }
            w.changed(SECRET, arn);
        }
    }
    Ok(())
}
