"""`ganjax sweep` as a user sees it: stacked members equal the same configs trained alone, a NaN member is
frozen while the others go on, resume, member folders are ordinary runs, classification, bad inputs."""
import csv
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax import recipes
from ganjax.commands import main
from ganjax.inference import load_run
from ganjax.sweep import classify, expand, plan
from ganjax.sweep.runner import compile_program, stack, unstack
from ganjax.train.steps import compile_multi_step
from tests.conftest import DCGAN, TINY, tiny_argv, tiny_cfg

# Member 0 and 1 differ in every kind of stackable number (seed, Adam lr / b1, a loss weight); member 2's
# learning rate makes its parameters overflow within a few steps (NaN), which must not disturb the others.
MEMBERS = [{"seed": 0, "loss.r1_gamma": 0.5},
           {"seed": 1, "loss.r1_gamma": 1.0, "optim.g.lr": 4e-4, "optim.d.b1": 0.6},
           {"seed": 2, "loss.r1_gamma": 0.5, "optim.d.lr": 1e38, "optim.g.lr": 1e38}]


def sweep_file(tmp_path, members, name="s.py"):
    """An experiment file: the tiny-able DCGAN config plus sweep(add) adding `members`."""
    path = tmp_path / name
    path.write_text(f"from ganjax.config import load_module\nBASE = load_module({DCGAN!r})\n"
                    f"get_config = BASE.get_config\n\ndef sweep(add):\n    for m in {members!r}:\n        add(**m)\n")
    return str(path)


def sweep_argv(spec, workdir, *extra):
    return ["sweep", spec, "--workdir", str(workdir), "--quiet"] + [f"--config.{k}={v}" for k, v in TINY] + list(extra)


def leaves(run):
    _, _, state = load_run(run)
    return jax.tree_util.tree_leaves(state.params), int(state.step)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    spec = sweep_file(tmp, MEMBERS)
    assert main(sweep_argv(spec, tmp / "sw")) == 0
    return spec, tmp / "sw"


def flat(leaves_):
    return np.concatenate([np.asarray(x, np.float64).ravel() for x in leaves_])


def agreement(a, b) -> float:
    """Share of the params and optimizer-state elements of GANState `a` within 1e-5 of `b`, relative to the
    largest |value| of each array (scalars are checked exactly by the callers)."""
    ok = n = 0
    for x, y in zip(jax.tree_util.tree_leaves((a.params, a.opt_state)), jax.tree_util.tree_leaves((b.params, b.opt_state))):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if y.size > 1:
            ok, n = ok + np.sum(np.abs(x - y) <= 1e-5 * np.abs(y).max()), n + y.size
    return ok / n


def numbers(state) -> list:
    """The state's numbers: step, key, loss weights, the optimizers' injected hyperparameters, step counts."""
    inject = [x.hyperparams for x in jax.tree_util.tree_leaves(state.opt_state, is_leaf=lambda x: hasattr(x, "hyperparams"))
              if hasattr(x, "hyperparams")]
    counts = [x for x in jax.tree_util.tree_leaves(state.opt_state) if np.asarray(x).dtype.kind == "i"]
    return [np.asarray(x).tolist() for x in jax.tree_util.tree_leaves((state.step, state.key, state.hp, inject, counts))]


def assert_same_step(stacked, alone: list) -> None:
    """Member i of the stacked state = alone[i]: its numbers exactly, its weights to 1e-5 and every
    weight and optimizer moment to 1e-5 of its array's scale. (Measured: bitwise for the first step, then
    1-ulp differences where XLA fuses the two programs' elementwise code differently: max 4.5e-8 after 20
    steps. Before the optimizer update was computed per member on CPU (cpu_conv.per_member_tree), XLA
    simplified Adam's bias correction differently for a per-member vector than for a scalar and the
    weights drifted by up to 9e-4 in 20 steps.)"""
    for i, ref in enumerate(alone):
        mine = unstack(stacked, i)
        assert numbers(mine) == numbers(ref)
        d = np.abs(flat(jax.tree_util.tree_leaves(mine.params)) - flat(jax.tree_util.tree_leaves(ref.params)))
        assert agreement(mine, ref) == 1.0 and d.max() <= 1e-5, (i, int(ref.step), agreement(mine, ref), d.max())


