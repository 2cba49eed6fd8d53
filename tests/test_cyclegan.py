"""CycleGAN recipe: a tiny training run, the image pool, the loss terms on known inputs, restore/resume."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from ganjax import config as config_lib
from ganjax import losses, recipes
from ganjax.config import ConfigError
from ganjax.recipes.image_pool import init_pool, query_pool
from ganjax.inference import load_run
from ganjax.train.loop import train_and_evaluate
from ganjax.train.state import Runner
from ganjax.train.steps import compile_multi_step

EXP = os.path.join(os.path.dirname(__file__), "..", "experiments", "cyclegan.py")
TINY = [("data.load_size", 18), ("data.crop_size", 16), ("model.generator", "resnet"), ("model.ngf", 4),
        ("model.ndf", 4), ("model.n_blocks", 1), ("model.n_layers_d", 2), ("model.pool_size", 4),
        ("train.batch_size", 2), ("train.steps", 30), ("train.steps_per_dispatch", 1), ("train.log_every", 1),
        ("train.sample_every", 30), ("train.ckpt_every", 15), ("train.num_sample_grid", 2),
        ("optim.g.lr", 2e-3), ("optim.d.lr", 2e-3)]


# the reference's loss terms (an RGB cycle, no histogram term, no cycle noise), for the known-answer tests of the
# terms; :runlocal's luma cycle and histogram specification have tests of their own
PLAIN = (("loss.cycle_noise_A", 0.0), ("loss.cycle_space_A", "rgb"), ("loss.histogram_A", 0.0),
         ("loss.histogram_memory", 0.0))


def tiny_config(*extra):
    return config_lib.load(EXP + ":runlocal", [(k, str(v)) for k, v in TINY + list(extra)])


def make_task(root):
    """A tiny unpaired folder task: 4 smooth colour images per folder, B a warmer tint of A-like images."""
    rng = np.random.RandomState(0)
    for d in ("trainA", "trainB", "testA", "testB"):
        (root / d).mkdir(parents=True)
        for i in range(4):
            low = rng.uniform(0, 255, (4, 4, 3)).astype(np.uint8)
            img = np.asarray(Image.fromarray(low).resize((18, 18), Image.BICUBIC), np.float32)
            if d.endswith("B"):
                img = img * np.array([1.0, 0.8, 0.5]) + np.array([40.0, 20.0, 0.0])
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / d / f"{i}.png")
    return str(root)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("cyclegan"))
    task = make_task(tmp_path_factory.mktemp("task"))
    train_and_evaluate(tiny_config(("data.root", task), ("train.batch_size", 4)), workdir, progress=False)
    return workdir


def test_training_losses_finite_and_g_loss_falls(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows] == list(range(1, 31))
    for key in ("d_loss", "g_loss", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "G_B"):
        assert all(np.isfinite(r[key]) for r in rows), key
    g = [r["g_loss"] for r in rows]
    assert np.mean(g[-5:]) < 0.95 * np.mean(g[:5])  # a smooth fall: the same 4 images every step
    sample = os.path.join(run_dir, "samples", "step_000030.png")
    assert os.path.exists(sample)
    html = open(os.path.join(run_dir, "report.html")).read()
    assert "real A | fake B = G_A(A)" in html


def test_restore_and_resume_reproduce_the_run(run_dir):
    cfg, recipe, state15 = load_run(run_dir, step=15, ema=False)  # the trained state itself, not the EMA swapped in
    _, _, state30 = load_run(run_dir, ema=False)
    assert int(state15.step) == 15 and int(state30.step) == 30
    assert int(state30.extra["pool_fake_B"]["count"]) == 4  # full after 60 fakes
    fn = compile_multi_step(recipe, recipe.optimizers(), 1)  # the loop's own dispatch
    data = jax.device_put(recipe.device_data())
    state = state15
    for _ in range(15):
        state, _ = fn(state, data)
    for a, b in zip(jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(state30.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_without_a_pool_the_run_checkpoints_and_d_sees_this_steps_fakes(tmp_path):
    """model.pool_size = 0 ("none") keeps no buffer: a zero-size one made orbax fail at the first checkpoint."""
    workdir = str(tmp_path / "run")
    cfg = tiny_config(("data.root", make_task(tmp_path / "task")), ("model.pool_size", 0), ("train.steps", 4),
                      ("train.ckpt_every", 2), ("train.sample_every", 4),
                      ("loss.histogram_memory", 0.0))  # :runlocal's running histogram lives in extra too
    train_and_evaluate(cfg, workdir, progress=False)
    _, recipe, state = load_run(workdir, ema=False)
    assert int(state.step) == 4 and state.extra == {}
    fakes = {"fake_B": jnp.zeros((2, 16, 16, 3)), "fake_A": jnp.ones((2, 16, 16, 3))}
    d_in, extra = recipe.d_inputs(fakes, state.extra, jax.random.PRNGKey(0))
    assert d_in["fake_B"] is fakes["fake_B"] and d_in["fake_A"] is fakes["fake_A"] and extra == {}


def test_image_pool_returns_inputs_until_full_then_mixes():
    pool = init_pool(3, (1, 1, 1))
    first = jnp.arange(1.0, 4.0).reshape(3, 1, 1, 1)
    out, pool = query_pool(pool, first, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, first)
    assert int(pool["count"]) == 3
    np.testing.assert_array_equal(pool["images"], first)
    swaps, query = 0, jax.jit(query_pool)
    for i in range(200):
        new = jnp.full((1, 1, 1, 1), 100.0 + i)
        before = np.asarray(pool["images"]).ravel()
        out, pool = query(pool, new, jax.random.PRNGKey(i + 1))
        after, got = np.asarray(pool["images"]).ravel(), float(out.ravel()[0])
        if got == 100.0 + i:  # the new image returned, pool unchanged
            np.testing.assert_array_equal(after, before)
        else:  # an old image returned, the new one stored in its place
            swaps += 1
            k = int(np.flatnonzero(before == got)[0])
            assert after[k] == 100.0 + i and np.sum(after != before) == 1
    assert 70 < swaps < 130  # p = 0.5
    assert int(pool["count"]) == 3
    empty = init_pool(0, (1, 1, 1))
    out, _ = query_pool(empty, first, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, first)


def _known_batch(recipe):
    key = jax.random.PRNGKey(3)
    a = jax.random.uniform(key, (2, 16, 16, 3), minval=-1, maxval=1)
    return {"A": a, "B": -a}


def test_identity_generators_give_zero_cycle_and_known_identity_terms():
    # the reference's λ_A and identity weight (:runlocal's too: 10 and 0.5)
    recipe = recipes.build(tiny_config(("loss.lambda_A", 10.0), ("loss.lambda_identity", 0.5), *PLAIN))
    state = recipe.init_state(0)
    batch, hp = _known_batch(recipe), state.hp
    outputs = recipe.generate(lambda name, x: x, batch, hp)  # G_A = G_B = identity
    run_d = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    _, m = recipe.g_loss(run_d, batch, outputs, hp)
    assert float(m["cycle_A"]) == 0.0 and float(m["cycle_B"]) == 0.0
    # identity: |G_A(B) - B| = 0, but here G_A(B) = B exactly, so the idt terms vanish too
    assert float(m["idt_A"]) == 0.0 and float(m["idt_B"]) == 0.0
    shifted = {**outputs, "rec_A": batch["A"] + 0.1, "idt_A": batch["B"] + 0.2}
    _, m = recipe.g_loss(run_d, batch, shifted, hp)
    np.testing.assert_allclose(float(m["cycle_A"]), 0.1 * 10.0, rtol=1e-5)  # λ_A = 10
    np.testing.assert_allclose(float(m["idt_A"]), 0.2 * 10.0 * 0.5, rtol=1e-5)  # λ_B · λ_idt
    # G = negation maps A to B exactly; cycling twice is the identity again
    neg = recipe.generate(lambda name, x: -x, batch, hp)
    np.testing.assert_allclose(neg["fake_B"], batch["B"])
    np.testing.assert_allclose(neg["rec_A"], batch["A"])


def test_one_generator_pass_over_both_domains_equals_separate_calls():
    """generate() runs each generator once over [its domain, the other's] (translation and identity in one
    call, half the kernel launches); with instance norm that is the same function as the reference's calls."""
    recipe = recipes.build(tiny_config(*PLAIN))
    state = recipe.init_state(0)
    batch = _known_batch(recipe)
    batch = {"A": jnp.tanh(jax.random.normal(jax.random.PRNGKey(1), batch["A"].shape)),
             "B": jnp.tanh(jax.random.normal(jax.random.PRNGKey(2), batch["B"].shape))}
    calls = []
    run = Runner(recipe.modules, state.params["g"], state.model_state, jax.random.PRNGKey(0))
    out = recipe.generate(lambda name, x: calls.append((name, x.shape[0])) or run(name, x), batch, state.hp)
    n = batch["A"].shape[0]
    assert calls == [("G_A", 2 * n), ("G_B", 2 * n), ("G_B", n), ("G_A", n)]
    a, b = batch["A"], batch["B"]
    expected = {"fake_B": run("G_A", a), "fake_A": run("G_B", b), "idt_A": run("G_A", b), "idt_B": run("G_B", a)}
    expected.update(rec_A=run("G_B", expected["fake_B"]), rec_B=run("G_A", expected["fake_A"]))
    assert set(out) == set(expected)
    for k in expected:
        np.testing.assert_allclose(out[k], expected[k], atol=1e-5, err_msg=k)
    assert float(jnp.std(out["fake_B"] - out["idt_A"])) > 1e-3  # the two halves are different images
    # batch norm: separate calls (a batch of both domains would change its statistics)
    bn = recipes.build(tiny_config(("model.norm", "batch"), *PLAIN))
    calls.clear()
    bn.generate(lambda name, x: calls.append((name, x.shape[0])) or x, batch, state.hp)
    assert sorted(calls) == sorted([("G_A", n)] * 3 + [("G_B", n)] * 3)


