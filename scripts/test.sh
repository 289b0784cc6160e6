#!/usr/bin/env bash
# Every test pacer has, in the order a failure is cheapest to find:
# formatting, lints, the core's purity, then the whole workspace's tests
# (unit, port contract suite, end-to-end pipeline, CLI).
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

echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
