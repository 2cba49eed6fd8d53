"""ganjax vs its PyTorch twin, side by side in one process on one machine: images/s and their ratio.

  python benchmarks/compare_torch.py --model dcgan [--batch 64,1024] [--dtype float32,bfloat16]
      [--upsample subpixel,phase] [--steps-per-dispatch K] [--torch-modes eager,compile] [--torch-threads N]
      [--torch-dtype float32]    # ganjax in --dtype against the twin in another dtype
  python benchmarks/compare_torch.py --model cyclegan [--size 256] [--batch 1,4]

Per configuration the ganjax runner (its compiled K-step function), the twin eager and the twin under
torch.compile (a failure is reported as "failed") start from the same parameters and data, and are timed
interleaved block by block (ganjax/bench/harness.py: measure). ratio = images/s ÷ torch-eager's images/s in the
same configuration. "phase" is ganjax's phase-decomposed transposed convolution; its twin is the same
ConvTranspose2d as "conv_transpose". CPU defaults are small so that a quiet 2-core CPU finishes in < 5 min
(printed when used); XLA threads follow XLA_FLAGS, torch's --torch-threads (default: torch's choice).

On a loaded machine both runtimes' threads wait on descheduled peers, torch's OpenMP far more than XLA's
pool, so a 2-thread ratio there flatters ganjax. A per-core comparison that load distorts much less:
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
      python benchmarks/compare_torch.py --model dcgan --torch-threads 1
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave GPU memory to torch too
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ganjax import xla_flags  # noqa: E402

xla_flags.apply()  # the GPU defaults `ganjax` sets (ganjax/xla_flags.py)
import jax  # noqa: E402
import numpy as np  # noqa: E402

from ganjax import bench  # noqa: E402
from ganjax.bench import models as bench_models  # noqa: E402
from harness import TorchRunner, failed_row, torch_device  # noqa: E402

CPU_DCGAN = dict(dtype="float32", upsample="subpixel,phase")
CPU_CYCLEGAN = dict(torch_modes="eager")


def parse(argv):
    cpu = jax.default_backend() == "cpu"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=("dcgan", "cyclegan"))
    bench.add_arguments(p, cpu, dcgan_width=128)  # the article's network
    p.add_argument("--torch-modes", default=None, help="eager,compile (default; CPU cyclegan: eager)")
    p.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--torch-dtype", default=None, help="the twin's dtype when it should differ from ganjax's "
                                                       "(e.g. --dtype bfloat16 --torch-dtype float32)")
    p.set_defaults(out="benchmarks/results/compare_torch.jsonl")
    args = p.parse_args(argv)
    notes = []
    for key, value in (CPU_DCGAN if args.model == "dcgan" else CPU_CYCLEGAN).items():
        if cpu and getattr(args, key) is None:
            setattr(args, key, value)
            notes.append(f"CPU: default --{key.replace('_', '-')} {value} (GPU: the full default)")
    args.torch_modes = args.torch_modes or "eager,compile"
    return args, notes + bench.resolve_defaults(args, cpu)


def make_twin(args, variant, batch, dtype, data, params):
    from twins import make_twin as make

    device = torch_device()
    if args.model == "dcgan":
        twin = make("dcgan", width=args.width, upsample=variant, batch=batch, device=device, dtype=dtype)
        twin.set_data(data["images"])
    else:
        twin = make("cyclegan", size=args.size, batch=batch, ngf=args.ngf, n_blocks=args.blocks, upsample=variant,
                    device=device, dtype=dtype)
        twin.set_data(data["train_a"], data["train_b"])
    twin.load(params)
    return twin


def run_config(args, batch, dtype, variant, info):
    """Rows of one configuration: ganjax at each K, then each torch mode, all timed interleaved."""
    runners = [bench_models.jax_runner(args.model, batch, dtype, k, variant, args)
               for k in bench.parse_list(args.steps_per_dispatch, int)]
    params, data = jax.device_get(runners[0].state.params), jax.device_get(runners[0].data)
    label, rows = {**runners[0].label, "fuse": None}, []
    for mode in bench.parse_list(args.torch_modes):
        try:
            twin = make_twin(args, variant, batch, args.torch_dtype or dtype, data, params)
            runners.append(TorchRunner(twin, mode, {**label, "dtype": args.torch_dtype or dtype},
                                       runners[0].flops_per_image))
        except Exception as e:  # noqa: BLE001 - torch.compile may fail on a platform: report, go on
            rows.append(failed_row(f"torch-{mode}", label, batch, info, e))  # no group: no ratio
    timings = bench.measure(runners, args.repeats, args.warmup, args.iters,
                            target_block_s=1.0 if info["backend"] == "cpu" else 0.3)
    load = {"load_avg_1m": round(os.getloadavg()[0], 2), "group": f"{os.getpid()}-{time.time_ns()}"}
    return [bench.make_row(r, t, {**info, **load}) for r, t in zip(runners, timings)] + rows


def main(argv=None):
    args, notes = parse(sys.argv[1:] if argv is None else argv)
    if args.torch_threads:
        import torch
        torch.set_num_threads(args.torch_threads)
    for n in notes:
        print(n)
    info, rows = bench.device_info(), []
    np.random.seed(0)
    for batch in bench.parse_list(args.batch, int):
        for dtype in bench.parse_list(args.dtype):
            for variant in bench.parse_list(args.upsample):
                new = run_config(args, batch, dtype, variant, info)
                bench.write_jsonl(new, args.out)  # per configuration: a killed run keeps what it measured
                rows += new
                print(bench.format_table(new, ratio_to="torch-eager"), "\n", flush=True)
    print(bench.format_table(rows, ratio_to="torch-eager"))
    print(f"ratio = images/s ÷ torch-eager images/s of the same configuration; device {info['device']}, "
          f"load avg {os.getloadavg()[0]:.1f} on {info['cpu_count']} CPUs")
    if info["backend"] == "cpu":
        print(bench.CPU_NOTE)
    print(f"wrote {len(rows)} line(s) to {args.out}")
    return rows


if __name__ == "__main__":
    main()
