"""Fidelity: how closely a synthetic table matches the real training table.

Column shapes and column-pair trends follow SDMetrics' definitions exactly
(``sdmetrics==0.32.0``: ``KSComplement``, ``TVComplement``,
``CorrelationSimilarity``, ``ContingencySimilarity`` and the single-table
``QualityReport``). Tests check our values against ``sdmetrics`` to 1e-9.
They are computed here vectorised over columns and pairs, with the real side
prepared once (:class:`RealProfile`), because a sweep scores many synthetic
tables against one real table.

Two pair-trend scores are reported because SDMetrics changed the definition in
0.27: ``fidelity.pair_trends`` averages only pairs whose real data has a trend
(|Pearson| > 0.5, Cramér's V > 0.3; the ``QualityReport`` default), and
``fidelity.pair_trends_all`` averages every pair (thresholds 0).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats.contingency import association

from bench.data.schema import Schema

KS_DECIMALS = sys.float_info.dig - 1  # sdmetrics.single_column.statistical.kscomplement.MAX_DECIMALS
CORRELATION_THRESHOLD = 0.5  # sdmetrics.reports.utils.DEFAULT_REAL_CORRELATION_THRESHOLD
ASSOCIATION_THRESHOLD = 0.3  # sdmetrics.reports.utils.DEFAULT_REAL_ASSOCIATION_THRESHOLD
SUBSAMPLE_ROWS = 50_000  # sdmetrics.reports.utils.DEFAULT_NUM_ROWS_SUBSAMPLE


# --------------------------------------------------------------- single columns
def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - Kolmogorov-Smirnov D statistic between two numerical/datetime columns.

    Args:
        real, synthetic: one column each; NaN is dropped, datetimes become ns integers.
    Returns:
        Score in [0, 1]; 1 means identical empirical CDFs; NaN if either is empty.
    Source: SDMetrics KSComplement (sdmetrics.single_column.KSComplement).
    """
    r = _ks_values(real)
    s = _ks_values(synthetic)
    if len(r) == 0 or len(s) == 0:
        return float("nan")
    return 1.0 - _ks_statistic(np.sort(r), np.sort(s))


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - total variation distance between two categorical marginals.

    Args:
        real, synthetic: one column each; NaN is dropped before counting.
    Returns:
        Score in [0, 1]; 1 means identical category frequencies.
    Raises:
        ValueError: if either column is empty after dropping NaN.
    Source: SDMetrics TVComplement (sdmetrics.single_column.TVComplement),
        including its 1e-6 regularisation of categories absent from the real data.
    """
    r = pd.Series(real).dropna()
    s = pd.Series(synthetic).dropna()
    if len(r) == 0 or len(s) == 0:
        raise ValueError("TVComplement needs at least one non-null value in each column")
    return _tv_from_counts(r.value_counts(sort=False), s.value_counts(sort=False))


def _ks_values(s: pd.Series) -> np.ndarray:
    s = pd.Series(s).dropna()
    if pd.api.types.is_datetime64_any_dtype(s):
        s = pd.to_numeric(s)
    return s.round(KS_DECIMALS).to_numpy(dtype=float)


def _ks_statistic(r_sorted: np.ndarray, s_sorted: np.ndarray) -> float:
    """Two-sample KS D = max |F_r - F_s| on sorted arrays (as scipy.stats.ks_2samp)."""
    grid = np.concatenate([r_sorted, s_sorted])
    cdf_r = np.searchsorted(r_sorted, grid, side="right") / len(r_sorted)
    cdf_s = np.searchsorted(s_sorted, grid, side="right") / len(s_sorted)
    return float(np.max(np.abs(cdf_r - cdf_s)))


def _tv_from_counts(real_counts: pd.Series, syn_counts: pd.Series) -> float:
    unseen = syn_counts.index.difference(real_counts.index)
    real_total = float(real_counts.sum()) + 1e-6 * len(unseen)
    syn_total = float(syn_counts.sum())
    f_exp = np.concatenate([real_counts.to_numpy(float), np.full(len(unseen), 1e-6)]) / real_total
    f_obs = syn_counts.reindex(real_counts.index.append(unseen), fill_value=0).to_numpy(float) / syn_total
    return float(1.0 - 0.5 * np.abs(f_obs - f_exp).sum())


# --------------------------------------------------------------- real profile
@dataclass
class RealProfile:
    """The real side of every fidelity score, computed once per training table.

    Attributes:
        schema: the table's schema.
        n: number of real rows.
        ks_sorted: numerical/datetime column -> sorted non-NaN values (rounded as SDMetrics).
        counts: categorical column -> category counts (NaN dropped).
    """

    schema: Schema
    frame: pd.DataFrame
    ks_sorted: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, pd.Series] = field(default_factory=dict)
    _pairs: Any = None
    _cramer: dict[tuple[str, str], float] = field(default_factory=dict)

    def cramers_v(self, a: str, b: str) -> float:
        """Cramér's V of the real (a, b) contingency table, cached."""
        if (a, b) not in self._cramer:
            self._cramer[(a, b)] = _cramers_v(self._pairs.codes[a], self._pairs.codes[b])
        return self._cramer[(a, b)]

    @classmethod
    def from_frame(cls, real: pd.DataFrame, schema: Schema) -> "RealProfile":
        prof = cls(schema=schema, frame=real)
        for col in schema.numerical + schema.datetime:
            prof.ks_sorted[col] = np.sort(_ks_values(real[col]))
        for col in schema.categorical:
            prof.counts[col] = real[col].dropna().value_counts(sort=False)
        prof._pairs = _PairSide.from_frame(real, schema)
        return prof


