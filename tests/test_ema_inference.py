"""Inference uses the generator's EMA by default (sample, eval, translate, explain), `--raw` the trained G,
and every output says which one it used."""
import json
import shutil

import numpy as np

import ganjax
from ganjax.commands import main


def test_sample_uses_the_ema_and_raw_on_request(tiny_run, tmp_path, capsys):
    assert main(["sample", str(tiny_run), "--n", "8", "--output", str(tmp_path / "ema.npz")]) == 0
    assert "(EMA generator)" in capsys.readouterr().out
    assert main(["sample", str(tiny_run), "--n", "8", "--output", str(tmp_path / "raw.npz"), "--raw"]) == 0
    assert "(raw generator)" in capsys.readouterr().out
    ema, raw = (np.load(tmp_path / f"{k}.npz")["images"].astype(int) for k in ("ema", "raw"))
    assert (ema != raw).mean() > 0.05  # two different generators (20 tiny steps apart: small changes), same noise
    run = ganjax.load_run(str(tiny_run))  # the Python API: the same images
    assert run.generator == "EMA" and "EMA generator" in repr(run)
    from ganjax.data import to_uint8
    assert np.array_equal(to_uint8(ganjax.generate(run, 8)).astype(int), ema)
    raw_run = ganjax.load_run(str(tiny_run), ema=False)
    assert raw_run.generator == "raw" and np.array_equal(to_uint8(ganjax.generate(raw_run, 8)).astype(int), raw)


def test_eval_records_the_generator(tiny_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    assert main(["eval", str(run), "--n", "20", "--raw"]) == 0
    assert "raw generator" in capsys.readouterr().out
    assert json.load(open(run / "eval.json"))["generator"] == "raw"
    assert main(["eval", str(run), "--n", "20"]) == 0
    assert json.load(open(run / "eval.json"))["generator"] == "EMA"


def test_a_run_without_ema_says_raw(tmp_path, capsys):
    from conftest import tiny_argv
    run = tmp_path / "noema"
    assert main(tiny_argv(run, "--config.ema.kimg=0", "--config.train.steps=10")) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--n", "4", "--output", str(tmp_path / "s.npz")]) == 0
    assert "(raw generator)" in capsys.readouterr().out
