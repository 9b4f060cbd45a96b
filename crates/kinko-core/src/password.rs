//! Random password generation for `GetRandomPassword`.
//!
//! This module owns the character classes, the option defaults and the
//! generation algorithm. It is pure apart from drawing randomness from the
//! operating system: no I/O, no shared state, no secrets involved.
//!
//! Algorithm:
//! 1. Build the character classes (uppercase, lowercase, digits, punctuation
//!    and, optionally, space) and remove every character listed in
//!    `ExcludeCharacters` from each of them. A class left empty counts as not
//!    included.
//! 2. If `RequireEachIncludedType` is set, draw one character from every
//!    included class; the remaining positions are drawn from the union of all
//!    included classes.
//! 3. Shuffle the whole password (Fisher–Yates) so the required characters
//!    land on uniformly random positions.
//!
//! Every draw uses an exact (rejection-based) uniform index sampler over a
//! ChaCha-based CSPRNG freshly seeded from the operating system, so there is
//! no modulo bias.

use rand::SeedableRng;
use rand::distr::{Distribution, Uniform};
use rand::rngs::StdRng;
use thiserror::Error;
use zeroize::Zeroizing;

/// Default `PasswordLength` when the request omits it.
pub const DEFAULT_PASSWORD_LENGTH: i64 = 32;
/// Smallest accepted `PasswordLength`.
pub const MIN_PASSWORD_LENGTH: i64 = 1;
/// Largest accepted `PasswordLength`.
pub const MAX_PASSWORD_LENGTH: i64 = 4096;

/// Uppercase letters.
pub const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Lowercase letters.
pub const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
/// Decimal digits.
pub const DIGITS: &str = "0123456789";
/// The 32 ASCII punctuation characters used by `GetRandomPassword`.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// The space character, included only with `IncludeSpace`.
pub const SPACE: &str = " ";

/// Inputs of `GetRandomPassword`, with the API's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordOptions {
    /// Requested length; `None` means [`DEFAULT_PASSWORD_LENGTH`].
    pub password_length: Option<i64>,
    /// Characters that must not appear in the password.
    pub exclude_characters: Option<String>,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    pub include_space: bool,
    /// When set, every included (non-empty) character class appears at least
    /// once.
    pub require_each_included_type: bool,
}

impl Default for PasswordOptions {
    fn default() -> Self {
        Self {
            password_length: None,
            exclude_characters: None,
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

/// Why a password could not be generated.
///
/// The `Display` text is the message returned to the client; see
/// [`PasswordError::error_code`] for the matching error type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// `PasswordLength` outside `1..=4096`. The request validation layer
    /// normally rejects this first; the generator still refuses it.
    #[error(
        "1 validation error detected: Value '{0}' at 'passwordLength' failed to satisfy constraint: Member must have value {bound}",
        bound = length_bound_text(*.0)
    )]
    InvalidLength(i64),
    /// The length cannot hold one character of every required class.
    #[error("Password length is too short based on the required types.")]
    TooShort,
    /// The exclusion options leave no character at all. AWS does not document
    /// a message for this case, so a message naming the cause is used rather
    /// than the misleading "too short" text.
    #[error("The ExcludeCharacters and Exclude* parameters exclude every character.")]
    AllExcluded,
    /// The operating system's random source failed.
    #[error("The random number generator is unavailable.")]
    RandomSource,
}

impl PasswordError {
    /// The wire error type (`__type`) to report for this error.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::InvalidLength(_) => "ValidationException",
            Self::TooShort | Self::AllExcluded => "InvalidParameterException",
            Self::RandomSource => "InternalServiceError",
        }
    }
}

fn length_bound_text(length: i64) -> &'static str {
    if length < MIN_PASSWORD_LENGTH {
        "greater than or equal to 1"
    } else {
        "less than or equal to 4096"
    }
}

