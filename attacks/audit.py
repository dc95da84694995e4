"""The ``audit`` metric family: the shadow-model MIA on chosen targets, then the empirical epsilon audit.

Plays membership games against fresh fits of the run's generator
(:mod:`attacks.shadow`), then bounds epsilon from the games' error counts
(:mod:`attacks.bounds`, Jagielski et al. 2020). Configured by the ``shadow:``
and ``audit:`` blocks of the ``attacks`` config (``conf/attacks/full.yaml``,
defaults in :mod:`attacks.settings`); nothing runs unless ``shadow.enabled``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from attacks.bounds import audit
from attacks.settings import audit_settings
from attacks.shadow import ThreatModel, background_size, select_targets, shadow_attack
from bench.errors import ConfigError
from bench.results import metric

log = logging.getLogger(__name__)


def audit_metrics(ctx, cfg: Mapping[str, Any] | None) -> list[dict]:
    """The ``audit`` family: shadow-model MIA on outlier and random targets, then the epsilon audit.

    Args:
        ctx: the run's :class:`bench.metrics.context.EvalContext`; needs
            ``generator_factory`` (a fresh, unfitted generator with the run's
            settings), ``splits.reference`` (the attacker's population) and
            ``splits.train`` (where targets come from).
        cfg: the ``attacks`` config; its ``shadow:`` and ``audit:`` blocks
            (:data:`SHADOW_DEFAULTS`, :data:`AUDIT_DEFAULTS`). Nothing runs
            unless ``shadow.enabled``.
    Returns:
        Metric rows: ``privacy.shadow_mia_advantage``, ``privacy.shadow_mia_auc``,
        ``privacy.privacy_gain`` (subgroups all / outliers / random),
        ``privacy.shadow_mia_advantage_max``, ``privacy.epsilon_lower_bound``,
        ``privacy.audit_resolution`` (the largest bound these games could
        give), and when the generator claims a finite epsilon
        ``privacy.audit_testable`` (1 when the claim is below the resolution)
        and ``privacy.audit_flagged`` (1 flagged, 0 not flagged, NaN when not
        testable), ``cost.shadow_s_per_target``. Run-level details (targets by
        row index, per-target results, the selected test, counts, claim,
        resolution, cost) go to ``ctx.cache["run_record"]["audit"]`` and the
        flag to ``ctx.cache["run_record"]["audit_flagged"]``.
    Raises:
        ConfigError: invalid settings, no generator factory, a shadow training
            set larger than the reference split allows.
    """
    s = audit_settings(cfg)
    sh, au = s["shadow"], s["audit"]
    if not sh["enabled"]:
        return []
    if ctx.generator_factory is None:
        raise ConfigError("attacks.shadow needs the run's generator factory (ctx.generator_factory)")
    seed = int(ctx.seed) + s["seed_offset"] + int(sh["seed_offset"])
    t0 = time.perf_counter()
    outlier_model = (ctx.cache.get("attacks") or {}).get("outliers")
    targets = select_targets(
        ctx.splits.train,
        ctx.schema,
        n_outliers=sh["n_outliers"],
        n_random=sh["n_random"],
        reference=ctx.splits.reference,
        outliers=outlier_model,
        seed=seed,
    )
    n_train = int(sh["n_train"] or len(ctx.splits.train))
    threat = ThreatModel(
        population=ctx.splits.reference,
        schema=ctx.schema,
        generator_factory=ctx.generator_factory,
        n_train=n_train,
        n_synthetic=int(sh["n_synthetic"] or background_size(n_train, len(targets), sh["design"])),
        dataset_fingerprint=getattr(ctx.dataset, "fingerprint", None),
    )
    cache = None
    if sh["cache"] and sh["cache_dir"]:
        from bench.run.cache import Cache

        cache = Cache(sh["cache_dir"], refresh=bool(sh["cache_refresh"]))
    res = shadow_attack(
        threat,
        ctx.splits.train.loc[targets.index],
        groups=targets,
        design=sh["design"],
        games=sh["games"],
        features=sh["features"],
        classifier=sh["classifier"],
        n_bins=sh["n_bins"],
        cache=cache,
        seed=seed,
    )
    rows: list[dict] = []
    per = res.per_target
    for g in ("all", "outliers", "random"):
        sel = per if g == "all" else per[per["group"] == g]
        if sel.empty:
            continue
        # means over the subgroup's targets; every target's value is in run.json -> audit.per_target
        rows.append(metric("privacy", "privacy.shadow_mia_advantage", sel["advantage"].mean(), "minimize", g))
        rows.append(metric("privacy", "privacy.shadow_mia_auc", sel["auc"].mean(), "minimize", g))
        rows.append(metric("privacy", "privacy.privacy_gain", sel["privacy_gain"].mean(), "maximize", g))
    rows.append(metric("privacy", "privacy.shadow_mia_advantage_max", per["advantage"].max(), "minimize"))
    info: dict[str, Any] = {
        "threat_model": threat.describe(),
        "design": sh["design"],
        "games": dict(sh["games"]),
        "features": list(sh["features"]),
        "classifier": sh["classifier"],
        "targets": [{"row": _row(i), "group": g} for i, g in targets.items()],
        "per_target": [{k: _row(v) if k == "row" else v for k, v in r.items()} for r in per.to_dict("records")],
        "claim": res.claim,
        "notes": list(res.notes),
    }
    flagged = False
    if au["enabled"]:
        claim_eps = res.claim.get("epsilon")
        claim_delta = float(res.claim.get("delta") or 0.0)
        scores = {(t, st): res.scores[(t, st)] for t in targets.index for st in au["statistics"]}
        labels = {t: res.labels[t] for t in targets.index}
        a = audit(scores, labels, res.parts, delta=claim_delta, alpha=float(au["alpha"]), claimed_epsilon=claim_eps)
        flagged = a.flagged
        rows.append(metric("privacy", "privacy.epsilon_lower_bound", a.eps_lb, "minimize"))
        rows.append(metric("privacy", "privacy.audit_resolution", a.resolution, "none"))
        if claim_eps is not None and math.isfinite(float(claim_eps)):
            rows.append(metric("privacy", "privacy.audit_testable", float(a.testable), "none"))
            rows.append(
                metric("privacy", "privacy.audit_flagged", float(flagged) if a.testable else float("nan"), "minimize")
            )
        info["audit"] = {
            "eps_lb": a.eps_lb,
            "eps_point": a.bound.eps_point,
            "confidence": 1 - float(au["alpha"]),
            "claimed_epsilon": claim_eps,
            "claimed_delta": claim_delta,
            "flagged": flagged,
            "state": a.state if claim_eps is not None else "no claim",
            "selected": {
                "row": _row(a.target),
                "group": targets[a.target],
                "statistic": a.statistic,
                "threshold": a.threshold,
                "val_eps_lb": a.val_eps_lb,
            },
            "test_counts": {
                "fp": a.bound.fp,
                "n_out": a.bound.n_out,
                "fn": a.bound.fn,
                "n_in": a.bound.n_in,
                "fpr_hi": a.bound.fpr_hi,
                "fnr_hi": a.bound.fnr_hi,
            },
            "resolution_limit": a.resolution,
            "per_target_note": "test eps_lb per (target, statistic) at its own validation threshold; "
            "informative only, their maximum is not a valid bound",
            "per_target": [{**r, "target": _row(r["target"])} for r in a.per_target],
        }
        if flagged:
            log.warning("audit: empirical epsilon lower bound %.3f exceeds the claimed epsilon %s", a.eps_lb, claim_eps)
        elif claim_eps is not None and math.isfinite(float(claim_eps)) and not a.testable:
            log.warning(
                "audit: not testable: the claimed epsilon %s is above what %d test games per world can "
                "refute (resolution %.2f); add games (attacks.shadow.games.test) to test it",
                claim_eps,
                min(a.bound.n_in, a.bound.n_out),
                a.resolution,
            )
    total = time.perf_counter() - t0
    n_t = len(targets)
    info["cost"] = {**res.cost, "total_s": total, "n_targets": n_t, "s_per_target": total / n_t}
    rows.append(metric("cost", "cost.shadow_s_per_target", total / n_t, "minimize"))
    rec = ctx.cache.setdefault("run_record", {})
    rec["audit"] = info
    rec["audit_flagged"] = flagged
    return rows


def _row(i: Any) -> Any:
    try:
        return int(i)
    except (TypeError, ValueError):
        return str(i)


__all__ = ["audit_metrics"]
