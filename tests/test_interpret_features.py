"""Feature capture and statistics, ablation, latent tools and PNG figures."""
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.interpret import (ablation_effect, capture, channel_grid, direction_strips,
                              interpolate, layer_statistics, principal_directions,
                              robustness_curve, top_activating)
from ganjax.interpret import figures
from tiny_models import tiny_d


class TinyG(nn.Module):
    @nn.compact
    def __call__(self, z):
        h = nn.relu(nn.Dense(16)(z))
        return jnp.tanh(nn.Dense(4 * 4 * 1)(h)).reshape(z.shape[0], 4, 4, 1)


@pytest.fixture(scope="module")
def tiny():
    return tiny_d(5)[:3]


def test_capture_names_and_shapes(tiny):
    model, variables, x = tiny
    acts = capture(model, variables, x)
    assert {k: v.shape for k, v in acts.items()} == {
        "Conv_0": (5, 8, 8, 4), "Conv_1": (5, 4, 4, 4), "Dense_0": (5, 1)}
    conv0 = nn.Conv(4, (3, 3)).apply({"params": variables["params"]["Conv_0"]}, x)
    np.testing.assert_allclose(acts["Conv_0"], conv0, atol=1e-6)


def test_layer_statistics_probe():
    rng = np.random.default_rng(0)
    real = {"h": rng.normal(1.0, 1.0, (200, 3, 3, 2)).astype(np.float32)}
    fake = {"h": rng.normal(-1.0, 1.0, (200, 3, 3, 2)).astype(np.float32)}
    same = {"h": rng.normal(1.0, 1.0, (200, 3, 3, 2)).astype(np.float32)}
    stats = layer_statistics(real, fake)["h"]
    assert stats["probe_acc"] > 0.9
    assert layer_statistics(real, same)["h"]["probe_acc"] < 0.75  # indistinguishable → chance
    assert abs(stats["mean_real"] - 1.0) < 0.05 and abs(stats["mean_fake"] + 1.0) < 0.05
    assert abs(stats["sparsity_real"] - 0.1587) < 0.03  # P(N(1,1) <= 0)
    np.testing.assert_allclose(stats["l2_real"], np.linalg.norm(real["h"].reshape(200, -1), axis=1).mean(),
                               rtol=1e-5)


def test_top_activating_and_channel_grid():
    acts = np.zeros((6, 2, 2, 3), np.float32)
    acts[4, ..., 0], acts[1, ..., 0] = 5.0, 3.0
    acts[2, ..., 1], acts[5, ..., 2] = 7.0, 1.0
    fn = lambda imgs: {"L": imgs}  # noqa: E731  (the "images" are the activations here)
    idx = top_activating(fn, acts, "L", k=2, batch_size=4)
    assert idx.shape == (3, 2) and list(idx[0]) == [4, 1] and idx[1, 0] == 2 and idx[2, 0] == 5
    with pytest.raises(ValueError):
        top_activating(fn, acts, "nope", k=2)
    grid = channel_grid(np.random.rand(2, 5, 5, 7), max_channels=4)
    assert grid.shape == (11, 11) and np.nanmax(grid) == 1.0
    with pytest.raises(ValueError):
        channel_grid(np.ones((4, 3)))


def test_ablation_effect(tiny):
    model, variables, x = tiny
    clean = float(model.apply(variables, x).mean())
    bias = float(variables["params"]["Dense_0"]["bias"][0])
    # zeroing Conv_1 leaves Dense(tanh(0)) = bias
    assert abs(ablation_effect(model, variables, x, "Conv_1") - (bias - clean)) < 1e-5
    all_layers = ablation_effect(model, variables, x)
    assert set(all_layers) == {"Conv_0", "Conv_1", "Dense_0"}
    assert abs(all_layers["Dense_0"] + clean) < 1e-5
    per_ch = ablation_effect(model, variables, x, "Conv_1", per_channel=True)
    assert per_ch.shape == (4,) and np.all(np.isfinite(per_ch))
    assert np.ptp(per_ch) > 0
    with pytest.raises(ValueError, match="Conv_0"):
        ablation_effect(model, variables, x, "Conv_7")


