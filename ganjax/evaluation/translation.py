"""What `ganjax eval RUN` computes for CycleGAN / pix2pix runs: PSNR and SSIM of G(test A) against the true B.

For every test image, G_A(A) (pix2pix: G(A)) is compared with the ground-truth B image, and so is the
input A itself: the identity baseline, which a useful model must beat. Images are the central
`data.crop_size` crops of the test set (the whole image when load_size = crop_size), generator outputs
are rounded to 8 bits as a saved PNG would be, and both metrics work on [-1, 1] values (data_range 2):
SSIM as skimage's `structural_similarity(gaussian_weights=True, sigma=1.5)`. A pair that is identical
has infinite PSNR; it counts as PSNR_CAP dB (above the 48.1 dB of a one-level error on every 8-bit
value) so that averages stay finite. Writes eval.json in the run folder and prints a table.
"""
from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.data import DataError
from ganjax.data.translation import center_crop, to_float
from ganjax.metrics.image import psnr, ssim
from ganjax.errors import UsageError
from ganjax.evaluation.inception import format_lines, inception_scores
from ganjax.inference import load_run
from ganjax.recipes import TRANSLATION
from ganjax.train.workdir import load_config, write_atomic

PSNR_CAP = 60.0
SHOWN_ROWS = 12


def ground_truth(dataset) -> np.ndarray:
    """The true B image of each test A: `test_b_truth` (built-in tasks) or, for paired data, `test_b`."""
    if dataset.test_b_truth is not None:
        return dataset.test_b_truth
    if dataset.paired:
        return dataset.test_b
    raise DataError("this run's test set is unpaired (testA/testB hold different images), so there is no "
                    "true B for each test A; eval needs paired test data or a built-in task")


def batched(fn, *arrays, batch: int = 64) -> list[np.ndarray]:
    """fn(*chunks) → tuple of arrays, over chunks of `batch` rows (the last padded: one compiled shape)."""
    n, parts = len(arrays[0]), []
    for i in range(0, n, batch):
        chunk = [x[i:i + batch] for x in arrays]
        pad = batch - len(chunk[0]) if n > batch else 0
        if pad:
            chunk = [np.concatenate([x, np.repeat(x[-1:], pad, 0)]) for x in chunk]
        parts.append([np.asarray(v)[: len(v) - pad] for v in fn(*chunk)])
    return [np.concatenate(c) for c in zip(*parts)]


def translate_test(translate, state, test_a: np.ndarray, crop: int) -> np.ndarray:
    """G(center crop of each test A), rounded to 8 bits as a saved PNG: uint8 (N, crop, crop, C)."""
    @jax.jit
    def run(a_u8):
        fake = translate(state, center_crop(a_u8, crop))
        return (jnp.clip(jnp.round((fake + 1.0) * 127.5), 0, 255).astype(jnp.uint8),)
    return batched(run, test_a)[0]


def translation_metrics(fake_u8: np.ndarray, test_a: np.ndarray, truth: np.ndarray, crop: int) -> dict:
    """Per-image PSNR / SSIM of the translations and of the identity (A itself) against the true B's crops."""
    @jax.jit
    def scores(fake, a_u8, b_u8):
        a, b, f = center_crop(a_u8, crop), center_crop(b_u8, crop), to_float(fake)
        return psnr(f, b), ssim(f, b), psnr(a, b), ssim(a, b)

    cols = batched(scores, fake_u8, test_a, truth)
    cols = [np.minimum(c, PSNR_CAP) if k % 2 == 0 else c for k, c in enumerate(cols)]
    return dict(zip(("psnr", "ssim", "identity_psnr", "identity_ssim"), cols))


