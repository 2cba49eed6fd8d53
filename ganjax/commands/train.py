"""`ganjax train EXPERIMENT --workdir DIR [--config.a.b=value ...]`: train, or resume, a run."""
from __future__ import annotations

import os


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train an experiment config (resumes if the workdir holds its run)",
                       description="Train EXPERIMENT (experiments/NAME.py[:arg]); override any config key "
                                   "with --config.a.b=value (`ganjax config EXPERIMENT` lists them).")
    t.add_argument("config", help="experiments/NAME.py[:runlocal,key=value]")
    t.add_argument("--workdir", required=True, help="run folder (created, or resumed)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--distributed", action="store_true",
                   help="join a multi-host job described by the cluster's environment (SLURM, Open MPI, "
                        "Cloud TPU pods, Kubernetes); run the same command on every host")
    t.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="multi-host without a cluster manager: process 0's address (with the next two; "
                        "default: none)")
    t.add_argument("--num-processes", type=int, default=None, metavar="N",
                   help="with --coordinator: the number of processes (default: none)")
    t.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="with --coordinator: this process's index, 0 to N-1 (default: none)")
    t.set_defaults(func=run, takes_overrides=True)


def run(args, overrides) -> None:
    from ganjax import config as config_lib
    from ganjax import parallel
    from ganjax.train.loop import train_and_evaluate

    parallel.initialize(args.distributed, args.coordinator, args.num_processes, args.process_id)
    cfg = config_lib.load(args.config, overrides)
    # the keys set on the command line that differ from the experiment's defaults, for report.html's header:
    # computed here, where the experiment file runs anyway, because a report never executes a run's config
    changes = config_lib.differences(cfg, config_lib.load(args.config)) if overrides else {}
    last = train_and_evaluate(cfg, args.workdir, progress=not args.quiet, config_changes=changes)
    if parallel.is_writer():
        if last:
            print("final: " + "  ".join(f"{k}={v:.4g}" for k, v in last.items()
                                        if isinstance(v, float) and k != "time"))
        print(f"report: {os.path.join(os.path.abspath(os.path.expanduser(args.workdir)), 'report.html')}")
