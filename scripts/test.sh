#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (moto for the AWS API emulator,
# cfn-lint and the CDK toolchain for the infra checks), starts the emulator on 127.0.0.1, runs formatting,
# clippy and `cargo test --workspace`, lints the infra templates, and exits non-zero on any failure.
#
#   ./scripts/test.sh            everything
#   SKIP_INFRA=1 ./scripts/test.sh   Rust only (still starts the emulator)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools="${CADENCE_TOOLS_DIR:-$root/.tools}"
mkdir -p "$tools"

step() { printf '\n==> %s\n' "$*"; }

# ---- AWS API emulator (moto server, from PyPI) -------------------------------------------------------------
step "AWS API emulator (moto)"
if [ ! -x "$tools/moto/bin/moto_server" ]; then
  python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]>=5.1,<6"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$tools/moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$tools/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null || { echo "moto did not start; see $tools/moto.log"; exit 1; }
export CADENCE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
echo "moto on $CADENCE_TEST_AWS_ENDPOINT"

# ---- Rust ---------------------------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "core crate has no AWS, Lambda or HTTP dependency"
if cargo tree -p cadence-core --edges normal --prefix none | grep -Ei '^(aws-|lambda|reqwest|hyper|axum|http )'; then
  echo "cadence-core must stay pure"; exit 1
fi

step "cargo test --workspace"
cargo test --workspace --locked

# ---- Infra --------------------------------------------------------------------------------------------------
if [ "${SKIP_INFRA:-0}" != "1" ] && [ -x infra/lint.sh ]; then
  step "infra templates"
  CADENCE_TOOLS_DIR="$tools" infra/lint.sh
fi

step "all tests passed"
