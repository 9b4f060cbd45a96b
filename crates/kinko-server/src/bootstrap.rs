//! Start-up: the root key, the store, and on a new data dir the management account with its root
//! access key. A data dir is only ever opened with the root key it was created with (or, after a
//! rotation, the one it was rotated to); a rotation interrupted by a crash is finished or undone
//! here, before anything else reads the key.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kinko_api::{Keyring, Services};
use kinko_core::Clock;
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, Principal};
use kinko_core::store::{Account, Store, StoreError};
use kinko_crypto::{RootKey, SharedRootKey};
use kinko_store_cache::{CacheConfig, CachedStore, Freshness};
use rand::Rng;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::sqlite;

pub(crate) const DB_FILE: &str = "kinko.db";
pub(crate) const ROOT_KEY_FILE: &str = "root.key";
const CREDENTIALS_FILE: &str = "root-credentials";
const LOCK_FILE: &str = "kinko.lock";
pub(crate) const META_ROOT_CHECK: &str = "root_key_check";
const META_ACCOUNT: &str = "management_account_id";
const META_ROOT_ACCESS_KEY: &str = "root_access_key_id";
pub const DEV_ACCOUNT: &str = "000000000000";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data dir {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("root key: {0}")]
    RootKey(String),
    #[error(
        "the data dir {0} was created with a root key that is not available here; give it with --root-key-file or KINKO_ROOT_KEY (nothing was changed)"
    )]
    RootKeyMissing(PathBuf),
    #[error(
        "the root key given does not match the one the data dir {0} was created with or last rotated to; refusing to start (nothing was changed)"
    )]
    RootKeyMismatch(PathBuf),
    #[error(
        "the root key given does not match the one the database was created with or last rotated to; refusing to start (nothing was changed). If the database was rotated to a new root key, give this node that key (in its root key file, KINKO_ROOT_KEY, --new-root-key-file or KINKO_NEW_ROOT_KEY)"
    )]
    DatabaseRootKeyMismatch,
    #[error("the data dir {0} is in use by another kinko process")]
    InUse(PathBuf),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// The management account's root access key.
#[derive(Clone)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    /// False when the data dir already existed: the secret is then not known to this process.
    pub known: bool,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .finish()
    }
}

pub(crate) struct Booted {
    /// Held for the server's life: one process owns a data dir (its store cache relies on it).
    pub lock: Option<std::fs::File>,
    pub services: Services,
    pub store: Arc<CachedStore>,
    /// The root key every part of the server uses; rotated in place.
    pub root: SharedRootKey,
    /// Where the root key lives on disk: `None` in dev mode or when it is given in `KINKO_ROOT_KEY`.
    pub key_file: Option<PathBuf>,
    pub credentials: RootCredentials,
    pub account_id: String,
}

fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Operator-given access key ids and secrets: any printable ASCII string of 3 to 128 characters.
fn valid_credential(s: &str) -> bool {
    (3..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// An access key id shaped like AWS's: `AKIA` + 16 characters of base32.
pub(crate) fn generate_access_key_id(prefix: &str) -> String {
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let tail: String = (0..16)
        .map(|_| char::from(B32[rng.random_range(0..B32.len())]))
        .collect();
    format!("{prefix}{tail}")
}

/// A 40-character secret access key.
pub(crate) fn generate_secret_access_key() -> Zeroizing<String> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
    let mut rng = rand::rng();
    Zeroizing::new(
        (0..40)
            .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
            .collect(),
    )
}

fn generate_account_id() -> String {
    let mut rng = rand::rng();
    let first = rng.random_range(1..=9u8);
    let rest: String = (0..11)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    format!("{first}{rest}")
}

fn write_private(path: &Path, content: &str) -> Result<(), StartError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StartError::Write(path.to_owned(), e))?;
    f.write_all(content.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| StartError::Write(path.to_owned(), e))
}

fn root_key_error(e: kinko_crypto::CryptoError) -> StartError {
    StartError::RootKey(e.to_string())
}

/// Seals an access key's secret under the root key, bound to its key id.
pub(crate) fn seal_access_key(
    root: &SharedRootKey,
    access_key_id: &str,
    secret: &str,
) -> Result<Vec<u8>, StartError> {
    root.seal(secret.as_bytes(), access_key_id.as_bytes())
        .map_err(root_key_error)
}

