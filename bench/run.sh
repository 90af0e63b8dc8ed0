#!/usr/bin/env bash
# make bench: build the peer virtualenvs on first use, then run bench/driver.py and the
# followers benchmark (bench/followers.py).
#   BENCH_QUICK=1 bash bench/run.sh        a short smoke run (one run, fewer jobs)
#   bash bench/run.sh --only agentq,arq    any bench/driver.py option passes through
#   BENCH_FOLLOWERS=0 bash bench/run.sh    without the followers benchmark
#   BENCH_FOLLOWERS=only bash bench/run.sh the followers benchmark alone (about 3 minutes)
#   bash bench/run.sh --only agent         the agent-shaped load alone (bench/agent_load.py)
#   BENCH_AGENT=1 bash bench/run.sh        the driver, then the agent-shaped load too
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
PEERS=bench/.venv-peers
if [[ ! -x $PY ]]; then
  echo "bench: $PY is missing; run 'make install' first" >&2
  exit 1
fi

# The agent-shaped load alone (bench/agent_load.py): `bash bench/run.sh --only agent
# [--seconds 20 --jobs 200]`; the options after `agent` pass to it.
if [[ ${1:-} == --only && ${2:-} == agent ]]; then
  exec "$PY" -m bench.agent_load "${@:3}"
fi

FOLLOWERS=${BENCH_FOLLOWERS:-1}
if [[ $FOLLOWERS == only ]]; then
  exec "$PY" -m bench.followers ${BENCH_QUICK:+--quick}
fi

# One virtualenv per set of peers that can live together (bench/requirements-*.txt);
# rebuilt when its requirements file changes.
peer_venv() {  # name requirements-file
  local dir=$PEERS/$1 req=$2
  if [[ -f $dir/.installed ]] && cmp -s "$req" "$dir/.installed"; then
    return
  fi
  echo "bench: installing $req into $dir" >&2
  rm -rf "$dir"
  "$PY" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req" || { rm -rf "$dir"; return 1; }
  cp "$req" "$dir/.installed"
}
# A peer that cannot be installed is left out of the table, not fatal.
peer_venv arq bench/requirements-arq.txt ||
  echo "bench: could not install bench/requirements-arq.txt: arq is left out" >&2
peer_venv main bench/requirements-peers.txt ||
  echo "bench: could not install bench/requirements-peers.txt: SAQ, taskiq, Dramatiq and RQ are left out" >&2

if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && ! command -v initdb >/dev/null; then
  echo "bench: PostgreSQL not found, the job history figures leave it out" \
       "(apt-get install postgresql for them)" >&2
fi
if ! command -v wrk >/dev/null; then
  echo "bench: wrk not found, the HTTP figures use the Python load generator" \
       "(apt-get install wrk for the wrk figures)" >&2
fi

"$PY" -m bench.driver "$@"
if [[ ${BENCH_AGENT:-0} == 1 ]]; then
  "$PY" -m bench.agent_load ${BENCH_QUICK:+--seconds 20 --jobs 200}
fi
if [[ $FOLLOWERS != 0 ]]; then
  "$PY" -m bench.followers ${BENCH_QUICK:+--quick}
fi
