//! The decision engine: for a lead and an event, the lead's next state, what to deliver now, and why.
//!
//! Pure: `now` is an argument, nothing is read or written. Every rule of the playbook lives here:
//! - main steps answer the lead at once (never held for quiet hours);
//! - after each main step a no-reply chain follows (+4 h, +23 h, keyed to where the lead stalled), then the
//!   long tail counted from first contact (+7/+14/+30 d), then the end action;
//! - a lead has at most one pending touch; every message from the lead replaces it;
//! - proactive touches respect quiet hours, 4-hour spacing and the touch limit, and are pulled inside a
//!   closing Instagram/Messenger window; at delivery the window decides free-form, WhatsApp template, fallback
//!   (email, human task) or a recorded skip;
//! - booking, opt-out and the end stop everything; a deferral pauses until a date; an objection or a human
//!   in the inbox hands the lead to a person.

use crate::account::Account;
use crate::cadence::{
    pick_arm, Arm, Cadence, Content, Fallback, Template, TouchChannel, Trigger, Variants,
    HANDOFF_RESUME_STEP,
};
use crate::ids::{Channel, LeadId};
use crate::inbound::{InboundEvent, InboundKind};
use crate::lead::{
    AuditRecord, Lead, Origin, PlannedTouch, SentTouch, Status, TouchKind, TouchState,
};
use crate::outbound::{
    Choice, Delivery, DmBody, DmMessage, EmailMessage, HumanTask, MessagingType, NewsletterHandoff,
    Recipient,
};
use crate::ports::SendFailure;
use crate::render::{first_name, render, Values};
use crate::reply::{self, Intent, OptionSpec, ReplyContext};
use crate::slots::{pick_slots, slot_label};
use crate::timing::{
    last_allowed, local_instant, next_allowed, zone_from_phone, WINDOW, WINDOW_MARGIN,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Spacing between unanswered touches, and the shortest no-reply delay.
pub const MIN_GAP: Duration = Duration::hours(4);
/// Echoes from Meta's own inbox apps are a human typing (Page Inbox / Business Suite).
const INBOX_APP_IDS: &[&str] = &["263902037430900", "26390203743090"];
/// Prefix of the tag we attach to our sends (Messenger `metadata`, WhatsApp `biz_opaque_callback_data`).
pub const SEND_TAG_PREFIX: &str = "cadence:";

/// What the engine decides with: the lead's cadence and account.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub cadence: &'a Cadence,
    pub account: &'a Account,
}

/// Operator commands (CLI, booking webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Pause automation until an instant (or indefinitely).
    Pause { until: Option<DateTime<Utc>> },
    /// Resume automation from where the lead is.
    Resume,
    /// Stop the cadence for good.
    Stop,
    /// Hand the thread to a person.
    Handoff,
    /// A booking tool reports a booking (created) or its cancellation.
    Booking { created: bool },
}

/// What the engine is asked about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    Inbound(&'a InboundEvent),
    /// A timer or queue message fired for the touch `(plan, step)`.
    TouchDue {
        plan: u32,
        step: &'a str,
    },
    /// Every delivery of the claimed touch went out.
    Sent {
        plan: u32,
        step: &'a str,
        provider_ids: Vec<String>,
    },
    /// A delivery of the claimed touch failed; `delivered` holds the provider ids of the parts that went out
    /// before it (a text before its file).
    Failed {
        plan: u32,
        step: &'a str,
        failure: SendFailure,
        delivered: Vec<String>,
    },
    /// The claim on the pending touch is older than any send could take: the worker died mid-send.
    StaleClaim,
    Command(Command),
}

/// A notice for people (handoff, booking), sent through the notifier; never to the lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub lead: LeadId,
    /// `handoff`, `booked`, `booking_cancelled`.
    pub kind: String,
    /// Machine-readable reason (`objection_price`, `human_echo`, `slot_picked` …).
    pub reason: String,
    /// Short summary for the person picking it up (step reached, answers, slot); no message text.
    pub summary: String,
    /// When it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cadence: String,
    #[serde(default)]
    pub channel: String,
    /// The last main step the lead got (`qualify`, `call_ask` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Answers by step (`qualify` → `b`): option keys, never the lead's words.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub answers: std::collections::BTreeMap<String, String>,
    /// Kind of the lead's last inbound event (`message`, `reaction`, `read` …) and when it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<DateTime<Utc>>,
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The lead's new state (write it with the version it was read at).
    pub lead: Lead,
    /// For `TouchDue`: what to deliver now, in order. The touch is claimed (`Sending`) in `lead`.
    pub deliveries: Vec<Delivery>,
    pub notifications: Vec<Notification>,
    pub audit: Vec<AuditRecord>,
    /// Whether `lead` differs from the input (a no-op needs no write).
    pub changed: bool,
}

/// Can this event start a cadence for someone we do not know (or whose last run ended)?
pub fn starts_cadence(ctx: Ctx<'_>, ev: &InboundEvent) -> bool {
    match &ev.kind {
        InboundKind::Message(m) => {
            // A lone STOP from a stranger starts nothing (it still creates an opted-out record).
            // Even a lone STOP creates the lead, so the opt-out is on record before anything is sent.
            let _ = m;
            true
        }
        InboundKind::Postback { .. } | InboundKind::Referral(_) => true,
        InboundKind::Comment { text, .. } => {
            ev.channel == Channel::Instagram && ctx.account.comment_matches(text)
        }
        _ => false,
    }
}

/// How often a touch is tried when every try fails retryably (throttling, 5xx, timeouts before the request
/// left). SQS redelivers a message 5 times before its DLQ and the sweeper re-fires a planned touch it finds
/// overdue, so without a cap a touch could be retried for ever; after the last try it is recorded as
/// `failed:retries_exhausted` and the cadence moves on.
pub const MAX_SEND_ATTEMPTS: u32 = 10;

/// Payload prefix of slot choices (`SLOT_1` …).
pub const SLOT_PAYLOAD_PREFIX: &str = "SLOT_";

/// A new lead for a first-contact event. Call [`decide`] with the same event next.
pub fn new_lead(ctx: Ctx<'_>, id: LeadId, ev: &InboundEvent, now: DateTime<Utc>) -> Lead {
    let tz = ev
        .user
        .id
        .as_deref()
        .filter(|_| ev.channel == Channel::Whatsapp)
        .and_then(zone_from_phone)
        .unwrap_or(ctx.account.timezone);
    Lead {
        id,
        account: ctx.account.id.clone(),
        channel: ev.channel,
        business_id: ev.account.clone(),
        user: ev.user.clone(),
        name: ev.profile_name.clone(),
        email: None,
        tz,
        cadence: ctx.cadence.id.clone(),
        status: Status::Finished,
        origin: Origin::Message,
        topic: None,
        stage: None,
        answers: Default::default(),
        ab: Default::default(),
        offered_slots: Vec::new(),
        first_contact_at: ev.at.min(now),
        last_inbound_at: None,
        last_message_at: None,
        last_proactive_at: None,
        last_outbound_at: None,
        proactive_count: 0,
        plan: 0,
        next: None,
        sent: Default::default(),
        paused_until: None,
        deferral_label: None,
        window_closed_at: None,
        booked_slot: None,
        status_reason: Some("new".into()),
        status_at: Some(now),
        run: 0,
        created_at: now,
        updated_at: now,
    }
}

