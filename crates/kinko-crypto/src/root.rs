//! [`RootKey`]: the 256-bit key that lives outside the database.
//!
//! It is either a key file inside the data dir (standard base64 and a newline, mode `0600`,
//! created with the data dir) or supplied by the operator as base64. Everything the database must
//! not reveal on its own (KMS key material, IAM secret access keys) is sealed under it, and a check
//! value sealed under it lets the server refuse to start with the wrong root key.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use zeroize::Zeroizing;

use crate::CryptoError;
use crate::aead::{open, seal};
use crate::key::{Key256, ct_eq, random_bytes};

/// Plaintext of the check value. Not secret: it only proves which root key sealed it.
const CHECK_LABEL: &[u8] = b"kinko root key check v1";
/// Associated data of the check value, distinct from any ARN-based associated data.
const CHECK_AAD: &[u8] = b"kinko/root-key-check";
/// A key file is 44 base64 characters and a newline; anything much larger is not a key file.
const MAX_KEY_FILE_LEN: u64 = 1024;

/// The root key. `Debug` prints `RootKey([redacted])`.
#[derive(Clone, PartialEq, Eq)]
pub struct RootKey(Key256);

impl RootKey {
    /// Wraps an existing key.
    pub fn new(key: Key256) -> Self {
        Self(key)
    }

    /// A fresh random root key that is not written anywhere (for a data dir kept in memory).
    pub fn generate() -> Result<Self, CryptoError> {
        Key256::generate().map(Self)
    }

