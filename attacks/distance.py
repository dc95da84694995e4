"""Distances between records: the DCR member share and exact-match rates (diagnostics, not proof of privacy).

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
* Gower distance, SDMetrics' DCR distance (``sdmetrics.single_table.privacy.
  dcr_utils.calculate_dcr``): per column, ``min(|a - b| / range, 1)`` for
  numerical/datetime columns (a missing value against a present one counts 1,
  two missing values 0) and 0/1 mismatch for categorical columns, averaged
  over columns. :func:`gower_knn` scales by the range of the reference table
  as SDMetrics does (a test checks equality); :func:`closest_record_share`
  scales every table by one shared range (:func:`shared_ranges`).

A synthetic table can pass every distance diagnostic and still leak (they look
at one nearest record at a time); the attacks in :mod:`attacks.membership` and
:mod:`attacks.anonymeter` are the evidence. Sources: Platzer & Reutterer,
"Holdout-based fidelity and privacy assessment of mixed-type synthetic data"
(Frontiers in Big Data 2021) for DCR and the identical-match share against a
holdout; SDMetrics ``DCROverfittingProtection`` for the distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError, SchemaError
from bench.metrics.intervals import wilson_interval

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

    def fit(self, frame: pd.DataFrame) -> TableEncoder:
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
def knn(
    query: np.ndarray, reference: np.ndarray, k: int = 1, *, chunk_size: int = 4096, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
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
        d, i = nn.kneighbors(query[start : start + chunk_size])
        if exclude_self:
            rows = np.arange(start, start + len(d))
            self_hit = i == rows[:, None]
            # drop the row's own entry where found, else the farthest (a duplicate tie)
            drop = np.where(self_hit.any(axis=1), self_hit.argmax(axis=1), kk - 1)
            keep = np.ones_like(i, dtype=bool)
            keep[np.arange(len(d)), drop] = False
            d = d[keep].reshape(len(d), k)
            i = i[keep].reshape(len(d), k)
        dist[start : start + len(d)] = d
        idx[start : start + len(d)] = i
    return dist, idx


# --------------------------------------------------------- Gower distance
@dataclass
class _GowerSide:
    num: list[tuple[np.ndarray, float]]  # (values, column range; 0 = none)
    cat: list[np.ndarray]  # category codes shared by both sides


def _gower_sides(
    data: pd.DataFrame, reference: pd.DataFrame, schema: Schema, ranges: dict[str, float] | None = None
) -> tuple[_GowerSide, _GowerSide, int]:
    cols = [
        c
        for c, k in schema.columns.items()
        if k in ("numerical", "datetime", "categorical", "boolean") and c in data.columns and c in reference.columns
    ]
    if not cols:
        raise SchemaError("DCR needs at least one numerical, datetime or categorical column in both tables")
    a, b = _GowerSide([], []), _GowerSide([], [])
    for col in cols:
        if schema.columns[col] in ("numerical", "datetime"):
            x, y = _as_float(data[col]), _as_float(reference[col])
            if ranges is not None:
                rng = float(ranges[col])
            else:  # SDMetrics: the range of the reference side
                rng = np.nanmax(y) - np.nanmin(y) if np.isfinite(y).any() else np.nan
                rng = float(rng) if np.isfinite(rng) else 0.0  # range 0: distance 1 for any difference
            a.num.append((x, rng))
            b.num.append((y, rng))
        else:
            both = pd.concat([data[col], reference[col]], ignore_index=True)
            codes, _ = pd.factorize(_cat_strings(both))
            a.cat.append(codes[: len(data)].astype(np.int32))
            b.cat.append(codes[len(data) :].astype(np.int32))
    return a, b, len(cols)


def _gower_blocks(
    data: pd.DataFrame,
    reference: pd.DataFrame,
    schema: Schema,
    *,
    ranges: dict[str, float] | None = None,
    max_block: int = 8_000_000,
):
    """Yield ``(start, stop, D)`` with ``D`` the (stop - start, m) Gower distances of a block of ``data`` rows."""
    if len(data) == 0 or len(reference) == 0:
        raise EmptyTableError("DCR needs non-empty synthetic and real tables")
    a, b, n_cols = _gower_sides(data, reference, schema, ranges)
    m = len(reference)
    chunk = max(1, int(max_block // max(m, 1)))
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
        yield start, stop, total


def gower_knn(
    data: pd.DataFrame, reference: pd.DataFrame, schema: Schema, k: int = 1, *, max_block: int = 8_000_000
) -> np.ndarray:
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
    docstring (numerical columns scaled by the range of ``reference``),
    averaged over the numerical/datetime/categorical/boolean columns.
    """
    if len(data) and len(reference) and not 1 <= k <= len(reference):
        raise ConfigError(f"k={k} closest records need at least {k} reference rows, got {len(reference)}")
    out = np.empty((len(data), k))
    for start, stop, total in _gower_blocks(data, reference, schema, max_block=max_block):
        if k == 1:
            out[start:stop, 0] = total.min(axis=1)
        else:
            part = np.partition(total, k - 1, axis=1)[:, :k]
            out[start:stop] = np.sort(part, axis=1)
    return out