def column_shapes(real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame,
                  schema: Schema | None = None) -> pd.DataFrame:
    """Per-column shape scores, as SDMetrics' Column Shapes property.

    Args:
        real: real training table (n, d) or its :class:`RealProfile`.
        synthetic: synthetic table (m, d) with the same columns.
        schema: required when ``real`` is a DataFrame.
    Returns:
        DataFrame with columns ``column, metric, score`` (one row per
        numerical/datetime/categorical/boolean column; ``id`` columns skipped).
    Source: sdmetrics.reports.single_table._properties.ColumnShapes.
    """
    prof = _profile(real, schema)
    rows = []
    for col, kind in prof.schema.columns.items():
        if kind in ("numerical", "datetime"):
            s = np.sort(_ks_values(synthetic[col]))
            r = prof.ks_sorted[col]
            score = float("nan") if len(r) == 0 or len(s) == 0 else 1.0 - _ks_statistic(r, s)
            rows.append((col, "KSComplement", score))
        elif kind in ("categorical", "boolean"):
            s = synthetic[col].dropna()
            r = prof.counts[col]
            score = float("nan") if len(s) == 0 or r.sum() == 0 else _tv_from_counts(
                r, s.value_counts(sort=False))
            rows.append((col, "TVComplement", score))
    return pd.DataFrame(rows, columns=["column", "metric", "score"])


# --------------------------------------------------------------- pair trends
def _histogram_codes(values: pd.Series) -> np.ndarray:
    """np.digitize on np.histogram_bin_edges (10 bins) of the column's own values.

    Each table is binned on its own edges, as SDMetrics' ColumnPairTrends does.
    """
    v = values.to_numpy(dtype=float)
    edges = np.histogram_bin_edges(values.dropna())
    return np.digitize(v, bins=edges)


@dataclass
class _PairSide:
    """One table prepared for pair scores: numerical matrix + integer codes."""

    numeric: dict[str, np.ndarray]
    codes: dict[str, np.ndarray]       # categorical raw codes and numerical bin codes
    labels: dict[str, pd.Index]        # categorical code -> value
    n: int

    @classmethod
    def from_frame(cls, df: pd.DataFrame, schema: Schema,
                   labels: dict[str, pd.Index] | None = None) -> "_PairSide":
        numeric, codes, labs = {}, {}, {}
        for col, kind in schema.columns.items():
            if kind in ("numerical", "datetime"):
                s = df[col]
                if kind == "datetime":
                    s = pd.Series(pd.to_numeric(s), index=s.index).astype(float)
                    s[df[col].isna()] = np.nan
                s = s.astype(float)
                numeric[col] = s.to_numpy()
                codes[col] = _histogram_codes(s)
            elif kind in ("categorical", "boolean"):
                known = labels[col] if labels is not None else None
                vals = df[col].astype(object).where(df[col].notna(), "\x00<NA>")
                if known is None:
                    cats = pd.Index(pd.unique(vals))
                else:
                    extra = pd.Index(pd.unique(vals)).difference(known)
                    cats = known.append(extra)
                labs[col] = cats
                codes[col] = cats.get_indexer(vals)
        return cls(numeric=numeric, codes=codes, labels=labs, n=len(df))


def _contingency_score(ra, rb, sa, sb) -> float:
    kb = max(int(rb.max(initial=0)), int(sb.max(initial=0))) + 1
    rk = ra.astype(np.int64) * kb + rb
    sk = sa.astype(np.int64) * kb + sb
    r_u, r_c = np.unique(rk, return_counts=True)
    s_u, s_c = np.unique(sk, return_counts=True)
    allk = np.union1d(r_u, s_u)
    p = np.zeros(len(allk))
    q = np.zeros(len(allk))
    p[np.searchsorted(allk, r_u)] = r_c / len(rk)
    q[np.searchsorted(allk, s_u)] = s_c / len(sk)
    return float(1.0 - (np.abs(p - q) / 2).sum())


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V of the observed contingency table (NaN when it is degenerate)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.int64)
    np.add.at(table, (ai, bi), 1)
    if table.sum() == 0 or min(table.shape) < 2:
        return float("nan")
    return float(association(table, method="cramer"))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return float("nan")
    xm = x - x.mean()
    ym = y - y.mean()
    den = np.sqrt((xm * xm).sum() * (ym * ym).sum())
    return float((xm * ym).sum() / den) if den > 0 else float("nan")


