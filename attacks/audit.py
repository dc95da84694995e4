"""Empirical lower bound on epsilon from membership-game outcomes, and the ``audit`` family.

A mechanism M is (epsilon, delta)-DP when, for any two neighbouring training
sets D, D' = D plus one record and every test S on its output,
``P[M(D') in S] <= e^eps P[M(D) in S] + delta`` and the same with D and D'
swapped. A membership test that says "in" on S has FPR = P[M(D) in S] and
FNR = 1 - P[M(D') in S]; the two inequalities become
``1 - delta - FNR <= e^eps FPR`` and ``1 - delta - FPR <= e^eps FNR``. So any
test with small FPR and FNR proves

    eps >= max(ln((1 - delta - FPR) / FNR), ln((1 - delta - FNR) / FPR)).

With finitely many games FPR and FNR are only estimated: we use one-sided
Clopper-Pearson upper bounds FPR_hi and FNR_hi, each at level ``alpha / 2``
(0.025 by default, so both hold together with probability >= 1 - alpha = 95%
by the union bound), and report

    eps_lb = max(0, ln((1 - delta - FPR_hi) / FNR_hi), ln((1 - delta - FNR_hi) / FPR_hi)).

Source: Jagielski, Ullman and Oprea, "Auditing Differentially Private Machine
Learning: How Private is Private SGD?" (NeurIPS 2020), Sec. 3 and their use of
Clopper-Pearson intervals; Kairouz, Oh and Viswanath (2015) for the
hypothesis-testing view of DP. Clopper & Pearson (1934) for the bound itself
(``scipy.stats.beta`` quantiles).

Resolution limit: with N games per world and no error at all, FPR_hi = FNR_hi =
1 - (alpha/2)^(1/N) ~ ln(2/alpha)/N = 3.69/N, so eps_lb can never exceed about
ln(N / 3.7) (:func:`resolution_limit`): 50 games per world resolve at most
eps ~ 2.6, 1,000 games at most 5.6. A claim above that cannot be refuted by the
audit, whatever the generator does.

Validity: the threshold (and, here, the target and the attack statistic) are
chosen on a *validation* part of the games, and the bound is computed on the
separate *test* part, so the selection does not bias the test counts.

Importing this module also registers the ``audit`` evaluation family
(:func:`audit_metrics`), configured by the ``shadow:`` and ``audit:`` blocks of
the ``attacks`` config (``conf/attacks/full.yaml``).
"""

from __future__ import annotations

import logging
import math
import time
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy.stats import beta

from bench.errors import ConfigError

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ the bound
def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided Clopper-Pearson upper confidence bound on a binomial proportion.

    Args:
        k: observed successes, ``0 <= k <= n``.
        n: trials, ``n >= 1``.
        alpha: the bound holds with probability ``>= 1 - alpha`` (one-sided).
    Returns:
        ``p_hi`` in (0, 1]: the ``1 - alpha`` quantile of Beta(k + 1, n - k);
        1 when ``k == n``; ``1 - alpha^(1/n)`` when ``k == 0``.
    Raises:
        ValueError: ``n < 1``, ``k`` outside ``[0, n]`` or ``alpha`` outside (0, 1).
    Source: Clopper & Pearson (1934), Biometrika 26(4).
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"Clopper-Pearson needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0 < float(alpha) < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if k == n:
        return 1.0
    return float(beta.ppf(1.0 - float(alpha), k + 1, n - k))


