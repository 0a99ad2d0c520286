#!/usr/bin/env bash
# Runs every test: builds the package, runs the Swift test suites, then the pymilvus
# compatibility tests in compat/ against the `osprey` binary the build produced.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> swift build --build-tests"
swift build --build-tests
echo "==> swift test"
swift test --skip-build

if compgen -G "compat/test_*.py" > /dev/null; then
    echo "==> compat (pymilvus against a live osprey serve)"
    scripts/venv.sh
    OSPREY_BIN="$(swift build --show-bin-path)/osprey" .venv/bin/python -m pytest compat -q
fi
