//! Filter matching for `ListSecrets` and `BatchGetSecretValue`.
//!
//! This module owns the filter keys, the per-key matching rules and how
//! filters combine. It is pure: it looks only at the borrowed
//! [`FilterTarget`] view and never touches storage.
//!
//! Rules:
//! - Every filter must match (AND), also when a key is repeated.
//! - Within one filter, any of its values may match (OR).
//! - A value starting with `!` is negated: it matches exactly when the rest
//!   of the value does not match. This applies to every key.
//! - `name`, `tag-key`, `tag-value`, `primary-region`, `owning-service`:
//!   case-sensitive prefix match (for tags: some tag key / value has the
//!   prefix; an absent region or service never matches a positive value).
//! - `description`: case-insensitive word-prefix search. The value and the
//!   description are split into whitespace-separated words and every value
//!   word must be a prefix of some description word. A secret without a
//!   description never matches a positive value.
//! - `all`: the same word-prefix search, applied separately to the name, the
//!   description, each tag key and each tag value (a match in any one of
//!   them is enough). Words are additionally split on the separator
//!   characters `/ _ + = . @ -` and on camel-case boundaries (see
//!   [`search_words`]). A value that yields no words (e.g. `+`) matches
//!   nothing.

/// A filter key as sent on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterKey {
    Description,
    Name,
    TagKey,
    TagValue,
    PrimaryRegion,
    OwningService,
    All,
}

impl FilterKey {
    /// Parses the wire form (`description`, `name`, `tag-key`, `tag-value`,
    /// `primary-region`, `owning-service`, `all`). Matching is exact.
    pub fn parse(key: &str) -> Option<FilterKey> {
        match key {
            "description" => Some(Self::Description),
            "name" => Some(Self::Name),
            "tag-key" => Some(Self::TagKey),
            "tag-value" => Some(Self::TagValue),
            "primary-region" => Some(Self::PrimaryRegion),
            "owning-service" => Some(Self::OwningService),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    /// The wire form of this key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Description => "description",
            Self::Name => "name",
            Self::TagKey => "tag-key",
            Self::TagValue => "tag-value",
            Self::PrimaryRegion => "primary-region",
            Self::OwningService => "owning-service",
            Self::All => "all",
        }
    }
}

/// One `{Key, Values}` entry of a request's `Filters`.
///
/// A filter with no values matches nothing; request validation rejects such
/// filters before matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: FilterKey,
    pub values: Vec<String>,
}

/// The attributes of a secret that filters look at.
#[derive(Debug, Clone, Copy)]
pub struct FilterTarget<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// `(key, value)` pairs.
    pub tags: &'a [(String, String)],
    pub primary_region: Option<&'a str>,
    pub owning_service: Option<&'a str>,
}

/// Whether `target` satisfies all `filters`. An empty filter list matches.
pub fn matches(target: &FilterTarget<'_>, filters: &[Filter]) -> bool {
    filters.iter().all(|filter| filter_matches(target, filter))
}

fn filter_matches(target: &FilterTarget<'_>, filter: &Filter) -> bool {
    filter
        .values
        .iter()
        .any(|value| value_matches(target, filter.key, value))
}

fn value_matches(target: &FilterTarget<'_>, key: FilterKey, value: &str) -> bool {
    match value.strip_prefix('!') {
        Some(rest) => !positive_match(target, key, rest),
        None => positive_match(target, key, value),
    }
}

