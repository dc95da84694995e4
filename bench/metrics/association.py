"""Association structure: one mixed-type association matrix and the real-synthetic distance.

Pearson's r for numerical pairs, Cramér's V for categorical pairs and the
correlation ratio for mixed pairs (CTAB-GAN's "correlation difference",
Zhao et al. 2021); the real side comes from :class:`bench.metrics.shapes.RealProfile`.
The 2-way marginal error (:func:`two_way_marginal_error`) is the DP-synthesis
literature's workload error on one public discretisation.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from bench.data.schema import Schema
from bench.metrics.shapes import RealProfile, _cramers_v_table, _PairSide, _pearson, _profile


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


def _association_pairs(side: _PairSide, schema: Schema, joint: Any = None) -> list[tuple[str, str, str, float]]:
    """(column_1, column_2, measure, value) for every pair of modelled columns."""
    joint = joint or side.joint
    cont = {c for c, k in schema.columns.items() if k in ("numerical", "datetime")}
    cols = [c for c, k in schema.columns.items() if k != "id"]
    out = []
    for a, b in combinations(cols, 2):
        if a in cont and b in cont:
            v = float("nan") if side.constant[a] or side.constant[b] else _pearson(side.numeric[a], side.numeric[b])
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


def association_distance(
    real: pd.DataFrame | RealProfile, synthetic: pd.DataFrame, schema: Schema | None = None
) -> dict[str, Any]:
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
    pairs = pd.DataFrame(
        [(a, b, m, rv, sv) for (a, b, m, rv), (_, _, _, sv) in zip(rp, sp)],
        columns=["column_1", "column_2", "measure", "real", "synthetic"],
    )
    pairs = pairs[pairs["real"].notna()].copy()
    diff = (pairs["real"] - pairs["synthetic"].fillna(0.0)).abs()
    pairs["abs_diff"] = diff
    pairs = pairs.sort_values("abs_diff", ascending=False, kind="stable").reset_index(drop=True)
    return {
        "distance": float(np.sqrt(2.0 * (diff**2).sum())) if len(diff) else float("nan"),
        "mean_abs_diff": float(diff.mean()) if len(diff) else float("nan"),
        "pairs": pairs,
    }


# ------------------------------------------------------- 2-way marginal error
def public_cells(
    table: pd.DataFrame, schema: Schema, n_bins: int = 10, reference: pd.DataFrame | None = None
) -> dict[str, np.ndarray]:
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
            out[col] = np.fromiter(
                (index.get(x, other) if isinstance(x, str) else other for x in table[col].to_numpy(dtype=object)),
                dtype=np.int64,
                count=len(table),
            )
            sizes.append(len(cats) + 1)
    out["__sizes__"] = np.array(sizes, dtype=np.int64)
    return out


def two_way_marginal_error(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, n_bins: int = 10
) -> dict[str, Any]:
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
