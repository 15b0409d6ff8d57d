//! Webhook → first send through the Lambda handlers, against the AWS API emulator (moto) and a Graph API mock.
//!
//! For each of `--leads N` distinct Instagram users, a signed first-contact DM goes through the webhook handler
//! (lead stored, opener on the touches queue), the queued message is handed to the send handler as the SQS
//! event Lambda would pass, and the opener reaches the Graph API mock. Every AWS SDK request is timed at the
//! HTTP connector, so the figures separate time spent waiting on the emulator from the rest (our code, the
//! SDK's signing and parsing, and the Graph call on loopback). Receiving from SQS is the event source
//! mapping's job in Lambda: it happens between the two handlers and is left out of both.
//!
//! ```text
//! moto_server -H 127.0.0.1 -p 5000 &
//! CADENCE_TEST_AWS_ENDPOINT=http://127.0.0.1:5000 \
//!   cargo run --release -p cadence-tests --example lambda_latency -- --leads 200
//! ```

#[allow(dead_code)]
#[path = "../tests/aws/helpers.rs"]
mod helpers;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use base64::Engine as _;
use cadence_aws::{build_services_with_clock, load_webhook_secrets};
use cadence_core::memory::VirtualClock;
use cadence_webhook::Webhook;
use helpers::{at, deploy, drain, graph_mock, sqs_event, APP_SECRET};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time spent in AWS requests since the last [`Wire::take`], and how many there were.
#[derive(Debug, Default)]
struct Wire {
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl Wire {
    fn take(&self) -> (Duration, u64) {
        (
            Duration::from_nanos(self.nanos.swap(0, Ordering::SeqCst)),
            self.calls.swap(0, Ordering::SeqCst),
        )
    }
}

/// Wraps the SDK's HTTP connector so that each request's round trip is added to `wire`.
#[derive(Debug)]
struct Timed {
    inner: SharedHttpConnector,
    wire: Arc<Wire>,
}

impl HttpConnector for Timed {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let fut = self.inner.call(request);
        let wire = self.wire.clone();
        HttpConnectorFuture::new(async move {
            let start = Instant::now();
            let out = fut.await;
            wire.nanos
                .fetch_add(start.elapsed().as_nanos() as u64, Ordering::SeqCst);
            wire.calls.fetch_add(1, Ordering::SeqCst);
            out
        })
    }
}

/// The client the SDK picks by default (hyper 1, rustls with aws-lc), built explicitly so it can be wrapped.
fn default_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
}

fn timed(inner: SharedHttpClient, wire: Arc<Wire>) -> SharedHttpClient {
    use aws_smithy_runtime_api::client::http::HttpClient as _;
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Timed {
            inner: inner.http_connector(settings, components),
            wire: wire.clone(),
        })
    })
}

/// The sample API Gateway event with its DM coming from `user` (new message id, body signed again).
fn first_contact(template: &serde_json::Value, user: &str, n: usize) -> ApiGatewayV2httpRequest {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64
        .decode(template["body"].as_str().expect("sample body"))
        .expect("base64 body");
    let mut body: serde_json::Value = serde_json::from_slice(&raw).expect("JSON body");
    let m = &mut body["entry"][0]["messaging"][0];
    m["sender"]["id"] = user.into();
    m["message"]["mid"] = format!("latency-{n}").into();
    let raw = serde_json::to_vec(&body).expect("JSON");
    let mut ev = template.clone();
    ev["body"] = b64.encode(&raw).into();
    ev["headers"]["content-length"] = raw.len().to_string().into();
    ev["headers"]["x-hub-signature-256"] = cadence_meta::sign(APP_SECRET.as_bytes(), &raw).into();
    serde_json::from_value(ev).expect("API Gateway event")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn row(name: &str, mut xs: Vec<Duration>) {
    xs.sort();
    let mean = xs.iter().sum::<Duration>() / xs.len() as u32;
    println!(
        "| {name} | {} | {} | {} | {} |",
        ms(percentile(&xs, 0.5)),
        ms(percentile(&xs, 0.9)),
        ms(percentile(&xs, 0.99)),
        ms(mean)
    );
}

#[tokio::main]
async fn main() {
    let mut leads = 200usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--leads" => {
                leads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--leads N (N > 0)")
            }
            other => panic!("unknown argument {other}; usage: lambda_latency [--leads N]"),
        }
    }

    let graph = graph_mock().await;
    let d = deploy(Some(graph.uri())).await;
    let wire = Arc::new(Wire::default());
    let sdk = d
        .sdk
        .clone()
        .into_builder()
        .http_client(timed(default_client(), wire.clone()))
        .build();
    // Cold-start work (secrets, accounts) happens at init in the Lambdas, not per request.
    let clock = Arc::new(VirtualClock::new(at(1)));
    let secrets = load_webhook_secrets(&d.cfg, &sdk).await.expect("secrets");
    let services = build_services_with_clock(&d.cfg, &sdk, clock)
        .await
        .expect("services");
    let webhook = Webhook::new(services, secrets);
    let template: serde_json::Value = {
        let p = format!(
            "{}/../events/lambda/apigw-v2-webhook-post.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&p).expect("sample event")).expect("JSON")
    };
    wire.take();

    let (mut hook, mut hook_aws, mut send, mut send_aws) = (vec![], vec![], vec![], vec![]);
    let (mut total, mut total_rest) = (vec![], vec![]);
    let (mut hook_calls, mut send_calls) = (0u64, 0u64);
    for n in 0..leads {
        let ev = first_contact(&template, &format!("9{n:015}"), n);
        let t = Instant::now();
        let r = webhook.handle(ev).await;
        let h = t.elapsed();
        assert_eq!(r.status_code, 200, "webhook answer for lead {n}");
        let (ha, hc) = wire.take();

        // The event source mapping's receive, on the untimed client.
        let msgs = drain(&d.sdk, &d.cfg.queue_url, 1, Duration::from_secs(30)).await;
        assert_eq!(msgs.len(), 1, "one opener queued for lead {n}");

        let t = Instant::now();
        let out = cadence_send::handle_batch(&webhook.services, sqs_event(&msgs)).await;
        let s = t.elapsed();
        assert!(out.batch_item_failures.is_empty(), "{out:?}");
        let (sa, sc) = wire.take();

        hook.push(h);
        hook_aws.push(ha);
        send.push(s);
        send_aws.push(sa);
        total.push(h + s);
        total_rest.push((h + s).saturating_sub(ha + sa));
        hook_calls += hc;
        send_calls += sc;
    }
    let delivered = graph.received_requests().await.unwrap_or_default().len();
    assert_eq!(
        delivered, leads,
        "one opener per lead reached the Graph API"
    );

    println!(
        "{leads} leads, {delivered} openers delivered; AWS requests per lead: webhook {:.1}, send {:.1}",
        hook_calls as f64 / leads as f64,
        send_calls as f64 / leads as f64
    );
    println!("| ms | p50 | p90 | p99 | mean |\n|---|---|---|---|---|");
    row("webhook handler", hook);
    row("  of which AWS requests (emulator)", hook_aws);
    row("send handler (Graph mock on loopback)", send);
    row("  of which AWS requests (emulator)", send_aws);
    row("webhook → first send, both handlers", total);
    row("  excluding AWS request time", total_rest);
}
