"""FLOPs per image counted on the CPU, filled into benchmark rows measured elsewhere (e.g. on a GPU).

  JAX_PLATFORMS=cpu python benchmarks/flops_on_cpu.py ROWS.jsonl [MORE.jsonl ...] [--out FILLED.jsonl]

A GPU executable's cost analysis misses the convolutions cuDNN runs (custom calls), so `% peak` of GPU rows
would be blank or near 0. This script lowers the same one-step function on the CPU (XLA's cost analysis
of the lowered HLO: every convolution and dot counted) for each row's model, variant and batch, and sets
flops_per_image and frac_peak = FLOPs/image · images/s ÷ the row's peak_flops. "phase" rows are counted
as the article's conv_transpose (the same function and parameters: the model's FLOPs, not a cheaper
algorithm's), with models/cpu_conv.py's CPU-only rewrites off.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ganjax import bench  # noqa: E402
from ganjax.bench import models as bench_models  # noqa: E402
from ganjax.models import cpu_rules  # noqa: E402


def flops_per_image(model: str, variant: str, batch: int) -> float | None:
    """XLA's FLOP count of one lowered train step of the row's configuration, ÷ batch."""
    from ganjax.train.steps import compile_multi_step

    variant = "conv_transpose" if variant == "phase" else variant
    if model.startswith("dcgan"):
        width = int(re.search(r"w(\d+)", model).group(1))
        recipe, data = bench_models.dcgan_setup(batch, "float32", variant, width)
    else:
        size, ngf, blocks = map(int, re.search(r"(\d+)px-ngf(\d+)-b(\d+)", model).groups())
        recipe, data = bench_models.cyclegan_setup(batch, "float32", size, variant, ngf, blocks)
    fn = compile_multi_step(recipe, recipe.optimizers(), 1, "loop")
    flops = bench.xla_flops(fn.lower(recipe.init_state(0), data))
    return flops / batch if flops else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rows", nargs="+", help="JSON-lines files written by ganjax bench / compare_torch.py")
    p.add_argument("--out", default=None, help="also write the filled rows here")
    args = p.parse_args(argv)
    rows = [json.loads(line) for path in args.rows for line in open(path) if line.strip()]
    counted, enabled = {}, cpu_rules.ENABLED
    try:
        cpu_rules.ENABLED = False
        for key in {(r["model"], r["variant"], r["batch"]) for r in rows}:
            counted[key] = flops_per_image(*key)
    finally:
        cpu_rules.ENABLED = enabled
    for r in rows:
        fpi = counted[(r["model"], r["variant"], r["batch"])]
        r["flops_per_image"], r["flops_source"] = fpi, "xla_cost_analysis on CPU (flops_on_cpu.py)"
        peak = r.get("peak_flops")
        r["frac_peak"] = fpi * r["images_per_s"] / peak if (fpi and peak and r.get("images_per_s")) else None
    if args.out:
        with open(args.out, "w") as f:
            f.writelines(json.dumps(r, default=str) + "\n" for r in rows)
    print(bench.format_table(rows, ratio_to="torch-eager"))
    print("GFLOP/img: XLA's count of the lowered step on CPU; % peak: of the row's peak_flops "
          "(H100: bf16 800 TFLOP/s measured, float32 60 TFLOP/s non-tensor-core spec)")
    return rows


if __name__ == "__main__":
    main()
