//! The Lambda handlers fed from `events/lambda/*.json`, on services wired to the emulator.

use crate::helpers::{at, deploy, drain, lead, sqs_event, Deployment, IGSID, IG_ACCOUNT};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::SqsEvent;
use cadence_aws::{build_services_with_clock, load_webhook_secrets};
use cadence_core::ids::{Channel, LeadId};
use cadence_core::memory::VirtualClock;
use cadence_core::ports::LeadWrite;
use cadence_core::service::Services;
use cadence_webhook::Webhook;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fixture from `events/lambda/`.
pub fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let p = format!("{}/../events/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{p}: {e}"))
}

pub async fn services(d: &Deployment, clock: Arc<VirtualClock>) -> Services {
    build_services_with_clock(&d.cfg, &d.sdk, clock)
        .await
        .expect("services")
}

pub async fn webhook(d: &Deployment, clock: Arc<VirtualClock>) -> Webhook {
    let secrets = load_webhook_secrets(&d.cfg, &d.sdk)
        .await
        .expect("secrets from SSM");
    Webhook::new(services(d, clock).await, secrets)
}

/// Meta delivers `events/lambda/apigw-v2-webhook-post.json` (the signed sample DM): accepted with a 200.
pub async fn deliver_sample_dm(w: &Webhook) {
    assert_eq!(
        w.handle(fixture("apigw-v2-webhook-post.json"))
            .await
            .status_code,
        200,
        "the signed sample DM is accepted"
    );
}

