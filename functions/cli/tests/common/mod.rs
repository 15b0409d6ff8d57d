//! Shared harness: scripted leads through the production services on the virtual clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use cadence_cli::replay::{SimOptions, Simulation};
use cadence_cli::sinks::OutputLine;
use cadence_cli::synth::{body, Action, Persona};
use cadence_core::account::Accounts;
use cadence_core::chrono::{DateTime, Duration, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::{AuditRecord, Lead};
use cadence_core::ports::LeadStore;
use cadence_core::service::CadenceSet;

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

/// The test account: New York, assets and an email sender configured, `cadence` on every channel.
pub fn accounts(cadence: &str, tz: &str) -> Accounts {
    let yaml = format!(
        r#"
accounts:
  - id: acme
    business: Acme
    instagram_id: "17841400000000001"
    page_id: "102030405060708"
    whatsapp_phone_number_id: "106540352242922"
    timezone: {tz}
    cadences: {{ instagram: {cadence}, messenger: {cadence}, whatsapp: {cadence} }}
    email: {{ from: hello@acme.example }}
    assets:
      voice_reach: https://cdn.acme.example/a.m4a
      voice_clients: https://cdn.acme.example/b.m4a
      voice_general: https://cdn.acme.example/c.m4a
      gift_guide: https://cdn.acme.example/g.pdf
      voice_personal: https://cdn.acme.example/p.ogg
      catalog: https://cdn.acme.example/c.pdf
      walkthrough: https://cdn.acme.example/w.mp4
      comparison: https://cdn.acme.example/x.pdf
      overview: https://cdn.acme.example/o.pdf
    availability: {{ timezone: {tz}, hours: "09:00-17:00" }}
"#
    );
    Accounts::from_yaml("test", &yaml, |_| true).expect("test accounts")
}

pub struct Outcome {
    pub out: Vec<OutputLine>,
    pub lead: Lead,
    pub audit: Vec<AuditRecord>,
    pub start: DateTime<Utc>,
}

impl Outcome {
    /// (minutes after start, step, channel) for every output line.
    pub fn timeline(&self) -> Vec<(i64, String, String)> {
        self.out
            .iter()
            .map(|o| {
                (
                    (utc(&o.at) - self.start).num_minutes(),
                    o.step.clone(),
                    o.channel.to_string(),
                )
            })
            .collect()
    }
}

/// Runs one persona's script (offsets from `start`) to `start + days`.
pub async fn run(
    cadence: &str,
    tz: &str,
    persona: &Persona,
    start: DateTime<Utc>,
    script: &[(Duration, Action)],
    days: i64,
) -> Outcome {
    let accounts = accounts(cadence, tz);
    let opts = SimOptions {
        accounts,
        cadences: CadenceSet::builtins(),
        keep_audit: true,
        ..Default::default()
    };
    let mut sim = Simulation::new(opts, start);
    for (n, (d, action)) in script.iter().enumerate() {
        let at = start + *d;
        sim.advance_to(at - Duration::milliseconds(1)).await;
        sim.clock.set(at);
        let b = body(persona, action, at, n);
        sim.post_webhook(&serde_json::to_vec(&b).unwrap()).await;
    }
    sim.advance_to(start + Duration::days(days)).await;
    let id = LeadId::derive("acme", persona.channel, &persona.user);
    let lead = sim
        .store
        .load(&id)
        .await
        .unwrap()
        .expect("lead exists")
        .value;
    let audit = sim.store.audit(&id).await.unwrap();
    Outcome {
        out: sim.take_output(),
        lead,
        audit,
        start,
    }
}

pub fn say(t: &str) -> Action {
    Action::Say {
        text: t.into(),
        payload: None,
    }
}

pub fn tap(title: &str, payload: &str) -> Action {
    Action::Say {
        text: title.into(),
        payload: Some(payload.into()),
    }
}

pub fn ig() -> Persona {
    Persona {
        channel: Channel::Instagram,
        user: "6871000000000001".into(),
        name: "Ada".into(),
    }
}

pub fn wa() -> Persona {
    // A +1 number spans several zones, so the account's zone applies.
    Persona {
        channel: Channel::Whatsapp,
        user: "15551234567".into(),
        name: "Bruno Diaz".into(),
    }
}

pub fn messenger() -> Persona {
    Persona {
        channel: Channel::Messenger,
        user: "7100000000000003".into(),
        name: "Chloé".into(),
    }
}

pub fn m(n: i64) -> Duration {
    Duration::minutes(n)
}

pub fn local_hour(t: &str, tz: Tz) -> u32 {
    use cadence_core::chrono::Timelike;
    utc(t).with_timezone(&tz).hour()
}
