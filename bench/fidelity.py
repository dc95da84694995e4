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
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

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


# --------------------------------------------------------------- encoded tables
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
    def from_frame(cls, df: pd.DataFrame, schema: Schema,
                   labels: dict[str, pd.Index] | None = None) -> "_PairSide":
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
        return cls(numeric=numeric, codes=codes, labels=labs, n_codes=n_codes, constant=constant,
                   n=len(df))

    def joint(self, a: str, b: str) -> np.ndarray:
        """Counts of the (a, b) code pairs, shape (n_codes[a], n_codes[b])."""
        ka, kb = self.n_codes[a], self.n_codes[b]
        return np.bincount(self.codes[a] * kb + self.codes[b], minlength=ka * kb).reshape(ka, kb)

    def counts(self, col: str) -> np.ndarray:
        """Counts of each code of ``col``, shape (n_codes[col],)."""
        return np.bincount(self.codes[col], minlength=self.n_codes[col])


# --------------------------------------------------------------- real profile
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
    def from_frame(cls, real: pd.DataFrame, schema: Schema) -> "RealProfile":
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
    ss = _PairSide.from_frame(synthetic, prof.schema, labels=prof._pairs.labels)
    return _shapes(prof, ss, synthetic)


# --------------------------------------------------------------- pair trends
def _histogram_codes(values: pd.Series) -> np.ndarray:
    """np.digitize on np.histogram_bin_edges (10 bins) of the column's own values.

    Each table is binned on its own edges, as SDMetrics' ColumnPairTrends does.
    """
    v = values.to_numpy(dtype=float)
    edges = np.histogram_bin_edges(values.dropna())
    return np.digitize(v, bins=edges)


def _padded_tv(real_joint: np.ndarray, n_real: int, syn_joint: np.ndarray, n_syn: int) -> float:
    """1 - TV distance of two joint frequency tables (the smaller one zero-padded)."""
    ka = max(real_joint.shape[0], syn_joint.shape[0])
    kb = max(real_joint.shape[1], syn_joint.shape[1])
    p = np.zeros((ka, kb))
    q = np.zeros((ka, kb))
    p[:real_joint.shape[0], :real_joint.shape[1]] = real_joint / n_real
    q[:syn_joint.shape[0], :syn_joint.shape[1]] = syn_joint / n_syn
    return float(1.0 - (np.abs(p - q) / 2).sum())


def _contingency_score(ra, rb, sa, sb) -> float:
    """ContingencySimilarity of two code pairs (arrays of non-negative ints)."""
    ka = max(int(ra.max(initial=0)), int(sa.max(initial=0))) + 1
    kb = max(int(rb.max(initial=0)), int(sb.max(initial=0))) + 1
    rj = np.bincount(ra.astype(np.int64) * kb + rb, minlength=ka * kb).reshape(ka, kb)
    sj = np.bincount(sa.astype(np.int64) * kb + sb, minlength=ka * kb).reshape(ka, kb)
    return _padded_tv(rj, len(ra), sj, len(sa))


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


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V of the observed contingency table (NaN when it is degenerate)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.int64)
    np.add.at(table, (ai, bi), 1)
    return _cramers_v_table(table)


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
            rows.append((a, b, "CorrelationSimilarity", score, r_real,
                         bool(abs(r_real) > CORRELATION_THRESHOLD)))
        else:
            score = _padded_tv(prof.joint(a, b), rs.n, ss.joint(a, b), ss.n)
            v = prof.cramers_v(a, b)
            rows.append((a, b, "ContingencySimilarity", score, v,
                         bool(not np.isnan(v) and v > ASSOCIATION_THRESHOLD)))
    return pd.DataFrame(rows, columns=["column_1", "column_2", "metric", "score", "real_trend",
                                       "meets_threshold"])


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
    ss = _PairSide.from_frame(synthetic, prof.schema, labels=prof._pairs.labels)
    return _pair_trends(prof, ss)


