//! [`WebhookNotifier`]: handoff and booking notifications POSTed as JSON to a URL the operator chooses (a
//! Slack/Zapier/n8n hook, a CRM), signed so the receiver can check they came from this Cadence.
//!
//! `X-Cadence-Signature: sha256=<hex>` is HMAC-SHA256 of the exact body under `CADENCE_NOTIFY_SECRET`. The body
//! is the [`Notification`] JSON: lead id, kind, reason, step reached, answers (option keys), last inbound kind
//! and time; never message text or personal data.

use async_trait::async_trait;
use cadence_core::booking::hmac_sha256_hex;
use cadence_core::engine::Notification;
use cadence_core::ports::{Notifier, SendFailure};
use std::time::Duration;

/// The signature header on every notification.
pub const SIGNATURE_HEADER: &str = "X-Cadence-Signature";
/// Environment variables `cadence serve` reads.
pub const NOTIFY_URL_ENV: &str = "CADENCE_NOTIFY_URL";
pub const NOTIFY_SECRET_ENV: &str = "CADENCE_NOTIFY_SECRET";

/// The header value for `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret, &[body]))
}

/// POSTs each notification to one URL, signed. One attempt with a short timeout: a notification is best
/// effort and never holds up the lead's decision (the caller logs a failure).
pub struct WebhookNotifier {
    url: String,
    secret: Vec<u8>,
    http: reqwest::Client,
}

impl WebhookNotifier {
    pub fn new(url: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url: url.into(),
            secret: secret.into(),
            http,
        })
    }

    /// From `CADENCE_NOTIFY_URL` and `CADENCE_NOTIFY_SECRET`; `None` when the URL is unset. A URL without a
    /// secret is refused: unsigned notifications could be forged by anyone who finds the receiver.
    pub fn from_env() -> Result<Option<Self>, String> {
        let Some(url) = std::env::var(NOTIFY_URL_ENV).ok().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let secret = std::env::var(NOTIFY_SECRET_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{NOTIFY_URL_ENV} is set but {NOTIFY_SECRET_ENV} is not"))?;
        Self::new(url, secret.into_bytes()).map(Some)
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), SendFailure> {
        let body = serde_json::to_vec(n).map_err(|e| SendFailure::Permanent {
            reason: e.to_string(),
        })?;
        let res = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(&self.secret, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| SendFailure::Retryable {
                reason: format!("notify: {}", e.without_url()),
                retry_after: None,
            })?;
        if res.status().is_success() {
            tracing::info!(lead = %n.lead, kind = %n.kind, reason = %n.reason, "notification delivered");
            Ok(())
        } else {
            Err(SendFailure::Permanent {
                reason: format!("notify: HTTP {}", res.status().as_u16()),
            })
        }
    }
}
