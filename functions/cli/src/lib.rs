//! The `cadence` command: the production services on embedded adapters, with no AWS account.
//!
//! # Layout
//! - [`replay`]: the black-box contract (`cadence replay`) and the virtual-clock simulation behind it.
//! - [`sinks`]: recording delivery sinks that print the exact outbound requests.
//! - [`synth`]: Meta-shaped webhook bodies for the demo and `preview`.
//! - [`demo`]: `cadence demo` and `cadence preview` timelines.
//! - [`serve`]: `cadence serve`, the real webhook endpoint on the wall clock.
//! - [`operate`]: booking webhooks and the local admin API of `cadence serve`, and its client.
//! - [`notify`]: signed HTTP notifications of handoffs and bookings.
//! - [`report`]: `cadence report`, the per-step funnel.
//! - [`config`]: loading cadence and accounts files for every command.
#![deny(clippy::unwrap_used)]

pub mod config;
pub mod demo;
pub mod notify;
pub mod operate;
pub mod replay;
pub mod report;
pub mod serve;
pub mod sinks;
pub mod synth;
