"""Differentiable augmentation (Zhao et al. 2020, "DiffAugment"): the same random transforms applied to real
and generated images before D sees them, in D's update and in G's, so that D cannot memorise a small training
set and G's gradient passes through the transform. The policies and magnitudes are the paper's code's
(translation by up to 1/8 of the size with zero padding, a cutout square of half the size)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

def parse_policy(policy: str) -> tuple[str, ...]:
    """"translation,cutout" → ("translation", "cutout"); "" → (); an unknown name → ValueError."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    bad = [p for p in names if p not in POLICIES]
    if bad:
        raise ValueError(f"unknown augmentation {bad[0]!r}; choose from {', '.join(POLICIES)} (comma-separated)")
    return names


def translation(key, x, ratio: float = 0.125):
    """Each image shifted by a random whole number of pixels in [-s, s] (s = round(ratio · size)) on each axis;
    what is uncovered is 0."""
    n, h, w, _ = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ky, kx = jax.random.split(key)
    dy = jax.random.randint(ky, (n,), -sy, sy + 1)
    dx = jax.random.randint(kx, (n,), -sx, sx + 1)
    padded = jnp.pad(x, ((0, 0), (sy, sy), (sx, sx), (0, 0)))
    crop = lambda img, oy, ox: jax.lax.dynamic_slice(img, (oy, ox, 0), (h, w, img.shape[-1]))
    return jax.vmap(crop)(padded, sy - dy, sx - dx)


def cutout(key, x, ratio: float = 0.5):
    """A square of side round(ratio · size) at a random centre in each image set to 0."""
    n, h, w, _ = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ky, kx = jax.random.split(key)
    cy = jax.random.randint(ky, (n, 1, 1), 0, h + (1 - ch % 2))
    cx = jax.random.randint(kx, (n, 1, 1), 0, w + (1 - cw % 2))
    ys, xs = jnp.arange(h)[None, :, None], jnp.arange(w)[None, None, :]
    inside = ((ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw))
    return jnp.where(inside[..., None], jnp.zeros((), x.dtype), x)


def augment(key, x, policies: tuple[str, ...]):
    """x with each policy of `policies` applied in order (independent randomness per image)."""
    for i, name in enumerate(policies):
        x = POLICIES[name](jax.random.fold_in(key, i), x)
    return x


POLICIES = {"translation": translation, "cutout": cutout}  # name -> transform(key, x)
