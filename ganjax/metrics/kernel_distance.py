"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs") on any feature set.

KID is the unbiased estimate of the squared maximum mean discrepancy between the real and the
generated feature distributions under the cubic polynomial kernel

    k(x, y) = (x·y / d + 1)^3          (d = feature dimension),

averaged over ``num_subsets`` random subsets of ``subset_size`` rows drawn without replacement from
each set. For one pair of subsets X, Y of m rows each (torch-fidelity's ``mmd2(..., "unbiased")``,
clean-fid's ``kernel_distance``, both from Bińkowski et al.'s ``compute_scores.py``):

    MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m-1)) + Σ_{i≠j} k(y_i, y_j) / (m(m-1)) - 2 Σ_{i,j} k(x_i, y_j) / m²

The diagonal terms k(x_i, x_i) are left out of the within-set sums (that is what makes it unbiased),
the cross sum keeps all m² terms. The estimate can be slightly negative when the distributions match.

Agreement with the references:

* torch-fidelity ``kid_features_to_metric`` (defaults ``kid_subsets=100``, ``kid_subset_size=1000``,
  ``rng_seed=2020``): same formula and the same subset draws — ``np.random.RandomState(seed)``, per
  subset first ``choice(n_fake, m, replace=False)`` then ``choice(n_real, m, replace=False)`` — when
  its ``input1`` is the generated set and ``input2`` the real one, as torch-fidelity's docs use them.
  ``kid_std`` is ``np.std`` over subsets (ddof 0), as torch-fidelity reports it. torch-fidelity
  refuses sets smaller than the subset size; this module clips the subset size instead (as clean-fid
  does) and warns.
* clean-fid ``kernel_distance`` (``num_subsets=100, max_subset_size=1000``): the same estimator and
  clipping; clean-fid draws from numpy's unseeded global RNG and returns the mean only.

Both references compute in the features' float32; this module computes in float64 throughout, so
values agree with them to float32 rounding (about 1e-6 relative), not bit for bit.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ganjax.metrics._features import feature_pair, positive_int

NUM_SUBSETS = 100     # torch-fidelity and clean-fid default
SUBSET_SIZE = 1000    # torch-fidelity and clean-fid default
SEED = 2020           # torch-fidelity's default rng_seed

_BLOCK_BYTES = 1 << 27  # largest kernel block held at once (128 MiB of float64)


@dataclasses.dataclass(frozen=True)
class KIDResult:
    """KID mean and spread over subsets; ``subset_size`` is the size actually used (after clipping)."""
    kid: float
    kid_std: float
    subset_size: int
    num_subsets: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _kernel_sum(a: np.ndarray, b: np.ndarray, same: bool) -> float:
    """Σ_{i,j} (a_i·b_j / d + 1)^3 in float64, leaving out the diagonal when ``same`` (a is b)."""
    d = a.shape[1]
    rows = max(1, _BLOCK_BYTES // (8 * max(1, b.shape[0])))
    total = 0.0
    for s in range(0, a.shape[0], rows):
        k = a[s:s + rows] @ b.T
        k /= d
        k += 1.0
        k3 = k * k  # k**3 by two multiplications: np.power is ~25x slower
        k3 *= k
        total += float(k3.sum())
        if same:  # the diagonal of this block sits at columns s .. s + rows
            total -= float(np.trace(k3, offset=s))
    return total


def polynomial_mmd2(x, y) -> float:
    """Unbiased MMD² between two feature sets under k(x, y) = (x·y/d + 1)^3, in float64.

    With m = len(x), n = len(y): Σ_{i≠j} k(x_i,x_j)/(m(m-1)) + Σ_{i≠j} k(y_i,y_j)/(n(n-1))
    - 2 Σ k(x_i,y_j)/(mn); for m = n this is torch-fidelity's ``mmd2(..., mmd_est="unbiased")``.
    """
    x, y = feature_pair(x, y, "polynomial_mmd2", 2, "at least 2")
    m, n = x.shape[0], y.shape[0]
    return (_kernel_sum(x, x, True) / (m * (m - 1)) + _kernel_sum(y, y, True) / (n * (n - 1))
            - 2.0 * _kernel_sum(x, y, False) / (m * n))


def kid(real, fake, *, num_subsets: int = NUM_SUBSETS, subset_size: int = SUBSET_SIZE,
        seed: int = SEED) -> KIDResult:
    """Kernel Inception Distance between ``real`` and ``fake`` features, shape ``(n, d)`` each.

    Returns the mean and (ddof-0) standard deviation of the unbiased polynomial-kernel MMD² over
    ``num_subsets`` pairs of random subsets of ``subset_size`` rows (see the module docstring).
    ``subset_size`` is clipped to ``min(n_real, n_fake)`` with a warning when either set is smaller;
    when it is clipped to the size of both sets, every subset is the whole set and ``kid_std`` is 0.
    The same ``seed`` gives the same result. Lower is better; 0 means the distributions match.
    """
    what = "kid"
    num_subsets = positive_int(num_subsets, "num_subsets", what)
    subset_size = positive_int(subset_size, "subset_size", what, minimum=2)
    real, fake = feature_pair(real, fake, what, 2, "at least 2")
    n_real, n_fake = real.shape[0], fake.shape[0]
    m = min(subset_size, n_real, n_fake)
    if m < subset_size:
        warnings.warn(f"kid: subset_size {subset_size} clipped to {m} = min(n_real={n_real}, n_fake={n_fake}); "
                      f"KID stays unbiased but is noisier (see kid_std) and values computed with different "
                      f"subset sizes are not directly comparable in spread", stacklevel=2)
    rng = np.random.RandomState(seed)
    values = np.empty(num_subsets)
    for t in range(num_subsets):
        x = fake[rng.choice(n_fake, m, replace=False)]
        y = real[rng.choice(n_real, m, replace=False)]
        values[t] = ((_kernel_sum(x, x, True) + _kernel_sum(y, y, True)) / (m * (m - 1))
                     - 2.0 * _kernel_sum(x, y, False) / (m * m))
    return KIDResult(kid=float(values.mean()), kid_std=float(values.std()), subset_size=m,
                     num_subsets=num_subsets)
