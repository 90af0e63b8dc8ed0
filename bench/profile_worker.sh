#!/usr/bin/env bash
# Profile one agentq worker process draining a backlog of no-op jobs, with py-spy.
#   bash bench/profile_worker.sh [JOBS] [CONCURRENCY]
# py-spy goes into its own virtualenv (bench/.venv-peers/prof), never into .venv.
# Writes bench/results/worker-profile.txt (top functions) and a speedscope JSON in /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-30000}
CONC=${2:-8}
PROF=bench/.venv-peers/prof
if [[ ! -x $PROF/bin/py-spy ]]; then
  .venv/bin/python -m venv "$PROF"
  "$PROF/bin/python" -m pip install -q --disable-pip-version-check py-spy==0.4.3
fi
exec .venv/bin/python -m bench.profile_worker "$JOBS" "$CONC" "$PROF/bin/py-spy"
