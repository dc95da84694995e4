"""Tail metrics: what a synthetic table keeps of the rare and the extreme.

Averages hide the tail; these functions name it. They are shared by the
per-run evaluation and the model-collapse experiment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.data.schema import Schema

COUNT_BINS: list[tuple[str, int, float]] = [("1", 1, 1), ("2-5", 2, 5), ("6-20", 6, 20),
                                            (">20", 21, np.inf)]


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


def rare_category_retention(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                            threshold: float = 0.01, rare: pd.DataFrame | None = None) -> dict[str, Any]:
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
        return {"retention": float("nan"), "n_rare": 0,
                "by_bin": {b: float("nan") for b, _, _ in COUNT_BINS},
                "n_by_bin": {b: 0 for b, _, _ in COUNT_BINS}, "lost": []}
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


def tail_mass_ratio(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                    low_q: float = 0.01, high_q: float = 0.99) -> dict[str, float]:
    """Synthetic mass beyond the real 1st/99th percentiles, divided by the real mass there.

    For each numerical column with real quantiles q_lo < q_hi: ratio =
    (P_syn(x < q_lo) + P_syn(x > q_hi)) / (low_q + 1 - high_q), i.e. divided
    by 0.02 by default. 1 = tails kept; 0 = tails cut off; > 1 = inflated.
    Columns whose quantiles coincide (too few distinct values) are skipped.

    Returns:
        ``{column: ratio}`` for every numerical column measured.
    """
    out = {}
    denom = low_q + (1.0 - high_q)
    for col in schema.numerical:
        r = real[col].dropna().to_numpy(float)
        s = synthetic[col].dropna().to_numpy(float)
        if len(r) == 0 or len(s) == 0:
            continue
        lo, hi = np.quantile(r, [low_q, high_q])
        if not lo < hi:
            continue
        out[col] = float(((s < lo).mean() + (s > hi).mean()) / denom)
    return out


def variance_ratio(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> dict[str, float]:
    """Synthetic variance / real variance per numerical column (1 = kept, < 1 = shrunk)."""
    out = {}
    for col in schema.numerical:
        rv = float(real[col].var())
        if rv > 0:
            out[col] = float(synthetic[col].var()) / rv
    return out
