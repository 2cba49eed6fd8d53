"""Damaged run folders, concurrent runs, full disks and resumes with changed settings (issue 16).

The matrix runs every command (train, sample, eval, explain, attack, translate, sweep) against every way a run
folder can be damaged (config.json, metrics.jsonl, checkpoints: missing, empty, truncated, garbage, wrong type,
read-only) and asserts one line `ganjax: error: ...` with exit code 2 and the run folder unchanged — or, where
ganjax has a documented fallback, that fallback. Run folders here are made without training (a config, the
state checkpointed at steps 10, 15, 20, and metrics rows), so the cases cost no compilation."""
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from ganjax import config as config_lib
from ganjax import recipes
from ganjax.commands import known_failure, main
from ganjax.train import resume
from ganjax.train import workdir as wd
from ganjax.train.checkpoint import CheckpointError, Checkpoints
from tests.conftest import DCGAN, ROOT, TINY, tiny_argv

STEPS = (10, 15, 20)
EXTRA = [("train.ckpt_every", "5")]  # checkpoints at 10, 15, 20 of 20 steps
CYCLEGAN = os.path.join(ROOT, "experiments", "cyclegan.py:runlocal")
CG_TINY = [("data.load_size", "16"), ("data.crop_size", "16"), ("model.generator", "resnet"), ("model.ngf", "4"),
           ("model.ndf", "4"), ("model.n_blocks", "1"), ("model.n_layers_d", "2"), ("train.batch_size", "2"),
           ("train.steps", "20"), ("train.steps_per_dispatch", "5"), ("train.log_every", "5"),
           ("train.sample_every", "10"), ("train.ckpt_every", "5"), ("train.num_sample_grid", "2")]
PARTIAL = '{"d_fake": 0.549, "d_real": 0.'  # what a full disk left in the issue


def fabricate(workdir, cfg) -> str:
    """A run folder as training leaves it, without training: config.json, checkpoints at STEPS of a state of
    the run's structure (random small numbers: its lr, loss weights and EMA numbers too, which a resume takes
    from the config), metrics rows every 5 steps, an (empty) samples/."""
    workdir = str(workdir)
    abstract = jax.eval_shape(recipes.build(cfg).init_state, cfg.seed)  # the structure, without compiling
    rng = np.random.default_rng(0)  # small positive numbers (Adam's nu must not be negative), incompressible
    state = jax.tree_util.tree_map(lambda x: jnp.asarray(rng.uniform(0, 0.02, x.shape).astype(x.dtype) if
                                   jnp.issubdtype(x.dtype, jnp.floating) else np.zeros(x.shape, x.dtype)), abstract)
    wd.write_config(workdir, cfg, 0)
    ckpts = Checkpoints(os.path.join(workdir, "checkpoints"), keep=len(STEPS))
    for s in STEPS:
        ckpts.save(s, state.replace(step=jnp.asarray(s, jnp.int32)))
    ckpts.close()
    with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
        for s in range(5, STEPS[-1] + 1, 5):
            f.write(json.dumps({"d_loss": 1.0, "g_loss": 1.0, "step": s, "img_per_s": None, "time": 0.0}) + "\n")
    return workdir


def sweep_spec(folder) -> str:
    path = os.path.join(folder, "two.py")
    with open(path, "w") as f:
        f.write(f"from ganjax.config import load_module\nBASE = load_module({DCGAN!r})\nget_config = BASE.get_config\n"
                f"\ndef sweep(add):\n    add(seed=0)\n    add(seed=1)\n")
    return path


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """{"dcgan": run, "cyclegan": run, "sweep": (spec, sweep folder)}: made once, copied by each case."""
    from ganjax.sweep.members import expand, plan
    from ganjax.sweep.folder import Record

    tmp = tmp_path_factory.mktemp("bases")
    dcgan = fabricate(tmp / "dcgan", config_lib.load(DCGAN, TINY + EXTRA))
    cyclegan = fabricate(tmp / "cyclegan", config_lib.load(CYCLEGAN, CG_TINY))
    spec = sweep_spec(str(tmp))
    members = expand(spec, TINY + EXTRA)
    root = tmp / "sweep"
    root.mkdir()
    Record(str(root), spec, members, plan(members), None).save()
    for m in members:
        fabricate(root / m.name, m.cfg)
    photo = tmp / "photo.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(photo)
    return {"dcgan": dcgan, "cyclegan": cyclegan, "sweep": (spec, str(root)), "photo": str(photo)}


