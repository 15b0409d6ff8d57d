//! Reliability harness: the production services on embedded adapters and a virtual clock, with a recording
//! sender that counts sends per touch, seeded fault injection around every port, and a driver that behaves
//! like the cloud transports (Meta redelivers a webhook answered with a 5xx; SQS redelivers a failed touch
//! after its visibility timeout, up to five receives, then the DLQ; the sweeper runs every 15 minutes).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
pub use cadence_cli::synth::{body, Action, Persona};
use cadence_core::account::Accounts;
use cadence_core::chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::{AuditRecord, Lead, TouchRef};
use cadence_core::memory::{MemoryLeadStore, VirtualClock, VirtualTimeline};
use cadence_core::outbound::{DmBody, DmMessage, EmailMessage, HumanTask, NewsletterHandoff};
use cadence_core::ports::{
    ChannelSender, Clock, EmailSender, LeadStore, LeadWrite, NewsletterSink, Notifier,
    ScheduleError, SendFailure, SendReceipt, StoreError, TaskSink, TouchQueue, TouchScheduler,
    Versioned,
};
use cadence_core::service::{CadenceSet, Services};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The app secret the harness signs with.
pub const SECRET: &[u8] = b"reliability-test-secret";
/// SQS `maxReceiveCount` on the touches queue (infra/template.yaml).
pub const MAX_RECEIVES: u32 = 5;
/// The touches queue's visibility timeout: the backoff between receives.
pub const VISIBILITY: Duration = Duration::seconds(60);

/// Tuesday 2026-06-09 14:00 UTC: daytime for the demo account (UTC).
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 9, 14, 0, 0).unwrap()
}

pub fn sig(body: &[u8]) -> String {
    cadence_meta::sign(SECRET, body)
}

pub fn persona(channel: Channel, n: usize) -> Persona {
    let user = match channel {
        Channel::Whatsapp => format!("4477009{n:05}"),
        _ => format!("68710000{n:08}"),
    };
    Persona {
        channel,
        user,
        name: format!("Lead {n}"),
    }
}

pub fn lead_id(p: &Persona) -> LeadId {
    LeadId::derive("demo", p.channel, &p.user)
}

pub fn say(t: &str) -> Action {
    Action::Say {
        text: t.into(),
        payload: None,
    }
}

pub fn json(p: &Persona, a: &Action, at: DateTime<Utc>, n: usize) -> Vec<u8> {
    serde_json::to_vec(&body(p, a, at, n)).unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// Recording sender

/// One delivery that reached the (simulated) provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub lead: String,
    pub plan: u32,
    pub step: String,
    pub channel: &'static str,
    /// A media part (the file after a text).
    pub media: bool,
    pub at: DateTime<Utc>,
}

/// Plays Meta, SES, the task sink and the newsletter: accepts everything and counts it per touch.
pub struct Recorder {
    clock: Arc<dyn Clock>,
    log: Mutex<Vec<Delivered>>,
    seq: AtomicU32,
    /// Yield to the runtime this many times before answering (widens race windows).
    pub yields: AtomicUsize,
    /// Never answer (a worker that hangs or dies mid-send).
    pub hang: AtomicBool,
    /// Hold every send until cleared (a send in flight).
    pub hold: AtomicBool,
    /// Panic inside the send (a worker crashing mid-send).
    pub panic: AtomicBool,
    /// Sends that started (before any hang).
    pub started: AtomicUsize,
}

