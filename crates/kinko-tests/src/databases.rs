//! Databases whose logins need their passwords, for tests of functions that rotate database
//! credentials (AWS's published rotation functions): a rotation is proved only when the old
//! password stops working and the new one works, so trust or socket authentication, which accepts
//! any password, proves nothing.
//!
//! - [`PrivatePostgres`]: a PostgreSQL cluster of the test's own (`initdb` into a temp dir, run as
//!   the `postgres` OS user when the tests run as root, since PostgreSQL refuses to run as root),
//!   listening on 127.0.0.1 only, on a free port, where every login is checked with SCRAM-SHA-256;
//!   stopped when dropped. Needs the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`);
//!   without them [`PrivatePostgres::start`] prints why and returns `None`.
//! - [`MariaDb`]: the MariaDB (or MySQL) server that `KINKO_TEST_MYSQL_URL` names
//!   (`mysql://root@127.0.0.1:3306/test`), driven with the `mariadb` command-line client; users
//!   created with a password need it there. Without the variable (or the client)
//!   [`MariaDb::from_env`] prints why and returns `None`.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::short_id;

/// What a login attempt gave: `Ok` when the server let the user in and answered a query, the
/// server's or client's error text otherwise.
pub type LoginOutcome = Result<(), String>;

/// A name for a database user, unique and short enough for both servers (`kinko_` + 12 hex digits).
pub fn db_user_name() -> String {
    format!("kinko_{}", short_id())
}

