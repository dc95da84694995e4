"""Target selection: which training records are outliers, the ones most exposed to attacks.

Every record's outlierness is its mean Euclidean distance to its ``k = 5``
nearest neighbours in the training table (leave-one-out for training records),
on numerical columns scaled to [0, 1] and one-hot categorical columns
(:class:`attacks.distance.TableEncoder`). This is the vulnerability score of
Meeus et al., "Achilles' Heels: Vulnerable Record Identification in Synthetic
Data Publishing" (ESORICS 2023, arXiv 2306.10308), who show that records far
from their neighbours are the most exposed to membership inference. An
IsolationForest score (Liu et al. 2008, ``sklearn.ensemble.IsolationForest``)
is the alternative.

The ``outliers`` subgroup is the top ``1 - quantile`` (5% by default) of
training records; the threshold is then applied to any other record scored
against the same training population (holdout non-members), so that members
and non-members are split by the same rule and per-subgroup attack metrics
compare like with like. ``typical`` is everything else. Records are referred
to by their row index (the loaded table's row id), never by their values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from attacks.distance import TableEncoder, knn
from bench.data.schema import Schema
from bench.errors import ConfigError, EmptyTableError

METHODS = ("knn", "isolation_forest")
SUBGROUPS = ("all", "outliers", "typical")


@dataclass
class OutlierModel:
    """Outlier scores of the training records and the rule that splits any record.

    Attributes:
        train_scores: score per training record (index = row id), higher = more isolated.
        threshold: scores >= threshold are ``outliers``.
        method: ``"knn"`` or ``"isolation_forest"``.
        k: neighbours averaged (kNN method).
        quantile: training-score quantile used as the threshold.
    """

    train_scores: pd.Series
    threshold: float
    method: str
    k: int
    quantile: float
    encoder: TableEncoder = field(repr=False)
    train_X_: np.ndarray = field(repr=False)
    forest_: object = field(default=None, repr=False)

    def score(self, frame: pd.DataFrame) -> pd.Series:
        """Score records that are *not* training rows against the training population.

        Args:
            frame: (n, d) table coerced to the schema (e.g. the holdout split).
        Returns:
            Series of n scores, index = ``frame.index``.
        """
        X = self.encoder.transform(frame)
        if self.method == "knn":
            d, _ = knn(X, self.train_X_, k=self.k)
            s = d.mean(axis=1)
        else:
            s = -self.forest_.score_samples(X)
        return pd.Series(s, index=frame.index, name="outlier_score")

    def label(self, scores: pd.Series) -> pd.Series:
        """``"outliers"`` where ``scores >= threshold``, else ``"typical"`` (same index)."""
        return pd.Series(
            np.where(scores.to_numpy() >= self.threshold, "outliers", "typical"), index=scores.index, name="subgroup"
        )

    @property
    def outliers(self) -> pd.Index:
        """Row ids of the training records in the ``outliers`` subgroup."""
        return self.train_scores.index[self.train_scores.to_numpy() >= self.threshold]

    @property
    def typical(self) -> pd.Index:
        """Row ids of the other training records."""
        return self.train_scores.index[self.train_scores.to_numpy() < self.threshold]


def fit_outliers(
    train: pd.DataFrame,
    schema: Schema,
    *,
    k: int = 5,
    quantile: float = 0.95,
    method: str = "knn",
    encoder: TableEncoder | None = None,
    seed: int = 0,
) -> OutlierModel:
    """Score every training record's outlierness and set the ``outliers`` threshold.

    Args:
        train: (n, d) training split coerced to ``schema``; index = row ids.
        schema: the table's schema.
        k: neighbours for the kNN score (mean distance to the k nearest other
            training records).
        quantile: records at or above this quantile of the training scores are
            outliers (0.95 = top 5%).
        method: ``"knn"`` (Achilles' Heels) or ``"isolation_forest"``.
        encoder: a fitted :class:`TableEncoder` (default: fitted on ``train``,
            using the schema's public bounds and domains where declared).
        seed: IsolationForest seed.
    Returns:
        An :class:`OutlierModel`.
    Raises:
        ConfigError: unknown ``method``, ``quantile`` outside (0, 1), ``k < 1``.
        EmptyTableError: fewer than ``k + 1`` training rows.
    """
    if method not in METHODS:
        raise ConfigError(f"attacks.targets.method must be one of {METHODS}, got {method!r}")
    if not 0 < float(quantile) < 1:
        raise ConfigError(f"attacks.targets.quantile must be in (0, 1), got {quantile!r}")
    if int(k) < 1:
        raise ConfigError(f"attacks.targets.k must be >= 1, got {k!r}")
    if len(train) < int(k) + 1:
        raise EmptyTableError(f"outlier scoring with k={k} needs at least {int(k) + 1} training rows, got {len(train)}")
    enc = encoder if encoder is not None else TableEncoder(schema).fit(train)
    X = enc.transform(train)
    forest = None
    if method == "knn":
        d, _ = knn(X, X, k=int(k), exclude_self=True)
        s = d.mean(axis=1)
    else:
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(random_state=seed).fit(X)
        s = -forest.score_samples(X)
    scores = pd.Series(s, index=train.index, name="outlier_score")
    threshold = float(np.quantile(s, float(quantile)))
    return OutlierModel(
        train_scores=scores,
        threshold=threshold,
        method=method,
        k=int(k),
        quantile=float(quantile),
        encoder=enc,
        train_X_=X,
        forest_=forest,
    )
