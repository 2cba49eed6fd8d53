"""Latent-space tools for generators: interpolation, GANSpace-style directions, direction strips.

``g_apply_fn`` maps latents ``(N, latent_dim)`` to images ``(N, H, W, C)`` (e.g.
``lambda z: G.apply(params, z)``).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


def interpolate(z0, z1, n: int, method: str = "slerp"):
    """``n`` points from ``z0`` to ``z1`` (endpoints included), stacked on a new leading axis.

    ``z0``/``z1`` have shape ``(..., latent_dim)``; ``slerp`` follows the great circle between the
    directions (White, 2016) and falls back to linear for (anti)parallel vectors.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if method not in ("slerp", "linear"):
        raise ValueError(f"method must be 'slerp' or 'linear', got {method!r}")
    z0, z1 = jnp.asarray(z0), jnp.asarray(z1)
    t = jnp.linspace(0.0, 1.0, n, dtype=z0.dtype).reshape((n,) + (1,) * z0.ndim)
    linear = (1.0 - t) * z0 + t * z1
    if method == "linear":
        return linear
    u0 = z0 / jnp.linalg.norm(z0, axis=-1, keepdims=True)
    u1 = z1 / jnp.linalg.norm(z1, axis=-1, keepdims=True)
    omega = jnp.arccos(jnp.clip(jnp.sum(u0 * u1, axis=-1, keepdims=True), -1.0, 1.0))
    so = jnp.sin(omega)
    safe = jnp.where(so < 1e-6, 1.0, so)
    slerp = (jnp.sin((1.0 - t) * omega) * z0 + jnp.sin(t * omega) * z1) / safe
    out = jnp.where(so < 1e-6, linear, slerp)
    # pin the endpoints exactly (sin(ω)/sin(ω) can be off by an ulp)
    return out.at[0].set(z0).at[-1].set(z1)


def _batched(fn: Callable, z: np.ndarray, batch: int) -> np.ndarray:
    jfn = jax.jit(fn)
    return np.concatenate([np.asarray(jfn(jnp.asarray(z[s:s + batch])), np.float64)
                           .reshape(min(batch, len(z) - s), -1) for s in range(0, len(z), batch)])


def principal_directions(g_apply_fn: Callable | None, key, latent_dim: int, n_samples: int = 2000,
                         n_components: int = 10, layer_fn: Callable | str | None = None,
                         batch: int = 256):
    """GANSpace-style principal directions (Härkönen et al., 2020).

    Samples ``z ~ N(0, I)``.  With ``layer_fn=None`` the PCA is taken over the latents themselves and
    the directions are orthonormal.  With ``layer_fn`` (``z -> features``; ``"output"`` means the
    generated images, via ``g_apply_fn``) the PCA is taken over the features, and, as GANSpace does,
    each sample's PCA coordinates are regressed back onto ``z`` by least squares; the resulting latent
    directions are normalised to unit length (not necessarily orthogonal).

    Returns ``(directions (n_components, latent_dim), explained_variance_ratio (n_components,))``,
    the ratio being that of the PCA space (latents or features).
    """
    z = np.asarray(jax.random.normal(key, (n_samples, latent_dim)), np.float64)
    if layer_fn is None:
        feats = z
    else:
        fn = g_apply_fn if layer_fn == "output" else layer_fn
        if fn is None:
            raise ValueError("layer_fn='output' needs g_apply_fn")
        feats = _batched(fn, z.astype(np.float32), batch)
    k = min(n_components, *feats.shape)
    centred = feats - feats.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    ratio = (s ** 2 / np.sum(s ** 2))[:k]
    if layer_fn is None:
        return vt[:k].astype(np.float32), ratio.astype(np.float32)
    coords = centred @ vt[:k].T                      # (n, k) PCA coordinates of each sample
    u, *_ = np.linalg.lstsq(coords, z, rcond=None)   # z ≈ coords @ u, rows of u are directions
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    return u.astype(np.float32), ratio.astype(np.float32)


def direction_strips(g_apply_fn: Callable, z, directions, sigmas):
    """Images of ``z + σ · d`` for each direction ``d`` and offset ``σ``.

    ``z`` is one latent ``(latent_dim,)`` (or ``(1, latent_dim)``), ``directions`` is
    ``(n_dirs, latent_dim)`` and ``sigmas`` ``(n_steps,)``.  Returns ``(n_dirs, n_steps, H, W, C)``.
    """
    z = jnp.asarray(z).reshape(-1)
    d = jnp.asarray(directions, z.dtype)
    s = jnp.asarray(sigmas, z.dtype)
    lat = z[None, None, :] + s[None, :, None] * d[:, None, :]
    imgs = jax.jit(g_apply_fn)(lat.reshape(-1, z.shape[0]))
    return imgs.reshape((d.shape[0], s.shape[0]) + imgs.shape[1:])
