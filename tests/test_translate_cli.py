"""`ganjax translate`, `ganjax eval` on translation runs, and one-line errors for bad input."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganjax import commands as cli
from ganjax import config as config_lib
from ganjax.train.loop import train_and_evaluate
from ganjax.train.workdir import prepare

ROOT = os.path.join(os.path.dirname(__file__), "..", "experiments")
TINY = [("data.load_size", 16), ("data.crop_size", 16), ("model.generator", "resnet"), ("model.ngf", 4),
        ("model.ndf", 4), ("model.n_blocks", 1), ("model.n_layers_d", 2), ("train.batch_size", 2),
        ("train.steps", 2), ("train.steps_per_dispatch", 1), ("train.log_every", 1), ("train.sample_every", 2),
        ("train.ckpt_every", 2), ("train.num_sample_grid", 2)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("cg_run"))
    cfg = config_lib.load(os.path.join(ROOT, "cyclegan.py:runlocal"), [(k, str(v)) for k, v in TINY])
    train_and_evaluate(cfg, workdir, progress=False)
    return workdir


def _ganjax(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _photos(folder):
    folder.mkdir()
    rng = np.random.RandomState(0)
    sizes = {"wide.png": (20, 37, 3), "tall.jpg": (41, 18, 3), "tiny.bmp": (5, 7, 3)}
    for name, shape in sizes.items():
        Image.fromarray(rng.randint(0, 256, shape, dtype=np.uint8)).save(folder / name)
    Image.fromarray(rng.randint(0, 256, (23, 29), dtype=np.uint8), "L").save(folder / "gray.png")
    Image.fromarray(rng.randint(0, 256, (12, 16, 4), dtype=np.uint8), "RGBA").save(folder / "alpha.png")
    (folder / "notes.txt").write_text("not an image")
    return {"wide": (37, 20), "tall": (18, 41), "tiny": (7, 5), "gray": (29, 23), "alpha": (16, 12)}


@pytest.mark.parametrize("mode", ["resize", "tile", "auto"])
def test_translate_folder_of_mixed_sizes(run_dir, tmp_path, capsys, mode):
    sizes = _photos(tmp_path / "in")
    out = tmp_path / "out"
    code, stdout, err = _ganjax(capsys, "translate", run_dir, "--input", tmp_path / "in", "--output", out,
                                "--mode", mode)
    assert code == 0, err
    assert "wrote 5 image(s)" in stdout
    if mode == "auto":  # crop 16: "wide" (37 px) and "tall" (41 px) are longer than 2 x 16
        assert "auto mode: tiled 2 image(s) longer than 2x the 16-px training crop, resized 3" in stdout
    for stem, size in sizes.items():
        with Image.open(out / f"{stem}.png") as im:
            assert im.size == size and im.mode == "RGB"
    assert len(os.listdir(out)) == 5
    before = (out / "wide.png").read_bytes()
    code, _, err = _ganjax(capsys, "translate", run_dir, "--input", tmp_path / "in", "--output", out)
    assert code == 2 and err.count("\n") == 1 and "exists" in err and "--overwrite" in err
    assert (out / "wide.png").read_bytes() == before
    code, _, err = _ganjax(capsys, "translate", run_dir, "--input", tmp_path / "in" / "wide.png",
                           "--output", out, "--overwrite", "--side-by-side", "--direction", "BtoA")
    assert code == 0, err
    with Image.open(out / "wide.png") as im:
        assert im.size == (74, 20)


def test_translate_rejects_dcgan_run_and_bad_input(run_dir, tmp_path, capsys):
    dc = tmp_path / "dc"
    prepare(str(dc), config_lib.load(os.path.join(ROOT, "dcgan_mnist.py")))
    code, _, err = _ganjax(capsys, "translate", dc, "--input", tmp_path, "--output", tmp_path / "o")
    assert code == 2 and err == f"ganjax: error: {dc} is a dcgan run; translate needs a cyclegan or pix2pix run\n"
    code, _, err = _ganjax(capsys, "translate", run_dir, "--input", tmp_path / "nope", "--output", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, _, err = _ganjax(capsys, "translate", run_dir, "--input", bad, "--output", tmp_path / "o")
    assert code == 2 and err.splitlines()[-1] == "ganjax: error: none of the 1 input file(s) could be read as an image"
    assert not (tmp_path / "o").exists()  # nothing written, not even the folder


def test_eval_writes_psnr_ssim_and_identity_baseline(run_dir, capsys):
    code, out, err = _ganjax(capsys, "eval", run_dir)
    assert code == 0, err
    assert "MEAN" in out and "id PSNR" in out
    with open(os.path.join(run_dir, "eval.json")) as f:
        result = json.load(f)
    for key in ("psnr", "ssim", "identity_psnr", "identity_ssim"):
        assert np.isfinite(result[key]), key
    assert result["num_images"] == len(result["per_image"]) > 0
    assert result["step"] == 2 and result["task"] == "builtin:tone"
    assert 15 < result["identity_psnr"] < 40 and 0 < result["identity_ssim"] <= 1


def _folder_task(root, trainb=True):
    rng = np.random.RandomState(1)
    for d in ("trainA", "trainB", "testA", "testB"):
        if d == "trainB" and not trainb:
            continue
        (root / d).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.randint(0, 256, (20 + i, 24, 3), dtype=np.uint8)).save(root / d / f"{i}.png")
    Image.fromarray(rng.randint(0, 256, (19, 19), dtype=np.uint8), "L").save(root / "trainA" / "gray.png")


def test_bad_data_folders_give_one_line_errors(tmp_path, capsys):
    _folder_task(tmp_path / "d", trainb=False)
    args = ["train", os.path.join(ROOT, "cyclegan.py:runlocal"), "--workdir", tmp_path / "w", "--quiet",
            "--config.data.root", tmp_path / "d"]
    code, _, err = _ganjax(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and "missing folder(s) trainB" in err
    code, _, err = _ganjax(capsys, "train", os.path.join(ROOT, "pix2pix.py:runlocal"), "--workdir",
                           tmp_path / "w2", "--config.data.builtin=tone")
    assert code == 2 and err.count("\n") == 1 and "pix2pix needs paired data" in err


def test_grayscale_files_mixed_with_rgb_are_converted(tmp_path):
    from ganjax import recipes
    _folder_task(tmp_path / "d")
    cfg = config_lib.load(os.path.join(ROOT, "cyclegan.py:runlocal"),
                          [("data.root", str(tmp_path / "d")), ("data.load_size", "16"), ("data.crop_size", "16"),
                           ("model.n_layers_d", "2"), ("model.generator", "resnet")])
    data = recipes.build(cfg).dataset
    assert data.train_a.shape == (3, 16, 16, 3) and data.train_b.shape == (2, 16, 16, 3)
    gray = data.train_a[list(data.names_train_a).index("gray.png")]
    np.testing.assert_array_equal(gray[..., 0], gray[..., 1])


def test_inputs_sharing_a_stem_get_distinct_outputs(run_dir, tmp_path, capsys):
    from ganjax.commands.translate import output_names

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.RandomState(2)
    for name in ("a.png", "a.jpg", "a_png.png"):
        Image.fromarray(rng.randint(0, 256, (8, 9, 3), dtype=np.uint8)).save(src / name)
    code, stdout, err = _ganjax(capsys, "translate", run_dir, "--input", src, "--output", tmp_path / "out")
    assert code == 0, err
    assert "wrote 3 image(s)" in stdout
    assert sorted(os.listdir(tmp_path / "out")) == ["a_jpg.png", "a_png.png", "a_png_2.png"]
    names = [Path(n) for n in ("a.png", "a.jpg", "a_png.png", "a_png_2.png", "A.PNG", "b.png")]
    assert output_names(names) == ["a_png_3.png", "a_jpg.png", "a_png.png", "a_png_2.png", "A_png_4.png", "b.png"]


def test_a_symlink_at_a_temporary_name_is_never_written_through(run_dir, tmp_path, capsys, monkeypatch):
    import ganjax.atomic

    src = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.symlink(victim, out / "x.png.tmp.png")  # the temporary name translate used before
    os.symlink(victim, out / ".x.png.aaaa.tmp")  # the next random name, planted in advance
    names = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(ganjax.atomic.secrets, "token_hex", lambda n: next(names))
    code, stdout, err = _ganjax(capsys, "translate", run_dir, "--input", src, "--output", out)
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert os.path.islink(out / ".x.png.aaaa.tmp") and not os.path.islink(out / "x.png")
    with Image.open(out / "x.png") as im:
        assert im.size == (8, 8)
    assert sorted(os.listdir(out)) == [".x.png.aaaa.tmp", "x.png", "x.png.tmp.png"]  # bbbb became x.png


def test_opening_a_run_never_imports_its_feature_net(run_dir, tmp_path, capsys, monkeypatch):
    """A received run folder is data: a config.json naming loss.feature_net must not run that module."""
    import shutil
    import sys

    from ganjax import load_run
    from ganjax.recipes.features import FeatureExtractor

    marker = tmp_path / "imported"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "ganjax_evil_features.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nnet = None\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    received = tmp_path / "received"
    shutil.copytree(run_dir, received)
    cfg = json.loads((received / "config.json").read_text())
    cfg["loss"].update(feature_net="ganjax_evil_features:net", feature_params=str(tmp_path / "p.npz"),
                       style_weight=1.0)
    (received / "config.json").write_text(json.dumps(cfg))

    run = load_run(str(received))
    assert run.recipe.features is not None and not run.recipe.features.own  # the setting is there, unused
    img = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    code, _, err = _ganjax(capsys, "translate", received, "--input", img, "--output", tmp_path / "o")
    assert code == 0, err  # sample, eval and explain open runs through the same load_run
    assert not marker.exists() and "ganjax_evil_features" not in sys.modules
    with pytest.raises(config_lib.ConfigError):  # only building a training loss imports it
        FeatureExtractor(config_lib.from_json(json.dumps(cfg)).loss).params
    assert marker.read_text() == "ran"
    sys.modules.pop("ganjax_evil_features", None)
