#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, types and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
scripts/system-deps.sh test
scripts/ensure-postgres.sh
# Mozilla's ical.js, to read the calendars as Thunderbird does, and fhirpath.js, to evaluate the
# PlanDefinitions' conditions (pinned in its package-lock.json)
if [ ! -d tests/exports/js/node_modules/ical.js ] || [ ! -d tests/exports/js/node_modules/fhirpath ]; then
  npm ci --prefix tests/exports/js --no-audit --no-fund --silent
fi
if [ -z "${CICATRIX_TEST_POSTGRES_URL:-}" ]; then
  echo "note: CICATRIX_TEST_POSTGRES_URL is not set; PostgreSQL tests will be skipped" >&2
fi
echo "== ruff" >&2
.venv/bin/ruff check src tests bench scripts
echo "== mypy (strict on the core)" >&2
.venv/bin/mypy src/cicatrix/engine src/cicatrix/knowledge
echo "== import-linter (the layer contract of docs/architecture.md)" >&2
.venv/bin/lint-imports
echo "== pytest" >&2
exec .venv/bin/pytest -n 2 --dist loadfile -p no:cacheprovider "$@"
