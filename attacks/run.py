"""The ``attacks`` metric family: every privacy attack of one run, as metric rows.

Importing this module registers the family with
:func:`bench.evaluate.register_family`; :func:`bench.evaluate.evaluate`
imports it automatically and passes the run's ``attacks`` config
(``conf/attacks/default.yaml``). Each part (distance diagnostics, membership
inference, anonymeter) runs on its own: one failing is recorded in the run
record under ``attacks.errors`` and the others still report.

Metric keys (family ``privacy``; subgroups ``all`` / ``outliers`` / ``typical``):

==========================================  =========  ====================================
key                                         direction  meaning
==========================================  =========  ====================================
privacy.mia_auc                             minimize   ROC AUC of the headline MIA (CI: Hanley-McNeil 95%)
privacy.mia_auc.<attack>                    minimize   AUC of each attack (dcr, dcr_diff, domias)
privacy.mia_tpr_at_fpr_<a>                  minimize   TPR of the headline attack at FPR a
privacy.mia_auc_outlier_gap                 minimize   AUC(outliers) - AUC(typical), headline attack
privacy.dcr_share_closer_to_train           minimize   SDMetrics DCROverfittingProtection share
privacy.dcr_overfitting_protection          maximize   SDMetrics DCROverfittingProtection score
privacy.nndr / privacy.nndr_holdout         maximize   median NNDR of synthetic rows vs train / holdout
privacy.exact_match_rate_train / _holdout   minimize   identical-match share vs train / holdout
privacy.singling_out_risk[.<mode>]          minimize   anonymeter (max over modes for the headline)
privacy.linkability_risk                    minimize   anonymeter
privacy.inference_risk[.<column>]           minimize   anonymeter (max over sensitive columns)
privacy.<risk>_baseline                     minimize   random-guess attacker's success rate
privacy.<risk>_below_baseline               minimize   1 = attack no better than random: risk not meaningful
==========================================  =========  ====================================
"""

from __future__ import annotations

import logging
import time
from copy import deepcopy
from typing import Any, Mapping

import numpy as np

from attacks import anonymeter as anon
from attacks.distance import TableEncoder, distance_diagnostics
from attacks.membership import ATTACKS, membership_inference
from attacks.targets import METHODS, SUBGROUPS, OutlierModel, fit_outliers
from bench.errors import ConfigError
from bench.evaluate import EvalContext, register_family
from bench.results import metric

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "seed_offset": 0,
    "targets": {"method": "knn", "k": 5, "quantile": 0.95},
    "distance": {"enabled": True, "max_rows": 5000},
    "membership": {
        "enabled": True,
        "attacks": list(ATTACKS),
        "n_targets": 5000,
        "headline": "best",
        "fprs": [0.001, 0.01, 0.1],
        "n_vulnerable": 10,
        "domias": {"density": "kde", "bandwidth": "nn", "bandwidth_factor": 0.1, "kde_neighbors": 64,
                   "n_components": 10},
    },
    "anonymeter": {
        "enabled": True,
        "subgroups": ["all", "outliers"],
        "confidence_level": 0.95,
        "singling_out": {"enabled": True, "modes": ["univariate", "multivariate"], "n_attacks": 200,
                         "n_cols": 5, "max_attempts": 10000},
        "linkability": {"enabled": True, "n_attacks": 200, "n_neighbors": 1},
        "inference": {"enabled": True, "n_attacks": 300, "aux": "quasi_identifiers"},
    },
}


