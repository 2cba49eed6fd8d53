"""Figures of `ganjax explain` / `ganjax attack` (matplotlib Agg, no pyplot state).

Built on ganjax.interpret.figures: images are NHWC in [-1, 1]; heat maps are Captum-style
(channel-summed, sign-filtered, scaled by the outlier percentile, clipped to [-1, 1]).
"""
from __future__ import annotations

import numpy as np
import matplotlib
from matplotlib import cm, colors
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ganjax.interpret.figures import _CMAPS, _save, _to_display, normalize_attr

MAX_COLS = 16
# Captum's red-white-green for signed maps (RdYlGn paints the zero background yellow)
_CMAPS = {**_CMAPS, "all": (colors.LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"]),
                            -1, 1)}
_SIGN_NOTE = {"all": "green raises the output, red lowers it", "positive": "parts that raise the output",
              "negative": "parts that lower the output", "absolute_value": "|attribution|"}


def _show(ax, img, **kw):
    shown = _to_display(img)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1, **kw)
    return shown


def _clean(ax):
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def _box(ax, box, color="yellow", ls="-", dx=0):
    if box is not None:
        ax.add_patch(Rectangle((dx + box.x0 - 0.5, box.y0 - 0.5), box.x1 - box.x0, box.y1 - box.y0,
                               fill=False, edgecolor=color, linewidth=1.2, linestyle=ls))


def _mosaic(tiles, pad: int = 1) -> np.ndarray:
    """Tiles (H, W) or (H, W, 3) side by side, separated by ``pad`` columns of NaN (drawn white)."""
    tiles = [np.asarray(t, np.float32) for t in tiles]
    h, w = tiles[0].shape[:2]
    out = np.full((h, len(tiles) * (w + pad) - pad) + tiles[0].shape[2:], np.nan, np.float32)
    for i, t in enumerate(tiles):
        out[:, i * (w + pad): i * (w + pad) + w] = t
    return out


def _row(ax, tiles, cmap="gray", vmin=0.0, vmax=1.0, box=None, box_style=("yellow", "-"), top=None,
         bottom=None, top_colors=None, under=None, alpha=None, label=None):
    """One figure row drawn as a single image (fast even with many tiles): a mosaic of ``tiles``,
    optionally over a grey ``under`` mosaic, with a box and a text above / below each tile."""
    w = np.asarray(tiles[0]).shape[1]
    if under is not None:
        ax.imshow(np.ma.masked_invalid(_mosaic(under)), cmap=_white_nan("gray"), vmin=0, vmax=1,
                  interpolation="nearest")
    m = _mosaic(tiles)
    if m.ndim == 3:
        ax.imshow(np.nan_to_num(m, nan=1.0), interpolation="nearest")
    else:
        ax.imshow(np.ma.masked_invalid(m), cmap=_white_nan(cmap), vmin=vmin, vmax=vmax, alpha=alpha,
                  interpolation="nearest")
    h = np.asarray(tiles[0]).shape[0]
    for i in range(len(tiles)):
        dx = i * (w + 1)
        _box(ax, box, *box_style, dx=dx)
        if top is not None:
            ax.text(dx + w / 2 - 0.5, -1.0, top[i], ha="center", va="bottom", fontsize=7,
                    color=(top_colors or {}).get(i, "black"))
        if bottom is not None:
            ax.text(dx + w / 2 - 0.5, h, bottom[i], ha="center", va="top", fontsize=7)
    _clean(ax)
    if label:
        ax.set_ylabel(label, fontsize=8)


def _white_nan(cmap):
    return (matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap).with_extremes(bad="white")


def _display_tiles(images):
    return [_to_display(im) for im in images]


