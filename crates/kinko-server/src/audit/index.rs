//! The index LookupEvents reads: every record of the trail in memory, with a list of positions
//! per account and per (account, lookup attribute, value), so a lookup reads only the records
//! that match. Built at start from the log files (rotated ones, then the active one) and fed each
//! record once it is written.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use kinko_api::trail::{EventIndex, EventPage, EventQuery, FoundEvent, LookupKey};
use serde_json::Value;

/// Records are appended in about the order of their times (calls that run concurrently take
/// their times a little apart from their order of writing): a scan newest first goes on this far
/// past the start of the range.
const TIME_SLACK_MS: i64 = 5 * 60 * 1000;

#[derive(Default)]
pub(crate) struct Index {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    events: Vec<Indexed>,
    by_account: HashMap<String, Vec<u64>>,
    by_attribute: HashMap<(String, LookupKey, String), Vec<u64>>,
}

struct Indexed {
    accounts: Vec<String>,
    event: FoundEvent,
}

impl Index {
    /// The index of the records in `files` (oldest first).
    pub(crate) fn load(files: &[std::path::PathBuf]) -> Index {
        let index = Index::default();
        for file in files {
            // Only regular files are read back: a device in the log's place (`/dev/full`,
            // `/dev/zero`) would never end.
            if !std::fs::metadata(file).is_ok_and(|m| m.is_file()) {
                continue;
            }
            if let Ok(text) = std::fs::read(file) {
                index.add_lines(&text);
            }
        }
        index
    }

    /// Indexes records, one JSON object a line; lines that are not records are skipped.
    pub(crate) fn add_lines(&self, lines: &[u8]) {
        let parsed: Vec<Indexed> = lines
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(parse)
            .collect();
        if parsed.is_empty() {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for e in parsed {
            inner.push(e);
        }
    }

    pub(crate) fn load_log(active: &Path) -> Index {
        let files = super::verify::log_files(active, &mut super::VerifyReport::default());
        Index::load(&files)
    }
}

impl Inner {
    fn push(&mut self, e: Indexed) {
        let pos = self.events.len() as u64;
        let ev = &e.event;
        let mut keys: Vec<(LookupKey, String)> = vec![
            (LookupKey::EventId, ev.event_id.clone()),
            (LookupKey::EventName, ev.event_name.clone()),
            (LookupKey::AccessKeyId, ev.access_key_id.clone()),
            (LookupKey::EventSource, ev.event_source.clone()),
        ];
        if let Some(r) = ev.read_only {
            keys.push((LookupKey::ReadOnly, r.to_string()));
        }
        if let Some(u) = &ev.username {
            keys.push((LookupKey::Username, u.clone()));
        }
        for (t, n) in &ev.resources {
            keys.push((LookupKey::ResourceType, t.clone()));
            keys.push((LookupKey::ResourceName, n.clone()));
        }
        keys.sort_by(|a, b| (a.0 as u8, &a.1).cmp(&(b.0 as u8, &b.1)));
        keys.dedup();
        for account in &e.accounts {
            self.by_account.entry(account.clone()).or_default().push(pos);
            for (k, v) in &keys {
                if v.is_empty() {
                    continue;
                }
                self.by_attribute
                    .entry((account.clone(), *k, v.clone()))
                    .or_default()
                    .push(pos);
            }
        }
        self.events.push(e);
    }
}

impl EventIndex for Index {
    fn lookup(&self, q: &EventQuery) -> EventPage {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let list = match &q.attribute {
            None => inner.by_account.get(&q.account),
            Some((k, v)) => inner.by_attribute.get(&(q.account.clone(), *k, v.clone())),
        };
        let Some(list) = list else {
            return EventPage::default();
        };
        let end = q
            .after
            .map_or(list.len(), |after| list.partition_point(|&p| p < after));
        let mut page = EventPage::default();
        let mut last_taken = None;
        for &pos in list[..end].iter().rev() {
            let Some(e) = usize::try_from(pos).ok().and_then(|p| inner.events.get(p)) else {
                continue;
            };
            let t = e.event.event_time_ms;
            if t < q.start_ms.saturating_sub(TIME_SLACK_MS) {
                break;
            }
            if t < q.start_ms || t > q.end_ms {
                continue;
            }
            if page.events.len() == q.max_results {
                // One more matches: the next page starts after the last one returned.
                page.next = last_taken;
                break;
            }
            page.events.push(e.event.clone());
            last_taken = Some(pos);
        }
        page
    }
}

/// Reads one record line.
fn parse(line: &[u8]) -> Option<Indexed> {
    let mut v: Value = serde_json::from_slice(line).ok()?;
    let obj = v.as_object_mut()?;
    // The chain's members are the file's, not CloudTrail's.
    obj.remove("sequence");
    obj.remove("chain");
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let identity = obj.get("userIdentity");
    let id = |k: &str| identity.and_then(|i| i.get(k)).and_then(Value::as_str);
    let time = s("eventTime")?;
    let time = time::OffsetDateTime::parse(&time, &time::format_description::well_known::Rfc3339).ok()?;
    let event_time_ms = i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()?;
    let mut accounts: Vec<String> = [
        id("accountId"),
        obj.get("recipientAccountId").and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    .map(str::to_owned)
    .collect();
    accounts.dedup();
    let resources = obj
        .get("resources")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    Some((
                        r.get("type")?.as_str()?.to_owned(),
                        r.get("ARN")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let event = FoundEvent {
        event_id: s("eventID")?,
        event_name: s("eventName").unwrap_or_default(),
        read_only: obj.get("readOnly").and_then(Value::as_bool),
        access_key_id: id("accessKeyId").unwrap_or_default().to_owned(),
        event_time_ms,
        event_source: s("eventSource").unwrap_or_default(),
        username: id("arn").and_then(username),
        resources,
        cloud_trail_event: String::new(),
    };
    let text = serde_json::to_string(&v).ok()?;
    Some(Indexed {
        accounts,
        event: FoundEvent {
            cloud_trail_event: text,
            ..event
        },
    })
}

/// CloudTrail's `Username` of a caller: `root`, an IAM user's name, an assumed role's session
/// name.
fn username(arn: &str) -> Option<String> {
    let resource = arn.splitn(6, ':').nth(5)?;
    if resource == "root" {
        return Some("root".into());
    }
    let (kind, rest) = resource.split_once('/')?;
    match kind {
        "user" | "assumed-role" | "federated-user" => rest.rsplit('/').next().map(str::to_owned),
        _ => None,
    }
}
