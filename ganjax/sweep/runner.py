"""Training a sweep: each program's members stacked on a leading axis, one vmapped step, one compiled call.

The sweep folder holds `sweep.json` (members, their overrides, status) and one ordinary run folder per
member (`member_003/`: config.json with the member's overrides applied, metrics.jsonl, samples/,
checkpoints/ of that member's own unstacked state, losses.png, report.html), so `ganjax sample/eval/explain
SWEEP/member_003` work as on any run, during the sweep or after it. Resuming reads the members'
checkpoints back and stacks them again (from the newest step all running members of a program have).

A member whose loss or gradient norm becomes NaN/Inf is frozen inside the compiled step (its state stops
changing from the step before; the others go on), marked failed at that step in sweep.json and its
metrics.jsonl, and its last good state is checkpointed. The member axis may be sharded over devices
(`jax.shard_map`: each device trains its slice of the members; no communication between them).
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from tqdm import tqdm

from ganjax import config as config_lib
from ganjax import recipes, report
from ganjax.train.checkpoint import CheckpointError, Checkpoints
from ganjax.errors import UsageError
from ganjax.sweep.folder import Record, check_folder, parse_part
from ganjax.sweep.members import check_devices, expand, plan
from ganjax.train import resume
from ganjax.train import workdir as wd
from ganjax.train.loop import Interrupted, chunk_size, first_nonfinite, save_checkpoint, stop_signals
from ganjax.train.steps import default_fuse, train_step
from ganjax.train import run_info
from ganjax.train.tensorboard import TensorBoard

AXIS = "members"
CPU_NOTE = ("XLA:CPU runs the grouped convolutions of vmapped members about 9x slower than the same convolutions "
            "separately (measured); ganjax's convolutions avoid them on CPU (models/cpu_conv.per_member), "
            "nn.ConvTranspose does not: model.upsample=phase is the same layer with the same parameters")


# -- the compiled program ------------------------------------------------------------------------------
def guarded_steps(recipe, txs, num_steps: int, fuse: str, state, alive, failed_at, data):
    """`num_steps` train steps of one member that stop changing its state once a metric is non-finite.

    alive: bool; failed_at: int32, set to the step whose metrics were first non-finite. Returns
    (state, alive, failed_at, metrics stacked (num_steps, ...)), like steps.multi_step."""
    def one(carry):
        s, ok, fa = carry
        new, m = train_step(recipe, txs, s, data)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree_util.tree_leaves(m)]))
        fa = jnp.where(ok & ~finite, s.step + 1, fa)
        ok = ok & finite
        return (jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, s), ok, fa), m

    carry = (state, alive, failed_at)
    if fuse == "scan":
        carry, metrics = jax.lax.scan(lambda c, _: one(c), carry, None, length=num_steps)
    else:
        ms = []
        for _ in range(num_steps):
            carry, m = one(carry)
            ms.append(m)
        metrics = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *ms)
    return (*carry, metrics)


def compile_program(recipe, txs, num_steps: int, devices: list, fuse: str | None = None):
    """(stacked state, alive, failed_at, data) → same + metrics (members, num_steps, ...); jitted, state
    donated; the member axis split over `devices` when there are several."""
    fn = functools.partial(guarded_steps, recipe, txs, num_steps, fuse or default_fuse())
    fn = jax.vmap(fn, in_axes=(0, 0, 0, None))
    if len(devices) > 1:
        mesh = Mesh(np.asarray(devices), (AXIS,))
        # check_vma=False: no collectives here, and custom-VJP layers (models/phase_conv.py) do not carry
        # the varying-axis types that check needs
        fn = jax.shard_map(fn, mesh=mesh, in_specs=(P(AXIS), P(AXIS), P(AXIS), P()), out_specs=P(AXIS),
                           check_vma=False)
    return jax.jit(fn, donate_argnums=(0,))


def place(tree, devices: list, split: bool = True):
    """Put a pytree on `devices`: split along the member axis (split=True) or replicated."""
    if len(devices) == 1:
        return jax.device_put(tree, devices[0])
    mesh = Mesh(np.asarray(devices), (AXIS,))
    return jax.device_put(tree, NamedSharding(mesh, P(AXIS) if split else P()))


def stack(trees: list):
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def unstack(tree, i: int):
    """Member i's tree, on the host."""
    return jax.tree_util.tree_map(lambda x: np.asarray(x[i]), tree)


