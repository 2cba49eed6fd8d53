"""Where one full train step's time goes, kernel by kernel: ganjax (jax.profiler) and its PyTorch twin
(torch.profiler), side by side, grouped into kinds (convolution forward / data grad / weight grad, GEMM,
layout transposes, reductions, elementwise fusions, copies).

  python benchmarks/profile_step.py --model cyclegan --batch 4 --dtype float32 [--torch] [--steps 5]

GPU: kernels from the profiler's device plane (every CUDA stream); "busy" is the sum of kernel times per
step (overlapping streams counted twice), "wall" the step time under the profiler. CPU: XLA's thunks on the
PjRt client's threads. Prints the kinds' totals, then the top kernels; the table is what a reader needs to
decide where a step's time goes, and costs one compile plus a few profiled steps.
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ganjax import xla_flags  # noqa: E402

xla_flags.apply()  # the GPU defaults `ganjax` sets (ganjax/xla_flags.py)
import jax  # noqa: E402

from ganjax import bench  # noqa: E402
from ganjax.bench import models as bench_models  # noqa: E402

KINDS = [  # (kind, regex on the lower-cased kernel name), first match wins
    ("conv weight grad", r"wgrad|bwd_filter|backward_filter|filter_grad"),
    ("conv data grad", r"dgrad|bwd_data|backward_data|data_grad"),
    ("conv forward", r"fprop|conv|implicit_gemm|winograd|xmma_fprop|fft"),
    ("gemm", r"gemm|nvjet|cutlass|cublas|sgemm|dot"),
    ("layout transpose", r"transpose|nchwtonhwc|nhwctonchw|permute|copy_?kernel|nchw|nhwc"),
    ("reduction", r"reduce|reduction|norm|mean|var|sum"),
    ("memcpy/memset", r"memcpy|memset"),
    ("elementwise", r"fusion|elementwise|vectorized|unrolled|loop|add|mul|relu|tanh|pad|where|select"),
]


def kind_of(name: str) -> str:
    low = name.lower()
    return next((k for k, rx in KINDS if re.search(rx, low)), "other")


def summarize(events: list[tuple[str, float]], steps: int, wall_s: float, top: int, title: str) -> str:
    """events: (kernel name, seconds) over `steps` steps → a text table per step."""
    by_kind, by_name, count = collections.Counter(), collections.Counter(), collections.Counter()
    for name, sec in events:
        by_kind[kind_of(name)] += sec
        family = re.sub(r"([._]\d+)+$", "", name)  # XLA's fusion.12, loop_add_fusion_3 → one family
        by_name[family] += sec
        count[family] += 1
    busy = sum(by_kind.values())
    lines = [f"## {title}: wall {1e3 * wall_s / steps:.2f} ms/step, kernels busy {1e3 * busy / steps:.2f} "
             f"ms/step, {len(events) / steps:.0f} kernels/step"]
    for k, s in by_kind.most_common():
        lines.append(f"  {k:<18} {1e3 * s / steps:9.3f} ms  {100 * s / busy:5.1f} %")
    lines.append(f"  top {top} kernel families (ms/step, calls/step, kind):")
    for name, s in by_name.most_common(top):
        lines.append(f"  {1e3 * s / steps:9.3f} {count[name] / steps:6.1f}  {kind_of(name):<17} {name[:110]}")
    return "\n".join(lines)


def jax_events(runner, steps: int) -> tuple[list[tuple[str, float]], float]:
    """Kernel (GPU) or thunk (CPU) events of `steps` profiled calls of a warmed-up runner."""
    from jax.profiler import ProfileData

    with tempfile.TemporaryDirectory() as d:
        jax.profiler.start_trace(d)
        t0 = time.perf_counter()
        runner.block(steps)
        wall = time.perf_counter() - t0
        jax.profiler.stop_trace()
        (path,) = glob.glob(f"{d}/**/*.xplane.pb", recursive=True)
        data = ProfileData.from_file(path)
    events = []
    for plane in data.planes:
        gpu = plane.name.startswith("/device:")
        for line in plane.lines:
            if (gpu and line.name.startswith("Stream")) or (not gpu and line.name.startswith("tf_XLA")):
                events += [(e.name, e.duration_ns * 1e-9) for e in line.events
                           if e.duration_ns and not e.name.startswith(("ThreadpoolListener", "end: ", "ThunkExecutor"))]
    return events, wall


def torch_events(twin, steps: int) -> tuple[list[tuple[str, float]], float]:
    """CUDA kernels of `steps` eager twin steps (torch.profiler); CPU: torch's operators."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cuda = twin.device.type == "cuda"
    with profile(activities=[ProfilerActivity.CUDA] if cuda else [ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            twin.step(None)
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    events = []
    for e in prof.events():
        on_gpu = e.device_type == torch.autograd.DeviceType.CUDA
        if on_gpu == cuda and (cuda or e.cpu_parent is None):
            events.append((e.name, e.time_range.elapsed_us() * 1e-6))
    return events, wall


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="cyclegan", choices=("dcgan", "cyclegan"))
    cpu = jax.default_backend() == "cpu"
    bench.add_arguments(p, cpu)
    p.add_argument("--steps", type=int, default=5, help="profiled steps (after 2 warm-up calls)")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--torch", action="store_true", help="profile the PyTorch twin (eager) too")
    args = p.parse_args(argv)
    bench.resolve_defaults(args, cpu)
    batch, dtype = int(args.batch.split(",")[0]), args.dtype.split(",")[0]
    variant, k = args.upsample.split(",")[0], int(args.steps_per_dispatch.split(",")[0])
    runner = bench_models.jax_runner(args.model, batch, dtype, k, variant, args)
    runner.block(2)
    title = f"ganjax {args.model} b{batch} {dtype} {variant} K={k} ({jax.devices()[0].device_kind})"
    events, wall = jax_events(runner, args.steps)
    print(summarize(events, args.steps * k, wall, args.top, title), flush=True)
    if args.torch:
        from compare_torch import make_twin
        params, data = jax.device_get(runner.state.params), jax.device_get(runner.data)
        del runner
        twin = make_twin(args, variant, batch, dtype, data, params)
        for _ in range(2):
            twin.step(None)
        events, wall = torch_events(twin, args.steps)
        print(summarize(events, args.steps, wall, args.top, f"torch eager {args.model} b{batch} {dtype}"))


if __name__ == "__main__":
    main()
