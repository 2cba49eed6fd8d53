"""The catalogue of bad inputs: each gives one line `ganjax: error: ...` naming the problem, exit code 2,
no traceback, and leaves an existing run folder untouched. (More cases live beside each command's tests.)"""
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from ganjax.commands import main
from tests.conftest import DCGAN, tiny_argv


def snapshot(folder):
    return {os.path.relpath(os.path.join(d, f), folder): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, fs in os.walk(folder) for f in fs}


@pytest.fixture
def folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("L", (28, 28)).save(mixed / "a.png")
    Image.new("L", (30, 28)).save(mixed / "b.png")
    bad_idx = tmp_path / "idx"
    bad_idx.mkdir()
    (bad_idx / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + np.array([5, 28, 28], ">u4").tobytes())
    noconf = tmp_path / "noconf.py"
    noconf.write_text("X = 1\n")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    syntax = tmp_path / "syntax.py"
    syntax.write_text("def get_config(arg=None):\n    input Noise = 1\n")  # the article's own syntax error
    raises = tmp_path / "raises.py"
    raises.write_text("def get_config(arg=None):\n    return {}['nope']\n")
    return dict(empty=empty, mixed=mixed, idx=bad_idx, noconf=noconf, notes=notes, tmp=tmp_path, syntax=syntax,
                raises=raises)


TRAIN_CASES = {
    "unknown key": (["--config.train.stepz=3"], "unknown config key 'train.stepz' (did you mean train.steps?)"),
    "wrong type": (["--config.train.steps=many"], "config key 'train.steps': expected int"),
    "bad dtype": (["--config.model.dtype=float16"], "config key 'model.dtype' is 'float16'; valid: float32"),
    "bad loss": (["--config.loss.name=bce"], "config key 'loss.name' is 'bce'; valid: nonsaturating"),
    "bad upsample": (["--config.model.upsample=deconv"], "config key 'model.upsample' is 'deconv'"),
    "bad arch": (["--config.model.arch=stylegan"], "config key 'model.arch' is 'stylegan'"),
    "bad experiment": (["--config.experiment=vae"], "config key 'experiment' is 'vae'"),
    "zero batch": (["--config.train.batch_size=0"], "'train.batch_size' must be positive"),
    "bad on_nan": (["--config.train.on_nan=ignore"], "config key 'train.on_nan' is 'ignore'"),
    "image size": (["--config.model.image_size=30"], "'model.image_size' must be a multiple of 4"),
    "missing data": (["--config.data.source=idx:/no/such/mnist"], "data path not found: /no/such/mnist"),
    "unknown source": (["--config.data.source=mnist"], "unknown data source 'mnist'"),
    "empty folder": (["--config.data.source=folder:{empty}"], "no images"),
    "mixed sizes": (["--config.data.source=folder:{mixed}"], "images of mixed sizes"),
    "truncated idx": (["--config.data.source=idx:{idx}"], "is truncated"),
    "offline tfds": (["--config.data.source=tfds:mnist", "--config.data.tfds_dir={tmp}/tfds"],
                     "tfds:mnist:train is not available offline"),
    "override needs value": (["--config.train.steps"], "--config.train.steps needs a value"),
    "dcgan64 on 28px data": (["--config.model.arch=dcgan64"], "model.arch=dcgan64 makes 32, 64 or 128-pixel"),
    # ranges declared in ganjax.config.RANGES (every rule: tests/test_config.py)
    "huge seed": (["--config.seed=1e30"], "config key 'seed' must be in [0, 2147483648)"),
    "seed beyond 64 bits": (["--config.seed=18446744073709551617"], "config key 'seed' must be in [0, 2147483648)"),
    "nan holdout": (["--config.data.holdout=nan"], "config key 'data.holdout' must be a finite number, got nan"),
    "zero image size": (["--config.model.image_size=0"], "config key 'model.image_size' must be positive, got 0"),
    "zero latent": (["--config.model.latent_dim=0"], "config key 'model.latent_dim' must be positive, got 0"),
    "zero grid": (["--config.train.num_sample_grid=0"], "config key 'train.num_sample_grid' must be positive"),
    "huge batch": (["--config.train.batch_size=1e12"], "config key 'train.batch_size' must be positive and below 2147483648"),
    "batch beyond memory": (["--config.train.batch_size=2e9"], "config key 'train.batch_size' is 2000000000: one "
                                                               "layer's activations alone need"),
    "negative lr": (["--config.optim.d.lr=-1"], "config key 'optim.d.lr' must be positive, got -1"),
    "beta above 1": (["--config.optim.d.b1=2"], "config key 'optim.d.b1' must be in [0, 1), got 2"),
    "negative r1": (["--config.loss.r1_gamma=-5"], "config key 'loss.r1_gamma' must be >= 0, got -5"),
    "keep zero": (["--config.train.keep=0"], "config key 'train.keep' must be positive, got 0"),
    "empty key component": (["--config..train.steps=5"], "config key '.train.steps' has an empty component"),
}


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_train_bad_input(case, folders, tmp_path, capsys):
    extra, expected = TRAIN_CASES[case]
    extra = [e.format(**folders) for e in extra]
    run = tmp_path / "run"
    code = _main(tiny_argv(run, *extra))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not run.exists()  # nothing was written


