//! Operating `cadence serve`: booking webhooks (`POST /booking/cal`, `POST /booking/calendly`) and a small local
//! admin API the `cadence leads|pause|resume|stop|handoff|report --server URL` commands talk to.
//!
//! - Booking routes answer 404 while their secret is unset (`CAL_WEBHOOK_SECRET`,
//!   `CALENDLY_WEBHOOK_SIGNING_KEY`), 401 on a bad signature, 200 otherwise ([`cadence_core::booking`]).
//! - Admin routes answer 404 while `CADENCE_ADMIN_TOKEN` is unset and 401 without `Authorization: Bearer
//!   <token>`: `GET /admin/leads`, `GET /admin/leads/{id}`, `POST /admin/leads/{id}/{pause|resume|stop|handoff}`
//!   (pause takes an optional `{"until": RFC 3339}` body), `GET /admin/funnel?from=&to=`. Answers are JSON
//!   without personal data ([`LeadView`]).
//!
//! [`AdminClient`] is the other side, used by the CLI commands.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cadence_core::booking::{self, Provider, MAX_BOOKING_BODY};
use cadence_core::chrono::{DateTime, Utc};
use cadence_core::engine::Command;
use cadence_core::ids::LeadId;
use cadence_core::report::{Funnel, LeadDetail, LeadView};
use cadence_core::service::Services;
use serde::Deserialize;
use std::sync::Arc;

/// Environment variables `cadence serve` reads for these routes.
pub const CAL_SECRET_ENV: &str = "CAL_WEBHOOK_SECRET";
pub const CALENDLY_SECRET_ENV: &str = "CALENDLY_WEBHOOK_SIGNING_KEY";
pub const ADMIN_TOKEN_ENV: &str = "CADENCE_ADMIN_TOKEN";

/// What the operating routes need.
#[derive(Clone)]
pub struct OpsState {
    pub services: Services,
    /// Cal.com webhook secret; `None`: `/booking/cal` is off (404).
    pub cal_secret: Option<Arc<Vec<u8>>>,
    /// Calendly signing key; `None`: `/booking/calendly` is off (404).
    pub calendly_secret: Option<Arc<Vec<u8>>>,
    /// Admin bearer token; `None`: `/admin/*` is off (404).
    pub admin_token: Option<Arc<String>>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl OpsState {
    /// Secrets and token from the environment (each optional).
    pub fn from_env(services: Services) -> Self {
        OpsState {
            services,
            cal_secret: env(CAL_SECRET_ENV).map(|s| Arc::new(s.into_bytes())),
            calendly_secret: env(CALENDLY_SECRET_ENV).map(|s| Arc::new(s.into_bytes())),
            admin_token: env(ADMIN_TOKEN_ENV).map(Arc::new),
        }
    }
}

/// The booking and admin routes (merged into `cadence serve`'s router).
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/booking/{provider}", post(booking_post))
        .route("/admin/leads", get(leads_list))
        .route("/admin/leads/{id}", get(lead_show))
        .route("/admin/leads/{id}/{command}", post(lead_command))
        .route("/admin/funnel", get(funnel))
        .layer(DefaultBodyLimit::max(MAX_BOOKING_BODY))
        .with_state(state)
}

fn text(status: u16, body: impl Into<String>) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.into(),
    )
        .into_response()
}

fn json(v: &impl serde::Serialize) -> Response {
    match serde_json::to_string(v) {
        Ok(s) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            s,
        )
            .into_response(),
        Err(e) => text(500, e.to_string()),
    }
}

async fn booking_post(
    State(st): State<OpsState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(provider) = Provider::parse(&provider) else {
        return text(404, "not found");
    };
    let secret = match provider {
        Provider::Cal => st.cal_secret.as_ref(),
        Provider::Calendly => st.calendly_secret.as_ref(),
    };
    let Some(secret) = secret else {
        return text(404, "not found");
    };
    let sig = headers
        .get(provider.signature_header())
        .and_then(|v| v.to_str().ok());
    let (status, reply) = booking::handle_post(&st.services, provider, secret, sig, &body).await;
    text(status, reply)
}

