"""Checkpoints with orbax (the only module that imports it). Never pickles.

A checkpoint is the whole GANState (params, optimizer states, mutable collections, step, PRNG key, recipe
state, loss weights); the data order is a function of (key, step), so restoring it resumes exactly.
Orbax writes each step to a temporary folder and renames it when complete, so a killed write never
leaves a checkpoint that looks complete but is not. Deleting an old checkpoint (keep) is made atomic the same
way: orbax renames it into TRASH (todelete_subdir), and this module empties TRASH before the next save and
on open/close. (Orbax's own deletion removes a step's files one by one: a kill -9 in the middle left a
folder that was listed as a checkpoint but could not be restored — seen once in tests/test_faults.py.)
"""
from __future__ import annotations

from ganjax.errors import GanjaxError

import os
import shutil

import jax
import orbax.checkpoint as ocp


class CheckpointError(GanjaxError, RuntimeError):
    pass


TRASH = ".deleted"  # old checkpoints are renamed in here (atomically), then removed


class Checkpoints:
    """Save/restore GANState pytrees under `directory` (absolute), keeping the last `keep`."""

    def __init__(self, directory: str, keep: int = 3, asynchronous: bool = True, read_only: bool = False):
        self.directory, self.read_only = os.path.abspath(directory), read_only
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only, read_only=read_only,
                                               enable_async_checkpointing=asynchronous,
                                               cleanup_tmp_directories=not read_only,
                                               todelete_subdir=None if read_only else TRASH)
        self.manager = ocp.CheckpointManager(self.directory, options=options)
        self._empty_trash()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def save(self, step: int, state, force: bool = False) -> None:
        self.manager.wait_until_finished()  # the previous save (and its renames into TRASH) is complete
        self._empty_trash()
        self.manager.save(int(step), args=ocp.args.StandardSave(state), force=force)

    def _empty_trash(self) -> None:
        if not self.read_only:
            shutil.rmtree(os.path.join(self.directory, TRASH), ignore_errors=True)

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def restore(self, abstract_state, step: int | None = None):
        """Restore into the structure of `abstract_state` (e.g. jax.eval_shape of the initial state), on the
        shardings its leaves carry (ganjax.parallel.abstract_replicated) or else on this process's first
        device — whatever mesh wrote the checkpoint."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        if step not in self.all_steps():
            raise CheckpointError(f"no checkpoint at step {step} in {self.directory}; have {self.all_steps()}")
        target = _restore_target(abstract_state)
        try:
            return self.manager.restore(step, args=ocp.args.StandardRestore(target))
        except Exception as e:  # orbax's errors for missing files, bad metadata, shape mismatches
            msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"checkpoint at step {step} in {self.directory} does not fit this model "
                                  f"({msg})") from None

    def close(self) -> None:
        self.manager.wait_until_finished()
        self._empty_trash()
        self.manager.close()


def save_tree(path: str, tree) -> None:
    """Save any pytree of arrays (e.g. a cached classifier's params) to `path` with orbax."""
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(os.path.abspath(path), tree, force=True)


def load_tree(path: str, abstract_tree):
    """Load a pytree saved by save_tree into the structure of `abstract_tree`."""
    target = _restore_target(abstract_tree)
    with ocp.StandardCheckpointer() as ckptr:
        return ckptr.restore(os.path.abspath(path), target)


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