# -- training --------------------------------------------------------------------------------------------
def run_sweep(spec: str, workdir: str, overrides=(), stack: str = "auto", members_per_program: int | None = None,
              devices: int = 1, best: str = "auto", evaluate: bool | None = None, progress: bool = True,
              part: str | None = None) -> dict:
    """Train every member of `spec`'s sweep(add) in `workdir` (resuming), evaluate them, then write the summary.

    evaluate: None (default) runs `ganjax eval` on every finished member whose run has an evaluation (digit
    GANs on labelled data with a held-out part; translation runs with a true B) and skips the others with a
    note; True requires one (an error before training when a member has none); False skips it. The summary
    then picks the best member by the evaluated quality (summary.choose_best), not by a GAN loss.
    part "K/N": only the members whose index is K modulo N (one host's share of a sweep spread over N
    hosts, each with its own workdir); member names keep their sweep-wide numbers."""
    if best.partition(":")[2] not in ("", "min", "max"):
        raise UsageError(f"--best {best!r}: write METRIC, METRIC:min or METRIC:max")
    k, n = parse_part(part)
    devs = check_devices(devices)
    members = [m for m in expand(spec, overrides) if m.index % n == k]
    if not members:
        raise UsageError(f"--part {part}: no member of this sweep has an index that is {k} modulo {n}")
    data_parallel = [m for m in members if m.cfg.get("mesh", {}).get("data", 1) != 1]
    if data_parallel:
        raise UsageError(f"{data_parallel[0].name} has mesh.data={data_parallel[0].cfg.mesh.data}: a sweep splits "
                         f"its members over devices (--devices), not each member's batch; set mesh.data=1")
    programs = plan(members, stack, members_per_program, len(devs))
    unevaluable = {} if evaluate is False else evaluation_missing(programs)
    if evaluate and unevaluable:
        name, why = next(iter(unevaluable.items()))
        raise UsageError(f"--eval: {name} has no evaluation: {why}")
    root, old = check_folder(workdir, members)
    with contextlib.ExitStack() as held:  # one process owns the sweep folder and every member's run folder
        for folder in [root] + [os.path.join(root, m.name) for m in members]:
            held.enter_context(wd.locked(folder))
        root, old = check_folder(workdir, members)  # again, under the locks
        return _run_locked(spec, root, old, members, programs, devs, best, evaluate is not False, unevaluable,
                           progress)


def evaluation_missing(programs) -> dict:
    """{member name: why `ganjax eval` cannot evaluate it} (empty when every member has an evaluation). Members
    of one program share their data, so one member of each program is asked."""
    from ganjax.evaluation.digits import MIN_SAMPLES
    from ganjax.evaluation.inception import weights_path
    from ganjax.recipes import TRANSLATION

    missing, seen = {}, {}
    for prog in programs:
        cfg = prog.members[0].cfg
        key = json.dumps([cfg.experiment, cfg.data.to_dict()], sort_keys=True, default=str)
        if key not in seen:
            seen[key] = recipes.build(cfg).dataset
        ds = seen[key]
        if cfg.experiment in TRANSLATION:
            why = (None if ds.test_b_truth is not None or ds.paired or weights_path(None) is not None
                   else "its test set has no true B for each test A (a built-in task or paired data has one)")
        elif getattr(ds, "train_labels", None) is None:
            why = f"its data ({cfg.data.source}) has no labels for the digit classifier"
        elif len(ds.test) < MIN_SAMPLES:
            why = f"it holds out no images to compare with (data.holdout={cfg.data.holdout})"
        else:
            why = None
        if why:
            missing.update({m.name: why for m in prog.members})
    return missing


