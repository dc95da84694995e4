"""Validity: the share of rows that respect the schema's public bounds, domains and constraints."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from bench.data.schema import Schema

FD_ARROW = "->"
NAN_AWARE = re.compile(r"\b(isna|notna|isnull|notnull)\s*\(")


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


def constraint_mask(table: pd.DataFrame, expr: str, schema: Schema, real: pd.DataFrame | None = None) -> np.ndarray:
    """Which rows of ``table`` satisfy one declared constraint.

    Two forms:
      * a pandas ``DataFrame.eval`` boolean expression, e.g. ``"age >= 17"``
        (column names that are not identifiers may be written bare or in
        backticks);
      * a functional dependency ``"a -> b"``: each value of ``a`` determines
        ``b``, with the mapping read from ``real`` (its most frequent ``b`` per
        ``a``), e.g. ``"education -> education-num"`` on Adult.
    A row whose referenced columns are missing (NaN), or whose ``a`` value the
    real table never shows, is not counted as a violation, unless the
    expression is about missingness itself (it calls ``isna``, ``notna``,
    ``isnull`` or ``notnull``, e.g. ``"cause.isna() == (status == 'alive')"``):
    such a constraint is evaluated on every row.

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
    if NAN_AWARE.search(expr):
        return res.fillna(False).to_numpy(dtype=bool)
    missing = table[used].isna().any(axis=1) if used else pd.Series(False, index=table.index)
    return (res | missing).to_numpy(dtype=bool)


def validity(
    table: pd.DataFrame,
    schema: Schema,
    real: pd.DataFrame | None = None,
    extra_constraints: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Share of rows that respect the schema and the declared constraints.

    Components (each the share of rows with no violation of that kind):
      * ``bounds``: every numerical value inside the schema's *public* bounds
        (NaN is not a violation; ±inf is);
      * ``domain``: every category inside the declared domain (boolean columns:
        ``True``/``False``; columns without a declared domain are not checked);
      * ``kinds``: numerical values finite, and integers where the real column
        is integer-typed (needs ``real``);
      * ``missing``: no missing value in a column that may not be missing: one
        neither declared ``nullable`` in the schema nor missing anywhere in
        ``real`` (a generator that writes NaN into a never-missing target fails);
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
    bad = {k: np.zeros(m, bool) for k in ("bounds", "domain", "kinds", "missing", "constraints")}
    may_miss = set(getattr(schema, "nullable", []) or [])
    if real is not None:
        may_miss |= {c for c in schema.columns if c in real.columns and real[c].isna().any()}
    by_column: dict[str, dict[str, int]] = {}

    def note(col: str, key: str, mask: np.ndarray) -> None:
        if mask.any():
            by_column.setdefault(col, {"out_of_bounds": 0, "out_of_domain": 0, "wrong_kind": 0, "missing": 0})[key] = (
                int(mask.sum())
            )

    for col, kind in schema.columns.items():
        if kind != "id" and col not in may_miss:
            miss = table[col].isna().to_numpy()
            bad["missing"] |= miss
            note(col, "missing", miss)
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
    share = lambda mask: float(1 - mask.mean()) if m else float("nan")
    return {
        "validity": share(any_bad),
        **{k: share(v) for k, v in bad.items()},
        "n_rows": m,
        "n_valid": int(m - any_bad.sum()),
        "n_valid_by_component": {k: int(m - v.sum()) for k, v in bad.items()},
        "by_column": by_column,
        "by_constraint": by_constraint,
    }
