"""zCDP accounting for MST and AIM: the cost of each step, and the conversion to (epsilon, delta).

Both mechanisms are analysed in zero-concentrated DP (rho-zCDP, Bun & Steinke
2016, Definition 1.1), where costs add up (Lemma 2.3 there), and the total is
converted to (epsilon, delta)-DP once, at the end.

Neighbouring relation: **replace-one** (n is public and the synthetic table has
n rows). Replacing one record moves one count of a marginal's count vector
down by 1 and another up by 1 (or none, if both land in the same cell), so a
marginal has L2 sensitivity sqrt(2) and L1 sensitivity 2, and the L1 error
score of MST and AIM, ``w * ||M_r(D) - M_r(p)||_1``, changes by at most
``2 w``. Under add/remove-one the same quantities are 1, 1 and ``w``: every
cost below is stated with its sensitivity, so the relation is never implicit.

Source:
    Bun & Steinke 2016, "Concentrated Differential Privacy: Simplifications,
    Extensions, and Lower Bounds" (TCC): Gaussian mechanism rho = Delta_2^2 /
    (2 sigma^2) (Proposition 1.6), composition (Lemma 2.3).
    Cesar & Rogers 2021, "Bounding, Concentrating, and Truncating: Unifying
    Privacy Loss Composition for Data Analytics" (ALT): the exponential
    mechanism with parameter epsilon is epsilon-bounded-range, hence
    epsilon^2 / 8-zCDP (Lemma 3.2); used this way in AIM (McKenna et al. 2022,
    Section 3) and MST (McKenna, Miklau & Sheldon 2021, Section 3).
    Canonne, Kamath & Steinke 2020, "The Discrete Gaussian for Differential
    Privacy" (NeurIPS; arXiv:2004.00010), Section 2.3, Corollary 13: rho-zCDP
    implies (epsilon, delta)-DP for
    ``delta = inf_{a > 1} exp((a - 1)(a rho - epsilon)) / (a - 1) * (1 - 1/a)^a``,
    equivalently
    ``epsilon = inf_{a > 1} a rho + (log(1/delta) + (a - 1) log(1 - 1/a) - log a) / (a - 1)``,
    tighter than the classical ``rho + 2 sqrt(rho log(1/delta))`` (Bun &
    Steinke 2016, Proposition 1.3).
"""

from __future__ import annotations

import math

import numpy as np

#: name of the conversion, written to PrivacySpent.accountant
ACCOUNTANT = "zcdp->(eps,delta) CKS20 (Canonne, Kamath & Steinke 2020, Cor. 13)"
#: replace-one sensitivities of one marginal's count vector
L2_SENSITIVITY = math.sqrt(2.0)
L1_SENSITIVITY = 2.0


def gaussian_rho(sigma: float, l2_sensitivity: float = L2_SENSITIVITY) -> float:
    """zCDP cost of one Gaussian measurement: ``Delta_2^2 / (2 sigma^2)``.

    Args:
        sigma: standard deviation of the noise added to every cell (> 0).
        l2_sensitivity: L2 sensitivity of the measured vector (replace-one
            marginal: sqrt(2)).
    Returns:
        rho (nats, as zCDP's rho).
    Raises:
        ValueError: sigma not > 0.
    Source: Bun & Steinke 2016, Proposition 1.6.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    return float(l2_sensitivity) ** 2 / (2.0 * float(sigma) ** 2)


def gaussian_sigma(rho: float, l2_sensitivity: float = L2_SENSITIVITY) -> float:
    """The sigma whose Gaussian measurement costs exactly ``rho`` (inverse of :func:`gaussian_rho`)."""
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho!r}")
    return float(l2_sensitivity) / math.sqrt(2.0 * float(rho))


def exponential_rho(epsilon: float) -> float:
    """zCDP cost of one exponential-mechanism selection with parameter epsilon: ``epsilon^2 / 8``.

    The mechanism picks candidate r with probability proportional to
    ``exp(epsilon * q_r / (2 Delta))``, Delta the sensitivity of the scores.
    Source: Cesar & Rogers 2021, Lemma 3.2 (bounded range implies zCDP).
    """
    return float(epsilon) ** 2 / 8.0


def exponential_epsilon(rho: float) -> float:
    """The exponential mechanism's epsilon that costs exactly ``rho`` (inverse of :func:`exponential_rho`)."""
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho!r}")
    return math.sqrt(8.0 * float(rho))


def _epsilon_at(alpha: np.ndarray, rho: float, delta: float) -> np.ndarray:
    """CKS20 Corollary 13's epsilon at Renyi orders ``alpha`` (> 1)."""
    a = np.asarray(alpha, dtype=float)
    return a * rho + (math.log(1.0 / delta) + (a - 1.0) * np.log1p(-1.0 / a) - np.log(a)) / (a - 1.0)


def epsilon_from_rho(rho: float, delta: float) -> float:
    """Smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP (CKS20 conversion).

    Every order a > 1 gives a valid epsilon, so the value returned is a valid
    bound whatever the minimiser finds; it searches a log-spaced grid of
    orders and refines around the best one (golden-section search).

    Args:
        rho: zCDP parameter (>= 0).
        delta: target delta in (0, 1).
    Returns:
        epsilon (>= 0); 0 when rho is 0.
    Raises:
        ValueError: rho < 0 or delta outside (0, 1).
    Source: Canonne, Kamath & Steinke 2020, Section 2.3, Corollary 13.
    """
    rho, delta = float(rho), float(delta)
    if rho < 0 or math.isnan(rho):
        raise ValueError(f"rho must be >= 0, got {rho!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if rho == 0:
        return 0.0
    if math.isinf(rho):
        return math.inf
    grid = 1.0 + np.logspace(-6, 7, 2000)
    vals = _epsilon_at(grid, rho, delta)
    i = int(np.nanargmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = float(vals[i])
    g = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):  # golden-section refinement around the best grid order
        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        f1, f2 = float(_epsilon_at(x1, rho, delta)), float(_epsilon_at(x2, rho, delta))
        best = min(best, f1, f2)
        if f1 < f2:
            hi = x2
        else:
            lo = x1
    return max(best, 0.0)


def rho_from_epsilon(epsilon: float, delta: float) -> float:
    """Largest rho whose CKS20 conversion gives at most ``epsilon`` at ``delta``.

    Bisection on rho (epsilon_from_rho is increasing in rho); the returned
    rho satisfies ``epsilon_from_rho(rho, delta) <= epsilon`` exactly as
    computed, so a mechanism that spends at most this rho spends at most
    epsilon.

    Args:
        epsilon: target epsilon (> 0; ``inf`` gives ``inf``).
        delta: target delta in (0, 1).
    Returns:
        rho > 0.
    Raises:
        ValueError: epsilon not > 0 or delta outside (0, 1).
    """
    epsilon, delta = float(epsilon), float(delta)
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if math.isinf(epsilon):
        return math.inf
    lo, hi = 0.0, max(epsilon, 1.0)
    while epsilon_from_rho(hi, delta) <= epsilon:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if epsilon_from_rho(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    if lo <= 0:  # pragma: no cover - epsilon > 0 always admits some rho > 0
        raise ValueError(f"no rho > 0 reaches epsilon={epsilon} at delta={delta}")
    return lo


__all__ = [
    "ACCOUNTANT",
    "L1_SENSITIVITY",
    "L2_SENSITIVITY",
    "epsilon_from_rho",
    "exponential_epsilon",
    "exponential_rho",
    "gaussian_rho",
    "gaussian_sigma",
    "rho_from_epsilon",
]
