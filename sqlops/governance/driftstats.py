"""Drift statistics over binned counts, in plain Python (scipy is only the tests' oracle).

Every function takes the counts of the same bins for the reference and the current data, so
it costs O(bins) whatever the tables' sizes. The two distributions p-values need are computed
here: the asymptotic Kolmogorov distribution (KS) and the chi-square survival function (the
regularized upper incomplete gamma function), both to about 1e-12 relative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "chi2_sf",
    "chi_square",
    "jensen_shannon",
    "kolmogorov_sf",
    "ks_statistic",
    "psi",
    "wasserstein",
]

PSI_FLOOR = 1e-4  # an empty bin's share in PSI (Evidently's), so the log stays finite
_EPS = 1e-16
_TINY = 1e-300


def shares(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [c / total for c in counts] if total > 0 else [0.0 for _ in counts]


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index: sum of (cur - ref) * ln(cur / ref) over the bins.

    >>> round(psi([50, 50], [50, 50]), 12)
    0.0
    """
    total = 0.0
    for r, c in zip(shares(reference), shares(current), strict=True):
        r, c = max(r, PSI_FLOOR), max(c, PSI_FLOOR)
        total += (c - r) * math.log(c / r)
    return total


def jensen_shannon(reference: Sequence[float], current: Sequence[float]) -> float:
    """Jensen-Shannon distance (natural log, as ``scipy.spatial.distance.jensenshannon``).

    >>> jensen_shannon([1, 0], [0, 1]) == math.sqrt(math.log(2))
    True
    """
    divergence = 0.0
    for r, c in zip(shares(reference), shares(current), strict=True):
        m = (r + c) / 2
        if r > 0:
            divergence += r * math.log(r / m) / 2
        if c > 0:
            divergence += c * math.log(c / m) / 2
    return math.sqrt(max(divergence, 0.0))


def chi_square(reference: Sequence[float], current: Sequence[float]) -> tuple[float, float]:
    """Goodness of fit of the current counts to the reference's shares: (statistic, p).

    As ``scipy.stats.chisquare(current, reference_share * n_current)`` over the bins the
    reference has; a current value in a bin the reference never saw is infinitely unlikely
    (statistic inf, p 0). Bins neither side has are left out; one bin left gives p = 1.
    """
    n = float(sum(current))
    statistic, bins = 0.0, 0
    for share, observed in zip(shares(reference), current, strict=True):
        if share == 0:
            if observed > 0:
                return math.inf, 0.0
            continue
        expected = share * n
        statistic += (observed - expected) ** 2 / expected
        bins += 1
    if bins < 2 or n == 0:
        return 0.0, 1.0
    return statistic, chi2_sf(statistic, bins - 1)


def cumulative(counts: Sequence[float]) -> list[float]:
    """The ECDF at each bin's upper edge."""
    total = float(sum(counts))
    running, out = 0.0, []
    for count in counts:
        running += count
        out.append(running / total if total > 0 else 0.0)
    return out


def ks_statistic(reference: Sequence[float], current: Sequence[float]) -> float:
    """The largest gap between the two ECDFs at the bins' upper edges.

    It equals the two-sample KS statistic when every value of both samples is a bin edge,
    and is at most the largest bin share below it otherwise.
    """
    gaps = zip(cumulative(reference), cumulative(current), strict=True)
    return max((abs(r - c) for r, c in gaps), default=0.0)


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided p-value of the two-sample KS test, from the asymptotic distribution."""
    if n_reference == 0 or n_current == 0:
        return 1.0
    effective = n_reference * n_current / (n_reference + n_current)
    return kolmogorov_sf(math.sqrt(effective) * statistic)


def kolmogorov_sf(z: float) -> float:
    """P(K > z) for the Kolmogorov distribution (``scipy.stats.kstwobign.sf``).

    Two series, each fast where the other is slow: the alternating one for large z, Jacobi's
    theta form of the CDF for small z.

    >>> round(kolmogorov_sf(1.3581), 4)
    0.05
    """
    if z <= 0:
        return 1.0
    if z < 1.0:
        factor = math.sqrt(2 * math.pi) / z
        total, k = 0.0, 1
        while True:
            term = math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * z * z))
            total += term
            if term < _EPS * total or k > 100:
                break
            k += 1
        return 1.0 - factor * total
    total, k = 0.0, 1
    while True:
        term = math.exp(-2 * k * k * z * z)
        total += term if k % 2 else -term
        if term < _EPS * abs(total) or k > 100:
            break
        k += 1
    return min(2.0 * total, 1.0)


def chi2_sf(x: float, df: float) -> float:
    """P(X > x) for chi-square with ``df`` degrees of freedom (``scipy.stats.chi2.sf``)."""
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    return _gamma_q(df / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x): the series of P below
    x = a + 1 (where Q is not small, so 1 - P loses nothing), Lentz's continued fraction
    above (where Q may be tiny, and is computed directly)."""
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        while abs(term) > _EPS * abs(total):
            n += 1
            term *= x / n
            total += term
        return max(1.0 - total * math.exp(log_prefix), 0.0)
    b = x + 1 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return math.exp(log_prefix) * h


def wasserstein(
    edges: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float],
    below: float = 0.0,
    above: float = 0.0,
    *,
    steps: bool = False,
) -> float:
    """Wasserstein-1 distance, the area between the two CDFs, from counts per bin.

    ``reference`` and ``current`` are counts of ``(-inf, e0], (e0, e1], ..., (eK, inf)``
    (``len(edges) + 1`` bins). Between two edges each CDF is taken as linear (values spread
    evenly in their bin); outside them the reference has nothing and the current data's
    area is exact: ``below`` is the sum of ``e0 - x`` over its values under ``e0``, ``above``
    that of ``x - eK`` over those above ``eK``. The error is at most the sum, over the
    inner bins, of the bin's width times both sides' shares in it. With ``steps`` the CDFs
    are constant between edges instead: exact when every value is an edge (discrete data).
    """
    n_current = float(sum(current))
    if n_current == 0 or sum(reference) == 0:
        return 0.0
    gaps = [r - c for r, c in zip(cumulative(reference), cumulative(current), strict=True)]
    area = (below + above) / n_current
    for i in range(1, len(edges)):
        width = edges[i] - edges[i - 1]
        a, b = gaps[i - 1], gaps[i]
        if steps:
            area += width * abs(a)
        elif a * b >= 0:
            area += width * (abs(a) + abs(b)) / 2
        else:  # the CDFs cross inside the bin: two triangles
            area += width * (a * a + b * b) / (2 * (abs(a) + abs(b)))
    return area