pub(crate) async fn bootstrap(config: &Config, clock: Arc<dyn Clock>) -> Result<Booted, StartError> {
    let (store, root, fresh, mut lock, key_file, freshness) = if let Some(url) = &config.store {
        let (store, root, fresh, key_file) = open_database(config, url).await?;
        // Other nodes write the same database: every cached read first applies their changes.
        (store, root, fresh, None, key_file, Freshness::Shared)
    } else if config.dev {
        let root = match &config.root_key_base64 {
            Some(b64) => RootKey::from_base64(b64).map_err(root_key_error)?,
            None => RootKey::generate().map_err(root_key_error)?,
        };
        // This process is the only writer of a database in its memory.
        (
            sqlite::in_memory()?,
            root,
            true,
            None,
            None,
            Freshness::SingleProcess,
        )
    } else {
        let opened = open_data_dir(config).await?;
        // This process is the only writer of the database: it holds the data dir's lock.
        (
            opened.store,
            opened.root,
            opened.fresh,
            Some(opened.lock),
            opened.key_file,
            Freshness::SingleProcess,
        )
    };
    let shared = freshness == Freshness::Shared;
    let root = SharedRootKey::new(root);
    let store = Arc::new(CachedStore::new(
        store,
        CacheConfig {
            capacity: config.cache_capacity,
            freshness,
        },
    ));
    let store_dyn: Arc<dyn Store> = store.clone();
    let keyring = Arc::new(Keyring::new(store_dyn.clone(), clock.clone(), root.clone()));
    let services = Services::new(store_dyn.clone(), clock.clone(), keyring.clone());

    let existing_account = if fresh {
        None
    } else {
        existing_account(store_dyn.as_ref(), shared).await?
    };
    if let Some(account_id) = existing_account {
        let access_key_id = store_dyn
            .meta_get(META_ROOT_ACCESS_KEY)
            .await?
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let credentials = RootCredentials {
            access_key_id,
            secret_access_key: Zeroizing::new(String::new()),
            known: false,
        };
        return Ok(Booted {
            lock: lock.take(),
            services,
            store,
            root,
            key_file,
            credentials,
            account_id,
        });
    }

    // A new data dir (or dev mode): the management account and its root access key.
    let account_id = if config.dev {
        DEV_ACCOUNT.to_owned()
    } else {
        config.account_id.clone().unwrap_or_else(generate_account_id)
    };
    if !valid_account_id(&account_id) {
        return Err(StartError::Config(format!(
            "KINKO_ACCOUNT_ID must be 12 digits, got {account_id:?}"
        )));
    }
    let (access_key_id, secret, generated) =
        match (&config.root_access_key_id, &config.root_secret_access_key) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone(), false),
            (None, None) if config.dev => ("test".to_owned(), Zeroizing::new("test".to_owned()), false),
            (None, None) => (generate_access_key_id("AKIA"), generate_secret_access_key(), true),
            _ => {
                return Err(StartError::Config(
                    "set both KINKO_ROOT_ACCESS_KEY_ID and KINKO_ROOT_SECRET_ACCESS_KEY, or neither".into(),
                ));
            }
        };
    if !valid_credential(&access_key_id) || !valid_credential(&secret) {
        return Err(StartError::Config(
            "root access key id and secret must be printable ASCII, 3 to 128 characters".into(),
        ));
    }
    let now = clock.now();
    // A start that died half-way through this leaves rows behind: taking them over is fine.
    let ignore_existing = |r: Result<(), StoreError>| match r {
        Err(StoreError::Conflict) => Ok(()),
        other => other,
    };
    ignore_existing(
        store_dyn
            .put_account(Account {
                account_id: account_id.clone(),
                name: "management".into(),
                email: format!("root@{account_id}.kinko.local"),
                created_date: now,
            })
            .await,
    )?;
    ignore_existing(
        store_dyn
            .put_access_key(AccessKeyRecord {
                access_key_id: access_key_id.clone(),
                principal: Principal::root(&account_id),
                status: AccessKeyStatus::Active,
                sealed_secret: seal_access_key(keyring.root(), &access_key_id, &secret)?,
                created_date: now,
            })
            .await,
    )?;
    store_dyn
        .meta_put_if_absent(META_ROOT_ACCESS_KEY, access_key_id.clone().into_bytes())
        .await?;
    store_dyn
        .meta_put_if_absent(META_ACCOUNT, account_id.clone().into_bytes())
        .await?;
    if !config.dev && generated {
        let path = config.data_dir.join(CREDENTIALS_FILE);
        let _ = std::fs::remove_file(&path);
        write_private(
            &path,
            &format!(
                "[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {}\n",
                secret.as_str()
            ),
        )?;
    }
    let credentials = RootCredentials {
        access_key_id,
        secret_access_key: secret,
        known: true,
    };
    Ok(Booted {
        lock: lock.take(),
        services,
        store,
        root,
        key_file,
        credentials,
        account_id,
    })
}

