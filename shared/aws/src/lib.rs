//! Cadence's AWS layer: the adapters that implement the core ports on DynamoDB, EventBridge Scheduler, SQS and
//! SESv2, and the configuration that wires them into one [`Services`](cadence_core::service::Services) for the
//! three Lambdas.
//!
//! This is the only crate that names an `aws-sdk-*` type. Domain ↔ SDK mapping (items, schedule inputs, queue
//! bodies) happens here and nowhere else; attribute names are constants in [`store::attr`].
//!
//! # Layout
//! - [`store`]: [`DynamoLeadStore`], the single-table lead store (DESIGN §6): versioned lead items, inbound
//!   dedupe claims, audit trail, the sparse sharded due index the sweeper reads.
//! - [`scheduler`]: [`EventBridgeTouchScheduler`], one-off `at()` schedules in the lead's zone that fire the
//!   touch into the queue; [`at_expression`] is the pure expression builder.
//! - [`queue`]: [`SqsTouchQueue`] and [`parse_touch_ref`] for the send worker's SQS records.
//! - [`email`]: [`SesEmailSender`] (email touches) and [`SesNewsletterSink`] (newsletter handoff as an SESv2
//!   contact).
//! - [`tasks`]: [`DynamoTaskSink`] (human tasks as `TASK#` items) and [`LogNotifier`].
//! - [`config`]: [`AwsConfig::from_env`], secrets read once at init ([`Secret`], [`SecretTokens`]), and
//!   [`build_services`].
//! - [`notify`]: [`EventBridgeNotifier`] and [`WebhookNotifier`] for handoff and booking notifications.
//! - [`metrics`]: CloudWatch EMF funnel metrics ([`MeteredLeadStore`]).
//! - [`telemetry`]: JSON logging for the Lambdas.
//! - `sdk`: error classification shared by the adapters.
#![deny(clippy::unwrap_used)]

pub mod config;
pub mod email;
pub mod metrics;
pub mod notify;
pub mod queue;
pub mod scheduler;
mod sdk;
pub mod store;
pub mod tasks;
pub mod telemetry;

pub use config::{
    build_services, build_services_with_clock, load_webhook_secrets, AwsConfig, Secret,
    SecretTokens, WebhookSecrets,
};
pub use email::{SesEmailSender, SesNewsletterSink};
pub use metrics::MeteredLeadStore;
pub use notify::{EventBridgeNotifier, WebhookNotifier};
pub use queue::{parse_touch_ref, touch_ref_body, SqsTouchQueue};
pub use scheduler::{at_expression, EventBridgeTouchScheduler, ScheduleInfo, ScheduleTarget};
pub use store::DynamoLeadStore;
pub use tasks::{DynamoTaskSink, LogNotifier};
pub use telemetry::init_tracing;

/// What can go wrong in this crate outside the ports' own error types: configuration at init, secrets, and
/// mapping between domain values and SDK shapes. Messages name variables, parameters and attributes, never
/// secret values or personal data.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A required environment variable is missing or empty. Raised at init: the function does not start.
    #[error("environment variable {0} is not set")]
    MissingEnv(&'static str),
    /// A configuration value is present but unusable (bad accounts YAML, unknown token reference).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A secret could not be read (SSM parameter, Secrets Manager secret). Names the reference only.
    #[error("cannot read secret {name}: {reason}")]
    Secret { name: String, reason: String },
    /// A stored item or message body does not map to a domain value (or back).
    #[error("mapping failed: {0}")]
    Mapping(String),
    /// Anything else, with context.
    #[error("unexpected: {0}")]
    Unexpected(#[from] anyhow::Error),
}