impl Recorder {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            log: Mutex::default(),
            seq: AtomicU32::new(0),
            yields: AtomicUsize::new(0),
            hang: AtomicBool::new(false),
            hold: AtomicBool::new(false),
            panic: AtomicBool::new(false),
            started: AtomicUsize::new(0),
        }
    }

    async fn record(&self, touch: &TouchRef, channel: &'static str) -> SendReceipt {
        self.record_part(touch, channel, false).await
    }

    async fn record_part(
        &self,
        touch: &TouchRef,
        channel: &'static str,
        media: bool,
    ) -> SendReceipt {
        self.started.fetch_add(1, Ordering::SeqCst);
        for _ in 0..self.yields.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        assert!(
            !self.panic.load(Ordering::SeqCst),
            "worker crashed mid-send"
        );
        while self.hold.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        self.log.lock().unwrap().push(Delivered {
            lead: touch.lead_id.as_str().to_string(),
            plan: touch.plan,
            step: touch.step.clone(),
            channel,
            media,
            at: self.clock.now(),
        });
        SendReceipt {
            provider_id: format!("mid.{}", self.seq.fetch_add(1, Ordering::SeqCst)),
        }
    }

    pub fn all(&self) -> Vec<Delivered> {
        self.log.lock().unwrap().clone()
    }

    pub fn total(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Deliveries per (lead, plan, step).
    pub fn per_touch(&self) -> BTreeMap<(String, u32, String), usize> {
        let mut m = BTreeMap::new();
        for d in self.log.lock().unwrap().iter() {
            *m.entry((d.lead.clone(), d.plan, d.step.clone()))
                .or_insert(0) += 1;
        }
        m
    }

    /// Deliveries per (lead, step), ignoring plan generations.
    pub fn per_step(&self) -> BTreeMap<(String, String), usize> {
        let mut m = BTreeMap::new();
        for d in self.log.lock().unwrap().iter() {
            *m.entry((d.lead.clone(), d.step.clone())).or_insert(0) += 1;
        }
        m
    }

    pub fn count(&self, lead: &LeadId, step: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.lead == lead.as_str() && d.step == step)
            .count()
    }
}

#[async_trait]
impl ChannelSender for Recorder {
    async fn send_dm(&self, touch: &TouchRef, m: &DmMessage) -> Result<SendReceipt, SendFailure> {
        let media = matches!(m.body, DmBody::Media { .. });
        Ok(self.record_part(touch, m.channel.as_str(), media).await)
    }
}

#[async_trait]
impl EmailSender for Recorder {
    async fn send_email(
        &self,
        touch: &TouchRef,
        _: &EmailMessage,
    ) -> Result<SendReceipt, SendFailure> {
        Ok(self.record(touch, "email").await)
    }
}

#[async_trait]
impl TaskSink for Recorder {
    async fn create_task(
        &self,
        touch: &TouchRef,
        _: &HumanTask,
    ) -> Result<SendReceipt, SendFailure> {
        Ok(self.record(touch, "task").await)
    }
}

#[async_trait]
impl NewsletterSink for Recorder {
    async fn handoff(
        &self,
        touch: &TouchRef,
        _: &NewsletterHandoff,
    ) -> Result<SendReceipt, SendFailure> {
        Ok(self.record(touch, "newsletter").await)
    }
}

pub struct QuietNotifier;

#[async_trait]
impl Notifier for QuietNotifier {
    async fn notify(&self, _: &cadence_core::engine::Notification) -> Result<(), SendFailure> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Fault injection

/// A deterministic fault source shared by every faulty adapter: xorshift64 from a seed, a fault rate in
/// percent, a switch to stop all faults, and counts of what was injected.
pub struct FaultPlan {
    rng: Mutex<u64>,
    pub percent: AtomicU32,
    pub injected: Mutex<BTreeMap<&'static str, u32>>,
    /// Leads whose DM sends always fail with this Meta answer (status, body): permanent errors.
    pub permanent: Mutex<HashMap<String, (u16, String)>>,
    /// Failures for the next media parts sent to a lead, in order (a file failing after its text went out).
    pub media_faults: Mutex<HashMap<String, Vec<SendFailure>>>,
    /// Lead writes so far, and the write (1-based) whose answer is lost after it was applied (0: none).
    pub saves: AtomicU32,
    pub lose_save_answer: AtomicU32,
}

impl FaultPlan {
    pub fn new(seed: u64, percent: u32) -> Arc<Self> {
        Arc::new(Self {
            rng: Mutex::new(seed.max(1)),
            percent: AtomicU32::new(percent),
            injected: Mutex::default(),
            permanent: Mutex::default(),
            media_faults: Mutex::default(),
            saves: AtomicU32::new(0),
            lose_save_answer: AtomicU32::new(0),
        })
    }

