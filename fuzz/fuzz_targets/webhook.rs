//! Arbitrary bytes through the webhook's front door: the signature check (with a header made from the input
//! and with the correct one), `parse_webhook`, and the data-deletion form and `signed_request` parsers.
//! Nothing may panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret";

fuzz_target!(|data: &[u8]| {
    // A header taken from the first line of the input, then the rest as the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(0);
    let (head, body) = data.split_at(split);
    let header = std::str::from_utf8(head).ok();
    let _ = cadence_meta::verify_signature(SECRET, header, body);
    // The correctly signed body must verify, then parse without panicking.
    let good = cadence_meta::sign(SECRET, data);
    assert!(cadence_meta::verify_signature(SECRET, Some(&good), data).is_ok());
    if let Ok(parsed) = cadence_meta::parse_webhook(data) {
        for ev in &parsed.events {
            assert!(!ev.dedupe_key.is_empty());
        }
    }
    let _ = cadence_meta::decode_body(data, true);
    if let Some(field) = cadence_meta::deletion::form_field(data, "signed_request") {
        let _ = cadence_meta::parse_signed_request(&field, SECRET);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cadence_meta::parse_signed_request(text, SECRET);
    }
});
