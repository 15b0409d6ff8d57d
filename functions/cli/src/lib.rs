//! The `cadence` command: the production services on embedded adapters, with no AWS account.
//!
//! # Layout
//! - [`replay`]: the black-box contract (`cadence replay`) and the virtual-clock simulation behind it.
//! - [`sinks`]: recording delivery sinks that print the exact outbound requests.
//! - [`synth`]: Meta-shaped webhook bodies for the demo and `preview`.
//! - [`demo`]: `cadence demo` and `cadence preview` timelines.
//! - [`serve`]: `cadence serve`, the real webhook endpoint on the wall clock.
//! - [`config`]: loading cadence and accounts files for every command.
#![deny(clippy::unwrap_used)]

pub mod config;
pub mod demo;
pub mod replay;
pub mod serve;
pub mod sinks;
pub mod synth;
