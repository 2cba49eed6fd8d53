"""InceptionV3 pool3 features (2048-d) exactly as pytorch-fid computes them, for FID/KID comparable with papers.

The network is pytorch-fid's `FIDInceptionV3` (`pytorch_fid.inception.fid_inception_v3()`: torchvision's
Inception3 with the FIDInceptionA/C/E_1/E_2 blocks of TensorFlow's 2015-12-05 graph), read up to the final
average pool, with `resize_input=True` and `normalize_input=True`:

    [0, 1] NCHW → bilinear resize to 299×299 (align_corners=False, no antialias) → 2x − 1 → network → (N, 2048)

Input convention here (ganjax's): NHWC images, either
  * uint8 in [0, 255] — taken as x / 255, as pytorch-fid's image loader (ToTensor) does; or
  * float in [-1, 1] (ganjax's image range, e.g. generator output) — taken as (x + 1) / 2.
The features then equal pytorch-fid's fed the same pictures as [0, 1] NCHW float32 tensors. Grayscale
(1-channel) images are repeated to 3 channels, as pytorch-fid's loader does with PIL's convert("RGB").

Weights: pytorch-fid's published `pt_inception-2015-12-05-6726825d.pth`, converted once to a pickle-free .npz:
    python -m ganjax.metrics.inception_convert pt_inception-2015-12-05-6726825d.pth inception_fid.npz
ganjax never downloads it.

Everything runs in float32 with explicit PyTorch padding and HIGHEST matmul precision (no TF32 on GPUs).
`benchmarks/inception_equality.py` checks equality with pytorch-fid's own model; tests/test_inception.py
replays it from a small fixture.
"""
from __future__ import annotations

import functools
import os
import zipfile

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from ganjax.errors import UsageError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILE
CONVERTED_FILE = "inception_fid.npz"
CONVERT_COMMAND = f"python -m ganjax.metrics.inception_convert {WEIGHTS_FILE} {CONVERTED_FILE}"
FEATURE_DIM = 2048
INPUT_SIZE = 299
BN_EPS = 1e-3
_HIGHEST = jax.lax.Precision.HIGHEST


# --------------------------------------------------------------------------------------------- network


class BatchNormEval(nn.Module):
    """BatchNorm2d(eps=0.001) in eval mode; running statistics are parameters (inference only)."""

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        mean = self.param("mean", nn.initializers.zeros, (c,), jnp.float32)
        var = self.param("var", nn.initializers.ones, (c,), jnp.float32)
        alpha = scale / jnp.sqrt(var + BN_EPS)  # PyTorch's CPU inference kernel: x·α + (β − μ·α)
        return x * alpha + (bias - mean * alpha)


class BasicConv2d(nn.Module):
    """torchvision's BasicConv2d: Conv2d(bias=False, PyTorch padding) → BatchNorm(eps=1e-3) → ReLU."""
    features: int
    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)  # PyTorch's (pad_h, pad_w), applied on both sides

    @nn.compact
    def __call__(self, x):
        (ph, pw) = self.padding
        x = nn.Conv(self.features, self.kernel, self.strides, padding=((ph, ph), (pw, pw)), use_bias=False,
                    precision=_HIGHEST, name="conv")(x)
        return nn.relu(BatchNormEval(name="bn")(x))


def _avg_pool_3x3(x):  # F.avg_pool2d(k=3, s=1, p=1, count_include_pad=False)
    return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s2(x):  # MaxPool2d(3, stride=2), no padding, floor mode
    return nn.max_pool(x, (3, 3), (2, 2), "VALID")


class FIDInceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv2d(64, (1, 1), name="branch1x1")(x)
        b5 = BasicConv2d(48, (1, 1), name="branch5x5_1")(x)
        b5 = BasicConv2d(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
        b3 = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
        b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
        b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
        bp = BasicConv2d(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(384, (3, 3), (2, 2), name="branch3x3")(x)
        bd = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = BasicConv2d(96, (3, 3), (2, 2), name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class FIDInceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        b1 = BasicConv2d(192, (1, 1), name="branch1x1")(x)
        b7 = BasicConv2d(c7, (1, 1), name="branch7x7_1")(x)
        b7 = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv2d(c7, (1, 1), name="branch7x7dbl_1")(x)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv2d(192, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(192, (1, 1), name="branch3x3_1")(x)
        b3 = BasicConv2d(320, (3, 3), (2, 2), name="branch3x3_2")(b3)
        b7 = BasicConv2d(192, (1, 1), name="branch7x7x3_1")(x)
        b7 = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv2d(192, (3, 3), (2, 2), name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class FIDInceptionE(nn.Module):
    """FIDInceptionE_1 (pool="avg": average pool without the padded zeros) or FIDInceptionE_2 (pool="max")."""
    pool: str

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv2d(320, (1, 1), name="branch1x1")(x)
        b3 = BasicConv2d(384, (1, 1), name="branch3x3_1")(x)
        b3 = jnp.concatenate([BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                              BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], axis=-1)
        bd = BasicConv2d(448, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv2d(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate([BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                              BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)], axis=-1)
        if self.pool == "avg":
            pooled = _avg_pool_3x3(x)
        else:  # F.max_pool2d(k=3, s=1, p=1): padding is −inf
            pooled = nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)))
        bp = BasicConv2d(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FIDInceptionV3 up to the pool3 features. Input: NHWC float32 in [-1, 1] (already resized
    and normalized); output (N, 2048). Parameter names follow the PyTorch module names."""

    @nn.compact
    def __call__(self, x):
        x = BasicConv2d(32, (3, 3), (2, 2), name="Conv2d_1a_3x3")(x)
        x = BasicConv2d(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv2d(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = BasicConv2d(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = BasicConv2d(192, (3, 3), name="Conv2d_4a_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = FIDInceptionA(32, name="Mixed_5b")(x)
        x = FIDInceptionA(64, name="Mixed_5c")(x)
        x = FIDInceptionA(64, name="Mixed_5d")(x)
        x = InceptionB(name="Mixed_6a")(x)
        x = FIDInceptionC(128, name="Mixed_6b")(x)
        x = FIDInceptionC(160, name="Mixed_6c")(x)
        x = FIDInceptionC(160, name="Mixed_6d")(x)
        x = FIDInceptionC(192, name="Mixed_6e")(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = FIDInceptionE("avg", name="Mixed_7b")(x)
        x = FIDInceptionE("max", name="Mixed_7c")(x)
        return jnp.mean(x, axis=(1, 2))  # AdaptiveAvgPool2d((1, 1))


@functools.lru_cache(maxsize=1)
def param_shapes() -> dict[str, tuple[int, ...]]:
    """{"/"-joined flax path: shape} of the network's parameters (what a converted .npz must hold)."""
    abstract = jax.eval_shape(lambda: FIDInceptionV3().init(jax.random.PRNGKey(0),
                                                            jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3))))
    flat = traverse_util.flatten_dict(abstract["params"], sep="/")
    return {k: tuple(v.shape) for k, v in flat.items()}


# --------------------------------------------------------------------------------------------- resize


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 matrix M with M @ v = PyTorch's F.interpolate(v, n_out, mode="bilinear" or "linear",
    align_corners=False) along one axis (no antialias, whether up- or downsampling). Source coordinates are
    float32 as in PyTorch's CPU kernel: src = max((dst + 0.5)·scale − 0.5, 0) with scale = float32(n_in/n_out),
    the multiply-add rounded once (as the compiled kernel's fused multiply-add does: measured, rounding twice
    moves values by up to 1e-6 at 512 → 299)."""
    scale = np.float64(np.float32(n_in) / np.float32(n_out))
    src = ((np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)  # product exact in f64
    src = np.maximum(src, np.float32(0.0))
    i0 = np.minimum(src.astype(np.int64), n_in - 1)  # truncation == floor for src >= 0
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = (src - i0.astype(np.float32)).astype(np.float32)
    w0 = np.float32(1.0) - w1
    m = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), w0)
    np.add.at(m, (rows, i1), w1)
    return m


def resize_bilinear(x, size: tuple[int, int]):
    """NHWC `x` resized to `size` = (H, W) exactly as F.interpolate(mode="bilinear", align_corners=False) does
    (no antialias; jax.image.resize antialiases when downsampling, so it is not used). Same size: unchanged."""
    h, w = x.shape[1:3]
    if (h, w) == tuple(size):
        return x
    mh, mw = jnp.asarray(bilinear_matrix(h, size[0])), jnp.asarray(bilinear_matrix(w, size[1]))
    x = jnp.einsum("oh,nhwc->nowc", mh, x, precision=_HIGHEST)
    return jnp.einsum("pw,nowc->nopc", mw, x, precision=_HIGHEST)


# --------------------------------------------------------------------------------------------- features


def _to_unit_range(x):
    """uint8 [0, 255] or float [-1, 1] → float32 [0, 1] (what pytorch-fid is fed); 1 channel → 3."""
    if x.dtype == jnp.uint8:
        x = x.astype(jnp.float32) / 255.0
    else:
        x = (x.astype(jnp.float32) + 1.0) / 2.0
    if x.shape[-1] == 1:
        x = jnp.repeat(x, 3, axis=-1)
    return x


@jax.jit
def _features(params, images):
    x = resize_bilinear(_to_unit_range(images), (INPUT_SIZE, INPUT_SIZE))
    x = 2 * x - 1  # pytorch-fid's normalize_input
    return FIDInceptionV3().apply({"params": params}, x)


def _check_images(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise UsageError(f"inception_features needs NHWC images with 1 or 3 channels, got shape {x.shape}")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise UsageError(f"inception_features needs uint8 [0, 255] or float [-1, 1] images, got dtype {x.dtype}")
    return x


def inception_features(images, params, batch_size: int = 50, progress: bool | None = False) -> np.ndarray:
    """pytorch-fid's 2048-d pool3 features of `images`, float32 (N, 2048).

    images: NHWC, uint8 in [0, 255] or float in [-1, 1] (ganjax's range), any height and width (bilinearly
      resized to 299×299 as pytorch-fid does), 3 channels or 1 (repeated to 3).
    params: from load_inception(path).
    batch_size: images per jitted call (the last batch is padded, so one compilation serves all).
    progress: a tqdm bar on stderr (None: only when stderr is a terminal; False: none)."""
    from tqdm import tqdm

    x = _check_images(images)
    n = len(x)
    if n == 0:
        return np.zeros((0, FEATURE_DIM), np.float32)
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    bs = min(batch_size, n)
    out = np.empty((n, FEATURE_DIM), np.float32)
    bar = tqdm(total=n, disable=True if progress is False else None, unit="img", dynamic_ncols=True,
               desc="inception features", leave=False)
    for i in range(0, n, bs):
        chunk = x[i:i + bs]
        if chunk.dtype != np.uint8 and chunk.size and (chunk.min() < -1.01 or chunk.max() > 1.01):
            raise UsageError(f"inception_features: float images must lie in [-1, 1] (ganjax's range), got values "
                             f"in [{chunk.min():.3g}, {chunk.max():.3g}]; pass uint8 for [0, 255] pictures")
        m = len(chunk)
        if m < bs:
            chunk = np.concatenate([chunk, np.zeros((bs - m,) + chunk.shape[1:], chunk.dtype)])
        out[i:i + m] = np.asarray(_features(params, jnp.asarray(chunk)))[:m]
        bar.update(m)
    bar.close()
    return out


# --------------------------------------------------------------------------------------------- weights


def _missing_message(path) -> str:
    where = "no Inception weights file was given" if path is None else f"{path} does not exist"
    return (f"{where}: Inception FID/KID needs pytorch-fid's {WEIGHTS_FILE} (published at {WEIGHTS_URL}; ganjax "
            f"never downloads it), converted once with `{CONVERT_COMMAND}` (needs torch); then pass "
            f"{CONVERTED_FILE}")


def load_inception(path) -> dict:
    """The network's params (a nested dict of float32 arrays) from a .npz made by ganjax.metrics.inception_convert.
    Loads without pickle and checks every array's name and shape; raises a one-line UsageError that says what to
    do when the file is missing or is not such a file."""
    if path is None or not os.path.isfile(os.fspath(path)):
        raise UsageError(_missing_message(path))
    path = os.fspath(path)
    hint = f"make it with `{CONVERT_COMMAND}` from pytorch-fid's {WEIGHTS_FILE} ({WEIGHTS_URL})"
    try:
        z = np.load(path, allow_pickle=False)
        if isinstance(z, np.ndarray):
            raise ValueError("it holds a single .npy array")
        with z:
            names = list(z.keys())
            if any(k.endswith("data.pkl") or "/data/" in k for k in names):
                raise UsageError(f"{path} is a PyTorch checkpoint, not converted weights: {hint}")
            flat = {k: z[k] for k in names}
    except UsageError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"{path} is not an .npz of converted Inception weights ({reason}); {hint}") from None
    expected = param_shapes()
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    if missing or extra:
        detail = "; ".join(s for s in (f"{len(missing)} arrays missing, e.g. {missing[0]}" if missing else "",
                                       f"{len(extra)} unexpected, e.g. {extra[0]}" if extra else "") if s)
        raise UsageError(f"{path} does not hold the FID Inception weights ({detail}); {hint}")
    for k, shape in expected.items():
        if tuple(flat[k].shape) != shape or not np.issubdtype(flat[k].dtype, np.floating):
            raise UsageError(f"{path}: array {k} has shape {tuple(flat[k].shape)} and dtype {flat[k].dtype}, "
                             f"expected float {shape}; {hint}")
    tree = traverse_util.unflatten_dict({k: np.asarray(v, np.float32) for k, v in flat.items()}, sep="/")
    return jax.tree.map(jnp.asarray, tree)
