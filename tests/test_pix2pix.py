"""pix2pix recipe: a tiny training run on the built-in colorize task, loss terms, data checks."""
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax import config as config_lib
from ganjax import recipes
from ganjax.data import DataError
from ganjax.inference import load_run
from ganjax.train.loop import train_and_evaluate
from ganjax.train.state import Runner

EXP = os.path.join(os.path.dirname(__file__), "..", "experiments", "pix2pix.py")
TINY = [("data.load_size", 34), ("data.crop_size", 32), ("model.ngf", 4), ("model.ndf", 4),
        ("train.batch_size", 2), ("train.steps", 30), ("train.steps_per_dispatch", 1),
        ("train.log_every", 1), ("train.sample_every", 30), ("train.ckpt_every", 30),
        ("train.num_sample_grid", 3)]


def tiny_config(*extra):
    return config_lib.load(EXP + ":runlocal", [(k, str(v)) for k, v in TINY + list(extra)])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("pix2pix"))
    train_and_evaluate(tiny_config(), workdir, progress=False)
    return workdir


def test_training_losses_finite_and_g_loss_falls(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 30
    for key in ("d_loss", "g_loss", "G_GAN", "G_L1", "d_real", "d_fake"):
        assert all(np.isfinite(r[key]) for r in rows), key
    g = [r["g_loss"] for r in rows]
    assert np.mean(g[-5:]) < 0.8 * np.mean(g[:5])
    _, recipe, state = load_run(run_dir)
    assert "batch_stats" in state.model_state["G"] and "batch_stats" in state.model_state["D"]
    fixed = recipe.fixed_inputs(3)
    grid = recipe.visualize(state, fixed)
    assert grid.shape == (9, 32, 32, 3)  # rows of [A, G(A), B]
    np.testing.assert_array_equal(grid[0::3], fixed["A"])
    np.testing.assert_array_equal(grid[2::3], fixed["B"])
    assert "input A | fake B = G(A) | real B" in open(os.path.join(run_dir, "report.html")).read()


RGB = ("model.colorization", "False")


def test_g_and_d_losses_on_known_inputs():
    recipe = recipes.build(tiny_config(RGB))
    a = jnp.zeros((2, 32, 32, 3))
    b = jnp.full((2, 32, 32, 3), 0.5)
    batch = {"A": a, "B": b}
    big = lambda name, x: jnp.full((x.shape[0], 2, 2, 1), 30.0)  # D sure that everything is real
    loss, m = recipe.g_loss(big, batch, {"fake": b + 0.1}, {"lambda_L1": 100.0})
    np.testing.assert_allclose(float(m["G_L1"]), 100 * 0.1, rtol=1e-5)
    assert float(m["G_GAN"]) < 1e-6  # BCE(real) of a confident D
    d_loss, dm = recipe.d_loss(big, batch, b, None, {})
    np.testing.assert_allclose(float(d_loss), 0.5 * 30.0, rtol=1e-4)  # −log(1 − σ(30)) ≈ 30, halved
    assert float(dm["d_real"]) > 0.99
    # loss.recon=l2: the squared error, under its own name; an error of 0.1 costs λ · 0.01 instead of λ · 0.1
    l2 = recipes.build(tiny_config(RGB, ("loss.recon", "l2")))
    loss2, m2 = l2.g_loss(big, batch, {"fake": b + 0.1}, {"lambda_L1": 100.0})
    np.testing.assert_allclose(float(m2["G_L2"]), 100 * 0.01, rtol=1e-4)
    assert "G_L1" not in m2 and abs(float(loss2) - float(m2["G_L2"]) - float(m2["G_GAN"])) < 1e-5
    with pytest.raises(config_lib.ConfigError, match="loss.recon"):
        tiny_config(RGB, ("loss.recon", "l3"))


def test_d_sees_the_six_channel_pair():
    recipe = recipes.build(tiny_config(RGB))
    state = jax.eval_shape(recipe.init_state, 0)
    kernel = state.params["d"]["D"]["Conv_0"]["kernel"]
    assert kernel.shape[2] == 6
    assert recipe.modules["G"].num_downs == 5 and recipe.modules["G"].norm == "batch"


def test_colorization_maps_luma_to_chroma(run_dir):
    from ganjax.data.builtin_tasks import to_gray3
    from ganjax.data.translation import to_float
    _, recipe, state = load_run(run_dir)  # runlocal: colorization on
    assert state.params["g"]["G"]["Conv_0"]["kernel"].shape[2] == 1  # G sees the luma only
    assert state.params["d"]["D"]["Conv_0"]["kernel"].shape[2] == 3  # D sees (luma, chroma)
    rgb = np.random.RandomState(0).randint(64, 192, (2, 32, 32, 3)).astype(np.uint8)
    a, b = to_float(to_gray3(rgb)), to_float(rgb)
    np.testing.assert_allclose(recipe.decode(a, recipe.encode_b(b)), b, atol=1.5 / 127.5)  # gray + chroma = B
    np.testing.assert_allclose(recipe.decode(a, jnp.zeros((2, 32, 32, 2))), a, atol=1e-5)  # no chroma = gray
    out = jax.jit(recipe.translator())(state, a)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(np.asarray(rgb_luma(out)), np.asarray(a[..., 0]), atol=1e-4)  # luma kept


def rgb_luma(x):
    return x @ jnp.array([0.299, 0.587, 0.114])


def test_unpaired_builtin_is_rejected_with_one_line():
    recipe = recipes.build(tiny_config(("data.builtin", "tone")))
    with pytest.raises(DataError, match="pix2pix needs paired data") as e:
        recipe.dataset
    assert "\n" not in str(e.value)


def test_style_content_with_own_and_user_feature_network(run_dir, tmp_path, monkeypatch):
    _, _, state = load_run(run_dir)  # colorization: D features of (luma, chroma)
    recipe = recipes.build(tiny_config(("loss.style_weight", 1.0), ("loss.content_weight", 1.0)))
    hp = {**state.hp, "style_weight": jnp.float32(1.0), "content_weight": jnp.float32(1.0)}
    b = jax.random.uniform(jax.random.PRNGKey(0), (2, 32, 32, 3), minval=-1, maxval=1)
    batch = {"A": jnp.repeat(rgb_luma(b)[..., None], 3, -1), "B": b}
    run_d = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    true_code = recipe.encode_b(b)
    _, m = recipe.g_loss(run_d, batch, {"fake": true_code}, hp)
    assert float(m["style"]) == 0.0 and float(m["content"]) == 0.0  # G(A) equals the true B
    _, m = recipe.g_loss(run_d, batch, {"fake": 0.5 * true_code}, hp)
    assert float(m["style"]) >= 0.0 and float(m["content"]) > 0.0

    # a user-supplied module (importable `module:attr`) with .npz parameters
    (tmp_path / "tiny_features.py").write_text(
        "import flax.linen as nn\n"
        "class Net(nn.Module):\n"
        "    @nn.compact\n"
        "    def __call__(self, x):\n"
        "        x = nn.relu(nn.Conv(4, (3, 3), name='c1')(x))\n"
        "        return nn.Conv(2, (3, 3), name='c2')(x)\n"
        "net = Net()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("tiny_features", None)
    rng = np.random.RandomState(0)
    np.savez(tmp_path / "p.npz", **{"params/c1/kernel": rng.randn(3, 3, 3, 4).astype(np.float32),
                                    "params/c1/bias": np.zeros(4, np.float32),
                                    "params/c2/kernel": rng.randn(3, 3, 4, 2).astype(np.float32),
                                    "params/c2/bias": np.zeros(2, np.float32)})
    user = recipes.build(tiny_config(RGB, ("loss.style_weight", 1.0), ("loss.feature_net", "tiny_features:net"),
                                     ("loss.feature_params", str(tmp_path / "p.npz")),
                                     ("loss.feature_layers", "c1")))
    assert not user.features.own
    feats = user.features(None, "D", b)
    assert len(feats) == 1 and feats[0].shape == (2, 32, 32, 4)
    fake_d = lambda name, x: jnp.zeros((x.shape[0], 2, 2, 1))
    _, m = user.g_loss(fake_d, {**batch, "feature_params": user.features.params}, {"fake": 0.5 * b},
                       {**hp, "lambda_L1": 1.0})
    assert float(m["style"]) > 0.0 and "content" not in m
    bad = recipes.build(tiny_config(("loss.style_weight", 1.0), ("loss.feature_net", "no_such_mod:x"),
                                    ("loss.feature_params", str(tmp_path / "p.npz"))))  # imports nothing yet
    with pytest.raises(config_lib.ConfigError, match="cannot import"):
        bad.features.params  # what device_data() reads before training writes anything


def test_feature_settings_without_weights_warn():
    """Naming feature layers but leaving both style and content weights at 0 trains nothing: say so."""
    with pytest.warns(UserWarning, match="loss.content_weight and loss.feature_match are 0"):
        recipes.build(tiny_config(("loss.feature_layers", "Conv_0")))


def test_colorization_output_keeps_the_input_luma_exactly():
    """A predicted colour outside the RGB cube gets less chroma, not clipped channels: the luma stays the input's,
    the hue stays the predicted one, and colours inside the cube come back unchanged."""
    from ganjax.recipes.translation_base import rgb_to_ycc, ycc_to_rgb

    rng = np.random.RandomState(0)
    y = rng.uniform(-1, 1, (500, 1)).astype(np.float32)
    chroma = rng.uniform(-1, 1, (500, 2)).astype(np.float32)  # mostly far outside the cube
    out = np.asarray(ycc_to_rgb(jnp.asarray(y), jnp.asarray(chroma)))
    assert out.min() >= -1 and out.max() <= 1
    back = np.asarray(rgb_to_ycc(out))
    np.testing.assert_allclose(back[:, :1], y, atol=1e-5)
    cos = np.sum(back[:, 1:] * chroma, -1) / (np.linalg.norm(back[:, 1:], axis=-1) * np.linalg.norm(chroma, axis=-1) + 1e-12)
    assert np.all((cos > 0.9999) | (np.linalg.norm(back[:, 1:], axis=-1) < 1e-5))  # same hue (or grey at the ends)
    rgb = rng.uniform(-1, 1, (500, 3)).astype(np.float32)
    ycc = np.asarray(rgb_to_ycc(rgb))
    np.testing.assert_allclose(np.asarray(ycc_to_rgb(ycc[:, :1], ycc[:, 1:])), rgb, atol=1e-5)
