"""k-NN precision, recall, density and coverage of generated samples, on any feature set.

Each real feature x_i gets a hypersphere B(x_i, r_i) whose radius r_i is the distance to its k-th
nearest neighbour among the *other* reals (the (k+1)-th smallest distance in its row, counting its
own zero distance, as every reference does; exact duplicates count as neighbours). Fakes get radii
from their own k-NN among fakes the same way.

* precision (Kynkäänniemi et al. 2019, k = 3): fraction of fakes inside at least one real sphere.
* recall    (same paper): fraction of reals inside at least one fake sphere.
* density   (Naeem et al. 2020, k = 5): (1 / (k·M)) Σ_j Σ_i 1[y_j ∈ B(x_i, r_i)] — how many real
  spheres hold each fake, scaled so that matching distributions give about 1; it can exceed 1.
* coverage  (same paper): (1 / N) Σ_i 1[∃ j: y_j ∈ B(x_i, r_i)] — fraction of reals whose sphere
  holds at least one fake.

"Inside" differs between the reference implementations, which matters only for exact ties
(duplicated samples, discrete features):

* ``precision_recall`` uses ``distance <= radius``, as Kynkäänniemi et al.'s code
  (kynkaat/improved-precision-and-recall-metric), StyleGAN2-ADA's ``metrics/precision_recall.py`` and
  torch-fidelity's ``prc`` metric do.
* ``density_coverage`` and ``prdc`` use ``distance < radius``, as clovaai/generative-evaluation-prdc
  (``prdc.compute_prdc``) does for all four metrics. With ``<``, a set compared with itself (no
  duplicate rows) has density exactly 1 (each real sphere strictly holds the point itself and its
  k-1 nearer neighbours); with ``<=`` it would be (k+1)/k.

Distances are Euclidean, computed in float64 in row blocks (no n × n matrix is held), via
‖a‖² + ‖b‖² - 2a·b after centring both sets on the real mean. Pairs whose squared distance lies
within that formula's rounding bound of a radius are recomputed from the difference vector, so ties
are decided consistently: a fake that is a copy of a real's k-th neighbour lies exactly *on* that
real's sphere. Cost: three (two for density/coverage) n × m × d float64 matrix products — about
12 s for 5000 × 5000 rows of 2048 features on two busy CPU cores — and a few 128 MiB blocks of
memory; data with very many exactly tied distances (e.g. heavily duplicated rows) adds an
elementwise recomputation per tied pair.
"""
from __future__ import annotations

import numpy as np

from ganjax.metrics._features import feature_pair, positive_int

K_PRECISION_RECALL = 3  # Kynkäänniemi et al. 2019
K_DENSITY_COVERAGE = 5  # Naeem et al. 2020

_BLOCK_BYTES = 1 << 27  # one float64 distance block (rows × columns) holds at most this many bytes
_EPS = np.finfo(np.float64).eps


