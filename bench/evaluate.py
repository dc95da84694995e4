"""Score one synthetic table: every metric family, each isolated from the others.

A family that fails (bad input, a metric that cannot be computed) is recorded
as an error in the run record and the other families still run, so nothing
already computed is lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from bench.data.loaders import Dataset
from bench.data.splits import Splits
from bench.fidelity import RealProfile, quality_scores
from bench.results import metric
from bench.utility import tstr_trtr

log = logging.getLogger(__name__)


@dataclass
class EvalContext:
    """Everything a metric or attack may read for one run.

    Attributes:
        dataset: the loaded dataset (schema, fingerprint).
        splits: train (members), holdout (non-members, TSTR test), reference.
        synthetic: the synthetic table (m, d), coerced to the schema.
        seed: the run's seed.
        generator: the fitted generator (attacks that refit use its config).
        generator_factory: zero-argument callable returning a fresh, unfitted
            generator with the run's settings (shadow-model attacks).
    """

    dataset: Dataset
    splits: Splits
    synthetic: pd.DataFrame
    seed: int = 0
    generator: Any = None
    generator_factory: Callable[[], Any] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self):
        return self.dataset.schema

    @property
    def real_profile(self) -> RealProfile:
        if "real_profile" not in self.cache:
            self.cache["real_profile"] = RealProfile.from_frame(self.splits.train, self.schema)
        return self.cache["real_profile"]


def fidelity_metrics(ctx: EvalContext, cfg: Any) -> list[dict]:
    """SDMetrics-equivalent column shapes, pair trends and quality score."""
    q = quality_scores(ctx.real_profile, ctx.synthetic)
    rows = [
        metric("fidelity", "fidelity.column_shapes", q["column_shapes"], "maximize"),
        metric("fidelity", "fidelity.pair_trends", q["pair_trends"], "maximize"),
        metric("fidelity", "fidelity.pair_trends_all", q["pair_trends_all"], "maximize"),
        metric("fidelity", "fidelity.quality_score", q["quality_score"], "maximize"),
    ]
    shapes = q["shapes"]
    for kind_metric, key in (("KSComplement", "fidelity.ks_complement"),
                             ("TVComplement", "fidelity.tv_complement")):
        sel = shapes[shapes["metric"] == kind_metric]
        if len(sel):
            rows.append(metric("fidelity", key, sel["score"].mean(), "maximize"))
    pairs = q["pairs"]
    for kind_metric, key in (("CorrelationSimilarity", "fidelity.correlation_similarity"),
                             ("ContingencySimilarity", "fidelity.contingency_similarity")):
        sel = pairs[pairs["metric"] == kind_metric]
        if len(sel):
            rows.append(metric("fidelity", key, sel["score"].mean(), "maximize"))
    return rows


def utility_metrics(ctx: EvalContext, cfg: Any) -> list[dict]:
    """TSTR/TRTR with each configured model on the real holdout.

    A synthetic table whose target kept one class scores TSTR AUC 0.5 (the
    constant classifier it trains) and ``utility.synthetic_target_classes`` 1.
    """
    if ctx.schema.target is None:
        return []
    models = list(getattr(cfg, "models", None) or ["hgb", "logreg"])
    res = tstr_trtr(ctx.synthetic, ctx.splits.train, ctx.splits.holdout, ctx.schema,
                    models=models, seed=ctx.seed)
    # how many target classes the synthetic table kept: 1 means TSTR is the constant
    # classifier's AUC 0.5 (bench.utility.constant_score), not a fitted model's
    n_classes = ctx.synthetic[ctx.schema.target].dropna().nunique()
    rows = [metric("utility", "utility.synthetic_target_classes", n_classes, "maximize")]
    for m, vals in res.items():
        prefix = "utility." if m == "hgb" else f"utility.{m}."
        for k, v in vals.items():
            rows.append(metric("utility", prefix + k, v, "maximize"))
    return rows


# name -> (function, config key under cfg.evaluation / cfg.attacks)
FAMILIES: dict[str, Callable[[EvalContext, Any], list[dict]]] = {
    "fidelity": fidelity_metrics,
    "utility": utility_metrics,
}


# Families configured by another family's section (the audit reads cfg.attacks).
CONFIG_SECTION: dict[str, str] = {"audit": "attacks"}


def register_family(name: str, fn: Callable[[EvalContext, Any], list[dict]],
                    section: str | None = None) -> None:
    """Add a metric family (used by tails, detection and attack modules).

    Args:
        name: family name; its config is ``settings[section or name]``.
        fn: ``fn(ctx, cfg) -> list of metric rows``.
    """
    FAMILIES[name] = fn
    if section is not None:
        CONFIG_SECTION[name] = section


def evaluate(ctx: EvalContext, settings: dict[str, Any]) -> tuple[list[dict], dict[str, str], dict[str, float]]:
    """Run every enabled family.

    Args:
        ctx: the run's context.
        settings: family name -> its config (``enabled: false`` skips it).
    Returns:
        ``(rows, errors, timings)``: metric rows, ``{family: error}`` for
        families that failed, and ``{family: seconds}``.
    """
    _load_plugins()
    rows, errors, timings = [], {}, {}
    for name, fn in FAMILIES.items():
        cfg = settings.get(CONFIG_SECTION.get(name, name))
        if cfg is None or not _get(cfg, "enabled", True):
            continue
        t0 = time.perf_counter()
        try:
            rows.extend(fn(ctx, cfg))
        except Exception as exc:  # noqa: BLE001 - one family failing must not lose the others
            log.warning("metric family %s failed: %s: %s", name, type(exc).__name__, exc)
            errors[name] = f"{type(exc).__name__}: {exc}"
        timings[name] = time.perf_counter() - t0
    return rows, errors, timings


def _get(cfg: Any, key: str, default: Any) -> Any:
    if isinstance(cfg, dict):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def _load_plugins() -> None:
    """Import modules that register extra families (tails, detection, attacks)."""
    import importlib

    for mod in ("bench.fidelity_extra", "attacks.run", "attacks.audit"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