/// Decides what `event` means for `lead` at `now`.
pub fn decide(ctx: Ctx<'_>, lead: &Lead, event: &Event<'_>, now: DateTime<Utc>) -> Decision {
    let mut d = Draft {
        ctx,
        lead: lead.clone(),
        now,
        deliveries: Vec::new(),
        notifications: Vec::new(),
        audit: Vec::new(),
        activity: None,
    };
    match event {
        Event::Inbound(ev) => d.inbound(ev),
        Event::TouchDue { plan, step } => d.touch_due(*plan, step),
        Event::Sent {
            plan,
            step,
            provider_ids,
        } => d.sent(*plan, step, provider_ids),
        Event::Failed {
            plan,
            step,
            failure,
            delivered,
        } => d.failed(*plan, step, failure, delivered),
        Event::StaleClaim => d.stale_claim(),
        Event::Command(c) => d.command(c),
    }
    let changed = d.lead != *lead;
    if changed {
        d.lead.updated_at = now;
    }
    Decision {
        lead: d.lead,
        deliveries: d.deliveries,
        notifications: d.notifications,
        audit: d.audit,
        changed,
    }
}

/// Working state of one decision.
struct Draft<'a> {
    ctx: Ctx<'a>,
    lead: Lead,
    now: DateTime<Utc>,
    deliveries: Vec<Delivery>,
    notifications: Vec<Notification>,
    audit: Vec<AuditRecord>,
    /// The inbound event being decided (kind, time), for notification summaries.
    activity: Option<(String, DateTime<Utc>)>,
}

/// Where a touch's content and rules come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    Main(usize),
    FollowUp(usize),
    LongTail(usize),
    Reopen,
    DeferAck,
    OptOutConfirm,
    End,
    /// The sweeper touch that resumes a handoff nobody picked up.
    HandoffResume,
    Unknown,
}

const STEP_OPT_OUT: &str = "opt_out";
const STEP_DEFER_ACK: &str = "defer_ack";

impl<'a> Draft<'a> {
    fn log(&mut self, kind: &str, step: Option<&str>, detail: impl Into<String>) {
        self.audit
            .push(AuditRecord::new(self.now, kind, step, detail));
    }

    fn set_status(&mut self, status: Status, reason: &str) {
        if self.lead.status != status || self.lead.status_reason.as_deref() != Some(reason) {
            self.lead.status = status;
            self.lead.status_reason = Some(reason.to_string());
            self.lead.status_at = Some(self.now);
            self.log("status", None, format!("{}:{reason}", status.as_str()));
        }
    }

    fn notify(&mut self, kind: &str, reason: &str) {
        let l = &self.lead;
        let mut summary = format!(
            "cadence={} channel={} stage={} status={}",
            l.cadence,
            l.channel,
            l.stage.as_deref().unwrap_or("none"),
            l.status.as_str()
        );
        for (k, v) in &l.answers {
            summary.push_str(&format!(" {k}={v}"));
        }
        if let Some(s) = l.booked_slot {
            summary.push_str(&format!(" slot={}", s.to_rfc3339()));
        }
        // The event being decided, else the best the lead record knows: a message, or other engagement.
        let (last_inbound, last_inbound_at) = match &self.activity {
            Some((k, at)) => (Some(k.clone()), Some(*at)),
            None => match (l.last_message_at, l.last_inbound_at) {
                (Some(m), i) if i.is_none_or(|i| m >= i) => (Some("message".to_string()), Some(m)),
                (_, Some(i)) => (Some("engagement".to_string()), Some(i)),
                _ => (None, None),
            },
        };
        if let (Some(k), Some(at)) = (&last_inbound, last_inbound_at) {
            summary.push_str(&format!(" last_inbound={k}@{}", at.to_rfc3339()));
        }
        summary.push_str(&format!(" reason={reason}"));
        self.notifications.push(Notification {
            lead: l.id.clone(),
            kind: kind.into(),
            reason: reason.into(),
            summary,
            at: Some(self.now),
            cadence: l.cadence.clone(),
            channel: l.channel.to_string(),
            step: l.stage.clone(),
            answers: l.answers.clone(),
            last_inbound,
            last_inbound_at,
        });
    }

    /// With `handoff.resume_after`: (re)plans the sweeper touch that gives a silent handoff back to the
    /// cadence. Every human echo and every message from the lead pushes it back.
    fn plan_handoff_resume(&mut self, why: &str) {
        if self.lead.status != Status::HandedOff {
            return;
        }
        if let Some(after) = self.ctx.cadence.handoff.resume_after {
            let due = self.now + after;
            self.plan(HANDOFF_RESUME_STEP, TouchKind::Reopen, due, None, why);
        }
    }

    fn spec(&self, step: &str) -> Spec {
        let c = self.ctx.cadence;
        if let Some(i) = c.steps.iter().position(|s| s.id == step) {
            Spec::Main(i)
        } else if let Some(i) = c.follow_ups.iter().position(|s| s.id == step) {
            Spec::FollowUp(i)
        } else if let Some(i) = c.long_tail.iter().position(|s| s.id == step) {
            Spec::LongTail(i)
        } else if step == c.deferral.reopen_id {
            Spec::Reopen
        } else if step == STEP_DEFER_ACK {
            Spec::DeferAck
        } else if step == STEP_OPT_OUT {
            Spec::OptOutConfirm
        } else if step == c.end.id {
            Spec::End
        } else if step == HANDOFF_RESUME_STEP {
            Spec::HandoffResume
        } else {
            Spec::Unknown
        }
    }

    // ---------------------------------------------------------------- planning

    /// Replaces the pending touch (bumping the plan generation when one is replaced).
    fn plan(
        &mut self,
        step: &str,
        kind: TouchKind,
        due: DateTime<Utc>,
        stall: Option<String>,
        why: &str,
    ) {
        self.cancel_pending(why);
        self.lead.plan += 1;
        self.lead.next = Some(PlannedTouch {
            plan: self.lead.plan,
            step: step.to_string(),
            kind,
            due,
            stall,
            state: TouchState::Planned,
            path: None,
            attempts: 0,
            delivered: Vec::new(),
        });
        self.log(
            "planned",
            Some(step),
            format!("{why} due={}", due.to_rfc3339()),
        );
    }

    fn cancel_pending(&mut self, why: &str) {
        if let Some(t) = self.lead.next.take() {
            self.log("cancelled", Some(&t.step), why.to_string());
        }
    }

    fn has_pending_direct(&self) -> bool {
        matches!(&self.lead.next, Some(t) if t.kind == TouchKind::Direct)
    }

    /// Plans main step `i` as a direct answer.
    fn plan_main(&mut self, i: usize, why: &str) {
        let step = &self.ctx.cadence.steps[i];
        if self.ctx.account.high_ticket && i > 0 && i + 1 == self.ctx.cadence.steps.len() {
            // High-ticket offers: a person makes the call ask.
            self.cancel_pending(why);
            self.set_status(Status::HandedOff, "high_ticket_call_ask");
            self.notify("handoff", "high_ticket_call_ask");
            self.plan_handoff_resume("handoff_resume_after");
            return;
        }
        let due = self.now + step.delay;
        let id = step.id.clone();
        self.plan(&id, TouchKind::Direct, due, None, why);
    }

    /// Is the Instagram/Messenger/WhatsApp window open at `at`?
    fn window_open(&self, at: DateTime<Utc>) -> bool {
        let anchor = match self.lead.channel {
            Channel::Whatsapp => self.lead.last_message_at,
            _ => self.lead.last_inbound_at,
        };
        let Some(anchor) = anchor else { return false };
        if self.lead.window_closed_at.is_some_and(|c| c >= anchor) {
            return false;
        }
        at < anchor + WINDOW
    }