def _is_constant(x: np.ndarray) -> bool:
    x = x[~np.isnan(x)]
    return len(x) == 0 or bool(np.all(x == x[0]))


# --------------------------------------------------------------- association structure
def _correlation_ratio(codes: np.ndarray, y: np.ndarray) -> float:
    """Correlation ratio eta of numerical ``y`` on category ``codes`` (NaN in y dropped)."""
    ok = ~np.isnan(y)
    c, y = codes[ok], y[ok]
    if len(y) < 2:
        return float("nan")
    n_c = np.bincount(c)
    s_c = np.bincount(c, weights=y)
    mean = y.mean()
    total = float(((y - mean) ** 2).sum())
    if total <= 0:
        return float("nan")
    has = n_c > 0
    between = float((n_c[has] * (s_c[has] / n_c[has] - mean) ** 2).sum())
    return float(np.sqrt(min(max(between / total, 0.0), 1.0)))


def _association_pairs(side: _PairSide, schema: Schema,
                       joint: Any = None) -> list[tuple[str, str, str, float]]:
    """(column_1, column_2, measure, value) for every pair of modelled columns."""
    joint = joint or side.joint
    cont = {c for c, k in schema.columns.items() if k in ("numerical", "datetime")}
    cols = [c for c, k in schema.columns.items() if k != "id"]
    out = []
    for a, b in combinations(cols, 2):
        if a in cont and b in cont:
            v = float("nan") if side.constant[a] or side.constant[b] else _pearson(
                side.numeric[a], side.numeric[b])
            out.append((a, b, "pearson", v))
        elif a in cont or b in cont:
            num, cat = (a, b) if a in cont else (b, a)
            out.append((a, b, "correlation_ratio", _correlation_ratio(side.codes[cat], side.numeric[num])))
        else:
            out.append((a, b, "cramers_v", _cramers_v_table(joint(a, b))))
    return out


def _matrix(pairs: list[tuple[str, str, str, float]], cols: list[str]) -> pd.DataFrame:
    m = pd.DataFrame(np.eye(len(cols)), index=cols, columns=cols)
    for a, b, _, v in pairs:
        m.loc[a, b] = m.loc[b, a] = v
    return m


def association_matrix(table: pd.DataFrame | RealProfile, schema: Schema | None = None) -> pd.DataFrame:
    """One association matrix over all modelled columns.

    Pearson's r for numerical/datetime pairs (signed, in [-1, 1]); Cramér's V
    (no bias correction, NaN as a category) for categorical/boolean pairs; the
    correlation ratio eta (in [0, 1]) for numerical x categorical pairs. The
    diagonal is 1; an undefined entry (constant column) is NaN.

    Args:
        table: a table (n, d) with ``schema``'s columns, or a :class:`RealProfile`.
        schema: required when ``table`` is a DataFrame.
    Returns:
        Symmetric DataFrame (d', d') indexed by column name (``id`` columns skipped).
    Source: the mixed "associations" matrix of dython (Zychlinski) as used for
        the correlation-difference metric of CTAB-GAN (Zhao et al. 2021), with
        Pearson instead of Theil's U so the matrix is symmetric; Cramér (1946);
        Pearson (1903) for eta.
    """
    if isinstance(table, RealProfile):
        side, sch, joint = table._pairs, table.schema, table.joint
    else:
        if schema is None:
            raise ValueError("schema is required when table is a DataFrame")
        side, sch, joint = _PairSide.from_frame(table, schema), schema, None
    return _matrix(_association_pairs(side, sch, joint), sch.modelled)


def _real_association(prof: RealProfile) -> list[tuple[str, str, str, float]]:
    if prof._association is None:
        prof._association = _association_pairs(prof._pairs, prof.schema, prof.joint)
    return prof._association


