"""Shared fixtures: tiny configs that train in seconds on CPU."""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DCGAN = os.path.join(ROOT, "experiments", "dcgan_mnist.py")

# A DCGAN small enough to compile and train 20 steps in seconds on two CPU cores.
TINY = [("model.g_width", "16"), ("model.d_width", "16"), ("train.steps", "20"), ("train.batch_size", "16"),
        ("train.steps_per_dispatch", "5"), ("train.log_every", "5"), ("train.sample_every", "10"),
        ("train.ckpt_every", "10"), ("train.num_sample_grid", "16"), ("data.limit", "400"),
        ("eval.num_samples", "100"), ("eval.classifier_steps", "30"),
        # the article's optimizer and no R1: the tests' numbers were set on these (the defaults: docs/quality.md)
        ("optim.g.lr", "2e-4"), ("optim.d.lr", "2e-4"), ("loss.r1_gamma", "0")]


def tiny_cfg(*extra):
    from ganjax import config
    return config.load(DCGAN, TINY + list(extra))


def tiny_argv(workdir, *extra):
    """`ganjax train` arguments for the tiny DCGAN."""
    return ["train", DCGAN, "--workdir", str(workdir), "--quiet"] + [f"--config.{k}={v}" for k, v in TINY] + list(extra)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished tiny DCGAN run folder (shared; tests must not modify it)."""
    from ganjax.commands import main
    workdir = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(tiny_argv(workdir)) == 0
    return workdir