def shared_ranges(schema: Schema, *frames: pd.DataFrame) -> dict[str, float]:
    """One range per numerical/datetime column: the public bounds' width, else the union of ``frames``.

    Scaling every compared table by the same range keeps a distance from
    depending on which sample it was measured against (SDMetrics scales by
    the range of each reference table separately, so one extreme value in one
    sample moves every distance to it).
    """
    out = {}
    for col in schema.of_kind("numerical", "datetime"):
        if col in schema.bounds:
            lo, hi = schema.bounds[col]
            out[col] = float(hi - lo)
            continue
        vals = np.concatenate([_as_float(f[col]) for f in frames])
        vals = vals[np.isfinite(vals)]
        out[col] = float(vals.max() - vals.min()) if len(vals) else 0.0
    return out


# --------------------------------------------------------------- diagnostics
def _hypergeom_any(c: np.ndarray, n_members: int, n_total: int) -> np.ndarray:
    """P(at least one of ``c`` records drawn at random from ``n_total`` is among ``n_members``)."""
    n_non = n_total - n_members
    out = np.ones(len(c))
    for i, ci in enumerate(np.asarray(c, dtype=int)):
        if ci <= n_non:
            j = np.arange(ci)
            out[i] = 1.0 - float(np.prod((n_non - j) / (n_total - j)))
    return out