/// Constant-time comparison of the presented token with the configured one.
fn token_matches(given: &[u8], want: &[u8]) -> bool {
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `None` when the admin API is on and the request carries its token; else the refusal to send.
fn refuse(st: &OpsState, headers: &HeaderMap) -> Option<Response> {
    let Some(want) = &st.admin_token else {
        return Some(text(404, "not found"));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token_matches(given.trim().as_bytes(), want.as_bytes()) {
        None
    } else {
        Some(text(401, "unauthorized"))
    }
}

async fn leads_list(State(st): State<OpsState>, headers: HeaderMap) -> Response {
    if let Some(r) = refuse(&st, &headers) {
        return r;
    }
    let ids = match st.services.store.list().await {
        Ok(ids) => ids,
        Err(e) => return text(500, e.to_string()),
    };
    let mut out = Vec::new();
    for id in ids {
        if let Ok(Some(v)) = st.services.store.load(&id).await {
            out.push(LeadView::from(&v.value));
        }
    }
    json(&out)
}

async fn lead_show(
    State(st): State<OpsState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refuse(&st, &headers) {
        return r;
    }
    let Some(id) = LeadId::parse(&id) else {
        return text(400, "not a lead id (ld_ + 20 hex digits)");
    };
    match st.services.store.load(&id).await {
        Ok(Some(v)) => {
            let audit = st.services.store.audit(&id).await.unwrap_or_default();
            json(&LeadDetail {
                lead: LeadView::from(&v.value),
                audit,
            })
        }
        Ok(None) => text(404, "no such lead"),
        Err(e) => text(500, e.to_string()),
    }
}

#[derive(Deserialize, Default)]
struct PauseBody {
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

/// Parses an operator command name (and pause's body).
pub fn parse_command(name: &str, body: &[u8]) -> Result<Command, String> {
    match name {
        "pause" => {
            let b: PauseBody = if body.iter().all(u8::is_ascii_whitespace) {
                PauseBody::default()
            } else {
                serde_json::from_slice(body).map_err(|e| format!("pause body: {e}"))?
            };
            Ok(Command::Pause { until: b.until })
        }
        "resume" => Ok(Command::Resume),
        "stop" => Ok(Command::Stop),
        "handoff" => Ok(Command::Handoff),
        other => Err(format!(
            "unknown command `{other}` (pause, resume, stop, handoff)"
        )),
    }
}

async fn lead_command(
    State(st): State<OpsState>,
    Path((id, command)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse(&st, &headers) {
        return r;
    }
    let Some(id) = LeadId::parse(&id) else {
        return text(400, "not a lead id (ld_ + 20 hex digits)");
    };
    let cmd = match parse_command(&command, &body) {
        Ok(c) => c,
        Err(e) => return text(400, e),
    };
    match st.services.command(&id, cmd).await {
        Ok(Some(l)) => {
            tracing::info!(lead = %id, command = %command, status = l.status.as_str(), "operator command");
            json(&LeadView::from(&l))
        }
        Ok(None) => text(404, "no such lead"),
        Err(e) if e.is_retryable() => text(503, e.to_string()),
        Err(e) => text(500, e.to_string()),
    }
}

async fn funnel(
    State(st): State<OpsState>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refuse(&st, &headers) {
        return r;
    }
    let time = |k: &str| -> Result<Option<DateTime<Utc>>, String> {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| format!("{k}: {e}"))
            })
            .transpose()
    };
    let (from, to) = match (time("from"), time("to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return text(400, e),
    };
    match funnel_of(&st.services, from, to).await {
        Ok(f) => json(&f),
        Err(e) => text(500, e),
    }
}

/// The funnel over every stored lead's audit trail.
pub async fn funnel_of(
    services: &Services,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Funnel, String> {
    let ids = services.store.list().await.map_err(|e| e.to_string())?;
    let mut trails = Vec::new();
    for id in ids {
        let Ok(Some(v)) = services.store.load(&id).await else {
            continue;
        };
        let audit = services.store.audit(&id).await.map_err(|e| e.to_string())?;
        trails.push((v.value.cadence, audit));
    }
    Ok(Funnel::compute(
        trails.iter().map(|(c, a)| (c.as_str(), a.as_slice())),
        Some(&services.cadences),
        from,
        to,
    ))
}

/// The admin API from the CLI's side.
pub struct AdminClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl AdminClient {
    /// `base` is the serve address (`http://127.0.0.1:8080`); the token comes from `CADENCE_ADMIN_TOKEN`.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let base = if base.contains("://") {
            base.trim_end_matches('/').to_string()
        } else {
            format!("http://{}", base.trim_end_matches('/'))
        };
        Ok(Self { base, token, http })
    }

    pub fn from_env(base: &str) -> Result<Self, String> {
        Self::new(base, env(ADMIN_TOKEN_ENV))
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, String> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let res = req
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.base))?;
        let status = res.status();
        let body = res.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            let hint = match status.as_u16() {
                404 if body == "not found" => format!(
                    " (is {ADMIN_TOKEN_ENV} set for `cadence serve`? the admin API is off without it)"
                ),
                401 => format!(" (set {ADMIN_TOKEN_ENV} to the server's token)"),
                _ => String::new(),
            };
            return Err(format!("HTTP {}: {}{hint}", status.as_u16(), body.trim()));
        }
        serde_json::from_str(&body).map_err(|e| format!("unexpected answer: {e}"))
    }

    pub async fn leads(&self) -> Result<Vec<LeadView>, String> {
        self.call(self.http.get(format!("{}/admin/leads", self.base)))
            .await
    }

    pub async fn lead(&self, id: &str) -> Result<LeadDetail, String> {
        self.call(self.http.get(format!("{}/admin/leads/{id}", self.base)))
            .await
    }

    pub async fn command(
        &self,
        id: &str,
        command: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<LeadView, String> {
        let body = match until {
            Some(u) => serde_json::json!({ "until": u }).to_string(),
            None => String::new(),
        };
        self.call(
            self.http
                .post(format!("{}/admin/leads/{id}/{command}", self.base))
                .header(header::CONTENT_TYPE.as_str(), "application/json")
                .body(body),
        )
        .await
    }

    pub async fn funnel(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Funnel, String> {
        // `Z` instants need no escaping in a query string.
        let z =
            |t: DateTime<Utc>| t.to_rfc3339_opts(cadence_core::chrono::SecondsFormat::Secs, true);
        let mut q = Vec::new();
        if let Some(f) = from {
            q.push(format!("from={}", z(f)));
        }
        if let Some(t) = to {
            q.push(format!("to={}", z(t)));
        }
        let url = format!("{}/admin/funnel?{}", self.base, q.join("&"));
        self.call(self.http.get(url)).await
    }
}

/// What an operator CLI command asks a running `cadence serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAction {
    List,
    Show(String),
    Command {
        id: String,
        command: &'static str,
        until: Option<DateTime<Utc>>,
    },
    Funnel {
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    },
}

/// Runs an operator command against `server` and renders the answer as text.
pub async fn run_admin(server: &str, action: AdminAction) -> Result<String, String> {
    use cadence_core::report::{render_list, render_timeline};
    let c = AdminClient::from_env(server)?;
    Ok(match action {
        AdminAction::List => render_list(&c.leads().await?),
        AdminAction::Show(id) => render_timeline(&c.lead(&id).await?),
        AdminAction::Command { id, command, until } => {
            let v = c.command(&id, command, until).await?;
            format!(
                "{} {command}: {} ({}){}\n",
                v.id,
                v.status,
                v.status_reason.as_deref().unwrap_or("-"),
                match (&v.next_step, v.next_due) {
                    (Some(s), Some(d)) => format!(", next {s} at {}", d.with_timezone(&v.tz)),
                    _ => String::new(),
                }
            )
        }
        AdminAction::Funnel { from, to } => c.funnel(from, to).await?.render(),
    })
}
