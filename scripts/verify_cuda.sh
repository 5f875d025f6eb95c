#!/usr/bin/env bash
# Everything the CUDA backend claims, checked on a GPU machine in one go (docs/backends/cuda.md):
#   1. environment and the shim build against that machine's torch
#   2. the CUDA tests (tests/backends/test_cuda.py)
#   3. the benchmark against native cuda (benchmarks/bench_cuda.py)
#   4. the conformance suite on the cuda backend against the shipped float32 CUDA golden data
#   5. bf16/fp16 gradient golden data recorded on this GPU (the forward files ship in
#      conformance/data), and the conformance suite on all three dtypes
#   6. the CPU test suite on this machine's torch (CI runs it on torch 2.13; this checks the other end)
# Works from a source checkout without pip (PYTHONPATH), as on a GPU machine with no package index.
#
#   scripts/verify_cuda.sh OUTDIR [STEPS]     STEPS: any of env,tests,bench,conf,record,suite (default all)
#
# Each step's log goes to OUTDIR/logs/<step>.log; the end of it is printed. A failing step does not
# stop the others; the exit code is the number of failed steps.
set -uo pipefail
out=${1:?usage: scripts/verify_cuda.sh OUTDIR [STEPS]}
steps=${2:-env,tests,bench,conf,record,suite}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p "$out/logs"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 DEEPLINK_BUILD_DIR=${DEEPLINK_BUILD_DIR:-$root/build/shim}
PY=${PY:-python3}
jobs=${JOBS:-8}
failed=0

run() {  # run NAME LIMIT_S CMD...: log, time, tail
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "== $name: $*"
  timeout "$limit" "$@" >"$out/logs/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
  tail -n "${TAIL:-12}" "$out/logs/$name.log"
  [ "$rc" = 0 ] || failed=$((failed + 1))
}
want() { [[ ",$steps," == *",$1,"* ]]; }

if want env; then
  nvidia-smi -L || true
  run build 600 "$PY" -c "import torch, deeplink; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0)); print(deeplink.current_backend())"
  run info 120 "$PY" -m deeplink.cli info
fi
want tests && run tests 900 "$PY" -m pytest -m cuda -v -p no:cacheprovider tests/backends/test_cuda.py
want bench && run bench 900 "$PY" benchmarks/bench_cuda.py --out "$out/bench_cuda.json" ${BENCH_ARGS:-}
if want conf; then
  run conf_float32 900 "$PY" -m deeplink.cli conformance run --backend cuda --dtypes float32 --jobs "$jobs" \
    --no-progress --out "$out/conformance-cuda"
fi
if want record; then
  run record 1200 "$PY" -m deeplink.cli conformance record --device cuda --dtypes bfloat16,float16 \
    --kinds gradients --out "$out/golden"
  run conf_all 900 "$PY" -m deeplink.cli conformance run --backend cuda --dtypes float32,bfloat16,float16 \
    --golden "$out/golden" --jobs "$jobs" --no-progress --out "$out/conformance-cuda"
fi
want suite && DEEPLINK_BACKEND=cpu run suite 900 "$PY" -m pytest -n "$jobs" -q -p no:cacheprovider
echo "verify_cuda: $failed step(s) failed"
exit "$failed"
