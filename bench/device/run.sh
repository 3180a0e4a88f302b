#!/usr/bin/env bash
# The device benchmark in one command, on a machine with one CUDA GPU and PyTorch (no network):
#
#   bash bench/device/run.sh [OUT]            # default OUT: $OUT if set, else bench/device/out
#   bash bench/device/run.sh OUT --dry --device cpu     # toy sizes (what tests/test_bench_device.py runs)
#
# Needs bench/device/carry/ from `python bench/device/prepare.py` (run where a package registry
# answers). Installs the carried wheels into a private folder (/tmp/styleflow-site), then runs
# bench/device/driver.py, which writes OUT/summary.md, OUT/summary.json and OUT/logs.tar.gz, working in
# $STYLEFLOW_DEVICE_SCRATCH (default /tmp/styleflow-device). See docs/performance.md,
# "On a lent GPU".
set -u
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-${OUT:-$here/out}}"
shift || true
py="${PYTHON:-python3}"
scratch="${STYLEFLOW_DEVICE_SCRATCH:-/tmp/styleflow-device}"
mkdir -p "$out" "$scratch/logs"
if ls "$here"/carry/wheels/*.whl >/dev/null 2>&1; then
    site=/tmp/styleflow-site
    if "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        "$here"/carry/wheels/*.whl >"$scratch/logs/wheels.log" 2>&1; then
        export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    else
        echo "[device bench] the carried wheels did not install (logs/wheels.log in OUT/logs.tar.gz); the workflow step will be skipped"
    fi
fi
cd "$repo" && exec "$py" "$here/driver.py" --out "$out" --scratch "$scratch" "$@"
