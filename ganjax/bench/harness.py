"""Throughput of ganjax's full train step, timed after compilation: runners, interleaved measurement, rows
and tables (`ganjax bench`; the scripts in benchmarks/ reuse it).

  ganjax bench dcgan --batch 64,256,1024 --dtype float32,bfloat16 [--upsample subpixel,phase] [--width 128]
  ganjax bench cyclegan --batch 1,4 --size 256

What is timed: the jitted K-step function of ganjax.train.steps.compile_multi_step (state donated; --fuse
scan|loop: lax.scan or a Python loop of the step; default: the training loop's choice), i.e. K full steps
— data sampling (index permutation, gather, uint8 → float, noise), G forward, D update, G update — on synthetic
uint8 images held on the device (so no input pipeline is measured). After `warmup` calls,
`repeats` blocks of `iters` calls each end in jax.block_until_ready; a row reports the median block time
per step (the minimum too). Runners are interleaved block by block (`measure`), so load on a shared
machine hits all of them alike.

Columns: images/s = batch / step time; compile_s = lower + compile of the K-step function; peak_mem =
the process's peak (GPU: XLA's peak_bytes_in_use, which includes the conv autotuner's scratch; CPU: peak
RSS from getrusage — per process, so it covers everything run before in the same process); step_mem =
what the compiled step itself needs (XLA memory_analysis: arguments + outputs + temporaries − donated
aliases; the twin's: torch.cuda.max_memory_allocated); flops/img from XLA's cost analysis of the *lowered*
K-step function (before optimisation, so cuDNN/oneDNN custom calls still count, on every backend) ÷
(K · batch) (the twin's rows reuse it: same function); frac_peak = flops/img · images/s ÷ the chip's peak
from PEAK_FLOPS (blank on CPU, where no peak is tabulated). "× torch fp32" = images/s ÷ torch-eager
float32's in the same model, variant and batch (e.g. ganjax bf16 against PyTorch's fp32 default).
"""
from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import time
from pathlib import Path


# (device-kind substring, dtype) → (peak FLOP/s used for frac_peak, where the number comes from)
PEAK_FLOPS = {
    ("H100", "bfloat16"): (800e12, "bf16 8192³ matmul measured ~798 TFLOP/s (dense spec 989)"),
    ("H100", "float32"): (60e12, "FP32 ~60-67 TFLOP/s spec; TF32 tensor cores ~400 (XLA/cuDNN may use TF32)"),
    ("H200", "bfloat16"): (790e12, "bf16 matmul measured ~790 TFLOP/s (dense spec 989)"),
    ("H200", "float32"): (60e12, "FP32 ~67 TFLOP/s spec; TF32 tensor cores ~400"),
}
CPU_NOTE = ("CPU: no peak tabulated (estimate: cores · GHz · FLOP/cycle/core, 32 fp32 with AVX2 FMA, 64 with "
            "two AVX-512 FMA units); peak_mem is the process's peak RSS")
DEFAULT_OUT = "benchmarks/results/bench.jsonl"


def backend() -> str:
    import jax
    return jax.default_backend()


def device_info() -> dict:
    import jax
    d = jax.local_devices()[0]
    return {"backend": jax.default_backend(), "device": getattr(d, "device_kind", str(d)),
            "cpu_count": os.cpu_count(), "host": platform.node(), "load_avg_1m": round(os.getloadavg()[0], 2),
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


def peak_flops(device_kind: str, dtype: str) -> tuple[float | None, str]:
    for (kind, dt), value in PEAK_FLOPS.items():
        if kind.lower() in device_kind.lower() and dt == dtype:
            return value
    return None, CPU_NOTE if "cpu" in device_kind.lower() else f"no peak tabulated for {device_kind}"


def rss_peak_bytes() -> int:
    """This process's peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if platform.system() == "Darwin" else peak * 1024)


def jax_peak_memory() -> tuple[int | None, str]:
    import jax
    stats = jax.local_devices()[0].memory_stats() if backend() != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"]), "device peak_bytes_in_use (process so far)"
    return rss_peak_bytes(), "process peak RSS"


def xla_flops(compiled) -> float | None:
    """FLOPs of a lowered or compiled XLA computation; cost_analysis() is a dict or a list of dicts by
    version. Prefer the lowered one: a compiled GPU executable's analysis misses cuDNN convolutions."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - some backends do not implement it
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops and flops > 0 else None


def xla_step_memory(compiled) -> int | None:
    """Bytes a compiled executable needs: arguments + outputs + temporaries − donated (aliased) buffers."""
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
                   - m.alias_size_in_bytes)
    except Exception:  # noqa: BLE001 - not every backend/version reports it
        return None


class JaxRunner:
    """One ganjax configuration: compiled K-step function, its (donated) state and its device data.

    The framework's ganjax.train.steps.compile_multi_step with fuse "scan" or "loop" (None: the backend's
    default, steps.default_fuse)."""
    impl = "ganjax"

    def __init__(self, recipe, data: dict, steps_per_dispatch: int, label: dict, seed: int = 0,
                 fuse: str | None = None):
        import jax
        from ganjax.train.steps import compile_multi_step, default_fuse

        fuse = fuse or default_fuse()
        self.recipe, self.k, self.label = recipe, steps_per_dispatch, {**label, "fuse": fuse}
        self.state = recipe.init_state(seed)
        self.data = jax.device_put(data)
        fn = compile_multi_step(recipe, recipe.optimizers(), steps_per_dispatch, fuse)
        t0 = time.perf_counter()
        lowered = fn.lower(self.state, self.data)
        self.compiled = lowered.compile()
        self.compile_s = time.perf_counter() - t0
        self.step_mem = xla_step_memory(self.compiled)
        # FLOPs of ONE step (cost analysis counts a scan's body once, whatever its length), lowered only
        one = lowered if steps_per_dispatch == 1 else \
            compile_multi_step(recipe, recipe.optimizers(), 1, fuse).lower(self.state, self.data)
        flops = xla_flops(one) or (xla_flops(self.compiled) if steps_per_dispatch == 1 else None)
        self.images_per_call = recipe.batch_size * steps_per_dispatch
        self.flops_per_image = flops / recipe.batch_size if flops else None
        self.flops_source = "xla_cost_analysis" if flops else None

    def block(self, calls: int) -> None:
        import jax
        metrics = None
        for _ in range(calls):
            self.state, metrics = self.compiled(self.state, self.data)
        jax.block_until_ready((self.state, metrics))

    def peak_memory(self) -> tuple[int | None, str]:
        return jax_peak_memory()


