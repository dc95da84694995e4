"""Public discretisation of a table for marginal-based mechanisms (MST, AIM).

Everything here is a function of the schema alone: bin edges, category lists,
which columns have a missing value, which are written as whole numbers. The
training rows are only *encoded* (mapped to the public cells); nothing about
them is read into the encoding, so one extreme record changes no edge, no
domain and no size (tested).

Cells of one column, in order:

* numerical column with bounds ``[low, high]`` (public ``schema.bounds``, or
  released with DP inside ``schema.dp_bounds`` by
  :func:`bench.generators.dp_bounds.resolve_bounds` before the encoder is built):
  ``[missing?] [== low] [== high] bin_0 .. bin_{k-1}``. Values are clipped into
  the bounds; the two point masses keep spikes at a bound (capital-gain = 0, a
  top code) that an equal-width bin would smear; ``k`` equal-width bins
  (``n_bins``) cover ``[low, high]``, the grid of tailbench's other DP
  generators and of :func:`bench.metrics.association.two_way_marginal_error`. A column
  the schema lists in ``integers`` has whole-number bounds (low rounded up,
  high down) and is decoded to whole numbers (uniform among those inside the
  bin, the bounds excluded); if its bounds hold at most ``2 n_bins`` whole
  numbers it gets one cell per whole number instead (education-num: 16).
* categorical / boolean column with a public domain (``schema.domains``;
  booleans default to ``["False", "True"]``): ``[missing?] category_0 ..``.
* ``[missing?]`` is there only for a column the schema lists in ``nullable``;
  only those columns are ever decoded to NaN.

Values the public cells cannot hold, with their fixed, data-independent
destination: NaN or a value outside the domain in a nullable column -> the
missing cell; in a column that is not nullable -> the ``== low`` cell
(numerical) or the domain's first category (categorical). The schema says
those values do not occur; the fallback keeps every record in exactly one
cell, which the sensitivity analysis needs.

Decoding (post-processing, seeded): a bin gives a uniform value inside it
(a uniform whole number for integer columns), point masses give the bound,
the missing cell gives NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError, SchemaError


def schema_set(schema: Any, name: str) -> set[str]:
    """A list-valued public field of the schema (``integers``, ``nullable``) as a set; empty if absent."""
    return set(getattr(schema, name, None) or ())


@dataclass
class ColumnCells:
    """The public cells of one modelled column (see the module docstring).

    Attributes:
        name: column name.
        kind: ``"numerical"`` or ``"categorical"``.
        nullable: whether cell 0 is the missing cell.
        low, high: public bounds (numerical).
        edges: ``(k + 1,)`` bin edges over ``[low, high]`` (numerical).
        integer: decode to whole numbers (from ``schema.integers``).
        per_value: one cell per whole number between the bounds (integer
            columns holding at most ``2 n_bins`` whole numbers).
        categories: public domain (categorical).
    """

    name: str
    kind: str
    nullable: bool = False
    low: float = 0.0
    high: float = 1.0
    edges: list[float] = field(default_factory=list)
    integer: bool = False
    per_value: bool = False
    categories: list[str] = field(default_factory=list)

    @property
    def offset(self) -> int:
        """Index of the first non-missing cell."""
        return 1 if self.nullable else 0

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def size(self) -> int:
        """Number of cells."""
        if self.kind == "numerical":
            if self.per_value:
                return self.offset + int(self.high - self.low) + 1
            return self.offset + 2 + self.n_bins
        return self.offset + len(self.categories)

    # ------------------------------------------------------------ encode
    def encode(self, s: pd.Series) -> np.ndarray:
        """Cell index of every value: ``(n,)`` int64 in ``[0, size)``."""
        if self.kind == "numerical":
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            miss = np.isnan(v)  # +-inf are clipped to the bounds
            v = np.clip(np.where(miss, self.low, v), self.low, self.high)
            if self.integer:  # whole numbers: 3.4 counts as 3
                v = np.clip(np.round(v), self.low, self.high)
            if self.per_value:
                cell = (v - self.low).astype(np.int64) + self.offset
            else:
                edges = np.asarray(self.edges)
                b = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, self.n_bins - 1)
                cell = np.where(v == self.low, 0, np.where(v == self.high, 1, 2 + b)) + self.offset
            if self.nullable:
                cell = np.where(miss, 0, cell)
            return cell.astype(np.int64)
        index = {c: i + self.offset for i, c in enumerate(self.categories)}
        fallback = 0 if self.nullable else self.offset
        vals = s.to_numpy(dtype=object)
        return np.fromiter(
            (index.get(x, fallback) if isinstance(x, str) else fallback for x in vals), dtype=np.int64, count=len(vals)
        )

    # ------------------------------------------------------------ decode
    def decode(self, cell: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Values for cell indices (``(n,)`` ints); uniform within a numerical bin."""
        cell = np.asarray(cell, dtype=np.int64)
        miss = (cell == 0) if self.nullable else np.zeros(len(cell), dtype=bool)
        if self.kind == "categorical":
            cats = np.array(([None] if self.nullable else []) + list(self.categories), dtype=object)
            vals = cats[np.clip(cell, 0, len(cats) - 1)]
            return pd.Series(vals, dtype=object).where(~miss, np.nan)
        if self.per_value:
            v = self.low + np.clip(cell - self.offset, 0, self.size - self.offset - 1).astype(float)
            v[miss] = np.nan
            return pd.Series(v.astype(np.int64)) if not miss.any() else pd.Series(v)
        local = np.clip(cell - self.offset, 0, self.n_bins + 1)
        edges = np.asarray(self.edges)
        b = np.clip(local - 2, 0, self.n_bins - 1)
        left, right = edges[b], edges[b + 1]
        u = rng.random(len(cell))
        if self.integer:
            # a uniform whole number inside the bin, the bounds excluded (they are the point masses)
            last = b == self.n_bins - 1
            a = np.maximum(np.ceil(left), self.low + 1)
            z = np.minimum(np.where(last, np.floor(right), np.ceil(right) - 1), self.high - 1)
            mid = np.clip(np.round((left + right) / 2), self.low, self.high)
            v = np.where(a <= z, a + np.floor(u * (z - a + 1)), mid)
        else:
            v = left + u * (right - left)
        v = np.where(local == 0, self.low, np.where(local == 1, self.high, v))
        v = np.clip(v, self.low, self.high).astype(float)
        v[miss] = np.nan
        if self.integer and not miss.any():
            return pd.Series(v.astype(np.int64))
        return pd.Series(v)


