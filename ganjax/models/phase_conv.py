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
checkpoint of one loads into the other; models choose it with upsample="phase" (models/upsample.py).
"""
from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models import cpu_rules


def depth_to_space(x: jnp.ndarray, r: int = 2) -> jnp.ndarray:
    """(N, H, W, C·r·r) → (N, H·r, W·r, C), channel c·r² + i·r + j going to pixel (r·h + i, r·w + j)."""
    n, h, w, c = x.shape
    c_out = c // (r * r)
    x = x.reshape(n, h, w, c_out, r, r).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, h * r, w * r, c_out)


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

    `padding` is ((lo_h, hi_h), (lo_w, hi_w)) with lo + hi == kernel size on each axis. On XLA:CPU the
    kernel's gradient is one GEMM (see _phases_cpu), elsewhere XLA's own.
    """
    if transpose_kernel:  # gradient-of-convolution semantics: flip spatially, swap in / out
        kernel = jnp.swapaxes(kernel[::-1, ::-1], 2, 3)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    if cpu_rules.active() and precision is None:
        return _phases_cpu(x, kernel, padding)
    return _phases(x, kernel, padding, precision)


def _phases(x, kernel, padding, precision=None):
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


# Below this many input pixels (N·H·W) XLA:CPU's own weight gradients of the four phase convolutions were
# faster than one GEMM (measured, batch 64: 7x7 inputs XLA, 14x14 inputs the GEMM, 2.2x faster).
MERGED_GRAD_MIN_PIXELS = 8192


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _phases_cpu(x, kernel, padding):
    return _member_phases(padding)(x, kernel)


def _phases_cpu_fwd(x, kernel, padding):
    return _member_phases(padding)(x, kernel), (x, kernel)


def _phases_cpu_bwd(padding, res, dy):
    x, kernel = res
    return _member_phases_grads(padding)(x, kernel, dy)


def _phases_grads(x, kernel, dy, padding):
    (gx,) = jax.vjp(lambda x: _phases(x, kernel, padding), x)[1](dy)
    if x.shape[0] * x.shape[1] * x.shape[2] < MERGED_GRAD_MIN_PIXELS:
        (gk,) = jax.vjp(lambda k: _phases(x, k, padding), kernel)[1](dy)
    else:
        gk = merged_kernel_grad(x, dy, kernel.shape, padding)
    return gx, gk


# under jax.vmap: each member's convolutions, as models/cpu_conv.py explains (cpu_rules.per_member)
@functools.lru_cache(maxsize=None)
def _member_phases(padding):
    return cpu_rules.per_member(lambda x, k: _phases(x, k, padding), fold_first=True)


@functools.lru_cache(maxsize=None)
def _member_phases_grads(padding):
    return cpu_rules.per_member(lambda x, k, dy: _phases_grads(x, k, dy, padding), fold_first=False)


_phases_cpu.defvjp(_phases_cpu_fwd, _phases_cpu_bwd)


def merged_kernel_grad(x, dy, kshape, padding):
    """The kernel gradient of the four phase convolutions as one GEMM: all phases read windows of the same
    input, so im2col of x over the union window (3x3 for k = 5), transposed, times the output gradient
    regrouped by phase (space-to-depth: (N·H·W, 4·O)); each phase's taps are then a slice of the result."""
    kh, kw, c, o = kshape
    n, h, w, _ = x.shape
    plan_h, plan_w = phase_plan(kh, *padding[0]), phase_plan(kw, *padding[1])
    lh, rh = max(p[1][0] for p in plan_h), max(p[1][1] for p in plan_h)
    lw, rw = max(p[1][0] for p in plan_w), max(p[1][1] for p in plan_w)
    mh, mw = lh + rh + 1, lw + rw + 1
    xp = jnp.pad(x, ((0, 0), (lh, rh), (lw, rw), (0, 0)))
    cols = jnp.concatenate([xp[:, i:i + h, j:j + w] for i in range(mh) for j in range(mw)], axis=-1)
    dyp = dy.reshape(n, h, 2, w, 2, o).transpose(0, 1, 3, 5, 2, 4).reshape(n * h * w, o * 4)
    g = jnp.dot(dyp.T, cols.reshape(n * h * w, mh * mw * c)).reshape(o, 2, 2, mh, mw, c)
    gk = jnp.zeros(kshape, g.dtype)
    for r, (t_h, (left_h, _)) in enumerate(plan_h):
        for s, (t_w, (left_w, _)) in enumerate(plan_w):
            m_h, m_w = len(range(t_h, kh, 2)), len(range(t_w, kw, 2))
            sub = g[:, r, s, lh - left_h:lh - left_h + m_h, lw - left_w:lw - left_w + m_w]  # (o, m_h, m_w, c)
            gk = gk.at[t_h::2, t_w::2].set(sub.transpose(1, 2, 3, 0))
    return gk


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
