"""ResNet generator of CycleGAN (Johnson et al. style), as the PyTorch reference.

Reproduces ``ResnetGenerator`` / ``ResnetBlock`` of
junyanz/pytorch-CycleGAN-and-pix2pix (``models/networks.py``)::

    ReflectionPad(3), Conv7x7(ngf), Norm, ReLU
    2 x [Conv3x3 stride 2 (pad 1), Norm, ReLU]          channels ngf -> 2ngf -> 4ngf
    n_blocks x ResnetBlock(4ngf)                        x + [RPad1, Conv3, Norm, ReLU,
                                                             (Dropout 0.5), RPad1, Conv3, Norm]
    2 x [ConvTranspose3x3 stride 2 (pad 1, output_pad 1), Norm, ReLU]
    ReflectionPad(3), Conv7x7(out_channels) with bias, tanh

Convolutions followed by a norm carry a bias only when ``norm == "instance"``
(the reference's ``use_bias`` rule); the last convolution always has one.
With ``out_channels=3``, 3 input channels, ``ngf=64``, ``n_blocks=9`` and
instance norm this has 11,378,179 parameters, as the reference.

``upsample`` selects the two upsampling layers: ``"conv_transpose"`` (the
reference), ``"phase"`` (the same layer and parameters computed as four stride-1
convolutions, fast on CPU; see ``models/phase_conv.py``), ``"subpixel"`` (reflection pad 1, 3x3 conv to 4x channels, then
``models/upsample.depth_to_space``: PyTorch's PixelShuffle channel order) or
``"resize_conv"`` (bilinear 2x resize, reflection pad 1, 3x3 conv); all but the
first avoid dilated convolutions, which are slow on CPU.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.layers import (ReflectPad, conv, conv_bias, conv_transpose,
                                  norm_layer)
from ganjax.models.upsample import depth_to_space

Array = jax.Array
UPSAMPLE_KINDS = ("conv_transpose", "phase", "subpixel", "resize_conv")


class ResnetBlock(nn.Module):
    """Residual block with reflection padding: ``x + conv_block(x)``."""

    dim: int
    norm: str = "instance"
    use_dropout: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        bias = conv_bias(self.norm)
        h = ReflectPad(1)(x)
        h = conv(self.dim, 3, use_bias=bias, dtype=self.dtype)(h)
        h = nn.relu(norm_layer(self.norm, self.dtype, train)(h))
        if self.use_dropout:
            h = nn.Dropout(0.5, deterministic=not train)(h)
        h = ReflectPad(1)(h)
        h = conv(self.dim, 3, use_bias=bias, dtype=self.dtype)(h)
        h = norm_layer(self.norm, self.dtype, train)(h)
        return x + h


class ResnetGenerator(nn.Module):
    """CycleGAN ResNet generator; input NHWC in [-1, 1], output float32 in [-1, 1].

    Spatial size is preserved when H and W are multiples of 4. ``train``
    switches batch norm to batch statistics (needs ``mutable=['batch_stats']``)
    and enables dropout (needs an rng named ``'dropout'``).
    """

    out_channels: int
    ngf: int = 64
    n_blocks: int = 9
    norm: str = "instance"
    use_dropout: bool = False
    upsample: str = "conv_transpose"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        if self.upsample not in UPSAMPLE_KINDS:
            raise ValueError(f"unknown upsample {self.upsample!r}; "
                             f"expected one of {UPSAMPLE_KINDS}")
        bias = conv_bias(self.norm)
        dt = self.dtype
        h = ReflectPad(3)(x.astype(dt))
        h = conv(self.ngf, 7, use_bias=bias, dtype=dt)(h)
        h = nn.relu(norm_layer(self.norm, dt, train)(h))
        for i in range(2):
            h = conv(self.ngf * 2 ** (i + 1), 3, 2, 1, use_bias=bias, dtype=dt)(h)
            h = nn.relu(norm_layer(self.norm, dt, train)(h))
        for _ in range(self.n_blocks):
            h = ResnetBlock(self.ngf * 4, self.norm, self.use_dropout, dt)(h, train)
        for i in range(2):
            feats = self.ngf * 2 ** (1 - i)
            h = self._upsample(h, feats, bias, f"ConvTranspose_{i}")
            h = nn.relu(norm_layer(self.norm, dt, train)(h))
        h = ReflectPad(3)(h)
        h = conv(self.out_channels, 7, use_bias=True, dtype=dt)(h)
        return jnp.tanh(h).astype(jnp.float32)

    def _upsample(self, h: Array, feats: int, bias: bool, name: str) -> Array:
        """Double H and W and map to ``feats`` channels with the chosen method."""
        dt = self.dtype
        if self.upsample in ("conv_transpose", "phase"):
            return conv_transpose(feats, 3, 2, 1, 1, use_bias=bias, dtype=dt, name=name,
                                  phase=self.upsample == "phase")(h)
        if self.upsample == "subpixel":
            h = conv(feats * 4, 3, use_bias=bias, dtype=dt)(ReflectPad(1)(h))
            return depth_to_space(h, 2)
        n, hh, ww, c = h.shape
        h = jax.image.resize(h, (n, 2 * hh, 2 * ww, c), method="bilinear")
        return conv(feats, 3, use_bias=bias, dtype=dt)(ReflectPad(1)(h))
