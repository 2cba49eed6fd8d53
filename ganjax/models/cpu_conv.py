"""A 2-D convolution whose backward passes XLA:CPU runs fast: the same function as lax.conv_general_dilated.

On XLA:CPU a convolution's forward pass is fast, but its weight gradient (a convolution whose "kernel" is
the whole output gradient) and, for stride 2, its input gradient (an lhs-dilated convolution) run on slow
generic kernels: 2-4x the forward time. `conv2d` keeps the forward pass and replaces the backward passes
(jax.custom_vjp) by formulations that end in one large matrix product, which XLA:CPU runs well:

- weight gradient: im2col — the kh·kw shifted (strided) views of the padded input concatenated on the
  channel axis, (N·Ho·Wo, kh·kw·C) — transposed times the output gradient (N·Ho·Wo, O): one GEMM.
  When O is small (the generator's last conv to 1 channel) the roles swap: the shifted views of the
  (zero-padded) output gradient, (N·Hp·Wp, kh·kw·O), against the padded input: one GEMM, no big im2col.
- input gradient, stride 1: the convolution of the output gradient with the flipped, transposed kernel.
- input gradient, stride 2: a stride-2 transposed convolution, computed exactly by output phases as four
  stride-1 convolutions (models/phase_conv.py).
- a small number of output (forward) or input (input gradient) channels: one GEMM to kh·kw·channels
  followed by the sum of the shifted taps, instead of a convolution with 1-3 channels.

The results equal lax's up to float summation order (tests/test_cpu_conv.py). NHWC input, HWIO kernel.
Only stride 1 or 2, no dilation and no feature groups: what the DCGANs, ResNet/U-Net generators and
PatchGANs use (their nn.Conv/nn.Dense take `conv_general_dilated` / `dot_general` from here).

Under jax.vmap with mapped weights (a sweep's stacked members) these convolutions and `dot_general`
(nn.Dense's) compute each member's product as the unbatched program does, one after another
(`per_member`), instead of one grouped convolution: 4.9x faster stacked sweeps on this CPU (8 members,
benchmarks/sweep_bench.py) and each member's products, gradients and R1's gradients of gradients bitwise
those of the member trained alone. `per_member_tree` does the same for the optimizer update and for
instance norm (models/layers.instance_norm), `bias_add` for a bias's gradient.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from ganjax.models.cpu_rules import active, per_member, per_member_tree  # noqa: F401 (re-exported)
from ganjax.models.phase_conv import phase_conv_transpose

DN = ("NHWC", "HWIO", "NHWC")
SMALL = 4  # at most this many output (input) channels: forward (input gradient) by taps


def _out_size(n: int, k: int, s: int, lo: int, hi: int) -> int:
    return (n + lo + hi - k) // s + 1


def _views(xp, kh, kw, s, ho, wo):
    """The kh·kw strided views xp[:, i + s·p, j + s·q] (p < ho, q < wo), tap-major."""
    return [lax.slice(xp, (0, i, j, 0), (xp.shape[0], i + s * (ho - 1) + 1, j + s * (wo - 1) + 1, xp.shape[3]),
                      (1, s, s, 1)) for i in range(kh) for j in range(kw)]


def _pad(x, padding):
    (lo_h, hi_h), (lo_w, hi_w) = padding
    return jnp.pad(x, ((0, 0), (lo_h, hi_h), (lo_w, hi_w), (0, 0)))


def _forward(x, w, stride, padding):
    kh, kw, c, o = w.shape
    if o > SMALL:
        return _lax_conv(x, w, stride, padding)
    # few output channels: T = x · W for every tap, then y[p] = Σ_taps T[s·p + i, s·q + j, tap]
    n, h, wd, _ = x.shape
    ho, wo = (_out_size(h, kh, stride, *padding[0]), _out_size(wd, kw, stride, *padding[1]))
    t = jnp.dot(_pad(x, padding), w.transpose(2, 0, 1, 3).reshape(c, kh * kw * o))
    views = _views(t, kh, kw, stride, ho, wo)
    return sum(v[..., k * o:(k + 1) * o] for k, v in enumerate(views))


def _lax_conv(x, w, stride, padding):
    return lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=DN)


def _weight_grad(x, dy, kshape, stride, padding):
    kh, kw, c, o = kshape
    if o <= SMALL and stride == 1:
        # gw[i, j] = Σ xp[h + i, w + j] · dy[h, w] = xpᵀ · (dy shifted by (i, j), zero-padded): one GEMM
        xp = _pad(x, padding)
        (_, hp, wp, _), (ho, wo) = xp.shape, dy.shape[1:3]
        dyp = jnp.pad(dy, ((0, 0), (kh - 1, hp - ho), (kw - 1, wp - wo), (0, 0)))
        shifted = [dyp[:, kh - 1 - i:kh - 1 - i + hp, kw - 1 - j:kw - 1 - j + wp] for i in range(kh) for j in range(kw)]
        gw = jnp.dot(xp.reshape(-1, c).T, jnp.concatenate(shifted, axis=-1).reshape(-1, kh * kw * o))
        return gw.reshape(c, kh, kw, o).transpose(1, 2, 0, 3)
    if c <= SMALL:  # a small im2col: kh·kw·c columns
        ho, wo = dy.shape[1:3]
        cols = jnp.concatenate(_views(_pad(x, padding), kh, kw, stride, ho, wo), axis=-1).reshape(-1, kh * kw * c)
        return jnp.dot(cols.T, dy.reshape(-1, o)).reshape(kh, kw, c, o)
    w0 = jnp.zeros(kshape, dy.dtype)  # XLA's own weight gradient (fine at this size, measured)
    return jax.vjp(lambda w: _lax_conv(x, w, stride, padding), w0)[1](dy)[0]


def _input_grad(dy, w, xshape, stride, padding):
    kh, kw, c, o = w.shape
    _, h, wd, _ = xshape
    if stride == 2 and c > SMALL and h == 2 * dy.shape[1] and wd == 2 * dy.shape[2]:
        # a stride-2 transposed convolution of dy with the flipped, transposed kernel: dilated dy padded
        # (k − 1 − lo, size + lo + 1 − 2·out), computed by output phases
        pads = tuple((k - 1 - lo, size + lo + 1 - 2 * out)
                     for k, (lo, _), size, out in ((kh, padding[0], h, dy.shape[1]), (kw, padding[1], wd, dy.shape[2])))
        if all(a + b == k for (a, b), k in zip(pads, (kh, kw))):
            return phase_conv_transpose(dy, jnp.swapaxes(w[::-1, ::-1], 2, 3), pads)
    x0 = jnp.zeros(xshape, dy.dtype)
    return jax.vjp(lambda x: _lax_conv(x, w, stride, padding), x0)[1](dy)[0]


@functools.lru_cache(maxsize=None)
def _member_forward(stride, padding):
    return per_member(lambda x, w: _forward(x, w, stride, padding), fold_first=True)


@functools.lru_cache(maxsize=None)
def _member_input_grad(xshape, stride, padding):
    # folded (a mapped dy with shared w) the batch is dy's, not the unbatched x's
    return per_member(lambda dy, w: _input_grad(dy, w, (dy.shape[0], *xshape[1:]), stride, padding),
                      fold_first=True)


@functools.lru_cache(maxsize=None)
def _member_weight_grad(kshape, stride, padding):
    return per_member(lambda x, dy: _weight_grad(x, dy, kshape, stride, padding), fold_first=False)


# conv, its input gradient and its weight gradient are each linear in both arguments, and each one's VJP
# is made of the other two (<conv(x, w), dy> = <x, input_grad(dy, w)> = <w, weight_grad(x, dy)>); as three
# custom_vjp functions every order of reverse-mode derivative (R1's gradient of a gradient) stays on these
# formulations, and so per member under jax.vmap. The same for 2-D matrix products a·b, a·bᵀ and aᵀ·b.
def _bilinear(fn, bwd):
    """fn(a, b, *static) as a custom_vjp function keeping (a, b); bwd(*static, (a, b), ct) → (da, db)."""
    f = jax.custom_vjp(fn, nondiff_argnums=tuple(range(2, fn.__code__.co_argcount)))
    f.defvjp(lambda a, b, *static: (f(a, b, *static), (a, b)), bwd)
    return f


def _conv_bwd(stride, padding, res, dy):
    x, w = res
    return _igrad(dy, w, tuple(x.shape), stride, padding), _wgrad(x, dy, tuple(w.shape), stride, padding)


def _igrad_bwd(xshape, stride, padding, res, ct):
    dy, w = res
    return _conv(ct, w, stride, padding), _wgrad(ct, dy, tuple(w.shape), stride, padding)


def _wgrad_bwd(kshape, stride, padding, res, ct):
    x, dy = res
    return _igrad(dy, ct, tuple(x.shape), stride, padding), _conv(x, ct, stride, padding)


_conv = _bilinear(lambda x, w, stride, padding: _member_forward(stride, padding)(x, w), _conv_bwd)
_igrad = _bilinear(lambda dy, w, xshape, stride, padding: _member_input_grad(xshape, stride, padding)(dy, w),
                   _igrad_bwd)
_wgrad = _bilinear(lambda x, dy, kshape, stride, padding: _member_weight_grad(kshape, stride, padding)(x, dy),
                   _wgrad_bwd)

_DOT_DIMS = {"ab": (((1,), (0,)), ((), ())), "abt": (((1,), (1,)), ((), ())), "atb": (((0,), (0,)), ((), ()))}


@functools.lru_cache(maxsize=None)
def _member_dot(form):
    # aᵀ·b sums over a's rows (the batch): a mapped a cannot be folded into it
    return per_member(lambda a, b: lax.dot_general(a, b, _DOT_DIMS[form]), fold_first=form != "atb")


def _dot_bwd(form, res, ct):
    a, b = res
    if form == "ab":
        return _dot(ct, b, "abt"), _dot(a, ct, "atb")
    if form == "abt":
        return _dot(ct, b, "ab"), _dot(ct, a, "atb")
    return _dot(b, ct, "abt"), _dot(a, ct, "ab")


_dot = _bilinear(lambda a, b, form: _member_dot(form)(a, b), _dot_bwd)


@functools.lru_cache(maxsize=None)
def _member_channel_sum():
    return per_member(lambda dy: jnp.sum(dy.reshape(-1, dy.shape[-1]), axis=0), fold_first=False)


@jax.custom_vjp
def _bias_add(y, b):
    return y + b


_bias_add.defvjp(lambda y, b: (y + b, None), lambda _, dy: (dy, _member_channel_sum()(dy)))


def bias_add(y, b):
    """y + b over the last axis; under jax.vmap on XLA:CPU b's gradient (a sum over all other axes) is
    reduced per member, as the member alone reduces it."""
    return _bias_add(y, b) if active() else y + b


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, **kwargs):
    """lax.dot_general's signature (flax nn.Dense's `dot_general` field): on XLA:CPU a plain (N, K)·(K, M)
    product is computed per member under jax.vmap (see per_member), elsewhere lax.dot_general."""
    (lc, rc), (lb, rb) = dimension_numbers
    plain = (tuple(lc), tuple(rc), tuple(lb), tuple(rb)) == ((1,), (0,), (), ())
    if active() and plain and lhs.ndim == 2 and rhs.ndim == 2 and precision is None \
            and preferred_element_type is None and not kwargs and lhs.dtype == rhs.dtype:
        return _dot(lhs, rhs, "ab")
    return lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                           preferred_element_type=preferred_element_type, **kwargs)


def conv2d(x, w, stride: int = 1, padding=((0, 0), (0, 0))):
    """lax.conv_general_dilated(x, w, (stride,)*2, padding) for NHWC x, HWIO w, with fast CPU gradients."""
    if stride not in (1, 2):
        raise ValueError(f"conv2d supports stride 1 or 2, got {stride}")
    padding = tuple((int(a), int(b)) for a, b in padding)
    return _conv(x, w, stride, padding)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """lax.conv_general_dilated's signature (flax nn.Conv's `conv_general_dilated` field): `conv2d` on
    XLA:CPU for the cases it covers, lax.conv_general_dilated everywhere else (GPU/TPU: cuDNN's own)."""
    strides = tuple(window_strides)
    ok = (active() and lhs.ndim == 4 and not isinstance(padding, str)
          and len(set(strides)) == 1 and strides[0] in (1, 2) and feature_group_count == 1 and not kwargs
          and all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
          and (dimension_numbers is None or _is_nhwc(dimension_numbers)))
    if not ok:
        return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers, feature_group_count, precision=precision, **kwargs)
    return conv2d(lhs, rhs, strides[0], padding)


def _is_nhwc(dimension_numbers) -> bool:
    if isinstance(dimension_numbers, lax.ConvDimensionNumbers):  # flax passes the resolved form
        return dimension_numbers == lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1), DN)
    return tuple(dimension_numbers) == DN
