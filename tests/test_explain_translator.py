"""`ganjax explain --what translator` on stand-in CycleGAN / pix2pix runs.

Training even the runlocal CycleGAN for two steps takes minutes on a shared 2-core CPU (compiling the
step), so each stand-in run is the experiment's config with small nets and its *initial* state saved as
the step-0 checkpoint: the same run folder layout, recipe and network names as a trained run.
"""
import json
import os

import pytest

from ganjax.commands import main

SMALL = [("model.ngf", "4"), ("model.ndf", "4"), ("model.n_blocks", "1")]


def stand_in_run(workdir, experiment):
    from ganjax import config as config_lib
    from ganjax import recipes
    from ganjax.train.checkpoint import Checkpoints
    from ganjax.train import workdir as wd

    cfg = config_lib.load(f"experiments/{experiment}.py:runlocal", SMALL)
    workdir = wd.prepare(workdir, cfg)
    ckpts = Checkpoints(os.path.join(workdir, "checkpoints"))
    ckpts.save(0, recipes.build(cfg).init_state(cfg.seed))
    ckpts.close()
    return workdir


# pix2pix:runlocal is a colorization run: its G takes the 1-channel luma of the RGB test images
@pytest.mark.parametrize("experiment,net", [("cyclegan", "G_A"), ("pix2pix", "G")])
def test_translator_region(tmp_path, capsys, experiment, net):
    if not os.path.exists(f"experiments/{experiment}.py"):
        pytest.skip(f"experiments/{experiment}.py is not there yet")
    run = stand_in_run(str(tmp_path / experiment), experiment)
    assert main(["explain", run, "--what", "translator", "--target", "region:10:18,12:20", "--n", "2",
                 "--steps", "8", "--quiet"]) == 0
    assert "inside the target box" in capsys.readouterr().out
    with open(os.path.join(run, "figures", "explain_translator_ig.json")) as f:
        res = json.load(f)
    assert res["net"] == net and len(res["share_abs_attr_in_box"]) == 2
    assert os.path.getsize(os.path.join(run, "figures", "explain_translator_ig.png")) > 1000
    # a target outside the 32x32 crop, and a --what that needs a DCGAN, are one-line errors
    assert main(["explain", run, "--what", "translator", "--target", "region:0:40,0:4"]) == 2
    assert "32x32" in capsys.readouterr().err
    assert main(["explain", run, "--what", "layers"]) == 2
    assert "valid: translator" in capsys.readouterr().err
