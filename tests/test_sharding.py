"""Data parallelism on 8 fake CPU devices: the sharded step computes what the one-device step computes.

JAX fixes its device count when it starts, and this pytest process has one CPU device, so the 8-device
parts run in subprocesses with XLA_FLAGS=--xla_force_host_platform_device_count=8 (tests/sharded_equivalence.py
prints its measurements as JSON).
"""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from ganjax.commands import main
from ganjax.inference import load_run
from tests.conftest import ROOT, tiny_argv

SCRIPT = os.path.join(ROOT, "tests", "sharded_equivalence.py")
CASES = ("dcgan", "dcgan_clusters", "dcgan64_batchnorm", "cyclegan", "pix2pix_batchnorm")
EIGHT = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip())


def run8(args, timeout=900):
    return subprocess.run([sys.executable, *args], env=EIGHT, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def equivalence():
    out = run8([SCRIPT, *CASES, "bn_control"])
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES)
def test_sharded_step_equals_single_device_step(equivalence, case):
    r = equivalence[case]
    assert r["mesh_devices"] == 8
    assert r["all_reduce_in_program"], "the batch was not split: no cross-device reduction in the program"
    assert r["state_replicated"]
    for side in ("g", "d"):
        # within rounding: a 1e-7 nudge of the parameters moves one device's gradient by floor_* (CycleGAN's
        # G amplifies rounding to ~4e-4 on this project's 2-core CPU; D's floor stays ~1e-6)
        key = f"grad_rel_error_{side}"
        assert r[key] < max(1e-5, 3 * r[f"floor_{side}"]), (key, r[key], r[f"floor_{side}"])
    for key in ("diff_metrics", "diff_model_state", "diff_extra"):
        assert r[key] < 1e-5, (key, r[key])


def test_batch_norm_statistics_stay_global(equivalence):
    # cyclegan's :runlocal has batch norm in D only (model.norm_d=batch), real and fake as separate batches
    for case in ("dcgan64_batchnorm", "pix2pix_batchnorm", "cyclegan"):
        assert equivalence[case]["batch_stats_moved"] > 0.1  # the step did update the running statistics
        assert equivalence[case]["diff_model_state"] < 1e-5
    # per-device statistics (shard_map) would be far off: the comparison above can tell them apart
    control = equivalence["bn_control"]
    assert control["bn_local_vs_global"] > 1e-2
    assert control["bn_sharded_vs_global"] < 1e-5


def test_eight_device_run_resumes_on_one_device(tmp_path, tiny_run):
    """`--config.mesh.data=-1` trains over all 8 devices; its checkpoint resumes on one device, and the
    result equals the run that used one device throughout."""
    run = tmp_path / "eight"
    out = run8(["-m", "ganjax"] + tiny_argv(run, "--config.mesh.data=-1", "--config.train.steps=10"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert sorted(os.listdir(run / "checkpoints")) == ["10"]
    assert main(tiny_argv(run)) == 0
    rows = [json.loads(line)["step"] for line in open(run / "metrics.jsonl")]
    assert rows == [5, 10, 15, 20]
    ours, ref = (jax.tree_util.tree_leaves(load_run(r)[2].params) for r in (run, tiny_run))
    assert max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(ours, ref)) < 1e-5


def test_more_devices_than_exist_is_one_line(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(tiny_argv(run, "--config.mesh.data=4")) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("ganjax: error: config key 'mesh.data' asks for 4 devices but 1 cpu device exists; "
                   "use -1 for all devices")
    assert not run.exists()


def test_global_batch_not_divisible_is_one_line(tmp_path):
    run = tmp_path / "r"
    out = run8(["-m", "ganjax"] + tiny_argv(run, "--config.mesh.data=-1", "--config.train.batch_size=12"),
               timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "ganjax: error: config key 'train.batch_size' (the global batch) is 12, not divisible by the 8 devices "
        "of mesh.data; use a multiple of 8")
    assert not run.exists()
