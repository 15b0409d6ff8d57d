#!/usr/bin/env bash
# Offline checks of the infrastructure code (no AWS credentials, no Docker, no Rust build):
#   1. cfn-lint + the serverless rules on the SAM template      (zero errors, zero warnings)
#   2. sam validate --lint                                      (when aws-sam-cli installs; skipped otherwise)
#   3. cdk synth of the CDK app with cdk-nag AwsSolutions       (any unacknowledged finding fails),
#      then cfn-lint on the synthesized template
#   4. parity.py: SAM and CDK define the same resources, routes, parameters, conditions, rules, outputs,
#      environment variables, IAM grants and dashboard
#
# Tools are installed once under ${CADENCE_TOOLS_DIR:-<repo>/.tools} and reused:
#   infra-venv/   cfn-lint, cfn-lint-serverless, PyYAML        sam-venv/   aws-sam-cli (own venv: it pins
#   npm-cache/    npm's download cache                                     old boto3/click/pydantic)
# Needs python3 (3.10+), node 20+ and npm. Environment knobs:
#   CADENCE_SKIP_SAM=1   do not install or run aws-sam-cli (step 2)
#   CADENCE_SKIP_CDK=1   skip steps 3 and 4 (no npm)
set -euo pipefail

infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$infra")"
tools="${CADENCE_TOOLS_DIR:-$root/.tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"

# Pinned major versions; changing a spec here reinstalls the venv on the next run.
infra_reqs=("cfn-lint>=1.58,<2" "cfn-lint-serverless>=0.3.6,<0.4" "pyyaml>=6,<7")
sam_reqs=("aws-sam-cli>=1.170,<2")

export SAM_CLI_TELEMETRY=0 CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true
export PIP_DISABLE_PIP_VERSION_CHECK=1

started=$SECONDS
step_name=""
step_started=$SECONDS
finish_step() {
  if [ -n "$step_name" ]; then printf '    (%s: %ds)\n' "$step_name" "$((SECONDS - step_started))"; fi
  step_name=""
}
step() {
  finish_step
  step_name="$1"
  step_started=$SECONDS
  printf -- '--> %s\n' "$1"
}

# ensure_venv DIR REQUIREMENT... : (re)create DIR when the requirement list changed; returns 1 on failure.
ensure_venv() {
  local dir="$1"; shift
  local stamp="$dir/.cadence-requirements" want="$*"
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  rm -rf "$dir"
  python3 -m venv "$dir" || return 1
  "$dir/bin/pip" install --quiet "$@" || { rm -rf "$dir"; return 1; }
  printf '%s' "$want" >"$stamp"
}

# ---- 1. cfn-lint --------------------------------------------------------------------------------------------
step "cfn-lint + cfn-lint-serverless: infra/template.yaml"
if ! ensure_venv "$tools/infra-venv" "${infra_reqs[@]}"; then
  echo "could not install ${infra_reqs[*]} into $tools/infra-venv (PyPI unreachable?)" >&2
  exit 1
fi
"$tools/infra-venv/bin/cfn-lint" --version
# Default rules plus the serverless ones; any error, warning or informational finding exits non-zero.
"$tools/infra-venv/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- "$infra/template.yaml"
echo "cfn-lint: no findings"

# ---- 2. sam validate ----------------------------------------------------------------------------------------
step "sam validate --lint"
if [ "${CADENCE_SKIP_SAM:-0}" = "1" ]; then
  echo "skipped (CADENCE_SKIP_SAM=1)"
elif ensure_venv "$tools/sam-venv" "${sam_reqs[@]}"; then
  "$tools/sam-venv/bin/sam" --version
  (cd "$infra" && "$tools/sam-venv/bin/sam" validate --lint --region us-east-1 --template-file template.yaml)
else
  echo "skipped: aws-sam-cli could not be installed (offline?); cfn-lint above covers the template" >&2
fi

if [ "${CADENCE_SKIP_CDK:-0}" = "1" ]; then
  step "CDK synth, cdk-nag and parity"
  echo "skipped (CADENCE_SKIP_CDK=1)"
  finish_step
  printf 'infra lint passed in %ds\n' "$((SECONDS - started))"
  exit 0
fi

# ---- 3. CDK synth + cdk-nag ---------------------------------------------------------------------------------
cd "$infra/cdk"
step "npm ci (infra/cdk)"
# npm ci wipes node_modules; skip it when the installed tree was made from this very lock file.
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f node_modules/.cadence-lock-sha256 ] && [ "$(cat node_modules/.cadence-lock-sha256)" = "$lock_sum" ]; then
  echo "node_modules is up to date with package-lock.json"
else
  npm_config_cache="$tools/npm-cache" npm ci --no-audit --no-fund --loglevel=error
  printf '%s' "$lock_sum" >node_modules/.cadence-lock-sha256
fi

step "cdk synth (cdk-nag AwsSolutions, no bundling)"
# cadence:skipBundling: the app skips the cargo-lambda build (see bin/cadence.ts). CDK_CONTEXT_JSON cannot be
# used for that: the CDK CLI owns that variable and overwrites it.
rm -rf cdk.out
npx --no-install cdk synth --quiet --no-notices -c cadence:skipBundling=true
# Validation errors already fail the synth; also refuse warnings and any other unacknowledged violation.
node -e '
  const report = require("./cdk.out/validation-report.json");
  let bad = 0;
  for (const plugin of report.pluginReports ?? []) {
    for (const v of plugin.violations ?? []) {
      bad++;
      const where = (v.violatingConstructs ?? []).map((c) => c.constructPath).join(", ");
      console.error(`${plugin.pluginName}: ${v.ruleName} (${v.severity}) at ${where}`);
    }
  }
  const acknowledged = (report.pluginReports ?? []).reduce((n, p) => n + (p.suppressedViolations ?? []).length, 0);
  if (bad) { console.error(`${bad} unacknowledged validation finding(s)`); process.exit(1); }
  console.log(`cdk-nag and CloudFormation validation: no findings (${acknowledged} acknowledged with reasons)`);
'

step "cfn-lint: synthesized CDK template"
# cfn-lint skips some checks on SAM templates (e.g. W3037, valid IAM actions); the synthesized CDK template has
# the same roles (parity below), so linting it covers them. W3005 ignored: the L2 Lambda Function always adds a
# DependsOn on its role next to the Role GetAtt (redundant, harmless, not ours to remove).
"$tools/infra-venv/bin/cfn-lint" --ignore-checks W3005 -- "$infra/cdk/cdk.out/cadence.template.json"
echo "cfn-lint: no findings"

# ---- 4. parity ----------------------------------------------------------------------------------------------
step "parity: SAM template vs CDK synth"
"$tools/infra-venv/bin/python" "$infra/parity.py" "$infra/template.yaml" "$infra/cdk/cdk.out/cadence.template.json"

finish_step
printf 'infra lint passed in %ds\n' "$((SECONDS - started))"