    fn next(&self) -> u64 {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Whether this call fails; `what` names the fault for the tally.
    pub fn roll(&self, what: &'static str) -> bool {
        let p = self.percent.load(Ordering::SeqCst);
        if p == 0 || self.next() % 100 >= u64::from(p) {
            return false;
        }
        *self.injected.lock().unwrap().entry(what).or_insert(0) += 1;
        true
    }

    pub fn pick(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn stop(&self) {
        self.percent.store(0, Ordering::SeqCst);
    }

    pub fn total_injected(&self) -> u32 {
        self.injected.lock().unwrap().values().sum()
    }
}

/// Meta's answers for the faults the sender injects, classified by the production classifier.
const META_FAULTS: &[(&str, u16, &str)] = &[
    ("graph_500", 500, ""),
    (
        "meta_4",
        400,
        r#"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4}}"#,
    ),
    (
        "meta_613",
        400,
        r#"{"error":{"message":"Calls to this api have exceeded the rate limit.","code":613}}"#,
    ),
    (
        "meta_130429",
        400,
        r#"{"error":{"message":"Rate limit hit","code":130429}}"#,
    ),
    (
        "meta_131056",
        400,
        r#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","code":131056}}"#,
    ),
];

/// A sender that fails before the request reaches the provider (so a retry is safe), with Graph 5xx, Meta
/// rate limits, connect timeouts and connection resets; and permanent errors for chosen leads.
pub struct FaultySender {
    pub inner: Arc<Recorder>,
    pub plan: Arc<FaultPlan>,
}

impl FaultySender {
    fn fault(&self, touch: &TouchRef) -> Option<SendFailure> {
        if let Some((status, body)) = self
            .plan
            .permanent
            .lock()
            .unwrap()
            .get(touch.lead_id.as_str())
        {
            return Some(cadence_meta::classify(*status, body.as_bytes()));
        }
        if !self.plan.roll("send") {
            return None;
        }
        let k = self.plan.pick(META_FAULTS.len() + 2);
        Some(match k {
            k if k < META_FAULTS.len() => {
                let (name, status, body) = META_FAULTS[k];
                *self.plan.injected.lock().unwrap().entry(name).or_insert(0) += 1;
                cadence_meta::classify(status, body.as_bytes())
            }
            k if k == META_FAULTS.len() => SendFailure::Retryable {
                reason: "connect timeout".into(),
                retry_after: None,
            },
            _ => SendFailure::Retryable {
                reason: "connection reset".into(),
                retry_after: None,
            },
        })
    }
}

#[async_trait]
impl ChannelSender for FaultySender {
    async fn send_dm(&self, touch: &TouchRef, m: &DmMessage) -> Result<SendReceipt, SendFailure> {
        if matches!(m.body, DmBody::Media { .. }) {
            let mut queued = self.plan.media_faults.lock().unwrap();
            if let Some(f) = queued
                .get_mut(touch.lead_id.as_str())
                .filter(|q| !q.is_empty())
                .map(|q| q.remove(0))
            {
                return Err(f);
            }
        }
        if let Some(f) = self.fault(touch) {
            return Err(f);
        }
        self.inner.send_dm(touch, m).await
    }
}

#[async_trait]
impl EmailSender for FaultySender {
    async fn send_email(
        &self,
        touch: &TouchRef,
        m: &EmailMessage,
    ) -> Result<SendReceipt, SendFailure> {
        if self.plan.roll("ses") {
            return Err(SendFailure::Retryable {
                reason: "ses throttled".into(),
                retry_after: None,
            });
        }
        self.inner.send_email(touch, m).await
    }
}

/// A store that throttles (before writing, as DynamoDB does) on reads, writes and sweeper queries.
pub struct FaultyStore {
    pub inner: Arc<MemoryLeadStore>,
    pub plan: Arc<FaultPlan>,
}

#[async_trait]
impl LeadStore for FaultyStore {
    async fn load(&self, id: &LeadId) -> Result<Option<Versioned<Lead>>, StoreError> {
        if self.plan.roll("store_load") {
            return Err(StoreError::Throttled);
        }
        self.inner.load(id).await
    }
    async fn save(&self, w: LeadWrite<'_>) -> Result<u64, StoreError> {
        if self.plan.roll("store_save") {
            return Err(StoreError::Throttled);
        }
        let n = self.plan.saves.fetch_add(1, Ordering::SeqCst) + 1;
        let r = self.inner.save(w).await;
        if r.is_ok() && n == self.plan.lose_save_answer.load(Ordering::SeqCst) {
            // The write landed; the connection dropped before its answer arrived.
            return Err(StoreError::Unexpected(
                "connection reset after the write".into(),
            ));
        }
        r
    }
    async fn claim_inbound(&self, key: &str) -> Result<(), StoreError> {
        if self.plan.roll("store_claim") {
            return Err(StoreError::Throttled);
        }
        self.inner.claim_inbound(key).await
    }
    async fn due_for_sweep(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadId>, StoreError> {
        if self.plan.roll("store_query") {
            return Err(StoreError::Throttled);
        }
        self.inner.due_for_sweep(until, limit).await
    }
    async fn audit(&self, id: &LeadId) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(id).await
    }
    async fn list(&self) -> Result<Vec<LeadId>, StoreError> {
        self.inner.list().await
    }
    async fn delete(&self, id: &LeadId) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
}

/// Scheduler and queue calls that throttle before acting.
pub struct FaultyTimers {
    pub inner: Arc<VirtualTimeline>,
    pub plan: Arc<FaultPlan>,
}

#[async_trait]
impl TouchScheduler for FaultyTimers {
    async fn schedule(
        &self,
        touch: &TouchRef,
        due: DateTime<Utc>,
        tz: Tz,
    ) -> Result<(), ScheduleError> {
        if self.plan.roll("scheduler") {
            return Err(ScheduleError::Throttled);
        }
        self.inner.schedule(touch, due, tz).await
    }
    async fn cancel(&self, touch: &TouchRef) -> Result<(), ScheduleError> {
        if self.plan.roll("scheduler_cancel") {
            return Err(ScheduleError::Throttled);
        }
        self.inner.cancel(touch).await
    }
}

#[async_trait]
impl TouchQueue for FaultyTimers {
    async fn enqueue(
        &self,
        touch: &TouchRef,
        delay: std::time::Duration,
    ) -> Result<(), ScheduleError> {
        if self.plan.roll("queue") {
            return Err(ScheduleError::Throttled);
        }
        self.inner.enqueue(touch, delay).await
    }
}

// ---------------------------------------------------------------------------------------------------------
// The rig and its transport driver

/// A touch the queue gave up on: enough to redrive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub touch: TouchRef,
    pub receives: u32,
    pub last_error: String,
}

#[derive(Debug, Default, Clone)]
pub struct RigStats {
    pub webhook_posts: u32,
    pub webhook_500: u32,
    pub touch_receives: u32,
    pub touch_retries: u32,
    pub sweeps: u32,
    pub sweep_failures: u32,
}

pub struct Rig {
    pub services: Services,
    pub store: Arc<MemoryLeadStore>,
    pub timeline: Arc<VirtualTimeline>,
    pub clock: Arc<VirtualClock>,
    pub recorder: Arc<Recorder>,
    pub faults: Arc<FaultPlan>,
    pub dlq: Vec<DeadLetter>,
    pub stats: RigStats,
    receives: HashMap<(String, u32, String), u32>,
    /// Webhook bodies Meta will deliver again: (when, body, attempts so far).
    redeliveries: Vec<(DateTime<Utc>, Vec<u8>, u32)>,
    last_sweep: DateTime<Utc>,
}

impl Rig {
    /// The demo account, no faults.
    pub fn new() -> Self {
        Self::with(Accounts::demo(), FaultPlan::new(1, 0))
    }

