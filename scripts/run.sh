#!/usr/bin/env bash
# The main job on embedded defaults: SQLite in ./cicatrix-data, the bundled example data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/system-deps.sh run
if [ "$#" -eq 0 ]; then set -- serve --demo; fi
exec .venv/bin/cicatrix "$@"