def _run_locked(spec, root, old, members, programs, devs, best, evaluate, unevaluable, progress) -> dict:
    from ganjax.sweep import summary

    record = Record(root, spec, members, programs, old)
    record.save()
    say = (lambda s: tqdm.write(s, file=sys.stderr)) if progress else (lambda s: None)
    say(f"{len(members)} members in {len(programs)} program(s) on {len(devs)} device(s)")
    for i, prog in enumerate(programs):
        names = prog.members[0].name + (f"..{prog.members[-1].name} ({len(prog.members)} members)"
                                        if len(prog.members) > 1 else "")
        say(f"  program {i}: {names}" + (f"  [{prog.note}]" if prog.note else ""))
    if devs[0].platform == "cpu" and max(len(p.members) for p in programs) > 1 \
            and any(m.cfg.model.get("upsample") == "conv_transpose" for m in members):
        say(f"  note: {CPU_NOTE}")
    shared: dict = {}  # programs of one kind share their compiled functions (their numbers are data)
    for i, prog in enumerate(programs):
        train_program(prog, f"program {i + 1}/{len(programs)}", root, record, devs, progress, shared)
    if evaluate:
        if unevaluable:
            name, why = next(iter(unevaluable.items()))
            say(f"not evaluated: {', '.join(unevaluable)} ({why})")
        _evaluate_members(root, record, progress, skip=set(unevaluable))
    return summary.write_summary(root, best=best)


def _evaluate_members(root: str, record: Record, progress: bool, skip: set = frozenset()) -> None:
    """`ganjax eval` on each trained member (not failed, not in `skip`) whose eval.json is not of its latest
    step and default generator; members on the same data share one cached classifier."""
    import shutil

    from ganjax.evaluation import evaluate_run

    classifiers: dict[str, str] = {}
    for r in record.data["members"]:
        if r["name"] in skip:
            continue
        run = os.path.join(root, r["name"])
        path = os.path.join(run, "eval.json")
        cfg = wd.load_config(run)
        same_data = json.dumps([cfg.data.to_dict(), cfg.get("model", {}).get("image_size"),
                                cfg.get("model", {}).get("channels"), cfg.get("eval", {}).get("classifier_steps")],
                               sort_keys=True, default=str)
        cache = os.path.join(run, "eval", "classifier")
        if r["status"] != "failed" and not _current_eval(path, r["step"], cfg):
            if not os.path.isdir(cache) and same_data in classifiers:
                shutil.copytree(classifiers[same_data], cache)
            if progress:
                tqdm.write(f"evaluating {r['name']}", file=sys.stderr)
            evaluate_run(run, verbose=False)
        if os.path.isdir(cache):
            classifiers.setdefault(same_data, cache)


def _current_eval(path: str, step: int, cfg) -> bool:
    """Whether eval.json at `path` evaluated checkpoint `step` with the generator eval uses by default (a
    `ganjax eval --step S` or `--raw` a user ran since does not count)."""
    try:
        with open(path) as f:
            ev = json.load(f)
    except (OSError, ValueError):
        return False
    has_ema = float(cfg.get("ema", {}).get("kimg", 0.0) or 0.0) > 0
    return ev.get("step") == step and (ev.get("generator", "raw") == "EMA") == has_ema


def _restore_start(members, ckpts, record) -> tuple[int, set]:
    """(step the program resumes from, indices of members already failed)."""
    failed = {i for i, m in enumerate(members) if record.by_name[m.name]["status"] == "failed"}
    live = [i for i in range(len(members)) if i not in failed]
    common = set.intersection(*(set(ckpts[i].all_steps()) for i in live)) if live else set()
    return max(common, default=0), failed


