"""Checkpoints with orbax (the only module that imports it). Never pickles.

A checkpoint is the whole GANState (params, optimizer states, mutable collections, step, PRNG key, recipe
state, loss weights); the data order is a function of (key, step), so restoring it resumes exactly.
Orbax writes each step to a temporary folder and renames it when complete, so a killed write never
leaves a checkpoint that looks complete but is not. Deleting an old checkpoint (keep) is made atomic the same
way: orbax renames it into TRASH (todelete_subdir), and this module empties TRASH before the next save and
on open/close. (Orbax's own deletion removes a step's files one by one: a kill -9 in the middle left a
folder that was listed as a checkpoint but could not be restored — seen once in tests/test_faults.py.)

Failures are CheckpointError (one line): CheckpointMismatch when a checkpoint's arrays (read from its metadata,
before any data) do not have this model's names and shapes, CheckpointCorrupt when its files cannot be read,
and "could not write" for a full or read-only disk (OSError, or tensorstore's RESOURCE_EXHAUSTED /
PERMISSION_DENIED ..., which reach Python as ValueError). `keep` is at least 1: no save deletes every
checkpoint. A checkpoint written before the generator EMA existed restores with the EMA switched off (equal to
the generator, ema_kimg 0): such a run samples from its raw generator, and says so.

Orbax runs each restore / save in a fresh asyncio event loop and closes it as soon as its coroutine ends. When
one read fails, the others are still in flight: their completions then reach the closed loop from
tensorstore's threads (`RuntimeError: Event loop is closed`, printed once per array), and their coroutines are
destroyed at interpreter exit (`Exception ignored in ... write_fragment`). `_TidyLoop`, made the default
policy's loop once this module is used (only over asyncio's default policy), finishes its own leftover tasks
before it closes and drops the callbacks that arrive after it closed: a failed restore or save is one error.
"""
from __future__ import annotations

from ganjax.errors import GanjaxError

import asyncio
import errno
import os
import shutil

import jax
import orbax.checkpoint as ocp

from ganjax.train import ema as ema_lib


class CheckpointError(GanjaxError, RuntimeError):
    pass


class CheckpointMismatch(CheckpointError):
    """The checkpoint is readable but holds another model's arrays (names or shapes differ)."""


class CheckpointCorrupt(CheckpointError):
    """The checkpoint's files are missing, truncated or damaged."""


# tensorstore's status codes for storage failures; orbax passes them up as ValueError / RuntimeError text
_STORAGE_CODES = {"RESOURCE_EXHAUSTED": "storage full or over quota", "PERMISSION_DENIED": "Permission denied",
                  "UNAVAILABLE": "storage unavailable", "DEADLINE_EXCEEDED": "storage timed out"}


def storage_error(e: BaseException | None) -> str | None:
    """A short reason if `e` is a failure of the storage under a write (disk full, read-only, permissions),
    else None: OSError, or a tensorstore error whose message starts with one of its storage status codes."""
    if e is None:
        return None
    if isinstance(e, OSError):
        where = getattr(e, "filename", None)
        return f"{e.strerror or e}" + (f": {where}" if where and e.errno != errno.ENOSPC else "")
    text = str(e).strip()
    code = text.split(":", 1)[0]
    if isinstance(e, (ValueError, RuntimeError)) and code in _STORAGE_CODES:
        return "No space left on device" if "No space left" in text else f"{_STORAGE_CODES[code]} ({code})"
    return None


class _TidyLoop(asyncio.SelectorEventLoop):
    """An event loop that, when closed, first cancels and finishes the tasks it still holds, and afterwards
    ignores call_soon_threadsafe (the late completion of a read that nobody waits for any more)."""

    def close(self) -> None:
        if not self.is_closed() and not self.is_running():
            try:
                pending = [t for t in asyncio.all_tasks(self) if not t.done()]
            except RuntimeError:
                pending = []
            for t in pending:
                t.cancel()
            if pending:
                try:
                    self.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                except RuntimeError:
                    pass
        super().close()

    def call_soon_threadsafe(self, callback, *args, context=None):
        if self.is_closed():
            return None
        try:
            return super().call_soon_threadsafe(callback, *args, context=context)
        except RuntimeError:  # closed in between
            if self.is_closed():
                return None
            raise


class _TidyPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return _TidyLoop()


def _install_tidy_loops() -> None:
    """New event loops become _TidyLoops, unless a policy of someone's own (uvloop, ...) is installed."""
    if type(asyncio.get_event_loop_policy()) is asyncio.DefaultEventLoopPolicy:
        asyncio.set_event_loop_policy(_TidyPolicy())


