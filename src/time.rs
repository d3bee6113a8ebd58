//! UTC timestamps as RFC 3339 text, without a date-time dependency: the state store, the service
//! status and the simulators all print them.

/// `2026-11-22T07:30:00Z` for a millisecond Unix timestamp.
pub fn format_time(ms: i64) -> String {
    let (date, secs) = civil(ms);
    format!("{date}T{}Z", clock(secs))
}

/// `2026-11-22T07:30:00.123Z`, with milliseconds.
pub fn format_time_millis(ms: i64) -> String {
    let (date, secs) = civil(ms);
    format!("{date}T{}.{:03}Z", clock(secs), ms.rem_euclid(1000))
}

/// The date (`YYYY-MM-DD`) and the second of that day.
fn civil(ms: i64) -> (String, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (format!("{year:04}-{month:02}-{day:02}"), rem)
}

fn clock(secs: i64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
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
    }
}
