"""Adversarial losses, penalties, and reconstruction / style terms. All pure functions of arrays.

Adversarial losses take D's logits on real and generated images and return scalar means:
`d_loss(real_logits, fake_logits)` and `g_loss(fake_logits)`. The original article's pair is
`nonsaturating`: L_D = −log D(x) − log(1 − D(G(z))), L_G = −log D(G(z)), computed from logits with
softplus (log D = −softplus(−l), log(1 − D) = −softplus(l)) — never a sigmoid followed by a with-logits loss.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Adversarial(NamedTuple):
    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    g_loss: Callable[[jax.Array], jax.Array]


def _mean(x):
    return jnp.mean(x.astype(jnp.float32))


def d_logistic(real, fake):
    """−log σ(real) − log(1 − σ(fake)), the discriminator loss of the original GAN."""
    return _mean(jax.nn.softplus(-real)) + _mean(jax.nn.softplus(fake))


def g_nonsaturating(fake):
    """−log σ(fake)."""
    return _mean(jax.nn.softplus(-fake))


def g_minimax(fake):
    """log(1 − σ(fake)), minimised (the saturating original objective)."""
    return -_mean(jax.nn.softplus(fake))


def d_hinge(real, fake):
    return _mean(jax.nn.relu(1.0 - real)) + _mean(jax.nn.relu(1.0 + fake))


def g_hinge(fake):
    return -_mean(fake)


def d_least_squares(real, fake):
    """(D(x) − 1)² + D(G(z))², as in LSGAN and the CycleGAN reference's MSE-to-target."""
    return _mean(jnp.square(real - 1.0)) + _mean(jnp.square(fake))


def g_least_squares(fake):
    return _mean(jnp.square(fake - 1.0))


def d_wasserstein(real, fake):
    return _mean(fake) - _mean(real)


def g_wasserstein(fake):
    return -_mean(fake)


ADVERSARIAL = {
    "nonsaturating": Adversarial(d_logistic, g_nonsaturating),
    "minimax": Adversarial(d_logistic, g_minimax),
    "hinge": Adversarial(d_hinge, g_hinge),
    "least_squares": Adversarial(d_least_squares, g_least_squares),
    "wgan_gp": Adversarial(d_wasserstein, g_wasserstein),
}


def adversarial(name: str) -> Adversarial:
    if name not in ADVERSARIAL:
        raise ValueError(f"unknown loss {name!r}; valid: {', '.join(ADVERSARIAL)}")
    return ADVERSARIAL[name]


def _sq_grad_norm(d_fn, x):
    g = jax.grad(lambda v: jnp.sum(d_fn(v)))(x)
    return jnp.sum(jnp.square(g.astype(jnp.float32)).reshape(x.shape[0], -1), axis=1)


def r1_penalty(d_fn, real):
    """E‖∇ₓD(x)‖² on real images (Mescheder et al.); weight it by γ/2."""
    return jnp.mean(_sq_grad_norm(d_fn, real))


def gradient_penalty(d_fn, real, fake, key):
    """WGAN-GP: E(‖∇D(x̂)‖ − 1)² at random interpolates x̂ between real and fake images."""
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))
    x_hat = eps * real + (1.0 - eps) * fake
    return jnp.mean(jnp.square(jnp.sqrt(_sq_grad_norm(d_fn, x_hat) + 1e-12) - 1.0))


def l1(a, b):
    return _mean(jnp.abs(a - b))


def l2(a, b):
    """Mean squared error: its minimiser is the conditional mean (what PSNR rewards); L1's is the median."""
    return _mean(jnp.square(a - b))


def gram(features):
    """Gram matrix (N, C, C) of NHWC features, normalised by H·W·C."""
    n, h, w, c = features.shape
    f = features.reshape(n, h * w, c).astype(jnp.float32)
    return jnp.einsum("npc,npd->ncd", f, f) / (h * w * c)


def style_loss(feats_a, feats_b):
    """Σ over layers of the mean squared difference of Gram matrices (Gatys et al.)."""
    return sum(_mean(jnp.square(gram(a) - gram(b))) for a, b in zip(feats_a, feats_b))


