"""Pictures of a run: sample grids, loss curves."""
from __future__ import annotations

import json
import math
import os

import numpy as np
from PIL import Image

from ganjax.data import to_uint8


def grid(images, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) images, floats in [-1, 1] or uint8 pixels, → one uint8 (rows·H, cols·W, C) mosaic."""
    x = np.asarray(images)
    x = x if x.dtype == np.uint8 else to_uint8(x)
    n, h, w, c = x.shape
    cols = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = x[i]
    return out


def save_png(array: np.ndarray, path: str, scale: int = 1) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    im = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    tmp = path + ".tmp" + (os.path.splitext(path)[1] or ".png")  # Pillow picks the format by suffix
    im.save(tmp)
    os.replace(tmp, path)
    return path


def save_grid(images, path: str, nrow: int | None = None) -> str:
    """A sample grid as PNG, enlarged so that small images stay legible."""
    h = np.asarray(images).shape[1]
    return save_png(grid(images, nrow), path, scale=max(1, 64 // h))


def read_metrics(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_losses(metrics_path: str, out_path: str, keys: tuple[str, ...] | None = None) -> str | None:
    """Loss curves from metrics.jsonl: the totals (`*loss`), the terms they are made of when logged
    (CycleGAN's G_A, cycle_A, idt_A ...; pix2pix's G_GAN, G_L1), and D's outputs on real / fake."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(metrics_path) if "step" in r and "event" not in r]
    if not rows:
        return None
    keys = keys or tuple(k for k in rows[-1] if k.endswith("loss"))
    probs = [k for k in ("d_real", "d_fake") if k in rows[-1]]
    not_terms = {"step", "time", "img_per_s", *keys, *probs}
    terms = [k for k, v in rows[-1].items() if k not in not_terms and not k.endswith("grad_norm")
             and isinstance(v, (int, float))]
    panels = 1 + bool(terms) + bool(probs)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.6), squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, names, title in ((axes[0, 0], keys, "losses"), (axes[0, 1] if terms else None, terms, "loss terms")):
        if ax is None:
            continue
        for k in names:
            ax.plot(steps, [r.get(k, np.nan) for r in rows], label=k)
        ax.set(xlabel="step", title=title)
        ax.legend(fontsize=7, ncol=2)
    if probs:
        ax = axes[0, -1]
        for k in probs:
            ax.plot(steps, [r[k] for r in rows], label={"d_real": "D(real)", "d_fake": "D(fake)"}[k])
        ax.set(xlabel="step", title="discriminator output", ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, out_path, dpi=100)


def save_figure(fig, path: str, dpi: int = 100) -> str:
    """Write a matplotlib figure to `path` atomically (a reader never sees half a PNG) and close it."""
    import matplotlib.pyplot as plt

    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _shorten_json(text: str, rows: int = 5) -> str:
    """JSON text for the page: lists longer than 2·rows (e.g. per-image results) cut to their first rows."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    short = {k: (v[:rows] + [f"... {len(v) - rows} more in the file"] if isinstance(v, list) and len(v) > 2 * rows
                 else v) for k, v in data.items()}
    return json.dumps(short, indent=1)


def _grid_columns(workdir: str) -> tuple[str, ...]:
    """Column captions of the run's sample grids (translation runs), from config.json's experiment."""
    from ganjax.recipes import grid_columns

    try:
        with open(os.path.join(workdir, "config.json")) as f:
            return grid_columns(json.load(f).get("experiment", ""))
    except (OSError, ValueError):
        return ()


def write_html(workdir: str) -> str:
    """report.html: loss curves, the sample grid of every saved step (newest first), figures, eval results."""
    import glob
    import html

    rel = lambda p: os.path.relpath(p, workdir)
    parts = [f"<h1>{html.escape(os.path.basename(os.path.abspath(workdir)))}</h1>"]
    if os.path.exists(os.path.join(workdir, "losses.png")):
        parts.append('<h2>Losses</h2><img src="losses.png">')
    for name in ("eval.json",):
        path = os.path.join(workdir, name)
        if os.path.exists(path):
            with open(path) as f:
                parts.append(f"<h2>{name}</h2><pre>{html.escape(_shorten_json(f.read()))}</pre>")
    figures = sorted(glob.glob(os.path.join(workdir, "figures", "*.png")))
    if figures:
        parts.append("<h2>Figures</h2>" + "".join(
            f'<figure><img src="{rel(p)}"><figcaption>{html.escape(os.path.basename(p))}</figcaption></figure>'
            for p in figures))
    samples = sorted(glob.glob(os.path.join(workdir, "samples", "step_*.png")), reverse=True)
    if samples:
        columns = _grid_columns(workdir)
        if columns:
            parts.append("<h2>Samples</h2><p>Each row, left to right: " + " | ".join(map(html.escape, columns))
                         + "</p>")
        parts.append(("" if columns else "<h2>Samples</h2>") + "".join(
            f'<h3>{html.escape(os.path.basename(p)[:-4])}</h3><img src="{rel(p)}">' for p in samples))
    page = ("<!doctype html><meta charset=utf-8><title>ganjax run</title><style>body{font-family:sans-serif;"
            "margin:2em}img{max-width:100%;image-rendering:pixelated}figure{display:inline-block}</style>"
            + "\n".join(parts))
    out = os.path.join(workdir, "report.html")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, out)
    return out