    /// When a proactive touch nominally due at `nominal` may go out.
    fn proactive_time(
        &mut self,
        kind: TouchKind,
        step: &str,
        nominal: DateTime<Utc>,
        dm: bool,
    ) -> DateTime<Utc> {
        let l = &self.lead;
        let q = &self.ctx.account.quiet_hours;
        let q = self.ctx.cadence.quiet_hours.as_ref().unwrap_or(q);
        let mut floor = self.now;
        // Unanswered touches stay at least 4 h apart.
        if let Some(out) = l.last_outbound_at {
            if l.last_message_at.is_none_or(|m| m < out) {
                floor = floor.max(out + MIN_GAP);
            }
        }
        let mut t = nominal.max(floor);
        if kind == TouchKind::End {
            return t;
        }
        let quiet_t = next_allowed(t, l.tz, q);
        if quiet_t != t {
            self.audit.push(AuditRecord::new(
                self.now,
                "timing",
                Some(step),
                "quiet_hours",
            ));
        }
        t = quiet_t;
        // Instagram and Messenger allow automated DMs only inside the window: pull a late follow-up in.
        let pull = dm && kind == TouchKind::NoReply && l.channel != Channel::Whatsapp;
        if pull && !self.window_open(t) {
            if let Some(anchor) = l.last_inbound_at {
                let close = anchor + WINDOW - WINDOW_MARGIN;
                let candidate = last_allowed(close, l.tz, q);
                if candidate >= floor && self.window_open(candidate) {
                    self.audit.push(AuditRecord::new(
                        self.now,
                        "timing",
                        Some(step),
                        "pulled_into_window",
                    ));
                    return candidate;
                }
            }
        }
        t
    }

    /// After a touch is done (sent, skipped or failed for good), plans what follows it.
    fn plan_after(&mut self, done: &PlannedTouch) {
        let c = self.ctx.cadence;
        match self.spec(&done.step) {
            Spec::Main(i) => {
                self.lead.stage = Some(c.steps[i].id.clone());
                self.plan_follow_up(0, c.steps[i].id.clone(), self.now);
            }
            Spec::FollowUp(i) => {
                let stall = done.stall.clone().unwrap_or_default();
                if i + 1 < c.follow_ups.len() {
                    self.plan_follow_up(i + 1, stall, self.now);
                } else {
                    self.plan_long_tail(self.now);
                }
            }
            Spec::LongTail(_) => self.plan_long_tail(self.now),
            Spec::DeferAck => {
                if let Some(until) = self.lead.paused_until {
                    let id = c.deferral.reopen_id.clone();
                    self.plan(&id, TouchKind::Reopen, until, None, "deferral_resume");
                }
            }
            Spec::Reopen => {
                let due = self.now + c.deferral.silence;
                let id = c.end.id.clone();
                self.plan(&id, TouchKind::End, due, None, "silence_after_reopen");
            }
            Spec::OptOutConfirm | Spec::HandoffResume | Spec::Unknown => {
                self.lead.next = None;
            }
            Spec::End => {
                let status = if c.end.newsletter {
                    Status::Newsletter
                } else {
                    Status::Finished
                };
                self.lead.next = None;
                self.set_status(status, "cadence_exhausted");
            }
        }
    }

    fn touch_limit_reached(&self) -> bool {
        self.lead.proactive_count >= self.ctx.cadence.max_touches
    }

    fn plan_follow_up(&mut self, i: usize, stall: String, anchor: DateTime<Utc>) {
        let c = self.ctx.cadence;
        let Some(fu) = c.follow_ups.get(i) else {
            self.plan_long_tail(anchor);
            return;
        };
        if self.touch_limit_reached() {
            self.plan_end("touch_limit");
            return;
        }
        let id = fu.id.clone();
        let due = self.proactive_time(TouchKind::NoReply, &id, anchor + fu.after, true);
        self.plan(
            &id,
            TouchKind::NoReply,
            due,
            Some(stall.clone()),
            &format!("no_reply_after:{stall}"),
        );
    }

    /// Plans the next long-tail touch whose day is still ahead, or the end.
    fn plan_long_tail(&mut self, after: DateTime<Utc>) {
        let c = self.ctx.cadence;
        let sent: Vec<&str> = self.lead.sent.iter().map(|s| s.step.as_str()).collect();
        let next = c.long_tail.iter().find(|lt| {
            !sent.contains(&lt.id.as_str()) && self.lead.first_contact_at + lt.at >= after
        });
        match next {
            Some(lt) if !self.touch_limit_reached() => {
                let id = lt.id.clone();
                let nominal = self.lead.first_contact_at + lt.at;
                let due = self.proactive_time(
                    TouchKind::LongTail,
                    &id,
                    nominal,
                    lt.channel == TouchChannel::Dm,
                );
                self.plan(&id, TouchKind::LongTail, due, None, "long_tail");
            }
            Some(_) => self.plan_end("touch_limit"),
            None => self.plan_end("long_tail_done"),
        }
    }

    fn plan_end(&mut self, why: &str) {
        let c = self.ctx.cadence;
        let base = self.lead.last_outbound_at.unwrap_or(self.now).max(self.now);
        let due = if why == "touch_limit" {
            self.now
        } else {
            base + c.end.after
        };
        let id = c.end.id.clone();
        self.plan(&id, TouchKind::End, due.max(self.now), None, why);
    }

    // ---------------------------------------------------------------- inbound

    fn inbound(&mut self, ev: &InboundEvent) {
        let l = &mut self.lead;
        if ev.profile_name.is_some() && l.name.is_none() {
            l.name = ev.profile_name.clone();
        }
        if ev.kind.opens_window() {
            l.last_inbound_at = Some(l.last_inbound_at.map_or(ev.at, |t| t.max(ev.at)));
        }
        // A WhatsApp lead who appears with a BSUID (or a number) we did not have: remember both.
        if l.user.bsuid.is_none() && ev.user.bsuid.is_some() {
            l.user.bsuid = ev.user.bsuid.clone();
        }
        if l.user.id.is_none() && ev.user.id.is_some() {
            l.user.id = ev.user.id.clone();
        }
        self.log("inbound", None, ev.kind.name().to_string());
        if ev.kind.opens_window()
            || matches!(
                ev.kind,
                InboundKind::Read { .. } | InboundKind::Comment { .. }
            )
        {
            self.activity = Some((ev.kind.name().to_string(), ev.at));
        }
        match &ev.kind {
            InboundKind::Message(m) => {
                let text = m.text.clone();
                let payload = m.payload.clone();
                if let Some(e) = text.as_deref().and_then(reply::extract_email) {
                    self.lead.email = Some(e);
                }
                if let Some(r) = &m.referral {
                    if self.lead.topic.is_none() {
                        self.lead.topic = r.headline.clone();
                    }
                    if self.lead.stage.is_none() {
                        self.lead.origin = Origin::Ad;
                    }
                }
                self.lead.last_message_at =
                    Some(self.lead.last_message_at.map_or(ev.at, |t| t.max(ev.at)));
                self.message(ev, text.as_deref(), payload.as_deref());
            }
            InboundKind::Postback {
                title,
                payload,
                referral,
            } => {
                if let Some(h) = referral.as_ref().and_then(|r| r.headline.clone()) {
                    self.lead.topic.get_or_insert(h);
                }
                self.lead.last_message_at =
                    Some(self.lead.last_message_at.map_or(ev.at, |t| t.max(ev.at)));
                let (t, p) = (title.clone(), payload.clone());
                self.message(ev, t.as_deref(), p.as_deref());
            }
            InboundKind::Referral(r) => {
                if let Some(h) = r.headline.clone() {
                    self.lead.topic.get_or_insert(h);
                }
                if self.restartable() {
                    self.start_run(ev, Origin::Message);
                }
            }
            InboundKind::Comment { comment_id, .. } => {
                if self.restartable() {
                    let origin = Origin::Comment {
                        comment_id: comment_id.clone(),
                    };
                    self.start_run(ev, origin);
                } else {
                    self.log("ignored", None, "comment_from_active_lead");
                }
            }
            InboundKind::Reaction { unreact: false, .. } | InboundKind::Read { .. } => {
                self.engaged(ev)
            }
            InboundKind::Echo {
                mid,
                app_id,
                metadata,
            } => self.echo(mid.as_deref(), app_id.as_deref(), metadata.as_deref()),
            InboundKind::SendFailed { code, .. } => match code {
                Some(131050) => self.opt_out("meta_131050", false),
                Some(131047) => {
                    self.lead.window_closed_at = Some(ev.at);
                    self.log("window", None, "meta_131047");
                }
                Some(131026) => {
                    self.cancel_pending("unreachable");
                    self.set_status(Status::Finished, "unreachable_131026");
                }
                _ => self.log("send_failed", None, format!("meta_{}", code.unwrap_or(0))),
            },
            InboundKind::Preference { stop: true } => {
                self.opt_out("whatsapp_user_preferences", false)
            }
            InboundKind::Preference { stop: false } => {
                self.log("ignored", None, "preference_resume")
            }
            InboundKind::StoryMention
            | InboundKind::Deleted { .. }
            | InboundKind::Reaction { .. }
            | InboundKind::Delivered { .. }
            | InboundKind::Acknowledged { .. }
            | InboundKind::Unknown { .. } => {}
        }
    }

