"""The sweep summary: a table of each member's overrides, status and final metrics (terminal and
summary.csv), the best member by a chosen metric, and summary.png comparing loss curves and samples."""
from __future__ import annotations

import csv
import glob
import json
import math
import os

import numpy as np

from ganjax.errors import UsageError
from ganjax import report
from ganjax.report import read_metrics
from ganjax.train.workdir import SWEEP_RECORD as RECORD

# Metrics where larger is better (everything else: smaller is better); `--best NAME:max` overrides.
HIGHER_IS_BETTER = {"classes_at_least_5pct", "min_class_share", "mean_confidence", "classifier_test_accuracy",
                    "precision", "recall", "coverage", "psnr", "ssim", "inception_precision", "inception_recall",
                    "inception_coverage", "img_per_s"}
SKIP_EVAL = {"step", "num_samples", "fd_sample_size", "num_images", "crop_size", "psnr_cap_db", "kid_subset_size",
             "n_real", "n_fake"}
# --best auto: the first of these that members have. Evaluated quality first (digit GANs: the Fréchet ratio
# to the real-vs-real floor; translation runs: PSNR against the truth; else Inception FID); a GAN loss last.
AUTO_BEST = ("frechet_ratio", "psnr", "inception_fid", "g_loss")
# --best auto on digit GANs picks among the members whose rarest class has at least this share of the
# samples (`ganjax eval`'s bar for "no class neglected"), when any has: the Fréchet distance in the
# classifier's features moves little when one class of ten is missing or rare, so a member that drops a
# digit can still have the lowest ratio.
MIN_CLASS_SHARE = 0.08


def load_record(root: str) -> dict:
    path = os.path.join(root, RECORD)
    if not os.path.isfile(path):
        raise UsageError(f"{root} holds no ganjax sweep (no {RECORD})")
    with open(path) as f:
        return json.load(f)


def member_rows(root: str, record: dict) -> tuple[list[dict], list[str], list[str]]:
    """(rows, swept keys, metric names): one row per member with its overrides, status and final metrics."""
    keys: list[str] = []
    for m in record["members"]:
        keys += [k for k in m["overrides"] if k not in keys]
    rows, metric_names = [], []
    for m in record["members"]:
        run = os.path.join(root, m["name"])
        logged = [r for r in read_metrics(os.path.join(run, "metrics.jsonl")) if "event" not in r]
        final = {k: v for k, v in (logged[-1] if logged else {}).items()
                 if k not in ("step", "time") and isinstance(v, (int, float))}
        ev = _eval_results(run, m["step"])
        if m["status"] == "failed":
            status = f"failed at step {m['failed_at']} ({m['failed_term']})"
        elif m["status"] == "done":
            status = "done"
        else:
            status = f"{m['status']} at step {m['step']}"
        row = {"member": m["name"], "program": m["program"], **{k: m["overrides"].get(k, "") for k in keys},
               "status": status, "step": m["step"], **final, **ev}
        metric_names += [k for k in (*final, *ev) if k not in metric_names]
        rows.append(row)
    return rows, keys, metric_names


def _eval_results(run: str, step: int | None = None) -> dict:
    """The numbers of RUN/eval.json, if it evaluated checkpoint `step` (None: any step)."""
    path = os.path.join(run, "eval.json")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path) as f:
            ev = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(ev, dict) or (step is not None and ev.get("step") != step):
        return {}
    return {k: v for k, v in ev.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in SKIP_EVAL}


def choose_best(rows: list[dict], metric_names: list[str], best: str = "auto") -> tuple[dict | None, str, str, str]:
    """(best row or None, metric, "min"|"max", a note on the rule or ""); failed members never win.

    best "auto": the first metric of AUTO_BEST the members have; for frechet_ratio, only the members whose
    min_class_share is at least MIN_CLASS_SHARE compete, when any is (the note says which rule applied).
    "METRIC[:min|max]": that metric alone."""
    name, _, mode = best.partition(":")
    auto = name == "auto"
    if auto:
        name = next((m for m in AUTO_BEST if m in metric_names), "")
    if name and name not in metric_names:
        raise UsageError(f"--best {name!r} is not a metric of this sweep; have: {', '.join(metric_names)}")
    mode = mode or ("max" if name in HIGHER_IS_BETTER else "min")
    if mode not in ("min", "max"):
        raise UsageError(f"--best {best!r}: write METRIC, METRIC:min or METRIC:max")
    ok = [r for r in rows if not r["status"].startswith("failed") and _finite(r.get(name))]
    note = ""
    if auto and name == "frechet_ratio" and ok:
        covered = [r for r in ok if _finite(r.get("min_class_share")) and r["min_class_share"] >= MIN_CLASS_SHARE]
        share = f"min_class_share >= {MIN_CLASS_SHARE:g}"  # every class has at least 8 % of the samples
        note = f"among members with {share}" if covered else f"no member has {share}"
        ok = covered or ok
    if not name or not ok:
        return None, name, mode, note
    pick = min if mode == "min" else max
    return pick(ok, key=lambda r: r[name]), name, mode, note


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_table(rows: list[dict], columns: list[str], best: dict | None) -> str:
    cells = [[("* " if r is best else "  ") + r["member"]] + [_cell(r.get(c, "")) for c in columns[1:]]
             for r in rows]
    header = ["  member"] + columns[1:]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    fmt = lambda cs: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cs, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(c) for c in cells])


