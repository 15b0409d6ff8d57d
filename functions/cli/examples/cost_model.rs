//! AWS cost model: runs cadences through the production services on the embedded adapters, counting every
//! port call, and maps each call onto the AWS requests the adapters in `shared/aws` make for it. Prints calls
//! per lead and dollars per 1,000 leads and per 1,000 messages at on-demand prices.
//!
//!   cargo run --release -p cadence-cli --example cost_model [-- --events FILE.jsonl [--until RFC3339]]
//!
//! Port call → AWS requests (see shared/aws/src):
//! - `LeadStore::load` → 1 DynamoDB GetItem (strongly consistent: 1 RRU per 4 KB of the lead item);
//! - `LeadStore::save` → 1 TransactWriteItems of (dedupe claim?) + lead + one item per audit record
//!   (transactional: 2 WRU per 1 KB of each item);
//! - `LeadStore::claim_inbound` → 1 PutItem; `LeadStore::due_for_sweep` → 16 Query (one per due shard);
//! - `TouchScheduler::schedule` → 1 CreateSchedule (API calls are free; the firing is a billed invocation
//!   and an SQS SendMessage made by Scheduler); `cancel` → 1 DeleteSchedule (free, but a request);
//! - `TouchQueue::enqueue` → 1 SQS SendMessage; each touch handled → 1 send-Lambda invocation and SQS
//!   Receive + DeleteMessage (batch size 1 assumed: the worst case);
//! - `EmailSender` → SESv2 SendEmail; `NewsletterSink` → SESv2 CreateContact; `TaskSink` → DynamoDB PutItem;
//!   DMs go to the Graph API (no AWS fee); notifications go to the log.
//! - each webhook POST → 1 API Gateway HTTP API request + 1 webhook-Lambda invocation; each sweeper pass →
//!   1 sweeper invocation (every 15 min whatever the load: a fixed monthly cost, shown apart).

use async_trait::async_trait;
use cadence_cli::replay::{parse_input, InputLine, SimOptions, Simulation};
use cadence_cli::synth::{body, Action, Persona};
use cadence_core::chrono::{DateTime, Duration, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::{AuditRecord, Lead, TouchRef};
use cadence_core::outbound::{DmMessage, EmailMessage, HumanTask, NewsletterHandoff};
use cadence_core::ports::{
    ChannelSender, Clock, EmailSender, LeadStore, LeadWrite, NewsletterSink, ScheduleError,
    SendFailure, SendReceipt, StoreError, TaskSink, TouchQueue, TouchScheduler, Versioned,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

// On-demand prices, us-east-1 (checked 2026-12-03 against the public price pages and price guides dated 2026).
const LAMBDA_GB_S: f64 = 0.000_013_333_4; // arm64
const LAMBDA_REQ: f64 = 0.20 / 1e6;
const APIGW_HTTP_REQ: f64 = 1.00 / 1e6;
const DDB_WRU: f64 = 0.625 / 1e6;
const DDB_RRU: f64 = 0.125 / 1e6;
const SCHEDULER_INVOCATION: f64 = 1.00 / 1e6; // first 14 M/month free: ignored (worst case)
const SQS_REQ: f64 = 0.40 / 1e6;
const SES_EMAIL: f64 = 0.10 / 1000.0;
const SES_CONTACT: f64 = 0.0; // contact list management has no request fee
const LAMBDA_GB: f64 = 0.25; // 256 MB, as in infra/template.yaml
/// Duration model for GB-s (estimates, not measured on AWS): in-region AWS round trip, Graph API send,
/// compute per invocation.
const MS_PER_AWS_CALL: f64 = 8.0;
const MS_PER_GRAPH_SEND: f64 = 250.0;
const MS_PER_SES_CALL: f64 = 40.0;
const MS_COMPUTE: f64 = 2.0;

#[derive(Default)]
struct Counts {
    get_item: AtomicU64,
    get_rru: AtomicU64,
    transact: AtomicU64,
    transact_items: AtomicU64,
    transact_wru: AtomicU64,
    put_item: AtomicU64,
    query: AtomicU64,
    create_schedule: AtomicU64,
    delete_schedule: AtomicU64,
    delete_schedule_needless: AtomicU64,
    schedules_cancelled_before_firing: AtomicU64,
    sqs_send: AtomicU64,
    ses_send: AtomicU64,
    ses_contact: AtomicU64,
    dm: AtomicU64,
    tasks: AtomicU64,
}

fn kb_units(bytes: usize, unit: usize) -> u64 {
    bytes.div_ceil(unit).max(1) as u64
}

/// Approximate DynamoDB item size: the JSON of the value plus keys and index attributes.
fn item_size<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0) + 120
}