/// The management account of an existing store. On a database several nodes share, a node that
/// starts while another one is creating it waits for it (a few seconds at most).
async fn existing_account(store: &dyn Store, shared: bool) -> Result<Option<String>, StartError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = store
            .meta_get(META_ACCOUNT)
            .await?
            .and_then(|b| String::from_utf8(b).ok());
        if found.is_some() || !shared || std::time::Instant::now() >= deadline {
            return Ok(found);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Opens the database a `--store` URL names, and the root key: from `KINKO_ROOT_KEY`, or the key
/// file (created with the database when both are new). Returns the store, the root key, whether
/// this node created the database's root key check (and so its management account), and the key
/// file. In dev mode the database must be new: its root key is not kept.
async fn open_database(
    config: &Config,
    url: &str,
) -> Result<(Arc<dyn Store>, RootKey, bool, Option<PathBuf>), StartError> {
    if !crate::postgres::is_postgres_url(url) {
        return Err(StartError::Config(format!(
            "--store must be a postgres:// URL (the SQLite store is the default), got {}",
            crate::postgres::redacted(url)
        )));
    }
    let store = crate::postgres::open(url).await?;
    let dir = &config.data_dir;
    let check = store.meta_get(META_ROOT_CHECK).await?;
    let (root, key_file) = if config.dev {
        if check.is_some() {
            return Err(StartError::Config(
                "dev mode with --store needs a new, empty database (dev mode keeps no root key)".into(),
            ));
        }
        let root = match &config.root_key_base64 {
            Some(b64) => RootKey::from_base64(b64).map_err(root_key_error)?,
            None => RootKey::generate().map_err(root_key_error)?,
        };
        (root, None)
    } else {
        let key_path = config
            .root_key_file
            .clone()
            .unwrap_or_else(|| dir.join(ROOT_KEY_FILE));
        let root = match (&config.root_key_base64, &check) {
            (Some(b64), _) => RootKey::from_base64(b64).map_err(root_key_error)?,
            (None, Some(check)) => load_key_file(dir, &key_path, check)?,
            (None, None) => {
                if let Some(parent) = key_path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(parent)
                        .map_err(|e| StartError::DataDir(parent.to_owned(), e))?;
                }
                RootKey::load_or_create(&key_path).map_err(root_key_error)?.0
            }
        };
        // After a rotation, a node whose root key file still holds the old key starts with the
        // new key it is given as the next one (see `ring`).
        let root = match &check {
            Some(c) if !root.verify_check(c) => match crate::ring::KeySources::from_config(config).next() {
                Ok(Some(next)) if next.verify_check(c) => next,
                _ => root,
            },
            _ => root,
        };
        (root, config.root_key_base64.is_none().then_some(key_path))
    };
    let fresh = match check {
        Some(check) => {
            if !root.verify_check(&check) {
                return Err(StartError::DatabaseRootKeyMismatch);
            }
            false
        }
        None => {
            let created = store
                .meta_put_if_absent(META_ROOT_CHECK, root.make_check().map_err(root_key_error)?)
                .await?;
            if !created {
                // Another node created the database at the same moment: its key must be ours.
                let check = store.meta_get(META_ROOT_CHECK).await?.unwrap_or_default();
                if !root.verify_check(&check) {
                    return Err(StartError::DatabaseRootKeyMismatch);
                }
            }
            created
        }
    };
    if !config.dev {
        // The root credentials file and the audit log are written there.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StartError::DataDir(dir.clone(), e))?;
    }
    Ok((store, root, fresh, key_file))
}