def test_interpolate():
    z0, z1 = jax.random.normal(jax.random.key(0), (2, 8))
    for method in ("slerp", "linear"):
        path = interpolate(z0, z1, 5, method=method)
        assert path.shape == (5, 8)
        np.testing.assert_allclose(path[0], z0, atol=1e-6)
        np.testing.assert_allclose(path[-1], z1, atol=1e-6)
    u0, u1 = z0 / jnp.linalg.norm(z0), z1 / jnp.linalg.norm(z1)
    norms = jnp.linalg.norm(interpolate(u0, u1, 7), axis=-1)  # slerp keeps unit norm
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    np.testing.assert_allclose(interpolate(z0, z0, 3), jnp.stack([z0] * 3), atol=1e-6)
    batched = interpolate(jnp.stack([z0, z1]), jnp.stack([z1, z0]), 4)
    assert batched.shape == (4, 2, 8)


def test_principal_directions_and_strips():
    g = TinyG()
    params = g.init(jax.random.key(0), jnp.zeros((1, 6)))
    g_apply = lambda z: g.apply(params, z)  # noqa: E731
    d, ratio = principal_directions(g_apply, jax.random.key(1), 6, n_samples=300, n_components=4)
    assert d.shape == (4, 6) and ratio.shape == (4,)
    np.testing.assert_allclose(d @ d.T, np.eye(4), atol=1e-5)
    assert np.all(np.diff(ratio) <= 1e-7)
    d2, _ = principal_directions(g_apply, jax.random.key(1), 6, n_samples=300, n_components=3,
                                 layer_fn="output", batch=128)
    assert d2.shape == (3, 6)
    np.testing.assert_allclose(np.linalg.norm(d2, axis=1), 1.0, atol=1e-5)
    strips = direction_strips(g_apply, jnp.zeros(6), d[:2], jnp.linspace(-2, 2, 5))
    assert strips.shape == (2, 5, 4, 4, 1)
    np.testing.assert_allclose(strips[1, 2], g_apply(jnp.zeros((1, 6)))[0], atol=1e-6)


def test_figures(tmp_path, tiny):
    model, variables, x = tiny
    attr = jax.random.normal(jax.random.key(3), x.shape)
    paths = []
    for method in figures.HEAT_METHODS:
        for sign in figures.SIGNS:
            paths.append(figures.heatmap_png(attr[:3], x[:3], tmp_path / f"h_{method}_{sign}.png",
                                             sign=sign, method=method, titles=["a", "b", "c"]))
    rgb = jnp.repeat(x[:2], 3, axis=-1)
    paths.append(figures.heatmap_png(attr[0].repeat(3, -1), rgb[0], tmp_path / "rgb.png"))
    f = lambda z: model.apply(variables, z)  # noqa: E731
    curve = robustness_curve(f, x[:2], x[2:4], [0.0, 0.1], jax.random.key(0), method="fgsm")
    paths.append(figures.robustness_curve_png(curve, tmp_path / "curve.png"))
    paths.append(figures.robustness_curve_png([curve, curve], tmp_path / "c2.png", labels=["a", "b"]))
    paths.append(figures.strip_png(np.zeros((2, 3, 4, 4, 1)), tmp_path / "sub/strip.png",
                                   row_labels=["d0", "d1"], col_labels=["-1", "0", "1"]))
    acts = capture(model, variables, x)
    paths.append(figures.channel_grid_png(acts["Conv_0"], tmp_path / "grid.png", title="Conv_0"))
    for p in paths:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    norm = figures.normalize_attr(np.asarray(attr[0]), "all")
    assert norm.shape == (8, 8) and norm.min() >= -1 and norm.max() <= 1 and norm.max() == 1.0
    assert figures.normalize_attr(np.asarray(attr[0]), "negative").min() >= 0
    with pytest.raises(ValueError):
        figures.heatmap_png(attr[:1], x[:1], tmp_path / "bad.png", sign="both")


def test_capture_matches_partial_acts_fn(tiny):
    model, variables, x = tiny
    idx = top_activating(functools.partial(capture, model, variables), x, "Conv_1", k=3)
    assert idx.shape == (4, 3) and idx.max() < x.shape[0]
