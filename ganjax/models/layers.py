"""Shared building blocks for the image-to-image models (CycleGAN / pix2pix).

The layers reproduce the conventions of the PyTorch reference
(junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``) in Flax linen:

* weights drawn from N(0, 0.02), biases zero (the reference's ``init_weights``
  with ``init_type='normal'``); batch-norm scales from N(1, 0.02);
* instance norm without affine parameters (PyTorch ``InstanceNorm2d`` default,
  ``affine=False``), batch norm with affine parameters, both with eps 1e-5;
* explicit PyTorch-style padding, including the asymmetric padding that makes a
  Flax transposed convolution equal to ``ConvTranspose2d(..., output_padding)``.

Every module takes ``dtype`` (the computation dtype, e.g. ``jnp.bfloat16``);
parameters are always stored in float32. All tensors are NHWC.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models import cpu_conv
from ganjax.models.phase_conv import PhaseConvTranspose

Array = jax.Array
Dtype = Any

init_normal_002 = nn.initializers.normal(0.02)

NORM_KINDS = ("instance", "batch", "none")


def _bn_scale_init(key: Array, shape: tuple[int, ...], dtype: Dtype = jnp.float32) -> Array:
    """N(1, 0.02) initialiser for batch-norm scales, as the reference's ``init_weights``."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def torch_padding(p: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Flax explicit padding equal to PyTorch ``Conv2d(padding=p)``."""
    return ((p, p), (p, p))


