//! Reading Query parameters with IAM's model constraints (botocore's `iam` model): lengths, patterns,
//! ranges and required members, reported together as one `ValidationError` the way AWS words it
//! (`Value 'x' at 'userName' failed to satisfy constraint: ...`).

use kinko_core::secret::Tag;
use kinko_wire::query::Params;
use kinko_wire::validate::Violations;

use super::error::IamError;

/// `[\w+=,.@-]+`: user, group, role and policy names.
pub const NAME_PATTERN: &str = r"[\w+=,.@-]+";
/// Entity paths: `/` or `/a/b/`.
pub const PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";
const PATH_PREFIX_PATTERN: &str = r"\u002F[\u0021-\u007F]*";
const POLICY_PATH_PATTERN: &str = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/";
const DOCUMENT_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";
const ROLE_DESCRIPTION_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*";
const VERSION_ID_PATTERN: &str = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?";
const TAG_KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
const MARKER_PATTERN: &str = r"[\u0020-\u00FF]+";
const WORD_PATTERN: &str = r"[\w]+";
const SAML_PROVIDER_NAME_PATTERN: &str = r"[\w._-]+";
const INTEGER_PATTERN: &str = "-?[0-9]+";
const BOOLEAN_PATTERN: &str = "true|false";
const SERIAL_NUMBER_PATTERN: &str = r"[\w+=/:,.@-]+";
const AUTHENTICATION_CODE_PATTERN: &str = r"[\d]+";
const ASSIGNMENT_STATUSES: &[&str] = &["Assigned", "Unassigned", "Any"];
const ACCOUNT_ALIAS_PATTERN: &str = "^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$";
/// At most this many tags on a user, role or policy.
pub const MAX_TAGS: usize = 50;
/// Default `MaxItems` of list operations.
const DEFAULT_MAX_ITEMS: usize = 100;

pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

pub fn is_path(s: &str) -> bool {
    s == "/"
        || (s.len() >= 3
            && s.starts_with('/')
            && s.ends_with('/')
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b)))
}

fn is_path_prefix(s: &str) -> bool {
    s.starts_with('/') && s.bytes().all(|b| (0x21..=0x7f).contains(&b))
}

fn is_policy_path(s: &str) -> bool {
    if s == "/" {
        return true;
    }
    let Some(inner) = s.strip_prefix('/').and_then(|r| r.strip_suffix('/')) else {
        return false;
    };
    inner.split('/').all(|seg| {
        !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
    })
}

fn is_latin1_text(s: &str, extra: impl Fn(char) -> bool) -> bool {
    s.chars().all(|c| matches!(c, '\t' | '\n' | '\r') || extra(c))
}

pub fn is_version_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (digits, tail) = rest.split_at(digits_end);
    !digits.is_empty()
        && !digits.starts_with('0')
        && (tail.is_empty()
            || tail
                .strip_prefix('.')
                .is_some_and(|t| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')))
}

/// A list page request: `Marker` and `MaxItems`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub marker: Option<String>,
    pub max_items: Option<i64>,
}

impl Page {
    /// The page of `items` this request asks for, and the marker of the next one if more follow.
    /// Markers are opaque to clients; they carry the offset of the next item.
    pub fn apply<T>(&self, items: Vec<T>) -> Result<(Vec<T>, Option<String>), IamError> {
        let start = match &self.marker {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .map_err(|_| IamError::Validation("Invalid Marker.".into()))?,
        };
        let max = self
            .max_items
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_ITEMS);
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
        let next = start.saturating_add(max);
        Ok((page, (next < total).then(|| next.to_string())))
    }
}

/// Reads parameters, collecting every constraint violation.
pub struct Reader<'a> {
    p: &'a Params,
    v: Violations,
}