pub fn text(r: &ApiGatewayV2httpResponse) -> (i64, String) {
    let body = match &r.body {
        Some(Body::Text(t)) => t.clone(),
        Some(Body::Binary(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (r.status_code, body)
}

#[tokio::test]
async fn the_get_handshake_echoes_the_challenge_only_for_the_right_verify_token() {
    let d = deploy(None).await;
    let w = webhook(&d, Arc::new(VirtualClock::new(at(1)))).await;
    let req: ApiGatewayV2httpRequest = fixture("apigw-v2-webhook-get.json");
    assert_eq!(
        text(&w.handle(req.clone()).await),
        (200, "1158201444".to_string())
    );

    let mut wrong: serde_json::Value = fixture("apigw-v2-webhook-get.json");
    wrong["queryStringParameters"]["hub.verify_token"] = "guess".into();
    let wrong: ApiGatewayV2httpRequest = serde_json::from_value(wrong).expect("event");
    assert_eq!(w.handle(wrong).await.status_code, 403);
}

#[tokio::test]
async fn signed_posts_from_api_gateway_and_function_urls_store_the_lead_and_bad_ones_are_refused() {
    let d = deploy(None).await;
    let w = webhook(&d, Arc::new(VirtualClock::new(at(1)))).await;
    let lead_id = LeadId::derive("acme", Channel::Instagram, IGSID);

    // API Gateway: base64 body, signature header.
    let req: ApiGatewayV2httpRequest = fixture("apigw-v2-webhook-post.json");
    assert!(req.is_base64_encoded);
    assert_eq!(
        text(&w.handle(req).await),
        (200, "EVENT_RECEIVED".to_string())
    );
    let stored = w
        .services
        .store
        .load(&lead_id)
        .await
        .expect("load")
        .expect("lead stored");
    assert_eq!(stored.value.business_id, IG_ACCOUNT);

    // Function URL: plain body; the same event again is acknowledged (a duplicate, nothing new).
    let req: ApiGatewayV2httpRequest = fixture("function-url-webhook-post.json");
    assert_eq!(
        text(&w.handle(req).await),
        (200, "EVENT_RECEIVED".to_string())
    );
    assert_eq!(
        w.services
            .store
            .load(&lead_id)
            .await
            .expect("load")
            .expect("lead")
            .version,
        stored.version
    );

    // Header names are case-insensitive.
    let mut v: serde_json::Value = fixture("function-url-webhook-post.json");
    let sig = v["headers"]["x-hub-signature-256"].take();
    v["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("x-hub-signature-256");
    v["headers"]["X-Hub-Signature-256"] = sig;
    let req: ApiGatewayV2httpRequest = serde_json::from_value(v).expect("event");
    assert_eq!(w.handle(req).await.status_code, 200);

    // A changed body no longer matches its signature.
    let mut v: serde_json::Value = fixture("function-url-webhook-post.json");
    let body = v["body"]
        .as_str()
        .expect("body")
        .replace("combien", "COMBIEN");
    v["body"] = body.into();
    assert_eq!(
        w.handle(serde_json::from_value(v).expect("event"))
            .await
            .status_code,
        401
    );

    // No signature at all.
    let mut v: serde_json::Value = fixture("apigw-v2-webhook-post.json");
    v["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("x-hub-signature-256");
    assert_eq!(
        w.handle(serde_json::from_value(v).expect("event"))
            .await
            .status_code,
        401
    );

    // Not base64 although flagged so.
    let mut v: serde_json::Value = fixture("apigw-v2-webhook-post.json");
    v["body"] = "%%% not base64 %%%".into();
    assert_eq!(
        w.handle(serde_json::from_value(v).expect("event"))
            .await
            .status_code,
        400
    );

    // Over Meta's 3 MB.
    let mut v: serde_json::Value = fixture("function-url-webhook-post.json");
    v["body"] = " ".repeat(3 * 1024 * 1024 + 1).into();
    assert_eq!(
        w.handle(serde_json::from_value(v).expect("event"))
            .await
            .status_code,
        413
    );

    // Other routes and methods.
    let mut v: serde_json::Value = fixture("apigw-v2-webhook-get.json");
    v["rawPath"] = "/other".into();
    assert_eq!(
        w.handle(serde_json::from_value(v).expect("event"))
            .await
            .status_code,
        404
    );
    let mut v: serde_json::Value = fixture("apigw-v2-webhook-get.json");
    v["requestContext"]["http"]["method"] = "PUT".into();
    assert_eq!(
        w.handle(serde_json::from_value(v).expect("event"))
            .await
            .status_code,
        405
    );
}

#[tokio::test]
async fn a_send_batch_reports_exactly_the_unreadable_and_the_retryable_records() {
    let graph = MockServer::start().await;
    // Meta's rate limit (code 4): retryable.
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{IG_ACCOUNT}/messages")))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": { "message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4, "fbtrace_id": "A1" }
        })))
        .mount(&graph)
        .await;
    let d = deploy(Some(graph.uri())).await;
    let clock = Arc::new(VirtualClock::new(at(1)));
    let w = webhook(&d, clock.clone()).await;
    deliver_sample_dm(&w).await;
    let opener = drain(&d.sdk, &d.cfg.queue_url, 1, Duration::from_secs(30)).await;
    assert_eq!(opener.len(), 1, "the opener was enqueued");

    // The fixture: a touch for a lead that does not exist (done: dropped) and a body that is not a touch
    // reference (failed: redelivered, then the DLQ). Plus the real opener, which hits the rate limit.
    let mut batch: SqsEvent = fixture("sqs-touch-batch.json");
    batch.records.extend(sqs_event(&opener).records);
    let ids: Vec<String> = batch
        .records
        .iter()
        .map(|r| r.message_id.clone().unwrap_or_default())
        .collect();
    let response = cadence_send::handle_batch(&w.services, batch).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec![ids[1].clone(), ids[2].clone()]);
    assert_eq!(graph.received_requests().await.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn the_scheduled_sweep_enqueues_due_long_tail_touches() {
    let d = deploy(None).await;
    let clock = Arc::new(VirtualClock::new(at(0)));
    let services = services(&d, clock.clone()).await;
    let event: serde_json::Value = fixture("scheduled-sweep.json");
    let empty = cadence_sweeper::handle_tick(&services, &event, 100)
        .await
        .expect("sweep");
    assert_eq!(empty.examined, 0);

    let mut l = lead("8001", Some(7 * 86_400));
    l.business_id = IG_ACCOUNT.into();
    services
        .store
        .save(LeadWrite {
            lead: &l,
            expected_version: None,
            inbound_claim: None,
            audit: &[],
        })
        .await
        .expect("save");
    clock.set(at(7 * 86_400 + 1));
    let report = cadence_sweeper::handle_tick(&services, &event, 100)
        .await
        .expect("sweep");
    assert_eq!((report.examined, report.enqueued), (1, 1));
    let msgs = drain(&d.sdk, &d.cfg.queue_url, 1, Duration::from_secs(30)).await;
    let touch = cadence_aws::parse_touch_ref(msgs[0].body().unwrap_or_default()).expect("touch");
    assert_eq!((touch.lead_id, touch.step.as_str()), (l.id, "day_7"));
}
