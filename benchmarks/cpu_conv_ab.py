"""Before/after of models/cpu_conv.py on the article's DCGAN step: ganjax with XLA's own convolution
gradients (cpu_rules.ENABLED = False) vs with cpu_conv's, and the PyTorch twin, timed interleaved in one
process (ganjax/bench/harness.py: measure).

  python benchmarks/cpu_conv_ab.py [--batch 64] [--width 128] [--torch-threads 1]
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
      python benchmarks/cpu_conv_ab.py --torch-threads 1        # per core
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ganjax import bench  # noqa: E402
from ganjax.bench import models as bench_models  # noqa: E402
from ganjax.models import cpu_rules  # noqa: E402
from harness import TorchRunner  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--upsample", default="phase")
    p.add_argument("--steps-per-dispatch", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--out", default="benchmarks/results/cpu_conv_ab.jsonl")
    args = p.parse_args(argv)
    import torch
    from twins import make_twin

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    opts = argparse.Namespace(width=args.width, fuse=None)
    runners = []
    for enabled in (False, True):
        cpu_rules.ENABLED = enabled  # read while tracing: the compiled step keeps the choice
        r = bench_models.jax_runner("dcgan", args.batch, "float32", args.steps_per_dispatch, args.upsample, opts)
        r.impl = "ganjax" if enabled else "ganjax-xla-grads"
        runners.append(r)
    cpu_rules.ENABLED = True
    twin = make_twin("dcgan", width=args.width, upsample=args.upsample, batch=args.batch, device="cpu")
    twin.set_data(np.array(runners[0].data["images"]))
    twin.load(__import__("jax").device_get(runners[0].state.params))
    runners.append(TorchRunner(twin, "eager", {**runners[0].label, "fuse": None}, runners[0].flops_per_image))
    timings = bench.measure(runners, args.repeats, 1, None, target_block_s=1.0)
    info = {**bench.device_info(), "xla_flags": os.environ.get("XLA_FLAGS", "")}
    rows = [bench.make_row(r, t, info) for r, t in zip(runners, timings)]
    bench.write_jsonl(rows, args.out)
    print(bench.format_table(rows, ratio_to="torch-eager"))
    print(f"load avg {os.getloadavg()[0]:.1f} on {info['cpu_count']} CPUs; XLA_FLAGS={info['xla_flags']!r}; "
          f"torch threads {torch.get_num_threads()}")
    return rows


if __name__ == "__main__":
    main()
