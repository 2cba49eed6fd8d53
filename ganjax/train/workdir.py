"""The run folder: config.json, metrics.jsonl, checkpoints/, samples/, figures — and its safety checks."""
from __future__ import annotations

from ganjax.errors import GanjaxError

import json
import os

from ganjax import config as config_lib


class RunFolderError(GanjaxError, ValueError):
    pass


# Parts of the config that define what a run *is*; a run folder cannot be resumed with others.
IDENTITY_KEYS = ("experiment", "model", "data.source")
SWEEP_RECORD = "sweep.json"  # a sweep folder's record (ganjax/sweep/runner.py); here for the hint below


def _get(d: dict, dotted: str):
    for part in dotted.split("."):
        d = d.get(part, {}) if isinstance(d, dict) else {}
    return d


def check(workdir: str, cfg) -> str:
    """Check, writing nothing, that `workdir` is new, empty, or a run of this same experiment."""
    workdir = os.path.abspath(os.path.expanduser(workdir))
    cfg_path = os.path.join(workdir, "config.json")
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise RunFolderError(f"workdir {workdir} exists and is not a folder")
    if os.path.isfile(cfg_path):
        with open(cfg_path) as f:
            try:
                old = json.load(f)
            except json.JSONDecodeError:
                raise RunFolderError(f"{cfg_path} is not valid JSON; use another --workdir") from None
        new = json.loads(config_lib.to_json(cfg))
        diffs = [d for key in IDENTITY_KEYS for d in _differences(key, _get(old, key), _get(new, key))]
        if diffs:
            shown = "; ".join(f"{k}: {_short(a)} there, {_short(b)} here" for k, a, b in diffs[:3])
            more = f" and {len(diffs) - 3} more" if len(diffs) > 3 else ""
            raise RunFolderError(f"workdir {workdir} holds another run ({shown}{more}); use another --workdir")
    elif os.path.isdir(workdir) and os.listdir(workdir):
        raise RunFolderError(f"workdir {workdir} is not empty and holds no ganjax run{_sweep_hint(workdir)}; "
                             f"use a new folder")
    return workdir


def prepare(workdir: str, cfg) -> str:
    """`check`, then create the folder and write config.json."""
    workdir = check(workdir, cfg)
    cfg_path = os.path.join(workdir, "config.json")
    os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
    write_atomic(cfg_path, config_lib.to_json(cfg))
    return workdir


def _sweep_hint(folder: str) -> str:
    """For a sweep's folder (one holding the sweep's record): where its runs are."""
    if not os.path.isfile(os.path.join(os.path.expanduser(folder), SWEEP_RECORD)):
        return ""
    return f"; it is a sweep folder: each member's run is {os.path.join(folder, 'member_NNN')}"


def _differences(key: str, old, new) -> list[tuple[str, object, object]]:
    """The dotted keys under `key` whose values differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in _differences(f"{key}.{k}", old.get(k, "(absent)"), new.get(k, "(absent)"))]
    return [] if old == new else [(key, old, new)]


def _short(v) -> str:
    s = json.dumps(v, sort_keys=True, default=str)
    return s if len(s) < 60 else s[:57] + "..."


def load_config(workdir: str):
    path = os.path.join(os.path.abspath(os.path.expanduser(workdir)), "config.json")
    if not os.path.isfile(path):
        raise RunFolderError(f"{workdir} is not a ganjax run folder (no config.json){_sweep_hint(workdir)}")
    with open(path) as f:
        return config_lib.from_json(f.read())


def write_atomic(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class MetricsLog:
    """metrics.jsonl, truncated on resume to the restored step so that a resumed log has no duplicates.
    `enabled=False` (processes other than 0 of a multi-host job) writes nothing."""

    def __init__(self, path: str, resume_step: int, enabled: bool = True):
        self.path, self.file = path, None
        if not enabled:
            return
        if os.path.exists(path):
            with open(path) as f:
                keep = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= resume_step]
            write_atomic(path, "".join(keep))
        self.file = open(path, "a")

    def write(self, row: dict) -> None:
        if self.file is not None:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
