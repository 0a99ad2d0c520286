#!/usr/bin/env bash
# Builds Osprey (release) and starts the server; data goes to ./osprey-data unless
# --data-dir says otherwise. Extra arguments are passed to `osprey serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product osprey
exec "$(swift build -c release --show-bin-path)/osprey" serve "$@"
