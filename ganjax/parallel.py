"""Data parallelism over a device mesh, and multi-host jobs: the same program on 1 or N devices, 1 or N hosts.

* `mesh.data` in the config picks the devices (1 = one device, -1 = every device of every process, N =
  N devices, split evenly over the processes). `train.batch_size` is the global batch.
* The state and the (device-resident) data set are replicated; each step's batch is drawn inside the
  compiled program and constrained to be sharded over the mesh's "data" axis, so each device computes
  the forward/backward pass of its slice and XLA's partitioner inserts the all-reduces (gradients,
  batch-norm statistics and losses are global means, exactly as on one device). No per-device code and
  no `jax.pmap`.
* Multi-host: `initialize` calls `jax.distributed.initialize()`; every process then runs the same
  program on its own devices. Each process loads the whole (device-resident) data set from its own
  disk and its devices gather their rows of the global batch from that copy; batches are functions of
  (seed, step), so no process reads or sends another process's examples. Only process 0 writes logs and
  pictures; orbax writes checkpoints collectively (the folder must be shared by all hosts).
"""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from ganjax.config import ConfigError
from ganjax.errors import GanjaxError

AXIS = "data"


class DistributedError(GanjaxError, RuntimeError):
    """The multi-host job could not be formed (coordinator unreachable, bad process ids, ...)."""


def initialize(auto: bool = False, coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> bool:
    """Join a multi-process job; a no-op (False) unless `auto` or any of the explicit settings is given.

    auto: jax.distributed.initialize() reads the cluster's environment (SLURM, Open MPI, Cloud TPU pods,
    Kubernetes with the `kubernetes` package); explicit values override what it reads. Must run before
    any JAX computation. On CPU, cross-process collectives use gloo over TCP."""
    explicit = (coordinator, num_processes, process_id)
    if not auto and all(v is None for v in explicit):
        return False
    if jax.distributed.is_initialized():
        return True
    if any(v is None for v in explicit) and not auto:
        raise DistributedError("a multi-process job needs --coordinator HOST:PORT, --num-processes N and "
                               "--process-id I together (or --distributed to read them from the cluster)")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
    except (ValueError, TypeError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise DistributedError(f"could not join the multi-process job ({msg})") from None
    return True


def is_writer() -> bool:
    """Whether this process writes logs, pictures and reports (process 0)."""
    return jax.process_index() == 0


def mesh_size(cfg) -> int:
    return int(cfg.get("mesh", {}).get("data", 1))


def make_mesh(cfg, devices=None) -> Mesh:
    """The 1-D ("data",) mesh that `cfg.mesh.data` asks for; ConfigError when it cannot be built."""
    devices = list(jax.devices() if devices is None else devices)
    n, total, procs = mesh_size(cfg), len(devices), jax.process_count()
    platform = devices[0].platform
    if n == -1:
        n = total
    if n < 1:
        raise ConfigError(f"config key 'mesh.data' must be -1 (all devices) or a positive count, got {n}")
    if n > total:
        exist = f"{total} {platform} device{'s exist' if total != 1 else ' exists'}"
        raise ConfigError(f"config key 'mesh.data' asks for {n} devices but {exist}; use -1 for all devices")
    if n % procs:
        raise ConfigError(f"config key 'mesh.data' is {n}, not a multiple of the {procs} processes; every "
                          f"process must hold the same number of devices (use -1 for all {total})")
    batch = cfg.train.batch_size
    if batch % n:
        raise ConfigError(f"config key 'train.batch_size' (the global batch) is {batch}, not divisible by the "
                          f"{n} devices of mesh.data; use a multiple of {n}")
    per_process = n // procs
    chosen = [d for p in range(procs) for d in [d for d in devices if d.process_index == p][:per_process]]
    return Mesh(np.array(chosen), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(AXIS))


def replicate(tree, mesh: Mesh):
    """Place every leaf of `tree` (host or device arrays, equal on all processes) on all devices of `mesh`."""
    sharding = replicated(mesh)
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
    return jax.tree_util.tree_map(put, tree)


def abstract_replicated(abstract, mesh: Mesh):
    """ShapeDtypeStructs of `abstract` with the replicated sharding (the target of a checkpoint restore)."""
    sharding = replicated(mesh)
    return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract)


def shard_batch(batch, sharding: NamedSharding, batch_size: int):
    """Constrain (inside jit) each leaf whose leading dimension is the global batch to be split over the
    mesh's data axis; other leaves (e.g. a feature network's params carried in the batch) are left alone."""
    def constrain(x):
        if getattr(x, "ndim", 0) >= 1 and x.shape[0] == batch_size:
            return jax.lax.with_sharding_constraint(x, sharding)
        return x
    return jax.tree_util.tree_map(constrain, batch)


def any_process(flag: bool) -> bool:
    """True on every process if `flag` is true on any (e.g. a stop signal that reached one host only)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils
    return bool(np.any(multihost_utils.process_allgather(np.asarray(flag, np.int32))))


def sync(name: str) -> None:
    """A barrier across processes (a no-op in a single-process job)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)