/// An opened data dir.
pub(crate) struct Opened {
    /// The store, without a cache in front.
    pub store: Arc<dyn Store>,
    pub root: RootKey,
    /// The data dir is new.
    pub fresh: bool,
    /// The data dir's lock, held while this process uses it.
    pub lock: std::fs::File,
    /// The root key file, unless the key was given in `KINKO_ROOT_KEY`.
    pub key_file: Option<PathBuf>,
}

/// Where a rotation writes the new root key before committing it: next to the key file.
pub(crate) fn next_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// Makes a rename or removal in the key file's directory durable. Best effort: not every platform
/// can sync a directory.
pub(crate) fn sync_dir_of(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
}

/// Loads the root key file of an existing data dir whose check value is `check`, finishing or
/// undoing a rotation that a crash interrupted.
///
/// A rotation writes the new key to `root.key.next`, then commits the re-wrapped database, then
/// renames `root.key.next` over `root.key`. So when `root.key.next` is there: if `root.key` still
/// matches the database, the crash came before the commit and `root.key.next` is dropped;
/// otherwise, if `root.key.next` matches, the crash came after it and the rename is finished.
/// If neither matches, nothing is touched.
fn load_key_file(dir: &Path, key_path: &Path, check: &[u8]) -> Result<RootKey, StartError> {
    let current = match RootKey::load(key_path) {
        Ok(k) => Some(k),
        Err(kinko_crypto::CryptoError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(root_key_error(e)),
    };
    let next_path = next_key_path(key_path);
    if std::fs::symlink_metadata(&next_path).is_err() {
        return current.ok_or_else(|| StartError::RootKeyMissing(dir.to_owned()));
    }
    if let Some(k) = current.as_ref().filter(|k| k.verify_check(check)) {
        tracing::warn!(
            "an interrupted root key rotation was not committed: removing {}",
            next_path.display()
        );
        std::fs::remove_file(&next_path).map_err(|e| StartError::Write(next_path.clone(), e))?;
        sync_dir_of(&next_path);
        return Ok(k.clone());
    }
    match RootKey::load(&next_path) {
        Ok(next) if next.verify_check(check) => {
            tracing::warn!(
                "an interrupted root key rotation was committed: moving {} to {}",
                next_path.display(),
                key_path.display()
            );
            std::fs::rename(&next_path, key_path).map_err(|e| StartError::Write(key_path.to_owned(), e))?;
            sync_dir_of(key_path);
            Ok(next)
        }
        _ if current.is_none() => Err(StartError::RootKeyMissing(dir.to_owned())),
        _ => Err(StartError::RootKeyMismatch(dir.to_owned())),
    }
}

/// Opens (or creates) the data dir and its root key.
pub(crate) async fn open_data_dir(config: &Config) -> Result<Opened, StartError> {
    let dir = &config.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StartError::DataDir(dir.clone(), e))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| StartError::Write(lock_path.clone(), e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(StartError::InUse(dir.clone())),
        Err(std::fs::TryLockError::Error(e)) => return Err(StartError::Write(lock_path, e)),
    }
    let db_path = dir.join(DB_FILE);
    let key_path = config
        .root_key_file
        .clone()
        .unwrap_or_else(|| dir.join(ROOT_KEY_FILE));
    let existed = db_path.exists();
    // Read the check value first, so a wrong or missing key changes nothing on disk.
    let check = if existed {
        sqlite::peek_meta(&db_path, META_ROOT_CHECK)?
    } else {
        None
    };
    let root = match (&config.root_key_base64, &check) {
        (Some(b64), _) => RootKey::from_base64(b64).map_err(root_key_error)?,
        (None, Some(check)) => load_key_file(dir, &key_path, check)?,
        (None, None) => RootKey::load_or_create(&key_path).map_err(root_key_error)?.0,
    };
    if let Some(check) = &check
        && !root.verify_check(check)
    {
        return Err(StartError::RootKeyMismatch(dir.clone()));
    }
    if !existed {
        // SQLite gives its -wal and -shm files the database file's mode: make that owner-only.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&db_path)
            .map_err(|e| StartError::Write(db_path.clone(), e))?;
    }
    let store = sqlite::open(&db_path)?;
    let fresh = check.is_none();
    if fresh {
        store
            .meta_put_if_absent(META_ROOT_CHECK, root.make_check().map_err(root_key_error)?)
            .await?;
    }
    let key_file = config.root_key_base64.is_none().then_some(key_path);
    Ok(Opened {
        store,
        root,
        fresh,
        lock,
        key_file,
    })
}
