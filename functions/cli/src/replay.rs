//! `cadence replay`: the black-box contract. Timed Meta webhook bodies in (JSON Lines), the exact outbound
//! requests out (JSON Lines), on the production services wired to embedded adapters and a virtual clock.

use crate::sinks::{LogNotifier, OutputLine, RecordingSink};
use cadence_core::account::Accounts;
use cadence_core::chrono::{DateTime, Duration, DurationRound, Utc};
use cadence_core::memory::{MemoryLeadStore, VirtualClock, VirtualTimeline};
use cadence_core::ports::{Clock, LeadStore};
use cadence_core::service::{CadenceSet, Services};
use cadence_meta::graph::GraphConfig;
use cadence_meta::webhook::parse_webhook;
use std::sync::Arc;

/// How often the sweeper runs in production (its EventBridge schedule), mirrored on the virtual clock.
pub const SWEEP_EVERY: Duration = Duration::minutes(15);
/// Default replay horizon after the last event.
pub const DEFAULT_HORIZON: Duration = Duration::days(60);

/// One input line: when, and the webhook body Meta would POST.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLine {
    pub at: DateTime<Utc>,
    pub body: Vec<u8>,
}

/// A bad input line (1-based line number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct InputError {
    pub line: usize,
    pub reason: String,
}

/// Parses replay input: JSON Lines of `{"at": RFC 3339, "webhook": {…}}` in non-decreasing `at` order. Blank
/// lines are allowed. The first bad line fails the whole input, so nothing runs on half a scenario.
pub fn parse_input(text: &str) -> Result<Vec<InputLine>, InputError> {
    let mut out: Vec<InputLine> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let err = |reason: String| InputError { line, reason };
        let v: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| err(format!("not JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| err("expected an object with `at` and `webhook`".into()))?;
        for key in obj.keys() {
            if key != "at" && key != "webhook" {
                return Err(err(format!(
                    "unknown field `{key}` (expected `at` and `webhook`)"
                )));
            }
        }
        let at = obj
            .get("at")
            .and_then(|a| a.as_str())
            .ok_or_else(|| err("missing `at` (an RFC 3339 timestamp string)".into()))?;
        let at = DateTime::parse_from_rfc3339(at)
            .map_err(|e| err(format!("`at` is not RFC 3339: {e}")))?
            .with_timezone(&Utc);
        let webhook = obj
            .get("webhook")
            .ok_or_else(|| err("missing `webhook`".into()))?;
        if !webhook.is_object() {
            return Err(err(
                "`webhook` must be a JSON object (a Meta webhook POST body)".into(),
            ));
        }
        if let Some(prev) = out.last() {
            if at < prev.at {
                return Err(err(format!(
                    "`at` goes back in time (before the previous line's {})",
                    crate::sinks::rfc3339(prev.at)
                )));
            }
        }
        let body = serde_json::to_vec(webhook).map_err(|e| err(e.to_string()))?;
        out.push(InputLine { at, body });
    }
    Ok(out)
}

/// Options for a simulation.
pub struct SimOptions {
    pub accounts: Accounts,
    pub cadences: CadenceSet,
    pub graph: GraphConfig,
    /// Keep audit trails (demo and preview print them).
    pub keep_audit: bool,
    /// Record output lines (off when only counting, for benchmarks).
    pub record: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            accounts: Accounts::demo(),
            cadences: CadenceSet::builtins(),
            graph: GraphConfig::default(),
            keep_audit: false,
            record: true,
        }
    }
}

/// The production services on embedded adapters and a virtual clock.
pub struct Simulation {
    pub services: Services,
    pub store: Arc<MemoryLeadStore>,
    pub timeline: Arc<VirtualTimeline>,
    pub clock: Arc<VirtualClock>,
    pub sink: Arc<RecordingSink>,
    pub notifier: Arc<LogNotifier>,
    last_sweep: Option<DateTime<Utc>>,
    /// Counters for reports: inbound events applied, duplicates, ignored.
    pub stats: SimStats,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SimStats {
    pub webhooks: u64,
    pub events: u64,
    pub duplicates: u64,
    pub ignored: u64,
    pub skipped_items: u64,
    pub touches_fired: u64,
    pub sweeps: u64,
}

impl Simulation {
    pub fn new(opts: SimOptions, start: DateTime<Utc>) -> Self {
        let clock = Arc::new(VirtualClock::new(start));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let store = Arc::new(MemoryLeadStore::new(opts.keep_audit));
        let timeline = Arc::new(VirtualTimeline::new(dyn_clock.clone()));
        let sink = Arc::new(RecordingSink::new(
            dyn_clock.clone(),
            opts.graph,
            opts.record,
        ));
        let notifier = Arc::new(LogNotifier::default());
        let services = Services {
            cadences: Arc::new(opts.cadences),
            accounts: Arc::new(opts.accounts),
            store: store.clone(),
            scheduler: timeline.clone(),
            queue: timeline.clone(),
            dm: sink.clone(),
            email: sink.clone(),
            tasks: sink.clone(),
            newsletter: sink.clone(),
            notifier: notifier.clone(),
            clock: dyn_clock,
        };
        Simulation {
            services,
            store,
            timeline,
            clock,
            sink,
            notifier,
            last_sweep: None,
            stats: SimStats::default(),
        }
    }

