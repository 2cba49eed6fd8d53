"""Sweep members: expand `sweep(add)`, classify what differs, and plan which members share a program.

A member is the experiment's config with the member's overrides applied (dotted keys, as on the command
line). Members that differ only in *numbers that are data* can be stacked on a leading axis and trained by
`jax.vmap` of one step:

  seed                      the state's PRNG key and initial parameters (recipe.init_state(seed))
  optim.<side>.lr | b1 | b2 Adam's injected hyperparameters, held in the optimizer state (train/optim.py)
  loss.<name>               a loss weight the recipe keeps in state.hp (recipe.hparams(), same value)
  ema.kimg | ema.rampup     the generator EMA's numbers, in state.hp (recipe.ema_hparams(); kimg = 0 is
                            beta = 0, not a switch)

Every other key is structural (architecture, image size, batch size, data, loss choice, steps, ...):
members that differ in one run as separate programs. A number can still switch code on or off (a loss
weight of 0 drops its term: `r1_gamma > 0`), so members that look stackable are also traced: those whose
steps trace to different programs are split, and the split names the key.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

import jax

from ganjax import config as config_lib
from ganjax import recipes
from ganjax.config import ConfigError
from ganjax.errors import UsageError

SEED = "seed"
OPTIMIZER_FIELDS = ("lr", "b1", "b2")  # the numbers make_optimizer injects into the optimizer state
STACK_MODES = ("auto", "require", "none")


class SweepError(ConfigError):
    """A sweep that cannot run as asked; one line."""


@dataclasses.dataclass
class Member:
    index: int
    name: str                  # member_003: its run folder inside the sweep folder
    overrides: dict            # {dotted key: value} from sweep(add)
    cfg: Any                   # the locked ConfigDict with base and member overrides applied


@dataclasses.dataclass
class Program:
    """Members trained together by one compiled, vmapped step."""
    members: list
    note: str = ""             # why these members are not in the previous program (empty for the first)
    data: Any = None           # the host data dict, loaded once (identical for all members: data is structural)
    kind: tuple = ()           # programs of one kind have the same step: they share compiled functions


# -- expanding sweep(add) ------------------------------------------------------------------------------
def expand(spec: str, overrides=()) -> list[Member]:
    """The members of `spec`'s sweep(add), each a full config (base `overrides` first, then the member's)."""
    path, _, arg = spec.partition(":")
    module = config_lib.load_module(path)
    fn = getattr(module, "sweep", None)
    if not callable(fn):
        raise SweepError(f"{path} defines no sweep(add); add one that calls add(**{{'optim.g.lr': 1e-4}}) "
                         f"per member")
    added: list[dict] = []

    def add(mapping: dict | None = None, **kw):
        member = {**(mapping or {}), **kw}
        added.append({(k[len("config."):] if k.startswith("config.") else k): v for k, v in member.items()})

    config_lib.load(spec, overrides)  # a bad command-line override is reported as itself, not per member
    if len(inspect.signature(fn).parameters) >= 2:
        fn(add, arg or None)
    else:
        fn(add)
    if not added:
        raise SweepError(f"{path}: sweep(add) added no members")
    members = []
    width = max(3, len(str(len(added) - 1)))
    for i, ov in enumerate(added):
        try:
            cfg = config_lib.load(spec, list(overrides) + list(ov.items()))
        except ConfigError as e:
            raise SweepError(f"sweep member {i} {_fmt(ov)}: {e}") from None
        members.append(Member(i, f"member_{i:0{width}d}", ov, cfg))
    seen = {}
    for m in members:
        key = json.dumps(m.overrides, sort_keys=True, default=str)
        if key in seen:
            raise SweepError(f"sweep members {seen[key]} and {m.index} are the same: {_fmt(m.overrides)}")
        seen[key] = m.index
    return members


def _fmt(overrides: dict) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in overrides.items()) + "}"


# -- classification ------------------------------------------------------------------------------------
def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def classify(cfg, key: str) -> str:
    """How `key` reaches the compiled step: "seed", "optimizer", "loss weight", "ema" (data) or "structural"."""
    try:
        value = _get(cfg, key)
    except (KeyError, AttributeError, TypeError):
        return "structural"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "structural"
    parts = key.split(".")
    if key == SEED:
        return "seed"
    if len(parts) == 3 and parts[0] == "optim" and parts[2] in OPTIMIZER_FIELDS:
        return "optimizer"
    if len(parts) == 2 and parts[0] == "loss":
        hp = recipes.build(cfg).hparams()
        if parts[1] in hp and float(hp[parts[1]]) == float(value):
            return "loss weight"
    if len(parts) == 2 and parts[0] == "ema":
        hp = recipes.build(cfg).ema_hparams()
        if f"ema_{parts[1]}" in hp and float(hp[f"ema_{parts[1]}"]) == float(value):
            return "ema"
    return "structural"


def swept_keys(members: list[Member]) -> list[str]:
    """The keys any member overrides, in order of first appearance."""
    keys: list[str] = []
    for m in members:
        keys += [k for k in m.overrides if k not in keys]
    return keys


def stackable_keys(members: list[Member]) -> set[str]:
    """Swept keys that are data in every member."""
    return {k for k in swept_keys(members) if all(classify(m.cfg, k) != "structural" for m in members)}


def structure(member: Member, data_keys: set[str]) -> str:
    """The member's config with its data-like swept keys removed: equal strings = same structure."""
    d = member.cfg.to_dict()
    for key in data_keys:
        *parents, leaf = key.split(".")
        node = d
        for p in parents:
            node = node[p]
        node.pop(leaf, None)
    return json.dumps(d, sort_keys=True, default=str)


