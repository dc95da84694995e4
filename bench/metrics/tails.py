"""Tail metrics: what a synthetic table keeps of the rare and the extreme.

Averages hide the tail; these functions name it. They are shared by the
per-run evaluation and the model-collapse experiment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.data.schema import Schema

COUNT_BINS: list[tuple[str, int, float]] = [("1", 1, 1), ("2-5", 2, 5), ("6-20", 6, 20), (">20", 21, np.inf)]


def rare_categories(real: pd.DataFrame, schema: Schema, threshold: float = 0.01) -> pd.DataFrame:
    """The (column, category) pairs whose real frequency is below ``threshold``.

    Args:
        real: real training table (n, d).
        threshold: relative frequency cut-off (0.01 = 1%).
    Returns:
        DataFrame ``column, category, count, frequency, count_bin`` (categories
        are public domain values or values seen in the real table; NaN is not a
        category). Count bins: ``1``, ``2-5``, ``6-20``, ``>20``.
    """
    rows = []
    for col in schema.categorical:
        vc = real[col].dropna().astype(str).value_counts()
        n = int(vc.sum())
        if n == 0:
            continue
        for cat, cnt in vc.items():
            freq = cnt / n
            if freq < threshold:
                rows.append((col, cat, int(cnt), float(freq), count_bin(int(cnt))))
    return pd.DataFrame(rows, columns=["column", "category", "count", "frequency", "count_bin"])


def count_bin(count: int) -> str:
    """Label of the real-count bin (1, 2-5, 6-20, >20) that ``count`` falls in."""
    for label, lo, hi in COUNT_BINS:
        if lo <= count <= hi:
            return label
    return ">20"


def rare_category_retention(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    threshold: float = 0.01,
    rare: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Share of the real table's rare categories that appear in the synthetic table.

    Args:
        real, synthetic: tables with the schema's columns.
        threshold: rarity cut-off on the real relative frequency.
        rare: precomputed :func:`rare_categories` of ``real`` (optional cache).
    Returns:
        ``{"retention": float (NaN when there are no rare categories),
        "n_rare": int, "by_bin": {bin: retention or NaN}, "n_by_bin": {bin: int},
        "lost": [(column, category, real_count), ...]}`` (lost sorted by count).
    Source: tailbench (rare = real frequency below 1%); cf. SDMetrics
        CategoryCoverage, which counts all categories equally.
    """
    rare = rare_categories(real, schema, threshold) if rare is None else rare
    if rare.empty:
        return {
            "retention": float("nan"),
            "n_rare": 0,
            "by_bin": {b: float("nan") for b, _, _ in COUNT_BINS},
            "n_by_bin": {b: 0 for b, _, _ in COUNT_BINS},
            "lost": [],
        }
    present = {col: set(synthetic[col].dropna().astype(str).unique()) for col in rare["column"].unique()}
    kept = np.array([cat in present[col] for col, cat in zip(rare["column"], rare["category"])])
    by_bin, n_by_bin = {}, {}
    for b, _, _ in COUNT_BINS:
        m = (rare["count_bin"] == b).to_numpy()
        n_by_bin[b] = int(m.sum())
        by_bin[b] = float(kept[m].mean()) if m.any() else float("nan")
    lost_df = rare[~kept].sort_values(["count", "column", "category"])
    return {
        "retention": float(kept.mean()),
        "n_rare": int(len(rare)),
        "by_bin": by_bin,
        "n_by_bin": n_by_bin,
        "lost": [(c, k, int(n)) for c, k, n in zip(lost_df["column"], lost_df["category"], lost_df["count"])],
    }


def tail_mass_ratio(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, low_q: float = 0.01, high_q: float = 0.99
) -> dict[str, float]:
    """Synthetic mass beyond the real 1st/99th percentiles, divided by the real mass there.

    For each numerical column with real quantiles q_lo < q_hi: ratio =
    (P_syn(x < q_lo) + P_syn(x > q_hi)) / (P_real(x < q_lo) + P_real(x > q_hi)).
    For a continuous column the denominator is low_q + 1 - high_q = 0.02; for
    a discrete or tied column (ages in whole years, zero-inflated capital
    gains) it is the real mass actually beyond the quantiles, so the real
    table itself scores exactly 1. 1 = tails kept; 0 = tails cut off; > 1 =
    inflated. Columns whose quantiles coincide, or with no real mass beyond
    them, are skipped.

    Returns:
        ``{column: ratio}`` for every numerical column measured.
    Source: tailbench (extreme-value coverage); cf. Shumailov et al. 2024 on
        tails vanishing under recursive training.
    """
    return tail_mass_from_thresholds(tail_thresholds(real, schema, low_q, high_q), synthetic)


