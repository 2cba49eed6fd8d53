"""RUN/run.json: what report.html says about a run that config.json cannot — when, where and how it trained.

Training (process 0) adds one session record each time it starts or resumes a run: the start time, the
step it started from, the devices, the software versions, and the config keys that differ from the
experiment's defaults. Those differences are computed by the caller when the config is loaded
(`ganjax train` loads the experiment file anyway); the report only reads this file, because a run folder is
data: nothing in it is executed when a report is written. Also saves `samples/real.png`, a grid of real
training images that the report shows beside the generated ones, once per run.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import time

import numpy as np

RUN_INFO = "run.json"
REAL_GRID = os.path.join("samples", "real.png")
MAX_SESSIONS = 200  # a run resumed more often keeps its first and latest sessions


def read(workdir: str) -> dict:
    """run.json's content, or {} when the run has none (older runs) or it is unreadable."""
    try:
        with open(os.path.join(workdir, RUN_INFO)) as f:
            info = json.load(f)
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def devices(mesh=None) -> dict:
    """The devices a run trains on (a Mesh, a list of devices, or None: all): platform, kind (e.g. "NVIDIA H100
    80GB HBM3", "cpu"), how many it uses, how many there are, and the number of processes."""
    import jax

    used = (jax.devices() if mesh is None else list(mesh.devices.flat) if hasattr(mesh, "devices")
            else list(mesh))
    return {"platform": used[0].platform, "kind": used[0].device_kind, "count": len(used),
            "available": jax.device_count(), "processes": jax.process_count()}


def versions() -> dict:
    import flax
    import jax

    import ganjax

    return {"ganjax": ganjax.__version__, "jax": jax.__version__, "flax": flax.__version__,
            "python": platform.python_version()}


def _jsonable(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return str(v)


def start_session(workdir: str, cfg, step: int, mesh=None, config_changes: dict | None = None) -> dict:
    """Append this session to run.json (atomically). config_changes: {dotted key: (value, default)} as
    `ganjax.config.differences` gives; None when unknown (the report then says so)."""
    from ganjax.train.workdir import write_atomic

    info = read(workdir)
    now = time.time()
    session = {
        "started": now,
        "started_utc": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "start_step": int(step),
        "steps_planned": int(cfg.train.steps),
        "devices": devices(mesh),
        "versions": versions(),
        "config_changes": None if config_changes is None else
        {k: {"value": _jsonable(v), "default": _jsonable(d)} for k, (v, d) in config_changes.items()},
    }
    sessions = [s for s in info.get("sessions", []) if isinstance(s, dict)] + [session]
    if len(sessions) > MAX_SESSIONS:
        sessions = sessions[:1] + sessions[-(MAX_SESSIONS - 1):]
    info = {"experiment": cfg.get("experiment"), "config_file": cfg.get("config_file"), "sessions": sessions}
    write_atomic(os.path.join(workdir, RUN_INFO), json.dumps(info, indent=1))
    return info


def save_run_arrays(workdir: str, recipe) -> None:
    """The recipe's run_arrays as .npz files in the run folder (no pickle), each written once."""
    from ganjax.atomic import save_arrays

    for name, arrays in recipe.run_arrays().items():
        path = os.path.join(workdir, name)
        if not os.path.exists(path):
            save_arrays(path, arrays)


def save_real_grid(workdir: str, recipe, n: int, nrow: int | None = None, seed: int = 0) -> str | None:
    """samples/real.png: `n` real training images (a fixed random choice), once per run; None for recipes
    whose sample grids already hold the real images (translation: real A, real B)."""
    from ganjax import report

    path = os.path.join(workdir, REAL_GRID)
    train = getattr(getattr(recipe, "dataset", None), "train", None)
    if os.path.exists(path) or not isinstance(train, np.ndarray) or train.ndim != 4 or not len(train):
        return None
    idx = np.sort(np.random.default_rng(seed).choice(len(train), min(n, len(train)), replace=False))
    return report.save_grid(train[idx], path, nrow=nrow)
