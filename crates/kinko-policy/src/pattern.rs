//! Wildcard patterns and policy-variable templates.
//!
//! Owns the glob matcher shared by `Action`, `Resource`, `StringLike` and `ArnLike`
//! (`*` = any run of characters including none, `?` = exactly one character, nothing else is
//! special), the tokenizer for policy variables (`${aws:username}`, `${key, 'default'}`, the
//! escapes `${*}`, `${?}`, `${$}`), and the six-part ARN split used by `Resource` and the
//! `Arn*` operators. Pure: no I/O, no allocation on the matching path of variable-free patterns.
//!
//! Matching semantics follow the IAM User Guide ("IAM JSON policy elements: Resource",
//! "Condition operators", "Policy variables"):
//! - wildcards may appear in any ARN segment and never cross a segment boundary;
//! - a substituted variable value is literal text, never a wildcard;
//! - a variable whose key has no single value in the request context (and no default)
//!   makes the pattern unusable; see [`Template::resolve`].

use std::borrow::Cow;

use crate::context::ConditionContext;

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(Box<str>),
    Star,
    One,
    /// `${key}` or `${key, 'default'}`; `key` is lower-cased. A malformed variable
    /// (`${}`, `${a, b}`) is kept with `key = ""`, which never resolves.
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// A token after variable substitution.
#[derive(Debug, Clone)]
pub(crate) enum RTok<'a> {
    Lit(Cow<'a, str>),
    Star,
    One,
}

/// What the matcher sees of a token.
pub(crate) enum View<'a> {
    Lit(&'a str),
    Star,
    One,
    /// An unresolved variable: matches nothing.
    Never,
}

pub(crate) trait TokView {
    fn view(&self) -> View<'_>;
}

impl TokView for Tok {
    fn view(&self) -> View<'_> {
        match self {
            Tok::Lit(s) => View::Lit(s),
            Tok::Star => View::Star,
            Tok::One => View::One,
            Tok::Var { .. } => View::Never,
        }
    }
}

impl TokView for RTok<'_> {
    fn view(&self) -> View<'_> {
        match self {
            RTok::Lit(s) => View::Lit(s),
            RTok::Star => View::Star,
            RTok::One => View::One,
        }
    }
}

/// Byte length of the UTF-8 character starting with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn lit_matches_at(text: &[u8], pos: usize, lit: &[u8], ascii_ci: bool) -> bool {
    let Some(end) = pos.checked_add(lit.len()) else {
        return false;
    };
    match text.get(pos..end) {
        Some(slice) if ascii_ci => slice.eq_ignore_ascii_case(lit),
        Some(slice) => slice == lit,
        None => false,
    }
}

/// Glob match of `text` against `toks`. With `ascii_ci`, literals compare ASCII
/// case-insensitively (the pattern side must already be lower-case or not; both sides fold).
///
/// Greedy matching with single-star backtracking: linear in practice, `O(n·m)` worst case.
pub(crate) fn glob_match<T: TokView>(toks: &[T], text: &str, ascii_ci: bool) -> bool {
    let bytes = text.as_bytes();
    let mut ti = 0usize;
    let mut pos = 0usize;
    // (token index after the star, text position the star currently extends to)
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = toks.get(ti) {
            match tok.view() {
                View::Star => {
                    backtrack = Some((ti + 1, pos));
                    ti += 1;
                    continue;
                }
                View::One => {
                    if let Some(&lead) = bytes.get(pos) {
                        pos += char_len(lead);
                        ti += 1;
                        continue;
                    }
                }
                View::Lit(lit) => {
                    if lit_matches_at(bytes, pos, lit.as_bytes(), ascii_ci) {
                        pos += lit.len();
                        ti += 1;
                        continue;
                    }
                }
                View::Never => return false,
            }
        } else if pos >= bytes.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character, or fail.
        match backtrack {
            Some((after_star, star_pos)) if star_pos < bytes.len() => {
                let next = star_pos + bytes.get(star_pos).map_or(1, |&b| char_len(b));
                backtrack = Some((after_star, next));
                ti = after_star;
                pos = next;
            }
            _ => return false,
        }
    }
}

/// Glob match of a template without consulting a context (variables never match): used for
/// `Action`, which doesn't support policy variables.
pub(crate) fn glob_match_template(t: &Template, text: &str, ascii_ci: bool) -> bool {
    glob_match(&t.toks, text, ascii_ci)
}

/// How a template's text is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (Action, Resource, `*Like`, `Arn*`); otherwise literal.
    pub wildcards: bool,
    /// `${...}` is a policy variable (policy `Version` 2012-10-17); otherwise literal text.
    pub variables: bool,
    /// ASCII-lower-case literal text (actions compare ASCII case-insensitively).
    pub lowercase: bool,
}

/// A pattern or comparison value, possibly with policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    toks: Box<[Tok]>,
    has_vars: bool,
}