def tail_thresholds(
    real: pd.DataFrame, schema: Schema, low_q: float = 0.01, high_q: float = 0.99
) -> dict[str, tuple[float, float, float]]:
    """Per numerical column: the real ``low_q`` and ``high_q`` quantiles and the real
    mass beyond them (cache for :func:`tail_mass_from_thresholds`).

    Columns whose quantiles coincide, or with no real mass beyond them, are left
    out. These are quantiles of the real data: keep them in memory, never in results.

    Returns:
        ``{column: (q_lo, q_hi, real_tail_mass)}``.
    """
    out = {}
    for col in schema.numerical:
        r = real[col].dropna().to_numpy(float)
        if len(r) == 0:
            continue
        lo, hi = np.quantile(r, [low_q, high_q])
        mass = float((r < lo).mean() + (r > hi).mean())
        if lo < hi and mass > 0:
            out[col] = (float(lo), float(hi), mass)
    return out


def tail_mass_from_thresholds(
    thresholds: dict[str, tuple[float, float, float]], synthetic: pd.DataFrame
) -> dict[str, float]:
    """:func:`tail_mass_ratio` from precomputed real quantiles (see :func:`tail_thresholds`)."""
    out = {}
    for col, (lo, hi, mass) in thresholds.items():
        s = synthetic[col].dropna().to_numpy(float)
        if len(s) == 0:
            continue
        out[col] = float(((s < lo).mean() + (s > hi).mean()) / mass)
    return out


def symmetric_ratio(ratio: float) -> float:
    """min(r, 1/r): a ratio whose ideal is 1 mapped to (0, 1], higher = closer to 1.

    0 stays 0 (a tail or segment entirely lost); NaN stays NaN.
    """
    if ratio is None or np.isnan(ratio):
        return float("nan")
    if ratio <= 0:
        return 0.0
    if np.isinf(ratio):
        return 0.0
    return float(min(ratio, 1.0 / ratio))