def train_program(prog, label: str, root: str, record: Record, devs: list, progress: bool = True,
                  shared: dict | None = None) -> None:
    members = prog.members
    cfg0, M = members[0].cfg, len(members)
    t = cfg0.train
    kind = (shared if shared is not None else {}).setdefault(prog.kind, {})
    if "recipe" not in kind:
        kind["recipe"] = recipe = recipes.build(cfg0)
        kind["txs"], kind["visualize"], kind["fns"] = recipe.optimizers(), jax.jit(jax.vmap(recipe.visualize)), {}
    recipe, txs, visualize = kind["recipe"], kind["txs"], kind["visualize"]
    dirs = [wd.check(os.path.join(root, m.name), m.cfg) for m in members]  # config.json: once restored
    for d in dirs:
        resume.check_history(d, t.ckpt_every)  # before checkpoints/ is opened (and made)
    ckpts = [Checkpoints(os.path.join(d, "checkpoints"), keep=t.keep) for d in dirs]
    logs: dict[int, wd.MetricsLog] = {}
    tbs: dict[int, TensorBoard] = {}  # each member's RUN/tensorboard/
    bar = None
    try:
        start, failed = _restore_start(members, ckpts, record)
        for i in set(range(M)) - failed:  # never restart silently over a history whose checkpoints are gone
            logged = wd.last_logged_step(os.path.join(dirs[i], "metrics.jsonl"))
            if logged > start + 2 * t.ckpt_every:
                raise wd.RunFolderError(f"{dirs[i]}: metrics.jsonl records training up to step {logged}, but this "
                                        f"program's members have no common checkpoint after step {start}; "
                                        f"resuming would discard that history (use another --workdir)")
        if len(failed) == M or start >= t.steps:
            for i in set(range(M)) - failed:
                record.update(members[i].name, status="done", step=start)
            return
        member_recipes = [recipes.build(m.cfg) for m in members]
        abstract = jax.eval_shape(lambda: recipe.init_state(cfg0.seed))
        states = []
        for i, m in enumerate(members):
            if i in failed and ckpts[i].latest_step() is not None:
                states.append(ckpts[i].restore(abstract))           # its frozen last good state
            elif start and i not in failed:  # numbers kept in the state from this config (train/resume.py)
                states.append(resume.apply_settings(ckpts[i].restore(abstract, start),
                                                    resume.settings_of(member_recipes[i])))
            else:
                states.append(member_recipes[i].init_state(m.cfg.seed))
        for d, m in zip(dirs, members):  # with the keys changed since (train/resume.py), from step `start`
            wd.write_config(d, m.cfg, start)
        pad = -M % len(devs)  # rows that make the member axis divide over the devices (frozen, never saved)
        alive0 = np.array([i not in failed for i in range(M)] + [False] * pad)
        failed_at = np.array([record.by_name[m.name]["failed_at"] or 0 for m in members] + [0] * pad, np.int32)
        state = place(stack(states + states[:1] * pad), devs)
        alive, failed_at = place(jnp.asarray(alive0), devs), place(jnp.asarray(failed_at), devs)
        fixed = stack([r.fixed_inputs(t.num_sample_grid) for r in member_recipes]
                      + [member_recipes[0].fixed_inputs(t.num_sample_grid)] * pad)
        fixed = place(fixed, devs)
        data = place(prog.data, devs, split=False)
        defaults = config_lib.load(record.data["config"])  # the experiment file the user named, for run.json
        for i in range(M):
            if i not in failed:
                logs[i] = wd.MetricsLog(os.path.join(dirs[i], "metrics.jsonl"), start, note=lambda text, name=members[
                    i].name: tqdm.write(f"ganjax: {name}: {text}", file=sys.stderr))
                tbs[i] = TensorBoard(dirs[i], members[i].cfg, start)
                run_info.start_session(dirs[i], members[i].cfg, start, devs,  # the report's header
                                       config_lib.differences(members[i].cfg, defaults))
                run_info.save_real_grid(dirs[i], recipe, t.num_sample_grid)
                record.update(members[i].name, status="training", step=start)
        record.save()
        k, step, was_alive = chunk_size(cfg0), start, alive0.copy()
        bar = tqdm(total=t.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True,
                   desc=f"{label} ({M} members)")
        block, t_block, imgs, compiled_once = [], time.perf_counter(), 0, False
        with stop_signals() as received:
            while step < t.steps and was_alive[:M].any():
                n = min(k, t.steps - step)
                if (M + pad, n) not in kind["fns"]:
                    kind["fns"][M + pad, n] = compile_program(recipe, txs, n, devs)
                state, alive, failed_at, metrics = kind["fns"][M + pad, n](state, alive, failed_at, data)
                metrics = jax.device_get(metrics)
                now_alive, fa = np.asarray(alive), np.asarray(failed_at)
                step += n
                if compiled_once:  # the first dispatch includes compilation
                    imgs += n * t.batch_size
                compiled_once = True
                for i in np.flatnonzero(was_alive[:M] & ~now_alive[:M]):
                    _fail(members[i], int(fa[i]), {key: v[i] for key, v in metrics.items()}, unstack(state, i),
                          ckpts[i], logs.pop(i), record)
                block.append(metrics)
                bar.update(n)
                live = np.flatnonzero(now_alive[:M])
                if step % t.log_every == 0 or step == t.steps:
                    elapsed = time.perf_counter() - t_block
                    rate = round(imgs / elapsed, 1) if imgs else None
                    for i in live:
                        row = {key: float(np.mean(np.concatenate([b[key][i] for b in block]))) for key in block[0]}
                        row.update(step=step, img_per_s=rate, time=time.time())
                        logs[i].write(row)
                        tbs[i].scalars(row)
                    bar.set_postfix(alive=f"{len(live)}/{M}", img_s=f"{(rate or 0) * len(live):.0f}")
                    block, t_block, imgs = [], time.perf_counter(), 0
                if step % t.sample_every == 0 or step == t.steps:
                    images = np.asarray(visualize(state, fixed))
                    for i in live:
                        report.save_grid(images[i], os.path.join(dirs[i], "samples", f"step_{step:06d}.png"),
                                         nrow=recipe.grid_nrow)
                        tbs[i].images(step, images[i], recipe.grid_nrow)
                        report.write_html(dirs[i])
                if step % t.ckpt_every == 0 or step == t.steps:
                    for i in live:
                        _save(ckpts[i], step, unstack(state, i))
                        record.update(members[i].name, step=step, status="done" if step == t.steps else "training")
                    record.save()
                was_alive = now_alive
                if received:
                    for i in live:
                        _save(ckpts[i], step, unstack(state, i), force=True)
                        record.update(members[i].name, step=step, status="done" if step == t.steps else "stopped")
                    record.save()
                    name = signal.Signals(received[0]).name
                    raise Interrupted(f"stopped by {name} at step {step}; checkpoints saved, run the same "
                                      f"command to resume", 128 + received[0])
    finally:
        if bar is not None:
            bar.close()
        for tb in tbs.values():
            tb.close()
        for log in logs.values():
            log.close()
        record.save()
        try:
            for c in ckpts:
                c.close()
        except OSError as e:
            raise CheckpointError(f"could not finish writing a checkpoint ({e.strerror or e})") from None
        finally:
            for d in dirs if bar is not None else ():  # not when it stopped before training (nothing changed)
                report.plot_losses(os.path.join(d, "metrics.jsonl"), os.path.join(d, "losses.png"))
                report.write_html(d)


def _save(ckpts: Checkpoints, step: int, state, force: bool = False) -> None:
    if step not in ckpts.all_steps():  # a resumed program may redo steps another member already saved
        save_checkpoint(ckpts, step, state, force=force)


def _fail(member, at: int, metrics: dict, state, ckpts, log, record: Record) -> None:
    """Mark `member` failed at step `at` (its state is frozen at step at - 1) and keep its last good state."""
    bad = first_nonfinite(metrics)
    term = bad[1] if bad else "a metric"
    msg = f"{term} became non-finite at step {at}; frozen at step {at - 1}, the other members go on"
    log.write({"step": at, "event": f"failed: {msg}"})
    log.close()
    _save(ckpts, at - 1, state, force=True)
    record.update(member.name, status="failed", failed_at=at, failed_term=term, step=at - 1)
    record.save()
    tqdm.write(f"ganjax: {member.name} failed: {msg}", file=sys.stderr)
