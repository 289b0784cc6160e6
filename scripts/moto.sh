#!/usr/bin/env bash
# Starts moto (the AWS emulator) in server mode on 127.0.0.1 for pacer's AWS tests.
#
#   scripts/moto.sh            start (or reuse) moto; print its endpoint on stdout
#   scripts/moto.sh stop       stop the moto this script started
#   scripts/moto.sh reset      forget every resource the running moto holds (POST /moto-api/reset)
#
# Idempotent: a moto already started by this script and still answering is reused.
# moto is installed into the project-local virtualenv .venv (created if missing).
# Exits non-zero if moto cannot start.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
# State (pid, port, log) lives inside the gitignored virtualenv.
state="$venv/moto-state"
moto_spec="${PACER_MOTO_SPEC:-moto[server]==5.2.5}"
log() { echo "moto.sh: $*" >&2; }

answers() {
  # moto's own API answers once the server is up.
  curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/moto-api/data.json" 2>/dev/null
}

if [[ "${1:-start}" == "stop" ]]; then
  if [[ -f "$state/pid" ]]; then
    pid="$(cat "$state/pid")"
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" && log "stopped moto (pid $pid)"; fi
    rm -f "$state/pid" "$state/port"
  fi
  exit 0
fi

if [[ "${1:-start}" == "reset" ]]; then
  # A reused server still holds the resources of earlier runs, which slow its SQS down.
  port="$(cat "$state/port" 2>/dev/null)" || { log "no moto started by this script to reset"; exit 1; }
  curl -fsS -m 30 -o /dev/null -X POST "http://127.0.0.1:$port/moto-api/reset"
  log "reset moto on 127.0.0.1:$port"
  exit 0
fi

if [[ -f "$state/pid" && -f "$state/port" ]]; then
  pid="$(cat "$state/pid")"; port="$(cat "$state/port")"
  if kill -0 "$pid" 2>/dev/null && answers "$port"; then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  rm -f "$state/pid" "$state/port"
fi

if [[ ! -x "$venv/bin/moto_server" ]]; then
  log "installing $moto_spec into $venv"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$moto_spec" >&2
fi

mkdir -p "$state"

# A free port: ask the kernel for one, then hand it to moto.
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
# setsid: moto outlives this script and is not killed with its process group.
setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" >"$state/pid"
echo "$port" >"$state/port"

for _ in $(seq 1 100); do
  if answers "$port"; then
    log "moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)') listening on 127.0.0.1:$port (pid $pid)"
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
log "moto did not start; its log follows"
cat "$state/moto.log" >&2 || true
kill "$pid" 2>/dev/null || true
rm -f "$state/pid" "$state/port"
exit 1
