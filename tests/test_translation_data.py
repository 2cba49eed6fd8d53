"""Translation folders (CycleGAN / pix2pix layouts), crop+flip, built-in tasks."""

import re

import jax
import numpy as np
import pytest
from PIL import Image

from ganjax.data.builtin_tasks import load_builtin, tone_transform
from ganjax.data.translation import (center_crop, load_paired, load_translation,
                                     load_unpaired, random_crop_flip, random_crop_flip_pair)

RNG = np.random.RandomState(0)


def _save(path, shape, mode="RGB", color=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = RNG.randint(0, 256, shape, dtype=np.uint8) if color is None else \
        np.broadcast_to(np.asarray(color, np.uint8), shape)
    Image.fromarray(np.ascontiguousarray(arr), mode).save(path)


def _make_unpaired(root):
    _save(root / "trainA" / "a.png", (30, 40, 3))
    _save(root / "trainA" / "b.jpg", (50, 50, 3))
    _save(root / "trainA" / "c_gray.png", (20, 20), mode="L", color=77)
    _save(root / "trainA" / "d_bad.png", (64, 64, 3))
    data = (root / "trainA" / "d_bad.png").read_bytes()
    (root / "trainA" / "d_bad.png").write_bytes(data[: len(data) // 2])  # truncated
    (root / "trainA" / "notes.txt").write_text("not an image")
    for d, n in (("trainB", 2), ("testA", 1), ("testB", 1)):
        for i in range(n):
            _save(root / d / f"{i}.png", (24, 36, 3))


def test_unpaired_folders(tmp_path):
    _make_unpaired(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable .*d_bad\.png"):
        data = load_unpaired(tmp_path, load_size=16)
    assert not data.paired
    assert data.train_a.shape == (3, 16, 16, 3) and data.train_a.dtype == np.uint8
    assert data.train_b.shape == (2, 16, 16, 3)
    assert data.test_a.shape == data.test_b.shape == (1, 16, 16, 3)
    assert data.names_train_a == ("a.png", "b.jpg", "c_gray.png")
    assert len(data.skipped) == 1 and data.skipped[0].endswith("d_bad.png")
    np.testing.assert_array_equal(data.train_a[2], 77)  # grayscale file -> RGB

    with pytest.warns(UserWarning):
        gray = load_translation(tmp_path, channels=1, load_size=8)
    assert gray.train_a.shape == (3, 8, 8, 1) and not gray.paired


def test_missing_and_empty_folders(tmp_path):
    _make_unpaired(tmp_path)
    for f in (tmp_path / "trainB").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match="trainB has no image files"):
        load_unpaired(tmp_path, load_size=8)
    (tmp_path / "trainB").rmdir()
    with pytest.raises(ValueError, match=r"missing folder\(s\) trainB; expected"):
        load_unpaired(tmp_path, load_size=8)
    with pytest.raises(ValueError, match="expected the paired layout"):
        load_paired(tmp_path / "trainA")
    # a CycleGAN folder with trainA misnamed is reported as the unpaired layout's missing folder
    (tmp_path / "trainA").rename(tmp_path / "train_A")
    with pytest.raises(ValueError, match=r"missing folder\(s\) trainA, trainB; expected"):
        load_translation(tmp_path, load_size=8)


def test_paired_aligned_ab_images(tmp_path):
    for split, n in (("train", 2), ("test", 1)):
        for i in range(n):
            ab = np.zeros((20, 40, 3), np.uint8)
            ab[:, :20] = (200, 10, 10)   # A: left half, red
            ab[:, 20:] = (10, 10, 200)   # B: right half, blue
            _save(tmp_path / split / f"{i}.jpg", ab.shape, color=ab)
    data = load_paired(tmp_path, load_size=12)
    assert data.paired and data.train_a.shape == (2, 12, 12, 3)
    assert data.test_b.shape == (1, 12, 12, 3)
    assert data.train_a[..., 0].mean() > 180 and data.train_a[..., 2].mean() < 30
    assert data.train_b[..., 2].mean() > 180 and data.train_b[..., 0].mean() < 30
    swapped = load_paired(tmp_path, load_size=12, direction="BtoA")
    np.testing.assert_array_equal(swapped.train_a, data.train_b)


def test_paired_split_folders_matched_by_name(tmp_path):
    _save(tmp_path / "A" / "train" / "x.png", (16, 16, 3), color=(255, 0, 0))
    _save(tmp_path / "B" / "train" / "x.jpg", (16, 16, 3), color=(0, 0, 255))
    _save(tmp_path / "A" / "train" / "y.png", (16, 16, 3), color=(0, 255, 0))
    _save(tmp_path / "B" / "train" / "y.png", (16, 16), mode="L", color=128)
    _save(tmp_path / "A" / "train" / "orphan.png", (16, 16, 3))
    _save(tmp_path / "A" / "test" / "z.png", (16, 16, 3))
    _save(tmp_path / "B" / "test" / "z.png", (16, 16, 3))
    with pytest.warns(UserWarning, match="ignored 1 file"):
        data = load_translation(tmp_path, load_size=8)
    assert data.paired and data.names_train_a == ("x", "y")
    assert data.train_a[0, 0, 0].tolist() == [255, 0, 0]
    assert data.train_b[0, 0, 0, 2] > 240 and data.train_b[1, 0, 0].tolist() == [128] * 3


def _crops_of(image, crop):
    """Every crop of ``image`` and of its mirror, as float [-1, 1]."""
    h, w = image.shape[:2]
    out = []
    for img in (image, image[:, ::-1]):
        out += [img[y:y + crop, x:x + crop]
                for y in range(h - crop + 1) for x in range(w - crop + 1)]
    return (np.stack(out).astype(np.float32) - 127.5) / 127.5


def test_random_crop_flip_pair_stays_aligned():
    a = RNG.randint(0, 256, (16, 10, 12, 3), dtype=np.uint8)
    b = 255 - a[..., :1]
    fn = jax.jit(random_crop_flip_pair, static_argnames=("crop_size", "flip"))
    out_a, out_b = fn(jax.random.key(0), a, b, crop_size=8)
    assert out_a.shape == (16, 8, 8, 3) and out_b.shape == (16, 8, 8, 1)
    assert out_a.dtype == np.float32 and -1 <= float(out_a.min()) and float(out_a.max()) <= 1
    np.testing.assert_allclose(out_b, -out_a[..., :1], atol=1e-6)  # same crop and flip
    flipped = []
    for img, got in zip(a, np.asarray(out_a)):
        candidates = _crops_of(img, 8)
        idx = int(np.argmin(np.abs(candidates - got).reshape(len(candidates), -1).max(1)))
        np.testing.assert_allclose(candidates[idx], got, atol=1e-6)
        flipped.append(idx >= len(candidates) // 2)
    assert 0 < sum(flipped) < len(flipped)


def test_random_crop_without_flip_and_center_crop():
    a = RNG.randint(0, 256, (4, 9, 9, 3), dtype=np.uint8)
    out = np.asarray(random_crop_flip(jax.random.key(1), a, 9, flip=False))
    np.testing.assert_allclose(out, a.astype(np.float32) / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_allclose(center_crop(a, 5), a[:, 2:7, 2:7] / 127.5 - 1.0, atol=1e-6)


def _boxes(names):
    """{source: [(x0, y0, x1, y1)]} windows from built-in crop names."""
    boxes = {}
    for n in names:
        src, x, y, w = re.match(r"(\w+):x(\d+),y(\d+),w(\d+)", n).groups()
        boxes.setdefault(src, []).append((int(x), int(y), int(x) + int(w), int(y) + int(w)))
    return boxes


def test_builtin_colorize():
    data = load_builtin("colorize", size=64)
    assert data.paired and data.train_a.shape[1:] == (64, 64, 3) and data.train_a.dtype == np.uint8
    assert len(data.train_a) == len(data.train_b) > 500 and len(data.test_a) > 100
    assert np.all(data.train_a[..., 0] == data.train_a[..., 2])  # A is gray
    assert np.abs(data.test_b_truth.astype(int) - data.test_a).mean() > 5
    train, test = _boxes(data.names_train_a), _boxes(data.names_test_a)
    for src in test:  # every training window lies left of every test window
        assert max(x1 for _, _, x1, _ in train[src]) <= min(x0 for x0, _, _, _ in test[src])


def test_builtin_tone_is_unpaired_with_truth():
    data = load_builtin("tone", size=64)
    again = load_builtin("tone", size=64)
    np.testing.assert_array_equal(data.train_b, again.train_b)  # deterministic
    assert not data.paired and data.test_b_truth.shape == data.test_a.shape
    np.testing.assert_array_equal(data.test_b_truth, tone_transform(data.test_a))
    assert np.abs(data.test_b_truth.astype(int) - data.test_a).mean() > 5
    assert sorted(map(bytes, data.test_b)) == sorted(map(bytes, data.test_b_truth))
    box_a, box_b = _boxes(data.names_train_a), _boxes(data.names_train_b)
    assert set(box_a) == set(box_b)  # both domains are cut from every source photo
    for src in box_a:  # train A and train B never share a pixel
        for ax0, ay0, ax1, ay1 in box_a[src]:
            assert all(ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0 for bx0, by0, bx1, by1 in box_b[src])
    # ... and hold the same kind of content: the toned A and B brightness distributions agree (left and right
    # halves of the band differed by 21 levels at the median here, so a GAN matching B learnt the wrong curve)
    lum_a = tone_transform(data.train_a).astype(float).mean(-1)
    lum_b = data.train_b.astype(float).mean(-1)
    for q in (10, 50, 90):
        assert abs(np.percentile(lum_a, q) - np.percentile(lum_b, q)) <= 6, q
    with pytest.raises(ValueError, match="unknown built-in task"):
        load_builtin("sharpen")


def test_tone_gamma_analysis_prints_the_figures_docs_quote(capsys):
    """benchmarks/builtin_task_analysis.py gamma: a tone curve error alone decides the PSNR bar (no gamma
    24.65 dB, gamma 0.9 30.03, as docs/quality.md quotes), and tone(b) is brighter than b on train B."""
    import builtin_task_analysis

    builtin_task_analysis.gamma()
    out = capsys.readouterr().out
    assert "sepia matrix, gamma 1.0: 24.65 dB" in out
    assert "sepia matrix, gamma 0.9: 30.03 dB" in out
    assert "tone(b) - b on train B: mean +6.0 levels, median +9.0" in out


def test_exif_orientation_is_applied_when_reading(tmp_path):
    """A phone photo stored sideways with EXIF orientation 6 is read upright by training and translate alike."""
    from ganjax.data.translation import decode_image

    stored = np.zeros((10, 20, 3), np.uint8)  # 20 wide, 10 high as stored
    stored[:, :10] = (250, 0, 0)              # left half red
    exif = Image.Exif()
    exif[0x0112] = 6                          # display rotated 90° clockwise
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = np.asarray(decode_image(tmp_path / "phone.jpg", 3))
    assert upright.shape == (20, 10, 3)
    assert upright[2, 5, 0] > 200 and upright[-3, 5, 0] < 50  # the red half is now on top


def test_side_by_side_pairs_narrower_than_2_px_are_refused(tmp_path):
    for split in ("train", "test"):
        _save(tmp_path / split / "ok.png", (8, 16, 3))
    _save(tmp_path / "train" / "thin.png", (8, 1, 3))
    with pytest.raises(ValueError) as e:
        load_paired(tmp_path, load_size=8)
    assert str(e.value) == (f"{tmp_path / 'train' / 'thin.png'} is 1 px wide: a side-by-side A|B pair needs "
                            f"at least 2 px (A on the left half, B on the right)")
    (tmp_path / "train" / "thin.png").unlink()
    _save(tmp_path / "train" / "two.png", (8, 2, 3))  # 2 px: 1 px of A, 1 px of B
    assert load_paired(tmp_path, load_size=8).train_a.shape == (2, 8, 8, 3)


def test_translation_reads_16_bit_by_range_and_warns_when_colour_becomes_gray(tmp_path):
    from ganjax.data.translation import decode_image

    Image.fromarray(np.full((6, 6), 200 * 257, np.uint16)).save(tmp_path / "deep.png")
    assert np.asarray(decode_image(tmp_path / "deep.png", 3))[0, 0].tolist() == [200, 200, 200]
    _make_unpaired(tmp_path / "u")
    with pytest.warns(UserWarning) as caught:
        load_unpaired(tmp_path / "u", channels=1, load_size=8)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'u'}: skipped 1 unreadable image file(s) (d_bad.png)",
        f"{tmp_path / 'u'}: 6 colour image(s) converted to gray for a 1-channel model "
        f"(set data.channels=3 to keep colour)"]
