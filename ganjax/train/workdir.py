"""The run folder: config.json, metrics.jsonl, checkpoints/, samples/, figures — and its safety checks.

- `locked`: one process trains in a run folder at a time (an OS lock, fcntl.flock, on RUN/.lock, held while
  training runs and released by the kernel when the process ends, however it ends: a killed run leaves no
  stale lock). Readers (sample, eval, explain, attack, translate) take no lock.
- `load_config` / `read_config_json`: a damaged config.json (truncated, garbage, not an object, wrongly typed
  keys, numbers out of range) is one RunFolderError naming the file; a missing run path says "no such folder".
- `MetricsLog`: on resume metrics.jsonl is cut back to its complete, readable rows up to the restored step
  (a partial last line left by a crash or a full disk never blocks a resume), with a note on stderr.
- `write_config`: config.json always describes what the run does; keys that changed on resume are listed in
  its "changes" ([{"step", "key", "from", "to"}]: the step from which the new value holds).
"""
from __future__ import annotations

from ganjax.errors import GanjaxError

import contextlib
import errno
import json
import os

from ganjax import config as config_lib


class RunFolderError(GanjaxError, ValueError):
    pass


# Parts of the config that define what a run *is*; a run folder cannot be resumed with others.
IDENTITY_KEYS = ("experiment", "model", "data.source")
SWEEP_RECORD = "sweep.json"  # a sweep folder's record (ganjax/sweep/runner.py); here for the hint below
LOCK = ".lock"  # RUN/.lock: flock-ed by the process that trains the run; holds its PID
CHANGES = "changes"  # config.json's record of keys changed on resume
# What a fresh start that failed before its first step may leave: a later start may use the folder.
LEFTOVER_FILES = (LOCK, "config.json.tmp")
LEFTOVER_FOLDERS = ("samples", "checkpoints")
# Keys every run's config.json has, with their types (a config.json that lacks them is damaged).
REQUIRED = {"experiment": str, "seed": int, "data": dict, "model": dict, "loss": dict, "optim.g": dict,
            "optim.d": dict, "train.steps": int, "train.batch_size": int, "train.steps_per_dispatch": int,
            "train.log_every": int, "train.sample_every": int, "train.ckpt_every": int, "train.keep": int,
            "train.num_sample_grid": int}
NUMBERS = ("optim.g.lr", "optim.g.b1", "optim.g.b2", "optim.d.lr", "optim.d.b1", "optim.d.b2")


def _get(d: dict, dotted: str):
    for part in dotted.split("."):
        d = d.get(part, {}) if isinstance(d, dict) else {}
    return d


def check(workdir: str, cfg) -> str:
    """Check, writing nothing, that `workdir` is new, empty, or a run of this same experiment, and writable."""
    workdir = os.path.abspath(os.path.expanduser(workdir))
    cfg_path = os.path.join(workdir, "config.json")
    if os.path.lexists(workdir) and not os.path.isdir(workdir):
        raise RunFolderError(f"workdir {workdir} exists and is not a folder")
    if os.path.isfile(cfg_path):
        try:
            old = read_config_json(cfg_path)
        except RunFolderError as e:
            raise RunFolderError(f"{e}; it cannot be resumed: use another --workdir") from None
        new = json.loads(config_lib.to_json(cfg))
        diffs = [d for key in IDENTITY_KEYS for d in _differences(key, _get(old, key), _get(new, key))]
        if diffs:
            shown = "; ".join(f"{k}: {_short(a)} there, {_short(b)} here" for k, a, b in diffs[:3])
            more = f" and {len(diffs) - 3} more" if len(diffs) > 3 else ""
            raise RunFolderError(f"workdir {workdir} holds another run ({shown}{more}); use another --workdir")
    elif os.path.isdir(workdir) and not _only_leftovers(workdir):
        raise RunFolderError(f"workdir {workdir} is not empty and holds no ganjax run{_sweep_hint(workdir)}; "
                             f"use a new folder")
    if os.path.isdir(workdir) and not os.access(workdir, os.W_OK):
        raise RunFolderError(f"workdir {workdir} is read-only; training writes there (copy the run to a "
                             f"writable folder to continue it)")
    ckpt_dir = os.path.join(workdir, "checkpoints")
    if os.path.lexists(ckpt_dir) and not os.path.isdir(ckpt_dir):
        raise RunFolderError(f"{ckpt_dir} is not a folder: the run folder is damaged (move that file away to "
                             f"go on)")
    log = os.path.join(workdir, "metrics.jsonl")
    if os.path.lexists(log) and not os.path.isfile(log):
        raise RunFolderError(f"{log} is not a file: the run folder is damaged (move it away to go on)")
    return workdir


