"""Confidence intervals shared by every metric: normal bootstrap and Wilson."""

from __future__ import annotations

from typing import Any

import numpy as np


def normal_interval(
    point: float, replicates: Any, level: float = 0.95, lower: float | None = None, upper: float | None = None
) -> tuple[float, float]:
    """Normal bootstrap interval: point ± z * sd(replicates), clipped to [lower, upper].

    Centred on the point estimate, so it always contains it (a percentile
    interval of resampled tables can miss it: resampling adds duplicate rows,
    which biases distribution distances). NaNs when fewer than 2 finite
    replicates exist.
    Source: Efron & Tibshirani (1993), An Introduction to the Bootstrap, ch. 12-13.
    """
    from scipy.stats import norm

    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 2 or not np.isfinite(point):
        return float("nan"), float("nan")
    half = float(norm.ppf(0.5 + level / 2)) * float(r.std(ddof=1))
    lo, hi = point - half, point + half
    if lower is not None:
        lo = max(lo, lower)
    if upper is not None:
        hi = min(hi, upper)
    return float(lo), float(hi)


def wilson_interval(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (NaNs when n = 0).

    Source: Wilson (1927); as statsmodels.stats.proportion.proportion_confint(method="wilson").
    """
    from scipy.stats import norm

    if n <= 0:
        return float("nan"), float("nan")
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
