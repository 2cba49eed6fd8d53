"""A sweep in one program vs the same members trained one after another: images/s of each.

  python benchmarks/sweep_bench.py                                   # 16 DCGAN members, batch 64 each
  python benchmarks/sweep_bench.py --members 16 --batch 64 --width 64 --repeats 3

Members are the article's DCGAN (experiments/dcgan_mnist.py, offline digits) differing in learning rate
and seed, as in experiments/dcgan_sweep.py. "stacked": all members in one compiled call, the program
`ganjax sweep` runs (ganjax.sweep.runner.compile_program: jax.vmap of the train step with the NaN guard).
"sequential": the program `ganjax train` runs (steps.compile_multi_step), called once per member in turn
(compiled once and reused: separate `ganjax train` runs would also compile it once each). Both are timed
with ganjax.bench.measure (interleaved blocks, median); images/s counts every member's images.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from ganjax import xla_flags  # noqa: E402

xla_flags.apply()  # the GPU defaults `ganjax` sets (ganjax/xla_flags.py), before JAX starts a backend

from ganjax import config, recipes  # noqa: E402
from ganjax.bench import device_info, measure, write_jsonl  # noqa: E402
from ganjax.sweep.runner import compile_program, place, stack  # noqa: E402
from ganjax.train.steps import compile_multi_step  # noqa: E402

LRS = (1e-4, 2e-4, 4e-4, 8e-4)


def member_configs(n: int, batch: int, width: int, upsample: str | None):
    base = [("train.batch_size", str(batch)), ("model.g_width", str(width)), ("model.d_width", str(width))]
    if upsample:
        base.append(("model.upsample", upsample))
    path = os.path.join(ROOT, "experiments", "dcgan_mnist.py")
    return [config.load(path, base + [("optim.g.lr", str(LRS[i % 4])), ("optim.d.lr", str(LRS[i % 4])),
                                      ("seed", str(i // 4))]) for i in range(n)]


class Stacked:
    impl = "stacked (one vmapped program)"

    def __init__(self, cfgs, k: int):
        import jax.numpy as jnp
        rs = [recipes.build(c) for c in cfgs]
        devs = jax.devices()[:1]
        self.k, self.images_per_call = k, len(cfgs) * cfgs[0].train.batch_size * k
        self.data = place(rs[0].device_data(), devs, split=False)
        self.state = place(stack([r.init_state(c.seed) for r, c in zip(rs, cfgs)]), devs)
        self.alive, self.failed_at = jnp.ones(len(cfgs), bool), jnp.zeros(len(cfgs), jnp.int32)
        fn = compile_program(rs[0], rs[0].optimizers(), k, devs)
        t0 = time.perf_counter()
        self.fn = fn.lower(self.state, self.alive, self.failed_at, self.data).compile()
        self.compile_s = time.perf_counter() - t0

    def block(self, calls: int) -> None:
        for _ in range(calls):
            self.state, self.alive, self.failed_at, m = self.fn(self.state, self.alive, self.failed_at, self.data)
        jax.block_until_ready((self.state, m))


class Sequential:
    impl = "sequential (one member at a time)"

    def __init__(self, cfgs, k: int):
        rs = [recipes.build(c) for c in cfgs]
        self.k, self.images_per_call = k, len(cfgs) * cfgs[0].train.batch_size * k
        self.data = jax.device_put(rs[0].device_data())
        self.states = [r.init_state(c.seed) for r, c in zip(rs, cfgs)]
        fn = compile_multi_step(rs[0], rs[0].optimizers(), k)  # the members' numbers live in their states
        t0 = time.perf_counter()
        self.fn = fn.lower(self.states[0], self.data).compile()
        self.compile_s = time.perf_counter() - t0

    def block(self, calls: int) -> None:
        for _ in range(calls):
            for i, s in enumerate(self.states):
                self.states[i], m = self.fn(s, self.data)
        jax.block_until_ready((self.states, m))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=16)
    p.add_argument("--batch", type=int, default=64, help="per member (default 64)")
    p.add_argument("--width", type=int, default=64, help="DCGAN g_width = d_width (default 64, the config's)")
    p.add_argument("--upsample", default=None, help="model.upsample (default: the config's)")
    p.add_argument("--steps-per-dispatch", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "sweep_bench.jsonl"))
    args = p.parse_args(argv)
    cfgs = member_configs(args.members, args.batch, args.width, args.upsample)
    runners = [Stacked(cfgs, args.steps_per_dispatch), Sequential(cfgs, args.steps_per_dispatch)]
    timings = measure(runners, repeats=args.repeats, warmup=args.warmup, iters=1)
    info = device_info()
    rows = []
    for r, t in zip(runners, timings):
        rows.append({"impl": r.impl, "members": args.members, "batch_per_member": args.batch,
                     "width": args.width, "upsample": cfgs[0].model.upsample, "k": r.k,
                     "images_per_s": r.images_per_call / r.k / t["step_s"],
                     "step_s_all_members": t["step_s"], "step_s_min": t["step_s_min"], "compile_s": r.compile_s,
                     "repeats": t["repeats"], **info, "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    write_jsonl(rows, args.out)
    print(f"{args.members} DCGAN members (width {args.width}, {cfgs[0].model.upsample}), batch {args.batch} each, "
          f"on {info['device']} ({info['backend']}, {info['cpu_count']} CPUs, load {info['load_avg_1m']})")
    for r in rows:
        print(f"  {r['impl']:<36} {r['images_per_s']:9.1f} img/s   one step of all members "
              f"{r['step_s_all_members']:.2f} s   compile {r['compile_s']:.1f} s")
    print(f"  stacked / sequential: {rows[0]['images_per_s'] / rows[1]['images_per_s']:.2f}x   "
          f"(appended to {args.out})")
    return rows


if __name__ == "__main__":
    main()
