//! The sweeper Lambda: init once, then one [`cadence_sweeper::handle_tick`] per scheduled event.

use cadence_aws::{build_services, init_tracing, AwsConfig};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Missing or invalid configuration fails the cold start, naming the variable.
    let cfg = AwsConfig::from_env()?;
    let limit = cadence_sweeper::sweep_limit(std::env::var(cadence_sweeper::SWEEP_LIMIT_ENV).ok())?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let services = build_services(&cfg, &sdk).await?;
    let services = &services;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            cadence_sweeper::handle_tick(services, &event.payload, limit)
                .await
                .map(|_| ())
                .map_err(Error::from)
        },
    ))
    .await
}
