"""The metric families: the explicit table every scored table goes through.

A *family* turns one :class:`~bench.metrics.context.EvalContext` and its
settings block into long-format metric rows (:func:`bench.results.metric`);
the pure metric functions live beside this module (shapes, association,
detection, validity, tails, utility). :data:`FAMILIES` is the literal table of
every family tailbench runs, in order, with the settings section each reads;
outside packages add families through the entry-point group
``tailbench.metrics`` (a callable ``fn(ctx, cfg) -> rows``; its settings
section is its name). :func:`score` runs the families that have settings,
each isolated from the others: a family that fails is recorded and the others
still run, so nothing already computed is lost.

Families and their metric keys (direction in brackets):

* ``fidelity``: SDMetrics-equal ``fidelity.column_shapes``,
  ``fidelity.pair_trends`` (thresholded, the QualityReport default),
  ``fidelity.pair_trends_all``, ``fidelity.quality_score``,
  ``fidelity.ks_complement``, ``fidelity.tv_complement``,
  ``fidelity.correlation_similarity``, ``fidelity.contingency_similarity``
  [maximize], with bootstrap intervals; run record ``worst_columns``.
* ``utility``: TSTR/TRTR per model (``utility.tstr_auc``, ...) [maximize]; run
  record ``leakage_warnings`` when the real data predicts the target too well
  (TRTR AUC, or one feature or its missingness alone, >= 0.99).
* ``detection``: ``fidelity.detection_auc`` [minimize; 0.5 = indistinguishable],
  ``fidelity.logistic_detection`` [maximize; SDMetrics LogisticDetection].
* ``association``: ``fidelity.association_distance`` [minimize],
  ``fidelity.association_mean_abs_diff`` [minimize]; run record ``worst_pairs``.
* ``validity``: ``fidelity.validity`` and ``fidelity.validity_{bounds,domain,
  kinds,missing,constraints}`` [maximize]; run record ``validity``.
* ``missingness``: ``fidelity.missing_rate_similarity``,
  ``fidelity.co_missingness_similarity``, ``fidelity.missingness_rules_kept``
  [maximize]; run record ``missingness`` (per column, worst pairs, the real
  table's "missing <=> category" rules and the broken ones by name).
* ``tails``: ``tails.rare_category_retention`` (subgroups ``all``, ``count_1``,
  ``count_2-5``, ``count_6-20``, ``count_>20``) [maximize],
  ``tails.tail_mass_ratio`` [maximize; min(r, 1/r), raw r in the run record],
  ``tails.prdc_{precision,recall,density,coverage}`` [maximize]; run record
  ``lost_rare_categories``, ``rare_categories``, ``tail_mass_ratio``, ``prdc``.
* ``segments``: per named segment (subgroup = segment name)
  ``fidelity.segment_frequency_ratio`` [maximize; min(r, 1/r)],
  ``fidelity.column_shapes`` [maximize], ``utility.tstr_auc``,
  ``utility.trtr_auc``, ``utility.tstr_accuracy``, ``utility.trtr_accuracy``
  [maximize]; run record ``segments``.
* ``attacks`` (:mod:`attacks.run`) and ``audit`` (:mod:`attacks.audit`): the
  privacy family, both configured by the ``attacks`` section.

Intervals (``ci_low``/``ci_high``) are 95% normal bootstrap intervals
(:func:`bench.metrics.intervals.normal_interval`) over resampled synthetic
rows with the real side fixed, or Wilson intervals for shares of rows
(validity). Nothing here writes a real record: only aggregate values, column
names and public category names.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError
from bench.metrics.association import _association_distance, association_distance
from bench.metrics.context import EvalContext
from bench.metrics.detection import balanced_sample, detection_auc, logistic_detection
from bench.metrics.intervals import normal_interval, wilson_interval
from bench.metrics.missingness import (
    co_missingness_similarity,
    missing_rate_similarity,
    missingness_rules,
    public_rule,
    rule_violations,
)
from bench.metrics.shapes import _PairSide, column_shapes, quality_scores
from bench.metrics.tails import (
    COUNT_BINS,
    prdc,
    rare_categories,
    rare_category_retention,
    symmetric_ratio,
    tail_mass_from_thresholds,
    tail_thresholds,
)
from bench.metrics.utility import (
    _encode_for,
    _model,
    _prepare,
    feature_columns,
    leakage_warnings,
    single_feature_aucs,
    tstr_trtr,
)
from bench.metrics.validity import quote_columns, validity
from bench.results import metric

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tailbench.metrics"
Family = Callable[[EvalContext, Any], list]


# ----------------------------------------------------------------- helpers
def _get(cfg: Any, key: str, default: Any) -> Any:
    if cfg is None:
        return default
    if isinstance(cfg, dict):
        v = cfg.get(key, default)
    else:
        v = getattr(cfg, key, default)
    return default if v is None else v


def bin_subgroup(label: str) -> str:
    """Metric subgroup of a real-count bin: ``"1"`` -> ``"count_1"``."""
    return f"count_{label}"


def _resample_idx(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, n, size=n)


def _rng(ctx: EvalContext, salt: int) -> np.random.Generator:
    return np.random.default_rng([int(ctx.seed) & 0x7FFFFFFF, salt])


# ----------------------------------------------------------------- fidelity (+ intervals)
def _fidelity_rows(ctx: EvalContext) -> list[dict]:
    """SDMetrics-equal column shapes, pair trends and quality score of ``ctx.synthetic`` (no intervals)."""
    q = quality_scores(ctx.real_profile, ctx.synthetic)
    rows = [
        metric("fidelity", "fidelity.column_shapes", q["column_shapes"], "maximize"),
        metric("fidelity", "fidelity.pair_trends", q["pair_trends"], "maximize"),
        metric("fidelity", "fidelity.pair_trends_all", q["pair_trends_all"], "maximize"),
        metric("fidelity", "fidelity.quality_score", q["quality_score"], "maximize"),
    ]
    shapes = q["shapes"]
    for kind_metric, key in (("KSComplement", "fidelity.ks_complement"), ("TVComplement", "fidelity.tv_complement")):
        sel = shapes[shapes["metric"] == kind_metric]
        if len(sel):
            rows.append(metric("fidelity", key, sel["score"].mean(), "maximize"))
    pairs = q["pairs"]
    for kind_metric, key in (
        ("CorrelationSimilarity", "fidelity.correlation_similarity"),
        ("ContingencySimilarity", "fidelity.contingency_similarity"),
    ):
        sel = pairs[pairs["metric"] == kind_metric]
        if len(sel):
            rows.append(metric("fidelity", key, sel["score"].mean(), "maximize"))
    return rows


def fidelity_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """SDMetrics-equal column shapes, pair trends and quality score, with bootstrap intervals.

    Settings: ``n_bootstrap`` (default 20; 0 = no interval) synthetic
    resamples, each scored against the cached real profile; ``worst_columns``
    (default 5) lowest-scoring columns named in the run record.
    """
    rows = _fidelity_rows(ctx)
    n_boot = int(_get(cfg, "n_bootstrap", 20))
    syn = ctx.synthetic
    if n_boot >= 2 and len(syn) > 1:
        rng = _rng(ctx, 1)
        reps: dict[tuple[str, str], list[float]] = {}
        for _ in range(n_boot):
            sub = dataclasses.replace(ctx, synthetic=syn.iloc[_resample_idx(rng, len(syn))])
            for r in _fidelity_rows(sub):
                reps.setdefault((r["metric"], r["subgroup"]), []).append(r["value"])
        for r in rows:
            lo, hi = normal_interval(r["value"], reps.get((r["metric"], r["subgroup"]), []), lower=0.0, upper=1.0)
            r["ci_low"], r["ci_high"] = lo, hi
    k = int(_get(cfg, "worst_columns", 5))
    if k > 0:
        shapes = column_shapes(ctx.real_profile, syn).sort_values("score", kind="stable").head(k)
        ctx.run_record()["worst_columns"] = [
            {"column": c, "metric": m, "score": float(s)}
            for c, m, s in zip(shapes["column"], shapes["metric"], shapes["score"])
        ]
    return rows


# ----------------------------------------------------------------- utility
def utility_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """TSTR/TRTR with each configured model on the real holdout.

    A synthetic table whose target kept one class scores TSTR AUC 0.5 (the
    constant classifier it trains) and ``utility.synthetic_target_classes`` 1.
    """
    if ctx.schema.target is None:
        why = "no target column declared (schema.target): TSTR/TRTR needs a prediction task"
        ctx.run_record().setdefault("skipped", {})["utility"] = why
        log.info("metric family utility skipped: %s", why)
        return []
    models = list(_get(cfg, "models", None) or ["hgb", "logreg"])
    res = tstr_trtr(
        train=ctx.splits.train,
        holdout=ctx.splits.holdout,
        synthetic=ctx.synthetic,
        schema=ctx.schema,
        models=models,
        seed=ctx.seed,
    )
    # how many target classes the synthetic table kept: 1 means TSTR is the constant
    # classifier's AUC 0.5 (bench.metrics.utility.constant_score), not a fitted model's
    n_classes = ctx.synthetic[ctx.schema.target].dropna().nunique()
    rows = [metric("utility", "utility.synthetic_target_classes", n_classes, "maximize")]
    for m, vals in res.items():
        prefix = "utility." if m == "hgb" else f"utility.{m}."
        for k, v in vals.items():
            rows.append(metric("utility", prefix + k, v, "maximize"))
    trtr = max((v["trtr_auc"] for v in res.values()), default=float("nan"))
    warnings = leakage_warnings(trtr, single_feature_aucs(ctx.splits.train, ctx.splits.holdout, ctx.schema))
    if warnings:
        ctx.run_record()["leakage_warnings"] = warnings
        for w in warnings:
            log.warning("utility: %s", w)
    return rows


# ----------------------------------------------------------------- detection
def detection_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """Classifier two-sample test (gradient boosting) and SDMetrics' LogisticDetection.

    Settings: ``max_rows`` (per table, default 5000), ``folds`` (5),
    ``n_bootstrap`` (200), ``logistic`` (true: also LogisticDetection on the
    same bounded sample).
    """
    max_rows = int(_get(cfg, "max_rows", 5000))
    res = detection_auc(
        ctx.splits.train,
        ctx.synthetic,
        ctx.schema,
        max_rows=max_rows,
        folds=int(_get(cfg, "folds", 5)),
        seed=ctx.seed,
        n_bootstrap=int(_get(cfg, "n_bootstrap", 200)),
    )
    rows = [
        metric(
            "fidelity", "fidelity.detection_auc", res["auc"], "minimize", ci_low=res["ci_low"], ci_high=res["ci_high"]
        )
    ]
    ctx.run_record()["detection"] = {
        "fold_auc": res["fold_auc"],
        "n_per_class": res["n_per_class"],
        "model": "HistGradientBoostingClassifier",
        "folds": int(_get(cfg, "folds", 5)),
    }
    if bool(_get(cfg, "logistic", True)):
        r, s = balanced_sample(ctx.splits.train, ctx.synthetic, max_rows, ctx.seed)
        rows.append(
            metric(
                "fidelity",
                "fidelity.logistic_detection",
                logistic_detection(r, s, ctx.schema, seed=ctx.seed),
                "maximize",
            )
        )
    return rows


# ----------------------------------------------------------------- association
def association_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """Distance between real and synthetic association matrices; worst pairs by name.

    Settings: ``top_k`` (10) pairs listed in the run record as ``worst_pairs``,
    ``n_bootstrap`` (20) synthetic resamples for the interval.
    """
    prof = ctx.real_profile
    res = association_distance(prof, ctx.synthetic)
    n_boot = int(_get(cfg, "n_bootstrap", 20))
    ci = {"distance": (np.nan, np.nan), "mean_abs_diff": (np.nan, np.nan)}
    if n_boot >= 2:
        rng = _rng(ctx, 2)
        reps = {"distance": [], "mean_abs_diff": []}
        syn = ctx.synthetic
        for _ in range(n_boot):
            sub = syn.iloc[_resample_idx(rng, len(syn))]
            b = _association_distance(prof, _PairSide.from_frame(sub, prof.schema, labels=prof._pairs.labels))
            for key in reps:
                reps[key].append(b[key])
        ci = {k: normal_interval(res[k], v, lower=0.0) for k, v in reps.items()}
    top = res["pairs"].head(int(_get(cfg, "top_k", 10)))
    ctx.run_record()["worst_pairs"] = [
        {
            "column_1": a,
            "column_2": b,
            "measure": m,
            "real": float(rv),
            "synthetic": (None if pd.isna(sv) else float(sv)),
            "abs_diff": float(d),
        }
        for a, b, m, rv, sv, d in top[["column_1", "column_2", "measure", "real", "synthetic", "abs_diff"]].itertuples(
            index=False
        )
    ]
    return [
        metric(
            "fidelity",
            "fidelity.association_distance",
            res["distance"],
            "minimize",
            ci_low=ci["distance"][0],
            ci_high=ci["distance"][1],
        ),
        metric(
            "fidelity",
            "fidelity.association_mean_abs_diff",
            res["mean_abs_diff"],
            "minimize",
            ci_low=ci["mean_abs_diff"][0],
            ci_high=ci["mean_abs_diff"][1],
        ),
    ]


# ----------------------------------------------------------------- validity
def _extra_constraints(cfg: Any, dataset: str) -> list[str]:
    extra = _get(cfg, "extra_constraints", [])
    if isinstance(extra, dict) or hasattr(extra, "keys"):
        extra = dict(extra).get(dataset, [])
    return [str(e) for e in (extra or [])]


def validity_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """Share of synthetic rows valid under the schema and declared constraints.

    Settings: ``extra_constraints``: more constraints (a list, or a mapping
    dataset name -> list), same syntax as ``schema.constraints``.
    """
    extra = _extra_constraints(cfg, ctx.dataset.name)
    res = validity(ctx.synthetic, ctx.schema, real=ctx.splits.train, extra_constraints=extra)
    real_res = validity(ctx.splits.train, ctx.schema, real=ctx.splits.train, extra_constraints=extra)
    n = res["n_rows"]
    lo, hi = wilson_interval(res["n_valid"], n)
    rows = [metric("fidelity", "fidelity.validity", res["validity"], "maximize", ci_low=lo, ci_high=hi)]
    for comp in ("bounds", "domain", "kinds", "missing", "constraints"):
        k = res["n_valid_by_component"][comp]
        lo, hi = wilson_interval(k, n)
        rows.append(metric("fidelity", f"fidelity.validity_{comp}", res[comp], "maximize", ci_low=lo, ci_high=hi))
    ctx.run_record()["validity"] = {
        "n_rows": n,
        "n_valid": res["n_valid"],
        "by_column": res["by_column"],
        "by_constraint": res["by_constraint"],
        "real_train_validity": real_res["validity"],
        "constraints": list(ctx.schema.constraints) + extra,
    }
    return rows


# ----------------------------------------------------------------- missingness
def missingness_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """Missing-rate similarity, co-missingness similarity and the real table's missingness rules kept.

    Settings: ``min_support`` (20: a determinant category counts for a rule
    from this many real rows), ``tolerance`` (0.01: a rule broken in more than
    this share of synthetic rows is named in the run record as broken).
    """
    train, syn, sch = ctx.splits.train, ctx.synthetic, ctx.schema
    rates = missing_rate_similarity(train, syn, sch)
    co = co_missingness_similarity(train, syn, sch)
    rules = rule_violations(syn, missingness_rules(train, sch, int(_get(cfg, "min_support", 20))))
    tol = float(_get(cfg, "tolerance", 0.01))
    kept = float(1 - np.mean([r["violations"] for r in rules])) if rules else float("nan")
    ctx.run_record()["missingness"] = {
        "by_column": rates["by_column"],
        "worst_co_missing_pairs": co["worst_pairs"],
        "rules": [public_rule(r, sch) for r in rules],
        "broken_rules": [public_rule(r, sch) for r in rules if r["violations"] > tol],
    }
    return [
        metric("fidelity", "fidelity.missing_rate_similarity", rates["score"], "maximize"),
        metric("fidelity", "fidelity.co_missingness_similarity", co["score"], "maximize"),
        metric("fidelity", "fidelity.missingness_rules_kept", kept, "maximize"),
    ]


# ----------------------------------------------------------------- tails
def _rare(ctx: EvalContext, threshold: float) -> pd.DataFrame:
    key = ("rare_categories", threshold)
    if key not in ctx.cache:
        ctx.cache[key] = rare_categories(ctx.splits.train, ctx.schema, threshold)
    return ctx.cache[key]


def _public_name(schema, col: str, cat: str, name_undeclared: bool) -> str:
    if name_undeclared or cat in set(schema.domains.get(col, [])):
        return cat
    return "<category outside the public domain>"


def tails_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """Rare-category retention by count bin, tail mass ratio and PRDC.

    Settings: ``rare_threshold`` (0.01), ``low_q``/``high_q`` (0.01/0.99),
    ``n_bootstrap`` (200), ``name_undeclared`` (false: a lost category that is
    not in a declared public domain is listed without its name),
    ``prdc: {enabled, k, max_rows}``.
    """
    schema, train, syn = ctx.schema, ctx.splits.train, ctx.synthetic
    n_boot = int(_get(cfg, "n_bootstrap", 200))
    rng = _rng(ctx, 3)
    rows: list[dict] = []
    rec = ctx.run_record()

    # rare-category retention
    threshold = float(_get(cfg, "rare_threshold", 0.01))
    rare = _rare(ctx, threshold)
    ret = rare_category_retention(train, syn, schema, threshold, rare=rare)
    if ret["n_rare"]:
        counts = {col: syn[col].dropna().astype(str).value_counts() for col in rare["column"].unique()}
        syn_counts = np.array([counts[c].get(k, 0) for c, k in zip(rare["column"], rare["category"])], dtype=float)
        m = max(len(syn), 1)
        bins = rare["count_bin"].to_numpy()
        # Bootstrap presence: in a resample of m rows a category seen c times is
        # present iff Binomial(m, c/m) > 0 (the exact marginals of the row bootstrap).
        pres = (
            rng.binomial(m, np.clip(syn_counts / m, 0, 1), size=(n_boot, len(rare))) > 0
            if n_boot >= 2
            else np.empty((0, len(rare)), bool)
        )

        def interval(point: float, sel: np.ndarray) -> tuple[float, float]:
            return normal_interval(point, pres[:, sel].mean(axis=1), lower=0.0, upper=1.0)

        lo, hi = interval(ret["retention"], np.ones(len(rare), bool))
        rows.append(
            metric("tails", "tails.rare_category_retention", ret["retention"], "maximize", ci_low=lo, ci_high=hi)
        )
        for label, _, _ in COUNT_BINS:
            if ret["n_by_bin"][label]:
                lo, hi = interval(ret["by_bin"][label], bins == label)
                rows.append(
                    metric(
                        "tails",
                        "tails.rare_category_retention",
                        ret["by_bin"][label],
                        "maximize",
                        subgroup=bin_subgroup(label),
                        ci_low=lo,
                        ci_high=hi,
                    )
                )
        named = bool(_get(cfg, "name_undeclared", False))
        rec["lost_rare_categories"] = [
            {"column": c, "category": _public_name(schema, c, k, named), "real_count": n} for c, k, n in ret["lost"]
        ]
        rec["rare_categories"] = {
            "threshold": threshold,
            "n_rare": ret["n_rare"],
            "n_by_bin": ret["n_by_bin"],
            "retention_by_bin": ret["by_bin"],
        }

    # tail mass ratio
    low_q, high_q = float(_get(cfg, "low_q", 0.01)), float(_get(cfg, "high_q", 0.99))
    key = ("tail_thresholds", low_q, high_q)
    if key not in ctx.cache:
        ctx.cache[key] = tail_thresholds(train, schema, low_q, high_q)
    thr = ctx.cache[key]
    raw = tail_mass_from_thresholds(thr, syn)
    if raw:
        sym = float(np.mean([symmetric_ratio(v) for v in raw.values()]))
        lo = hi = np.nan
        if n_boot >= 2:
            cols = list(raw)
            x = np.column_stack([syn[c].to_numpy(float) for c in cols])
            valid = ~np.isnan(x)
            tail = np.column_stack([(x[:, j] < thr[c][0]) | (x[:, j] > thr[c][1]) for j, c in enumerate(cols)])
            denom = np.array([thr[c][2] for c in cols])
            reps = []
            for _ in range(n_boot):
                idx = _resample_idx(rng, len(x))
                share = tail[idx].sum(axis=0) / np.maximum(valid[idx].sum(axis=0), 1)
                reps.append(np.mean([symmetric_ratio(v) for v in share / denom]))
            lo, hi = normal_interval(sym, reps, lower=0.0, upper=1.0)
        rows.append(metric("tails", "tails.tail_mass_ratio", sym, "maximize", ci_low=lo, ci_high=hi))
        rec["tail_mass_ratio"] = {
            "definition": "synthetic mass beyond the real "
            f"{low_q:g}/{high_q:g} quantiles / real mass there; "
            "metric value = mean over columns of min(r, 1/r)",
            "raw_by_column": raw,
            "raw_mean": float(np.mean(list(raw.values()))),
        }

    # PRDC
    pcfg = _get(cfg, "prdc", {})
    if bool(_get(pcfg, "enabled", True)):
        res = prdc(
            train, syn, schema, k=int(_get(pcfg, "k", 5)), max_rows=int(_get(pcfg, "max_rows", 5000)), seed=ctx.seed
        )
        for name in ("precision", "recall", "density", "coverage"):
            ind = res["indicators"][name]
            lo = hi = np.nan
            if n_boot >= 2:
                reps = [ind[_resample_idx(rng, len(ind))].mean() for _ in range(n_boot)]
                lo, hi = normal_interval(res[name], reps, lower=0.0, upper=None if name == "density" else 1.0)
            rows.append(metric("tails", f"tails.prdc_{name}", res[name], "maximize", ci_low=lo, ci_high=hi))
        rec["prdc"] = {"k": res["k"], "n_real": res["n_real"], "n_synthetic": res["n_synthetic"]}
    return rows


# ----------------------------------------------------------------- segments
def _segment_mask(df: pd.DataFrame, name: str, query: str, schema) -> np.ndarray:
    try:
        res = df.eval(quote_columns(query, list(schema.columns)), engine="python")
    except Exception as exc:  # noqa: BLE001 - reported as a config error naming the segment
        raise ConfigError(f"segment {name!r} ({query!r}) cannot be evaluated: {type(exc).__name__}: {exc}") from None
    return pd.Series(res, index=df.index).fillna(False).to_numpy(dtype=bool)


def _fit_predict(train: pd.DataFrame, test: pd.DataFrame, schema, seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """HistGradientBoosting (as bench.metrics.utility) fit on ``train``; (labels, probas, classes) on ``test``."""
    y_col = schema.target
    tr = train[train[y_col].notna()]
    feats = feature_columns(schema)
    Xtr, Xte = _prepare([tr, test], schema, feats)
    clf, native = _model("hgb", Xtr, seed)
    clf.fit(_encode_for("hgb", Xtr, native), tr[y_col].astype(str).to_numpy())
    Xe = _encode_for("hgb", Xte, native)
    return clf.predict(Xe), clf.predict_proba(Xe), list(clf.classes_)


def segments_family(ctx: EvalContext, cfg: Any) -> list[dict]:
    """Per named segment: frequency ratio, column shapes and TSTR/TRTR on the segment.

    Segments come from ``schema.segments`` plus ``extra`` (a mapping name ->
    pandas query, or dataset name -> mapping). Utility models are trained on
    the whole synthetic table (TSTR) and the whole real training split (TRTR)
    and tested on the real holdout rows in the segment: accuracy always, ROC
    AUC when the segment holds both classes.
    Settings: ``n_bootstrap`` (200), ``min_rows`` (20: fewer synthetic rows in
    the segment gives no column shapes), ``utility`` (true).
    """
    schema = ctx.schema
    segs = dict(schema.segments)
    extra = _get(cfg, "extra", {}) or {}
    extra = dict(extra)
    if ctx.dataset.name in extra and isinstance(extra[ctx.dataset.name], dict):
        extra = dict(extra[ctx.dataset.name])
    segs.update({k: v for k, v in extra.items() if isinstance(v, str)})
    if not segs:
        return []
    train, syn, hold = ctx.splits.train, ctx.synthetic, ctx.splits.holdout
    n_boot = int(_get(cfg, "n_bootstrap", 200))
    min_rows = int(_get(cfg, "min_rows", 20))
    rng = _rng(ctx, 4)
    rows, rec = [], {}
    do_util = bool(_get(cfg, "utility", True)) and schema.target is not None and hold is not None and len(hold) > 0
    preds = {}
    if do_util:
        syn_ok = syn[schema.target].dropna().nunique() >= 2
        if syn_ok:
            preds["tstr"] = _fit_predict(syn, hold, schema, ctx.seed)
        preds["trtr"] = _fit_predict(train, hold, schema, ctx.seed)
        yh = hold[schema.target].astype(str).to_numpy()
        counts = pd.Series(yh).value_counts()
        pos = counts.idxmin()
    for name, query in segs.items():
        mr = _segment_mask(train, name, query, schema)
        ms = _segment_mask(syn, name, query, schema)
        fr, fs = float(mr.mean()), float(ms.mean())
        ratio = fs / fr if fr > 0 else float("nan")
        lo = hi = np.nan
        if n_boot >= 2 and fr > 0:
            reps = []
            for _ in range(n_boot):
                a = mr[_resample_idx(rng, len(mr))].mean()
                b = ms[_resample_idx(rng, len(ms))].mean()
                reps.append(symmetric_ratio(b / a) if a > 0 else np.nan)
            lo, hi = normal_interval(symmetric_ratio(ratio), reps, lower=0.0, upper=1.0)
        rows.append(
            metric(
                "fidelity",
                "fidelity.segment_frequency_ratio",
                symmetric_ratio(ratio),
                "maximize",
                subgroup=name,
                ci_low=lo,
                ci_high=hi,
            )
        )
        info = {
            "query": query,
            "real_rows": int(mr.sum()),
            "real_frequency": fr,
            "synthetic_rows": int(ms.sum()),
            "synthetic_frequency": fs,
            "frequency_ratio": ratio,
        }
        if mr.sum() >= 1 and ms.sum() >= min_rows:
            sh = column_shapes(train[mr], syn[ms], schema)
            rows.append(metric("fidelity", "fidelity.column_shapes", sh["score"].mean(), "maximize", subgroup=name))
        if do_util:
            mh = _segment_mask(hold, name, query, schema)
            info["holdout_rows"] = int(mh.sum())
            if mh.sum() > 0:
                y = yh[mh]
                for kind, (pred, proba, classes) in preds.items():
                    rows.append(
                        metric(
                            "utility",
                            f"utility.{kind}_accuracy",
                            float((pred[mh] == y).mean()),
                            "maximize",
                            subgroup=name,
                        )
                    )
                    if len(set(y)) == 2 and len(set(yh)) == 2:
                        score = proba[mh, classes.index(pos)] if pos in classes else np.zeros(int(mh.sum()))
                        from sklearn.metrics import roc_auc_score

                        rows.append(
                            metric(
                                "utility",
                                f"utility.{kind}_auc",
                                float(roc_auc_score(y == pos, score)),
                                "maximize",
                                subgroup=name,
                            )
                        )
        rec[name] = info
    ctx.run_record()["segments"] = rec
    return rows


# ----------------------------------------------------------------- the table
# name -> (the family: a callable or "module:function", the settings section it reads,
# what it needs beyond train and synthetic). Order = run order; the attack families are
# named by path so that this module imports none of attacks/ (which imports
# bench.metrics), keeping the import graph acyclic.
FAMILIES: dict[str, tuple[Family | str, str, tuple[str, ...]]] = {
    "fidelity": (fidelity_family, "fidelity", ()),
    "utility": (utility_family, "utility", ("holdout",)),
    "detection": (detection_family, "detection", ()),
    "association": (association_family, "association", ()),
    "validity": (validity_family, "validity", ()),
    "missingness": (missingness_family, "missingness", ()),
    "tails": (tails_family, "tails", ()),
    "segments": (segments_family, "segments", ()),
    "attacks": ("attacks.run:attack_metrics", "attacks", ("holdout", "reference")),
    "audit": ("attacks.audit:audit_metrics", "attacks", ("reference", "generator_factory")),
}
# A family is on when its section's `enabled` is true; the audit shares the attacks section
# and is switched by its own block (off unless attacks=full).
SWITCHES = {"audit": ("shadow", "enabled", False)}
NEEDS = {
    "holdout": "real holdout rows (non-members: the TSTR test set and the attacks' non-members)",
    "reference": "real reference rows (the attacker's population sample)",
    "generator_factory": "the generator itself (shadow games refit it)",
}


def missing_needs(ctx: EvalContext, needs: tuple[str, ...]) -> list[str]:
    """Which of a family's needs ``ctx`` lacks (an empty holdout/reference split, no generator factory)."""
    out = []
    for need in needs:
        if need == "generator_factory":
            if ctx.generator_factory is None:
                out.append(need)
        elif getattr(ctx.splits, need) is None or len(getattr(ctx.splits, need)) == 0:
            out.append(need)
    return out