fn push_lit(toks: &mut Vec<Tok>, buf: &mut String) {
    if !buf.is_empty() {
        toks.push(Tok::Lit(std::mem::take(buf).into_boxed_str()));
    }
}

/// Parses the inside of `${...}`: `key` or `key, 'default'` (a doubled `''` in the default is a
/// single quote). Returns `None` when malformed.
fn parse_var(inner: &str) -> Option<(String, Option<String>)> {
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((key, rest)) => {
            let rest = rest.trim();
            let quoted = rest.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(quoted.replace("''", "'")))
        }
    };
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return None;
    }
    Some((key.to_lowercase(), default))
}

impl Template {
    pub(crate) fn parse(text: &str, syntax: Syntax) -> Template {
        let mut toks = Vec::new();
        let mut buf = String::new();
        let mut has_vars = false;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let var_end = if syntax.variables && rest.starts_with("${") {
                rest.find('}')
            } else {
                None
            };
            if let Some(close) = var_end {
                let inner = &rest[2..close];
                rest = &rest[close + 1..];
                match inner {
                    "*" => buf.push('*'),
                    "?" => buf.push('?'),
                    "$" => buf.push('$'),
                    _ => {
                        push_lit(&mut toks, &mut buf);
                        has_vars = true;
                        let (key, default) = parse_var(inner).unwrap_or_default();
                        toks.push(Tok::Var {
                            key: key.into_boxed_str(),
                            default: default.map(String::into_boxed_str),
                        });
                    }
                }
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if syntax.wildcards => {
                    push_lit(&mut toks, &mut buf);
                    // Consecutive stars are one star.
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                '?' if syntax.wildcards => {
                    push_lit(&mut toks, &mut buf);
                    toks.push(Tok::One);
                }
                _ if syntax.lowercase => buf.push(c.to_ascii_lowercase()),
                _ => buf.push(c),
            }
        }
        push_lit(&mut toks, &mut buf);
        Template {
            toks: toks.into_boxed_slice(),
            has_vars,
        }
    }

    pub(crate) fn has_vars(&self) -> bool {
        self.has_vars
    }

    /// True if every variable resolves in `ctx`.
    pub(crate) fn resolvable(&self, ctx: &ConditionContext) -> bool {
        self.toks.iter().all(|t| match t {
            Tok::Var { key, default } => default.is_some() || ctx.single_str(key).is_some(),
            _ => true,
        })
    }

    /// Substitutes variables. `None` if one has no single value in `ctx` and no default
    /// ("If a variable has no value, the statement element doesn't match" — IAM User Guide,
    /// Policy variables).
    pub(crate) fn resolve<'a>(&'a self, ctx: &'a ConditionContext) -> Option<Vec<RTok<'a>>> {
        let mut out = Vec::with_capacity(self.toks.len());
        for t in self.toks.iter() {
            out.push(match t {
                Tok::Lit(s) => RTok::Lit(Cow::Borrowed(s)),
                Tok::Star => RTok::Star,
                Tok::One => RTok::One,
                Tok::Var { key, default } => match (ctx.single_str(key), default) {
                    (Some(v), _) => RTok::Lit(v),
                    (None, Some(d)) => RTok::Lit(Cow::Borrowed(d)),
                    (None, None) => return None,
                },
            });
        }
        Some(out)
    }

    /// Glob match (or exact match for templates parsed without wildcards).
    pub(crate) fn matches(&self, text: &str, ctx: &ConditionContext, ascii_ci: bool) -> bool {
        if !self.has_vars {
            return glob_match(&self.toks, text, ascii_ci);
        }
        match self.resolve(ctx) {
            Some(toks) => glob_match(&toks, text, ascii_ci),
            None => false,
        }
    }

    /// The text with variables substituted, wildcard tokens written as `*` / `?`.
    pub(crate) fn render(&self, ctx: &ConditionContext) -> Option<String> {
        let toks = self.resolve(ctx)?;
        let mut s = String::new();
        for t in &toks {
            match t {
                RTok::Lit(l) => s.push_str(l),
                RTok::Star => s.push('*'),
                RTok::One => s.push('?'),
            }
        }
        Some(s)
    }
}

/// A pattern matched segment by segment on the colon-separated parts of an ARN
/// (`arn:partition:service:region:account:resource`, the last part keeping further colons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArnTemplate {
    segments: Box<[Template]>,
}

/// The number of ARN parts; the last one keeps any further colons.
const ARN_PARTS: usize = 6;

