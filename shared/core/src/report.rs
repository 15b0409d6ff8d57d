//! What operators read: a lead's state without personal data ([`LeadView`]), its timeline in the lead's local
//! time ([`render_timeline`]), the per-step funnel computed from audit trails ([`Funnel`]), and the metric
//! events a write produces ([`metric_events`], published as CloudWatch EMF by the AWS layer).
//!
//! Everything here reads audit records (step ids, kinds, reasons), never message text, names or numbers.

use crate::ids::LeadId;
use crate::lead::{AuditRecord, Lead, TouchState};
use crate::service::CadenceSet;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A lead as an operator sees it: state, not identity (no name, email, phone or platform user id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadView {
    pub id: LeadId,
    pub account: String,
    pub channel: String,
    pub cadence: String,
    pub tz: Tz,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// The pending touch: step, due instant and state (`planned`, `sending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_due: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    /// Touches done in this run: (step, path).
    #[serde(default)]
    pub sent: Vec<(String, String)>,
    pub first_contact_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Lead> for LeadView {
    fn from(l: &Lead) -> Self {
        LeadView {
            id: l.id.clone(),
            account: l.account.clone(),
            channel: l.channel.to_string(),
            cadence: l.cadence.clone(),
            tz: l.tz,
            status: l.status.as_str().to_string(),
            status_reason: l.status_reason.clone(),
            stage: l.stage.clone(),
            answers: l.answers.clone(),
            next_step: l.next.as_ref().map(|n| n.step.clone()),
            next_due: l.next.as_ref().map(|n| n.due),
            next_state: l.next.as_ref().map(|n| match n.state {
                TouchState::Planned => "planned".to_string(),
                TouchState::Sending { .. } => "sending".to_string(),
            }),
            paused_until: l.paused_until,
            sent: l
                .sent
                .iter()
                .map(|s| (s.step.clone(), s.path.clone()))
                .collect(),
            first_contact_at: l.first_contact_at,
            updated_at: l.updated_at,
        }
    }
}

/// A lead with its audit trail (what `GET /admin/leads/{id}` answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadDetail {
    pub lead: LeadView,
    pub audit: Vec<AuditRecord>,
}

/// One line per lead for `leads list`.
pub fn render_list(leads: &[LeadView]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<10} {:<14} {:<11} {:<22} {:<14} NEXT",
        "LEAD", "CHANNEL", "CADENCE", "STATUS", "REASON", "STAGE"
    );
    for l in leads {
        let next = match (&l.next_step, l.next_due) {
            (Some(s), Some(d)) => format!("{s} @ {}", local(d, l.tz)),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<24} {:<10} {:<14} {:<11} {:<22} {:<14} {next}",
            l.id.as_str(),
            l.channel,
            l.cadence,
            l.status,
            l.status_reason.as_deref().unwrap_or("-"),
            l.stage.as_deref().unwrap_or("-"),
        );
    }
    out
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A lead's state and its timeline, every decision with its reason, in the lead's local time.
pub fn render_timeline(d: &LeadDetail) -> String {
    let l = &d.lead;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} · {} · {} · {} ({})",
        l.id,
        l.channel,
        l.cadence,
        l.status,
        l.status_reason.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "zone {} · first contact {} · stage {}",
        l.tz,
        local(l.first_contact_at, l.tz),
        l.stage.as_deref().unwrap_or("-")
    );
    if !l.answers.is_empty() {
        let a: Vec<String> = l.answers.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "answers {}", a.join(" "));
    }
    match (&l.next_step, l.next_due) {
        (Some(s), Some(due)) => {
            let _ = writeln!(
                out,
                "next {s} at {} ({})",
                local(due, l.tz),
                l.next_state.as_deref().unwrap_or("planned")
            );
        }
        _ => {
            let _ = writeln!(out, "next: nothing pending");
        }
    }
    if d.audit.is_empty() {
        let _ = writeln!(out, "(no audit trail recorded)");
    }
    for r in &d.audit {
        let _ = writeln!(
            out,
            "  {}  {:<10} {:<14} {}",
            local(r.at, l.tz),
            r.kind,
            r.step.as_deref().unwrap_or(""),
            r.detail
        );
    }
    out
}