def measure(runners: list, repeats: int = 5, warmup: int = 2, iters: int | None = None,
            target_block_s: float = 1.0) -> list[dict]:
    """Time runners interleaved: warm-up, then `repeats` rounds of one block per runner.

    A block is `iters` dispatches (default: enough for ≈ target_block_s, from the last warm-up call).
    Each runner needs .block(n), .images_per_call, .k and .compile_s; returns one timing dict per runner.
    """
    calls = []
    for r in runners:
        t = 0.0
        for _ in range(max(warmup, 1)):
            t0 = time.perf_counter()
            r.block(1)
            t = time.perf_counter() - t0
        calls.append(iters or max(1, min(1000, math.ceil(target_block_s / max(t, 1e-6)))))
    times = [[] for _ in runners]
    for _ in range(repeats):
        for i, r in enumerate(runners):
            t0 = time.perf_counter()
            r.block(calls[i])
            times[i].append((time.perf_counter() - t0) / (calls[i] * r.k))
    return [{"step_s": statistics.median(t), "step_s_min": min(t), "iters": calls[i], "repeats": repeats}
            for i, t in enumerate(times)]


def make_row(runner, timing: dict, info: dict, **extra) -> dict:
    """One JSON line: the runner's label, its timing, throughput, memory, FLOPs and fraction of peak."""
    batch = runner.images_per_call // runner.k
    ips = batch / timing["step_s"]
    mem, mem_src = runner.peak_memory()
    step_mem = getattr(runner, "step_mem", None)
    dtype = runner.label.get("dtype", "float32")
    peak, peak_note = peak_flops(info["device"], dtype)
    fpi = runner.flops_per_image
    row = {"impl": runner.impl, **runner.label, "batch": batch, "k": runner.k, "images_per_s": ips,
           "step_ms": 1e3 * timing["step_s"], "step_ms_min": 1e3 * timing["step_s_min"],
           "compile_s": runner.compile_s, "peak_mem_bytes": mem, "peak_mem_source": mem_src,
           "step_mem_bytes": step_mem,
           "flops_per_image": fpi, "flops_source": runner.flops_source, "peak_flops": peak,
           "peak_note": peak_note, "frac_peak": fpi * ips / peak if (fpi and peak) else None,
           "iters": timing["iters"], "repeats": timing["repeats"], **info, **extra,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    return row


def write_jsonl(rows: list[dict], path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for row in rows:
            f.write(json.dumps(row, default=str) + "\n")


def _fmt(v, spec):
    return "" if v is None else format(v, spec)


def format_table(rows: list[dict], ratio_to: str | None = None) -> str:
    """A plain-text table; `ratio_to` adds images/s ÷ that impl's images/s in the same configuration, and
    "× torch fp32" ÷ torch-eager float32's in the same model, variant and batch (when measured)."""
    cols = ["impl", "model", "variant", "dtype", "batch", "k", "img/s", "step ms", "compile s", "peak MiB",
            "step MiB", "GFLOP/img", "% peak"] + (["ratio", "× torch fp32"] if ratio_to else [])
    # rows timed together (compare_torch's "group": one process, one configuration) compare only with each
    # other, so a table of several runs never divides by another run's PyTorch row
    key = lambda r: (r.get("group"), r["model"], r["variant"], r["dtype"], r["batch"])
    base = {key(r): r["images_per_s"] for r in rows if ratio_to and r["impl"] == ratio_to}
    fp32 = {key(r)[:3] + key(r)[4:]: r["images_per_s"] for r in rows
            if ratio_to and r["impl"] == "torch-eager" and r["dtype"] == "float32"}
    lines = []
    for r in rows:
        fpi, ref, ips = r.get("flops_per_image"), base.get(key(r)), r["images_per_s"]
        ref32 = fp32.get(key(r)[:3] + key(r)[4:])
        mem, smem = r["peak_mem_bytes"], r.get("step_mem_bytes")
        line = [r["impl"], r["model"], r["variant"], r["dtype"], str(r["batch"]), str(r["k"]),
                _fmt(ips, ".1f" if ips >= 10 else ".3g") if ips else "failed", _fmt(r["step_ms"], ".1f"),
                _fmt(r["compile_s"], ".1f"), _fmt(mem and mem / 2**20, ".0f"), _fmt(smem and smem / 2**20, ".0f"),
                _fmt(fpi and fpi / 1e9, ".2f"), _fmt(r["frac_peak"] and 100 * r["frac_peak"], ".2f")]
        if ratio_to:
            line += [_fmt(ref and ips and ips / ref, ".2f"), _fmt(ref32 and ips and ips / ref32, ".2f")]
        lines.append(line)
    widths = [max(len(c), *(len(l[i]) for l in lines)) for i, c in enumerate(cols)] if lines else []
    fmt = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))
    return "\n".join([fmt(cols), fmt(["-" * w for w in widths])] + [fmt(l) for l in lines])