def feature_matching(feats_a, feats_b):
    """Feature matching (Salimans et al. 2016): Σ over layers of the mean squared difference of the features'
    means over the batch and positions. It compares the two *sets*, so it sees what a discriminator judging
    one image at a time misses, such as the batch's distribution of levels."""
    mean = lambda f: jnp.mean(f.astype(jnp.float32), axis=tuple(range(f.ndim - 1)))
    return sum(_mean(jnp.square(mean(a) - mean(b))) for a, b in zip(feats_a, feats_b))


def histogram_matching(a, b):
    """Per-channel histogram loss: the mean |difference| of the sorted pixel values of two NHWC batches of
    equal size, channel by channel — the 1-D Wasserstein-1 distance between their level distributions
    (after Risser et al. 2017's histogram loss). Like feature matching it compares the two *sets*; it pins the
    tone curve, which a discriminator judging one image at a time cannot see."""
    if a.shape != b.shape:
        raise ValueError(f"histogram_matching needs batches of one shape, got {a.shape} and {b.shape}")
    flat = lambda x: jnp.sort(x.astype(jnp.float32).reshape(-1, x.shape[-1]), axis=0)
    return jnp.mean(jnp.abs(flat(a) - flat(b)))


def level_histogram(x, bins: int = 256):
    """(bins, C): the share of an NHWC batch's pixel values (in [-1, 1]) in each of `bins` equal bins, per channel."""
    flat = x.astype(jnp.float32).reshape(-1, x.shape[-1])
    idx = jnp.clip(jnp.floor((flat + 1.0) * (bins / 2.0)).astype(jnp.int32), 0, bins - 1)
    counts = jnp.zeros((bins, flat.shape[1]), jnp.float32).at[idx, jnp.arange(flat.shape[1])].add(1.0)
    return counts / flat.shape[0]


def level_quantiles(images, num: int = 256) -> np.ndarray:
    """(num, C) float32: quantiles 0, 1/(num-1), ..., 1 of every pixel value of a uint8 NHWC set, on [-1, 1]
    (host; the target levels of `histogram_specification`)."""
    flat = np.asarray(images).reshape(-1, np.shape(images)[-1]).astype(np.float32) / 127.5 - 1.0
    return np.quantile(flat, np.linspace(0.0, 1.0, num), axis=0).astype(np.float32)


def histogram_specification(x, hist, levels):
    """Mean |x − sg(T(x))|, T(x) = the target's level at x's rank: T = Q∘F, F the CDF of `hist` ((bins, C) on
    [-1, 1], a running histogram of the source x comes from) and Q the quantile function given by `levels`
    ((K, C), e.g. `level_quantiles` of the target domain). Classical histogram specification as a loss: each
    pixel is pulled to the level that the same rank holds in the target, so it is zero once the source's
    distribution is the target's, whatever one batch holds — unlike `histogram_matching`, whose batch-vs-batch
    targets move with the content of the two batches."""
    bins, c = hist.shape
    cdf = jnp.concatenate([jnp.zeros((1, c)), jnp.cumsum(hist, axis=0)]) / jnp.maximum(jnp.sum(hist, 0), 1e-12)
    edges = jnp.linspace(-1.0, 1.0, bins + 1)
    ranks = jnp.linspace(0.0, 1.0, levels.shape[0])
    flat = x.astype(jnp.float32).reshape(-1, c)
    spec = lambda v, f, q: jnp.interp(jnp.interp(v, edges, f), ranks, q)
    target = jax.vmap(spec, in_axes=(1, 1, 1), out_axes=1)(flat, cdf, levels.astype(jnp.float32))
    return jnp.mean(jnp.abs(flat - jax.lax.stop_gradient(target)))


def content_loss(feats_a, feats_b):
    """Σ over layers of the mean squared feature difference."""
    return sum(_mean(jnp.square(a.astype(jnp.float32) - b.astype(jnp.float32))) for a, b in zip(feats_a, feats_b))
