//! Application services: the webhook, send-worker and sweeper use cases, over the ports.
//!
//! Each use case reads a lead, asks the engine, writes the result with a version check (retrying on a
//! concurrent change), then carries out what was decided: deliveries, timers, notifications. The write always
//! comes first, so a crash leaves at worst a planned touch without a timer, which the sweeper repairs, or a
//! claimed touch whose outcome is unknown, which is never sent again.

use crate::account::{Account, Accounts};
use crate::cadence::Cadence;
use crate::engine::{self, Command, Ctx, Decision, Event};
use crate::ids::{Channel, LeadId};
use crate::inbound::InboundEvent;
use crate::lead::{Lead, PlannedTouch, TouchRef, TouchState};
use crate::outbound::Delivery;
use crate::ports::{
    ChannelSender, Clock, EmailSender, LeadStore, LeadWrite, NewsletterSink, Notifier,
    ScheduleError, SendFailure, StoreError, TaskSink, TouchQueue, TouchScheduler, Versioned,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Touches due within this go straight to the queue with a delay (SQS allows up to 15 minutes).
pub const QUEUE_HORIZON: Duration = Duration::minutes(15);
/// A claim older than this means the worker died mid-send.
pub const STALE_CLAIM: Duration = Duration::minutes(15);
/// A timer-fired touch still planned this long after its due time lost its timer; the sweeper fires it.
pub const REPAIR_GRACE: Duration = Duration::minutes(30);
/// The longest Meta keeps retrying a webhook (WhatsApp: 7 days).
pub const MAX_DELIVERY_DELAY: Duration = Duration::days(7);
/// How often a use case retries, in-process, a throttled write or timer call that follows a committed change.
const MAX_RESULT_WRITES: usize = 3;
/// How often a use case re-reads and re-decides after a concurrent change.
const MAX_CONFLICT_RETRIES: usize = 8;

/// Why a use case did not complete. `Retry` asks the caller's transport to deliver again later.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("retry later: {reason}")]
    Retry {
        reason: String,
        after: Option<std::time::Duration>,
    },
    #[error("unknown cadence `{0}`")]
    UnknownCadence(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

impl ServiceError {
    /// Whether redelivering the same input may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ServiceError::Retry { .. }
                | ServiceError::Store(StoreError::Throttled | StoreError::Unexpected(_))
                | ServiceError::Schedule(ScheduleError::Throttled | ScheduleError::Unexpected(_))
        )
    }
}

/// What happened to an inbound event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    /// Applied to this lead.
    Applied(LeadId),
    /// Already applied earlier (a retried delivery).
    Duplicate,
    /// Nothing to do (no lead, no account, an event that starts nothing).
    Ignored(&'static str),
}

/// What happened to a fired touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TouchOutcome {
    /// Delivered on this path.
    Sent(String),
    /// Decided and skipped (recorded with its reason), or failed for good.
    Done,
    /// Not current any more (replaced, claimed elsewhere, lead stopped).
    Dropped,
}

/// One sweeper pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub examined: usize,
    pub enqueued: usize,
    pub repaired: usize,
}

/// What a data-deletion request removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeletionReport {
    /// Leads that existed and were deleted with everything stored about them.
    pub deleted: Vec<LeadId>,
    /// (account, channel) identities looked up.
    pub checked: usize,
}

/// The cadences a deployment knows, by id.
#[derive(Debug, Clone, Default)]
pub struct CadenceSet(BTreeMap<String, Cadence>);

impl CadenceSet {
    /// The three built-ins.
    pub fn builtins() -> Self {
        let mut m = BTreeMap::new();
        for id in Cadence::builtin_ids() {
            if let Some(c) = Cadence::builtin(id) {
                m.insert(id.to_string(), c);
            }
        }
        CadenceSet(m)
    }

    /// Adds (or replaces) a cadence.
    pub fn insert(&mut self, c: Cadence) {
        self.0.insert(c.id.clone(), c);
    }

    pub fn get(&self, id: &str) -> Option<&Cadence> {
        self.0.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }
}

