#!/usr/bin/env bash
# Property-based test of the HTTP API: schemathesis reads GET /openapi.json from a
# running `pacer serve` and throws generated requests (valid and invalid) at every
# route with a registered client's credentials, checking that none gets a 5xx.
#
#   scripts/test-api.sh                 run it (exit code non-zero on any failure)
#   PACER_ST_MAX_EXAMPLES=200 scripts/test-api.sh
#
# schemathesis is installed into the project-local virtualenv .venv (created if
# missing; scripts/moto.sh shares it). The server runs on 127.0.0.1 with a temporary
# database and is stopped on exit, whatever happens.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
st_spec="${PACER_SCHEMATHESIS_SPEC:-schemathesis==4.32.5}"
max_examples="${PACER_ST_MAX_EXAMPLES:-50}"
log() { echo "test-api.sh: $*" >&2; }

if [[ ! -x "$venv/bin/st" ]]; then
  log "installing $st_spec into $venv"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$st_spec" >&2
fi

log "building pacer"
(cd "$root" && cargo build --locked --quiet --bin pacer)
pacer="${CARGO_TARGET_DIR:-$root/target}/debug/pacer"

work="$(mktemp -d)"
server=""
cleanup() {
  if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

db="$work/pacer.db"
# One provider; nothing listens at its URL, so submitted records fail transiently and
# are retried in the background while the API is being tested.
cat >"$work/pacer.toml" <<'TOML'
[defaults]
timeout = "1s"
max_attempts = 2
backoff_base = "100ms"
backoff_max = "200ms"
[providers.acme]
base_url = "http://127.0.0.1:9/acme"
TOML

app="schemathesis"
token="$("$pacer" --db "$db" clients add "$app" 2>/dev/null)"

export PACER_WEBHOOK_SECRET
PACER_WEBHOOK_SECRET="$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))')"
"$pacer" --db "$db" --config "$work/pacer.toml" --log warn \
  serve --listen 127.0.0.1:0 2>"$work/serve.log" &
server=$!

addr=""
for _ in $(seq 1 100); do
  addr="$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$work/serve.log" | head -n1)"
  [[ -n "$addr" ]] && break
  if ! kill -0 "$server" 2>/dev/null; then
    log "pacer serve exited early:"; cat "$work/serve.log" >&2; exit 1
  fi
  sleep 0.1
done
if [[ -z "$addr" ]]; then
  log "pacer serve did not start:"; cat "$work/serve.log" >&2; exit 1
fi
log "pacer serve on $addr; running schemathesis ($max_examples examples per operation)"

# Hypothesis's per-example deadline is off in schemathesis 4 (it sets deadline=None);
# the run is bounded by --max-examples per operation and by the timeout below.
set +e
# Run from the temporary folder: schemathesis keeps a cache folder in its working directory.
cd "$work"
timeout 900 "$venv/bin/st" run "http://$addr/openapi.json" \
  --checks not_a_server_error \
  --header "Authorization: Bearer $token" \
  --header "X-App-Name: $app" \
  --generation-with-security-parameters false \
  --phases examples,coverage,fuzzing \
  --max-examples "$max_examples" \
  --generation-database none \
  --request-timeout 10 \
  --no-color
status=$?
set -e

if grep -q "panicked" "$work/serve.log"; then
  log "pacer serve panicked:"; cat "$work/serve.log" >&2; status=1
fi
if [[ $status -ne 0 ]]; then
  log "FAILED (exit $status); server log:"; tail -n 50 "$work/serve.log" >&2
else
  log "ok: no 5xx"
fi
exit $status