def settings(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attack settings: ``cfg`` over :data:`DEFAULTS`, checked.

    Raises:
        ConfigError: unknown keys or invalid values, naming the setting.
    """
    out = deepcopy(DEFAULTS)
    merge_settings(out, plain_config(cfg or {}), "attacks")
    t = out["targets"]
    if t["method"] not in METHODS:
        raise ConfigError(f"attacks.targets.method must be one of {METHODS}, got {t['method']!r}")
    m = out["membership"]
    bad = [a for a in m["attacks"] if a not in ATTACKS]
    if bad or not m["attacks"]:
        raise ConfigError(f"attacks.membership.attacks must be a non-empty subset of {ATTACKS}, got {m['attacks']}")
    if m["headline"] != "best" and m["headline"] not in m["attacks"]:
        raise ConfigError(f"attacks.membership.headline must be 'best' or one of {m['attacks']}, "
                          f"got {m['headline']!r}")
    if not isinstance(m["n_vulnerable"], int) or m["n_vulnerable"] < 0:
        raise ConfigError(f"attacks.membership.n_vulnerable must be an integer >= 0, got {m['n_vulnerable']!r}")
    a = out["anonymeter"]
    bad = [g for g in a["subgroups"] if g not in SUBGROUPS]
    if bad:
        raise ConfigError(f"attacks.anonymeter.subgroups must be among {SUBGROUPS}, got {bad}")
    bad = [md for md in a["singling_out"]["modes"] if md not in anon.MODES]
    if bad:
        raise ConfigError(f"attacks.anonymeter.singling_out.modes must be among {anon.MODES}, got {bad}")
    if a["inference"]["aux"] not in ("quasi_identifiers", "all"):
        raise ConfigError(f"attacks.anonymeter.inference.aux must be quasi_identifiers or all, "
                          f"got {a['inference']['aux']!r}")
    for path, v in (("membership.n_targets", m["n_targets"]), ("distance.max_rows", out["distance"]["max_rows"]),
                    ("anonymeter.singling_out.n_attacks", a["singling_out"]["n_attacks"]),
                    ("anonymeter.linkability.n_attacks", a["linkability"]["n_attacks"]),
                    ("anonymeter.inference.n_attacks", a["inference"]["n_attacks"])):
        if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 10):
            raise ConfigError(f"attacks.{path} must be an integer >= 10 (or null), got {v!r}")
    return out


def register_section(name: str, defaults: Mapping[str, Any]) -> None:
    """Let another family own a block of the ``attacks`` config.

    :func:`settings` rejects unknown keys; a family that reads its own block
    of the same config (``attacks/audit.py``: ``shadow`` and ``audit``)
    registers it here with its defaults, so :func:`settings` accepts and merges
    it. The owner validates the values; the attacks family ignores them.
    """
    DEFAULTS.setdefault(name, deepcopy(dict(defaults)))


def plain_config(cfg: Any) -> dict[str, Any]:
    """``cfg`` (an OmegaConf DictConfig or a mapping) as plain, resolved dicts."""
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return dict(cfg)


def merge_settings(base: dict[str, Any], over: Mapping[str, Any], path: str) -> None:
    """Merge ``over`` into ``base`` in place, recursing into dicts.

    Raises:
        ConfigError: a key of ``over`` that ``base`` does not have, named by its
            dotted ``path`` (e.g. ``attacks.membership.n_target``).
    """
    for k, v in over.items():
        if k not in base:
            raise ConfigError(f"{path}.{k} is not a known setting; known: {sorted(base)}")
        if isinstance(base[k], dict) and isinstance(v, Mapping):
            merge_settings(base[k], v, f"{path}.{k}")
        else:
            base[k] = v


# --------------------------------------------------------------------- family
def attack_metrics(ctx: EvalContext, cfg: Mapping[str, Any] | None) -> list[dict]:
    """Run the configured attacks on ``ctx`` and return metric rows.

    Args:
        ctx: the run's context (train = members, holdout = non-members and
            anonymeter control, reference = attacker's population sample).
        cfg: the ``attacks`` config (see :data:`DEFAULTS`).
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
    info: dict[str, Any] = {"timings_s": {}, "errors": {}}
    results: dict[str, Any] = {}
    rows: list[dict] = []

    t0 = time.perf_counter()
    encoder = TableEncoder(sch).fit(reference)
    outliers = fit_outliers(train, sch, k=s["targets"]["k"], quantile=s["targets"]["quantile"],
                            method=s["targets"]["method"], encoder=encoder, seed=seed)
    holdout_scores = outliers.score(holdout)
    info["timings_s"]["targets"] = time.perf_counter() - t0
    info["targets"] = {"method": outliers.method, "k": outliers.k, "quantile": outliers.quantile,
                       "threshold": outliers.threshold, "n_outliers_train": len(outliers.outliers),
                       "n_train": len(train),
                       "n_outliers_holdout": int((holdout_scores >= outliers.threshold).sum())}
    results["outliers"] = outliers

    parts = []
    if s["distance"]["enabled"]:
        parts.append(("distance", lambda: _distance_rows(train, holdout, syn, sch, s["distance"], seed, info)))
    if s["membership"]["enabled"]:
        parts.append(("membership", lambda: _membership_rows(train, holdout, reference, syn, sch, s["membership"],
                                                             outliers, holdout_scores, encoder, seed, info,
                                                             results)))
    if s["anonymeter"]["enabled"]:
        parts.append(("anonymeter", lambda: _anonymeter_rows(train, holdout, syn, sch, s["anonymeter"],
                                                             outliers, holdout_scores, seed, info)))
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
    ctx.cache["attacks"] = results
    ctx.cache.setdefault("run_record", {})["attacks"] = info
    return rows


def _distance_rows(train, holdout, syn, sch, cfg, seed, info) -> list[dict]:
    d = distance_diagnostics(train, holdout, syn, sch, max_rows=cfg["max_rows"], seed=seed)
    info["distance"] = {"n_per_table": d["n"]}
    return [
        metric("privacy", "privacy.dcr_share_closer_to_train", d["share_closer_to_train"], "minimize"),
        metric("privacy", "privacy.dcr_overfitting_protection", d["dcr_overfitting_protection"], "maximize"),
        metric("privacy", "privacy.nndr", d["nndr_train"], "maximize"),
        metric("privacy", "privacy.nndr_holdout", d["nndr_holdout"], "maximize"),
        metric("privacy", "privacy.exact_match_rate_train", d["exact_match_rate_train"], "minimize"),
        metric("privacy", "privacy.exact_match_rate_holdout", d["exact_match_rate_holdout"], "minimize"),
    ]


def _fpr_key(a: float) -> str:
    return f"privacy.mia_tpr_at_fpr_{a:g}"


def _membership_rows(train, holdout, reference, syn, sch, cfg, outliers: OutlierModel, holdout_scores,
                     encoder, seed, info, results) -> list[dict]:
    dm = cfg["domias"]
    r = membership_inference(train, holdout, reference, syn, sch, attacks=cfg["attacks"],
                             n_targets=cfg["n_targets"], outliers=outliers, encoder=encoder,
                             headline=cfg["headline"], fprs=cfg["fprs"], density=dm["density"],
                             bandwidth=dm["bandwidth"], bandwidth_factor=dm["bandwidth_factor"],
                             kde_neighbors=dm["kde_neighbors"], n_components=dm["n_components"],
                             holdout_scores=holdout_scores, seed=seed)
    results["membership"] = r
    rows = []
    for attack, groups in r.summary.items():
        for g, sm in groups.items():
            lo, hi = sm["auc_ci"]
            rows.append(metric("privacy", f"privacy.mia_auc.{attack}", sm["auc"], "minimize", g, lo, hi))
            if attack == r.headline:
                rows.append(metric("privacy", "privacy.mia_auc", sm["auc"], "minimize", g, lo, hi))
                for a, tpr in sm["tpr"].items():
                    rows.append(metric("privacy", _fpr_key(a), tpr, "minimize", g))
    rows.append(metric("privacy", "privacy.mia_auc_outlier_gap", r.gap(), "minimize"))
    all_ = r.summary[r.headline]["all"]
    info["membership"] = {
        "headline": r.headline,
        "n_members": all_["n_members"], "n_nonmembers": all_["n_nonmembers"],
        "subgroup_sizes": {g: [v["n_members"], v["n_nonmembers"]] for g, v in r.summary[r.headline].items()},
        "tpr_note": "TPR at FPR a is NaN when a * n_nonmembers < 1 (FPR finer than one false positive)",
        "vulnerable_records": r.vulnerable(int(cfg["n_vulnerable"])),
        "notes": r.notes,
    }
    return rows


def _anonymeter_rows(train, holdout, syn, sch, cfg, outliers: OutlierModel, holdout_scores, seed,
                     info) -> list[dict]:
    so, lk, inf = cfg["singling_out"], cfg["linkability"], cfg["inference"]
    skip = [n for n, c in (("singling_out", so), ("linkability", lk), ("inference", inf)) if not c["enabled"]]
    hold_labels = outliers.label(holdout_scores)
    all_risks: list[anon.Risk] = []
    errors: dict[str, str] = {}
    sizes = {}
    for g in cfg["subgroups"]:
        if g == "all":
            ori, ctl = train, holdout
        else:
            ids = outliers.outliers if g == "outliers" else outliers.typical
            ori, ctl = train.loc[ids], holdout[(hold_labels == g).to_numpy()]
        sizes[g] = [len(ori), len(ctl)]
        if len(ori) < 10 or len(ctl) < 10:
            errors[f"*[{g}]"] = f"subgroup too small for anonymeter: {len(ori)} train / {len(ctl)} holdout records"
            continue
        risks, errs = anon.anonymeter_risks(
            ori, syn, ctl, sch, subgroup=g, modes=so["modes"], so_n_attacks=so["n_attacks"],
            so_n_cols=so["n_cols"], so_max_attempts=so["max_attempts"], link_n_attacks=lk["n_attacks"],
            link_n_neighbors=lk["n_neighbors"], inf_n_attacks=inf["n_attacks"], inf_aux=inf["aux"],
            confidence_level=cfg["confidence_level"], seed=seed, skip=skip)
        all_risks.extend(risks)
        errors.update(errs)
    rows = []
    for r in all_risks:
        base = "privacy." + r.name.replace("singling_out.", "singling_out_risk.").replace(
            "linkability", "linkability_risk").replace("inference.", "inference_risk.")
        rows.append(metric("privacy", base, r.value, "minimize", r.subgroup, r.ci_low, r.ci_high))
        rows.append(metric("privacy", base + "_baseline", r.baseline_rate, "minimize", r.subgroup))
        rows.append(metric("privacy", base + "_below_baseline", float(r.below_baseline), "minimize", r.subgroup))
    # Headlines: the worst case over singling-out modes and over sensitive columns.
    for head, prefix in (("privacy.singling_out_risk", "singling_out."), ("privacy.inference_risk", "inference.")):
        for g in cfg["subgroups"]:
            cand = [r for r in all_risks if r.name.startswith(prefix) and r.subgroup == g]
            if cand:
                w = max(cand, key=lambda r: r.value)
                rows.append(metric("privacy", head, w.value, "minimize", g, w.ci_low, w.ci_high))
                rows.append(metric("privacy", head + "_below_baseline", float(w.below_baseline), "minimize", g))
    info["anonymeter"] = {
        "sizes_ori_control": sizes,
        "linkability_columns": dict(zip(("a", "b", "source"), anon.linkability_columns(sch))),
        "risks": [{k: v for k, v in r.to_dict().items()} for r in all_risks],
        "errors": errors,
    }
    if not all_risks and errors:
        raise RuntimeError(f"every anonymeter evaluation failed: {errors}")
    return rows


register_family("attacks", attack_metrics)
