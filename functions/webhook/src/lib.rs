//! The webhook Lambda's handler: Meta's subscription handshake (GET) and signed event deliveries (POST) on
//! `/webhook`, behind an API Gateway HTTP API or a Lambda function URL (both send payload format 2.0).
//!
//! The handler takes the raw v2 event rather than going through `lambda_http`: `lambda_http` decodes
//! `isBase64Encoded` bodies with an `expect`, so a malformed body would panic the runtime, and the signature
//! must be checked on exactly the bytes Meta sent. Here [`cadence_meta::decode_body`] decodes (400 on bad
//! base64, 413 over 3 MB), then the signature is checked on those bytes (401), then the body is parsed and
//! every event goes through `Services::handle_inbound` in order.
//!
//! # Layout
//! - [`Webhook`]: the services and secrets built once at init; [`Webhook::handle`] answers one request.
//! - POST: [`cadence_meta::handle_post`], the use case `cadence serve` shares.
//! - `POST /booking/cal`, `POST /booking/calendly`: booking webhooks ([`cadence_core::booking::handle_post`]),
//!   shared with `cadence serve`.
//! - `POST /data-deletion`, `GET /data-deletion/status`: Meta's data-deletion callback
//!   ([`cadence_meta::handle_deletion_request`]), shared with `cadence serve` too.
#![deny(clippy::unwrap_used)]

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::header::{HeaderValue, CONTENT_TYPE};
use aws_lambda_events::http::Method;
use cadence_aws::WebhookSecrets;
use cadence_core::service::Services;
use cadence_meta::http::error_reply;
use cadence_meta::{decode_body, verify_subscription};

/// Meta's signature header.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The acknowledgement body Meta's samples use.
pub use cadence_meta::ACK;
/// The route both API Gateway and function URLs serve.
pub const ROUTE: &str = "/webhook";

/// The webhook function's state, built once per execution environment.
#[derive(Clone)]
pub struct Webhook {
    pub services: Services,
    pub secrets: WebhookSecrets,
}

/// Status code and text body.
pub type Reply = (u16, String);

impl Webhook {
    pub fn new(services: Services, secrets: WebhookSecrets) -> Self {
        Self { services, secrets }
    }

    /// Answers one HTTP request.
    pub async fn handle(&self, req: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let path = req
            .raw_path
            .as_deref()
            .or(req.request_context.http.path.as_deref())
            .unwrap_or("/");
        if let Some(r) = self.data_deletion(&req, path).await {
            return r;
        }
        if let Some(r) = self.booking(&req, path).await {
            return r;
        }
        let (status, body) = if !path.trim_end_matches('/').ends_with(ROUTE) {
            (404, "not found".to_string())
        } else if req.request_context.http.method == Method::GET {
            self.get(&req)
        } else if req.request_context.http.method == Method::POST {
            let sig = req
                .headers
                .get(SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok());
            match decode_body(
                req.body.as_deref().unwrap_or_default(),
                req.is_base64_encoded,
            ) {
                Ok(bytes) => {
                    cadence_meta::handle_post(
                        &self.services,
                        self.secrets.app_secret.expose().as_bytes(),
                        sig,
                        &bytes,
                    )
                    .await
                }
                Err(e) => error_reply(&e),
            }
        } else {
            (405, "method not allowed".to_string())
        };
        response(status, body)
    }

    /// Meta's Data Deletion Request Callback (`POST /data-deletion`) and its status page
    /// (`GET /data-deletion/status`); `None` for any other route.
    async fn data_deletion(
        &self,
        req: &ApiGatewayV2httpRequest,
        path: &str,
    ) -> Option<ApiGatewayV2httpResponse> {
        use cadence_meta::deletion::{DELETION_ROUTE, DELETION_STATUS_ROUTE};
        let path = path.trim_end_matches('/');
        let method = &req.request_context.http.method;
        let answer = if path.ends_with(DELETION_STATUS_ROUTE) && method == Method::GET {
            cadence_meta::deletion_status(req.query_string_parameters.first("code"))
        } else if path.ends_with(DELETION_ROUTE) && method == Method::POST {
            let origin = format!(
                "https://{}",
                req.request_context
                    .domain_name
                    .as_deref()
                    .unwrap_or("localhost")
            );
            match decode_body(
                req.body.as_deref().unwrap_or_default(),
                req.is_base64_encoded,
            ) {
                Ok(form) => {
                    cadence_meta::handle_deletion_request(
                        &self.services,
                        self.secrets.app_secret.expose().as_bytes(),
                        &form,
                        &origin,
                    )
                    .await
                }
                Err(e) => {
                    let (status, body) = error_reply(&e);
                    return Some(response(status, body));
                }
            }
        } else {
            return None;
        };
        let mut r = response(answer.status, answer.body);
        r.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
        Some(r)
    }

    /// Booking webhooks: `POST /booking/cal` and `POST /booking/calendly` ([`cadence_core::booking`]). A route
    /// whose secret is not configured answers 404; `None` for any other path.
    async fn booking(
        &self,
        req: &ApiGatewayV2httpRequest,
        path: &str,
    ) -> Option<ApiGatewayV2httpResponse> {
        use cadence_core::booking::{handle_post, Provider};
        let (_, segment) = path.trim_end_matches('/').rsplit_once("/booking/")?;
        let provider = Provider::parse(segment)?;
        let secret = match provider {
            Provider::Cal => self.secrets.cal_secret.as_ref(),
            Provider::Calendly => self.secrets.calendly_secret.as_ref(),
        };
        let Some(secret) = secret else {
            return Some(response(404, "not found".into()));
        };
        if req.request_context.http.method != Method::POST {
            return Some(response(405, "method not allowed".into()));
        }
        let sig = req
            .headers
            .get(provider.signature_header())
            .and_then(|v| v.to_str().ok());
        let (status, body) = match decode_body(
            req.body.as_deref().unwrap_or_default(),
            req.is_base64_encoded,
        ) {
            Ok(bytes) => {
                handle_post(
                    &self.services,
                    provider,
                    secret.expose().as_bytes(),
                    sig,
                    &bytes,
                )
                .await
            }
            Err(e) => error_reply(&e),
        };
        Some(response(status, body))
    }

    /// The subscription handshake: `hub.challenge` back when the verify token matches, else 403.
    fn get(&self, req: &ApiGatewayV2httpRequest) -> Reply {
        let query: Vec<(String, String)> = ["hub.mode", "hub.verify_token", "hub.challenge"]
            .iter()
            .filter_map(|k| {
                req.query_string_parameters
                    .first(k)
                    .map(|v| (k.to_string(), v.to_string()))
            })
            .collect();
        match verify_subscription(&query, self.secrets.verify_token.expose()) {
            Ok(challenge) => (200, challenge),
            Err(e) => {
                tracing::warn!("webhook subscription refused");
                error_reply(&e)
            }
        }
    }
}

fn response(status: u16, body: String) -> ApiGatewayV2httpResponse {
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = i64::from(status);
    r.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.body = Some(Body::Text(body));
    r
}
