//! `cadence-ops` against a deployment on the emulator: a lead made by a real signed webhook through the webhook
//! handler, listed, shown, paused, resumed and stopped by operator commands, with every effect read back from
//! DynamoDB and EventBridge Scheduler rather than trusted from the text.
//!
//! [`Ops::new`] wires the system clock (right for operators). Commands that plan touches are time-dependent,
//! so those tests build the same [`Ops`] from its parts on the virtual clock the webhook and send handlers use.

use crate::handlers::{deliver_sample_dm, services, webhook};
use crate::helpers::{at, deploy, drain, graph_mock, sqs_event, Deployment, IGSID};
use aws_sdk_scheduler::operation::get_schedule::GetScheduleError;
use cadence_aws::{at_expression, EventBridgeTouchScheduler};
use cadence_core::engine::Command;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::{Lead, Status, TouchRef};
use cadence_core::memory::VirtualClock;
use cadence_core::ports::Clock;
use cadence_ops::{Ops, OpsCommand};
use std::sync::Arc;
use std::time::Duration;
use wiremock::MockServer;

/// A deployment with one lead the sample webhook created, and the operator commands on the same clock.
struct Stack {
    d: Deployment,
    clock: Arc<VirtualClock>,
    ops: Ops,
    id: LeadId,
    /// Kept alive: the send handler delivers to it.
    _graph: MockServer,
}

/// [`Ops::new`] on an injected clock: the same services and scheduler, built from the same configuration.
async fn ops_on(d: &Deployment, clock: Arc<VirtualClock>) -> Ops {
    let mut cfg = d.cfg.clone();
    cfg.metrics = false;
    let d = Deployment {
        cfg,
        sdk: d.sdk.clone(),
    };
    Ops {
        services: services(&d, clock.clone()).await,
        scheduler: EventBridgeTouchScheduler::new(
            aws_sdk_scheduler::Client::new(&d.sdk),
            d.cfg.schedule.clone(),
            clock,
        ),
    }
}

/// Meta delivers the signed sample DM at `at(1)`: the lead exists, its opener is on the touches queue.
async fn lead_from_webhook() -> Stack {
    let graph = graph_mock().await;
    let d = deploy(Some(graph.uri())).await;
    let clock = Arc::new(VirtualClock::new(at(1)));
    let w = webhook(&d, clock.clone()).await;
    deliver_sample_dm(&w).await;
    let ops = ops_on(&d, clock.clone()).await;
    Stack {
        d,
        clock,
        ops,
        id: LeadId::derive("acme", Channel::Instagram, IGSID),
        _graph: graph,
    }
}

/// [`lead_from_webhook`], then the send handler delivers the opener: the follow-up is a one-off schedule.
async fn lead_with_scheduled_follow_up() -> Stack {
    let s = lead_from_webhook().await;
    send_opener(&s).await;
    s
}

/// The send handler delivers the opener from the touches queue to the Graph API mock.
async fn send_opener(s: &Stack) {
    let msgs = drain(&s.d.sdk, &s.d.cfg.queue_url, 1, Duration::from_secs(30)).await;
    assert_eq!(msgs.len(), 1, "the opener is enqueued");
    let r = cadence_send::handle_batch(&s.ops.services, sqs_event(&msgs)).await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
}

async fn stored(s: &Stack) -> Lead {
    s.ops
        .services
        .store
        .load(&s.id)
        .await
        .expect("load")
        .expect("lead stored")
        .value
}

/// The names of every schedule in the deployment's group, straight from EventBridge Scheduler.
async fn schedule_names(s: &Stack) -> Vec<String> {
    aws_sdk_scheduler::Client::new(&s.d.sdk)
        .list_schedules()
        .group_name(&s.d.cfg.schedule.group)
        .send()
        .await
        .expect("list schedules")
        .schedules()
        .iter()
        .filter_map(|x| x.name().map(str::to_string))
        .collect()
}

/// The lead's pending touch as the schedule name it must have.
fn schedule_name_of(lead: &Lead) -> String {
    let next = lead.next.as_ref().expect("a pending touch");
    TouchRef::new(lead.id.clone(), next.plan, next.step.clone()).schedule_name()
}

