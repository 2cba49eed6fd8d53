"""PatchGAN discriminators of CycleGAN / pix2pix, as the PyTorch reference.

``NLayerDiscriminator`` (the reference's ``netD='basic'`` with ``n_layers=3``
is the 70x70 PatchGAN)::

    Conv4x4 s2 p1 (ndf, bias), LeakyReLU 0.2
    for n in 1..n_layers-1: Conv4x4 s2 p1 (ndf*min(2**n, 8)), Norm, LeakyReLU 0.2
    Conv4x4 s1 p1 (ndf*min(2**n_layers, 8)), Norm, LeakyReLU 0.2
    Conv4x4 s1 p1 (1, bias)                      -> patch map of logits

Middle convolutions carry a bias only with instance norm (reference rule).
With 3 input channels, ndf=64, n_layers=3 and instance norm it has 2,764,737
parameters; a 256x256 input gives a 30x30 map (each logit sees a 70x70 patch).

``PixelDiscriminator`` is the reference's 1x1 "PixelGAN" (``netD='pixel'``).
No sigmoid is applied: both return logits as float32.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.layers import conv, conv_bias, norm_layer

Array = jax.Array
NETD_KINDS = ("patch", "pixel")  # config model.netd: NLayerDiscriminator (n_layers_d) | PixelDiscriminator


class NLayerDiscriminator(nn.Module):
    """PatchGAN with ``n_layers`` stride-2 convolutions; NHWC in, (N, h, w, 1) logits out.

    ``train`` only matters for batch norm (``mutable=['batch_stats']``).
    """

    ndf: int = 64
    n_layers: int = 3
    norm: str = "instance"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        bias = conv_bias(self.norm)
        dt = self.dtype
        h = conv(self.ndf, 4, 2, 1, use_bias=True, dtype=dt)(x.astype(dt))
        h = nn.leaky_relu(h, 0.2)
        for n in range(1, self.n_layers + 1):
            stride = 2 if n < self.n_layers else 1
            h = conv(self.ndf * min(2 ** n, 8), 4, stride, 1, use_bias=bias, dtype=dt)(h)
            h = nn.leaky_relu(norm_layer(self.norm, dt, train)(h), 0.2)
        h = conv(1, 4, 1, 1, use_bias=True, dtype=dt)(h)
        return h.astype(jnp.float32)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN (per-pixel real/fake logits): (N, H, W, C) -> (N, H, W, 1)."""

    ndf: int = 64
    norm: str = "instance"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        bias = conv_bias(self.norm)
        dt = self.dtype
        h = nn.leaky_relu(conv(self.ndf, 1, use_bias=True, dtype=dt)(x.astype(dt)), 0.2)
        h = conv(self.ndf * 2, 1, use_bias=bias, dtype=dt)(h)
        h = nn.leaky_relu(norm_layer(self.norm, dt, train)(h), 0.2)
        h = conv(1, 1, use_bias=bias, dtype=dt)(h)
        return h.astype(jnp.float32)