fn positive_match(target: &FilterTarget<'_>, key: FilterKey, value: &str) -> bool {
    match key {
        FilterKey::Name => target.name.starts_with(value),
        FilterKey::TagKey => target.tags.iter().any(|(k, _)| k.starts_with(value)),
        FilterKey::TagValue => target.tags.iter().any(|(_, v)| v.starts_with(value)),
        FilterKey::PrimaryRegion => target.primary_region.is_some_and(|r| r.starts_with(value)),
        FilterKey::OwningService => target.owning_service.is_some_and(|s| s.starts_with(value)),
        FilterKey::Description => target.description.is_some_and(|description| {
            words_prefix_match(&whitespace_words(value), &whitespace_words(description))
        }),
        FilterKey::All => {
            let query = search_words(value);
            if query.is_empty() {
                return false;
            }
            let attribute_matches = |attribute: &str| words_prefix_match(&query, &search_words(attribute));
            attribute_matches(target.name)
                || target.description.is_some_and(attribute_matches)
                || target
                    .tags
                    .iter()
                    .any(|(k, v)| attribute_matches(k) || attribute_matches(v))
        }
    }
}

/// Every query word is a prefix of some target word. No query words: false.
fn words_prefix_match(query: &[String], target: &[String]) -> bool {
    !query.is_empty()
        && query
            .iter()
            .all(|q| target.iter().any(|word| word.starts_with(q.as_str())))
}

/// Lowercased whitespace-separated words (the `description` tokenizer).
fn whitespace_words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_lowercase).collect()
}

/// Characters that separate words for the `all` filter.
const SEPARATORS: [char; 7] = ['/', '_', '+', '=', '.', '@', '-'];

/// Lowercased words for the `all` filter.
///
/// Each whitespace-separated chunk is split on its separator character and
/// each piece on camel-case boundaries ([`split_camel_case`]). A chunk that
/// contains two *different* separator characters (e.g. `prod-AppBeta/x`) is
/// kept as a single word: AWS was observed not to find such names by their
/// parts.
pub fn search_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    for chunk in s.split_whitespace() {
        let mut present = SEPARATORS.iter().filter(|sep| chunk.contains(**sep));
        match (present.next(), present.next()) {
            (Some(_), Some(_)) => words.push(chunk.to_lowercase()),
            (Some(sep), None) => {
                for piece in chunk.split(*sep) {
                    push_camel_words(piece, &mut words);
                }
            }
            (None, _) => push_camel_words(chunk, &mut words),
        }
    }
    words
}

fn push_camel_words(piece: &str, words: &mut Vec<String>) {
    words.extend(
        split_camel_case(piece)
            .into_iter()
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase),
    );
}

/// Splits before an uppercase letter that follows a lowercase letter
/// (`DescTwo` → `Desc`, `Two`) and before the last uppercase letter of an
/// uppercase run that is followed by a lowercase letter (`SecretFTag` →
/// `Secret`, `F`, `Tag`; `COMPANYthings` → `COMPAN`, `Ythings`). Only letter case
/// creates boundaries: a digit followed by an uppercase letter is not one
/// (`abc123Def` stays whole).
pub fn split_camel_case(s: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (offset, cur) = chars[i];
        let prev = chars[i - 1].1;
        let next_is_lower = chars.get(i + 1).is_some_and(|(_, c)| c.is_lowercase());
        let boundary = cur.is_uppercase() && (prev.is_lowercase() || (prev.is_uppercase() && next_is_lower));
        if boundary {
            parts.push(&s[start..offset]);
            start = offset;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// What a searchable term of a secret ([`Term`]) was taken from. A store keeps a secret's terms
/// beside it (written with the secret, in the same transaction) and answers filters with them
/// ([`conditions`]), so a filtered listing need not read every secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermKind {
    /// A lowercased whitespace-separated word of the description.
    Description,
    /// A tag key, as it is.
    TagKey,
    /// A tag value, as it is.
    TagValue,
    /// The primary region.
    PrimaryRegion,
    /// The owning service.
    OwningService,
    /// A word of the `all` search ([`search_words`]) of one attribute: the name, the
    /// description, a tag key or a tag value, told apart by [`Term::attribute`].
    Search,
}

impl TermKind {
    /// The code a store keeps for this kind.
    pub fn code(self) -> &'static str {
        match self {
            Self::Description => "d",
            Self::TagKey => "k",
            Self::TagValue => "v",
            Self::PrimaryRegion => "r",
            Self::OwningService => "o",
            Self::Search => "a",
        }
    }
}