    /// A root key supplied by the operator as standard base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        Key256::from_base64(text).map(Self)
    }

    /// Reads the key file at `path`: standard base64 of exactly 32 bytes, surrounding whitespace
    /// ignored. A missing file is `CryptoError::Io` with kind `NotFound`; bad content is
    /// `CryptoError::InvalidKey` naming the file, never its content.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let file = File::open(path).map_err(|e| path_error(path, e))?;
        // Sized so that reading never reallocates and leaves no stray copy of the key behind.
        let mut text = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN as usize + 1));
        file.take(MAX_KEY_FILE_LEN + 1)
            .read_to_end(&mut text)
            .map_err(|e| path_error(path, e))?;
        if text.len() as u64 > MAX_KEY_FILE_LEN {
            return Err(CryptoError::InvalidKey(format!(
                "root key file {} is larger than {MAX_KEY_FILE_LEN} bytes; expected the base64 \
                 of a 32-byte key",
                path.display()
            )));
        }
        Key256::from_base64_bytes(&text).map(Self).map_err(|e| match e {
            CryptoError::InvalidKey(msg) => {
                CryptoError::InvalidKey(format!("root key file {}: {msg}", path.display()))
            }
            other => other,
        })
    }

    /// Loads the key file at `path`, or creates it with a fresh key if it does not exist.
    /// Returns the key and whether the file was created.
    ///
    /// Creation is atomic and never replaces an existing file: the key is written to a temporary
    /// file with mode `0600` in the same directory, synced, then linked into place. If another
    /// process creates the file first, its key is loaded instead. An existing file with invalid
    /// content is an error, never overwritten. The parent directory must exist.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        match Self::load(path) {
            Ok(key) => return Ok((key, false)),
            Err(CryptoError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let key = Key256::generate()?;
        let b64 = key.to_base64();
        let mut content = Zeroizing::new(Vec::with_capacity(b64.len() + 1));
        content.extend_from_slice(b64.as_bytes());
        content.push(b'\n');

        let tmp = temp_path(path)?;
        let placed = write_private(&tmp, &content).and_then(|()| place_new(&tmp, path));
        // Best effort: the temporary name is gone after a successful rename.
        let _ = fs::remove_file(&tmp);
        match placed {
            Ok(()) => {
                sync_parent(path);
                Ok((Self(key), true))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load(path).map(|k| (k, false)),
            Err(e) => Err(path_error(path, e)),
        }
    }

    /// Writes the key to `path` in the key file format (base64 and a newline, mode `0600`),
    /// atomically replacing any file there: the key is written to a temporary file in the same
    /// directory, synced, renamed into place, and the directory is synced. After a crash `path`
    /// holds either its previous content or the whole key, never a part of it.
    pub fn write_file(&self, path: &Path) -> Result<(), CryptoError> {
        let b64 = self.0.to_base64();
        let mut content = Zeroizing::new(Vec::with_capacity(b64.len() + 1));
        content.extend_from_slice(b64.as_bytes());
        content.push(b'\n');
        let tmp = temp_path(path)?;
        let written = write_private(&tmp, &content).and_then(|()| fs::rename(&tmp, path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(|e| path_error(path, e))?;
        sync_parent(path);
        Ok(())
    }

    /// Seals `plaintext` under the root key (see [`crate::seal`]); `aad` names what is sealed,
    /// e.g. a KMS key ARN and material version built with [`crate::encode_aad`].
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, plaintext, aad)
    }

    /// Opens a value sealed by [`RootKey::seal`] with the same associated data.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        open(&self.0, sealed, aad)
    }

    /// A key for one purpose derived from the root key (HKDF-SHA256, RFC 5869, with `purpose` as
    /// its info): the same root key and purpose always give the same key, and it reveals nothing
    /// about the root key or keys derived for other purposes.
    pub fn derive(&self, purpose: &[u8]) -> Result<Key256, CryptoError> {
        struct Len;
        impl ring::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                crate::key::KEY_LEN
            }
        }
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"kinko root key derivation v1")
            .extract(self.0.as_bytes());
        let mut out = Zeroizing::new([0u8; crate::key::KEY_LEN]);
        let info = [purpose];
        // Both only fail for an output longer than 255 hash lengths.
        prk.expand(&info, Len)
            .and_then(|okm| okm.fill(&mut out[..]))
            .map_err(|_| CryptoError::InvalidKey("key derivation failed".into()))?;
        Key256::from_bytes(&out[..])
    }

    /// A check value to store with a new data dir; [`RootKey::verify_check`] later tells whether
    /// a supplied root key is the one the data dir was created with. It reveals nothing about the
    /// key.
    pub fn make_check(&self) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, CHECK_LABEL, CHECK_AAD)
    }

    /// Whether `check` was made by [`RootKey::make_check`] with this root key.
    pub fn verify_check(&self, check: &[u8]) -> bool {
        open(&self.0, check, CHECK_AAD).is_ok_and(|label| ct_eq(&label, CHECK_LABEL))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey([redacted])")
    }
}

impl zeroize::ZeroizeOnDrop for RootKey {}

/// The root key a running server uses, replaceable while it runs (root key rotation). Clones share
/// one key.
///
/// New values are sealed with the current key. Opening tries the current key, then the one other
/// key held around a rotation: the next key while the rotation is being committed (a read may see
/// the re-wrapped rows before the switch), then the previous key after the switch (a read that
/// began before the commit may still hand in a row wrapped under it). AES-GCM authentication tells
/// the keys apart, so trying a second key never opens a value wrongly. The previous key stays in
/// memory only, until the next rotation or the end of the process; no stored value needs it.
///
/// Reads take a read lock for the length of one AES-GCM operation: negligible next to a request.
#[derive(Clone)]
pub struct SharedRootKey(Arc<RwLock<Keys>>);

struct Keys {
    current: Arc<RootKey>,
    other: Other,
}

enum Other {
    None,
    /// A rotation to this key is being committed.
    Next(Arc<RootKey>),
    /// The key before the last rotation.
    Previous(Arc<RootKey>),
}

impl SharedRootKey {
    pub fn new(key: RootKey) -> Self {
        Self(Arc::new(RwLock::new(Keys {
            current: Arc::new(key),
            other: Other::None,
        })))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        // The lock guards plain assignments that cannot panic half-way: a poisoned lock still
        // holds a consistent value.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key new values are sealed with.
    pub fn current(&self) -> Arc<RootKey> {
        self.read().current.clone()
    }

    /// Seals `plaintext` under the current key (see [`RootKey::seal`]).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.read().current.seal(plaintext, aad)
    }

