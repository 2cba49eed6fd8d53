"""Attributions over a run's images in fixed-size batches (compiled once), and IG's completeness check.

Integrated gradients use 64 Gauss–Legendre nodes by default; ``ig_chunk`` picks how many path points
are evaluated together.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


IMAGE_BATCH = 32  # images per compiled attribution call (the last batch is padded: one compile)


def ig_chunk(n_evals: int) -> int | None:
    """Path points per IG chunk for ``n_evals`` = images x steps in this command.

    Accelerators: all points at once.  CPU: one point per chunk (unrolled) ran ~1.2x Captum on the
    article's D where all points at once ran 0.43x (benchmarks/ig_vs_captum.py), and 3.8 s against
    5.0 s per call of 32 images x 64 steps on the trained D here, but unrolling 64 chunks costs ~5 s
    more compilation (8.2 s against 6.5 s for the first call): worth it from ~4 such calls on.
    """
    if jax.default_backend() != "cpu":
        return None
    return 1 if n_evals >= 4 * IMAGE_BATCH * 64 else 4


def attribute(ctx, f, x, method: str, baseline, steps: int, f_args=(), desc: str = "attribution",
              layer: tuple | None = None, n_total: int | None = None):
    """Attributions of ``f(x, *f_args) -> (B,)`` in batches of IMAGE_BATCH (padded: compiled once).

    ``layer=(module, variables, name, output_fn)`` gives layer integrated gradients instead;
    ``n_total``: images attributed by the whole command (picks the IG chunking; default ``len(x)``).
    Returns ``(attr, delta or None, gap)`` with ``gap = f(x) - f(baseline)`` (IG only, else None).
    """
    from ganjax.interpret.integrated_gradients import integrated_gradients
    from ganjax.interpret.saliency import (gradient_x_input, layer_integrated_gradients, saliency,
                                           smoothgrad)

    x = np.asarray(x, np.float32)
    n = len(x)
    chunk = ig_chunk((n_total or n) * steps)
    bs = min(IMAGE_BATCH, n)
    pad = (-n) % bs
    xp = np.concatenate([x, np.repeat(x[-1:], pad, 0)]) if pad else x
    bp = None if baseline is None else np.broadcast_to(np.asarray(baseline, np.float32), x.shape)
    if bp is not None and pad:
        bp = np.concatenate([bp, np.repeat(bp[-1:], pad, 0)])
    g = lambda xx: f(xx, *f_args)  # one object for every batch (jit caches on identity)
    f_jit = jax.jit(f)
    attrs, deltas, gaps = [], [], []
    key = jax.random.PRNGKey(ctx.seed + 3)
    for s in ctx.progress(range(0, len(xp), bs), desc, total=len(xp) // bs):
        xb = jnp.asarray(xp[s:s + bs])
        if method == "ig" and layer is not None:
            module, variables, name, out_fn = layer
            a, d = layer_integrated_gradients(module, variables, xb, name, baseline=bp[s:s + bs],
                                              n_steps=steps, batch_size=chunk, output_fn=out_fn,
                                              return_delta=True, warn_threshold=None, train=False)
            gaps.append(np.asarray(jnp.sum(a.reshape(bs, -1), 1) - d))  # f(x) - f(layer at a')
        elif method == "ig":
            bb = jnp.asarray(bp[s:s + bs])
            a, d = integrated_gradients(f, xb, bb, n_steps=steps, batch_size=chunk,
                                        return_delta=True, warn_threshold=None, f_args=tuple(f_args))
            gaps.append(np.asarray(f_jit(xb, *f_args) - f_jit(bb, *f_args)))
        elif method == "saliency":
            a, d = saliency(g, xb), None
        elif method == "gradxinput":
            a, d = gradient_x_input(g, xb), None
        else:
            a, d = smoothgrad(g, xb, jax.random.fold_in(key, s)), None
        attrs.append(np.asarray(a))
        if d is not None:
            deltas.append(np.asarray(d))
    attr = np.concatenate(attrs)[:n]
    if not deltas:
        return attr, None, None
    return attr, np.concatenate(deltas)[:n], np.concatenate(gaps)[:n]


def completeness(delta, gap) -> dict:
    """Distribution of |delta| / |F(x) - F(x')| (IG's completeness error, relative)."""
    r = np.abs(delta) / np.maximum(np.abs(gap), 1e-12)
    return {"n": int(r.size), "median_ratio": float(np.median(r)),
            "p90_ratio": float(np.percentile(r, 90)), "max_ratio": float(r.max()),
            "median_abs_delta": float(np.median(np.abs(delta))),
            "median_abs_gap": float(np.median(np.abs(gap)))}


def print_completeness(groups: dict) -> None:
    print("completeness |delta| / |F(x) - F(x')|:   median      p90      max   (n)")
    for name, c in groups.items():
        print(f"  {name:<28s} {c['median_ratio']:9.2e} {c['p90_ratio']:8.2e} "
              f"{c['max_ratio']:8.2e}   ({c['n']})")
    if max(c["median_ratio"] for c in groups.values()) > 0.01:
        print("  note: median above 1 %: the attributions do not add up to F(x) - F(x'); "
              "raise --steps or try another --baseline")


def upsample_layer_attr(attr, size: int) -> np.ndarray:
    """Channel-summed (B, h, w, C) layer attributions, nearest-upsampled to (B, size, size, 1)."""
    a = np.asarray(attr).sum(-1, keepdims=True)
    return np.asarray(jax.image.resize(a, (a.shape[0], size, size, 1), "nearest"))


METHOD_NAMES = {"ig": "Integrated gradients", "saliency": "Saliency |∂D/∂x|",
                 "gradxinput": "Gradient × input", "smoothgrad": "SmoothGrad"}
