"""Distance diagnostics: DCR, NNDR and exact-match rates (diagnostics, not proof of privacy).

Two distances are used, each for what it is good at:

* :class:`TableEncoder` + :func:`knn`: Euclidean distance on numerical columns
  scaled to [0, 1] (public bounds from the schema, else the fitting frame's
  min/max) plus one-hot categorical columns weighted by ``1/sqrt(2)`` so that a
  category mismatch adds 1 to the squared distance, as a numerical column at
  the far ends of its range does. Brute-force nearest neighbours in chunks
  (scikit-learn's ``algorithm="brute"``), so 32k x 32k tables fit in memory and
  run in seconds (a ball tree takes minutes on one-hot data). Used for outlier
  scoring (:mod:`attacks.targets`) and membership inference
  (:mod:`attacks.membership`).
* :func:`gower_knn`: SDMetrics' DCR distance (``sdmetrics.single_table.privacy.
  dcr_utils.calculate_dcr``): per column, ``min(|a - b| / range, 1)`` for
  numerical/datetime columns (range of the *reference* table; a missing value
  against a present one counts 1, two missing values 0) and 0/1 mismatch for
  categorical columns, averaged over columns. Used for
  :func:`dcr_overfitting` so that ``privacy.dcr_share_closer_to_train`` equals
  SDMetrics' ``DCROverfittingProtection`` breakdown on the same rows.

A synthetic table can pass every distance diagnostic and still leak (they look
at one nearest record at a time); the attacks in :mod:`attacks.membership` and
:mod:`attacks.anonymeter` are the evidence. Sources: Platzer & Reutterer,
"Holdout-based fidelity and privacy assessment of mixed-type synthetic data"
(Frontiers in Big Data 2021) for DCR / NNDR / identical-match share against
an equal-sized holdout; SDMetrics ``DCROverfittingProtection``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError, SchemaError

_NA = "\x00<NA>"  # the missing-value category (never a real category string)
ONE_HOT_WEIGHT = float(np.sqrt(0.5))


# ------------------------------------------------------------------ encoding
class TableEncoder:
    """Mixed-type rows -> dense float64 vectors for Euclidean nearest neighbours.

    Numerical and datetime columns become ``(x - low) / (high - low)`` plus a
    missing-value indicator (a missing value is imputed with the fitting
    frame's median, so it sits at distance >= 1 from any present value);
    categorical and boolean columns become one-hot vectors times ``1/sqrt(2)``
    over the public domain (or the fitting frame's categories) plus a missing
    slot; unseen categories encode as all zeros. ``id`` columns are ignored.

    Args:
        schema: the table's schema; its public ``bounds``/``domains`` are used
            where declared, so the encoding reads nothing private from them.
    Attributes (after fit):
        columns_: the encoded schema columns.
        n_features_: width of the encoded matrix.
    Source: one-hot + min-max scaling as in Meeus et al., "Achilles' Heels:
    Vulnerable Record Identification in Synthetic Data Publishing"
    (arXiv 2306.10308).
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def fit(self, frame: pd.DataFrame) -> "TableEncoder":
        """Learn scales and categories from ``frame`` (use public data: the reference split).

        Raises:
            EmptyTableError: if ``frame`` has no rows.
            SchemaError: if a schema column is missing from ``frame``.
        """
        if len(frame) == 0:
            raise EmptyTableError("cannot fit the distance encoder on an empty table")
        sch = self.schema
        cols = [c for c in sch.modelled if c in sch.columns]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise SchemaError(f"distance encoder: column(s) {missing} are not in the table")
        self.columns_ = cols
        self.num_: dict[str, tuple[float, float, float]] = {}
        self.cat_: dict[str, dict[str, int]] = {}
        width = 0
        for col in cols:
            kind = sch.columns[col]
            if kind in ("numerical", "datetime"):
                x = _as_float(frame[col])
                if col in sch.bounds:
                    lo, hi = sch.bounds[col]
                else:
                    lo = float(np.nanmin(x)) if np.isfinite(x).any() else 0.0
                    hi = float(np.nanmax(x)) if np.isfinite(x).any() else 1.0
                span = hi - lo if hi > lo else 1.0
                med = float(np.nanmedian(x)) if np.isfinite(x).any() else lo
                self.num_[col] = (lo, span, (med - lo) / span)
                width += 2
            else:
                dom = sch.domains.get(col) or sorted(frame[col].dropna().astype(str).unique())
                cats = {str(v): i for i, v in enumerate(dom)}
                cats[_NA] = len(cats)
                self.cat_[col] = cats
                width += len(cats)
        self.n_features_ = width
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame`` (n rows) as an (n, n_features_) float64 C-contiguous array.

        Raises:
            SchemaError: if a fitted column is missing from ``frame``.
        """
        if not hasattr(self, "columns_"):
            raise RuntimeError("TableEncoder.transform called before fit")
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise SchemaError(f"distance encoder: column(s) {missing} are not in the table")
        out = np.zeros((len(frame), self.n_features_), dtype=np.float64)
        j = 0
        for col in self.columns_:
            if col in self.num_:
                lo, span, fill = self.num_[col]
                x = (_as_float(frame[col]) - lo) / span
                na = ~np.isfinite(x)
                out[:, j] = np.where(na, fill, x)
                out[:, j + 1] = na
                j += 2
            else:
                cats = self.cat_[col]
                codes = _cat_strings(frame[col]).map(cats)
                codes = codes.to_numpy(dtype=float)
                ok = ~np.isnan(codes)
                rows = np.flatnonzero(ok)
                out[rows, j + codes[ok].astype(int)] = ONE_HOT_WEIGHT
                j += len(cats)
        return out


def _cat_strings(s: pd.Series) -> pd.Series:
    """Categories as strings, missing values as the :data:`_NA` marker."""
    return s.astype(object).where(s.notna(), _NA).astype(str)


def _as_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s):
        v = s.astype("int64").to_numpy(dtype=float)
        v[s.isna().to_numpy()] = np.nan
        return v
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


# ------------------------------------------------------- nearest neighbours
def knn(query: np.ndarray, reference: np.ndarray, k: int = 1, *, chunk_size: int = 4096,
        exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean k nearest neighbours, brute force, in chunks of query rows.

    Args:
        query: (n, d) encoded rows.
        reference: (m, d) encoded rows searched.
        k: neighbours per query row.
        chunk_size: query rows per block; memory is O(chunk_size * m) inside
            scikit-learn's chunked ``kneighbors``.
        exclude_self: ``query`` *is* ``reference`` (same rows, same order): each
            row's own entry is left out (leave-one-out), duplicates are kept.
    Returns:
        ``(distances, indices)``, each (n, k), sorted by distance; indices are
        row positions in ``reference``.
    Raises:
        ConfigError: if ``k`` is not in [1, m] (m - 1 with ``exclude_self``).
    """
    m = len(reference)
    k = int(k)
    if k < 1 or k + int(exclude_self) > m:
        raise ConfigError(f"k={k} nearest neighbours need at least {k + int(exclude_self)} reference rows, got {m}")
    kk = k + int(exclude_self)
    nn = NearestNeighbors(n_neighbors=kk, algorithm="brute", metric="euclidean").fit(reference)
    dist = np.empty((len(query), k))
    idx = np.empty((len(query), k), dtype=np.int64)
    for start in range(0, len(query), chunk_size):
        d, i = nn.kneighbors(query[start:start + chunk_size])
        if exclude_self:
            rows = np.arange(start, start + len(d))
            self_hit = i == rows[:, None]
            # drop the row's own entry where found, else the farthest (a duplicate tie)
            drop = np.where(self_hit.any(axis=1), self_hit.argmax(axis=1), kk - 1)
            keep = np.ones_like(i, dtype=bool)
            keep[np.arange(len(d)), drop] = False
            d = d[keep].reshape(len(d), k)
            i = i[keep].reshape(len(d), k)
        dist[start:start + len(d)] = d
        idx[start:start + len(d)] = i
    return dist, idx


# --------------------------------------------------- SDMetrics DCR distance
@dataclass
class _GowerSide:
    num: list[tuple[np.ndarray, float]]  # (values, range of the reference side; 0 = none)
    cat: list[np.ndarray]               # category codes shared by both sides


def _gower_sides(data: pd.DataFrame, reference: pd.DataFrame, schema: Schema
                 ) -> tuple[_GowerSide, _GowerSide, int]:
    cols = [c for c, k in schema.columns.items() if k in ("numerical", "datetime", "categorical", "boolean")
            and c in data.columns and c in reference.columns]
    if not cols:
        raise SchemaError("DCR needs at least one numerical, datetime or categorical column in both tables")
    a, b = _GowerSide([], []), _GowerSide([], [])
    for col in cols:
        if schema.columns[col] in ("numerical", "datetime"):
            x, y = _as_float(data[col]), _as_float(reference[col])
            rng = np.nanmax(y) - np.nanmin(y) if np.isfinite(y).any() else np.nan
            rng = float(rng) if np.isfinite(rng) else 0.0  # range 0: distance 1 for any difference
            a.num.append((x, rng))
            b.num.append((y, rng))
        else:
            both = pd.concat([data[col], reference[col]], ignore_index=True)
            codes, _ = pd.factorize(_cat_strings(both))
            a.cat.append(codes[:len(data)].astype(np.int32))
            b.cat.append(codes[len(data):].astype(np.int32))
    return a, b, len(cols)


def gower_knn(data: pd.DataFrame, reference: pd.DataFrame, schema: Schema, k: int = 1, *,
              max_block: int = 8_000_000) -> np.ndarray:
    """Distances from each ``data`` row to its ``k`` closest ``reference`` rows (SDMetrics DCR).

    Args:
        data: (n, d) table coerced to ``schema``.
        reference: (m, d) table coerced to ``schema``.
        k: number of closest distances kept per row (1 = DCR, 2 for NNDR).
        max_block: distance-matrix entries computed at once (memory bound:
            ``8 * max_block`` bytes).
    Returns:
        (n, k) float64 distances in [0, 1], sorted ascending.
    Raises:
        EmptyTableError: if either table is empty.
        ConfigError: if ``k`` exceeds ``len(reference)``.
    Source: ``sdmetrics.single_table.privacy.dcr_utils.calculate_dcr``
    (sdmetrics 0.32): per-column distance as described in the module
    docstring, averaged over the numerical/datetime/categorical/boolean columns.
    """
    if len(data) == 0 or len(reference) == 0:
        raise EmptyTableError("DCR needs non-empty synthetic and real tables")
    if not 1 <= k <= len(reference):
        raise ConfigError(f"k={k} closest records need at least {k} reference rows, got {len(reference)}")
    a, b, n_cols = _gower_sides(data, reference, schema)
    m = len(reference)
    chunk = max(1, int(max_block // max(m, 1)))
    out = np.empty((len(data), k))
    for start in range(0, len(data), chunk):
        stop = min(start + chunk, len(data))
        total = np.zeros((stop - start, m))
        for (xa, rng), (y, _) in zip(a.num, b.num):
            x = xa[start:stop]
            d = np.abs(x[:, None] - y[None, :])
            if rng > 0:  # min(|a-b| / range, 1), in SDMetrics' order of operations
                d /= rng
                np.minimum(d, 1.0, out=d)
            else:  # range 0: 1 where the values differ
                d = (d > 0).astype(float)
            xn, yn = np.isnan(x), np.isnan(y)
            if xn.any() or yn.any():
                d[xn[:, None] ^ yn[None, :]] = 1.0
                d[xn[:, None] & yn[None, :]] = 0.0
            total += d
        for ca, cb in zip(a.cat, b.cat):
            total += ca[start:stop, None] != cb[None, :]
        total /= n_cols
        if k == 1:
            out[start:stop, 0] = total.min(axis=1)
        else:
            part = np.partition(total, k - 1, axis=1)[:, :k]
            out[start:stop] = np.sort(part, axis=1)
    return out


# --------------------------------------------------------------- diagnostics
def equal_size_samples(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                       max_rows: int | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Draw the same number of rows from train, holdout and synthetic (without replacement).

    ``n = min(len(train), len(holdout), len(synthetic), max_rows)``. Equal sizes
    make "closer to train than to holdout" a fair coin for a generator that
    does not overfit (SDMetrics warns when the holdout is less than half the
    training size; Platzer & Reutterer 2021 use equal sizes).

    Raises:
        ConfigError: if ``max_rows`` is given and < 10.
    """
    if max_rows is not None and int(max_rows) < 10:
        raise ConfigError(f"attacks.distance.max_rows must be >= 10, got {max_rows}")
    n = min(len(train), len(holdout), len(synthetic), int(max_rows) if max_rows else np.inf)
    n = int(n)
    rng = np.random.default_rng(seed)

    def take(df: pd.DataFrame) -> pd.DataFrame:
        return df if len(df) == n else df.iloc[np.sort(rng.choice(len(df), size=n, replace=False))]

    return take(train), take(holdout), take(synthetic)


def dcr_overfitting(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    schema: Schema) -> dict[str, float]:
    """Share of synthetic rows strictly closer to train than to holdout.

    Args:
        train, holdout, synthetic: tables coerced to ``schema`` (use
            :func:`equal_size_samples` first so that 0.5 is the no-leak value).
    Returns:
        ``{"share_closer_to_train", "score", "dcr_train", "dcr_holdout"}``:
        the share in [0, 1]; SDMetrics' score ``min(2 * (1 - share), 1)``;
        the per-row DCR arrays (n_synthetic,) against train and holdout.
    Raises:
        EmptyTableError: if a table is empty.
    Source: SDMetrics ``DCROverfittingProtection.compute_breakdown``
    (``synthetic_data_percentages.closer_to_training`` and ``score``).
    """
    d_train = gower_knn(synthetic, train, schema, k=1)[:, 0]
    d_hold = gower_knn(synthetic, holdout, schema, k=1)[:, 0]
    share = float(np.mean(d_train < d_hold))
    return {"share_closer_to_train": share, "score": min((1.0 - share) * 2, 1.0),
            "dcr_train": d_train, "dcr_holdout": d_hold}


def nndr(d2: np.ndarray) -> np.ndarray:
    """Nearest-neighbour distance ratio ``d1 / d2`` per row.

    Args:
        d2: (n, 2) sorted distances to the closest and second-closest record.
    Returns:
        (n,) ratios in [0, 1]; 0 where ``d2 == 0`` (the row copies a record
        that is itself duplicated: counted as maximally close).
    Source: Platzer & Reutterer 2021 (NNDR), after Lowe's ratio test.
    """
    d1, dd = d2[:, 0], d2[:, 1]
    return np.divide(d1, dd, out=np.zeros_like(d1), where=dd > 0)


def row_hashes(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """One uint64 per row over the schema's modelled columns in canonical form.

    Numerical values are compared as float64 (so ``3`` equals ``3.0``),
    categories as strings, missing values equal each other.
    """
    canon = {}
    for col in schema.modelled:
        kind = schema.columns[col]
        if kind in ("numerical", "datetime"):
            canon[col] = _as_float(frame[col])
        else:
            canon[col] = _cat_strings(frame[col]).to_numpy(dtype=object)
    return pd.util.hash_pandas_object(pd.DataFrame(canon), index=False).to_numpy()


def exact_match_rate(synthetic: pd.DataFrame, real: pd.DataFrame, schema: Schema) -> float:
    """Share of synthetic rows identical to at least one ``real`` row (all modelled columns).

    Returns:
        Rate in [0, 1] (identical match share, IMS).
    Raises:
        EmptyTableError: if ``synthetic`` is empty.
    Source: Platzer & Reutterer 2021 (identical match share, compared between
    training and an equal-sized holdout).
    """
    if len(synthetic) == 0:
        raise EmptyTableError("exact-match rate of an empty synthetic table")
    return float(np.isin(row_hashes(synthetic, schema), row_hashes(real, schema)).mean())


def distance_diagnostics(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                         schema: Schema, *, max_rows: int | None = 5000, seed: int = 0) -> dict[str, Any]:
    """DCR share, NNDR and exact-match rates on equal-sized train/holdout/synthetic samples.

    Args:
        train, holdout, synthetic: tables coerced to ``schema``.
        max_rows: rows drawn from each (None = as many as the smallest table).
        seed: sampling seed.
    Returns:
        ``{"n", "share_closer_to_train", "dcr_overfitting_protection",
        "nndr_train", "nndr_holdout", "exact_match_rate_train",
        "exact_match_rate_holdout"}``; NNDR values are medians over synthetic rows.
    Raises:
        EmptyTableError, ConfigError: see :func:`equal_size_samples`, :func:`gower_knn`.
    """
    tr, ho, sy = equal_size_samples(train, holdout, synthetic, max_rows, seed)
    d_tr = gower_knn(sy, tr, schema, k=2)
    d_ho = gower_knn(sy, ho, schema, k=2)
    share = float(np.mean(d_tr[:, 0] < d_ho[:, 0]))
    return {
        "n": len(sy),
        "share_closer_to_train": share,
        "dcr_overfitting_protection": min((1.0 - share) * 2, 1.0),
        "nndr_train": float(np.median(nndr(d_tr))),
        "nndr_holdout": float(np.median(nndr(d_ho))),
        "exact_match_rate_train": exact_match_rate(sy, tr, schema),
        "exact_match_rate_holdout": exact_match_rate(sy, ho, schema),
    }