/// Paths of a `sent` audit record that reached someone (a DM, template, email, task, newsletter handoff, or a
/// send whose outcome is unknown and is treated as sent).
fn reached(path: &str) -> bool {
    !(path.starts_with("skipped:") || path.starts_with("failed:") || path == "none")
}

/// The funnel of one step of one cadence. Rates are against this step's own sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFunnel {
    pub cadence: String,
    pub step: String,
    pub sent: u64,
    /// Sends followed by a message from the lead before the next touch.
    pub replied: u64,
    /// Sends followed by a reply, reaction or read before the next touch.
    pub engaged: u64,
    /// Sends after which the lead booked before the next touch.
    pub booked: u64,
    pub opted_out: u64,
    /// Decided and not sent, by reason (`window_closed`, `no_email_address`, `failed_auth` …).
    #[serde(default)]
    pub skipped: BTreeMap<String, u64>,
    /// The same counts per A/B arm (`a`, `b` …), when the step is under test.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<String, VariantFunnel>,
}

/// One A/B arm's share of a step's funnel. Rates are against the arm's own sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantFunnel {
    pub sent: u64,
    pub replied: u64,
    pub engaged: u64,
    pub booked: u64,
    pub opted_out: u64,
}

impl StepFunnel {
    /// Credits outcome `h` (0 replied, 1 engaged, 2 booked, 3 opted out) to the step and to the lead's arm.
    fn credit(&mut self, h: usize, arm: Option<&str>) {
        let v = arm.map(|a| self.variants.entry(a.to_string()).or_default());
        let (total, per_arm) = match (h, v) {
            (0, a) => (&mut self.replied, a.map(|a| &mut a.replied)),
            (1, a) => (&mut self.engaged, a.map(|a| &mut a.engaged)),
            (2, a) => (&mut self.booked, a.map(|a| &mut a.booked)),
            (_, a) => (&mut self.opted_out, a.map(|a| &mut a.opted_out)),
        };
        *total += 1;
        if let Some(n) = per_arm {
            *n += 1;
        }
    }
}

fn entry<'m>(
    by: &'m mut BTreeMap<(String, String), StepFunnel>,
    cadence: &str,
    step: &str,
) -> &'m mut StepFunnel {
    by.entry((cadence.to_string(), step.to_string()))
        .or_insert_with(|| StepFunnel {
            cadence: cadence.to_string(),
            step: step.to_string(),
            ..Default::default()
        })
}

/// The per-step funnel over a time range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    pub leads: u64,
    pub steps: Vec<StepFunnel>,
}

/// The variant recorded in a `sent` audit detail (`dm variant=b`).
pub fn variant_of(detail: &str) -> Option<&str> {
    detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix("variant="))
}

/// The delivery path in a `sent` audit detail (its first word).
fn path_of(detail: &str) -> &str {
    detail.split_whitespace().next().unwrap_or("")
}