def test_each_vmapped_step_equals_the_ordinary_step():
    """20 steps of members 0 and 1 trained alone (steps.compile_multi_step, what `ganjax train` runs); at
    each step the sweep's vmapped program, applied to the same states, gives the same next states."""
    cfgs = [tiny_cfg(*[(k, str(v)) for k, v in m.items()]) for m in MEMBERS[:2]]
    rs = [recipes.build(c) for c in cfgs]
    data = jax.device_put(rs[0].device_data())
    states = [r.init_state(c.seed) for r, c in zip(rs, cfgs)]
    program = compile_program(rs[0], rs[0].optimizers(), 1, jax.devices()[:1])
    alone = [compile_multi_step(r, r.optimizers(), 1) for r in rs]
    alive, failed_at = jnp.ones(2, bool), jnp.zeros(2, jnp.int32)
    for step in range(20):
        stacked, ok, _, _ = program(stack(states), alive, failed_at, data)
        other = jax.tree_util.tree_map(np.array, states[1])  # member 1 with D's b1 0.5 instead of 0.6
        d_opt = other.opt_state["d"]
        other = other.replace(opt_state={**other.opt_state, "d": d_opt._replace(
            hyperparams={**d_opt.hyperparams, "b1": np.float32(0.5)})})
        other, _ = alone[1](other, data)
        states = [f(s, data)[0] for f, s in zip(alone, states)]
        assert bool(ok.all())
        assert_same_step(stacked, states)
        if step:  # (Adam's first step does not depend on b1)
            assert agreement(other, states[1]) < 0.95  # one number changed: far from 1e-5


