"""`ganjax eval --inception WEIGHTS`: Inception FID / KID beside the run's own metrics, on digit runs and on an
unpaired CycleGAN folder (no truth: only the Inception numbers), with stand-in random weights."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from ganjax.commands import main
from ganjax.metrics import inception_convert as conv

ROOT = os.path.join(os.path.dirname(__file__), "..", "experiments")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "inception_random.npz"
    conv.save_npz(conv.convert_state_dict(conv.random_state_dict(0)), str(path))
    return path


def test_digit_eval_adds_inception_numbers(tiny_run, tmp_path, weights, capsys):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    assert main(["eval", str(run), "--n", "20", "--inception", str(weights)]) == 0
    out = capsys.readouterr().out
    assert "Inception (pytorch-fid weights), 20 generated vs 20 real: FID " in out
    r = json.load(open(run / "eval.json"))
    assert r["inception_fid"] > 0 and r["inception_n_fake"] == r["inception_n_real"] == 20
    assert r["inception_kid_subset_size"] == 10 and 0 <= r["inception_precision"] <= 1
    assert "frechet_ratio" in r  # beside the digit classifier's numbers, not instead of them


def test_missing_weights_fail_before_anything_is_written(tiny_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    assert main(["eval", str(run), "--inception", str(tmp_path / "none.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganjax: error: ") and "pt_inception-2015-12-05-6726825d.pth" in err
    assert len(err.strip().splitlines()) == 1 and not (run / "eval.json").exists()


def _unpaired(root, n=6, size=16):
    rng = np.random.RandomState(0)
    for part in ("trainA", "trainB", "testA", "testB"):
        (root / part).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.randint(0, 256, (size, size, 3), dtype=np.uint8)).save(root / part / f"{i}.png")


def test_unpaired_cyclegan_eval_is_inception_only(tmp_path, weights, capsys):
    _unpaired(tmp_path / "data")
    run = tmp_path / "run"
    tiny = ["data.load_size=16", "data.crop_size=16", "model.generator=resnet", "model.ngf=4", "model.ndf=4",
            "model.n_blocks=1", "model.n_layers_d=2", "train.batch_size=2", "train.steps=2",
            "train.steps_per_dispatch=1", "train.log_every=1", "train.sample_every=2", "train.ckpt_every=2",
            "train.num_sample_grid=2", f"data.root={tmp_path / 'data'}"]
    argv = ["train", os.path.join(ROOT, "cyclegan.py:runlocal"), "--workdir", str(run), "--quiet"]
    assert main(argv + [f"--config.{kv}" for kv in tiny]) == 0
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2  # no truth and no weights: says what would work
    err = capsys.readouterr().err
    assert "unpaired" in err and "--inception WEIGHTS for FID / KID of G(test A) against test B" in err
    assert main(["eval", str(run), "--inception", str(weights)]) == 0
    assert "6 generated vs 6 real: FID" in capsys.readouterr().out
    r = json.load(open(run / "eval.json"))
    assert r["inception_fid"] > 0 and "psnr" not in r and r["num_images"] == 6