def _only_leftovers(workdir: str) -> bool:
    """Whether `workdir` holds nothing but what a fresh start that failed before its first step leaves."""
    for name in os.listdir(workdir):
        path = os.path.join(workdir, name)
        if name in LEFTOVER_FILES and os.path.isfile(path):
            continue
        if name in LEFTOVER_FOLDERS and os.path.isdir(path) and not os.listdir(path):
            continue
        if name == "metrics.jsonl" and os.path.isfile(path) and os.path.getsize(path) == 0:
            continue
        return False
    return True


@contextlib.contextmanager
def locked(workdir: str, enabled: bool = True):
    """Hold RUN/.lock (creating RUN) while the block runs: a second process gets a RunFolderError naming the
    holder's PID. Re-entrant within one process (a sweep that trains its members). The kernel drops the lock
    when the process ends, so a killed process never leaves a lock that blocks."""
    import fcntl

    workdir = os.path.realpath(os.path.abspath(os.path.expanduser(workdir)))
    if not enabled or workdir in _HELD:
        yield workdir
        return
    os.makedirs(workdir, exist_ok=True)
    fd = os.open(os.path.join(workdir, LOCK), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() if e.errno in (errno.EAGAIN,
                                                                                  errno.EACCES) else ""
        os.close(fd)
        if e.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        raise RunFolderError(f"{workdir} is in use by another ganjax process (PID {holder or 'unknown'}); wait "
                             f"for it to finish or stop it") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # the lock holds without the PID note (e.g. a full disk)
    _HELD[workdir] = fd
    try:
        yield workdir
    finally:
        del _HELD[workdir]
        os.close(fd)  # releases the lock; the file stays (removing it would race with a waiting process)


_HELD: dict[str, int] = {}


def prepare(workdir: str, cfg, step: int | None = None) -> str:
    """`check`, then create the folder and write config.json (`write_config`; `step` None: the latest
    checkpoint's, as a resume starts there)."""
    workdir = check(workdir, cfg)
    write_config(workdir, cfg, latest_checkpoint_step(workdir) if step is None else step)
    return workdir


def write_config(workdir: str, cfg, step: int) -> list[tuple[str, object, object]]:
    """Write config.json for `cfg` (and samples/), keeping its record of changes: the keys whose values differ
    from the config.json already there are added to its "changes" with `step`. Returns them (key, old, new).
    config_file (where the experiment file was) is not a change."""
    path = os.path.join(workdir, "config.json")
    old = read_config_json(path) if os.path.isfile(path) else None
    new = json.loads(config_lib.to_json(cfg))
    new.pop(CHANGES, None)
    changes = list(old.get(CHANGES) or []) if old is not None and isinstance(old.get(CHANGES), list) else []
    diffs = []
    if old is not None:
        body = lambda d: {k: v for k, v in d.items() if k not in (CHANGES, "config_file")}
        a, b = body(old), body(new)
        diffs = [d for k in sorted(set(a) | set(b))
                 for d in _differences(k, a.get(k, _ABSENT), b.get(k, _ABSENT))]
        changes += [{"step": int(step), "key": k, **({} if x is _ABSENT else {"from": x}),
                     **({} if y is _ABSENT else {"to": y})} for k, x, y in diffs]
    if changes:
        new[CHANGES] = changes
    os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
    text = json.dumps(new, indent=2, sort_keys=True, default=str)
    if old is None or diffs or _read_text(path) != text:
        write_atomic(path, text)
    return diffs


_ABSENT = "(absent)"


def _read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def latest_checkpoint_step(workdir: str) -> int:
    """The largest step number among RUN/checkpoints/<step> folders (0 if none); reads names only."""
    folder = os.path.join(workdir, "checkpoints")
    steps = [int(n) for n in (os.listdir(folder) if os.path.isdir(folder) else []) if n.isdigit()]
    return max(steps, default=0)


def _sweep_hint(folder: str) -> str:
    """For a sweep's folder (one holding the sweep's record): where its runs are."""
    if not os.path.isfile(os.path.join(os.path.expanduser(folder), SWEEP_RECORD)):
        return ""
    return f"; it is a sweep folder: each member's run is {os.path.join(folder, 'member_NNN')}"


def _differences(key: str, old, new) -> list[tuple[str, object, object]]:
    """The dotted keys under `key` whose values differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in _differences(f"{key}.{k}", old.get(k, "(absent)"), new.get(k, "(absent)"))]
    return [] if old == new else [(key, old, new)]


def _short(v) -> str:
    s = json.dumps(v, sort_keys=True, default=str)
    return s if len(s) < 60 else s[:57] + "..."


def load_config(workdir: str):
    """The run's config (a locked ConfigDict) from RUN/config.json, checked (read_config_json)."""
    folder = os.path.abspath(os.path.expanduser(workdir))
    if not os.path.lexists(folder):
        raise RunFolderError(f"no such folder: {workdir}")
    if not os.path.isdir(folder):
        raise RunFolderError(f"{workdir} is a file, not a run folder")
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise RunFolderError(f"{workdir} is not a ganjax run folder (no config.json){_sweep_hint(workdir)}")
    data = read_config_json(path)
    cfg = config_lib.from_json(json.dumps(data))
    try:
        config_lib.validate(cfg)
    except config_lib.ConfigError as e:
        raise RunFolderError(f"{path} is damaged: {e}") from None
    return cfg


def read_config_json(path: str) -> dict:
    """config.json as a dict, or a one-line RunFolderError saying how it is damaged: not readable JSON
    (truncated, garbage), not an object, or without the keys (and their types) every run has."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RunFolderError(f"{path} is damaged: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        what = "empty" if not raw.strip() else f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        raise RunFolderError(f"{path} is damaged: {what}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} is damaged: it holds a JSON {_json_kind(data)}, not a ganjax config")
    for key, kind in REQUIRED.items():
        value = _get_strict(data, key)
        if value is _ABSENT:
            raise RunFolderError(f"{path} is damaged: it has no {key!r}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise RunFolderError(f"{path} is damaged: {key!r} is {_short(value)}, not {_KIND_NAMES[kind]}")
    for key in NUMBERS:
        value = _get_strict(data, key)
        if value is not _ABSENT and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise RunFolderError(f"{path} is damaged: {key!r} is {_short(value)}, not a number")
    return data


_KIND_NAMES = {str: "a string", int: "an integer", dict: "a section (an object)"}


@contextlib.contextmanager
def reading(run: str):
    """Around code that interprets a run's config: a key it reads that config.json lacks (ConfigDict's
    AttributeError / KeyError) becomes a RunFolderError naming the file. Other errors pass unchanged."""
    import traceback

    try:
        yield
    except (AttributeError, KeyError) as e:
        frames = traceback.extract_tb(e.__traceback__)
        if not frames or f"{os.sep}ml_collections{os.sep}" not in frames[-1].filename:
            raise
        path = os.path.join(os.path.abspath(os.path.expanduser(run)), "config.json")
        key = str(e).strip("'\"")
        raise RunFolderError(f"{path} is damaged or from another ganjax version: it has no {key!r}") from None


def check_writable(path: str, why: str) -> None:
    """A RunFolderError if `path` (or, where it does not exist yet, the folder it would be made in) cannot be
    written — a read-only disk or folder — checked before any work; `why` says what would be written there."""
    p = os.path.abspath(os.path.expanduser(path))
    while not os.path.exists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    if not os.access(p, os.W_OK):
        raise RunFolderError(f"{p} is read-only: {why}")


def _json_kind(v) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(v), type(v).__name__)


def _get_strict(d: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return _ABSENT
        d = d[part]
    return d


def write_atomic(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class MetricsLog:
    """metrics.jsonl, append-only. On opening, the file is cut back to its complete, readable rows up to
    `resume_step` (rows after it are redone by the resumed run; a partial last line or garbage left by a
    crash or a full disk is dropped), with a note through `note(text)` when anything was removed.
    `enabled=False` (processes other than 0 of a multi-host job) writes nothing."""

    def __init__(self, path: str, resume_step: int, enabled: bool = True, note=None):
        self.path, self.file = path, None
        if not enabled:
            return
        if os.path.exists(path):
            keep, after, bad = read_metrics(path, resume_step)
            if after or bad:
                write_atomic(path, "".join(keep))
                parts = ([f"{after} row(s) after step {resume_step}, where training resumes"] if after else []) + \
                        ([f"{bad} unreadable line(s) (a partial write: a crash or a full disk)"] if bad else [])
                if note is not None:
                    note(f"{os.path.basename(path)}: removed {' and '.join(parts)}")
        self.file = open(path, "a")

    def write(self, row: dict) -> None:
        if self.file is not None:
            try:
                self.file.write(json.dumps(row) + "\n")
                self.file.flush()
            except OSError as e:  # a full disk: say which file (a partial line is dropped on the next resume)
                raise OSError(e.errno, e.strerror, self.path) from None

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:  # the last flush failed (a full disk): the next resume drops the partial line
                pass


def read_metrics(path: str, up_to: int | None = None) -> tuple[list[str], int, int]:
    """(complete readable rows with step <= up_to, as text lines; rows after up_to; unreadable lines)."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    tail = lines.pop()  # b"" after a final newline; else a partial last line
    keep, after, bad = [], 0, 0 if not tail.strip() else 1
    for raw in lines:
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
            step = row["step"] if isinstance(row, dict) else None
        except (UnicodeDecodeError, ValueError, KeyError):
            step = None
        if not isinstance(step, int) or isinstance(step, bool):
            bad += 1
        elif up_to is not None and step > up_to:
            after += 1
        else:
            keep.append(raw.decode("utf-8") + "\n")
    return keep, after, bad


def last_logged_step(path: str) -> int:
    """The largest step among metrics.jsonl's readable rows (0 without any)."""
    if not os.path.isfile(path):
        return 0
    keep, _, _ = read_metrics(path)
    return max((json.loads(line)["step"] for line in keep), default=0)
