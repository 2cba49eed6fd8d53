#!/usr/bin/env bash
# Every GPU check of the throughput and sweep issues, one table last. With no STAGES it runs the rows of
# the README's GPU goals table, in one device call (~7 min on an H100: DCGAN b64 and b1024 against PyTorch
# eager and torch.compile, CycleGAN 256² b1 and b4 bf16 and fp32 against PyTorch eager fp32), and prints
# last a Markdown table of the goals, met or not, from that run's rows alone (benchmarks/goals.py):
#
#   bash benchmarks/gpu_all.sh                                   # the goals (results in $OUT, default
#                                                                #   benchmarks/results/gpu)
#   STAGES="parts profile flags" FLAGS_LIMIT=110 bash benchmarks/gpu_all.sh   # where time goes (411 s, run 3)
#   STAGES="merge_ab cmdbuf parts_norm profile_dcgan" bash benchmarks/gpu_all.sh   # next (~7 min, not run
#       yet): CycleGAN's generator calls merged vs the reference's, the scan as one CUDA graph, instance norm
#       variants in a ResNet block, the DCGAN kernel profile
#   STAGES="tests upsample sweep dcgan_k upsample_1k" bash benchmarks/gpu_all.sh
#   STAGES=all bash benchmarks/gpu_all.sh     # every stage: ~20 min, more than one 10-minute call
#
# Installs nothing heavy: it uses the machine's python3 with JAX (CUDA), Flax, Optax and PyTorch, and the
# repository on PYTHONPATH (no pip install -e). ml_collections (pure Python, ganjax's config library) is
# installed from a wheel in .device/wheels when python3 lacks it; prepare it here with
#   pip download ml_collections --no-deps -d .device/wheels
# and carry .device. Every stage has a time limit and appends one JSON line per measured configuration to
# $OUT/rows.jsonl, so a stage cut short keeps what it measured; all logs go to $OUT/stages.log (few files:
# the device tool brings back at most 8). The final table ($OUT/table.txt) reads every line.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu}
PY=${PY:-python3}
SCALE=${SCALE:-1}  # SCALE=0: a smoke test of this script on a CPU (tiny sizes, seconds per stage)
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/benchmarks:/tmp/ganjax_site${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
if ! $PY -c "import ml_collections" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --target /tmp/ganjax_site .device/wheels/ml_collections-*.whl || {
    echo "gpu_all: ml_collections missing (see the header of this script)"; exit 2; }
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader 2>/dev/null
  $PY -c "import jax, flax, optax, torch; print('jax', jax.__version__, 'flax', flax.__version__, 'optax',
optax.__version__, jax.devices(), 'default_matmul_precision', jax.config.jax_default_matmul_precision,
'| torch', torch.__version__, 'cudnn.allow_tf32', torch.backends.cudnn.allow_tf32)"; } 2>&1 | tee "$OUT/device.txt"
ROWS="$OUT/rows.jsonl"

STAGES=${STAGES:-goals}  # e.g. STAGES="cyclegan_bf16 dcgan_k": only these stages; all: every stage
[ "$STAGES" = goals ] && STAGES="dcgan_b64 dcgan_b1024 cyclegan_bf16 cyclegan"
stage() {  # stage NAME SECONDS COMMAND...: run with a limit, log appended to $OUT/stages.log
  local name=$1 limit=$2; shift 2
  [ "$STAGES" = all ] || [[ " $STAGES " == *" $name "* ]] || return 0
  echo "== $name (limit ${limit}s): $*" | tee -a "$OUT/stages.log"
  local t0=$SECONDS
  timeout "$limit" "$@" >>"$OUT/stages.log" 2>&1
  echo "   exit $? after $((SECONDS - t0))s" | tee -a "$OUT/stages.log"
}
if [ "$SCALE" = 0 ]; then  # smoke sizes
  B64=8 B1K=16 W=16 CG="--size 32 --ngf 8 --blocks 2" SW="--members 4 --batch 8 --width 16" K=2
else
  B64=64 B1K=1024 W=128 CG="--size 256" SW="--members 16 --batch 64 --width 64" K=20
fi
CMP="$PY benchmarks/compare_torch.py --repeats 3 --width $W --out $ROWS"

# 1. the twins compute ganjax's function here too (JAX on the GPU), phase == conv_transpose (TF32 off: the
#    tests' tolerances are float32's)
NVIDIA_TF32_OVERRIDE=0 stage tests 45 $PY -m pytest -q -x -p no:cacheprovider tests/test_phase_conv.py \
  tests/test_torch_twin.py -k "same_outputs or phase_equals or gradients_equal"
# 2. the article's DCGAN at batch 64: ganjax fp32 and bf16 (1 and K steps per dispatch) vs PyTorch eager fp32
#    (the goal's reference) timed in the same process
stage dcgan_b64 90 $CMP --model dcgan --batch $B64 --dtype float32,bfloat16 --torch-dtype float32 \
  --upsample phase --steps-per-dispatch 1,$K --torch-modes eager
