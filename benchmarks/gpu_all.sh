#!/usr/bin/env bash
# Every GPU check of the throughput issue in one run (< 10 min on one H100), one table at the end.
#
#   bash benchmarks/gpu_all.sh                 # results in $OUT (default benchmarks/results/gpu)
#
# Installs nothing heavy: it uses the machine's python3 with JAX (CUDA), Flax, Optax and PyTorch, and the
# repository on PYTHONPATH (no pip install -e). ml_collections (pure Python, ganjax's config library) is
# taken from .device/py or a wheel in .device/wheels when python3 lacks it; prepare either here with
#   pip download ml_collections --no-deps -d .device/wheels
# and carry .device. Every stage has a time limit and appends JSON lines per measured configuration, so a
# stage cut short keeps what it measured; the final table reads every line.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/benchmarks:$PWD/.device/py${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
if ! $PY -c "import ml_collections" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps .device/wheels/ml_collections-*.whl || {
    echo "gpu_all: ml_collections missing (see the header of this script)"; exit 2; }
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $PY -c "import jax, torch; print('jax', jax.__version__, jax.devices(), '| torch', torch.__version__)"; } \
  | tee "$OUT/device.txt"

stage() {  # stage NAME SECONDS COMMAND...: run with a limit, log to $OUT/NAME.log
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s): $*"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  echo "   exit $? after $((SECONDS - t0))s; tail:"; tail -n 3 "$OUT/$name.log" | sed 's/^/   /'
}

# 1. equivalence on the GPU: twins vs ganjax (JAX on the GPU, torch on the CPU), phase == conv_transpose
stage tests 80 $PY -m pytest -q -x -p no:cacheprovider tests/test_torch_twin.py tests/test_phase_conv.py \
  tests/test_bench.py
# 2. ganjax alone: the article's DCGAN (width 128), three upsamplings, batch 64 / 256 / 1024, bf16 / fp32
stage bench_dcgan 120 $PY -m ganjax.cli bench dcgan --batch 64,256,1024 --dtype bfloat16,float32 \
  --upsample phase,subpixel,conv_transpose --steps-per-dispatch 1 --repeats 3 --out "$OUT/bench_dcgan.jsonl"
# 3. ganjax (K = 1 and 20 steps per dispatch) vs the PyTorch twin, eager and torch.compile
stage compare_dcgan 150 $PY benchmarks/compare_torch.py --model dcgan --batch 64,1024 --dtype bfloat16,float32 \
  --upsample phase --steps-per-dispatch 1,20 --repeats 3 --out "$OUT/compare_dcgan.jsonl"
# 4. CycleGAN (ResNet-9, 70x70 PatchGAN, the reference's conv_transpose) at 256x256, batch 1 and 4, fp32
stage compare_cyclegan 150 $PY benchmarks/compare_torch.py --model cyclegan --size 256 --batch 1,4 \
  --dtype float32 --upsample conv_transpose --steps-per-dispatch 1 --repeats 3 --out "$OUT/compare_cyclegan.jsonl"

# one table of everything measured
$PY - "$OUT" <<'EOF' | tee "$OUT/table.txt"
import glob, json, sys
from ganjax.bench import format_table
rows = [json.loads(l) for f in sorted(glob.glob(f"{sys.argv[1]}/*.jsonl")) for l in open(f) if l.strip()]
print(format_table(rows, ratio_to="torch-eager") if rows else "no rows measured")
print("ratio = images/s ÷ torch-eager images/s of the same configuration (compare_* rows only)")
EOF
