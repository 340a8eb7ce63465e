#!/usr/bin/env bash
# The GPU tier of the CIFAR-10 chapter in one command: ResNet-18, Adam, ADOPT and SGD
# with momentum, each with α ∈ {1, 0.1, 0.01, 0.001} (the `cifar10` grid, twelve runs),
# all at once on one GPU, one process per run, bf16 autocast, channels-last, the data
# on the device.  A 60-second timing run plans the epochs that fit in the budget; every
# finished epoch's record is packed into $OUT/records.tar as it comes (see
# lib/optimlab/experiments/oneshot.py).  Then, on the machine with the book:
#
#     python -m optimlab.experiments import records.tar    # check, audit, store
#
# usage:  tools/gpu_cifar10.sh [OUT]               # on a CUDA machine, ~8 minutes
#         TINY=1 tools/gpu_cifar10.sh [OUT]        # the same path on the CPU, tiny
# env:    OPTIMLAB_DATA (where CIFAR-10 is or is downloaded to), PYTHON (python3),
#         BUDGET and TIMING (seconds: 480 and 60; tiny: 150 and 20), SEEDS ("0").
set -euo pipefail
out=${1:-${OUT:-}}
if [ -z "$out" ]; then
    echo "tools/gpu_cifar10.sh: give the output folder as the first argument or \$OUT" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
if [ "${TINY:-0}" = 1 ]; then
    grid=cifar10-smoke device=cpu budget=${BUDGET:-150} timing=${TIMING:-20}
else
    grid=cifar10 device=cuda budget=${BUDGET:-480} timing=${TIMING:-60}
    "$python" -c 'import sys, torch
if not torch.cuda.is_available():
    sys.exit("tools/gpu_cifar10.sh: CUDA is not available here (TINY=1 runs on the CPU)")
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)'
fi
# The data first, with an error that names the folder, before any process starts.
"$python" -c 'from optimlab import data; data.cifar10_splits()' || {
    echo "tools/gpu_cifar10.sh: CIFAR-10 is not readable under OPTIMLAB_DATA" \
         "(${OPTIMLAB_DATA:-unset}); see the data README" >&2
    exit 2
}
"$python" -m optimlab.experiments oneshot "$grid" --device "$device" \
    --seeds ${SEEDS:-0} --out "$out" --work .oneshot --budget "$budget" --timing "$timing"
