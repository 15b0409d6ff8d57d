//! `cadence serve`: the real webhook endpoint (`/webhook`) on the wall clock, with the embedded store, an
//! in-process timer queue and real Graph API sends. For a Meta test app behind a tunnel, and for load tests.

use crate::sinks::{newsletter_description, ses_send_email_input, task_description, LogNotifier};
use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use cadence_core::account::Accounts;
use cadence_core::chrono::{DateTime, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::ids::Channel;
use cadence_core::lead::TouchRef;
use cadence_core::memory::MemoryLeadStore;
use cadence_core::outbound::{EmailMessage, HumanTask, NewsletterHandoff};
use cadence_core::ports::{
    EmailSender, NewsletterSink, ScheduleError, SendFailure, SendReceipt, SystemClock, TaskSink,
    TouchQueue, TouchScheduler,
};
use cadence_core::service::{CadenceSet, Services};
use cadence_meta::client::{GraphApiSender, TokenSource};
use cadence_meta::graph::GraphConfig;
use cadence_meta::{verify_subscription, MAX_BODY_BYTES};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Touches delivered at once by `cadence serve` (the Lambda's concurrency in the cloud).
pub const SEND_CONCURRENCY: usize = 32;

/// Shared state of the endpoint.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub app_secret: Arc<Vec<u8>>,
    pub verify_token: Arc<String>,
}

/// Reads a required variable, naming it when missing.
fn required_env(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{name} is not set (see the README: cadence serve)")),
    }
}

/// Tokens from environment variables named by the accounts file (`env:NAME`), falling back to
/// `META_ACCESS_TOKEN`. Read once at start-up.
pub struct EnvTokens(HashMap<(Channel, String), String>, Option<String>);

impl EnvTokens {
    pub fn from_accounts(accounts: &Accounts) -> Self {
        let mut map = HashMap::new();
        for a in accounts.all() {
            for (channel, reference) in &a.tokens {
                let Some(var) = reference.strip_prefix("env:") else {
                    tracing::warn!(account = %a.id, channel = %channel, "only env: token references work in cadence serve");
                    continue;
                };
                if let Ok(v) = std::env::var(var) {
                    let ids = [
                        a.instagram_id.clone(),
                        a.page_id.clone(),
                        a.whatsapp_phone_number_id.clone(),
                        Some("*".into()),
                    ];
                    for id in ids.into_iter().flatten() {
                        map.insert((*channel, id), v.clone());
                    }
                }
            }
        }
        EnvTokens(map, std::env::var("META_ACCESS_TOKEN").ok())
    }
}

impl TokenSource for EnvTokens {
    fn token(&self, channel: Channel, account: &str) -> Option<String> {
        self.0
            .get(&(channel, account.to_string()))
            .or_else(|| self.0.get(&(channel, "*".to_string())))
            .cloned()
            .or_else(|| self.1.clone())
    }
}

/// Timers and queue on tokio: a delayed send into the worker channel; cancellation aborts the timer.
pub struct TokioTimeline {
    tx: mpsc::UnboundedSender<TouchRef>,
    timers: Mutex<HashMap<String, tokio::task::AbortHandle>>,
}

impl TokioTimeline {
    pub fn new(tx: mpsc::UnboundedSender<TouchRef>) -> Self {
        Self {
            tx,
            timers: Mutex::new(HashMap::new()),
        }
    }

    fn later(&self, touch: TouchRef, delay: Duration) -> tokio::task::AbortHandle {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let _ = tx.send(touch);
        })
        .abort_handle()
    }
}

#[async_trait]
impl TouchQueue for TokioTimeline {
    async fn enqueue(&self, touch: &TouchRef, delay: Duration) -> Result<(), ScheduleError> {
        if delay.is_zero() {
            return self
                .tx
                .send(touch.clone())
                .map_err(|e| ScheduleError::Unexpected(e.to_string()));
        }
        self.later(touch.clone(), delay);
        Ok(())
    }
}

