"""Experiment configs: load `experiments/NAME.py[:arg]`, apply dotted overrides, validate.

An experiment file defines `get_config(arg=None)` returning an `ml_collections.ConfigDict`, and may define
`sweep(add)`. `arg` is the text after the colon in `experiments/NAME.py:runlocal,steps=10`; `parse_arg`
turns it into a ConfigDict of typed values (the big_vision convention).

A config file is Python and is executed when loaded: run only configs you trust.
"""
from __future__ import annotations

from ganjax.errors import GanjaxError, UsageError

import ast
import contextlib
import fnmatch
import math
import re
import traceback
import difflib
import importlib.util
import json
import os
from typing import Any, Iterable

import ml_collections


class ConfigError(GanjaxError, ValueError):
    """A config problem the user must fix; its message is one line."""


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
    """Parse "runlocal,steps=10" into ConfigDict(runlocal=True, steps=10); keys must be in `defaults`."""
    out = ml_collections.ConfigDict(dict(defaults))
    for item in filter(None, (arg or "").split(",")):
        key, eq, text = item.partition("=")
        key = key.strip()
        if key not in defaults:
            raise ConfigError(f"unknown config argument {key!r}; valid: {', '.join(sorted(defaults)) or 'none'}")
        try:
            out[key] = _parse_value(text, defaults[key]) if eq else True
        except ValueError:
            raise ConfigError(f"config argument {key!r}: expected {type(defaults[key]).__name__}, "
                              f"got {text!r}") from None
    return out


def load_module(path: str):
    """Import an experiment file by path."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    name = "ganjax_experiment_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not path.endswith(".py"):
        raise ConfigError(f"{path} is not a config file: give a Python file defining get_config(arg=None), "
                          f"such as experiments/dcgan_mnist.py")
    module = importlib.util.module_from_spec(spec)
    with user_code(path):
        spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"{path} defines no get_config(arg=None)")
    return module


@contextlib.contextmanager
def user_code(path: str):
    """Run a config file's code: its errors become one ConfigError line naming the file and line
    (`experiments/x.py:12: invalid syntax`); ganjax's own errors raised inside pass through unchanged."""
    try:
        yield
    except GanjaxError:
        raise
    except SyntaxError as e:  # IndentationError too
        where = path if os.path.abspath(e.filename or path) == os.path.abspath(path) else e.filename
        raise ConfigError(f"{where}:{e.lineno}: {e.msg}") from e
    except Exception as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__)
                  if os.path.abspath(f.filename) == os.path.abspath(path)]
        line = f":{frames[-1].lineno}" if frames else ""
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ConfigError(f"{path}{line}: {type(e).__name__}{': ' + text if text else ''}") from e


def load(spec: str, overrides: Iterable[tuple[str, str]] = ()) -> ml_collections.ConfigDict:
    """Load `path[:arg]`, apply `(dotted_key, text)` overrides, lock and validate the result."""
    path, _, arg = spec.partition(":")
    module = load_module(path)
    with user_code(path):
        cfg = module.get_config(arg or None)
    if not isinstance(cfg, ml_collections.ConfigDict):
        raise ConfigError(f"{path}: get_config must return an ml_collections.ConfigDict")
    cfg.lock()
    with cfg.unlocked():
        cfg.config_file = f"{os.path.abspath(path)}{':' + arg if arg else ''}"
    apply_overrides(cfg, overrides)
    validate(cfg)
    return cfg


