"""Targeted black-box shadow-model membership inference on synthetic data.

Threat model (:class:`ThreatModel`, as in TAPAS): the attacker knows one
target record, a sample of the population (the ``reference`` split), the
generator and its settings (``ctx.generator_factory``), the training-set size
and the number of synthetic rows released. For a target t the attacker plays
games: a training set is drawn from the population, t is added to it or not
(a fair coin), the generator is trained on it and the synthetic table is
released; the attacker must say whether t was in.

The attacker learns from shadow games: it draws training sets from the
population, trains the generator with and without t, turns each synthetic
table into a feature vector (:class:`ShadowFeaturizer`) and fits a classifier
(random forest, or logistic regression) that maps features to in/out. The
classifier is then scored on fresh games it has never seen, in three parts:

* ``train``: the shadow games the classifier learns from;
* ``val``: fresh games on which thresholds (and, for the audit, the target
  and the attack statistic) are chosen;
* ``test``: fresh games on which the reported advantage and the epsilon lower
  bound (:mod:`attacks.audit`) are measured.

Neighbouring datasets in the games are *add/remove one record* (the in world
is the out world plus t). tailbench's DP generators state their epsilon under
*replace-one* neighbours (n public). Each of their mechanisms is at least as
sensitive to replacing a record as to adding or removing one (Laplace
histograms: L1 2d against d; the DP bounds utility: 1 either way; DP-SGD's
clipped sum: 2C against C), so the games test a relation the claim covers,
up to one second-order difference: the sampling rate ``batch_size / n`` and
the default delta ``1 / n^2`` move with n between the two worlds.

``design: shared`` (default) makes every generator fit a game for every
target at once: each fit's training set is a fresh population draw of
``n_train - ceil(T/2)`` rows plus each target independently with probability
1/2 (balanced per part and target), so for each target the in and out worlds
differ in that target only (the other targets are part of the random
background). G fits give G games to each of the T targets: the cost is G fits,
not T x G. ``design: per_target`` plays separate games per target (Stadler et
al.'s protocol), T times the cost.

Features of one synthetic table (``features``):

* ``naive``: per numerical column (scaled to [0, 1] by the public bounds)
  mean, std, median, min, max and missing rate; per categorical column the
  number of categories present (Stadler et al. "NaiveFeatureSet");
* ``histogram``: category frequencies and ``n_bins`` histograms of numerical
  columns ("HistogramFeatureSet");
* ``correlation``: Pearson correlations between columns, with categorical
  columns coded as "equals the target's category" so the correlations are
  about the target's neighbourhood ("CorrelationsFeatureSet", targeted);
* ``neighbourhood``: distances from the target to its 1st, 2nd, 5th, 10th and
  20th closest synthetic rows, the share of synthetic rows within radii 0
  (copies), 0.1, 0.25, 0.5, 1 of the target (Euclidean on
  :class:`attacks.distance.TableEncoder`), and column-match counts (the
  most columns any synthetic row shares with the target, the share of rows
  matching it on all columns and on all but one) — TAPAS' target-neighbourhood
  and closest-distance attacks.

Per target: advantage = TPR - FPR on the test games at the threshold that
maximises TPR - FPR on the validation games (Yeom et al. 2018's membership
advantage); AUC over the validation and test games (threshold-free); privacy
gain as in Stadler et al.'s released code: PG = (PL_raw - PL_syn) / 2 with
privacy loss PL = P[success] - P[prior], P[prior] = 1/2, P_raw[success] = 1
(the raw data reveals membership) and P_syn[success] = the classifier's mean
probability on the true world in the test games; PG = (1 - P_syn) / 2, in
[0, 0.5]: 0 = as exposed as publishing the raw data, 0.25 = the synthetic data
tell the attacker nothing (a coin flip).

Sources: Stadler, Oprisanu and Troncoso, "Synthetic Data - Anonymisation
Groundhog Day" (USENIX Security 2022) and their code
(spring-epfl/synthetic_data_release); Houssiau et al., "TAPAS: a Toolbox for
Adversarial Privacy Auditing of Synthetic Data" (NeurIPS 2022 SyntheticData4ML
workshop); Shokri et al. 2017 (shadow models); Meeus et al. 2023 (outlier
targets, :mod:`attacks.targets`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from attacks.bounds import best_threshold, error_counts
from attacks.distance import TableEncoder
from attacks.targets import OutlierModel, fit_outliers
from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError
from bench.generators.base import check_output
from bench.run.cache import generator_identity, generator_key

log = logging.getLogger(__name__)

FEATURE_SETS = ("naive", "histogram", "correlation", "neighbourhood")
CLASSIFIERS = ("rf", "logreg")
PARTS = ("train", "val", "test")
KNN_RANKS = (1, 2, 5, 10, 20)
RADII = (1e-6, 0.1, 0.25, 0.5, 1.0)


# --------------------------------------------------------------- threat model
@dataclass
class ThreatModel:
    """What the attacker knows.

    Attributes:
        population: the attacker's population sample (the reference split);
            shadow training sets are drawn from it.
        schema: the table's schema (public bounds and domains).
        generator_factory: zero-argument callable returning a fresh, unfitted
            generator with the audited settings.
        n_train: training-set size of the games (public).
        n_synthetic: synthetic rows released per game (see :func:`background_size`).
        dataset_fingerprint: for cache keys (None: no disk cache).
    """

    population: pd.DataFrame
    schema: Schema
    generator_factory: Callable[[], Any]
    n_train: int
    n_synthetic: int
    dataset_fingerprint: str | None = None

    def describe(self) -> dict[str, Any]:
        """The threat model as plain data (no records)."""
        gen = self.generator_factory()
        return {
            "population": "reference split",
            "population_rows": len(self.population),
            "n_train": int(self.n_train),
            "n_synthetic": int(self.n_synthetic),
            "generator": generator_identity(gen),
            "attacker_knows": [
                "target record",
                "population sample",
                "generator and settings",
                "training-set size",
                "synthetic table (black box, no model access)",
            ],
        }


# ----------------------------------------------------------------- targets
def select_targets(
    train: pd.DataFrame,
    schema: Schema,
    *,
    n_outliers: int = 5,
    n_random: int = 5,
    reference: pd.DataFrame | None = None,
    outliers: OutlierModel | None = None,
    k: int = 5,
    quantile: float = 0.95,
    seed: int = 0,
) -> pd.Series:
    """The attacked records: the top outliers of the training split plus random training records.

    Args:
        train: (n, d) training split; index = row ids.
        schema: the table's schema.
        n_outliers: records with the highest outlier score (:mod:`attacks.targets`,
            kNN distance of Meeus et al. 2023).
        n_random: records drawn uniformly from the other training records.
        reference: table the distance encoder is scaled on (public bounds
            first); default ``train``.
        outliers: a fitted :class:`OutlierModel` to reuse (e.g. the attacks family's).
        seed: seed of the random draw.
    Returns:
        Series indexed by row id, values ``"outliers"`` / ``"random"``.
    Raises:
        ConfigError: more targets asked for than training records.
    """
    if n_outliers + n_random > len(train):
        raise ConfigError(
            f"attacks.shadow asks for {n_outliers + n_random} targets but the training split has {len(train)} rows"
        )
    if outliers is None or n_outliers > len(outliers.train_scores):
        enc = TableEncoder(schema).fit(reference if reference is not None else train)
        outliers = fit_outliers(train, schema, k=k, quantile=quantile, encoder=enc, seed=seed)
    scores = outliers.train_scores.reindex(train.index)
    top = list(scores.sort_values(ascending=False, kind="mergesort").index[: int(n_outliers)])
    rest = train.index.difference(pd.Index(top))
    rng = np.random.default_rng([int(seed), 0x7A29])
    rnd = list(rest[np.sort(rng.choice(len(rest), size=min(int(n_random), len(rest)), replace=False))])
    return pd.Series(["outliers"] * len(top) + ["random"] * len(rnd), index=pd.Index(top + rnd), name="group")


# -------------------------------------------------------------- features
class ShadowFeaturizer:
    """Synthetic table -> one feature vector per target.

    Args:
        schema: the table's schema.
        encoder: a :class:`TableEncoder` fitted on public data (the population).
        features: subset of :data:`FEATURE_SETS`.
        n_bins: histogram bins per numerical column (on the [0, 1] scale).
    """

    def __init__(self, schema: Schema, encoder: TableEncoder, features=FEATURE_SETS, n_bins: int = 10) -> None:
        self.schema = schema
        self.encoder = encoder
        self.features = tuple(features)
        self.n_bins = int(n_bins)
        bad = [f for f in self.features if f not in FEATURE_SETS]
        if bad or not self.features:
            raise ConfigError(f"shadow features must be a non-empty subset of {FEATURE_SETS}, got {list(features)}")
        self.num_: list[tuple[int, int]] = []  # (value column, missing-indicator column)
        self.cat_: list[slice] = []
        j = 0
        for col in encoder.columns_:
            if col in encoder.num_:
                self.num_.append((j, j + 1))
                j += 2
            else:
                w = len(encoder.cat_[col])
                self.cat_.append(slice(j, j + w))
                j += w

    def set_targets(self, targets: pd.DataFrame) -> ShadowFeaturizer:
        """Encode the targets (T rows)."""
        self.targets_ = self.encoder.transform(targets)
        return self

    def transform(self, synthetic: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Features of one synthetic table for every target.

        Args:
            synthetic: (m, d) table coerced to the schema.
        Returns:
            ``(F, dmin)``: F is (T, n_features) float64 without NaN; dmin (T,)
            the distance from each target to its closest synthetic row.
        """
        X = self.encoder.transform(synthetic)
        m = max(len(X), 1)
        shared = []
        if "naive" in self.features:
            shared.append(self._naive(X))
        if "histogram" in self.features:
            shared.append(self._histogram(X, m))
        shared_v = np.concatenate(shared) if shared else np.zeros(0)
        T = len(self.targets_)
        sq = ((X[None, :, :] - self.targets_[:, None, :]) ** 2).sum(axis=2) if len(X) else np.zeros((T, 0))
        dist = np.sqrt(np.maximum(sq, 0.0))
        rows = []
        for t in range(T):
            parts = [shared_v]
            match = self._matches(X, self.targets_[t])
            if "correlation" in self.features:
                parts.append(self._correlation(X, match))
            if "neighbourhood" in self.features:
                parts.append(self._neighbourhood(dist[t], match, m))
            rows.append(np.concatenate(parts))
        F = np.nan_to_num(np.vstack(rows), nan=0.0, posinf=0.0, neginf=0.0)
        dmin = dist.min(axis=1) if dist.shape[1] else np.full(T, np.inf)
        return F, dmin

    # -- parts
    def _naive(self, X: np.ndarray) -> np.ndarray:
        out = []
        for v, na in self.num_:
            present = X[:, na] == 0
            x = X[present, v]
            out += [x.mean(), x.std(), np.median(x), x.min(), x.max()] if len(x) else [0.0] * 5
            out.append(1.0 - present.mean() if len(X) else 0.0)
        for sl in self.cat_:
            out.append(float((X[:, sl].sum(axis=0) > 0).sum()))
        return np.asarray(out, float)

    def _histogram(self, X: np.ndarray, m: int) -> np.ndarray:
        out = []
        for v, na in self.num_:
            x = np.clip(X[X[:, na] == 0, v], 0.0, 1.0)
            out.append(np.histogram(x, bins=self.n_bins, range=(0.0, 1.0))[0] / m)
        for sl in self.cat_:
            out.append((X[:, sl] > 0).sum(axis=0) / m)
        return np.concatenate(out) if out else np.zeros(0)

    def _matches(self, X: np.ndarray, xt: np.ndarray) -> np.ndarray:
        """(m, d) 0/1: synthetic row equals the target on the column (numerical: within half a bin)."""
        cols = []
        tol = 0.5 / self.n_bins
        for v, na in self.num_:
            both_na = (X[:, na] > 0) & (xt[na] > 0)
            close = (X[:, na] == 0) & (xt[na] == 0) & (np.abs(X[:, v] - xt[v]) <= tol)
            cols.append(both_na | close)
        for sl in self.cat_:
            cols.append((X[:, sl] @ xt[sl]) > 0.25)  # one-hot weight 1/sqrt(2): same category -> 0.5
        return np.column_stack(cols).astype(float) if cols else np.zeros((len(X), 0))

    def _correlation(self, X: np.ndarray, match: np.ndarray) -> np.ndarray:
        num = X[:, [v for v, _ in self.num_]] if self.num_ else np.zeros((len(X), 0))
        Z = np.column_stack([num, match[:, len(self.num_) :]])
        d = Z.shape[1]
        if d < 2 or len(Z) < 2:
            return np.zeros(d * (d - 1) // 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            C = np.corrcoef(Z, rowvar=False)
        return C[np.triu_indices(d, k=1)]

    def _neighbourhood(self, dist: np.ndarray, match: np.ndarray, m: int) -> np.ndarray:
        out = []
        if len(dist):
            kmax = min(max(KNN_RANKS), len(dist))
            near = np.sort(np.partition(dist, kmax - 1)[:kmax])
            out += [near[min(k, kmax) - 1] for k in KNN_RANKS]
            out += [(dist <= r).sum() / m for r in RADII]
        else:
            out += [0.0] * (len(KNN_RANKS) + len(RADII))
        d = match.shape[1]
        n_match = match.sum(axis=1) if len(match) else np.zeros(1)
        out += [n_match.max() / max(d, 1), (n_match >= d).sum() / m, (n_match >= d - 1).sum() / m]
        return np.asarray(out, float)


def background_size(n_train: int, n_targets: int, design: str = "shared") -> int:
    """Population rows per game: ``n_train - ceil(T/2)`` (shared design) or ``n_train - 1`` (per target).

    Games add each target to these rows or not, so training sets have between
    this many and this many + T rows (about ``n_train`` on average). It is also
    the default number of synthetic rows, so that a generator that copies its
    training rows (identity) can release all of them without replacement.
    """
    return int(n_train) - (math.ceil(int(n_targets) / 2) if design == "shared" else 1)


# ------------------------------------------------------------- generators
@contextlib.contextmanager
def _quiet_library_logs(names: tuple[str, ...] = ("opacus", "sdv", "rdt", "copulas", "ctgan")) -> Iterator[None]:
    """Library loggers at WARNING during the games (Opacus logs every layer at INFO on every fit)."""
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(max(logging.WARNING, saved[n]))
    try:
        yield
    finally:
        for n, lvl in saved.items():
            logging.getLogger(n).setLevel(lvl)


def _fit_sample(
    threat: ThreatModel, data: pd.DataFrame, fit_seed: int, cache: Any
) -> tuple[pd.DataFrame, dict[str, Any] | None, dict[str, float]]:
    """Train a fresh generator on ``data`` and sample the released table (cached when possible)."""
    m = int(threat.n_synthetic)
    # The attacker reads the table's values only: no prediction target, so a shadow table whose
    # target column came out with a single class (e.g. DP noise on a small table) is still a game.
    schema = replace(threat.schema, target=None)
    gen = threat.generator_factory()
    if hasattr(gen, "random_state"):
        gen.random_state = int(fit_seed)  # fresh randomness per game; the run's seed would repeat it
    if hasattr(gen, "verbose"):
        gen.verbose = False
    cacheable = cache is not None and threat.dataset_fingerprint and getattr(gen, "cacheable", True)
    key = None
    if cacheable:
        key = generator_key(
            "shadow", gen, int(fit_seed), threat.dataset_fingerprint, sorted(int(i) for i in data.index), m
        )
        hit = cache.load_synthetic(key)
        if hit is not None:
            return schema.coerce(hit[0]), hit[1].get("privacy"), {"fit_s": 0.0, "sample_s": 0.0, "hit": 1}
    t0 = time.perf_counter()
    gen.fit(data, threat.schema)
    t1 = time.perf_counter()
    name = getattr(gen, "name", type(gen).__name__)
    syn = check_output(gen.sample(m), m, schema, name)
    t2 = time.perf_counter()
    ps = gen.privacy_spent() if hasattr(gen, "privacy_spent") else None
    privacy = ps.to_dict() if ps is not None else None
    if privacy is None and getattr(gen, "epsilon", None) is not None:
        privacy = {
            "epsilon": float(gen.epsilon),
            "delta": float(getattr(gen, "delta", None) or 0.0),
            "accountant": "requested (the generator reports no privacy_spent)",
            "scope": [],
            "full_scope": False,
        }
    if cacheable:
        cache.store_synthetic(key, syn, {"privacy": privacy, "generator": name, "fit_s": t1 - t0, "sample_s": t2 - t1})
    return syn, privacy, {"fit_s": t1 - t0, "sample_s": t2 - t1, "hit": 0}


def _balanced_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.permutation(np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)])


