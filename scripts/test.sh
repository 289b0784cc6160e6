#!/usr/bin/env bash
# Every test pacer has, in the order a failure is cheapest to find: formatting, lints,
# the core's purity, then the whole workspace's tests (unit, the port contract suite on
# the embedded backend and on the moto AWS emulator, end-to-end pipelines, Lambda
# handlers, the HTTP API, the CLI), the SAM template checks, and a property-based run
# against the local HTTP API's OpenAPI document. Everything it needs that is not a Rust
# crate (moto, cfn-lint, the SAM CLI, schemathesis) goes into the project-local .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== the core has no IO dependencies"
io_deps=$(cargo tree -p pacer-core -e normal --prefix none --locked \
  | grep -E '^(aws-|lambda_|reqwest|rusqlite|axum|hyper|tokio-rustls|mio) ' || true)
if [ -n "$io_deps" ]; then
  echo "pacer-core depends on IO crates:"; echo "$io_deps"; exit 1
fi
echo "ok"

echo "== moto (AWS emulator) on 127.0.0.1"
endpoint="$(scripts/moto.sh)"
trap 'scripts/moto.sh stop >/dev/null 2>&1 || true' EXIT
# Every test creates its resources under a unique prefix; the reset starts a reused
# server empty, so earlier runs' queues do not slow this one down.
scripts/moto.sh reset
export PACER_TEST_AWS_ENDPOINT="$endpoint"
# The SDK must never reach real AWS from a test, whatever the caller's environment says.
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=moto AWS_SECRET_ACCESS_KEY=moto AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

echo "== cargo test"
cargo test --workspace --locked --no-fail-fast

# Fails unless the JSON figures of bench scenario $1 (in $2) have every key that follows.
require_keys() {
  local scenario="$1" figures="$2" key
  shift 2
  for key in "$@"; do
    grep -q "\"$key\"" <<<"$figures" || { echo "$scenario printed no $key"; exit 1; }
  done
}

echo "== bench aws-requests: 20 records on moto (figures printed, no timing checked)"
figures="$(cargo run --locked --quiet --bin pacer -- bench --scenario aws-requests --records 20 --output json)"
echo "$figures"
require_keys aws-requests "$figures" records requests_per_record by_operation usd_per_million_records naive

echo "== bench plan and drain, small (figures printed, no timing checked)"
figures="$(cargo run --locked --quiet --bin pacer -- bench --scenario plan --records 5000 --providers 50 --output json)"
echo "$figures"
require_keys plan "$figures" records plan_seconds release_seconds rss_mb db_mb
kept="$(mktemp -d)"
trap 'scripts/moto.sh stop >/dev/null 2>&1 || true; rm -rf "$kept"' EXIT
figures="$(cargo run --locked --quiet --bin pacer -- bench --scenario drain --records 500 --providers 10 --keep-wal "$kept" --output json)"
echo "$figures"
require_keys drain "$figures" records seconds calls_per_second serial_bound_seconds efficiency \
  nominal_efficiency gap_p50_ms gap_p99_ms overlaps window_ms
grep -q '"overlaps": 0' <<<"$figures" || { echo "drain saw overlapping calls"; exit 1; }
pages="$(python3 scripts/wal-pages.py "$kept")"
rm -rf "$kept"
echo "$pages"
grep -q "^records " <<<"$pages" || { echo "wal-pages.py attributed no page to records"; exit 1; }

echo "== SAM template checks"
scripts/check-template.sh

if [ -x scripts/test-api.sh ]; then
  echo "== property-based run against the HTTP API"
  scripts/test-api.sh
fi
