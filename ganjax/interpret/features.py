"""Intermediate features of Flax linen modules: capture, inspect, compare, ablate.

Layer names are the '/'-joined module paths used by ``capture_intermediates``, e.g. ``"Conv_0"`` or
``"enc/Conv_0"``; the top-level module's own output is not listed.  Only ``__call__`` outputs that are
arrays are captured; a submodule called more than once is reported by its first call.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def _apply_fn(module) -> Callable:
    """``module.apply`` for a Module, or the callable itself (an apply-like function)."""
    return module.apply if isinstance(module, nn.Module) else module


def _flatten_intermediates(tree, prefix=()) -> dict:
    out = {}
    for key, val in tree.items():
        if key == "__call__":
            if prefix and isinstance(val, tuple) and val and hasattr(val[0], "shape"):
                out["/".join(prefix)] = val[0]
        elif isinstance(val, Mapping):
            out.update(_flatten_intermediates(val, prefix + (key,)))
    return out


def capture(module, variables, x, **apply_kwargs) -> dict:
    """Run ``module`` on ``x`` and return ``{layer_name: activation}`` for every submodule ``__call__``.

    ``module`` is a linen Module (or an apply-like callable accepting ``capture_intermediates`` and
    ``mutable``); ``apply_kwargs`` are passed to ``apply`` (e.g. ``train=False``).
    """
    mutable = apply_kwargs.pop("mutable", [])
    mutable = [mutable] if isinstance(mutable, str) else list(mutable or [])
    _, state = _apply_fn(module)(variables, x, capture_intermediates=True,
                                 mutable=mutable + ["intermediates"], **apply_kwargs)
    return _flatten_intermediates(state.get("intermediates", {}))


def layer_names(module, variables, x, **apply_kwargs) -> list[str]:
    """Names of the layers ``capture`` reports, in flax's order (shape evaluation only, no compute)."""
    shapes = jax.eval_shape(lambda v, xx: capture(module, v, xx, **apply_kwargs), variables, x)
    return list(shapes.keys())


@contextlib.contextmanager
def replace_layer_output(layer_name: str, fn: Callable):
    """Context in which the output ``y`` of submodule ``layer_name`` is replaced by ``fn(y)``."""
    path = tuple(layer_name.split("/"))

    def interceptor(next_fun, args, kwargs, context):
        y = next_fun(*args, **kwargs)
        if context.method_name == "__call__" and tuple(context.module.path) == path:
            return fn(y)
        return y

    with nn.intercept_methods(interceptor):
        yield


def check_layer(module, variables, x, layer_name: str, **apply_kwargs) -> list[str]:
    """Raise ``ValueError`` listing the valid names when ``layer_name`` is unknown; return the names."""
    names = layer_names(module, variables, x, **apply_kwargs)
    if layer_name not in names:
        raise ValueError(f"unknown layer {layer_name!r}; valid layers: {', '.join(names)}")
    return names


