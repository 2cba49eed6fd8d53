import gzip
import struct
import time

import jax
import ml_collections
import numpy as np
import pytest
from PIL import Image

from ganjax.data import DataError, batch_indices, load_dataset, to_float, to_uint8


def data_cfg(source, **kw):
    base = dict(source=source, holdout=0.2, limit=0, resize=False, tfds_dir="")
    return ml_collections.ConfigDict({**base, **kw})


def write_idx(path, array, gz):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_digits_offline_default():
    ds = load_dataset(data_cfg("digits"), 28, 1)
    assert ds.train.shape == (1438, 28, 28, 1) and ds.test.shape == (359, 28, 28, 1)
    assert ds.train.dtype == np.uint8 and ds.num_classes == 10
    x = np.asarray(to_float(ds.train[:8]))
    assert x.min() >= -1 and x.max() <= 1 and x.max() > 0.9  # real strokes reach white


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_gz_or_raw(tmp_path, gz):
    imgs = np.random.RandomState(0).randint(0, 256, (50, 28, 28))
    ext = ".gz" if gz else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", imgs, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", np.arange(50) % 10, gz)
    ds = load_dataset(data_cfg(f"idx:{tmp_path}"), 28, 1)
    assert ds.train.shape == (40, 28, 28, 1) and ds.test.shape == (10, 28, 28, 1)
    np.testing.assert_array_equal(ds.train[..., 0], imgs[:40])
    np.testing.assert_array_equal(ds.test_labels, np.arange(40, 50) % 10)


def test_idx_truncated_and_missing(tmp_path):
    write_idx(tmp_path / "x-images-idx3-ubyte", np.zeros((5, 4, 4)), False)
    raw = (tmp_path / "x-images-idx3-ubyte").read_bytes()
    (tmp_path / "x-images-idx3-ubyte").write_bytes(raw[:-3])
    with pytest.raises(DataError, match="truncated"):
        load_dataset(data_cfg(f"idx:{tmp_path}"), 28, 1)
    with pytest.raises(DataError, match="data path not found"):
        load_dataset(data_cfg(f"idx:{tmp_path}/nope"), 28, 1)


def _save(path, size, mode="RGB"):
    Image.new(mode, size, color=128 if mode == "L" else (200, 30, 30)).save(path)


def test_folder_labels_from_subfolders(tmp_path):
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            _save(tmp_path / cls / f"{i}.png", (32, 32))
    ds = load_dataset(data_cfg(f"folder:{tmp_path}", holdout=0.0), 32, 3)
    assert ds.train.shape == (6, 32, 32, 3) and sorted(set(ds.train_labels)) == [0, 1]


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no images"):
        load_dataset(data_cfg(f"folder:{tmp_path}"), 32, 3)
    _save(tmp_path / "a.png", (32, 32))
    _save(tmp_path / "b.jpg", (40, 32))
    with pytest.raises(DataError, match="mixed sizes.*resize=true"):
        load_dataset(data_cfg(f"folder:{tmp_path}"), 32, 3)
    with pytest.warns(UserWarning, match="2 colour image\\(s\\) converted to gray"):
        ds = load_dataset(data_cfg(f"folder:{tmp_path}", resize=True, holdout=0.0), 16, 1)
    assert ds.train.shape == (2, 16, 16, 1)


def test_unknown_source():
    with pytest.raises(DataError, match="unknown data source 'mnist'"):
        load_dataset(data_cfg("mnist"), 28, 1)


