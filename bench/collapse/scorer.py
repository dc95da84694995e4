"""Per-generation metrics of a collapse run and the generation-1 / drift decomposition."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from bench.collapse.modes import CollapseSettings
from bench.data.schema import Schema
from bench.metrics.shapes import RealProfile, quality_scores
from bench.metrics.tails import COUNT_BINS, rare_categories, rare_category_retention, tail_mass_ratio, variance_ratio
from bench.metrics.utility import tstr_trtr

log = logging.getLogger("tailbench")


# The metrics a report should plot first (collapse.parquet also holds per-bin and
# per-column values, e.g. ``tails.rare_category_retention.count_1``,
# ``tails.variance_ratio_raw.age``);
# collapse.parquet lists them first, in this order.
HEADLINE_METRICS = [
    "tails.rare_category_retention",
    "tails.tail_mass_ratio",
    "tails.variance_ratio",
    "fidelity.column_shapes",
    "utility.tstr_auc",
    "privacy.dcr_median",
    "fidelity.pair_trends_all",
]


def dcr(data: pd.DataFrame, reference: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Distance from each row of ``data`` to its closest row in ``reference``.

    Row distance = mean over the modelled columns of: numerical/datetime
    ``min(|a - b| / range, 1)`` with ``range`` = max - min of the reference
    column; categorical/boolean 0 if equal else 1; a value missing on one
    side only counts 1, on both sides 0. Computed in chunks
    (:func:`attacks.distance.gower_knn`), so Adult's 29k x 29k fits in memory.

    Args:
        data: (m, d) rows to measure (synthetic).
        reference: (k, d) rows to measure against (real train).
    Returns:
        float array (m,) in [0, 1]; 0 = an exact copy of a reference row.
    Raises:
        EmptyTableError: if either table is empty.
    Source: SDMetrics ``calculate_dcr``
        (sdmetrics.single_table.privacy.dcr_utils, used by DCRBaselineProtection
        and DCROverfittingProtection); a test checks equality.
    """
    from attacks.distance import gower_knn

    return gower_knn(data, reference, schema, k=1)[:, 0]


