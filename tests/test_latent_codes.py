"""Latent codes: InfoGAN (model.info_codes) and self-conditioning on k-means clusters (model.clusters)."""
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax import config as config_lib, recipes
from ganjax.commands import main
from ganjax.config import ConfigError
from tests.conftest import tiny_argv, tiny_cfg


def test_latents_carry_a_uniform_one_hot_code_and_plain_runs_are_unchanged():
    plain = recipes.build(tiny_cfg())
    key = jax.random.PRNGKey(7)
    np.testing.assert_array_equal(plain.noise(key, 5), jax.random.normal(key, (5, 100)))  # no codes: as before
    info = recipes.build(tiny_cfg(("model.info_codes", "10")))
    z = np.asarray(info.noise(key, 4000))
    assert z.shape == (4000, 110)
    code = z[:, 100:]
    np.testing.assert_array_equal(code.sum(1), 1.0)
    assert set(np.unique(code)) == {0.0, 1.0}
    share = np.bincount(code.argmax(1), minlength=10) / 4000
    assert share.min() > 0.085 and share.max() < 0.115, share  # uniform: 0.10 ± 3 std
    assert abs(z[:, :100].std() - 1) < 0.01
    fixed = np.asarray(info.noise(key, 8, code=3))
    np.testing.assert_array_equal(fixed[:, 100:].argmax(1), 3)


def test_info_loss_is_the_cross_entropy_of_the_code():
    r = recipes.build(tiny_cfg(("model.info_codes", "4")))
    z = r.noise(jax.random.PRNGKey(0), 6)
    code = np.asarray(z[:, -4:]).argmax(1)
    assert float(r.info_loss(jnp.zeros((6, 4)), z)) == pytest.approx(math.log(4), rel=1e-6)  # no idea: ln K
    sure = 50.0 * jax.nn.one_hot(code, 4)
    assert float(r.info_loss(sure, z)) < 1e-6
    wrong = 50.0 * jax.nn.one_hot((code + 1) % 4, 4)
    assert float(r.info_loss(wrong, z)) == pytest.approx(50.0, rel=1e-3)


def test_an_infogan_run_learns_its_code_and_samples_one_category(tmp_path, capsys):
    run = tmp_path / "info"
    assert main(tiny_argv(run, "--config.model.info_codes=4", "--config.train.steps=200", "--config.optim.g.lr=8e-4",
                          "--config.optim.d.lr=8e-4", "--config.train.steps_per_dispatch=25",
                          "--config.train.log_every=25", "--config.train.ckpt_every=100",
                          "--config.train.sample_every=100")) == 0
    rows = [json.loads(line) for line in open(run / "metrics.jsonl")]
    assert rows[0]["info_g"] > 1.2  # ln 4 = 1.39 at the start: Q cannot tell the codes apart
    assert rows[-1]["info_d"] < 0.5 and rows[-1]["info_g"] < 0.5  # G makes them distinguishable, Q reads them
    out = {}
    for c in (0, 2):
        assert main(["sample", str(run), "--n", "16", "--code", str(c), "--output", str(tmp_path / f"c{c}.npz")]) == 0
        assert f"code {c}) to" in capsys.readouterr().out
        out[c] = np.load(tmp_path / f"c{c}.npz")["images"].astype(float)
    assert np.abs(out[0] - out[2]).mean() > 2  # same noise, another code: other images (uint8 levels)
    assert main(["sample", str(run), "--n", "4", "--code", "4", "--output", str(tmp_path / "bad.npz")]) != 0
    assert "--code must be in 0..3 (the run has 4 codes), got 4" in capsys.readouterr().err
    assert not (tmp_path / "bad.npz").exists()
    from ganjax.inference import load_run
    cfg, recipe, state = load_run(str(run))
    x = jnp.zeros((3, 28, 28, 1))
    assert recipe.d_logits(state, x).shape == (3,)  # D's plain logit, as attribution reads it


def test_sampling_a_code_from_a_run_without_codes_is_a_clear_error(tiny_run, tmp_path, capsys):
    assert main(["sample", str(tiny_run), "--n", "4", "--code", "1", "--output", str(tmp_path / "x.png")]) != 0
    assert "--code needs a run trained with codes (model.info_codes or model.clusters > 0); this one has none" in \
        capsys.readouterr().err


@pytest.mark.parametrize("overrides, message", [
    ([("model.info_codes", "1")], "model.info_codes' must be 0 (off) or at least 2, got 1"),
    ([("model.info_codes", "4"), ("model.d_pack", "2")], "model.info_codes' needs model.d_pack=1"),
    ([("model.info_codes", "4"), ("model.arch", "dcgan64"), ("model.image_size", "32")],
     "model.info_codes' needs model.arch=article"),
    ([("model.clusters", "4"), ("model.info_codes", "4")], "'model.info_codes' and 'model.clusters' cannot both"),
])
def test_infogan_config_errors(overrides, message):
    with pytest.raises(ConfigError) as e:
        recipes.build(config_lib.load("experiments/dcgan_mnist.py:runlocal", overrides))
    assert message in str(e.value)


