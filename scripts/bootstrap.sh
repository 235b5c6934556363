#!/usr/bin/env bash
# Create .venv and install cicatrix with its pinned dependencies; re-installs only when
# pyproject.toml changes. Usage: scripts/bootstrap.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      py="$candidate"; break
    fi
  done
fi
[ -n "$py" ] || { echo "cicatrix needs Python 3.11 or later" >&2; exit 1; }
[ -x .venv/bin/python ] || "$py" -m venv .venv
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)${extra:+-$extra}"
base_stamp="${stamp%-dev}"
if [ ! -f "$stamp" ] && { [ -n "$extra" ] || [ ! -f "$base_stamp-dev" ]; }; then  # dev includes the base
  echo "installing cicatrix into .venv ..." >&2
  spec="."; [ "$extra" = dev ] && spec=".[dev]"
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install --quiet -e "$spec"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
