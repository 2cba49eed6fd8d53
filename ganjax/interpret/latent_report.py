"""`ganjax explain --what latent`: slerp interpolations and GANSpace-style principal directions of G's latent
space.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.errors import UsageError
from ganjax.interpret import plots
from ganjax.interpret.run_inputs import layer_shapes, net_variables


N_PCA = 1000  # latent samples for the GANSpace PCA (the full G runs on each: ~10 s on a busy 2-core CPU)


def explain_latent(ctx, method, n, baseline, steps, layer, sign, outlier_perc, target, n_dirs=6):
    """Slerp interpolation grid and GANSpace-style principal directions of G's latent space."""
    from ganjax.interpret.features import capture
    from ganjax.interpret.latent import direction_strips, interpolate

    recipe, st = ctx.recipe, ctx.state
    g_mod, gv = recipe.modules["g"], net_variables(ctx, "g", "g")
    k0, k1, k2 = jax.random.split(jax.random.PRNGKey(ctx.seed + 31), 3)
    z0, z1 = recipe.noise(k0, n), recipe.noise(k1, n)
    dim = z0.shape[1]
    g = functools.partial(_sample, recipe=recipe, st=st)
    steps_i = 9
    path = interpolate(z0, z1, steps_i)                               # (steps, n, dim)
    imgs = np.asarray(jax.jit(g)(path.reshape(-1, dim))).reshape(steps_i, n, *recipe.sample(
        st, z0[:1]).shape[1:]).swapaxes(0, 1)
    ts = np.linspace(0, 1, steps_i)
    plots.strip_grid(ctx.path("explain_latent_interpolation.png"), imgs, None,
                     [f"pair {i}" for i in range(n)], [f"t={t:.2f}" for t in ts], None,
                     "Spherical interpolation between random latent pairs (t = 0 → 1)")
    names = list(layer_shapes(g_mod, gv, z0[:1]))
    layer = layer or "output"  # G's first layer (GANSpace's BigGAN choice) is linear in z here: flat spectrum
    if layer not in names + ["output"]:
        raise UsageError(f"unknown layer {layer!r} of the generator; valid: {', '.join(names + ['output'])}")
    feat = ("output" if layer == "output" else
            (lambda zz: capture(g_mod, gv, zz, train=False)[layer].reshape(zz.shape[0], -1)))
    dirs, ratio = ganspace(g if feat == "output" else feat, k2, dim, N_PCA, n_dirs)
    sigmas = np.linspace(-3, 3, 7)
    strips = np.asarray(direction_strips(g, z0[0], dirs, sigmas))
    plots.strip_grid(ctx.path("explain_latent_directions.png"), strips, None,
                     [f"PC{i + 1} ({r:.1%})" for i, r in enumerate(ratio)], [f"{s:+g}" for s in sigmas],
                     None, f"GANSpace-style principal directions: PCA of G's {layer} over {N_PCA} samples "
                     "(% = variance explained),\nregressed onto z; one sample moved by the offset on top "
                     "along each unit direction")
    summary = {"what": "latent", "n": n, "layer": layer, "explained_variance_ratio": ratio.tolist(),
               "sigmas": sigmas.tolist()}
    print("principal directions, variance explained: " + ", ".join(f"PC{i + 1} {r:.1%}"
                                                                    for i, r in enumerate(ratio)))
    ctx.save_json("explain_latent.json", summary)
    return summary


def ganspace(feat_fn, key, latent_dim: int, n_samples: int, k: int, batch: int = 250):
    """interpret.latent.principal_directions with a randomized SVD of the top ``k`` components only.

    Same result (up to sign and randomized-SVD accuracy): PCA of ``feat_fn(z)`` over ``z ~ N(0, I)``,
    PCA coordinates regressed back onto ``z``, directions normalised.  The full SVD of 2000 x 6272
    features took over a minute on a busy 2-core CPU; this takes seconds.
    """
    from sklearn.utils.extmath import randomized_svd

    z = np.asarray(jax.random.normal(key, (n_samples, latent_dim)), np.float32)
    fn = jax.jit(feat_fn)
    feats = np.concatenate([np.asarray(fn(jnp.asarray(z[s:s + batch]))).reshape(len(z[s:s + batch]), -1)
                            for s in range(0, n_samples, batch)]).astype(np.float64)
    centred = feats - feats.mean(0)
    k = min(k, *centred.shape)
    _, sv, vt = randomized_svd(centred, k, n_iter=6, random_state=0)
    ratio = sv ** 2 / max(float(np.sum(centred ** 2)), 1e-30)
    u, *_ = np.linalg.lstsq(centred @ vt.T, z.astype(np.float64), rcond=None)
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    return u.astype(np.float32), ratio.astype(np.float32)


def _sample(z, recipe, st):
    return recipe.sample(st, z)