    /// Opens a value sealed under the current key, or under the other key held around a rotation.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let keys = self.read();
        match keys.current.open(sealed, aad) {
            Ok(plain) => Ok(plain),
            Err(e) => match &keys.other {
                Other::Next(k) | Other::Previous(k) => k.open(sealed, aad).map_err(|_| e),
                Other::None => Err(e),
            },
        }
    }

    /// A rotation to `next` begins: values keep being sealed with the current key, and opening
    /// also tries `next`.
    pub fn stage(&self, next: RootKey) {
        self.write().other = Other::Next(Arc::new(next));
    }

    /// The staged rotation was committed: its key becomes the current one, and the replaced key is
    /// still tried when opening. Returns false (and changes nothing) when no rotation is staged.
    pub fn promote(&self) -> bool {
        let mut keys = self.write();
        let Other::Next(next) = &keys.other else {
            return false;
        };
        let next = next.clone();
        let previous = std::mem::replace(&mut keys.current, next);
        keys.other = Other::Previous(previous);
        true
    }

    /// The key a rotation is being committed to (or, on a node of several, the next key loaded
    /// for an upcoming rotation), if any.
    pub fn next(&self) -> Option<Arc<RootKey>> {
        match &self.read().other {
            Other::Next(k) => Some(k.clone()),
            Other::None | Other::Previous(_) => None,
        }
    }

    /// On a node of several, which learns of rotations from the database: keeps `extra` (a
    /// configured key that is not the current one) for opening values, or drops the other key
    /// when `None`. A key already held stays as it is (the previous key stays the previous one);
    /// any other becomes the next key.
    pub fn hold(&self, extra: Option<&RootKey>) {
        let mut keys = self.write();
        let other = match extra {
            None => Other::None,
            Some(k) if *k == *keys.current => Other::None,
            Some(k) => match &keys.other {
                Other::Next(held) | Other::Previous(held) if **held == *k => return,
                _ => Other::Next(Arc::new(k.clone())),
            },
        };
        keys.other = other;
    }

    /// The staged rotation failed: forget its key.
    pub fn unstage(&self) {
        let mut keys = self.write();
        if matches!(keys.other, Other::Next(_)) {
            keys.other = Other::None;
        }
    }
}

impl From<RootKey> for SharedRootKey {
    fn from(key: RootKey) -> Self {
        Self::new(key)
    }
}

impl fmt::Debug for SharedRootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedRootKey([redacted])")
    }
}

/// An I/O error that names the key file (its path is not secret, its content is never included).
fn path_error(path: &Path, e: io::Error) -> CryptoError {
    CryptoError::Io(io::Error::new(
        e.kind(),
        format!("root key file {}: {e}", path.display()),
    ))
}

/// A fresh temporary name next to `path`, so the final link or rename stays on one filesystem.
fn temp_path(path: &Path) -> Result<PathBuf, CryptoError> {
    let name = path.file_name().ok_or_else(|| {
        path_error(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
        )
    })?;
    let suffix: String = random_bytes(8)?.iter().map(|b| format!("{b:02x}")).collect();
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{suffix}"));
    Ok(path.with_file_name(tmp_name))
}

/// Writes `content` to a new file readable and writable by the owner only, and syncs it.
fn write_private(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // The umask can only clear bits from the mode above; set it exactly all the same.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(content)?;
    file.sync_all()
}

/// Moves the complete temporary file to `path` without replacing an existing file.
///
/// A hard link fails with `AlreadyExists` if `path` exists. Filesystems without hard links fall
/// back to a rename, which is still atomic for readers.
fn place_new(tmp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "root key file already exists",
                ));
            }
            fs::rename(tmp, path)
        }
    }
}

