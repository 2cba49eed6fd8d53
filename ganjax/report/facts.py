"""What report.html says about a run: sessions, wall time, config changes, figure captions.

Everything comes from the run folder's files; nothing in them is executed."""
from __future__ import annotations

import datetime
import glob
import json
import math
import os

import numpy as np
from PIL import Image

from ganjax.report.curves import read_metrics


def read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def dotted_get(d, dotted: str, default=None):
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
    cfg = read_json(os.path.join(workdir, "config.json")) or {}
    info = read_json(os.path.join(workdir, "run.json")) or {}
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
    planned = dotted_get(cfg, "train.steps")
    facts.append(("steps", f"{done:,} / {planned:,}" if isinstance(planned, int) else f"{done:,}"))
    batch = dotted_get(cfg, "train.batch_size")
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
    info = read_json(os.path.join(workdir, "run.json")) or {}
    sessions = [s for s in info.get("sessions", []) if isinstance(s, dict)]
    changes = sessions[-1].get("config_changes") if sessions else None
    return changes if isinstance(changes, dict) else None


def grid_columns(workdir: str) -> tuple[str, ...]:
    """Column captions of the run's sample grids (translation runs), from config.json's experiment."""
    from ganjax.recipes import grid_columns

    cfg = read_json(os.path.join(workdir, "config.json"))
    return grid_columns(cfg.get("experiment", "")) if isinstance(cfg, dict) else ()


def png_size(path: str) -> tuple[int, int]:
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


def figure_record(path: str) -> tuple[dict | None, str | None]:
    """The JSON written beside a figure: the one whose name is the figure's, or the longest that starts it
    (attack_fgsm_linf.json for attack_fgsm_linf_examples.png, explain_latent.json for its figures)."""
    stem, best = os.path.basename(path)[:-4], None
    for c in glob.glob(os.path.join(os.path.dirname(path), "*.json")):
        base = os.path.basename(c)[:-5]
        if (stem == base or stem.startswith(base + "_")) and (best is None or len(base) > len(best[0])):
            best = (base, c)
    return (None, None) if best is None else (read_json(best[1]), best[1])