class CollapseScorer:
    """Scores generation tables against the real train split, real side prepared once.

    Args:
        real: real train split (n, d); the reference for every metric.
        holdout: real holdout (TSTR test set; generation 0's DCR sample).
        schema: the table's schema.
        settings: which metric groups, TSTR models, DCR sample size, rarity threshold.
        seed: seeds the TSTR models and the DCR row sample.
    """

    def __init__(
        self, real: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, settings: CollapseSettings, seed: int = 0
    ) -> None:
        self.real = real
        self.holdout = holdout
        self.schema = schema
        self.settings = settings
        self.seed = int(seed)
        self.rare = rare_categories(real, schema, settings.rare_threshold)
        self.profile = RealProfile.from_frame(real, schema) if "fidelity" in settings.metrics else None
        self.trtr_cache: dict[str, dict[str, float]] = {}

    def score(
        self, table: pd.DataFrame, generation: int, dcr_data: pd.DataFrame | None = None
    ) -> tuple[list[tuple[str, str, float, str | None]], dict[str, Any]]:
        """All configured metrics of one generation's table.

        Args:
            table: (m, d) table of generation ``generation``.
            dcr_data: rows whose DCR to the real train is measured (default ``table``).
        Returns:
            ``(values, details)``: values are ``(family, metric, value, direction)``;
            details hold ``lost`` ([(column, category, real count)]), ``n_rare`` and
            ``errors`` ({group: message}) for groups that could not be computed.
        """
        s = self.settings
        vals: list[tuple[str, str, float, str | None]] = []
        details: dict[str, Any] = {"lost": [], "n_rare": int(len(self.rare)), "errors": {}}

        def guarded(group: str, fn: Callable[[], None]) -> None:
            if group not in s.metrics:
                return
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - one group failing keeps the others
                details["errors"][group] = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "collapse generation %d: %s metrics failed: %s", generation, group, details["errors"][group]
                )

        def tails() -> None:
            ret = rare_category_retention(self.real, table, self.schema, s.rare_threshold, rare=self.rare)
            vals.append(("tails", "tails.rare_category_retention", ret["retention"], "maximize"))
            for b, _, _ in COUNT_BINS:
                if ret["n_by_bin"][b]:  # bins without rare categories are left out, not NaN
                    vals.append(("tails", f"tails.rare_category_retention.count_{b}", ret["by_bin"][b], "maximize"))
            vals.append(("tails", "tails.rare_categories_lost", float(len(ret["lost"])), "minimize"))
            details["lost"] = ret["lost"]
            # Ratios whose ideal is 1: the metric is the mean over columns of min(r, 1/r), as
            # the per-run tails family reports it; the raw ratios (direction None) keep the
            # sign of the change (< 1 shrunk, > 1 inflated) and go to collapse.parquet only.
            for key, ratios in (
                ("tails.tail_mass_ratio", tail_mass_ratio(self.real, table, self.schema)),
                ("tails.variance_ratio", variance_ratio(self.real, table, self.schema)),
            ):
                if not ratios:
                    continue
                raw = np.array(list(ratios.values()), dtype=float)
                vals.append(("tails", key, float(np.mean([_closeness(r) for r in raw])), "maximize"))
                vals.append(("tails", f"{key}_raw", float(np.median(raw)), None))
                vals.extend(("tails", f"{key}_raw.{c}", float(r), None) for c, r in ratios.items())

        def fidelity() -> None:
            q = quality_scores(self.profile, table)
            for k in ("column_shapes", "pair_trends", "pair_trends_all", "quality_score"):
                vals.append(("fidelity", f"fidelity.{k}", q[k], "maximize"))

        def utility() -> None:
            if self.schema.target is None:
                return
            if table[self.schema.target].nunique(dropna=True) < 2:
                # tstr_trtr scores it as the constant classifier it trains (AUC 0.5); say so.
                details["errors"]["utility"] = (
                    f"target {self.schema.target!r} has one class in this "
                    "generation; TSTR AUC recorded as 0.5 (constant score)"
                )
            res = tstr_trtr(
                train=self.real,
                holdout=self.holdout,
                synthetic=table,
                schema=self.schema,
                models=s.utility_models,
                seed=self.seed,
                trtr_cache=self.trtr_cache,
            )
            for m, r in res.items():
                prefix = "utility." if m == "hgb" else f"utility.{m}."
                vals.append(("utility", prefix + "tstr_auc", r["tstr_auc"], "maximize"))
                vals.append(("utility", prefix + "tstr_trtr_ratio", r["tstr_trtr_ratio"], "maximize"))

        def distance() -> None:
            src = table if dcr_data is None else dcr_data
            rng = np.random.default_rng([self.seed, generation, 7])
            if len(src) > s.dcr_rows:
                src = src.iloc[np.sort(rng.choice(len(src), size=s.dcr_rows, replace=False))]
            d = dcr(src, self.real, self.schema)
            vals.append(("privacy", "privacy.dcr_median", float(np.median(d)), "maximize"))
            vals.append(("privacy", "privacy.exact_match_rate", float((d == 0).mean()), "minimize"))

        guarded("tails", tails)
        guarded("fidelity", fidelity)
        guarded("utility", utility)
        guarded("dcr", distance)
        return vals, details


def _closeness(r: float) -> float:
    """min(r, 1/r) of a ratio whose ideal is 1: 1 = as real, 0 = lost or infinite."""
    if np.isnan(r):
        return float("nan")
    if r <= 0 or np.isinf(r):
        return 0.0
    return float(min(r, 1.0 / r))


def decompose(values: pd.DataFrame) -> pd.DataFrame:
    """Split each metric's change into the loss at generation 1 and the drift after it.

    Args:
        values: long frame with ``generation, metric, value`` (and ``direction``).
    Returns:
        One row per metric: ``metric, direction, gen0, gen1, last, last_generation,
        gen1_change = gen1 - gen0`` (model mismatch and estimation error of one
        fit on real data) and ``drift = last - gen1`` (what recursion adds).
        Metrics missing at generation 0 or 1 get NaN changes.
    """
    cols = ["metric", "direction", "gen0", "gen1", "last", "last_generation", "gen1_change", "drift"]
    if values.empty:
        return pd.DataFrame(columns=cols)
    out = []
    last_g = int(values["generation"].max())
    for name, grp in values.groupby("metric", sort=False):
        by = grp.set_index("generation")["value"]
        direction = grp["direction"].iloc[0] if "direction" in grp else None
        g0, g1, gl = by.get(0, np.nan), by.get(1, np.nan), by.get(last_g, np.nan)
        out.append((name, direction if isinstance(direction, str) else None, g0, g1, gl, last_g, g1 - g0, gl - g1))
    return pd.DataFrame(out, columns=cols)
