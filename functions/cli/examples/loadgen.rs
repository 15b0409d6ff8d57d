//! HTTP load generator for `cadence serve`, with its own Graph API stand-in.
//!
//! Posts signed Instagram DM webhooks, each from a new person (a new lead, so every POST runs the whole
//! first-contact path: signature, parse, store, engine, queue, and the opener sent to the Graph API stand-in).
//!
//!   loadgen --target 127.0.0.1:8080 --graph-port 18998 --secret S --rate 1000 --secs 10   # open loop
//!   loadgen --target 127.0.0.1:8080 --graph-port 18998 --secret S --conc 32 --secs 10     # saturation
//!
//! Start `cadence serve --addr 127.0.0.1:8080 --graph-url http://127.0.0.1:18998` (with the same
//! META_APP_SECRET) next to it. Prints one JSON line: requests/s, HTTP latency (POST → 200) and webhook →
//! send latency (POST → the opener reaching the stand-in), p50/p99/max. Open-loop latencies are measured from
//! each request's scheduled start, so a stalled server is not hidden (no coordinated omission).

use axum::body::Bytes;
use axum::extract::State;
use axum::Router;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn stub(
    State(arrivals): State<Arrivals>,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], &'static str) {
    let now = Instant::now();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
        if let Some(id) = v.pointer("/recipient/id").and_then(|x| x.as_str()) {
            arrivals
                .lock()
                .expect("lock")
                .entry(id.to_string())
                .or_insert(now);
        }
    }
    (
        [("content-type", "application/json")],
        r#"{"recipient_id":"x","message_id":"m_1"}"#,
    )
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(target: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(target).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// One keep-alive POST; returns the status.
    async fn post(&mut self, path: &str, sig: &str, body: &[u8]) -> std::io::Result<u16> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nx-hub-signature-256: {sig}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        self.stream.write_all(&req).await?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + len {
                    let n = self.stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return Ok(status);
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn dm_body(uid: &str) -> Vec<u8> {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        r#"{{"object":"instagram","entry":[{{"id":"17841400000000001","time":{t},"messaging":[{{"sender":{{"id":"{uid}"}},"recipient":{{"id":"17841400000000001"}},"timestamp":{t},"message":{{"mid":"m-{uid}-0","text":"Hi! saw your reel, how does it work?"}}}}]}}]}}"#
    )
    .into_bytes()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((p * v.len() as f64) as usize).min(v.len() - 1);
    (v[i] * 1000.0).round() / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let target = arg("--target").unwrap_or_else(|| "127.0.0.1:8080".into());
    let graph_port: u16 = arg("--graph-port")
        .and_then(|v| v.parse().ok())
        .unwrap_or(18998);
    let secret = arg("--secret").unwrap_or_else(|| "bench-secret".into());
    let secs: f64 = arg("--secs").and_then(|v| v.parse().ok()).unwrap_or(10.0);
    let rate: Option<f64> = arg("--rate").and_then(|v| v.parse().ok());
    let conc: usize = arg("--conc")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if rate.is_some() { 64 } else { 32 });
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 100_000);

    let arrivals: Arrivals = Arc::default();
    let app = Router::new()
        .fallback(axum::routing::post(stub))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", graph_port))
        .await
        .expect("bind the Graph stand-in");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sent: Arc<Mutex<Vec<(String, Instant, f64)>>> = Arc::default(); // (uid, scheduled start, http seconds)
    let errors = Arc::new(AtomicU64::new(0));
    let non200 = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(50);
    let stop = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for w in 0..conc {
        let (target, secret, sent, errors, non200) = (
            target.clone(),
            secret.clone(),
            sent.clone(),
            errors.clone(),
            non200.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = match Conn::open(&target).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("connect {target}: {e}");
                    errors.fetch_add(1, Relaxed);
                    return;
                }
            };
            let mut local = Vec::new();
            let (mut i, step) = match rate {
                Some(_) => (w as u64, conc as u64),
                None => (w as u64 * 1_000_000_000, 1),
            };
            loop {
                let scheduled = match rate {
                    Some(r) => start + Duration::from_secs_f64(i as f64 / r),
                    None => Instant::now().max(start),
                };
                if scheduled >= stop {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let uid = format!("9{run:05}{i:010}");
                let body = dm_body(&uid);
                let sig = cadence_meta::sign(secret.as_bytes(), &body);
                match conn.post("/webhook", &sig, &body).await {
                    Ok(200) => local.push((uid, scheduled, scheduled.elapsed().as_secs_f64())),
                    Ok(_) => {
                        non200.fetch_add(1, Relaxed);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Relaxed);
                        match Conn::open(&target).await {
                            Ok(c) => conn = c,
                            Err(_) => return,
                        }
                    }
                }
                i += step;
            }
            sent.lock().expect("lock").extend(local);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Let the last sends arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = std::mem::take(&mut *sent.lock().expect("lock"));
    let arrivals = arrivals.lock().expect("lock");
    let mut http: Vec<f64> = sent.iter().map(|s| s.2 * 1000.0).collect();
    let mut e2e: Vec<f64> = sent
        .iter()
        .filter_map(|(uid, t0, _)| {
            arrivals
                .get(uid)
                .map(|a| a.saturating_duration_since(*t0).as_secs_f64() * 1000.0)
        })
        .collect();
    let ok = http.len();
    println!(
        "{}",
        serde_json::json!({
            "mode": if rate.is_some() { "open_loop" } else { "closed_loop" },
            "target_rate": rate, "conc": conc, "secs": secs,
            "ok": ok, "non_200": non200.load(Relaxed), "errors": errors.load(Relaxed),
            "req_per_s": (ok as f64 / elapsed * 10.0).round() / 10.0,
            "http_p50_ms": pct(&mut http, 0.50), "http_p99_ms": pct(&mut http, 0.99), "http_max_ms": pct(&mut http, 1.0),
            "sends_seen": e2e.len(),
            "send_p50_ms": pct(&mut e2e, 0.50), "send_p99_ms": pct(&mut e2e, 0.99), "send_max_ms": pct(&mut e2e, 1.0),
        })
    );
}
