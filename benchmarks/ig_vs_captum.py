"""Integrated gradients on the article's DCGAN discriminator: ganjax vs a Python loop vs Captum.

D = Conv(128, k5, s2, pad 2) → leaky_relu(0.2) → Conv(128, k5, s2, pad 2) → leaky_relu(0.2) → Flatten →
Dense(1), weights and biases N(0, 0.02).  Explicit (2, 2) padding makes the PyTorch twin (padding=2)
compute the same function; the twin permutes NCHW → NHWC before flattening so the dense weights line
up.  Each implementation attributes the D logit of a batch of 28×28×1 images (real MNIST test images
from ``--mnist`` when present, else uniform noise) against a zero baseline, with Gauss–Legendre
quadrature.  Compilation / warm-up is excluded; the implementations are timed in turn (interleaved,
so load on a shared machine hits all alike) ``--repeats`` times; medians and minima are reported with
the max relative attribution difference ``max|a − a_ref| / max|a_ref|`` against the first ganjax row.

    python benchmarks/ig_vs_captum.py [--batch 64] [--steps 50] [--repeats 5] [--chunks none,1] [--out FILE]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import time

import jax

jax.config.update("jax_default_matmul_precision", "highest")

import flax.linen as nn  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from ganjax.interpret.integrated_gradients import make_integrated_gradients, path_nodes  # noqa: E402

PAD = ((2, 2), (2, 2))


class ArticleD(nn.Module):
    """The article's discriminator (fixed: no final sigmoid, explicit PyTorch-style padding)."""

    @nn.compact
    def __call__(self, x):
        x = nn.leaky_relu(nn.Conv(128, (5, 5), (2, 2), padding=PAD)(x), 0.2)
        x = nn.leaky_relu(nn.Conv(128, (5, 5), (2, 2), padding=PAD)(x), 0.2)
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


def random_params(seed: int = 0) -> dict:
    """ArticleD parameters with every kernel and bias drawn from N(0, 0.02)."""
    shapes = jax.eval_shape(ArticleD().init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
    leaves, tree = jax.tree_util.tree_flatten(shapes)
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_unflatten(
        tree, [jnp.asarray(rng.normal(0.0, 0.02, s.shape), jnp.float32) for s in leaves])


def load_images(path: str, n: int) -> tuple[np.ndarray, str]:
    """First ``n`` MNIST test images in [−1, 1] (NHWC), or uniform noise when the file is missing."""
    f = os.path.join(path, "t10k-images-idx3-ubyte.gz")
    if os.path.exists(f):
        with gzip.open(f, "rb") as fh:
            raw = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)[:n]
        return raw.astype(np.float32) / 127.5 - 1.0, "mnist-t10k"
    return np.random.default_rng(1).uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32), "uniform-noise"


