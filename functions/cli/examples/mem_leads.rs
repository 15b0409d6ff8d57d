//! Memory per active lead on the embedded store: N first contacts through the production services (each lead
//! gets its opener and a pending follow-up), then the growth of this process's resident set.
//!
//!   cargo run --release -p cadence-cli --example mem_leads [-- --leads 100000 --audit]
//!
//! `--audit` keeps audit trails in memory, as `cadence serve` does; without it, as `cadence replay` does.

use cadence_cli::replay::{SimOptions, Simulation};
use cadence_cli::synth::{body, Action, Persona};
use cadence_core::chrono::{DateTime, Duration, Utc};
use cadence_core::ids::Channel;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let leads: usize = args
        .iter()
        .position(|a| a == "--leads")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let audit = args.iter().any(|a| a == "--audit");
    let start = DateTime::parse_from_rfc3339("2026-12-07T14:03:00Z")
        .expect("t")
        .with_timezone(&Utc);
    let mut sim = Simulation::new(
        SimOptions {
            record: false,
            keep_audit: audit,
            ..SimOptions::default()
        },
        start,
    );
    // Bodies are built one at a time so only the store grows.
    let before = rss_kib();
    let t = std::time::Instant::now();
    let say = Action::Say {
        text: "Hi! saw your reel, how does it work?".into(),
        payload: None,
    };
    for i in 0..leads {
        let channel = [Channel::Instagram, Channel::Messenger, Channel::Whatsapp][i % 3];
        let user = if channel == Channel::Whatsapp {
            format!("3361{i:08}")
        } else {
            format!("68{i:014}")
        };
        let p = Persona {
            channel,
            user,
            name: "Ada Lovelace".into(),
        };
        let b = serde_json::to_vec(&body(&p, &say, start, i)).expect("json");
        sim.post_webhook(&b).await;
    }
    // Openers go out; every lead then waits on its +4 h follow-up.
    sim.advance_to(start + Duration::minutes(1)).await;
    let after = rss_kib();
    let grown = after.saturating_sub(before);
    println!(
        "{}",
        serde_json::json!({
            "leads": sim.store.len(), "audit": audit, "outbound": sim.sink.count(),
            "rss_before_kib": before, "rss_after_kib": after,
            "rss_growth_mib": (grown as f64 / 1024.0 * 10.0).round() / 10.0,
            "bytes_per_lead": grown * 1024 / sim.store.len().max(1) as u64,
            "mib_per_100k_leads": ((grown as f64 / 1024.0) * 100_000.0 / sim.store.len().max(1) as f64 * 10.0).round() / 10.0,
            "secs": (t.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        })
    );
}