def evaluate_translation(run: str, step: int | None = None, verbose: bool = True, inception: str | None = None,
                         ema: bool = True) -> dict:
    """Evaluate a CycleGAN (A→B) or pix2pix run on its test set; writes RUN/eval.json and returns it.

    PSNR / SSIM need the true B of each test A (a built-in task or paired data); Inception FID / KID of
    G(test A) against test B (`inception`: converted pytorch-fid weights) need no pairs."""
    from ganjax import report

    cfg = load_config(run)
    if cfg.experiment not in TRANSLATION:
        raise UsageError(f"{run} is a {cfg.experiment} run, not a translation run")
    opened = load_run(run, step, ema)
    cfg, recipe, state = opened
    ds = recipe.dataset
    try:
        truth = ground_truth(ds)
    except DataError as e:
        if inception is None:
            raise DataError(f"{e}; or give --inception WEIGHTS for FID / KID of G(test A) against test B") from None
        truth = None
    if truth is not None and truth.shape != ds.test_a.shape:
        raise DataError(f"test A {ds.test_a.shape} and true B {truth.shape} differ in shape")
    fake = translate_test(recipe.translator("AtoB"), state, ds.test_a, recipe.crop)
    names = list(ds.names_test_a) or [str(i) for i in range(len(ds.test_a))]
    result = {
        "experiment": cfg.experiment,
        "step": int(state.step),
        "generator": opened.generator,
        "task": cfg.data.root or f"builtin:{cfg.data.builtin}",
        "direction": "AtoB",
        "num_images": len(names),
        "crop_size": recipe.crop,
    }
    if truth is not None:
        per = translation_metrics(fake, ds.test_a, truth, recipe.crop)
        result.update({
            "psnr": float(per["psnr"].mean()), "ssim": float(per["ssim"].mean()),
            "identity_psnr": float(per["identity_psnr"].mean()),
            "identity_ssim": float(per["identity_ssim"].mean()),
            "psnr_cap_db": PSNR_CAP,
            "per_image": [{"name": nm, **{k: round(float(v[i]), 4) for k, v in per.items()}}
                          for i, nm in enumerate(names)]})
    if inception is not None:  # G(test A) against the test B images (all of them, center crops)
        real_b = np.asarray(center_crop(ds.test_b, recipe.crop))
        result.update(inception_scores(real_b, fake, inception, progress=None if verbose else False))
    run_dir = os.path.abspath(os.path.expanduser(run))
    path = os.path.join(run_dir, "eval.json")
    write_atomic(path, to_json(result))
    report.write_html(run_dir)
    if verbose:
        print("\n".join(([format_table(result)] if truth is not None else []) + format_lines(result)))
        print(f"wrote {path}")
    return result


def to_json(result: dict) -> str:
    """eval.json text: the summary indented, one line per test image."""
    head = {k: v for k, v in result.items() if k != "per_image"}
    if "per_image" not in result:
        return json.dumps(head, indent=1) + "\n"
    rows = ",\n  ".join(json.dumps(r) for r in result["per_image"])
    return json.dumps(head, indent=1)[:-2] + ',\n "per_image": [\n  ' + rows + "\n ]\n}\n"


def format_table(result: dict, rows: int = SHOWN_ROWS) -> str:
    """The per-image table (first `rows` images) and the means."""
    head = f"{'image':<32} {'PSNR':>7} {'SSIM':>7} {'id PSNR':>8} {'id SSIM':>8}"
    fmt = lambda name, p, s, ip, is_: f"{name[:32]:<32} {p:7.2f} {s:7.4f} {ip:8.2f} {is_:8.4f}"
    lines = [f"{result['experiment']} step {result['step']} ({result.get('generator', 'raw')} generator) on {result['task']} "
             f"({result['num_images']} test images, {result['crop_size']}px; id = identity baseline)", head]
    per = result["per_image"]
    lines += [fmt(r["name"], r["psnr"], r["ssim"], r["identity_psnr"], r["identity_ssim"]) for r in per[:rows]]
    if len(per) > rows:
        lines.append(f"... {len(per) - rows} more in eval.json")
    lines.append(fmt("MEAN", result["psnr"], result["ssim"], result["identity_psnr"], result["identity_ssim"]))
    return "\n".join(lines)
