//! The server's TOML config file (`kinko server --config FILE`, or `KINKO_CONFIG`).
//!
//! Its keys are the settings of `kinko server` and nothing else: every flag under its long name with
//! `_` for `-` (`listen`, `data_dir`, `cache_size`, `metrics_listen`, ...), taking the same values
//! with the same defaults, and the settings given today only in the environment ([`ENV_KEYS`]).
//! The flags' definitions (`ServerArgs` in `main.rs`) are thus the one table of settings and their
//! defaults: the file's flag keys are read as if given on the command line *before* the real
//! arguments, which override them, and a value is checked by the flag's own parser. A key that is no
//! setting is refused, with the known keys listed.
//!
//! Precedence, lowest first: defaults, the file, the environment (`KINKO_ROOT_KEY`, `KINKO_STORE`,
//! ...), flags. A flag key whose flag also reads a variable (`store` and `KINKO_STORE`) is left out
//! when that variable is set, so the variable wins over the file as it wins over the default.
//! Secrets (the root key, the root secret access key, the store URL with its database password)
//! can be in the file, in a file the file names (`*_file` keys, the file's content with its final
//! newline removed), or in the environment. The root key's own file is `root_key_file`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Settings given only in the environment, their keys in the file, and whether they can also come
/// from a file (`<key>_file`). The root key's file is the `root_key_file` setting (`--root-key-file`).
pub const ENV_KEYS: &[(&str, &str, bool)] = &[
    ("root_key", "KINKO_ROOT_KEY", false),
    ("new_root_key", "KINKO_NEW_ROOT_KEY", false),
    ("account_id", "KINKO_ACCOUNT_ID", false),
    ("root_access_key_id", "KINKO_ROOT_ACCESS_KEY_ID", false),
    ("root_secret_access_key", "KINKO_ROOT_SECRET_ACCESS_KEY", true),
    ("log", "KINKO_LOG", false),
];

/// Flag settings whose value is a secret and can also come from a file (`<key>_file`): the store
/// URL, which may hold the database password.
pub const FILE_FLAGS: &[&str] = &["store"];

/// What a config file said.
#[derive(Default)]
pub struct FileSettings {
    /// The flag settings as command-line arguments (`--listen`, `127.0.0.1:8780`, ...).
    pub args: Vec<String>,
    /// The environment settings by variable name (`KINKO_ROOT_KEY`), secrets read from their files.
    pub env: BTreeMap<&'static str, Zeroizing<String>>,
}

impl std::fmt::Debug for FileSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The values of secret flags are not printed.
        let args: Vec<&str> = self
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let secret = i > 0
                    && FILE_FLAGS
                        .iter()
                        .any(|f| self.args[i - 1].strip_prefix("--") == Some(*f));
                if secret { "[redacted]" } else { a.as_str() }
            })
            .collect();
        f.debug_struct("FileSettings")
            .field("args", &args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One flag of `kinko server`: its long name and whether it takes a value.
pub struct Flag {
    pub long: String,
    pub takes_value: bool,
    /// The flag also reads a variable, which is set: the file's value is checked but not used.
    pub env_set: bool,
}

/// Reads the config file at `path` against `flags`, the flags of `kinko server`.
pub fn load(path: &Path, flags: &[Flag]) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, flags, base).map_err(|e| format!("config file {}: {e}", path.display()))
}

