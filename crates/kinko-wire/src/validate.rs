//! AWS's model-constraint validation messages:
//! `1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: Member must ...`;
//! several violations are joined with `; ` under `N validation errors detected: `.
//!
//! Also the one rule for tags every service shares ([`is_tag_text`], [`Violations::tags`]).

use std::sync::LazyLock;

use regex::Regex;

/// AWS's tag character set: Unicode letters, separators and numbers, and `_ . : / = + - @`
/// (`[\p{L}\p{Z}\p{N}_.:/=+\-@]`, the pattern of the IAM and STS models and of AWS's tagging
/// documentation). Control and format characters (a tab, a NUL, a bidi override such as U+202E),
/// symbols and combining marks are outside it.
static TAG_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern: the unit tests compile it.
    Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$").expect("the tag pattern compiles")
});

/// Whether every character of `s` is in AWS's tag character set (an empty string is).
pub fn is_tag_text(s: &str) -> bool {
    TAG_TEXT.is_match(s)
}

/// Whether a tag key is in the `aws:` namespace AWS reserves (any case: `AWS:`, `Aws:`).
pub fn is_reserved_tag_key(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

/// IAM's and STS's tags (`Key`/`Value`, the models' patterns; `ValidationError`).
pub const IAM_TAGS: TagShape = TagShape {
    key_member: "key",
    value_member: "value",
    patterns: Some(IAM_TAG_PATTERNS),
};

/// Secrets Manager's tags (`Key`/`Value`; `ValidationException` naming the tagging pattern).
pub const SECRETS_MANAGER_TAGS: TagShape = TagShape {
    key_member: "key",
    value_member: "value",
    patterns: Some(TAGGING_TAG_PATTERNS),
};

/// KMS's tags (`TagKey`/`TagValue`): lengths are model violations, the character set is KMS's
/// own `TagException`.
pub const KMS_TAGS: TagShape = TagShape {
    key_member: "tagKey",
    value_member: "tagValue",
    patterns: None,
};

/// How a service's model spells the tag character set in its validation messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagPatterns {
    pub key: &'static str,
    pub value: &'static str,
}

/// IAM's and STS's `tagKeyType` / `tagValueType` (botocore's `iam` and `sts` models).
pub const IAM_TAG_PATTERNS: TagPatterns = TagPatterns {
    key: r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
    value: r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
};

/// The pattern AWS's tagging APIs document for both key and value (`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`),
/// for services whose model states none (Secrets Manager).
pub const TAGGING_TAG_PATTERNS: TagPatterns = TagPatterns {
    key: r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$",
    value: r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$",
};

/// The member names and patterns of a service's tag shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagShape {
    /// Member names in validation paths: `key`/`value` (IAM, STS, Secrets Manager), or
    /// `tagKey`/`tagValue` (KMS).
    pub key_member: &'static str,
    pub value_member: &'static str,
    /// The character set as the model words it, or `None` when the service refuses characters
    /// outside it with an error of its own (KMS's `TagException`) rather than a model violation.
    pub patterns: Option<TagPatterns>,
}

