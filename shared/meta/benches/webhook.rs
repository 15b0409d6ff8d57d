//! Webhook ingress micro-benchmarks (criterion): signature check over the raw bytes, parsing and
//! normalisation into inbound events — everything the webhook Lambda does before touching the store.
//!
//! `cargo bench -p cadence-meta --bench webhook` (figures in the README's Benchmarks section).

use cadence_meta::{parse_webhook, sign, verify_signature};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const SECRET: &[u8] = b"bench-app-secret-0123456789abcdef";

/// An Instagram webhook body of at least `size` bytes: one entry per message, as Meta batches them.
fn ig_body(size: usize) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut len = 0;
    let mut n = 0u64;
    while len < size {
        let e = format!(
            r#"{{"time":1781000000900,"id":"17841400000000001","messaging":[{{"sender":{{"id":"73910482156{n:05}"}},"recipient":{{"id":"17841400000000001"}},"timestamp":{ts},"message":{{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTk2MDg5MzE5NjgwNzQ3OjMy{n:08}","text":"Salut ! C'est combien le programme d\u00e9butant ? J'ai vu ta vid\u00e9o \ud83d\ude0a"}}}}]}}"#,
            ts = 1781000000123u64 + n
        );
        len += e.len() + 1;
        entries.push(e);
        n += 1;
    }
    format!(
        r#"{{"object":"instagram","entry":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

fn bench_ingress(c: &mut Criterion) {
    let real = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/wa-ctwa-referral.json"
    ))
    .expect("events/wa-ctwa-referral.json");
    let bodies = [
        ("wa_ctwa_1.8KB", real),
        ("ig_2KB", ig_body(2_000)),
        ("ig_100KB", ig_body(100_000)),
    ];
    let mut g = c.benchmark_group("ingress");
    for (name, body) in &bodies {
        let sig = sign(SECRET, body);
        let events = parse_webhook(body).expect("parses").events.len();
        assert!(events >= 1, "{name}: no events");
        g.throughput(Throughput::Elements(1));
        g.bench_function(
            format!("verify+parse/{name}/{}B/{events}ev", body.len()),
            |b| {
                b.iter(|| {
                    verify_signature(SECRET, Some(&sig), black_box(body)).expect("valid");
                    parse_webhook(body).expect("parses")
                })
            },
        );
        g.bench_function(format!("verify_only/{name}"), |b| {
            b.iter(|| verify_signature(SECRET, Some(&sig), black_box(body)).expect("valid"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_ingress);
criterion_main!(benches);
