//! The POST /webhook use case, shared by the webhook Lambda and `cadence serve`: size, signature on the raw
//! bytes, parsing, then every item through the application service, with the status Meta's retry rules need.

use crate::{parse_webhook, verify_signature, MetaError, MAX_BODY_BYTES};
use cadence_core::service::Services;

/// The body Meta gets with a 200.
pub const ACK: &str = "EVENT_RECEIVED";

/// An HTTP status and body.
pub type Reply = (u16, String);

/// The status and body for an error of this crate.
pub fn error_reply(e: &MetaError) -> Reply {
    match e {
        MetaError::InvalidSignature => (401, "invalid signature".into()),
        MetaError::Forbidden => (403, "forbidden".into()),
        MetaError::TooLarge { .. } => (413, "too large".into()),
        MetaError::BadRequest(_) | MetaError::Malformed(_) | MetaError::InvalidMessage(_) => {
            (400, "bad request".into())
        }
        MetaError::Unexpected(_) => (500, "error".into()),
    }
}

/// Handles a webhook POST whose body is already decoded (API Gateway base64 undone).
///
/// 413 over 3 MB, 401 on a missing or wrong `X-Hub-Signature-256` (nothing parsed), 200 for everything Meta
/// should not retry (unknown kinds, malformed items, a signed body that is not JSON), and 500 only when an
/// event could not be stored for a retryable reason: Meta then redelivers, and the dedupe claims make the
/// events already stored take effect once.
pub async fn handle_post(
    services: &Services,
    secret: &[u8],
    sig: Option<&str>,
    body: &[u8],
) -> Reply {
    if body.len() > MAX_BODY_BYTES {
        return (413, "too large".into());
    }
    if verify_signature(secret, sig, body).is_err() {
        tracing::warn!("webhook signature rejected");
        return (401, "invalid signature".into());
    }
    let parsed = match parse_webhook(body) {
        Ok(p) => p,
        Err(MetaError::Malformed(reason)) => {
            // Signed by Meta but unusable: acknowledge, or Meta would retry it for days.
            tracing::warn!(%reason, "malformed webhook body acknowledged");
            return (200, ACK.into());
        }
        Err(e) => return error_reply(&e),
    };
    for s in &parsed.skipped {
        tracing::info!(kind = %s.kind, reason = %s.reason, "webhook item skipped");
    }
    let mut retry = false;
    // People whose event could not be stored for now: their later events in this body wait for Meta's
    // redelivery too, so each person's events still take effect in order (the others go ahead).
    let mut held: Vec<(
        cadence_core::ids::Channel,
        &str,
        &cadence_core::ids::UserRef,
    )> = Vec::new();
    for ev in &parsed.events {
        let who = (ev.channel, ev.account.as_str(), &ev.user);
        if held.contains(&who) {
            continue;
        }
        match services.handle_inbound(ev).await {
            Ok(outcome) => {
                tracing::debug!(kind = ev.kind.name(), ?outcome, "webhook event handled")
            }
            Err(e) => {
                tracing::error!(kind = ev.kind.name(), error = %e, "event not stored");
                if e.is_retryable() {
                    retry = true;
                    held.push(who);
                }
            }
        }
    }
    if retry {
        (500, "retry".into())
    } else {
        (200, ACK.into())
    }
}