async fn run(s: &Stack, cmd: OpsCommand) -> String {
    let what = format!("{cmd:?}");
    s.ops
        .run(cmd)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

async fn apply(s: &Stack, command: Command) -> String {
    run(
        s,
        OpsCommand::Apply {
            id: s.id.to_string(),
            command,
        },
    )
    .await
}

#[tokio::test]
async fn list_shows_a_lead_made_by_a_signed_webhook_with_its_status_through_the_real_constructor() {
    let s = lead_from_webhook().await;
    let ops = Ops::new(&s.d.cfg, &s.d.sdk).await.expect("ops from config");
    let lead = stored(&s).await;

    let text = ops.run(OpsCommand::List).await.expect("list");

    assert!(text.starts_with("LEAD "), "a header first: {text}");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "one lead in the table: {text}");
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(cols[0], s.id.as_str());
    assert_eq!(cols[1], "instagram");
    assert_eq!(cols[2], lead.cadence);
    assert_eq!(cols[3], lead.status.as_str());
    assert_eq!(lead.status, Status::Active, "a new lead is active");
    let next = lead.next.as_ref().expect("the opener is pending");
    assert!(
        rows[0].contains(&format!("{} @ ", next.step)),
        "the pending touch: {text}"
    );
}

#[tokio::test]
async fn show_renders_the_timeline_with_every_audit_record_in_the_leads_zone() {
    let s = lead_from_webhook().await;
    let lead = stored(&s).await;
    let audit = s.ops.services.store.audit(&s.id).await.expect("audit");
    assert!(
        audit.iter().any(|r| r.kind == "inbound") && audit.iter().any(|r| r.kind == "planned"),
        "the webhook recorded the DM and the opener: {audit:?}"
    );

    let text = run(&s, OpsCommand::Show(s.id.to_string())).await;

    let mut lines = text.lines();
    let head = lines.next().expect("a heading");
    assert!(head.starts_with(s.id.as_str()), "{text}");
    assert!(
        head.contains(&format!("· {} (", lead.status.as_str())),
        "{text}"
    );
    assert!(text.contains("zone Europe/Paris"), "{text}");
    let next = lead.next.as_ref().expect("the opener is pending");
    assert!(
        text.contains(&format!("next {} at ", next.step)) && text.contains("(planned)"),
        "{text}"
    );
    // One indented line per audit record, in order, with its kind and the local (CEST) time.
    let entries: Vec<&str> = lines.filter(|l| l.starts_with("  ")).collect();
    assert_eq!(entries.len(), audit.len(), "{text}");
    for (line, r) in entries.iter().zip(&audit) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[4], r.kind, "{line}");
        assert_eq!(cols[3], "CEST", "{line}");
        if let Some(step) = &r.step {
            assert_eq!(cols[5], step, "{line}");
        }
    }
}

#[tokio::test]
async fn schedules_shows_the_pending_follow_up_in_the_leads_zone_until_a_pause_cancels_it() {
    let s = lead_from_webhook().await;
    // The opener travels through the queue, not the scheduler.
    assert_eq!(
        run(&s, OpsCommand::Schedules(s.id.to_string())).await,
        format!("no pending schedules for {}\n", s.id)
    );
    send_opener(&s).await;
    let lead = stored(&s).await;
    let name = schedule_name_of(&lead);
    assert_eq!(schedule_names(&s).await, vec![name.clone()]);
    let next = lead.next.as_ref().expect("a follow-up is planned");
    let (expression, zone) =
        at_expression(next.due, lead.tz, s.clock.now()).expect("a future due time");
    assert!(expression.starts_with("at(") && zone == "Europe/Paris");

    let text = run(&s, OpsCommand::Schedules(s.id.to_string())).await;
    assert_eq!(text, format!("{name}  {expression}  {zone}\n"));

    s.clock.set(at(60));
    let text = apply(&s, Command::Pause { until: None }).await;
    assert_eq!(text, format!("{}: paused (operator_pause)\n", s.id));

    let lead = stored(&s).await;
    assert_eq!(lead.status, Status::Paused);
    assert_eq!(lead.status_reason.as_deref(), Some("operator_pause"));
    assert!(lead.next.is_none(), "nothing pending: {:?}", lead.next);
    assert!(schedule_names(&s).await.is_empty(), "the timer is deleted");
    let gone = aws_sdk_scheduler::Client::new(&s.d.sdk)
        .get_schedule()
        .group_name(&s.d.cfg.schedule.group)
        .name(&name)
        .send()
        .await;
    assert!(
        matches!(
            gone.as_ref().map_err(|e| e.as_service_error()),
            Err(Some(GetScheduleError::ResourceNotFoundException(_)))
        ),
        "{gone:?}"
    );
    let audit = s.ops.services.store.audit(&s.id).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r.kind == "cancelled" && r.detail == "operator_pause"),
        "{audit:?}"
    );
    assert_eq!(
        run(&s, OpsCommand::Schedules(s.id.to_string())).await,
        format!("no pending schedules for {}\n", s.id)
    );
}