def all_keys(cfg: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in cfg.items():
        full = prefix + k
        keys.extend(all_keys(v, full + ".") if isinstance(v, ml_collections.ConfigDict) else [full])
    return keys


def apply_overrides(cfg: ml_collections.ConfigDict, overrides: Iterable[tuple[str, Any]]) -> None:
    """Set each dotted key; an unknown key or a value of the wrong type is a ConfigError naming the key."""
    for key, value in overrides:
        if not all(key.split(".")):
            raise ConfigError(f"config key {key!r} has an empty component; write e.g. train.steps")
        parent, _, leaf = key.rpartition(".")
        node = cfg
        try:
            for part in filter(None, parent.split(".")):
                node = node[part]
            if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
                raise KeyError(key)
        except (KeyError, AttributeError, TypeError):
            close = difflib.get_close_matches(key, all_keys(cfg), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint}") from None
        old = node[leaf]
        if isinstance(old, ml_collections.ConfigDict):
            raise ConfigError(f"config key {key!r} is a section; set one of its fields")
        try:
            node[leaf] = _parse_value(value, old) if isinstance(value, str) else value
        except (TypeError, ValueError):
            raise ConfigError(f"config key {key!r}: expected {type(old).__name__}, got {value!r}") from None


def _parse_value(text: str, old: Any) -> Any:
    """Parse command-line text into the type of the existing value."""
    text = text.strip()
    try:
        if isinstance(old, bool):
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(old, int):
            try:
                return int(text)  # exact, however large ("99999999999999999999"); ranges are validate's
            except ValueError:
                number = float(text)  # "1e3"; "nan", "inf" and "2.5" are not integers
                if not number.is_integer():
                    raise ValueError(text) from None
                return int(number)
        if isinstance(old, float):
            return float(text)
        if isinstance(old, str) or old is None:
            return text
        if isinstance(old, (tuple, list)):
            val = ast.literal_eval(text)
            return type(old)(val if isinstance(val, (tuple, list)) else (val,))
    except SyntaxError:
        raise ValueError(f"cannot read {text!r} as {type(old).__name__}") from None
    return ast.literal_eval(text)


class Range:
    """A number's valid interval: `lo`/`hi` (None = unbounded), open or closed ends, plus `extra` values
    (mesh.data's -1). `text` is how messages say it ("positive", ">= 0", "in [0, 1)")."""

    def __init__(self, lo=None, hi=None, lo_open=False, hi_open=False, extra=(), text=None):
        self.lo, self.hi, self.lo_open, self.hi_open, self.extra = lo, hi, lo_open, hi_open, tuple(extra)
        self.text = text or (f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
                             if lo is not None and hi is not None else
                             f"{'>' if lo_open else '>='} {lo}" if lo is not None else
                             f"{'<' if hi_open else '<='} {hi}")

    def holds(self, v) -> bool:
        if v in self.extra:
            return True
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)


SEED_LIMIT = 2 ** 31  # seeds are stacked as int32 in sweeps; jax.random.PRNGKey wraps silently from 2**32
POSITIVE_INT = Range(1, text="positive")
POSITIVE = Range(0, lo_open=True, text="positive")
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1)  # [0, 1]
FRACTION_BELOW_1 = Range(0, 1, hi_open=True)  # [0, 1)

