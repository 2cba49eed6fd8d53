"""The `ganjax` command: one module per verb (train, sweep, sample, eval, translate, explain, attack, bench,
config), each with `add_parser(subparsers)` and `run(args, overrides)`, over the library, which never
imports this package.

Errors the user can fix are printed as one line (`ganjax: error: ...`) with exit code 2; `--debug`
shows the full traceback instead. This is the one error boundary of every command: besides ganjax's own
errors (validation, damaged run folders, checkpoints), it turns the expected failures of the world outside
into that line — OSError (a full disk, a read-only folder, permissions), tensorstore's storage errors that
orbax raises as ValueError (`RESOURCE_EXHAUSTED: ... No space left on device`), unreadable JSON, and running
out of memory (host MemoryError, XLA's RESOURCE_EXHAUSTED). Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from ganjax import errors
from ganjax.errors import UsageError

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # ganjax/


def _user_errors():
    from ganjax.errors import GanjaxError
    return (GanjaxError, FileNotFoundError, FileExistsError)


def split_overrides(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Pull `--config.a.b=value` (or `--config.a.b value`) out of argv."""
    rest, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            key, eq, value = arg[len("--config."):].partition("=")
            if not eq:
                if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                    raise UsageError(f"--config.{key} needs a value")
                value, i = argv[i + 1], i + 1
            overrides.append((key, value))
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


VERBS = ("train", "sweep", "sample", "eval", "translate", "explain", "attack", "bench", "config")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    p = errors.ArgumentParser(prog="ganjax", description="GAN experiments in JAX/Flax.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        importlib.import_module(f"ganjax.commands.{verb}").add_parser(sub)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    """ganjax's own warnings (skipped image files, settings that do nothing, ...) as one plain line on
    stderr, like its errors; other libraries' warnings as Python shows them."""
    if os.path.abspath(filename).startswith(PACKAGE_DIR + os.sep):
        print(f"ganjax: warning: {message}", file=sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from ganjax import xla_flags
    xla_flags.apply()  # before JAX starts a backend (see ganjax/xla_flags.py for what and why)
    import logging
    # orbax logs, at ERROR and with tracebacks, the failures of its background threads that it then raises to
    # the caller, where they become the one line below (--debug shows them)
    logging.getLogger("absl").setLevel(logging.ERROR if "--debug" in argv else logging.CRITICAL)
    try:
        rest, overrides = split_overrides(argv)
    except UsageError as e:
        print(f"ganjax: error: {e}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(rest)
    if overrides and not getattr(args, "takes_overrides", False):
        print("ganjax: error: --config.* overrides apply to train, sweep and config only", file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(args, overrides)


def _run(args, overrides) -> int:
    if args.debug:
        args.func(args, overrides)
        return 0
    try:
        args.func(args, overrides)
    except KeyboardInterrupt:
        print("ganjax: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as e:
        code = getattr(e, "code", 2)
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"ganjax: {'error: ' if code == 2 else ''}{msg}", file=sys.stderr)
        return code
    except (OSError, ValueError, RuntimeError, MemoryError) as e:
        msg = known_failure(e)
        if msg is None:
            raise
        print(f"ganjax: error: {msg}", file=sys.stderr)
        return 2
    return 0


def known_failure(e: BaseException) -> str | None:
    """One line for an expected failure that is not ganjax's own error, or None (a bug: keep the traceback)."""
    import json

    text = str(e).strip()
    first = text.splitlines()[0][:200] if text else type(e).__name__
    if isinstance(e, MemoryError):
        return "out of host memory; lower train.batch_size or the number of images"
    if isinstance(e, OSError):
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        return f"{e.strerror}{where}" if e.strerror else first
    if isinstance(e, json.JSONDecodeError):
        return f"a JSON file cannot be read ({e.msg} at line {e.lineno} column {e.colno})"
    if type(e).__name__ in ("JaxRuntimeError", "XlaRuntimeError") and text.startswith("RESOURCE_EXHAUSTED"):
        return f"out of memory on the device ({first}); lower train.batch_size or the model's width"
    if isinstance(e, (ValueError, RuntimeError)):
        from ganjax.train.checkpoint import storage_error
        reason = storage_error(e)
        if reason is not None:
            return f"a write failed: {reason} ({first})" if reason != first else f"a write failed: {reason}"
    return None


if __name__ == "__main__":
    sys.exit(main())
