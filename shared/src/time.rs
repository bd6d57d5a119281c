//! UTC timestamps in ISO 8601 with milliseconds, the one format every alert uses.

/// Epoch milliseconds → `2024-05-01T10:00:00.000Z`.
pub fn iso8601_ms(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000);
    let ms = epoch_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let day_secs = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Milliseconds since the epoch, now.
pub fn now_epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_714_557_600_123), "2024-05-01T10:00:00.123Z");
        assert_eq!(iso8601_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn agrees_with_a_day_by_day_walk() {
        // Walk 800 years of days and check each date follows the previous one.
        let mut prev = civil_from_days(-200 * 366);
        for days in (-200 * 366 + 1)..(600 * 366) {
            let cur = civil_from_days(days);
            let next_day = prev.2 + 1;
            let ok = (cur.0 == prev.0 && cur.1 == prev.1 && cur.2 == next_day)
                || (cur.0 == prev.0 && cur.1 == prev.1 + 1 && cur.2 == 1)
                || (cur.0 == prev.0 + 1 && cur.1 == 1 && cur.2 == 1 && prev.1 == 12);
            assert!(ok, "{prev:?} -> {cur:?}");
            prev = cur;
        }
    }
}