#[tokio::test]
async fn resume_after_a_pause_makes_the_lead_active_again_with_a_new_scheduled_touch() {
    let s = lead_with_scheduled_follow_up().await;
    let before = stored(&s).await;
    let old_name = schedule_name_of(&before);
    s.clock.set(at(60));
    apply(&s, Command::Pause { until: None }).await;
    assert!(schedule_names(&s).await.is_empty());

    s.clock.set(at(120));
    let text = apply(&s, Command::Resume).await;

    let lead = stored(&s).await;
    assert_eq!(lead.status, Status::Active);
    assert_eq!(lead.status_reason.as_deref(), Some("operator_resume"));
    assert_eq!(lead.paused_until, None);
    let next = lead.next.as_ref().expect("a next touch after resume");
    assert!(next.due > at(120), "in the future: {}", next.due);
    assert!(
        text.starts_with(&format!(
            "{}: active (operator_resume), next {} at ",
            s.id, next.step
        )),
        "{text}"
    );
    // A new plan generation, so a new timer (the cancelled one stays gone).
    let name = schedule_name_of(&lead);
    assert_ne!(name, old_name);
    assert_eq!(schedule_names(&s).await, vec![name.clone()]);
    let (expression, zone) = at_expression(next.due, lead.tz, s.clock.now()).expect("future");
    assert_eq!(
        run(&s, OpsCommand::Schedules(s.id.to_string())).await,
        format!("{name}  {expression}  {zone}\n")
    );
}

#[tokio::test]
async fn stop_finishes_the_lead_for_good_and_deletes_its_schedule() {
    let s = lead_with_scheduled_follow_up().await;
    assert_eq!(schedule_names(&s).await.len(), 1);
    s.clock.set(at(60));

    let text = apply(&s, Command::Stop).await;

    assert_eq!(text, format!("{}: finished (operator_stop)\n", s.id));
    let lead = stored(&s).await;
    assert_eq!(lead.status, Status::Finished);
    assert!(lead.next.is_none());
    assert!(schedule_names(&s).await.is_empty(), "the timer is deleted");
    assert_eq!(
        run(&s, OpsCommand::Schedules(s.id.to_string())).await,
        format!("no pending schedules for {}\n", s.id)
    );
    // Resume only applies to paused or handed-off leads: a stopped one stays stopped, with nothing planned.
    apply(&s, Command::Resume).await;
    let lead = stored(&s).await;
    assert_eq!(lead.status, Status::Finished);
    assert!(lead.next.is_none());
    assert!(schedule_names(&s).await.is_empty());
}

#[tokio::test]
async fn a_malformed_id_is_not_a_lead_id_and_an_unknown_one_is_no_lead() {
    // With a schedule in the group, so `schedules` of another id proves the lookup is by lead.
    let s = lead_with_scheduled_follow_up().await;
    let before = stored(&s).await;
    let timers = schedule_names(&s).await;
    assert_eq!(timers, vec![schedule_name_of(&before)]);
    let unknown = LeadId::derive("acme", Channel::Instagram, "no-such-user");

    for bad in [
        "ld_123",
        "LD_0123456789abcdef0123",
        "ld_0123456789ABCDEF0123",
        "",
    ] {
        for cmd in [
            OpsCommand::Show(bad.into()),
            OpsCommand::Schedules(bad.into()),
            OpsCommand::Apply {
                id: bad.into(),
                command: Command::Stop,
            },
        ] {
            let e = s.ops.run(cmd.clone()).await.expect_err("refused");
            assert_eq!(
                e,
                format!("`{bad}` is not a lead id (ld_ + 20 hex digits)"),
                "{cmd:?}"
            );
        }
    }

    let e = s
        .ops
        .run(OpsCommand::Show(unknown.to_string()))
        .await
        .expect_err("unknown");
    assert_eq!(e, format!("no lead {unknown}"));
    let e = s
        .ops
        .run(OpsCommand::Apply {
            id: unknown.to_string(),
            command: Command::Pause { until: None },
        })
        .await
        .expect_err("unknown");
    assert_eq!(e, format!("no lead {unknown}"));
    assert_eq!(
        run(&s, OpsCommand::Schedules(unknown.to_string())).await,
        format!("no pending schedules for {unknown}\n")
    );

    // Nothing was created or touched by the refused commands.
    assert_eq!(
        s.ops.services.store.list().await.expect("list"),
        vec![s.id.clone()]
    );
    let after = stored(&s).await;
    assert_eq!(after.status, before.status);
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(
        schedule_names(&s).await,
        timers,
        "the real lead's timer is intact"
    );
}