/// Generates a password according to `opts`.
///
/// The returned string is wiped from memory when dropped.
pub fn generate(opts: &PasswordOptions) -> Result<Zeroizing<String>, PasswordError> {
    let length = resolve_length(opts.password_length)?;
    let classes = included_classes(opts);
    if classes.is_empty() {
        return Err(PasswordError::AllExcluded);
    }
    let required = if opts.require_each_included_type {
        classes.len()
    } else {
        0
    };
    if length < required {
        return Err(PasswordError::TooShort);
    }

    let mut rng = StdRng::try_from_os_rng().map_err(|_| PasswordError::RandomSource)?;
    let alphabet: Vec<u8> = classes.iter().flatten().copied().collect();

    let mut chars: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(length));
    if opts.require_each_included_type {
        for class in &classes {
            chars.push(pick(class, &mut rng)?);
        }
    }
    let alphabet_dist = index_distribution(alphabet.len())?;
    while chars.len() < length {
        let byte = alphabet
            .get(alphabet_dist.sample(&mut rng))
            .copied()
            .ok_or(PasswordError::AllExcluded)?;
        chars.push(byte);
    }
    shuffle(&mut chars, &mut rng)?;

    let mut password = Zeroizing::new(String::with_capacity(length));
    // Every byte comes from the ASCII classes above, so each is one char.
    password.extend(chars.iter().map(|&b| char::from(b)));
    Ok(password)
}

fn resolve_length(length: Option<i64>) -> Result<usize, PasswordError> {
    let length = length.unwrap_or(DEFAULT_PASSWORD_LENGTH);
    if !(MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&length) {
        return Err(PasswordError::InvalidLength(length));
    }
    usize::try_from(length).map_err(|_| PasswordError::InvalidLength(length))
}

/// The included character classes after exclusions, empty classes dropped.
fn included_classes(opts: &PasswordOptions) -> Vec<Vec<u8>> {
    let excluded = opts.exclude_characters.as_deref().unwrap_or("");
    let candidates = [
        (!opts.exclude_uppercase, UPPERCASE),
        (!opts.exclude_lowercase, LOWERCASE),
        (!opts.exclude_numbers, DIGITS),
        (!opts.exclude_punctuation, PUNCTUATION),
        (opts.include_space, SPACE),
    ];
    candidates
        .iter()
        .filter(|(included, _)| *included)
        .map(|(_, class)| {
            class
                .bytes()
                .filter(|&b| !excluded.contains(char::from(b)))
                .collect::<Vec<u8>>()
        })
        .filter(|class| !class.is_empty())
        .collect()
}

/// Exact uniform distribution over `0..len`.
fn index_distribution(len: usize) -> Result<Uniform<usize>, PasswordError> {
    Uniform::new(0, len).map_err(|_| PasswordError::AllExcluded)
}

fn pick(class: &[u8], rng: &mut StdRng) -> Result<u8, PasswordError> {
    let dist = index_distribution(class.len())?;
    class
        .get(dist.sample(rng))
        .copied()
        .ok_or(PasswordError::AllExcluded)
}