def association_distance(real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame,
                         schema: Schema | None = None) -> dict[str, Any]:
    """Distance between the real and synthetic association matrices.

    distance = Frobenius norm of (A_real - A_syn) over the off-diagonal entries
    (each pair counted twice, as in the full symmetric matrix). A pair whose
    real value is undefined (constant real column) is skipped; an undefined
    synthetic value (e.g. the synthetic column is constant) counts as 0, i.e.
    no association.

    Args:
        real: real training table (n, d) or its :class:`RealProfile`.
        synthetic: synthetic table (m, d).
        schema: required when ``real`` is a DataFrame.
    Returns:
        ``{"distance": float, "mean_abs_diff": float (mean |diff| over pairs),
        "pairs": DataFrame column_1, column_2, measure, real, synthetic, abs_diff
        sorted by abs_diff descending}``.
    Source: CTAB-GAN's "correlation difference" (Zhao et al. 2021, L2 norm of
        the difference of dython association matrices); see
        :func:`association_matrix` for the measures.
    """
    prof = _profile(real, schema)
    ss = _PairSide.from_frame(synthetic, prof.schema, labels=prof._pairs.labels)
    return _association_distance(prof, ss)


def _association_distance(prof: RealProfile, ss: _PairSide) -> dict[str, Any]:
    rp = _real_association(prof)
    sp = _association_pairs(ss, prof.schema)
    pairs = pd.DataFrame([(a, b, m, rv, sv) for (a, b, m, rv), (_, _, _, sv) in zip(rp, sp)],
                         columns=["column_1", "column_2", "measure", "real", "synthetic"])
    pairs = pairs[pairs["real"].notna()].copy()
    diff = (pairs["real"] - pairs["synthetic"].fillna(0.0)).abs()
    pairs["abs_diff"] = diff
    pairs = pairs.sort_values("abs_diff", ascending=False, kind="stable").reset_index(drop=True)
    return {
        "distance": float(np.sqrt(2.0 * (diff ** 2).sum())) if len(diff) else float("nan"),
        "mean_abs_diff": float(diff.mean()) if len(diff) else float("nan"),
        "pairs": pairs,
    }


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


