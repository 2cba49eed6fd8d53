"""report.html as a person reads it: the header's facts, the eval table's labels, captions in words, column
labels of translation grids, links that all resolve, escaped text; losses.png with one panel per term."""
import html.parser
import json
import os

import ml_collections
import numpy as np
import pytest

from ganjax import report
from ganjax.train import run_info


class Page(html.parser.HTMLParser):
    """The parts of report.html the tests look at: header facts, table rows, figures, links."""

    def __init__(self, text):
        super().__init__()
        self.facts, self.rows, self.figures, self.links, self.columns = {}, [], [], [], []
        self._stack, self._text, self._row, self._fig = [], "", None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._stack.append(tag)
        if tag in ("dt", "dd", "td", "th", "figcaption", "span"):
            self._text = ""
        if tag == "br":
            self._text += " "
            return
        if tag == "tr":
            self._row = []
        if tag == "figure":
            self._fig = {"img": None, "caption": None, "columns": []}
        if tag == "img":
            self.links.append(a["src"])
            if self._fig is not None:
                self._fig["img"] = a["src"]
        if tag == "a":
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        text = " ".join(self._text.split())
        if tag == "dt":
            self._key = text
        elif tag == "dd":
            self.facts[self._key] = text
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(text)
        elif tag == "tr":
            self.rows.append(self._row)
            self._row = None
        elif tag == "span" and self._fig is not None:
            self._fig["columns"].append(text)
        elif tag == "figcaption":
            self._fig["caption"] = text
        elif tag == "figure":
            self.figures.append(self._fig)
            self._fig = None
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        self._text += data


def _png(path, h=28, w=28, n=16, c=1):
    report.save_grid(np.random.default_rng(0).uniform(-1, 1, (n, h, w, c)), str(path))


STARTED = 1.8e9  # 2027-01-15 08:00:00 UTC


@pytest.fixture
def dcgan_run(tmp_path):
    run = tmp_path / "my_run"
    (run / "samples").mkdir(parents=True)
    cfg = ml_collections.ConfigDict({"experiment": "dcgan", "config_file": "/home/u/ganjax/experiments/"
                                     "dcgan_mnist.py:runlocal", "train": {"steps": 200, "batch_size": 64}})
    (run / "config.json").write_text(json.dumps(cfg.to_dict()))
    run_info.start_session(str(run), cfg, 0, config_changes={"train.steps": (200, 100),
                                                              "model.g_width": (16, 32)})
    info = json.loads((run / "run.json").read_text())
    info["sessions"][0]["started"] = STARTED
    s2 = dict(info["sessions"][0], started=STARTED + 1000, start_step=100)
    info["sessions"].append(s2)  # a resumed second session, 1000 s later
    (run / "run.json").write_text(json.dumps(info))
    rows = [{"d_loss": 0.2 + 0.001 * s, "g_loss": 60.0 - 0.1 * s, "d_real": 0.7, "d_fake": 0.3, "r1": 0.01,
             "d_grad_norm": 3.0, "g_grad_norm": 40.0, "step": s, "img_per_s": ips,
             "time": STARTED + t} for s, ips, t in ((50, None, 20.0), (100, 400.0, 30.0), (150, 500.0, 1010.0),
                                                     (200, 600.0, 1025.0))]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for step in (100, 200):
        _png(run / "samples" / f"step_{step:06d}.png")
    _png(run / "samples" / "real.png")
    report.plot_losses(str(run / "metrics.jsonl"), str(run / "losses.png"))
    ev = {"step": 200, "num_samples": 100, "frechet_distance": 40.0, "frechet_floor_real_vs_real": 10.0,
          "frechet_ratio": 4.0, "fd_sample_size": 80, "kid": 0.5, "kid_std": 0.1, "precision": 0.6,
          "real_vs_real": {"kid": 0.01, "kid_std": 0.02, "precision": 0.8},
          "class_share": [0.1] * 8 + [0.15, 0.05], "min_class_share": 0.05, "classes_at_least_5pct": 10,
          "mean_confidence": 0.9, "classifier_test_accuracy": 0.95, "brand_new_metric": 1.25,
          "feature_space": "digit classifier <b>features</b>"}
    (run / "eval.json").write_text(json.dumps(ev))
    (run / "figures").mkdir()
    _png(run / "figures" / "attack_fgsm_linf.png")
    _png(run / "figures" / "attack_fgsm_linf_examples.png")
    (run / "figures" / "attack_fgsm_linf.json").write_text(json.dumps({"method": "fgsm", "norm": "linf",
                                                                        "n_real": 64, "n_fake": 64}))
    _png(run / "figures" / "explain_generator_ig.png")
    (run / "figures" / "explain_generator_ig.json").write_text(json.dumps(
        {"what": "generator", "method": "ig", "target": "<script>alert(1)</script>"}))
    _png(run / "figures" / "my_own_plot.png")
    return run


def test_header_facts(dcgan_run):
    page = Page(open(report.write_html(str(dcgan_run))).read())
    f = page.facts
    assert f["experiment"] == "dcgan"
    assert f["config"] == "experiments/dcgan_mnist.py:runlocal"
    assert f["started"] == "2027-01-15 08:00:00 UTC"
    assert f["wall time"] == "55 s in 2 sessions"  # 30 s + 25 s; the pause between sessions does not count
    assert f["steps"] == "200 / 200"
    assert f["img/s"].startswith("500 (median of 3 logs; last 600)")
    assert f["device"].startswith("1 × ") and f["device"] != "1 × ?"
    assert f["software"].startswith("ganjax ") and "jax " in f["software"]
    assert ["model.g_width", "16", "32"] in page.rows and ["train.steps", "200", "100"] in page.rows


