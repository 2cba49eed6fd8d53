"""The training loop as a user sees it: run folder contents, exact resume, NaN stop, refusing other runs."""
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax import losses
from ganjax.commands import main
from ganjax.inference import load_run
from tests.conftest import tiny_argv


def params_of(run):
    _, _, state = load_run(run)
    return jax.tree_util.tree_leaves(state.params), int(state.step)


def assert_resumed_equals_straight(run, straight_run):
    resumed, step = params_of(run)
    straight, _ = params_of(straight_run)
    assert step == 20
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def snapshot(folder):
    return {os.path.relpath(os.path.join(d, f), folder): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, fs in os.walk(folder) for f in fs}


def test_run_folder_tells_the_story(tiny_run):
    for name in ("config.json", "metrics.jsonl", "losses.png", "report.html", "samples/step_000010.png",
                 "samples/step_000020.png"):
        assert os.path.isfile(tiny_run / name), name
    assert sorted(os.listdir(tiny_run / "checkpoints")) == ["10", "20"]
    rows = [json.loads(line) for line in open(tiny_run / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm", "img_per_s"):
        assert key in rows[-1]
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)
    assert json.load(open(tiny_run / "config.json"))["train"]["steps"] == 20


def test_discriminator_learns_to_separate(tiny_run):
    """After a few steps D already scores real digits above the generator's images."""
    _, recipe, state = load_run(tiny_run)
    from ganjax.data import to_float
    real = to_float(recipe.dataset.test[:64])
    fake = recipe.sample(state, recipe.noise(jax.random.PRNGKey(5), 64))
    assert float(jnp.mean(recipe.d_logits(state, real))) > float(jnp.mean(recipe.d_logits(state, fake)))


def test_resume_is_bit_identical(tmp_path, tiny_run):
    """Stopping at step 10 and resuming to 20 gives exactly the parameters of the uninterrupted run."""
    run = tmp_path / "resumed"
    assert main(tiny_argv(run, "--config.train.steps=10")) == 0
    assert params_of(run)[1] == 10
    assert main(tiny_argv(run)) == 0
    assert_resumed_equals_straight(run, tiny_run)
    rows = [json.loads(line)["step"] for line in open(run / "metrics.jsonl")]
    assert rows == [5, 10, 15, 20]  # no duplicated or lost log lines


def test_killed_run_resumes_exactly(tmp_path, tiny_run):
    """SIGKILL in the middle of training, then the same command again: same final parameters."""
    run = tmp_path / "killed"
    argv = [sys.executable, "-m", "ganjax"] + tiny_argv(run)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not os.path.isdir(run / "checkpoints" / "10") and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert main(tiny_argv(run)) == 0
    assert_resumed_equals_straight(run, tiny_run)


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    run = tmp_path / "nan"
    assert main(tiny_argv(run, "--config.train.steps=10")) == 0
    nan_g = losses.Adversarial(losses.d_logistic, lambda fake: jnp.log(-jnp.mean(jnp.abs(fake)) - 1.0))
    monkeypatch.setitem(losses.ADVERSARIAL, "nonsaturating", nan_g)
    before = snapshot(run / "checkpoints")
    assert main(tiny_argv(run)) == 2
    err = capsys.readouterr().err
    assert "g_loss became non-finite at step 11" in err and "step 10" in err
    assert snapshot(run / "checkpoints") == before
    assert params_of(run)[1] == 10


def test_workdir_of_another_experiment_is_refused(tmp_path, tiny_run, capsys):
    before = snapshot(tiny_run)
    assert main(tiny_argv(tiny_run, "--config.model.upsample=resize_conv")) == 2
    err = capsys.readouterr().err.strip()
    assert "holds another run (model.upsample: \"phase\" there, \"resize_conv\" here)" in err  # the key, not a cut prefix
    assert len(err.splitlines()) == 1
    assert snapshot(tiny_run) == before


def test_non_run_folder_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(tiny_argv(tmp_path)) == 2
    assert "not empty and holds no ganjax run" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_bad_data_touches_nothing(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(tiny_argv(run, "--config.data.source=idx:/nonexistent/mnist")) == 2
    assert "data path not found: /nonexistent/mnist" in capsys.readouterr().err
    assert not run.exists()


def test_diffaugment_shifts_and_cuts_out_the_same_way_for_real_and_fake_and_trains(tmp_path):
    """model.d_augment (DiffAugment): translation moves each image by whole pixels within 1/8 of its size, filling
    with 0; cutout zeroes one half-size square; a run with both trains, and a misspelt policy is a clear error."""
    from ganjax import config as config_lib, recipes
    from ganjax.config import ConfigError
    from ganjax.data import diffaugment
    x = jax.random.uniform(jax.random.PRNGKey(0), (6, 16, 16, 1), minval=0.5, maxval=1.0)  # no zero pixel
    moved = np.asarray(diffaugment.translation(jax.random.PRNGKey(1), x))
    shifts = set()
    for img, out in zip(np.asarray(x), moved):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(out, np.roll(img, (dy, dx), (0, 1)) * _inside(dy, dx))]
        assert len(found) == 1, "each image is its input shifted by at most 2 = 16 / 8 pixels, zero-filled"
        shifts.add(found[0])
    assert len(shifts) > 1  # independent per image
    cut = np.asarray(diffaugment.cutout(jax.random.PRNGKey(2), x))
    zeros = cut == 0
    assert all(0 < z.sum() <= 64 for z in zeros)  # an 8 x 8 square, clipped at the border
    np.testing.assert_array_equal(cut[~zeros], np.asarray(x)[~zeros])
    with pytest.raises(ConfigError, match="model.d_augment.*unknown augmentation 'translate'"):
        recipes.build(config_lib.load("experiments/dcgan_mnist.py:runlocal", [("model.d_augment", "translate")]))
    run = tmp_path / "aug"
    assert main(tiny_argv(run, "--config.model.d_augment=translation,cutout")) == 0
    assert params_of(run)[1] == 20


def _inside(dy, dx, size=16):
    """The 0/1 mask of the pixels a (dy, dx) shift keeps (the rest is the zero fill)."""
    m = np.zeros((size, size, 1))
    m[max(dy, 0):size + min(dy, 0), max(dx, 0):size + min(dx, 0)] = 1
    return m


def test_minibatch_stddev_gives_each_group_of_images_its_spread_and_trains(tmp_path):
    """model.d_mbstd=G: D's last features get one more channel, the std over each group of G consecutive images
    (real and fake halves of D's batch never share a group); a run trains; other archs refuse it."""
    from ganjax import config as config_lib, recipes
    from ganjax.config import ConfigError
    from ganjax.models.dcgan import minibatch_stddev
    same = jnp.ones((4, 3, 3, 2))
    spread = jax.random.normal(jax.random.PRNGKey(0), (4, 3, 3, 2))
    out = np.asarray(minibatch_stddev(jnp.concatenate([same, spread]), 4))
    assert out.shape == (8, 3, 3, 3)
    np.testing.assert_allclose(out[:4, ..., 2], 1e-4, rtol=1e-3)  # identical images: no spread (sqrt of the epsilon)
    expected = np.sqrt(np.var(np.asarray(spread), axis=0) + 1e-8).mean()
    np.testing.assert_allclose(out[4:, ..., 2], expected, rtol=1e-5)
    np.testing.assert_array_equal(out[..., :2], np.concatenate([same, spread]))
    assert np.asarray(minibatch_stddev(spread[:1], 4))[..., 2] == pytest.approx(1e-4, rel=1e-3)  # a lone image
    with pytest.raises(ConfigError, match="model.d_mbstd.*model.arch=article"):
        recipes.build(config_lib.load("experiments/dcgan_mnist.py:runlocal",
                                      [("model.arch", "dcgan64"), ("model.image_size", "32"), ("model.d_mbstd", "4")]))
    with pytest.raises(ConfigError, match="model.d_mbstd' must divide the 32 images"):
        recipes.build(config_lib.load("experiments/dcgan_mnist.py:runlocal",
                                      [("model.d_mbstd", "5"), ("train.batch_size", "32")]))
    run = tmp_path / "mbstd"
    assert main(tiny_argv(run, "--config.model.d_mbstd=4")) == 0
    assert params_of(run)[1] == 20


@pytest.mark.parametrize("upsample", ["conv_transpose", "resize_conv"])
def test_other_upsampling_trains(tmp_path, upsample):
    run = tmp_path / upsample
    assert main(tiny_argv(run, f"--config.model.upsample={upsample}", "--config.train.steps=10")) == 0
    assert params_of(run)[1] == 10


def test_pacgan_packs_images_on_the_channel_axis_and_trains(tmp_path, capsys):
    """model.d_pack=2 (PacGAN): D judges pairs; a run trains, and D still scores each image on its own."""
    from ganjax import config as config_lib, recipes
    from ganjax.config import ConfigError
    cfg = config_lib.load("experiments/dcgan_mnist.py:runlocal", [("model.d_pack", 2)])
    recipe = recipes.build(cfg)
    x = jnp.arange(4 * 2 * 2 * 1, dtype=jnp.float32).reshape(4, 2, 2, 1)
    packed = recipe.packed(x)
    assert packed.shape == (2, 2, 2, 2)  # (n / 2, H, W, 2 C): image 2i in channel 0, image 2i + 1 in channel 1
    np.testing.assert_array_equal(np.asarray(packed[1, ..., 0]), np.asarray(x[2, ..., 0]))
    np.testing.assert_array_equal(np.asarray(packed[1, ..., 1]), np.asarray(x[3, ..., 0]))
    state = recipe.init_state(0)
    assert state.params["d"]["d"]["Conv_0"]["kernel"].shape[2] == 2  # D's first layer takes a pair
    with pytest.raises(ConfigError, match="model.d_pack.*divide train.batch_size"):
        recipes.build(config_lib.load("experiments/dcgan_mnist.py:runlocal", [("model.d_pack", 3)]))
    run = tmp_path / "pac"
    assert main(tiny_argv(run, "--config.model.d_pack=2")) == 0
    _, recipe, state = load_run(run)
    from ganjax.data import to_float
    real = to_float(recipe.dataset.test[:8])
    logits = recipe.d_logits(state, real)  # each image judged as a pair of copies of itself
    assert logits.shape == (8,)
    assert float(logits[3]) == pytest.approx(float(recipe.d_logits(state, real[3:4])[0]), rel=1e-5, abs=1e-6)
