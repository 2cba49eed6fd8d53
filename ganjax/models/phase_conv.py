"""An exact phase-decomposed stride-2 transposed convolution (same parameters as `nn.ConvTranspose`).

A stride-2 transposed convolution first dilates its input with zeros, so three quarters of the products
of `lax.conv_transpose` are products with zero — and on XLA:CPU its weight gradient is a dilated
convolution, which is slow. Output pixel (2p + r, 2q + s) only ever meets the kernel taps of one parity
per axis, so the same result is four small stride-1 convolutions of the undilated input, one per output
phase (r, s), each with the sub-kernel K[t_r::2, t_s::2] (3x3, 3x2, 2x3 and 2x2 taps for k = 5),
interleaved into the (2H, 2W) output with depth_to_space (PixelShuffle channel order).

Derivation (one axis, flax padding (lo, hi) of the dilated input, lo + hi = k so that the output is 2n):
  y[o] = Σ_t K[t] · x[(o + t − lo) / 2]  over the t where o + t − lo is even.
  For o = 2p + r the taps are t = t0, t0 + 2, ... with t0 = (lo − r) mod 2, and tap t reads x[p + d] with
  d = (t − lo + r) / 2: a plain correlation of x, padded (L, m − 1 − L) with L = (lo − r − t0) / 2,
  with the m taps K[t0::2].

`PhaseConvTranspose` takes the parameters (names, shapes, initialisers) of `nn.ConvTranspose`, so a
checkpoint of one loads into the other; `PhaseGenerator` is the article's generator with it.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.dcgan import Generator
from ganjax.models.upsample import depth_to_space, same_pad


def phase_plan(kernel: int, lo: int, hi: int) -> list[tuple[int, tuple[int, int]]]:
    """Per output phase r ∈ {0, 1}: (first tap t0, (left pad, right pad)) of its stride-1 correlation."""
    if lo + hi != kernel:
        raise ValueError(f"phase decomposition needs an output of exactly 2n: lo + hi == kernel, got "
                         f"({lo}, {hi}) for kernel {kernel}")
    plan = []
    for r in (0, 1):
        t0 = (lo - r) % 2
        m = len(range(t0, kernel, 2))
        left = (lo - r - t0) // 2
        right = m - 1 - left
        if left < 0 or right < 0:
            raise ValueError(f"padding ({lo}, {hi}) of kernel {kernel} needs cropping; not supported")
        plan.append((t0, (left, right)))
    return plan


def phase_conv_transpose(x: jax.Array, kernel: jax.Array, padding, transpose_kernel: bool = False,
                         precision=None) -> jax.Array:
    """== lax.conv_transpose(x, kernel, (2, 2), padding, transpose_kernel=...) for NHWC x, HWIO kernel.

    `padding` is ((lo_h, hi_h), (lo_w, hi_w)) with lo + hi == kernel size on each axis.
    """
    if transpose_kernel:  # gradient-of-convolution semantics: flip spatially, swap in / out
        kernel = jnp.swapaxes(kernel[::-1, ::-1], 2, 3)
    kh, kw = kernel.shape[:2]
    plan_h, plan_w = phase_plan(kh, *padding[0]), phase_plan(kw, *padding[1])
    phases = []
    for t_h, pad_h in plan_h:
        for t_w, pad_w in plan_w:
            phases.append(jax.lax.conv_general_dilated(
                x, kernel[t_h::2, t_w::2], (1, 1), (pad_h, pad_w), precision=precision,
                dimension_numbers=("NHWC", "HWIO", "NHWC")))
    y = jnp.stack(phases, axis=-1)  # (N, H, W, C, 4), phase index r·2 + s: PixelShuffle's channel order
    return depth_to_space(y.reshape(*y.shape[:3], -1), 2)


class PhaseConvTranspose(nn.Module):
    """`nn.ConvTranspose(features, (k, k), strides=(2, 2), padding=padding)`, computed by phases."""
    features: int
    kernel_size: tuple[int, int]
    padding: Any
    use_bias: bool = True
    transpose_kernel: bool = False
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, x):
        in_features = x.shape[-1]
        shape = tuple(self.kernel_size) + ((self.features, in_features) if self.transpose_kernel
                                           else (in_features, self.features))
        kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = phase_conv_transpose(x, kernel, self.padding, self.transpose_kernel, self.precision)
        return y if bias is None else y + bias


def article_transpose_padding(k: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The padding upsample.Upsample gives nn.ConvTranspose (PyTorch's k, s2, p=k//2, output_padding 1)."""
    lo = k - 1 - k // 2 if k % 2 else k - 1 - (k // 2 - 1)
    return ((lo, lo + (1 if k % 2 else 0)),) * 2


class PhaseUpsample(nn.Module):
    """Upsample(method="conv_transpose") computed by phases; its layer is named ConvTranspose_0 too."""
    features: int
    kernel: int = 5
    use_bias: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        k = self.kernel
        return PhaseConvTranspose(self.features, (k, k), article_transpose_padding(k), self.use_bias,
                                  kernel_init=self.kernel_init, dtype=self.dtype, name="ConvTranspose_0")(x)


class PhaseGenerator(Generator):
    """The article's generator (models/dcgan.py) with phase upsampling; parameters identical in names and
    shapes to Generator(upsample="conv_transpose"), so the two share checkpoints."""

    @nn.compact
    def __call__(self, z, train: bool = True):
        base = self.image_size // 4
        x = nn.relu(nn.Dense(base * base * self.width, dtype=self.dtype)(z))
        x = x.reshape(z.shape[0], base, base, self.width)
        for i in range(2):
            x = nn.relu(PhaseUpsample(self.width, 5, dtype=self.dtype, name=f"Upsample_{i}")(x))
        x = nn.Conv(self.channels, (5, 5), padding=same_pad(5), dtype=self.dtype)(x)
        return jnp.tanh(x).astype(jnp.float32)
