#!/usr/bin/env bash
# The GPU check of issue 14, in one command (details: docs/gpu.md, scripts/gpu_check.py).
#
# Before asking for a machine (here, on the CPU):
#   scripts/gpu_check.sh --stage-data          # copies the 4 MNIST gz files from
#                                              # $NNPARITY_DATA_DIR into .gpu-data/mnist (ignored)
#   scripts/gpu_check.sh --dry-run --out /tmp/gpu-dry   # every step, tiny sizes, on the CPU
#
# On the device machine, with the device tool (one call; 8-minute budget inside a 560 s limit,
# which leaves device time for one rerun of what failed):
#   run(command="scripts/gpu_check.sh", carry=[".gpu-data"], timeout_s=560)
# It writes under $OUT (the tool's folder, fetched back): summary.json, logs/<step>.log,
# environment.json, packages.json, cuda_tests.xml, verify_float32.json, verify_float64.json,
# calibrate_float32_cuda.json, calibrate_tf32.json, calibration_table.md, bench.json, bench/.
# Rerun only some steps, e.g.:
#   run(command="scripts/gpu_check.sh --steps bench_gpu --budget 200", carry=[".gpu-data"],
#       timeout_s=240)
#
# The device machine's own Python and torch are used (no pip install, no internet): the
# project is imported from this checkout through PYTHONPATH.  $PYTHON picks the interpreter;
# otherwise the first of python3 / python that imports torch (else python3, and the packages
# step says what is missing).
set -u
cd "$(dirname "$0")/.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg

py="${PYTHON:-}"
if [ -z "$py" ]; then
    for c in python3 python; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c "import torch" >/dev/null 2>&1; then
            py="$c"
            break
        fi
    done
fi
if [ -z "$py" ]; then
    py="$(command -v python3 || command -v python || true)"
fi
if [ -z "$py" ]; then
    echo "gpu_check: error: no python3 or python on PATH (set \$PYTHON)" >&2
    exit 2
fi
exec "$py" scripts/gpu_check.py "$@"
