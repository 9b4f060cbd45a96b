//! The unpacked code of functions: one read-only directory per deployment package, named after its
//! SHA-256, made once and shared by every instance and function with the same package.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Lambda's limit on the unzipped size of a function's code (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
/// A bound on the number of entries of a package, so that a zip of empty files cannot exhaust inodes.
pub const MAX_ENTRIES: usize = 20_000;

/// Why a package cannot be unpacked.
#[derive(Debug)]
pub struct CodeError(pub String);

impl std::fmt::Display for CodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The unpacked packages under one directory.
pub struct CodeCache {
    dir: PathBuf,
    /// One lock per package being unpacked, so that concurrent cold starts unpack it once.
    unpacking: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CodeCache {
    pub fn new(dir: PathBuf) -> Self {
        CodeCache {
            dir,
            unpacking: Mutex::new(HashMap::new()),
        }
    }

    /// The directory holding the package whose base64 SHA-256 is `code_sha256`, unpacking `zip`
    /// there first when it is not yet. `zip` is only called when needed.
    pub async fn unpacked<F, Fut>(&self, code_sha256: &str, zip: F) -> Result<PathBuf, CodeError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Arc<Vec<u8>>, String>>,
    {
        let digest = STANDARD
            .decode(code_sha256)
            .ok()
            .filter(|d| d.len() == 32)
            .ok_or_else(|| CodeError(format!("invalid CodeSha256 {code_sha256:?}")))?;
        let name = hex(&digest);
        let target = self.dir.join(&name);
        if target.is_dir() {
            return Ok(target);
        }
        let lock = {
            let mut map = self.unpacking.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(name.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if target.is_dir() {
            return Ok(target);
        }
        let bytes = zip().await.map_err(CodeError)?;
        let actual = ring::digest::digest(&ring::digest::SHA256, &bytes);
        if actual.as_ref() != digest.as_slice() {
            return Err(CodeError(
                "the deployment package does not match its CodeSha256".into(),
            ));
        }
        let dir = self.dir.clone();
        let result = tokio::task::spawn_blocking(move || unpack_into(&dir, &name, &bytes))
            .await
            .map_err(|e| CodeError(format!("unpacking failed: {e}")))?;
        self.unpacking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&hex(&digest));
        result
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpacks into a fresh directory next to the final one, then renames it into place, so that a
/// directory under its final name is always complete.
fn unpack_into(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, CodeError> {
    let io = |what: &str, e: std::io::Error| CodeError(format!("{what}: {e}"));
    crate::private_dir(dir).map_err(|e| io("creating the code cache", e))?;
    let target = dir.join(name);
    let staging = dir.join(format!(".unpacking-{name}-{}", uuid::Uuid::new_v4().simple()));
    crate::private_dir(&staging).map_err(|e| io("creating the code directory", e))?;
    let result = unpack(bytes, &staging).and_then(|()| {
        seal(&staging).map_err(|e| io("making the code read-only", e))?;
        match std::fs::rename(&staging, &target) {
            Ok(()) => Ok(()),
            // Another process (a node sharing the cache dir) got there first.
            Err(_) if target.is_dir() => Err(CodeError(String::new())),
            Err(e) => Err(io("moving the code into place", e)),
        }
    });
    match result {
        Ok(()) => Ok(target),
        Err(e) => {
            remove_tree(&staging);
            if e.0.is_empty() { Ok(target) } else { Err(e) }
        }
    }
}

/// Writes every entry of the zip under `root`. Entries whose path leaves `root` (absolute, `..`)
/// are refused, symbolic links are not created (their entries are refused), and the total size is
/// counted as it is written, not as the zip's headers claim.
pub fn unpack(bytes: &[u8], root: &Path) -> Result<(), CodeError> {
    let invalid = |detail: String| CodeError(format!("Could not unzip uploaded file: {detail}"));
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| invalid(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(invalid(format!("more than {MAX_ENTRIES} entries")));
    }
    let mut written: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| invalid(e.to_string()))?;
        let raw = entry.name().to_owned();
        let relative = safe_path(&raw).ok_or_else(|| invalid(format!("unsafe entry path {raw:?}")))?;
        if entry.is_symlink() {
            return Err(invalid(format!("symbolic link {raw:?}")));
        }
        let path = root.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| invalid(e.to_string()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| invalid(e.to_string()))?;
        }
        let mut out = std::fs::File::create(&path).map_err(|e| invalid(e.to_string()))?;
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(|e| invalid(e.to_string()))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > MAX_UNZIPPED_BYTES {
                return Err(invalid(format!(
                    "unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
                )));
            }
            out.write_all(&buf[..n]).map_err(|e| invalid(e.to_string()))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
            // Owner only: code may hold what its author considers private, and it lives in the
            // server's (private) data dir.
            let mode = if executable { 0o500 } else { 0o400 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| invalid(e.to_string()))?;
        }
    }
    Ok(())
}

/// The entry's path relative to the root, or `None` when it is absolute or climbs out of it.
fn safe_path(name: &str) -> Option<PathBuf> {
    if name.contains('\0') {
        return None;
    }
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Makes the directories of the tree read-only (files were made read-only as they were written).
fn seal(root: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for entry in std::fs::read_dir(root)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                seal(&entry.path())?;
            }
        }
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o500))?;
    }
    Ok(())
}

/// Removes a tree made by [`unpack`], making its directories writable again first.
pub fn remove_tree(root: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fn open(dir: &Path) {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        open(&entry.path());
                    }
                }
            }
        }
        open(root);
    }
    let _ = std::fs::remove_dir_all(root);
}

#[cfg(test)]
mod tests {
    use super::safe_path;

    #[test]
    fn entry_paths_stay_inside_the_root() {
        assert_eq!(
            safe_path("index.js").as_deref(),
            Some(std::path::Path::new("index.js"))
        );
        assert_eq!(
            safe_path("./a/b.py").as_deref(),
            Some(std::path::Path::new("a/b.py"))
        );
        assert_eq!(safe_path("../evil.js"), None);
        assert_eq!(safe_path("a/../../evil.js"), None);
        assert_eq!(safe_path("/etc/passwd"), None);
        assert_eq!(safe_path(""), None);
    }
}
