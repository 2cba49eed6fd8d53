"""The generator EMA (ganjax/train/ema.py, stylegan2-ada's form): its beta against hand-computed numbers, the
train step's EMA against the lerp recurrence, batch-norm statistics copied, inference_state, exact resume,
sweep members that differ in ema.* sharing one program, and the data-parallel step over 8 devices."""
import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax import recipes
from ganjax.train import ema as ema_lib
from ganjax.train.steps import compile_multi_step
from tests.conftest import DCGAN, ROOT, TINY, tiny_cfg

SMALL = [("model.g_width", "8"), ("model.d_width", "8"), ("train.batch_size", "8"), ("data.limit", "64")]
DCGAN64 = [("model.arch", "dcgan64"), ("model.image_size", "32"), ("model.upsample", "conv_transpose"),
           ("model.g_width", "4"), ("model.d_width", "4"), ("train.batch_size", "4"), ("data.limit", "32")]


def reference_beta(kimg, rampup, cur_nimg, batch_size):
    """stylegan2-ada's training_loop, verbatim (rampup None there is 0 here)."""
    ema_nimg = kimg * 1000
    if rampup:
        ema_nimg = min(ema_nimg, cur_nimg * rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


def beta(kimg, rampup, step, batch):
    return float(ema_lib.beta({"ema_kimg": jnp.float32(kimg), "ema_rampup": jnp.float32(rampup)},
                              jnp.int32(step), batch))


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_beta_against_hand_computed_numbers():
    # kimg 10, batch 64, no ramp-up: 0.5 ** (64 / 10000)
    assert beta(10, 0, 0, 64) == pytest.approx(0.9955737318, rel=1e-7)
    assert beta(10, 0, 5000, 64) == pytest.approx(0.9955737318, rel=1e-7)
    # ramp-up 0.05 at step 100: min(10000, 6400 · 0.05 = 320) → 0.5 ** (64 / 320) = 0.5 ** 0.2
    assert beta(10, 0.05, 100, 64) == pytest.approx(0.8705505633, rel=1e-7)
    # ramp-up past the cap (step 10 000: 32 000 > 10 000): no ramp-up any more
    assert beta(10, 0.05, 10_000, 64) == pytest.approx(0.9955737318, rel=1e-7)
    # the first step (no image seen) with ramp-up, and kimg 0 (off): beta 0, the EMA is the generator
    assert beta(10, 0.05, 0, 64) == 0.0 and beta(0, 0, 123, 64) == 0.0 and beta(0, 0.05, 123, 64) == 0.0
    # half-life: after kimg·1000 images the weight of the old value is one half
    assert beta(2, 0, 7, 16) ** (2000 / 16) == pytest.approx(0.5, rel=1e-5)
    for kimg in (0.0, 0.01, 0.5, 20.0):
        for rampup in (0.0, 0.05, 1.0):
            for step in (0, 1, 7, 300, 100_000):
                for batch in (1, 4, 64):
                    assert beta(kimg, rampup, step, batch) == pytest.approx(
                        reference_beta(kimg, rampup, step * batch, batch), rel=2e-6, abs=1e-30)


def test_lerp_is_torch_lerp():
    """torch.lerp(p, e, b): p + b·(e − p) below 0.5, e − (e − p)·(1 − b) from 0.5 on: exact at 0 and 1."""
    p, e = np.float32([0.1, -3.0, 1e-3, 0.00037620114]), np.float32([0.7, 5.0, 2.5e-8, -0.047881])
    for b in (0.0, 0.25, 0.5, 0.9, 1.0):
        bb = np.float32(b)
        want = p + bb * (e - p) if b < 0.5 else e - (e - p) * (np.float32(1) - bb)
        np.testing.assert_array_equal(np.asarray(ema_lib.lerp(jnp.asarray(p), jnp.asarray(e), bb)), want)
    np.testing.assert_array_equal(np.asarray(ema_lib.lerp(jnp.asarray(p), jnp.asarray(e), 1.0)), e)
    np.testing.assert_array_equal(np.asarray(ema_lib.lerp(jnp.asarray(p), jnp.asarray(e), 0.0)), p)
    assert float(ema_lib.lerp(jnp.float32(1), jnp.float32(3), 0.25)) == 1.5


def test_config_keys_and_state_hp():
    from ganjax import config
    for exp in ("dcgan_mnist.py", "cyclegan.py", "pix2pix.py", "dcgan_sweep.py"):
        cfg = config.load(os.path.join(ROOT, "experiments", exp))
        assert cfg.ema.kimg > 0 and 0 < cfg.ema.rampup < 1, exp
    state = recipes.build(tiny_cfg(("ema.kimg", "3.5"), ("ema.rampup", "0"))).init_state(0)
    assert float(state.hp["ema_kimg"]) == 3.5 and float(state.hp["ema_rampup"]) == 0.0
    # initialised to the generator, in buffers of its own (the state is donated)
    for e, p in zip(leaves(state.ema["params"]), leaves(state.params["g"])):
        np.testing.assert_array_equal(e, p)
    assert all(a.unsafe_buffer_pointer() != b.unsafe_buffer_pointer() for a, b in
               zip(jax.tree_util.tree_leaves(state.ema["params"]), jax.tree_util.tree_leaves(state.params["g"])))


@pytest.fixture(scope="module")
def one_step():
    """A small DCGAN's recipe, initial state, data and its compiled single step (hp is data: one compile)."""
    cfg = tiny_cfg(*SMALL)
    recipe = recipes.build(cfg)
    return recipe, recipe.init_state(0), jax.device_put(recipe.device_data()), \
        compile_multi_step(recipe, recipe.optimizers(), 1)


def with_ema_numbers(state, kimg, rampup):
    return state.replace(hp={**state.hp, "ema_kimg": jnp.float32(kimg), "ema_rampup": jnp.float32(rampup)})


def run(step_fn, state, data, n):
    states = [state]
    for _ in range(n):
        states.append(step_fn(jax.tree_util.tree_map(jnp.copy, states[-1]), data)[0])
    return states


def test_ema_follows_the_lerp_recurrence(one_step):
    """8 steps (batch 8, kimg 0.02, ramp-up 0.5: the first 5 steps ramped): the EMA equals the recurrence
    e ← p + (e − p)·beta(step) computed by hand from the sequence of raw parameters."""
    recipe, init, data, step = one_step
    states = run(step, with_ema_numbers(init, 0.02, 0.5), data, 8)
    expect = leaves(init.params["g"])
    for i, s in enumerate(states[1:]):
        b = np.float32(reference_beta(0.02, 0.5, i * 8, 8))
        expect = [p + (e - p) * b for p, e in zip(leaves(s.params["g"]), expect)]
        for got, want in zip(leaves(s.ema["params"]), expect):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    raw, ema = leaves(states[-1].params["g"]), leaves(states[-1].ema["params"])
    assert max(np.abs(a - b).max() for a, b in zip(raw, ema)) > 1e-4  # the EMA is not the raw generator
    assert float(states[-1].step) == 8


def test_huge_half_life_stays_at_init_and_zero_is_the_generator(one_step):
    recipe, init, data, step = one_step
    frozen = run(step, with_ema_numbers(init, 1e9, 0.0), data, 3)[-1]
    for e, p in zip(leaves(frozen.ema["params"]), leaves(init.params["g"])):
        np.testing.assert_array_equal(e, p)
    off = run(step, with_ema_numbers(init, 0.0, 0.05), data, 3)[-1]
    for e, p in zip(leaves(off.ema["params"]), leaves(off.params["g"])):
        np.testing.assert_array_equal(e, p)
    assert recipe.generator_label(off) == "raw" and not recipe.has_ema(off)
    assert recipe.generator_label(frozen) == "EMA" and recipe.generator_label(frozen, ema=False) == "raw"


def test_inference_state_and_samples_use_the_ema(one_step):
    recipe, init, data, step = one_step
    state = run(step, with_ema_numbers(init, 1e9, 0.0), data, 2)[-1]  # EMA = the initial generator
    chosen = recipe.inference_state(state)
    assert chosen.params["g"] is state.ema["params"] and chosen.params["d"] is state.params["d"]
    assert recipe.inference_state(state, ema=False) is state
    assert recipe.inference_state(state.replace(ema=None)).params["g"] is state.params["g"]
    z = recipe.fixed_inputs(4)
    grid = jax.jit(recipe.visualize)(state, z)
    np.testing.assert_allclose(grid, recipe.sample(init, z), atol=1e-6)
    assert float(jnp.abs(grid - recipe.sample(state, z)).max()) > 1e-3


def test_dcgan64_batch_norm_statistics_are_copied():
    cfg = tiny_cfg(*DCGAN64, ("ema.kimg", "1"), ("ema.rampup", "0"))
    recipe = recipes.build(cfg)
    init = recipe.init_state(0)
    assert set(init.ema["model_state"]) == {"g"} and "batch_stats" in init.ema["model_state"]["g"]
    state, _ = compile_multi_step(recipe, recipe.optimizers(), 2)(jax.tree_util.tree_map(jnp.copy, init),
                                                                   jax.device_put(recipe.device_data()))
    for e, m, i in zip(leaves(state.ema["model_state"]["g"]), leaves(state.model_state["g"]),
                       leaves(init.model_state["g"])):
        np.testing.assert_array_equal(e, m)
        assert np.abs(m - i).max() > 1e-3  # the statistics moved
    chosen = recipe.inference_state(state)
    assert chosen.model_state["g"] is state.ema["model_state"]["g"]
    assert chosen.model_state["d"] is state.model_state["d"]
    assert max(np.abs(a - b).max() for a, b in zip(leaves(state.ema["params"]), leaves(state.params["g"]))) > 1e-5


def test_resume_with_ema_is_bit_identical(tmp_path):
    """6 steps, stop, resume to 12 (train_and_evaluate, orbax checkpoints) = 12 straight: every leaf of the
    state, the EMA included, bit-identical; the EMA differs from the raw generator."""
    from ganjax.inference import load_run
    from ganjax.train.loop import train_and_evaluate

    every = [(f"train.{k}", "3") for k in ("steps_per_dispatch", "log_every", "sample_every", "ckpt_every")]
    cfg = lambda steps: tiny_cfg(*SMALL, *every, ("train.steps", str(steps)), ("ema.kimg", "0.05"),
                                 ("ema.rampup", "0.5"))
    train_and_evaluate(cfg(12), str(tmp_path / "straight"), progress=False)
    train_and_evaluate(cfg(6), str(tmp_path / "resumed"), progress=False)
    assert load_run(str(tmp_path / "resumed"), ema=False).step == 6
    train_and_evaluate(cfg(12), str(tmp_path / "resumed"), progress=False)
    (_, recipe, a), (_, _, b) = (load_run(str(tmp_path / r), ema=False) for r in ("resumed", "straight"))
    assert int(a.step) == int(b.step) == 12
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(leaves(a), leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert max(np.abs(e - p).max() for e, p in zip(leaves(a.ema["params"]), leaves(a.params["g"]))) > 1e-4
    assert recipe.generator_label(a) == "EMA"


def test_checkpoint_from_before_the_ema_restores_with_the_ema_off(tmp_path):
    """A checkpoint without `ema` (and without ema_* in hp), as written before the EMA existed, restores into the
    new state: everything else bit-equal, the EMA equal to its generator and switched off (kimg 0), so
    inference says "raw"."""
    from ganjax.train.checkpoint import Checkpoints

    recipe = recipes.build(tiny_cfg(*SMALL))
    full = recipe.init_state(0)
    ckpts = Checkpoints(str(tmp_path / "ckpt"), asynchronous=False)
    ckpts.save(7, ema_lib.strip(full))
    ckpts.wait()
    state = ckpts.restore(jax.eval_shape(recipe.init_state, 0))
    ckpts.close()
    assert jax.tree_util.tree_structure(state) == jax.tree_util.tree_structure(full)
    for x, y in zip(leaves(state.params), leaves(full.params)):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(leaves(state.ema["params"]), leaves(full.params["g"])):
        np.testing.assert_array_equal(x, y)
    assert float(state.hp[ema_lib.KIMG]) == 0.0 and float(state.hp[ema_lib.RAMPUP]) == 0.0
    assert recipe.generator_label(state) == "raw"


def test_sweep_members_differing_in_ema_stack_and_equal_their_runs_alone(tmp_path):
    """ema.kimg / ema.rampup are data: members with kimg 0 (off), 0.02 and 5 (and another ramp-up) plan into
    one program; 5 steps of its vmapped step give each member what the ordinary step gives it alone."""
    from ganjax.sweep import classify, expand, plan
    from ganjax.sweep.runner import compile_program, stack, unstack

    members = [{"ema.kimg": 0.0}, {"ema.kimg": 0.02, "ema.rampup": 0.5}, {"ema.kimg": 5.0, "ema.rampup": 0.0}]
    spec = tmp_path / "s.py"
    spec.write_text(f"from ganjax.config import load_module\nBASE = load_module({DCGAN!r})\n"
                    f"get_config = BASE.get_config\n\ndef sweep(add):\n    for m in {members!r}:\n        add(**m)\n")
    expanded = expand(str(spec), TINY + SMALL)
    assert classify(expanded[0].cfg, "ema.kimg") == classify(expanded[0].cfg, "ema.rampup") == "ema"
    programs = plan(expanded, stack="require")
    assert [[m.index for m in p.members] for p in programs] == [[0, 1, 2]]

    rs = [recipes.build(m.cfg) for m in expanded]
    states = [r.init_state(m.cfg.seed) for r, m in zip(rs, expanded)]
    assert [float(s.hp["ema_kimg"]) for s in states] == [0.0, float(np.float32(0.02)), 5.0]
    data = jax.device_put(rs[0].device_data())
    program = compile_program(rs[0], rs[0].optimizers(), 1, jax.devices()[:1])
    alone = compile_multi_step(rs[0], rs[0].optimizers(), 1)  # the members' steps differ only in state.hp
    stacked, alive, failed_at = stack(states), jnp.ones(3, bool), jnp.zeros(3, jnp.int32)
    for _ in range(5):
        stacked, ok, _, _ = program(stacked, alive, failed_at, data)
        states = [alone(s, data)[0] for s in states]
        assert bool(ok.all())
    for i, ref in enumerate(states):
        mine = unstack(stacked, i)
        assert int(mine.step) == int(ref.step) == 5
        for x, y in zip(leaves((mine.hp, mine.key)), leaves((ref.hp, ref.key))):
            np.testing.assert_array_equal(x, y)
        for x, y in zip(leaves((mine.params, mine.ema)), leaves((ref.params, ref.ema))):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-5 * max(1.0, float(np.abs(y).max())))
    off = unstack(stacked, 0)
    for e, p in zip(leaves(off.ema["params"]), leaves(off.params["g"])):
        np.testing.assert_array_equal(e, p)  # kimg 0 in the stacked program: the raw generator exactly


def test_ema_data_parallel_over_eight_devices():
    """tests/ema_sharded.py in a subprocess with 8 fake CPU devices: the sharded step's EMA (params lerped,
    dcgan64's batch-norm statistics copied) equals one device's, and the state stays replicated."""
    env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") +
                                      " --xla_force_host_platform_device_count=8").strip())
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "ema_sharded.py")], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["mesh_devices"] == 8 and r["state_replicated"] and r["all_reduce_in_program"]
    assert r["ema_moved"] > 1e-3 and r["bn_moved"] > 1e-3
    assert r["diff_ema_params"] < 1e-5 and r["diff_ema_model_state"] < 1e-5, r
    assert r["ema_self_consistency"] < 1e-6 and r["ema_bn_is_model_state"], r
    assert math.isfinite(r["trained_ema_norm"])
