//! Arbitrary text and payloads through reply understanding, read against a qualifying question, against
//! offered call slots, and with nothing pending. Nothing may panic or hang.
#![no_main]

use cadence_core::chrono::{DateTime, Duration, TimeZone, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::reply::{understand, OptionSpec, ReplyContext};
use libfuzzer_sys::fuzz_target;

fn option(key: &str, label: &str, words: &[&str]) -> OptionSpec {
    OptionSpec::new(
        key.into(),
        label.into(),
        words.iter().map(|w| w.to_string()).collect(),
        format!("OPT_{}", key.to_uppercase()),
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Text, then an optional payload after the first NUL byte; invalid UTF-8 is read lossily as Meta
    // would never send it but a buggy proxy might.
    let (text, payload) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let text = String::from_utf8_lossy(text);
    let payload = payload.map(String::from_utf8_lossy);
    let tz = [Tz::UTC, Tz::America__New_York, Tz::Asia__Kolkata, Tz::Pacific__Chatham]
        [usize::from(selector % 4)];
    let now: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 3, 29, 1, 30, 0)
        .single()
        .unwrap_or_default()
        + Duration::hours(i64::from(selector / 4));
    let options = [
        option("a", "More reach", &["reach", "audience"]),
        option("b", "Followers to clients", &["clients", "sales"]),
        option("c", "Something else", &[]),
    ];
    let slots = [now + Duration::hours(20), now + Duration::hours(44), now + Duration::days(3)];
    let contexts = [
        ReplyContext { options: &options, slots: &[], slot_payload_prefix: "SLOT_", tz, now },
        ReplyContext { options: &[], slots: &slots, slot_payload_prefix: "SLOT_", tz, now },
        ReplyContext { options: &[], slots: &[], slot_payload_prefix: "SLOT_", tz, now },
    ];
    for ctx in &contexts {
        let _ = understand(Some(&text), payload.as_deref(), ctx);
        let _ = understand(None, Some(&text), ctx);
    }
});