/// Parses a config file's text; `*_file` paths are relative to `base` (the file's directory).
pub fn parse(text: &str, flags: &[Flag], base: &Path) -> Result<FileSettings, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = FileSettings::default();
    for (key, value) in &table {
        if key == "config" {
            return Err("`config` can't be set in a config file".into());
        }
        if let Some(flag) = flags.iter().find(|f| f.long.replace('-', "_") == *key) {
            let text = scalar(key, value)?;
            if FILE_FLAGS.contains(&key.as_str()) && table.contains_key(&format!("{key}_file")) {
                return Err(format!("`{key}` and `{key}_file` are both set: set one"));
            }
            if flag.env_set {
                continue;
            }
            if flag.takes_value {
                out.args.push(format!("--{}", flag.long));
                out.args.push(text);
            } else {
                match value {
                    toml::Value::Boolean(true) => out.args.push(format!("--{}", flag.long)),
                    toml::Value::Boolean(false) => {}
                    _ => return Err(format!("`{key}` must be true or false")),
                }
            }
            continue;
        }
        if let Some((name, var, _)) = ENV_KEYS.iter().find(|(name, _, _)| name == key) {
            if ENV_KEYS.iter().any(|(n, _, f)| n == name && *f) && table.contains_key(&format!("{name}_file"))
            {
                return Err(format!("`{name}` and `{name}_file` are both set: set one"));
            }
            out.env.insert(var, Zeroizing::new(scalar(key, value)?));
            continue;
        }
        if let Some(name) = key.strip_suffix("_file")
            && let Some((_, var, true)) = ENV_KEYS.iter().find(|(n, _, _)| *n == name)
        {
            out.env.insert(var, read_secret(key, value, base)?);
            continue;
        }
        if let Some(name) = key.strip_suffix("_file")
            && FILE_FLAGS.contains(&name)
            && let Some(flag) = flags.iter().find(|f| f.long.replace('-', "_") == name)
        {
            let secret = read_secret(key, value, base)?;
            if !flag.env_set {
                out.args.push(format!("--{}", flag.long));
                out.args.push(secret.to_string());
            }
            continue;
        }
        return Err(format!(
            "unknown key `{key}`; the known keys are {}",
            known_keys(flags).join(", ")
        ));
    }
    Ok(out)
}

/// The content of the file `value` names (relative to `base`), its final newline removed.
fn read_secret(key: &str, value: &toml::Value, base: &Path) -> Result<Zeroizing<String>, String> {
    let toml::Value::String(file) = value else {
        return Err(format!("`{key}` must be a path"));
    };
    let file = base.join(file);
    let content = std::fs::read_to_string(&file)
        .map_err(|e| format!("`{key}`: cannot read {}: {e}", file.display()))?;
    let content = Zeroizing::new(content);
    let secret = content.strip_suffix('\n').unwrap_or(&content);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    Ok(Zeroizing::new(secret.to_owned()))
}

/// Every key a config file may hold.
pub fn known_keys(flags: &[Flag]) -> Vec<String> {
    let mut keys: Vec<String> = flags.iter().map(|f| f.long.replace('-', "_")).collect();
    keys.extend(
        FILE_FLAGS
            .iter()
            .filter(|f| keys.iter().any(|k| k == *f))
            .map(|f| format!("{f}_file"))
            .collect::<Vec<_>>(),
    );
    for (name, _, secret) in ENV_KEYS {
        keys.push((*name).to_owned());
        if *secret {
            keys.push(format!("{name}_file"));
        }
    }
    keys.retain(|k| k != "config");
    keys.sort();
    keys
}

/// A value as command-line text: strings as they are, numbers written out.
fn scalar(key: &str, value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(format!("`{key}` must be a string, a number or a boolean")),
    }
}

