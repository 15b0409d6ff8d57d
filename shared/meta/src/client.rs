//! [`GraphApiSender`]: the Graph API adapter for the core [`ChannelSender`] port.
//!
//! Each send carries the touch's [`send_tag`] (Messenger `metadata`, WhatsApp `biz_opaque_callback_data`) so
//! the engine can tell echoes and statuses of our sends from a human typing in the inbox.
//!
//! One attempt per call, no retries inside: Meta has no idempotency key, so a blind retry after an ambiguous
//! failure could message the person twice. The caller decides from the returned [`SendFailure`]:
//! - connection failures (nothing reached Meta) are `Retryable`;
//! - a timeout or broken connection **after** the request was sent is `Unknown`: Meta may have delivered it,
//!   so it must not be retried blindly (the echo or status webhook will tell);
//! - HTTP answers are classified by [`classify`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cadence_core::ids::Channel;
use cadence_core::lead::TouchRef;
use cadence_core::outbound::DmMessage;
use cadence_core::ports::{ChannelSender, SendFailure, SendReceipt};
use serde_json::Value;

use crate::errors::classify;
use crate::graph::{build_tagged_request, send_tag, GraphConfig};
use crate::MetaError;

/// Where send tokens come from: an Instagram user token, a Page token or a WhatsApp system-user token per
/// business-side id. Called on every send, so implementations should answer from memory.
pub trait TokenSource: Send + Sync {
    /// The token for sending from `account` (IG account id, Page id, WhatsApp phone number id) on `channel`,
    /// or `None` when none is configured.
    fn token(&self, channel: Channel, account: &str) -> Option<String>;
}

impl<F> TokenSource for F
where
    F: Fn(Channel, &str) -> Option<String> + Send + Sync,
{
    fn token(&self, channel: Channel, account: &str) -> Option<String> {
        self(channel, account)
    }
}

/// HTTP timeouts for sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderTimeouts {
    /// Establishing the connection. Failing here means nothing was sent, so it is safely retryable.
    pub connect: Duration,
    /// The whole exchange. Failing after the connection means the outcome is unknown.
    pub total: Duration,
}

impl Default for SenderTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            total: Duration::from_secs(10),
        }
    }
}

/// Sends DMs through the Graph API (Instagram, Messenger, WhatsApp Cloud API).
#[derive(Clone)]
pub struct GraphApiSender {
    http: reqwest::Client,
    config: GraphConfig,
    tokens: Arc<dyn TokenSource>,
}

impl fmt::Debug for GraphApiSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens stay out of debug output.
        f.debug_struct("GraphApiSender")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl GraphApiSender {
    /// A sender with the default timeouts (connect 3 s, total 10 s).
    pub fn new(config: GraphConfig, tokens: Arc<dyn TokenSource>) -> Result<Self, MetaError> {
        Self::with_timeouts(config, tokens, SenderTimeouts::default())
    }

    pub fn with_timeouts(
        config: GraphConfig,
        tokens: Arc<dyn TokenSource>,
        timeouts: SenderTimeouts,
    ) -> Result<Self, MetaError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .build()
            .map_err(|e| MetaError::Unexpected(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            http,
            config,
            tokens,
        })
    }
}

#[async_trait]
impl ChannelSender for GraphApiSender {
    async fn send_dm(&self, touch: &TouchRef, msg: &DmMessage) -> Result<SendReceipt, SendFailure> {
        let channel = msg.channel.as_str();
        let tag = send_tag(touch);
        let request = build_tagged_request(msg, &self.config, Some(&tag)).map_err(|e| {
            SendFailure::Permanent {
                reason: e.to_string(),
            }
        })?;
        let token = self
            .tokens
            .token(msg.channel, &msg.from)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendFailure::Auth {
                reason: format!("no {channel} token configured for this account"),
            })?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            SendFailure::Permanent {
                reason: "invalid HTTP method".to_owned(),
            }
        })?;

        let result = self
            .http
            .request(method, &request.url)
            .bearer_auth(token)
            .json(&request.body)
            .send()
            .await;
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let failure = transport_failure(&e);
                tracing::warn!(
                    channel,
                    failure = failure.code(),
                    "dm send failed in transport"
                );
                return Err(failure);
            }
        };
        let status = response.status();
        let body = response.bytes().await;
        if !status.is_success() {
            // A failed status is final even if its body could not be read.
            let failure = classify(status.as_u16(), body.as_deref().unwrap_or_default());
            tracing::warn!(
                channel,
                status = status.as_u16(),
                failure = failure.code(),
                "dm rejected by meta"
            );
            return Err(failure);
        }
        let provider_id = body
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .as_ref()
            .and_then(message_id);
        match provider_id {
            Some(provider_id) => {
                tracing::info!(channel, "dm accepted by meta");
                Ok(SendReceipt { provider_id })
            }
            None => {
                // Meta said yes but we cannot tell to what: treat like a timeout, never resend blindly.
                tracing::warn!(channel, "dm accepted without a message id");
                Err(SendFailure::Unknown {
                    reason: format!("http {} without a message id", status.as_u16()),
                })
            }
        }
    }
}

/// `message_id` (Instagram, Messenger) or `messages[0].id` (WhatsApp `wamid`).
fn message_id(body: &Value) -> Option<String> {
    body.get("message_id")
        .or_else(|| body.get("messages")?.get(0)?.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

fn transport_failure(e: &reqwest::Error) -> SendFailure {
    // Checked first: a connect timeout is also a timeout, but nothing was sent.
    if e.is_connect() {
        SendFailure::Retryable {
            reason: if e.is_timeout() {
                "connect timeout".to_owned()
            } else {
                "connect failed".to_owned()
            },
            retry_after: None,
        }
    } else if e.is_builder() {
        SendFailure::Permanent {
            reason: "invalid request".to_owned(),
        }
    } else if e.is_timeout() {
        SendFailure::Unknown {
            reason: "timeout after the request was sent".to_owned(),
        }
    } else {
        SendFailure::Unknown {
            reason: "connection lost after the request was sent".to_owned(),
        }
    }
}
