//! `cadence-ops`: the operator commands of `cadence leads|pause|resume|stop|handoff` against a deployed stack,
//! straight on its DynamoDB table and EventBridge Scheduler group (the CLI itself never links the AWS SDK).
//!
//! Thin: every command is [`Services::command`] or a store read, rendered by [`cadence_core::report`].
//! Configuration comes from the same environment variables as the Lambdas ([`AwsConfig::from_env`]).
//!
//! # Layout
//! - [`Ops`]: the services and the scheduler, built once; [`Ops::run`] answers one [`OpsCommand`] as text.
#![deny(clippy::unwrap_used)]

use cadence_aws::{build_services, AwsConfig, AwsError, EventBridgeTouchScheduler};
use cadence_core::engine::Command;
use cadence_core::ids::LeadId;
use cadence_core::ports::SystemClock;
use cadence_core::report::{render_list, render_timeline, LeadDetail, LeadView};
use cadence_core::service::Services;
use std::fmt::Write as _;
use std::sync::Arc;

/// What an operator asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpsCommand {
    List,
    Show(String),
    Apply { id: String, command: Command },
    Schedules(String),
}

/// The deployed stack, as operators reach it.
pub struct Ops {
    pub services: Services,
    pub scheduler: EventBridgeTouchScheduler,
}

impl Ops {
    /// From the Lambdas' environment variables and the default AWS credentials chain. Metric lines are off
    /// (operator commands are not funnel events worth a metric, and stdout is the answer).
    pub async fn from_env() -> Result<Self, AwsError> {
        let mut cfg = AwsConfig::from_env()?;
        cfg.metrics = false;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(&cfg, &sdk).await
    }

    pub async fn new(cfg: &AwsConfig, sdk: &aws_config::SdkConfig) -> Result<Self, AwsError> {
        let services = build_services(cfg, sdk).await?;
        let scheduler = EventBridgeTouchScheduler::new(
            aws_sdk_scheduler::Client::new(sdk),
            cfg.schedule.clone(),
            Arc::new(SystemClock),
        );
        Ok(Self {
            services,
            scheduler,
        })
    }

    /// Runs one command; the answer is text for stdout, the error a message for stderr.
    pub async fn run(&self, cmd: OpsCommand) -> Result<String, String> {
        let parse = |id: &str| {
            LeadId::parse(id)
                .ok_or_else(|| format!("`{id}` is not a lead id (ld_ + 20 hex digits)"))
        };
        let store = &self.services.store;
        match cmd {
            OpsCommand::List => {
                let mut views = Vec::new();
                for id in store.list().await.map_err(|e| e.to_string())? {
                    if let Some(v) = store.load(&id).await.map_err(|e| e.to_string())? {
                        views.push(LeadView::from(&v.value));
                    }
                }
                Ok(render_list(&views))
            }
            OpsCommand::Show(id) => {
                let id = parse(&id)?;
                let v = store
                    .load(&id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no lead {id}"))?;
                let audit = store.audit(&id).await.map_err(|e| e.to_string())?;
                Ok(render_timeline(&LeadDetail {
                    lead: LeadView::from(&v.value),
                    audit,
                }))
            }
            OpsCommand::Apply { id, command } => {
                let id = parse(&id)?;
                let l = self
                    .services
                    .command(&id, command.clone())
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no lead {id}"))?;
                let v = LeadView::from(&l);
                let mut out = format!(
                    "{id}: {} ({})",
                    v.status,
                    v.status_reason.as_deref().unwrap_or("-")
                );
                if let (Some(s), Some(d)) = (&v.next_step, v.next_due) {
                    let _ = write!(out, ", next {s} at {}", d.with_timezone(&v.tz));
                }
                out.push('\n');
                Ok(out)
            }
            OpsCommand::Schedules(id) => {
                let id = parse(&id)?;
                let list = self
                    .scheduler
                    .list_for_lead(&id)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut out = String::new();
                for s in &list {
                    let _ = writeln!(out, "{}  {}  {}", s.name, s.expression, s.zone);
                }
                if list.is_empty() {
                    let _ = writeln!(out, "no pending schedules for {id}");
                }
                Ok(out)
            }
        }
    }
}
