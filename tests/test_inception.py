"""ganjax's FID Inception equals pytorch-fid's model: replayed from tests/fixtures/inception_equality.npz, which
benchmarks/inception_equality.py writes from pytorch-fid itself (same numpy weight recipe, same pictures)."""
import os

import numpy as np
import pytest

from ganjax.errors import UsageError
from ganjax.metrics import inception as inc
from ganjax.metrics import inception_convert as conv

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "inception_equality.npz")


@pytest.fixture(scope="module")
def fixture():
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _fid_low_rank(a, b):
    """The FID formula, exact for fewer samples than dimensions: Tr((ΣaΣb)^½) is the sum of the singular values of
    Aᶜ·Bᶜᵀ/√((na−1)(nb−1)) (centred features). frechet_distance's 2048×2048 sqrtm takes over a minute on 2 cores;
    this takes milliseconds and is checked against the fixture's frechet_distance number below."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ac, bc = (a - a.mean(0)) / np.sqrt(len(a) - 1), (b - b.mean(0)) / np.sqrt(len(b) - 1)
    tr_sqrt = np.linalg.svd(ac @ bc.T, compute_uv=False).sum()
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.sum(ac * ac) + np.sum(bc * bc) - 2 * tr_sqrt)


def test_features_and_fid_equal_pytorch_fids(fixture, tmp_path):
    recipe = {k[len("recipe_"):]: fixture[k].item() for k in fixture if k.startswith("recipe_")}
    path = tmp_path / "inception_random.npz"
    conv.save_npz(conv.convert_state_dict(conv.random_state_dict(**recipe)), str(path))
    params = inc.load_inception(path)
    images = np.concatenate([fixture["images_a"], fixture["images_b"]])
    ref = np.concatenate([fixture["features_a"], fixture["features_b"]])
    ours = inc.inception_features(images, params, batch_size=len(images))
    assert ours.shape == (len(images), 2048) and ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max()
    n = len(fixture["images_a"])
    assert _fid_low_rank(ref[:n], ref[n:]) == pytest.approx(float(fixture["fid"]), rel=1e-6)
    assert _fid_low_rank(ours[:n], ours[n:]) == pytest.approx(float(fixture["fid"]), rel=1e-3)


def test_input_conventions():
    """uint8 [0, 255] and float [-1, 1] reach the network as the same [0, 1] pictures; 1 channel → 3."""
    u8 = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    as_u8 = np.asarray(inc._to_unit_range(u8))
    as_float = np.asarray(inc._to_unit_range(u8.astype(np.float32) * (2 / 255) - 1))
    assert as_u8.shape == (1, 16, 16, 3) and np.array_equal(as_u8[..., 0], as_u8[..., 2])
    np.testing.assert_allclose(as_u8[0, :, :, 0].ravel(), np.arange(256) / 255, atol=1e-7)
    np.testing.assert_allclose(as_float, as_u8, atol=2e-7)


def test_bad_images_are_usage_errors():
    params = {}  # never reached: the images are checked first
    for bad in (np.zeros((2, 8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.uint8), np.zeros((1, 8, 8, 3), np.int32),
                np.full((1, 8, 8, 3), 255.0, np.float32)):
        with pytest.raises(UsageError):
            inc.inception_features(bad, params)


def test_bilinear_resize_by_hand_and_against_torch(fixture):
    # 4 → 8 (up): source x = (i + 0.5)/2 − 0.5, clamped at 0; the last one clamps to the edge pixel.
    up = inc.resize_bilinear(np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1), (8, 1))
    np.testing.assert_allclose(np.asarray(up).ravel(), [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol=1e-7)
    # 4 → 2 (down): source x = 0.5 and 2.5, two taps each, no antialias (an antialiased resize gives ≠ [5, 0]).
    down = inc.resize_bilinear(np.array([0, 10, 0, 0], np.float32).reshape(1, 1, 4, 1), (1, 2))
    np.testing.assert_allclose(np.asarray(down).ravel(), [5, 0], atol=1e-6)
    # Both axes at once, separable: the outer product of the two 1-D results.
    img = np.outer(np.arange(4.0), [0, 10, 0, 0]).astype(np.float32).reshape(1, 4, 4, 1)
    both = np.asarray(inc.resize_bilinear(img, (8, 2)))[0, :, :, 0]
    np.testing.assert_allclose(both, np.outer([0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], [5, 0]), atol=1e-5)
    # Same size: unchanged. Every row of an interpolation matrix sums to 1.
    assert inc.resize_bilinear(img, (4, 4)) is img
    for n_in, n_out in ((48, 299), (512, 299), (300, 299), (7, 3)):
        np.testing.assert_allclose(inc.bilinear_matrix(n_in, n_out).sum(1), 1, atol=1e-6)
    # F.interpolate(mode="bilinear", align_corners=False) outputs recorded by the benchmark (NCHW).
    for i in range(len(fixture["resize_cases"])):
        x, want = fixture[f"resize_in_{i}"], fixture[f"resize_out_{i}"]
        got = np.asarray(inc.resize_bilinear(x.transpose(1, 2, 0)[None], want.shape[1:]))[0].transpose(2, 0, 1)
        np.testing.assert_allclose(got, want, atol=3e-7)


def _one_line_error(fn, *args) -> str:
    with pytest.raises(UsageError) as e:
        fn(*args)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_missing_weights_say_where_they_come_from(tmp_path):
    for path in (None, tmp_path / "nowhere.npz"):
        msg = _one_line_error(inc.load_inception, path)
        assert inc.WEIGHTS_FILE in msg and inc.WEIGHTS_URL in msg
        assert "python -m ganjax.metrics.inception_convert" in msg
    assert inc.WEIGHTS_FILE == "pt_inception-2015-12-05-6726825d.pth"
    assert inc.WEIGHTS_URL == ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                               "pt_inception-2015-12-05-6726825d.pth")


def test_wrong_files_are_one_line_usage_errors(tmp_path):
    cases = {}
    cases["text.npz"] = tmp_path / "text.npz"
    cases["text.npz"].write_text("not weights")
    cases["other.npz"] = tmp_path / "other.npz"
    np.savez(cases["other.npz"], w=np.zeros(3))
    cases["pickled.npy"] = tmp_path / "pickled.npy"
    np.save(cases["pickled.npy"], np.array([{"a": 1}], dtype=object), allow_pickle=True)
    good = {k: np.zeros(s, np.float32) for k, s in inc.param_shapes().items()}
    good["Mixed_5b/branch1x1/conv/kernel"] = np.zeros((1, 1, 192, 63), np.float32)
    cases["shape.npz"] = tmp_path / "shape.npz"
    np.savez(cases["shape.npz"], **good)
    for name, path in cases.items():
        msg = _one_line_error(inc.load_inception, path)
        assert str(path) in msg and "python -m ganjax.metrics.inception_convert" in msg, name
    # The PyTorch checkpoint itself (a zip with data.pkl) is recognised and sent to the converter.
    import zipfile
    pth = tmp_path / inc.WEIGHTS_FILE
    with zipfile.ZipFile(pth, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    assert "PyTorch checkpoint" in _one_line_error(inc.load_inception, pth)


def test_converter_checks_names_and_shapes():
    sd = conv.random_state_dict(0)
    assert len(sd) == len(inc.param_shapes()) == 470 and sum(v.size for v in sd.values()) == 21_820_000
    flat = conv.convert_state_dict(dict(sd, **{"fc.weight": np.zeros((1008, 2048)), "fc.bias": np.zeros(1008),
                                              "Mixed_5b.branch1x1.bn.num_batches_tracked": np.zeros(())}))
    k = sd["Mixed_6b.branch7x7_2.conv.weight"]  # OIHW (128, 128, 1, 7) → HWIO (1, 7, 128, 128)
    np.testing.assert_array_equal(flat["Mixed_6b/branch7x7_2/conv/kernel"], k.transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(flat["Mixed_7c/branch_pool/bn/var"], sd["Mixed_7c.branch_pool.bn.running_var"])
    missing = dict(sd)
    del missing["Conv2d_1a_3x3.bn.running_var"]
    assert "Conv2d_1a_3x3.bn.running_var" in _one_line_error(conv.convert_state_dict, missing)
    aux = dict(sd, **{"AuxLogits.conv0.conv.weight": np.zeros((128, 768, 1, 1))})
    assert "torchvision" in _one_line_error(conv.convert_state_dict, aux)
    assert conv.main(["/nonexistent/" + inc.WEIGHTS_FILE, "/nonexistent/out.npz"]) == 2