/// Everything the use cases need.
#[derive(Clone)]
pub struct Services {
    pub cadences: Arc<CadenceSet>,
    pub accounts: Arc<Accounts>,
    pub store: Arc<dyn LeadStore>,
    pub scheduler: Arc<dyn TouchScheduler>,
    pub queue: Arc<dyn TouchQueue>,
    pub dm: Arc<dyn ChannelSender>,
    pub email: Arc<dyn EmailSender>,
    pub tasks: Arc<dyn TaskSink>,
    pub newsletter: Arc<dyn NewsletterSink>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
}

impl Services {
    fn ctx_for(&self, lead: &Lead) -> Result<(Ctx<'_>, &Account), ServiceError> {
        let account = self
            .accounts
            .get(&lead.account)
            .or_else(|| self.accounts.resolve(lead.channel, &lead.business_id))
            .ok_or_else(|| ServiceError::UnknownCadence(format!("account {}", lead.account)))?;
        let cadence = self
            .cadences
            .get(&lead.cadence)
            .ok_or_else(|| ServiceError::UnknownCadence(lead.cadence.clone()))?;
        Ok((Ctx { cadence, account }, account))
    }

    /// Finds the lead an event belongs to: every identity the event carries is tried in turn.
    async fn find_lead(
        &self,
        account: &Account,
        ev: &InboundEvent,
    ) -> Result<Option<Versioned<Lead>>, ServiceError> {
        for identity in ev.user.identities() {
            let id = LeadId::derive(&account.id, ev.channel, identity);
            if let Some(l) = self.store.load(&id).await? {
                return Ok(Some(l));
            }
        }
        Ok(None)
    }

