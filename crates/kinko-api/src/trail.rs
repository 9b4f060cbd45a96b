//! CloudTrail's LookupEvents (JSON 1.1, `X-Amz-Target:
//! com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`) over the audit trail.
//!
//! The events come from an [`EventIndex`] the server provides (fed by the audit writer); this
//! module validates the request as CloudTrail does, authorizes it (`cloudtrail:LookupEvents` on
//! `*`) through the one operation contract and keeps the caller to its own account's events.

use kinko_core::store::StoreError;
use kinko_wire::WireError;
use serde::{Deserialize, Serialize};

use crate::authz::{Check, Resource};
use crate::operation::{Authorization, Cx, Json, Operation, Service, execute, finish, json_service};
use crate::{RequestContext, Services};

/// CloudTrail, as the one operation contract sees it.
pub struct CloudTrail;

impl Service for CloudTrail {
    const PREFIX: &'static str = "cloudtrail";
    const EVENT_SOURCE: &'static str = "cloudtrail.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        omitted: &[],
        hidden: &[],
        verbatim: &[],
        numbers: &[],
        booleans: &[],
    };
    type Protocol = Json;
    type Error = TrailError;
}

json_service!(CloudTrail);

/// The attributes LookupEvents filters on (CloudTrail's `LookupAttributeKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookupKey {
    EventId,
    EventName,
    ReadOnly,
    Username,
    ResourceType,
    ResourceName,
    EventSource,
    AccessKeyId,
}

impl LookupKey {
    pub fn parse(s: &str) -> Option<LookupKey> {
        Some(match s {
            "EventId" => LookupKey::EventId,
            "EventName" => LookupKey::EventName,
            "ReadOnly" => LookupKey::ReadOnly,
            "Username" => LookupKey::Username,
            "ResourceType" => LookupKey::ResourceType,
            "ResourceName" => LookupKey::ResourceName,
            "EventSource" => LookupKey::EventSource,
            "AccessKeyId" => LookupKey::AccessKeyId,
            _ => return None,
        })
    }
}

/// One lookup, as the index answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub account: String,
    pub attribute: Option<(LookupKey, String)>,
    /// Milliseconds since the epoch, inclusive.
    pub start_ms: i64,
    pub end_ms: i64,
    pub max_results: usize,
    /// Where the previous page stopped (from its token).
    pub after: Option<Cursor>,
}

/// A place in the index's order, newest first: an event's time, then its position in the trail
/// (an index's own number; later records have higher ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub time_ms: i64,
    pub position: u64,
}

/// An event as LookupEvents returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundEvent {
    pub event_id: String,
    pub event_name: String,
    pub read_only: Option<bool>,
    pub access_key_id: String,
    pub event_time_ms: i64,
    pub event_source: String,
    pub username: Option<String>,
    /// (type, name) pairs.
    pub resources: Vec<(String, String)>,
    /// The record, as JSON text.
    pub cloud_trail_event: String,
}

/// One page: the events, newest first, and where the next page starts.
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub events: Vec<FoundEvent>,
    /// The last event of this page, when more follow.
    pub next: Option<Cursor>,
}

/// Where LookupEvents finds the audit trail's events. A lookup may block (it reads files); it
/// is run off the async workers. An error is the index's own failure (the call's internal
/// error), described for the server's log.
pub trait EventIndex: Send + Sync {
    fn lookup(&self, query: &EventQuery) -> Result<EventPage, String>;
}

/// No trail: no events.
pub struct NoEvents;

