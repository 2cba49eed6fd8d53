"""TensorBoard event files: every metrics.jsonl number and every sample grid, read back from the files.

The reader parses the TFRecord framing (length, masked CRC-32C of the length, payload, masked CRC-32C of the
payload) with the protobuf classes tensorboardX ships, checks both checksums, and applies TensorBoard's
purge rule: a SessionLog.START event at step s hides earlier files' events at steps >= s.
"""
import glob
import io
import json
import os
import struct

import ml_collections
import numpy as np
import pytest
from PIL import Image
from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c

from ganjax.train.tensorboard import FOLDER, TensorBoard


def read_file(path):
    events, data, pos = [], open(path, "rb").read(), 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[pos + 8:pos + 12])[0] == masked_crc32c(header), path
        payload = data[pos + 12:pos + 12 + length]
        assert struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])[0] == masked_crc32c(payload), path
        events.append(event_pb2.Event.FromString(payload))
        pos += 16 + length
    return events


def read_events(run):
    """({tag: {step: value}}, {tag: {step: (height, width, PNG bytes)}}) as TensorBoard would show them."""
    files = glob.glob(os.path.join(run, FOLDER, "events.out.tfevents.*"))
    sessions = sorted((read_file(f) for f in files), key=lambda evs: evs[0].wall_time)
    scalars, images = {}, {}
    for events in sessions:
        for ev in events:
            if ev.HasField("session_log") and ev.session_log.status == event_pb2.SessionLog.START:
                for table in (scalars, images):
                    for tag in table:
                        table[tag] = {s: v for s, v in table[tag].items() if s < ev.step}
            for v in ev.summary.value:
                if v.HasField("image"):
                    images.setdefault(v.tag, {})[ev.step] = (v.image.height, v.image.width,
                                                             v.image.encoded_image_string)
                else:
                    scalars.setdefault(v.tag, {})[ev.step] = v.simple_value
    return scalars, images


def expected_scalars(rows):
    out = {}
    for r in rows:
        for k, v in r.items():
            if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                out.setdefault(k, {})[r["step"]] = v
    return out


def assert_same(scalars, rows):
    want = expected_scalars(rows)
    assert set(scalars) == set(want)
    for tag, by_step in want.items():
        assert sorted(scalars[tag]) == sorted(by_step), tag
        for step, v in by_step.items():
            assert scalars[tag][step] == pytest.approx(v, rel=1e-6), (tag, step)


def test_training_writes_every_metric_and_the_sample_grids(tiny_run):
    rows = [json.loads(line) for line in open(tiny_run / "metrics.jsonl")]
    scalars, images = read_events(str(tiny_run))
    assert_same(scalars, rows)
    assert {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm", "img_per_s"} <= set(scalars)
    assert sorted(images["samples"]) == [10, 20]  # sample_every=10, 20 steps
    h, w, png = images["samples"][20]
    grid = np.asarray(Image.open(io.BytesIO(png)))
    saved = np.asarray(Image.open(tiny_run / "samples" / "step_000020.png").convert("RGB"))
    assert grid.shape == (h, w, 3) and np.array_equal(grid, saved)  # the same pixels as the PNG grid


def _cfg(on=True):
    return ml_collections.ConfigDict({"train": {"tensorboard": on, "steps": 20}})


def _rows(steps, offset=0.0):
    return [{"d_loss": 0.5 + s + offset, "g_loss": 60.0 - s, "img_per_s": None if s == steps[0] else 100.0,
             "step": s, "time": 1.0e9 + s} for s in steps]


def test_a_resumed_session_hides_the_steps_it_redoes(tmp_path):
    """Session 1 logs steps 5..20 but its last checkpoint is step 10; session 2 resumes there and logs
    15, 20 again: TensorBoard shows each step once, the second session's values where they were redone."""
    first, second = _rows([5, 10, 15, 20]), _rows([15, 20], offset=100.0)
    tb = TensorBoard(str(tmp_path), _cfg(), resume_step=0)
    for r in first:
        tb.scalars(r)
    tb.close()
    tb = TensorBoard(str(tmp_path), _cfg(), resume_step=10)
    for r in second:
        tb.scalars(r)
    tb.images(20, np.zeros((4, 8, 8, 1), np.float32))
    tb.close()
    assert len(glob.glob(str(tmp_path / FOLDER / "events.out.tfevents.*"))) == 2  # one file per session
    scalars, images = read_events(str(tmp_path))
    assert_same(scalars, first[:2] + second)
    assert "img_per_s" in scalars and 5 not in scalars["img_per_s"]  # None (the first dispatch) is skipped
    assert list(images["samples"]) == [20]


def test_off_by_config_and_on_other_processes(tmp_path):
    for on, enabled in ((False, True), (True, False)):
        tb = TensorBoard(str(tmp_path), _cfg(on), enabled=enabled)
        tb.scalars(_rows([5])[0])
        tb.images(5, np.zeros((1, 8, 8, 3)))
        tb.close()
    assert not (tmp_path / FOLDER).exists()
    old = ml_collections.ConfigDict({"train": {"steps": 20}})  # a run folder from before the key: on
    TensorBoard(str(tmp_path), old).close()
    assert (tmp_path / FOLDER).is_dir()
