"""What `ganjax eval` computes for image GANs trained on labelled digits (sklearn digits, MNIST/Fashion-MNIST IDX files).

A small classifier is trained once on the run's real training images and cached in the run folder. In its
feature space we report the Fréchet distance of generated images to the held-out real images, the same
distance for as many real training images (the floor: what a perfect generator would score at this
sample size), the share of each class among generated images, and the classifier's mean confidence.

`num_samples` (`--n`) images are generated: all of them count for the class shares and the confidence; the
Fréchet distance and its floor use the first min(n, held-out size) of them (`fd_sample_size`), because the
distance is compared with as many held-out real images. Writes RUN/eval.json and refreshes RUN/report.html.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ganjax import report
from ganjax.data import to_float
from ganjax.errors import UsageError
from ganjax.metrics.classifier import cached_classifier, embed
from ganjax.metrics.suite import GUIDE, compare_features
from ganjax.evaluation.inception import format_lines, inception_scores
from ganjax.inference import load_run, sample_images
from ganjax.train.workdir import load_config, write_atomic


FEATURE_KEYS = ("kid", "kid_std", "kid_subset_size", "precision", "recall", "density", "coverage")
MIN_SAMPLES = 10  # fewer generated (or held-out) images make the Fréchet distance meaningless


def evaluate_digits(run: str, step: int | None = None, num_samples: int | None = None, verbose: bool = True,
                    inception: str | None = None, ema: bool = True) -> dict:
    """Evaluate a digit GAN run; writes RUN/eval.json, refreshes RUN/report.html and returns the numbers. num_samples: generated images (default: the config's
    eval.num_samples). verbose: print the table, and announce the first classifier training with a progress
    bar (on a terminal)."""
    cfg = load_config(run)
    n = cfg.eval.num_samples if num_samples is None else num_samples
    if not isinstance(n, int) or n < MIN_SAMPLES:  # checked before anything is written
        what = "--n" if num_samples is not None else "eval.num_samples in the run's config.json (give --n)"
        raise UsageError(f"{what} must be at least {MIN_SAMPLES} generated samples, got {n!r}")
    opened = load_run(run, step, ema)
    cfg, recipe, state = opened
    ds = recipe.dataset
    if ds.train_labels is None:
        raise UsageError(f"eval needs labelled data; {ds.source} has no labels (use digits, idx:PATH with "
                         f"labels, or a folder with one sub-folder per class)")
    if len(ds.test) < MIN_SAMPLES:
        raise UsageError(f"eval needs held-out images; set data.holdout > 0 (now {cfg.data.holdout})")
    run_dir = os.path.abspath(os.path.expanduser(run))
    cache = os.path.join(run_dir, "eval", "classifier")
    model, params = cached_classifier(cache, ds.train, ds.train_labels, ds.num_classes, cfg.eval.classifier_steps,
                                      progress=None if verbose else False)
    m = min(n, len(ds.test), len(ds.train))  # generated, held-out and real-train images compared at one size
    f_test, p_test = embed(model, params, np.asarray(to_float(ds.test)))
    f_train, _ = embed(model, params, np.asarray(to_float(ds.train[:m])))
    fake = sample_images(recipe, state, n, seed=cfg.seed + 2)
    f_fake, p_fake = embed(model, params, fake)
    gen = compare_features(f_test[:m], f_fake[:m])       # generated vs held-out
    real = compare_features(f_test[:m], f_train[:m])      # real training images vs held-out: the floor
    fd, floor = gen["frechet_distance"], real["frechet_distance"]
    share = np.bincount(p_fake.argmax(1), minlength=ds.num_classes) / n
    result = {
        "step": int(state.step),
        "generator": opened.generator,
        "num_samples": n,
        "frechet_distance": round(fd, 4),
        "frechet_floor_real_vs_real": round(floor, 4),
        "frechet_ratio": round(fd / max(floor, 1e-12), 3),
        "fd_sample_size": m,
        **{key: gen[key] for key in FEATURE_KEYS},
        "real_vs_real": {key: real[key] for key in FEATURE_KEYS},
        "feature_space": "digit classifier (128-d, trained on the run's real training images)",
        "class_share": [round(float(s), 4) for s in share],
        "min_class_share": round(float(share.min()), 4),
        "classes_at_least_5pct": int((share >= 0.05).sum()),
        "mean_confidence": round(float(p_fake.max(1).mean()), 4),
        "classifier_test_accuracy": round(float((p_test.argmax(1) == ds.test_labels).mean()), 4),
    }
    if inception is not None:  # generated vs held-out in pytorch-fid's Inception features, as papers report
        result.update(inception_scores(ds.test[:m], fake[:m], inception, progress=None if verbose else False))
    path = os.path.join(run_dir, "eval.json")
    write_atomic(path, json.dumps(result, indent=2))
    report.write_html(run_dir)  # its eval section, as after training and `ganjax explain`
    if verbose:
        print("\n".join([format_table(result), *format_lines(result)]))
        print(f"wrote {path}")
    return result


def format_table(r: dict) -> str:
    """The numbers with the real-vs-real floor beside them, and one line on what good looks like."""
    real = r.get("real_vs_real", {})
    kid_line = lambda d: (f"{d['kid']:.4g} ± {d['kid_std']:.2g}" if "kid" in d else "")
    rows = [("step", r["step"], "", f"{r.get('generator', 'raw')} generator"),
            ("generated samples", r["num_samples"], "", f"each set compared at {r['fd_sample_size']} images"),
            ("Fréchet distance", r["frechet_distance"], r["frechet_floor_real_vs_real"], ""),
            ("  ratio to the real floor", r["frechet_ratio"], 1.0, GUIDE["frechet_ratio"]),
            ("KID (mean ± std over subsets)", kid_line(r), kid_line(real),
             f"subsets of {r.get('kid_subset_size')}; " + GUIDE["kid"].split(";")[0]),
            *[(name, r.get(name), real.get(name), GUIDE[name].split(":")[0]) for name in ("precision", "recall",
                                                                                          "density", "coverage")],
            ("classes with ≥ 5 % of samples", f"{r['classes_at_least_5pct']} / {len(r['class_share'])}", "", ""),
            ("smallest class share", r["min_class_share"], "", GUIDE["min_class_share"]),
            ("mean confidence", r["mean_confidence"], "", "near the classifier's confidence on real digits"),
            ("classifier accuracy on held-out reals", r["classifier_test_accuracy"], "", "")]
    head = ("", "generated", "real (floor)", "good")
    fmt = lambda v: "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    cells = [head] + [(a, fmt(b), fmt(c), d) for a, b, c, d in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in cells]
    return "\n".join([f"features: {r.get('feature_space', 'digit classifier')}", *lines])
