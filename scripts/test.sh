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

.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy

.venv/bin/python -m pytest "$@"
