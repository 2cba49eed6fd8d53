"""`ganjax sample`: N generated images from a run's checkpoint, as PNG files, one grid image, or one uint8 .npz
array."""
from __future__ import annotations

import os

import jax
import numpy as np

from ganjax.data import to_uint8
from ganjax.errors import UsageError
from ganjax.report import save_grid, save_png
from ganjax.runs import load_run


def generate(recipe, state, n: int, seed: int = 0, batch: int = 256) -> np.ndarray:
    """(n, H, W, C) float images in [-1, 1], generated in batches."""
    if not hasattr(recipe, "noise"):
        raise UsageError(f"this run ({recipe.cfg.experiment}) has no unconditional generator; "
                         f"use ganjax translate")
    sample = jax.jit(recipe.sample)
    keys = jax.random.split(jax.random.PRNGKey(seed), (n + batch - 1) // batch)
    out = [np.asarray(sample(state, recipe.noise(k, batch))) for k in keys]
    return np.concatenate(out)[:n]


def sample_run(run: str, n: int, output: str, step: int | None = None, seed: int = 0) -> str:
    if n <= 0:
        raise UsageError(f"--n must be positive, got {n}")
    _, recipe, state = load_run(run, step)
    images = to_uint8(generate(recipe, state, n, seed))
    ext = os.path.splitext(output)[1].lower()
    if ext in (".npz", ".png", ".jpg", ".jpeg"):  # one file: the array, or all samples as one grid image
        if os.path.exists(output):
            raise FileExistsError(f"{output} exists; choose another --output")
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        if ext == ".npz":
            np.savez_compressed(output, images=images)
        else:
            save_grid(images, output)
        return output
    os.makedirs(output, exist_ok=True)
    width = max(5, len(str(n - 1)))
    paths = [os.path.join(output, f"sample_{i:0{width}d}.png") for i in range(n)]
    taken = [p for p in paths if os.path.exists(p)]
    if taken:
        raise FileExistsError(f"{taken[0]} exists; choose an empty --output folder")
    for p, im in zip(paths, images):
        save_png(im, p)
    return output
