"""Full-reference image metrics (PSNR, SSIM) for NHWC batches, in jittable jnp.

Both return one value per image, shape ``(N,)``, and follow scikit-image:

* ``psnr`` equals ``skimage.metrics.peak_signal_noise_ratio(b, a, data_range=...)``
  per image (MSE over H, W and C); identical images give ``+inf``.
* ``ssim`` equals ``skimage.metrics.structural_similarity(a, b, data_range=...,
  channel_axis=-1, gaussian_weights=..., sigma=..., win_size=...,
  use_sample_covariance=..., K1=..., K2=...)`` per image, i.e. the mean over
  channels of each channel's mean SSIM map after cropping ``(win_size-1)//2``
  pixels from every border.

The default ``data_range=2.0`` is for images in [-1, 1] (generator outputs);
use 1.0 for [0, 1] or 255.0 for uint8 values. Computation is in float32 (or the
inputs' wider float type); agreement with skimage's float64 is about 1e-6.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

_TRUNCATE = 3.5  # skimage's structural_similarity uses truncate=3.5 with gaussian weights


def _float(x: Array) -> Array:
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def psnr(a: Array, b: Array, data_range: float = 2.0) -> Array:
    """Peak signal-to-noise ratio in dB of each image pair; ``(N, H, W, C) -> (N,)``.

    ``10 * log10(data_range**2 / MSE)``; ``+inf`` where the images are equal.
    """
    a, b = _float(a), _float(b)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"psnr needs two NHWC arrays of one shape, got {a.shape} and {b.shape}")
    mse = jnp.mean((a - b) ** 2, axis=(1, 2, 3))
    return 10.0 * jnp.log10(data_range ** 2 / mse)


def _filter_taps(gaussian_weights: bool, sigma: float, win_size: int) -> np.ndarray:
    """1-D taps of scipy's ``gaussian_filter1d`` (radius ``int(3.5*sigma + 0.5)``) or uniform filter."""
    if not gaussian_weights:
        return np.full(win_size, 1.0 / win_size)
    radius = int(_TRUNCATE * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * x ** 2 / sigma ** 2)
    return w / w.sum()


def _filter_2d(x: Array, taps: np.ndarray) -> Array:
    """Separable same-size filter over axes 1 and 2 with scipy's ``mode='reflect'``.

    scipy's 'reflect' repeats the edge sample (numpy's 'symmetric'). The taps are
    applied as shifted slices, so no convolution (and no TF32) is involved.
    """
    r = len(taps) // 2
    x = jnp.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
    h, w = x.shape[1] - 2 * r, x.shape[2] - 2 * r
    x = sum(float(t) * x[:, k:k + h] for k, t in enumerate(taps))
    return sum(float(t) * x[:, :, k:k + w] for k, t in enumerate(taps))


def ssim(a: Array, b: Array, data_range: float = 2.0, gaussian_weights: bool = True,
         sigma: float = 1.5, win_size: int | None = 11, use_sample_covariance: bool = False,
         K1: float = 0.01, K2: float = 0.03) -> Array:
    """Mean structural similarity of each image pair; ``(N, H, W, C) -> (N,)``.

    Args mirror ``skimage.metrics.structural_similarity``. With gaussian weights the
    filter is a Gaussian of std ``sigma`` truncated at ``3.5 * sigma`` (11 taps for
    1.5); ``win_size`` only sets the border crop and, with
    ``use_sample_covariance``, the ``NP / (NP - 1)`` factor (``NP = win_size**2``).
    ``win_size=None`` picks skimage's default (11 for sigma 1.5, 7 for a uniform
    window). H and W must be at least ``win_size``.
    """
    a, b = _float(a), _float(b)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim needs two NHWC arrays of one shape, got {a.shape} and {b.shape}")
    if win_size is None:
        win_size = 2 * int(_TRUNCATE * sigma + 0.5) + 1 if gaussian_weights else 7
    if win_size % 2 != 1:
        raise ValueError(f"win_size must be odd, got {win_size}")
    if min(a.shape[1:3]) < win_size:
        raise ValueError(f"win_size {win_size} exceeds the image size {a.shape[1:3]}")
    taps = _filter_taps(gaussian_weights, sigma, win_size)
    n_px = win_size ** 2
    cov_norm = n_px / (n_px - 1) if use_sample_covariance else 1.0

    c = a.shape[-1]
    stats = _filter_2d(jnp.concatenate([a, b, a * a, b * b, a * b], axis=-1), taps)
    ux, uy, uxx, uyy, uxy = (stats[..., i * c:(i + 1) * c] for i in range(5))
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    s_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    s_map = s_map[:, pad:s_map.shape[1] - pad, pad:s_map.shape[2] - pad]
    return jnp.mean(s_map, axis=(1, 2, 3))
