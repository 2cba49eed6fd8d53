"""The `ganjax` command: train, sample, eval (and more as capabilities land).

Errors the user can fix are printed as one line (`ganjax: error: ...`) with exit code 2; `--debug`
shows the full traceback instead.
"""
from __future__ import annotations

import argparse
import sys

USER_ERRORS = ()  # filled lazily in main() to keep `ganjax --help` fast


def _user_errors():
    from ganjax.checkpoint import CheckpointError
    from ganjax.config import ConfigError
    from ganjax.data.sources import DataError
    from ganjax.train.loop import NonFiniteError
    from ganjax.train.workdir import RunFolderError
    return (ConfigError, DataError, RunFolderError, CheckpointError, NonFiniteError, FileNotFoundError)


def split_overrides(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Pull `--config.a.b=value` (or `--config.a.b value`) out of argv."""
    rest, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            key, eq, value = arg[len("--config."):].partition("=")
            if not eq:
                if i + 1 >= len(argv):
                    raise SystemExit(f"ganjax: error: --config.{key} needs a value")
                value, i = argv[i + 1], i + 1
            overrides.append((key, value))
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def cmd_train(args, overrides):
    from ganjax import config as config_lib
    from ganjax.train.loop import train_and_evaluate

    cfg = config_lib.load(args.config, overrides)
    last = train_and_evaluate(cfg, args.workdir, progress=not args.quiet)
    if last:
        print("final: " + "  ".join(f"{k}={v:.4g}" for k, v in last.items()
                                    if isinstance(v, float) and k != "time"))


def cmd_sample(args, overrides):
    from ganjax.sampling import sample_run

    path = sample_run(args.run, args.n, args.output, step=args.step, seed=args.seed)
    print(f"wrote {args.n} samples to {path}")


def cmd_eval(args, overrides):
    from ganjax.evaluate import evaluate_run

    evaluate_run(args.run, step=args.step, num_samples=args.n)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganjax", description="GAN experiments in JAX/Flax.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an experiment config (resumes if the workdir holds its run)",
                       description="Train EXPERIMENT (experiments/NAME.py[:arg]); override any config key "
                                   "with --config.a.b=value.")
    t.add_argument("config", help="experiments/NAME.py[:runlocal,key=value]")
    t.add_argument("--workdir", required=True, help="run folder (created, or resumed)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="write N generated images from a run's checkpoint")
    s.add_argument("run", help="run folder")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--output", required=True, help="a folder (PNG files) or FILE.npz (uint8 array)")
    s.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("eval", help="evaluate a run (digit GANs: Fréchet distance, class coverage)")
    e.add_argument("run", help="run folder")
    e.add_argument("--step", type=int, default=None)
    e.add_argument("--n", type=int, default=None, help="number of generated samples")
    e.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest, overrides = split_overrides(argv)
    args = build_parser().parse_args(rest)
    if overrides and args.command != "train":
        print(f"ganjax: error: --config.* overrides apply to train only", file=sys.stderr)
        return 2
    if args.debug:
        args.func(args, overrides)
        return 0
    try:
        args.func(args, overrides)
    except KeyboardInterrupt:
        print("ganjax: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"ganjax: error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
