"""The sweep that chose the real-MNIST defaults of experiments/dcgan_mnist.py (table: docs/quality.md).

The article's DCGAN (model.arch=article) on real MNIST: the 10 000 test images, 8 000 train / 2 000 held
out (data.holdout=0.2), evaluated by `ganjax eval` (Fréchet ratio to the real-vs-real floor, smallest class
share, KID, precision/recall, density/coverage; 2 000 generated vs 2 000 held out). Two stages:

  ganjax sweep experiments/dcgan_mnist_sweep.py:screen --workdir sweeps/screen \
      --config.data.source=idx:../shared/data/mnist      # one factor at a time from a reference, width 64
  ganjax sweep experiments/dcgan_mnist_sweep.py:confirm --workdir sweeps/confirm \
      --config.data.source=idx:../shared/data/mnist      # the best settings at full length
  ganjax sweep experiments/dcgan_mnist_sweep.py:ema --workdir sweeps/ema \
      --config.data.source=idx:../shared/data/mnist      # the best of those with longer EMA half-lives
  ganjax sweep experiments/dcgan_mnist_sweep.py:offline --workdir sweeps/offline   # the offline default's data
  ganjax sweep experiments/dcgan_mnist_sweep.py:seeds --workdir sweeps/seeds \
      --config.data.source=idx:../shared/data/mnist      # the defaults over seeds, R1 10, PacGAN (6 000 steps)
  ganjax sweep experiments/dcgan_mnist_sweep.py:diverse --workdir sweeps/diverse \
      --config.data.source=idx:../shared/data/mnist      # minibatch stddev, DiffAugment (:mnist's 3 000 steps)
  ganjax sweep experiments/dcgan_mnist_sweep.py:codes --workdir sweeps/codes \
      --config.data.source=idx:../shared/data/mnist      # self-conditioning on 10 / 20 / 40 clusters, InfoGAN

Members that differ only in numbers (learning rates, betas, R1 gamma > 0, EMA, seed) train in one vmapped
program; width and steps are structural (a program each). A member with constant learning rates evaluated
at an earlier checkpoint (`ganjax eval MEMBER --step S`) equals a run of S steps (data order, noise and the
EMA's ramp-up depend on the step, not on train.steps): the screen keeps its checkpoints for that.
"""
import os

from ganjax.config import load_module, parse_arg

BASE = load_module(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dcgan_mnist.py"))

# The reference every screen member changes one thing of (R1 > 0 everywhere: a gamma of 0 drops the
# penalty's code, a separate program).
REF = {"optim.g.lr": 2e-4, "optim.d.lr": 2e-4, "optim.g.b1": 0.5, "optim.d.b1": 0.5, "optim.g.b2": 0.999,
       "optim.d.b2": 0.999, "loss.r1_gamma": 1.0, "ema.kimg": 20.0, "ema.rampup": 0.05, "seed": 0}


def _arg(arg):
    return parse_arg(arg, runlocal=False, screen=False, confirm=False, ema=False, offline=False,
                     seeds=False, diverse=False, codes=False)


def get_config(arg=None):
    a = _arg(arg)
    c = BASE.get_config("runlocal" if a.runlocal else None)
    if not a.offline:                     # offline: the default data, scikit-learn's 1 797 digits
        c.data.source = "idx:data/mnist"  # give yours: --config.data.source=idx:PATH
    c.loss.r1_gamma = 1.0
    if a.screen:
        c.train.steps = 2000
        c.train.ckpt_every = c.train.sample_every = 500
        c.train.keep = 4                  # steps 500..2000 stay evaluable
    if a.offline:                         # the offline default's length
        c.train.steps = 1000
        c.train.ckpt_every = c.train.sample_every = 500
    if a.diverse or a.codes:              # :mnist's length
        c.train.steps = 3000
        c.train.ckpt_every = c.train.sample_every = 600
    if a.seeds:                           # twice :mnist's length; steps 3 000 and 6 000 stay evaluable
        c.train.steps = 6000
        c.train.ckpt_every = c.train.sample_every = 1500
        c.train.keep = 4
    if a.confirm or a.ema:
        c.train.steps = 3600              # ~16 minutes on a quiet 2-core CPU, one member alone
        c.train.ckpt_every = c.train.sample_every = 600
        c.train.keep = 6                  # steps 600..3600 stay evaluable
    c.train.tensorboard = False
    return c


LR4 = {"optim.g.lr": 4e-4, "optim.d.lr": 4e-4}
LR8 = {"optim.g.lr": 8e-4, "optim.d.lr": 8e-4}
B1_0_R1_10 = {**LR4, "optim.g.b1": 0.0, "optim.d.b1": 0.0, "loss.r1_gamma": 10.0}
EMA50 = {"ema.kimg": 50.0, "ema.rampup": 0.25}

# each stage's members as changes to REF, in order
STAGES = {
    "screen": [                                      # one factor at a time
        {},                                          # the reference
        {"loss.r1_gamma": 0.1},
        {"loss.r1_gamma": 10.0},
        {"optim.g.lr": 1e-4, "optim.d.lr": 4e-4},    # TTUR: D 4x faster than G
        LR4,
        {"optim.g.b1": 0.0, "optim.d.b1": 0.0},
        {"optim.g.b2": 0.99, "optim.d.b2": 0.99},
        {"seed": 1},                                 # the reference again: how much is seed noise
    ],
    "confirm": [LR4, LR8, B1_0_R1_10],               # the screen's best factors, at full length
    "ema": [{**LR8, "ema.rampup": 0.0}, {**LR8, **EMA50},   # the confirm's best, longer averages
            {**LR8, "ema.kimg": 100.0, "ema.rampup": 0.5}, {**B1_0_R1_10, **EMA50}],
    "offline": [{}, LR8, {**LR8, **EMA50}, B1_0_R1_10],     # the offline default's data
    # the chosen defaults over seeds, with a stronger R1 and PacGAN (model.d_pack: structural, own programs)
    "seeds": [{**LR8, "seed": s, **change} for s in (0, 1, 2)
              for change in ({}, {"loss.r1_gamma": 10.0}, {"model.d_pack": 2},
                             {"model.d_pack": 2, "loss.r1_gamma": 10.0}, {"model.d_pack": 4})],
    # D that sees the batch's spread (minibatch stddev), or cannot memorise the 8 000 digits (DiffAugment)
    "diverse": [{**LR8, "seed": s, **change} for change in (
        {"model.d_mbstd": 4}, {"model.d_augment": "translation"}, {"model.d_augment": "translation,cutout"},
        {"model.d_mbstd": 4, "model.d_augment": "translation"}) for s in (0, 1, 2)],
    # a one-hot code in the latent: self-conditioning on k-means clusters (model.clusters; :mnist has 20) or
    # InfoGAN's free codes (model.info_codes); each value is structural (a program of its own)
    "codes": [{**LR8, "seed": s, **change} for change in (
        {"model.clusters": 10}, {"model.clusters": 20}, {"model.clusters": 40}, {"model.info_codes": 10})
        for s in (0, 1, 2)],
}


def sweep(add, arg=None):
    a = _arg(arg)
    stage = next((name for name in ("codes", "diverse", "seeds", "offline", "ema", "confirm") if a[name]),
                 "screen")
    for change in STAGES[stage]:
        add(**{**REF, **change})
