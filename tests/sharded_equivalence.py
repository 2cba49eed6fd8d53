"""Run by tests/test_sharding.py in a subprocess with 8 fake CPU devices (XLA_FLAGS must be set before
JAX starts): one train step of each case on one device and data-parallel over the 8-device mesh; prints
one JSON object of their differences (see run_case) and of a batch-norm control.

  XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/sharded_equivalence.py dcgan cyclegan bn_control
"""
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ganjax import config, parallel, recipes  # noqa: E402
from ganjax.train.steps import compile_multi_step  # noqa: E402

EXP = os.path.join(ROOT, "experiments")
SMALL_DCGAN = [("model.g_width", "16"), ("model.d_width", "16"), ("train.batch_size", "16"), ("data.limit", "400")]
CASES = {  # name: (experiment file, overrides); batches divisible by 8
    "dcgan": ("dcgan_mnist.py", SMALL_DCGAN),
    # self-conditioning: each real image's k-means cluster (device data) picked by the batch's indices, and the
    # projection D's class embedding, with R1 on the real half
    "dcgan_clusters": ("dcgan_mnist.py", SMALL_DCGAN + [("model.clusters", "4"), ("loss.r1_gamma", "1")]),
    # Radford et al.'s 64x64 DCGAN has batch norm in G and D (conv_transpose: the only upsampling whose
    # output is 64x64 with its 4x4 kernels at the time of writing)
    "dcgan64_batchnorm": ("dcgan_mnist.py", [("model.arch", "dcgan64"), ("model.image_size", "64"),
                                              ("model.upsample", "conv_transpose"), ("model.g_width", "8"),
                                              ("model.d_width", "8"), ("train.batch_size", "16"),
                                              ("data.limit", "200")]),
    "cyclegan": ("cyclegan.py:runlocal", [("model.ngf", "8"), ("model.ndf", "8"), ("train.batch_size", "8"),
                                          ("data.max_images", "32"), ("model.pool_size", "4")]),
    "pix2pix_batchnorm": ("pix2pix.py:runlocal", [("model.ngf", "8"), ("model.ndf", "8"),
                                                  ("train.batch_size", "8"), ("data.max_images", "32")]),
}
STEPS = 1


def max_diff(a, b) -> float:
    """Elementwise max |a - b| / max(1, |b|) over all leaves (absolute for values up to 1)."""
    diffs = [float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))
                          / np.maximum(1.0, np.abs(np.asarray(y, np.float64)))))
             for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)) if np.size(x)]
    return max(diffs, default=0.0)


def relative_error(a, b) -> float:
    """‖a − b‖ / ‖b‖ over a whole tree (one side's gradient)."""
    diff = jax.tree_util.tree_map(lambda x, y: np.asarray(x, np.float64) - np.asarray(y, np.float64), a, b)
    return float(optax.tree.norm(diff) / optax.tree.norm(b))


def gradient_recorder() -> optax.GradientTransformation:
    """An "optimizer" whose state is the last gradient and which leaves the parameters where they are."""
    return optax.GradientTransformation(
        lambda params: jax.tree_util.tree_map(jnp.zeros_like, params),
        lambda grads, state, params=None: (jax.tree_util.tree_map(jnp.zeros_like, grads), grads))