def torch_transpose_padding(kernel: int, padding: int, output_padding: int = 0
                            ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Flax ``ConvTranspose`` padding equal to PyTorch ``ConvTranspose2d``.

    ``jax.lax.conv_transpose`` pads the stride-dilated input explicitly, so
    PyTorch's ``padding=p, output_padding=op`` becomes ``(k-1-p, k-1-p+op)`` on
    each spatial axis. Output size: ``(H-1)*stride - 2p + k + op``. For the
    ResNet generator's ``k=3, s=2, p=1, op=1`` this is ``((1, 2), (1, 2))`` and
    the output is exactly ``2H``; for the U-Net's ``k=4, s=2, p=1`` it is
    ``((2, 2), (2, 2))``, also ``2H``. Use with ``transpose_kernel=True`` to
    get PyTorch's weight semantics (checked against torch in the tests).
    """
    lo = kernel - 1 - padding
    pad = (lo, lo + output_padding)
    return (pad, pad)


def conv_bias(norm: str) -> bool:
    """The reference's bias rule: convolutions before a norm have a bias only for instance norm."""
    return norm == "instance"


class Conv(nn.Module):
    """``nn.Conv`` for NHWC input with explicit padding — the same parameters (``kernel`` HWIO, ``bias``),
    the same names (``Conv_N``) and the same initialisation — computed by ``cpu_conv`` (on XLA:CPU its
    fast gradients, and per member under a sweep's vmap, the bias gradient included); lax elsewhere."""
    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: Any = ((0, 0), (0, 0))
    use_bias: bool = True
    dtype: Dtype = jnp.float32
    param_dtype: Dtype = jnp.float32
    kernel_init: Callable = init_normal_002
    bias_init: Callable = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: Array) -> Array:
        kernel = self.param("kernel", self.kernel_init, (*self.kernel_size, x.shape[-1], self.features),
                            self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = cpu_conv.conv_general_dilated(x, kernel, self.strides, self.padding,
                                          dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y if bias is None else cpu_conv.bias_add(y, bias)


def conv(features: int, kernel: int, stride: int = 1, padding: int = 0, *,
         use_bias: bool = True, dtype: Dtype = jnp.float32, name: str | None = None) -> Conv:
    """PyTorch-style ``Conv2d`` (zero padding ``padding`` on every side), N(0, 0.02) init."""
    return Conv(features, (kernel, kernel), strides=(stride, stride), padding=torch_padding(padding),
                use_bias=use_bias, dtype=dtype, name=name)


def conv_transpose(features: int, kernel: int, stride: int, padding: int,
                   output_padding: int = 0, *, use_bias: bool = True,
                   dtype: Dtype = jnp.float32, name: str | None = None,
                   phase: bool = False) -> nn.Module:
    """PyTorch-style ``ConvTranspose2d``; kernel layout ``(k, k, out, in)`` (transposed kernel).

    ``phase=True`` computes the same function with the same parameters as four stride-1
    convolutions (``models/phase_conv.py``; stride 2 only), which XLA:CPU differentiates ~30x faster.
    """
    pad = torch_transpose_padding(kernel, padding, output_padding)
    if phase:
        if stride != 2:
            raise ValueError(f"the phase-decomposed transposed convolution needs stride 2, got {stride}")
        return PhaseConvTranspose(features, (kernel, kernel), pad, use_bias, transpose_kernel=True,
                                  kernel_init=init_normal_002, bias_init=nn.initializers.zeros,
                                  dtype=dtype, param_dtype=jnp.float32, name=name)
    return nn.ConvTranspose(features, (kernel, kernel), strides=(stride, stride), padding=pad,
                            use_bias=use_bias, transpose_kernel=True, dtype=dtype,
                            param_dtype=jnp.float32, kernel_init=init_normal_002,
                            bias_init=nn.initializers.zeros, name=name)


class ReflectPad(nn.Module):
    """``nn.ReflectionPad2d(pad)``: mirror padding without repeating the edge pixel."""

    pad: int

    def __call__(self, x: Array) -> Array:
        p = self.pad
        return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def instance_norm(x: Array, eps: float = 1e-5, out_dtype: Dtype = None, split: int = 1) -> Array:
    """(x − mean) / √(var + eps) over H and W of NHWC x, per example and channel (no affine): flax's
    ``nn.InstanceNorm`` (fast variance, statistics in float32), with a fused gradient.

    Autodiff of the forward formula leaves XLA a chain of reductions and elementwise passes; the closed form
    dx = inv · (g − mean(g) − x̂ · mean(g · x̂)) is one pass of two reductions (reading g and x) and one
    elementwise pass. Saves x (in its own dtype) and two float32 numbers per channel, recomputes x̂ in the
    backward fusion. On one H100 a ResNet block (256 channels at 64², batch 4) spent 0.28 ms of 0.60 in its two
    norms under autodiff in bf16 (benchmarks/cyclegan_parts.py).

    ``split`` > 1 reduces in two stages (``split`` row blocks of H, then their partial sums): the same
    statistics, more parallel reductions for a GPU when N·C is small. Not measured on a GPU yet
    (cyclegan_parts.py's row "norm reductions split in 8"); the models use 1.

    Under jax.vmap on XLA:CPU (a sweep's stacked members) both passes run member by member
    (``cpu_conv.per_member_tree``): XLA:CPU sums a stacked (M, N, H, W, C) over H and W in another order than
    (N, H, W, C) for some shapes, and a member must compute what it computes alone."""
    return _in_fwd(x, eps, out_dtype, split)[0]


def _mean_hw(v, split):
    """Mean over axes 1, 2 of NHWC v (float32), keepdims; in two stages when split > 1 divides H."""
    n, h, w, c = v.shape
    if split > 1 and h % split == 0:
        partial = jnp.sum(v.reshape(n, split, (h // split) * w, c), axis=2)
        return (jnp.sum(partial, axis=1) / (h * w)).reshape(n, 1, 1, c)
    return jnp.mean(v, axis=(1, 2), keepdims=True)


def _normalize(x, eps, out_dtype, split):
    xf = x.astype(jnp.float32)
    mean = _mean_hw(xf, split)
    var = jnp.maximum(_mean_hw(xf * xf, split) - mean * mean, 0.0)
    inv = jax.lax.rsqrt(var + eps)
    return ((xf - mean) * inv).astype(out_dtype or x.dtype), mean, inv


def _input_grad(x, mean, inv, dy, split):
    xhat = (x.astype(jnp.float32) - mean) * inv
    g = dy.astype(jnp.float32)
    mg, mgx = _mean_hw(g, split), _mean_hw(g * xhat, split)
    return (inv * (g - mg - xhat * mgx)).astype(x.dtype)


def _in_fwd(x, eps, out_dtype, split):
    y, mean, inv = cpu_conv.per_member_tree(functools.partial(_normalize, eps=eps, out_dtype=out_dtype,
                                                              split=split))(x)
    return y, (x, mean, inv)


def _in_bwd(eps, out_dtype, split, res, dy):
    return (cpu_conv.per_member_tree(functools.partial(_input_grad, split=split))(*res, dy),)


instance_norm.defvjp(_in_fwd, _in_bwd)


class InstanceNorm(nn.Module):
    """Instance norm over H and W, separately for each example and channel.

    ``affine=False`` (default) matches PyTorch's ``InstanceNorm2d`` as used by
    the reference; ``affine=True`` adds a learned per-channel scale and bias.
    Statistics are reduced in float32 even when ``dtype`` is bfloat16. Without affine parameters it is
    ``instance_norm`` (closed-form gradient; per member under a sweep's vmap on XLA:CPU).
    """

    affine: bool = False
    epsilon: float = 1e-5
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if not self.affine:
            return instance_norm(x, float(self.epsilon), None if self.dtype is None else jnp.dtype(self.dtype))
        return nn.InstanceNorm(epsilon=self.epsilon, use_bias=self.affine,
                               use_scale=self.affine, dtype=self.dtype,
                               param_dtype=jnp.float32)(x)


class TorchBatchNorm(nn.Module):
    """PyTorch's ``BatchNorm2d`` (any rank; channels last): in train mode, normalises with the biased batch
    variance and keeps the *unbiased* one (× n/(n−1), n = elements per channel: N·H·W) in its running
    average, as PyTorch does (flax's ``nn.BatchNorm`` keeps the biased one); in eval mode uses the running
    averages. ``momentum`` is PyTorch's: running ← (1 − momentum)·running + momentum·batch.

    The same variables as ``nn.BatchNorm`` (params ``scale``, ``bias``; ``batch_stats`` ``mean``, ``var``)
    and the same statistics arithmetic (float32, E[x²] − E[x]²); give it the name an ``nn.BatchNorm`` had
    (``BatchNorm_N``) and its checkpoints load. Under a data-parallel jit the batch axis is the global one:
    n is the global N·H·W and XLA reduces across devices. With n = 1 (where PyTorch refuses to train)
    the running variance takes the biased value (0)."""

    use_running_average: bool
    momentum: float = 0.1
    epsilon: float = 1e-5
    dtype: Dtype | None = jnp.float32
    param_dtype: Dtype = jnp.float32
    scale_init: Callable = nn.initializers.ones
    bias_init: Callable = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: Array) -> Array:
        features = (x.shape[-1],)
        axes = tuple(range(x.ndim - 1))
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros(features, jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones(features, jnp.float32))
        scale = self.param("scale", self.scale_init, features, self.param_dtype)
        bias = self.param("bias", self.bias_init, features, self.param_dtype)
        xf = x.astype(jnp.promote_types(x.dtype, jnp.float32))
        if self.use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            mean = jnp.mean(xf, axes)
            var = jnp.maximum(0.0, jnp.mean(xf * xf, axes) - mean * mean)
            if not self.is_initializing():
                n = math.prod(x.shape[:-1])
                unbiased = var * (n / (n - 1)) if n > 1 else var
                m = self.momentum
                ra_mean.value = (1 - m) * ra_mean.value + m * mean
                ra_var.value = (1 - m) * ra_var.value + m * unbiased
        y = (xf - mean) * (jax.lax.rsqrt(var + self.epsilon) * scale) + bias
        return y.astype(self.dtype or jnp.result_type(x, scale))


class BatchNorm(nn.Module):
    """Batch norm as PyTorch's ``BatchNorm2d`` (momentum 0.1, eps 1e-5, affine, unbiased running variance:
    ``TorchBatchNorm``), scales initialised N(1, 0.02) as the reference.

    Uses batch statistics and updates the mutable ``'batch_stats'`` collection
    when ``train`` is True; uses the running averages otherwise. Its variables are those of the
    ``nn.BatchNorm`` it replaced (``BatchNorm_0/{scale, bias, mean, var}``).
    """

    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool) -> Array:
        return TorchBatchNorm(use_running_average=not train, momentum=0.1, epsilon=1e-5, dtype=self.dtype,
                              param_dtype=jnp.float32, scale_init=_bn_scale_init, name="BatchNorm_0")(x)


def norm_layer(kind: str, dtype: Dtype = jnp.float32, train: bool = False
               ) -> Callable[[Array], Array]:
    """Return a normalisation callable for ``kind`` in ``("instance", "batch", "none")``.

    Call it inside a compact method: ``x = norm_layer(self.norm, self.dtype, train)(x)``.
    ``"batch"`` needs ``train`` (and ``mutable=['batch_stats']`` when training).
    """
    if kind == "instance":
        return InstanceNorm(dtype=dtype)
    if kind == "batch":
        bn = BatchNorm(dtype=dtype)
        return lambda x: bn(x, train)
    if kind == "none":
        return lambda x: x
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORM_KINDS}")
