//! Cadence's Meta platform layer: everything that knows how Instagram, Messenger and the WhatsApp Cloud API
//! speak, and nothing about cadences.
//!
//! Inbound, a webhook handler calls [`decode_body`], then [`verify_signature`] on the raw bytes, then
//! [`parse_webhook`], and hands the resulting [`InboundEvent`](cadence_core::inbound::InboundEvent)s to the
//! engine. Outbound, the engine's [`DmMessage`](cadence_core::outbound::DmMessage)s become Graph API requests
//! ([`build_request`]) that [`GraphApiSender`] posts, mapping Meta's errors onto the engine's
//! [`SendFailure`](cadence_core::ports::SendFailure) with [`classify`].
//!
//! Facts about Meta's shapes, limits and error codes come from `meta-platform.md`; the sample bodies in the
//! workspace's `events/` directory are parsed by this crate's tests.
//!
//! # Layout
//! - [`signature`]: `X-Hub-Signature-256` check, the GET subscription handshake, base64 bodies from API
//!   Gateway and the data-deletion `signed_request`.
//! - [`webhook`]: lenient parsing of webhook bodies into inbound events; one bad item never loses the others.
//! - [`graph`]: pure Send API request building (URL + JSON body) with Meta's limits checked.
//! - [`errors`]: Meta error JSON → retryable / window closed / unreachable / opted out / auth / permanent.
//! - [`client`]: [`GraphApiSender`], the reqwest adapter for the core `ChannelSender` port.
//! - [`deletion`]: Meta's data-deletion callback (`POST /data-deletion`) and its status page.
//! - [`notify`]: [`WebhookNotifier`], handoff and booking notifications as a signed JSON POST.
#![deny(clippy::unwrap_used)]

pub mod client;
pub mod deletion;
pub mod errors;
pub mod graph;
pub mod http;
pub mod notify;
pub mod signature;
pub mod webhook;

pub use client::{GraphApiSender, SenderTimeouts, TokenSource};
pub use deletion::{deletion_status, handle_deletion_request};
pub use errors::classify;
pub use graph::{
    build_request, build_tagged_request, send_tag, truncate_chars, GraphConfig, GraphRequest,
};
pub use http::{handle_post, ACK};
pub use notify::WebhookNotifier;
pub use signature::{
    decode_body, parse_signed_request, sign, verify_signature, verify_subscription, SignedRequest,
    MAX_BODY_BYTES,
};
pub use webhook::{parse_webhook, Parsed, Skipped};

/// What can go wrong in this crate. Variants are what a handler branches on: each maps to one HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// The webhook signature or `signed_request` did not authenticate. Answer 401 and process nothing.
    #[error("invalid signature")]
    InvalidSignature,
    /// The subscription handshake was refused (wrong mode or verify token). Answer 403.
    #[error("subscription verification refused")]
    Forbidden,
    /// The request itself is unusable (bad base64, no `signed_request` payload). Answer 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The body exceeds Meta's documented 3 MB payload size. Answer 413.
    #[error("body of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    /// A signed body that is not a JSON object. It can never be parsed, so retrying helps nobody.
    #[error("malformed webhook body: {0}")]
    Malformed(String),
    /// A DM that Meta would reject (over a length limit, wrong recipient kind for the channel …). The reason
    /// names the limit, never the content.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// Anything else, with context (building the HTTP client, serialising a request).
    #[error("unexpected: {0}")]
    Unexpected(String),
}
