//! Cadence core: the DM-first sales cadence as data, and a pure engine that decides what to send, when, on
//! which channel, and what to cancel.
//!
//! Nothing here performs I/O or reads a clock: time comes in as an argument, storage and delivery go through
//! the traits in [`ports`]. The AWS Lambdas and the `cadence` CLI are thin shells around [`service`].
//!
//! # Layout
//! - [`ids`]: channels, platform user references, derived lead ids.
//! - [`inbound`]: normalised inbound events (what the Meta layer produces).
//! - [`outbound`]: deliveries the engine decides (DMs, emails, human tasks, newsletter handoffs).
//! - [`lead`]: the lead record, its status, planned touches and audit records.
//! - [`ports`]: storage, scheduling, queueing and delivery traits; the clock.
//! - [`report`]: operator views: lead timelines, the per-step funnel, metric events.
//! - [`booking`]: Cal.com and Calendly booking webhooks (signatures, parsing, the stop/resume use case).
#![deny(clippy::unwrap_used)]

pub mod account;
pub mod booking;
pub mod cadence;
pub mod duration;
pub mod engine;
pub mod ids;
pub mod inbound;
pub mod lead;
pub mod memory;
pub mod outbound;
pub mod ports;
pub mod render;
pub mod reply;
pub mod report;
pub mod service;
pub mod slots;
pub mod timing;

pub use chrono;
pub use chrono_tz;
