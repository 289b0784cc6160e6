#!/usr/bin/env bash
# Runs pacer's AWS tests against moto: starts moto (scripts/moto.sh), then runs the
# pacer-aws tests (port contract suite, adapters) and the pacer-lambda tests (handlers,
# the whole pipeline on moto, least-privilege IAM) with PACER_TEST_AWS_ENDPOINT set.
# Exits non-zero if moto cannot start or a test fails. Extra arguments go to
# `cargo test` (e.g. a test name filter).
#
#   scripts/test-aws.sh                 # every pacer-aws and pacer-lambda test on moto
#   scripts/test-aws.sh work_queue      # only the work-queue cases
#
# moto keeps running afterwards so repeated runs start fast; `scripts/moto.sh stop`
# stops it. Each test provisions its own uniquely prefixed resources, so tests never
# share state; the server is reset first (POST /moto-api/reset) so a reused one starts
# empty and its SQS is not slowed by earlier runs' queues.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! endpoint="$("$root/scripts/moto.sh")"; then
  echo "test-aws.sh: moto could not be started; the AWS tests cannot run" >&2
  exit 1
fi
echo "test-aws.sh: moto at $endpoint" >&2
"$root/scripts/moto.sh" reset

export PACER_TEST_AWS_ENDPOINT="$endpoint"
# The SDK must never reach real AWS from a test, whatever the caller's environment says.
export AWS_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=moto AWS_SECRET_ACCESS_KEY=moto AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

cd "$root"
cargo test -p pacer-aws -p pacer-lambda "$@"