    /// A lead whose last run ended (or who is new) and may start again.
    fn restartable(&self) -> bool {
        // A new lead, or one whose run ran out: a later message is new intent. Operator stops and unreachable
        // numbers stay stopped.
        match self.lead.status {
            Status::Newsletter => true,
            Status::Finished => matches!(
                self.lead.status_reason.as_deref(),
                Some("new" | "cadence_exhausted" | "touch_limit")
            ),
            _ => false,
        }
    }

    fn start_run(&mut self, ev: &InboundEvent, origin: Origin) {
        let l = &mut self.lead;
        l.run += 1;
        l.origin = origin;
        l.stage = None;
        l.answers.clear();
        l.ab.clear();
        l.offered_slots.clear();
        l.sent.clear();
        l.proactive_count = 0;
        l.last_proactive_at = None;
        l.paused_until = None;
        l.deferral_label = None;
        l.booked_slot = None;
        l.first_contact_at = ev.at.min(self.now);
        self.set_status(Status::Active, "first_contact");
        self.plan_main(0, "first_contact");
    }

    fn reply_ctx<'b>(&'b self, options: &'b [OptionSpec]) -> ReplyContext<'b> {
        ReplyContext {
            options,
            slots: &self.lead.offered_slots,
            slot_payload_prefix: SLOT_PAYLOAD_PREFIX,
            tz: self.lead.tz,
            now: self.now,
        }
    }

