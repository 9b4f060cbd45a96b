//! Operator commands on a data dir: root key rotation, the local admin socket through which
//! `kinko rotate-root-key` asks a running server to rotate, and backups.
//!
//! A rotation re-wraps everything sealed under the root key (KMS key material, access key secrets,
//! the root key check value) in one store transaction, then switches the running server to the new
//! key. With a key file, the new key is first written to `root.key.next` (synced), the transaction
//! commits, and `root.key.next` is renamed over `root.key`; start-up finishes or undoes a rotation
//! a crash interrupted (see `bootstrap`). STS session tokens are sealed under the root key and
//! not stored: those issued before a rotation stop opening, so every session ends with it.
//!
//! The socket is `DATA_DIR/kinko.sock`, mode 0600, and only answers peers running as the server's
//! own user (or root): whoever may use it could read `root.key` in the same directory anyway.
//! The protocol is one JSON line each way.

use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kinko_core::store::{RootRewrap, RootSealed, Store};
use kinko_crypto::{RootKey, SharedRootKey};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::bootstrap::{self, DB_FILE, META_ROOT_CHECK, StartError, next_key_path, sync_dir_of};
use crate::config::Config;
use crate::sqlite;

/// The admin socket's file name in the data dir.
pub const ADMIN_SOCKET: &str = "kinko.sock";
/// Longest request line accepted on the admin socket.
const MAX_REQUEST: u64 = 64 * 1024;
const OP_ROTATE: &str = "rotate-root-key";
const ENV_NEEDS_NEW_KEY: &str = "the root key is given in KINKO_ROOT_KEY, so the new one must be given too: set \
                                 KINKO_NEW_ROOT_KEY to the base64 of 32 random bytes";

/// What a root key rotation did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotateReport {
    /// Done by a running server (through its admin socket) rather than on a stopped data dir.
    pub online: bool,
    pub kms_materials: u64,
    pub access_keys: u64,
    /// The key file that holds the new root key; `None` when the root key is given in
    /// `KINKO_ROOT_KEY` (the operator keeps the new one).
    pub key_file: Option<PathBuf>,
    /// Something the operator must know although the rotation was committed.
    pub warning: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("no kinko data dir at {0} (it holds no {DB_FILE})")]
    NoDataDir(PathBuf),
    #[error("KINKO_NEW_ROOT_KEY: {0}")]
    NewKey(String),
    #[error(transparent)]
    Open(StartError),
    #[error("the data dir {0} is in use by another kinko process, and no kinko server answers on {1}: {2}")]
    NoServer(PathBuf, PathBuf, io::Error),
    #[error("root key rotation failed: {0}")]
    Failed(String),
}

/// Performs rotations of one data dir's root key, one at a time.
pub(crate) struct Rotator {
    store: Arc<dyn Store>,
    root: SharedRootKey,
    /// `None` when the root key is given in `KINKO_ROOT_KEY`.
    key_file: Option<PathBuf>,
    online: bool,
    /// Held for the length of a rotation.
    running: tokio::sync::Mutex<()>,
    /// No more rotations: the server is stopping, or a rotation ended in an unknown state.
    closed: AtomicBool,
}

/// Opens a value under `old` and seals it under `new`. A value already under `new` (written by a
/// request that sealed after the switch) is kept as it is.
fn reseal(old: &RootKey, new: &RootKey, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
    match old.open(sealed, aad) {
        Ok(plain) => new.seal(&plain, aad).map_err(|e| e.to_string()),
        Err(_) if new.open(sealed, aad).is_ok() => Ok(sealed.to_vec()),
        Err(_) => Err("sealed under neither the current nor the new root key".into()),
    }
}

