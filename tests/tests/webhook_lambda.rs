//! The webhook Lambda's handler with hostile requests and the data-deletion callback, in-process on the
//! embedded adapters (no emulator needed): statuses and effects match `cadence serve` and `handle_post`.

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use cadence_aws::config::Secret;
use cadence_aws::WebhookSecrets;
use cadence_core::account::Accounts;
use cadence_core::chrono::{TimeZone, Utc};
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::TouchRef;
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

const SECRET: &str = "lambda-test-secret";
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

fn webhook() -> (Webhook, Arc<MemoryLeadStore>) {
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
        clock,
    };
    let secrets = WebhookSecrets {
        app_secret: Secret::new(SECRET),
        verify_token: Secret::new("verify-me"),
        cal_secret: None,
        calendly_secret: None,
    };
    (Webhook::new(services, secrets), store)
}

fn ig_body() -> Vec<u8> {
    serde_json::to_vec(&json!({ "object": "instagram", "entry": [{ "id": "17841400000000001", "time": 1_781_013_600_000_i64,
        "messaging": [{ "sender": { "id": USER }, "recipient": { "id": "17841400000000001" }, "timestamp": 1_781_013_600_000_i64,
            "message": { "mid": "m.lambda.1", "text": "hi" } }] }] }))
    .unwrap()
}

fn request(
    method: &str,
    path: &str,
    headers: Value,
    body: Option<&str>,
    b64: bool,
) -> ApiGatewayV2httpRequest {
    serde_json::from_value(json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": { "accountId": "123456789012", "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "a1b2c3d4e5",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "173.252.127.1", "userAgent": "x" },
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "09/Jun/2026:14:00:00 +0000", "timeEpoch": 1_781_013_600_000_i64 },
        "isBase64Encoded": b64,
        "body": body,
    }))
    .unwrap()
}

fn post(body: &[u8], sig: Option<&str>) -> ApiGatewayV2httpRequest {
    let headers = match sig {
        Some(s) => json!({ "content-type": "application/json", "x-hub-signature-256": s }),
        None => json!({ "content-type": "application/json" }),
    };
    request(
        "POST",
        "/webhook",
        headers,
        Some(&String::from_utf8_lossy(body)),
        false,
    )
}

fn text(r: &ApiGatewayV2httpResponse) -> (i64, String) {
    let body = match &r.body {
        Some(Body::Text(t)) => t.clone(),
        Some(Body::Binary(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (r.status_code, body)
}

fn sign(body: &[u8]) -> String {
    cadence_meta::sign(SECRET.as_bytes(), body)
}

#[tokio::test]
async fn the_lambda_answers_hostile_posts_with_the_same_statuses_and_effects() {
    let body = ig_body();
    let good = sign(&body);
    let mut big = body.clone();
    big.resize(cadence_meta::MAX_BODY_BYTES + 1, b' ');
    let truncated = &body[..body.len() / 2];
    let b64 = {
        // The body API Gateway sends base64-encoded, signed over the decoded bytes.
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in body.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                out.push(if i <= c.len() {
                    table[((n >> (18 - 6 * i)) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        out
    };
    let cases: Vec<(&str, ApiGatewayV2httpRequest, i64, usize)> = vec![
        ("signed", post(&body, Some(&good)), 200, 1),
        ("replayed", post(&body, Some(&good)), 200, 1),
        ("no signature", post(&body, None), 401, 0),
        (
            "sha1 only",
            request(
                "POST",
                "/webhook",
                json!({ "x-hub-signature": "sha1=abc" }),
                Some("{}"),
                false,
            ),
            401,
            0,
        ),
        (
            "comma-joined duplicate headers",
            post(&body, Some(&format!("{good},{good}"))),
            401,
            0,
        ),
        (
            "signature over another body",
            post(&body, Some(&sign(b"{}"))),
            401,
            0,
        ),
        ("over 3 MB", post(&big, Some(&sign(&big))), 413, 0),
        (
            "truncated json",
            post(truncated, Some(&sign(truncated))),
            200,
            0,
        ),
        (
            "base64 body",
            request(
                "POST",
                "/webhook",
                json!({ "x-hub-signature-256": good }),
                Some(&b64),
                true,
            ),
            200,
            1,
        ),
        (
            "bad base64",
            request(
                "POST",
                "/webhook",
                json!({ "x-hub-signature-256": good }),
                Some("!!!not base64"),
                true,
            ),
            400,
            0,
        ),
        (
            "unknown route",
            request(
                "POST",
                "/admin",
                json!({ "x-hub-signature-256": good }),
                Some("{}"),
                false,
            ),
            404,
            0,
        ),
        (
            "wrong method",
            request("PUT", "/webhook", json!({}), None, false),
            405,
            0,
        ),
    ];
    for (name, req, status, leads) in cases {
        let (w, store) = webhook();
        if name == "replayed" {
            assert_eq!(w.handle(req.clone()).await.status_code, 200);
        }
        let r = w.handle(req).await;
        assert_eq!(text(&r).0, status, "{name}: {:?}", text(&r).1);
        assert_eq!(store.len(), leads, "{name}");
    }
}

#[tokio::test]
async fn the_lambda_serves_the_data_deletion_callback_and_its_status_page() {
    let (w, store) = webhook();
    assert_eq!(
        w.handle(post(&ig_body(), Some(&sign(&ig_body()))))
            .await
            .status_code,
        200
    );
    assert_eq!(store.len(), 1);

    // signed_request = base64url(HMAC(payload)) "." base64url(payload), built like Meta does.
    let payload_json =
        json!({ "algorithm": "HMAC-SHA256", "issued_at": 1_781_013_600, "user_id": USER })
            .to_string();
    let b64url = |bytes: &[u8]| {
        let t = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for c in bytes.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..=c.len() {
                out.push(t[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    let payload = b64url(payload_json.as_bytes());
    let hex = &cadence_meta::sign(SECRET.as_bytes(), payload.as_bytes())[7..];
    let raw: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let form = format!("signed_request={}.{payload}", b64url(&raw));

    let forged = format!("signed_request={}.{payload}", b64url(&[0u8; 32]));
    let r = w
        .handle(request(
            "POST",
            "/data-deletion",
            json!({ "content-type": "application/x-www-form-urlencoded" }),
            Some(&forged),
            false,
        ))
        .await;
    assert_eq!(r.status_code, 401);
    assert_eq!(store.len(), 1);

    let r = w
        .handle(request(
            "POST",
            "/data-deletion",
            json!({ "content-type": "application/x-www-form-urlencoded" }),
            Some(&form),
            false,
        ))
        .await;
    let (status, body) = text(&r);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let code = v["confirmation_code"].as_str().unwrap();
    assert_eq!(
        v["url"],
        format!("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/data-deletion/status?code={code}")
    );
    assert!(store
        .load(&LeadId::derive("demo", Channel::Instagram, USER))
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.len(), 0);

    let mut status_req = request("GET", "/data-deletion/status", json!({}), None, false);
    status_req.query_string_parameters = serde_json::from_value(json!({ "code": code })).unwrap();
    let (status, page) = text(&w.handle(status_req).await);
    assert_eq!(status, 200);
    assert!(page.contains(code) && page.contains("completed"), "{page}");
}