# Every number of every experiment gets a range here: (fnmatch pattern over dotted keys, Range); the first
# pattern that matches a key decides (tests/test_config.py checks that each numeric key of experiments/*
# matches one). Besides these, every float anywhere must be finite and a few keys are choices.
RANGES: tuple[tuple[str, Range], ...] = (
    ("seed", Range(0, SEED_LIMIT, hi_open=True)),
    ("optim.*.lr", POSITIVE),
    ("optim.*.b1", FRACTION_BELOW_1),
    ("optim.*.b2", FRACTION_BELOW_1),
    ("optim.*.decay_start", FRACTION),        # fraction of train.steps after which the lr decays to 0
    ("data.holdout", FRACTION_BELOW_1),       # 1 would leave no training image
    ("data.limit", NON_NEGATIVE),             # 0 = all
    ("data.max_images", NON_NEGATIVE),        # 0 = all
    ("data.load_size", POSITIVE_INT),
    ("data.crop_size", POSITIVE_INT),
    ("model.image_size", POSITIVE_INT),
    ("model.latent_dim", POSITIVE_INT),
    ("model.*_width", POSITIVE_INT),
    ("model.ngf", POSITIVE_INT),
    ("model.ndf", POSITIVE_INT),
    ("model.n_blocks", NON_NEGATIVE),         # residual blocks (resnet generator)
    ("model.n_layers_d", POSITIVE_INT),
    ("model.pool_size", NON_NEGATIVE),        # 0 = no image history
    ("model.d_pack", POSITIVE_INT),           # PacGAN: images D judges at once (1 = one)
    ("model.d_mbstd", NON_NEGATIVE),          # minibatch stddev group size (0 = off)
    ("model.info_codes", NON_NEGATIVE),       # InfoGAN code categories (0 = off)
    ("model.clusters", NON_NEGATIVE),         # self-conditioning clusters (0 = off)
    ("loss.histogram_memory", FRACTION_BELOW_1),  # momentum of the running output histogram (0 = none)
    ("loss.*", NON_NEGATIVE),                 # loss weights: r1_gamma, gp_weight, lambda_*, style/content
    ("ema.*", NON_NEGATIVE),                  # half-life (0 = off) and ramp-up
    ("mesh.data", Range(1, extra=(-1,), text="positive or -1 (every device)")),
    ("train.batch_size", Range(1, SEED_LIMIT, hi_open=True, text=f"positive and below {SEED_LIMIT}")),  # batch indices are int32; memory: below
    ("train.steps", POSITIVE_INT),
    ("train.steps_per_dispatch", POSITIVE_INT),
    ("train.log_every", POSITIVE_INT),
    ("train.sample_every", POSITIVE_INT),
    ("train.ckpt_every", POSITIVE_INT),
    ("train.keep", POSITIVE_INT),             # checkpoints kept; 0 would delete every one
    ("train.num_sample_grid", POSITIVE_INT),
    ("eval.num_samples", POSITIVE_INT),
    ("eval.classifier_steps", POSITIVE_INT),
)
CHOICES = {"model.dtype": ("float32", "bfloat16"), "train.on_nan": ("stop", "restore"),
           "model.channels": (1, 3), "data.channels": (1, 3), "loss.recon": ("l1", "l2"),
           "loss.cycle_space_A": ("rgb", "luma"), "loss.cycle_space_B": ("rgb", "luma")}


def range_of(key: str) -> Range | None:
    """The Range that RANGES gives `key`, or None."""
    return next((r for pattern, r in RANGES if fnmatch.fnmatchcase(key, pattern)), None)


