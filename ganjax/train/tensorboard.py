"""TensorBoard event files in RUN/tensorboard/: every number of metrics.jsonl and every sample grid.

  tensorboard --logdir runs/        # every run below runs/, one curve per run

Written through tensorboardX (no TensorFlow needed) by process 0 only; `train.tensorboard=false` turns it
off. Each training session writes its own event file. A resumed session starts with a purge marker at
the first step it redoes, so TensorBoard hides what the previous session logged past the checkpoint it
resumed from, just as metrics.jsonl is cut back to that checkpoint: no step appears twice.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

FOLDER = "tensorboard"
NOT_SCALARS = ("step", "time", "event")


class TensorBoard:
    """Mirror of metrics.jsonl rows and sample grids as TensorBoard events; a no-op when disabled."""

    def __init__(self, workdir: str, cfg, resume_step: int = 0, enabled: bool = True):
        self.writer = None
        if not (enabled and cfg.get("train", {}).get("tensorboard", True)):
            return
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            from ganjax.errors import UsageError
            raise UsageError("TensorBoard logging needs tensorboardX: pip install 'tensorboardX>=2.6', or turn it "
                             "off with --config.train.tensorboard=false") from None
        self.writer = SummaryWriter(
            logdir=os.path.join(workdir, FOLDER), purge_step=int(resume_step) + 1, flush_secs=30,
            # tensorboardX names files by the second and opens them with "wb": a session that starts within
            # the same second as the last one must not overwrite its file
            filename_suffix=f".{os.getpid()}.{time.time_ns()}")

    def scalars(self, row: dict) -> None:
        """One metrics.jsonl row: every finite number except step and time, tagged with its key."""
        if self.writer is None or "step" not in row:
            return
        step, walltime = int(row["step"]), row.get("time")
        for key, value in row.items():
            if key in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                self.writer.add_scalar(key, float(value), step, walltime=walltime)
        self.writer.flush()

    def images(self, step: int, images, nrow: int | None = None, tag: str = "samples") -> None:
        """A sample grid ((N, H, W, C) in [-1, 1] or uint8), as it is saved to samples/step_*.png."""
        if self.writer is None:
            return
        from ganjax import report

        grid = report.grid_image(images, nrow)
        if grid.shape[-1] == 1:
            grid = np.repeat(grid, 3, axis=-1)
        self.writer.add_image(tag, grid, int(step), dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
