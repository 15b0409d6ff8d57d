//! Embedded adapters: an in-memory lead store, a virtual clock, and a virtual timeline that plays the roles
//! of EventBridge Scheduler and SQS. Used by `cadence replay`, `cadence serve` and the tests.

use crate::ids::LeadId;
use crate::lead::{AuditRecord, Lead, TouchRef};
use crate::ports::{
    Clock, LeadStore, LeadWrite, ScheduleError, StoreError, TouchQueue, TouchScheduler, Versioned,
};
use crate::service::Services;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving rather than cascade.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct StoreState {
    leads: HashMap<LeadId, (Lead, u64)>,
    claims: HashSet<String>,
    audit: HashMap<LeadId, Vec<AuditRecord>>,
    /// The sweeper's due index: (due, lead). Mirrors the DynamoDB sparse GSI.
    due: BTreeSet<(DateTime<Utc>, LeadId)>,
    due_of: HashMap<LeadId, DateTime<Utc>>,
}

/// An in-memory [`LeadStore`] with the same semantics as the DynamoDB one (atomic claim + versioned write).
#[derive(Default)]
pub struct MemoryLeadStore {
    state: Mutex<StoreState>,
    /// Keep audit trails (off for large replays and load tests to bound memory).
    keep_audit: bool,
}

impl MemoryLeadStore {
    pub fn new(keep_audit: bool) -> Self {
        Self {
            state: Mutex::default(),
            keep_audit,
        }
    }

    /// The earliest sweeper due instant, for the virtual timeline.
    pub fn next_sweep_due(&self) -> Option<DateTime<Utc>> {
        lock(&self.state).due.iter().next().map(|(t, _)| *t)
    }

    /// Number of stored leads.
    pub fn len(&self) -> usize {
        lock(&self.state).leads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every lead (reports, demo output).
    pub fn snapshot(&self) -> Vec<Lead> {
        let st = lock(&self.state);
        let mut v: Vec<Lead> = st.leads.values().map(|(l, _)| l.clone()).collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    }
}

#[async_trait]
impl LeadStore for MemoryLeadStore {
    async fn load(&self, id: &LeadId) -> Result<Option<Versioned<Lead>>, StoreError> {
        Ok(lock(&self.state).leads.get(id).map(|(l, v)| Versioned {
            value: l.clone(),
            version: *v,
        }))
    }

    async fn save(&self, w: LeadWrite<'_>) -> Result<u64, StoreError> {
        let mut st = lock(&self.state);
        if let Some(k) = w.inbound_claim {
            if st.claims.contains(k) {
                return Err(StoreError::Duplicate);
            }
        }
        let current = st.leads.get(&w.lead.id).map(|(_, v)| *v);
        if current != w.expected_version {
            return Err(StoreError::Conflict);
        }
        let version = current.map_or(1, |v| v + 1);
        if let Some(k) = w.inbound_claim {
            st.claims.insert(k.to_string());
        }
        let id = w.lead.id.clone();
        if let Some(old) = st.due_of.remove(&id) {
            st.due.remove(&(old, id.clone()));
        }
        if let Some(due) = Services::sweep_due(w.lead) {
            st.due.insert((due, id.clone()));
            st.due_of.insert(id.clone(), due);
        }
        if self.keep_audit && !w.audit.is_empty() {
            st.audit
                .entry(id.clone())
                .or_default()
                .extend_from_slice(w.audit);
        }
        st.leads.insert(id, (w.lead.clone(), version));
        Ok(version)
    }

    async fn claim_inbound(&self, key: &str) -> Result<(), StoreError> {
        if lock(&self.state).claims.insert(key.to_string()) {
            Ok(())
        } else {
            Err(StoreError::Duplicate)
        }
    }

    async fn due_for_sweep(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadId>, StoreError> {
        Ok(lock(&self.state)
            .due
            .iter()
            .take_while(|(t, _)| *t < until)
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect())
    }

    async fn audit(&self, id: &LeadId) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(lock(&self.state).audit.get(id).cloned().unwrap_or_default())
    }

    async fn list(&self) -> Result<Vec<LeadId>, StoreError> {
        let mut ids: Vec<LeadId> = lock(&self.state).leads.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }

