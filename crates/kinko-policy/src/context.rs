//! The request context: condition keys and their typed, possibly multiple values.
//!
//! Owns [`ConditionContext`] (case-insensitive keys, multi-valued), [`ContextValue`] (string,
//! number, bool, date, IP, ARN, binary, with the conversions condition operators apply), the
//! date parser for the W3C ISO 8601 profiles and epoch seconds that `Date*` operators accept,
//! and helpers that fill the global `aws:` keys from a principal and a caller-supplied `now`.
//! Pure: the crate never reads a clock.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
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

/// The global keys of the request itself rather than of its principal, as AWS sets them (IAM User
/// Guide, "AWS global condition context keys"): see [`ConditionContext::add_request_keys`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestKeys<'a> {
    /// `aws:RequestedRegion`: the region the request is made to.
    pub requested_region: Option<&'a str>,
    /// `aws:ResourceAccount`: the account that owns the resource the request names.
    pub resource_account: Option<&'a str>,
    /// `aws:TokenIssueTime`: when the temporary credentials were issued; `None` for long-term
    /// access keys (the key is then absent).
    pub token_issue_time: Option<OffsetDateTime>,
    /// `aws:MultiFactorAuthPresent`: whether temporary credentials were issued with MFA; `None`
    /// for long-term access keys, for which AWS leaves the key out.
    pub multi_factor_auth_present: Option<bool>,
    /// `aws:MultiFactorAuthAge`: seconds since the MFA authentication; only with MFA.
    pub multi_factor_auth_age: Option<i64>,
    /// `aws:SourceIdentity`: the source identity of a role session that has one.
    pub source_identity: Option<&'a str>,
    /// `aws:CalledVia`: the service principals (`secretsmanager.amazonaws.com`) that made the
    /// request with the principal's credentials, first to last; empty for a direct request.
    pub called_via: &'a [&'a str],
}

/// Condition keys and their values for one request.
///
/// Keys are case-insensitive ("Key names are case-insensitive" — IAM User Guide, Policy
/// variables), including the tag-key part of `aws:PrincipalTag/<k>` and friends. A key can hold
/// several values (multi-valued keys such as `aws:TagKeys`); a key present with no values is an
/// *empty set*, which every operator treats like an absent key (`ForAllValues` true,
/// `ForAnyValue` false, `Null: true` true).
///
/// Built once or twice per request on the server's hot path, so it avoids per-key allocations:
/// keys are stored lowercased (the global `aws:` keys as static strings), single values inline,
/// in a map with a cheap non-cryptographic hasher (the keys come from the server and the policies,
/// and a context holds a few dozen of them).
#[derive(Debug, Clone, Default)]
pub struct ConditionContext {
    entries: HashMap<Cow<'static, str>, Values, BuildHasherDefault<FxHasher>>,
}

/// The values of one key: one inline (the common case) or any number.
#[derive(Debug, Clone)]
enum Values {
    One(ContextValue),
    Many(Vec<ContextValue>),
}

impl Values {
    fn from_vec(mut values: Vec<ContextValue>) -> Self {
        if values.len() == 1
            && let Some(v) = values.pop()
        {
            return Values::One(v);
        }
        Values::Many(values)
    }

    fn as_slice(&self) -> &[ContextValue] {
        match self {
            Values::One(v) => std::slice::from_ref(v),
            Values::Many(v) => v,
        }
    }

    fn push(&mut self, value: ContextValue) {
        match self {
            Values::Many(v) => v.push(value),
            Values::One(_) => {
                if let Values::One(first) = std::mem::replace(self, Values::Many(Vec::new())) {
                    *self = Values::Many(vec![first, value]);
                }
            }
        }
    }
}

/// The multiply-rotate hash rustc uses (FxHash): a few cycles per 8 bytes, which is all a map of
/// a few dozen server-built keys needs.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Whether `key` would change under [`normalize`]: the exact test the keys were always lowercased
/// by (`char::is_uppercase`), with a byte scan for the usual all-ASCII key.
#[inline]
fn needs_lowercase(key: &str) -> bool {
    if key.is_ascii() {
        key.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        key.chars().any(char::is_uppercase)
    }
}