#[async_trait]
impl TouchScheduler for TokioTimeline {
    async fn schedule(
        &self,
        touch: &TouchRef,
        due: DateTime<Utc>,
        _tz: Tz,
    ) -> Result<(), ScheduleError> {
        let name = touch.schedule_name();
        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        if timers.contains_key(&name) {
            return Ok(());
        }
        let delay = (due - Utc::now()).to_std().unwrap_or_default();
        timers.insert(name, self.later(touch.clone(), delay));
        Ok(())
    }

    async fn cancel(&self, touch: &TouchRef) -> Result<(), ScheduleError> {
        if let Some(h) = self
            .timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&touch.schedule_name())
        {
            h.abort();
        }
        Ok(())
    }
}

/// Email, tasks and newsletter handoffs are printed to stdout as JSON lines (no SES locally).
pub struct StdoutSinks;

fn print_line(touch: &TouchRef, channel: &str, v: serde_json::Value) {
    let line = serde_json::json!({ "at": crate::sinks::rfc3339(Utc::now()), "lead": touch.lead_id.as_str(), "step": touch.step, "channel": channel, "request": v });
    println!("{line}");
}

#[async_trait]
impl EmailSender for StdoutSinks {
    async fn send_email(
        &self,
        touch: &TouchRef,
        msg: &EmailMessage,
    ) -> Result<SendReceipt, SendFailure> {
        print_line(touch, "email", ses_send_email_input(touch, msg));
        Ok(SendReceipt {
            provider_id: format!("local-{}", touch.schedule_name()),
        })
    }
}

#[async_trait]
impl TaskSink for StdoutSinks {
    async fn create_task(
        &self,
        touch: &TouchRef,
        task: &HumanTask,
    ) -> Result<SendReceipt, SendFailure> {
        print_line(touch, "task", task_description(task));
        Ok(SendReceipt {
            provider_id: format!("local-{}", touch.schedule_name()),
        })
    }
}

#[async_trait]
impl NewsletterSink for StdoutSinks {
    async fn handoff(
        &self,
        touch: &TouchRef,
        h: &NewsletterHandoff,
    ) -> Result<SendReceipt, SendFailure> {
        print_line(touch, "newsletter", newsletter_description(h));
        Ok(SendReceipt {
            provider_id: format!("local-{}", touch.schedule_name()),
        })
    }
}

/// Builds the app (also used by tests with their own services).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhook", get(verify).post(receive))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            cadence_meta::deletion::DELETION_ROUTE,
            axum::routing::post(data_deletion),
        )
        .route(
            cadence_meta::deletion::DELETION_STATUS_ROUTE,
            get(data_deletion_status),
        )
        // One byte over the limit so an exactly-3 MB body is accepted and anything larger gets 413.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn verify(
    State(st): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    match verify_subscription(&q, &st.verify_token) {
        Ok(challenge) => (StatusCode::OK, challenge),
        Err(_) => (StatusCode::FORBIDDEN, "forbidden".to_string()),
    }
}

async fn receive(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    // A repeated signature header is ambiguous: refuse it rather than pick one.
    let mut values = headers.get_all("x-hub-signature-256").iter();
    let sig = match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    };
    let (status, text) = cadence_meta::handle_post(&st.services, &st.app_secret, sig, &body).await;
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
}

/// The send workers of `cadence serve`: what the SQS-triggered Lambda does. Up to `concurrency` touches are
/// handled at once (as concurrent Lambda invocations would; the versioned store and the touch claim keep each
/// send single). A retryable failure goes back on `retry` after its backoff (the provider's `retry_after`, else
/// 30 s), as SQS makes a failed message visible again. The task ends once `touches` is closed and every touch
/// already taken has finished.
pub fn spawn_send_workers(
    services: Services,
    mut touches: mpsc::UnboundedReceiver<TouchRef>,
    retry: Arc<dyn TouchQueue>,
    concurrency: usize,
) -> tokio::task::JoinHandle<()> {
    let concurrency = concurrency.max(1);
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    tokio::spawn(async move {
        while let Some(touch) = touches.recv().await {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let (worker, retry) = (services.clone(), retry.clone());
            tokio::spawn(async move {
                let _permit = permit;
                match worker.handle_touch(&touch).await {
                    Ok(_) => {}
                    Err(e) if e.is_retryable() => {
                        let after = match &e {
                            cadence_core::service::ServiceError::Retry {
                                after: Some(a), ..
                            } => *a,
                            _ => Duration::from_secs(30),
                        };
                        tracing::warn!(lead = %touch.lead_id, step = %touch.step, error = %e, "send retried");
                        if let Err(e) = retry.enqueue(&touch, after).await {
                            tracing::error!(lead = %touch.lead_id, step = %touch.step, error = %e, "retry not queued; the sweeper repairs it");
                        }
                    }
                    Err(e) => {
                        tracing::error!(lead = %touch.lead_id, step = %touch.step, error = %e, "send failed")
                    }
                }
            });
        }
        // Every permit back means every send taken has finished.
        let n = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let _ = permits.acquire_many(n).await;
    })
}