def test_a_sweep_folder_given_as_a_run_says_where_the_runs_are(swept, capsys):
    _, sw = swept
    assert main(["eval", str(sw)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"it is a sweep folder: each member's run is {sw}/member_NNN") and len(err.splitlines()) == 1


def test_member_run_matches_the_config_trained_alone(swept, tmp_path):
    """End to end: member 1 of the sweep after 20 steps vs `ganjax train` of its config: its numbers (step,
    key, loss weight, Adam's lr / betas, counts) the same and every weight to 1e-5;
    another member differs by a median 8e-2."""
    _, sw = swept
    alone = tmp_path / "alone"
    assert main(tiny_argv(alone, *[f"--config.{k}={v}" for k, v in MEMBERS[1].items()])) == 0
    member, ref, other = (load_run(run).state for run in (sw / "member_001", alone, sw / "member_000"))
    assert int(member.step) == 20 and numbers(member) == numbers(ref)
    params = lambda s: flat(jax.tree_util.tree_leaves(s.params))
    assert np.abs(params(member) - params(ref)).max() <= 1e-5, np.abs(params(member) - params(ref)).max()
    assert np.median(np.abs(params(other) - params(ref))) > 1e-2
    rows = [json.loads(line) for line in open(sw / "member_001" / "metrics.jsonl")]
    ref_rows = [json.loads(line) for line in open(alone / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [r["step"] for r in ref_rows] == [5, 10, 15, 20]
    cfg = json.load(open(sw / "member_001" / "config.json"))
    assert cfg["seed"] == 1 and cfg["optim"]["d"]["b1"] == 0.6 and cfg["loss"]["r1_gamma"] == 1.0


def test_nan_member_is_frozen_and_the_others_finish(swept, capsys):
    _, sw = swept
    record = {m["name"]: m for m in json.load(open(sw / "sweep.json"))["members"]}
    bad = record["member_002"]
    assert bad["status"] == "failed" and 1 <= bad["failed_at"] < 20
    n = bad["failed_at"]
    assert record["member_000"]["status"] == record["member_001"]["status"] == "done"
    # its last good state is kept as an ordinary checkpoint, and nothing after it
    assert sorted(int(s) for s in os.listdir(sw / "member_002" / "checkpoints"))[-1] == n - 1
    params, step = leaves(sw / "member_002")
    assert step == n - 1 and all(np.isfinite(np.asarray(p)).all() for p in params)
    events = [json.loads(line) for line in open(sw / "member_002" / "metrics.jsonl") if "event" in line]
    assert events[-1]["step"] == n and "non-finite" in events[-1]["event"]
    rows = {r["member"]: r for r in csv.DictReader(open(sw / "summary.csv"))}
    assert rows["member_002"]["status"].startswith(f"failed at step {n}")
    assert rows["member_002"]["best"] == "0" and os.path.isfile(sw / "summary.png")


def test_member_folder_is_an_ordinary_run(swept, tmp_path):
    _, sw = swept
    for name in ("config.json", "metrics.jsonl", "losses.png", "report.html", "samples/step_000020.png"):
        assert os.path.isfile(sw / "member_000" / name), name
    out = tmp_path / "s.npz"
    assert main(["sample", str(sw / "member_000"), "--n", "4", "--output", str(out)]) == 0
    assert np.load(out)["images"].shape == (4, 28, 28, 1)


def test_resumed_sweep_equals_straight_one(swept, tmp_path, capsys):
    """10 steps, then the same command with 20: every member bit-identical to the straight sweep."""
    spec, sw = swept
    run = tmp_path / "resumed"
    assert main(sweep_argv(spec, run, "--config.train.steps=10", "--no-eval")) == 0
    assert main(sweep_argv(spec, run, "--no-eval")) == 0
    for name in ("member_000", "member_001", "member_002"):
        a, sa = leaves(run / name)
        b, sb = leaves(sw / name)
        assert sa == sb
        for x, y in zip(a, b):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    steps = [json.loads(line)["step"] for line in open(run / "member_000" / "metrics.jsonl")]
    assert steps == [5, 10, 15, 20]
    capsys.readouterr()
    assert main(sweep_argv(spec, run, "--best", "d_loss:max", "--no-eval")) == 0  # finished: summary again
    out = capsys.readouterr().out
    assert "best by d_loss (max): member_00" in out and "failed at step" in out
    assert main(sweep_argv(spec, run, "--no-eval")) == 0  # no evaluation: g_loss, and a warning that says so
    assert "best by g_loss (min): " in capsys.readouterr().out
    assert not any((run / m / "eval.json").exists() for m in ("member_000", "member_001"))
    kept = (run / "summary.csv").read_bytes()
    assert main(sweep_argv(spec, run, "--best", "frechet")) == 2  # a metric it lacks: the summary stays
    assert "--best 'frechet' is not a metric of this sweep" in capsys.readouterr().err
    assert (run / "summary.csv").read_bytes() == kept


def test_classification_of_config_keys():
    cfg = tiny_cfg()
    kinds = {k: classify(cfg, k) for k in ("seed", "optim.g.lr", "optim.d.b1", "optim.g.b2", "loss.r1_gamma",
                                           "loss.gp_weight", "optim.g.decay_start", "model.g_width", "loss.name",
                                           "train.batch_size", "model.image_size", "data.limit", "train.steps")}
    assert kinds == {"seed": "seed", "optim.g.lr": "optimizer", "optim.d.b1": "optimizer",
                     "optim.g.b2": "optimizer", "loss.r1_gamma": "loss weight", "loss.gp_weight": "loss weight",
                     "optim.g.decay_start": "structural", "model.g_width": "structural",
                     "loss.name": "structural", "train.batch_size": "structural",
                     "model.image_size": "structural", "data.limit": "structural", "train.steps": "structural"}
    from ganjax import config
    p2p = config.load(os.path.join(os.path.dirname(DCGAN), "pix2pix.py") + ":runlocal")
    assert classify(p2p, "loss.lambda_L1") == "loss weight"
    assert classify(p2p, "model.ngf") == "structural"


def test_plan_stacks_numbers_and_splits_structure(tmp_path):
    base = [("model.g_width", "8"), ("model.d_width", "8"), ("data.limit", "200"), ("train.batch_size", "8")]
    members = [{"seed": 0, "loss.r1_gamma": 1.0}, {"seed": 1, "loss.r1_gamma": 2.0},   # one program
               {"seed": 2, "loss.r1_gamma": 0.0},                                    # R1 term off: its own
               {"seed": 3, "loss.r1_gamma": 1.0, "model.g_width": 4}]                # structural
    progs = plan(expand(sweep_file(tmp_path, members), base))
    assert [[m.index for m in p.members] for p in progs] == [[0, 1], [2], [3]]
    assert "loss.r1_gamma (1.0 vs 0.0) changes the compiled step" in progs[1].note
    assert "model.g_width (8 vs 4) is structural" in progs[2].note
    chunks = plan(expand(sweep_file(tmp_path, [{"seed": s} for s in range(5)], "t.py"), base),
                  members_per_program=2)
    assert [len(p.members) for p in chunks] == [2, 2, 1]


@pytest.mark.parametrize("extra, members, expected", [
    ([], [{"optim.g.lrr": 1e-3}], "sweep member 0 {optim.g.lrr=0.001}: unknown config key 'optim.g.lrr' "
                                  "(did you mean optim.g.lr?)"),
    (["--stack", "require"], [{"seed": 0}, {"model.g_width": 8}],
     "--stack=require: member_001 cannot share a program with member_000: model.g_width (16 vs 8) is structural"),
    (["--stack", "none", "--members-per-program", "2"], [{"seed": 0}, {"seed": 1}],
     "--stack=none trains members one by one; it cannot take --members-per-program 2"),
    (["--devices", "64"], [{"seed": 0}], "--devices 64 asked, but only 1 cpu device(s) exist"),
    (["--members-per-program", "0"], [{"seed": 0}], "--members-per-program must be at least 1"),
    ([], [{"seed": 0}, {"seed": 0}], "sweep members 0 and 1 are the same"),
    (["--best", "g_loss:mx"], [{"seed": 0}], "--best 'g_loss:mx': write METRIC, METRIC:min or METRIC:max"),
    (["--config.mesh.data=2"], [{"seed": 0}], "member_000 has mesh.data=2: a sweep splits its members over "
                                              "devices (--devices), not each member's batch; set mesh.data=1"),
    (["--part", "2/2"], [{"seed": 0}], "--part '2/2': write K/N with 0 <= K < N"),
    (["--part", "1/2"], [{"seed": 0}], "--part 1/2: no member of this sweep has an index that is 1 modulo 2"),
])
def test_bad_sweeps_are_one_line_errors(tmp_path, capsys, extra, members, expected):
    run = tmp_path / "sw"
    assert main(sweep_argv(sweep_file(tmp_path, members), run, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1, err
    assert not run.exists()


def test_part_trains_one_hosts_share(tmp_path, swept):
    """--part 1/2 (the second of two hosts): only the odd members, under their sweep-wide names."""
    spec, sw = swept
    run = tmp_path / "part1"
    assert main(sweep_argv(spec, run, "--part", "1/2", "--config.train.steps=10", "--no-eval")) == 0
    assert sorted(d for d in os.listdir(run) if d.startswith("member_")) == ["member_001"]
    assert [r["member"] for r in csv.DictReader(open(run / "summary.csv"))] == ["member_001"]
    assert int(load_run(run / "member_001").state.step) == 10


def test_experiment_without_sweep_and_another_sweeps_folder(tmp_path, swept, capsys):
    assert main(sweep_argv(DCGAN, tmp_path / "x")) == 2
    assert "defines no sweep(add)" in capsys.readouterr().err
    _, sw = swept
    other = sweep_file(tmp_path, [{"seed": 5}])
    before = sorted(os.listdir(sw))
    assert main(sweep_argv(other, sw)) == 2
    assert "holds another sweep" in capsys.readouterr().err
    assert sorted(os.listdir(sw)) == before


def test_dcgan_sweep_experiment_expands():
    members = expand(os.path.join(os.path.dirname(DCGAN), "dcgan_sweep.py"))
    assert len(members) == 16 and {m.cfg.seed for m in members} == {0, 1, 2, 3}
    assert {m.cfg.optim.g.lr for m in members} == {1e-4, 2e-4, 4e-4, 8e-4}
    local = expand(os.path.join(os.path.dirname(DCGAN), "dcgan_sweep.py") + ":runlocal")
    assert len(local) == 4 and local[0].cfg.train.steps == 100


# -- picking the best member by evaluated quality ------------------------------------------------------------
def test_sweep_evaluates_members_and_stars_the_best_evaluated(swept, capsys):
    """Digit GAN members are evaluated by default (`ganjax eval`'s eval.json in each finished member, none in
    the failed one), and the star of summary.csv goes to the lowest Fréchet ratio among members whose every
    class has >= 8 % of the samples (else the lowest ratio)."""
    from ganjax.sweep import summary
    _, sw = swept
    ev = {m: json.load(open(sw / m / "eval.json")) for m in ("member_000", "member_001")}
    assert all(e["step"] == 20 and e["generator"] == "EMA" for e in ev.values())
    assert not (sw / "member_002" / "eval.json").exists()
    covered = [m for m, e in ev.items() if e["min_class_share"] >= summary.MIN_CLASS_SHARE] or list(ev)
    want = min(covered, key=lambda m: ev[m]["frechet_ratio"])
    rows = {r["member"]: r for r in csv.DictReader(open(sw / "summary.csv"))}
    assert [m for m, r in rows.items() if r["best"] == "1"] == [want]
    assert float(rows[want]["frechet_ratio"]) == ev[want]["frechet_ratio"]


def _set_eval(run, **numbers):
    path = run / "eval.json"
    ev = json.load(open(path))
    ev.update(numbers)
    path.write_text(json.dumps(ev))


def test_star_goes_to_the_best_quality_not_the_lowest_g_loss(swept, tmp_path, capsys):
    """With member_000 given the best Fréchet ratio but a neglected class, and member_001 the lowest g_loss
    but the worst ratio, a third evaluation decides: the star follows the rule, not the loss. Evaluations of
    the member's latest step are kept (nothing is evaluated again); a stale one (another step) is redone."""
    _, sw = swept
    run = tmp_path / "sw"
    import shutil
    shutil.copytree(sw, run)
    spec = json.load(open(run / "sweep.json"))["config"]
    last = lambda m: [json.loads(x) for x in open(run / m / "metrics.jsonl") if '"event"' not in x][-1]
    low_g = min(("member_000", "member_001"), key=lambda m: last(m)["g_loss"])
    other = "member_001" if low_g == "member_000" else "member_000"
    _set_eval(run / low_g, frechet_ratio=9.0, min_class_share=0.09)
    _set_eval(run / other, frechet_ratio=1.1, min_class_share=0.02)
    capsys.readouterr()
    assert main(sweep_argv(spec, run)) == 0
    out = capsys.readouterr().out
    # only low_g has every class >= 8 %: it wins on the rule although its ratio is worse
    assert f"best by frechet_ratio (min, among members with min_class_share >= 0.08): {low_g} (frechet_ratio=9, " \
           f"min_class_share=0.09" in out
    _set_eval(run / low_g, frechet_ratio=2.0, min_class_share=0.05)    # now no member covers every class
    assert main(sweep_argv(spec, run)) == 0
    out = capsys.readouterr().out
    assert f"(min, no member has min_class_share >= 0.08): {other} (frechet_ratio=1.1" in out
    assert f"* {other}" in out and f"* {low_g}" not in out
    assert main(sweep_argv(spec, run, "--best", "g_loss")) == 0      # asked for: the loss, with its warning
    out = capsys.readouterr().out
    assert f"best by g_loss (min): {low_g}" in out and "a GAN loss is not image quality" in out
    _set_eval(run / other, step=10)                                     # stale: evaluated again
    assert main(sweep_argv(spec, run)) == 0
    assert json.load(open(run / other / "eval.json"))["step"] == 20


def test_choose_best_rules():
    from ganjax.sweep.summary import choose_best
    row = lambda name, **kw: {"member": name, "status": "done", **kw}
    rows = [row("a", g_loss=0.1, frechet_ratio=4.0, min_class_share=0.09),
            row("b", g_loss=0.9, frechet_ratio=1.2, min_class_share=0.03),
            row("c", g_loss=0.5, frechet_ratio=1.6, min_class_share=0.085),
            {**row("d", g_loss=0.0, frechet_ratio=0.5, min_class_share=0.1), "status": "failed at step 3 (g_loss)"}]
    names = ["g_loss", "frechet_ratio", "min_class_share"]
    best, metric, mode, note = choose_best(rows, names)
    assert (best["member"], metric, mode) == ("c", "frechet_ratio", "min") and note.startswith("among members")
    assert choose_best(rows, names, "frechet_ratio")[0]["member"] == "b"      # named: the metric alone
    assert choose_best(rows, names, "g_loss")[0]["member"] == "a"
    assert choose_best(rows, names, "min_class_share")[0]["member"] == "a"    # higher is better
    assert choose_best(rows[1:2], names)[3].startswith("no member has")
    psnr = [row("x", g_loss=0.1, psnr=20.0), row("y", g_loss=0.9, psnr=31.0)]
    assert choose_best(psnr, ["g_loss", "psnr"])[:3] == (psnr[1], "psnr", "max")
    assert choose_best(psnr, ["g_loss"])[:3] == (psnr[0], "g_loss", "min")


def test_eval_required_of_members_without_an_evaluation_fails_before_training(tmp_path, capsys):
    """--eval on unlabelled images (a flat folder: no classes for the digit classifier) is a one-line error
    before anything is trained or written."""
    from PIL import Image
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    run = tmp_path / "sw"
    argv = sweep_argv(sweep_file(tmp_path, [{"seed": 0}]), run, f"--config.data.source=folder:{folder}",
                      "--config.data.limit=0", "--eval")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"--eval: member_000 has no evaluation: its data (folder:{folder}) has no labels" in err, err
    assert len(err.splitlines()) == 1 and not run.exists()
