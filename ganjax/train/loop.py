"""The training loop: compiled K-step dispatches on device, host work (logs, pictures, checkpoints) between.

Guarantees (tested in tests/test_train.py and tests/test_faults.py):
- resume: the same command on the same workdir continues from the latest checkpoint and ends with
  parameters bit-identical (on CPU) to a run that never stopped;
- SIGTERM / SIGINT: the current dispatch finishes, a checkpoint is written, the process exits (143 / 130);
- NaN/Inf in any loss or gradient norm: the run stops naming the step and the term (or, with
  train.on_nan=restore, reloads the last good checkpoint and skips past the bad batches), and the last
  good checkpoint is kept;
- a checkpoint that cannot be written (disk full): a one-line error; earlier checkpoints stay intact.

Devices and hosts (ganjax/parallel.py): the step runs data-parallel over the mesh that `mesh.data` asks
for; in a multi-process job every process runs this same loop, only process 0 writes the log, pictures
and report, checkpoints are written collectively, and a stop signal that reaches any process stops all.
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time

import jax
import numpy as np
from tqdm import tqdm

from ganjax import parallel, recipes, report
from ganjax.train.checkpoint import CheckpointError, Checkpoints
from ganjax.errors import GanjaxError
from ganjax.train import resume
from ganjax.train import workdir as wd
from ganjax.train.steps import compile_multi_step
from ganjax.train import run_info
from ganjax.train.tensorboard import TensorBoard

CPU_MAX_STEPS_PER_DISPATCH = 5  # a Python loop on CPU (steps.default_fuse): compile time grows with K
MAX_NAN_RESTORES = 3


class NonFiniteError(GanjaxError, RuntimeError):
    """A loss or gradient became NaN/Inf; the message names the step and the term."""


class Interrupted(GanjaxError):
    """SIGTERM/SIGINT arrived; a checkpoint was written. `code` is the conventional exit status."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def chunk_size(cfg) -> int:
    """Steps per dispatch, reduced so that every log / sample / checkpoint boundary falls between dispatches."""
    t = cfg.train
    k = t.steps_per_dispatch
    if jax.default_backend() == "cpu":
        k = min(k, CPU_MAX_STEPS_PER_DISPATCH)
    return math.gcd(k, t.log_every, t.sample_every, t.ckpt_every)


def first_nonfinite(metrics: dict) -> tuple[int, str] | None:
    """(index in the block, metric name) of the first NaN/Inf, or None."""
    bad = {k: np.flatnonzero(~np.isfinite(v)) for k, v in metrics.items()}
    bad = {k: v[0] for k, v in bad.items() if v.size}
    if not bad:
        return None
    name = min(bad, key=lambda k: bad[k])
    return int(bad[name]), name


@contextlib.contextmanager
def stop_signals():
    """Turn SIGTERM/SIGINT into a flag the loop checks between dispatches (main thread only)."""
    received: list[int] = []
    handler = lambda signum, frame: received.append(signum)
    try:
        old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: leave signals alone
        old = {}
    try:
        yield received
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def save_checkpoint(ckpts: Checkpoints, step: int, state, force: bool = False) -> None:
    try:
        ckpts.save(step, state, force=force)
        if force:
            ckpts.wait()
    except OSError as e:
        raise CheckpointError(f"could not write the checkpoint of step {step} ({e.strerror or e}); earlier "
                              f"checkpoints are intact: {ckpts.all_steps()}") from None


def train_and_evaluate(cfg, workdir: str, progress: bool = True, config_changes: dict | None = None) -> dict:
    """Train `cfg` in `workdir`, resuming from its latest checkpoint. Returns the last logged metrics.
    config_changes: {key: (value, default)} (config.differences) for the report's header; None: unknown.
    The run folder is locked (workdir.locked) from when the data and model are checked until this returns."""
    with contextlib.ExitStack() as held:
        return _train_and_evaluate(cfg, workdir, progress, config_changes, held)


