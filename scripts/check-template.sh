#!/usr/bin/env bash
# Lints the SAM template offline: cfn-lint and `sam validate --lint`, both installed into
# the project-local virtualenv .venv (created if missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
cd "$root"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
need=()
[[ -x "$venv/bin/cfn-lint" ]] || need+=("cfn-lint")
[[ -x "$venv/bin/sam" ]] || need+=("aws-sam-cli")
if (( ${#need[@]} )); then
  echo "check-template.sh: installing ${need[*]} into .venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${need[@]}"
fi
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0
echo "== cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml
echo "== sam validate --lint"
"$venv/bin/sam" validate --lint --template template.yaml
