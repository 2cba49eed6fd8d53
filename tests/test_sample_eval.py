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
    grid = np.asarray(Image.open(out))
    assert grid.shape[0] == grid.shape[1] and grid.shape[0] >= 4 * 28  # 4 x 4 samples, enlarged for legibility
    assert main(["sample", str(tiny_run), "--n", "16", "--output", str(out)]) == 2  # never overwrites
    assert main(["sample", str(tiny_run), "--n", "16", "--output", str(tmp_path / "s.npz")]) == 0
    samples = np.load(tmp_path / "s.npz")["images"][..., 0]  # the same seed: the same 16 samples
    scale, pad = 2, 2  # 28-px samples are enlarged 2x (nearest), with 2-px borders (4 after enlarging)
    for i, sample in enumerate(samples):
        r, c = divmod(i, 4)
        y, x = (pad + r * (28 + pad)) * scale, (pad + c * (28 + pad)) * scale
        assert np.array_equal(grid[y:y + 28 * scale:scale, x:x + 28 * scale:scale], sample), i
    assert len(np.unique(samples)) > 50  # real pixel values, not a few grey levels


def test_sample_unknown_suffix_is_one_line(tiny_run, tmp_path, capsys):
    assert main(["sample", str(tiny_run), "--n", "4", "--output", str(tmp_path / "x.gif")]) == 2
    assert capsys.readouterr().err.strip() == (f"ganjax: error: --output {tmp_path / 'x.gif'}: unknown suffix '.gif'; "
                                               "give a folder, FILE.png / FILE.jpg (a grid) or FILE.npz (an array)")
    assert not (tmp_path / "x.gif").exists()


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
    assert "Fréchet distance" in captured.out and "ratio to the real floor" in captured.out
    for line in ("KID (mean ± std over subsets)", "precision", "recall", "density", "coverage"):
        assert line in captured.out, line
    assert "training the evaluation classifier (30 steps" in captured.err and "cached in" in captured.err
    r = json.load(open(run / "eval.json"))
    assert r["frechet_distance"] > r["frechet_floor_real_vs_real"] >= 0
    assert len(r["class_share"]) == 10 and abs(sum(r["class_share"]) - 1) < 1e-3
    assert r["classifier_test_accuracy"] > 0.5
    floor = r["real_vs_real"]  # the same metrics for real training images: what a perfect generator scores
    for key in ("precision", "recall", "coverage"):
        assert 0 <= r[key] <= 1 and 0 < floor[key] <= 1, key
    assert floor["kid"] < r["kid"] and r["kid_subset_size"] == floor["kid_subset_size"] == 40  # half of 80
    held_out = 80  # data.limit=400, holdout 0.2
    assert (r["num_samples"], r["fd_sample_size"]) == (100, held_out)  # n: the config's eval.num_samples
    assert os.path.isdir(run / "eval" / "classifier")
    page = (run / "report.html").read_text()  # eval refreshes the report with its numbers
    assert "<h2 id=evaluation>Evaluation</h2>" in page and "frechet_ratio" in page
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