    /// Every port wrapped in fault injection driven by `faults`.
    pub fn with(accounts: Accounts, faults: Arc<FaultPlan>) -> Self {
        let clock = Arc::new(VirtualClock::new(start()));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let store = Arc::new(MemoryLeadStore::new(true));
        let timeline = Arc::new(VirtualTimeline::new(dyn_clock.clone()));
        let recorder = Arc::new(Recorder::new(dyn_clock.clone()));
        let sender = Arc::new(FaultySender {
            inner: recorder.clone(),
            plan: faults.clone(),
        });
        let timers = Arc::new(FaultyTimers {
            inner: timeline.clone(),
            plan: faults.clone(),
        });
        let services = Services {
            cadences: Arc::new(CadenceSet::builtins()),
            accounts: Arc::new(accounts),
            store: Arc::new(FaultyStore {
                inner: store.clone(),
                plan: faults.clone(),
            }),
            scheduler: timers.clone(),
            queue: timers,
            dm: sender.clone(),
            email: sender,
            tasks: recorder.clone(),
            newsletter: recorder.clone(),
            notifier: Arc::new(QuietNotifier),
            clock: dyn_clock,
        };
        Rig {
            services,
            store,
            timeline,
            clock,
            recorder,
            faults,
            dlq: Vec::new(),
            stats: RigStats::default(),
            receives: HashMap::new(),
            redeliveries: Vec::new(),
            last_sweep: start().duration_trunc(Duration::minutes(15)).unwrap(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// POSTs a body signed with the right secret, as Meta does; a 5xx is redelivered later (Meta's retries:
    /// at once, then with decreasing frequency).
    pub async fn deliver(&mut self, body: &[u8]) -> u16 {
        self.deliver_attempt(body.to_vec(), 0).await
    }

    async fn deliver_attempt(&mut self, body: Vec<u8>, attempt: u32) -> u16 {
        self.stats.webhook_posts += 1;
        let (status, _) =
            cadence_meta::handle_post(&self.services, SECRET, Some(&sig(&body)), &body).await;
        if status >= 500 {
            self.stats.webhook_500 += 1;
            let wait = Duration::seconds(30 * i64::from(1u32 << attempt.min(6)));
            self.redeliveries
                .push((self.now() + wait, body, attempt + 1));
        }
        status
    }

    /// Runs timers, queue (with SQS redelivery and DLQ), Meta's webhook redeliveries and the 15-minute sweeper
    /// up to `until`.
    pub async fn advance_to(&mut self, until: DateTime<Utc>) {
        loop {
            let next_sweep = self.last_sweep + Duration::minutes(15);
            let q = self.timeline.next_at();
            let w = self.redeliveries.iter().map(|(t, _, _)| *t).min();
            let t = [Some(next_sweep), q, w]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            if t > until {
                break;
            }
            if t > self.now() {
                self.clock.set(t);
            }
            if w == Some(t) {
                let i = self
                    .redeliveries
                    .iter()
                    .position(|(at, _, _)| *at == t)
                    .unwrap();
                let (_, body, attempt) = self.redeliveries.remove(i);
                self.deliver_attempt(body, attempt).await;
                continue;
            }
            if next_sweep == t && q.is_none_or(|q| q >= t) {
                self.last_sweep = t;
                self.stats.sweeps += 1;
                if self.services.sweep(10_000).await.is_err() {
                    self.stats.sweep_failures += 1;
                }
                continue;
            }
            if let Some((_, touch)) = self.timeline.pop_due(t) {
                self.receive(touch).await;
            }
        }
        if until > self.now() {
            self.clock.set(until);
        }
    }

    /// One SQS receive of a touch message, as the send Lambda handles it.
    async fn receive(&mut self, touch: TouchRef) {
        self.stats.touch_receives += 1;
        let key = (
            touch.lead_id.as_str().to_string(),
            touch.plan,
            touch.step.clone(),
        );
        match self.services.handle_touch(&touch).await {
            Err(e) if e.is_retryable() => {
                let n = self.receives.entry(key.clone()).or_insert(0);
                *n += 1;
                if *n >= MAX_RECEIVES {
                    let receives = *n;
                    self.receives.remove(&key);
                    self.dlq.push(DeadLetter {
                        touch,
                        receives,
                        last_error: e.to_string(),
                    });
                } else {
                    self.stats.touch_retries += 1;
                    // Visibility timeout: SQS itself makes it visible again (no API call that could fail).
                    self.timeline
                        .enqueue(&touch, VISIBILITY.to_std().unwrap())
                        .await
                        .unwrap();
                }
            }
            _ => {
                self.receives.remove(&key);
            }
        }
    }

    /// Moves every DLQ message back to the queue (the operator's redrive).
    pub async fn redrive(&mut self) -> usize {
        let n = self.dlq.len();
        for d in std::mem::take(&mut self.dlq) {
            self.timeline
                .enqueue(&d.touch, std::time::Duration::ZERO)
                .await
                .unwrap();
        }
        n
    }

    pub async fn lead(&self, id: &LeadId) -> Option<Lead> {
        self.store.load(id).await.unwrap().map(|v| v.value)
    }

    pub async fn audit(&self, id: &LeadId) -> Vec<AuditRecord> {
        self.store.audit(id).await.unwrap()
    }
}

impl Default for Rig {
    fn default() -> Self {
        Self::new()
    }
}