def column_pair_trends(real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame,
                       schema: Schema | None = None) -> pd.DataFrame:
    """Per-pair trend scores, as SDMetrics' Column Pair Trends property.

    Numerical/datetime pairs: CorrelationSimilarity = 1 - |r_real - r_syn| / 2
    (Pearson). Other pairs: ContingencySimilarity = 1 - TV distance of the joint
    frequencies, a numerical column being binned into 10 histogram bins of its
    own table. ``meets_threshold`` marks pairs whose real trend clears the
    QualityReport thresholds.

    Args:
        real: real training table (n, d) or its :class:`RealProfile`.
        synthetic: synthetic table (m, d).
    Returns:
        DataFrame ``column_1, column_2, metric, score, real_trend, meets_threshold``;
        score is NaN where SDMetrics gives NaN (e.g. a constant column).
    Source: sdmetrics.reports.single_table._properties.ColumnPairTrends (0.32).
        SDMetrics subsamples tables larger than 50,000 rows at random for
        contingency pairs; tailbench uses all rows, so the two agree exactly
        only below that size.
    """
    prof = _profile(real, schema)
    rs = prof._pairs
    ss = _PairSide.from_frame(synthetic, prof.schema, labels=rs.labels)
    cont = {c for c, k in prof.schema.columns.items() if k in ("numerical", "datetime")}
    cols = [c for c, k in prof.schema.columns.items() if k != "id"]
    rows = []
    for a, b in combinations(cols, 2):
        if a in cont and b in cont:
            ra, rb, sa, sb = rs.numeric[a], rs.numeric[b], ss.numeric[a], ss.numeric[b]
            if _is_constant(ra) or _is_constant(rb) or _is_constant(sa) or _is_constant(sb):
                rows.append((a, b, "CorrelationSimilarity", np.nan, np.nan, np.nan))
                continue
            r_real = _pearson(ra, rb)
            r_syn = _pearson(sa, sb)
            score = 1 - abs(r_real - r_syn) / 2
            rows.append((a, b, "CorrelationSimilarity", score, r_real,
                         bool(abs(r_real) > CORRELATION_THRESHOLD)))
        else:
            score = _contingency_score(rs.codes[a], rs.codes[b], ss.codes[a], ss.codes[b])
            v = prof.cramers_v(a, b)
            rows.append((a, b, "ContingencySimilarity", score, v,
                         bool(not np.isnan(v) and v > ASSOCIATION_THRESHOLD)))
    out = pd.DataFrame(rows, columns=["column_1", "column_2", "metric", "score", "real_trend",
                                      "meets_threshold"])
    return out


def _is_constant(x: np.ndarray) -> bool:
    x = x[~np.isnan(x)]
    return len(x) == 0 or bool(np.all(x == x[0]))


def _profile(real: pd.DataFrame | RealProfile, schema: Schema | None) -> RealProfile:
    if isinstance(real, RealProfile):
        return real
    if schema is None:
        raise ValueError("schema is required when real is a DataFrame")
    return RealProfile.from_frame(real, schema)


def quality_scores(real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame,
                   schema: Schema | None = None) -> dict[str, Any]:
    """Column shapes, pair trends and the overall quality score.

    Returns:
        dict with ``column_shapes`` (mean of per-column scores),
        ``pair_trends`` (mean over pairs meeting the real-trend thresholds, the
        QualityReport default), ``pair_trends_all`` (mean over all pairs),
        ``quality_score`` (nan-mean of column_shapes and pair_trends, as
        QualityReport.get_score()), and the detail frames ``shapes`` and ``pairs``.
    Source: sdmetrics.reports.single_table.QualityReport (0.32).
    """
    prof = _profile(real, schema)
    shapes = column_shapes(prof, synthetic)
    pairs = column_pair_trends(prof, synthetic)
    shape_score = float(shapes["score"].mean()) if len(shapes) else float("nan")
    met = pairs["meets_threshold"].astype("boolean").fillna(False).astype(bool)
    pair_score = float(pairs.loc[met, "score"].mean()) if met.any() else float("nan")
    pair_all = float(pairs["score"].mean()) if len(pairs) else float("nan")
    vals = [v for v in (shape_score, pair_score) if not np.isnan(v)]
    return {
        "column_shapes": shape_score,
        "pair_trends": pair_score,
        "pair_trends_all": pair_all,
        "quality_score": float(np.mean(vals)) if vals else float("nan"),
        "shapes": shapes,
        "pairs": pairs,
    }
