//! Logging for the Lambdas: JSON lines on stdout (CloudWatch picks them up), level from `RUST_LOG`
//! (default `info`). What is logged is decided at each call site: ids, steps, kinds and reasons, never
//! message text, names, phone numbers or tokens.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Safe to call more than once (later calls do nothing).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}
