#!/usr/bin/env bash
# Creates .venv with the Python packages the compat tests and benchmarks use
# (requirements in scripts/requirements.txt). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
    echo "$want" > "$stamp"
fi
