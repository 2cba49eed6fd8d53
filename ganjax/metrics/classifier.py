"""A small CNN classifier trained on the real data of a run, whose features measure generated digits."""
from __future__ import annotations

import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ganjax.train.checkpoint import load_tree, save_tree
from ganjax.data import to_float


class Classifier(nn.Module):
    num_classes: int = 10

    @nn.compact
    def __call__(self, x):
        """(features (N, 128), logits (N, K))."""
        for ch in (32, 64):
            x = nn.relu(nn.Conv(ch, (3, 3))(x))
            x = nn.max_pool(x, (2, 2), (2, 2))
        h = nn.relu(nn.Dense(128)(x.reshape(x.shape[0], -1)))
        return h, nn.Dense(self.num_classes)(h)


def train_classifier(images_u8: np.ndarray, labels: np.ndarray, num_classes: int, steps: int,
                     seed: int = 0, batch: int = 128, progress: bool | None = False):
    """Params of a Classifier fitted to (images, labels) with Adam; small random shifts for robustness.
    progress: a tqdm bar on stderr (None: only when stderr is a terminal; False: none)."""
    from tqdm import tqdm

    model = Classifier(num_classes)
    key = jax.random.PRNGKey(seed)
    params = model.init(key, jnp.zeros((1,) + images_u8.shape[1:]))["params"]
    tx = optax.adam(1e-3)
    data, lab = jnp.asarray(images_u8), jnp.asarray(labels)

    @jax.jit
    def step(params, opt, k):
        k1, k2 = jax.random.split(k)
        idx = jax.random.randint(k1, (batch,), 0, data.shape[0])
        x = jnp.roll(to_float(data[idx]), jax.random.randint(k2, (2,), -1, 2), axis=(1, 2))

        def loss_fn(p):
            _, logits = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, lab[idx]).mean()

        upd, opt = tx.update(jax.grad(loss_fn)(params), opt, params)
        return optax.apply_updates(params, upd), opt

    # A Python loop over a jitted step: XLA:CPU runs convolutions inside lax.scan far slower.
    opt = tx.init(params)
    bar = tqdm(total=steps, disable=True if progress is False else None, unit="step", dynamic_ncols=True,
               desc="eval classifier", leave=False)
    every = 10  # wait for the device every few steps so that the bar shows work done, not work queued
    for i, k in enumerate(jax.random.split(key, steps)):
        params, opt = step(params, opt, k)
        if (i + 1) % every == 0 or i + 1 == steps:
            jax.block_until_ready(params)
            bar.update(i + 1 - bar.n)
    bar.close()
    return params


def cached_classifier(cache_dir: str, images_u8, labels, num_classes: int, steps: int,
                      progress: bool | None = False):
    """Train once and keep the params (orbax, not pickle) in `cache_dir`. Unless progress is False, training
    announces itself in one line on stderr and shows a bar (see train_classifier)."""
    model = Classifier(num_classes)
    abstract = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                                 jnp.zeros((1,) + images_u8.shape[1:]))["params"])
    if os.path.isdir(cache_dir):
        return model, load_tree(cache_dir, abstract)
    if progress is not False:
        print(f"training the evaluation classifier ({steps} steps on {len(images_u8)} real images; once: "
              f"cached in {cache_dir})", file=sys.stderr, flush=True)
    params = train_classifier(images_u8, labels, num_classes, steps, progress=progress)
    save_tree(cache_dir, params)
    return model, params


def embed(model, params, images: np.ndarray, batch: int = 500):
    """(features (N, 128), class probabilities (N, K)) of float images in [-1, 1]."""
    @jax.jit
    def f(x):
        h, logits = model.apply({"params": params}, x)
        return h, jax.nn.softmax(logits)

    outs = [f(jnp.asarray(images[i:i + batch])) for i in range(0, len(images), batch)]
    return np.concatenate([np.asarray(o[0]) for o in outs]), np.concatenate([np.asarray(o[1]) for o in outs])
