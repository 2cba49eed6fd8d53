"""What limits the `:runlocal` models on the built-in tasks: the numbers behind docs/quality.md's analysis.

    python benchmarks/builtin_task_analysis.py paired                   # tone: the runlocal U-Net trained WITH pairs
    python benchmarks/builtin_task_analysis.py errors runs/tone [STEP]  # tone: where a run's errors come from
    python benchmarks/builtin_task_analysis.py domains                  # tone: toned train A against train B
    python benchmarks/builtin_task_analysis.py gamma                    # tone: the sepia matrix at other gammas
    python benchmarks/builtin_task_analysis.py chroma runs/colorize     # colorize: PSNR with the chroma scaled

`paired` trains the `:runlocal` generator (U-Net, ngf 16, subpixel, instance norm, Adam 2e-3 / 0.5) for the
same 2 200 steps at batch 4, but on (A, tone(A)) pairs with an L1 loss: the PSNR that this network and
this many steps can reach when the mapping is given, an upper bound for the unpaired run.

`errors` translates the test set with a run's EMA generator (`--raw`: the raw one) and splits its error:
PSNR as `ganjax eval` computes it; with each image's mean error removed (what a right per-image brightness
would give); after a global per-channel look-up table from output to truth fitted on the test set (what a
right tone curve of the same generator would give); the mean error by truth level; and the quantiles of
the generator's output on training A next to train B's (does the GAN match B's distribution?).

`gamma` needs no model: the PSNR against the truth of the task's sepia matrix with gamma 1 (none), 0.9 and
0.85 instead of its 0.8 (how far a curve error costs), and how much brighter tone(b) is than b on train B
(what the identity term, which asks G_A(b) = b, pulls against).

`chroma` scales a colorize run's predicted chroma (YCbCr) by 0 (the gray input), 0.5, 0.75, 1 and 1.25 and
prints the PSNR of each, beside two references that need no model: each test image's luma with its own mean
chroma (an oracle that knows each image's colour cast but no detail) and the training set's median chroma
for each luma level.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

QUANTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


def mean_psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-image PSNR of arrays on the 0..255 scale, as `ganjax eval` computes and caps it."""
    from ganjax.evaluation.translation import PSNR_CAP
    from ganjax.metrics.image import psnr

    scale = lambda x: np.asarray(x, np.float32) / 127.5 - 1.0
    return float(np.mean(np.minimum(np.asarray(psnr(scale(pred), scale(truth))), PSNR_CAP)))


def quantile_row(name: str, images: np.ndarray) -> str:
    values = np.percentile(np.asarray(images, np.float64).mean(-1), QUANTILES)
    return f"{name:14s}" + " ".join(f"{v:5.0f}" for v in values)


def paired(steps: int, seed: int) -> None:
    import jax
    import jax.numpy as jnp
    import optax

    from ganjax.data.builtin_tasks import load_builtin, tone_transform
    from ganjax.models.unet import UnetGenerator

    data = load_builtin("tone", 32)
    to_float = lambda u8: u8.astype(np.float32) / 127.5 - 1.0
    x, y = to_float(data.train_a), to_float(tone_transform(data.train_a))
    net = UnetGenerator(out_channels=3, num_downs=5, ngf=16, norm="instance", use_dropout=False,
                        upsample="subpixel")
    params = net.init(jax.random.key(seed), jnp.zeros((1, 32, 32, 3)))["params"]
    tx = optax.adam(2e-3, 0.5, 0.999)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean(jnp.abs(net.apply({"params": p}, xb) - yb)))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng, start = np.random.RandomState(seed), time.time()
    for _ in range(steps):
        idx = rng.randint(0, len(x), 4)
        params, opt_state, _ = step(params, opt_state, x[idx], y[idx])
    out = np.concatenate([np.asarray(net.apply({"params": params}, to_float(data.test_a[i:i + 256])))
                          for i in range(0, len(data.test_a), 256)])
    pred = np.clip(np.round((out + 1.0) * 127.5), 0, 255)
    print(f"paired L1, {steps} steps at batch 4: test PSNR {mean_psnr(pred, data.test_b_truth):.2f} dB "
          f"(identity {mean_psnr(data.test_a, data.test_b_truth):.2f}) in {time.time() - start:.0f} s")


def errors(run: str, step: int | None, raw: bool) -> None:
    from ganjax.data.builtin_tasks import tone_transform
    from ganjax.evaluation.translation import ground_truth, translate_test
    from ganjax.inference import load_run

    _, recipe, state = load_run(run, step, not raw)
    ds = recipe.dataset
    translate = recipe.translator("AtoB")
    fake = translate_test(translate, state, ds.test_a, recipe.crop).astype(np.float64)
    truth = ground_truth(ds).astype(np.float64)
    err = fake - truth
    fitted = np.empty_like(fake)
    for c in range(3):  # a global look-up table from output value to mean truth value, per channel
        f, t = fake[..., c].astype(int).ravel(), truth[..., c].ravel()
        table = np.array([t[f == v].mean() if (f == v).any() else v for v in range(256)])
        fitted[..., c] = table[fake[..., c].astype(int)]
    print(f"{run} at step {int(state.step)} ({'raw' if raw else 'EMA'} generator)")
    print(f"  PSNR {mean_psnr(fake, truth):.2f} dB; each image's mean error removed "
          f"{mean_psnr(err - err.mean((1, 2, 3), keepdims=True) + truth, truth):.2f}; "
          f"after a global tone curve fitted on test {mean_psnr(fitted, truth):.2f}")
    level = truth.mean(-1)
    bias = [f"{lo}-{lo + 32}: {err.mean(-1)[(level >= lo) & (level < lo + 32)].mean():+.1f}"
            for lo in range(0, 256, 32) if ((level >= lo) & (level < lo + 32)).any()]
    print("  mean error by truth level:", ", ".join(bias))
    train_a = ds.train_a
    g_train = translate_test(translate, state, train_a, recipe.crop)
    print("  quantiles of brightness", ", ".join(f"{q}%" for q in QUANTILES))
    for name, images in (("G(train A)", g_train), ("tone(train A)", tone_transform(train_a)),
                         ("train B", ds.train_b)):
        print("  " + quantile_row(name, images))


