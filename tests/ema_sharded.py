"""Run by tests/test_ema.py in a subprocess with 8 fake CPU devices (XLA_FLAGS set before JAX starts): the
generator EMA in the data-parallel step (dcgan64: batch norm in G). Prints one JSON object.

  XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/ema_sharded.py

(1) Parameters held still (an optimizer that does not move them, as tests/sharded_equivalence.py explains)
and the EMA started away from them: one step on one device and over the 8-device mesh give the same EMA
(lerped params, copied batch-norm statistics computed over the global batch). (2) Two real Adam steps over
the mesh: the EMA is p_new + (e_old − p_new)·beta from the run's own states, its statistics G's.
"""
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ganjax import config, parallel, recipes  # noqa: E402
from ganjax.train import ema as ema_lib  # noqa: E402
from ganjax.train.steps import compile_multi_step  # noqa: E402

OVERRIDES = [("model.arch", "dcgan64"), ("model.image_size", "32"), ("model.upsample", "conv_transpose"),
             ("model.g_width", "4"), ("model.d_width", "4"), ("train.batch_size", "16"), ("data.limit", "64"),
             ("ema.kimg", "0.05"), ("ema.rampup", "0"), ("mesh.data", "-1")]


def max_diff(a, b) -> float:
    return max((float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
                for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)) if np.size(x)),
               default=0.0)


def still() -> optax.GradientTransformation:
    return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                        lambda g, s, p=None: (jax.tree_util.tree_map(jnp.zeros_like, g), s))


def main() -> dict:
    cfg = config.load(os.path.join(ROOT, "experiments", "dcgan_mnist.py"), OVERRIDES)
    recipe = recipes.build(cfg)
    mesh = parallel.make_mesh(cfg)
    host_data = recipe.device_data()
    out = {"mesh_devices": int(mesh.devices.size)}

    txs = {side: still() for side in ("g", "d")}
    init = recipe.init_state(cfg.seed)
    init = jax.device_get(init.replace(
        opt_state={side: txs[side].init(init.params[side]) for side in txs},
        ema={**init.ema, "params": jax.tree_util.tree_map(lambda p: 0.5 * p + 0.01, init.params["g"])}))
    s1, _ = compile_multi_step(recipe, txs, 1, "scan")(jax.device_put(init), jax.device_put(host_data))
    sharded = compile_multi_step(recipe, txs, 1, "scan", mesh=mesh)
    state, data = parallel.replicate(init, mesh), parallel.replicate(host_data, mesh)
    compiled = sharded.lower(state, data).compile()
    out["all_reduce_in_program"] = "all-reduce" in compiled.as_text()
    s8, _ = compiled(state, data)
    out["state_replicated"] = all(x.sharding.is_fully_replicated and len(x.sharding.device_set) == 8
                                  for x in jax.tree_util.tree_leaves(s8))
    out["ema_moved"] = max_diff(s1.ema["params"], init.ema["params"])
    out["bn_moved"] = max_diff(s1.ema["model_state"], init.ema["model_state"])
    out["diff_ema_params"] = max_diff(s8.ema["params"], s1.ema["params"])
    out["diff_ema_model_state"] = max_diff(s8.ema["model_state"], s1.ema["model_state"])

    txs = recipe.optimizers()
    fn = compile_multi_step(recipe, txs, 1, "scan", mesh=mesh)
    state = parallel.replicate(recipe.init_state(cfg.seed), mesh)
    consistency, bn_same = 0.0, True
    for _ in range(2):
        old_ema, step = jax.device_get(state.ema), int(state.step)
        state, _ = fn(state, data)
        new = jax.device_get(state)
        b = float(ema_lib.beta(new.hp, step, cfg.train.batch_size))
        expect = jax.tree_util.tree_map(lambda p, e: p + (e - p) * np.float32(b), new.params["g"], old_ema["params"])
        consistency = max(consistency, max_diff(new.ema["params"], expect))
        bn_same &= max_diff(new.ema["model_state"]["g"], new.model_state["g"]) == 0.0
    out["ema_self_consistency"] = consistency
    out["ema_bn_is_model_state"] = bool(bn_same)
    out["trained_ema_norm"] = float(optax.tree.norm(jax.device_get(state.ema["params"])))
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
