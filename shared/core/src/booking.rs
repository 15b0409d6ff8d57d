//! Booking webhooks from Cal.com and Calendly: signature checks on the raw body, parsing into a
//! [`BookingEvent`], and the use case that stops (or resumes) the lead's cadence in the same request.
//!
//! The booking link Cadence sends carries the lead id ([`crate::engine::booking_link`]): Cal.com keeps
//! `metadata[lead]=<id>` in the booking's `metadata`; Calendly keeps `utm_content=<id>` in the invitee's
//! `tracking`. Those are how a booking finds its lead; nothing personal (name, email) is read.
//!
//! Signatures:
//! - Cal.com: `X-Cal-Signature-256: <hex>`, HMAC-SHA256(secret, raw body).
//! - Calendly: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, HMAC-SHA256(signing key,
//!   `"<t>.<raw body>"`); a `t` further than [`CALENDLY_TOLERANCE`] from now is refused (a replay).
//!
//! Both compare in constant time and never verify with an empty secret.

use crate::engine::Command;
use crate::ids::LeadId;
use crate::lead::Status;
use crate::service::{ServiceError, Services};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Cal.com's signature header.
pub const CAL_SIGNATURE_HEADER: &str = "x-cal-signature-256";
/// Calendly's signature header.
pub const CALENDLY_SIGNATURE_HEADER: &str = "calendly-webhook-signature";
/// How far a Calendly signature's timestamp may be from now (either way) before it is a replay.
pub const CALENDLY_TOLERANCE: Duration = Duration::minutes(5);
/// The largest booking webhook body read (Cal.com and Calendly send a few kilobytes).
pub const MAX_BOOKING_BODY: usize = 256 * 1024;

/// Which booking tool sent the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cal,
    Calendly,
}

impl Provider {
    /// The route segment (`/booking/cal`, `/booking/calendly`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cal" => Some(Provider::Cal),
            "calendly" => Some(Provider::Calendly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Cal => "cal",
            Provider::Calendly => "calendly",
        }
    }

    /// The header that carries the signature (lowercase: look it up case-insensitively).
    pub fn signature_header(self) -> &'static str {
        match self {
            Provider::Cal => CAL_SIGNATURE_HEADER,
            Provider::Calendly => CALENDLY_SIGNATURE_HEADER,
        }
    }
}

/// What happened to the booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingKind {
    Created,
    Cancelled,
    /// Moved to another time: still booked.
    Rescheduled,
    /// Any other trigger (`MEETING_ENDED`, `invitee_no_show.created`, `PING` …): acknowledged, ignored.
    Unknown(String),
}

impl BookingKind {
    pub fn name(&self) -> &str {
        match self {
            BookingKind::Created => "created",
            BookingKind::Cancelled => "cancelled",
            BookingKind::Rescheduled => "rescheduled",
            BookingKind::Unknown(k) => k,
        }
    }
}

/// A booking webhook, reduced to what the cadence needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingEvent {
    pub kind: BookingKind,
    /// The lead the booking link carried; `None` when the booking did not come from a Cadence link.
    pub lead: Option<LeadId>,
}

impl BookingEvent {
    /// The operator command this booking means, if any.
    pub fn command(&self) -> Option<Command> {
        match self.kind {
            BookingKind::Created | BookingKind::Rescheduled => {
                Some(Command::Booking { created: true })
            }
            BookingKind::Cancelled => Some(Command::Booking { created: false }),
            BookingKind::Unknown(_) => None,
        }
    }
}

/// Why a booking webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    /// Missing, malformed, stale or wrong signature.
    #[error("invalid booking webhook signature")]
    InvalidSignature,
    /// The body is not the JSON the provider sends.
    #[error("malformed booking webhook: {0}")]
    Malformed(String),
}

fn mac(secret: &[u8]) -> Option<HmacSha256> {
    if secret.is_empty() {
        return None;
    }
    HmacSha256::new_from_slice(secret).ok()
}

/// HMAC-SHA256 of `parts` (concatenated) under `secret`, as lowercase hex. Used to sign Cadence's own
/// notifications (`X-Cadence-Signature: sha256=<hex>`) and by tests to sign samples.
pub fn hmac_sha256_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC accepts keys of any length; the error exists for fixed-key MACs.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    for p in parts {
        m.update(p);
    }
    hex::encode(m.finalize().into_bytes())
}

