"""The member axis of a sweep sharded over 8 (fake CPU) devices trains the same members as one device.

XLA_FLAGS must be set before JAX starts, so the work runs in a subprocess: this file run as a script
(`XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/test_sweep_devices.py OUT`) trains the
same 8-member sweep with --devices 8 and on one device and writes per-member differences to OUT as JSON.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LRS = (1e-4, 2e-4, 4e-4, 8e-4)


def _script(out: str) -> None:
    sys.path.insert(0, ROOT)
    import jax
    import jax.numpy as jnp
    import numpy as np
    from ganjax import config, recipes
    from ganjax.commands import main
    from ganjax.inference import load_run
    from ganjax.sweep.runner import compile_program, place, stack, unstack
    from tests.conftest import DCGAN, TINY
    from tests.test_sweep import agreement, numbers

    tmp = os.path.dirname(out)
    members = [{"seed": i, "optim.g.lr": LRS[i % 4], "optim.d.b1": 0.5 + 0.05 * i} for i in range(8)]
    result = {"devices": len(jax.devices())}
    flat = lambda tree: np.concatenate([np.asarray(x, np.float64).ravel() for x in jax.tree_util.tree_leaves(tree)])

    # 1. The program: 6 steps on one device; at each, the same stacked state one step on 8 devices.
    cfgs = [config.load(DCGAN, TINY + [(k, str(v)) for k, v in m.items()]) for m in members]
    rs = [recipes.build(c) for c in cfgs]
    one, eight = jax.devices()[:1], jax.devices()[:8]
    data = rs[0].device_data()
    state = stack([r.init_state(c.seed) for r, c in zip(rs, cfgs)])
    alive, failed_at = np.ones(8, bool), np.zeros(8, np.int32)
    p1 = compile_program(rs[0], rs[0].optimizers(), 1, one)
    p8 = compile_program(rs[0], rs[0].optimizers(), 1, eight)
    steps = []
    for _ in range(6):
        a = jax.device_get(p8(place(state, eight), place(alive, eight), place(failed_at, eight),
                              place(data, eight, split=False))[0])
        state = jax.device_get(p1(place(state, one), jnp.asarray(alive), jnp.asarray(failed_at),
                                  place(data, one))[0])
        mine, ref = [unstack(a, i) for i in range(8)], [unstack(state, i) for i in range(8)]
        steps.append({"agreement": min(agreement(x, y) for x, y in zip(mine, ref)),
                      "max": max(float(np.abs(flat(x.params) - flat(y.params)).max()) for x, y in zip(mine, ref)),
                      "numbers_equal": all(numbers(x) == numbers(y) for x, y in zip(mine, ref))})
    result["steps"] = steps
    result["other_member_median"] = float(np.median(np.abs(flat(jax.tree_util.tree_map(lambda x: x[0], state.params))
                                                        - flat(jax.tree_util.tree_map(lambda x: x[1], state.params)))))

    # 2. The command: 6 members over 8 devices (padded with 2 frozen rows), then one device.
    spec = os.path.join(tmp, "s.py")
    with open(spec, "w") as f:
        f.write(f"from ganjax.config import load_module\nget_config = load_module({DCGAN!r}).get_config\n"
                f"def sweep(add):\n    for m in {members[:6]!r}:\n        add(**m)\n")
    ov = [f"--config.{k}={v}" for k, v in TINY] + ["--config.train.steps=5", "--config.train.ckpt_every=5"]
    result["too_many"] = main(["sweep", spec, "--workdir", os.path.join(tmp, "x"), "--devices", "9"] + ov)
    for name, extra in (("sharded", ["--devices", "8"]), ("one", [])):
        assert main(["sweep", spec, "--workdir", os.path.join(tmp, name), "--quiet"] + extra + ov) == 0
    runs = []
    for i in range(6):
        a, b = (load_run(os.path.join(tmp, w, f"member_{i:03d}"))[2] for w in ("sharded", "one"))
        runs.append({"step": int(a.step), "max": float(np.abs(flat(a.params) - flat(b.params)).max())})
    result["runs"] = runs
    with open(out, "w") as f:
        json.dump(result, f)


def test_member_axis_sharded_over_8_devices(tmp_path):
    """8 members split over 8 devices (one each) vs vmapped together on one device.

    Each step from the same state: the members' numbers equal, every weight and optimizer moment to 1e-5
    of its array's scale and every weight to 1e-5. End to end through `ganjax sweep --devices 8` with 6
    members (2 padding rows): after 5 steps every weight of every member to 1e-5, while two members
    differ by a median 8e-2."""
    out = tmp_path / "result.json"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), str(out)], env=env, capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["devices"] == 8
    assert result["too_many"] == 2 and "--devices 9 asked, but only 8 cpu device(s) exist" in proc.stderr
    for s in result["steps"]:
        assert s["numbers_equal"] and s["agreement"] == 1.0 and s["max"] <= 1e-5, result["steps"]
    assert result["other_member_median"] > 1e-2
    assert all(r["step"] == 5 and r["max"] <= 1e-5 for r in result["runs"]), result["runs"]


if __name__ == "__main__":
    _script(sys.argv[1])