pub(crate) fn rewrap_fn(old: Arc<RootKey>, new: Arc<RootKey>) -> Arc<RootRewrap> {
    Arc::new(move |value: RootSealed<'_>| match value {
        RootSealed::KmsMaterial {
            key_arn,
            version,
            wrapped,
        } => reseal(
            &old,
            &new,
            wrapped,
            &kinko_api::keyring::material_aad(key_arn, version),
        ),
        RootSealed::AccessKey {
            access_key_id,
            sealed_secret,
        } => reseal(&old, &new, sealed_secret, access_key_id.as_bytes()),
        RootSealed::MfaSeed {
            serial_number,
            sealed_seed,
        } => reseal(&old, &new, sealed_seed, serial_number.as_bytes()),
        RootSealed::StackValue {
            stack_id,
            name,
            sealed,
        } => reseal(
            &old,
            &new,
            sealed,
            &kinko_api::cloudformation::sealed_aad(stack_id, name),
        ),
        RootSealed::Meta { key, value } if key == META_ROOT_CHECK => {
            if old.verify_check(value) {
                new.make_check().map_err(|e| e.to_string())
            } else if new.verify_check(value) {
                Ok(value.to_vec())
            } else {
                Err("the check value matches neither the current nor the new root key".into())
            }
        }
        RootSealed::Meta { key, .. } => Err(format!("{key} is not sealed under the root key")),
    })
}

fn io_failure(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

impl Rotator {
    pub fn new(store: Arc<dyn Store>, root: SharedRootKey, key_file: Option<PathBuf>, online: bool) -> Self {
        Rotator {
            store,
            root,
            key_file,
            online,
            running: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
        }
    }

    /// Refuses later rotations and waits for one under way to end.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        drop(self.running.lock().await);
    }

    /// Re-wraps everything under `new` (a fresh key when `None` and the key lives in a file) and
    /// switches to it.
    pub async fn rotate(&self, new: Option<RootKey>) -> Result<RotateReport, String> {
        let _one = self.running.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return Err("the server is stopping, or an earlier rotation needs a restart first".into());
        }
        let current = self.root.current();
        let new = match (new, &self.key_file) {
            (Some(k), _) => k,
            (None, Some(_)) => RootKey::generate().map_err(|e| e.to_string())?,
            (None, None) => return Err(ENV_NEEDS_NEW_KEY.into()),
        };
        if new == *current {
            return Err("the new root key is the current one".into());
        }
        match self.store.meta_get(META_ROOT_CHECK).await {
            Ok(Some(check)) if current.verify_check(&check) => {}
            Ok(_) => return Err("the data dir's check value does not match the root key in use".into()),
            Err(e) => return Err(format!("reading the check value: {e}")),
        }
        if let Some(path) = &self.key_file {
            settle_key_files(path, &current)?;
            new.write_file(&next_key_path(path))
                .map_err(|e| format!("writing the new root key: {e}"))?;
        }
        let new = Arc::new(new);
        self.root.stage((*new).clone());
        let outcome = self
            .store
            .rewrap_root_sealed(&[META_ROOT_CHECK], rewrap_fn(current.clone(), new.clone()))
            .await;
        let (counts, mut warning) = match outcome {
            Ok(counts) => (counts, None),
            Err(e) => {
                // Nothing changed, unless the answer was lost after a commit: the check value
                // tells which key the data dir is under now.
                match self.store.meta_get(META_ROOT_CHECK).await {
                    Ok(Some(check)) if current.verify_check(&check) => {
                        self.root.unstage();
                        if let Some(path) = &self.key_file {
                            let next = next_key_path(path);
                            let _ = std::fs::remove_file(&next);
                            sync_dir_of(&next);
                        }
                        return Err(format!("nothing was changed: {e}"));
                    }
                    Ok(Some(check)) if new.verify_check(&check) => (
                        Default::default(),
                        Some(format!(
                            "the rotation was committed, but its answer was lost ({e}); the counts are unknown"
                        )),
                    ),
                    _ => {
                        // Keep both keys in use and `root.key.next` on disk: the next start settles
                        // which key the data dir is under.
                        self.closed.store(true, Ordering::SeqCst);
                        return Err(format!(
                            "the outcome is unknown ({e}); restart the server, which finishes or undoes the rotation"
                        ));
                    }
                }
            }
        };
        self.root.promote();
        if let Some(path) = &self.key_file {
            let next = next_key_path(path);
            if let Err(e) = std::fs::rename(&next, path) {
                warning = Some(format!(
                    "the rotation was committed, but {} could not be renamed to {} ({e}); the new key \
                     is in the first, and the next start moves it into place",
                    next.display(),
                    path.display()
                ));
            }
            sync_dir_of(path);
        }
        tracing::info!(
            kms_materials = counts.kms_materials,
            access_keys = counts.access_keys,
            mfa_devices = counts.mfa_devices,
            stack_values = counts.stack_values,
            "root key rotated"
        );
        Ok(RotateReport {
            online: self.online,
            kms_materials: counts.kms_materials,
            access_keys: counts.access_keys,
            key_file: self.key_file.clone(),
            warning,
        })
    }
}