def snapshot(folder) -> dict:
    """{relative path: sha1} of every file (the lock file aside: RUN/.lock is the lock, not data)."""
    out = {}
    for d, dirs, files in os.walk(folder):
        for name in files + [x + "/" for x in dirs]:
            rel = os.path.relpath(os.path.join(d, name), folder)
            if name == wd.LOCK:
                continue
            path = os.path.join(d, name)
            out[rel] = "dir" if name.endswith("/") else hashlib.sha1(open(path, "rb").read()).hexdigest()
    return out


# -- the damage ---------------------------------------------------------------------------------------------
def _write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def _edit_config(run, fn):
    path = os.path.join(run, "config.json")
    cfg = json.load(open(path))
    fn(cfg)
    _write(path, json.dumps(cfg))


def _truncate(path):
    data = open(path, "rb").read()
    _write(path, data[: len(data) // 3])


def _ckpt_files(run, step, name=None):
    out = []
    for d, _, files in os.walk(os.path.join(run, "checkpoints", str(step))):
        out += [os.path.join(d, f) for f in files if name is None or f == name]
    return out


def _truncate_arrays(run, steps=STEPS):
    for s in steps:
        for path in _ckpt_files(run, s):
            if os.sep + "d" + os.sep in path:  # the array data (OCDBT's d/ folders)
                _truncate(path)


def _replace_by_file(path):
    shutil.rmtree(path)
    _write(path, "not a folder")


DAMAGE = {
    # config.json
    "config missing": lambda r: os.remove(os.path.join(r, "config.json")),
    "config empty": lambda r: _write(os.path.join(r, "config.json"), ""),
    "config truncated": lambda r: _truncate(os.path.join(r, "config.json")),
    "config garbage": lambda r: _write(os.path.join(r, "config.json"), bytes(range(256)) * 4),
    "config []": lambda r: _write(os.path.join(r, "config.json"), "[]"),
    "config {}": lambda r: _write(os.path.join(r, "config.json"), "{}"),
    "config wrong type": lambda r: _edit_config(r, lambda c: c["train"].update(steps="many")),
    "config section not an object": lambda r: _edit_config(r, lambda c: c.update(model=7)),
    "config out of range": lambda r: _edit_config(r, lambda c: c["train"].update(keep=0)),
    "config a folder": lambda r: (os.remove(os.path.join(r, "config.json")), os.mkdir(os.path.join(r, "config.json"))),
    # metrics.jsonl
    "metrics partial line": lambda r: open(os.path.join(r, "metrics.jsonl"), "a").write(PARTIAL),
    "metrics garbage line": lambda r: _write(os.path.join(r, "metrics.jsonl"), open(os.path.join(
        r, "metrics.jsonl"), "rb").read().replace(b"\n", b"\n\xff\xfe garbage\n", 1)),
    "metrics a folder": lambda r: (os.remove(os.path.join(r, "metrics.jsonl")), os.mkdir(os.path.join(r, "metrics.jsonl"))),
    # checkpoints
    "checkpoints missing": lambda r: shutil.rmtree(os.path.join(r, "checkpoints")),
    "checkpoints empty": lambda r: (shutil.rmtree(os.path.join(r, "checkpoints")), os.mkdir(os.path.join(r, "checkpoints"))),
    "checkpoints a file": lambda r: _replace_by_file(os.path.join(r, "checkpoints")),
    "newest checkpoint truncated": lambda r: _truncate_arrays(r, STEPS[-1:]),
    "all checkpoints truncated": lambda r: _truncate_arrays(r),
    "all checkpoints garbage metadata": lambda r: [_write(p, "garbage") for s in STEPS
                                                   for p in _ckpt_files(r, s, "_METADATA")],
    "all checkpoints without manifest": lambda r: [os.remove(p) for s in STEPS
                                                   for p in _ckpt_files(r, s, "manifest.ocdbt")],
    "checkpoints of another model": lambda r: _edit_config(r, lambda c: c["model"].update(
        {k: 8 for k in ("g_width", "ngf") if k in c["model"]})),
    "run folder missing": lambda r: shutil.rmtree(r),
    "read-only": None,  # see read_only()
}

READERS = ("sample", "eval", "explain", "attack", "translate")
COMMANDS = ("train", "sweep") + READERS
DAMAGED = "is damaged"
# (command, damage) → what the user sees: ("error", text in the one line) or ("ok", text on stderr or None).
# Unlisted pairs expect ("error", DEFAULT[damage]); None: not applicable (the command never reads that file,
# or the case would train: see the tests below the matrix).
DEFAULT = {
    "config missing": "is not a ganjax run folder (no config.json)",
    "config empty": "config.json is damaged: empty",
    "config truncated": "config.json is damaged: not valid JSON",
    "config garbage": "config.json is damaged: not",
    "config []": "config.json is damaged: it holds a JSON list, not a ganjax config",
    "config {}": "config.json is damaged: it has no 'experiment'",
    "config wrong type": "config.json is damaged: 'train.steps' is \"many\", not an integer",
    "config section not an object": "config.json is damaged: 'model' is 7, not a section",
    "config out of range": "config.json is damaged: config key 'train.keep' must be positive, got 0",
    "config a folder": "is not a ganjax run folder (no config.json)",
    "checkpoints missing": "has no checkpoints yet; train it first",
    "checkpoints empty": "has no checkpoints yet; train it first",
    "checkpoints a file": "checkpoints is not a folder: the run folder is damaged",
    "all checkpoints truncated": "can be read (steps 20, 15, 10 are damaged)",
    "all checkpoints garbage metadata": "can be read (steps 20, 15, 10 are damaged)",
    "all checkpoints without manifest": "can be read (steps 20, 15, 10 are damaged)",
    "checkpoints of another model": "does not fit this model",
    "run folder missing": "no such folder",
    "read-only": "is read-only",
}
SPECIAL = {
    ("train", "config missing"): ("error", "is not empty and holds no ganjax run"),
    ("train", "config a folder"): ("error", "is not empty and holds no ganjax run"),
    ("sweep", "config missing"): ("error", "is not empty and holds no ganjax run"),
    ("sweep", "config a folder"): ("error", "is not empty and holds no ganjax run"),
    ("train", "config out of range"): ("ok", "already complete at step 20"),  # the new config replaces it
    ("sweep", "config out of range"): None,  # would train (and replace it)
    ("train", "metrics partial line"): ("ok", "metrics.jsonl: removed 1 unreadable line(s)"),
    ("train", "metrics garbage line"): ("ok", "metrics.jsonl: removed 1 unreadable line(s)"),
    ("train", "metrics a folder"): ("error", "metrics.jsonl is not a file: the run folder is damaged"),
    ("train", "checkpoints missing"): ("error", "metrics.jsonl records training up to step 20, but checkpoints/ "
                                                "holds no checkpoint"),
    ("train", "checkpoints empty"): ("error", "metrics.jsonl records training up to step 20, but checkpoints/ "
                                              "holds no checkpoint"),
    ("sweep", "checkpoints missing"): ("error", "metrics.jsonl records training up to step 20"),
    ("sweep", "checkpoints empty"): ("error", "metrics.jsonl records training up to step 20"),
    ("train", "checkpoints of another model"): ("error", "holds another run (model.g_width: 8 there, 16 here)"),
    ("sweep", "checkpoints of another model"): ("error", "holds another run (model.g_width: 8 there, 16 here)"),
    ("train", "newest checkpoint truncated"): None,  # falls back and trains: test_train_falls_back_...
    ("sweep", "newest checkpoint truncated"): ("error", DAMAGED),  # a sweep does not fall back
    ("sweep", "all checkpoints truncated"): ("error", DAMAGED),
    ("sweep", "all checkpoints garbage metadata"): ("error", DAMAGED),
    ("sweep", "all checkpoints without manifest"): ("error", DAMAGED),
    ("sample", "newest checkpoint truncated"): ("ok", "checkpoint at step 20"),  # warns, uses step 15
    ("translate", "newest checkpoint truncated"): ("ok", "checkpoint at step 20"),
    ("train", "run folder missing"): None,  # a new run
    ("sweep", "run folder missing"): None,
    ("sample", "read-only"): ("ok", None),  # readers write elsewhere
    ("translate", "read-only"): ("ok", None),
}
for _c in READERS:  # readers never read metrics.jsonl
    for _d in DAMAGE:
        if _d.startswith("metrics"):
            SPECIAL[(_c, _d)] = None
    SPECIAL.setdefault((_c, "newest checkpoint truncated"), None)  # would succeed at step 15 (as sample does)
for _d in DAMAGE:
    if _d.startswith("metrics"):
        SPECIAL.setdefault(("sweep", _d), None)  # would train; MetricsLog's repair is train's (the same class)


def expected(command, damage):
    if (command, damage) in SPECIAL:
        return SPECIAL[(command, damage)]
    return ("error", DEFAULT[damage])


CASES = [(c, d) for c in COMMANDS for d in DAMAGE if expected(c, d) is not None]


def argv(command, run, bases, out):
    if command == "train":
        return tiny_argv(run, *[f"--config.{k}={v}" for k, v in EXTRA])
    if command == "sweep":
        spec, _ = bases["sweep"]
        return (["sweep", spec, "--workdir", os.path.dirname(run), "--quiet"] +
                [f"--config.{k}={v}" for k, v in TINY + EXTRA] + ["--config.train.steps=30"])
    return {"sample": ["sample", run, "--n", "2", "--output", str(out / "s.npz")],
            "eval": ["eval", run, "--n", "10"],
            "explain": ["explain", run, "--n", "2", "--steps", "2", "--quiet"],
            "attack": ["attack", run, "--n", "2", "--iters", "1", "--eps", "0.1", "--quiet"],
            "translate": ["translate", run, "--input", bases["photo"], "--output", str(out / "t")]}[command]


def copy_for(command, bases, tmp_path) -> str:
    """A fresh copy of the run the command works on; for sweep, of the whole sweep (the run is member_000)."""
    if command == "sweep":
        root = tmp_path / "sweep"
        shutil.copytree(bases["sweep"][1], root)
        return str(root / "member_000")
    run = tmp_path / "run"
    shutil.copytree(bases["cyclegan" if command == "translate" else "dcgan"], run)
    return str(run)


def read_only(folder, request):
    """Make `folder` read-only: a read-only bind mount as root (root ignores permissions), chmod otherwise."""
    if os.geteuid() != 0:
        for d, dirs, files in os.walk(folder):
            for name in dirs + files:
                os.chmod(os.path.join(d, name), 0o555 if name in dirs else 0o444)
        os.chmod(folder, 0o555)
        request.addfinalizer(lambda: subprocess.run(["chmod", "-R", "u+w", folder]))
        return
    ok = subprocess.run(["mount", "--bind", folder, folder], capture_output=True).returncode == 0
    if not ok:
        pytest.skip("cannot make a read-only folder here (root without mount)")
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", folder], capture_output=True))
    if subprocess.run(["mount", "-o", "remount,bind,ro", folder], capture_output=True).returncode != 0:
        pytest.skip("cannot remount read-only here")


@pytest.mark.parametrize("command,damage", CASES, ids=[f"{c}-{d}" for c, d in CASES])
def test_damaged_run_folder(command, damage, bases, tmp_path, capsys, request):
    run = copy_for(command, bases, tmp_path)
    if damage == "read-only":
        read_only(run, request)
    else:
        DAMAGE[damage](run)
    holder = os.path.dirname(run) if damage == "run folder missing" else run
    before = snapshot(holder)
    code = main([str(a) for a in argv(command, run, bases, tmp_path)])
    out, err = capsys.readouterr()
    kind, text = expected(command, damage)
    assert "Traceback" not in err and "Event loop" not in err and "Exception ignored" not in err, err
    if kind == "error":
        assert code == 2, (code, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("ganjax: error: "), err
        assert text in err, err
        assert snapshot(holder) == before  # nothing written, nothing removed
        return
    assert code == 0, err
    if text is not None:
        assert text in err, err
    if damage.startswith("metrics"):  # repaired: the readable rows, without the damage
        rows = [json.loads(line)["step"] for line in open(os.path.join(run, "metrics.jsonl"))]
        assert rows == [5, 10, 15, 20]
        assert snapshot(holder)["config.json"] == before["config.json"]  # a complete run: not rewritten
    elif command in READERS:
        assert snapshot(holder) == before


def test_matrix_size():
    """The issue's closing note counts the cases; keep the count visible."""
    assert len(CASES) >= 100, len(CASES)


# -- resumes ------------------------------------------------------------------------------------------------
def test_train_falls_back_past_a_damaged_checkpoint_and_applies_changed_settings(bases, tmp_path, capsys):
    """Newest checkpoint damaged + a partial metrics line + a new learning rate: one warning naming step 20,
    resume from 15 with the new lr in the optimizer state and in config.json's changes; the damaged
    checkpoint is kept as checkpoints/20.damaged; metrics cut back to step 15 before training goes on."""
    from ganjax.inference import load_run

    run = tmp_path / "run"
    shutil.copytree(bases["dcgan"], run)
    _truncate_arrays(str(run), (20,))
    open(run / "metrics.jsonl", "a").write(PARTIAL)
    args = tiny_argv(run, "--config.train.ckpt_every=5", "--config.optim.g.lr=0.001",
                     "--config.train.steps_per_dispatch=1")
    assert main(args) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert any(line.startswith("ganjax: warning: checkpoint at step 20 ") and "is damaged" in line and
               "checkpoints/20.damaged" in line for line in lines), err
    assert "ganjax: resuming from step 15 of 20" in lines, err
    assert any("from step 15 on: optim.g.lr 0.0002 -> 0.001" in line for line in lines), err
    assert any("removed 1 row(s) after step 15" in line and "1 unreadable line(s)" in line for line in lines), err
    assert out.strip().splitlines()[-1] == f"report: {run}/report.html"
    assert (run / "checkpoints" / "20.damaged").is_dir() and (run / "checkpoints" / "20").is_dir()
    state = load_run(str(run)).state
    assert int(state.step) == 20
    lr = [s.hyperparams["learning_rate"] for s in resume._injected(state.opt_state["g"])]
    assert np.allclose(lr, 0.001) and np.allclose(
        [s.hyperparams["learning_rate"] for s in resume._injected(state.opt_state["d"])], 2e-4)
    cfg = json.load(open(run / "config.json"))
    assert cfg["optim"]["g"]["lr"] == 0.001
    assert {"step": 15, "key": "optim.g.lr", "from": 0.0002, "to": 0.001} in cfg["changes"]
    assert [json.loads(line)["step"] for line in open(run / "metrics.jsonl")] == [5, 10, 15, 20]
    # the same command again: nothing to do, and config.json is not rewritten
    before = snapshot(run)["config.json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "ganjax: already complete at step 20; raise --config.train.steps to continue" in err
    assert out.strip().splitlines() == [f"report: {run}/report.html"]
    assert snapshot(run)["config.json"] == before


def test_resume_messages_and_steps_changes(tmp_path):
    """train.steps grown: 'extending the run from 400 to 1 000 steps', recorded; shrunk below the run's
    step: 'already complete', config.json untouched."""
    cfg = config_lib.load(DCGAN, TINY + [("train.steps", "400")])
    wd.write_config(str(tmp_path), cfg, 0)
    said = []
    bigger = config_lib.load(DCGAN, TINY + [("train.steps", "1000")])
    assert resume.announce(str(tmp_path), bigger, 400, False, said.append)
    assert said == ["resuming from step 400 of 1 000", "extending the run from 400 to 1 000 steps"]
    saved = json.load(open(tmp_path / "config.json"))
    assert saved["train"]["steps"] == 1000
    assert saved["changes"] == [{"step": 400, "key": "train.steps", "from": 400, "to": 1000}]
    text, said = open(tmp_path / "config.json").read(), []
    smaller = config_lib.load(DCGAN, TINY + [("train.steps", "300")])
    assert not resume.announce(str(tmp_path), smaller, 400, False, said.append)
    assert said == ["already complete at step 400; raise --config.train.steps to continue"]
    assert open(tmp_path / "config.json").read() == text


def test_settings_kept_in_the_state_follow_the_config():
    """lr / b1 / b2 (injected) and state.hp (loss weights, EMA numbers) are replaced, dtypes kept."""
    old = recipes.build(config_lib.load(DCGAN, TINY))
    new = recipes.build(config_lib.load(DCGAN, TINY + [("optim.d.lr", "0.003"), ("optim.g.b1", "0.7"),
                                                       ("loss.r1_gamma", "2.5"), ("ema.kimg", "3.0")]))
    zeros = jax.tree_util.tree_map(lambda x: jnp.zeros(x.shape, x.dtype), jax.eval_shape(old.init_state, 0))
    state = resume.apply_settings(zeros, resume.settings_of(new))
    (g,), (d,) = resume._injected(state.opt_state["g"]), resume._injected(state.opt_state["d"])
    assert np.isclose(d.hyperparams["learning_rate"], 0.003) and np.isclose(g.hyperparams["b1"], 0.7)
    assert np.isclose(g.hyperparams["learning_rate"], 2e-4) and d.hyperparams["learning_rate"].dtype == jnp.float32
    assert np.isclose(state.hp["ema_kimg"], 3.0)
    assert all(np.isclose(state.hp[k], v) for k, v in new.hparams().items())


def test_fresh_start_leftovers_do_not_block_a_rerun(tmp_path):
    """A first start that failed before its first step (full disk: config.json.tmp, an empty samples/; the lock
    file) leaves a folder that the rerun accepts; anything else is still refused."""
    cfg = config_lib.load(DCGAN, TINY)
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "config.json.tmp").write_text('{"exp')
    (run / wd.LOCK).write_text("123\n")
    (run / "metrics.jsonl").write_text("")
    assert wd.check(str(run), cfg) == str(run)
    (run / "notes.txt").write_text("mine")
    with pytest.raises(wd.RunFolderError, match="is not empty and holds no ganjax run"):
        wd.check(str(run), cfg)


def test_keep_at_least_one(tmp_path, capsys):
    with pytest.raises(CheckpointError, match="keep must be at least 1"):
        Checkpoints(str(tmp_path / "c"), keep=0)
    assert main(tiny_argv(tmp_path / "r", "--config.train.keep=0")) == 2
    assert "train.keep" in capsys.readouterr().err and not (tmp_path / "r").exists()


# -- one process per run folder -----------------------------------------------------------------------------
def _wait_for_lock(path, proc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.isfile(path) and open(path).read().strip() == str(proc.pid):
            return True
        time.sleep(0.1)
    return False


def test_second_train_is_refused_and_a_killed_holder_does_not_block(bases, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(bases["dcgan"], run)
    first = subprocess.Popen([sys.executable, "-m", "ganjax"] + tiny_argv(
        run, "--config.train.ckpt_every=5", "--config.train.steps=100000", "--config.train.steps_per_dispatch=1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for_lock(run / wd.LOCK, first), first.stderr.read() if first.poll() is not None else "slow"
        assert main(tiny_argv(run, "--config.train.ckpt_every=5", "--config.optim.g.lr=0.01")) == 2
        err = capsys.readouterr().err
        assert err == (f"ganjax: error: {os.path.realpath(run)} is in use by another ganjax process (PID "
                       f"{first.pid}); wait for it to finish or stop it\n")
        assert json.load(open(run / "config.json"))["optim"]["g"]["lr"] != 0.01  # the refused one wrote nothing
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    with wd.locked(str(run)):  # the kernel released the killed holder's lock: a stale lock file blocks nothing
        assert open(run / wd.LOCK).read().strip() == str(os.getpid())


def test_sweep_on_a_member_in_use_is_refused(bases, tmp_path, capsys):
    spec, base = bases["sweep"]
    root = tmp_path / "sweep"
    shutil.copytree(base, root)
    member = root / "member_001"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(member / wd.LOCK)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nos.pwrite(fd, f'{os.getpid()}\\n'.encode(), 0)\n"
        "print('held', flush=True)\ntime.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = ["sweep", spec, "--workdir", str(root), "--quiet"] + [f"--config.{k}={v}" for k, v in TINY + EXTRA]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"ganjax: error: {os.path.realpath(member)} is in use by another ganjax process "
                              f"(PID {holder.pid})") and err.count("\n") == 1
    finally:
        holder.kill()
        holder.wait()


# -- full disks ---------------------------------------------------------------------------------------------
def test_disk_full_while_repairing_the_log_changes_nothing(bases, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(bases["dcgan"], run)
    open(run / "metrics.jsonl", "a").write(PARTIAL)
    before = snapshot(run)

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", path + ".tmp")
    monkeypatch.setattr(wd, "write_atomic", full)
    assert main(tiny_argv(run, "--config.train.ckpt_every=5")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"ganjax: error: No space left on device: {run}/metrics.jsonl.tmp", err
    assert snapshot(run) == before


def test_tensorstore_disk_full_is_one_line(tmp_path, monkeypatch):
    """Orbax raises tensorstore's RESOURCE_EXHAUSTED as ValueError: a checkpoint error naming the step and the
    intact checkpoints, and, should one reach the command line elsewhere, one line."""
    import orbax.checkpoint as ocp

    text = ('RESOURCE_EXHAUSTED: Error writing local file "/r/checkpoints/20.orbax-checkpoint-tmp/x": Failed to '
            'write 4659 bytes to file 15: No space left on device [os_error_code=\'28\']')
    ckpts = Checkpoints(str(tmp_path / "c"), keep=2)
    ckpts.save(5, {"w": jnp.ones(3)})
    ckpts.wait()

    def full(self, *a, **k):
        raise ValueError(text)
    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    with pytest.raises(CheckpointError, match=r"could not write the checkpoint of step 10 \(No space left on "
                                              r"device\); earlier checkpoints are intact: \[5\]"):
        ckpts.save(10, {"w": jnp.ones(3)})
    monkeypatch.undo()
    ckpts.close()
    assert known_failure(ValueError(text)).startswith("a write failed: No space left on device (RESOURCE_EXHAUSTED")
    assert known_failure(OSError(errno.EROFS, "Read-only file system", "/r/eval")) == "Read-only file system: /r/eval"
    assert known_failure(ValueError("a bug")) is None  # not an expected failure: its traceback stays
    oom = jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 400000000000 bytes.")
    assert known_failure(oom).startswith("out of memory on the device (RESOURCE_EXHAUSTED: Out of memory")
    assert known_failure(MemoryError()).startswith("out of host memory")


def test_real_full_disk_during_training_is_one_line(bases, tmp_path):
    """A real filesystem that fills up (a small tmpfs; root only): the checkpoint write fails, the command
    prints one line (no orbax / asyncio noise at exit), earlier checkpoints still restore."""
    from ganjax.inference import load_run

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    used = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(bases["dcgan"]) for f in fs)
    size_kb = used // 1024 + 600  # room for logs and pictures, not for one more checkpoint (~1.4 MB)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        run = disk / "run"
        shutil.copytree(bases["dcgan"], run)
        proc = subprocess.run([sys.executable, "-m", "ganjax"] + tiny_argv(
            run, "--config.train.ckpt_every=5", "--config.train.steps=30", "--config.train.steps_per_dispatch=1",
            "--config.train.tensorboard=false"), capture_output=True, text=True, timeout=300)
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, proc.stderr
        assert all(line.startswith("ganjax: ") for line in err), proc.stderr  # no traceback, no orbax noise
        assert [line for line in err if line.startswith("ganjax: error: ")] == err[-1:], proc.stderr
        assert "No space left on device" in err[-1], proc.stderr
        assert int(load_run(str(run)).state.step) >= 20  # the checkpoints written before are intact
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