/// Collects constraint violations in field order.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let v = match value {
            Some(v) => format!("Value '{v}' at '{path}'"),
            None => format!("Value at '{path}'"),
        };
        self.0
            .push(format!("{v} failed to satisfy constraint: Member {constraint}"));
    }

    /// A required member was absent.
    pub fn required<T>(&mut self, path: &str, v: &Option<T>) {
        if v.is_none() {
            self.0.push(format!(
                "Value null at '{path}' failed to satisfy constraint: Member must not be null"
            ));
        }
    }

    /// Character-length bounds on a string member. Sensitive members are reported without value.
    pub fn length(&mut self, path: &str, v: Option<&str>, min: usize, max: usize, sensitive: bool) {
        let Some(s) = v else { return };
        let n = s.chars().count();
        let shown = if sensitive { None } else { Some(s) };
        if n < min {
            self.push(
                shown,
                path,
                &format!("must have length greater than or equal to {min}"),
            );
        } else if n > max {
            self.push(
                shown,
                path,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    /// Byte-length bounds (secret values are limited in bytes). Never shows the value.
    pub fn byte_length(&mut self, path: &str, v: Option<&[u8]>, min: usize, max: usize) {
        let Some(b) = v else { return };
        if b.len() < min {
            self.push(
                None,
                path,
                &format!("must have length greater than or equal to {min}"),
            );
        } else if b.len() > max {
            self.push(
                None,
                path,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    pub fn range(&mut self, path: &str, v: Option<i64>, min: i64, max: i64) {
        let Some(n) = v else { return };
        let shown = n.to_string();
        if n < min {
            self.push(
                Some(&shown),
                path,
                &format!("must have value greater than or equal to {min}"),
            );
        } else if n > max {
            self.push(
                Some(&shown),
                path,
                &format!("must have value less than or equal to {max}"),
            );
        }
    }

    pub fn list_length<T>(&mut self, path: &str, v: Option<&[T]>, min: usize, max: usize) {
        let Some(l) = v else { return };
        if l.len() < min {
            self.push(
                None,
                path,
                &format!("must have length greater than or equal to {min}"),
            );
        } else if l.len() > max {
            self.push(
                None,
                path,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    pub fn one_of(&mut self, path: &str, v: Option<&str>, allowed: &[&str]) {
        let Some(s) = v else { return };
        if !allowed.contains(&s) {
            self.push(
                Some(s),
                path,
                &format!("must satisfy enum value set: [{}]", allowed.join(", ")),
            );
        }
    }

    /// A pattern on a sensitive member (a password): reported without its value.
    pub fn sensitive_pattern(&mut self, path: &str, v: Option<&str>, pattern: &str, ok: bool) {
        if let (Some(_), false) = (v, ok) {
            self.push(
                None,
                path,
                &format!("must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    pub fn pattern(&mut self, path: &str, v: Option<&str>, pattern: &str, ok: bool) {
        if let (Some(s), false) = (v, ok) {
            self.push(
                Some(s),
                path,
                &format!("must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// A tag list's model constraints, tag by tag at `<path>.<n>.member.<key|value member>`: key
    /// 1-128 and value 0-256 characters, then both of AWS's tag character set when `shape` names
    /// the patterns. A missing key or value is left to the caller (services differ on it).
    pub fn tags<'a>(
        &mut self,
        path: &str,
        tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
        shape: &TagShape,
    ) {
        for (i, (key, value)) in tags.into_iter().enumerate() {
            let key_path = format!("{path}.{}.member.{}", i + 1, shape.key_member);
            let value_path = format!("{path}.{}.member.{}", i + 1, shape.value_member);
            self.length(&key_path, key, 1, 128, false);
            self.length(&value_path, value, 0, 256, false);
            if let Some(p) = shape.patterns {
                if let Some(k) = key {
                    self.pattern(&key_path, Some(k), p.key, is_tag_text(k));
                }
                if let Some(v) = value {
                    self.pattern(&value_path, Some(v), p.value, is_tag_text(v));
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ValidationException message, or `None` when nothing was violated.
    pub fn message(&self) -> Option<String> {
        match self.0.len() {
            0 => None,
            1 => Some(format!("1 validation error detected: {}", self.0[0])),
            n => Some(format!("{n} validation errors detected: {}", self.0.join("; "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_text() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("Team", true),
            ("cost-center_1.2:3/4=5+6@7", true),
            ("with space", true),
            ("no\u{a0}break", true),       // Zs
            ("line\u{2028}sep", true),     // Zl
            ("ideographic\u{3000}", true), // Zs
            ("équipe", true),              // precomposed letter
            ("日本語", true),
            ("Ⅻ٣²", true), // Nl, Nd, No
            ("ǅ", true),   // Lt
            ("a,b", false),
            ("a;b", false),
            ("a*b", false),
            ("a#b", false),
            ("a&b", false),
            ("(x)", false),
            ("tab\t", false),
            ("new\nline", false),
            ("nul\u{0}", false),
            ("del\u{7f}", false),
            ("c1\u{85}", false),
            ("bidi\u{202e}override", false), // RLO
            ("bidi\u{2066}isolate", false),  // LRI
            ("zero\u{200b}width", false),    // Cf
            ("e\u{301}", false),             // a combining mark (Mn)
            ("Ⓐ", false),                    // alphabetic, but a symbol (So)
            ("😀", false),
            ("\u{feff}bom", false),
        ];
        for &(s, ok) in cases {
            assert_eq!(is_tag_text(s), ok, "{s:?}");
        }
    }

    #[test]
    fn reserved_keys() {
        for k in ["aws:x", "AWS:", "Aws:cloudformation:stack"] {
            assert!(is_reserved_tag_key(k), "{k}");
        }
        for k in ["aws", "awsx:", "x:aws:", "", "é", "ａws:"] {
            assert!(!is_reserved_tag_key(k), "{k}");
        }
    }

    #[test]
    fn tag_lists() {
        let iam = TagShape {
            key_member: "key",
            value_member: "value",
            patterns: Some(IAM_TAG_PATTERNS),
        };
        let long_key = "k".repeat(129);
        let long_value = "v".repeat(257);
        let mut v = Violations::new();
        v.tags(
            "tags",
            [
                (Some("ok"), Some("")),
                (Some(long_key.as_str()), Some("v")),
                (Some("a,b"), Some("x\u{202e}")),
                (Some("k"), Some(long_value.as_str())),
                // Absent members are the caller's to report.
                (None, None),
            ],
            &iam,
        );
        assert_eq!(
            v.message().unwrap(),
            format!(
                "4 validation errors detected: \
                 Value '{long_key}' at 'tags.2.member.key' failed to satisfy constraint: Member must have length less than or equal to 128; \
                 Value 'a,b' at 'tags.3.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+; \
                 Value 'x\u{202e}' at 'tags.3.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*; \
                 Value '{long_value}' at 'tags.4.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"
            )
        );

        // KMS: lengths only, at its member names.
        let kms = TagShape {
            key_member: "tagKey",
            value_member: "tagValue",
            patterns: None,
        };
        let mut v = Violations::new();
        v.tags("tags", [(Some(""), Some("a,b"))], &kms);
        assert_eq!(
            v.message().unwrap(),
            "1 validation error detected: Value '' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn messages() {
        let mut v = Violations::new();
        assert_eq!(v.message(), None);
        v.length("name", Some(""), 1, 512, false);
        assert_eq!(
            v.message().unwrap(),
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        v.byte_length("secretString", Some(&[0u8; 10]), 1, 5);
        v.required::<String>("secretId", &None);
        let m = v.message().unwrap();
        assert!(m.starts_with("3 validation errors detected: "));
        assert!(m.contains("Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 5"));
        assert!(m.contains("Value null at 'secretId'"));
    }
}