    /// The options awaiting an answer: those of the current stage when the next step is triggered by an answer.
    fn awaited_options(&self) -> &'a [OptionSpec] {
        let c = self.ctx.cadence;
        let Some(i) = self.lead.stage.as_deref().and_then(|s| c.step_index(s)) else {
            return &[];
        };
        match c.steps.get(i + 1) {
            Some(n) if n.trigger == Trigger::Answer => &c.steps[i].specs,
            _ => &[],
        }
    }

    fn message(&mut self, ev: &InboundEvent, text: Option<&str>, payload: Option<&str>) {
        let options = self.awaited_options();
        let slots_awaited = self.lead.stage.as_deref()
            == self.ctx.cadence.steps.last().map(|s| s.id.as_str())
            && !self.lead.offered_slots.is_empty();
        let intent = {
            let mut rc = self.reply_ctx(options);
            if !slots_awaited {
                rc.slots = &[];
            }
            reply::understand(text, payload, &rc)
        };
        match self.lead.status {
            Status::OptedOut | Status::Booked => {
                self.log(
                    "ignored",
                    None,
                    format!("message_while_{}", self.lead.status.as_str()),
                );
                return;
            }
            Status::HandedOff => {
                // A person has the thread; STOP is still honoured.
                if intent == Intent::OptOut {
                    self.opt_out("stop_keyword", true);
                } else {
                    // The conversation is alive: the silence that would resume automation starts again.
                    self.plan_handoff_resume("handoff_lead_wrote");
                }
                return;
            }
            Status::Finished | Status::Newsletter => {
                if intent == Intent::OptOut {
                    self.opt_out("stop_keyword", false);
                } else if self.restartable() {
                    let origin = if matches!(&ev.kind, InboundKind::Message(m) if m.referral.is_some())
                    {
                        Origin::Ad
                    } else {
                        Origin::Message
                    };
                    self.start_run(ev, origin);
                }
                return;
            }
            Status::Paused => {
                if intent != Intent::OptOut && !matches!(intent, Intent::Deferral { .. }) {
                    // They wrote before the date they asked for: pick the conversation up again.
                    self.lead.paused_until = None;
                    self.set_status(Status::Active, "lead_wrote_while_paused");
                }
            }
            Status::Active => {}
        }
        match intent {
            Intent::OptOut => return self.opt_out("stop_keyword", true),
            Intent::Deferral { date, label } => return self.defer(date, label),
            _ => {}
        }
        // A burst of messages before our answer went out: the pending answer already covers them.
        if self.has_pending_direct() {
            self.log("absorbed", None, "answer_pending");
            return;
        }
        let c = self.ctx.cadence;
        let stage_idx = self.lead.stage.as_deref().and_then(|s| c.step_index(s));
        let Some(si) = stage_idx else {
            // Nothing sent yet (e.g. the opener was skipped): start over with the opener.
            self.plan_main(0, "reply_before_opener");
            return;
        };
        let Some(next) = c.steps.get(si + 1) else {
            // After the call ask: a slot is a booking; anything else needs a person.
            match intent {
                Intent::SlotPick(n) => {
                    let slot = self.lead.offered_slots.get(n).copied();
                    self.lead.booked_slot = slot;
                    self.cancel_pending("booked");
                    self.set_status(Status::Booked, "slot_picked");
                    self.notify("booked", "slot_picked");
                }
                Intent::Objection(o) => self.handoff(&format!("objection_{}", objection_name(o))),
                _ => self.handoff("reply_to_call_ask"),
            }
            return;
        };
        let next_i = si + 1;
        match next.trigger {
            Trigger::Answer => {
                let key = match intent {
                    Intent::OptionPick(k) => Some(k),
                    _ => c.steps[si].otherwise.clone(),
                };
                match key {
                    Some(k) => {
                        let step_id = c.steps[si].id.clone();
                        self.log("answer", Some(&step_id), k.clone());
                        self.lead.answers.insert(step_id, k);
                        self.plan_main(next_i, "answer");
                    }
                    None => self.replan_after_plain_reply(),
                }
            }
            Trigger::Reply | Trigger::Engaged => {
                if let Intent::Objection(o) = intent {
                    return self.handoff(&format!("objection_{}", objection_name(o)));
                }
                self.plan_main(next_i, "reply");
            }
            Trigger::FirstContact => self.replan_after_plain_reply(),
        }
    }

    /// A reply that moves nothing forward still resets the no-reply chain from now.
    fn replan_after_plain_reply(&mut self) {
        let stall = self.lead.stage.clone().unwrap_or_default();
        self.plan_follow_up(0, stall, self.now);
    }

    /// A reaction or read: starts an `engaged` step, nothing else.
    fn engaged(&mut self, ev: &InboundEvent) {
        if self.lead.status != Status::Active || self.has_pending_direct() {
            return;
        }
        let c = self.ctx.cadence;
        let Some(si) = self.lead.stage.as_deref().and_then(|s| c.step_index(s)) else {
            return;
        };
        let stage_sent_at = self
            .lead
            .sent
            .iter()
            .rev()
            .find(|s| Some(s.step.as_str()) == self.lead.stage.as_deref())
            .map(|s| s.at);
        if stage_sent_at.is_some_and(|t| ev.at < t - Duration::seconds(5)) {
            // Engagement with something older than the current step.
            return;
        }
        if let Some(n) = c.steps.get(si + 1) {
            if n.trigger == Trigger::Engaged {
                self.plan_main(si + 1, "engaged");
            }
        }
    }

    fn echo(&mut self, mid: Option<&str>, app_id: Option<&str>, metadata: Option<&str>) {
        let ours = metadata.is_some_and(|m| m.starts_with(SEND_TAG_PREFIX))
            || mid.is_some_and(|m| self.lead.sent_provider_id(m))
            || match (app_id, self.ctx.account.app_id.as_deref()) {
                (Some(a), Some(own)) => a == own,
                // Without a configured app id, an echo from any app other than Meta's inboxes is an app's send.
                (Some(a), None) => !INBOX_APP_IDS.contains(&a),
                (None, _) => false,
            };
        if ours {
            self.log("ignored", None, "own_echo");
            return;
        }
        if matches!(self.lead.status, Status::Active | Status::Paused) {
            self.handoff("human_echo");
        } else if self.lead.status == Status::HandedOff {
            // The person is answering: push the auto-resume back.
            self.plan_handoff_resume("handoff_human_echo");
        }
    }

    fn handoff(&mut self, reason: &str) {
        self.cancel_pending(reason);
        self.set_status(Status::HandedOff, reason);
        self.notify("handoff", reason);
        self.plan_handoff_resume("handoff_resume_after");
    }

    fn opt_out(&mut self, reason: &str, confirm: bool) {
        if self.lead.status == Status::OptedOut {
            return;
        }
        self.cancel_pending("opted_out");
        self.set_status(Status::OptedOut, reason);
        if confirm && self.ctx.cadence.opt_out.confirm.is_some() {
            self.plan(
                STEP_OPT_OUT,
                TouchKind::Direct,
                self.now,
                None,
                "opt_out_confirmation",
            );
        }
    }

    fn defer(&mut self, date: chrono::NaiveDate, label: String) {
        let c = self.ctx.cadence;
        let until = local_instant(self.lead.tz, date, c.deferral.resume_at);
        let until = if until <= self.now {
            self.now + Duration::days(1)
        } else {
            until
        };
        self.lead.paused_until = Some(until);
        self.lead.deferral_label = Some(label);
        self.set_status(Status::Paused, "deferral");
        if c.deferral.ack.is_some() {
            self.plan(
                STEP_DEFER_ACK,
                TouchKind::Direct,
                self.now,
                None,
                "deferral_ack",
            );
        } else {
            let id = c.deferral.reopen_id.clone();
            self.plan(&id, TouchKind::Reopen, until, None, "deferral_resume");
        }
    }

    // ---------------------------------------------------------------- touches

    fn touch_due(&mut self, plan: u32, step: &'a str) {
        let Some(t) = self.lead.next.clone() else {
            self.log("dropped", Some(step), "no_pending_touch");
            return;
        };
        if t.plan != plan || t.step != step {
            self.log("dropped", Some(step), "stale_plan");
            return;
        }
        if t.state != TouchState::Planned {
            self.log("dropped", Some(step), "already_claimed");
            return;
        }
        let allowed = match self.lead.status {
            Status::Active => true,
            Status::HandedOff => step == HANDOFF_RESUME_STEP,
            Status::Paused => matches!(t.kind, TouchKind::Reopen) || step == STEP_DEFER_ACK,
            Status::OptedOut => step == STEP_OPT_OUT,
            _ => false,
        };
        if !allowed {
            self.lead.next = None;
            self.log(
                "dropped",
                Some(step),
                format!("status_{}", self.lead.status.as_str()),
            );
            return;
        }
        if step == HANDOFF_RESUME_STEP {
            // Nobody picked the handoff up: back to the cadence's no-reply chain from where the lead stalled.
            self.lead.next = None;
            self.set_status(Status::Active, "handoff_silence");
            self.notify("resumed", "handoff_silence");
            self.replan_after_plain_reply();
            return;
        }
        if t.kind == TouchKind::Reopen {
            self.lead.paused_until = None;
            self.set_status(Status::Active, "deferral_over");
        }
        match self.deliveries_for(&t) {
            Ok(ds) if t.delivered.is_empty() => self.claim(ds, step, "claimed"),
            Ok(mut ds) => {
                // A retry of a touch whose first parts already went out: send only the rest, on the same path.
                let before = t.path.as_deref().unwrap_or("dm");
                if path_name(&ds) == before && t.delivered.len() < ds.len() {
                    ds.drain(..t.delivered.len());
                    self.claim(ds, step, "claimed_rest");
                } else {
                    self.log("partial", Some(step), "path_changed");
                    self.record_done(&t, before, t.delivered.clone());
                }
            }
            Err(reason) => {
                self.log("skipped", Some(step), reason.clone());
                self.lead.sent.push(SentTouch {
                    plan: t.plan,
                    step: t.step.clone(),
                    stall: t.stall.clone(),
                    at: self.now,
                    path: format!("skipped:{reason}"),
                    provider_ids: Vec::new(),
                });
                self.lead.next = None;
                self.plan_after(&t);
            }
        }
    }

    /// Claims the pending touch for these deliveries (the caller writes the claim before sending).
    fn claim(&mut self, ds: Vec<Delivery>, step: &str, kind: &str) {
        let path = path_name(&ds);
        if let Some(n) = self.lead.next.as_mut() {
            n.state = TouchState::Sending { since: self.now };
            if n.path.as_deref() != Some(path) {
                n.path = Some(path.to_string());
            }
        }
        self.log(kind, Some(step), path);
        self.deliveries = ds;
    }

    fn sent(&mut self, plan: u32, step: &str, provider_ids: &[String]) {
        let Some(t) = self
            .lead
            .next
            .clone()
            .filter(|t| t.plan == plan && t.step == step)
        else {
            if self
                .lead
                .sent
                .iter()
                .any(|s| s.plan == plan && s.step == step)
            {
                // The result was recorded already: its write landed but the answer was lost, and the retry
                // found the lead moved on by that very write.
                self.log("ignored", Some(step), "result_already_recorded");
                return;
            }
            // The lead moved on while this send was in flight (a reply replaced the touch). It still went out:
            // keep it in the history (echo recognition, spacing) without planning anything from it.
            self.log("sent", Some(step), "after_replan");
            self.lead.sent.push(SentTouch {
                plan,
                step: step.to_string(),
                stall: None,
                at: self.now,
                path: "dm".into(),
                provider_ids: provider_ids.to_vec(),
            });
            self.lead.last_outbound_at = Some(self.now);
            return;
        };
        let path = t.path.clone().unwrap_or_else(|| "dm".into());
        let mut ids = t.delivered.clone();
        ids.extend_from_slice(provider_ids);
        self.record_done(&t, &path, ids);
    }

    /// Records a finished touch and plans its successor. Only paths that reached the lead count as outbound.
    fn record_done(&mut self, t: &PlannedTouch, path: &str, provider_ids: Vec<String>) {
        let reached = matches!(path, "dm" | "template" | "email" | "unknown_outcome");
        self.lead.sent.push(SentTouch {
            plan: t.plan,
            step: t.step.clone(),
            stall: t.stall.clone(),
            at: self.now,
            path: path.to_string(),
            provider_ids,
        });
        if reached {
            self.lead.last_outbound_at = Some(self.now);
            if t.kind.is_proactive() && t.kind != TouchKind::End {
                self.lead.proactive_count += 1;
                self.lead.last_proactive_at = Some(self.now);
            }
        }
        let detail = match self.lead.ab.get(&t.step) {
            Some(arm) => format!("{path} variant={arm}"),
            None => path.to_string(),
        };
        self.log("sent", Some(&t.step), detail);
        self.lead.next = None;
        self.plan_after(t);
    }

    fn failed(&mut self, plan: u32, step: &str, failure: &SendFailure, delivered: &[String]) {
        let Some(t) = self
            .lead
            .next
            .clone()
            .filter(|t| t.plan == plan && t.step == step)
        else {
            self.log("ignored", Some(step), "result_for_stale_touch");
            return;
        };
        self.log("failed", Some(step), failure.code());
        // Parts that reached the lead, on this try and earlier ones.
        let mut done = t.delivered.clone();
        done.extend_from_slice(delivered);
        let path = t.path.clone().unwrap_or_else(|| "dm".into());
        match failure {
            SendFailure::Retryable { .. } if t.attempts + 1 >= MAX_SEND_ATTEMPTS => {
                if done.is_empty() {
                    self.record_done(&t, "failed:retries_exhausted", Vec::new());
                } else {
                    self.log("partial", Some(step), "retries_exhausted");
                    self.record_done(&t, &path, done);
                }
            }
            SendFailure::Retryable { .. } => {
                // Release the claim so the redelivered message can claim it again (and send only what is left).
                if let Some(n) = self.lead.next.as_mut() {
                    n.state = TouchState::Planned;
                    n.attempts += 1;
                    n.delivered = done;
                }
            }
            SendFailure::OptedOut { .. } | SendFailure::Unreachable { .. } => {
                if !done.is_empty() {
                    self.lead.sent.push(SentTouch {
                        plan: t.plan,
                        step: t.step.clone(),
                        stall: t.stall.clone(),
                        at: self.now,
                        path: path.clone(),
                        provider_ids: done,
                    });
                    self.lead.last_outbound_at = Some(self.now);
                }
                self.lead.next = None;
                if matches!(failure, SendFailure::OptedOut { .. }) {
                    self.set_status(Status::OptedOut, "meta_131050");
                } else {
                    self.set_status(Status::Finished, "unreachable");
                }
            }
            _ if !done.is_empty() => {
                // The first part reached the lead and the rest cannot follow: the touch counts as sent.
                self.log("partial", Some(step), failure.code());
                self.record_done(&t, &path, done);
            }
            SendFailure::Unknown { .. } => {
                // The request may have gone out: never repeat it; carry on as if it did.
                self.record_done(&t, "unknown_outcome", Vec::new());
            }
            SendFailure::WindowClosed { .. } => {
                self.lead.window_closed_at = Some(self.now);
                // Try the touch's other paths (template, email, task) now that the window is known closed.
                if let Some(n) = self.lead.next.as_mut() {
                    n.state = TouchState::Planned;
                }
                // A path that was itself refused as outside the window is not tried again (a template Meta
                // refuses with 131047 would otherwise be re-claimed and re-sent in a loop).
                match self.deliveries_for(&t) {
                    Ok(ds) if path_name(&ds) != "dm" && path_name(&ds) != path => {
                        self.claim(ds, step, "claimed_fallback")
                    }
                    _ => self.record_done(&t, "skipped:window_closed", Vec::new()),
                }
            }
            SendFailure::Auth { .. } | SendFailure::Permanent { .. } => {
                self.record_done(&t, &format!("failed:{}", failure.code()), Vec::new());
            }
        }
    }

    fn stale_claim(&mut self) {
        let Some(t) = self.lead.next.clone() else {
            return;
        };
        if matches!(t.state, TouchState::Sending { .. }) {
            // The worker died between claim and result: the outcome is unknown, so it is not sent again.
            self.log("failed", Some(&t.step), "stale_claim_unknown_outcome");
            self.record_done(&t, "unknown_outcome", t.delivered.clone());
        }
    }

    fn command(&mut self, c: &Command) {
        match c {
            Command::Pause { until } => {
                if self.lead.status.is_terminal() {
                    return;
                }
                self.cancel_pending("operator_pause");
                self.lead.paused_until = *until;
                self.set_status(Status::Paused, "operator_pause");
                if let Some(u) = until {
                    let id = self.ctx.cadence.deferral.reopen_id.clone();
                    self.plan(&id, TouchKind::Reopen, *u, None, "operator_pause_until");
                }
            }
            Command::Resume => {
                if !matches!(self.lead.status, Status::Paused | Status::HandedOff) {
                    return;
                }
                self.lead.paused_until = None;
                self.set_status(Status::Active, "operator_resume");
                self.replan_after_plain_reply();
            }
            Command::Stop => {
                self.cancel_pending("operator_stop");
                self.set_status(Status::Finished, "operator_stop");
            }
            Command::Handoff => self.handoff("operator_handoff"),
            Command::Booking { created: true } => {
                if self.lead.status != Status::OptedOut {
                    self.cancel_pending("booked");
                    self.set_status(Status::Booked, "booking_webhook");
                    self.notify("booked", "booking_webhook");
                }
            }
            Command::Booking { created: false } => {
                if self.lead.status == Status::Booked {
                    self.set_status(Status::Active, "booking_cancelled");
                    self.notify("booking_cancelled", "booking_webhook");
                    self.replan_after_plain_reply();
                }
            }
        }
    }
}

