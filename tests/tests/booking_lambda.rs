//! The webhook Lambda's booking routes, in-process on the embedded adapters (no emulator needed): a signed
//! Cal.com or Calendly webhook books the lead in the same request; a bad signature is 401; a route without a
//! configured secret is 404.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use cadence_aws::config::Secret;
use cadence_aws::WebhookSecrets;
use cadence_core::account::Accounts;
use cadence_core::booking::{calendly_signature, hmac_sha256_hex};
use cadence_core::chrono::{TimeZone, Utc};
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::{Status, TouchRef};
use cadence_core::memory::{MemoryLeadStore, VirtualClock, VirtualTimeline};
use cadence_core::outbound::{DmMessage, EmailMessage, HumanTask, NewsletterHandoff};
use cadence_core::ports::{
    ChannelSender, Clock, EmailSender, LeadStore, NewsletterSink, Notifier, SendFailure,
    SendReceipt, TaskSink,
};
use cadence_core::service::{CadenceSet, Services};
use cadence_webhook::Webhook;
use serde_json::{json, Value};
use std::sync::Arc;

const APP_SECRET: &str = "lambda-test-secret";
const CAL_SECRET: &str = "cal-test-secret";
const CALENDLY_KEY: &str = "calendly-test-key";
const USER: &str = "6871000000000001";

struct Accept;

fn ok() -> Result<SendReceipt, SendFailure> {
    Ok(SendReceipt {
        provider_id: "id".into(),
    })
}

#[async_trait]
impl ChannelSender for Accept {
    async fn send_dm(&self, _: &TouchRef, _: &DmMessage) -> Result<SendReceipt, SendFailure> {
        ok()
    }
}
#[async_trait]
impl EmailSender for Accept {
    async fn send_email(&self, _: &TouchRef, _: &EmailMessage) -> Result<SendReceipt, SendFailure> {
        ok()
    }
}
#[async_trait]
impl TaskSink for Accept {
    async fn create_task(&self, _: &TouchRef, _: &HumanTask) -> Result<SendReceipt, SendFailure> {
        ok()
    }
}
#[async_trait]
impl NewsletterSink for Accept {
    async fn handoff(
        &self,
        _: &TouchRef,
        _: &NewsletterHandoff,
    ) -> Result<SendReceipt, SendFailure> {
        ok()
    }
}
#[async_trait]
impl Notifier for Accept {
    async fn notify(&self, _: &cadence_core::engine::Notification) -> Result<(), SendFailure> {
        Ok(())
    }
}

fn webhook(calendly: bool) -> (Webhook, Arc<MemoryLeadStore>, Arc<dyn Clock>) {
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new(
        Utc.with_ymd_and_hms(2026, 6, 9, 14, 0, 0).unwrap(),
    ));
    let store = Arc::new(MemoryLeadStore::new(true));
    let timeline = Arc::new(VirtualTimeline::new(clock.clone()));
    let a = Arc::new(Accept);
    let services = Services {
        cadences: Arc::new(CadenceSet::builtins()),
        accounts: Arc::new(Accounts::demo()),
        store: store.clone(),
        scheduler: timeline.clone(),
        queue: timeline,
        dm: a.clone(),
        email: a.clone(),
        tasks: a.clone(),
        newsletter: a.clone(),
        notifier: a,
        clock: clock.clone(),
    };
    let secrets = WebhookSecrets {
        app_secret: Secret::new(APP_SECRET),
        verify_token: Secret::new("verify-me"),
        cal_secret: Some(Secret::new(CAL_SECRET)),
        calendly_secret: calendly.then(|| Secret::new(CALENDLY_KEY)),
    };
    (Webhook::new(services, secrets), store, clock)
}

fn request(path: &str, headers: Value, body: &[u8]) -> ApiGatewayV2httpRequest {
    serde_json::from_value(json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": { "accountId": "123456789012", "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "a1b2c3d4e5",
            "http": { "method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "x" },
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "09/Jun/2026:14:00:00 +0000",
            "timeEpoch": 1_781_013_600_000_i64 },
        "isBase64Encoded": false,
        "body": String::from_utf8_lossy(body),
    }))
    .unwrap()
}

fn text(r: &ApiGatewayV2httpResponse) -> (i64, String) {
    let body = match &r.body {
        Some(Body::Text(t)) => t.clone(),
        Some(Body::Binary(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (r.status_code, body)
}

/// A lead who wrote "hi" on Instagram (the demo account), through the Lambda's own `/webhook` route.
async fn lead(w: &Webhook) -> LeadId {
    let body = serde_json::to_vec(&json!({ "object": "instagram", "entry": [{ "id": "17841400000000001", "time": 1_781_013_600_000_i64,
        "messaging": [{ "sender": { "id": USER }, "recipient": { "id": "17841400000000001" }, "timestamp": 1_781_013_600_000_i64,
            "message": { "mid": "m.booking.1", "text": "hi" } }] }] }))
    .unwrap();
    let sig = cadence_meta::sign(APP_SECRET.as_bytes(), &body);
    let r = w
        .handle(request(
            "/webhook",
            json!({ "x-hub-signature-256": sig }),
            &body,
        ))
        .await;
    assert_eq!(text(&r).0, 200);
    LeadId::derive("demo", Channel::Instagram, USER)
}

#[tokio::test]
async fn a_signed_cal_booking_books_the_lead_in_the_same_request() {
    let (w, store, _) = webhook(false);
    let id = lead(&w).await;
    assert!(store.load(&id).await.unwrap().unwrap().value.next.is_some());
    let body = serde_json::to_vec(&json!({ "triggerEvent": "BOOKING_CREATED",
        "payload": { "metadata": { "lead": id.as_str() } } }))
    .unwrap();
    let bad = w
        .handle(request(
            "/booking/cal",
            json!({ "x-cal-signature-256": "00ff" }),
            &body,
        ))
        .await;
    assert_eq!(text(&bad).0, 401);
    let sig = hmac_sha256_hex(CAL_SECRET.as_bytes(), &[&body]);
    let r = w
        .handle(request(
            "/booking/cal",
            json!({ "x-cal-signature-256": sig }),
            &body,
        ))
        .await;
    assert_eq!(text(&r), (200, "booked".into()));
    let l = store.load(&id).await.unwrap().unwrap().value;
    assert_eq!((l.status, l.next), (Status::Booked, None));
}

#[tokio::test]
async fn calendly_is_404_until_its_key_is_configured_and_checks_the_timestamp_when_it_is() {
    let body = br#"{"event":"invitee.created","payload":{"tracking":{"utm_content":"ld_00000000000000000000"}}}"#;
    let (w, _, _) = webhook(false);
    let r = w
        .handle(request("/booking/calendly", json!({}), body))
        .await;
    assert_eq!(text(&r).0, 404);

    let (w, _, clock) = webhook(true);
    let now = clock.now().timestamp();
    let stale = calendly_signature(CALENDLY_KEY.as_bytes(), now - 600, body);
    let r = w
        .handle(request(
            "/booking/calendly",
            json!({ "calendly-webhook-signature": stale }),
            body,
        ))
        .await;
    assert_eq!(text(&r).0, 401);
    let fresh = calendly_signature(CALENDLY_KEY.as_bytes(), now, body);
    let r = w
        .handle(request(
            "/booking/calendly",
            json!({ "calendly-webhook-signature": fresh }),
            body,
        ))
        .await;
    assert_eq!(text(&r), (200, "ignored: unknown_lead".into()));
}