impl Funnel {
    /// Computes the funnel from leads' audit trails. Sends in `[from, to)` count; what follows a send (reply,
    /// booking …) is attributed to the last send before it. Steps come in cadence order when `cadences` knows
    /// the cadence.
    pub fn compute<'a>(
        trails: impl IntoIterator<Item = (&'a str, &'a [AuditRecord])>,
        cadences: Option<&CadenceSet>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Funnel {
        let in_range = |t: DateTime<Utc>| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e);
        let mut by: BTreeMap<(String, String), StepFunnel> = BTreeMap::new();
        let mut leads = 0;
        for (cadence, audit) in trails {
            leads += 1;
            // The last counted send (step, A/B arm) and what was already credited to it.
            let mut current: Option<(String, Option<String>, [bool; 4])> = None;
            for r in audit {
                let step = r.step.clone().unwrap_or_default();
                match r.kind.as_str() {
                    "sent" => {
                        let path = path_of(&r.detail);
                        if !in_range(r.at) {
                            current = None;
                            continue;
                        }
                        let e = entry(&mut by, cadence, &step);
                        if reached(path) {
                            e.sent += 1;
                            let arm = variant_of(&r.detail).map(str::to_string);
                            if let Some(v) = &arm {
                                e.variants.entry(v.clone()).or_default().sent += 1;
                            }
                            current = Some((step, arm, [false; 4]));
                        } else {
                            let reason = path.replacen(':', "_", 1);
                            let reason = reason.strip_prefix("skipped_").unwrap_or(&reason);
                            *e.skipped.entry(reason.to_string()).or_default() += 1;
                        }
                    }
                    "skipped" if in_range(r.at) => {
                        *entry(&mut by, cadence, &step)
                            .skipped
                            .entry(r.detail.clone())
                            .or_default() += 1;
                    }
                    "inbound" | "status" => {
                        let Some((cur, arm, credited)) = current.as_mut() else {
                            continue;
                        };
                        let hits: &[usize] = match (r.kind.as_str(), r.detail.as_str()) {
                            ("inbound", "message" | "postback") => &[0, 1],
                            ("inbound", "reaction" | "read") => &[1],
                            ("status", d) if d.starts_with("booked:") => &[2],
                            ("status", d) if d.starts_with("opted_out:") => &[3],
                            _ => &[],
                        };
                        let e = entry(&mut by, cadence, cur);
                        for &h in hits {
                            if !credited[h] {
                                credited[h] = true;
                                e.credit(h, arm.as_deref());
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let order = |c: &str, s: &str| -> usize {
            let Some(cad) = cadences.and_then(|set| set.get(c)) else {
                return usize::MAX;
            };
            let ids = cad
                .steps
                .iter()
                .map(|x| x.id.as_str())
                .chain(cad.follow_ups.iter().map(|x| x.id.as_str()))
                .chain(cad.long_tail.iter().map(|x| x.id.as_str()))
                .chain([cad.deferral.reopen_id.as_str(), cad.end.id.as_str()]);
            ids.into_iter().position(|x| x == s).unwrap_or(usize::MAX)
        };
        let mut steps: Vec<StepFunnel> = by.into_values().collect();
        steps.sort_by(|a, b| {
            a.cadence
                .cmp(&b.cadence)
                .then(order(&a.cadence, &a.step).cmp(&order(&b.cadence, &b.step)))
                .then(a.step.cmp(&b.step))
        });
        Funnel {
            from,
            to,
            leads,
            steps,
        }
    }

    /// Plain text: one table per cadence with rates against each step's sends and a bar for the reply rate.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let range = match (self.from, self.to) {
            (None, None) => "all time".to_string(),
            (f, t) => format!(
                "{} → {}",
                f.map_or("…".into(), |f| f.to_rfc3339()),
                t.map_or("…".into(), |t| t.to_rfc3339())
            ),
        };
        let _ = writeln!(out, "Funnel ({range}), {} leads", self.leads);
        let mut cadence = None;
        for s in &self.steps {
            if cadence != Some(&s.cadence) {
                cadence = Some(&s.cadence);
                let _ = writeln!(out, "\n{}", s.cadence);
                let _ = writeln!(
                    out,
                    "  {:<14} {:>5} {:>12} {:>12} {:>11} {:>11}  {:<22} skipped",
                    "step", "sent", "replied", "engaged", "booked", "opted out", "reply rate"
                );
            }
            let pct = |n: u64| {
                if s.sent == 0 {
                    0.0
                } else {
                    n as f64 * 100.0 / s.sent as f64
                }
            };
            let cell = |n: u64| format!("{n} ({:.0}%)", pct(n));
            let bar_len = (pct(s.replied) / 5.0).round() as usize;
            let bar = format!(
                "{}{}",
                "█".repeat(bar_len),
                "·".repeat(20 - bar_len.min(20))
            );
            let skipped: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "  {:<14} {:>5} {:>12} {:>12} {:>11} {:>11}  {bar}  {}",
                s.step,
                s.sent,
                cell(s.replied),
                cell(s.engaged),
                cell(s.booked),
                cell(s.opted_out),
                if skipped.is_empty() {
                    "-".to_string()
                } else {
                    skipped.join(" ")
                }
            );
            for (arm, v) in &s.variants {
                let pct = |n: u64| {
                    if v.sent == 0 {
                        0.0
                    } else {
                        n as f64 * 100.0 / v.sent as f64
                    }
                };
                let cell = |n: u64| format!("{n} ({:.0}%)", pct(n));
                let bar_len = (pct(v.replied) / 5.0).round() as usize;
                let bar = format!(
                    "{}{}",
                    "█".repeat(bar_len),
                    "·".repeat(20 - bar_len.min(20))
                );
                let _ = writeln!(
                    out,
                    "  {:<14} {:>5} {:>12} {:>12} {:>11} {:>11}  {bar}",
                    format!("  └ arm {arm}"),
                    v.sent,
                    cell(v.replied),
                    cell(v.engaged),
                    cell(v.booked),
                    cell(v.opted_out),
                );
            }
        }
        if self.steps.is_empty() {
            let _ = writeln!(out, "(nothing sent in range)");
        }
        out
    }
}

/// A metric a lead write produces, for CloudWatch (EMF): `sent`, `skipped`, `replied`, `booked`, `opted_out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricEvent {
    pub name: &'static str,
    pub cadence: String,
    pub step: String,
    pub at: DateTime<Utc>,
}

/// The metric events of one lead write: its audit records, attributed to steps like [`Funnel::compute`] does
/// (a reply, booking or opt-out counts for the last touch that reached the lead). Replies count once per
/// message here; the funnel counts once per send.
pub fn metric_events(lead: &Lead, audit: &[AuditRecord]) -> Vec<MetricEvent> {
    let last_sent = || {
        lead.sent
            .iter()
            .rev()
            .find(|s| reached(&s.path))
            .map(|s| s.step.clone())
    };
    let mut out = Vec::new();
    for r in audit {
        let (name, step) = match (r.kind.as_str(), r.detail.as_str()) {
            ("sent", d) if reached(path_of(d)) => ("sent", r.step.clone()),
            ("sent", _) | ("skipped", _) => ("skipped", r.step.clone()),
            ("inbound", "message" | "postback") => ("replied", last_sent()),
            ("status", d) if d.starts_with("booked:") => ("booked", last_sent()),
            ("status", d) if d.starts_with("opted_out:") => ("opted_out", last_sent()),
            _ => continue,
        };
        out.push(MetricEvent {
            name,
            cadence: lead.cadence.clone(),
            step: step.unwrap_or_else(|| "none".into()),
            at: r.at,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .unwrap_or_default()
            + chrono::Duration::minutes(m)
    }

    fn rec(m: i64, kind: &str, step: Option<&str>, detail: &str) -> AuditRecord {
        AuditRecord::new(at(m), kind, step, detail)
    }

    #[test]
    fn replies_bookings_and_skips_are_credited_to_the_last_send_once() {
        let a = vec![
            rec(0, "inbound", None, "message"),
            rec(0, "sent", Some("opener"), "dm"),
            rec(1, "inbound", None, "message"),
            rec(1, "inbound", None, "message"),
            rec(2, "sent", Some("qualify"), "dm"),
            rec(3, "inbound", None, "read"),
            rec(300, "sent", Some("follow_up_1"), "skipped:window_closed"),
            rec(400, "status", None, "booked:booking_webhook"),
        ];
        let b = vec![
            rec(0, "sent", Some("opener"), "dm variant=b"),
            rec(5, "status", None, "opted_out:stop_keyword"),
            rec(6, "skipped", Some("day_14"), "no_email_address"),
        ];
        let f = Funnel::compute(
            [("coach-ig", a.as_slice()), ("coach-ig", b.as_slice())],
            Some(&CadenceSet::builtins()),
            None,
            None,
        );
        let get = |s: &str| {
            f.steps
                .iter()
                .find(|x| x.step == s)
                .cloned()
                .unwrap_or_default()
        };
        let o = get("opener");
        assert_eq!((o.sent, o.replied, o.engaged, o.opted_out), (2, 1, 1, 1));
        assert_eq!(o.variants.get("b").map(|v| v.sent), Some(1));
        let q = get("qualify");
        assert_eq!((q.sent, q.replied, q.engaged, q.booked), (1, 0, 1, 1));
        assert_eq!(get("follow_up_1").skipped.get("window_closed"), Some(&1));
        assert_eq!(get("day_14").skipped.get("no_email_address"), Some(&1));
        assert_eq!(f.steps[0].step, "opener", "cadence order");
        let text = f.render();
        assert!(
            text.contains("coach-ig") && text.contains("opener"),
            "{text}"
        );
        // A range that starts after the opener counts only later sends.
        let later = Funnel::compute([("coach-ig", a.as_slice())], None, Some(at(2)), None);
        assert!(later
            .steps
            .iter()
            .all(|s| s.step != "opener" || s.sent == 0));
    }
}
