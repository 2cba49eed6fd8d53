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
import warnings
from typing import Any

import jax
import numpy as np

from ganjax import recipes
from ganjax.errors import UsageError
from ganjax.train.checkpoint import CheckpointError, Checkpoints
from ganjax.train.workdir import load_config, reading


class Run:
    """A run folder opened at one checkpoint: its config, its recipe (models and hooks) and its state, whose
    generator is the one inference uses (`generator`: "EMA" or "raw"). Unpacks as `cfg, recipe, state`."""

    def __init__(self, cfg: Any, recipe: Any, state: Any, generator: str = "raw"):
        self.cfg, self.recipe, self.state, self.generator = cfg, recipe, state, generator

    def __iter__(self):
        return iter((self.cfg, self.recipe, self.state))

    def __getitem__(self, i):
        return (self.cfg, self.recipe, self.state)[i]

    def __len__(self) -> int:
        return 3

    @property
    def step(self) -> int:
        return int(self.state.step)

    def __repr__(self) -> str:
        return f"Run({self.cfg.experiment}, step {self.step}, {self.generator} generator)"


def load_run(run_dir: str, step: int | None = None, ema: bool = True) -> Run:
    """The run in `run_dir` at checkpoint `step` (default: the latest). ema=True: its generator is the EMA of
    the trained one where the run keeps one (config section `ema`), as papers sample; ema=False: the raw
    generator. `Run.generator` says which."""
    cfg = load_config(run_dir)
    with reading(run_dir):
        recipe = recipes.build(cfg)
        recipe.run_dir = run_dir  # files the run keeps beside its checkpoints (run_arrays)
        abstract = jax.eval_shape(recipe.init_state, cfg.seed)
    ckpt_dir = os.path.join(os.path.abspath(os.path.expanduser(run_dir)), "checkpoints")
    if os.path.lexists(ckpt_dir) and not os.path.isdir(ckpt_dir):
        raise CheckpointError(f"{ckpt_dir} is not a folder: the run folder is damaged")
    if not os.path.isdir(ckpt_dir):
        raise CheckpointError(f"{run_dir} has no checkpoints yet; train it first")
    ckpts = Checkpoints(ckpt_dir, read_only=True)
    try:
        if step is None and not ckpts.all_steps():
            raise CheckpointError(f"{run_dir} has no checkpoints yet; train it first")
        if step is None:  # the newest that restores: a damaged newer one is named in a warning, left as it is
            state, _ = ckpts.restore_latest(abstract, warn=lambda bad, msg: warnings.warn(
                f"{msg}; using the newest earlier checkpoint that restores"))
        else:
            state = ckpts.restore(abstract, step)
    finally:
        ckpts.close()
    return Run(cfg, recipe, recipe.inference_state(state, ema), recipe.generator_label(state, ema))


def sample_images(recipe, state, n: int, seed: int = 0, batch: int = 256, code: int | None = None) -> np.ndarray:
    """(n, H, W, C) float images in [-1, 1] from an unconditional generator, generated in batches. `code`: a
    run's latent code (model.clusters, model.info_codes) for every image (default: drawn as in training)."""
    if not hasattr(recipe, "noise"):
        raise UsageError(f"this run ({recipe.cfg.experiment}) has no unconditional generator; "
                         f"use ganjax translate")
    kw = {}
    if code is not None:
        codes = getattr(recipe, "codes", 0)
        if not codes:
            raise UsageError("--code needs a run trained with codes (model.info_codes or model.clusters > 0); this one "
                             "has none")
        if not 0 <= code < codes:
            raise UsageError(f"--code must be in 0..{codes - 1} (the run has {codes} codes), got {code}")
        kw["code"] = code
    sample = jax.jit(recipe.sample)
    keys = jax.random.split(jax.random.PRNGKey(seed), (n + batch - 1) // batch)
    out = [np.asarray(sample(state, recipe.noise(k, batch, **kw))) for k in keys]
    return np.concatenate(out)[:n]


def generate(run: Run, n: int, seed: int = 0, code: int | None = None) -> np.ndarray:
    """`n` images from a DCGAN run, float32 (n, H, W, C) in [-1, 1] (`ganjax.data.to_uint8` for pixels);
    `code`: the latent code of every image for runs with one (default: drawn as in training)."""
    if n <= 0:
        raise UsageError(f"n must be positive, got {n}")
    from ganjax.config import check_seed
    return sample_images(run.recipe, run.state, n, check_seed(seed), code=code)


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
