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