/// Makes the new directory entry durable. Best effort: not every platform can sync a directory.
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_root_key_and_purpose() -> Result<(), CryptoError> {
        let (a, b) = (RootKey::generate()?, RootKey::generate()?);
        assert!(a.derive(b"x")? == a.derive(b"x")?);
        assert!(a.derive(b"x")? != a.derive(b"y")?);
        assert!(a.derive(b"x")? != b.derive(b"x")?);
        assert!(a.derive(b"x")?.as_bytes() != a.0.as_bytes());
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn created_file_is_private_base64_with_newline() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let (key, created) = RootKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 45);
        assert!(text.ends_with('\n'));
        assert_eq!(RootKey::from_base64(&text).unwrap(), key);
        // Only the key file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("root.key")]);
    }

    #[test]
    fn load_or_create_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let (first, created) = RootKey::load_or_create(&path).unwrap();
        assert!(created);
        let (second, created) = RootKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first, second);
        assert_eq!(RootKey::load(&path).unwrap(), first);
    }

    #[test]
    fn concurrent_creation_agrees_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let results: Vec<(RootKey, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| RootKey::load_or_create(&path).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
        let on_disk = RootKey::load(&path).unwrap();
        assert!(results.iter().all(|(k, _)| *k == on_disk));
    }

    #[test]
    fn operator_written_files_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key256::generate().unwrap();
        for (i, text) in [
            key.to_base64().to_string(),
            format!("{}\r\n", *key.to_base64()),
            format!("\n  {}  \n\n", *key.to_base64()),
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("k{i}"));
            fs::write(&path, text).unwrap();
            assert_eq!(RootKey::load(&path).unwrap(), RootKey::new(key.clone()));
        }
    }

    #[test]
    fn invalid_files_are_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let short = Key256::from_bytes(&[1; 32]).unwrap().to_base64()[..40].to_string();
        let big = "A".repeat(4096);
        for content in [
            "",
            "\n",
            "this is not base64",
            "c2VjcmV0LXRleHQ=\n", // 11 bytes
            short.as_str(),
            big.as_str(),
        ] {
            fs::write(&path, content).unwrap();
            let err = RootKey::load_or_create(&path).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, CryptoError::InvalidKey(_)), "{content:?}: {msg}");
            assert!(msg.contains("root.key"), "{msg}");
            assert!(!msg.contains("c2Vj") && !msg.contains("AAAA"), "{msg}");
            assert_eq!(fs::read_to_string(&path).unwrap(), content);
        }
    }

    #[test]
    fn missing_file_and_missing_dir() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        match RootKey::load(&missing) {
            Err(CryptoError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::NotFound);
                assert!(e.to_string().contains("nope"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let in_missing_dir = dir.path().join("no-such-dir").join("root.key");
        assert!(matches!(
            RootKey::load_or_create(&in_missing_dir),
            Err(CryptoError::Io(_))
        ));
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let root = RootKey::generate().unwrap();
        let aad = crate::encode_aad(&[b"arn:aws:kms:us-east-1:111111111111:key/k", b"1"]);
        let material = Key256::generate().unwrap();
        let wrapped = root.seal(material.as_bytes(), &aad).unwrap();
        let unwrapped = root.open(&wrapped, &aad).unwrap();
        assert_eq!(Key256::from_bytes(&unwrapped).unwrap(), material);

        let other_aad = crate::encode_aad(&[b"arn:aws:kms:us-east-1:111111111111:key/k", b"2"]);
        assert!(matches!(
            root.open(&wrapped, &other_aad),
            Err(CryptoError::InvalidCiphertext)
        ));
        let other_root = RootKey::generate().unwrap();
        assert!(matches!(
            other_root.open(&wrapped, &aad),
            Err(CryptoError::InvalidCiphertext)
        ));
    }

    #[test]
    fn check_value_identifies_the_root_key() {
        let root = RootKey::generate().unwrap();
        let check = root.make_check().unwrap();
        assert!(root.verify_check(&check));
        assert!(RootKey::new(root.0.clone()).verify_check(&check));
        assert!(!RootKey::generate().unwrap().verify_check(&check));
        assert!(!root.verify_check(&[]));
        assert!(!root.verify_check(&check[..check.len() - 1]));
        let mut tampered = check.clone();
        tampered[5] ^= 1;
        assert!(!root.verify_check(&tampered));
        // Something else sealed under the same key and associated data is not a check value.
        let forged = root.seal(b"something else", CHECK_AAD).unwrap();
        assert!(!root.verify_check(&forged));
        // Nor is the label sealed with other associated data.
        let other = root.seal(CHECK_LABEL, b"other").unwrap();
        assert!(!root.verify_check(&other));
        // Checks are randomized.
        assert_ne!(check, root.make_check().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn write_file_replaces_atomically_and_privately() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key.next");
        fs::write(&path, "stale").unwrap();
        let key = RootKey::generate().unwrap();
        key.write_file(&path).unwrap();
        assert_eq!(RootKey::load(&path).unwrap(), key);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("root.key.next")]);
        assert!(key.write_file(&dir.path().join("missing").join("k")).is_err());
    }

    #[test]
    fn shared_key_rotation_states() {
        let old = RootKey::generate().unwrap();
        let new = RootKey::generate().unwrap();
        let shared = SharedRootKey::new(old.clone());
        let under_old = shared.seal(b"v", b"aad").unwrap();
        let under_new = new.seal(b"v", b"aad").unwrap();
        assert!(shared.open(&under_new, b"aad").is_err());

        // Staged: both open, sealing still uses the old key.
        shared.stage(new.clone());
        assert!(shared.open(&under_old, b"aad").is_ok());
        assert!(shared.open(&under_new, b"aad").is_ok());
        assert!(old.open(&shared.seal(b"v", b"aad").unwrap(), b"aad").is_ok());
        // Aborted: back to the old key alone.
        shared.unstage();
        assert!(!shared.promote());
        assert!(shared.open(&under_new, b"aad").is_err());
        assert_eq!(*shared.current(), old);

        // Committed: the new key seals, both still open, clones see the same key.
        let clone = shared.clone();
        shared.stage(new.clone());
        assert!(shared.promote());
        assert_eq!(*clone.current(), new);
        assert!(new.open(&clone.seal(b"v", b"aad").unwrap(), b"aad").is_ok());
        assert!(clone.open(&under_old, b"aad").is_ok());
        assert!(clone.open(&under_new, b"aad").is_ok());
        assert!(matches!(
            clone.open(&under_new, b"other"),
            Err(CryptoError::InvalidCiphertext)
        ));
        // A node of several keeps a configured key, and drops it once it is no longer configured.
        clone.hold(Some(&old));
        assert!(clone.next().is_none(), "the previous key stays the previous one");
        assert!(clone.open(&under_old, b"aad").is_ok());
        clone.hold(None);
        assert!(clone.open(&under_old, b"aad").is_err());
        assert!(clone.open(&under_new, b"aad").is_ok());
        // The current key is no other key.
        clone.hold(Some(&new));
        assert!(clone.next().is_none());
        assert!(clone.open(&under_old, b"aad").is_err());
        clone.hold(Some(&old));
        assert_eq!(clone.next().as_deref(), Some(&old));
        assert!(clone.open(&under_old, b"aad").is_ok());
        // A later rotation drops the key before the last one.
        let third = RootKey::generate().unwrap();
        shared.stage(third.clone());
        assert!(shared.promote());
        assert!(shared.open(&under_old, b"aad").is_err());
        assert!(shared.open(&under_new, b"aad").is_ok());
        assert_eq!(format!("{shared:?}"), "SharedRootKey([redacted])");
    }

    #[test]
    fn debug_is_redacted() {
        let root = RootKey::new(Key256::from_bytes(&[0x5A; 32]).unwrap());
        assert_eq!(format!("{root:?}"), "RootKey([redacted])");
        assert_eq!(format!("{root:#?}"), "RootKey([redacted])");
    }
}