@dataclass
class EpsilonBound:
    """An empirical epsilon lower bound and the counts it comes from.

    Attributes:
        eps_lb: ``max(0, ...)`` with Clopper-Pearson upper bounds (valid at
            confidence ``1 - alpha``).
        eps_point: the same formula on the raw rates (no interval; +inf when
            an error count is 0): a point estimate, not a bound.
        fp, n_out: false positives among the games where the target was out.
        fn, n_in: false negatives among the games where the target was in.
        fpr_hi, fnr_hi: the one-sided upper bounds (each at level ``alpha / 2``).
        delta, alpha: as given.
    """

    eps_lb: float
    eps_point: float
    fp: int
    n_out: int
    fn: int
    n_in: int
    fpr_hi: float
    fnr_hi: float
    delta: float
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _eps_terms(fpr: float, fnr: float, delta: float) -> float:
    best = 0.0
    for num, den in ((1.0 - delta - fpr, fnr), (1.0 - delta - fnr, fpr)):
        if num <= 0:
            continue
        if den <= 0:
            return math.inf
        best = max(best, math.log(num / den))
    return best


def epsilon_lower_bound(fp: int, n_out: int, fn: int, n_in: int, delta: float = 0.0,
                        alpha: float = 0.05) -> EpsilonBound:
    """Empirical epsilon lower bound from one test's error counts.

    Args:
        fp: games with the target out in which the test said "in"; of ``n_out``.
        fn: games with the target in in which the test said "out"; of ``n_in``.
        delta: the delta of the claimed (epsilon, delta)-DP guarantee (0 for pure DP).
        alpha: total error probability; each of FPR_hi and FNR_hi is a one-sided
            Clopper-Pearson bound at ``alpha / 2``.
    Returns:
        :class:`EpsilonBound`; ``eps_lb = max(0, ln((1 - delta - FPR_hi) / FNR_hi),
        ln((1 - delta - FNR_hi) / FPR_hi))`` (a term whose numerator is <= 0 is dropped).
    Raises:
        ValueError: counts out of range, ``delta`` outside [0, 1) or ``alpha`` outside (0, 1).
    Source: Jagielski et al. 2020 (NeurIPS), "Auditing Differentially Private
    Machine Learning: How Private is Private SGD?".
    """
    if not 0 <= float(delta) < 1:
        raise ValueError(f"delta must be in [0, 1), got {delta}")
    fpr_hi = clopper_pearson_upper(fp, n_out, alpha / 2)
    fnr_hi = clopper_pearson_upper(fn, n_in, alpha / 2)
    lb = _eps_terms(fpr_hi, fnr_hi, float(delta))
    point = _eps_terms(fp / n_out, fn / n_in, float(delta))
    return EpsilonBound(eps_lb=float(lb), eps_point=float(point), fp=int(fp), n_out=int(n_out), fn=int(fn),
                        n_in=int(n_in), fpr_hi=fpr_hi, fnr_hi=fnr_hi, delta=float(delta), alpha=float(alpha))


def resolution_limit(n_per_world: int, alpha: float = 0.05, delta: float = 0.0) -> float:
    """The largest eps_lb that ``n_per_world`` games per world can ever give.

    A perfect test (no false positive, no false negative) gives
    ``ln((1 - delta - u) / u)`` with ``u = 1 - (alpha/2)^(1/N)``; for alpha = 0.05
    this is about ``ln(N / 3.7)``.
    """
    return epsilon_lower_bound(0, n_per_world, 0, n_per_world, delta=delta, alpha=alpha).eps_lb