/// `--config FILE` from the command line (`--config FILE` or `--config=FILE`), else `KINKO_CONFIG`.
pub fn path_from(args: &[String], env: Option<String>) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    env.filter(|e| !e.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> Vec<Flag> {
        [
            ("listen", true),
            ("data-dir", true),
            ("dev", false),
            ("cache-size", true),
            ("store", true),
        ]
        .into_iter()
        .map(|(long, takes_value)| Flag {
            long: long.to_owned(),
            takes_value,
            env_set: false,
        })
        .collect()
    }

    #[test]
    fn the_store_url_comes_from_a_file_and_a_set_variable_leaves_the_file_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("db-url"), "postgres://kinko:pw@db/kinko\n").expect("write");
        let s = parse("store_file = \"db-url\"\n", &flags(), dir.path()).expect("parses");
        assert_eq!(s.args, ["--store", "postgres://kinko:pw@db/kinko"]);
        assert!(!format!("{s:?}").contains("pw@"), "the URL is not printed: {s:?}");
        let e = parse("store = \"a\"\nstore_file = \"db-url\"\n", &flags(), dir.path()).unwrap_err();
        assert!(e.contains("both set"), "{e}");
        // KINKO_STORE set: neither key of the file is used.
        let mut with_env = flags();
        for f in &mut with_env {
            f.env_set = f.long == "store";
        }
        for text in ["store_file = \"db-url\"\n", "store = \"postgres://file/db\"\n"] {
            let s = parse(text, &with_env, dir.path()).expect("parses");
            assert!(s.args.is_empty(), "{text}: {:?}", s.args);
        }
        assert!(known_keys(&flags()).contains(&"store_file".to_owned()));
    }

    #[test]
    fn flag_keys_become_arguments_and_env_keys_variables() {
        let s = parse(
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/kinko\"\ndev = true\ncache_size = 16\naccount_id = \"123456789012\"\n",
            &flags(),
            Path::new("."),
        )
        .expect("parses");
        // TOML tables are read in key order.
        assert_eq!(
            s.args,
            [
                "--cache-size",
                "16",
                "--data-dir",
                "/var/lib/kinko",
                "--dev",
                "--listen",
                "127.0.0.1:9000"
            ]
        );
        assert_eq!(s.env["KINKO_ACCOUNT_ID"].as_str(), "123456789012");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_known_ones() {
        let e = parse("lisen = \"x\"\n", &flags(), Path::new(".")).unwrap_err();
        assert!(e.starts_with("unknown key `lisen`; the known keys are "), "{e}");
        assert!(
            e.contains("listen") && e.contains("root_secret_access_key_file") && e.contains("data_dir"),
            "{e}"
        );
        let e = parse("[server]\nlisten = \"x\"\n", &flags(), Path::new(".")).unwrap_err();
        assert!(e.contains("unknown key `server`"), "{e}");
    }

    #[test]
    fn values_of_the_wrong_shape_are_refused() {
        let e = parse("listen = [1]\n", &flags(), Path::new(".")).unwrap_err();
        assert_eq!(e, "`listen` must be a string, a number or a boolean");
        let e = parse("dev = \"yes\"\n", &flags(), Path::new(".")).unwrap_err();
        assert_eq!(e, "`dev` must be true or false");
        let e = parse("listen = \n", &flags(), Path::new(".")).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn secrets_come_from_files_relative_to_the_config_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("secret"), "s3cr3t-value\n").expect("write");
        let s = parse("root_secret_access_key_file = \"secret\"\n", &flags(), dir.path()).expect("parses");
        assert_eq!(s.env["KINKO_ROOT_SECRET_ACCESS_KEY"].as_str(), "s3cr3t-value");
        assert!(!format!("{s:?}").contains("s3cr3t"), "secrets are not printed");
        let e = parse(
            "root_secret_access_key = \"a\"\nroot_secret_access_key_file = \"secret\"\n",
            &flags(),
            dir.path(),
        )
        .unwrap_err();
        assert!(e.contains("both set"), "{e}");
        let e = parse("root_key_file_x = \"a\"\n", &flags(), dir.path()).unwrap_err();
        assert!(e.contains("unknown key"), "{e}");
        // Only secrets have `_file` keys: `account_id_file` is no key.
        let e = parse("account_id_file = \"secret\"\n", &flags(), dir.path()).unwrap_err();
        assert!(e.contains("unknown key `account_id_file`"), "{e}");
        let e = parse("root_key_file_missing = 1\n", &flags(), dir.path()).unwrap_err();
        assert!(e.contains("unknown key"), "{e}");
    }

    #[test]
    fn the_config_path_comes_from_the_flag_then_the_environment() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            path_from(
                &args(&["kinko", "server", "--config", "a.toml"]),
                Some("b.toml".into())
            ),
            Some(PathBuf::from("a.toml"))
        );
        assert_eq!(
            path_from(&args(&["kinko", "server", "--config=c.toml"]), None),
            Some(PathBuf::from("c.toml"))
        );
        assert_eq!(
            path_from(&args(&["kinko", "server"]), Some("b.toml".into())),
            Some(PathBuf::from("b.toml"))
        );
        assert_eq!(path_from(&args(&["kinko", "server"]), Some(String::new())), None);
    }
}
