"""A multi-host job on this machine: two CPU processes that talk over loopback (gloo) train one run together,
checkpoint it, and resume it; the result equals the one-device run."""
import json
import os
import socket
import subprocess
import sys
import time

import jax
import numpy as np

from ganjax.commands import main
from ganjax.inference import load_run
from tests.conftest import ROOT, tiny_argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two(run, cache, *extra, timeout=600):
    """`ganjax train` as process 0 and 1 of one job; [(returncode, stdout, stderr)] of both."""
    port = free_port()
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    procs = [subprocess.Popen([sys.executable, "-m", "ganjax"]
                              + tiny_argv(run, "--config.mesh.data=-1", *extra)
                              + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    deadline = time.time() + timeout
    while time.time() < deadline and any(p.poll() is None for p in procs):
        if any(p.poll() not in (None, 0) for p in procs):  # one failed: the other would wait for it
            break
        time.sleep(0.2)
    for p in procs:
        if p.poll() is None:
            p.kill()
    return [(p.wait(), *p.communicate()) for p in procs]


def test_two_processes_train_checkpoint_and_resume(tmp_path, tiny_run):
    run, cache = tmp_path / "two", tmp_path / "jax_cache"
    results = launch_two(run, cache, "--config.train.steps=10")
    assert [r[0] for r in results] == [0, 0], "\n".join(r[2][-3000:] for r in results)
    assert sorted(os.listdir(run / "checkpoints")) == ["10"]
    assert [json.loads(line)["step"] for line in open(run / "metrics.jsonl")] == [5, 10]  # one writer

    results = launch_two(run, cache)  # the same command again: both processes resume from step 10
    assert [r[0] for r in results] == [0, 0], "\n".join(r[2][-3000:] for r in results)
    assert "final:" in results[0][1] and "final:" not in results[1][1]  # only process 0 reports
    assert sorted(os.listdir(run / "checkpoints")) == ["10", "20"]
    assert [json.loads(line)["step"] for line in open(run / "metrics.jsonl")] == [5, 10, 15, 20]
    assert sorted(os.listdir(run / "samples")) == ["real.png", "step_000010.png", "step_000020.png"]
    ours, ref = (jax.tree_util.tree_leaves(load_run(r)[2].params) for r in (run, tiny_run))
    assert max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(ours, ref)) < 1e-5


def test_incomplete_process_flags_are_one_line(tmp_path, capsys):
    assert main(tiny_argv(tmp_path / "r", "--coordinator", "127.0.0.1:1234")) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("ganjax: error: a multi-process job needs --coordinator HOST:PORT, --num-processes N and "
                   "--process-id I together (or --distributed to read them from the cluster)")
    assert not (tmp_path / "r").exists()
