"""Fault tests: kill -9 at random moments, SIGTERM, NaN recovery, a disk that fills up."""
import glob
import os
import random
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from ganjax import losses, recipes
from ganjax.train.checkpoint import Checkpoints
from ganjax.commands import main
from ganjax.inference import load_run
from ganjax.train.workdir import load_config
from tests.conftest import tiny_argv

KILLS = int(os.environ.get("GANJAX_TEST_KILLS", "12"))  # more: GANJAX_TEST_KILLS=50
LONG = ["--config.train.steps=60", "--config.train.ckpt_every=5", "--config.train.sample_every=30",
        "--config.train.keep=2"]


def leaves(run):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(load_run(run)[2].params)]


def start(run, tmp_cache):
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return subprocess.Popen([sys.executable, "-m", "ganjax"] + tiny_argv(run, *LONG),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def progress_marker(run):
    ck = run / "checkpoints"
    return (sorted(os.listdir(ck)) if ck.is_dir() else [], os.path.getsize(run / "metrics.jsonl")
            if (run / "metrics.jsonl").exists() else 0)


def assert_complete_checkpoints_readable(run):
    ck = run / "checkpoints"
    if not ck.is_dir():
        return
    cfg = load_config(run)
    abstract = jax.eval_shape(recipes.build(cfg).init_state, cfg.seed)
    c = Checkpoints(str(ck), read_only=True)
    for step in c.all_steps():
        assert int(c.restore(abstract, step).step) == step
    c.close()


def test_kill9_at_random_moments_then_resume_is_bit_identical(tmp_path):
    rng = random.Random(0)
    straight, killed, cache = tmp_path / "straight", tmp_path / "killed", tmp_path / "jax_cache"
    assert main(tiny_argv(straight, *LONG)) == 0
    kills = during_write = 0
    t_end = time.time() + 600
    while kills < KILLS and time.time() < t_end:
        proc = start(killed, cache)
        before = progress_marker(killed)
        want_write = kills % 4 == 3  # every fourth kill aims at a checkpoint being written
        while proc.poll() is None:
            tmp = glob.glob(str(killed / "checkpoints" / "*tmp*"))
            if want_write and tmp:
                during_write += 1
                break
            if not want_write and progress_marker(killed) != before:
                time.sleep(rng.uniform(0.0, 0.3))
                break
            time.sleep(0.005)
        if proc.poll() is not None:  # finished before we could kill it: start over from scratch
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert_complete_checkpoints_readable(killed)
    assert kills >= min(KILLS, 5), f"only {kills} kills happened"
    assert main(tiny_argv(killed, *LONG)) == 0
    for a, b in zip(leaves(killed), leaves(straight)):
        np.testing.assert_array_equal(a, b)
    print(f"kills survived: {kills} ({during_write} during a checkpoint write)")


def test_sigterm_saves_and_exits_cleanly(tmp_path):
    run = tmp_path / "term"
    proc = subprocess.Popen([sys.executable, "-m", "ganjax"] + tiny_argv(run, "--config.train.steps=100000",
                            "--config.train.ckpt_every=100000", "--config.train.sample_every=100000"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.05)
    while time.time() < deadline and os.path.getsize(run / "metrics.jsonl") == 0:
        time.sleep(0.05)
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert time.time() - t0 < 10
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM at step" in err and "Traceback" not in err
    step = int(err.split("at step ")[1].split(";")[0])
    assert step > 0 and int(load_run(run)[2].step) == step


def test_nan_restore_skips_ahead(tmp_path, monkeypatch, capsys):
    run = tmp_path / "nanr"
    assert main(tiny_argv(run, "--config.train.steps=10")) == 0
    real = losses.ADVERSARIAL["nonsaturating"]

    def flaky_g(fake_logits):  # NaN on about half of the batches, decided by the data (so not every time)
        return jnp.where(jnp.abs(fake_logits[0]) * 1000 % 2 > 1, jnp.nan, real.g_loss(fake_logits))

    monkeypatch.setitem(losses.ADVERSARIAL, "nonsaturating", losses.Adversarial(real.d_loss, flaky_g))
    code = main(tiny_argv(run, "--config.train.on_nan=restore"))
    err = capsys.readouterr().err
    assert "became non-finite" in err and "restored step 10" in err
    assert code in (0, 2)  # finished after skipping, or stopped after too many restores
    assert int(load_run(run)[2].step) >= 10


def test_disk_full_keeps_previous_checkpoint(tmp_path, monkeypatch, capsys):
    import orbax.checkpoint as ocp
    run = tmp_path / "full"
    assert main(tiny_argv(run, "--config.train.steps=10")) == 0
    saved = sorted(os.listdir(run / "checkpoints"))

    def no_space(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ocp.CheckpointManager, "save", no_space)
    assert main(tiny_argv(run)) == 2
    err = capsys.readouterr().err
    assert "could not write the checkpoint of step 20 (No space left on device)" in err
    monkeypatch.undo()
    assert sorted(os.listdir(run / "checkpoints")) == saved
    assert int(load_run(run)[2].step) == 10


def test_old_checkpoints_are_deleted_atomically(tmp_path):
    """keep=2: old steps go through the trash folder (one rename, then removal), so a kill while deleting can
    leave debris only there, never a half-deleted step that lists as a checkpoint; the debris is removed
    when the folder is next opened."""
    from ganjax.train.checkpoint import TRASH
    state = {"w": jnp.arange(1000.0), "step": jnp.int32(0)}
    c = Checkpoints(str(tmp_path), keep=2)
    for step in range(1, 5):
        c.save(step, {**state, "step": jnp.int32(step)})
    c.close()
    assert sorted(os.listdir(tmp_path)) == ["3", "4"]
    (tmp_path / TRASH / "2" / "ocdbt.process_0").mkdir(parents=True)  # what a kill mid-deletion leaves
    c = Checkpoints(str(tmp_path), keep=2)
    assert c.all_steps() == [3, 4] and not (tmp_path / TRASH).exists()
    assert int(c.restore(jax.eval_shape(lambda: state), 3)["step"]) == 3
    c.close()