def attribution_grid(path, groups, sign, outlier_perc, title, outputs=None, box=None,
                     panel=1.1) -> str:
    """Per group (name, images, attrs, column titles): rows image / blended heat map / heat map.

    ``outputs=(label, images)`` adds a row of model outputs with the target ``box`` drawn (translator);
    then the box is also drawn dashed on the inputs.
    """
    cols = min(MAX_COLS, max(len(g[1]) for g in groups))
    rows_per = 3 + (outputs is not None)
    cmap, vmin, vmax = _CMAPS[sign]
    fig = Figure(figsize=(panel * cols + 1.8, (panel + 0.2) * rows_per * len(groups) + 0.5),
                 layout="constrained")
    axes = fig.subplots(rows_per * len(groups), 1, squeeze=False)[:, 0]
    heat_axes = []
    for gi, (name, images, attrs, titles) in enumerate(groups):
        r0, k = gi * rows_per, min(cols, len(images))
        shown = _display_tiles(images[:k])
        heats = [normalize_attr(a, sign, outlier_perc) for a in attrs[:k]]
        grey = [s if s.ndim == 2 else s.mean(-1) for s in shown]
        dashed = ("yellow", "--")
        _row(axes[r0], shown, box=box, box_style=dashed, top=titles[:k], label=name)
        _row(axes[r0 + 1], heats, cmap, vmin, vmax, under=grey, alpha=0.55, box=box, box_style=dashed,
             label="blended")
        _row(axes[r0 + 2], heats, cmap, vmin, vmax, box=box, box_style=("black", "--"), label="heat map")
        if outputs is not None:
            _row(axes[r0 + 3], _display_tiles(outputs[1][:k]), box=box, label=outputs[0])
        heat_axes += [axes[r0 + 1], axes[r0 + 2]]
    sm = cm.ScalarMappable(colors.Normalize(vmin, vmax), cmap)
    cb = fig.colorbar(sm, ax=heat_axes, shrink=0.8, aspect=25, pad=0.01)
    cb.set_label(f"scaled attribution\n({_SIGN_NOTE[sign]})", fontsize=7)
    cb.ax.tick_params(labelsize=7)
    shown_n = max(len(g[1]) for g in groups)
    fig.suptitle(title + (f" — first {cols} of {shown_n}" if shown_n > cols else ""), fontsize=9)
    return _save(fig, path)


def latent_bars(path, image, box, dims, mean_attr, std, mean_abs, title) -> str:
    """A sample with the target box, and bars of the mean attribution of the top latent dims."""
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    a0, a1 = fig.subplots(1, 2, width_ratios=[1, 4])
    _show(a0, image)
    _box(a0, box)
    _clean(a0)
    a0.set_title("target (box) on a sample", fontsize=8)
    x = np.arange(len(dims))
    a1.bar(x, mean_attr, yerr=std, color=np.where(mean_attr >= 0, "tab:green", "tab:red"),
           error_kw=dict(lw=0.8, capsize=2), label="mean attribution ± std over latents")
    a1.plot(x, mean_abs, "k_", markersize=10, label="mean |attribution| (ranking)")
    a1.axhline(0, color="k", lw=0.6)
    a1.set_xticks(x, [f"z[{d}]" for d in dims], rotation=60, fontsize=7)
    a1.set_ylabel("attribution", fontsize=8)
    a1.tick_params(labelsize=7)
    a1.legend(fontsize=7)
    a1.set_title(title, fontsize=8)
    return _save(fig, path)


def strip_grid(path, strips, box, row_labels, col_labels, values=None, title="", panel=1.1) -> str:
    """Strips (rows, steps, H, W, C) with labels, optional box and a value under each image."""
    r, c = strips.shape[:2]
    fig = Figure(figsize=(panel * c + 0.8, (panel + 0.25) * r + 0.9), layout="constrained")
    axes = fig.subplots(r, 1, squeeze=False)[:, 0]
    for i in range(r):
        _row(axes[i], _display_tiles(strips[i]), box=box, top=col_labels if i == 0 else None,
             bottom=None if values is None else [f"{v:+.2f}" for v in values[i]], label=row_labels[i])
    fig.suptitle(title, fontsize=8)
    return _save(fig, path)