/// Checks `hex_sig` against HMAC-SHA256(secret, parts…) in constant time.
fn verify_parts(secret: &[u8], parts: &[&[u8]], hex_sig: &str) -> Result<(), BookingError> {
    let mut m = mac(secret).ok_or(BookingError::InvalidSignature)?;
    let sig = hex::decode(hex_sig.trim()).map_err(|_| BookingError::InvalidSignature)?;
    for p in parts {
        m.update(p);
    }
    m.verify_slice(&sig)
        .map_err(|_| BookingError::InvalidSignature)
}

/// Cal.com: `X-Cal-Signature-256` is the hex HMAC-SHA256 of the raw body under the webhook's secret.
pub fn verify_cal(secret: &[u8], header: Option<&str>, body: &[u8]) -> Result<(), BookingError> {
    let h = header.ok_or(BookingError::InvalidSignature)?;
    // Some proxies forward it with the `sha256=` prefix GitHub-style webhooks use; accept either.
    let h = h.trim();
    let h = h.strip_prefix("sha256=").unwrap_or(h);
    verify_parts(secret, &[body], h)
}

/// Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>` over `"<t>.<raw body>"`, with `t` within
/// [`CALENDLY_TOLERANCE`] of `now`.
pub fn verify_calendly(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let h = header.ok_or(BookingError::InvalidSignature)?;
    let mut t = None;
    let mut sigs = Vec::new();
    for part in h.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("v1", v)) => sigs.push(v.trim()),
            _ => {}
        }
    }
    let t = t.ok_or(BookingError::InvalidSignature)?;
    let secs: i64 = t.parse().map_err(|_| BookingError::InvalidSignature)?;
    let at = DateTime::from_timestamp(secs, 0).ok_or(BookingError::InvalidSignature)?;
    if (now - at).abs() > CALENDLY_TOLERANCE {
        return Err(BookingError::InvalidSignature);
    }
    // Several `v1` values appear while a signing key is rotated: one match is enough.
    if sigs
        .iter()
        .any(|s| verify_parts(secret, &[t.as_bytes(), b".", body], s).is_ok())
    {
        Ok(())
    } else {
        Err(BookingError::InvalidSignature)
    }
}

/// The Calendly header for `body` signed at `t` (tests and samples).
pub fn calendly_signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let ts = t.to_string();
    format!(
        "t={ts},v1={}",
        hmac_sha256_hex(secret, &[ts.as_bytes(), b".", body])
    )
}

fn parse_json(body: &[u8]) -> Result<Value, BookingError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| BookingError::Malformed(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(BookingError::Malformed("expected a JSON object".into()));
    }
    Ok(v)
}

/// A lead id from a string field, or from `{ "value": "…" }` (Cal.com booking-form responses).
fn lead_at(v: Option<&Value>) -> Option<LeadId> {
    let v = v?;
    let s = v
        .as_str()
        .or_else(|| v.get("value").and_then(Value::as_str))?;
    LeadId::parse(s.trim())
}

/// Cal.com: `{"triggerEvent": "BOOKING_CREATED" | "BOOKING_CANCELLED" | "BOOKING_RESCHEDULED" | …,
/// "payload": {"metadata": {"lead": …}, "responses": {…}, …}}`. The lead id comes from `metadata.lead` (the
/// link's `metadata[lead]`), else a booking-form response named `lead`, else a `utm_content` the booking kept.
pub fn parse_cal(body: &[u8]) -> Result<BookingEvent, BookingError> {
    let v = parse_json(body)?;
    let trigger = v
        .get("triggerEvent")
        .and_then(Value::as_str)
        .ok_or_else(|| BookingError::Malformed("missing `triggerEvent`".into()))?;
    let kind = match trigger {
        "BOOKING_CREATED" => BookingKind::Created,
        "BOOKING_CANCELLED" | "BOOKING_REJECTED" => BookingKind::Cancelled,
        "BOOKING_RESCHEDULED" => BookingKind::Rescheduled,
        other => BookingKind::Unknown(other.to_ascii_lowercase()),
    };
    let p = v.get("payload");
    let lead = p
        .and_then(|p| {
            lead_at(p.pointer("/metadata/lead"))
                .or_else(|| lead_at(p.pointer("/responses/lead")))
                .or_else(|| lead_at(p.pointer("/metadata/utm_content")))
                .or_else(|| lead_at(p.pointer("/tracking/utm_content")))
        })
        .or_else(|| lead_at(v.pointer("/payload/bookingFieldsResponses/lead")));
    Ok(BookingEvent { kind, lead })
}

