//! Starting and stopping the servers under test as child processes.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};

use crate::client::Endpoint;

/// How long a server may take to print its listening line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The marker servers print once they accept requests.
const LISTENING: &str = "listening on http://";

/// A server running as a child process. It is killed if dropped unstopped.
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    pid: u32,
    endpoint: Endpoint,
    log: PathBuf,
    /// Held open so that a server watching its standard input sees it close
    /// when this process goes away.
    _stdin: Option<ChildStdin>,
    stdout_copier: JoinHandle<()>,
}

impl ServerProcess {
    /// Starts `command`, appending its output to `log`, and waits until it
    /// prints `... listening on http://ADDR`.
    pub async fn start(name: &'static str, mut command: Command, log: &Path) -> Result<Self> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file.try_clone().context("duplicating log file")?))
            .kill_on_drop(true);
        let program = command.as_std().get_program().to_string_lossy().into_owned();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name} ({program})"))?;
        let pid = child.id().with_context(|| format!("{name} exited at once"))?;
        let stdout = child.stdout.take().context("child stdout not captured")?;
        let stdin = child.stdin.take();
        let mut log_out = tokio::fs::File::from_std(log_file);
        let mut lines = BufReader::new(stdout).lines();

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let url = loop {
            let line = match timeout_at(deadline, lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let status = timeout(Duration::from_secs(5), child.wait()).await;
                    let status = match status {
                        Ok(Ok(s)) => s.to_string(),
                        _ => "still running with stdout closed".to_owned(),
                    };
                    bail!(
                        "{name} stopped before listening ({status}); log {}:\n{}",
                        log.display(),
                        tail(log)
                    );
                }
                Err(_) => bail!(
                    "{name} printed no '{LISTENING}' line within {STARTUP_TIMEOUT:?}; log {}:\n{}",
                    log.display(),
                    tail(log)
                ),
            };
            let _ = log_out.write_all(format!("{line}\n").as_bytes()).await;
            if let Some(url) = listening_url(&line) {
                break url.to_owned();
            }
        };
        let endpoint = Endpoint::parse(&url)
            .await
            .with_context(|| format!("{name} listening line names {url:?}"))?;
        if !endpoint.addr.ip().is_loopback() {
            bail!("{name} listens on {}, not on loopback", endpoint.addr);
        }

        // Keep draining stdout so the child never blocks on a full pipe.
        let stdout_copier = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = log_out.write_all(format!("{line}\n").as_bytes()).await;
            }
            let _ = log_out.flush().await;
        });

        Ok(Self {
            name,
            child,
            pid,
            endpoint,
            log: log.to_owned(),
            _stdin: stdin,
            stdout_copier,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM to the process, then SIGKILL if it hasn't exited within
    /// [`STOP_TIMEOUT`]. Returns how it ended.
    pub async fn stop(mut self) -> Result<String> {
        let name = self.name;
        let pid = self.pid;
        if let Some(status) = self.exited() {
            self.stdout_copier.abort();
            return Ok(format!("had already exited ({status})"));
        }
        let raw = i32::try_from(pid).map_err(|_| anyhow!("pid {pid} out of range"))?;
        kill(Pid::from_raw(raw), Signal::SIGTERM)
            .with_context(|| format!("sending SIGTERM to {name} (pid {pid})"))?;
        let outcome = match timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => format!(
                "stopped ({})",
                status.with_context(|| format!("waiting for {name}"))?
            ),
            Err(_) => {
                self.child
                    .kill()
                    .await
                    .with_context(|| format!("killing {name} (pid {pid})"))?;
                format!("killed after ignoring SIGTERM for {STOP_TIMEOUT:?}")
            }
        };
        let _ = timeout(Duration::from_secs(1), &mut self.stdout_copier).await;
        self.stdout_copier.abort();
        Ok(outcome)
    }
}

/// The URL in a `... listening on http://ADDR` line.
fn listening_url(line: &str) -> Option<&str> {
    let at = line.find(LISTENING)?;
    // The URL starts at the "http://" that ends the marker.
    let url_start = at + LISTENING.len() - "http://".len();
    line[url_start..].split_whitespace().next()
}

/// The last lines of a log file, for error messages.
pub fn tail(path: &Path) -> String {
    const LINES: usize = 30;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LINES);
            lines[start..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::listening_url;

    #[test]
    fn finds_the_listening_url() {
        assert_eq!(
            listening_url("kinko listening on http://127.0.0.1:4566"),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(
            listening_url("2026-01-01 INFO kinko listening on http://127.0.0.1:1 (pid 7)"),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(listening_url("opening data dir"), None);
    }
}
