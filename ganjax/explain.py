"""`ganjax explain` and `ganjax attack`: interpretability figures of a trained run.

Figures (PNG) and numbers (JSON / CSV) go to RUN/figures/ (or --output DIR); when they go to the run's
own figures/ folder, report.html is rewritten so they show up there.  Nothing else in the run changes.
The work lives in ganjax/interpret/commands.py (attributions: discriminator, generator, translator),
ganjax/interpret/model_commands.py (layers, latent, attack) and the figures in ganjax/interpret/plots.py.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re

import numpy as np

from ganjax.errors import UsageError

WHATS = ("discriminator", "generator", "translator", "layers", "latent")
METHODS = ("ig", "saliency", "gradxinput", "smoothgrad")
IMAGE_BASELINES = ("black", "blur", "noise", "mean", "zeros")
LATENT_BASELINES = ("zeros", "mean")
SIGNS = ("absolute_value", "positive", "negative", "all")
TRANSLATION = ("cyclegan", "pix2pix")
DEFAULT_N = {"discriminator": 16, "generator": 8, "translator": 4, "layers": 256, "latent": 8}
TARGET_FORMS = '"region:y0:y1,x0:x1", "pixel:y,x" or "channel:c"'


@dataclasses.dataclass(frozen=True)
class Target:
    """A scalar of an image: the mean over a box of rows y0:y1, columns x0:x1 and channels c0:c1."""
    kind: str
    y0: int
    y1: int
    x0: int
    x1: int
    c0: int = 0
    c1: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "channel":
            return f"channel {self.c0}"
        if self.kind == "pixel":
            return f"pixel ({self.y0}, {self.x0})"
        return f"region rows {self.y0}:{self.y1}, cols {self.x0}:{self.x1}"

    def scalar(self, images):
        """Per-example mean of the target box of NHWC images, shape (B,)."""
        box = images[:, self.y0:self.y1, self.x0:self.x1, self.c0:self.c1]
        return box.reshape(box.shape[0], -1).mean(axis=1)


def parse_target(spec: str | None, size: int, channels: int) -> Target:
    """Parse --target for a (size x size x channels) image; UsageError says what is valid."""
    if spec is None:
        c = size // 2
        h = max(1, size // 8)
        return Target("region", c - h, c + h, c - h, c + h)
    s = spec.replace(" ", "")
    m_reg = re.fullmatch(r"region:(\d+):(\d+),(\d+):(\d+)", s)
    m_pix = re.fullmatch(r"pixel:(\d+),(\d+)", s)
    m_ch = re.fullmatch(r"channel:(\d+)", s)
    if m_reg:
        y0, y1, x0, x1 = map(int, m_reg.groups())
        if not (y0 < y1 <= size and x0 < x1 <= size):
            raise UsageError(f"--target {spec!r} is outside the {size}x{size} image or empty; rows and "
                             f"columns must satisfy 0 <= y0 < y1 <= {size}, 0 <= x0 < x1 <= {size}")
        return Target("region", y0, y1, x0, x1)
    if m_pix:
        y, x = map(int, m_pix.groups())
        if not (y < size and x < size):
            raise UsageError(f"--target {spec!r} is outside the {size}x{size} image; "
                             f"use 0 <= y, x < {size}")
        return Target("pixel", y, y + 1, x, x + 1)
    if m_ch:
        c = int(m_ch.group(1))
        if c >= channels:
            raise UsageError(f"--target {spec!r}: the image has {channels} channel(s); use 0..{channels - 1}")
        return Target("channel", 0, size, 0, size, c, c + 1)
    raise UsageError(f"cannot parse --target {spec!r}; use {TARGET_FORMS}")


def parse_eps(text: str) -> list[float]:
    try:
        eps = [float(e) for e in text.split(",") if e.strip()]
    except ValueError:
        raise UsageError(f"cannot parse --eps {text!r}; use comma-separated numbers such as "
                         f"0.01,0.03,0.1") from None
    if not eps:
        raise UsageError("--eps is empty; use comma-separated numbers such as 0.01,0.03,0.1")
    bad = [e for e in eps if not e >= 0 or not np.isfinite(e)]
    if bad:
        raise UsageError(f"--eps must be >= 0 (finite, in [-1, 1] image units), got {bad[0]:g}")
    return sorted(set(eps) | {0.0})


def _choice(value, valid, flag):
    if value not in valid:
        raise UsageError(f"unknown {flag} {value!r}; valid: {', '.join(valid)}")
    return value


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


def _open(run: str, output: str | None, step: int | None, seed: int, quiet: bool, validate) -> Context:
    """Read the config, validate the arguments against it (cheap), then restore the checkpoint."""
    from ganjax.runs import load_run
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


def explain(run: str, what: str = "discriminator", method: str = "ig", n: int | None = None,
            baseline: str | None = None, steps: int = 64, layer: str | None = None,
            target: str | None = None, sign: str | None = None, outlier_perc: float = 2.0,
            output: str | None = None, step: int | None = None, seed: int = 0,
            quiet: bool = False) -> dict:
    """Run one `ganjax explain` analysis; returns its numbers (also written as JSON / CSV)."""
    _choice(what, WHATS, "--what")
    _choice(method, METHODS, "--method")
    if sign is not None:
        _choice(sign, SIGNS, "--sign")
    sign = sign or ("absolute_value" if method == "saliency" else "all")
    n = DEFAULT_N[what] if n is None else n
    if n < 1 or (what == "layers" and n < 8):
        raise UsageError(f"--n must be >= {8 if what == 'layers' else 1} for --what {what}, got {n}")
    if steps < 1:
        raise UsageError(f"--steps must be >= 1, got {steps}")
    if not 0 <= outlier_perc < 100:
        raise UsageError(f"--outlier-perc must be in [0, 100), got {outlier_perc:g}")
    if layer is not None and what in ("discriminator", "translator") and method != "ig":
        raise UsageError(f"--layer needs --method ig (layer integrated gradients), got --method {method}")
    parsed = {}

    def validate(cfg):
        is_tr = cfg.experiment in TRANSLATION
        valid = ("translator",) if is_tr else tuple(w for w in WHATS if w != "translator")
        if what not in valid:
            raise UsageError(f"--what {what} does not apply to this {cfg.experiment} run; "
                             f"valid: {', '.join(valid)}")
        latent = what == "generator"
        valid_b = LATENT_BASELINES if latent else IMAGE_BASELINES
        if baseline is not None:
            _choice(baseline, valid_b, "--baseline" + (" for --what generator" if latent else ""))
        size, channels = image_shape(cfg)
        if what in ("generator", "translator"):
            parsed["target"] = parse_target(target, size, channels)
        elif target is not None:
            raise UsageError(f"--target applies to --what generator or translator, not {what}")

    ctx = _open(run, output, step, seed, quiet, validate)
    from ganjax.interpret import commands, model_commands

    opts = dict(method=method, n=n, baseline=baseline, steps=steps, layer=layer, sign=sign,
                outlier_perc=outlier_perc, target=parsed.get("target"))
    module = model_commands if what in ("layers", "latent") else commands
    result = getattr(module, f"explain_{what}")(ctx, **opts)
    ctx.finish()
    return result


def attack(run: str, method: str = "pgd", eps: str = "0.01,0.03,0.1", norm: str = "linf",
           iters: int = 10, n: int = 256, output: str | None = None, step: int | None = None,
           seed: int = 0, quiet: bool = False) -> dict:
    """`ganjax attack`: D's accuracy under FGSM / PGD for each ε (in [-1, 1] image units)."""
    _choice(method, ("fgsm", "pgd"), "--method")
    _choice(norm, ("linf", "l2"), "--norm")
    if method == "fgsm" and norm != "linf":
        raise UsageError("--method fgsm is an L-infinity attack; use --norm linf, or --method pgd for l2")
    eps_list = parse_eps(eps)
    if iters < 1:
        raise UsageError(f"--iters must be >= 1, got {iters}")
    if n < 2:
        raise UsageError(f"--n must be >= 2, got {n}")

    def validate(cfg):
        if cfg.experiment in TRANSLATION:
            raise UsageError(f"attack needs an unconditional GAN run (dcgan); this is a {cfg.experiment} run")

    ctx = _open(run, output, step, seed, quiet, validate)
    from ganjax.interpret import model_commands

    result = model_commands.run_attack(ctx, method, eps_list, norm, iters, n)
    ctx.finish()
    return result
