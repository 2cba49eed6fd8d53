"""Loss curves (metrics.jsonl) and class-share bars (eval.json) as figures."""
from __future__ import annotations

import json
import math
import os

import numpy as np

from ganjax.report.images import pyplot, save_figure


def read_metrics(path: str) -> list[dict]:
    """The rows of metrics.jsonl; a torn last line (a crash mid-write) is skipped."""
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line) if line.strip() else None
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


# What each logged number is (the panel titles of losses.png).
TERM_NAMES = {
    "d_loss": "D loss", "g_loss": "G loss (total)",
    "G_GAN": "G adversarial term", "G_L1": "G L1 to the true B (× λ_L1)", "G_L2": "G squared error to the true B (× λ_L1)",
    "G_A": "G_A adversarial (A→B)", "G_B": "G_B adversarial (B→A)",
    "D_A": "D_A loss (judges B)", "D_B": "D_B loss (judges A)",
    "cycle_A": "cycle A→B→A (× λ_A)", "cycle_B": "cycle B→A→B (× λ_B)",
    "idt_A": "identity G_A(B) ≈ B", "idt_B": "identity G_B(A) ≈ A",
    "r1": "R1 penalty on reals", "gp": "gradient penalty",
    "d_grad_norm": "‖∇D‖ gradient norm", "g_grad_norm": "‖∇G‖ gradient norm",
}
NOT_PLOTTED = ("step", "time", "img_per_s", "event")
D_OUTPUTS = ("d_real", "d_fake")


def loss_panels(rows: list[dict], keys: tuple[str, ...] | None = None) -> list[tuple[str, list[str]]]:
    """[(title, metric keys)] of losses.png: one panel per logged term, each on its own scale (total losses
    first, then the terms, D's mean outputs on real and fake together on the probability scale, then the
    gradient norms)."""
    seen: dict[str, None] = {}
    for r in rows:
        for k, v in r.items():
            if k not in NOT_PLOTTED and isinstance(v, (int, float)) and not isinstance(v, bool):
                seen.setdefault(k)
    names = list(keys) if keys else list(seen)
    totals = [k for k in names if k.endswith("loss")]
    grads = [k for k in names if k.endswith("grad_norm")]
    probs = [k for k in D_OUTPUTS if k in names]
    terms = [k for k in names if k not in totals + grads + probs]
    title = lambda k: f"{k}: {TERM_NAMES[k]}" if k in TERM_NAMES else k
    panels = [(title(k), [k]) for k in totals + terms]
    if probs:
        panels.append(("D(real) and D(fake): D's mean output", probs))
    return panels + [(title(k), [k]) for k in grads]


def losses_figure(rows: list[dict], keys: tuple[str, ...] | None = None):
    """A matplotlib figure of small multiples (see loss_panels), or None without rows."""
    rows = [r for r in rows if "step" in r and "event" not in r]
    panels = loss_panels(rows, keys)
    if not panels:
        return None
    plt = pyplot()
    ncols = min(4, len(panels))
    nrows = int(math.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.5 * nrows), squeeze=False)
    steps = np.array([r["step"] for r in rows], float)
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.remove()
            continue
        title, names = panels[i]
        for k in names:
            y = np.array([r.get(k, np.nan) if isinstance(r.get(k), (int, float)) else np.nan for r in rows], float)
            label = {"d_real": "D(real)", "d_fake": "D(fake)"}.get(k, k)
            if len(y) > 60:  # raw values faint, a moving average on top
                ax.plot(steps, y, lw=0.7, alpha=0.35, color=f"C{names.index(k)}")
                w = max(3, len(y) // 30)
                smooth = np.convolve(np.nan_to_num(y), np.ones(w) / w, mode="valid")
                ax.plot(steps[w - 1:], smooth, lw=1.6, color=f"C{names.index(k)}", label=label)
            else:
                ax.plot(steps, y, lw=1.4, marker="o" if len(y) <= 20 else None, ms=3, label=label)
        if names[0] in D_OUTPUTS:
            ax.set_ylim(0, 1)
            ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
            ax.legend(fontsize=7, loc="best")
        elif names[0].endswith("grad_norm"):  # log scale where norms span decades (vanishing / exploding)
            y = np.array([r.get(names[0], np.nan) for r in rows], float)
            if np.nanmin(y) > 0 and np.nanmax(y) > 20 * np.nanmin(y):
                ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
        if i >= len(panels) - ncols:
            ax.set_xlabel("step", fontsize=8)
    fig.tight_layout()
    return fig


def plot_losses(metrics_path: str, out_path: str, keys: tuple[str, ...] | None = None) -> str | None:
    """losses.png from metrics.jsonl: small multiples, one panel (and scale) per logged term."""
    fig = losses_figure(read_metrics(metrics_path), keys)
    return None if fig is None else save_figure(fig, out_path, dpi=90)


def plot_class_shares(shares: list[float], out_path: str, n: int | None = None) -> str:
    """A bar chart of the share of each class among generated images, the uniform share 1/K marked."""
    plt = pyplot()
    k = len(shares)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.42 * k + 1.5), 2.8))
    uniform = 1.0 / k
    colors = ["#c0392b" if s < 0.5 * uniform else "#4c72b0" for s in shares]
    ax.bar(range(k), shares, color=colors)
    ax.axhline(uniform, color="k", ls="--", lw=1, label=f"uniform share 1/{k}")
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    ax.set_xticks(range(k))
    ax.set_xlabel("class (as the evaluation classifier reads it)", fontsize=8)
    ax.set_ylabel("share of generated" + (f" ({n})" if n else ""), fontsize=8)
    ax.set_ylim(0, max(max(shares, default=0), uniform) * 1.15 + 1e-9)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.25)
    fig.tight_layout()
    return save_figure(fig, out_path, dpi=90)
