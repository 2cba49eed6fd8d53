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
    generator: str = "raw"  # "EMA" or "raw": the generator whose images (and translations) are analysed
    written: list = dataclasses.field(default_factory=list)

    def path(self, name: str) -> str:
        p = os.path.join(self.out_dir, name)
        self.written.append(p)
        return p

    def save_json(self, name: str, obj) -> str:
        path = self.path(name)
        if isinstance(obj, dict):
            obj = {**obj, "generator": self.generator}
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
        print(f"generator: {self.generator}" + (" (--raw for the trained generator itself)"
                                                if self.generator == "EMA" else ""))
        for p in self.written:
            print(f"wrote {p}")


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)


def open_run(run: str, output: str | None, step: int | None, seed: int, quiet: bool, validate,
             ema: bool = True) -> Context:
    """Read the config, validate the arguments against it (cheap), then restore the checkpoint."""
    from ganjax.inference import load_run
    from ganjax.train.workdir import load_config

    from ganjax.train.workdir import check_writable, reading

    cfg = load_config(run)
    with reading(run):
        validate(cfg)
    run_abs = os.path.abspath(os.path.expanduser(run))
    default = os.path.join(run_abs, "figures")
    out = os.path.abspath(os.path.expanduser(output)) if output else default
    check_writable(out, "the figures go there; give --output FOLDER somewhere writable")  # before any work
    opened = load_run(run, step, ema)
    os.makedirs(out, exist_ok=True)
    return Context(run_abs, out, out == default, quiet, seed, cfg, opened.recipe,
                   opened.state.replace(opt_state=None), opened.generator)