def from_ycc(ycc: np.ndarray) -> np.ndarray:
    """0..255 luma / chroma (ganjax's YCbCr without offsets) → RGB rounded and clipped as a saved PNG."""
    from ganjax.recipes.translation_base import YCC_INV

    return np.clip(np.round(ycc @ YCC_INV.T), 0, 255)


def chroma(run: str, step: int | None, raw: bool) -> None:
    from ganjax.evaluation.translation import ground_truth, translate_test
    from ganjax.inference import load_run
    from ganjax.recipes.translation_base import YCC

    _, recipe, state = load_run(run, step, not raw)
    ds = recipe.dataset
    truth = ground_truth(ds).astype(np.float64)
    fake = translate_test(recipe.translator("AtoB"), state, ds.test_a, recipe.crop).astype(np.float64) @ YCC.T
    fake[..., 0] = ds.test_a[..., 0]  # the input's luma, as the colorization model keeps it (x0 = the gray input)
    print(f"{run} at step {int(state.step)} ({'raw' if raw else 'EMA'} generator), PSNR with the chroma scaled:")
    print("  " + ", ".join(f"x{s}: {mean_psnr(from_ycc(fake * [1, s, s]), truth):.2f}"
                           for s in (0, 0.5, 0.75, 1.0, 1.25)))
    t = truth @ YCC.T
    cast = np.concatenate([t[..., :1], np.broadcast_to(t[..., 1:].mean((1, 2), keepdims=True), t[..., 1:].shape)], -1)
    train = ds.train_b.astype(np.float64) @ YCC.T
    level = np.clip(train[..., 0].astype(int), 0, 255)
    table = np.zeros((256, 2))
    for v in range(256):
        if (level == v).any():
            table[v] = np.median(train[..., 1:][level == v], axis=0)
    by_luma = np.concatenate([t[..., :1], table[np.clip(t[..., 0].astype(int), 0, 255)]], -1)
    print(f"  each image's own mean chroma (oracle): {mean_psnr(from_ycc(cast), truth):.2f}; "
          f"training median chroma by luma: {mean_psnr(from_ycc(by_luma), truth):.2f}")


def domains() -> None:
    from ganjax.data.builtin_tasks import load_builtin, tone_transform

    data = load_builtin("tone", 32)
    print("quantiles of brightness", ", ".join(f"{q}%" for q in QUANTILES))
    for name, images in (("tone(train A)", tone_transform(data.train_a)), ("train B", data.train_b),
                         ("test truth", data.test_b_truth)):
        print(quantile_row(name, images), f"({len(images)} crops)")


def gamma() -> None:
    from ganjax.data.builtin_tasks import load_builtin, tone_transform

    data = load_builtin("tone", 32)
    for g in (1.0, 0.9, 0.85):
        print(f"sepia matrix, gamma {g}: {mean_psnr(tone_transform(data.test_a, g), data.test_b_truth):.2f} dB")
    lift = tone_transform(data.train_b).astype(np.float64) - data.train_b
    print(f"tone(b) - b on train B: mean {lift.mean():+.1f} levels, median {np.median(lift):+.1f}, "
          f"10% / 90% {np.percentile(lift, 10):+.1f} / {np.percentile(lift, 90):+.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("paired", help="the runlocal U-Net trained with pairs")
    p.add_argument("--steps", type=int, default=2200, help="training steps (default 2200)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    e = sub.add_parser("errors", help="where a tone run's errors come from")
    e.add_argument("run", help="a CycleGAN run folder trained on the built-in tone task")
    e.add_argument("step", nargs="?", type=int, default=None, help="checkpoint step (default: the newest)")
    e.add_argument("--raw", action="store_true", help="the raw generator instead of the EMA")
    sub.add_parser("domains", help="toned train A against train B")
    sub.add_parser("gamma", help="the sepia matrix at other gammas; tone(b) against b")
    c = sub.add_parser("chroma", help="a colorize run's PSNR with its chroma scaled")
    c.add_argument("run", help="a pix2pix run folder trained on the built-in colorize task")
    c.add_argument("step", nargs="?", type=int, default=None, help="checkpoint step (default: the newest)")
    c.add_argument("--raw", action="store_true", help="the raw generator instead of the EMA")
    args = parser.parse_args()
    if args.what == "paired":
        paired(args.steps, args.seed)
    elif args.what == "errors":
        errors(args.run, args.step, args.raw)
    elif args.what == "chroma":
        chroma(args.run, args.step, args.raw)
    elif args.what == "gamma":
        gamma()
    else:
        domains()


if __name__ == "__main__":
    main()