    /// Webhook use case: applies one inbound event, exactly once in effect.
    pub async fn handle_inbound(&self, ev: &InboundEvent) -> Result<InboundOutcome, ServiceError> {
        let ev = &self.effective_time(ev);
        let Some(account) = self.accounts.resolve(ev.channel, &ev.account) else {
            tracing::info!(channel = %ev.channel, kind = ev.kind.name(), "event for an unknown account");
            return Ok(InboundOutcome::Ignored("unknown_account"));
        };
        for _ in 0..MAX_CONFLICT_RETRIES {
            let now = self.clock.now();
            let found = self.find_lead(account, ev).await?;
            let (lead, version) = match found {
                Some(v) => (v.value, Some(v.version)),
                None => {
                    let cadence_id = account.cadence_for(ev.channel);
                    let cadence = self
                        .cadences
                        .get(cadence_id)
                        .ok_or_else(|| ServiceError::UnknownCadence(cadence_id.to_string()))?;
                    let ctx = Ctx { cadence, account };
                    let Some(identity) = ev.user.identities().next() else {
                        return Ok(InboundOutcome::Ignored("no_user_id"));
                    };
                    if !engine::starts_cadence(ctx, ev) {
                        return Ok(InboundOutcome::Ignored("no_lead"));
                    }
                    let id = LeadId::derive(&account.id, ev.channel, identity);
                    (engine::new_lead(ctx, id, ev, now), None)
                }
            };
            let (ctx, _) = self.ctx_for(&lead)?;
            let d = engine::decide(ctx, &lead, &Event::Inbound(ev), now);
            match self.save(version, &d, Some(&ev.dedupe_key)).await {
                Ok(()) => {
                    tracing::info!(lead = %d.lead.id, kind = ev.kind.name(), status = d.lead.status.as_str(), "inbound applied");
                    // The event is stored and claimed: Meta's redelivery would be a duplicate and would not
                    // queue the touch again, so a throttled timer or queue call is retried here (every step
                    // is idempotent) rather than left to the sweeper's lost-timer repair, 30 minutes late.
                    let mut attempts = 0;
                    loop {
                        match self.after_write(&lead, version.is_some(), &d).await {
                            Ok(()) => break,
                            Err(e) if e.is_retryable() && attempts < MAX_RESULT_WRITES => {
                                attempts += 1;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    return Ok(InboundOutcome::Applied(d.lead.id));
                }
                Err(StoreError::Duplicate) => return Ok(InboundOutcome::Duplicate),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Retry {
            reason: "lead kept changing".into(),
            after: None,
        })
    }

    /// Meta's timestamp is when the person acted, and anchors the messaging window. A timestamp in the future,
    /// or older than any retry Meta makes (WhatsApp retries for 7 days), cannot be that, so the receipt time is
    /// used instead.
    fn effective_time(&self, ev: &InboundEvent) -> InboundEvent {
        let now = self.clock.now();
        let mut ev = ev.clone();
        if ev.at > now || now - ev.at > MAX_DELIVERY_DELAY {
            ev.at = now;
        }
        ev
    }

    async fn save(
        &self,
        version: Option<u64>,
        d: &Decision,
        claim: Option<&str>,
    ) -> Result<(), StoreError> {
        self.store
            .save(LeadWrite {
                lead: &d.lead,
                expected_version: version,
                inbound_claim: claim,
                audit: &d.audit,
            })
            .await
            .map(|_| ())
    }

    /// After a successful write: timers for the new pending touch, cancellation of the old one, notifications.
    async fn after_write(
        &self,
        before: &Lead,
        existed: bool,
        d: &Decision,
    ) -> Result<(), ServiceError> {
        let old = existed.then_some(before.next.as_ref()).flatten();
        let new = d.lead.next.as_ref();
        let same = |a: &PlannedTouch, b: &PlannedTouch| a.plan == b.plan && a.step == b.step;
        if let Some(o) = old {
            let replaced = new.is_none_or(|n| !same(o, n));
            if replaced && o.state == TouchState::Planned && !o.kind.via_sweeper() {
                self.scheduler
                    .cancel(&TouchRef::new(before.id.clone(), o.plan, o.step.clone()))
                    .await?;
            }
        }
        if let Some(n) = new {
            // A released claim (a retryable send failure: the same touch, Sending → Planned) is not dispatched
            // again: the transport that delivered it redelivers it (SQS, bounded by the queue's receive count),
            // and a second message per failure would multiply retries past that bound.
            let fresh = old.is_none_or(|o| !same(o, n));
            if fresh && n.state == TouchState::Planned {
                self.dispatch(&d.lead, n).await?;
            }
        }
        for n in &d.notifications {
            if let Err(e) = self.notifier.notify(n).await {
                tracing::warn!(lead = %n.lead, kind = %n.kind, error = %e, "notification failed");
            }
        }
        Ok(())
    }

    /// Hands a planned touch to the queue (soon), the sweeper (long tail) or a one-off timer (later).
    async fn dispatch(&self, lead: &Lead, t: &PlannedTouch) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let r = TouchRef::new(lead.id.clone(), t.plan, t.step.clone());
        let wait = t.due - now;
        if wait <= QUEUE_HORIZON {
            let delay = wait.to_std().unwrap_or_default();
            self.queue.enqueue(&r, delay).await?;
        } else if !t.kind.via_sweeper() {
            self.scheduler.schedule(&r, t.due, lead.tz).await?;
        }
        Ok(())
    }

    /// Send-worker use case: delivers a fired touch if it is still the lead's current one.
    pub async fn handle_touch(&self, touch: &TouchRef) -> Result<TouchOutcome, ServiceError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let now = self.clock.now();
            let Some(v) = self.store.load(&touch.lead_id).await? else {
                return Ok(TouchOutcome::Dropped);
            };
            let (ctx, _) = self.ctx_for(&v.value)?;
            let d = engine::decide(
                ctx,
                &v.value,
                &Event::TouchDue {
                    plan: touch.plan,
                    step: &touch.step,
                },
                now,
            );
            if !d.changed {
                return Ok(TouchOutcome::Dropped);
            }
            match self.save(Some(v.version), &d, None).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
            if d.deliveries.is_empty() {
                // Skipped (recorded with its reason) or dropped: carry out the successor plan.
                self.after_write(&v.value, true, &d).await?;
                return Ok(
                    if d.lead
                        .next
                        .as_ref()
                        .is_some_and(|n| n.step == touch.step && n.plan == touch.plan)
                    {
                        TouchOutcome::Dropped
                    } else {
                        TouchOutcome::Done
                    },
                );
            }
            return self.deliver(touch, d, v.version + 1).await;
        }
        Err(ServiceError::Retry {
            reason: "lead kept changing".into(),
            after: None,
        })
    }

    /// Sends a claimed touch's deliveries and records the result.
    async fn deliver(
        &self,
        touch: &TouchRef,
        mut d: Decision,
        mut version: u64,
    ) -> Result<TouchOutcome, ServiceError> {
        loop {
            let mut ids = Vec::new();
            let mut failure = None;
            for del in &d.deliveries {
                match self.send_one(touch, del).await {
                    Ok(id) => ids.push(id),
                    Err(e) => {
                        if !ids.is_empty() {
                            // Never resend the parts that went out; the engine decides about the rest.
                            tracing::warn!(lead = %touch.lead_id, step = %touch.step, error = e.code(), "partial delivery");
                        }
                        failure = Some(e);
                        break;
                    }
                }
            }
            let path = d
                .lead
                .next
                .as_ref()
                .and_then(|n| n.path.clone())
                .unwrap_or_default();
            let event = match &failure {
                None => Event::Sent {
                    plan: touch.plan,
                    step: &touch.step,
                    provider_ids: ids,
                },
                Some(f) => Event::Failed {
                    plan: touch.plan,
                    step: &touch.step,
                    failure: f.clone(),
                    delivered: ids,
                },
            };
            // Record the result; on a concurrent change re-read and apply the same result to the new state.
            let mut lead = d.lead.clone();
            let mut result_attempts = 0;
            let result = loop {
                let (ctx, _) = self.ctx_for(&lead)?;
                let r = engine::decide(ctx, &lead, &event, self.clock.now());
                match self.save(Some(version), &r, None).await {
                    Ok(()) => break r,
                    // The send happened: a throttled result write is retried here rather than left to the
                    // stale-claim repair, which would record the outcome as unknown 15 minutes late.
                    Err(StoreError::Throttled | StoreError::Unexpected(_))
                        if result_attempts < MAX_RESULT_WRITES =>
                    {
                        result_attempts += 1;
                    }
                    Err(StoreError::Conflict) => {
                        let Some(v) = self.store.load(&touch.lead_id).await? else {
                            return Ok(TouchOutcome::Dropped);
                        };
                        lead = v.value;
                        version = v.version;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            version += 1;
            // A result that changes nothing was recorded already: our own write landed and only its answer was
            // lost. The successor it planned still needs its timer, so compare against the claimed state.
            let before = if result.changed { &lead } else { &d.lead };
            self.after_write(before, true, &result).await?;
            match failure {
                None => {
                    tracing::info!(lead = %touch.lead_id, step = %touch.step, path = %path, "touch sent");
                    return Ok(TouchOutcome::Sent(path));
                }
                Some(SendFailure::Retryable {
                    reason,
                    retry_after,
                }) => {
                    let released = result.lead.next.as_ref().is_some_and(|n| {
                        n.plan == touch.plan
                            && n.step == touch.step
                            && n.state == TouchState::Planned
                    });
                    if !released {
                        // Out of attempts (recorded with its reason), or the lead moved on: nothing to retry.
                        tracing::info!(lead = %touch.lead_id, step = %touch.step, "touch given up");
                        return Ok(TouchOutcome::Done);
                    }
                    return Err(ServiceError::Retry {
                        reason,
                        after: retry_after,
                    });
                }
                Some(f) => {
                    tracing::info!(lead = %touch.lead_id, step = %touch.step, failure = f.code(), "touch failed");
                    if result.deliveries.is_empty() {
                        return Ok(TouchOutcome::Done);
                    }
                    // The window closed under us: the engine chose a fallback path; send that.
                    d = result;
                }
            }
        }
    }

    async fn send_one(&self, touch: &TouchRef, d: &Delivery) -> Result<String, SendFailure> {
        let r = match d {
            Delivery::Dm(m) => self.dm.send_dm(touch, m).await?,
            Delivery::Email(e) => self.email.send_email(touch, e).await?,
            Delivery::Task(t) => self.tasks.create_task(touch, t).await?,
            Delivery::Newsletter(n) => self.newsletter.handoff(touch, n).await?,
        };
        Ok(r.provider_id)
    }

    /// Sweeper use case: fires touches due before the next pass, and repairs lost timers and stale claims.
    pub async fn sweep(&self, limit: usize) -> Result<SweepReport, ServiceError> {
        let now = self.clock.now();
        let mut report = SweepReport::default();
        let ids = self.store.due_for_sweep(now + QUEUE_HORIZON, limit).await?;
        for id in ids {
            report.examined += 1;
            let Some(v) = self.store.load(&id).await? else {
                continue;
            };
            let Some(t) = v.value.next.clone() else {
                continue;
            };
            match t.state {
                TouchState::Sending { since } if since + STALE_CLAIM <= now => {
                    let (ctx, _) = self.ctx_for(&v.value)?;
                    let d = engine::decide(ctx, &v.value, &Event::StaleClaim, now);
                    match self.save(Some(v.version), &d, None).await {
                        Ok(()) => {
                            report.repaired += 1;
                            self.after_write(&v.value, true, &d).await?;
                        }
                        Err(StoreError::Conflict) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                TouchState::Planned if t.due < now + QUEUE_HORIZON => {
                    let due_by_timer = !t.kind.via_sweeper();
                    if due_by_timer && t.due + REPAIR_GRACE > now {
                        continue;
                    }
                    let r = TouchRef::new(id.clone(), t.plan, t.step.clone());
                    let delay = (t.due - now).to_std().unwrap_or_default();
                    self.queue.enqueue(&r, delay).await?;
                    report.enqueued += 1;
                    if due_by_timer {
                        report.repaired += 1;
                        tracing::warn!(lead = %id, step = %t.step, "timer lost; fired by the sweeper");
                    }
                }
                _ => {}
            }
        }
        Ok(report)
    }

    /// Operator use case: applies a command to a lead.
    pub async fn command(&self, id: &LeadId, c: Command) -> Result<Option<Lead>, ServiceError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(v) = self.store.load(id).await? else {
                return Ok(None);
            };
            let (ctx, _) = self.ctx_for(&v.value)?;
            let d = engine::decide(ctx, &v.value, &Event::Command(c.clone()), self.clock.now());
            if !d.changed {
                return Ok(Some(d.lead));
            }
            match self.save(Some(v.version), &d, None).await {
                Ok(()) => {
                    self.after_write(&v.value, true, &d).await?;
                    return Ok(Some(d.lead));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Retry {
            reason: "lead kept changing".into(),
            after: None,
        })
    }

    /// Data-deletion use case (Meta's Data Deletion Request Callback): deletes every lead of the person with this
    /// app-scoped user id, with its pending touch timer, audit trail and every other item stored about it.
    ///
    /// The id is scoped to the app, not to an account or channel, so every (account, channel) identity is tried.
    /// Idempotent: a second request for the same person finds nothing and succeeds. A timer that cannot be
    /// cancelled is harmless (its touch finds no lead and is dropped), so only store failures are errors.
    pub async fn delete_user(&self, user_id: &str) -> Result<DeletionReport, ServiceError> {
        let mut report = DeletionReport::default();
        let user_id = user_id.trim();
        if user_id.is_empty() {
            return Ok(report);
        }
        for account in self.accounts.all() {
            for channel in [Channel::Instagram, Channel::Messenger, Channel::Whatsapp] {
                let id = LeadId::derive(&account.id, channel, user_id);
                report.checked += 1;
                let existing = self.store.load(&id).await?;
                if let Some(t) = existing.as_ref().and_then(|v| v.value.next.as_ref()) {
                    let r = TouchRef::new(id.clone(), t.plan, t.step.clone());
                    if let Err(e) = self.scheduler.cancel(&r).await {
                        tracing::warn!(lead = %id, error = %e, "timer not cancelled on deletion");
                    }
                }
                // Always delete: it also removes items left without a lead item (an audit trail).
                self.store.delete(&id).await?;
                if existing.is_some() {
                    tracing::info!(lead = %id, "lead deleted on request");
                    report.deleted.push(id);
                }
            }
        }
        Ok(report)
    }

    /// The instant the sweeper should next look at a lead (for the due index).
    pub fn sweep_due(lead: &Lead) -> Option<DateTime<Utc>> {
        let next = lead.next.as_ref()?;
        match next.state {
            TouchState::Sending { since } => Some(since + STALE_CLAIM),
            TouchState::Planned if next.kind.via_sweeper() => Some(next.due),
            TouchState::Planned => Some(next.due + REPAIR_GRACE),
        }
    }
}