def _rows_per_block(n_cols: int) -> int:
    return max(1, _BLOCK_BYTES // (8 * max(1, n_cols)))


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _approx_sq(a, na, b, nb) -> np.ndarray:
    """Squared distances ‖a_i - b_j‖² by the matrix-product formula, clipped at 0."""
    d2 = a @ b.T
    d2 *= -2.0
    d2 += na[:, None]
    d2 += nb[None, :]
    np.maximum(d2, 0.0, out=d2)
    return d2


def _tolerance(d: int, na_max: float, nb_max: float) -> float:
    """Bound on the rounding error of ``_approx_sq`` on centred rows: each of ‖a‖², ‖b‖², a·b errs by
    at most about d·eps times its magnitude (|a·b| ≤ (‖a‖²+‖b‖²)/2), plus the three additions and
    the rounding of the centring itself."""
    return (2 * d + 16) * _EPS * (na_max + nb_max)


def _exact_sq(a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """‖a_r - b_c‖² from the difference vectors, for the listed pairs; the same pair of rows gives
    the same bits wherever it appears."""
    out = np.empty(len(rows))
    step = _rows_per_block(a.shape[1])
    for s in range(0, len(rows), step):
        diff = a[rows[s:s + step]] - b[cols[s:s + step]]
        out[s:s + step] = np.square(diff).sum(axis=1)
    return out


def _kth_radii_sq(x: np.ndarray, nx: np.ndarray, k: int, x_raw: np.ndarray) -> np.ndarray:
    """Squared distance from each row of ``x`` (centred; ``x_raw`` uncentred) to its k-th nearest
    other row (``k < len(x)``)."""
    n, d = x.shape
    out = np.empty(n)
    rows = _rows_per_block(n)
    nx_max = float(nx.max())
    for s in range(0, n, rows):
        blk = slice(s, min(n, s + rows))
        d2 = _approx_sq(x[blk], nx[blk], x, nx)
        tol = _tolerance(d, float(nx[blk].max()), nx_max)
        # Every entry that could be among the k+1 smallest (self included) is recomputed exactly:
        # k+1 entries are <= v, so the true (k+1)-th smallest is <= v + tol, and anything left out
        # has a true value > v + tol.
        v = np.partition(d2, k, axis=1)[:, k]
        r, c = np.nonzero(d2 <= (v + 2.0 * tol)[:, None])
        d2[r, c] = _exact_sq(x_raw, x_raw, r + s, c)
        out[blk] = np.partition(d2, k, axis=1)[:, k]
    return out


def _inside(d2, thr, tol, a_raw, b_raw, row0, inclusive: bool) -> np.ndarray:
    """d2 (<= or <) thr elementwise, deciding pairs within ``tol`` of the threshold exactly.

    ``d2`` holds rows ``row0 ..`` of a versus all rows of b (uncentred: ``a_raw``, ``b_raw``);
    ``thr`` broadcasts against it.
    """
    gap = d2 - thr
    res = gap <= 0.0 if inclusive else gap < 0.0
    r, c = np.nonzero(np.abs(gap) <= tol)
    if len(r):
        exact = _exact_sq(a_raw, b_raw, r + row0, c)
        t = np.broadcast_to(thr, d2.shape)[r, c]
        res[r, c] = exact <= t if inclusive else exact < t
    return res


def _manifold_counts(real, fake, k_real: int, k_fake: int | None, inclusive: bool):
    """One blocked pass over the real × fake distances.

    Returns (hits, covered, recalled): ``hits[j]`` = number of real spheres holding fake j,
    ``covered[i]`` = real sphere i holds some fake, ``recalled[i]`` = real i lies in some fake
    sphere (None when ``k_fake`` is None).
    """
    raw_real, raw_fake = real, fake
    mu = real.mean(axis=0)
    real, fake = real - mu, fake - mu  # distances do not change; the norms (and rounding) shrink
    nr, nf = _sq_norms(real), _sq_norms(fake)
    # Exact recomputations use the uncentred rows, so equal distances in the caller's data stay equal.
    r_real = _kth_radii_sq(real, nr, k_real, raw_real)
    r_fake = None if k_fake is None else _kth_radii_sq(fake, nf, k_fake, raw_fake)
    n, d = real.shape
    hits = np.zeros(fake.shape[0], dtype=np.int64)
    covered = np.zeros(n, dtype=bool)
    recalled = None if k_fake is None else np.zeros(n, dtype=bool)
    rows = _rows_per_block(fake.shape[0])
    nf_max = float(nf.max())
    for s in range(0, n, rows):
        blk = slice(s, min(n, s + rows))
        d2 = _approx_sq(real[blk], nr[blk], fake, nf)
        tol = _tolerance(d, float(nr[blk].max()), nf_max)
        in_real = _inside(d2, r_real[blk, None], tol, raw_real, raw_fake, s, inclusive)
        hits += in_real.sum(axis=0)
        covered[blk] = in_real.any(axis=1)
        if k_fake is not None:
            recalled[blk] = _inside(d2, r_fake[None, :], tol, raw_real, raw_fake, s, inclusive).any(axis=1)
    return hits, covered, recalled


def _check(real, fake, k, what):
    k = positive_int(k, "k" if what != "prdc" else "nearest_k", what)
    real, fake = feature_pair(real, fake, what, k + 1, f"more than k={k}")
    return real, fake, k


def precision_recall(real, fake, *, k: int = K_PRECISION_RECALL) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``fake`` against ``real`` features.

    ``{"precision": fraction of fakes within some real's k-NN sphere, "recall": fraction of reals
    within some fake's k-NN sphere}``, "within" meaning ``distance <= radius`` as in the authors' code.
    Both in [0, 1], higher is better. Each set needs more than ``k`` rows.
    """
    real, fake, k = _check(real, fake, k, "precision_recall")
    hits, _, recalled = _manifold_counts(real, fake, k, k, inclusive=True)
    return {"precision": float(np.mean(hits > 0)), "recall": float(np.mean(recalled))}


def density_coverage(real, fake, *, k: int = K_DENSITY_COVERAGE) -> dict:
    """Density and coverage (Naeem et al. 2020) of ``fake`` against ``real`` features.

    ``{"density": (1/(kM)) Σ_j #{i: fake_j in B(real_i, r_i)}, "coverage": fraction of reals whose
    sphere holds a fake}``, with ``distance < radius`` as clovaai's ``prdc``. Coverage is in [0, 1],
    higher is better; density is about 1 for matching distributions, and higher means the fakes
    crowd where the reals are densest. Each set needs more than ``k`` rows.
    """
    real, fake, k = _check(real, fake, k, "density_coverage")
    hits, covered, _ = _manifold_counts(real, fake, k, None, inclusive=False)
    return {"density": float(hits.sum() / (k * fake.shape[0])), "coverage": float(np.mean(covered))}


def prdc(real, fake, nearest_k: int = K_DENSITY_COVERAGE) -> dict:
    """All four metrics with one ``nearest_k``, as clovaai's ``prdc.compute_prdc(real, fake, nearest_k)``.

    Uses ``distance < radius`` for all four (the ``prdc`` package's choice); ``precision_recall``
    uses ``<=`` as Kynkäänniemi et al. — the two differ only on exact ties.
    """
    real, fake, k = _check(real, fake, nearest_k, "prdc")
    hits, covered, recalled = _manifold_counts(real, fake, k, k, inclusive=False)
    return {"precision": float(np.mean(hits > 0)), "recall": float(np.mean(recalled)),
            "density": float(hits.sum() / (k * fake.shape[0])), "coverage": float(np.mean(covered))}