def test_eval_table_is_labelled_with_what_good_looks_like(dcgan_run):
    page = Page(open(report.write_html(str(dcgan_run))).read())
    rows = {r[0]: r[1:] for r in page.rows if len(r) == 4}  # measure, this run, real floor, good
    assert rows["Fréchet distance ÷ real floor frechet_ratio"][0:2] == ["4", "1"]
    assert "below 1.5 is good" in rows["Fréchet distance ÷ real floor frechet_ratio"][2]
    assert rows["Fréchet distance (generated vs held-out real) frechet_distance"][:2] == ["40", "10"]
    assert rows["KID (kernel distance) kid"][:2] == ["0.5 ± 0.1", "0.01 ± 0.02"]  # the real floor beside it
    assert rows["classes with ≥ 5 % of samples classes_at_least_5pct"][0] == "10 / 10"
    assert rows["brand new metric brand_new_metric"][0] == "1.25"  # an unknown key: shown by name
    for label, (value, base, good) in rows.items():
        if label not in ("measure", "brand new metric brand_new_metric"):
            assert good, label  # every known number says what good looks like
    chart = [f for f in page.figures if f["img"] == "eval/class_share.png"]
    assert chart and "uniform share 1/10" in chart[0]["caption"]


def test_figures_are_captioned_in_words_and_every_link_exists(dcgan_run):
    text = open(report.write_html(str(dcgan_run))).read()
    page = Page(text)
    for link in page.links:
        assert not os.path.isabs(link) and ":" not in link, link  # relative: the folder can be moved or zipped
        assert os.path.exists(dcgan_run / link), link
    assert len(page.figures) >= 9  # 2 samples (generated, real), losses, class shares, 4 figures, 1 earlier
    for fig in page.figures:
        name = os.path.basename(fig["img"])
        assert fig["caption"] and name not in fig["caption"] and len(fig["caption"].split()) >= 2, fig
    caps = {f["img"]: f["caption"] for f in page.figures}
    assert "Real training images" in caps["samples/real.png"]
    assert caps["samples/step_000200.png"].startswith("Generated at step 200")
    assert "FGSM (linf)" in caps["figures/attack_fgsm_linf_examples.png"]
    assert caps["figures/my_own_plot.png"] == "My own plot."
    assert "<script>" not in text and "&lt;script&gt;" in text and "<b>" not in text  # text from files, escaped


def test_translation_rows_are_labelled(tmp_path):
    run = tmp_path / "p2p"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"experiment": "pix2pix", "train": {"steps": 40}}))
    _png(run / "samples" / "step_000040.png", 32, 32, n=6, c=3)
    ev = {"experiment": "pix2pix", "step": 40, "psnr": 21.0, "ssim": 0.7, "identity_psnr": 19.0,
          "identity_ssim": 0.8, "per_image": [{"name": "a.png", "psnr": 21.0}]}
    (run / "eval.json").write_text(json.dumps(ev))
    page = Page(open(report.write_html(str(run))).read())
    sample = page.figures[0]
    assert sample["columns"] == ["input A", "fake B = G(A)", "real B"]
    assert "input A | fake B = G(A) | real B" in sample["caption"]
    rows = {r[0]: r[1:] for r in page.rows if r}
    assert rows["PSNR of G(A) vs the true B (dB) psnr"][:2] == ["21", "19"]  # the identity baseline beside it
    assert "identity (A as output)" in rows["measure"]
    assert page.facts["config"] if "config" in page.facts else True
    assert "not recorded" in open(run / "report.html").read()  # no run.json: says so instead of guessing


def test_losses_one_panel_per_term(dcgan_run):
    rows = report.read_metrics(str(dcgan_run / "metrics.jsonl"))
    panels = report.loss_panels(rows)
    assert [keys for _, keys in panels] == [["d_loss"], ["g_loss"], ["r1"], ["d_real", "d_fake"],
                                            ["d_grad_norm"], ["g_grad_norm"]]
    fig = report.losses_figure(rows)
    assert len(fig.axes) == len(panels)
    by_title = {ax.get_title().split(":")[0]: ax for ax in fig.axes}
    d_lo, d_hi = by_title["d_loss"].get_ylim()
    g_lo, g_hi = by_title["g_loss"].get_ylim()
    assert d_hi < 1 and g_lo > 30  # pix2pix-like D ≈ 0.2 and G ≈ 60 each on its own scale
    assert os.path.getsize(dcgan_run / "losses.png") > 1000


def test_old_run_folders_still_render(tmp_path):
    """A run without run.json, eval.json or samples (older ganjax, or a run stopped early) still gets a page."""
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"experiment": "dcgan", "train": {"steps": 10}}))
    (run / "metrics.jsonl").write_text('{"d_loss": 1.0, "g_loss": 2.0, "step": 5, "time": 100.0}\n{"torn')
    page = Page(open(report.write_html(str(run))).read())
    assert page.facts["steps"] == "5 / 10" and "losses.png" in page.links


def test_every_metric_the_cli_explains_has_a_label_in_the_report():
    """`ganjax eval` explains each number with metrics.GUIDE; report.html labels them with EVAL_KEYS: the two
    tables must cover the same metrics, or a number would show on the page by its raw key."""
    from ganjax.metrics import GUIDE
    missing = sorted(set(GUIDE) - set(report.EVAL_KEYS))
    assert not missing, f"metrics explained by GUIDE but unlabelled in report.EVAL_KEYS: {missing}"
