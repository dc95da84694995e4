"""No-box membership inference: does the synthetic table reveal who was in the training set?

Threat model: the attacker holds the released synthetic table, a reference
sample from the same population (the ``reference`` split, disjoint from
training) and a target record; they never query the generator. Members are
training records, non-members are holdout records, in equal-sized random
samples. Each attack gives every target a score (higher = "member"):

* ``dcr``: minus the distance to the closest synthetic record. The full
  black-box attack of GAN-Leaks (Chen et al., CCS 2020) and LOGAN's
  distance-based variant (Hayes et al., PoPETs 2019).
* ``dcr_diff``: distance to the closest *reference* record minus distance to
  the closest synthetic record: GAN-Leaks' calibrated attack, with the
  reference sample standing in for a reference generator.
* ``domias``: log density ratio ``log p_syn(x) - log p_ref(x)`` (DOMIAS, van
  Breugel et al., AISTATS 2023) with an actual density estimator: a diagonal
  Gaussian mixture (default) or a Gaussian KDE with Scott's bandwidth. Not in
  the default set: on fair and Adult it does not separate the identity
  generator from Faker (AUC 0.51-0.54 for identity, docs/attacks.md), so it
  fails the controls. (An earlier version used a kernel a tenth of the
  nearest-neighbour spacing wide: that is a soft distance difference, Spearman
  0.99 with ``d_ref^2 - d_syn^2``, i.e. ``dcr_diff`` again, and is gone.)

All distances are Euclidean on :class:`attacks.distance.TableEncoder` vectors
(encoder fitted on the reference split with the schema's public bounds).
Scores become ROC AUC (with a Hanley-McNeil 95% interval) and TPR at fixed
FPRs, per subgroup (``all``, ``outliers``, ``typical`` from
:mod:`attacks.targets`). The headline attack is chosen on held-out targets:
the targets are split in two halves (members and non-members alike); the
attack with the highest AUC on the *selection* half, and for each FPR the
attack with the highest TPR there, are reported on the other, *report* half,
so that choosing the best of several attacks does not lift a null generator
above 0.5. A TPR at FPR ``a`` is reported only when
``a * n_nonmembers >= 1`` (otherwise no threshold can resolve that FPR) and is
linearly interpolated between the two adjacent ROC points, which a randomised
threshold achieves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from attacks.distance import TableEncoder, knn
from attacks.targets import OutlierModel
from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError

ATTACKS = ("dcr", "dcr_diff", "domias")
DEFAULT_ATTACKS = ("dcr", "dcr_diff")  # domias fails the controls on fair and Adult (module docstring)
DEFAULT_FPRS = (0.001, 0.01, 0.1)
MIN_PER_CLASS = 10  # fewer members or non-members in a subgroup -> metrics are NaN


# ------------------------------------------------------------------ ROC metrics
def auc_with_ci(is_member: np.ndarray, scores: np.ndarray, z: float = 1.959964) -> tuple[float, float, float]:
    """ROC AUC and its normal-approximation interval.

    Args:
        is_member: (n,) bool labels (True = training record).
        scores: (n,) attack scores, higher = more likely a member; ties count 1/2.
        z: normal quantile of the interval (1.96 = 95%).
    Returns:
        ``(auc, ci_low, ci_high)``; NaN when a class is empty.
    Source: ``sklearn.metrics.roc_auc_score``; standard error from Hanley &
    McNeil, "The meaning and use of the area under a ROC curve" (Radiology 1982).
    """
    y = np.asarray(is_member, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan"), float("nan"), float("nan")
    a = float(roc_auc_score(y, scores))
    se = auc_standard_error(a, n1, n0)
    return a, max(0.0, a - z * se), min(1.0, a + z * se)


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley-McNeil (1982) standard error of an AUC from ``n_pos`` positives and ``n_neg`` negatives.

    Under no leakage (AUC = 0.5) it reduces to ``sqrt((n_pos + n_neg + 1) / (12 n_pos n_neg))``
    (the Mann-Whitney null variance).
    """
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def tpr_at_fpr(is_member: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """True-positive rate at a false-positive rate, interpolated between ROC points.

    Args:
        is_member: (n,) bool labels.
        scores: (n,) scores, higher = member.
        fpr: target false-positive rate in (0, 1).
    Returns:
        TPR in [0, 1]; NaN when ``fpr * n_nonmembers < 1`` (the FPR is finer
        than one false positive, so no threshold resolves it) or a class is empty.
    Source: Carlini et al., "Membership Inference Attacks From First
    Principles" (S&P 2022) for reporting TPR at low FPR.
    """
    y = np.asarray(is_member, dtype=bool)
    n_neg = int((~y).sum())
    if y.sum() == 0 or n_neg == 0 or fpr * n_neg < 1:
        return float("nan")
    f, t, _ = roc_curve(y, scores, drop_intermediate=False)
    i = int(np.searchsorted(f, fpr, side="right")) - 1  # last point with f <= fpr (top of its vertical run)
    if i >= len(f) - 1 or f[i] == fpr:
        return float(t[i])
    return float(t[i] + (t[i + 1] - t[i]) * (fpr - f[i]) / (f[i + 1] - f[i]))


def roc_summary(is_member: np.ndarray, scores: np.ndarray, fprs: Sequence[float] = DEFAULT_FPRS) -> dict[str, Any]:
    """AUC (with interval), TPR at each FPR, and the class counts for one score vector."""
    y = np.asarray(is_member, dtype=bool)
    auc, lo, hi = auc_with_ci(y, scores)
    return {
        "auc": auc,
        "auc_ci": (lo, hi),
        "tpr": {float(a): tpr_at_fpr(y, scores, a) for a in fprs},
        "n_members": int(y.sum()),
        "n_nonmembers": int((~y).sum()),
    }


# ----------------------------------------------------------------- densities
def kde_logpdf(query: np.ndarray, data: np.ndarray, bandwidth: float, *, max_block: int = 4_000_000) -> np.ndarray:
    """Isotropic Gaussian KDE log-density of ``query`` rows, up to an additive constant (exact).

    Args:
        query: (n, d) encoded rows.
        data: (m, d) encoded rows the density is fitted on.
        bandwidth: kernel standard deviation (encoded-space units), > 0.
        max_block: distance-matrix entries computed at once.
    Returns:
        (n,) ``log(mean_j exp(-|x - y_j|^2 / (2 h^2)))``; the dropped constant
        ``-(d/2) log(2 pi h^2)`` is the same for any two KDEs with equal ``h``
        and ``d``, so density ratios are exact.
    Raises:
        ConfigError: if ``bandwidth <= 0``.
    """
    if bandwidth <= 0:
        raise ConfigError(f"KDE bandwidth must be > 0, got {bandwidth}")
    dn = np.einsum("ij,ij->i", data, data)
    out = np.empty(len(query))
    chunk = max(1, max_block // max(len(data), 1))
    for s in range(0, len(query), chunk):
        q = query[s : s + chunk]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + dn[None, :] - 2.0 * (q @ data.T)
        np.maximum(d2, 0.0, out=d2)
        out[s : s + len(q)] = _logmeanexp(-d2 / (2 * bandwidth**2), len(data))
    return out


def _logmeanexp(a: np.ndarray, n: int) -> np.ndarray:
    """``log(sum(exp(a), axis=1) / n)``, stable."""
    mx = a.max(axis=1)
    return np.log(np.exp(a - mx[:, None]).sum(axis=1)) + mx - math.log(n)


def scott_bandwidth(reference: np.ndarray) -> float:
    """Scott's rule ``sigma n^(-1/(d + 4))`` on the reference sample (sigma: mean feature standard deviation)."""
    n, d = reference.shape
    h = float(np.mean(reference.std(axis=0))) * n ** (-1.0 / (d + 4))
    return h if h > 0 else 1.0


# ------------------------------------------------------------------ attacks
def attack_scores(
    targets: np.ndarray,
    synthetic: np.ndarray,
    reference: np.ndarray,
    attacks: Iterable[str] = DEFAULT_ATTACKS,
    *,
    density: str = "gmm",
    bandwidth: float | str = "scott",
    n_components: int = 10,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Membership scores of each target under each no-box attack.

    Args:
        targets: (n, d) encoded target records.
        synthetic: (m, d) encoded synthetic table.
        reference: (r, d) encoded reference sample (attacker's population data).
        attacks: names from :data:`ATTACKS`.
        density: DOMIAS's density estimator: ``"gmm"`` (diagonal Gaussian
            mixture, scikit-learn) or ``"kde"`` (exact Gaussian KDE).
        bandwidth: KDE kernel width (encoded-space units) or ``"scott"``
            (:func:`scott_bandwidth` on the reference sample).
        n_components: mixture components for ``density="gmm"``.
        seed: seed of the mixture.
    Returns:
        ``{attack: (n,) scores}``, higher = more likely a member.
    Raises:
        ConfigError: unknown attack, density or bandwidth.
    """
    attacks = list(attacks)
    bad = [a for a in attacks if a not in ATTACKS]
    if bad:
        raise ConfigError(f"attacks.membership.attacks has unknown attack(s) {bad}; available: {ATTACKS}")
    if density not in ("kde", "gmm"):
        raise ConfigError(f"attacks.membership.domias.density must be kde or gmm, got {density!r}")
    out: dict[str, np.ndarray] = {}
    if "dcr" in attacks or "dcr_diff" in attacks:
        d_syn = knn(targets, synthetic, k=1)[0][:, 0]
        if "dcr" in attacks:
            out["dcr"] = -d_syn
        if "dcr_diff" in attacks:
            out["dcr_diff"] = knn(targets, reference, k=1)[0][:, 0] - d_syn
    if "domias" in attacks:
        if density == "kde":
            if isinstance(bandwidth, str) and bandwidth != "scott":
                raise ConfigError(f"attacks.membership.domias.bandwidth must be a number or scott, got {bandwidth!r}")
            h = scott_bandwidth(reference) if isinstance(bandwidth, str) else float(bandwidth)
            out["domias"] = kde_logpdf(targets, synthetic, h) - kde_logpdf(targets, reference, h)
        else:
            from sklearn.mixture import GaussianMixture

            def gmm(data: np.ndarray) -> np.ndarray:
                gm = GaussianMixture(
                    n_components=min(int(n_components), len(data)),
                    covariance_type="diag",
                    reg_covar=1e-3,
                    random_state=seed,
                ).fit(data)
                return gm.score_samples(targets)

            out["domias"] = gmm(synthetic) - gmm(reference)
    return out


@dataclass
class MembershipResult:
    """Outcome of the no-box membership-inference attacks on one synthetic table.

    Attributes:
        scores: one row per target, index = row id: ``member`` (bool),
            ``subgroup``, ``outlier_score``, ``half`` (``"select"`` or
            ``"report"``; every target is ``"report"`` when nothing is
            selected) and one score column per attack. Holds no record values.
        summary: ``{attack: {subgroup: roc_summary dict}}`` over *all*
            targets (each attack on its own: no selection involved).
        headline: the attack reported as ``privacy.mia_auc``: the one with
            the highest AUC on the selection half (``headline="best"``), or
            the attack fixed in advance.
        headline_summary: ``{subgroup: roc_summary dict}`` of the headline
            attack on the report half.
        tpr_attacks: ``{fpr: attack}``: for each FPR, the attack with the
            highest TPR on the selection half (or the fixed headline).
        headline_tpr: ``{subgroup: {fpr: tpr}}`` on the report half, each
            FPR's TPR from its own chosen attack.
        selection: ``"held-out"`` (chosen on the selection half, reported on
            the report half) or ``"fixed"``.
        fprs: the FPRs of the TPR metrics.
    """

    scores: pd.DataFrame
    summary: dict[str, dict[str, dict[str, Any]]]
    headline: str
    headline_summary: dict[str, dict[str, Any]]
    tpr_attacks: dict[float, str]
    headline_tpr: dict[str, dict[float, float]]
    selection: str
    fprs: tuple[float, ...]
    notes: list[str] = field(default_factory=list)

    def gap(self, z: float = 1.959964) -> tuple[float, float, float]:
        """Headline AUC on ``outliers`` minus on ``typical`` (report half), with its interval.

        Returns:
            ``(gap, ci_low, ci_high)``: the two subgroups hold different
            records, so ``SE = sqrt(SE_out^2 + SE_typ^2)`` with Hanley-McNeil
            SEs; NaNs when a subgroup has too few members or non-members.
        """
        s = self.headline_summary
        if "outliers" not in s or "typical" not in s or np.isnan(s["outliers"]["auc"]) or np.isnan(s["typical"]["auc"]):
            return float("nan"), float("nan"), float("nan")
        o, t = s["outliers"], s["typical"]
        se = math.hypot(
            auc_standard_error(o["auc"], o["n_members"], o["n_nonmembers"]),
            auc_standard_error(t["auc"], t["n_members"], t["n_nonmembers"]),
        )
        g = o["auc"] - t["auc"]
        return g, g - z * se, g + z * se

    def vulnerable(self, n: int = 10, attack: str | None = None) -> list[dict[str, Any]]:
        """The ``n`` members with the highest score: ``[{"row": id, "subgroup": ..., "rank": r}]``.

        Ties in the attack score (e.g. several exact copies at distance 0) are
        broken by outlier score, most isolated first. Row ids only, never values.
        """
        col = attack or self.headline
        m = self.scores[self.scores["member"]]
        order = np.lexsort((-m["outlier_score"].fillna(-np.inf).to_numpy(), -m[col].to_numpy()))[:n]
        top = m.iloc[order]
        return [
            {"row": int(i) if isinstance(i, (int, np.integer)) else str(i), "subgroup": str(sg), "rank": r + 1}
            for r, (i, sg) in enumerate(zip(top.index, top["subgroup"]))
        ]


def _summaries(
    frame: pd.DataFrame, attack: str, groups: list[str], fprs: tuple[float, ...], notes: list[str]
) -> dict[str, dict[str, Any]]:
    """``{subgroup: roc_summary}`` of one attack on the targets in ``frame`` (NaN below MIN_PER_CLASS)."""
    out = {}
    y_all = frame["member"].to_numpy()
    for g in groups:
        sel = np.ones(len(frame), bool) if g == "all" else (frame["subgroup"] == g).to_numpy()
        y = y_all[sel]
        if y.sum() < MIN_PER_CLASS or (~y).sum() < MIN_PER_CLASS:
            notes.append(
                f"subgroup {g}: {int(y.sum())} members / {int((~y).sum())} non-members, "
                f"fewer than {MIN_PER_CLASS}: metrics not computed"
            )
            out[g] = {
                "auc": float("nan"),
                "auc_ci": (float("nan"),) * 2,
                "tpr": {f: float("nan") for f in fprs},
                "n_members": int(y.sum()),
                "n_nonmembers": int((~y).sum()),
            }
            continue
        out[g] = roc_summary(y, frame[attack].to_numpy()[sel], fprs)
    return out


def _best(values: dict[str, float]) -> str:
    """The key with the largest value (NaN counts as -inf; ties: the first listed)."""
    return max(values, key=lambda a: -np.inf if np.isnan(values[a]) else values[a])


def membership_inference(
    *,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    reference: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    attacks: Iterable[str] = DEFAULT_ATTACKS,
    n_targets: int | None = 5000,
    outliers: OutlierModel | None = None,
    encoder: TableEncoder | None = None,
    headline: str = "best",
    fprs: Sequence[float] = DEFAULT_FPRS,
    density: str = "gmm",
    bandwidth: float | str = "scott",
    n_components: int = 10,
    holdout_scores: pd.Series | None = None,
    seed: int = 0,
) -> MembershipResult:
    """Run the no-box attacks on equal-sized member / non-member samples.

    Args:
        train: members (the generator's training split), index = row ids.
        holdout: non-members, index = row ids.
        reference: the attacker's population sample (disjoint from both).
        synthetic: the released table.
        schema: the table's schema.
        attacks: names from :data:`ATTACKS`.
        n_targets: members drawn (and as many non-members); None = all that
            an equal split allows (``min(len(train), len(holdout))``).
        outliers: subgroup rule from :func:`attacks.targets.fit_outliers`;
            None reports only ``all``.
        encoder: fitted :class:`TableEncoder` (default: fitted on ``reference``).
        headline: ``"best"`` (chosen on a held-out half of the targets, see
            the module docstring) or an attack name fixed in advance.
        fprs: FPRs for the TPR metrics.
        density, bandwidth, n_components: DOMIAS settings (:func:`attack_scores`).
        holdout_scores: ``outliers.score(holdout)`` if already computed
            (index = holdout row ids), to avoid scoring twice.
        seed: target sampling and halving seed.
    Returns:
        A :class:`MembershipResult`.
    Raises:
        ConfigError: unknown attack or headline, bad ``n_targets`` or FPR.
        EmptyTableError: an empty split or synthetic table.
    """
    attacks = list(attacks)
    if not attacks:
        raise ConfigError("attacks.membership.attacks is empty")
    if headline != "best" and headline not in attacks:
        raise ConfigError(f"attacks.membership.headline must be 'best' or one of {attacks}, got {headline!r}")
    for a in fprs:
        if not 0 < float(a) < 1:
            raise ConfigError(f"attacks.membership.fprs must be in (0, 1), got {a!r}")
    for name, df in (("train", train), ("holdout", holdout), ("reference", reference), ("synthetic", synthetic)):
        if len(df) == 0:
            raise EmptyTableError(f"membership inference: the {name} table is empty")
    n = min(len(train), len(holdout))
    if n_targets is not None:
        if int(n_targets) < MIN_PER_CLASS:
            raise ConfigError(f"attacks.membership.n_targets must be >= {MIN_PER_CLASS}, got {n_targets}")
        n = min(n, int(n_targets))
    rng = np.random.default_rng(seed)
    mem = train.iloc[np.sort(rng.choice(len(train), size=n, replace=False))]
    non = holdout.iloc[np.sort(rng.choice(len(holdout), size=n, replace=False))]
    enc = encoder if encoder is not None else TableEncoder(schema).fit(reference)
    tgt = pd.concat([mem, non])
    is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    raw = attack_scores(
        enc.transform(tgt),
        enc.transform(synthetic),
        enc.transform(reference),
        attacks,
        density=density,
        bandwidth=bandwidth,
        n_components=n_components,
        seed=seed,
    )
    frame = pd.DataFrame({"member": is_member}, index=tgt.index)
    if outliers is not None:
        non_sc = holdout_scores.reindex(non.index) if holdout_scores is not None else outliers.score(non)
        if non_sc.isna().any():
            raise ValueError("holdout_scores does not cover every sampled holdout record")
        osc = pd.concat([outliers.train_scores.reindex(mem.index), non_sc])
        frame["outlier_score"] = osc.to_numpy()
        frame["subgroup"] = outliers.label(osc).to_numpy()
    else:
        frame["outlier_score"] = np.nan
        frame["subgroup"] = "all"
    selecting = headline == "best" and len(raw) > 1
    half = np.full(2 * n, "report", dtype=object)
    if selecting:  # half of the members and half of the non-members choose the attack
        half[rng.permutation(n)[: n // 2]] = "select"
        half[n + rng.permutation(n)[: n // 2]] = "select"
    frame["half"] = half
    for a, sc in raw.items():
        frame[a] = sc
    fprs = tuple(float(a) for a in fprs)
    notes: list[str] = []
    groups = ["all"] + (["outliers", "typical"] if outliers is not None else [])
    summary = {a: _summaries(frame, a, groups, fprs, notes) for a in raw}
    if selecting:
        sel, rep = frame[frame["half"] == "select"], frame[frame["half"] == "report"]
        choice = {a: _summaries(sel, a, ["all"], fprs, [])["all"] for a in raw}
        headline = _best({a: c["auc"] for a, c in choice.items()})
        tpr_attacks = {f: _best({a: c["tpr"][f] for a, c in choice.items()}) for f in fprs}
    else:
        headline = next(iter(raw)) if headline == "best" else headline
        rep = frame
        tpr_attacks = {f: headline for f in fprs}
    headline_summary = _summaries(rep, headline, groups, fprs, notes)
    by_attack = {a: _summaries(rep, a, groups, fprs, []) for a in set(tpr_attacks.values())}
    headline_tpr = {g: {f: by_attack[tpr_attacks[f]][g]["tpr"][f] for f in fprs} for g in groups}
    return MembershipResult(
        scores=frame,
        summary=summary,
        headline=headline,
        headline_summary=headline_summary,
        tpr_attacks=tpr_attacks,
        headline_tpr=headline_tpr,
        selection="held-out" if selecting else "fixed",
        fprs=fprs,
        notes=sorted(set(notes)),
    )
