"""Pictures of a run and the page that shows them: sample grids, loss curves, report.html.

report.html is one self-contained page (relative links only) built from what the run folder holds:
config.json, run.json (training sessions: dates, devices, versions, config changes; ganjax/train/run_info.py),
metrics.jsonl, samples/*.png, eval.json, figures/*.png with their JSON. A run folder is data: writing the
report reads those files and executes nothing from them; every text taken from them is escaped.
"""
from __future__ import annotations

import datetime
import glob
import html
import json
import math
import os
import urllib.parse

import numpy as np
from PIL import Image

from ganjax.data import to_uint8


# -- image grids -------------------------------------------------------------------------------------------
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


def grid_scale(image_size: int) -> int:
    """How much a sample grid is enlarged so that small images stay legible (28 px → 2x, 8 px → 8x)."""
    return max(1, 64 // image_size)


def grid_image(images, nrow: int | None = None) -> np.ndarray:
    """The uint8 (H, W, C) picture save_grid writes: the mosaic, enlarged by grid_scale (nearest)."""
    s = grid_scale(np.asarray(images).shape[1])
    g = grid(images, nrow)
    return g.repeat(s, axis=0).repeat(s, axis=1) if s > 1 else g


def save_png(array: np.ndarray, path: str, scale: int = 1) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    im = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    from ganjax.atomic import save_image  # a new O_EXCL temporary file: never an existing file or symlink
    return save_image(im, path)


def save_grid(images, path: str, nrow: int | None = None) -> str:
    """A sample grid as PNG, enlarged so that small images stay legible."""
    h = np.asarray(images).shape[1]
    return save_png(grid(images, nrow), path, scale=grid_scale(h))


def save_figure(fig, path: str, dpi: int = 100) -> str:
    """Write a matplotlib figure to `path` atomically (a reader never sees half a PNG) and close it."""
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    from ganjax.atomic import replacing  # a new O_EXCL temporary file: never an existing file or symlink
    with replacing(path) as f:
        fig.savefig(f, dpi=dpi, format=os.path.splitext(path)[1].lstrip(".").lower() or "png")
    plt.close(fig)
    return path


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# -- loss curves ---------------------------------------------------------------------------------------------
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
    plt = _pyplot()
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
    plt = _pyplot()
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


# -- what the numbers mean -------------------------------------------------------------------------------
# (label, what good looks like) of eval.json's numbers; eval.json keys not listed here are shown by name.
EVAL_KEYS = {
    "frechet_distance": ("Fréchet distance (generated vs held-out real)",
                         "lower is better; compare it with the real-vs-real floor beside it"),
    "frechet_ratio": ("Fréchet distance ÷ real floor",
                      "1.0 is as close as real data; below 1.5 is good"),
    "inception_fid": ("Inception FID", "lower is better; comparable with papers only at 50 000 samples against "
                                       "the same reference set"),
    "fid": ("FID", "lower is better"),
    "kid": ("KID (kernel distance)", "0 when the distributions match; read it against its ± and the real floor"),
    "precision": ("precision (fidelity)", "share of generated images that look like real ones: higher is better, "
                                          "real data itself scores below 1"),
    "recall": ("recall (diversity)", "share of real images the generator covers: higher is better"),
    "density": ("density", "about 1 when generated images are spread like real ones; > 1 crowds the densest "
                           "real regions, < 1 falls off the real data"),
    "coverage": ("coverage", "share of real images with a generated neighbour: higher is better, near the "
                             "real floor is good"),
    "min_class_share": ("smallest class share", "0.10 for balanced digits; 0.08 or more means no class is "
                                                "neglected (mode collapse drives it to 0)"),
    "classes_at_least_5pct": ("classes with ≥ 5 % of samples", "all classes for a generator that makes every "
                                                               "digit"),
    "mean_confidence": ("classifier confidence on generated images",
                        "legible digits score near the classifier's confidence on real ones (about 0.9)"),
    "classifier_test_accuracy": ("evaluation classifier's accuracy on held-out reals",
                                 "how far to trust the class shares and features: above 0.9 is a reliable judge"),
    "psnr": ("PSNR of G(A) vs the true B (dB)", "higher is better; it must beat the identity baseline (A itself)"),
    "ssim": ("SSIM of G(A) vs the true B", "1 is identical; it must beat the identity baseline (A itself)"),
}
# Keys that describe how the evaluation was made: shown as a sentence above the table.
EVAL_META = {"step": "step", "num_samples": "generated samples", "fd_sample_size":
             "Fréchet sample size (each set)", "kid_subset_size": "KID subset size", "feature_space": "features",
             "experiment": "experiment", "task": "test set", "direction": "direction", "num_images": "test images",
             "crop_size": "crop size", "psnr_cap_db": "PSNR cap (identical images) dB"}
EVAL_HIDDEN = ("kid_std", "frechet_floor_real_vs_real", "real_vs_real", "class_share", "per_image")


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def eval_rows(result: dict) -> list[dict]:
    """The eval table: [{key, label, value, baseline, good}] with values as text; baseline is the real-vs-real
    floor (digit runs) or the identity translation (translation runs) where eval.json has one."""
    real = result.get("real_vs_real") if isinstance(result.get("real_vs_real"), dict) else {}
    rows = []

    def add(key, value, baseline=None):
        label, good = EVAL_KEYS.get(key, (key.replace("_", " "), ""))
        rows.append({"key": key, "label": label, "value": value, "baseline": baseline, "good": good})

    def pm(d, key):  # "value ± std" where a std is logged beside it
        v = d.get(key)
        s = d.get(f"{key}_std")
        return None if v is None else (f"{_fmt(v)} ± {_fmt(s)}" if isinstance(s, (int, float)) else _fmt(v))

    ordered = [k for k in EVAL_KEYS if k in result] + [k for k in result if k not in EVAL_KEYS]
    for key in ordered:
        v = result[key]
        if key in EVAL_META or key in EVAL_HIDDEN or key.startswith("identity_"):
            continue
        if key == "frechet_distance":
            add(key, _fmt(v), _fmt(result.get("frechet_floor_real_vs_real", real.get(key))))
        elif key == "frechet_ratio":
            add(key, _fmt(v), "1")
        elif key == "classes_at_least_5pct" and isinstance(result.get("class_share"), list):
            add(key, f"{v} / {len(result['class_share'])}")
        elif isinstance(v, (bool, str)):
            add(key, str(v))
        elif isinstance(v, (int, float)):
            ident = result.get(f"identity_{key}")
            base = pm(real, key) if key in real else (_fmt(ident) if ident is not None else None)
            add(key, pm(result, key), base)
        elif isinstance(v, list) and len(v) <= 12 and all(isinstance(x, (int, float)) for x in v):
            add(key, _fmt(v))
        elif isinstance(v, dict):
            for sub, sv in v.items():
                if isinstance(sv, (int, float)) and not isinstance(sv, bool):
                    add(f"{key}.{sub}", _fmt(sv))
    return rows


# -- the page ----------------------------------------------------------------------------------------------
def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _get(d, dotted: str, default=None):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return default
        d = d[part]
    return d


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def wall_time(rows: list[dict], sessions: list[dict]) -> tuple[float, int] | None:
    """(seconds spent training, sessions that trained): for each session, its last logged row's time minus
    its start (the time between sessions does not count). Without session records: first to last row."""
    times = [r["time"] for r in rows if isinstance(r.get("time"), (int, float))]
    if not times:
        return None
    starts = sorted(s["started"] for s in sessions if isinstance(s.get("started"), (int, float)))
    if not starts:
        return max(times) - min(times), 1
    total, trained = 0.0, 0
    for i, t0 in enumerate(starts):
        t1 = starts[i + 1] if i + 1 < len(starts) else math.inf
        inside = [t for t in times if t0 <= t < t1]
        if inside:
            total, trained = total + max(inside) - t0, trained + 1
    return total, trained


def run_facts(workdir: str) -> list[tuple[str, str]]:
    """[(label, value)] of the report's header, from config.json, run.json and metrics.jsonl."""
    cfg = _read_json(os.path.join(workdir, "config.json")) or {}
    info = _read_json(os.path.join(workdir, "run.json")) or {}
    sessions = [s for s in info.get("sessions", []) if isinstance(s, dict)]
    rows = [r for r in read_metrics(os.path.join(workdir, "metrics.jsonl")) if "step" in r and "event" not in r]
    last = sessions[-1] if sessions else {}
    facts = [("experiment", str(cfg.get("experiment", "?")))]
    if cfg.get("config_file"):  # experiments/NAME.py[:arg]: the folders above say little in a shared report
        path = str(cfg["config_file"])
        facts.append(("config", "/".join(path.replace("\\", "/").split("/")[-2:])))
    t0 = sessions[0].get("started") if sessions else None
    if not isinstance(t0, (int, float)) and os.path.exists(os.path.join(workdir, "config.json")):
        t0 = os.path.getmtime(os.path.join(workdir, "config.json"))  # a run without run.json
    if isinstance(t0, (int, float)):
        facts.append(("started", datetime.datetime.fromtimestamp(t0, datetime.timezone.utc)
                      .strftime("%Y-%m-%d %H:%M:%S UTC")))
    wt = wall_time(rows, sessions)
    if wt is not None:
        facts.append(("wall time", _duration(wt[0]) + (f" in {wt[1]} sessions" if wt[1] > 1 else "")))
    done = rows[-1]["step"] if rows else 0
    planned = _get(cfg, "train.steps")
    facts.append(("steps", f"{done:,} / {planned:,}" if isinstance(planned, int) else f"{done:,}"))
    batch = _get(cfg, "train.batch_size")
    if isinstance(batch, int):
        facts.append(("batch size", str(batch)))
    rates = [r["img_per_s"] for r in rows if isinstance(r.get("img_per_s"), (int, float))]
    if rates:
        facts.append(("img/s", f"{float(np.median(rates)):,.0f} (median of {len(rates)} logs; "
                               f"last {rates[-1]:,.0f})"))
    dev = last.get("devices") if isinstance(last.get("devices"), dict) else None
    if dev:
        used, avail = dev.get("count"), dev.get("available")
        text = f"{used} × {dev.get('kind', dev.get('platform', '?'))}"
        if isinstance(avail, int) and avail != used:
            text += f" (of {avail})"
        if isinstance(dev.get("processes"), int) and dev["processes"] > 1:
            text += f", {dev['processes']} processes"
        facts.append(("device", text))
    ver = last.get("versions") if isinstance(last.get("versions"), dict) else None
    if ver:
        facts.append(("software", " · ".join(f"{k} {v}" for k, v in ver.items())))
    else:
        import ganjax
        facts.append(("software", f"not recorded (this page: ganjax {ganjax.__version__})"))
    return facts


def config_changes(workdir: str) -> dict | None:
    """{key: {value, default}} of the latest training session; None when the run did not record them."""
    info = _read_json(os.path.join(workdir, "run.json")) or {}
    sessions = [s for s in info.get("sessions", []) if isinstance(s, dict)]
    changes = sessions[-1].get("config_changes") if sessions else None
    return changes if isinstance(changes, dict) else None


def _grid_columns(workdir: str) -> tuple[str, ...]:
    """Column captions of the run's sample grids (translation runs), from config.json's experiment."""
    from ganjax.recipes import grid_columns

    cfg = _read_json(os.path.join(workdir, "config.json"))
    return grid_columns(cfg.get("experiment", "")) if isinstance(cfg, dict) else ()


def _png_size(path: str) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        return 0, 0


METHODS = {"ig": "Integrated gradients", "saliency": "Saliency (|gradient|)", "gradxinput": "Gradient × input",
           "smoothgrad": "SmoothGrad"}


def figure_caption(name: str, info: dict | None) -> str:
    """One sentence on what an explain / attack figure shows, from its file name and its JSON record."""
    info = info if isinstance(info, dict) else {}
    stem = name[:-4] if name.endswith(".png") else name
    method = METHODS.get(info.get("method"), info.get("method") or "")
    if stem.startswith("attack_"):
        what = f"{str(info.get('method', '')).upper()} ({info.get('norm', '')})".strip()
        if stem.endswith("_examples"):
            return (f"{what} attack at the largest budget ε: real images pushed toward 'fake' and generated "
                    f"ones toward 'real', with D's scores before and after.")
        n = f" on {info['n_real']} real and {info['n_fake']} generated images" if "n_real" in info else ""
        return (f"Discriminator accuracy under the {what} attack as its budget ε grows{n}: a robust D "
                f"loses accuracy slowly.")
    if stem.startswith("explain_discriminator"):
        where = f"layer {info['layer']}" if info.get("layer") else "the input pixels"
        base = f", baseline {info['baseline']}" if info.get("method") == "ig" and info.get("baseline") else ""
        return (f"{method or 'Attribution'} of D's logit with respect to {where}{base}, for held-out real and "
                f"generated images: where the discriminator looks when it judges an image.")
    if stem.startswith("explain_generator"):
        target = f" ({info['target']})" if info.get("target") else ""
        if stem.endswith("_strips"):
            return (f"The most influential latent dimensions of one sample{target}, each moved from −3 to +3 "
                    f"standard deviations.")
        return (f"{method or 'Attribution'} of the generated image's target region{target} with respect to "
                f"the latent vector z: which latent dimensions matter most.")
    if stem == "explain_latent_interpolation":
        return "Spherical interpolation between random latent pairs: a smooth morph means a smooth latent space."
    if stem == "explain_latent_directions":
        return ("Principal directions of the generator's latent space (GANSpace-style PCA): one sample moved "
                "along each direction.")
    if stem == "explain_layers_features":
        return "Intermediate activations of G (one sample) and D (one real image), first 16 channels per layer."
    if stem == "explain_layers_stats":
        return ("Per-layer statistics of D on held-out real vs generated images, and the effect on D's logit of "
                "switching each layer's output off.")
    if stem == "explain_layers_top_activating":
        return "The held-out real images that activate D's most selective channels most."
    if stem.startswith("explain_translator"):
        net = info.get("net", "G")
        target = f" the {info['target']} of" if info.get("target") else ""
        return f"{method or 'Attribution'}: which input pixels make{target} {net}(A)."
    return stem.replace("_", " ").strip().capitalize() + "."


def _figure_record(path: str) -> tuple[dict | None, str | None]:
    """The JSON written beside a figure: the one whose name is the figure's, or the longest that starts it
    (attack_fgsm_linf.json for attack_fgsm_linf_examples.png, explain_latent.json for its figures)."""
    stem, best = os.path.basename(path)[:-4], None
    for c in glob.glob(os.path.join(os.path.dirname(path), "*.json")):
        base = os.path.basename(c)[:-5]
        if (stem == base or stem.startswith(base + "_")) and (best is None or len(base) > len(best[0])):
            best = (base, c)
    return (None, None) if best is None else (_read_json(best[1]), best[1])


CSS = """
:root{--fg:#1d2330;--muted:#5f6b7a;--line:#e3e7ee;--accent:#3b5bdb;--bg:#f6f7f9}
*{box-sizing:border-box}
body{font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);
 background:var(--bg);margin:0}
main{max-width:1120px;margin:0 auto;padding:28px 32px 48px}
header{background:#fff;border:1px solid var(--line);border-radius:10px;padding:20px 24px;margin-bottom:22px}
h1{font-size:24px;margin:0 0 2px}
.sub{color:var(--muted);margin:0 0 14px}
h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(245px,1fr));gap:10px 18px;margin:0}
dl.facts div{border-left:3px solid var(--accent);padding:2px 10px}
dt{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
dd{margin:0;font-weight:600;overflow-wrap:anywhere}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden;
 margin:6px 0 4px}
th,td{padding:6px 12px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
th{background:#eef1f6;font-size:13px}
th.num{text-align:right}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td code,p code{font-size:12px;color:var(--muted)}
td.good{color:var(--muted);font-size:13px;max-width:460px}
figure{display:inline-block;vertical-align:top;margin:8px 18px 14px 0;background:#fff;border:1px solid var(--line);
 border-radius:8px;padding:10px}
figcaption{color:var(--muted);font-size:13px;margin-top:6px;max-width:100%}
figure img{display:block;max-width:100%;height:auto}
img.pix{image-rendering:pixelated}
.cols{display:grid;font-size:12px;font-weight:600;text-align:center;margin-bottom:3px}
.pair{display:flex;flex-wrap:wrap;align-items:flex-start}
.thumbs figure{padding:6px}
.note{color:var(--muted);font-size:13px}
footer{margin-top:36px;color:var(--muted);font-size:13px}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
"""


class _Page:
    def __init__(self, workdir: str):
        self.workdir, self.parts, self.links = workdir, [], []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def src(self, path: str) -> str:
        """A link to a file of the run, relative and escaped; remembered for the tests."""
        rel = os.path.relpath(path, self.workdir)
        self.links.append(rel)
        return html.escape(urllib.parse.quote(rel.replace(os.sep, "/")), quote=True)

    def figure(self, path: str, caption: str, pix: bool = False, width: int | None = None,
               columns: tuple[str, ...] = ()) -> str:
        """<figure> with an image, an optional row of column labels above it, and a caption in words."""
        w = width or _png_size(path)[0] or None
        style = f' style="width:{w + 22}px;max-width:100%"' if w else ""
        cols = ""
        if columns:
            cells = "".join(f"<span>{html.escape(c)}</span>" for c in columns)
            cols = f'<div class="cols" style="grid-template-columns:repeat({len(columns)},1fr)">{cells}</div>'
        img = (f'<img src="{self.src(path)}" alt="{html.escape(caption, quote=True)}"'
               f'{" class=pix" if pix else ""}{f" width={w}" if w else ""}>')
        return f"<figure{style}>{cols}{img}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _step_of(path: str) -> int:
    try:
        return int(os.path.basename(path)[5:-4])
    except ValueError:
        return -1


def _is_stale(target: str, source: str) -> bool:
    return os.path.exists(source) and (not os.path.exists(target)
                                       or os.path.getmtime(target) < os.path.getmtime(source))


def write_html(workdir: str) -> str:
    """report.html: the header (what, when, how long, where), samples beside real images, loss curves, the
    evaluation table and class-share chart, explain / attack figures, and the sample grids of earlier steps.
    Refreshes losses.png and eval/class_share.png when their data is newer. Returns the page's path."""
    workdir = os.path.abspath(os.path.expanduser(workdir))
    page = _Page(workdir)
    cfg = _read_json(os.path.join(workdir, "config.json")) or {}
    name = os.path.basename(workdir)
    facts = run_facts(workdir)
    page.add(f"<header><h1>{html.escape(name)}</h1><p class=sub>ganjax run report · "
             f"{html.escape(str(cfg.get('experiment', '')))}</p><dl class=facts>"
             + "".join(f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd></div>" for k, v in facts)
             + "</dl>" + _changes_html(config_changes(workdir)) + "</header>")
    _samples_section(page, workdir)
    metrics, losses = os.path.join(workdir, "metrics.jsonl"), os.path.join(workdir, "losses.png")
    if _is_stale(losses, metrics):
        plot_losses(metrics, losses)
    if os.path.exists(losses):
        page.add("<h2 id=training>Training curves</h2>" + page.figure(
            losses, "Every logged term on its own scale, against the training step (faint: logged values, bold: "
                    "moving average on long runs). D(real) and D(fake) are D's mean probabilities that an image "
                    "is real; near 0.5 for both means D can no longer tell them apart."))
    _eval_section(page, workdir)
    _figures_section(page, workdir)
    _progress_section(page, workdir)
    files = [f for f in ("config.json", "run.json", "metrics.jsonl", "eval.json") if
             os.path.exists(os.path.join(workdir, f))]
    tb = os.path.isdir(os.path.join(workdir, "tensorboard"))
    import ganjax
    page.add("<footer>In this folder: " + ", ".join(f'<a href="{page.src(os.path.join(workdir, f))}">{f}</a>'
                                                    for f in files)
             + ", checkpoints/ (orbax)" + (", tensorboard/ (view with <code>tensorboard --logdir "
                                           f"{html.escape(os.path.dirname(workdir))}</code>)" if tb else "")
             + f". Written by ganjax {html.escape(ganjax.__version__)} on "
             + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") + ".</footer>")
    text = ("<!doctype html>\n<html lang=en><meta charset=utf-8><meta name=viewport "
            f"content=\"width=device-width,initial-scale=1\"><title>{html.escape(name)} · ganjax report</title>"
            f"<style>{CSS}</style><main>\n" + "\n".join(page.parts) + "\n</main></html>\n")
    out = os.path.join(workdir, "report.html")
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out)
    return out


def _changes_html(changes: dict | None) -> str:
    if changes is None:
        return ("<p class=note>Config keys changed from the experiment's defaults: not recorded (the run was "
                "started from Python, or by an older ganjax); config.json holds the full config.</p>")
    if not changes:
        return "<p class=note>Config: the experiment's defaults, unchanged.</p>"
    rows = "".join(f"<tr><td><code>{html.escape(str(k))}</code></td><td>{html.escape(_fmt(_get(v, 'value')))}</td>"
                   f"<td class=good>{html.escape(_fmt(_get(v, 'default')))}</td></tr>"
                   for k, v in sorted(changes.items()))
    return (f"<h3>Config keys changed from the experiment's defaults ({len(changes)})</h3>"
            f"<table><tr><th>key</th><th>this run</th><th>default</th></tr>{rows}</table>")


def _samples_section(page: _Page, workdir: str) -> None:
    samples = sorted(glob.glob(os.path.join(workdir, "samples", "step_*.png")), key=_step_of)
    real = os.path.join(workdir, "samples", "real.png")
    if not samples:
        return
    latest, step = samples[-1], _step_of(samples[-1])
    columns = _grid_columns(workdir)
    page.add("<h2 id=samples>Samples</h2>")
    if columns:
        w, _ = _png_size(latest)
        width = max(w, min(1060, 130 * len(columns)))
        page.add(page.figure(latest, f"Test images at step {step:,}, one per row; left to right: "
                                     + " | ".join(columns) + ". Outputs come from the generator's moving "
                                                             "average where the run keeps one.",
                             pix=True, width=width, columns=columns))
        return
    figs = [page.figure(latest, f"Generated at step {step:,} (the latest), from fixed noise, by the "
                                f"generator's moving average where the run keeps one.", pix=True)]
    if os.path.exists(real):
        figs.append(page.figure(real, "Real training images, for comparison (a fixed random choice).", pix=True))
    page.add("<div class=pair>" + "".join(figs) + "</div>")


def _progress_section(page: _Page, workdir: str) -> None:
    samples = sorted(glob.glob(os.path.join(workdir, "samples", "step_*.png")), key=_step_of)[:-1]
    if not samples:
        return
    columns = _grid_columns(workdir)
    thumbs = "".join(page.figure(p, f"step {_step_of(p):,}", pix=True, width=min(_png_size(p)[0] or 240, 240))
                     for p in reversed(samples))
    page.add("<h2 id=progress>Earlier samples</h2><p class=note>The same fixed inputs at earlier steps, newest "
             "first" + (" (columns as above)" if columns else "") + ".</p><div class=thumbs>" + thumbs + "</div>")


def _eval_section(page: _Page, workdir: str) -> None:
    path = os.path.join(workdir, "eval.json")
    result = _read_json(path)
    if not isinstance(result, dict):
        return
    rows = eval_rows(result)
    meta = [f"{label}: {_fmt(result[k])}" for k, label in EVAL_META.items() if k in result]
    translation = any(k.startswith("identity_") for k in result)
    base_head = "identity (A as output)" if translation else "real vs real (floor)"
    has_base = any(r["baseline"] not in (None, "") for r in rows)
    head = "<tr><th>measure</th><th class=num>this run</th>" + (f"<th class=num>{base_head}</th>" if has_base else "") \
           + "<th>what good looks like</th></tr>"
    body = "".join(
        f"<tr><td>{html.escape(r['label'])}<br><code>{html.escape(r['key'])}</code></td>"
        f"<td class=num>{html.escape(str(r['value']))}</td>"
        + (f"<td class=num>{html.escape(str(r['baseline'] or ''))}</td>" if has_base else "")
        + f"<td class=good>{html.escape(r['good'])}</td></tr>" for r in rows)
    note = ("The baseline column scores the input A itself as the translation: a model must beat it."
            if translation else "The floor column scores as many real training images against the held-out "
                                "ones: what a perfect generator would reach at this sample size.")
    page.add(f"<h2 id=evaluation>Evaluation</h2><p class=note>{html.escape('; '.join(meta))}.</p>"
             f"<table>{head}{body}</table><p class=note>{html.escape(note)} All numbers: "
             f'<a href="{page.src(path)}">eval.json</a>.</p>')
    shares = result.get("class_share")
    if isinstance(shares, list) and shares and all(isinstance(s, (int, float)) for s in shares):
        chart = os.path.join(workdir, "eval", "class_share.png")
        if _is_stale(chart, path):
            plot_class_shares([float(s) for s in shares], chart, result.get("num_samples"))
        k = len(shares)
        page.add(page.figure(chart, f"Share of each class among {result.get('num_samples', 'the')} generated "
                                    f"images, as the evaluation classifier reads them; the dashed line is the "
                                    f"uniform share 1/{k} = {1 / k:.3g}, red bars are under half of it. A "
                                    f"collapsed generator piles onto a few classes."))
    per = result.get("per_image")
    if isinstance(per, list) and per and all(isinstance(p, dict) for p in per):
        keys = list(dict.fromkeys(k for p in per[:200] for k in p))
        body = "".join("<tr>" + "".join(f"<td{'' if k == 'name' else ' class=num'}>{html.escape(_fmt(p.get(k, '')))}"
                                        "</td>" for k in keys) + "</tr>" for p in per[:200])
        more = f" (first 200 of {len(per)})" if len(per) > 200 else ""
        page.add(f"<details><summary>Per-image results{more}</summary><table><tr>"
                 + "".join(f"<th>{html.escape(k)}</th>" for k in keys) + f"</tr>{body}</table></details>")


def _figures_section(page: _Page, workdir: str) -> None:
    figures = sorted(glob.glob(os.path.join(workdir, "figures", "*.png")))
    if not figures:
        return
    parts = []
    for p in figures:
        info, record = _figure_record(p)
        cap = figure_caption(os.path.basename(p), info)
        fig = page.figure(p, cap)
        if record:
            link = f' <a href="{page.src(record)}">numbers (JSON)</a>'
            fig = fig.replace("</figcaption>", link + "</figcaption>")
        parts.append(fig)
    page.add("<h2 id=analysis>Analysis (ganjax explain / attack)</h2>" + "".join(parts))
