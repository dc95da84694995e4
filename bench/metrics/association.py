"""Association structure: one mixed-type association matrix and the real-synthetic distance.

Pearson's r for numerical pairs, Cramér's V for categorical pairs and the
correlation ratio for mixed pairs (CTAB-GAN's "correlation difference",
Zhao et al. 2021); the real side comes from :class:`bench.metrics.shapes.RealProfile`.
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