def variance_ratio(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> dict[str, float]:
    """Synthetic variance / real variance per numerical column (1 = kept, < 1 = shrunk)."""
    out = {}
    for col in schema.numerical:
        rv = float(real[col].var())
        if rv > 0:
            out[col] = float(synthetic[col].var()) / rv
    return out


# ------------------------------------------------------------------ PRDC
def prdc_features(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    """Embed both tables in one Euclidean space for nearest-neighbour metrics.

    Numerical/datetime columns: standardised with the real mean and standard
    deviation (NaN -> 0, the real mean). Categorical/boolean columns: one-hot
    on the real categories (NaN is a category) scaled by 1/sqrt(2), so two
    different categories are at distance 1, like a one-standard-deviation
    shift; a synthetic category the real table lacks is the zero vector.

    Returns:
        ``(real_features (n, p), synthetic_features (m, p))`` as float64.
    """
    fr, fs = [], []
    for col in schema.modelled:
        kind = schema.columns[col]
        if kind in ("numerical", "datetime"):
            xr, xs = _as_float(real[col]), _as_float(synthetic[col])
            mu = np.nanmean(xr) if np.isfinite(xr).any() else 0.0
            sd = np.nanstd(xr) if np.isfinite(xr).any() else 1.0
            sd = sd if sd > 0 else 1.0
            fr.append(np.nan_to_num((xr - mu) / sd, nan=0.0, posinf=0.0, neginf=0.0)[:, None])
            fs.append(np.nan_to_num((xs - mu) / sd, nan=0.0, posinf=0.0, neginf=0.0)[:, None])
        elif kind in ("categorical", "boolean"):
            vr = real[col].astype(object).where(real[col].notna(), "\x00<NA>")
            vs = synthetic[col].astype(object).where(synthetic[col].notna(), "\x00<NA>")
            cats = pd.Index(pd.unique(vr))
            ir, is_ = cats.get_indexer(vr), cats.get_indexer(vs)
            hr = np.zeros((len(vr), len(cats)))
            hs = np.zeros((len(vs), len(cats)))
            hr[np.arange(len(vr)), ir] = 1.0
            ok = is_ >= 0
            hs[np.flatnonzero(ok), is_[ok]] = 1.0
            fr.append(hr / np.sqrt(2))
            fs.append(hs / np.sqrt(2))
    return np.hstack(fr), np.hstack(fs)


def _as_float(s: pd.Series) -> np.ndarray:
    """Numbers as float64 with NaN; datetimes as ns since the epoch."""
    return pd.to_numeric(s).astype(float).where(s.notna()).to_numpy(float)


def _kth_neighbour_distance(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of ``x`` to its k-th nearest other row (brute force)."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x)
    dist, _ = nn.kneighbors(x)
    return dist[:, k]


def prdc(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    k: int = 5,
    max_rows: int | None = 5000,
    seed: int = 0,
    chunk: int = 1000,
) -> dict[str, Any]:
    """Precision, recall, density and coverage of a synthetic table (k-NN manifolds).

    On a bounded random sample of each table (``max_rows``), embedded by
    :func:`prdc_features`. With B(x, r) the ball around x whose radius is the
    distance to x's k-th nearest neighbour in its own set:
      * precision: share of synthetic rows inside some real ball;
      * recall: share of real rows inside some synthetic ball;
      * density: (1/k) x mean number of real balls holding a synthetic row
        (about 1 for identical distributions, above 1 when the synthetic rows
        crowd into dense real regions);
      * coverage: share of real rows whose ball holds at least one synthetic row.

    Args:
        real, synthetic: tables (n, d), (m, d).
        k: neighbours (Naeem et al. use 5).
        max_rows: rows drawn from each table (seeded); None = all.
        chunk: real rows per block of the distance matrix (memory: chunk x m floats).
    Returns:
        ``{"precision", "recall", "density", "coverage": float, "k", "n_real",
        "n_synthetic": int, "indicators": {metric: per-point array}}``; the
        indicators (per synthetic row for precision/density, per real row for
        recall/coverage) let callers bootstrap an interval with the radii fixed.
    Raises:
        ValueError: if either sample has k rows or fewer.
    Source: Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
        Generative Models" (ICML); same strict inequalities as their reference
        code (clovaai/generative-evaluation-prdc).
    """
    from sklearn.metrics import pairwise_distances

    rng = np.random.default_rng(seed)
    if max_rows and len(real) > max_rows:
        real = real.iloc[np.sort(rng.choice(len(real), int(max_rows), replace=False))]
    if max_rows and len(synthetic) > max_rows:
        synthetic = synthetic.iloc[np.sort(rng.choice(len(synthetic), int(max_rows), replace=False))]
    if len(real) <= k or len(synthetic) <= k:
        raise ValueError(
            f"PRDC with k={k} needs more than {k} rows per table (got {len(real)} real, {len(synthetic)} synthetic)"
        )
    xr, xs = prdc_features(real, synthetic, schema)
    r_real = _kth_neighbour_distance(xr, k)
    r_fake = _kth_neighbour_distance(xs, k)
    in_real_balls = np.zeros(len(xs), dtype=np.int64)  # per synthetic row: number of real balls
    recalled = np.zeros(len(xr), dtype=bool)
    covered = np.zeros(len(xr), dtype=bool)
    for start in range(0, len(xr), chunk):
        d = pairwise_distances(xr[start : start + chunk], xs, metric="euclidean")
        rad = r_real[start : start + chunk, None]
        inside = d < rad
        in_real_balls += inside.sum(axis=0)
        recalled[start : start + chunk] = (d < r_fake[None, :]).any(axis=1)
        covered[start : start + chunk] = d.min(axis=1) < r_real[start : start + chunk]
    precision_ind = (in_real_balls > 0).astype(float)
    density_ind = in_real_balls / float(k)
    return {
        "precision": float(precision_ind.mean()),
        "recall": float(recalled.mean()),
        "density": float(density_ind.mean()),
        "coverage": float(covered.mean()),
        "k": int(k),
        "n_real": int(len(xr)),
        "n_synthetic": int(len(xs)),
        "indicators": {
            "precision": precision_ind,
            "recall": recalled.astype(float),
            "density": density_ind,
            "coverage": covered.astype(float),
        },
    }
