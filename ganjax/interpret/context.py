"""The run an analysis works on, where its figures go, and the helpers every analysis uses.
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from ganjax.recipes import TRANSLATION




def image_shape(cfg) -> tuple[int, int]:
    """(size, channels) of the images a run's generator makes / translator takes."""
    if cfg.experiment in TRANSLATION:
        return int(cfg.data.crop_size), int(cfg.data.channels)
    return int(cfg.model.image_size), int(cfg.model.channels)


@dataclasses.dataclass
class Context:
    """What every command needs: the run, where to write, and small helpers."""
    run: str
    out_dir: str
    in_run: bool
    quiet: bool
    seed: int
    cfg: object = None
    recipe: object = None
    state: object = None
    written: list = dataclasses.field(default_factory=list)

    def path(self, name: str) -> str:
        p = os.path.join(self.out_dir, name)
        self.written.append(p)
        return p

    def save_json(self, name: str, obj) -> str:
        path = self.path(name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, default=_jsonable)
        os.replace(tmp, path)
        return path

    def progress(self, iterable, desc: str, total: int | None = None):
        from tqdm.auto import tqdm
        return tqdm(iterable, desc=desc, total=total, leave=False, disable=True if self.quiet else None)

    def finish(self) -> None:
        if self.in_run:
            from ganjax.report import write_html
            write_html(self.run)
        for p in self.written:
            print(f"wrote {p}")


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)


def open_run(run: str, output: str | None, step: int | None, seed: int, quiet: bool, validate) -> Context:
    """Read the config, validate the arguments against it (cheap), then restore the checkpoint."""
    from ganjax.inference import load_run
    from ganjax.train.workdir import load_config

    cfg = load_config(run)
    validate(cfg)
    _, recipe, state = load_run(run, step)
    run_abs = os.path.abspath(os.path.expanduser(run))
    default = os.path.join(run_abs, "figures")
    out = os.path.abspath(os.path.expanduser(output)) if output else default
    os.makedirs(out, exist_ok=True)
    return Context(run_abs, out, out == default, quiet, seed, cfg, recipe,
                   state.replace(opt_state=None))
