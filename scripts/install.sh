#!/usr/bin/env bash
# Create .venv and install moodmix with everything it needs (idempotent; re-runs only when the pins change).
# torch is pinned to the 2.13.0 CPU wheel through constraints.txt: a plain `torch` requirement would pull
# gigabytes of CUDA packages. ffmpeg comes from imageio-ffmpeg's wheel when the system has none.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# constraints.lock pins every dependency to the version the tests last passed with (scripts/lock.sh refreshes it,
# on purpose): a fresh install gets exactly that, not whatever was released since. LOCK_REFRESH=1 resolves afresh.
lock=(-c constraints.lock)
if [ "${LOCK_REFRESH:-0}" = 1 ] || [ ! -f constraints.lock ]; then lock=(); fi
stamp=.venv/.moodmix-installed
want=$(cat pyproject.toml constraints.txt $([ -f constraints.lock ] && echo constraints.lock) | sha256sum | cut -c1-16)-${LOCK_REFRESH:-0}
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "moodmix: installing into .venv (first run takes a few minutes)..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip wheel setuptools
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt torch==2.13.0
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt "${lock[@]}" -e ".[dev]"
  echo "$want" > "$stamp"
fi