@dataclass
class _Games:
    labels: np.ndarray  # (G, T)
    parts: np.ndarray  # (G,)
    features: np.ndarray  # (G, T, F)
    dmin: np.ndarray  # (G, T)
    privacy: list[dict[str, Any] | None]
    timings: dict[str, float]


def _play(
    threat: ThreatModel,
    targets: pd.DataFrame,
    games: Mapping[str, int],
    featurizer: ShadowFeaturizer,
    rng: np.random.Generator,
    cache: Any,
) -> _Games:
    """Play ``sum(games)`` games for the targets at once (each fit is a game for every target)."""
    T = len(targets)
    base_n = background_size(threat.n_train, T, "shared")  # per_target batches have T = 1
    pop = threat.population
    if base_n < 1 or base_n > len(pop):
        raise ConfigError(
            f"attacks.shadow.n_train={threat.n_train} with {T} target(s) needs {base_n} background "
            f"rows per game; the reference split has {len(pop)} (lower n_train or use more "
            "reference rows)"
        )
    parts = np.concatenate([[p] * int(games[p]) for p in PARTS])
    labels = np.concatenate([np.column_stack([_balanced_labels(rng, int(games[p])) for _ in range(T)]) for p in PARTS])
    fit_seeds = rng.integers(0, 2**31 - 1, size=len(parts))
    featurizer.set_targets(targets)
    feats, dmins, privacy = [], [], []
    t_fit = t_sample = t_feat = 0.0
    hits = 0
    t_start = time.perf_counter()
    for g in range(len(parts)):
        pos = rng.choice(len(pop), size=base_n, replace=False)
        data = pd.concat([pop.iloc[np.sort(pos)], targets[labels[g] == 1]])
        syn, priv, tm = _fit_sample(threat, data, int(fit_seeds[g]), cache)
        t_fit += tm["fit_s"]
        t_sample += tm["sample_s"]
        hits += tm["hit"]
        privacy.append(priv)
        t0 = time.perf_counter()
        F, dmin = featurizer.transform(syn)
        t_feat += time.perf_counter() - t0
        feats.append(F)
        dmins.append(dmin)
        if (g + 1) % 20 == 0:
            log.info("shadow games: %d/%d in %.0fs", g + 1, len(parts), time.perf_counter() - t_start)
    return _Games(
        labels=labels,
        parts=parts,
        features=np.stack(feats),
        dmin=np.stack(dmins),
        privacy=privacy,
        timings={"fit_s": t_fit, "sample_s": t_sample, "featurise_s": t_feat, "fits": len(parts), "cache_hits": hits},
    )