/// What a touch would say and where, before the window decides how it travels.
struct TouchPlan<'c> {
    channel: TouchChannel,
    content: Option<&'c Content>,
    template: Option<&'c Template>,
    fallback: &'c [Fallback],
    /// Options offered with the text (main steps with options).
    options: Vec<OptionSpec>,
    /// Direct answers use `RESPONSE`; everything else `UPDATE`.
    direct: bool,
    /// Email fallbacks are allowed (long tail and later only).
    email_ok: bool,
}

impl Draft<'_> {
    /// The deliveries for a touch, or why it is skipped.
    /// The content of the lead's A/B arm for a step under test (chosen once per run, then kept), else `own`.
    fn arm<'c>(&mut self, step: &str, own: &'c Variants, arms: &'c [Arm]) -> &'c Variants {
        if arms.is_empty() {
            return own;
        }
        let kept = self
            .lead
            .ab
            .get(step)
            .and_then(|k| arms.iter().find(|a| &a.key == k));
        match kept.or_else(|| pick_arm(arms, self.lead.id.as_str(), step)) {
            Some(a) => {
                if self.lead.ab.get(step) != Some(&a.key) {
                    self.lead.ab.insert(step.to_string(), a.key.clone());
                }
                &a.content
            }
            None => own,
        }
    }

    fn deliveries_for(&mut self, t: &PlannedTouch) -> Result<Vec<Delivery>, String> {
        let c = self.ctx.cadence;
        let spec = self.spec(&t.step);
        let opt_out_text;
        let plan = match spec {
            Spec::Main(i) => {
                let step = &c.steps[i];
                let own = self.arm(&step.id, &step.content, &step.ab);
                let key = i
                    .checked_sub(1)
                    .and_then(|p| self.lead.answers.get(&c.steps[p].id))
                    .map(String::as_str);
                TouchPlan {
                    channel: TouchChannel::Dm,
                    content: own.pick(key),
                    template: None,
                    fallback: &[],
                    options: step.specs.clone(),
                    direct: true,
                    email_ok: false,
                }
            }
            Spec::FollowUp(i) => {
                let fu = &c.follow_ups[i];
                TouchPlan {
                    channel: TouchChannel::Dm,
                    content: self
                        .arm(&fu.id, &fu.content, &fu.ab)
                        .pick(t.stall.as_deref()),
                    template: fu.template.as_ref(),
                    fallback: &fu.fallback,
                    options: Vec::new(),
                    direct: false,
                    email_ok: false,
                }
            }
            Spec::LongTail(i) => {
                let lt = &c.long_tail[i];
                TouchPlan {
                    channel: lt.channel,
                    content: Some(&lt.content),
                    template: lt.template.as_ref(),
                    fallback: &lt.fallback,
                    options: Vec::new(),
                    direct: false,
                    email_ok: true,
                }
            }
            Spec::Reopen => TouchPlan {
                channel: TouchChannel::Dm,
                content: Some(&c.deferral.reopen),
                template: c.deferral.template.as_ref(),
                fallback: &c.deferral.fallback,
                options: Vec::new(),
                direct: false,
                email_ok: true,
            },
            Spec::DeferAck => TouchPlan {
                channel: TouchChannel::Dm,
                content: c.deferral.ack.as_ref(),
                template: None,
                fallback: &[],
                options: Vec::new(),
                direct: true,
                email_ok: false,
            },
            Spec::OptOutConfirm => {
                opt_out_text = c.opt_out.confirm.clone().map(|text| Content {
                    text,
                    subject: None,
                    media: None,
                    slots: 0,
                });
                TouchPlan {
                    channel: TouchChannel::Dm,
                    content: opt_out_text.as_ref(),
                    template: None,
                    fallback: &[],
                    options: Vec::new(),
                    direct: true,
                    email_ok: false,
                }
            }
            Spec::End => return Ok(self.end_delivery()),
            Spec::HandoffResume | Spec::Unknown => return Err("unknown_step".into()),
        };
        let Some(content) = plan.content else {
            return Err("no_content".into());
        };
        // New slots are chosen when the touch is rendered, from the business's availability.
        if content.slots > 0 {
            let new = pick_slots(
                &self.ctx.account.availability,
                self.now,
                &self.lead.offered_slots,
                content.slots as usize,
            );
            if new.len() < content.slots as usize {
                self.log("slots", Some(&t.step), "not_enough_availability");
            }
            self.lead.offered_slots.extend(new);
        }
        match plan.channel {
            TouchChannel::Task => Ok(vec![self.task(&t.step, content)]),
            TouchChannel::Email => match self.email(content) {
                Some(e) => Ok(vec![e]),
                None => self.fallback(&t.step, &plan, content, "no_email_address"),
            },
            TouchChannel::Dm => self.dm(t, &plan, content),
        }
    }

    fn dm(
        &mut self,
        t: &PlannedTouch,
        plan: &TouchPlan<'_>,
        content: &Content,
    ) -> Result<Vec<Delivery>, String> {
        let l = &self.lead;
        // A keyword comment allows exactly one private reply: the opener.
        if let Origin::Comment { comment_id } = &l.origin {
            if l.last_message_at.is_none() {
                let first = self.ctx.cadence.steps.first().map(|s| s.id.as_str());
                if Some(t.step.as_str()) == first && !l.sent.iter().any(|s| s.path == "dm") {
                    let text = self.render_text(&content.text);
                    return Ok(vec![Delivery::Dm(self.dm_message(
                        Recipient::Comment(comment_id.clone()),
                        MessagingType::Response,
                        DmBody::Text {
                            text,
                            choices: Vec::new(),
                            list_button: None,
                        },
                    ))]);
                }
            }
        }
        if self.window_open(self.now) {
            let to = self.recipient().ok_or_else(|| "no_recipient".to_string())?;
            let mt = if plan.direct {
                MessagingType::Response
            } else {
                MessagingType::Update
            };
            let text = self.render_text(&content.text);
            let mut choices: Vec<Choice> = plan
                .options
                .iter()
                .map(|o| Choice {
                    id: o.payload.clone(),
                    title: o.label.clone(),
                    description: None,
                })
                .collect();
            let mut list_button = None;
            // WhatsApp shows new slots as a list; Instagram and Messenger read best as plain text.
            if content.slots > 0 && l.channel == Channel::Whatsapp {
                let start = l.offered_slots.len().saturating_sub(content.slots as usize);
                choices = l.offered_slots[start..]
                    .iter()
                    .enumerate()
                    .map(|(k, s)| Choice {
                        id: format!("{SLOT_PAYLOAD_PREFIX}{}", start + k + 1),
                        title: slot_label(*s, l.tz),
                        description: None,
                    })
                    .collect();
                list_button = Some("Pick a time".to_string());
            }
            let mut out = vec![Delivery::Dm(self.dm_message(
                to.clone(),
                mt,
                DmBody::Text {
                    text,
                    choices,
                    list_button,
                },
            ))];
            if let Some(m) = &content.media {
                let url = self.render_text(&m.url);
                if url.starts_with("https://") {
                    out.push(Delivery::Dm(self.dm_message(
                        to,
                        mt,
                        DmBody::Media {
                            kind: m.kind,
                            url,
                            caption: None,
                        },
                    )));
                } else {
                    self.log("media", Some(&t.step), "asset_not_configured");
                }
            }
            return Ok(out);
        }
        if l.channel == Channel::Whatsapp {
            if let (Some(tpl), Some(to)) = (plan.template, self.recipient()) {
                let params = tpl.params.iter().map(|p| self.render_text(p)).collect();
                let body = DmBody::Template {
                    name: tpl.name.clone(),
                    language: tpl.language.clone(),
                    params,
                };
                return Ok(vec![Delivery::Dm(self.dm_message(
                    to,
                    MessagingType::Update,
                    body,
                ))]);
            }
        }
        self.fallback(&t.step, plan, content, "window_closed")
    }

    /// The touch's fallbacks in order: email (long tail only, when an address is known), then a human task.
    fn fallback(
        &mut self,
        step: &str,
        plan: &TouchPlan<'_>,
        content: &Content,
        why: &str,
    ) -> Result<Vec<Delivery>, String> {
        for f in plan.fallback {
            match f {
                Fallback::Email if plan.email_ok => {
                    if let Some(e) = self.email(content) {
                        self.log("fallback", Some(step), format!("{why}->email"));
                        return Ok(vec![e]);
                    }
                }
                Fallback::Email => {}
                Fallback::Task => {
                    self.log("fallback", Some(step), format!("{why}->task"));
                    return Ok(vec![self.task(step, content)]);
                }
            }
        }
        Err(why.to_string())
    }

    fn recipient(&self) -> Option<Recipient> {
        let u = &self.lead.user;
        match self.lead.channel {
            Channel::Whatsapp => {
                u.id.clone()
                    .map(Recipient::Phone)
                    .or_else(|| u.bsuid.clone().map(Recipient::Bsuid))
            }
            _ => u.id.clone().map(Recipient::Id),
        }
    }

    fn dm_message(&self, to: Recipient, messaging_type: MessagingType, body: DmBody) -> DmMessage {
        DmMessage {
            channel: self.lead.channel,
            from: self.lead.business_id.clone(),
            to,
            messaging_type,
            body,
        }
    }

    fn email(&self, content: &Content) -> Option<Delivery> {
        let to = self.lead.email.clone()?;
        let from = self.ctx.account.email_from.clone()?;
        let subject = content
            .subject
            .as_deref()
            .map(|s| self.render_text(s))
            .unwrap_or_else(|| self.render_text("A quick note from {business}"));
        Some(Delivery::Email(EmailMessage {
            from,
            to,
            subject,
            text: self.render_text(&content.text),
            list_unsubscribe: self.ctx.account.list_unsubscribe.clone(),
        }))
    }

    fn task(&self, step: &str, content: &Content) -> Delivery {
        let l = &self.lead;
        let contact = match l.channel {
            Channel::Whatsapp => l
                .user
                .id
                .clone()
                .map(|n| format!("+{n}"))
                .or_else(|| l.user.bsuid.clone()),
            _ => None,
        };
        Delivery::Task(HumanTask {
            lead: l.id.clone(),
            channel: l.channel,
            title: format!("{step}: {} lead on {}", l.channel, self.ctx.cadence.id),
            instructions: self.render_for_people(&content.text),
            contact,
        })
    }

    fn end_delivery(&self) -> Vec<Delivery> {
        let c = self.ctx.cadence;
        if !c.end.newsletter {
            return Vec::new();
        }
        vec![Delivery::Newsletter(NewsletterHandoff {
            lead: self.lead.id.clone(),
            list: c.end.list.clone(),
            topic: c.end.topic.clone(),
            email: self.lead.email.clone(),
            name: self.lead.name.clone(),
        })]
    }

    /// Renders a text a person (not the lead) reads: a missing name reads "the lead", not "there".
    fn render_for_people(&self, text: &str) -> String {
        let t = if self.lead.name.is_none() {
            text.replace("{first_name}'s", "the lead's")
                .replace("{first_name}", "the lead")
        } else {
            text.to_string()
        };
        self.render_text(&t)
    }

    fn render_text(&self, text: &str) -> String {
        if !text.contains('{') {
            return truncate_for_meta(text.to_string());
        }
        let l = &self.lead;
        let c = self.ctx.cadence;
        let a = self.ctx.account;
        let mut v = Values {
            defaults: Some(&c.defaults),
            ..Default::default()
        };
        // Only what the text may use is computed (slot labels, links and answers cost allocations); a name that
        // merely contains another ("first_name" holds "name") just computes a little more.
        let uses = |key: &str| text.contains(key);
        if let Some(n) = l.name.as_ref().filter(|_| uses("name")) {
            if let Some(f) = first_name(n) {
                v.set("first_name", f);
            }
            v.set("name", n.clone());
        }
        if let Some(t) = l
            .topic
            .as_ref()
            .or(a.topic.as_ref())
            .filter(|_| uses("topic"))
        {
            v.set("topic", t.clone());
        }
        if uses("business") {
            v.set("business", a.business.clone());
        }
        let mut owned: Vec<(String, String)> = Vec::new();
        if uses("answer") {
            let mut last_answer = None;
            for step in &c.steps {
                if let Some(k) = l.answers.get(&step.id) {
                    if let Some(o) = step.options.iter().find(|o| &o.key == k) {
                        last_answer = Some(o.label.clone());
                    }
                }
            }
            if let Some(ans) = last_answer {
                v.set("answer", ans);
            }
            for (step, key) in &l.answers {
                if let Some(label) = c
                    .step(step)
                    .and_then(|s| s.options.iter().find(|o| &o.key == key))
                    .map(|o| o.label.clone())
                {
                    owned.push((format!("answer.{step}"), label));
                }
            }
        }
        if uses("slot") {
            let labels: Vec<String> = l
                .offered_slots
                .iter()
                .map(|s| slot_label(*s, l.tz))
                .collect();
            v.set("slots", labels.join(", "));
            for (i, label) in labels.into_iter().enumerate() {
                owned.push((format!("slot_{}", i + 1), label));
            }
        }
        if uses("asset.") {
            for (k, u) in &a.assets {
                owned.push((format!("asset.{k}"), u.clone()));
            }
        }
        if let Some(link) = a.booking_link.as_ref().filter(|_| uses("booking_link")) {
            v.set("booking_link", booking_link(link, &l.id));
        }
        if let Some(d) = l.deferral_label.as_ref().filter(|_| uses("deferral")) {
            v.set("deferral", deferral_phrase(d));
        }
        for (k, val) in &owned {
            v.set(k.as_str(), val.clone());
        }
        truncate_for_meta(render(text, &v))
    }
}

