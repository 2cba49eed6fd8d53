"""PNG figures for the interpretability tools (matplotlib, Agg canvas; no pyplot state).

Images are NHWC (or HWC) in [−1, 1] with 1 or 3 channels.  Heat maps follow Captum's
``visualize_image_attr``: attributions are summed over channels, filtered by ``sign`` and scaled by
the threshold below which ``100 − outlier_perc`` percent of the total |attribution| lies (Captum's
cumulative-sum percentile), then clipped to [−1, 1].
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganjax.interpret.features import channel_grid

SIGNS = ("absolute_value", "positive", "negative", "all")
HEAT_METHODS = ("blended_heat_map", "heat_map", "original_image")
_CMAPS = {"all": ("RdYlGn", -1, 1), "positive": ("Greens", 0, 1),
          "negative": ("Reds", 0, 1), "absolute_value": ("Blues", 0, 1)}


def _save(fig: Figure, path) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=fig.dpi, bbox_inches="tight")
    return str(path)


def _to_display(img) -> np.ndarray:
    """[−1, 1] HWC → [0, 1], squeezing a single channel."""
    a = np.clip((np.asarray(img, np.float32) + 1.0) / 2.0, 0.0, 1.0)
    return a[..., 0] if a.shape[-1] == 1 else a


def _threshold(values: np.ndarray, percentile: float) -> float:
    """Value at which the cumulative sum of sorted ``values`` reaches ``percentile`` % (Captum)."""
    v = np.sort(values.ravel())
    cums = np.cumsum(v)
    if cums[-1] <= 0:
        return 1.0
    idx = np.where(cums >= cums[-1] * 0.01 * percentile)[0][0]
    return float(v[idx]) if v[idx] > 0 else 1.0


def normalize_attr(attr, sign: str = "absolute_value", outlier_perc: float = 2) -> np.ndarray:
    """Channel-summed, sign-filtered attributions of one HWC map scaled to [−1, 1] (Captum style)."""
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {SIGNS}, got {sign!r}")
    a = np.asarray(attr, np.float64)
    a = a.sum(axis=-1) if a.ndim == 3 else a
    if sign == "all":
        t = _threshold(np.abs(a), 100 - outlier_perc)
    elif sign == "positive":
        a = np.maximum(a, 0)
        t = _threshold(a, 100 - outlier_perc)
    elif sign == "negative":
        a = np.minimum(a, 0)
        t = -_threshold(np.abs(a), 100 - outlier_perc)
    else:
        a = np.abs(a)
        t = _threshold(a, 100 - outlier_perc)
    return np.clip(a / t, -1.0, 1.0)


def _batch(x) -> np.ndarray:
    x = np.asarray(x)
    return x[None] if x.ndim == 3 else x


def heatmap_png(attr, image, path, sign: str = "absolute_value", outlier_perc: float = 2,
                method: str = "blended_heat_map", titles: Sequence[str] | None = None,
                alpha_overlay: float = 0.5, panel_size: float = 1.8) -> str:
    """Grid of attribution heat maps: one column per example, the image on top, the map below.

    ``attr`` and ``image`` are ``(N, H, W, C)`` or ``(H, W, C)``.  ``method``: ``heat_map`` (map only),
    ``blended_heat_map`` (map over the grey image) or ``original_image`` (images only).
    """
    if method not in HEAT_METHODS:
        raise ValueError(f"method must be one of {HEAT_METHODS}, got {method!r}")
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {SIGNS}, got {sign!r}")
    attr, image = _batch(attr), _batch(image)
    n = image.shape[0]
    rows = 1 if method == "original_image" else 2
    cmap, vmin, vmax = _CMAPS[sign]
    fig = Figure(figsize=(panel_size * n, panel_size * rows))
    axes = fig.subplots(rows, n, squeeze=False)
    for i in range(n):
        shown = _to_display(image[i])
        axes[0, i].imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=8)
        if rows == 2:
            heat = normalize_attr(attr[i], sign, outlier_perc)
            ax = axes[1, i]
            if method == "blended_heat_map":
                grey = shown if shown.ndim == 2 else shown.mean(axis=-1)
                ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
                ax.imshow(heat, cmap=cmap, vmin=vmin, vmax=vmax, alpha=alpha_overlay)
            else:
                ax.imshow(heat, cmap=cmap, vmin=vmin, vmax=vmax)
    for ax in axes.ravel():
        ax.set_axis_off()
    return _save(fig, path)


def robustness_curve_png(curves, path, labels: Sequence[str] | None = None,
                         title: str = "Discriminator accuracy under attack") -> str:
    """Plot accuracy against ε for one or several ``robustness_curve`` results."""
    curves = [curves] if isinstance(curves, dict) else list(curves)
    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    for j, c in enumerate(curves):
        lab = labels[j] if labels else None
        ax.plot(c["eps"], c["accuracy"], marker="o", label=lab or "overall")
        if not labels and "acc_real" in c:
            ax.plot(c["eps"], c["acc_real"], "--", label="real kept real")
            ax.plot(c["eps"], c["acc_fake"], ":", label="fake kept fake")
    ax.set_xlabel("ε ([−1, 1] units; = 2 × ε in [0, 1] units)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def strip_png(strips, path, row_labels: Sequence[str] | None = None,
              col_labels: Sequence[str] | None = None, panel_size: float = 1.2) -> str:
    """Grid of latent strips ``(n_rows, n_steps, H, W, C)`` (e.g. from ``direction_strips``)."""
    s = np.asarray(strips)
    if s.ndim == 4:
        s = s[None]
    r, c = s.shape[:2]
    fig = Figure(figsize=(panel_size * c, panel_size * r))
    axes = fig.subplots(r, c, squeeze=False)
    for i in range(r):
        for j in range(c):
            img = _to_display(s[i, j])
            axes[i, j].imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if row_labels is not None and j == 0:
                axes[i, j].set_ylabel(str(row_labels[i]), fontsize=8)
            if col_labels is not None and i == 0:
                axes[i, j].set_title(str(col_labels[j]), fontsize=8)
    return _save(fig, path)


def channel_grid_png(act, path, max_channels: int = 16, title: str | None = None) -> str:
    """Save the first channels of an activation map (see ``features.channel_grid``) as a PNG."""
    grid = channel_grid(act, max_channels)
    fig = Figure(figsize=(4, 4 * grid.shape[0] / max(grid.shape[1], 1)))
    ax = fig.subplots()
    ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)