struct CountingStore(Arc<dyn LeadStore>, Arc<Counts>);

#[async_trait]
impl LeadStore for CountingStore {
    async fn load(&self, id: &LeadId) -> Result<Option<Versioned<Lead>>, StoreError> {
        let r = self.0.load(id).await?;
        self.1.get_item.fetch_add(1, Relaxed);
        let size = r.as_ref().map_or(100, |v| item_size(&v.value));
        self.1.get_rru.fetch_add(kb_units(size, 4096), Relaxed);
        Ok(r)
    }
    async fn save(&self, w: LeadWrite<'_>) -> Result<u64, StoreError> {
        self.1.transact.fetch_add(1, Relaxed);
        let mut items = 1 + w.audit.len() as u64;
        let mut wru = 2 * kb_units(item_size(w.lead), 1024);
        if w.inbound_claim.is_some() {
            items += 1;
            wru += 2;
        }
        wru += w
            .audit
            .iter()
            .map(|a: &AuditRecord| 2 * kb_units(item_size(a), 1024))
            .sum::<u64>();
        self.1.transact_items.fetch_add(items, Relaxed);
        self.1.transact_wru.fetch_add(wru, Relaxed);
        self.0.save(w).await
    }
    async fn claim_inbound(&self, key: &str) -> Result<(), StoreError> {
        self.1.put_item.fetch_add(1, Relaxed);
        self.0.claim_inbound(key).await
    }
    async fn due_for_sweep(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadId>, StoreError> {
        self.1.query.fetch_add(16, Relaxed);
        self.0.due_for_sweep(until, limit).await
    }
    async fn audit(&self, id: &LeadId) -> Result<Vec<AuditRecord>, StoreError> {
        self.0.audit(id).await
    }
    async fn list(&self) -> Result<Vec<LeadId>, StoreError> {
        self.0.list().await
    }
    async fn delete(&self, id: &LeadId) -> Result<(), StoreError> {
        self.0.delete(id).await
    }
}

struct CountingTimeline {
    sched: Arc<dyn TouchScheduler>,
    queue: Arc<dyn TouchQueue>,
    clock: Arc<dyn Clock>,
    live: Mutex<HashMap<String, DateTime<Utc>>>,
    c: Arc<Counts>,
}

#[async_trait]
impl TouchScheduler for CountingTimeline {
    async fn schedule(
        &self,
        touch: &TouchRef,
        due: DateTime<Utc>,
        tz: Tz,
    ) -> Result<(), ScheduleError> {
        self.c.create_schedule.fetch_add(1, Relaxed);
        self.live
            .lock()
            .expect("lock")
            .insert(touch.schedule_name(), due);
        self.sched.schedule(touch, due, tz).await
    }
    async fn cancel(&self, touch: &TouchRef) -> Result<(), ScheduleError> {
        self.c.delete_schedule.fetch_add(1, Relaxed);
        match self
            .live
            .lock()
            .expect("lock")
            .remove(&touch.schedule_name())
        {
            Some(due) if due > self.clock.now() => {
                self.c
                    .schedules_cancelled_before_firing
                    .fetch_add(1, Relaxed);
            }
            _ => {
                self.c.delete_schedule_needless.fetch_add(1, Relaxed);
            }
        }
        self.sched.cancel(touch).await
    }
}

#[async_trait]
impl TouchQueue for CountingTimeline {
    async fn enqueue(
        &self,
        touch: &TouchRef,
        delay: std::time::Duration,
    ) -> Result<(), ScheduleError> {
        self.c.sqs_send.fetch_add(1, Relaxed);
        self.queue.enqueue(touch, delay).await
    }
}

struct CountingSinks<S>(Arc<S>, Arc<Counts>);

#[async_trait]
impl<S: ChannelSender + EmailSender + TaskSink + NewsletterSink + 'static> ChannelSender
    for CountingSinks<S>
{
    async fn send_dm(&self, touch: &TouchRef, msg: &DmMessage) -> Result<SendReceipt, SendFailure> {
        self.1.dm.fetch_add(1, Relaxed);
        self.0.send_dm(touch, msg).await
    }
}
#[async_trait]
impl<S: ChannelSender + EmailSender + TaskSink + NewsletterSink + 'static> EmailSender
    for CountingSinks<S>
{
    async fn send_email(
        &self,
        touch: &TouchRef,
        msg: &EmailMessage,
    ) -> Result<SendReceipt, SendFailure> {
        self.1.ses_send.fetch_add(1, Relaxed);
        self.0.send_email(touch, msg).await
    }
}
#[async_trait]
impl<S: ChannelSender + EmailSender + TaskSink + NewsletterSink + 'static> TaskSink
    for CountingSinks<S>
{
    async fn create_task(
        &self,
        touch: &TouchRef,
        task: &HumanTask,
    ) -> Result<SendReceipt, SendFailure> {
        self.1.tasks.fetch_add(1, Relaxed);
        self.0.create_task(touch, task).await
    }
}
#[async_trait]
impl<S: ChannelSender + EmailSender + TaskSink + NewsletterSink + 'static> NewsletterSink
    for CountingSinks<S>
{
    async fn handoff(
        &self,
        touch: &TouchRef,
        h: &NewsletterHandoff,
    ) -> Result<SendReceipt, SendFailure> {
        self.1.ses_contact.fetch_add(1, Relaxed);
        self.0.handoff(touch, h).await
    }
}

struct Run {
    name: String,
    leads: u64,
    webhooks: u64,
    touches: u64,
    sweeps: u64,
    c: Arc<Counts>,
    scheduler_fired: u64,
}

async fn run(name: &str, input: &[InputLine], until: Option<DateTime<Utc>>) -> Run {
    let Some(first) = input.first() else {
        panic!("{name}: empty input")
    };
    let mut sim = Simulation::new(
        SimOptions {
            record: false,
            ..SimOptions::default()
        },
        first.at,
    );
    let c = Arc::new(Counts::default());
    let clock: Arc<dyn Clock> = sim.clock.clone();
    let tl = Arc::new(CountingTimeline {
        sched: sim.timeline.clone(),
        queue: sim.timeline.clone(),
        clock,
        live: Mutex::default(),
        c: c.clone(),
    });
    let sinks = Arc::new(CountingSinks(sim.sink.clone(), c.clone()));
    sim.services.store = Arc::new(CountingStore(sim.store.clone(), c.clone()));
    sim.services.scheduler = tl.clone();
    sim.services.queue = tl.clone();
    sim.services.dm = sinks.clone();
    sim.services.email = sinks.clone();
    sim.services.tasks = sinks.clone();
    sim.services.newsletter = sinks;
    sim.run(input, until).await;
    let end = sim.clock.now();
    let pending = tl
        .live
        .lock()
        .expect("lock")
        .values()
        .filter(|d| **d > end)
        .count() as u64;
    let scheduler_fired = c.create_schedule.load(Relaxed)
        - c.schedules_cancelled_before_firing.load(Relaxed)
        - pending;
    Run {
        name: name.to_string(),
        leads: sim.store.len() as u64,
        webhooks: sim.stats.webhooks,
        touches: sim.stats.touches_fired,
        sweeps: sim.stats.sweeps,
        c,
        scheduler_fired,
    }
}

fn script(persona: &Persona, start: DateTime<Utc>, steps: &[(i64, Action)]) -> Vec<InputLine> {
    steps
        .iter()
        .enumerate()
        .map(|(n, (min, a))| {
            let at = start + Duration::minutes(*min);
            let b = serde_json::to_vec(&body(persona, a, at, n)).expect("json");
            InputLine { at, body: b }
        })
        .collect()
}

fn say(t: &str) -> Action {
    Action::Say {
        text: t.into(),
        payload: None,
    }
}

struct Cost {
    lines: Vec<(&'static str, f64, f64)>, // (service, requests, dollars)
    messages: u64,
}

fn cost(r: &Run) -> Cost {
    let g = |a: &AtomicU64| a.load(Relaxed) as f64;
    let c = &r.c;
    let webhook_calls = r.webhooks as f64;
    let sqs_total = g(&c.sqs_send) + r.scheduler_fired as f64 + 2.0 * r.touches as f64;
    let ddb_requests = g(&c.get_item) + g(&c.transact) + g(&c.put_item) + g(&c.tasks);
    // GB-s: webhook (inbound path) and send (touch path) invocations; AWS calls split by where they happen.
    let aws_calls = ddb_requests + g(&c.sqs_send) + g(&c.create_schedule) + g(&c.delete_schedule);
    let ms = (webhook_calls + r.touches as f64) * MS_COMPUTE
        + aws_calls * MS_PER_AWS_CALL
        + g(&c.dm) * MS_PER_GRAPH_SEND
        + (g(&c.ses_send) + g(&c.ses_contact)) * MS_PER_SES_CALL;
    let gb_s = ms / 1000.0 * LAMBDA_GB;
    let invocations = webhook_calls + r.touches as f64;
    let wru = g(&c.transact_wru) + g(&c.put_item) + g(&c.tasks);
    let rru = g(&c.get_rru);
    let lines = vec![
        (
            "API Gateway HTTP API requests",
            webhook_calls,
            webhook_calls * APIGW_HTTP_REQ,
        ),
        (
            "Lambda invocations (webhook + send)",
            invocations,
            invocations * LAMBDA_REQ,
        ),
        ("Lambda GB-s (256 MB, modelled)", gb_s, gb_s * LAMBDA_GB_S),
        (
            "DynamoDB WRU (TransactWrite 2x, PutItem)",
            wru,
            wru * DDB_WRU,
        ),
        ("DynamoDB RRU (GetItem, consistent)", rru, rru * DDB_RRU),
        (
            "EventBridge Scheduler invocations",
            r.scheduler_fired as f64,
            r.scheduler_fired as f64 * SCHEDULER_INVOCATION,
        ),
        (
            "SQS requests (send, receive, delete)",
            sqs_total,
            sqs_total * SQS_REQ,
        ),
        ("SES SendEmail", g(&c.ses_send), g(&c.ses_send) * SES_EMAIL),
        (
            "SES CreateContact (newsletter)",
            g(&c.ses_contact),
            g(&c.ses_contact) * SES_CONTACT,
        ),
    ];
    Cost {
        lines,
        messages: c.dm.load(Relaxed) + c.ses_send.load(Relaxed),
    }
}

fn print(r: &Run) {
    let c = &r.c;
    let per = |a: &AtomicU64| a.load(Relaxed) as f64 / r.leads as f64;
    println!(
        "\n## {} — {} lead(s), {} webhook POSTs, {} touches fired",
        r.name, r.leads, r.webhooks, r.touches
    );
    println!("| per lead | calls |\n|---|---:|");
    for (k, v) in [
        (
            "webhook POSTs (API Gateway + webhook λ)",
            r.webhooks as f64 / r.leads as f64,
        ),
        (
            "send λ invocations (touches fired)",
            r.touches as f64 / r.leads as f64,
        ),
        ("DynamoDB GetItem", per(&c.get_item)),
        ("DynamoDB TransactWriteItems", per(&c.transact)),
        ("  items written in them", per(&c.transact_items)),
        (
            "DynamoDB PutItem (claims, tasks)",
            per(&c.put_item) + per(&c.tasks),
        ),
        ("Scheduler CreateSchedule", per(&c.create_schedule)),
        ("Scheduler DeleteSchedule", per(&c.delete_schedule)),
        (
            "  of which needless (touch was queued/fired)",
            per(&c.delete_schedule_needless),
        ),
        (
            "Scheduler invocations (fired)",
            r.scheduler_fired as f64 / r.leads as f64,
        ),
        ("SQS SendMessage (ours)", per(&c.sqs_send)),
        ("SES SendEmail", per(&c.ses_send)),
        ("SES CreateContact", per(&c.ses_contact)),
        ("Graph API sends (no AWS fee)", per(&c.dm)),
    ] {
        println!("| {k} | {v:.2} |");
    }
    let cost = cost(r);
    let total: f64 = cost.lines.iter().map(|l| l.2).sum();
    let per_k_leads = total / r.leads as f64 * 1000.0;
    let per_k_msgs = if cost.messages > 0 {
        total / cost.messages as f64 * 1000.0
    } else {
        0.0
    };
    println!("\n| service | requests / units | $ per 1,000 leads | $ per 1,000 messages |\n|---|---:|---:|---:|");
    for (k, n, d) in &cost.lines {
        println!(
            "| {k} | {n:.1} | {:.5} | {:.5} |",
            d / r.leads as f64 * 1000.0,
            if cost.messages > 0 {
                d / cost.messages as f64 * 1000.0
            } else {
                0.0
            }
        );
    }
    println!("| **total** | | **{per_k_leads:.4}** | **{per_k_msgs:.4}** |");
    println!(
        "messages (DMs + emails) per lead: {:.2}; sweeper passes simulated: {}",
        cost.messages as f64 / r.leads as f64,
        r.sweeps
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let start = DateTime::parse_from_rfc3339("2026-12-07T14:03:00Z")
        .expect("t")
        .with_timezone(&Utc);
    let ig = Persona {
        channel: Channel::Instagram,
        user: "6871000000000001".into(),
        name: "Ada".into(),
    };
    let booked = script(
        &ig,
        start,
        &[
            (0, say("Hi! Loved your reel")),
            (3, say("yes sure")),
            (5, say("b")),
            (21, Action::Read),
            (50, say("the second one works")),
        ],
    );
    let silent = script(&ig, start, &[(0, say("Hi! Loved your reel"))]);
    let wa = Persona {
        channel: Channel::Whatsapp,
        user: "33612345678".into(),
        name: "Bruno".into(),
    };
    let silent_wa = script(&wa, start, &[(0, say("Bonjour, la robe en 38 ?"))]);
    let mut runs = vec![
        run("booked path (Instagram)", &booked, None).await,
        run(
            "silent path (Instagram, whole cadence to the newsletter)",
            &silent,
            None,
        )
        .await,
        run("silent path (WhatsApp)", &silent_wa, None).await,
    ];
    if let Some(file) = arg("--events") {
        let text = std::fs::read_to_string(&file).expect("read --events");
        let input = parse_input(&text).expect("valid replay input");
        let until = arg("--until").map(|u| {
            DateTime::parse_from_rfc3339(&u)
                .expect("--until")
                .with_timezone(&Utc)
        });
        runs.push(run(&format!("mixed input {file}"), &input, until).await);
    }
    println!("# Cadence AWS cost model (on-demand, us-east-1; free tiers ignored)");
    println!("Prices: Lambda arm64 ${LAMBDA_GB_S}/GB-s + $0.20/M requests; API Gateway HTTP $1.00/M; DynamoDB on-demand $0.625/M WRU, $0.125/M RRU; Scheduler $1.00/M invocations; SQS $0.40/M; SES $0.10/1,000 emails.");
    println!("GB-s model: {MS_COMPUTE} ms compute per invocation + {MS_PER_AWS_CALL} ms per AWS call + {MS_PER_GRAPH_SEND} ms per Graph send + {MS_PER_SES_CALL} ms per SES call, at 256 MB.");
    for r in &runs {
        print(r);
    }
    // The sweeper runs every 15 minutes whatever the load: 2,880 passes a month of 16 Queries each.
    let passes = 2880.0;
    let fixed = passes
        * (LAMBDA_REQ
            + (MS_COMPUTE + 16.0 * MS_PER_AWS_CALL) / 1000.0 * LAMBDA_GB * LAMBDA_GB_S
            + 16.0 * 0.5 * DDB_RRU);
    println!("\nFixed: sweeper 2,880 passes/month × (1 invocation + 16 Queries) ≈ ${fixed:.4}/month, whatever the number of leads.");
}
