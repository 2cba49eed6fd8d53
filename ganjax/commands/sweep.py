"""`ganjax sweep EXPERIMENT --workdir DIR`: train every member of an experiment's sweep(add)."""
from __future__ import annotations


def add_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="train the members of an experiment's sweep(add), stacked where they can be",
                        description="Train every member of EXPERIMENT's sweep(add). Members that differ only in "
                                    "seed, optim.*.lr/b1/b2 or loss weights train together in one vmapped "
                                    "program; others run one program after another. Each member is an "
                                    "ordinary run folder WORKDIR/member_NNN; --config.a.b=value applies to all.")
    sw.add_argument("config", help="experiments/NAME.py[:runlocal,key=value] defining sweep(add)")
    sw.add_argument("--workdir", required=True, help="sweep folder (created, or resumed)")
    sw.add_argument("--devices", type=int, default=1, help="split each program's members over this many "
                                                           "devices (default 1)")
    sw.add_argument("--members-per-program", type=int, default=None,
                    help="at most this many members per compiled program (default: all that stack)")
    sw.add_argument("--stack", default="auto", choices=("auto", "require", "none"),
                    help="auto (default): stack what can be; require: error unless all stack; none: one "
                         "member per program (compiled once, reused)")
    sw.add_argument("--best", default="auto", help="METRIC[:min|max] that picks the best member (default: "
                                                   "frechet_ratio when evaluated, else g_loss)")
    sw.add_argument("--part", default=None, metavar="K/N",
                    help="train only members whose index is K modulo N: one host's share of a sweep spread over "
                         "N hosts (each host its own --workdir; e.g. --part $SLURM_PROCID/$SLURM_NTASKS; "
                         "default: all members)")
    sw.add_argument("--eval", action="store_true", help="run `ganjax eval` on each member after training")
    sw.add_argument("--quiet", action="store_true", help="no progress bars")
    sw.set_defaults(func=run, takes_overrides=True)


def run(args, overrides) -> None:
    from ganjax.sweep import run_sweep

    run_sweep(args.config, args.workdir, overrides, stack=args.stack, members_per_program=args.members_per_program,
              devices=args.devices, best=args.best, evaluate=args.eval, progress=not args.quiet, part=args.part)
