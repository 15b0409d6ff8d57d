#!/usr/bin/env bash
# Cold-start proxies for the three Lambdas (issue 7, rows 8 and 9 of the README's Benchmarks table):
# builds each function for arm64 (Graviton) exactly as `sam build` / `cdk deploy` do (`cargo lambda build
# --release --arm64`, zig as the cross linker, no Docker), prints each bootstrap's uncompressed and zipped size,
# then times the sweeper's init on x86_64 (process start → first `GET /runtime/invocation/next` on a local
# Runtime API stub; the webhook and send functions read their secrets from SSM at init, which needs AWS).
# Not part of ./scripts/test.sh: the cross build takes ~6-10 minutes on 2 cores.
#
#   scripts/lambda_size.sh           # sizes + init times
#   INIT_RUNS=0 scripts/lambda_size.sh   # sizes only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools="${CADENCE_TOOLS_DIR:-$root/.tools}"
target="${CARGO_TARGET_DIR:-$root/target}"
functions="cadence-webhook cadence-send cadence-sweeper"

if ! cargo lambda --version >/dev/null 2>&1; then
  if [ ! -x "$tools/cargo-lambda/bin/cargo-lambda" ]; then
    echo "# installing cargo-lambda and zig (PyPI) into $tools/cargo-lambda" >&2
    python3 -m venv "$tools/cargo-lambda"
    "$tools/cargo-lambda/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda>=1.9,<2" ziglang
  fi
  export PATH="$tools/cargo-lambda/bin:$PATH"
fi
rustup target add aarch64-unknown-linux-gnu >/dev/null || {
  echo "cannot add the aarch64-unknown-linux-gnu target (rustup needs the network once)" >&2
  exit 1
}

echo "# cargo lambda build --release --arm64 ($functions)" >&2
args=()
for f in $functions; do args+=(-p "$f"); done
cargo lambda build --release --arm64 "${args[@]}" >&2

printf '| function | bootstrap (arm64, uncompressed) | zipped |\n|---|---|---|\n'
for f in $functions; do
  b="$target/lambda/$f/bootstrap"
  [ -f "$b" ] || { echo "no $b" >&2; exit 1; }
  z=$(python3 -c 'import io,sys,zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[1], "bootstrap")
print(len(buf.getvalue()))' "$b")
  printf '| %s | %.1f MB | %.1f MB |\n' "$f" "$(stat -c %s "$b")e-6" "${z}e-6"
done

runs=${INIT_RUNS:-20}
if [ "$runs" -gt 0 ]; then
  echo "# sweeper init time on this machine (x86_64 release build, $runs runs)" >&2
  cargo build --release -q -p cadence-sweeper
  python3 scripts/lambda_init.py "$target/release/cadence-sweeper" --runs "$runs"
fi
