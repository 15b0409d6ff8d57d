//! `cadence report`: the per-step funnel of a replayed scenario (or of a running `cadence serve`, through
//! [`crate::operate::AdminClient`]), from the leads' audit trails.

use crate::replay::{parse_input, InputError, SimOptions, Simulation};
use cadence_core::chrono::{DateTime, Utc};
use cadence_core::ports::LeadStore;
use cadence_core::report::Funnel;

/// Replays `text` (the `cadence replay` input) with audit trails kept and computes the funnel of sends in
/// `[from, to)`.
pub async fn replay_funnel(
    text: &str,
    mut opts: SimOptions,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Funnel, InputError> {
    let input = parse_input(text)?;
    let Some(first) = input.first() else {
        return Ok(Funnel {
            from,
            to,
            ..Default::default()
        });
    };
    opts.keep_audit = true;
    opts.record = false;
    let mut sim = Simulation::new(opts, first.at);
    sim.run(&input, None).await;
    Ok(simulation_funnel(&sim, from, to).await)
}

/// The funnel of everything a simulation recorded so far.
pub async fn simulation_funnel(
    sim: &Simulation,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Funnel {
    let mut trails = Vec::new();
    for lead in sim.store.snapshot() {
        let audit = sim.store.audit(&lead.id).await.unwrap_or_default();
        trails.push((lead.cadence, audit));
    }
    Funnel::compute(
        trails.iter().map(|(c, a)| (c.as_str(), a.as_slice())),
        Some(&sim.services.cadences),
        from,
        to,
    )
}