/// One searchable term of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    pub kind: TermKind,
    /// Which attribute a [`TermKind::Search`] word comes from (0: the name, 1: the description,
    /// then each tag's key and value); 0 for the other kinds.
    pub attribute: i64,
    pub text: String,
}

/// Every searchable term of `target`, without duplicates. The name is not among them: a store
/// matches name prefixes on the name it keeps anyway.
pub fn terms(target: &FilterTarget<'_>) -> Vec<Term> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut push = |kind: TermKind, attribute: i64, text: String| {
        let term = Term {
            kind,
            attribute,
            text,
        };
        if seen.insert(term.clone()) {
            out.push(term);
        }
    };
    for word in target.description.map(whitespace_words).unwrap_or_default() {
        push(TermKind::Description, 0, word);
    }
    for (k, v) in target.tags {
        push(TermKind::TagKey, 0, k.clone());
        push(TermKind::TagValue, 0, v.clone());
    }
    if let Some(r) = target.primary_region {
        push(TermKind::PrimaryRegion, 0, r.to_owned());
    }
    if let Some(s) = target.owning_service {
        push(TermKind::OwningService, 0, s.to_owned());
    }
    let mut attributes = vec![Some(target.name), target.description];
    for (k, v) in target.tags {
        attributes.push(Some(k));
        attributes.push(Some(v));
    }
    for (n, attribute) in attributes.into_iter().enumerate() {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        for word in attribute.map(search_words).unwrap_or_default() {
            push(TermKind::Search, n, word);
        }
    }
    out
}

/// What one filter value asks of a secret, in terms a store evaluates on its columns and
/// [`Term`]s. [`conditions`] turns filters into these with the exact rules of [`matches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The name starts with this (case-sensitive).
    NamePrefix(String),
    /// For each prefix, some term of the kind starts with it (they may be different terms).
    TermPrefixes { kind: TermKind, prefixes: Vec<String> },
    /// One attribute has, for each prefix, a [`TermKind::Search`] word starting with it.
    SearchPrefixes(Vec<String>),
    /// Nothing matches (a search value without words).
    Never,
}

/// One filter value: its condition, or (a value starting with `!`) the condition's negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub condition: Condition,
}

/// `filters` as a store evaluates them: a secret matches when, for every inner list (a filter),
/// some clause (one of its values) holds. Equivalent to [`matches`] on the secret's
/// [`FilterTarget`] and [`terms`].
pub fn conditions(filters: &[Filter]) -> Vec<Vec<Clause>> {
    filters
        .iter()
        .map(|filter| {
            filter
                .values
                .iter()
                .map(|value| {
                    let (negated, value) = match value.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, value.as_str()),
                    };
                    Clause {
                        negated,
                        condition: condition(filter.key, value),
                    }
                })
                .collect()
        })
        .collect()
}

fn condition(key: FilterKey, value: &str) -> Condition {
    let single = |kind| Condition::TermPrefixes {
        kind,
        prefixes: vec![value.to_owned()],
    };
    // Every word must prefix some word: a repeated word asks nothing more.
    let distinct = |mut words: Vec<String>| {
        let mut seen = std::collections::HashSet::new();
        words.retain(|w| seen.insert(w.clone()));
        words
    };
    match key {
        FilterKey::Name => Condition::NamePrefix(value.to_owned()),
        FilterKey::TagKey => single(TermKind::TagKey),
        FilterKey::TagValue => single(TermKind::TagValue),
        FilterKey::PrimaryRegion => single(TermKind::PrimaryRegion),
        FilterKey::OwningService => single(TermKind::OwningService),
        FilterKey::Description => match distinct(whitespace_words(value)) {
            words if words.is_empty() => Condition::Never,
            words => Condition::TermPrefixes {
                kind: TermKind::Description,
                prefixes: words,
            },
        },
        FilterKey::All => match distinct(search_words(value)) {
            words if words.is_empty() => Condition::Never,
            words => Condition::SearchPrefixes(words),
        },
    }
}