# ---------------------------------------------------------------- thresholds
def error_counts(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """``(fp, n_out, fn, n_in)`` of the test "in when score >= threshold"."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    said_in = scores >= threshold
    out, inn = labels == 0, labels == 1
    return int((said_in & out).sum()), int(out.sum()), int((~said_in & inn).sum()), int(inn.sum())


def candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """Midpoints between adjacent distinct scores, plus -inf (always "in") and +inf (never "in").

    Midpoints rather than the scores themselves, so that a threshold chosen on
    validation games sits between the two worlds' scores instead of on the
    edge of one of them.
    """
    u = np.unique(np.asarray(scores, float))
    return np.concatenate([[-np.inf], (u[:-1] + u[1:]) / 2.0, [np.inf]])


def best_threshold(scores: np.ndarray, labels: np.ndarray, *, delta: float = 0.0, alpha: float = 0.05,
                   objective: str = "epsilon") -> tuple[float, float]:
    """The threshold that maximises ``objective`` on these (validation) games.

    Args:
        scores: (n,) attack scores, higher = "in".
        labels: (n,) 1 = target in, 0 = out; both worlds must occur.
        objective: ``"epsilon"`` (eps_lb at ``alpha``, ties broken by the
            advantage TPR - FPR) or ``"advantage"`` (TPR - FPR, Youden's J).
    Returns:
        ``(threshold, objective value)``; among equally good thresholds, the
        middle one (in score order).
    Raises:
        ValueError: a world without games, or an unknown objective.
    """
    labels = np.asarray(labels, int)
    if not ((labels == 0).any() and (labels == 1).any()):
        raise ValueError("threshold selection needs games in both worlds")
    if objective not in ("epsilon", "advantage"):
        raise ValueError(f"objective must be epsilon or advantage, got {objective!r}")
    cands = candidate_thresholds(scores)
    keys = []
    for t in cands:
        fp, n_out, fn, n_in = error_counts(scores, labels, t)
        adv = (n_in - fn) / n_in - fp / n_out
        if objective == "epsilon":
            keys.append((epsilon_lower_bound(fp, n_out, fn, n_in, delta=delta, alpha=alpha).eps_lb, adv))
        else:
            keys.append((adv, 0.0))
    top = max(keys)
    best = [i for i, k in enumerate(keys) if k == top]
    return float(cands[best[len(best) // 2]]), float(top[0])  # the middle of the best thresholds


@dataclass
class AuditResult:
    """Outcome of an audit over several targets and attack statistics.

    Attributes:
        bound: the test-part :class:`EpsilonBound` of the selected (target,
            statistic, threshold); its ``eps_lb`` is the reported lower bound.
        target, statistic, threshold: what the validation part selected.
        val_eps_lb: the selected candidate's bound on the validation part.
        resolution: the largest eps_lb the test part could give (perfect test).
        per_target: test-part eps_lb of every (target, statistic) at its own
            validation threshold (informative only: taking their maximum
            would not be a valid bound).
        claimed_epsilon, claimed_delta: the generator's claim (None: no claim).
        flagged: ``eps_lb > claimed_epsilon`` (only when testable).
        testable: the claim is below ``resolution``, so a strong enough
            attack could refute it; a claim at or above the resolution cannot
            be refuted by these games whatever the generator does (no claim,
            or an infinite one: not testable).
    """

    bound: EpsilonBound
    target: Any
    statistic: str
    threshold: float
    val_eps_lb: float
    resolution: float
    per_target: list[dict[str, Any]] = field(default_factory=list)
    claimed_epsilon: float | None = None
    claimed_delta: float | None = None
    flagged: bool = False
    testable: bool = False

    @property
    def eps_lb(self) -> float:
        return self.bound.eps_lb

    @property
    def state(self) -> str:
        """``"flagged"``, ``"not flagged"`` or ``"not testable"`` (the claim exceeds the resolution)."""
        if not self.testable:
            return "not testable"
        return "flagged" if self.flagged else "not flagged"


def audit(scores: Mapping[tuple[Any, str], np.ndarray], labels: Mapping[Any, np.ndarray],
          parts: np.ndarray | Mapping[Any, np.ndarray], *, delta: float = 0.0, alpha: float = 0.05,
          claimed_epsilon: float | None = None) -> AuditResult:
    """Select (target, statistic, threshold) on validation games, bound epsilon on test games.

    Args:
        scores: ``{(target, statistic): (G,) scores}``, higher = "in", one per game.
        labels: ``{target: (G,) 0/1}`` membership of the target in each game.
        parts: ``(G,)`` array of ``"val"`` / ``"test"`` (other values are ignored),
            or ``{target: (G,) array}`` when targets played different games.
        delta: claimed delta (subtracted in the bound).
        alpha: total error probability of the bound.
        claimed_epsilon: the generator's epsilon; ``flagged`` when the test
            bound exceeds it; ``testable`` only when it is below the test
            part's resolution (None or inf: not testable, never flagged).
    Returns:
        :class:`AuditResult`.
    Raises:
        ValueError: no candidate, or a part without games in both worlds.
    Source: Jagielski et al. 2020 (the bound); the threshold is chosen on
    trials separate from those the bound is computed on, so the selection
    cannot inflate it.
    """
    if not scores:
        raise ValueError("audit needs at least one (target, statistic) score vector")
    best = None
    per_target = []
    for (tgt, stat), s in scores.items():
        pt = np.asarray(parts[tgt] if isinstance(parts, Mapping) else parts)
        val, test = pt == "val", pt == "test"
        s = np.asarray(s, float)
        y = np.asarray(labels[tgt], int)
        thr, v_eps = best_threshold(s[val], y[val], delta=delta, alpha=alpha, objective="epsilon")
        fp, n_out, fn, n_in = error_counts(s[val], y[val], thr)
        v_adv = (n_in - fn) / n_in - fp / n_out
        tb = epsilon_lower_bound(*error_counts(s[test], y[test], thr), delta=delta, alpha=alpha)
        per_target.append({"target": tgt, "statistic": stat, "threshold": thr, "val_eps_lb": v_eps,
                           "test_eps_lb": tb.eps_lb, "test_eps_point": tb.eps_point})
        key = (v_eps, v_adv)
        if best is None or key > best[0]:
            best = (key, tgt, stat, thr, tb)
    (v_eps, _), tgt, stat, thr, tb = best
    n_test = min(tb.n_in, tb.n_out)
    claimed = None if claimed_epsilon is None else float(claimed_epsilon)
    resolution = resolution_limit(n_test, alpha=alpha, delta=delta)
    testable = bool(claimed is not None and math.isfinite(claimed) and claimed < resolution)
    flagged = bool(testable and tb.eps_lb > claimed)
    return AuditResult(bound=tb, target=tgt, statistic=stat, threshold=thr, val_eps_lb=v_eps,
                       resolution=resolution, per_target=per_target, claimed_epsilon=claimed,
                       claimed_delta=delta, flagged=flagged, testable=testable)


# ------------------------------------------------------------------ settings
SHADOW_DEFAULTS: dict[str, Any] = {
    "enabled": False,            # the shadow-model MIA (and the audit) are off unless attacks=full
    "design": "shared",          # shared: every fit is a game for every target | per_target
    "n_outliers": 5,             # top outliers of the training split (attacks/targets.py)
    "n_random": 5,               # random training records
    "n_train": 1000,             # shadow training-set size (null = size of the real training split)
    "n_synthetic": None,         # rows per shadow table (null = background rows n_train - ceil(T/2))
    "games": {"train": 60, "val": 40, "test": 60},  # generator fits per part (shared) / per target
    "features": ["naive", "histogram", "correlation", "neighbourhood"],
    "classifier": "rf",          # rf | logreg
    "n_bins": 10,
    "cache": False,              # store shadow synthetic tables (full.yaml: ${cache.enabled})
    "cache_dir": None,           # full.yaml: ${cache.dir}
    "cache_refresh": False,
    "seed_offset": 0,
}
AUDIT_DEFAULTS: dict[str, Any] = {
    "enabled": True,             # needs shadow.enabled
    "alpha": 0.05,               # eps_lb holds with confidence 1 - alpha (alpha/2 per Clopper-Pearson bound)
    "statistics": ["classifier", "min_distance"],
}
STATISTICS = ("classifier", "min_distance")


def _register_sections() -> None:
    """Our ``shadow:``/``audit:`` blocks live in the ``attacks`` config: tell its family."""
    from attacks.run import register_section

    register_section("shadow", SHADOW_DEFAULTS)
    register_section("audit", AUDIT_DEFAULTS)


def audit_settings(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``shadow`` and ``audit`` settings from an ``attacks`` config, over the defaults.

    Args:
        cfg: the whole ``attacks`` config (other sections are ignored).
    Returns:
        ``{"shadow": {...}, "audit": {...}, "seed_offset": int}``.
    Raises:
        ConfigError: an unknown key or an invalid value, naming the setting.
    """
    from attacks.run import merge_settings, plain_config  # the attacks family's merge rules

    raw = plain_config(cfg or {})
    out = {"shadow": deepcopy(SHADOW_DEFAULTS), "audit": deepcopy(AUDIT_DEFAULTS)}
    for sec in ("shadow", "audit"):
        if raw.get(sec) is not None:
            merge_settings(out[sec], raw[sec], f"attacks.{sec}")
    out["seed_offset"] = int(raw.get("seed_offset", 0) or 0)
    sh, au = out["shadow"], out["audit"]
    if sh["design"] not in ("shared", "per_target"):
        raise ConfigError(f"attacks.shadow.design must be shared or per_target, got {sh['design']!r}")
    for key in ("n_outliers", "n_random"):
        if not _is_int(sh[key]) or sh[key] < 0:
            raise ConfigError(f"attacks.shadow.{key} must be an integer >= 0, got {sh[key]!r}")
    if sh["n_outliers"] + sh["n_random"] < 1:
        raise ConfigError("attacks.shadow needs at least one target (n_outliers + n_random >= 1)")
    for key in ("n_train", "n_synthetic"):
        if sh[key] is not None and (not _is_int(sh[key]) or sh[key] < 10):
            raise ConfigError(f"attacks.shadow.{key} must be an integer >= 10 (or null), got {sh[key]!r}")
    games = sh["games"]
    for part, lo in (("train", 4), ("val", 2), ("test", 2)):
        if not _is_int(games.get(part)) or games[part] < lo:
            raise ConfigError(f"attacks.shadow.games.{part} must be an integer >= {lo}, got {games.get(part)!r}")
    from attacks.shadow import CLASSIFIERS, FEATURE_SETS

    bad = [f for f in sh["features"] if f not in FEATURE_SETS]
    if bad or not sh["features"]:
        raise ConfigError(f"attacks.shadow.features must be a non-empty subset of {FEATURE_SETS}, "
                          f"got {sh['features']}")
    if sh["classifier"] not in CLASSIFIERS:
        raise ConfigError(f"attacks.shadow.classifier must be one of {CLASSIFIERS}, got {sh['classifier']!r}")
    if not _is_int(sh["n_bins"]) or sh["n_bins"] < 2:
        raise ConfigError(f"attacks.shadow.n_bins must be an integer >= 2, got {sh['n_bins']!r}")
    if not 0 < float(au["alpha"]) < 1:
        raise ConfigError(f"attacks.audit.alpha must be in (0, 1), got {au['alpha']!r}")
    bad = [s for s in au["statistics"] if s not in STATISTICS]
    if bad or not au["statistics"]:
        raise ConfigError(f"attacks.audit.statistics must be a non-empty subset of {STATISTICS}, "
                          f"got {au['statistics']}")
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# -------------------------------------------------------------------- family
def audit_metrics(ctx, cfg: Mapping[str, Any] | None) -> list[dict]:
    """The ``audit`` family: shadow-model MIA on outlier and random targets, then the epsilon audit.

    Args:
        ctx: the run's :class:`bench.evaluate.EvalContext`; needs
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
    from attacks.shadow import ThreatModel, background_size, select_targets, shadow_attack
    from bench.results import metric

    s = audit_settings(cfg)
    sh, au = s["shadow"], s["audit"]
    if not sh["enabled"]:
        return []
    if ctx.generator_factory is None:
        raise ConfigError("attacks.shadow needs the run's generator factory (ctx.generator_factory)")
    seed = int(ctx.seed) + s["seed_offset"] + int(sh["seed_offset"])
    t0 = time.perf_counter()
    outlier_model = (ctx.cache.get("attacks") or {}).get("outliers")
    targets = select_targets(ctx.splits.train, ctx.schema, n_outliers=sh["n_outliers"], n_random=sh["n_random"],
                             reference=ctx.splits.reference, outliers=outlier_model, seed=seed)
    n_train = int(sh["n_train"] or len(ctx.splits.train))
    threat = ThreatModel(population=ctx.splits.reference, schema=ctx.schema,
                         generator_factory=ctx.generator_factory, n_train=n_train,
                         n_synthetic=int(sh["n_synthetic"] or background_size(n_train, len(targets), sh["design"])),
                         dataset_fingerprint=getattr(ctx.dataset, "fingerprint", None))
    cache = None
    if sh["cache"] and sh["cache_dir"]:
        from bench.cache import Cache

        cache = Cache(sh["cache_dir"], refresh=bool(sh["cache_refresh"]))
    res = shadow_attack(threat, ctx.splits.train.loc[targets.index], groups=targets, design=sh["design"],
                        games=sh["games"], features=sh["features"], classifier=sh["classifier"],
                        n_bins=sh["n_bins"], cache=cache, seed=seed)
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
        "design": sh["design"], "games": dict(sh["games"]), "features": list(sh["features"]),
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
        a = audit(scores, labels, res.parts, delta=claim_delta, alpha=float(au["alpha"]),
                  claimed_epsilon=claim_eps)
        flagged = a.flagged
        rows.append(metric("privacy", "privacy.epsilon_lower_bound", a.eps_lb, "minimize"))
        rows.append(metric("privacy", "privacy.audit_resolution", a.resolution, "none"))
        if claim_eps is not None and math.isfinite(float(claim_eps)):
            rows.append(metric("privacy", "privacy.audit_testable", float(a.testable), "none"))
            rows.append(metric("privacy", "privacy.audit_flagged", float(flagged) if a.testable else float("nan"),
                               "minimize"))
        info["audit"] = {
            "eps_lb": a.eps_lb, "eps_point": a.bound.eps_point, "confidence": 1 - float(au["alpha"]),
            "claimed_epsilon": claim_eps, "claimed_delta": claim_delta, "flagged": flagged,
            "state": a.state if claim_eps is not None else "no claim",
            "selected": {"row": _row(a.target), "group": targets[a.target], "statistic": a.statistic,
                         "threshold": a.threshold, "val_eps_lb": a.val_eps_lb},
            "test_counts": {"fp": a.bound.fp, "n_out": a.bound.n_out, "fn": a.bound.fn, "n_in": a.bound.n_in,
                            "fpr_hi": a.bound.fpr_hi, "fnr_hi": a.bound.fnr_hi},
            "resolution_limit": a.resolution,
            "per_target_note": "test eps_lb per (target, statistic) at its own validation threshold; "
                               "informative only, their maximum is not a valid bound",
            "per_target": [{**r, "target": _row(r["target"])} for r in a.per_target],
        }
        if flagged:
            log.warning("audit: empirical epsilon lower bound %.3f exceeds the claimed epsilon %s",
                        a.eps_lb, claim_eps)
        elif claim_eps is not None and math.isfinite(float(claim_eps)) and not a.testable:
            log.warning("audit: not testable: the claimed epsilon %s is above what %d test games per world can "
                        "refute (resolution %.2f); add games (attacks.shadow.games.test) to test it",
                        claim_eps, min(a.bound.n_in, a.bound.n_out), a.resolution)
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


def _register_family() -> None:
    from bench.evaluate import register_family

    register_family("audit", audit_metrics, section="attacks")


_register_sections()
_register_family()

__all__ = ["AuditResult", "EpsilonBound", "audit", "audit_metrics", "audit_settings", "best_threshold",
           "clopper_pearson_upper", "epsilon_lower_bound", "error_counts", "resolution_limit"]
