//! The request context: condition keys and their typed, possibly multiple values.
//!
//! Owns [`ConditionContext`] (case-insensitive keys, multi-valued), [`ContextValue`] (string,
//! number, bool, date, IP, ARN, binary, with the conversions condition operators apply), the
//! date parser for the W3C ISO 8601 profiles and epoch seconds that `Date*` operators accept,
//! and helpers that fill the global `aws:` keys from a principal and a caller-supplied `now`.
//! Pure: the crate never reads a clock.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::principal::{PrincipalCtx, PrincipalKind};

/// One value of a condition key.
#[derive(Debug, Clone, PartialEq)]
pub enum ContextValue {
    /// Plain text.
    String(String),
    /// An integer or decimal (e.g. `aws:EpochTime`, `secretsmanager:RecoveryWindowInDays`).
    Number(f64),
    /// `true` / `false` (e.g. `aws:SecureTransport`).
    Bool(bool),
    /// A point in time (e.g. `aws:CurrentTime`, `aws:TokenIssueTime`).
    Date(OffsetDateTime),
    /// An IPv4 or IPv6 address (e.g. `aws:SourceIp`).
    Ip(IpAddr),
    /// An ARN (e.g. `aws:PrincipalArn`, `secretsmanager:SecretId`).
    Arn(String),
    /// Raw bytes, compared by `BinaryEquals` against the policy's base64 text.
    Binary(Vec<u8>),
}

impl ContextValue {
    /// The value as text, the form string operators and policy variables use.
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            ContextValue::String(s) | ContextValue::Arn(s) => Cow::Borrowed(s),
            ContextValue::Bool(true) => Cow::Borrowed("true"),
            ContextValue::Bool(false) => Cow::Borrowed("false"),
            ContextValue::Number(n) => Cow::Owned(format_number(*n)),
            ContextValue::Date(d) => Cow::Owned(format_date(*d)),
            ContextValue::Ip(ip) => Cow::Owned(ip.to_string()),
            ContextValue::Binary(b) => Cow::Owned(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }

    pub(crate) fn as_number(&self) -> Option<f64> {
        match self {
            ContextValue::Number(n) => Some(*n),
            ContextValue::String(s) | ContextValue::Arn(s) => parse_number(s),
            ContextValue::Date(d) => Some(d.unix_timestamp() as f64),
            _ => None,
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub(crate) fn as_date(&self) -> Option<i128> {
        match self {
            ContextValue::Date(d) => Some(d.unix_timestamp_nanos()),
            ContextValue::Number(n) if n.is_finite() => Some((*n * 1e9) as i128),
            ContextValue::String(s) | ContextValue::Arn(s) => parse_date(s),
            _ => None,
        }
    }

    pub(crate) fn as_ip(&self) -> Option<IpAddr> {
        match self {
            ContextValue::Ip(ip) => Some(*ip),
            ContextValue::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            ContextValue::Bool(b) => Some(*b),
            ContextValue::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            ContextValue::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    pub(crate) fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            ContextValue::Binary(b) => Cow::Borrowed(b),
            ContextValue::String(s) | ContextValue::Arn(s) => Cow::Borrowed(s.as_bytes()),
            other => match other.as_str() {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            },
        }
    }
}

impl From<&str> for ContextValue {
    fn from(s: &str) -> Self {
        ContextValue::String(s.to_owned())
    }
}

impl From<String> for ContextValue {
    fn from(s: String) -> Self {
        ContextValue::String(s)
    }
}

impl From<bool> for ContextValue {
    fn from(b: bool) -> Self {
        ContextValue::Bool(b)
    }
}

impl From<f64> for ContextValue {
    fn from(n: f64) -> Self {
        ContextValue::Number(n)
    }
}

impl From<i64> for ContextValue {
    fn from(n: i64) -> Self {
        ContextValue::Number(n as f64)
    }
}

impl From<IpAddr> for ContextValue {
    fn from(ip: IpAddr) -> Self {
        ContextValue::Ip(ip)
    }
}

impl From<OffsetDateTime> for ContextValue {
    fn from(d: OffsetDateTime) -> Self {
        ContextValue::Date(d)
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn format_date(d: OffsetDateTime) -> String {
    d.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust's float parser also takes "inf", "NaN" and "1e5"; IAM numbers are plain decimals.
    let ok = !s.is_empty()
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && (b == b'-' || b == b'+')));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let slice = self.s.get(self.pos..self.pos + n)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        Some(slice.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos >= self.s.len()
    }
}

/// Parses a date as AWS's `Date*` operators accept it: epoch seconds (`1700000000`,
/// optionally fractional; a bare `YYYY` is read this way too) or a W3C ISO 8601 profile
/// (`YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm[:ss[.s…]]TZD` with `TZD` = `Z` | `±hh:mm` | `±hhmm`; a missing `TZD`
/// means UTC). Returns nanoseconds since the Unix epoch.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') && !s[1..].contains('-') {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: i128 = int.parse().ok()?;
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let nanos: i128 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().ok()?
        };
        let sign = if int.starts_with('-') { -1 } else { 1 };
        return secs.checked_mul(1_000_000_000)?.checked_add(sign * nanos);
    }
    let mut c = Cursor {
        s: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    let (mut month, mut day) = (1, 1);
    let (mut hour, mut minute, mut second, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    let mut offset_secs = 0i64;
    if c.eat(b'-') {
        month = c.digits(2)?;
        if c.eat(b'-') {
            day = c.digits(2)?;
            if c.eat(b'T') || c.eat(b't') {
                hour = c.digits(2)?;
                if !c.eat(b':') {
                    return None;
                }
                minute = c.digits(2)?;
                if c.eat(b':') {
                    second = c.digits(2)?;
                    if c.eat(b'.') {
                        let start = c.pos;
                        while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                            c.pos += 1;
                        }
                        let frac = std::str::from_utf8(&c.s[start..c.pos]).ok()?;
                        if frac.is_empty() {
                            return None;
                        }
                        let frac9: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
                        nanos = frac9.parse().ok()?;
                    }
                }
                match c.peek() {
                    None => {}
                    Some(b'Z' | b'z') => c.pos += 1,
                    Some(sign @ (b'+' | b'-')) => {
                        c.pos += 1;
                        let oh = c.digits(2)?;
                        c.eat(b':');
                        let om = if c.done() { 0 } else { c.digits(2)? };
                        if oh > 23 || om > 59 {
                            return None;
                        }
                        offset_secs = (oh * 3600 + om * 60) * if sign == b'+' { 1 } else { -1 };
                    }
                    Some(_) => return None,
                }
            }
        }
    }
    if !c.done()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// Condition keys and their values for one request.
///
/// Keys are case-insensitive ("Key names are case-insensitive" — IAM User Guide, Policy
/// variables), including the tag-key part of `aws:PrincipalTag/<k>` and friends. A key can hold
/// several values (multi-valued keys such as `aws:TagKeys`); a key present with no values is an
/// *empty set*, which every operator treats like an absent key (`ForAllValues` true,
/// `ForAnyValue` false, `Null: true` true).
#[derive(Debug, Clone, Default)]
pub struct ConditionContext {
    entries: HashMap<Box<str>, Vec<ContextValue>>,
}

fn normalize(key: &str) -> Cow<'_, str> {
    if key.chars().any(char::is_uppercase) {
        Cow::Owned(key.to_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

impl ConditionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// The global keys derived from `principal` and `now`: see [`Self::add_principal_keys`] and
    /// [`Self::add_time_keys`]. Callers add request keys (`aws:SourceIp`,
    /// `aws:SecureTransport`, tags, service keys) on top.
    pub fn for_request(principal: &PrincipalCtx, now: OffsetDateTime) -> Self {
        let mut ctx = Self::new();
        ctx.add_principal_keys(principal);
        ctx.add_time_keys(now);
        ctx
    }

    /// Appends one value to `key`.
    pub fn insert(&mut self, key: &str, value: impl Into<ContextValue>) -> &mut Self {
        self.entries
            .entry(normalize(key).into())
            .or_default()
            .push(value.into());
        self
    }

    /// Replaces all values of `key` (an empty `values` makes the key present with an empty set).
    pub fn set(&mut self, key: &str, values: Vec<ContextValue>) -> &mut Self {
        self.entries.insert(normalize(key).into(), values);
        self
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.entries.remove(&*normalize(key));
        self
    }

    /// The values of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&[ContextValue]> {
        self.entries.get(&*normalize(key)).map(Vec::as_slice)
    }

    /// The text of `key` if it has exactly one value: what a policy variable resolves to
    /// (multi-valued keys can't be variables — IAM User Guide, Single-valued vs. multivalued
    /// context keys).
    pub(crate) fn single_str(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.get(key)? {
            [one] => Some(one.as_str()),
            _ => None,
        }
    }

    /// Sets `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`,
    /// `aws:username` (IAM users only), `aws:PrincipalOrgID`, `aws:PrincipalTag/<k>`,
    /// `aws:PrincipalIsAWSService` and `aws:PrincipalServiceName` as AWS fills them for each
    /// kind of principal (IAM User Guide, AWS global condition context keys).
    pub fn add_principal_keys(&mut self, p: &PrincipalCtx) -> &mut Self {
        let is_service = p.kind == PrincipalKind::Service;
        self.set("aws:PrincipalIsAWSService", vec![ContextValue::Bool(is_service)]);
        if is_service {
            self.set(
                "aws:PrincipalServiceName",
                vec![ContextValue::String(p.arn.clone())],
            );
            return self;
        }
        let principal_type = match p.kind {
            PrincipalKind::Root => Some("Account"),
            PrincipalKind::User => Some("User"),
            PrincipalKind::AssumedRole => Some("AssumedRole"),
            PrincipalKind::FederatedUser => Some("FederatedUser"),
            PrincipalKind::Anonymous => Some("Anonymous"),
            PrincipalKind::Service | PrincipalKind::IdentityProvider => None,
        };
        if let Some(t) = principal_type {
            self.set("aws:PrincipalType", vec![ContextValue::String(t.to_owned())]);
        }
        if matches!(p.kind, PrincipalKind::Anonymous | PrincipalKind::IdentityProvider) {
            return self;
        }
        self.set(
            "aws:PrincipalArn",
            vec![ContextValue::Arn(p.principal_arn().to_owned())],
        );
        if !p.account_id.is_empty() {
            self.set(
                "aws:PrincipalAccount",
                vec![ContextValue::String(p.account_id.clone())],
            );
        }
        if !p.user_id.is_empty() {
            self.set("aws:userid", vec![ContextValue::String(p.user_id.clone())]);
        }
        if let (PrincipalKind::User, Some(name)) = (p.kind, &p.username) {
            self.set("aws:username", vec![ContextValue::String(name.clone())]);
        }
        if let Some(org) = &p.org_id {
            self.set("aws:PrincipalOrgID", vec![ContextValue::String(org.clone())]);
        }
        for (k, v) in &p.tags {
            self.set(
                &format!("aws:PrincipalTag/{k}"),
                vec![ContextValue::String(v.clone())],
            );
        }
        self
    }

    /// Sets `aws:CurrentTime` and `aws:EpochTime` from `now`.
    pub fn add_time_keys(&mut self, now: OffsetDateTime) -> &mut Self {
        self.set("aws:CurrentTime", vec![ContextValue::Date(now)]);
        self.set(
            "aws:EpochTime",
            vec![ContextValue::Number(now.unix_timestamp() as f64)],
        );
        self
    }

    /// Sets `aws:ResourceTag/<k>` for each tag, and `<service>:ResourceTag/<k>` too when
    /// `service` is given (Secrets Manager defines `secretsmanager:ResourceTag/<k>` as a synonym).
    pub fn add_resource_tags<'t>(
        &mut self,
        service: Option<&str>,
        tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> &mut Self {
        for (k, v) in tags {
            self.set(&format!("aws:ResourceTag/{k}"), vec![ContextValue::from(v)]);
            if let Some(svc) = service {
                self.set(&format!("{svc}:ResourceTag/{k}"), vec![ContextValue::from(v)]);
            }
        }
        self
    }

    /// Sets `aws:RequestTag/<k>` for each tag and `aws:TagKeys` to the list of keys (present and
    /// empty when `tags` is empty).
    pub fn add_request_tags<'t>(&mut self, tags: impl IntoIterator<Item = (&'t str, &'t str)>) -> &mut Self {
        let mut keys = Vec::new();
        for (k, v) in tags {
            self.set(&format!("aws:RequestTag/{k}"), vec![ContextValue::from(v)]);
            keys.push(ContextValue::from(k));
        }
        self.set("aws:TagKeys", keys);
        self
    }

    /// Sets `aws:SourceIp`.
    pub fn set_source_ip(&mut self, ip: IpAddr) -> &mut Self {
        self.set("aws:SourceIp", vec![ContextValue::Ip(ip)])
    }

    /// Sets `aws:SecureTransport`.
    pub fn set_secure_transport(&mut self, tls: bool) -> &mut Self {
        self.set("aws:SecureTransport", vec![ContextValue::Bool(tls)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let s = |x| parse_date(x).map(|n| (n / 1_000_000_000) as i64);
        assert_eq!(s("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(s("2020-01-01T00:00:01Z"), Some(1_577_836_801));
        assert_eq!(s("2020-01-01T01:00:01+01:00"), Some(1_577_836_801));
        assert_eq!(s("2020-01-01T00:00:01.5Z"), Some(1_577_836_801));
        assert_eq!(
            parse_date("2020-01-01T00:00:01.5Z").map(|n| n % 1_000_000_000),
            Some(500_000_000)
        );
        assert_eq!(s("2020-01-01"), Some(1_577_836_800));
        assert_eq!(s("2020-01"), Some(1_577_836_800));
        // All digits are epoch seconds, not a bare year.
        assert_eq!(s("2020"), Some(2020));
        assert_eq!(s("2020-01-01T00:00Z"), Some(1_577_836_800));
        assert_eq!(s("1577836801"), Some(1_577_836_801));
        assert_eq!(s("-1"), Some(-1));
        assert_eq!(s("2020-02-30"), None);
        assert_eq!(s("2020-13-01"), None);
        assert_eq!(s("2020-01-01T25:00:00Z"), None);
        assert_eq!(s("yesterday"), None);
        assert_eq!(s("2020-01-01T00:00:00Zjunk"), None);
        assert_eq!(s(""), None);
        assert_eq!(s("-"), None);
        assert_eq!(s("99999999999999999999999999999999999999999"), None);
    }

    #[test]
    fn keys_are_case_insensitive() {
        let mut c = ConditionContext::new();
        c.insert("AWS:PrincipalTag/Team", "red");
        assert_eq!(c.get("aws:principaltag/team").map(<[_]>::len), Some(1));
        assert_eq!(c.single_str("aws:PRINCIPALTAG/TEAM").as_deref(), Some("red"));
        c.insert("aws:principaltag/team", "blue");
        assert!(c.single_str("aws:PrincipalTag/Team").is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number(" -2.5 "), Some(-2.5));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("1e3"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(ContextValue::Number(3.0).as_str(), "3");
    }
}
