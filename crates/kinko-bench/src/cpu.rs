//! Where the machine's CPU time went during a measured window: the server under load, this load
//! generator, and every other process (other builds and jobs distort the figures on a small
//! machine, so the report shows how much they took).

use std::time::Instant;

use serde_json::{Value, json};

/// Cumulative CPU times, in clock ticks, at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    at: Instant,
    /// Busy time of the whole machine (all CPUs, everything but idle and I/O wait).
    machine: Option<u64>,
    /// This process (all its threads).
    client: Option<u64>,
    /// The server under load (the sum of its nodes), when it is known local processes.
    server: Option<u64>,
}

impl Sample {
    /// `server_pids`: the processes of the server under load (several nodes are summed); none
    /// when it isn't a local process.
    pub fn now(server_pids: &[u32]) -> Self {
        let server = if server_pids.is_empty() {
            None
        } else {
            server_pids
                .iter()
                .map(|pid| process_time(&pid.to_string()))
                .sum::<Option<u64>>()
        };
        Self {
            at: Instant::now(),
            machine: machine_busy(),
            client: process_time("self"),
            server,
        }
    }
}

/// CPU used between two samples, in percent of one CPU (a 2-CPU machine has 200 %).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub server: Option<f64>,
    pub client: f64,
    /// Everything else on the machine.
    pub other: f64,
}

impl Usage {
    /// `None` when `/proc` can't be read (not Linux).
    pub fn between(start: &Sample, end: &Sample) -> Option<Self> {
        let seconds = end.at.duration_since(start.at).as_secs_f64();
        let percent = |ticks: u64| 100.0 * ticks as f64 / USER_HZ / seconds;
        let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
        let machine = delta(start.machine, end.machine)?;
        let client = delta(start.client, end.client)?;
        let server = delta(start.server, end.server);
        let other = machine.saturating_sub(client + server.unwrap_or(0));
        Some(Self {
            server: server.map(percent),
            client: percent(client),
            other: percent(other),
        })
    }

    /// Server CPU time per request, in microseconds, at `rate` requests per second.
    pub fn server_us_per_request(&self, rate: f64) -> Option<f64> {
        self.server
            .filter(|_| rate > 0.0)
            .map(|pct| pct / 100.0 * 1e6 / rate)
    }

    /// `server / client / other`, in percent of one CPU.
    pub fn summary(&self) -> String {
        let server = self.server.map_or_else(|| "?".to_owned(), |s| format!("{s:.0}%"));
        format!("{server} / {:.0}% / {:.0}%", self.client, self.other)
    }

    pub fn to_json(self, rate: f64) -> Value {
        json!({
            "server_percent": self.server,
            "client_percent": self.client,
            "other_percent": self.other,
            "server_us_per_request": self.server_us_per_request(rate),
        })
    }
}

/// Clock ticks per second of `/proc` times (`USER_HZ`: 100 on every Linux architecture that
/// exposes it to user space the usual way).
const USER_HZ: f64 = 100.0;

/// Busy ticks of all CPUs: the first line of `/proc/stat`, less idle and iowait.
fn machine_busy() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_machine_busy(stat.lines().next()?)
}

fn parse_machine_busy(line: &str) -> Option<u64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice] (guest is in user).
    let get = |i: usize| values.get(i).copied().unwrap_or(0);
    Some(get(0) + get(1) + get(2) + get(5) + get(6) + get(7))
}

/// User plus system ticks of a process (all its threads): `/proc/<pid>/stat`.
fn process_time(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_process_time(&stat)
}

fn parse_process_time(stat: &str) -> Option<u64> {
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (field 3) ... utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        assert_eq!(
            parse_machine_busy("cpu  100 5 50 1000 20 3 2 1 0 0"),
            Some(100 + 5 + 50 + 3 + 2 + 1)
        );
        assert_eq!(parse_machine_busy("cpu0 1 2 3 4"), None);
        let stat = "4242 (tokio rt) S 1 4242 4242 0 -1 4194304 100 0 0 0 1234 56 0 0 20 0 8 0";
        assert_eq!(parse_process_time(stat), Some(1234 + 56));
    }

    #[test]
    fn divides_usage() {
        let usage = Usage {
            server: Some(120.0),
            client: 60.0,
            other: 5.0,
        };
        assert_eq!(usage.server_us_per_request(20_000.0), Some(60.0));
        assert_eq!(usage.summary(), "120% / 60% / 5%");
    }
}