    async fn delete(&self, id: &LeadId) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        st.leads.remove(id);
        st.audit.remove(id);
        if let Some(old) = st.due_of.remove(id) {
            st.due.remove(&(old, id.clone()));
        }
        Ok(())
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct VirtualClock(AtomicI64);

impl VirtualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        VirtualClock(AtomicI64::new(at.timestamp_millis()))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.0.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0.load(Ordering::SeqCst))
            .single()
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct TimelineState {
    /// (visible at, sequence) → touch. The sequence keeps equal instants in insertion order.
    heap: BinaryHeap<Reverse<(DateTime<Utc>, u64, TouchRefKey)>>,
    seq: u64,
    /// Live timers by schedule name: cancelled ones are skipped when they come up.
    timers: BTreeMap<String, (DateTime<Utc>, u64)>,
    /// Everything scheduled, for inspection: name → (due, zone).
    scheduled: BTreeMap<String, (DateTime<Utc>, Tz)>,
    schedule_calls: u64,
    cancel_calls: u64,
    enqueue_calls: u64,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TouchRefKey {
    lead: LeadId,
    plan: u32,
    step: String,
    /// Timer name when fired by a timer (checked against cancellations).
    timer: Option<String>,
}

/// Scheduler and queue on a virtual timeline: timers fire into the queue at their due instant; queued touches
/// become visible after their delay. [`VirtualTimeline::pop_due`] hands them out in time order.
pub struct VirtualTimeline {
    clock: std::sync::Arc<dyn Clock>,
    state: Mutex<TimelineState>,
}

impl VirtualTimeline {
    pub fn new(clock: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::default(),
        }
    }

    /// The earliest instant something becomes due.
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        let mut st = lock(&self.state);
        loop {
            let top = st
                .heap
                .peek()
                .map(|Reverse((t, s, k))| (*t, *s, k.clone()))?;
            if let Some(name) = &top.2.timer {
                if st.timers.get(name).map(|(_, s)| *s) != Some(top.1) {
                    st.heap.pop();
                    continue;
                }
            }
            return Some(top.0);
        }
    }

    /// Removes and returns the next touch visible at or before `until`.
    pub fn pop_due(&self, until: DateTime<Utc>) -> Option<(DateTime<Utc>, TouchRef)> {
        let mut st = lock(&self.state);
        loop {
            let Reverse((t, s, k)) = st.heap.peek()?.clone();
            if t > until {
                return None;
            }
            st.heap.pop();
            if let Some(name) = &k.timer {
                if st.timers.get(name).map(|(_, seq)| *seq) != Some(s) {
                    continue;
                }
                // ActionAfterCompletion: DELETE.
                st.timers.remove(name);
            }
            return Some((t, TouchRef::new(k.lead, k.plan, k.step)));
        }
    }

    /// (schedule, cancel, enqueue) call counts, for the cost model.
    pub fn call_counts(&self) -> (u64, u64, u64) {
        let st = lock(&self.state);
        (st.schedule_calls, st.cancel_calls, st.enqueue_calls)
    }

    /// Timers currently pending: name → (due, zone).
    pub fn pending_timers(&self) -> Vec<(String, DateTime<Utc>, Tz)> {
        let st = lock(&self.state);
        st.timers
            .keys()
            .filter_map(|n| st.scheduled.get(n).map(|(d, z)| (n.clone(), *d, *z)))
            .collect()
    }

    fn push(
        &self,
        st: &mut TimelineState,
        at: DateTime<Utc>,
        touch: &TouchRef,
        timer: Option<String>,
    ) -> u64 {
        st.seq += 1;
        let seq = st.seq;
        st.heap.push(Reverse((
            at,
            seq,
            TouchRefKey {
                lead: touch.lead_id.clone(),
                plan: touch.plan,
                step: touch.step.clone(),
                timer,
            },
        )));
        seq
    }
}

#[async_trait]
impl TouchScheduler for VirtualTimeline {
    async fn schedule(
        &self,
        touch: &TouchRef,
        due: DateTime<Utc>,
        tz: Tz,
    ) -> Result<(), ScheduleError> {
        let name = touch.schedule_name();
        let mut st = lock(&self.state);
        st.schedule_calls += 1;
        if st.timers.contains_key(&name) {
            return Ok(());
        }
        let seq = self.push(&mut st, due, touch, Some(name.clone()));
        st.timers.insert(name.clone(), (due, seq));
        st.scheduled.insert(name, (due, tz));
        Ok(())
    }

    async fn cancel(&self, touch: &TouchRef) -> Result<(), ScheduleError> {
        let mut st = lock(&self.state);
        st.cancel_calls += 1;
        st.timers.remove(&touch.schedule_name());
        Ok(())
    }
}

#[async_trait]
impl TouchQueue for VirtualTimeline {
    async fn enqueue(&self, touch: &TouchRef, delay: Duration) -> Result<(), ScheduleError> {
        let at = self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let mut st = lock(&self.state);
        st.enqueue_calls += 1;
        self.push(&mut st, at, touch, None);
        Ok(())
    }
}
