"""The training loop: compiled K-step dispatches on device, host work (logs, pictures, checkpoints) between."""
from __future__ import annotations

from ganjax.errors import GanjaxError

import math
import os
import time

import jax
import numpy as np
from tqdm import tqdm

from ganjax import recipes, report
from ganjax.checkpoint import Checkpoints
from ganjax.train import workdir as wd
from ganjax.train.steps import compile_multi_step


class NonFiniteError(GanjaxError, RuntimeError):
    """A loss or gradient became NaN/Inf; the message names the step and the term."""


CPU_MAX_STEPS_PER_DISPATCH = 5  # unrolled on CPU (see steps.default_unroll): compile time grows with K


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


def restore_or_init(recipe, cfg, ckpts: Checkpoints):
    state = recipe.init_state(cfg.seed)
    if ckpts.latest_step() is not None:
        state = ckpts.restore(state)
    return state


def train_and_evaluate(cfg, workdir: str, progress: bool = True) -> dict:
    """Train `cfg` in `workdir`, resuming from its latest checkpoint. Returns the last logged metrics."""
    wd.check(workdir, cfg)
    recipe = recipes.build(cfg)
    data = jax.device_put(recipe.device_data())  # bad data fails here, before the run folder is touched
    workdir = wd.prepare(workdir, cfg)
    txs = recipe.optimizers()
    t = cfg.train
    ckpts = Checkpoints(os.path.join(workdir, "checkpoints"), keep=t.keep)
    state = restore_or_init(recipe, cfg, ckpts)
    step = int(state.step)
    log = wd.MetricsLog(os.path.join(workdir, "metrics.jsonl"), step)
    k = chunk_size(cfg)
    fns = {}
    fixed = recipe.fixed_inputs(t.num_sample_grid)
    visualize = jax.jit(recipe.visualize)
    bar = tqdm(total=t.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True,
               desc=os.path.basename(workdir))
    last, block, t_block, imgs = {}, [], time.perf_counter(), 0
    try:
        while step < t.steps:
            n = min(k, t.steps - step)
            if n not in fns:
                fns[n] = compile_multi_step(recipe, txs, n)
            t0 = time.perf_counter()
            new_state, metrics = fns[n](state, data)
            metrics = jax.device_get(metrics)
            bad = first_nonfinite(metrics)
            if bad is not None:
                i, name = bad
                raise NonFiniteError(f"{name} became non-finite at step {step + i + 1}; the last good "
                                     f"checkpoint (step {ckpts.latest_step()}) is kept")
            state, step = new_state, step + n
            dt = time.perf_counter() - t0
            if len(fns) > 1 or step > k:  # not the first (compiling) dispatch
                imgs += n * t.batch_size
            block.append(metrics)
            bar.update(n)
            if step % t.log_every == 0 or step == t.steps:
                last = {key: float(np.mean(np.concatenate([b[key] for b in block]))) for key in block[0]}
                elapsed = time.perf_counter() - t_block
                last.update(step=step, img_per_s=round(imgs / elapsed, 1) if imgs else None, time=time.time())
                log.write(last)
                bar.set_postfix(d=f"{last['d_loss']:.3f}", g=f"{last['g_loss']:.3f}",
                                img_s=f"{last['img_per_s'] or 0:.0f}")
                block, t_block, imgs = [], time.perf_counter(), 0
            if step % t.sample_every == 0 or step == t.steps:
                report.save_grid(visualize(state, fixed), os.path.join(workdir, "samples", f"step_{step:06d}.png"),
                                 nrow=recipe.grid_nrow)
                report.write_html(workdir)
            if step % t.ckpt_every == 0 or step == t.steps:
                ckpts.save(step, state)
    finally:
        bar.close()
        log.close()
        ckpts.close()
        report.plot_losses(os.path.join(workdir, "metrics.jsonl"), os.path.join(workdir, "losses.png"))
        report.write_html(workdir)
    return last