/// Runs `cadence serve` until Ctrl-C.
pub async fn serve(
    addr: &str,
    accounts: Accounts,
    cadences: CadenceSet,
    graph_url: Option<String>,
) -> Result<(), String> {
    let app_secret = required_env("META_APP_SECRET")?;
    let verify_token = required_env("META_VERIFY_TOKEN")?;
    let graph = match graph_url {
        Some(u) => GraphConfig::with_base(u),
        None => GraphConfig::default(),
    };
    let tokens = Arc::new(EnvTokens::from_accounts(&accounts));
    let sender = GraphApiSender::new(graph, tokens).map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::unbounded_channel();
    let timeline = Arc::new(TokioTimeline::new(tx.clone()));
    let store = Arc::new(MemoryLeadStore::new(true));
    let services = Services {
        cadences: Arc::new(cadences),
        accounts: Arc::new(accounts),
        store,
        scheduler: timeline.clone(),
        queue: timeline.clone(),
        dm: Arc::new(sender),
        email: Arc::new(StdoutSinks),
        tasks: Arc::new(StdoutSinks),
        newsletter: Arc::new(StdoutSinks),
        // Handoffs and bookings: a signed POST to CADENCE_NOTIFY_URL when set, else the log.
        notifier: match crate::notify::from_env()? {
            Some(n) => Arc::new(n),
            None => Arc::new(LogNotifier::default()),
        },
        clock: Arc::new(SystemClock),
    };
    spawn_send_workers(services.clone(), rx, timeline.clone(), SEND_CONCURRENCY);
    // The sweeper: every minute here (every 15 minutes in the cloud; the work done is the same).
    let sweeper = services.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = sweeper.sweep(1000).await {
                tracing::warn!(error = %e, "sweep failed");
            }
        }
    });
    let ops = crate::operate::OpsState::from_env(services.clone());
    let state = AppState {
        services,
        app_secret: Arc::new(app_secret.into_bytes()),
        verify_token: Arc::new(verify_token),
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    eprintln!("cadence serve: listening on http://{addr}/webhook");
    // Booking webhooks and the admin API (each off until its secret or token is set).
    axum::serve(listener, router(state).merge(crate::operate::router(ops)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

/// The public origin for the deletion status URL: `X-Forwarded-Proto` (a tunnel) or http, and the `Host`
/// header when it is a plain host name (anything else falls back to localhost rather than echo it).
fn public_origin(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        })
        .unwrap_or("localhost");
    let proto = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{proto}://{host}")
}

fn answer(a: cadence_meta::deletion::Answer) -> axum::response::Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(axum::http::header::CONTENT_TYPE, a.content_type)],
        a.body,
    )
        .into_response()
}

/// `POST /data-deletion`: Meta's Data Deletion Request Callback.
async fn data_deletion(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let origin = public_origin(&headers);
    answer(
        cadence_meta::handle_deletion_request(&st.services, &st.app_secret, &body, &origin).await,
    )
}

/// `GET /data-deletion/status?code=…`: the page the callback's `url` points to.
async fn data_deletion_status(Query(q): Query<Vec<(String, String)>>) -> axum::response::Response {
    let code = q.iter().find(|(k, _)| k == "code").map(|(_, v)| v.as_str());
    answer(cadence_meta::deletion_status(code))
}