# ------------------------------------------------------------- classifier
def make_classifier(kind: str, seed: int):
    """The attack model: ``"rf"`` (RandomForestClassifier, 200 trees) or ``"logreg"``
    (standardised LogisticRegression), from scikit-learn.

    Raises:
        ConfigError: unknown ``kind``.
    """
    if kind == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    raise ConfigError(f"attacks.shadow.classifier must be one of {CLASSIFIERS}, got {kind!r}")


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, s))


# ------------------------------------------------------------------ result
@dataclass
class ShadowResult:
    """Outcome of the shadow-model attack.

    Attributes:
        per_target: one row per target: ``row`` (row id), ``group``,
            ``advantage`` (test TPR - FPR at the validation threshold),
            ``tpr``, ``fpr``, ``auc`` (validation + test games), ``privacy_gain``,
            ``auc_min_distance`` (the closest-record statistic alone),
            ``n_test_in``, ``n_test_out``.
        scores: ``{(row, statistic): (G,) scores}`` over that target's games
            (``"classifier"``: P(in); ``"min_distance"``: minus the distance to
            the closest synthetic row).
        labels: ``{row: (G,) 0/1}``; parts: ``{row: (G,) "train"/"val"/"test"}``.
        claim: the generator's privacy claim in the shadow fits (epsilon = the
            largest reported, delta = the largest, scope, full_scope), or
            ``{"epsilon": None}`` when it claims none.
        cost: seconds spent fitting, sampling, featurising, classifying; fits.
        notes: caveats, in words.
    """

    per_target: pd.DataFrame
    scores: dict[tuple[Any, str], np.ndarray]
    labels: dict[Any, np.ndarray]
    parts: dict[Any, np.ndarray]
    claim: dict[str, Any]
    cost: dict[str, float]
    notes: list[str] = field(default_factory=list)


