"""Bounds of numerical columns for DP generators: public (cited) or released with the exponential mechanism.

A DP generator clips and bins every numerical column between bounds. Bounds
read off the training rows (min/max, or a "public" bound that happens to be
the data's extreme) leak; so each numerical column's bounds come from one of:

* ``schema.bounds``: documented or generic public limits, each with a
  citation in ``schema.bounds_source`` (reported as such);
* ``schema.dp_bounds``: a coarse public range ``[low, high]`` for a column
  without a documented limit. Its lower and upper bounds are released as the
  ``q_low`` and ``q_high`` quantiles (default 0.01 / 0.99) with the
  exponential mechanism over a fixed public candidate grid inside the range:
  ``size`` points, log-spaced when ``low > 0`` and ``high / low >= 1000``,
  else equal-spaced. Utility of candidate c for the lower bound is
  ``-|#{x < c} - q_low n|`` (c clips about ``q_low n`` rows from below), for
  the upper bound ``-|#{x > c} - (1 - q_high) n|``; n is the public number of
  rows and missing values count on neither side. Replacing one record moves
  each count by at most 1, so the sensitivity is 1 under replace-one (and
  add/remove-one) neighbours, and choosing ``argmax(epsilon u / 2 + Gumbel)``
  is epsilon-DP (the exponential mechanism via the Gumbel-max trick, Gumbel
  draws from the mechanism's :class:`~bench.generators.noise.NoiseSource`).
  The budget share ``fraction`` of the generator's epsilon is spent only when
  at least one column needs a release, split equally over the ``2k``
  releases of k columns; each release is an (epsilon_i, 0)-DP event the
  generator composes with the rest of its accounting. If the released lower
  bound is not below the upper one, they are swapped or widened to the
  neighbouring grid points (post-processing).
* ``allow_data_bounds``: the training min/max, without privacy (the
  generator's scope then says so).

Known behaviour: where more than a share q of the rows sit exactly at a
column's smallest (largest) value, every candidate below (above) it clips the
same count and is equally good, so the release falls anywhere in that part of
the coarse range; a documented bound is better where one exists. At small
epsilon the rank error is about ``(2 / epsilon_i) ln(size)`` rows: the
release finds the quantile only when ``epsilon_i * q * n / 2`` is well above
``ln(size)``. On Adult capped at 8,000 rows (4,800 training rows) fnlwgt's
upper bound in [1, 1e8] is within 3 % of the 0.99 quantile (486k) at
epsilon_i = 0.4 (30 draws); at epsilon_i <= 0.1 it lands anywhere above the
data's largest values (median of 30 draws 2.2-5.0 million against a maximum
of 0.86 million), which puts most of the column into one bin.

Conventions for other DP generators (e.g. the MST/AIM plugin): call
:func:`resolve_bounds` once per fit with the fit's NoiseSource, add
``release.epsilons`` to the composition, and report ``release.describe()`` as
``PrivacySpent.bounds_source``.

Source: McSherry & Talwar 2007 (the exponential mechanism); Smith 2011
("Privacy-preserving statistical estimation with optimal convergence rates",
DP quantiles with the exponential mechanism); the Gumbel-max trick for
sampling it (e.g. Durfee & Rogers 2019).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError, SchemaError
from bench.generators.noise import NoiseSource

DEFAULT_QUANTILES = (0.01, 0.99)
DEFAULT_FRACTION = 0.05
GRID_SIZE = 1001


def candidate_grid(low: float, high: float, size: int = GRID_SIZE) -> np.ndarray:
    """The public candidate bounds inside ``[low, high]``: ``size`` sorted float64 points.

    Log-spaced (``np.geomspace``) when ``low > 0`` and ``high / low >= 1000``
    (the range spans orders of magnitude), else equal-spaced. Both ends are
    candidates.
    """
    if low > 0 and high / low >= 1000:
        return np.geomspace(low, high, int(size))
    return np.linspace(low, high, int(size))


def quantile_utility(values: np.ndarray, n: int, q: float, side: str, grid: np.ndarray) -> np.ndarray:
    """Utility of every candidate for one bound: ``(len(grid),)`` floats, sensitivity 1 under replace-one.

    ``side="lower"``: ``-|#{x < c} - q n|``; ``side="upper"``:
    ``-|#{x > c} - (1 - q) n|`` (``values`` = the non-missing values, n = the
    public row count).
    """
    v = np.sort(np.asarray(values, dtype=float))
    if side == "lower":
        return -np.abs(np.searchsorted(v, grid, side="left") - q * n)
    return -np.abs((len(v) - np.searchsorted(v, grid, side="right")) - (1.0 - q) * n)


def release_quantile(
    values: np.ndarray, n: int, q: float, side: str, grid: np.ndarray, epsilon: float, noise: NoiseSource | None
) -> float:
    """One bound released with the exponential mechanism (see the module docstring).

    Args:
        values: the column's non-missing values (any order).
        n: the public number of rows (missing values included).
        q: the quantile, in (0, 1).
        side: ``"lower"`` (utility ``-|#{x < c} - q n|``) or ``"upper"``
            (``-|#{x > c} - (1 - q) n|``).
        grid: sorted candidates.
        epsilon: budget of this release; ``inf`` returns the best candidate
            without noise (the non-private reference).
        noise: the mechanism's noise source (unused at ``inf``).
    Returns:
        The chosen candidate.
    """
    u = quantile_utility(values, n, q, side, grid)
    if math.isinf(epsilon):  # exact: the innermost of the best candidates
        best = np.flatnonzero(u == u.max())
        return float(grid[best[-1] if side == "lower" else best[0]])
    score = epsilon * u / 2.0 + noise.gumbel(len(grid))
    return float(grid[int(np.argmax(score))])


@dataclass
class BoundsRelease:
    """The bounds of every numerical column of one fit and where each came from.

    Attributes:
        bounds: ``{column: (low, high)}`` for every numerical column.
        sources: ``{column: citation}`` (schema citation, DP release, or
            training rows).
        released: columns whose bounds were released with DP.
        epsilons: epsilon of each DP release (two per released column).
        data_dependent: columns whose bounds were read from the rows without
            privacy (``allow_data_bounds``).
        quantiles: ``(q_low, q_high)`` of the releases.
    """

    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    epsilons: list[float] = field(default_factory=list)
    data_dependent: list[str] = field(default_factory=list)
    quantiles: tuple[float, float] = DEFAULT_QUANTILES

    @property
    def epsilon(self) -> float:
        """Total epsilon of the DP releases (basic composition; 0 when none)."""
        return float(sum(self.epsilons))

    def describe(self) -> str:
        """The ``bounds_source`` field of :class:`~bench.generators.base.PrivacySpent`."""
        return "; ".join(f"{c}: {s}" for c, s in self.sources.items()) or "no numerical column"


def numeric_output(v: np.ndarray, low: float, high: float, integer: bool, missing: np.ndarray | None = None):
    """Decoded values of one numerical column in the schema's output format.

    Clips to ``[low, high]``; for an ``integers`` column rounds and clips to
    the whole numbers inside the bounds (``[ceil(low), floor(high)]``, so a
    DP-released fractional bound never produces a fractional value). Rows in
    ``missing`` become NaN. Returns int64 when integer and nothing is
    missing, else float64. Decided by the public schema only.
    """
    v = np.asarray(v, dtype=float)
    if integer and math.ceil(low) <= math.floor(high):
        v = np.clip(np.round(v), math.ceil(low), math.floor(high))
    else:
        v = np.clip(v, low, high)
    v = v.astype(float)
    if missing is not None and missing.any():
        v[missing] = np.nan
        return v
    return v.astype(np.int64) if integer and math.ceil(low) <= math.floor(high) else v


def check_fraction(fraction: Any, key: str = "generator.bounds_epsilon_fraction") -> float:
    """``fraction`` as a float in (0, 1) (ConfigError naming ``key``)."""
    try:
        f = float(fraction)
    except (TypeError, ValueError):
        f = float("nan")
    if not 0 < f < 1:
        raise ConfigError(f"{key} must be in (0, 1) (the share of epsilon spent on DP bounds), got {fraction!r}")
    return f


def check_quantiles(quantiles: Any, key: str = "generator.bounds_quantiles") -> tuple[float, float]:
    """``(q_low, q_high)`` with ``0 < q_low < q_high < 1`` (ConfigError naming ``key``)."""
    try:
        lo, hi = (float(x) for x in quantiles)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be [q_low, q_high], got {quantiles!r}") from None
    if not 0 < lo < hi < 1:
        raise ConfigError(f"{key} must satisfy 0 < q_low < q_high < 1, got {quantiles!r}")
    return lo, hi


def needs_release(schema: Any) -> list[str]:
    """Numerical columns of ``schema`` whose bounds a DP generator must release (in ``dp_bounds`` only)."""
    return [c for c in schema.numerical if c not in schema.bounds and c in schema.dp_bounds]


def check_public_schema(schema: Any, generator: str, allow_data_bounds: bool = False) -> None:
    """Check, before any budget is spent, that a DP generator can take every column's metadata from the schema.

    Every numerical column needs public ``bounds`` or a coarse ``dp_bounds``
    range, every categorical column a public ``domains`` entry (booleans are
    ``False``/``True``), and no column may be a datetime. All problems are
    reported together, with the YAML to add for each.

    Args:
        schema: the table's :class:`~bench.data.schema.Schema`.
        generator: the generator's name, for the message.
        allow_data_bounds: missing bounds and domains are read from the
            training rows instead (outside the guarantee); datetimes still fail.
    Raises:
        SchemaError: naming every column at fault.
    """
    problems = []
    for col, kind in schema.columns.items():
        if kind == "datetime":
            problems.append(f"  {col}: a datetime; declare it numerical with public bounds, or drop it")
        elif allow_data_bounds:
            continue
        elif kind == "numerical" and col not in schema.bounds and col not in schema.dp_bounds:
            problems.append(
                f"  {col}: no public bounds (dataset.schema.bounds.{col}: [low, high] with a citation "
                f"in bounds_source, or dataset.schema.dp_bounds.{col}: a coarse public range to release "
                "them in with DP)"
            )
        elif kind == "categorical" and col not in schema.domains:
            problems.append(f"  {col}: no public domain (dataset.schema.domains.{col}: [category, ...])")
    if problems:
        fix = (
            ""
            if allow_data_bounds
            else (
                "\nA DP generator cannot read them from the training rows without spending budget; declare them, or "
                "pass generator.allow_data_bounds=true where the generator supports it (non-private: the run's "
                "scope will say so)."
            )
        )
        raise SchemaError(
            f"{generator} needs public metadata for {len(problems)} column(s):\n" + "\n".join(problems) + fix
        )


def resolve_bounds(
    train: pd.DataFrame,
    schema: Any,
    *,
    epsilon: float,
    noise: NoiseSource | None,
    quantiles: Any = DEFAULT_QUANTILES,
    grid_size: int = GRID_SIZE,
    allow_data_bounds: bool = False,
) -> BoundsRelease:
    """Bounds of every numerical column: public, DP-released, or (opt-in) read from the rows.

    Args:
        train: the training rows (n rows); read only for ``dp_bounds``
            columns (through the DP release) and, with ``allow_data_bounds``,
            for columns without any declared bound.
        schema: the table's :class:`~bench.data.schema.Schema`.
        epsilon: the budget of all DP releases together (the generator's
            ``bounds_epsilon_fraction * epsilon``), split equally over them;
            ``inf`` = exact quantiles without noise.
        noise: the fit's NoiseSource (Gumbel draws).
        quantiles: ``(q_low, q_high)``.
        grid_size: candidates per column.
        allow_data_bounds: take a column without bounds or dp_bounds from the
            training min/max (non-private).
    Returns:
        :class:`BoundsRelease`.
    Raises:
        SchemaError: a numerical column with neither ``bounds`` nor
            ``dp_bounds`` (unless ``allow_data_bounds``).
        ConfigError: bad ``quantiles``.
    """
    q_lo, q_hi = check_quantiles(quantiles)
    out = BoundsRelease(quantiles=(q_lo, q_hi))
    todo = needs_release(schema)
    each = epsilon / (2 * len(todo)) if todo else 0.0
    n = len(train)
    for col in schema.numerical:
        if col in schema.bounds:
            out.bounds[col] = tuple(schema.bounds[col])
            out.sources[col] = "public: " + schema.bounds_source.get(col, "declared in the schema, no citation given")
        elif col in todo:
            lo_c, hi_c = schema.dp_bounds[col]
            grid = candidate_grid(lo_c, hi_c, grid_size)
            vals = pd.to_numeric(train[col], errors="coerce").to_numpy(dtype=float)
            vals = vals[~np.isnan(vals)]
            lo = release_quantile(vals, n, q_lo, "lower", grid, each, noise)
            hi = release_quantile(vals, n, q_hi, "upper", grid, each, noise)
            if lo > hi:
                lo, hi = hi, lo
            if lo == hi:  # widen to the neighbouring candidates (post-processing)
                i = int(np.searchsorted(grid, lo))
                lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
            out.bounds[col] = (lo, hi)
            out.released.append(col)
            if math.isfinite(epsilon):
                out.epsilons += [each, each]
            cite = schema.bounds_source.get(col, "no citation given")
            spent = f"epsilon {2 * each:.4g}" if math.isfinite(epsilon) else "no noise (epsilon=inf)"
            out.sources[col] = (
                f"DP release: quantiles {q_lo:g}/{q_hi:g} by the exponential mechanism "
                f"({spent}) over {grid_size} candidates in the coarse public range "
                f"[{lo_c:g}, {hi_c:g}] ({cite})"
            )
        elif allow_data_bounds:
            vals = pd.to_numeric(train[col], errors="coerce").dropna()
            lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (0.0, 1.0)
            out.bounds[col] = (lo, hi if hi > lo else lo + 1.0)
            out.data_dependent.append(col)
            out.sources[col] = "training rows' min/max (allow_data_bounds: not covered by epsilon)"
        else:
            raise SchemaError(
                f"numerical column {col!r} has no public bounds in the schema "
                f"(dataset.schema.bounds.{col}: [low, high] with a citation in bounds_source, or "
                f"dataset.schema.dp_bounds.{col}: a coarse public range to release the bounds in with DP); "
                "a DP generator cannot take them from the training rows without spending budget. Declare them, "
                "or pass generator.allow_data_bounds=true (non-private: the run's scope will say so)"
            )
    return out


__all__ = [
    "DEFAULT_FRACTION",
    "DEFAULT_QUANTILES",
    "GRID_SIZE",
    "BoundsRelease",
    "candidate_grid",
    "check_fraction",
    "check_public_schema",
    "check_quantiles",
    "needs_release",
    "numeric_output",
    "quantile_utility",
    "release_quantile",
    "resolve_bounds",
]
