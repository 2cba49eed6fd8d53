"""CycleGAN's train step with each generator run once over both domains (translation and identity in one
call: ganjax's default) against the reference's six separate generator calls, timed interleaved in one
process. The same function (instance norm is per image); what changes is the number of kernel launches.

  python benchmarks/cyclegan_generate_ab.py --size 256 --batch 1,4 --dtype bfloat16
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ganjax import bench, xla_flags  # noqa: E402
from ganjax.bench import models as bench_models  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", default="1")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--blocks", type=int, default=9)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    for batch in bench.parse_list(args.batch, int):
        runners = []
        for merged in (True, False):
            recipe, data = bench_models.cyclegan_setup(batch, args.dtype, args.size, "phase", args.ngf, args.blocks)
            recipe.merge_generator_calls = merged
            runners.append(bench.JaxRunner(recipe, data, 1, {"calls": "4 (merged)" if merged else "6 (reference)"}))
        timings = bench.measure(runners, repeats=args.repeats, warmup=2, target_block_s=1.0)
        for r, t in zip(runners, timings):
            print(f"cyclegan {args.size}px b{batch} {args.dtype} generator calls {r.label['calls']:<13} "
                  f"{batch / t['step_s']:9.2f} img/s  step {t['step_s'] * 1e3:8.1f} ms  (min "
                  f"{t['step_s_min'] * 1e3:.1f})  compile {r.compile_s:.0f} s", flush=True)


if __name__ == "__main__":
    xla_flags.apply()
    main()
