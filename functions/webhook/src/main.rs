//! The webhook Lambda: init once (config, secrets, clients), then answer requests with
//! [`cadence_webhook::Webhook::handle`].

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use cadence_aws::{build_services, init_tracing, load_webhook_secrets, AwsConfig};
use cadence_webhook::Webhook;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Missing configuration or unreadable secrets fail the cold start, naming what is missing.
    let cfg = AwsConfig::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let services = build_services(&cfg, &sdk).await?;
    let secrets = load_webhook_secrets(&cfg, &sdk).await?;
    let webhook = Webhook::new(services, secrets);
    let webhook = &webhook;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, Error>(webhook.handle(event.payload).await)
        },
    ))
    .await
}