impl EventIndex for NoEvents {
    fn lookup(&self, _: &EventQuery) -> Result<EventPage, String> {
        Ok(EventPage::default())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailError {
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidLookupAttributes(String),
    #[error("{0}")]
    InvalidTimeRange(String),
    #[error("{0}")]
    InvalidMaxResults(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    Serialization(String),
    #[error("internal failure: {0}")]
    Internal(String),
    #[error("conflict")]
    Conflict,
}

impl TrailError {
    pub fn code(&self) -> &'static str {
        match self {
            TrailError::AccessDenied(_) => "AccessDeniedException",
            TrailError::InvalidLookupAttributes(_) => "InvalidLookupAttributesException",
            TrailError::InvalidTimeRange(_) => "InvalidTimeRangeException",
            TrailError::InvalidMaxResults(_) => "InvalidMaxResultsException",
            TrailError::InvalidNextToken(_) => "InvalidNextTokenException",
            TrailError::Serialization(_) => "SerializationException",
            TrailError::Internal(_) | TrailError::Conflict => "InternalFailure",
        }
    }

    pub fn to_wire(&self) -> WireError {
        match self {
            TrailError::Internal(_) | TrailError::Conflict => {
                WireError::new(self.code(), 500, "An internal error occurred.")
            }
            TrailError::Serialization(m) => WireError::new(self.code(), 400, m.clone()),
            other => WireError::modeled(other.code(), 400, other.to_string()),
        }
    }
}

impl From<crate::authz::AuthzError> for TrailError {
    fn from(e: crate::authz::AuthzError) -> Self {
        crate::operation::authz_error(e)
    }
}

impl From<StoreError> for TrailError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => TrailError::Conflict,
            StoreError::Backend(m) => TrailError::Internal(m),
        }
    }
}

impl crate::operation::ServiceError for TrailError {
    fn access_denied(message: String) -> Self {
        TrailError::AccessDenied(message)
    }

    fn refused(refusal: crate::authz::Refusal) -> Self {
        TrailError::AccessDenied(refusal.message())
    }

    fn internal(detail: String) -> Self {
        TrailError::Internal(detail)
    }

    fn serialization(message: String) -> Self {
        TrailError::Serialization(message)
    }