def run_case(name: str) -> dict:
    """One train step on one device and on the 8-device mesh, compared: each side's gradient, the
    metrics, batch-norm statistics, recipe state (image pools).

    The parameters are held still (gradient_recorder): the optimizer's update is the same elementwise
    code on replicated values either way, and a real update lets the GAN's dynamics amplify rounding
    (Adam's first update lr·g/(|g|+eps) alone turns rounding-level differences of near-zero gradients
    into ±lr). `floor_*` is, for scale, how far one device's gradient moves when the parameters are
    multiplied by 1 + 1e-7·N(0, 1) (rounding-level; ReLU kinks and normalisations amplify it)."""
    spec, overrides = CASES[name]
    cfg = config.load(os.path.join(EXP, spec), overrides + [("mesh.data", "-1")])
    recipe = recipes.build(cfg)
    txs = {side: gradient_recorder() for side in ("g", "d")}
    init = recipe.init_state(cfg.seed)
    init = jax.device_get(init.replace(opt_state={side: txs[side].init(init.params[side]) for side in txs}))
    host_data = recipe.device_data()
    out = {}
    t0 = time.perf_counter()
    single = compile_multi_step(recipe, txs, STEPS, "scan")
    s1, m1 = single(jax.device_put(init), jax.device_put(host_data))
    out["single_s"] = round(time.perf_counter() - t0, 1)
    leaves, treedef = jax.tree_util.tree_flatten(init.params)
    noise = np.random.default_rng(0)
    nudged = [x * (1 + 1e-7 * noise.standard_normal(x.shape)).astype(x.dtype) for x in leaves]
    s_nudged, _ = single(jax.device_put(init.replace(params=jax.tree_util.tree_unflatten(treedef, nudged))),
                         jax.device_put(host_data))

    t0 = time.perf_counter()
    mesh = parallel.make_mesh(cfg)
    sharded = compile_multi_step(recipe, txs, STEPS, "scan", mesh=mesh)
    state, data = parallel.replicate(init, mesh), parallel.replicate(host_data, mesh)
    compiled = sharded.lower(state, data).compile()
    hlo = compiled.as_text()
    s8, m8 = compiled(state, data)
    out["sharded_s"] = round(time.perf_counter() - t0, 1)
    out["mesh_devices"] = int(mesh.devices.size)
    out["all_reduce_in_program"] = "all-reduce" in hlo
    out["state_replicated"] = all(x.sharding.is_fully_replicated and len(x.sharding.device_set) == mesh.devices.size
                                  for x in jax.tree_util.tree_leaves(s8))
    for side in ("g", "d"):
        out[f"grad_rel_error_{side}"] = relative_error(s8.opt_state[side], s1.opt_state[side])
        out[f"floor_{side}"] = relative_error(s_nudged.opt_state[side], s1.opt_state[side])
    for part in ("model_state", "extra"):
        out[f"diff_{part}"] = max_diff(getattr(s8, part), getattr(s1, part))
    out["diff_metrics"] = max_diff(m8, m1)
    if init.model_state:  # batch norm running statistics
        out["batch_stats_moved"] = max_diff(s1.model_state, init.model_state)
    return out


def local_vs_global_batch_norm() -> dict:
    """Negative control: batch norm run per device (shard_map, each device its slice's statistics) differs
    from the global statistics that the sharded step must (and does) reproduce."""
    from ganjax.models.dcgan import Discriminator64
    mesh = jax.sharding.Mesh(np.array(jax.devices()), (parallel.AXIS,))
    d = Discriminator64(width=8)
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 64, 64, 1)) * jnp.linspace(0.2, 3.0, 16)[:, None, None, None]
    variables = d.init(jax.random.PRNGKey(1), x[:2], train=False)
    apply = lambda xs: d.apply(variables, xs, train=True, mutable=["batch_stats"])[0]
    glob = jax.jit(apply)(x)
    local = jax.jit(jax.shard_map(apply, mesh=mesh, in_specs=PartitionSpec(parallel.AXIS),
                                  out_specs=PartitionSpec(parallel.AXIS)))(x)
    sharded = jax.jit(apply, in_shardings=parallel.batch_sharding(mesh))(x)
    return {"bn_local_vs_global": max_diff(local, glob), "bn_sharded_vs_global": max_diff(sharded, glob)}


if __name__ == "__main__":
    results = {name: run_case(name) for name in sys.argv[1:] if name in CASES}
    if "bn_control" in sys.argv[1:]:
        results["bn_control"] = local_vs_global_batch_norm()
    print(json.dumps(results))
