//! Times as users and programs read them: `date -u`'s text (upstream's
//! make.log header) and RFC 3339 (the machine-readable status). Computed
//! from seconds since the epoch, in UTC, without a calendar crate.

/// Seconds since the epoch now (0 if the clock is before 1970).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A UTC time broken down.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: u64,
    minute: u64,
    second: u64,
    /// Days since the epoch (1970-01-01 was a Thursday).
    days: i64,
}

fn civil(secs: u64) -> Civil {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: rem / 3600,
        minute: (rem / 60) % 60,
        second: rem % 60,
        days,
    }
}

/// `secs` as `date -u` prints it in the C locale
/// (`Tue Nov 24 21:09:33 UTC 2026`).
pub fn date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(secs);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} UTC {}",
        DAYS[c.days.rem_euclid(7) as usize],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.year
    )
}

/// `secs` in RFC 3339, UTC (`2026-11-24T21:09:33Z`).
pub fn rfc3339(secs: u64) -> String {
    let c = civil(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, "Thu Jan  1 00:00:00 UTC 1970", "1970-01-01T00:00:00Z")]
    #[case(1_795_554_573, "Tue Nov 24 21:09:33 UTC 2026", "2026-11-24T21:09:33Z")]
    #[case(951_782_400, "Tue Feb 29 00:00:00 UTC 2000", "2000-02-29T00:00:00Z")]
    #[case(4_107_542_399, "Sun Feb 28 23:59:59 UTC 2100", "2100-02-28T23:59:59Z")]
    fn both_forms(#[case] secs: u64, #[case] date_u: &str, #[case] rfc: &str) {
        assert_eq!(date(secs), date_u);
        assert_eq!(rfc3339(secs), rfc);
    }
}
