"""XLA flags ganjax sets by default (in XLA_FLAGS, before JAX starts its backends), and the measurements
behind them.

GPU: ``--xla_gpu_enable_latency_hiding_scheduler=true``. On one H100 (benchmarks/gpu_all.sh stage flags,
2026-11-27, each flag set in its own process on the same machine) the article's DCGAN at batch 64, bf16, one
step per dispatch ran 47 846 img/s with it against 31 913 without (48 640 again in a second run); at 20 steps
per dispatch (68 207 vs 67 777) and for CycleGAN 256² at batch 4 (64.4 vs 64.1) it changed nothing. Measured
and not set: command buffers off 32 269 (no change), autotuning off 371 (never).

`ganjax` (cli.main) and the scripts in benchmarks/ call `apply()`. A flag that XLA_FLAGS already names (with
either value) stays as the user set it; GANJAX_XLA_DEFAULTS=0 sets none. XLA:CPU parses and ignores GPU flags.
Library users who want them call `ganjax.xla_flags.apply()` before their first JAX computation.
"""
from __future__ import annotations

import os

DEFAULTS = ("--xla_gpu_enable_latency_hiding_scheduler=true",)


def apply() -> list[str]:
    """Add the DEFAULTS that XLA_FLAGS does not name yet; returns the flags added."""
    if os.environ.get("GANJAX_XLA_DEFAULTS", "1") == "0":
        return []
    current = os.environ.get("XLA_FLAGS", "")
    added = [f for f in DEFAULTS if f.split("=")[0] not in current]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([current, *added]).strip()
    return added
