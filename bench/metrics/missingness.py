"""Missing values as data: their rates, their co-occurrence, and the rules they follow.

A synthetic lab column that is 92% missing where the real one is 17% still
scores a KS complement of 0.96 (KS drops NaN), so missingness is measured on
its own:

* **missing-rate similarity** per column, ``1 - |rate_real - rate_syn|``
  (SDMetrics' ``MissingValueSimilarity`` definition), averaged over the columns
  that are missing in either table;
* **co-missingness similarity**: the missingness indicators' correlation
  matrices, real against synthetic, ``1 - mean |r_real - r_syn| / 2`` over
  pairs of such columns (the CorrelationSimilarity form applied to the
  indicators);
* **missingness rules**: a column whose missingness the real table determines
  exactly by a categorical column (``cause is NaN <=> status == alive``: for
  every category of the determinant the column is always or never missing,
  both occurring, in at least ``min_support`` rows) is a rule; the synthetic
  table's share of rows that break it is reported per rule, by name.

Sources: SDMetrics ``MissingValueSimilarity``; Little & Rubin, *Statistical
Analysis with Missing Data* (3rd ed., 2019) for missingness that depends on
other columns (MAR); the rule test is tailbench's.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from bench.data.schema import Schema

_NA = "\x00<NA>"


def missing_rates(table: pd.DataFrame, schema: Schema) -> pd.Series:
    """Share of missing values per modelled column (index = column)."""
    return table[schema.modelled].isna().mean()


def missing_rate_similarity(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Per-column ``1 - |rate_real - rate_syn|`` and its mean over the columns missing in either table.

    Returns:
        ``{"score": mean (NaN when no column is ever missing), "by_column":
        {column: {"real": rate, "synthetic": rate, "similarity": s}}}`` for
        those columns.
    Source: SDMetrics ``MissingValueSimilarity`` (single column).
    """
    r, s = missing_rates(real, schema), missing_rates(synthetic, schema)
    cols = [c for c in schema.modelled if r[c] > 0 or s[c] > 0]
    by = {c: {"real": float(r[c]), "synthetic": float(s[c]), "similarity": float(1 - abs(r[c] - s[c]))} for c in cols}
    return {"score": float(np.mean([v["similarity"] for v in by.values()])) if by else float("nan"), "by_column": by}


def _indicator_corr(table: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    ind = table[cols].isna().astype(float)
    return ind.corr()


def co_missingness_similarity(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """How well the synthetic table keeps which columns go missing together.

    Over pairs of columns missing in either table: ``1 - |r_real - r_syn| / 2``
    with ``r`` the Pearson correlation of the two missingness indicators; a
    pair whose indicator is constant in a table (never or always missing)
    counts ``r = 0`` there.

    Returns:
        ``{"score": mean over pairs (NaN with fewer than 2 such columns),
        "worst_pairs": [(a, b, r_real, r_syn)] by |difference|, up to 5}``.
    """
    r, s = missing_rates(real, schema), missing_rates(synthetic, schema)
    cols = [c for c in schema.modelled if r[c] > 0 or s[c] > 0]
    if len(cols) < 2:
        return {"score": float("nan"), "worst_pairs": []}
    cr = _indicator_corr(real, cols).fillna(0.0)
    cs = _indicator_corr(synthetic, cols).fillna(0.0)
    pairs = [(a, b, float(cr.loc[a, b]), float(cs.loc[a, b])) for a, b in combinations(cols, 2)]
    score = float(np.mean([1 - abs(x - y) / 2 for _, _, x, y in pairs]))
    worst = sorted(pairs, key=lambda p: -abs(p[2] - p[3]))[:5]
    return {"score": score, "worst_pairs": [list(p) for p in worst if abs(p[2] - p[3]) > 0]}


def missingness_rules(real: pd.DataFrame, schema: Schema, min_support: int = 20) -> list[dict[str, Any]]:
    """The exact "column is missing <=> determinant in S" rules of the real table.

    For each column with missing values and each categorical/boolean column
    (the determinant, missing values being a category of their own): a rule
    when, among the determinant's categories seen at least ``min_support``
    times, each has the column always missing or never missing, and both
    kinds occur; rarer categories do not count. ``S`` is the set of
    categories with the column always missing.

    Returns:
        ``[{"column", "determinant", "missing_when": [categories]}]`` (category
        names of a declared public domain; others are listed as counts only).
    """
    out = []
    miss_cols = [c for c in schema.modelled if real[c].isna().any() and not real[c].isna().all()]
    dets = [c for c in schema.categorical]
    for col in miss_cols:
        m = real[col].isna()
        for det in dets:
            if det == col:
                continue
            key = real[det].astype(object).where(real[det].notna(), _NA).astype(str)
            g = m.groupby(key)
            rate, n = g.mean(), g.size()
            seen = rate[n >= min_support]
            if len(seen) < 2 or not seen.isin([0.0, 1.0]).all() or seen.nunique() < 2:
                continue
            # the rule must explain every missing value the frequent categories hold
            out.append(
                {"column": col, "determinant": det, "missing_when": sorted(str(v) for v in seen[seen == 1.0].index)}
            )
    return out


def rule_violations(table: pd.DataFrame, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Share of ``table``'s rows that break each rule (the column's missingness disagrees with the determinant).

    Rows whose determinant value is not one of the categories the rule was
    learnt on count as breaking it only when the column's missingness still
    disagrees with membership in ``missing_when``.
    """
    out = []
    for rule in rules:
        key = table[rule["determinant"]].astype(object).where(table[rule["determinant"]].notna(), _NA).astype(str)
        expected = key.isin(set(rule["missing_when"])).to_numpy()
        broken = table[rule["column"]].isna().to_numpy() != expected
        out.append({**rule, "violations": float(broken.mean()) if len(table) else float("nan")})
    return out


def public_rule(rule: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """A rule as it may appear in a run record: category names only when they are in the declared domain."""
    dom = set(schema.domains.get(rule["determinant"], []))
    cats = rule["missing_when"]
    shown = cats if all(c in dom or c == _NA for c in cats) else f"{len(cats)} categories (not in a declared domain)"
    return {
        **rule,
        "missing_when": [("<missing>" if c == _NA else c) for c in cats] if isinstance(shown, list) else shown,
    }


__all__ = [
    "co_missingness_similarity",
    "missing_rate_similarity",
    "missing_rates",
    "missingness_rules",
    "public_rule",
    "rule_violations",
]
