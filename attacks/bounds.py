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

The ``audit`` metric family that plays the games and applies these bounds is
:mod:`attacks.audit`; this module is pure arithmetic on error counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import beta


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


def epsilon_lower_bound(
    fp: int, n_out: int, fn: int, n_in: int, delta: float = 0.0, alpha: float = 0.05
) -> EpsilonBound:
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
    return EpsilonBound(
        eps_lb=float(lb),
        eps_point=float(point),
        fp=int(fp),
        n_out=int(n_out),
        fn=int(fn),
        n_in=int(n_in),
        fpr_hi=fpr_hi,
        fnr_hi=fnr_hi,
        delta=float(delta),
        alpha=float(alpha),
    )


def resolution_limit(n_per_world: int, alpha: float = 0.05, delta: float = 0.0) -> float:
    """The largest eps_lb that ``n_per_world`` games per world can ever give.

    A perfect test (no false positive, no false negative) gives
    ``ln((1 - delta - u) / u)`` with ``u = 1 - (alpha/2)^(1/N)``; for alpha = 0.05
    this is about ``ln(N / 3.7)``.
    """
    return epsilon_lower_bound(0, n_per_world, 0, n_per_world, delta=delta, alpha=alpha).eps_lb


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


def best_threshold(
    scores: np.ndarray, labels: np.ndarray, *, delta: float = 0.0, alpha: float = 0.05, objective: str = "epsilon"
) -> tuple[float, float]:
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


def audit(
    scores: Mapping[tuple[Any, str], np.ndarray],
    labels: Mapping[Any, np.ndarray],
    parts: np.ndarray | Mapping[Any, np.ndarray],
    *,
    delta: float = 0.0,
    alpha: float = 0.05,
    claimed_epsilon: float | None = None,
) -> AuditResult:
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
        per_target.append(
            {
                "target": tgt,
                "statistic": stat,
                "threshold": thr,
                "val_eps_lb": v_eps,
                "test_eps_lb": tb.eps_lb,
                "test_eps_point": tb.eps_point,
            }
        )
        key = (v_eps, v_adv)
        if best is None or key > best[0]:
            best = (key, tgt, stat, thr, tb)
    (v_eps, _), tgt, stat, thr, tb = best
    n_test = min(tb.n_in, tb.n_out)
    claimed = None if claimed_epsilon is None else float(claimed_epsilon)
    resolution = resolution_limit(n_test, alpha=alpha, delta=delta)
    testable = bool(claimed is not None and math.isfinite(claimed) and claimed < resolution)
    flagged = bool(testable and tb.eps_lb > claimed)
    return AuditResult(
        bound=tb,
        target=tgt,
        statistic=stat,
        threshold=thr,
        val_eps_lb=v_eps,
        resolution=resolution,
        per_target=per_target,
        claimed_epsilon=claimed,
        claimed_delta=delta,
        flagged=flagged,
        testable=testable,
    )


__all__ = [
    "AuditResult",
    "EpsilonBound",
    "audit",
    "best_threshold",
    "candidate_thresholds",
    "clopper_pearson_upper",
    "epsilon_lower_bound",
    "error_counts",
    "resolution_limit",
]