/// Calendly: `{"event": "invitee.created" | "invitee.canceled", "payload": {"rescheduled": bool,
/// "tracking": {"utm_content": …}, …}}`. A reschedule arrives as `invitee.canceled` with `rescheduled: true`
/// plus a new `invitee.created`: the cancellation half is [`BookingKind::Rescheduled`], so the lead stays
/// booked whichever half comes first.
pub fn parse_calendly(body: &[u8]) -> Result<BookingEvent, BookingError> {
    let v = parse_json(body)?;
    let event = v
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| BookingError::Malformed("missing `event`".into()))?;
    let p = v.get("payload");
    let rescheduled = p
        .and_then(|p| p.get("rescheduled"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let kind = match event {
        "invitee.created" => BookingKind::Created,
        "invitee.canceled" if rescheduled => BookingKind::Rescheduled,
        "invitee.canceled" => BookingKind::Cancelled,
        other => BookingKind::Unknown(other.to_string()),
    };
    let lead = p.and_then(|p| lead_at(p.pointer("/tracking/utm_content")));
    Ok(BookingEvent { kind, lead })
}

/// Verifies then parses a booking webhook.
pub fn verify_and_parse(
    provider: Provider,
    secret: &[u8],
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<BookingEvent, BookingError> {
    match provider {
        Provider::Cal => {
            verify_cal(secret, signature, body)?;
            parse_cal(body)
        }
        Provider::Calendly => {
            verify_calendly(secret, signature, body, now)?;
            parse_calendly(body)
        }
    }
}

/// What a booking webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingOutcome {
    /// Applied to the lead, which is now in this status.
    Applied { lead: LeadId, status: Status },
    /// Acknowledged and ignored: `no_lead_id`, `unknown_lead`, or the unknown event kind.
    Ignored(String),
}

/// Applies a verified booking event: a booking stops the cadence at once (the pending touch is cancelled in
/// the same write), a cancellation resumes it, a reschedule keeps it booked.
pub async fn apply(services: &Services, ev: &BookingEvent) -> Result<BookingOutcome, ServiceError> {
    let Some(cmd) = ev.command() else {
        tracing::info!(kind = ev.kind.name(), "booking webhook of an ignored kind");
        return Ok(BookingOutcome::Ignored(format!("kind:{}", ev.kind.name())));
    };
    let Some(id) = &ev.lead else {
        tracing::info!(kind = ev.kind.name(), "booking without a lead id");
        return Ok(BookingOutcome::Ignored("no_lead_id".into()));
    };
    match services.command(id, cmd).await? {
        Some(l) => {
            tracing::info!(lead = %id, kind = ev.kind.name(), status = l.status.as_str(), "booking applied");
            Ok(BookingOutcome::Applied {
                lead: id.clone(),
                status: l.status,
            })
        }
        None => {
            tracing::info!(lead = %id, kind = ev.kind.name(), "booking for an unknown lead");
            Ok(BookingOutcome::Ignored("unknown_lead".into()))
        }
    }
}

/// The whole POST use case shared by `cadence serve` and the webhook Lambda: status code and text body.
/// 401 on a bad signature, 400 on a malformed body, 200 otherwise (an unknown lead or kind is a logged no-op,
/// so the provider does not retry it), 503 when the store asks for a retry, 500 on other failures.
pub async fn handle_post(
    services: &Services,
    provider: Provider,
    secret: &[u8],
    signature: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    if body.len() > MAX_BOOKING_BODY {
        return (413, "payload too large".into());
    }
    let now = services.clock.now();
    let ev = match verify_and_parse(provider, secret, signature, body, now) {
        Ok(ev) => ev,
        Err(BookingError::InvalidSignature) => {
            tracing::warn!(
                provider = provider.as_str(),
                "booking webhook signature refused"
            );
            return (401, "invalid signature".into());
        }
        Err(e @ BookingError::Malformed(_)) => {
            tracing::warn!(provider = provider.as_str(), error = %e, "booking webhook rejected");
            return (400, "malformed body".into());
        }
    };
    match apply(services, &ev).await {
        Ok(BookingOutcome::Applied { status, .. }) => (200, status.as_str().to_string()),
        Ok(BookingOutcome::Ignored(why)) => (200, format!("ignored: {why}")),
        Err(e) if e.is_retryable() => {
            tracing::warn!(provider = provider.as_str(), error = %e, "booking webhook retry");
            (503, "retry later".into())
        }
        Err(e) => {
            tracing::error!(provider = provider.as_str(), error = %e, "booking webhook failed");
            (500, "internal error".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAD: &str = "ld_0123456789abcdef0123";

    #[test]
    fn a_cal_signature_over_the_raw_body_verifies_and_anything_else_does_not() {
        let body = br#"{"triggerEvent":"BOOKING_CREATED","payload":{"metadata":{"lead":"x"}}}"#;
        let sig = hmac_sha256_hex(b"s3cret", &[body]);
        assert_eq!(verify_cal(b"s3cret", Some(&sig), body), Ok(()));
        assert_eq!(
            verify_cal(b"s3cret", Some(&sig.to_uppercase()), body),
            Ok(())
        );
        assert!(verify_cal(b"other", Some(&sig), body).is_err());
        assert!(verify_cal(b"s3cret", Some(&sig), b"{}").is_err());
        assert!(verify_cal(b"s3cret", None, body).is_err());
        assert!(verify_cal(b"s3cret", Some("zz"), body).is_err());
        assert!(verify_cal(b"", Some(&hmac_sha256_hex(b"", &[body])), body).is_err());
    }

    #[test]
    fn a_calendly_signature_is_checked_against_its_timestamp_and_a_stale_one_is_refused() {
        let body = br#"{"event":"invitee.created","payload":{}}"#;
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let h = calendly_signature(b"key", now.timestamp() - 60, body);
        assert_eq!(verify_calendly(b"key", Some(&h), body, now), Ok(()));
        assert!(verify_calendly(b"nope", Some(&h), body, now).is_err());
        let stale = calendly_signature(b"key", now.timestamp() - 6 * 60, body);
        assert!(verify_calendly(b"key", Some(&stale), body, now).is_err());
        let future = calendly_signature(b"key", now.timestamp() + 6 * 60, body);
        assert!(verify_calendly(b"key", Some(&future), body, now).is_err());
        // A forged timestamp with the old signature fails too.
        let forged = h.replacen(
            &format!("t={}", now.timestamp() - 60),
            &format!("t={}", now.timestamp()),
            1,
        );
        assert!(verify_calendly(b"key", Some(&forged), body, now).is_err());
        assert!(verify_calendly(b"key", Some("v1=abc"), body, now).is_err());
    }

    #[test]
    fn cal_triggers_map_to_booking_kinds_with_the_lead_from_metadata_or_responses() {
        let created = format!(
            r#"{{"triggerEvent":"BOOKING_CREATED","payload":{{"metadata":{{"lead":"{LEAD}"}}}}}}"#
        );
        let ev = parse_cal(created.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.kind, BookingKind::Created);
        assert_eq!(ev.lead.as_ref().map(LeadId::as_str), Some(LEAD));
        let from_responses = format!(
            r#"{{"triggerEvent":"BOOKING_CANCELLED","payload":{{"responses":{{"lead":{{"value":"{LEAD}"}}}}}}}}"#
        );
        let ev = parse_cal(from_responses.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.kind, BookingKind::Cancelled);
        assert!(ev.lead.is_some());
        let ping = br#"{"triggerEvent":"PING","payload":{}}"#;
        let ev = parse_cal(ping).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.kind, BookingKind::Unknown("ping".into()));
        assert_eq!((ev.command(), ev.lead), (None, None));
        assert!(parse_cal(b"[]").is_err());
        assert!(parse_cal(br#"{"payload":{}}"#).is_err());
    }

    #[test]
    fn a_rescheduled_calendly_cancellation_keeps_the_booking() {
        let cancel = |r: bool| {
            format!(
                r#"{{"event":"invitee.canceled","payload":{{"rescheduled":{r},"tracking":{{"utm_content":"{LEAD}"}}}}}}"#
            )
        };
        let ev = parse_calendly(cancel(true).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.kind, BookingKind::Rescheduled);
        assert_eq!(ev.command(), Some(Command::Booking { created: true }));
        let ev = parse_calendly(cancel(false).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.command(), Some(Command::Booking { created: false }));
        let no_lead =
            br#"{"event":"invitee.created","payload":{"tracking":{"utm_content":"not-ours"}}}"#;
        assert_eq!(parse_calendly(no_lead).map(|e| e.lead), Ok(None::<LeadId>));
    }
}