class PublicEncoder:
    """Map a table to integer cells and back, from the schema's public knowledge only.

    Args:
        n_bins: equal-width bins per numerical column between its public bounds.
    Attributes (after :meth:`fit`):
        columns_: one :class:`ColumnCells` per modelled column, in schema order.
        id_columns_: ``id`` columns (not modelled; written as ``id_<i>``).
        bounds_source_: ``{column: citation}`` from ``schema.bounds_source``
            where the schema gives one.
    Raises (in :meth:`fit`):
        ConfigError: ``n_bins`` not a positive integer.
        SchemaError: a numerical column without public bounds, a categorical
            column without a public domain, a datetime column, or no modelled
            column at all.
    """

    def __init__(self, n_bins: int = 10) -> None:
        self.n_bins = n_bins

    def fit(self, schema: Any, bounds: dict[str, tuple[float, float]] | None = None) -> PublicEncoder:
        """Build the cells from ``schema`` (no rows are read).

        Args:
            bounds: ``{column: (low, high)}`` of the numerical columns, from
                :func:`bench.generators.dp_bounds.resolve_bounds` (public
                ``schema.bounds`` or a DP release of ``schema.dp_bounds``);
                None = ``schema.bounds`` only.
        """
        bounds = dict(schema.bounds) if bounds is None else dict(bounds)
        if isinstance(self.n_bins, bool) or not isinstance(self.n_bins, (int, np.integer)) or int(self.n_bins) < 1:
            raise ConfigError(f"generator.n_bins must be an integer >= 1, got {self.n_bins!r}")
        k = int(self.n_bins)
        integers = schema_set(schema, "integers")
        nullable = schema_set(schema, "nullable")
        cols: list[ColumnCells] = []
        for col, kind in schema.columns.items():
            if kind == "id":
                continue
            if kind == "datetime":
                raise SchemaError(
                    f"column {col!r} is a datetime; mst/aim model numerical and categorical columns "
                    "only (declare it numerical with public bounds, or drop it)"
                )
            if kind == "numerical":
                if col not in bounds:
                    raise SchemaError(
                        f"numerical column {col!r} has no public bounds in the schema (dataset.schema.bounds."
                        f"{col}: [low, high] with a source, or dataset.schema.dp_bounds.{col}: a coarse range "
                        "for a DP release); mst/aim read nothing about the columns from the training rows"
                    )
                lo, hi = (float(x) for x in bounds[col])
                integer = col in integers
                per_value = False
                if integer:
                    lo, hi = float(math.ceil(lo)), float(math.floor(hi))
                    if hi < lo:
                        raise SchemaError(
                            f"integer column {col!r} has bounds {list(bounds[col])} that hold no whole number"
                        )
                    per_value = hi - lo + 1 <= 2 * k
                edges = list(np.linspace(lo, hi, k + 1))
                cols.append(
                    ColumnCells(
                        col, "numerical", col in nullable, lo, hi, [float(e) for e in edges], integer, per_value
                    )
                )
            else:
                if col in schema.domains:
                    cats = [str(c) for c in schema.domains[col]]
                elif kind == "boolean":
                    cats = ["False", "True"]
                else:
                    raise SchemaError(
                        f"categorical column {col!r} has no public domain in the schema (dataset.schema.domains."
                        f"{col}: [...]); mst/aim read nothing about the columns from the training rows"
                    )
                cols.append(ColumnCells(col, "categorical", col in nullable, categories=cats))
        if not cols:
            raise SchemaError("the schema has no numerical or categorical column to model")
        self.columns_ = cols
        self.id_columns_ = [c for c, kind in schema.columns.items() if kind == "id"]
        self.bounds_source_ = dict(getattr(schema, "bounds_source", None) or {})
        return self

    # ------------------------------------------------------------ views
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns_]

    @property
    def shape(self) -> list[int]:
        return [c.size for c in self.columns_]

    def describe(self) -> list[dict[str, Any]]:
        """The whole fitted state as plain data (for tests and run records; public values only)."""
        return [asdict(c) for c in self.columns_]

    # ------------------------------------------------------------ codec
    def transform(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        """``{column: (n,) int64 cells}`` for every modelled column."""
        return {c.name: c.encode(table[c.name]) for c in self.columns_}

    def inverse_transform(self, cells: dict[str, np.ndarray], rng: np.random.Generator) -> pd.DataFrame:
        """A table with the schema's modelled and id columns from ``{column: cells}``."""
        n = len(next(iter(cells.values())))
        out = {c.name: c.decode(cells[c.name], rng) for c in self.columns_}
        for c in self.id_columns_:
            out[c] = [f"id_{i}" for i in range(n)]
        return pd.DataFrame(out)


__all__ = ["ColumnCells", "PublicEncoder", "schema_set"]
