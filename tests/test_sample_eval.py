import json
import os

import numpy as np

from ganjax.commands import main


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


def test_sample_grid_png(tiny_run, tmp_path):
    from PIL import Image
    out = tmp_path / "grid.png"
    assert main(["sample", str(tiny_run), "--n", "16", "--output", str(out)]) == 0
    assert out.is_file()  # one image, not a folder named grid.png
    w, h = Image.open(out).size
    assert w == h and w >= 4 * 28  # 4 x 4 samples, enlarged for legibility
    assert main(["sample", str(tiny_run), "--n", "16", "--output", str(out)]) == 2  # never overwrites


def test_sample_bad_inputs(tiny_run, tmp_path, capsys):
    assert main(["sample", str(tiny_run), "--n", "5", "--output", str(tmp_path / "a"), "--step", "7"]) == 2
    assert "no checkpoint at step 7" in capsys.readouterr().err
    assert main(["sample", str(tmp_path), "--n", "5", "--output", str(tmp_path / "b")]) == 2
    assert "not a ganjax run folder" in capsys.readouterr().err


def _copy(tiny_run, tmp_path):
    import shutil
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)  # eval writes eval.json and a cached classifier: keep the shared run intact
    return run


def test_eval_reports_frechet_and_coverage(tiny_run, tmp_path, capsys):
    run = _copy(tiny_run, tmp_path)
    assert "eval.json" not in (run / "report.html").read_text()
    assert main(["eval", str(run)]) == 0
    captured = capsys.readouterr()
    assert "Fréchet distance" in captured.out and "ratio to floor" in captured.out
    assert "training the evaluation classifier (30 steps" in captured.err and "cached in" in captured.err
    r = json.load(open(run / "eval.json"))
    assert r["frechet_distance"] > r["frechet_floor_real_vs_real"] >= 0
    assert len(r["class_share"]) == 10 and abs(sum(r["class_share"]) - 1) < 1e-3
    assert r["classifier_test_accuracy"] > 0.5
    held_out = 80  # data.limit=400, holdout 0.2
    assert (r["num_samples"], r["fd_sample_size"]) == (100, held_out)  # n: the config's eval.num_samples
    assert os.path.isdir(run / "eval" / "classifier")
    page = (run / "report.html").read_text()  # eval refreshes the report with its numbers
    assert "<h2>eval.json</h2>" in page and "frechet_ratio" in page
    assert main(["eval", str(run)]) == 0  # second time: the cached classifier is reused, silently
    assert "training the evaluation classifier" not in capsys.readouterr().err
    assert json.load(open(run / "eval.json"))["classifier_test_accuracy"] == r["classifier_test_accuracy"]
    assert main(["eval", str(run), "--n", "20"]) == 0  # --n: generated samples, and the Fréchet size below it
    r20 = json.load(open(run / "eval.json"))
    assert (r20["num_samples"], r20["fd_sample_size"]) == (20, 20)
    assert abs(sum(r20["class_share"]) - 1) < 1e-3 and all(s >= 0 for s in r20["class_share"])
    assert "generated samples" in capsys.readouterr().out


def test_eval_rejects_bad_n(tiny_run, tmp_path, capsys):
    run = _copy(tiny_run, tmp_path)
    page = (run / "report.html").read_text()
    for n in ("0", "-3", "9"):
        assert main(["eval", str(run), "--n", n]) == 2
        err = capsys.readouterr().err
        assert err.strip() == f"ganjax: error: --n must be at least 10 generated samples, got {n}"
    assert not (run / "eval.json").exists() and not (run / "eval").exists()  # nothing written
    assert (run / "report.html").read_text() == page
