//! Time rules: quiet hours in the lead's zone, Meta's messaging windows, and zones from phone numbers.

use crate::cadence::QuietHours;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Meta's standard messaging window after a person's last message.
pub const WINDOW: Duration = Duration::hours(24);
/// Touches pulled inside a closing window go out this long before it closes, leaving room for retries.
pub const WINDOW_MARGIN: Duration = Duration::minutes(30);

/// The default quiet hours: 21:00–08:00 local.
pub fn default_quiet_hours() -> QuietHours {
    QuietHours {
        start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
        end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
    }
}

/// Is this local time of day inside quiet hours?
pub fn is_quiet_time(t: NaiveTime, q: &QuietHours) -> bool {
    if q.start <= q.end {
        t >= q.start && t < q.end
    } else {
        t >= q.start || t < q.end
    }
}

pub fn is_quiet(at: DateTime<Utc>, tz: Tz, q: &QuietHours) -> bool {
    is_quiet_time(at.with_timezone(&tz).time(), q)
}

/// A local date and time as an instant; in a DST gap the first valid instant after it, in an overlap the
/// earlier one.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut naive = date.and_time(time);
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_time(time))
}

/// The first instant at or after `at` outside quiet hours.
pub fn next_allowed(at: DateTime<Utc>, tz: Tz, q: &QuietHours) -> DateTime<Utc> {
    if !is_quiet(at, tz, q) {
        return at;
    }
    let local = at.with_timezone(&tz);
    let date = local.date_naive();
    // Quiet hours end at `q.end` today when we are in the morning part, else tomorrow.
    let end_date = if q.start > q.end && local.time() >= q.start {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    local_instant(tz, end_date, q.end).max(at)
}

/// The last instant at or before `deadline` outside quiet hours (one minute before quiet hours begin when the
/// deadline falls inside them).
pub fn last_allowed(deadline: DateTime<Utc>, tz: Tz, q: &QuietHours) -> DateTime<Utc> {
    if !is_quiet(deadline, tz, q) {
        return deadline;
    }
    let local = deadline.with_timezone(&tz);
    let date = local.date_naive();
    let start_date = if q.start > q.end && local.time() < q.end {
        date.pred_opt().unwrap_or(date)
    } else {
        date
    };
    local_instant(tz, start_date, q.start) - Duration::minutes(1)
}

/// The zone of a WhatsApp number's country when that country has a single zone (`33…` → Europe/Paris).
/// Countries spanning several zones (US, Canada, Brazil, Russia, Australia, Mexico, Indonesia …) give `None`.
pub fn zone_from_phone(number: &str) -> Option<Tz> {
    let digits: String = number.chars().filter(|c| c.is_ascii_digit()).collect();
    // Longest calling codes first so `351` is not read as `35…`.
    for len in [3usize, 2, 1] {
        if digits.len() <= len + 4 {
            continue;
        }
        let code = &digits[..len];
        if let Some((_, zone)) = PHONE_ZONES.iter().find(|(c, _)| *c == code) {
            return zone.parse().ok();
        }
    }
    None
}

/// Calling codes of single-zone countries.
const PHONE_ZONES: &[(&str, &str)] = &[
    ("20", "Africa/Cairo"),
    ("27", "Africa/Johannesburg"),
    ("30", "Europe/Athens"),
    ("31", "Europe/Amsterdam"),
    ("32", "Europe/Brussels"),
    ("33", "Europe/Paris"),
    ("36", "Europe/Budapest"),
    ("39", "Europe/Rome"),
    ("40", "Europe/Bucharest"),
    ("41", "Europe/Zurich"),
    ("43", "Europe/Vienna"),
    ("44", "Europe/London"),
    ("45", "Europe/Copenhagen"),
    ("46", "Europe/Stockholm"),
    ("47", "Europe/Oslo"),
    ("48", "Europe/Warsaw"),
    ("49", "Europe/Berlin"),
    ("51", "America/Lima"),
    ("53", "America/Havana"),
    ("54", "America/Argentina/Buenos_Aires"),
    ("56", "America/Santiago"),
    ("57", "America/Bogota"),
    ("58", "America/Caracas"),
    ("60", "Asia/Kuala_Lumpur"),
    ("63", "Asia/Manila"),
    ("64", "Pacific/Auckland"),
    ("65", "Asia/Singapore"),
    ("66", "Asia/Bangkok"),
    ("81", "Asia/Tokyo"),
    ("82", "Asia/Seoul"),
    ("84", "Asia/Ho_Chi_Minh"),
    ("86", "Asia/Shanghai"),
    ("90", "Europe/Istanbul"),
    ("91", "Asia/Kolkata"),
    ("92", "Asia/Karachi"),
    ("94", "Asia/Colombo"),
    ("95", "Asia/Yangon"),
    ("98", "Asia/Tehran"),
    ("212", "Africa/Casablanca"),
    ("213", "Africa/Algiers"),
    ("216", "Africa/Tunis"),
    ("221", "Africa/Dakar"),
    ("225", "Africa/Abidjan"),
    ("233", "Africa/Accra"),
    ("234", "Africa/Lagos"),
    ("254", "Africa/Nairobi"),
    ("255", "Africa/Dar_es_Salaam"),
    ("256", "Africa/Kampala"),
    ("351", "Europe/Lisbon"),
    ("352", "Europe/Luxembourg"),
    ("353", "Europe/Dublin"),
    ("354", "Atlantic/Reykjavik"),
    ("356", "Europe/Malta"),
    ("357", "Asia/Nicosia"),
    ("358", "Europe/Helsinki"),
    ("359", "Europe/Sofia"),
    ("370", "Europe/Vilnius"),
    ("371", "Europe/Riga"),
    ("372", "Europe/Tallinn"),
    ("380", "Europe/Kyiv"),
    ("381", "Europe/Belgrade"),
    ("385", "Europe/Zagreb"),
    ("386", "Europe/Ljubljana"),
    ("420", "Europe/Prague"),
    ("421", "Europe/Bratislava"),
    ("502", "America/Guatemala"),
    ("503", "America/El_Salvador"),
    ("506", "America/Costa_Rica"),
    ("507", "America/Panama"),
    ("591", "America/La_Paz"),
    ("595", "America/Asuncion"),
    ("598", "America/Montevideo"),
    ("852", "Asia/Hong_Kong"),
    ("880", "Asia/Dhaka"),
    ("886", "Asia/Taipei"),
    ("961", "Asia/Beirut"),
    ("962", "Asia/Amman"),
    ("966", "Asia/Riyadh"),
    ("971", "Asia/Dubai"),
    ("972", "Asia/Jerusalem"),
    ("974", "Asia/Qatar"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("test instant")
    }

    #[test]
    fn quiet_hours_wrap_midnight_and_push_to_the_morning() {
        let q = default_quiet_hours();
        let tz: Tz = "Europe/Paris".parse().expect("zone");
        // 22:30 Paris (21:30Z in winter) → 08:00 Paris next day.
        let t = next_allowed(utc("2026-12-03T21:30:00Z"), tz, &q);
        assert_eq!(t, utc("2026-12-04T07:00:00Z"));
        // 03:00 Paris → 08:00 same day.
        assert_eq!(
            next_allowed(utc("2026-12-04T02:00:00Z"), tz, &q),
            utc("2026-12-04T07:00:00Z")
        );
        // Noon is allowed as is.
        assert_eq!(
            next_allowed(utc("2026-12-04T11:00:00Z"), tz, &q),
            utc("2026-12-04T11:00:00Z")
        );
    }

    #[test]
    fn last_allowed_steps_back_before_quiet_hours() {
        let q = default_quiet_hours();
        let tz: Tz = "America/New_York".parse().expect("zone");
        // 23:00 New York → 20:59 New York.
        let t = last_allowed(utc("2026-12-04T04:00:00Z"), tz, &q);
        assert_eq!(t.with_timezone(&tz).hour(), 20);
        assert_eq!(t.with_timezone(&tz).minute(), 59);
        // 06:00 New York → 20:59 the evening before.
        let t = last_allowed(utc("2026-12-04T11:00:00Z"), tz, &q);
        assert_eq!(t, utc("2026-12-04T01:59:00Z"));
    }

    #[test]
    fn phone_numbers_give_single_zone_countries_only() {
        assert_eq!(
            zone_from_phone("33612345678"),
            Some(chrono_tz::Europe::Paris)
        );
        assert_eq!(
            zone_from_phone("+351 912 345 678"),
            Some(chrono_tz::Europe::Lisbon)
        );
        assert_eq!(zone_from_phone("16505551234"), None);
        assert_eq!(zone_from_phone("5511987654321"), None);
        assert_eq!(zone_from_phone("44"), None);
    }
}