/// The least string greater than every string that starts with `prefix`, in code point order
/// (the byte order of UTF-8, which both stores compare text in): `s` starts with `prefix`
/// exactly when `prefix <= s` and, if there is a bound, `s < bound`. `None` when no string is
/// greater (the empty prefix, or only `char::MAX`s).
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Secret {
        name: &'static str,
        description: Option<&'static str>,
        tags: Vec<(String, String)>,
        primary_region: Option<&'static str>,
        owning_service: Option<&'static str>,
    }

    fn secret(name: &'static str) -> Secret {
        Secret {
            name,
            description: None,
            tags: Vec::new(),
            primary_region: None,
            owning_service: None,
        }
    }

    fn described(name: &'static str, description: &'static str) -> Secret {
        Secret {
            description: Some(description),
            ..secret(name)
        }
    }

    fn tagged(name: &'static str, tags: &[(&str, &str)]) -> Secret {
        Secret {
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..secret(name)
        }
    }

    impl Secret {
        fn target(&self) -> FilterTarget<'_> {
            FilterTarget {
                name: self.name,
                description: self.description,
                tags: &self.tags,
                primary_region: self.primary_region,
                owning_service: self.owning_service,
            }
        }
    }

    fn f(key: &str, values: &[&str]) -> Filter {
        Filter {
            key: FilterKey::parse(key).unwrap(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    /// Names of the secrets matching `filters`, in input order.
    fn select(secrets: &[Secret], filters: &[Filter]) -> Vec<&'static str> {
        secrets
            .iter()
            .filter(|s| matches(&s.target(), filters))
            .map(|s| s.name)
            .collect()
    }

    #[test]
    fn key_parsing_round_trips() {
        for key in [
            "description",
            "name",
            "tag-key",
            "tag-value",
            "primary-region",
            "owning-service",
            "all",
        ] {
            assert_eq!(FilterKey::parse(key).unwrap().as_str(), key);
        }
        for bad in ["", "Name", "NAME", "tag_key", "invalid", " name"] {
            assert_eq!(FilterKey::parse(bad), None);
        }
    }

    #[test]
    fn no_filters_match_everything() {
        assert!(matches(&secret("x").target(), &[]));
    }

    #[test]
    fn filter_without_values_matches_nothing() {
        let filter = Filter {
            key: FilterKey::Name,
            values: vec![],
        };
        assert!(!matches(&secret("x").target(), &[filter]));
    }

    // --- name ---

    fn path_secrets() -> Vec<Secret> {
        vec![secret("testing1/one-abc"), secret("/testing2/two-def")]
    }

    #[test]
    fn name_prefix_slash() {
        assert_eq!(
            select(&path_secrets(), &[f("name", &["/"])]),
            ["/testing2/two-def"]
        );
    }

    #[test]
    fn name_with_space_matches_nothing() {
        assert!(select(&path_secrets(), &[f("name", &["testing1 one"])]).is_empty());
    }

    #[test]
    fn name_negation() {
        assert_eq!(
            select(&path_secrets(), &[f("name", &["!/"])]),
            ["testing1/one-abc"]
        );
    }

    #[test]
    fn name_is_case_sensitive_prefix() {
        let secrets = [secret("foo"), secret("bar"), secret("Foo"), secret("xfoo")];
        assert_eq!(select(&secrets, &[f("name", &["foo"])]), ["foo"]);
        assert_eq!(select(&secrets, &[f("name", &["fo"])]), ["foo"]);
        assert!(select(&secrets, &[f("name", &["oo"])]).is_empty());
    }

    #[test]
    fn values_are_ored() {
        let secrets = [secret("foo"), secret("bar"), secret("baz")];
        assert_eq!(select(&secrets, &[f("name", &["foo", "bar"])]), ["foo", "bar"]);
    }

    #[test]
    fn empty_and_bare_negation_values_for_prefix_keys() {
        let secrets = [secret("foo")];
        assert_eq!(select(&secrets, &[f("name", &[""])]), ["foo"]);
        assert!(select(&secrets, &[f("name", &["!"])]).is_empty());
    }

    // --- description ---

    fn word_secrets() -> Vec<Secret> {
        vec![
            described("s1", "a secret"),
            described("s2", "an secret"),
            described("s3", "asecret"),
            described("s4", "thesecret"),
        ]
    }

    #[test]
    fn description_single_letter_is_word_prefix() {
        assert_eq!(
            select(&word_secrets(), &[f("description", &["a"])]),
            ["s1", "s2", "s3"]
        );
    }

    #[test]
    fn description_every_word_must_prefix_some_word() {
        assert_eq!(
            select(&word_secrets(), &[f("description", &["a secret"])]),
            ["s1", "s2"]
        );
    }

    fn number_secrets() -> Vec<Secret> {
        vec![
            described("foo", "one two"),
            described("bar", "one and two"),
            described("baz", "one"),
            described("qux", "two"),
            described("none", "unrelated"),
            secret("nodesc"),
        ]
    }

    #[test]
    fn description_multi_word_initials() {
        assert_eq!(
            select(&number_secrets(), &[f("description", &["o t"])]),
            ["foo", "bar"]
        );
        assert_eq!(
            select(&number_secrets(), &[f("description", &["one two"])]),
            ["foo", "bar"]
        );
    }

    #[test]
    fn description_single_initial() {
        assert_eq!(
            select(&number_secrets(), &[f("description", &["t"])]),
            ["foo", "bar", "qux"]
        );
    }

    #[test]
    fn description_is_case_insensitive() {
        let secrets = [described("x", "Baz QUX"), described("y", "other")];
        assert_eq!(select(&secrets, &[f("description", &["bAZ"])]), ["x"]);
        assert_eq!(select(&secrets, &[f("description", &["QUX baz"])]), ["x"]);
    }

    #[test]
    fn repeated_keys_are_anded() {
        assert_eq!(
            select(
                &number_secrets(),
                &[f("description", &["one"]), f("description", &["two"])]
            ),
            ["foo", "bar"]
        );
        let secrets = [
            described("foo", "one two"),
            described("bar", "one"),
            described("baz", "two"),
            described("qux", "unrelated"),
        ];
        assert_eq!(
            select(
                &secrets,
                &[f("description", &["one"]), f("description", &["two"])]
            ),
            ["foo"]
        );
    }

    #[test]
    fn description_negation() {
        // `one` OR NOT `two`.
        assert_eq!(
            select(&number_secrets(), &[f("description", &["one", "!two"])]),
            ["foo", "bar", "baz", "none", "nodesc"]
        );
        // NOT `o`: a missing description cannot match `o`, so it passes.
        assert_eq!(
            select(&number_secrets(), &[f("description", &["!o"])]),
            ["qux", "none", "nodesc"]
        );
    }

    #[test]
    fn missing_description_never_matches_positive_filter() {
        let secrets = [secret("nodesc")];
        assert!(select(&secrets, &[f("description", &["a"])]).is_empty());
        assert!(select(&secrets, &[f("description", &[""])]).is_empty());
    }

    #[test]
    fn description_empty_or_blank_value_matches_nothing() {
        let secrets = [described("x", "anything")];
        assert!(select(&secrets, &[f("description", &[""])]).is_empty());
        assert!(select(&secrets, &[f("description", &["   "])]).is_empty());
    }

    #[test]
    fn description_does_not_split_on_separators() {
        let secrets = [described("x", "prod/AppBeta")];
        assert!(select(&secrets, &[f("description", &["app"])]).is_empty());
        assert_eq!(select(&secrets, &[f("description", &["prod/app"])]), ["x"]);
    }

    // --- tags, region, service ---

    #[test]
    fn tag_key_and_value_prefix() {
        let secrets = [
            tagged("foo", &[("baz", "1")]),
            tagged("bar", &[("1", "baz")]),
            secret("none"),
        ];
        assert_eq!(select(&secrets, &[f("tag-key", &["baz"])]), ["foo"]);
        assert_eq!(select(&secrets, &[f("tag-key", &["ba"])]), ["foo"]);
        assert!(select(&secrets, &[f("tag-key", &["Baz"])]).is_empty());
        assert!(select(&secrets, &[f("tag-key", &["az"])]).is_empty());
        assert_eq!(select(&secrets, &[f("tag-value", &["baz"])]), ["bar"]);
        assert_eq!(select(&secrets, &[f("tag-value", &["b"])]), ["bar"]);
        assert!(select(&secrets, &[f("tag-value", &["z"])]).is_empty());
    }

    #[test]
    fn tag_key_and_tag_value_filters_are_anded() {
        let secrets = [
            tagged("foo", &[("right", "right")]),
            tagged("bar", &[("right", "wrong")]),
            tagged("baz", &[("wrong", "right")]),
            tagged("qux", &[("wrong", "wrong")]),
        ];
        assert_eq!(
            select(&secrets, &[f("tag-key", &["right"]), f("tag-value", &["right"])]),
            ["foo"]
        );
    }

    #[test]
    fn tag_negation_means_no_tag_has_prefix() {
        let secrets = [
            tagged("a", &[("env", "prod"), ("team", "x")]),
            tagged("b", &[("team", "y")]),
            secret("c"),
        ];
        assert_eq!(select(&secrets, &[f("tag-key", &["!env"])]), ["b", "c"]);
        assert_eq!(select(&secrets, &[f("tag-value", &["!prod"])]), ["b", "c"]);
    }

    #[test]
    fn primary_region_and_owning_service_prefix() {
        let secrets = [
            Secret {
                primary_region: Some("us-east-1"),
                owning_service: Some("rds"),
                ..secret("a")
            },
            Secret {
                primary_region: Some("eu-west-1"),
                ..secret("b")
            },
            secret("c"),
        ];
        assert_eq!(select(&secrets, &[f("primary-region", &["us-"])]), ["a"]);
        assert_eq!(select(&secrets, &[f("primary-region", &["!us"])]), ["b", "c"]);
        assert!(select(&secrets, &[f("primary-region", &["US"])]).is_empty());
        assert_eq!(select(&secrets, &[f("owning-service", &["rd"])]), ["a"]);
        assert!(select(&secrets, &[f("owning-service", &["n/a"])]).is_empty());
        assert_eq!(select(&secrets, &[f("owning-service", &["!rds"])]), ["b", "c"]);
    }

    // --- all ---

    const UNIQUE: &str = "a1b2c3";

    fn all_secrets() -> Vec<Secret> {
        vec![
            secret("SecretOnea1b2c3"),
            described("SecretTwoa1b2c3", "DescTwo"),
            secret("Thirdsecreta1b2c3"),
            tagged("SecretFTaga1b2c3", &[("1", "foo")]),
            tagged("SecretFValuea1b2c3", &[("foo", "v")]),
            secret("nonea1b2c3"),
        ]
    }

    fn all(value: &str) -> Vec<&'static str> {
        select(&all_secrets(), &[f("all", &[value])])
    }

    #[test]
    fn all_full_word_match() {
        assert_eq!(all("SecretOne"), ["SecretOnea1b2c3"]);
    }

    #[test]
    fn all_searches_tag_keys_and_values() {
        assert_eq!(all("foo"), ["SecretFTaga1b2c3", "SecretFValuea1b2c3"]);
    }

    #[test]
    fn all_word_prefix_case_insensitive() {
        let expected = [
            "SecretOnea1b2c3",
            "SecretTwoa1b2c3",
            "SecretFTaga1b2c3",
            "SecretFValuea1b2c3",
        ];
        assert_eq!(all("Secret"), expected);
        assert_eq!(all("secret"), expected);
        assert_eq!(all("sec"), expected);
    }

    #[test]
    fn all_mid_word_fragment_does_not_match() {
        assert!(all("ret").is_empty());
    }

    #[test]
    fn all_unknown_compound_does_not_match() {
        assert!(all("SomeSecret").is_empty());
    }

    #[test]
    fn all_single_and_multiple_initials() {
        assert_eq!(all("d"), ["SecretTwoa1b2c3"]);
        assert_eq!(all("d t"), ["SecretTwoa1b2c3"]);
        assert_eq!(
            all("t"),
            ["SecretTwoa1b2c3", "Thirdsecreta1b2c3", "SecretFTaga1b2c3"]
        );
    }

    #[test]
    fn all_matches_name_description_and_tags() {
        let secrets = [
            secret("foo"),
            described("bar", "foo"),
            tagged("baz", &[("foo", "1")]),
            tagged("qux", &[("1", "foo")]),
            tagged("multi", &[("foo", "foo")]),
            secret("none"),
        ];
        assert_eq!(
            select(&secrets, &[f("all", &["foo"])]),
            ["foo", "bar", "baz", "qux", "multi"]
        );
    }

    fn special_secrets() -> Vec<Secret> {
        vec![
            secret("prod/AppBeta/a1b2c3"),
            secret("prod_AppBeta_a1b2c3"),
            secret("prod+AppBeta+a1b2c3"),
            secret("prod=AppBeta=a1b2c3"),
            secret("prod.AppBeta.a1b2c3"),
            secret("prod@AppBeta@a1b2c3"),
            secret("prod-AppBeta-a1b2c3"),
            secret("prod-AppBeta/a1b2c3"),
            secret("uat/COMPANY/a1b2c3"),
            secret("uat/COMPANYthings/a1b2c3"),
        ]
    }

    const SINGLE_SEPARATOR: [&str; 7] = [
        "prod/AppBeta/a1b2c3",
        "prod_AppBeta_a1b2c3",
        "prod+AppBeta+a1b2c3",
        "prod=AppBeta=a1b2c3",
        "prod.AppBeta.a1b2c3",
        "prod@AppBeta@a1b2c3",
        "prod-AppBeta-a1b2c3",
    ];

    fn special(values: &[&str]) -> Vec<&'static str> {
        select(&special_secrets(), &[f("all", values)])
    }

    #[test]
    fn all_splits_on_each_separator() {
        assert_eq!(special(&["AppBeta"]), SINGLE_SEPARATOR);
        assert_eq!(special(&["Beta"]), SINGLE_SEPARATOR);
        // `prod` is a prefix of the unsplit mixed-separator name.
        let mut expected = SINGLE_SEPARATOR.to_vec();
        expected.push("prod-AppBeta/a1b2c3");
        assert_eq!(special(&["AppBeta", "prod"]), expected);
    }

    #[test]
    fn all_bare_separator_matches_nothing() {
        assert!(special(&["+"]).is_empty());
        for sep in SEPARATORS {
            assert!(special(&[&sep.to_string()]).is_empty(), "{sep}");
        }
    }

    #[test]
    fn all_unique_suffix_skips_mixed_separator_names() {
        let mut expected = SINGLE_SEPARATOR.to_vec();
        expected.extend(["uat/COMPANY/a1b2c3", "uat/COMPANYthings/a1b2c3"]);
        assert_eq!(special(&[UNIQUE]), expected);
    }

    #[test]
    fn all_uppercase_run_splitting() {
        assert_eq!(special(&["company"]), ["uat/COMPANY/a1b2c3"]);
        assert!(special(&["things"]).is_empty());
        assert_eq!(special(&["Ythings"]), ["uat/COMPANYthings/a1b2c3"]);
        assert!(special(&["N"]).is_empty());
        assert!(special(&["pany"]).is_empty());
    }

    #[test]
    fn all_negation() {
        assert_eq!(
            special(&["!AppBeta"]),
            [
                "prod-AppBeta/a1b2c3",
                "uat/COMPANY/a1b2c3",
                "uat/COMPANYthings/a1b2c3"
            ]
        );
        // A value with no words matches nothing, so its negation matches all.
        assert_eq!(special(&["!+"]).len(), special_secrets().len());
    }

    #[test]
    fn all_empty_value_matches_nothing() {
        assert!(special(&[""]).is_empty());
        assert!(special(&["  "]).is_empty());
    }

    #[test]
    fn camel_case_splitting() {
        assert_eq!(split_camel_case("COMPANYthings"), ["COMPAN", "Ythings"]);
        assert_eq!(split_camel_case("COMPANY"), ["COMPANY"]);
        assert_eq!(split_camel_case("SecretFTag"), ["Secret", "F", "Tag"]);
        assert_eq!(split_camel_case("DescTwo"), ["Desc", "Two"]);
        assert_eq!(split_camel_case("AppBeta"), ["App", "Beta"]);
        assert_eq!(split_camel_case("aBC"), ["a", "BC"]);
        assert_eq!(split_camel_case("abc123Def"), ["abc123Def"]);
        assert_eq!(split_camel_case(""), [""]);
        assert_eq!(split_camel_case("ÉtéÀ"), ["Été", "À"]);
    }

    #[test]
    fn search_word_tokenizing() {
        assert_eq!(search_words("prod/AppBeta/x"), ["prod", "app", "beta", "x"]);
        assert_eq!(search_words("d t"), ["d", "t"]);
        assert_eq!(search_words("+"), Vec::<String>::new());
        assert_eq!(search_words("//a//"), ["a"]);
        assert_eq!(search_words("prod-AppBeta/x"), ["prod-appbeta/x"]);
        assert_eq!(search_words(""), Vec::<String>::new());
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        let secrets = [Secret {
            description: Some("Ünïcødé ß İstanbul ǅemal 日本語"),
            tags: vec![("ключ".to_string(), "ЗначениеВажное".to_string())],
            ..secret("名前/ÀbcDéf")
        }];
        for key in [
            "description",
            "name",
            "tag-key",
            "tag-value",
            "primary-region",
            "owning-service",
            "all",
        ] {
            for value in ["", "!", "日", "İ", "ǅ", "ß", "!ü", "Важ", "déf", "\u{301}", "/"] {
                let _ = matches(&secrets[0].target(), &[f(key, &[value])]);
            }
        }
        assert_eq!(select(&secrets, &[f("all", &["важ"])]), ["名前/ÀbcDéf"]);
        assert_eq!(select(&secrets, &[f("all", &["déf"])]), ["名前/ÀbcDéf"]);
        assert_eq!(select(&secrets, &[f("description", &["üNï"])]), ["名前/ÀbcDéf"]);
        assert_eq!(select(&secrets, &[f("name", &["名"])]), ["名前/ÀbcDéf"]);
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        for (prefix, s) in [
            ("ab", "abz"),
            ("ab", "ab"),
            ("ab", "ac"),
            ("ab", "aa\u{10FFFF}"),
            ("é", "éa"),
        ] {
            let within = s >= prefix && prefix_upper_bound(prefix).is_none_or(|b| s < b.as_str());
            assert_eq!(within, s.starts_with(prefix), "{prefix} {s}");
        }
    }

    #[test]
    fn search_terms_are_per_attribute() {
        let s = Secret {
            description: Some("One two"),
            ..tagged("prod/AppBeta", &[("Team", "x y")])
        };
        let terms = terms(&s.target());
        let search: Vec<(i64, &str)> = terms
            .iter()
            .filter(|t| t.kind == TermKind::Search)
            .map(|t| (t.attribute, t.text.as_str()))
            .collect();
        assert_eq!(
            search,
            [
                (0, "prod"),
                (0, "app"),
                (0, "beta"),
                (1, "one"),
                (1, "two"),
                (2, "team"),
                (3, "x"),
                (3, "y")
            ]
        );
        assert!(terms.contains(&Term {
            kind: TermKind::TagValue,
            attribute: 0,
            text: "x y".into()
        }));
    }
}
