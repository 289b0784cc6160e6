#!/usr/bin/env bash
# Builds pacer's Lambda functions for arm64 (Graviton) the way `sam build` does
# (BuildMethod: rust-cargolambda): `cargo lambda build --release --arm64`, then prints
# each bootstrap binary's size.
#
#   scripts/lambda-build.sh            # every function of pacer-lambda (and pacer-api when present)
#
# Slow (a fat-LTO release build of the AWS SDK for a second target: minutes), so it is
# not part of scripts/test.sh; run it before `sam build`/`sam deploy` or in a release job.
# cargo-lambda (with zig, its cross linker) is installed from PyPI into the
# project-local virtualenv .venv if missing; the Rust std for aarch64 with rustup.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
log() { echo "lambda-build.sh: $*" >&2; }

if [[ ! -x "$venv/bin/cargo-lambda" ]]; then
  log "installing cargo-lambda (and zig) into $venv"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda >&2
fi
# cargo finds `cargo lambda` on PATH; cargo-lambda finds zig as `python3 -m ziglang`.
export PATH="$venv/bin:$PATH"

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  log "adding the aarch64-unknown-linux-gnu target"
  rustup target add aarch64-unknown-linux-gnu >&2
fi

packages=(-p pacer-lambda)
if [[ -f "$root/crates/pacer-api/Cargo.toml" ]] && grep -q '^\[\[bin\]\]' "$root/crates/pacer-api/Cargo.toml"; then
  packages+=(-p pacer-api)
fi

cd "$root"
start=$SECONDS
cargo lambda build --release --arm64 "${packages[@]}"
log "built in $((SECONDS - start)) s"

# cargo-lambda puts each binary at target/lambda/<name>/bootstrap.
lambda_dir="${CARGO_TARGET_DIR:-$root/target}/lambda"
printf '%-12s %10s  %s\n' function bytes path
for bootstrap in "$lambda_dir"/*/bootstrap; do
  [[ -f "$bootstrap" ]] || continue
  name="$(basename "$(dirname "$bootstrap")")"
  printf '%-12s %10s  %s\n' "$name" "$(stat -c %s "$bootstrap")" "$bootstrap"
done