/// Before a rotation: `root.key.next` left by an earlier rotation of this process is finished or
/// dropped, and `root.key` must hold the key in use (so that a crash during this rotation leaves
/// a key file that opens the data dir).
fn settle_key_files(path: &Path, current: &RootKey) -> Result<(), String> {
    let next = next_key_path(path);
    if std::fs::symlink_metadata(&next).is_ok() {
        match RootKey::load(&next) {
            // An earlier rotation committed, but its rename failed.
            Ok(k) if k == *current => {
                std::fs::rename(&next, path).map_err(|e| io_failure("moving into place", &next, e))?;
            }
            // An earlier rotation that was not committed.
            _ => std::fs::remove_file(&next).map_err(|e| io_failure("removing", &next, e))?,
        }
        sync_dir_of(path);
    }
    match RootKey::load(path) {
        Ok(k) if k == *current => Ok(()),
        Ok(_) => Err(format!(
            "{} does not hold the root key in use; refusing to rotate",
            path.display()
        )),
        Err(e) => Err(format!("reading the root key file: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// The command.

#[derive(Serialize, Deserialize)]
struct Request {
    op: String,
    /// The new root key, base64; when absent, the server generates one (key file only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_root_key: Option<Zeroizing<String>>,
}

#[derive(Serialize, Deserialize)]
struct Response {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    report: Option<RotateReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `kinko rotate-root-key`: rotates the root key of the data dir in `config` (its root key is
/// found as `kinko server` finds it). When no server holds the data dir, it is opened here and
/// rotated offline; otherwise the server that holds it is asked to rotate, through its admin
/// socket, and keeps serving. `new_root_key` (base64) is the new key; required when the root key
/// is given in `KINKO_ROOT_KEY`, else generated.
pub async fn rotate_root_key(
    config: &Config,
    new_root_key: Option<Zeroizing<String>>,
) -> Result<RotateReport, RotateError> {
    let new = new_root_key
        .as_deref()
        .map(|b64| RootKey::from_base64(b64).map_err(|e| RotateError::NewKey(e.to_string())))
        .transpose()?;
    if let Some(url) = &config.store {
        return rotate_database(config, url, new).await;
    }
    if !config.data_dir.join(DB_FILE).is_file() {
        return Err(RotateError::NoDataDir(config.data_dir.clone()));
    }
    match bootstrap::open_data_dir(config).await {
        Ok(opened) => {
            let store = opened.store.clone();
            let rotator = Rotator::new(
                opened.store,
                SharedRootKey::new(opened.root),
                opened.key_file,
                false,
            );
            let result = rotator.rotate(new).await.map_err(RotateError::Failed);
            store.close();
            drop(opened.lock);
            result
        }
        Err(StartError::InUse(dir)) => ask_server(&dir, new_root_key).await,
        Err(e) => Err(RotateError::Open(e)),
    }
}

/// `kinko rotate-root-key --store URL`: rotates a database several nodes share, from this
/// process, in one transaction (`Store::rewrap_root_sealed`: the root-sealed values are KMS key
/// material and access key secrets, a few thousand rows at most, so neither batches nor a lease
/// are needed; a concurrent rotation waits for its table locks, then finds nothing under the key
/// it expects and changes nothing). The nodes switch on their own (see `ring`): each must hold
/// the new key beforehand. The new key is never written anywhere by this. Running it again after
/// it committed changes nothing and succeeds, so a rotation whose answer was lost is simply run
/// again.
async fn rotate_database(
    config: &Config,
    url: &str,
    new: Option<RootKey>,
) -> Result<RotateReport, RotateError> {
    let sources = crate::ring::KeySources::from_config(config);
    let new = match new {
        Some(k) => k,
        None => sources.next().map_err(RotateError::NewKey)?.ok_or_else(|| {
            RotateError::NewKey(
                "a database several nodes share needs the new root key given (KINKO_NEW_ROOT_KEY or \
                 --new-root-key-file), and every node must hold it before the rotation"
                    .into(),
            )
        })?,
    };
    let current = match (&sources.root_base64, &sources.root_file) {
        (Some(b64), _) => RootKey::from_base64(b64),
        (None, Some(path)) => RootKey::load(path),
        (None, None) => RootKey::load(&config.data_dir.join(bootstrap::ROOT_KEY_FILE)),
    }
    .map_err(|e| RotateError::Open(StartError::RootKey(e.to_string())))?;
    if new == current {
        return Err(RotateError::NewKey("the new root key is the current one".into()));
    }
    if !crate::postgres::is_postgres_url(url) {
        return Err(RotateError::Open(StartError::Config(format!(
            "--store must be a postgres:// URL, got {}",
            crate::postgres::redacted(url)
        ))));
    }
    let store = crate::postgres::open(url)
        .await
        .map_err(|e| RotateError::Open(e.into()))?;
    let check = store
        .meta_get(META_ROOT_CHECK)
        .await
        .map_err(|e| RotateError::Open(e.into()))?
        .ok_or_else(|| RotateError::Failed("the database holds no kinko data".into()))?;
    let already = new.verify_check(&check);
    if !already && !current.verify_check(&check) {
        return Err(RotateError::Open(StartError::DatabaseRootKeyMismatch));
    }
    let counts = store
        .rewrap_root_sealed(&[META_ROOT_CHECK], rewrap_fn(Arc::new(current), Arc::new(new)))
        .await
        .map_err(|e| {
            RotateError::Failed(format!(
                "{e}; nothing was changed, unless the answer to the commit was lost: run the rotation again \
                 (after a commit it changes nothing)"
            ))
        })?;
    store.close();
    tracing::info!(
        kms_materials = counts.kms_materials,
        access_keys = counts.access_keys,
        mfa_devices = counts.mfa_devices,
        stack_values = counts.stack_values,
        "root key of the database rotated"
    );
    Ok(RotateReport {
        online: true,
        kms_materials: counts.kms_materials,
        access_keys: counts.access_keys,
        key_file: None,
        warning: already
            .then(|| "the database was under the new root key already: nothing needed re-wrapping".into()),
    })
}

async fn ask_server(
    data_dir: &Path,
    new_root_key: Option<Zeroizing<String>>,
) -> Result<RotateReport, RotateError> {
    let path = data_dir.join(ADMIN_SOCKET);
    let no_server = |e| RotateError::NoServer(data_dir.to_owned(), path.clone(), e);
    let mut stream = UnixStream::connect(&path).await.map_err(no_server)?;
    let request = Request {
        op: OP_ROTATE.into(),
        new_root_key,
    };
    let mut line =
        Zeroizing::new(serde_json::to_vec(&request).map_err(|e| RotateError::Failed(e.to_string()))?);
    line.push(b'\n');
    stream.write_all(&line).await.map_err(no_server)?;
    let mut answer = String::new();
    BufReader::new(stream)
        .take(MAX_REQUEST)
        .read_line(&mut answer)
        .await
        .map_err(no_server)?;
    let response: Response = serde_json::from_str(&answer).map_err(|e| {
        RotateError::Failed(format!(
            "the server's answer could not be read ({e}); see its log for the outcome"
        ))
    })?;
    match (response.ok, response.report, response.error) {
        (true, Some(report), _) => Ok(report),
        (_, _, error) => Err(RotateError::Failed(
            error.unwrap_or_else(|| "the server answered without a result".into()),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Backups.

/// What `kinko backup` wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The root key file the copy was checked against; `None` when the key is given in
    /// `KINKO_ROOT_KEY`.
    pub key_file: Option<PathBuf>,
    /// The copy was checked to open with that key (false: the key could not be read here).
    pub verified: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no kinko data dir at {0} (it holds no {DB_FILE})")]
    NoDataDir(PathBuf),
    #[error("backup failed: {0}")]
    Failed(String),
    #[error(
        "the copy does not open with the root key given (a root key rotation ran meanwhile, or the key is not          this data dir's); it was removed: take the backup again"
    )]
    KeyMismatch,
}

/// `kinko backup`: writes a consistent copy of the data dir's database to `to` (a new file, mode
/// 0600), whether or not a server is running on it, and checks that the copy opens with the
/// root key found as `kinko server` finds it.
pub fn backup(config: &Config, to: &Path) -> Result<BackupReport, BackupError> {
    let db = config.data_dir.join(DB_FILE);
    if !db.is_file() {
        return Err(BackupError::NoDataDir(config.data_dir.clone()));
    }
    sqlite::backup(&db, to).map_err(|e| BackupError::Failed(e.to_string()))?;
    sync_dir_of(to);
    let check = sqlite::peek_meta(to, META_ROOT_CHECK)
        .map_err(|e| BackupError::Failed(e.to_string()))?
        .ok_or_else(|| BackupError::Failed("the copy holds no root key check value".into()))?;
    let key_file = config.root_key_base64.is_none().then(|| {
        config
            .root_key_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join(bootstrap::ROOT_KEY_FILE))
    });
    let key = match (&config.root_key_base64, &key_file) {
        (Some(b64), _) => RootKey::from_base64(b64).ok(),
        (None, Some(path)) => RootKey::load(path).ok(),
        (None, None) => None,
    };
    match key {
        Some(k) if k.verify_check(&check) => Ok(BackupReport {
            key_file,
            verified: true,
        }),
        Some(_) => {
            let _ = std::fs::remove_file(to);
            Err(BackupError::KeyMismatch)
        }
        None => Ok(BackupReport {
            key_file,
            verified: false,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// The socket.

/// The admin socket of a running server.
pub(crate) struct AdminSocket {
    path: PathBuf,
    accept: JoinHandle<()>,
    rotator: Arc<Rotator>,
}

impl AdminSocket {
    /// Listens on `DATA_DIR/kinko.sock`, replacing a socket file a crashed server left (this
    /// process holds the data dir's lock).
    pub async fn start(data_dir: &Path, rotator: Arc<Rotator>) -> io::Result<AdminSocket> {
        let path = data_dir.join(ADMIN_SOCKET);
        // Bound under a temporary name and made private before it appears under its own.
        let tmp = data_dir.join(format!(".{ADMIN_SOCKET}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp)?;
        let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let owner = std::fs::metadata(&path)?.uid();
        let r = rotator.clone();
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve(stream, owner, r.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "admin socket accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(AdminSocket {
            path,
            accept,
            rotator,
        })
    }

    /// Stops listening, waits for a rotation under way and removes the socket file.
    pub async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
        self.rotator.close().await;
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(mut stream: UnixStream, owner: u32, rotator: Arc<Rotator>) {
    let response = match handle(&mut stream, owner, rotator).await {
        Ok(report) => Response {
            ok: true,
            report: Some(report),
            error: None,
        },
        Err(error) => Response {
            ok: false,
            report: None,
            error: Some(error),
        },
    };
    let mut line = serde_json::to_vec(&response).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
    line.push(b'\n');
    let _ = stream.write_all(&line).await;
    let _ = stream.shutdown().await;
}

async fn handle(stream: &mut UnixStream, owner: u32, rotator: Arc<Rotator>) -> Result<RotateReport, String> {
    let peer = stream
        .peer_cred()
        .map_err(|e| format!("cannot tell who is asking: {e}"))?;
    if peer.uid() != owner && peer.uid() != 0 {
        tracing::warn!(
            uid = peer.uid(),
            "admin socket: request from another user refused"
        );
        return Err("permission denied".into());
    }
    let mut line = Zeroizing::new(String::new());
    BufReader::new(stream.split().0)
        .take(MAX_REQUEST)
        .read_line(&mut line)
        .await
        .map_err(|e| format!("reading the request: {e}"))?;
    let request: Request = serde_json::from_str(&line).map_err(|_| "malformed request".to_owned())?;
    if request.op != OP_ROTATE {
        return Err(format!("unknown operation {:?}", request.op));
    }
    let new = request
        .new_root_key
        .as_deref()
        .map(|b64| RootKey::from_base64(b64).map_err(|e| format!("KINKO_NEW_ROOT_KEY: {e}")))
        .transpose()?;
    tracing::info!("root key rotation requested on the admin socket");
    // In its own task: a client that goes away does not cut a rotation short.
    tokio::spawn(async move { rotator.rotate(new).await })
        .await
        .map_err(|e| format!("rotation task failed: {e}"))?
}