/// `UserName` → `userName`, as AWS names members in validation messages.
fn member(param: &str) -> String {
    let mut c = param.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

impl<'a> Reader<'a> {
    pub fn new(p: &'a Params) -> Self {
        Reader {
            p,
            v: Violations::new(),
        }
    }

    /// The collected violations as one `ValidationError`.
    pub fn finish(self) -> Result<(), IamError> {
        match self.v.message() {
            Some(m) => Err(IamError::Validation(m)),
            None => Ok(()),
        }
    }

    pub fn opt(&mut self, param: &str) -> Option<String> {
        self.p.get(param).map(str::to_owned)
    }

    fn required(&mut self, param: &str, required: bool) -> Option<String> {
        let value = self.opt(param);
        if required {
            self.v.required(&member(param), &value);
        }
        value
    }

    /// A string with length bounds and a pattern; `""` when absent (a violation if required).
    fn checked(
        &mut self,
        param: &str,
        required: bool,
        (min, max): (usize, usize),
        (pattern, ok): (&str, fn(&str) -> bool),
    ) -> Option<String> {
        let value = self.required(param, required);
        let m = member(param);
        self.v.length(&m, value.as_deref(), min, max, false);
        if let Some(s) = value.as_deref() {
            self.v.pattern(&m, Some(s), pattern, ok(s));
        }
        value
    }

    /// A user, group, role or policy name of at most `max` characters.
    pub fn name(&mut self, param: &str, max: usize) -> Option<String> {
        self.checked(param, false, (1, max), (NAME_PATTERN, is_name))
    }

    pub fn req_name(&mut self, param: &str, max: usize) -> String {
        self.checked(param, true, (1, max), (NAME_PATTERN, is_name))
            .unwrap_or_default()
    }

    /// An entity path (`Path`, `NewPath`).
    pub fn path(&mut self, param: &str) -> Option<String> {
        self.checked(param, false, (1, 512), (PATH_PATTERN, is_path))
    }

    /// A managed policy path (`Path` of CreatePolicy).
    pub fn policy_path(&mut self, param: &str) -> Option<String> {
        self.checked(param, false, (1, 512), (POLICY_PATH_PATTERN, is_policy_path))
    }

    /// `PathPrefix` of ListUsers/ListGroups/ListRoles.
    pub fn path_prefix(&mut self) -> Option<String> {
        self.checked(
            "PathPrefix",
            false,
            (1, 512),
            (PATH_PREFIX_PATTERN, is_path_prefix),
        )
    }

    /// `PathPrefix` of ListPolicies and ListAttached*Policies (a policy path).
    pub fn policy_path_prefix(&mut self) -> Option<String> {
        self.checked(
            "PathPrefix",
            false,
            (1, 512),
            (POLICY_PATH_PATTERN, is_policy_path),
        )
    }

    /// `PathPrefix` of ListEntitiesForPolicy (an entity path).
    pub fn entity_path_prefix(&mut self) -> Option<String> {
        self.checked("PathPrefix", false, (1, 512), (PATH_PATTERN, is_path))
    }

    pub fn arn(&mut self, param: &str) -> Option<String> {
        self.checked(param, false, (20, 2048), ("", |_| true))
    }

    pub fn req_arn(&mut self, param: &str) -> String {
        self.checked(param, true, (20, 2048), ("", |_| true))
            .unwrap_or_default()
    }

    /// A string of `min..=max` characters with no pattern.
    pub fn bounded(&mut self, param: &str, required: bool, bounds: (usize, usize)) -> Option<String> {
        self.checked(param, required, bounds, ("", |_| true))
    }

    /// `Name` of CreateSAMLProvider: `[\w._-]+`, 1-128 characters.
    pub fn saml_provider_name(&mut self) -> String {
        self.checked(
            "Name",
            true,
            (1, 128),
            (SAML_PROVIDER_NAME_PATTERN, |s| {
                s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            }),
        )
        .unwrap_or_default()
    }

    /// `SSHPublicKeyId`: `[\w]+`, 20-128 characters.
    pub fn ssh_public_key_id(&mut self) -> String {
        self.checked(
            "SSHPublicKeyId",
            true,
            (20, 128),
            (WORD_PATTERN, |s| {
                s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }),
        )
        .unwrap_or_default()
    }

    /// `SSHPublicKeyBody`: 1-16384 characters of `[\u0009\u000A\u000D\u0020-\u00FF]+`.
    pub fn ssh_public_key_body(&mut self) -> String {
        self.checked(
            "SSHPublicKeyBody",
            true,
            (1, 16_384),
            (DOCUMENT_PATTERN, |s| {
                is_latin1_text(s, |c| ('\u{20}'..='\u{ff}').contains(&c))
            }),
        )
        .unwrap_or_default()
    }

    /// A policy document (required).
    pub fn document(&mut self, param: &str) -> String {
        self.checked(
            param,
            true,
            (1, 131_072),
            (DOCUMENT_PATTERN, |s| {
                is_latin1_text(s, |c| ('\u{20}'..='\u{ff}').contains(&c))
            }),
        )
        .unwrap_or_default()
    }

    /// A console password (`Password`, `OldPassword`, `NewPassword`): 1-128 characters of
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+`, reported without its value.
    pub fn password(&mut self, param: &str, required: bool) -> Option<String> {
        let value = self.required(param, required);
        let m = member(param);
        self.v.length(&m, value.as_deref(), 1, 128, true);
        if let Some(s) = value.as_deref() {
            self.v.sensitive_pattern(
                &m,
                Some(s),
                DOCUMENT_PATTERN,
                is_latin1_text(s, |c| ('\u{20}'..='\u{ff}').contains(&c)),
            );
        }
        value
    }

    /// A certificate's PEM text (`CertificateBody`, `CertificateChain`): 1-`max` characters of
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+`.
    pub fn certificate_text(&mut self, param: &str, required: bool, max: usize) -> Option<String> {
        self.checked(
            param,
            required,
            (1, max),
            (DOCUMENT_PATTERN, |s| {
                is_latin1_text(s, |c| ('\u{20}'..='\u{ff}').contains(&c))
            }),
        )
    }

    /// A server certificate's `PrivateKey`: 1-16384 characters of
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+`, reported without its value.
    pub fn private_key(&mut self) -> zeroize::Zeroizing<String> {
        let value = zeroize::Zeroizing::new(self.required("PrivateKey", true).unwrap_or_default());
        let m = member("PrivateKey");
        if self.p.get("PrivateKey").is_some() {
            self.v.length(&m, Some(value.as_str()), 1, 16384, true);
            self.v.sensitive_pattern(
                &m,
                Some(value.as_str()),
                DOCUMENT_PATTERN,
                is_latin1_text(&value, |c| ('\u{20}'..='\u{ff}').contains(&c)),
            );
        }
        value
    }

    /// A signing certificate's `CertificateId`: 24-128 characters of `[\w]+`.
    pub fn certificate_id(&mut self) -> String {
        self.checked(
            "CertificateId",
            true,
            (24, 128),
            (WORD_PATTERN, |s| {
                s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }),
        )
        .unwrap_or_default()
    }

    /// `SerialNumber` of an MFA device: 9-256 characters of `[\w+=/:,.@-]+`.
    pub fn serial_number(&mut self, required: bool) -> Option<String> {
        self.checked(
            "SerialNumber",
            required,
            (9, 256),
            (SERIAL_NUMBER_PATTERN, |s| {
                s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || "+=/:,.@-".contains(c))
            }),
        )
    }

    /// `AuthenticationCode1`/`2`: six digits, reported without their value (a code is a
    /// credential, and validation messages go into audit records).
    pub fn authentication_code(&mut self, param: &str) -> zeroize::Zeroizing<String> {
        let value = self.required(param, true);
        let m = member(param);
        self.v.length(&m, value.as_deref(), 6, 6, true);
        if let Some(s) = value.as_deref() {
            self.v.sensitive_pattern(
                &m,
                Some(s),
                AUTHENTICATION_CODE_PATTERN,
                s.bytes().all(|b| b.is_ascii_digit()),
            );
        }
        zeroize::Zeroizing::new(value.unwrap_or_default())
    }

    /// `AssignmentStatus` of ListVirtualMFADevices.
    pub fn assignment_status(&mut self) -> Option<String> {
        self.one_of("AssignmentStatus", ASSIGNMENT_STATUSES, false)
    }

    /// `AccountAlias`: 3-63 characters of `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`.
    pub fn account_alias(&mut self) -> String {
        self.checked(
            "AccountAlias",
            true,
            (3, 63),
            (ACCOUNT_ALIAS_PATTERN, kinko_core::login::valid_account_alias),
        )
        .unwrap_or_default()
    }

    /// A role description (`Description` of CreateRole/UpdateRole).
    pub fn role_description(&mut self, param: &str, required: bool) -> Option<String> {
        self.checked(
            param,
            required,
            (0, 1000),
            (ROLE_DESCRIPTION_PATTERN, |s| {
                is_latin1_text(s, |c| {
                    ('\u{20}'..='\u{7e}').contains(&c) || ('\u{a1}'..='\u{ff}').contains(&c)
                })
            }),
        )
    }

    /// A policy description (`Description` of CreatePolicy).
    pub fn policy_description(&mut self) -> Option<String> {
        self.checked("Description", false, (0, 1000), ("", |_| true))
    }

    pub fn req_version_id(&mut self) -> String {
        let value = self.required("VersionId", true);
        if let Some(s) = value.as_deref() {
            self.v
                .pattern("versionId", Some(s), VERSION_ID_PATTERN, is_version_id(s));
        }
        value.unwrap_or_default()
    }

    pub fn access_key_id(&mut self) -> String {
        self.checked(
            "AccessKeyId",
            true,
            (16, 128),
            (WORD_PATTERN, |s| {
                s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }),
        )
        .unwrap_or_default()
    }

    /// `DeletionTaskId` of GetServiceLinkedRoleDeletionStatus: 1-1000 characters.
    pub fn deletion_task_id(&mut self) -> String {
        self.checked("DeletionTaskId", true, (1, 1000), ("", |_| true))
            .unwrap_or_default()
    }

    /// An integer with bounds.
    pub fn int(&mut self, param: &str, min: i64, max: i64) -> Option<i64> {
        let raw = self.opt(param)?;
        let m = member(param);
        match raw.trim().parse::<i64>() {
            Ok(n) => {
                self.v.range(&m, Some(n), min, max);
                Some(n)
            }
            Err(_) => {
                self.v.pattern(&m, Some(&raw), INTEGER_PATTERN, false);
                None
            }
        }
    }

    pub fn bool(&mut self, param: &str) -> Option<bool> {
        let raw = self.opt(param)?;
        match raw.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.v.pattern(&member(param), Some(&raw), BOOLEAN_PATTERN, false);
                None
            }
        }
    }

    /// One of an enum's values.
    pub fn one_of(&mut self, param: &str, allowed: &[&str], required: bool) -> Option<String> {
        let value = self.required(param, required);
        self.v.one_of(&member(param), value.as_deref(), allowed);
        value
    }

    /// `Marker` and `MaxItems`.
    pub fn page(&mut self) -> Page {
        let marker = self.checked(
            "Marker",
            false,
            (1, 320),
            (MARKER_PATTERN, |s| {
                s.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c))
            }),
        );
        let max_items = self.int("MaxItems", 1, 1000);
        Page { marker, max_items }
    }

    /// A list of strings (`Name.member.N`).
    pub fn list(&mut self, param: &str, required: bool) -> Option<Vec<String>> {
        let value = self.p.list(param);
        if required {
            self.v.required(&member(param), &value);
        }
        value
    }

    /// A list of enum values (`Filter.member.N`).
    pub fn enum_list(&mut self, param: &str, allowed: &[&str]) -> Option<Vec<String>> {
        let values = self.p.list(param)?;
        let m = member(param);
        for (i, v) in values.iter().enumerate() {
            self.v.one_of(&format!("{m}.{}.member", i + 1), Some(v), allowed);
        }
        Some(values)
    }

    /// `Tags.member.N.Key` / `.Value`: at most 50, keys 1-128, values 0-256 characters.
    pub fn tags(&mut self, param: &str, required: bool) -> Option<Vec<Tag>> {
        let raw = self.p.struct_list(param);
        let m = member(param);
        if required {
            self.v.required(&m, &raw);
        }
        let raw = raw?;
        self.v.list_length(&m, Some(&raw), 0, MAX_TAGS);
        self.v.tags(
            &m,
            raw.iter().map(|f| {
                (
                    f.get("Key").map(String::as_str),
                    f.get("Value").map(String::as_str),
                )
            }),
            &kinko_wire::validate::IAM_TAGS,
        );
        let mut tags = Vec::with_capacity(raw.len());
        for (i, fields) in raw.iter().enumerate() {
            let key_path = format!("{m}.{}.member.key", i + 1);
            let value_path = format!("{m}.{}.member.value", i + 1);
            let key = fields.get("Key").cloned();
            let value = fields.get("Value").cloned();
            self.v.required(&key_path, &key);
            self.v.required(&value_path, &value);
            tags.push(Tag {
                key: key.unwrap_or_default(),
                value: value.unwrap_or_default(),
            });
        }
        Some(tags)
    }

    /// `TagKeys.member.N` (required, at most 50).
    pub fn tag_keys(&mut self) -> Vec<String> {
        let keys = self.list("TagKeys", true);
        self.v.list_length("tagKeys", keys.as_deref(), 0, MAX_TAGS);
        for (i, k) in keys.iter().flatten().enumerate() {
            let path = format!("tagKeys.{}.member", i + 1);
            self.v.length(&path, Some(k), 1, 128, false);
            self.v.pattern(
                &path,
                Some(k),
                TAG_KEY_PATTERN,
                kinko_wire::validate::is_tag_text(k),
            );
        }
        keys.unwrap_or_default()
    }
}

/// Tag checks AWS makes after model validation: no duplicate keys (IAM compares them
/// case-insensitively), no keys in the reserved `aws:` namespace.
pub fn check_tags(tags: &[Tag]) -> Result<(), IamError> {
    for (i, t) in tags.iter().enumerate() {
        if tags[..i].iter().any(|o| o.key.eq_ignore_ascii_case(&t.key)) {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
        if kinko_wire::validate::is_reserved_tag_key(&t.key) {
            return Err(IamError::InvalidInput(
                "Tag keys starting with 'aws:' are reserved for AWS use.".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(is_name("a+b=c,d.e@f-g_h9"));
        assert!(!is_name("a b") && !is_name("") && !is_name("é"));
        assert!(is_path("/") && is_path("/a/") && is_path("/a/b/") && is_path("///"));
        assert!(!is_path("//") && !is_path("a/") && !is_path("/a") && !is_path("/a b/"));
        assert!(is_policy_path("/") && is_policy_path("/a/b-c/"));
        assert!(!is_policy_path("//") && !is_policy_path("/a") && !is_policy_path("/a//b/"));
        assert!(is_version_id("v1") && is_version_id("v12") && is_version_id("v2.x-1"));
        assert!(!is_version_id("v0") && !is_version_id("1") && !is_version_id("v") && !is_version_id("v1_"));
        assert!(is_path_prefix("/") && is_path_prefix("/abc"));
        assert!(!is_path_prefix("abc"));
    }

    #[test]
    fn paging() {
        let page = Page {
            marker: None,
            max_items: Some(2),
        };
        let (items, next) = page.apply(vec![1, 2, 3]).unwrap();
        assert_eq!((items, next.as_deref()), (vec![1, 2], Some("2")));
        let page = Page {
            marker: Some("2".into()),
            max_items: Some(2),
        };
        assert_eq!(page.apply(vec![1, 2, 3]).unwrap(), (vec![3], None));
        let bad = Page {
            marker: Some("x".into()),
            max_items: None,
        };
        assert!(bad.apply(vec![1]).is_err());
    }
}
