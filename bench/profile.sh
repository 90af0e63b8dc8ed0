#!/usr/bin/env bash
# Profile agentq with py-spy (installed into bench/.venv-peers/prof, never into .venv).
#   bash bench/profile.sh worker [JOBS=60000] [CONCURRENCY=8]
#   bash bench/profile.sh api [SECONDS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
PROF=bench/.venv-peers/prof
if [[ ! -x $PROF/bin/py-spy ]]; then
  .venv/bin/python -m venv "$PROF"
  "$PROF/bin/python" -m pip install -q --disable-pip-version-check py-spy==0.4.3
fi
exec .venv/bin/python -m bench.profile "${1:-worker}" "$PROF/bin/py-spy" "${@:2}"
