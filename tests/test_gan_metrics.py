"""Known answers for the feature-set metrics: KID, precision/recall, density/coverage, Fréchet distance."""
import warnings

import numpy as np
import pytest
import threadpoolctl
from scipy.spatial.distance import cdist

import ganjax.metrics.kernel_distance as kid_module
import ganjax.metrics.knn_metrics as prdc_module
from ganjax.errors import UsageError
from ganjax.metrics.frechet import frechet_distance
from ganjax.metrics.kernel_distance import KIDResult, kid, polynomial_mmd2
from ganjax.metrics.knn_metrics import density_coverage, prdc, precision_recall


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """These matrices are small: on a loaded 2-core machine BLAS threads only wait for each other
    (a 300 x 16 x 300 product ran 25x slower with two threads than with one)."""
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def _gauss(n, d, seed, shift=0.0, scale=1.0):
    return np.random.default_rng(seed).standard_normal((n, d)) * scale + shift


def poly_mmd2_shifted_gaussians(q: float, d: int) -> float:
    """Population MMD² between N(0, I_d) and N(μ, I_d), q = ‖μ‖², under k(x, y) = (x·y/d + 1)^3.

    Write k = 1 + 3u/d + 3u²/d² + u³/d³ with u = x·y. For independent x ~ N(a, I), y ~ N(b, I), put
    x = a + e, y = b + f (e, f ~ N(0, I) independent) and c = a·b; then u = c + A + B + C with
    A = a·f, B = e·b, C = e·f, all of mean 0, pairwise uncorrelated, Var A = ‖a‖², Var B = ‖b‖²,
    Var C = d. So
        E u  = c,
        E u² = c² + ‖a‖² + ‖b‖² + d,
        E u³ = c³ + 3c(‖a‖² + ‖b‖² + d) + E(A+B+C)³,
    and in E(A+B+C)³ every term vanishes (odd in e or in f, or a Gaussian third moment) except
    6 E[ABC] = 6 E_f[(a·f)(b·f)] = 6c. Hence E u³ = c³ + 3c(‖a‖² + ‖b‖² + d) + 6c.
    The three expectations of MMD² = E k(X,X') + E k(Y,Y') - 2 E k(X,Y):
        E k(X,X') (a = b = 0):  1 + 3/d
        E k(Y,Y') (a = b = μ):  1 + 3q/d + 3(q² + 2q + d)/d² + (q³ + 3q(2q + d) + 6q)/d³
        E k(X,Y)  (a = 0, b = μ): 1 + 3(q + d)/d²
    which sum to
        MMD² = 3q/d + 3q²/d² + 3q/d² + q³/d³ + 6q²/d³ + 6q/d³   (0 at q = 0).
    """
    return 3 * q / d + 3 * q ** 2 / d ** 2 + 3 * q / d ** 2 + q ** 3 / d ** 3 + 6 * q ** 2 / d ** 3 + 6 * q / d ** 3


# ----------------------------------------------------------------------------------------------- KID

D, SHIFT = 16, 0.5  # ‖μ‖² = 16 · 0.25 = 4; population MMD² = 1.0293
X = _gauss(1500, D, 0)
Y = _gauss(1500, D, 1, shift=SHIFT)


def test_kid_shifted_gaussians_match_closed_form():
    truth = poly_mmd2_shifted_gaussians(D * SHIFT ** 2, D)
    assert truth == pytest.approx(1.029296875)
    r = kid(X, Y, num_subsets=40, subset_size=300, seed=0)
    assert isinstance(r, KIDResult) and r.subset_size == 300 and r.num_subsets == 40
    # Each subset's estimate is unbiased with spread kid_std; the mean of (correlated) subset estimates
    # spreads at most as much as one of them, so a 3-sigma band is conservative.
    assert abs(r.kid - truth) < 3 * r.kid_std, (r, truth)
    assert 0.01 < r.kid_std < 0.2
    # the plain estimator on all rows agrees too (its own spread is about kid_std * sqrt(300/1500))
    assert abs(polynomial_mmd2(Y, X) - truth) < 3 * r.kid_std * np.sqrt(300 / 1500)


