"""A trained run from Python: open it, generate images, translate images.

    import ganjax
    run = ganjax.load_run("runs/dcgan")              # the latest checkpoint
    images = ganjax.generate(run, 16)                 # (16, 28, 28, 1) float32 in [-1, 1]
    run = ganjax.load_run("runs/tone")
    out = ganjax.translate(run, photo)                # uint8 (H, W, 3) photo of any size → the same size

The CLI verbs sample / eval / explain / translate open runs through `load_run` too.
"""
from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax
import numpy as np

from ganjax import recipes
from ganjax.errors import UsageError
from ganjax.train.checkpoint import CheckpointError, Checkpoints
from ganjax.train.workdir import load_config


class Run(NamedTuple):
    """A run folder opened at one checkpoint: its config, its recipe (models and hooks) and its state.
    A tuple, so `cfg, recipe, state = load_run(path)` works too."""
    cfg: Any
    recipe: Any
    state: Any

    @property
    def step(self) -> int:
        return int(self.state.step)


def load_run(run_dir: str, step: int | None = None) -> Run:
    """The run in `run_dir` at checkpoint `step` (default: the latest)."""
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
    return Run(cfg, recipe, state)


def sample_images(recipe, state, n: int, seed: int = 0, batch: int = 256) -> np.ndarray:
    """(n, H, W, C) float images in [-1, 1] from an unconditional generator, generated in batches."""
    if not hasattr(recipe, "noise"):
        raise UsageError(f"this run ({recipe.cfg.experiment}) has no unconditional generator; "
                         f"use ganjax translate")
    sample = jax.jit(recipe.sample)
    keys = jax.random.split(jax.random.PRNGKey(seed), (n + batch - 1) // batch)
    out = [np.asarray(sample(state, recipe.noise(k, batch))) for k in keys]
    return np.concatenate(out)[:n]


def generate(run: Run, n: int, seed: int = 0) -> np.ndarray:
    """`n` images from a DCGAN run, float32 (n, H, W, C) in [-1, 1] (`ganjax.data.to_uint8` for pixels)."""
    if n <= 0:
        raise UsageError(f"n must be positive, got {n}")
    return sample_images(run.recipe, run.state, n, seed)


def translate(run: Run, images, direction: str = "AtoB", mode: str = "auto"):
    """Translate uint8 (H, W, C) images of any size with a CycleGAN / pix2pix run (G_A for AtoB, G_B for
    BtoA); one image in, one out; a list in, a list out. `mode`: auto | resize | tile
    (ganjax/image_translation.py)."""
    from ganjax.image_translation import translate_image

    cfg, recipe, state = run
    if cfg.experiment not in recipes.TRANSLATION:
        raise UsageError(f"this is a {cfg.experiment} run; translate needs a cyclegan or pix2pix run")
    if direction not in ("AtoB", "BtoA") or (direction == "BtoA" and cfg.experiment == "pix2pix"):
        raise UsageError(f"direction {direction} is not available for a {cfg.experiment} run "
                         f"(cyclegan: AtoB or BtoA; pix2pix: AtoB)")
    fn = translator_fn(run, direction)
    single = isinstance(images, np.ndarray) and images.ndim == 3
    out = [translate_image(fn, _as_channels(np.asarray(im), recipe.channels), recipe.crop, mode, recipe.recombine)
           for im in ([images] if single else images)]
    return out[0] if single else out


def translator_fn(run: Run, direction: str):
    """The run's generator as a function of crop² float batches in [-1, 1] (compiled once)."""
    translate = jax.jit(run.recipe.translator(direction))
    return lambda x: translate(run.state, x)


def _as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3:
        raise UsageError(f"translate takes uint8 (H, W, C) images, got {image.dtype} of shape {image.shape}")
    if image.shape[-1] == channels:
        return image
    if image.shape[-1] == 1 and channels == 3:
        return np.repeat(image, 3, axis=-1)
    raise UsageError(f"this run translates {channels}-channel images, got {image.shape[-1]} channels")
