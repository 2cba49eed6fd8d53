"""report.html is one self-contained page (relative links only) built from what the run folder holds:
config.json, run.json (training sessions: dates, devices, versions, config changes; ganjax/train/run_info.py),
metrics.jsonl, samples/*.png, eval.json, figures/*.png with their JSON. A run folder is data: writing the
report reads those files and executes nothing from them; every text taken from them is escaped.
"""
from __future__ import annotations

import datetime
import glob
import html
import os
import urllib.parse

from ganjax.report.curves import plot_class_shares, plot_losses
from ganjax.report.facts import (config_changes, dotted_get, figure_caption, figure_record, grid_columns, png_size,
                                 read_json, run_facts)
from ganjax.report.numbers import EVAL_META, eval_rows, fmt


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
        w = width or png_size(path)[0] or None
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
    cfg = read_json(os.path.join(workdir, "config.json")) or {}
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
    rows = "".join(f"<tr><td><code>{html.escape(str(k))}</code></td><td>{html.escape(fmt(dotted_get(v, 'value')))}</td>"
                   f"<td class=good>{html.escape(fmt(dotted_get(v, 'default')))}</td></tr>"
                   for k, v in sorted(changes.items()))
    return (f"<h3>Config keys changed from the experiment's defaults ({len(changes)})</h3>"
            f"<table><tr><th>key</th><th>this run</th><th>default</th></tr>{rows}</table>")


def _samples_section(page: _Page, workdir: str) -> None:
    samples = sorted(glob.glob(os.path.join(workdir, "samples", "step_*.png")), key=_step_of)
    real = os.path.join(workdir, "samples", "real.png")
    if not samples:
        return
    latest, step = samples[-1], _step_of(samples[-1])
    columns = grid_columns(workdir)
    page.add("<h2 id=samples>Samples</h2>")
    if columns:
        w, _ = png_size(latest)
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
    columns = grid_columns(workdir)
    thumbs = "".join(page.figure(p, f"step {_step_of(p):,}", pix=True, width=min(png_size(p)[0] or 240, 240))
                     for p in reversed(samples))
    page.add("<h2 id=progress>Earlier samples</h2><p class=note>The same fixed inputs at earlier steps, newest "
             "first" + (" (columns as above)" if columns else "") + ".</p><div class=thumbs>" + thumbs + "</div>")


def _eval_section(page: _Page, workdir: str) -> None:
    path = os.path.join(workdir, "eval.json")
    result = read_json(path)
    if not isinstance(result, dict):
        return
    rows = eval_rows(result)
    meta = [f"{label}: {fmt(result[k])}" for k, label in EVAL_META.items() if k in result]
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
        body = "".join("<tr>" + "".join(f"<td{'' if k == 'name' else ' class=num'}>{html.escape(fmt(p.get(k, '')))}"
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
        info, record = figure_record(p)
        cap = figure_caption(os.path.basename(p), info)
        fig = page.figure(p, cap)
        if record:
            link = f' <a href="{page.src(record)}">numbers (JSON)</a>'
            fig = fig.replace("</figcaption>", link + "</figcaption>")
        parts.append(fig)
    page.add("<h2 id=analysis>Analysis (ganjax explain / attack)</h2>" + "".join(parts))