def shadow_attack(
    threat: ThreatModel,
    targets: pd.DataFrame,
    *,
    groups: pd.Series | None = None,
    design: str = "shared",
    games: Mapping[str, int] | None = None,
    features=FEATURE_SETS,
    classifier: str = "rf",
    n_bins: int = 10,
    cache: Any = None,
    seed: int = 0,
) -> ShadowResult:
    """Run the shadow-model MIA against every target.

    Args:
        threat: what the attacker knows (:class:`ThreatModel`).
        targets: (T, d) target records (rows of the training split; index = row ids).
        groups: row id -> subgroup label (``"outliers"`` / ``"random"``); default ``"all"``.
        design: ``"shared"`` (each fit is a game for every target) or ``"per_target"``.
        games: fits per part, ``{"train": ..., "val": ..., "test": ...}``
            (per target with ``per_target``); each part is balanced in/out per target.
        features: feature sets (:data:`FEATURE_SETS`).
        classifier: ``"rf"`` or ``"logreg"``.
        n_bins: histogram bins.
        cache: a :class:`bench.run.cache.Cache` for the shadow synthetic tables, or None.
        seed: seeds the population draws, the coins and every fit.
    Returns:
        :class:`ShadowResult`.
    Raises:
        ConfigError: bad design, games or sizes (named).
        EmptyTableError: no targets.
    """
    if len(targets) == 0:
        raise EmptyTableError("the shadow-model attack needs at least one target")
    if design not in ("shared", "per_target"):
        raise ConfigError(f"attacks.shadow.design must be shared or per_target, got {design!r}")
    games = dict(games or {"train": 60, "val": 40, "test": 60})
    for p, lo in (("train", 4), ("val", 2), ("test", 2)):
        if int(games.get(p, 0)) < lo:
            raise ConfigError(f"attacks.shadow.games.{p} must be >= {lo}, got {games.get(p)}")
    if not targets.index.is_unique:
        raise ConfigError("shadow targets must have unique row ids")
    overlap = targets.index.intersection(threat.population.index)
    if len(overlap):
        raise ConfigError(
            f"{len(overlap)} target(s) are also in the population sample; targets must come from "
            "outside the reference split"
        )
    groups = groups if groups is not None else pd.Series("all", index=targets.index)
    encoder = TableEncoder(threat.schema).fit(threat.population)
    featurizer = ShadowFeaturizer(threat.schema, encoder, features, n_bins)
    root = np.random.default_rng([int(seed), 0x5AD0])
    batches = [targets] if design == "shared" else [targets.loc[[i]] for i in targets.index]
    played = []
    with _quiet_library_logs():
        for b in batches:
            played.append((b, _play(threat, b, games, featurizer, root, cache)))
    t0 = time.perf_counter()
    rows, scores, labels, parts = [], {}, {}, {}
    for b, gm in played:
        tr, va, te = gm.parts == "train", gm.parts == "val", gm.parts == "test"
        for j, rid in enumerate(b.index):
            y = gm.labels[:, j]
            F = gm.features[:, j, :]
            clf = make_classifier(classifier, int(root.integers(0, 2**31 - 1))).fit(F[tr], y[tr])
            p = clf.predict_proba(F)[:, 1]
            s_dist = -gm.dmin[:, j]
            scores[(rid, "classifier")], scores[(rid, "min_distance")] = p, s_dist
            labels[rid], parts[rid] = y, gm.parts
            thr, _ = best_threshold(p[va], y[va], objective="advantage")
            fp, n_out, fn, n_in = error_counts(p[te], y[te], thr)
            tpr, fpr = (n_in - fn) / n_in, fp / n_out
            ev = va | te
            p_succ = float(np.mean(np.where(y[te] == 1, p[te], 1.0 - p[te])))
            rows.append(
                {
                    "row": rid,
                    "group": groups.get(rid, "all"),
                    "advantage": tpr - fpr,
                    "tpr": tpr,
                    "fpr": fpr,
                    "threshold": thr,
                    "auc": _auc(y[ev], p[ev]),
                    "privacy_gain": (1.0 - p_succ) / 2.0,
                    "p_success": p_succ,
                    "auc_min_distance": _auc(y[ev], s_dist[ev]),
                    "n_test_in": n_in,
                    "n_test_out": n_out,
                }
            )
    t_clf = time.perf_counter() - t0
    cost = {
        k: float(sum(gm.timings[k] for _, gm in played))
        for k in ("fit_s", "sample_s", "featurise_s", "fits", "cache_hits")
    }
    cost["classify_s"] = t_clf
    cost["fits_per_target"] = cost["fits"] / len(targets)
    claim, notes = _claim([p for _, gm in played for p in gm.privacy], threat)
    return ShadowResult(
        per_target=pd.DataFrame(rows), scores=scores, labels=labels, parts=parts, claim=claim, cost=cost, notes=notes
    )


