//! GetRandomPassword.

use aws_sdk_secretsmanager::operation::get_random_password::builders::GetRandomPasswordFluentBuilder;
use kinko_tests::*;

use crate::sm;

const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// Which classes `p` has: (uppercase, lowercase, digit, punctuation, space).
fn classes(p: &str) -> (bool, bool, bool, bool, bool) {
    let any = |f: fn(char) -> bool| p.chars().any(f);
    let punctuation = p.chars().any(|c| PUNCTUATION.contains(c));
    let (upper, lower) = (any(|c| c.is_ascii_uppercase()), any(|c| c.is_ascii_lowercase()));
    (
        upper,
        lower,
        any(|c| c.is_ascii_digit()),
        punctuation,
        p.contains(' '),
    )
}

async fn password(request: GetRandomPasswordFluentBuilder) -> String {
    ok(request.send().await).random_password.expect("RandomPassword")
}

/// 32 characters of every class but space, random.
#[tokio::test]
async fn random_password_defaults() {
    let sm = sm();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let p = password(sm.get_random_password()).await;
        assert_eq!(p.chars().count(), 32, "{p:?}");
        assert_eq!(
            classes(&p),
            (true, true, true, true, false),
            "every class, no space: {p:?}"
        );
        let allowed = |c: char| c.is_ascii_alphanumeric() || PUNCTUATION.contains(c);
        assert!(p.chars().all(allowed), "{p:?}");
        seen.insert(p);
    }
    assert_eq!(seen.len(), 20, "passwords are random");
}

#[tokio::test]
async fn random_password_flags() {
    let sm = sm();
    let get = |length: i64| sm.get_random_password().password_length(length);
    let lower = get(64).exclude_numbers(true).exclude_punctuation(true);
    let p = password(lower.exclude_uppercase(true)).await;
    assert_eq!(p.len(), 64);
    assert!(p.chars().all(|c| c.is_ascii_lowercase()), "{p:?}");
    let digits = get(50).exclude_lowercase(true).exclude_uppercase(true);
    let p = password(digits.exclude_punctuation(true)).await;
    assert!(p.chars().all(|c| c.is_ascii_digit()), "{p:?}");
    let p = password(get(100).include_space(true)).await;
    assert_eq!(
        classes(&p),
        (true, true, true, true, true),
        "space required when included: {p:?}"
    );
    let excluded = "xyzDje@?!.";
    let p = password(get(120).exclude_characters(excluded)).await;
    assert_eq!(p.len(), 120);
    assert!(!p.chars().any(|c| excluded.contains(c)), "{p:?}");
    let p = password(get(1).require_each_included_type(false)).await;
    assert_eq!(p.len(), 1);
    assert_eq!(password(get(4096)).await.len(), 4096);
}

#[tokio::test]
async fn random_password_invalid_lengths_and_exclusions() {
    let sm = sm();
    for len in [0, 4097, -1] {
        let out = sm.get_random_password().password_length(len).send().await;
        assert_eq!(error_code(out), "ValidationException", "length {len}");
    }
    let req = sm
        .get_random_password()
        .exclude_lowercase(true)
        .exclude_uppercase(true);
    let nothing = req.exclude_numbers(true).exclude_punctuation(true).send().await;
    assert_eq!(
        error_code(nothing),
        "InvalidParameterException",
        "everything excluded"
    );
    let every = format!("{PUNCTUATION}abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    let out = sm.get_random_password().exclude_characters(every).send().await;
    assert_eq!(
        error_code(out),
        "InvalidParameterException",
        "every character excluded"
    );
    let short = sm.get_random_password().password_length(3).send().await;
    let note = "3 characters can't hold the 4 required classes";
    assert_eq!(error_code(short), "InvalidParameterException", "{note}");
}