def _main(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse-level errors
        return e.code


CONFIG_FILE_CASES = {
    "missing config": ("experiments/none.py", "config file not found"),
    "no get_config": ("{noconf}", "defines no get_config"),
    "not python": ("{notes}/todo.txt", "is not a config file: give a Python file defining get_config"),
    "unknown config arg": (DCGAN + ":fast", "unknown config argument 'fast'"),
    "bad config arg value": (DCGAN + ":runlocal=maybe", "config argument 'runlocal': expected bool, got 'maybe'"),
    "syntax error": ("{syntax}", "{syntax}:2: invalid syntax"),
    "raises when run": ("{raises}", "{raises}:2: KeyError: 'nope'"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_FILE_CASES))
def test_config_file_errors(case, folders, tmp_path, capsys):
    spec, expected = CONFIG_FILE_CASES[case]
    assert main(["train", spec.format(**folders), "--workdir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert expected.format(**folders) in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_divergence_before_any_checkpoint_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_argv(run, "--config.optim.g.lr=1e30", "--config.optim.d.lr=1e30")) == 2
    err = capsys.readouterr().err.strip()
    assert "became non-finite at step 1; no checkpoint was written before it" in err
    assert len(err.splitlines()) == 1


def test_existing_runs_are_never_modified(tiny_run, folders, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = snapshot(run)
    cases = [
        (tiny_argv(run, "--config.model.upsample=resize_conv"), "holds another run (model.upsample: "),
        (tiny_argv(run, "--config.data.source=idx:/no/such"), "holds another run (data.source: "),
        (tiny_argv(folders["notes"]), "not empty and holds no ganjax run"),
        (["sample", str(run), "--n", "4", "--output", str(tmp_path / "o"), "--step", "7"], "no checkpoint at step 7"),
        (["sample", str(run), "--n", "0", "--output", str(tmp_path / "o")], "--n must be positive"),
        (["sample", str(folders["empty"]), "--n", "4", "--output", str(tmp_path / "o")], "not a ganjax run folder"),
        (["eval", str(folders["empty"])], "not a ganjax run folder"),
        (["sample", str(run), "--config.train.steps=3", "--n", "2", "--output", "x"], "apply to train, sweep and config only"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1, (argv, err)
    assert snapshot(run) == before
    assert os.listdir(folders["notes"]) == ["todo.txt"]


def test_run_without_checkpoint_and_corrupt_checkpoint(tiny_run, tmp_path, capsys):
    run = tmp_path / "nock"
    run.mkdir()
    shutil.copy(tiny_run / "config.json", run / "config.json")
    assert main(["sample", str(run), "--n", "2", "--output", str(tmp_path / "o")]) == 2
    assert "has no checkpoints yet" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_run, corrupt)
    for d, _, fs in os.walk(corrupt / "checkpoints" / "20"):
        for f in fs:
            if os.path.getsize(os.path.join(d, f)) > 1000:
                open(os.path.join(d, f), "wb").close()  # truncate the array data
    code = main(["sample", str(corrupt), "--n", "2", "--output", str(tmp_path / "o2"), "--step", "20"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "checkpoint at step 20" in err and "is damaged" in err and len(err.splitlines()) == 1
    # the latest (the default): a one-line warning naming the damaged step, then the newest one that restores
    code = main(["sample", str(corrupt), "--n", "2", "--output", str(tmp_path / "o3")])
    err = capsys.readouterr().err.strip()
    assert code == 0 and err.startswith("ganjax: warning: checkpoint at step 20") and len(err.splitlines()) == 1


def test_ganjax_warnings_are_one_plain_line(capsys):
    """The command line shows ganjax's own warnings (e.g. skipped image files) like its errors: one line."""
    import warnings

    from ganjax import commands as cli

    ours = os.path.join(cli.PACKAGE_DIR, "data", "translation.py")
    with warnings.catch_warnings():
        warnings.showwarning = cli._show_warning
        warnings.warn_explicit("ROOT: skipped 1 unreadable image file(s) (bad.png)", UserWarning, ours, 1)
    assert capsys.readouterr().err == "ganjax: warning: ROOT: skipped 1 unreadable image file(s) (bad.png)\n"
    shown = []  # other libraries' warnings go to Python's own display
    cli._show_warning("not ours", UserWarning, "/elsewhere/lib.py", 7, _default=lambda *a: shown.append(a))
    assert shown == [("not ours", UserWarning, "/elsewhere/lib.py", 7, None, None)]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv,expected", [
    (["translate", "r", "--input", "a", "--output", "b", "--direction", "btoa"],
     "argument --direction: invalid choice: 'btoa' (choose from 'AtoB', 'BtoA') (see ganjax translate --help)"),
    (["eval", "r", "--step", "abc"], "argument --step: invalid int value: 'abc' (see ganjax eval --help)"),
    (["bench", "dcgan", "--width", "abc"], "argument --width: invalid int value: 'abc' (see ganjax bench --help)"),
    (["sample", "r", "--output", "o.png", "--seed", "99999999999999999999"],
     "argument --seed: must be an integer in [0, 2147483648), got '99999999999999999999' (see ganjax sample --help)"),
    (["explain", "r", "--seed", "-1"],
     "argument --seed: must be an integer in [0, 2147483648), got '-1' (see ganjax explain --help)"),
    (["attack", "r", "--seed", "2147483648"],
     "argument --seed: must be an integer in [0, 2147483648), got '2147483648' (see ganjax attack --help)"),
])
def test_argument_errors_are_one_line(argv, expected, capsys):
    assert _main(argv) == 2
    assert capsys.readouterr().err.strip() == f"ganjax: error: {expected}"