class _Writing:
    """Turns a storage failure inside the block into one CheckpointError naming the step and what is intact."""

    def __init__(self, ckpts, step):
        self.ckpts, self.step = ckpts, step

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        reason = storage_error(e)
        if reason is None:
            return False
        what = f"the checkpoint of step {self.step}" if self.step is not None else "a checkpoint"
        raise CheckpointError(f"could not write {what} ({reason}); earlier checkpoints are intact: "
                              f"{self.ckpts.all_steps()}") from None


TRASH = ".deleted"  # old checkpoints are renamed in here (atomically), then removed


class Checkpoints:
    """Save/restore GANState pytrees under `directory` (absolute), keeping the last `keep`."""

    def __init__(self, directory: str, keep: int = 3, asynchronous: bool = True, read_only: bool = False):
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:  # orbax's max_to_keep=0 deletes all
            raise CheckpointError(f"keep must be at least 1 checkpoint, got {keep!r}")
        _install_tidy_loops()
        self.directory, self.read_only = os.path.abspath(directory), read_only
        if os.path.lexists(self.directory) and not os.path.isdir(self.directory):
            raise CheckpointError(f"{self.directory} is not a folder: the run folder is damaged (move that file "
                                  f"away to go on)")
        if read_only and not os.path.isdir(self.directory):
            raise CheckpointError(f"no checkpoint in {self.directory} (no such folder)")
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only, read_only=read_only,
                                               enable_async_checkpointing=asynchronous,
                                               cleanup_tmp_directories=not read_only,
                                               todelete_subdir=None if read_only else TRASH)
        self.manager = ocp.CheckpointManager(self.directory, options=options)
        self._pending = None  # the step of the last save started (asynchronous: it may still be writing)
        self._empty_trash()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def save(self, step: int, state, force: bool = False) -> None:
        """Start writing `step` (asynchronously). A failed write, of this one or of the previous one (waited
        for first), is a CheckpointError naming the step and the checkpoints that are intact."""
        with _Writing(self, self._pending):
            self.manager.wait_until_finished()  # the previous save (and its renames into TRASH) is complete
        self._empty_trash()
        self._pending = int(step)
        with _Writing(self, step):
            self.manager.save(int(step), args=ocp.args.StandardSave(state), force=force)

    def _empty_trash(self) -> None:
        if not self.read_only:
            shutil.rmtree(os.path.join(self.directory, TRASH), ignore_errors=True)

    def wait(self) -> None:
        with _Writing(self, self._pending):
            self.manager.wait_until_finished()

    def restore(self, abstract_state, step: int | None = None):
        """Restore into the structure of `abstract_state` (e.g. jax.eval_shape of the initial state), on the
        shardings its leaves carry (ganjax.parallel.abstract_replicated) or else on this process's first
        device — whatever mesh wrote the checkpoint. CheckpointMismatch: another model's checkpoint (found
        from its metadata, before any array is read); CheckpointCorrupt: its files cannot be read."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        if step not in self.all_steps():
            raise CheckpointError(f"no checkpoint at step {step} in {self.directory}; have {self.all_steps()}")
        try:
            self._check_fits(abstract_state, step)
        except CheckpointMismatch:
            before_ema = _without_ema(abstract_state)
            if before_ema is None or not self._fits(before_ema, step):
                raise
            # written before the generator EMA existed: its EMA starts at the generator, switched off (kimg 0)
            state = self._read(before_ema, step)
            whole = ema_lib.attach(state, {ema_lib.KIMG: 0.0, ema_lib.RAMPUP: 0.0},
                                   list(abstract_state.ema["model_state"]))
            return jax.tree_util.tree_map(lambda x, t: jax.device_put(x, t.sharding), whole,
                                          _restore_target(abstract_state))
        return self._read(abstract_state, step)

    def _read(self, abstract_state, step: int):
        target = _restore_target(abstract_state)
        try:
            return self.manager.restore(step, args=ocp.args.StandardRestore(target))
        except Exception as e:  # orbax/tensorstore's errors for missing, truncated or garbled files
            raise CheckpointCorrupt(f"checkpoint at step {step} in {self.directory} is damaged: its files cannot "
                                    f"be read ({_first_line(e)})") from None

    def _fits(self, abstract_state, step: int) -> bool:
        try:
            self._check_fits(abstract_state, step)
        except CheckpointMismatch:
            return False
        return True

    def restore_latest(self, abstract_state, warn=None):
        """(state, skipped steps): the newest checkpoint that restores. Damaged newer ones are skipped and left
        in place, each reported through `warn(step, message)`; a mismatch (another model) is raised at once,
        and so is a damaged checkpoint when no older one restores."""
        steps = sorted(self.all_steps(), reverse=True)
        if not steps:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        skipped = []  # (step, message), reported once an older checkpoint has restored
        for step in steps:
            try:
                state = self.restore(abstract_state, step)
            except CheckpointCorrupt as e:
                if step == steps[-1]:
                    if skipped:
                        raise CheckpointCorrupt(f"no checkpoint in {self.directory} can be read (steps "
                                                f"{', '.join(map(str, steps))} are damaged)") from None
                    raise
                skipped.append((step, str(e)))
                continue
            for bad, message in skipped if warn is not None else ():
                warn(bad, message)
            return state, [bad for bad, _ in skipped]

    def set_aside(self, step: int) -> str:
        """Rename the checkpoint of `step` to STEP.damaged (kept, no longer a step: orbax lists only numeric
        names) so that training can write that step again; returns the new path."""
        src = os.path.join(self.directory, str(step))
        dst, k = src + ".damaged", 2
        while os.path.lexists(dst):
            dst, k = f"{src}.damaged{k}", k + 1
        os.replace(src, dst)
        self.manager.reload()
        return dst

    def _check_fits(self, abstract_state, step: int) -> None:
        """CheckpointMismatch unless the checkpoint's array names and shapes are `abstract_state`'s;
        CheckpointCorrupt when its metadata cannot be read."""
        path = os.path.join(self.directory, str(step), "default")
        try:
            with ocp.StandardCheckpointer() as ckptr:
                tree = getattr(ckptr.metadata(path).item_metadata, "tree", None)
            if tree is None:
                raise ValueError("no array metadata: _METADATA or manifest.ocdbt missing or unreadable")
            stored = ocp.tree.to_flat_dict(tree)
        except Exception as e:  # a missing or garbled _METADATA, no "default" item, ...
            raise CheckpointCorrupt(f"checkpoint at step {step} in {self.directory} is damaged: its metadata "
                                    f"cannot be read ({_first_line(e)})") from None
        wanted = ocp.tree.to_flat_dict(ocp.tree.serialize_tree(abstract_state, keep_empty_nodes=False))
        name = lambda k: ".".join(map(str, k))
        missing = sorted(name(k) for k in set(wanted) - set(stored))
        extra = sorted(name(k) for k in set(stored) - set(wanted))
        shape = lambda x: tuple(x.shape) if getattr(x, "shape", None) is not None else None
        shapes = sorted(f"{name(k)} is {shape(stored[k])} there, {shape(wanted[k])} here"
                        for k in set(wanted) & set(stored)
                        if None not in (shape(stored[k]), shape(wanted[k])) and shape(stored[k]) != shape(wanted[k]))
        if missing or extra or shapes:
            what = (shapes[0] if shapes else f"it lacks {missing[0]}" if missing else
                    f"it has {extra[0]}, which this model lacks")
            more = len(shapes) + len(missing) + len(extra) - 1
            raise CheckpointMismatch(f"checkpoint at step {step} in {self.directory} does not fit this model "
                                     f"({what}{f'; {more} more differences' if more > 0 else ''})")

    def close(self) -> None:
        with _Writing(self, self._pending):
            self.manager.wait_until_finished()
        self._empty_trash()
        self.manager.close()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def save_tree(path: str, tree) -> None:
    """Save any pytree of arrays (e.g. a cached classifier's params) to `path` with orbax. Its parent folder
    is made first: a read-only or full disk fails here (OSError), not in orbax's background threads."""
    _install_tidy_loops()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(os.path.abspath(path), tree, force=True)


def load_tree(path: str, abstract_tree):
    """Load a pytree saved by save_tree into the structure of `abstract_tree`."""
    _install_tidy_loops()
    target = _restore_target(abstract_tree)
    with ocp.StandardCheckpointer() as ckptr:
        return ckptr.restore(os.path.abspath(path), target)


def _without_ema(abstract_state):
    """The structure a checkpoint of `abstract_state`'s model had before the generator EMA existed (None when the
    state keeps no EMA)."""
    if getattr(abstract_state, "ema", None) is None:
        return None
    return ema_lib.strip(abstract_state)


def _restore_target(abstract_tree):
    """ShapeDtypeStructs with a sharding each: a checkpoint written by N devices restores onto one (or onto
    another mesh) only when the target says where its arrays go."""
    one_device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def leaf(x):
        x = ocp.utils.to_shape_dtype_struct(x)
        if isinstance(x, jax.ShapeDtypeStruct) and x.sharding is None:
            x = jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=one_device)
        return x
    return jax.tree_util.tree_map(leaf, abstract_tree)