/// Fisher–Yates shuffle with exact uniform index draws.
fn shuffle(chars: &mut [u8], rng: &mut StdRng) -> Result<(), PasswordError> {
    for i in (1..chars.len()).rev() {
        let j = Uniform::new_inclusive(0, i)
            .map_err(|_| PasswordError::AllExcluded)?
            .sample(rng);
        chars.swap(i, j);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn gen_ok(opts: &PasswordOptions) -> String {
        generate(opts).unwrap().to_string()
    }

    fn has_any(s: &str, class: &str) -> bool {
        s.chars().any(|c| class.contains(c))
    }

    #[test]
    fn defaults_match_aws() {
        let d = PasswordOptions::default();
        assert_eq!(d.password_length, None);
        assert!(d.require_each_included_type);
        assert!(!d.include_space);
        assert!(!d.exclude_numbers && !d.exclude_punctuation);
        assert!(!d.exclude_uppercase && !d.exclude_lowercase);
        assert_eq!(PUNCTUATION.len(), 32);
    }

    #[test]
    fn default_password_has_32_chars_and_every_class() {
        for _ in 0..200 {
            let p = gen_ok(&PasswordOptions::default());
            assert_eq!(p.chars().count(), 32);
            assert!(has_any(&p, UPPERCASE), "{p}");
            assert!(has_any(&p, LOWERCASE), "{p}");
            assert!(has_any(&p, DIGITS), "{p}");
            assert!(has_any(&p, PUNCTUATION), "{p}");
            assert!(!p.contains(' '), "{p}");
        }
    }

    #[test]
    fn exclude_flags_are_respected() {
        type Case = (fn(&mut PasswordOptions), &'static str);
        let cases: [Case; 4] = [
            (|o| o.exclude_numbers = true, DIGITS),
            (|o| o.exclude_punctuation = true, PUNCTUATION),
            (|o| o.exclude_uppercase = true, UPPERCASE),
            (|o| o.exclude_lowercase = true, LOWERCASE),
        ];
        for (set, class) in cases {
            let mut opts = PasswordOptions {
                password_length: Some(64),
                ..PasswordOptions::default()
            };
            set(&mut opts);
            for _ in 0..200 {
                let p = gen_ok(&opts);
                assert_eq!(p.len(), 64);
                assert!(!has_any(&p, class), "{class}: {p}");
            }
        }
    }

    #[test]
    fn combined_exclude_flags_leave_only_remaining_class() {
        let opts = PasswordOptions {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            ..PasswordOptions::default()
        };
        for _ in 0..100 {
            let p = gen_ok(&opts);
            assert!(p.chars().all(|c| c.is_ascii_lowercase()), "{p}");
        }
    }

    #[test]
    fn exclude_characters_are_respected() {
        let excluded = "xyzDje@?!.";
        let opts = PasswordOptions {
            password_length: Some(120),
            exclude_characters: Some(excluded.to_string()),
            ..PasswordOptions::default()
        };
        for _ in 0..200 {
            let p = gen_ok(&opts);
            assert_eq!(p.len(), 120);
            assert!(!has_any(&p, excluded), "{p}");
            assert!(has_any(&p, PUNCTUATION));
        }
    }

    #[test]
    fn exclude_characters_with_non_ascii_and_duplicates() {
        let opts = PasswordOptions {
            exclude_characters: Some("ééaaa\u{1F600}".to_string()),
            ..PasswordOptions::default()
        };
        for _ in 0..50 {
            let p = gen_ok(&opts);
            assert!(!p.contains('a'));
            assert!(p.is_ascii());
        }
    }

    #[test]
    fn include_space_adds_space_as_required_type() {
        let opts = PasswordOptions {
            include_space: true,
            ..PasswordOptions::default()
        };
        for _ in 0..200 {
            let p = gen_ok(&opts);
            assert!(p.contains(' '), "{p:?}");
        }
        // Five required types need five characters.
        let short = PasswordOptions {
            password_length: Some(4),
            include_space: true,
            ..PasswordOptions::default()
        };
        assert_eq!(generate(&short).unwrap_err(), PasswordError::TooShort);
    }

    #[test]
    fn require_each_false_allows_any_mix() {
        let opts = PasswordOptions {
            password_length: Some(1),
            require_each_included_type: false,
            ..PasswordOptions::default()
        };
        let mut seen_classes = HashSet::new();
        for _ in 0..2000 {
            let p = gen_ok(&opts);
            assert_eq!(p.len(), 1);
            let c = p.chars().next().unwrap();
            let class = [UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION]
                .iter()
                .position(|cl| cl.contains(c))
                .unwrap();
            seen_classes.insert(class);
        }
        assert_eq!(seen_classes.len(), 4);

        // With length 4 and no requirement, some passwords miss a class.
        let opts = PasswordOptions {
            password_length: Some(4),
            require_each_included_type: false,
            ..PasswordOptions::default()
        };
        let missing = (0..500)
            .map(|_| gen_ok(&opts))
            .filter(|p| !(has_any(p, UPPERCASE) && has_any(p, LOWERCASE) && has_any(p, DIGITS)))
            .count();
        assert!(missing > 0);
    }

    #[test]
    fn length_one_with_four_required_types_is_too_short() {
        let opts = PasswordOptions {
            password_length: Some(1),
            ..PasswordOptions::default()
        };
        let err = generate(&opts).unwrap_err();
        assert_eq!(err, PasswordError::TooShort);
        assert_eq!(
            err.to_string(),
            "Password length is too short based on the required types."
        );
        assert_eq!(err.error_code(), "InvalidParameterException");
    }

    #[test]
    fn exact_minimum_length_contains_each_type_once() {
        let opts = PasswordOptions {
            password_length: Some(4),
            ..PasswordOptions::default()
        };
        for _ in 0..200 {
            let p = gen_ok(&opts);
            for class in [UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION] {
                assert_eq!(p.chars().filter(|&c| class.contains(c)).count(), 1, "{p}");
            }
        }
    }

    #[test]
    fn required_characters_land_on_every_position() {
        // With a single required digit among letters-only filler, the digit's
        // position must vary across the whole password.
        let opts = PasswordOptions {
            password_length: Some(8),
            exclude_characters: Some("123456789".to_string()),
            exclude_punctuation: true,
            exclude_uppercase: true,
            ..PasswordOptions::default()
        };
        let mut positions = HashSet::new();
        for _ in 0..2000 {
            let p = gen_ok(&opts);
            if let Some(pos) = p.find('0') {
                positions.insert(pos);
            }
        }
        assert_eq!(positions.len(), 8);
    }

    #[test]
    fn max_length_works() {
        let opts = PasswordOptions {
            password_length: Some(4096),
            ..PasswordOptions::default()
        };
        let p = gen_ok(&opts);
        assert_eq!(p.len(), 4096);
    }

    #[test]
    fn out_of_range_lengths_are_rejected() {
        for len in [0, -1, 4097, i64::MIN, i64::MAX] {
            let opts = PasswordOptions {
                password_length: Some(len),
                ..PasswordOptions::default()
            };
            let err = generate(&opts).unwrap_err();
            assert_eq!(err, PasswordError::InvalidLength(len));
            assert_eq!(err.error_code(), "ValidationException");
        }
        let err = PasswordError::InvalidLength(0).to_string();
        assert!(err.ends_with("Member must have value greater than or equal to 1"));
        let err = PasswordError::InvalidLength(5000).to_string();
        assert!(err.ends_with("Member must have value less than or equal to 4096"));
    }

    #[test]
    fn everything_excluded_is_an_error() {
        let all: String = [UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION].concat();
        let opts = PasswordOptions {
            exclude_characters: Some(all.clone()),
            ..PasswordOptions::default()
        };
        let err = generate(&opts).unwrap_err();
        assert_eq!(err, PasswordError::AllExcluded);
        assert_eq!(err.error_code(), "InvalidParameterException");

        let flags = PasswordOptions {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_lowercase: true,
            require_each_included_type: false,
            ..PasswordOptions::default()
        };
        assert_eq!(generate(&flags).unwrap_err(), PasswordError::AllExcluded);

        // Space alone survives.
        let space_only = PasswordOptions {
            exclude_characters: Some(all),
            include_space: true,
            password_length: Some(3),
            ..PasswordOptions::default()
        };
        assert_eq!(gen_ok(&space_only), "   ");
    }

    #[test]
    fn emptied_class_is_not_required() {
        // All digits excluded: digits are no longer a required type, so three
        // characters are enough.
        let opts = PasswordOptions {
            password_length: Some(3),
            exclude_characters: Some(DIGITS.to_string()),
            ..PasswordOptions::default()
        };
        for _ in 0..100 {
            let p = gen_ok(&opts);
            assert!(!has_any(&p, DIGITS));
            assert!(has_any(&p, UPPERCASE) && has_any(&p, LOWERCASE));
            assert!(has_any(&p, PUNCTUATION));
        }
    }

    #[test]
    fn every_allowed_character_appears() {
        let opts = PasswordOptions {
            password_length: Some(100),
            ..PasswordOptions::default()
        };
        let mut seen = HashSet::new();
        for _ in 0..200 {
            seen.extend(gen_ok(&opts).chars());
        }
        let expected: HashSet<char> = [UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION]
            .concat()
            .chars()
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn passwords_differ() {
        let a = gen_ok(&PasswordOptions::default());
        let b = gen_ok(&PasswordOptions::default());
        assert_ne!(a, b);
    }
}