/// A password of letters and digits (32 characters), distinct per call.
pub fn db_password() -> String {
    format!("Pw{}{}", short_id(), uuid::Uuid::new_v4().simple())
        .chars()
        .take(32)
        .collect()
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// `'text'` as an SQL string literal, quotes doubled (PostgreSQL's standard strings; MariaDB's
/// callers double backslashes first).
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

/// A PostgreSQL cluster of the test's own that checks passwords (SCRAM-SHA-256, TCP on 127.0.0.1
/// only, no Unix socket). Its superuser is `postgres` with [`PrivatePostgres::superuser_password`].
/// Dropping it stops the server (by the postmaster's PID) and removes its directory.
pub struct PrivatePostgres {
    port: u16,
    password: String,
    pid: u32,
    child: Child,
    dir: tempfile::TempDir,
}

/// The OS user PostgreSQL runs as when the tests run as root.
const PG_OS_USER: &str = "postgres";

impl PrivatePostgres {
    /// The superuser's name.
    pub const SUPERUSER: &'static str = "postgres";

    /// Creates and starts a cluster; `None` (with the reason printed) when this machine has no
    /// PostgreSQL server binaries. Panics when they exist but the cluster fails to start.
    pub async fn start() -> Option<PrivatePostgres> {
        let Some(bin) = postgres_bin_dir() else {
            println!(
                "skipping: no PostgreSQL server binaries (initdb and postgres in /usr/lib/postgresql/*/bin)"
            );
            return None;
        };
        Some(Self::start_in(&bin).await)
    }

    async fn start_in(bin: &Path) -> PrivatePostgres {
        let as_root = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) == 0;
        let dir = tempfile::Builder::new()
            .prefix("kinko-pg-")
            .tempdir()
            .expect("a temp dir");
        if as_root {
            // initdb and postgres refuse to run as root: the cluster belongs to `postgres`.
            let (uid, gid) = os_user_ids(PG_OS_USER);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("chown the cluster's directory to postgres");
        }
        let password = db_password();
        let pwfile = dir.path().join("pwfile");
        fs::write(&pwfile, format!("{password}\n")).expect("write the password file");
        if as_root {
            let (uid, gid) = os_user_ids(PG_OS_USER);
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown pwfile");
        }
        let data = dir.path().join("data");
        let out = pg_command(as_root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", Self::SUPERUSER, "-E", "UTF8", "--no-sync"])
            .args(["--auth-host=scram-sha-256", "--auth-local=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        fs::remove_file(&pwfile).expect("remove the password file");
        // Exactly one way in: TCP from 127.0.0.1, with a password checked by SCRAM-SHA-256.
        fs::write(
            data.join("pg_hba.conf"),
            "host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("write pg_hba.conf");

        let port = free_port();
        let log = fs::File::create(dir.path().join("postgres.log")).expect("create the log");
        if as_root {
            let (uid, gid) = os_user_ids(PG_OS_USER);
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(uid), Some(gid))
                .expect("chown the log");
        }
        let mut child = pg_command(as_root, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "password_encryption=scram-sha-256"])
            .args(["-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start postgres");

        // Ready when the superuser can log in with its password.
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = pg_url(Self::SUPERUSER, &password, port, "postgres");
        loop {
            if let Some(status) = child.try_wait().expect("postgres status") {
                panic!(
                    "postgres exited ({status}) before accepting connections: {}",
                    fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default()
                );
            }
            if pg_login(&url).await.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections within 60 s: {}",
                fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The postmaster's PID (the child may be `runuser`, which waits for it).
        let pid_file = fs::read_to_string(data.join("postmaster.pid")).expect("postmaster.pid");
        let pid = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("the postmaster's PID");
        PrivatePostgres {
            port,
            password,
            pid,
            child,
            dir,
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log so far (its stdout and stderr), for a failing test's message.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// The superuser's password.
    pub fn superuser_password(&self) -> &str {
        &self.password
    }

    /// A connection URL for `user` with `password` on database `dbname`.
    pub fn url(&self, user: &str, password: &str, dbname: &str) -> String {
        pg_url(user, password, self.port, dbname)
    }

    /// Runs `sql` (one or more statements) as the superuser on database `postgres`.
    pub async fn execute(&self, sql: &str) {
        let client = pg_connect(&self.url(Self::SUPERUSER, &self.password, "postgres"))
            .await
            .unwrap_or_else(|e| panic!("superuser login failed: {e}"));
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Creates the login role `name` with `password` (letters and digits), allowed to connect to
    /// database `postgres`.
    pub async fn create_user(&self, name: &str, password: &str) {
        self.execute(&format!(
            "CREATE ROLE \"{name}\" LOGIN PASSWORD {}; GRANT CONNECT ON DATABASE postgres TO \"{name}\"",
            sql_literal(password)
        ))
        .await;
    }

    /// Logs in as `user` with `password` on database `postgres` and runs `SELECT 1`.
    pub async fn login(&self, user: &str, password: &str) -> LoginOutcome {
        pg_login(&self.url(user, password, "postgres")).await
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Fast shutdown of the postmaster this fixture started, by its PID.
        let _ = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(None) => {
                    let _ = Command::new("kill")
                        .args(["-KILL", &self.pid.to_string()])
                        .status();
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` and `postgres`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// `program` as a command, run as the `postgres` OS user when `as_root`.
fn pg_command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", PG_OS_USER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// The uid and gid of OS user `name`.
fn os_user_ids(name: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, name]).output().expect("run id");
        assert!(
            out.status.success(),
            "no OS user {name}: PostgreSQL cannot run as root"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a numeric id")
    };
    (id("-u"), id("-g"))
}

fn pg_url(user: &str, password: &str, port: u16, dbname: &str) -> String {
    let enc =
        |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!(
        "postgres://{}:{}@127.0.0.1:{port}/{}?sslmode=disable&connect_timeout=5",
        enc(user),
        enc(password),
        enc(dbname)
    )
}

async fn pg_connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| {
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned())
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn pg_login(url: &str) -> LoginOutcome {
    let client = pg_connect(url).await?;
    client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------------------------

/// The MariaDB (or MySQL) server `KINKO_TEST_MYSQL_URL` names, reached with the `mariadb` client
/// over TCP, as the URL's administrator (root with an empty password on the reference machine).
#[derive(Clone, Debug)]
pub struct MariaDb {
    host: String,
    port: u16,
    admin: String,
    admin_password: String,
    database: String,
}

impl MariaDb {
    /// The server `KINKO_TEST_MYSQL_URL` names (`mysql://user[:password]@host[:port]/database`);
    /// `None` (with the reason printed) when the variable is unset or the `mariadb` client is
    /// missing. Panics on a malformed URL.
    pub fn from_env() -> Option<MariaDb> {
        let Ok(url) = std::env::var("KINKO_TEST_MYSQL_URL") else {
            println!("skipping: KINKO_TEST_MYSQL_URL is not set (mysql://root@127.0.0.1:3306/test)");
            return None;
        };
        if Command::new("mariadb")
            .arg("--version")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            println!("skipping: the mariadb client is not installed");
            return None;
        }
        Some(Self::parse(&url))
    }

    fn parse(url: &str) -> MariaDb {
        let rest = url
            .strip_prefix("mysql://")
            .or_else(|| url.strip_prefix("mariadb://"))
            .unwrap_or_else(|| panic!("KINKO_TEST_MYSQL_URL is not a mysql:// URL: {url}"));
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("root", authority));
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .expect("UTF-8")
                .into_owned()
        };
        MariaDb {
            host: host.to_owned(),
            port: port.parse().expect("a port number"),
            admin: dec(user),
            admin_password: dec(password),
            database: dec(database.split('?').next().unwrap_or("")),
        }
    }

    /// The server's host (as the URL names it).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL's database (`test`).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The administrator's user name and password, from the URL.
    pub fn admin(&self) -> (&str, &str) {
        (&self.admin, &self.admin_password)
    }

    /// Runs `sql` as `user` with `password`: its tab-separated output, or the client's error.
    pub fn query_as(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        // --no-defaults: no option file of this machine's user changes what is tested; the
        // password goes through the environment, not the command line.
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .args(["--protocol=TCP", "--batch", "--skip-column-names"])
            .args(["--connect-timeout=5", "-h", &self.host])
            .args(["-P", &self.port.to_string(), "-u", user])
            .args(["-e", sql])
            .env("MYSQL_PWD", password)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running mariadb: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// Runs `sql` as the administrator; panics when it fails.
    pub fn execute(&self, sql: &str) -> String {
        self.query_as(&self.admin, &self.admin_password, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Creates user `name`@`%` identified by `password` (letters and digits) and grants it
    /// `grants` (each as `GRANT` takes it, e.g. `SELECT ON test.*`, `ALL ON *.* WITH GRANT OPTION`
    /// without the grantee); the user is dropped when the returned guard is.
    pub fn create_user(&self, name: &str, password: &str, grants: &[&str]) -> MariaDbUser {
        let mut sql = format!(
            "CREATE USER '{name}'@'%' IDENTIFIED BY {};",
            sql_literal(&password.replace('\\', "\\\\"))
        );
        for grant in grants {
            let (privileges, option) = match grant.split_once(" WITH ") {
                Some((p, o)) => (p, format!(" WITH {o}")),
                None => (*grant, String::new()),
            };
            sql.push_str(&format!("GRANT {privileges} TO '{name}'@'%'{option};"));
        }
        self.execute(&sql);
        MariaDbUser {
            server: self.clone(),
            name: name.to_owned(),
        }
    }

    /// A guard dropping user `name`@`%` (one that something else created, such as the clone an
    /// alternating-users rotation creates) when it is dropped.
    pub fn adopt_user(&self, name: &str) -> MariaDbUser {
        MariaDbUser {
            server: self.clone(),
            name: name.to_owned(),
        }
    }

    /// Logs in as `user` with `password` on the URL's database and runs `SELECT 1`.
    pub fn login(&self, user: &str, password: &str) -> LoginOutcome {
        let out = self.query_as(user, password, "SELECT 1")?;
        if out.trim() == "1" {
            Ok(())
        } else {
            Err(format!("SELECT 1 answered {out:?}"))
        }
    }
}

/// A MariaDB user a test created; dropped with it.
pub struct MariaDbUser {
    server: MariaDb,
    name: String,
}

impl MariaDbUser {
    /// The user's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for MariaDbUser {
    fn drop(&mut self) {
        let _ = self.server.query_as(
            &self.server.admin,
            &self.server.admin_password,
            &format!("DROP USER IF EXISTS '{}'@'%'", self.name),
        );
    }
}