def timed_round_robin(fns: dict, repeats: int) -> dict:
    """Warm each function up once, then time them in turn ``repeats`` times (interleaved, so a
    load change on a shared machine hits every implementation alike).  Returns name → (times, out)."""
    outs = {name: np.asarray(fn()) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            outs[name] = np.asarray(fn())
            times[name].append(time.perf_counter() - t0)
    return {name: (times[name], outs[name]) for name in fns}


def bench_ganjax(params, x, steps, chunk):
    f = lambda z, p: ArticleD().apply(p, z)  # noqa: E731
    ig = make_integrated_gradients(f, n_steps=steps, method="gausslegendre", batch_size=chunk)
    base = jnp.zeros_like(x)
    return lambda: jax.block_until_ready(ig(x, base, params)[0])


def bench_loop(params, x, steps):
    """The straightforward version: one jitted gradient call per path point, summed in Python."""
    grad = jax.jit(jax.grad(lambda z, p: jnp.sum(ArticleD().apply(p, z))))
    alphas, weights = path_nodes("gausslegendre", steps)

    def run():
        total = jnp.zeros_like(x)
        for a, w in zip(alphas, weights):
            total = total + float(w) * grad(float(a) * x, params)
        return jax.block_until_ready(x * total)

    return run


def bench_captum(params, x, steps):
    """Captum IntegratedGradients on a PyTorch twin with the same weights; None when unavailable."""
    try:
        import torch
        from captum.attr import IntegratedGradients
    except Exception as e:  # noqa: BLE001 - any import failure means "skip"
        print(f"[skip] torch/captum unavailable ({type(e).__name__}: {e})")
        return None, None
    p = jax.tree_util.tree_map(np.asarray, params)["params"]

    class TwinD(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c0 = torch.nn.Conv2d(1, 128, 5, 2, 2)
            self.c1 = torch.nn.Conv2d(128, 128, 5, 2, 2)
            self.fc = torch.nn.Linear(7 * 7 * 128, 1)
            self.act = torch.nn.LeakyReLU(0.2)

        def forward(self, z):
            h = self.act(self.c1(self.act(self.c0(z))))
            return self.fc(h.permute(0, 2, 3, 1).flatten(1))[:, 0]  # NHWC flatten order

    twin = TwinD().eval()
    with torch.no_grad():
        for mod, name in ((twin.c0, "Conv_0"), (twin.c1, "Conv_1")):
            mod.weight.copy_(torch.from_numpy(p[name]["kernel"].transpose(3, 2, 0, 1).copy()))
            mod.bias.copy_(torch.from_numpy(p[name]["bias"].copy()))
        twin.fc.weight.copy_(torch.from_numpy(p["Dense_0"]["kernel"].T.copy()))
        twin.fc.bias.copy_(torch.from_numpy(p["Dense_0"]["bias"].copy()))
    xt = torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        logit_diff = float(np.max(np.abs(twin(xt).numpy() - np.asarray(ArticleD().apply(params, x)))))
    ig = IntegratedGradients(twin)

    def run():
        a = ig.attribute(xt, baselines=torch.zeros_like(xt), n_steps=steps, method="gausslegendre")
        return a.detach().numpy().transpose(0, 2, 3, 1)

    info = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "twin_max_logit_diff": logit_diff}
    return run, info


def rel_diff(a, ref) -> float:
    return float(np.max(np.abs(a - ref)) / max(np.max(np.abs(ref)), 1e-30))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunks", default="none,1",
                    help="comma-separated ganjax batch_size values (path points per chunk; none = all)")
    ap.add_argument("--mnist", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                                    "data", "mnist"))
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "ig.jsonl"))
    args = ap.parse_args(argv)

    params = random_params()
    x_np, source = load_images(args.mnist, args.batch)
    x = jnp.asarray(x_np)
    dev = jax.devices()[0]
    common = {"bench": "ig_vs_captum", "batch": args.batch, "steps": args.steps,
              "method": "gausslegendre", "repeats": args.repeats, "data": source,
              "jax": jax.__version__, "device": f"{dev.platform}:{dev.device_kind}",
              "host": platform.node(), "cpus": os.cpu_count(), "time": time.strftime("%FT%T")}

    fns, extras = {}, {}
    for c in args.chunks.split(","):
        chunk = None if c.strip().lower() == "none" else int(c)
        label = f"ganjax vmap all {args.steps}" if chunk is None else f"ganjax batch_size={chunk}"
        fns[label], extras[label] = bench_ganjax(params, x, args.steps, chunk), {"chunk": chunk}
    ref_name = next(iter(fns))
    fns["python loop (jit grad/step)"], extras["python loop (jit grad/step)"] = \
        bench_loop(params, x, args.steps), {}
    if not args.no_torch:
        run, info = bench_captum(params, x, args.steps)
        if run is not None:
            fns["captum"], extras["captum"] = run, info
    timed = timed_round_robin(fns, args.repeats)
    results = {k: (t, out, extras[k]) for k, (t, out) in timed.items()}
    ref = results[ref_name][1]

    med = {k: statistics.median(v[0]) for k, v in results.items()}
    rows = []
    for name, (times, attr, extra) in results.items():
        rows.append({**common, "impl": name, "median_s": med[name], "min_s": min(times),
                     "times_s": times,
                     "img_per_s": args.batch / med[name],
                     "speedup_vs_loop": med["python loop (jit grad/step)"] / med[name],
                     "speedup_vs_captum": med["captum"] / med[name] if "captum" in med else None,
                     "max_rel_diff_vs_ref": rel_diff(attr, ref), "ref": ref_name, **extra})

    print(f"\nIG, {args.batch} × 28×28×1, {args.steps} Gauss–Legendre steps, {common['device']}, "
          f"data={source}, median of {args.repeats}")
    print(f"{'implementation':30s} {'median s':>9s} {'min s':>7s} {'img/s':>7s} {'vs loop':>8s} {'vs captum':>10s} "
          f"{'max rel diff':>13s}")
    for r in rows:
        vc = f"{r['speedup_vs_captum']:10.2f}" if r["speedup_vs_captum"] is not None else f"{'-':>10s}"
        print(f"{r['impl']:30s} {r['median_s']:9.3f} {r['min_s']:7.3f} {r['img_per_s']:7.1f} {r['speedup_vs_loop']:8.2f} "
              f"{vc} {r['max_rel_diff_vs_ref']:13.2e}")
    print(f"(vs X = X's time / this row's time, > 1: this row is faster; max rel diff = "
          f"max|a - a_ref| / max|a_ref| against '{ref_name}')")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "a") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    print(f"appended {len(rows)} lines to {args.out}")
    return rows


if __name__ == "__main__":
    main()
