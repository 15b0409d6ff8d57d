//! [`WebhookNotifier`] for `cadence serve`: handoff and booking notifications POSTed as signed JSON to
//! `CADENCE_NOTIFY_URL`. The notifier itself (body, `X-Cadence-Signature: sha256=<hex>`, timeout, error
//! mapping) is [`cadence_meta::notify`], shared with the Lambdas; this module only reads the CLI's
//! configuration.

pub use cadence_meta::notify::{signature, WebhookNotifier, SIGNATURE_HEADER};

/// Environment variables `cadence serve` reads.
pub const NOTIFY_URL_ENV: &str = "CADENCE_NOTIFY_URL";
pub const NOTIFY_SECRET_ENV: &str = "CADENCE_NOTIFY_SECRET";

/// From `CADENCE_NOTIFY_URL` and `CADENCE_NOTIFY_SECRET`; `None` when the URL is unset. A URL without a secret
/// is refused: unsigned notifications could be forged by anyone who finds the receiver.
pub fn from_env() -> Result<Option<WebhookNotifier>, String> {
    let Some(url) = std::env::var(NOTIFY_URL_ENV).ok().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let secret = std::env::var(NOTIFY_SECRET_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{NOTIFY_URL_ENV} is set but {NOTIFY_SECRET_ENV} is not"))?;
    WebhookNotifier::new(url, secret.into_bytes())
        .map(Some)
        .map_err(|e| e.to_string())
}
