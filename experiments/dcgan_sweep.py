"""A sweep of the article's DCGAN (experiments/dcgan_mnist.py) over learning rate and seed.

  ganjax sweep experiments/dcgan_sweep.py --workdir sweeps/lr            # 16 members in one program
  ganjax sweep experiments/dcgan_sweep.py:runlocal --workdir /tmp/s      # 4 small members, CPU minutes
  ganjax sweep experiments/dcgan_sweep.py --workdir sweeps/lr --devices 8 --members-per-program 16
  ganjax eval sweeps/lr/member_003                                        # any member is a run folder

All members differ only in numbers that are data in the train state (the learning rates live in the
optimizer state, the seed in the PRNG key and initial parameters), so they stack into one vmapped program.
"""
import os

from ganjax.config import load_module, parse_arg

BASE = load_module(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dcgan_mnist.py"))


def get_config(arg=None):
    return BASE.get_config(arg)  # the DCGAN's own config; `runlocal` shrinks it in the same way


def sweep(add, arg=None):
    runlocal = parse_arg(arg, runlocal=False).runlocal
    lrs = (2e-4, 8e-4) if runlocal else (1e-4, 2e-4, 4e-4, 8e-4)
    seeds = (0, 1) if runlocal else (0, 1, 2, 3)
    for lr in lrs:
        for seed in seeds:
            add(**{"optim.g.lr": lr, "optim.d.lr": lr, "seed": seed})
