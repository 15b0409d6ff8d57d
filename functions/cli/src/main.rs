//! `cadence`: demo, replay, serve, validate, preview.

use cadence_cli::{config, demo, operate, replay, report, serve};
use cadence_core::chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cadence",
    version,
    about = "DM-first sales cadences for Instagram, WhatsApp and Messenger"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the built-in cadences for sample leads on a virtual clock and prints their timelines.
    Demo,
    /// Replays timed Meta webhooks (JSON Lines) and prints every outbound request (JSON Lines).
    Replay {
        /// Input: one `{"at": RFC 3339, "webhook": {…}}` per line, in time order ("-" for stdin).
        #[arg(long)]
        events: PathBuf,
        /// Accounts file (default: the demo account for every id).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Extra cadence files (repeatable).
        #[arg(long = "cadence")]
        cadences: Vec<PathBuf>,
        /// Stop the virtual clock here (default: 60 days after the last event).
        #[arg(long)]
        until: Option<String>,
    },
    /// Serves the webhook endpoint on the wall clock and sends for real to the Graph API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long = "cadence")]
        cadences: Vec<PathBuf>,
        /// Graph API base URL (Meta by default; a mock or stub for tests).
        #[arg(long)]
        graph_url: Option<String>,
    },
    /// Checks cadence files; prints `file: field: reason` for every problem.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Lists leads, or shows one lead's timeline, from a running `cadence serve` (admin API).
    Leads {
        #[command(subcommand)]
        action: LeadsCmd,
        /// The `cadence serve` address (needs CADENCE_ADMIN_TOKEN on both sides).
        #[arg(long, global = true, default_value = DEFAULT_SERVER)]
        server: String,
    },
    /// Pauses a lead's automation (indefinitely, or until an instant).
    Pause {
        id: String,
        /// Resume with a re-open touch at this instant (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value = DEFAULT_SERVER)]
        server: String,
    },
    /// Resumes a paused or handed-off lead from where it stalled.
    Resume {
        id: String,
        #[arg(long, default_value = DEFAULT_SERVER)]
        server: String,
    },
    /// Stops a lead's cadence for good.
    Stop {
        id: String,
        #[arg(long, default_value = DEFAULT_SERVER)]
        server: String,
    },
    /// Hands a lead to a person (automation waits; a notification goes out).
    Handoff {
        id: String,
        #[arg(long, default_value = DEFAULT_SERVER)]
        server: String,
    },
    /// Prints the per-step funnel of a replayed scenario (--events) or of a running serve (--server).
    Report {
        /// Replay input, as for `cadence replay` ("-" for stdin).
        #[arg(long, conflicts_with = "server")]
        events: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long = "cadence")]
        cadences: Vec<PathBuf>,
        /// Count sends from this instant (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Count sends before this instant (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// A running `cadence serve` to read instead of replaying.
        #[arg(long)]
        server: Option<String>,
    },
    /// Shows what a lead would get, and when.
    Preview {
        /// Cadence id (built-in or from --file).
        #[arg(long)]
        cadence: String,
        /// The lead's time zone (IANA name).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// When the lead first writes (RFC 3339).
        #[arg(long)]
        start: String,
        /// The lead's replies: `+2m yes; +10m b; +30m <read>; +1h Thu 10am` (or a file with one per line).
        #[arg(long)]
        replies: Option<String>,
        /// A cadence file to preview instead of a built-in.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

#[derive(Subcommand)]
enum LeadsCmd {
    /// Every lead: status, reason, stage, next touch.
    List,
    /// One lead's timeline: every decision and its reason, in the lead's local time.
    Show { id: String },
}

/// Runs an admin API call and prints its answer.
async fn admin(server: &str, action: operate::AdminAction) -> ExitCode {
    match operate::run_admin(server, action).await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 timestamp: {e}"))
}

fn init_logs() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CADENCE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(code)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    match cli.command {
        Cmd::Demo => {
            let out = demo::demo().await;
            print!("{out}");
            ExitCode::SUCCESS
        }
        Cmd::Validate { files } => {
            let mut bad = false;
            for f in &files {
                match config::load_cadence(f) {
                    Ok(c) => println!(
                        "{}: ok ({}, {} steps)",
                        f.display(),
                        c.id,
                        c.steps.len() + c.follow_ups.len() + c.long_tail.len()
                    ),
                    Err(e) => {
                        bad = true;
                        eprintln!("{e}");
                    }
                }
            }
            if bad {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Cmd::Replay {
            events,
            config: cfg,
            cadences,
            until,
        } => {
            let until = match until.as_deref().map(parse_time).transpose() {
                Ok(u) => u,
                Err(e) => return fail(format!("--until: {e}"), 2),
            };
            let text = if events.as_os_str() == "-" {
                let mut s = String::new();
                if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                    return fail(format!("stdin: {e}"), 2);
                }
                s
            } else {
                match std::fs::read_to_string(&events) {
                    Ok(s) => s,
                    Err(e) => return fail(format!("{}: {e}", events.display()), 2),
                }
            };
            let (set, accounts) = match config::load(&cadences, cfg.as_deref()) {
                Ok(loaded) => loaded,
                Err(e) => return fail(e, 2),
            };
            let opts = replay::SimOptions {
                accounts,
                cadences: set,
                ..Default::default()
            };
            let lines = match replay::replay(&text, opts, until).await {
                Ok(l) => l,
                Err(e) => return fail(format!("{}: {e}", events.display()), 2),
            };
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            for l in &lines {
                if serde_json::to_writer(&mut w, l).is_err() || w.write_all(b"\n").is_err() {
                    return fail("stdout closed", 1);
                }
            }
            if w.flush().is_err() {
                return fail("stdout closed", 1);
            }
            ExitCode::SUCCESS
        }
        Cmd::Serve {
            addr,
            config: cfg,
            cadences,
            graph_url,
        } => {
            let (set, accounts) = match config::load(&cadences, cfg.as_deref()) {
                Ok(loaded) => loaded,
                Err(e) => return fail(e, 2),
            };
            match serve::serve(&addr, accounts, set, graph_url).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e, 1),
            }
        }
        Cmd::Leads { action, server } => {
            let action = match action {
                LeadsCmd::List => operate::AdminAction::List,
                LeadsCmd::Show { id } => operate::AdminAction::Show(id),
            };
            admin(&server, action).await
        }
        Cmd::Pause { id, until, server } => {
            let until = match until.as_deref().map(parse_time).transpose() {
                Ok(u) => u,
                Err(e) => return fail(format!("--until: {e}"), 2),
            };
            let command = "pause";
            admin(
                &server,
                operate::AdminAction::Command { id, command, until },
            )
            .await
        }
        Cmd::Resume { id, server } => {
            let (command, until) = ("resume", None);
            admin(
                &server,
                operate::AdminAction::Command { id, command, until },
            )
            .await
        }
        Cmd::Stop { id, server } => {
            let (command, until) = ("stop", None);
            admin(
                &server,
                operate::AdminAction::Command { id, command, until },
            )
            .await
        }
        Cmd::Handoff { id, server } => {
            let (command, until) = ("handoff", None);
            admin(
                &server,
                operate::AdminAction::Command { id, command, until },
            )
            .await
        }
        Cmd::Report {
            events,
            config: cfg,
            cadences,
            from,
            to,
            server,
        } => {
            let (from, to) = match (
                from.as_deref().map(parse_time).transpose(),
                to.as_deref().map(parse_time).transpose(),
            ) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(e), _) => return fail(format!("--from: {e}"), 2),
                (_, Err(e)) => return fail(format!("--to: {e}"), 2),
            };
            let events = match (events, server) {
                (_, Some(server)) => {
                    return admin(&server, operate::AdminAction::Funnel { from, to }).await
                }
                (Some(e), None) => e,
                (None, None) => return fail("report: give --events FILE or --server URL", 2),
            };
            let text = if events.as_os_str() == "-" {
                let mut s = String::new();
                if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                    return fail(format!("stdin: {e}"), 2);
                }
                s
            } else {
                match std::fs::read_to_string(&events) {
                    Ok(s) => s,
                    Err(e) => return fail(format!("{}: {e}", events.display()), 2),
                }
            };
            let (set, accounts) = match config::load(&cadences, cfg.as_deref()) {
                Ok(loaded) => loaded,
                Err(e) => return fail(e, 2),
            };
            let opts = replay::SimOptions {
                accounts,
                cadences: set,
                ..Default::default()
            };
            match report::replay_funnel(&text, opts, from, to).await {
                Ok(f) => {
                    print!("{}", f.render());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{}: {e}", events.display()), 2),
            }
        }
        Cmd::Preview {
            cadence,
            tz,
            start,
            replies,
            file,
        } => {
            let start = match parse_time(&start) {
                Ok(t) => t,
                Err(e) => return fail(format!("--start: {e}"), 2),
            };
            let tz: cadence_core::chrono_tz::Tz = match tz.parse() {
                Ok(z) => z,
                Err(_) => return fail(format!("--tz: unknown time zone `{tz}`"), 2),
            };
            let extra: Vec<PathBuf> = file.into_iter().collect();
            let set = match config::load_cadences(&extra) {
                Ok(s) => s,
                Err(e) => return fail(e, 2),
            };
            if !set.contains(&cadence) {
                return fail(format!("--cadence: no cadence `{cadence}` (built-ins: coach-ig, whatsapp-ecom, hybrid-b2b)"), 2);
            }
            let script = match replies.as_deref().map(demo::read_script).transpose() {
                Ok(s) => s.unwrap_or_default(),
                Err(e) => return fail(format!("--replies: {e}"), 2),
            };
            match demo::preview(set, &cadence, tz, start, &script).await {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, 2),
            }
        }
    }
}
