//! Call slots: three concrete times from the business's weekly availability, written in the lead's zone.

use crate::account::Availability;
use crate::timing::local_instant;
use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

/// How far ahead slots are looked for.
const HORIZON_DAYS: i64 = 21;

/// `count` slots at least `min_notice` after `now`, each on a different business day and on a day not already
/// used by `offered`, preferring the availability's preferred times in turn.
pub fn pick_slots(
    av: &Availability,
    now: DateTime<Utc>,
    offered: &[DateTime<Utc>],
    count: usize,
) -> Vec<DateTime<Utc>> {
    let tz = av.timezone;
    let earliest = now + av.min_notice;
    let used_days: Vec<_> = offered
        .iter()
        .map(|t| t.with_timezone(&tz).date_naive())
        .collect();
    let last_offered = offered.iter().max().copied();
    let mut out = Vec::with_capacity(count);
    let mut date = earliest.with_timezone(&tz).date_naive();
    for _ in 0..HORIZON_DAYS {
        if out.len() == count {
            break;
        }
        let usable = av.days.contains(&date.weekday())
            && !used_days.contains(&date)
            && last_offered.is_none_or(|l| date > l.with_timezone(&tz).date_naive());
        if usable {
            let k = offered.len() + out.len();
            let preferred =
                (!av.preferred.is_empty()).then(|| av.preferred[k % av.preferred.len()]);
            if let Some(t) = slot_on(av, tz, date, preferred, earliest) {
                out.push(t);
            }
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    out
}

/// The preferred start on `date` if it fits, else the first aligned start that does.
fn slot_on(
    av: &Availability,
    tz: Tz,
    date: chrono::NaiveDate,
    preferred: Option<NaiveTime>,
    earliest: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let fits = |t: NaiveTime| {
        let end_ok = t.overflowing_add_signed(av.slot).0.max(t) <= av.end;
        t >= av.start && end_ok && local_instant(tz, date, t) >= earliest
    };
    if let Some(p) = preferred.filter(|p| fits(*p)) {
        return Some(local_instant(tz, date, p));
    }
    let step = Duration::minutes(30);
    let mut t = av.start;
    while t < av.end {
        if fits(t) {
            return Some(local_instant(tz, date, t));
        }
        let (next, wrapped) = t.overflowing_add_signed(step);
        if wrapped != 0 {
            break;
        }
        t = next;
    }
    None
}

/// "Tue 2pm", "Thu 10:30am" in the lead's zone.
pub fn slot_label(at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    let day = match local.weekday() {
        chrono::Weekday::Mon => "Mon",
        chrono::Weekday::Tue => "Tue",
        chrono::Weekday::Wed => "Wed",
        chrono::Weekday::Thu => "Thu",
        chrono::Weekday::Fri => "Fri",
        chrono::Weekday::Sat => "Sat",
        chrono::Weekday::Sun => "Sun",
    };
    let (pm, h12) = local.hour12();
    let suffix = if pm { "pm" } else { "am" };
    if local.minute() == 0 {
        format!("{day} {h12}{suffix}")
    } else {
        format!("{day} {h12}:{:02}{suffix}", local.minute())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    #[test]
    fn three_slots_on_three_business_days_at_the_preferred_times() {
        let av = Availability {
            timezone: chrono_tz::Europe::Paris,
            ..Default::default()
        };
        // Monday 2026-12-07 09:00 Paris.
        let slots = pick_slots(&av, utc("2026-12-07T08:00:00Z"), &[], 3);
        let labels: Vec<_> = slots
            .iter()
            .map(|s| slot_label(*s, chrono_tz::Europe::Paris))
            .collect();
        assert_eq!(labels, ["Mon 2pm", "Tue 10am", "Wed 4pm"]);
    }

    #[test]
    fn respects_notice_weekends_and_days_already_offered() {
        let av = Availability {
            timezone: chrono_tz::Europe::Paris,
            ..Default::default()
        };
        // Friday 16:30 Paris: too late for Friday, weekend skipped.
        let slots = pick_slots(&av, utc("2026-12-04T15:30:00Z"), &[], 3);
        let labels: Vec<_> = slots
            .iter()
            .map(|s| slot_label(*s, chrono_tz::Europe::Paris))
            .collect();
        assert_eq!(labels, ["Mon 2pm", "Tue 10am", "Wed 4pm"]);
        let more = pick_slots(&av, utc("2026-12-04T15:30:00Z"), &slots, 2);
        let labels: Vec<_> = more
            .iter()
            .map(|s| slot_label(*s, chrono_tz::Europe::Paris))
            .collect();
        assert_eq!(labels, ["Thu 2pm", "Fri 10am"]);
    }

    #[test]
    fn labels_are_in_the_lead_zone() {
        let t = utc("2026-12-08T13:00:00Z"); // 14:00 Paris
        assert_eq!(slot_label(t, chrono_tz::Europe::Paris), "Tue 2pm");
        assert_eq!(slot_label(t, chrono_tz::America::New_York), "Tue 8am");
        assert_eq!(
            slot_label(utc("2026-12-08T13:30:00Z"), Tz::UTC),
            "Tue 1:30pm"
        );
    }
}