def test_kid_identical_sets_is_near_zero():
    r = kid(X, X, num_subsets=20, subset_size=300, seed=0)
    shifted = kid(X, Y, num_subsets=20, subset_size=300, seed=0).kid
    assert abs(r.kid) < 0.03 * shifted  # next to a shift of half a standard deviation per coordinate
    # Subsets drawn from one finite set: the within-set sums never pair a row with itself, the cross
    # sum does (with chance 1/n), so the expectation is 2 (S_off/(n(n-1)) - S_all/n²) <= 0 — why an
    # identical-set KID comes out slightly negative. S_* are sums of k over pairs of X's rows.
    n = len(X)
    k = X @ X.T / D + 1
    k = k * k * k
    expected = 2 * ((k.sum() - np.trace(k)) / (n * (n - 1)) - k.sum() / n ** 2)
    assert expected < 0
    assert abs(r.kid - expected) < 3 * r.kid_std


def test_kid_far_apart_sets_is_large():
    far = _gauss(300, D, 2, shift=50.0)
    r = kid(X[:300], far, num_subsets=10, subset_size=300, seed=0)
    truth = poly_mmd2_shifted_gaussians(D * 50.0 ** 2, D)  # ≈ 1.6e7, dominated by q³/d³
    assert r.kid > 1e6 and abs(r.kid - truth) < 0.05 * truth


