//! [`WebhookNotifier`]: handoff and booking notifications POSTed as JSON to a URL the operator chooses (a
//! Slack/Zapier/n8n hook, a CRM), signed so the receiver can check they came from this Cadence. The one
//! implementation behind `cadence serve` (`CADENCE_NOTIFY_URL`) and the Lambdas (the same URL, the secret from
//! SSM).
//!
//! `X-Cadence-Signature: sha256=<hex>` is HMAC-SHA256 of the exact body under the shared secret. The body is the
//! [`Notification`] JSON: lead id, kind, reason, step reached, answers (option keys), last inbound kind and
//! time; never message text or personal data.
//!
//! It lives here rather than in the CLI or the AWS crate because it is plain HTTP, like the Graph API client,
//! and both of them depend on this crate (the CLI must not link the AWS SDK).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use cadence_core::booking::hmac_sha256_hex;
use cadence_core::engine::Notification;
use cadence_core::ports::{Notifier, SendFailure};

use crate::MetaError;

/// The signature header on every notification.
pub const SIGNATURE_HEADER: &str = "X-Cadence-Signature";

/// The whole exchange, connection included. Short: a notification is best effort and must not hold up the
/// caller for long.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// The [`SIGNATURE_HEADER`] value for `body` under `secret`: `sha256=<hex HMAC-SHA256>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret, &[body]))
}

/// POSTs each notification to one URL, signed. One attempt with a short timeout: a notification is best
/// effort and never holds up the lead's decision (the caller logs a failure).
pub struct WebhookNotifier {
    /// Where notifications go. Kept out of `Debug`: hook URLs often carry a token in their path.
    url: String,
    /// The HMAC key. Kept out of `Debug` and logs.
    secret: Vec<u8>,
    /// Built once, with [`NOTIFY_TIMEOUT`].
    http: reqwest::Client,
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier for `url` signing with `secret`. Fails only if the HTTP client cannot be built.
    pub fn new(url: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Self, MetaError> {
        let http = reqwest::Client::builder()
            .timeout(NOTIFY_TIMEOUT)
            .build()
            .map_err(|e| MetaError::Unexpected(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            url: url.into(),
            secret: secret.into(),
            http,
        })
    }

    /// The [`SIGNATURE_HEADER`] value for `body` under this notifier's secret.
    pub fn signature(&self, body: &[u8]) -> String {
        signature(&self.secret, body)
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    /// Not idempotent on the receiver's side (no retries here, so at most one POST per call). A connection
    /// failure or timeout is `Retryable`, a non-2xx answer `Permanent`; reasons never contain the URL.
    async fn notify(&self, n: &Notification) -> Result<(), SendFailure> {
        let body = serde_json::to_vec(n).map_err(|e| SendFailure::Permanent {
            reason: e.to_string(),
        })?;
        let res = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, self.signature(&body))
            .body(body)
            .send()
            .await
            .map_err(|e| SendFailure::Retryable {
                reason: format!("notify: {}", e.without_url()),
                retry_after: None,
            })?;
        if res.status().is_success() {
            // Ids, kind and reason only: the notification's answers and times stay out of the log.
            tracing::info!(lead = %n.lead, kind = %n.kind, reason = %n.reason, "notification delivered");
            Ok(())
        } else {
            Err(SendFailure::Permanent {
                reason: format!("notify: HTTP {}", res.status().as_u16()),
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cadence_core::ids::{Channel, LeadId};
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn note() -> Notification {
        Notification {
            lead: LeadId::derive("acme", Channel::Instagram, "1"),
            kind: "handoff".into(),
            reason: "human_echo".into(),
            summary: "cadence=coach-ig".into(),
            at: None,
            cadence: "coach-ig".into(),
            channel: "instagram".into(),
            step: Some("qualify".into()),
            answers: Default::default(),
            last_inbound: Some("message".into()),
            last_inbound_at: None,
        }
    }

    #[test]
    fn the_signature_is_sha256_hmac_of_the_body_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn a_notification_is_posted_as_json_with_the_signature_of_its_exact_body() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .and(header("content-type", "application/json"))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let n = WebhookNotifier::new(format!("{}/hook", server.uri()), b"s3cret".to_vec()).unwrap();
        n.notify(&note()).await.unwrap();
        let req = &server.received_requests().await.unwrap()[0];
        let sig = req.headers.get(SIGNATURE_HEADER).unwrap().to_str().unwrap();
        assert_eq!(sig, signature(b"s3cret", &req.body));
        assert_eq!(sig, n.signature(&req.body));
        let back: Notification = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(back, note());
    }

    #[tokio::test]
    async fn a_refusal_is_permanent_and_an_unreachable_receiver_retryable_without_the_url() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        let refused =
            WebhookNotifier::new(format!("{}/hook?token=t0k", server.uri()), b"s".to_vec())
                .unwrap()
                .notify(&note())
                .await;
        assert_eq!(
            refused,
            Err(SendFailure::Permanent {
                reason: "notify: HTTP 500".into()
            })
        );

        // A port nothing listens on: bind one, then let it go.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook?token=t0k", free.local_addr().unwrap());
        drop(free);
        match WebhookNotifier::new(url, b"s".to_vec())
            .unwrap()
            .notify(&note())
            .await
        {
            Err(SendFailure::Retryable { reason, .. }) => {
                assert!(
                    reason.starts_with("notify: ") && !reason.contains("t0k"),
                    "{reason}"
                )
            }
            other => panic!("expected a retryable failure, got {other:?}"),
        }
    }

    #[test]
    fn debug_output_shows_neither_the_secret_nor_the_url() {
        let n = WebhookNotifier::new("https://hooks.example/T0K3N", b"s3cret".to_vec()).unwrap();
        let d = format!("{n:?}");
        assert!(!d.contains("s3cret") && !d.contains("T0K3N"), "{d}");
    }
}