# 3. batch 1024: vs PyTorch eager and torch.compile (the best PyTorch variant), bf16 first
stage dcgan_b1024 120 $CMP --model dcgan --batch $B1K --dtype bfloat16 --upsample phase \
  --steps-per-dispatch 1,4 --torch-modes eager,compile
# 4. upsampling variants, ganjax alone: the article's transposed conv as XLA/cuDNN runs it, phase, sub-pixel
stage upsample 50 $PY -m ganjax bench dcgan --batch $B64,$B1K --dtype bfloat16 --width $W \
  --upsample conv_transpose,subpixel --steps-per-dispatch 1 --repeats 3 --out $ROWS
# 5. CycleGAN (ResNet-9, 70x70 PatchGAN) at 256x256, batch 1 and 4, vs PyTorch eager fp32
stage cyclegan 120 $CMP --model cyclegan $CG --batch 1,4 --dtype float32 --upsample phase \
  --steps-per-dispatch 1 --torch-modes eager
# 6. 16 DCGAN members in one vmapped program vs one after another (the sweep issue)
stage sweep 50 $PY benchmarks/sweep_bench.py $SW --repeats 3 --out "$OUT/sweep.jsonl"
# 7. ganjax bf16 (float32 master weights) against PyTorch's default, eager fp32: CycleGAN, and DCGAN b64
#    with more steps per dispatch
stage cyclegan_bf16 140 $CMP --model cyclegan $CG --batch 1,4 --dtype bfloat16 --torch-dtype float32 \
  --upsample phase --steps-per-dispatch 1 --torch-modes eager
stage dcgan_k 55 $CMP --model dcgan --batch $B64 --dtype bfloat16 --torch-dtype float32 --upsample phase \
  --steps-per-dispatch 20,100 --torch-modes eager

# 8. the upsampling variants at batch 1024 (a second pass, when stage 4 ran out of time)
stage upsample_1k 55 $PY -m ganjax bench dcgan --batch $B1K --dtype bfloat16 --width $W \
  --upsample conv_transpose,subpixel --steps-per-dispatch 1 --repeats 3 --out $ROWS

# 9. where CycleGAN's step time goes: each part's forward + backward alone (the 3-channel convs, norms, pads)
stage parts 120 $PY benchmarks/cyclegan_parts.py --batch 4 --dtype float32,bfloat16 --torch \
  $([ "$SCALE" = 0 ] && echo "--size 32 --ngf 8")
# 9b. kernel by kernel, the whole CycleGAN b4 step: ganjax fp32 and the PyTorch twin, then ganjax bf16
stage profile 170 bash -c "$PY benchmarks/profile_step.py --model cyclegan $CG --batch 4 --dtype float32 \
  --torch --top 25 && $PY benchmarks/profile_step.py --model cyclegan $CG --batch 4 --dtype bfloat16 --top 25"
# 9c. the article's DCGAN kernel by kernel: b1024 bf16 (the 40 %-of-peak goal) and b64 bf16 K=20 (launch-bound)
stage profile_dcgan 120 bash -c "$PY benchmarks/profile_step.py --model dcgan --width $W --batch $B1K \
  --dtype bfloat16 --steps-per-dispatch 4 --torch --top 20 && $PY benchmarks/profile_step.py --model dcgan \
  --width $W --batch $B64 --dtype bfloat16 --steps-per-dispatch $K --top 20"

# 10. XLA GPU flags, each in its own process (flags are read at start-up), ganjax alone at K=1 where launch
#     overheads show: command buffers off (default on), autotuning off (default level 4), latency-hiding
#     scheduler on; rows (with their xla_flags) in $OUT/flags.jsonl, one line each in the table
flag_runs() {  # flag_runs "BENCH ARGUMENTS" FLAGS...: one `ganjax bench` process per XLA_FLAGS value
  local args=$1 f; shift
  for f in "$@"; do
    XLA_FLAGS="$f" $PY -m ganjax bench $args --repeats 3 --out "$OUT/flags.jsonl"
  done
}
export -f flag_runs
export PY B64 W CG OUT K
# all DCGAN rows first, so that a stage cut short keeps a complete comparison
FLAG_SETS='"" --xla_gpu_enable_command_buffer= --xla_gpu_autotune_level=0 --xla_gpu_enable_latency_hiding_scheduler=true'
stage flags ${FLAGS_LIMIT:-280} bash -c "flag_runs 'dcgan --batch $B64 --dtype bfloat16 --width $W \
  --upsample phase --steps-per-dispatch 1' $FLAG_SETS; flag_runs 'cyclegan $CG --batch 1 --dtype float32 \
  --steps-per-dispatch 1' $FLAG_SETS"