fn normalize(key: &str) -> Cow<'_, str> {
    if needs_lowercase(key) {
        Cow::Owned(key.to_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

/// `key` normalized and owned, reusing its buffer when it is ASCII.
fn normalize_owned(mut key: String) -> Cow<'static, str> {
    if needs_lowercase(&key) {
        if key.is_ascii() {
            key.make_ascii_lowercase();
        } else {
            key = key.to_lowercase();
        }
    }
    Cow::Owned(key)
}

/// `<prefix><suffix>` normalized, in one allocation when it is ASCII (`prefix` is lowercase).
fn prefixed_key(prefix: &str, suffix: &str) -> Cow<'static, str> {
    let mut key = String::with_capacity(prefix.len() + suffix.len());
    key.push_str(prefix);
    key.push_str(suffix);
    normalize_owned(key)
}

fn static_key(key: &'static str) -> Cow<'static, str> {
    debug_assert!(!needs_lowercase(key), "{key}");
    Cow::Borrowed(key)
}

fn to_key(key: &str) -> Cow<'static, str> {
    match normalize(key) {
        Cow::Borrowed(k) => Cow::Owned(k.to_owned()),
        Cow::Owned(k) => Cow::Owned(k),
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
        let mut ctx = ConditionContext {
            entries: HashMap::with_capacity_and_hasher(16 + principal.tags.len(), Default::default()),
        };
        ctx.add_principal_keys(principal);
        ctx.add_time_keys(now);
        ctx
    }

    /// Appends one value to `key`.
    pub fn insert(&mut self, key: &str, value: impl Into<ContextValue>) -> &mut Self {
        let value = value.into();
        let normalized = normalize(key);
        if let Some(values) = self.entries.get_mut(&*normalized) {
            values.push(value);
        } else {
            let key = match normalized {
                Cow::Borrowed(k) => Cow::Owned(k.to_owned()),
                Cow::Owned(k) => Cow::Owned(k),
            };
            self.entries.insert(key, Values::One(value));
        }
        self
    }

    /// Replaces all values of `key` (an empty `values` makes the key present with an empty set).
    pub fn set(&mut self, key: &str, values: Vec<ContextValue>) -> &mut Self {
        self.entries.insert(to_key(key), Values::from_vec(values));
        self
    }

    /// Replaces all values of a key already normalized.
    fn set_one(&mut self, key: Cow<'static, str>, value: ContextValue) {
        self.entries.insert(key, Values::One(value));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.entries.remove(&*normalize(key));
        self
    }

    /// The values of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&[ContextValue]> {
        self.entries.get(&*normalize(key)).map(Values::as_slice)
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
        self.set_one(
            static_key("aws:principalisawsservice"),
            ContextValue::Bool(is_service),
        );
        if is_service {
            self.set_one(
                static_key("aws:principalservicename"),
                ContextValue::String(p.arn.clone()),
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
            self.set_one(
                static_key("aws:principaltype"),
                ContextValue::String(t.to_owned()),
            );
        }
        if matches!(p.kind, PrincipalKind::Anonymous | PrincipalKind::IdentityProvider) {
            return self;
        }
        self.set_one(
            static_key("aws:principalarn"),
            ContextValue::Arn(p.principal_arn().to_owned()),
        );
        if !p.account_id.is_empty() {
            self.set_one(
                static_key("aws:principalaccount"),
                ContextValue::String(p.account_id.clone()),
            );
        }
        if !p.user_id.is_empty() {
            self.set_one(static_key("aws:userid"), ContextValue::String(p.user_id.clone()));
        }
        if let (PrincipalKind::User, Some(name)) = (p.kind, &p.username) {
            self.set_one(static_key("aws:username"), ContextValue::String(name.clone()));
        }
        if let Some(org) = &p.org_id {
            self.set_one(
                static_key("aws:principalorgid"),
                ContextValue::String(org.clone()),
            );
        }
        for (k, v) in &p.tags {
            self.set_one(
                prefixed_key("aws:principaltag/", k),
                ContextValue::String(v.clone()),
            );
        }
        self
    }

    /// Sets `aws:CurrentTime` and `aws:EpochTime` from `now`.
    pub fn add_time_keys(&mut self, now: OffsetDateTime) -> &mut Self {
        self.set_one(static_key("aws:currenttime"), ContextValue::Date(now));
        self.set_one(
            static_key("aws:epochtime"),
            ContextValue::Number(now.unix_timestamp() as f64),
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
        let mut service_prefix = None;
        for (k, v) in tags {
            self.set_one(prefixed_key("aws:resourcetag/", k), ContextValue::from(v));
            if let Some(svc) = service {
                let prefix = service_prefix.get_or_insert_with(|| to_key(&format!("{svc}:ResourceTag/")));
                self.set_one(prefixed_key(prefix, k), ContextValue::from(v));
            }
        }
        self
    }

    /// Sets `aws:RequestTag/<k>` for each tag and `aws:TagKeys` to the list of keys (present and
    /// empty when `tags` is empty).
    pub fn add_request_tags<'t>(&mut self, tags: impl IntoIterator<Item = (&'t str, &'t str)>) -> &mut Self {
        let mut keys = Vec::new();
        for (k, v) in tags {
            self.set_one(prefixed_key("aws:requesttag/", k), ContextValue::from(v));
            keys.push(ContextValue::from(k));
        }
        self.entries
            .insert(static_key("aws:tagkeys"), Values::from_vec(keys));
        self
    }

    /// Sets the global keys of the request itself: `aws:RequestedRegion`, `aws:ResourceAccount`,
    /// `aws:TokenIssueTime`, `aws:MultiFactorAuthPresent`, `aws:MultiFactorAuthAge` and
    /// `aws:SourceIdentity` when they have a value, `aws:ViaAWSService` always (`true` when an
    /// AWS service made the request with the principal's credentials), and `aws:CalledVia`,
    /// `aws:CalledViaFirst`, `aws:CalledViaLast` only for such a request (IAM User Guide, "AWS
    /// global condition context keys"; "Forward access sessions").
    pub fn add_request_keys(&mut self, k: &RequestKeys<'_>) -> &mut Self {
        let text = |s: &str| ContextValue::String(s.to_owned());
        if let Some(region) = k.requested_region {
            self.set_one(static_key("aws:requestedregion"), text(region));
        }
        if let Some(account) = k.resource_account {
            self.set_one(static_key("aws:resourceaccount"), text(account));
        }
        if let Some(issued) = k.token_issue_time {
            self.set_one(static_key("aws:tokenissuetime"), ContextValue::Date(issued));
        }
        if let Some(present) = k.multi_factor_auth_present {
            self.set_one(
                static_key("aws:multifactorauthpresent"),
                ContextValue::Bool(present),
            );
        }
        if let Some(age) = k.multi_factor_auth_age {
            self.set_one(
                static_key("aws:multifactorauthage"),
                ContextValue::Number(age as f64),
            );
        }
        if let Some(source_identity) = k.source_identity {
            self.set_one(static_key("aws:sourceidentity"), text(source_identity));
        }
        self.set_one(
            static_key("aws:viaawsservice"),
            ContextValue::Bool(!k.called_via.is_empty()),
        );
        if let (Some(first), Some(last)) = (k.called_via.first(), k.called_via.last()) {
            self.entries.insert(
                static_key("aws:calledvia"),
                Values::from_vec(k.called_via.iter().map(|s| text(s)).collect()),
            );
            self.set_one(static_key("aws:calledviafirst"), text(first));
            self.set_one(static_key("aws:calledvialast"), text(last));
        }
        self
    }

    /// The keys present, lowercased (keys compare case-insensitively), in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(AsRef::as_ref)
    }

    /// Sets `aws:SourceIp`.
    pub fn set_source_ip(&mut self, ip: IpAddr) -> &mut Self {
        self.set_one(static_key("aws:sourceip"), ContextValue::Ip(ip));
        self
    }

    /// Sets `aws:SecureTransport`.
    pub fn set_secure_transport(&mut self, tls: bool) -> &mut Self {
        self.set_one(static_key("aws:securetransport"), ContextValue::Bool(tls));
        self
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
    fn values_and_generated_keys() {
        let mut c = ConditionContext::new();
        c.set("svc:Empty", vec![]);
        assert_eq!(c.get("svc:empty").map(<[_]>::len), Some(0));
        c.insert("SVC:EMPTY", "a");
        c.insert("svc:empty", "b");
        c.insert("svc:Empty", "c");
        let got: Vec<_> = c
            .get("svc:empty")
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str())
            .collect();
        assert_eq!(got, ["a", "b", "c"]);
        c.set("svc:empty", vec!["z".into()]);
        assert_eq!(c.single_str("svc:empty").as_deref(), Some("z"));
        c.remove("Svc:Empty");
        assert!(c.get("svc:empty").is_none());

        c.add_resource_tags(Some("SecretsManager"), [("Team", "red"), ("ÄΣ", "x")]);
        c.add_request_tags([("Env", "prod")]);
        assert_eq!(c.single_str("aws:resourcetag/team").as_deref(), Some("red"));
        assert_eq!(
            c.single_str("secretsmanager:ResourceTag/TEAM").as_deref(),
            Some("red")
        );
        assert_eq!(c.single_str("aws:ResourceTag/äς").as_deref(), Some("x"));
        assert_eq!(c.single_str("aws:RequestTag/env").as_deref(), Some("prod"));
        assert_eq!(c.single_str("AWS:TagKeys").as_deref(), Some("Env"));
        c.add_request_tags([]);
        assert_eq!(c.get("aws:tagkeys").map(<[_]>::len), Some(0));

        let p = PrincipalCtx::assumed_role("arn:aws:iam::111122223333:role/App", "s", "AROAEXAMPLE")
            .with_tags([("CostCenter", "42")])
            .with_org("o-abc");
        let c = ConditionContext::for_request(&p, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(c.single_str("aws:PrincipalTag/costcenter").as_deref(), Some("42"));
        assert_eq!(c.single_str("aws:PrincipalOrgID").as_deref(), Some("o-abc"));
        assert_eq!(c.single_str("aws:PrincipalType").as_deref(), Some("AssumedRole"));
        assert_eq!(
            c.single_str("aws:PrincipalIsAWSService").as_deref(),
            Some("false")
        );
        assert_eq!(c.single_str("aws:EpochTime").as_deref(), Some("0"));
    }

    #[test]
    fn request_keys_of_a_direct_request_and_of_one_via_a_service() {
        let mut direct = ConditionContext::new();
        direct.add_request_keys(&RequestKeys {
            requested_region: Some("eu-west-1"),
            ..RequestKeys::default()
        });
        let mut keys: Vec<_> = direct.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["aws:requestedregion", "aws:viaawsservice"]);
        assert_eq!(direct.single_str("aws:ViaAWSService").as_deref(), Some("false"));

        let mut via = ConditionContext::new();
        via.add_request_keys(&RequestKeys {
            token_issue_time: Some(OffsetDateTime::UNIX_EPOCH),
            multi_factor_auth_present: Some(false),
            source_identity: Some("alice"),
            called_via: &["athena.amazonaws.com", "secretsmanager.amazonaws.com"],
            ..RequestKeys::default()
        });
        assert_eq!(via.single_str("aws:ViaAWSService").as_deref(), Some("true"));
        assert_eq!(via.get("aws:CalledVia").map(<[_]>::len), Some(2));
        assert_eq!(
            via.single_str("aws:CalledViaFirst").as_deref(),
            Some("athena.amazonaws.com")
        );
        assert_eq!(
            via.single_str("aws:CalledViaLast").as_deref(),
            Some("secretsmanager.amazonaws.com")
        );
        assert_eq!(
            via.single_str("aws:TokenIssueTime").as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
        assert_eq!(
            via.single_str("aws:MultiFactorAuthPresent").as_deref(),
            Some("false")
        );
        assert!(via.get("aws:MultiFactorAuthAge").is_none());
        assert_eq!(via.single_str("aws:SourceIdentity").as_deref(), Some("alice"));
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