def write_csv(rows: list[dict], columns: list[str], path: str, best: dict | None) -> str:
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns + ["best"])
        for r in rows:
            w.writerow([r.get(c, "") for c in columns] + [int(r is best)])
    os.replace(tmp, path)
    return path


def plot(root: str, rows: list[dict], keys: list[str], path: str, best: dict | None,
         curves: tuple[str, ...] = ("d_loss", "g_loss")) -> str:
    """Loss curves of all members (one panel per loss) above each member's latest sample grid."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    n = len(rows)
    cols = min(n, 8)
    grid_rows = math.ceil(n / cols)
    fig = plt.figure(figsize=(max(10, 2 * cols), 3.6 + 2.3 * grid_rows))
    spec = fig.add_gridspec(1 + grid_rows, 2 * cols, height_ratios=[1.6] + [1] * grid_rows)
    colors = plt.get_cmap("tab20" if n > 10 else "tab10")
    axes = [fig.add_subplot(spec[0, :cols]), fig.add_subplot(spec[0, cols:])]
    for i, r in enumerate(rows):
        logged = [m for m in read_metrics(os.path.join(root, r["member"], "metrics.jsonl")) if "event" not in m]
        for ax, key in zip(axes, curves):
            pts = [(m["step"], m[key]) for m in logged if key in m]
            if pts:
                line, = ax.plot(*zip(*pts), color=colors(i % colors.N), lw=2.2 if r is best else 1,
                                label=r["member"][-3:] if ax is axes[0] else None)
                if r["status"].startswith("failed"):
                    ax.plot(*pts[-1], "x", color=line.get_color(), ms=9, mew=2)
    for ax, key in zip(axes, curves):
        ax.set(xlabel="step", title=key + ("  (x: failed)" if any(r["status"].startswith("failed") for r in rows)
                                           else ""))
    if n <= 20:
        axes[0].legend(fontsize=7, ncol=2, title="member", title_fontsize=7)
    short = short_names(keys)
    for i, r in enumerate(rows):
        ax = fig.add_subplot(spec[1 + i // cols, 2 * (i % cols): 2 * (i % cols) + 2])
        ax.axis("off")
        samples = sorted(glob.glob(os.path.join(root, r["member"], "samples", "step_*.png")))
        if samples:
            ax.imshow(np.asarray(Image.open(samples[-1])), cmap="gray")
        label = ", ".join(f"{short[k]}={_cell(r[k])}" for k in keys if r.get(k, "") != "")
        status = "" if r["status"] == "done" else "\n" + r["status"]
        ax.set_title(f"{'* ' if r is best else ''}{r['member']}\n{label}{status}", fontsize=7,
                     color="red" if r["status"].startswith("failed") else "black")
    fig.tight_layout()
    return report.save_figure(fig, path, dpi=90)


def short_names(keys: list[str]) -> dict:
    """optim.g.lr → g.lr when another key also ends in lr, else lr."""
    last = [k.split(".")[-1] for k in keys]
    return {k: (".".join(k.split(".")[-2:]) if last.count(k.split(".")[-1]) > 1 else k.split(".")[-1])
            for k in keys}


def write_summary(root: str, best: str = "auto", echo: bool = True) -> dict:
    """summary.csv and summary.png in the sweep folder; prints the table and the best member."""
    root = os.path.abspath(os.path.expanduser(root))
    record = load_record(root)
    rows, keys, metric_names = member_rows(root, record)
    columns = ["member", "program", *keys, "status", "step", *metric_names]
    try:
        pick, metric, mode, note = choose_best(rows, metric_names, best)
    except UsageError:  # show the table, keep the summary files as they are (the runs themselves are safe)
        if echo:
            print(format_table(rows, columns, None))
        raise
    csv_path = write_csv(rows, columns, os.path.join(root, "summary.csv"), pick)
    png_path = plot(root, rows, keys, os.path.join(root, "summary.png"), pick)
    extra = [k for k in ("min_class_share",) if metric == "frechet_ratio" and pick and k in pick]
    line = (f"best by {metric} ({mode}{', ' + note if note else ''}): {pick['member']} ({metric}={_cell(pick[metric])}"
            + "".join(f", {k}={_cell(pick[k])}" for k in extra + [k for k in keys if pick.get(k, "") != ""]) + ")"
            if pick else f"best: none (no finished member has {metric or 'a metric'})")
    if metric in ("g_loss", "d_loss"):
        line += ("; a GAN loss is not image quality: no member was evaluated (--no-eval, or runs without an "
                 "evaluation: `ganjax eval` needs labelled digits with a held-out part, or a translation's truth)")
    if echo:
        print(format_table(rows, columns, pick))
        print(line)
        print(f"wrote {csv_path} and {png_path}")
    return {"rows": rows, "best": pick, "metric": metric, "mode": mode, "rule": note, "line": line, "csv": csv_path,
            "figure": png_path}