# 11. the latency-hiding scheduler (stage flags: DCGAN b64 bf16 K=1 ran 1.50x faster with it), against
#     PyTorch eager fp32 in the same process; rows (with their xla_flags) in $OUT/flags.jsonl
LHS=--xla_gpu_enable_latency_hiding_scheduler=true
XLA_FLAGS=$LHS stage lhs_dcgan 70 $CMP --model dcgan --batch $B64 --dtype bfloat16 --torch-dtype float32 \
  --upsample phase --steps-per-dispatch 1,$K --torch-modes eager --out "$OUT/flags.jsonl"
XLA_FLAGS=$LHS stage lhs_cyclegan 70 $PY -m ganjax bench cyclegan $CG --batch 4 --dtype bfloat16 \
  --steps-per-dispatch 1 --repeats 3 --out "$OUT/flags.jsonl"
# 11b. launch overhead at K steps per dispatch (DCGAN b64 bf16 K=20 runs 0.9 ms a step, ~7 % of peak): the
#     scan's while loop recorded whole into the CUDA graph (command buffers of type WHILE/CONDITIONAL, not
#     in XLA's default list), also unrolled there, or the K steps unrolled in the program (--fuse loop);
#     ganjax alone, each its own process, rows in $OUT/flags.jsonl
CMDBUF=--xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL
stage cmdbuf 150 bash -c "flag_runs 'dcgan --batch $B64 --dtype bfloat16 --width $W --upsample phase \
  --steps-per-dispatch $K' '' $CMDBUF '$CMDBUF --xla_gpu_command_buffer_unroll_loops=true'; flag_runs \
  'dcgan --batch $B64 --dtype bfloat16 --width $W --upsample phase --steps-per-dispatch $K --fuse loop' ''"
# 11c. CycleGAN with each generator run once over both domains (ganjax's default) vs the reference's six
#     generator calls, interleaved in one process, bf16 (the b1 goal is launch-bound)
stage merge_ab 180 $PY benchmarks/cyclegan_generate_ab.py $CG --batch 1,4 --dtype bfloat16 --repeats 3
# 12. the ResNet block with instance norm fused (layers.instance_norm) vs flax's autodiff, and the twin's
stage parts_norm 50 $PY benchmarks/cyclegan_parts.py --batch 4 --dtype bfloat16 --only "ResNet block,instance norm" \
  --torch $([ "$SCALE" = 0 ] && echo "--size 32 --ngf 8")

# one table of everything measured
$PY - "$OUT" <<'EOF' | tee "$OUT/table.txt"
import json, sys
from ganjax.bench import format_table
rows = [json.loads(l) for l in open(f"{sys.argv[1]}/rows.jsonl") if l.strip()] if __import__("os").path.exists(
    f"{sys.argv[1]}/rows.jsonl") else []
print(format_table(rows, ratio_to="torch-eager") if rows else "no rows measured")
print("ratio = images/s ÷ torch-eager images/s of the same configuration (compare rows only)")
try:
    for r in map(json.loads, open(f"{sys.argv[1]}/sweep.jsonl")):
        print(f"sweep: {r['impl']:<36} {r['images_per_s']:9.1f} img/s  compile {r['compile_s']:.1f} s")
except FileNotFoundError:
    print("sweep: no rows")
try:
    for r in map(json.loads, open(f"{sys.argv[1]}/flags.jsonl")):
        print(f"flags: {r['impl']:<11} {r['model']:<8} batch {r['batch']:<4} k {r['k']:<3} {r['fuse']:<4} {r['dtype']:<8} "
              f"{r['images_per_s']:9.1f} img/s  "
              f"XLA_FLAGS={r.get('xla_flags') or '(none)'}")
except FileNotFoundError:
    print("flags: no rows")
EOF
grep -A30 "^part " "$OUT/stages.log" | tee -a "$OUT/table.txt" || true
grep "generator calls" "$OUT/stages.log" | tee -a "$OUT/table.txt" || true  # stage merge_ab
grep -A45 "^## " "$OUT/stages.log" | grep -v "^==" >> "$OUT/table.txt" || true  # profiles (stage profile)
if [ -s "$ROWS" ]; then JAX_PLATFORMS=cpu $PY benchmarks/flops_on_cpu.py "$ROWS" --out "$OUT/rows_flops.jsonl" \
  2>/dev/null | tee -a "$OUT/table.txt"; fi  # FLOPs counted on the CPU: GPU cost analysis misses cuDNN
# the goals table for the README (rows of this run only), last
GOAL_ROWS=$([ -s "$OUT/rows_flops.jsonl" ] && echo "$OUT/rows_flops.jsonl" || echo "$ROWS")
[ -s "$GOAL_ROWS" ] && $PY benchmarks/goals.py "$GOAL_ROWS" --dcgan-batches $B64,$B1K | tee -a "$OUT/table.txt"
