"""Open a finished (or running) run folder: its config, recipe and restored state."""
from __future__ import annotations

import os

import jax

from ganjax import recipes
from ganjax.checkpoint import CheckpointError, Checkpoints
from ganjax.train.workdir import load_config


def load_run(run_dir: str, step: int | None = None):
    """(cfg, recipe, state) of `run_dir` at checkpoint `step` (default: the latest)."""
    cfg = load_config(run_dir)
    recipe = recipes.build(cfg)
    ckpt_dir = os.path.join(os.path.abspath(os.path.expanduser(run_dir)), "checkpoints")
    if not os.path.isdir(ckpt_dir):
        raise CheckpointError(f"{run_dir} has no checkpoints yet; train it first")
    ckpts = Checkpoints(ckpt_dir, read_only=True)
    try:
        abstract = jax.eval_shape(recipe.init_state, cfg.seed)
        state = ckpts.restore(abstract, step)
    finally:
        ckpts.close()
    return cfg, recipe, state