def structural_difference(a: Member, b: Member, data_keys: set[str] = frozenset()) -> str:
    """The first swept key (else any config key), not in data_keys, in which two members' configs differ,
    as 'key (x vs y)'."""
    from ganjax.config import all_keys

    keys = [k for k in swept_keys([a, b]) if k in all_keys(a.cfg)]
    keys = [k for k in keys + [k for k in all_keys(a.cfg) if k not in keys] if k not in data_keys]
    for k in keys:
        try:
            va, vb = _get(a.cfg, k), _get(b.cfg, k)
        except (KeyError, AttributeError):
            return k
        if va != vb:
            return f"{k} ({va} vs {vb})"
    return "the config"


def step_program(cfg, data_shapes, abstract_state) -> str:
    """The jaxpr of one train step of `cfg` with its numbers as data: equal text = one program."""
    from ganjax.train.steps import train_step

    recipe = recipes.build(cfg)
    txs = recipe.optimizers()
    return str(jax.make_jaxpr(lambda s, d: train_step(recipe, txs, s, d))(abstract_state, data_shapes))


# -- planning ------------------------------------------------------------------------------------------
def check_devices(devices: int) -> list:
    available = jax.devices()
    if devices < 1:
        raise UsageError(f"--devices must be at least 1, got {devices}")
    if devices > len(available):
        hint = (" (to try it on CPU: XLA_FLAGS=--xla_force_host_platform_device_count=8)"
                if available[0].platform == "cpu" else "")
        raise UsageError(f"--devices {devices} asked, but only {len(available)} {available[0].platform} "
                         f"device(s) exist{hint}")
    return available[:devices]


def plan(members: list[Member], stack: str = "auto", members_per_program: int | None = None,
         devices: int = 1) -> list[Program]:
    """Split members into programs: by structure, by traced step, then in chunks of members_per_program."""
    if stack not in STACK_MODES:
        raise UsageError(f"--stack is {stack!r}; valid: {', '.join(STACK_MODES)}")
    if members_per_program is not None:
        if members_per_program < 1:
            raise UsageError(f"--members-per-program must be at least 1, got {members_per_program}")
        if stack == "none" and members_per_program > 1:
            raise UsageError(f"--stack=none trains members one by one; it cannot take --members-per-program "
                             f"{members_per_program}")
        if members_per_program % devices:
            raise UsageError(f"--members-per-program {members_per_program} must be a multiple of --devices "
                             f"{devices} (each device trains the same number of members)")
    data_keys = stackable_keys(members)
    groups: dict[str, list[Member]] = {}
    for m in members:
        groups.setdefault(structure(m, data_keys), []).append(m)
    groups_list = list(groups.values())
    if stack == "require" and len(groups_list) > 1:
        a, b = groups_list[0][0], groups_list[1][0]
        raise SweepError(f"--stack=require: {b.name} cannot share a program with {a.name}: "
                         f"{structural_difference(a, b, data_keys)} is structural (only seed, optim.*.lr/b1/b2, "
                         f"loss weights and ema.kimg/rampup stack)")
    programs: list[Program] = []
    for gi, group in enumerate(groups_list):
        data = recipes.build(group[0].cfg).device_data()  # bad data fails here, before any folder is touched
        split = _split_by_step(group, data_keys, data)
        if stack == "require" and len(split) > 1:
            a, b = split[0][0][0], split[1][0][0]
            raise SweepError(f"--stack=require: {b.name} cannot share a program with {a.name}: "
                             f"{split[1][1]} changes the compiled step")
        for si, (part, why) in enumerate(split):
            if si:
                note = f"{why} changes the compiled step"
            else:
                note = (f"{structural_difference(groups_list[0][0], part[0], data_keys)} is structural" if gi
                        else "")
            size = 1 if stack == "none" else members_per_program or len(part)
            again = "--stack=none" if stack == "none" else f"--members-per-program {members_per_program}"
            for ci in range(0, len(part), size):
                programs.append(Program(part[ci: ci + size], note if ci == 0 else again, data, kind=(gi, si)))
    return programs


def _split_by_step(group: list[Member], data_keys: set[str], data) -> list[tuple[list[Member], str]]:
    """Members of one structure, split where their traced steps differ ([(members, why), ...])."""
    if len(group) == 1:
        return [(group, "")]
    recipe = recipes.build(group[0].cfg)
    shapes = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), data)
    abstract = jax.eval_shape(lambda: recipe.init_state(group[0].cfg.seed))
    numbers = lambda m: tuple((k, _get(m.cfg, k)) for k in sorted(data_keys) if k != SEED)
    programs: dict[tuple, str] = {}
    parts: dict[str, list[Member]] = {}
    for m in group:
        key = numbers(m)
        if key not in programs:
            programs[key] = step_program(m.cfg, shapes, abstract)
        parts.setdefault(programs[key], []).append(m)
    out = []
    first = group[0]
    for i, part in enumerate(parts.values()):
        diff = [f"{k} ({_get(first.cfg, k)} vs {_get(part[0].cfg, k)})" for k in sorted(data_keys)
                if k != SEED and _get(first.cfg, k) != _get(part[0].cfg, k)]
        out.append((part, ", ".join(diff) if i else ""))
    return out
