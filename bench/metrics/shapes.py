"""Column shapes and column-pair trends, equal to SDMetrics' quality report.

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

from bench.data.schema import Schema

KS_DECIMALS = sys.float_info.dig - 1  # sdmetrics.single_column.statistical.kscomplement.MAX_DECIMALS


CORRELATION_THRESHOLD = 0.5  # sdmetrics.reports.utils.DEFAULT_REAL_CORRELATION_THRESHOLD


ASSOCIATION_THRESHOLD = 0.3  # sdmetrics.reports.utils.DEFAULT_REAL_ASSOCIATION_THRESHOLD


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


_NA_LABEL = "\x00<NA>"  # the category NaN becomes in pair scores (SDMetrics groups with dropna=False)


@dataclass
class _PairSide:
    """One table encoded once for every column and pair score.

    Attributes:
        numeric: numerical/datetime column -> float values (n,), NaN kept,
            datetimes as ns.
        codes: every modelled column -> int64 codes (n,): category codes for
            categorical/boolean columns, 10-bin histogram codes (``np.digitize``
            on the column's own ``np.histogram_bin_edges``, as SDMetrics'
            ColumnPairTrends) for numerical/datetime columns.
        labels: categorical column -> code -> category (NaN as ``_NA_LABEL``).
            A synthetic side built with the real labels keeps the real codes and
            appends categories the real table lacks.
        n_codes: column -> number of codes (upper bound + 1).
        constant: numerical column -> True when it is empty or constant.
        n: number of rows.
    """

    numeric: dict[str, np.ndarray]
    codes: dict[str, np.ndarray]
    labels: dict[str, pd.Index]
    n_codes: dict[str, int]
    constant: dict[str, bool]
    n: int

    @classmethod
    def from_frame(cls, df: pd.DataFrame, schema: Schema, labels: dict[str, pd.Index] | None = None) -> _PairSide:
        numeric, codes, labs, n_codes, constant = {}, {}, {}, {}, {}
        for col, kind in schema.columns.items():
            if kind in ("numerical", "datetime"):
                s = df[col]
                if kind == "datetime":
                    x = pd.to_numeric(s).to_numpy(dtype=float)
                    x[s.isna().to_numpy()] = np.nan
                else:
                    x = s.to_numpy(dtype=float)
                finite = x[~np.isnan(x)]
                edges = np.histogram_bin_edges(finite)
                numeric[col] = x
                codes[col] = np.digitize(x, bins=edges).astype(np.int64)
                n_codes[col] = len(edges) + 1
                constant[col] = len(finite) == 0 or bool(np.all(finite == finite[0]))
            elif kind in ("categorical", "boolean"):
                raw, uniq = pd.factorize(df[col].to_numpy(dtype=object))
                uniq = pd.Index(uniq, dtype=object)
                if (raw < 0).any():  # NaN is a category of its own, coded last
                    raw = np.where(raw < 0, len(uniq), raw)
                    uniq = uniq.append(pd.Index([_NA_LABEL], dtype=object))
                if labels is None:
                    cats, c = uniq, raw
                else:
                    known = labels[col]
                    pos = known.get_indexer(uniq)
                    new = pos < 0
                    pos[new] = len(known) + np.arange(int(new.sum()))
                    cats = known.append(uniq[new])
                    c = pos[raw]
                labs[col] = cats
                codes[col] = np.asarray(c, dtype=np.int64)
                n_codes[col] = len(cats)
        return cls(numeric=numeric, codes=codes, labels=labs, n_codes=n_codes, constant=constant, n=len(df))

    def joint(self, a: str, b: str) -> np.ndarray:
        """Counts of the (a, b) code pairs, shape (n_codes[a], n_codes[b])."""
        ka, kb = self.n_codes[a], self.n_codes[b]
        return np.bincount(self.codes[a] * kb + self.codes[b], minlength=ka * kb).reshape(ka, kb)

    def counts(self, col: str) -> np.ndarray:
        """Counts of each code of ``col``, shape (n_codes[col],)."""
        return np.bincount(self.codes[col], minlength=self.n_codes[col])


@dataclass
class RealProfile:
    """The real side of every fidelity score, computed once per training table.

    Attributes:
        schema: the table's schema.
        frame: the real table (n, d).
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
    _joint: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _association: Any = None

    @property
    def n(self) -> int:
        return len(self.frame)

    def cramers_v(self, a: str, b: str) -> float:
        """Cramér's V of the real (a, b) contingency table, cached."""
        if (a, b) not in self._cramer:
            self._cramer[(a, b)] = _cramers_v_table(self.joint(a, b))
        return self._cramer[(a, b)]

    def joint(self, a: str, b: str) -> np.ndarray:
        """Real (a, b) code-pair counts, cached (see :meth:`_PairSide.joint`)."""
        if (a, b) not in self._joint:
            self._joint[(a, b)] = self._pairs.joint(a, b)
        return self._joint[(a, b)]

    @classmethod
    def from_frame(cls, real: pd.DataFrame, schema: Schema) -> RealProfile:
        prof = cls(schema=schema, frame=real)
        for col in schema.numerical + schema.datetime:
            prof.ks_sorted[col] = np.sort(_ks_values(real[col]))
        prof._pairs = _PairSide.from_frame(real, schema)
        for col in schema.categorical:
            labels = prof._pairs.labels[col]
            keep = labels != _NA_LABEL
            prof.counts[col] = pd.Series(prof._pairs.counts(col)[keep], index=labels[keep], name="count")
        return prof


