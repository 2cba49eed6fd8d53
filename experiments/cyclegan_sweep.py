"""A sweep of CycleGAN's `:runlocal` variant on the built-in `tone` task: loss weights, learning rate, seed.

  ganjax sweep experiments/cyclegan_sweep.py:runlocal --workdir sweeps/tone        # 12 members, two programs
  ganjax sweep experiments/cyclegan_sweep.py:runlocal --workdir sweeps/tone --part 0/3   # a third of them
  ganjax eval sweeps/tone/member_004                                       # any member is a run folder
  ganjax sweep experiments/cyclegan_sweep.py:screen --workdir sweeps/screen    # today's :runlocal, one change
                                                                               # at a time, 30 members

Every member differs only in numbers that are data in the train state (cycle / identity weights in
`state.hp`, learning rates in the optimizer state, the seed), so they stack into vmapped programs compiled
once (identity weight 0 drops the identity term from the step: those members form a second program); on a
CPU a program's members are computed one after another. The sweep picks
its best member by PSNR against the truth. docs/quality.md has the table of these variants (seed 0, each
trained alone with `ganjax train ... --config.KEY=VALUE`) and the structural ones (model.norm) that cannot
stack.
"""
import os

from ganjax.config import load_module, parse_arg

BASE = load_module(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cyclegan.py"))

SEEDS = (0, 1, 2)
VARIANTS = (  # each over SEEDS; the first is the `:runlocal` config itself (luma cycle, lambda_A 10, identity 0.5)
    {},
    {"loss.lambda_A": 1.0},                                   # a weaker A→B→A cycle (the former :runlocal's)
    {"loss.lambda_identity": 1.0},                            # the former :runlocal's identity weight
    {"loss.lambda_identity": 0.0, "optim.g.lr": 1e-3, "optim.d.lr": 1e-3},  # no identity term, half the rate
)


_lr = lambda v: {"optim.g.lr": v, "optim.d.lr": v}
SCREEN = (  # each over SEEDS, from today's `:runlocal` (luma cycle, histogram_A 3 with memory, 3 800 steps, no EMA)
    {}, _lr(1e-3), _lr(4e-3), {"ema.kimg": 4.0, "ema.rampup": 0.0}, {"loss.histogram_A": 2.0},
    {"loss.histogram_A": 5.0}, {"loss.lambda_identity": 0.25}, {"loss.lambda_A": 3.0},
    {"loss.cycle_noise_A": 0.1},  # noise switched on: a second program
    {"loss.histogram_memory": 0.95},  # structural (not in state.hp): a third
)


def _arg(arg):
    return parse_arg(arg, runlocal=False, screen=False)


def get_config(arg=None):
    a = _arg(arg)  # CycleGAN's own config; `:runlocal` (and `:screen`) shrink it in the same way
    return BASE.get_config("runlocal" if (a.runlocal or a.screen) else None)


def sweep(add, arg=None):
    variants = SCREEN if _arg(arg).screen else VARIANTS
    for variant in variants:
        for seed in SEEDS:
            add(**variant, seed=seed)