def test_missing_data_root_is_named_and_nothing_is_written(tmp_path, capsys):
    from ganjax.commands import main
    run = tmp_path / "run"
    assert main(["train", EXP + ":runlocal", "--workdir", str(run), f"--config.data.root={tmp_path}/nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"ganjax: error: data.root {tmp_path}/nope: no such folder (it should hold ROOT/trainA, trainB, " \
                  "testA, testB)"
    assert not run.exists()


def test_d_loss_is_half_lsgan_per_discriminator():
    recipe = recipes.build(tiny_config())
    batch = {"A": jnp.ones((2, 16, 16, 3)), "B": jnp.ones((2, 16, 16, 3))}
    d = lambda name, x: jnp.mean(x, axis=(1, 2, 3))  # logits: 1 on ones, 0 on zeros
    fakes = {"fake_B": jnp.zeros((2, 16, 16, 3)), "fake_A": jnp.ones((2, 16, 16, 3))}
    loss, m = recipe.d_loss(d, batch, fakes, None, {})
    assert float(m["D_A"]) == 0.0  # real → 1, fake → 0: perfect
    np.testing.assert_allclose(float(m["D_B"]), 0.5 * 1.0)  # fake scored 1: (1 - 0)² halved
    np.testing.assert_allclose(float(loss), 0.5)


def test_style_and_content_terms_on_discriminator_features():
    cfg = tiny_config(("loss.style_weight", 2.0), ("loss.content_weight", 0.5), *PLAIN)
    recipe = recipes.build(cfg)
    state = recipe.init_state(0)
    assert float(state.hp["style_weight"]) == 2.0
    batch = _known_batch(recipe)
    run_d = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    outputs = recipe.generate(lambda name, x: x, batch, state.hp)
    total, m = recipe.g_loss(run_d, batch, outputs, state.hp)
    for k in ("style_A2B", "content_A2B", "style_B2A", "content_B2A"):
        assert np.isfinite(float(m[k])) and float(m[k]) >= 0.0
    # G = identity: fake B is real A, so the content term (fake B vs real A) is exactly 0
    assert float(m["content_A2B"]) == 0.0 and float(m["style_A2B"]) > 0.0
    base = sum(float(v) for k, v in m.items() if "2" not in k)
    extra = 2.0 * (m["style_A2B"] + m["style_B2A"]) + 0.5 * (m["content_A2B"] + m["content_B2A"])
    np.testing.assert_allclose(float(total), base + float(extra), rtol=1e-5)
    feats = recipe.features(run_d, "D_A", batch["A"])
    assert len(feats) == 3  # n_layers_d = 2: four convolutions, all but the logit layer
    off = recipes.build(tiny_config())
    assert off.features is None  # weights 0: not computed


def test_feature_matching_term_compares_batch_means_of_one_layer():
    cfg = tiny_config(("loss.feature_match", 3.0), ("loss.feature_layers", "Conv_1"), *PLAIN)
    recipe = recipes.build(cfg)
    state = recipe.init_state(0)
    assert float(state.hp["feature_match"]) == 3.0
    batch = _known_batch(recipe)
    run_d = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    outputs = recipe.generate(lambda name, x: x, batch, state.hp)  # G = identity: fake B = A, fake A = B
    total, m = recipe.g_loss(run_d, batch, outputs, state.hp)
    assert set(k for k in m if "2" in k) == {"feature_match_A2B", "feature_match_B2A"}
    feats = lambda x: recipe.features(run_d, "D_A", x)
    assert len(feats(batch["A"])) == 1 and feats(batch["A"])[0].shape[-1] == 8  # Conv_1 alone (ndf 4 x 2)
    want = jnp.mean(jnp.square(feats(batch["A"])[0].mean((0, 1, 2)) - feats(batch["B"])[0].mean((0, 1, 2))))
    np.testing.assert_allclose(float(m["feature_match_A2B"]), float(want), rtol=1e-5)
    assert float(want) > 1e-6  # A and B = -A differ in Conv_1's means
    base = sum(float(v) for k, v in m.items() if "2" not in k)
    np.testing.assert_allclose(float(total), base + 3.0 * float(m["feature_match_A2B"] + m["feature_match_B2A"]),
                               rtol=1e-5)


def test_cycle_noise_reaches_only_the_cycle():
    recipe = recipes.build(tiny_config(("loss.cycle_noise_A", 0.5)))
    state = recipe.init_state(0)
    assert recipe.cycle_noise == (True, False) and float(state.hp["cycle_noise_A"]) == 0.5

    class IdentityG:  # G_A = G_B = identity, with the Runner's key
        rng = jax.random.PRNGKey(1)

        def __call__(self, name, x):
            return x

    batch = {"A": jnp.zeros((4, 16, 16, 3)), "B": jnp.ones((4, 16, 16, 3))}
    out = recipe.generate(IdentityG(), batch, state.hp)
    assert float(jnp.abs(out["fake_B"]).max()) == 0.0 and float(jnp.abs(out["idt_A"] - 1).max()) == 0.0
    noise = out["rec_A"] - out["fake_B"]  # G_B saw G_A's output plus noise of std 0.5
    np.testing.assert_allclose(float(noise.std()), 0.5, rtol=0.05)
    assert abs(float(noise.mean())) < 0.03
    assert float(jnp.abs(out["rec_B"] - 1).max()) == 0.0  # cycle_noise_B = 0: B -> A -> B is untouched
    quiet = recipe.generate(IdentityG(), batch, {**state.hp, "cycle_noise_A": jnp.float32(0.0)})
    assert float(jnp.abs(quiet["rec_A"]).max()) == 0.0  # the std is the hp's (sweeps stack it)
    assert recipes.build(tiny_config()).cycle_noise == (False, False)  # :runlocal's default: no cycle noise


def test_histogram_term_compares_each_output_with_its_target_domain():
    recipe = recipes.build(tiny_config(*PLAIN, ("loss.histogram_A", 2.0), ("loss.histogram_B", 2.0)))
    state = recipe.init_state(0)
    assert float(state.hp["histogram_A"]) == float(state.hp["histogram_B"]) == 2.0
    run = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    a = jnp.tanh(jax.random.normal(jax.random.PRNGKey(1), (4, 16, 16, 3)))
    b = 0.5 * a + 0.2  # the target domain: lower contrast, brighter
    batch = {"A": a, "B": b}
    outputs = {"fake_B": a, "fake_A": b, "rec_A": a, "rec_B": b, "idt_A": b, "idt_B": a}
    _, m = recipe.g_loss(run, batch, outputs, state.hp)
    # fake B (= A's levels) against B's; fake A (= B's levels) against A's; both weighted by the hp
    np.testing.assert_allclose(float(m["hist_A"]), 2.0 * float(losses.histogram_matching(a, b)), rtol=1e-6)
    np.testing.assert_allclose(float(m["hist_B"]), float(m["hist_A"]), rtol=1e-6)
    assert float(m["hist_A"]) > 0.2
    _, m_right = recipe.g_loss(run, batch, {**outputs, "fake_B": b[::-1], "fake_A": a[:, ::-1]}, state.hp)
    assert float(m_right["hist_A"]) < 1e-6 and float(m_right["hist_B"]) < 1e-6  # the right levels, any layout
    _, m_off = recipes.build(tiny_config(*PLAIN)).g_loss(run, batch, outputs, state.hp)
    assert "hist_A" not in m_off  # weight 0: not in the step
    old = tiny_config(*PLAIN)  # a run configured before the split: one loss.histogram weight for both outputs
    with old.unlocked():
        del old.loss["histogram_A"], old.loss["histogram_B"]
        old.loss.histogram = 2.0
    old_recipe = recipes.build(old)
    _, m_old = old_recipe.g_loss(run, batch, outputs, old_recipe.init_state(0).hp)
    assert float(m_old["hist_A"]) == pytest.approx(float(m["hist_A"])) and "hist_B" in m_old
    one_way = recipes.build(tiny_config(*PLAIN, ("loss.histogram_A", 2.0)))  # G_A's output alone
    _, m_one = one_way.g_loss(run, batch, outputs, one_way.init_state(0).hp)
    assert float(m_one["hist_A"]) == pytest.approx(float(m["hist_A"])) and "hist_B" not in m_one


def test_histogram_memory_keeps_running_output_histograms_and_targets_the_whole_training_set(tmp_path):
    """loss.histogram_memory > 0: D's inputs step updates a running level histogram of each generator's outputs in
    state.extra; G's histogram term compares its outputs, through that histogram, with the target domain's training
    set (level quantiles on the device); the run trains, checkpoints and resumes with them."""
    m = 0.9
    recipe = recipes.build(tiny_config(("loss.histogram_A", 1.0), ("loss.histogram_B", 1.0),
                                       ("loss.histogram_memory", m)))
    state = recipe.init_state(0)
    assert set(state.extra) == {"pool_fake_A", "pool_fake_B", "hist_fake_A", "hist_fake_B"}
    data = recipe.device_data()
    np.testing.assert_allclose(data["levels_B"], losses.level_quantiles(recipe.dataset.train_b), rtol=1e-6)
    fake_b = jnp.full((2, 16, 16, 3), 0.5)  # every pixel in bin floor(1.5 * 128) = 192
    outputs = {"fake_B": fake_b, "fake_A": -fake_b}
    _, extra = recipe.d_inputs(outputs, state.extra, jax.random.PRNGKey(0))
    _, extra = recipe.d_inputs({"fake_B": -fake_b, "fake_A": fake_b}, extra, jax.random.PRNGKey(1))
    hist = np.asarray(extra["hist_fake_B"])  # m (1 - m) in 0.5's bin, (1 - m) in -0.5's: normalised m / (1 + m), 1 / (1 + m)
    np.testing.assert_allclose(hist[192] / hist.sum(0), m / (1 + m), rtol=1e-5)
    np.testing.assert_allclose(hist[64] / hist.sum(0), 1 / (1 + m), rtol=1e-5)
    batch = recipe.g_batch({"A": fake_b, "B": fake_b, "levels_A": data["levels_A"], "levels_B": data["levels_B"]},
                           extra)
    run = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    outs = {"fake_B": fake_b, "fake_A": fake_b, "rec_A": fake_b, "rec_B": fake_b, "idt_A": fake_b, "idt_B": fake_b}
    _, metrics = recipe.g_loss(run, batch, outs, state.hp)
    expected = losses.histogram_specification(fake_b, extra["hist_fake_B"], data["levels_B"])
    np.testing.assert_allclose(float(metrics["hist_A"]), float(expected), rtol=1e-6)
    workdir = str(tmp_path / "run")
    cfg = tiny_config(("data.root", make_task(tmp_path / "task")), ("loss.histogram_A", 1.0),
                      ("loss.histogram_memory", m), ("train.steps", 4), ("train.ckpt_every", 2), ("train.sample_every", 4))
    train_and_evaluate(cfg, workdir, progress=False)
    _, _, trained = load_run(workdir, ema=False)
    np.testing.assert_allclose(np.asarray(trained.extra["hist_fake_B"]).sum(0), 1 - m ** 4, rtol=1e-5)
    assert "hist_fake_A" not in trained.extra  # G_B's output is not judged: no histogram kept for it
    rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    assert all(np.isfinite(r["hist_A"]) and "hist_B" not in r for r in rows if "d_loss" in r)
    with pytest.raises(ConfigError, match="loss.histogram_memory"):
        recipes.build(tiny_config(("loss.histogram_memory", 1.0)))


def test_discriminator_norm_can_differ_from_the_generators():
    """model.norm_d sets D's norm alone; "" (the full-size default) keeps the reference's: model.norm for both."""
    full = config_lib.load(EXP, [])
    assert full.model.norm_d == "" and full.model.norm == "instance"
    ref = recipes.build(tiny_config(("model.norm", "instance"), ("model.norm_d", "")))
    assert {m.norm for m in ref.modules.values()} == {"instance"}
    mixed = recipes.build(tiny_config(("model.norm", "instance"), ("model.norm_d", "none")))
    assert mixed.modules["G_A"].norm == mixed.modules["G_B"].norm == "instance"
    assert mixed.modules["D_A"].norm == mixed.modules["D_B"].norm == "none"
    x = jnp.tanh(jax.random.normal(jax.random.PRNGKey(3), (2, 16, 16, 3)))
    state = mixed.init_state(0)
    run_d = Runner(mixed.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    # without a norm (and with the zero-initialised biases) D is positively homogeneous: D(x/2) = D(x)/2;
    # with instance norm it is scale-invariant instead: D(x/2) ≈ D(x)
    y, y_half = run_d("D_A", x), run_d("D_A", 0.5 * x)
    np.testing.assert_allclose(np.asarray(y_half), 0.5 * np.asarray(y), rtol=1e-4, atol=1e-9)
    ref_state = ref.init_state(0)
    run_ref = Runner(ref.modules, ref_state.params["d"], ref_state.model_state, jax.random.PRNGKey(0))
    r, r_half = np.asarray(run_ref("D_A", x)), np.asarray(run_ref("D_A", 0.5 * x))
    assert np.abs(r_half - r).max() < 0.2 * np.abs(r_half - 0.5 * r).max()
    # batch norm in D alone: real and fake go through D in separate calls, the generators stay merged
    calls = []
    bn_d = recipes.build(tiny_config(("model.norm", "instance"), ("model.norm_d", "batch")))
    bn_d._d_pair(lambda name, v: calls.append((name, v.shape[0])) or v, "D_A", x, x)
    assert calls == [("D_A", 2), ("D_A", 2)] and bn_d.norm_per_image
    calls.clear()
    mixed._d_pair(lambda name, v: calls.append((name, v.shape[0])) or v, "D_A", x, x)
    assert calls == [("D_A", 4)]
    with pytest.raises(config_lib.ConfigError, match="model.norm_d 'layer'"):
        recipes.build(tiny_config(("model.norm_d", "layer")))


def test_joint_discriminator_batch_puts_real_and_fake_in_one_batch_norm_batch():
    """model.d_batch = joint: D's batch norm sees real and fake as one batch, in D's step and in G's."""
    joint = recipes.build(tiny_config(("model.norm_d", "batch"), ("model.d_batch", "joint")))
    real, fake = jnp.ones((2, 16, 16, 3)), -jnp.ones((2, 16, 16, 3))
    calls = []
    record = lambda name, v: calls.append((name, v.shape[0])) or jnp.mean(v, axis=(1, 2, 3))
    r, f = joint._d_pair(record, "D_A", real, fake)
    np.testing.assert_array_equal(np.asarray(r), [1, 1])
    np.testing.assert_array_equal(np.asarray(f), [-1, -1])
    np.testing.assert_array_equal(np.asarray(joint._d_fake(record, "D_A", real, fake)), [-1, -1])
    assert calls == [("D_A", 4), ("D_A", 4)]  # both steps: one call on 2 real + 2 fake
    # on the real D: the fakes' logits move when the reals beside them change (shared statistics)
    state = joint.init_state(0)
    run_d = Runner(joint.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    x = jnp.tanh(jax.random.normal(jax.random.PRNGKey(2), (2, 16, 16, 3)))
    f1, f2 = (np.asarray(joint._d_fake(run_d, "D_A", r, x)) for r in (x, 0.5 * x + 0.3))
    assert np.abs(f1 - f2).max() > 1e-3
    separate = recipes.build(tiny_config(("model.norm_d", "batch")))
    assert config_lib.load(EXP, []).model.d_batch == "separate" and not separate.joint_d_batch
    calls.clear()
    separate._d_fake(record, "D_A", real, fake)
    assert calls == [("D_A", 2)]  # the reference: D on the fakes alone
    with pytest.raises(config_lib.ConfigError, match="unknown model.d_batch 'mixed'; valid: separate, joint"):
        recipes.build(tiny_config(("model.d_batch", "mixed")))


def test_pixel_discriminator_is_selectable_and_judges_each_pixel_alone():
    """model.netd = pixel is the reference's netD='pixel': one logit per pixel, from that pixel's colour only."""
    assert config_lib.load(EXP, []).model.netd == "patch"
    recipe = recipes.build(tiny_config(("model.netd", "pixel"), ("model.norm_d", "none")))
    assert type(recipe.modules["D_A"]).__name__ == "PixelDiscriminator"
    state = recipe.init_state(0)
    run_d = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    x = jnp.tanh(jax.random.normal(jax.random.PRNGKey(1), (2, 16, 16, 3)))
    y = np.asarray(run_d("D_A", x))
    assert y.shape == (2, 16, 16, 1)
    changed = np.asarray(run_d("D_A", x.at[0, 3, 5].set(-x[0, 3, 5])))
    moved = np.abs(changed - y)[..., 0] > 1e-7
    assert moved[0, 3, 5] and moved.sum() == 1  # only the changed pixel's logit moves
    tiny_crop = recipes.build(tiny_config(("model.netd", "pixel"), ("data.load_size", 4), ("data.crop_size", 4)))
    assert tiny_crop.netd == "pixel"  # no PatchGAN map to fit: any crop size
    with pytest.raises(config_lib.ConfigError, match="unknown model.netd 'basic'; valid: patch, pixel"):
        recipes.build(tiny_config(("model.netd", "basic")))


def test_luma_cycle_ignores_colour_the_other_domain_cannot_carry():
    """loss.cycle_space_A=luma: a reconstruction with A's luma and other colours costs nothing; a luma shift of
    0.1 costs 0.1 (times λ_A); the B cycle stays in RGB; grey data refuses it."""
    recipe = recipes.build(tiny_config(*PLAIN, ("loss.cycle_space_A", "luma")))
    state = recipe.init_state(0)
    batch, hp = _known_batch(recipe), state.hp
    outputs = recipe.generate(lambda name, x: x, batch, hp)
    a = batch["A"]
    luma = a @ jnp.array([0.299, 0.587, 0.114])
    grey = jnp.repeat(luma[..., None], 3, axis=-1)  # the same luma, no colour
    assert float(jnp.abs(grey - a).mean()) > 0.01   # the colours differ ...
    run_d = Runner(recipe.modules, state.params["d"], state.model_state, jax.random.PRNGKey(0))
    _, m = recipe.g_loss(run_d, batch, {**outputs, "rec_A": grey, "rec_B": batch["B"] + 0.1}, hp)
    assert float(m["cycle_A"]) == pytest.approx(0.0, abs=1e-6)  # ... but not the luma: free
    np.testing.assert_allclose(float(m["cycle_B"]), 0.1 * hp["lambda_B"], rtol=1e-5)  # B's cycle: RGB as before
    _, m = recipe.g_loss(run_d, batch, {**outputs, "rec_A": grey + 0.1}, hp)
    np.testing.assert_allclose(float(m["cycle_A"]), 0.1 * hp["lambda_A"], rtol=1e-4)
    rgb = recipes.build(tiny_config(*PLAIN))
    _, m = rgb.g_loss(run_d, batch, {**outputs, "rec_A": grey}, hp)
    np.testing.assert_allclose(float(m["cycle_A"]), float(jnp.abs(grey - a).mean()) * hp["lambda_A"], rtol=1e-5)
    with pytest.raises(ConfigError, match="cycle_space_A' / '_B' = luma needs RGB data"):
        recipes.build(tiny_config(("loss.cycle_space_A", "luma"), ("data.channels", 1)))
