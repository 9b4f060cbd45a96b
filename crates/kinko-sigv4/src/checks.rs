//! Clock skew, presigned expiry and credential scope checks.

use time::{Duration, OffsetDateTime, UtcOffset};

use crate::date::format_amz_date;
use crate::{Auth, Form, Request, SigV4Error, TERMINATOR};

/// Largest accepted difference between a request's date and the server clock, both directions.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Largest accepted `X-Amz-Expires` (one week).
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 7 * 24 * 60 * 60;

/// Checks the request date against the server clock `now` (sub-second part ignored).
///
/// Header form: the date must lie within [`MAX_SKEW_SECS`] of `now`, both bounds inclusive.
/// Errors read, with every time in `YYYYMMDDTHHMMSSZ`:
/// - [`SigV4Error::Expired`]: `Signature expired: <date> is now earlier than <now - 5 min>
///   (<now> - 5 min.)`
/// - [`SigV4Error::NotYetCurrent`]: `Signature not yet current: <date> is still later than
///   <now + 5 min> (<now> + 5 min.)`
///
/// Query form: `X-Amz-Expires` must be within `1..=604800`, else [`SigV4Error::Incomplete`]
/// (`X-Amz-Expires must be greater than 0` / `X-Amz-Expires must be less than a week (in
/// seconds) that is 604800`); a date more than 5 minutes ahead of `now` gives the
/// `NotYetCurrent` error above; and the URL is valid up to and including `date + expires`, after
/// which [`SigV4Error::Expired`] reads `Signature expired: <date + expires> is now earlier than
/// <now> (<date> + <expires> sec.)`.
pub fn check_time(auth: &Auth, now: OffsetDateTime) -> Result<(), SigV4Error> {
    check_time_within(auth, now, MAX_SKEW_SECS)
}

/// [`check_time`] with another allowed clock skew, `max_skew_secs` in whole minutes, for services
/// whose window is not 5 minutes: AWS's Query protocol services (STS, IAM) accept 15 and say so in
/// their messages (`... (<now> - 15 min.)`).
pub fn check_time_within(auth: &Auth, now: OffsetDateTime, max_skew_secs: i64) -> Result<(), SigV4Error> {
    let now = now.to_offset(UtcOffset::UTC);
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let date = auth.timestamp;
    let skew = Duration::seconds(max_skew_secs);
    let minutes = max_skew_secs / 60;

    if let Form::Query { expires_secs } = auth.form {
        if expires_secs == 0 {
            return Err(SigV4Error::Incomplete(
                "X-Amz-Expires must be greater than 0".to_owned(),
            ));
        }
        if expires_secs > MAX_PRESIGNED_EXPIRES_SECS {
            return Err(SigV4Error::Incomplete(format!(
                "X-Amz-Expires must be less than a week (in seconds) that is \
                 {MAX_PRESIGNED_EXPIRES_SECS}"
            )));
        }
    }

    if let Some(latest) = now.checked_add(skew).filter(|latest| date > *latest) {
        return Err(SigV4Error::NotYetCurrent(format!(
            "Signature not yet current: {} is still later than {} ({} + {minutes} min.)",
            format_amz_date(date),
            format_amz_date(latest),
            format_amz_date(now)
        )));
    }

    match auth.form {
        Form::Header => {
            if let Some(earliest) = now.checked_sub(skew).filter(|earliest| date < *earliest) {
                return Err(SigV4Error::Expired(format!(
                    "Signature expired: {} is now earlier than {} ({} - {minutes} min.)",
                    format_amz_date(date),
                    format_amz_date(earliest),
                    format_amz_date(now)
                )));
            }
        }
        Form::Query { expires_secs } => {
            // Range-checked above, so the conversion cannot fail.
            let expires = Duration::seconds(i64::try_from(expires_secs).unwrap_or(i64::MAX));
            // An expiry beyond the representable range never passes.
            if let Some(expiry) = date.checked_add(expires).filter(|expiry| now > *expiry) {
                return Err(SigV4Error::Expired(format!(
                    "Signature expired: {} is now earlier than {} ({} + {} sec.)",
                    format_amz_date(expiry),
                    format_amz_date(now),
                    format_amz_date(date),
                    expires_secs
                )));
            }
        }
    }
    Ok(())
}

