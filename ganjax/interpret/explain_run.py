"""`ganjax explain` and `ganjax attack` as functions: validate the options against the run, then run one
analysis (interpret/*_report.py) and write its figures (PNG) and numbers (JSON / CSV) to RUN/figures/ (or
`output`); when they go to the run's own figures/ folder, report.html is rewritten so they show up there.
Nothing else in the run changes.
"""
from __future__ import annotations

import importlib

from ganjax.errors import UsageError
from ganjax.interpret.context import TRANSLATION, image_shape, open_run
from ganjax.interpret.targets import parse_eps, parse_target


WHATS = ("discriminator", "generator", "translator", "layers", "latent")


METHODS = ("ig", "saliency", "gradxinput", "smoothgrad")


IMAGE_BASELINES = ("black", "blur", "noise", "mean", "zeros")


LATENT_BASELINES = ("zeros", "mean")


SIGNS = ("absolute_value", "positive", "negative", "all")


REPORTS = {"discriminator": "discriminator_report", "generator": "generator_report",
           "translator": "translator_report", "layers": "layer_report", "latent": "latent_report"}
DEFAULT_N = {"discriminator": 16, "generator": 8, "translator": 4, "layers": 256, "latent": 8}


def _choice(value, valid, flag):
    if value not in valid:
        raise UsageError(f"unknown {flag} {value!r}; valid: {', '.join(valid)}")
    return value


def explain(run: str, what: str = "discriminator", method: str = "ig", n: int | None = None,
            baseline: str | None = None, steps: int = 256, layer: str | None = None,
            target: str | None = None, sign: str | None = None, outlier_perc: float = 2.0,
            output: str | None = None, step: int | None = None, seed: int = 0,
            quiet: bool = False, ema: bool = True) -> dict:
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

    ctx = open_run(run, output, step, seed, quiet, validate, ema)
    opts = dict(method=method, n=n, baseline=baseline, steps=steps, layer=layer, sign=sign,
                outlier_perc=outlier_perc, target=parsed.get("target"))
    module = importlib.import_module(f"ganjax.interpret.{REPORTS[what]}")
    result = getattr(module, f"explain_{what}")(ctx, **opts)
    ctx.finish()
    return result


def attack(run: str, method: str = "pgd", eps: str = "0.01,0.03,0.1", norm: str = "linf",
           iters: int = 10, n: int = 256, output: str | None = None, step: int | None = None,
           seed: int = 0, quiet: bool = False, ema: bool = True) -> dict:
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

    ctx = open_run(run, output, step, seed, quiet, validate, ema)
    from ganjax.interpret.attack_report import run_attack

    result = run_attack(ctx, method, eps_list, norm, iters, n)
    ctx.finish()
    return result
