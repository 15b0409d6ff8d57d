#!/usr/bin/env bash
# Cadence performance measurements (issue 7). Builds release and prints a markdown table of the figures
# recorded in the README's Benchmarks section. Not part of ./scripts/test.sh: these are measurements, not tests.
#
#   scripts/bench.sh                 # replay scale, memory per lead, cost model, HTTP load on `cadence serve`
#   BENCH_CRITERION=1 scripts/bench.sh   # also the criterion micro-benchmarks (engine, reply, render, webhook)
#   BENCH_SIZES="1000 10000" scripts/bench.sh   # replay sizes (default 1000 10000 30000 100000)
#
# Machines are shared and noisy: the load average is printed with the figures; compare ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${BENCH_OUT:-$root/target/bench}
mkdir -p "$out"
sizes=${BENCH_SIZES:-"1000 10000 30000 100000"}
start="2026-12-01T08:00:00Z"
until="2027-01-30T08:00:00Z"   # 60 virtual days from the first contact
secret=bench-secret-$$
port=${BENCH_PORT:-18780}
gport=${BENCH_GRAPH_PORT:-18998}

echo "# build (release)" >&2
cargo build --release -q -p cadence-cli --bin cadence --example cost_model --example loadgen --example mem_leads
bin=$root/target/release
rows=()
row() { rows+=("| $1 | $2 | $3 | \`$4\` |"); }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# 1. replay scale: 1k → 100k leads, 60 virtual days
for n in $sizes; do
  f=$out/replay-$n.jsonl
  [ -s "$f" ] || python3 scripts/gen_replay.py --leads "$n" --start "$start" > "$f"
  lines=$(wc -l < "$f")
  l=$(load)
  /usr/bin/time -f "%e %M" -o "$out/time-$n" "$bin/cadence" replay --events "$f" --until "$until" > "$out/replay-$n.out" 2>/dev/null
  read -r secs maxkb < "$out/time-$n"
  outl=$(wc -l < "$out/replay-$n.out")
  echo "replay $n leads: $lines input lines, $outl output lines, ${secs}s, max RSS ${maxkb} KiB (load $l)" >&2
  row "replay $n leads / 60 days ($lines webhooks → $outl actions)" "${secs} s (max RSS $((maxkb / 1024)) MiB)" "load $l" "cadence replay --events replay-$n.jsonl --until $until"
done

# 2. memory per active lead on the embedded store
for a in "" "--audit"; do
  j=$("$bin/examples/mem_leads" --leads 100000 $a)
  echo "mem_leads $a: $j" >&2
  mib=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['mib_per_100k_leads'])" "$j")
  row "memory per 100k active leads ${a:-(replay: no audit)}" "$mib MiB" "load $(load)" "examples/mem_leads --leads 100000 $a"
done

# 3. cost model on the 10k mix
mix=$out/replay-10000.jsonl
[ -s "$mix" ] || python3 scripts/gen_replay.py --leads 10000 --start "$start" > "$mix"
"$bin/examples/cost_model" --events "$mix" --until "$until" > "$out/cost_model.md"
total=$(grep -F '**total**' "$out/cost_model.md" | tail -1 | awk -F'|' '{gsub(/[ *]/,"",$4); gsub(/[ *]/,"",$5); print "$"$4" per 1,000 leads, $"$5" per 1,000 messages"}')
row "AWS fees, 10k mixed leads" "$total" "-" "examples/cost_model --events replay-10000.jsonl"

# 4. HTTP load on cadence serve (loopback, Graph API stand-in inside the load generator)
META_APP_SECRET=$secret META_VERIFY_TOKEN=v META_ACCESS_TOKEN=t CADENCE_LOG=error \
  "$bin/cadence" serve --addr "127.0.0.1:$port" --graph-url "http://127.0.0.1:$gport" > /dev/null 2>"$out/serve.err" &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
for i in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
rss0=$(awk '/VmRSS/{print $2}' /proc/$spid/status)
l=$(load)
open=$("$bin/examples/loadgen" --target "127.0.0.1:$port" --graph-port "$gport" --secret "$secret" --rate 1000 --secs 10)
echo "open loop 1000/s: $open (load $l)" >&2
l2=$(load)
sat=$("$bin/examples/loadgen" --target "127.0.0.1:$port" --graph-port "$gport" --secret "$secret" --conc 32 --secs 10)
echo "saturation: $sat (load $l2)" >&2
rss1=$(awk '/VmRSS/{print $2}' /proc/$spid/status)
kill $spid; trap - EXIT
f() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(' / '.join(str(d[k]) for k in sys.argv[2:]))" "$@"; }
row "serve at 1,000 req/s: HTTP p50 / p99 / max (ms)" "$(f "$open" http_p50_ms http_p99_ms http_max_ms)" "load $l" "examples/loadgen --rate 1000 --secs 10"
row "serve at 1,000 req/s: webhook → opener at Graph p50 / p99 (ms)" "$(f "$open" send_p50_ms send_p99_ms)" "load $l" "examples/loadgen --rate 1000 --secs 10"
row "serve saturation (32 conns): req/s, HTTP p50 / p99 (ms)" "$(f "$sat" req_per_s http_p50_ms http_p99_ms)" "load $l2" "examples/loadgen --conc 32 --secs 10"
leads=$(( $(f "$open" ok) + $(f "$sat" ok) ))
row "serve RSS growth ($leads leads, audit kept)" "$(( (rss1 - rss0) / 1024 )) MiB" "-" "/proc/PID/status VmRSS"

# 5. criterion micro-benchmarks (optional: ~5 min)
if [ "${BENCH_CRITERION:-0}" = 1 ]; then
  cargo bench -q -p cadence-core --bench engine -- --noplot 2>/dev/null | tee "$out/criterion-core.txt" >&2
  cargo bench -q -p cadence-meta --bench webhook -- --noplot 2>/dev/null | tee "$out/criterion-meta.txt" >&2
fi

echo
echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "| measurement | figure | machine | command |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