/// Checks the credential scope and that `host` is signed.
///
/// First, if neither `host` nor `:authority` is among the signed headers (any case):
/// [`SigV4Error::Scope`] `'Host' or ':authority' must be a 'SignedHeader' in the AWS
/// Authorization.`
///
/// Then every scope problem is reported in one [`SigV4Error::Scope`] message, as AWS does, made of
/// these sentences in this order:
/// - region not shaped like a region (see below): `Credential should be scoped to a valid Region,
///   not '<region>'. `
/// - service differs from `expected_service`: `Credential should be scoped to correct service:
///   '<expected_service>'. `
/// - terminator not `aws4_request`: `Credential should be scoped with a valid terminator:
///   'aws4_request', not '<terminator>'. `
/// - scope date differs from the date part of the request date: `Date in Credential scope does
///   not match YYYYMMDD from ISO-8601 version of date from HTTP: '<scope date>' != '<YYYYMMDD>',
///   from '<YYYYMMDDTHHMMSSZ>'.`
///
/// (Note the trailing space after each of the first three sentences, as in AWS's messages.)
///
/// A region is valid when it is 1 to 64 characters of `a-z`, `0-9` and `-`, starts with a
/// letter, does not end with `-` and has no `--` (`us-east-1`, `eu-central-2`, `local`). Use
/// [`check_region`] to require one specific region.
pub fn check_scope(auth: &Auth, expected_service: &str) -> Result<(), SigV4Error> {
    if !auth
        .signed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("host") || h.eq_ignore_ascii_case(":authority"))
    {
        return Err(SigV4Error::Scope(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }

    let mut msg = String::new();
    if !is_valid_region(&auth.region) {
        msg.push_str(&region_message(&auth.region));
    }
    if auth.service != expected_service {
        msg.push_str(&format!(
            "Credential should be scoped to correct service: '{expected_service}'. "
        ));
    }
    if auth.terminator != TERMINATOR {
        msg.push_str(&format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'. ",
            auth.terminator
        ));
    }
    let http_date = auth.amz_date.get(..8).unwrap_or(&auth.amz_date);
    if auth.scope_date != http_date {
        msg.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '{}' != '{}', from '{}'.",
            auth.scope_date, http_date, auth.amz_date
        ));
    }
    if msg.is_empty() {
        Ok(())
    } else {
        Err(SigV4Error::Scope(msg))
    }
}

/// Requires the header `name` (any case) to be among the signed headers whenever the request
/// carries it, in either form: [`SigV4Error::UnsignedHeader`] `'<name>' must be a 'SignedHeader'
/// in the AWS Authorization.` otherwise, AWS's wording for a required header left out of
/// `SignedHeaders` (the same sentence it uses for `Host`).
///
/// A header that selects what the request does (`X-Amz-Target` names the operation of a JSON
/// request) must be covered by the signature, or the signed request could be replayed as another
/// operation by changing the header.
pub fn check_signed(req: &Request<'_>, auth: &Auth, name: &str) -> Result<(), SigV4Error> {
    let present = req.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let signed = auth.signed_headers.iter().any(|h| h.eq_ignore_ascii_case(name));
    if present && !signed {
        Err(SigV4Error::UnsignedHeader(name.to_owned()))
    } else {
        Ok(())
    }
}

/// Requires the credential scope region to be exactly `expected_region`, for servers bound to one
/// region. Error: [`SigV4Error::Scope`] `Credential should be scoped to a valid Region, not
/// '<region>'. `
pub fn check_region(auth: &Auth, expected_region: &str) -> Result<(), SigV4Error> {
    if auth.region == expected_region {
        Ok(())
    } else {
        Err(SigV4Error::Scope(region_message(&auth.region)))
    }
}

fn region_message(region: &str) -> String {
    format!("Credential should be scoped to a valid Region, not '{region}'. ")
}

fn is_valid_region(region: &str) -> bool {
    let b = region.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && !region.ends_with('-')
        && !region.contains("--")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "local",
            "a",
        ] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "US-EAST-1",
            "us_east_1",
            "1us",
            "-us",
            "us-",
            "us--east",
            "us east",
            "üs",
            "us-east-1/",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_region(bad), "{bad}");
        }
    }
}
