import json
import os

import numpy as np

from ganjax.cli import main


def test_sample_npz(tiny_run, tmp_path):
    out = tmp_path / "s.npz"
    assert main(["sample", str(tiny_run), "--n", "10", "--output", str(out)]) == 0
    images = np.load(out)["images"]
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.uint8
    assert main(["sample", str(tiny_run), "--n", "10", "--output", str(out)]) == 2  # never overwrites


def test_sample_png_folder_and_step(tiny_run, tmp_path):
    out = tmp_path / "pngs"
    assert main(["sample", str(tiny_run), "--n", "5", "--output", str(out), "--step", "10"]) == 0
    assert sorted(os.listdir(out)) == [f"sample_{i:05d}.png" for i in range(5)]


def test_sample_bad_inputs(tiny_run, tmp_path, capsys):
    assert main(["sample", str(tiny_run), "--n", "5", "--output", str(tmp_path / "a"), "--step", "7"]) == 2
    assert "no checkpoint at step 7" in capsys.readouterr().err
    assert main(["sample", str(tmp_path), "--n", "5", "--output", str(tmp_path / "b")]) == 2
    assert "not a ganjax run folder" in capsys.readouterr().err


def test_eval_reports_frechet_and_coverage(tiny_run, tmp_path, capsys):
    import shutil
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)  # eval writes eval.json and a cached classifier: keep the shared run intact
    assert main(["eval", str(run)]) == 0
    out = capsys.readouterr().out
    assert "Fréchet distance" in out and "ratio to floor" in out
    r = json.load(open(run / "eval.json"))
    assert r["frechet_distance"] > r["frechet_floor_real_vs_real"] >= 0
    assert len(r["class_share"]) == 10 and abs(sum(r["class_share"]) - 1) < 1e-3
    assert r["classifier_test_accuracy"] > 0.5
    assert os.path.isdir(run / "eval" / "classifier")
    assert main(["eval", str(run)]) == 0  # second time: the cached classifier is reused
    assert json.load(open(run / "eval.json"))["classifier_test_accuracy"] == r["classifier_test_accuracy"]
