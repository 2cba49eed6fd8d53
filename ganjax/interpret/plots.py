"""Figures of `ganjax explain` / `ganjax attack` (matplotlib Agg, no pyplot state).

Built on ganjax.interpret.figures: images are NHWC in [-1, 1]; heat maps are Captum-style
(channel-summed, sign-filtered, scaled by the outlier percentile, clipped to [-1, 1]).
"""
from __future__ import annotations

import numpy as np
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


def _box(ax, box, color="yellow", ls="-"):
    if box is not None:
        ax.add_patch(Rectangle((box.x0 - 0.5, box.y0 - 0.5), box.x1 - box.x0, box.y1 - box.y0,
                               fill=False, edgecolor=color, linewidth=1.2, linestyle=ls))


def attribution_grid(path, groups, sign, outlier_perc, title, outputs=None, box=None,
                     panel=1.15) -> str:
    """Per group (name, images, attrs, column titles): rows image / blended heat map / heat map.

    ``outputs=(label, images)`` adds a row of model outputs with the target ``box`` drawn (translator);
    then the box is also drawn dashed on the inputs.
    """
    cols = min(MAX_COLS, max(len(g[1]) for g in groups))
    rows_per = 3 + (outputs is not None)
    cmap, vmin, vmax = _CMAPS[sign]
    fig = Figure(figsize=(panel * cols + 1.6, panel * rows_per * len(groups) + 0.6), layout="constrained")
    axes = fig.subplots(rows_per * len(groups), cols, squeeze=False)
    heat_axes = []
    for gi, (name, images, attrs, titles) in enumerate(groups):
        r0 = gi * rows_per
        for i in range(cols):
            if i >= len(images):
                for r in range(rows_per):
                    axes[r0 + r, i].set_visible(False)
                continue
            shown = _show(axes[r0, i], images[i])
            axes[r0, i].set_title(titles[i], fontsize=7)
            heat = normalize_attr(attrs[i], sign, outlier_perc)
            grey = shown if shown.ndim == 2 else shown.mean(-1)
            axes[r0 + 1, i].imshow(grey, cmap="gray", vmin=0, vmax=1)
            axes[r0 + 1, i].imshow(heat, cmap=cmap, vmin=vmin, vmax=vmax, alpha=0.55)
            axes[r0 + 2, i].imshow(heat, cmap=cmap, vmin=vmin, vmax=vmax)
            for r in range(3):
                _box(axes[r0 + r, i], box, "yellow" if r < 2 else "black", "--")
            if outputs is not None:
                _show(axes[r0 + 3, i], outputs[1][i])
                _box(axes[r0 + 3, i], box)
        for r, lab in enumerate([name, "blended", "heat map"] + ([outputs[0]] if outputs else [])):
            axes[r0 + r, 0].set_ylabel(lab, fontsize=8)
        heat_axes += list(axes[r0 + 1:r0 + 3].ravel())
    for ax in axes.ravel():
        _clean(ax)
    sm = cm.ScalarMappable(colors.Normalize(vmin, vmax), cmap)
    cb = fig.colorbar(sm, ax=heat_axes, shrink=0.8, aspect=25, pad=0.01)
    cb.set_label(f"scaled attribution ({_SIGN_NOTE[sign]})", fontsize=7)
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
    fig = Figure(figsize=(panel * c + 0.8, panel * r + 0.7), layout="constrained")
    axes = fig.subplots(r, c, squeeze=False)
    for i in range(r):
        for j in range(c):
            ax = axes[i, j]
            _show(ax, strips[i, j])
            _box(ax, box)
            _clean(ax)
            if values is not None:
                ax.set_xlabel(f"{values[i, j]:+.2f}", fontsize=7, labelpad=1)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=8)
            if i == 0:
                ax.set_title(col_labels[j], fontsize=8)
    fig.suptitle(title, fontsize=8, wrap=True)
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
    fig = Figure(figsize=(panel * k + 0.9, panel * r + 0.6), layout="constrained")
    axes = fig.subplots(r, k, squeeze=False)
    for i, ch in enumerate(channels):
        for j in range(k):
            ax = axes[i, j]
            _show(ax, images[idx[ch, j]])
            _clean(ax)
            ax.set_xlabel(f"{scores[idx[ch, j], ch]:.2f}", fontsize=6, labelpad=1)
        axes[i, 0].set_ylabel(f"ch {ch}", fontsize=8)
    fig.suptitle(title, fontsize=8, wrap=True)
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
    axes[4].bar(x, [stats[n]["probe_acc"] for n in names], 0.6, color="tab:purple")
    axes[4].axhline(0.5, color="k", ls="--", lw=0.8, label="chance")
    axes[4].set_ylim(0, 1.02)
    axes[4].set_title("linear probe: real vs generated", fontsize=9)
    axes[4].legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(x, names, rotation=30, fontsize=7, ha="right")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def attack_examples(path, groups, eps, title, panel=1.15) -> str:
    """Groups (name, originals, adversarials, logits before, after) side by side; rows: original,
    perturbation (colour scale = the largest |δ| shown), attacked."""
    cols = sum(len(g[1]) for g in groups)
    fig = Figure(figsize=(panel * cols + 1.6, panel * 3 + 0.8), layout="constrained")
    axes = fig.subplots(3, cols, squeeze=False)
    vmax = max(float(np.abs(g[2] - g[1]).max()) for g in groups) or 1.0
    c = 0
    for name, orig, adv, before, after in groups:
        for i in range(len(orig)):
            _show(axes[0, c], orig[i])
            axes[0, c].set_title(f"{name}\nD logit {before[i]:+.2f}", fontsize=7)
            axes[1, c].imshow((adv[i] - orig[i]).mean(-1), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            _show(axes[2, c], adv[i])
            flipped = np.sign(after[i]) != np.sign(before[i])
            axes[2, c].set_title(f"D logit {after[i]:+.2f}", fontsize=7, color="red" if flipped else "black")
            c += 1
    for r, lab in enumerate(["original", "perturbation δ", "attacked"]):
        axes[r, 0].set_ylabel(lab, fontsize=8)
    for ax in axes.ravel():
        _clean(ax)
    sm = cm.ScalarMappable(colors.Normalize(-vmax, vmax), "RdBu_r")
    cb = fig.colorbar(sm, ax=axes.ravel().tolist(), shrink=0.6, aspect=20, pad=0.01)
    cb.set_label("δ ([−1, 1] units;\nscale = largest |δ|)", fontsize=7)
    cb.ax.tick_params(labelsize=7)
    fig.suptitle(title + f", ε = {eps:g}\n(red: D's decision flipped)", fontsize=9)
    return _save(fig, path)
