"""Timing harness of benchmarks/: ganjax.bench's (JaxRunner, measure, rows, table) plus the PyTorch side.

The timing code lives once, in ganjax/bench/harness.py; this module adds TorchRunner, which times a torch twin's
full step (benchmarks/torch_twin.py) the same way: warm-up, then median block times with
torch.cuda.synchronize on GPU (CPU ops are synchronous), peak memory from torch.cuda.max_memory_allocated
(GPU) or the process's peak RSS (CPU), and the FLOPs per image of the ganjax twin of the same function.

    python benchmarks/harness.py dcgan --batch 64 --dtype float32     # == ganjax bench dcgan ...
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ganjax.bench import (JaxRunner, device_info, format_table, make_row, measure, rss_peak_bytes,  # noqa: E402,F401
                          write_jsonl)


def torch_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_sync(device: str) -> None:
    import torch
    if device == "cuda":
        torch.cuda.synchronize()


class TorchRunner:
    """A torch twin's step, eager or torch.compile'd ("compile" compiles each network on the first step).

    Raises whatever torch.compile raises: callers turn it into a "failed" row (failed_row)."""
    k = 1  # one step per call: a PyTorch loop dispatches each step from Python

    def __init__(self, twin, mode: str, label: dict, flops_per_image: float | None = None):
        import torch

        self.twin, self.mode, self.impl = twin, mode, f"torch-{mode}"
        self.label = {**label, "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__}
        self.device = twin.device.type
        self.images_per_call = twin.batch
        self.flops_per_image = flops_per_image
        self.flops_source = "xla_cost_analysis of the ganjax twin" if flops_per_image else None
        self.nets = {k: torch.compile(v) for k, v in twin.nets.items()} if mode == "compile" else None
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        self.block(1)  # eager: first-step warm-up; compile: tracing + code generation
        self.compile_s = time.perf_counter() - t0

    def block(self, calls: int) -> None:
        for _ in range(calls):
            self.twin.step(self.nets)
        torch_sync(self.device)

    @property
    def step_mem(self) -> int | None:
        import torch
        return int(torch.cuda.max_memory_allocated()) if self.device == "cuda" else None

    def peak_memory(self) -> tuple[int | None, str]:
        import torch
        if self.device == "cuda":
            return int(torch.cuda.max_memory_allocated()), "torch.cuda.max_memory_allocated (since this runner)"
        return rss_peak_bytes(), "process peak RSS"


def failed_row(impl: str, label: dict, batch: int, info: dict, error: BaseException) -> dict:
    """A row for a runner that could not run (e.g. torch.compile failed): images_per_s is None."""
    msg = f"failed: {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    return {"impl": impl, **label, "batch": batch, "k": 1, "images_per_s": None, "step_ms": None,
            "step_ms_min": None, "compile_s": None, "peak_mem_bytes": None, "flops_per_image": None,
            "frac_peak": None, "status": msg[:300], **info, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}


if __name__ == "__main__":
    from ganjax.bench import main

    main(sys.argv[1:])
