"""Calibration of the privacy metrics by four generators with known truth.

Every privacy metric earns its place by reading right on the controls, on the
same dataset and splits:

* ``identity`` releases the training rows: the worst privacy any metric can
  show (the *positive* control);
* ``noisy_identity`` swaps a share of the cells (:mod:`bench.generators.baselines`):
  it leaks, less than identity; every metric must place it strictly between;
* ``independent`` and ``faker`` do not depend on who was a member (the *null*
  controls): every metric must read its null level (AUC 0.5, risk 0, DCR member
  share 0.5, TPR = FPR, the exact-match rate expected by chance) within a
  tolerance of :data:`TOLERANCE_SE` standard errors, the standard error being
  the one the attack module derives from the run's sample sizes (run record
  ``attacks.nulls``).

A metric passes when (1) identity reads above its null by more than the
tolerance, (2) both null controls read within the tolerance of the null, and
(3) noisy_identity reads strictly between identity and both null controls.
:func:`calibration` computes these verdicts from a sweep's long metrics and run
records; the controls test (``tests/test_controls.py``) asserts them for every
metric of the default attack set, and the report's controls panel shows them.

Every privacy metric here is oriented so that *larger* means *more leakage*
(direction ``minimize``); metrics with direction ``none`` rank nothing and are
not calibrated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

POSITIVE, BETWEEN = "identity", "noisy_identity"
NULLS = ("independent", "faker")
CONTROL_GENERATORS = (POSITIVE, BETWEEN, *NULLS)
TOLERANCE_SE = 4.0  # a null reading beyond 4 SE has probability < 1e-4 per metric (normal approximation)

COLUMNS = [
    "dataset",
    "metric",
    "subgroup",
    "identity",
    "noisy_identity",
    "independent",
    "faker",
    "null",
    "tolerance",
    "separates",
    "nulls_at_null",
    "between",
    "passes",
]


def null_levels(runs: pd.DataFrame) -> pd.DataFrame:
    """Null level and standard error of every metric in every run, from the run records.

    Args:
        runs: one row per run (``bench.results.collect``), with the ``attacks``
            record holding ``nulls``.
    Returns:
        Columns ``dataset, generator, seed, metric, subgroup, null, se``.
    """
    rows: list[dict[str, Any]] = []
    if runs.empty or "attacks" not in runs.columns:
        return pd.DataFrame(columns=["dataset", "generator", "seed", "metric", "subgroup", "null", "se"])
    for r in runs.to_dict("records"):
        att = r.get("attacks")
        if not isinstance(att, dict):
            continue
        for v in (att.get("nulls") or {}).values():
            rows.append(
                {
                    "dataset": r.get("dataset"),
                    "generator": r.get("generator"),
                    "seed": r.get("seed"),
                    "metric": v["metric"],
                    "subgroup": v["subgroup"],
                    "null": float(v["null"]),
                    "se": float(v["se"]),
                }
            )
    return pd.DataFrame(rows, columns=["dataset", "generator", "seed", "metric", "subgroup", "null", "se"])


def calibration(metrics: pd.DataFrame, nulls: pd.DataFrame, metric_names: Iterable[str] | None = None) -> pd.DataFrame:
    """Each privacy metric's readings on the four controls and its verdicts.

    Args:
        metrics: long metrics (``bench.results.METRIC_COLUMNS``) of runs that
            include the four :data:`CONTROL_GENERATORS` on a dataset; several
            seeds are averaged.
        nulls: :func:`null_levels` of the same runs.
        metric_names: restrict to these metric keys (default: every privacy
            metric with a recorded null level).
    Returns:
        One row per (dataset, metric, subgroup) measured on all four controls
        (:data:`COLUMNS`): the mean readings; ``null`` (the mean null level of
        the null controls); ``tolerance`` (:data:`TOLERANCE_SE` times the
        largest per-run null SE); ``separates`` (identity above its own null
        by more than the tolerance); ``nulls_at_null`` (each null control
        within the tolerance of its own null level); ``between``
        (noisy_identity strictly below identity and strictly above both null
        controls); ``passes`` (all three).
    """
    if metrics.empty or nulls.empty:
        return pd.DataFrame(columns=COLUMNS)
    m = metrics[metrics["generator"].isin(CONTROL_GENERATORS) & (metrics["direction"] == "minimize")]
    keys = ["dataset", "metric", "subgroup"]
    val = m.groupby(keys + ["generator"])["value"].mean().unstack("generator")
    nl = nulls[nulls["generator"].isin(CONTROL_GENERATORS)]
    lvl = nl.groupby(keys + ["generator"])["null"].mean().unstack("generator")
    se = nl.groupby(keys)["se"].max()
    idx = val.index.intersection(lvl.index)
    if metric_names is not None:
        wanted = set(metric_names)
        idx = idx[[k[1] in wanted for k in idx]]
    out = []
    for k in idx:
        v, lv = val.loc[k], lvl.loc[k]
        if any(g not in v.index or np.isnan(v[g]) for g in CONTROL_GENERATORS):
            continue
        tol = TOLERANCE_SE * float(se.loc[k])
        sep = bool(v[POSITIVE] - lv.get(POSITIVE, np.nan) > tol)
        at_null = bool(all(abs(v[g] - lv.get(g, np.nan)) <= tol for g in NULLS))
        between = bool(v[POSITIVE] > v[BETWEEN] > max(v[g] for g in NULLS))
        out.append(
            {
                "dataset": k[0],
                "metric": k[1],
                "subgroup": k[2],
                **{g: float(v[g]) for g in CONTROL_GENERATORS},
                "null": float(np.mean([lv.get(g, np.nan) for g in NULLS])),
                "tolerance": tol,
                "separates": sep,
                "nulls_at_null": at_null,
                "between": between,
                "passes": sep and at_null and between,
            }
        )
    return pd.DataFrame(out, columns=COLUMNS)


__all__ = [
    "BETWEEN",
    "COLUMNS",
    "CONTROL_GENERATORS",
    "NULLS",
    "POSITIVE",
    "TOLERANCE_SE",
    "calibration",
    "null_levels",
]
