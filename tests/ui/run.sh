#!/usr/bin/env bash
# run.sh LOOKOUT OUTDIR — the dashboard's browser test (ui_test.mjs), or exit
# 77 (meson's SKIP) when what it needs is missing: node, Debian's chromium,
# or web/ui/node_modules (scripts/deps installs all three).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ui="$here/../../web/ui"
chromium=$(command -v chromium || true)
if ! command -v node >/dev/null; then echo "# SKIP: node is not installed (scripts/deps)"; exit 77; fi
if [ -z "$chromium" ]; then echo "# SKIP: chromium is not installed (scripts/deps)"; exit 77; fi
if [ ! -d "$ui/node_modules/playwright-core" ]; then echo "# SKIP: web/ui/node_modules is missing (scripts/deps)"; exit 77; fi
exec node "$here/ui_test.mjs" "$1" "$2" "$chromium"
