//! Asserting on the typed errors of the SDKs: the error code and the exact message, as AWS sends
//! them.
//!
//! Two styles, for any service's SDK:
//!
//! - [`outcome`] turns the result of `send().await` into an [`Outcome`]: `Ok(())` or the
//!   [`Failure`]'s code and message. Compare it with [`failed`] (code and exact message),
//!   [`failed_without_message`] (AWS sends none) or `Ok(())`; a table of expected outcomes is a
//!   table of these values.
//! - [`expect_err!`](crate::expect_err) gives the service error itself (for its request id, or a
//!   check on part of a message); [`assert_error`] then checks its code and message.
//!
//! The `model_*` functions build the `ValidationException` messages of the models' constraints
//! (`1 validation error detected: Value 'x' at 'field' failed to satisfy constraint: ...`).

use std::fmt::Debug;

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::SdkError;
/// The SDKs' trait giving a service error's `code()` and `message()`.
pub use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What a call came to: success, or a service error's code and message.
pub type Outcome = Result<(), Failure>;

/// A service error as the client sees it: its code, and its message if the body had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: Option<String>,
}

/// The outcome of a call. Panics on anything but a service error (a connection failure, a
/// response that didn't parse): those are never what a test expects.
pub fn outcome<O, E, R>(r: Result<O, SdkError<E, R>>) -> Outcome
where
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    match r {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(e)) => {
            let e = e.err();
            Err(Failure {
                code: e
                    .code()
                    .unwrap_or_else(|| panic!("a service error without a code: {e:?}"))
                    .to_owned(),
                message: e.message().map(str::to_owned),
            })
        }
        Err(e) => panic!("not a service error: {e:?}"),
    }
}

/// The outcome of a call failing with `code` and exactly `message`.
pub fn failed(code: &str, message: &str) -> Outcome {
    Err(Failure {
        code: code.to_owned(),
        message: Some(message.to_owned()),
    })
}

/// The outcome of a call failing with `code` and no message at all.
pub fn failed_without_message(code: &str) -> Outcome {
    Err(Failure {
        code: code.to_owned(),
        message: None,
    })
}

/// The output of a call that must succeed; fails the test with the full error otherwise.
#[track_caller]
pub fn ok<O, E: Debug>(r: Result<O, E>) -> O {
    match r {
        Ok(out) => out,
        Err(e) => panic!("the call failed: {e:?}"),
    }
}

/// Every page of a listing that follows a `NextToken`: `page(token)` sends the request for one
/// page (the first with `None`), `next` reads the page's NextToken. Fails the test on an error or
/// after 100 pages.
pub async fn follow_pages<P, E, Fut>(
    mut page: impl FnMut(Option<String>) -> Fut,
    next: impl Fn(&P) -> Option<&str>,
) -> Vec<P>
where
    Fut: std::future::Future<Output = Result<P, E>>,
    E: Debug,
{
    let (mut pages, mut token) = (Vec::new(), None);
    for _ in 0..100 {
        let p = ok(page(token).await);
        token = next(&p).map(str::to_owned);
        pages.push(p);
        if token.is_none() {
            return pages;
        }
    }
    panic!("pagination does not end");
}

/// The error code of a call that must fail (for checks on the code alone).
#[track_caller]
pub fn error_code<O, E, R>(r: Result<O, SdkError<E, R>>) -> String
where
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    match outcome(r) {
        Ok(()) => panic!("expected an error, got success"),
        Err(f) => f.code,
    }
}

/// Fails the test with the full error when `r` is not an error; returns the error's service view.
#[macro_export]
macro_rules! expect_err {
    ($r:expr) => {
        match $r {
            Ok(out) => panic!("expected an error, got success: {out:?}"),
            Err(e) => e.into_service_error(),
        }
    };
}

/// Fails the test unless the service error `e` has exactly this code and message.
#[track_caller]
pub fn assert_error<E>(e: &E, code: &str, message: &str)
where
    E: ProvideErrorMetadata + Debug,
{
    assert_eq!(
        (e.code(), e.message()),
        (Some(code), Some(message)),
        "unexpected error: {e:?}"
    );
}

/// `1 validation error detected: <violation>`.
pub fn validation(violation: &str) -> String {
    format!("1 validation error detected: {violation}")
}

/// The message of a string (or list) `value` of `field` longer than `max`.
pub fn model_max_length(field: &str, value: &str, max: usize) -> String {
    validation(&format!(
        "Value '{value}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    ))
}

/// The message of a string `value` of `field` shorter than `min`.
pub fn model_min_length(field: &str, value: &str, min: usize) -> String {
    validation(&format!(
        "Value '{value}' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
    ))
}

/// The message of a blob or list `field` (whose value AWS doesn't quote) longer than `max`.
pub fn model_max_length_unquoted(field: &str, max: usize) -> String {
    validation(&format!(
        "Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    ))
}

/// The message of a blob `field` (whose value AWS doesn't quote) shorter than `min`.
pub fn model_min_length_unquoted(field: &str, min: usize) -> String {
    validation(&format!(
        "Value at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
    ))
}

/// The message of a number `value` of `field` above `max`.
pub fn model_max_value(field: &str, value: i64, max: i64) -> String {
    validation(&format!(
        "Value '{value}' at '{field}' failed to satisfy constraint: Member must have value less than or equal to {max}"
    ))
}

/// The message of a number `value` of `field` below `min`.
pub fn model_min_value(field: &str, value: i64, min: i64) -> String {
    validation(&format!(
        "Value '{value}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
    ))
}

/// The message of a required `field` left out.
pub fn model_not_null(field: &str) -> String {
    validation(&format!(
        "Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

/// The message of an enum `value` of `field` outside `set` (as AWS lists it: `[A, B]`).
pub fn model_enum(field: &str, value: &str, set: &str) -> String {
    validation(&format!(
        "Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: {set}"
    ))
}

/// The message of a string `value` of `field` not matching `pattern`.
pub fn model_pattern(field: &str, value: &str, pattern: &str) -> String {
    validation(&format!(
        "Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    ))
}

/// The HTTP status and JSON body of a call that failed.
pub fn raw_error<O: Debug, E: Debug>(r: Result<O, SdkError<E, HttpResponse>>) -> (u16, serde_json::Value) {
    let e = match r {
        Ok(out) => panic!("expected an error, got success: {out:?}"),
        Err(e) => e,
    };
    let raw = e
        .raw_response()
        .unwrap_or_else(|| panic!("no HTTP response: {e:?}"));
    let body = serde_json::from_slice(raw.body().bytes().expect("a buffered body")).expect("a JSON body");
    (raw.status().as_u16(), body)
}