def _train_and_evaluate(cfg, workdir: str, progress: bool, config_changes: dict | None, held) -> dict:
    wd.check(workdir, cfg)
    mesh = parallel.make_mesh(cfg)
    recipe = recipes.build(cfg)
    recipe.run_dir = os.path.abspath(os.path.expanduser(workdir))  # a resumed run reads back its run_arrays
    data = parallel.replicate(recipe.device_data(), mesh)  # bad data fails here, before the run folder is touched
    shapes = jax.eval_shape(recipe.init_state, cfg.seed)  # and a model that cannot take the data's shape
    writer = parallel.is_writer()
    parallel.sync("ganjax:checked")  # every process has checked the folder before process 0 writes to it
    if writer:  # one process trains a run folder at a time; checked again once it holds the lock
        held.enter_context(wd.locked(workdir))
        wd.check(workdir, cfg)
    workdir = os.path.abspath(os.path.expanduser(workdir))
    parallel.sync("ganjax:prepared")
    t = cfg.train
    txs = recipe.optimizers()
    settings = resume.settings_of(recipe)  # numbers kept in the state: taken from this config on resume
    say = (lambda text: tqdm.write(f"ganjax: {text}", file=sys.stderr)) if writer else (lambda text: None)
    resume.check_history(workdir, t.ckpt_every)  # before checkpoints/ is opened (and made)
    ckpts = Checkpoints(os.path.join(workdir, "checkpoints"), keep=t.keep)
    abstract = parallel.abstract_replicated(shapes, mesh)
    restored = resume.restore_for_training(ckpts, abstract, workdir, cfg, say, set_aside=writer)
    state = (parallel.replicate(recipe.init_state(cfg.seed), mesh) if restored is None  # initialised only if new
             else resume.apply_settings(restored, settings))
    step = int(state.step)
    if writer:  # config.json (with keys changed on resume), and what this start does, said
        resume.announce(workdir, cfg, step, restored is None, say)
    log = wd.MetricsLog(os.path.join(workdir, "metrics.jsonl"), step, enabled=writer, note=say)
    if writer:  # run.json (the report's header) and samples/real.png (real images beside generated ones)
        run_info.start_session(workdir, cfg, step, mesh, config_changes)
        run_info.save_real_grid(workdir, recipe, t.num_sample_grid)
        run_info.save_run_arrays(workdir, recipe)
    k, fns = chunk_size(cfg), {}
    fixed = parallel.replicate(recipe.fixed_inputs(t.num_sample_grid), mesh)
    visualize = jax.jit(recipe.visualize, out_shardings=parallel.replicated(mesh))
    bar = tqdm(total=t.steps, initial=step, disable=not (progress and writer), unit="step", dynamic_ncols=True,
               desc=os.path.basename(workdir))
    tb = TensorBoard(workdir, cfg, step, enabled=writer)  # RUN/tensorboard/; train.tensorboard=false: off
    last, block, t_block, imgs, restores = {}, [], time.perf_counter(), 0, 0
    failing = False
    try:
        with stop_signals() as received:
            while step < t.steps:
                n = min(k, t.steps - step)
                if n not in fns:
                    fns[n] = compile_multi_step(recipe, txs, n, mesh=mesh)
                new_state, metrics = fns[n](state, data)
                metrics = jax.device_get(metrics)
                bad = first_nonfinite(metrics)
                if bad is not None:
                    i, name = bad
                    good = ckpts.latest_step()
                    msg = f"{name} became non-finite at step {step + i + 1}"
                    if t.on_nan != "restore" or good is None or restores >= MAX_NAN_RESTORES:
                        kept = (f"the last good checkpoint (step {good}) is kept" if good is not None else
                                "no checkpoint was written before it (lower the learning rates, or check the data)")
                        raise NonFiniteError(f"{msg}; {kept}")
                    restores += 1
                    ckpts.wait()
                    skip_to = (step + i + 1 + k - 1) // k * k  # past the bad batch, on a dispatch boundary
                    skip = parallel.replicate(np.asarray(skip_to, np.int32), mesh)
                    state = resume.apply_settings(ckpts.restore(abstract), settings).replace(step=skip)
                    log.write({"step": step + i + 1, "event": f"{msg}; restored step {good}, skipped to {skip_to}"})
                    if writer:
                        tqdm.write(f"ganjax: {msg}; restored step {good} and skipped to step {skip_to}",
                                   file=sys.stderr)
                    step, block, imgs = skip_to, [], 0
                    bar.n = step
                    continue
                first_dispatch = len(fns) == 1 and not block and not last
                state, step = new_state, step + n
                if not first_dispatch:  # the first includes compilation
                    imgs += n * t.batch_size
                block.append(metrics)
                bar.update(n)
                if step % t.log_every == 0 or step == t.steps:
                    elapsed = time.perf_counter() - t_block
                    last = {key: float(np.mean(np.concatenate([b[key] for b in block]))) for key in block[0]}
                    last.update(step=step, img_per_s=round(imgs / elapsed, 1) if imgs else None, time=time.time())
                    log.write(last)
                    tb.scalars(last)
                    bar.set_postfix(d=f"{last['d_loss']:.3f}", g=f"{last['g_loss']:.3f}",
                                    img_s=f"{last['img_per_s'] or 0:.0f}")
                    block, t_block, imgs = [], time.perf_counter(), 0
                if step % t.sample_every == 0 or step == t.steps:
                    images = visualize(state, fixed)  # on every process: a program over the whole mesh
                    if writer:
                        report.save_grid(images, os.path.join(workdir, "samples", f"step_{step:06d}.png"),
                                         nrow=recipe.grid_nrow)
                        tb.images(step, images, recipe.grid_nrow)
                        report.write_html(workdir)
                if step % t.ckpt_every == 0 or step == t.steps:
                    save_checkpoint(ckpts, step, state)
                if parallel.any_process(bool(received)):  # all processes stop together
                    if step not in ckpts.all_steps():
                        save_checkpoint(ckpts, step, state, force=True)
                    ckpts.wait()
                    signum = received[0] if received else signal.SIGTERM
                    name = signal.Signals(signum).name + ("" if received else " (sent to another process)")
                    raise Interrupted(f"stopped by {name} at step {step}; checkpoint saved, run the same "
                                      f"command to resume", 128 + signum)
    except BaseException:
        failing = True  # the finishing below must not hide this error behind one of its own (a full disk)
        raise
    finally:
        bar.close()
        log.close()
        tb.close()
        try:
            ckpts.close()
        except CheckpointError:
            if not failing:
                raise
        finally:
            if writer:
                try:
                    report.plot_losses(os.path.join(workdir, "metrics.jsonl"), os.path.join(workdir, "losses.png"))
                    report.write_html(workdir)
                except OSError:
                    if not failing:
                        raise
    return last
