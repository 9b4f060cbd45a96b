//! A PostgreSQL server of a test's own, for fault tests that stop and start it (never the
//! machine's server): `initdb` into a temp dir with the machine's PostgreSQL binaries
//! (`/usr/lib/postgresql/*/bin`, the newest), listening on a free loopback port. And a TCP proxy
//! the test can cut and restore between a node and the database.
//!
//! PostgreSQL refuses to run as root: a test running as root runs it as the `postgres` user.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::lock;

/// How PostgreSQL stops: `fast` (clients disconnected, a clean shutdown) or `immediate` (every
/// process killed, crash recovery at the next start).
#[derive(Clone, Copy, Debug)]
pub enum StopMode {
    Fast,
    Immediate,
}

/// A PostgreSQL server in a temp dir; stopped (immediately) and removed when dropped.
pub struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    user: Option<(u32, u32)>,
    _dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/VERSION/bin` holding `initdb`, `pg_ctl` and `postgres`.
fn binaries() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| bin.join(b).is_file())
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A free loopback port (bound and released: another process may take it in between, which
/// only makes the start fail loudly).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl OwnPostgres {
    /// Makes and starts a new server, or `None` after printing why the caller skips (no
    /// PostgreSQL binaries; running as root with no `postgres` user to run them as).
    pub fn start(what: &str) -> Option<OwnPostgres> {
        let Some(bin) = binaries() else {
            eprintln!("skipping {what}: no PostgreSQL binaries in /usr/lib/postgresql/*/bin");
            return None;
        };
        let user = if nix::unistd::geteuid().is_root() {
            match nix::unistd::User::from_name("postgres") {
                Ok(Some(u)) => Some((u.uid.as_raw(), u.gid.as_raw())),
                _ => {
                    eprintln!(
                        "skipping {what}: running as root and there is no postgres user to run PostgreSQL as"
                    );
                    return None;
                }
            }
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("kinko-pg-")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the temp dir");
        }
        let pg = OwnPostgres {
            bin,
            data,
            port: free_port(),
            user,
            _dir: dir,
        };
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                pg.data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "--no-sync".as_ref(),
                "--no-instructions".as_ref(),
            ],
        );
        pg.start_again();
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("PGDATA")
            .env_remove("PGPORT");
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed ({}):\n{}{}\nserver log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    fn log_path(&self) -> PathBuf {
        self.data.parent().expect("parent").join("server.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts the (stopped) server on its port and waits until it accepts connections.
    /// `fsync=off`: a stop, even `immediate`, is a crash of PostgreSQL, not of the machine, so
    /// committed data is in the page cache and WAL replay finds it.
    pub fn start_again(&self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off \
             -c max_connections=60",
            self.port,
            self.data.parent().expect("parent").display()
        );
        self.run(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
                "-l".as_ref(),
                self.log_path().as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
            ],
        );
    }

    /// Stops the server and waits until it has.
    pub fn stop(&self, mode: StopMode) {
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        self.run(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-m".as_ref(),
                mode.as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
            ],
        );
    }

    /// The URL of its `postgres` database (trust authentication on loopback).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.args(["stop", "-w", "-t", "30", "-m", "immediate", "-D"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        let _ = cmd.status();
    }
}

/// A TCP proxy on loopback in front of `target`, which the test cuts (every open connection shut
/// down, new ones closed at once: what a node sees when the database's host is unreachable and
/// its connections reset) and restores.
pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<(u64, TcpStream)>>>,
    stop: Arc<AtomicBool>,
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<(u64, TcpStream)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (cut2, open2, stop2) = (cut.clone(), open.clone(), stop.clone());
        std::thread::spawn(move || {
            let next = AtomicU64::new(0);
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if cut2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                ) else {
                    continue;
                };
                let id = next.fetch_add(1, Ordering::Relaxed);
                {
                    let mut open = lock(&open2);
                    open.push((id, c3));
                    open.push((id, s3));
                }
                let open3 = open2.clone();
                std::thread::spawn(move || {
                    let up = std::thread::spawn(move || pump(client, server));
                    pump(s2, c2);
                    let _ = up.join();
                    lock(&open3).retain(|(i, _)| *i != id);
                });
            }
        });
        Proxy {
            port,
            cut,
            open,
            stop,
        }
    }

    /// Shuts every open connection down and closes new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for (_, s) in lock(&self.open).iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
    }
}