def test_tfds_offline_fails_fast(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    t0 = time.time()
    with pytest.raises(DataError, match="not available offline|did not load"):
        load_dataset(data_cfg("tfds:mnist", tfds_dir=str(tmp_path)), 28, 1)
    assert time.time() - t0 < 10


def test_batch_indices_are_epoch_permutations():
    key = jax.random.PRNGKey(0)
    n, b = 20, 5
    epoch0 = np.concatenate([np.asarray(batch_indices(key, s, n, b)) for s in range(4)])
    epoch1 = np.concatenate([np.asarray(batch_indices(key, s, n, b)) for s in range(4, 8)])
    assert sorted(epoch0) == list(range(n)) and sorted(epoch1) == list(range(n))
    assert not np.array_equal(epoch0, epoch1)


def test_uint8_round_trip():
    u = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    np.testing.assert_array_equal(to_uint8(to_float(u)), u)


# --- folder listing, IDX headers, pixel depths, unreadable files, warnings (issues #16, #17) ---

import os
import threading
import warnings

from ganjax.data.sources import list_images


def _listing_within(path, seconds=10.0):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("files", list_images(str(path))), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"listing {path} did not finish within {seconds} s"
    return out["files"]


def test_folder_symlink_loops_are_entered_once(tmp_path):
    for i in range(3):
        _save(tmp_path / f"{i}.png", (8, 8), "L")
    os.symlink(".", tmp_path / "loop1")  # each link leads back to the folder itself
    os.symlink(".", tmp_path / "loop2")
    (tmp_path / "sub").mkdir()
    os.symlink("..", tmp_path / "sub" / "up")  # and to the parent
    files = _listing_within(tmp_path)
    assert [os.path.basename(f) for f in files] == ["0.png", "1.png", "2.png"]
    ds = load_dataset(data_cfg(f"folder:{tmp_path}", holdout=0.0), 8, 1)
    assert ds.train.shape == (3, 8, 8, 1)


def test_folder_symlink_to_another_folder_is_followed(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "data").mkdir()
    _save(tmp_path / "real" / "a.png", (8, 8), "L")
    os.symlink(tmp_path / "real", tmp_path / "data" / "linked")
    assert [os.path.relpath(f, tmp_path / "data") for f in _listing_within(tmp_path / "data")] == ["linked/a.png"]


def _idx(path, raw, gz=False):
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(raw)
    return path


@pytest.mark.parametrize("name,raw,message", [
    ("ndim255", b"\x00\x00\x08\xff" + b"\x00" * 40,
     "{p}: IDX header says 255 dimensions; expected 1 to 4"),
    ("five_bytes", b"\x00\x00\x08\x03\x00",
     "{p} is truncated: 5 bytes, shorter than its 16-byte IDX header"),
    ("absurd_dims", b"\x00\x00\x08\x03" + np.array([2 ** 32 - 1] * 3, ">u4").tobytes() + b"\x00" * 10,
     "{p} is truncated: header says (4294967295, 4294967295, 4294967295), found 10 values"),
    ("too_long", b"\x00\x00\x08\x03" + np.array([1, 2, 2], ">u4").tobytes() + b"\x00" * 5,
     "{p} is longer than its header says: header says (1, 2, 2), found 5 values"),
    ("bad_magic", b"\x00\x00\x0d\x03" + np.array([1, 1, 1], ">u4").tobytes() + b"\x00",
     "{p} is not an unsigned-byte IDX file (bad magic number)"),
    ("empty", b"", "{p} is not an unsigned-byte IDX file (bad magic number)"),
])
def test_bad_idx_headers_are_one_line_naming_the_file(tmp_path, name, raw, message):
    p = _idx(tmp_path / f"{name}-images-idx3-ubyte", raw)
    with pytest.raises(DataError) as e:
        load_dataset(data_cfg(f"idx:{p}"), 28, 1)
    assert str(e.value) == message.format(p=p)


def test_corrupt_gzip_idx_is_one_line_naming_the_file(tmp_path):
    good = gzip.compress(b"\x00\x00\x08\x03" + np.array([4, 8, 8], ">u4").tobytes() + bytes(256))
    bad = good[:12] + bytes(b ^ 0x5A for b in good[12:-8]) + good[-8:]  # header intact, deflate body garbage
    p = tmp_path / "x-images-idx3-ubyte.gz"
    p.write_bytes(bad)
    with pytest.raises(DataError, match=rf"^cannot read IDX file {p}: ") as e:
        load_dataset(data_cfg(f"idx:{p}"), 28, 1)
    assert "\n" not in str(e.value)
    p.write_bytes(good[: len(good) // 2])  # cut short
    with pytest.raises(DataError, match=rf"^cannot read IDX file {p}: "):
        load_dataset(data_cfg(f"idx:{p}"), 28, 1)


def test_16_bit_png_is_scaled_by_its_range(tmp_path):
    values = np.arange(64, dtype=np.uint16).reshape(8, 8) * 4  # 8-bit values 0..252
    Image.fromarray(values * 257).save(tmp_path / "deep.png")  # the same picture at 16 bits
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode.startswith("I")  # Pillow keeps 16 bits
    ds = load_dataset(data_cfg(f"folder:{tmp_path}", holdout=0.0), 8, 1)
    np.testing.assert_array_equal(ds.train[0, ..., 0], values)


@pytest.mark.parametrize("scale", [1.0, 255.0])
def test_float_tiff_is_scaled_by_its_range(tmp_path, scale):
    values = np.arange(64, dtype=np.float32).reshape(8, 8) * 4
    Image.fromarray(values / 255.0 * scale).save(tmp_path / "f.tif")
    with Image.open(tmp_path / "f.tif") as im:
        assert im.mode == "F"
    ds = load_dataset(data_cfg(f"folder:{tmp_path}", holdout=0.0), 8, 1)
    np.testing.assert_array_equal(ds.train[0, ..., 0], values.astype(np.uint8))


def test_unreadable_and_out_of_range_images_are_skipped_with_a_count(tmp_path):
    for i in range(3):
        _save(tmp_path / f"ok{i}.png", (8, 8), "L")
    (tmp_path / "bad1.png").write_bytes(b"not a png")
    (tmp_path / "bad2.jpg").write_bytes(b"\xff\xd8\xff garbage")
    Image.fromarray(np.full((8, 8), -3.0, np.float32)).save(tmp_path / "neg.tif")  # no known range: refused
    with pytest.warns(UserWarning) as caught:
        ds = load_dataset(data_cfg(f"folder:{tmp_path}", holdout=0.0), 8, 1)
    assert ds.train.shape == (3, 8, 8, 1)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path}: skipped 3 unreadable image file(s) (bad1.png, bad2.jpg, neg.tif)"]


def test_no_readable_image_is_an_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"y")
    with pytest.raises(DataError) as e:
        load_dataset(data_cfg(f"folder:{tmp_path}"), 8, 1)
    assert str(e.value) == f"none of the 2 image file(s) in {tmp_path} could be read (a.png, b.png)"


def test_colour_to_gray_warns_once_and_gray_rgb_does_not(tmp_path):
    _save(tmp_path / "red.png", (8, 8))  # colour
    Image.new("RGB", (8, 8), (90, 90, 90)).save(tmp_path / "grey_rgb.png")  # gray stored as RGB
    with pytest.warns(UserWarning) as caught:
        load_dataset(data_cfg(f"folder:{tmp_path}", holdout=0.0), 8, 1)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path}: 1 colour image(s) converted to gray for a 1-channel model (set model.channels=3 to keep colour)"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(data_cfg(f"folder:{tmp_path}", holdout=0.0), 8, 3)  # nothing lost: no warning


def test_training_set_smaller_than_a_batch_warns():
    key = jax.random.PRNGKey(0)
    with pytest.warns(UserWarning) as caught:
        jax.jit(lambda s: batch_indices(key, s, 24, 64))(0)
    assert [str(w.message) for w in caught] == [
        "the training set holds 24 image(s), fewer than one batch of 64: every batch repeats images "
        "(drawn with replacement)"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch_indices(key, 0, 64, 64)


def test_colour_arrays_to_gray_warn_with_the_source():
    from ganjax.data import _match_channels

    x = np.zeros((3, 4, 4, 3), np.uint8)
    x[0, ..., 0] = 200  # one red image, two black ones
    with pytest.warns(UserWarning) as caught:
        assert _match_channels(x, 1, "tfds:cifar10").shape == (3, 4, 4, 1)
    assert [str(w.message) for w in caught] == [
        "tfds:cifar10: 1 colour image(s) converted to gray for a 1-channel model (set model.channels=3 to keep colour)"]