def validate(cfg: ml_collections.ConfigDict) -> None:
    """Every number in its declared range (RANGES), finite, choices valid, and a batch that can fit in
    memory; the first violation is a one-line ConfigError naming the key. ConfigDict enforces the types."""
    for key, value in flat(cfg).items():
        if key in CHOICES:
            check_choice(key, value, CHOICES[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {key!r} must be a finite number, got {value}")
        rule = range_of(key)
        if rule is not None and not rule.holds(value):
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            raise ConfigError(f"config key {key!r} must be {rule.text}, got {shown}")
    _check_batch_memory(cfg)


def _check_batch_memory(cfg) -> None:
    """Refuse a batch whose activations cannot fit in this machine's memory, before anything is written.

    A lower bound, so it never refuses a batch that fits: one float32 activation at the image's size
    (its channels) or at half of it (the widest layer's channels), for the batch's share of one data-
    parallel device, against the host's physical memory. Batches that pass may still exceed a GPU's memory;
    that is found when the step is compiled."""
    values = flat(cfg)
    g = lambda dotted, default=0: values.get(dotted, default)
    batch = g("train.batch_size")
    size = g("model.image_size") or g("data.crop_size")
    if not batch or not size:
        return
    channels = g("model.channels") or g("data.channels") or 1
    width = max([g(k) for k in ("model.g_width", "model.d_width", "model.ngf", "model.ndf")] + [1])
    devices = max(g("mesh.data", 1), 1)
    need = batch / devices * max(size * size * channels, (size // 2) ** 2 * width) * 4
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ConfigError(f"config key 'train.batch_size' is {batch}: one layer's activations alone need "
                          f"{need / 2 ** 30:,.0f} GiB per device, more than this machine's "
                          f"{have / 2 ** 30:,.0f} GiB of memory")


def check_seed(value: int, what: str = "seed") -> int:
    """`value` if it is a valid seed (0 <= seed < 2**31), else a UsageError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise UsageError(f"{what} must be an integer in [0, {SEED_LIMIT}), got {value}")
    return value


def seed_arg(text: str) -> int:
    """argparse `type=` for --seed: an integer in [0, 2**31) (argparse prints the one-line error)."""
    import argparse

    try:
        return check_seed(int(text))
    except (ValueError, GanjaxError):
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {SEED_LIMIT}), got {text!r}") from None


def check_choice(key: str, value, valid) -> None:
    """A ConfigError naming `key` and the valid values unless `value` is one of them."""
    if value not in valid:
        raise ConfigError(f"config key {key!r} is {value!r}; valid: {', '.join(map(str, valid))}")


def to_json(cfg: ml_collections.ConfigDict) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True, default=str)


def from_json(text: str) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict(json.loads(text))
    cfg.lock()
    return cfg


_ASSIGN = re.compile(r"^\s*c((?:\.[A-Za-z_]\w*)+)\s*=.*?#\s?(.*)$")
_COMMENT_ONLY = re.compile(r"^(\s*)#\s?(.*)$")
_ASSIGN_ANY = re.compile(r"^(\s*)c((?:\.[A-Za-z_]\w*)+)\s*=")
_ASSIGN_SUB = re.compile(r"^\s*c((?:\.[A-Za-z_]\w*)+)\[")


def key_comments(path: str) -> dict[str, str]:
    """{dotted key: comment} from an experiment file's `c.a.b = value  # comment` lines (a comment-only line
    right below, indented like the comment, continues it), and from the experiment files it loads with
    load_module (e.g. a sweep built on another experiment's config). Reads the text; runs nothing."""
    out: dict[str, str] = {}
    paths, seen = [os.path.abspath(path)], set()
    while paths:
        p = paths.pop()
        if p in seen or not os.path.isfile(p):
            continue
        seen.add(p)
        with open(p, encoding="utf-8") as f:
            lines = f.read().splitlines()
        last, depth, assigned = None, -1, set()
        for line in lines:
            m = _ASSIGN_ANY.match(line)
            c = _COMMENT_ONLY.match(line)
            sub = _ASSIGN_SUB.match(line)
            if sub:  # c.optim[side] = ...: every key below it is first assigned here, without a comment
                assigned.add(sub.group(1)[1:] + ".*")
            if m:  # only a key's first assignment describes it (later ones are e.g. the runlocal block's)
                key = m.group(2)[1:]
                first = key not in assigned and not any(key.startswith(a[:-1]) for a in assigned if a.endswith("*"))
                assigned.add(key)
                cm = _ASSIGN.match(line)
                last, depth = (key, len(m.group(1))) if first and cm and not _in_string(line, line.index("#")) else (None, -1)
                if last:
                    out.setdefault(last, cm.group(2).strip())
            elif c and last and (len(c.group(1)) > depth or line.lstrip().startswith("#  ")):
                out[last] += " " + c.group(2).strip()  # a comment continued below, indented past the code
            else:
                last = None
            for ref in re.findall(r"""["']([\w./-]+\.py)["']""", line):  # load_module(...dcgan_mnist.py")
                paths.append(os.path.join(os.path.dirname(p), os.path.basename(ref)))
    return out


def _in_string(line: str, index: int) -> bool:
    return line[:index].count('"') % 2 == 1 or line[:index].count("'") % 2 == 1


def flat(cfg: ml_collections.ConfigDict) -> dict[str, Any]:
    """{dotted key: value} of every leaf."""
    out = {}
    for k, v in cfg.items():
        if isinstance(v, ml_collections.ConfigDict):
            out.update({f"{k}.{kk}": vv for kk, vv in flat(v).items()})
        else:
            out[k] = v
    return out


def differences(cfg: ml_collections.ConfigDict, default: ml_collections.ConfigDict) -> dict[str, tuple]:
    """{dotted key: (value here, default value)} where `cfg` differs from `default` (config_file ignored)."""
    a, b = flat(cfg), flat(default)
    keys = [k for k in sorted(set(a) | set(b)) if k != "config_file"]
    return {k: (a.get(k), b.get(k)) for k in keys if _normal(a.get(k)) != _normal(b.get(k))}


def _normal(v):
    return list(v) if isinstance(v, (tuple, list)) else v