    /// Applies one webhook body at the current virtual time, as the webhook Lambda would after the signature
    /// check: every item in timestamp order, each exactly once.
    pub async fn post_webhook(&mut self, body: &[u8]) {
        self.stats.webhooks += 1;
        let parsed = match parse_webhook(body) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "webhook body rejected");
                return;
            }
        };
        for s in &parsed.skipped {
            self.stats.skipped_items += 1;
            tracing::info!(kind = %s.kind, reason = %s.reason, "webhook item skipped");
        }
        for ev in &parsed.events {
            self.stats.events += 1;
            match self.services.handle_inbound(ev).await {
                Ok(cadence_core::service::InboundOutcome::Duplicate) => self.stats.duplicates += 1,
                Ok(cadence_core::service::InboundOutcome::Ignored(why)) => {
                    self.stats.ignored += 1;
                    tracing::debug!(kind = ev.kind.name(), why, "event ignored");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(kind = ev.kind.name(), error = %e, "event failed"),
            }
        }
    }

    /// The next sweeper pass with work: passes run on 15-minute boundaries and fire touches due before the next
    /// one; passes with nothing due are skipped (they would do nothing).
    fn next_sweep(&self) -> Option<DateTime<Utc>> {
        let due = self.store.next_sweep_due()?;
        let mut p = due.duration_trunc(SWEEP_EVERY).unwrap_or(due);
        if let Some(last) = self.last_sweep {
            p = p.max(last + SWEEP_EVERY);
        }
        let now = self.clock.now();
        if p < now {
            p = now.duration_trunc(SWEEP_EVERY).unwrap_or(now);
            if p < now {
                p += SWEEP_EVERY;
            }
        }
        Some(p)
    }

    /// Runs timers, queue and sweeper up to and including `until`; leaves the clock at `until`.
    pub async fn advance_to(&mut self, until: DateTime<Utc>) {
        loop {
            let q = self.timeline.next_at();
            let s = self.next_sweep();
            let t = match (q, s) {
                (Some(q), Some(s)) => q.min(s),
                (Some(q), None) => q,
                (None, Some(s)) => s,
                (None, None) => break,
            };
            if t > until {
                break;
            }
            if t > self.clock.now() {
                self.clock.set(t);
            }
            // At one instant: the sweeper pass first (it may enqueue touches due now), then the queue.
            if s == Some(t) && q.is_none_or(|q| q >= t) {
                self.last_sweep = Some(t);
                self.stats.sweeps += 1;
                if let Err(e) = self.services.sweep(10_000).await {
                    tracing::warn!(error = %e, "sweep failed");
                }
                continue;
            }
            if let Some((_, touch)) = self.timeline.pop_due(t) {
                self.stats.touches_fired += 1;
                if let Err(e) = self.services.handle_touch(&touch).await {
                    tracing::warn!(lead = %touch.lead_id, step = %touch.step, error = %e, "touch failed");
                }
            }
        }
        if until > self.clock.now() {
            self.clock.set(until);
        }
    }

    /// Runs a whole input to `until` (default: 60 days after the last event).
    pub async fn run(&mut self, input: &[InputLine], until: Option<DateTime<Utc>>) {
        let Some(last) = input.last() else { return };
        let until = until.unwrap_or(last.at + DEFAULT_HORIZON);
        for line in input {
            if line.at > until {
                tracing::warn!("input lines after --until are not replayed");
                break;
            }
            // Touches due before this event happen first; events win ties (a reply cancels a due follow-up).
            self.advance_to(line.at - Duration::milliseconds(1)).await;
            if line.at > self.clock.now() {
                self.clock.set(line.at);
            }
            self.post_webhook(&line.body).await;
        }
        self.advance_to(until).await;
    }

    /// Output lines recorded so far (taken).
    pub fn take_output(&self) -> Vec<OutputLine> {
        self.sink.drain()
    }

    /// Every stored lead id.
    pub async fn lead_ids(&self) -> Vec<cadence_core::ids::LeadId> {
        self.store.list().await.unwrap_or_default()
    }
}

/// Runs `cadence replay` on input text, returning the output lines.
pub async fn replay(
    text: &str,
    opts: SimOptions,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<OutputLine>, InputError> {
    let input = parse_input(text)?;
    let Some(first) = input.first() else {
        return Ok(Vec::new());
    };
    let mut sim = Simulation::new(opts, first.at);
    sim.run(&input, until).await;
    Ok(sim.take_output())
}
