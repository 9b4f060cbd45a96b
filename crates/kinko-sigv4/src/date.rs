//! Timestamps: ISO 8601 basic format (`YYYYMMDDTHHMMSSZ`) and HTTP dates.

use time::format_description::well_known::Rfc2822;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Formats a time as AWS does in `X-Amz-Date` and in its error messages: `YYYYMMDDTHHMMSSZ`, in
/// UTC, sub-second part dropped.
pub fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `YYYYMMDDTHHMMSSZ` strictly.
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        let mut n: u32 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(d - b'0');
        }
        Some(n)
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let day = u8::try_from(num(6..8)?).ok()?;
    let hour = u8::try_from(num(9..11)?).ok()?;
    let minute = u8::try_from(num(11..13)?).ok()?;
    let second = u8::try_from(num(13..15)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Parses a `Date` header: ISO 8601 basic format, or an HTTP date (`Sun, 30 Aug 2015 12:36:00
/// GMT`, RFC 2822 syntax).
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Some(t) = parse_amz_date(s) {
        return Some(t);
    }
    OffsetDateTime::parse(s, &Rfc2822)
        .ok()
        .map(|t| t.to_offset(UtcOffset::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_round_trip() {
        let t = parse_amz_date("20150830T123600Z").expect("valid");
        assert_eq!(t.unix_timestamp(), 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
    }

    #[test]
    fn amz_date_rejects_malformed() {
        for bad in [
            "",
            "2015",
            "20150830T123600",
            "20150830T123600z",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T246000Z",
            "20150830T123660Z",
            "2015083٠T12360Z",
            "+0150830T123600Z",
            "20150830T12360\u{e9}",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn http_date_forms() {
        let t = parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").expect("rfc1123");
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        let t = parse_http_date("Sun, 30 Aug 2015 14:36:00 +0200").expect("rfc2822");
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        let t = parse_http_date("20150830T123600Z").expect("basic");
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert!(parse_http_date("yesterday").is_none());
    }

    #[test]
    fn format_is_utc_and_drops_subseconds() {
        let t = parse_amz_date("20150830T123600Z")
            .expect("valid")
            .replace_nanosecond(999_999_999)
            .expect("valid nanos")
            .to_offset(UtcOffset::from_hms(5, 30, 0).expect("offset"));
        assert_eq!(format_amz_date(t), "20150830T123600Z");
    }
}