def closest_record_share(
    *,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    max_rows: int | None = 5000,
    seed: int = 0,
    z: float = 1.959964,
) -> dict[str, Any]:
    """Share of synthetic rows whose closest real record is a member, as if members and non-members were equal
    in number.

    Every synthetic row (at most ``max_rows``, drawn at random) is compared
    with *every* training record (members, T) and *every* holdout record
    (non-members, H) under one Gower distance whose numerical ranges come from
    the public bounds or the union T + H (:func:`shared_ranges`). Its closest
    record lies in T with weight ``w`` (1, 0, or for ties at the minimum the
    fraction of the tied records that are members). With ``p = mean(w)``::

        share = (p / |T|) / (p / |T| + (1 - p) / |H|)

    is the member share per record: 0.5 when the synthetic table does not
    depend on who was a member (then ``E[p] = |T| / (|T| + |H|)`` whatever the
    split sizes, since every real record is equally likely to be the closest),
    1.0 when every synthetic row copies a training row. No training row is
    dropped (subsampling train to the holdout's size would make copies of the
    dropped rows look like non-members).

    Interval: design-based, from the random assignment of records to T and H.
    ``p = sum_r k_r 1[r in T] / m`` where ``k_r`` is the (tie-weighted) number
    of synthetic rows whose closest record is r, so ``SE(p) = sqrt(q (1 - q)
    sum_r k_r^2) / m`` (q = p, or |T| / (|T| + |H|) for the null SE): records
    that are the closest to many synthetic rows (hubs) count as one draw each,
    not many. The interval on ``share`` maps ``p +- z SE`` through the formula.

    Args:
        train, holdout, synthetic: tables coerced to ``schema`` (keyword-only).
        max_rows: synthetic rows compared (None = all).
        seed: seed of the synthetic-row sample.
        z: normal quantile of the interval (1.96 = 95%).
    Returns:
        ``{"share", "ci_low", "ci_high", "null_se", "n_synthetic", "n_train", "n_holdout",
        "exact_match_rate_train", "exact_match_rate_train_ci", "exact_match_rate_train_null",
        "exact_match_null_se", "exact_match_rate_holdout"}``: the share and its interval;
        the share's standard error under no memorisation; the share of *all*
        synthetic rows identical to some training / holdout row (identity
        reads 1.0), the exact-match rate a synthetic table independent of
        membership would show (``E[1 - prod ...]``: a synthetic row with c
        identical real records matches a member unless all c are
        non-members, hypergeometric) and its standard error.
    Raises:
        EmptyTableError: an empty table.
        ConfigError: ``max_rows`` < 10.
    Source: DCR (distance to closest record) and identical-match share,
    Platzer & Reutterer, "Holdout-based fidelity and privacy assessment of
    mixed-type synthetic data" (Frontiers in Big Data 2021); Gower distance as
    in SDMetrics ``DCROverfittingProtection``, with shared scaling and
    size-normalised shares (tailbench).
    """
    if max_rows is not None and int(max_rows) < 10:
        raise ConfigError(f"attacks.distance.max_rows must be >= 10, got {max_rows}")
    for name, df in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        if len(df) == 0:
            raise EmptyTableError(f"DCR: the {name} table is empty")
    n_t, n_h = len(train), len(holdout)
    real = pd.concat([train, holdout], ignore_index=True)
    member = np.r_[np.ones(n_t, bool), np.zeros(n_h, bool)]
    syn = synthetic
    if max_rows is not None and len(syn) > int(max_rows):
        rng = np.random.default_rng(seed)
        syn = syn.iloc[np.sort(rng.choice(len(syn), size=int(max_rows), replace=False))]
    m = len(syn)
    w = np.empty(m)
    k = np.zeros(len(real))
    for start, stop, D in _gower_blocks(syn, real, schema, ranges=shared_ranges(schema, train, holdout)):
        tied = D <= D.min(axis=1, keepdims=True) + 1e-12
        weight = tied / tied.sum(axis=1, keepdims=True)
        w[start:stop] = weight[:, member].sum(axis=1)
        k += weight.sum(axis=0)
    p0 = n_t / (n_t + n_h)
    p = float(w.mean())
    ssq = float(np.sum(k**2))

    def share(q: float) -> float:
        a, b = q / n_t, (1.0 - q) / n_h
        return a / (a + b) if a + b > 0 else 0.5

    se = math.sqrt(max(p * (1 - p), 0.0) * ssq) / m
    null_se_p = math.sqrt(p0 * (1 - p0) * ssq) / m
    # the share's null SE: the derivative of share() at p0 is (n_t + n_h)^2 / (4 n_t n_h)
    null_se = null_se_p * (n_t + n_h) ** 2 / (4.0 * n_t * n_h)
    em = exact_matches(train=train, holdout=holdout, synthetic=synthetic, schema=schema)
    return {
        "share": share(p),
        "ci_low": share(max(0.0, p - z * se)),
        "ci_high": share(min(1.0, p + z * se)),
        "null_se": null_se,
        "n_synthetic": m,
        "n_train": n_t,
        "n_holdout": n_h,
        **em,
    }


def exact_matches(
    *, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema
) -> dict[str, Any]:
    """Exact-match rates of every synthetic row against every training and holdout row, with the null.

    Returns:
        ``{"exact_match_rate_train", "exact_match_rate_train_ci", "exact_match_rate_train_null",
        "exact_match_null_se", "exact_match_rate_holdout"}``: the identical-match
        shares (a copied training row matches; identity reads 1.0), the
        Wilson interval of the train rate, and the train rate expected when
        the synthetic table does not depend on membership, with its standard
        error: a synthetic row identical to c of the |T| + |H| real records
        matches a member with probability ``1 - C(|H|, c) / C(|T| + |H|, c)``
        (records assigned to T at random); rows with the same value share
        one draw (their variance adds up as one cluster).
    Source: identical match share, Platzer & Reutterer 2021.
    """
    hs = row_hashes(synthetic, schema)
    ht, hh = row_hashes(train, schema), row_hashes(holdout, schema)
    rate_t = float(np.isin(hs, ht).mean())
    rate_h = float(np.isin(hs, hh).mean())
    counts = pd.Series(np.concatenate([ht, hh])).value_counts()
    syn_counts = pd.Series(hs).value_counts()
    groups = syn_counts.index.intersection(counts.index)
    c = counts.loc[groups].to_numpy()
    kk = syn_counts.loc[groups].to_numpy().astype(float)
    pi = _hypergeom_any(c, len(ht), len(ht) + len(hh))
    m = len(hs)
    null = float(np.sum(kk * pi) / m)
    null_se = math.sqrt(float(np.sum(kk**2 * pi * (1 - pi)))) / m
    return {
        "exact_match_rate_train": rate_t,
        "exact_match_rate_train_ci": wilson_interval(rate_t * m, m),
        "exact_match_rate_train_null": null,
        "exact_match_null_se": null_se,
        "exact_match_rate_holdout": rate_h,
    }


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