def _kid_torch_fidelity(f1, f2, num_subsets, m, seed):
    """torch-fidelity's kid_features_to_metric + mmd2(unbiased), transcribed naively (float64)."""
    rng = np.random.RandomState(seed)
    d = f1.shape[1]
    mmds = []
    for _ in range(num_subsets):
        a = f1[rng.choice(len(f1), m, replace=False)]
        b = f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = ((a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3)
        mmds.append((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / m ** 2)
    return np.mean(mmds), np.std(mmds)


def _kid_clean_fid(feats1, feats2, num_subsets, m, rng):
    """clean-fid's kernel_distance, transcribed (its x comes from feats2)."""
    n = feats1.shape[1]
    t = 0
    for _ in range(num_subsets):
        x = feats2[rng.choice(feats2.shape[0], m, replace=False)]
        y = feats1[rng.choice(feats1.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return t / num_subsets / m


def test_kid_matches_torch_fidelity_and_clean_fid_formulas(monkeypatch):
    real, fake = X[:400], Y[:350]
    monkeypatch.setattr(kid_module, "_BLOCK_BYTES", 8 * 350 * 7)  # kernel sums in blocks of 7 rows
    r = kid(real, fake, num_subsets=5, subset_size=100, seed=2020)
    mean, std = _kid_torch_fidelity(fake, real, 5, 100, 2020)  # torch-fidelity: input1 = generated
    assert r.kid == pytest.approx(mean, rel=1e-12) and r.kid_std == pytest.approx(std, rel=1e-9)
    # clean-fid: same estimator, same draws when its RNG hands out the same indices
    assert r.kid == pytest.approx(_kid_clean_fid(real, fake, 5, 100, np.random.RandomState(2020)), rel=1e-12)


def test_kid_std_shrinks_with_subset_size_and_seed_reproduces():
    small = kid(X, Y, num_subsets=30, subset_size=50, seed=3)
    large = kid(X, Y, num_subsets=30, subset_size=400, seed=3)
    assert large.kid_std < small.kid_std / 2  # about sqrt(400/50) = 2.8 times smaller
    assert kid(X, Y, num_subsets=30, subset_size=50, seed=3) == small
    assert kid(X, Y, num_subsets=30, subset_size=50, seed=4).kid != small.kid
    assert small.as_dict() == {"kid": small.kid, "kid_std": small.kid_std, "subset_size": 50, "num_subsets": 30}


def test_kid_clips_subset_size_with_a_warning():
    with pytest.warns(UserWarning, match=r"subset_size 1000 clipped to 200 = min\(n_real=300, n_fake=200\)"):
        r = kid(X[:300], Y[:200], num_subsets=3)
    assert r.subset_size == 200
    with pytest.warns(UserWarning):
        whole = kid(X[:200], Y[:200], num_subsets=3)
    assert whole.kid_std == pytest.approx(0.0, abs=1e-12)  # every subset is the whole set
    assert whole.kid == pytest.approx(polynomial_mmd2(Y[:200], X[:200]), rel=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kid(X[:300], Y[:300], num_subsets=2, subset_size=300)  # no clipping, no warning


# ----------------------------------------------------------------- precision / recall / density / coverage

# 1-D points, k = 1. Real radii (distance to the nearest other real):
#   0 → 1, 1 → 1, 2.5 → 1.5, 7 → 2, 9 → 2.
# Fake radii: 0.5 → 1, 1.5 → 1, 5 → 0.5, 5.5 → 0.5, 30 → 1, 31 → 1.
REAL_1D = np.array([0.0, 1.0, 2.5, 7.0, 9.0])[:, None]
FAKE_1D = np.array([0.5, 1.5, 5.0, 5.5, 30.0, 31.0])[:, None]


def test_hand_computed_1d_example():
    # precision: 0.5 (in the spheres of 0 and 1), 1.5 (of 1 and 2.5), 5.5 (of 7) are inside; 5 lies
    # exactly on the sphere of 7 (|5-7| = 2 = r); 30 and 31 are outside.  <=: 4/6, <: 3/6.
    # recall: 0 and 1 are inside the sphere of 0.5; 2.5 lies exactly on the sphere of 1.5 (|2.5-1.5| = 1);
    # 7 and 9 are outside every fake sphere.  <=: 3/5, <: 2/5.
    assert precision_recall(REAL_1D, FAKE_1D, k=1) == pytest.approx({"precision": 4 / 6, "recall": 3 / 5})
    # density (<): fake 0.5 is in 2 real spheres, 1.5 in 2, 5 in 0 (on the boundary of 7), 5.5 in 1,
    # 30 and 31 in none → 5 / (k·M) = 5/6.  coverage: the spheres of 0, 1, 2.5 and 7 hold a fake, 9's
    # (nearest fake 5.5 at 3.5 > 2) does not → 4/5.
    assert density_coverage(REAL_1D, FAKE_1D, k=1) == pytest.approx({"density": 5 / 6, "coverage": 4 / 5})
    # clovaai's compute_prdc uses < for all four
    assert prdc(REAL_1D, FAKE_1D, nearest_k=1) == pytest.approx(
        {"precision": 3 / 6, "recall": 2 / 5, "density": 5 / 6, "coverage": 4 / 5})


def test_identical_sets():
    real = _gauss(600, 32, 5)
    fake = real[np.random.default_rng(6).permutation(600)]  # the same points, another order
    assert precision_recall(real, fake) == {"precision": 1.0, "recall": 1.0}
    # With "<": each real sphere strictly holds the point itself and its k-1 nearer neighbours (no ties
    # in continuous data), so Σ_j Σ_i 1[...] = k·N and density = k·N / (k·M) = 1 exactly.
    assert density_coverage(real, fake) == {"density": 1.0, "coverage": 1.0}
    assert prdc(real, fake, nearest_k=4) == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}


def test_disjoint_sets():
    real, fake = _gauss(200, 8, 7), _gauss(150, 8, 8, shift=100.0)
    assert precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}
    assert prdc(real, fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def _prdc_brute(real, fake, k, inside):
    """clovaai prdc / Kynkäänniemi definitions on full distance matrices."""
    r_real = np.sort(cdist(real, real), axis=1)[:, k]
    r_fake = np.sort(cdist(fake, fake), axis=1)[:, k]
    dist = cdist(real, fake)
    in_real, in_fake = inside(dist, r_real[:, None]), inside(dist, r_fake[None, :])
    return {"precision": in_real.any(0).mean(), "recall": in_fake.any(1).mean(),
            "density": in_real.sum() / (k * len(fake)), "coverage": in_real.any(1).mean()}


def test_blocked_computation_matches_brute_force(monkeypatch):
    real, fake = _gauss(500, 24, 9, shift=3.0), _gauss(430, 24, 10, shift=3.15, scale=1.2)  # away from 0 too
    monkeypatch.setattr(prdc_module, "_BLOCK_BYTES", 8 * 500 * 37)  # blocks of 37 rows
    for k in (1, 3, 5):
        got = prdc(real, fake, nearest_k=k)
        assert got == pytest.approx(_prdc_brute(real, fake, k, np.less), abs=1e-12)
        inclusive = _prdc_brute(real, fake, k, np.less_equal)
        assert precision_recall(real, fake, k=k) == pytest.approx(
            {"precision": inclusive["precision"], "recall": inclusive["recall"]}, abs=1e-12)
    assert 0.1 < got["precision"] < 0.95 and 0.1 < got["coverage"] < 0.95  # a non-trivial case


def test_duplicated_rows_tie_on_the_sphere():
    # A fake that copies a real's k-th neighbour lies exactly on that real's sphere: out with "<",
    # in with "<=", whatever the rounding of the matrix-product distances.
    real = _gauss(50, 2048, 11)
    fake = real[[1, 2, 3]] + 10.0  # far away: nothing inside
    nearest = int(np.argsort(cdist(real[:1], real)[0])[1])  # real 0's nearest other real (k = 1)
    fake[0] = real[nearest]
    got = prdc(real, fake, nearest_k=1)
    assert got["coverage"] == pytest.approx(np.mean(np.sort(cdist(real, fake), 1)[:, 0]
                                                    < np.sort(cdist(real, real), 1)[:, 1]))
    hits = (cdist(real, fake[:1]) < np.sort(cdist(real, real), 1)[:, 1:2]).sum()
    assert got["density"] == pytest.approx(hits / 3)  # real 0 is not counted: fake 0 is on its sphere
    assert precision_recall(real, fake, k=1)["precision"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------------------- Fréchet

def _with_moments(n, mean, std, seed):
    """n samples whose sample mean and np.cov (ddof 1) are exactly ``mean`` and diag(std²)."""
    z = np.random.default_rng(seed).standard_normal((n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return z * std + mean


def test_frechet_distance_closed_form():
    d = 6
    mu, s = np.linspace(-1.0, 2.0, d), 1.7
    # N(0, I) vs N(μ, s²I): ‖μ‖² + Tr(I + s²I - 2 sI) = ‖μ‖² + d(1 - s)²
    a = _with_moments(400, np.zeros(d), np.ones(d), 12)
    b = _with_moments(300, mu, np.full(d, s), 13)
    assert frechet_distance(a, b) == pytest.approx(mu @ mu + d * (1 - s) ** 2, rel=1e-9)
    # diagonal covariances: ‖μa - μb‖² + Σ (σa_i - σb_i)²
    sa, sb = np.linspace(0.5, 2.0, d), np.linspace(3.0, 0.2, d)
    a = _with_moments(500, mu, sa, 14)
    b = _with_moments(500, -mu, sb, 15)
    assert frechet_distance(a, b) == pytest.approx(4 * mu @ mu + np.sum((sa - sb) ** 2), rel=1e-9)
    # and from plain random samples, within sampling error (n = 20 000, d = 6: about 1e-2)
    a, b = _gauss(20000, d, 16), _gauss(20000, d, 17, shift=mu, scale=s)
    assert frechet_distance(a, b) == pytest.approx(mu @ mu + d * (1 - s) ** 2, abs=0.1)


# ----------------------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("call, message", [
    (lambda: kid(np.zeros(10), np.zeros((10, 3))),
     "kid: real features must be a 2-D (samples, features) array, got shape (10,)"),
    (lambda: kid(np.zeros((10, 4)), np.zeros((10, 5))),
     "kid: real and fake features differ in dimension (4 vs 5)"),
    (lambda: kid(np.zeros((1, 4)), np.zeros((10, 4))),
     "kid: needs at least 2 samples in each set, got 1 real and 10 fake"),
    (lambda: kid(np.zeros((10, 4)), np.full((10, 4), np.nan)),
     "kid: fake features contain 40 NaN or infinite value(s)"),
    (lambda: kid(np.zeros((10, 4)), np.zeros((10, 4)), num_subsets=0),
     "kid: num_subsets must be an integer >= 1, got 0"),
    (lambda: kid(np.zeros((10, 4)), np.zeros((10, 4)), subset_size=1),
     "kid: subset_size must be an integer >= 2, got 1"),
    (lambda: precision_recall(np.zeros((3, 2)), np.zeros((10, 2))),
     "precision_recall: needs more than k=3 samples in each set, got 3 real and 10 fake"),
    (lambda: density_coverage(np.zeros((10, 2)), np.zeros((5, 2))),
     "density_coverage: needs more than k=5 samples in each set, got 10 real and 5 fake"),
    (lambda: density_coverage(np.zeros((10, 2)), np.zeros((10, 2)), k=0),
     "density_coverage: k must be an integer >= 1, got 0"),
    (lambda: prdc(np.zeros((10, 2, 2)), np.zeros((10, 2))),
     "prdc: real features must be a 2-D (samples, features) array, got shape (10, 2, 2)"),
    (lambda: prdc(np.array([[1.0, np.inf]] * 8), np.zeros((8, 2)), nearest_k=2.5),
     "prdc: nearest_k must be an integer >= 1, got 2.5"),
    (lambda: prdc(np.array([[1.0, np.inf]] * 8), np.zeros((8, 2)), nearest_k=2),
     "prdc: real features contain 8 NaN or infinite value(s)"),
    (lambda: precision_recall(np.zeros((10, 0)), np.zeros((10, 0))),
     "precision_recall: real features have no feature dimensions, shape (10, 0)"),
])
def test_bad_inputs(call, message):
    with pytest.raises(UsageError) as e:
        call()
    assert str(e.value) == message and "\n" not in str(e.value)
