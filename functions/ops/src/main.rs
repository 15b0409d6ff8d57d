//! `cadence-ops`: operator commands against a deployed stack. Configuration from the Lambdas' environment
//! variables (`CADENCE_TABLE`, `CADENCE_SCHEDULE_GROUP` …) and the default AWS credentials.

use cadence_core::chrono::{DateTime, Utc};
use cadence_core::engine::Command;
use cadence_ops::{Ops, OpsCommand};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cadence-ops",
    version,
    about = "Operate a deployed Cadence stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// `leads list` or `leads show ID` (the timeline in the lead's local time).
    Leads {
        #[command(subcommand)]
        action: Leads,
    },
    /// Pauses a lead (indefinitely, or until an RFC 3339 instant).
    Pause {
        id: String,
        #[arg(long)]
        until: Option<DateTime<Utc>>,
    },
    Resume {
        id: String,
    },
    Stop {
        id: String,
    },
    Handoff {
        id: String,
    },
    /// The lead's pending EventBridge schedules: name, expression, zone.
    Schedules {
        id: String,
    },
}

#[derive(Subcommand)]
enum Leads {
    List,
    Show { id: String },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CADENCE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cmd = match cli.command {
        Cmd::Leads {
            action: Leads::List,
        } => OpsCommand::List,
        Cmd::Leads {
            action: Leads::Show { id },
        } => OpsCommand::Show(id),
        Cmd::Pause { id, until } => OpsCommand::Apply {
            id,
            command: Command::Pause { until },
        },
        Cmd::Resume { id } => OpsCommand::Apply {
            id,
            command: Command::Resume,
        },
        Cmd::Stop { id } => OpsCommand::Apply {
            id,
            command: Command::Stop,
        },
        Cmd::Handoff { id } => OpsCommand::Apply {
            id,
            command: Command::Handoff,
        },
        Cmd::Schedules { id } => OpsCommand::Schedules(id),
    };
    let ops = match Ops::from_env().await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cadence-ops: {e}");
            return ExitCode::from(2);
        }
    };
    match ops.run(cmd).await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cadence-ops: {e}");
            ExitCode::from(1)
        }
    }
}