/// Instagram's limit is 1000 bytes; cut on a character boundary rather than fail the send.
fn truncate_for_meta(mut out: String) -> String {
    if out.len() > 1000 {
        let mut end = 1000;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

/// A booking link carrying the lead id, so the booking webhook maps back to the lead (Cal.com `metadata[lead]`,
/// Calendly `utm_content`).
pub fn booking_link(link: &str, lead: &LeadId) -> String {
    let sep = if link.contains('?') { '&' } else { '?' };
    if link.contains("calendly.com") {
        format!("{link}{sep}utm_source=cadence&utm_content={lead}")
    } else {
        format!("{link}{sep}metadata[lead]={lead}")
    }
}

/// Turns a deferral label from reply understanding into words that follow "I'll check back": "October" →
/// "in October", "2 weeks" → "in 2 weeks", "the 16th" → "on the 16th", "next week" stays.
pub fn deferral_phrase(label: &str) -> String {
    let first = label.split_whitespace().next().unwrap_or("");
    let month_or_season = first.chars().next().is_some_and(char::is_uppercase)
        || matches!(first, "spring" | "summer" | "fall" | "autumn" | "winter");
    if first.chars().next().is_some_and(|c| c.is_ascii_digit()) || month_or_season {
        format!("in {label}")
    } else if first == "the" {
        format!("on {label}")
    } else {
        label.to_string()
    }
}

/// Option specs for reply understanding; payloads are `STEP_KEY` in capitals (`QUALIFY_A`).
pub fn option_specs(step: &str, options: &[crate::cadence::QuestionOption]) -> Vec<OptionSpec> {
    options
        .iter()
        .map(|o| {
            OptionSpec::new(
                o.key.clone(),
                o.label.clone(),
                o.words.clone(),
                format!("{}_{}", step, o.key).to_uppercase(),
            )
        })
        .collect()
}

fn objection_name(o: reply::Objection) -> &'static str {
    match o {
        reply::Objection::Price => "price",
        reply::Objection::Unsure => "unsure",
        reply::Objection::Timing => "timing",
    }
}

/// The path a set of deliveries takes, for audit records and the touch record.
fn path_name(ds: &[Delivery]) -> &'static str {
    match ds.first() {
        Some(Delivery::Dm(m)) if matches!(m.body, DmBody::Template { .. }) => "template",
        Some(Delivery::Dm(_)) => "dm",
        Some(Delivery::Email(_)) => "email",
        Some(Delivery::Task(_)) => "task",
        Some(Delivery::Newsletter(_)) => "newsletter",
        None => "none",
    }
}
