"""Resuming a run: which checkpoint, what the run folder must agree with, and settings changed since.

Numbers that live in the state rather than in the compiled program — the optimizers' injected lr / b1 / b2
(optax.inject_hyperparams) and state.hp (loss weights, the EMA's numbers) — are taken from the config a run
is resumed with: `apply_settings` writes them into the restored state, and `wd.write_config` records each
changed key in config.json's "changes" with the step from which it holds. So config.json always says what the
state does. (A change that alters the state's structure, e.g. optim.*.decay_start from 1 to below 1, adds an
optimizer stage: that restore is refused naming the changed keys.)
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.train import workdir as wd
from ganjax.train.checkpoint import CheckpointCorrupt, CheckpointMismatch


def settings_of(recipe) -> dict:
    """The numbers of `recipe`'s config that a state carries: {"hp": {...}, "opt": {side: [hyperparams of
    each inject_hyperparams stage, in tree order]}} (cheap: optimizers initialised on a one-number tree)."""
    hp = {k: np.float32(v) for k, v in {**recipe.hparams(), **recipe.ema_hparams()}.items()}
    opt = {side: [dict(s.hyperparams) for s in _injected(tx.init({"x": jnp.zeros((), jnp.float32)}))]
           for side, tx in recipe.optimizers().items()}
    return {"hp": hp, "opt": opt}


def _is_injected(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "hyperparams") and hasattr(x, "inner_state")


def _injected(opt_state) -> list:
    return [x for x in jax.tree_util.tree_leaves(opt_state, is_leaf=_is_injected) if _is_injected(x)]


def apply_settings(state, settings: dict):
    """`state` with its hp and its optimizers' injected hyperparameters set to `settings` (settings_of), each
    array keeping its dtype and sharding. Keys a state does not have are left alone."""
    def put(old, value):
        value = np.asarray(value, dtype=old.dtype).reshape(old.shape) if np.ndim(value) == 0 else value
        sharding = getattr(old, "sharding", None)
        return jax.device_put(value, sharding) if sharding is not None else jnp.asarray(value)

    hp = dict(state.hp) if isinstance(state.hp, dict) else state.hp
    if isinstance(hp, dict):
        for k, v in settings["hp"].items():
            if k in hp:
                hp[k] = put(hp[k], v)
    opt_state = dict(state.opt_state) if isinstance(state.opt_state, dict) else state.opt_state
    for side, wanted in settings["opt"].items():
        if not isinstance(opt_state, dict) or side not in opt_state:
            continue
        stages = iter(wanted)

        def one(x):
            if not _is_injected(x):
                return x
            new = next(stages, None)
            if new is None:
                return x
            return x._replace(hyperparams={k: put(v, new[k]) if k in new else v for k, v in x.hyperparams.items()})
        opt_state[side] = jax.tree_util.tree_map(one, opt_state[side], is_leaf=_is_injected)
    return state.replace(hp=hp, opt_state=opt_state)


def restore_for_training(ckpts, abstract, workdir: str, cfg, say, set_aside: bool = True):
    """The state to resume from, or None for a fresh start.

    Falls back past damaged checkpoints to the newest one that restores (each named in a warning; they are
    renamed to checkpoints/STEP.damaged — kept, not deleted — since training writes those steps again).
    Refuses — never silently restarts — when checkpoints/ holds none but metrics.jsonl says training went
    well past the first checkpoint, and names the changed keys when the checkpoint no longer fits the config."""
    if not ckpts.all_steps():
        check_history(workdir, cfg.train.ckpt_every, has_checkpoint=False)
        return None

    def skipped(step, message):
        say(f"warning: {message}; resuming from an earlier checkpoint (step {step} is kept as "
            f"checkpoints/{step}.damaged)")

    try:
        state, bad = ckpts.restore_latest(abstract, warn=skipped)
    except CheckpointMismatch as e:
        changed = _changed_keys(workdir, cfg)
        if changed:
            raise CheckpointMismatch(f"{e}: changed since the run started: {', '.join(changed[:4])}; resume with "
                                     f"the run's values (see its config.json) or use another --workdir") from None
        raise
    except CheckpointCorrupt as e:
        raise CheckpointCorrupt(f"{e}; nothing was changed (move the damaged checkpoints away to start over)") \
            from None
    for step in bad if set_aside else ():
        ckpts.set_aside(step)
    return state


def check_history(workdir: str, ckpt_every: int, has_checkpoint: bool | None = None) -> None:
    """Refuse to start over a run whose metrics.jsonl goes well past the first checkpoint when checkpoints/
    holds none (deleted, emptied): a kill before the first checkpoint was complete logs at most 2 x ckpt_every
    steps. has_checkpoint None: judged from the folder names alone (before checkpoints/ is opened, which
    creates it)."""
    if has_checkpoint is None:
        has_checkpoint = wd.latest_checkpoint_step(workdir) > 0
    if has_checkpoint:
        return
    logged = wd.last_logged_step(os.path.join(workdir, "metrics.jsonl"))
    if logged > 2 * ckpt_every:
        raise wd.RunFolderError(
            f"{workdir}: metrics.jsonl records training up to step {logged}, but checkpoints/ holds no "
            f"checkpoint; starting again would discard that history (use another --workdir, or move "
            f"metrics.jsonl away to start this run over)")


def _changed_keys(workdir: str, cfg) -> list[str]:
    import json

    from ganjax import config as config_lib

    try:
        old = wd.read_config_json(os.path.join(workdir, "config.json"))
    except (OSError, wd.RunFolderError):
        return []
    new = json.loads(config_lib.to_json(cfg))
    return [k for key in sorted(set(old) | set(new)) if key not in (wd.CHANGES, "config_file")
            for k, _, _ in wd._differences(key, old.get(key, "(absent)"), new.get(key, "(absent)"))]


def announce(workdir: str, cfg, step: int, fresh: bool, say) -> bool:
    """Say what this start does, and write config.json (with its changes) unless the run is already complete.
    Returns whether there is training to do."""
    steps = cfg.train.steps
    old_steps = None
    path = os.path.join(workdir, "config.json")
    if os.path.isfile(path):
        old_steps = wd._get_strict(wd.read_config_json(path), "train.steps")
    if not fresh and step >= steps:
        say(f"already complete at step {step}; raise --config.train.steps to continue")
        return False
    changes = wd.write_config(workdir, cfg, step)
    shown = [f"{k} {_short(a)} -> {_short(b)}" for k, a, b in changes if k != "train.steps"]
    if not fresh:
        say(f"resuming from step {_n(step)} of {_n(steps)}")
    if not fresh and isinstance(old_steps, int) and old_steps != steps:
        verb = "extending" if steps > old_steps else "shortening"
        say(f"{verb} the run from {_n(old_steps)} to {_n(steps)} steps")
    if shown:
        say(f"from step {step} on: {'; '.join(shown[:4])}{' ...' if len(shown) > 4 else ''} (recorded in "
            f"config.json's \"changes\")")
    return True


def _n(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _short(v) -> str:
    return "(absent)" if v == "(absent)" else wd._short(v)