# --------------------------------------------------------------- detection
def balanced_sample(real: pd.DataFrame, synthetic: pd.DataFrame, max_rows: int | None,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up to ``max_rows`` rows of each table (seeded, without replacement), equal sizes.

    Args:
        real, synthetic: tables (n, d), (m, d).
        max_rows: cap per table; None = min(n, m).
    Returns:
        ``(real_sample, synthetic_sample)``, each of min(n, m, max_rows) rows.
    """
    k = min(len(real), len(synthetic), int(max_rows) if max_rows else len(real) + len(synthetic))
    rng = np.random.default_rng(seed)
    r = real if k == len(real) else real.iloc[np.sort(rng.choice(len(real), k, replace=False))]
    s = synthetic if k == len(synthetic) else synthetic.iloc[np.sort(rng.choice(len(synthetic), k,
                                                                                replace=False))]
    return r, s


def _detection_features(real: pd.DataFrame, synthetic: pd.DataFrame,
                        schema: Schema) -> tuple[pd.DataFrame, list[bool]]:
    """Stack both tables for a tree model: categories as shared integer codes."""
    X = pd.concat([real[schema.modelled], synthetic[schema.modelled]], ignore_index=True)
    native = []
    for col in schema.modelled:
        kind = schema.columns[col]
        if kind in ("categorical", "boolean"):
            codes, uniq = pd.factorize(X[col])
            X[col] = np.where(codes < 0, np.nan, codes).astype(float)
            native.append(len(uniq) <= 255)  # HistGradientBoosting's native limit; else ordinal
        elif kind == "datetime":
            X[col] = pd.to_numeric(X[col]).astype(float).where(X[col].notna())
            native.append(False)
        else:
            X[col] = X[col].astype(float)
            native.append(False)
    return X, native


def auc_from_scores(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half.

    Args:
        y: labels (n,), 1 = positive.
        score: scores (n,), higher = more positive.
    Returns:
        AUC in [0, 1]; NaN if either class is absent.
    Source: Hanley & McNeil (1982); equals sklearn.metrics.roc_auc_score.
    """
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def normal_interval(point: float, replicates: Any, level: float = 0.95, lower: float | None = None,
                    upper: float | None = None) -> tuple[float, float]:
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


def bootstrap_auc(y: np.ndarray, score: np.ndarray, n_boot: int = 200, level: float = 0.95,
                  seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of the ROC AUC (each class resampled separately; normal interval).

    Returns:
        ``(low, high)`` within [0, 1]; NaNs when ``n_boot`` < 2.
    """
    if not n_boot or n_boot < 2:
        return float("nan"), float("nan")
    y = np.asarray(y).astype(bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    rng = np.random.default_rng(seed)
    lab = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
    vals = []
    for _ in range(int(n_boot)):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        vals.append(auc_from_scores(lab, score[idx]))
    return normal_interval(auc_from_scores(y, score), vals, level, 0.0, 1.0)


def detection_auc(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, *,
                  max_rows: int | None = 10_000, folds: int = 5, seed: int = 0,
                  n_bootstrap: int = 200) -> dict[str, Any]:
    """Classifier two-sample test: can gradient boosting tell synthetic rows from real ones?

    A balanced sample of real (label 0) and synthetic (label 1) rows is scored
    by ``folds``-fold stratified cross-validation with scikit-learn's
    ``HistGradientBoostingClassifier`` (native categorical support); the ROC AUC
    of the pooled out-of-fold probabilities is the statistic. Rows with
    identical values are kept in one fold (``StratifiedGroupKFold``), so a
    copied real row cannot be "recognised" through its twin in the training
    folds.

    Args:
        real: real training table (n, d); synthetic: (m, d).
        max_rows: rows drawn from each table (the smaller table bounds it).
        folds: cross-validation folds.
        seed: sampling, fold and model seed.
        n_bootstrap: bootstrap replicates of the out-of-fold AUC for the interval.
    Returns:
        ``{"auc", "ci_low", "ci_high", "fold_auc": [per fold], "n_per_class"}``;
        AUC 0.5 = indistinguishable, 1 = every synthetic row is recognised.
    Raises:
        ValueError: if either table has fewer than ``folds`` rows.
    Source: classifier two-sample test (Lopez-Paz & Oquab 2017); the
        "detection" metric of SDMetrics / synthcity, here with gradient boosting
        and the AUC reported as is (not 1 - AUC).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedGroupKFold

    r, s = balanced_sample(real, synthetic, max_rows, seed)
    if len(r) < folds:
        raise ValueError(f"detection needs at least {folds} rows per table, got {len(r)}")
    X, native = _detection_features(r, s, schema)
    y = np.r_[np.zeros(len(r), int), np.ones(len(s), int)]
    # Identical rows share a fold: otherwise a test row's copy in the other class
    # sits in the training folds and the classifier becomes anti-predictive
    # (AUC far below 0.5 for the identity generator).
    groups = pd.util.hash_pandas_object(X, index=False).to_numpy()
    oof = np.zeros(len(y))
    fold_auc = []
    cv = StratifiedGroupKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    for tr, te in cv.split(X, y, groups):
        clf = HistGradientBoostingClassifier(categorical_features=native, random_state=seed)
        clf.fit(X.iloc[tr], y[tr])
        oof[te] = clf.predict_proba(X.iloc[te])[:, 1]
        fold_auc.append(auc_from_scores(y[te], oof[te]))
    auc = auc_from_scores(y, oof)
    lo, hi = bootstrap_auc(y, oof, n_bootstrap, seed=seed)
    return {"auc": auc, "ci_low": lo, "ci_high": hi, "fold_auc": fold_auc, "n_per_class": len(r)}


def logistic_detection(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                       seed: int = 0) -> float:
    """SDMetrics' LogisticDetection score, with an explicit seed.

    Same steps as ``sdmetrics.single_table.LogisticDetection.compute``:
    numerical columns filled with the real mean, categorical columns one-hot
    encoded on the real categories (sdmetrics' HyperTransformer), real = 1 and
    synthetic = 0, 3-fold shuffled stratified CV of SimpleImputer +
    RobustScaler + LogisticRegression(lbfgs), score = 1 - mean over folds of
    (2 * max(AUC, 0.5) - 1). Differences: the folds use
    ``np.random.RandomState(seed)`` instead of NumPy's global RNG (so
    ``np.random.seed(seed)`` before sdmetrics gives the same value), and a
    synthetic category absent from the real table is encoded as all zeros
    instead of raising.

    Args:
        real: real table (n, d); synthetic: (m, d); ``id`` columns are dropped.
    Returns:
        Score in [0, 1]; 1 = the classifier cannot tell the tables apart.
    Source: sdmetrics.single_table.LogisticDetection (0.32).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, RobustScaler

    plain_r, plain_s, hot_r, hot_s = [], [], [], []
    for col in schema.modelled:
        kind = schema.columns[col]
        if kind in ("categorical", "boolean"):
            enc = OneHotEncoder(handle_unknown="ignore").fit(pd.DataFrame({"field": real[col]}))
            hot_r.append(enc.transform(pd.DataFrame({"field": real[col]})).toarray())
            hot_s.append(enc.transform(pd.DataFrame({"field": synthetic[col]})).toarray())
            continue
        if kind == "datetime":
            xr = pd.to_numeric(real[col]).to_numpy(float)
            xr[real[col].isna().to_numpy()] = np.nan
            xs = pd.to_numeric(synthetic[col]).to_numpy(float)
            xs[synthetic[col].isna().to_numpy()] = np.nan
            mean = pd.Series(xr).mean()
        else:
            xr = real[col].to_numpy(float)
            xs = synthetic[col].to_numpy(float)
            mean = real[col].mean()
        plain_r.append(np.where(np.isnan(xr), mean, xr))
        plain_s.append(np.where(np.isnan(xs), mean, xs))
    Xr = np.column_stack(plain_r + hot_r) if plain_r or hot_r else np.empty((len(real), 0))
    Xs = np.column_stack(plain_s + hot_s) if plain_s or hot_s else np.empty((len(synthetic), 0))
    X = np.concatenate([Xr, Xs]).astype(float)
    y = np.hstack([np.ones(len(Xr)), np.zeros(len(Xs))])
    X[np.isinf(X)] = np.nan
    scores = []
    kf = StratifiedKFold(n_splits=3, shuffle=True, random_state=np.random.RandomState(seed))
    for tr, te in kf.split(X, y):
        model = Pipeline([("imputer", SimpleImputer()), ("scalar", RobustScaler()),
                          ("classifier", LogisticRegression(solver="lbfgs"))])
        with warnings.catch_warnings():  # SDMetrics' settings stop lbfgs at 100 iterations
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X[tr], y[tr])
        auc = roc_auc_score(y[te], model.predict_proba(X[te])[:, 1])
        scores.append(max(0.5, auc) * 2 - 1)
    return float(1 - np.mean(scores))


# --------------------------------------------------------------- validity
FD_ARROW = "->"


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


def quote_columns(expr: str, columns: list[str]) -> str:
    """Wrap column names that are not Python identifiers in backticks for ``DataFrame.eval``.

    ``"capital-gain >= 0"`` -> ``"`capital-gain` >= 0"``; names already in
    backticks are left alone.
    """
    import re

    for col in sorted((c for c in columns if not c.isidentifier()), key=len, reverse=True):
        expr = re.sub(r"(?<![`\w-])" + re.escape(col) + r"(?![`\w-])", f"`{col}`", expr)
    return expr


def _referenced(expr: str, columns: list[str]) -> list[str]:
    import re

    return [c for c in columns if re.search(r"(?<![\w-])" + re.escape(c) + r"(?![\w-])", expr)]


def constraint_mask(table: pd.DataFrame, expr: str, schema: Schema,
                    real: pd.DataFrame | None = None) -> np.ndarray:
    """Which rows of ``table`` satisfy one declared constraint.

    Two forms:
      * a pandas ``DataFrame.eval`` boolean expression, e.g. ``"age >= 17"``
        (column names that are not identifiers may be written bare or in
        backticks);
      * a functional dependency ``"a -> b"``: each value of ``a`` determines
        ``b``, with the mapping read from ``real`` (its most frequent ``b`` per
        ``a``), e.g. ``"education -> education-num"`` on Adult.
    A row whose referenced columns are missing (NaN), or whose ``a`` value the
    real table never shows, is not counted as a violation.

    Args:
        table: (m, d) table with the schema's columns.
        expr: the constraint.
        real: the real table, required for a functional dependency.
    Returns:
        Boolean array (m,), True = the row satisfies the constraint.
    Raises:
        ConfigError: naming the constraint when it cannot be evaluated, names
            an unknown column, or is not boolean.
    """
    from bench.errors import ConfigError

    cols = list(schema.columns)
    if FD_ARROW in expr:
        a, b = (p.strip().strip("`") for p in expr.split(FD_ARROW, 1))
        for c in (a, b):
            if c not in schema.columns:
                raise ConfigError(f"constraint {expr!r}: unknown column {c!r}")
        if real is None:
            raise ConfigError(f"constraint {expr!r}: a functional dependency needs the real table")
        ref = real[[a, b]].dropna()
        mapping = ref.groupby(a, sort=False)[b].agg(lambda s: s.value_counts().index[0])
        expected = table[a].map(mapping)
        ok = (table[b] == expected) | expected.isna() | table[b].isna()
        return ok.to_numpy(dtype=bool)
    used = _referenced(expr, cols)
    try:
        res = table.eval(quote_columns(expr, cols), engine="python")
    except Exception as exc:  # noqa: BLE001 - reported as a config error naming the constraint
        raise ConfigError(f"constraint {expr!r} cannot be evaluated: {type(exc).__name__}: {exc}") from None
    res = pd.Series(res, index=table.index) if np.ndim(res) else pd.Series(bool(res), index=table.index)
    if not pd.api.types.is_bool_dtype(res):
        raise ConfigError(f"constraint {expr!r} is not a boolean expression")
    missing = table[used].isna().any(axis=1) if used else pd.Series(False, index=table.index)
    return (res | missing).to_numpy(dtype=bool)


def validity(table: pd.DataFrame, schema: Schema, real: pd.DataFrame | None = None,
             extra_constraints: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Share of rows that respect the schema and the declared constraints.

    Components (each the share of rows with no violation of that kind):
      * ``bounds``: every numerical value inside the schema's *public* bounds
        (NaN is not a violation; ±inf is);
      * ``domain``: every category inside the declared domain (boolean columns:
        ``True``/``False``; columns without a declared domain are not checked);
      * ``kinds``: numerical values finite, and integers where the real column
        is integer-typed (needs ``real``);
      * ``constraints``: every expression in ``schema.constraints`` +
        ``extra_constraints`` holds (see :func:`constraint_mask`).
    ``validity`` is the share of rows valid on all four.

    Args:
        table: (m, d) table with the schema's columns (synthetic or real).
        real: real training table (integer kinds, functional dependencies).
    Returns:
        ``{"validity", "bounds", "domain", "kinds", "constraints": float,
        "n_rows": int, "n_valid": int, "by_column": {column: {"out_of_bounds",
        "out_of_domain", "wrong_kind": int}} (only columns with a violation),
        "by_constraint": {expr: number of violating rows}}``. Counts only; no
        values are returned.
    Raises:
        ConfigError: for a constraint that cannot be evaluated.
    Source: tailbench; cf. SDMetrics' BoundaryAdherence / CategoryAdherence
        (per column) and Data Validity property.
    """
    m = len(table)
    bad = {k: np.zeros(m, bool) for k in ("bounds", "domain", "kinds", "constraints")}
    by_column: dict[str, dict[str, int]] = {}

    def note(col: str, key: str, mask: np.ndarray) -> None:
        if mask.any():
            by_column.setdefault(col, {"out_of_bounds": 0, "out_of_domain": 0, "wrong_kind": 0})[key] = int(
                mask.sum())

    for col, kind in schema.columns.items():
        if kind == "numerical":
            x = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
            nonfinite = np.isinf(x) | (table[col].notna().to_numpy() & np.isnan(x))
            kind_bad = nonfinite.copy()
            if real is not None and pd.api.types.is_integer_dtype(real[col]):
                with np.errstate(invalid="ignore"):
                    kind_bad |= np.isfinite(x) & (np.mod(x, 1) != 0)
            bad["kinds"] |= kind_bad
            note(col, "wrong_kind", kind_bad)
            if col in schema.bounds:
                lo, hi = schema.bounds[col]
                with np.errstate(invalid="ignore"):
                    oob = np.isfinite(x) & ((x < lo) | (x > hi)) | np.isinf(x)
                bad["bounds"] |= oob
                note(col, "out_of_bounds", oob)
        elif kind in ("categorical", "boolean"):
            dom = schema.domains.get(col) or (["True", "False"] if kind == "boolean" else None)
            if dom is None:
                continue
            v = table[col]
            ood = (v.notna() & ~v.astype(str).isin(set(dom))).to_numpy()
            bad["domain"] |= ood
            note(col, "out_of_domain", ood)
    by_constraint = {}
    for expr in list(schema.constraints) + list(extra_constraints or ()):
        ok = constraint_mask(table, expr, schema, real)
        bad["constraints"] |= ~ok
        by_constraint[expr] = int((~ok).sum())
    any_bad = np.zeros(m, bool)
    for v in bad.values():
        any_bad |= v
    share = (lambda mask: float(1 - mask.mean()) if m else float("nan"))
    return {
        "validity": share(any_bad),
        **{k: share(v) for k, v in bad.items()},
        "n_rows": m,
        "n_valid": int(m - any_bad.sum()),
        "n_valid_by_component": {k: int(m - v.sum()) for k, v in bad.items()},
        "by_column": by_column,
        "by_constraint": by_constraint,
    }


def sdmetrics_quality_report(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                             thresholds: bool = True) -> Any:
    """SDMetrics' own ``QualityReport`` on one table: the reference our scores are checked against.

    Args:
        real, synthetic: tables with the schema's columns.
        thresholds: False sets both real-trend thresholds to 0 (the all-pairs score).
    Returns:
        The generated ``sdmetrics.reports.QualityReport``.
    Source: sdmetrics.reports.QualityReport (0.32), metadata from :meth:`Schema.to_sdv_metadata`.
    """
    import warnings

    from sdmetrics.reports import QualityReport

    md = schema.to_sdv_metadata().to_dict()
    md = {"tables": {schema.name: md["tables"][schema.name]}}
    rep = QualityReport()
    if not thresholds:
        rep.real_correlation_threshold = 0
        rep.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep.generate({schema.name: real}, {schema.name: synthetic}, md, verbose=False)
    return rep


# ------------------------------------------------------- 2-way marginal error
def public_cells(table: pd.DataFrame, schema: Schema, n_bins: int = 10,
                 reference: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Each modelled column as integer cells of one public discretisation.

    Numerical column: values clipped into the schema's bounds, ``n_bins``
    equal-width bins between them, one more cell for NaN. Categorical or
    boolean column: the schema's domain (booleans: ``False``/``True``), one
    more cell for NaN and values outside it. Where the schema declares no
    bounds (no domain), the ``reference`` table's min/max (sorted categories)
    stand in: a metric may read the real rows, a generator may not. Two tables
    encoded with the same ``schema``, ``n_bins`` and ``reference`` share their
    cells exactly.

    Args:
        table: rows to encode (schema columns).
        reference: the real table whose range or categories fill gaps in the
            schema (default: ``table`` itself).
    Returns:
        ``{column: (n,) int64 cells}`` and, under the key ``"__sizes__"``, an
        array of the number of cells of each column in the same order.
    """
    ref = table if reference is None else reference
    out: dict[str, np.ndarray] = {}
    sizes = []
    for col in schema.modelled:
        kind = schema.columns[col]
        if kind == "datetime":
            continue
        if kind == "numerical":
            if col in schema.bounds:
                lo, hi = schema.bounds[col]
            else:
                r = pd.to_numeric(ref[col], errors="coerce")
                lo, hi = float(np.nanmin(r)), float(np.nanmax(r))
                hi = hi if hi > lo else lo + 1.0
            v = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
            miss = np.isnan(v)
            pos = (np.clip(np.where(miss, lo, v), lo, hi) - lo) / (hi - lo) * n_bins
            cell = np.minimum(np.floor(pos), n_bins - 1).astype(np.int64)
            out[col] = np.where(miss, n_bins, cell)
            sizes.append(n_bins + 1)
        else:
            if col in schema.domains:
                cats = list(schema.domains[col])
            elif kind == "boolean":
                cats = ["False", "True"]
            else:
                cats = sorted(ref[col].dropna().map(str).unique().tolist())
            index = {c: i for i, c in enumerate(cats)}
            other = len(cats)
            out[col] = np.fromiter((index.get(x, other) if isinstance(x, str) else other
                                    for x in table[col].to_numpy(dtype=object)), dtype=np.int64, count=len(table))
            sizes.append(len(cats) + 1)
    out["__sizes__"] = np.array(sizes, dtype=np.int64)
    return out


def two_way_marginal_error(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                           n_bins: int = 10) -> dict[str, Any]:
    """Mean total variation distance between real and synthetic 2-way marginals on public cells.

    For every pair (a, b) of modelled columns, the joint frequencies of the
    two tables over the cells of :func:`public_cells` (same discretisation
    for both, from the schema's public bounds and domains), and
    ``TV_ab = 1/2 sum_cells |p_real - p_syn|``. The score is the mean over all
    pairs (every pair counts, unlike SDMetrics' thresholded pair trends, and
    both tables share one binning, unlike SDMetrics' ContingencySimilarity,
    which bins each table on its own edges).

    Args:
        real: the real training table (schema columns).
        synthetic: the synthetic table (schema columns).
        n_bins: equal-width bins per numerical column between its bounds.
    Returns:
        ``{"mean": float in [0, 1] (0 = every 2-way marginal identical),
        "max": float, "pairs": DataFrame(column_a, column_b, tv)}``.
    Raises:
        ValueError: fewer than two modelled columns, or an empty table.
    Source: the workload error of Tao et al. 2021 ("Benchmarking
    Differentially Private Synthetic Data Generation Algorithms") and of AIM
    (McKenna et al. 2022, Section 2) with all 2-way marginals and TV = L1 / 2.
    """
    if len(real) == 0 or len(synthetic) == 0:
        raise ValueError("two_way_marginal_error needs non-empty real and synthetic tables")
    rc = public_cells(real, schema, n_bins)
    sc = public_cells(synthetic, schema, n_bins, reference=real)
    sizes = dict(zip([c for c in rc if c != "__sizes__"], rc["__sizes__"]))
    cols = list(sizes)
    if len(cols) < 2:
        raise ValueError(f"two_way_marginal_error needs at least two modelled columns, got {cols}")
    rows = []
    for a, b in combinations(cols, 2):
        k = int(sizes[a] * sizes[b])
        p = np.bincount(rc[a] * sizes[b] + rc[b], minlength=k) / len(real)
        q = np.bincount(sc[a] * sizes[b] + sc[b], minlength=k) / len(synthetic)
        rows.append((a, b, float(np.abs(p - q).sum() / 2.0)))
    pairs = pd.DataFrame(rows, columns=["column_a", "column_b", "tv"])
    return {"mean": float(pairs["tv"].mean()), "max": float(pairs["tv"].max()), "pairs": pairs}
