"""Experiment configs: load `experiments/NAME.py[:arg]`, apply dotted overrides, validate.

An experiment file defines `get_config(arg=None)` returning an `ml_collections.ConfigDict`, and may define
`sweep(add)`. `arg` is the text after the colon in `experiments/NAME.py:runlocal,steps=10`; `parse_arg`
turns it into a ConfigDict of typed values (the big_vision convention).

A config file is Python and is executed when loaded: run only configs you trust.
"""
from __future__ import annotations

from ganjax.errors import GanjaxError

import ast
import re
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
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"{path} defines no get_config(arg=None)")
    return module


def load(spec: str, overrides: Iterable[tuple[str, str]] = ()) -> ml_collections.ConfigDict:
    """Load `path[:arg]`, apply `(dotted_key, text)` overrides, lock and validate the result."""
    path, _, arg = spec.partition(":")
    cfg = load_module(path).get_config(arg or None)
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
            return int(float(text)) if float(text).is_integer() else int(text)
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


def validate(cfg: ml_collections.ConfigDict) -> None:
    """Checks that span several keys; single-key types are enforced by ConfigDict itself."""
    t = cfg.get("train")
    if t is None:
        return
    for name in ("steps", "batch_size", "steps_per_dispatch", "log_every", "ckpt_every", "sample_every"):
        if name in t and t[name] <= 0:
            raise ConfigError(f"config key 'train.{name}' must be positive, got {t[name]}")
    if "dtype" in cfg.get("model", {}):
        check_choice("model.dtype", cfg.model.dtype, ("float32", "bfloat16"))
    if "on_nan" in t:
        check_choice("train.on_nan", t.on_nan, ("stop", "restore"))


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
        last, column = None, -1
        for line in lines:
            m = _ASSIGN.match(line)
            c = _COMMENT_ONLY.match(line)
            if m and "#" in line and not _in_string(line, line.index("#")):
                last, column = m.group(1)[1:], line.index("#")
                out.setdefault(last, m.group(2).strip())
            elif c and last and len(c.group(1)) == column:
                out[last] += " " + c.group(2).strip()
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