def channel_grid(act, max_channels: int = 16) -> np.ndarray:
    """Tile the first ``max_channels`` channels of one activation map into a 2-D array.

    ``act`` is ``(H, W, C)`` or ``(B, H, W, C)`` (the first example is used).  Each channel is scaled
    to [0, 1] on its own; tiles are separated by one pixel of NaN (drawn as background).
    """
    a = np.asarray(act, dtype=np.float32)
    if a.ndim == 4:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"channel_grid needs a spatial activation (H, W, C), got shape {a.shape}")
    h, w, c = a.shape
    c = min(c, max_channels)
    cols = int(np.ceil(np.sqrt(c)))
    rows = int(np.ceil(c / cols))
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan, np.float32)
    for i in range(c):
        ch = a[:, :, i]
        lo, hi = ch.min(), ch.max()
        ch = (ch - lo) / (hi - lo) if hi > lo else np.zeros_like(ch)
        r, q = divmod(i, cols)
        grid[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = ch
    return grid


def top_activating(acts_fn: Callable, images, layer: str, k: int = 8, batch_size: int = 256):
    """For each channel of ``layer``, indices of the ``k`` images with the highest mean activation.

    ``acts_fn(images_batch) -> {name: activation}`` (e.g. ``functools.partial(capture, D, variables)``).
    Returns an int array ``(C, k)``, best first.
    """
    images = jnp.asarray(images)
    means = []
    for s in range(0, images.shape[0], batch_size):
        act = acts_fn(images[s:s + batch_size])
        if layer not in act:
            raise ValueError(f"unknown layer {layer!r}; valid layers: {', '.join(act)}")
        a = jnp.asarray(act[layer])
        means.append(np.asarray(a.reshape(a.shape[0], -1, a.shape[-1]).mean(axis=1)))
    scores = np.concatenate(means)  # (N, C)
    k = min(k, scores.shape[0])
    return np.argsort(-scores, axis=0, kind="stable")[:k].T


def _probe_accuracy(real: np.ndarray, fake: np.ndarray, test_frac: float, seed: int,
                    max_features: int) -> float:
    """Held-out accuracy of a logistic-regression probe separating real (1) from fake (0) features."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    feats = np.concatenate([real, fake]).astype(np.float64)
    labels = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    if feats.shape[1] > max_features:  # Gaussian random projection keeps the probe cheap
        proj = rng.standard_normal((feats.shape[1], max_features)) / np.sqrt(max_features)
        feats = feats @ proj
    order = rng.permutation(len(feats))
    n_test = max(2, int(round(test_frac * len(feats))))
    test, train = order[:n_test], order[n_test:]
    mu, sd = feats[train].mean(0), feats[train].std(0) + 1e-8
    clf = LogisticRegression(max_iter=1000)
    clf.fit((feats[train] - mu) / sd, labels[train])
    return float(clf.score((feats[test] - mu) / sd, labels[test]))


def layer_statistics(acts_real: Mapping, acts_fake: Mapping, test_frac: float = 0.25, seed: int = 0,
                     max_features: int = 1024) -> dict:
    """Per-layer statistics of real versus fake activations (dicts as returned by ``capture``).

    For each layer present in both: ``mean_*`` (mean activation), ``sparsity_*`` (fraction of units
    ≤ 0), ``l2_*`` (mean per-example L2 norm) for ``real`` and ``fake``, and ``probe_acc``: held-out
    accuracy of a logistic-regression probe (scikit-learn) on the flattened, standardised features
    (randomly projected to ``max_features`` dimensions when larger), trained on ``1 - test_frac``.
    """
    stats = {}
    for name in acts_real:
        if name not in acts_fake:
            continue
        r = np.asarray(acts_real[name], np.float32).reshape(len(acts_real[name]), -1)
        f = np.asarray(acts_fake[name], np.float32).reshape(len(acts_fake[name]), -1)
        stats[name] = {
            "mean_real": float(r.mean()), "mean_fake": float(f.mean()),
            "sparsity_real": float((r <= 0).mean()), "sparsity_fake": float((f <= 0).mean()),
            "l2_real": float(np.linalg.norm(r, axis=1).mean()),
            "l2_fake": float(np.linalg.norm(f, axis=1).mean()),
            "probe_acc": _probe_accuracy(r, f, test_frac, seed, max_features),
        }
    return stats


def _default_reduce(out):
    return jnp.mean(out.reshape(out.shape[0], -1), axis=1)


def ablation_effect(module, variables, x, layer_name: str | None = None,
                    d_logit_reduce: Callable | None = None, per_channel: bool = False,
                    **apply_kwargs):
    """Change in D's mean logit when a layer's output (or one channel of it) is set to zero.

    ``d_logit_reduce(output) -> (B,)`` maps the module output to per-example logits (default: mean of
    the output per example).  With ``layer_name=None`` every layer is ablated and a dict
    ``{name: delta}`` is returned; with a name, a float, or with ``per_channel=True`` an array ``(C,)``
    (channels ablated one at a time, vmapped).  ``delta = mean(ablated) - mean(clean)``.
    """
    reduce = d_logit_reduce or _default_reduce
    apply = _apply_fn(module)
    names = layer_names(module, variables, x, **apply_kwargs)
    if layer_name is not None and layer_name not in names:
        raise ValueError(f"unknown layer {layer_name!r}; valid layers: {', '.join(names)}")

    def mean_logit(v, xx, name=None, mask=None):
        if name is None:
            return jnp.mean(reduce(apply(v, xx, **apply_kwargs)))
        with replace_layer_output(name, lambda y: y * mask if mask is not None else jnp.zeros_like(y)):
            return jnp.mean(reduce(apply(v, xx, **apply_kwargs)))

    clean = jax.jit(mean_logit)(variables, x)
    if layer_name is None:
        return {n: float(jax.jit(lambda v, xx, n=n: mean_logit(v, xx, n))(variables, x) - clean)
                for n in names}
    if not per_channel:
        return float(jax.jit(lambda v, xx: mean_logit(v, xx, layer_name))(variables, x) - clean)
    n_ch = jax.eval_shape(lambda v, xx: capture(module, v, xx, **apply_kwargs),
                          variables, x)[layer_name].shape[-1]
    masks = 1.0 - jnp.eye(n_ch, dtype=jnp.float32)
    ablated = jax.jit(jax.vmap(lambda m, v, xx: mean_logit(v, xx, layer_name, m),
                               in_axes=(0, None, None)))(masks, variables, x)
    return np.asarray(ablated - clean)