impl ArnTemplate {
    pub(crate) fn parse(text: &str, syntax: Syntax) -> ArnTemplate {
        let whole = Template::parse(text, syntax);
        let mut segments: Vec<Template> = Vec::new();
        let mut current: Vec<Tok> = Vec::new();
        let mut current_vars = false;
        for tok in whole.toks.into_vec() {
            match tok {
                Tok::Lit(s) => {
                    let mut rest: &str = &s;
                    while segments.len() + 1 < ARN_PARTS {
                        let Some((head, tail)) = rest.split_once(':') else {
                            break;
                        };
                        if !head.is_empty() {
                            current.push(Tok::Lit(head.into()));
                        }
                        segments.push(Template {
                            toks: std::mem::take(&mut current).into_boxed_slice(),
                            has_vars: current_vars,
                        });
                        current_vars = false;
                        rest = tail;
                    }
                    if !rest.is_empty() {
                        current.push(Tok::Lit(rest.into()));
                    }
                }
                Tok::Var { .. } => {
                    current_vars = true;
                    current.push(tok);
                }
                other => current.push(other),
            }
        }
        segments.push(Template {
            toks: current.into_boxed_slice(),
            has_vars: current_vars,
        });
        ArnTemplate {
            segments: segments.into_boxed_slice(),
        }
    }

    pub(crate) fn has_vars(&self) -> bool {
        self.segments.iter().any(Template::has_vars)
    }

    pub(crate) fn resolvable(&self, ctx: &ConditionContext) -> bool {
        self.segments.iter().all(|s| s.resolvable(ctx))
    }

    /// Case-sensitive, segment-wise match.
    pub(crate) fn matches(&self, arn: &str, ctx: &ConditionContext) -> bool {
        let n = self.segments.len();
        let mut parts = arn.splitn(n, ':');
        for seg in self.segments.iter() {
            match parts.next() {
                Some(part) if seg.matches(part, ctx, false) => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
        lowercase: false,
    };
    const LITERAL: Syntax = Syntax {
        wildcards: false,
        variables: true,
        lowercase: false,
    };

    fn m(pattern: &str, text: &str) -> bool {
        Template::parse(pattern, GLOB).matches(text, &ConditionContext::new(), false)
    }

    #[test]
    fn glob_basics() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a*c", "ac"));
        assert!(!m("a*c", "acb"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"));
        assert!(m("*test*", "b/1/2/test/3/x"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("abc", "ABC"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("**a", "ba"));
    }

    #[test]
    fn ascii_case_insensitive() {
        let t = Template::parse(
            "secretsmanager:get*",
            Syntax {
                lowercase: true,
                ..GLOB
            },
        );
        assert!(t.matches("SecretsManager:GetSecretValue", &ConditionContext::new(), true));
        assert!(!t.matches("SecretsManager:PutSecretValue", &ConditionContext::new(), true));
    }

    #[test]
    fn escapes_are_literal() {
        assert!(m("a${*}b", "a*b"));
        assert!(!m("a${*}b", "axb"));
        assert!(m("${?}${$}", "?$"));
        let t = Template::parse("a*b", LITERAL);
        assert!(t.matches("a*b", &ConditionContext::new(), false));
        assert!(!t.matches("axb", &ConditionContext::new(), false));
    }

    #[test]
    fn variables() {
        let mut ctx = ConditionContext::new();
        ctx.insert("aws:username", "alice");
        assert!(Template::parse("home/${aws:username}/*", GLOB).matches("home/alice/x", &ctx, false));
        assert!(Template::parse("home/${AWS:UserName}/*", GLOB).matches("home/alice/x", &ctx, false));
        assert!(!Template::parse("home/${aws:userid}/*", GLOB).matches("home/alice/x", &ctx, false));
        let d = Template::parse("${aws:PrincipalTag/team, 'shared'}", LITERAL);
        assert!(d.matches("shared", &ctx, false));
        let q = Template::parse("${aws:x, 'it''s'}", LITERAL);
        assert!(q.matches("it's", &ctx, false));
        let bad = Template::parse("${aws:username, nope}", LITERAL);
        assert!(!bad.matches("alice", &ctx, false));
        let unclosed = Template::parse("${aws:username", LITERAL);
        assert!(unclosed.matches("${aws:username", &ctx, false));
        let off = Template::parse(
            "${aws:username}",
            Syntax {
                variables: false,
                ..LITERAL
            },
        );
        assert!(off.matches("${aws:username}", &ctx, false));
    }

    #[test]
    fn arn_segments() {
        let ctx = ConditionContext::new();
        let a = |p: &str, t: &str| ArnTemplate::parse(p, GLOB).matches(t, &ctx);
        assert!(a("arn:aws:s3:::b/*/test/*", "arn:aws:s3:::b/1/2/test/3/x"));
        assert!(a(
            "arn:aws:secretsmanager:*:111122223333:secret:app/*",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf"
        ));
        assert!(!a(
            "arn:aws:someservice:*:111122223333:finance/*",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
        ));
        assert!(a("arn:aws:*", "arn:aws:kms:us-east-1:1:key/x"));
        assert!(!a("arn:aws:kms:*:*:key/*", "*"));
        assert!(a("arn:aws:iam::*:role/${x, 'r'}", "arn:aws:iam::1:role/r"));
        assert!(a(
            "arn:aws:sts::1:assumed-role/r/s:x",
            "arn:aws:sts::1:assumed-role/r/s:x"
        ));
    }
}