def _claim(privacy: list[dict[str, Any] | None], threat: ThreatModel) -> tuple[dict[str, Any], list[str]]:
    """The privacy claim of the shadow fits (the largest epsilon and delta any fit reported)."""
    notes = []
    reported = [p for p in privacy if p and p.get("epsilon") is not None]
    if not reported:
        return {"epsilon": None, "delta": None, "note": "the generator claims no epsilon"}, notes
    eps = max(_num(p["epsilon"]) for p in reported)
    delta = max(_num(p.get("delta") or 0.0) for p in reported)
    full = all(bool(p.get("full_scope")) for p in reported)
    if len(reported) < len(privacy):
        notes.append(f"{len(privacy) - len(reported)} shadow fit(s) reported no epsilon")
    if not full:
        notes.append(
            "the claimed epsilon does not cover the whole pipeline (full_scope=false): the audit tests "
            "the end-to-end mechanism, so a flag may come from the part outside the claim"
        )
    return {
        "epsilon": eps,
        "delta": delta,
        "accountant": reported[0].get("accountant"),
        "scope": reported[0].get("scope"),
        "full_scope": full,
        "at_n_train": int(threat.n_train),
    }, notes


def _num(v: Any) -> float:
    return float(v)  # "inf" strings (JSON round trip of the cache meta) parse too


__all__ = [
    "CLASSIFIERS",
    "FEATURE_SETS",
    "ShadowFeaturizer",
    "ShadowResult",
    "ThreatModel",
    "background_size",
    "make_classifier",
    "select_targets",
    "shadow_attack",
]
