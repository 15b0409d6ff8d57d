//! The send Lambda: init once (config, secrets, clients), then drain SQS batches with
//! [`cadence_send::handle_batch`].

use aws_lambda_events::sqs::SqsEvent;
use cadence_aws::{build_services, init_tracing, AwsConfig};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Missing configuration or unreadable secrets fail the cold start, naming what is missing.
    let cfg = AwsConfig::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let services = build_services(&cfg, &sdk).await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(cadence_send::handle_batch(services, event.payload).await)
    }))
    .await
}