def families() -> dict[str, tuple[Family | str, str, tuple[str, ...]]]:
    """:data:`FAMILIES` plus the families outside packages register under :data:`ENTRY_POINT_GROUP`
    (settings section = the entry point's name; they need nothing beyond train and synthetic)."""
    out = dict(FAMILIES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, (f"{ep.value}", ep.name, ()))
    return out


def resolve(name: str, ref: Family | str) -> Family:
    """The callable of a family entry.

    Raises:
        ConfigError: the module or function cannot be imported, naming the family.
    """
    if callable(ref):
        return ref
    mod, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"metric family {name!r} ({ref}) cannot be imported: {type(exc).__name__}: {exc}") from None


def score(ctx: EvalContext, settings: dict[str, Any]) -> tuple[list[dict], dict[str, str], dict[str, float]]:
    """Run every family whose settings section is present and enabled.

    A family whose needs ``ctx`` lacks (no holdout split, say, when scoring a
    table from another tool without one) is skipped, with the reason in the
    run record (``ctx.run_record()["skipped"]``) and in the log.

    Args:
        ctx: the run's context.
        settings: section name -> its config (``enabled: false`` skips the
            families reading it). Every key must be the section of a known family.
    Returns:
        ``(rows, errors, timings)``: metric rows, ``{family: error}`` for
        families that failed, and ``{family: seconds}``.
    Raises:
        ConfigError: a settings section no family reads (a typo such as
            ``evaluation.detecton``), or a family that cannot be imported.
    """
    table = families()
    sections = {sec for _, sec, _ in table.values()}
    unknown = sorted(set(settings) - sections)
    if unknown:
        raise ConfigError(
            f"unknown metric family setting(s) {unknown}; families: {sorted(table)} "
            f"(settings sections: {sorted(sections)})"
        )
    rows, errors, timings = [], {}, {}
    for name, (ref, sec, needs) in table.items():
        cfg = settings.get(sec)
        if cfg is None or not _get(cfg, "enabled", True):
            continue
        if name in SWITCHES:
            block, key, default = SWITCHES[name]
            if not _get(_get(cfg, block, {}), key, default):
                continue
        lacking = missing_needs(ctx, needs)
        if lacking:
            why = "needs " + "; ".join(NEEDS[n] for n in lacking)
            ctx.run_record().setdefault("skipped", {})[name] = why
            log.info("metric family %s skipped: %s", name, why)
            continue
        fn = resolve(name, ref)
        t0 = time.perf_counter()
        try:
            rows.extend(fn(ctx, cfg))
        except Exception as exc:  # noqa: BLE001 - one family failing must not lose the others
            log.warning("metric family %s failed: %s: %s", name, type(exc).__name__, exc)
            errors[name] = f"{type(exc).__name__}: {exc}"
        timings[name] = time.perf_counter() - t0
    return rows, errors, timings


__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "NEEDS",
    "missing_needs",
    "missingness_family",
    "association_family",
    "bin_subgroup",
    "detection_family",
    "families",
    "fidelity_family",
    "resolve",
    "score",
    "segments_family",
    "tails_family",
    "utility_family",
    "validity_family",
]