    fn is_conflict(&self) -> bool {
        matches!(self, TrailError::Conflict)
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            TrailError::Internal(d) => Some(d),
            _ => None,
        }
    }

    fn to_wire(&self) -> WireError {
        TrailError::to_wire(self)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LookupAttribute {
    attribute_key: String,
    attribute_value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LookupEventsInput {
    #[serde(default)]
    lookup_attributes: Vec<LookupAttribute>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    event_category: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceShape {
    resource_type: String,
    resource_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventShape {
    event_id: String,
    event_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_only: Option<String>,
    access_key_id: String,
    event_time: f64,
    event_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    resources: Vec<ResourceShape>,
    cloud_trail_event: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LookupEventsOutput {
    events: Vec<EventShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Default and largest page, as CloudTrail's.
const MAX_RESULTS: i64 = 50;

/// A page token: where the next page starts and a digest of the query it belongs to, so a token
/// is refused with other parameters (as CloudTrail refuses it).
fn token(next: Cursor, fingerprint: u64) -> String {
    #[expect(clippy::cast_sign_loss, reason = "the time's bits, read back as i64")]
    let time = next.time_ms as u64;
    format!("{time:016x}{:016x}{fingerprint:016x}", next.position)
}

fn read_token(token: &str, fingerprint: u64) -> Result<Cursor, TrailError> {
    let invalid = || TrailError::InvalidNextToken("Invalid NextToken".into());
    if token.len() != 48 || !token.is_ascii() {
        return Err(invalid());
    }
    let time = u64::from_str_radix(&token[..16], 16).map_err(|_| invalid())?;
    let position = u64::from_str_radix(&token[16..32], 16).map_err(|_| invalid())?;
    let print = u64::from_str_radix(&token[32..], 16).map_err(|_| invalid())?;
    if print != fingerprint {
        return Err(invalid());
    }
    #[expect(clippy::cast_possible_wrap, reason = "the bits written by `token`")]
    let time_ms = time as i64;
    Ok(Cursor { time_ms, position })
}

fn fingerprint(q: &EventQuery) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    q.account.hash(&mut h);
    q.attribute.hash(&mut h);
    q.start_ms.hash(&mut h);
    q.end_ms.hash(&mut h);
    h.finish()
}

fn seconds_to_ms(s: f64) -> i64 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "timestamps are far inside i64 milliseconds"
    )]
    let ms = (s * 1000.0).round() as i64;
    ms
}

pub(crate) struct LookupEvents;

impl Operation for LookupEvents {
    type Service = CloudTrail;
    const NAME: &'static str = "LookupEvents";
    type Input = LookupEventsInput;
    type Output = LookupEventsOutput;
    type Resolved = ();
    const READ_ONLY: bool = true;

    fn validate(i: &LookupEventsInput) -> Result<(), TrailError> {
        if i.lookup_attributes.len() > 1 {
            return Err(TrailError::InvalidLookupAttributes(
                "You cannot specify more than one lookup attribute.".into(),
            ));
        }
        for a in &i.lookup_attributes {
            if LookupKey::parse(&a.attribute_key).is_none() {
                return Err(TrailError::InvalidLookupAttributes(format!(
                    "Invalid lookup attribute key: {}",
                    a.attribute_key
                )));
            }
            if a.attribute_value.is_empty() || a.attribute_value.chars().count() > 2000 {
                return Err(TrailError::InvalidLookupAttributes(
                    "Lookup attribute value must be between 1 and 2000 characters.".into(),
                ));
            }
        }
        if let Some(c) = &i.event_category
            && c != "insight"
        {
            return Err(TrailError::Serialization(format!("Invalid EventCategory: {c}")));
        }
        if let Some(m) = i.max_results
            && !(1..=MAX_RESULTS).contains(&m)
        {
            return Err(TrailError::InvalidMaxResults(
                "Value for MaxResults is invalid. Valid values are between 1 and 50.".into(),
            ));
        }
        if let (Some(s), Some(e)) = (i.start_time, i.end_time)
            && s > e
        {
            return Err(TrailError::InvalidTimeRange(
                "Start time must be earlier than end time.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(_: &Cx<'_>, _: &LookupEventsInput) -> Result<(), TrailError> {
        Ok(())
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a LookupEventsInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, TrailError> {
        Ok(Authorization::of(Check::new(cx.action, Resource::Any)))
    }

    async fn run(cx: &Cx<'_>, i: &LookupEventsInput, (): ()) -> Result<LookupEventsOutput, TrailError> {
        let attribute = i
            .lookup_attributes
            .first()
            .and_then(|a| LookupKey::parse(&a.attribute_key).map(|k| (k, a.attribute_value.clone())));
        let mut query = EventQuery {
            account: cx.account().to_owned(),
            attribute,
            start_ms: i.start_time.map_or(i64::MIN, seconds_to_ms),
            end_ms: i.end_time.map_or(i64::MAX, seconds_to_ms),
            #[expect(
                clippy::cast_sign_loss,
                clippy::cast_possible_truncation,
                reason = "validated 1..=50"
            )]
            max_results: i.max_results.unwrap_or(MAX_RESULTS) as usize,
            after: None,
        };
        let print = fingerprint(&query);
        if let Some(t) = &i.next_token {
            query.after = Some(read_token(t, print)?);
        }
        // Insight events are not recorded: none to return.
        let page = if i.event_category.is_some() {
            EventPage::default()
        } else {
            // The index reads files and a database: off the async workers.
            let events = cx.services.events.clone();
            tokio::task::spawn_blocking(move || events.lookup(&query))
                .await
                .map_err(|e| TrailError::Internal(format!("the LookupEvents index: {e}")))?
                .map_err(|e| TrailError::Internal(format!("the LookupEvents index: {e}")))?
        };
        Ok(LookupEventsOutput {
            next_token: page.next.map(|n| token(n, print)),
            events: page
                .events
                .into_iter()
                .map(|e| EventShape {
                    event_id: e.event_id,
                    event_name: e.event_name,
                    read_only: e.read_only.map(|r| r.to_string()),
                    access_key_id: e.access_key_id,
                    #[expect(clippy::cast_precision_loss, reason = "epoch milliseconds fit an f64 exactly")]
                    event_time: e.event_time_ms as f64 / 1000.0,
                    event_source: e.event_source,
                    username: e.username,
                    resources: e
                        .resources
                        .into_iter()
                        .map(|(t, n)| ResourceShape {
                            resource_type: t,
                            resource_name: n,
                        })
                        .collect(),
                    cloud_trail_event: e.cloud_trail_event,
                })
                .collect(),
        })
    }
}

/// Runs one CloudTrail operation and returns the response body.
pub async fn handle(
    services: &Services,
    rc: &RequestContext,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    let result = match operation {
        "LookupEvents" => execute::<LookupEvents>(services, rc, body).await,
        _ => {
            return Err(WireError::new(
                "UnknownOperationException",
                400,
                format!("The operation {operation} is not supported by this service."),
            ));
        }
    };
    finish(rc, operation, result)
}
