"""The ``attacks`` metric family: every privacy attack of one run, as metric rows.

The family (listed in :data:`bench.metrics.families.FAMILIES`) receives the
run's ``attacks`` config (``conf/attacks/default.yaml``; defaults and checks in
:mod:`attacks.settings`). Each part (distance diagnostics, membership
inference, anonymeter) runs on its own: one failing is recorded in the run
record under ``attacks.errors`` and the others still report.

Metric keys (family ``privacy``; subgroups ``all`` / ``outliers`` / ``typical``).
Each row carries its interval (``ci_low``, ``ci_high``); the null level a
generator that ignores who was a member would read, with its standard error,
goes to the run record (``attacks.nulls``) for the controls and the report.

==========================================  =========  ====================================
key                                         direction  meaning (null level)
==========================================  =========  ====================================
privacy.mia_auc                             minimize   AUC of the headline MIA, chosen on held-out targets (0.5)
privacy.mia_auc.<attack>                    minimize   AUC of each attack on all targets (0.5)
privacy.mia_tpr_at_fpr_<a>                  minimize   TPR at FPR a of the attack chosen for it (a)
privacy.mia_auc_outlier_gap                 none       AUC(outliers) - AUC(typical), headline attack, with interval
privacy.dcr_member_share                    minimize   closest real record is a member, size-normalised (0.5)
privacy.exact_match_rate_train              minimize   synthetic rows identical to a training row (its _null)
privacy.exact_match_rate_train_null         none       the same rate expected without memorisation
privacy.exact_match_rate_holdout            none       synthetic rows identical to a holdout row
privacy.singling_out_risk[.<mode>]          minimize   anonymeter (max over modes for the headline) (0)
privacy.linkability_risk                    minimize   anonymeter (0)
privacy.inference_risk[.<column>]           minimize   anonymeter (max over sensitive columns) (0)
privacy.<risk>_baseline                     none       random-guess attacker's success rate
privacy.<risk>_below_baseline               none       1 = attack no better than random: risk not meaningful
privacy.<risk>_few_queries                  none       1 = fewer singling-out predicates than attacks: underestimate
==========================================  =========  ====================================
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from attacks import anonymeter as anon
from attacks.distance import TableEncoder, closest_record_share
from attacks.membership import auc_standard_error, membership_inference
from attacks.settings import settings
from attacks.targets import OutlierModel, fit_outliers
from bench.errors import ConfigError
from bench.metrics.context import EvalContext
from bench.metrics.intervals import wilson_interval
from bench.results import metric

log = logging.getLogger(__name__)


# --------------------------------------------------------------------- family
def attack_metrics(ctx: EvalContext, cfg: Mapping[str, Any] | None) -> list[dict]:
    """Run the configured attacks on ``ctx`` and return metric rows.

    Args:
        ctx: the run's context (train = members, holdout = non-members and
            anonymeter control, reference = attacker's population sample).
        cfg: the ``attacks`` config (see :data:`attacks.settings.DEFAULTS`).
    Returns:
        Metric rows (family ``privacy``). Run-level details (sizes, headline
        attack, outlier threshold, vulnerable records by row index, anonymeter
        warnings, timings, errors) go to ``ctx.cache["run_record"]["attacks"]``;
        the full per-record scores (row index, no values) to
        ``ctx.cache["attacks"]``.
    Raises:
        ConfigError: invalid settings.
        RuntimeError: every enabled part failed (the errors are in the message).
    """
    s = settings(cfg)
    seed = int(ctx.seed) + int(s["seed_offset"])
    sch = ctx.schema
    train, holdout, reference = ctx.splits.train, ctx.splits.holdout, ctx.splits.reference
    syn = ctx.synthetic
    info: dict[str, Any] = {"timings_s": {}, "errors": {}, "nulls": {}}
    results: dict[str, Any] = {}
    rows: list[dict] = []

    t0 = time.perf_counter()
    encoder = TableEncoder(sch).fit(reference)
    outliers = fit_outliers(
        train,
        sch,
        k=s["targets"]["k"],
        quantile=s["targets"]["quantile"],
        method=s["targets"]["method"],
        encoder=encoder,
        seed=seed,
    )
    holdout_scores = outliers.score(holdout)
    info["timings_s"]["targets"] = time.perf_counter() - t0
    info["targets"] = {
        "method": outliers.method,
        "k": outliers.k,
        "quantile": outliers.quantile,
        "threshold": outliers.threshold,
        "n_outliers_train": len(outliers.outliers),
        "n_train": len(train),
        "n_outliers_holdout": int((holdout_scores >= outliers.threshold).sum()),
    }
    results["outliers"] = outliers

    parts = []
    if s["distance"]["enabled"]:
        parts.append(("distance", lambda: _distance_rows(train, holdout, syn, sch, s["distance"], seed, info)))
    if s["membership"]["enabled"]:
        parts.append(
            (
                "membership",
                lambda: _membership_rows(
                    train,
                    holdout,
                    reference,
                    syn,
                    sch,
                    s["membership"],
                    outliers,
                    holdout_scores,
                    encoder,
                    seed,
                    info,
                    results,
                ),
            )
        )
    if s["anonymeter"]["enabled"]:
        parts.append(
            (
                "anonymeter",
                lambda: _anonymeter_rows(
                    train, holdout, reference, syn, sch, s["anonymeter"], outliers, holdout_scores, seed, info
                ),
            )
        )
    for name, fn in parts:
        t0 = time.perf_counter()
        try:
            rows.extend(fn())
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - one attack failing must not lose the others
            log.warning("attack %s failed: %s: %s", name, type(exc).__name__, exc)
            info["errors"][name] = f"{type(exc).__name__}: {exc}"
        info["timings_s"][name] = time.perf_counter() - t0
    if parts and len(info["errors"]) == len(parts):
        raise RuntimeError(f"every attack failed: {info['errors']}")
    rows = _drop_unresolvable(rows, info)
    ctx.cache["attacks"] = results
    ctx.cache.setdefault("run_record", {})["attacks"] = info
    return rows


MAX_NULL_BAND = 0.5  # a reading is shown only when its null band is narrower than half the metric's [0, 1] range


def _drop_unresolvable(rows: list[dict], info: dict[str, Any]) -> list[dict]:
    """Blank the readings whose null band is too wide to separate anything (NaN, listed in the record).

    A metric read on too few records (a small subgroup, a high base rate that
    anonymeter's ``1 / (1 - control rate)`` normalisation amplifies) has a null
    band of ``TOLERANCE_SE`` standard errors; when that band is
    :data:`MAX_NULL_BAND` or wider, even the identity generator could not be
    told from Faker, so the number is not shown (``attacks.unresolvable``
    says which, with the band).
    """
    from attacks.controls import TOLERANCE_SE

    wide = {k: v for k, v in info["nulls"].items() if TOLERANCE_SE * v["se"] >= MAX_NULL_BAND}
    info["unresolvable"] = [
        {"metric": v["metric"], "subgroup": v["subgroup"], "null_band": TOLERANCE_SE * v["se"]} for v in wide.values()
    ]
    if not wide:
        return rows
    out = []
    for r in rows:
        if f"{r['metric']}[{r['subgroup']}]" in wide:
            r = {**r, "value": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
        out.append(r)
    return out


def _null(info: dict[str, Any], key: str, subgroup: str, level: float, se: float) -> None:
    """Record a metric's null level (what a generator that ignores membership reads) and its SE."""
    info["nulls"][f"{key}[{subgroup}]"] = {"metric": key, "subgroup": subgroup, "null": float(level), "se": float(se)}


def _distance_rows(train, holdout, syn, sch, cfg, seed, info) -> list[dict]:
    d = closest_record_share(
        train=train, holdout=holdout, synthetic=syn, schema=sch, max_rows=cfg["max_rows"], seed=seed
    )
    info["distance"] = {k: d[k] for k in ("n_synthetic", "n_train", "n_holdout")}
    _null(info, "privacy.dcr_member_share", "all", 0.5, d["null_se"])
    _null(info, "privacy.exact_match_rate_train", "all", d["exact_match_rate_train_null"], d["exact_match_null_se"])
    lo, hi = d["exact_match_rate_train_ci"]
    return [
        metric("privacy", "privacy.dcr_member_share", d["share"], "minimize", "all", d["ci_low"], d["ci_high"]),
        metric("privacy", "privacy.exact_match_rate_train", d["exact_match_rate_train"], "minimize", "all", lo, hi),
        metric("privacy", "privacy.exact_match_rate_train_null", d["exact_match_rate_train_null"], "none"),
        metric("privacy", "privacy.exact_match_rate_holdout", d["exact_match_rate_holdout"], "none"),
    ]


def _fpr_key(a: float) -> str:
    return f"privacy.mia_tpr_at_fpr_{a:g}"


def _membership_rows(
    train, holdout, reference, syn, sch, cfg, outliers: OutlierModel, holdout_scores, encoder, seed, info, results
) -> list[dict]:
    dm = cfg["domias"]
    r = membership_inference(
        train=train,
        holdout=holdout,
        reference=reference,
        synthetic=syn,
        schema=sch,
        attacks=cfg["attacks"],
        n_targets=cfg["n_targets"],
        outliers=outliers,
        encoder=encoder,
        headline=cfg["headline"],
        fprs=cfg["fprs"],
        density=dm["density"],
        bandwidth=dm["bandwidth"],
        n_components=dm["n_components"],
        holdout_scores=holdout_scores,
        seed=seed,
    )
    results["membership"] = r
    rows = []
    for attack, groups in r.summary.items():
        for g, sm in groups.items():
            lo, hi = sm["auc_ci"]
            rows.append(metric("privacy", f"privacy.mia_auc.{attack}", sm["auc"], "minimize", g, lo, hi))
            _null(
                info, f"privacy.mia_auc.{attack}", g, 0.5, auc_standard_error(0.5, sm["n_members"], sm["n_nonmembers"])
            )
    for g, sm in r.headline_summary.items():
        lo, hi = sm["auc_ci"]
        rows.append(metric("privacy", "privacy.mia_auc", sm["auc"], "minimize", g, lo, hi))
        _null(info, "privacy.mia_auc", g, 0.5, auc_standard_error(0.5, sm["n_members"], sm["n_nonmembers"]))
        for a, tpr in r.headline_tpr[g].items():
            n1, n0 = sm["n_members"], sm["n_nonmembers"]
            tlo, thi = wilson_interval(tpr * n1, n1) if tpr == tpr else (float("nan"),) * 2
            rows.append(metric("privacy", _fpr_key(a), tpr, "minimize", g, tlo, thi))
            if a * n0 >= 1:  # null: the TPR equals the FPR, up to both classes' sampling error
                _null(info, _fpr_key(a), g, a, math.sqrt(a * (1 - a) * (1 / n1 + 1 / n0)))
    gap, glo, ghi = r.gap()
    rows.append(metric("privacy", "privacy.mia_auc_outlier_gap", gap, "none", "all", glo, ghi))
    info["membership"] = {
        "headline": r.headline,
        "selection": r.selection,
        "tpr_attacks": {f"{a:g}": att for a, att in r.tpr_attacks.items()},
        "n_members": r.summary[r.headline]["all"]["n_members"],
        "n_nonmembers": r.summary[r.headline]["all"]["n_nonmembers"],
        "report_sizes": {g: [v["n_members"], v["n_nonmembers"]] for g, v in r.headline_summary.items()},
        "selection_note": (
            "privacy.mia_auc and the TPRs come from the report half of the targets; the attack "
            "for each was chosen on the other half"
            if r.selection == "held-out"
            else "the headline attack is fixed in advance and reported on all targets"
        ),
        "tpr_note": "TPR at FPR a is NaN when a * n_nonmembers < 1 (FPR finer than one false positive)",
        "vulnerable_records": r.vulnerable(int(cfg["n_vulnerable"])),
        "notes": r.notes,
    }
    return rows


def _risk_key(name: str) -> str:
    """anonymeter risk name -> metric key.

    ``singling_out.multivariate`` -> ``privacy.singling_out_risk.multivariate``.
    """
    return "privacy." + name.replace("singling_out.", "singling_out_risk.").replace(
        "linkability", "linkability_risk"
    ).replace("inference.", "inference_risk.")


def _anonymeter_rows(
    train, holdout, reference, syn, sch, cfg, outliers: OutlierModel, holdout_scores, seed, info
) -> list[dict]:
    so, lk, inf = cfg["singling_out"], cfg["linkability"], cfg["inference"]
    skip = [n for n, c in (("singling_out", so), ("linkability", lk), ("inference", inf)) if not c["enabled"]]
    # control = every non-member (holdout and reference: records the generator never saw), so that the
    # equal-sized ori/control pairs are as large as the splits allow (subgroups are small on small tables)
    control = pd.concat([holdout, reference])
    ctl_labels = outliers.label(pd.concat([holdout_scores, outliers.score(reference)]))
    link_a, link_b, link_source = anon.linkability_columns(sch, reference, lk["columns"])
    all_risks: list[anon.Risk] = []
    errors: dict[str, str] = {}
    sizes = {}
    for g in cfg["subgroups"]:
        if g == "all":
            ori, ctl = train, control
        else:
            ids = outliers.outliers if g == "outliers" else outliers.typical
            ori, ctl = train.loc[ids], control[(ctl_labels == g).to_numpy()]
        n_eq = min(len(ori), len(ctl))
        sizes[g] = {"train": len(ori), "non_members": len(ctl), "used_each": n_eq}
        if n_eq < 10:
            errors[f"*[{g}]"] = f"subgroup too small for anonymeter: {len(ori)} train / {len(ctl)} non-member records"
            continue
        # singling-out predicates come from the whole synthetic table, not from the subgroup's records:
        # on a subgroup it cannot tell identity from faker (fair outliers: 0.04 vs 0.06), so it runs on `all`
        sub_skip = skip if g == "all" else sorted(set(skip) | {"singling_out"})
        risks, errs = anon.anonymeter_risks(
            train=ori,
            holdout=ctl,
            synthetic=syn,
            schema=sch,
            subgroup=g,
            modes=so["modes"],
            so_n_attacks=so["n_attacks"],
            so_n_cols=so["n_cols"],
            so_max_attempts=so["max_attempts"],
            link_n_attacks=lk["n_attacks"],
            link_n_neighbors=lk["n_neighbors"],
            link_columns=(link_a, link_b),
            inf_n_attacks=inf["n_attacks"],
            inf_aux=inf["aux"],
            confidence_level=cfg["confidence_level"],
            seed=seed,
            skip=sub_skip,
        )
        all_risks.extend(risks)
        errors.update(errs)
    rows = []
    for r in all_risks:
        base = _risk_key(r.name)
        rows.append(metric("privacy", base, r.value, "minimize", r.subgroup, r.ci_low, r.ci_high))
        rows.append(metric("privacy", base + "_baseline", r.baseline_rate, "none", r.subgroup))
        rows.append(metric("privacy", base + "_below_baseline", float(r.below_baseline), "none", r.subgroup))
        if r.name.startswith("singling_out."):
            rows.append(metric("privacy", base + "_few_queries", float(r.few_queries), "none", r.subgroup))
        _null(info, base, r.subgroup, 0.0, r.null_se)
    # Headlines: the worst case over singling-out modes and over sensitive columns.
    for head, prefix in (("privacy.singling_out_risk", "singling_out."), ("privacy.inference_risk", "inference.")):
        for g in cfg["subgroups"]:
            cand = [r for r in all_risks if r.name.startswith(prefix) and r.subgroup == g]
            if cand:
                w = max(cand, key=lambda r: r.value)
                rows.append(metric("privacy", head, w.value, "minimize", g, w.ci_low, w.ci_high))
                rows.append(metric("privacy", head + "_below_baseline", float(w.below_baseline), "none", g))
                if prefix == "singling_out.":
                    rows.append(metric("privacy", head + "_few_queries", float(w.few_queries), "none", g))
                _null(info, head, g, 0.0, max(r.null_se for r in cand))
    info["anonymeter"] = {
        "sizes": sizes,
        "size_note": "ori (training records) and control (non-members: holdout + reference records) are cut to "
        "the same size, used_each",
        "linkability_columns": {"a": link_a, "b": link_b, "source": link_source},
        "risks": [{k: v for k, v in r.to_dict().items()} for r in all_risks],
        "errors": errors,
    }
    if not all_risks and errors:
        raise RuntimeError(f"every anonymeter evaluation failed: {errors}")
    return rows