def _tv_from_codes(real_counts: np.ndarray, syn_counts: np.ndarray, labels: pd.Index) -> float:
    """TVComplement from code counts; ``labels`` are the synthetic side's (real first)."""
    k_r = len(real_counts)
    not_na = np.asarray(labels != _NA_LABEL)
    r = real_counts[not_na[:k_r]].astype(float)
    known = syn_counts[:k_r][not_na[:k_r]].astype(float)
    unseen = syn_counts[k_r:][not_na[k_r:]].astype(float)
    unseen = unseen[unseen > 0]
    syn_total = known.sum() + unseen.sum()
    if r.sum() == 0 or syn_total == 0:
        return float("nan")
    real_total = r.sum() + 1e-6 * len(unseen)
    f_exp = np.concatenate([r, np.full(len(unseen), 1e-6)]) / real_total
    f_obs = np.concatenate([known, unseen]) / syn_total
    return float(1.0 - 0.5 * np.abs(f_obs - f_exp).sum())


def _shapes(prof: RealProfile, ss: _PairSide, synthetic: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for col, kind in prof.schema.columns.items():
        if kind in ("numerical", "datetime"):
            s = np.sort(_ks_values(synthetic[col]))
            r = prof.ks_sorted[col]
            score = float("nan") if len(r) == 0 or len(s) == 0 else 1.0 - _ks_statistic(r, s)
            rows.append((col, "KSComplement", score))
        elif kind in ("categorical", "boolean"):
            score = _tv_from_codes(prof._pairs.counts(col), ss.counts(col), ss.labels[col])
            rows.append((col, "TVComplement", score))
    return pd.DataFrame(rows, columns=["column", "metric", "score"])


def column_shapes(
    real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame, schema: Schema | None = None
) -> pd.DataFrame:
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
    ss = _PairSide.from_frame(synthetic, prof.schema, labels=prof._pairs.labels)
    return _shapes(prof, ss, synthetic)


def _padded_tv(real_joint: np.ndarray, n_real: int, syn_joint: np.ndarray, n_syn: int) -> float:
    """1 - TV distance of two joint frequency tables (the smaller one zero-padded)."""
    ka = max(real_joint.shape[0], syn_joint.shape[0])
    kb = max(real_joint.shape[1], syn_joint.shape[1])
    p = np.zeros((ka, kb))
    q = np.zeros((ka, kb))
    p[: real_joint.shape[0], : real_joint.shape[1]] = real_joint / n_real
    q[: syn_joint.shape[0], : syn_joint.shape[1]] = syn_joint / n_syn
    return float(1.0 - (np.abs(p - q) / 2).sum())


def _cramers_v_table(table: np.ndarray) -> float:
    """Cramér's V (no bias correction, as SDMetrics) of a contingency table.

    Empty rows and columns are dropped first; NaN when fewer than 2 remain on
    either side. Source: Cramér (1946); equals
    scipy.stats.contingency.association(method="cramer"), which SDMetrics uses.
    """
    t = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if t.sum() == 0 or min(t.shape) < 2:
        return float("nan")
    # Pearson's chi-squared without Yates' correction, as association() computes
    # it through chi2_contingency(correction=False); inlined because the scipy
    # call's overhead dominated the real profile build.
    t = t.astype(float)
    n = t.sum()
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / n
    chi2 = float(((t - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / n / (min(t.shape) - 1)))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return float("nan")
    xm = x - x.mean()
    ym = y - y.mean()
    den = np.sqrt((xm * xm).sum() * (ym * ym).sum())
    return float((xm * ym).sum() / den) if den > 0 else float("nan")


def _pair_trends(prof: RealProfile, ss: _PairSide) -> pd.DataFrame:
    rs = prof._pairs
    cont = {c for c, k in prof.schema.columns.items() if k in ("numerical", "datetime")}
    cols = [c for c, k in prof.schema.columns.items() if k != "id"]
    rows = []
    for a, b in combinations(cols, 2):
        if a in cont and b in cont:
            if rs.constant[a] or rs.constant[b] or ss.constant[a] or ss.constant[b]:
                rows.append((a, b, "CorrelationSimilarity", np.nan, np.nan, np.nan))
                continue
            r_real = _pearson(rs.numeric[a], rs.numeric[b])
            r_syn = _pearson(ss.numeric[a], ss.numeric[b])
            score = 1 - abs(r_real - r_syn) / 2
            rows.append((a, b, "CorrelationSimilarity", score, r_real, bool(abs(r_real) > CORRELATION_THRESHOLD)))
        else:
            score = _padded_tv(prof.joint(a, b), rs.n, ss.joint(a, b), ss.n)
            v = prof.cramers_v(a, b)
            rows.append((a, b, "ContingencySimilarity", score, v, bool(not np.isnan(v) and v > ASSOCIATION_THRESHOLD)))
    return pd.DataFrame(rows, columns=["column_1", "column_2", "metric", "score", "real_trend", "meets_threshold"])


def column_pair_trends(
    real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame, schema: Schema | None = None
) -> pd.DataFrame:
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
    ss = _PairSide.from_frame(synthetic, prof.schema, labels=prof._pairs.labels)
    return _pair_trends(prof, ss)


def _profile(real: pd.DataFrame | RealProfile, schema: Schema | None) -> RealProfile:
    if isinstance(real, RealProfile):
        return real
    if schema is None:
        raise ValueError("schema is required when real is a DataFrame")
    return RealProfile.from_frame(real, schema)


def quality_scores(
    real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame, schema: Schema | None = None
) -> dict[str, Any]:
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
    ss = _PairSide.from_frame(synthetic, prof.schema, labels=prof._pairs.labels)
    shapes = _shapes(prof, ss, synthetic)
    pairs = _pair_trends(prof, ss)
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
