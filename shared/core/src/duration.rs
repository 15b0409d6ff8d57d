//! Human durations in cadence and config files: `90s`, `5m`, `4h`, `23h`, `7d`, `1h30m`, `2w`.

use chrono::Duration;

/// Parses `<n><unit>` groups (units `s`, `m`, `h`, `d`, `w`). Returns a reason on failure.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::zero();
    let mut num = String::new();
    let mut groups = 0;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        if num.is_empty() {
            return Err(format!("`{s}` is not a duration like 15m, 4h or 7d"));
        }
        let n: i64 = num
            .parse()
            .map_err(|_| format!("`{s}`: number too large"))?;
        num.clear();
        let unit = match c {
            's' => Duration::try_seconds(n),
            'm' => Duration::try_minutes(n),
            'h' => Duration::try_hours(n),
            'd' => Duration::try_days(n),
            'w' => Duration::try_weeks(n),
            _ => return Err(format!("`{s}`: unknown unit `{c}` (use s, m, h, d or w)")),
        }
        .ok_or_else(|| format!("`{s}`: too large"))?;
        total = total
            .checked_add(&unit)
            .ok_or_else(|| format!("`{s}`: too large"))?;
        groups += 1;
    }
    if !num.is_empty() || groups == 0 {
        return Err(format!("`{s}` needs a unit (e.g. 15m, 4h, 7d)"));
    }
    if total > Duration::days(366) {
        return Err(format!("`{s}` is longer than a year"));
    }
    Ok(total)
}

/// Formats a duration the way files write it (`4h`, `23h`, `7d`, `1h30m`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.num_seconds();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_files_use() {
        assert_eq!(parse_duration("5m"), Ok(Duration::minutes(5)));
        assert_eq!(parse_duration("23h"), Ok(Duration::hours(23)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("2w"), Ok(Duration::days(14)));
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "5",
            "h",
            "5x",
            "four hours",
            "-4h",
            "400d",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }
}
