#!/usr/bin/env bash
# Installs everything the tests need (idempotent), then runs lint, types and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
npm ci --prefix tests/oauth_server --no-audit --no-fund --loglevel=error
# The Connect page is tested in a real browser: Debian's Chromium (never a downloaded build).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: run 'sudo apt-get install chromium' for the browser test." >&2
  fi
fi

.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports

# One worker more than the 2 cores: much of the suite waits on processes and servers it started
# (gateways, workers, the OAuth server), so a third worker fills that time. Each worker has its own
# PostgreSQL database and servers; tests that open many connections share one xdist group, so
# they never run beside each other (AIT_TEST_WORKERS=0: one process).
# The slowest tests are listed at the end, to keep the suite inside its 10 minutes.
.venv/bin/python -m pytest -n "${AIT_TEST_WORKERS:-3}" --dist loadgroup --durations=15 "$@"