def test_clusters_are_the_same_at_every_load_and_seed_and_codes_follow_their_shares():
    cfg = tiny_cfg(("model.clusters", "5"))
    labels, shares = recipes.build(cfg).cluster_assignment
    again, _ = recipes.build(cfg).cluster_assignment  # a later load (sample, eval) sees the same clusters
    np.testing.assert_array_equal(labels, again)
    # and so does another seed: a sweep stacks members over seeds on group[0]'s data (its clusters), and each
    # member's later load must draw codes with the shares it trained on
    other, _ = recipes.build(tiny_cfg(("model.clusters", "5"), ("seed", "7"))).cluster_assignment
    np.testing.assert_array_equal(labels, other)
    r = recipes.build(cfg)
    assert labels.shape == (len(r.dataset.train),) and set(np.unique(labels)) == set(range(5))
    np.testing.assert_allclose(shares, np.bincount(labels) / len(labels))
    drawn = np.bincount(np.asarray(r.code_of(r.noise(jax.random.PRNGKey(1), 20000))), minlength=5) / 20000
    assert np.all(np.abs(drawn - shares) < 4 * np.sqrt(shares * (1 - shares) / 20000) + 1e-3), (drawn, shares)
    # images of one cluster are closer to their own centroid than to the others'
    x = r.dataset.train.reshape(len(labels), -1).astype(np.float32)
    cent = np.stack([x[labels == k].mean(0) for k in range(5)])
    nearest = np.argmin(((x[:, None] - cent[None]) ** 2).sum(-1), axis=1)
    assert (nearest == labels).mean() > 0.95


def test_projection_discriminator_adds_the_class_embedding_times_the_features():
    """With embedding row k = t·w (w: the logit's weights), an image of class k scores b + (1 + t)(logit − b)."""
    from ganjax.models.dcgan import Discriminator
    d = Discriminator(width=8, classes=3)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 28, 28, 1))
    params = d.init(jax.random.PRNGKey(1), x)["params"]
    w, b = params["Dense_0"]["kernel"][:, 0], params["Dense_0"]["bias"][0]
    plain = d.apply({"params": params}, x)
    table = jnp.zeros_like(params["Embed"]["embedding"]).at[2].set(0.5 * w)
    p2 = {**params, "Embed": {"embedding": table}}
    np.testing.assert_allclose(d.apply({"params": p2}, x), plain, rtol=1e-6)  # no y: the unconditional logit
    y = jnp.array([2, 2, 0, 1])
    out = np.asarray(d.apply({"params": p2}, x, y=y))
    np.testing.assert_allclose(out[:2], b + 1.5 * (np.asarray(plain[:2]) - b), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out[2:], plain[2:], rtol=1e-6)  # zero rows: unchanged


def test_a_self_conditioned_run_trains_with_r1_and_samples_each_cluster_and_keeps_its_clusters(tmp_path, capsys,
                                                                                                monkeypatch):
    run = tmp_path / "sc"
    assert main(tiny_argv(run, "--config.model.clusters=3", "--config.loss.r1_gamma=1")) == 0
    rows = [json.loads(line) for line in open(run / "metrics.jsonl")]
    assert all(np.isfinite(r["r1"]) and np.isfinite(r["g_loss"]) for r in rows)
    assert main(["sample", str(run), "--n", "8", "--code", "2", "--output", str(tmp_path / "c2.png")]) == 0
    assert "code 2) to" in capsys.readouterr().out
    assert main(["sample", str(run), "--n", "8", "--code", "3", "--output", str(tmp_path / "c3.png")]) != 0
    assert "--code must be in 0..2 (the run has 3 codes), got 3" in capsys.readouterr().err
    # the run folder keeps its clusters: later loads read them, with no k-means (nor scikit-learn) needed
    with np.load(run / "clusters.npz", allow_pickle=False) as f:
        assert list(f.keys()) == ["labels"]  # the shares follow from them
        kept_labels = f["labels"]
    from ganjax.inference import load_run
    fresh_labels, fresh_shares = recipes.build(load_run(str(run)).cfg).cluster_assignment
    np.testing.assert_array_equal(kept_labels, fresh_labels)
    np.testing.assert_allclose(np.bincount(kept_labels, minlength=3) / len(kept_labels), fresh_shares)
    import sklearn.cluster

    def no_kmeans(*a, **k):
        raise AssertionError("k-means ran although the run folder keeps its clusters")
    monkeypatch.setattr(sklearn.cluster, "KMeans", no_kmeans)
    loaded = load_run(str(run))
    labels, shares = loaded.recipe.cluster_assignment
    np.testing.assert_array_equal(labels, kept_labels)
    np.testing.assert_allclose(shares, fresh_shares)
    assert main(["sample", str(run), "--n", "8", "--output", str(tmp_path / "s.png")]) == 0
    # a damaged file is named in a warning and the clusters are computed again, as they were
    monkeypatch.undo()
    (run / "clusters.npz").write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="clusters.npz is unreadable"):
        labels, _ = load_run(str(run)).recipe.cluster_assignment
    np.testing.assert_array_equal(labels, kept_labels)
