"""ganjax.atomic: temporary files created exclusively (never through an existing file or symlink), replaced
onto their target in one step, removed on failure."""
import os

import numpy as np
import pytest
from PIL import Image

import ganjax.atomic as atomic


def test_replacing_writes_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with atomic.replacing(str(target)) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["a.bin"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(str(target)) as f:
            f.write(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


def test_existing_files_and_symlinks_at_the_temporary_name_are_skipped(tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.symlink(victim, tmp_path / ".x.png.aaaa.tmp")
    (tmp_path / ".x.png.bbbb.tmp").write_text("someone else's")
    names = iter(["aaaa", "bbbb", "cccc"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(names))
    atomic.save_image(Image.fromarray(np.full((4, 4), 9, np.uint8)), str(tmp_path / "x.png"))
    assert victim.read_text() == "precious" and (tmp_path / ".x.png.bbbb.tmp").read_text() == "someone else's"
    with Image.open(tmp_path / "x.png") as im:
        assert im.format == "PNG" and np.asarray(im).tolist() == [[9] * 4] * 4
    assert not os.path.exists(tmp_path / ".x.png.cccc.tmp")


def test_format_follows_the_suffix_and_permissions_follow_the_umask(tmp_path):
    atomic.save_image(Image.new("RGB", (4, 4)), str(tmp_path / "x.jpg"))
    with Image.open(tmp_path / "x.jpg") as im:
        assert im.format == "JPEG"
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(tmp_path / "x.jpg").st_mode & 0o777 == 0o666 & ~mask


def test_save_arrays_round_trips_without_pickle_and_refuses_objects(tmp_path):
    path = str(tmp_path / "a.npz")
    atomic.save_arrays(path, {"labels": np.array([2, 0, 1], np.int32), "shares": np.array([0.5, 0.5])})
    with np.load(path, allow_pickle=False) as f:
        np.testing.assert_array_equal(f["labels"], [2, 0, 1])
        assert f["labels"].dtype == np.int32 and f["shares"].tolist() == [0.5, 0.5]
    atomic.save_arrays(path, {"images": np.zeros((2, 3), np.uint8)}, compressed=True)  # replaces the file
    with np.load(path, allow_pickle=False) as f:
        assert list(f.keys()) == ["images"] and f["images"].shape == (2, 3)
    with pytest.raises(ValueError, match="object arrays would need pickle"):
        atomic.save_arrays(path, {"x": np.array([{"a": 1}], dtype=object)})
    with np.load(path, allow_pickle=False) as f:  # the earlier file is untouched
        assert list(f.keys()) == ["images"]
    assert sorted(os.listdir(tmp_path)) == ["a.npz"]
