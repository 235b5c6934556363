#!/usr/bin/env bash
# Debian packages cicatrix needs. Usage: scripts/system-deps.sh [run|test]
#   run:  pango and fonts, which WeasyPrint needs to print PDF handouts (make run)
#   test: those, plus chromium (browser tests) and poppler-utils (pdftotext, to read PDFs back)
# Installs only what is missing.
set -euo pipefail
what="${1:-test}"
need=()
if [ "$what" = test ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
fi
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