def feature_grids(path, rows, title) -> str:
    """rows: [(row label, [(panel title, 2-D array or HWC image)])]; channel grids use viridis."""
    cols = max(len(p) for _, p in rows)
    fig = Figure(figsize=(2.6 * cols, 2.9 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for i, (label, panels) in enumerate(rows):
        for j in range(cols):
            ax = axes[i, j]
            _clean(ax)
            if j >= len(panels):
                ax.set_visible(False)
                continue
            name, arr = panels[j]
            if arr.ndim == 3:  # an image
                _show(ax, arr)
            else:
                ax.imshow(np.ma.masked_invalid(arr), cmap="viridis", vmin=0, vmax=1)
            ax.set_title(name, fontsize=8)
        axes[i, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def top_activating_grid(path, images, idx, channels, scores, title, panel=0.9) -> str:
    """Row per channel: the real images that activate it most (its mean activation under each)."""
    r, k = len(channels), idx.shape[1]
    fig = Figure(figsize=(panel * k + 0.9, (panel + 0.15) * r + 0.6), layout="constrained")
    axes = fig.subplots(r, 1, squeeze=False)[:, 0]
    for i, ch in enumerate(channels):
        _row(axes[i], _display_tiles(images[idx[ch]]), label=f"ch {ch}",
             bottom=[f"{scores[j, ch]:.2f}" for j in idx[ch]])
    fig.suptitle(title, fontsize=8)
    return _save(fig, path)


def layer_stats(path, names, stats, title) -> str:
    """Bars per layer: mean, sparsity and norm (real vs generated), probe accuracy, ablation effect."""
    x = np.arange(len(names))
    w = 0.38
    panels = [("mean activation", "mean"), ("sparsity (share ≤ 0)", "sparsity"),
              ("mean L2 norm per image", "l2"), ("ablation: Δ mean D logit", "ablate_dlogit")]
    fig = Figure(figsize=(3.2 * 5, 3.4), layout="constrained")
    axes = fig.subplots(1, 5)
    for ax, (label, key) in zip(axes[:4], panels):
        ax.bar(x - w / 2, [stats[n][f"{key}_real"] for n in names], w, label="real", color="tab:blue")
        ax.bar(x + w / 2, [stats[n][f"{key}_fake"] for n in names], w, label="generated", color="tab:orange")
        ax.set_title(label, fontsize=9)
        ax.axhline(0, color="k", lw=0.5)
    axes[0].legend(fontsize=7)
    bars = axes[4].bar(x, [stats[n]["probe_acc"] for n in names], 0.6, color="tab:purple")
    axes[4].bar_label(bars, fmt="%.2f", fontsize=7)
    axes[4].axhline(0.5, color="k", ls="--", lw=0.8)
    axes[4].text(x[-1] + 0.45, 0.52, "chance", ha="right", va="bottom", fontsize=7)
    axes[4].set_ylim(0, 1.12)
    axes[4].set_title("linear probe: real vs generated (held-out acc.)", fontsize=9)
    for ax in axes:
        ax.set_xticks(x, names, rotation=30, fontsize=7, ha="right")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def attack_examples(path, groups, eps, title, panel=1.15) -> str:
    """Groups (name, originals, adversarials, logits before, after) side by side; rows: original,
    perturbation (colour scale = the largest |δ| shown), attacked."""
    orig = np.concatenate([g[1] for g in groups])
    adv = np.concatenate([g[2] for g in groups])
    before = np.concatenate([g[3] for g in groups])
    after = np.concatenate([g[4] for g in groups])
    names = [g[0] for g in groups for _ in range(len(g[1]))]
    delta = (adv - orig).mean(-1)
    vmax = float(np.abs(delta).max()) or 1.0
    fig = Figure(figsize=(panel * len(orig) + 1.6, (panel + 0.35) * 3 + 0.6), layout="constrained")
    axes = fig.subplots(3, 1)
    flipped = {i: "red" for i in range(len(orig)) if np.sign(after[i]) != np.sign(before[i])}
    _row(axes[0], _display_tiles(orig), top=[f"{n}\nD logit {b:+.2f}" for n, b in zip(names, before)],
         label="original")
    _row(axes[1], list(delta), "RdBu_r", -vmax, vmax, label="perturbation δ")
    _row(axes[2], _display_tiles(adv), top=[f"D logit {a:+.2f}" for a in after], top_colors=flipped,
         label="attacked")
    sm = cm.ScalarMappable(colors.Normalize(-vmax, vmax), "RdBu_r")
    cb = fig.colorbar(sm, ax=list(axes), shrink=0.6, aspect=20, pad=0.01)
    cb.set_label("δ ([−1, 1] units;\nscale = largest |δ|)", fontsize=7)
    cb.ax.tick_params(labelsize=7)
    fig.suptitle(title + f", ε = {eps:g}\n(red: D's decision flipped)", fontsize=9)
    return _save(fig, path)
