#!/usr/bin/env bash
# Regenerates every picture in docs/ from its source here (graphviz dot -> SVG).
set -euo pipefail
cd "$(dirname "$0")"
command -v dot >/dev/null || { echo "needs graphviz (apt-get install graphviz)" >&2; exit 1; }
for src in *.dot; do
    dot -Tsvg "$src" -o "../${src%.dot}.svg"
done
