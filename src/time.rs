//! UTC timestamps as RFC 3339 text, through the `time` crate: the state store, the service status
//! and the simulators all print them, and the service status reads them back.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// `2026-11-22T07:30:00Z`: what the state store writes and [`parse_time`] reads.
const SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// `2026-11-22T07:30:00.123Z`: the simulators' `meta.created` / `meta.lastModified`.
const MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The UTC date-time of a millisecond Unix timestamp. Out of the crate's range (beyond year
/// ±9999) it clamps to the nearest end rather than failing: these are display strings only.
fn utc(ms: i64) -> OffsetDateTime {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if ms < 0 {
        PrimitiveDateTime::MIN.assume_utc()
    } else {
        PrimitiveDateTime::MAX.assume_utc()
    })
}

/// `2026-11-22T07:30:00Z` for a millisecond Unix timestamp.
pub fn format_time(ms: i64) -> String {
    // Formatting into a String only fails for a component the description does not have.
    utc(ms).format(SECONDS).unwrap_or_default()
}

/// `2026-11-22T07:30:00.123Z`, with milliseconds.
pub fn format_time_millis(ms: i64) -> String {
    utc(ms).format(MILLIS).unwrap_or_default()
}

/// Seconds since the Unix epoch for `YYYY-MM-DDTHH:MM:SSZ` (the form [`format_time`] writes);
/// `None` for anything else, including impossible dates such as 31 February.
pub fn parse_time(text: &str) -> Option<i64> {
    PrimitiveDateTime::parse(text, SECONDS)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps_as_rfc3339() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_000_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            format_time_millis(1_795_000_000_123),
            "2026-11-18T11:06:40.123Z"
        );
        assert_eq!(format_time(-1000), "1969-12-31T23:59:59Z");
        assert_eq!(format_time_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_writes_and_refuses_impossible_dates() {
        assert_eq!(parse_time("2026-11-18T11:06:40Z"), Some(1_795_000_000));
        assert_eq!(parse_time("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_time("2026-02-31T00:00:00Z"), None);
        assert_eq!(parse_time("2026-11-18T24:00:00Z"), None);
        assert_eq!(parse_time("2026-11-18 11:06:40"), None);
    }
}
